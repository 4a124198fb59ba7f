/* Allocation failure injection: a whole SecurePair handshake and exchange,
 * with the Nth allocation of the library failing, for every N; then an
 * exchange over a server connection that has gone quiet first (and may have
 * rested), failing each of its allocations. Each run must end (no hang),
 * report the failure as an error (no silent loss), and free every byte it
 * allocated (no leak); ASan catches any crash. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/harness.h"
#include "portls/portls.h"

typedef struct counting {
  long calls;   /* allocations attempted since the counter was armed */
  long fail_at; /* which one fails (1-based); 0: none */
  long live;    /* allocations not yet freed */
  int failed;   /* the injected failure happened */
} counting;

static counting g_count;

/* Each block carries a header so that live blocks can be counted exactly. */
typedef union hdr {
  size_t size;
  max_align_t align;
} hdr;

static void *c_malloc(void *ctx, size_t size) {
  counting *c = ctx;
  if (++c->calls == c->fail_at) {
    c->failed = 1;
    return NULL;
  }
  hdr *h = malloc(sizeof *h + size);
  if (h == NULL) return NULL;
  h->size = size;
  c->live++;
  return h + 1;
}
static void c_free(void *ctx, void *p) {
  counting *c = ctx;
  if (p == NULL) return;
  c->live--;
  free((hdr *)p - 1);
}
static void *c_realloc(void *ctx, void *p, size_t size) {
  counting *c = ctx;
  if (p == NULL) return c_malloc(ctx, size);
  if (++c->calls == c->fail_at) {
    c->failed = 1;
    return NULL;
  }
  hdr *h = realloc((hdr *)p - 1, sizeof *h + size);
  if (h == NULL) return NULL;
  h->size = size;
  return h + 1;
}

typedef struct run {
  portls_pair *client, *server;
  int c_secure, s_secure, c_closed, s_closed, errors, got_reply;
  int api_errors;
} run;

static void r_pair_data(portls_pair *p, const void *d, size_t n, void *u) {
  run *r = u;
  portls_pair *peer = p == r->client ? r->server : r->client;
  if (peer != NULL && portls_pair_encrypted_write(peer, d, n) < 0) {
    r->api_errors++;
    portls_socket_destroy(portls_pair_cleartext(peer), NULL);
  }
}
static void r_pair_end(portls_pair *p, void *u) {
  run *r = u;
  portls_pair *peer = p == r->client ? r->server : r->client;
  if (peer != NULL) portls_pair_encrypted_end(peer);
}
static void r_secure(portls_socket *s, void *u) {
  run *r = u;
  if (r->client != NULL && s == portls_pair_cleartext(r->client)) {
    r->c_secure++;
    if (portls_socket_write(s, "ping", 4) < 0) r->api_errors++;
  } else {
    r->s_secure++;
  }
}
static void r_data(portls_socket *s, const void *d, size_t n, void *u) {
  run *r = u;
  (void)d;
  if (r->client != NULL && s == portls_pair_cleartext(r->client)) {
    r->got_reply = 1;
    portls_socket_end(s, NULL, 0);
  } else if (portls_socket_write(s, "pong", 4) < 0 || n == 0) {
    r->api_errors++;
  }
}
static void r_error(portls_socket *s, const portls_error *e, void *u) {
  (void)s;
  (void)e;
  ((run *)u)->errors++;
}
/* A closing side's transport goes away: the other side sees its end. */
static void r_close(portls_socket *s, int had_error, void *u) {
  run *r = u;
  (void)had_error;
  if (r->client != NULL && s == portls_pair_cleartext(r->client)) {
    r->c_closed = 1;
    r->client = NULL;
    if (r->server != NULL) portls_pair_encrypted_end(r->server);
  } else {
    r->s_closed = 1;
    r->server = NULL;
    if (r->client != NULL) portls_pair_encrypted_end(r->client);
  }
}
static const portls_socket_events r_events = {
    .secure_connect = r_secure, .data = r_data, .error = r_error, .close = r_close};

