/* portls backend: mbed TLS 2.28 or 3.6 LTS, what its three files share.
 *
 *   mbedtls.c   the vtable, process-wide state (RNG, suite list), primitives,
 *               capabilities
 *   context.c   SecureContext: keys, certificates, CAs, CRLs, ciphers,
 *               versions, curves, DH parameters, ticket keys and sealing
 *   session.c   one connection: sans-I/O bio, handshake stepping, read/write,
 *               verification results in OpenSSL's terms, info, sessions
 *               (tickets, the id cache on core's store), renegotiation
 *
 * mbed TLS keeps most settings on an mbedtls_ssl_config, which a Node
 * SecureContext maps to twice (a context serves both roles): one config per
 * role. A connection that needs a setting of its own that only exists on the
 * config gets a shallow copy of its role's config: every server (the ticket
 * and session-cache callbacks get the connection as their argument, the
 * authmode changes with renegotiate()) and a client with ALPN (its list).
 * The copy shares every pointer with the context's, which outlives its
 * sessions (core guarantees it), and is never freed with
 * mbedtls_ssl_config_free.
 *
 * Naming: mbed TLS owns the mbedtls_ prefix, so statics here are mbed_* and
 * what the files share is portls__mbed_*.
 */
#ifndef PORTLS_BACKENDS_MBEDTLS_MBED_H
#define PORTLS_BACKENDS_MBEDTLS_MBED_H

#include <stddef.h>
#include <stdint.h>

/* mbed TLS 3 marks most struct members private (MBEDTLS_PRIVATE); this backend
 * reads a few of them (the record being parsed, the handshake state, the
 * session's id and ticket), as it reads them on 2.28. */
#define MBEDTLS_ALLOW_PRIVATE_ACCESS 1

/* mbed TLS 3 gathers its configuration in build_info.h; 2.x has config.h. */
#if defined(__has_include)
#if __has_include(<mbedtls/build_info.h>)
#include <mbedtls/build_info.h>
#define PORTLS_MBED_HAS_BUILD_INFO 1
#endif
#endif
#if !defined(PORTLS_MBED_HAS_BUILD_INFO)
#if !defined(MBEDTLS_CONFIG_FILE)
#include <mbedtls/config.h>
#else
#include MBEDTLS_CONFIG_FILE
#endif
#endif

#include <mbedtls/cipher.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/dhm.h>
#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>
#include <mbedtls/sha512.h>
#include <mbedtls/ssl.h>
#if defined(MBEDTLS_THREADING_C)
#include <mbedtls/threading.h>
#endif
#include <mbedtls/version.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include "portls/backend.h"

#if !defined(MBEDTLS_VERSION_NUMBER) || MBEDTLS_VERSION_NUMBER < 0x02100000 ||                     \
    (MBEDTLS_VERSION_NUMBER >= 0x03000000 && MBEDTLS_VERSION_NUMBER < 0x03060000) ||               \
    MBEDTLS_VERSION_NUMBER >= 0x04000000
