/* tls.Server's TLS half: a net server whose accepted sockets each get a TLS
 * layer, with the server's context, ALPN/NPN lists, ClientHello hooks and
 * handshake deadline; and the rest sweep, which offers quiet connections to
 * the backend's optional rest(). */
#include <stdio.h>
#include <string.h>

#include "tls/context.h"
#include "tls/tls.h"

#define P (&portls__platform)

/* How often a server sweeps: a connection rests after one to two periods of
 * quiet. Short, so that in a burst of connections the memory the first ones
 * give back serves the handshakes of the next; a connection moving data is
 * never quiet that long. */
#define REST_SWEEP_MS 100
/* The sweep returns freed heap memory to the system at most this often. */
#define REST_TRIM_MS 1000

typedef struct portls__tls_server {
  portls_server *srv;
  portls_loop *loop;
  portls_context *ctx;
  int request_cert, reject_unauthorized;
  uint64_t handshake_timeout_ms;
  int trace; /* enableTrace for every connection */
  portls_trace_cb trace_cb;
  void *trace_user;
  portls__bytes alpn_wire, npn_wire;
  portls__hello_hooks hooks;
  portls__psk psk; /* pskCallback, pskIdentityHint */
  /* Every REST_SWEEP_MS while there are connections, quiet ones are offered
   * a rest (maybe_rest); NULL when the backend has no rest(). */
  portls_plat_timer *rest_timer;
  portls_socket *rest_list; /* secure connections not rested yet */
  uint64_t last_trim_ms;
  int trim_due;
  unsigned rest_min; /* rest_min_connections */
} tls_server;

void portls_server_options_init(portls_server_options *o) {
  if (o == NULL) return;
  memset(o, 0, sizeof *o);
  portls_context_options_init(&o->tls.context);
  o->tls.handshake_timeout_ms = 120000;
  o->client_reneg_limit = -1;
  o->client_reneg_window_s = -1;
  o->rest_min_connections = PORTLS_REST_MIN_CONNECTIONS;
}

/* Node's tls.CLIENT_RENEG_LIMIT and tls.CLIENT_RENEG_WINDOW. */
/* Process-wide, and read by every loop's connections: atomic, so that a
 * change made on one thread while others run is seen whole. */
static portls__refcount reneg_limit = 3, reneg_window_s = 600;

void portls_set_client_reneg_limit(unsigned limit, unsigned window_s) {
  portls__ref_set(&reneg_limit, limit);
  portls__ref_set(&reneg_window_s, window_s);
}
unsigned portls_client_reneg_limit(void) { return (unsigned)portls__ref_get(&reneg_limit); }
unsigned portls_client_reneg_window(void) { return (unsigned)portls__ref_get(&reneg_window_s); }

/* ---- rest: quiet connections give back what only active ones need ---- */

int portls__tls_server_may_rest(const struct portls__tls_server *ts) {
  return ts != NULL && ts->rest_timer != NULL && ts->rest_min > 0 &&
         portls_server_connections(ts->srv) >= ts->rest_min;
}

static void rest_unlist(tls_server *ts, portls__tls *t) {
  if (!t->rest_listed) return;
  if (t->rest_prev != NULL)
    portls__tls_of(t->rest_prev)->rest_next = t->rest_next;
  else
    ts->rest_list = t->rest_next;
  if (t->rest_next != NULL) portls__tls_of(t->rest_next)->rest_prev = t->rest_prev;
  t->rest_prev = t->rest_next = NULL;
  t->rest_listed = 0;
}

/* Resting lets the backend give back what only an active connection needs
 * (on OpenSSL, the library's whole session: backends/common/ossl_lean.c).
 * Only a connection quiet for a whole sweep period rests: one that is moving
 * data keeps the library's own record layer, and nothing changes for it.
 * 1: it rested now; -1: it never will (the server stops asking); 0: not now. */
