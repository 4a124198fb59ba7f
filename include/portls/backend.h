/* portls: the backend contract.
 *
 * A backend is a sans-I/O TLS engine plus the few crypto primitives core
 * needs, behind one const vtable, `portls__backend`, that the backend's
 * library defines. It never sees a socket, a timer or the loop: core hands it
 * ciphertext through a portls_be_io and takes ciphertext back the same way
 * (Node's TLSWrap over memory BIOs). Only core calls these functions.
 *
 * Return conventions: 0 (PORTLS_BE_OK) or a positive PORTLS_BE_* state, or a
 * negative PORTLS_E* code with err filled (err is never NULL here). A
 * backend-local detail (OpenSSL's reason string, mbedTLS's -0x7780) belongs in
 * err->message.
 *
 * Optional operations (NULL allowed) say so; a NULL operation means the
 * matching capability is false.
 */
#ifndef PORTLS_BACKEND_H
#define PORTLS_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "caps.h"
#include "errors.h"
#include "portls.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Digest algorithms for portls_backend.digest. */
enum { PORTLS_BE_SHA1 = 1, PORTLS_BE_SHA256 = 2, PORTLS_BE_SHA384 = 3, PORTLS_BE_SHA512 = 4 };
/* Block ciphers for portls_backend.cipher_decrypt (CBC mode). */
enum {
  PORTLS_BE_AES_128_CBC = 1,
  PORTLS_BE_AES_192_CBC = 2,
  PORTLS_BE_AES_256_CBC = 3,
  PORTLS_BE_DES_EDE3_CBC = 4
};

typedef struct portls_be_ctx portls_be_ctx;         /* backend-defined: one per SecureContext */
typedef struct portls_be_session portls_be_session; /* backend-defined: one per connection */

enum {
  PORTLS_BE_OK = 0,
  PORTLS_BE_WANT_READ = 1, /* needs more ciphertext from the peer */
  PORTLS_BE_CLOSED = 2     /* read: the peer sent close_notify */
};

/* Core's ciphertext buffers, seen from the backend. */
typedef struct portls_be_io {
  void *io;
  /* Copies up to len received bytes into buf; returns the count, 0 when none
   * is buffered (the backend then reports PORTLS_BE_WANT_READ). */
  size_t (*recv)(void *io, uint8_t *buf, size_t len);
  /* Queues bytes for the peer; never partial. 0, or PORTLS_ENOMEM. */
  int (*send)(void *io, const uint8_t *buf, size_t len);
} portls_be_io;

/* One certificate with its key. Buffers are PEM or DER; key may be encrypted
 * (passphrase). When core has decoded a container (PFX, PKCS#8 with AES on a
 * backend that cannot), key is plain DER PKCS#8 and passphrase NULL. */
typedef struct portls_be_keypair {
  portls_buf key;
  portls_buf cert; /* leaf first, then the chain */
} portls_be_keypair;

/* Everything of a SecureContext that the backend applies. Core has already
 * validated option syntax and checked capabilities. */
typedef struct portls_be_ctx_config {
  const portls_be_keypair *pairs;
  size_t pair_count;
  const char *passphrase;
  portls_buf pfx;       /* only if the backend has PORTLS_CAP_PFX natively */
  const portls_buf *ca; /* PEM; none: use_system_ca */
  size_t ca_count;
  int use_system_ca;
  /* PEM CAs trusted in addition to the system roots when use_system_ca
   * (portls_set_extra_ca_certs, Node's NODE_EXTRA_CA_CERTS); checked by core. */
  const portls_buf *extra_ca;
  size_t extra_ca_count;
  const portls_buf *crl;
  size_t crl_count;
  /* The cipher policy: the suites the application's cipher string selects,
   * as IANA ids in preference order, TLS 1.3 ones first. Core compiled the
   * string (OpenSSL's language: aliases, DEFAULT, @STRENGTH, TLS 1.3 names)
   * against this backend's suites(), so every id is one of those, and
   * removed ECDHE key exchange when ecdhCurve is "false". Never empty. No
   * TLS 1.3 id: TLS 1.3 has no suite (the string removed them all, or the
   * backend has none); no TLS <= 1.2 id: the string named TLS 1.3 suites
   * alone. A backend that wants OpenSSL's names for the ids has its own table
   * (the OpenSSL family: its library's). */
  const uint16_t *suites;
  size_t suite_count;
  /* The string's "@SECLEVEL=n" (the last one), or -1 when it has none: the
   * OpenSSL security level it asks for. A backend without security levels
   * may ignore it. */
  int security_level;
  int honor_cipher_order;
  uint16_t min_version, max_version; /* PORTLS_TLS1_x; 0: backend default */
  const char *ecdh_curves;           /* ':'-list of OpenSSL curve names; NULL: default (also for
                                        ecdhCurve "false", whose ECDHE suites core removed) */
  portls_buf dhparam;                /* PEM, or empty */
  const char *session_id_context;
  int session_timeout;
  portls_buf ticket_keys; /* 48 bytes (checked by core; random ones when the application
                             gave none) on a backend with PORTLS_CAP_TICKET_KEYS, else empty */
  int disable_tickets;    /* server: issue no tickets (TLS 1.2 sessions then get an id for
                             server_session()); client: offer none */
  /* Node's `sigalgs` (PORTLS_CAP_SIGALGS): a ':'-list of OpenSSL's
   * signature-algorithm names ("ECDSA+SHA256:RSA-PSS+SHA256",
   * "rsa_pss_rsae_sha256"), non-empty entries checked by core; NULL: the
   * library's default. A name the library does not know is PORTLS_EINVAL
   * with a message naming "sigalgs". */
  const char *sigalgs;
} portls_be_ctx_config;

