/* portls: the posix platform's streams and listeners (TCP and Unix sockets).
 *
 * A stream's poll interest is derived from its state by px_stream_update()
 * after every change, never adjusted piecemeal: POLLOUT while connecting or
 * while writes or a shutdown wait, POLLIN while reading. The behaviour is
 * the libuv platform's (platform/libuv/uv.c), rule for rule:
 * - TCP connect: ECONNREFUSED reported at once by connect() still arrives
 *   through the callback; other immediate failures are returned. Unix
 *   connect: every failure arrives through the callback.
 * - write() tries to write at once when nothing is queued (the callback still
 *   comes from the loop); try_write() writes nothing while connecting or
 *   while writes are queued. After shutdown() both say PORTLS_EPIPE, and a
 *   second shutdown() says PORTLS_ENOTCONN.
 * - shutdown(2) is issued from the loop once the write queue is empty.
 * - A failed connect cancels queued writes (PORTLS_ECANCELED) after its
 *   callback. close() drops a pending connect result and cancels queued
 *   writes, then a pending shutdown, then runs the close callback.
 * - Listeners: SO_REUSEADDR; "::" is dual-stack (IPV6_V6ONLY off); backlog
 *   <= 0 means 511; a Unix socket file is removed when the listener closes;
 *   binding a Unix socket in a missing directory is PORTLS_EACCES (libuv).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/accept.h"
#include "../common/fds.h"
#include "../common/sockaddr.h"
#include "px.h"

#define PX_PATH_MAX sizeof(((portls_plat_addr *)0)->path)
#define PX_IOV_STACK 64 /* upper bound of loop->iov_max */
#define PX_READ_SIZE (64 * 1024)
#define PX_READS_PER_EVENT 32 /* then other fds get their turn (libuv's count) */

typedef struct px_write px_write;
struct px_write {
  px_pending done; /* queued once complete */
  px_write *next;  /* in the stream's write queue */
  portls_plat_status_cb cb;
  void *ud;
  int status;
  size_t idx, count; /* next iov to write, number of iovs */
  size_t off;        /* bytes of iov[idx] already written */
  portls_plat_iov iov[];
};

struct portls_plat_stream {
  px_io io; /* first */
  portls_plat_loop *loop;

  portls_plat_status_cb connect_cb;
  void *connect_ud;
  px_pending connect_item; /* a connect result known at once */
  int delayed_error;

  portls_plat_alloc_cb alloc_cb;
  portls_plat_read_cb read_cb;
  void *read_ud;

  px_write *wq_head, *wq_tail;

  portls_plat_status_cb shut_cb;
  void *shut_ud;
  px_pending shut_item;
  int shut_status;

  portls_plat_cb close_cb;
  void *close_ud;
  px_pending close_item;

  unsigned char is_unix;
  unsigned char connecting;
  unsigned char reading;
  unsigned char active;    /* counted in loop->nactive */
  unsigned char shut_req;  /* shutdown() accepted: no more writes */
  unsigned char shut_done; /* shutdown(2) issued (result queued) */
};

struct portls_plat_listener {
  px_io io; /* first */
  portls_plat_loop *loop;
  portls_plat_status_cb cb;
  void *ud;
  portls_plat_cb close_cb;
  void *close_ud;
  px_pending close_item;
  int accepted_fd; /* accepted, waiting for accept(); -1 when none */
  unsigned char is_unix;
  unsigned char bound;  /* the Unix socket file is ours to remove */
  unsigned char failed; /* accept() failed: not polled until the next accept() */
  char path[PX_PATH_MAX];
};

/* ------------------------------------------------------------------------ */
/* Addresses                                                                  */

static int px_to_sockaddr_un(const portls_plat_addr *a, struct sockaddr_un *sun) {
  int rc = portls__plat_check_unix_path(a);
  if (rc != 0) return rc;
  memset(sun, 0, sizeof *sun);
  sun->sun_family = AF_UNIX;
  memcpy(sun->sun_path, a->path, strlen(a->path) + 1);
  return 0;
}

/* A new non-blocking, close-on-exec socket, or a negative PORTLS_E*. */
static int px_socket(int domain) {
  int fd = socket(domain, SOCK_STREAM, 0);
  int rc;
  if (fd < 0) return portls__px_err(errno);
  rc = portls__px_fd_setup(fd);
  if (rc != 0) {
    (void)close(fd);
    return rc;
  }
  return fd;
}

