/* portls: the certificate model, as Node's getPeerCertificate() shows it.
 *
 * Certificates are parsed and formatted by core from their DER bytes, so the
 * fields below are byte-identical whichever backend is linked.
 */
#ifndef PORTLS_CERT_H
#define PORTLS_CERT_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One attribute of a distinguished name, in certificate order. Repeated keys
 * (two OU, say) appear as repeated entries; the JSON form makes them arrays. */
typedef struct portls_dn_entry {
  const char *key;   /* "C", "ST", "L", "O", "OU", "CN", ... or the dotted OID */
  const char *value; /* UTF-8 */
} portls_dn_entry;

typedef struct portls_dn {
  const portls_dn_entry *entries;
  size_t count;
} portls_dn;

/* Node: the object returned by tlsSocket.getPeerCertificate([detailed]).
 * All strings are NUL-terminated; a field the certificate lacks is NULL
 * (0 for numbers). The whole tree is one allocation owned by the root object. */
typedef struct portls_cert {
  portls_dn subject;
  portls_dn issuer;
  int ca;                     /* basicConstraints cA */
  const char *subjectaltname; /* "DNS:a, IP Address:1.2.3.4, email:x@y, URI:u" */
  portls_dn infoaccess;       /* key "OCSP - URI" / "CA Issuers - URI", value the URI */
  int bits;                   /* public key size in bits */
  const char *modulus;        /* RSA: uppercase hex, no leading zeros */
  const char *exponent;       /* RSA: "0x10001" */
  const char *pubkey_type;    /* "RSA", "EC", "Ed25519", ... */
  const char *asn1curve;      /* EC: "prime256v1", ... */
  const char *nistcurve;      /* EC: "P-256", ... */
  const char *valid_from;     /* "Nov  6 09:52:22 2029 GMT" */
  const char *valid_to;
  const char *fingerprint;          /* SHA-1, "2A:7A:...": uppercase colon hex */
  const char *fingerprint256;       /* SHA-256 */
  const char *serial_number;        /* uppercase hex, as OpenSSL's BN_bn2hex prints it */
  const char *const *ext_key_usage; /* dotted OIDs */
  size_t ext_key_usage_count;
  const uint8_t *raw; /* the DER */
  size_t raw_len;
  /* detailed form only: the next certificate up the chain; the last one
   * (a self-issued root) points to itself; NULL in the non-detailed form. */
  const struct portls_cert *issuer_certificate;
} portls_cert;

/* Parses one DER certificate (der is read during the call; nothing is kept).
 * The caller frees *out with portls_cert_free().
 * Errors: PORTLS_EINVAL (NULL args), PORTLS_ECERT (malformed DER), PORTLS_ENOMEM. */
int portls_cert_parse_der(const void *der, size_t len, portls_cert **out, portls_error *err);

/* Parses the first certificate of a PEM text; the caller frees *out with
 * portls_cert_free(). Errors: as portls_cert_parse_der(), and PORTLS_ECERT
 * when the text holds no certificate. */
int portls_cert_parse_pem(const void *pem, size_t len, portls_cert **out, portls_error *err);

/* Parses a chain (leaf first, each certificate DER) into the detailed form:
 * issuer_certificate links each to the next; the last one points to itself
 * when it is self-issued, else NULL. Node: getPeerCertificate(true)'s shape.
 * The caller frees *out (the leaf) with portls_cert_free(). Errors:
 * PORTLS_EINVAL, PORTLS_ECERT, PORTLS_ENOMEM. */
int portls_cert_parse_chain(const void *const *ders, const size_t *lens, size_t count,
                            portls_cert **out, portls_error *err);

/* Frees a certificate tree from a parse function or
 * portls_socket_get_peer_certificate() (the root object only; it owns the
 * rest). NULL is a no-op. */
void portls_cert_free(portls_cert *cert);

/* The certificate as one line of JSON, with Node's field names (subject,
 * issuer, subjectaltname, infoAccess, modulus, exponent, bits, valid_from,
 * valid_to, fingerprint, fingerprint256, serialNumber, ext_key_usage, raw as
 * base64, issuerCertificate when detailed; a repeated key becomes an array).
 * Node: JSON.stringify(cert). Returns a string the caller frees with
 * portls_free(), or NULL when out of memory (or cert is NULL). */
char *portls_cert_to_json(const portls_cert *cert);

/* Node: tls.checkServerIdentity(host, cert), the default identity check
 * (RFC 6125 as modern Node applies it). Returns 0 when cert names host, else
 * PORTLS_ECERT_ALTNAME_INVALID with Node's reason text in err->message:
 * "Host: H. is not in the cert's altnames: DNS:..." /
 * "IP: I is not in the cert's list: ..." / "Host: H. is not cert's CN: C".
 * Other errors: PORTLS_EINVAL, PORTLS_ENOMEM. */
int portls_check_server_identity(const char *host, const portls_cert *cert, portls_error *err);

#ifdef __cplusplus
}
#endif
#endif
