/* Fuzz target: portls's own TLS 1.3 record layer, the one a quiet OpenSSL
 * server connection carries on with once it has given its SSL back
 * (backends/common/ossl_lean.c).
 *
 * The harness plays the client. The session is made at rest from fixed
 * traffic secrets (portls__ossl_lean_test_session, ossl.h); the harness keeps
 * its own copy of the key schedule (HKDF-Expand-Label through OpenSSL's HKDF,
 * not the code under test), so the records it sends are encrypted under the
 * real key with the right sequence numbers while their plaintext - content,
 * inner content type, padding, KeyUpdates - comes from the fuzzer; it also
 * sends raw and tampered bytes, and reads and decrypts every record the
 * session writes back (data, alerts, its KeyUpdate answers).
 *
 * Byte 0: the suite (mod 3: TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384,
 * TLS_CHACHA20_POLY1305_SHA256). Then operations, one byte each (mod 13):
 *   0 n2 p  application data, n2 (u16) bytes from the input, p bytes of padding
 *   1 n     a handshake record holding the next n input bytes
 *   2 r     a KeyUpdate (r & 1: update_requested)
 *   3       an alert record holding the next 2 input bytes
 *   4 t n p a record of inner type t, n input bytes, p bytes of padding
 *   5 n     n raw input bytes into the stream
 *   6 n p x application data of n bytes whose ciphertext byte p is xor-ed with x
 *   7 n2    the session writes n2 * 3 bytes
 *   8 n2    setMaxSendFragment(n2)
 *   9       the session shuts down (close_notify)
 *  10 n     the session reads, n + 1 bytes at a time
 *  11 n     the transport hands the session at most n bytes per call (0: all)
 *  12       what Node may ask (info, session, certificates, renegotiate)
 * After every operation the session reads everything it has. What must hold:
 * every record it writes decrypts under the expected key and sequence number
 * and carries what was written, in order; the application data it returns
 * is a prefix of what well-formed records carried, and all of it while every
 * record sent was well-formed; after an error it stays failed.
 *
 * Seeds (tests/fuzz/corpus/lean/): data both ways, KeyUpdates of both kinds,
 * padding, records cut at every size, close_notify, each suite.
 * fuzz-scope: openssl */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <stdint.h>
#include <string.h>

#include "backends/common/ossl.h"
#include "fuzz_util.h"

#if !defined(PORTLS_OSSL_LEAN)
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  (void)data, (void)size;
  return 0;
}
#else

#define BUF_MAX (1u << 20)

typedef struct dir {
  uint8_t secret[48], key[32], iv[12];
  uint64_t seq;
} dir;

typedef struct peer {
  uint16_t suite;
  size_t hash_len, key_len;
  const char *md, *cipher;
  dir out, in; /* the client's write (the session reads it) and the session's write */
  uint8_t *to_session;
  size_t to_len, to_off, chunk;
  uint8_t *from_session;
  size_t from_len;
  uint8_t *sent_plain; /* application data in well-formed records, in order */
  size_t sent_len;
  uint8_t *read_plain; /* what the session returned */
  size_t read_len;
  uint8_t *wrote; /* what the session was asked to write */
  size_t wrote_len, wrote_seen;
  int clean;        /* every record sent so far was well-formed */
  int unknown;      /* a record whose meaning the model cannot tell: no more checks */
  int failed;       /* the session returned an error */
  int closed;       /* it returned CLOSED */
  int sent_close;   /* we sent close_notify: nothing after it counts */
  int session_shut; /* it sent close_notify */
  uint8_t hs[5];    /* our handshake bytes since the last message */
  size_t hs_len;
} peer;

static peer P;

/* A received alert's error: the code errors.h names it by, or one of the
 * three portls__alert_code() falls back to. */
static int is_alert_error(int rc) {
  if (rc == PORTLS_ETLS_ALERT || rc == PORTLS_EVERSION || rc == PORTLS_ERENEG_DISABLED) return 1;
  return rc <= -200 && rc >= -455 && portls__alert_code(-200 - rc) == rc;
}

