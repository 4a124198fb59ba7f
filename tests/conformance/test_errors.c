/* Bad input and misbehaving peers: each is an error with a code and a
 * message, never a crash (ASan and valgrind check the "no leak" part). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/harness.h"

static void expect_error(int rc, const portls_error *err, int code, const char *what) {
  cr_assert_eq(rc, code, "%s: got %s (%s), want %s", what, portls_err_name(rc), err->message,
               portls_err_name(code));
  cr_assert_eq(err->code, code, "%s: err->code %s", what, portls_err_name(err->code));
  cr_assert_neq(err->message[0], '\0', "%s: empty message", what);
}

/* portls_context_new() must fail with `code`, leave *out NULL and say why. */
static void expect_context_error(const portls_context_options *o, int code, const char *what) {
  portls_context *ctx = NULL;
  portls_context **sentinel = &ctx;
  ctx = (portls_context *)sentinel; /* anything but NULL: must be reset */
  portls_error err = {0};
  int rc = portls_context_new(o, &ctx, &err);
  expect_error(rc, &err, code, what);
  cr_assert_null(ctx, "%s: *out must be NULL on failure", what);
}

static void expect_context_ok(const portls_context_options *o, const char *what) {
  portls_context *ctx = NULL;
  portls_error err = {0};
  int rc = portls_context_new(o, &ctx, &err);
  cr_assert_eq(rc, 0, "%s: %s %s", what, portls_err_name(rc), err.message);
  cr_assert_not_null(ctx);
  portls_context_free(ctx);
}

/* ---- files and keys ---- */

Test(bad_input, missing_key_file_is_ENOENT_from_read_file) {
  portls_buf b = {(const void *)"x", 1};
  portls_error err = {0};
  int rc = portls_read_file("/nonexistent/portls/server.key", &b, &err);
  expect_error(rc, &err, PORTLS_ENOENT, "read_file");
  cr_assert(h_contains(err.message, "/nonexistent/portls/server.key"), "message: %s", err.message);
  cr_assert_null(b.base);
  cr_assert_eq(b.len, 0);
}

Test(bad_input, key_that_does_not_match_the_certificate_is_EKEY_MISMATCH) {
  h_test t;
  h_init(&t);
  portls_context_options o;
  h_context_options(&t, &o, "mismatch.key", "server-rsa.crt", NULL);
  expect_context_error(&o, PORTLS_EKEY_MISMATCH, "mismatch.key + server-rsa.crt");
  h_finish(&t);
}

static const char *const encrypted_keys[] = {
    "server-rsa.enc-pkcs8-aes.key",
    "server-rsa.enc-pkcs8-des3.key",
    "server-rsa.enc-trad-aes.key",
    "server-rsa.enc-trad-des3.key",
};

static void encrypted_key_case(const char *passphrase, int code) {
  h_need_cap(PORTLS_CAP_ENCRYPTED_KEYS);
  for (size_t i = 0; i < 4; i++) {
    h_test t;
    h_init(&t);
    portls_context_options o;
    h_context_options(&t, &o, encrypted_keys[i], "server-rsa-chain.crt", NULL);
    o.passphrase = passphrase;
    if (code == 0)
      expect_context_ok(&o, encrypted_keys[i]);
    else
      expect_context_error(&o, code, encrypted_keys[i]);
    h_finish(&t);
  }
}

Test(bad_input, encrypted_key_with_a_wrong_passphrase_is_EBAD_PASSPHRASE) {
  encrypted_key_case("not-the-pass", PORTLS_EBAD_PASSPHRASE);
}

Test(bad_input, encrypted_key_without_a_passphrase_is_EBAD_PASSPHRASE) {
  encrypted_key_case(NULL, PORTLS_EBAD_PASSPHRASE);
}

Test(bad_input, encrypted_key_with_the_right_passphrase_loads_in_all_four_forms) {
  encrypted_key_case("portls-pass", 0);
}

static const char garbage_pem[] =
    "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END PRIVATE KEY-----\n";
static const char garbage_cert[] =
    "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
static const char not_pem[] = "this is not PEM at all\n";

Test(bad_input, garbage_key_is_EKEY) {
  h_test t;
  h_init(&t);
  portls_context_options o;
  h_context_options(&t, &o, NULL, "server-rsa-chain.crt", NULL);
  portls_buf key = {garbage_pem, sizeof garbage_pem - 1};
  o.key = &key;
  o.key_count = 1;
  expect_context_error(&o, PORTLS_EKEY, "garbage PEM key");
  key = (portls_buf){not_pem, sizeof not_pem - 1};
  expect_context_error(&o, PORTLS_EKEY, "non-PEM key");
  h_finish(&t);
}

