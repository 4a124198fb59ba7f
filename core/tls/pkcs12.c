/* portls core: PKCS#12 (RFC 7292) containers, read the way OpenSSL 3's
 * PKCS12_parse reads them (see pkcs.h).
 *
 *   PFX ::= SEQUENCE { version 3, authSafe ContentInfo (data), macData OPTIONAL }
 *   AuthenticatedSafe ::= SEQUENCE OF ContentInfo (data | encryptedData)
 *   SafeContents ::= SEQUENCE OF SafeBag { bagId, [0] bagValue, bagAttributes OPTIONAL }
 */
#include <string.h>

#include "tls/der.h"
#include "tls/pkcs.h"
#include "tls/pkcs_crypto.h"
#include "tls/x509.h"
#include "util/base64.h"
#include "util/pem.h"

#define OID_DATA "1.2.840.113549.1.7.1"
#define OID_SIGNED_DATA "1.2.840.113549.1.7.2"
#define OID_ENCRYPTED_DATA "1.2.840.113549.1.7.6"
#define OID_KEY_BAG "1.2.840.113549.1.12.10.1.1"
#define OID_SHROUDED_KEY_BAG "1.2.840.113549.1.12.10.1.2"
#define OID_CERT_BAG "1.2.840.113549.1.12.10.1.3"
#define OID_SAFE_CONTENTS_BAG "1.2.840.113549.1.12.10.1.6"
#define OID_X509_CERT "1.2.840.113549.1.9.22.1"
#define OID_LOCAL_KEY_ID "1.2.840.113549.1.9.21"

/* Nesting of safeContentsBag inside SafeContents. */
#define MAX_SAFE_DEPTH 4

static const struct {
  const char *oid;
  int md;
} mac_mds[] = {
    {"1.3.14.3.2.26", PORTLS_BE_SHA1},
    {"2.16.840.1.101.3.4.2.1", PORTLS_BE_SHA256},
    {"2.16.840.1.101.3.4.2.2", PORTLS_BE_SHA384},
    {"2.16.840.1.101.3.4.2.3", PORTLS_BE_SHA512},
};

typedef struct pfx_cert {
  portls__bytes der;
  uint8_t *lkid; /* localKeyID, copied */
  size_t lkid_len;
  portls__x509 x; /* points into der.data, which never moves */
  int parsed;
  int used;
} pfx_cert;

typedef struct walk {
  const char *pass;
  int mac_verified;     /* the passphrase is known right: a failed decryption is corruption */
  unsigned long budget; /* KDF iterations left (PORTLS__PKCS_MAX_WORK) */
  size_t bags;
  portls__bytes key;
  int has_key;
  uint8_t *key_lkid;
  size_t key_lkid_len;
  pfx_cert *certs;
  size_t ncerts, cap;
  portls_error *err;
} walk;

static int oid_is(const portls__der_tlv *t, const char *dotted) {
  return t->tag == PORTLS__DER_OID && portls__der_oid_equals(t->val, t->len, dotted);
}

static const char *oid_str(const portls__der_tlv *t, char *buf, size_t cap) {
  if (portls__der_oid_text(t->val, t->len, buf, cap) < 0) return "?";
  return buf;
}

static int malformed(walk *w, const char *what) {
  return portls__err(w->err, PORTLS_EPFX, "pfx: malformed %s", what);
}

/* A decryption under a passphrase whose MAC verified cannot be a wrong
 * passphrase: report the file as corrupt instead. */
static int decrypt_failed(walk *w, int rc) {
  if (rc == PORTLS_EBAD_PASSPHRASE && w->mac_verified)
    return portls__err(w->err, PORTLS_EPFX, "pfx: decryption failed although the MAC verified");
  return rc;
}

/* The contents of a content's [0] EXPLICIT wrapper: exactly one element. */
static int explicit0(const portls__der_tlv *wrapper, portls__der_tlv *inner) {
  portls__der d;
  if (wrapper->tag != PORTLS__DER_CTX_CONS(0)) return -1;
  portls__der_init_tlv(&d, wrapper);
  if (portls__der_read(&d, inner) != 0) return -1;
  return portls__der_finish(&d);
}

/* ------------------------------------------------------------------------ */
/* SafeBags                                                                  */

