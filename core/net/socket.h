/* Internal: the socket (net.Socket and tls.TLSSocket share one object: a TLS
 * socket is a socket whose bytes pass through an engine). */
#ifndef PORTLS_CORE_SOCKET_H
#define PORTLS_CORE_SOCKET_H

#include "net/loop.h"
#include "portls/backend.h"
#include "portls/platform.h"
#include "portls/portls.h"
#include "tls/engine.h"
#include "tls/hello.h"
#include "tls/sni.h"

#define PORTLS__DEFAULT_HWM (16 * 1024)

/* What a socket's bytes travel over: a platform stream (TCP, Unix), a
 * SecurePair's memory pump, an application-defined duplex, or another
 * socket. Received bytes go to portls__socket_on_bytes(). Optional entries
 * may be NULL. */
typedef struct portls__lower_ops {
  int (*read_start)(void *impl, portls_socket *s);
  void (*read_stop)(void *impl);
  /* Writes what it can now: the count (maybe 0) or an error. */
  int (*try_write)(void *impl, const portls_plat_iov *iov, size_t n);
  /* Queues; the buffers stay valid until cb, which runs from the loop. */
  int (*write)(void *impl, const portls_plat_iov *iov, size_t n, portls_plat_status_cb cb,
               void *ud);
  int (*shutdown)(void *impl, portls_plat_status_cb cb, void *ud);
  void (*close)(void *impl, portls_plat_cb cb, void *ud);
  int (*set_nodelay)(void *impl, int on);
  int (*set_keepalive)(void *impl, int on, unsigned delay_s);
  int (*sockname)(void *impl, portls_plat_addr *out);
  int (*peername)(void *impl, portls_plat_addr *out);
} portls__lower_ops;

/* The lower layer over a platform stream. */
extern const portls__lower_ops portls__stream_lower;

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
  portls_be_info info;
  char *alpn, *npn, *peer_servername; /* copies of info strings */
  portls__bytes pending_clear;        /* written before the handshake completed */
  int end_after_handshake;
  portls_plat_timer *hs_timer;
  /* Server: the ClientHello stage (SNI answered by core before the backend
   * reads a byte); sni is the server's setup, NULL when it has none. */
  const portls__hello_hooks *hooks;
  portls__hello *hello;
  portls__bytes held_hello;   /* ciphertext held back meanwhile */
  int hello_step;             /* the next question to ask (tls_socket.c) */
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
  /* Server: the socket's activity at the last rest sweep, and whether the
   * backend has let the connection rest (portls__tls_maybe_rest). */
  unsigned rest_mark;
  int rested;
} portls__tls;

enum {
  S_CONNECTING = 1u << 0,
  S_CONNECTED = 1u << 1,
  S_PAUSED = 1u << 2,
  S_READING = 1u << 3,
  S_ENDING = 1u << 4,     /* end() called: shut down once output drains */
  S_SHUT = 1u << 5,       /* our write side is shut */
  S_PEER_ENDED = 1u << 6, /* 'end' seen */
  S_DESTROYED = 1u << 7,
  S_HAD_ERROR = 1u << 8,
  S_NEED_DRAIN = 1u << 9,
  S_WRITING = 1u << 10, /* a platform write is in flight */
  S_SHUTTING = 1u << 11 /* platform shutdown in flight */
};

struct portls_socket {
  portls_loop *loop;
  portls_socket_events ev;
  void *user;
  unsigned flags;

  portls_server *server; /* the server that accepted it */
  portls_socket *srv_prev, *srv_next;
  /* The server's list of secure connections that have not rested yet (its
   * rest sweep walks only these); rest_listed says whether s is on it. */
  portls_socket *rest_prev, *rest_next;
  int rest_listed;

  void *lower; /* NULL until connected */
  const portls__lower_ops *lops;
  portls_plat_lookup *lookup;
  portls_plat_addr *addrs; /* connect candidates */
  size_t naddrs, addr_idx;
  char *host;
  uint16_t port;

  portls__bytes out;      /* bytes for the transport (ciphertext on TLS) */
  portls__bytes inflight; /* handed to the platform */
  size_t inflight_off;
  size_t hwm;
  portls__bytes held; /* plain: data that arrived while paused */

  uint64_t bytes_read, bytes_written, transport_written;
  unsigned activity; /* counts reads and writes: a server's rest sweep compares it */

