/* minVersion / maxVersion and their process defaults (Node's
 * tls.DEFAULT_MIN_VERSION / DEFAULT_MAX_VERSION), the default ecdhCurve
 * ("auto", Node >= 10) and what a client offers, and tls.connect's timeout.
 * Every test runs on every backend, skipping by capability. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/harness.h"

/* ---- helpers ---- */

typedef struct seen {
  char client_protocol[16], conn_protocol[16];
  portls_ephemeral_key_info eph;
  int eph_rc;
} seen;

static void copy(char *dst, size_t size, const char *src) {
  snprintf(dst, size, "%s", src ? src : "");
}

static void record_client(h_side *s, h_event ev) {
  seen *st = s->t->user;
  if (ev == H_SECURE) {
    copy(st->client_protocol, sizeof st->client_protocol, portls_socket_get_protocol(s->sock));
    st->eph_rc = portls_socket_get_ephemeral_key_info(s->sock, &st->eph);
    portls_socket_end(s->sock, NULL, 0);
  }
}

static void record_conn(h_side *s, h_event ev) {
  seen *st = s->t->user;
  if (ev == H_SECURE)
    copy(st->conn_protocol, sizeof st->conn_protocol, portls_socket_get_protocol(s->sock));
}

static void server_options(h_test *t, portls_server_options *so) {
  portls_server_options_init(so);
  h_context_options(t, &so->tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
}

static void client_options(h_test *t, portls_connect_options *co) {
  portls_connect_options_init(co);
  h_context_options(t, &co->tls.context, NULL, NULL, "ca.crt");
  co->host = "localhost";
}

/* Runs one connection to completion and records what both ends saw. */
static void handshake(h_test *t, portls_server_options *so, portls_connect_options *co) {
  t->srv.conn_hook = record_conn;
  h_listen_tls(t, so);
  h_connect_tls(t, co)->hook = record_client;
  h_run_all_closed(t);
}

/* Both ends refuse, each with its code; nobody becomes secure. */
static void expect_refusal(h_test *t, portls_server_options *so, portls_connect_options *co,
                           int code) {
  h_listen_tls(t, so);
  h_side *c = h_connect_tls(t, co);
  h_run_until(t, c->closed && t->srv.client_errors > 0);
  cr_assert_eq(c->count[H_SECURE], 0, "%s", c->log);
  cr_assert_eq(t->srv.secure_connections, 0);
  cr_assert_eq(t->srv.client_err.code, code, "server: got %s (%s), want %s",
               portls_err_name(t->srv.client_err.code), t->srv.client_err.message,
               portls_err_name(code));
  cr_assert_eq(c->err.code, code, "client: got %s (%s), want %s", portls_err_name(c->err.code),
               c->err.message, portls_err_name(code));
}

/* portls_context_new must fail with code and a message containing each of
 * the NULL-terminated words. */
static void expect_context_error(const portls_context_options *o, int code, ...) {
  portls_context *ctx = NULL;
  portls_error err = {0};
  int rc = portls_context_new(o, &ctx, &err);
  cr_assert_eq(rc, code, "got %s (%s), want %s", portls_err_name(rc), err.message,
               portls_err_name(code));
  cr_assert_eq(err.code, code);
  cr_assert_null(ctx);
  va_list ap;
  va_start(ap, code);
  for (const char *w = va_arg(ap, const char *); w != NULL; w = va_arg(ap, const char *))
    cr_expect(h_contains(err.message, w), "message \"%s\" lacks \"%s\"", err.message, w);
  va_end(ap);
}

static void expect_context_ok(const portls_context_options *o) {
  portls_context *ctx = NULL;
  portls_error err = {0};
  cr_assert_eq(portls_context_new(o, &ctx, &err), 0, "%s: %s", portls_err_name(err.code),
               err.message);
  portls_context_free(ctx);
}

/* ---- negotiation ---- */

Test(versions, client_max_TLSv1_2_against_server_min_TLSv1_3_is_ERR_SSL_UNSUPPORTED_PROTOCOL) {
  h_need_cap(PORTLS_CAP_TLS1_3);
  h_need_cap(PORTLS_CAP_TLS1_2);
  h_test t;
  h_init(&t);
  portls_server_options so;
  server_options(&t, &so);
  so.tls.context.min_version = PORTLS_TLS1_3;
  portls_connect_options co;
  client_options(&t, &co);
  co.tls.context.max_version = PORTLS_TLS1_2;
  /* Node: the server's ERR_SSL_UNSUPPORTED_PROTOCOL; portls gives the client
   * the same code rather than the alert's name (README, "differs on purpose"). */
  expect_refusal(&t, &so, &co, PORTLS_EVERSION);
  h_finish(&t);
}

Test(versions, server_min_TLSv1_3_and_a_default_client_negotiate_TLSv1_3) {
  h_need_cap(PORTLS_CAP_TLS1_3);
  h_test t;
  seen st = {0};
  h_init(&t);
  t.user = &st;
  portls_server_options so;
  server_options(&t, &so);
  so.tls.context.min_version = PORTLS_TLS1_3;
  portls_connect_options co;
  client_options(&t, &co);
  handshake(&t, &so, &co);
  cr_assert_str_eq(st.client_protocol, "TLSv1.3");
  cr_assert_str_eq(st.conn_protocol, "TLSv1.3");
  h_finish(&t);
}

/* getProtocol() follows the client's maxVersion, whatever the server allows. */
Test(versions, client_max_TLSv1_2_is_what_getProtocol_reports_on_both_ends) {
  h_need_cap(PORTLS_CAP_TLS1_2);
  h_test t;
  seen st = {0};
  h_init(&t);
  t.user = &st;
  portls_server_options so;
  server_options(&t, &so);
  portls_connect_options co;
  client_options(&t, &co);
  co.tls.context.max_version = PORTLS_TLS1_2;
  handshake(&t, &so, &co);
  cr_assert_str_eq(st.client_protocol, "TLSv1.2");
  cr_assert_str_eq(st.conn_protocol, "TLSv1.2");
  h_finish(&t);
}

/* A max above what the backend has means its highest (mbedTLS 2.28: TLS 1.2). */
Test(versions, max_TLSv1_3_is_the_highest_version_the_backend_has) {
  h_need_cap(PORTLS_CAP_TLS1_2);
  h_test t;
  seen st = {0};
  h_init(&t);
  t.user = &st;
  portls_server_options so;
  server_options(&t, &so);
  so.tls.context.max_version = PORTLS_TLS1_3;
  portls_connect_options co;
  client_options(&t, &co);
  co.tls.context.min_version = PORTLS_TLS1_2;
  co.tls.context.max_version = PORTLS_TLS1_3;
  handshake(&t, &so, &co);
  const char *want = portls_has_capability(PORTLS_CAP_TLS1_3) ? "TLSv1.3" : "TLSv1.2";
  cr_assert_str_eq(st.client_protocol, want);
  cr_assert_str_eq(st.conn_protocol, want);
  h_finish(&t);
}

/* ---- bad combinations fail at context creation, naming the options ---- */

Test(versions, secure_protocol_with_min_or_max_version_is_ERR_TLS_PROTOCOL_VERSION_CONFLICT) {
  portls_context_options o;
  portls_context_options_init(&o);
  o.secure_protocol = "TLS_method";
  o.min_version = PORTLS_TLS1_2;
  expect_context_error(&o, PORTLS_EPROTOCOL_VERSION_CONFLICT, "minVersion", "TLSv1.2",
                       "secureProtocol", "TLS_method", NULL);
  o.min_version = PORTLS_TLS_ANY;
  o.max_version = PORTLS_TLS1_2;
  expect_context_error(&o, PORTLS_EPROTOCOL_VERSION_CONFLICT, "maxVersion", "secureProtocol", NULL);
  cr_assert_str_eq(portls_err_name(PORTLS_EPROTOCOL_VERSION_CONFLICT),
                   "ERR_TLS_PROTOCOL_VERSION_CONFLICT");
}

Test(versions, min_above_max_is_ERR_TLS_INVALID_PROTOCOL_VERSION_naming_both) {
  portls_context_options o;
  portls_context_options_init(&o);
  o.min_version = PORTLS_TLS1_2;
  o.max_version = PORTLS_TLS1_1;
  expect_context_error(&o, PORTLS_EPROTOCOL_VERSION, "minVersion TLSv1.2", "maxVersion TLSv1.1",
                       NULL);
  cr_assert_str_eq(portls_err_name(PORTLS_EPROTOCOL_VERSION), "ERR_TLS_INVALID_PROTOCOL_VERSION");
}

Test(versions, a_value_outside_the_enum_is_ERR_TLS_INVALID_PROTOCOL_VERSION) {
  portls_context_options o;
  portls_context_options_init(&o);
  o.min_version = (portls_tls_version)0x0300; /* SSLv3 */
  expect_context_error(&o, PORTLS_EPROTOCOL_VERSION, "minVersion", "0x0300", NULL);
  o.min_version = PORTLS_TLS_ANY;
  o.max_version = (portls_tls_version)5;
  expect_context_error(&o, PORTLS_EPROTOCOL_VERSION, "maxVersion", NULL);
}

/* mbedTLS 2.28 has no TLS 1.3: a minimum of TLS 1.3 fails when set. */
Test(versions, min_TLSv1_3_needs_capability_tls1_3) {
  portls_context_options o;
  portls_context_options_init(&o);
  o.min_version = PORTLS_TLS1_3;
  if (portls_has_capability(PORTLS_CAP_TLS1_3)) {
    expect_context_ok(&o);
    return;
  }
  expect_context_error(&o, PORTLS_ENOTSUP, "minVersion TLSv1.3", "'tls1.3'", portls_backend_name(),
                       NULL);
}

Test(versions, every_version_alone_is_accepted_where_the_backend_has_it) {
  static const struct {
    portls_tls_version v;
    portls_cap cap;
  } all[] = {{PORTLS_TLS1_0, PORTLS_CAP_TLS1_0},
             {PORTLS_TLS1_1, PORTLS_CAP_TLS1_1},
             {PORTLS_TLS1_2, PORTLS_CAP_TLS1_2},
             {PORTLS_TLS1_3, PORTLS_CAP_TLS1_3}};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
    portls_context_options o;
    portls_context_options_init(&o);
    o.min_version = o.max_version = all[i].v;
    if (portls_has_capability(all[i].cap)) {
      expect_context_ok(&o);
    } else {
      expect_context_error(&o, PORTLS_ENOTSUP, portls_tls_version_name(all[i].v),
                           portls_capability_name(all[i].cap), NULL);
    }
  }
}

