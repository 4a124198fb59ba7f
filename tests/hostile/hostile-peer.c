/* hostile-peer: a TLS peer that completes a real handshake with OpenSSL's
 * libssl and then writes records it crafts itself on the raw socket.
 *
 *   hostile-peer client --port N --scenario S [--count N] [--tls12] [--rest-ms MS]
 *                       [--pid PID] [--flood-mb N] [--max-growth-kb N] [--rcvbuf BYTES]
 *                       [--mss BYTES]
 *   hostile-peer server --cert F --key F --scenario S [--count N] [--tls12]
 *
 * The handshake is libssl's; afterwards only our sending direction is taken
 * over: the traffic keys come from the library (TLS 1.3: the key-log
 * callback's CLIENT_/SERVER_TRAFFIC_SECRET_0, key and IV by HKDF-Expand-Label
 * through EVP_KDF "HKDF"; TLS 1.2: SSL_SESSION_get_master_key and the two
 * randoms, the key block through EVP_KDF "TLS1-PRF"), the sequence number
 * from the message callback (every record header written under that key
 * counts one). What the other side sends is still read with SSL_read, whose
 * state the crafted records never touch. The suite is AES-128-GCM (SHA-256)
 * in both versions, so one record sealer serves both.
 *
 * Scenarios, client (against `portls-<backend> serve`, an echo server):
 *   empty-data      --count N empty application-data records, one record of
 *                   data, close_notify, FIN, all in one write: the echo must
 *                   come back whole, then the server's close_notify.
 *   warn-data       --count N warning alerts (user_canceled), then as above.
 *   empty-flood     --count N empty records: the server must cut the
 *                   connection (an alert or EOF) within 10 s.
 *   warn-flood      --count N warning alerts (user_canceled): likewise.
 *   keyupdate-flood KeyUpdate(update_requested) records, never reading,
 *                   until --flood-mb MiB went out or the server stops
 *                   taking them (5 s without progress); the server's VmRSS
 *                   (--pid) before and after must not grow by more than
 *                   --max-growth-kb.
 * Server (against `portls-<backend> connect`), one connection:
 *   warn-flood      --count N warning alerts (user_canceled), then holds the
 *                   connection open (up to 60 s) whatever the client does.
 *   empty-data      --count N empty records, data, close_notify, FIN.
 *
 * --rest-ms MS waits that long after the handshake before the scenario (a
 * quiet server connection rests meanwhile on backends with idle-release);
 * --rcvbuf and --mss set the client socket's SO_RCVBUF and TCP_MAXSEG before
 * it connects.
 * Prints what it did on stdout; exit 0 when the expectation held, 1 when it
 * did not, 2 on a usage or setup error.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>

enum { RT_CCS = 20, RT_ALERT = 21, RT_HANDSHAKE = 22, RT_APP = 23 };
enum { TAG = 16, HDR = 5 };

/* Our sending direction: what the library used, then what we carry on with. */
typedef struct wdir {
  int tls13;
  uint8_t secret[32]; /* TLS 1.3: the current traffic secret (SHA-256) */
  uint8_t key[16];
  uint8_t iv[12]; /* TLS 1.3: the static IV; TLS 1.2: the 4-byte salt first */
  uint64_t seq;
  int ready; /* the library switched to the application key: headers count */
} wdir;

static struct {
  int is_server;
  SSL_CTX *ctx;
  SSL *ssl;
  int fd;
  wdir w;
  EVP_CIPHER_CTX *cctx;
  EVP_KDF_CTX *hkdf;
} P;

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "hostile-peer: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  ERR_print_errors_fp(stderr);
  exit(2);
}

static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stdout, fmt, ap);
  va_end(ap);
  fputc('\n', stdout);
  fflush(stdout);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

/* ---- keys ---------------------------------------------------------------- */

/* HKDF-Expand-Label(secret, label, "", len), RFC 8446 7.1, SHA-256. */
static void expand_label(const uint8_t *secret, const char *label, uint8_t *out, size_t len) {
  uint8_t info[2 + 1 + 6 + 32 + 1];
  size_t llen = strlen(label), n = 0;
  info[n++] = (uint8_t)(len >> 8);
  info[n++] = (uint8_t)len;
  info[n++] = (uint8_t)(6 + llen);
  memcpy(info + n, "tls13 ", 6);
  n += 6;
  memcpy(info + n, label, llen);
  n += llen;
  info[n++] = 0;
  /* The digest and the mode were set once on P.hkdf (ctx_setup). */
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, 32),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_KDF_derive(P.hkdf, out, len, params) <= 0) die("HKDF-Expand-Label(%s)", label);
}

