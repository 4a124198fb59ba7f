/* Fuzz target: the connection state machine, through SecurePair (TLS with no
 * transport: core's engine, TLS socket and pair over the backend), on every
 * backend.
 *
 * Byte 0 sets the scene:
 *   bit 0  1: a client pair and a server pair, with the harness carrying the
 *          ciphertext between them (and tampering with it when told);
 *          0: one pair alone, fed the fuzzer's bytes as its peer's ciphertext
 *   bit 1  the client offers TLS 1.2 at most
 *   bit 2  the client pair in pull mode (peek/consume), else push
 *   bit 3  the server pair in pull mode
 *   bit 4  ciphertext goes in lent (encrypted_feed), else copied (encrypted_write)
 *   bit 5  alone: the pair is a server (else a client)
 *   bit 6  ALPN offered and served ("h2", "http/1.1")
 *   bit 7  the client names the server (SNI "localhost")
 * Then operations, one byte each (mod 10) with their arguments:
 *   0 n    carry n bytes (0: all) client -> server; alone: feed the next n+1
 *          input bytes (the split is the fuzzer's)
 *   1 n    carry n bytes (0: all) server -> client; alone: as 0
 *   2 n    the client writes n cleartext bytes (from the input)
 *   3 n    the server writes n cleartext bytes; alone: the pair writes
 *   4 p x  flip byte p of the pending client -> server (p odd: server ->
 *          client) ciphertext with x (tampering)
 *   5 n    inject the next n input bytes into a direction (tampering)
 *   6 n    drop n pending bytes of a direction (tampering)
 *   7 w    end one side's cleartext (w odd: the server)
 *   8 w    end one side's encrypted input (the peer's stream ended)
 *   9 w    ask one side what Node may ask any time (protocol, cipher,
 *          certificate, session, ...)
 * At the end everything pending is carried, then both pairs are destroyed and
 * must close. Without tampering and with nobody ending, the two pairs must
 * have completed their handshakes without an error and each must have
 * received exactly what the other wrote; with tampering, what was received
 * must still be a prefix of what was written (a record that does not
 * authenticate never reaches the application).
 *
 * Seeds (tests/fuzz/corpus/pair/): clean conversations in many splits, each
 * mode, and the ClientHellos of tests/fuzz/corpus/hello fed to a lone server.
 * fuzz-scope: backend */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "portls/portls.h"

#define RX_MAX 8192
#define QUEUE_MAX (1u << 18)

typedef struct queue {
  uint8_t *buf;
  size_t len;
} queue;

typedef struct side {
  portls_pair *pair;
  portls_socket *sock;
  int secure, pair_secure, errors, closed, ended, enc_ended;
  int pull;
  size_t rx_len, sent_len;
  uint8_t rx[RX_MAX], sent[RX_MAX];
  uint8_t *lent; /* a buffer lent with encrypted_feed, until done */
  int lent_busy;
  queue out; /* ciphertext this side produced, not yet carried */
} side;

typedef struct world {
  side c, s;
  int mitm, tamper, ended;
  uint64_t activity;
} world;

static world W; /* big; one input at a time */

static side *side_of_pair(portls_pair *p) { return p == W.c.pair ? &W.c : &W.s; }
static side *side_of_sock(void *user) { return user; }

static void q_push(queue *q, const uint8_t *p, size_t n) {
  if (n == 0) return;
  if (q->len + n > QUEUE_MAX) n = QUEUE_MAX - q->len; /* a runaway peer: keep the head */
  if (q->buf == NULL) {
    q->buf = malloc(QUEUE_MAX);
    FUZZ_CHECK(q->buf != NULL);
  }
  memcpy(q->buf + q->len, p, n);
  q->len += n;
}
static void q_drop(queue *q, size_t n) {
  if (n > q->len) n = q->len;
  memmove(q->buf, q->buf + n, q->len - n);
  q->len -= n;
}

/* ---- events ---- */

