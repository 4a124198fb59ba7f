/* portls backend: mbed TLS 2.28 or 3.6 (see mbed.h for the layout of the backend).
 *
 * This file: the process-wide state (one CTR-DRBG seeded once, the suite
 * list), the crypto primitives core uses, the capability set and the vtable.
 */
#include <stdio.h>
#include <string.h>

#include "backends/mbedtls/mbed.h"

#include <mbedtls/cipher.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>
#include <mbedtls/sha512.h>
#if defined(MBEDTLS_PLATFORM_MEMORY)
#include <mbedtls/platform.h>
#endif
#if defined(MBEDTLS_THREADING_PTHREAD)
#include <pthread.h>
#endif
#if defined(PORTLS_MBED3) && defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#endif

/* ------------------------------------------------------------------------ */
/* Process-wide state                                                         */

static mbedtls_entropy_context mbed_entropy;
static mbedtls_ctr_drbg_context mbed_drbg;
static int mbed_rng_ok;

static uint16_t mbed_suite_ids[512];
static size_t mbed_suite_count;

static char mbed_version_text[32];

static void mbed_global_once(void) {
  static const unsigned char pers[] = "portls";
  mbedtls_entropy_init(&mbed_entropy);
  mbedtls_ctr_drbg_init(&mbed_drbg);
  mbed_rng_ok = mbedtls_ctr_drbg_seed(&mbed_drbg, mbedtls_entropy_func, &mbed_entropy, pers,
                                      sizeof pers - 1) == 0;
#if defined(PORTLS_MBED3) && defined(MBEDTLS_PSA_CRYPTO_C)
  /* mbed TLS 3's TLS 1.3 (and its X.509 and PK code) run on PSA crypto, which
   * must be initialised before the first handshake. */
  if (psa_crypto_init() != PSA_SUCCESS) mbed_rng_ok = 0;
#endif

  /* The library's own preference order (core's cipher-string compiler skips
   * a suite its table does not know). */
  for (const int *id = mbedtls_ssl_list_ciphersuites(); *id != 0; id++) {
    if (*id < 0 || *id > 0xffff) continue;
    if (mbed_suite_count < PORTLS__ARRAY_SIZE(mbed_suite_ids))
      mbed_suite_ids[mbed_suite_count++] = (uint16_t)*id;
  }

  char v[18]; /* the size mbedtls_version_get_string_full documents */
  mbedtls_version_get_string_full(v);
  v[sizeof v - 1] = '\0';
  snprintf(mbed_version_text, sizeof mbed_version_text, "%s", v);
}

#if defined(MBEDTLS_THREADING_PTHREAD)
static pthread_once_t mbed_once = PTHREAD_ONCE_INIT;
static void mbed_global(void) { (void)pthread_once(&mbed_once, mbed_global_once); }
#else
static int mbed_once_done;
static void mbed_global(void) {
  if (!mbed_once_done) {
    mbed_once_done = 1;
    mbed_global_once();
  }
}
#endif

mbedtls_ctr_drbg_context *portls__mbed_rng(void) {
  mbed_global();
  return mbed_rng_ok ? &mbed_drbg : NULL;
}

size_t portls__mbed_suites(const uint16_t **ids) {
  mbed_global();
  if (ids != NULL) *ids = mbed_suite_ids;
  return mbed_suite_count;
}

int portls__mbed_err_detail(portls_error *err, int code, int ret, const char *what,
                            const char *detail) {
  char text[160];
  text[0] = '\0';
  mbedtls_strerror(ret, text, sizeof text);
  if (text[0] == '\0') snprintf(text, sizeof text, "error");
  unsigned v = ret < 0 ? (unsigned)-(long)ret : (unsigned)ret;
  return portls__err(err, code, "%s%smbedtls: %s (%s0x%04x)%s%s", what != NULL ? what : "",
                     what != NULL ? ": " : "", text, ret < 0 ? "-" : "", v,
                     detail != NULL ? ": " : "", detail != NULL ? detail : "");
}

