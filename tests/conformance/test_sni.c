/* SNI on the server: server.addContext() with wildcards, and an asynchronous
 * SNICallback, answered by core from its own ClientHello parser so that it
 * works the same on every backend. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/harness.h"
#include "portls/portls.h"

static portls_context *make_ctx(h_test *t, const char *key, const char *cert) {
  portls_context_options o;
  h_context_options(t, &o, key, cert, NULL);
  portls_context *ctx = NULL;
  portls_error err;
  cr_assert_eq(portls_context_new(&o, &ctx, &err), 0, "%s", err.message);
  return ctx;
}

typedef struct seen {
  int secure;
  int authorized;
  int authz_error;
  char key_type[16];
  char san[256];
} seen;

static void record_peer(h_side *side, h_event ev) {
  seen *sn = side->ctx;
  if (ev != H_SECURE) return;
  sn->secure++;
  sn->authorized = portls_socket_authorized(side->sock);
  sn->authz_error = portls_socket_authorization_error(side->sock);
  portls_cert *cert = NULL;
  cr_assert_eq(portls_socket_get_peer_certificate(side->sock, 0, &cert, NULL), 0);
  snprintf(sn->key_type, sizeof sn->key_type, "%s", cert->pubkey_type ? cert->pubkey_type : "");
  snprintf(sn->san, sizeof sn->san, "%s", cert->subjectaltname ? cert->subjectaltname : "");
  portls_cert_free(cert);
  portls_socket_end(side->sock, NULL, 0);
}

/* Connects with servername (NULL: none) and records what the client saw. */
static void connect_as(h_test *t, const char *servername, int reject, seen *out) {
  portls_connect_options o;
  portls_connect_options_init(&o);
  h_context_options(t, &o.tls.context, NULL, NULL, "ca.crt");
  o.host = "127.0.0.1";
  o.tls.servername = servername;
  o.tls.reject_unauthorized = reject;
  h_side *c = h_connect_tls(t, &o);
  c->hook = record_peer;
  c->ctx = out;
  h_run_until(t, c->closed);
}

static uint16_t sni_server(h_test *t, portls_sni_cb cb, void *user) {
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  so.sni_callback = cb;
  so.sni_user = user;
  return h_listen_tls(t, &so);
}

Test(sni_contexts, a_matching_context_serves_the_named_host_and_others_get_the_default) {
  h_test t;
  h_init(&t);
  sni_server(&t, NULL, NULL);
  portls_context *wrong = make_ctx(&t, "wrong-host.key", "wrong-host-chain.crt");
  cr_assert_eq(portls_server_add_context(t.srv.srv, "*.example.com", wrong, NULL), 0);
  portls_context_free(wrong); /* the server holds its own reference */
  seen a = {0}, b = {0}, c = {0};
  connect_as(&t, "wrong.example.com", 1, &a);
  cr_assert_eq(a.secure, 1);
  cr_assert_eq(a.authorized, 1, "the added context's certificate names the host");
  cr_assert(strstr(a.san, "wrong.example.com") != NULL, "%s", a.san);
  connect_as(&t, "WRONG.Example.COM", 1, &b);
  cr_assert_eq(b.authorized, 1, "matching ignores case");
  connect_as(&t, "localhost", 1, &c);
  cr_assert(strstr(c.san, "DNS:localhost") != NULL, "no match keeps the default: %s", c.san);
  cr_assert_eq(c.authorized, 1);
  h_run_all_closed(&t);
  h_finish(&t);
}

static void remember_servername(h_side *side, h_event ev) {
  if (ev == H_SECURE) {
    const char *n = portls_socket_servername(side->sock);
    snprintf((char *)side->t->user, 64, "%s", n ? n : "(none)");
  }
}

Test(sni_contexts, the_server_socket_reports_the_name_the_client_sent_or_none) {
  h_test t;
  h_init(&t);
  static char name[64];
  t.user = name;
  sni_server(&t, NULL, NULL);
  portls_context *wrong = make_ctx(&t, "wrong-host.key", "wrong-host-chain.crt");
  cr_assert_eq(portls_server_add_context(t.srv.srv, "wrong.example.com", wrong, NULL), 0);
  portls_context_free(wrong);
  t.srv.conn_hook = remember_servername;
  seen a = {0}, b = {0};
  connect_as(&t, "wrong.example.com", 1, &a);
  cr_assert_str_eq(name, "wrong.example.com");
  connect_as(&t, NULL, 0, &b); /* an IP host and no servername: no SNI at all */
  cr_assert_str_eq(name, "(none)");
  cr_assert(strstr(b.san, "DNS:localhost") != NULL);
  h_run_all_closed(&t);
  h_finish(&t);
}

