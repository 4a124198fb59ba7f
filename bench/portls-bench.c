/* portls-bench: the TLS benchmark of docs/benchmark.md, spoken by portls
 * through its public API only, so that it can be run side by side with its
 * peers bench/peers/node-bench.js (Node.js) and bench/peers/libevent-bench.c
 * (libevent + OpenSSL).
 *
 *   portls-bench-<backend> server PORT CERTDIR ec|rsa
 *       prints "listening"; on SIGTERM "rss_kb N conns M"; with env RSS_FILE
 *       set, writes "RSS_KB CONNS\n" there every 200 ms
 *   portls-bench-<backend> bulk PORT MB                 -> "bulk_MBps X"
 *   portls-bench-<backend> hs PORT SECONDS CONC [resume]-> "hs_per_s X" and "resumed_ratio R"
 *   portls-bench-<backend> idle PORT N                  -> "opened N", exits on SIGTERM
 *   portls-bench-<backend> check                        -> exit 0, or 77 when the backend
 *                                                          lacks TLS 1.3 (capability tls1.3)
 *
 * TLS 1.3 only (secureProtocol TLSv1_3_method), TLS_AES_128_GCM_SHA256,
 * 127.0.0.1, rejectUnauthorized false on the client. Every client shares one
 * SecureContext, as libevent-bench shares one SSL_CTX.
 *
 * Optional knobs (not used for the headline numbers):
 *   PORTLS_BENCH_CURVE=C        ecdhCurve of both sides (default: the
 *                               library's default, "auto": X25519 first,
 *                               as the peers; "prime256v1" is the
 *                               specification's)
 *   PORTLS_BENCH_VERBOSE=1      clients print the negotiated protocol and
 *                               cipher of their first connection to stderr
 *   BENCH_HS_COUNT=N            hs: start no more than N connections (the run
 *                               also ends after SECONDS), and print "hs_done D"
 *                               (connections closed cleanly): a fixed amount of
 *                               work for scripts/bench-instructions.sh
 *   PORTLS_BENCH_PROTOCOL=TLSv1_2_method   the client's secureProtocol (with
 *                               ECDHE-*-AES128-GCM-SHA256); for servers other
 *                               than this tool's (scripts/bench-redis.sh)
 *   PORTLS_BENCH_NO_TICKET=1    the client offers no ticket: TLS 1.2 resumes
 *                               by session id (newSession/resumeSession)
 * `hs` also takes PORT as P1,P2,...: connections go round the ports, as a
 * load balancer spreads clients over the servers of a cluster.
 */
#define _POSIX_C_SOURCE 200809L

#include <portls/portls.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

static portls_loop *loop;
static portls_context *client_ctx;
static uint16_t port;
static uint16_t ports[16]; /* hs: the ports connections go round */
static size_t nports, next_port;
static int verbose;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const portls_error *err) {
  if (err != NULL)
    fprintf(stderr, "portls-bench: %s: %s: %s\n", what, portls_err_name(err->code), err->message);
  else
    fprintf(stderr, "portls-bench: %s\n", what);
  exit(1);
}

static long rss_kb(void) {
  long size = 0, res = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f != NULL) {
    if (fscanf(f, "%ld %ld", &size, &res) != 2) res = 0;
    fclose(f);
  }
  return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* The options both sides share: TLS 1.3, one suite. */
static void protocol_options(portls_context_options *o) {
  o->secure_protocol = "TLSv1_3_method";
  o->ciphers = "TLS_AES_128_GCM_SHA256";
  const char *curve = getenv("PORTLS_BENCH_CURVE");
  if (curve != NULL && *curve != '\0') o->ecdh_curve = curve;
}

/* The client's knobs for servers other than this tool's. */
static void client_knobs(portls_context_options *o) {
  const char *proto = getenv("PORTLS_BENCH_PROTOCOL");
  if (proto != NULL && *proto != '\0' && strcmp(proto, "TLSv1_3_method") != 0) {
    o->secure_protocol = proto;
    o->ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";
  }
  const char *no_ticket = getenv("PORTLS_BENCH_NO_TICKET");
  if (no_ticket != NULL && *no_ticket == '1') o->disable_tickets = 1;
}

/* SIGTERM: a handler may not call the library, so it sets a flag that a
 * timer on the loop checks. The process then leaves with _exit(), as
 * node-bench.js leaves with process.exit(): its connections stay open to the
 * end, which is the point of the measurement. */