#error "portls: the mbedtls backend is written for mbed TLS 2.16 .. 2.28 and 3.6"
#endif
/* mbed TLS 3: struct members are private, TLS 1.3, PSA crypto. The few API
 * differences the backend meets are bridged here, so that the code reads the
 * same for both versions. */
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define PORTLS_MBED3 1
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
#define PORTLS_MBED_TLS13 1
#endif
#define PORTLS_MBED_SHA1 mbedtls_sha1
#define PORTLS_MBED_SHA256 mbedtls_sha256
#define PORTLS_MBED_SHA512 mbedtls_sha512
#if defined(MBEDTLS_SHA384_C)
#define PORTLS_MBED_HAS_SHA384 1
#endif
#define PORTLS_MBED_KEY_BITLEN(info) mbedtls_cipher_info_get_key_bitlen(info)
#define PORTLS_MBED_IV_SIZE(info) mbedtls_cipher_info_get_iv_size(info)
#define PORTLS_MBED_BLOCK_SIZE(info) mbedtls_cipher_info_get_block_size(info)
/* ssl.renego_status values, from the library's private ssl_misc.h. */
#define PORTLS_MBED_RENEGOTIATION_IN_PROGRESS 1
#define PORTLS_MBED_RENEGOTIATION_PENDING 3
#else
#define PORTLS_MBED_RENEGOTIATION_IN_PROGRESS MBEDTLS_SSL_RENEGOTIATION_IN_PROGRESS
#define PORTLS_MBED_RENEGOTIATION_PENDING MBEDTLS_SSL_RENEGOTIATION_PENDING
#define PORTLS_MBED_SHA1 mbedtls_sha1_ret
#define PORTLS_MBED_SHA256 mbedtls_sha256_ret
#define PORTLS_MBED_SHA512 mbedtls_sha512_ret
#if defined(MBEDTLS_SHA512_C) && !defined(MBEDTLS_SHA512_NO_SHA384)
#define PORTLS_MBED_HAS_SHA384 1
#endif
#define PORTLS_MBED_KEY_BITLEN(info) ((info)->key_bitlen)
#define PORTLS_MBED_IV_SIZE(info) ((info)->iv_size)
#define PORTLS_MBED_BLOCK_SIZE(info) ((info)->block_size)
#endif
#if !defined(MBEDTLS_SSL_TLS_C) || !defined(MBEDTLS_X509_CRT_PARSE_C) ||                           \
    !defined(MBEDTLS_CTR_DRBG_C) || !defined(MBEDTLS_ENTROPY_C)
#error "portls: mbed TLS must be built with SSL_TLS_C, X509_CRT_PARSE_C, CTR_DRBG_C and ENTROPY_C"
#endif

/* Session tickets with Node's keys need these (Debian's 2.28 has them all). */
#if defined(MBEDTLS_SSL_SESSION_TICKETS) && defined(MBEDTLS_SSL_SRV_C) &&                          \
    defined(MBEDTLS_SSL_CLI_C) && defined(MBEDTLS_AES_C) && defined(MBEDTLS_CIPHER_MODE_CBC) &&    \
    defined(MBEDTLS_CIPHER_PADDING_PKCS7) && defined(MBEDTLS_SHA256_C) && defined(MBEDTLS_MD_C)
#define PORTLS_MBED_TICKETS 1
#endif

/* pskCallback needs plain PSK key exchange at least. */
#if defined(MBEDTLS_KEY_EXCHANGE_PSK_ENABLED)
#define PORTLS_MBED_PSK 1
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The deepest chain the verify callback records (mbed TLS itself stops at
 * MBEDTLS_X509_MAX_INTERMEDIATE_CA + 2). */
#define PORTLS_MBED_MAX_DEPTH 16

/* A context may be shared by loops on several threads. The configs are
 * read-only once made, but two things change after creation: the ticket
 * keys (server.setTicketKeys) and the system CAs, loaded by the first session
 * that verifies. Both happen under `lock` (mbed TLS's own mutex API, with
 * MBEDTLS_THREADING_C; without it, this build's contexts are one thread's). */
#if defined(MBEDTLS_THREADING_C)
#define PORTLS_MBED_LOCK(ctx) ((void)mbedtls_mutex_lock((mbedtls_threading_mutex_t *)&(ctx)->lock))
#define PORTLS_MBED_UNLOCK(ctx)                                                                    \
  ((void)mbedtls_mutex_unlock((mbedtls_threading_mutex_t *)&(ctx)->lock))