static int maybe_rest(portls_socket *s) {
  portls__tls *t = portls__tls_of(s);
  if (portls__backend.rest == NULL || t == NULL || t->rested || !t->is_server) return -1;
  if (!t->secure) return 0;
  if (s->activity != t->rest_mark) {
    t->rest_mark = s->activity;
    return 0;
  }
  if (s->flags & (S_DESTROYED | S_ENDING | S_SHUT | S_PEER_ENDED)) return -1; /* on its way out */
  if ((s->flags & (S_PAUSED | S_WRITING)) || s->out.len > 0 || t->pending_clear.len > 0 ||
      portls__engine_pending_input(&t->eng) > 0 || t->req != NULL || t->reneg_cb != NULL ||
      t->new_session_pending)
    return 0;
  int rc = portls__backend.rest(t->eng.sess);
  t->rested = rc == 1;
  return rc;
}

static void rest_sweep(void *ud) {
  tls_server *ts = ud;
  for (portls_socket *s = ts->rest_list, *next; s != NULL; s = next) {
    portls__tls *t = portls__tls_of(s);
    next = t->rest_next;
    int rc = maybe_rest(s);
    if (rc != 0) rest_unlist(ts, t);
    if (rc > 0 && P->trim_memory != NULL) ts->trim_due = 1;
  }
  /* What the sessions freed stays resident in the heap until trimmed. A
   * platform without trim_memory never has a trim due, so the timer stops
   * with the list. */
  uint64_t now = P->now(ts->loop->plat);
  if (ts->trim_due && (ts->rest_list == NULL || now - ts->last_trim_ms >= REST_TRIM_MS)) {
    P->trim_memory();
    ts->trim_due = 0;
    ts->last_trim_ms = now;
  }
  if (ts->rest_list == NULL && !ts->trim_due) P->timer_stop(ts->rest_timer);
}

void portls__tls_server_forget(portls_socket *s) {
  portls__tls *t = portls__tls_of(s);
  if (t != NULL && t->server != NULL) rest_unlist(t->server, t);
}

void portls__tls_server_secure(portls_socket *s) {
  portls__tls *t = portls__tls_of(s);
  tls_server *ts = t->server;
  if (ts->rest_timer != NULL && t->may_rest && !t->rest_listed && !t->rested) {
    if (ts->rest_list == NULL) P->timer_start(ts->rest_timer, REST_SWEEP_MS, REST_SWEEP_MS);
    t->rest_next = ts->rest_list;
    t->rest_prev = NULL;
    if (ts->rest_list != NULL) portls__tls_of(ts->rest_list)->rest_prev = s;
    ts->rest_list = s;
    t->rest_listed = 1;
  }
  void *user;
  const portls_server_events *ev = portls__server_events(s->server, &user);
  if (ev->secure_connection != NULL) ev->secure_connection(s->server, s, user);
}

int portls__tls_server_client_error(portls_socket *s) {
  portls__tls *t = portls__tls_of(s);
  if (s->server == NULL || t->secure) return 0;
  void *user;
  const portls_server_events *ev = portls__server_events(s->server, &user);
  if (ev->client_error != NULL) ev->client_error(s->server, &s->error, s, user);
  return 1;
}

/* ---- the server's upper layer ---- */

static int accepted(void *data, portls_socket *s, portls_error *err) {
  tls_server *ts = data;
  portls__tls *t;
  int rc = portls__tls_attach(s, &t, err);
  if (rc < 0) return rc;
  t->is_server = 1;
  t->server = ts;
  t->ctx = portls_context_ref(ts->ctx);
  t->request_cert = ts->request_cert;
  t->reject_unauthorized = ts->reject_unauthorized;
  t->hooks = &ts->hooks;
  t->hs_timeout_ms = ts->handshake_timeout_ms;
  t->trace = ts->trace;
  t->trace_cb = ts->trace_cb;
  t->trace_user = ts->trace_user;
  if (portls__bytes_append(&t->alpn_wire, ts->alpn_wire.data, ts->alpn_wire.len) ||
      portls__bytes_append(&t->npn_wire, ts->npn_wire.data, ts->npn_wire.len) ||
      portls__psk_copy(&t->psk, &ts->psk) < 0)
    return portls__err(err, PORTLS_ENOMEM, NULL);
  rc = portls__tls_start(s, err);
  if (rc < 0) return rc;
  rc = portls__tls_arm_handshake_timer(s, ts->handshake_timeout_ms);
  if (rc < 0) return portls__err(err, rc, "handshake timer: %s", portls_strerror(rc));
  return 0;
}

