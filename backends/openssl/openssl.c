/* portls backend: OpenSSL 3.
 *
 * Nearly everything is shared with BoringSSL in backends/common/ossl.c; this
 * file holds what is OpenSSL's alone: the security level, DH parameters, the
 * 48-byte ticket keys, the ephemeral-key report, the allocator hook, the
 * capability set and the vtable.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include "backends/common/ossl.h"

#if !defined(PORTLS_OSSL_OPENSSL)
#error "backends/openssl/openssl.c is for OpenSSL; BoringSSL has backends/boringssl/"
#endif

/* ------------------------------------------------------------------------ */
/* Context setup                                                              */

int portls__ossl_ctx_setup(SSL_CTX *ssl_ctx, const portls_be_ctx_config *cfg, portls_error *err) {
  /* Security level 1, whatever the build's default (Debian compiles in 2).
   * Node's own options govern what is acceptable instead: minDHSize,
   * ciphers, secureProtocol; level 2 would also refuse 1024-bit DH and
   * RSA < 2048 that Node accepts. A cipher string's "@SECLEVEL=n"
   * (cfg->security_level) overrides it, as in Node.
   *
   * TLS 1.0 and 1.1 sign handshakes with MD5+SHA-1 / SHA-1, which OpenSSL 3
   * allows only at level 0. A context whose configured range explicitly
   * reaches down to them (min_version below TLS 1.2, e.g. secureProtocol
   * "TLSv1_method") gets level 0, so that what it asked for can connect;
   * with no minimum set, those versions stay unusable, as in Node 17+. */
  int level = 1;
  if (cfg->min_version != 0 && cfg->min_version < PORTLS_TLS1_2) level = 0;
  if (cfg->security_level >= 0) level = cfg->security_level;
  SSL_CTX_set_security_level(ssl_ctx, level);
  /* And with no minimum configured, TLS 1.2 is the floor (Node 17+'s default
   * minVersion, and what the BoringSSL backend does): a version that level
   * forbids is then not offered at all, so that a TLS 1.0-only peer fails
   * with ERR_SSL_UNSUPPORTED_PROTOCOL on both sides, as with Node and every
   * backend, rather than after the version was agreed ("legacy sigalg
   * disallowed or unsupported"). A configured minimum is applied later and
   * wins. */
  if (cfg->min_version == 0 && level >= 1 &&
      !SSL_CTX_set_min_proto_version(ssl_ctx, TLS1_2_VERSION)) {
    ERR_clear_error();
    return portls__err(err, PORTLS_EPROTOCOL_METHOD, "minimum TLS version");
  }
  return 0;
}

int portls__ossl_set_dhparam(SSL_CTX *ssl_ctx, portls_buf pem, portls_error *err) {
#if defined(OPENSSL_NO_DH)
  (void)ssl_ctx;
  (void)pem;
  (void)err;
  return 0;
#else
  BIO *bio;
  EVP_PKEY *params;
  if (pem.len > INT_MAX) return 0;
  ERR_clear_error();
  bio = BIO_new_mem_buf(pem.base, (int)pem.len);
  if (bio == NULL) return portls__ossl_lib_err(err, PORTLS_ENOMEM, "dhparam");
  params = PEM_read_bio_Parameters(bio, NULL);
  BIO_free(bio);
  if (params == NULL || (EVP_PKEY_get_base_id(params) != EVP_PKEY_DH &&
                         EVP_PKEY_get_base_id(params) != EVP_PKEY_DHX)) {
    /* The specification: invalid parameters are silently discarded and DHE
     * suites are simply not available. */
    EVP_PKEY_free(params);
    ERR_clear_error();
    return 0;
  }
  int bits = EVP_PKEY_get_bits(params);
  if (bits < 1024) {
    EVP_PKEY_free(params);
    return portls__err(err, PORTLS_EDHPARAM, "dhparam: DH parameter is less than 1024 bits (%d)",
                       bits);
  }
  if (!SSL_CTX_set0_tmp_dh_pkey(ssl_ctx, params)) { /* takes params on success */
    EVP_PKEY_free(params);
    return portls__ossl_lib_err(err, PORTLS_EDHPARAM, "dhparam");
  }
  return 0;
#endif
}