Test(sni_contexts, the_most_recently_added_matching_context_wins_as_in_node) {
  h_test t;
  h_init(&t);
  sni_server(&t, NULL, NULL);
  portls_context *wrong = make_ctx(&t, "wrong-host.key", "wrong-host-chain.crt");
  portls_context *ec = make_ctx(&t, "server-ec.key", "server-ec-chain.crt");
  cr_assert_eq(portls_server_add_context(t.srv.srv, "*.example.com", wrong, NULL), 0);
  cr_assert_eq(portls_server_add_context(t.srv.srv, "wrong.example.com", ec, NULL), 0);
  portls_context_free(wrong);
  portls_context_free(ec);
  seen a = {0}, b = {0};
  connect_as(&t, "wrong.example.com", 0, &a);
  cr_assert_str_eq(a.key_type, "EC");
  connect_as(&t, "other.example.com", 0,
             &b); /* only the wildcard matches (its cert names wrong.example.com) */
  cr_assert_str_eq(b.key_type, "RSA");
  cr_assert(strstr(b.san, "wrong.example.com") != NULL);
  h_run_all_closed(&t);
  h_finish(&t);
}

Test(sni_contexts, add_context_rejects_bad_arguments) {
  h_test t;
  h_init(&t);
  sni_server(&t, NULL, NULL);
  portls_context *ctx = make_ctx(&t, "server-ec.key", "server-ec-chain.crt");
  portls_error err;
  cr_assert_eq(portls_server_add_context(t.srv.srv, "", ctx, &err), PORTLS_EINVAL);
  cr_assert_eq(portls_server_add_context(t.srv.srv, "a.example", NULL, &err), PORTLS_EINVAL);
  cr_assert_eq(portls_server_add_context(NULL, "a.example", ctx, &err), PORTLS_EINVAL);
  portls_context_free(ctx);
  h_finish(&t);
}

/* ---- SNICallback ---- */

typedef struct sni_cb_state {
  h_test *t;
  int calls;
  char name[64];
  portls_sni_request *pending;
  portls_context *answer;
  int fail;
} sni_cb_state;

static void answer_later(portls_timer *timer, void *user) {
  sni_cb_state *st = user;
  portls_error e = {PORTLS_ENOENT, "no certificate for this name"};
  cr_assert_eq(portls_sni_request_done(st->pending, st->answer, st->fail ? &e : NULL), 0);
  cr_assert_eq(portls_sni_request_done(st->pending, st->answer, NULL), PORTLS_EINVAL,
               "a second answer");
  portls_timer_free(timer);
}

static void sni_cb(portls_server *srv, const char *servername, portls_sni_request *req,
                   void *user) {
  (void)srv;
  sni_cb_state *st = user;
  st->calls++;
  snprintf(st->name, sizeof st->name, "%s", servername);
  st->pending = req;
  /* As if the context had to be fetched over the network. */
  portls_timer *timer;
  cr_assert_eq(portls_timer_new(st->t->loop, answer_later, st, &timer), 0);
  portls_timer_start(timer, 100, 0);
}

Test(sni_callback, is_answered_asynchronously_and_its_context_serves_the_connection) {
  h_test t;
  h_init(&t);
  static sni_cb_state st;
  memset(&st, 0, sizeof st);
  st.t = &t;
  sni_server(&t, sni_cb, &st);
  st.answer = make_ctx(&t, "wrong-host.key", "wrong-host-chain.crt");
  seen a = {0};
  connect_as(&t, "wrong.example.com", 1, &a);
  cr_assert_eq(st.calls, 1);
  cr_assert_str_eq(st.name, "wrong.example.com");
  cr_assert_eq(a.authorized, 1);
  cr_assert(strstr(a.san, "wrong.example.com") != NULL);
  /* No SNI: the callback is not asked, the default context serves. */
  seen b = {0};
  connect_as(&t, NULL, 0, &b);
  cr_assert_eq(st.calls, 1);
  cr_assert(strstr(b.san, "DNS:localhost") != NULL);
  portls_context_free(st.answer);
  h_run_all_closed(&t);
  h_finish(&t);
}