/* Per-connection settings. */
typedef struct portls_be_session_config {
  int is_server;
  const char *servername; /* client: SNI to send (NULL: none) */
  int verify_peer;        /* client: always; server: requestCert. Verification never
                             aborts the handshake: core reads the result and decides. */
  /* Server: requestCert with rejectUnauthorized. A client that sends no
   * certificate at all fails the handshake itself, as in Node (OpenSSL's
   * SSL_VERIFY_FAIL_IF_NO_PEER_CERT): the server sends handshake_failure
   * (TLS 1.2 and below) or certificate_required (TLS 1.3) and reports
   * PORTLS_ENO_CERT. A certificate that is sent but does not verify is still
   * core's decision after the handshake. */
  int require_peer_cert;
  portls_buf alpn_wire; /* client: offer; server: preference list */
  portls_buf npn_wire;
  portls_buf session; /* client: a session to offer */
  int request_ocsp;   /* client: send status_request; read the answer with ocsp_response() */
  /* The buffers below (as all of this struct) are borrowed for the call:
   * session_new copies what it keeps. */
  /* Server: what the application's resumeSession found for the ClientHello's
   * session id (server_session()'s data, as it handed it out); resume it if
   * the id and the context match. Empty: none. */
  portls_buf resume;
  /* Server: the OCSPRequest answer to staple when the client asked. Empty: none. */
  portls_buf ocsp_response;
  /* PSK (PORTLS_CAP_PSK). Client: psk_client set: the backend offers PSK
   * suites and asks psk_client(psk_arg, hint, psk) for the identity and key
   * (hint NULL when none arrived, over TLS 1.3 and before a ServerHello);
   * server: psk_server set: accepts PSK suites (and, with PORTLS_CAP_PSK_TLS1_3,
   * TLS 1.3 external PSKs) and asks psk_server(psk_arg, identity, psk) for the
   * key. Both return 1 with a key that core has checked (key_len
   * 1..PORTLS_PSK_MAX_KEY, identity NUL-terminated and not empty), or 0: no
   * key (the backend then fails or goes on as its protocol says). They run
   * inside handshake()/read(), on the caller's thread. psk_identity_hint:
   * server, NULL: none (PORTLS_CAP_PSK_HINT). */
  int (*psk_client)(void *psk_arg, const char *hint, portls_psk *psk);
  int (*psk_server)(void *psk_arg, const char *identity, portls_psk *psk);
  void *psk_arg;
  const char *psk_identity_hint;
  /* Server: core may offer this session to rest() (server option
   * rest_min_connections). A backend that must prepare for resting during
   * the handshake (OpenSSL follows the traffic secrets) does so only then;
   * rest() on a session made with 0 may answer -1. */
  int may_rest;
} portls_be_session_config;