/* localKeyID among the bag attributes: SET OF SEQUENCE { OID, SET OF ANY }. */
static int find_lkid(const portls__der_tlv *attrs, const uint8_t **id, size_t *len) {
  portls__der d;
  portls__der_tlv attr;
  *id = NULL;
  *len = 0;
  portls__der_init_tlv(&d, attrs);
  while (!portls__der_at_end(&d)) {
    portls__der a, vals;
    portls__der_tlv oid, v;
    if (portls__der_expect(&d, PORTLS__DER_SEQUENCE, &attr) != 0) return -1;
    portls__der_init_tlv(&a, &attr);
    if (portls__der_expect(&a, PORTLS__DER_OID, &oid) != 0 ||
        portls__der_enter(&a, PORTLS__DER_SET, &vals) != 0 || portls__der_finish(&a) != 0)
      return -1;
    if (oid_is(&oid, OID_LOCAL_KEY_ID)) {
      if (portls__der_expect(&vals, PORTLS__DER_OCTET_STRING, &v) != 0) return -1;
      *id = v.val;
      *len = v.len;
    }
  }
  return 0;
}

static int copy_id(const uint8_t *id, size_t len, uint8_t **out, size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  if (id == NULL || len == 0) return 0;
  *out = (uint8_t *)portls__memdup(id, len);
  if (*out == NULL) return PORTLS_ENOMEM;
  *out_len = len;
  return 0;
}

static int take_key(walk *w, const portls__der_tlv *bag_id, const portls__der_tlv *value,
                    const uint8_t *lkid, size_t lkid_len) {
  int rc;
  if (w->has_key) return 0; /* like OpenSSL, the first key wins */
  if (oid_is(bag_id, OID_KEY_BAG)) {
    if (portls__pkcs8_check(value->hdr, value->hdr_len + value->len) != 0)
      return malformed(w, "keyBag");
    if (portls__bytes_reserve(&w->key, value->hdr_len + value->len) != 0)
      return portls__err(w->err, PORTLS_ENOMEM, NULL);
    memcpy(w->key.data, value->hdr, value->hdr_len + value->len);
    w->key.len = value->hdr_len + value->len;
  } else {
    rc = portls__pkcs8_decrypt_der(value->hdr, value->hdr_len + value->len, w->pass, PORTLS_EPFX,
                                   &w->budget, &w->key, w->err);
    if (rc != 0) return decrypt_failed(w, rc);
  }
  w->has_key = 1;
  if (copy_id(lkid, lkid_len, &w->key_lkid, &w->key_lkid_len) != 0)
    return portls__err(w->err, PORTLS_ENOMEM, NULL);
  return 0;
}

static int take_cert(walk *w, const portls__der_tlv *value, const uint8_t *lkid, size_t lkid_len) {
  portls__der d, inner;
  portls__der_tlv type, wrapper, octets, cert;
  pfx_cert *c;
  /* CertBag ::= SEQUENCE { certId, certValue [0] EXPLICIT OCTET STRING } */
  if (value->tag != PORTLS__DER_SEQUENCE) return malformed(w, "certBag");
  portls__der_init_tlv(&d, value);
  if (portls__der_expect(&d, PORTLS__DER_OID, &type) != 0 || portls__der_read(&d, &wrapper) != 0 ||
      portls__der_finish(&d) != 0 || explicit0(&wrapper, &octets) != 0)
    return malformed(w, "certBag");
  if (!oid_is(&type, OID_X509_CERT)) return 0; /* SDSI certificates: nothing a TLS stack loads */
  if (octets.tag != PORTLS__DER_OCTET_STRING) return malformed(w, "certBag");
  /* The certificate's own checks are left to whoever loads it; here it is
   * one DER element, parsed further only to order the chain. */
  portls__der_init(&inner, octets.val, octets.len);
  if (portls__der_read(&inner, &cert) != 0 || cert.tag != PORTLS__DER_SEQUENCE ||
      portls__der_finish(&inner) != 0)
    return malformed(w, "certificate in a certBag");
  if (w->ncerts == w->cap) {
    size_t cap = w->cap ? 2 * w->cap : 4;
    pfx_cert *p = (pfx_cert *)portls__realloc(w->certs, cap * sizeof(*p));
    if (p == NULL) return portls__err(w->err, PORTLS_ENOMEM, NULL);
    w->certs = p;
    w->cap = cap;
  }
  c = &w->certs[w->ncerts];
  memset(c, 0, sizeof(*c));
  if (portls__bytes_append(&c->der, octets.val, octets.len) != 0)
    return portls__err(w->err, PORTLS_ENOMEM, NULL);
  w->ncerts++;
  if (copy_id(lkid, lkid_len, &c->lkid, &c->lkid_len) != 0)
    return portls__err(w->err, PORTLS_ENOMEM, NULL);
  c->parsed = portls__x509_parse(c->der.data, c->der.len, &c->x, NULL) == 0;
  return 0;
}

