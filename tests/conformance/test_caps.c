/* Capabilities: an option the backend can honour is accepted; one it cannot
 * fails at once with PORTLS_ENOTSUP naming the option, the capability and the
 * backend. Both branches are asserted, whichever backend this is. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/harness.h"
#include "portls/portls.h"

static void expect_gate(portls_cap cap, int rc, const portls_error *err, const char *option) {
  if (portls_has_capability(cap)) {
    cr_assert_eq(rc, 0, "%s with capability %s: %s", option, portls_capability_name(cap),
                 err->message);
    return;
  }
  cr_assert_eq(rc, PORTLS_ENOTSUP, "%s without capability %s gave %s", option,
               portls_capability_name(cap), portls_err_name(rc));
  cr_assert(strstr(err->message, option) != NULL, "message names the option: %s", err->message);
  cr_assert(strstr(err->message, portls_capability_name(cap)) != NULL,
            "message names the capability: %s", err->message);
  cr_assert(strstr(err->message, portls_backend_name()) != NULL, "message names the backend: %s",
            err->message);
}

static int try_context(const portls_context_options *o, portls_error *err) {
  portls_context *ctx = NULL;
  memset(err, 0, sizeof *err);
  int rc = portls_context_new(o, &ctx, err);
  portls_context_free(ctx);
  return rc;
}

Test(caps, pfx_is_accepted_or_refused_by_capability) {
  h_test t;
  h_init(&t);
  portls_context_options o;
  portls_context_options_init(&o);
  o.pfx = *h_file(&t, "server.pfx");
  o.passphrase = "portls-pass";
  portls_error err;
  expect_gate(PORTLS_CAP_PFX, try_context(&o, &err), &err, "pfx");
  h_finish(&t);
}

Test(caps, crl_is_accepted_or_refused_by_capability) {
  h_test t;
  h_init(&t);
  portls_context_options o;
  h_context_options(&t, &o, NULL, NULL, "ca.crt");
  o.crl = h_file(&t, "crl-chain.pem");
  o.crl_count = 1;
  portls_error err;
  expect_gate(PORTLS_CAP_CRL, try_context(&o, &err), &err, "crl");
  h_finish(&t);
}

Test(caps, ticket_keys_are_accepted_or_refused_by_capability) {
  portls_context_options o;
  portls_context_options_init(&o);
  static const unsigned char keys[48] = {1, 2, 3};
  o.ticket_keys = (portls_buf){keys, sizeof keys};
  portls_error err;
  expect_gate(PORTLS_CAP_TICKET_KEYS, try_context(&o, &err), &err, "ticketKeys");
}

Test(caps, client_cipher_order_is_accepted_or_refused_by_capability) {
  portls_context_options o;
  portls_context_options_init(&o);
  o.honor_cipher_order = 0;
  portls_error err;
  expect_gate(PORTLS_CAP_CIPHER_CLIENT_PREF, try_context(&o, &err), &err, "honorCipherOrder");
}

Test(caps, tls13_only_method_is_accepted_or_refused_by_capability) {
  portls_context_options o;
  portls_context_options_init(&o);
  o.secure_protocol = "TLSv1_3_method";
  portls_error err;
  expect_gate(PORTLS_CAP_TLS1_3, try_context(&o, &err), &err, "TLSv1_3_method");
}

Test(caps, several_key_cert_pairs_are_accepted_or_refused_by_capability) {
  h_test t;
  h_init(&t);
  portls_context_options o;
  portls_context_options_init(&o);
  portls_buf keys[2] = {*h_file(&t, "server-rsa.key"), *h_file(&t, "server-ec.key")};
  portls_buf certs[2] = {*h_file(&t, "server-rsa-chain.crt"), *h_file(&t, "server-ec-chain.crt")};
  o.key = keys;
  o.cert = certs;
  o.key_count = o.cert_count = 2;
  portls_error err;
  expect_gate(PORTLS_CAP_MULTI_CERT, try_context(&o, &err), &err, "key/cert");
  h_finish(&t);
}

static int try_connect_option(h_test *t, int npn, int ocsp, portls_error *err) {
  portls_connect_options o;
  portls_connect_options_init(&o);
  h_context_options(t, &o.tls.context, NULL, NULL, "ca.crt");
  o.port = 9; /* never reached: the option check comes first, or the socket is destroyed */
  const char *protos[] = {"http/1.1"};
  if (npn) o.tls.npn_protocols = (portls_protocols){.names = protos, .count = 1};
  o.tls.request_ocsp = ocsp;
  portls_socket *s = NULL;
  memset(err, 0, sizeof *err);
  int rc = portls_tls_connect(t->loop, &o, &s, err);
  if (s != NULL) portls_socket_destroy(s, NULL);
  return rc;
}

