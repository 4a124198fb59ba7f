/* A server on several threads, and descriptors from the application, as a
 * user drives them: run under ThreadSanitizer by the test command (with
 * test_threads.c), under ASan otherwise.
 *
 *  - workers = 2, both ways of sharing the port (SO_REUSEPORT, handoff): TLS
 *    clients on the application's loop echo through the workers; the
 *    connection count is the sum of every worker's, seen from the
 *    application's thread; maxConnections holds for the group; close()
 *    closes every worker and 'close' comes once, on the application's loop,
 *    which then has nothing left.
 *  - workers on a Unix socket: handed over in turn; the file goes on close.
 *  - portls_server_listen_fd() with a socket the test made and bound itself,
 *    on a plain server and on a workers server; a descriptor that is not a
 *    listening socket is refused.
 *  - portls_server_adopt_fd() with a connection the test accepted itself, on
 *    a plain server and on a workers server; a listening socket is refused.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "portls/portls.h"

static void fail(const char *what, int rc, const portls_error *err) {
  fprintf(stderr, "FAIL: %s: %s %s\n", what, rc < 0 ? portls_err_name(rc) : "",
          err != NULL ? err->message : "");
  /* Other threads may still be inside the library: no exit handlers. */
  fflush(stdout);
  _exit(1);
}
#define CHECK(cond, what)                                                                          \
  do {                                                                                             \
    if (!(cond)) fail(what, 0, NULL);                                                              \
  } while (0)

static portls_context *srv_ctx, *cli_ctx;
static portls_loop *loop;

/* ---- the server side: echo; events counted from whichever thread ---- */

static atomic_int secure_count, close_count, listening_count;
#define MAX_SEEN 8
static portls_server *seen_srv[MAX_SEEN];
static atomic_int seen_count[MAX_SEEN];
static atomic_int seen_n;
static _Atomic(portls_server *) seen_slot[MAX_SEEN];

static void note_worker(portls_server *srv) {
  for (int i = 0; i < MAX_SEEN; i++) {
    portls_server *expected = NULL;
    if (atomic_load(&seen_slot[i]) == srv ||
        atomic_compare_exchange_strong(&seen_slot[i], &expected, srv)) {
      atomic_fetch_add(&seen_count[i], 1);
      return;
    }
  }
  (void)seen_srv;
  (void)seen_n;
}

static void srv_data(portls_socket *s, const void *data, size_t len, void *u) {
  (void)u;
  portls_socket_write(s, data, len);
}
static void srv_end(portls_socket *s, void *u) {
  (void)u;
  portls_socket_end(s, NULL, 0);
}
static void srv_secure(portls_server *srv, portls_socket *s, void *u) {
  CHECK(u == &secure_count, "the workers' events carry the server's user pointer");
  note_worker(srv);
  atomic_fetch_add(&secure_count, 1);
  static const portls_socket_events ev = {.data = srv_data, .end = srv_end};
  portls_socket_set_events(s, &ev, NULL);
}
static void srv_close(portls_server *srv, void *u) {
  (void)srv, (void)u;
  atomic_fetch_add(&close_count, 1);
}
static void srv_listening(portls_server *srv, void *u) {
  (void)srv, (void)u;
  atomic_fetch_add(&listening_count, 1);
}

static portls_server *make_server(unsigned workers, int mode) {
  static const portls_server_events ev = {
      .secure_connection = srv_secure, .close = srv_close, .listening = srv_listening};
  portls_server_options so;
  portls_server_options_init(&so);
  so.tls.secure_context = srv_ctx;
  so.events = &ev;
  so.user = &secure_count;
  so.workers = workers;
  so.workers_mode = mode;
  portls_server *srv;
  portls_error err = {0};
  int rc = portls_tls_create_server(loop, &so, &srv, &err);
  if (rc < 0) fail("tls_create_server", rc, &err);
  atomic_store(&secure_count, 0);
  atomic_store(&close_count, 0);
  atomic_store(&listening_count, 0);
  for (int i = 0; i < MAX_SEEN; i++) {
    atomic_store(&seen_slot[i], NULL);
    atomic_store(&seen_count[i], 0);
  }
  return srv;
}

static uint16_t server_port(portls_server *srv) {
  portls_address a;
  CHECK(portls_server_address(srv, &a) == 0, "server address");
  return a.port;
}

/* ---- clients, on the application's loop ---- */