static int walk_safe_contents(walk *w, const uint8_t *p, size_t len, unsigned depth);

static int walk_bag(walk *w, const portls__der_tlv *bag, unsigned depth) {
  portls__der d;
  portls__der_tlv bag_id, wrapper, value, attrs;
  const uint8_t *lkid = NULL;
  size_t lkid_len = 0;
  int r;
  if (++w->bags > PORTLS__PKCS_MAX_BAGS)
    return portls__err(w->err, PORTLS_EPFX, "pfx: more than %d SafeBags", PORTLS__PKCS_MAX_BAGS);
  portls__der_init_tlv(&d, bag);
  if (portls__der_expect(&d, PORTLS__DER_OID, &bag_id) != 0 ||
      portls__der_check_oid(bag_id.val, bag_id.len) != 0 || portls__der_read(&d, &wrapper) != 0 ||
      explicit0(&wrapper, &value) != 0)
    return malformed(w, "SafeBag");
  if ((r = portls__der_optional(&d, PORTLS__DER_SET, &attrs)) < 0 || portls__der_finish(&d) != 0)
    return malformed(w, "SafeBag");
  if (r == 1 && find_lkid(&attrs, &lkid, &lkid_len) != 0) return malformed(w, "SafeBag attributes");
  if (oid_is(&bag_id, OID_KEY_BAG) || oid_is(&bag_id, OID_SHROUDED_KEY_BAG))
    return take_key(w, &bag_id, &value, lkid, lkid_len);
  if (oid_is(&bag_id, OID_CERT_BAG)) return take_cert(w, &value, lkid, lkid_len);
  if (oid_is(&bag_id, OID_SAFE_CONTENTS_BAG)) {
    if (depth >= MAX_SAFE_DEPTH)
      return portls__err(w->err, PORTLS_EPFX, "pfx: SafeContents nested too deep");
    if (value.tag != PORTLS__DER_SEQUENCE) return malformed(w, "safeContentsBag");
    return walk_safe_contents(w, value.hdr, value.hdr_len + value.len, depth + 1);
  }
  return 0; /* crlBag, secretBag, anything new: not ours to load (OpenSSL skips them too) */
}