static void on_secure(portls_socket *s, void *u) {
  (void)s;
  side_of_sock(u)->secure++;
  W.activity++;
}
static void on_data(portls_socket *s, const void *d, size_t n, void *u) {
  (void)s;
  side *x = side_of_sock(u);
  size_t room = RX_MAX - x->rx_len, k = n < room ? n : room;
  memcpy(x->rx + x->rx_len, d, k);
  x->rx_len += k;
  W.activity++;
}
static void on_end(portls_socket *s, void *u) {
  (void)s;
  side_of_sock(u)->ended++;
  W.activity++;
}
static void on_error(portls_socket *s, const portls_error *err, void *u) {
  (void)s;
  FUZZ_CHECK(err != NULL && err->code < 0);
  side_of_sock(u)->errors++;
  W.activity++;
}
static void on_close(portls_socket *s, int had_error, void *u) {
  (void)s;
  (void)had_error;
  side *x = side_of_sock(u);
  x->closed++;
  x->sock = NULL;
  x->pair = NULL;
  W.activity++;
}
static const portls_socket_events sock_events = {.secure_connect = on_secure,
                                                 .data = on_data,
                                                 .end = on_end,
                                                 .error = on_error,
                                                 .close = on_close};

static void on_pair_secure(portls_pair *p, void *u) {
  (void)u;
  side_of_pair(p)->pair_secure++;
  W.activity++;
}
static void on_encrypted(portls_pair *p, const void *d, size_t n, void *u) {
  (void)u;
  q_push(&side_of_pair(p)->out, d, n);
  W.activity++;
}
static void on_encrypted_readable(portls_pair *p, void *u) {
  (void)p;
  (void)u;
  W.activity++;
}
static void on_encrypted_end(portls_pair *p, void *u) {
  (void)u;
  side_of_pair(p)->enc_ended++;
  W.activity++;
}
static void on_lent_done(portls_pair *p, void *u) {
  (void)p;
  side *x = u;
  x->lent_busy = 0;
  W.activity++;
}

/* ---- the loop ---- */

static portls_loop *loop(void) {
  static portls_loop *l;
  if (l == NULL) FUZZ_CHECK(portls_loop_new(&l) == 0);
  return l;
}

/* Pull mode: what a pair has for its peer goes to its queue. */
static void pull(side *x) {
  if (!x->pull || x->pair == NULL) return;
  const void *p;
  size_t n;
  while ((n = portls_pair_encrypted_peek(x->pair, &p)) > 0) {
    q_push(&x->out, p, n);
    portls_pair_encrypted_consume(x->pair, n);
    W.activity++;
  }
}

/* Runs the loop until nothing happens for a while. */
static void settle(void) {
  int quiet = 0;
  for (int i = 0; i < 256 && quiet < 3; i++) {
    uint64_t before = W.activity;
    portls_loop_run_once(loop(), 0);
    pull(&W.c);
    pull(&W.s);
    quiet = W.activity == before ? quiet + 1 : 0;
  }
}

/* Hands n bytes to x as its peer's ciphertext. */
static void give(side *x, const uint8_t *p, size_t n, int lend) {
  if (x->pair == NULL || n == 0) return;
  if (lend) {
    if (x->lent_busy) settle();
    if (x->lent_busy) return; /* still lent: the pair has not taken it yet */
    free(x->lent);
    x->lent = malloc(n);
    FUZZ_CHECK(x->lent != NULL);
    memcpy(x->lent, p, n);
    int rc = portls_pair_encrypted_feed(x->pair, x->lent, n, on_lent_done, x);
    FUZZ_CHECK(rc == 0 || rc == PORTLS_ESTREAM_DESTROYED || rc == PORTLS_EWRITE_AFTER_END);
    x->lent_busy = rc == 0;
  } else {
    int rc = portls_pair_encrypted_write(x->pair, p, n);
    FUZZ_CHECK(rc == 0 || rc == PORTLS_ESTREAM_DESTROYED || rc == PORTLS_EWRITE_AFTER_END);
  }
  W.activity++;
}

/* Carries up to n (0: all) pending bytes from `from` to `to`. */
static void carry(side *from, side *to, size_t n, int lend) {
  if (n == 0 || n > from->out.len) n = from->out.len;
  if (n == 0) return;
  give(to, from->out.buf, n, lend);
  q_drop(&from->out, n);
}

