/* echo-server: the specification's tls.createServer() example, in C.
 *
 *   echo-server [--pfx] [PORT]      (default 8000; 0 picks a free port)
 *
 * Certificates come from the directory in $PORTLS_CERTS (default build/certs):
 * the server's key and chain (or, with --pfx, the specification's second
 * variant: server.pfx, passphrase "portls-pass"; needs the "pfx"
 * capability), and ca.crt to verify client certificates.
 * Try it with examples/echo-client, or with
 *   openssl s_client -connect 127.0.0.1:8000 -CAfile build/certs/ca.crt
 */
#define _POSIX_C_SOURCE 200809L

#include <portls/portls.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Node: fs.readFileSync(dir + '/' + name). Exits on failure. */
static portls_buf read_cert_file(const char *name) {
  const char *dir = getenv("PORTLS_CERTS") ? getenv("PORTLS_CERTS") : "build/certs";
  char path[1024];
  portls_buf buf;
  portls_error err;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  if (portls_read_file(path, &buf, &err) < 0) {
    fprintf(stderr, "echo-server: %s: %s\n", path, err.message);
    exit(1);
  }
  return buf;
}

/* A signal handler may not call the library: it sets a flag that a timer
 * on the loop checks. */
static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static portls_server *server;
/* Open connections, destroyed on shutdown (up to 64: an example's limit). */
static portls_socket *conns[64];

static void on_tick(portls_timer *timer, void *user) {
  (void)user;
  if (!stop_requested) return;
  portls_timer_free(timer);    /* the timer must go too, or the loop never ends */
  portls_server_close(server); /* server.close(): stop accepting */
  for (int i = 0; i < 64; i++) /* and end the conversations still going on */
    if (conns[i]) portls_socket_destroy(conns[i], NULL);
}

/* socket.pipe(socket): echo what arrives. write() returns 0 when the
 * peer reads slower than it sends: stop reading until 'drain'. */
static void on_data(portls_socket *sock, const void *data, size_t len, void *user) {
  (void)user;
  if (portls_socket_write(sock, data, len) == 0) portls_socket_pause(sock);
}

static void on_drain(portls_socket *sock, void *user) {
  (void)user;
  portls_socket_resume(sock);
}

/* When the client ends, so do we. */
static void on_end(portls_socket *sock, void *user) {
  (void)user;
  portls_socket_end(sock, NULL, 0);
}

/* 'close' is a socket's last event; its memory is freed right after. */
static void on_close(portls_socket *sock, int had_error, void *user) {
  (void)had_error;
  (void)user;
  for (int i = 0; i < 64; i++)
    if (conns[i] == sock) conns[i] = NULL;
}

/* The secureConnectionListener of tls.createServer(options, listener). */
static void on_secure_connection(portls_server *srv, portls_socket *sock, void *user) {
  (void)srv;
  (void)user;
  printf("server connected %s\n", portls_socket_authorized(sock) ? "authorized" : "unauthorized");
  fflush(stdout);
  for (int i = 0; i < 64; i++)
    if (!conns[i]) {
      conns[i] = sock;
      break;
    }

  portls_socket_events events = {
      .data = on_data, .drain = on_drain, .end = on_end, .close = on_close};
  portls_socket_set_events(sock, &events, NULL);
  portls_socket_write(sock, "welcome!\n", 9);
}

/* server.listen(port, function() { console.log('server bound'); }) */
static void on_listening(portls_server *srv, void *user) {
  portls_address addr;
  (void)user;
  printf("server bound\n");
  fflush(stdout);
  if (portls_server_address(srv, &addr) == 0)
    fprintf(stderr, "echo-server: listening on port %d\n", addr.port);
}

int main(int argc, char **argv) {
  int use_pfx = argc > 1 && strcmp(argv[1], "--pfx") == 0;
  if (use_pfx) argc--, argv++;
  int port = argc > 1 ? atoi(argv[1]) : 8000;
  portls_error err;
  portls_loop *loop;
  portls_timer *timer;

  portls_buf key = {0}, cert = {0}, pfx = {0};
  portls_buf ca = read_cert_file("ca.crt");
  portls_server_options opts;
  portls_server_options_init(&opts);
  if (use_pfx) {
    /* var options = { pfx: ..., passphrase: ..., requestCert: true, ca: [ ... ] }; */
    pfx = read_cert_file("server.pfx");
    opts.tls.context.pfx = pfx;
    opts.tls.context.passphrase = "portls-pass";
  } else {
    /* var options = { key: ..., cert: ..., requestCert: true, ca: [ ... ] }; */
    key = read_cert_file("server-rsa.key");
    cert = read_cert_file("server-rsa-chain.crt");
    opts.tls.context.key = &key;
    opts.tls.context.key_count = 1;
    opts.tls.context.cert = &cert;
    opts.tls.context.cert_count = 1;
  }
  opts.tls.context.ca = &ca; /* needed only to verify client certificates */
  opts.tls.context.ca_count = 1;
  opts.tls.request_cert = 1; /* needed only for client certificate authentication */

  portls_server_events events = {.listening = on_listening,
                                 .secure_connection = on_secure_connection};
  opts.events = &events;

  portls_loop_new(&loop);
  if (portls_tls_create_server(loop, &opts, &server, &err) < 0 ||
      portls_server_listen(server, NULL, (uint16_t)port, 511, &err) < 0) {
    fprintf(stderr, "echo-server: %s: %s\n", portls_err_name(err.code), err.message);
    return 1;
  }
  /* The library copied what it needs from the options. */
  portls_free((void *)key.base);
  portls_free((void *)cert.base);
  portls_free((void *)pfx.base);
  portls_free((void *)ca.base);

  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  portls_timer_new(loop, on_tick, NULL, &timer);
  portls_timer_start(timer, 100, 100);

  portls_loop_run(loop); /* until the server and every socket have closed */
  portls_loop_free(loop);
  return 0;
}
