/* libevent-bench: the benchmark protocol of docs/benchmark.md, written the way
 * a C programmer would without portls: libevent 2.1's socket-based
 * bufferevent_openssl over OpenSSL 3 (Debian 12: apt-get install
 * libevent-dev). scripts/bench.sh compiles it into its temporary directory:
 *
 *   cc -O2 -o libevent-bench libevent-bench.c -levent_openssl -levent -lssl -lcrypto
 *
 *   libevent-bench server PORT CERTDIR ec|rsa
 *       prints "listening"; on SIGTERM "rss_kb N conns M"; with env RSS_FILE
 *       set, rewrites that file with "RSS_KB CONNS" every 200 ms
 *   libevent-bench bulk PORT MB                   -> "bulk_MBps X"
 *   libevent-bench hs PORT SECONDS CONC [resume]  -> "hs_per_s X", "resumed_ratio R"
 *   libevent-bench idle PORT N                    -> "opened N", exits on SIGTERM
 *
 * Ending the write side is what Node's socket.end() does: close_notify
 * (SSL_shutdown), then a TCP half-close (shutdown(SHUT_WR)). A peer's FIN
 * without close_notify counts as the end of its data, as in Node.
 *
 * Knobs, not used for the headline figures:
 *   LEV_RELEASE_BUFFERS=1   SSL_MODE_RELEASE_BUFFERS on every SSL_CTX
 *   LEV_VERBOSE=1           clients print the first connection's version,
 *                           cipher and key-exchange group to stderr
 *   LEV_CURVE=NAME          SSL_CTX_set1_groups_list on every SSL_CTX (e.g.
 *                           X25519 or P-256; default: OpenSSL's list)
 *   BENCH_HS_COUNT=N        hs: start no more than N connections (the run also
 *                           ends after SECONDS), and print "hs_done D"
 *                           (connections closed cleanly): a fixed amount of
 *                           work for scripts/bench-instructions.sh
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define WRITE_SIZE (64 * 1024)
/* bulk keeps between these many bytes queued in the bufferevent */
#define QUEUE_LOW (128 * 1024)
#define QUEUE_HIGH (256 * 1024)

static struct event_base *evb;
static SSL_CTX *tls;
static struct sockaddr_in peer_addr; /* 127.0.0.1:PORT */
static int verbose;

/* ---------------------------------------------------------------- helpers */

static double clock_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void fatal(const char *what) {
  fprintf(stderr, "libevent-bench: %s\n", what);
  ERR_print_errors_fp(stderr);
  exit(1);
}

