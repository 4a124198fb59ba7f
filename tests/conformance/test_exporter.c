/* exportKeyingMaterial, getFinished / getPeerFinished, getSharedSigalgs and
 * the sigalgs option, and the server's ALPNCallback: both sides of one
 * loopback connection, on every backend (skipping by capability). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/harness.h"

#define EKM_LEN 40

/* What one side saw once secure. */
typedef struct ekm_side {
  int done;
  int rc[6];
  uint8_t plain[EKM_LEN]; /* label "EXPERIMENTAL-portls", no context */
  uint8_t other[EKM_LEN]; /* another label */
  uint8_t ctx[EKM_LEN];   /* with context "abc" */
  uint8_t ctx2[EKM_LEN];  /* with context "abd" */
  uint8_t empty[EKM_LEN]; /* with an empty (not absent) context */
  uint8_t long_out[300];  /* more than one hash block */
  uint8_t fin[PORTLS_FINISHED_MAX], peer_fin[PORTLS_FINISHED_MAX];
  int fin_len, peer_fin_len;
  portls_error fin_err;
  char sigalgs[512];
  int sigalgs_rc;
  size_t sigalgs_count;
  char protocol[16];
  char alpn[32];
  uint8_t session[8192]; /* client: getSession() once secure */
  size_t session_len;
  int reused;
} ekm_side;

typedef struct ekm_state {
  ekm_side client, conn;
  int wait_ms; /* the server side records after this long (a rested session) */
} ekm_state;

static void record(portls_socket *s, ekm_side *e) {
  portls_error err;
  static const char label[] = "EXPERIMENTAL-portls";
  e->rc[0] = portls_socket_export_keying_material(s, EKM_LEN, label, NULL, 0, e->plain, &err);
  e->rc[1] = portls_socket_export_keying_material(s, EKM_LEN, "EXPERIMENTAL-other", NULL, 0,
                                                  e->other, &err);
  e->rc[2] = portls_socket_export_keying_material(s, EKM_LEN, label, "abc", 3, e->ctx, &err);
  e->rc[3] = portls_socket_export_keying_material(s, EKM_LEN, label, "abd", 3, e->ctx2, &err);
  e->rc[4] = portls_socket_export_keying_material(s, EKM_LEN, label, "", 0, e->empty, &err);
  e->rc[5] = portls_socket_export_keying_material(s, sizeof e->long_out, label, NULL, 0,
                                                  e->long_out, &err);
  e->fin_len = portls_socket_get_finished(s, e->fin, sizeof e->fin, &e->fin_err);
  e->peer_fin_len = portls_socket_get_peer_finished(s, e->peer_fin, sizeof e->peer_fin, &err);
  const char **names = NULL;
  e->sigalgs_rc = portls_socket_get_shared_sigalgs(s, &names, &e->sigalgs_count, &err);
  for (size_t i = 0; e->sigalgs_rc == 0 && i < e->sigalgs_count; i++) {
    size_t len = strlen(e->sigalgs);
    snprintf(e->sigalgs + len, sizeof e->sigalgs - len, "%s%s", i ? ":" : "", names[i]);
  }
  portls_free(names);
  const char *p = portls_socket_get_protocol(s);
  snprintf(e->protocol, sizeof e->protocol, "%s", p ? p : "");
  p = portls_socket_alpn_protocol(s);
  snprintf(e->alpn, sizeof e->alpn, "%s", p ? p : "");
  e->reused = portls_socket_is_session_reused(s);
  portls_buf sess;
  if (portls_socket_get_session(s, &sess) == 0) {
    if (sess.len <= sizeof e->session) {
      memcpy(e->session, sess.base, sess.len);
      e->session_len = sess.len;
    }
    portls_free((void *)sess.base);
  }
  e->done = 1;
}

static void client_hook(h_side *s, h_event ev) {
  ekm_state *st = s->t->user;
  if (ev == H_SECURE) record(s->sock, &st->client);
  if (ev == H_DATA) portls_socket_end(s->sock, NULL, 0); /* the server has recorded */
}