#else
#define PORTLS_MBED_LOCK(ctx) ((void)(ctx))
#define PORTLS_MBED_UNLOCK(ctx) ((void)(ctx))
#endif
struct portls_be_ctx {
#if defined(MBEDTLS_THREADING_C)
  mbedtls_threading_mutex_t lock;
#endif
  mbedtls_ssl_config srv; /* server role */
  mbedtls_ssl_config cli; /* client role */
  mbedtls_x509_crt ca;    /* trust anchors (also what CertificateRequest names) */
  int has_ca;
  int system_ca_pending; /* use_system_ca: loaded by the first session that verifies */
  mbedtls_x509_crl crl;
  int has_crl;
  mbedtls_x509_crt *certs; /* pair_count chains, leaf first */
  mbedtls_pk_context *keys;
  size_t pair_count;
  int *suites_cli; /* 0-terminated; what a client offers */
  int *suites_srv; /* 0-terminated; without DHE unless dhparam was usable */
  mbedtls_ecp_group_id curves[16];
  mbedtls_x509_crt_profile profile;
  /* Session tickets (servers): Node's layout, name 16 | HMAC key 16 | AES
   * key 16; core's (it always gives some), else random ones. */
  uint8_t ticket_keys[48];
  int has_ticket_keys;
  uint8_t old_ticket_keys[48]; /* a rotation's previous keys: accepted, never issued */
  int has_old_ticket_keys;
  int no_tickets;      /* disable_tickets: none issued, none asked for */
  int session_timeout; /* seconds: ticket lifetime, and the age limit of a resumed session */
  /* SHA-256 of session_id_context (sid_len 32), or nothing (0): a server
   * resumes only sessions made under the same context, as OpenSSL. */
  uint8_t sid_ctx[32];
  size_t sid_len;
};

struct portls_be_session {
  mbedtls_ssl_context ssl; /* first: the callbacks find the session from it */
  mbedtls_ssl_config conf; /* this connection's own config, when own_conf */
  int own_conf;
  portls_be_ctx *ctx;
  portls_be_io io;
  int is_server;
  int io_error; /* the last failure of io.send */
  int hs_done;
  int close_sent;
  size_t max_frag; /* setMaxSendFragment, 0: library default */

  /* ALPN. Client: the offer; server: the preference list, of which only the
   * protocol chosen for this ClientHello reaches mbed TLS (see session.c). */
  char *alpn_store;       /* NUL-separated names */
  const char **alpn_list; /* NULL-terminated, into alpn_store */
  const char *alpn_chosen[2];

  /* Server: the ClientHello is held back until its first record is complete,
   * so that the ALPN choice is made before mbed TLS parses it. */
  int peek;
  uint8_t *pre;
  size_t pre_len, pre_off, pre_cap;

  char *servername; /* server: the SNI name the client sent */
  int require_cert; /* server: fail a first handshake without a client certificate */

  /* Server: what core's resumeSession found for the ClientHello's session id
   * (portls_be_session_config.resume, copied), for the session-cache get. */
  uint8_t *resume;
  size_t resume_len;
  int cache_new; /* server: mbed TLS stored this handshake's session by id */
  /* server: this handshake gave the client a ticket, so (as on OpenSSL,
   * where such a session has no id) it is not offered to newSession */
  int ticket_sent;
  /* Server resuming a ticket: the suite choice pinned to the session's for
   * its ClientHello (see mbed_pin_suite), and the list to put back. */
  int pinned;
  int suite_pin[2];
  const int *suites_saved[4];
  int new_session; /* client: a resumable session came with the last full handshake */

  /* Handshakes started and completed, the first included (handshakes()):
   * counted where the state is seen to leave or reach HANDSHAKE_OVER (see
   * mbed_track in session.c). */
  unsigned hs_started, hs_completed;
  int in_hs;
  /* read(): whether the bio found core's buffer empty, and how many bytes it
   * took from it, during the current mbed TLS call. */
  int starved;
  size_t rx_count;
  /* Warning alerts in a row (mbed TLS passes over them without a limit):
   * the bio frames the records it hands to mbed TLS (header, then body) and
   * counts those of type alert; see mbed_frame in session.c. */
  uint8_t fr_hdr[5];
  size_t fr_have, fr_body;
  unsigned alerts_in_row;
  int fr_inner_seen;   /* TLS 1.3: the last record's inner type counted (mbed_count_inner) */
  int too_many_alerts; /* the bio refused the next record for it */