Test(caps, npn_and_ocsp_request_are_accepted_or_refused_by_capability) {
  h_test t;
  h_init(&t);
  portls_error err;
  expect_gate(PORTLS_CAP_NPN, try_connect_option(&t, 1, 0, &err), &err, "NPNProtocols");
  expect_gate(PORTLS_CAP_OCSP_REQUEST, try_connect_option(&t, 0, 1, &err), &err, "requestOCSP");
  h_wait(&t, 50);
  h_finish(&t);
}

/* With an RSA and an ECDSA pair, the client's suites decide which one it gets. */
static const char *cert_key_type(h_test *t, const char *ciphers) {
  portls_connect_options o;
  portls_connect_options_init(&o);
  h_context_options(t, &o.tls.context, NULL, NULL, "ca.crt");
  o.tls.context.ciphers = ciphers;
  o.tls.context.secure_protocol = "TLSv1_2_method";
  h_side *c = h_connect_tls(t, &o);
  h_run_until(t, c->count[H_SECURE] > 0 || c->closed);
  cr_assert_eq(c->count[H_SECURE], 1, "no handshake with %s: %s", ciphers, c->log);
  portls_cert *cert = NULL;
  cr_assert_eq(portls_socket_get_peer_certificate(c->sock, 0, &cert, NULL), 0);
  static char type[16];
  snprintf(type, sizeof type, "%s", cert->pubkey_type ? cert->pubkey_type : "?");
  portls_cert_free(cert);
  portls_socket_destroy(c->sock, NULL);
  return type;
}

Test(caps, rsa_and_ecdsa_pairs_on_one_server_are_chosen_per_client) {
  h_need_cap(PORTLS_CAP_MULTI_CERT);
  h_test t;
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  portls_buf keys[2] = {*h_file(&t, "server-rsa.key"), *h_file(&t, "server-ec.key")};
  portls_buf certs[2] = {*h_file(&t, "server-rsa-chain.crt"), *h_file(&t, "server-ec-chain.crt")};
  so.tls.context.key = keys;
  so.tls.context.cert = certs;
  so.tls.context.key_count = so.tls.context.cert_count = 2;
  h_listen_tls(&t, &so);
  cr_assert_str_eq(cert_key_type(&t, "ECDHE-ECDSA-AES128-GCM-SHA256"), "EC");
  cr_assert_str_eq(cert_key_type(&t, "ECDHE-RSA-AES128-GCM-SHA256"), "RSA");
  h_run_all_closed(&t);
  h_finish(&t);
}

/* dhparam, as the specification has it: under 1024 bits an error; under 2048 a
 * warning; unparsable silently discarded; on a backend without DHE accepted
 * with a warning that names the capability. */
static int dh_context(h_test *t, const char *file, const char **warning, portls_error *err) {
  portls_context_options o;
  portls_context_options_init(&o);
  static const char garbage[] =
      "-----BEGIN DH PARAMETERS-----\nnot base64!\n-----END DH PARAMETERS-----\n";
  o.dhparam = file ? *h_file(t, file) : (portls_buf){garbage, sizeof garbage - 1};
  portls_context *ctx = NULL;
  int rc = portls_context_new(&o, &ctx, err);
  *warning = NULL;
  static char copy[128];
  if (ctx != NULL && portls_context_warning(ctx) != NULL) {
    snprintf(copy, sizeof copy, "%s", portls_context_warning(ctx));
    *warning = copy;
  }
  portls_context_free(ctx);
  return rc;
}

Test(caps, dhparam_under_1024_is_an_error_under_2048_a_warning_and_garbage_is_ignored) {
  h_test t;
  h_init(&t);
  const char *w;
  portls_error err;
  cr_assert_eq(dh_context(&t, "dh512.pem", &w, &err), PORTLS_EDHPARAM);
  cr_assert(strstr(err.message, "1024") != NULL, "%s", err.message);
  cr_assert_eq(dh_context(&t, NULL, &w, &err), 0, "unparsable dhparam is discarded: %s",
               err.message);
  cr_assert_null(w);
  cr_assert_eq(dh_context(&t, "dh1024.pem", &w, &err), 0, "%s", err.message);
  cr_assert_not_null(w);
  cr_assert_eq(dh_context(&t, "dh2048.pem", &w, &err), 0, "%s", err.message);
  if (portls_has_capability(PORTLS_CAP_DHE)) {
    cr_assert_null(w, "2048 bits: no warning, got %s", w);
    cr_assert_eq(dh_context(&t, "dh1024.pem", &w, &err), 0);
    cr_assert_str_eq(w, "DH parameter is less than 2048 bits");
  } else {
    cr_assert_not_null(w);
    cr_assert(strstr(w, "dhe") != NULL && strstr(w, portls_backend_name()) != NULL, "%s", w);
  }
  h_finish(&t);
}