static void conn_hook(h_side *s, h_event ev) {
  ekm_state *st = s->t->user;
  if (ev != H_SECURE) return;
  if (st->wait_ms > 0) return; /* recorded by the test after the wait */
  record(s->sock, &st->conn);
  portls_socket_write(s->sock, "x", 1);
}

/* A server with key/cert and a client trusting ca.crt; version "TLSv1_2_method" or NULL. */
static void run(h_test *t, ekm_state *st, const char *key, const char *cert, const char *version,
                const char *server_sigalgs, const char *client_sigalgs) {
  portls_server_options so;
  portls_server_options_init(&so);
  so.rest_min_connections = 1; /* every connection may rest */
  h_context_options(t, &so.tls.context, key, cert, NULL);
  so.tls.context.sigalgs = server_sigalgs;
  portls_connect_options co;
  portls_connect_options_init(&co);
  h_context_options(t, &co.tls.context, NULL, NULL, "ca.crt");
  co.host = "localhost";
  co.tls.context.secure_protocol = version;
  co.tls.context.sigalgs = client_sigalgs;
  t->user = st;
  t->srv.conn_hook = conn_hook;
  h_listen_tls(t, &so);
  h_side *c = h_connect_tls(t, &co);
  c->hook = client_hook;
  if (st->wait_ms > 0) {
    h_run_until(t, st->client.done && t->nconns > 0 && t->conn[0].count[H_SECURE] > 0);
    h_wait(t, (uint64_t)st->wait_ms);
    record(t->conn[0].sock, &st->conn);
    portls_socket_write(t->conn[0].sock, "x", 1);
  }
  h_run_all_closed(t);
}

static void check_exports(const ekm_state *st, int tls13) {
  for (int i = 0; i < 6; i++) {
    cr_assert_eq(st->client.rc[i], 0, "client export %d: %s", i, portls_err_name(st->client.rc[i]));
    cr_assert_eq(st->conn.rc[i], 0, "server export %d: %s", i, portls_err_name(st->conn.rc[i]));
  }
  cr_assert(memcmp(st->client.plain, st->conn.plain, EKM_LEN) == 0, "both sides agree");
  cr_assert(memcmp(st->client.ctx, st->conn.ctx, EKM_LEN) == 0, "both sides agree, context");
  cr_assert(memcmp(st->client.empty, st->conn.empty, EKM_LEN) == 0);
  cr_assert(memcmp(st->client.long_out, st->conn.long_out, sizeof st->conn.long_out) == 0);
  cr_assert(memcmp(st->client.plain, st->client.other, EKM_LEN) != 0, "labels differ");
  cr_assert(memcmp(st->client.ctx, st->client.ctx2, EKM_LEN) != 0, "contexts differ");
  cr_assert(memcmp(st->client.plain, st->client.ctx, EKM_LEN) != 0, "a context changes it");
  /* RFC 5705: an empty context is not an absent one; RFC 8446 7.5: it is. */
  if (tls13)
    cr_assert(memcmp(st->client.plain, st->client.empty, EKM_LEN) == 0);
  else
    cr_assert(memcmp(st->client.plain, st->client.empty, EKM_LEN) != 0);
  /* The TLS 1.2 PRF is a stream: a longer export starts with the shorter
   * one. TLS 1.3 puts the length into HKDF-Expand-Label: it does not. */
  if (tls13)
    cr_assert(memcmp(st->client.plain, st->client.long_out, EKM_LEN) != 0);
  else
    cr_assert(memcmp(st->client.plain, st->client.long_out, EKM_LEN) == 0);
}

Test(exporter, both_sides_export_the_same_material_tls12) {
  h_need_cap(PORTLS_CAP_EXPORTER);
  h_need_cap(PORTLS_CAP_TLS1_2);
  h_test t;
  ekm_state st = {0};
  h_init(&t);
  run(&t, &st, "server-rsa.key", "server-rsa-chain.crt", "TLSv1_2_method", NULL, NULL);
  cr_assert_str_eq(st.client.protocol, "TLSv1.2");
  check_exports(&st, 0);
  h_finish(&t);
}

