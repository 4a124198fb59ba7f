/* Resumption across servers and stores, OCSP stapling, renegotiation:
 * ticketKeys shared by two servers, server.getTicketKeys()/setTicketKeys(),
 * 'newSession'/'resumeSession' answered later, sessions kept to their
 * servername, getTLSTicket(), 'OCSPRequest'/'OCSPResponse', renegotiate() and
 * the client renegotiation limit. Each test skips by capability. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/harness.h"
#include "portls/portls.h"

/* ---- a client that records what these tests look at ---- */

typedef struct cl {
  int secure, closed, reused, sessions;
  portls_error err;
  int errors;
  unsigned char session[8192];
  size_t session_len;
  size_t ticket_len;
  int ocsp_events, ocsp_before_secure, ocsp_null;
  unsigned char ocsp[64];
  size_t ocsp_len;
  int reneg_times, reneg_ok, reneg_failed;
  portls_error reneg_err;
  int authorized_after_reneg;
  portls_ephemeral_key_info eph; /* getEphemeralKeyInfo() at secureConnect */
} cl;

static void cl_reneg_done(portls_socket *s, const portls_error *err, void *u);

static void cl_next(portls_socket *s, cl *c) {
  if (c->reneg_times > 0) {
    c->reneg_times--;
    cr_assert_eq(portls_socket_renegotiate(s, NULL, cl_reneg_done, c), 0);
    return;
  }
  portls_socket_write(s, "x", 1); /* the server answers; TLS 1.3 tickets come along */
}

static void cl_reneg_done(portls_socket *s, const portls_error *err, void *u) {
  cl *c = u;
  if (err != NULL) {
    c->reneg_failed++;
    c->reneg_err = *err;
    c->reneg_times = 0;
    if (err->code == PORTLS_ERENEG_DISABLED) portls_socket_write(s, "x", 1);
    return;
  }
  c->reneg_ok++;
  cl_next(s, c);
}

static void cl_secure(portls_socket *s, void *u) {
  cl *c = u;
  c->secure++;
  c->reused = portls_socket_is_session_reused(s);
  cr_assert_eq(portls_socket_get_ephemeral_key_info(s, &c->eph), 0);
  portls_buf ticket;
  if (portls_socket_get_tls_ticket(s, &ticket) == 0) c->ticket_len = ticket.len;
  cl_next(s, c);
}
static void cl_data(portls_socket *s, const void *d, size_t n, void *u) {
  (void)d, (void)n, (void)u;
  portls_socket_end(s, NULL, 0);
}
static void cl_session(portls_socket *s, const void *data, size_t len, void *u) {
  (void)s;
  cl *c = u;
  c->sessions++;
  cr_assert_leq(len, sizeof c->session);
  memcpy(c->session, data, len);
  c->session_len = len;
}
static void cl_ocsp(portls_socket *s, const void *resp, size_t len, void *u) {
  (void)s;
  cl *c = u;
  c->ocsp_events++;
  c->ocsp_before_secure = c->secure == 0;
  c->ocsp_null = resp == NULL;
  if (resp != NULL && len <= sizeof c->ocsp) memcpy(c->ocsp, resp, len);
  c->ocsp_len = len;
}
static void cl_error(portls_socket *s, const portls_error *err, void *u) {
  (void)s;
  cl *c = u;
  c->errors++;
  c->err = *err;
}
static void cl_close(portls_socket *s, int had_error, void *u) {
  (void)s, (void)had_error;
  ((cl *)u)->closed++;
}

static const portls_socket_events cl_events = {.secure_connect = cl_secure,
                                               .data = cl_data,
                                               .session = cl_session,
                                               .ocsp_response = cl_ocsp,
                                               .error = cl_error,
                                               .close = cl_close};

static void cl_options(h_test *t, portls_connect_options *o, const char *method) {
  portls_connect_options_init(o);
  h_context_options(t, &o->tls.context, NULL, NULL, "ca.crt");
  o->tls.context.secure_protocol = method;
  o->port = t->srv.port;
}

/* Connects with o, renegotiates `renegs` times after secureConnect, and
 * runs until the connection has closed. */
static void cl_run_reneg(h_test *t, portls_connect_options *o, cl *c, int renegs) {
  memset(c, 0, sizeof *c);
  c->reneg_times = renegs;
  o->events = &cl_events;
  o->user = c;
  portls_socket *s;
  portls_error err;
  cr_assert_eq(portls_tls_connect(t->loop, o, &s, &err), 0, "%s", err.message);
  h_run_until(t, c->closed);
}

static void cl_run(h_test *t, portls_connect_options *o, cl *c) { cl_run_reneg(t, o, c, 0); }

static void echo_hook(h_side *side, h_event ev) {
  if (ev == H_DATA && side->sock != NULL) portls_socket_write(side->sock, "y", 1);
}

