/* portls: the libuv platform (include/portls/platform.h over libuv >= 1.44).
 *
 * Every object is one allocation that embeds its libuv handle or request, so
 * a libuv callback finds the portls object through handle->data. Objects are
 * freed in libuv's close (or completion) callback, never earlier, which is
 * what keeps "no callback after close" and "memory valid until the close
 * callback" true without reference counts.
 *
 * Each loop counts the objects that are open (created and not yet closed or
 * cancelled) so that loop_free() can say PORTLS_EBUSY on a wrapped loop too,
 * where uv_loop_close() is not ours to call. Callbacks that run after an
 * object was closed never touch the loop, which may be gone by then.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <string.h>
#include <uv.h>

#ifndef _WIN32
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
/* Listeners accept themselves (uv_poll on their own socket): libuv's own
 * accept at the descriptor limit closes what is pending and tells no one. */
#define UVP_OWN_ACCEPT 1
#endif

#include "../common/accept.h"
#include "../common/cmdline.h"
#include "../common/fds.h"
#include "../common/sigpipe.h"
#include "../common/sockaddr.h"
#include "../common/trim.h"
#include "portls/platform.h"
#include "uv_platform.h"

#define UVP_PATH_MAX sizeof(((portls_plat_addr *)0)->path)
#define UVP_SMALL_IOV 16

struct portls_plat_loop {
  uv_loop_t *uv;
  size_t nopen;  /* objects created and not yet closed/cancelled/completed */
  int running;   /* inside loop_run(): libuv forbids re-entering uv_run() */
  int wrapped;   /* uv belongs to the application */
  int emfile_fd; /* spare descriptor for accept() at the limit (libuv's trick), or -1 */
  uv_loop_t own; /* the loop itself when !wrapped */
};

struct portls_plat_timer {
  uv_timer_t h;
  portls_plat_loop *loop;
  portls_plat_cb cb;
  void *ud;
};

struct portls_plat_lookup {
  uv_getaddrinfo_t req;
  portls_plat_loop *loop;
  portls_plat_lookup_cb cb;
  void *ud;
  uint16_t port;
  unsigned char canceled;
  unsigned char done;
};

typedef union uvp_handle {
  uv_handle_t handle;
  uv_stream_t stream;
  uv_tcp_t tcp;
  uv_pipe_t pipe;
} uvp_handle;

struct portls_plat_stream {
  uvp_handle h;
  portls_plat_loop *loop;
  uv_connect_t connect_req;
  portls_plat_status_cb connect_cb;
  void *connect_ud;
  portls_plat_alloc_cb alloc_cb;
  portls_plat_read_cb read_cb;
  void *read_ud;
  portls_plat_cb close_cb;
  void *close_ud;
  unsigned char is_pipe;
  unsigned char closing;
};

struct portls_plat_listener {
#ifdef UVP_OWN_ACCEPT
  uv_poll_t poll; /* on fd, while accepting */
  int fd;
  int accepted_fd;      /* accepted, waiting for accept(); -1 when none */
  unsigned char failed; /* accept() failed: not polled until the next accept() */
  unsigned char bound;  /* the Unix socket file is ours to remove */
#else
  uvp_handle h;
#endif
  portls_plat_loop *loop;
  portls_plat_status_cb cb;
  void *ud;
  portls_plat_cb close_cb;
  void *close_ud;
  unsigned char is_pipe;
  unsigned char closing;
  char path[UVP_PATH_MAX];
};

typedef struct uvp_write {
  uv_write_t req;
  portls_plat_status_cb cb;
  void *ud;
} uvp_write;

typedef struct uvp_shutdown {
  uv_shutdown_t req;
  portls_plat_status_cb cb;
  void *ud;
} uvp_shutdown;

/* ------------------------------------------------------------------------ */
/* Errors                                                                     */

int portls__uv_err(int e) {
  switch (e) {
  case 0:
    return 0;
  case UV_EOF:
    return PORTLS_EOF;
  case UV_EINVAL:
  case UV_EBADF:
  case UV_EFAULT:
  case UV_ENOTSOCK:
  case UV_EISCONN:
  case UV_EDESTADDRREQ:
  case UV_EMSGSIZE:
  case UV_E2BIG:
  case UV_ECHARSET:
  case UV_EPROTOTYPE:
  case UV_ENOPROTOOPT:
    return PORTLS_EINVAL;
  case UV_ENOMEM:
  case UV_ENOBUFS:
    return PORTLS_ENOMEM;
  case UV_ENOTSUP:
  case UV_ENOSYS:
  case UV_EAFNOSUPPORT:
  case UV_EPROTONOSUPPORT:
  case UV_ESOCKTNOSUPPORT:
    return PORTLS_ENOTSUP;
  case UV_ENOENT:
  case UV_ENOTDIR:
    return PORTLS_ENOENT;
  case UV_EACCES:
  case UV_EPERM:
  case UV_EROFS:
    return PORTLS_EACCES;
  case UV_EIO:
    return PORTLS_EIO;
  case UV_EBUSY:
  case UV_EALREADY:
  case UV_ETXTBSY:
    return PORTLS_EBUSY;
  case UV_EAGAIN:
    return PORTLS_EAGAIN;
  case UV_ECANCELED:
  case UV_EAI_CANCELED:
    return PORTLS_ECANCELED;
  case UV_ECONNREFUSED:
    return PORTLS_ECONNREFUSED;
  case UV_ECONNRESET:
    return PORTLS_ECONNRESET;
  case UV_ECONNABORTED:
    return PORTLS_ECONNABORTED;
  case UV_EPIPE:
  case UV_ESHUTDOWN:
    return PORTLS_EPIPE;
  case UV_ETIMEDOUT:
    return PORTLS_ETIMEDOUT;
  case UV_EADDRINUSE:
  case UV_EEXIST:
    return PORTLS_EADDRINUSE;
  case UV_EADDRNOTAVAIL:
    return PORTLS_EADDRNOTAVAIL;
  case UV_ENOTCONN:
    return PORTLS_ENOTCONN;
  case UV_ENETUNREACH:
  case UV_ENETDOWN:
    return PORTLS_ENETUNREACH;
  case UV_EHOSTUNREACH:
  case UV_EHOSTDOWN:
    return PORTLS_EHOSTUNREACH;
  case UV_EMFILE:
  case UV_ENFILE:
    return PORTLS_EMFILE;
  case UV_ENAMETOOLONG:
    return PORTLS_ENAMETOOLONG;
  /* Node reports all three as ENOTFOUND (lib/dns.js); EAI_ADDRFAMILY is a
   * name with no address in the requested family. */
  case UV_EAI_NONAME:
  case UV_EAI_NODATA:
  case UV_EAI_ADDRFAMILY:
    return PORTLS_EAI_NONAME;
  case UV_EAI_MEMORY:
    return PORTLS_ENOMEM;
  case UV_EAI_BADFLAGS:
  case UV_EAI_BADHINTS:
  case UV_EAI_FAMILY:
  case UV_EAI_PROTOCOL:
  case UV_EAI_SERVICE:
  case UV_EAI_SOCKTYPE:
    return PORTLS_EINVAL;
  /* EAI_AGAIN (temporary failure) has no code of its own in errors.h. */
  case UV_EAI_AGAIN:
  case UV_EAI_FAIL:
  case UV_EAI_OVERFLOW:
    return PORTLS_EAI_FAIL;
  default:
    return PORTLS_EIO;
  }
}

