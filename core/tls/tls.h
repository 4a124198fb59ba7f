/* Internal: the TLS layer of a socket (tls.TLSSocket, and each connection a
 * tls.Server accepts): the state net's upper-layer ops reach through the
 * socket's `upper`. The engine that drives the backend session is in
 * engine.c, the TLSSocket methods in tls_socket.c, the server's half in
 * tls_server.c. */
#ifndef PORTLS_CORE_TLS_H
#define PORTLS_CORE_TLS_H

#include "net/socket.h"
#include "portls/backend.h"
#include "tls/engine.h"
#include "tls/hello.h"
#include "tls/sni.h"

struct portls__tls_server;

/* PSK settings (Node's pskCallback, pskIdentityHint) of a socket or server. */
typedef struct portls__psk {
  portls_psk_client_cb client;
  portls_psk_server_cb server;
  void *user;
  char *hint; /* owned */
} portls__psk;

/* Checks o's PSK options for this role (capabilities, the hint's length) and
 * copies them into *out; PORTLS_ENOTSUP, PORTLS_EINVAL, PORTLS_ENOMEM. */
int portls__psk_setup(portls__psk *out, const portls_tls_options *o, int is_server,
                      portls_error *err);
/* Copies src (a server's) into *dst; 0 or PORTLS_ENOMEM. */
int portls__psk_copy(portls__psk *dst, const portls__psk *src);
void portls__psk_free(portls__psk *p);
/* What the backend calls (portls_be_session_config.psk_client/psk_server),
 * with the socket as arg. */
int portls__psk_client(void *arg, const char *hint, portls_psk *psk);
int portls__psk_server(void *arg, const char *identity, portls_psk *psk);

typedef struct portls__tls {
  portls_context *ctx;
  portls__engine eng;
  int is_server;
  int request_cert, reject_unauthorized;
  int min_dh_size;
  int request_ocsp; /* client: Node's requestOCSP */
  int secure;       /* handshake done and accepted */
  int authorized;
  int authz_error;
  char *host;       /* for the identity check */
  char *servername; /* client: SNI sent */
  portls__bytes alpn_wire, npn_wire;
  portls_buf session;
  portls_check_identity_cb check_identity;
  void *check_identity_user;
  portls__psk psk;      /* pskCallback / pskIdentityHint (engine.c) */
  portls_error psk_err; /* a bad answer of pskCallback: reported instead of the backend's */
  portls_be_info info;
  char *alpn, *npn, *peer_servername; /* copies of info strings */
  portls__bytes pending_clear;        /* written before the handshake completed */
  int end_after_handshake;
  portls_plat_timer *hs_timer;
  uint64_t connect_timeout_ms; /* client: tls.connect's timeout, armed on hs_timer */
  /* Server: the ClientHello stage (SNI answered by core before the backend
   * reads a byte); sni is the server's setup, NULL when it has none. */
  const portls__hello_hooks *hooks;
  portls__hello *hello;
  portls__bytes held_hello;   /* ciphertext held back meanwhile */
  int hello_step;             /* the next question to ask (engine.c) */
  portls__bytes resume;       /* resumeSession's answer, for the backend */
  portls__bytes ocsp;         /* OCSPRequest's answer, for the backend */
  struct portls_request *req; /* the question the application has not answered */
  portls__task task_req;
  int new_session_pending; /* newSession holds 'secureConnection' back */
  /* Renegotiation: renegotiate()'s callback, and Node's limiter of
   * client-initiated ones (server). */
  portls_renegotiate_cb reneg_cb;
  void *reneg_user;
  unsigned reneg_target; /* completed handshakes that end it */
  portls__task task_reneg;
  portls_error reneg_err;
  unsigned hs_started_seen;
  unsigned reneg_count;
  uint64_t last_hs_ms;
  uint64_t hs_timeout_ms; /* server: handshakeTimeout, for renegotiations */
  /* Called when a socket with no server becomes secure (a SecurePair's 'secure'). */
  void (*on_secure)(portls_socket *s, void *arg);
  void *on_secure_arg;
  /* A tls.Server's connection: its server's TLS half; the socket's activity
   * at the last rest sweep, and whether the backend has let it rest. The
   * server's rest sweep walks only the secure connections not rested yet
   * (rest_prev, rest_next); rest_listed says whether the socket is there. */
  struct portls__tls_server *server;
  int may_rest; /* made with may_rest (rest_min_connections): listed once secure */
  unsigned rest_mark;
  int rested;
  portls_socket *rest_prev, *rest_next;
  int rest_listed;
  /* observe.c: enableTrace (trace, its callback), and what is installed on
   * the backend session now. */
  int trace;
  portls_trace_cb trace_cb;
  void *trace_user;
  int keylog_on, trace_on;
} portls__tls;