/* ---- process defaults ---- */

Test(versions, version_names_are_Nodes) {
  cr_assert_str_eq(portls_tls_version_name(PORTLS_TLS1_0), "TLSv1");
  cr_assert_str_eq(portls_tls_version_name(PORTLS_TLS1_1), "TLSv1.1");
  cr_assert_str_eq(portls_tls_version_name(PORTLS_TLS1_2), "TLSv1.2");
  cr_assert_str_eq(portls_tls_version_name(PORTLS_TLS1_3), "TLSv1.3");
  cr_assert_null(portls_tls_version_name(PORTLS_TLS_ANY));
  cr_assert_eq(portls_tls_version_from_name("TLSv1.3"), PORTLS_TLS1_3);
  cr_assert_eq(portls_tls_version_from_name("TLSv1"), PORTLS_TLS1_0);
  cr_assert_eq(portls_tls_version_from_name("TLSv1.0"), PORTLS_TLS_ANY);
  cr_assert_eq(portls_tls_version_from_name("tlsv1.2"), PORTLS_TLS_ANY);
  cr_assert_eq(portls_tls_version_from_name(NULL), PORTLS_TLS_ANY);
}

Test(versions, default_setters_check_the_value_and_keep_the_old_one_on_error) {
  portls_error err = {0};
  cr_assert_eq(portls_default_min_version(), PORTLS_TLS_ANY);
  cr_assert_eq(portls_default_max_version(), PORTLS_TLS_ANY);
  cr_assert_eq(portls_set_default_min_version(PORTLS_TLS1_2, &err), 0);
  cr_assert_eq(portls_set_default_min_version((portls_tls_version)0x0300, &err),
               PORTLS_EPROTOCOL_VERSION);
  cr_assert(h_contains(err.message, "tls.DEFAULT_MIN_VERSION"), "%s", err.message);
  cr_assert_eq(portls_default_min_version(), PORTLS_TLS1_2);
  cr_assert_eq(portls_set_default_max_version((portls_tls_version)7, &err),
               PORTLS_EPROTOCOL_VERSION);
  cr_assert(h_contains(err.message, "tls.DEFAULT_MAX_VERSION"), "%s", err.message);
  cr_assert_eq(portls_set_default_max_version(PORTLS_TLS1_3, NULL), 0);
  cr_assert_eq(portls_default_max_version(), PORTLS_TLS1_3);
  cr_assert_eq(portls_set_default_min_version(PORTLS_TLS_ANY, NULL), 0);
  cr_assert_eq(portls_default_min_version(), PORTLS_TLS_ANY);
}

