/* portls backend mbed TLS: the SecureContext (tls.createSecureContext()).
 *
 * Two configs per context, server and client (a Node context serves both
 * roles), sharing one CA chain, one CRL list, the key/certificate pairs, the
 * compiled suite lists and the curve list, all owned by the context.
 * Failures use the same codes as the OpenSSL backend for the same inputs.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/mbedtls/mbed.h"

#include <mbedtls/asn1.h>
#include <mbedtls/bignum.h>
#include <mbedtls/md.h>
#include <mbedtls/pem.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl_ciphersuites.h>

#if !defined(PORTLS_MBED_SYSTEM_CA_FILE)
/* Debian's bundle (ca-certificates); override at build time elsewhere. */
#define PORTLS_MBED_SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"
#endif

/* ------------------------------------------------------------------------ */
/* Buffers                                                                    */

static int mbed_is_pem(portls_buf b) {
  static const char tag[] = "-----BEGIN";
  const size_t n = sizeof tag - 1;
  const char *p = b.base;
  for (size_t i = 0; p != NULL && b.len >= n && i <= b.len - n; i++)
    if (p[i] == '-' && memcmp(p + i, tag, n) == 0) return 1;
  return 0;
}

static int mbed_contains(portls_buf b, const char *needle) {
  size_t n = strlen(needle);
  const char *p = b.base;
  for (size_t i = 0; p != NULL && b.len >= n && i <= b.len - n; i++)
    if (p[i] == needle[0] && memcmp(p + i, needle, n) == 0) return 1;
  return 0;
}

/* mbed TLS reads PEM only from a NUL-terminated buffer whose length counts
 * the NUL; core's buffers are neither. *out is a copy for PEM (free it) and
 * b itself for DER. */
static int mbed_input(portls_buf b, const unsigned char **out, size_t *len, unsigned char **copy) {
  *copy = NULL;
  if (!mbed_is_pem(b)) {
    *out = b.base;
    *len = b.len;
    return 0;
  }
  unsigned char *c = portls__malloc(b.len + 1);
  if (c == NULL) return PORTLS_ENOMEM;
  memcpy(c, b.base, b.len);
  c[b.len] = '\0';
  *copy = c;
  *out = c;
  *len = b.len + 1;
  return 0;
}

static void mbed_free_copy(unsigned char *copy, size_t len) {
  if (copy == NULL) return;
  mbedtls_platform_zeroize(copy, len); /* may be a private key */
  portls__free(copy);
}

/* Every certificate in b (PEM blocks, or concatenated DER) appended to chain.
 * Anything unreadable fails with code, as OpenSSL's loader does. */
static int mbed_read_certs(mbedtls_x509_crt *chain, portls_buf b, int code, const char *what,
                           portls_error *err) {
  const unsigned char *p;
  unsigned char *copy;
  size_t len;
  int ret;
  if (b.base == NULL || b.len == 0) return portls__err(err, code, "%s: empty", what);
  if (mbed_input(b, &p, &len, &copy) < 0) return portls__err(err, PORTLS_ENOMEM, NULL);
  if (copy != NULL) {
    ret = mbedtls_x509_crt_parse(chain, p, len);
    mbed_free_copy(copy, len);
    if (ret > 0)
      return portls__err(err, code, "%s: %d certificate(s) could not be parsed", what, ret);
    if (ret < 0)
      return portls__mbed_err(err, ret == MBEDTLS_ERR_X509_ALLOC_FAILED ? PORTLS_ENOMEM : code, ret,
                              what);
    return 0;
  }
  /* DER, one certificate after another: each is one SEQUENCE. */
  const unsigned char *end = p + len;
  while (p < end) {
    unsigned char *q = (unsigned char *)(uintptr_t)p;
    size_t body = 0;
    ret = mbedtls_asn1_get_tag(&q, end, &body, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
    if (ret != 0) return portls__mbed_err(err, code, ret, what);
    size_t total = (size_t)(q - p) + body;
    ret = mbedtls_x509_crt_parse_der(chain, p, total);
    if (ret != 0)
      return portls__mbed_err(err, ret == MBEDTLS_ERR_X509_ALLOC_FAILED ? PORTLS_ENOMEM : code, ret,
                              what);
    p += total;
  }
  return 0;
}

#if defined(PORTLS_MBED3)
/* mbed TLS 3 wants an RNG to parse and check private keys (RSA blinding). */
static int mbed_rng_cb(void *p, unsigned char *out, size_t len) {
  (void)p;
  mbedtls_ctr_drbg_context *rng = portls__mbed_rng();
  return rng != NULL ? mbedtls_ctr_drbg_random(rng, out, len)
                     : MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
}
#endif

static int mbed_read_key(mbedtls_pk_context *pk, portls_buf b, const char *passphrase,
                         const char *what, portls_error *err) {
  const unsigned char *p;
  unsigned char *copy;
  size_t len;
  if (b.base == NULL || b.len == 0) return portls__err(err, PORTLS_EKEY, "%s: empty", what);
  if (mbed_input(b, &p, &len, &copy) < 0) return portls__err(err, PORTLS_ENOMEM, NULL);
  const unsigned char *pwd = (const unsigned char *)passphrase;
  size_t pwdlen = passphrase != NULL ? strlen(passphrase) : 0;
#if defined(PORTLS_MBED3)
  int ret = mbedtls_pk_parse_key(pk, p, len, pwdlen > 0 ? pwd : NULL, pwdlen, mbed_rng_cb, NULL);
#else
  int ret = mbedtls_pk_parse_key(pk, p, len, pwdlen > 0 ? pwd : NULL, pwdlen);
#endif
  mbed_free_copy(copy, len);
  if (ret == 0) return 0;

  int encrypted = mbed_contains(b, "ENCRYPTED");
  if (ret == MBEDTLS_ERR_PK_PASSWORD_REQUIRED)
    return portls__err(err, PORTLS_EBAD_PASSPHRASE,
                       "%s: the key is encrypted and no passphrase was given", what);
  if (ret == MBEDTLS_ERR_PK_PASSWORD_MISMATCH) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s: bad decrypt (wrong passphrase?)", what);
    return portls__mbed_err(err, PORTLS_EBAD_PASSPHRASE, ret, msg);
  }
  if (ret == MBEDTLS_ERR_PKCS5_FEATURE_UNAVAILABLE || ret == MBEDTLS_ERR_PK_FEATURE_UNAVAILABLE ||
      ret == MBEDTLS_ERR_PEM_FEATURE_UNAVAILABLE || ret == MBEDTLS_ERR_PEM_UNKNOWN_ENC_ALG) {
    /* OpenSSL 3's default PKCS#8 encryption (PBES2 with AES-CBC): mbed TLS
     * 2.28 knows only DES and 3DES there. Until core decodes such keys, the
     * key cannot be used on this backend. */
    char msg[200];
    snprintf(
        msg, sizeof msg,
        "%s: the key's encryption scheme is not supported by mbed TLS 2.28 (PKCS#8 PBES2 with AES "
        "needs core decoding, not implemented yet)",
        what);
    return portls__mbed_err(err, PORTLS_EKEY, ret, msg);
  }
  if (ret == MBEDTLS_ERR_PK_ALLOC_FAILED) return portls__err(err, PORTLS_ENOMEM, NULL);
  /* A wrong passphrase that happened to pass the padding check shows up as a
   * malformed key; OpenSSL calls both "bad decrypt". */
  if (encrypted && pwdlen > 0) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s: bad decrypt (wrong passphrase?)", what);
    return portls__mbed_err(err, PORTLS_EBAD_PASSPHRASE, ret, msg);
  }
  return portls__mbed_err(err, PORTLS_EKEY, ret, what);
}

