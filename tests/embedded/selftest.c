/* portls end-to-end self-test for targets without a test framework.
 *
 *   selftest [CERTS_DIR]      (default: $PORTLS_CERTS)
 *
 * Built for 32-bit ARM Linux and run under qemu-arm by scripts/embedded.sh
 * (Debian ships no armhf Criterion, so this program stands alone). It uses only
 * the public API, prints one line per test and, last, `N passed, M failed`;
 * it exits 0 only when nothing failed.
 *
 * Tests: SecurePair client and server pumped into each other (handshake at the
 * backend's highest version, TLS 1.3 where it has it, data both ways, 100 KiB
 * echoed, clean end; the same at TLS 1.2), a self-signed server refused with
 * DEPTH_ZERO_SELF_SIGNED_CERT (and accepted-but-unauthorized without
 * rejectUnauthorized), a TLS server and client over TCP on 127.0.0.1, an
 * expired certificate (CERT_HAS_EXPIRED) and a certificate for another host
 * (ERR_TLS_CERT_ALTNAME_INVALID) refused over TCP.
 *
 * Then it measures what one TLS connection costs in RAM: a server in this
 * process accepts N connections from a client in a child process, and once all
 * are established and idle the growth of the heap is divided by N. Figures: the
 * bytes portls itself holds (through a counting portls_set_allocator), the whole
 * heap growth (glibc's mallinfo2), and, when built with SELFTEST_COUNT_CALLOC,
 * the bytes mbed TLS holds. Without MBEDTLS_PLATFORM_MEMORY (portls's host
 * configuration) mbed TLS's allocations cannot be routed through portls's
 * allocator, but a static mbed TLS calls calloc and free directly, so
 * scripts/embedded.sh links this program with -Wl,--wrap=calloc,--wrap=free and
 * the wrappers below count them. With both counts, it also measures the peak one
 * handshake over TCP reaches on each end (the first connection of each side after
 * its warm-up, with nothing else in flight). Kernel socket buffers and stack are
 * not included.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
#define HAVE_MALLINFO2 1
#endif

#include "portls/portls.h"

#define WATCHDOG_MS 60000 /* per test; handshakes under emulation are slow */
#define BIG_LEN (100 * 1024)
#define IDLE_N 16
#define SETTLE_MS 300

static const char *certs_dir;
static int passed, failed;
static int cur_failed; /* the running test has failed */

static void fail_(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stdout, "  %s:%d: ", file, line);
  vfprintf(stdout, fmt, ap);
  fputc('\n', stdout);
  va_end(ap);
  cur_failed = 1;
}
#define EXPECT(cond, ...)                                                                          \
  do {                                                                                             \
    if (!(cond)) fail_(__FILE__, __LINE__, __VA_ARGS__);                                           \
  } while (0)

/* ---- a counting allocator: what portls itself holds ---------------------- */

/* Each block carries its size in a header as large as malloc's alignment. */
typedef union hdr {
  size_t size;
  long double ld;
  void *p;
  long long ll;
} hdr;
static size_t live_bytes;

/* The bytes mbed TLS holds (SELFTEST_COUNT_CALLOC), and the peak of both counts
 * since peak_reset(). */
static size_t mbed_bytes, peak_bytes;
static int mbed_counted;

static void peak_update(void) {
  if (live_bytes + mbed_bytes > peak_bytes) peak_bytes = live_bytes + mbed_bytes;
}
static size_t peak_reset(void) {
  peak_bytes = live_bytes + mbed_bytes;
  return peak_bytes;
}

static void *count_malloc(void *ctx, size_t n) {
  (void)ctx;
  hdr *h = malloc(sizeof *h + n);
  if (h == NULL) return NULL;
  h->size = n;
  live_bytes += n;
  peak_update();
  return h + 1;
}
static void count_free(void *ctx, void *p) {
  (void)ctx;
  if (p == NULL) return;
  hdr *h = (hdr *)p - 1;
  live_bytes -= h->size;
  free(h);
}
static void *count_realloc(void *ctx, void *p, size_t n) {
  if (p == NULL) return count_malloc(ctx, n);
  if (n == 0) {
    count_free(ctx, p);
    return NULL;
  }
  hdr *old = (hdr *)p - 1;
  size_t was = old->size;
  hdr *h = realloc(old, sizeof *h + n);
  if (h == NULL) return NULL;
  h->size = n;
  live_bytes = live_bytes - was + n;
  peak_update();
  return h + 1;
}

#ifdef SELFTEST_COUNT_CALLOC
/* calloc and free of the whole program go through these (the link's --wrap):
 * in it, only mbed TLS calls calloc (portls allocates through count_malloc,
 * this file through malloc and realloc). A calloc'd block is recorded in an
 * open-addressing table, so that free knows its size and every other free
 * passes straight through. */
void *__real_calloc(size_t n, size_t size);
void __real_free(void *p);
void *__wrap_calloc(size_t n, size_t size);
void __wrap_free(void *p);

#define MBED_SLOTS 65536u /* a power of two, well above the blocks ever live at once */
static struct {
  void *p;
  size_t size;
} mbed_blocks[MBED_SLOTS];

