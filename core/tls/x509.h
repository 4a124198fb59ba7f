/* portls core: X.509 certificate parsing shared inside core.
 *
 * portls__x509_parse checks a DER certificate against RFC 5280's structure
 * (as strictly as OpenSSL's decoder, and stricter where DER demands it) and
 * records where its parts are. Nothing is copied: every slice points into
 * the caller's DER, which must outlive the portls__x509.
 *
 * Internal: never included by a public header.
 */
#ifndef PORTLS_CORE_TLS_X509_H
#define PORTLS_CORE_TLS_X509_H

#include <stddef.h>
#include <stdint.h>

#include "portls/errors.h"
#include "tls/der.h"

/* Keys whose fields Node shows. */
enum {
  PORTLS__KEY_UNKNOWN = 0,
  PORTLS__KEY_RSA,
  PORTLS__KEY_RSA_PSS,
  PORTLS__KEY_EC,
  PORTLS__KEY_ED25519,
  PORTLS__KEY_ED448,
  PORTLS__KEY_X25519,
  PORTLS__KEY_X448,
  PORTLS__KEY_DSA,
  PORTLS__KEY_DH
};

typedef struct portls__x509 {
  const uint8_t *der;
  size_t der_len;
  long version;            /* 0 for v1 .. 2 for v3 */
  portls__der_tlv serial;  /* INTEGER */
  portls__der_tlv issuer;  /* Name (SEQUENCE) */
  portls__der_tlv subject; /* Name (SEQUENCE) */
  size_t issuer_count;     /* attributes in the Name, over all RDNs */
  size_t subject_count;
  portls__der_tlv not_before; /* UTCTime or GeneralizedTime */
  portls__der_tlv not_after;
  /* subjectPublicKeyInfo */
  portls__der_tlv spki;    /* the whole SEQUENCE */
  portls__der_tlv key_alg; /* algorithm OID */
  int key_type;            /* PORTLS__KEY_* */
  const uint8_t *key;      /* BIT STRING contents after the unused-bits octet */
  size_t key_len;
  /* RSA: INTEGER contents, NULL when the key does not decode */
  portls__der_tlv rsa_n;
  portls__der_tlv rsa_e;
  int rsa_ok;
  /* EC: index into the curve table (-1 unnamed or unknown) and order size */
  int ec_curve;
  int ec_bits;
  /* extensions this module interprets; the *_seq are the decoded values */
  int has_san, has_aia, has_eku, has_bc, has_ku;
  portls__der_tlv san_seq; /* GeneralNames */
  portls__der_tlv aia_seq; /* AuthorityInfoAccessSyntax */
  portls__der_tlv eku_seq; /* ExtKeyUsageSyntax */
  size_t san_count, aia_count, eku_count;
  int bc_ca;
  unsigned ku_bits; /* first two octets of keyUsage, as OpenSSL keeps them */
} portls__x509;

/* Checks and indexes one DER certificate (exactly len bytes, nothing after).
 * Errors: PORTLS_ECERT with a message naming the part that is malformed. */
int portls__x509_parse(const void *der, size_t len, portls__x509 *x, portls_error *err);

/* 1 when issuer's subject names the issuer of cert (same DER Name). */
int portls__x509_issued_by(const portls__x509 *cert, const portls__x509 *issuer);

#endif