typedef struct client {
  char sent[48];
  size_t sent_len, got_len;
  char got[48];
  int secure, echoed, closed, hold;
  portls_socket *sock;
} client;

static void cl_secure(portls_socket *s, void *u) {
  client *c = u;
  c->secure = 1;
  portls_socket_write(s, c->sent, c->sent_len);
}
static void cl_data(portls_socket *s, const void *data, size_t len, void *u) {
  client *c = u;
  CHECK(c->got_len + len <= sizeof c->got, "echo too long");
  memcpy(c->got + c->got_len, data, len);
  c->got_len += len;
  if (c->got_len == c->sent_len) {
    CHECK(memcmp(c->got, c->sent, c->sent_len) == 0, "echo: other bytes came back");
    c->echoed = 1;
    if (!c->hold) portls_socket_end(s, NULL, 0);
  }
}
static void cl_close(portls_socket *s, int had_error, void *u) {
  (void)s, (void)had_error;
  client *c = u;
  c->closed = 1;
  c->sock = NULL;
}

static const char *client_path; /* set: clients connect to this Unix socket */

static void connect_client(client *c, uint16_t port, int hold, int n) {
  static const portls_socket_events ev = {
      .secure_connect = cl_secure, .data = cl_data, .close = cl_close};
  memset(c, 0, sizeof *c);
  c->hold = hold;
  c->sent_len = (size_t)snprintf(c->sent, sizeof c->sent, "client %d says hello\n", n);
  portls_connect_options co;
  portls_connect_options_init(&co);
  co.host = "127.0.0.1";
  co.port = port;
  if (client_path != NULL) {
    co.path = client_path;
    co.tls.servername = "localhost";
  }
  co.tls.secure_context = cli_ctx;
  co.events = &ev;
  co.user = c;
  portls_error err = {0};
  int rc = portls_tls_connect(loop, &co, &c->sock, &err);
  if (rc < 0) fail("tls_connect", rc, &err);
}

/* Runs the loop until cond(arg) holds (a watchdog ends a hang). */
static void run_until(int (*cond)(void *), void *arg, const char *what) {
  for (int i = 0; i < 200000 && !cond(arg); i++) portls_loop_run_once(loop, 1);
  if (!cond(arg)) fail(what, 0, NULL);
}

typedef struct clients {
  client *c;
  int n;
} clients;
static int all_echoed(void *arg) {
  clients *cs = arg;
  for (int i = 0; i < cs->n; i++)
    if (!cs->c[i].echoed) return 0;
  return 1;
}
static int all_closed(void *arg) {
  clients *cs = arg;
  for (int i = 0; i < cs->n; i++)
    if (!cs->c[i].closed) return 0;
  return 1;
}
static int server_closed(void *arg) {
  (void)arg;
  return atomic_load(&close_count) > 0;
}
static int count_is(void *arg) {
  return portls_server_connections(((portls_server **)arg)[0]) ==
         (size_t)(uintptr_t)((void **)arg)[1];
}

/* ---- the tests ---- */