Test(sni_callback, an_error_ends_that_connection_with_client_error_and_the_server_goes_on) {
  h_test t;
  h_init(&t);
  static sni_cb_state st;
  memset(&st, 0, sizeof st);
  st.t = &t;
  st.fail = 1;
  sni_server(&t, sni_cb, &st);
  seen a = {0};
  connect_as(&t, "wrong.example.com", 1, &a);
  cr_assert_eq(a.secure, 0);
  cr_assert_eq(t.srv.client_errors, 1, "%s", t.srv.log);
  cr_assert_eq(t.srv.client_err.code, PORTLS_ENOENT);
  cr_assert(strstr(t.srv.client_err.message, "no certificate for this name") != NULL);
  cr_assert_eq(t.client[0].count[H_ERROR], 1, "the client sees its connection fail");
  st.fail = 0;
  st.answer = NULL; /* keep the server's own context */
  seen b = {0};
  connect_as(&t, "localhost", 1, &b);
  cr_assert_eq(b.secure, 1, "the server still serves");
  cr_assert_eq(t.srv.client_errors, 1);
  h_run_all_closed(&t);
  h_finish(&t);
}

static void sni_never(portls_server *srv, const char *servername, portls_sni_request *req,
                      void *user) {
  (void)srv, (void)servername;
  *(portls_sni_request **)user = req; /* never answered while the connection lives */
}

Test(sni_callback, an_unanswered_callback_is_cut_off_by_the_handshake_timeout) {
  h_test t;
  h_init(&t);
  static portls_sni_request *req;
  req = NULL;
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  so.sni_callback = sni_never;
  so.sni_user = &req;
  so.tls.handshake_timeout_ms = h_slow(500);
  h_listen_tls(&t, &so);
  seen a = {0};
  connect_as(&t, "localhost", 1, &a);
  cr_assert_eq(t.srv.client_errors, 1);
  cr_assert_eq(t.srv.client_err.code, PORTLS_EHANDSHAKE_TIMEOUT);
  cr_assert_not_null(req);
  h_run_all_closed(&t);
  /* Answering after the connection has gone is harmless. */
  cr_assert_eq(portls_sni_request_done(req, NULL, NULL), 0);
  h_finish(&t);
}

/* ---- large ClientHellos: several records, through the ClientHello stage ---- */

/* An ALPN list of n distinct names of len bytes each, in wire form. */
static uint8_t *alpn_wire(size_t n, size_t len, size_t *out_len) {
  uint8_t *w = malloc(n * (len + 1));
  cr_assert_not_null(w);
  for (size_t i = 0; i < n; i++) {
    uint8_t *p = w + i * (len + 1);
    p[0] = (uint8_t)len;
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%zu", i);
    memset(p + 1, 'a' + (int)(i % 26), len);
    memcpy(p + 1, digits, (size_t)n); /* no NUL inside */
  }
  *out_len = n * (len + 1);
  return w;
}

/* Keeps the negotiated protocol in side->ctx (a char[256]) and ends. */
static void end_when_secure(h_side *side, h_event ev) {
  if (ev != H_SECURE) return;
  const char *alpn = portls_socket_alpn_protocol(side->sock);
  snprintf(side->ctx, 256, "%s", alpn ? alpn : "");
  portls_socket_end(side->sock, NULL, 0);
}

/* A client offering 40 KiB of ALPN names sends a ClientHello of three
 * records; the server's SNICallback is asked, the handshake completes, and
 * the server picks the last name of the list. */