/* ------------------------------------------------------------------------ */
/* Loop                                                                       */

static int uvp_loop_new(portls_plat_loop **out) {
  portls_plat_loop *loop;
  int rc;
  if (out == NULL) return PORTLS_EINVAL;
  *out = NULL;
  loop = portls_plat_alloc(sizeof *loop);
  if (loop == NULL) return PORTLS_ENOMEM;
  memset(loop, 0, sizeof *loop);
  rc = uv_loop_init(&loop->own);
  if (rc != 0) {
    portls_plat_free(loop);
    return portls__uv_err(rc);
  }
  loop->uv = &loop->own;
  loop->own.data = loop;
  loop->emfile_fd = -1;
  portls__plat_ignore_sigpipe();
  *out = loop;
  return 0;
}

int portls__uv_loop_wrap(void *uv_loop, portls_plat_loop **out) {
  portls_plat_loop *loop;
  if (out == NULL) return PORTLS_EINVAL;
  *out = NULL;
  if (uv_loop == NULL) return PORTLS_EINVAL;
  loop = portls_plat_alloc(sizeof *loop);
  if (loop == NULL) return PORTLS_ENOMEM;
  memset(loop, 0, sizeof *loop);
  loop->uv = uv_loop;
  loop->wrapped = 1;
  loop->emfile_fd = -1;
  *out = loop;
  return 0;
}

static int uvp_loop_free(portls_plat_loop *loop) {
  if (loop == NULL) return PORTLS_EINVAL;
  if (loop->running || loop->nopen > 0) return PORTLS_EBUSY;
  if (!loop->wrapped) {
    /* Only closed objects remain: handles waiting for their close callback
     * and cancelled lookups still in the thread pool. Run them to the end
     * so that their memory is freed and uv_loop_close() can succeed. The
     * loop is ours, so no application callback other than those close
     * callbacks can run here. */
    while (uv_loop_alive(loop->uv)) (void)uv_run(loop->uv, UV_RUN_DEFAULT);
    if (uv_loop_close(loop->uv) != 0) return PORTLS_EBUSY;
  }
#ifdef UVP_OWN_ACCEPT
  if (loop->emfile_fd >= 0) (void)close(loop->emfile_fd);
#endif
  portls_plat_free(loop);
  return 0;
}

static int uvp_loop_run(portls_plat_loop *loop, int mode) {
  uv_run_mode m;
  if (loop == NULL) return 0;
  /* libuv's UV_RUN_ONCE runs due timers and then still blocks in poll; when a
   * timer is due now (core's deferred events), one non-blocking turn is the
   * "at least one event" that run_once promises. */
  if (mode == PORTLS_PLAT_RUN_ONCE)
    m = uv_backend_timeout(loop->uv) == 0 ? UV_RUN_NOWAIT : UV_RUN_ONCE;
  else if (mode == PORTLS_PLAT_RUN_NOWAIT)
    m = UV_RUN_NOWAIT;
  else
    m = UV_RUN_DEFAULT;
  if (!loop->running) {
    loop->running = 1;
    (void)uv_run(loop->uv, m);
    loop->running = 0;
  }
  return uv_loop_alive(loop->uv) != 0;
}

static void uvp_loop_stop(portls_plat_loop *loop) {
  if (loop != NULL) uv_stop(loop->uv);
}

static uint64_t uvp_now(portls_plat_loop *loop) { return loop != NULL ? uv_now(loop->uv) : 0; }

/* ------------------------------------------------------------------------ */
/* Timers                                                                     */

static void uvp_timer_fire(uv_timer_t *h) {
  portls_plat_timer *t = h->data;
  t->cb(t->ud);
}

static void uvp_free_on_close(uv_handle_t *h) { portls_plat_free(h->data); }

static int uvp_timer_new(portls_plat_loop *loop, portls_plat_cb cb, void *ud,
                         portls_plat_timer **out) {
  portls_plat_timer *t;
  int rc;
  if (out == NULL) return PORTLS_EINVAL;
  *out = NULL;
  if (loop == NULL || cb == NULL) return PORTLS_EINVAL;
  t = portls_plat_alloc(sizeof *t);
  if (t == NULL) return PORTLS_ENOMEM;
  memset(t, 0, sizeof *t);
  rc = uv_timer_init(loop->uv, &t->h);
  if (rc != 0) {
    portls_plat_free(t);
    return portls__uv_err(rc);
  }
  t->h.data = t;
  t->loop = loop;
  t->cb = cb;
  t->ud = ud;
  loop->nopen++;
  *out = t;
  return 0;
}

static void uvp_timer_start(portls_plat_timer *t, uint64_t timeout_ms, uint64_t repeat_ms) {
  if (t != NULL && !uv_is_closing((uv_handle_t *)&t->h))
    (void)uv_timer_start(&t->h, uvp_timer_fire, timeout_ms, repeat_ms);
}

static void uvp_timer_stop(portls_plat_timer *t) {
  if (t != NULL) (void)uv_timer_stop(&t->h);
}

static void uvp_timer_free(portls_plat_timer *t) {
  if (t == NULL || uv_is_closing((uv_handle_t *)&t->h)) return;
  t->loop->nopen--;
  /* uv_close() stops the timer: its callback cannot run again. */
  uv_close((uv_handle_t *)&t->h, uvp_free_on_close);
}

/* ------------------------------------------------------------------------ */
/* Name lookup                                                                */