Test(exporter, both_sides_export_the_same_material_tls13) {
  h_need_cap(PORTLS_CAP_EXPORTER);
  h_need_cap(PORTLS_CAP_TLS1_3);
  h_test t;
  ekm_state st = {0};
  h_init(&t);
  run(&t, &st, "server-rsa.key", "server-rsa-chain.crt", NULL, NULL, NULL);
  cr_assert_str_eq(st.client.protocol, "TLSv1.3");
  check_exports(&st, 1);
  h_finish(&t);
}

/* A resumed TLS 1.2 session exports from its own handshake's randoms: both
 * sides agree, and not with the first connection. */
Test(exporter, a_resumed_tls12_session_exports_the_same_material_on_both_sides) {
  h_need_cap(PORTLS_CAP_EXPORTER);
  h_need_cap(PORTLS_CAP_TLS1_2);
  h_need_cap(PORTLS_CAP_SESSION_TICKETS);
  h_test t;
  static ekm_state first, second;
  memset(&first, 0, sizeof first);
  memset(&second, 0, sizeof second);
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  so.rest_min_connections = 1; /* every connection may rest */
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  t.user = &first;
  t.srv.conn_hook = conn_hook;
  h_listen_tls(&t, &so);
  portls_connect_options co;
  portls_connect_options_init(&co);
  h_context_options(&t, &co.tls.context, NULL, NULL, "ca.crt");
  co.host = "localhost";
  co.tls.context.secure_protocol = "TLSv1_2_method";
  h_side *c = h_connect_tls(&t, &co);
  c->hook = client_hook;
  h_run_until(&t, c->closed && t.nconns == 1 && t.conn[0].closed);
  cr_assert(first.client.session_len > 0, "no session: %s", c->log);
  t.user = &second;
  co.tls.session = (portls_buf){first.client.session, first.client.session_len};
  c = h_connect_tls(&t, &co);
  c->hook = client_hook;
  h_run_all_closed(&t);
  cr_assert_eq(second.client.reused, 1, "not resumed: %s", c->log);
  cr_assert_eq(second.conn.reused, 1);
  check_exports(&second, 0);
  cr_assert(memcmp(first.client.plain, second.client.plain, EKM_LEN) != 0,
            "a resumption has new randoms, so new material");
  h_finish(&t);
}

/* A quiet TLS 1.3 server connection rests (idle-release): what it exports,
 * and its Finished and sigalgs, stay what they were. */
Test(exporter, a_rested_server_connection_exports_the_same_material) {
  h_need_cap(PORTLS_CAP_EXPORTER);
  h_need_cap(PORTLS_CAP_IDLE_RELEASE);
  h_test t;
  ekm_state st = {.wait_ms = 600};
  h_init(&t);
  run(&t, &st, "server-rsa.key", "server-rsa-chain.crt", NULL, NULL, NULL);
  cr_assert_str_eq(st.conn.protocol, "TLSv1.3");
  check_exports(&st, 1);
  if (portls_has_capability(PORTLS_CAP_FINISHED)) {
    cr_assert_eq(st.conn.fin_len, st.client.peer_fin_len);
    cr_assert(memcmp(st.conn.fin, st.client.peer_fin, (size_t)st.conn.fin_len) == 0);
  }
  if (portls_has_capability(PORTLS_CAP_SHARED_SIGALGS)) {
    cr_assert_eq(st.conn.sigalgs_rc, 0);
    cr_assert(st.conn.sigalgs_count > 0, "a server lists what it shares with the client");
  }
  h_finish(&t);
}

