/* The loopback test harness (see harness.h). */
#include "common/harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- logs ---- */

static void log_add(char *log, const char *fmt, ...) {
  size_t used = strlen(log);
  if (used + 1 >= H_LOG_SIZE) return;
  char word[96];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(word, sizeof word, fmt, ap);
  va_end(ap);
  snprintf(log + used, H_LOG_SIZE - used, "%s%s", used > 0 ? " " : "", word);
}

static const char *last_word(const char *log) {
  const char *sp = strrchr(log, ' ');
  return sp ? sp + 1 : log;
}

/* ---- socket events ---- */

/* libuv 1.44's UV_RUN_ONCE runs due timers (portls delivers its events from
 * one) and then still blocks in poll until the next I/O or timer, so
 * portls_loop_run_once(loop, 1) can sleep past an event. Stopping the loop
 * from every event makes h_step() return right after it. */
static void wake(h_test *t) { portls_loop_stop(t->loop); }

static void side_event(h_side *s, h_event ev) {
  s->count[ev]++;
  if (s->hook != NULL) s->hook(s, ev);
  wake(s->t);
}

static void on_connect(portls_socket *sock, void *user) {
  h_side *s = user;
  (void)sock;
  log_add(s->log, "connect");
  side_event(s, H_CONNECT);
}

static void on_secure_connect(portls_socket *sock, void *user) {
  h_side *s = user;
  (void)sock;
  log_add(s->log, "secureConnect");
  side_event(s, H_SECURE);
}

static void on_data(portls_socket *sock, const void *data, size_t len, void *user) {
  h_side *s = user;
  (void)sock;
  if (strcmp(last_word(s->log), "data") != 0) log_add(s->log, "data");
  if (s->rx_len + len > s->rx_cap) {
    size_t cap = s->rx_cap ? s->rx_cap : 4096;
    while (cap < s->rx_len + len) cap *= 2;
    unsigned char *p = realloc(s->rx, cap + 1);
    cr_assert_not_null(p, "%s: out of memory for received data", s->name);
    s->rx = p;
    s->rx_cap = cap;
  }
  memcpy(s->rx + s->rx_len, data, len);
  s->rx_len += len;
  s->rx[s->rx_len] = '\0'; /* text payloads compare as strings */
  side_event(s, H_DATA);
}

static void on_end(portls_socket *sock, void *user) {
  h_side *s = user;
  (void)sock;
  log_add(s->log, "end");
  side_event(s, H_END);
}

static void on_drain(portls_socket *sock, void *user) {
  h_side *s = user;
  (void)sock;
  log_add(s->log, "drain");
  side_event(s, H_DRAIN);
}

static void on_timeout(portls_socket *sock, void *user) {
  h_side *s = user;
  (void)sock;
  log_add(s->log, "timeout");
  side_event(s, H_TIMEOUT);
}

static void on_error(portls_socket *sock, const portls_error *err, void *user) {
  h_side *s = user;
  (void)sock;
  s->err = *err;
  log_add(s->log, "error(%s)", portls_err_name(err->code));
  side_event(s, H_ERROR);
}

static void on_close(portls_socket *sock, int had_error, void *user) {
  h_side *s = user;
  (void)sock;
  s->had_error = had_error;
  s->closed = 1;
  s->close_seq = ++s->t->seq;
  log_add(s->log, "close(%d)", had_error);
  side_event(s, H_CLOSE);
  s->sock = NULL; /* freed by the library after this returns */
}

static const portls_socket_events socket_events = {
    .connect = on_connect,
    .secure_connect = on_secure_connect,
    .data = on_data,
    .end = on_end,
    .drain = on_drain,
    .timeout = on_timeout,
    .error = on_error,
    .close = on_close,
};

static h_side *new_side(h_test *t, h_side *arr, size_t *n, const char *prefix) {
  cr_assert_lt(*n, H_MAX_SIDES, "harness: more than %d %s sockets", H_MAX_SIDES, prefix);
  h_side *s = &arr[*n];
  memset(s, 0, sizeof *s);
  s->t = t;
  snprintf(s->name, sizeof s->name, "%s%zu", prefix, *n);
  (*n)++;
  return s;
}

