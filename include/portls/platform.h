/* portls: the platform contract.
 *
 * A platform gives core an event loop, timers, name lookup and byte streams
 * (TCP and Unix sockets), behind one const vtable, `portls__platform`, that
 * the platform's sources define. It knows nothing of TLS. Its shape is
 * libuv's (callbacks, a read buffer supplied by the caller), so a port to
 * lwIP or FreeRTOS+TCP is a poll()/select() loop over their socket API; see
 * platform/README.md.
 *
 * Rules every platform keeps:
 * - Callbacks run from the loop, never from inside the call that caused them.
 * - Errors are negative PORTLS_E* codes (errors.h); map the OS's errno.
 * - After stream_close() / listener_close() / timer_free() / lookup_cancel(),
 *   no callback of that object runs except the close callback (pending write
 *   and shutdown callbacks run first, with PORTLS_ECANCELED).
 * - Memory a platform allocates goes through portls_plat_alloc/portls_plat_free.
 */
#ifndef PORTLS_PLATFORM_H
#define PORTLS_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct portls_plat_loop portls_plat_loop;         /* platform-defined */
typedef struct portls_plat_timer portls_plat_timer;       /* platform-defined */
typedef struct portls_plat_stream portls_plat_stream;     /* platform-defined */
typedef struct portls_plat_listener portls_plat_listener; /* platform-defined */
typedef struct portls_plat_lookup portls_plat_lookup;     /* platform-defined */
typedef struct portls_plat_watch portls_plat_watch;       /* platform-defined */
typedef struct portls_plat_thread portls_plat_thread;     /* platform-defined */
typedef struct portls_plat_async portls_plat_async;       /* platform-defined */

enum { PORTLS_PLAT_INET = 4, PORTLS_PLAT_INET6 = 6, PORTLS_PLAT_UNIX = 1 };

typedef struct portls_plat_addr {
  int family;     /* PORTLS_PLAT_INET, _INET6 or _UNIX */
  uint16_t port;  /* host byte order */
  uint8_t ip[16]; /* network byte order; IPv4 in the first 4 bytes */
  uint32_t scope_id;
  char path[108]; /* PORTLS_PLAT_UNIX */
} portls_plat_addr;

typedef struct portls_plat_iov {
  const uint8_t *base;
  size_t len;
} portls_plat_iov;

enum { PORTLS_PLAT_RUN_DEFAULT = 0, PORTLS_PLAT_RUN_ONCE = 1, PORTLS_PLAT_RUN_NOWAIT = 2 };

typedef void (*portls_plat_cb)(void *ud);
typedef void (*portls_plat_status_cb)(void *ud, int status);
/* Gives the platform a buffer to read into (at least 1 byte). */
typedef void (*portls_plat_alloc_cb)(void *ud, size_t suggested, uint8_t **buf, size_t *len);
/* status 0: nread bytes were read into the last buffer given by alloc;
 * PORTLS_EOF: the peer ended its side; other negative: a read error. */
typedef void (*portls_plat_read_cb)(void *ud, int status, size_t nread);
typedef void (*portls_plat_lookup_cb)(void *ud, int status, const portls_plat_addr *addrs,
                                      size_t count);
/* A watched descriptor became ready: events is PORTLS_PLAT_WATCH_READ and/or
 * _WRITE; status is 0 or a negative PORTLS_E* (the descriptor is invalid). */
typedef void (*portls_plat_watch_cb)(void *ud, int status, int events);
enum { PORTLS_PLAT_WATCH_READ = 1, PORTLS_PLAT_WATCH_WRITE = 2 };