Test(versions, a_default_min_version_the_backend_lacks_fails_when_set) {
  portls_error err = {0};
  int rc = portls_set_default_min_version(PORTLS_TLS1_3, &err);
  if (portls_has_capability(PORTLS_CAP_TLS1_3)) {
    cr_assert_eq(rc, 0, "%s", err.message);
    cr_assert_eq(portls_default_min_version(), PORTLS_TLS1_3);
    return;
  }
  cr_assert_eq(rc, PORTLS_ENOTSUP, "got %s", portls_err_name(rc));
  cr_assert(h_contains(err.message, "tls.DEFAULT_MIN_VERSION TLSv1.3"), "%s", err.message);
  cr_assert(h_contains(err.message, "'tls1.3'"), "%s", err.message);
  cr_assert(h_contains(err.message, portls_backend_name()), "%s", err.message);
  cr_assert_eq(portls_default_min_version(), PORTLS_TLS_ANY);
  /* A maximum above the backend's highest is its highest: accepted. */
  cr_assert_eq(portls_set_default_max_version(PORTLS_TLS1_3, &err), 0, "%s", err.message);
}

/* tls.DEFAULT_MAX_VERSION = 'TLSv1.2': contexts made afterwards without a
 * maxVersion stop at TLS 1.2; an explicit maxVersion still wins. */