/* close(2) that keeps errno for the caller. */
static void px_close_fd(int fd) {
  int saved = errno;
  if (fd >= 0) (void)close(fd);
  errno = saved;
}

/* ------------------------------------------------------------------------ */
/* Streams: state                                                             */

static void px_stream_events(px_io *io, short revents);
static void px_connect_item(px_pending *p);
static void px_shut_item(px_pending *p);
static void px_stream_close_item(px_pending *p);

static void px_stream_update(portls_plat_stream *s) {
  short ev = 0;
  int active;
  if (!s->io.closing && s->io.fd >= 0) {
    if (s->connecting) {
      /* A result already known waits in the pending queue instead. */
      if (!portls__px_queued(&s->connect_item)) ev = POLLOUT;
    } else {
      if (s->reading) ev |= POLLIN;
      if (s->wq_head != NULL || (s->shut_req && !s->shut_done)) ev |= POLLOUT;
    }
  }
  s->io.events = ev;
  active = ev != 0;
  if (active != s->active) {
    if (active)
      s->loop->nactive++;
    else
      s->loop->nactive--;
    s->active = (unsigned char)active;
  }
}

static portls_plat_stream *px_stream_new(portls_plat_loop *loop, int fd, int is_unix) {
  portls_plat_stream *s = portls_plat_alloc(sizeof *s);
  if (s == NULL) return NULL;
  memset(s, 0, sizeof *s);
  s->io.fd = fd;
  s->io.on_events = px_stream_events;
  s->loop = loop;
  s->is_unix = (unsigned char)(is_unix != 0);
  s->connect_item.run = px_connect_item;
  s->shut_item.run = px_shut_item;
  s->close_item.run = px_stream_close_item;
  if (portls__px_io_add(loop, &s->io) != 0) {
    portls_plat_free(s);
    return NULL;
  }
  return s;
}

/* ------------------------------------------------------------------------ */
/* Streams: writing                                                           */

static void px_write_item(px_pending *p) {
  px_write *w = PX_CONTAINER(p, px_write, done);
  if (w->cb != NULL) w->cb(w->ud, w->status);
  portls_plat_free(w);
}

/* Takes the head request off the queue and queues its callback. */
static void px_write_complete(portls_plat_stream *s, int status) {
  px_write *w = s->wq_head;
  s->wq_head = w->next;
  if (s->wq_head == NULL) s->wq_tail = NULL;
  w->next = NULL;
  w->status = status;
  portls__px_queue(s->loop, &w->done);
}

/* One writev() (sendmsg() with MSG_NOSIGNAL where it exists) of at most
 * loop->iov_max buffers and INT_MAX bytes. Returns bytes written, or -1 with
 * errno set; *attempted gets how many bytes were offered. */
static ssize_t px_writev(portls_plat_stream *s, const portls_plat_iov *iov, size_t count,
                         size_t off, size_t *attempted) {
  struct iovec v[PX_IOV_STACK];
  size_t n = 0, total = 0;
  ssize_t r;
  while (n < count && n < (size_t)s->loop->iov_max && total < (size_t)INT_MAX) {
    size_t len = iov[n].len - (n == 0 ? off : 0);
    if (len > (size_t)INT_MAX - total) len = (size_t)INT_MAX - total;
    /* writev() takes non-const buffers but only reads them. */
    v[n].iov_base = (void *)(uintptr_t)(iov[n].base + (n == 0 ? off : 0));
    v[n].iov_len = len;
    total += len;
    n++;
  }
  *attempted = total;
  do {
#ifdef MSG_NOSIGNAL
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = v;
    m.msg_iovlen = n;
    r = sendmsg(s->io.fd, &m, MSG_NOSIGNAL);
#else
    r = writev(s->io.fd, v, (int)n);
#endif
  } while (r < 0 && errno == EINTR);
  return r;
}

static void px_do_shutdown(portls_plat_stream *s) {
  s->shut_done = 1;
  s->shut_status = shutdown(s->io.fd, SHUT_WR) == 0 ? 0 : portls__px_err(errno);
  portls__px_queue(s->loop, &s->shut_item);
}