static portls_buf g_key, g_cert, g_ca;

static void load_files(void) {
  const char *dir = getenv("PORTLS_CERTS");
  cr_assert_not_null(dir, "PORTLS_CERTS is not set");
  char path[512];
  snprintf(path, sizeof path, "%s/server-ec.key", dir);
  cr_assert_eq(portls_read_file(path, &g_key, NULL), 0);
  snprintf(path, sizeof path, "%s/server-ec-chain.crt", dir);
  cr_assert_eq(portls_read_file(path, &g_cert, NULL), 0);
  snprintf(path, sizeof path, "%s/ca.crt", dir);
  cr_assert_eq(portls_read_file(path, &g_ca, NULL), 0);
}

static void stop_loop(portls_timer *t, void *u) {
  (void)t;
  *(int *)u = 1;
}

static run r;
static int g_creation_failed;

/* One whole conversation; returns 1 if it completed, 0 if a failure ended it. */
static int conversation(void) {
  g_creation_failed = 0;
  memset(&r, 0, sizeof r);
  portls_loop *loop = NULL;
  if (portls_loop_new(&loop) < 0) {
    g_creation_failed = 1;
    return 0;
  }
  int done = 0;
  portls_timer *watchdog = NULL;
  if (portls_timer_new(loop, stop_loop, &done, &watchdog) < 0) {
    g_creation_failed = 1;
    cr_assert_eq(portls_loop_free(loop), 0);
    return 0;
  }
  portls_timer_start(watchdog, h_slow(5000), 0);
  portls_tls_socket_options so, co;
  portls_tls_socket_options_init(&so);
  so.is_server = 1;
  so.tls.context.key = &g_key;
  so.tls.context.key_count = 1;
  so.tls.context.cert = &g_cert;
  so.tls.context.cert_count = 1;
  so.events = &r_events;
  so.user = &r;
  portls_tls_socket_options_init(&co);
  co.tls.context.ca = &g_ca;
  co.tls.context.ca_count = 1;
  co.tls.servername = "localhost";
  co.events = &r_events;
  co.user = &r;
  portls_pair_events ev = {.encrypted_data = r_pair_data, .encrypted_end = r_pair_end};
  portls_error err;
  int ok_s = portls_pair_new(loop, &so, &ev, &r, &r.server, &err) == 0;
  int ok_c = ok_s && portls_pair_new(loop, &co, &ev, &r, &r.client, &err) == 0;
  if (!ok_s || !ok_c) {
    g_creation_failed = 1;
    cr_assert_eq(err.code, PORTLS_ENOMEM, "creation failed with %s: %s", portls_err_name(err.code),
                 err.message);
    if (r.server != NULL) portls_socket_destroy(portls_pair_cleartext(r.server), NULL);
  }
  while (!done && !((r.c_closed || r.client == NULL) && (r.s_closed || r.server == NULL))) {
    portls_loop_run_once(loop, 1);
  }
  cr_assert_eq(done, 0,
               "a run hung (fail_at %ld): client secure %d closed %d, server secure %d closed %d, "
               "errors %d, api errors %d, reply %d",
               g_count.fail_at, r.c_secure, r.c_closed, r.s_secure, r.s_closed, r.errors,
               r.api_errors, r.got_reply);
  portls_timer_free(watchdog);
  portls_loop_run(loop);
  cr_assert_eq(portls_loop_free(loop), 0, "objects left open (fail_at %ld)", g_count.fail_at);
  return r.got_reply && r.c_secure && r.s_secure;
}