static int walk_safe_contents(walk *w, const uint8_t *p, size_t len, unsigned depth) {
  portls__der_tlv top, bag;
  portls__der d;
  int r;
  if (portls__der_parse_one(p, len, &top) != 0 || top.tag != PORTLS__DER_SEQUENCE)
    return malformed(w, "SafeContents");
  portls__der_init_tlv(&d, &top);
  while (!portls__der_at_end(&d)) {
    if (portls__der_expect(&d, PORTLS__DER_SEQUENCE, &bag) != 0)
      return malformed(w, "SafeContents");
    if ((r = walk_bag(w, &bag, depth)) != 0) return r;
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* AuthenticatedSafe                                                         */

static int walk_encrypted(walk *w, const portls__der_tlv *content) {
  portls__der d, eci;
  portls__der_tlv version, type, alg, attrs, ct, top;
  portls__bytes plain = {0};
  long v;
  int r;
  char oid[PORTLS__DER_OID_TEXT_MAX];
  /* EncryptedData ::= SEQUENCE { version, EncryptedContentInfo, [1] unprotectedAttrs OPTIONAL }
   * EncryptedContentInfo ::= SEQUENCE { contentType, AlgorithmIdentifier,
   *                                     [0] IMPLICIT OCTET STRING OPTIONAL } */
  if (content->tag != PORTLS__DER_SEQUENCE) return malformed(w, "encryptedData");
  portls__der_init_tlv(&d, content);
  if (portls__der_expect(&d, PORTLS__DER_INTEGER, &version) != 0 ||
      portls__der_get_long(&version, &v) != 0 || (v != 0 && v != 2) ||
      portls__der_enter(&d, PORTLS__DER_SEQUENCE, &eci) != 0 ||
      portls__der_optional(&d, PORTLS__DER_CTX_CONS(1), &attrs) < 0 || portls__der_finish(&d) != 0)
    return malformed(w, "encryptedData");
  if (portls__der_expect(&eci, PORTLS__DER_OID, &type) != 0 ||
      portls__der_expect(&eci, PORTLS__DER_SEQUENCE, &alg) != 0)
    return malformed(w, "encryptedData");
  if (!oid_is(&type, OID_DATA))
    return portls__err(w->err, PORTLS_EPFX, "pfx: encrypted content of type %s",
                       oid_str(&type, oid, sizeof(oid)));
  r = portls__der_optional(&eci, PORTLS__DER_CTX(0), &ct);
  if (r == 0 && portls__der_peek(&eci, &top) == 0 && top.tag == PORTLS__DER_CTX_CONS(0))
    return portls__err(w->err, PORTLS_EPFX,
                       "pfx: constructed (BER) encryptedContent is not supported");
  if (r < 0 || portls__der_finish(&eci) != 0) return malformed(w, "encryptedData");
  if (r == 0) return 0; /* no content: nothing inside */
  r = portls__pbe_decrypt(alg.hdr, alg.hdr_len + alg.len, ct.val, ct.len, w->pass, PORTLS_EPFX,
                          &w->budget, &plain, w->err);
  if (r != 0) return decrypt_failed(w, r);
  /* Without a MAC, garbage that kept valid padding means a wrong passphrase. */
  if (portls__der_parse_one(plain.data, plain.len, &top) != 0 || top.tag != PORTLS__DER_SEQUENCE)
    r = w->mac_verified
            ? malformed(w, "decrypted SafeContents")
            : portls__err(w->err, PORTLS_EBAD_PASSPHRASE, "pfx: bad decrypt (wrong passphrase?)");
  else
    r = walk_safe_contents(w, plain.data, plain.len, 0);
  portls__key_free(&plain); /* may hold plain keyBags */
  return r;
}

static int walk_auth_safe(walk *w, const uint8_t *p, size_t len) {
  portls__der_tlv top, ci;
  portls__der d;
  int r;
  char oid[PORTLS__DER_OID_TEXT_MAX];
  if (portls__der_parse_one(p, len, &top) != 0 || top.tag != PORTLS__DER_SEQUENCE)
    return malformed(w, "AuthenticatedSafe");
  portls__der_init_tlv(&d, &top);
  while (!portls__der_at_end(&d)) {
    portls__der c;
    portls__der_tlv type, wrapper, content;
    if (portls__der_expect(&d, PORTLS__DER_SEQUENCE, &ci) != 0)
      return malformed(w, "AuthenticatedSafe");
    portls__der_init_tlv(&c, &ci);
    if (portls__der_expect(&c, PORTLS__DER_OID, &type) != 0 ||
        portls__der_read(&c, &wrapper) != 0 || portls__der_finish(&c) != 0 ||
        explicit0(&wrapper, &content) != 0)
      return malformed(w, "ContentInfo");
    if (oid_is(&type, OID_DATA)) {
      if (content.tag != PORTLS__DER_OCTET_STRING) return malformed(w, "data ContentInfo");
      r = walk_safe_contents(w, content.val, content.len, 0);
    } else if (oid_is(&type, OID_ENCRYPTED_DATA)) {
      r = walk_encrypted(w, &content);
    } else {
      r = portls__err(w->err, PORTLS_EPFX,
                      "pfx: unsupported content type %s (only data and encryptedData)",
                      oid_str(&type, oid, sizeof(oid)));
    }
    if (r != 0) return r;
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* MAC                                                                       */

typedef struct mac_data {
  int md;
  portls__der_tlv digest, salt;
  unsigned long iterations;
} mac_data;

static int read_mac(walk *w, const portls__der_tlv *seq, mac_data *m) {
  portls__der d, di, alg;
  portls__der_tlv oid, params, t;
  size_t i;
  int r;
  long v = 1;
  char text[PORTLS__DER_OID_TEXT_MAX];
  /* MacData ::= SEQUENCE { DigestInfo, macSalt OCTET STRING, iterations INTEGER DEFAULT 1 } */
  portls__der_init_tlv(&d, seq);
  if (portls__der_enter(&d, PORTLS__DER_SEQUENCE, &di) != 0 ||
      portls__der_enter(&di, PORTLS__DER_SEQUENCE, &alg) != 0 ||
      portls__der_expect(&alg, PORTLS__DER_OID, &oid) != 0 ||
      portls__der_expect(&di, PORTLS__DER_OCTET_STRING, &m->digest) != 0 ||
      portls__der_finish(&di) != 0)
    return malformed(w, "MacData");
  if ((r = portls__der_optional(&alg, PORTLS__DER_NULL, &params)) < 0 ||
      (r == 1 && portls__der_check_null(&params) != 0) || portls__der_finish(&alg) != 0)
    return malformed(w, "MAC algorithm");
  if (portls__der_expect(&d, PORTLS__DER_OCTET_STRING, &m->salt) != 0)
    return malformed(w, "MacData");
  if ((r = portls__der_optional(&d, PORTLS__DER_INTEGER, &t)) < 0 || portls__der_finish(&d) != 0 ||
      (r == 1 && portls__der_get_long(&t, &v) != 0))
    return malformed(w, "MacData");
  if (v < 1 || (unsigned long)v > PORTLS__PKCS_MAX_ITERATIONS)
    return portls__err(w->err, PORTLS_EPFX, "pfx: MAC iteration count %ld out of range (1..%lu)", v,
                       PORTLS__PKCS_MAX_ITERATIONS);
  if (m->salt.len > PORTLS__PKCS_MAX_SALT)
    return portls__err(w->err, PORTLS_EPFX, "pfx: MAC salt of %zu bytes is too long", m->salt.len);
  m->iterations = (unsigned long)v;
  m->md = 0;
  for (i = 0; i < PORTLS__ARRAY_SIZE(mac_mds); i++)
    if (oid_is(&oid, mac_mds[i].oid)) m->md = mac_mds[i].md;
  if (m->md == 0)
    return portls__err(w->err, PORTLS_EPFX, "pfx: unsupported MAC algorithm %s",
                       oid_str(&oid, text, sizeof(text)));
  if (m->digest.len != portls__md_size(m->md)) return malformed(w, "MAC value");
  return 0;
}

/* 1 when the MAC verifies under pass, 0 when not, < 0 on an error. */
static int mac_verify(walk *w, const mac_data *m, const char *pass, const uint8_t *data,
                      size_t len) {
  uint8_t key[PORTLS__MD_MAX], mac[PORTLS__MD_MAX], *bmp = NULL, diff = 0;
  size_t bmp_len = 0, hs = portls__md_size(m->md), i;
  int r;
  if (m->iterations > w->budget)
    return portls__err(w->err, PORTLS_EPFX,
                       "pfx: more key-derivation work than %lu iterations in all",
                       PORTLS__PKCS_MAX_WORK);
  w->budget -= m->iterations;
  if (portls__pkcs12_bmp_pass(pass, &bmp, &bmp_len) != 0)
    return portls__err(w->err, PORTLS_ENOMEM, NULL);
  r = portls__pkcs12_kdf(m->md, 3, bmp, bmp_len, m->salt.val, m->salt.len, m->iterations, key, hs);
  portls__pkcs_wipe_free(bmp, bmp_len);
  if (r == 0) r = portls__hmac(m->md, key, hs, data, len, mac);
  portls__pkcs_wipe(key, sizeof(key));
  if (r == PORTLS_ENOTSUP)
    return portls__err(w->err, PORTLS_ENOTSUP, "pfx: the MAC digest is not available in backend %s",
                       portls__backend.name);
  if (r == PORTLS_ENOMEM) return portls__err(w->err, PORTLS_ENOMEM, NULL);
  if (r != 0) return portls__err(w->err, PORTLS_EPFX, "pfx: MAC computation failed");
  for (i = 0; i < hs; i++) diff |= (uint8_t)(mac[i] ^ m->digest.val[i]);
  return diff == 0;
}

/* ------------------------------------------------------------------------ */
/* The key's certificate and the chain order                                 */

static size_t pick_leaf(const walk *w) {
  size_t i;
  int kind;
  const uint8_t *pub;
  size_t pub_len;
  if (portls__pkcs8_public(w->key.data, w->key.len, &kind, &pub, &pub_len) == 0) {
    for (i = 0; i < w->ncerts; i++) {
      const portls__x509 *x = &w->certs[i].x;
      if (!w->certs[i].parsed) continue;
      if (kind == 1 && x->rsa_ok && x->rsa_n.len == pub_len &&
          memcmp(x->rsa_n.val, pub, pub_len) == 0)
        return i;
      if (kind == 2 && x->key_len == pub_len && memcmp(x->key, pub, pub_len) == 0) return i;
    }
  }
  if (w->key_lkid != NULL)
    for (i = 0; i < w->ncerts; i++)
      if (w->certs[i].lkid_len == w->key_lkid_len &&
          memcmp(w->certs[i].lkid, w->key_lkid, w->key_lkid_len) == 0)
        return i;
  for (i = 0; i < w->ncerts; i++)
    if (w->certs[i].parsed && !w->certs[i].x.bc_ca) return i;
  return 0;
}

static int build_result(walk *w, portls__pfx_result *out) {
  size_t leaf = pick_leaf(w), cur, n = 0, i;
  out->certs = (portls__bytes *)portls__calloc(w->ncerts, sizeof(*out->certs));
  if (out->certs == NULL) return portls__err(w->err, PORTLS_ENOMEM, NULL);
  out->certs[n++] = w->certs[leaf].der;
  w->certs[leaf].used = 1;
  /* Issuer after subject, as far as the names lead. */
  cur = leaf;
  while (w->certs[cur].parsed && !portls__x509_issued_by(&w->certs[cur].x, &w->certs[cur].x)) {
    size_t next = w->ncerts;
    for (i = 0; i < w->ncerts && next == w->ncerts; i++)
      if (!w->certs[i].used && w->certs[i].parsed &&
          portls__x509_issued_by(&w->certs[cur].x, &w->certs[i].x))
        next = i;
    if (next == w->ncerts) break;
    out->certs[n++] = w->certs[next].der;
    w->certs[next].used = 1;
    cur = next;
  }
  for (i = 0; i < w->ncerts; i++)
    if (!w->certs[i].used) {
      out->certs[n++] = w->certs[i].der;
      w->certs[i].used = 1;
    }
  out->cert_count = n;
  out->key = w->key;
  memset(&w->key, 0, sizeof(w->key));
  return 0;
}

static void walk_free(walk *w) {
  size_t i;
  for (i = 0; i < w->ncerts; i++) {
    if (!w->certs[i].used) portls__bytes_free(&w->certs[i].der);
    portls__free(w->certs[i].lkid);
  }
  portls__free(w->certs);
  portls__free(w->key_lkid);
  portls__key_free(&w->key);
}

/* ------------------------------------------------------------------------ */
/* Entry points                                                              */

int portls__pfx_decode(portls_buf pfx, const char *pass, portls__pfx_result *out,
                       portls_error *err) {
  portls__der_tlv top, version, auth, type, wrapper, content, macseq;
  portls__der d, ai;
  walk w;
  mac_data mac;
  long v;
  int r, has_mac;
  char oid[PORTLS__DER_OID_TEXT_MAX];

  if (out == NULL || pfx.base == NULL) return portls__err(err, PORTLS_EINVAL, "pfx: NULL argument");
  memset(out, 0, sizeof(*out));
  if (pfx.len == 0 || pfx.len > PORTLS__PKCS_MAX_PFX)
    return portls__err(err, PORTLS_EPFX, "pfx: %zu bytes is not a plausible PFX size", pfx.len);
  if (pass != NULL && strlen(pass) > PORTLS__PKCS_MAX_PASS)
    return portls__err(err, PORTLS_EINVAL, "passphrase: longer than %d bytes",
                       PORTLS__PKCS_MAX_PASS);
  memset(&w, 0, sizeof(w));
  w.err = err;
  w.budget = PORTLS__PKCS_MAX_WORK;

  if (portls__der_parse_one(pfx.base, pfx.len, &top) != 0 || top.tag != PORTLS__DER_SEQUENCE)
    return portls__err(err, PORTLS_EPFX, "pfx: not a DER PFX (PEM and BER are not accepted)");
  portls__der_init_tlv(&d, &top);
  if (portls__der_expect(&d, PORTLS__DER_INTEGER, &version) != 0 ||
      portls__der_get_long(&version, &v) != 0 ||
      portls__der_expect(&d, PORTLS__DER_SEQUENCE, &auth) != 0)
    return malformed(&w, "PFX");
  if (v != 3) return portls__err(err, PORTLS_EPFX, "pfx: version %ld (only 3 exists)", v);
  if ((has_mac = portls__der_optional(&d, PORTLS__DER_SEQUENCE, &macseq)) < 0 ||
      portls__der_finish(&d) != 0)
    return malformed(&w, "PFX");
  portls__der_init_tlv(&ai, &auth);
  if (portls__der_expect(&ai, PORTLS__DER_OID, &type) != 0 ||
      portls__der_read(&ai, &wrapper) != 0 || portls__der_finish(&ai) != 0 ||
      explicit0(&wrapper, &content) != 0)
    return malformed(&w, "authSafe");
  if (oid_is(&type, OID_SIGNED_DATA))
    return portls__err(err, PORTLS_EPFX,
                       "pfx: public-key integrity mode (signedData) is not supported");
  if (!oid_is(&type, OID_DATA))
    return portls__err(err, PORTLS_EPFX, "pfx: unsupported authSafe content type %s",
                       oid_str(&type, oid, sizeof(oid)));
  if (content.tag != PORTLS__DER_OCTET_STRING) return malformed(&w, "authSafe");

  /* Which password: OpenSSL's rule for none and "" alike is to try an
   * absent password first, then the empty one. */
  w.pass = pass;
  if (has_mac) {
    if ((r = read_mac(&w, &macseq, &mac)) != 0) return r;
    if (pass == NULL || *pass == '\0') {
      r = mac_verify(&w, &mac, NULL, content.val, content.len);
      w.pass = NULL;
      if (r == 0) {
        r = mac_verify(&w, &mac, "", content.val, content.len);
        w.pass = "";
      }
    } else {
      r = mac_verify(&w, &mac, pass, content.val, content.len);
    }
    if (r < 0) return r;
    if (r == 0)
      return portls__err(err, PORTLS_EBAD_PASSPHRASE,
                         "pfx: mac verify failure (wrong passphrase?)");
    w.mac_verified = 1;
  } else if (pass != NULL && *pass == '\0') {
    w.pass = NULL;
  }

  r = walk_auth_safe(&w, content.val, content.len);
  if (r == 0 && !w.has_key) r = portls__err(err, PORTLS_EPFX, "pfx: no private key in the PFX");
  if (r == 0 && w.ncerts == 0) r = portls__err(err, PORTLS_EPFX, "pfx: no certificate in the PFX");
  if (r == 0) r = build_result(&w, out);
  walk_free(&w);
  if (r != 0) portls__pfx_result_free(out);
  return r;
}

void portls__pfx_result_free(portls__pfx_result *r) {
  size_t i;
  if (r == NULL) return;
  portls__key_free(&r->key);
  for (i = 0; i < r->cert_count; i++) portls__bytes_free(&r->certs[i]);
  portls__free(r->certs);
  memset(r, 0, sizeof(*r));
}

int portls__pfx_to_pem(const portls__pfx_result *r, portls__bytes *key_pem,
                       portls__bytes *certs_pem) {
  size_t i;
  int rc = 0;
  if (key_pem != NULL) {
    /* Reserve the final size up front so no realloc leaves a copy of the key. */
    size_t b64 = portls__base64_encoded_len(r->key.len);
    if (b64 == (size_t)-1 || portls__bytes_reserve(key_pem, b64 + b64 / 64 + 80) != 0)
      return PORTLS_ENOMEM;
    rc = portls__pem_encode(key_pem, "PRIVATE KEY", r->key.data, r->key.len);
  }
  for (i = 0; rc == 0 && certs_pem != NULL && i < r->cert_count; i++)
    rc = portls__pem_encode(certs_pem, "CERTIFICATE", r->certs[i].data, r->certs[i].len);
  return rc;
}