  /* exportKeyingMaterial (RFC 5705): the latest handshake's master secret
   * and hello randoms (client, then server) and PRF, from the key-export
   * callback (mbedtls_ssl_conf_export_keys_ext_cb on the session's own conf). */
  uint8_t exp_master[48];
  uint8_t exp_randoms[64];
  int exp_prf; /* mbedtls_tls_prf_types */
  int exp_ready;

#if defined(PORTLS_MBED3)
  /* mbed TLS 3 keeps the handshake structure private: what 2.28's told
   * (resumption, the ECDHE group, the DH prime size, the version) is read
   * from the server's plaintext flight as it goes by (received by a client,
   * sent by a server), up to where encryption starts. See mbed_watch. */
  struct {
    uint8_t rec[5];
    size_t rec_have, rec_left; /* header bytes held, body bytes to come */
    uint8_t msg_hdr[4];
    size_t hdr_have, msg_left, msg_have;
    uint8_t msg[320]; /* the start of a ServerHello or ServerKeyExchange body */
    int tls13, saw_cert, done, after_hrr;
    int suite;
  } sf;
#endif
  /* The peer's chain carried in session bytes (see MBED_BLOB_HDR in
   * session.c): mbed TLS 3.6 does not keep it in a TLS 1.3 session, so a
   * resumed connection has it from here. NULL otherwise. */
  mbedtls_x509_crt *kept_chain;
  /* Captured while the handshake structure exists. */
  int resumed;
  int ecdh_grp; /* mbedtls_ecp_group_id of the ECDHE key, or 0 */
  int dh_bits;  /* size of the server's DH prime, or 0 */
  char ephemeral_name[32];

  /* What the verify callback saw, per depth (0: the peer's leaf). */
  int vtop;  /* the deepest depth seen, -1: no verification ran */
  int vdone; /* depth 0 seen: the next call starts another verification */
  uint32_t vflags[PORTLS_MBED_MAX_DEPTH];
  uint8_t vself[PORTLS_MBED_MAX_DEPTH];
  const mbedtls_x509_crt *vcrt[PORTLS_MBED_MAX_DEPTH];
  /* mbed TLS stops at the first trusted certificate; OpenSSL goes on through
   * the trust store to a self-signed root. These are the store's
   * certificates above vcrt[vtop] on that way (see mbed_extend_chain). */
  const mbedtls_x509_crt *vext[PORTLS_MBED_MAX_DEPTH];
  int vext_n;
  int vrooted;         /* the chain reaches a trusted self-signed root */
  int verify_code;     /* 0 or PORTLS_E*, final after the handshake */
  int verify_code_set; /* from a resumed session's saved result */

  /* pskCallback (portls_be_session_config). The client asks core for its
   * key before its first handshake step (mbed TLS 2.28 never shows a client
   * the server's hint) and puts it on its own config; the server asks from
   * mbed TLS's PSK callback. psk_used: a key was given; psk_too_long: the
   * key exceeded MBEDTLS_PSK_MAX_LEN (reported instead of mbed TLS's error). */
  int (*psk_client)(void *psk_arg, const char *hint, portls_psk *psk);
  int (*psk_server)(void *psk_arg, const char *identity, portls_psk *psk);
  void *psk_arg;
  int psk_asked, psk_used;
  size_t psk_too_long;
  /* Observers core installed (observe.c); NULL: none, nothing installed. */
  portls_be_keylog_fn keylog;
  void *keylog_user;
  portls_be_msg_fn trace;
  void *trace_user;
  struct portls__mbed_tap *tap; /* [0] received, [1] sent; while trace is set */
};

/* ---- mbedtls.c ---- */

/* The process-wide DRBG, seeded once; NULL when seeding failed. */
mbedtls_ctr_drbg_context *portls__mbed_rng(void);
/* The ids of mbedtls_ssl_list_ciphersuites() that core's table knows. */
size_t portls__mbed_suites(const uint16_t **ids);
/* AES-CBC with PKCS#7 padding, one shot: op is MBEDTLS_ENCRYPT or
 * MBEDTLS_DECRYPT; out holds len + 16 bytes. An mbed TLS cipher code. */
int portls__mbed_cbc(mbedtls_cipher_type_t type, mbedtls_operation_t op, const uint8_t *key,
                     const uint8_t *iv, const uint8_t *in, size_t len, uint8_t *out,
                     size_t *out_len);
/* Fills err with code and "what: mbedtls: <mbedtls_strerror text> (-0x7780)"
 * (no "what: " when what is NULL), then ": detail" when detail is given. */
int portls__mbed_err(portls_error *err, int code, int ret, const char *what);
int portls__mbed_err_detail(portls_error *err, int code, int ret, const char *what,
                            const char *detail);