/* ---- server events ---- */

static void srv_listening(portls_server *srv, void *user) {
  h_test *t = user;
  (void)srv;
  t->srv.listening++;
  log_add(t->srv.log, "listening");
  wake(t);
}

static h_side *adopt(h_test *t, portls_socket *sock, const char *word, h_event ev) {
  h_side *s = new_side(t, t->conn, &t->nconns, "conn");
  s->sock = sock;
  s->hook = t->srv.conn_hook;
  s->ctx = t->srv.conn_ctx;
  int rc = portls_socket_set_events(sock, &socket_events, s);
  cr_assert_eq(rc, 0, "portls_socket_set_events: %s", portls_err_name(rc));
  log_add(s->log, "%s", word);
  side_event(s, ev);
  return s;
}

static void srv_connection(portls_server *srv, portls_socket *sock, void *user) {
  h_test *t = user;
  (void)srv;
  t->srv.connections++;
  log_add(t->srv.log, "connection");
  adopt(t, sock, "connection", H_CONNECT);
}

static void srv_secure_connection(portls_server *srv, portls_socket *sock, void *user) {
  h_test *t = user;
  (void)srv;
  t->srv.secure_connections++;
  log_add(t->srv.log, "secureConnection");
  adopt(t, sock, "secureConnection", H_SECURE);
}

static void srv_client_error(portls_server *srv, const portls_error *err, portls_socket *sock,
                             void *user) {
  h_test *t = user;
  (void)srv;
  t->srv.client_errors++;
  t->srv.client_err = *err;
  t->srv.client_err_sock = sock != NULL;
  log_add(t->srv.log, "clientError(%s)", portls_err_name(err->code));
  wake(t);
}

static void srv_error(portls_server *srv, const portls_error *err, void *user) {
  h_test *t = user;
  (void)srv;
  t->srv.errors++;
  log_add(t->srv.log, "error(%s)", portls_err_name(err->code));
  wake(t);
}

static void srv_close(portls_server *srv, void *user) {
  h_test *t = user;
  (void)srv;
  t->srv.closed = 1;
  t->srv.close_seq = ++t->seq;
  log_add(t->srv.log, "close");
  t->srv.srv = NULL;
  wake(t);
}

static const portls_server_events server_events = {
    .listening = srv_listening,
    .connection = srv_connection,
    .secure_connection = srv_secure_connection,
    .client_error = srv_client_error,
    .error = srv_error,
    .close = srv_close,
};

/* ---- loop and watchdog ---- */

uint64_t h_watchdog_ms(void) {
  /* Under valgrind everything runs tens of times slower: PORTLS_TEST_SLOW
   * scales every time limit (the watchdog, and the timeouts tests set). */
  const char *slow = getenv("PORTLS_TEST_SLOW");
  long k = slow ? strtol(slow, NULL, 10) : 1;
  return (uint64_t)H_WATCHDOG_MS * (uint64_t)(k > 1 ? k : 1);
}

uint64_t h_slow(uint64_t ms) { return ms * (h_watchdog_ms() / H_WATCHDOG_MS); }

static void on_watchdog(portls_timer *timer, void *user) {
  h_test *t = user;
  (void)timer;
  t->expired = 1;
  portls_loop_stop(t->loop);
}

void h_init(h_test *t) {
  memset(t, 0, sizeof *t);
  int rc = portls_loop_new(&t->loop);
  cr_assert_eq(rc, 0, "portls_loop_new: %s", portls_err_name(rc));
  rc = portls_timer_new(t->loop, on_watchdog, t, &t->watchdog);
  cr_assert_eq(rc, 0, "portls_timer_new: %s", portls_err_name(rc));
  portls_timer_start(t->watchdog, h_watchdog_ms(), 0);
}

