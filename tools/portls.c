/* portls command-line tool: `portls-<backend> COMMAND [options]`.
 *
 * The contract is docs/cli.md. This file holds main() and the commands that
 * need no network; serve.c and connect.c hold the other two. Only the public
 * API is used.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

void cli_usage(FILE *file) {
  const char *b = portls_backend_name();
  fprintf(file,
          "usage: portls-%s COMMAND [options]\n"
          "One JSON object per line on stdout; exit 2 on a bad option or file.\n\n"
          "  serve [options]                a TLS server; prints events until SIGINT/SIGTERM\n",
          b);
  cli_print_options(file, CLI_SERVE);
  fprintf(file, "  connect [options]              a TLS client; exits 0 after a clean close\n");
  cli_print_options(file, CLI_CONNECT);
  fprintf(file,
          "  caps                           the backend's capabilities\n"
          "  ciphers                        tls.getCiphers()\n"
          "  x509 FILE                      the first certificate of a PEM file\n"
          "  check-identity HOST FILE       checkServerIdentity(HOST, first cert of FILE)\n"
          "  cipher-list STRING             the suites an OpenSSL-syntax cipher string selects\n"
          "  --help                         this text\n");
}

/* The simple commands take no options; --help is still honoured. */
static int want_args(const char *cmd, int argc, char **argv, int n, const char *what) {
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      cli_usage(stdout);
      return -1;
    }
  }
  if (argc != n) {
    ev_errorf(PORTLS_EINVAL, "usage: %s%s%s", cmd, n ? " " : "", what);
    return CLI_EXIT_USAGE;
  }
  return 0;
}

static int cmd_caps(int argc, char **argv) {
  int rc = want_args("caps", argc, argv, 0, "");
  if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
  jw w;
  jw_init(&w);
  jw_begin_object(&w);
  jw_kstring(&w, "backend", portls_backend_name());
  jw_kstring(&w, "version", portls_backend_version());
  jw_kstring(&w, "portlsVersion", portls_version_string());
  jw_kstring(&w, "platform", portls_platform_name());
  jw_key(&w, "capabilities");
  jw_begin_object(&w);
  for (int cap = 0; cap < PORTLS_CAP_COUNT_; cap++) {
    const char *name = portls_capability_name((portls_cap)cap);
    if (name) jw_kbool(&w, name, portls_has_capability((portls_cap)cap));
  }
  jw_end_object(&w);
  jw_end_object(&w);
  jw_print(&w);
  jw_free(&w);
  return CLI_EXIT_OK;
}

static void print_names(const char *const *names, size_t count) {
  jw w;
  jw_init(&w);
  jw_begin_array(&w);
  for (size_t i = 0; i < count; i++) jw_string(&w, names[i]);
  jw_end_array(&w);
  jw_print(&w);
  jw_free(&w);
}

static int cmd_ciphers(int argc, char **argv) {
  int rc = want_args("ciphers", argc, argv, 0, "");
  if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
  const char *const *names = NULL;
  size_t count = portls_get_ciphers(&names);
  print_names(names, count);
  return CLI_EXIT_OK;
}

/* The first certificate of a PEM file; prints the error line on failure. */
static int load_cert(const char *path, portls_cert **out) {
  portls_error err = {0, ""};
  portls_buf pem;
  int rc = portls_read_file(path, &pem, &err);
  if (rc < 0) {
    ev_errorf(err.code ? err.code : rc, "cannot read '%s': %s", path,
              err.message[0] ? err.message : portls_strerror(rc));
    return CLI_EXIT_USAGE;
  }
  rc = portls_cert_parse_pem(pem.base, pem.len, out, &err);
  portls_free((void *)pem.base);
  if (rc < 0) {
    ev_errorf(err.code ? err.code : rc, "%s: %s", path,
              err.message[0] ? err.message : portls_strerror(rc));
    return CLI_EXIT_USAGE;
  }
  return 0;
}

static int cmd_x509(int argc, char **argv) {
  int rc = want_args("x509", argc, argv, 1, "FILE");
  if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
  portls_cert *cert = NULL;
  rc = load_cert(argv[0], &cert);
  if (rc) return rc;
  jw w;
  jw_init(&w);
  jw_cert(&w, cert);
  jw_print(&w);
  jw_free(&w);
  portls_cert_free(cert);
  return CLI_EXIT_OK;
}

static int cmd_check_identity(int argc, char **argv) {
  int rc = want_args("check-identity", argc, argv, 2, "HOST FILE");
  if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
  portls_cert *cert = NULL;
  rc = load_cert(argv[1], &cert);
  if (rc) return rc;
  portls_error err = {0, ""};
  rc = portls_check_server_identity(argv[0], cert, &err);
  portls_cert_free(cert);
  jw w;
  jw_init(&w);
  jw_begin_object(&w);
  jw_kbool(&w, "ok", rc == 0);
  if (rc != 0) {
    jw_kstring(&w, "code", portls_err_name(err.code ? err.code : rc));
    jw_kstring(&w, "reason", err.message[0] ? err.message : portls_strerror(rc));
  }
  jw_end_object(&w);
  jw_print(&w);
  jw_free(&w);
  return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int cmd_cipher_list(int argc, char **argv) {
  int rc = want_args("cipher-list", argc, argv, 1, "STRING");
  if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
  const char **names = NULL;
  size_t count = 0;
  portls_error err;
  if (portls_cipher_list(argv[0], &names, &count, &err) < 0) {
    ev_error(err.code, err.message);
    return CLI_EXIT_USAGE;
  }
  print_names(names, count);
  portls_free(names);
  return CLI_EXIT_OK;
}

static const struct {
  const char *name;
  int (*run)(int argc, char **argv);
} commands[] = {
    {"serve", cmd_serve},
    {"connect", cmd_connect},
    {"caps", cmd_caps},
    {"ciphers", cmd_ciphers},
    {"x509", cmd_x509},
    {"check-identity", cmd_check_identity},
    {"cipher-list", cmd_cipher_list},
};

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) {
    cli_usage(stderr);
    return CLI_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    cli_usage(stdout);
    return CLI_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    if (strcmp(cmd, commands[i].name) == 0) return commands[i].run(argc - 2, argv + 2);
  ev_errorf(PORTLS_EINVAL, "unknown command '%s' (try --help)", cmd);
  return CLI_EXIT_USAGE;
}
