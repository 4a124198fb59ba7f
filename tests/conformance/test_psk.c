/* Pre-shared keys (Node's pskCallback and pskIdentityHint): a server with no
 * key or certificate at all, TLS 1.2 PSK suites and TLS 1.3 external PSKs,
 * the hint, and the ways a PSK handshake fails. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/harness.h"
#include "portls/portls.h"

/* TLS 1.2 PSK suites: GCM where the backend has it, else CBC (BoringSSL). */
#define PSK12_CIPHERS "PSK-AES128-GCM-SHA256:PSK-AES128-CBC-SHA"

static const uint8_t key_a[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                  0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};

/* What one side's callback does and saw. */
typedef struct psk_side {
  const char *identity; /* client: sent; server: the one it knows */
  const uint8_t *key;
  size_t key_len;
  int decline;      /* return 0 */
  int destroy;      /* destroy the socket inside the callback */
  int calls;        /* times called */
  char seen[160];   /* client: the hint ("(null)" for none); server: the identity */
  int secure;       /* secureConnect / secureConnection */
  int authorized;   /* at secure */
  int has_cert;     /* the peer sent a certificate */
  char cipher[64];  /* at secure */
  char version[16]; /* getProtocol() at secure */
} psk_side;

static int client_cb(portls_socket *sock, const char *hint, portls_psk *psk, void *user) {
  psk_side *p = user;
  p->calls++;
  snprintf(p->seen, sizeof p->seen, "%s", hint ? hint : "(null)");
  if (p->destroy) portls_socket_destroy(sock, NULL);
  if (p->decline) return 0;
  snprintf(psk->identity, sizeof psk->identity, "%s", p->identity);
  memcpy(psk->key, p->key, p->key_len);
  psk->key_len = p->key_len;
  return 1;
}

static int server_cb(portls_socket *sock, const char *identity, portls_psk *psk, void *user) {
  psk_side *p = user;
  p->calls++;
  snprintf(p->seen, sizeof p->seen, "%s", identity);
  cr_assert_str_eq(psk->identity, identity, "the identity is also in psk->identity");
  if (p->destroy) portls_socket_destroy(sock, NULL);
  if (p->decline || strcmp(identity, p->identity) != 0) return 0;
  memcpy(psk->key, p->key, p->key_len);
  psk->key_len = p->key_len;
  return 1;
}

static void record_secure(h_side *side, h_event ev) {
  if (ev != H_SECURE) return;
  psk_side *p = side->ctx;
  p->secure++;
  p->authorized = portls_socket_authorized(side->sock);
  portls_cert *cert = NULL;
  cr_assert_eq(portls_socket_get_peer_certificate(side->sock, 0, &cert, NULL), 0);
  p->has_cert = cert != NULL;
  portls_cert_free(cert);
  portls_cipher c;
  cr_assert_eq(portls_socket_get_cipher(side->sock, &c), 0);
  snprintf(p->cipher, sizeof p->cipher, "%s", c.name);
  const char *proto = portls_socket_get_protocol(side->sock);
  snprintf(p->version, sizeof p->version, "%s", proto ? proto : "(none)");
  if (side->name[0] == 'c' && side->name[1] == 'l') portls_socket_end(side->sock, "ping", 4);
}

static void server_side_hook(h_side *side, h_event ev) {
  side->ctx = side->t->user;
  record_secure(side, ev);
}

/* A server with no key or certificate, only a PSK callback; ciphers NULL:
 * the default list; tls12: both ends TLS 1.2 only. */
static void psk_server(h_test *t, psk_side *srv, const char *ciphers, const char *hint, int tls12) {
  portls_server_options so;
  portls_server_options_init(&so);
  so.tls.context.ciphers = ciphers;
  so.tls.context.secure_protocol = tls12 ? "TLSv1_2_method" : NULL;
  so.tls.psk_server_callback = server_cb;
  so.tls.psk_user = srv;
  so.tls.psk_identity_hint = hint;
  t->user = srv;
  t->srv.conn_hook = server_side_hook;
  h_listen_tls(t, &so);
}

static h_side *psk_client(h_test *t, psk_side *cli, const char *ciphers, int tls12) {
  portls_connect_options co;
  portls_connect_options_init(&co);
  co.host = "127.0.0.1";
  co.tls.context.ciphers = ciphers;
  co.tls.context.secure_protocol = tls12 ? "TLSv1_2_method" : NULL;
  co.tls.psk_client_callback = client_cb;
  co.tls.psk_user = cli;
  h_side *c = h_connect_tls(t, &co);
  c->hook = record_secure;
  c->ctx = cli;
  return c;
}

