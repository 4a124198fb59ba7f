/* portls backend: BoringSSL.
 *
 * Nearly everything is shared with OpenSSL in backends/common/ossl.c (the
 * PORTLS_OSSL_BORING branches there hold what BoringSSL needs inside the
 * shared paths: the strict cipher list, fixed TLS 1.3 suites, curve names, verification
 * results, the verified chain, TLS 1.3 sessions). This file holds what is
 * BoringSSL's alone: the default protocol floor, the dhparam check, the
 * 48-byte ticket keys, the ephemeral-key report, the capability set and the
 * vtable.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "backends/common/ossl.h"

#if !defined(PORTLS_OSSL_BORING)
#error "backends/boringssl/boringssl.c is for BoringSSL; OpenSSL has backends/openssl/"
#endif

/* ------------------------------------------------------------------------ */
/* Context setup                                                              */

/* The security level OpenSSL would run this context at (see
 * backends/openssl/openssl.c): the cipher string's "@SECLEVEL=n" when it has
 * one, else 0 when the configured range explicitly reaches below TLS 1.2,
 * else 1. */
static int bssl_openssl_level(const portls_be_ctx_config *cfg) {
  if (cfg->security_level >= 0) return cfg->security_level;
  return cfg->min_version != 0 && cfg->min_version < PORTLS_TLS1_2 ? 0 : 1;
}

int portls__ossl_ctx_setup(SSL_CTX *ssl_ctx, const portls_be_ctx_config *cfg, portls_error *err) {
  /* BoringSSL has no security levels. What OpenSSL's level >= 1 does to the
   * protocol range, though, is visible: TLS 1.0 and 1.1 sign with MD5+SHA-1
   * or SHA-1, which level 1 forbids, so they cannot be negotiated (see
   * backends/openssl/openssl.c). BoringSSL's own default minimum is TLS 1.0;
   * the same range is had here by a TLS 1.2 floor when no minimum is
   * configured, unless the cipher string asks for level 0 as Node users do
   * ("DEFAULT:@SECLEVEL=0"). A configured minimum is applied later and wins,
   * as OpenSSL's own range setting does. The floor is also Node 17+'s default
   * minVersion. */
  if (cfg->min_version == 0 && bssl_openssl_level(cfg) >= 1) {
    ERR_clear_error();
    if (!SSL_CTX_set_min_proto_version(ssl_ctx, TLS1_2_VERSION))
      return portls__ossl_lib_err(err, PORTLS_EPROTOCOL_METHOD, "minimum TLS version");
  }
  return 0;
}

/* BoringSSL has no finite-field DHE (SSL_CTX_set_tmp_dh is a documented
 * no-op, no DHE-* suite exists), so dhparam cannot widen what is offered; the
 * capability set says so (no PORTLS_CAP_DHE). Core has already applied the
 * specification's rules to the parameters on every backend (under 1024 bits:
 * PORTLS_EDHPARAM; unparsable: ignored), so nothing is left to do here. */
int portls__ossl_set_dhparam(SSL_CTX *ssl_ctx, portls_buf pem, portls_error *err) {
  (void)ssl_ctx;
  (void)pem;
  (void)err;
  return 0;
}

/* With a rotation's previous keys: a callback with the same algorithms,
 * which also opens (and renews) tickets under the previous keys. */
static int bssl_ticket_cb(SSL *ssl, uint8_t *key_name, uint8_t *iv, EVP_CIPHER_CTX *ectx,
                          HMAC_CTX *hctx, int enc) {
  portls_be_ctx *ctx = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
  if (ctx == NULL) return -1;
  /* Copies, under the context's lock: another thread may rotate the keys. */
  uint8_t keys[48], old_keys[48];
  pthread_mutex_lock(&ctx->lock);
  int have = ctx->has_ticket_keys, have_old = ctx->has_old_ticket_keys;
  memcpy(keys, ctx->ticket_keys, sizeof keys);
  memcpy(old_keys, ctx->old_ticket_keys, sizeof old_keys);
  pthread_mutex_unlock(&ctx->lock);
  if (!have) return -1;
  const uint8_t *use = keys;
  int ret = 1;
  if (enc) {
    memcpy(key_name, keys, 16);
    RAND_bytes(iv, 16);
  } else if (memcmp(key_name, keys, 16) != 0) {
    if (!have_old || memcmp(key_name, old_keys, 16) != 0) return 0;
    use = old_keys;
    ret = 2; /* renewed under the current keys */
  }
  if (!HMAC_Init_ex(hctx, use + 16, 16, EVP_sha256(), NULL)) return -1;
  if (enc ? !EVP_EncryptInit_ex(ectx, EVP_aes_128_cbc(), NULL, use + 32, iv)
          : !EVP_DecryptInit_ex(ectx, EVP_aes_128_cbc(), NULL, use + 32, iv))
    return -1;
  return ret;
}

