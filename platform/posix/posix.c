/* portls: the posix platform (include/portls/platform.h over POSIX.1-2008
 * alone: poll(), non-blocking sockets, getaddrinfo(), clock_gettime()).
 *
 * One loop iteration, in order (libuv's, minus the phases we do not need):
 *   1. update the cached clock; run the timers that are due
 *   2. run the pending-callback queue (connect results reported at once,
 *      write/shutdown completions, close callbacks, lookups)
 *   3. poll() every fd that wants something, and dispatch what is ready
 *   4. (RUN_ONCE only) update the clock, run the timers that became due
 *   5. run the pending-callback queue again
 * A callback caused by an API call (write done, close done, ...) is always
 * queued in the pending queue, so it runs from the loop, never inside the
 * call. Queue runs take a snapshot: callbacks queued meanwhile wait for the
 * next run, so no callback can starve I/O; timers started by a timer
 * callback wait for the next iteration for the same reason.
 *
 * Objects are freed by their close callback (streams, listeners), by
 * timer_free(), or after their callback (lookups, write requests). A stream
 * or listener that is closed is skipped by the dispatch and stays in memory
 * until its close callback has run, which always comes after the dispatch.
 *
 * This file is the only one that knows how the loop waits; a port to lwIP or
 * FreeRTOS+TCP replaces poll() here and the socket calls in stream.c.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/epoll.h>
#define PX_HAVE_EPOLL 1
#endif
#include <stdatomic.h>

#include "../common/cmdline.h"
#include "../common/fds.h"
#include "../common/sigpipe.h"
#include "../common/trim.h"
#include "px.h"

/* ------------------------------------------------------------------------ */
/* Errors                                                                     */

/* Mirrors portls__uv_err() in platform/libuv/uv.c, errno by errno (libuv's
 * UV_E* codes are negated errnos on Unix). Codes outside POSIX are guarded,
 * as are aliases that some systems define to the same value. */
int portls__px_err(int e) {
  switch (e) {
  case 0:
    return 0;
  case EINVAL:
  case EBADF:
  case EFAULT:
  case ENOTSOCK:
  case EISCONN:
  case EDESTADDRREQ:
  case EMSGSIZE:
  case E2BIG:
  case EPROTOTYPE:
  case ENOPROTOOPT:
    return PORTLS_EINVAL;
  case ENOMEM:
  case ENOBUFS:
    return PORTLS_ENOMEM;
  case ENOTSUP:
#if defined(EOPNOTSUPP) && EOPNOTSUPP != ENOTSUP
  case EOPNOTSUPP:
#endif
  case ENOSYS:
  case EAFNOSUPPORT:
  case EPROTONOSUPPORT:
#ifdef ESOCKTNOSUPPORT
  case ESOCKTNOSUPPORT:
#endif
    return PORTLS_ENOTSUP;
  case ENOENT:
  case ENOTDIR:
    return PORTLS_ENOENT;
  case EACCES:
  case EPERM:
  case EROFS:
    return PORTLS_EACCES;
  case EIO:
    return PORTLS_EIO;
  case EBUSY:
  case EALREADY:
  case ETXTBSY:
    return PORTLS_EBUSY;
  case EAGAIN:
#if defined(EWOULDBLOCK) && EWOULDBLOCK != EAGAIN
  case EWOULDBLOCK:
#endif
    return PORTLS_EAGAIN;
  case ECANCELED:
    return PORTLS_ECANCELED;
  case ECONNREFUSED:
    return PORTLS_ECONNREFUSED;
  case ECONNRESET:
    return PORTLS_ECONNRESET;
  case ECONNABORTED:
    return PORTLS_ECONNABORTED;
  case EPIPE:
#ifdef ESHUTDOWN
  case ESHUTDOWN:
#endif
    return PORTLS_EPIPE;
  case ETIMEDOUT:
    return PORTLS_ETIMEDOUT;
  case EADDRINUSE:
  case EEXIST:
    return PORTLS_EADDRINUSE;
  case EADDRNOTAVAIL:
    return PORTLS_EADDRNOTAVAIL;
  case ENOTCONN:
    return PORTLS_ENOTCONN;
  case ENETUNREACH:
  case ENETDOWN:
    return PORTLS_ENETUNREACH;
  case EHOSTUNREACH:
#ifdef EHOSTDOWN
  case EHOSTDOWN:
#endif
    return PORTLS_EHOSTUNREACH;
  case EMFILE:
  case ENFILE:
    return PORTLS_EMFILE;
  case ENAMETOOLONG:
    return PORTLS_ENAMETOOLONG;
  default:
    return PORTLS_EIO;
  }
}

