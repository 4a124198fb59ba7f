/* portls: the posix platform's internal interface, shared by its three files.
 * Internal: never included outside platform/posix/.
 *
 *   posix.c   the loop (poll), timers, the pending-callback queue, errno
 *             mapping, the clock, and the vtable `portls__platform`
 *   stream.c  TCP and Unix-socket streams and listeners
 *   lookup.c  name lookup (getaddrinfo, run from the loop)
 *   watch.c   descriptors the application owns (portls_poll_new())
 *
 * A port to another socket API (lwIP, FreeRTOS+TCP) keeps this split: see
 * platform/README.md.
 */
#ifndef PORTLS_PLATFORM_POSIX_PX_H
#define PORTLS_PLATFORM_POSIX_PX_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "portls/platform.h"

#define PX_CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* A callback queued to run from the loop. Embedded in the object it belongs
 * to, so queueing never allocates. prev/next are NULL when not queued. */
typedef struct px_pending px_pending;
struct px_pending {
  px_pending *prev, *next;
  void (*run)(px_pending *p);
};

/* A file descriptor the loop polls. Embedded first in streams and listeners.
 * `events` is what the owner wants now (0: not polled at all, since poll()
 * reports POLLHUP/POLLERR even for fds that asked for nothing). */
typedef struct px_io px_io;
struct px_io {
  px_io *prev, *next;
  int fd;
  short events;
  unsigned char closing; /* closed: the loop skips it; freed by its close callback */
  unsigned char ep_on;   /* registered with the loop's epoll descriptor (backend_fd) as ep_fd */
  short ep_events;
  int ep_fd;
  void (*on_events)(px_io *io, short revents);
};

struct portls_plat_loop {
  uint64_t now;      /* cached monotonic ms */
  size_t nopen;      /* objects created and not yet closed/freed/cancelled/completed */
  size_t nactive;    /* streams with something to wait for (events != 0) */
  size_t nlisteners; /* open listeners (always active, as in libuv) */
  int running;       /* inside loop_run() (which is not re-entrant) */
  int stop;          /* loop_stop() was called */

  px_pending pending; /* sentinel of the callback queue */

  px_io ios; /* sentinel of every open stream and listener */
  size_t nio;

  /* poll() arrays, rebuilt each iteration, with room for every io (reserved
   * when an io is added, so polling never allocates). Arrays replaced while
   * their contents are being dispatched are freed after the dispatch. */
  struct pollfd *pfds;
  px_io **pios;
  size_t pcap;
  int dispatching;
  struct pollfd *stale_pfds;
  px_io **stale_pios;

  /* Timers: a binary min-heap on (due, seq), room reserved by timer_new(). */
  portls_plat_timer **heap;
  size_t nheap, heapcap, ntimers;
  uint64_t timer_seq;

  /* The application's own loop (portls_loop_backend_fd()): an epoll
   * descriptor mirroring the poll set, made on first request (Linux); -1. */
  int epfd;

  int iov_max;   /* iovecs per writev() */
  int emfile_fd; /* spare fd for accept() under EMFILE (libuv's trick), or -1 */
};

/* errno (positive) -> PORTLS_E*; 0 stays 0; unknown -> PORTLS_EIO. */
int portls__px_err(int e);

/* Refreshes the cached clock (loop->now). */
void portls__px_update_time(portls_plat_loop *loop);

/* The pending-callback queue. */
void portls__px_queue(portls_plat_loop *loop, px_pending *p);
void portls__px_dequeue(px_pending *p);
int portls__px_queued(const px_pending *p);

/* The io list. add() reserves poll() room: PORTLS_ENOMEM when it cannot. */
int portls__px_io_add(portls_plat_loop *loop, px_io *io);
void portls__px_io_remove(portls_plat_loop *loop, px_io *io);

/* Makes fd non-blocking and close-on-exec (and SO_NOSIGPIPE where it exists). */
int portls__px_fd_setup(int fd);

/* stream.c */
int portls__px_stream_connect(portls_plat_loop *loop, const portls_plat_addr *addr,
                              portls_plat_status_cb cb, void *ud, portls_plat_stream **out);
int portls__px_listen(portls_plat_loop *loop, const portls_plat_addr *addr, int backlog,
                      portls_plat_status_cb cb, void *ud, portls_plat_listener **out);
int portls__px_accept(portls_plat_listener *l, portls_plat_stream **out);
int portls__px_listener_address(portls_plat_listener *l, portls_plat_addr *out);
void portls__px_listener_close(portls_plat_listener *l, portls_plat_cb cb, void *ud);
int portls__px_read_start(portls_plat_stream *s, portls_plat_alloc_cb alloc, portls_plat_read_cb cb,
                          void *ud);
int portls__px_read_stop(portls_plat_stream *s);
int portls__px_try_write(portls_plat_stream *s, const portls_plat_iov *iov, size_t count);
int portls__px_write(portls_plat_stream *s, const portls_plat_iov *iov, size_t count,
                     portls_plat_status_cb cb, void *ud);
int portls__px_shutdown(portls_plat_stream *s, portls_plat_status_cb cb, void *ud);
void portls__px_close(portls_plat_stream *s, portls_plat_cb cb, void *ud);
int portls__px_set_nodelay(portls_plat_stream *s, int enable);
int portls__px_set_keepalive(portls_plat_stream *s, int enable, unsigned delay_s);
int portls__px_sockname(portls_plat_stream *s, portls_plat_addr *out);
int portls__px_peername(portls_plat_stream *s, portls_plat_addr *out);

/* watch.c */
int portls__px_watch_new(portls_plat_loop *loop, int fd, portls_plat_watch_cb cb, void *ud,
                         portls_plat_watch **out);
int portls__px_watch_start(portls_plat_watch *w, int events);
void portls__px_watch_close(portls_plat_watch *w, portls_plat_cb close_cb, void *ud);
int portls__px_listen_fd(portls_plat_loop *loop, int fd, portls_plat_status_cb cb, void *ud,
                         portls_plat_listener **out);
int portls__px_accept_fd(portls_plat_listener *l, int *fd);
int portls__px_stream_open(portls_plat_loop *loop, int fd, portls_plat_stream **out);

/* lookup.c */
int portls__px_lookup(portls_plat_loop *loop, const char *host, uint16_t port, int family,
                      portls_plat_lookup_cb cb, void *ud, portls_plat_lookup **out);
void portls__px_lookup_cancel(portls_plat_lookup *req);

#endif