static void export_errors(h_side *s, h_event ev) {
  if (ev != H_SECURE) return;
  uint8_t out[16];
  portls_error err;
  int rc = portls_socket_export_keying_material(s->sock, 0, "x", NULL, 0, out, &err);
  cr_assert_eq(rc, PORTLS_EINVAL);
  cr_assert(h_contains(err.message, "exportKeyingMaterial"), "%s", err.message);
  rc = portls_socket_export_keying_material(s->sock, 16, NULL, NULL, 0, out, &err);
  cr_assert_eq(rc, PORTLS_EINVAL);
  rc = portls_socket_export_keying_material(s->sock, 16, "key expansion", NULL, 0, out, &err);
  cr_assert_eq(rc, PORTLS_EINVAL, "RFC 5705 reserves it in TLS 1.2: %s", portls_err_name(rc));
  cr_assert(h_contains(err.message, "reserved"), "%s", err.message);
  rc = portls_socket_export_keying_material(s->sock, 16, "master secretly", NULL, 0, out, &err);
  cr_assert_eq(rc, PORTLS_EINVAL, "a prefix is reserved too, as in OpenSSL");
  uint8_t small[4];
  rc = portls_socket_get_finished(s->sock, small, sizeof small, &err);
  if (portls_has_capability(PORTLS_CAP_FINISHED)) cr_assert_eq(rc, PORTLS_EINVAL, "cap too small");
  *(int *)s->ctx = 1;
  portls_socket_end(s->sock, NULL, 0);
}

Test(exporter, bad_arguments_and_reserved_labels_are_refused) {
  h_need_cap(PORTLS_CAP_EXPORTER);
  h_need_cap(PORTLS_CAP_TLS1_2);
  h_test t;
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  so.rest_min_connections = 1; /* every connection may rest */
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  h_listen_tls(&t, &so);
  portls_connect_options co;
  portls_connect_options_init(&co);
  h_context_options(&t, &co.tls.context, NULL, NULL, "ca.crt");
  co.host = "localhost";
  co.tls.context.secure_protocol = "TLSv1_2_method";
  h_side *c = h_connect_tls(&t, &co);
  int checked = 0;
  c->ctx = &checked;
  /* Before the handshake: not connected. */
  uint8_t out[16];
  portls_error err;
  cr_assert_eq(portls_socket_export_keying_material(c->sock, 16, "x", NULL, 0, out, &err),
               PORTLS_ENOTCONN);
  cr_assert_eq(portls_socket_export_keying_material(NULL, 16, "x", NULL, 0, out, &err),
               PORTLS_EINVAL);
  c->hook = export_errors;
  h_run_all_closed(&t);
  cr_assert_eq(checked, 1, "%s", c->log);
  h_finish(&t);
}

static void check_finished(const ekm_state *st, size_t want_len) {
  cr_assert_eq(st->client.fin_len, (int)want_len, "getFinished: %d (%s)", st->client.fin_len,
               st->client.fin_err.message);
  cr_assert_eq(st->conn.fin_len, (int)want_len);
  cr_assert_eq(st->client.peer_fin_len, (int)want_len);
  cr_assert_eq(st->conn.peer_fin_len, (int)want_len);
  cr_assert(memcmp(st->client.fin, st->conn.peer_fin, want_len) == 0,
            "the client's Finished is what the server received");
  cr_assert(memcmp(st->conn.fin, st->client.peer_fin, want_len) == 0,
            "the server's Finished is what the client received");
  cr_assert(memcmp(st->client.fin, st->client.peer_fin, want_len) != 0, "the two differ");
}

Test(finished, each_side_getfinished_is_the_other_side_getpeerfinished_tls12) {
  h_need_cap(PORTLS_CAP_TLS1_2);
  h_test t;
  ekm_state st = {0};
  h_init(&t);
  run(&t, &st, "server-rsa.key", "server-rsa-chain.crt", "TLSv1_2_method", NULL, NULL);
  if (st.client.fin_len == PORTLS_ENOTSUP && !portls_has_capability(PORTLS_CAP_FINISHED))
    cr_skip_test("backend %s tells no Finished: %s", portls_backend_name(),
                 st.client.fin_err.message);
  check_finished(&st, 12);
  h_finish(&t);
}

Test(finished, each_side_getfinished_is_the_other_side_getpeerfinished_tls13) {
  h_need_cap(PORTLS_CAP_TLS1_3);
  h_test t;
  ekm_state st = {0};
  h_init(&t);
  run(&t, &st, "server-rsa.key", "server-rsa-chain.crt", NULL, NULL, NULL);
  if (!portls_has_capability(PORTLS_CAP_FINISHED)) {
    /* The backend does not tell it in TLS 1.3: an error naming the backend. */
    cr_assert_eq(st.client.fin_len, PORTLS_ENOTSUP);
    cr_assert(h_contains(st.client.fin_err.message, portls_backend_name()), "%s",
              st.client.fin_err.message);
  } else {
    /* The suite's hash length: 32 (SHA-256) or 48 (SHA-384). */
    cr_assert(st.client.fin_len == 32 || st.client.fin_len == 48, "%d", st.client.fin_len);
    check_finished(&st, (size_t)st.client.fin_len);
  }
  h_finish(&t);
}