static volatile sig_atomic_t sigterm_seen;
static void on_sigterm(int sig) {
  (void)sig;
  sigterm_seen = 1;
}

static void watch_sigterm(portls_timer_cb cb) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigterm;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  portls_timer *t;
  if (portls_timer_new(loop, cb, NULL, &t) < 0 || portls_timer_start(t, 20, 20) < 0)
    die("timer", NULL);
}

static void verbose_once(portls_socket *sock) {
  static int printed;
  if (!verbose || printed) return;
  printed = 1;
  portls_cipher c;
  if (portls_socket_get_cipher(sock, &c) < 0) memset(&c, 0, sizeof c);
  fprintf(stderr, "negotiated %s %s reused=%d backend=%s\n",
          portls_socket_get_protocol(sock) ? portls_socket_get_protocol(sock) : "?",
          c.standard_name, portls_socket_is_session_reused(sock), portls_backend_name());
}

static portls_socket *client_connect(const portls_socket_events *ev, void *user,
                                     portls_buf session) {
  portls_connect_options o;
  portls_connect_options_init(&o);
  o.host = "127.0.0.1";
  o.port = port;
  if (nports > 1) o.port = ports[next_port++ % nports];
  o.tls.secure_context = client_ctx;
  o.tls.reject_unauthorized = 0;
  o.tls.session = session;
  o.events = ev;
  o.user = user;
  portls_socket *sock;
  portls_error err;
  if (portls_tls_connect(loop, &o, &sock, &err) < 0) die("connect", &err);
  return sock;
}

static void make_client_ctx(void) {
  portls_context_options o;
  portls_context_options_init(&o);
  protocol_options(&o);
  client_knobs(&o);
  portls_error err;
  if (portls_context_new(&o, &client_ctx, &err) < 0) die("client context", &err);
}

/* ------------------------------------------------------------------ server */

static portls_server *server;
static const char *rss_file;

/* The count is the socket's own bytesRead (cleartext bytes received): no
 * per-connection state of the benchmark's own. */
static void s_data(portls_socket *sock, const void *data, size_t len, void *user) {
  (void)sock, (void)data, (void)len, (void)user;
}

static void s_end(portls_socket *sock, void *user) {
  (void)user;
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%" PRIu64 "\n", portls_socket_bytes_read(sock));
  portls_socket_end(sock, buf, (size_t)n);
}

static void s_error(portls_socket *sock, const portls_error *err, void *user) {
  (void)sock, (void)err, (void)user;
}

static void s_secure(portls_server *srv, portls_socket *sock, void *user) {
  (void)srv, (void)user;
  static const portls_socket_events ev = {.data = s_data, .end = s_end, .error = s_error};
  portls_socket_set_events(sock, &ev, NULL);
}

static void s_client_error(portls_server *srv, const portls_error *err, portls_socket *sock,
                           void *user) {
  (void)srv, (void)err, (void)sock, (void)user;
}

static void s_listening(portls_server *srv, void *user) {
  (void)srv, (void)user;
  printf("listening\n");
  fflush(stdout);
}

static void s_server_error(portls_server *srv, const portls_error *err, void *user) {
  (void)srv, (void)user;
  die("server", err);
}

static void s_rss_tick(portls_timer *t, void *user) {
  (void)t, (void)user;
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", rss_file);
  FILE *f = fopen(tmp, "w");
  if (f == NULL) return;
  fprintf(f, "%ld %zu\n", rss_kb(), portls_server_connections(server));
  fclose(f);
  rename(tmp, rss_file);
}

static void s_sigterm_tick(portls_timer *t, void *user) {
  (void)t, (void)user;
  if (!sigterm_seen) return;
  printf("rss_kb %ld conns %zu\n", rss_kb(), portls_server_connections(server));
  fflush(stdout);
  _exit(0);
}

static portls_buf read_file_or_die(const char *dir, const char *kind, const char *what) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s-%s.pem", dir, kind, what);
  portls_buf b;
  portls_error err;
  if (portls_read_file(path, &b, &err) < 0) die(path, &err);
  return b;
}