static size_t slot_of(const void *p) {
  return (size_t)(((uintptr_t)p >> 3) * 2654435761u) & (MBED_SLOTS - 1);
}

void *__wrap_calloc(size_t n, size_t size) {
  void *p = __real_calloc(n, size);
  if (p == NULL) return NULL;
  size_t i = slot_of(p), probes = 0;
  while (mbed_blocks[i].p != NULL && ++probes < MBED_SLOTS) i = (i + 1) & (MBED_SLOTS - 1);
  if (probes == MBED_SLOTS) abort(); /* the table is full: the count would be wrong */
  mbed_blocks[i].p = p;
  mbed_blocks[i].size = n * size;
  mbed_bytes += n * size;
  peak_update();
  return p;
}

void __wrap_free(void *p) {
  if (p == NULL) return;
  size_t i = slot_of(p);
  while (mbed_blocks[i].p != NULL && mbed_blocks[i].p != p) i = (i + 1) & (MBED_SLOTS - 1);
  if (mbed_blocks[i].p == p) {
    mbed_bytes -= mbed_blocks[i].size;
    /* Backward-shift deletion: the entries after i that probed past it move up. */
    size_t j = i;
    for (;;) {
      mbed_blocks[i].p = NULL;
      for (;;) {
        j = (j + 1) & (MBED_SLOTS - 1);
        if (mbed_blocks[j].p == NULL) {
          __real_free(p);
          return;
        }
        size_t home = slot_of(mbed_blocks[j].p);
        /* j's entry stays unless its home lies cyclically outside (i, j]. */
        if (i <= j ? (i < home && home <= j) : (i < home || home <= j)) continue;
        break;
      }
      mbed_blocks[i] = mbed_blocks[j];
      i = j;
    }
  }
  __real_free(p);
}
#endif

/* Bytes in use on the heap, by glibc's count (0 where unknown). */
static size_t heap_bytes(void) {
#ifdef HAVE_MALLINFO2
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
#else
  return 0;
#endif
}

/* ---- files ------------------------------------------------------------- */

#define MAX_FILES 16
static struct {
  char name[64];
  portls_buf buf;
} files[MAX_FILES];
static size_t nfiles;

/* A file of the certificate directory, read once; NULL (and a failure) if unreadable. */
static const portls_buf *file(const char *name) {
  for (size_t i = 0; i < nfiles; i++)
    if (strcmp(files[i].name, name) == 0) return &files[i].buf;
  if (nfiles == MAX_FILES) return NULL;
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", certs_dir, name);
  portls_error err = {0, ""};
  if (portls_read_file(path, &files[nfiles].buf, &err) != 0) {
    fprintf(stdout, "  cannot read %s: %s\n", path, err.message);
    cur_failed = 1;
    return NULL;
  }
  snprintf(files[nfiles].name, sizeof files[nfiles].name, "%s", name);
  return &files[nfiles++].buf;
}

static void free_files(void) {
  for (size_t i = 0; i < nfiles; i++) portls_free((void *)files[i].buf.base);
  nfiles = 0;
}

/* portls_context_options_init() plus key/cert/ca files (each may be NULL). */
static void ctx_opts(portls_context_options *o, const char *key, const char *cert, const char *ca) {
  portls_context_options_init(o);
  if (key) o->key = file(key), o->key_count = o->key ? 1 : 0;
  if (cert) o->cert = file(cert), o->cert_count = o->cert ? 1 : 0;
  if (ca) o->ca = file(ca), o->ca_count = o->ca ? 1 : 0;
}

/* ---- the loop, with a watchdog ----------------------------------------- */

typedef struct run {
  portls_loop *loop;
  portls_timer *watchdog;
  int expired;
} run;

static void on_watchdog(portls_timer *t, void *u) {
  (void)t;
  ((run *)u)->expired = 1;
}

static int run_begin(run *r) {
  memset(r, 0, sizeof *r);
  if (portls_loop_new(&r->loop) != 0) return -1;
  if (portls_timer_new(r->loop, on_watchdog, r, &r->watchdog) != 0) return -1;
  portls_timer_start(r->watchdog, WATCHDOG_MS, 0);
  return 0;
}

