/* net.Server and tls.Server: listen, accept, per-connection sockets,
 * maxConnections, and close once every connection is gone. */
#include <stdio.h>
#include <string.h>

#include "net/addr.h"
#include "net/socket.h"
#include "tls/context.h"

#define P (&portls__platform)

int portls__protocols_to_wire(const portls_protocols *p, const char *what, portls__bytes *out,
                              portls_error *err);
int portls__tls_arm_handshake_timer(portls_socket *s, uint64_t ms);

struct portls_server {
  portls_loop *loop;
  portls_server_events ev;
  void *user;
  int is_tls;
  portls_context *ctx;
  int request_cert, reject_unauthorized;
  uint64_t handshake_timeout_ms;
  portls__bytes alpn_wire, npn_wire;
  size_t hwm;
  portls_plat_listener *listener;
  int closing, listener_closed;
  portls_socket *conns;
  size_t nconns, max_conns;
  portls__task task_listening, task_close;
  portls__hello_hooks hooks;
  /* Every PORTLS__REST_SWEEP_MS while there are connections, quiet ones are
   * offered a rest (portls__tls_maybe_rest); NULL when the backend has no rest(). */
  portls_plat_timer *rest_timer;
  portls_socket *rest_list; /* secure connections not rested yet */
  uint64_t last_trim_ms;
  int trim_due;
};

void portls_server_options_init(portls_server_options *o) {
  if (o == NULL) return;
  memset(o, 0, sizeof *o);
  portls_context_options_init(&o->tls.context);
  o->tls.handshake_timeout_ms = 120000;
  o->client_reneg_limit = -1;
  o->client_reneg_window_s = -1;
}

/* Node's tls.CLIENT_RENEG_LIMIT and tls.CLIENT_RENEG_WINDOW. */
static unsigned reneg_limit = 3, reneg_window_s = 600;

void portls_set_client_reneg_limit(unsigned limit, unsigned window_s) {
  reneg_limit = limit;
  reneg_window_s = window_s;
}
unsigned portls_client_reneg_limit(void) { return reneg_limit; }
unsigned portls_client_reneg_window(void) { return reneg_window_s; }

static void rest_sweep(void *ud);

static void server_release(portls_server *srv) {
  if (srv->rest_timer != NULL) P->timer_free(srv->rest_timer);
  for (portls__sni_entry *e = srv->hooks.contexts, *next; e != NULL; e = next) {
    next = e->next;
    portls_context_free(e->ctx);
    portls__free(e->pattern);
    portls__free(e);
  }
  portls_context_free(srv->ctx);
  portls__bytes_free(&srv->alpn_wire);
  portls__bytes_free(&srv->npn_wire);
  srv->loop->objects--;
  portls__free(srv);
}

/* Node's default sessionIdContext for a server with requestCert: a hash of
 * the command line (so another program's sessions are not resumed here), as
 * 32 hex digits of SHA-1; a fixed text where the platform cannot tell. */
static void default_sid_context(char out[33]) {
  static const char fallback[] = "portls";
  char line[4096];
  size_t len = P->command_line != NULL ? P->command_line(line, sizeof line) : 0;
  uint8_t md[PORTLS__SHA1_LEN];
  if (portls__digest(PORTLS__SHA1, len ? line : fallback, len ? len : sizeof fallback - 1, md) <
      0) {
    snprintf(out, 33, "%s", fallback);
    return;
  }
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < 16; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[32] = '\0';
}

