/* portls backends: what the OpenSSL and BoringSSL backends share.
 *
 * backends/common/ossl.c is compiled into both libraries (curl's vtls/openssl.c
 * model): it implements almost all of include/portls/backend.h against the API
 * the two libraries have in common. Each library's own file
 * (backends/openssl/openssl.c, backends/boringssl/boringssl.c) defines the
 * vtable, the capability set and the few hooks declared at the end of this
 * header, where the two APIs part ways.
 *
 * Vendor macros are turned into feature macros here, once; the code tests the
 * features, never the vendor:
 *   PORTLS_OSSL_BORING          BoringSSL (OPENSSL_IS_BORINGSSL)
 *   PORTLS_OSSL_HAS_EX_IO       SSL_read_ex / SSL_write_ex
 *   PORTLS_OSSL_HAS_TLS13_SUITES  TLS 1.3 suites are configurable (SSL_CTX_set_ciphersuites)
 *   PORTLS_OSSL_HAS_MULTI_CERT  several key/cert pairs per context (SSL_CTX_use_cert_and_key)
 *   PORTLS_OSSL_HAS_VERIFIED_CHAIN  SSL_get0_verified_chain (else the verify callback
 *                               keeps a copy of the chain it saw)
 *   PORTLS_OSSL_HAS_NPN         NPN callbacks
 *   PORTLS_OSSL_HAS_OCSP        OCSP status_request
 *   PORTLS_OSSL_HAS_GROUPS_LIST SSL_CTX_set1_groups_list (else set1_curves_list)
 *   PORTLS_OSSL_HAS_GET0_PEER_CERT  SSL_get0_peer_certificate
 *
 * Naming: OpenSSL 3 exports symbols of its own that start with `ossl_`, so
 * statics here are `pssl_*` and what the two files share is `portls__ossl_*`.
 */
#ifndef PORTLS_BACKENDS_COMMON_OSSL_H
#define PORTLS_BACKENDS_COMMON_OSSL_H

#include <stddef.h>
#include <stdint.h>

#include <pthread.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "portls/backend.h"

#if defined(OPENSSL_IS_BORINGSSL)
#define PORTLS_OSSL_BORING 1
#else
#define PORTLS_OSSL_OPENSSL 1
#if OPENSSL_VERSION_NUMBER < 0x30000000L
#error "portls: the OpenSSL backend needs OpenSSL 3.0 or later"
#endif
#define PORTLS_OSSL_HAS_EX_IO 1
#define PORTLS_OSSL_HAS_MULTI_CERT 1
#define PORTLS_OSSL_HAS_VERIFIED_CHAIN 1
#define PORTLS_OSSL_HAS_GROUPS_LIST 1
#define PORTLS_OSSL_HAS_GET0_PEER_CERT 1
#if defined(TLS1_3_VERSION) && !defined(OPENSSL_NO_TLS1_3)
#define PORTLS_OSSL_HAS_TLS13_SUITES 1
#endif
#endif

/* A TLS 1.3 server connection at rest releases its SSL (ossl_lean.c): needs
 * the key-log callback and SSL_get_key_update_type. BoringSSL's sessions are
 * small already, and it sends its tickets lazily (see pssl_read in ossl.c). */
#if defined(PORTLS_OSSL_OPENSSL) && defined(TLS1_3_VERSION) && !defined(OPENSSL_NO_TLS1_3)
#define PORTLS_OSSL_LEAN 1
#endif

#if !defined(OPENSSL_NO_NEXTPROTONEG)
#define PORTLS_OSSL_HAS_NPN 1
#endif
/* pskCallback: SSL_set_psk_{client,server}_callback (both libraries; OpenSSL 3
 * also uses them for TLS 1.3 external PSKs, BoringSSL does not). */
