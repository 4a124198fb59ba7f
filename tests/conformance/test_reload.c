/* Hot certificate reload: server.setSecureContext() and addContext() for a
 * hostname already present. Connections open before the swap keep their
 * context and go on working; new ones get the new certificate; bad options
 * change nothing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/harness.h"
#include "portls/portls.h"

/* The SHA-256 fingerprint of the certificate the client saw. */
static void peer_fp(h_side *c, char out[128]) {
  portls_cert *cert = NULL;
  portls_error err;
  cr_assert_eq(portls_socket_get_peer_certificate(c->sock, 0, &cert, &err), 0, "%s", err.message);
  cr_assert_not_null(cert->fingerprint256);
  snprintf(out, 128, "%s", cert->fingerprint256);
  portls_cert_free(cert);
}

static h_side *client(h_test *t, const char *servername) {
  portls_connect_options o;
  portls_connect_options_init(&o);
  h_context_options(t, &o.tls.context, NULL, NULL, "ca.crt");
  o.host = "127.0.0.1";
  o.tls.servername = servername ? servername : "localhost";
  o.tls.reject_unauthorized = 0;
  h_side *c = h_connect_tls(t, &o);
  h_run_until(t, c->count[H_SECURE] > 0 || c->closed);
  cr_assert_eq(c->count[H_SECURE], 1, "%s", c->log);
  return c;
}

static portls_context *make_ctx(h_test *t, const char *key, const char *cert) {
  portls_context_options o;
  h_context_options(t, &o, key, cert, NULL);
  portls_context *ctx = NULL;
  portls_error err;
  cr_assert_eq(portls_context_new(&o, &ctx, &err), 0, "%s", err.message);
  return ctx;
}

Test(set_secure_context, open_connections_keep_their_context_and_new_ones_get_the_new) {
  h_test t;
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  h_listen_tls(&t, &so);

  h_side *a = client(&t, NULL);
  char fp_old[128], fp_new[128], fp_after_bad[128];
  peer_fp(a, fp_old);
  h_run_until(&t, t.nconns == 1 && t.conn[0].count[H_SECURE] == 1);

  portls_context_options no;
  h_context_options(&t, &no, "server-ec.key", "server-ec-chain.crt", NULL);
  portls_error err;
  cr_assert_eq(portls_server_set_secure_context(t.srv.srv, &no, &err), 0, "%s", err.message);

  /* The connection made before the swap still carries data both ways. */
  cr_assert_geq(portls_socket_write(a->sock, "ping", 4), 0);
  h_run_until(&t, t.conn[0].rx_len >= 4);
  cr_assert_eq(memcmp(t.conn[0].rx, "ping", 4), 0);
  cr_assert_geq(portls_socket_write(t.conn[0].sock, "pong", 4), 0);
  h_run_until(&t, a->rx_len >= 4);
  cr_assert_eq(memcmp(a->rx, "pong", 4), 0);
  char fp_a_again[128];
  peer_fp(a, fp_a_again);
  cr_assert_str_eq(fp_a_again, fp_old, "an open connection keeps its certificate");

  h_side *b = client(&t, NULL);
  peer_fp(b, fp_new);
  cr_assert_str_neq(fp_new, fp_old, "a new connection sees the new certificate");
  portls_cert *cert = NULL;
  cr_assert_eq(portls_socket_get_peer_certificate(b->sock, 0, &cert, NULL), 0);
  cr_assert_str_eq(cert->pubkey_type, "EC");
  portls_cert_free(cert);

  /* Bad options (a key that is not the certificate's) change nothing. */
  portls_context_options bad;
  h_context_options(&t, &bad, "server-rsa.key", "server-ec-chain.crt", NULL);
  cr_assert_eq(portls_server_set_secure_context(t.srv.srv, &bad, &err), PORTLS_EKEY_MISMATCH, "%s",
               err.message);
  cr_assert_eq(err.code, PORTLS_EKEY_MISMATCH);
  h_side *c = client(&t, NULL);
  peer_fp(c, fp_after_bad);
  cr_assert_str_eq(fp_after_bad, fp_new, "a failed reload keeps the current context");

  /* A context made beforehand can be swapped in too. */
  portls_context *ctx = make_ctx(&t, "server-rsa.key", "server-rsa-chain.crt");
  cr_assert_eq(portls_server_set_context(t.srv.srv, ctx, &err), 0, "%s", err.message);
  portls_context_free(ctx); /* the server holds its own reference */
  h_side *d = client(&t, NULL);
  char fp_d[128];
  peer_fp(d, fp_d);
  cr_assert_str_eq(fp_d, fp_old);
  h_finish(&t);
}