  portls_plat_timer *idle_timer;
  uint64_t idle_ms;

  portls_error error; /* the error to emit before 'close' */
  portls__task task_close, task_resume, task_drain, task_connect_error;

  portls__tls *tls;
};

/* Allocates a socket on loop (not yet connected). */
portls_socket *portls__socket_alloc(portls_loop *loop, size_t hwm);
/* Frees a socket that never reached the loop (creation failed). */
void portls__socket_discard(portls_socket *s);
/* Starts connecting to host:port (looked up) or to a Unix path. */
int portls__socket_connect(portls_socket *s, const char *host, uint16_t port, const char *path,
                           portls_error *err);
/* Takes over a connected lower layer and starts reading. */
int portls__socket_attach(portls_socket *s, void *lower, const portls__lower_ops *ops);
/* Bytes (status 0), end of stream (PORTLS_EOF) or an error from the lower layer. */
void portls__socket_on_bytes(portls_socket *s, int status, const uint8_t *data, size_t len);
/* Destroys with an error code + message (emitted as 'error' or, before a
 * server socket is secure, as the server's 'clientError'). */
void portls__socket_fail(portls_socket *s, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Moves queued output to the transport. */
void portls__socket_flush(portls_socket *s);
/* Emits 'end' and ends our side too (allowHalfOpen false). */
void portls__socket_peer_ended(portls_socket *s);
void portls__socket_emit_data(portls_socket *s, const uint8_t *data, size_t len);

/* TLS hooks (core/tls/tls_socket.c, core/tls/wrap.c). */
/* Gives s a TLS layer configured from o (host: the name a client verifies
 * and, without o->servername, sends as SNI unless it is an IP address). */
int portls__tls_setup(portls_socket *s, const portls_tls_socket_options *o, const char *host,
                      portls_error *err);
int portls__tls_arm_handshake_timer(portls_socket *s, uint64_t ms);
/* Deferred start of a TLS socket over a connected lower layer: reading and the handshake. */
void portls__tls_start_task(void *arg);
/* Builds a TLS socket over a lower layer that is already connected. */
int portls__tls_over(portls_loop *loop, void *lower, const portls__lower_ops *ops,
                     const portls_tls_socket_options *o, portls_socket **out, portls_error *err);
int portls__protocols_to_wire(const portls_protocols *p, const char *what, portls__bytes *out,
                              portls_error *err);
int portls__tls_start(portls_socket *s, portls_error *err);
/* Before 'error' and 'close': ends what the socket still owes the
 * application (a renegotiate() callback). */
void portls__tls_closing(portls_socket *s);
/* The `session` option: getSession()'s bytes name the servername the session
 * was made for, and a client offers it only under that same name (else it
 * makes a full handshake). Sets *backend to the part the backend takes, or
 * to empty when the names differ. PORTLS_ESESSION for bytes getSession() did
 * not make. */
int portls__session_unwrap(portls_buf in, const char *servername, portls_buf *backend,
                           portls_error *err);
void portls__tls_on_read(portls_socket *s, const uint8_t *data, size_t len);
void portls__tls_process(portls_socket *s);
int portls__tls_write(portls_socket *s, const void *data, size_t len);
void portls__tls_end(portls_socket *s);
void portls__tls_on_eof(portls_socket *s);
void portls__tls_free(portls_socket *s);
/* A server's rest sweep: a secure connection quiet since the last sweep, with
 * nothing buffered, is offered to the backend's rest(). 1: it rested now;
 * -1: it never will (the server stops asking); 0: not now. */
int portls__tls_maybe_rest(portls_socket *s);
/* How often a server sweeps: a connection rests after one to two periods of
 * quiet. Short, so that in a burst of connections the memory the first ones
 * give back serves the handshakes of the next; a connection moving data is
 * never quiet that long. */
#define PORTLS__REST_SWEEP_MS 100
/* The sweep returns freed heap memory to the system at most this often. */
#define PORTLS__REST_TRIM_MS 1000

/* Server hooks (core/net/server.c). */
void portls__server_socket_closed(portls_server *srv, portls_socket *s);
void portls__server_client_error(portls_server *srv, portls_socket *s, const portls_error *err);
void portls__server_secure(portls_server *srv, portls_socket *s);

#endif