Test(bad_input, garbage_certificate_is_ECERT) {
  h_test t;
  h_init(&t);
  portls_context_options o;
  h_context_options(&t, &o, "server-rsa.key", NULL, NULL);
  portls_buf cert = {garbage_cert, sizeof garbage_cert - 1};
  o.cert = &cert;
  o.cert_count = 1;
  expect_context_error(&o, PORTLS_ECERT, "garbage PEM cert");
  cert = (portls_buf){not_pem, sizeof not_pem - 1};
  expect_context_error(&o, PORTLS_ECERT, "non-PEM cert");
  h_finish(&t);
}

Test(bad_input, garbage_ca_is_ECERT) {
  portls_context_options o;
  portls_context_options_init(&o);
  portls_buf ca = {garbage_cert, sizeof garbage_cert - 1};
  o.ca = &ca;
  o.ca_count = 1;
  expect_context_error(&o, PORTLS_ECERT, "garbage ca");
}

Test(bad_input, key_count_different_from_cert_count_is_EINVAL) {
  h_test t;
  h_init(&t);
  portls_context_options o;
  h_context_options(&t, &o, "server-rsa.key", "server-rsa-chain.crt", NULL);
  portls_buf keys[2] = {*o.key, *h_file(&t, "server-ec.key")};
  o.key = keys;
  o.key_count = 2;
  expect_context_error(&o, PORTLS_EINVAL, "2 keys, 1 cert");
  o.key_count = 0;
  expect_context_error(&o, PORTLS_EINVAL, "0 keys, 1 cert");
  h_finish(&t);
}

/* ---- options ---- */

Test(bad_input, unknown_cipher_string_is_ECIPHERS) {
  portls_context_options o;
  portls_context_options_init(&o);
  o.ciphers = "NOT-A-CIPHER";
  expect_context_error(&o, PORTLS_ECIPHERS, "ciphers NOT-A-CIPHER");
  o.ciphers = "";
  expect_context_error(&o, PORTLS_ECIPHERS, "empty ciphers");
}

/* ecdhCurve "false" removes ECDHE key exchange: a list of ECDHE suites alone
 * is left with none. */
Test(bad_input, ecdh_curve_false_with_ECDHE_suites_alone_is_ECIPHERS) {
  portls_context_options o;
  portls_context_options_init(&o);
  o.ecdh_curve = "false";
  o.ciphers = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256";
  expect_context_error(&o, PORTLS_ECIPHERS, "ECDHE suites without ECDHE");
  o.ciphers = "ECDHE-RSA-AES128-GCM-SHA256:AES128-GCM-SHA256";
  expect_context_ok(&o, "one suite without ECDHE");
}

Test(bad_input, SSLv3_method_is_EPROTOCOL_METHOD) {
  portls_context_options o;
  portls_context_options_init(&o);
  o.secure_protocol = "SSLv3_method";
  expect_context_error(&o, PORTLS_EPROTOCOL_METHOD, "SSLv3_method");
  o.secure_protocol = "SSLv2_method";
  expect_context_error(&o, PORTLS_EPROTOCOL_METHOD, "SSLv2_method");
  o.secure_protocol = "Bogus_method";
  expect_context_error(&o, PORTLS_EPROTOCOL_METHOD, "Bogus_method");
}

Test(bad_input, ticket_keys_of_47_bytes_are_ETICKET_KEYS) {
  static const unsigned char keys[48] = {1};
  portls_context_options o;
  portls_context_options_init(&o);
  o.ticket_keys = (portls_buf){keys, 47};
  expect_context_error(&o, PORTLS_ETICKET_KEYS, "47-byte ticketKeys");
  o.ticket_keys = (portls_buf){keys, 49};
  expect_context_error(&o, PORTLS_ETICKET_KEYS, "49-byte ticketKeys");
}

Test(bad_input, empty_key_buffer_is_EINVAL) {
  portls_context_options o;
  portls_context_options_init(&o);
  portls_buf empty = {NULL, 0};
  o.key = &empty;
  o.cert = &empty;
  o.key_count = o.cert_count = 1;
  expect_context_error(&o, PORTLS_EINVAL, "empty key/cert");
}

static void expect_connect_alpn_error(portls_protocols p, const char *what) {
  h_test t;
  h_init(&t);
  portls_connect_options o;
  portls_connect_options_init(&o);
  o.port = 443;
  o.tls.alpn_protocols = p;
  portls_socket *s = NULL;
  portls_error err = {0};
  int rc = portls_tls_connect(t.loop, &o, &s, &err);
  expect_error(rc, &err, PORTLS_EALPN, what);
  cr_assert_null(s);
  h_finish(&t);
}