static void dump(const h_test *t, char *out, size_t size) {
  size_t used = (size_t)snprintf(out, size, "\n  server: %s", t->srv.log);
  for (size_t i = 0; i < t->nclients && used < size; i++)
    used += (size_t)snprintf(out + used, size - used, "\n  %s: %s", t->client[i].name,
                             t->client[i].log);
  for (size_t i = 0; i < t->nconns && used < size; i++)
    used +=
        (size_t)snprintf(out + used, size - used, "\n  %s: %s", t->conn[i].name, t->conn[i].log);
}

void h_step(h_test *t, const char *waiting_for) {
  if (!t->expired) portls_loop_run_once(t->loop, 1);
  if (t->expired) {
    char logs[4096];
    dump(t, logs, sizeof logs);
    cr_assert_fail("watchdog: still waiting for `%s` after %d ms; events so far:%s", waiting_for,
                   (int)h_watchdog_ms(), logs);
  }
}

typedef struct wait_state {
  h_test *t;
  int done;
} wait_state;

static void on_wait_done(portls_timer *timer, void *user) {
  wait_state *w = user;
  (void)timer;
  w->done = 1;
  wake(w->t);
}

void h_wait(h_test *t, uint64_t ms) {
  wait_state w = {t, 0};
  portls_timer *timer = NULL;
  int rc = portls_timer_new(t->loop, on_wait_done, &w, &timer);
  cr_assert_eq(rc, 0, "portls_timer_new: %s", portls_err_name(rc));
  portls_timer_start(timer, ms, 0);
  h_run_until(t, w.done);
  portls_timer_free(timer);
}

int h_all_closed(const h_test *t) {
  for (size_t i = 0; i < t->nclients; i++)
    if (!t->client[i].closed) return 0;
  for (size_t i = 0; i < t->nconns; i++)
    if (!t->conn[i].closed) return 0;
  return 1;
}

void h_run_all_closed(h_test *t) { h_run_until(t, h_all_closed(t)); }

void h_finish(h_test *t) {
  for (size_t i = 0; i < t->nclients; i++) t->client[i].hook = NULL;
  for (size_t i = 0; i < t->nconns; i++) t->conn[i].hook = NULL;
  for (size_t i = 0; i < t->nclients; i++)
    if (t->client[i].sock != NULL) portls_socket_destroy(t->client[i].sock, NULL);
  for (size_t i = 0; i < t->nconns; i++)
    if (t->conn[i].sock != NULL) portls_socket_destroy(t->conn[i].sock, NULL);
  if (t->srv.srv != NULL) portls_server_close(t->srv.srv);
  /* The server closes once its connections (accepted ones without a side
   * too, e.g. TLS sockets still in their handshake) are gone. */
  h_run_until(t, h_all_closed(t) && t->srv.srv == NULL);
  portls_timer_free(t->watchdog);
  t->watchdog = NULL;
  int rc = portls_loop_free(t->loop);
  cr_assert_eq(rc, 0, "portls_loop_free: %s (an object was left open)", portls_err_name(rc));
  for (size_t i = 0; i < t->nclients; i++) free(t->client[i].rx);
  for (size_t i = 0; i < t->nconns; i++) free(t->conn[i].rx);
  for (size_t i = 0; i < t->nfiles; i++) portls_free((void *)t->files[i].base);
  memset(t, 0, sizeof *t);
}

/* ---- files and options ---- */

const portls_buf *h_file(h_test *t, const char *name) {
  const char *dir = getenv("PORTLS_CERTS");
  cr_assert_not_null(dir, "PORTLS_CERTS is not set (run the tests through ctest)");
  cr_assert_lt(t->nfiles, H_MAX_FILES, "harness: more than %d files", H_MAX_FILES);
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  portls_error err = {0};
  portls_buf *b = &t->files[t->nfiles];
  int rc = portls_read_file(path, b, &err);
  cr_assert_eq(rc, 0, "portls_read_file(%s): %s %s", path, portls_err_name(rc), err.message);
  t->nfiles++;
  return b;
}

