/* TLS sockets and servers over loopback: handshake, data, close_notify,
 * verification, client certificates, ciphers, the certificate model, ALPN.
 * Certificates come from $PORTLS_CERTS (certs/README.md). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/harness.h"

static uint16_t tls_server(h_test *t, const char *key, const char *cert) {
  portls_server_options o;
  portls_server_options_init(&o);
  h_context_options(t, &o.tls.context, key, cert, NULL);
  return h_listen_tls(t, &o);
}

static portls_connect_options client_options(h_test *t, const char *ca) {
  portls_connect_options o;
  portls_connect_options_init(&o);
  h_context_options(t, &o.tls.context, NULL, NULL, ca);
  o.host = "localhost";
  return o;
}

static h_side *tls_client(h_test *t, const char *ca, h_hook hook) {
  portls_connect_options o = client_options(t, ca);
  h_side *c = h_connect_tls(t, &o);
  c->hook = hook;
  return c;
}

static void end_on_secure(h_side *s, h_event ev) {
  if (ev == H_SECURE) portls_socket_end(s->sock, NULL, 0);
}

/* ---- handshake ---- */

typedef struct hs_info {
  int encrypted, authorized, authz_error;
  char protocol[16];
  portls_cipher cipher;
  int cipher_rc;
  char servername[64];
  int has_servername;
  char alpn[32];
  int has_alpn;
} hs_info;

typedef struct hs_state {
  hs_info client, conn;
} hs_state;

static void copy_str(char *dst, size_t size, const char *src, int *present) {
  if (present != NULL) *present = src != NULL;
  snprintf(dst, size, "%s", src ? src : "");
}

static void record_hs(portls_socket *s, hs_info *i) {
  i->encrypted = portls_socket_encrypted(s);
  i->authorized = portls_socket_authorized(s);
  i->authz_error = portls_socket_authorization_error(s);
  copy_str(i->protocol, sizeof i->protocol, portls_socket_get_protocol(s), NULL);
  i->cipher_rc = portls_socket_get_cipher(s, &i->cipher);
  copy_str(i->servername, sizeof i->servername, portls_socket_servername(s), &i->has_servername);
  copy_str(i->alpn, sizeof i->alpn, portls_socket_alpn_protocol(s), &i->has_alpn);
}

static void hs_client(h_side *s, h_event ev) {
  hs_state *st = s->t->user;
  if (ev == H_SECURE) {
    record_hs(s->sock, &st->client);
    portls_socket_end(s->sock, NULL, 0);
  }
}

static void hs_conn(h_side *s, h_event ev) {
  hs_state *st = s->t->user;
  if (ev == H_SECURE) record_hs(s->sock, &st->conn);
}

/* Server key/cert, client ca, then a handshake that records both sides. */
static void handshake(h_test *t, hs_state *st, portls_server_options *so,
                      portls_connect_options *co) {
  t->user = st;
  t->srv.conn_hook = hs_conn;
  h_listen_tls(t, so);
  h_side *c = h_connect_tls(t, co);
  c->hook = hs_client;
  h_run_all_closed(t);
}

static void default_handshake(h_test *t, hs_state *st) {
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  portls_connect_options co = client_options(t, "ca.crt");
  handshake(t, st, &so, &co);
}

Test(tls_handshake, secure_connect_and_secure_connection_fire_and_the_client_is_authorized) {
  h_test t;
  hs_state st;
  memset(&st, 0, sizeof st);
  h_init(&t);
  default_handshake(&t, &st);
  cr_assert_str_eq(t.client[0].log, "connect secureConnect end close(0)");
  cr_assert_str_eq(t.conn[0].log, "secureConnection end close(0)");
  cr_assert_str_eq(t.srv.log, "listening secureConnection");
  cr_assert_eq(st.client.encrypted, 1);
  cr_assert_eq(st.conn.encrypted, 1);
  cr_assert_eq(st.client.authorized, 1);
  cr_assert_eq(st.client.authz_error, 0, "authorizationError %s",
               portls_err_name(st.client.authz_error));
  cr_assert_eq(st.conn.authorized, 0,
               "a server that did not request a certificate is not authorized");
  cr_assert_eq(st.client.has_alpn, 0, "no ALPN configured: alpnProtocol is NULL");
  cr_assert_eq(st.conn.has_alpn, 0);
  h_finish(&t);
}

Test(tls_handshake, protocol_is_TLSv1_3_by_default) {
  h_need_cap(PORTLS_CAP_TLS1_3);
  h_test t;
  hs_state st;
  memset(&st, 0, sizeof st);
  h_init(&t);
  default_handshake(&t, &st);
  cr_assert_str_eq(st.client.protocol, "TLSv1.3");
  cr_assert_str_eq(st.conn.protocol, "TLSv1.3");
  cr_assert_str_eq(st.client.cipher.version, "TLSv1.3");
  h_finish(&t);
}

Test(tls_handshake, getters_report_nothing_before_the_handshake) {
  h_test t;
  h_init(&t);
  tls_server(&t, "server-rsa.key", "server-rsa-chain.crt");
  h_side *c = tls_client(&t, "ca.crt", end_on_secure);
  portls_cipher cipher;
  cr_assert_eq(portls_socket_encrypted(c->sock), 1, "encrypted is static: true from the start");
  cr_assert_null(portls_socket_get_protocol(c->sock));
  cr_assert_eq(portls_socket_get_cipher(c->sock, &cipher), PORTLS_ENOTCONN);
  cr_assert_eq(portls_socket_authorized(c->sock), 0);
  portls_cert *cert = (portls_cert *)&cipher;
  cr_assert_eq(portls_socket_get_peer_certificate(c->sock, 0, &cert, NULL), PORTLS_ENOTCONN);
  cr_assert_null(cert);
  h_run_all_closed(&t);
  h_finish(&t);
}

Test(tls_handshake, get_cipher_gives_an_OpenSSL_style_name_and_a_version) {
  h_test t;
  hs_state st;
  memset(&st, 0, sizeof st);
  h_init(&t);
  default_handshake(&t, &st);
  cr_assert_eq(st.client.cipher_rc, 0);
  cr_assert_eq(st.conn.cipher_rc, 0);
  cr_assert_neq(st.client.cipher.name[0], '\0');
  cr_assert_neq(st.client.cipher.standard_name[0], '\0');
  cr_assert_str_eq(st.client.cipher.name, st.conn.cipher.name, "both sides agree on the suite");
  cr_assert_str_eq(st.client.cipher.version, st.client.protocol);
  cr_assert_str_neq(st.client.cipher.name, "unknown");
  /* OpenSSL-style: upper case, '-' or '_' separated, no spaces. */
  for (const char *p = st.client.cipher.name; *p; p++)
    cr_assert(*p == '-' || *p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'),
              "cipher name %s is not OpenSSL-style", st.client.cipher.name);
  h_finish(&t);
}