Test(bad_input, malformed_ALPN_wire_buffer_is_EALPN_for_a_client) {
  expect_connect_alpn_error((portls_protocols){.wire = {"\x05h2", 3}}, "length past the end");
  expect_connect_alpn_error((portls_protocols){.wire = {"\x02h2\x00", 4}}, "zero-length entry");
  static const char *const empty_name[] = {"h2", ""};
  expect_connect_alpn_error((portls_protocols){.names = empty_name, .count = 2}, "empty name");
  static char long_name[300];
  memset(long_name, 'a', sizeof long_name - 1);
  static const char *const too_long[] = {long_name};
  expect_connect_alpn_error((portls_protocols){.names = too_long, .count = 1}, "256+ byte name");
}

Test(bad_input, malformed_ALPN_wire_buffer_is_EALPN_for_a_server) {
  h_test t;
  h_init(&t);
  portls_server_options o;
  portls_server_options_init(&o);
  h_context_options(&t, &o.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  o.tls.alpn_protocols.wire = (portls_buf){"\x02h2\x09http/1.1", 12};
  portls_server *srv = NULL;
  portls_error err = {0};
  int rc = portls_tls_create_server(t.loop, &o, &srv, &err);
  expect_error(rc, &err, PORTLS_EALPN, "server ALPN wire");
  cr_assert_null(srv);
  h_finish(&t);
}

/* ---- misbehaving peers ---- */

static uint16_t tls_server(h_test *t, uint64_t handshake_timeout_ms) {
  portls_server_options o;
  portls_server_options_init(&o);
  h_context_options(t, &o.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  if (handshake_timeout_ms > 0) o.tls.handshake_timeout_ms = handshake_timeout_ms;
  return h_listen_tls(t, &o);
}

static h_side *plain_client(h_test *t, h_hook hook) {
  portls_net_connect_options o;
  portls_net_connect_options_init(&o);
  o.host = "127.0.0.1";
  h_side *c = h_connect_net(t, &o);
  c->hook = hook;
  return c;
}

static void http_request(h_side *s, h_event ev) {
  if (ev == H_CONNECT) portls_socket_write(s->sock, "GET / HTTP/1.0\r\n\r\n", 18);
}

static void end_on_secure(h_side *s, h_event ev) {
  if (ev == H_SECURE) portls_socket_end(s->sock, NULL, 0);
}

Test(bad_peer, garbage_instead_of_a_client_hello_is_one_client_error_and_the_server_keeps_serving) {
  h_test t;
  h_init(&t);
  tls_server(&t, 0);
  h_side *garbage = plain_client(&t, http_request);
  h_run_until(&t, garbage->closed && t.srv.client_errors > 0);
  cr_assert_eq(t.srv.client_errors, 1);
  cr_assert_eq(t.srv.client_err.code, PORTLS_EHTTP_REQUEST, "got %s (%s)",
               portls_err_name(t.srv.client_err.code), t.srv.client_err.message);
  cr_assert_neq(t.srv.client_err.message[0], '\0');
  cr_assert_eq(t.srv.secure_connections, 0);
  /* A proper client still gets in. */
  portls_connect_options o;
  portls_connect_options_init(&o);
  h_context_options(&t, &o.tls.context, NULL, NULL, "ca.crt");
  h_side *good = h_connect_tls(&t, &o);
  good->hook = end_on_secure;
  h_run_all_closed(&t);
  cr_assert_str_eq(good->log, "connect secureConnect end close(0)");
  cr_assert_eq(t.srv.client_errors, 1, "clientError must fire once per bad connection");
  cr_assert_eq(t.srv.secure_connections, 1);
  h_finish(&t);
}

static void destroy_on_connect(h_side *s, h_event ev) {
  if (ev == H_CONNECT) portls_socket_destroy(s->sock, NULL);
}

Test(bad_peer, peer_that_disconnects_before_the_handshake_is_client_error_ECONNRESET) {
  h_test t;
  h_init(&t);
  tls_server(&t, 0);
  plain_client(&t, destroy_on_connect);
  h_run_until(&t, t.srv.client_errors > 0 && portls_server_connections(t.srv.srv) == 0);
  cr_assert_str_eq(t.srv.log, "listening clientError(ECONNRESET)");
  cr_assert_eq(t.srv.client_err.code, PORTLS_ECONNRESET);
  cr_assert_neq(t.srv.client_err.message[0], '\0');
  h_finish(&t);
}

/* A TLS record header announcing a 512-byte ClientHello, and only its start. */
static const unsigned char half_hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01,
                                           0xfc, 0x03, 0x03, 0x11, 0x22, 0x33, 0x44};

static void half_hello_then_end(h_side *s, h_event ev) {
  if (ev == H_CONNECT) portls_socket_end(s->sock, half_hello, sizeof half_hello);
}

Test(bad_peer, peer_that_leaves_in_the_middle_of_a_client_hello_is_client_error_ECONNRESET) {
  h_test t;
  h_init(&t);
  tls_server(&t, 0);
  plain_client(&t, half_hello_then_end);
  h_run_until(&t, t.srv.client_errors > 0 && portls_server_connections(t.srv.srv) == 0);
  cr_assert_str_eq(t.srv.log, "listening clientError(ECONNRESET)");
  cr_assert_eq(t.srv.client_err.code, PORTLS_ECONNRESET);
  h_finish(&t);
}

static void end_on_connection(h_side *s, h_event ev) {
  if (ev == H_CONNECT) portls_socket_end(s->sock, NULL, 0);
}

Test(bad_peer,
     plain_server_that_closes_at_once_gives_the_tls_client_ECONNRESET_with_Nodes_message) {
  h_test t;
  h_init(&t);
  t.srv.conn_hook = end_on_connection;
  h_listen_net(&t, NULL);
  portls_connect_options o;
  portls_connect_options_init(&o);
  h_context_options(&t, &o.tls.context, NULL, NULL, "ca.crt");
  o.host = "127.0.0.1";
  h_side *c = h_connect_tls(&t, &o);
  h_run_all_closed(&t);
  cr_assert_str_eq(c->log, "connect error(ECONNRESET) close(1)");
  cr_assert_eq(c->err.code, PORTLS_ECONNRESET);
  cr_assert_str_eq(
      c->err.message,
      "Client network socket disconnected before secure TLS connection was established");
  h_finish(&t);
}

typedef struct timing {
  uint64_t connected_at;
} timing;

static void silent_client(h_side *s, h_event ev) {
  timing *tm = s->t->user;
  if (ev == H_CONNECT) tm->connected_at = portls_loop_now(s->t->loop);
}

Test(bad_peer, client_that_never_sends_gets_client_error_EHANDSHAKE_TIMEOUT) {
  h_test t;
  timing tm = {0};
  h_init(&t);
  t.user = &tm;
  tls_server(&t, 200);
  h_side *c = plain_client(&t, silent_client);
  h_run_until(&t, t.srv.client_errors > 0);
  uint64_t elapsed = portls_loop_now(t.loop) - tm.connected_at;
  cr_assert_str_eq(t.srv.log, "listening clientError(ERR_TLS_HANDSHAKE_TIMEOUT)");
  cr_assert_eq(t.srv.client_err.code, PORTLS_EHANDSHAKE_TIMEOUT);
  cr_assert_neq(t.srv.client_err.message[0], '\0');
  cr_assert_geq(elapsed, 190, "timed out after %llu ms, not 200", (unsigned long long)elapsed);
  h_run_until(&t, c->closed);
  cr_assert_eq(c->count[H_DATA], 0);
  h_finish(&t);
}

/* ---- the same mistake, the same code on every backend ----
 *
 * Node's names (what Node 20 reports for each, checked against it): the
 * libraries' own reasons are mapped onto them, and an alert the peer sent is
 * named after the alert (errors.h). */

/* A plain TCP client sends `text` to a TLS server: one clientError, `code`. */
static void plain_text_to_a_tls_server(const char *text, int code) {
  h_test t;
  h_init(&t);
  tls_server(&t, 0);
  h_side *c = plain_client(&t, NULL);
  h_run_until(&t, c->count[H_CONNECT] == 1);
  portls_socket_write(c->sock, text, strlen(text));
  h_run_until(&t, c->closed && t.srv.client_errors > 0);
  cr_assert_eq(t.srv.client_errors, 1);
  cr_assert_eq(t.srv.client_err.code, code, "%s: got %s (%s), want %s", text,
               portls_err_name(t.srv.client_err.code), t.srv.client_err.message,
               portls_err_name(code));
  h_finish(&t);
}

Test(same_mistake_same_code, plain_HTTP_sent_to_a_TLS_server_is_ERR_SSL_HTTP_REQUEST) {
  plain_text_to_a_tls_server("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", PORTLS_EHTTP_REQUEST);
  plain_text_to_a_tls_server("POST /x HTTP/1.1\r\n\r\n", PORTLS_EHTTP_REQUEST);
  plain_text_to_a_tls_server("HEAD / HTTP/1.0\r\n\r\n", PORTLS_EHTTP_REQUEST);
  plain_text_to_a_tls_server("PUT /x HTTP/1.1\r\n\r\n", PORTLS_EHTTP_REQUEST);
}

Test(same_mistake_same_code, a_proxy_CONNECT_sent_to_a_TLS_server_is_ERR_SSL_HTTPS_PROXY_REQUEST) {
  plain_text_to_a_tls_server("CONNECT localhost:443 HTTP/1.1\r\n\r\n", PORTLS_EHTTPS_PROXY_REQUEST);
}

Test(same_mistake_same_code, other_text_sent_to_a_TLS_server_is_ERR_SSL_WRONG_VERSION_NUMBER) {
  plain_text_to_a_tls_server("HELO mail.example.com\r\n", PORTLS_EWRONG_VERSION_NUMBER);
}

static void answer_in_plain_http(h_side *s, h_event ev) {
  if (ev == H_DATA && s->sock != NULL)
    portls_socket_end(s->sock, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", 47);
}

Test(same_mistake_same_code,
     a_TLS_client_answered_in_plain_HTTP_gets_ERR_SSL_WRONG_VERSION_NUMBER) {
  h_test t;
  h_init(&t);
  t.srv.conn_hook = answer_in_plain_http;
  h_listen_net(&t, NULL);
  portls_connect_options o;
  portls_connect_options_init(&o);
  h_context_options(&t, &o.tls.context, NULL, NULL, "ca.crt");
  h_side *c = h_connect_tls(&t, &o);
  h_run_all_closed(&t);
  cr_assert_str_eq(c->log, "connect error(ERR_SSL_WRONG_VERSION_NUMBER) close(1)");
  cr_assert_eq(c->err.code, PORTLS_EWRONG_VERSION_NUMBER, "%s", c->err.message);
  h_finish(&t);
}

/* A handshake both sides refuse: the server's clientError and the client's
 * error, each with its code; nobody is secure. */
static void expect_refusal(h_test *t, portls_server_options *so, portls_connect_options *co,
                           int server_code, int client_code) {
  h_listen_tls(t, so);
  h_side *c = h_connect_tls(t, co);
  h_run_until(t,
              c->closed && t->srv.client_errors > 0 && portls_server_connections(t->srv.srv) == 0);
  cr_assert_eq(t->srv.client_errors, 1);
  cr_assert_eq(t->srv.client_err.code, server_code, "server: got %s (%s), want %s",
               portls_err_name(t->srv.client_err.code), t->srv.client_err.message,
               portls_err_name(server_code));
  cr_assert_eq(c->count[H_SECURE], 0, "%s", c->log);
  cr_assert_eq(c->err.code, client_code, "client: got %s (%s), want %s",
               portls_err_name(c->err.code), c->err.message, portls_err_name(client_code));
  cr_assert_eq(t->srv.secure_connections, 0);
}

static void tls_client_options(h_test *t, portls_connect_options *o, const char *method) {
  portls_connect_options_init(o);
  h_context_options(t, &o->tls.context, NULL, NULL, "ca.crt");
  o->tls.context.secure_protocol = method;
}

/* Node: the server says ERR_SSL_NO_SHARED_CIPHER (over TLS 1.3,
 * ERR_SSL_NO_SUITABLE_SIGNATURE_ALGORITHM: portls says no shared cipher then
 * too, see README), the client gets its handshake_failure alert. */
static void server_without_a_certificate(const char *method) {
  h_test t;
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  portls_connect_options co;
  tls_client_options(&t, &co, method);
  expect_refusal(&t, &so, &co, PORTLS_ENO_SHARED_CIPHER, PORTLS_EALERT_HANDSHAKE_FAILURE);
  h_finish(&t);
}

Test(same_mistake_same_code, a_server_without_a_certificate_is_ERR_SSL_NO_SHARED_CIPHER) {
  server_without_a_certificate(NULL);
}

Test(same_mistake_same_code, a_TLSv1_2_server_without_a_certificate_is_ERR_SSL_NO_SHARED_CIPHER) {
  h_need_cap(PORTLS_CAP_TLS1_2);
  server_without_a_certificate("TLSv1_2_method");
}

Test(same_mistake_same_code, no_suite_in_common_is_ERR_SSL_NO_SHARED_CIPHER_and_handshake_failure) {
  h_need_cap(PORTLS_CAP_TLS1_2);
  h_test t;
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  so.tls.context.secure_protocol = "TLSv1_2_method";
  so.tls.context.ciphers = "AES128-SHA";
  portls_connect_options co;
  tls_client_options(&t, &co, "TLSv1_2_method");
  co.tls.context.ciphers = "AES256-SHA";
  expect_refusal(&t, &so, &co, PORTLS_ENO_SHARED_CIPHER, PORTLS_EALERT_HANDSHAKE_FAILURE);
  h_finish(&t);
}

/* Versions without one in common: ERR_SSL_UNSUPPORTED_PROTOCOL on both
 * sides, whichever of them notices (it depends on the library: a TLS 1.2
 * ClientHello does not say the client's minimum). Node names the alert the
 * other side then gets (ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION); see README. */
static void version_mismatch(const char *server_method, const char *client_method) {
  h_test t;
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  so.tls.context.secure_protocol = server_method;
  portls_connect_options co;
  tls_client_options(&t, &co, client_method);
  expect_refusal(&t, &so, &co, PORTLS_EVERSION, PORTLS_EVERSION);
  h_finish(&t);
}

Test(same_mistake_same_code,
     a_TLSv1_only_server_and_a_default_client_are_ERR_SSL_UNSUPPORTED_PROTOCOL) {
  h_need_cap(PORTLS_CAP_TLS1_0);
  version_mismatch("TLSv1_method", NULL);
}

Test(same_mistake_same_code, a_TLSv1_2_server_and_a_TLSv1_client_are_ERR_SSL_UNSUPPORTED_PROTOCOL) {
  h_need_cap(PORTLS_CAP_TLS1_0);
  h_need_cap(PORTLS_CAP_TLS1_2);
  version_mismatch("TLSv1_2_method", "TLSv1_method");
}

Test(same_mistake_same_code,
     a_TLSv1_3_server_and_a_TLSv1_2_client_are_ERR_SSL_UNSUPPORTED_PROTOCOL) {
  h_need_cap(PORTLS_CAP_TLS1_3);
  version_mismatch("TLSv1_3_method", "TLSv1_2_method");
  version_mismatch("TLSv1_2_method", "TLSv1_3_method");
}

/* ---- NULL arguments ---- */

static void nop_timer(portls_timer *timer, void *user) {
  (void)timer;
  (void)user;
}

Test(null_args, loop_timer_and_file_functions_return_EINVAL) {
  portls_loop *loop = NULL;
  portls_timer *timer = NULL;
  portls_buf b;
  portls_error err = {0};
  cr_assert_eq(portls_loop_new(NULL), PORTLS_EINVAL);
  cr_assert_eq(portls_loop_run(NULL), PORTLS_EINVAL);
  cr_assert_eq(portls_loop_run_once(NULL, 0), PORTLS_EINVAL);
  cr_assert_eq(portls_loop_run_once(NULL, 1), PORTLS_EINVAL);
  cr_assert_eq(portls_loop_free(NULL), PORTLS_EINVAL);
  cr_assert_eq(portls_loop_now(NULL), 0);
  portls_loop_stop(NULL);
  cr_assert_eq(portls_timer_new(NULL, nop_timer, NULL, &timer), PORTLS_EINVAL);
  cr_assert_eq(portls_loop_new(&loop), 0);
  cr_assert_eq(portls_timer_new(loop, NULL, NULL, &timer), PORTLS_EINVAL);
  cr_assert_eq(portls_timer_new(loop, nop_timer, NULL, NULL), PORTLS_EINVAL);
  cr_assert_eq(portls_timer_start(NULL, 1, 0), PORTLS_EINVAL);
  portls_timer_stop(NULL);
  portls_timer_free(NULL);
  cr_assert_eq(portls_loop_free(loop), 0);
  cr_assert_eq(portls_read_file(NULL, &b, &err), PORTLS_EINVAL);
  cr_assert_eq(err.code, PORTLS_EINVAL);
  cr_assert_eq(portls_read_file("/dev/null", NULL, NULL), PORTLS_EINVAL);
  portls_free(NULL);
}

Test(null_args, context_functions_return_EINVAL_or_do_nothing) {
  portls_error err = {0};
  portls_context_options o;
  portls_context_options_init(&o);
  cr_assert_eq(portls_context_new(&o, NULL, &err), PORTLS_EINVAL);
  cr_assert_eq(err.code, PORTLS_EINVAL);
  cr_assert_eq(portls_context_new(&o, NULL, NULL), PORTLS_EINVAL);
  cr_assert_null(portls_context_ref(NULL));
  portls_context_free(NULL);
  portls_context_options_init(NULL);
  o.key_count = 1; /* a count without an array */
  o.cert_count = 1;
  expect_context_error(&o, PORTLS_EINVAL, "key_count 1, key NULL");
  portls_context_options_init(&o);
  o.ca_count = 1;
  expect_context_error(&o, PORTLS_EINVAL, "ca_count 1, ca NULL");
}

typedef struct null_state {
  int checked;
} null_state;

/* Every socket function with NULL, and with a real socket and a NULL output. */
static void null_checks_on(h_side *s, h_event ev) {
  null_state *st = s->t->user;
  if (ev != H_CONNECT) return;
  portls_socket *sock = s->sock;
  cr_expect_eq(portls_socket_write(sock, NULL, 1), PORTLS_EINVAL);
  cr_expect_eq(portls_socket_address(sock, NULL), PORTLS_EINVAL);
  cr_expect_eq(portls_socket_remote_address(sock, NULL), PORTLS_EINVAL);
  cr_expect_eq(portls_socket_get_cipher(sock, NULL), PORTLS_EINVAL);
  cr_expect_eq(portls_socket_get_peer_certificate(sock, 0, NULL, NULL), PORTLS_EINVAL);
  cr_expect_eq(portls_socket_get_ephemeral_key_info(sock, NULL), PORTLS_EINVAL);
  cr_expect_eq(portls_socket_get_session(sock, NULL), PORTLS_EINVAL);
  st->checked = 1;
  portls_socket_destroy(sock, NULL);
}

Test(null_args, socket_functions_return_EINVAL_or_nothing) {
  portls_address a;
  portls_cipher c;
  portls_cert *cert = NULL;
  portls_ephemeral_key_info info;
  portls_buf session;
  portls_error err = {0};
  cr_assert_eq(portls_socket_set_events(NULL, NULL, NULL), PORTLS_EINVAL);
  cr_assert_null(portls_socket_user(NULL));
  cr_assert_eq(portls_socket_write(NULL, "x", 1), PORTLS_EINVAL);
  cr_assert_eq(portls_socket_end(NULL, NULL, 0), PORTLS_EINVAL);
  portls_socket_destroy(NULL, NULL);
  portls_socket_destroy(NULL, &err);
  portls_socket_pause(NULL);
  portls_socket_resume(NULL);
  cr_assert_eq(portls_socket_set_timeout(NULL, 10), PORTLS_EINVAL);
  cr_assert_eq(portls_socket_set_no_delay(NULL, 1), PORTLS_EINVAL);
  cr_assert_eq(portls_socket_set_keep_alive(NULL, 1, 1000), PORTLS_EINVAL);
  cr_assert_eq(portls_socket_address(NULL, &a), PORTLS_EINVAL);
  cr_assert_eq(portls_socket_remote_address(NULL, &a), PORTLS_EINVAL);
  cr_assert_eq(portls_socket_buffer_size(NULL), 0);
  cr_assert_eq(portls_socket_bytes_read(NULL), 0);
  cr_assert_eq(portls_socket_bytes_written(NULL), 0);
  cr_assert_eq(portls_socket_transport_bytes_written(NULL), 0);
  cr_assert_eq(portls_socket_encrypted(NULL), 0);
  cr_assert_eq(portls_socket_authorized(NULL), 0);
  cr_assert_eq(portls_socket_authorization_error(NULL), 0);
  cr_assert_null(portls_socket_servername(NULL));
  cr_assert_null(portls_socket_alpn_protocol(NULL));
  cr_assert_null(portls_socket_npn_protocol(NULL));
  cr_assert_null(portls_socket_get_protocol(NULL));
  cr_assert_eq(portls_socket_get_cipher(NULL, &c), PORTLS_EINVAL);
  cr_assert_eq(portls_socket_get_peer_certificate(NULL, 1, &cert, &err), PORTLS_EINVAL);
  cr_assert_eq(err.code, PORTLS_EINVAL);
  cr_assert_null(cert);
  cr_assert_eq(portls_socket_get_ephemeral_key_info(NULL, &info), PORTLS_EINVAL);
  cr_assert_eq(portls_socket_get_session(NULL, &session), PORTLS_EINVAL);
  cr_assert_eq(portls_socket_is_session_reused(NULL), 0);
  cr_assert_eq(portls_socket_set_max_send_fragment(NULL, 1024), 0);

  h_test t;
  null_state st = {0};
  h_init(&t);
  t.user = &st;
  h_listen_net(&t, NULL);
  portls_net_connect_options o;
  portls_net_connect_options_init(&o);
  o.host = "127.0.0.1";
  h_side *s = h_connect_net(&t, &o);
  s->hook = null_checks_on;
  h_run_all_closed(&t);
  cr_assert_eq(st.checked, 1);
  h_finish(&t);
}

Test(null_args, connect_functions_return_EINVAL) {
  h_test t;
  h_init(&t);
  portls_socket *s = NULL;
  portls_error err = {0};
  portls_net_connect_options no;
  portls_net_connect_options_init(&no);
  no.port = 1;
  portls_connect_options to;
  portls_connect_options_init(&to);
  to.port = 1;
  portls_net_connect_options_init(NULL);
  portls_connect_options_init(NULL);
  cr_assert_eq(portls_net_connect(NULL, &no, &s, &err), PORTLS_EINVAL);
  cr_assert_eq(err.code, PORTLS_EINVAL);
  cr_assert_eq(portls_net_connect(t.loop, NULL, &s, NULL), PORTLS_EINVAL);
  cr_assert_eq(portls_net_connect(t.loop, &no, NULL, NULL), PORTLS_EINVAL);
  cr_assert_eq(portls_tls_connect(NULL, &to, &s, NULL), PORTLS_EINVAL);
  cr_assert_eq(portls_tls_connect(t.loop, NULL, &s, NULL), PORTLS_EINVAL);
  cr_assert_eq(portls_tls_connect(t.loop, &to, NULL, NULL), PORTLS_EINVAL);
  cr_assert_null(s);
  h_finish(&t);
}

Test(null_args, server_functions_return_EINVAL_or_do_nothing) {
  h_test t;
  h_init(&t);
  portls_server *srv = NULL;
  portls_address a;
  portls_error err = {0};
  portls_server_options o;
  portls_server_options_init(&o);
  portls_server_options_init(NULL);
  cr_assert_eq(portls_net_create_server(NULL, &o, &srv, &err), PORTLS_EINVAL);
  cr_assert_eq(err.code, PORTLS_EINVAL);
  cr_assert_eq(portls_net_create_server(t.loop, &o, NULL, NULL), PORTLS_EINVAL);
  cr_assert_eq(portls_tls_create_server(NULL, &o, &srv, NULL), PORTLS_EINVAL);
  cr_assert_eq(portls_tls_create_server(t.loop, &o, NULL, NULL), PORTLS_EINVAL);
  cr_assert_null(srv);
  cr_assert_eq(portls_server_set_events(NULL, NULL, NULL), PORTLS_EINVAL);
  cr_assert_null(portls_server_user(NULL));
  cr_assert_eq(portls_server_listen(NULL, "127.0.0.1", 0, 0, NULL), PORTLS_EINVAL);
  cr_assert_eq(portls_server_listen_path(NULL, "/tmp/x.sock", 0, NULL), PORTLS_EINVAL);
  cr_assert_eq(portls_server_address(NULL, &a), PORTLS_EINVAL);
  portls_server_close(NULL);
  cr_assert_eq(portls_server_connections(NULL), 0);
  portls_server_set_max_connections(NULL, 1);
  h_listen_net(&t, NULL);
  cr_assert_eq(portls_server_listen_path(t.srv.srv, NULL, 0, NULL), PORTLS_EINVAL);
  cr_assert_eq(portls_server_address(t.srv.srv, NULL), PORTLS_EINVAL);
  h_finish(&t);
}

Test(null_args, certificate_functions_return_EINVAL_or_NULL) {
  portls_cert *cert = NULL;
  portls_error err = {0};
  const void *ders[1] = {"x"};
  size_t lens[1] = {1};
  cr_assert_eq(portls_cert_parse_der(NULL, 10, &cert, &err), PORTLS_EINVAL);
  cr_assert_eq(err.code, PORTLS_EINVAL);
  cr_assert_eq(portls_cert_parse_der("x", 1, NULL, NULL), PORTLS_EINVAL);
  cr_assert_eq(portls_cert_parse_pem(NULL, 10, &cert, NULL), PORTLS_EINVAL);
  cr_assert_eq(portls_cert_parse_pem("x", 1, NULL, NULL), PORTLS_EINVAL);
  cr_assert_eq(portls_cert_parse_chain(NULL, lens, 1, &cert, NULL), PORTLS_EINVAL);
  cr_assert_eq(portls_cert_parse_chain(ders, NULL, 1, &cert, NULL), PORTLS_EINVAL);
  cr_assert_eq(portls_cert_parse_chain(ders, lens, 1, NULL, NULL), PORTLS_EINVAL);
  cr_assert_null(cert);
  portls_cert_free(NULL);
  cr_assert_null(portls_cert_to_json(NULL));
  cr_assert_eq(portls_check_server_identity("localhost", NULL, &err), PORTLS_EINVAL);

  h_test t;
  h_init(&t);
  const portls_buf *pem = h_file(&t, "server-rsa.crt");
  cr_assert_eq(portls_cert_parse_pem(pem->base, pem->len, &cert, &err), 0, "%s", err.message);
  cr_assert_eq(portls_check_server_identity(NULL, cert, &err), PORTLS_EINVAL);
  cr_assert_eq(portls_check_server_identity("localhost", cert, &err), 0, "%s", err.message);
  portls_cert_free(cert);
  h_finish(&t);
}

Test(null_args, library_queries_tolerate_unknown_values) {
  cr_assert_null(portls_capability_name(PORTLS_CAP_COUNT_));
  cr_assert_null(portls_capability_description(PORTLS_CAP_COUNT_));
  cr_assert_eq(portls_has_capability(PORTLS_CAP_COUNT_), 0);
  cr_assert_str_eq(portls_err_name(12345), "UNKNOWN");
  cr_assert_not_null(portls_strerror(12345));
  cr_assert_eq(portls_err_is_verify(PORTLS_ECONNRESET), 0);
  cr_assert_eq(portls_err_is_verify(PORTLS_ECERT_HAS_EXPIRED), 1);
  const char *const *names = NULL;
  size_t n = portls_get_ciphers(&names);
  cr_assert_gt(n, 0);
  cr_assert_not_null(names);
  cr_assert_not_null(portls_default_ciphers());
}