Test(versions, default_max_version_applies_to_contexts_without_max_version) {
  h_need_cap(PORTLS_CAP_TLS1_3);
  cr_assert_eq(portls_set_default_max_version(PORTLS_TLS1_2, NULL), 0);
  h_test t;
  seen st = {0};
  h_init(&t);
  t.user = &st;
  portls_server_options so;
  server_options(&t, &so);
  portls_connect_options co;
  client_options(&t, &co);
  handshake(&t, &so, &co);
  cr_assert_str_eq(st.client_protocol, "TLSv1.2");
  cr_assert_str_eq(st.conn_protocol, "TLSv1.2");
  h_finish(&t);

  memset(&st, 0, sizeof st);
  h_init(&t);
  t.user = &st;
  server_options(&t, &so);
  so.tls.context.max_version = PORTLS_TLS1_3;
  client_options(&t, &co);
  co.tls.context.max_version = PORTLS_TLS1_3;
  handshake(&t, &so, &co);
  cr_assert_str_eq(st.client_protocol, "TLSv1.3");
  h_finish(&t);
}

Test(versions, default_min_version_TLSv1_3_refuses_a_TLSv1_2_client) {
  h_need_cap(PORTLS_CAP_TLS1_3);
  cr_assert_eq(portls_set_default_min_version(PORTLS_TLS1_3, NULL), 0);
  h_test t;
  h_init(&t);
  portls_server_options so;
  server_options(&t, &so);
  portls_connect_options co;
  client_options(&t, &co);
  co.tls.context.min_version = PORTLS_TLS1_2; /* the client's own range wins for it */
  co.tls.context.max_version = PORTLS_TLS1_2;
  expect_refusal(&t, &so, &co, PORTLS_EVERSION);
  h_finish(&t);
}