/* ------------------------------------------------------------------------ */
/* Ticket keys: Node's 48 bytes (name 16 | HMAC-SHA256 key 16 | AES-128-CBC
 * key 16). OpenSSL 3's own setter wants 80 bytes in another layout, so the
 * callback does the work with exactly Node's keys and algorithms. */

/* AES-128-CBC fetched once: EVP_aes_128_cbc() names a cipher that OpenSSL 3
 * looks up in the provider again at every initialisation (two per
 * handshake: a TLS 1.3 server sends two tickets). */
static EVP_CIPHER *pssl_ticket_aes;
static CRYPTO_ONCE pssl_ticket_aes_once = CRYPTO_ONCE_STATIC_INIT;

static void pssl_fetch_ticket_aes(void) {
  pssl_ticket_aes = EVP_CIPHER_fetch(NULL, "AES-128-CBC", NULL);
  ERR_clear_error();
}

static const EVP_CIPHER *pssl_ticket_cipher(void) {
  if (!CRYPTO_THREAD_run_once(&pssl_ticket_aes_once, pssl_fetch_ticket_aes) ||
      pssl_ticket_aes == NULL)
    return EVP_aes_128_cbc();
  return pssl_ticket_aes;
}

static int pssl_ticket_cb(SSL *ssl, unsigned char key_name[16], unsigned char *iv,
                          EVP_CIPHER_CTX *ectx, EVP_MAC_CTX *hctx, int enc) {
  portls_be_ctx *ctx = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
  static char digest[] = "SHA256";
  OSSL_PARAM params[3];
  if (ctx == NULL) return -1;
  /* A copy, under the context's lock: another thread may set new keys
   * (server.setTicketKeys) while this one handshakes. */
  uint8_t keys[48], old_keys[48];
  pthread_mutex_lock(&ctx->lock);
  int have = ctx->has_ticket_keys, have_old = ctx->has_old_ticket_keys;
  memcpy(keys, ctx->ticket_keys, sizeof keys);
  memcpy(old_keys, ctx->old_ticket_keys, sizeof old_keys);
  pthread_mutex_unlock(&ctx->lock);
  if (!have) return -1;
  const uint8_t *name = keys, *hmac = keys + 16, *aes = keys + 32;
  params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)(uintptr_t)hmac, 16);
  params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
  params[2] = OSSL_PARAM_construct_end();
  if (enc) {
    memcpy(key_name, name, 16);
    if (RAND_bytes(iv, 16) != 1) return -1;
    if (!EVP_EncryptInit_ex(ectx, pssl_ticket_cipher(), NULL, aes, iv)) return -1;
    if (!EVP_MAC_CTX_set_params(hctx, params)) return -1;
    return 1;
  }
  int old = 0;
  if (memcmp(key_name, name, 16) != 0) {
    /* The previous keys of a rotation still open their tickets. */
    if (!have_old || memcmp(key_name, old_keys, 16) != 0) return 0; /* not ours: full handshake */
    old = 1;
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
                                                  (void *)(uintptr_t)(old_keys + 16), 16);
    aes = old_keys + 32;
  }
  if (!EVP_MAC_CTX_set_params(hctx, params)) return -1;
  if (!EVP_DecryptInit_ex(ectx, pssl_ticket_cipher(), NULL, aes, iv)) return -1;
  /* 2, "renew": a TLS 1.3 server then sends a fresh ticket after a resumed
   * handshake, as OpenSSL does with its own keys (a TLS 1.3 client uses each
   * ticket once); TLS 1.2 keeps the ticket it has, unless the previous keys
   * opened it. */
  return old || SSL_version(ssl) >= TLS1_3_VERSION ? 2 : 1;
}