static int server_new(portls_loop *loop, const portls_server_options *o, int is_tls,
                      portls_server **out, portls_error *err) {
  if (loop == NULL || out == NULL)
    return portls__err(err, PORTLS_EINVAL, "createServer: NULL argument");
  *out = NULL;
  portls_server_options defaults;
  if (o == NULL) {
    portls_server_options_init(&defaults);
    o = &defaults;
  }
  portls_server *srv = portls__calloc(1, sizeof *srv);
  if (srv == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  srv->loop = loop;
  loop->objects++;
  srv->is_tls = is_tls;
  srv->hwm = o->high_water_mark;
  if (o->events != NULL) srv->ev = *o->events;
  srv->user = o->user;
  int rc = 0;
  if (is_tls) {
    srv->request_cert = o->tls.request_cert != 0;
    srv->reject_unauthorized = o->tls.request_cert && o->tls.reject_unauthorized;
    srv->handshake_timeout_ms = o->tls.handshake_timeout_ms;
    if (o->tls.secure_context != NULL) {
      srv->ctx = portls_context_ref(o->tls.secure_context);
    } else if (o->tls.request_cert && o->tls.context.session_id_context == NULL) {
      portls_context_options co = o->tls.context;
      char sid[33];
      default_sid_context(sid);
      co.session_id_context = sid;
      rc = portls_context_new(&co, &srv->ctx, err);
    } else {
      rc = portls_context_new(&o->tls.context, &srv->ctx, err);
    }
    if (rc == 0) rc = portls__context_check_role(srv->ctx, 1, err);
    if (rc == 0)
      rc = portls__protocols_to_wire(&o->tls.alpn_protocols, "ALPNProtocols", &srv->alpn_wire, err);
    if (rc == 0 && srv->alpn_wire.len > 0)
      rc = portls__need_cap(PORTLS_CAP_ALPN, "ALPNProtocols", err);
    if (rc == 0)
      rc = portls__protocols_to_wire(&o->tls.npn_protocols, "NPNProtocols", &srv->npn_wire, err);
    if (rc == 0 && srv->npn_wire.len > 0)
      rc = portls__need_cap(PORTLS_CAP_NPN, "NPNProtocols", err);
    if (rc == 0 && o->sni_callback != NULL)
      rc = portls__need_cap(PORTLS_CAP_SNI, "SNICallback", err);
    if (rc == 0 && (o->new_session != NULL || o->resume_session != NULL))
      rc = portls__need_cap(PORTLS_CAP_SESSION_CACHE, "newSession/resumeSession", err);
    if (rc == 0 && o->ocsp_request != NULL)
      rc = portls__need_cap(PORTLS_CAP_OCSP_STAPLING, "OCSPRequest", err);
    if (rc == 0 && (o->client_reneg_limit < -1 || o->client_reneg_window_s < -1))
      rc = portls__err(err, PORTLS_EINVAL, "client_reneg_limit/window: -1 (default) or a count");
    portls__hello_hooks *h = &srv->hooks;
    h->cb = o->sni_callback;
    h->user = o->sni_user;
    h->server = srv;
    h->new_session = o->new_session;
    h->resume_session = o->resume_session;
    h->session_user = o->session_user;
    h->ocsp_request = o->ocsp_request;
    h->ocsp_user = o->ocsp_user;
    h->reneg_limit = o->client_reneg_limit >= 0 ? (unsigned)o->client_reneg_limit : reneg_limit;
    h->reneg_window_ms =
        1000u * (uint64_t)(o->client_reneg_window_s >= 0 ? (unsigned)o->client_reneg_window_s
                                                         : reneg_window_s);
    if (rc == 0 && portls__backend.rest != NULL) {
      rc = P->timer_new(loop->plat, rest_sweep, srv, &srv->rest_timer);
      if (rc < 0) rc = portls__err(err, rc, "rest timer: %s", portls_strerror(rc));
    }
  }
  if (rc < 0) {
    server_release(srv);
    return rc;
  }
  *out = srv;
  return 0;
}

int portls_net_create_server(portls_loop *loop, const portls_server_options *o, portls_server **out,
                             portls_error *err) {
  return server_new(loop, o, 0, out, err);
}

int portls_tls_create_server(portls_loop *loop, const portls_server_options *o, portls_server **out,
                             portls_error *err) {
  return server_new(loop, o, 1, out, err);
}

int portls_server_set_events(portls_server *srv, const portls_server_events *ev, void *user) {
  if (srv == NULL) return PORTLS_EINVAL;
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

/* ---- rest: quiet connections give back what only active ones need ---- */

static void rest_unlist(portls_server *srv, portls_socket *s) {
  if (!s->rest_listed) return;
  if (s->rest_prev != NULL)
    s->rest_prev->rest_next = s->rest_next;
  else
    srv->rest_list = s->rest_next;
  if (s->rest_next != NULL) s->rest_next->rest_prev = s->rest_prev;
  s->rest_prev = s->rest_next = NULL;
  s->rest_listed = 0;
}

static void rest_sweep(void *ud) {
  portls_server *srv = ud;
  for (portls_socket *s = srv->rest_list, *next; s != NULL; s = next) {
    next = s->rest_next;
    int rc = portls__tls_maybe_rest(s);
    if (rc != 0) rest_unlist(srv, s);
    if (rc > 0 && P->trim_memory != NULL) srv->trim_due = 1;
  }
  /* What the sessions freed stays resident in the heap until trimmed. A
   * platform without trim_memory never has a trim due, so the timer stops
   * with the list. */
  uint64_t now = P->now(srv->loop->plat);
  if (srv->trim_due &&
      (srv->rest_list == NULL || now - srv->last_trim_ms >= PORTLS__REST_TRIM_MS)) {
    P->trim_memory();
    srv->trim_due = 0;
    srv->last_trim_ms = now;
  }
  if (srv->rest_list == NULL && !srv->trim_due) P->timer_stop(srv->rest_timer);
}

static void maybe_finish_close(portls_server *srv);

void portls__server_socket_closed(portls_server *srv, portls_socket *s) {
  if (s->srv_prev != NULL)
    s->srv_prev->srv_next = s->srv_next;
  else
    srv->conns = s->srv_next;
  if (s->srv_next != NULL) s->srv_next->srv_prev = s->srv_prev;
  srv->nconns--;
  rest_unlist(srv, s);
  s->server = NULL;
  if (srv->closing) maybe_finish_close(srv);
}

void portls__server_client_error(portls_server *srv, portls_socket *s, const portls_error *err) {
  if (srv->ev.client_error != NULL) srv->ev.client_error(srv, err, s, srv->user);
}

void portls__server_secure(portls_server *srv, portls_socket *s) {
  if (srv->rest_timer != NULL && !s->rest_listed && s->tls != NULL && !s->tls->rested) {
    if (srv->rest_list == NULL)
      P->timer_start(srv->rest_timer, PORTLS__REST_SWEEP_MS, PORTLS__REST_SWEEP_MS);
    s->rest_next = srv->rest_list;
    s->rest_prev = NULL;
    if (srv->rest_list != NULL) srv->rest_list->rest_prev = s;
    srv->rest_list = s;
    s->rest_listed = 1;
  }
  if (srv->ev.secure_connection != NULL) srv->ev.secure_connection(srv, s, srv->user);
}

static void on_stray_closed(void *ud) { (void)ud; }

static int setup_server_tls(portls_server *srv, portls_socket *s, portls_error *err) {
  portls__tls *t = portls__calloc(1, sizeof *t);
  if (t == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  s->tls = t;
  t->is_server = 1;
  t->ctx = portls_context_ref(srv->ctx);
  t->request_cert = srv->request_cert;
  t->reject_unauthorized = srv->reject_unauthorized;
  t->hooks = &srv->hooks;
  t->hs_timeout_ms = srv->handshake_timeout_ms;
  if (portls__bytes_append(&t->alpn_wire, srv->alpn_wire.data, srv->alpn_wire.len) ||
      portls__bytes_append(&t->npn_wire, srv->npn_wire.data, srv->npn_wire.len))
    return portls__err(err, PORTLS_ENOMEM, NULL);
  int rc = portls__tls_start(s, err);
  if (rc < 0) return rc;
  rc = portls__tls_arm_handshake_timer(s, srv->handshake_timeout_ms);
  if (rc < 0) return portls__err(err, rc, "handshake timer: %s", portls_strerror(rc));
  return 0;
}

static void on_connection(void *ud, int status) {
  portls_server *srv = ud;
  if (srv->closing) return;
  if (status < 0) {
    portls_error err;
    portls__err(&err, status, "accept: %s", portls_strerror(status));
    if (srv->ev.error != NULL) srv->ev.error(srv, &err, srv->user);
    return;
  }
  portls_plat_stream *stream = NULL;
  int rc = P->accept(srv->listener, &stream);
  if (rc < 0) return;
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
  if (srv->is_tls) {
    if (setup_server_tls(srv, s, &err) < 0) portls_socket_destroy(s, &err);
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
  int rc = P->listen(srv->loop->plat, a, backlog > 0 ? backlog : 511, on_connection, srv,
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
  server_release(srv);
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
  if (srv->listener != NULL) {
    P->listener_close(srv->listener, on_listener_closed, srv);
  } else {
    srv->listener_closed = 1;
    maybe_finish_close(srv);
  }
}

int portls_server_add_context(portls_server *srv, const char *hostname, portls_context *ctx,
                              portls_error *err) {
  if (srv == NULL || hostname == NULL || hostname[0] == '\0' || ctx == NULL)
    return portls__err(err, PORTLS_EINVAL, "addContext: needs a hostname and a context");
  if (!srv->is_tls) return portls__err(err, PORTLS_EINVAL, "addContext: not a TLS server");
  int rc = portls__need_cap(PORTLS_CAP_SNI, "addContext", err);
  if (rc < 0) return rc;
  if ((rc = portls__context_check_role(ctx, 1, err)) < 0) return rc;
  portls__sni_entry *e = portls__calloc(1, sizeof *e);
  if (e == NULL || (e->pattern = portls__strdup(hostname)) == NULL) {
    portls__free(e);
    return portls__err(err, PORTLS_ENOMEM, NULL);
  }
  e->ctx = portls_context_ref(ctx);
  e->next = srv->hooks.contexts; /* Node tries the most recently added first */
  srv->hooks.contexts = e;
  return 0;
}

int portls_server_get_ticket_keys(const portls_server *srv, uint8_t keys[48], portls_error *err) {
  if (srv == NULL || keys == NULL || !srv->is_tls)
    return portls__err(err, PORTLS_EINVAL, "getTicketKeys: NULL argument or not a TLS server");
  int rc = portls__need_cap(PORTLS_CAP_TICKET_KEYS, "getTicketKeys", err);
  if (rc < 0) return rc;
  memcpy(keys, srv->ctx->ticket_keys, sizeof srv->ctx->ticket_keys);
  return 0;
}

int portls_server_set_ticket_keys(portls_server *srv, const void *keys, size_t len,
                                  portls_error *err) {
  if (srv == NULL || !srv->is_tls)
    return portls__err(err, PORTLS_EINVAL, "setTicketKeys: NULL server or not a TLS server");
  return portls__context_set_ticket_keys(srv->ctx, keys, len, err);
}

size_t portls_server_connections(const portls_server *srv) { return srv ? srv->nconns : 0; }

void portls_server_set_max_connections(portls_server *srv, size_t max) {
  if (srv != NULL) srv->max_conns = max;
}
