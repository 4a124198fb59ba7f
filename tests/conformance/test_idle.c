/* A server connection that has gone quiet after its handshake answers every
 * question as it did at 'secureConnection', and carries data as before.
 *
 * On the OpenSSL backend such a TLS 1.3 connection, quiet for two of its
 * server's rest sweeps, has given its library session back by then
 * (backends/common/ossl_lean.c; test_memory.c shows that it happens) and runs
 * on portls's own record layer: these tests keep that record layer and the
 * answers it kept honest. On the other backends they hold just the same. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/harness.h"
#include "portls/portls.h"

/* What a server socket says about itself. */
typedef struct facts {
  int authorized;
  char servername[64];
  char protocol[16];
  portls_cipher cipher;
  char peer_cn[64], peer_issuer_cn[64], fingerprint256[100];
  int chain_len;
  size_t session_len;
} facts;

static void copy_str(char *dst, size_t cap, const char *s) {
  snprintf(dst, cap, "%s", s != NULL ? s : "(null)");
}

static void read_facts(portls_socket *s, facts *f) {
  memset(f, 0, sizeof *f);
  f->authorized = portls_socket_authorized(s);
  copy_str(f->servername, sizeof f->servername, portls_socket_servername(s));
  copy_str(f->protocol, sizeof f->protocol, portls_socket_get_protocol(s));
  cr_assert_eq(portls_socket_get_cipher(s, &f->cipher), 0);
  portls_cert *cert = NULL;
  portls_error err = {0};
  cr_assert_eq(portls_socket_get_peer_certificate(s, 1, &cert, &err), 0, "%s", err.message);
  cr_assert_not_null(cert, "the client's certificate");
  copy_str(f->peer_cn, sizeof f->peer_cn, h_dn_get(&cert->subject, "CN"));
  copy_str(f->fingerprint256, sizeof f->fingerprint256, cert->fingerprint256);
  const portls_cert *up = cert->issuer_certificate;
  copy_str(f->peer_issuer_cn, sizeof f->peer_issuer_cn,
           up != NULL ? h_dn_get(&up->subject, "CN") : NULL);
  for (const portls_cert *c = cert; c != NULL;
       c = c->issuer_certificate == c ? NULL : c->issuer_certificate)
    f->chain_len++;
  portls_cert_free(cert);
  portls_buf sess = {0};
  if (portls_socket_get_session(s, &sess) == 0) f->session_len = sess.len;
  portls_free((void *)sess.base);
}

typedef struct idle_state {
  facts at_secure;
  int reneg_done;
  int reneg_code;
} idle_state;

static void conn_hook(h_side *side, h_event ev) {
  if (ev == H_SECURE) read_facts(side->sock, &((idle_state *)side->t->user)->at_secure);
}

static void reneg_cb(portls_socket *s, const portls_error *err, void *user) {
  (void)s;
  idle_state *st = user;
  st->reneg_done = 1;
  st->reneg_code = err != NULL ? err->code : 0;
}

static const char *const pattern = "0123456789abcdefghijklmnopqrstuvwxyz";

