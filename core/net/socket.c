/* net.Socket semantics over the platform: write queue, backpressure and
 * 'drain', half-close, pause/resume, idle timeout, destroy and 'close'. A
 * TLS socket is the same object with another upper layer, an engine between
 * user bytes and the transport (core/tls). */
#include <stdio.h>
#include <string.h>

#include "net/addr.h"
#include "net/socket.h"

#define P (&portls__platform)

static void on_closed(void *ud);

portls_socket *portls__socket_alloc(portls_loop *loop, size_t hwm) {
  portls_socket *s = portls__calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  s->loop = loop;
  s->hwm = hwm ? hwm : PORTLS__DEFAULT_HWM;
  s->uops = &portls__plain_upper;
  loop->objects++;
  return s;
}

static void socket_release(portls_socket *s) {
  s->uops->free(s);
  portls__bytes_free(&s->out);
  portls__bytes_free(&s->inflight);
  portls__bytes_free(&s->held);
  portls__free(s->addrs);
  portls__free(s->host);
  s->loop->objects--;
  portls__free(s);
}

void portls__socket_discard(portls_socket *s) {
  if (s != NULL) socket_release(s);
}

/* ---- events ---- */

int portls_socket_set_events(portls_socket *s, const portls_socket_events *ev, void *user) {
  if (s == NULL) return PORTLS_EINVAL;
  if (ev != NULL && ev->keylog != NULL && !portls_has_capability(PORTLS_CAP_KEYLOG))
    return PORTLS_ENOTSUP;
  if (ev != NULL)
    s->ev = *ev;
  else
    memset(&s->ev, 0, sizeof s->ev);
  s->user = user;
  s->uops->events_changed(s);
  return 0;
}

void *portls_socket_user(const portls_socket *s) { return s ? s->user : NULL; }

static void touch(portls_socket *s) {
  s->activity++;
  if (s->idle_ms > 0 && s->idle_timer != NULL) P->timer_start(s->idle_timer, s->idle_ms, 0);
}

void portls__socket_emit_data(portls_socket *s, const uint8_t *data, size_t len) {
  s->bytes_read += len;
  if (s->ev.data != NULL) s->ev.data(s, data, len, s->user);
}

/* ---- a peer that has gone ----
 *
 * A write the transport refuses with EPIPE or ECONNRESET means the peer has
 * gone, but what it sent before going may still be unread, and it can say
 * why: a TLS alert (a server that refused our certificate, a TLS 1.3 server
 * refusing a client that already saw 'secureConnect'). Node reports that
 * alert, not the write's error, and so does this: unless the peer's end of
 * stream has been read already, the error waits until reading ends (end of
 * stream, a read error), an error comes out of what was read (the alert), or
 * WRITE_ERROR_GRACE_MS pass (a paused socket reads once it is resumed).
 * Nothing more is written meanwhile. */

#define WRITE_ERROR_GRACE_MS 1000

static void fail_write(portls_socket *s, int code) {
  portls__socket_fail(s, code, "write %s: %s", portls_err_name(code), portls_strerror(code));
}

static void on_write_error_grace(void *ud) { fail_write(ud, ((portls_socket *)ud)->write_error); }

static void write_failed(portls_socket *s, int code) {
  if (s->write_error != 0) return; /* waiting already */
  if ((code == PORTLS_EPIPE || code == PORTLS_ECONNRESET) && !(s->flags & S_PEER_ENDED) &&
      P->timer_new(s->loop->plat, on_write_error_grace, s, &s->write_error_timer) == 0) {
    s->write_error = code;
    portls__bytes_free(&s->out);
    P->timer_start(s->write_error_timer, WRITE_ERROR_GRACE_MS, 0);
    return;
  }
  fail_write(s, code);
}

/* ---- reading ---- */

void portls__socket_on_bytes(portls_socket *s, int status, const uint8_t *data, size_t len) {
  if (s->flags & S_DESTROYED) return;
  if (status == 0) {
    if (len == 0) return;
    touch(s);
    s->uops->read(s, data, len);
    return;
  }
  if (s->write_error != 0) { /* the peer said nothing more: the write's error it is */
    fail_write(s, s->write_error);
    return;
  }
  if (status == PORTLS_EOF) {
    s->uops->eof(s);
    return;
  }
  portls__socket_fail(s, status, "read %s: %s", portls_err_name(status), portls_strerror(status));
}