static void uvp_lookup_done(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  portls_plat_lookup *lk = req->data;
  portls_plat_addr *addrs = NULL;
  size_t n = 0;

  if (lk->canceled) {
    uv_freeaddrinfo(res);
    portls_plat_free(lk);
    return;
  }
  lk->done = 1;
  lk->loop->nopen--;

  status =
      status == 0 ? portls__plat_from_addrinfo(res, lk->port, &addrs, &n) : portls__uv_err(status);
  uv_freeaddrinfo(res);

  lk->cb(lk->ud, status, status == 0 ? addrs : NULL, status == 0 ? n : 0);
  portls_plat_free(addrs);
  portls_plat_free(lk);
}

static int uvp_lookup(portls_plat_loop *loop, const char *host, uint16_t port, int family,
                      portls_plat_lookup_cb cb, void *ud, portls_plat_lookup **out) {
  portls_plat_lookup *lk;
  struct addrinfo hints;
  int rc;

  if (out != NULL) *out = NULL;
  if (loop == NULL || host == NULL || cb == NULL) return PORTLS_EINVAL;
  if (portls__plat_lookup_hints(family, &hints) != 0) return PORTLS_EINVAL;

  lk = portls_plat_alloc(sizeof *lk);
  if (lk == NULL) return PORTLS_ENOMEM;
  memset(lk, 0, sizeof *lk);
  lk->req.data = lk;
  lk->loop = loop;
  lk->cb = cb;
  lk->ud = ud;
  lk->port = port;
  rc = uv_getaddrinfo(loop->uv, &lk->req, uvp_lookup_done, host, NULL, &hints);
  if (rc != 0) {
    portls_plat_free(lk);
    return portls__uv_err(rc);
  }
  loop->nopen++;
  if (out != NULL) *out = lk;
  return 0;
}

static void uvp_lookup_cancel(portls_plat_lookup *lk) {
  /* After the callback has started the lookup is complete (and freed when
   * the callback returns): cancelling it then is a no-op. */
  if (lk == NULL || lk->canceled || lk->done) return;
  lk->canceled = 1;
  lk->loop->nopen--;
  /* Fails harmlessly when the query is already running in the thread pool;
   * either way uvp_lookup_done() runs later and frees lk. */
  (void)uv_cancel((uv_req_t *)&lk->req);
}

/* ------------------------------------------------------------------------ */
/* Streams                                                                    */

static void uvp_stream_closed(uv_handle_t *h) {
  portls_plat_stream *s = h->data;
  if (s->close_cb != NULL) s->close_cb(s->close_ud);
  portls_plat_free(s);
}

/* Gives up a stream the caller never saw: no callback of it will run. */
static void uvp_stream_discard(portls_plat_stream *s) {
  s->closing = 1;
  uv_close(&s->h.handle, uvp_stream_closed);
}

static portls_plat_stream *uvp_stream_new(portls_plat_loop *loop, int is_pipe) {
  portls_plat_stream *s = portls_plat_alloc(sizeof *s);
  int rc;
  if (s == NULL) return NULL;
  memset(s, 0, sizeof *s);
  s->loop = loop;
  s->is_pipe = (unsigned char)(is_pipe != 0);
  rc = is_pipe ? uv_pipe_init(loop->uv, &s->h.pipe, 0) : uv_tcp_init(loop->uv, &s->h.tcp);
  if (rc != 0) {
    /* Neither init fails on an existing loop; if one did, libuv has not
     * registered the handle, so plain free() is right. */
    portls_plat_free(s);
    return NULL;
  }
  s->h.handle.data = s;
  s->connect_req.data = s;
  return s;
}

/* A stream over fd, a connected socket (TCP, or Unix when is_pipe). On
 * failure the descriptor stays the caller's. */
static int uvp_stream_from_fd(portls_plat_loop *loop, int fd, int is_pipe,
                              portls_plat_stream **out) {
  portls_plat_stream *s = uvp_stream_new(loop, is_pipe);
  if (s == NULL) return PORTLS_ENOMEM;
  int rc = is_pipe ? uv_pipe_open(&s->h.pipe, fd) : uv_tcp_open(&s->h.tcp, fd);
  if (rc != 0) {
    uvp_stream_discard(s);
    return portls__uv_err(rc);
  }
  loop->nopen++;
  *out = s;
  return 0;
}

static void uvp_connected(uv_connect_t *req, int status) {
  portls_plat_stream *s = req->data;
  /* libuv reports UV_ECANCELED here when the stream is closed first; the
   * contract says no callback of a closed stream but write/shutdown ones. */
  if (s->closing || s->connect_cb == NULL) return;
  s->connect_cb(s->connect_ud, portls__uv_err(status));
}

static int uvp_stream_connect(portls_plat_loop *loop, const portls_plat_addr *addr,
                              portls_plat_status_cb cb, void *ud, portls_plat_stream **out) {
  portls_plat_stream *s;
  struct sockaddr_storage ss;
  int rc;

  if (out == NULL) return PORTLS_EINVAL;
  *out = NULL;
  if (loop == NULL || addr == NULL) return PORTLS_EINVAL;
  if (addr->family == PORTLS_PLAT_UNIX) {
    rc = portls__plat_check_unix_path(addr);
  } else {
    socklen_t salen;
    rc = portls__plat_to_sockaddr(addr, &ss, &salen);
  }
  if (rc != 0) return rc;

  s = uvp_stream_new(loop, addr->family == PORTLS_PLAT_UNIX);
  if (s == NULL) return PORTLS_ENOMEM;
  s->connect_cb = cb;
  s->connect_ud = ud;
  if (s->is_pipe) {
    /* Reports every failure (ENOENT, ECONNREFUSED, ...) through the callback. */
    uv_pipe_connect(&s->connect_req, &s->h.pipe, addr->path, uvp_connected);
  } else {
    /* libuv defers ECONNREFUSED to the callback itself; what comes back
     * here (EADDRNOTAVAIL, ENETUNREACH, EACCES, ...) is synchronous. */
    rc = uv_tcp_connect(&s->connect_req, &s->h.tcp, (const struct sockaddr *)&ss, uvp_connected);
    if (rc != 0) {
      uvp_stream_discard(s);
      return portls__uv_err(rc);
    }
  }
  loop->nopen++;
  *out = s;
  return 0;
}