/* One loop iteration; 0 when the watchdog fired or nothing is left to run. */
static int step(run *r) {
  if (r->expired) return 0;
  if (portls_loop_run_once(r->loop, 1) < 0) return 0;
  return !r->expired;
}
#define RUN_UNTIL(r, cond)                                                                         \
  do {                                                                                             \
    while (!(cond))                                                                                \
      if (!step(r)) {                                                                              \
        fail_(__FILE__, __LINE__, "timed out waiting for: %s", #cond);                             \
        break;                                                                                     \
      }                                                                                            \
  } while (0)

static void on_delay(portls_timer *t, void *u) {
  (void)t;
  *(int *)u = 1;
}
/* Runs the loop for ms milliseconds. */
static void run_for(run *r, uint64_t ms) {
  int done = 0;
  portls_timer *t;
  if (portls_timer_new(r->loop, on_delay, &done, &t) != 0) return;
  portls_timer_start(t, ms, 0);
  while (!done && step(r)) {}
  portls_timer_free(t);
}

/* After the test's own teardown: a fresh deadline for closing, then frees the loop. */
static void run_end(run *r, int (*all_closed)(void *), void *u) {
  r->expired = 0;
  portls_timer_start(r->watchdog, WATCHDOG_MS, 0);
  while (!all_closed(u) && step(r)) {}
  EXPECT(all_closed(u), "objects still open at teardown");
  portls_timer_free(r->watchdog);
  /* Let the loop run the timer's close, then free it. */
  for (int i = 0; i < 10 && portls_loop_run_once(r->loop, 0) > 0; i++) {}
  int rc = portls_loop_free(r->loop);
  EXPECT(rc == 0, "portls_loop_free: %s", portls_err_name(rc));
}

/* ---- one side of a conversation ---------------------------------------- */

typedef struct side {
  portls_socket *sock;
  int secure, authorized, auth_error, ended, closed, had_error, errors, err_code;
  char err_msg[256];
  unsigned char *rx;
  size_t rx_len, rx_cap;
  int echo;         /* write back whatever arrives */
  int end_on_end;   /* end our side when the peer ends */
  size_t end_after; /* end once this many bytes have arrived (0: never) */
} side;

static void s_secure(portls_socket *s, void *u) {
  side *d = u;
  d->secure++;
  d->authorized = portls_socket_authorized(s);
  d->auth_error = portls_socket_authorization_error(s);
}
static void s_data(portls_socket *s, const void *p, size_t n, void *u) {
  side *d = u;
  if (d->rx_len + n > d->rx_cap) {
    size_t cap = d->rx_cap ? d->rx_cap * 2 : 4096;
    while (cap < d->rx_len + n) cap *= 2;
    unsigned char *nb = realloc(d->rx, cap);
    if (nb == NULL) return;
    d->rx = nb, d->rx_cap = cap;
  }
  memcpy(d->rx + d->rx_len, p, n);
  d->rx_len += n;
  if (d->echo) portls_socket_write(s, p, n);
  if (d->end_after && d->rx_len >= d->end_after) {
    d->end_after = 0;
    portls_socket_end(s, NULL, 0);
  }
}
static void s_end(portls_socket *s, void *u) {
  side *d = u;
  d->ended++;
  if (d->end_on_end) portls_socket_end(s, NULL, 0);
}
static void s_error(portls_socket *s, const portls_error *err, void *u) {
  (void)s;
  side *d = u;
  d->errors++;
  d->err_code = err->code;
  snprintf(d->err_msg, sizeof d->err_msg, "%s", err->message);
}
static void s_close(portls_socket *s, int had_error, void *u) {
  (void)s;
  side *d = u;
  d->closed++;
  d->had_error = had_error;
  d->sock = NULL;
}
static const portls_socket_events side_events = {
    .secure_connect = s_secure, .data = s_data, .end = s_end, .error = s_error, .close = s_close};

static void side_free(side *d) {
  free(d->rx);
  d->rx = NULL;
}

static unsigned char *pattern(size_t len) {
  unsigned char *b = malloc(len);
  if (b == NULL) return NULL;
  uint32_t x = 2463534242u; /* xorshift: no run repeats at a record boundary */
  for (size_t i = 0; i < len; i++) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    b[i] = (unsigned char)x;
  }
  return b;
}

/* ---- SecurePair: two pairs pumped into each other ------------------------ */

typedef struct pumped {
  portls_pair *client, *server;
  side c, s;
  int c_secure, s_secure;
} pumped;

static void pair_secure(portls_pair *p, void *u) {
  pumped *pp = u;
  if (p == pp->client)
    pp->c_secure++;
  else
    pp->s_secure++;
}
static void pair_data(portls_pair *p, const void *d, size_t n, void *u) {
  pumped *pp = u;
  portls_pair *peer = p == pp->client ? pp->server : pp->client;
  if (peer != NULL && (p == pp->client ? pp->s.closed : pp->c.closed) == 0) {
    int rc = portls_pair_encrypted_write(peer, d, n);
    if (rc != 0) fail_(__FILE__, __LINE__, "encrypted_write: %s", portls_err_name(rc));
  }
}
static void pair_end(portls_pair *p, void *u) {
  pumped *pp = u;
  portls_pair *peer = p == pp->client ? pp->server : pp->client;
  if (peer != NULL && (p == pp->client ? pp->s.closed : pp->c.closed) == 0)
    portls_pair_encrypted_end(peer);
}
static const portls_pair_events pumped_events = {
    .secure = pair_secure, .encrypted_data = pair_data, .encrypted_end = pair_end};

static int pumped_closed(void *u) {
  pumped *pp = u;
  return (pp->c.closed || pp->client == NULL) && (pp->s.closed || pp->server == NULL);
}

/* Server (key, cert) and client (trusting ca.crt, servername localhost, offering up
 * to max: PORTLS_TLS_ANY for the backend's highest). */
