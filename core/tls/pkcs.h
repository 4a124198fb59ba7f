/* portls core: encrypted private keys (PKCS#8, OpenSSL's traditional PEM)
 * and PKCS#12/PFX containers, decoded in core for backends that cannot
 * (mbedTLS 2.28: no PBES2/AES keys, no PFX parser; docs/backends.md, "Keys, containers and
 * verification").
 *
 * Every key comes out as one form: a plain PKCS#8 PrivateKeyInfo in DER,
 * byte-identical to `openssl pkcs8 -topk8 -nocrypt -outform DER` of the same
 * key (a traditional RSA/EC key is wrapped; an EC key loses the curve copy
 * inside the SEC1 structure, as OpenSSL writes it). Certificates come out as
 * DER. portls__pem_encode (util/pem.h) turns either into PEM.
 *
 * Crypto: SHA-1/256/384/512 and AES-CBC/DES-EDE3-CBC through the linked
 * backend (portls__backend.digest, .cipher_decrypt); MD5 and RC2 in core
 * (pkcs_crypto.h). With no cipher_decrypt the encrypted inputs fail with
 * PORTLS_ENOTSUP; plain inputs still decode.
 *
 * Errors, everywhere: PORTLS_EBAD_PASSPHRASE for a wrong (or missing)
 * passphrase or a PFX whose MAC does not verify; PORTLS_EKEY (keys) or
 * PORTLS_EPFX (containers) for malformed input, an unsupported algorithm
 * (the message names its OID) and absurd sizes or iteration counts;
 * PORTLS_ENOTSUP when the backend lacks a primitive; PORTLS_ENOMEM. Secrets
 * that pass through core are wiped before their memory is freed.
 *
 * Internal: never included by a public header.
 */
#ifndef PORTLS_CORE_TLS_PKCS_H
#define PORTLS_CORE_TLS_PKCS_H

#include <stddef.h>
#include <stdint.h>

#include "portls/errors.h"
#include "portls/portls.h"
#include "util/util.h"

/* Bounds on hostile input. */
#define PORTLS__PKCS_MAX_ITERATIONS 10000000ul /* PBKDF2, PKCS#12 KDF and MAC */
#define PORTLS__PKCS_MAX_KEY_INPUT (1u << 20)  /* a key file: 1 MiB */
#define PORTLS__PKCS_MAX_PFX (8u << 20)        /* a PFX: 8 MiB */
#define PORTLS__PKCS_MAX_SALT 1024             /* bytes */
#define PORTLS__PKCS_MAX_BAGS 1024             /* SafeBags in one PFX, nesting included */
#define PORTLS__PKCS_MAX_PASS 65536            /* passphrase bytes */
/* Iterations over every derivation of one PFX (MAC tries, each encryptedData,
 * the key), so that many costly items cannot add up to hours. */
#define PORTLS__PKCS_MAX_WORK (8ul * PORTLS__PKCS_MAX_ITERATIONS)

/* ---- Keys --------------------------------------------------------------- */

/* Decodes a private key into plain PKCS#8 DER (in *pkcs8, which the caller
 * zeroes first and frees with portls__key_free). in is PEM or DER:
 *   PEM "ENCRYPTED PRIVATE KEY": PKCS#8 EncryptedPrivateKeyInfo with PBES2
 *     (PBKDF2, PRF HMAC-SHA1/256/384/512; AES-128/192/256-CBC, DES-EDE3-CBC)
 *     or PKCS#12 PBE (SHA-1 with 3-key or 2-key 3DES, 128- or 40-bit RC2);
 *   PEM "RSA PRIVATE KEY" / "EC PRIVATE KEY", plain or with "Proc-Type:
 *     4,ENCRYPTED" and "DEK-Info: AES-128/192/256-CBC or DES-EDE3-CBC,<iv>"
 *     (EVP_BytesToKey with MD5): wrapped into PKCS#8;
 *   PEM "PRIVATE KEY": checked and copied;
 *   DER of any of the four structures.
 * The first key block in a PEM text is used; other blocks (a certificate,
 * "EC PARAMETERS") are skipped. pass (NUL-terminated, UTF-8) may be NULL for
 * a plain key; an encrypted key without one is PORTLS_EBAD_PASSPHRASE. */
int portls__key_decrypt(portls_buf in, const char *pass, portls__bytes *pkcs8, portls_error *err);

/* 1 when in holds an encrypted key in a form portls__key_decrypt reads
 * (PEM or DER EncryptedPrivateKeyInfo, or traditional PEM with Proc-Type
 * 4,ENCRYPTED), else 0. Looks at the structure only, decrypts nothing. */
int portls__key_is_encrypted(portls_buf in);

/* Wipes and frees what portls__key_decrypt returned (and zeroes *b). */
void portls__key_free(portls__bytes *b);