static void test_workers(int mode, const char *name) {
  enum { HELD = 6, MAX = 8, EXTRA = 4 };
  portls_server *srv = make_server(2, mode);
  portls_error err = {0};
  int rc = portls_server_listen(srv, "127.0.0.1", 0, 0, &err);
  if (rc < 0) fail("listen", rc, &err);
  CHECK(portls_server_listen(srv, "127.0.0.1", 0, 0, &err) == PORTLS_ESERVER_LISTENING,
        "a second listen on a workers server is ESERVER_LISTENING");
  uint16_t port = server_port(srv);
  CHECK(port != 0, "port");

  /* HELD clients echo and stay connected. */
  static client held[HELD + EXTRA];
  for (int i = 0; i < HELD; i++) connect_client(&held[i], port, 1, i);
  clients cs = {held, HELD};
  run_until(all_echoed, &cs, "every held client echoed");
  void *want[2] = {srv, (void *)(uintptr_t)HELD};
  run_until(count_is, want, "connections: the workers' sum");
  CHECK(atomic_load(&listening_count) == 1, "'listening' once");
  if (mode == PORTLS_WORKERS_HANDOFF) {
    /* In turn: each worker has half. */
    CHECK(atomic_load(&seen_count[0]) == HELD / 2 && atomic_load(&seen_count[1]) == HELD / 2,
          "handoff gives the workers connections in turn");
  }
  CHECK(atomic_load(&seen_slot[0]) != srv && atomic_load(&seen_slot[0]) != NULL,
        "connections come with the worker's server");

  /* maxConnections is the group's: 8 in all, so 2 of 4 more are served. */
  portls_server_set_max_connections(srv, MAX);
  for (int i = 0; i < EXTRA; i++) connect_client(&held[HELD + i], port, 1, HELD + i);
  clients extra = {held + HELD, EXTRA};
  int served = 0, dropped = 0;
  for (int round = 0; round < 200000 && served + dropped < EXTRA; round++) {
    portls_loop_run_once(loop, 1);
    served = dropped = 0;
    for (int i = 0; i < EXTRA; i++) {
      served += extra.c[i].echoed;
      dropped += extra.c[i].closed && !extra.c[i].echoed;
    }
  }
  if (served != MAX - HELD || dropped != EXTRA - (MAX - HELD)) {
    fprintf(stderr, "served %d, dropped %d, connections %zu\n", served, dropped,
            portls_server_connections(srv));
    for (int i = 0; i < EXTRA; i++)
      fprintf(stderr, "  extra %d: secure %d echoed %d closed %d got %zu\n", i, extra.c[i].secure,
              extra.c[i].echoed, extra.c[i].closed, extra.c[i].got_len);
  }
  CHECK(served == MAX - HELD && dropped == EXTRA - (MAX - HELD),
        "maxConnections holds across the workers");
  CHECK(portls_server_connections(srv) == MAX, "connections after maxConnections");

  /* close(): no more connections; 'close' once every worker's are gone. */
  portls_server_close(srv);
  CHECK(atomic_load(&close_count) == 0, "'close' waits for the connections");
  for (int i = 0; i < HELD + EXTRA; i++)
    if (held[i].sock != NULL) portls_socket_end(held[i].sock, NULL, 0);
  clients every = {held, HELD + EXTRA};
  run_until(all_closed, &every, "clients closed");
  run_until(server_closed, NULL, "'close' after close()");
  while (portls_loop_run_once(loop, 1) > 0) {}
  CHECK(atomic_load(&close_count) == 1, "'close' once");
  printf("workers (%s): %d echoed, connections summed, maxConnections %d held, one close\n", name,
         HELD + MAX - HELD, MAX);
}

/* A TCP socket on 127.0.0.1, port chosen by the kernel; listening or not. */
static int make_socket(int listening, uint16_t *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(fd >= 0, "socket");
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0, "bind");
  if (listening) CHECK(listen(fd, 64) == 0, "listen");
  socklen_t len = sizeof sin;
  CHECK(getsockname(fd, (struct sockaddr *)&sin, &len) == 0, "getsockname");
  if (port != NULL) *port = ntohs(sin.sin_port);
  return fd;
}

static void finish(portls_server *srv, client *c, int n) {
  portls_server_close(srv);
  clients cs = {c, n};
  run_until(all_closed, &cs, "clients closed");
  run_until(server_closed, NULL, "'close'");
  while (portls_loop_run_once(loop, 1) > 0) {}
}

static void test_listen_fd(unsigned workers) {
  uint16_t port;
  portls_error err = {0};
  portls_server *srv = make_server(workers, PORTLS_WORKERS_REUSEPORT);
  int bad = make_socket(0, NULL);
  CHECK(portls_server_listen_fd(srv, bad, &err) == PORTLS_EINVAL, "a socket that does not listen");
  CHECK(strstr(err.message, "not a listening") != NULL, "the message says why");
  CHECK(portls_server_listen_fd(srv, -1, &err) == PORTLS_EINVAL, "fd -1");
  close(bad);
  int fd = make_socket(1, &port);
  int rc = portls_server_listen_fd(srv, fd, &err);
  if (rc < 0) fail("listen_fd", rc, &err);
  CHECK(server_port(srv) == port, "address() of an adopted socket");
  static client c[4];
  for (int i = 0; i < 4; i++) connect_client(&c[i], port, 0, i);
  clients cs = {c, 4};
  run_until(all_echoed, &cs, "echo through an adopted listening socket");
  finish(srv, c, 4);
  CHECK(atomic_load(&close_count) == 1, "'close' once");
  /* The server closed the socket it adopted: nothing listens there now. */
  int probe = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sin.sin_port = htons(port);
  CHECK(connect(probe, (struct sockaddr *)&sin, sizeof sin) != 0 && errno == ECONNREFUSED,
        "the adopted socket was closed with the server");
  close(probe);
  printf("listen_fd (workers %u): echo through the test's own socket, closed after\n", workers);
}

