/* Fuzz target: session bytes, the two ways they come back from outside:
 *   - a client's `session` option (what getSession() returned, perhaps
 *     stored somewhere an attacker can write), handed to the backend's
 *     session decoder and offered to a real server;
 *   - a server's resumeSession answer (the backend's own serialized form,
 *     from the application's session store), decoded when a client offers
 *     the session id.
 * Each input runs a whole handshake in memory through the backend seam
 * (portls__backend: the engine core drives), between a client and a server
 * made with portls_context_new() from the build's test certificates.
 *
 * Input: byte 0 picks the case (mod 3), the rest is the blob:
 *   0  client session, any version (TLS 1.3 tickets where the backend has it)
 *   1  client session, TLS 1.2 with tickets
 *   2  server resume, TLS 1.2 without tickets: u16 length, the client's
 *      session (which carries the id the client offers), then the server's
 *      serialized session
 * The servers issue tickets under fixed keys with a long lifetime, so a seed
 * recorded once resumes on every later run: the resumed paths get fuzzed too.
 *
 * With PORTLS_FUZZ_SESSION_SEEDS=DIR the target first writes one genuine
 * seed per case (<backend>-<case>.bin) into DIR: how the seeds of
 * tests/fuzz/corpus/session/ were made.
 * fuzz-scope: backend */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "portls/backend.h"
#include "portls/portls.h"
#include "tls/context.h"

typedef struct queue {
  uint8_t buf[1 << 17];
  size_t len, off;
} queue;

/* One end's view: it reads `in` and writes `out`. */
typedef struct end {
  queue *in, *out;
  size_t moved; /* bytes written, to tell a stuck handshake */
} end;

static size_t e_recv(void *io, uint8_t *buf, size_t len) {
  queue *q = ((end *)io)->in;
  size_t n = q->len - q->off < len ? q->len - q->off : len;
  memcpy(buf, q->buf + q->off, n);
  q->off += n;
  if (q->off == q->len) q->off = q->len = 0;
  return n;
}

static int e_send(void *io, const uint8_t *buf, size_t len) {
  end *e = io;
  queue *q = e->out;
  FUZZ_CHECK(len <= sizeof q->buf - q->len); /* no flight is this big */
  memcpy(q->buf + q->len, buf, len);
  q->len += len;
  e->moved += len;
  return 0;
}

enum { C_ANY, C_TLS12_TICKET, C_SERVER_RESUME, C_COUNT };

static portls_context *make_context(int server, int c) {
  static const uint8_t keys[48] = "portls fuzz ticket keys, fixed for the seeds...";
  portls_context_options o;
  portls_context_options_init(&o);
  portls_buf key = fuzz_cert_file("server-ec.key"), cert = fuzz_cert_file("server-ec-chain.crt");
  if (server) {
    o.key = &key;
    o.key_count = 1;
    o.cert = &cert;
    o.cert_count = 1;
    o.session_timeout = 10 * 365 * 24 * 3600; /* the seeds must not expire */
    o.session_id_context = "portls-fuzz";
    if (portls_has_capability(PORTLS_CAP_TICKET_KEYS)) o.ticket_keys = (portls_buf){keys, 48};
  }
  if (c != C_ANY) o.secure_protocol = "TLSv1_2_method";
  o.disable_tickets = c == C_SERVER_RESUME;
  portls_context *ctx = NULL;
  portls_error err;
  if (portls_context_new(&o, &ctx, &err) != 0) {
    fprintf(stderr, "fuzz_session: context: %s\n", err.message);
    abort();
  }
  return ctx;
}

typedef struct conn {
  queue c2s, s2c;
  end ce, se;
  portls_be_session *c, *s;
  int c_rc, s_rc; /* the last handshake result of each side */
} conn;

static int fatal(int rc) { return rc < 0; }

/* Runs a handshake in memory, then a little data each way (which is when
 * TLS 1.3 tickets arrive). Returns 1 when both ends completed. */