/* ------------------------------------------------------------------------ */
/* Descriptors                                                                */

int portls__px_fd_setup(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) return portls__px_err(errno);
  fl = fcntl(fd, F_GETFD);
  if (fl == -1 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) == -1) return portls__px_err(errno);
#ifdef SO_NOSIGPIPE
  {
    /* BSDs and macOS: no SIGPIPE from this socket, whatever the handler. */
    int on = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on);
  }
#endif
  return 0;
}

/* ------------------------------------------------------------------------ */
/* The pending-callback queue                                                 */

int portls__px_queued(const px_pending *p) { return p->next != NULL; }

void portls__px_queue(portls_plat_loop *loop, px_pending *p) {
  if (p->next != NULL) return;
  p->next = &loop->pending;
  p->prev = loop->pending.prev;
  loop->pending.prev->next = p;
  loop->pending.prev = p;
}

void portls__px_dequeue(px_pending *p) {
  if (p->next == NULL) return;
  p->prev->next = p->next;
  p->next->prev = p->prev;
  p->prev = p->next = NULL;
}

static int px_pending_empty(const portls_plat_loop *loop) {
  return loop->pending.next == &loop->pending;
}

/* Runs what is queued now; what these callbacks queue runs next time. An
 * item of the snapshot can still be dequeued (a stream closed meanwhile
 * drops its connect result): it sits in `batch`, whose links stay valid. */
static int px_run_pending(portls_plat_loop *loop) {
  px_pending batch;
  if (px_pending_empty(loop)) return 0;
  batch.next = loop->pending.next;
  batch.prev = loop->pending.prev;
  batch.next->prev = &batch;
  batch.prev->next = &batch;
  loop->pending.next = loop->pending.prev = &loop->pending;
  while (batch.next != &batch) {
    px_pending *p = batch.next;
    portls__px_dequeue(p);
    p->run(p);
  }
  return 1;
}

/* ------------------------------------------------------------------------ */
/* The io list and poll()                                                     */

static int px_reserve_poll(portls_plat_loop *loop, size_t need) {
  struct pollfd *pfds;
  px_io **pios;
  size_t cap;
  if (need <= loop->pcap) return 0;
  cap = loop->pcap ? loop->pcap * 2 : 16;
  while (cap < need) cap *= 2;
  if (cap > (size_t)-1 / sizeof *pfds || cap > (size_t)-1 / sizeof *pios) return PORTLS_ENOMEM;
  pfds = portls_plat_alloc(cap * sizeof *pfds);
  pios = portls_plat_alloc(cap * sizeof *pios);
  if (pfds == NULL || pios == NULL) {
    portls_plat_free(pfds);
    portls_plat_free(pios);
    return PORTLS_ENOMEM;
  }
  if (loop->dispatching && loop->stale_pfds == NULL) {
    /* The dispatch in progress reads the current arrays. */
    loop->stale_pfds = loop->pfds;
    loop->stale_pios = loop->pios;
  } else {
    portls_plat_free(loop->pfds);
    portls_plat_free(loop->pios);
  }
  loop->pfds = pfds;
  loop->pios = pios;
  loop->pcap = cap;
  return 0;
}

int portls__px_io_add(portls_plat_loop *loop, px_io *io) {
  int rc = px_reserve_poll(loop, loop->nio + 1);
  if (rc != 0) return rc;
  io->next = &loop->ios;
  io->prev = loop->ios.prev;
  loop->ios.prev->next = io;
  loop->ios.prev = io;
  loop->nio++;
  return 0;
}

