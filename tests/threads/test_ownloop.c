/* portls inside the application's own epoll loop (portls_loop_backend_fd()
 * and portls_loop_backend_timeout()): a TLS echo server and its clients on
 * one portls loop that is never run blocking; the application waits in its
 * own epoll_wait() on the loop's descriptor and an eventfd of its own, with
 * the timeout portls asks for, and runs portls_loop_run_once(loop, 0) when
 * it wakes. Every byte must come back, the application's own descriptor must
 * be served in the same loop, and no wait may outlast what portls asked for
 * (a watchdog fails a hang: a descriptor that is not readable when portls has
 * work would block the application for ever).
 *
 * Linux only (epoll). Labelled `threads`; the test command runs it on both
 * platforms (libuv's own epoll descriptor, and the posix platform's mirror).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "portls/portls.h"

static void fail(const char *what, int rc, const portls_error *err) {
  fprintf(stderr, "FAIL: %s: %s %s\n", what, rc < 0 ? portls_err_name(rc) : "",
          err != NULL ? err->message : "");
  exit(1);
}
#define CHECK(cond, what)                                                                          \
  do {                                                                                             \
    if (!(cond)) fail(what, 0, NULL);                                                              \
  } while (0)

#define NCLIENTS 8
#define PAYLOAD 40000 /* several records each way */

static portls_loop *loop;
static int server_closed;

typedef struct client {
  uint8_t sent[PAYLOAD];
  size_t got;
  int mismatch, closed, secure;
} client;
static client clients[NCLIENTS];

static void srv_data(portls_socket *s, const void *d, size_t n, void *u) {
  (void)u;
  portls_socket_write(s, d, n);
}
static void srv_end(portls_socket *s, void *u) {
  (void)u;
  portls_socket_end(s, NULL, 0);
}
static void srv_secure(portls_server *srv, portls_socket *s, void *u) {
  (void)srv, (void)u;
  static const portls_socket_events ev = {.data = srv_data, .end = srv_end};
  portls_socket_set_events(s, &ev, NULL);
}
static void srv_close(portls_server *srv, void *u) {
  (void)srv, (void)u;
  server_closed = 1;
}

static void cl_secure(portls_socket *s, void *u) {
  client *c = u;
  c->secure = 1;
  portls_socket_end(s, c->sent, sizeof c->sent);
}
static void cl_data(portls_socket *s, const void *d, size_t n, void *u) {
  (void)s;
  client *c = u;
  if (c->got + n > sizeof c->sent || memcmp(c->sent + c->got, d, n) != 0) c->mismatch = 1;
  c->got += n;
}
static void cl_error(portls_socket *s, const portls_error *err, void *u) {
  (void)s, (void)u;
  fail("client error", err->code, err);
}
static void cl_close(portls_socket *s, int had_error, void *u) {
  (void)s, (void)had_error;
  ((client *)u)->closed = 1;
}

static portls_buf read_cert(const char *name) {
  const char *dir = getenv("PORTLS_CERTS");
  CHECK(dir != NULL, "PORTLS_CERTS is not set (run through ctest)");
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  portls_buf b;
  portls_error err = {0};
  int rc = portls_read_file(path, &b, &err);
  if (rc < 0) fail(path, rc, &err);
  return b;
}

static int all_closed(void) {
  for (int i = 0; i < NCLIENTS; i++)
    if (!clients[i].closed) return 0;
  return 1;
}