static void server_free(void *data) {
  tls_server *ts = data;
  if (ts->rest_timer != NULL) P->timer_free(ts->rest_timer);
  for (portls__sni_entry *e = ts->hooks.contexts, *next; e != NULL; e = next) {
    next = e->next;
    portls_context_free(e->ctx);
    portls__free(e->pattern);
    portls__free(e);
  }
  portls_context_free(ts->ctx);
  portls__psk_free(&ts->psk);
  portls__bytes_free(&ts->alpn_wire);
  portls__bytes_free(&ts->npn_wire);
  portls__free(ts);
}

static const portls__server_upper tls_server_upper = {.accepted = accepted, .free = server_free};

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

static int configure(tls_server *ts, const portls_server_options *o, portls_error *err) {
  int rc = 0;
  ts->request_cert = o->tls.request_cert != 0;
  ts->reject_unauthorized = o->tls.request_cert && o->tls.reject_unauthorized;
  ts->handshake_timeout_ms = o->tls.handshake_timeout_ms;
  if (o->tls.secure_context != NULL) {
    ts->ctx = portls_context_ref(o->tls.secure_context);
  } else if (o->tls.request_cert && o->tls.context.session_id_context == NULL) {
    portls_context_options co = o->tls.context;
    char sid[33];
    default_sid_context(sid);
    co.session_id_context = sid;
    rc = portls_context_new(&co, &ts->ctx, err);
  } else {
    rc = portls_context_new(&o->tls.context, &ts->ctx, err);
  }
  if (rc == 0) rc = portls__context_check_role(ts->ctx, 1, err);
  if (rc == 0)
    rc = portls__protocols_to_wire(&o->tls.alpn_protocols, "ALPNProtocols", &ts->alpn_wire, err);
  if (rc == 0 && ts->alpn_wire.len > 0)
    rc = portls__need_cap(PORTLS_CAP_ALPN, "ALPNProtocols", err);
  if (rc == 0)
    rc = portls__protocols_to_wire(&o->tls.npn_protocols, "NPNProtocols", &ts->npn_wire, err);
  if (rc == 0 && ts->npn_wire.len > 0) rc = portls__need_cap(PORTLS_CAP_NPN, "NPNProtocols", err);
  if (rc == 0 && o->alpn_callback != NULL && ts->alpn_wire.len > 0)
    rc = portls__err(err, PORTLS_EALPN_CALLBACK_WITH_PROTOCOLS,
                     "ALPNCallback: cannot be used with ALPNProtocols");
  if (rc == 0 && o->alpn_callback != NULL)
    rc = portls__need_cap(PORTLS_CAP_ALPN, "ALPNCallback", err);
  if (rc == 0 && o->sni_callback != NULL) rc = portls__need_cap(PORTLS_CAP_SNI, "SNICallback", err);
  if (rc == 0 && (o->new_session != NULL || o->resume_session != NULL))
    rc = portls__need_cap(PORTLS_CAP_SESSION_CACHE, "newSession/resumeSession", err);
  if (rc == 0 && o->ocsp_request != NULL)
    rc = portls__need_cap(PORTLS_CAP_OCSP_STAPLING, "OCSPRequest", err);
  if (rc == 0) rc = portls__psk_setup(&ts->psk, &o->tls, 1, err);
  if (rc == 0 && o->tls.enable_trace) rc = portls__need_cap(PORTLS_CAP_TRACE, "enableTrace", err);
  if (rc == 0 && o->events != NULL && o->events->keylog != NULL)
    rc = portls__need_cap(PORTLS_CAP_KEYLOG, "keylog", err);
  ts->trace = o->tls.enable_trace != 0;
  ts->trace_cb = o->tls.trace;
  ts->trace_user = o->tls.trace_user;
  if (rc == 0 && (o->client_reneg_limit < -1 || o->client_reneg_window_s < -1))
    rc = portls__err(err, PORTLS_EINVAL, "client_reneg_limit/window: -1 (default) or a count");
  portls__hello_hooks *h = &ts->hooks;
  h->cb = o->sni_callback;
  h->user = o->sni_user;
  h->server = ts->srv;
  h->new_session = o->new_session;
  h->resume_session = o->resume_session;
  h->session_user = o->session_user;
  h->ocsp_request = o->ocsp_request;
  h->ocsp_user = o->ocsp_user;
  h->alpn_cb = o->alpn_callback;
  h->alpn_user = o->alpn_user;
  h->reneg_limit =
      o->client_reneg_limit >= 0 ? (unsigned)o->client_reneg_limit : portls_client_reneg_limit();
  h->reneg_window_ms =
      1000u * (uint64_t)(o->client_reneg_window_s >= 0 ? (unsigned)o->client_reneg_window_s
                                                       : portls_client_reneg_window());
  ts->rest_min = o->rest_min_connections;
  if (rc == 0 && portls__backend.rest != NULL) {
    rc = P->timer_new(ts->loop->plat, rest_sweep, ts, &ts->rest_timer);
    if (rc < 0) rc = portls__err(err, rc, "rest timer: %s", portls_strerror(rc));
  }
  return rc;
}