Test(psk, a_tls12_psk_suite_connects_a_server_that_has_no_certificate) {
  h_need_cap(PORTLS_CAP_PSK);
  h_test t;
  h_init(&t);
  psk_side srv = {.identity = "device-7", .key = key_a, .key_len = sizeof key_a};
  psk_side cli = srv;
  psk_server(&t, &srv, PSK12_CIPHERS, NULL, 1);
  h_side *c = psk_client(&t, &cli, PSK12_CIPHERS, 1);
  h_run_until(&t, c->closed && t.nconns == 1 && t.conn[0].closed);
  cr_assert_str_eq(c->log, "connect secureConnect end close(0)", "%s", c->log);
  cr_assert_eq(cli.secure, 1);
  cr_assert_eq(cli.authorized, 1, "the key authenticated the server: nothing to verify");
  cr_assert_eq(cli.has_cert, 0);
  cr_assert_str_eq(cli.version, "TLSv1.2");
  cr_assert(strncmp(cli.cipher, "PSK-AES128-", 11) == 0, "%s", cli.cipher);
  cr_assert_eq(srv.calls, 1);
  cr_assert_str_eq(srv.seen, "device-7", "the server's callback got the client's identity");
  cr_assert_eq(srv.secure, 1);
  cr_assert_str_eq(srv.cipher, cli.cipher);
  cr_assert_eq(t.conn[0].rx_len, 4);
  cr_assert(memcmp(t.conn[0].rx, "ping", 4) == 0);
  h_finish(&t);
}

Test(psk, the_default_cipher_list_excludes_psk_suites_as_in_node) {
  h_need_cap(PORTLS_CAP_PSK);
  h_test t;
  h_init(&t);
  psk_side srv = {.identity = "device-7", .key = key_a, .key_len = sizeof key_a};
  psk_side cli = srv;
  psk_server(&t, &srv, NULL, NULL, 1); /* default ciphers: !PSK, and no certificate */
  h_side *c = psk_client(&t, &cli, PSK12_CIPHERS, 1);
  h_run_until(&t, c->closed);
  cr_assert_eq(cli.secure, 0);
  cr_assert_eq(c->had_error, 1);
  cr_assert_eq(srv.calls, 0);
  h_finish(&t);
}

Test(psk, a_tls13_handshake_uses_the_key_as_an_external_psk) {
  h_need_cap(PORTLS_CAP_TLS1_3);
  h_need_cap(PORTLS_CAP_PSK_TLS1_3);
  h_test t;
  h_init(&t);
  psk_side srv = {.identity = "device-7", .key = key_a, .key_len = sizeof key_a};
  psk_side cli = srv;
  psk_server(&t, &srv, NULL, NULL, 0);
  h_side *c = psk_client(&t, &cli, NULL, 0);
  h_run_until(&t, c->closed && t.nconns == 1 && t.conn[0].closed);
  cr_assert_str_eq(c->log, "connect secureConnect end close(0)", "%s", c->log);
  cr_assert_str_eq(cli.version, "TLSv1.3");
  cr_assert_eq(cli.authorized, 1);
  cr_assert_eq(cli.has_cert, 0);
  cr_assert_str_eq(cli.seen, "(null)", "TLS 1.3 has no hint");
  cr_assert_str_eq(srv.seen, "device-7");
  cr_assert_eq(srv.secure, 1);
  h_finish(&t);
}

Test(psk, the_identity_hint_reaches_the_client_callback) {
  h_need_cap(PORTLS_CAP_PSK);
  h_need_cap(PORTLS_CAP_PSK_HINT);
  h_test t;
  h_init(&t);
  psk_side srv = {.identity = "device-7", .key = key_a, .key_len = sizeof key_a};
  psk_side cli = srv;
  psk_server(&t, &srv, PSK12_CIPHERS, "ask for device-7", 1);
  h_side *c = psk_client(&t, &cli, PSK12_CIPHERS, 1);
  h_run_until(&t, c->closed);
  cr_assert_eq(cli.secure, 1, "%s", c->log);
  cr_assert_str_eq(cli.seen, "ask for device-7");
  h_finish(&t);
}

