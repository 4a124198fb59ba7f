/* portls command-line tool: what `serve` answers during handshakes.
 *
 * --sni-context adds contexts (server.addContext). --session-cache keeps
 * newSession's sessions in memory and gives them back to resumeSession;
 * --ocsp-response answers OCSPRequest with a file. Each answer is given from
 * a timer, not inside the callback, to show that the handshake waits for an
 * asynchronous answer as Node's does. --session-store answers newSession and
 * resumeSession from Redis instead (portls::redis), and with --ticket-rotate
 * takes the cluster's ticket keys from there too. */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#if defined(PORTLS_HAVE_REDIS)
#include "portls/redis.h"
#endif

#define STORE_MAX 4096 /* sessions kept; the oldest goes first */

typedef struct stored {
  struct stored *next;
  size_t id_len, len;
  uint8_t id[32];
  uint8_t *data;
} stored;

/* An answer waiting for the timer: to a session request (newSession or
 * resumeSession) or to an OCSP request; the other pointer is NULL. */
typedef struct answer {
  struct answer *next;
  portls_session_request *session;
  portls_ocsp_request *ocsp;
  const stored *found; /* resumeSession */
} answer;

struct serve_hooks {
  portls_loop *loop;
  portls_timer *timer;
  answer *answers, **answers_tail;
  stored *store; /* newest first */
  size_t stored_count;
  portls_buf ocsp; /* --ocsp-response */
#if defined(PORTLS_HAVE_REDIS)
  portls_redis_store *redis; /* --session-store */
#endif
};

/* ---- --session-store ---- */

#if defined(PORTLS_HAVE_REDIS)
static void on_store_connected(portls_redis_store *store, void *user) {
  (void)store, (void)user;
  ev_end(ev_begin("sessionStoreConnected"));
}

static void on_store_error(portls_redis_store *store, const portls_error *err, void *user) {
  (void)store, (void)user;
  jw *w = ev_begin("sessionStoreError");
  jw_kstring(w, "code", portls_err_name(err->code));
  jw_kstring(w, "message", err->message);
  ev_end(w);
}

static void on_store_keys(portls_redis_store *store, uint64_t period, void *user) {
  (void)store, (void)user;
  jw *w = ev_begin("ticketKeys");
  jw_kint(w, "period", (long long)period);
  ev_end(w);
}

static const portls_redis_events store_events = {
    .connected = on_store_connected, .error = on_store_error, .ticket_keys = on_store_keys};

static int store_new(serve_hooks *h, const cli_opts *o, portls_server_options *so) {
  portls_redis_options ro;
  portls_redis_options_init(&ro);
  ro.url = cli_str(o, OPT_SESSION_STORE, NULL);
  ro.ticket_rotate_s = cli_num(o, OPT_TICKET_ROTATE, 0);
  ro.events = &store_events;
  portls_error err = {0, ""};
  int rc = portls_redis_store_new(h->loop, &ro, &h->redis, &err);
  if (rc < 0) {
    ev_errorf(err.code, "--session-store: %s", err.message);
    return CLI_EXIT_USAGE;
  }
  portls_redis_server_options(h->redis, so);
  return 0;
}
#endif

static void hex_line(jw *w, const char *key, const void *id, size_t len) {
  static const char digits[] = "0123456789abcdef";
  char hex[2 * 32 + 1];
  const uint8_t *p = id;
  size_t n = len > 32 ? 32 : len;
  for (size_t i = 0; i < n; i++) {
    hex[2 * i] = digits[p[i] >> 4];
    hex[2 * i + 1] = digits[p[i] & 15];
  }
  hex[2 * n] = '\0';
  jw_kstring(w, key, hex);
}

static void on_answer_tick(portls_timer *timer, void *user) {
  (void)timer;
  serve_hooks *h = user;
  answer *a = h->answers;
  h->answers = NULL;
  h->answers_tail = &h->answers;
  while (a != NULL) {
    answer *next = a->next;
    if (a->ocsp != NULL)
      portls_ocsp_request_done(a->ocsp, h->ocsp.base, h->ocsp.len, NULL);
    else
      portls_session_request_done(a->session, a->found ? a->found->data : NULL,
                                  a->found ? a->found->len : 0, NULL);
    free(a);
    a = next;
  }
}

/* Ends the connection that asked: the answer is an error. */
static void answer_error(const answer *a, const portls_error *e) {
  if (a->ocsp != NULL)
    portls_ocsp_request_done(a->ocsp, NULL, 0, e);
  else
    portls_session_request_done(a->session, NULL, 0, e);
}

