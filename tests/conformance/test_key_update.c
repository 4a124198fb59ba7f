/* A TLS 1.3 KeyUpdate on a server connection at rest.
 *
 * With the capability idle-release, a quiet TLS 1.3 server connection has
 * given its library session back and runs on portls's own record layer
 * (backends/common/ossl_lean.c). A client's KeyUpdate switches that layer to
 * the next traffic secret, whose records count from sequence number 0 again,
 * and, when the client asks for it, the server's answer switches its own
 * direction too. portls's client API has no KeyUpdate, so the client here is
 * the OpenSSL library the backend runs on, driven directly over a
 * non-blocking loopback socket while the loop serves the server. Elsewhere the
 * test skips: no other backend rests. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/harness.h"

/* The few OpenSSL 3 functions the client needs, found at run time: the
 * conformance test is compiled once for every backend and includes no
 * library's headers. Values from <openssl/ssl.h>. */
enum {
  KU_SSL_CTRL_SET_MIN_PROTO_VERSION = 123,
  KU_TLS1_3_VERSION = 0x0304,
  KU_SSL_ERROR_WANT_READ = 2,
  KU_SSL_ERROR_WANT_WRITE = 3,
  KU_NOT_REQUESTED = 0,
  KU_REQUESTED = 1
};

typedef struct ku_ossl {
  void *lib;
  const void *(*client_method)(void);
  void *(*ctx_new)(const void *method);
  long (*ctx_ctrl)(void *ctx, int cmd, long larg, void *parg);
  void (*ctx_free)(void *ctx);
  void *(*ssl_new)(void *ctx);
  int (*set_fd)(void *ssl, int fd);
  int (*do_connect)(void *ssl);
  int (*do_write)(void *ssl, const void *buf, int num);
  int (*do_read)(void *ssl, void *buf, int num);
  int (*get_error)(const void *ssl, int ret);
  int (*key_update)(void *ssl, int type);
  const char *(*get_version)(const void *ssl);
  int (*do_shutdown)(void *ssl);
  void (*ssl_free)(void *ssl);
} ku_ossl;

static void ku_sym(ku_ossl *o, void *fp, size_t size, const char *name) {
  void *p = dlsym(o->lib, name);
  cr_assert_not_null(p, "libssl.so.3 has no %s", name);
  memcpy(fp, &p, size); /* object pointer to function pointer, as POSIX allows */
}
#define KU_SYM(o, field, name) ku_sym((o), &(o)->field, sizeof((o)->field), (name))

static void ku_load(ku_ossl *o) {
  memset(o, 0, sizeof *o);
  /* The backend's own libssl: already loaded, so this is the same copy. */
  o->lib = dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL);
  cr_assert_not_null(o->lib, "backend %s has idle-release but no libssl.so.3 to load: %s",
                     portls_backend_name(), dlerror());
  KU_SYM(o, client_method, "TLS_client_method");
  KU_SYM(o, ctx_new, "SSL_CTX_new");
  KU_SYM(o, ctx_ctrl, "SSL_CTX_ctrl");
  KU_SYM(o, ctx_free, "SSL_CTX_free");
  KU_SYM(o, ssl_new, "SSL_new");
  KU_SYM(o, set_fd, "SSL_set_fd");
  KU_SYM(o, do_connect, "SSL_connect");
  KU_SYM(o, do_write, "SSL_write");
  KU_SYM(o, do_read, "SSL_read");
  KU_SYM(o, get_error, "SSL_get_error");
  KU_SYM(o, key_update, "SSL_key_update");
  KU_SYM(o, get_version, "SSL_get_version");
  KU_SYM(o, do_shutdown, "SSL_shutdown");
  KU_SYM(o, ssl_free, "SSL_free");
}

/* The server echoes what it gets. */
static void ku_echo(h_side *s, h_event ev) {
  size_t *echoed = s->t->user;
  if (ev != H_DATA) return;
  int rc = portls_socket_write(s->sock, s->rx + *echoed, s->rx_len - *echoed);
  cr_assert_geq(rc, 0, "server write: %s", portls_err_name(rc));
  *echoed = s->rx_len;
}

/* A call that may want the network: the loop runs (the server) until the
 * call gets through. */
static int ku_retry(h_test *t, const ku_ossl *o, void *ssl, int rc, const char *what) {
  if (rc > 0) return 1;
  int e = o->get_error(ssl, rc);
  cr_assert(e == KU_SSL_ERROR_WANT_READ || e == KU_SSL_ERROR_WANT_WRITE,
            "client %s failed (SSL_get_error %d); server socket: %s", what, e,
            t->nconns > 0 ? t->conn[0].log : "(none)");
  h_wait(t, 2);
  return 0;
}