static void expand(const dir *d, const char *label, uint8_t *out, size_t len, const uint8_t *sec) {
  uint8_t info[2 + 1 + 255 + 1];
  size_t llen = strlen(label), n = 0;
  info[n++] = (uint8_t)(len >> 8);
  info[n++] = (uint8_t)len;
  info[n++] = (uint8_t)(6 + llen);
  memcpy(info + n, "tls13 ", 6);
  n += 6;
  memcpy(info + n, label, llen);
  n += llen;
  info[n++] = 0;
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
  EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)P.md, 0),
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)sec, P.hash_len),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n), OSSL_PARAM_construct_end()};
  FUZZ_CHECK(kctx != NULL && EVP_KDF_derive(kctx, out, len, params) == 1);
  EVP_KDF_CTX_free(kctx);
  EVP_KDF_free(kdf);
  (void)d;
}

static void dir_keys(dir *d) {
  expand(d, "key", d->key, P.key_len, d->secret);
  expand(d, "iv", d->iv, 12, d->secret);
  d->seq = 0;
}

static void dir_next(dir *d) {
  uint8_t next[48];
  expand(d, "traffic upd", next, P.hash_len, d->secret);
  memcpy(d->secret, next, P.hash_len);
  dir_keys(d);
}

/* AEAD over one record; enc 1 seals, 0 opens (returns 0 when the tag fails). */
static int aead(dir *d, int enc, const uint8_t hdr[5], uint8_t *p, size_t len, uint8_t *tag) {
  uint8_t nonce[12];
  int outl = 0, ok;
  memcpy(nonce, d->iv, 12);
  for (int i = 0; i < 8; i++) nonce[11 - i] ^= (uint8_t)(d->seq >> (8 * i));
  EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, P.cipher, NULL);
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  FUZZ_CHECK(c != NULL && ctx != NULL);
  ok = EVP_CipherInit_ex(ctx, c, NULL, d->key, nonce, enc) &&
       EVP_CipherUpdate(ctx, NULL, &outl, hdr, 5) && EVP_CipherUpdate(ctx, p, &outl, p, (int)len);
  if (ok && !enc) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag) > 0;
  if (ok) ok = EVP_CipherFinal_ex(ctx, p + len, &outl) > 0;
  if (ok && enc) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) > 0;
  EVP_CIPHER_CTX_free(ctx);
  EVP_CIPHER_free(c);
  ERR_clear_error();
  if (enc) FUZZ_CHECK(ok);
  d->seq++;
  return ok;
}

static void to_session(const uint8_t *p, size_t n) {
  if (n > BUF_MAX - P.to_len) n = BUF_MAX - P.to_len;
  memcpy(P.to_session + P.to_len, p, n);
  P.to_len += n;
}

/* Seals content + type + pad zeros as one record; xor_at/xor_with tamper
 * with the ciphertext when xor_with is not 0. */
static void send_record(const uint8_t *content, size_t n, uint8_t type, size_t pad, size_t xor_at,
                        uint8_t xor_with) {
  size_t inner = n + 1 + pad, clen = inner + 16;
  if (clen > 0xffff) return;
  uint8_t *rec = malloc(5 + clen);
  FUZZ_CHECK(rec != NULL);
  rec[0] = 23, rec[1] = 3, rec[2] = 3, rec[3] = (uint8_t)(clen >> 8), rec[4] = (uint8_t)clen;
  if (n) memcpy(rec + 5, content, n);
  rec[5 + n] = type;
  memset(rec + 5 + n + 1, 0, pad);
  aead(&P.out, 1, rec, rec + 5, inner, rec + 5 + inner);
  if (xor_with) rec[xor_at % (5 + clen)] ^= xor_with;
  to_session(rec, 5 + clen);
  free(rec);
  if (P.sent_close) return;
  /* What a correct record layer accepts (RFC 8446 5.1, 5.4): anything else
   * ends the conversation, so what comes after it no longer counts. */
  int ok = !xor_with && inner <= 16384 + 1 && P.hs_len == 0;
  if (type == 23 && ok) {
    if (n > BUF_MAX - P.sent_len) n = BUF_MAX - P.sent_len;
    memcpy(P.sent_plain + P.sent_len, content, n);
    P.sent_len += n;
  } else if (!(type == 22 && ok && n == 5 && content[0] == 24 && content[1] == 0 &&
               content[2] == 0 && content[3] == 1 && content[4] <= 1)) {
    P.clean = 0;
  }
  if (type == 21 && n == 2 && content[1] == 0) P.sent_close = 1;
  /* inner type 0: the content's own last non-zero byte becomes the type */
  if (type == 0) P.unknown = 1;
}