/* Queues an answer for the next loop iteration; on failure answers now. */
static void answer_later(serve_hooks *h, answer q) {
  answer *a = calloc(1, sizeof *a);
  if (a == NULL || portls_timer_start(h->timer, 0, 0) < 0) {
    free(a);
    portls_error e = {PORTLS_ENOMEM, "serve: cannot queue the answer"};
    answer_error(&q, &e);
    return;
  }
  *a = q;
  *h->answers_tail = a;
  h->answers_tail = &a->next;
}

static void on_new_session(portls_server *server, portls_socket *sock, const void *id,
                           size_t id_len, const void *data, size_t len, portls_session_request *req,
                           void *user) {
  (void)server;
  (void)sock;
  serve_hooks *h = user;
  jw *w = ev_begin("newSession");
  hex_line(w, "id", id, id_len);
  ev_end(w);
  stored *s = id_len <= sizeof s->id ? calloc(1, sizeof *s) : NULL;
  if (s != NULL && (s->data = malloc(len ? len : 1)) != NULL) {
    memcpy(s->id, id, id_len);
    s->id_len = id_len;
    memcpy(s->data, data, len);
    s->len = len;
    s->next = h->store;
    h->store = s;
    if (++h->stored_count > STORE_MAX) { /* drop the oldest */
      stored **p = &h->store;
      while ((*p)->next != NULL) p = &(*p)->next;
      free((*p)->data);
      free(*p);
      *p = NULL;
      h->stored_count--;
    }
  } else {
    free(s);
  }
  answer_later(h, (answer){.session = req});
}

static void on_resume_session(portls_server *server, portls_socket *sock, const void *id,
                              size_t id_len, portls_session_request *req, void *user) {
  (void)server;
  (void)sock;
  serve_hooks *h = user;
  const stored *found = NULL;
  for (const stored *s = h->store; s != NULL && found == NULL; s = s->next)
    if (s->id_len == id_len && memcmp(s->id, id, id_len) == 0) found = s;
  jw *w = ev_begin("resumeSession");
  hex_line(w, "id", id, id_len);
  jw_kbool(w, "found", found != NULL);
  ev_end(w);
  answer_later(h, (answer){.session = req, .found = found});
}

static void on_ocsp_request(portls_server *server, portls_socket *sock, const void *cert,
                            size_t cert_len, const void *issuer, size_t issuer_len,
                            portls_ocsp_request *req, void *user) {
  (void)server;
  (void)sock;
  (void)cert;
  (void)cert_len;
  (void)issuer;
  (void)issuer_len;
  serve_hooks *h = user;
  ev_end(ev_begin("OCSPRequest"));
  answer_later(h, (answer){.ocsp = req});
}

int serve_hooks_new(const cli_opts *o, portls_loop *loop, portls_server_options *so,
                    serve_hooks **out) {
  *out = NULL;
  if (cli_has(o, OPT_SESSION_CACHE) && cli_num(o, OPT_SESSION_CACHE, 0) &&
      cli_require_cap("--session-cache", PORTLS_CAP_SESSION_CACHE))
    return CLI_EXIT_USAGE;
  if (cli_has(o, OPT_OCSP_RESPONSE) && cli_require_cap("--ocsp-response", PORTLS_CAP_OCSP_STAPLING))
    return CLI_EXIT_USAGE;
  if (cli_has(o, OPT_SNI_CONTEXT) && cli_require_cap("--sni-context", PORTLS_CAP_SNI))
    return CLI_EXIT_USAGE;
  if (cli_has(o, OPT_SESSION_STORE)) {
#if defined(PORTLS_HAVE_REDIS)
    if (cli_require_cap("--session-store", PORTLS_CAP_SESSION_CACHE)) return CLI_EXIT_USAGE;
    if (cli_num(o, OPT_SESSION_CACHE, 0)) {
      ev_error(PORTLS_EINVAL, "--session-store: not with --session-cache (both answer newSession)");
      return CLI_EXIT_USAGE;
    }
    if (cli_has(o, OPT_TICKET_ROTATE) &&
        cli_require_cap("--ticket-rotate", PORTLS_CAP_TICKET_ROTATION))
      return CLI_EXIT_USAGE;
#else
    ev_error(PORTLS_ENOTSUP, "--session-store: this tool was built without portls::redis "
                             "(hiredis was not found at build time)");
    return CLI_EXIT_USAGE;
#endif
  } else if (cli_has(o, OPT_TICKET_ROTATE)) {
    ev_error(PORTLS_EINVAL, "--ticket-rotate: needs --session-store (the keys are shared there)");
    return CLI_EXIT_USAGE;
  }
  serve_hooks *h = calloc(1, sizeof *h);
  if (h == NULL || portls_timer_new(loop, on_answer_tick, h, &h->timer) < 0) {
    free(h);
    ev_error(PORTLS_ENOMEM, "serve: out of memory");
    return CLI_EXIT_FAIL;
  }
  h->loop = loop;
  h->answers_tail = &h->answers;
  if (cli_num(o, OPT_SESSION_CACHE, 0)) {
    so->new_session = on_new_session;
    so->resume_session = on_resume_session;
    so->session_user = h;
  }
  if (cli_has(o, OPT_OCSP_RESPONSE)) {
    h->ocsp = o->v[OPT_OCSP_RESPONSE].file[0];
    so->ocsp_request = on_ocsp_request;
    so->ocsp_user = h;
  }
#if defined(PORTLS_HAVE_REDIS)
  if (cli_has(o, OPT_SESSION_STORE) && store_new(h, o, so) != 0) {
    serve_hooks_free(h);
    return CLI_EXIT_USAGE;
  }
#endif
  if (cli_has(o, OPT_RENEG_LIMIT)) so->client_reneg_limit = (int)cli_num(o, OPT_RENEG_LIMIT, 3);
  if (cli_has(o, OPT_RENEG_WINDOW))
    so->client_reneg_window_s = (int)cli_num(o, OPT_RENEG_WINDOW, 600);
  *out = h;
  return 0;
}

