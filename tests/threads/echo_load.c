/* echo-load-<backend>: many TLS clients against an echo server (the test of
 * `serve --workers`, tests/interop/workers.sh). Each client sends its own
 * bytes, ends, and must get exactly those bytes back before the server's end.
 *
 *   echo-load-<backend> --port N [--clients 1000] [--concurrency 50]
 *                       [--bytes 2000] [--ca FILE]
 *
 * Prints {"clients":N,"echoed":N,"bytes":B,"failed":F} and exits 0 when every
 * client got every byte back, 1 otherwise (the first failures are printed).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portls/portls.h"

typedef struct client {
  int index;
  uint8_t *sent;
  size_t got;
  int mismatch, secure, errored;
} client;

static portls_loop *loop;
static portls_context *ctx;
static uint16_t port;
static size_t nbytes = 2000;
static int total = 1000, concurrency = 50, started, done, echoed, failed;
static uint64_t bytes_back;

static void start_next(void);

static void fill(uint8_t *p, size_t n, int index) {
  uint32_t x = 2166136261u ^ (uint32_t)index;
  for (size_t i = 0; i < n; i++) {
    x = x * 16777619u + 0x9e3779b9u;
    p[i] = (uint8_t)(x >> 24);
  }
}

static void on_secure(portls_socket *s, void *u) {
  client *c = u;
  c->secure = 1;
  portls_socket_end(s, c->sent, nbytes);
}
static void on_data(portls_socket *s, const void *d, size_t n, void *u) {
  (void)s;
  client *c = u;
  if (c->got + n > nbytes || memcmp(c->sent + c->got, d, n) != 0) c->mismatch = 1;
  c->got += n;
}
static void on_error(portls_socket *s, const portls_error *err, void *u) {
  (void)s;
  client *c = u;
  c->errored = 1;
  if (failed < 5)
    fprintf(stderr, "client %d: %s %s\n", c->index, portls_err_name(err->code), err->message);
}
static void on_close(portls_socket *s, int had_error, void *u) {
  (void)s, (void)had_error;
  client *c = u;
  if (c->secure && !c->errored && !c->mismatch && c->got == nbytes) {
    echoed++;
    bytes_back += c->got;
  } else {
    if (failed < 5 && !c->errored)
      fprintf(stderr, "client %d: %zu of %zu bytes back%s\n", c->index, c->got, nbytes,
              c->mismatch ? ", not the bytes sent" : "");
    failed++;
  }
  free(c->sent);
  free(c);
  done++;
  start_next();
}

static void start_next(void) {
  while (started < total && started - done < concurrency) {
    static const portls_socket_events ev = {
        .secure_connect = on_secure, .data = on_data, .error = on_error, .close = on_close};
    client *c = calloc(1, sizeof *c);
    if (c == NULL || (c->sent = malloc(nbytes)) == NULL) {
      fprintf(stderr, "out of memory\n");
      exit(1);
    }
    c->index = started++;
    fill(c->sent, nbytes, c->index);
    portls_connect_options co;
    portls_connect_options_init(&co);
    co.host = "127.0.0.1";
    co.port = port;
    co.tls.secure_context = ctx;
    co.events = &ev;
    co.user = c;
    portls_socket *s;
    portls_error err = {0};
    int rc = portls_tls_connect(loop, &co, &s, &err);
    if (rc < 0) {
      fprintf(stderr, "connect: %s %s\n", portls_err_name(rc), err.message);
      exit(1);
    }
  }
}

static long arg_num(const char *name, const char *v, long min, long max) {
  char *end;
  long n = v != NULL ? strtol(v, &end, 10) : 0;
  if (v == NULL || *end != '\0' || n < min || n > max) {
    fprintf(stderr, "%s: expected a number from %ld to %ld\n", name, min, max);
    exit(2);
  }
  return n;
}

int main(int argc, char **argv) {
  const char *ca_path = NULL;
  for (int i = 1; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(argv[i], "--port") == 0)
      port = (uint16_t)arg_num("--port", v, 1, 65535);
    else if (strcmp(argv[i], "--clients") == 0)
      total = (int)arg_num("--clients", v, 1, 10000000);
    else if (strcmp(argv[i], "--concurrency") == 0)
      concurrency = (int)arg_num("--concurrency", v, 1, 100000);
    else if (strcmp(argv[i], "--bytes") == 0)
      nbytes = (size_t)arg_num("--bytes", v, 1, 64 * 1024 * 1024);
    else if (strcmp(argv[i], "--ca") == 0 && v != NULL)
      ca_path = v;
    else {
      fprintf(stderr, "usage: %s --port N [--clients N] [--concurrency N] [--bytes N] [--ca F]\n",
              argv[0]);
      return 2;
    }
    i++;
  }
  if (port == 0) {
    fprintf(stderr, "--port is required\n");
    return 2;
  }
  char path[1024];
  if (ca_path == NULL) {
    const char *dir = getenv("PORTLS_CERTS");
    snprintf(path, sizeof path, "%s/ca.crt", dir != NULL ? dir : "certs");
    ca_path = path;
  }
  portls_buf ca;
  portls_error err = {0};
  int rc = portls_read_file(ca_path, &ca, &err);
  if (rc < 0) {
    fprintf(stderr, "--ca: %s\n", err.message);
    return 2;
  }
  portls_context_options o;
  portls_context_options_init(&o);
  o.ca = &ca, o.ca_count = 1;
  if ((rc = portls_context_new(&o, &ctx, &err)) < 0 || (rc = portls_loop_new(&loop)) < 0) {
    fprintf(stderr, "%s %s\n", portls_err_name(rc), err.message);
    return 1;
  }
  portls_free((void *)ca.base);
  start_next();
  rc = portls_loop_run(loop);
  printf("{\"clients\":%d,\"echoed\":%d,\"bytes\":%llu,\"failed\":%d}\n", total, echoed,
         (unsigned long long)bytes_back, failed);
  portls_context_free(ctx);
  (void)portls_loop_free(loop);
  return rc == 0 && echoed == total ? 0 : 1;
}
