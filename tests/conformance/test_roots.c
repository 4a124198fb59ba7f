/* Without `ca`, a client trusts the system's roots (Node: "If this is omitted
 * several well known root CAs will be used"), on every backend; SSL_CERT_FILE
 * names the bundle, as OpenSSL's tools read it. Each Criterion test runs in its
 * own process, so the environment set here is seen by the first context. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/harness.h"
#include "portls/portls.h"

static h_side *connect_without_ca(h_test *t) {
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  h_listen_tls(t, &so);
  portls_connect_options o;
  portls_connect_options_init(&o);
  o.tls.reject_unauthorized = 0;
  h_side *c = h_connect_tls(t, &o);
  h_run_until(t, c->count[H_SECURE] > 0 || c->closed);
  return c;
}

Test(system_roots, a_private_ca_is_not_trusted_without_ca) {
  const char *dir = getenv("PORTLS_CERTS");
  char path[512];
  snprintf(path, sizeof path, "%s/unknown-ca.crt", dir);
  setenv("SSL_CERT_FILE", path, 1); /* a bundle that does not hold our root */
  h_test t;
  h_init(&t);
  h_side *c = connect_without_ca(&t);
  cr_assert_eq(c->count[H_SECURE], 1);
  cr_assert_eq(portls_socket_authorized(c->sock), 0);
  cr_assert_eq(portls_socket_authorization_error(c->sock),
               PORTLS_EUNABLE_TO_GET_ISSUER_CERT_LOCALLY);
  portls_socket_destroy(c->sock, NULL);
  h_run_all_closed(&t);
  h_finish(&t);
}

Test(system_roots, the_system_bundle_is_trusted_without_ca) {
  const char *dir = getenv("PORTLS_CERTS");
  char path[512];
  snprintf(path, sizeof path, "%s/ca.crt", dir);
  setenv("SSL_CERT_FILE", path, 1); /* the system's bundle, as far as this process knows */
  h_test t;
  h_init(&t);
  h_side *c = connect_without_ca(&t);
  cr_assert_eq(c->count[H_SECURE], 1);
  cr_assert_eq(portls_socket_authorized(c->sock), 1, "authorizationError %s",
               portls_err_name(portls_socket_authorization_error(c->sock)));
  portls_socket_destroy(c->sock, NULL);
  h_run_all_closed(&t);
  h_finish(&t);
}