static int pumped_new(run *r, pumped *pp, const char *key, const char *cert, int reject,
                      portls_tls_version max) {
  memset(pp, 0, sizeof *pp);
  portls_tls_socket_options so, co;
  portls_tls_socket_options_init(&so);
  so.is_server = 1;
  ctx_opts(&so.tls.context, key, cert, NULL);
  so.events = &side_events;
  so.user = &pp->s;
  portls_tls_socket_options_init(&co);
  ctx_opts(&co.tls.context, NULL, NULL, "ca.crt");
  co.tls.context.max_version = max;
  co.tls.servername = "localhost";
  co.tls.reject_unauthorized = reject;
  co.events = &side_events;
  co.user = &pp->c;
  if (cur_failed) return -1;
  portls_error err = {0, ""};
  int rc = portls_pair_new(r->loop, &so, &pumped_events, pp, &pp->server, &err);
  EXPECT(rc == 0, "server pair: %s %s", portls_err_name(rc), err.message);
  if (rc != 0) return -1;
  rc = portls_pair_new(r->loop, &co, &pumped_events, pp, &pp->client, &err);
  EXPECT(rc == 0, "client pair: %s %s", portls_err_name(rc), err.message);
  if (rc != 0) {
    portls_socket_destroy(portls_pair_cleartext(pp->server), NULL);
    return -1;
  }
  pp->s.sock = portls_pair_cleartext(pp->server);
  pp->c.sock = portls_pair_cleartext(pp->client);
  return 0;
}

static void pumped_teardown(run *r, pumped *pp) {
  if (!pp->c.closed && pp->c.sock) portls_socket_destroy(pp->c.sock, NULL);
  if (!pp->s.closed && pp->s.sock) portls_socket_destroy(pp->s.sock, NULL);
  run_end(r, pumped_closed, pp);
  side_free(&pp->c);
  side_free(&pp->s);
}

/* The highest version the backend has: what a client and server settle on by default. */
static const char *highest_version(void) {
  return portls_has_capability(PORTLS_CAP_TLS1_3) ? "TLSv1.3" : "TLSv1.2";
}

/* A conversation with the client offering up to max; want: getProtocol()'s answer. */
static void pair_conversation(portls_tls_version max, const char *want) {
  run r;
  EXPECT(run_begin(&r) == 0, "loop");
  static pumped pp;
  if (pumped_new(&r, &pp, "server-rsa.key", "server-rsa-chain.crt", 1, max) != 0) {
    pumped_teardown(&r, &pp);
    return;
  }
  unsigned char *big = pattern(BIG_LEN);
  pp.s.echo = 1;
  pp.s.end_on_end = 1;
  /* Written before the handshake: sent after it. Then 100 KiB and our end. */
  EXPECT(portls_socket_write(pp.c.sock, "ping", 4) >= 0, "write ping");
  RUN_UNTIL(&r, pp.c.rx_len >= 4 || pp.c.closed);
  EXPECT(pp.c_secure == 1 && pp.s_secure == 1, "'secure' on both pairs (%d, %d)", pp.c_secure,
         pp.s_secure);
  EXPECT(pp.c.secure == 1 && pp.c.authorized == 1, "client secureConnect and authorized (%s)",
         portls_err_name(pp.c.auth_error));
  EXPECT(pp.c.rx_len == 4 && memcmp(pp.c.rx, "ping", 4) == 0, "ping echoed");
  portls_cipher ci;
  EXPECT(portls_socket_get_cipher(pp.c.sock, &ci) == 0 && ci.name[0] != '\0', "getCipher");
  const char *proto = portls_socket_get_protocol(pp.c.sock);
  EXPECT(proto != NULL && strcmp(proto, want) == 0, "getProtocol: %s, want %s",
         proto ? proto : "NULL", want);
  portls_cert *cert = NULL;
  EXPECT(portls_socket_get_peer_certificate(pp.c.sock, 0, &cert, NULL) == 0 && cert != NULL,
         "peer certificate");
  portls_cert_free(cert);

  if (big != NULL && pp.c.sock != NULL) {
    portls_socket_write(pp.c.sock, big, BIG_LEN);
    portls_socket_end(pp.c.sock, NULL, 0);
  }
  RUN_UNTIL(&r, pp.c.closed && pp.s.closed);
  EXPECT(pp.s.rx_len == 4 + BIG_LEN, "server received %zu bytes, want %d", pp.s.rx_len,
         4 + BIG_LEN);
  EXPECT(pp.c.rx_len == 4 + BIG_LEN, "client received %zu bytes back, want %d", pp.c.rx_len,
         4 + BIG_LEN);
  EXPECT(big != NULL && pp.c.rx_len == 4 + BIG_LEN && memcmp(pp.c.rx + 4, big, BIG_LEN) == 0,
         "100 KiB came back intact");
  EXPECT(pp.c.ended == 1 && pp.s.ended == 1, "'end' on both sides (%d, %d)", pp.c.ended,
         pp.s.ended);
  EXPECT(pp.c.had_error == 0 && pp.s.had_error == 0 && pp.c.errors == 0 && pp.s.errors == 0,
         "clean close (client error: %s %s)", pp.c.errors ? portls_err_name(pp.c.err_code) : "-",
         pp.c.err_msg);
  free(big);
  pumped_teardown(&r, &pp);
}

static void test_pair_highest_version(void) {
  pair_conversation(PORTLS_TLS_ANY, highest_version());
}
static void test_pair_tls12(void) { pair_conversation(PORTLS_TLS1_2, "TLSv1.2"); }