static void uvp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  portls_plat_stream *s = h->data;
  uint8_t *base = NULL;
  size_t len = 0;
  s->alloc_cb(s->read_ud, suggested, &base, &len);
  if (base == NULL) len = 0; /* libuv turns an empty buffer into UV_ENOBUFS: PORTLS_ENOMEM */
  buf->base = (char *)base;
  buf->len = len;
}

static void uvp_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf) {
  portls_plat_stream *s = h->data;
  (void)buf; /* core owns the buffer it gave through alloc */
  if (nread > 0)
    s->read_cb(s->read_ud, 0, (size_t)nread);
  else if (nread < 0)
    s->read_cb(s->read_ud, portls__uv_err((int)nread), 0);
  /* nread == 0 is libuv's EAGAIN: nothing happened. */
}

static int uvp_read_start(portls_plat_stream *s, portls_plat_alloc_cb alloc, portls_plat_read_cb cb,
                          void *ud) {
  int rc;
  if (s == NULL || alloc == NULL || cb == NULL || s->closing) return PORTLS_EINVAL;
  s->alloc_cb = alloc;
  s->read_cb = cb;
  s->read_ud = ud;
  rc = uv_read_start(&s->h.stream, uvp_alloc, uvp_read);
  /* Already reading: the new callbacks above are in force. */
  if (rc == UV_EALREADY) rc = 0;
  return portls__uv_err(rc);
}

static int uvp_read_stop(portls_plat_stream *s) {
  if (s == NULL || s->closing) return PORTLS_EINVAL;
  return portls__uv_err(uv_read_stop(&s->h.stream));
}

/* Fills bufs from iov; uses small when it is big enough, else allocates.
 * libuv copies the uv_buf_t array into its request, so it only has to live
 * through the call. */
static uv_buf_t *uvp_bufs(const portls_plat_iov *iov, size_t count, uv_buf_t *small) {
  uv_buf_t *bufs = small;
  size_t i;
  if (count > UVP_SMALL_IOV) {
    if (count > (size_t)-1 / sizeof *bufs) return NULL;
    bufs = portls_plat_alloc(count * sizeof *bufs);
    if (bufs == NULL) return NULL;
  }
  for (i = 0; i < count; i++) {
    /* uv_buf_t has no const; libuv only reads the bytes of a write. */
    bufs[i].base = (char *)iov[i].base;
    bufs[i].len = iov[i].len;
  }
  return bufs;
}

static int uvp_try_write(portls_plat_stream *s, const portls_plat_iov *iov, size_t count) {
  uv_buf_t small[UVP_SMALL_IOV];
  uv_buf_t *bufs;
  int rc;
  if (s == NULL || (iov == NULL && count > 0) || s->closing) return PORTLS_EINVAL;
  if (count == 0) return 0;
  if (count > 0x7fffffff) count = 0x7fffffff;
  bufs = uvp_bufs(iov, count, small);
  if (bufs == NULL) return PORTLS_ENOMEM;
  rc = uv_try_write(&s->h.stream, bufs, (unsigned int)count);
  if (bufs != small) portls_plat_free(bufs);
  if (rc == UV_EAGAIN) return 0;
  return rc >= 0 ? rc : portls__uv_err(rc);
}

static void uvp_written(uv_write_t *req, int status) {
  uvp_write *w = req->data;
  if (w->cb != NULL) w->cb(w->ud, portls__uv_err(status));
  portls_plat_free(w);
}

static int uvp_write_fn(portls_plat_stream *s, const portls_plat_iov *iov, size_t count,
                        portls_plat_status_cb cb, void *ud) {
  uv_buf_t small[UVP_SMALL_IOV];
  uv_buf_t *bufs;
  uvp_write *w;
  int rc;
  if (s == NULL || (iov == NULL && count > 0) || s->closing || count > 0x7fffffff)
    return PORTLS_EINVAL;
  w = portls_plat_alloc(sizeof *w);
  if (w == NULL) return PORTLS_ENOMEM;
  memset(w, 0, sizeof *w);
  w->req.data = w;
  w->cb = cb;
  w->ud = ud;
  if (count == 0) {
    /* libuv asserts nbufs > 0; one empty buffer gives the same meaning:
     * a callback once everything queued before it is written. */
    small[0].base = NULL;
    small[0].len = 0;
    bufs = small;
    count = 1;
  } else {
    bufs = uvp_bufs(iov, count, small);
    if (bufs == NULL) {
      portls_plat_free(w);
      return PORTLS_ENOMEM;
    }
  }
  rc = uv_write(&w->req, &s->h.stream, bufs, (unsigned int)count, uvp_written);
  if (bufs != small) portls_plat_free(bufs);
  if (rc != 0) {
    portls_plat_free(w);
    return portls__uv_err(rc);
  }
  return 0;
}

static void uvp_shut(uv_shutdown_t *req, int status) {
  uvp_shutdown *sd = req->data;
  if (sd->cb != NULL) sd->cb(sd->ud, portls__uv_err(status));
  portls_plat_free(sd);
}

static int uvp_shutdown_fn(portls_plat_stream *s, portls_plat_status_cb cb, void *ud) {
  uvp_shutdown *sd;
  int rc;
  if (s == NULL || s->closing) return PORTLS_EINVAL;
  sd = portls_plat_alloc(sizeof *sd);
  if (sd == NULL) return PORTLS_ENOMEM;
  memset(sd, 0, sizeof *sd);
  sd->req.data = sd;
  sd->cb = cb;
  sd->ud = ud;
  rc = uv_shutdown(&sd->req, &s->h.stream, uvp_shut);
  if (rc != 0) {
    portls_plat_free(sd);
    return portls__uv_err(rc);
  }
  return 0;
}

static void uvp_close(portls_plat_stream *s, portls_plat_cb cb, void *ud) {
  if (s == NULL || s->closing) return;
  s->closing = 1;
  s->close_cb = cb;
  s->close_ud = ud;
  s->loop->nopen--;
  /* libuv runs pending write and shutdown callbacks with UV_ECANCELED
   * before the close callback; uvp_connected() drops the connect one. */
  uv_close(&s->h.handle, uvp_stream_closed);
}

static int uvp_set_nodelay(portls_plat_stream *s, int enable) {
  if (s == NULL || s->closing) return PORTLS_EINVAL;
  if (s->is_pipe) return 0;
  return portls__uv_err(uv_tcp_nodelay(&s->h.tcp, enable != 0));
}