static void px_ep_forget(portls_plat_loop *loop, px_io *io);

void portls__px_io_remove(portls_plat_loop *loop, px_io *io) {
  if (io->next == NULL) return;
  px_ep_forget(loop, io);
  io->prev->next = io->next;
  io->next->prev = io->prev;
  io->prev = io->next = NULL;
  loop->nio--;
}

/* Polls with timeout (ms, -1: forever) and dispatches; 1 if anything ran. */
static int px_poll(portls_plat_loop *loop, int timeout) {
  size_t n = 0, i;
  px_io *io;
  int r, ran = 0;

  for (io = loop->ios.next; io != &loop->ios; io = io->next) {
    if (io->fd < 0 || io->events == 0 || io->closing) continue;
    loop->pfds[n].fd = io->fd;
    loop->pfds[n].events = io->events;
    loop->pfds[n].revents = 0;
    loop->pios[n] = io;
    n++;
  }
  /* Nothing to wait for and nothing due: libuv returns at once too. */
  if (n == 0 && timeout < 0) return 0;
  r = poll(loop->pfds, (nfds_t)n, timeout);
  /* As libuv does after its poll: a timer that an I/O callback starts counts
   * from now, not from before the sleep. */
  if (timeout != 0) portls__px_update_time(loop);
  if (r <= 0) return 0; /* timeout, or EINTR: the caller's loop comes back */

  loop->dispatching = 1;
  {
    struct pollfd *pfds = loop->pfds;
    px_io **pios = loop->pios;
    for (i = 0; i < n; i++) {
      short revents = pfds[i].revents;
      io = pios[i];
      /* Closed by an earlier callback of this dispatch: its fd may even
       * belong to a new socket now, which this poll() never saw. */
      if (revents == 0 || io->closing) continue;
      io->on_events(io, revents);
      ran = 1;
    }
  }
  loop->dispatching = 0;
  if (loop->stale_pfds != NULL) {
    portls_plat_free(loop->stale_pfds);
    portls_plat_free(loop->stale_pios);
    loop->stale_pfds = NULL;
    loop->stale_pios = NULL;
  }
  return ran;
}

/* ------------------------------------------------------------------------ */
/* Clock and timers                                                           */

struct portls_plat_timer {
  portls_plat_loop *loop;
  portls_plat_cb cb;
  void *ud;
  uint64_t due, repeat, seq;
  size_t idx; /* position in the heap, or PX_NOT_QUEUED */
};

#define PX_NOT_QUEUED ((size_t)-1)

void portls__px_update_time(portls_plat_loop *loop) {
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return;
  loop->now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Timers due at the same time run in the order they were started. */
static int px_timer_less(const portls_plat_timer *a, const portls_plat_timer *b) {
  return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void px_heap_set(portls_plat_loop *loop, size_t i, portls_plat_timer *t) {
  loop->heap[i] = t;
  t->idx = i;
}

static void px_heap_up(portls_plat_loop *loop, size_t i) {
  portls_plat_timer *t = loop->heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!px_timer_less(t, loop->heap[parent])) break;
    px_heap_set(loop, i, loop->heap[parent]);
    i = parent;
  }
  px_heap_set(loop, i, t);
}

static void px_heap_down(portls_plat_loop *loop, size_t i) {
  portls_plat_timer *t = loop->heap[i];
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= loop->nheap) break;
    if (child + 1 < loop->nheap && px_timer_less(loop->heap[child + 1], loop->heap[child])) child++;
    if (!px_timer_less(loop->heap[child], t)) break;
    px_heap_set(loop, i, loop->heap[child]);
    i = child;
  }
  px_heap_set(loop, i, t);
}

static void px_heap_insert(portls_plat_loop *loop, portls_plat_timer *t) {
  /* Room was reserved by timer_new() for every timer alive. */
  px_heap_set(loop, loop->nheap++, t);
  px_heap_up(loop, t->idx);
}