/* One --sni-context NAME=KEYFILE:CERTFILE. */
static int add_context(portls_server *server, const char *spec) {
  const char *eq = strchr(spec, '=');
  const char *colon = eq ? strchr(eq + 1, ':') : NULL;
  if (eq == NULL || colon == NULL || eq == spec || colon == eq + 1 || colon[1] == '\0') {
    ev_errorf(PORTLS_EINVAL, "--sni-context: expected NAME=KEYFILE:CERTFILE, got '%s'", spec);
    return CLI_EXIT_USAGE;
  }
  char *copy = strdup(spec);
  if (copy == NULL) {
    ev_error(PORTLS_ENOMEM, "--sni-context: out of memory");
    return CLI_EXIT_FAIL;
  }
  copy[eq - spec] = '\0';
  copy[colon - spec] = '\0';
  const char *name = copy;
  portls_error err = {0, ""};
  portls_context *ctx = NULL;
  portls_context_options co;
  portls_context_options_init(&co);
  /* By name: the library reads them, and its errors name the file. */
  co.key_file = copy + (eq - spec) + 1;
  co.cert_file = copy + (colon - spec) + 1;
  int rc = portls_context_new(&co, &ctx, &err);
  if (rc == 0) rc = portls_server_add_context(server, name, ctx, &err);
  if (rc < 0) ev_errorf(err.code ? err.code : rc, "--sni-context %s: %s", name, err.message);
  portls_context_free(ctx);
  free(copy);
  return rc < 0 ? CLI_EXIT_USAGE : 0;
}

int serve_hooks_add_contexts(serve_hooks *h, portls_server *server, const cli_opts *o) {
#if defined(PORTLS_HAVE_REDIS)
  if (h->redis != NULL) {
    portls_error err = {0, ""};
    if (portls_redis_attach_server(h->redis, server, &err) < 0) {
      ev_errorf(err.code, "--ticket-rotate: %s", err.message);
      return CLI_EXIT_USAGE;
    }
  }
#else
  (void)h;
#endif
  for (int i = 0; i < o->v[OPT_SNI_CONTEXT].count; i++) {
    int rc = add_context(server, o->v[OPT_SNI_CONTEXT].str[i]);
    if (rc) return rc;
  }
  return 0;
}

void serve_hooks_free(serve_hooks *h) {
  if (h == NULL) return;
  /* Unanswered questions are answered, so the library can free them. */
  portls_error e = {PORTLS_ECANCELED, "serve: stopping"};
  for (answer *a = h->answers, *next; a != NULL; a = next) {
    next = a->next;
    answer_error(a, &e);
    free(a);
  }
  for (stored *s = h->store, *next; s != NULL; s = next) {
    next = s->next;
    free(s->data);
    free(s);
  }
  if (h->timer != NULL) portls_timer_free(h->timer);
#if defined(PORTLS_HAVE_REDIS)
  portls_redis_store_free(h->redis);
#endif
  free(h);
}