static int uvp_set_keepalive(portls_plat_stream *s, int enable, unsigned delay_s) {
  if (s == NULL || s->closing) return PORTLS_EINVAL;
  if (s->is_pipe) return 0;
#ifndef _WIN32
  /* Node: "0 leaves the value unchanged from the default (or previous)
   * setting". libuv 1.44 would set TCP_KEEPIDLE to 0, which Linux refuses. */
  if (enable && delay_s == 0) {
    uv_os_fd_t fd;
    int on = 1;
    int rc = uv_fileno(&s->h.handle, &fd);
    if (rc != 0) return portls__uv_err(rc);
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) != 0) return PORTLS_EINVAL;
    return 0;
  }
#endif
  return portls__uv_err(uv_tcp_keepalive(&s->h.tcp, enable != 0, delay_s));
}

static int uvp_name(portls_plat_stream *s, portls_plat_addr *out, int peer) {
  struct sockaddr_storage ss;
  int len = (int)sizeof ss;
  int rc;
  if (s == NULL || out == NULL || s->closing) return PORTLS_EINVAL;
  memset(out, 0, sizeof *out);
  if (s->is_pipe) {
    size_t n = sizeof out->path;
    rc = peer ? uv_pipe_getpeername(&s->h.pipe, out->path, &n)
              : uv_pipe_getsockname(&s->h.pipe, out->path, &n);
    if (rc == UV_ENOBUFS) return PORTLS_ENAMETOOLONG;
    if (rc != 0) return portls__uv_err(rc);
    if (n < sizeof out->path) out->path[n] = '\0';
    out->family = PORTLS_PLAT_UNIX;
    return 0;
  }
  memset(&ss, 0, sizeof ss);
  rc = peer ? uv_tcp_getpeername(&s->h.tcp, (struct sockaddr *)&ss, &len)
            : uv_tcp_getsockname(&s->h.tcp, (struct sockaddr *)&ss, &len);
  if (rc != 0) return portls__uv_err(rc);
  return portls__plat_from_sockaddr((const struct sockaddr *)&ss, out);
}

static int uvp_sockname(portls_plat_stream *s, portls_plat_addr *out) {
  return uvp_name(s, out, 0);
}

static int uvp_peername(portls_plat_stream *s, portls_plat_addr *out) {
  return uvp_name(s, out, 1);
}

/* ------------------------------------------------------------------------ */
/* Listeners                                                                  */

#ifdef UVP_OWN_ACCEPT

static int uvp_sys_err(int e) { return portls__uv_err(uv_translate_sys_error(e)); }

static void uvp_listener_io(uv_poll_t *h, int status, int events);

static void uvp_listener_update(portls_plat_listener *l) {
  /* An accepted connection nobody took yet pauses accepting (libuv), and so
   * does a failure, until the next accept(). */
  if (l->closing) return;
  if (l->accepted_fd < 0 && !l->failed)
    (void)uv_poll_start(&l->poll, UV_READABLE, uvp_listener_io);
  else
    (void)uv_poll_stop(&l->poll);
}

/* accept() failed: polling stops (the listener stays readable, so polling on
 * would spin) and the failure is reported; core calls accept() to go on
 * after a back-off. */
static void uvp_listener_failed(portls_plat_listener *l, int code) {
  l->failed = 1;
  uvp_listener_update(l);
  l->cb(l->ud, code);
}

static void uvp_listener_io(uv_poll_t *h, int status, int events) {
  portls_plat_listener *l = h->data;
  (void)events;
  if (status < 0) {
    uvp_listener_failed(l, portls__uv_err(status));
    return;
  }
  while (!l->closing && l->accepted_fd < 0 && !l->failed) {
    int fd = accept(l->fd, NULL, NULL);
    if (fd < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      if (err == EINTR || err == ECONNABORTED) continue;
      /* At the descriptor limit, what is pending is closed (libuv's trick);
       * either way it is reported. */
      if (err == EMFILE || err == ENFILE)
        (void)portls__plat_emfile_trick(l->fd, &l->loop->emfile_fd);
      uvp_listener_failed(l, uvp_sys_err(err));
      return;
    }
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
      int err = errno;
      (void)close(fd);
      uvp_listener_failed(l, uvp_sys_err(err));
      return;
    }
    l->accepted_fd = fd;
    l->cb(l->ud, 0);
    if (!l->closing && l->accepted_fd >= 0) {
      uvp_listener_update(l);
      return;
    }
  }
}

static void uvp_listener_closed(uv_handle_t *h) {
  portls_plat_listener *l = h->data;
  if (l->close_cb != NULL) l->close_cb(l->close_ud);
  portls_plat_free(l);
}

/* The descriptors of a listener that is closing or never reached the caller. */
static void uvp_listener_release(portls_plat_listener *l) {
  if (l->fd >= 0) (void)close(l->fd);
  if (l->accepted_fd >= 0) (void)close(l->accepted_fd);
  l->fd = l->accepted_fd = -1;
  /* As Node (and libuv) do: the socket file goes with the listener. */
  if (l->bound) (void)unlink(l->path);
  l->bound = 0;
}

/* socket(), bind() and listen() with libuv's flags: TCP reuses the address
 * of a connection in TIME_WAIT and "::" listens dual-stack; a Unix socket in
 * a missing directory is EACCES. */
static int uvp_listen_fd(portls_plat_listener *l, const portls_plat_addr *addr, int backlog) {
  struct sockaddr_storage ss;
  struct sockaddr_un sun;
  socklen_t salen = 0;
  int rc, fd, on = 1;
  if (l->is_pipe) {
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, addr->path, strlen(addr->path));
    salen = (socklen_t)sizeof sun;
  } else {
    rc = portls__plat_to_sockaddr(addr, &ss, &salen);
    if (rc != 0) return rc;
  }
  fd = socket(l->is_pipe ? AF_UNIX : ss.ss_family, SOCK_STREAM, 0);
  if (fd < 0) return uvp_sys_err(errno);
  l->fd = fd;
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK))
    return uvp_sys_err(errno);
  if (l->is_pipe) {
    if (bind(fd, (struct sockaddr *)&sun, salen) != 0)
      return errno == ENOENT ? PORTLS_EACCES : uvp_sys_err(errno);
    l->bound = 1;
  } else {
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) return uvp_sys_err(errno);
#ifdef IPV6_V6ONLY
    if (addr->family == PORTLS_PLAT_INET6) {
      int off = 0;
      if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) != 0)
        return uvp_sys_err(errno);
    }