#if !defined(OPENSSL_NO_PSK)
#define PORTLS_OSSL_HAS_PSK 1
#if defined(PORTLS_OSSL_OPENSSL) && defined(PORTLS_OSSL_HAS_TLS13_SUITES)
#define PORTLS_OSSL_HAS_PSK_TLS13 1
#endif
#endif
/* BoringSSL defines OPENSSL_NO_OCSP (no OCSP ASN.1 helpers) yet still does
 * status_request with raw bytes; the TLS extension is what matters here. */
#if !defined(OPENSSL_NO_OCSP) || defined(PORTLS_OSSL_BORING)
#define PORTLS_OSSL_HAS_OCSP 1
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* DER of certificates, cached per index so that the portls_buf handed to core
 * stays valid while the session lives. */
typedef struct portls__ossl_der_cache {
  portls_buf *items; /* items[i].base NULL: not computed yet */
  size_t count;
} portls__ossl_der_cache;

#if defined(PORTLS_OSSL_LEAN)
/* ossl_lean.c's, opaque here: the TLS 1.3 traffic state followed while the SSL
 * lives, then the record layer that carries on without it. */
typedef struct portls__ossl_lean portls__ossl_lean;
#endif

/* The session operations of backend.h that depend on what a session stands
 * on: the library's SSL (ossl.c), or, once a quiet server session has given
 * its SSL back, portls's own TLS 1.3 record layer (ossl_lean.c). The vtable's
 * entries go through the session's table (portls__ossl_read, ...); rest()
 * switches it. Entries as in backend.h; renegotiate and rest may be NULL
 * where the vtable has none. */
typedef struct portls__ossl_ops {
  int (*handshake)(portls_be_session *s, portls_error *err);
  int (*read)(portls_be_session *s, uint8_t *buf, size_t cap, size_t *nread, portls_error *err);
  int (*write)(portls_be_session *s, const uint8_t *buf, size_t len, portls_error *err);
  int (*shutdown)(portls_be_session *s, portls_error *err);
  void (*info)(portls_be_session *s, portls_be_info *info);
  int (*peer_cert)(portls_be_session *s, size_t index, portls_buf *der);
  int (*verified_cert)(portls_be_session *s, size_t index, portls_buf *der);
  int (*set_max_send_fragment)(portls_be_session *s, size_t size);
  int (*get_session)(portls_be_session *s, portls_buf *out, portls_error *err);
  int (*server_session)(portls_be_session *s, portls_buf *id, portls_buf *data, portls_error *err);
  int (*ticket)(portls_be_session *s, portls_buf *out);
  int (*ocsp_response)(portls_be_session *s, portls_buf *out);
  int (*renegotiate)(portls_be_session *s, int verify_peer, portls_error *err);
  int (*rest)(portls_be_session *s);
  int (*export_keying_material)(portls_be_session *s, uint8_t *out, size_t len, const char *label,
                                size_t label_len, const uint8_t *context, size_t context_len,
                                int use_context, portls_error *err);
  size_t (*finished)(portls_be_session *s, int peer, uint8_t *buf, size_t cap);
  int (*shared_sigalgs)(portls_be_session *s, char **out, portls_error *err);
} portls__ossl_ops;

/* A context may be shared by loops on several threads: SSL_CTX locks itself;
 * what this struct adds and changes after creation (the offered-session
 * cache, the ticket keys) is read and written under `lock`. */
struct portls_be_ctx {
  SSL_CTX *ssl_ctx;
#if defined(PORTLS_OSSL_LEAN)
  SSL_CTX *rest_ssl_ctx; /* the same configuration, following secrets (ossl.c); NULL: none */
#endif
  pthread_mutex_t lock;
  /* The last session a client offered, decoded: a client resuming again and
   * again offers the same bytes, and decoding them (the peer's certificate
   * included) was 40% of a resumed handshake. */
  SSL_SESSION *offered;
  uint8_t *offered_der;
  size_t offered_len;
  int has_ticket_keys;
  uint8_t ticket_keys[48]; /* Node's layout: name 16 | HMAC-SHA256 key 16 | AES-128 key 16 */
  int has_old_ticket_keys;
  uint8_t old_ticket_keys[48]; /* the previous keys after a rotation: accepted, never issued */
  int ticket_cb_set;           /* OpenSSL: the ticket key callback is installed (once) */
};