Test(idle_connection, a_quiet_server_connection_answers_as_at_secure_connection_and_carries_data) {
  h_test t;
  h_init(&t);
  static idle_state st;
  memset(&st, 0, sizeof st);
  t.user = &st;
  portls_server_options so;
  portls_server_options_init(&so);
  so.rest_min_connections = 1; /* every connection may rest */
  h_context_options(&t, &so.tls.context, "server-ec.key", "server-ec-chain.crt", "ca.crt");
  so.tls.request_cert = 1;
  so.tls.reject_unauthorized = 1;
  t.srv.conn_hook = conn_hook;
  h_listen_tls(&t, &so);
  portls_connect_options co;
  portls_connect_options_init(&co);
  h_context_options(&t, &co.tls.context, "client.key", "client-chain.crt", "ca.crt");
  co.tls.servername = "localhost";
  h_side *c = h_connect_tls(&t, &co);
  h_run_until(&t, c->count[H_SECURE] == 1 && t.nconns == 1 && t.conn[0].count[H_SECURE] == 1);
  h_wait(&t, 1000); /* quiet for several rest sweeps (core/net/server.c) */
  h_side *srv = &t.conn[0];

  facts now;
  read_facts(srv->sock, &now);
  facts *then = &st.at_secure;
  cr_assert_eq(then->authorized, 1);
  cr_assert_str_eq(then->servername, "localhost");
  cr_assert_str_eq(then->peer_cn, "portls client");
  cr_assert_gt(then->chain_len, 1, "the detailed certificate links to its issuer");
  cr_assert_gt(then->session_len, 0, "getSession() on the server");
  cr_assert_eq(now.authorized, then->authorized);
  cr_assert_str_eq(now.servername, then->servername);
  cr_assert_str_eq(now.protocol, then->protocol);
  cr_assert_str_eq(now.cipher.name, then->cipher.name);
  cr_assert_str_eq(now.cipher.standard_name, then->cipher.standard_name);
  cr_assert_str_eq(now.peer_cn, then->peer_cn);
  cr_assert_str_eq(now.peer_issuer_cn, then->peer_issuer_cn);
  cr_assert_str_eq(now.fingerprint256, then->fingerprint256);
  cr_assert_eq(now.chain_len, then->chain_len);
  cr_assert_eq(now.session_len, then->session_len);

  /* TLS 1.3 cannot renegotiate, resting or not. */
  if (strcmp(now.protocol, "TLSv1.3") == 0) {
    portls_renegotiate_options ro = {.request_cert = 1, .reject_unauthorized = 1};
    (void)portls_socket_renegotiate(srv->sock, &ro, reneg_cb, &st);
    h_run_until(&t, st.reneg_done);
    cr_assert_eq(st.reneg_code, PORTLS_ERENEG_DISABLED, "%s", portls_err_name(st.reneg_code));
  }

  /* Data both ways, the server's in records of at most 512 bytes. */
  enum { BIG = 40000 };
  static char big[BIG];
  for (size_t i = 0; i < BIG; i++) big[i] = pattern[i % 36];
  cr_assert(portls_socket_set_max_send_fragment(srv->sock, 512));
  portls_socket_write(srv->sock, big, BIG);
  h_run_until(&t, c->rx_len >= BIG);
  cr_assert_eq(c->rx_len, BIG);
  cr_assert_eq(memcmp(c->rx, big, BIG), 0, "the client got other bytes than the server wrote");
  portls_socket_write(c->sock, big, BIG);
  h_run_until(&t, srv->rx_len >= BIG);
  cr_assert_eq(memcmp(srv->rx, big, BIG), 0, "the server got other bytes than the client wrote");

  /* A clean end from the server side: close_notify, then the transport. */
  portls_socket_end(srv->sock, NULL, 0);
  h_run_until(&t, c->closed && srv->closed);
  cr_assert_eq(c->count[H_ERROR], 0, "client: %s", c->log);
  cr_assert_eq(srv->count[H_ERROR], 0, "server: %s", srv->log);
  cr_assert_eq(c->count[H_END], 1, "client: %s", c->log);
  h_finish(&t);
}

/* ---- records on the wire, seen through a SecurePair ----
 * (A SecurePair belongs to no server and never rests; the same bound on a
 * resting connection is checked against openssl s_client -msg in
 * tests/interop/openssl_s_client.sh.) */

typedef struct wire {
  portls_pair *client, *server;
  portls_socket *cc, *sc; /* their cleartext sockets */
  int closed;
  int s_errors, s_error_code;
  size_t s_rx;
  int measuring;
  /* the server's ciphertext, parsed into records as it streams out */
  uint8_t hdr[5];
  size_t hdr_have, body_left;
  int app_records, oversized;
  size_t largest;
  size_t c_rx;
} wire;

static void w_parse(wire *w, const uint8_t *p, size_t n) {
  while (n > 0) {
    if (w->body_left > 0) {
      size_t k = n < w->body_left ? n : w->body_left;
      w->body_left -= k;
      p += k;
      n -= k;
      continue;
    }
    w->hdr[w->hdr_have++] = *p++;
    n--;
    if (w->hdr_have == 5) {
      size_t len = (size_t)w->hdr[3] << 8 | w->hdr[4];
      w->hdr_have = 0;
      w->body_left = len;
      if (w->measuring && w->hdr[0] == 23) {
        w->app_records++;
        if (len > w->largest) w->largest = len;
        if (len > 512 + 256) w->oversized++;
      }
    }
  }
}

static void w_data(portls_pair *p, const void *d, size_t n, void *u) {
  wire *w = u;
  if (p == w->server) w_parse(w, d, n);
  portls_pair *peer = p == w->client ? w->server : w->client;
  if (peer != NULL) cr_assert_eq(portls_pair_encrypted_write(peer, d, n), 0);
}

