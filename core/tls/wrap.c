/* new tls.TLSSocket(socket, options): TLS over any lower layer — a net
 * socket (STARTTLS), or a duplex stream the application implements. */
#include <string.h>

#include "net/addr.h"
#include "tls/context.h"
#include "tls/tls.h"

void portls_tls_socket_options_init(portls_tls_socket_options *o) {
  if (o == NULL) return;
  memset(o, 0, sizeof *o);
  portls_context_options_init(&o->tls.context);
  o->tls.reject_unauthorized = -1;
  o->tls.min_dh_size = 1024;
}

int portls__tls_setup(portls_socket *s, const portls_tls_socket_options *o, const char *host,
                      portls_error *err) {
  portls__tls *t;
  int rc = portls__tls_attach(s, &t, err);
  if (rc < 0) return rc;
  t->is_server = o->is_server != 0;
  if (o->tls.secure_context != NULL) {
    t->ctx = portls_context_ref(o->tls.secure_context);
  } else if ((rc = portls_context_new(&o->tls.context, &t->ctx, err)) < 0) {
    return rc;
  }
  if ((rc = portls__context_check_role(t->ctx, t->is_server, err)) < 0) return rc;
  if ((rc = portls__protocols_to_wire(&o->tls.alpn_protocols, "ALPNProtocols", &t->alpn_wire,
                                      err)) < 0)
    return rc;
  if (t->alpn_wire.len > 0 && (rc = portls__need_cap(PORTLS_CAP_ALPN, "ALPNProtocols", err)) < 0)
    return rc;
  if ((rc = portls__protocols_to_wire(&o->tls.npn_protocols, "NPNProtocols", &t->npn_wire, err)) <
      0)
    return rc;
  if (t->npn_wire.len > 0 && (rc = portls__need_cap(PORTLS_CAP_NPN, "NPNProtocols", err)) < 0)
    return rc;
  if (o->tls.request_ocsp &&
      (rc = portls__need_cap(PORTLS_CAP_OCSP_REQUEST, "requestOCSP", err)) < 0)
    return rc;
  if (o->tls.min_dh_size < 0) return portls__err(err, PORTLS_EINVAL, "minDHSize: must be positive");
  t->min_dh_size = o->tls.min_dh_size;
  t->request_cert = t->is_server && o->tls.request_cert;
  /* Node's defaults: a client rejects, a server only with requestCert. */
  if (o->tls.reject_unauthorized < 0)
    t->reject_unauthorized = !t->is_server;
  else
    t->reject_unauthorized = o->tls.reject_unauthorized != 0 && (!t->is_server || t->request_cert);
  t->check_identity = o->tls.check_server_identity;
  t->check_identity_user = o->tls.check_server_identity_user;
  if ((rc = portls__psk_setup(&t->psk, &o->tls, t->is_server, err)) < 0) return rc;
  if (o->events != NULL && o->events->keylog != NULL &&
      (rc = portls__need_cap(PORTLS_CAP_KEYLOG, "keylog", err)) < 0)
    return rc;
  if (o->tls.enable_trace) {
    if ((rc = portls__need_cap(PORTLS_CAP_TRACE, "enableTrace", err)) < 0) return rc;
    t->trace = 1;
    t->trace_cb = o->tls.trace;
    t->trace_user = o->tls.trace_user;
  }
  if (t->is_server) {
    t->hs_timeout_ms = o->tls.handshake_timeout_ms;
    return 0;
  }
  t->request_ocsp = o->tls.request_ocsp != 0; /* capability checked above */
  if (host != NULL && (t->host = portls__strdup(host)) == NULL)
    return portls__err(err, PORTLS_ENOMEM, NULL);
  /* SNI: the servername option, else the host unless it is an IP address
   * (RFC 6066 forbids literal addresses in SNI). */
  uint8_t ip[16];
  const char *sni = o->tls.servername;
  if (sni == NULL && host != NULL && !portls__ip_parse(host, ip)) sni = host;
  if (sni != NULL && strlen(sni) > 255)
    return portls__err(err, PORTLS_EINVAL, "servername: longer than 255 bytes");
  if (sni != NULL && sni[0] != '\0') {
    if ((rc = portls__need_cap(PORTLS_CAP_SNI, "servername", err)) < 0) return rc;
    if ((t->servername = portls__strdup(sni)) == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  }
  if (o->tls.session.len > 0) {
    portls_buf b;
    if ((rc = portls__session_unwrap(o->tls.session, t->servername, &b, err)) < 0) return rc;
    void *copy = b.len > 0 ? portls__memdup(b.base, b.len) : NULL;
    if (b.len > 0 && copy == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
    t->session = (portls_buf){copy, b.len};
  }
  return 0;
}

int portls__tls_over(portls_loop *loop, void *lower, const portls__lower_ops *ops,
                     const portls_tls_socket_options *o, portls_socket **out, portls_error *err) {
  portls_socket *s = portls__socket_alloc(loop, o->high_water_mark);
  if (s == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  portls_socket_set_events(s, o->events, o->user);
  int rc = portls__tls_setup(s, o, o->tls.servername, err);
  if (rc == 0 && o->is_server) rc = portls__tls_arm_handshake_timer(s, o->tls.handshake_timeout_ms);
  if (rc < 0) {
    portls__socket_discard(s);
    return rc < 0 && err != NULL && err->code == rc ? rc : portls__err(err, rc, NULL);
  }
  s->lower = lower;
  s->lops = ops;
  s->flags |= S_CONNECTED;
  *out = s;
  return 0;
}

/* Starts reading and the handshake, from the loop. */
void portls__tls_start_task(void *arg) {
  portls_socket *s = arg;
  if (s->flags & S_DESTROYED) return;
  portls_error err;
  if (!(s->flags & S_PAUSED)) {
    if (s->lops->read_start(s->lower, s) < 0) {
      portls__socket_fail(s, PORTLS_EIO, "read_start failed");
      return;
    }
    s->flags |= S_READING;
  }
  if (portls__tls_start(s, &err) < 0) {
    portls_socket_destroy(s, &err);
    return;
  }
  portls__socket_flush(s);
}

/* ---- over a net socket ---- */

typedef struct inner {
  portls_socket *outer;
  portls_socket *sock;
  portls_plat_cb close_cb;
  void *close_ud;
  portls__task task_write_done, task_shutdown_done;
  portls_plat_status_cb write_cb, shutdown_cb;
  void *write_ud, *shutdown_ud;
} inner;

static void in_data(portls_socket *sock, const void *data, size_t len, void *user) {
  (void)sock;
  inner *in = user;
  portls__socket_on_bytes(in->outer, 0, data, len);
}
static void in_end(portls_socket *sock, void *user) {
  (void)sock;
  inner *in = user;
  portls__socket_on_bytes(in->outer, PORTLS_EOF, NULL, 0);
}
static void in_error(portls_socket *sock, const portls_error *e, void *user) {
  (void)sock;
  inner *in = user;
  portls__socket_fail(in->outer, e->code, "%s", e->message);
}
static void in_close(portls_socket *sock, int had_error, void *user) {
  (void)sock;
  (void)had_error;
  inner *in = user;
  in->sock = NULL;
  if (in->close_cb != NULL) {
    in->close_cb(in->close_ud);
    portls__free(in);
  } else if (!(in->outer->flags & S_DESTROYED)) {
    portls__socket_fail(in->outer, PORTLS_ECONNRESET, "the underlying socket closed");
  }
}

static int in_read_start(void *impl, portls_socket *s) {
  inner *in = impl;
  (void)s;
  if (in->sock == NULL) return PORTLS_ENOTCONN;
  portls_socket_resume(in->sock);
  return 0;
}
static void in_read_stop(void *impl) {
  inner *in = impl;
  if (in->sock != NULL) portls_socket_pause(in->sock);
}
static int in_try_write(void *impl, const portls_plat_iov *iov, size_t n) {
  inner *in = impl;
  size_t done = 0;
  for (size_t i = 0; i < n; i++) {
    int rc = in->sock ? portls_socket_write(in->sock, iov[i].base, iov[i].len) : PORTLS_ENOTCONN;
    if (rc < 0) return rc;
    done += iov[i].len;
  }
  return done > (size_t)INT32_MAX ? INT32_MAX : (int)done;
}
static void in_write_done(void *arg) {
  inner *in = arg;
  in->write_cb(in->write_ud, 0);
}
static int in_write(void *impl, const portls_plat_iov *iov, size_t n, portls_plat_status_cb cb,
                    void *ud) {
  inner *in = impl;
  int rc = in_try_write(impl, iov, n);
  if (rc < 0) return rc;
  in->write_cb = cb;
  in->write_ud = ud;
  portls__defer(in->outer->loop, &in->task_write_done, in_write_done, in);
  return 0;
}
static void in_shutdown_done(void *arg) {
  inner *in = arg;
  in->shutdown_cb(in->shutdown_ud, 0);
}
static int in_shutdown(void *impl, portls_plat_status_cb cb, void *ud) {
  inner *in = impl;
  int rc = in->sock ? portls_socket_end(in->sock, NULL, 0) : PORTLS_ENOTCONN;
  if (rc < 0) return rc;
  in->shutdown_cb = cb;
  in->shutdown_ud = ud;
  portls__defer(in->outer->loop, &in->task_shutdown_done, in_shutdown_done, in);
  return 0;
}
static void in_close_op(void *impl, portls_plat_cb cb, void *ud) {
  inner *in = impl;
  portls_loop *loop = in->outer->loop;
  portls__cancel(loop, &in->task_write_done);
  portls__cancel(loop, &in->task_shutdown_done);
  in->close_cb = cb;
  in->close_ud = ud;
  if (in->sock != NULL)
    portls_socket_destroy(in->sock, NULL);
  else {
    cb(ud);
    portls__free(in);
  }
}
static int in_nodelay(void *impl, int on) {
  inner *in = impl;
  return in->sock ? portls_socket_set_no_delay(in->sock, on) : PORTLS_ENOTCONN;
}
static int in_keepalive(void *impl, int on, unsigned d) {
  inner *in = impl;
  return in->sock ? portls_socket_set_keep_alive(in->sock, on, d * 1000) : PORTLS_ENOTCONN;
}
static int in_addr(inner *in, portls_plat_addr *a, int remote) {
  portls_socket *s = in->sock;
  if (s == NULL || s->lower == NULL) return PORTLS_ENOTCONN;
  int (*get)(void *, portls_plat_addr *) = remote ? s->lops->peername : s->lops->sockname;
  return get ? get(s->lower, a) : PORTLS_ENOTCONN;
}
static int in_sockname(void *impl, portls_plat_addr *a) { return in_addr(impl, a, 0); }
static int in_peername(void *impl, portls_plat_addr *a) { return in_addr(impl, a, 1); }

static const portls__lower_ops inner_lower = {
    .read_start = in_read_start,
    .read_stop = in_read_stop,
    .try_write = in_try_write,
    .write = in_write,
    .shutdown = in_shutdown,
    .close = in_close_op,
    .set_nodelay = in_nodelay,
    .set_keepalive = in_keepalive,
    .sockname = in_sockname,
    .peername = in_peername,
};

int portls_tls_socket_wrap(portls_socket *net, const portls_tls_socket_options *o,
                           portls_socket **out, portls_error *err) {
  if (net == NULL || o == NULL || out == NULL)
    return portls__err(err, PORTLS_EINVAL, "new TLSSocket: NULL argument");
  *out = NULL;
  if (portls__tls_of(net) != NULL || !(net->flags & S_CONNECTED) ||
      (net->flags & (S_DESTROYED | S_ENDING)))
    return portls__err(err, PORTLS_EINVAL, "new TLSSocket: needs a connected, open, plain socket");
  inner *in = portls__calloc(1, sizeof *in);
  if (in == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  portls_socket *s;
  int rc = portls__tls_over(net->loop, in, &inner_lower, o, &s, err);
  if (rc < 0) {
    portls__free(in);
    return rc;
  }
  in->outer = s;
  in->sock = net;
  portls_socket_events ev = {.data = in_data, .end = in_end, .error = in_error, .close = in_close};
  portls_socket_set_events(net, &ev, in);
  portls_socket_pause(net); /* until the TLS socket starts reading, from the loop */
  portls__defer(s->loop, &s->task_resume, portls__tls_start_task, s);
  *out = s;
  return 0;
}

/* ---- over an application-defined duplex ---- */

typedef struct duplex {
  portls_socket *s;
  portls_duplex_ops ops;
  void *impl;
  portls__bytes in; /* pushed, not yet delivered */
  int eof, reading;
  portls__task task_deliver, task_close, task_shutdown;
  portls_plat_cb close_cb;
  void *close_ud;
  portls_plat_status_cb shutdown_cb;
  void *shutdown_ud;
} duplex;

static void dx_deliver(void *arg) {
  duplex *d = arg;
  if (!d->reading || d->s == NULL) return;
  if (d->in.len > 0) {
    portls__bytes b = d->in;
    memset(&d->in, 0, sizeof d->in);
    portls__socket_on_bytes(d->s, 0, b.data, b.len);
    portls__bytes_free(&b);
  }
  if (d->eof && d->reading && d->s != NULL && !(d->s->flags & S_DESTROYED)) {
    d->eof = 0;
    portls__socket_on_bytes(d->s, PORTLS_EOF, NULL, 0);
  }
}
static int dx_read_start(void *impl, portls_socket *s) {
  duplex *d = impl;
  (void)s;
  d->reading = 1;
  if (d->in.len > 0 || d->eof) portls__defer(d->s->loop, &d->task_deliver, dx_deliver, d);
  return 0;
}
static void dx_read_stop(void *impl) { ((duplex *)impl)->reading = 0; }
static int dx_try_write(void *impl, const portls_plat_iov *iov, size_t n) {
  duplex *d = impl;
  size_t done = 0;
  for (size_t i = 0; i < n; i++) {
    int rc = d->ops.write(d->impl, iov[i].base, iov[i].len);
    if (rc < 0) return rc;
    done += iov[i].len;
  }
  return done > (size_t)INT32_MAX ? INT32_MAX : (int)done;
}
static int dx_write(void *impl, const portls_plat_iov *iov, size_t n, portls_plat_status_cb cb,
                    void *ud) {
  /* try_write always takes everything, so the socket never queues here. */
  (void)impl, (void)iov, (void)n, (void)cb, (void)ud;
  return PORTLS_EINVAL;
}
static void dx_shutdown_done(void *arg) {
  duplex *d = arg;
  d->shutdown_cb(d->shutdown_ud, 0);
}
static int dx_shutdown(void *impl, portls_plat_status_cb cb, void *ud) {
  duplex *d = impl;
  if (d->ops.end != NULL) d->ops.end(d->impl);
  d->shutdown_cb = cb;
  d->shutdown_ud = ud;
  portls__defer(d->s->loop, &d->task_shutdown, dx_shutdown_done, d);
  return 0;
}
static void dx_closed(void *arg) {
  duplex *d = arg;
  portls_plat_cb cb = d->close_cb;
  void *ud = d->close_ud;
  if (d->ops.destroy != NULL) d->ops.destroy(d->impl);
  portls__bytes_free(&d->in);
  portls__free(d);
  cb(ud);
}
static void dx_close(void *impl, portls_plat_cb cb, void *ud) {
  duplex *d = impl;
  portls__cancel(d->s->loop, &d->task_deliver);
  portls__cancel(d->s->loop, &d->task_shutdown);
  d->close_cb = cb;
  d->close_ud = ud;
  portls_loop *loop = d->s->loop;
  d->s = NULL;
  portls__defer(loop, &d->task_close, dx_closed, d);
}

static const portls__lower_ops duplex_lower = {
    .read_start = dx_read_start,
    .read_stop = dx_read_stop,
    .try_write = dx_try_write,
    .write = dx_write,
    .shutdown = dx_shutdown,
    .close = dx_close,
};

int portls_tls_socket_from_duplex(portls_loop *loop, const portls_duplex_ops *ops, void *impl,
                                  const portls_tls_socket_options *o, portls_socket **out,
                                  portls_error *err) {
  if (loop == NULL || ops == NULL || ops->write == NULL || o == NULL || out == NULL)
    return portls__err(err, PORTLS_EINVAL, "new TLSSocket(duplex): NULL argument or no write op");
  *out = NULL;
  duplex *d = portls__calloc(1, sizeof *d);
  if (d == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  d->ops = *ops;
  d->impl = impl;
  portls_socket *s;
  int rc = portls__tls_over(loop, d, &duplex_lower, o, &s, err);
  if (rc < 0) {
    portls__free(d);
    return rc;
  }
  d->s = s;
  portls__defer(loop, &s->task_resume, portls__tls_start_task, s);
  *out = s;
  return 0;
}

int portls_socket_push(portls_socket *s, const void *data, size_t len) {
  if (s == NULL || s->lops != &duplex_lower || (data == NULL && len > 0)) return PORTLS_EINVAL;
  if (s->flags & S_DESTROYED) return PORTLS_ESTREAM_DESTROYED;
  duplex *d = s->lower;
  if (d->eof) return PORTLS_EWRITE_AFTER_END;
  if (len == 0)
    d->eof = 1;
  else if (portls__bytes_append(&d->in, data, len) != 0)
    return PORTLS_ENOMEM;
  if (d->reading) portls__defer(s->loop, &d->task_deliver, dx_deliver, d);
  return 0;
}
