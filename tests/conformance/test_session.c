/* Client sessions: Node's 'session' event (TLS 1.3 tickets arrive after the
 * handshake), getSession(), and resuming with the `session` option. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/harness.h"
#include "portls/portls.h"

typedef struct client {
  int secure, closed, sessions, reused;
  unsigned char session[8192];
  size_t session_len;
} client;

static void c_secure(portls_socket *s, void *u) {
  client *c = u;
  c->secure++;
  c->reused = portls_socket_is_session_reused(s);
  portls_socket_write(s, "x", 1); /* the server answers; tickets come along */
}
static void c_data(portls_socket *s, const void *d, size_t n, void *u) {
  (void)d, (void)n, (void)u;
  portls_socket_end(s, NULL, 0);
}
static void c_session(portls_socket *s, const void *data, size_t len, void *u) {
  (void)s;
  client *c = u;
  c->sessions++;
  cr_assert_leq(len, sizeof c->session);
  memcpy(c->session, data, len);
  c->session_len = len;
}
static void c_close(portls_socket *s, int had_error, void *u) {
  (void)s;
  client *c = u;
  cr_assert_eq(had_error, 0);
  c->closed++;
}

static void echo_hook(h_side *side, h_event ev) {
  if (ev == H_DATA) portls_socket_write(side->sock, "y", 1);
}

static void run_client(h_test *t, const char *method, const client *resume_from, client *c) {
  portls_connect_options o;
  portls_connect_options_init(&o);
  h_context_options(t, &o.tls.context, NULL, NULL, "ca.crt");
  o.tls.context.secure_protocol = method;
  o.port = t->srv.port;
  if (resume_from != NULL)
    o.tls.session = (portls_buf){resume_from->session, resume_from->session_len};
  portls_socket_events ev = {
      .secure_connect = c_secure, .data = c_data, .session = c_session, .close = c_close};
  o.events = &ev;
  o.user = c;
  portls_socket *s;
  portls_error err;
  cr_assert_eq(portls_tls_connect(t->loop, &o, &s, &err), 0, "%s", err.message);
  h_run_until(t, c->closed);
}

static void resume_test(const char *method) {
  h_need_cap(PORTLS_CAP_SESSION_TICKETS);
  h_test t;
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  h_listen_tls(&t, &so);
  t.srv.conn_hook = echo_hook;
  static client first, second;
  memset(&first, 0, sizeof first);
  memset(&second, 0, sizeof second);
  run_client(&t, method, NULL, &first);
  cr_assert_eq(first.secure, 1);
  cr_assert_eq(first.reused, 0);
  cr_assert_geq(first.sessions, 1, "no 'session' event");
  cr_assert_gt(first.session_len, 0);
  run_client(&t, method, &first, &second);
  cr_assert_eq(second.secure, 1);
  cr_assert_eq(second.reused, 1, "the session from the 'session' event did not resume");
  h_run_all_closed(&t);
  h_finish(&t);
}

Test(session, tls13_ticket_from_the_session_event_resumes) {
  h_need_cap(PORTLS_CAP_TLS1_3);
  resume_test("TLSv1_3_method");
}

Test(session, tls12_session_from_the_session_event_resumes) { resume_test("TLSv1_2_method"); }

Test(session, garbage_session_bytes_end_the_connection_with_ESESSION) {
  h_test t;
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  h_listen_tls(&t, &so);
  portls_connect_options o;
  portls_connect_options_init(&o);
  h_context_options(&t, &o.tls.context, NULL, NULL, "ca.crt");
  /* Bytes getSession() never made: refused by the call itself. */
  o.tls.session = (portls_buf){"not a session", 13};
  o.port = t.srv.port;
  portls_socket *sock = NULL;
  portls_error e;
  cr_assert_eq(portls_tls_connect(t.loop, &o, &sock, &e), PORTLS_ESESSION);
  cr_assert_null(sock);
  cr_assert(strstr(e.message, "session") != NULL, "%s", e.message);
  /* getSession()'s framing around a session the backend cannot decode:
   * the connection ends with the same error. */
  o.tls.session = (portls_buf){"PLS1\x09localhostnot a session", 27};
  h_side *c = h_connect_tls(&t, &o);
  h_run_until(&t, c->closed);
  cr_assert_eq(c->count[H_SECURE], 0);
  cr_assert_eq(c->err.code, PORTLS_ESESSION, "got %s: %s", portls_err_name(c->err.code),
               c->err.message);
  h_run_all_closed(&t);
  h_finish(&t);
}