int portls__mbed_err(portls_error *err, int code, int ret, const char *what) {
  return portls__mbed_err_detail(err, code, ret, what, NULL);
}

/* ------------------------------------------------------------------------ */
/* Library-wide                                                               */

static const char *mbed_version(void) {
  mbed_global();
  return mbed_version_text;
}

#if defined(MBEDTLS_PLATFORM_MEMORY)
static portls_allocator mbed_alloc;

static void *mbed_calloc(size_t n, size_t size) {
  if (n == 0 || size == 0) return NULL;
  if (n > SIZE_MAX / size) return NULL;
  void *p = mbed_alloc.malloc_fn(mbed_alloc.ctx, n * size);
  if (p != NULL) memset(p, 0, n * size);
  return p;
}

static void mbed_free(void *p) {
  if (p != NULL) mbed_alloc.free_fn(mbed_alloc.ctx, p);
}
#endif

static int mbed_global_init(const portls_allocator *alloc) {
#if defined(MBEDTLS_PLATFORM_MEMORY)
  /* Only before mbed TLS has allocated anything: memory from one allocator
   * must never reach the other's free. */
  static int set;
  if (!set && alloc != NULL && alloc->malloc_fn != NULL && alloc->free_fn != NULL) {
    mbed_alloc = *alloc;
    mbedtls_platform_set_calloc_free(mbed_calloc, mbed_free);
    set = 1;
  }
#else
  /* Debian's build has no MBEDTLS_PLATFORM_MEMORY: mbed TLS uses calloc/free. */
  (void)alloc;
#endif
  mbed_global();
  return mbed_rng_ok ? 0 : PORTLS_EIO;
}

/* ------------------------------------------------------------------------ */
/* Primitives                                                                 */

static int mbed_digest(int alg, const void *data, size_t len, uint8_t *out) {
  switch (alg) {
  case PORTLS_BE_SHA1:
    return PORTLS_MBED_SHA1(data, len, out) == 0 ? 0 : PORTLS_EINVAL;
  case PORTLS_BE_SHA256:
    return PORTLS_MBED_SHA256(data, len, out, 0) == 0 ? 0 : PORTLS_EINVAL;
#if defined(PORTLS_MBED_HAS_SHA384)
  case PORTLS_BE_SHA384:
    return PORTLS_MBED_SHA512(data, len, out, 1) == 0 ? 0 : PORTLS_EINVAL;
#else
  case PORTLS_BE_SHA384:
    return PORTLS_ENOTSUP;
#endif
#if defined(MBEDTLS_SHA512_C)
  case PORTLS_BE_SHA512:
    return PORTLS_MBED_SHA512(data, len, out, 0) == 0 ? 0 : PORTLS_EINVAL;
#else
  case PORTLS_BE_SHA512:
    return PORTLS_ENOTSUP;
#endif
  default:
    return PORTLS_EINVAL;
  }
}

int portls__mbed_cbc(mbedtls_cipher_type_t type, mbedtls_operation_t op, const uint8_t *key,
                     const uint8_t *iv, const uint8_t *in, size_t len, uint8_t *out,
                     size_t *out_len) {
  *out_len = 0;
  const mbedtls_cipher_info_t *info = mbedtls_cipher_info_from_type(type);
  if (info == NULL)
    return MBEDTLS_ERR_CIPHER_FEATURE_UNAVAILABLE; /* not compiled into this mbed TLS */
  mbedtls_cipher_context_t c;
  mbedtls_cipher_init(&c);
  int ret = mbedtls_cipher_setup(&c, info);
  if (ret == 0) ret = mbedtls_cipher_setkey(&c, key, (int)PORTLS_MBED_KEY_BITLEN(info), op);
#if defined(MBEDTLS_CIPHER_PADDING_PKCS7)
  if (ret == 0) ret = mbedtls_cipher_set_padding_mode(&c, MBEDTLS_PADDING_PKCS7);
#else
  if (ret == 0) ret = MBEDTLS_ERR_CIPHER_FEATURE_UNAVAILABLE;
#endif
  if (ret == 0)
    ret = mbedtls_cipher_crypt(&c, iv, PORTLS_MBED_IV_SIZE(info), in, len, out, out_len);
  mbedtls_cipher_free(&c);
  return ret;
}