static void test_adopt_fd(unsigned workers) {
  uint16_t port;
  portls_error err = {0};
  portls_server *srv = make_server(workers, PORTLS_WORKERS_REUSEPORT);
  int lfd = make_socket(1, &port);
  CHECK(portls_server_adopt_fd(srv, lfd, &err) ==
            (workers > 1 ? PORTLS_ESERVER_NOT_RUNNING : PORTLS_EINVAL),
        "adopting a listening socket");
  CHECK(portls_server_adopt_fd(srv, -1, &err) == PORTLS_EINVAL, "adopt fd -1");
  if (workers > 1) {
    /* A workers server hands connections to its workers once they run. */
    int rc = portls_server_listen(srv, "127.0.0.1", 0, 0, &err);
    if (rc < 0) fail("listen", rc, &err);
  }
  static client c[3];
  for (int i = 0; i < 3; i++) {
    /* The kernel completes the TCP handshake; the test accepts it itself. */
    connect_client(&c[i], port, 0, i);
    for (int k = 0; k < 5; k++) portls_loop_run_once(loop, 0);
    int fd = accept(lfd, NULL, NULL);
    CHECK(fd >= 0, "accept");
    int rc = portls_server_adopt_fd(srv, fd, &err);
    if (rc < 0) fail("adopt_fd", rc, &err);
  }
  clients cs = {c, 3};
  run_until(all_echoed, &cs, "echo through adopted connections");
  CHECK(atomic_load(&secure_count) == 3, "secureConnection for each adopted connection");
  close(lfd);
  finish(srv, c, 3);
  printf("adopt_fd (workers %u): three connections accepted by the test, served\n", workers);
}

/* A Unix socket: the workers share it by handoff, whatever the mode says. */
static void test_unix_workers(void) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/portls-workers-%d.sock", (int)getpid());
  unlink(path);
  portls_server *srv = make_server(2, PORTLS_WORKERS_REUSEPORT);
  portls_error err = {0};
  int rc = portls_server_listen_path(srv, path, 0, &err);
  if (rc < 0) fail("listen_path", rc, &err);
  client_path = path;
  static client c[4];
  for (int i = 0; i < 4; i++) connect_client(&c[i], 0, 0, i);
  clients cs = {c, 4};
  run_until(all_echoed, &cs, "echo over a Unix socket through the workers");
  CHECK(atomic_load(&seen_count[0]) == 2 && atomic_load(&seen_count[1]) == 2,
        "a Unix socket's connections go to the workers in turn");
  finish(srv, c, 4);
  client_path = NULL;
  CHECK(access(path, F_OK) != 0, "the socket file goes with the server");
  printf("workers on a Unix socket: handed over in turn, file removed on close\n");
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

int main(void) {
  alarm(120); /* nothing may hang */
  portls_buf key = read_cert("server-rsa.key"), cert = read_cert("server-rsa-chain.crt"),
             ca = read_cert("ca.crt");
  portls_context_options o;
  portls_error err = {0};
  portls_context_options_init(&o);
  o.key = &key, o.key_count = 1, o.cert = &cert, o.cert_count = 1;
  int rc = portls_context_new(&o, &srv_ctx, &err);
  if (rc < 0) fail("server context", rc, &err);
  portls_context_options_init(&o);
  o.ca = &ca, o.ca_count = 1;
  rc = portls_context_new(&o, &cli_ctx, &err);
  if (rc < 0) fail("client context", rc, &err);
  rc = portls_loop_new(&loop);
  if (rc < 0) fail("loop_new", rc, NULL);

  test_workers(PORTLS_WORKERS_REUSEPORT, "SO_REUSEPORT");
  test_workers(PORTLS_WORKERS_HANDOFF, "handoff");
  test_unix_workers();
  test_listen_fd(0);
  test_listen_fd(2);
  test_adopt_fd(0);
  test_adopt_fd(2);

  CHECK(portls_loop_free(loop) == 0, "the loop has nothing left");
  portls_context_free(srv_ctx);
  portls_context_free(cli_ctx);
  portls_free((void *)key.base);
  portls_free((void *)cert.base);
  portls_free((void *)ca.base);
  printf("ok\n");
  return 0;
}