typedef struct worker_args {
  const portls_server_options *o;
  portls_context *ctx;
} worker_args;

static int make_tls_worker(portls_loop *loop, void *arg, portls_server **out, portls_error *err) {
  const worker_args *wa = arg;
  portls_server_options o = *wa->o;
  o.workers = 0;
  o.tls.secure_context = wa->ctx;
  return portls_tls_create_server(loop, &o, out, err);
}

int portls_tls_create_server(portls_loop *loop, const portls_server_options *o, portls_server **out,
                             portls_error *err) {
  portls_server_options defaults;
  if (o == NULL) {
    portls_server_options_init(&defaults);
    o = &defaults;
  }
  int rc = portls__server_new(loop, o, out, err);
  if (rc < 0) return rc;
  portls_server *srv = *out;
  *out = NULL;
  tls_server *ts = portls__calloc(1, sizeof *ts);
  if (ts == NULL) {
    portls__server_discard(srv);
    return portls__err(err, PORTLS_ENOMEM, NULL);
  }
  ts->srv = srv;
  ts->loop = loop;
  portls__server_set_upper(srv, &tls_server_upper, ts);
  if ((rc = configure(ts, o, err)) < 0) {
    portls__server_discard(srv);
    return rc;
  }
  if (o->workers > 1) {
    /* Every worker serves with this server's context: one set of ticket
     * keys, one session cache, whichever thread a client lands on. */
    worker_args wa = {o, ts->ctx};
    rc = portls__server_workers(srv, o->workers, o->workers_mode, make_tls_worker, &wa, err);
    if (rc < 0) {
      portls__server_discard(srv);
      return rc;
    }
  }
  *out = srv;
  return 0;
}

/* ---- the server's TLS methods ---- */

/* ---- server.setSecureContext(): hot reload ---- */

/* Connections hold a reference to the context they started with, so replacing
 * the server's only changes what connections accepted from now on get. */
static void swap_context(tls_server *ts, portls_context *ctx) {
  portls_context *old = ts->ctx;
  ts->ctx = ctx;
  portls_context_free(old);
}

int portls_server_set_context(portls_server *srv, portls_context *ctx, portls_error *err) {
  tls_server *ts = portls__server_upper_data(srv, &tls_server_upper);
  if (ts == NULL || ctx == NULL)
    return portls__err(err, PORTLS_EINVAL, "setSecureContext: needs a TLS server and a context");
  int rc = portls__context_check_role(ctx, 1, err);
  if (rc < 0) return rc;
  swap_context(ts, portls_context_ref(ctx));
  return 0;
}

int portls_server_set_secure_context(portls_server *srv, const portls_context_options *o,
                                     portls_error *err) {
  tls_server *ts = portls__server_upper_data(srv, &tls_server_upper);
  if (ts == NULL || o == NULL)
    return portls__err(err, PORTLS_EINVAL, "setSecureContext: needs a TLS server and options");
  portls_context_options co = *o;
  char sid[33];
  if (ts->request_cert && co.session_id_context == NULL) {
    default_sid_context(sid);
    co.session_id_context = sid;
  }
  /* Tickets issued before the reload stay valid unless new keys are given. */
  if (co.ticket_keys.len == 0 && ts->ctx->has_ticket_keys)
    co.ticket_keys = (portls_buf){ts->ctx->ticket_keys, sizeof ts->ctx->ticket_keys};
  portls_context *ctx = NULL;
  int rc = portls_context_new(&co, &ctx, err);
  if (rc == 0 && (rc = portls__context_check_role(ctx, 1, err)) < 0) portls_context_free(ctx);
  if (rc < 0) return rc;
  swap_context(ts, ctx);
  return 0;
}

