/* portls core: encrypted private keys into plain PKCS#8 (see pkcs.h).
 *
 * Three encodings reach here: PKCS#8 EncryptedPrivateKeyInfo (RFC 5958)
 * under PBES2 (RFC 8018) or a PKCS#12 PBE (RFC 7292 appendix C), OpenSSL's
 * "traditional" PEM with RFC 1421 headers (EVP_BytesToKey over MD5), and
 * the plain forms. Everything leaves as PKCS#8 so a backend has one form to
 * load, and the bytes equal what OpenSSL writes for the same key.
 */
#include "tls/pkcs.h"

#include <string.h>

#include "tls/der.h"
#include "tls/pkcs_crypto.h"
#include "util/util.h"
#include "util/pem.h"

#define OID_PBES2 "1.2.840.113549.1.5.13"
#define OID_PBKDF2 "1.2.840.113549.1.5.12"
#define OID_PKCS12_PBE "1.2.840.113549.1.12.1" /* .1 .. .6 */
#define OID_RSA "1.2.840.113549.1.1.1"
#define OID_RSA_PSS "1.2.840.113549.1.1.10"
#define OID_EC "1.2.840.10045.2.1"

/* DER contents of rsaEncryption and id-ecPublicKey, for writing. */
static const uint8_t rsa_alg_der[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                      0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
static const uint8_t ec_oid_der[] = {0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
static const uint8_t version0_der[] = {0x02, 0x01, 0x00};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */

void portls__key_free(portls__bytes *b) {
  if (b == NULL) return;
  portls__pkcs_wipe_free(b->data, b->cap);
  b->data = NULL;
  b->len = b->cap = 0;
}

/* The option a message is about. */
static const char *who(int bad) { return bad == PORTLS_EPFX ? "pfx" : "key"; }

static int oid_is(const portls__der_tlv *t, const char *dotted) {
  return portls__der_oid_equals(t->val, t->len, dotted);
}

/* The dotted text of an OID for messages ("?" when it does not print). */
static const char *oid_str(const portls__der_tlv *t, char *buf, size_t cap) {
  if (portls__der_oid_text(t->val, t->len, buf, cap) < 0) return "?";
  return buf;
}

/* An AlgorithmIdentifier: SEQUENCE { OID, parameters ANY OPTIONAL }. */
typedef struct alg_id {
  portls__der_tlv oid;
  portls__der_tlv params;
  int has_params;
} alg_id;

static int read_alg(portls__der *d, alg_id *a) {
  portls__der in;
  memset(a, 0, sizeof(*a));
  if (portls__der_enter(d, PORTLS__DER_SEQUENCE, &in) != 0 ||
      portls__der_expect(&in, PORTLS__DER_OID, &a->oid) != 0 ||
      portls__der_check_oid(a->oid.val, a->oid.len) != 0)
    return -1;
  if (!portls__der_at_end(&in)) {
    if (portls__der_read(&in, &a->params) != 0) return -1;
    a->has_params = 1;
  }
  return portls__der_finish(&in);
}

/* Parameters that must be NULL or absent (hash and PRF identifiers). */
static int null_or_absent(const alg_id *a) {
  return !a->has_params ||
         (a->params.tag == PORTLS__DER_NULL && portls__der_check_null(&a->params) == 0);
}

static size_t der_hdr_len(size_t len) {
  return len < 0x80 ? 2 : len < 0x100 ? 3 : len < 0x10000 ? 4 : len < 0x1000000 ? 5 : 6;
}

/* Appends a tag and a definite length; the caller reserved room. */
static void put_hdr(portls__bytes *b, uint8_t tag, size_t len) {
  uint8_t h[6];
  size_t n = 0, i;
  h[n++] = tag;
  if (len < 0x80) {
    h[n++] = (uint8_t)len;
  } else {
    size_t octets = der_hdr_len(len) - 2;
    h[n++] = (uint8_t)(0x80 | octets);
    for (i = octets; i-- > 0;) h[n++] = (uint8_t)(len >> (8 * i));
  }
  memcpy(b->data + b->len, h, n);
  b->len += n;
}

static void put(portls__bytes *b, const void *p, size_t n) {
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

/* The whole encoding of an element. */
static size_t tlv_size(const portls__der_tlv *t) { return t->hdr_len + t->len; }

/* ------------------------------------------------------------------------ */
/* Structure checks                                                          */

int portls__pkcs8_check(const uint8_t *der, size_t len) {
  portls__der_tlv top, t;
  portls__der d;
  alg_id a;
  long version;
  int r;
  if (portls__der_parse_one(der, len, &top) != 0 || top.tag != PORTLS__DER_SEQUENCE ||
      portls__der_check_tree(der, len, 16) != 0)
    return -1;
  portls__der_init_tlv(&d, &top);
  if (portls__der_expect(&d, PORTLS__DER_INTEGER, &t) != 0 ||
      portls__der_get_long(&t, &version) != 0 || (version != 0 && version != 1) ||
      read_alg(&d, &a) != 0 || portls__der_expect(&d, PORTLS__DER_OCTET_STRING, &t) != 0 ||
      t.len == 0)
    return -1;
  if ((r = portls__der_optional(&d, PORTLS__DER_CTX_CONS(0), &t)) < 0) return -1;
  if ((r = portls__der_optional(&d, PORTLS__DER_CTX(1), &t)) < 0 || (r == 1 && version != 1))
    return -1;
  return portls__der_finish(&d);
}

/* RSAPrivateKey (PKCS#1): SEQUENCE { version 0|1, n, e, d, p, q, dp, dq, qinv, ... }. */
static int pkcs1_check(const uint8_t *der, size_t len) {
  portls__der_tlv top, t;
  portls__der d;
  long version;
  int i;
  if (portls__der_parse_one(der, len, &top) != 0 || top.tag != PORTLS__DER_SEQUENCE) return -1;
  portls__der_init_tlv(&d, &top);
  if (portls__der_expect(&d, PORTLS__DER_INTEGER, &t) != 0 ||
      portls__der_get_long(&t, &version) != 0 || (version != 0 && version != 1))
    return -1;
  for (i = 0; i < 8; i++)
    if (portls__der_expect(&d, PORTLS__DER_INTEGER, &t) != 0 || portls__der_check_integer(&t) != 0)
      return -1;
  if (version == 0) return portls__der_finish(&d);
  return portls__der_check_tree(der, len, 8);
}

/* ECPrivateKey (SEC1): SEQUENCE { 1, privateKey OCTET STRING,
 * [0] ECParameters OPTIONAL, [1] BIT STRING OPTIONAL }. */
typedef struct sec1 {
  portls__der_tlv version, priv, params, pub; /* params: the element inside [0]; pub: [1] */
  int has_params, has_pub;
} sec1;

static int sec1_parse(const uint8_t *der, size_t len, sec1 *k) {
  portls__der_tlv top, t;
  portls__der d, in;
  long version;
  int r;
  memset(k, 0, sizeof(*k));
  if (portls__der_parse_one(der, len, &top) != 0 || top.tag != PORTLS__DER_SEQUENCE ||
      portls__der_check_tree(der, len, 8) != 0)
    return -1;
  portls__der_init_tlv(&d, &top);
  if (portls__der_expect(&d, PORTLS__DER_INTEGER, &k->version) != 0 ||
      portls__der_get_long(&k->version, &version) != 0 || version != 1 ||
      portls__der_expect(&d, PORTLS__DER_OCTET_STRING, &k->priv) != 0 || k->priv.len == 0)
    return -1;
  if ((r = portls__der_optional(&d, PORTLS__DER_CTX_CONS(0), &t)) < 0) return -1;
  if (r == 1) {
    portls__der_init_tlv(&in, &t);
    if (portls__der_read(&in, &k->params) != 0 || portls__der_finish(&in) != 0) return -1;
    if (k->params.tag == PORTLS__DER_OID &&
        portls__der_check_oid(k->params.val, k->params.len) != 0)
      return -1;
    k->has_params = 1;
  }
  if ((r = portls__der_optional(&d, PORTLS__DER_CTX_CONS(1), &k->pub)) < 0) return -1;
  k->has_pub = r;
  return portls__der_finish(&d);
}

/* ------------------------------------------------------------------------ */
/* Wrapping the traditional forms into PKCS#8                                */

/* The caller's buffer gets exactly one allocation of the final size, so no
 * copy of the key is left behind by a realloc. */
static int wrap_pkcs1(const uint8_t *pkcs1, size_t len, portls__bytes *out, portls_error *err) {
  size_t body, total;
  if (pkcs1_check(pkcs1, len) != 0)
    return portls__err(err, PORTLS_EKEY, "key: malformed RSA PRIVATE KEY (PKCS#1)");
  body = sizeof(version0_der) + sizeof(rsa_alg_der) + der_hdr_len(len) + len;
  total = der_hdr_len(body) + body;
  if (portls__bytes_reserve(out, total) != 0) return portls__err(err, PORTLS_ENOMEM, NULL);
  put_hdr(out, 0x30, body);
  put(out, version0_der, sizeof(version0_der));
  put(out, rsa_alg_der, sizeof(rsa_alg_der));
  put_hdr(out, 0x04, len);
  put(out, pkcs1, len);
  return 0;
}

/* OpenSSL's PKCS#8 form of an EC key moves the curve into the
 * AlgorithmIdentifier and leaves it out of the inner ECPrivateKey. */
static int wrap_sec1(const uint8_t *der, size_t len, portls__bytes *out, portls_error *err) {
  sec1 k;
  size_t inner, alg, body, total;
  if (sec1_parse(der, len, &k) != 0)
    return portls__err(err, PORTLS_EKEY, "key: malformed EC PRIVATE KEY (SEC1)");
  if (!k.has_params)
    return portls__err(err, PORTLS_EKEY, "key: EC PRIVATE KEY without curve parameters");
  inner = tlv_size(&k.version) + tlv_size(&k.priv) + (k.has_pub ? tlv_size(&k.pub) : 0);
  alg = sizeof(ec_oid_der) + tlv_size(&k.params);
  body = sizeof(version0_der) + der_hdr_len(alg) + alg + der_hdr_len(der_hdr_len(inner) + inner) +
         der_hdr_len(inner) + inner;
  total = der_hdr_len(body) + body;
  if (portls__bytes_reserve(out, total) != 0) return portls__err(err, PORTLS_ENOMEM, NULL);
  put_hdr(out, 0x30, body);
  put(out, version0_der, sizeof(version0_der));
  put_hdr(out, 0x30, alg);
  put(out, ec_oid_der, sizeof(ec_oid_der));
  put(out, k.params.hdr, tlv_size(&k.params));
  put_hdr(out, 0x04, der_hdr_len(inner) + inner);
  put_hdr(out, 0x30, inner);
  put(out, k.version.hdr, tlv_size(&k.version));
  put(out, k.priv.hdr, tlv_size(&k.priv));
  if (k.has_pub) put(out, k.pub.hdr, tlv_size(&k.pub));
  return 0;
}

static int copy_pkcs8(const uint8_t *der, size_t len, portls__bytes *out, portls_error *err) {
  if (portls__pkcs8_check(der, len) != 0)
    return portls__err(err, PORTLS_EKEY, "key: malformed PRIVATE KEY (PKCS#8)");
  if (portls__bytes_reserve(out, len) != 0) return portls__err(err, PORTLS_ENOMEM, NULL);
  put(out, der, len);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Password-based decryption                                                 */

typedef struct cipher_info {
  const char *oid;
  const char *name; /* OpenSSL's, as DEK-Info spells it */
  int alg;
  size_t key_len, iv_len;
} cipher_info;

static const cipher_info ciphers[] = {
    {"2.16.840.1.101.3.4.1.2", "AES-128-CBC", PORTLS_BE_AES_128_CBC, 16, 16},
    {"2.16.840.1.101.3.4.1.22", "AES-192-CBC", PORTLS_BE_AES_192_CBC, 24, 16},
    {"2.16.840.1.101.3.4.1.42", "AES-256-CBC", PORTLS_BE_AES_256_CBC, 32, 16},
    {"1.2.840.113549.3.7", "DES-EDE3-CBC", PORTLS_BE_DES_EDE3_CBC, 24, 8},
};

static const struct {
  const char *oid;
  int md;
  const char *name;
} prfs[] = {
    {"1.2.840.113549.2.7", PORTLS_BE_SHA1, "hmacWithSHA1"},
    {"1.2.840.113549.2.9", PORTLS_BE_SHA256, "hmacWithSHA256"},
    {"1.2.840.113549.2.10", PORTLS_BE_SHA384, "hmacWithSHA384"},
    {"1.2.840.113549.2.11", PORTLS_BE_SHA512, "hmacWithSHA512"},
};

/* pbeWithSHAAnd* (RFC 7292 appendix C), by the last arc. RC4 (1, 2) is
 * absent: no backend is asked for it, and nothing has written it in years. */
static const struct {
  unsigned arc;
  int alg;
  size_t key_len; /* what the KDF derives */
  const char *name;
} pkcs12_pbes[] = {
    {3, PORTLS_BE_DES_EDE3_CBC, 24, "pbeWithSHAAnd3-KeyTripleDES-CBC"},
    {4, PORTLS_BE_DES_EDE3_CBC, 16, "pbeWithSHAAnd2-KeyTripleDES-CBC"},
    {5, PORTLS__RC2_CBC, 16, "pbeWithSHAAnd128BitRC2-CBC"},
    {6, PORTLS__RC2_CBC, 5, "pbeWithSHAAnd40BitRC2-CBC"},
};

static int read_iterations(portls__der *d, unsigned long *iter, int bad, portls_error *err) {
  portls__der_tlv t;
  long v;
  if (portls__der_expect(d, PORTLS__DER_INTEGER, &t) != 0 || portls__der_get_long(&t, &v) != 0)
    return portls__err(err, bad, "%s: malformed iteration count", who(bad));
  if (v < 1 || (unsigned long)v > PORTLS__PKCS_MAX_ITERATIONS)
    return portls__err(err, bad, "%s: iteration count %ld out of range (1..%lu)", who(bad), v,
                       PORTLS__PKCS_MAX_ITERATIONS);
  *iter = (unsigned long)v;
  return 0;
}

/* Charges cost iterations against the budget of the whole input. */
static int charge(unsigned long *budget, unsigned long cost, int bad, portls_error *err) {
  if (budget == NULL) return 0;
  if (cost > *budget)
    return portls__err(err, bad, "%s: more key-derivation work than %lu iterations in all",
                       who(bad), PORTLS__PKCS_MAX_WORK);
  *budget -= cost;
  return 0;
}

static int read_salt(portls__der *d, portls__der_tlv *salt, int bad, portls_error *err) {
  if (portls__der_expect(d, PORTLS__DER_OCTET_STRING, salt) != 0)
    return portls__err(err, bad, "%s: malformed salt", who(bad));
  if (salt->len > PORTLS__PKCS_MAX_SALT)
    return portls__err(err, bad, "%s: salt of %zu bytes is too long", who(bad), salt->len);
  return 0;
}

/* Maps an error of a primitive to the decoder's codes. */
static int crypto_err(int rc, int bad, const char *what, portls_error *err) {
  switch (rc) {
  case PORTLS_EBAD_PASSPHRASE:
    return portls__err(err, PORTLS_EBAD_PASSPHRASE, "%s: bad decrypt (wrong passphrase?)",
                       who(bad));
  case PORTLS_ENOTSUP:
    return portls__err(err, PORTLS_ENOTSUP, "%s: %s is not available in backend %s", who(bad), what,
                       portls__backend.name);
  case PORTLS_ENOMEM:
    return portls__err(err, PORTLS_ENOMEM, NULL);
  default:
    return portls__err(err, bad, "%s: %s failed", who(bad), what);
  }
}

/* Decrypts ct into *out under key/iv, wiping on failure. */
static int run_cipher(int alg, const char *what, const uint8_t *key, size_t key_len,
                      const uint8_t *iv, size_t block, const uint8_t *ct, size_t ct_len, int bad,
                      portls__bytes *out, portls_error *err) {
  size_t n = 0;
  int rc;
  if (ct_len == 0 || ct_len % block != 0)
    return portls__err(err, bad, "%s: encrypted data of %zu bytes is not whole %zu-byte blocks",
                       who(bad), ct_len, block);
  if (portls__bytes_reserve(out, ct_len) != 0) return portls__err(err, PORTLS_ENOMEM, NULL);
  rc = portls__cbc_decrypt(alg, key, key_len, iv, ct, ct_len, out->data, &n);
  if (rc != 0) {
    portls__key_free(out);
    return crypto_err(rc, bad, what, err);
  }
  out->len = n;
  return 0;
}

static int pbes2_decrypt(const alg_id *a, const uint8_t *ct, size_t ct_len, const char *pass,
                         int bad, unsigned long *budget, portls__bytes *out, portls_error *err) {
  portls__der d, kdf_in;
  portls__der_tlv salt, t;
  alg_id kdf, enc, prf;
  const cipher_info *c = NULL;
  unsigned long iter;
  int md = PORTLS_BE_SHA1, r;
  size_t i;
  uint8_t key[32];
  char oid[PORTLS__DER_OID_TEXT_MAX];
  const char *prf_name = "hmacWithSHA1";

  if (!a->has_params || a->params.tag != PORTLS__DER_SEQUENCE)
    return portls__err(err, bad, "%s: malformed PBES2 parameters", who(bad));
  portls__der_init_tlv(&d, &a->params);
  if (read_alg(&d, &kdf) != 0 || read_alg(&d, &enc) != 0 || portls__der_finish(&d) != 0)
    return portls__err(err, bad, "%s: malformed PBES2 parameters", who(bad));
  if (!oid_is(&kdf.oid, OID_PBKDF2))
    return portls__err(err, bad, "%s: unsupported PBES2 key derivation %s", who(bad),
                       oid_str(&kdf.oid, oid, sizeof(oid)));
  for (i = 0; i < PORTLS__ARRAY_SIZE(ciphers); i++)
    if (oid_is(&enc.oid, ciphers[i].oid)) c = &ciphers[i];
  if (c == NULL)
    return portls__err(err, bad, "%s: unsupported PBES2 encryption %s", who(bad),
                       oid_str(&enc.oid, oid, sizeof(oid)));
  if (!enc.has_params || enc.params.tag != PORTLS__DER_OCTET_STRING || enc.params.len != c->iv_len)
    return portls__err(err, bad, "%s: malformed %s IV", who(bad), c->name);

  /* PBKDF2-params ::= SEQUENCE { salt OCTET STRING (otherSource is unused),
   * iterationCount, keyLength OPTIONAL, prf DEFAULT hmacWithSHA1 } */
  if (!kdf.has_params || kdf.params.tag != PORTLS__DER_SEQUENCE)
    return portls__err(err, bad, "%s: malformed PBKDF2 parameters", who(bad));
  portls__der_init_tlv(&kdf_in, &kdf.params);
  if ((r = read_salt(&kdf_in, &salt, bad, err)) != 0 ||
      (r = read_iterations(&kdf_in, &iter, bad, err)) != 0)
    return r;
  if ((r = portls__der_optional(&kdf_in, PORTLS__DER_INTEGER, &t)) < 0)
    return portls__err(err, bad, "%s: malformed PBKDF2 parameters", who(bad));
  if (r == 1) {
    long kl;
    if (portls__der_get_long(&t, &kl) != 0 || kl != (long)c->key_len)
      return portls__err(err, bad, "%s: PBKDF2 key length does not fit %s", who(bad), c->name);
  }
  if (!portls__der_at_end(&kdf_in)) {
    if (read_alg(&kdf_in, &prf) != 0 || !null_or_absent(&prf))
      return portls__err(err, bad, "%s: malformed PBKDF2 PRF", who(bad));
    md = 0;
    for (i = 0; i < PORTLS__ARRAY_SIZE(prfs); i++)
      if (oid_is(&prf.oid, prfs[i].oid)) {
        md = prfs[i].md;
        prf_name = prfs[i].name;
      }
    if (md == 0)
      return portls__err(err, bad, "%s: unsupported PBKDF2 PRF %s", who(bad),
                         oid_str(&prf.oid, oid, sizeof(oid)));
  }
  if (portls__der_finish(&kdf_in) != 0)
    return portls__err(err, bad, "%s: malformed PBKDF2 parameters", who(bad));
  if ((r = charge(budget, iter * ((c->key_len + portls__md_size(md) - 1) / portls__md_size(md)),
                  bad, err)) != 0)
    return r;

  r = portls__pbkdf2(md, (const uint8_t *)(pass ? pass : ""), pass ? strlen(pass) : 0, salt.val,
                     salt.len, iter, key, c->key_len);
  if (r != 0) {
    portls__pkcs_wipe(key, sizeof(key));
    return crypto_err(r, bad, prf_name, err);
  }
  r = run_cipher(c->alg, c->name, key, c->key_len, enc.params.val, c->iv_len == 16 ? 16 : 8, ct,
                 ct_len, bad, out, err);
  portls__pkcs_wipe(key, sizeof(key));
  return r;
}

static int pkcs12_pbe_decrypt(const alg_id *a, unsigned arc, const uint8_t *ct, size_t ct_len,
                              const char *pass, int bad, unsigned long *budget, portls__bytes *out,
                              portls_error *err) {
  portls__der d;
  portls__der_tlv salt;
  unsigned long iter;
  uint8_t key[24], iv[8], *bmp = NULL;
  size_t bmp_len = 0, i, k = PORTLS__ARRAY_SIZE(pkcs12_pbes);
  int r;
  char oid[PORTLS__DER_OID_TEXT_MAX];

  for (i = 0; i < PORTLS__ARRAY_SIZE(pkcs12_pbes); i++)
    if (pkcs12_pbes[i].arc == arc) k = i;
  if (k == PORTLS__ARRAY_SIZE(pkcs12_pbes))
    return portls__err(err, bad, "%s: unsupported encryption algorithm %s", who(bad),
                       oid_str(&a->oid, oid, sizeof(oid)));
  if (!a->has_params || a->params.tag != PORTLS__DER_SEQUENCE)
    return portls__err(err, bad, "%s: malformed %s parameters", who(bad), pkcs12_pbes[k].name);
  portls__der_init_tlv(&d, &a->params);
  if ((r = read_salt(&d, &salt, bad, err)) != 0 || (r = read_iterations(&d, &iter, bad, err)) != 0)
    return r;
  if (portls__der_finish(&d) != 0)
    return portls__err(err, bad, "%s: malformed %s parameters", who(bad), pkcs12_pbes[k].name);
  /* Key (one or two SHA-1 chains) and IV (one). */
  if ((r = charge(budget, iter * ((pkcs12_pbes[k].key_len + 19) / 20 + 1), bad, err)) != 0)
    return r;
  if ((r = portls__pkcs12_bmp_pass(pass, &bmp, &bmp_len)) != 0)
    return portls__err(err, PORTLS_ENOMEM, NULL);
  r = portls__pkcs12_kdf(PORTLS_BE_SHA1, 1, bmp, bmp_len, salt.val, salt.len, iter, key,
                         pkcs12_pbes[k].key_len);
  if (r == 0)
    r = portls__pkcs12_kdf(PORTLS_BE_SHA1, 2, bmp, bmp_len, salt.val, salt.len, iter, iv, 8);
  portls__pkcs_wipe_free(bmp, bmp_len);
  if (r != 0) {
    portls__pkcs_wipe(key, sizeof(key));
    return crypto_err(r, bad, "the PKCS#12 key derivation", err);
  }
  if (pkcs12_pbes[k].alg == PORTLS_BE_DES_EDE3_CBC && pkcs12_pbes[k].key_len == 16)
    memcpy(key + 16, key, 8); /* two-key 3DES: K3 = K1 */
  r = run_cipher(pkcs12_pbes[k].alg, pkcs12_pbes[k].name, key,
                 pkcs12_pbes[k].alg == PORTLS_BE_DES_EDE3_CBC ? 24 : pkcs12_pbes[k].key_len, iv, 8,
                 ct, ct_len, bad, out, err);
  portls__pkcs_wipe(key, sizeof(key));
  portls__pkcs_wipe(iv, sizeof(iv));
  return r;
}

int portls__pbe_decrypt(const uint8_t *alg, size_t alg_len, const uint8_t *ct, size_t ct_len,
                        const char *pass, int bad, unsigned long *budget, portls__bytes *out,
                        portls_error *err) {
  portls__der d;
  alg_id a;
  char oid[PORTLS__DER_OID_TEXT_MAX];
  int r;
  if (pass != NULL && strlen(pass) > PORTLS__PKCS_MAX_PASS)
    return portls__err(err, PORTLS_EINVAL, "passphrase: longer than %d bytes",
                       PORTLS__PKCS_MAX_PASS);
  portls__der_init(&d, alg, alg_len);
  if (read_alg(&d, &a) != 0 || portls__der_finish(&d) != 0)
    return portls__err(err, bad, "%s: malformed encryption AlgorithmIdentifier", who(bad));
  if (oid_is(&a.oid, OID_PBES2))
    r = pbes2_decrypt(&a, ct, ct_len, pass, bad, budget, out, err);
  else if (a.oid.len == 10 && portls__der_oid_equals(a.oid.val, 9, OID_PKCS12_PBE))
    r = pkcs12_pbe_decrypt(&a, a.oid.val[9], ct, ct_len, pass, bad, budget, out, err);
  else
    r = portls__err(err, bad, "%s: unsupported encryption algorithm %s", who(bad),
                    oid_str(&a.oid, oid, sizeof(oid)));
  return r;
}

int portls__pkcs8_decrypt_der(const uint8_t *der, size_t len, const char *pass, int bad,
                              unsigned long *budget, portls__bytes *out, portls_error *err) {
  portls__der_tlv top, alg, ct;
  portls__der d;
  portls__bytes plain = {0};
  int r;
  if (portls__der_parse_one(der, len, &top) != 0 || top.tag != PORTLS__DER_SEQUENCE)
    return portls__err(err, bad, "%s: malformed ENCRYPTED PRIVATE KEY", who(bad));
  portls__der_init_tlv(&d, &top);
  if (portls__der_expect(&d, PORTLS__DER_SEQUENCE, &alg) != 0 ||
      portls__der_expect(&d, PORTLS__DER_OCTET_STRING, &ct) != 0 || portls__der_finish(&d) != 0)
    return portls__err(err, bad, "%s: malformed ENCRYPTED PRIVATE KEY", who(bad));
  r = portls__pbe_decrypt(alg.hdr, tlv_size(&alg), ct.val, ct.len, pass, bad, budget, &plain, err);
  if (r != 0) return r;
  if (portls__pkcs8_check(plain.data, plain.len) != 0) {
    portls__key_free(&plain);
    return portls__err(err, PORTLS_EBAD_PASSPHRASE, "%s: bad decrypt (wrong passphrase?)",
                       who(bad));
  }
  *out = plain;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Traditional PEM ("Proc-Type: 4,ENCRYPTED", "DEK-Info: <cipher>,<iv>")     */

static int ieq(const char *a, size_t n, const char *b) {
  size_t i;
  if (strlen(b) != n) return 0;
  for (i = 0; i < n; i++) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = (char)(x - 'a' + 'A');
    if (x != y) return 0;
  }
  return 1;
}

/* Decrypts a traditional block's body into *plain. */
static int trad_decrypt(const portls__pem_block *b, const char *pass, portls__bytes *plain,
                        portls_error *err) {
  const char *v, *comma;
  size_t vl, i, name_len, der_len;
  const cipher_info *c = NULL;
  uint8_t iv[16], key[32], *der;
  int r;

  if (portls__pem_header(b, "DEK-Info", &v, &vl) != 0)
    return portls__err(err, PORTLS_EKEY, "key: encrypted PEM without DEK-Info");
  comma = (const char *)memchr(v, ',', vl);
  if (comma == NULL) return portls__err(err, PORTLS_EKEY, "key: malformed DEK-Info");
  name_len = (size_t)(comma - v);
  for (i = 0; i < PORTLS__ARRAY_SIZE(ciphers); i++)
    if (ieq(v, name_len, ciphers[i].name)) c = &ciphers[i];
  if (c == NULL)
    return portls__err(err, PORTLS_EKEY, "key: unsupported DEK-Info cipher %.*s",
                       (int)PORTLS__MIN(name_len, 64), v);
  if (vl - name_len - 1 != 2 * c->iv_len)
    return portls__err(err, PORTLS_EKEY, "key: DEK-Info IV is not %zu hex digits", 2 * c->iv_len);
  for (i = 0; i < c->iv_len; i++) {
    int hi = portls__hexval(comma[1 + 2 * i]), lo = portls__hexval(comma[2 + 2 * i]);
    if (hi < 0 || lo < 0) return portls__err(err, PORTLS_EKEY, "key: DEK-Info IV is not hex");
    iv[i] = (uint8_t)(hi << 4 | lo);
  }
  if (pass == NULL)
    return portls__err(err, PORTLS_EBAD_PASSPHRASE, "key: encrypted and no passphrase given");
  if (strlen(pass) > PORTLS__PKCS_MAX_PASS)
    return portls__err(err, PORTLS_EINVAL, "passphrase: longer than %d bytes",
                       PORTLS__PKCS_MAX_PASS);
  r = portls__pem_decode(b, &der, &der_len);
  if (r == PORTLS_ENOMEM) return portls__err(err, PORTLS_ENOMEM, NULL);
  if (r != 0) return portls__err(err, PORTLS_EKEY, "key: malformed PEM: invalid base64");
  /* The first 8 IV bytes salt the key (EVP_BytesToKey, one MD5 round). */
  portls__bytes_to_key_md5((const uint8_t *)pass, strlen(pass), iv, key, c->key_len);
  r = run_cipher(c->alg, c->name, key, c->key_len, iv, c->iv_len == 16 ? 16 : 8, der, der_len,
                 PORTLS_EKEY, plain, err);
  portls__pkcs_wipe(key, sizeof(key));
  portls__free(der); /* ciphertext: nothing secret */
  return r;
}

/* ------------------------------------------------------------------------ */
/* Entry points                                                              */

static const char *const key_labels[] = {"ENCRYPTED PRIVATE KEY", "PRIVATE KEY",
                                         "RSA PRIVATE KEY",       "EC PRIVATE KEY",
                                         "DSA PRIVATE KEY",       NULL};

enum { FORM_UNKNOWN, FORM_ENCRYPTED, FORM_PKCS8, FORM_PKCS1, FORM_SEC1 };

/* Tells the DER structures apart by their first elements. */
static int der_form(const uint8_t *der, size_t len) {
  portls__der_tlv top, a, b;
  portls__der d;
  if (portls__der_parse_one(der, len, &top) != 0 || top.tag != PORTLS__DER_SEQUENCE)
    return FORM_UNKNOWN;
  portls__der_init_tlv(&d, &top);
  if (portls__der_read(&d, &a) != 0) return FORM_UNKNOWN;
  if (a.tag == PORTLS__DER_SEQUENCE) return FORM_ENCRYPTED;
  if (a.tag != PORTLS__DER_INTEGER || portls__der_read(&d, &b) != 0) return FORM_UNKNOWN;
  if (b.tag == PORTLS__DER_SEQUENCE) return FORM_PKCS8;
  if (b.tag == PORTLS__DER_INTEGER) return FORM_PKCS1;
  if (b.tag == PORTLS__DER_OCTET_STRING) return FORM_SEC1;
  return FORM_UNKNOWN;
}

static int is_der(portls_buf in) { return in.len > 0 && ((const uint8_t *)in.base)[0] == 0x30; }

static int trad_encrypted(const portls__pem_block *b, int *encrypted, portls_error *err) {
  const char *v;
  size_t vl;
  *encrypted = 0;
  if (b->headers == NULL) return 0;
  if (portls__pem_header(b, "Proc-Type", &v, &vl) != 0)
    return portls__err(err, PORTLS_EKEY, "key: PEM headers without Proc-Type");
  if (vl != 11 || memcmp(v, "4,ENCRYPTED", 11) != 0)
    return portls__err(err, PORTLS_EKEY, "key: unsupported Proc-Type %.*s",
                       (int)PORTLS__MIN(vl, 64), v);
  *encrypted = 1;
  return 0;
}

int portls__key_is_encrypted(portls_buf in) {
  portls__pem_block b;
  size_t pos = 0;
  int enc;
  if (in.base == NULL || in.len == 0 || in.len > PORTLS__PKCS_MAX_KEY_INPUT) return 0;
  if (is_der(in)) return der_form((const uint8_t *)in.base, in.len) == FORM_ENCRYPTED;
  if (portls__pem_find(in.base, in.len, &pos, key_labels, &b) != 0) return 0;
  if (portls__pem_is(&b, "ENCRYPTED PRIVATE KEY")) return 1;
  return trad_encrypted(&b, &enc, NULL) == 0 && enc;
}

static int decode_der(const uint8_t *der, size_t len, int form, const char *pass,
                      portls__bytes *out, portls_error *err) {
  switch (form) {
  case FORM_ENCRYPTED:
    if (pass == NULL)
      return portls__err(err, PORTLS_EBAD_PASSPHRASE, "key: encrypted and no passphrase given");
    return portls__pkcs8_decrypt_der(der, len, pass, PORTLS_EKEY, NULL, out, err);
  case FORM_PKCS8:
    return copy_pkcs8(der, len, out, err);
  case FORM_PKCS1:
    return wrap_pkcs1(der, len, out, err);
  case FORM_SEC1:
    return wrap_sec1(der, len, out, err);
  default:
    return portls__err(err, PORTLS_EKEY, "key: not a private key structure");
  }
}

static int decode_pem(portls_buf in, const char *pass, portls__bytes *out, portls_error *err) {
  portls__pem_block b;
  size_t pos = 0, der_len = 0;
  uint8_t *der = NULL;
  int r, enc = 0, form;

  r = portls__pem_find(in.base, in.len, &pos, key_labels, &b);
  if (r == PORTLS__PEM_NO_END)
    return portls__err(err, PORTLS_EKEY, "key: PEM block without its END line");
  if (r != 0) return portls__err(err, PORTLS_EKEY, "key: no PEM private key block");
  if (portls__pem_is(&b, "DSA PRIVATE KEY"))
    return portls__err(err, PORTLS_EKEY, "key: traditional DSA PRIVATE KEY is not supported");
  if (portls__pem_is(&b, "RSA PRIVATE KEY") || portls__pem_is(&b, "EC PRIVATE KEY")) {
    int rsa = portls__pem_is(&b, "RSA PRIVATE KEY");
    portls__bytes plain = {0};
    if ((r = trad_encrypted(&b, &enc, err)) != 0) return r;
    if (enc) {
      if ((r = trad_decrypt(&b, pass, &plain, err)) != 0) return r;
      der = plain.data;
      der_len = plain.len;
      /* A wrong passphrase that left valid padding leaves garbage. */
      if (rsa ? pkcs1_check(der, der_len) != 0 : der_form(der, der_len) != FORM_SEC1) {
        portls__key_free(&plain);
        return portls__err(err, PORTLS_EBAD_PASSPHRASE, "key: bad decrypt (wrong passphrase?)");
      }
      r = rsa ? wrap_pkcs1(der, der_len, out, err) : wrap_sec1(der, der_len, out, err);
      portls__key_free(&plain);
      return r;
    }
    form = rsa ? FORM_PKCS1 : FORM_SEC1;
  } else {
    if (b.headers != NULL) return portls__err(err, PORTLS_EKEY, "key: unexpected PEM headers");
    form = portls__pem_is(&b, "PRIVATE KEY") ? FORM_PKCS8 : FORM_ENCRYPTED;
  }
  r = portls__pem_decode(&b, &der, &der_len);
  if (r == PORTLS_ENOMEM) return portls__err(err, PORTLS_ENOMEM, NULL);
  if (r != 0) return portls__err(err, PORTLS_EKEY, "key: malformed PEM: invalid base64");
  r = decode_der(der, der_len, form, pass, out, err);
  portls__pkcs_wipe_free(der, der_len);
  return r;
}

int portls__key_decrypt(portls_buf in, const char *pass, portls__bytes *pkcs8, portls_error *err) {
  portls__bytes out = {0};
  int r;
  if (pkcs8 == NULL || in.base == NULL)
    return portls__err(err, PORTLS_EINVAL, "key: NULL argument");
  memset(pkcs8, 0, sizeof(*pkcs8));
  if (in.len == 0) return portls__err(err, PORTLS_EKEY, "key: empty");
  if (in.len > PORTLS__PKCS_MAX_KEY_INPUT)
    return portls__err(err, PORTLS_EKEY, "key: %zu bytes is more than a key file holds", in.len);
  if (is_der(in))
    r = decode_der((const uint8_t *)in.base, in.len, der_form((const uint8_t *)in.base, in.len),
                   pass, &out, err);
  else
    r = decode_pem(in, pass, &out, err);
  if (r != 0) {
    portls__key_free(&out);
    return r;
  }
  *pkcs8 = out;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* The public half of a PKCS#8 key, for matching it to its certificate       */

int portls__pkcs8_public(const uint8_t *der, size_t len, int *kind, const uint8_t **pub,
                         size_t *pub_len) {
  portls__der_tlv top, t, priv, pk;
  portls__der d, in;
  alg_id a;
  long version;
  unsigned unused;
  int has_pub;
  if (portls__pkcs8_check(der, len) != 0 || portls__der_parse_one(der, len, &top) != 0) return -1;
  portls__der_init_tlv(&d, &top);
  if (portls__der_expect(&d, PORTLS__DER_INTEGER, &t) != 0 ||
      portls__der_get_long(&t, &version) != 0 || read_alg(&d, &a) != 0 ||
      portls__der_expect(&d, PORTLS__DER_OCTET_STRING, &priv) != 0 ||
      portls__der_optional(&d, PORTLS__DER_CTX_CONS(0), &t) < 0)
    return -1;
  has_pub = portls__der_optional(&d, PORTLS__DER_CTX(1), &pk);
  if (oid_is(&a.oid, OID_RSA) || oid_is(&a.oid, OID_RSA_PSS)) {
    /* RSAPrivateKey: version, then the modulus. */
    if (portls__der_parse_one(priv.val, priv.len, &t) != 0 || t.tag != PORTLS__DER_SEQUENCE)
      return -1;
    portls__der_init_tlv(&in, &t);
    if (portls__der_expect(&in, PORTLS__DER_INTEGER, &t) != 0 ||
        portls__der_expect(&in, PORTLS__DER_INTEGER, &t) != 0 || portls__der_check_integer(&t) != 0)
      return -1;
    *kind = 1;
    *pub = t.val;
    *pub_len = t.len;
    return 0;
  }
  if (has_pub == 1) {
    pk.tag = PORTLS__DER_BIT_STRING; /* [1] IMPLICIT BIT STRING */
    if (portls__der_get_bits(&pk, pub, pub_len, &unused) != 0 || unused != 0) return -1;
    *kind = 2;
    return 0;
  }
  if (oid_is(&a.oid, OID_EC)) {
    sec1 k;
    if (sec1_parse(priv.val, priv.len, &k) != 0 || !k.has_pub) return -1;
    portls__der_init_tlv(&in, &k.pub);
    if (portls__der_expect(&in, PORTLS__DER_BIT_STRING, &t) != 0 || portls__der_finish(&in) != 0 ||
        portls__der_get_bits(&t, pub, pub_len, &unused) != 0 || unused != 0)
      return -1;
    *kind = 2;
    return 0;
  }
  return -1;
}