/* CBC decryption with PKCS#7 padding, for core's PKCS#8 / PKCS#12 decoders. */
static int mbed_cipher_decrypt(int alg, const uint8_t *key, const uint8_t *iv, const uint8_t *in,
                               size_t len, uint8_t *out, size_t *out_len) {
  mbedtls_cipher_type_t type;
  *out_len = 0;
  switch (alg) {
  case PORTLS_BE_AES_128_CBC:
    type = MBEDTLS_CIPHER_AES_128_CBC;
    break;
  case PORTLS_BE_AES_192_CBC:
    type = MBEDTLS_CIPHER_AES_192_CBC;
    break;
  case PORTLS_BE_AES_256_CBC:
    type = MBEDTLS_CIPHER_AES_256_CBC;
    break;
  case PORTLS_BE_DES_EDE3_CBC:
    type = MBEDTLS_CIPHER_DES_EDE3_CBC;
    break;
  default:
    return PORTLS_EINVAL;
  }
  const mbedtls_cipher_info_t *info = mbedtls_cipher_info_from_type(type);
  if (info == NULL) return PORTLS_ENOTSUP;
  if (len == 0 || len % PORTLS_MBED_BLOCK_SIZE(info) != 0) return PORTLS_EINVAL;
  switch (portls__mbed_cbc(type, MBEDTLS_DECRYPT, key, iv, in, len, out, out_len)) {
  case 0:
    return 0;
  case MBEDTLS_ERR_CIPHER_INVALID_PADDING:
    return PORTLS_EBAD_PASSPHRASE;
  case MBEDTLS_ERR_CIPHER_ALLOC_FAILED:
    return PORTLS_ENOMEM;
  case MBEDTLS_ERR_CIPHER_FEATURE_UNAVAILABLE:
    return PORTLS_ENOTSUP;
  default:
    return PORTLS_EINVAL;
  }
}