static int w_secure;
static void w_on_secure(portls_socket *s, void *u) {
  (void)s, (void)u;
  w_secure++;
}
static void w_on_close(portls_socket *s, int had_error, void *u) {
  (void)had_error;
  wire *w = u;
  if (s == w->sc) w->server = NULL;
  if (s == w->cc) w->client = NULL;
  w->closed++;
}
static void w_on_data(portls_socket *s, const void *d, size_t n, void *u) {
  (void)d;
  wire *w = u;
  if (s == w->sc)
    w->s_rx += n;
  else
    w->c_rx += n;
}
static void w_on_error(portls_socket *s, const portls_error *err, void *u) {
  wire *w = u;
  if (s != w->sc) return;
  w->s_errors++;
  w->s_error_code = err->code;
}

Test(idle_connection, set_max_send_fragment_bounds_the_records_on_the_wire) {
  h_test t;
  h_init(&t);
  static wire w;
  memset(&w, 0, sizeof w);
  w_secure = 0;
  static const portls_socket_events sev = {
      .secure_connect = w_on_secure, .data = w_on_data, .error = w_on_error, .close = w_on_close};
  static const portls_socket_events cev = {
      .secure_connect = w_on_secure, .data = w_on_data, .close = w_on_close};
  portls_tls_socket_options so, co;
  portls_tls_socket_options_init(&so);
  so.is_server = 1;
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  so.events = &sev;
  so.user = &w;
  portls_tls_socket_options_init(&co);
  h_context_options(&t, &co.tls.context, NULL, NULL, "ca.crt");
  co.tls.servername = "localhost";
  co.events = &cev;
  co.user = &w;
  portls_pair_events ev = {.encrypted_data = w_data};
  portls_error err;
  cr_assert_eq(portls_pair_new(t.loop, &so, &ev, &w, &w.server, &err), 0, "%s", err.message);
  cr_assert_eq(portls_pair_new(t.loop, &co, &ev, &w, &w.client, &err), 0, "%s", err.message);
  w.sc = portls_pair_cleartext(w.server);
  w.cc = portls_pair_cleartext(w.client);
  h_run_until(&t, w_secure == 2);
  h_wait(&t, 20);

  portls_socket *s = portls_pair_cleartext(w.server);
  static char big[10000];
  memset(big, 'x', sizeof big);
  w.measuring = 1;
  cr_assert(portls_socket_set_max_send_fragment(s, 512));
  portls_socket_write(s, big, sizeof big);
  h_run_until(&t, w.c_rx >= sizeof big);
  cr_assert_eq(w.c_rx, sizeof big);
  cr_assert_geq(w.app_records, 20, "10000 bytes in %d records (largest %zu)", w.app_records,
                w.largest);
  cr_assert_eq(w.oversized, 0, "largest record %zu bytes", w.largest);

  /* Back to full records. */
  w.app_records = 0;
  w.largest = 0;
  w.c_rx = 0;
  cr_assert(portls_socket_set_max_send_fragment(s, 16384));
  portls_socket_write(s, big, sizeof big);
  h_run_until(&t, w.c_rx >= sizeof big);
  cr_assert_leq(w.app_records, 2, "10000 bytes in %d records (largest %zu)", w.app_records,
                w.largest);
  cr_assert_gt(w.largest, 9000);

  /* A record that does not authenticate is an error, never data. */
  uint8_t forged[5 + 40] = {23, 3, 3, 0, 40};
  for (size_t i = 5; i < sizeof forged; i++) forged[i] = (uint8_t)(i * 7);
  cr_assert_eq(portls_pair_encrypted_write(w.server, forged, sizeof forged), 0);
  h_run_until(&t, w.s_errors > 0 || w.closed > 0);
  cr_assert_eq(w.s_errors, 1);
  cr_assert_eq(w.s_error_code, PORTLS_EPROTO, "%s", portls_err_name(w.s_error_code));
  cr_assert_eq(w.s_rx, 0, "the forged record was delivered as data");

  if (w.cc != NULL && w.client != NULL) portls_socket_destroy(w.cc, NULL);
  if (w.server != NULL) portls_socket_destroy(w.sc, NULL);
  h_run_until(&t, w.closed == 2);
  h_finish(&t);
}