Test(alloc_failure, every_failing_allocation_gives_an_error_and_leaks_nothing, .timeout = 600) {
  load_files();
  /* Warm up with libc's allocator: process-wide lazy state (the backend's
   * tables, libuv's) is made once and is not the connection's to free. */
  cr_assert(conversation(), "the conversation must work without failures");
  portls_allocator a = {c_malloc, c_realloc, c_free, &g_count};
  memset(&g_count, 0, sizeof g_count);
  cr_assert_eq(portls_set_allocator(&a), 0);
  cr_assert(conversation());
  long total = g_count.calls;
  cr_assert_eq(g_count.live, 0, "a clean run leaked %ld allocations", g_count.live);
  cr_assert_gt(total, 10, "the library allocated through the hook");
  long silent = 0;
  for (long n = 1; n <= total; n++) {
    memset(&g_count, 0, sizeof g_count);
    g_count.fail_at = n;
    int completed = conversation();
    cr_assert(g_count.failed, "allocation %ld never happened", n);
    cr_assert_eq(g_count.live, 0, "failing allocation %ld of %ld leaked %ld blocks", n, total,
                 g_count.live);
    /* A failure is never silent: a call returns it or an 'error' event reports it
     * (possibly after the exchange itself completed, e.g. while sending close_notify).
     * The one exception is work that only saves memory: a TLS 1.3 server
     * connection with nothing buffered gives its library session back, and
     * when that cannot allocate it keeps the session and goes on. Such a run
     * must complete exactly as an unhindered one. */
    if (!(g_creation_failed || r.errors > 0 || r.api_errors > 0)) {
      cr_assert(completed, "allocation %ld failed without an error and the conversation stopped",
                n);
      silent++;
    }
  }
  fprintf(stderr, "alloc sweep: %ld allocations, %ld skipped silently\n", total, silent);
  portls_set_allocator(NULL);
  portls_free((void *)g_key.base);
  portls_free((void *)g_cert.base);
  portls_free((void *)g_ca.base);
}

/* ---- after a connection has gone quiet ----
 * A server connection quiet for a few of its server's rest sweeps may have
 * handed its library session back (on OpenSSL, TLS 1.3) and run on portls's
 * own record layer. Its allocations, and the client's, fail one at a time
 * while the client sends 1000 bytes and the server echoes them: each failure
 * is reported and nothing leaks. */

typedef struct quiet_run {
  portls_socket *client, *conn;
  int c_secure, s_secure, errors, c_closed, s_closed;
  size_t c_rx;
} quiet_run;

static quiet_run q;

static void q_echo(portls_socket *s, const void *d, size_t n, void *u) {
  (void)u;
  if (portls_socket_write(s, d, n) < 0) q.errors++;
}
static void q_client_data(portls_socket *s, const void *d, size_t n, void *u) {
  (void)s, (void)d, (void)u;
  q.c_rx += n;
}
static void q_secure(portls_socket *s, void *u) {
  (void)s, (void)u;
  q.c_secure++;
}
static void q_error(portls_socket *s, const portls_error *e, void *u) {
  (void)s, (void)e, (void)u;
  q.errors++;
}
static void q_close(portls_socket *s, int had_error, void *u) {
  (void)had_error, (void)u;
  if (s == q.client) {
    q.client = NULL;
    q.c_closed = 1;
  } else {
    q.conn = NULL;
    q.s_closed = 1;
  }
}
static const portls_socket_events q_conn_events = {
    .data = q_echo, .error = q_error, .close = q_close};
static const portls_socket_events q_client_events = {
    .secure_connect = q_secure, .data = q_client_data, .error = q_error, .close = q_close};

static void q_conn_secure(portls_server *srv, portls_socket *s, void *u) {
  (void)srv, (void)u;
  q.conn = s;
  q.s_secure++;
  portls_socket_set_events(s, &q_conn_events, NULL);
}
static void q_client_error(portls_server *srv, const portls_error *e, portls_socket *s, void *u) {
  (void)srv, (void)e, (void)s, (void)u;
  q.errors++;
}