static int run_server(const char *dir, const char *kind) {
  portls_buf key = read_file_or_die(dir, kind, "key");
  portls_buf cert = read_file_or_die(dir, kind, "cert");
  portls_server_options o;
  portls_server_options_init(&o);
  o.tls.context.key = &key;
  o.tls.context.key_count = 1;
  o.tls.context.cert = &cert;
  o.tls.context.cert_count = 1;
  protocol_options(&o.tls.context);
  static const portls_server_events ev = {.listening = s_listening,
                                          .secure_connection = s_secure,
                                          .client_error = s_client_error,
                                          .error = s_server_error};
  o.events = &ev;
  /* scripts/bench.sh --workers: the server on N threads (one port). The
   * callbacks above keep no state, so any thread may run them. */
  const char *workers = getenv("PORTLS_BENCH_WORKERS");
  if (workers != NULL && atoi(workers) > 1) {
    o.workers = (unsigned)atoi(workers);
    const char *mode = getenv("PORTLS_BENCH_WORKERS_MODE");
    o.workers_mode = mode != NULL && strcmp(mode, "handoff") == 0 ? PORTLS_WORKERS_HANDOFF
                                                                  : PORTLS_WORKERS_REUSEPORT;
  }
  portls_error err;
  if (portls_tls_create_server(loop, &o, &server, &err) < 0) die("createServer", &err);
  portls_free((void *)key.base);
  portls_free((void *)cert.base);
  if (portls_server_listen(server, "127.0.0.1", port, 511, &err) < 0) die("listen", &err);

  watch_sigterm(s_sigterm_tick);
  rss_file = getenv("RSS_FILE");
  if (rss_file != NULL && *rss_file != '\0') {
    portls_timer *t;
    if (portls_timer_new(loop, s_rss_tick, NULL, &t) < 0 || portls_timer_start(t, 200, 200) < 0)
      die("timer", NULL);
  }
  portls_loop_run(loop);
  return 0;
}

/* -------------------------------------------------------------------- bulk */

static struct {
  uint64_t total, sent;
  double t0;
  char reply[64];
  size_t rlen;
  int ok, failed;
} B;

static unsigned char chunk[CHUNK];

/* Node: while (sent < total) { sent += chunk.length; if (!s.write(chunk)) wait for 'drain' }
 * s.end() */
static void bulk_pump(portls_socket *sock, void *user) {
  (void)user;
  while (B.sent < B.total) {
    B.sent += CHUNK;
    int rc = portls_socket_write(sock, chunk, CHUNK);
    if (rc < 0) {
      fprintf(stderr, "bulk: write: %s\n", portls_err_name(rc));
      B.failed = 1;
      portls_socket_destroy(sock, NULL);
      return;
    }
    if (rc == 0) return; /* 'drain' calls again */
  }
  portls_socket_end(sock, NULL, 0);
}

static void bulk_secure(portls_socket *sock, void *user) {
  verbose_once(sock);
  bulk_pump(sock, user);
}

static void bulk_data(portls_socket *sock, const void *data, size_t len, void *user) {
  (void)user;
  if (B.rlen + len >= sizeof B.reply) {
    fprintf(stderr, "bulk: reply too long\n");
    B.failed = 1;
    portls_socket_destroy(sock, NULL);
    return;
  }
  memcpy(B.reply + B.rlen, data, len);
  B.rlen += len;
}

static void bulk_end(portls_socket *sock, void *user) {
  (void)sock, (void)user;
  double dt = now_s() - B.t0;
  B.reply[B.rlen] = '\0';
  char *end;
  unsigned long long got = strtoull(B.reply, &end, 10);
  if (B.rlen == 0 || *end != '\n' || got != B.total) {
    fprintf(stderr, "short reply %s (expected %" PRIu64 ")\n", B.reply, B.total);
    B.failed = 1;
    return;
  }
  printf("bulk_MBps %.1f\n", (double)B.total / 1048576.0 / dt);
  fflush(stdout);
  B.ok = 1;
}

static void bulk_error(portls_socket *sock, const portls_error *err, void *user) {
  (void)sock, (void)user;
  fprintf(stderr, "bulk: %s: %s\n", portls_err_name(err->code), err->message);
  B.failed = 1;
}

static int run_bulk(int mb) {
  make_client_ctx();
  memset(chunk, 7, sizeof chunk);
  B.total = (uint64_t)mb * 1024 * 1024;
  static const portls_socket_events ev = {.secure_connect = bulk_secure,
                                          .data = bulk_data,
                                          .end = bulk_end,
                                          .drain = bulk_pump,
                                          .error = bulk_error};
  B.t0 = now_s();
  client_connect(&ev, NULL, (portls_buf){NULL, 0});
  portls_loop_run(loop);
  portls_context_free(client_ctx);
  portls_loop_free(loop);
  return B.ok && !B.failed ? 0 : 1;
}