int portls__ossl_set_ticket_keys(portls_be_ctx *ctx, portls_error *err) {
  /* Installed once: the callback reads the keys each time it runs, and
   * writing the SSL_CTX again while other threads handshake on it would race. */
  pthread_mutex_lock(&ctx->lock);
  int set = ctx->ticket_cb_set;
  ctx->ticket_cb_set = 1;
  pthread_mutex_unlock(&ctx->lock);
  if (set) return 0;
  ERR_clear_error();
  if (!SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx->ssl_ctx, pssl_ticket_cb) ||
      (ctx->rest_ssl_ctx != NULL &&
       !SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx->rest_ssl_ctx, pssl_ticket_cb))) {
    pthread_mutex_lock(&ctx->lock);
    ctx->ticket_cb_set = 0;
    pthread_mutex_unlock(&ctx->lock);
    return portls__ossl_lib_err(err, PORTLS_ETICKET_KEYS, "ticketKeys");
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Node: getEphemeralKeyInfo(), client side only. */

void portls__ossl_ephemeral(portls_be_session *s, portls_be_info *info) {
  EVP_PKEY *key = NULL;
  if (SSL_is_server(s->ssl) || !SSL_get_peer_tmp_key(s->ssl, &key) || key == NULL) {
    ERR_clear_error();
    return;
  }
  s->ephemeral_name[0] = '\0';
  switch (EVP_PKEY_get_base_id(key)) {
  case EVP_PKEY_DH:
  case EVP_PKEY_DHX:
    info->ephemeral_type = "DH";
    info->ephemeral_bits = EVP_PKEY_get_bits(key);
    break;
  case EVP_PKEY_EC:
    info->ephemeral_type = "ECDH";
    info->ephemeral_bits = EVP_PKEY_get_bits(key);
    /* The curve's short name, as Node prints it: "prime256v1", "secp384r1". */
    if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, s->ephemeral_name,
                                        sizeof s->ephemeral_name, NULL))
      s->ephemeral_name[0] = '\0';
    info->ephemeral_name = s->ephemeral_name;
    break;
  case EVP_PKEY_X25519:
  case EVP_PKEY_X448:
    info->ephemeral_type = "ECDH";
    info->ephemeral_bits = EVP_PKEY_get_bits(key); /* 253 and 448, as Node reports */
    snprintf(s->ephemeral_name, sizeof s->ephemeral_name, "%s",
             EVP_PKEY_get_base_id(key) == EVP_PKEY_X25519 ? "X25519" : "X448");
    info->ephemeral_name = s->ephemeral_name;
    break;
  default:
    break;
  }
  EVP_PKEY_free(key);
  ERR_clear_error();
}

/* ------------------------------------------------------------------------ */
/* Library-wide                                                               */

static const char *pssl_version(void) { return OpenSSL_version(OPENSSL_VERSION); }

static portls_allocator pssl_alloc;

static void *pssl_malloc(size_t n, const char *file, int line) {
  (void)file;
  (void)line;
  if (n == 0) return NULL; /* what CRYPTO_malloc does itself */
  return pssl_alloc.malloc_fn(pssl_alloc.ctx, n);
}

static void *pssl_realloc(void *p, size_t n, const char *file, int line) {
  (void)file;
  (void)line;
  if (p == NULL) return pssl_malloc(n, file, line);
  if (n == 0) {
    pssl_alloc.free_fn(pssl_alloc.ctx, p);
    return NULL;
  }
  return pssl_alloc.realloc_fn(pssl_alloc.ctx, p, n);
}

static void pssl_free(void *p, const char *file, int line) {
  (void)file;
  (void)line;
  if (p != NULL) pssl_alloc.free_fn(pssl_alloc.ctx, p);
}

static int pssl_global_init(const portls_allocator *alloc) {
  /* OpenSSL accepts new allocation functions only before its first
   * allocation; once anything (the application, another library) has used
   * it, the call fails and OpenSSL simply keeps malloc. That is not an error. */
  if (alloc != NULL && alloc->malloc_fn != NULL && alloc->realloc_fn != NULL &&
      alloc->free_fn != NULL) {
    pssl_alloc = *alloc;
    if (!CRYPTO_set_mem_functions(pssl_malloc, pssl_realloc, pssl_free))
      memset(&pssl_alloc, 0, sizeof pssl_alloc);
  }
  if (!OPENSSL_init_ssl(0, NULL)) {
    ERR_clear_error();
    return PORTLS_ENOMEM;
  }
  return 0;
}