/* What core reads after the handshake. Strings point into the session. */
typedef struct portls_be_info {
  uint16_t version;        /* PORTLS_TLS1_x */
  uint16_t suite;          /* IANA cipher suite id */
  const char *cipher_name; /* OpenSSL-style name, when the backend knows it */
  const char *servername;  /* server: the SNI name received, or NULL */
  const char *alpn;        /* agreed ALPN protocol, or NULL */
  const char *npn;         /* agreed NPN protocol, or NULL */
  int session_reused;
  int verify_result; /* 0 or a PORTLS_E* verification code (OpenSSL's names) */
  int has_peer_cert;
  const char *ephemeral_type; /* "ECDH", "DH", or NULL */
  const char *ephemeral_name; /* curve name for ECDH */
  int ephemeral_bits;
  int psk; /* the handshake authenticated with a PSK (a PSK suite, or a TLS 1.3 external PSK) */
} portls_be_info;

/* Observers (set_keylog, set_trace): called from inside handshake(), read()
 * and write(); they must not call back into the backend. */
typedef void (*portls_be_keylog_fn)(void *user, const char *line);
/* One protocol message: content_type 22 (handshake: msg is the whole
 * message, its 4-byte header first), 20 (ChangeCipherSpec) or 21 (alert:
 * level, description). sent: 1 for ours, 0 for the peer's. A backend that
 * sees only a record it cannot decrypt passes msg NULL and the record's
 * length. */
typedef void (*portls_be_msg_fn)(void *user, int sent, int content_type, const uint8_t *msg,
                                 size_t len);

/* Formats a backend decodes itself (portls_backend.native). What a backend
 * does not decode, core decodes with the backend's primitives (digest,
 * cipher_decrypt) and hands over as plain DER. */
enum { PORTLS_BE_NATIVE_PFX = 1u << 0, PORTLS_BE_NATIVE_ENCRYPTED_KEYS = 1u << 1 };