static void ephemeral_client(h_side *s, h_event ev) {
  portls_ephemeral_key_info *info = s->t->user;
  if (ev == H_SECURE) {
    cr_expect_eq(portls_socket_get_ephemeral_key_info(s->sock, info), 0);
    portls_socket_end(s->sock, NULL, 0);
  }
}

static void ephemeral_conn(h_side *s, h_event ev) {
  if (ev == H_SECURE) {
    portls_ephemeral_key_info info;
    int rc = portls_socket_get_ephemeral_key_info(s->sock, &info);
    cr_expect_eq(rc, PORTLS_EINVAL, "server socket: Node returns null; got %s",
                 portls_err_name(rc));
    s->ctx = (void *)1;
  }
}

/* The default ecdhCurve is "auto" (Node >= 10): X25519 first. */
Test(tls_handshake, ephemeral_key_is_ECDH_X25519_by_default_and_EINVAL_on_the_server) {
  h_test t;
  portls_ephemeral_key_info info;
  memset(&info, 0, sizeof info);
  h_init(&t);
  t.user = &info;
  t.srv.conn_hook = ephemeral_conn;
  tls_server(&t, "server-rsa.key", "server-rsa-chain.crt");
  tls_client(&t, "ca.crt", ephemeral_client);
  h_run_all_closed(&t);
  cr_assert_not_null(t.conn[0].ctx);
  cr_assert_not_null(info.type);
  cr_assert_str_eq(info.type, "ECDH");
  cr_assert_str_eq(info.name, "X25519");
  cr_assert_eq(info.size, 253);
  h_finish(&t);
}

/* The server's curve decides the key exchange; the client reports that
 * curve's name and its size in bits, not P-256's. */
Test(tls_handshake, ephemeral_key_reports_the_curve_the_server_chose_and_its_size) {
  h_test t;
  portls_ephemeral_key_info info;
  memset(&info, 0, sizeof info);
  h_init(&t);
  t.user = &info;
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  so.tls.context.ecdh_curve = "secp384r1";
  h_listen_tls(&t, &so);
  portls_connect_options co = client_options(&t, "ca.crt");
  co.tls.context.ecdh_curve = "secp384r1"; /* a client offers its own ecdhCurve */
  h_connect_tls(&t, &co)->hook = ephemeral_client;
  h_run_all_closed(&t);
  cr_assert_not_null(info.type);
  cr_assert_str_eq(info.type, "ECDH");
  cr_assert_str_eq(info.name, "secp384r1");
  cr_assert_eq(info.size, 384);
  h_finish(&t);
}

static void ec_client(h_side *s, h_event ev) {
  if (ev == H_SECURE) {
    portls_cert *cert = NULL;
    portls_error err = {0};
    int rc = portls_socket_get_peer_certificate(s->sock, 0, &cert, &err);
    cr_expect_eq(rc, 0, "%s", err.message);
    if (cert != NULL) {
      cr_expect_str_eq(cert->pubkey_type ? cert->pubkey_type : "(null)", "EC");
      cr_expect_str_eq(cert->asn1curve ? cert->asn1curve : "(null)", "prime256v1");
      cr_expect_eq(cert->bits, 256);
      portls_cert_free(cert);
    }
    record_hs(s->sock, &((hs_state *)s->t->user)->client);
    portls_socket_end(s->sock, NULL, 0);
  }
}

Test(tls_handshake, ecdsa_server_certificate_is_verified) {
  h_test t;
  hs_state st;
  memset(&st, 0, sizeof st);
  h_init(&t);
  t.user = &st;
  tls_server(&t, "server-ec.key", "server-ec-chain.crt");
  tls_client(&t, "ca.crt", ec_client);
  h_run_all_closed(&t);
  cr_assert_str_eq(t.client[0].log, "connect secureConnect end close(0)");
  cr_assert_eq(st.client.authorized, 1, "authorizationError %s",
               portls_err_name(st.client.authz_error));
  h_finish(&t);
}

Test(tls_handshake, ecdsa_server_negotiates_an_ECDSA_suite_in_TLSv1_2) {
  h_need_cap(PORTLS_CAP_TLS1_2);
  h_test t;
  hs_state st;
  memset(&st, 0, sizeof st);
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(&t, &so.tls.context, "server-ec.key", "server-ec-chain.crt", NULL);
  so.tls.context.secure_protocol = "TLSv1_2_method";
  portls_connect_options co = client_options(&t, "ca.crt");
  handshake(&t, &st, &so, &co);
  cr_assert_str_eq(st.client.protocol, "TLSv1.2");
  cr_assert(strncmp(st.client.cipher.name, "ECDHE-ECDSA-", 12) == 0, "cipher %s",
            st.client.cipher.name);
  cr_assert_eq(st.client.authorized, 1);
  h_finish(&t);
}

/* ---- servername ---- */

Test(tls_handshake, ip_host_without_servername_matches_the_IP_SAN_and_sends_no_SNI) {
  h_test t;
  hs_state st;
  memset(&st, 0, sizeof st);
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  portls_connect_options co = client_options(&t, "ca.crt");
  co.host = "127.0.0.1";
  handshake(&t, &st, &so, &co);
  cr_assert_str_eq(t.client[0].log, "connect secureConnect end close(0)");
  cr_assert_eq(st.client.authorized, 1, "authorizationError %s",
               portls_err_name(st.client.authz_error));
  cr_assert_eq(st.conn.has_servername, 0, "the server saw SNI \"%s\"", st.conn.servername);
  cr_assert_eq(st.client.has_servername, 0, "no SNI for an IP host, got \"%s\"",
               st.client.servername);
  h_finish(&t);
}

Test(tls_handshake, servername_sent_by_the_client_is_seen_by_the_server) {
  h_need_cap(PORTLS_CAP_SNI);
  h_test t;
  hs_state st;
  memset(&st, 0, sizeof st);
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  portls_connect_options co = client_options(&t, "ca.crt");
  co.host = "127.0.0.1";
  co.tls.servername = "localhost";
  handshake(&t, &st, &so, &co);
  cr_assert_eq(st.conn.has_servername, 1, "the server saw no SNI");
  cr_assert_str_eq(st.conn.servername, "localhost");
  cr_assert_str_eq(st.client.servername, "localhost");
  cr_assert_eq(st.client.authorized, 1);
  h_finish(&t);
}