/* Decrypts ciphertext encrypted under a PKCS#5/PKCS#12 password-based
 * scheme. alg is the whole AlgorithmIdentifier (SEQUENCE) naming PBES2 or a
 * pbeWithSHAAnd* OID. pass NULL is an absent password (empty for PBKDF2; no
 * BMPString at all for the PKCS#12 KDF, unlike ""). bad is the code for
 * malformed or unsupported parameters (PORTLS_EKEY or PORTLS_EPFX). Wrong
 * padding is PORTLS_EBAD_PASSPHRASE. budget, when not NULL, holds the KDF
 * iterations the whole input may still spend (PORTLS__PKCS_MAX_WORK to start);
 * this call's are taken from it, and exceeding it is a bad-code error. *out
 * (zeroed by the caller) receives the plaintext; free it with portls__key_free. */
int portls__pbe_decrypt(const uint8_t *alg, size_t alg_len, const uint8_t *ct, size_t ct_len,
                        const char *pass, int bad, unsigned long *budget, portls__bytes *out,
                        portls_error *err);

/* Decrypts a DER EncryptedPrivateKeyInfo into checked PKCS#8 DER (*out,
 * zeroed by the caller). A plaintext that is not a PrivateKeyInfo is
 * PORTLS_EBAD_PASSPHRASE (a wrong key that happened to leave valid padding). */
int portls__pkcs8_decrypt_der(const uint8_t *der, size_t len, const char *pass, int bad,
                              unsigned long *budget, portls__bytes *out, portls_error *err);

/* Checks that der is exactly one well-formed PKCS#8 PrivateKeyInfo (v1 or
 * v2/OneAsymmetricKey). 0 or -1. */
int portls__pkcs8_check(const uint8_t *der, size_t len);

/* The public key a PKCS#8 key determines, as far as core can tell without
 * arithmetic: the RSA modulus (INTEGER contents) or the public key bits
 * carried inside (EC's SEC1 publicKey, PKCS#8 v2's publicKey). 0 with *kind
 * 1 (modulus) or 2 (public key bits), -1 when the key carries neither. */
int portls__pkcs8_public(const uint8_t *der, size_t len, int *kind, const uint8_t **pub,
                         size_t *pub_len);

/* ---- PKCS#12 ------------------------------------------------------------ */

typedef struct portls__pfx_result {
  portls__bytes key;    /* the first key of the PFX, plain PKCS#8 DER */
  portls__bytes *certs; /* DER: certs[0] the key's certificate, then its chain
                           (issuer after subject), then the other certificates
                           in file order */
  size_t cert_count;    /* >= 1 */
} portls__pfx_result;

/* Decodes a PFX (DER, as Node's pfx option takes it) the way OpenSSL 3's
 * PKCS12_parse reads it:
 *  - the MAC (HMAC-SHA1/256/384/512 keyed by the PKCS#12 KDF) is verified
 *    when present; with pass NULL or "" an absent password is tried first,
 *    then the empty one;
 *  - the AuthenticatedSafe's data and encryptedData content infos are
 *    walked; encryptedData under PBES2 (as for PKCS#8 keys above)
 *    or PKCS#12 PBE (3DES, 2-key 3DES, RC2-128, RC2-40);
 *  - SafeBags: keyBag, pkcs8ShroudedKeyBag, certBag (x509Certificate) and
 *    nested safeContentsBag; CRL, secret and unknown bags are skipped;
 *  - the key's certificate is the one whose public key matches the key
 *    (what OpenSSL checks), else the one with the key's localKeyID, else the
 *    first certificate that is not a CA, else the first.
 * Bounds (PORTLS_EPFX): 8 MiB, 10,000,000 iterations per derivation and
 * PORTLS__PKCS_MAX_WORK over all of them, 1024 bags, 1 KiB salts.
 * Public-key integrity (signedData), envelopedData and BER indefinite
 * lengths are PORTLS_EPFX. A PFX without a key or without a certificate is
 * PORTLS_EPFX. *out is zeroed first; free it with portls__pfx_result_free. */
int portls__pfx_decode(portls_buf pfx, const char *pass, portls__pfx_result *out,
                       portls_error *err);

/* Wipes the key, frees everything and zeroes *r. */
void portls__pfx_result_free(portls__pfx_result *r);

/* The result as PEM for a backend that wants text: key_pem gets one
 * "PRIVATE KEY" block, certs_pem one "CERTIFICATE" block per certificate in
 * the result's order (leaf then chain). Either may be NULL. Both are
 * NUL-terminated after their len (see portls__pem_encode). Free key_pem with
 * portls__key_free. 0 or PORTLS_ENOMEM. */
int portls__pfx_to_pem(const portls__pfx_result *r, portls__bytes *key_pem,
                       portls__bytes *certs_pem);

#endif
