/* net.Server: listen, accept, per-connection sockets, maxConnections, and
 * close once every connection is gone. A tls.Server is one with an upper
 * layer that takes each accepted socket (tls_server.c, in core/tls). */
#include <stdio.h>
#include <string.h>

#include "net/addr.h"
#include "net/socket.h"

#define P (&portls__platform)

struct portls_server {
  portls_loop *loop;
  portls_server_events ev;
  void *user;
  const portls__server_upper *uops; /* NULL for a net.Server */
  void *upper;
  size_t hwm;
  portls_plat_listener *listener;
  int closing, listener_closed;
  /* Accepting failed (EMFILE at the descriptor limit, ...): the code, until an
   * accept succeeds again; the platform waits for the back-off timer to end
   * before it accepts again. */
  int accept_err;
  portls_plat_timer *backoff;
  portls_socket *conns;
  size_t nconns, max_conns;
  portls__task task_listening, task_close;
};

static void stop_backoff(portls_server *srv) {
  if (srv->backoff != NULL) {
    P->timer_free(srv->backoff);
    srv->backoff = NULL;
  }
}

void portls__server_discard(portls_server *srv) {
  stop_backoff(srv);
  if (srv->uops != NULL) srv->uops->free(srv->upper);
  srv->loop->objects--;
  portls__free(srv);
}