static void tls13_keys(wdir *w) {
  expand_label(w->secret, "key", w->key, sizeof w->key);
  expand_label(w->secret, "iv", w->iv, sizeof w->iv);
}

/* TLS 1.2, AES-128-GCM: key block = PRF(master, "key expansion", server_random
 * + client_random): client key 16, server key 16, client salt 4, server salt 4. */
static void tls12_keys(wdir *w) {
  uint8_t master[48], seed[13 + 64], block[40];
  SSL_SESSION *sess = SSL_get_session(P.ssl);
  size_t mlen = SSL_SESSION_get_master_key(sess, master, sizeof master);
  memcpy(seed, "key expansion", 13);
  if (mlen != 48 || SSL_get_server_random(P.ssl, seed + 13, 32) != 32 ||
      SSL_get_client_random(P.ssl, seed + 45, 32) != 32)
    die("TLS 1.2 secrets");
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
  EVP_KDF_CTX *k = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, master, sizeof master),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed, sizeof seed),
      OSSL_PARAM_construct_end(),
  };
  if (k == NULL || EVP_KDF_derive(k, block, sizeof block, params) <= 0) die("TLS1-PRF");
  EVP_KDF_CTX_free(k);
  EVP_KDF_free(kdf);
  memcpy(w->key, block + (P.is_server ? 16 : 0), 16);
  memcpy(w->iv, block + 32 + (P.is_server ? 4 : 0), 4);
}

static void keylog_cb(const SSL *ssl, const char *line) {
  (void)ssl;
  const char *want = P.is_server ? "SERVER_TRAFFIC_SECRET_0 " : "CLIENT_TRAFFIC_SECRET_0 ";
  if (strncmp(line, want, strlen(want)) != 0) return;
  const char *hex = strchr(line + strlen(want), ' ');
  if (hex == NULL || strlen(hex + 1) != 64) die("key log line: %s", line);
  hex++;
  for (int i = 0; i < 32; i++) {
    unsigned v;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1) die("key log hex");
    P.w.secret[i] = (uint8_t)v;
  }
  P.w.tls13 = 1;
  P.w.ready = 1;
  P.w.seq = 0;
}

/* Every record header we write under the application key is one sequence
 * number; TLS 1.2 switches keys at our ChangeCipherSpec (TLS 1.3's
 * compatibility CCS comes before the key-log line, which starts again). */
static void msg_cb(int write_p, int version, int content_type, const void *buf, size_t len,
                   SSL *ssl, void *arg) {
  (void)version, (void)buf, (void)len, (void)ssl, (void)arg;
  if (!write_p) return;
  if (content_type == SSL3_RT_HEADER && P.w.ready)
    P.w.seq++;
  else if (content_type == SSL3_RT_CHANGE_CIPHER_SPEC) {
    P.w.ready = 1;
    P.w.seq = 0;
  }
}

/* ---- records ------------------------------------------------------------- */

typedef struct buf {
  uint8_t *p;
  size_t len, cap;
} buf;

static uint8_t *buf_room(buf *b, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (p == NULL) die("out of memory");
    b->p = p;
    b->cap = cap;
  }
  return b->p + b->len;
}

