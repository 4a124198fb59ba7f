/* What keylog and enableTrace cost: N full handshakes between two SecurePairs
 * in one process, with nobody listening ("off"), with a keylog listener
 * ("keylog") or with enableTrace ("trace"). scripts/observe-cost.sh runs it
 * under callgrind and reads the instruction counts.
 *
 *   handshakes N off|keylog|trace CERTS_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portls/portls.h"

typedef struct run {
  portls_pair *client, *server;
  unsigned lines;
} run;

#if !defined(OBSERVE_BASELINE) /* built against a library from before keylog and trace */
static void on_keylog(portls_socket *s, const void *line, size_t len, void *u) {
  (void)s, (void)line, (void)len;
  ((run *)u)->lines++;
}
static void on_trace(portls_socket *s, const char *line, void *u) {
  (void)s, (void)line;
  ((run *)u)->lines++;
}
#endif
static void on_secure(portls_pair *p, void *u) {
  (void)u;
  portls_socket_end(portls_pair_cleartext(p), NULL, 0);
}
static void on_data(portls_pair *p, const void *d, size_t n, void *u) {
  run *r = u;
  portls_pair *peer = p == r->client ? r->server : r->client;
  if (peer != NULL) portls_pair_encrypted_write(peer, d, n);
}
static void on_end(portls_pair *p, void *u) {
  run *r = u;
  portls_pair *peer = p == r->client ? r->server : r->client;
  if (peer != NULL) portls_pair_encrypted_end(peer);
}
static void on_close(portls_pair *p, void *u) {
  run *r = u;
  if (p == r->client) r->client = NULL;
  if (p == r->server) r->server = NULL;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: handshakes N off|keylog|trace CERTS_DIR\n");
    return 2;
  }
  int n = atoi(argv[1]);
  const char *mode = argv[2];
  char path[4096];
  portls_buf key, cert, ca;
  snprintf(path, sizeof path, "%s/server-rsa.key", argv[3]);
  if (portls_read_file(path, &key, NULL) < 0) return 1;
  snprintf(path, sizeof path, "%s/server-rsa-chain.crt", argv[3]);
  if (portls_read_file(path, &cert, NULL) < 0) return 1;
  snprintf(path, sizeof path, "%s/ca.crt", argv[3]);
  if (portls_read_file(path, &ca, NULL) < 0) return 1;

  portls_context_options sc, cc;
  portls_context_options_init(&sc);
  sc.key = &key, sc.key_count = 1, sc.cert = &cert, sc.cert_count = 1;
  portls_context_options_init(&cc);
  cc.ca = &ca, cc.ca_count = 1;
  portls_context *sctx, *cctx;
  portls_error err;
  if (portls_context_new(&sc, &sctx, &err) < 0 || portls_context_new(&cc, &cctx, &err) < 0) {
    fprintf(stderr, "%s\n", err.message);
    return 1;
  }
  portls_loop *loop;
  if (portls_loop_new(&loop) < 0) return 1;
  portls_socket_events ev = {0};
#if !defined(OBSERVE_BASELINE)
  if (strcmp(mode, "keylog") == 0) ev.keylog = on_keylog;
#endif
  portls_pair_events pev = {
      .secure = on_secure, .encrypted_data = on_data, .encrypted_end = on_end, .close = on_close};
  unsigned lines = 0;
  for (int i = 0; i < n; i++) {
    run r = {0};
    portls_tls_socket_options so, co;
    portls_tls_socket_options_init(&so);
    so.is_server = 1;
    so.tls.secure_context = sctx;
    so.events = &ev;
    so.user = &r;
    portls_tls_socket_options_init(&co);
    co.tls.secure_context = cctx;
    co.tls.servername = "localhost";
    co.events = &ev;
    co.user = &r;
#if !defined(OBSERVE_BASELINE)
    if (strcmp(mode, "trace") == 0) {
      so.tls.enable_trace = co.tls.enable_trace = 1;
      so.tls.trace = co.tls.trace = on_trace;
      so.tls.trace_user = co.tls.trace_user = &r;
    }
#endif
    if (portls_pair_new(loop, &so, &pev, &r, &r.server, &err) < 0 ||
        portls_pair_new(loop, &co, &pev, &r, &r.client, &err) < 0) {
      fprintf(stderr, "%s\n", err.message);
      return 1;
    }
    while (r.client != NULL || r.server != NULL) portls_loop_run_once(loop, 1);
    lines += r.lines;
  }
  portls_context_free(sctx);
  portls_context_free(cctx);
  portls_loop_free(loop);
  portls_free((void *)key.base);
  portls_free((void *)cert.base);
  portls_free((void *)ca.base);
  printf("%d handshakes, mode %s, %u lines\n", n, mode, lines);
  return 0;
}
