/* Context options that name files (key_file, cert_file, ca_file, ca_path,
 * crl_file, pfx_file), with errors naming the option and the path and the
 * same code on every backend; tls.rootCertificates; the extra CAs
 * (portls_set_extra_ca_certs, PORTLS_EXTRA_CA_CERTS). Criterion runs each test
 * in its own process, so the process-wide settings made here do not leak. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/harness.h"
#include "portls/cert.h"
#include "portls/portls.h"

static const char *cert_path(const char *name) {
  static char paths[8][512];
  static int next;
  char *p = paths[next++ % 8];
  snprintf(p, 512, "%s/%s", getenv("PORTLS_CERTS"), name);
  return p;
}

/* The temporary directories a test made, removed when its process exits. */
static char made_dirs[4][256];
static int n_made;
static void remove_made_dirs(void) {
  for (int i = 0; i < n_made; i++) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", made_dirs[i]);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", made_dirs[i]);
  }
}
static void made_dir(const char *dir) {
  if (n_made == 0) atexit(remove_made_dirs);
  if (n_made < 4) snprintf(made_dirs[n_made++], sizeof made_dirs[0], "%s", dir);
}

/* A file in a fresh temporary directory holding text. */
static const char *temp_file(const char *name, const char *text) {
  static char dir[256];
  if (dir[0] == '\0') {
    snprintf(dir, sizeof dir, "/tmp/portls-files-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    made_dir(dir);
  }
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
  return path;
}

static int try_context(const portls_context_options *o, portls_error *err) {
  portls_context *ctx = NULL;
  memset(err, 0, sizeof *err);
  int rc = portls_context_new(o, &ctx, err);
  portls_context_free(ctx);
  return rc;
}

/* The error starts with "option path" and has the code. */
static void expect_error(const portls_context_options *o, int code, const char *opt,
                         const char *path, const char *words) {
  portls_error err;
  int rc = try_context(o, &err);
  cr_assert_eq(rc, code, "%s %s: got %s (%s), expected %s", opt, path, portls_err_name(rc),
               err.message, portls_err_name(code));
  char prefix[600];
  snprintf(prefix, sizeof prefix, "%s %s", opt, path);
  cr_assert_eq(strncmp(err.message, prefix, strlen(prefix)), 0, "message: %s", err.message);
  if (words != NULL) cr_assert(h_contains(err.message, words), "message: %s", err.message);
}

/* A server from o, a client trusting ca_file (or co as given); what the client saw. */
static h_side *serve_and_connect(h_test *t, portls_server_options *so, portls_connect_options *co) {
  h_listen_tls(t, so);
  co->host = "127.0.0.1";
  co->tls.servername = "localhost";
  co->tls.reject_unauthorized = 0;
  h_side *c = h_connect_tls(t, co);
  h_run_until(t, c->count[H_SECURE] > 0 || c->closed);
  cr_assert_eq(c->count[H_SECURE], 1, "%s", c->log);
  return c;
}

Test(file_options, key_cert_and_ca_files_make_a_verified_connection) {
  h_test t;
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  so.tls.context.key_file = cert_path("server-rsa.key");
  so.tls.context.cert_file = cert_path("server-rsa-chain.crt");
  portls_connect_options co;
  portls_connect_options_init(&co);
  co.tls.context.ca_file = cert_path("ca.crt");
  h_side *c = serve_and_connect(&t, &so, &co);
  cr_assert_eq(portls_socket_authorized(c->sock), 1, "%s",
               portls_err_name(portls_socket_authorization_error(c->sock)));
  h_finish(&t);
}

Test(file_options, files_add_to_buffers) {
  /* A key/cert pair from buffers plus one from files: two pairs where the
   * backend holds several, else the capability error. */
  h_test t;
  h_init(&t);
  portls_context_options o;
  h_context_options(&t, &o, "server-rsa.key", "server-rsa-chain.crt", NULL);
  o.key_file = cert_path("server-ec.key");
  o.cert_file = cert_path("server-ec-chain.crt");
  portls_error err;
  int rc = try_context(&o, &err);
  if (portls_has_capability(PORTLS_CAP_MULTI_CERT))
    cr_assert_eq(rc, 0, "%s", err.message);
  else
    cr_assert_eq(rc, PORTLS_ENOTSUP, "%s", err.message);
  /* a key file without its certificate: counted like key[] and cert[] */
  portls_context_options_init(&o);
  o.key_file = cert_path("server-ec.key");
  cr_assert_eq(try_context(&o, &err), PORTLS_EINVAL, "%s", err.message);
  h_finish(&t);
}

Test(file_options, pfx_file_serves_its_certificate) {
  h_need_cap(PORTLS_CAP_PFX);
  h_test t;
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  so.tls.context.pfx_file = cert_path("server.pfx");
  so.tls.context.passphrase = "portls-pass";
  portls_connect_options co;
  portls_connect_options_init(&co);
  co.tls.context.ca_file = cert_path("ca.crt");
  h_side *c = serve_and_connect(&t, &so, &co);
  cr_assert_eq(portls_socket_authorized(c->sock), 1, "%s",
               portls_err_name(portls_socket_authorization_error(c->sock)));
  h_finish(&t);
}

Test(file_options, crl_file_revokes) {
  h_need_cap(PORTLS_CAP_CRL);
  h_test t;
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  so.tls.context.key_file = cert_path("revoked.key");
  so.tls.context.cert_file = cert_path("revoked-chain.crt");
  portls_connect_options co;
  portls_connect_options_init(&co);
  co.tls.context.ca_file = cert_path("ca.crt");
  co.tls.context.crl_file = cert_path("crl-chain.pem");
  h_side *c = serve_and_connect(&t, &so, &co);
  cr_assert_eq(portls_socket_authorization_error(c->sock), PORTLS_ECERT_REVOKED, "%s",
               portls_err_name(portls_socket_authorization_error(c->sock)));
  h_finish(&t);
}

/* A directory made by `openssl rehash` from the given certificates. */
static const char *hashed_dir(const char *const *names, size_t n) {
  static char dir[256];
  snprintf(dir, sizeof dir, "/tmp/portls-capath-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  made_dir(dir);
  char cmd[2048];
  for (size_t i = 0; i < n; i++) {
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/'", cert_path(names[i]), dir);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
  }
  const char *openssl = getenv("OPENSSL");
  snprintf(cmd, sizeof cmd, "'%s' rehash '%s' >/dev/null 2>&1", openssl ? openssl : "openssl", dir);
  cr_assert_eq(system(cmd), 0, "%s", cmd);
  return dir;
}

Test(file_options, ca_path_with_a_rehashed_directory_verifies_a_server) {
  static const char *const names[] = {"ca.crt", "unknown-ca.crt"};
  const char *dir = hashed_dir(names, 2);
  h_test t;
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  so.tls.context.key_file = cert_path("server-rsa.key");
  so.tls.context.cert_file = cert_path("server-rsa-chain.crt");
  portls_connect_options co;
  portls_connect_options_init(&co);
  co.tls.context.ca_path = dir;
  h_side *c = serve_and_connect(&t, &so, &co);
  cr_assert_eq(portls_socket_authorized(c->sock), 1, "%s",
               portls_err_name(portls_socket_authorization_error(c->sock)));
  h_finish(&t);
}

Test(file_options, ca_path_without_the_issuer_does_not_verify) {
  static const char *const names[] = {"unknown-ca.crt"};
  const char *dir = hashed_dir(names, 1);
  h_test t;
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  so.tls.context.key_file = cert_path("server-rsa.key");
  so.tls.context.cert_file = cert_path("server-rsa-chain.crt");
  portls_connect_options co;
  portls_connect_options_init(&co);
  co.tls.context.ca_path = dir;
  h_side *c = serve_and_connect(&t, &so, &co);
  cr_assert_eq(portls_socket_authorized(c->sock), 0);
  h_finish(&t);
}

Test(file_errors, a_missing_file_names_option_and_path) {
  const char *missing = "/nonexistent/portls/x.pem";
  portls_context_options o;
  const char *opts[] = {"key_file", "cert_file", "ca_file", "ca_path", "crl_file", "pfx_file"};
  for (size_t i = 0; i < 6; i++) {
    portls_context_options_init(&o);
    const char **field[] = {&o.key_file, &o.cert_file, &o.ca_file,
                            &o.ca_path,  &o.crl_file,  &o.pfx_file};
    *field[i] = missing;
    if (i == 0) o.cert_file = cert_path("server-rsa-chain.crt");
    if (i == 4 && !portls_has_capability(PORTLS_CAP_CRL)) continue;
    if (i == 5 && !portls_has_capability(PORTLS_CAP_PFX)) continue;
    expect_error(&o, PORTLS_ENOENT, opts[i], missing, NULL);
  }
}

Test(file_errors, a_garbage_file_names_option_and_path_with_one_code) {
  const char *garbage = temp_file("garbage.pem", "this is not a certificate\n");
  portls_context_options o;
  portls_context_options_init(&o);
  o.cert_file = garbage;
  o.key_file = cert_path("server-rsa.key");
  expect_error(&o, PORTLS_ECERT, "cert_file", garbage, "no PEM certificate found");

  portls_context_options_init(&o);
  o.key_file = garbage;
  o.cert_file = cert_path("server-rsa-chain.crt");
  expect_error(&o, PORTLS_EKEY, "key_file", garbage, "no PEM private key found");

  portls_context_options_init(&o);
  o.ca_file = garbage;
  expect_error(&o, PORTLS_ECERT, "ca_file", garbage, "no PEM certificate found");

  if (portls_has_capability(PORTLS_CAP_CRL)) {
    portls_context_options_init(&o);
    o.ca_file = cert_path("ca.crt");
    o.crl_file = garbage;
    expect_error(&o, PORTLS_ECRL, "crl_file", garbage, "no PEM CRL found");
  }
  if (portls_has_capability(PORTLS_CAP_PFX)) {
    portls_context_options_init(&o);
    o.pfx_file = garbage;
    expect_error(&o, PORTLS_EPFX, "pfx_file", garbage, "PKCS#12");
  }
}

Test(file_errors, a_damaged_certificate_names_the_file) {
  /* A PEM block whose DER is not a certificate. */
  const char *bad = temp_file("bad.pem", "-----BEGIN CERTIFICATE-----\nMAMCAQA=\n"
                                         "-----END CERTIFICATE-----\n");
  portls_context_options o;
  portls_context_options_init(&o);
  o.ca_file = bad;
  expect_error(&o, PORTLS_ECERT, "ca_file", bad, "does not parse");
}

Test(file_errors, a_key_that_is_not_the_certificates_names_both_files) {
  portls_context_options o;
  portls_context_options_init(&o);
  o.key_file = cert_path("mismatch.key");
  o.cert_file = cert_path("server-rsa-chain.crt");
  char path[512];
  snprintf(path, sizeof path, "%s", o.key_file);
  expect_error(&o, PORTLS_EKEY_MISMATCH, "key_file", path, o.cert_file);
}

Test(file_errors, a_wrong_pfx_passphrase_names_the_file) {
  h_need_cap(PORTLS_CAP_PFX);
  portls_context_options o;
  portls_context_options_init(&o);
  o.pfx_file = cert_path("server.pfx");
  o.passphrase = "not-the-passphrase";
  char path[512];
  snprintf(path, sizeof path, "%s", o.pfx_file);
  expect_error(&o, PORTLS_EBAD_PASSPHRASE, "pfx_file", path, NULL);
}

Test(file_errors, an_empty_ca_path_is_an_error) {
  char dir[] = "/tmp/portls-empty-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  portls_context_options o;
  portls_context_options_init(&o);
  o.ca_path = dir;
  expect_error(&o, PORTLS_ECERT, "ca_path", dir, "openssl rehash");
  rmdir(dir);
}

Test(root_certificates, the_system_roots_are_a_list_of_pem_that_parses) {
  const char *const *pems = NULL;
  size_t n = 0;
  portls_error err;
  int rc = portls_root_certificates(&pems, &n, &err);
  cr_assert_eq(rc, 0, "%s", err.message);
  cr_assert_gt(n, 10, "the system store holds more than a handful of roots (%zu)", n);
  for (size_t i = 0; i < n; i++) {
    cr_assert_eq(strncmp(pems[i], "-----BEGIN CERTIFICATE-----\n", 28), 0, "%.40s", pems[i]);
    size_t len = strlen(pems[i]);
    cr_assert(len > 25 && strcmp(pems[i] + len - 25, "-----END CERTIFICATE-----") == 0,
              "as Node's: ends with the END line (%zu)", i);
    portls_cert *c = NULL;
    cr_assert_eq(portls_cert_parse_pem(pems[i], strlen(pems[i]), &c, &err), 0, "root %zu: %s", i,
                 err.message);
    cr_assert_not_null(c->fingerprint256);
    portls_cert_free(c);
  }
  /* the same array every time */
  const char *const *again = NULL;
  size_t n2 = 0;
  cr_assert_eq(portls_root_certificates(&again, &n2, NULL), 0);
  cr_assert_eq(again, pems);
  cr_assert_eq(n2, n);
}

Test(root_certificates, ssl_cert_file_names_the_bundle) {
  setenv("SSL_CERT_FILE", cert_path("ca-chain.crt"), 1);
  const char *const *pems = NULL;
  size_t n = 0;
  portls_error err;
  cr_assert_eq(portls_root_certificates(&pems, &n, &err), 0, "%s", err.message);
  cr_assert_eq(n, 2, "ca-chain.crt holds the intermediate and the root (%zu)", n);
}

/* A client without `ca` whose system store does not hold the test CA. */
static h_side *connect_with_system_roots(h_test *t) {
  portls_server_options so;
  portls_server_options_init(&so);
  so.tls.context.key_file = cert_path("server-rsa.key");
  so.tls.context.cert_file = cert_path("server-rsa-chain.crt");
  portls_connect_options co;
  portls_connect_options_init(&co);
  return serve_and_connect(t, &so, &co);
}

Test(extra_ca, the_test_ca_as_extra_ca_verifies_without_ca) {
  setenv("SSL_CERT_FILE", cert_path("unknown-ca.crt"), 1); /* a store without our root */
  h_test t;
  h_init(&t);
  h_side *before = connect_with_system_roots(&t);
  cr_assert_eq(portls_socket_authorized(before->sock), 0,
               "the system store alone does not trust it");
  portls_error err;
  cr_assert_eq(portls_set_extra_ca_certs(h_file(&t, "ca.crt"), 1, &err), 0, "%s", err.message);
  portls_connect_options co;
  portls_connect_options_init(&co);
  co.host = "127.0.0.1";
  co.tls.servername = "localhost";
  co.tls.reject_unauthorized = 1;
  h_side *c = h_connect_tls(&t, &co);
  h_run_until(&t, c->count[H_SECURE] > 0 || c->closed);
  cr_assert_eq(c->count[H_SECURE], 1, "%s %s", c->log, c->err.message);
  cr_assert_eq(portls_socket_authorized(c->sock), 1);
  h_finish(&t);
}

Test(extra_ca, the_system_roots_stay_trusted_with_extra_cas) {
  /* The "system" store holds the test CA; the extra CA is another one. */
  setenv("SSL_CERT_FILE", cert_path("ca.crt"), 1);
  h_test t;
  h_init(&t);
  portls_error err;
  cr_assert_eq(portls_set_extra_ca_certs(h_file(&t, "unknown-ca.crt"), 1, &err), 0, "%s",
               err.message);
  h_side *c = connect_with_system_roots(&t);
  cr_assert_eq(portls_socket_authorized(c->sock), 1, "%s",
               portls_err_name(portls_socket_authorization_error(c->sock)));
  h_finish(&t);
}

Test(extra_ca, the_environment_variable_names_a_file) {
  setenv("SSL_CERT_FILE", cert_path("unknown-ca.crt"), 1);
  setenv("PORTLS_EXTRA_CA_CERTS", cert_path("ca.crt"), 1);
  h_test t;
  h_init(&t);
  h_side *c = connect_with_system_roots(&t);
  cr_assert_eq(portls_socket_authorized(c->sock), 1, "%s",
               portls_err_name(portls_socket_authorization_error(c->sock)));
  h_finish(&t);
}

Test(extra_ca, an_unreadable_variable_file_fails_contexts_without_ca) {
  setenv("PORTLS_EXTRA_CA_CERTS", "/nonexistent/extra.pem", 1);
  portls_context_options o;
  portls_context_options_init(&o);
  expect_error(&o, PORTLS_ENOENT, "PORTLS_EXTRA_CA_CERTS", "/nonexistent/extra.pem", NULL);
  /* with `ca` the extra CAs do not apply */
  o.ca_file = cert_path("ca.crt");
  portls_error err;
  cr_assert_eq(try_context(&o, &err), 0, "%s", err.message);
}

Test(extra_ca, bad_extra_cas_are_refused) {
  portls_buf junk = {"junk", 4};
  portls_error err;
  cr_assert_eq(portls_set_extra_ca_certs(&junk, 1, &err), PORTLS_ECERT);
  cr_assert(h_contains(err.message, "extra_ca"), "%s", err.message);
  cr_assert_eq(portls_set_extra_ca_certs(NULL, 1, &err), PORTLS_EINVAL);
  cr_assert_eq(portls_set_extra_ca_certs(NULL, 0, &err), 0, "clearing is allowed");
}

/* ---- allocation failures while reading files ---- */

typedef struct counting {
  long calls, fail_at, live;
  int failed;
} counting;
static counting g_count;
typedef union hdr {
  size_t size;
  max_align_t align;
} hdr;
static void *c_malloc(void *ctx, size_t size) {
  counting *c = ctx;
  if (++c->calls == c->fail_at) {
    c->failed = 1;
    return NULL;
  }
  hdr *h = malloc(sizeof *h + size);
  if (h == NULL) return NULL;
  c->live++;
  return h + 1;
}
static void c_free(void *ctx, void *p) {
  counting *c = ctx;
  if (p == NULL) return;
  c->live--;
  free((hdr *)p - 1);
}
static void *c_realloc(void *ctx, void *p, size_t size) {
  counting *c = ctx;
  if (p == NULL) return c_malloc(ctx, size);
  if (++c->calls == c->fail_at) {
    c->failed = 1;
    return NULL;
  }
  hdr *h = realloc((hdr *)p - 1, sizeof *h + size);
  return h == NULL ? NULL : h + 1;
}

Test(file_alloc, every_failing_allocation_is_an_error_and_leaks_nothing, .timeout = 300) {
  static const char *const names[] = {"ca.crt", "unknown-ca.crt"};
  portls_context_options o;
  portls_context_options_init(&o);
  o.key_file = cert_path("server-rsa.key");
  o.cert_file = cert_path("server-rsa-chain.crt");
  o.ca_file = cert_path("ca.crt");
  o.ca_path = hashed_dir(names, 2);
  portls_error err;
  cr_assert_eq(try_context(&o, &err), 0, "%s", err.message); /* warm up with libc's allocator */
  portls_allocator a = {c_malloc, c_realloc, c_free, &g_count};
  memset(&g_count, 0, sizeof g_count);
  cr_assert_eq(portls_set_allocator(&a), 0);
  cr_assert_eq(try_context(&o, &err), 0, "%s", err.message);
  long total = g_count.calls;
  cr_assert_eq(g_count.live, 0, "a clean run leaked %ld allocations", g_count.live);
  cr_assert_gt(total, 5);
  for (long n = 1; n <= total; n++) {
    memset(&g_count, 0, sizeof g_count);
    g_count.fail_at = n;
    int rc = try_context(&o, &err);
    cr_assert(g_count.failed, "allocation %ld never happened", n);
    cr_assert_eq(g_count.live, 0, "failing allocation %ld of %ld leaked %ld blocks (rc %s: %s)", n,
                 total, g_count.live, portls_err_name(rc), err.message);
  }
}