static void write_clear(side *x, const uint8_t *p, size_t n) {
  if (x->sock == NULL) return;
  int rc = portls_socket_write(x->sock, p, n);
  FUZZ_CHECK(rc == 0 || rc == 1 || rc == PORTLS_EWRITE_AFTER_END || rc == PORTLS_ESTREAM_DESTROYED);
  if (rc >= 0) {
    size_t room = RX_MAX - x->sent_len, k = n < room ? n : room;
    memcpy(x->sent + x->sent_len, p, k);
    x->sent_len += k;
  }
}

static void ask(side *x) {
  portls_socket *s = x->sock;
  if (s == NULL) return;
  portls_cipher c;
  portls_cert *cert = NULL;
  portls_error err;
  portls_buf b;
  (void)portls_socket_get_protocol(s);
  (void)portls_socket_get_cipher(s, &c);
  if (portls_socket_get_peer_certificate(s, 1, &cert, &err) == 0) portls_cert_free(cert);
  if (portls_socket_get_session(s, &b) == 0) portls_free((void *)b.base);
  (void)portls_socket_is_session_reused(s);
  (void)portls_socket_authorized(s);
  (void)portls_socket_alpn_protocol(s);
  (void)portls_socket_servername(s);
  (void)portls_socket_buffer_size(s);
  if (portls_socket_get_tls_ticket(s, &b) == 0) FUZZ_CHECK(b.base != NULL || b.len == 0);
  (void)portls_pair_encrypted_bytes_written(x->pair);
}

/* ---- contexts ---- */

static portls_context *context(int server, int tls12) {
  static portls_context *ctx[2][2];
  if (ctx[server][tls12] != NULL) return ctx[server][tls12];
  portls_context_options o;
  portls_context_options_init(&o);
  portls_buf key = fuzz_cert_file("server-ec.key"), cert = fuzz_cert_file("server-ec-chain.crt");
  if (server) {
    o.key = &key;
    o.key_count = 1;
    o.cert = &cert;
    o.cert_count = 1;
  }
  if (tls12) o.secure_protocol = "TLSv1_2_method";
  portls_error err;
  if (portls_context_new(&o, &ctx[server][tls12], &err) != 0) {
    fprintf(stderr, "fuzz_pair: context: %s\n", err.message);
    abort();
  }
  return ctx[server][tls12];
}

static void make(side *x, int server, uint8_t flags) {
  static const char *const alpn[] = {"h2", "http/1.1"};
  portls_tls_socket_options o;
  portls_tls_socket_options_init(&o);
  o.is_server = server;
  o.tls.secure_context = context(server, !server && (flags & 2));
  o.tls.reject_unauthorized = 0;
  if (flags & 0x40) o.tls.alpn_protocols = (portls_protocols){alpn, 2, {0}};
  if (!server && (flags & 0x80) && portls_has_capability(PORTLS_CAP_SNI))
    o.tls.servername = "localhost";
  if (!portls_has_capability(PORTLS_CAP_ALPN)) o.tls.alpn_protocols = (portls_protocols){0};
  o.events = &sock_events;
  o.user = x;
  x->pull = server ? (flags & 8) != 0 : (flags & 4) != 0;
  portls_pair_events ev = {.secure = on_pair_secure,
                           .encrypted_data = x->pull ? NULL : on_encrypted,
                           .encrypted_readable = on_encrypted_readable,
                           .encrypted_end = on_encrypted_end};
  portls_error err;
  int rc = portls_pair_new(loop(), &o, &ev, NULL, &x->pair, &err);
  if (rc != 0) {
    fprintf(stderr, "fuzz_pair: portls_pair_new: %s\n", err.message);
    abort();
  }
  x->sock = portls_pair_cleartext(x->pair);
  FUZZ_CHECK(x->sock != NULL);
}

