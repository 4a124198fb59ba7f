/* SecurePair (TLS with no socket), TLS over an application-defined duplex,
 * and STARTTLS (new tls.TLSSocket over a connected net socket). */
#include <criterion/criterion.h>
#include <string.h>

#include "common/harness.h"
#include "portls/portls.h"

/* One end of a conversation: what its cleartext socket saw. */
typedef struct end_state {
  portls_socket *sock;
  int secure, authorized, ended, closed, had_error, errors;
  int err_code;
  char rx[4096];
  size_t rx_len;
  const char *reply; /* written back when data arrives */
  int end_after_reply;
} end_state;

static void e_secure(portls_socket *s, void *u) {
  end_state *e = u;
  e->secure++;
  e->authorized = portls_socket_authorized(s);
}
static void e_data(portls_socket *s, const void *d, size_t n, void *u) {
  end_state *e = u;
  if (e->rx_len + n <= sizeof e->rx) memcpy(e->rx + e->rx_len, d, n), e->rx_len += n;
  if (e->reply != NULL) {
    portls_socket_write(s, e->reply, strlen(e->reply));
    e->reply = NULL;
    if (e->end_after_reply) portls_socket_end(s, NULL, 0);
  }
}
static void e_end(portls_socket *s, void *u) {
  (void)s;
  ((end_state *)u)->ended++;
}
static void e_error(portls_socket *s, const portls_error *err, void *u) {
  (void)s;
  end_state *e = u;
  e->errors++;
  e->err_code = err->code;
}
static void e_close(portls_socket *s, int had_error, void *u) {
  (void)s;
  end_state *e = u;
  e->closed++;
  e->had_error = had_error;
  e->sock = NULL;
}
static const portls_socket_events end_events = {
    .secure_connect = e_secure, .data = e_data, .end = e_end, .error = e_error, .close = e_close};

/* ---- SecurePair, push mode: each pair's ciphertext goes straight into the other ---- */

typedef struct pumped {
  portls_pair *client, *server;
  end_state c, s;
  int c_pair_secure, s_pair_secure;
  int c_enc_end, s_enc_end;
} pumped;

static void pair_secure(portls_pair *p, void *u) {
  pumped *pp = u;
  if (p == pp->client)
    pp->c_pair_secure++;
  else
    pp->s_pair_secure++;
}
static void pair_data(portls_pair *p, const void *d, size_t n, void *u) {
  pumped *pp = u;
  portls_pair *peer = p == pp->client ? pp->server : pp->client;
  if (peer != NULL) cr_assert_eq(portls_pair_encrypted_write(peer, d, n), 0);
}
static void pair_end(portls_pair *p, void *u) {
  pumped *pp = u;
  portls_pair *peer = p == pp->client ? pp->server : pp->client;
  if (p == pp->client)
    pp->c_enc_end++;
  else
    pp->s_enc_end++;
  if (peer != NULL) portls_pair_encrypted_end(peer);
}

/* The pair's own 'close': it is freed after this, so the pump forgets it. */
static void pair_closed(portls_pair *p, void *u) {
  pumped *pp = u;
  if (p == pp->client) pp->client = NULL;
  if (p == pp->server) pp->server = NULL;
}

