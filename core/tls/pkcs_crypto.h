/* portls core: the password-based crypto under the PKCS#8 and PKCS#12
 * decoders, built on the backend's one-shot digest and CBC decryption.
 *
 * Core implements here only what no backend is asked for: MD5 (for the
 * EVP_BytesToKey KDF of OpenSSL's traditional encrypted PEM keys), RC2-CBC
 * decryption (for the 40-bit RC2 certificate bags of legacy PKCS#12 files),
 * HMAC, PBKDF2 (RFC 8018) and the PKCS#12 KDF (RFC 7292, appendix B.2).
 *
 * Internal: never included by a public header.
 */
#ifndef PORTLS_CORE_TLS_PKCS_CRYPTO_H
#define PORTLS_CORE_TLS_PKCS_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "portls/backend.h"

/* Digests: PORTLS_BE_SHA1..PORTLS_BE_SHA512 go to the backend; MD5 is core's. */
#define PORTLS__MD5 100
#define PORTLS__MD_MAX 64        /* longest digest (SHA-512) */
#define PORTLS__MD_BLOCK_MAX 128 /* largest block (SHA-384/512) */

/* Ciphers: PORTLS_BE_* (AES-CBC, DES-EDE3-CBC) go to the backend's
 * cipher_decrypt; RC2-CBC is core's (key length and effective bits are
 * given apart, PKCS#12 uses the same for both). */
#define PORTLS__RC2_CBC 100

/* Output and block size of a digest; 0 for an unknown one. */
size_t portls__md_size(int md);
size_t portls__md_block(int md);
/* One-shot digest. 0, or PORTLS_ENOTSUP / PORTLS_EINVAL from the backend. */
int portls__md(int md, const void *data, size_t len, uint8_t *out);

/* RFC 1321 MD5, one shot. */
void portls__md5(const void *data, size_t len, uint8_t out[16]);

/* RC2 (RFC 2268) CBC decryption of len bytes (a multiple of 8) with a key of
 * key_len bytes (1..128) and effective_bits (1..1024); checks and removes
 * PKCS#7 padding. 0, PORTLS_EBAD_PASSPHRASE (bad padding), PORTLS_EINVAL. */
int portls__rc2_cbc_decrypt(const uint8_t *key, size_t key_len, unsigned effective_bits,
                            const uint8_t iv[8], const uint8_t *in, size_t len, uint8_t *out,
                            size_t *out_len);

/* One RC2 block, decrypted (for the RFC 2268 test vectors). key_len 1..128,
 * effective_bits 1..1024. */
void portls__rc2_decrypt_block(const uint8_t *key, size_t key_len, unsigned effective_bits,
                               const uint8_t in[8], uint8_t out[8]);

/* HMAC (RFC 2104) over msg. out holds portls__md_size(md) bytes. */
int portls__hmac(int md, const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                 uint8_t *out);

/* PBKDF2 with HMAC-md as PRF (RFC 8018, 5.2); iterations >= 1. */
int portls__pbkdf2(int md, const uint8_t *pass, size_t pass_len, const uint8_t *salt,
                   size_t salt_len, unsigned long iterations, uint8_t *out, size_t out_len);

/* The PKCS#12 KDF (RFC 7292, B.2). pass is the BMPString password with its
 * two-zero-byte terminator, or empty for an absent password (NULL in
 * OpenSSL's API). id: 1 key, 2 IV, 3 MAC key. */
int portls__pkcs12_kdf(int md, int id, const uint8_t *pass, size_t pass_len, const uint8_t *salt,
                       size_t salt_len, unsigned long iterations, uint8_t *out, size_t out_len);

/* A password as the PKCS#12 KDF takes it, the way OpenSSL 3 converts it
 * (OPENSSL_utf82uni): UTF-8 to UTF-16BE plus a 00 00 terminator; text that
 * is not valid UTF-8 is taken as Latin-1 (each byte one code unit). pass NULL
 * gives an empty result. *out from portls__malloc (free with
 * portls__pkcs_wipe_free). 0 or PORTLS_ENOMEM. */
int portls__pkcs12_bmp_pass(const char *pass, uint8_t **out, size_t *out_len);

/* OpenSSL's EVP_BytesToKey with MD5 and one iteration, as traditional PEM
 * encryption uses it: D_i = MD5(D_{i-1} || pass || salt[0..8]). */
void portls__bytes_to_key_md5(const uint8_t *pass, size_t pass_len, const uint8_t salt[8],
                              uint8_t *key, size_t key_len);

/* CBC decryption with PKCS#7 padding removed: the backend's cipher_decrypt
 * for PORTLS_BE_* algorithms (PORTLS_ENOTSUP when the backend has none),
 * core's RC2 for PORTLS__RC2_CBC (key_len bytes, effective bits key_len*8).
 * out holds len bytes. */
int portls__cbc_decrypt(int alg, const uint8_t *key, size_t key_len, const uint8_t *iv,
                        const uint8_t *in, size_t len, uint8_t *out, size_t *out_len);

/* Zeroes n bytes in a way the compiler keeps; and the same then free. */
void portls__pkcs_wipe(void *p, size_t n);
void portls__pkcs_wipe_free(void *p, size_t n);

#endif