struct portls_be_session {
  const portls__ossl_ops *ops; /* what the session stands on (see portls__ossl_ops) */
  SSL *ssl;                    /* NULL once the session rests */
#if defined(PORTLS_OSSL_LEAN)
  portls__ossl_lean *rest; /* ossl_lean.c's; NULL until a server's first TLS 1.3 secret */
#endif
  portls_be_io io;
  int io_error;       /* the last failure of io.send, reported instead of "syscall" */
  uint8_t *alpn_wire; /* server: our preference list (wire form) */
  size_t alpn_len;
  uint8_t *npn_wire; /* server: the advertised list; client: our own list */
  size_t npn_len;
  char alpn[256]; /* agreed protocols, NUL-terminated for portls_be_info */
  char npn[256];
  char ephemeral_name[32];
  portls__ossl_der_cache peer;
  portls__ossl_der_cache verified;
#if !defined(PORTLS_OSSL_HAS_VERIFIED_CHAIN)
  STACK_OF(X509) * verified_chain; /* the chain the last verify callback saw */
#endif
  /* The newest session the library handed to the new-session callback: in
   * TLS 1.3 SSL_get1_session may not be resumable, the tickets arrive later. */
  SSL_SESSION *latest_session;
  int new_session; /* one arrived since core last asked (session_ready) */
  uint8_t *resume; /* server: resumeSession's answer, returned by pssl_get_session_cb */
  size_t resume_len;
  unsigned hs_started, hs_done; /* handshakes, the first included (handshakes()) */
  char *servername;             /* server: the SNI name received, for portls_be_info */
  size_t max_send_fragment;     /* setMaxSendFragment; the rested record layer cuts records by it */
  /* pskCallback (portls_be_session_config): core's functions and argument;
   * psk_used: one of them gave a key in this session. */
  int (*psk_client)(void *psk_arg, const char *hint, portls_psk *psk);
  int (*psk_server)(void *psk_arg, const char *identity, portls_psk *psk);
  void *psk_arg;
  int psk_used;
  /* Observers core installed (set_keylog, set_trace); NULL: none. */
  portls_be_keylog_fn keylog;
  void *keylog_user;
  portls_be_msg_fn trace;
  void *trace_user;
#if defined(PORTLS_OSSL_BORING)
  int verify_last_error; /* the last error the verify callback passed on */
  int tickets_flushed;   /* server: TLS 1.3 tickets sent (see pssl_read in ossl.c) */
#endif
};

/* The shared implementation of backend.h; each library's vtable points here. */
int portls__ossl_ctx_new(const portls_be_ctx_config *cfg, portls_be_ctx **out, portls_error *err);
void portls__ossl_ctx_free(portls_be_ctx *ctx);
int portls__ossl_session_new(portls_be_ctx *ctx, const portls_be_session_config *cfg,
                             const portls_be_io *io, portls_be_session **out, portls_error *err);
void portls__ossl_session_free(portls_be_session *s);
int portls__ossl_handshake(portls_be_session *s, portls_error *err);
int portls__ossl_read(portls_be_session *s, uint8_t *buf, size_t cap, size_t *nread,
                      portls_error *err);
int portls__ossl_write(portls_be_session *s, const uint8_t *buf, size_t len, portls_error *err);
int portls__ossl_shutdown(portls_be_session *s, portls_error *err);
void portls__ossl_info(portls_be_session *s, portls_be_info *info);
int portls__ossl_peer_cert(portls_be_session *s, size_t index, portls_buf *der);
int portls__ossl_verified_cert(portls_be_session *s, size_t index, portls_buf *der);
int portls__ossl_set_max_send_fragment(portls_be_session *s, size_t size);
int portls__ossl_get_session(portls_be_session *s, portls_buf *out, portls_error *err);
int portls__ossl_session_ready(portls_be_session *s);
int portls__ossl_set_ticket_keys_op(portls_be_ctx *ctx, const uint8_t keys[48], portls_error *err);
int portls__ossl_set_old_ticket_keys_op(portls_be_ctx *ctx, const uint8_t keys[48],
                                        portls_error *err);