static void make_pairs(h_test *t, pumped *pp, const portls_pair_events *ev) {
  portls_tls_socket_options so, co;
  portls_tls_socket_options_init(&so);
  so.is_server = 1;
  h_context_options(t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  so.events = &end_events;
  so.user = &pp->s;
  portls_tls_socket_options_init(&co);
  h_context_options(t, &co.tls.context, NULL, NULL, "ca.crt");
  co.tls.servername = "localhost";
  co.events = &end_events;
  co.user = &pp->c;
  portls_error err;
  cr_assert_eq(portls_pair_new(t->loop, &so, ev, pp, &pp->server, &err), 0, "%s", err.message);
  cr_assert_eq(portls_pair_new(t->loop, &co, ev, pp, &pp->client, &err), 0, "%s", err.message);
  pp->s.sock = portls_pair_cleartext(pp->server);
  pp->c.sock = portls_pair_cleartext(pp->client);
  cr_assert_not_null(pp->c.sock);
  cr_assert(portls_socket_encrypted(pp->c.sock));
}

Test(secure_pair, two_pairs_pumped_into_each_other_handshake_and_exchange_data) {
  h_test t;
  h_init(&t);
  static pumped pp;
  memset(&pp, 0, sizeof pp);
  portls_pair_events ev = {
      .secure = pair_secure, .encrypted_data = pair_data, .encrypted_end = pair_end};
  make_pairs(&t, &pp, &ev);
  pp.s.reply = "pong";
  pp.s.end_after_reply = 1;
  portls_socket_write(pp.c.sock, "ping", 4); /* queued until the handshake completes */
  h_run_until(&t, pp.c.closed && pp.s.closed);
  cr_assert_eq(pp.c_pair_secure, 1, "client 'secure'");
  cr_assert_eq(pp.s_pair_secure, 1, "server 'secure'");
  cr_assert_eq(pp.c.secure, 1, "client cleartext 'secureConnect'");
  cr_assert_eq(pp.s.rx_len, 4);
  cr_assert_eq(memcmp(pp.s.rx, "ping", 4), 0);
  cr_assert_eq(pp.c.rx_len, 4);
  cr_assert_eq(memcmp(pp.c.rx, "pong", 4), 0);
  cr_assert_eq(pp.c.ended, 1);
  cr_assert_eq(pp.c.had_error, 0);
  cr_assert_eq(pp.s.had_error, 0);
  cr_assert_geq(pp.c_enc_end + pp.s_enc_end, 1, "the encrypted stream's end");
  h_finish(&t);
}

typedef struct inspect {
  pumped pp;
  int authorized;
  char cipher[64], protocol[16], subject_cn[64];
  uint64_t enc_written, clear_written;
} inspect;

static void inspect_secure(portls_pair *p, void *u) {
  inspect *in = u;
  pair_secure(p, &in->pp);
  if (p != in->pp.client) return;
  portls_socket *s = portls_pair_cleartext(p);
  in->authorized = portls_socket_authorized(s);
  portls_cipher c;
  cr_assert_eq(portls_socket_get_cipher(s, &c), 0);
  strcpy(in->cipher, c.name);
  strcpy(in->protocol, portls_socket_get_protocol(s));
  portls_cert *cert = NULL;
  cr_assert_eq(portls_socket_get_peer_certificate(s, 0, &cert, NULL), 0);
  cr_assert_not_null(cert);
  const char *cn = h_dn_get(&cert->subject, "CN");
  strcpy(in->subject_cn, cn ? cn : "");
  portls_cert_free(cert);
  portls_socket_end(s, "bye", 3);
}
static void inspect_data(portls_pair *p, const void *d, size_t n, void *u) {
  pair_data(p, d, n, &((inspect *)u)->pp);
}
static void inspect_end(portls_pair *p, void *u) { pair_end(p, &((inspect *)u)->pp); }

Test(secure_pair, cleartext_has_the_tls_socket_api_and_counts_encrypted_bytes) {
  h_test t;
  h_init(&t);
  static inspect in;
  memset(&in, 0, sizeof in);
  portls_pair_events ev = {
      .secure = inspect_secure, .encrypted_data = inspect_data, .encrypted_end = inspect_end};
  make_pairs(&t, &in.pp, &ev);
  h_run_until(&t, in.pp.c.closed && in.pp.s.closed);
  cr_assert_eq(in.authorized, 1);
  cr_assert_str_eq(in.subject_cn, "localhost");
  cr_assert_gt(strlen(in.cipher), 0);
  cr_assert_str_neq(in.protocol, "unknown");
  cr_assert_eq(in.pp.s.rx_len, 3);
  h_finish(&t);
}

/* ---- pull mode and zero-copy feed ---- */

typedef struct pull {
  portls_pair *client, *server;
  end_state c, s;
  int lent_back;
  int c_secure;
} pull;

static void feed_done(portls_pair *p, void *u) {
  (void)p;
  ((pull *)u)->lent_back++;
}

/* Moves every byte waiting in `from` to `to`: pull from one, lend to the other. */
static size_t transfer(h_test *t, pull *pl, portls_pair *from, portls_pair *to) {
  const void *data;
  size_t n = portls_pair_encrypted_peek(from, &data);
  if (n == 0) return 0;
  static unsigned char wire[64 * 1024];
  cr_assert_leq(n, sizeof wire);
  memcpy(wire, data, n); /* what a UART driver would do */
  portls_pair_encrypted_consume(from, n);
  int before = pl->lent_back;
  cr_assert_eq(portls_pair_encrypted_feed(to, wire, n, feed_done, pl), 0);
  cr_assert_eq(portls_pair_encrypted_feed(to, wire, n, feed_done, pl), PORTLS_EBUSY,
               "one lent buffer at a time");
  h_run_until(t, pl->lent_back > before);
  return n;
}

static void pull_secure(portls_pair *p, void *u) {
  pull *pl = u;
  if (p == pl->client) pl->c_secure++;
}

Test(secure_pair, pull_mode_peek_consume_and_zero_copy_feed) {
  h_test t;
  h_init(&t);
  static pull pl;
  memset(&pl, 0, sizeof pl);
  portls_pair_events ev = {.secure = pull_secure};
  portls_tls_socket_options so, co;
  portls_tls_socket_options_init(&so);
  so.is_server = 1;
  h_context_options(&t, &so.tls.context, "server-ec.key", "server-ec-chain.crt", NULL);
  so.events = &end_events;
  so.user = &pl.s;
  portls_tls_socket_options_init(&co);
  h_context_options(&t, &co.tls.context, NULL, NULL, "ca.crt");
  co.tls.servername = "localhost";
  co.events = &end_events;
  co.user = &pl.c;
  cr_assert_eq(portls_pair_new(t.loop, &so, &ev, &pl, &pl.server, NULL), 0);
  cr_assert_eq(portls_pair_new(t.loop, &co, &ev, &pl, &pl.client, NULL), 0);
  pl.s.reply = "world";
  portls_socket_write(portls_pair_cleartext(pl.client), "hello", 5);
  uint64_t moved = 0;
  for (int round = 0; round < 50 && pl.c.rx_len < 5; round++) {
    h_wait(&t, 5);
    moved += transfer(&t, &pl, pl.client, pl.server);
    moved += transfer(&t, &pl, pl.server, pl.client);
  }
  cr_assert_eq(pl.c_secure, 1);
  cr_assert_eq(pl.s.rx_len, 5);
  cr_assert_eq(memcmp(pl.s.rx, "hello", 5), 0);
  cr_assert_eq(pl.c.rx_len, 5);
  cr_assert_eq(memcmp(pl.c.rx, "world", 5), 0);
  cr_assert_eq(portls_pair_encrypted_bytes_written(pl.client) +
                   portls_pair_encrypted_bytes_written(pl.server),
               moved);
  cr_assert_gt(portls_pair_encrypted_bytes_written(pl.client), 5, "TLS overhead included");
  portls_socket_destroy(portls_pair_cleartext(pl.client), NULL);
  portls_socket_destroy(portls_pair_cleartext(pl.server), NULL);
  h_run_until(&t, pl.c.closed && pl.s.closed);
  h_finish(&t);
}

Test(secure_pair, verification_failure_is_reported_on_the_cleartext_stream) {
  h_test t;
  h_init(&t);
  static pumped pp;
  memset(&pp, 0, sizeof pp);
  portls_pair_events ev = {.secure = pair_secure,
                           .encrypted_data = pair_data,
                           .encrypted_end = pair_end,
                           .close = pair_closed};
  portls_tls_socket_options so, co;
  portls_tls_socket_options_init(&so);
  so.is_server = 1;
  h_context_options(&t, &so.tls.context, "self-signed.key", "self-signed.crt", NULL);
  so.events = &end_events;
  so.user = &pp.s;
  portls_tls_socket_options_init(&co);
  h_context_options(&t, &co.tls.context, NULL, NULL, "ca.crt");
  co.tls.servername = "localhost";
  co.events = &end_events;
  co.user = &pp.c;
  cr_assert_eq(portls_pair_new(t.loop, &so, &ev, &pp, &pp.server, NULL), 0);
  cr_assert_eq(portls_pair_new(t.loop, &co, &ev, &pp, &pp.client, NULL), 0);
  pp.s.sock = portls_pair_cleartext(pp.server);
  h_run_until(&t, pp.c.closed);
  cr_assert_eq(pp.c.err_code, PORTLS_EDEPTH_ZERO_SELF_SIGNED_CERT);
  cr_assert_eq(pp.c.had_error, 1);
  cr_assert_eq(pp.c_pair_secure, 0);
  h_run_until(&t, pp.s.closed); /* the client pair's end reaches the server */
  h_finish(&t);
}

/* ---- TLS over an application-defined duplex ---- */

typedef struct wire {
  portls_socket *peer; /* where written bytes go */
  int ended, destroyed;
} wire;

static int wire_write(void *impl, const void *data, size_t len) {
  wire *w = impl;
  return w->peer ? portls_socket_push(w->peer, data, len) : PORTLS_EPIPE;
}
static void wire_end(void *impl) {
  wire *w = impl;
  w->ended = 1;
  if (w->peer) portls_socket_push(w->peer, NULL, 0);
}
static void wire_destroy(void *impl) { ((wire *)impl)->destroyed = 1; }

Test(tls_duplex, tls_socket_over_application_streams_handshakes_and_carries_data) {
  h_test t;
  h_init(&t);
  static end_state c, s;
  static wire cw, sw;
  memset(&c, 0, sizeof c), memset(&s, 0, sizeof s), memset(&cw, 0, sizeof cw),
      memset(&sw, 0, sizeof sw);
  portls_duplex_ops ops = {.write = wire_write, .end = wire_end, .destroy = wire_destroy};
  portls_tls_socket_options so, co;
  portls_tls_socket_options_init(&so);
  so.is_server = 1;
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  so.events = &end_events;
  so.user = &s;
  portls_tls_socket_options_init(&co);
  h_context_options(&t, &co.tls.context, NULL, NULL, "ca.crt");
  co.tls.servername = "localhost";
  co.events = &end_events;
  co.user = &c;
  portls_socket *ss, *cs;
  cr_assert_eq(portls_tls_socket_from_duplex(t.loop, &ops, &sw, &so, &ss, NULL), 0);
  cr_assert_eq(portls_tls_socket_from_duplex(t.loop, &ops, &cw, &co, &cs, NULL), 0);
  cw.peer = ss;
  sw.peer = cs;
  s.reply = "over the duplex";
  s.end_after_reply = 1;
  portls_socket_write(cs, "hi", 2);
  h_run_until(&t, c.ended);
  cr_assert_eq(c.secure, 1);
  cr_assert_eq(c.authorized, 1);
  cr_assert_eq(c.rx_len, 15);
  cr_assert_eq(memcmp(c.rx, "over the duplex", 15), 0);
  h_run_until(&t, c.closed && s.closed);
  cr_assert_eq(c.had_error, 0);
  cr_assert_eq(s.had_error, 0);
  cr_assert(cw.ended && sw.ended, "each side half-closed its stream");
  cr_assert(cw.destroyed && sw.destroyed, "each stream was released");
  h_finish(&t);
}

Test(tls_duplex, push_is_refused_on_other_sockets) {
  cr_assert_eq(portls_socket_push(NULL, "x", 1), PORTLS_EINVAL);
}

/* ---- STARTTLS: a plain conversation, then both sides upgrade ---- */

typedef struct starttls {
  h_test *t;
  portls_socket *plain_client, *plain_server, *tls_client, *tls_server;
  end_state c, s;
  int client_connected;
} starttls;

static starttls *g_st;

static void st_server_plain_data(portls_socket *sock, const void *d, size_t n, void *u) {
  starttls *st = u;
  cr_assert_eq(n, 9);
  cr_assert_eq(memcmp(d, "STARTTLS\n", 9), 0);
  portls_socket_write(sock, "GO\n", 3);
  portls_tls_socket_options o;
  portls_tls_socket_options_init(&o);
  o.is_server = 1;
  h_context_options(st->t, &o.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  o.events = &end_events;
  o.user = &st->s;
  st->s.reply = "secret";
  st->s.end_after_reply = 1;
  portls_error err;
  cr_assert_eq(portls_tls_socket_wrap(sock, &o, &st->tls_server, &err), 0, "%s", err.message);
  st->s.sock = st->tls_server;
}

static int st_server_closed;
static void st_close(portls_server *srv, void *u) {
  (void)srv, (void)u;
  st_server_closed = 1;
}

static void st_connection(portls_server *srv, portls_socket *sock, void *u) {
  (void)srv;
  (void)u;
  portls_socket_events ev = {.data = st_server_plain_data};
  portls_socket_set_events(sock, &ev, g_st);
  g_st->plain_server = sock;
}

static void st_client_connect(portls_socket *sock, void *u) {
  (void)u;
  portls_socket_write(sock, "STARTTLS\n", 9);
}

static void st_client_data(portls_socket *sock, const void *d, size_t n, void *u) {
  starttls *st = u;
  cr_assert_eq(n, 3);
  cr_assert_eq(memcmp(d, "GO\n", 3), 0);
  portls_connect_options o;
  portls_connect_options_init(&o);
  h_context_options(st->t, &o.tls.context, NULL, NULL, "ca.crt");
  o.socket = sock;
  o.host = "localhost";
  o.events = &end_events;
  o.user = &st->c;
  portls_error err;
  cr_assert_eq(portls_tls_connect(st->t->loop, &o, &st->tls_client, &err), 0, "%s", err.message);
  st->c.sock = st->tls_client;
  portls_socket_write(st->tls_client, "tell me", 7); /* sent once the handshake completes */
}

Test(starttls, plain_socket_upgraded_on_both_sides_with_connect_socket_option) {
  h_test t;
  h_init(&t);
  static starttls st;
  memset(&st, 0, sizeof st);
  st.t = &t;
  g_st = &st;
  st_server_closed = 0;
  portls_server_events sev = {.connection = st_connection, .close = st_close};
  portls_server_options so;
  portls_server_options_init(&so);
  so.events = &sev;
  portls_server *srv;
  cr_assert_eq(portls_net_create_server(t.loop, &so, &srv, NULL), 0);
  cr_assert_eq(portls_server_listen(srv, "127.0.0.1", 0, 0, NULL), 0);
  portls_address a;
  cr_assert_eq(portls_server_address(srv, &a), 0);
  portls_net_connect_options co;
  portls_net_connect_options_init(&co);
  co.port = (uint16_t)a.port;
  portls_socket_events cev = {.connect = st_client_connect, .data = st_client_data};
  co.events = &cev;
  co.user = &st;
  cr_assert_eq(portls_net_connect(t.loop, &co, &st.plain_client, NULL), 0);
  h_run_until(&t, st.c.closed && st.s.closed);
  cr_assert_eq(st.c.secure, 1);
  cr_assert_eq(st.c.errors, 0, "client error %s", portls_err_name(st.c.err_code));
  cr_assert_eq(st.c.rx_len, 6);
  cr_assert_eq(memcmp(st.c.rx, "secret", 6), 0);
  cr_assert_eq(st.c.had_error, 0);
  cr_assert_eq(st.s.rx_len, 7);
  cr_assert_eq(memcmp(st.s.rx, "tell me", 7), 0);
  portls_server_close(srv);
  h_run_until(&t, st_server_closed);
  h_finish(&t);
}

/* ---- the pair's own lifetime: 'close', and the encrypted side's end on failure ---- */

typedef struct life {
  h_test *t;
  portls_pair *client, *server; /* cleared by the pair's own 'close' */
  end_state c, s;
  unsigned seq;
  /* Position (seq) of each event, per side: 0 client, 1 server. */
  unsigned enc_end_at[2], clear_close_at[2], pair_close_at[2];
  int enc_ends[2], pair_closes[2];
  int after_close[2]; /* events after the pair's 'close' */
  size_t enc_out[2];  /* ciphertext handed out */
  int calls_ok[2];    /* the pair answered cleanly from its cleartext's 'close' */
} life;

static life *g_life;

static int side_of(life *l, portls_pair *p) { return p == l->client ? 0 : p == l->server ? 1 : -1; }

static void life_data(portls_pair *p, const void *d, size_t n, void *u) {
  life *l = u;
  int i = side_of(l, p);
  cr_assert_geq(i, 0, "an event of a pair after its 'close'");
  if (l->pair_closes[i]) l->after_close[i]++;
  l->enc_out[i] += n;
  portls_pair *peer = i == 0 ? l->server : l->client;
  if (peer != NULL) portls_pair_encrypted_write(peer, d, n); /* may refuse: it is closing */
}

static void life_end(portls_pair *p, void *u) {
  life *l = u;
  int i = side_of(l, p);
  cr_assert_geq(i, 0, "an event of a pair after its 'close'");
  if (l->pair_closes[i]) l->after_close[i]++;
  l->enc_ends[i]++;
  l->enc_end_at[i] = ++l->seq;
  portls_pair *peer = i == 0 ? l->server : l->client;
  if (peer != NULL) portls_pair_encrypted_end(peer);
}

/* Every pair function, on a pair whose cleartext socket is closing or closed. */
static int pair_refuses_cleanly(portls_pair *p) {
  const void *data = NULL;
  int ok = portls_pair_encrypted_write(p, "x", 1) == PORTLS_ESTREAM_DESTROYED;
  ok &= portls_pair_encrypted_feed(p, "x", 1, NULL, NULL) == PORTLS_ESTREAM_DESTROYED;
  ok &= portls_pair_encrypted_end(p) == PORTLS_ESTREAM_DESTROYED;
  (void)portls_pair_encrypted_peek(p, &data);
  portls_pair_encrypted_consume(p, 0);
  (void)portls_pair_encrypted_bytes_written(p);
  return ok;
}

static void life_close(portls_pair *p, void *u) {
  life *l = u;
  int i = side_of(l, p);
  cr_assert_geq(i, 0, "a second 'close' of a pair");
  l->pair_closes[i]++;
  l->pair_close_at[i] = ++l->seq;
  cr_assert_null(portls_pair_cleartext(p), "the cleartext socket has gone by the pair's 'close'");
  cr_assert(pair_refuses_cleanly(p));
  if (i == 0)
    l->client = NULL;
  else
    l->server = NULL;
  portls_loop_stop(l->t->loop);
}

/* The cleartext sockets' 'close': the pair is still there, and refuses I/O. */
static void life_clear_close(portls_socket *s, int had_error, void *u) {
  end_state *e = u;
  life *l = g_life;
  int i = e == &l->c ? 0 : 1;
  portls_pair *p = i == 0 ? l->client : l->server;
  e_close(s, had_error, u);
  l->clear_close_at[i] = ++l->seq;
  cr_assert_not_null(p, "the pair's 'close' came before its cleartext socket's");
  l->calls_ok[i] = pair_refuses_cleanly(p);
  portls_loop_stop(l->t->loop);
}

static const portls_socket_events life_socket_events = {.secure_connect = e_secure,
                                                        .data = e_data,
                                                        .end = e_end,
                                                        .error = e_error,
                                                        .close = life_clear_close};

static const portls_pair_events life_events = {
    .encrypted_data = life_data, .encrypted_end = life_end, .close = life_close};

static void make_life(h_test *t, life *l, const char *key, const char *cert) {
  memset(l, 0, sizeof *l);
  l->t = t;
  g_life = l;
  portls_tls_socket_options so, co;
  portls_tls_socket_options_init(&so);
  so.is_server = 1;
  h_context_options(t, &so.tls.context, key, cert, NULL);
  so.events = &life_socket_events;
  so.user = &l->s;
  portls_tls_socket_options_init(&co);
  h_context_options(t, &co.tls.context, NULL, NULL, "ca.crt");
  co.tls.servername = "localhost";
  co.events = &life_socket_events;
  co.user = &l->c;
  portls_error err;
  cr_assert_eq(portls_pair_new(t->loop, &so, &life_events, l, &l->server, &err), 0, "%s",
               err.message);
  cr_assert_eq(portls_pair_new(t->loop, &co, &life_events, l, &l->client, &err), 0, "%s",
               err.message);
}

static void life_check_order(const life *l, int i) {
  const char *who = i == 0 ? "client" : "server";
  cr_assert_eq(l->enc_ends[i], 1, "%s: encrypted_end once", who);
  cr_assert_eq(l->pair_closes[i], 1, "%s: the pair's 'close' once", who);
  cr_assert_eq(l->after_close[i], 0, "%s: nothing after the pair's 'close'", who);
  cr_assert_lt(l->enc_end_at[i], l->clear_close_at[i], "%s: encrypted_end, then 'close'", who);
  cr_assert_lt(l->clear_close_at[i], l->pair_close_at[i], "%s: the cleartext's 'close' first", who);
  cr_assert(l->calls_ok[i], "%s: the pair refused I/O cleanly in its cleartext's 'close'", who);
}

Test(secure_pair, close_comes_once_after_the_cleartext_close_and_the_pair_is_usable_until_then) {
  h_test t;
  h_init(&t);
  static life l;
  make_life(&t, &l, "server-rsa.key", "server-rsa-chain.crt");
  l.s.reply = "pong";
  l.s.end_after_reply = 1;
  portls_socket_write(portls_pair_cleartext(l.client), "ping", 4);
  h_run_until(&t, l.pair_closes[0] && l.pair_closes[1]);
  cr_assert_eq(l.c.rx_len, 4);
  cr_assert_eq(memcmp(l.c.rx, "pong", 4), 0);
  cr_assert_eq(l.c.had_error, 0);
  cr_assert_eq(l.s.had_error, 0);
  life_check_order(&l, 0);
  life_check_order(&l, 1);
  h_wait(&t, 20); /* nothing more comes */
  cr_assert_eq(l.pair_closes[0] + l.pair_closes[1], 2);
  h_finish(&t);
}

Test(secure_pair, destroying_the_cleartext_ends_the_encrypted_side_and_closes_the_pair) {
  h_test t;
  h_init(&t);
  static life l;
  make_life(&t, &l, "server-rsa.key", "server-rsa-chain.crt");
  h_run_until(&t, l.c.secure == 1);
  portls_socket_destroy(portls_pair_cleartext(l.client), NULL);
  cr_assert_not_null(l.client, "the pair stays until its 'close'");
  cr_assert_eq(portls_pair_encrypted_write(l.client, "x", 1), PORTLS_ESTREAM_DESTROYED);
  h_run_until(&t, l.pair_closes[0] && l.pair_closes[1]);
  life_check_order(&l, 0);
  life_check_order(&l, 1);
  h_finish(&t);
}

/* A client pair whose handshake fails (the server's certificate is
 * self-signed) ends its encrypted side after its alert, so the server pair
 * that the application pumps it into sees the end and closes too. */
Test(secure_pair, a_failing_client_pair_ends_its_encrypted_side_and_the_server_pair_sees_it) {
  h_test t;
  h_init(&t);
  static life l;
  make_life(&t, &l, "self-signed.key", "self-signed.crt");
  h_run_until(&t, l.pair_closes[0] && l.pair_closes[1]);
  cr_assert_eq(l.c.err_code, PORTLS_EDEPTH_ZERO_SELF_SIGNED_CERT, "%s",
               portls_err_name(l.c.err_code));
  cr_assert_eq(l.c.had_error, 1);
  cr_assert_eq(l.s.closed, 1, "the server pair saw the client's end");
  life_check_order(&l, 0);
  life_check_order(&l, 1);
  h_finish(&t);
}

/* A server pair fed something that is not TLS fails, hands out its alert (if
 * its backend sends one) and ends its encrypted side. */
Test(secure_pair, a_failing_server_pair_ends_its_encrypted_side) {
  h_test t;
  h_init(&t);
  static life l;
  memset(&l, 0, sizeof l);
  l.t = &t;
  g_life = &l;
  portls_tls_socket_options so;
  portls_tls_socket_options_init(&so);
  so.is_server = 1;
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  so.events = &life_socket_events;
  so.user = &l.s;
  cr_assert_eq(portls_pair_new(t.loop, &so, &life_events, &l, &l.server, NULL), 0);
  static const char http[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
  cr_assert_eq(portls_pair_encrypted_write(l.server, http, sizeof http - 1), 0);
  h_run_until(&t, l.pair_closes[1]);
  cr_assert_eq(l.s.had_error, 1);
  cr_assert_eq(l.s.errors, 1);
  life_check_order(&l, 1);
  h_finish(&t);
}