/* The handshake stream we sent: after a complete KeyUpdate that ended its
 * record, our next records go under the next secret (as the session expects). */
static void track_handshake(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (P.hs_len < sizeof P.hs) P.hs[P.hs_len] = p[i];
    P.hs_len++;
    if (P.hs_len == 5) {
      if (i == n - 1 && P.hs[0] == 24 && P.hs[1] == 0 && P.hs[2] == 0 && P.hs[3] == 1 &&
          P.hs[4] <= 1)
        dir_next(&P.out);
      P.hs_len = 0;
    }
  }
}

/* ---- the session's side of the transport ---- */

static size_t io_recv(void *io, uint8_t *buf, size_t len) {
  (void)io;
  size_t n = P.to_len - P.to_off;
  if (n > len) n = len;
  if (P.chunk && n > P.chunk) n = P.chunk;
  memcpy(buf, P.to_session + P.to_off, n);
  P.to_off += n;
  if (P.to_off == P.to_len) P.to_off = P.to_len = 0;
  return n;
}

static int io_send(void *io, const uint8_t *buf, size_t len) {
  (void)io;
  FUZZ_CHECK(len <= BUF_MAX - P.from_len);
  memcpy(P.from_session + P.from_len, buf, len);
  P.from_len += len;
  return 0;
}

/* Opens every complete record the session wrote. */
static void take_output(void) {
  size_t off = 0;
  while (P.from_len - off >= 5) {
    uint8_t *rec = P.from_session + off;
    size_t clen = (size_t)rec[3] << 8 | rec[4];
    FUZZ_CHECK(rec[0] == 23 && rec[1] == 3 && rec[2] == 3);
    FUZZ_CHECK(clen >= 17 && clen <= 16384 + 256);
    FUZZ_CHECK(P.from_len - off >= 5 + clen); /* never a partial record */
    FUZZ_CHECK(!P.session_shut);              /* nothing after close_notify */
    FUZZ_CHECK(aead(&P.in, 0, rec, rec + 5, clen - 16, rec + 5 + clen - 16));
    size_t n = clen - 16;
    while (n > 0 && rec[5 + n - 1] == 0) n--;
    FUZZ_CHECK(n > 0);
    uint8_t type = rec[5 + n - 1];
    n--;
    const uint8_t *body = rec + 5;
    if (type == 23) {
      FUZZ_CHECK(n > 0 && n <= 16384);
      FUZZ_CHECK(P.wrote_seen + n <= P.wrote_len);
      FUZZ_CHECK(memcmp(body, P.wrote + P.wrote_seen, n) == 0);
      P.wrote_seen += n;
    } else if (type == 22) {
      /* its answer to update_requested: the next secret from the next record */
      FUZZ_CHECK(n == 5 && body[0] == 24 && body[1] == 0 && body[2] == 0 && body[3] == 1 &&
                 body[4] == 0);
      dir_next(&P.in);
    } else {
      FUZZ_CHECK(type == 21 && n == 2 && (body[0] == 1 || body[0] == 2));
      if (body[1] == 0) P.session_shut = 1;
    }
    off += 5 + clen;
  }
  FUZZ_CHECK(off == P.from_len);
  P.from_len = 0;
}

