/* Internal: the socket (net.Socket and tls.TLSSocket share one object: a TLS
 * socket is a socket whose upper layer passes its bytes through an engine). */
#ifndef PORTLS_CORE_SOCKET_H
#define PORTLS_CORE_SOCKET_H

#include "net/loop.h"
#include "portls/platform.h"
#include "portls/portls.h"

#define PORTLS__DEFAULT_HWM (16 * 1024)
/* How long a server waits after a failed accept (EMFILE, ...) before it
 * accepts again. */
#define PORTLS__ACCEPT_BACKOFF_MS 500

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

/* What sits above a socket's bytes: net's own plain layer, which hands them
 * to the application, or a layer that transforms them (TLS, in core/tls). net
 * calls it wherever the two differ; every entry is required. The layer keeps
 * its state in the socket's `upper`. */
typedef struct portls__upper_ops {
  /* Bytes the lower layer read (len > 0). */
  void (*read)(portls_socket *s, const uint8_t *data, size_t len);
  /* The lower layer's end of stream. */
  void (*eof)(portls_socket *s);
  /* resume() from the loop: delivers what the pause held back. */
  void (*resume)(portls_socket *s);
  /* The application's bytes (len > 0) for the transport: 0 or an error. */
  int (*write)(portls_socket *s, const void *data, size_t len);
  /* end(): S_ENDING is set, and flush shuts the write side once holds_end says 0. */
  void (*end)(portls_socket *s);
  /* The application's bytes the layer holds that are not in s->out yet. */
  size_t (*held)(const portls_socket *s);
  /* 1 while the layer keeps the write side open (bytes or an end it holds back). */
  int (*holds_end)(const portls_socket *s);
  /* The lower layer connected and reads: starts the layer (a client's handshake). */
  int (*connected)(portls_socket *s, portls_error *err);
  /* destroy(): stops whatever could still fire (timers). */
  void (*destroying)(portls_socket *s);
  /* The lower layer closed; before 'error' and 'close': settles what the
   * layer still owes the application. */
  void (*closing)(portls_socket *s);
  /* For an error: 1 when the layer reported it itself (a tls.Server's
   * 'clientError'), 0 to emit 'error'. */
  int (*report_error)(portls_socket *s);
  /* Frees the layer's state (the socket is being freed). */
  void (*free)(portls_socket *s);
  /* set_events() replaced the listeners (TLS: keylog is installed or removed). */
  void (*events_changed)(portls_socket *s);
} portls__upper_ops;

/* The plain upper layer, every socket's until another takes its place. */
extern const portls__upper_ops portls__plain_upper;

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
  S_WRITING = 1u << 10,  /* a platform write is in flight */
  S_SHUTTING = 1u << 11, /* platform shutdown in flight */
  S_OUT_FULL = 1u << 12  /* not reading: the upper layer's own output is above the high-water
                            mark (portls__socket_protocol_output) */
};

struct portls_socket {
  portls_loop *loop;
  portls_socket_events ev;
  void *user;
  unsigned flags;

  portls_server *server; /* the server that accepted it */
  portls_socket *srv_prev, *srv_next;

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
  /* How many of the bytes in out and inflight the upper layer queued on its
   * own account (TLS: handshake messages, alerts, KeyUpdate answers) rather
   * than for the application's writes. An upper bound: bytes leave in order,
   * and which ones left first is not tracked, so it only drops once fewer
   * bytes than that are left to send. */
  size_t proto_out;
  portls__bytes held; /* plain: data that arrived while paused */

  uint64_t bytes_read, bytes_written, transport_written;
  unsigned activity; /* counts reads and writes: an upper layer can tell a quiet socket */

  portls_plat_timer *idle_timer;
  uint64_t idle_ms;

  /* A write the transport refused because the peer has gone, reported once
   * reading has said what it can (see write_failed in socket.c); 0: none. */
  int write_error;
  portls_plat_timer *write_error_timer;

  portls_error error; /* the error to emit before 'close' */
  portls__task task_close, task_resume, task_drain, task_connect_error;

  const portls__upper_ops *uops;
  void *upper; /* the upper layer's state; NULL for the plain one */
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
/* The upper layer has just queued n bytes in s->out that the application did
 * not write: its answer to what the peer sent (TLS: handshake messages,
 * alerts, KeyUpdate answers). A peer that keeps asking while it never reads
 * would make them pile up without bound, so while more than the high-water
 * mark of such bytes waits for the transport (after a flush), the socket
 * stops reading (S_OUT_FULL); once they have drained to the mark it calls the
 * upper layer's resume() (which goes on with the input it holds) and reads
 * again. Returns 1 when reading has stopped: the caller stops feeding input. */
int portls__socket_protocol_output(portls_socket *s, size_t n);
/* Emits 'end' and ends our side too (allowHalfOpen false). */
void portls__socket_peer_ended(portls_socket *s);
void portls__socket_emit_data(portls_socket *s, const uint8_t *data, size_t len);

/* The server side (core/net/server.c). */

/* What a server does with each connection it accepts, when it is more than
 * a net.Server (which emits 'connection'): a tls.Server's TLS layer. */
typedef struct portls__server_upper {
  /* Puts the layer on s, accepted and reading. On failure s is destroyed with *err. */
  int (*accepted)(void *data, portls_socket *s, portls_error *err);
  /* Frees data with the server. */
  void (*free)(void *data);
} portls__server_upper;

/* A server (not listening yet) configured from o's net options; NULL o: the defaults. */
int portls__server_new(portls_loop *loop, const portls_server_options *o, portls_server **out,
                       portls_error *err);
/* Frees a server that never listened (its creation failed). */
void portls__server_discard(portls_server *srv);
/* Gives srv an upper layer; data is freed with the server. */
void portls__server_set_upper(portls_server *srv, const portls__server_upper *ops, void *data);
/* srv's upper-layer data when its layer is ops, else NULL. */
void *portls__server_upper_data(const portls_server *srv, const portls__server_upper *ops);
/* srv's events and user pointer, for events the upper layer emits. */
const portls_server_events *portls__server_events(const portls_server *srv, void **user);
void portls__server_socket_closed(portls_server *srv, portls_socket *s);
/* Makes parent (just created) the head of n workers (options.workers), each
 * a server made by make() on a loop of its own; n <= 1 does nothing. */
int portls__server_workers(portls_server *parent, unsigned n, int mode,
                           int (*make)(portls_loop *loop, void *arg, portls_server **out,
                                       portls_error *err),
                           void *arg, portls_error *err);
/* A parent's number of workers (0: not a workers server), and whether they run. */
size_t portls__server_workers_count(const portls_server *srv, int *started);
portls_server *portls__server_worker(const portls_server *srv, size_t i);

#endif