Test(sni_callback, a_40_KiB_hello_in_several_records_is_asked_about_and_completes) {
  if (strcmp(portls_backend_name(), "mbedtls") == 0)
    cr_skip_test("mbedTLS 2.28 neither sends nor takes a ClientHello over one record");
  h_test t;
  h_init(&t);
  static sni_cb_state st;
  memset(&st, 0, sizeof st);
  st.t = &t;
  size_t wire_len;
  uint8_t *wire = alpn_wire(200, 200, &wire_len);
  static char last[201];
  memcpy(last, wire + wire_len - 200, 200);
  const char *server_alpn[] = {"h2", last};
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  so.sni_callback = sni_cb;
  so.sni_user = &st;
  so.tls.alpn_protocols.names = server_alpn;
  so.tls.alpn_protocols.count = 2;
  /* BoringSSL takes handshake messages over 16 KiB only from a peer it asks
   * for a certificate; the client has none to give, and need not. */
  so.tls.request_cert = 1;
  so.tls.reject_unauthorized = 0;
  h_listen_tls(&t, &so);
  portls_connect_options o;
  portls_connect_options_init(&o);
  h_context_options(&t, &o.tls.context, NULL, NULL, "ca.crt");
  o.host = "127.0.0.1";
  o.tls.servername = "localhost";
  o.tls.alpn_protocols.wire = (portls_buf){wire, wire_len};
  h_side *c = h_connect_tls(&t, &o);
  static char chosen[256];
  chosen[0] = '\0';
  c->hook = end_when_secure;
  c->ctx = chosen;
  h_run_until(&t, c->closed);
  cr_assert_eq(st.calls, 1, "%s", t.srv.log);
  cr_assert_str_eq(st.name, "localhost");
  cr_assert_eq(c->count[H_SECURE], 1, "client: %s; server: %s %s", c->log, t.srv.log,
               t.srv.client_err.message);
  cr_assert_eq(t.srv.client_errors, 0, "%s", t.srv.client_err.message);
  cr_assert_str_eq(chosen, last, "the whole list reached the server");
  free(wire);
  h_run_all_closed(&t);
  h_finish(&t);
}

/* Sends side->ctx's bytes (a struct raw) once connected. */
typedef struct raw {
  const uint8_t *bytes;
  size_t len;
} raw;

static void send_raw(h_side *side, h_event ev) {
  const raw *r = side->ctx;
  if (ev == H_CONNECT) portls_socket_write(side->sock, r->bytes, r->len);
}

/* What a plain TCP client gets back for these bytes from a server whose
 * ClientHello stage refuses them: a fatal alert, then the end. */
static void expect_alert(h_test *t, const uint8_t *bytes, size_t len, uint8_t alert,
                         const char *message) {
  static raw r;
  r.bytes = bytes;
  r.len = len;
  int before = t->srv.client_errors;
  portls_net_connect_options o;
  portls_net_connect_options_init(&o);
  o.host = "127.0.0.1";
  h_side *c = h_connect_net(t, &o);
  c->hook = send_raw;
  c->ctx = &r;
  h_run_until(t, c->closed && t->srv.client_errors > before);
  const uint8_t record[7] = {21, 3, 3, 0, 2, 2, alert};
  cr_assert_eq(c->rx_len, sizeof record, "%s: %zu bytes back", message, c->rx_len);
  cr_assert_arr_eq(c->rx, record, sizeof record, "%s: alert %u expected, got %u", message, alert,
                   c->rx[6]);
  cr_assert_eq(t->srv.client_err.code, PORTLS_EPROTO);
  cr_assert(h_contains(t->srv.client_err.message, message), "%s", t->srv.client_err.message);
}

Test(sni_callback, a_hello_refused_before_the_backend_gets_a_fatal_alert) {
  h_test t;
  h_init(&t);
  static sni_cb_state st;
  memset(&st, 0, sizeof st);
  st.t = &t;
  sni_server(&t, sni_cb, &st);
  /* A ClientHello announcing 70000 bytes: refused at its header. */
  static const uint8_t big[] = {0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x01, 0x11, 0x70};
  expect_alert(&t, big, sizeof big, 40, "exceeds 65536");
  /* Another handshake message first. */
  static const uint8_t server_hello[] = {0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00};
  expect_alert(&t, server_hello, sizeof server_hello, 10, "ClientHello expected");
  /* A session id of 33 bytes: malformed. */
  static uint8_t bad[9 + 2 + 32 + 1 + 33];
  size_t body = sizeof bad - 9;
  memcpy(bad, "\x16\x03\x01\x00\x00\x01\x00\x00\x00", 9);
  bad[3] = (uint8_t)((body + 4) >> 8), bad[4] = (uint8_t)(body + 4);
  bad[7] = (uint8_t)(body >> 8), bad[8] = (uint8_t)body;
  bad[9] = 3, bad[10] = 3;
  bad[9 + 2 + 32] = 33;
  expect_alert(&t, bad, sizeof bad, 50, "session_id of 33 bytes");
  cr_assert_eq(st.calls, 0);
  h_run_all_closed(&t);
  h_finish(&t);
}