/* The TLS upper layer (tls_socket.c). */
extern const portls__upper_ops portls__tls_upper;

/* s's TLS state, or NULL when s is not a TLS socket. */
static inline portls__tls *portls__tls_of(const portls_socket *s) {
  return s != NULL && s->uops == &portls__tls_upper ? s->upper : NULL;
}

/* ---- tls_socket.c, wrap.c: setting a socket up ---- */

/* Gives s a TLS layer configured from o (host: the name a client verifies
 * and, without o->servername, sends as SNI unless it is an IP address). */
int portls__tls_setup(portls_socket *s, const portls_tls_socket_options *o, const char *host,
                      portls_error *err);
/* Gives s an empty TLS layer (t is zeroed); PORTLS_ENOMEM. */
int portls__tls_attach(portls_socket *s, portls__tls **t, portls_error *err);
int portls__tls_arm_handshake_timer(portls_socket *s, uint64_t ms);
/* Whether a connection this server accepts now may rest later: the backend
 * rests, and the server holds rest_min_connections (this one included). */
int portls__tls_server_may_rest(const struct portls__tls_server *ts);
void portls__tls_stop_handshake_timer(portls__tls *t);
/* Client: tls.connect's timeout (connect and handshake) on the same timer:
 * PORTLS_ETIMEDOUT when it fires. 0 (ms 0: none) or a platform error. */
int portls__tls_arm_connect_timer(portls_socket *s, uint64_t ms);
/* Deferred start of a TLS socket over a connected lower layer: reading and the handshake. */
void portls__tls_start_task(void *arg);
/* Builds a TLS socket over a lower layer that is already connected. */
int portls__tls_over(portls_loop *loop, void *lower, const portls__lower_ops *ops,
                     const portls_tls_socket_options *o, portls_socket **out, portls_error *err);
int portls__protocols_to_wire(const portls_protocols *p, const char *what, portls__bytes *out,
                              portls_error *err);
/* The `session` option: getSession()'s bytes name the servername the session
 * was made for, and a client offers it only under that same name (else it
 * makes a full handshake). Sets *backend to the part the backend takes, or
 * to empty when the names differ. PORTLS_ESESSION for bytes getSession() did
 * not make. */
int portls__session_unwrap(portls_buf in, const char *servername, portls_buf *backend,
                           portls_error *err);
/* getSession()'s bytes for t's session (freed by the caller). */
int portls__tls_get_session(const portls__tls *t, portls_buf *out, portls_error *err);
/* Answers renegotiate()'s callback with t->reneg_err (a deferred task). */
void portls__tls_reneg_report(void *arg);

/* ---- engine.c: driving the backend session ---- */

/* Starts the engine, or the ClientHello stage on a server that asks the
 * application first. */
int portls__tls_start(portls_socket *s, portls_error *err);
void portls__tls_on_read(portls_socket *s, const uint8_t *data, size_t len);
/* Runs the handshake and decrypts what is ready, until the backend wants
 * more ciphertext or the socket pauses. */
void portls__tls_process(portls_socket *s);
int portls__tls_write(portls_socket *s, const void *data, size_t len);
void portls__tls_end(portls_socket *s);
void portls__tls_on_eof(portls_socket *s);
/* Frees the ClientHello stage and lets go of the application's unanswered
 * question (the socket is being freed). */
void portls__tls_drop_request(portls_socket *s);

/* ---- tls_server.c: a tls.Server's connections ---- */

/* s, a server's connection, is secure: 'secureConnection', and the rest sweep. */
void portls__tls_server_secure(portls_socket *s);
/* s is closing: it leaves the rest sweep. */
void portls__tls_server_forget(portls_socket *s);
/* An error on s before it is secure: the server's 'clientError'. 1 when it
 * went there, 0 when it is the socket's own 'error'. */
int portls__tls_server_client_error(portls_socket *s);

#endif