static int mbed_random(uint8_t *buf, size_t len) {
  mbedtls_ctr_drbg_context *rng = portls__mbed_rng();
  if (rng == NULL) return PORTLS_EIO;
  while (len > 0) {
    size_t n = len > MBEDTLS_CTR_DRBG_MAX_REQUEST ? MBEDTLS_CTR_DRBG_MAX_REQUEST : len;
    if (mbedtls_ctr_drbg_random(rng, buf, n) != 0) return PORTLS_EIO;
    buf += n;
    len -= n;
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Capabilities                                                               */

#define MBED_CAP(c) (UINT64_C(1) << PORTLS_CAP_##c)

/* What compiled, and what this backend implements through backend.h. */
static uint64_t mbed_capabilities(void) {
  uint64_t caps = 0;
#if defined(MBEDTLS_SSL_PROTO_TLS1)
  caps |= MBED_CAP(TLS1_0);
#endif
#if defined(MBEDTLS_SSL_PROTO_TLS1_1)
  caps |= MBED_CAP(TLS1_1);
#endif
#if defined(MBEDTLS_SSL_PROTO_TLS1_2)
  caps |= MBED_CAP(TLS1_2);
#endif
  /* TLS1_3: on 3.6, both roles, with tickets (through the same callbacks) and
   * HelloRetryRequest; never on 2.28, whose MBEDTLS_SSL_PROTO_TLS1_3_EXPERIMENTAL
   * is a prototype that crashes when both ends configure minor version 4. */
#if defined(PORTLS_MBED_TLS13)
  caps |= MBED_CAP(TLS1_3);
#endif
#if defined(MBEDTLS_SSL_ALPN)
  caps |= MBED_CAP(ALPN);
#endif
  /* NPN, OCSP_STAPLING, OCSP_REQUEST: neither 2.28 nor 3.6 has either
   * extension (3.6's source has no status_request and no NPN code). */
#if defined(MBEDTLS_SSL_SERVER_NAME_INDICATION)
  caps |= MBED_CAP(SNI);
#endif
#if defined(MBEDTLS_KEY_EXCHANGE_DHE_RSA_ENABLED) && defined(MBEDTLS_DHM_C)
  /* DH_SIZE: info() reports the server's prime size, captured while the
   * handshake is stepped; MIN_DH_SIZE: core checks it against that. */
  caps |= MBED_CAP(DHE) | MBED_CAP(DH_SIZE) | MBED_CAP(MIN_DH_SIZE);
#endif
#if defined(MBEDTLS_ECDH_C) && (defined(MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED) ||                 \
                                defined(MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED))
  caps |= MBED_CAP(ECDH_CURVES);
#endif
#if defined(MBEDTLS_SSL_RENEGOTIATION)
  /* Both roles initiate (renegotiate()); a server accepts a client's, and
   * handshakes() counts them for core's limiter. */
  caps |= MBED_CAP(RENEG_CLIENT) | MBED_CAP(RENEG_SERVER) | MBED_CAP(RENEG_COUNT);
#endif
#if defined(MBEDTLS_SSL_SRV_C)
  /* A server's sessions by id: mbed TLS's cache callbacks, on core's store. */
  caps |= MBED_CAP(SESSION_CACHE);
#endif
#if defined(PORTLS_MBED_TICKETS)
  /* Our own ticket callbacks with Node's 48-byte keys (context.c). */
  caps |= MBED_CAP(SESSION_TICKETS) | MBED_CAP(TICKET_KEYS) | MBED_CAP(TICKET_ROTATION);
#endif
  /* PFX: no PKCS#12 parser in 2.28; core decodes it (and adds the capability)
   * because cipher_decrypt is there. */
#if defined(MBEDTLS_PEM_PARSE_C) && (defined(MBEDTLS_DES_C) || defined(MBEDTLS_AES_C))
  /* mbed TLS itself reads traditional PEM (AES, 3DES) and PKCS#8 PBES2-3DES
   * but not PKCS#8 with AES (OpenSSL 3's default); since .native is 0, core
   * decodes every encrypted key first, so all forms load. */
  caps |= MBED_CAP(ENCRYPTED_KEYS);
#endif
#if defined(MBEDTLS_X509_CRL_PARSE_C)
  caps |= MBED_CAP(CRL);
#endif
#if defined(PORTLS_MBED_PSK)
  /* PSK: TLS 1.2 PSK suites. PSK_HINT: mbed TLS 2.28 neither sends a hint
   * (its ServerKeyExchange carries an empty one) nor shows a client the one
   * it receives. PSK_TLS1_3: no TLS 1.3 in 2.28. */
  caps |= MBED_CAP(PSK);
#endif
  /* The server always picks in its own order; client order is a compile-time
   * option (MBEDTLS_SSL_SRV_RESPECT_CLIENT_PREFERENCE) and then the only one. */
#if defined(MBEDTLS_SSL_SRV_RESPECT_CLIENT_PREFERENCE)
  caps |= MBED_CAP(CIPHER_CLIENT_PREF);
#else
  caps |= MBED_CAP(CIPHER_SERVER_PREF);
#endif
  /* Records of at most the fragment size, by writing in chunks. */
  caps |= MBED_CAP(MAX_SEND_FRAGMENT);
  /* mbedtls_ssl_conf_own_cert keeps a list; the first pair that suits the
   * suite and the client's curves is used (RSA + ECDSA on one server). */
  caps |= MBED_CAP(MULTI_CERT);
#if defined(PORTLS_MBED3)
  /* 3.6: each secret from the per-connection export callback (no TLS 1.3
   * exporter secret among them: four TLS 1.3 lines). */
  caps |= MBED_CAP(KEYLOG);
#endif
#if defined(PORTLS_MBED3) && defined(MBEDTLS_SSL_KEYING_MATERIAL_EXPORT)
  /* 3.6: mbedtls_ssl_export_keying_material (RFC 5705, RFC 8446 7.5). */
  caps |= MBED_CAP(EXPORTER);
#elif defined(MBEDTLS_SSL_EXPORT_KEYS)
  /* 2.28: RFC 5705 from the key-export callback's master secret and randoms. */
  caps |= MBED_CAP(EXPORTER);
  caps |= MBED_CAP(KEYLOG); /* CLIENT_RANDOM lines from the key export callback */
#endif
#if !defined(PORTLS_MBED3) && defined(MBEDTLS_SSL_RENEGOTIATION)
  /* 2.28: the verify_data mbed TLS keeps for secure renegotiation. 3.6
   * keeps none for TLS 1.3, so it lacks the capability (as BoringSSL). */
  caps |= MBED_CAP(FINISHED);
#endif
  /* SIGALGS: 2.28 configures hashes only (mbedtls_ssl_conf_sig_hashes), not
   * which signature schemes; SHARED_SIGALGS: nothing tells them. */
#if !defined(PORTLS_MBED3)
  /* observe.c reads the messages off the records; TLS 1.3 (3.6) encrypts
   * them from the ServerHello on, so 3.6 lacks the capability. */
  caps |= MBED_CAP(TRACE);
#endif
  return caps;
}

const portls_backend portls__backend = {
    .name = "mbedtls",
    /* Nothing native: core decodes PFX and every encrypted key with
     * digest/cipher_decrypt (2.28 cannot read PKCS#8 with AES, nor PKCS#12),
     * so all key forms fail and succeed alike. */
    .native = 0,
    .version = mbed_version,
    .capabilities = mbed_capabilities,
    .global_init = mbed_global_init,
    .ctx_new = portls__mbed_ctx_new,
    .ctx_free = portls__mbed_ctx_free,
    .session_new = portls__mbed_session_new,
    .session_free = portls__mbed_session_free,
    .handshake = portls__mbed_handshake,
    .read = portls__mbed_read,
    .write = portls__mbed_write,
    .shutdown = portls__mbed_shutdown,
    .info = portls__mbed_info,
    .peer_cert = portls__mbed_peer_cert,
    .verified_cert = portls__mbed_verified_cert,
    .set_max_send_fragment = portls__mbed_set_max_send_fragment,
    .get_session = portls__mbed_get_session,
    .session_ready = portls__mbed_session_ready,
    .set_ticket_keys = portls__mbed_set_ticket_keys,
    .set_old_ticket_keys = portls__mbed_set_old_ticket_keys,
    .server_session = portls__mbed_server_session,
    .ticket = portls__mbed_ticket,
    .renegotiate = portls__mbed_renegotiate,
    .handshakes = portls__mbed_handshakes,
    .digest = mbed_digest,
    .random = mbed_random,
    .cipher_decrypt = mbed_cipher_decrypt,
    .suites = portls__mbed_suites,
#if (defined(PORTLS_MBED3) && defined(MBEDTLS_SSL_KEYING_MATERIAL_EXPORT)) ||                      \
    (!defined(PORTLS_MBED3) && defined(MBEDTLS_SSL_EXPORT_KEYS))
    .export_keying_material = portls__mbed_export_keying_material,
#endif
#if defined(MBEDTLS_SSL_RENEGOTIATION)
    /* 3.6: TLS 1.2 only (no capability), as on BoringSSL. */
    .finished = portls__mbed_finished,
#endif
#if defined(PORTLS_MBED3) || defined(MBEDTLS_SSL_EXPORT_KEYS)
    .set_keylog = portls__mbed_set_keylog,
#endif
#if !defined(PORTLS_MBED3)
    .set_trace = portls__mbed_set_trace,
#endif
};