static int run(conn *k, int c, portls_buf client_session, portls_buf server_resume) {
  static portls_context *ctx[2][C_COUNT];
  const portls_backend *B = &portls__backend;
  for (int side = 0; side < 2; side++)
    if (ctx[side][c] == NULL) ctx[side][c] = make_context(side, c);
  k->c2s.len = k->c2s.off = k->s2c.len = k->s2c.off = 0;
  k->ce = (end){&k->s2c, &k->c2s, 0};
  k->se = (end){&k->c2s, &k->s2c, 0};
  k->c = k->s = NULL;
  portls_be_session_config cc = {.is_server = 0, .verify_peer = 1, .session = client_session};
  portls_be_session_config sc = {.is_server = 1, .resume = server_resume};
  portls_be_io cio = {&k->ce, e_recv, e_send}, sio = {&k->se, e_recv, e_send};
  portls_error err = {0};
  int rc = B->session_new(ctx[0][c]->be, &cc, &cio, &k->c, &err);
  if (rc < 0) return 0; /* a session the backend refuses up front */
  if (B->session_new(ctx[1][c]->be, &sc, &sio, &k->s, &err) < 0) return 0;
  k->c_rc = k->s_rc = PORTLS_BE_WANT_READ;
  for (int i = 0; i < 32; i++) {
    size_t before = k->ce.moved + k->se.moved;
    if (k->c_rc == PORTLS_BE_WANT_READ) k->c_rc = B->handshake(k->c, &err);
    if (k->s_rc == PORTLS_BE_WANT_READ) k->s_rc = B->handshake(k->s, &err);
    FUZZ_CHECK(k->c_rc <= PORTLS_BE_WANT_READ && k->s_rc <= PORTLS_BE_WANT_READ);
    if (fatal(k->c_rc) || fatal(k->s_rc)) break;
    if (k->c_rc == PORTLS_BE_OK && k->s_rc == PORTLS_BE_OK) break;
    if (k->ce.moved + k->se.moved == before && k->c2s.len == 0 && k->s2c.len == 0) break;
  }
  if (k->c_rc != PORTLS_BE_OK || k->s_rc != PORTLS_BE_OK) return 0;
  /* a little data each way; the client reads the server's tickets with it */
  uint8_t buf[256];
  size_t n = 0;
  for (int round = 0; round < 2; round++) {
    FUZZ_CHECK(B->write(k->s, (const uint8_t *)"ping", 4, &err) == PORTLS_BE_OK);
    for (int i = 0; i < 8; i++) {
      rc = B->read(k->c, buf, sizeof buf, &n, &err);
      if (rc != PORTLS_BE_OK) break;
    }
    FUZZ_CHECK(rc == PORTLS_BE_WANT_READ || rc == PORTLS_BE_OK);
    FUZZ_CHECK(B->write(k->c, (const uint8_t *)"pong", 4, &err) == PORTLS_BE_OK);
    for (int i = 0; i < 8; i++) {
      rc = B->read(k->s, buf, sizeof buf, &n, &err);
      if (rc != PORTLS_BE_OK) break;
    }
    FUZZ_CHECK(rc == PORTLS_BE_WANT_READ || rc == PORTLS_BE_OK);
  }
  return 1;
}

static void finish(conn *k) {
  if (k->c != NULL) portls__backend.session_free(k->c);
  if (k->s != NULL) portls__backend.session_free(k->s);
  k->c = k->s = NULL;
}