static void test_pair_self_signed_rejected(void) {
  run r;
  EXPECT(run_begin(&r) == 0, "loop");
  static pumped pp;
  if (pumped_new(&r, &pp, "self-signed.key", "self-signed.crt", 1, PORTLS_TLS_ANY) != 0) {
    pumped_teardown(&r, &pp);
    return;
  }
  RUN_UNTIL(&r, pp.c.closed);
  EXPECT(pp.c.secure == 0 && pp.c_secure == 0, "no secureConnect with rejectUnauthorized");
  EXPECT(pp.c.err_code == PORTLS_EDEPTH_ZERO_SELF_SIGNED_CERT, "client error %s (%s), want %s",
         portls_err_name(pp.c.err_code), pp.c.err_msg,
         portls_err_name(PORTLS_EDEPTH_ZERO_SELF_SIGNED_CERT));
  EXPECT(pp.c.had_error == 1, "close(had_error)");
  pumped_teardown(&r, &pp);
}

static void test_pair_self_signed_unauthorized_without_reject(void) {
  run r;
  EXPECT(run_begin(&r) == 0, "loop");
  static pumped pp;
  if (pumped_new(&r, &pp, "self-signed.key", "self-signed.crt", 0, PORTLS_TLS_ANY) != 0) {
    pumped_teardown(&r, &pp);
    return;
  }
  RUN_UNTIL(&r, pp.c.secure || pp.c.closed);
  EXPECT(pp.c.secure == 1, "secureConnect without rejectUnauthorized");
  EXPECT(pp.c.authorized == 0, "authorized is false");
  EXPECT(pp.c.auth_error == PORTLS_EDEPTH_ZERO_SELF_SIGNED_CERT, "authorizationError %s",
         portls_err_name(pp.c.auth_error));
  if (pp.c.sock) portls_socket_end(pp.c.sock, NULL, 0);
  pp.s.end_on_end = 1;
  RUN_UNTIL(&r, pp.c.closed && pp.s.closed);
  pumped_teardown(&r, &pp);
}

/* ---- TCP on 127.0.0.1 ---------------------------------------------------- */

#define MAX_CONNS 32
typedef struct net {
  portls_server *srv;
  int listening, srv_closed, client_errors, client_err_code;
  uint16_t port;
  side conns[MAX_CONNS];
  size_t nconns;
  int conn_echo, conn_end_on_end;
  side client;
} net;

static void n_listening(portls_server *s, void *u) {
  (void)s;
  ((net *)u)->listening = 1;
}
static void n_secure_connection(portls_server *s, portls_socket *sock, void *u) {
  (void)s;
  net *n = u;
  if (n->nconns == MAX_CONNS) {
    portls_socket_destroy(sock, NULL);
    return;
  }
  side *d = &n->conns[n->nconns++];
  d->sock = sock;
  d->secure = 1;
  d->echo = n->conn_echo;
  d->end_on_end = n->conn_end_on_end;
  portls_socket_set_events(sock, &side_events, d);
}
static void n_client_error(portls_server *s, const portls_error *err, portls_socket *sock,
                           void *u) {
  (void)s, (void)sock;
  net *n = u;
  n->client_errors++;
  n->client_err_code = err->code;
}
static void n_close(portls_server *s, void *u) {
  (void)s;
  net *n = u;
  n->srv_closed = 1;
  n->srv = NULL;
}
static const portls_server_events net_events = {.listening = n_listening,
                                                .secure_connection = n_secure_connection,
                                                .client_error = n_client_error,
                                                .close = n_close};

static int net_listen(run *r, net *n, const char *key, const char *cert) {
  portls_server_options so;
  portls_server_options_init(&so);
  ctx_opts(&so.tls.context, key, cert, NULL);
  so.events = &net_events;
  so.user = n;
  if (cur_failed) return -1;
  portls_error err = {0, ""};
  int rc = portls_tls_create_server(r->loop, &so, &n->srv, &err);
  EXPECT(rc == 0, "createServer: %s %s", portls_err_name(rc), err.message);
  if (rc != 0) return -1;
  rc = portls_server_listen(n->srv, "127.0.0.1", 0, 64, &err);
  EXPECT(rc == 0, "listen: %s %s", portls_err_name(rc), err.message);
  if (rc != 0) return -1;
  portls_address a;
  rc = portls_server_address(n->srv, &a);
  EXPECT(rc == 0 && a.port > 0, "server.address()");
  n->port = (uint16_t)a.port;
  RUN_UNTIL(r, n->listening);
  return rc;
}

static int net_closed(void *u) {
  net *n = u;
  for (size_t i = 0; i < n->nconns; i++)
    if (!n->conns[i].closed) return 0;
  return n->srv_closed && (n->client.closed || n->client.sock == NULL);
}

static int conns_closed(const net *n) {
  for (size_t i = 0; i < n->nconns; i++)
    if (!n->conns[i].closed) return 0;
  return 1;
}

static void net_teardown(run *r, net *n) {
  if (n->client.sock && !n->client.closed) portls_socket_destroy(n->client.sock, NULL);
  for (size_t i = 0; i < n->nconns; i++)
    if (n->conns[i].sock && !n->conns[i].closed) portls_socket_destroy(n->conns[i].sock, NULL);
  if (n->srv)
    portls_server_close(n->srv);
  else
    n->srv_closed = 1;
  run_end(r, net_closed, n);
  side_free(&n->client);
  for (size_t i = 0; i < n->nconns; i++) side_free(&n->conns[i]);
}