/* ---- sigalgs ---- */

Test(sigalgs, one_algorithm_on_the_server_is_the_only_shared_one) {
  h_need_cap(PORTLS_CAP_SIGALGS);
  h_need_cap(PORTLS_CAP_SHARED_SIGALGS);
  h_test t;
  ekm_state st = {0};
  h_init(&t);
  run(&t, &st, "server-ec.key", "server-ec-chain.crt", "TLSv1_2_method", "ECDSA+SHA256", NULL);
  cr_assert_eq(t.client[0].count[H_ERROR], 0, "%s", t.client[0].log);
  cr_assert_eq(st.conn.sigalgs_rc, 0);
  cr_assert_str_eq(st.conn.sigalgs, "ECDSA+SHA256");
  h_finish(&t);
}

Test(sigalgs, the_default_shares_node_names) {
  h_need_cap(PORTLS_CAP_SHARED_SIGALGS);
  h_test t;
  ekm_state st = {0};
  h_init(&t);
  run(&t, &st, "server-rsa.key", "server-rsa-chain.crt", NULL, NULL, NULL);
  cr_assert(h_contains(st.conn.sigalgs, "RSA-PSS+SHA256"), "%s", st.conn.sigalgs);
  cr_assert(h_contains(st.conn.sigalgs, "ECDSA+SHA256"), "%s", st.conn.sigalgs);
  cr_assert(h_contains(st.conn.sigalgs, "Ed25519+UNDEF"), "Node's name: %s", st.conn.sigalgs);
  h_finish(&t);
}

Test(sigalgs, no_algorithm_in_common_fails_the_handshake) {
  h_need_cap(PORTLS_CAP_SIGALGS);
  h_test t;
  ekm_state st = {0};
  h_init(&t);
  /* An RSA server; a client that accepts ECDSA signatures only. */
  run(&t, &st, "server-rsa.key", "server-rsa-chain.crt", NULL, NULL, "ECDSA+SHA256");
  cr_assert_eq(st.client.done, 0, "no secureConnect: %s", t.client[0].log);
  cr_assert_eq(t.client[0].count[H_ERROR], 1, "%s", t.client[0].log);
  cr_assert_eq(t.srv.client_errors, 1, "%s", t.srv.log);
  h_finish(&t);
}

static void expect_context_error(const char *sigalgs, int code, const char *needle) {
  portls_context_options o;
  portls_context_options_init(&o);
  o.sigalgs = sigalgs;
  portls_context *ctx = NULL;
  portls_error err = {0};
  int rc = portls_context_new(&o, &ctx, &err);
  cr_assert_eq(rc, code, "sigalgs \"%s\": %s (%s)", sigalgs, portls_err_name(rc), err.message);
  cr_assert_null(ctx);
  cr_assert(h_contains(err.message, "sigalgs"), "names the option: %s", err.message);
  if (needle != NULL) cr_assert(h_contains(err.message, needle), "%s", err.message);
}

Test(sigalgs, bad_lists_are_refused_naming_the_option) {
  if (!portls_has_capability(PORTLS_CAP_SIGALGS)) {
    expect_context_error("ECDSA+SHA256", PORTLS_ENOTSUP, "sigalgs");
    return;
  }
  expect_context_error("", PORTLS_EINVAL, "empty");
  expect_context_error("ECDSA+SHA256::RSA+SHA256", PORTLS_EINVAL, "empty entry");
  expect_context_error("ECDSA+SHA256 RSA+SHA256", PORTLS_EINVAL, "character");
  expect_context_error("BOGUS+SHA256", PORTLS_EINVAL, "BOGUS");
}

/* ---- ALPNCallback ---- */

typedef struct alpn_seen {
  int calls;
  char servername[64];
  char list[128];
  const char *answer; /* what the callback returns */
} alpn_seen;