/* Appends one record of `type` carrying in[0..len) under our key. */
static void seal(buf *b, uint8_t type, const uint8_t *in, size_t len) {
  wdir *w = &P.w;
  uint8_t nonce[12], aad[13];
  size_t body = w->tls13 ? len + 1 + TAG : 8 + len + TAG;
  uint8_t *r = buf_room(b, HDR + body), *pt;
  int outl = 0, aadl;
  r[0] = w->tls13 ? RT_APP : type;
  r[1] = 3;
  r[2] = 3;
  r[3] = (uint8_t)(body >> 8);
  r[4] = (uint8_t)body;
  if (w->tls13) {
    pt = r + HDR;
    if (len) memcpy(pt, in, len);
    pt[len] = type;
    memcpy(nonce, w->iv, 12);
    for (int i = 0; i < 8; i++) nonce[11 - i] ^= (uint8_t)(w->seq >> (8 * i));
    memcpy(aad, r, HDR);
    aadl = HDR;
    len += 1;
  } else {
    uint8_t *explicit = r + HDR;
    for (int i = 0; i < 8; i++) explicit[i] = (uint8_t)(w->seq >> (56 - 8 * i));
    pt = explicit + 8;
    if (len) memcpy(pt, in, len);
    memcpy(nonce, w->iv, 4);
    memcpy(nonce + 4, explicit, 8);
    memcpy(aad, explicit, 8);
    aad[8] = type;
    aad[9] = 3;
    aad[10] = 3;
    aad[11] = (uint8_t)(len >> 8);
    aad[12] = (uint8_t)len;
    aadl = 13;
  }
  if (!EVP_EncryptInit_ex(P.cctx, NULL, NULL, w->key, nonce) ||
      !EVP_EncryptUpdate(P.cctx, NULL, &outl, aad, aadl) ||
      (len > 0 && !EVP_EncryptUpdate(P.cctx, pt, &outl, pt, (int)len)) ||
      !EVP_EncryptFinal_ex(P.cctx, pt + len, &outl) ||
      EVP_CIPHER_CTX_ctrl(P.cctx, EVP_CTRL_GCM_GET_TAG, TAG, pt + len) <= 0)
    die("AES-GCM");
  w->seq++;
  b->len += HDR + body;
}

static void seal_alert(buf *b, uint8_t level, uint8_t desc) {
  uint8_t a[2] = {level, desc};
  seal(b, RT_ALERT, a, 2);
}

/* KeyUpdate(update_requested), then our next traffic secret (RFC 8446 4.6.3). */
static void seal_key_update(buf *b) {
  static const uint8_t ku[5] = {24, 0, 0, 1, 1};
  seal(b, RT_HANDSHAKE, ku, sizeof ku);
  uint8_t next[32];
  expand_label(P.w.secret, "traffic upd", next, sizeof next);
  memcpy(P.w.secret, next, sizeof next);
  tls13_keys(&P.w);
  P.w.seq = 0;
}

/* ---- the socket ---------------------------------------------------------- */