static int net_connect(run *r, net *n, portls_context *shared, side *d) {
  portls_connect_options co;
  portls_connect_options_init(&co);
  co.host = "127.0.0.1";
  co.port = n->port;
  co.tls.servername = "localhost";
  if (shared)
    co.tls.secure_context = shared;
  else
    ctx_opts(&co.tls.context, NULL, NULL, "ca.crt");
  co.events = &side_events;
  co.user = d;
  portls_error err = {0, ""};
  int rc = portls_tls_connect(r->loop, &co, &d->sock, &err);
  EXPECT(rc == 0, "tls.connect: %s %s", portls_err_name(rc), err.message);
  return rc;
}

static void test_tcp_loopback(void) {
  run r;
  EXPECT(run_begin(&r) == 0, "loop");
  static net n;
  memset(&n, 0, sizeof n);
  n.conn_echo = 1;
  n.conn_end_on_end = 1;
  if (net_listen(&r, &n, "server-rsa.key", "server-rsa-chain.crt") == 0 &&
      net_connect(&r, &n, NULL, &n.client) == 0) {
    static const char msg[] = "hello over tcp";
    n.client.end_after = sizeof msg - 1;
    portls_socket_write(n.client.sock, msg, sizeof msg - 1);
    RUN_UNTIL(&r, n.client.secure || n.client.closed);
    EXPECT(n.client.secure == 1 && n.client.authorized == 1, "secureConnect, authorized (%s %s)",
           portls_err_name(n.client.auth_error ? n.client.auth_error : n.client.err_code),
           n.client.err_msg);
    portls_address ra;
    if (n.client.sock) {
      EXPECT(portls_socket_remote_address(n.client.sock, &ra) == 0 &&
                 strcmp(ra.address, "127.0.0.1") == 0 && ra.port == n.port,
             "remoteAddress 127.0.0.1:%u", (unsigned)n.port);
      portls_cert *cert = NULL;
      portls_socket_get_peer_certificate(n.client.sock, 0, &cert, NULL);
      EXPECT(cert != NULL, "peer certificate");
      portls_cert_free(cert);
    }
    RUN_UNTIL(&r, n.client.closed && n.nconns == 1 && n.conns[0].closed);
    EXPECT(n.client.rx_len == sizeof msg - 1 && memcmp(n.client.rx, msg, sizeof msg - 1) == 0,
           "echoed (%zu bytes)", n.client.rx_len);
    EXPECT(n.nconns == 1 && n.conns[0].rx_len == sizeof msg - 1, "server saw the message");
    EXPECT(n.client.ended == 1 && n.client.had_error == 0 && n.client.errors == 0, "clean end");
    EXPECT(n.client_errors == 0, "no clientError");
  }
  net_teardown(&r, &n);
}

static void verify_fails_over_tcp(const char *key, const char *cert, int want) {
  run r;
  EXPECT(run_begin(&r) == 0, "loop");
  static net n;
  memset(&n, 0, sizeof n);
  if (net_listen(&r, &n, key, cert) == 0 && net_connect(&r, &n, NULL, &n.client) == 0) {
    RUN_UNTIL(&r, n.client.closed);
    EXPECT(n.client.secure == 0, "no secureConnect");
    EXPECT(n.client.err_code == want, "client error %s (%s), want %s",
           portls_err_name(n.client.err_code), n.client.err_msg, portls_err_name(want));
    EXPECT(n.client.had_error == 1, "close(had_error)");
    /* As in Node, the client checks the certificate once the handshake is done,
     * so the server may have seen 'secureConnection'; that socket closes too. */
    RUN_UNTIL(&r, conns_closed(&n));
  }
  net_teardown(&r, &n);
}

static void test_tcp_expired_rejected(void) {
  verify_fails_over_tcp("expired.key", "expired-chain.crt", PORTLS_ECERT_HAS_EXPIRED);
}
static void test_tcp_wrong_host_rejected(void) {
  verify_fails_over_tcp("wrong-host.key", "wrong-host-chain.crt", PORTLS_ECERT_ALTNAME_INVALID);
}

/* ---- RAM per idle connection ------------------------------------------- */

static long idle_total_per_conn = -1, idle_portls_per_conn = -1, idle_mbed_per_conn = -1;
static long idle_client_total = -1, idle_client_portls = -1, idle_client_mbed = -1;
static long peak_server = -1, peak_client = -1; /* one handshake, portls + mbed TLS */
static char peak_protocol[16];

/* The child: 1 + IDLE_N clients; reports its own growth over the last IDLE_N,
 * then waits to be closed. */