static void check_prefix(const side *from, const side *to) {
  FUZZ_CHECK(to->rx_len <= from->sent_len);
  FUZZ_CHECK(memcmp(to->rx, from->sent, to->rx_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 16384) return 0;
  fuzz_in in = {data, size, 0};
  uint8_t flags = fuzz_u8(&in);
  int lend = (flags & 0x10) != 0;
  memset(&W, 0, sizeof W);
  W.mitm = flags & 1;
  side *alone = (flags & 0x20) ? &W.s : &W.c;
  if (W.mitm) {
    make(&W.s, 1, flags);
    make(&W.c, 0, flags);
  } else {
    make(alone, alone == &W.s, flags);
  }
  settle();

  while (fuzz_left(&in) > 0) {
    uint8_t op = fuzz_u8(&in) % 10, a = fuzz_u8(&in);
    side *who = (a & 1) ? &W.s : &W.c, *other = who == &W.s ? &W.c : &W.s;
    size_t got;
    const uint8_t *p;
    switch (op) {
    case 0:
    case 1:
      if (W.mitm) {
        side *from = op == 0 ? &W.c : &W.s;
        carry(from, from == &W.c ? &W.s : &W.c, a, lend);
      } else {
        p = fuzz_bytes(&in, (size_t)a + 1, &got);
        give(alone, p, got, lend);
      }
      break;
    case 2:
    case 3:
      p = fuzz_bytes(&in, a, &got);
      write_clear(W.mitm ? (op == 2 ? &W.c : &W.s) : alone, p, got);
      break;
    case 4:
      if (W.mitm && who->out.len > 0) {
        uint8_t x = fuzz_u8(&in);
        who->out.buf[((size_t)a << 8 | fuzz_u8(&in)) % who->out.len] ^= x ? x : 1;
        W.tamper = 1;
      }
      break;
    case 5:
      p = fuzz_bytes(&in, a >> 1, &got);
      if (W.mitm) {
        q_push(&who->out, p, got);
        W.tamper = 1;
      } else {
        give(alone, p, got, lend);
      }
      break;
    case 6:
      if (W.mitm && who->out.len > 0) {
        q_drop(&who->out, a >> 1);
        W.tamper = 1;
      }
      break;
    case 7:
      if (!W.mitm) who = alone;
      if (who->sock != NULL) {
        int rc = portls_socket_end(who->sock, NULL, 0);
        FUZZ_CHECK(rc >= 0 || rc == PORTLS_EWRITE_AFTER_END || rc == PORTLS_ESTREAM_DESTROYED);
        W.ended = 1;
      }
      break;
    case 8:
      if (!W.mitm) who = alone;
      if (who->pair != NULL) {
        int rc = portls_pair_encrypted_end(who->pair);
        FUZZ_CHECK(rc == 0 || rc == PORTLS_ESTREAM_DESTROYED);
        W.ended = W.tamper = 1;
      }
      break;
    default:
      ask(W.mitm ? who : alone);
      break;
    }
    settle();
    (void)other;
  }

  /* Carry everything still pending, both ways, until it stops. */
  for (int i = 0; i < 64 && W.mitm; i++) {
    size_t before = W.c.out.len + W.s.out.len;
    uint64_t act = W.activity;
    carry(&W.c, &W.s, 0, lend);
    carry(&W.s, &W.c, 0, lend);
    settle();
    if (W.c.out.len + W.s.out.len == 0 && before == 0 && act == W.activity) break;
  }
  if (W.mitm) {
    check_prefix(&W.c, &W.s);
    check_prefix(&W.s, &W.c);
    if (!W.tamper) {
      if (W.c.errors || W.s.errors)
        fprintf(stderr, "fuzz_pair: errors without tampering: client %d, server %d\n", W.c.errors,
                W.s.errors);
      FUZZ_CHECK(W.c.errors == 0 && W.s.errors == 0);
    }
    if (!W.tamper && !W.ended) {
      FUZZ_CHECK(W.c.secure == 1 && W.s.secure == 1);
      FUZZ_CHECK(W.c.pair_secure == 1 && W.s.pair_secure == 1);
      FUZZ_CHECK(W.s.rx_len == W.c.sent_len && W.c.rx_len == W.s.sent_len);
    }
  }

  /* Both must close once destroyed. */
  if (W.c.sock != NULL) portls_socket_destroy(W.c.sock, NULL);
  if (W.s.sock != NULL) portls_socket_destroy(W.s.sock, NULL);
  settle();
  FUZZ_CHECK(W.c.sock == NULL && W.s.sock == NULL);
  FUZZ_CHECK(W.c.closed <= 1 && W.s.closed <= 1);
  free(W.c.out.buf);
  free(W.s.out.buf);
  free(W.c.lent);
  free(W.s.lent);
  return 0;
}