Test(versions, a_default_that_conflicts_with_an_option_names_the_default) {
  h_need_cap(PORTLS_CAP_TLS1_3);
  cr_assert_eq(portls_set_default_min_version(PORTLS_TLS1_3, NULL), 0);
  portls_context_options o;
  portls_context_options_init(&o);
  o.max_version = PORTLS_TLS1_2;
  expect_context_error(&o, PORTLS_EPROTOCOL_VERSION, "tls.DEFAULT_MIN_VERSION", "TLSv1.3",
                       "maxVersion TLSv1.2", NULL);
  /* secureProtocol fixes the range itself: the defaults do not apply, and do not conflict. */
  o.max_version = PORTLS_TLS_ANY;
  o.secure_protocol = "TLSv1_2_method";
  expect_context_ok(&o);
}

/* ---- ecdhCurve: "auto" by default, and a client offers every group ---- */

Test(curves, auto_is_an_accepted_value_and_the_default_on_both_ends) {
  h_test t;
  seen st = {0};
  h_init(&t);
  t.user = &st;
  portls_server_options so;
  server_options(&t, &so);
  portls_connect_options co;
  client_options(&t, &co);
  co.tls.context.ecdh_curve = "auto";
  handshake(&t, &so, &co);
  cr_assert_eq(st.eph_rc, 0);
  cr_assert_str_eq(st.eph.type, "ECDH");
  /* Node >= 10's default: X25519 first, on every backend that has it. */
  cr_assert_str_eq(st.eph.name, "X25519", "got %s (%d bits)", st.eph.name, st.eph.size);
  cr_assert_eq(st.eph.size, 253);
  h_finish(&t);
}

Test(curves, prime256v1_is_one_option_away) {
  h_test t;
  seen st = {0};
  h_init(&t);
  t.user = &st;
  portls_server_options so;
  server_options(&t, &so);
  so.tls.context.ecdh_curve = "prime256v1";
  portls_connect_options co;
  client_options(&t, &co);
  handshake(&t, &so, &co);
  cr_assert_str_eq(st.eph.name, "prime256v1");
  cr_assert_eq(st.eph.size, 256);
  h_finish(&t);
}

/* The fix of issue 13: a default client reaches a server that allows only
 * secp384r1 (before, it offered the server default prime256v1 alone). */
static void default_client_reaches_secp384r1_server(portls_tls_version version) {
  h_test t;
  seen st = {0};
  h_init(&t);
  t.user = &st;
  portls_server_options so;
  server_options(&t, &so);
  so.tls.context.ecdh_curve = "secp384r1";
  so.tls.context.min_version = so.tls.context.max_version = version;
  portls_connect_options co;
  client_options(&t, &co);
  handshake(&t, &so, &co);
  cr_assert_str_eq(st.client_protocol, portls_tls_version_name(version));
  cr_assert_str_eq(st.eph.name, "secp384r1");
  cr_assert_eq(st.eph.size, 384);
  h_finish(&t);
}

Test(curves, a_default_client_reaches_a_secp384r1_only_server_over_TLSv1_2) {
  h_need_cap(PORTLS_CAP_TLS1_2);
  default_client_reaches_secp384r1_server(PORTLS_TLS1_2);
}

Test(curves, a_default_client_reaches_a_secp384r1_only_server_over_TLSv1_3) {
  h_need_cap(PORTLS_CAP_TLS1_3);
  default_client_reaches_secp384r1_server(PORTLS_TLS1_3); /* after a HelloRetryRequest */
}

/* ---- tls.connect's timeout ---- */

typedef struct timing {
  uint64_t started;
  uint64_t elapsed;
} timing;

static void note_error(h_side *s, h_event ev) {
  timing *tm = s->t->user;
  if (ev == H_ERROR) tm->elapsed = portls_loop_now(s->t->loop) - tm->started;
}

