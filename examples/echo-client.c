/* echo-client: the specification's tls.connect() example, in C.
 *
 *   echo-client [--pfx] PORT
 *
 * Connects to localhost:PORT with a client certificate, pipes standard input
 * to the server and prints what comes back; ends when standard input ends.
 * Certificates come from the directory in $PORTLS_CERTS (default build/certs);
 * with --pfx the client's key and certificate come from client.pfx
 * (passphrase "portls-pass"), the specification's second variant.
 */
#define _POSIX_C_SOURCE 200809L

#include <poll.h>
#include <portls/portls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Node: fs.readFileSync(dir + '/' + name). Exits on failure. */
static portls_buf read_cert_file(const char *name) {
  const char *dir = getenv("PORTLS_CERTS") ? getenv("PORTLS_CERTS") : "build/certs";
  char path[1024];
  portls_buf buf;
  portls_error err;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  if (portls_read_file(path, &buf, &err) < 0) {
    fprintf(stderr, "echo-client: %s: %s\n", path, err.message);
    exit(1);
  }
  return buf;
}

static portls_loop *loop;
static portls_timer *stdin_timer;
static int waiting_for_drain;
static int failed = 1; /* until a secure connection closes cleanly */

/* process.stdin.pipe(socket), without threads: a timer polls standard input
 * every 10 ms. At the end of input, end the socket as pipe() does. */
static void on_stdin(portls_timer *timer, void *user) {
  portls_socket *sock = user;
  char buf[16384];
  struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
  if (waiting_for_drain || poll(&p, 1, 0) <= 0) return;
  ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
  if (n > 0) {
    if (portls_socket_write(sock, buf, (size_t)n) == 0) waiting_for_drain = 1;
    return;
  }
  portls_timer_free(timer);
  stdin_timer = NULL;
  portls_socket_end(sock, NULL, 0);
}

static void on_drain(portls_socket *sock, void *user) {
  (void)sock;
  (void)user;
  waiting_for_drain = 0;
}

/* The callback of tls.connect(port, options, callback): 'secureConnect'. */
static void on_secure_connect(portls_socket *sock, void *user) {
  (void)user;
  if (portls_socket_authorized(sock))
    printf("client connected authorized\n");
  else
    printf("client connected unauthorized: %s\n",
           portls_err_name(portls_socket_authorization_error(sock)));
  fflush(stdout);
  failed = 0;
  portls_timer_new(loop, on_stdin, sock, &stdin_timer);
  portls_timer_start(stdin_timer, 0, 10);
}

/* socket.on('data', function(data) { console.log(data); }) */
static void on_data(portls_socket *sock, const void *data, size_t len, void *user) {
  (void)sock;
  (void)user;
  fwrite(data, 1, len, stdout);
  fflush(stdout);
}

/* The server ended: stop reading input and end our side too. */
static void on_end(portls_socket *sock, void *user) {
  (void)user;
  if (stdin_timer) portls_timer_free(stdin_timer);
  stdin_timer = NULL;
  portls_socket_end(sock, NULL, 0);
}

static void on_error(portls_socket *sock, const portls_error *err, void *user) {
  (void)sock;
  (void)user;
  fprintf(stderr, "echo-client: %s: %s\n", portls_err_name(err->code), err->message);
  failed = 1;
}

/* 'close' is the socket's last event; the loop has nothing left after it. */
static void on_close(portls_socket *sock, int had_error, void *user) {
  (void)sock;
  (void)user;
  if (had_error) failed = 1;
  if (stdin_timer) portls_timer_free(stdin_timer);
  stdin_timer = NULL;
}

int main(int argc, char **argv) {
  int use_pfx = argc > 1 && strcmp(argv[1], "--pfx") == 0;
  if (use_pfx) argc--, argv++;
  if (argc != 2) {
    fprintf(stderr, "usage: echo-client [--pfx] PORT\n");
    return 2;
  }
  portls_buf key = {0}, cert = {0}, pfx = {0};
  portls_buf ca = read_cert_file("ca.crt");
  portls_connect_options opts;
  portls_connect_options_init(&opts);
  opts.port = (uint16_t)atoi(argv[1]); /* host defaults to "localhost" */
  opts.tls.servername = "localhost";
  if (use_pfx) {
    /* var options = { pfx: ..., passphrase: ..., ca: [ ... ] }; tls.connect(PORT, options, ...) */
    pfx = read_cert_file("client.pfx");
    opts.tls.context.pfx = pfx;
    opts.tls.context.passphrase = "portls-pass";
  } else {
    /* var options = { key: ..., cert: ..., ca: [ ... ] }; tls.connect(PORT, options, ...) */
    key = read_cert_file("client.key");
    cert = read_cert_file("client-chain.crt");
    opts.tls.context.key =
        &key; /* key and cert: needed only for client certificate authentication */
    opts.tls.context.key_count = 1;
    opts.tls.context.cert = &cert;
    opts.tls.context.cert_count = 1;
  }
  opts.tls.context.ca = &ca; /* the CA that signed the server's certificate */
  opts.tls.context.ca_count = 1;

  portls_socket_events events = {.secure_connect = on_secure_connect,
                                 .data = on_data,
                                 .drain = on_drain,
                                 .end = on_end,
                                 .error = on_error,
                                 .close = on_close};
  opts.events = &events;

  portls_socket *sock;
  portls_error err;
  portls_loop_new(&loop);
  if (portls_tls_connect(loop, &opts, &sock, &err) < 0) {
    fprintf(stderr, "echo-client: %s: %s\n", portls_err_name(err.code), err.message);
    return 1;
  }
  portls_free((void *)key.base); /* the library copied what it needs */
  portls_free((void *)cert.base);
  portls_free((void *)pfx.base);
  portls_free((void *)ca.base);

  portls_loop_run(loop); /* until the socket has closed */
  portls_loop_free(loop);
  return failed;
}