int portls_server_add_context(portls_server *srv, const char *hostname, portls_context *ctx,
                              portls_error *err) {
  if (srv == NULL || hostname == NULL || hostname[0] == '\0' || ctx == NULL)
    return portls__err(err, PORTLS_EINVAL, "addContext: needs a hostname and a context");
  tls_server *ts = portls__server_upper_data(srv, &tls_server_upper);
  if (ts == NULL) return portls__err(err, PORTLS_EINVAL, "addContext: not a TLS server");
  int rc = portls__need_cap(PORTLS_CAP_SNI, "addContext", err);
  if (rc < 0) return rc;
  if ((rc = portls__context_check_role(ctx, 1, err)) < 0) return rc;
  int started = 0;
  size_t nworkers = portls__server_workers_count(srv, &started);
  if (nworkers > 0) {
    /* Each worker matches names on its own thread: set before listening. */
    if (started)
      return portls__err(err, PORTLS_EBUSY,
                         "addContext: a workers server takes contexts before "
                         "it listens");
    for (size_t i = 0; i < nworkers; i++)
      if ((rc = portls_server_add_context(portls__server_worker(srv, i), hostname, ctx, err)) < 0)
        return rc;
  }
  portls__sni_entry *e = portls__calloc(1, sizeof *e);
  if (e == NULL || (e->pattern = portls__strdup(hostname)) == NULL) {
    portls__free(e);
    return portls__err(err, PORTLS_ENOMEM, NULL);
  }
  e->ctx = portls_context_ref(ctx);
  /* Node pushes every addContext() and tries the newest first, so one for a
   * hostname already present replaces it: drop the shadowed entry. */
  for (portls__sni_entry **pp = &ts->hooks.contexts; *pp != NULL; pp = &(*pp)->next) {
    if (portls__sni_same_pattern((*pp)->pattern, hostname)) {
      portls__sni_entry *old = *pp;
      *pp = old->next;
      portls_context_free(old->ctx);
      portls__free(old->pattern);
      portls__free(old);
      break;
    }
  }
  e->next = ts->hooks.contexts; /* Node tries the most recently added first */
  ts->hooks.contexts = e;
  return 0;
}

int portls_server_get_ticket_keys(const portls_server *srv, uint8_t keys[48], portls_error *err) {
  const tls_server *ts = portls__server_upper_data(srv, &tls_server_upper);
  if (ts == NULL || keys == NULL)
    return portls__err(err, PORTLS_EINVAL, "getTicketKeys: NULL argument or not a TLS server");
  int rc = portls__need_cap(PORTLS_CAP_TICKET_KEYS, "getTicketKeys", err);
  if (rc < 0) return rc;
  portls__context_get_ticket_keys(ts->ctx, keys);
  return 0;
}

int portls_server_set_ticket_keys(portls_server *srv, const void *keys, size_t len,
                                  portls_error *err) {
  tls_server *ts = portls__server_upper_data(srv, &tls_server_upper);
  if (ts == NULL)
    return portls__err(err, PORTLS_EINVAL, "setTicketKeys: NULL server or not a TLS server");
  int rc = portls__context_set_ticket_keys(ts->ctx, keys, len, err);
  /* Node's setTicketKeys: these keys and no others (a rotation's previous
   * keys go too). */
  if (rc == 0 && portls__backend.set_old_ticket_keys != NULL)
    rc = portls__backend.set_old_ticket_keys(ts->ctx->be, NULL, err);
  return rc;
}

int portls_server_rotate_ticket_keys(portls_server *srv, const void *keys, size_t len,
                                     portls_error *err) {
  tls_server *ts = portls__server_upper_data(srv, &tls_server_upper);
  if (ts == NULL)
    return portls__err(err, PORTLS_EINVAL, "rotateTicketKeys: NULL server or not a TLS server");
  return portls__context_rotate_ticket_keys(ts->ctx, keys, len, err);
}