/* Writes queued requests until the socket is full; completes those done. */
static void px_flush(portls_plat_stream *s) {
  px_write *w;
  while ((w = s->wq_head) != NULL) {
    int err = 0;
    while (w->idx < w->count) {
      size_t attempted;
      ssize_t n = px_writev(s, w->iov + w->idx, w->count - w->idx, w->off, &attempted);
      size_t left;
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
          goto out; /* full: POLLOUT says when to go on */
        err = portls__px_err(errno);
        break;
      }
      left = (size_t)n;
      while (left > 0) {
        size_t rem = w->iov[w->idx].len - w->off;
        if (left < rem) {
          w->off += left;
          left = 0;
        } else {
          left -= rem;
          w->off = 0;
          w->idx++;
        }
      }
      if ((size_t)n < attempted) goto out; /* the kernel took part of it: it is full */
    }
    /* Done, or failed: the error goes to this request alone, as in libuv;
     * the next ones try for themselves. */
    px_write_complete(s, err);
  }
out:
  px_stream_update(s);
}

static int px_check_iov(const portls_plat_iov *iov, size_t count) {
  size_t i;
  for (i = 0; i < count; i++)
    if (iov[i].base == NULL && iov[i].len > 0) return PORTLS_EINVAL;
  return 0;
}

int portls__px_try_write(portls_plat_stream *s, const portls_plat_iov *iov, size_t count) {
  size_t attempted;
  ssize_t n;
  size_t i = 0;
  if (s == NULL || (iov == NULL && count > 0) || s->io.closing || px_check_iov(iov, count) != 0)
    return PORTLS_EINVAL;
  /* Skip leading empty buffers so that "nothing to write" is not a syscall. */
  while (i < count && iov[i].len == 0) i++;
  if (i == count) return 0;
  if (s->connecting || s->wq_head != NULL)
    return 0; /* libuv's EAGAIN: keep the order of queued bytes */
  if (s->shut_req) return PORTLS_EPIPE;
  if (s->io.fd < 0) return PORTLS_EINVAL;
  n = px_writev(s, iov + i, count - i, 0, &attempted);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : portls__px_err(errno);
  return (int)n;
}

int portls__px_write(portls_plat_stream *s, const portls_plat_iov *iov, size_t count,
                     portls_plat_status_cb cb, void *ud) {
  px_write *w;
  size_t i, n = 0;
  int was_empty;
  if (s == NULL || (iov == NULL && count > 0) || s->io.closing || count > 0x7fffffff ||
      px_check_iov(iov, count) != 0)
    return PORTLS_EINVAL;
  if (s->shut_req) return PORTLS_EPIPE;
  if (count > ((size_t)-1 - sizeof *w) / sizeof w->iov[0]) return PORTLS_ENOMEM;
  w = portls_plat_alloc(sizeof *w + count * sizeof w->iov[0]);
  if (w == NULL) return PORTLS_ENOMEM;
  memset(w, 0, sizeof *w);
  w->done.run = px_write_item;
  w->cb = cb;
  w->ud = ud;
  /* The iov array is copied (only the bytes must outlive the call); empty
   * buffers are dropped, so an empty write completes once the writes before
   * it have. */
  for (i = 0; i < count; i++)
    if (iov[i].len > 0) w->iov[n++] = iov[i];
  w->count = n;
  was_empty = s->wq_head == NULL;
  if (s->wq_tail != NULL)
    s->wq_tail->next = w;
  else
    s->wq_head = w;
  s->wq_tail = w;
  if (!s->connecting && was_empty && s->io.fd >= 0)
    px_flush(s);
  else
    px_stream_update(s);
  return 0;
}

static void px_shut_item(px_pending *p) {
  portls_plat_stream *s = PX_CONTAINER(p, portls_plat_stream, shut_item);
  if (s->shut_cb != NULL) s->shut_cb(s->shut_ud, s->shut_status);
}