/* Resident set size from /proc/self/statm (second field, in pages). */
static long resident_kib(void) {
  long pages_total, pages_resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f == NULL) return 0;
  if (fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = 0;
  fclose(f);
  return pages_resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void make_ctx(const SSL_METHOD *method) {
  tls = SSL_CTX_new(method);
  if (tls == NULL) fatal("SSL_CTX_new");
  if (SSL_CTX_set_min_proto_version(tls, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(tls, TLS1_3_VERSION) != 1)
    fatal("TLS 1.3 only");
  if (SSL_CTX_set_ciphersuites(tls, "TLS_AES_128_GCM_SHA256") != 1) fatal("ciphersuites");
  /* libevent 2.1 reads a missing close_notify as an error under OpenSSL 3
   * unless OpenSSL is told to report it as a plain end of data. */
  SSL_CTX_set_options(tls, SSL_OP_IGNORE_UNEXPECTED_EOF);
  const char *release = getenv("LEV_RELEASE_BUFFERS");
  if (release != NULL && strcmp(release, "1") == 0) SSL_CTX_set_mode(tls, SSL_MODE_RELEASE_BUFFERS);
  const char *curve = getenv("LEV_CURVE");
  if (curve != NULL && *curve != '\0' && SSL_CTX_set1_groups_list(tls, curve) != 1)
    fatal("LEV_CURVE");
}

/* Puts a socket fd under TLS in a new bufferevent. */
static struct bufferevent *tls_bev(evutil_socket_t fd, SSL *ssl, enum bufferevent_ssl_state state) {
  struct bufferevent *bev =
      bufferevent_openssl_socket_new(evb, fd, ssl, state, BEV_OPT_CLOSE_ON_FREE);
  if (bev == NULL) {
    SSL_free(ssl);
    close(fd);
    return NULL;
  }
  bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
  return bev;
}

/* Drops whatever has been decrypted; returns how many bytes that was. */
static size_t discard_input(struct bufferevent *bev) {
  struct evbuffer *in = bufferevent_get_input(bev);
  size_t n = evbuffer_get_length(in);
  evbuffer_drain(in, n);
  return n;
}

/* --------------------------------------------------- ending the write side */

/* close_notify then FIN. SSL_shutdown writes straight to the socket; when the
 * socket is full it says WANT_WRITE and is tried again once writable. */
typedef struct {
  struct bufferevent *bev;
  struct event *retry;
  int sent;
} ender;

static void ender_try(evutil_socket_t fd, short what, void *arg);

static int ender_go(ender *e, struct bufferevent *bev) {
  SSL *ssl = bufferevent_openssl_get_ssl(bev);
  evutil_socket_t fd = bufferevent_getfd(bev);
  e->bev = bev;
  ERR_clear_error();
  int r = SSL_shutdown(ssl);
  if (r >= 0) {
    shutdown(fd, SHUT_WR);
    e->sent = 1;
    return 0;
  }
  int why = SSL_get_error(ssl, r);
  if (why != SSL_ERROR_WANT_WRITE && why != SSL_ERROR_WANT_READ) return -1;
  if (e->retry == NULL) e->retry = event_new(evb, fd, EV_WRITE, ender_try, e);
  event_add(e->retry, NULL);
  return 0;
}

static void ender_try(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what;
  ender *e = arg;
  if (ender_go(e, e->bev) < 0) fatal("SSL_shutdown");
}

static void ender_reset(ender *e) {
  if (e->retry != NULL) event_free(e->retry);
  memset(e, 0, sizeof *e);
}

static void client_error(struct bufferevent *bev, short what, const char *mode) {
  unsigned long ssl_err = bufferevent_get_openssl_error(bev);
  char detail[256] = "-";
  if (ssl_err != 0) ERR_error_string_n(ssl_err, detail, sizeof detail);
  int sock_err = EVUTIL_SOCKET_ERROR();
  fprintf(stderr, "%s: bufferevent event 0x%x, socket: %s, tls: %s\n", mode, (unsigned)what,
          sock_err ? evutil_socket_error_to_string(sock_err) : "-", detail);
}

/* ------------------------------------------------------------------ server */

typedef struct {
  uint64_t received;
  int replied; /* the count is queued; close once it has gone */
} session_state;

static long server_conns;
static const char *rss_path;

static void srv_close(struct bufferevent *bev, session_state *st) {
  bufferevent_free(bev);
  free(st);
  server_conns--;
}

static void srv_read(struct bufferevent *bev, void *arg) {
  session_state *st = arg;
  st->received += discard_input(bev);
}

static void srv_written(struct bufferevent *bev, void *arg) {
  session_state *st = arg;
  if (!st->replied || evbuffer_get_length(bufferevent_get_output(bev)) != 0) return;
  SSL_shutdown(bufferevent_openssl_get_ssl(bev)); /* close_notify, then the FIN of close() */
  srv_close(bev, st);
}

static void srv_event(struct bufferevent *bev, short what, void *arg) {
  session_state *st = arg;
  if (what & BEV_EVENT_CONNECTED) return;
  if ((what & BEV_EVENT_EOF) && !st->replied) {
    /* Data decrypted in the pass that saw the end may not have reached
     * srv_read yet: count it here. */
    st->received += discard_input(bev);
    char line[32];
    int len = snprintf(line, sizeof line, "%" PRIu64 "\n", st->received);
    st->replied = 1;
    bufferevent_write(bev, line, (size_t)len);
    return;
  }
  srv_close(bev, st); /* an error, or an end after the reply */
}

static void srv_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                       void *arg) {
  (void)l, (void)sa, (void)salen, (void)arg;
  SSL *ssl = SSL_new(tls);
  if (ssl == NULL) {
    close(fd);
    return;
  }
  struct bufferevent *bev = tls_bev(fd, ssl, BUFFEREVENT_SSL_ACCEPTING);
  session_state *st = calloc(1, sizeof *st);
  if (bev == NULL || st == NULL) {
    if (bev != NULL) bufferevent_free(bev);
    free(st);
    return;
  }
  server_conns++;
  bufferevent_setcb(bev, srv_read, srv_written, srv_event, st);
  bufferevent_enable(bev, EV_READ);
}

static void srv_rss_tick(evutil_socket_t fd, short what, void *arg) {
  (void)fd, (void)what, (void)arg;
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", rss_path);
  FILE *f = fopen(tmp, "w");
  if (f == NULL) return;
  fprintf(f, "%ld %ld\n", resident_kib(), server_conns);
  fclose(f);
  rename(tmp, rss_path); /* a reader never sees half a line */
}

static void srv_sigterm(evutil_socket_t sig, short what, void *arg) {
  (void)sig, (void)what, (void)arg;
  printf("rss_kb %ld conns %ld\n", resident_kib(), server_conns);
  fflush(stdout);
  exit(0);
}

static int serve(const char *dir, const char *kind) {
  char key[4096], cert[4096];
  snprintf(key, sizeof key, "%s/%s-key.pem", dir, kind);
  snprintf(cert, sizeof cert, "%s/%s-cert.pem", dir, kind);
  make_ctx(TLS_server_method());
  if (SSL_CTX_use_certificate_chain_file(tls, cert) != 1) fatal(cert);
  if (SSL_CTX_use_PrivateKey_file(tls, key, SSL_FILETYPE_PEM) != 1) fatal(key);
  if (SSL_CTX_check_private_key(tls) != 1) fatal("key and certificate do not match");

  struct evconnlistener *l =
      evconnlistener_new_bind(evb, srv_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 511,
                              (struct sockaddr *)&peer_addr, sizeof peer_addr);
  if (l == NULL) fatal("listen");
  struct event *term = evsignal_new(evb, SIGTERM, srv_sigterm, NULL);
  event_add(term, NULL);
  rss_path = getenv("RSS_FILE");
  if (rss_path != NULL && *rss_path != '\0') {
    struct event *tick = event_new(evb, -1, EV_PERSIST, srv_rss_tick, NULL);
    struct timeval every = {0, 200 * 1000};
    event_add(tick, &every);
  }
  printf("listening\n");
  fflush(stdout);
  event_base_dispatch(evb);
  return 0;
}

/* ----------------------------------------------------------------- clients */

static SSL_SESSION *newest_session; /* hs resume: offered by the next connection */

static int keep_session(SSL *ssl, SSL_SESSION *s) {
  (void)ssl;
  SSL_SESSION_free(newest_session);
  newest_session = s;
  return 1; /* the reference is ours now */
}

static void client_ctx(void) {
  make_ctx(TLS_client_method());
  SSL_CTX_set_verify(tls, SSL_VERIFY_NONE, NULL); /* rejectUnauthorized: false */
  SSL_CTX_set_session_cache_mode(tls, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(tls, keep_session);
}

static struct bufferevent *dial(SSL_SESSION *offer, bufferevent_data_cb on_read,
                                bufferevent_data_cb on_written, bufferevent_event_cb on_event,
                                void *arg) {
  evutil_socket_t fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fatal("socket");
  if (connect(fd, (struct sockaddr *)&peer_addr, sizeof peer_addr) < 0 && errno != EINPROGRESS)
    fatal("connect");
  SSL *ssl = SSL_new(tls);
  if (ssl == NULL) fatal("SSL_new");
  if (offer != NULL) SSL_set_session(ssl, offer);
  struct bufferevent *bev = tls_bev(fd, ssl, BUFFEREVENT_SSL_CONNECTING);
  if (bev == NULL) fatal("bufferevent_openssl_socket_new");
  bufferevent_setcb(bev, on_read, on_written, on_event, arg);
  bufferevent_enable(bev, EV_READ);
  return bev;
}

static void describe_once(struct bufferevent *bev) {
  static int done;
  if (!verbose || done) return;
  done = 1;
  SSL *ssl = bufferevent_openssl_get_ssl(bev);
  fprintf(stderr, "negotiated %s %s group=%s reused=%d\n", SSL_get_version(ssl),
          SSL_get_cipher_name(ssl), OBJ_nid2sn(SSL_get_negotiated_group(ssl)),
          SSL_session_reused(ssl));
}

/* -------------------------------------------------------------------- bulk */

static struct {
  uint64_t total, queued;
  double started;
  char reply[64];
  size_t reply_len;
  int draining; /* all queued: wait for an empty output buffer */
  ender end;
} bulk_run;

static unsigned char block[WRITE_SIZE];

static void bulk_take_reply(struct bufferevent *bev) {
  struct evbuffer *in = bufferevent_get_input(bev);
  size_t n = evbuffer_get_length(in);
  if (bulk_run.reply_len + n >= sizeof bulk_run.reply) fatal("bulk: reply too long");
  evbuffer_remove(in, bulk_run.reply + bulk_run.reply_len, n);
  bulk_run.reply_len += n;
}

static void bulk_feed(struct bufferevent *bev) {
  struct evbuffer *out = bufferevent_get_output(bev);
  while (bulk_run.queued < bulk_run.total && evbuffer_get_length(out) < QUEUE_HIGH) {
    bufferevent_write(bev, block, sizeof block);
    bulk_run.queued += sizeof block;
  }
  if (bulk_run.queued < bulk_run.total) return;
  if (!bulk_run.draining) {
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0); /* called back when empty */
    bulk_run.draining = 1;
  }
  if (evbuffer_get_length(out) == 0 && !bulk_run.end.sent && bulk_run.end.retry == NULL &&
      ender_go(&bulk_run.end, bev) < 0)
    fatal("bulk: SSL_shutdown");
}

static void bulk_written(struct bufferevent *bev, void *arg) {
  (void)arg;
  bulk_feed(bev);
}

static void bulk_read(struct bufferevent *bev, void *arg) {
  (void)arg;
  bulk_take_reply(bev);
}

static void bulk_event(struct bufferevent *bev, short what, void *arg) {
  (void)arg;
  if (what & BEV_EVENT_CONNECTED) {
    describe_once(bev);
    bufferevent_setwatermark(bev, EV_WRITE, QUEUE_LOW, 0);
    bulk_feed(bev);
    return;
  }
  if (!(what & BEV_EVENT_EOF)) {
    client_error(bev, what, "bulk");
    exit(1);
  }
  bulk_take_reply(bev);
  double elapsed = clock_s() - bulk_run.started;
  bulk_run.reply[bulk_run.reply_len] = '\0';
  char *rest;
  unsigned long long count = strtoull(bulk_run.reply, &rest, 10);
  if (bulk_run.reply_len == 0 || strcmp(rest, "\n") != 0 || count != bulk_run.total) {
    fprintf(stderr, "short reply '%s' (expected %" PRIu64 ")\n", bulk_run.reply, bulk_run.total);
    exit(1);
  }
  printf("bulk_MBps %.1f\n", (double)bulk_run.total / 1048576.0 / elapsed);
  fflush(stdout);
  ender_reset(&bulk_run.end);
  bufferevent_free(bev);
  event_base_loopbreak(evb);
}

static int bulk(int mib) {
  client_ctx();
  memset(block, 7, sizeof block);
  bulk_run.total = (uint64_t)mib << 20;
  bulk_run.started = clock_s(); /* the handshake is part of the figure */
  dial(NULL, bulk_read, bulk_written, bulk_event, NULL);
  event_base_dispatch(evb);
  return 0;
}

/* ---------------------------------------------------------------------- hs */

typedef struct {
  ender end;
} hs_slot; /* one of the CONC loops */

static struct {
  double started, secs;
  int loops, stopped, resume;
  long done, reused, errors;
  long dialed, limit; /* limit: BENCH_HS_COUNT, 0 for none */
} hs_run;

static void hs_next(hs_slot *slot);

static void ignore_input(struct bufferevent *bev, void *arg) {
  (void)arg;
  discard_input(bev);
}

static void hs_event(struct bufferevent *bev, short what, void *arg) {
  hs_slot *slot = arg;
  if (what & BEV_EVENT_CONNECTED) {
    describe_once(bev);
    if (SSL_session_reused(bufferevent_openssl_get_ssl(bev))) hs_run.reused++;
    if (ender_go(&slot->end, bev) == 0) return; /* now wait for the server's end */
    hs_run.errors++;
  } else if (what & BEV_EVENT_EOF) {
    hs_run.done++;
  } else if (hs_run.errors++ < 5) {
    client_error(bev, what, "hs");
  }
  ender_reset(&slot->end);
  bufferevent_free(bev);
  hs_next(slot);
}

static void hs_next(hs_slot *slot) {
  double now = clock_s();
  if (now - hs_run.started <= hs_run.secs && (hs_run.limit <= 0 || hs_run.dialed < hs_run.limit)) {
    hs_run.dialed++;
    dial(hs_run.resume ? newest_session : NULL, ignore_input, NULL, hs_event, slot);
    return;
  }
  if (++hs_run.stopped < hs_run.loops) return;
  double elapsed = now - hs_run.started;
  printf("hs_per_s %.0f\n", (double)hs_run.done / elapsed);
  printf("resumed_ratio %.3f\n", hs_run.done ? (double)hs_run.reused / (double)hs_run.done : 0.0);
  if (hs_run.limit > 0) printf("hs_done %ld\n", hs_run.done);
  if (hs_run.errors) fprintf(stderr, "hs errors %ld\n", hs_run.errors);
  fflush(stdout);
  event_base_loopbreak(evb);
}

static int hs(double secs, int loops, int resume) {
  client_ctx();
  hs_run.secs = secs;
  hs_run.loops = loops > 0 ? loops : 1;
  hs_run.resume = resume;
  const char *count = getenv("BENCH_HS_COUNT");
  hs_run.limit = count != NULL ? atol(count) : 0;
  hs_slot *slots = calloc((size_t)hs_run.loops, sizeof *slots);
  if (slots == NULL) fatal("out of memory");
  hs_run.started = clock_s();
  for (int i = 0; i < hs_run.loops; i++) hs_next(&slots[i]);
  event_base_dispatch(evb);
  free(slots);
  return hs_run.errors || hs_run.done == 0 ? 1 : 0;
}

/* -------------------------------------------------------------------- idle */

static int idle_want, idle_open;

static void idle_open_one(void);

static void idle_event(struct bufferevent *bev, short what, void *arg) {
  (void)arg;
  if (!(what & BEV_EVENT_CONNECTED)) {
    client_error(bev, what, "idle");
    exit(1);
  }
  describe_once(bev);
  idle_open++;
  idle_open_one();
}

static void idle_open_one(void) {
  if (idle_open < idle_want) {
    dial(NULL, ignore_input, NULL, idle_event, NULL);
    return;
  }
  printf("opened %d\n", idle_open);
  fflush(stdout);
}

static void idle_sigterm(evutil_socket_t sig, short what, void *arg) {
  (void)sig, (void)what, (void)arg;
  exit(0);
}

static int idle(int n) {
  client_ctx();
  idle_want = n;
  struct event *term = evsignal_new(evb, SIGTERM, idle_sigterm, NULL);
  event_add(term, NULL);
  idle_open_one();
  event_base_dispatch(evb);
  return 0;
}

/* -------------------------------------------------------------------- main */

static int usage(void) {
  fprintf(stderr, "usage: libevent-bench server PORT CERTDIR ec|rsa\n"
                  "       libevent-bench bulk PORT MB\n"
                  "       libevent-bench hs PORT SECONDS CONC [resume]\n"
                  "       libevent-bench idle PORT N\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 4) return usage();
  signal(SIGPIPE, SIG_IGN);
  const char *v = getenv("LEV_VERBOSE");
  verbose = v != NULL && strcmp(v, "1") == 0;
  evb = event_base_new();
  if (evb == NULL) fatal("event_base_new");
  peer_addr.sin_family = AF_INET;
  peer_addr.sin_port = htons((uint16_t)atoi(argv[2]));
  peer_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  const char *mode = argv[1];
  if (strcmp(mode, "server") == 0) return serve(argv[3], argc > 4 ? argv[4] : "ec");
  if (strcmp(mode, "bulk") == 0) return bulk(atoi(argv[3]));
  if (strcmp(mode, "hs") == 0 && argc > 4)
    return hs(atof(argv[3]), atoi(argv[4]), argc > 5 && strcmp(argv[5], "resume") == 0);
  if (strcmp(mode, "idle") == 0) return idle(atoi(argv[3]));
  return usage();
}