/* ---------------------------------------------------------------------- hs */

static struct {
  double t0, secs;
  int conc, resume, finished;
  long done, resumed, errors;
  long started, limit; /* limit: BENCH_HS_COUNT, 0 for none */
  portls_buf session;  /* the newest session seen, owned (portls_free) */
} H;

static void hs_start(void);

/* Keeps the newest session. A TLS 1.3 ticket arrives after the handshake,
 * so getSession() is asked when the peer's end arrives (the ticket came
 * before the reply), and 'session' is listened to as well. */
static void hs_keep_session(const void *data, size_t len) {
  void *copy = malloc(len);
  if (copy == NULL) return;
  memcpy(copy, data, len);
  free((void *)H.session.base);
  H.session.base = copy;
  H.session.len = len;
}

/* In resume mode a TLS 1.3 client ends once the server's ticket has come:
 * some libraries (BoringSSL) ignore tickets that arrive after their own
 * close_notify, where OpenSSL (and so Node) still takes them. A timer ends
 * the connection anyway if no ticket comes. */
typedef struct hs_conn {
  portls_socket *sock;
  portls_timer *timer;
  int ended;
} hs_conn;

static void hs_conn_end(hs_conn *c) {
  if (c->ended) return;
  c->ended = 1;
  /* A TLS 1.2 session comes before 'secureConnect': ended there. */
  if (c->sock != NULL) portls_socket_end(c->sock, NULL, 0);
}

static void hs_no_ticket(portls_timer *t, void *user) {
  (void)t;
  hs_conn_end(user);
}

static void hs_session(portls_socket *sock, const void *session, size_t len, void *user) {
  (void)sock;
  if (H.resume && session != NULL && len > 0) hs_keep_session(session, len);
  if (user != NULL) hs_conn_end(user);
}

static void hs_secure(portls_socket *sock, void *user) {
  verbose_once(sock);
  if (portls_socket_is_session_reused(sock)) H.resumed++;
  hs_conn *c = user;
  if (c == NULL) {
    portls_socket_end(sock, NULL, 0);
    return;
  }
  c->sock = sock;
  /* Below TLS 1.3 no ticket comes after the handshake (and a resumed
   * session brings no new one): the connection is done. */
  const char *proto = portls_socket_get_protocol(sock);
  if (c->ended || proto == NULL || strcmp(proto, "TLSv1.3") != 0) {
    c->ended = 0;
    hs_conn_end(c);
    return;
  }
  portls_timer_start(c->timer, 1000, 0);
}

static void hs_end(portls_socket *sock, void *user) {
  (void)user;
  if (!H.resume) return;
  portls_buf s;
  if (portls_socket_get_session(sock, &s) == 0) {
    if (verbose && H.done < 2) fprintf(stderr, "session: %zu bytes\n", s.len);
    hs_keep_session(s.base, s.len);
    portls_free((void *)s.base);
  }
}

static void hs_error(portls_socket *sock, const portls_error *err, void *user) {
  (void)sock, (void)user;
  if (H.errors++ < 5) fprintf(stderr, "hs: %s: %s\n", portls_err_name(err->code), err->message);
}

static void hs_close(portls_socket *sock, int had_error, void *user) {
  (void)sock;
  hs_conn *c = user;
  if (c != NULL) {
    portls_timer_free(c->timer);
    free(c);
  }
  if (!had_error) H.done++;
  hs_start();
}

static void hs_start(void) {
  static const portls_socket_events ev = {.secure_connect = hs_secure,
                                          .end = hs_end,
                                          .error = hs_error,
                                          .close = hs_close,
                                          .session = hs_session};
  double t = now_s();
  if (t - H.t0 > H.secs || (H.limit > 0 && H.started >= H.limit)) {
    if (++H.finished == H.conc) {
      double el = t - H.t0;
      printf("hs_per_s %.0f\n", (double)H.done / el);
      if (H.limit > 0) printf("hs_done %ld\n", H.done);
      printf("resumed_ratio %.3f\n", H.done ? (double)H.resumed / (double)H.done : 0.0);
      if (H.errors) fprintf(stderr, "hs errors %ld\n", H.errors);
      fflush(stdout);
    }
    return;
  }
  hs_conn *c = NULL;
  if (H.resume) {
    c = calloc(1, sizeof *c);
    if (c == NULL || portls_timer_new(loop, hs_no_ticket, c, &c->timer) < 0) {
      fprintf(stderr, "hs: out of memory\n");
      exit(1);
    }
  }
  H.started++;
  client_connect(&ev, c, H.resume ? H.session : (portls_buf){NULL, 0});
}