int main(void) {
  alarm(60); /* a wait that never ends is the failure this test looks for */
  int rc = portls_loop_new(&loop);
  if (rc < 0) fail("loop_new", rc, NULL);
  int bfd = portls_loop_backend_fd(loop);
  if (bfd == PORTLS_ENOTSUP) {
    printf("skipped: platform %s has no backend descriptor\n", portls_platform_name());
    return 77;
  }
  CHECK(bfd >= 0, "portls_loop_backend_fd");
  CHECK(portls_loop_backend_fd(NULL) == PORTLS_EINVAL, "backend_fd(NULL)");

  portls_buf key = read_cert("server-rsa.key"), cert = read_cert("server-rsa-chain.crt"),
             ca = read_cert("ca.crt");
  portls_server_options so;
  portls_server_options_init(&so);
  so.tls.context.key = &key, so.tls.context.key_count = 1;
  so.tls.context.cert = &cert, so.tls.context.cert_count = 1;
  static const portls_server_events sev = {.secure_connection = srv_secure, .close = srv_close};
  so.events = &sev;
  portls_server *srv;
  portls_error err = {0};
  if ((rc = portls_tls_create_server(loop, &so, &srv, &err)) < 0) fail("create_server", rc, &err);
  if ((rc = portls_server_listen(srv, "127.0.0.1", 0, 0, &err)) < 0) fail("listen", rc, &err);
  portls_address addr;
  CHECK(portls_server_address(srv, &addr) == 0, "address");

  static const portls_socket_events cev = {
      .secure_connect = cl_secure, .data = cl_data, .error = cl_error, .close = cl_close};
  for (int i = 0; i < NCLIENTS; i++) {
    for (size_t k = 0; k < PAYLOAD; k++) clients[i].sent[k] = (uint8_t)(k * 31 + i * 7 + k / 251);
    portls_connect_options co;
    portls_connect_options_init(&co);
    co.host = "127.0.0.1";
    co.port = addr.port;
    co.tls.context.ca = &ca, co.tls.context.ca_count = 1;
    co.events = &cev;
    co.user = &clients[i];
    portls_socket *s;
    if ((rc = portls_tls_connect(loop, &co, &s, &err)) < 0) fail("connect", rc, &err);
  }

  /* The application's loop: portls's descriptor and one of its own. */
  int ep = epoll_create1(EPOLL_CLOEXEC), own = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  CHECK(ep >= 0 && own >= 0, "epoll/eventfd");
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = bfd};
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, bfd, &ev) == 0, "add the backend fd");
  ev.data.fd = own;
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, own, &ev) == 0, "add the app's fd");
  uint64_t one = 1;
  CHECK(write(own, &one, sizeof one) == sizeof one, "eventfd write");

  int own_seen = 0, wakeups = 0, closing = 0;
  for (;;) {
    if (all_closed() && !closing) {
      closing = 1;
      portls_server_close(srv);
    }
    if (closing && server_closed) break;
    int timeout = portls_loop_backend_timeout(loop);
    CHECK(timeout >= -1, "backend_timeout");
    struct epoll_event got[4];
    int n = epoll_wait(ep, got, 4, timeout);
    CHECK(n >= 0 || errno == EINTR, "epoll_wait");
    wakeups++;
    for (int i = 0; i < n; i++)
      if (got[i].data.fd == own) {
        uint64_t v;
        CHECK(read(own, &v, sizeof v) == sizeof v, "eventfd read");
        own_seen++;
      }
    /* Readable or timed out: portls runs, never blocking. */
    portls_loop_run_once(loop, 0);
  }
  for (int i = 0; i < NCLIENTS; i++) {
    CHECK(clients[i].secure, "every client's handshake");
    CHECK(!clients[i].mismatch && clients[i].got == PAYLOAD, "every byte came back, in order");
  }
  CHECK(own_seen == 1, "the application's own descriptor was served in the same loop");
  /* Wakeups, not spins: portls asks to be run again only when it has work. */
  CHECK(wakeups < 20000, "the loop did not spin");
  close(ep);
  close(own);
  CHECK(portls_loop_free(loop) == 0, "loop_free");
  portls_free((void *)key.base);
  portls_free((void *)cert.base);
  portls_free((void *)ca.base);
  printf("own epoll loop on %s: %d clients x %d bytes echoed in %d wakeups\n",
         portls_platform_name(), NCLIENTS, PAYLOAD, wakeups);
  return 0;
}