static void px_heap_remove(portls_plat_loop *loop, portls_plat_timer *t) {
  size_t i = t->idx;
  portls_plat_timer *last;
  if (i == PX_NOT_QUEUED) return;
  t->idx = PX_NOT_QUEUED;
  last = loop->heap[--loop->nheap];
  if (last == t) return;
  px_heap_set(loop, i, last);
  if (i > 0 && px_timer_less(last, loop->heap[(i - 1) / 2]))
    px_heap_up(loop, i);
  else
    px_heap_down(loop, i);
}

static void px_timer_arm(portls_plat_timer *t, uint64_t timeout) {
  portls_plat_loop *loop = t->loop;
  t->due = loop->now + timeout < loop->now ? UINT64_MAX : loop->now + timeout;
  t->seq = ++loop->timer_seq;
  px_heap_insert(loop, t);
}

/* Runs the timers due now that were started before this call. */
static int px_run_timers(portls_plat_loop *loop) {
  uint64_t last_seq = loop->timer_seq;
  int ran = 0;
  while (loop->nheap > 0) {
    portls_plat_timer *t = loop->heap[0];
    /* A timer started during this run has due >= now, so it sorts after
     * every older timer that is due: stopping at it skips none of them. */
    if (t->due > loop->now || t->seq > last_seq) break;
    px_heap_remove(loop, t);
    if (t->repeat > 0) px_timer_arm(t, t->repeat);
    /* t may be freed by its callback: not touched afterwards. */
    t->cb(t->ud);
    ran = 1;
  }
  return ran;
}

static int px_timer_new(portls_plat_loop *loop, portls_plat_cb cb, void *ud,
                        portls_plat_timer **out) {
  portls_plat_timer *t;
  if (out == NULL) return PORTLS_EINVAL;
  *out = NULL;
  if (loop == NULL || cb == NULL) return PORTLS_EINVAL;
  if (loop->ntimers + 1 > loop->heapcap) {
    size_t cap = loop->heapcap ? loop->heapcap * 2 : 16;
    portls_plat_timer **heap;
    if (cap > (size_t)-1 / sizeof *heap) return PORTLS_ENOMEM;
    heap = portls_plat_alloc(cap * sizeof *heap);
    if (heap == NULL) return PORTLS_ENOMEM;
    if (loop->nheap > 0) memcpy(heap, loop->heap, loop->nheap * sizeof *heap);
    portls_plat_free(loop->heap);
    loop->heap = heap;
    loop->heapcap = cap;
  }
  t = portls_plat_alloc(sizeof *t);
  if (t == NULL) return PORTLS_ENOMEM;
  memset(t, 0, sizeof *t);
  t->loop = loop;
  t->cb = cb;
  t->ud = ud;
  t->idx = PX_NOT_QUEUED;
  loop->ntimers++;
  loop->nopen++;
  *out = t;
  return 0;
}

static void px_timer_start(portls_plat_timer *t, uint64_t timeout_ms, uint64_t repeat_ms) {
  if (t == NULL) return;
  px_heap_remove(t->loop, t);
  t->repeat = repeat_ms;
  px_timer_arm(t, timeout_ms);
}

static void px_timer_stop(portls_plat_timer *t) {
  if (t != NULL) px_heap_remove(t->loop, t);
}

static void px_timer_free(portls_plat_timer *t) {
  if (t == NULL) return;
  /* Freed at once: a timer has no close callback, and px_run_timers() never
   * holds a timer across a callback. */
  px_heap_remove(t->loop, t);
  t->loop->ntimers--;
  t->loop->nopen--;
  portls_plat_free(t);
}

/* ------------------------------------------------------------------------ */
/* Loop                                                                       */