/* A message to the server and its echo back, through the record layer of
 * whatever state the connection is in. */
static void ku_round(h_test *t, const ku_ossl *o, void *ssl, const char *label) {
  char msg[128], back[128];
  int n = snprintf(msg, sizeof msg, "%s: 0123456789abcdefghijklmnopqrstuvwxyz", label);
  size_t rx_before = t->conn[0].rx_len;
  while (!ku_retry(t, o, ssl, o->do_write(ssl, msg, n), "write")) {}
  int got = 0;
  while (got < n) {
    int rc = o->do_read(ssl, back + got, n - got);
    if (ku_retry(t, o, ssl, rc, "read")) got += rc;
  }
  cr_assert_eq(memcmp(back, msg, (size_t)n), 0, "%s: the echo differs", label);
  cr_assert_eq(t->conn[0].rx_len, rx_before + (size_t)n, "%s: the server got %zu bytes", label,
               t->conn[0].rx_len - rx_before);
  cr_assert_eq(memcmp(t->conn[0].rx + rx_before, msg, (size_t)n), 0,
               "%s: the server got other bytes", label);
  cr_assert_eq(t->conn[0].count[H_ERROR], 0, "%s: server socket: %s", label, t->conn[0].log);
}

Test(idle_connection, key_updates_on_a_resting_connection_keep_data_flowing_both_ways) {
  if (!portls_has_capability(PORTLS_CAP_IDLE_RELEASE))
    cr_skip_test("needs capability %s: no other backend has a connection rest",
                 portls_capability_name(PORTLS_CAP_IDLE_RELEASE));
  if (!portls_has_capability(PORTLS_CAP_TLS1_3))
    cr_skip_test("needs capability %s", portls_capability_name(PORTLS_CAP_TLS1_3));
  static ku_ossl o;
  ku_load(&o);

  h_test t;
  h_init(&t);
  static size_t echoed;
  echoed = 0;
  t.user = &echoed;
  t.srv.conn_hook = ku_echo;
  portls_server_options so;
  portls_server_options_init(&so);
  so.rest_min_connections = 1; /* every connection may rest */
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  uint16_t port = h_listen_tls(&t, &so);

  int fd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0, "connect: %s", strerror(errno));
  cr_assert_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);

  void *ctx = o.ctx_new(o.client_method());
  cr_assert_not_null(ctx);
  cr_assert_eq(o.ctx_ctrl(ctx, KU_SSL_CTRL_SET_MIN_PROTO_VERSION, KU_TLS1_3_VERSION, NULL), 1);
  void *ssl = o.ssl_new(ctx);
  cr_assert_not_null(ssl);
  cr_assert_eq(o.set_fd(ssl, fd), 1);
  while (!ku_retry(&t, &o, ssl, o.do_connect(ssl), "handshake")) {}
  cr_assert_str_eq(o.get_version(ssl), "TLSv1.3");
  h_run_until(&t, t.nconns == 1 && t.conn[0].count[H_SECURE] == 1);
  cr_assert_str_eq(portls_socket_get_protocol(t.conn[0].sock), "TLSv1.3");

  h_wait(&t, 1000); /* quiet for several rest sweeps (core/net/server.c), as in test_idle.c */
  ku_round(&t, &o, ssl, "at rest");
  /* Requested: the server's read secret moves on, and its write secret with its answer. */
  cr_assert_eq(o.key_update(ssl, KU_REQUESTED), 1);
  ku_round(&t, &o, ssl, "after one requested KeyUpdate");
  ku_round(&t, &o, ssl, "after one requested KeyUpdate, again");
  cr_assert_eq(o.key_update(ssl, KU_REQUESTED), 1);
  ku_round(&t, &o, ssl, "after two requested KeyUpdates");
  /* Not requested: the client's direction alone. */
  cr_assert_eq(o.key_update(ssl, KU_NOT_REQUESTED), 1);
  ku_round(&t, &o, ssl, "after a KeyUpdate not requested");
  cr_assert_eq(o.key_update(ssl, KU_NOT_REQUESTED), 1);
  ku_round(&t, &o, ssl, "after two KeyUpdates not requested");

  /* close_notify: the server sees a clean end. */
  (void)o.do_shutdown(ssl);
  h_run_until(&t, t.conn[0].count[H_END] == 1 || t.conn[0].closed);
  cr_assert_eq(t.conn[0].count[H_END], 1, "server socket: %s", t.conn[0].log);
  cr_assert_eq(t.conn[0].count[H_ERROR], 0, "server socket: %s", t.conn[0].log);
  o.ssl_free(ssl);
  o.ctx_free(ctx);
  close(fd);
  dlclose(o.lib);
  h_finish(&t);
}
