/* own-loop: portls inside an application's own poll() loop.
 *
 *   own-loop [PORT]      (default 8000; 0 picks a free port)
 *
 * The application owns the loop: it waits in its own poll() on its own
 * descriptor (standard input here: each line typed is counted and echoed
 * back; "quit" closes the server) and on the descriptor portls gives it,
 * with the timeout portls asks for. Whenever poll() returns, it lets portls
 * run once without blocking. portls is never run blocking and never owns
 * the thread: this is how it fits into a program that already has a loop
 * (libuv's uv_backend_fd()/uv_backend_timeout() pattern).
 *
 * A TLS echo server runs in it; try it with
 *   openssl s_client -connect 127.0.0.1:8000 -CAfile build/certs/ca.crt
 * Certificates come from $PORTLS_CERTS (default build/certs).
 */
#define _POSIX_C_SOURCE 200809L

#include <poll.h>
#include <portls/portls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static portls_buf read_cert_file(const char *name) {
  const char *dir = getenv("PORTLS_CERTS") ? getenv("PORTLS_CERTS") : "build/certs";
  char path[1024];
  portls_buf buf;
  portls_error err;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  if (portls_read_file(path, &buf, &err) < 0) {
    fprintf(stderr, "own-loop: %s: %s\n", path, err.message);
    exit(1);
  }
  return buf;
}

/* The echo server: what arrives goes back. */
static void on_data(portls_socket *sock, const void *data, size_t len, void *user) {
  (void)user;
  portls_socket_write(sock, data, len);
}
static void on_end(portls_socket *sock, void *user) {
  (void)user;
  portls_socket_end(sock, NULL, 0);
}
static void on_secure_connection(portls_server *server, portls_socket *sock, void *user) {
  (void)server, (void)user;
  static const portls_socket_events ev = {.data = on_data, .end = on_end};
  portls_socket_set_events(sock, &ev, NULL);
  fprintf(stderr, "own-loop: a client connected (%zu now)\n", portls_server_connections(server));
}
static int server_closed;
static void on_close(portls_server *server, void *user) {
  (void)server, (void)user;
  server_closed = 1;
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 8000;
  portls_loop *loop;
  portls_error err;
  if (portls_loop_new(&loop) < 0) return 1;

  portls_buf key = read_cert_file("server-rsa.key"), cert = read_cert_file("server-rsa-chain.crt");
  portls_server_options so;
  portls_server_options_init(&so);
  so.tls.context.key = &key;
  so.tls.context.key_count = 1;
  so.tls.context.cert = &cert;
  so.tls.context.cert_count = 1;
  static const portls_server_events sev = {.secure_connection = on_secure_connection,
                                           .close = on_close};
  so.events = &sev;
  portls_server *server;
  if (portls_tls_create_server(loop, &so, &server, &err) < 0 ||
      portls_server_listen(server, "127.0.0.1", (uint16_t)port, 0, &err) < 0) {
    fprintf(stderr, "own-loop: %s\n", err.message);
    return 1;
  }
  portls_free((void *)key.base);
  portls_free((void *)cert.base);
  portls_address addr;
  if (portls_server_address(server, &addr) == 0)
    fprintf(stderr, "own-loop: listening on port %u; type lines, \"quit\" to stop\n", addr.port);

  /* The descriptor portls's loop waits on: readable when it has work. */
  int backend = portls_loop_backend_fd(loop);
  if (backend < 0) {
    fprintf(stderr, "own-loop: platform %s: %s\n", portls_platform_name(),
            portls_strerror(backend));
    return 1;
  }

  unsigned long lines = 0;
  int stdin_open = 1;
  while (!server_closed) {
    struct pollfd fds[2] = {{.fd = backend, .events = POLLIN},
                            {.fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN}};
    /* As long as portls allows (-1: no limit); an application with timers
     * of its own would take the smaller of the two. */
    int timeout = portls_loop_backend_timeout(loop);
    if (poll(fds, 2, timeout) < 0) continue; /* EINTR */

    if (fds[1].revents & (POLLIN | POLLHUP)) {
      char line[256];
      ssize_t n = read(STDIN_FILENO, line, sizeof line - 1);
      if (n <= 0) {
        stdin_open = 0;
      } else {
        line[n] = '\0';
        printf("%lu: %s", ++lines, line);
        fflush(stdout);
        if (strncmp(line, "quit", 4) == 0) portls_server_close(server);
      }
    }
    /* Whatever woke us (portls's descriptor, the timeout, or our own input):
     * one non-blocking turn of portls's loop. */
    portls_loop_run_once(loop, 0);
  }
  /* The server has closed; what is left (closing connections) ends now. */
  while (portls_loop_run_once(loop, 0) > 0) {}
  return portls_loop_free(loop) == 0 ? 0 : 1;
}