static int px_loop_new(portls_plat_loop **out) {
  portls_plat_loop *loop;
  long iov_max = -1;
  if (out == NULL) return PORTLS_EINVAL;
  *out = NULL;
  loop = portls_plat_alloc(sizeof *loop);
  if (loop == NULL) return PORTLS_ENOMEM;
  memset(loop, 0, sizeof *loop);
  loop->pending.next = loop->pending.prev = &loop->pending;
  loop->ios.next = loop->ios.prev = &loop->ios;
  loop->ios.fd = -1;
#ifdef _SC_IOV_MAX
  iov_max = sysconf(_SC_IOV_MAX);
#endif
  /* 16 is POSIX's minimum (_XOPEN_IOV_MAX); writes build their iovec array
   * on the stack, hence the upper bound. */
  loop->iov_max = iov_max > 64 ? 64 : iov_max >= 1 ? (int)iov_max : 16;
  /* A spare descriptor to give back when accept() hits EMFILE, so pending
   * connections can be accepted and closed at once: taken by the first
   * listener (a loop that never listens needs none). */
  loop->emfile_fd = -1;
  loop->epfd = -1;
  portls__px_update_time(loop);
  portls__plat_ignore_sigpipe();
  *out = loop;
  return 0;
}

static int px_alive(const portls_plat_loop *loop) {
  return loop->nheap > 0 || loop->nactive > 0 || loop->nlisteners > 0 || !px_pending_empty(loop);
}

static int px_loop_free(portls_plat_loop *loop) {
  if (loop == NULL) return PORTLS_EINVAL;
  if (loop->running || loop->nopen > 0) return PORTLS_EBUSY;
  /* Only closed objects remain: close callbacks (and the write/shutdown
   * cancellations before them) and cancelled lookups still queued. Run them
   * so their memory is freed, as the libuv platform does. */
  while (!px_pending_empty(loop) && loop->nopen == 0) (void)px_run_pending(loop);
  if (loop->nopen > 0) return PORTLS_EBUSY; /* a close callback opened something new */
  if (loop->emfile_fd >= 0) (void)close(loop->emfile_fd);
  if (loop->epfd >= 0) (void)close(loop->epfd);
  portls_plat_free(loop->pfds);
  portls_plat_free(loop->pios);
  portls_plat_free(loop->heap);
  portls_plat_free(loop);
  return 0;
}

/* How long poll() may sleep: 0 when something is ready to run now. */
static int px_backend_timeout(const portls_plat_loop *loop) {
  uint64_t diff;
  if (loop->stop || !px_alive(loop) || !px_pending_empty(loop)) return 0;
  if (loop->nheap == 0) return -1;
  if (loop->heap[0]->due <= loop->now) return 0;
  diff = loop->heap[0]->due - loop->now;
  return diff > INT_MAX ? INT_MAX : (int)diff;
}

static void px_ep_sync(portls_plat_loop *loop);

static int px_loop_run(portls_plat_loop *loop, int mode) {
  int alive;
  if (loop == NULL) return 0;
  if (loop->running) return px_alive(loop);
  loop->running = 1;
  alive = px_alive(loop);
  if (!alive) portls__px_update_time(loop);
  while (alive && !loop->stop) {
    int ran, timeout = 0;
    portls__px_update_time(loop);
    ran = px_run_timers(loop);
    ran |= px_run_pending(loop);
    /* RUN_ONCE promises at least one event, not one blocking poll: when a
     * timer or a queued callback already ran (core's deferred events come
     * from a zero timer), the poll only collects what is ready. libuv's
     * UV_RUN_ONCE would block here; see uvp_loop_run(). */
    if (mode == PORTLS_PLAT_RUN_DEFAULT || (mode == PORTLS_PLAT_RUN_ONCE && !ran))
      timeout = px_backend_timeout(loop);
    (void)px_poll(loop, timeout);
    if (mode == PORTLS_PLAT_RUN_ONCE) {
      /* The poll may have slept until a timer was due: that is the event
       * (the clock was updated when the poll returned). */
      (void)px_run_timers(loop);
    }
    (void)px_run_pending(loop);
    alive = px_alive(loop);
    if (mode != PORTLS_PLAT_RUN_DEFAULT) break;
  }
  loop->stop = 0;
  loop->running = 0;
  px_ep_sync(loop);
  return alive;
}