int portls__server_new(portls_loop *loop, const portls_server_options *o, portls_server **out,
                       portls_error *err) {
  if (loop == NULL || out == NULL)
    return portls__err(err, PORTLS_EINVAL, "createServer: NULL argument");
  *out = NULL;
  portls_server *srv = portls__calloc(1, sizeof *srv);
  if (srv == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  srv->loop = loop;
  loop->objects++;
  if (o != NULL) {
    srv->hwm = o->high_water_mark;
    if (o->events != NULL) srv->ev = *o->events;
    srv->user = o->user;
  }
  *out = srv;
  return 0;
}

int portls_net_create_server(portls_loop *loop, const portls_server_options *o, portls_server **out,
                             portls_error *err) {
  return portls__server_new(loop, o, out, err);
}

void portls__server_set_upper(portls_server *srv, const portls__server_upper *ops, void *data) {
  srv->uops = ops;
  srv->upper = data;
}

void *portls__server_upper_data(const portls_server *srv, const portls__server_upper *ops) {
  return srv != NULL && srv->uops == ops ? srv->upper : NULL;
}

const portls_server_events *portls__server_events(const portls_server *srv, void **user) {
  *user = srv->user;
  return &srv->ev;
}

int portls_server_set_events(portls_server *srv, const portls_server_events *ev, void *user) {
  if (srv == NULL) return PORTLS_EINVAL;
  if (ev != NULL && ev->keylog != NULL && !portls_has_capability(PORTLS_CAP_KEYLOG))
    return PORTLS_ENOTSUP;
  if (ev != NULL)
    srv->ev = *ev;
  else
    memset(&srv->ev, 0, sizeof srv->ev);
  srv->user = user;
  return 0;
}

void *portls_server_user(const portls_server *srv) { return srv ? srv->user : NULL; }

/* ---- connections ---- */

static void link_conn(portls_server *srv, portls_socket *s) {
  s->server = srv;
  s->srv_next = srv->conns;
  if (srv->conns != NULL) srv->conns->srv_prev = s;
  srv->conns = s;
  srv->nconns++;
}

static void maybe_finish_close(portls_server *srv);

void portls__server_socket_closed(portls_server *srv, portls_socket *s) {
  if (s->srv_prev != NULL)
    s->srv_prev->srv_next = s->srv_next;
  else
    srv->conns = s->srv_next;
  if (s->srv_next != NULL) s->srv_next->srv_prev = s->srv_prev;
  srv->nconns--;
  s->server = NULL;
  if (srv->closing) maybe_finish_close(srv);
}

static void on_stray_closed(void *ud) { (void)ud; }

static void take_connection(portls_server *srv);

static void backoff_done(void *ud) {
  portls_server *srv = ud;
  if (!srv->closing) take_connection(srv); /* accept() lets the platform accept again */
}

/* Accepting failed. The server keeps listening and keeps its connections:
 * 'error' says so once per stretch of failures (not once per dropped
 * connection), and the platform, paused since it reported the failure,
 * accepts again after a back-off rather than spinning on a listener that
 * stays readable. At the descriptor limit the platform has already closed
 * what was pending (libuv's reserve-descriptor trick), so those clients are
 * told at once rather than left waiting. */
static void accept_failed(portls_server *srv, int status) {
  int first = srv->accept_err != status;
  srv->accept_err = status;
  P->timer_start(srv->backoff, PORTLS__ACCEPT_BACKOFF_MS, 0);
  if (!first || srv->ev.error == NULL) return;
  portls_error err;
  if (status == PORTLS_EMFILE)
    portls__err(&err, status,
                "accept EMFILE: too many open files; the server keeps listening and its "
                "connections, and closes new ones until descriptors are freed");
  else
    portls__err(&err, status, "accept %s: %s", portls_err_name(status), portls_strerror(status));
  srv->ev.error(srv, &err, srv->user);
}

static void on_connection(void *ud, int status) {
  portls_server *srv = ud;
  if (srv->closing) return;
  if (status < 0) {
    accept_failed(srv, status);
    return;
  }
  take_connection(srv);
}

static void take_connection(portls_server *srv) {
  portls_plat_stream *stream = NULL;
  int rc = P->accept(srv->listener, &stream);
  if (rc < 0) return;
  srv->accept_err = 0;
  if (srv->max_conns > 0 && srv->nconns >= srv->max_conns) {
    /* Node drops connections over maxConnections without an event. */
    P->close(stream, on_stray_closed, NULL);
    return;
  }
  portls_socket *s = portls__socket_alloc(srv->loop, srv->hwm);
  if (s == NULL) {
    P->close(stream, on_stray_closed, NULL);
    return;
  }
  link_conn(srv, s);
  rc = portls__socket_attach(s, stream, &portls__stream_lower);
  portls_error err;
  if (rc < 0) {
    portls__err(&err, rc, "read_start: %s", portls_strerror(rc));
    portls_socket_destroy(s, &err);
    return;
  }
  if (srv->uops != NULL) {
    if (srv->uops->accepted(srv->upper, s, &err) < 0) portls_socket_destroy(s, &err);
    return;
  }
  if (srv->ev.connection != NULL) srv->ev.connection(srv, s, srv->user);
}

/* ---- listen / address / close ---- */

static void emit_listening(void *arg) {
  portls_server *srv = arg;
  if (!srv->closing && srv->ev.listening != NULL) srv->ev.listening(srv, srv->user);
}

static int do_listen(portls_server *srv, const portls_plat_addr *a, int backlog,
                     portls_error *err) {
  if (srv->closing)
    return portls__err(err, PORTLS_ESERVER_NOT_RUNNING, "listen: server is closing");
  if (srv->listener != NULL)
    return portls__err(err, PORTLS_ESERVER_LISTENING, "listen: already listening");
  int rc =
      srv->backoff != NULL ? 0 : P->timer_new(srv->loop->plat, backoff_done, srv, &srv->backoff);
  if (rc < 0) {
    srv->backoff = NULL;
    return portls__err(err, rc, "listen: %s", portls_strerror(rc));
  }
  rc = P->listen(srv->loop->plat, a, backlog > 0 ? backlog : 511, on_connection, srv,
                 &srv->listener);
  if (rc < 0) {
    char where[140];
    portls__addr_describe(a, where, sizeof where);
    srv->listener = NULL;
    return portls__err(err, rc, "listen %s: address %s", portls_err_name(rc), where);
  }
  portls__defer(srv->loop, &srv->task_listening, emit_listening, srv);
  return 0;
}

int portls_server_listen(portls_server *srv, const char *host, uint16_t port, int backlog,
                         portls_error *err) {
  if (srv == NULL) return portls__err(err, PORTLS_EINVAL, "listen: NULL server");
  portls_plat_addr a;
  memset(&a, 0, sizeof a);
  a.port = port;
  if (host == NULL) {
    a.family = PORTLS_PLAT_INET6; /* "::": dual-stack where IPv6 exists */
    int rc = do_listen(srv, &a, backlog, NULL);
    if (rc == 0) return 0;
    a.family = PORTLS_PLAT_INET;
    return do_listen(srv, &a, backlog, err);
  }
  int fam = portls__ip_parse(host, a.ip);
  if (fam == 0) {
    if (strcmp(host, "localhost") != 0)
      return portls__err(err, PORTLS_EINVAL, "listen: host must be an IP address or localhost: %s",
                         host);
    fam = 4;
    a.ip[0] = 127, a.ip[3] = 1;
  }
  a.family = fam == 4 ? PORTLS_PLAT_INET : PORTLS_PLAT_INET6;
  return do_listen(srv, &a, backlog, err);
}

int portls_server_listen_path(portls_server *srv, const char *path, int backlog,
                              portls_error *err) {
  if (srv == NULL || path == NULL) return portls__err(err, PORTLS_EINVAL, "listen: NULL argument");
  portls_plat_addr a;
  memset(&a, 0, sizeof a);
  a.family = PORTLS_PLAT_UNIX;
  if (strlen(path) >= sizeof a.path)
    return portls__err(err, PORTLS_ENAMETOOLONG, "listen: path too long: %s", path);
  strcpy(a.path, path);
  return do_listen(srv, &a, backlog, err);
}

int portls_server_address(const portls_server *srv, portls_address *out) {
  if (srv == NULL || out == NULL) return PORTLS_EINVAL;
  if (srv->listener == NULL || srv->closing) return PORTLS_ESERVER_NOT_RUNNING;
  portls_plat_addr a;
  int rc = P->listener_address(srv->listener, &a);
  if (rc < 0) return rc;
  portls__addr_to_public(&a, out);
  return 0;
}

static void finish_close(void *arg) {
  portls_server *srv = arg;
  if (srv->ev.close != NULL) srv->ev.close(srv, srv->user);
  portls__server_discard(srv);
}

static void maybe_finish_close(portls_server *srv) {
  if (srv->closing && srv->listener_closed && srv->nconns == 0)
    portls__defer(srv->loop, &srv->task_close, finish_close, srv);
}

static void on_listener_closed(void *ud) {
  portls_server *srv = ud;
  srv->listener = NULL;
  srv->listener_closed = 1;
  maybe_finish_close(srv);
}

void portls_server_close(portls_server *srv) {
  if (srv == NULL || srv->closing) return;
  srv->closing = 1;
  portls__cancel(srv->loop, &srv->task_listening);
  stop_backoff(srv);
  if (srv->listener != NULL) {
    P->listener_close(srv->listener, on_listener_closed, srv);
  } else {
    srv->listener_closed = 1;
    maybe_finish_close(srv);
  }
}

size_t portls_server_connections(const portls_server *srv) { return srv ? srv->nconns : 0; }

void portls_server_set_max_connections(portls_server *srv, size_t max) {
  if (srv != NULL) srv->max_conns = max;
}