/* ---- the platform-stream lower layer ---- */

static void stream_alloc(void *ud, size_t suggested, uint8_t **buf, size_t *len) {
  portls_socket *s = ud;
  (void)suggested;
  /* Every connection reads into one loop-wide buffer: a read is consumed
   * (or its remainder saved) before the next one starts. */
  if (s->loop->read_buf == NULL) s->loop->read_buf = portls__malloc(PORTLS__READ_BUF_SIZE);
  *buf = s->loop->read_buf;
  *len = s->loop->read_buf ? PORTLS__READ_BUF_SIZE : 0;
}

static void stream_read(void *ud, int status, size_t nread) {
  portls_socket *s = ud;
  portls__socket_on_bytes(s, status, s->loop->read_buf, nread);
}

static int sl_read_start(void *impl, portls_socket *s) {
  return P->read_start(impl, stream_alloc, stream_read, s);
}
static void sl_read_stop(void *impl) { P->read_stop(impl); }
static int sl_try_write(void *impl, const portls_plat_iov *iov, size_t n) {
  return P->try_write(impl, iov, n);
}
static int sl_write(void *impl, const portls_plat_iov *iov, size_t n, portls_plat_status_cb cb,
                    void *ud) {
  return P->write(impl, iov, n, cb, ud);
}
static int sl_shutdown(void *impl, portls_plat_status_cb cb, void *ud) {
  return P->shutdown(impl, cb, ud);
}
static void sl_close(void *impl, portls_plat_cb cb, void *ud) { P->close(impl, cb, ud); }
static int sl_nodelay(void *impl, int on) { return P->set_nodelay(impl, on); }
static int sl_keepalive(void *impl, int on, unsigned d) { return P->set_keepalive(impl, on, d); }
static int sl_sockname(void *impl, portls_plat_addr *a) { return P->sockname(impl, a); }
static int sl_peername(void *impl, portls_plat_addr *a) { return P->peername(impl, a); }

const portls__lower_ops portls__stream_lower = {
    .read_start = sl_read_start,
    .read_stop = sl_read_stop,
    .try_write = sl_try_write,
    .write = sl_write,
    .shutdown = sl_shutdown,
    .close = sl_close,
    .set_nodelay = sl_nodelay,
    .set_keepalive = sl_keepalive,
    .sockname = sl_sockname,
    .peername = sl_peername,
};

static int start_reading(portls_socket *s) {
  if (s->lower == NULL ||
      (s->flags & (S_READING | S_PAUSED | S_OUT_FULL | S_PEER_ENDED | S_DESTROYED)))
    return 0;
  int rc = s->lops->read_start(s->lower, s);
  if (rc == 0) s->flags |= S_READING;
  return rc;
}

static void stop_reading(portls_socket *s) {
  if (s->lower != NULL && (s->flags & S_READING)) s->lops->read_stop(s->lower);
  s->flags &= ~(unsigned)S_READING;
}

void portls__socket_peer_ended(portls_socket *s) {
  if (s->flags & (S_PEER_ENDED | S_DESTROYED)) return;
  s->flags |= S_PEER_ENDED;
  stop_reading(s);
  if (s->ev.end != NULL) s->ev.end(s, s->user);
  if (s->flags & S_DESTROYED) return;
  if (s->write_error != 0) { /* our side cannot end cleanly any more */
    fail_write(s, s->write_error);
    return;
  }
  /* allowHalfOpen is false, as in Node's default: end our side too. */
  if (!(s->flags & S_ENDING))
    portls_socket_end(s, NULL, 0);
  else if (s->flags & S_SHUT)
    portls_socket_destroy(s, NULL);
}

static void resume_task(void *arg) {
  portls_socket *s = arg;
  if (s->flags & (S_DESTROYED | S_PAUSED)) return;
  s->uops->resume(s);
  if (!(s->flags & (S_DESTROYED | S_PAUSED)) && (s->flags & S_CONNECTED)) start_reading(s);
}