static void px_loop_stop(portls_plat_loop *loop) {
  if (loop != NULL) loop->stop = 1;
}

static uint64_t px_now(portls_plat_loop *loop) { return loop != NULL ? loop->now : 0; }

/* ------------------------------------------------------------------------ */
/* The application's own loop: an epoll descriptor that mirrors the poll set
 * (Linux), readable when one of the loop's descriptors is ready. It is
 * brought up to date after every loop_run() and when asked for it or for the
 * timeout, so an application that waits on it and then runs the loop once
 * without blocking drives portls completely.                                 */

#if defined(PX_HAVE_EPOLL)
static void px_ep_forget(portls_plat_loop *loop, px_io *io) {
  if (loop->epfd >= 0 && io->ep_on) (void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->ep_fd, NULL);
  io->ep_on = 0;
}

static void px_ep_sync(portls_plat_loop *loop) {
  if (loop->epfd < 0) return;
  for (px_io *io = loop->ios.next; io != &loop->ios; io = io->next) {
    short want = io->fd < 0 || io->closing ? 0 : io->events;
    if (io->ep_on && (want == 0 || io->ep_fd != io->fd)) px_ep_forget(loop, io);
    if (want == 0 || (io->ep_on && io->ep_events == want)) continue;
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = ((want & POLLIN) ? EPOLLIN : 0u) | ((want & POLLOUT) ? EPOLLOUT : 0u);
    ev.data.ptr = io;
    int op = io->ep_on ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(loop->epfd, op, io->fd, &ev) != 0 && errno == EEXIST)
      (void)epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev);
    io->ep_on = 1;
    io->ep_fd = io->fd;
    io->ep_events = want;
  }
}

static int px_backend_fd_op(portls_plat_loop *loop) {
  if (loop == NULL) return PORTLS_EINVAL;
  if (loop->epfd < 0) {
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) return portls__px_err(errno);
  }
  px_ep_sync(loop);
  return loop->epfd;
}
#else
static void px_ep_forget(portls_plat_loop *loop, px_io *io) { (void)loop, (void)io; }
static void px_ep_sync(portls_plat_loop *loop) { (void)loop; }
#endif

static int px_backend_timeout_op(portls_plat_loop *loop) {
  if (loop == NULL) return 0;
  px_ep_sync(loop);
  portls__px_update_time(loop);
  return px_backend_timeout(loop);
}

/* ------------------------------------------------------------------------ */
/* Wakeups from other threads: a pipe whose read end the loop polls.          */

struct portls_plat_async {
  px_io io; /* first: the read end */
  portls_plat_loop *loop;
  portls_plat_cb cb;
  void *ud;
  int wfd;
  atomic_int sent; /* a byte is in the pipe and not yet seen */
  px_pending free_item;
};

static void px_async_events(px_io *io, short revents) {
  portls_plat_async *a = (portls_plat_async *)(void *)io;
  char buf[64];
  (void)revents;
  while (read(a->io.fd, buf, sizeof buf) > 0) {}
  atomic_store(&a->sent, 0);
  a->cb(a->ud);
}

static void px_async_free_item(px_pending *p) {
  portls_plat_free(PX_CONTAINER(p, portls_plat_async, free_item));
}

static int px_async_new(portls_plat_loop *loop, portls_plat_cb cb, void *ud,
                        portls_plat_async **out) {
  int fds[2], rc;
  if (out == NULL) return PORTLS_EINVAL;
  *out = NULL;
  if (loop == NULL || cb == NULL) return PORTLS_EINVAL;
  portls_plat_async *a = portls_plat_alloc(sizeof *a);
  if (a == NULL) return PORTLS_ENOMEM;
  memset(a, 0, sizeof *a);
  if (pipe(fds) != 0) {
    rc = portls__px_err(errno);
    portls_plat_free(a);
    return rc;
  }
  if ((rc = portls__px_fd_setup(fds[0])) != 0 || (rc = portls__px_fd_setup(fds[1])) != 0 ||
      (rc = portls__px_io_add(loop, &a->io)) != 0) {
    (void)close(fds[0]);
    (void)close(fds[1]);
    portls_plat_free(a);
    return rc;
  }
  a->io.fd = fds[0];
  a->io.events = POLLIN;
  a->io.on_events = px_async_events;
  a->wfd = fds[1];
  a->loop = loop;
  a->cb = cb;
  a->ud = ud;
  atomic_init(&a->sent, 0);
  a->free_item.run = px_async_free_item;
  loop->nlisteners++; /* keeps the loop alive, as libuv's uv_async_t does */
  loop->nopen++;
  *out = a;
  return 0;
}