static int idle_clients(uint16_t port, int report_fd) {
  run r;
  if (run_begin(&r) != 0) return 1;
  portls_context_options o;
  ctx_opts(&o, NULL, NULL, "ca.crt");
  portls_context *ctx = NULL;
  portls_error err = {0, ""};
  if (portls_context_new(&o, &ctx, &err) != 0) return 1;
  static net n;
  memset(&n, 0, sizeof n);
  n.port = port;
  /* cl[0] warms up what a process allocates once (the platform's buffers, the
   * context's first use); it stays open and is not counted here. */
  static side cl[IDLE_N + 1];
  if (net_connect(&r, &n, ctx, &cl[0]) != 0) return 1;
  while (!cl[0].secure)
    if (!step(&r)) return 1;
  run_for(&r, SETTLE_MS);
  size_t heap0 = heap_bytes(), live0 = live_bytes, mbed0 = mbed_bytes;
  /* cl[1] alone first: the peak of one client handshake. */
  size_t base = peak_reset();
  if (net_connect(&r, &n, ctx, &cl[1]) != 0) return 1;
  while (!cl[1].secure)
    if (!step(&r)) return 1;
  run_for(&r, SETTLE_MS);
  long peak = (long)(peak_bytes - base);
  for (int i = 2; i <= IDLE_N; i++) {
    if (net_connect(&r, &n, ctx, &cl[i]) != 0) return 1;
  }
  int all = 0;
  while (!all) {
    all = 1;
    for (int i = 1; i <= IDLE_N; i++)
      if (!cl[i].secure) all = 0;
    if (!all && !step(&r)) return 1;
  }
  run_for(&r, SETTLE_MS);
  char line[96];
  int len =
      snprintf(line, sizeof line, "%ld %ld %ld %ld\n", (long)(heap_bytes() - heap0) / IDLE_N,
               (long)(live_bytes - live0) / IDLE_N, (long)(mbed_bytes - mbed0) / IDLE_N, peak);
  if (write(report_fd, line, (size_t)len) != len) return 1;
  close(report_fd);
  /* The server closes them; 'end' then 'close'. */
  for (int i = 0; i <= IDLE_N; i++) cl[i].end_on_end = 1;
  while (step(&r)) {
    all = 1;
    for (int i = 0; i <= IDLE_N; i++)
      if (!cl[i].closed) all = 0;
    if (all) break;
  }
  portls_context_free(ctx);
  return all ? 0 : 1;
}

typedef struct report {
  int fd;
  char buf[96];
  size_t len;
  int done;
} report;

static void poll_report(portls_timer *t, void *u) {
  (void)t;
  report *rp = u;
  ssize_t k = -1;
  while (!rp->done && (k = read(rp->fd, rp->buf + rp->len, sizeof rp->buf - 1 - rp->len)) > 0) {
    rp->len += (size_t)k;
    if (memchr(rp->buf, '\n', rp->len)) rp->done = 1;
  }
  if (k == 0) rp->done = 1;
}

static void test_idle_connection_ram(void) {
  const size_t mbed_start = mbed_bytes;
  run r;
  EXPECT(run_begin(&r) == 0, "loop");
  static net n;
  memset(&n, 0, sizeof n);
  n.conn_end_on_end = 1;
  if (net_listen(&r, &n, "server-rsa.key", "server-rsa-chain.crt") != 0) {
    net_teardown(&r, &n);
    return;
  }
  /* Warm up: the first connection initialises what is done once per process or
   * per context (RNG, suite lists, the server context's certificate chain). */
  if (net_connect(&r, &n, NULL, &n.client) == 0) {
    n.client.end_after = 0;
    RUN_UNTIL(&r, n.client.secure || n.client.closed);
    if (n.client.sock) portls_socket_end(n.client.sock, NULL, 0);
    RUN_UNTIL(&r, n.client.closed && n.nconns == 1 && n.conns[0].closed);
  }
  side_free(&n.client);
  side_free(&n.conns[0]);
  memset(&n.conns[0], 0, sizeof n.conns[0]);
  memset(&n.client, 0, sizeof n.client);
  n.nconns = 0;
  run_for(&r, 50);
  if (cur_failed) {
    net_teardown(&r, &n);
    return;
  }

  int fds[2];
  EXPECT(pipe(fds) == 0, "pipe");
  fflush(stdout);
  size_t heap0 = heap_bytes(), live0 = live_bytes, mbed0 = mbed_bytes;
  size_t base = peak_reset();
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    int rc = idle_clients(n.port, fds[1]);
    fflush(stdout); /* what the child's checks printed */
    _exit(rc);
  }
  close(fds[1]);
  EXPECT(pid > 0, "fork: %s", strerror(errno));
  report rp = {.fd = fds[0]};
  fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  if (pid > 0) {
    /* The server's own warm-up is done: here every connection counts, the
     * client's warm-up one too. That one comes alone (the client waits
     * SETTLE_MS before the next): the peak of one server handshake. */
    RUN_UNTIL(&r, n.nconns >= 1 || n.client_errors > 0);
    run_for(&r, SETTLE_MS / 6);
    if (n.nconns == 1) {
      peak_server = (long)(peak_bytes - base);
      const char *v = n.conns[0].sock ? portls_socket_get_protocol(n.conns[0].sock) : NULL;
      snprintf(peak_protocol, sizeof peak_protocol, "%s", v ? v : "?");
    }
    EXPECT(n.nconns == 1, "%zu connections while measuring one handshake", n.nconns);
    RUN_UNTIL(&r, n.nconns == IDLE_N + 1 || n.client_errors > 0);
    EXPECT(n.nconns == IDLE_N + 1, "%zu of %d connections (clientError %s)", n.nconns, IDLE_N + 1,
           portls_err_name(n.client_err_code));
    run_for(&r, SETTLE_MS);
    size_t heap1 = heap_bytes(), live1 = live_bytes;
    if (n.nconns == IDLE_N + 1) {
      idle_total_per_conn = (long)(heap1 - heap0) / (IDLE_N + 1);
      idle_portls_per_conn = (long)(live1 - live0) / (IDLE_N + 1);
      idle_mbed_per_conn = (long)(mbed_bytes - mbed0) / (IDLE_N + 1);
    }
    /* Keep serving while the child finishes and reports. */
    portls_timer *t;
    if (portls_timer_new(r.loop, poll_report, &rp, &t) == 0) {
      portls_timer_start(t, 10, 10);
      RUN_UNTIL(&r, rp.done);
      portls_timer_free(t);
    }
    rp.buf[rp.len] = '\0';
    EXPECT(sscanf(rp.buf, "%ld %ld %ld %ld", &idle_client_total, &idle_client_portls,
                  &idle_client_mbed, &peak_client) == 4,
           "the client process's report: '%s'", rp.buf);
  }
  close(fds[0]);
  /* A clean goodbye: our end, the client's end in reply, then 'close' here. */
  for (size_t i = 0; i < n.nconns; i++)
    if (n.conns[i].sock) portls_socket_end(n.conns[i].sock, NULL, 0);
  RUN_UNTIL(&r, conns_closed(&n));
  net_teardown(&r, &n);
  if (pid > 0) {
    int status = 0;
    EXPECT(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "client process exit status %d", status);
  }
  /* Every connection and the server's context are gone: so is what mbed TLS held for them. */
  EXPECT(mbed_bytes == mbed_start, "mbed TLS holds %ld bytes more than before the test",
         (long)(mbed_bytes - mbed_start));
}