int portls__mbed_export_keying_material(portls_be_session *s, uint8_t *out, size_t len,
                                        const char *label, size_t label_len, const uint8_t *context,
                                        size_t context_len, int use_context, portls_error *err);
size_t portls__mbed_finished(portls_be_session *s, int peer, uint8_t *buf, size_t cap);

/* ---- context.c ---- */

int portls__mbed_ctx_new(const portls_be_ctx_config *cfg, portls_be_ctx **out, portls_error *err);
void portls__mbed_ctx_free(portls_be_ctx *ctx);
/* Loads the system CA store if the context still waits for it. */
void portls__mbed_ctx_load_system_ca(portls_be_ctx *ctx);
/* The context's trust anchors and CRLs, for a config (a server's own copy). */
void portls__mbed_ctx_apply_ca(portls_be_ctx *ctx, mbedtls_ssl_config *conf);
int portls__mbed_set_ticket_keys(portls_be_ctx *ctx, const uint8_t keys[48], portls_error *err);
int portls__mbed_set_old_ticket_keys(portls_be_ctx *ctx, const uint8_t keys[48], portls_error *err);
/* Tickets: seals state (the session bytes) into out as
 * key_name | IV | AES-128-CBC(state) | HMAC-SHA256, or opens one into
 * *state (allocated; zeroize and free it). mbed TLS codes:
 * MBEDTLS_ERR_SSL_INVALID_MAC for a ticket the current keys did not make. */
int portls__mbed_ticket_seal(const portls_be_ctx *ctx, const uint8_t *state, size_t len,
                             uint8_t *out, size_t cap, size_t *out_len);
int portls__mbed_ticket_open(const portls_be_ctx *ctx, const uint8_t *in, size_t len,
                             uint8_t **state, size_t *state_len);

/* ---- session.c ---- */

int portls__mbed_session_new(portls_be_ctx *ctx, const portls_be_session_config *cfg,
                             const portls_be_io *io, portls_be_session **out, portls_error *err);
void portls__mbed_session_free(portls_be_session *s);
int portls__mbed_handshake(portls_be_session *s, portls_error *err);
int portls__mbed_read(portls_be_session *s, uint8_t *buf, size_t cap, size_t *nread,
                      portls_error *err);
int portls__mbed_write(portls_be_session *s, const uint8_t *buf, size_t len, portls_error *err);
int portls__mbed_shutdown(portls_be_session *s, portls_error *err);
void portls__mbed_info(portls_be_session *s, portls_be_info *info);
int portls__mbed_peer_cert(portls_be_session *s, size_t index, portls_buf *der);
int portls__mbed_verified_cert(portls_be_session *s, size_t index, portls_buf *der);
int portls__mbed_set_max_send_fragment(portls_be_session *s, size_t size);
int portls__mbed_get_session(portls_be_session *s, portls_buf *out, portls_error *err);
int portls__mbed_session_ready(portls_be_session *s);
int portls__mbed_server_session(portls_be_session *s, portls_buf *id, portls_buf *data,
                                portls_error *err);
int portls__mbed_ticket(portls_be_session *s, portls_buf *out);
int portls__mbed_renegotiate(portls_be_session *s, int verify_peer, portls_error *err);
void portls__mbed_handshakes(portls_be_session *s, unsigned *started, unsigned *completed);
/* ---- observe.c: keylog and trace ---- */

void portls__mbed_set_keylog(portls_be_session *s, portls_be_keylog_fn fn, void *user);
#if !defined(PORTLS_MBED3)
/* 2.28: a TLS 1.2 handshake's master secret, to the keylog listener. */
void portls__mbed_keylog_tls12(portls_be_session *s, const uint8_t ms[48], const uint8_t cr[32]);
#endif
void portls__mbed_set_trace(portls_be_session *s, portls_be_msg_fn fn, void *user);
/* The bio's bytes, for the trace (sent: 1 for ours); only while s->trace is set. */
void portls__mbed_tap(portls_be_session *s, int sent, const uint8_t *p, size_t n);
void portls__mbed_observe_free(portls_be_session *s);

/* The SNI callback installed on every server config. */
int portls__mbed_sni_cb(void *p, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len);

#ifdef __cplusplus
}
#endif
#endif