int portls__px_shutdown(portls_plat_stream *s, portls_plat_status_cb cb, void *ud) {
  if (s == NULL || s->io.closing) return PORTLS_EINVAL;
  if (s->shut_req) return PORTLS_ENOTCONN;
  s->shut_req = 1;
  s->shut_cb = cb;
  s->shut_ud = ud;
  if (s->io.fd < 0) {
    /* A Unix connect that could not even create its socket. */
    s->shut_done = 1;
    s->shut_status = PORTLS_ENOTCONN;
    portls__px_queue(s->loop, &s->shut_item);
    return 0;
  }
  px_stream_update(s); /* POLLOUT: issued from the loop after queued writes */
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Streams: reading                                                           */

static void px_read(portls_plat_stream *s) {
  int count = PX_READS_PER_EVENT;
  while (s->reading && !s->io.closing && count-- > 0) {
    uint8_t *buf = NULL;
    size_t len = 0;
    ssize_t n;
    s->alloc_cb(s->read_ud, PX_READ_SIZE, &buf, &len);
    if (s->io.closing || !s->reading) return;
    if (buf == NULL || len == 0) {
      /* libuv: UV_ENOBUFS, which the libuv platform reports as ENOMEM. */
      s->read_cb(s->read_ud, PORTLS_ENOMEM, 0);
      return;
    }
    if (len > (size_t)INT_MAX) len = (size_t)INT_MAX;
    do n = read(s->io.fd, buf, len);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
      int err;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      err = portls__px_err(errno);
      s->read_cb(s->read_ud, err, 0);
      if (!s->io.closing && s->reading) {
        s->reading = 0;
        px_stream_update(s);
      }
      return;
    }
    if (n == 0) {
      s->reading = 0;
      px_stream_update(s);
      s->read_cb(s->read_ud, PORTLS_EOF, 0);
      return;
    }
    s->read_cb(s->read_ud, 0, (size_t)n);
    if ((size_t)n < len) return; /* drained for now */
  }
}

int portls__px_read_start(portls_plat_stream *s, portls_plat_alloc_cb alloc, portls_plat_read_cb cb,
                          void *ud) {
  if (s == NULL || alloc == NULL || cb == NULL || s->io.closing) return PORTLS_EINVAL;
  if (s->io.fd < 0) return PORTLS_ENOTCONN;
  s->alloc_cb = alloc;
  s->read_cb = cb;
  s->read_ud = ud;
  s->reading = 1;
  px_stream_update(s);
  return 0;
}

int portls__px_read_stop(portls_plat_stream *s) {
  if (s == NULL || s->io.closing) return PORTLS_EINVAL;
  s->reading = 0;
  px_stream_update(s);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Streams: connecting, events, close                                         */

static void px_connect_done(portls_plat_stream *s, int status) {
  s->connecting = 0;
  px_stream_update(s);
  if (s->connect_cb != NULL) s->connect_cb(s->connect_ud, status);
  if (s->io.closing) return;
  if (status < 0) {
    while (s->wq_head != NULL) px_write_complete(s, PORTLS_ECANCELED);
  }
  /* Writes queued while connecting, or a shutdown waiting for them. */
  if (s->wq_head != NULL)
    px_flush(s);
  else
    px_stream_update(s);
}

static void px_connect_item(px_pending *p) {
  portls_plat_stream *s = PX_CONTAINER(p, portls_plat_stream, connect_item);
  int status = s->delayed_error;
  s->delayed_error = 0;
  px_connect_done(s, status);
}

static void px_stream_events(px_io *io, short revents) {
  portls_plat_stream *s = (portls_plat_stream *)(void *)io;
  if (s->connecting) {
    int err = 0;
    socklen_t len = (socklen_t)sizeof err;
    if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err == EINPROGRESS) return;
    px_connect_done(s, portls__px_err(err));
    return;
  }
  /* POLLHUP/POLLERR: a read or a write is what tells which error it is. */
  if ((revents & (POLLIN | POLLHUP | POLLERR)) && s->reading) px_read(s);
  if (s->io.closing) return;
  if (revents & (POLLOUT | POLLHUP | POLLERR)) {
    if (s->wq_head != NULL) px_flush(s);
    if (!s->io.closing && s->wq_head == NULL && s->shut_req && !s->shut_done) {
      px_do_shutdown(s);
      px_stream_update(s);
    }
  }
  /* POLLNVAL cannot happen: a closed stream is never polled. */
}