/* ------------------------------------------------------------------------ */
/* Key/certificate pairs: each config gets every pair, in order; mbed TLS
 * keeps a list and picks the first one that suits the negotiated suite (an
 * RSA and an ECDSA pair on one server). */

/* What OpenSSL's security level 1 (the OpenSSL backend's) refuses in a
 * context's own chain when it is loaded (SSL_CTX_use_cert_and_key): MD5 or
 * SHA-1 signatures on certificates that are not self-signed, RSA keys below
 * 1024 bits. mbed TLS would load and send them. */
static int mbed_check_own_chain(const mbedtls_x509_crt *crt, const char *what, portls_error *err) {
  for (const mbedtls_x509_crt *c = crt; c != NULL && c->raw.len > 0; c = c->next) {
    int self = c->issuer_raw.len == c->subject_raw.len &&
               memcmp(c->issuer_raw.p, c->subject_raw.p, c->issuer_raw.len) == 0;
    if (!self && (c->sig_md == MBEDTLS_MD_SHA1 || c->sig_md == MBEDTLS_MD_MD5
#if !defined(PORTLS_MBED3) /* 3.x removed MD2 and MD4 */
                  || c->sig_md == MBEDTLS_MD_MD4 || c->sig_md == MBEDTLS_MD_MD2
#endif
                  ))
      return portls__err(err, PORTLS_ECERT,
                         "%s: ca md too weak (a certificate of the chain is signed with %s)", what,
                         c->sig_md == MBEDTLS_MD_SHA1 ? "SHA-1" : "MD5 or older");
    if (mbedtls_pk_get_type(&c->pk) == MBEDTLS_PK_RSA && mbedtls_pk_get_bitlen(&c->pk) < 1024)
      return portls__err(err, PORTLS_ECERT, "%s: %s key too small (%zu-bit RSA)", what,
                         c == crt ? "ee" : "ca", mbedtls_pk_get_bitlen(&c->pk));
  }
  return 0;
}