/* ---- main ------------------------------------------------------------------ */

static void test(const char *name, void (*fn)(void)) {
  cur_failed = 0;
  fn();
  free_files();
  if (cur_failed)
    failed++, printf("FAIL %s\n", name);
  else
    passed++, printf("ok   %s\n", name);
  fflush(stdout);
}

int main(int argc, char **argv) {
  certs_dir = argc > 1 ? argv[1] : getenv("PORTLS_CERTS");
  if (certs_dir == NULL || argc > 2) {
    fprintf(stderr, "usage: %s CERTS_DIR (or set PORTLS_CERTS)\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  static const portls_allocator counting = {count_malloc, count_realloc, count_free, NULL};
  if (portls_set_allocator(&counting) != 0) {
    fprintf(stderr, "portls_set_allocator failed\n");
    return 1;
  }
#ifdef SELFTEST_COUNT_CALLOC
  mbed_counted = 1;
#endif
  printf("portls %s, backend %s (%s), platform %s\n", portls_version_string(),
         portls_backend_name(), portls_backend_version(), portls_platform_name());

  char name[128];
  snprintf(name, sizeof name,
           "secure_pair: %s handshake, data both ways, 100 KiB echoed, clean end",
           highest_version());
  test(name, test_pair_highest_version);
  test("secure_pair: TLSv1.2 handshake (client maxVersion), data both ways, 100 KiB echoed, "
       "clean end",
       test_pair_tls12);
  test("secure_pair: self-signed server refused with DEPTH_ZERO_SELF_SIGNED_CERT",
       test_pair_self_signed_rejected);
  test("secure_pair: self-signed server unauthorized without rejectUnauthorized",
       test_pair_self_signed_unauthorized_without_reject);
  test("tcp: TLS server and client on 127.0.0.1, echo and clean end", test_tcp_loopback);
  test("tcp: expired certificate refused with CERT_HAS_EXPIRED", test_tcp_expired_rejected);
  test("tcp: certificate for another host refused with ERR_TLS_CERT_ALTNAME_INVALID",
       test_tcp_wrong_host_rejected);
  test("memory: idle connections measured", test_idle_connection_ram);

  if (idle_total_per_conn >= 0) {
    /* mallinfo2 sees nothing under a sanitizer's allocator, and there is none without glibc. */
    char st[24] = "?", ct[24] = "?", sm[24] = "?", cm[24] = "?";
    if (idle_total_per_conn >= idle_portls_per_conn && idle_client_total >= idle_client_portls)
      snprintf(st, sizeof st, "%ld", idle_total_per_conn),
          snprintf(ct, sizeof ct, "%ld", idle_client_total);
    if (mbed_counted)
      snprintf(sm, sizeof sm, "%ld", idle_mbed_per_conn),
          snprintf(cm, sizeof cm, "%ld", idle_client_mbed);
    printf("idle-connection-ram: server %s bytes (portls %ld, mbedtls %s), client %s bytes "
           "(portls %ld, mbedtls %s), heap growth averaged over %d connections\n",
           st, idle_portls_per_conn, sm, ct, idle_client_portls, cm, IDLE_N);
    if (mbed_counted && peak_server >= 0 && peak_client >= 0)
      printf("handshake-peak-ram: server %ld bytes, client %ld bytes (portls + mbedtls, one %s "
             "handshake over TCP, RSA-2048 chain)\n",
             peak_server, peak_client, peak_protocol);
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