typedef struct portls_backend {
  const char *name; /* "openssl", "boringssl", "mbedtls" */
  unsigned native;  /* PORTLS_BE_NATIVE_* */
  /* The library's version text. */
  const char *(*version)(void);
  /* The capability set, computed from what compiled (bit n = portls_cap n). */
  uint64_t (*capabilities)(void);
  /* Process-wide setup, called once before the first context; may be NULL. */
  int (*global_init)(const portls_allocator *alloc);

  int (*ctx_new)(const portls_be_ctx_config *cfg, portls_be_ctx **out, portls_error *err);
  void (*ctx_free)(portls_be_ctx *ctx);

  int (*session_new)(portls_be_ctx *ctx, const portls_be_session_config *cfg,
                     const portls_be_io *io, portls_be_session **out, portls_error *err);
  void (*session_free)(portls_be_session *s);
  /* Advances the handshake: PORTLS_BE_OK when complete, PORTLS_BE_WANT_READ, or an error. */
  int (*handshake)(portls_be_session *s, portls_error *err);
  /* Decrypts into buf: PORTLS_BE_OK with *nread > 0, PORTLS_BE_WANT_READ,
   * PORTLS_BE_CLOSED, or an error. Handles post-handshake messages itself.
   * A backend may read ahead: core calls read() until PORTLS_BE_WANT_READ
   * after the handshake completes and after a resume, even with no new input. */
  int (*read)(portls_be_session *s, uint8_t *buf, size_t cap, size_t *nread, portls_error *err);
  /* Encrypts all of buf into records sent through io (never partial).
   * PORTLS_BE_WANT_READ (nothing written) while a renegotiation needs the
   * peer's messages first. */
  int (*write)(portls_be_session *s, const uint8_t *buf, size_t len, portls_error *err);
  /* Queues close_notify. */
  int (*shutdown)(portls_be_session *s, portls_error *err);
  /* Fills *info; valid after the handshake. */
  void (*info)(portls_be_session *s, portls_be_info *info);
  /* The peer's certificate chain as sent, leaf first: index 0.. ; returns
   * PORTLS_ENOENT past the end. The DER stays valid while the session lives
   * (until a renegotiation completes). */
  int (*peer_cert)(portls_be_session *s, size_t index, portls_buf *der);
  /* The verified chain up to the trust anchor (for getPeerCertificate(true));
   * may be NULL, then core uses peer_cert. */
  int (*verified_cert)(portls_be_session *s, size_t index, portls_buf *der);
  /* Optional (PORTLS_CAP_MAX_SEND_FRAGMENT). */
  int (*set_max_send_fragment)(portls_be_session *s, size_t size);
  /* Optional: the session as bytes for getSession(), in *out allocated with
   * portls's allocator. */
  int (*get_session)(portls_be_session *s, portls_buf *out, portls_error *err);
  /* Optional: 1 once per new client session (a TLS 1.2 handshake's, or a TLS
   * 1.3 ticket that arrived after the handshake), for Node's 'session'. */
  int (*session_ready)(portls_be_session *s);
  /* Optional (PORTLS_CAP_TICKET_KEYS): replaces the context's 48-byte ticket
   * keys (Node's layout: name 16 | HMAC 16 | AES 16) for tickets issued and
   * accepted from now on. */
  int (*set_ticket_keys)(portls_be_ctx *ctx, const uint8_t keys[48], portls_error *err);
  /* Optional (PORTLS_CAP_TICKET_ROTATION): keys (same layout; NULL: none)
   * that tickets are still accepted under, but never issued with: a ticket
   * they open is renewed under the current keys. Key rotation keeps the
   * previous keys here for one period. */
  int (*set_old_ticket_keys)(portls_be_ctx *ctx, const uint8_t keys[48], portls_error *err);
  /* Optional (PORTLS_CAP_SESSION_CACHE): server, after a full handshake:
   * returns 1 with the session's id (pointing into the session) and its
   * serialized form (*data allocated with portls's allocator; core frees it)
   * when a client can resume it by id (Node's 'newSession'), 0 when not
   * (TLS 1.3, where resumption is by ticket only). The serialized form is
   * what portls_be_session_config.resume takes back. */
  int (*server_session)(portls_be_session *s, portls_buf *id, portls_buf *data, portls_error *err);
  /* Optional (PORTLS_CAP_SESSION_TICKETS): client: the ticket the server
   * issued for the current session (getTLSTicket()), valid while the session
   * lives; PORTLS_ENOENT when there is none. */
  int (*ticket)(portls_be_session *s, portls_buf *out);
  /* Optional (PORTLS_CAP_OCSP_REQUEST): client, after the handshake: the
   * stapled OCSP response; PORTLS_ENOENT when the server stapled nothing. */
  int (*ocsp_response)(portls_be_session *s, portls_buf *out);
  /* Optional (PORTLS_CAP_RENEG_CLIENT / PORTLS_CAP_RENEG_SERVER): starts a
   * renegotiation (client: a new ClientHello; server: HelloRequest), the
   * server asking for a client certificate when verify_peer is set. The
   * handshake then runs inside read() and write(); handshakes() tells core
   * when it has completed, and info() describes the new state.
   * PORTLS_ERENEG_DISABLED when the negotiated version cannot (TLS 1.3) or
   * the peer refused it. */
  int (*renegotiate)(portls_be_session *s, int verify_peer, portls_error *err);
  /* Optional (PORTLS_CAP_RENEG_COUNT): how many handshakes have started and
   * completed on this session, the first included. A server accepts
   * client-initiated renegotiation (TLS 1.2 and below) and core limits it by
   * `started` (Node's CLIENT_RENEG_LIMIT); core completes renegotiate() by
   * `completed`. */
  void (*handshakes)(portls_be_session *s, unsigned *started, unsigned *completed);
  /* Optional (PORTLS_CAP_IDLE_RELEASE): core calls it for a secure server
   * connection that has been quiet (no ciphertext either way) for a while and
   * has nothing buffered on core's side. The backend may release what only an
   * active connection needs; every operation keeps working. Returns 1 when it
   * did, -1 when this session never can (core stops asking), 0 when not now. */
  int (*rest)(portls_be_session *s);
  /* Optional (PORTLS_CAP_EXPORTER), after the handshake: RFC 5705 / RFC 8446
   * 7.5 keying material, len bytes into out. use_context 0: no context
   * (TLS 1.2 then leaves it out of the PRF seed), 1: context (maybe empty).
   * Core has checked len > 0 and the reserved TLS 1.2 labels. */
  int (*export_keying_material)(portls_be_session *s, uint8_t *out, size_t len, const char *label,
                                size_t label_len, const uint8_t *context, size_t context_len,
                                int use_context, portls_error *err);
  /* Optional (PORTLS_CAP_FINISHED), after the handshake: the verify_data of
   * the latest Finished message this side sent (peer 0) or received (peer
   * 1), copied into buf (cap >= 64); returns its length, or 0 when the
   * library does not tell (then core reports PORTLS_ENOTSUP). */
  size_t (*finished)(portls_be_session *s, int peer, uint8_t *buf, size_t cap);
  /* Optional (PORTLS_CAP_SHARED_SIGALGS), after the handshake: the
   * signature algorithms both sides support, in Node's form
   * ("ECDSA+SHA256", "RSA-PSS+SHA256", "Ed25519"), ':'-joined into *out
   * (allocated with portls's allocator; "" when none). */
  int (*shared_sigalgs)(portls_be_session *s, char **out, portls_error *err);
  /* Optional (PORTLS_CAP_KEYLOG): from now on, fn(user, line) gets each
   * secret of the session as an NSS key log line (NUL-terminated, no newline):
   * CLIENT_RANDOM for TLS 1.2 and below; CLIENT_HANDSHAKE_TRAFFIC_SECRET,
   * SERVER_HANDSHAKE_TRAFFIC_SECRET, CLIENT_TRAFFIC_SECRET_0,
   * SERVER_TRAFFIC_SECRET_0 and EXPORTER_SECRET for TLS 1.3. fn NULL stops
   * it. Core calls it only when the application listens, so a backend
   * installs nothing in the library until then. */
  void (*set_keylog)(portls_be_session *s, portls_be_keylog_fn fn, void *user);
  /* Optional (PORTLS_CAP_TRACE): from now on, fn gets each handshake
   * message, ChangeCipherSpec and alert as it is sent or received (see
   * portls_be_msg_fn); fn NULL stops it. As set_keylog: nothing installed
   * until core asks. */
  void (*set_trace)(portls_be_session *s, portls_be_msg_fn fn, void *user);

  /* Crypto primitives for core. */
  /* One-shot digest (PORTLS_BE_SHA*); out holds 64 bytes at most. PORTLS_ENOTSUP for an alg the
   * library lacks. */
  int (*digest)(int alg, const void *data, size_t len, uint8_t *out);
  int (*random)(uint8_t *buf, size_t len);
  /* Optional: CBC decryption with PKCS#7 padding checked and removed, for
   * core's PKCS#8/PKCS#12 decoders (*out_len <= len). PORTLS_EBAD_PASSPHRASE
   * when the padding is wrong (a wrong key); PORTLS_ENOTSUP for an alg the
   * library lacks. */
  int (*cipher_decrypt)(int alg, const uint8_t *key, const uint8_t *iv, const uint8_t *in,
                        size_t len, uint8_t *out, size_t *out_len);
  /* Lists the supported suites (IANA ids; the order does not matter); returns
   * the count. Core compiles cipher strings against this list. */
  size_t (*suites)(const uint16_t **ids);
} portls_backend;