Test(psk, a_wrong_key_fails_the_handshake_on_both_sides) {
  h_need_cap(PORTLS_CAP_PSK);
  static const uint8_t key_b[16] = {0xff, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
  for (int tls12 = 1; tls12 >= 0; tls12--) {
    if (!tls12 && !portls_has_capability(PORTLS_CAP_PSK_TLS1_3)) break;
    h_test t;
    h_init(&t);
    psk_side srv = {.identity = "device-7", .key = key_a, .key_len = sizeof key_a};
    psk_side cli = srv;
    cli.key = key_b;
    psk_server(&t, &srv, tls12 ? PSK12_CIPHERS : NULL, NULL, tls12);
    h_side *c = psk_client(&t, &cli, tls12 ? PSK12_CIPHERS : NULL, tls12);
    h_run_until(&t, c->closed && t.srv.client_errors == 1);
    cr_assert_eq(cli.secure + srv.secure, 0, "%s", c->log);
    cr_assert_eq(c->had_error, 1);
    const char *cname = portls_err_name(c->err.code),
               *sname = portls_err_name(t.srv.client_err.code);
    /* The side that finds the mismatch names it; the other gets its alert. */
    cr_assert(strcmp(sname, "ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC") == 0 ||
                  strcmp(sname, "ERR_SSL_BINDER_DOES_NOT_VERIFY") == 0,
              "TLS %s server: %s: %s", tls12 ? "1.2" : "1.3", sname, t.srv.client_err.message);
    /* (OpenSSL answers a TLS 1.3 binder that does not verify with illegal_parameter.) */
    cr_assert(strcmp(cname, "ERR_SSL_SSLV3_ALERT_BAD_RECORD_MAC") == 0 ||
                  strcmp(cname, "ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR") == 0 ||
                  (!tls12 && strcmp(cname, "ERR_SSL_SSLV3_ALERT_ILLEGAL_PARAMETER") == 0),
              "TLS %s client: %s: %s", tls12 ? "1.2" : "1.3", cname, c->err.message);
    h_finish(&t);
  }
}

Test(psk, an_unknown_identity_is_rejected) {
  h_need_cap(PORTLS_CAP_PSK);
  h_test t;
  h_init(&t);
  psk_side srv = {.identity = "device-7", .key = key_a, .key_len = sizeof key_a};
  psk_side cli = srv;
  cli.identity = "device-8";
  psk_server(&t, &srv, PSK12_CIPHERS, NULL, 1);
  h_side *c = psk_client(&t, &cli, PSK12_CIPHERS, 1);
  h_run_until(&t, c->closed && t.srv.client_errors == 1);
  cr_assert_eq(srv.calls, 1);
  cr_assert_str_eq(srv.seen, "device-8");
  cr_assert_str_eq(portls_err_name(t.srv.client_err.code), "ERR_SSL_PSK_IDENTITY_NOT_FOUND", "%s",
                   t.srv.client_err.message);
  cr_assert_str_eq(portls_err_name(c->err.code), "ERR_SSL_TLSV1_ALERT_UNKNOWN_PSK_IDENTITY", "%s",
                   c->err.message);
  h_finish(&t);
}

Test(psk, a_client_callback_that_gives_no_key_ends_its_tls12_handshake) {
  h_need_cap(PORTLS_CAP_PSK);
  h_test t;
  h_init(&t);
  psk_side srv = {.identity = "device-7", .key = key_a, .key_len = sizeof key_a};
  psk_side cli = srv;
  cli.decline = 1;
  psk_server(&t, &srv, PSK12_CIPHERS, NULL, 1);
  h_side *c = psk_client(&t, &cli, PSK12_CIPHERS, 1);
  h_run_until(&t, c->closed);
  cr_assert_eq(cli.calls >= 1, 1);
  cr_assert_eq(cli.secure, 0);
  cr_assert_eq(c->had_error, 1);
  cr_assert_eq(srv.secure, 0);
  h_finish(&t);
}

Test(psk, a_key_of_the_wrong_size_is_an_error_naming_psk_callback) {
  h_need_cap(PORTLS_CAP_PSK);
  h_test t;
  h_init(&t);
  psk_side srv = {.identity = "device-7", .key = key_a, .key_len = sizeof key_a};
  psk_side cli = srv;
  cli.key_len = 0;
  psk_server(&t, &srv, PSK12_CIPHERS, NULL, 1);
  h_side *c = psk_client(&t, &cli, PSK12_CIPHERS, 1);
  h_run_until(&t, c->closed);
  cr_assert_eq(c->err.code, PORTLS_EINVAL, "%s: %s", portls_err_name(c->err.code), c->err.message);
  cr_assert(h_contains(c->err.message, "pskCallback"), "%s", c->err.message);
  h_finish(&t);
}

Test(psk, destroying_the_socket_inside_the_callback_is_safe) {
  h_need_cap(PORTLS_CAP_PSK);
  h_test t;
  h_init(&t);
  psk_side srv = {.identity = "device-7", .key = key_a, .key_len = sizeof key_a, .destroy = 1};
  psk_side cli = srv;
  cli.destroy = 0;
  psk_server(&t, &srv, PSK12_CIPHERS, NULL, 1);
  h_side *c = psk_client(&t, &cli, PSK12_CIPHERS, 1);
  h_run_until(&t, c->closed && srv.calls == 1);
  h_wait(&t, 50);
  cr_assert_eq(srv.calls, 1);
  cr_assert_eq(srv.secure + cli.secure, 0);
  cr_assert_eq(t.srv.secure_connections, 0);
  cr_assert_eq(c->had_error, 1);
  h_finish(&t);
}

Test(psk, options_are_checked_when_set) {
  h_test t;
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  so.tls.psk_server_callback = server_cb;
  portls_server *srv = NULL;
  portls_error err = {0};
  int rc = portls_tls_create_server(t.loop, &so, &srv, &err);
  if (portls_has_capability(PORTLS_CAP_PSK)) {
    cr_assert_eq(rc, 0, "%s", err.message);
    portls_server_close(srv);
  } else {
    cr_assert_eq(rc, PORTLS_ENOTSUP);
    cr_assert(h_contains(err.message, "pskCallback") && h_contains(err.message, "'psk'"), "%s",
              err.message);
  }
  char long_hint[PORTLS_PSK_MAX_IDENTITY + 2];
  memset(long_hint, 'h', sizeof long_hint - 1);
  long_hint[sizeof long_hint - 1] = '\0';
  so.tls.psk_identity_hint = long_hint;
  srv = NULL;
  cr_assert_eq(portls_tls_create_server(t.loop, &so, &srv, &err), PORTLS_EINVAL);
  cr_assert(h_contains(err.message, "pskIdentityHint"), "%s", err.message);
  so.tls.psk_identity_hint = "hint";
  rc = portls_tls_create_server(t.loop, &so, &srv, &err);
  if (portls_has_capability(PORTLS_CAP_PSK_HINT)) {
    cr_assert_eq(rc, 0, "%s", err.message);
    portls_server_close(srv);
  } else {
    cr_assert_eq(rc, PORTLS_ENOTSUP);
    cr_assert(h_contains(err.message, "pskIdentityHint") && h_contains(err.message, "'psk-hint'") &&
                  h_contains(err.message, portls_backend_name()),
              "%s", err.message);
  }
  h_wait(&t, 20);
  h_finish(&t);
}

/* The PSK exemption covers only handshakes the key authenticated: a PSK
 * client that meets a certificate server verifies its certificate as usual. */
Test(psk, a_psk_client_still_verifies_a_server_that_authenticates_with_a_certificate) {
  h_need_cap(PORTLS_CAP_PSK);
  for (int trust = 1; trust >= 0; trust--) {
    h_test t;
    h_init(&t);
    portls_server_options so;
    portls_server_options_init(&so);
    h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
    h_listen_tls(&t, &so);
    psk_side cli = {.identity = "device-7", .key = key_a, .key_len = sizeof key_a};
    portls_connect_options co;
    portls_connect_options_init(&co);
    h_context_options(&t, &co.tls.context, NULL, NULL, trust ? "ca.crt" : NULL);
    co.host = "localhost";
    co.tls.psk_client_callback = client_cb;
    co.tls.psk_user = &cli;
    h_side *c = h_connect_tls(&t, &co);
    c->hook = record_secure;
    c->ctx = &cli;
    h_run_until(&t, c->closed);
    if (trust) {
      cr_assert_eq(cli.secure, 1, "%s", c->log);
      cr_assert_eq(cli.authorized, 1);
      cr_assert_eq(cli.has_cert, 1);
    } else {
      cr_assert_eq(cli.secure, 0, "an unknown CA is refused even though the client has a PSK");
      cr_assert(portls_err_is_verify(c->err.code), "%s: %s", portls_err_name(c->err.code),
                c->err.message);
    }
    h_finish(&t);
  }
}

/* RFC 4279 asks for keys up to 64 bytes; a library that allows fewer (mbedTLS
 * 2.28's MBEDTLS_PSK_MAX_LEN is 32 by default) refuses the key with an error
 * naming pskCallback, never a handshake that goes on with another key. */
Test(psk, a_64_byte_key_works_or_is_refused_by_name) {
  h_need_cap(PORTLS_CAP_PSK);
  static uint8_t key64[64];
  for (size_t i = 0; i < sizeof key64; i++) key64[i] = (uint8_t)(i * 37 + 1);
  h_test t;
  h_init(&t);
  psk_side srv = {.identity = "device-7", .key = key64, .key_len = sizeof key64};
  psk_side cli = srv;
  psk_server(&t, &srv, PSK12_CIPHERS, NULL, 1);
  h_side *c = psk_client(&t, &cli, PSK12_CIPHERS, 1);
  h_run_until(&t, c->closed);
  if (cli.secure) {
    cr_assert_eq(c->had_error, 0, "%s", c->log);
    cr_assert_eq(cli.authorized, 1);
  } else {
    cr_assert_eq(c->err.code, PORTLS_EINVAL, "%s: %s", portls_err_name(c->err.code),
                 c->err.message);
    cr_assert(h_contains(c->err.message, "pskCallback"), "%s", c->err.message);
    cr_assert_eq(srv.secure, 0);
  }
  h_finish(&t);
}

/* ---- SecurePair: PSK with no socket and no certificate (a device over a serial line) ---- */

typedef struct psk_pump {
  portls_pair *client, *server;
  int c_secure, s_secure, c_authorized, closed;
  char s_rx[16];
  size_t s_rx_len;
} psk_pump;

static void pump_data(portls_pair *p, const void *d, size_t n, void *u) {
  psk_pump *pp = u;
  portls_pair *peer = p == pp->client ? pp->server : pp->client;
  if (peer != NULL) cr_assert_eq(portls_pair_encrypted_write(peer, d, n), 0);
}
static void pump_secure(portls_pair *p, void *u) {
  psk_pump *pp = u;
  if (p == pp->client) {
    pp->c_secure++;
    pp->c_authorized = portls_socket_authorized(portls_pair_cleartext(p));
  } else {
    pp->s_secure++;
  }
}
static void pump_closed(portls_pair *p, void *u) {
  psk_pump *pp = u;
  if (p == pp->client) pp->client = NULL;
  if (p == pp->server) pp->server = NULL;
  pp->closed++;
}
static void pump_server_rx(portls_socket *s, const void *d, size_t n, void *u) {
  psk_pump *pp = u;
  if (pp->s_rx_len + n <= sizeof pp->s_rx) memcpy(pp->s_rx + pp->s_rx_len, d, n), pp->s_rx_len += n;
  portls_socket_end(s, NULL, 0);
}

Test(psk, two_secure_pairs_handshake_with_a_psk_and_no_certificates) {
  h_need_cap(PORTLS_CAP_PSK);
  h_test t;
  h_init(&t);
  static psk_pump pp;
  memset(&pp, 0, sizeof pp);
  psk_side srv = {.identity = "uart-1", .key = key_a, .key_len = sizeof key_a};
  psk_side cli = srv;
  portls_pair_events ev = {
      .secure = pump_secure, .encrypted_data = pump_data, .close = pump_closed};
  portls_socket_events sev = {.data = pump_server_rx};
  portls_tls_socket_options so, co;
  portls_tls_socket_options_init(&so);
  so.is_server = 1;
  so.tls.context.ciphers = PSK12_CIPHERS;
  so.tls.psk_server_callback = server_cb;
  so.tls.psk_user = &srv;
  so.events = &sev;
  so.user = &pp;
  portls_tls_socket_options_init(&co);
  co.tls.context.ciphers = PSK12_CIPHERS;
  co.tls.psk_client_callback = client_cb;
  co.tls.psk_user = &cli;
  portls_error err;
  cr_assert_eq(portls_pair_new(t.loop, &so, &ev, &pp, &pp.server, &err), 0, "%s", err.message);
  cr_assert_eq(portls_pair_new(t.loop, &co, &ev, &pp, &pp.client, &err), 0, "%s", err.message);
  portls_socket_write(portls_pair_cleartext(pp.client), "ping", 4); /* sent once secure */
  h_run_until(&t, pp.s_rx_len == 4);
  cr_assert_eq(pp.c_secure, 1);
  cr_assert_eq(pp.s_secure, 1);
  cr_assert_eq(pp.c_authorized, 1);
  cr_assert_str_eq(srv.seen, "uart-1");
  cr_assert(memcmp(pp.s_rx, "ping", 4) == 0);
  if (pp.client != NULL) portls_socket_destroy(portls_pair_cleartext(pp.client), NULL);
  if (pp.server != NULL) portls_socket_destroy(portls_pair_cleartext(pp.server), NULL);
  h_run_until(&t, pp.closed == 2);
  h_finish(&t);
}