void h_context_options(h_test *t, portls_context_options *o, const char *key, const char *cert,
                       const char *ca) {
  portls_context_options_init(o);
  if (key != NULL) {
    o->key = h_file(t, key);
    o->key_count = 1;
  }
  if (cert != NULL) {
    o->cert = h_file(t, cert);
    o->cert_count = 1;
  }
  if (ca != NULL) {
    o->ca = h_file(t, ca);
    o->ca_count = 1;
  }
}

/* ---- servers and clients ---- */

static uint16_t listen_on(h_test *t, portls_server_options *o, int tls) {
  portls_server_options defaults;
  if (o == NULL) {
    portls_server_options_init(&defaults);
    o = &defaults;
  }
  cr_assert_null(t->srv.srv, "harness: one server per test");
  o->events = &server_events;
  o->user = t;
  portls_error err = {0};
  int rc = tls ? portls_tls_create_server(t->loop, o, &t->srv.srv, &err)
               : portls_net_create_server(t->loop, o, &t->srv.srv, &err);
  cr_assert_eq(rc, 0, "create_server: %s %s", portls_err_name(rc), err.message);
  rc = portls_server_listen(t->srv.srv, "127.0.0.1", 0, 0, &err);
  cr_assert_eq(rc, 0, "listen: %s %s", portls_err_name(rc), err.message);
  portls_address a;
  rc = portls_server_address(t->srv.srv, &a);
  cr_assert_eq(rc, 0, "portls_server_address: %s", portls_err_name(rc));
  cr_assert_gt(a.port, 0, "listening on port 0 must give a real port");
  t->srv.port = (uint16_t)a.port;
  return t->srv.port;
}

uint16_t h_listen_tls(h_test *t, portls_server_options *o) { return listen_on(t, o, 1); }
uint16_t h_listen_net(h_test *t, portls_server_options *o) { return listen_on(t, o, 0); }

void h_listen_path(h_test *t, const char *path) {
  portls_server_options o;
  portls_server_options_init(&o);
  o.events = &server_events;
  o.user = t;
  portls_error err = {0};
  int rc = portls_net_create_server(t->loop, &o, &t->srv.srv, &err);
  cr_assert_eq(rc, 0, "create_server: %s %s", portls_err_name(rc), err.message);
  rc = portls_server_listen_path(t->srv.srv, path, 0, &err);
  cr_assert_eq(rc, 0, "listen %s: %s %s", path, portls_err_name(rc), err.message);
}

h_side *h_connect_tls(h_test *t, portls_connect_options *o) {
  h_side *s = new_side(t, t->client, &t->nclients, "client");
  o->events = &socket_events;
  o->user = s;
  if (o->port == 0 && o->path == NULL) o->port = t->srv.port;
  portls_error err = {0};
  int rc = portls_tls_connect(t->loop, o, &s->sock, &err);
  cr_assert_eq(rc, 0, "portls_tls_connect: %s %s", portls_err_name(rc), err.message);
  return s;
}

h_side *h_connect_net(h_test *t, portls_net_connect_options *o) {
  h_side *s = new_side(t, t->client, &t->nclients, "client");
  o->events = &socket_events;
  o->user = s;
  if (o->port == 0 && o->path == NULL) o->port = t->srv.port;
  portls_error err = {0};
  int rc = portls_net_connect(t->loop, o, &s->sock, &err);
  cr_assert_eq(rc, 0, "portls_net_connect: %s %s", portls_err_name(rc), err.message);
  return s;
}

/* ---- small helpers ---- */

const char *h_dn_get(const portls_dn *dn, const char *key) {
  for (size_t i = 0; i < dn->count; i++)
    if (strcmp(dn->entries[i].key, key) == 0) return dn->entries[i].value;
  return NULL;
}

int h_contains(const char *s, const char *sub) {
  return s != NULL && sub != NULL && strstr(s, sub) != NULL;
}

void h_need_cap(portls_cap cap) { h_need_cap_because(cap, NULL); }

void h_need_cap_because(portls_cap cap, const char *why) {
  if (!portls_has_capability(cap))
    cr_skip_test("needs capability %s, which backend %s lacks%s%s%s", portls_capability_name(cap),
                 portls_backend_name(), why ? " (" : "", why ? why : "", why ? ")" : "");
}