/* Defined by the linked backend. */
extern const portls_backend portls__backend;

/* ---- Services core gives a backend ------------------------------------------
 *
 * A backend includes this header (and its own files) only, never a header of
 * core. What it needs of core is here; core defines it. */

/* Memory: every allocation of the library goes through the application's
 * portls_allocator (portls_set_allocator). portls__free(NULL) does nothing;
 * portls__strdup and portls__memdup copy into a fresh allocation (NULL when
 * out of memory). */
void *portls__malloc(size_t size);
void *portls__calloc(size_t n, size_t size);
void *portls__realloc(void *ptr, size_t size);
void portls__free(void *ptr);
char *portls__strdup(const char *s);
void *portls__memdup(const void *p, size_t len);

/* Errors: fills *err (when err is not NULL) with code and a printf-style
 * message and returns code, so that
 * `return portls__err(err, PORTLS_EINVAL, "key: %s", why);` reads naturally.
 * With fmt NULL the code's default message is used. */
int portls__err(portls_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* A fatal alert the peer sent (its AlertDescription) as a PORTLS_E* code:
 * Node's name for it (see errors.h), PORTLS_EVERSION for protocol_version,
 * PORTLS_ERENEG_DISABLED for no_renegotiation, PORTLS_ETLS_ALERT for one
 * the table does not name. */
int portls__alert_code(int description);
/* An AlertDescription's RFC name ("handshake_failure"), or NULL for one no
 * RFC names. */
const char *portls__alert_name(int description);

/* The value of a hex digit (either case), or -1. */
int portls__hexval(char c);

#define PORTLS__ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PORTLS__MIN(a, b) ((a) < (b) ? (a) : (b))
#define PORTLS__MAX(a, b) ((a) > (b) ? (a) : (b))

#ifdef __cplusplus
}
#endif
#endif