#endif
    if (bind(fd, (struct sockaddr *)&ss, salen) != 0)
      return errno == EAFNOSUPPORT ? PORTLS_EINVAL : uvp_sys_err(errno);
  }
  if (listen(fd, backlog) != 0) return uvp_sys_err(errno);
  return 0;
}

static int uvp_listen(portls_plat_loop *loop, const portls_plat_addr *addr, int backlog,
                      portls_plat_status_cb cb, void *ud, portls_plat_listener **out) {
  portls_plat_listener *l;
  int rc;

  if (out == NULL) return PORTLS_EINVAL;
  *out = NULL;
  if (loop == NULL || addr == NULL || cb == NULL) return PORTLS_EINVAL;
  if (addr->family == PORTLS_PLAT_UNIX) {
    rc = portls__plat_check_unix_path(addr);
    if (rc != 0) return rc;
  }
  if (backlog <= 0) backlog = 511; /* Node's default */

  l = portls_plat_alloc(sizeof *l);
  if (l == NULL) return PORTLS_ENOMEM;
  memset(l, 0, sizeof *l);
  l->loop = loop;
  l->cb = cb;
  l->ud = ud;
  l->fd = l->accepted_fd = -1;
  l->is_pipe = addr->family == PORTLS_PLAT_UNIX;
  if (l->is_pipe) memcpy(l->path, addr->path, sizeof l->path);
  rc = uvp_listen_fd(l, addr, backlog);
  if (rc == 0) rc = portls__uv_err(uv_poll_init_socket(loop->uv, &l->poll, l->fd));
  if (rc != 0) {
    /* A Unix socket that failed to bind has no file of ours to remove. */
    uvp_listener_release(l);
    portls_plat_free(l);
    return rc;
  }
  l->poll.data = l;
  (void)uv_poll_start(&l->poll, UV_READABLE, uvp_listener_io);
  if (loop->emfile_fd < 0) loop->emfile_fd = portls__plat_emfile_reserve();
  loop->nopen++;
  *out = l;
  return 0;
}

static int uvp_accept(portls_plat_listener *l, portls_plat_stream **out) {
  int rc, fd;
  if (out == NULL) return PORTLS_EINVAL;
  *out = NULL;
  if (l == NULL || l->closing) return PORTLS_EINVAL;
  l->failed = 0; /* accepting again, after a failure */
  fd = l->accepted_fd;
  l->accepted_fd = -1;
  uvp_listener_update(l);
  if (fd < 0) return PORTLS_EAGAIN;
  rc = uvp_stream_from_fd(l->loop, fd, l->is_pipe, out);
  if (rc != 0) (void)close(fd); /* libuv takes the descriptor only when it succeeds */
  return rc;
}

static int uvp_listener_address(portls_plat_listener *l, portls_plat_addr *out) {
  struct sockaddr_storage ss;
  socklen_t len = (socklen_t)sizeof ss;
  if (l == NULL || out == NULL || l->closing) return PORTLS_EINVAL;
  if (l->is_pipe) {
    memset(out, 0, sizeof *out);
    out->family = PORTLS_PLAT_UNIX;
    memcpy(out->path, l->path, sizeof out->path);
    return 0;
  }
  memset(&ss, 0, sizeof ss);
  if (getsockname(l->fd, (struct sockaddr *)&ss, &len) != 0) return uvp_sys_err(errno);
  return portls__plat_from_sockaddr((const struct sockaddr *)&ss, out);
}

static void uvp_listener_close(portls_plat_listener *l, portls_plat_cb cb, void *ud) {
  if (l == NULL || l->closing) return;
  l->closing = 1;
  l->close_cb = cb;
  l->close_ud = ud;
  l->loop->nopen--;
  /* uv_close() stops polling at once, so the descriptors can go now. */
  uv_close((uv_handle_t *)&l->poll, uvp_listener_closed);
  uvp_listener_release(l);
}

/* A listening socket the application made (or SO_REUSEPORT workers): as
 * uvp_listen() from the point where the socket listens. */
static int uvp_listen_fd_op(portls_plat_loop *loop, int fd, portls_plat_status_cb cb, void *ud,
                            portls_plat_listener **out) {
  portls_plat_listener *l;
  int is_unix = 0, listening = 0, rc;
  if (out == NULL) return PORTLS_EINVAL;
  *out = NULL;
  if (loop == NULL || cb == NULL) return PORTLS_EINVAL;
  rc = portls__plat_fd_adopt(fd, &is_unix, &listening);
  if (rc != 0) return uvp_sys_err(-rc);
  if (listening == 0) return PORTLS_EINVAL;
  l = portls_plat_alloc(sizeof *l);
  if (l == NULL) return PORTLS_ENOMEM;
  memset(l, 0, sizeof *l);
  l->loop = loop;
  l->cb = cb;
  l->ud = ud;
  l->fd = fd;
  l->accepted_fd = -1;
  l->is_pipe = (unsigned char)is_unix;
  if (is_unix) {
    /* Its path, for address(); the file is the application's to remove. */
    struct sockaddr_un sun;
    socklen_t len = (socklen_t)sizeof sun;
    memset(&sun, 0, sizeof sun);
    if (getsockname(fd, (struct sockaddr *)&sun, &len) == 0)
      memcpy(l->path, sun.sun_path,
             sizeof l->path < sizeof sun.sun_path ? sizeof l->path - 1 : sizeof sun.sun_path - 1);
  }
  rc = portls__uv_err(uv_poll_init_socket(loop->uv, &l->poll, l->fd));
  if (rc != 0) {
    portls_plat_free(l);
    return rc;
  }
  l->poll.data = l;
  (void)uv_poll_start(&l->poll, UV_READABLE, uvp_listener_io);
  if (loop->emfile_fd < 0) loop->emfile_fd = portls__plat_emfile_reserve();
  loop->nopen++;
  *out = l;
  return 0;
}

static int uvp_accept_fd(portls_plat_listener *l, int *fd) {
  if (fd == NULL) return PORTLS_EINVAL;
  *fd = -1;
  if (l == NULL || l->closing) return PORTLS_EINVAL;
  l->failed = 0;
  *fd = l->accepted_fd;
  l->accepted_fd = -1;
  uvp_listener_update(l);
  return *fd < 0 ? PORTLS_EAGAIN : 0;
}

#else /* libuv's own listeners */

static void uvp_connection(uv_stream_t *h, int status) {
  portls_plat_listener *l = h->data;
  if (l->closing) return;
  l->cb(l->ud, portls__uv_err(status));
}