/* BoringSSL's own 48-byte setter has exactly Node's layout and algorithms:
 * name 16 | HMAC-SHA256 key 16 | AES-128-CBC key 16. After a rotation the
 * callback above takes over (a set callback wins over the keys). */
int portls__ossl_set_ticket_keys(portls_be_ctx *ctx, portls_error *err) {
  ERR_clear_error();
  if (!SSL_CTX_set_tlsext_ticket_keys(ctx->ssl_ctx, ctx->ticket_keys, sizeof ctx->ticket_keys))
    return portls__ossl_lib_err(err, PORTLS_ETICKET_KEYS, "ticketKeys");
  /* Installed once, at the first rotation (writing the SSL_CTX again while
   * other threads handshake on it would race). */
  pthread_mutex_lock(&ctx->lock);
  int install = ctx->has_old_ticket_keys && !ctx->ticket_cb_set;
  if (install) ctx->ticket_cb_set = 1;
  pthread_mutex_unlock(&ctx->lock);
  if (install && !SSL_CTX_set_tlsext_ticket_key_cb(ctx->ssl_ctx, bssl_ticket_cb))
    return portls__ossl_lib_err(err, PORTLS_ETICKET_KEYS, "ticketKeys");
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Node: getEphemeralKeyInfo(), client side only.
 *
 * SSL_get_server_tmp_key always returns 0 in BoringSSL and there is no
 * SSL_get_peer_tmp_key; the group id is all there is. Names and sizes are
 * what OpenSSL reports for the same group (X25519 counts 253 bits). */

typedef struct bssl_group {
  uint16_t id; /* TLS NamedGroup */
  const char *name;
  int bits;
} bssl_group;

static const bssl_group bssl_groups[] = {
    {21, "secp224r1", 224}, {23, "prime256v1", 256}, {24, "secp384r1", 384},
    {25, "secp521r1", 521}, {29, "X25519", 253},
};

void portls__ossl_ephemeral(portls_be_session *s, portls_be_info *info) {
  if (SSL_is_server(s->ssl)) return;
  /* A resumed TLS 1.2 handshake exchanges no key, though SSL_get_curve_id
   * still names the group of the handshake that made the session; OpenSSL,
   * mbedTLS and Node report nothing then. (A resumed TLS 1.3 handshake does
   * exchange one: psk_dhe_ke.) */
  if (SSL_session_reused(s->ssl) && SSL_version(s->ssl) < TLS1_3_VERSION) return;
  /* Only ECDHE exists here; TLS 1.2 RSA key exchange has no ephemeral key. */
  uint16_t id = SSL_get_curve_id(s->ssl);
  if (id == 0) return;
  for (size_t i = 0; i < PORTLS__ARRAY_SIZE(bssl_groups); i++) {
    if (bssl_groups[i].id == id) {
      snprintf(s->ephemeral_name, sizeof s->ephemeral_name, "%s", bssl_groups[i].name);
      info->ephemeral_type = "ECDH";
      info->ephemeral_name = s->ephemeral_name;
      info->ephemeral_bits = bssl_groups[i].bits;
      return;
    }
  }
  /* A group OpenSSL has no name for (a post-quantum hybrid): not reported,
   * rather than reported under a name no other backend uses. It cannot be
   * negotiated unless ecdhCurve names it, and the curve-name mapping in
   * ossl.c accepts OpenSSL's names only. */
}

/* ------------------------------------------------------------------------ */
/* Library-wide                                                               */

#define BSSL_STR2(x) #x
#define BSSL_STR(x) BSSL_STR2(x)

static const char *bssl_version(void) {
  /* OpenSSL_version() says just "BoringSSL"; the API version is the only
   * version BoringSSL has. */
  return "BoringSSL (API " BSSL_STR(BORINGSSL_API_VERSION) ")";
}

static int bssl_global_init(const portls_allocator *alloc) {
  /* BoringSSL takes no allocation functions at run time (only link-time
   * OPENSSL_memory_* overrides in builds made for them), so the portls
   * allocator covers portls's own memory and not the library's. */
  (void)alloc;
  CRYPTO_library_init();
  return 0;
}

#define BSSL_CAP(c) (UINT64_C(1) << PORTLS_CAP_##c)

/* What compiled, and what this backend implements through backend.h. */
static uint64_t bssl_capabilities(void) {
  uint64_t caps = 0;
#if !defined(OPENSSL_NO_TLS1)
  caps |= BSSL_CAP(TLS1_0);
#endif
#if !defined(OPENSSL_NO_TLS1_1)
  caps |= BSSL_CAP(TLS1_1);
#endif
#if !defined(OPENSSL_NO_TLS1_2)
  caps |= BSSL_CAP(TLS1_2);
#endif
#if defined(TLS1_3_VERSION) && !defined(OPENSSL_NO_TLS1_3)
  caps |= BSSL_CAP(TLS1_3);
#endif
  caps |= BSSL_CAP(ALPN) | BSSL_CAP(SNI);
#if defined(PORTLS_OSSL_HAS_NPN)
  caps |= BSSL_CAP(NPN);
#endif
  /* OCSP as raw bytes: SSL_set_ocsp_response, SSL_get0_ocsp_response. */
  caps |= BSSL_CAP(OCSP_STAPLING) | BSSL_CAP(OCSP_REQUEST) | BSSL_CAP(SESSION_CACHE);
  /* DHE / DH_SIZE / MIN_DH_SIZE: no finite-field DHE at all (no DHE-* suite,
   * SSL_CTX_set_tmp_dh is a no-op), so no DH size to report, and a minDHSize
   * check could never be exercised.
   *
   * RENEG_CLIENT / RENEG_SERVER: BoringSSL cannot initiate a renegotiation
   * (SSL_renegotiate returns 0). It only lets a client answer a server's
   * HelloRequest, which session_new allows, as OpenSSL does by default.
   * RENEG_COUNT: a BoringSSL server rejects every client renegotiation with
   * a fatal alert before any callback sees it; nothing to count. */
  caps |= BSSL_CAP(ECDH_CURVES);
  caps |= BSSL_CAP(SESSION_TICKETS) | BSSL_CAP(TICKET_KEYS) | BSSL_CAP(TICKET_ROTATION);
  caps |= BSSL_CAP(PFX) | BSSL_CAP(ENCRYPTED_KEYS) | BSSL_CAP(CRL);
  caps |= BSSL_CAP(CIPHER_SERVER_PREF) | BSSL_CAP(CIPHER_CLIENT_PREF);
  caps |= BSSL_CAP(MAX_SEND_FRAGMENT);
  /* FINISHED: SSL_get_finished tells nothing in TLS 1.3 (BoringSSL points to
   * SSL_get_tls_unique instead), so getFinished works in TLS 1.2 only.
   * SHARED_SIGALGS: SSL_get_shared_sigalgs is a stub that returns 0. */
  caps |= BSSL_CAP(EXPORTER) | BSSL_CAP(SIGALGS);
#if defined(PORTLS_OSSL_HAS_PSK)
  /* PSK_TLS1_3: BoringSSL's PSK callbacks serve TLS 1.2 PSK suites only; a
   * TLS 1.3 handshake offers and accepts no external PSK from them. */
  caps |= BSSL_CAP(PSK) | BSSL_CAP(PSK_HINT);
#endif
  caps |= BSSL_CAP(KEYLOG) | BSSL_CAP(TRACE); /* set_keylog, set_trace */
  return caps;
}

const portls_backend portls__backend = {.name = "boringssl",
                                        .version = bssl_version,
                                        .capabilities = bssl_capabilities,
                                        .global_init = bssl_global_init,
                                        PORTLS__OSSL_SHARED_OPS};