int portls__px_stream_connect(portls_plat_loop *loop, const portls_plat_addr *addr,
                              portls_plat_status_cb cb, void *ud, portls_plat_stream **out) {
  portls_plat_stream *s;
  struct sockaddr_storage ss;
  struct sockaddr_un sun;
  const struct sockaddr *sa;
  socklen_t salen = 0;
  int fd, rc, is_unix;

  if (out == NULL) return PORTLS_EINVAL;
  *out = NULL;
  if (loop == NULL || addr == NULL) return PORTLS_EINVAL;
  is_unix = addr->family == PORTLS_PLAT_UNIX;
  if (is_unix) {
    rc = px_to_sockaddr_un(addr, &sun);
    sa = (const struct sockaddr *)(const void *)&sun;
    salen = (socklen_t)sizeof sun;
  } else {
    rc = portls__plat_to_sockaddr(addr, &ss, &salen);
    sa = (const struct sockaddr *)(const void *)&ss;
  }
  if (rc != 0) return rc;

  fd = px_socket(is_unix ? AF_UNIX : sa->sa_family);
  if (fd < 0 && !is_unix) return fd;
  s = px_stream_new(loop, fd < 0 ? -1 : fd, is_unix);
  if (s == NULL) {
    px_close_fd(fd);
    return PORTLS_ENOMEM;
  }
  s->connect_cb = cb;
  s->connect_ud = ud;
  s->connecting = 1;
  if (fd < 0) {
    rc = fd; /* Unix: reported through the callback, as libuv does */
  } else {
    rc = connect(fd, sa, salen);
    if (rc == 0 || errno == EINPROGRESS || errno == EINTR) {
      /* In progress (EINTR: it goes on in the background), or connected at
       * once: either way POLLOUT and SO_ERROR give the result. */
      rc = 0;
    } else if (is_unix || errno == ECONNREFUSED) {
      rc = portls__px_err(errno);
    } else {
      rc = portls__px_err(errno);
      /* Not counted open, never seen by the caller: no callback runs. */
      portls__px_io_remove(loop, &s->io);
      px_close_fd(fd);
      portls_plat_free(s);
      return rc;
    }
  }
  if (rc != 0) {
    s->delayed_error = rc;
    portls__px_queue(loop, &s->connect_item);
  }
  px_stream_update(s);
  loop->nopen++;
  *out = s;
  return 0;
}

static void px_stream_close_item(px_pending *p) {
  portls_plat_stream *s = PX_CONTAINER(p, portls_plat_stream, close_item);
  if (s->close_cb != NULL) s->close_cb(s->close_ud);
  portls_plat_free(s);
}

void portls__px_close(portls_plat_stream *s, portls_plat_cb cb, void *ud) {
  portls_plat_loop *loop;
  if (s == NULL || s->io.closing) return;
  loop = s->loop;
  s->close_cb = cb;
  s->close_ud = ud;
  s->reading = 0;
  s->connecting = 0;
  s->io.closing = 1;
  px_stream_update(s); /* leaves loop->nactive */
  loop->nopen--;
  /* The contract: no callback of a closed stream but the write and shutdown
   * ones (with PORTLS_ECANCELED when they had not completed) and then the
   * close callback, all from the loop, in that order. */
  portls__px_dequeue(&s->connect_item);
  while (s->wq_head != NULL) px_write_complete(s, PORTLS_ECANCELED);
  if (s->shut_req && !s->shut_done) {
    s->shut_done = 1;
    s->shut_status = PORTLS_ECANCELED;
    portls__px_queue(loop, &s->shut_item);
  }
  portls__px_io_remove(loop, &s->io);
  px_close_fd(s->io.fd);
  s->io.fd = -1;
  portls__px_queue(loop, &s->close_item);
}

/* ------------------------------------------------------------------------ */
/* Streams: options and names                                                 */