static void uvp_listener_closed(uv_handle_t *h) {
  portls_plat_listener *l = h->data;
  if (l->close_cb != NULL) l->close_cb(l->close_ud);
  portls_plat_free(l);
}

static int uvp_listen(portls_plat_loop *loop, const portls_plat_addr *addr, int backlog,
                      portls_plat_status_cb cb, void *ud, portls_plat_listener **out) {
  portls_plat_listener *l;
  struct sockaddr_storage ss;
  int rc;

  if (out == NULL) return PORTLS_EINVAL;
  *out = NULL;
  if (loop == NULL || addr == NULL || cb == NULL) return PORTLS_EINVAL;
  if (addr->family == PORTLS_PLAT_UNIX)
    rc = portls__plat_check_unix_path(addr);
  else {
    socklen_t salen;
    rc = portls__plat_to_sockaddr(addr, &ss, &salen);
  }
  if (rc != 0) return rc;
  if (backlog <= 0) backlog = 511; /* Node's default */

  l = portls_plat_alloc(sizeof *l);
  if (l == NULL) return PORTLS_ENOMEM;
  memset(l, 0, sizeof *l);
  l->loop = loop;
  l->cb = cb;
  l->ud = ud;
  l->is_pipe = addr->family == PORTLS_PLAT_UNIX;
  rc = l->is_pipe ? uv_pipe_init(loop->uv, &l->h.pipe, 0) : uv_tcp_init(loop->uv, &l->h.tcp);
  if (rc != 0) {
    portls_plat_free(l);
    return portls__uv_err(rc);
  }
  l->h.handle.data = l;
  if (l->is_pipe) {
    memcpy(l->path, addr->path, sizeof l->path);
    rc = uv_pipe_bind(&l->h.pipe, l->path);
  } else {
    /* Flags 0: an IPv6 address, "::" in particular, listens dual-stack
     * (libuv clears IPV6_V6ONLY). EADDRINUSE surfaces from uv_listen(). */
    rc = uv_tcp_bind(&l->h.tcp, (const struct sockaddr *)&ss, 0);
  }
  if (rc == 0) rc = uv_listen(&l->h.stream, backlog, uvp_connection);
  if (rc != 0) {
    /* A pipe that failed to bind has no name, so closing it unlinks nothing
     * that belongs to someone else. */
    l->closing = 1;
    uv_close(&l->h.handle, uvp_listener_closed);
    return portls__uv_err(rc);
  }
  loop->nopen++;
  *out = l;
  return 0;
}

static int uvp_accept(portls_plat_listener *l, portls_plat_stream **out) {
  portls_plat_stream *s;
  int rc;
  if (out == NULL) return PORTLS_EINVAL;
  *out = NULL;
  if (l == NULL || l->closing) return PORTLS_EINVAL;
  s = uvp_stream_new(l->loop, l->is_pipe);
  if (s == NULL) return PORTLS_ENOMEM;
  rc = uv_accept(&l->h.stream, &s->h.stream);
  if (rc != 0) {
    uvp_stream_discard(s);
    return portls__uv_err(rc);
  }
  l->loop->nopen++;
  *out = s;
  return 0;
}

static int uvp_listener_address(portls_plat_listener *l, portls_plat_addr *out) {
  struct sockaddr_storage ss;
  int len = (int)sizeof ss;
  int rc;
  if (l == NULL || out == NULL || l->closing) return PORTLS_EINVAL;
  if (l->is_pipe) {
    memset(out, 0, sizeof *out);
    out->family = PORTLS_PLAT_UNIX;
    memcpy(out->path, l->path, sizeof out->path);
    return 0;
  }
  memset(&ss, 0, sizeof ss);
  rc = uv_tcp_getsockname(&l->h.tcp, (struct sockaddr *)&ss, &len);
  if (rc != 0) return portls__uv_err(rc);
  return portls__plat_from_sockaddr((const struct sockaddr *)&ss, out);
}

static void uvp_listener_close(portls_plat_listener *l, portls_plat_cb cb, void *ud) {
  if (l == NULL || l->closing) return;
  l->closing = 1;
  l->close_cb = cb;
  l->close_ud = ud;
  l->loop->nopen--;
  /* libuv unlinks a Unix socket path it bound, as Node does on close. */
  uv_close(&l->h.handle, uvp_listener_closed);
}

#endif

/* ------------------------------------------------------------------------ */
/* Descriptors from elsewhere, threads, wakeups, the backend descriptor       */

/* A connected socket accepted elsewhere (another loop, another process). */
static int uvp_stream_open(portls_plat_loop *loop, int fd, portls_plat_stream **out) {
  int is_unix = 0, listening = 0, rc;
  if (out == NULL) return PORTLS_EINVAL;
  *out = NULL;
  if (loop == NULL) return PORTLS_EINVAL;
  rc = portls__plat_fd_adopt(fd, &is_unix, &listening);
  if (rc != 0) return portls__uv_err(uv_translate_sys_error(-rc));
  if (listening > 0) return PORTLS_EINVAL;
  return uvp_stream_from_fd(loop, fd, is_unix, out); /* the descriptor stays the caller's */
}

static int uvp_bind_listen(const portls_plat_addr *addr, int backlog, int reuseport, int *fd) {
  int rc = portls__plat_bind_listen(addr, backlog, reuseport, fd);
  return rc < 0 ? portls__uv_err(uv_translate_sys_error(-rc)) : 0;
}

static int uvp_fd_dup(int fd) {
  int rc = portls__plat_fd_dup(fd);
  return rc < 0 ? portls__uv_err(uv_translate_sys_error(-rc)) : rc;
}

static int uvp_thread_start(void (*fn)(void *), void *arg, portls_plat_thread **out) {
  int rc = portls__plat_thread_start(fn, arg, out);
  return rc < 0 ? portls__uv_err(uv_translate_sys_error(-rc)) : 0;
}

struct portls_plat_async {
  uv_async_t h;
  portls_plat_loop *loop;
  portls_plat_cb cb;
  void *ud;
};

static void uvp_async_fire(uv_async_t *h) {
  portls_plat_async *a = h->data;
  a->cb(a->ud);
}