typedef struct portls_platform {
  const char *name; /* "libuv", "posix", ... */

  int (*loop_new)(portls_plat_loop **out);
  /* PORTLS_EBUSY while handles remain open. */
  int (*loop_free)(portls_plat_loop *loop);
  /* Runs the loop; returns 1 if handles remain active, 0 if none. */
  int (*loop_run)(portls_plat_loop *loop, int mode);
  void (*loop_stop)(portls_plat_loop *loop);
  /* Monotonic milliseconds, cached per iteration. */
  uint64_t (*now)(portls_plat_loop *loop);

  int (*timer_new)(portls_plat_loop *loop, portls_plat_cb cb, void *ud, portls_plat_timer **out);
  void (*timer_start)(portls_plat_timer *t, uint64_t timeout_ms, uint64_t repeat_ms);
  void (*timer_stop)(portls_plat_timer *t);
  void (*timer_free)(portls_plat_timer *t);

  /* Resolves host (a name or a literal address) for port; family 0 (any),
   * PORTLS_PLAT_INET or _INET6. The callback gets every address found. */
  int (*lookup)(portls_plat_loop *loop, const char *host, uint16_t port, int family,
                portls_plat_lookup_cb cb, void *ud, portls_plat_lookup **out);
  void (*lookup_cancel)(portls_plat_lookup *req);

  /* Starts connecting; *out exists at once (close it even if cb reports failure). */
  int (*stream_connect)(portls_plat_loop *loop, const portls_plat_addr *addr,
                        portls_plat_status_cb cb, void *ud, portls_plat_stream **out);
  /* Binds and listens; errors (PORTLS_EADDRINUSE, PORTLS_EACCES, ...) are
   * returned here. cb runs once per pending connection: call accept(). A
   * failed accept (PORTLS_EMFILE, ...) comes as cb(error), after which the
   * listener accepts nothing until the next accept() call (core's back-off),
   * so that a listener that stays readable cannot spin the loop. */
  int (*listen)(portls_plat_loop *loop, const portls_plat_addr *addr, int backlog,
                portls_plat_status_cb cb, void *ud, portls_plat_listener **out);
  /* The connection behind cb(0), or PORTLS_EAGAIN; after a cb(error), lets
   * accepting resume. */
  int (*accept)(portls_plat_listener *l, portls_plat_stream **out);
  int (*listener_address)(portls_plat_listener *l, portls_plat_addr *out);
  void (*listener_close)(portls_plat_listener *l, portls_plat_cb cb, void *ud);

  int (*read_start)(portls_plat_stream *s, portls_plat_alloc_cb alloc, portls_plat_read_cb cb,
                    void *ud);
  int (*read_stop)(portls_plat_stream *s);
  /* Writes what it can now without blocking: the count (maybe 0), or an error. */
  int (*try_write)(portls_plat_stream *s, const portls_plat_iov *iov, size_t count);
  /* Queues the buffers (their memory must stay valid until cb); cb(status). */
  int (*write)(portls_plat_stream *s, const portls_plat_iov *iov, size_t count,
               portls_plat_status_cb cb, void *ud);
  /* Half-close after queued writes. */
  int (*shutdown)(portls_plat_stream *s, portls_plat_status_cb cb, void *ud);
  void (*close)(portls_plat_stream *s, portls_plat_cb cb, void *ud);
  int (*set_nodelay)(portls_plat_stream *s, int enable);
  int (*set_keepalive)(portls_plat_stream *s, int enable, unsigned delay_s);
  int (*sockname)(portls_plat_stream *s, portls_plat_addr *out);
  int (*peername)(portls_plat_stream *s, portls_plat_addr *out);

  /* Optional (NULL allowed): this program's command line, its arguments
   * joined by spaces, written to buf (not NUL-terminated, cut at cap); the
   * length, or 0 when unknown. Core hashes it into Node's default
   * sessionIdContext; without it a fixed text is used. */
  size_t (*command_line)(char *buf, size_t cap);
  /* Optional (NULL allowed): returns freed heap memory to the system. Core
   * calls it after a server's rest sweep let connections give back their
   * TLS library sessions, which a heap keeps resident otherwise. */
  void (*trim_memory)(void);

  /* Optional (all three NULL allowed: portls_poll_new() then fails with
   * PORTLS_ENOTSUP): readiness of a descriptor the application owns, as
   * libuv's uv_poll_t, for libraries with their own sockets (hiredis).
   * watch_new() does not take the descriptor over; watch_start(events)
   * replaces what is watched (0 stops); a started watch keeps the loop alive;
   * watch_close() stops it at once (cb never runs again) and runs close_cb
   * from the loop once the platform is done with it. */
  int (*watch_new)(portls_plat_loop *loop, int fd, portls_plat_watch_cb cb, void *ud,
                   portls_plat_watch **out);
  int (*watch_start)(portls_plat_watch *w, int events);
  void (*watch_close)(portls_plat_watch *w, portls_plat_cb close_cb, void *ud);
  /* ---- Optional (NULL allowed): descriptors the application gives, loops
   * on several threads (a server's `workers`), and the application's own
   * event loop. Without them, the options that need them fail with
   * PORTLS_ENOTSUP. */
  /* Listens on fd, a socket already bound and listening (TCP or Unix); the
   * listener owns it from then on (closes it). PORTLS_EINVAL when fd is not a
   * listening stream socket. */
  int (*listen_fd)(portls_plat_loop *loop, int fd, portls_plat_status_cb cb, void *ud,
                   portls_plat_listener **out);
  /* A new socket bound to addr and listening (with SO_REUSEPORT when
   * reuseport), not yet attached to a loop: its descriptor in *fd. */
  int (*bind_listen)(const portls_plat_addr *addr, int backlog, int reuseport, int *fd);
  /* As accept(), but the connection comes as its bare descriptor (to hand
   * to another loop's stream_open). */
  int (*accept_fd)(portls_plat_listener *l, int *fd);
  /* A stream over fd, a connected socket (TCP or Unix); the stream owns it. */
  int (*stream_open)(portls_plat_loop *loop, int fd, portls_plat_stream **out);
  /* dup() (close-on-exec): the new descriptor or a negative PORTLS_E*. */
  int (*fd_dup)(int fd);
  void (*fd_close)(int fd);
  /* A thread running fn(arg); thread_join() waits for it and frees it. */
  int (*thread_start)(void (*fn)(void *arg), void *arg, portls_plat_thread **out);
  void (*thread_join)(portls_plat_thread *t);
  /* A wakeup: after async_send(), from any thread, cb(ud) runs on loop's
   * thread (several sends may make one call). An open async keeps the loop
   * alive. async_close() is called on the loop's thread; no callback runs
   * after it, and no thread may send to it any more. */
  int (*async_new)(portls_plat_loop *loop, portls_plat_cb cb, void *ud, portls_plat_async **out);
  void (*async_send)(portls_plat_async *a);
  void (*async_close)(portls_plat_async *a);
  /* The descriptor the loop waits on (readable when the loop has work),
   * and how long it may wait: ms, -1 for no limit, 0 to run now (libuv's
   * uv_backend_fd / uv_backend_timeout). */
  int (*backend_fd)(portls_plat_loop *loop);
  int (*backend_timeout)(portls_plat_loop *loop);
} portls_platform;

/* Defined by the compiled platform. */
extern const portls_platform portls__platform;

/* Allocates with the library's allocator (portls_set_allocator()), for
 * platform code; NULL when out of memory. Freed with portls_plat_free(). */
void *portls_plat_alloc(size_t size);
/* Frees memory from portls_plat_alloc(); NULL is a no-op. */
void portls_plat_free(void *ptr);

#ifdef __cplusplus
}
#endif
#endif