static void px_async_send(portls_plat_async *a) {
  if (a == NULL || atomic_exchange(&a->sent, 1)) return;
  char b = 1;
  while (write(a->wfd, &b, 1) < 0 && errno == EINTR) {}
}

static void px_async_close(portls_plat_async *a) {
  if (a == NULL || a->io.closing) return;
  portls_plat_loop *loop = a->loop;
  a->io.closing = 1;
  loop->nlisteners--;
  loop->nopen--;
  portls__px_io_remove(loop, &a->io);
  (void)close(a->io.fd);
  (void)close(a->wfd);
  a->io.fd = a->wfd = -1;
  /* Freed from the loop: a dispatch in progress may still hold it. */
  portls__px_queue(loop, &a->free_item);
}

static int px_bind_listen(const portls_plat_addr *addr, int backlog, int reuseport, int *fd) {
  int rc = portls__plat_bind_listen(addr, backlog, reuseport, fd);
  return rc < 0 ? portls__px_err(-rc) : 0;
}

static int px_fd_dup(int fd) {
  int rc = portls__plat_fd_dup(fd);
  return rc < 0 ? portls__px_err(-rc) : rc;
}

static int px_thread_start(void (*fn)(void *), void *arg, portls_plat_thread **out) {
  int rc = portls__plat_thread_start(fn, arg, out);
  return rc < 0 ? portls__px_err(-rc) : 0;
}

/* ------------------------------------------------------------------------ */

const portls_platform portls__platform = {
    .name = "posix",
    .loop_new = px_loop_new,
    .loop_free = px_loop_free,
    .loop_run = px_loop_run,
    .loop_stop = px_loop_stop,
    .now = px_now,
    .timer_new = px_timer_new,
    .timer_start = px_timer_start,
    .timer_stop = px_timer_stop,
    .timer_free = px_timer_free,
    .lookup = portls__px_lookup,
    .lookup_cancel = portls__px_lookup_cancel,
    .stream_connect = portls__px_stream_connect,
    .listen = portls__px_listen,
    .accept = portls__px_accept,
    .listener_address = portls__px_listener_address,
    .listener_close = portls__px_listener_close,
    .read_start = portls__px_read_start,
    .read_stop = portls__px_read_stop,
    .try_write = portls__px_try_write,
    .write = portls__px_write,
    .shutdown = portls__px_shutdown,
    .close = portls__px_close,
    .set_nodelay = portls__px_set_nodelay,
    .set_keepalive = portls__px_set_keepalive,
    .sockname = portls__px_sockname,
    .peername = portls__px_peername,
    .command_line = portls__plat_proc_command_line,
    .trim_memory = portls__plat_trim_memory,
    .watch_new = portls__px_watch_new,
    .watch_start = portls__px_watch_start,
    .watch_close = portls__px_watch_close,
    .listen_fd = portls__px_listen_fd,
    .bind_listen = px_bind_listen,
    .accept_fd = portls__px_accept_fd,
    .stream_open = portls__px_stream_open,
    .fd_dup = px_fd_dup,
    .fd_close = portls__plat_fd_close,
    .thread_start = px_thread_start,
    .thread_join = portls__plat_thread_join,
    .async_new = px_async_new,
    .async_send = px_async_send,
    .async_close = px_async_close,
#if defined(PX_HAVE_EPOLL)
    .backend_fd = px_backend_fd_op,
#endif
    .backend_timeout = px_backend_timeout_op,
};