void portls_socket_pause(portls_socket *s) {
  if (s == NULL || (s->flags & S_DESTROYED)) return;
  s->flags |= S_PAUSED;
  stop_reading(s);
}

void portls_socket_resume(portls_socket *s) {
  if (s == NULL || (s->flags & S_DESTROYED) || !(s->flags & S_PAUSED)) return;
  s->flags &= ~(unsigned)S_PAUSED;
  portls__defer(s->loop, &s->task_resume, resume_task, s);
}

/* ---- writing ---- */

/* Output has moved on: the upper layer's own bytes can be no more than what
 * is left to send, and once they are back at the high-water mark a socket
 * stopped by them goes on (resume_task: the held input first, then reading). */
static void out_progress(portls_socket *s) {
  size_t pending = s->out.len + (s->inflight.len - s->inflight_off);
  if (s->proto_out > pending) s->proto_out = pending;
  if ((s->flags & S_OUT_FULL) && s->proto_out <= s->hwm) {
    s->flags &= ~(unsigned)S_OUT_FULL;
    if (!(s->flags & S_DESTROYED)) portls__defer(s->loop, &s->task_resume, resume_task, s);
  }
}

int portls__socket_protocol_output(portls_socket *s, size_t n) {
  s->proto_out += n;
  if (s->proto_out <= s->hwm || (s->flags & S_DESTROYED)) return 0;
  portls__socket_flush(s); /* the transport may take it at once */
  if (s->flags & S_DESTROYED) return 1;
  if (s->proto_out <= s->hwm) return 0;
  s->flags |= S_OUT_FULL;
  stop_reading(s);
  return 1;
}

size_t portls_socket_buffer_size(const portls_socket *s) {
  if (s == NULL) return 0;
  return s->out.len + (s->inflight.len - s->inflight_off) + s->uops->held(s);
}

static void drain_task(void *arg) {
  portls_socket *s = arg;
  if ((s->flags & S_DESTROYED) || !(s->flags & S_NEED_DRAIN)) return;
  if (portls_socket_buffer_size(s) > 0) return;
  s->flags &= ~(unsigned)S_NEED_DRAIN;
  if (s->ev.drain != NULL) s->ev.drain(s, s->user);
}

static void on_shutdown(void *ud, int status) {
  portls_socket *s = ud;
  s->flags &= ~(unsigned)S_SHUTTING;
  if (s->flags & S_DESTROYED) return;
  if (status < 0 && status != PORTLS_ENOTCONN) {
    portls__socket_fail(s, status, "shutdown: %s", portls_strerror(status));
    return;
  }
  s->flags |= S_SHUT;
  if (s->flags & S_PEER_ENDED) portls_socket_destroy(s, NULL);
}

static void on_write_done(void *ud, int status) {
  portls_socket *s = ud;
  s->flags &= ~(unsigned)S_WRITING;
  if (status == PORTLS_ECANCELED || (s->flags & S_DESTROYED)) return;
  s->transport_written += s->inflight.len - s->inflight_off;
  portls__bytes_free(&s->inflight);
  s->inflight_off = 0;
  if (status < 0) {
    write_failed(s, status);
    return;
  }
  portls__socket_flush(s);
  if (!(s->flags & S_DESTROYED) && (s->flags & S_NEED_DRAIN) && portls_socket_buffer_size(s) == 0) {
    s->flags &= ~(unsigned)S_NEED_DRAIN;
    if (s->ev.drain != NULL) s->ev.drain(s, s->user);
  }
}