/* What Node would ask of the sessions afterwards. */
static void inspect(conn *k, portls_buf *client_out, portls_buf *id, portls_buf *server_out) {
  const portls_backend *B = &portls__backend;
  portls_be_info info;
  portls_error err = {0};
  portls_buf b;
  B->info(k->c, &info);
  FUZZ_CHECK(info.version >= PORTLS_TLS1_0 && info.version <= PORTLS_TLS1_3);
  B->info(k->s, &info);
  if (getenv("PORTLS_FUZZ_VERBOSE") != NULL)
    fprintf(stderr, "fuzz_session: %s, suite 0x%04x, resumed %d\n",
            info.version == PORTLS_TLS1_3 ? "TLS 1.3" : "TLS 1.2 or below", info.suite,
            info.session_reused);
  if (B->session_ready != NULL) (void)B->session_ready(k->c);
  if (B->ticket != NULL && B->ticket(k->c, &b) == 0) FUZZ_CHECK(b.base != NULL || b.len == 0);
  if (B->get_session != NULL && B->get_session(k->c, &b, &err) == 0) {
    if (client_out != NULL)
      *client_out = b;
    else
      portls_free((void *)b.base);
  }
  portls_buf sid = {0}, data = {0};
  if (B->server_session != NULL && B->server_session(k->s, &sid, &data, &err) == 1) {
    FUZZ_CHECK(sid.len <= 32);
    if (id != NULL) {
      uint8_t *copy = malloc(sid.len ? sid.len : 1);
      FUZZ_CHECK(copy != NULL);
      memcpy(copy, sid.base, sid.len);
      *id = (portls_buf){copy, sid.len};
    }
    if (server_out != NULL)
      *server_out = data;
    else
      portls_free((void *)data.base);
  }
}

/* PORTLS_FUZZ_SESSION_SEEDS=DIR: one genuine seed per case. */
static void write_seed(const char *dir, const char *name, const uint8_t *p, size_t n) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s-%s.bin", dir, portls_backend_name(), name);
  FILE *f = fopen(path, "wb");
  FUZZ_CHECK(f != NULL && fwrite(p, 1, n, f) == n && fclose(f) == 0);
  fprintf(stderr, "fuzz_session: wrote %s (%zu bytes)\n", path, n);
}

static void make_seeds(const char *dir) {
  static conn k;
  static const char *const names[C_COUNT] = {"client-any", "client-tls12-ticket",
                                             "server-tls12-resume"};
  for (int c = 0; c < C_COUNT; c++) {
    portls_buf cs = {0}, id = {0}, ss = {0};
    if (!run(&k, c, (portls_buf){0}, (portls_buf){0})) {
      fprintf(stderr, "fuzz_session: no handshake for %s\n", names[c]);
      finish(&k);
      continue;
    }
    inspect(&k, &cs, &id, c == C_SERVER_RESUME ? &ss : NULL);
    finish(&k);
    size_t n = 1 + (c == C_SERVER_RESUME ? 2 : 0) + cs.len + ss.len;
    uint8_t *seed = malloc(n);
    FUZZ_CHECK(seed != NULL);
    seed[0] = (uint8_t)c;
    size_t at = 1;
    if (c == C_SERVER_RESUME) {
      seed[at++] = (uint8_t)(cs.len >> 8);
      seed[at++] = (uint8_t)cs.len;
    }
    if (cs.len) memcpy(seed + at, cs.base, cs.len);
    if (ss.len) memcpy(seed + at + cs.len, ss.base, ss.len);
    if (cs.len > 0 && (c != C_SERVER_RESUME || ss.len > 0)) write_seed(dir, names[c], seed, n);
    free(seed);
    portls_free((void *)cs.base);
    portls_free((void *)ss.base);
    free((void *)id.base);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static conn k; /* big: not on the stack */
  static int seeded;
  if (!seeded) {
    const char *dir = getenv("PORTLS_FUZZ_SESSION_SEEDS");
    seeded = 1;
    if (dir != NULL && *dir) make_seeds(dir);
  }
  if (size < 1) return 0;
  int c = data[0] % C_COUNT;
  if (c == C_TLS12_TICKET || c == C_SERVER_RESUME) {
    /* the backend must do TLS 1.2 (and tickets, or a session cache) */
    if (!portls_has_capability(PORTLS_CAP_TLS1_2)) return 0;
  }
  if (c == C_SERVER_RESUME && !portls_has_capability(PORTLS_CAP_SESSION_CACHE)) return 0;
  portls_buf client = {data + 1, size - 1}, server = {0};
  if (c == C_SERVER_RESUME) {
    if (size < 3) return 0;
    size_t n = (size_t)data[1] << 8 | data[2];
    if (n > size - 3) n = size - 3;
    client = (portls_buf){data + 3, n};
    server = (portls_buf){data + 3 + n, size - 3 - n};
  }
  if (run(&k, c, client, server)) inspect(&k, NULL, NULL, NULL);
  finish(&k);
  return 0;
}