int portls__ossl_server_session(portls_be_session *s, portls_buf *id, portls_buf *data,
                                portls_error *err);
int portls__ossl_ticket(portls_be_session *s, portls_buf *out);
int portls__ossl_ocsp_response(portls_be_session *s, portls_buf *out);
#if !defined(PORTLS_OSSL_BORING)
int portls__ossl_renegotiate(portls_be_session *s, int verify_peer, portls_error *err);
void portls__ossl_handshakes(portls_be_session *s, unsigned *started, unsigned *completed);
#endif
int portls__ossl_export_keying_material(portls_be_session *s, uint8_t *out, size_t len,
                                        const char *label, size_t label_len, const uint8_t *context,
                                        size_t context_len, int use_context, portls_error *err);
size_t portls__ossl_finished(portls_be_session *s, int peer, uint8_t *buf, size_t cap);
#if !defined(PORTLS_OSSL_BORING)
/* Node's names for the shared signature algorithms, ':'-joined. */
int portls__ossl_shared_sigalgs(portls_be_session *s, char **out, portls_error *err);
/* The same as (sign NID, hash NID) pairs into pairs[2 * max] (NULL: count
 * only); returns how many there are. For a session that still has its SSL. */
size_t portls__ossl_sigalg_pairs(portls_be_session *s, uint16_t *pairs, size_t max);
/* Formats n pairs as portls__ossl_shared_sigalgs does (*out: portls's allocator). */
int portls__ossl_sigalgs_text(const uint16_t *pairs, size_t n, char **out, portls_error *err);
#endif
void portls__ossl_set_keylog(portls_be_session *s, portls_be_keylog_fn fn, void *user);
void portls__ossl_set_trace(portls_be_session *s, portls_be_msg_fn fn, void *user);
int portls__ossl_digest(int alg, const void *data, size_t len, uint8_t *out);
int portls__ossl_cipher_decrypt(int alg, const uint8_t *key, const uint8_t *iv, const uint8_t *in,
                                size_t len, uint8_t *out, size_t *out_len);
int portls__ossl_random(uint8_t *buf, size_t len);
size_t portls__ossl_suites(const uint16_t **ids);

/* X509_V_ERR_* → 0 or a PORTLS_E* verification code (unknown: PORTLS_EVERIFY_FAILED). */
int portls__ossl_verify_code(long x509_v_err);
/* Fills err with code and "what: <the library's error string>" from the
 * thread's error queue (or a bare "what" when it is empty), clears the queue
 * and returns code. */
int portls__ossl_lib_err(portls_error *err, int code, const char *what);

#if defined(PORTLS_OSSL_LEAN)
int portls__ossl_rest(portls_be_session *s);

/* ossl_lean.c, a TLS 1.3 server session at rest: all the rest of the family
 * knows of it. portls__ossl_lean_follow installs, on a new SSL_CTX, the
 * callbacks that follow each server session's traffic secrets and record
 * counts; portls__ossl_lean_rest is an SSL-backed session's rest(): it frees
 * the SSL and switches s->ops to the record layer that carries on without it;
 * portls__ossl_lean_free frees s->rest. */
void portls__ossl_lean_follow(SSL_CTX *ssl_ctx, int secrets);
int portls__ossl_lean_rest(portls_be_session *s);
void portls__ossl_lean_free(portls__ossl_lean *rest);

/* For the tests only (tests/fuzz/fuzz_lean.c): a TLS 1.3 server session
 * already at rest, as rest() leaves one, on suite 0x1301, 0x1302 or 0x1303,
 * with the peer's and our application traffic secrets (48 bytes for 0x1302,
 * else 32) and no SSL behind it; io as for session_new. Every operation of
 * the session works as on one that went to rest; freed with
 * portls__ossl_session_free(). NULL for another suite or out of memory. */