/* One run; the k-th allocation after the quiet spell fails (0: none). */
static void quiet_conversation(long k) {
  memset(&q, 0, sizeof q);
  portls_loop *loop;
  cr_assert_eq(portls_loop_new(&loop), 0);
  int timed_out = 0, settled = 0;
  portls_timer *watchdog, *settle;
  cr_assert_eq(portls_timer_new(loop, stop_loop, &timed_out, &watchdog), 0);
  cr_assert_eq(portls_timer_new(loop, stop_loop, &settled, &settle), 0);
  portls_timer_start(watchdog, h_slow(5000), 0);
  static const portls_server_events sev = {.secure_connection = q_conn_secure,
                                           .client_error = q_client_error};
  portls_server_options so;
  portls_server_options_init(&so);
  so.rest_min_connections = 1; /* every connection may rest */
  so.tls.context.key = &g_key;
  so.tls.context.key_count = 1;
  so.tls.context.cert = &g_cert;
  so.tls.context.cert_count = 1;
  so.events = &sev;
  portls_server *srv;
  cr_assert_eq(portls_tls_create_server(loop, &so, &srv, NULL), 0);
  cr_assert_eq(portls_server_listen(srv, "127.0.0.1", 0, 16, NULL), 0);
  portls_address addr;
  cr_assert_eq(portls_server_address(srv, &addr), 0);
  portls_connect_options co;
  portls_connect_options_init(&co);
  co.host = "127.0.0.1";
  co.port = (uint16_t)addr.port;
  co.tls.servername = "localhost";
  co.tls.context.ca = &g_ca;
  co.tls.context.ca_count = 1;
  co.events = &q_client_events;
  cr_assert_eq(portls_tls_connect(loop, &co, &q.client, NULL), 0);
  while (!(q.c_secure && q.s_secure) && !timed_out && !q.errors) portls_loop_run_once(loop, 1);
  cr_assert(q.c_secure && q.s_secure && !q.errors, "the handshake (k %ld)", k);
  portls_timer_start(settle, 500, 0); /* several rest sweeps */
  while (!settled && !timed_out) portls_loop_run_once(loop, 1);

  g_count.fail_at = k > 0 ? g_count.calls + k : 0;
  static char msg[1000];
  memset(msg, 'x', sizeof msg);
  if (portls_socket_write(q.client, msg, sizeof msg) < 0) q.errors++;
  while (q.c_rx < sizeof msg && !q.errors && !q.c_closed && !q.s_closed && !timed_out)
    portls_loop_run_once(loop, 1);
  cr_assert(!timed_out, "a run hung (k %ld): rx %zu errors %d", k, q.c_rx, q.errors);
  if (!g_count.failed)
    cr_assert_eq(q.c_rx, sizeof msg, "the echo (k %ld)", k);
  else
    cr_assert_gt(q.errors, 0, "allocation %ld after the quiet spell failed without an error", k);
  g_count.fail_at = 0;

  if (q.client != NULL) portls_socket_destroy(q.client, NULL);
  if (q.conn != NULL) portls_socket_destroy(q.conn, NULL);
  portls_server_close(srv);
  portls_timer_free(settle);
  portls_timer_free(watchdog);
  portls_loop_run(loop);
  cr_assert_eq(portls_loop_free(loop), 0, "objects left open (k %ld)", k);
}

Test(alloc_failure, after_a_quiet_spell_every_failing_allocation_gives_an_error_and_leaks_nothing,
     .timeout = 300) {
  load_files();
  portls_allocator a = {c_malloc, c_realloc, c_free, &g_count};
  memset(&g_count, 0, sizeof g_count);
  cr_assert_eq(portls_set_allocator(&a), 0);
  quiet_conversation(0); /* warm-up: process-wide state */
  long k;
  for (k = 1; k <= 64; k++) {
    g_count.failed = 0;
    long live = g_count.live;
    quiet_conversation(k);
    cr_assert_eq(g_count.live, live,
                 "failing allocation %ld after the quiet spell leaked %ld blocks", k,
                 g_count.live - live);
    if (!g_count.failed) break; /* every allocation of the exchange has failed once */
  }
  cr_assert_gt(k, 1, "the exchange allocated nothing through the hook");
  fprintf(stderr, "alloc sweep after a quiet spell: %ld allocations\n", k - 1);
  portls_set_allocator(NULL);
  portls_free((void *)g_key.base);
  portls_free((void *)g_cert.base);
  portls_free((void *)g_ca.base);
}