static int mbed_load_pair(portls_be_ctx *ctx, size_t i, const portls_be_keypair *pair,
                          const char *passphrase, size_t count, portls_error *err) {
  char what_key[32], what_cert[32];
  if (count > 1) {
    snprintf(what_key, sizeof what_key, "key[%zu]", i);
    snprintf(what_cert, sizeof what_cert, "cert[%zu]", i);
  } else {
    snprintf(what_key, sizeof what_key, "key");
    snprintf(what_cert, sizeof what_cert, "cert");
  }
  mbedtls_x509_crt *crt = &ctx->certs[i];
  mbedtls_pk_context *key = &ctx->keys[i];
  int rc = mbed_read_certs(crt, pair->cert, PORTLS_ECERT, what_cert, err);
  if (rc < 0) return rc;
  if ((rc = mbed_read_key(key, pair->key, passphrase, what_key, err)) < 0) return rc;
  if ((rc = mbed_check_own_chain(crt, what_cert, err)) < 0) return rc;
#if defined(PORTLS_MBED3)
  int ret = mbedtls_pk_check_pair(&crt->pk, key, mbed_rng_cb, NULL);
#else
  int ret = mbedtls_pk_check_pair(&crt->pk, key);
#endif
  if (ret != 0) {
    char msg[64];
    snprintf(msg, sizeof msg, "%s: key values mismatch", what_key);
    return portls__mbed_err(err, PORTLS_EKEY_MISMATCH, ret, msg);
  }
  if ((ret = mbedtls_ssl_conf_own_cert(&ctx->srv, crt, key)) != 0 ||
      (ret = mbedtls_ssl_conf_own_cert(&ctx->cli, crt, key)) != 0)
    return portls__mbed_err(err, ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? PORTLS_ENOMEM : PORTLS_ECERT,
                            ret, what_cert);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* CAs and CRLs                                                               */

void portls__mbed_ctx_apply_ca(portls_be_ctx *ctx, mbedtls_ssl_config *conf) {
  mbedtls_ssl_conf_ca_chain(conf, ctx->has_ca ? &ctx->ca : NULL, ctx->has_crl ? &ctx->crl : NULL);
}

static void mbed_load_system_ca(portls_be_ctx *ctx);

static void mbed_apply_ca(portls_be_ctx *ctx) {
  portls__mbed_ctx_apply_ca(ctx, &ctx->srv);
  portls__mbed_ctx_apply_ca(ctx, &ctx->cli);
}

/* Under the lock, whether or not there is anything to load: a session that
 * reads the configs after this call sees them whole. */
void portls__mbed_ctx_load_system_ca(portls_be_ctx *ctx) {
  PORTLS_MBED_LOCK(ctx);
  if (ctx->system_ca_pending) {
    ctx->system_ca_pending = 0;
    mbed_load_system_ca(ctx);
  }
  PORTLS_MBED_UNLOCK(ctx);
}

static void mbed_load_system_ca(portls_be_ctx *ctx) {
#if defined(MBEDTLS_FS_IO)
  /* Certificates this version cannot parse are skipped (a positive return
   * counts them); a missing store simply leaves nothing trusted. */
  /* SSL_CERT_FILE overrides the bundle, as it does for OpenSSL and BoringSSL. */
  const char *file = getenv("SSL_CERT_FILE");
  if (file == NULL || file[0] == '\0') file = PORTLS_MBED_SYSTEM_CA_FILE;
  int ret = mbedtls_x509_crt_parse_file(&ctx->ca, file);
  if (ret >= 0 && ctx->ca.raw.len > 0) {
    ctx->has_ca = 1;
    mbed_apply_ca(ctx);
  }
#else
  (void)ctx; /* no file system: no system store */
#endif
}

static int mbed_read_crls(portls_be_ctx *ctx, portls_buf b, portls_error *err) {
#if defined(MBEDTLS_X509_CRL_PARSE_C)
  const unsigned char *p;
  unsigned char *copy;
  size_t len;
  if (b.base == NULL || b.len == 0) return portls__err(err, PORTLS_ECRL, "crl: empty");
  if (mbed_input(b, &p, &len, &copy) < 0) return portls__err(err, PORTLS_ENOMEM, NULL);
  /* Every CRL of a PEM buffer, or one DER CRL. */
  int ret = mbedtls_x509_crl_parse(&ctx->crl, p, len);
  mbed_free_copy(copy, len);
  if (ret != 0)
    return portls__mbed_err(err, ret == MBEDTLS_ERR_X509_ALLOC_FAILED ? PORTLS_ENOMEM : PORTLS_ECRL,
                            ret, "crl");
  ctx->has_crl = 1;
  return 0;
#else
  (void)ctx;
  (void)b;
  return portls__err(err, PORTLS_ENOTSUP,
                     "crl: mbed TLS was built without MBEDTLS_X509_CRL_PARSE_C");
#endif
}

/* ------------------------------------------------------------------------ */
/* Ciphers: the suites core compiled from the cipher string against our
 * suite list (ecdhCurve "false" has removed ECDHE already).                   */

static int mbed_is_dhe(uint16_t id) {
  const mbedtls_ssl_ciphersuite_t *cs = mbedtls_ssl_ciphersuite_from_id(id);
  return cs != NULL && (cs->key_exchange == MBEDTLS_KEY_EXCHANGE_DHE_RSA ||
                        cs->key_exchange == MBEDTLS_KEY_EXCHANGE_DHE_PSK);
}

static int mbed_apply_ciphers(portls_be_ctx *ctx, const portls_be_ctx_config *cfg, int have_dh,
                              portls_error *err) {
  size_t n = cfg->suite_count, nc = 0, ns = 0;
  ctx->suites_cli = portls__calloc(n + 1, sizeof(int));
  ctx->suites_srv = portls__calloc(n + 1, sizeof(int));
  if (ctx->suites_cli == NULL || ctx->suites_srv == NULL)
    return portls__err(err, PORTLS_ENOMEM, NULL);
  for (size_t i = 0; i < n; i++) {
    uint16_t id = cfg->suites[i];
    if (mbedtls_ssl_ciphersuite_from_id(id) == NULL) continue; /* TLS 1.3: not in 2.28 */
    ctx->suites_cli[nc++] = id;
    /* A server without usable DH parameters offers no DHE, as OpenSSL
     * without tmp_dh (mbed TLS would otherwise use its built-in group). */
    if (!have_dh && mbed_is_dhe(id)) continue;
    ctx->suites_srv[ns++] = id;
  }
  if (nc == 0) return portls__err(err, PORTLS_ECIPHERS, "ciphers: no cipher match");
#if defined(PORTLS_MBED_TLS13)
  /* mbed TLS 3 takes the TLS 1.3 suites from the same list: a version none of
   * whose suites is left is not offered (as OpenSSL does). */
  size_t n13 = 0;
  for (size_t i = 0; i < nc; i++) n13 += (ctx->suites_cli[i] >> 8) == 0x13;
  mbedtls_ssl_config *both[] = {&ctx->srv, &ctx->cli};
  for (size_t i = 0; i < PORTLS__ARRAY_SIZE(both); i++) {
    mbedtls_ssl_config *c = both[i];
    if (n13 == 0 && c->max_tls_version > MBEDTLS_SSL_VERSION_TLS1_2)
      mbedtls_ssl_conf_max_tls_version(c, MBEDTLS_SSL_VERSION_TLS1_2);
    if (n13 == nc && c->min_tls_version < MBEDTLS_SSL_VERSION_TLS1_3)
      mbedtls_ssl_conf_min_tls_version(c, MBEDTLS_SSL_VERSION_TLS1_3);
    if (c->min_tls_version > c->max_tls_version)
      return portls__err(err, PORTLS_ECIPHERS,
                         "ciphers: no cipher match for the TLS versions allowed");
  }
#endif
  mbedtls_ssl_conf_ciphersuites(&ctx->cli, ctx->suites_cli);
  mbedtls_ssl_conf_ciphersuites(&ctx->srv, ctx->suites_srv);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Versions: never minor version 4 (mbed TLS 2.28 has no TLS 1.3, and its
 * experimental code crashes when both ends configure it). */

#if defined(PORTLS_MBED3)
/* mbed TLS 3 speaks TLS 1.2 and 1.3 only (1.3 when built with
 * MBEDTLS_SSL_PROTO_TLS1_3). The default is Node's: TLS 1.2 to the highest. */
static int mbed_apply_versions(portls_be_ctx *ctx, const portls_be_ctx_config *cfg,
                               portls_error *err) {
#if defined(PORTLS_MBED_TLS13)
  const int top = MBEDTLS_SSL_VERSION_TLS1_3;
#else
  const int top = MBEDTLS_SSL_VERSION_TLS1_2;
#endif
  int min = cfg->min_version != 0 ? cfg->min_version : MBEDTLS_SSL_VERSION_TLS1_2;
  int max = cfg->max_version != 0 ? cfg->max_version : top;
  if ((min >> 8) != 3 || (max >> 8) != 3)
    return portls__err(err, PORTLS_EPROTOCOL_METHOD, "TLS version: unknown version number");
  if (min > top)
    return portls__err(err, PORTLS_EPROTOCOL_METHOD,
                       "minimum TLS version: TLS 1.3 is not available in this mbed TLS %s build",
                       MBEDTLS_VERSION_STRING);
  if (max < MBEDTLS_SSL_VERSION_TLS1_2)
    return portls__err(err, PORTLS_EPROTOCOL_METHOD,
                       "maximum TLS version: TLS 1.0 and 1.1 are not available in mbed TLS %s",
                       MBEDTLS_VERSION_STRING);
  if (max > top) max = top;
  if (min < MBEDTLS_SSL_VERSION_TLS1_2) min = MBEDTLS_SSL_VERSION_TLS1_2;
  if (min > max)
    return portls__err(err, PORTLS_EPROTOCOL_METHOD, "TLS version: minimum above maximum");
  mbedtls_ssl_config *both[] = {&ctx->srv, &ctx->cli};
  for (size_t i = 0; i < PORTLS__ARRAY_SIZE(both); i++) {
    mbedtls_ssl_conf_min_tls_version(both[i], (mbedtls_ssl_protocol_version)min);
    mbedtls_ssl_conf_max_tls_version(both[i], (mbedtls_ssl_protocol_version)max);
  }
  return 0;
}
#else
static int mbed_apply_versions(portls_be_ctx *ctx, const portls_be_ctx_config *cfg,
                               portls_error *err) {
  /* No minimum: TLS 1.2, which is what the OpenSSL backend can negotiate
   * then (TLS 1.0 and 1.1 need security level 0 there, which it only sets
   * for a context that asks for them). */
  int min = cfg->min_version != 0 ? cfg->min_version & 0xff : MBEDTLS_SSL_MINOR_VERSION_3;
  int max = cfg->max_version != 0 ? cfg->max_version & 0xff : MBEDTLS_SSL_MINOR_VERSION_3;
  if ((cfg->min_version != 0 && (cfg->min_version >> 8) != 3) ||
      (cfg->max_version != 0 && (cfg->max_version >> 8) != 3))
    return portls__err(err, PORTLS_EPROTOCOL_METHOD, "TLS version: unknown version number");
  if (min > MBEDTLS_SSL_MINOR_VERSION_3)
    return portls__err(err, PORTLS_EPROTOCOL_METHOD,
                       "minimum TLS version: TLS 1.3 is not available in mbed TLS %s",
                       MBEDTLS_VERSION_STRING);
  if (max > MBEDTLS_SSL_MINOR_VERSION_3) max = MBEDTLS_SSL_MINOR_VERSION_3;
  if (min < MBEDTLS_SSL_MINOR_VERSION_1) min = MBEDTLS_SSL_MINOR_VERSION_1;
  if (min > max)
    return portls__err(err, PORTLS_EPROTOCOL_METHOD, "TLS version: minimum above maximum");
  mbedtls_ssl_conf_min_version(&ctx->srv, MBEDTLS_SSL_MAJOR_VERSION_3, min);
  mbedtls_ssl_conf_min_version(&ctx->cli, MBEDTLS_SSL_MAJOR_VERSION_3, min);
  mbedtls_ssl_conf_max_version(&ctx->srv, MBEDTLS_SSL_MAJOR_VERSION_3, max);
  mbedtls_ssl_conf_max_version(&ctx->cli, MBEDTLS_SSL_MAJOR_VERSION_3, max);
  return 0;
}
#endif

/* ------------------------------------------------------------------------ */
/* Curves: OpenSSL's group names (case-sensitive, as OpenSSL's parser).       */

typedef struct mbed_curve_name {
  const char *name;
  int grp; /* mbedtls_ecp_group_id; -1: a name OpenSSL knows that has no TLS 1.2 ECDHE use */
} mbed_curve_name;

static const mbed_curve_name mbed_curve_names[] = {
#if defined(MBEDTLS_ECP_DP_SECP256R1_ENABLED)
    {"prime256v1", MBEDTLS_ECP_DP_SECP256R1},
    {"secp256r1", MBEDTLS_ECP_DP_SECP256R1},
    {"P-256", MBEDTLS_ECP_DP_SECP256R1},
#endif
#if defined(MBEDTLS_ECP_DP_SECP384R1_ENABLED)
    {"secp384r1", MBEDTLS_ECP_DP_SECP384R1},
    {"P-384", MBEDTLS_ECP_DP_SECP384R1},
#endif
#if defined(MBEDTLS_ECP_DP_SECP521R1_ENABLED)
    {"secp521r1", MBEDTLS_ECP_DP_SECP521R1},
    {"P-521", MBEDTLS_ECP_DP_SECP521R1},
#endif
#if defined(MBEDTLS_ECP_DP_CURVE25519_ENABLED)
    {"X25519", MBEDTLS_ECP_DP_CURVE25519},
    {"x25519", MBEDTLS_ECP_DP_CURVE25519},
#endif
#if defined(MBEDTLS_ECP_DP_CURVE448_ENABLED)
    {"X448", MBEDTLS_ECP_DP_CURVE448},
    {"x448", MBEDTLS_ECP_DP_CURVE448},
#endif
#if defined(MBEDTLS_ECP_DP_SECP224R1_ENABLED)
    {"secp224r1", MBEDTLS_ECP_DP_SECP224R1},
    {"P-224", MBEDTLS_ECP_DP_SECP224R1},
#endif
#if defined(MBEDTLS_ECP_DP_SECP192R1_ENABLED)
    {"prime192v1", MBEDTLS_ECP_DP_SECP192R1},
    {"secp192r1", MBEDTLS_ECP_DP_SECP192R1},
    {"P-192", MBEDTLS_ECP_DP_SECP192R1},
#endif
#if defined(MBEDTLS_ECP_DP_SECP256K1_ENABLED)
    {"secp256k1", MBEDTLS_ECP_DP_SECP256K1},
#endif
#if defined(MBEDTLS_ECP_DP_SECP224K1_ENABLED)
    {"secp224k1", MBEDTLS_ECP_DP_SECP224K1},
#endif
#if defined(MBEDTLS_ECP_DP_SECP192K1_ENABLED)
    {"secp192k1", MBEDTLS_ECP_DP_SECP192K1},
#endif
#if defined(MBEDTLS_ECP_DP_BP256R1_ENABLED)
    {"brainpoolP256r1", MBEDTLS_ECP_DP_BP256R1},
#endif
#if defined(MBEDTLS_ECP_DP_BP384R1_ENABLED)
    {"brainpoolP384r1", MBEDTLS_ECP_DP_BP384R1},
#endif
#if defined(MBEDTLS_ECP_DP_BP512R1_ENABLED)
    {"brainpoolP512r1", MBEDTLS_ECP_DP_BP512R1},
#endif
    /* Finite-field groups: OpenSSL accepts them in a groups list, where they
     * only matter to TLS 1.3. */
    {"ffdhe2048", -1},
    {"ffdhe3072", -1},
    {"ffdhe4096", -1},
    {"ffdhe6144", -1},
    {"ffdhe8192", -1},
};

static int mbed_apply_curves(portls_be_ctx *ctx, const char *list, portls_error *err) {
  size_t n = 0;
  const size_t max = PORTLS__ARRAY_SIZE(ctx->curves) - 1;
  if (list == NULL) return 0; /* the library's default (also for ecdhCurve "false") */
  if (strcmp(list, "auto") == 0) {
    /* OpenSSL 3's default group order, where this build has the group, so
     * that "auto" picks the same curve on both backends. */
    static const int order[] = {MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1,
                                MBEDTLS_ECP_DP_CURVE448, MBEDTLS_ECP_DP_SECP521R1,
                                MBEDTLS_ECP_DP_SECP384R1};
    for (size_t i = 0; i < PORTLS__ARRAY_SIZE(order); i++)
      if (mbedtls_ecp_curve_info_from_grp_id((mbedtls_ecp_group_id)order[i]) != NULL)
        ctx->curves[n++] = (mbedtls_ecp_group_id)order[i];
  } else {
    const char *p = list;
    while (*p != '\0') {
      const char *t = p;
      while (*p != '\0' && *p != ':') p++;
      size_t len = (size_t)(p - t);
      if (*p == ':') p++;
      int grp = 0;
      for (size_t i = 0; i < PORTLS__ARRAY_SIZE(mbed_curve_names); i++)
        if (strlen(mbed_curve_names[i].name) == len &&
            memcmp(mbed_curve_names[i].name, t, len) == 0) {
          grp = mbed_curve_names[i].grp;
          break;
        }
      if (grp == 0)
        return portls__err(err, PORTLS_ECURVE, "ecdhCurve: unknown curve \"%.*s\" in \"%.100s\"",
                           (int)(len > 64 ? 64 : len), t, list);
      if (grp < 0) continue;
      int dup = 0;
      for (size_t i = 0; i < n; i++) dup |= ctx->curves[i] == (mbedtls_ecp_group_id)grp;
      if (!dup && n < max) ctx->curves[n++] = (mbedtls_ecp_group_id)grp;
    }
  }
  ctx->curves[n] = MBEDTLS_ECP_DP_NONE;
  mbedtls_ssl_conf_curves(&ctx->srv, ctx->curves);
  mbedtls_ssl_conf_curves(&ctx->cli, ctx->curves);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* DH parameters: < 1024 bits → EDHPARAM; unparsable → no DHE, silently (the
 * specification). *have_dh tells whether the server may offer DHE. */

static int mbed_apply_dhparam(portls_be_ctx *ctx, portls_buf pem, int *have_dh, portls_error *err) {
  *have_dh = 0;
#if defined(MBEDTLS_DHM_C)
  const unsigned char *p;
  unsigned char *copy;
  size_t len;
  if (pem.base == NULL || pem.len == 0) return 0;
  if (mbed_input(pem, &p, &len, &copy) < 0) return portls__err(err, PORTLS_ENOMEM, NULL);
  mbedtls_dhm_context dhm;
  mbedtls_dhm_init(&dhm);
  int ret = mbedtls_dhm_parse_dhm(&dhm, p, len);
  mbed_free_copy(copy, len);
  if (ret != 0) {
    mbedtls_dhm_free(&dhm);
    return ret == MBEDTLS_ERR_DHM_ALLOC_FAILED ? portls__err(err, PORTLS_ENOMEM, NULL) : 0;
  }
  size_t bits = mbedtls_mpi_bitlen(&dhm.P);
  if (bits < 1024) {
    mbedtls_dhm_free(&dhm);
    return portls__err(err, PORTLS_EDHPARAM, "dhparam: DH parameter is less than 1024 bits (%zu)",
                       bits);
  }
  ret = mbedtls_ssl_conf_dh_param_ctx(&ctx->srv, &dhm); /* copies P and G */
  mbedtls_dhm_free(&dhm);
  if (ret != 0) return portls__mbed_err(err, PORTLS_EDHPARAM, ret, "dhparam");
  *have_dh = 1;
#else
  (void)ctx;
  (void)pem;
  (void)err;
#endif
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Contexts                                                                   */

int portls__mbed_ctx_new(const portls_be_ctx_config *cfg, portls_be_ctx **out, portls_error *err) {
  portls_be_ctx *ctx;
  int ret, rc, have_dh = 0;

  *out = NULL;
  if (cfg == NULL) return portls__err(err, PORTLS_EINVAL, NULL);
  mbedtls_ctr_drbg_context *rng = portls__mbed_rng();
  if (rng == NULL)
    return portls__err(err, PORTLS_EIO, "mbedtls: seeding the random generator failed");
  if (cfg->pfx.base != NULL && cfg->pfx.len > 0)
    return portls__err(err, PORTLS_ENOTSUP, "pfx: mbed TLS %s has no PKCS#12 parser",
                       MBEDTLS_VERSION_STRING);

  ctx = portls__calloc(1, sizeof *ctx);
  if (ctx == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
#if defined(MBEDTLS_THREADING_C)
  mbedtls_mutex_init(&ctx->lock);
#endif
  mbedtls_ssl_config_init(&ctx->srv);
  mbedtls_ssl_config_init(&ctx->cli);
  mbedtls_x509_crt_init(&ctx->ca);
#if defined(MBEDTLS_X509_CRL_PARSE_C)
  mbedtls_x509_crl_init(&ctx->crl);
#endif
  if (cfg->pair_count > 0) {
    ctx->certs = portls__calloc(cfg->pair_count, sizeof *ctx->certs);
    ctx->keys = portls__calloc(cfg->pair_count, sizeof *ctx->keys);
    if (ctx->certs == NULL || ctx->keys == NULL) {
      portls__free(ctx->certs);
      portls__free(ctx->keys);
      ctx->certs = NULL;
      ctx->keys = NULL;
      portls__mbed_ctx_free(ctx);
      return portls__err(err, PORTLS_ENOMEM, NULL);
    }
    for (size_t i = 0; i < cfg->pair_count; i++) {
      mbedtls_x509_crt_init(&ctx->certs[i]);
      mbedtls_pk_init(&ctx->keys[i]);
    }
    ctx->pair_count = cfg->pair_count;
  }

  if ((ret = mbedtls_ssl_config_defaults(&ctx->srv, MBEDTLS_SSL_IS_SERVER,
                                         MBEDTLS_SSL_TRANSPORT_STREAM,
                                         MBEDTLS_SSL_PRESET_DEFAULT)) != 0 ||
      (ret = mbedtls_ssl_config_defaults(&ctx->cli, MBEDTLS_SSL_IS_CLIENT,
                                         MBEDTLS_SSL_TRANSPORT_STREAM,
                                         MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
    rc = portls__mbed_err(err, PORTLS_ENOMEM, ret, "mbedtls_ssl_config_defaults");
    goto fail;
  }
  mbedtls_ssl_conf_rng(&ctx->srv, mbedtls_ctr_drbg_random, rng);
  mbedtls_ssl_conf_rng(&ctx->cli, mbedtls_ctr_drbg_random, rng);
#if defined(PORTLS_MBED_TLS13)
  /* A client offering TLS 1.2 and 1.3 sends one signature_algorithms list;
   * mbed TLS 3.6's TLS 1.2 cannot verify RSA-PSS, which an OpenSSL 1.2-only
   * server picks when it comes first (mbed TLS's default order). PKCS#1 v1.5
   * first: a TLS 1.2 server takes it, a TLS 1.3 one (where it is not allowed
   * for handshake signatures) takes PSS. */
  static const uint16_t client_sig_algs[] = {
      MBEDTLS_TLS1_3_SIG_ECDSA_SECP256R1_SHA256, MBEDTLS_TLS1_3_SIG_ECDSA_SECP384R1_SHA384,
      MBEDTLS_TLS1_3_SIG_ECDSA_SECP521R1_SHA512, MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA256,
      MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA384,       MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA512,
      MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA256,    MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA384,
      MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA512,    MBEDTLS_TLS1_3_SIG_NONE};
  mbedtls_ssl_conf_sig_algs(&ctx->cli, client_sig_algs);
#endif

  /* Node-style verification: a client always verifies, a server when it
   * requests a certificate (set per connection), and a bad result never
   * aborts the handshake; core reads it and decides. */
  mbedtls_ssl_conf_authmode(&ctx->cli, MBEDTLS_SSL_VERIFY_OPTIONAL);
  mbedtls_ssl_conf_authmode(&ctx->srv, MBEDTLS_SSL_VERIFY_NONE);
  /* What OpenSSL accepts at security level 1 (the OpenSSL backend's): RSA
   * keys from 1024 bits, where mbed TLS's default profile wants 2048. */
  ctx->profile = mbedtls_x509_crt_profile_default;
  ctx->profile.rsa_min_bitlen = 1024;
  mbedtls_ssl_conf_cert_profile(&ctx->srv, &ctx->profile);
  mbedtls_ssl_conf_cert_profile(&ctx->cli, &ctx->profile);
#if defined(MBEDTLS_SSL_MAX_FRAGMENT_LENGTH) && defined(MBEDTLS_SSL_IN_CONTENT_LEN) &&             \
    MBEDTLS_SSL_IN_CONTENT_LEN < 16384
  /* A build with small record buffers (the bare-metal one): a TLS 1.2 client
   * asks the server for records that fit (max_fragment_length, RFC 6066; TLS
   * 1.3 sends record_size_limit itself under MBEDTLS_SSL_RECORD_SIZE_LIMIT). */
  mbedtls_ssl_conf_max_frag_len(
      &ctx->cli, MBEDTLS_SSL_IN_CONTENT_LEN >= 4096   ? MBEDTLS_SSL_MAX_FRAG_LEN_4096
                 : MBEDTLS_SSL_IN_CONTENT_LEN >= 2048 ? MBEDTLS_SSL_MAX_FRAG_LEN_2048
                 : MBEDTLS_SSL_IN_CONTENT_LEN >= 1024 ? MBEDTLS_SSL_MAX_FRAG_LEN_1024
                                                      : MBEDTLS_SSL_MAX_FRAG_LEN_512);
#endif
#if defined(MBEDTLS_SSL_RENEGOTIATION)
  /* Both roles initiate (renegotiate()) and follow the peer's: a server
   * accepts a client's ClientHello as Node does, core limiting how many
   * (handshakes()); a client follows a HelloRequest. Only with a peer that
   * supports secure renegotiation (RFC 5746). The new handshake runs inside
   * read() and write(). A peer that ignores the request is left alone, as
   * OpenSSL does (mbed TLS would give up after 16 records). */
  mbedtls_ssl_config *both[] = {&ctx->srv, &ctx->cli};
  for (size_t i = 0; i < PORTLS__ARRAY_SIZE(both); i++) {
    mbedtls_ssl_conf_renegotiation(both[i], MBEDTLS_SSL_RENEGOTIATION_ENABLED);
    mbedtls_ssl_conf_legacy_renegotiation(both[i], MBEDTLS_SSL_LEGACY_NO_RENEGOTIATION);
    mbedtls_ssl_conf_renegotiation_enforced(both[i], MBEDTLS_SSL_RENEGOTIATION_NOT_ENFORCED);
  }
#endif
  /* A client asks for a ticket and offers the one its session carries,
   * unless tickets are off (a server then issues none: session.c). */
  ctx->no_tickets = cfg->disable_tickets != 0;
#if defined(MBEDTLS_SSL_SESSION_TICKETS) && defined(MBEDTLS_SSL_CLI_C)
  mbedtls_ssl_conf_session_tickets(&ctx->cli, ctx->no_tickets
                                                  ? MBEDTLS_SSL_SESSION_TICKETS_DISABLED
                                                  : MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
#if defined(PORTLS_MBED_TLS13)
  /* A TLS 1.3 client hears of each NewSessionTicket (mbedtls_ssl_read returns
   * MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET): the session event. Without
   * this, 3.6 drops the tickets. */
  mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(
      &ctx->cli, ctx->no_tickets ? MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_DISABLED
                                 : MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
#endif
#endif
#if defined(MBEDTLS_SSL_SERVER_NAME_INDICATION)
  mbedtls_ssl_conf_sni(&ctx->srv, portls__mbed_sni_cb, NULL);
#endif

  if ((rc = mbed_apply_versions(ctx, cfg, err)) < 0) goto fail;
  if (cfg->dhparam.base != NULL && cfg->dhparam.len > 0)
    if ((rc = mbed_apply_dhparam(ctx, cfg->dhparam, &have_dh, err)) < 0) goto fail;
  if ((rc = mbed_apply_ciphers(ctx, cfg, have_dh, err)) < 0) goto fail;
  if ((rc = mbed_apply_curves(ctx, cfg->ecdh_curves, err)) < 0) goto fail;

  for (size_t i = 0; i < cfg->pair_count; i++)
    if ((rc = mbed_load_pair(ctx, i, &cfg->pairs[i], cfg->passphrase, cfg->pair_count, err)) < 0)
      goto fail;

  for (size_t i = 0; i < cfg->ca_count; i++) {
    if ((rc = mbed_read_certs(&ctx->ca, cfg->ca[i], PORTLS_ECERT, "ca", err)) < 0) goto fail;
    ctx->has_ca = 1;
  }
  if (cfg->ca_count == 0 && cfg->use_system_ca) {
    /* Parsed when a connection first needs it; Node's servers do not name
     * the system store's CAs in a CertificateRequest, so neither do we. */
    ctx->system_ca_pending = 1;
    mbedtls_ssl_conf_cert_req_ca_list(&ctx->srv, MBEDTLS_SSL_CERT_REQ_CA_LIST_DISABLED);
    /* The extra CAs now; the system's bundle is appended when first needed. */
    for (size_t i = 0; i < cfg->extra_ca_count; i++) {
      if ((rc = mbed_read_certs(&ctx->ca, cfg->extra_ca[i], PORTLS_ECERT, "extra CA", err)) < 0)
        goto fail;
      ctx->has_ca = 1;
    }
  }
  for (size_t i = 0; i < cfg->crl_count; i++)
    if ((rc = mbed_read_crls(ctx, cfg->crl[i], err)) < 0) goto fail;
  mbed_apply_ca(ctx);

  /* Server sessions (tickets, and by id through core's store): their age
   * limit, the context they belong to, the ticket keys. The callbacks are
   * set per connection (session.c). */
  ctx->session_timeout = cfg->session_timeout > 0 ? cfg->session_timeout : 300;
  if (cfg->session_id_context != NULL && cfg->session_id_context[0] != '\0') {
    const char *sid = cfg->session_id_context;
    if (PORTLS_MBED_SHA256((const unsigned char *)sid, strlen(sid), ctx->sid_ctx, 0) != 0) {
      rc = portls__err(err, PORTLS_EINVAL, "sessionIdContext: hashing failed");
      goto fail;
    }
    ctx->sid_len = sizeof ctx->sid_ctx;
  }
  /* 48 bytes, checked by core, which makes random ones when the
   * application gives none. */
  if (cfg->ticket_keys.len != 0 &&
      (rc = portls__mbed_set_ticket_keys(ctx, cfg->ticket_keys.base, err)) < 0)
    goto fail;
  *out = ctx;
  return 0;

fail:
  portls__mbed_ctx_free(ctx);
  return rc;
}

void portls__mbed_ctx_free(portls_be_ctx *ctx) {
  if (ctx == NULL) return;
  /* The configs own their key/cert list nodes and DH parameters only. */
  mbedtls_ssl_config_free(&ctx->srv);
  mbedtls_ssl_config_free(&ctx->cli);
  mbedtls_x509_crt_free(&ctx->ca);
#if defined(MBEDTLS_X509_CRL_PARSE_C)
  mbedtls_x509_crl_free(&ctx->crl);
#endif
  for (size_t i = 0; i < ctx->pair_count; i++) {
    mbedtls_x509_crt_free(&ctx->certs[i]);
    mbedtls_pk_free(&ctx->keys[i]);
  }
  portls__free(ctx->certs);
  portls__free(ctx->keys);
  portls__free(ctx->suites_cli);
  portls__free(ctx->suites_srv);
  mbedtls_platform_zeroize(ctx->ticket_keys, sizeof ctx->ticket_keys);
  mbedtls_platform_zeroize(ctx->old_ticket_keys, sizeof ctx->old_ticket_keys);
#if defined(MBEDTLS_THREADING_C)
  mbedtls_mutex_free(&ctx->lock);
#endif
  portls__free(ctx);
}

/* ------------------------------------------------------------------------ */
/* Session tickets: Node's 48-byte keys (name 16 | HMAC-SHA256 key 16 |
 * AES-128 key 16) in the format RFC 5077 section 4 recommends, which is also
 * what OpenSSL's ticket key callback (Node's) makes:
 *   key_name(16) | IV(16) | AES-128-CBC(state, PKCS#7 padded) | HMAC-SHA256(32)
 * the MAC covering everything before it. A ticket whose name is not the
 * current keys' is simply not ours: a full handshake follows (mbed TLS
 * ignores every parse failure). Only this backend reads the state inside. */

enum { MBED_TICKET_NAME = 16, MBED_TICKET_IV = 16, MBED_TICKET_MAC = 32 };
#define MBED_TICKET_HEAD (MBED_TICKET_NAME + MBED_TICKET_IV)

/* At once: the ticket callbacks read the keys each time they run. */
int portls__mbed_set_ticket_keys(portls_be_ctx *ctx, const uint8_t keys[48], portls_error *err) {
  (void)err;
  PORTLS_MBED_LOCK(ctx);
  memcpy(ctx->ticket_keys, keys, sizeof ctx->ticket_keys);
  ctx->has_ticket_keys = 1;
  PORTLS_MBED_UNLOCK(ctx);
  return 0;
}

int portls__mbed_set_old_ticket_keys(portls_be_ctx *ctx, const uint8_t keys[48],
                                     portls_error *err) {
  (void)err;
  PORTLS_MBED_LOCK(ctx);
  if (keys != NULL)
    memcpy(ctx->old_ticket_keys, keys, sizeof ctx->old_ticket_keys);
  else
    mbedtls_platform_zeroize(ctx->old_ticket_keys, sizeof ctx->old_ticket_keys);
  ctx->has_old_ticket_keys = keys != NULL;
  PORTLS_MBED_UNLOCK(ctx);
  return 0;
}

#if defined(PORTLS_MBED_TICKETS)
static int mbed_ticket_mac(const uint8_t keys[48], const uint8_t *in, size_t len, uint8_t mac[32]) {
  return mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), keys + MBED_TICKET_NAME, 16,
                         in, len, mac);
}

/* The keys now, copied under the lock (another thread may replace them);
 * 0 when the context has none. */
static int mbed_ticket_keys(const portls_be_ctx *ctx, uint8_t keys[48]) {
  PORTLS_MBED_LOCK(ctx);
  int have = ctx->has_ticket_keys;
  memcpy(keys, ctx->ticket_keys, 48);
  PORTLS_MBED_UNLOCK(ctx);
  return have;
}
#endif

int portls__mbed_ticket_seal(const portls_be_ctx *ctx, const uint8_t *state, size_t len,
                             uint8_t *out, size_t cap, size_t *out_len) {
  *out_len = 0;
#if defined(PORTLS_MBED_TICKETS)
  const size_t clen = (len / 16 + 1) * 16; /* PKCS#7 always pads */
  if (cap < MBED_TICKET_HEAD + MBED_TICKET_MAC || cap - MBED_TICKET_HEAD - MBED_TICKET_MAC < clen)
    return MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL;
  mbedtls_ctr_drbg_context *rng = portls__mbed_rng();
  if (rng == NULL) return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
  uint8_t keys[48];
  (void)mbed_ticket_keys(ctx, keys);
  memcpy(out, keys, MBED_TICKET_NAME);
  int ret = mbedtls_ctr_drbg_random(rng, out + MBED_TICKET_NAME, MBED_TICKET_IV);
  size_t n = 0;
  if (ret == 0)
    ret = portls__mbed_cbc(MBEDTLS_CIPHER_AES_128_CBC, MBEDTLS_ENCRYPT, keys + 32,
                           out + MBED_TICKET_NAME, state, len, out + MBED_TICKET_HEAD, &n);
  if (ret == 0 && n != clen) ret = MBEDTLS_ERR_SSL_INTERNAL_ERROR;
  if (ret == 0) ret = mbed_ticket_mac(keys, out, MBED_TICKET_HEAD + n, out + MBED_TICKET_HEAD + n);
  if (ret == 0) *out_len = MBED_TICKET_HEAD + n + MBED_TICKET_MAC;
  mbedtls_platform_zeroize(keys, sizeof keys);
  return ret;
#else
  (void)ctx, (void)state, (void)len, (void)out, (void)cap;
  return MBEDTLS_ERR_SSL_FEATURE_UNAVAILABLE;
#endif
}

#if defined(PORTLS_MBED_TICKETS)
static int mbed_ticket_open_with(const uint8_t keys[48], int have, const uint8_t *in, size_t len,
                                 uint8_t **state, size_t *state_len) {
  if (!have || len < MBED_TICKET_HEAD + 16 + MBED_TICKET_MAC ||
      (len - MBED_TICKET_HEAD - MBED_TICKET_MAC) % 16 != 0 ||
      memcmp(in, keys, MBED_TICKET_NAME) != 0)
    return MBEDTLS_ERR_SSL_INVALID_MAC;
  const size_t clen = len - MBED_TICKET_HEAD - MBED_TICKET_MAC;
  uint8_t mac[MBED_TICKET_MAC];
  int ret = mbed_ticket_mac(keys, in, MBED_TICKET_HEAD + clen, mac);
  if (ret != 0) return ret;
  /* Constant time, as mbed TLS compares MACs. */
  unsigned diff = 0;
  for (size_t i = 0; i < sizeof mac; i++)
    diff |= (unsigned)(mac[i] ^ in[MBED_TICKET_HEAD + clen + i]);
  if (diff != 0) return MBEDTLS_ERR_SSL_INVALID_MAC;
  uint8_t *p = portls__malloc(clen + 16);
  if (p == NULL) return MBEDTLS_ERR_SSL_ALLOC_FAILED;
  size_t n = 0;
  ret = portls__mbed_cbc(MBEDTLS_CIPHER_AES_128_CBC, MBEDTLS_DECRYPT, keys + 32,
                         in + MBED_TICKET_NAME, in + MBED_TICKET_HEAD, clen, p, &n);
  if (ret != 0) {
    mbedtls_platform_zeroize(p, clen + 16);
    portls__free(p);
    /* Authentic but undecryptable: not a state we made. */
    return MBEDTLS_ERR_SSL_INVALID_MAC;
  }
  *state = p;
  *state_len = n;
  return 0;
}
#endif

int portls__mbed_ticket_open(const portls_be_ctx *ctx, const uint8_t *in, size_t len,
                             uint8_t **state, size_t *state_len) {
  *state = NULL;
  *state_len = 0;
#if defined(PORTLS_MBED_TICKETS)
  uint8_t keys[48], old[48];
  int have = mbed_ticket_keys(ctx, keys);
  PORTLS_MBED_LOCK(ctx);
  int have_old = ctx->has_old_ticket_keys;
  memcpy(old, ctx->old_ticket_keys, sizeof old);
  PORTLS_MBED_UNLOCK(ctx);
  /* The current keys, or a rotation's previous ones (chosen by name). */
  int ret = have_old && len >= MBED_TICKET_NAME && memcmp(in, old, MBED_TICKET_NAME) == 0
                ? mbed_ticket_open_with(old, 1, in, len, state, state_len)
                : mbed_ticket_open_with(keys, have, in, len, state, state_len);
  mbedtls_platform_zeroize(keys, sizeof keys);
  mbedtls_platform_zeroize(old, sizeof old);
  return ret;
#else
  (void)ctx, (void)in, (void)len;
  return MBEDTLS_ERR_SSL_FEATURE_UNAVAILABLE;
#endif
}