static void drain(portls_be_session *s, size_t cap) {
  uint8_t buf[512];
  if (cap == 0 || cap > sizeof buf) cap = sizeof buf;
  for (int i = 0; i < 100000; i++) {
    size_t n = 0;
    portls_error err = {0};
    int rc = portls__ossl_read(s, buf, cap, &n, &err);
    if (rc == PORTLS_BE_OK) {
      FUZZ_CHECK(n > 0 && n <= cap && !P.failed && !P.closed);
      FUZZ_CHECK(n <= BUF_MAX - P.read_len);
      memcpy(P.read_plain + P.read_len, buf, n);
      P.read_len += n;
      continue;
    }
    if (rc == PORTLS_BE_CLOSED) {
      FUZZ_CHECK(!P.failed);
      P.closed = 1;
    } else if (rc < 0) {
      FUZZ_CHECK(err.code == rc && err.message[0] != '\0');
      FUZZ_CHECK(rc == PORTLS_EPROTO || rc == PORTLS_ENOMEM || is_alert_error(rc));
      P.failed = 1;
    } else {
      FUZZ_CHECK(rc == PORTLS_BE_WANT_READ && !P.failed);
    }
    break;
  }
  take_output();
  if (P.unknown) return;
  /* what came out is what well-formed records carried, in order */
  FUZZ_CHECK(P.read_len <= P.sent_len && memcmp(P.read_plain, P.sent_plain, P.read_len) == 0);
  /* ...and all of it, while nothing was amiss and everything arrived */
  if (P.clean && !P.failed && P.to_len == 0) FUZZ_CHECK(P.read_len == P.sent_len);
}