static void set_nonblock(int fd, int on) {
  int fl = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

/* Writes all of b; -1 when the peer has gone (EPIPE, ECONNRESET). */
static int send_all(const buf *b) {
  size_t off = 0;
  while (off < b->len) {
    ssize_t n = send(P.fd, b->p + off, b->len - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    off += (size_t)n;
  }
  return 0;
}

/* Reads the other side through libssl until it closes, an error, or the
 * deadline: what arrived goes to *got. Returns "close_notify", "eof",
 * "alert: ..." or "timeout". */
static const char *read_until_close(buf *got, double seconds, char *why, size_t why_cap) {
  double end = now_s() + seconds;
  set_nonblock(P.fd, 1);
  for (;;) {
    uint8_t tmp[16384];
    ERR_clear_error();
    int n = SSL_read(P.ssl, tmp, sizeof tmp);
    if (n > 0) {
      if (got != NULL) memcpy(buf_room(got, (size_t)n), tmp, (size_t)n), got->len += (size_t)n;
      continue;
    }
    int e = SSL_get_error(P.ssl, n);
    if (e == SSL_ERROR_ZERO_RETURN) return "close_notify";
    if (e == SSL_ERROR_WANT_READ) {
      double left = end - now_s();
      if (left <= 0) return "timeout";
      struct pollfd pfd = {P.fd, POLLIN, 0};
      poll(&pfd, 1, (int)(left * 1000) + 1);
      continue;
    }
    unsigned long err = ERR_peek_error();
    if (err != 0) {
      snprintf(why, why_cap, "alert or error: %s", ERR_reason_error_string(err));
      return why;
    }
    return e == SSL_ERROR_SYSCALL ? "eof" : "error";
  }
}

static long vm_rss_kb(long pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%ld/status", pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return -1;
  long kb = -1;
  while (fgets(line, sizeof line, f) != NULL)
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
  fclose(f);
  return kb;
}

/* ---- setup ---------------------------------------------------------------- */

static void ctx_setup(int tls12, const char *cert, const char *key) {
  P.ctx = SSL_CTX_new(P.is_server ? TLS_server_method() : TLS_client_method());
  if (P.ctx == NULL) die("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(P.ctx, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(P.ctx, tls12 ? TLS1_2_VERSION : TLS1_3_VERSION);
  if (!SSL_CTX_set_ciphersuites(P.ctx, "TLS_AES_128_GCM_SHA256") ||
      !SSL_CTX_set_cipher_list(P.ctx, "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256"))
    die("cipher lists");
  SSL_CTX_set_options(P.ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_num_tickets(P.ctx, 0);
  SSL_CTX_set_keylog_callback(P.ctx, keylog_cb);
  SSL_CTX_set_msg_callback(P.ctx, msg_cb);
  SSL_CTX_set_verify(P.ctx, SSL_VERIFY_NONE, NULL);
  if (P.is_server && (SSL_CTX_use_certificate_chain_file(P.ctx, cert) != 1 ||
                      SSL_CTX_use_PrivateKey_file(P.ctx, key, SSL_FILETYPE_PEM) != 1))
    die("server certificate/key %s %s", cert, key);
  P.cctx = EVP_CIPHER_CTX_new();
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
  P.hkdf = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
  EVP_KDF_free(kdf);
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  OSSL_PARAM hkdf_params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_end(),
  };
  if (P.cctx == NULL || P.hkdf == NULL || EVP_KDF_CTX_set_params(P.hkdf, hkdf_params) <= 0 ||
      !EVP_EncryptInit_ex(P.cctx, EVP_aes_128_gcm(), NULL, NULL, NULL))
    die("crypto setup");
}

static void handshake_done(void) {
  if (!P.w.ready) die("the library never switched to application keys");
  if (SSL_version(P.ssl) == TLS1_3_VERSION) {
    if (!P.w.tls13) die("TLS 1.3 without a traffic secret in the key log");
    tls13_keys(&P.w);
  } else {
    P.w.tls13 = 0;
    tls12_keys(&P.w);
  }
  const SSL_CIPHER *c = SSL_get_current_cipher(P.ssl);
  unsigned id = c != NULL ? (unsigned)(SSL_CIPHER_get_id(c) & 0xffff) : 0;
  if (id != 0x1301 && id != 0xc02f && id != 0xc02b)
    die("unexpected suite %s", c ? SSL_CIPHER_get_name(c) : "(none)");
  say("handshake %s %s, our next sequence number %llu", SSL_get_version(P.ssl),
      SSL_CIPHER_get_name(c), (unsigned long long)P.w.seq);
}

static void client_connect(int port, int rcvbuf, int mss) {
  P.fd = socket(AF_INET, SOCK_STREAM, 0);
  if (rcvbuf > 0) setsockopt(P.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (mss > 0) setsockopt(P.fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(P.fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect: %s", strerror(errno));
  int one = 1;
  setsockopt(P.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  P.ssl = SSL_new(P.ctx);
  SSL_set_fd(P.ssl, P.fd);
  SSL_set_tlsext_host_name(P.ssl, "localhost");
  if (SSL_connect(P.ssl) != 1) die("SSL_connect");
  handshake_done();
}

/* ---- scenarios ------------------------------------------------------------ */

static const char payload[] =
    "hostile-peer: this line follows records that carried nothing, and it must come back whole "
    "from the echo server, byte for byte, before the server's own close_notify. ";

/* N empty records (or warning alerts), data, close_notify, FIN: one write. */
static int noise_then_data(int alerts, int count, int expect_echo) {
  buf b = {0};
  for (int i = 0; i < count; i++) {
    if (alerts)
      seal_alert(&b, 1, 90); /* warning user_canceled */
    else
      seal(&b, RT_APP, NULL, 0);
  }
  seal(&b, RT_APP, (const uint8_t *)payload, sizeof payload - 1);
  seal_alert(&b, 1, 0); /* close_notify */
  if (send_all(&b) < 0) die("send: %s", strerror(errno));
  shutdown(P.fd, SHUT_WR);
  say("sent %d %s, %zu bytes of data, close_notify and FIN in one write of %zu bytes", count,
      alerts ? "warning alerts (user_canceled)" : "empty application-data records",
      sizeof payload - 1, b.len);
  free(b.p);
  if (!expect_echo) return 0;
  buf got = {0};
  char why[256];
  const char *how = read_until_close(&got, 10, why, sizeof why);
  say("echo: %zu of %zu bytes back, then %s", got.len, sizeof payload - 1, how);
  int ok = got.len == sizeof payload - 1 && memcmp(got.p, payload, got.len) == 0 &&
           strcmp(how, "close_notify") == 0;
  free(got.p);
  if (!ok) say("FAIL: the echo did not come back whole before the server's close_notify");
  return ok ? 0 : 1;
}

/* N empty records or warning alerts; the server must cut the connection. */
static int noise_flood(int alerts, int count) {
  buf b = {0};
  for (int i = 0; i < count; i++) {
    if (alerts)
      seal_alert(&b, 1, 90);
    else
      seal(&b, RT_APP, NULL, 0);
  }
  int sent = send_all(&b);
  say("sent %d %s (%zu bytes)%s", count,
      alerts ? "warning alerts (user_canceled)" : "empty application-data records", b.len,
      sent < 0 ? "; the server had gone already" : "");
  free(b.p);
  char why[256];
  const char *how = read_until_close(NULL, 10, why, sizeof why);
  say("the server: %s", how);
  if (strcmp(how, "timeout") == 0) {
    say("FAIL: the server took %d %s and kept the connection open for 10 s", count,
        alerts ? "warning alerts" : "empty records");
    return 1;
  }
  if (strcmp(how, "close_notify") == 0) {
    say("FAIL: the server closed cleanly instead of failing");
    return 1;
  }
  return 0;
}

static int keyupdate_flood(long pid, long flood_mb, long max_growth_kb) {
  if (!P.w.tls13) die("keyupdate-flood needs TLS 1.3");
  long before = vm_rss_kb(pid);
  if (before < 0) die("cannot read /proc/%ld/status", pid);
  set_nonblock(P.fd, 1);
  const size_t target = (size_t)flood_mb << 20;
  size_t sent = 0;
  unsigned long updates = 0;
  buf b = {0};
  size_t off = 0;
  const char *stop = "sent all";
  double start = now_s();
  while (sent < target) {
    if (off == b.len) {
      b.len = off = 0;
      for (int i = 0; i < 2048; i++, updates++) seal_key_update(&b); /* 27 bytes each */
    }
    ssize_t n = send(P.fd, b.p + off, b.len - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += (size_t)n;
      sent += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd pfd = {P.fd, POLLOUT, 0};
      if (poll(&pfd, 1, 5000) == 0) {
        stop = "the server stopped taking them (5 s without progress)";
        break;
      }
      if (pfd.revents & (POLLERR | POLLHUP)) {
        stop = "the server closed the connection";
        break;
      }
      continue;
    }
    stop = "the server closed the connection";
    break;
  }
  sleep_ms(500); /* let the server settle what it has read */
  long after = vm_rss_kb(pid);
  say("sent %zu bytes (%lu KeyUpdates, update_requested) in %.1f s, never reading: %s", sent,
      updates, now_s() - start, stop);
  say("server VmRSS before %ld kB, after %ld kB: growth %ld kB (limit %ld kB)", before, after,
      after - before, max_growth_kb);
  free(b.p);
  if (after < 0) {
    say("the server process has gone");
    return 1;
  }
  if (after - before > max_growth_kb) {
    say("FAIL: the server's memory grew by %ld kB", after - before);
    return 1;
  }
  return 0;
}

/* ---- server mode ------------------------------------------------------------ */

static int serve_one(const char *scenario, int count) {
  int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {0};
  socklen_t alen = sizeof a;
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4) < 0 ||
      getsockname(lfd, (struct sockaddr *)&a, &alen) < 0)
    die("listen: %s", strerror(errno));
  say("port %d", ntohs(a.sin_port));
  struct pollfd pfd = {lfd, POLLIN, 0};
  if (poll(&pfd, 1, 30000) <= 0) die("nobody connected within 30 s");
  P.fd = accept(lfd, NULL, NULL);
  if (P.fd < 0) die("accept: %s", strerror(errno));
  close(lfd);
  P.ssl = SSL_new(P.ctx);
  SSL_set_fd(P.ssl, P.fd);
  if (SSL_accept(P.ssl) != 1) die("SSL_accept");
  handshake_done();
  buf b = {0};
  if (strcmp(scenario, "warn-flood") == 0) {
    for (int i = 0; i < count; i++) seal_alert(&b, 1, 90);
    int rc = send_all(&b);
    say("sent %d warning alerts (user_canceled), %zu bytes%s", count, b.len,
        rc < 0 ? "; the client went away meanwhile" : "");
  } else if (strcmp(scenario, "empty-data") == 0) {
    for (int i = 0; i < count; i++) seal(&b, RT_APP, NULL, 0);
    seal(&b, RT_APP, (const uint8_t *)payload, sizeof payload - 1);
    seal_alert(&b, 1, 0);
    if (send_all(&b) < 0) die("send: %s", strerror(errno));
    shutdown(P.fd, SHUT_WR);
    say("sent %d empty records, %zu bytes of data, close_notify and FIN in one write", count,
        sizeof payload - 1);
  } else {
    die("unknown server scenario %s", scenario);
  }
  free(b.p);
  char why[256];
  if (strcmp(scenario, "empty-data") == 0) {
    say("the client: %s", read_until_close(NULL, 30, why, sizeof why));
    return 0;
  }
  /* A hostile server does not go away: it keeps the connection open, even
   * after the client's close_notify and FIN, so that a client which took
   * every alert and waits for the server's end hangs (up to 60 s here). */
  say("the client: %s; holding the connection open", read_until_close(NULL, 60, why, sizeof why));
  double end = now_s() + 60;
  for (;;) {
    char tmp[4096];
    double left = end - now_s();
    if (left <= 0) break;
    struct pollfd pfd = {P.fd, POLLIN, 0};
    if (poll(&pfd, 1, (int)(left * 1000) + 1) <= 0) break;
    ssize_t n = recv(P.fd, tmp, sizeof tmp, 0);
    if (n < 0 && errno != EINTR && errno != EAGAIN) break; /* reset: the client is gone */
    if (n == 0) sleep_ms(100);                             /* its FIN: stay */
  }
  return 0;
}

/* ---- main ------------------------------------------------------------------ */

int main(int argc, char **argv) {
  if (argc < 2) die("usage: hostile-peer client|server [options] (see the source)");
  const char *mode = argv[1], *scenario = NULL, *cert = NULL, *key = NULL;
  int port = 0, count = 0, tls12 = 0, rcvbuf = 0, mss = 0;
  long rest_ms = 0, pid = 0, flood_mb = 20, max_growth_kb = 8192;
  for (int i = 2; i < argc; i++) {
    const char *o = argv[i];
    if (strcmp(o, "--tls12") == 0) {
      tls12 = 1;
      continue;
    }
    if (i + 1 >= argc) die("%s: missing value", o);
    const char *v = argv[++i];
    if (strcmp(o, "--port") == 0)
      port = atoi(v);
    else if (strcmp(o, "--scenario") == 0)
      scenario = v;
    else if (strcmp(o, "--count") == 0)
      count = atoi(v);
    else if (strcmp(o, "--rest-ms") == 0)
      rest_ms = atol(v);
    else if (strcmp(o, "--pid") == 0)
      pid = atol(v);
    else if (strcmp(o, "--flood-mb") == 0)
      flood_mb = atol(v);
    else if (strcmp(o, "--max-growth-kb") == 0)
      max_growth_kb = atol(v);
    else if (strcmp(o, "--rcvbuf") == 0)
      rcvbuf = atoi(v);
    else if (strcmp(o, "--mss") == 0)
      mss = atoi(v);
    else if (strcmp(o, "--cert") == 0)
      cert = v;
    else if (strcmp(o, "--key") == 0)
      key = v;
    else
      die("unknown option %s", o);
  }
  if (scenario == NULL) die("--scenario is required");
  signal(SIGPIPE, SIG_IGN);
  P.is_server = strcmp(mode, "server") == 0;
  if (!P.is_server && strcmp(mode, "client") != 0) die("mode: client or server");
  if (P.is_server && (cert == NULL || key == NULL)) die("server: --cert and --key are required");
  if (!P.is_server && port <= 0) die("client: --port is required");
  ctx_setup(tls12, cert, key);
  if (P.is_server) return serve_one(scenario, count);

  int flood = strcmp(scenario, "keyupdate-flood") == 0;
  client_connect(port, rcvbuf, mss);
  if (rest_ms > 0) {
    sleep_ms(rest_ms);
    say("waited %ld ms after the handshake", rest_ms);
  }
  if (strcmp(scenario, "empty-data") == 0) return noise_then_data(0, count, 1);
  if (strcmp(scenario, "warn-data") == 0) return noise_then_data(1, count, 1);
  if (strcmp(scenario, "empty-flood") == 0) return noise_flood(0, count);
  if (strcmp(scenario, "warn-flood") == 0) return noise_flood(1, count);
  if (flood) {
    if (pid <= 0) die("keyupdate-flood: --pid of the server is required");
    return keyupdate_flood(pid, flood_mb, max_growth_kb);
  }
  die("unknown client scenario %s", scenario);
  return 2;
}