portls_be_session *portls__ossl_lean_test_session(uint16_t suite, const uint8_t *read_secret,
                                                  const uint8_t *write_secret,
                                                  const portls_be_io *io);
#endif

/* ---- Hooks: defined by each library's own file ------------------------- */

/* Called right after SSL_CTX_new, before any other setting (the security
 * level, the cipher string's "@SECLEVEL=n" included, must be in place before
 * keys and DH parameters are checked against it). */
int portls__ossl_ctx_setup(SSL_CTX *ssl_ctx, const portls_be_ctx_config *cfg, portls_error *err);
/* Applies dhparam (PEM): < 1024 bits → PORTLS_EDHPARAM; unparsable → 0, no DHE. */
int portls__ossl_set_dhparam(SSL_CTX *ssl_ctx, portls_buf pem, portls_error *err);
/* Installs ctx->ticket_keys (already copied) as the context's ticket keys,
 * and ctx->old_ticket_keys, when set, as keys still accepted. */
int portls__ossl_set_ticket_keys(portls_be_ctx *ctx, portls_error *err);
/* Client: fills ephemeral_type/name/bits from the server's key share;
 * name storage is s->ephemeral_name. */
void portls__ossl_ephemeral(portls_be_session *s, portls_be_info *info);

/* Hand a key log line / a protocol message of session s (NULL: none) to its
 * observer, if core installed one: the library callbacks that see them call
 * these, and while nobody observes that is one test. */
static inline void portls__ossl_keylog_forward(portls_be_session *s, const char *line) {
  if (s != NULL && s->keylog != NULL) s->keylog(s->keylog_user, line);
}

static inline void portls__ossl_msg_forward(portls_be_session *s, int write_p, int content_type,
                                            const void *buf, size_t len) {
  /* Record headers and TLS 1.3 inner content types are not messages. */
  if (s == NULL || s->trace == NULL ||
      (content_type != SSL3_RT_HANDSHAKE && content_type != SSL3_RT_CHANGE_CIPHER_SPEC &&
       content_type != SSL3_RT_ALERT))
    return;
  s->trace(s->trace_user, write_p != 0, content_type, buf, len);
}

#ifdef __cplusplus
}
#endif

/* The vtable entries both OpenSSL-family backends share; each backend's file
 * adds its own name, version, capabilities and global_init. */
#define PORTLS__OSSL_SHARED_OPS                                                                    \
  .native = PORTLS_BE_NATIVE_PFX | PORTLS_BE_NATIVE_ENCRYPTED_KEYS,                                \
  .ctx_new = portls__ossl_ctx_new, .ctx_free = portls__ossl_ctx_free,                              \
  .session_new = portls__ossl_session_new, .session_free = portls__ossl_session_free,              \
  .handshake = portls__ossl_handshake, .read = portls__ossl_read, .write = portls__ossl_write,     \
  .shutdown = portls__ossl_shutdown, .info = portls__ossl_info,                                    \
  .peer_cert = portls__ossl_peer_cert, .verified_cert = portls__ossl_verified_cert,                \
  .set_max_send_fragment = portls__ossl_set_max_send_fragment,                                     \
  .get_session = portls__ossl_get_session, .session_ready = portls__ossl_session_ready,            \
  .set_ticket_keys = portls__ossl_set_ticket_keys_op,                                              \
  .set_old_ticket_keys = portls__ossl_set_old_ticket_keys_op,                                      \
  .server_session = portls__ossl_server_session, .ticket = portls__ossl_ticket,                    \
  .ocsp_response = portls__ossl_ocsp_response, .digest = portls__ossl_digest,                      \
  .cipher_decrypt = portls__ossl_cipher_decrypt, .random = portls__ossl_random,                    \
  .suites = portls__ossl_suites, .export_keying_material = portls__ossl_export_keying_material,    \
  .finished = portls__ossl_finished, .set_keylog = portls__ossl_set_keylog,                        \
  .set_trace = portls__ossl_set_trace,

#endif