Test(set_secure_context, bad_arguments_are_errors) {
  h_test t;
  h_init(&t);
  portls_error err;
  portls_context_options o;
  portls_context_options_init(&o);
  cr_assert_eq(portls_server_set_secure_context(NULL, &o, &err), PORTLS_EINVAL);
  cr_assert_eq(portls_server_set_context(NULL, NULL, &err), PORTLS_EINVAL);
  h_listen_net(&t, NULL);
  cr_assert_eq(portls_server_set_secure_context(t.srv.srv, &o, &err), PORTLS_EINVAL);
  cr_assert(h_contains(err.message, "setSecureContext"), "%s", err.message);
  h_finish(&t);
}

Test(set_secure_context, a_client_method_context_is_refused) {
  h_test t;
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  h_listen_tls(&t, &so);
  portls_context_options o;
  h_context_options(&t, &o, "server-ec.key", "server-ec-chain.crt", NULL);
  o.secure_protocol = "TLS_client_method";
  portls_error err;
  cr_assert_eq(portls_server_set_secure_context(t.srv.srv, &o, &err), PORTLS_EINVAL);
  h_side *c = client(&t, NULL);
  portls_cert *cert = NULL;
  cr_assert_eq(portls_socket_get_peer_certificate(c->sock, 0, &cert, NULL), 0);
  cr_assert_str_eq(cert->pubkey_type, "RSA", "the server kept its context");
  portls_cert_free(cert);
  h_finish(&t);
}

Test(sni_reload, add_context_for_a_hostname_already_present_replaces_it) {
  h_need_cap(PORTLS_CAP_SNI);
  h_test t;
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  h_listen_tls(&t, &so);
  portls_context *wrong = make_ctx(&t, "wrong-host.key", "wrong-host-chain.crt");
  portls_context *ec = make_ctx(&t, "server-ec.key", "server-ec-chain.crt");
  portls_error err;
  cr_assert_eq(portls_server_add_context(t.srv.srv, "*.example.com", wrong, &err), 0, "%s",
               err.message);
  cr_assert_eq(portls_server_add_context(t.srv.srv, "other.test", wrong, &err), 0, "%s",
               err.message);
  h_side *a = client(&t, "wrong.example.com");
  char fp_wrong[128], fp_ec[128], fp_other[128];
  peer_fp(a, fp_wrong);
  h_run_until(&t, t.nconns == 1 && t.conn[0].count[H_SECURE] == 1);

  cr_assert_eq(portls_server_add_context(t.srv.srv, "*.EXAMPLE.com", ec, &err), 0, "%s",
               err.message);
  portls_context_free(wrong);
  portls_context_free(ec);
  h_side *b = client(&t, "wrong.example.com");
  peer_fp(b, fp_ec);
  cr_assert_str_neq(fp_ec, fp_wrong, "the replaced hostname serves the new context");
  portls_cert *cert = NULL;
  cr_assert_eq(portls_socket_get_peer_certificate(b->sock, 0, &cert, NULL), 0);
  cr_assert_str_eq(cert->pubkey_type, "EC");
  portls_cert_free(cert);
  h_side *c = client(&t, "other.test");
  peer_fp(c, fp_other);
  cr_assert_str_eq(fp_other, fp_wrong, "another hostname keeps its context");

  /* The connection made before still works with its context. */
  cr_assert_geq(portls_socket_write(a->sock, "ping", 4), 0);
  h_run_until(&t, t.conn[0].rx_len >= 4);
  char fp_a[128];
  peer_fp(a, fp_a);
  cr_assert_str_eq(fp_a, fp_wrong);
  h_finish(&t);
}

Test(set_secure_context, ticket_keys_survive_a_reload_unless_new_ones_are_given) {
  h_need_cap(PORTLS_CAP_TICKET_KEYS);
  h_test t;
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  h_listen_tls(&t, &so);
  uint8_t before[48], after[48], given[48];
  portls_error err;
  cr_assert_eq(portls_server_get_ticket_keys(t.srv.srv, before, &err), 0, "%s", err.message);
  portls_context_options no;
  h_context_options(&t, &no, "server-ec.key", "server-ec-chain.crt", NULL);
  cr_assert_eq(portls_server_set_secure_context(t.srv.srv, &no, &err), 0, "%s", err.message);
  cr_assert_eq(portls_server_get_ticket_keys(t.srv.srv, after, &err), 0, "%s", err.message);
  cr_assert_eq(memcmp(before, after, 48), 0, "sessions issued before the reload still resume");
  for (int i = 0; i < 48; i++) given[i] = (uint8_t)i;
  no.ticket_keys = (portls_buf){given, 48};
  cr_assert_eq(portls_server_set_secure_context(t.srv.srv, &no, &err), 0, "%s", err.message);
  cr_assert_eq(portls_server_get_ticket_keys(t.srv.srv, after, &err), 0, "%s", err.message);
  cr_assert_eq(memcmp(given, after, 48), 0, "ticket keys in the options win");
  h_finish(&t);
}