static int uvp_async_new(portls_plat_loop *loop, portls_plat_cb cb, void *ud,
                         portls_plat_async **out) {
  if (out == NULL) return PORTLS_EINVAL;
  *out = NULL;
  if (loop == NULL || cb == NULL) return PORTLS_EINVAL;
  portls_plat_async *a = portls_plat_alloc(sizeof *a);
  if (a == NULL) return PORTLS_ENOMEM;
  memset(a, 0, sizeof *a);
  int rc = uv_async_init(loop->uv, &a->h, uvp_async_fire);
  if (rc != 0) {
    portls_plat_free(a);
    return portls__uv_err(rc);
  }
  a->h.data = a;
  a->loop = loop;
  a->cb = cb;
  a->ud = ud;
  loop->nopen++;
  *out = a;
  return 0;
}

static void uvp_async_send(portls_plat_async *a) {
  if (a != NULL) (void)uv_async_send(&a->h);
}

static void uvp_async_closed(uv_handle_t *h) { portls_plat_free(h->data); }

static void uvp_async_close(portls_plat_async *a) {
  if (a == NULL) return;
  a->loop->nopen--;
  uv_close((uv_handle_t *)&a->h, uvp_async_closed);
}

static int uvp_backend_fd(portls_plat_loop *loop) {
  if (loop == NULL) return PORTLS_EINVAL;
  int fd = uv_backend_fd(loop->uv);
  return fd < 0 ? PORTLS_ENOTSUP : fd;
}

static int uvp_backend_timeout(portls_plat_loop *loop) {
  return loop != NULL ? uv_backend_timeout(loop->uv) : 0;
}

/* ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------ */
/* Descriptor watches (portls_poll_new()): uv_poll_t                         */

struct portls_plat_watch {
  uv_poll_t h;
  portls_plat_loop *loop;
  portls_plat_watch_cb cb;
  void *ud;
  portls_plat_cb close_cb;
  void *close_ud;
};

static void uvp_watch_fire(uv_poll_t *h, int status, int events) {
  portls_plat_watch *w = h->data;
  int ev = 0;
  if (status < 0) {
    w->cb(w->ud, portls__uv_err(status), 0);
    return;
  }
  if (events & (UV_READABLE | UV_DISCONNECT)) ev |= PORTLS_PLAT_WATCH_READ;
  if (events & UV_WRITABLE) ev |= PORTLS_PLAT_WATCH_WRITE;
  if (ev != 0) w->cb(w->ud, 0, ev);
}

static int uvp_watch_new(portls_plat_loop *loop, int fd, portls_plat_watch_cb cb, void *ud,
                         portls_plat_watch **out) {
  portls_plat_watch *w;
  int rc;
  if (loop == NULL || fd < 0 || cb == NULL || out == NULL) return PORTLS_EINVAL;
  w = portls_plat_alloc(sizeof *w);
  if (w == NULL) return PORTLS_ENOMEM;
  memset(w, 0, sizeof *w);
  rc = uv_poll_init(loop->uv, &w->h, fd);
  if (rc != 0) {
    portls_plat_free(w);
    return portls__uv_err(rc);
  }
  w->h.data = w;
  w->loop = loop;
  w->cb = cb;
  w->ud = ud;
  loop->nopen++;
  *out = w;
  return 0;
}

static int uvp_watch_start(portls_plat_watch *w, int events) {
  int uvev = 0;
  if (w == NULL || uv_is_closing((uv_handle_t *)&w->h)) return PORTLS_EINVAL;
  if (events & ~(PORTLS_PLAT_WATCH_READ | PORTLS_PLAT_WATCH_WRITE)) return PORTLS_EINVAL;
  if (events == 0) return portls__uv_err(uv_poll_stop(&w->h));
  if (events & PORTLS_PLAT_WATCH_READ) uvev |= UV_READABLE;
  if (events & PORTLS_PLAT_WATCH_WRITE) uvev |= UV_WRITABLE;
  return portls__uv_err(uv_poll_start(&w->h, uvev, uvp_watch_fire));
}

static void uvp_watch_closed(uv_handle_t *h) {
  portls_plat_watch *w = h->data;
  if (w->close_cb != NULL) w->close_cb(w->close_ud);
  portls_plat_free(w);
}

static void uvp_watch_close(portls_plat_watch *w, portls_plat_cb close_cb, void *ud) {
  if (w == NULL || uv_is_closing((uv_handle_t *)&w->h)) return;
  w->close_cb = close_cb;
  w->close_ud = ud;
  w->loop->nopen--;
  uv_close((uv_handle_t *)&w->h, uvp_watch_closed);
}

const portls_platform portls__platform = {
    .name = "libuv",
    .loop_new = uvp_loop_new,
    .loop_free = uvp_loop_free,
    .loop_run = uvp_loop_run,
    .loop_stop = uvp_loop_stop,
    .now = uvp_now,
    .timer_new = uvp_timer_new,
    .timer_start = uvp_timer_start,
    .timer_stop = uvp_timer_stop,
    .timer_free = uvp_timer_free,
    .lookup = uvp_lookup,
    .lookup_cancel = uvp_lookup_cancel,
    .stream_connect = uvp_stream_connect,
    .listen = uvp_listen,
    .accept = uvp_accept,
    .listener_address = uvp_listener_address,
    .listener_close = uvp_listener_close,
    .read_start = uvp_read_start,
    .read_stop = uvp_read_stop,
    .try_write = uvp_try_write,
    .write = uvp_write_fn,
    .shutdown = uvp_shutdown_fn,
    .close = uvp_close,
    .set_nodelay = uvp_set_nodelay,
    .set_keepalive = uvp_set_keepalive,
    .sockname = uvp_sockname,
    .peername = uvp_peername,
    .command_line = portls__plat_proc_command_line,
    .trim_memory = portls__plat_trim_memory,
    .watch_new = uvp_watch_new,
    .watch_start = uvp_watch_start,
    .watch_close = uvp_watch_close,
#ifdef UVP_OWN_ACCEPT
    .listen_fd = uvp_listen_fd_op,
    .accept_fd = uvp_accept_fd,
#endif
    .bind_listen = uvp_bind_listen,
    .stream_open = uvp_stream_open,
    .fd_dup = uvp_fd_dup,
    .fd_close = portls__plat_fd_close,
    .thread_start = uvp_thread_start,
    .thread_join = portls__plat_thread_join,
    .async_new = uvp_async_new,
    .async_send = uvp_async_send,
    .async_close = uvp_async_close,
    .backend_fd = uvp_backend_fd,
    .backend_timeout = uvp_backend_timeout,
};