static void ask(portls_be_session *s) {
  portls_be_info info;
  portls_buf b;
  portls_error err = {0};
  portls__ossl_info(s, &info);
  FUZZ_CHECK(info.version == PORTLS_TLS1_3 && info.suite == P.suite);
  FUZZ_CHECK(portls__ossl_handshake(s, &err) == PORTLS_BE_OK);
  FUZZ_CHECK(portls__ossl_peer_cert(s, 0, &b) == PORTLS_ENOENT);
  FUZZ_CHECK(portls__ossl_verified_cert(s, 0, &b) == PORTLS_ENOENT);
  FUZZ_CHECK(portls__ossl_get_session(s, &b, &err) == PORTLS_ENOTCONN);
  FUZZ_CHECK(portls__ossl_ticket(s, &b) == PORTLS_ENOENT);
  FUZZ_CHECK(portls__ossl_renegotiate(s, 0, &err) == PORTLS_ERENEG_DISABLED);
  FUZZ_CHECK(portls__ossl_rest(s) == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t *bufs;
  if (size < 1 || size > 65536) return 0;
  if (bufs == NULL) {
    FUZZ_CHECK((bufs = malloc(5 * (size_t)BUF_MAX)) != NULL);
  }
  fuzz_in in = {data, size, 0};
  uint8_t which = fuzz_u8(&in) % 3;
  memset(&P, 0, sizeof P);
  P.to_session = bufs, P.from_session = bufs + BUF_MAX, P.sent_plain = bufs + 2 * BUF_MAX;
  P.read_plain = bufs + 3 * BUF_MAX, P.wrote = bufs + 4 * BUF_MAX;
  P.suite = (uint16_t)(0x1301 + which);
  P.hash_len = P.suite == 0x1302 ? 48 : 32;
  P.key_len = P.suite == 0x1301 ? 16 : 32;
  P.md = P.suite == 0x1302 ? "SHA384" : "SHA256";
  P.cipher = P.suite == 0x1301   ? "AES-128-GCM"
             : P.suite == 0x1302 ? "AES-256-GCM"
                                 : "ChaCha20-Poly1305";
  P.clean = 1;
  for (size_t i = 0; i < P.hash_len; i++) {
    P.out.secret[i] = (uint8_t)(0x11 * (i + 1));
    P.in.secret[i] = (uint8_t)(0x5a ^ i);
  }
  dir_keys(&P.out);
  dir_keys(&P.in);
  portls_be_io io = {NULL, io_recv, io_send};
  portls_be_session *s = portls__ossl_lean_test_session(P.suite, P.out.secret, P.in.secret, &io);
  FUZZ_CHECK(s != NULL);

  size_t cap = 512;
  while (fuzz_left(&in) > 0) {
    uint8_t op = fuzz_u8(&in) % 13;
    size_t n, got, pad;
    const uint8_t *p;
    portls_error err = {0};
    switch (op) {
    case 0:
      n = fuzz_u16(&in);
      pad = fuzz_u8(&in);
      if (n > 18000) n %= 18000;
      p = fuzz_bytes(&in, n, &got);
      send_record(p, got, 23, pad == 0xff ? 16384 - got : pad, 0, 0);
      break;
    case 1:
      p = fuzz_bytes(&in, fuzz_u8(&in), &got);
      send_record(p, got, 22, 0, 0, 0);
      if (got > 0) track_handshake(p, got);
      break;
    case 2: {
      uint8_t ku[5] = {24, 0, 0, 1, (uint8_t)(fuzz_u8(&in) & 1)};
      send_record(ku, 5, 22, 0, 0, 0);
      track_handshake(ku, 5);
      break;
    }
    case 3:
      p = fuzz_bytes(&in, 2, &got);
      send_record(p, got, 21, 0, 0, 0);
      break;
    case 4: {
      uint8_t type = fuzz_u8(&in);
      n = fuzz_u8(&in);
      pad = fuzz_u8(&in);
      p = fuzz_bytes(&in, n, &got);
      send_record(p, got, type, pad, 0, 0);
      if (type == 22 && got > 0) track_handshake(p, got);
      break;
    }
    case 5:
      p = fuzz_bytes(&in, fuzz_u8(&in), &got);
      to_session(p, got);
      if (got) P.clean = 0, P.sent_close = 1; /* the stream is out of step now */
      break;
    case 6: {
      n = fuzz_u8(&in);
      size_t at = fuzz_u8(&in);
      uint8_t x = fuzz_u8(&in);
      p = fuzz_bytes(&in, n, &got);
      send_record(p, got, 23, 0, at, x ? x : 0x80);
      break;
    }
    case 7: {
      n = (size_t)fuzz_u16(&in) * 3;
      if (n > BUF_MAX - P.wrote_len) n = BUF_MAX - P.wrote_len;
      for (size_t i = 0; i < n; i++) P.wrote[P.wrote_len + i] = (uint8_t)(P.wrote_len + i * 7);
      int rc = portls__ossl_write(s, P.wrote + P.wrote_len, n, &err);
      if (rc == PORTLS_BE_OK)
        P.wrote_len += n;
      else
        FUZZ_CHECK(rc == PORTLS_EPROTO || rc == PORTLS_EPIPE);
      break;
    }
    case 8:
      n = fuzz_u16(&in);
      FUZZ_CHECK(portls__ossl_set_max_send_fragment(s, n) ==
                 (n >= 512 && n <= 16384 ? 0 : PORTLS_EINVAL));
      break;
    case 9:
      FUZZ_CHECK(portls__ossl_shutdown(s, &err) >= 0);
      break;
    case 10:
      cap = (size_t)fuzz_u8(&in) + 1;
      break;
    case 11:
      P.chunk = fuzz_u8(&in);
      break;
    default:
      ask(s);
      break;
    }
    drain(s, cap);
  }
  P.chunk = 0;
  drain(s, 512);
  if (getenv("PORTLS_FUZZ_VERBOSE") != NULL)
    fprintf(stderr, "fuzz_lean: 0x%04x: read %zu of %zu, wrote %zu, %s%s%s\n", P.suite, P.read_len,
            P.sent_len, P.wrote_seen, P.failed ? "failed " : "", P.closed ? "closed " : "",
            P.clean ? "clean" : "");
  portls__ossl_session_free(s);
  return 0;
}
#endif