Test(tls_handshake, host_name_is_sent_as_servername_by_default) {
  h_need_cap(PORTLS_CAP_SNI);
  h_test t;
  hs_state st;
  memset(&st, 0, sizeof st);
  h_init(&t);
  default_handshake(&t, &st);
  cr_assert_str_eq(st.conn.servername, "localhost");
  h_finish(&t);
}

/* ---- data ---- */

static void hello_client(h_side *s, h_event ev) {
  if (ev == H_SECURE) {
    portls_socket_write(s->sock, "hel", 3);
    portls_socket_write(s->sock, "lo", 2);
  }
  if (ev == H_DATA && s->rx_len == 5) portls_socket_end(s->sock, NULL, 0);
}

/* Echoes what arrived since the last 'data' (the side's rx keeps it all). */
static void echo_conn(h_side *s, h_event ev) {
  size_t *echoed = s->ctx;
  if (ev == H_DATA) {
    portls_socket_write(s->sock, s->rx + *echoed, s->rx_len - *echoed);
    *echoed = s->rx_len;
  }
}

Test(tls_data, small_writes_flow_both_ways) {
  h_test t;
  size_t echoed = 0;
  h_init(&t);
  t.srv.conn_hook = echo_conn;
  t.srv.conn_ctx = &echoed;
  tls_server(&t, "server-rsa.key", "server-rsa-chain.crt");
  h_side *c = tls_client(&t, "ca.crt", hello_client);
  h_run_all_closed(&t);
  cr_assert_str_eq((char *)t.conn[0].rx, "hello");
  cr_assert_str_eq((char *)c->rx, "hello");
  cr_assert_str_eq(c->log, "connect secureConnect data end close(0)");
  cr_assert_str_eq(t.conn[0].log, "secureConnection data end close(0)");
  h_finish(&t);
}

Test(tls_data, data_written_before_the_handshake_is_sent_after_it) {
  h_test t;
  h_init(&t);
  tls_server(&t, "server-rsa.key", "server-rsa-chain.crt");
  h_side *c = tls_client(&t, "ca.crt", NULL);
  cr_assert_eq(portls_socket_write(c->sock, "early", 5), 1);
  cr_assert_eq(portls_socket_end(c->sock, " bird", 5), 0);
  h_run_all_closed(&t);
  cr_assert_str_eq((char *)t.conn[0].rx, "early bird");
  cr_assert_str_eq(c->log, "connect secureConnect end close(0)");
  cr_assert_str_eq(t.conn[0].log, "secureConnection data end close(0)");
  h_finish(&t);
}

#define BIG (1024 * 1024)

typedef struct big_state {
  unsigned char *payload;
} big_state;

static unsigned char *make_payload(size_t n, uint32_t seed) {
  unsigned char *p = malloc(n);
  cr_assert_not_null(p);
  uint32_t x = seed;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    p[i] = (unsigned char)x;
  }
  return p;
}