/* Server options with the RSA certificate; set other fields after this. */
static void rsa_options(h_test *t, portls_server_options *so) {
  portls_server_options_init(so);
  h_context_options(t, &so->tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
}

static void listen_rsa(h_test *t, portls_server_options *so) {
  h_listen_tls(t, so);
  t->srv.conn_hook = echo_hook;
}

/* h_init() and an RSA server with the default options. */
static void rsa_test(h_test *t) {
  portls_server_options so;
  h_init(t);
  rsa_options(t, &so);
  listen_rsa(t, &so);
}

/* A session from a full handshake against t's server. */
static void first_session(h_test *t, const char *method, cl *c) {
  portls_connect_options o;
  cl_options(t, &o, method);
  cl_run(t, &o, c);
  cr_assert_eq(c->secure, 1, "%s", c->err.message);
  cr_assert_eq(c->reused, 0);
  cr_assert_gt(c->session_len, 0, "no session");
}

/* Offers from's session with o (from cl_options) and runs. */
static void cl_run_session(h_test *t, portls_connect_options *o, const cl *from, cl *c) {
  o->tls.session = (portls_buf){from->session, from->session_len};
  cl_run(t, o, c);
}

static int resumes(h_test *t, const char *method, const cl *from) {
  static cl c;
  portls_connect_options o;
  cl_options(t, &o, method);
  cl_run_session(t, &o, from, &c);
  cr_assert_eq(c.secure, 1, "%s", c.err.message);
  return c.reused;
}

/* ---- ticketKeys ---- */

static const uint8_t keys_a[48] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL";
static const uint8_t keys_b[48] = "LKJIHGFEDCBAzyxwvutsrqponmlkjihgfedcba9876543210";

/* A test of its own (loop, server, port) whose server has these ticket keys. */
static void keyed_server(h_test *t, const uint8_t keys[48]) {
  portls_server_options so;
  h_init(t);
  rsa_options(t, &so);
  so.tls.context.ticket_keys = (portls_buf){keys, 48};
  listen_rsa(t, &so);
}

static void shared_keys_test(const char *method) {
  h_need_cap(PORTLS_CAP_TICKET_KEYS);
  static cl first;
  h_test a, b, c;
  keyed_server(&a, keys_a);
  first_session(&a, method, &first);
  keyed_server(&b, keys_a); /* another server with the same keys */
  cr_assert_eq(resumes(&b, method, &first), 1, "a server with the same ticketKeys did not resume");
  keyed_server(&c, keys_b);
  cr_assert_eq(resumes(&c, method, &first), 0, "a server with other ticketKeys resumed");
  h_test *all[] = {&c, &b, &a};
  for (size_t i = 0; i < 3; i++) {
    h_run_all_closed(all[i]);
    h_finish(all[i]);
  }
}

Test(ticket_keys, servers_sharing_keys_resume_each_others_tls12_tickets) {
  shared_keys_test("TLSv1_2_method");
}

Test(ticket_keys, servers_sharing_keys_resume_each_others_tls13_tickets) {
  h_need_cap(PORTLS_CAP_TLS1_3);
  shared_keys_test("TLSv1_3_method");
}

Test(ticket_keys, get_returns_them_and_set_applies_to_new_connections) {
  h_need_cap(PORTLS_CAP_TICKET_KEYS);
  h_test t;
  rsa_test(&t);
  portls_server *srv = t.srv.srv;
  uint8_t got[48], zero[48] = {0}, again[48];
  portls_error err;
  /* Without the option: random keys, made with the context. */
  cr_assert_eq(portls_server_get_ticket_keys(srv, got, &err), 0, "%s", err.message);
  cr_assert_neq(memcmp(got, zero, 48), 0, "default ticket keys are all zero");
  cr_assert_eq(portls_server_get_ticket_keys(srv, again, &err), 0);
  cr_assert_eq(memcmp(got, again, 48), 0);
  cr_assert_eq(portls_server_set_ticket_keys(srv, keys_a, 47, &err), PORTLS_ETICKET_KEYS);
  cr_assert_eq(portls_server_set_ticket_keys(srv, NULL, 48, &err), PORTLS_ETICKET_KEYS);
  cr_assert_eq(portls_server_get_ticket_keys(srv, again, &err), 0);
  cr_assert_eq(memcmp(got, again, 48), 0, "a refused setTicketKeys changed the keys");

  static cl before, after;
  first_session(&t, "TLSv1_2_method", &before);
  cr_assert_eq(resumes(&t, "TLSv1_2_method", &before), 1);
  cr_assert_eq(portls_server_set_ticket_keys(srv, keys_b, 48, &err), 0, "%s", err.message);
  cr_assert_eq(portls_server_get_ticket_keys(srv, got, &err), 0);
  cr_assert_eq(memcmp(got, keys_b, 48), 0);
  cr_assert_eq(resumes(&t, "TLSv1_2_method", &before), 0, "a ticket under the old keys resumed");
  first_session(&t, "TLSv1_2_method", &after);
  cr_assert_eq(resumes(&t, "TLSv1_2_method", &after), 1,
               "a ticket under the new keys did not resume");
  h_run_all_closed(&t);
  h_finish(&t);
}

/* A ticket is authenticated with the HMAC half of the keys: one made under
 * another HMAC key never resumes, even when the name and the AES half match
 * (the MAC is checked before anything is decrypted). */
Test(ticket_keys, a_ticket_under_another_hmac_key_does_not_resume) {
  h_need_cap(PORTLS_CAP_TICKET_KEYS);
  h_test t;
  rsa_test(&t);
  portls_server *srv = t.srv.srv;
  portls_error err;
  uint8_t other_mac[48];
  memcpy(other_mac, keys_a, 48);
  for (int i = 16; i < 32; i++) other_mac[i] ^= 0x5a;
  static cl s;
  cr_assert_eq(portls_server_set_ticket_keys(srv, keys_a, 48, &err), 0, "%s", err.message);
  first_session(&t, "TLSv1_2_method", &s);
  cr_assert_eq(portls_server_set_ticket_keys(srv, other_mac, 48, &err), 0, "%s", err.message);
  cr_assert_eq(resumes(&t, "TLSv1_2_method", &s), 0, "a ticket under another HMAC key resumed");
  cr_assert_eq(portls_server_set_ticket_keys(srv, keys_a, 48, &err), 0, "%s", err.message);
  cr_assert_eq(resumes(&t, "TLSv1_2_method", &s), 1,
               "the ticket did not resume under its own keys");
  h_run_all_closed(&t);
  h_finish(&t);
}

static const uint8_t keys_c[48] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKL";

/* Node's rotation pattern: after rotate(B), tickets under A still resume
 * until the next rotation; rotating to the current keys changes nothing;
 * setTicketKeys drops the previous keys. */
static void rotation_test(const char *method) {
  h_need_cap(PORTLS_CAP_TICKET_ROTATION);
  h_test t;
  keyed_server(&t, keys_a);
  portls_server *srv = t.srv.srv;
  portls_error err;
  uint8_t got[48];
  static cl under_a, under_b;
  first_session(&t, method, &under_a);
  cr_assert_eq(portls_server_rotate_ticket_keys(srv, keys_b, 47, &err), PORTLS_ETICKET_KEYS);
  cr_assert_eq(portls_server_rotate_ticket_keys(srv, keys_b, 48, &err), 0, "%s", err.message);
  cr_assert_eq(portls_server_get_ticket_keys(srv, got, &err), 0);
  cr_assert_eq(memcmp(got, keys_b, 48), 0, "the rotation did not make B current");
  cr_assert_eq(resumes(&t, method, &under_a), 1, "a ticket of the previous keys did not resume");
  first_session(&t, method, &under_b);
  cr_assert_eq(portls_server_rotate_ticket_keys(srv, keys_b, 48, &err), 0, "%s", err.message);
  cr_assert_eq(resumes(&t, method, &under_a), 1, "rotating to the same keys dropped the previous");
  cr_assert_eq(portls_server_rotate_ticket_keys(srv, keys_c, 48, &err), 0, "%s", err.message);
  cr_assert_eq(resumes(&t, method, &under_a), 0, "a ticket two rotations old resumed");
  cr_assert_eq(resumes(&t, method, &under_b), 1, "a ticket of the previous keys did not resume");
  cr_assert_eq(portls_server_set_ticket_keys(srv, keys_c, 48, &err), 0, "%s", err.message);
  cr_assert_eq(resumes(&t, method, &under_b), 0, "setTicketKeys kept the previous keys");
  h_run_all_closed(&t);
  h_finish(&t);
}

Test(ticket_keys, a_rotation_still_accepts_the_previous_keys_tls12) {
  rotation_test("TLSv1_2_method");
}

Test(ticket_keys, a_rotation_still_accepts_the_previous_keys_tls13) {
  h_need_cap(PORTLS_CAP_TLS1_3);
  rotation_test("TLSv1_3_method");
}

Test(ticket_keys, a_plain_net_server_has_none) {
  h_test t;
  h_init(&t);
  h_listen_net(&t, NULL);
  uint8_t got[48];
  portls_error err;
  cr_assert_eq(portls_server_get_ticket_keys(t.srv.srv, got, &err), PORTLS_EINVAL);
  cr_assert_eq(portls_server_set_ticket_keys(t.srv.srv, keys_a, 48, &err), PORTLS_EINVAL);
  h_finish(&t);
}

/* ---- newSession / resumeSession ---- */

typedef struct store {
  h_test *t;
  portls_timer *timer;
  portls_session_request *pending;
  int pending_is_resume;
  const void *answer;
  size_t answer_len;
  int fail_resume, never_answer;
  int new_sessions, resume_asks, found;
  unsigned char id[32], data[8192];
  size_t id_len, data_len;
  int answered_new; /* the newSession answer has been given */
  int secure_before_answer;
} store;

static store g_store;

static void store_tick(portls_timer *timer, void *u) {
  (void)timer;
  store *st = u;
  portls_session_request *r = st->pending;
  st->pending = NULL;
  if (r == NULL) return;
  if (!st->pending_is_resume) {
    st->answered_new = 1;
    cr_assert_eq(portls_session_request_done(r, NULL, 0, NULL), 0);
    cr_assert_eq(portls_session_request_done(r, NULL, 0, NULL), PORTLS_EINVAL, "a second answer");
    return;
  }
  portls_error e = {PORTLS_EPROTO, "store unavailable"};
  /* The types make this a compile error (tests/api/wrong_request.c); forced
   * with a cast, the library still refuses it. */
  cr_assert_eq(portls_ocsp_request_done((portls_ocsp_request *)r, NULL, 0, NULL), PORTLS_EINVAL,
               "an answer of another kind");
  cr_assert_eq(
      portls_session_request_done(r, st->answer, st->answer_len, st->fail_resume ? &e : NULL), 0);
}

static void later(store *st, portls_session_request *r, int is_resume) {
  st->pending = r;
  st->pending_is_resume = is_resume;
  if (!st->never_answer) portls_timer_start(st->timer, 20, 0);
}

static void on_new_session(portls_server *srv, portls_socket *sock, const void *id, size_t id_len,
                           const void *data, size_t len, portls_session_request *req, void *u) {
  (void)srv, (void)sock;
  store *st = u;
  st->new_sessions++;
  cr_assert(id_len > 0 && id_len <= sizeof st->id);
  cr_assert(len > 0 && len <= sizeof st->data);
  memcpy(st->id, id, id_len);
  st->id_len = id_len;
  memcpy(st->data, data, len);
  st->data_len = len;
  later(st, req, 0);
}

static void on_resume_session(portls_server *srv, portls_socket *sock, const void *id,
                              size_t id_len, portls_session_request *req, void *u) {
  (void)srv, (void)sock;
  store *st = u;
  st->resume_asks++;
  int match = id_len == st->id_len && memcmp(id, st->id, id_len) == 0;
  st->found += match;
  st->answer = match ? st->data : NULL;
  st->answer_len = match ? st->data_len : 0;
  later(st, req, 1);
}

static void store_secure_hook(h_side *side, h_event ev) {
  echo_hook(side, ev);
  if (ev == H_SECURE && g_store.new_sessions > 0 && !g_store.answered_new)
    g_store.secure_before_answer = 1;
}

static void store_server(h_test *t, uint64_t handshake_timeout_ms) {
  memset(&g_store, 0, sizeof g_store);
  g_store.t = t;
  cr_assert_eq(portls_timer_new(t->loop, store_tick, &g_store, &g_store.timer), 0);
  portls_server_options so;
  rsa_options(t, &so);
  so.tls.context.disable_tickets = 1; /* sessions by id, as clients without tickets use them */
  so.new_session = on_new_session;
  so.resume_session = on_resume_session;
  so.session_user = &g_store;
  if (handshake_timeout_ms) so.tls.handshake_timeout_ms = handshake_timeout_ms;
  listen_rsa(t, &so);
  t->srv.conn_hook = store_secure_hook;
}

static void store_done(h_test *t) {
  portls_timer_free(g_store.timer);
  h_run_all_closed(t);
  h_finish(t);
}

/* Offers from's TLS 1.2 session; the server must end that connection with 'clientError'. */
static void resume_ends_in_client_error(h_test *t, const cl *from) {
  static cl c;
  portls_connect_options o;
  cl_options(t, &o, "TLSv1_2_method");
  cl_run_session(t, &o, from, &c);
  cr_assert_eq(c.secure, 0);
  h_run_until(t, t->srv.client_errors == 1);
}

Test(session_cache, new_session_then_resume_session_answered_later) {
  h_need_cap(PORTLS_CAP_SESSION_CACHE);
  h_test t;
  h_init(&t);
  store_server(&t, 0);
  static cl first;
  first_session(&t, "TLSv1_2_method", &first);
  cr_assert_eq(g_store.new_sessions, 1, "newSession was not emitted for a TLS 1.2 session id");
  cr_assert_eq(g_store.secure_before_answer, 0,
               "secureConnection came before newSession was answered");
  cr_assert_eq(resumes(&t, "TLSv1_2_method", &first), 1, "the stored session did not resume");
  cr_assert_geq(g_store.resume_asks, 1);
  cr_assert_eq(g_store.found, 1);
  cr_assert_eq(g_store.new_sessions, 1, "a resumed session is not new");
  /* The store loses it: a full handshake, and a new session to store. */
  g_store.id_len = 0;
  cr_assert_eq(resumes(&t, "TLSv1_2_method", &first), 0);
  cr_assert_eq(g_store.new_sessions, 2);
  store_done(&t);
}

Test(session_cache, an_error_from_resume_session_ends_that_connection_with_clientError) {
  h_need_cap(PORTLS_CAP_SESSION_CACHE);
  h_test t;
  h_init(&t);
  store_server(&t, 0);
  static cl first;
  first_session(&t, "TLSv1_2_method", &first);
  g_store.fail_resume = 1;
  resume_ends_in_client_error(&t, &first);
  cr_assert_eq(t.srv.client_err.code, PORTLS_EPROTO);
  cr_assert(h_contains(t.srv.client_err.message, "resumeSession"), "%s", t.srv.client_err.message);
  cr_assert(h_contains(t.srv.client_err.message, "store unavailable"), "%s",
            t.srv.client_err.message);
  /* The server carries on. */
  g_store.fail_resume = 0;
  cr_assert_eq(resumes(&t, "TLSv1_2_method", &first), 1);
  store_done(&t);
}

Test(session_cache, an_unanswered_resume_session_is_ended_by_the_handshake_timeout) {
  h_need_cap(PORTLS_CAP_SESSION_CACHE);
  h_test t;
  h_init(&t);
  store_server(&t, h_slow(300));
  static cl first;
  first_session(&t, "TLSv1_2_method", &first);
  g_store.never_answer = 1;
  resume_ends_in_client_error(&t, &first);
  cr_assert_eq(t.srv.client_err.code, PORTLS_EHANDSHAKE_TIMEOUT, "%s",
               portls_err_name(t.srv.client_err.code));
  /* Answering after the connection has gone is harmless (and frees the request). */
  cr_assert_not_null(g_store.pending);
  cr_assert_eq(portls_session_request_done(g_store.pending, NULL, 0, NULL), 0);
  g_store.pending = NULL;
  store_done(&t);
}

/* ---- a session belongs to its servername ---- */

Test(session, a_session_is_not_offered_under_another_servername) {
  h_test t;
  rsa_test(&t);
  static cl first, other, same;
  first_session(&t, "TLSv1_2_method", &first);
  portls_connect_options o;
  cl_options(&t, &o, "TLSv1_2_method");
  o.tls.servername = "other.example";
  o.tls.reject_unauthorized = 0; /* the certificate names localhost */
  cl_run_session(&t, &o, &first, &other);
  cr_assert_eq(other.secure, 1, "%s", other.err.message);
  cr_assert_eq(other.reused, 0, "a session made for localhost resumed under other.example");
  cl_options(&t, &o, "TLSv1_2_method");
  o.tls.servername = "LOCALHOST"; /* names compare without case */
  cl_run_session(&t, &o, &first, &same);
  cr_assert_eq(same.reused, 1);
  h_run_all_closed(&t);
  h_finish(&t);
}

/* ---- what a resumed handshake reports ---- */

typedef struct seen {
  int n, reused[4];
  char servername[4][64];
} seen;

static void seen_hook(h_side *side, h_event ev) {
  echo_hook(side, ev);
  seen *sn = side->t->user;
  if (ev != H_SECURE || sn->n >= 4) return;
  const char *name = portls_socket_servername(side->sock);
  snprintf(sn->servername[sn->n], sizeof sn->servername[0], "%s", name ? name : "(none)");
  sn->reused[sn->n++] = portls_socket_is_session_reused(side->sock);
}

/* A server with nothing that reads the ClientHello first (no SNI contexts,
 * no session store) reports the server_name of a resumed TLS 1.2 connection
 * as of any other, on every backend, as Node does; and the client of a
 * resumed TLS 1.2 handshake, where no key was exchanged, reports no
 * ephemeral key (a resumed TLS 1.3 one exchanges one, and reports it). */
static void resumed_reports(const char *method, int tls13) {
  h_need_cap(PORTLS_CAP_SESSION_TICKETS);
  h_test t;
  static seen sn;
  memset(&sn, 0, sizeof sn);
  rsa_test(&t);
  t.user = &sn;
  t.srv.conn_hook = seen_hook;
  static cl first, again;
  first_session(&t, method, &first);
  cr_assert_not_null(first.eph.type);
  cr_assert_str_eq(first.eph.type, "ECDH");
  portls_connect_options o;
  cl_options(&t, &o, method);
  cl_run_session(&t, &o, &first, &again);
  cr_assert_eq(again.reused, 1);
  h_run_until(&t, sn.n == 2);
  cr_assert_eq(sn.reused[0], 0);
  cr_assert_eq(sn.reused[1], 1);
  cr_assert_str_eq(sn.servername[0], "localhost");
  cr_assert_str_eq(sn.servername[1], "localhost", "the resumed connection's servername");
  if (tls13) {
    cr_assert_not_null(again.eph.type, "a resumed TLS 1.3 handshake exchanges a key");
    cr_assert_str_eq(again.eph.type, "ECDH");
  } else {
    cr_assert_null(again.eph.type, "a resumed TLS 1.2 handshake reported %s %s %d", again.eph.type,
                   again.eph.name, again.eph.size);
    cr_assert_eq(again.eph.size, 0);
  }
  h_run_all_closed(&t);
  h_finish(&t);
}

Test(session, a_resumed_tls12_connection_reports_servername_and_no_ephemeral_key) {
  h_need_cap(PORTLS_CAP_TLS1_2);
  resumed_reports("TLSv1_2_method", 0);
}

Test(session, a_resumed_tls13_connection_reports_servername_and_its_ephemeral_key) {
  h_need_cap(PORTLS_CAP_TLS1_3);
  resumed_reports("TLSv1_3_method", 1);
}

/* A client whose first key share is a group the server does not take gets a
 * HelloRetryRequest, in the full handshake and in the resumed one: both sides
 * still see the resumption, and the key is the server's group. */
Test(session, a_tls13_resumption_after_a_hello_retry_request_is_seen_by_both_sides) {
  h_need_cap(PORTLS_CAP_TLS1_3);
  h_need_cap(PORTLS_CAP_SESSION_TICKETS);
  h_need_cap(PORTLS_CAP_ECDH_CURVES);
  h_test t;
  static seen sn;
  memset(&sn, 0, sizeof sn);
  portls_server_options so;
  h_init(&t);
  rsa_options(&t, &so);
  so.tls.context.ecdh_curve = "prime256v1";
  listen_rsa(&t, &so);
  t.user = &sn;
  t.srv.conn_hook = seen_hook;
  static cl first, again;
  portls_connect_options o;
  cl_options(&t, &o, "TLSv1_3_method");
  o.tls.context.ecdh_curve = "X25519:prime256v1";
  cl_run(&t, &o, &first);
  cr_assert_eq(first.secure, 1, "%s", first.err.message);
  cr_assert_gt(first.session_len, 0, "no session");
  cr_assert_str_eq(first.eph.name, "prime256v1", "the server's group after the retry");
  cl_options(&t, &o, "TLSv1_3_method");
  o.tls.context.ecdh_curve = "X25519:prime256v1";
  cl_run_session(&t, &o, &first, &again);
  cr_assert_eq(again.secure, 1, "%s", again.err.message);
  cr_assert_eq(again.reused, 1, "the client did not resume after the retry");
  cr_assert_str_eq(again.eph.name, "prime256v1");
  h_run_until(&t, sn.n == 2);
  cr_assert_eq(sn.reused[0], 0);
  cr_assert_eq(sn.reused[1], 1, "the server did not report the resumption after the retry");
  h_run_all_closed(&t);
  h_finish(&t);
}

/* ---- getTLSTicket ---- */

static void server_ticket_hook(h_side *side, h_event ev) {
  echo_hook(side, ev);
  if (ev != H_SECURE) return;
  portls_buf b;
  cr_assert_eq(portls_socket_get_tls_ticket(side->sock, &b), PORTLS_ENOENT,
               "a server socket has no ticket");
}

Test(session, get_tls_ticket_gives_the_servers_ticket) {
  h_need_cap(PORTLS_CAP_SESSION_TICKETS);
  h_test t;
  rsa_test(&t);
  t.srv.conn_hook = server_ticket_hook;
  static cl c;
  first_session(&t, "TLSv1_2_method", &c);
  cr_assert_gt(c.ticket_len, 16, "getTLSTicket gave %zu bytes", c.ticket_len);
  /* Without tickets there is none. */
  static cl d;
  portls_connect_options o;
  cl_options(&t, &o, "TLSv1_2_method");
  o.tls.context.disable_tickets = 1;
  cl_run(&t, &o, &d);
  cr_assert_eq(d.secure, 1);
  cr_assert_eq(d.ticket_len, 0);
  h_run_all_closed(&t);
  h_finish(&t);
}

/* ---- OCSP ---- */

typedef struct ocsp_srv {
  portls_timer *timer;
  portls_ocsp_request *pending;
  int asked;
  const char *response;
  char cert_cn[64], issuer_cn[64];
  int issuer_null;
} ocsp_srv;

static ocsp_srv g_ocsp;

static void ocsp_tick(portls_timer *timer, void *u) {
  (void)timer;
  ocsp_srv *o = u;
  const char *r = o->response;
  cr_assert_eq(portls_ocsp_request_done(o->pending, r, r ? strlen(r) : 0, NULL), 0);
  o->pending = NULL;
}

static void cn_of(const void *der, size_t len, char *out, size_t cap) {
  portls_cert *cert = NULL;
  portls_error err;
  cr_assert_eq(portls_cert_parse_der(der, len, &cert, &err), 0, "%s", err.message);
  const char *cn = h_dn_get(&cert->subject, "CN");
  snprintf(out, cap, "%s", cn ? cn : "");
  portls_cert_free(cert);
}

static void on_ocsp_request(portls_server *srv, portls_socket *sock, const void *cert,
                            size_t cert_len, const void *issuer, size_t issuer_len,
                            portls_ocsp_request *req, void *u) {
  (void)srv, (void)sock;
  ocsp_srv *o = u;
  o->asked++;
  cr_assert_not_null(cert);
  cn_of(cert, cert_len, o->cert_cn, sizeof o->cert_cn);
  o->issuer_null = issuer == NULL;
  if (issuer != NULL) cn_of(issuer, issuer_len, o->issuer_cn, sizeof o->issuer_cn);
  o->pending = req;
  portls_timer_start(o->timer, 20, 0); /* answered later */
}

static void ocsp_test(const char *method) {
  h_need_cap(PORTLS_CAP_OCSP_STAPLING);
  h_need_cap(PORTLS_CAP_OCSP_REQUEST);
  h_test t;
  h_init(&t);
  memset(&g_ocsp, 0, sizeof g_ocsp);
  cr_assert_eq(portls_timer_new(t.loop, ocsp_tick, &g_ocsp, &g_ocsp.timer), 0);
  portls_server_options so;
  rsa_options(&t, &so);
  so.ocsp_request = on_ocsp_request;
  so.ocsp_user = &g_ocsp;
  listen_rsa(&t, &so);
  static cl c;
  portls_connect_options o;
  /* Asked: the bytes the server's callback gave reach the client, before secureConnect. */
  g_ocsp.response = "not really DER, but the client only carries it";
  cl_options(&t, &o, method);
  o.tls.request_ocsp = 1;
  cl_run(&t, &o, &c);
  cr_assert_eq(c.secure, 1, "%s", c.err.message);
  cr_assert_eq(g_ocsp.asked, 1);
  cr_assert_str_eq(g_ocsp.cert_cn, "localhost");
  cr_assert_eq(g_ocsp.issuer_null, 0, "the issuer is in the chain");
  cr_assert(h_contains(g_ocsp.issuer_cn, "Intermediate"), "issuer CN %s", g_ocsp.issuer_cn);
  cr_assert_eq(c.ocsp_events, 1);
  cr_assert(c.ocsp_before_secure, "OCSPResponse came after secureConnect");
  cr_assert_eq(c.ocsp_len, strlen(g_ocsp.response));
  cr_assert_eq(memcmp(c.ocsp, g_ocsp.response, c.ocsp_len), 0);
  /* Answered with nothing: the event says so. */
  g_ocsp.response = NULL;
  cl_options(&t, &o, method);
  o.tls.request_ocsp = 1;
  cl_run(&t, &o, &c);
  cr_assert_eq(c.secure, 1);
  cr_assert_eq(g_ocsp.asked, 2);
  cr_assert_eq(c.ocsp_events, 1);
  cr_assert(c.ocsp_null);
  /* Not asked: no OCSPRequest, no OCSPResponse. */
  cl_options(&t, &o, method);
  cl_run(&t, &o, &c);
  cr_assert_eq(g_ocsp.asked, 2);
  cr_assert_eq(c.ocsp_events, 0);
  portls_timer_free(g_ocsp.timer);
  h_run_all_closed(&t);
  h_finish(&t);
}

Test(ocsp, tls12_request_answered_later_reaches_the_client) { ocsp_test("TLSv1_2_method"); }
Test(ocsp, tls13_request_answered_later_reaches_the_client) {
  h_need_cap(PORTLS_CAP_TLS1_3);
  ocsp_test("TLSv1_3_method");
}

Test(ocsp, options_fail_without_the_capability) {
  if (portls_has_capability(PORTLS_CAP_OCSP_STAPLING))
    cr_skip_test("the backend has ocsp-stapling");
  h_test t;
  h_init(&t);
  portls_server_options so;
  rsa_options(&t, &so);
  so.ocsp_request = on_ocsp_request;
  portls_server *srv = NULL;
  portls_error err;
  cr_assert_eq(portls_tls_create_server(t.loop, &so, &srv, &err), PORTLS_ENOTSUP);
  cr_assert(h_contains(err.message, "ocsp-stapling"), "%s", err.message);
  cr_assert(h_contains(err.message, portls_backend_name()), "%s", err.message);
  h_finish(&t);
}

/* ---- renegotiation ---- */

Test(renegotiate, client_renegotiation_completes_and_data_still_flows) {
  h_test t;
  rsa_test(&t);
  static cl c;
  portls_connect_options o;
  cl_options(&t, &o, "TLSv1_2_method");
  cl_run_reneg(&t, &o, &c, 2);
  if (!portls_has_capability(PORTLS_CAP_RENEG_CLIENT)) {
    cr_assert_eq(c.reneg_failed, 1);
    cr_assert_eq(c.reneg_err.code, PORTLS_ERENEG_DISABLED);
    cr_assert(h_contains(c.reneg_err.message, "renegotiate-client"), "%s", c.reneg_err.message);
  } else {
    cr_assert_eq(c.reneg_ok, 2, "%s", c.reneg_err.message);
    cr_assert_eq(c.reneg_failed, 0);
  }
  cr_assert_eq(c.errors, 0, "%s", c.err.message);
  cr_assert_eq(t.conn[0].rx_len, 1, "the data after the renegotiations did not arrive");
  h_run_all_closed(&t);
  h_finish(&t);
}

Test(renegotiate, tls13_refuses_through_the_callback) {
  h_need_cap(PORTLS_CAP_TLS1_3);
  h_test t;
  rsa_test(&t);
  static cl c;
  portls_connect_options o;
  cl_options(&t, &o, "TLSv1_3_method");
  cl_run_reneg(&t, &o, &c, 1);
  cr_assert_eq(c.reneg_failed, 1);
  cr_assert_eq(c.reneg_err.code, PORTLS_ERENEG_DISABLED, "%s", portls_err_name(c.reneg_err.code));
  cr_assert_eq(c.errors, 0, "a refused renegotiation is not a connection error: %s", c.err.message);
  h_run_all_closed(&t);
  h_finish(&t);
}

/* The server asks for a client certificate only once the connection is up. */
static struct {
  int done, failed, authorized_before, authorized_after, has_cert;
  portls_error err;
} g_srv_reneg;

static void srv_reneg_done(portls_socket *s, const portls_error *err, void *u) {
  (void)u;
  g_srv_reneg.done++;
  portls_socket_end(s, NULL, 0); /* the client ends when it sees our end */
  if (err != NULL) {
    g_srv_reneg.failed++;
    g_srv_reneg.err = *err;
    return;
  }
  g_srv_reneg.authorized_after = portls_socket_authorized(s);
  portls_cert *cert = NULL;
  portls_error e;
  if (portls_socket_get_peer_certificate(s, 0, &cert, &e) == 0 && cert != NULL)
    g_srv_reneg.has_cert = 1;
  portls_cert_free(cert);
}

/* No echo here: the client ends at the first data, which could come before
 * it has answered the HelloRequest. */
static void srv_reneg_hook(h_side *side, h_event ev) {
  if (ev != H_SECURE) return;
  g_srv_reneg.authorized_before = portls_socket_authorized(side->sock);
  portls_renegotiate_options ro = {.request_cert = 1, .reject_unauthorized = 1};
  cr_assert_eq(portls_socket_renegotiate(side->sock, &ro, srv_reneg_done, NULL), 0);
  cr_assert_eq(portls_socket_renegotiate(side->sock, &ro, srv_reneg_done, NULL), PORTLS_EBUSY);
}

Test(renegotiate, server_asks_for_a_client_certificate_afterwards) {
  h_test t;
  h_init(&t);
  memset(&g_srv_reneg, 0, sizeof g_srv_reneg);
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", "ca.crt");
  h_listen_tls(&t, &so);
  t.srv.conn_hook = srv_reneg_hook;
  portls_connect_options o;
  cl_options(&t, &o, "TLSv1_2_method");
  h_context_options(&t, &o.tls.context, "client.key", "client-chain.crt", "ca.crt");
  o.tls.context.secure_protocol = "TLSv1_2_method";
  static cl c;
  cl_run(&t, &o, &c);
  h_run_until(&t, g_srv_reneg.done == 1);
  cr_assert_eq(g_srv_reneg.authorized_before, 0);
  if (!portls_has_capability(PORTLS_CAP_RENEG_SERVER)) {
    cr_assert_eq(g_srv_reneg.err.code, PORTLS_ERENEG_DISABLED);
    cr_assert(h_contains(g_srv_reneg.err.message, "renegotiate-server"), "%s",
              g_srv_reneg.err.message);
  } else {
    cr_assert_eq(g_srv_reneg.failed, 0, "%s; client: %d errors, %s; server socket: %s",
                 g_srv_reneg.err.message, c.errors, c.err.message, t.conn[0].log);
    cr_assert_eq(g_srv_reneg.authorized_after, 1,
                 "the renegotiated handshake did not verify the client");
    cr_assert_eq(g_srv_reneg.has_cert, 1);
  }
  h_run_all_closed(&t);
  h_finish(&t);
}

/* Node's CLIENT_RENEG_LIMIT: one renegotiation too many ends that
 * connection, and only that one. The limit is the server's own, or the
 * process-wide one in force when the server was created. */
static void limit_test(int limit, int per_server) {
  /* OpenSSL and mbedTLS run this; BoringSSL has no renegotiation at all. */
  h_need_cap_because(PORTLS_CAP_RENEG_CLIENT, "BoringSSL has no renegotiation");
  h_need_cap_because(PORTLS_CAP_RENEG_COUNT, "BoringSSL has no renegotiation");
  h_test t;
  h_init(&t);
  portls_server_options so;
  rsa_options(&t, &so);
  if (per_server)
    so.client_reneg_limit = limit;
  else
    portls_set_client_reneg_limit((unsigned)limit, 600);
  listen_rsa(&t, &so);
  portls_set_client_reneg_limit(3, 600); /* the server keeps what it was created with */
  static cl over, under;
  portls_connect_options o;
  cl_options(&t, &o, "TLSv1_2_method");
  cl_run_reneg(&t, &o, &over, limit + 1);
  h_run_until(&t, t.conn[0].closed);
  cr_assert_eq(over.reneg_ok, limit, "the renegotiations within the limit must succeed");
  cr_assert_eq(over.reneg_failed, 1, "the one over the limit must fail");
  cr_assert_eq(t.conn[0].err.code, PORTLS_ESESSION_ATTACK, "server socket: %s",
               portls_err_name(t.conn[0].err.code));
  /* Another connection on the same server is not affected. */
  cl_options(&t, &o, "TLSv1_2_method");
  cl_run_reneg(&t, &o, &under, limit);
  cr_assert_eq(under.reneg_ok, limit);
  cr_assert_eq(under.errors, 0, "%s", under.err.message);
  h_run_all_closed(&t);
  h_finish(&t);
}

Test(renegotiate, client_renegotiations_over_the_limit_end_the_connection) { limit_test(2, 1); }

Test(renegotiate, the_process_wide_limit_applies_to_servers_created_under_it) { limit_test(1, 0); }

Test(renegotiate, process_wide_limit_defaults_are_node_s_and_adjustable) {
  cr_assert_eq(portls_client_reneg_limit(), 3);
  cr_assert_eq(portls_client_reneg_window(), 600);
  portls_set_client_reneg_limit(5, 60);
  cr_assert_eq(portls_client_reneg_limit(), 5);
  cr_assert_eq(portls_client_reneg_window(), 60);
  portls_set_client_reneg_limit(3, 600);
}

/* TLS 1.3 tickets are for one use: a resumed connection brings a fresh one,
 * and resuming goes on from it (as with the library's own ticket keys). */
Test(session, tls13_resumption_brings_a_fresh_ticket_to_resume_from) {
  h_need_cap(PORTLS_CAP_TLS1_3);
  h_need_cap(PORTLS_CAP_SESSION_TICKETS);
  h_test t;
  rsa_test(&t);
  static cl prev, next;
  first_session(&t, "TLSv1_3_method", &prev);
  for (int i = 0; i < 3; i++) {
    portls_connect_options o;
    cl_options(&t, &o, "TLSv1_3_method");
    cl_run_session(&t, &o, &prev, &next);
    cr_assert_eq(next.reused, 1, "resumption %d", i + 1);
    cr_assert_geq(next.sessions, 1, "resumption %d brought no new ticket", i + 1);
    prev = next;
  }
  h_run_all_closed(&t);
  h_finish(&t);
}