void portls__socket_flush(portls_socket *s) {
  if ((s->flags & (S_DESTROYED | S_WRITING)) || !(s->flags & S_CONNECTED)) return;
  if (s->write_error != 0) { /* the peer has gone: nothing more goes out */
    portls__bytes_free(&s->out);
    return;
  }
  if (s->out.len > 0) {
    portls_plat_iov iov = {s->out.data, s->out.len};
    int n = s->lops->try_write(s->lower, &iov, 1);
    if (n < 0 && n != PORTLS_EAGAIN) {
      write_failed(s, n);
      return;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    s->transport_written += done;
    if (done == s->out.len) {
      portls__bytes_free(&s->out);
    } else {
      /* The rest goes out asynchronously; new output collects in a fresh
       * buffer meanwhile and leaves in one write when this one completes. */
      s->inflight = s->out;
      s->inflight_off = done;
      memset(&s->out, 0, sizeof s->out);
      iov.base = s->inflight.data + done;
      iov.len = s->inflight.len - done;
      int rc = s->lops->write(s->lower, &iov, 1, on_write_done, s);
      if (rc < 0) {
        write_failed(s, rc);
        return;
      }
      s->flags |= S_WRITING;
      out_progress(s);
      return;
    }
  }
  out_progress(s);
  if ((s->flags & S_ENDING) && !(s->flags & (S_SHUT | S_SHUTTING)) && !s->uops->holds_end(s)) {
    int rc = s->lops->shutdown(s->lower, on_shutdown, s);
    if (rc < 0) {
      portls__socket_fail(s, rc, "shutdown: %s", portls_strerror(rc));
      return;
    }
    s->flags |= S_SHUTTING;
  }
  if ((s->flags & S_NEED_DRAIN) && portls_socket_buffer_size(s) == 0)
    portls__defer(s->loop, &s->task_drain, drain_task, s);
}

int portls_socket_write(portls_socket *s, const void *data, size_t len) {
  if (s == NULL || (data == NULL && len > 0)) return PORTLS_EINVAL;
  if (s->flags & S_DESTROYED) return PORTLS_ESTREAM_DESTROYED;
  if (s->flags & S_ENDING) return PORTLS_EWRITE_AFTER_END;
  if (len == 0) return portls_socket_buffer_size(s) < s->hwm;
  touch(s);
  int rc = s->uops->write(s, data, len);
  if (rc < 0) return rc;
  if (s->flags & S_DESTROYED) return PORTLS_ESTREAM_DESTROYED;
  if (portls_socket_buffer_size(s) < s->hwm) return 1;
  s->flags |= S_NEED_DRAIN;
  return 0;
}

int portls_socket_end(portls_socket *s, const void *data, size_t len) {
  if (s == NULL) return PORTLS_EINVAL;
  if (s->flags & S_DESTROYED) return PORTLS_ESTREAM_DESTROYED;
  if (s->flags & S_ENDING) return 0;
  if (data != NULL && len > 0) {
    int rc = portls_socket_write(s, data, len);
    if (rc < 0) return rc;
  }
  s->flags |= S_ENDING;
  s->uops->end(s);
  portls__socket_flush(s);
  return 0;
}

/* ---- the plain upper layer: bytes straight between application and transport ---- */

static void plain_read(portls_socket *s, const uint8_t *data, size_t len) {
  if (!(s->flags & S_PAUSED))
    portls__socket_emit_data(s, data, len);
  else if (portls__bytes_append(&s->held, data, len) != 0)
    portls__socket_fail(s, PORTLS_ENOMEM, "read: out of memory");
}

static void plain_resume(portls_socket *s) {
  if (s->held.len == 0) return;
  portls__bytes held = s->held;
  memset(&s->held, 0, sizeof s->held);
  portls__socket_emit_data(s, held.data, held.len);
  portls__bytes_free(&held);
}

static int plain_write(portls_socket *s, const void *data, size_t len) {
  s->bytes_written += len;
  size_t done = 0;
  if ((s->flags & S_CONNECTED) && !(s->flags & S_WRITING) && s->out.len == 0 &&
      s->write_error == 0) {
    /* Straight from the caller's buffer when the transport takes it now. */
    portls_plat_iov iov = {data, len};
    int n = s->lops->try_write(s->lower, &iov, 1);
    if (n > 0) done = (size_t)n;
    s->transport_written += done;
  }
  if (done < len && portls__bytes_append(&s->out, (const uint8_t *)data + done, len - done) != 0)
    return PORTLS_ENOMEM;
  portls__socket_flush(s);
  return 0;
}

static size_t plain_held(const portls_socket *s) {
  (void)s;
  return 0;
}
static int plain_holds_end(const portls_socket *s) {
  (void)s;
  return 0;
}
static int plain_connected(portls_socket *s, portls_error *err) {
  (void)s, (void)err;
  return 0;
}
static int plain_report_error(portls_socket *s) {
  (void)s;
  return 0;
}
static void plain_nothing(portls_socket *s) { (void)s; }

const portls__upper_ops portls__plain_upper = {
    .read = plain_read,
    .eof = portls__socket_peer_ended,
    .resume = plain_resume,
    .write = plain_write,
    .end = plain_nothing,
    .held = plain_held,
    .holds_end = plain_holds_end,
    .connected = plain_connected,
    .destroying = plain_nothing,
    .closing = plain_nothing,
    .report_error = plain_report_error,
    .free = plain_nothing,
    .events_changed = plain_nothing,
};

/* ---- destroy and close ---- */

static void on_closed(void *ud) {
  portls_socket *s = ud;
  s->lower = NULL;
  s->uops->closing(s);
  if ((s->flags & S_HAD_ERROR) && !s->uops->report_error(s) && s->ev.error != NULL)
    s->ev.error(s, &s->error, s->user);
  if (s->ev.close != NULL) s->ev.close(s, (s->flags & S_HAD_ERROR) != 0, s->user);
  if (s->server != NULL) portls__server_socket_closed(s->server, s);
  socket_release(s);
}

static void destroy_with(portls_socket *s, const portls_error *err) {
  if (s->flags & S_DESTROYED) return;
  s->flags |= S_DESTROYED;
  if (err != NULL) {
    s->flags |= S_HAD_ERROR;
    s->error = *err;
  }
  portls__cancel(s->loop, &s->task_resume);
  portls__cancel(s->loop, &s->task_connect_error);
  portls__cancel(s->loop, &s->task_drain);
  if (s->idle_timer != NULL) {
    P->timer_free(s->idle_timer);
    s->idle_timer = NULL;
  }
  if (s->write_error_timer != NULL) {
    P->timer_free(s->write_error_timer);
    s->write_error_timer = NULL;
  }
  s->uops->destroying(s);
  if (s->lookup != NULL) {
    P->lookup_cancel(s->lookup);
    s->lookup = NULL;
  }
  if (s->lower != NULL) {
    stop_reading(s);
    s->lops->close(s->lower, on_closed, s);
  } else {
    portls__defer(s->loop, &s->task_close, on_closed, s);
  }
}

void portls_socket_destroy(portls_socket *s, const portls_error *err) {
  if (s == NULL) return;
  destroy_with(s, err);
}

void portls__socket_fail(portls_socket *s, int code, const char *fmt, ...) {
  if (s->flags & S_DESTROYED) return;
  portls_error err;
  va_list ap;
  va_start(ap, fmt);
  portls__verr(&err, code, fmt, ap);
  va_end(ap);
  destroy_with(s, &err);
}

/* ---- connecting ---- */

static void on_failed_stream_closed(void *ud) { (void)ud; }

static void try_connect(portls_socket *s);

static void on_connect(void *ud, int status) {
  portls_socket *s = ud;
  if (s->flags & S_DESTROYED) return;
  if (status < 0) {
    if (s->addr_idx + 1 < s->naddrs) {
      s->lops->close(s->lower, on_failed_stream_closed, NULL);
      s->lower = NULL;
      s->addr_idx++;
      try_connect(s);
      return;
    }
    char where[140];
    portls__addr_describe(&s->addrs[s->addr_idx], where, sizeof where);
    portls__socket_fail(s, status, "connect %s %s", portls_err_name(status), where);
    return;
  }
  s->flags = (s->flags & ~(unsigned)S_CONNECTING) | S_CONNECTED;
  if (s->ev.connect != NULL) s->ev.connect(s, s->user);
  if (s->flags & S_DESTROYED) return;
  int rc = start_reading(s);
  if (rc < 0) {
    portls__socket_fail(s, rc, "read_start: %s", portls_strerror(rc));
    return;
  }
  portls_error err;
  if (s->uops->connected(s, &err) < 0) {
    destroy_with(s, &err);
    return;
  }
  portls__socket_flush(s);
}

/* Starts a platform connect; on a synchronous failure returns it with no stream left. */
static int stream_connect(portls_socket *s, const portls_plat_addr *a) {
  portls_plat_stream *stream = NULL;
  int rc = P->stream_connect(s->loop->plat, a, on_connect, s, &stream);
  if (rc < 0) {
    if (stream != NULL) P->close(stream, on_failed_stream_closed, NULL);
    return rc;
  }
  s->lower = stream;
  s->lops = &portls__stream_lower;
  return 0;
}

static void try_connect(portls_socket *s) {
  int rc = stream_connect(s, &s->addrs[s->addr_idx]);
  if (rc < 0) {
    char where[140];
    portls__addr_describe(&s->addrs[s->addr_idx], where, sizeof where);
    portls__socket_fail(s, rc, "connect %s %s", portls_err_name(rc), where);
  }
}

static void on_lookup(void *ud, int status, const portls_plat_addr *addrs, size_t count) {
  portls_socket *s = ud;
  s->lookup = NULL;
  if (s->flags & S_DESTROYED) return;
  if (status < 0 || count == 0) {
    int code = status < 0 ? status : PORTLS_EAI_NONAME;
    portls__socket_fail(s, code, "getaddrinfo %s %s", portls_err_name(code), s->host);
    return;
  }
  s->addrs = portls__memdup(addrs, count * sizeof *addrs);
  if (s->addrs == NULL) {
    portls__socket_fail(s, PORTLS_ENOMEM, "connect: out of memory");
    return;
  }
  s->naddrs = count;
  s->addr_idx = 0;
  try_connect(s);
}

int portls__socket_connect(portls_socket *s, const char *host, uint16_t port, const char *path,
                           portls_error *err) {
  s->flags |= S_CONNECTING;
  if (path != NULL) {
    portls_plat_addr a;
    memset(&a, 0, sizeof a);
    a.family = PORTLS_PLAT_UNIX;
    if (strlen(path) >= sizeof a.path)
      return portls__err(err, PORTLS_ENAMETOOLONG, "connect: path too long: %s", path);
    strcpy(a.path, path);
    s->addrs = portls__memdup(&a, sizeof a);
    if (s->addrs == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
    s->naddrs = 1;
    /* Connect from the loop, so that every outcome arrives as an event. */
    int rc = stream_connect(s, &s->addrs[0]);
    if (rc < 0) {
      return portls__err(err, rc, "connect %s %s", portls_err_name(rc), path);
    }
    return 0;
  }
  s->host = portls__strdup(host ? host : "localhost");
  if (s->host == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  s->port = port;
  /* An address needs no lookup (libuv would take a trip through its thread
   * pool for it): connect straight away, the outcome still comes as an event. */
  uint8_t ip[16];
  int fam = portls__ip_parse(s->host, ip);
  if (fam != 0) {
    portls_plat_addr a;
    memset(&a, 0, sizeof a);
    a.family = fam == 4 ? PORTLS_PLAT_INET : PORTLS_PLAT_INET6;
    memcpy(a.ip, ip, fam == 4 ? 4 : 16);
    a.port = port;
    if ((s->addrs = portls__memdup(&a, sizeof a)) == NULL)
      return portls__err(err, PORTLS_ENOMEM, NULL);
    s->naddrs = 1;
    int rc = stream_connect(s, &s->addrs[0]);
    if (rc < 0) {
      char where[140];
      portls__addr_describe(&a, where, sizeof where);
      return portls__err(err, rc, "connect %s %s", portls_err_name(rc), where);
    }
    return 0;
  }
  int rc = P->lookup(s->loop->plat, s->host, port, 0, on_lookup, s, &s->lookup);
  if (rc < 0) return portls__err(err, rc, "getaddrinfo %s %s", portls_err_name(rc), s->host);
  return 0;
}

int portls__socket_attach(portls_socket *s, void *lower, const portls__lower_ops *ops) {
  s->lower = lower;
  s->lops = ops;
  s->flags |= S_CONNECTED;
  return start_reading(s);
}

void portls_net_connect_options_init(portls_net_connect_options *o) {
  if (o == NULL) return;
  memset(o, 0, sizeof *o);
}

int portls_net_connect(portls_loop *loop, const portls_net_connect_options *o, portls_socket **out,
                       portls_error *err) {
  if (loop == NULL || o == NULL || out == NULL)
    return portls__err(err, PORTLS_EINVAL, "net.connect: NULL argument");
  *out = NULL;
  if (o->path == NULL && o->port == 0)
    return portls__err(err, PORTLS_EINVAL, "net.connect: a port (or a path) is required");
  portls_socket *s = portls__socket_alloc(loop, o->high_water_mark);
  if (s == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  portls_socket_set_events(s, o->events, o->user);
  int rc = portls__socket_connect(s, o->host, o->port, o->path, err);
  if (rc < 0) {
    portls__socket_discard(s);
    return rc;
  }
  *out = s;
  return 0;
}

/* ---- options and addresses ---- */

static void on_idle(void *ud) {
  portls_socket *s = ud;
  if (s->flags & S_DESTROYED) return;
  if (s->ev.timeout != NULL) s->ev.timeout(s, s->user);
}

int portls_socket_set_timeout(portls_socket *s, uint64_t ms) {
  if (s == NULL) return PORTLS_EINVAL;
  if (s->flags & S_DESTROYED) return PORTLS_ESTREAM_DESTROYED;
  s->idle_ms = ms;
  if (ms == 0) {
    if (s->idle_timer != NULL) P->timer_stop(s->idle_timer);
    return 0;
  }
  if (s->idle_timer == NULL) {
    int rc = P->timer_new(s->loop->plat, on_idle, s, &s->idle_timer);
    if (rc < 0) return rc;
  }
  P->timer_start(s->idle_timer, ms, 0);
  return 0;
}

int portls_socket_set_no_delay(portls_socket *s, int no_delay) {
  if (s == NULL) return PORTLS_EINVAL;
  if (s->lower == NULL) return PORTLS_ENOTCONN;
  if (s->lops->set_nodelay == NULL) return PORTLS_ENOTSUP;
  return s->lops->set_nodelay(s->lower, no_delay != 0);
}

int portls_socket_set_keep_alive(portls_socket *s, int enable, unsigned initial_delay_ms) {
  if (s == NULL) return PORTLS_EINVAL;
  if (s->lower == NULL) return PORTLS_ENOTCONN;
  if (s->lops->set_keepalive == NULL) return PORTLS_ENOTSUP;
  return s->lops->set_keepalive(s->lower, enable != 0, (initial_delay_ms + 999) / 1000);
}

int portls_socket_address(portls_socket *s, portls_address *out) {
  if (s == NULL || out == NULL) return PORTLS_EINVAL;
  if (s->lower == NULL || !(s->flags & S_CONNECTED) || s->lops->sockname == NULL)
    return PORTLS_ENOTCONN;
  portls_plat_addr a;
  int rc = s->lops->sockname(s->lower, &a);
  if (rc < 0) return rc;
  portls__addr_to_public(&a, out);
  return 0;
}

int portls_socket_remote_address(portls_socket *s, portls_address *out) {
  if (s == NULL || out == NULL) return PORTLS_EINVAL;
  if (s->lower == NULL || !(s->flags & S_CONNECTED) || s->lops->peername == NULL)
    return PORTLS_ENOTCONN;
  portls_plat_addr a;
  int rc = s->lops->peername(s->lower, &a);
  if (rc < 0) return rc;
  portls__addr_to_public(&a, out);
  return 0;
}

uint64_t portls_socket_bytes_read(const portls_socket *s) { return s ? s->bytes_read : 0; }
uint64_t portls_socket_bytes_written(const portls_socket *s) { return s ? s->bytes_written : 0; }
uint64_t portls_socket_transport_bytes_written(const portls_socket *s) {
  return s ? s->transport_written : 0;
}