static uint64_t fnv1a(const unsigned char *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static void big_writer(h_side *s, h_event ev) {
  big_state *st = s->t->user;
  if (ev == H_SECURE) {
    int rc = portls_socket_write(s->sock, st->payload, BIG);
    cr_expect_geq(rc, 0, "%s: write: %s", s->name, portls_err_name(rc));
    portls_socket_end(s->sock, NULL, 0);
  }
}

Test(tls_data, one_MiB_write_arrives_intact_in_both_directions) {
  h_test t;
  big_state st = {make_payload(BIG, 2463534242u)};
  h_init(&t);
  t.user = &st;
  t.srv.conn_hook = big_writer;
  tls_server(&t, "server-rsa.key", "server-rsa-chain.crt");
  h_side *c = tls_client(&t, "ca.crt", big_writer);
  h_run_all_closed(&t);
  cr_assert_eq(t.conn[0].rx_len, BIG, "server received %zu bytes", t.conn[0].rx_len);
  cr_assert_eq(c->rx_len, BIG, "client received %zu bytes", c->rx_len);
  cr_assert_eq(fnv1a(t.conn[0].rx, BIG), fnv1a(st.payload, BIG), "server: checksum differs");
  cr_assert_eq(fnv1a(c->rx, BIG), fnv1a(st.payload, BIG), "client: checksum differs");
  cr_assert_eq(c->had_error, 0);
  cr_assert_eq(t.conn[0].had_error, 0);
  free(st.payload);
  h_finish(&t);
}

static void many_writes_client(h_side *s, h_event ev) {
  if (ev == H_SECURE) {
    for (int i = 0; i < 1000; i++) {
      char chunk[16];
      int n = snprintf(chunk, sizeof chunk, "chunk-%04d;", i);
      int rc = portls_socket_write(s->sock, chunk, (size_t)n);
      cr_expect_geq(rc, 0, "write %d: %s", i, portls_err_name(rc));
    }
    cr_expect_eq(portls_socket_bytes_written(s->sock), 11000);
    portls_socket_end(s->sock, NULL, 0);
  }
}

Test(tls_data, many_small_writes_arrive_complete_and_in_order) {
  h_test t;
  h_init(&t);
  tls_server(&t, "server-rsa.key", "server-rsa-chain.crt");
  h_side *c = tls_client(&t, "ca.crt", many_writes_client);
  h_run_all_closed(&t);
  cr_assert_eq(t.conn[0].rx_len, 11000);
  for (int i = 0; i < 1000; i++) {
    char chunk[16];
    snprintf(chunk, sizeof chunk, "chunk-%04d;", i);
    cr_assert(memcmp(t.conn[0].rx + (size_t)i * 11, chunk, 11) == 0, "chunk %d out of place", i);
  }
  cr_assert_leq(t.conn[0].count[H_DATA], 1000);
  cr_assert_str_eq(c->log, "connect secureConnect end close(0)");
  h_finish(&t);
}

/* Backpressure: the client writes whenever write() allows (on start and on
 * each 'drain'). While the server is paused the kernel's buffers fill, so
 * write() returns 0 and the writing stalls at a bounded amount; once the
 * server resumes, 'drain' comes back and the rest flows. Every byte arrives. */
#define BP_CHUNK (64 * 1024)
#define BP_LIMIT ((size_t)256 * 1024 * 1024)
#define BP_AFTER_RESUME ((size_t)1024 * 1024)

typedef struct bp_state {
  unsigned char chunk[BP_CHUNK];
  size_t written, target;
  int zeros, resumed, ended;
} bp_state;

static void bp_write_more(h_side *s, bp_state *st) {
  while (st->written < st->target) {
    for (size_t i = 0; i < BP_CHUNK; i++) st->chunk[i] = (unsigned char)((st->written + i) % 251);
    int rc = portls_socket_write(s->sock, st->chunk, BP_CHUNK);
    cr_expect_geq(rc, 0, "write: %s", portls_err_name(rc));
    if (rc < 0) return;
    st->written += BP_CHUNK;
    if (rc == 0) {
      st->zeros++;
      cr_expect_geq(portls_socket_buffer_size(s->sock), 1024);
      return; /* wait for 'drain' */
    }
  }
  if (st->resumed && !st->ended) {
    st->ended = 1;
    portls_socket_end(s->sock, NULL, 0);
  }
}

static void bp_client(h_side *s, h_event ev) {
  bp_state *st = s->t->user;
  if (ev == H_SECURE || ev == H_DRAIN) {
    if (ev == H_DRAIN) cr_expect_eq(portls_socket_buffer_size(s->sock), 0);
    bp_write_more(s, st);
  }
}

static void bp_conn(h_side *s, h_event ev) {
  if (ev == H_SECURE) portls_socket_pause(s->sock);
}

Test(tls_data, write_returns_0_above_high_water_mark_and_drain_follows_when_peer_resumes) {
  h_test t;
  static bp_state st;
  memset(&st, 0, sizeof st);
  st.target = BP_LIMIT;
  h_init(&t);
  t.user = &st;
  t.srv.conn_hook = bp_conn;
  tls_server(&t, "server-rsa.key", "server-rsa-chain.crt");
  portls_connect_options o = client_options(&t, "ca.crt");
  o.high_water_mark = 1024;
  h_side *c = h_connect_tls(&t, &o);
  c->hook = bp_client;
  h_run_until(&t, st.zeros > 0 && t.nconns == 1);
  /* Let the kernel's buffers fill: writing must stall, far below the limit. */
  size_t before;
  do {
    before = st.written;
    h_wait(&t, 300);
  } while (st.written != before);
  cr_assert_lt(st.written, BP_LIMIT, "backpressure never held the writer back");
  cr_assert_eq(t.conn[0].count[H_DATA], 0, "'data' on a paused socket");
  cr_assert_gt(portls_socket_buffer_size(c->sock), 0, "the stalled writer has bytes queued");
  size_t drains_paused = c->count[H_DRAIN];
  st.resumed = 1;
  st.target = st.written + BP_AFTER_RESUME;
  portls_socket_resume(t.conn[0].sock);
  h_run_all_closed(&t);
  cr_assert_gt(c->count[H_DRAIN], drains_paused, "no 'drain' after the peer resumed");
  cr_assert_eq(t.conn[0].rx_len, st.written, "received %zu of %zu bytes", t.conn[0].rx_len,
               st.written);
  for (size_t i = 0; i < t.conn[0].rx_len; i++)
    if (t.conn[0].rx[i] != (unsigned char)(i % 251)) cr_assert_fail("byte %zu differs", i);
  cr_assert_eq(c->count[H_ERROR], 0);
  h_finish(&t);
}

/* ---- end: close_notify ---- */

Test(tls_end, client_end_reaches_the_server_as_end_and_both_close_cleanly) {
  h_test t;
  h_init(&t);
  tls_server(&t, "server-rsa.key", "server-rsa-chain.crt");
  h_side *c = tls_client(&t, "ca.crt", end_on_secure);
  h_run_all_closed(&t);
  cr_assert_str_eq(c->log, "connect secureConnect end close(0)");
  cr_assert_str_eq(t.conn[0].log, "secureConnection end close(0)");
  h_finish(&t);
}

Test(tls_end, server_end_reaches_the_client_as_end_and_both_close_cleanly) {
  h_test t;
  h_init(&t);
  t.srv.conn_hook = end_on_secure;
  tls_server(&t, "server-rsa.key", "server-rsa-chain.crt");
  h_side *c = tls_client(&t, "ca.crt", NULL);
  h_run_all_closed(&t);
  cr_assert_str_eq(c->log, "connect secureConnect end close(0)");
  cr_assert_str_eq(t.conn[0].log, "secureConnection end close(0)");
  h_finish(&t);
}

Test(tls_end, end_with_data_before_the_handshake_sends_data_then_close_notify) {
  h_test t;
  h_init(&t);
  tls_server(&t, "server-rsa.key", "server-rsa-chain.crt");
  h_side *c = tls_client(&t, "ca.crt", NULL);
  cr_assert_eq(portls_socket_end(c->sock, "bye", 3), 0);
  h_run_all_closed(&t);
  cr_assert_str_eq((char *)t.conn[0].rx, "bye");
  cr_assert_str_eq(t.conn[0].log, "secureConnection data end close(0)");
  cr_assert_str_eq(c->log, "connect secureConnect end close(0)");
  h_finish(&t);
}

/* ---- verification ---- */

typedef struct verify_state {
  int authorized, authz_error;
} verify_state;

static void verify_client(h_side *s, h_event ev) {
  verify_state *st = s->t->user;
  if (ev == H_SECURE) {
    st->authorized = portls_socket_authorized(s->sock);
    st->authz_error = portls_socket_authorization_error(s->sock);
    portls_socket_end(s->sock, NULL, 0);
  }
}

/* The server presents key + chain; the client trusts ca. With
 * reject_unauthorized the client must fail with `code`; without, it must
 * connect and report `code` as authorizationError. */
static void expect_verify_failure(const char *key, const char *chain, const char *ca, int code,
                                  int reject) {
  h_test t;
  verify_state st = {-1, 0};
  h_init(&t);
  t.user = &st;
  tls_server(&t, key, chain);
  portls_connect_options o = client_options(&t, ca);
  o.tls.reject_unauthorized = reject;
  h_side *c = h_connect_tls(&t, &o);
  c->hook = verify_client;
  h_run_all_closed(&t);
  char expected[128];
  if (reject) {
    snprintf(expected, sizeof expected, "connect error(%s) close(1)", portls_err_name(code));
    cr_assert_str_eq(c->log, expected, "(%s)", c->err.message);
    cr_assert_eq(c->err.code, code, "got %s, want %s", portls_err_name(c->err.code),
                 portls_err_name(code));
    cr_assert_neq(c->err.message[0], '\0', "an error event carries a message");
  } else {
    cr_assert_str_eq(c->log, "connect secureConnect end close(0)", "(%s)", c->err.message);
    cr_assert_eq(st.authorized, 0);
    cr_assert_eq(st.authz_error, code, "authorizationError %s, want %s",
                 portls_err_name(st.authz_error), portls_err_name(code));
  }
  h_finish(&t);
}

Test(tls_verify, self_signed_certificate_is_rejected_with_DEPTH_ZERO_SELF_SIGNED_CERT) {
  expect_verify_failure("self-signed.key", "self-signed.crt", "ca.crt",
                        PORTLS_EDEPTH_ZERO_SELF_SIGNED_CERT, 1);
}
Test(tls_verify, self_signed_certificate_is_reported_when_not_rejecting) {
  expect_verify_failure("self-signed.key", "self-signed.crt", "ca.crt",
                        PORTLS_EDEPTH_ZERO_SELF_SIGNED_CERT, 0);
}

Test(tls_verify, expired_certificate_is_rejected_with_CERT_HAS_EXPIRED) {
  expect_verify_failure("expired.key", "expired-chain.crt", "ca.crt", PORTLS_ECERT_HAS_EXPIRED, 1);
}
Test(tls_verify, expired_certificate_is_reported_when_not_rejecting) {
  expect_verify_failure("expired.key", "expired-chain.crt", "ca.crt", PORTLS_ECERT_HAS_EXPIRED, 0);
}

Test(tls_verify, not_yet_valid_certificate_is_rejected_with_CERT_NOT_YET_VALID) {
  expect_verify_failure("not-yet-valid.key", "not-yet-valid-chain.crt", "ca.crt",
                        PORTLS_ECERT_NOT_YET_VALID, 1);
}
Test(tls_verify, not_yet_valid_certificate_is_reported_when_not_rejecting) {
  expect_verify_failure("not-yet-valid.key", "not-yet-valid-chain.crt", "ca.crt",
                        PORTLS_ECERT_NOT_YET_VALID, 0);
}

/* unknown-leaf-chain.crt carries its own (untrusted) root: OpenSSL, and so
 * Node, report error 19 for it (certs/README.md). */
Test(tls_verify, chain_ending_in_an_untrusted_root_is_rejected_with_SELF_SIGNED_CERT_IN_CHAIN) {
  expect_verify_failure("unknown-leaf.key", "unknown-leaf-chain.crt", "ca.crt",
                        PORTLS_ESELF_SIGNED_CERT_IN_CHAIN, 1);
}
Test(tls_verify, chain_ending_in_an_untrusted_root_is_reported_when_not_rejecting) {
  expect_verify_failure("unknown-leaf.key", "unknown-leaf-chain.crt", "ca.crt",
                        PORTLS_ESELF_SIGNED_CERT_IN_CHAIN, 0);
}

/* leaf + intermediate, but the client trusts another root: error 20. */
Test(tls_verify, chain_without_a_trusted_root_is_rejected_with_UNABLE_TO_GET_ISSUER_CERT_LOCALLY) {
  expect_verify_failure("server-rsa.key", "server-rsa-chain.crt", "unknown-ca.crt",
                        PORTLS_EUNABLE_TO_GET_ISSUER_CERT_LOCALLY, 1);
}
Test(tls_verify, chain_without_a_trusted_root_is_reported_when_not_rejecting) {
  expect_verify_failure("server-rsa.key", "server-rsa-chain.crt", "unknown-ca.crt",
                        PORTLS_EUNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0);
}

Test(tls_verify, leaf_without_its_intermediate_is_rejected_with_UNABLE_TO_VERIFY_LEAF_SIGNATURE) {
  expect_verify_failure("server-rsa.key", "server-rsa.crt", "ca.crt",
                        PORTLS_EUNABLE_TO_VERIFY_LEAF_SIGNATURE, 1);
}
Test(tls_verify, leaf_without_its_intermediate_is_reported_when_not_rejecting) {
  expect_verify_failure("server-rsa.key", "server-rsa.crt", "ca.crt",
                        PORTLS_EUNABLE_TO_VERIFY_LEAF_SIGNATURE, 0);
}

Test(tls_verify, certificate_for_another_host_is_rejected_with_CERT_ALTNAME_INVALID) {
  expect_verify_failure("wrong-host.key", "wrong-host-chain.crt", "ca.crt",
                        PORTLS_ECERT_ALTNAME_INVALID, 1);
}
Test(tls_verify, certificate_for_another_host_is_reported_when_not_rejecting) {
  expect_verify_failure("wrong-host.key", "wrong-host-chain.crt", "ca.crt",
                        PORTLS_ECERT_ALTNAME_INVALID, 0);
}

Test(tls_verify, altname_error_message_names_the_host_and_the_altnames_as_Node_does) {
  h_test t;
  h_init(&t);
  tls_server(&t, "wrong-host.key", "wrong-host-chain.crt");
  h_side *c = tls_client(&t, "ca.crt", NULL);
  h_run_all_closed(&t);
  cr_assert_eq(c->err.code, PORTLS_ECERT_ALTNAME_INVALID);
  cr_assert(h_contains(c->err.message,
                       "Host: localhost. is not in the cert's altnames: DNS:wrong.example.com"),
            "message: %s", c->err.message);
  h_finish(&t);
}

/* ---- client certificates ---- */

typedef struct cc_state {
  int authorized, authz_error, peer_rc;
  char peer_cn[64];
  int has_peer;
} cc_state;

static void cc_conn(h_side *s, h_event ev) {
  cc_state *st = s->t->user;
  if (ev == H_SECURE) {
    st->authorized = portls_socket_authorized(s->sock);
    st->authz_error = portls_socket_authorization_error(s->sock);
    portls_cert *cert = NULL;
    st->peer_rc = portls_socket_get_peer_certificate(s->sock, 0, &cert, NULL);
    st->has_peer = cert != NULL;
    if (cert != NULL) {
      copy_str(st->peer_cn, sizeof st->peer_cn, h_dn_get(&cert->subject, "CN"), NULL);
      portls_cert_free(cert);
    }
    portls_socket_end(s->sock, NULL, 0);
  }
}

static void client_cert_server(h_test *t, int reject) {
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", "ca.crt");
  so.tls.request_cert = 1;
  so.tls.reject_unauthorized = reject;
  t->srv.conn_hook = cc_conn;
  h_listen_tls(t, &so);
}

Test(tls_client_cert, client_certificate_signed_by_the_servers_ca_is_authorized) {
  h_test t;
  cc_state st;
  memset(&st, 0, sizeof st);
  h_init(&t);
  t.user = &st;
  client_cert_server(&t, 1);
  portls_connect_options o = client_options(&t, "ca.crt");
  o.tls.context.key = h_file(&t, "client.key");
  o.tls.context.key_count = 1;
  o.tls.context.cert = h_file(&t, "client-chain.crt");
  o.tls.context.cert_count = 1;
  h_side *c = h_connect_tls(&t, &o);
  h_run_all_closed(&t);
  cr_assert_str_eq(t.srv.log, "listening secureConnection");
  cr_assert_eq(st.authorized, 1, "authorizationError %s", portls_err_name(st.authz_error));
  cr_assert_eq(st.authz_error, 0);
  cr_assert_eq(st.peer_rc, 0);
  cr_assert_str_eq(st.peer_cn, "portls client");
  cr_assert_str_eq(c->log, "connect secureConnect end close(0)");
  h_finish(&t);
}

Test(tls_client_cert, missing_client_certificate_gives_UNABLE_TO_GET_ISSUER_CERT) {
  h_test t;
  cc_state st;
  memset(&st, 0, sizeof st);
  h_init(&t);
  t.user = &st;
  client_cert_server(&t, 0);
  tls_client(&t, "ca.crt", NULL);
  h_run_all_closed(&t);
  cr_assert_str_eq(t.srv.log, "listening secureConnection");
  cr_assert_eq(st.authorized, 0);
  cr_assert_eq(st.authz_error, PORTLS_EUNABLE_TO_GET_ISSUER_CERT, "authorizationError %s",
               portls_err_name(st.authz_error));
  cr_assert_eq(st.peer_rc, 0, "no peer certificate is not an error");
  cr_assert_eq(st.has_peer, 0, "no certificate: NULL (Node's {})");
  h_finish(&t);
}

/* requestCert + rejectUnauthorized and a client that sends no certificate:
 * the server fails the handshake itself, as Node's does, reports
 * ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE once, and its alert reaches the
 * client: handshake_failure in TLS 1.2 (no secureConnect), certificate_required
 * in TLS 1.3 (the client has completed its side by then). */
static void missing_client_cert(const char *method, const char *client_log, int client_code) {
  h_test t;
  cc_state st;
  memset(&st, 0, sizeof st);
  h_init(&t);
  t.user = &st;
  client_cert_server(&t, 1);
  portls_connect_options o = client_options(&t, "ca.crt");
  o.tls.context.secure_protocol = method;
  h_side *c = h_connect_tls(&t, &o);
  h_run_until(&t, c->closed && portls_server_connections(t.srv.srv) == 0);
  h_wait(&t, 50); /* a second clientError would come now */
  cr_assert_str_eq(t.srv.log, "listening clientError(ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE)");
  cr_assert_eq(t.srv.client_errors, 1);
  cr_assert_eq(t.srv.client_err.code, PORTLS_ENO_CERT);
  cr_assert_neq(t.srv.client_err.message[0], '\0');
  cr_assert_eq(t.srv.client_err_sock, 1, "clientError comes with the socket");
  cr_assert_eq(t.srv.secure_connections, 0);
  cr_assert_str_eq(c->log, client_log);
  cr_assert_eq(c->err.code, client_code, "%s", c->err.message);
  h_finish(&t);
}

Test(tls_client_cert,
     tls12_missing_client_certificate_with_reject_unauthorized_fails_the_handshake) {
  h_need_cap(PORTLS_CAP_TLS1_2);
  missing_client_cert("TLSv1_2_method",
                      "connect error(ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE) close(1)",
                      PORTLS_EALERT_HANDSHAKE_FAILURE);
}

Test(tls_client_cert,
     tls13_missing_client_certificate_with_reject_unauthorized_fails_the_handshake) {
  h_need_cap(PORTLS_CAP_TLS1_3);
  missing_client_cert(
      "TLSv1_3_method",
      "connect secureConnect error(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED) close(1)",
      PORTLS_EALERT_CERTIFICATE_REQUIRED);
}

static void pause_on_secure(h_side *s, h_event ev) {
  if (ev == H_SECURE) portls_socket_pause(s->sock);
}

/* The TLS 1.3 refusal again, the client writing once the server has gone:
 * the transport refuses the write (EPIPE or ECONNRESET), but what the server
 * said before it went, its certificate_required alert, is the error, as in
 * Node. (Paused, the client reads nothing until after its writes.) */
Test(tls_client_cert, tls13_refused_client_that_writes_reports_the_alert_not_the_write_error) {
  h_need_cap(PORTLS_CAP_TLS1_3);
  h_test t;
  cc_state st;
  memset(&st, 0, sizeof st);
  h_init(&t);
  t.user = &st;
  client_cert_server(&t, 1);
  portls_connect_options o = client_options(&t, "ca.crt");
  o.tls.context.secure_protocol = "TLSv1_3_method";
  h_side *c = h_connect_tls(&t, &o);
  c->hook = pause_on_secure;
  h_run_until(&t, t.srv.client_errors == 1 && portls_server_connections(t.srv.srv) == 0);
  h_wait(&t, 50);
  cr_assert_str_eq(c->log, "connect secureConnect");
  portls_socket_write(c->sock, "x", 1); /* the server's end answers with a reset */
  h_wait(&t, 50);
  portls_socket_write(c->sock, "y", 1); /* refused */
  portls_socket_resume(c->sock);
  h_run_until(&t, c->closed);
  cr_assert_str_eq(
      c->log, "connect secureConnect error(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED) close(1)");
  h_finish(&t);
}

/* A client certificate that is sent but does not verify does not fail the
 * handshake: core decides after it, with the verification's own code. */
Test(tls_client_cert, unverifiable_client_certificate_with_reject_unauthorized_is_a_verify_error) {
  h_test t;
  cc_state st;
  memset(&st, 0, sizeof st);
  h_init(&t);
  t.user = &st;
  client_cert_server(&t, 1);
  portls_connect_options o = client_options(&t, "ca.crt");
  o.tls.context.key = h_file(&t, "self-signed.key");
  o.tls.context.key_count = 1;
  o.tls.context.cert = h_file(&t, "self-signed.crt");
  o.tls.context.cert_count = 1;
  h_side *c = h_connect_tls(&t, &o);
  h_run_until(&t, c->closed && portls_server_connections(t.srv.srv) == 0);
  cr_assert_eq(t.srv.client_errors, 1, "%s", t.srv.log);
  cr_assert(portls_err_is_verify(t.srv.client_err.code), "clientError %s (%s)",
            portls_err_name(t.srv.client_err.code), t.srv.client_err.message);
  cr_assert_eq(t.srv.secure_connections, 0);
  cr_assert_eq(c->count[H_SECURE], 1, "the client completed its handshake: %s", c->log);
  h_finish(&t);
}

/* ---- ciphers ---- */

Test(tls_ciphers, server_cipher_list_and_TLSv1_2_method_select_exactly_that_suite) {
  h_need_cap(PORTLS_CAP_TLS1_2);
  h_test t;
  hs_state st;
  memset(&st, 0, sizeof st);
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  so.tls.context.ciphers = "ECDHE-RSA-AES256-GCM-SHA384";
  so.tls.context.secure_protocol = "TLSv1_2_method";
  portls_connect_options co = client_options(&t, "ca.crt");
  handshake(&t, &st, &so, &co);
  cr_assert_str_eq(t.client[0].log, "connect secureConnect end close(0)");
  cr_assert_str_eq(st.client.cipher.name, "ECDHE-RSA-AES256-GCM-SHA384");
  cr_assert_str_eq(st.conn.cipher.name, "ECDHE-RSA-AES256-GCM-SHA384");
  cr_assert_str_eq(st.client.cipher.standard_name, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
  cr_assert_str_eq(st.client.cipher.version, "TLSv1.2");
  cr_assert_str_eq(st.client.protocol, "TLSv1.2");
  cr_assert_str_eq(st.conn.protocol, "TLSv1.2");
  h_finish(&t);
}

/* honorCipherOrder: the server's order by default, the client's with false. */
static void cipher_order(int honor, const char *expect) {
  h_need_cap(PORTLS_CAP_TLS1_2);
  if (!honor) h_need_cap(PORTLS_CAP_CIPHER_CLIENT_PREF);
  h_test t;
  hs_state st;
  memset(&st, 0, sizeof st);
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  so.tls.context.ciphers = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384";
  so.tls.context.honor_cipher_order = honor;
  portls_connect_options co = client_options(&t, "ca.crt");
  co.tls.context.ciphers = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256";
  co.tls.context.secure_protocol = "TLSv1_2_method";
  handshake(&t, &st, &so, &co);
  cr_assert_str_eq(st.client.cipher.name, expect);
  cr_assert_str_eq(st.conn.cipher.name, expect);
  h_finish(&t);
}

Test(tls_ciphers, honor_cipher_order_by_default_picks_the_servers_first_choice) {
  cipher_order(1, "ECDHE-RSA-AES128-GCM-SHA256");
}

Test(tls_ciphers, honor_cipher_order_false_picks_the_clients_first_choice) {
  cipher_order(0, "ECDHE-RSA-AES256-GCM-SHA384");
}

Test(tls_ciphers, cipher_lists_without_a_common_suite_fail_on_both_sides) {
  h_need_cap(PORTLS_CAP_TLS1_2);
  h_test t;
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  so.tls.context.ciphers = "ECDHE-RSA-AES256-GCM-SHA384";
  so.tls.context.secure_protocol = "TLSv1_2_method";
  h_listen_tls(&t, &so);
  portls_connect_options co = client_options(&t, "ca.crt");
  co.tls.context.ciphers = "ECDHE-RSA-AES128-GCM-SHA256";
  co.tls.context.secure_protocol = "TLSv1_2_method";
  h_side *c = h_connect_tls(&t, &co);
  h_run_until(&t, c->closed && t.srv.client_errors > 0);
  cr_assert_eq(c->count[H_SECURE], 0);
  cr_assert_eq(c->count[H_ERROR], 1, "%s", c->log);
  cr_assert_lt(c->err.code, 0);
  cr_assert_neq(c->err.message[0], '\0');
  cr_assert_eq(c->had_error, 1);
  cr_assert_eq(t.srv.client_errors, 1);
  cr_assert_eq(t.srv.client_err.code, PORTLS_ENO_SHARED_CIPHER, "server: %s (%s)",
               portls_err_name(t.srv.client_err.code), t.srv.client_err.message);
  cr_assert_eq(t.srv.secure_connections, 0);
  h_finish(&t);
}

/* ecdhCurve "false": no ECDHE key exchange below TLS 1.3, on every backend. */
Test(tls_ciphers, ecdh_curve_false_negotiates_a_suite_without_ECDHE) {
  h_need_cap(PORTLS_CAP_TLS1_2);
  h_test t;
  hs_state st;
  memset(&st, 0, sizeof st);
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  so.tls.context.ecdh_curve = "false";
  portls_connect_options co = client_options(&t, "ca.crt");
  co.tls.context.secure_protocol = "TLSv1_2_method";
  handshake(&t, &st, &so, &co);
  cr_assert_str_eq(t.client[0].log, "connect secureConnect end close(0)");
  cr_assert_eq(st.conn.cipher_rc, 0);
  cr_assert_str_eq(st.conn.protocol, "TLSv1.2");
  cr_assert(strncmp(st.conn.cipher.name, "ECDHE-", 6) != 0, "%s", st.conn.cipher.name);
  cr_assert_str_eq(st.client.cipher.name, st.conn.cipher.name);
  h_finish(&t);
}

/* A cipher string naming TLS 1.3 suites alone: a TLS 1.2 client finds no
 * suite, a TLS 1.3 one gets the suite named. */
static void tls13_only_server(int client_tls12, const char *expect) {
  h_need_cap(PORTLS_CAP_TLS1_3);
  h_test t;
  hs_state st;
  memset(&st, 0, sizeof st);
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  so.tls.context.ciphers = "TLS_AES_128_GCM_SHA256";
  portls_connect_options co = client_options(&t, "ca.crt");
  if (client_tls12) {
    co.tls.context.secure_protocol = "TLSv1_2_method";
    h_listen_tls(&t, &so);
    h_side *c = h_connect_tls(&t, &co);
    h_run_until(&t, c->closed && t.srv.client_errors > 0);
    cr_assert_eq(c->count[H_SECURE], 0, "%s", c->log);
    cr_assert_eq(t.srv.secure_connections, 0);
    h_finish(&t);
    return;
  }
  handshake(&t, &st, &so, &co);
  cr_assert_str_eq(t.client[0].log, "connect secureConnect end close(0)");
  cr_assert_str_eq(st.conn.protocol, "TLSv1.3");
  cr_assert_str_eq(st.conn.cipher.standard_name, expect);
  cr_assert_str_eq(st.client.cipher.standard_name, expect);
  h_finish(&t);
}

Test(tls_ciphers, tls13_suites_alone_refuse_a_TLSv1_2_client) { tls13_only_server(1, NULL); }

Test(tls_ciphers, tls13_suites_alone_serve_a_TLSv1_3_client) {
  tls13_only_server(0, "TLS_AES_128_GCM_SHA256");
}

/* ---- getPeerCertificate ---- */

static void peer_cert_client(h_side *s, h_event ev) {
  portls_cert **out = s->t->user;
  if (ev == H_SECURE) {
    portls_error err = {0};
    int rc = portls_socket_get_peer_certificate(s->sock, *(int *)s->ctx, out, &err);
    cr_expect_eq(rc, 0, "getPeerCertificate: %s %s", portls_err_name(rc), err.message);
    portls_socket_end(s->sock, NULL, 0);
  }
}

static portls_cert *peer_certificate(int detailed) {
  h_test t;
  portls_cert *cert = NULL;
  h_init(&t);
  t.user = &cert;
  tls_server(&t, "server-rsa.key", "server-rsa-chain.crt");
  h_side *c = tls_client(&t, "ca.crt", peer_cert_client);
  c->ctx = &detailed;
  h_run_all_closed(&t);
  h_finish(&t);
  cr_assert_not_null(cert, "no peer certificate");
  return cert;
}

static int is_fingerprint(const char *f, size_t bytes) {
  if (f == NULL || strlen(f) != bytes * 3 - 1) return 0;
  for (size_t i = 0; f[i]; i++) {
    int hex = (f[i] >= '0' && f[i] <= '9') || (f[i] >= 'A' && f[i] <= 'F');
    if (i % 3 == 2 ? f[i] != ':' : !hex) return 0;
  }
  return 1;
}

Test(tls_peer_cert, peer_certificate_has_subject_issuer_and_fingerprints) {
  portls_cert *cert = peer_certificate(0);
  cr_assert_str_eq(h_dn_get(&cert->subject, "CN"), "localhost");
  cr_assert_str_eq(h_dn_get(&cert->subject, "O"), "portls");
  cr_assert_str_eq(h_dn_get(&cert->issuer, "CN"), "portls Test Intermediate CA");
  cr_assert(is_fingerprint(cert->fingerprint, 20), "fingerprint %s", cert->fingerprint);
  cr_assert_eq(strlen(cert->fingerprint), 59);
  cr_assert(is_fingerprint(cert->fingerprint256, 32), "fingerprint256 %s", cert->fingerprint256);
  cr_assert_not_null(cert->subjectaltname);
  cr_assert(h_contains(cert->subjectaltname, "DNS:localhost"), "%s", cert->subjectaltname);
  cr_assert(h_contains(cert->subjectaltname, "IP Address:127.0.0.1"), "%s", cert->subjectaltname);
  cr_assert_str_eq(cert->pubkey_type, "RSA");
  cr_assert_eq(cert->bits, 2048);
  cr_assert_str_eq(cert->exponent, "0x10001");
  cr_assert_gt(cert->raw_len, 0);
  cr_assert_null(cert->issuer_certificate, "the short form has no issuerCertificate");
  portls_cert_free(cert);
}

Test(tls_peer_cert, detailed_peer_certificate_chain_reaches_the_root_which_points_to_itself) {
  portls_cert *cert = peer_certificate(1);
  const portls_cert *c = cert;
  const char *expect[] = {"localhost", "portls Test Intermediate CA", "portls Test Root CA"};
  for (size_t i = 0; i < 3; i++) {
    cr_assert_not_null(c, "chain ends after %zu certificates", i);
    cr_assert_str_eq(h_dn_get(&c->subject, "CN"), expect[i]);
    if (i < 2) {
      cr_assert_neq(c->issuer_certificate, c, "%s points to itself", expect[i]);
      c = c->issuer_certificate;
    }
  }
  cr_assert_eq(c->issuer_certificate, c, "the root's issuerCertificate is itself");
  cr_assert_eq(c->ca, 1);
  cr_assert_str_eq(h_dn_get(&c->issuer, "CN"), "portls Test Root CA");
  portls_cert_free(cert);
}

/* ---- ALPN ---- */

static void alpn_case(const char *const *server, size_t ns, const char *const *client, size_t nc,
                      portls_buf client_wire, hs_state *st) {
  h_test t;
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  so.tls.alpn_protocols.names = server;
  so.tls.alpn_protocols.count = ns;
  portls_connect_options co = client_options(&t, "ca.crt");
  co.tls.alpn_protocols.names = client;
  co.tls.alpn_protocols.count = nc;
  co.tls.alpn_protocols.wire = client_wire;
  handshake(&t, st, &so, &co);
  cr_assert_str_eq(t.client[0].log, "connect secureConnect end close(0)");
  h_finish(&t);
}

Test(alpn, server_order_wins_when_both_lists_overlap) {
  h_need_cap(PORTLS_CAP_ALPN);
  static const char *const server[] = {"h2", "http/1.1"};
  static const char *const client[] = {"http/1.1", "h2"};
  hs_state st;
  memset(&st, 0, sizeof st);
  alpn_case(server, 2, client, 2, (portls_buf){NULL, 0}, &st);
  cr_assert_eq(st.client.has_alpn, 1);
  cr_assert_str_eq(st.client.alpn, "h2");
  cr_assert_eq(st.conn.has_alpn, 1);
  cr_assert_str_eq(st.conn.alpn, "h2");
}

Test(alpn, wire_form_list_is_read_like_a_name_list) {
  h_need_cap(PORTLS_CAP_ALPN);
  static const char *const server[] = {"h2", "http/1.1"};
  hs_state st;
  memset(&st, 0, sizeof st);
  alpn_case(server, 2, NULL, 0, (portls_buf){"\x08http/1.1\x02h2", 12}, &st);
  cr_assert_str_eq(st.client.alpn, "h2");
  cr_assert_str_eq(st.conn.alpn, "h2");
}

Test(alpn, no_common_protocol_gives_NULL_on_both_sides) {
  h_need_cap(PORTLS_CAP_ALPN);
  static const char *const server[] = {"h2"};
  static const char *const client[] = {"http/1.1"};
  hs_state st;
  memset(&st, 0, sizeof st);
  alpn_case(server, 1, client, 1, (portls_buf){NULL, 0}, &st);
  cr_assert_eq(st.client.has_alpn, 0, "client alpnProtocol %s", st.client.alpn);
  cr_assert_eq(st.conn.has_alpn, 0, "server alpnProtocol %s", st.conn.alpn);
}

Test(alpn, client_list_without_a_server_list_gives_NULL) {
  h_need_cap(PORTLS_CAP_ALPN);
  static const char *const client[] = {"h2"};
  hs_state st;
  memset(&st, 0, sizeof st);
  alpn_case(NULL, 0, client, 1, (portls_buf){NULL, 0}, &st);
  cr_assert_eq(st.client.has_alpn, 0);
  cr_assert_eq(st.conn.has_alpn, 0);
}