int portls__px_set_nodelay(portls_plat_stream *s, int enable) {
  int on = enable != 0;
  if (s == NULL || s->io.closing) return PORTLS_EINVAL;
  if (s->is_unix) return 0;
  if (setsockopt(s->io.fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0)
    return portls__px_err(errno);
  return 0;
}

int portls__px_set_keepalive(portls_plat_stream *s, int enable, unsigned delay_s) {
  int on = enable != 0;
  if (s == NULL || s->io.closing) return PORTLS_EINVAL;
  if (s->is_unix) return 0;
  if (setsockopt(s->io.fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) != 0)
    return portls__px_err(errno);
  /* Node: a delay of 0 "leaves the value unchanged from the default (or
   * previous) setting". The idle time is not POSIX; set it where the
   * system names it (Linux and most BSDs: TCP_KEEPIDLE, macOS:
   * TCP_KEEPALIVE), as libuv does. */
  if (on && delay_s > 0) {
    int idle = delay_s > (unsigned)INT_MAX ? INT_MAX : (int)delay_s;
#if defined(TCP_KEEPIDLE)
    if (setsockopt(s->io.fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) != 0)
      return portls__px_err(errno);
#elif defined(TCP_KEEPALIVE)
    if (setsockopt(s->io.fd, IPPROTO_TCP, TCP_KEEPALIVE, &idle, sizeof idle) != 0)
      return portls__px_err(errno);
#else
    (void)idle;
#endif
  }
  return 0;
}

static int px_unix_name(int fd, portls_plat_addr *out, int peer) {
  struct sockaddr_un sun;
  socklen_t len = (socklen_t)sizeof sun;
  const size_t head = offsetof(struct sockaddr_un, sun_path);
  size_t n;
  memset(&sun, 0, sizeof sun);
  if ((peer ? getpeername(fd, (struct sockaddr *)(void *)&sun, &len)
            : getsockname(fd, (struct sockaddr *)(void *)&sun, &len)) != 0)
    return portls__px_err(errno);
  /* An unnamed socket (a client's own end) has an empty path. */
  n = (size_t)len > head ? (size_t)len - head : 0;
  if (n > sizeof sun.sun_path) n = sizeof sun.sun_path;
  n = strnlen(sun.sun_path, n);
  if (n >= sizeof out->path) return PORTLS_ENAMETOOLONG;
  memcpy(out->path, sun.sun_path, n);
  out->path[n] = '\0';
  out->family = PORTLS_PLAT_UNIX;
  return 0;
}

static int px_name(portls_plat_stream *s, portls_plat_addr *out, int peer) {
  struct sockaddr_storage ss;
  socklen_t len = (socklen_t)sizeof ss;
  if (s == NULL || out == NULL || s->io.closing) return PORTLS_EINVAL;
  memset(out, 0, sizeof *out);
  if (s->io.fd < 0) return PORTLS_ENOTCONN;
  if (s->is_unix) return px_unix_name(s->io.fd, out, peer);
  memset(&ss, 0, sizeof ss);
  if ((peer ? getpeername(s->io.fd, (struct sockaddr *)(void *)&ss, &len)
            : getsockname(s->io.fd, (struct sockaddr *)(void *)&ss, &len)) != 0)
    return portls__px_err(errno);
  return portls__plat_from_sockaddr((const struct sockaddr *)(const void *)&ss, out);
}

int portls__px_sockname(portls_plat_stream *s, portls_plat_addr *out) { return px_name(s, out, 0); }

int portls__px_peername(portls_plat_stream *s, portls_plat_addr *out) { return px_name(s, out, 1); }

/* ------------------------------------------------------------------------ */
/* Listeners                                                                  */

static void px_listener_update(portls_plat_listener *l) {
  /* An accepted connection nobody took yet pauses accepting (libuv), and so
   * does a failure, until the next accept(). */
  l->io.events = (short)(!l->io.closing && l->accepted_fd < 0 && !l->failed ? POLLIN : 0);
}

/* accept() failed: the platform stops polling the listener (which stays
 * readable, so polling on would spin) and reports; core calls accept() to
 * go on after a back-off. */
static void px_listener_failed(portls_plat_listener *l, int code) {
  l->failed = 1;
  px_listener_update(l);
  l->cb(l->ud, code);
}

static void px_listener_events(px_io *io, short revents) {
  portls_plat_listener *l = (portls_plat_listener *)(void *)io;
  (void)revents;
  while (!l->io.closing && l->accepted_fd < 0 && !l->failed) {
    int fd = accept(l->io.fd, NULL, NULL), rc;
    if (fd < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      if (err == EINTR || err == ECONNABORTED) continue;
      /* At the descriptor limit, what is pending is closed (libuv's trick);
       * either way it is reported. */
      if (err == EMFILE || err == ENFILE)
        (void)portls__plat_emfile_trick(l->io.fd, &l->loop->emfile_fd);
      px_listener_failed(l, portls__px_err(err));
      return;
    }
    rc = portls__px_fd_setup(fd);
    if (rc != 0) {
      (void)close(fd);
      px_listener_failed(l, rc);
      return;
    }
    l->accepted_fd = fd;
    l->cb(l->ud, 0);
    if (!l->io.closing && l->accepted_fd >= 0) {
      px_listener_update(l);
      return;
    }
  }
}

static void px_listener_close_item(px_pending *p) {
  portls_plat_listener *l = PX_CONTAINER(p, portls_plat_listener, close_item);
  if (l->close_cb != NULL) l->close_cb(l->close_ud);
  portls_plat_free(l);
}

/* Closes and frees a listener that never reached the caller. */
static void px_listener_discard(portls_plat_listener *l) {
  portls__px_io_remove(l->loop, &l->io);
  px_close_fd(l->io.fd);
  if (l->bound) (void)unlink(l->path);
  portls_plat_free(l);
}

int portls__px_listen(portls_plat_loop *loop, const portls_plat_addr *addr, int backlog,
                      portls_plat_status_cb cb, void *ud, portls_plat_listener **out) {
  portls_plat_listener *l;
  struct sockaddr_storage ss;
  struct sockaddr_un sun;
  socklen_t salen = 0;
  int rc, fd, is_unix;

  if (out == NULL) return PORTLS_EINVAL;
  *out = NULL;
  if (loop == NULL || addr == NULL || cb == NULL) return PORTLS_EINVAL;
  is_unix = addr->family == PORTLS_PLAT_UNIX;
  rc = is_unix ? px_to_sockaddr_un(addr, &sun) : portls__plat_to_sockaddr(addr, &ss, &salen);
  if (rc != 0) return rc;
  if (backlog <= 0) backlog = 511; /* Node's default */

  l = portls_plat_alloc(sizeof *l);
  if (l == NULL) return PORTLS_ENOMEM;
  memset(l, 0, sizeof *l);
  l->io.fd = -1;
  l->io.on_events = px_listener_events;
  l->loop = loop;
  l->cb = cb;
  l->ud = ud;
  l->accepted_fd = -1;
  l->is_unix = (unsigned char)is_unix;
  l->close_item.run = px_listener_close_item;
  if (is_unix) memcpy(l->path, addr->path, sizeof l->path);
  rc = portls__px_io_add(loop, &l->io);
  if (rc != 0) {
    portls_plat_free(l);
    return rc;
  }

  fd = px_socket(is_unix ? AF_UNIX : ((struct sockaddr *)(void *)&ss)->sa_family);
  if (fd < 0) {
    px_listener_discard(l);
    return fd;
  }
  l->io.fd = fd;
  if (is_unix) {
    if (bind(fd, (struct sockaddr *)(void *)&sun, (socklen_t)sizeof sun) != 0) {
      /* libuv turns ENOENT (no such directory) into EACCES. */
      rc = errno == ENOENT ? PORTLS_EACCES : portls__px_err(errno);
    } else {
      l->bound = 1;
    }
  } else {
    int on = 1;
    /* Flags as libuv's uv_tcp_bind() with no flags: reuse the address of a
     * connection in TIME_WAIT, and "::" accepts IPv4 too. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) rc = portls__px_err(errno);
#ifdef IPV6_V6ONLY
    if (rc == 0 && addr->family == PORTLS_PLAT_INET6) {
      int off = 0;
      if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) != 0)
        rc = portls__px_err(errno);
    }
#endif
    if (rc == 0 && bind(fd, (struct sockaddr *)(void *)&ss, salen) != 0)
      rc = errno == EAFNOSUPPORT ? PORTLS_EINVAL : portls__px_err(errno);
  }
  if (rc == 0 && listen(fd, backlog) != 0) rc = portls__px_err(errno);
  if (rc != 0) {
    /* A Unix socket that failed to bind has no file of ours to remove. */
    px_listener_discard(l);
    return rc;
  }
  px_listener_update(l);
  if (loop->emfile_fd < 0) loop->emfile_fd = portls__plat_emfile_reserve();
  loop->nlisteners++;
  loop->nopen++;
  *out = l;
  return 0;
}

int portls__px_accept(portls_plat_listener *l, portls_plat_stream **out) {
  portls_plat_stream *s;
  if (out == NULL) return PORTLS_EINVAL;
  *out = NULL;
  if (l == NULL || l->io.closing) return PORTLS_EINVAL;
  if (l->failed) {
    l->failed = 0; /* accepting again, after a failure */
    px_listener_update(l);
  }
  if (l->accepted_fd < 0) return PORTLS_EAGAIN;
  s = px_stream_new(l->loop, l->accepted_fd, l->is_unix);
  if (s == NULL) (void)close(l->accepted_fd);
  l->accepted_fd = -1;
  px_listener_update(l);
  if (s == NULL) return PORTLS_ENOMEM;
  px_stream_update(s);
  l->loop->nopen++;
  *out = s;
  return 0;
}

int portls__px_listener_address(portls_plat_listener *l, portls_plat_addr *out) {
  struct sockaddr_storage ss;
  socklen_t len = (socklen_t)sizeof ss;
  if (l == NULL || out == NULL || l->io.closing) return PORTLS_EINVAL;
  if (l->is_unix) {
    memset(out, 0, sizeof *out);
    out->family = PORTLS_PLAT_UNIX;
    memcpy(out->path, l->path, sizeof out->path);
    return 0;
  }
  memset(&ss, 0, sizeof ss);
  if (getsockname(l->io.fd, (struct sockaddr *)(void *)&ss, &len) != 0)
    return portls__px_err(errno);
  return portls__plat_from_sockaddr((const struct sockaddr *)(const void *)&ss, out);
}

void portls__px_listener_close(portls_plat_listener *l, portls_plat_cb cb, void *ud) {
  portls_plat_loop *loop;
  if (l == NULL || l->io.closing) return;
  loop = l->loop;
  l->io.closing = 1;
  l->close_cb = cb;
  l->close_ud = ud;
  loop->nlisteners--;
  loop->nopen--;
  px_listener_update(l);
  portls__px_io_remove(loop, &l->io);
  px_close_fd(l->io.fd);
  l->io.fd = -1;
  if (l->accepted_fd >= 0) {
    (void)close(l->accepted_fd);
    l->accepted_fd = -1;
  }
  /* As Node (and libuv) do: the socket file goes with the listener. */
  if (l->bound) {
    (void)unlink(l->path);
    l->bound = 0;
  }
  portls__px_queue(loop, &l->close_item);
}

/* ------------------------------------------------------------------------ */
/* Descriptors from elsewhere: a listening socket the application made
 * (systemd socket activation, privilege separation, SO_REUSEPORT workers),
 * a connection accepted by another loop or process.                          */

int portls__px_listen_fd(portls_plat_loop *loop, int fd, portls_plat_status_cb cb, void *ud,
                         portls_plat_listener **out) {
  portls_plat_listener *l;
  int is_unix = 0, listening = 0, rc;
  if (out == NULL) return PORTLS_EINVAL;
  *out = NULL;
  if (loop == NULL || cb == NULL) return PORTLS_EINVAL;
  rc = portls__plat_fd_adopt(fd, &is_unix, &listening);
  if (rc != 0) return portls__px_err(-rc);
  if (listening == 0) return PORTLS_EINVAL;
  l = portls_plat_alloc(sizeof *l);
  if (l == NULL) return PORTLS_ENOMEM;
  memset(l, 0, sizeof *l);
  l->io.fd = fd;
  l->io.on_events = px_listener_events;
  l->loop = loop;
  l->cb = cb;
  l->ud = ud;
  l->accepted_fd = -1;
  l->is_unix = (unsigned char)is_unix;
  l->close_item.run = px_listener_close_item;
  if (is_unix) {
    /* Its path, for address(); the file is the application's to remove. */
    struct sockaddr_un sun;
    socklen_t len = (socklen_t)sizeof sun;
    memset(&sun, 0, sizeof sun);
    if (getsockname(fd, (struct sockaddr *)(void *)&sun, &len) == 0)
      memcpy(l->path, sun.sun_path,
             sizeof l->path < sizeof sun.sun_path ? sizeof l->path - 1 : sizeof sun.sun_path - 1);
  }
  rc = portls__px_io_add(loop, &l->io);
  if (rc != 0) {
    portls_plat_free(l);
    return rc;
  }
  px_listener_update(l);
  if (loop->emfile_fd < 0) loop->emfile_fd = portls__plat_emfile_reserve();
  loop->nlisteners++;
  loop->nopen++;
  *out = l;
  return 0;
}

int portls__px_accept_fd(portls_plat_listener *l, int *fd) {
  if (fd == NULL) return PORTLS_EINVAL;
  *fd = -1;
  if (l == NULL || l->io.closing) return PORTLS_EINVAL;
  l->failed = 0;
  *fd = l->accepted_fd;
  l->accepted_fd = -1;
  px_listener_update(l);
  return *fd < 0 ? PORTLS_EAGAIN : 0;
}

int portls__px_stream_open(portls_plat_loop *loop, int fd, portls_plat_stream **out) {
  portls_plat_stream *s;
  int is_unix = 0, listening = 0, rc;
  if (out == NULL) return PORTLS_EINVAL;
  *out = NULL;
  if (loop == NULL) return PORTLS_EINVAL;
  rc = portls__plat_fd_adopt(fd, &is_unix, &listening);
  if (rc != 0) return portls__px_err(-rc);
  if (listening > 0) return PORTLS_EINVAL;
  s = px_stream_new(loop, fd, is_unix);
  if (s == NULL) return PORTLS_ENOMEM;
  px_stream_update(s);
  loop->nopen++;
  *out = s;
  return 0;
}