#define PSSL_CAP(c) (UINT64_C(1) << PORTLS_CAP_##c)

/* What compiled, and what this backend implements through backend.h. */
static uint64_t pssl_capabilities(void) {
  uint64_t caps = 0;
#if !defined(OPENSSL_NO_TLS1)
  caps |= PSSL_CAP(TLS1_0);
#endif
#if !defined(OPENSSL_NO_TLS1_1)
  caps |= PSSL_CAP(TLS1_1);
#endif
#if !defined(OPENSSL_NO_TLS1_2)
  caps |= PSSL_CAP(TLS1_2);
#endif
#if defined(TLS1_3_VERSION) && !defined(OPENSSL_NO_TLS1_3)
  caps |= PSSL_CAP(TLS1_3);
#endif
  caps |= PSSL_CAP(ALPN) | PSSL_CAP(SNI);
#if defined(PORTLS_OSSL_HAS_NPN)
  caps |= PSSL_CAP(NPN);
#endif
#if defined(PORTLS_OSSL_HAS_OCSP)
  caps |= PSSL_CAP(OCSP_STAPLING) | PSSL_CAP(OCSP_REQUEST);
#endif
#if !defined(OPENSSL_NO_DH)
  /* DH_SIZE and MIN_DH_SIZE: info() reports the server's DH bits for core's check. */
  caps |= PSSL_CAP(DHE) | PSSL_CAP(DH_SIZE) | PSSL_CAP(MIN_DH_SIZE);
#endif
#if !defined(OPENSSL_NO_EC)
  caps |= PSSL_CAP(ECDH_CURVES);
#endif
  caps |= PSSL_CAP(RENEG_CLIENT) | PSSL_CAP(RENEG_SERVER) | PSSL_CAP(RENEG_COUNT);
  caps |= PSSL_CAP(SESSION_CACHE);
  caps |= PSSL_CAP(SESSION_TICKETS) | PSSL_CAP(TICKET_KEYS) | PSSL_CAP(TICKET_ROTATION);
  caps |= PSSL_CAP(PFX) | PSSL_CAP(ENCRYPTED_KEYS) | PSSL_CAP(CRL);
  caps |= PSSL_CAP(CIPHER_SERVER_PREF) | PSSL_CAP(CIPHER_CLIENT_PREF);
  caps |= PSSL_CAP(MAX_SEND_FRAGMENT);
  caps |= PSSL_CAP(KEYLOG) | PSSL_CAP(TRACE); /* set_keylog, set_trace */
#if defined(PORTLS_OSSL_LEAN)
  caps |= PSSL_CAP(IDLE_RELEASE); /* rest(): backends/common/ossl_lean.c */
#endif
#if defined(PORTLS_OSSL_HAS_MULTI_CERT)
  caps |= PSSL_CAP(MULTI_CERT);
#endif
  caps |= PSSL_CAP(EXPORTER) | PSSL_CAP(FINISHED) | PSSL_CAP(SIGALGS) | PSSL_CAP(SHARED_SIGALGS);
#if defined(PORTLS_OSSL_HAS_PSK)
  caps |= PSSL_CAP(PSK) | PSSL_CAP(PSK_HINT);
#endif
#if defined(PORTLS_OSSL_HAS_PSK_TLS13)
  caps |= PSSL_CAP(PSK_TLS1_3);
#endif
  return caps;
}

const portls_backend portls__backend = {.name = "openssl",
                                        .version = pssl_version,
                                        .capabilities = pssl_capabilities,
                                        .global_init = pssl_global_init,
                                        .renegotiate = portls__ossl_renegotiate,
                                        .handshakes = portls__ossl_handshakes,
#if defined(PORTLS_OSSL_LEAN)
                                        .rest = portls__ossl_rest,
#endif
                                        .shared_sigalgs = portls__ossl_shared_sigalgs,
                                        PORTLS__OSSL_SHARED_OPS};