static int run_hs(double secs, int conc, int resume) {
  make_client_ctx();
  H.secs = secs;
  H.conc = conc > 0 ? conc : 1;
  H.resume = resume;
  const char *count = getenv("BENCH_HS_COUNT");
  H.limit = count != NULL ? atol(count) : 0;
  H.t0 = now_s();
  for (int i = 0; i < H.conc; i++) hs_start();
  portls_loop_run(loop);
  free((void *)H.session.base);
  portls_context_free(client_ctx);
  portls_loop_free(loop);
  return H.errors || H.done == 0 ? 1 : 0;
}

/* -------------------------------------------------------------------- idle */

static struct { int n, opened; } I;

static void idle_next(void);

static void idle_secure(portls_socket *sock, void *user) {
  (void)user;
  verbose_once(sock);
  I.opened++;
  idle_next();
}

static void idle_error(portls_socket *sock, const portls_error *err, void *user) {
  (void)sock, (void)user;
  die("idle", err);
}

static void idle_next(void) {
  static const portls_socket_events ev = {.secure_connect = idle_secure, .error = idle_error};
  if (I.opened >= I.n) {
    printf("opened %d\n", I.opened);
    fflush(stdout);
    return;
  }
  client_connect(&ev, NULL, (portls_buf){NULL, 0});
}

static void idle_sigterm_tick(portls_timer *t, void *user) {
  (void)t, (void)user;
  if (sigterm_seen) _exit(0);
}

static int run_idle(int n) {
  make_client_ctx();
  I.n = n;
  watch_sigterm(idle_sigterm_tick);
  idle_next();
  portls_loop_run(loop);
  return 0;
}

/* -------------------------------------------------------------------- main */

static void usage(void) {
  fprintf(stderr,
          "usage: portls-bench check        (exit 77: this backend cannot run the benchmark)\n"
          "       portls-bench server PORT CERTDIR ec|rsa\n"
          "       portls-bench bulk PORT MB\n"
          "       portls-bench hs PORT[,PORT...] SECONDS CONC [resume]\n"
          "       portls-bench idle PORT N\n");
  exit(2);
}

int main(int argc, char **argv) {
  /* The protocol is TLS 1.3 only: a backend without it cannot take part.
   * `check` says so (exit 77, "skipped") without running anything. */
  if (!portls_has_capability(PORTLS_CAP_TLS1_3)) {
    fprintf(stderr,
            "portls-bench: backend %s lacks capability '%s', which the benchmark protocol needs\n",
            portls_backend_name(), portls_capability_name(PORTLS_CAP_TLS1_3));
    return 77;
  }
  if (argc == 2 && strcmp(argv[1], "check") == 0) {
    printf("%s %s\n", portls_backend_name(), portls_backend_version());
    return 0;
  }
  if (argc < 4) usage();
  const char *v = getenv("PORTLS_BENCH_VERBOSE");
  verbose = v != NULL && *v == '1';
  const char *mode = argv[1];
  port = (uint16_t)atoi(argv[2]);
  for (const char *p = argv[2]; *p != '\0' && nports < sizeof ports / sizeof ports[0];) {
    ports[nports++] = (uint16_t)atoi(p);
    p += strcspn(p, ",");
    if (*p == ',') p++;
  }
  if (portls_loop_new(&loop) < 0) die("loop", NULL); /* also ignores SIGPIPE */

  if (strcmp(mode, "server") == 0) return run_server(argv[3], argc >= 5 ? argv[4] : "ec");
  if (strcmp(mode, "bulk") == 0) return run_bulk(atoi(argv[3]));
  if (strcmp(mode, "hs") == 0 && argc >= 5)
    return run_hs(atof(argv[3]), atoi(argv[4]), argc >= 6 && strcmp(argv[5], "resume") == 0);
  if (strcmp(mode, "idle") == 0) return run_idle(atoi(argv[3]));
  usage();
  return 2;
}