static const char *alpn_cb(portls_server *server, portls_socket *sock, const char *servername,
                           const char *const *protocols, size_t count, void *user) {
  alpn_seen *a = user;
  (void)server;
  cr_assert_not_null(sock);
  a->calls++;
  snprintf(a->servername, sizeof a->servername, "%s", servername ? servername : "(none)");
  a->list[0] = '\0';
  for (size_t i = 0; i < count; i++) {
    size_t len = strlen(a->list);
    snprintf(a->list + len, sizeof a->list - len, "%s%s", i ? "," : "", protocols[i]);
  }
  return a->answer;
}

static void alpn_run(h_test *t, ekm_state *st, alpn_seen *a, const char *const *client,
                     size_t nclient) {
  portls_server_options so;
  portls_server_options_init(&so);
  so.rest_min_connections = 1; /* every connection may rest */
  h_context_options(t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  so.alpn_callback = alpn_cb;
  so.alpn_user = a;
  portls_connect_options co;
  portls_connect_options_init(&co);
  h_context_options(t, &co.tls.context, NULL, NULL, "ca.crt");
  co.host = "localhost";
  co.tls.servername = "localhost";
  co.tls.alpn_protocols.names = client;
  co.tls.alpn_protocols.count = nclient;
  t->user = st;
  t->srv.conn_hook = conn_hook;
  h_listen_tls(t, &so);
  h_side *c = h_connect_tls(t, &co);
  c->hook = client_hook;
  h_run_all_closed(t);
}

Test(alpn_callback, sees_the_client_list_and_servername_and_its_choice_is_agreed) {
  h_need_cap(PORTLS_CAP_ALPN);
  static const char *const client[] = {"h2", "http/1.1", "acme"};
  h_test t;
  ekm_state st = {0};
  alpn_seen a = {.answer = "http/1.1"};
  h_init(&t);
  alpn_run(&t, &st, &a, client, 3);
  cr_assert_eq(a.calls, 1);
  cr_assert_str_eq(a.list, "h2,http/1.1,acme");
  cr_assert_str_eq(a.servername, "localhost");
  cr_assert_str_eq(st.client.alpn, "http/1.1", "%s", t.client[0].log);
  cr_assert_str_eq(st.conn.alpn, "http/1.1");
  h_finish(&t);
}

Test(alpn_callback, not_called_when_the_client_offers_no_alpn) {
  h_need_cap(PORTLS_CAP_ALPN);
  h_test t;
  ekm_state st = {0};
  alpn_seen a = {.answer = "h2"};
  h_init(&t);
  alpn_run(&t, &st, &a, NULL, 0);
  cr_assert_eq(a.calls, 0);
  cr_assert(st.client.done, "%s", t.client[0].log);
  cr_assert_str_eq(st.client.alpn, "");
  h_finish(&t);
}

Test(alpn_callback, returning_null_rejects_with_no_application_protocol) {
  h_need_cap(PORTLS_CAP_ALPN);
  static const char *const client[] = {"h2"};
  h_test t;
  ekm_state st = {0};
  alpn_seen a = {.answer = NULL};
  h_init(&t);
  alpn_run(&t, &st, &a, client, 1);
  cr_assert_eq(a.calls, 1);
  cr_assert_eq(st.client.done, 0, "%s", t.client[0].log);
  cr_assert_eq(t.client[0].err.code, PORTLS_EALERT_NO_APPLICATION_PROTOCOL, "%s: %s",
               portls_err_name(t.client[0].err.code), t.client[0].err.message);
  cr_assert_str_eq(portls_err_name(t.client[0].err.code),
                   "ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL");
  cr_assert_eq(t.srv.client_errors, 1, "%s", t.srv.log);
  h_finish(&t);
}

Test(alpn_callback, a_protocol_the_client_did_not_offer_is_an_error) {
  h_need_cap(PORTLS_CAP_ALPN);
  static const char *const client[] = {"h2"};
  h_test t;
  ekm_state st = {0};
  alpn_seen a = {.answer = "spdy/3"};
  h_init(&t);
  alpn_run(&t, &st, &a, client, 1);
  cr_assert_eq(st.client.done, 0, "%s", t.client[0].log);
  cr_assert_eq(t.srv.client_err.code, PORTLS_EALPN_CALLBACK_INVALID_RESULT, "%s",
               t.srv.client_err.message);
  cr_assert(h_contains(t.srv.client_err.message, "spdy/3"), "%s", t.srv.client_err.message);
  cr_assert_eq(t.client[0].err.code, PORTLS_EALERT_NO_APPLICATION_PROTOCOL);
  h_finish(&t);
}

static int sni_answered;

static void sni_cb(portls_server *server, const char *servername, portls_sni_request *req,
                   void *user) {
  (void)server, (void)servername, (void)user;
  alpn_seen *a = user;
  cr_assert_eq(a->calls, 0, "SNICallback is asked before ALPNCallback");
  sni_answered++;
  cr_assert_eq(portls_sni_request_done(req, NULL, NULL), 0);
}

Test(alpn_callback, runs_after_an_sni_callback_answered_from_the_loop) {
  h_need_cap(PORTLS_CAP_ALPN);
  h_need_cap(PORTLS_CAP_SNI);
  static const char *const client[] = {"h2", "http/1.1"};
  h_test t;
  ekm_state st = {0};
  alpn_seen a = {.answer = "h2"};
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  so.rest_min_connections = 1; /* every connection may rest */
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  so.alpn_callback = alpn_cb;
  so.alpn_user = &a;
  so.sni_callback = sni_cb;
  so.sni_user = &a;
  portls_connect_options co;
  portls_connect_options_init(&co);
  h_context_options(&t, &co.tls.context, NULL, NULL, "ca.crt");
  co.host = "localhost";
  co.tls.alpn_protocols.names = client;
  co.tls.alpn_protocols.count = 2;
  t.user = &st;
  t.srv.conn_hook = conn_hook;
  h_listen_tls(&t, &so);
  h_side *c = h_connect_tls(&t, &co);
  c->hook = client_hook;
  h_run_all_closed(&t);
  cr_assert_eq(sni_answered, 1);
  cr_assert_eq(a.calls, 1);
  cr_assert_str_eq(a.servername, "localhost");
  cr_assert_str_eq(st.client.alpn, "h2", "%s", c->log);
  cr_assert_str_eq(st.conn.alpn, "h2");
  h_finish(&t);
}

static const char *never_cb(portls_server *server, portls_socket *sock, const char *servername,
                            const char *const *protocols, size_t count, void *user) {
  (void)server, (void)sock, (void)servername, (void)protocols, (void)count, (void)user;
  return NULL;
}

Test(alpn_callback, with_alpn_protocols_is_an_error_at_server_creation) {
  static const char *const list[] = {"h2"};
  portls_loop *loop;
  cr_assert_eq(portls_loop_new(&loop), 0);
  portls_server_options so;
  portls_server_options_init(&so);
  so.rest_min_connections = 1; /* every connection may rest */
  so.tls.alpn_protocols.names = list;
  so.tls.alpn_protocols.count = 1;
  so.alpn_callback = never_cb;
  portls_server *srv = NULL;
  portls_error err = {0};
  int rc = portls_tls_create_server(loop, &so, &srv, &err);
  if (!portls_has_capability(PORTLS_CAP_ALPN)) {
    cr_assert_eq(rc, PORTLS_ENOTSUP);
  } else {
    cr_assert_eq(rc, PORTLS_EALPN_CALLBACK_WITH_PROTOCOLS, "%s", portls_err_name(rc));
    cr_assert_str_eq(portls_err_name(rc), "ERR_TLS_ALPN_CALLBACK_WITH_PROTOCOLS");
    cr_assert(h_contains(err.message, "ALPNCallback"), "%s", err.message);
  }
  cr_assert_null(srv);
  portls_loop_run(loop);
  cr_assert_eq(portls_loop_free(loop), 0);
}

/* ---- capability gates: accepted with the capability, ENOTSUP naming option,
 * capability and backend without it ---- */

static void expect_gate(portls_cap cap, int rc, const portls_error *err, const char *option) {
  if (portls_has_capability(cap)) {
    cr_assert(rc >= 0, "%s with capability %s: %s", option, portls_capability_name(cap),
              err->message);
    return;
  }
  cr_assert_eq(rc, PORTLS_ENOTSUP, "%s without %s: %s", option, portls_capability_name(cap),
               portls_err_name(rc));
  cr_assert(h_contains(err->message, option), "%s", err->message);
  cr_assert(h_contains(err->message, portls_capability_name(cap)), "%s", err->message);
  cr_assert(h_contains(err->message, portls_backend_name()), "%s", err->message);
}

Test(exporter_caps, sigalgs_is_accepted_or_refused_by_capability) {
  portls_context_options o;
  portls_context_options_init(&o);
  o.sigalgs = "RSA-PSS+SHA256:ECDSA+SHA256";
  portls_context *ctx = NULL;
  portls_error err = {0};
  int rc = portls_context_new(&o, &ctx, &err);
  portls_context_free(ctx);
  expect_gate(PORTLS_CAP_SIGALGS, rc, &err, "sigalgs");
}

static void gate_hook(h_side *s, h_event ev) {
  if (ev != H_SECURE) return;
  portls_error err = {0};
  uint8_t buf[PORTLS_FINISHED_MAX];
  int rc = portls_socket_export_keying_material(s->sock, 8, "EXPERIMENTAL", NULL, 0, buf, &err);
  expect_gate(PORTLS_CAP_EXPORTER, rc, &err, "exportKeyingMaterial");
  const char **names = NULL;
  size_t n = 0;
  memset(&err, 0, sizeof err);
  rc = portls_socket_get_shared_sigalgs(s->sock, &names, &n, &err);
  portls_free(names);
  expect_gate(PORTLS_CAP_SHARED_SIGALGS, rc, &err, "getSharedSigalgs");
  *(int *)s->ctx = 1;
  portls_socket_end(s->sock, NULL, 0);
}

Test(exporter_caps, getters_are_answered_or_refused_by_capability) {
  h_test t;
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  so.rest_min_connections = 1; /* every connection may rest */
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  h_listen_tls(&t, &so);
  portls_connect_options co;
  portls_connect_options_init(&co);
  h_context_options(&t, &co.tls.context, NULL, NULL, "ca.crt");
  co.host = "localhost";
  h_side *c = h_connect_tls(&t, &co);
  int checked = 0;
  c->ctx = &checked;
  c->hook = gate_hook;
  h_run_all_closed(&t);
  cr_assert_eq(checked, 1, "%s", c->log);
  h_finish(&t);
}

static void plain_hook(h_side *s, h_event ev) {
  if (ev != H_CONNECT) return;
  uint8_t buf[PORTLS_FINISHED_MAX];
  portls_error err = {0};
  cr_assert_eq(portls_socket_export_keying_material(s->sock, 8, "x", NULL, 0, buf, &err),
               PORTLS_EINVAL);
  cr_assert(h_contains(err.message, "not a TLS socket"), "%s", err.message);
  cr_assert_eq(portls_socket_get_finished(s->sock, buf, sizeof buf, &err), PORTLS_EINVAL);
  cr_assert_eq(portls_socket_get_peer_finished(s->sock, buf, sizeof buf, &err), PORTLS_EINVAL);
  const char **names = NULL;
  size_t n = 0;
  cr_assert_eq(portls_socket_get_shared_sigalgs(s->sock, &names, &n, &err), PORTLS_EINVAL);
  cr_assert_null(names);
  *(int *)s->ctx = 1;
  portls_socket_end(s->sock, NULL, 0);
}

Test(exporter_caps, a_plain_net_socket_has_no_exporter) {
  h_test t;
  h_init(&t);
  h_listen_net(&t, NULL);
  portls_net_connect_options o;
  portls_net_connect_options_init(&o);
  o.host = "127.0.0.1";
  h_side *c = h_connect_net(&t, &o);
  int checked = 0;
  c->ctx = &checked;
  c->hook = plain_hook;
  h_run_all_closed(&t);
  cr_assert_eq(checked, 1, "%s", c->log);
  h_finish(&t);
}