Test(connect_timeout, a_silent_server_gives_ETIMEDOUT_then_close_within_the_timeout) {
  h_test t;
  timing tm = {0};
  h_init(&t);
  t.user = &tm;
  h_listen_net(&t, NULL); /* accepts and never says a word */
  portls_connect_options co;
  client_options(&t, &co);
  co.host = "127.0.0.1";
  /* 300 ms, scaled under valgrind (PORTLS_TEST_SLOW), where setting up the
   * connection alone can take longer than that and the TCP connect must come
   * first for the log below. */
  const uint64_t limit = h_slow(300);
  char limit_text[32];
  snprintf(limit_text, sizeof limit_text, "%llu ms", (unsigned long long)limit);
  co.timeout_ms = limit;
  tm.started = portls_loop_now(t.loop);
  h_side *c = h_connect_tls(&t, &co);
  c->hook = note_error;
  h_run_until(&t, c->closed);
  cr_assert_str_eq(c->log, "connect error(ETIMEDOUT) close(1)");
  cr_assert_eq(c->err.code, PORTLS_ETIMEDOUT);
  cr_assert(h_contains(c->err.message, limit_text), "%s", c->err.message);
  cr_assert_geq(tm.elapsed, limit - 10, "timed out after %llu ms, not %llu",
                (unsigned long long)tm.elapsed, (unsigned long long)limit);
  cr_assert_lt(tm.elapsed, limit + h_slow(3000), "timed out after %llu ms",
               (unsigned long long)tm.elapsed);
  h_finish(&t);
}

Test(connect_timeout, is_cancelled_by_secureConnect_and_never_cuts_the_connection) {
  h_test t;
  h_init(&t);
  portls_server_options so;
  server_options(&t, &so);
  h_listen_tls(&t, &so);
  portls_connect_options co;
  client_options(&t, &co);
  /* Long enough for a first handshake under ASan or valgrind (about 150 ms
   * here), counted from the loop's time before the context was made. */
  co.timeout_ms = h_slow(1000);
  h_side *c = h_connect_tls(&t, &co);
  h_run_until(&t, c->count[H_SECURE] == 1);
  h_wait(&t, h_slow(1500)); /* past the timeout */
  cr_assert_eq(c->closed, 0, "%s", c->log);
  cr_assert_eq(c->count[H_ERROR], 0, "%s", c->log);
  cr_assert_eq(portls_socket_write(c->sock, "ping", 4), 1);
  portls_socket_end(c->sock, NULL, 0);
  h_run_all_closed(&t);
  cr_assert_eq(c->count[H_ERROR], 0, "%s", c->log);
  cr_assert_eq(c->had_error, 0);
  h_finish(&t);
}

/* tls.connect({socket}): the handshake over an existing socket is timed too. */
typedef struct over {
  h_test *t;
  portls_socket *tls;
  uint64_t started, elapsed;
  int code, closed, had_error;
} over;

static void over_error(portls_socket *sock, const portls_error *err, void *u) {
  over *o = u;
  (void)sock;
  o->code = err->code;
  o->elapsed = portls_loop_now(o->t->loop) - o->started;
}

static void over_close(portls_socket *sock, int had_error, void *u) {
  over *o = u;
  (void)sock;
  o->closed = 1;
  o->had_error = had_error;
}

static const portls_socket_events over_events = {.error = over_error, .close = over_close};

static void over_connect(portls_socket *sock, void *u) {
  over *o = u;
  portls_connect_options co;
  client_options(o->t, &co);
  co.socket = sock;
  co.timeout_ms = 250;
  co.events = &over_events;
  co.user = o;
  portls_error err = {0};
  o->started = portls_loop_now(o->t->loop);
  cr_assert_eq(portls_tls_connect(o->t->loop, &co, &o->tls, &err), 0, "%s", err.message);
}

Test(connect_timeout, a_handshake_over_a_given_socket_is_timed_too) {
  h_test t;
  static over o;
  memset(&o, 0, sizeof o);
  o.t = &t;
  h_init(&t);
  uint16_t port = h_listen_net(&t, NULL); /* silent */
  portls_net_connect_options no;
  portls_net_connect_options_init(&no);
  no.host = "127.0.0.1";
  no.port = port;
  portls_socket_events ev = {.connect = over_connect};
  no.events = &ev;
  no.user = &o;
  portls_socket *plain = NULL;
  cr_assert_eq(portls_net_connect(t.loop, &no, &plain, NULL), 0);
  h_run_until(&t, o.closed);
  cr_assert_eq(o.code, PORTLS_ETIMEDOUT, "got %s", portls_err_name(o.code));
  cr_assert_eq(o.had_error, 1);
  cr_assert_geq(o.elapsed, 240, "timed out after %llu ms", (unsigned long long)o.elapsed);
  h_finish(&t);
}
