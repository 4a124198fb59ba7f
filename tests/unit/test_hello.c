/* The ClientHello parser (core/tls/hello.c): real hellos captured from
 * OpenSSL and GnuTLS clients, fed whole, byte by byte and at every split;
 * then hand-built hellos, one defect each. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "portls/portls.h"
#include "tls/hello.h"
#include "util/util.h"

/* Captured on 127.0.0.1 by a listener that saved the first bytes it received
 * (also in tests/fuzz/corpus/hello/). */
/* openssl s_client -tls1_2 -servername www.example.com -alpn h2,http/1.1 -status */
static const uint8_t ossl12[239] = {
    0x16, 0x03, 0x01, 0x00, 0xea, 0x01, 0x00, 0x00, 0xe6, 0x03, 0x03, 0xf2, 0xc4, 0x08, 0xf5, 0xdd,
    0x6e, 0xd9, 0xf9, 0xfb, 0x6c, 0x5f, 0xd3, 0xb5, 0x48, 0x9e, 0x79, 0xb0, 0xfa, 0x4d, 0x5e, 0xc7,
    0x6c, 0x0c, 0x7a, 0x8e, 0x95, 0x49, 0xae, 0xb7, 0x88, 0x3f, 0x58, 0x00, 0x00, 0x38, 0xc0, 0x2c,
    0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa, 0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e,
    0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b, 0xc0, 0x23, 0xc0, 0x27, 0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14,
    0x00, 0x39, 0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d, 0x00, 0x9c, 0x00, 0x3d, 0x00, 0x3c,
    0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x00, 0x85, 0x00, 0x00, 0x00, 0x14, 0x00, 0x12,
    0x00, 0x00, 0x0f, 0x77, 0x77, 0x77, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63,
    0x6f, 0x6d, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x0c, 0x00, 0x0a,
    0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x00, 0x23, 0x00, 0x00, 0x00, 0x05,
    0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x0e, 0x00, 0x0c, 0x02, 0x68, 0x32,
    0x08, 0x68, 0x74, 0x74, 0x70, 0x2f, 0x31, 0x2e, 0x31, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00,
    0x00, 0x00, 0x0d, 0x00, 0x2a, 0x00, 0x28, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08,
    0x08, 0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05,
    0x01, 0x06, 0x01, 0x03, 0x03, 0x03, 0x01, 0x03, 0x02, 0x04, 0x02, 0x05, 0x02, 0x06, 0x02,
};
/* openssl s_client -tls1_3 -servername psk.example.com -status -sess_in <a TLS 1.3 session> */
static const uint8_t ossl13_psk[529] = {
    0x16, 0x03, 0x01, 0x02, 0x0c, 0x01, 0x00, 0x02, 0x08, 0x03, 0x03, 0x62, 0xae, 0xf6, 0x25, 0x2d,
    0xde, 0xb2, 0x1f, 0x5a, 0xf6, 0x06, 0x99, 0x1d, 0x3a, 0x06, 0xed, 0x5a, 0x3c, 0xbb, 0xdf, 0xa4,
    0x06, 0x4a, 0x1b, 0x2d, 0xee, 0xc3, 0x99, 0xb6, 0xb9, 0xfe, 0xd5, 0x20, 0x50, 0x14, 0xfe, 0x28,
    0x3e, 0xbf, 0xfa, 0xe7, 0x07, 0x87, 0xa4, 0x69, 0xb9, 0xa5, 0x59, 0x97, 0xdf, 0x54, 0x8b, 0xfb,
    0x8f, 0x35, 0x6d, 0x60, 0xb7, 0x07, 0xe6, 0x7b, 0xa0, 0x8b, 0xbe, 0xa8, 0x00, 0x08, 0x13, 0x02,
    0x13, 0x03, 0x13, 0x01, 0x00, 0xff, 0x01, 0x00, 0x01, 0xb7, 0x00, 0x00, 0x00, 0x14, 0x00, 0x12,
    0x00, 0x00, 0x0f, 0x70, 0x73, 0x6b, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63,
    0x6f, 0x6d, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x16, 0x00, 0x14,
    0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x01, 0x00, 0x01, 0x01, 0x01, 0x02,
    0x01, 0x03, 0x01, 0x04, 0x00, 0x23, 0x00, 0x00, 0x00, 0x05, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x1e, 0x00, 0x1c, 0x04,
    0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08, 0x08, 0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08,
    0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x00, 0x2b, 0x00, 0x03, 0x02,
    0x03, 0x04, 0x00, 0x2d, 0x00, 0x02, 0x01, 0x01, 0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d,
    0x00, 0x20, 0xc0, 0x41, 0xb7, 0x28, 0x56, 0x60, 0xab, 0x67, 0x6d, 0x08, 0x1a, 0xf0, 0x8a, 0x94,
    0x76, 0x5d, 0x2f, 0x3f, 0xe3, 0x07, 0x16, 0xdf, 0xbb, 0xae, 0x46, 0xaf, 0x7a, 0x59, 0xbe, 0x06,
    0x30, 0x3f, 0x00, 0x29, 0x01, 0x0b, 0x00, 0xd6, 0x00, 0xd0, 0x73, 0xba, 0xb2, 0xb8, 0x61, 0xd1,
    0xcd, 0x54, 0xc1, 0xc5, 0xf7, 0xd5, 0xea, 0xfc, 0x85, 0x64, 0xb8, 0x6d, 0x95, 0xae, 0xcd, 0x9a,
    0x35, 0x23, 0xc0, 0x06, 0xaa, 0x7a, 0x0e, 0xf2, 0xb6, 0x07, 0xdb, 0xf2, 0x0f, 0xef, 0xa6, 0x30,
    0xb4, 0xdd, 0x63, 0xf9, 0xa5, 0x4f, 0x5b, 0xa1, 0x16, 0xcb, 0xe6, 0x08, 0x90, 0x2c, 0x69, 0xc4,
    0x97, 0x92, 0x87, 0xa3, 0x77, 0x54, 0x87, 0xfe, 0x8a, 0xf7, 0x33, 0x60, 0xc0, 0x55, 0xb4, 0x54,
    0x6e, 0x06, 0x7a, 0x8a, 0xef, 0x35, 0x5e, 0xff, 0x3c, 0xf3, 0x38, 0x06, 0x5e, 0xc7, 0x10, 0x77,
    0xd5, 0x7c, 0x6e, 0x8d, 0xa8, 0xa4, 0x31, 0xa3, 0x98, 0x89, 0xf4, 0xa0, 0x40, 0xf4, 0x8e, 0x05,
    0x26, 0x3d, 0x2f, 0x3c, 0x69, 0x61, 0x4d, 0xa1, 0x25, 0x5b, 0x27, 0xe2, 0x31, 0xd0, 0x9a, 0x92,
    0x41, 0xde, 0xd5, 0x5d, 0xe9, 0xdf, 0x57, 0x80, 0x69, 0xab, 0x71, 0xb2, 0x91, 0xd5, 0x8e, 0x1c,
    0x4d, 0xcd, 0xc4, 0xd4, 0x23, 0xdb, 0xb7, 0xfa, 0x69, 0x57, 0x88, 0x91, 0x33, 0x31, 0xba, 0xf1,
    0x15, 0x14, 0xb3, 0xf5, 0xe5, 0x02, 0x5f, 0x7b, 0xdb, 0x06, 0x15, 0x8a, 0x6e, 0x68, 0xed, 0x46,
    0x51, 0x29, 0xfc, 0x93, 0x32, 0xb9, 0x9a, 0x82, 0x72, 0xe4, 0xa6, 0xc0, 0xdc, 0xce, 0xd6, 0x50,
    0xea, 0x11, 0x1e, 0xbb, 0x60, 0xde, 0x77, 0x8d, 0xce, 0x4b, 0x61, 0x47, 0x06, 0x0f, 0xdc, 0x9d,
    0x49, 0x25, 0xb4, 0x94, 0x80, 0xa1, 0x09, 0x3e, 0x9f, 0x86, 0xda, 0x52, 0xc6, 0x11, 0x00, 0x31,
    0x30, 0x9a, 0x87, 0xaa, 0x03, 0xc8, 0xee, 0xab, 0xef, 0x83, 0x92, 0x1a, 0x78, 0x45, 0x95, 0x0e,
    0x7a, 0x9e, 0xb7, 0x12, 0xd3, 0x97, 0x4c, 0xb2, 0x2d, 0x0a, 0x3f, 0x64, 0x69, 0x6d, 0xe7, 0x4c,
    0x94, 0xcb, 0xd4, 0x0b, 0x6f, 0x57, 0x37, 0x23, 0xd1, 0x8f, 0x66, 0x02, 0x3f, 0x13, 0x0c, 0x73,
    0x9c,
};
/* gnutls-cli --sni-hostname=gnutls.example.com --alpn=h2 --alpn=spdy/3 */
static const uint8_t gnutls[416] = {
    0x16, 0x03, 0x01, 0x01, 0x9b, 0x01, 0x00, 0x01, 0x97, 0x03, 0x03, 0x1d, 0x1b, 0xa8, 0x1c, 0xdd,
    0x1b, 0xfb, 0x61, 0x69, 0x06, 0xb1, 0x62, 0x0d, 0x86, 0xb4, 0x34, 0x5a, 0x52, 0x7b, 0x38, 0x86,
    0x7c, 0x16, 0xaf, 0x74, 0xaf, 0x98, 0x92, 0xba, 0x0e, 0x6d, 0x83, 0x20, 0xca, 0x2f, 0x75, 0x92,
    0xd5, 0xc3, 0xe3, 0xfc, 0x75, 0xab, 0x0a, 0xac, 0x2c, 0x51, 0x0b, 0x6c, 0x23, 0xbd, 0xfd, 0x46,
    0xf8, 0x83, 0x27, 0xb8, 0xf9, 0xed, 0xb3, 0xd6, 0x7c, 0x1e, 0xc5, 0x55, 0x00, 0x3a, 0x13, 0x02,
    0x13, 0x03, 0x13, 0x01, 0x13, 0x04, 0xc0, 0x2c, 0xcc, 0xa9, 0xc0, 0xad, 0xc0, 0x0a, 0xc0, 0x2b,
    0xc0, 0xac, 0xc0, 0x09, 0xc0, 0x30, 0xcc, 0xa8, 0xc0, 0x14, 0xc0, 0x2f, 0xc0, 0x13, 0x00, 0x9d,
    0xc0, 0x9d, 0x00, 0x35, 0x00, 0x9c, 0xc0, 0x9c, 0x00, 0x2f, 0x00, 0x9f, 0xcc, 0xaa, 0xc0, 0x9f,
    0x00, 0x39, 0x00, 0x9e, 0xc0, 0x9e, 0x00, 0x33, 0x01, 0x00, 0x01, 0x14, 0x00, 0x05, 0x00, 0x05,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x16, 0x00, 0x14, 0x00, 0x17, 0x00, 0x18, 0x00,
    0x19, 0x00, 0x1d, 0x00, 0x1e, 0x01, 0x00, 0x01, 0x01, 0x01, 0x02, 0x01, 0x03, 0x01, 0x04, 0x00,
    0x0b, 0x00, 0x02, 0x01, 0x00, 0x00, 0x0d, 0x00, 0x22, 0x00, 0x20, 0x04, 0x01, 0x08, 0x09, 0x08,
    0x04, 0x04, 0x03, 0x08, 0x07, 0x05, 0x01, 0x08, 0x0a, 0x08, 0x05, 0x05, 0x03, 0x08, 0x08, 0x06,
    0x01, 0x08, 0x0b, 0x08, 0x06, 0x06, 0x03, 0x02, 0x01, 0x02, 0x03, 0x00, 0x10, 0x00, 0x0c, 0x00,
    0x0a, 0x02, 0x68, 0x32, 0x06, 0x73, 0x70, 0x64, 0x79, 0x2f, 0x33, 0x00, 0x16, 0x00, 0x00, 0x00,
    0x17, 0x00, 0x00, 0x00, 0x23, 0x00, 0x00, 0x00, 0x33, 0x00, 0x6b, 0x00, 0x69, 0x00, 0x17, 0x00,
    0x41, 0x04, 0x12, 0x86, 0x87, 0xbc, 0xe8, 0xfd, 0x27, 0x4d, 0x30, 0x2d, 0x7b, 0x77, 0xc9, 0x21,
    0x92, 0x1e, 0x2f, 0xf9, 0x6c, 0x6c, 0x93, 0x39, 0x8e, 0x76, 0x32, 0x81, 0xf6, 0x32, 0xe2, 0xdb,
    0x6a, 0x01, 0xf2, 0xcc, 0xf3, 0xfc, 0xfb, 0xdd, 0x95, 0xd3, 0x31, 0x53, 0x4e, 0x39, 0x98, 0x5a,
    0x8f, 0x73, 0xd5, 0xd8, 0x1f, 0x13, 0x33, 0xfa, 0x8c, 0xb8, 0xa6, 0xe8, 0xd7, 0x66, 0x19, 0x4b,
    0x07, 0x0a, 0x00, 0x1d, 0x00, 0x20, 0x8d, 0x1d, 0x8b, 0xcb, 0x23, 0xae, 0xc4, 0x4c, 0x39, 0x53,
    0x04, 0x87, 0x51, 0xe1, 0x84, 0x1e, 0xc3, 0x05, 0x00, 0xa7, 0xe7, 0x76, 0x6c, 0x30, 0x88, 0xce,
    0xf1, 0xe9, 0xb6, 0xf4, 0x62, 0x1b, 0x00, 0x2b, 0x00, 0x09, 0x08, 0x03, 0x04, 0x03, 0x03, 0x03,
    0x02, 0x03, 0x01, 0xff, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x17, 0x00, 0x15, 0x00, 0x00,
    0x12, 0x67, 0x6e, 0x75, 0x74, 0x6c, 0x73, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e,
    0x63, 0x6f, 0x6d, 0x00, 0x2d, 0x00, 0x03, 0x02, 0x01, 0x00, 0x00, 0x1c, 0x00, 0x02, 0x40, 0x01,
};

/* ---- helpers ------------------------------------------------------------------- */

/* Feeds a heap copy of exactly n bytes (so that ASan sees any overread), in
 * chunks of step bytes (0: all at once). The result stays in *h. */
static int feed(portls__hello *h, const uint8_t *p, size_t n, size_t step) {
  uint8_t *c = malloc(n ? n : 1);
  int rc = PORTLS__HELLO_MORE;
  cr_assert_not_null(c);
  if (n) memcpy(c, p, n);
  portls__hello_init(h);
  if (step == 0) step = n ? n : 1;
  for (size_t at = 0; at < n && rc == PORTLS__HELLO_MORE; at += step)
    rc = portls__hello_feed(h, c + at, PORTLS__MIN(step, n - at));
  if (n == 0) rc = portls__hello_feed(h, c, 0);
  free(c);
  return rc;
}

/* The outcome with the input whole, byte by byte, and split in two at every
 * position; all must agree. Returns it, with the whole-input parse in *h. */
static int parse(portls__hello *h, const uint8_t *p, size_t n) {
  portls__hello o;
  int rc = feed(h, p, n, 0);
  int r2 = feed(&o, p, n, 1);
  cr_assert_eq(r2, rc, "byte by byte gives %d, whole gives %d", r2, rc);
  cr_assert_eq(o.why, h->why);
  cr_assert_str_eq(o.err.message, h->err.message);
  cr_assert_eq(portls__hello_consumed(&o), portls__hello_consumed(h));
  portls__hello_free(&o);
  for (size_t cut = 1; cut < n; cut++) {
    uint8_t *c = malloc(n);
    cr_assert_not_null(c);
    memcpy(c, p, n);
    portls__hello_init(&o);
    r2 = portls__hello_feed(&o, c, cut);
    if (r2 == PORTLS__HELLO_MORE) r2 = portls__hello_feed(&o, c + cut, n - cut);
    free(c);
    cr_assert_eq(r2, rc, "split at %zu gives %d, whole gives %d", cut, r2, rc);
    cr_assert_eq(o.why, h->why, "split at %zu", cut);
    portls__hello_free(&o);
  }
  return rc;
}

/* A byte string for building hellos, room for the largest with its records. */
typedef struct buf {
  uint8_t b[1 << 17];
  size_t n;
} buf;

static void put(buf *b, const void *p, size_t n) {
  cr_assert_leq(b->n + n, sizeof b->b);
  if (n) memcpy(b->b + b->n, p, n);
  b->n += n;
}
static void put8(buf *b, unsigned v) {
  uint8_t x = (uint8_t)v;
  put(b, &x, 1);
}
static void put16(buf *b, unsigned v) {
  put8(b, v >> 8);
  put8(b, v);
}
static void put24(buf *b, size_t v) {
  put8(b, (unsigned)(v >> 16));
  put16(b, (unsigned)(v & 0xffff));
}
/* One extension: type, 2-byte length, data. */
static void ext(buf *e, unsigned type, const void *data, size_t len) {
  put16(e, type);
  put16(e, (unsigned)len);
  put(e, data, len);
}

/* A ClientHello body: TLS 1.2 version, a fixed random, an 8-byte session id,
 * two suites, null compression, and the extensions block (none if e is NULL). */
static void body_with(buf *body, const buf *e) {
  static const uint8_t sid[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  body->n = 0;
  put16(body, 0x0303);
  for (int i = 0; i < 32; i++) put8(body, 0x40 + i);
  put8(body, sizeof sid);
  put(body, sid, sizeof sid);
  put16(body, 4);
  put16(body, 0xc02f);
  put16(body, 0x1301);
  put8(body, 1);
  put8(body, 0);
  if (e != NULL) {
    put16(body, (unsigned)e->n);
    put(body, e->b, e->n);
  }
}

/* Frames a body as a ClientHello message in handshake records of at most
 * frag bytes each. */
static void records(buf *out, const buf *body, size_t frag) {
  buf msg = {.n = 0};
  out->n = 0;
  put8(&msg, 1);
  put24(&msg, body->n);
  put(&msg, body->b, body->n);
  for (size_t at = 0; at < msg.n; at += frag) {
    size_t n = PORTLS__MIN(frag, msg.n - at);
    put8(out, 0x16);
    put16(out, 0x0301);
    put16(out, (unsigned)n);
    put(out, msg.b + at, n);
  }
}

/* A hello with exactly these extensions, in one record; parsed every way. */
static int parse_exts(portls__hello *h, const buf *e) {
  static buf body, rec;
  body_with(&body, e);
  records(&rec, &body, 16384);
  return parse(h, rec.b, rec.n);
}

static int alpn_names(const portls__client_hello *ch, char *out, size_t cap) {
  size_t pos = 0, len, at = 0;
  const uint8_t *name;
  int n = 0;
  out[0] = '\0';
  while (portls__hello_alpn_next(ch->alpn, ch->alpn_len, &pos, &name, &len)) {
    cr_assert_lt(at + len + 2, cap);
    if (n++) out[at++] = ',';
    memcpy(out + at, name, len);
    at += len;
    out[at] = '\0';
  }
  return n;
}

#define BAD(h, rc, w)                                                                              \
  do {                                                                                             \
    cr_assert_eq((rc), PORTLS_EPROTO, "expected EPROTO, got %d", (rc));                            \
    cr_assert_eq((h)->why, (w), "why %d, expected %d (%s)", (int)(h)->why, (int)(w),               \
                 (h)->err.message);                                                                \
    cr_assert_eq((h)->err.code, PORTLS_EPROTO);                                                    \
  } while (0)

/* ---- real hellos ----------------------------------------------------------------- */

Test(hello, openssl_tls12_hello_gives_sni_alpn_and_status_request) {
  portls__hello h;
  char names[64];
  cr_assert_eq(parse(&h, ossl12, sizeof ossl12), PORTLS__HELLO_DONE, "%s", h.err.message);
  const portls__client_hello *ch = &h.ch;
  cr_assert_eq(portls__hello_consumed(&h), sizeof ossl12);
  cr_assert_eq(ch->version, 0x0303);
  cr_assert_arr_eq(ch->random, ossl12 + 11, 32);
  cr_assert_eq(ch->session_id_len, 0);
  cr_assert_null(ch->session_id);
  cr_assert_eq(ch->n_suites, 28);
  cr_assert_eq(portls__hello_u16(ch->suites, 0), 0xc02c);
  cr_assert(ch->reneg_scsv, "OpenSSL sends TLS_EMPTY_RENEGOTIATION_INFO_SCSV");
  cr_assert_eq(ch->n_compressions, 1);
  cr_assert_eq(ch->compressions[0], 0);
  cr_assert_str_eq(ch->servername, "www.example.com");
  cr_assert_eq(ch->servername_len, 15);
  cr_assert_eq(alpn_names(ch, names, sizeof names), 2);
  cr_assert_str_eq(names, "h2,http/1.1");
  cr_assert_eq(ch->alpn_len, 12);
  cr_assert_arr_eq(ch->alpn, "\x02h2\x08http/1.1", 12);
  cr_assert(ch->status_request);
  cr_assert(ch->session_ticket);
  cr_assert_null(ch->ticket);
  cr_assert_null(ch->versions, "-tls1_2 sends no supported_versions");
  cr_assert_not(portls__hello_offers_tls13(ch));
  cr_assert_not(ch->pre_shared_key);
  cr_assert_not(ch->npn);
  cr_assert_not(ch->reneg_info);
  cr_assert_eq(ch->n_groups, 5);
  cr_assert_eq(portls__hello_u16(ch->groups, 0), 0x001d);
  cr_assert_eq(ch->n_sigalgs, 20);
  cr_assert_eq(ch->n_exts, 9);
  portls__hello_free(&h);
}

Test(hello, openssl_tls13_resumption_hello_gives_psk_session_id_and_versions) {
  portls__hello h;
  static const uint8_t sid[32] = {0x50, 0x14, 0xfe, 0x28, 0x3e, 0xbf, 0xfa, 0xe7, 0x07, 0x87, 0xa4,
                                  0x69, 0xb9, 0xa5, 0x59, 0x97, 0xdf, 0x54, 0x8b, 0xfb, 0x8f, 0x35,
                                  0x6d, 0x60, 0xb7, 0x07, 0xe6, 0x7b, 0xa0, 0x8b, 0xbe, 0xa8};
  cr_assert_eq(parse(&h, ossl13_psk, sizeof ossl13_psk), PORTLS__HELLO_DONE, "%s", h.err.message);
  const portls__client_hello *ch = &h.ch;
  cr_assert_eq(ch->version, 0x0303, "legacy_version stays 1.2 in TLS 1.3");
  cr_assert_eq(ch->session_id_len, 32, "middlebox-compatibility session id");
  cr_assert_arr_eq(ch->session_id, sid, 32);
  cr_assert_eq(ch->n_suites, 4);
  cr_assert_eq(portls__hello_u16(ch->suites, 0), 0x1302);
  cr_assert_str_eq(ch->servername, "psk.example.com");
  cr_assert_null(ch->alpn);
  cr_assert(ch->status_request);
  cr_assert_eq(ch->n_versions, 1);
  cr_assert_eq(portls__hello_u16(ch->versions, 0), 0x0304);
  cr_assert(portls__hello_offers_tls13(ch));
  cr_assert(ch->pre_shared_key);
  cr_assert_eq(ch->n_psk_identities, 1);
  cr_assert_eq(ch->psk_identity_len, 208);
  cr_assert_eq(ch->psk_identity[0], 0x73);
  cr_assert_not(ch->early_data);
  cr_assert_eq(ch->n_groups, 10);
  cr_assert_eq(ch->n_exts, 12);
  /* key_share through the generic accessor */
  const uint8_t *d;
  size_t len;
  cr_assert(portls__hello_find_ext(ch, 51, &d, &len));
  cr_assert_eq(len, 38);
  cr_assert_eq(d[0], 0x00);
  cr_assert_eq(d[1], 0x24);
  cr_assert_not(portls__hello_find_ext(ch, PORTLS__EXT_ALPN, &d, &len));
  cr_assert_null(d);
  portls__hello_free(&h);
}

Test(hello, gnutls_hello_gives_sni_last_alpn_and_renegotiation_info) {
  portls__hello h;
  char names[64];
  cr_assert_eq(parse(&h, gnutls, sizeof gnutls), PORTLS__HELLO_DONE, "%s", h.err.message);
  const portls__client_hello *ch = &h.ch;
  cr_assert_eq(ch->session_id_len, 32);
  cr_assert_eq(ch->session_id[0], 0xca);
  cr_assert_eq(ch->n_suites, 29);
  cr_assert_not(ch->reneg_scsv);
  cr_assert(ch->reneg_info);
  cr_assert_str_eq(ch->servername, "gnutls.example.com");
  cr_assert_eq(alpn_names(ch, names, sizeof names), 2);
  cr_assert_str_eq(names, "h2,spdy/3");
  cr_assert(ch->status_request);
  cr_assert(ch->session_ticket);
  cr_assert_null(ch->ticket);
  cr_assert_eq(ch->n_versions, 4);
  cr_assert_eq(portls__hello_u16(ch->versions, 0), 0x0304);
  cr_assert_eq(portls__hello_u16(ch->versions, 3), 0x0301);
  cr_assert(portls__hello_offers_tls13(ch));
  cr_assert_not(ch->pre_shared_key);
  cr_assert_eq(ch->n_sigalgs, 16);
  cr_assert_eq(ch->n_exts, 14);
  /* walking the extensions in wire order */
  size_t pos = 0, len, n = 0;
  uint16_t type, first = 0, last = 0;
  const uint8_t *d;
  while (portls__hello_next_ext(ch, &pos, &type, &d, &len)) {
    if (n++ == 0) first = type;
    last = type;
  }
  cr_assert_eq(n, 14);
  cr_assert_eq(first, PORTLS__EXT_STATUS_REQUEST);
  cr_assert_eq(last, 28, "record_size_limit");
  portls__hello_free(&h);
}

Test(hello, every_prefix_of_a_hello_needs_more) {
  for (size_t n = 0; n < sizeof ossl13_psk; n++) {
    portls__hello h;
    cr_assert_eq(feed(&h, ossl13_psk, n, 0), PORTLS__HELLO_MORE, "prefix of %zu bytes", n);
    cr_assert_eq(portls__hello_consumed(&h), n);
    portls__hello_free(&h);
  }
}

Test(hello, hello_spanning_many_records_parses_the_same) {
  static buf body, rec;
  portls__hello whole, h;
  body.n = 0;
  put(&body, gnutls + 9, sizeof gnutls - 9);
  cr_assert_eq(feed(&whole, gnutls, sizeof gnutls, 0), PORTLS__HELLO_DONE);
  for (size_t frag = 1; frag <= 200; frag += (frag < 8 ? 1 : 37)) {
    records(&rec, &body, frag);
    cr_assert_eq(parse(&h, rec.b, rec.n), PORTLS__HELLO_DONE, "records of %zu: %s", frag,
                 h.err.message);
    cr_assert_eq(portls__hello_consumed(&h), rec.n);
    cr_assert_str_eq(h.ch.servername, whole.ch.servername);
    cr_assert_eq(h.ch.alpn_len, whole.ch.alpn_len);
    cr_assert_arr_eq(h.ch.alpn, whole.ch.alpn, whole.ch.alpn_len);
    cr_assert_eq(h.ch.exts_len, whole.ch.exts_len);
    cr_assert_arr_eq(h.ch.exts, whole.ch.exts, whole.ch.exts_len);
    portls__hello_free(&h);
  }
  portls__hello_free(&whole);
}

Test(hello, bytes_after_the_hello_are_left_alone) {
  uint8_t more[sizeof ossl12 + 6];
  portls__hello h;
  memcpy(more, ossl12, sizeof ossl12);
  memcpy(more + sizeof ossl12, "\x14\x03\x03\x00\x01\x01", 6); /* a ChangeCipherSpec */
  cr_assert_eq(feed(&h, more, sizeof more, 0), PORTLS__HELLO_DONE);
  cr_assert_eq(portls__hello_consumed(&h), sizeof ossl12);
  cr_assert_eq(portls__hello_feed(&h, "junk", 4), PORTLS__HELLO_DONE, "DONE is final");
  cr_assert_eq(portls__hello_consumed(&h), sizeof ossl12);
  portls__hello_free(&h);
}

/* ---- not TLS --------------------------------------------------------------------- */

Test(hello, sslv2_format_hello_is_not_tls) {
  /* SSLv2-compatible CLIENT-HELLO: 2-byte header with the high bit set, type 1, version 3.1 */
  static const uint8_t v2[] = {0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00,
                               0x00, 0x10, 0x00, 0x00, 0x2f, 0x00, 0x00, 0x35};
  portls__hello h;
  cr_assert_eq(parse(&h, v2, sizeof v2), PORTLS__HELLO_NOT_TLS);
  cr_assert_eq(h.why, PORTLS__HELLO_E_SSLV2);
  cr_assert_eq(h.err.code, PORTLS_EPROTO);
  cr_assert_eq(portls__hello_consumed(&h), 1, "decided on the first byte");
  cr_assert_eq(portls__hello_feed(&h, ossl12, sizeof ossl12), PORTLS__HELLO_NOT_TLS, "final");
  portls__hello_free(&h);
}

Test(hello, plaintext_http_is_not_tls) {
  static const char get[] = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
  portls__hello h;
  cr_assert_eq(parse(&h, (const uint8_t *)get, sizeof get - 1), PORTLS__HELLO_NOT_TLS);
  cr_assert_eq(h.why, PORTLS__HELLO_E_NOT_HANDSHAKE);
  cr_assert(strstr(h.err.message, "0x47") != NULL, "%s", h.err.message);
  portls__hello_free(&h);
}

Test(hello, first_record_not_a_handshake_is_not_tls) {
  static const uint8_t appdata[] = {0x17, 0x03, 0x03, 0x00, 0x02, 0xab, 0xcd};
  static const uint8_t alert[] = {0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28};
  static const uint8_t badver[] = {0x16, 0x02, 0x00, 0x00, 0x02, 0x01, 0x00};
  portls__hello h;
  cr_assert_eq(parse(&h, appdata, sizeof appdata), PORTLS__HELLO_NOT_TLS);
  cr_assert_eq(h.why, PORTLS__HELLO_E_NOT_HANDSHAKE);
  portls__hello_free(&h);
  cr_assert_eq(parse(&h, alert, sizeof alert), PORTLS__HELLO_NOT_TLS);
  portls__hello_free(&h);
  cr_assert_eq(parse(&h, badver, sizeof badver), PORTLS__HELLO_NOT_TLS);
  cr_assert_eq(portls__hello_consumed(&h), 2);
  portls__hello_free(&h);
}

/* ---- records and the handshake header ------------------------------------------- */

Test(hello, another_record_type_inside_the_hello_is_malformed) {
  uint8_t b[64];
  portls__hello h;
  /* the first 20 bytes of the message in one record, then an alert record */
  memcpy(b, ossl12, 5);
  b[3] = 0, b[4] = 20;
  memcpy(b + 5, ossl12 + 5, 20);
  memcpy(b + 25, "\x15\x03\x03\x00\x02\x02\x28", 7);
  BAD(&h, parse(&h, b, 32), PORTLS__HELLO_E_RECORD);
  portls__hello_free(&h);
}

Test(hello, empty_and_overlong_records_are_malformed) {
  static const uint8_t empty[] = {0x16, 0x03, 0x01, 0x00, 0x00};
  static const uint8_t overlong[] = {0x16, 0x03, 0x01, 0x40, 0x01, 0x01};
  portls__hello h;
  BAD(&h, parse(&h, empty, sizeof empty), PORTLS__HELLO_E_RECORD);
  portls__hello_free(&h);
  BAD(&h, parse(&h, overlong, sizeof overlong), PORTLS__HELLO_E_RECORD);
  cr_assert_eq(portls__hello_consumed(&h), 5, "rejected on the record header");
  portls__hello_free(&h);
}

Test(hello, a_handshake_message_other_than_client_hello_is_malformed) {
  static const uint8_t server_hello[] = {0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x46};
  portls__hello h;
  BAD(&h, parse(&h, server_hello, sizeof server_hello), PORTLS__HELLO_E_NOT_HELLO);
  portls__hello_free(&h);
}

Test(hello, a_hello_over_the_size_limit_is_rejected_at_its_header) {
  /* 65537 bytes announced: one over PORTLS__HELLO_BODY_MAX */
  static const uint8_t big[] = {0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x01, 0x00, 0x01};
  portls__hello h;
  cr_assert_eq(PORTLS__HELLO_BODY_MAX, 65536);
  BAD(&h, parse(&h, big, sizeof big), PORTLS__HELLO_E_TOO_BIG);
  cr_assert_eq(portls__hello_consumed(&h), sizeof big, "nothing of the body was buffered");
  cr_assert_null(h.body);
  cr_assert_eq(portls__hello_alert(&h), PORTLS__ALERT_HANDSHAKE_FAILURE);
  cr_assert(strstr(h.err.message, "65537 bytes exceeds 65536") != NULL, "%s", h.err.message);
  portls__hello_free(&h);
}

/* Hellos over one record's 16 KiB, as clients with big tickets, long ALPN
 * lists or padding send them: each record of the message carries a piece. */
Test(hello, a_40_KiB_hello_with_big_padding_in_three_records_parses) {
  static buf e, body, rec;
  static uint8_t pad[40000];
  portls__hello h;
  e.n = 0;
  ext(&e, PORTLS__EXT_SERVER_NAME,
      "\x00\x0e\x00\x00\x0b"
      "example.com",
      16);
  ext(&e, 21, pad, sizeof pad);
  body_with(&body, &e);
  records(&rec, &body, 16384);
  cr_assert_eq(rec.n, body.n + 4 + 3 * 5, "three records");
  for (size_t step = 0; step <= 16389; step += step < 7 ? 1 : 4096) {
    cr_assert_eq(feed(&h, rec.b, rec.n, step), PORTLS__HELLO_DONE, "step %zu: %s", step,
                 h.err.message);
    cr_assert_eq(portls__hello_consumed(&h), rec.n);
    cr_assert_str_eq(h.ch.servername, "example.com");
    cr_assert_eq(h.ch.n_exts, 2);
    cr_assert_eq(portls__hello_alert(&h), 0);
    portls__hello_free(&h);
  }
}

Test(hello, a_hello_with_thousands_of_extensions_in_four_records_parses) {
  static buf e, body, rec;
  static const uint8_t data[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  portls__hello h;
  e.n = 0;
  for (unsigned i = 0; i < 3000; i++) ext(&e, 0x1000 + i, data, sizeof data);
  ext(&e, PORTLS__EXT_ALPN, "\x00\x03\x02h2", 5);
  body_with(&body, &e);
  records(&rec, &body, 12000);
  cr_assert_gt(body.n, 40000);
  cr_assert_eq(feed(&h, rec.b, rec.n, 0), PORTLS__HELLO_DONE, "%s", h.err.message);
  cr_assert_eq(h.ch.n_exts, 3001);
  cr_assert_eq(h.ch.alpn_len, 3);
  portls__hello_free(&h);
  cr_assert_eq(feed(&h, rec.b, rec.n, 1), PORTLS__HELLO_DONE, "%s", h.err.message);
  portls__hello_free(&h);
  /* Two of them the same: refused, with illegal_parameter. */
  ext(&e, 0x1000 + 1234, data, sizeof data);
  body_with(&body, &e);
  records(&rec, &body, 12000);
  BAD(&h, feed(&h, rec.b, rec.n, 0), PORTLS__HELLO_E_DUP_EXT);
  cr_assert_eq(portls__hello_alert(&h), PORTLS__ALERT_ILLEGAL_PARAMETER);
  portls__hello_free(&h);
}

Test(hello, refusals_name_the_alert_to_answer_them_with) {
  static const uint8_t server_hello[] = {0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x46};
  static const uint8_t empty[] = {0x16, 0x03, 0x01, 0x00, 0x00};
  static const char get[] = "GET / HTTP/1.1\r\n";
  portls__hello h;
  portls__hello_init(&h);
  cr_assert_eq(portls__hello_alert(&h), 0, "nothing decided yet");
  cr_assert_eq(feed(&h, ossl12, 20, 0), PORTLS__HELLO_MORE);
  cr_assert_eq(portls__hello_alert(&h), 0);
  portls__hello_free(&h);
  cr_assert_eq(feed(&h, ossl12, sizeof ossl12, 0), PORTLS__HELLO_DONE);
  cr_assert_eq(portls__hello_alert(&h), 0);
  portls__hello_free(&h);
  cr_assert_eq(feed(&h, (const uint8_t *)get, sizeof get - 1, 0), PORTLS__HELLO_NOT_TLS);
  cr_assert_eq(portls__hello_alert(&h), 0, "no TLS alert for what is not TLS");
  portls__hello_free(&h);
  BAD(&h, feed(&h, server_hello, sizeof server_hello, 0), PORTLS__HELLO_E_NOT_HELLO);
  cr_assert_eq(portls__hello_alert(&h), PORTLS__ALERT_UNEXPECTED_MESSAGE);
  portls__hello_free(&h);
  BAD(&h, feed(&h, empty, sizeof empty, 0), PORTLS__HELLO_E_RECORD);
  cr_assert_eq(portls__hello_alert(&h), PORTLS__ALERT_DECODE_ERROR);
  portls__hello_free(&h);
}

Test(hello, a_hello_of_the_largest_size_is_accepted) {
  static buf e, body, rec;
  static uint8_t pad[PORTLS__HELLO_BODY_MAX];
  portls__hello h;
  e.n = 0;
  body_with(&body, &e);
  /* padding (RFC 7685) up to exactly PORTLS__HELLO_BODY_MAX */
  size_t padlen = PORTLS__HELLO_BODY_MAX - body.n - 4;
  ext(&e, 21, pad, padlen);
  body_with(&body, &e);
  cr_assert_eq(body.n, PORTLS__HELLO_BODY_MAX);
  records(&rec, &body, 16384);
  cr_assert_eq(feed(&h, rec.b, rec.n, 0), PORTLS__HELLO_DONE, "%s", h.err.message);
  portls__hello_free(&h);
  cr_assert_eq(feed(&h, rec.b, rec.n, 1), PORTLS__HELLO_DONE, "%s", h.err.message);
  portls__hello_free(&h);

  /* one byte more is too big */
  e.n = 0;
  ext(&e, 21, pad, padlen + 1);
  body_with(&body, &e);
  records(&rec, &body, 16384);
  BAD(&h, feed(&h, rec.b, rec.n, 0), PORTLS__HELLO_E_TOO_BIG);
  cr_assert_eq(portls__hello_alert(&h), PORTLS__ALERT_HANDSHAKE_FAILURE);
  portls__hello_free(&h);
}

Test(hello, a_hello_in_too_many_records_hits_the_byte_limit) {
  static buf e, body, rec;
  static uint8_t pad[40000];
  portls__hello h;
  e.n = 0;
  ext(&e, 21, pad, sizeof pad);
  body_with(&body, &e);
  /* 40 KB in 4-byte records: 9 bytes per 4, over PORTLS__HELLO_MAX */
  records(&rec, &body, 4);
  cr_assert_gt(rec.n, PORTLS__HELLO_MAX);
  BAD(&h, feed(&h, rec.b, rec.n, 0), PORTLS__HELLO_E_TOO_BIG);
  cr_assert_eq(portls__hello_consumed(&h), PORTLS__HELLO_MAX, "stops at the limit");
  portls__hello_free(&h);
  BAD(&h, feed(&h, rec.b, rec.n, 7), PORTLS__HELLO_E_TOO_BIG);
  portls__hello_free(&h);
  /* the same hello in 64-byte records fits */
  records(&rec, &body, 64);
  cr_assert_lt(rec.n, PORTLS__HELLO_MAX);
  cr_assert_eq(feed(&h, rec.b, rec.n, 0), PORTLS__HELLO_DONE, "%s", h.err.message);
  portls__hello_free(&h);
}

/* ---- the body -------------------------------------------------------------------- */

Test(hello, a_hello_without_extensions_parses) {
  static buf body, rec;
  portls__hello h;
  body_with(&body, NULL);
  records(&rec, &body, 16384);
  cr_assert_eq(parse(&h, rec.b, rec.n), PORTLS__HELLO_DONE, "%s", h.err.message);
  cr_assert_eq(h.ch.n_exts, 0);
  cr_assert_null(h.ch.exts);
  cr_assert_null(h.ch.servername);
  cr_assert_eq(h.ch.session_id_len, 8);
  cr_assert_eq(h.ch.session_id[7], 8);
  cr_assert_eq(h.ch.n_suites, 2);
  portls__hello_free(&h);
}

Test(hello, lengths_that_overflow_their_container_are_malformed) {
  static buf body, rec;
  portls__hello h;
  struct {
    size_t at; /* offset in the body */
    uint8_t v;
    const char *what;
  } cases[] = {
      /* body: version 0, random 2, session_id 34 (8 bytes), cipher_suites 43 (4),
       * compression_methods 49 (1), extensions 51, first extension 53 */
      {34, 33, "session_id of 33 bytes"},
      {34, 200, "session_id past the end"},
      {44, 5, "odd cipher_suites length"},
      {44, 0xff, "cipher_suites past the end"},
      {43, 0xff, "cipher_suites past the end (high byte)"},
      {44, 0, "no cipher suite"},
      {49, 0, "no compression method"},
      {49, 0xff, "compression_methods past the end"},
      {52, 0xff, "extensions past the end"},
      {51, 0x01, "extensions past the end (high byte)"},
      {52, 4, "extensions shorter than what follows"},
      {56, 0x33, "an extension past the block"},
      {55, 0x01, "an extension past the block (high byte)"},
  };
  buf e = {.n = 0};
  ext(&e, 23, NULL, 0); /* extended_master_secret, empty */
  ext(&e, 22, NULL, 0);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    body_with(&body, &e);
    cr_assert_lt(cases[i].at, body.n);
    body.b[cases[i].at] = cases[i].v;
    records(&rec, &body, 16384);
    BAD(&h, parse(&h, rec.b, rec.n), PORTLS__HELLO_E_LENGTH);
    cr_assert_null(h.ch.exts, "%s: no partial result", cases[i].what);
    portls__hello_free(&h);
  }
  /* a byte after the extensions block, and a lone byte where it would start */
  body_with(&body, &e);
  put8(&body, 0);
  records(&rec, &body, 16384);
  BAD(&h, parse(&h, rec.b, rec.n), PORTLS__HELLO_E_LENGTH);
  portls__hello_free(&h);
  body_with(&body, NULL);
  put8(&body, 0);
  records(&rec, &body, 16384);
  BAD(&h, parse(&h, rec.b, rec.n), PORTLS__HELLO_E_LENGTH);
  portls__hello_free(&h);
  /* a message that ends inside the random */
  body.n = 20;
  records(&rec, &body, 16384);
  BAD(&h, parse(&h, rec.b, rec.n), PORTLS__HELLO_E_LENGTH);
  portls__hello_free(&h);
}

Test(hello, session_id_is_at_most_32_bytes) {
  static buf body, rec;
  static const uint8_t sid[33] = {0};
  portls__hello h;
  for (size_t n = 32; n <= 33; n++) {
    body.n = 0;
    put16(&body, 0x0303);
    for (int i = 0; i < 32; i++) put8(&body, i);
    put8(&body, (unsigned)n);
    put(&body, sid, n);
    put16(&body, 2);
    put16(&body, 0x1301);
    put8(&body, 1);
    put8(&body, 0);
    records(&rec, &body, 16384);
    if (n == 32) {
      cr_assert_eq(parse(&h, rec.b, rec.n), PORTLS__HELLO_DONE, "%s", h.err.message);
      cr_assert_eq(h.ch.session_id_len, 32);
    } else {
      BAD(&h, parse(&h, rec.b, rec.n), PORTLS__HELLO_E_LENGTH);
      cr_assert(strstr(h.err.message, "session_id of 33 bytes") != NULL, "%s", h.err.message);
    }
    portls__hello_free(&h);
  }
}

Test(hello, duplicate_extensions_are_malformed) {
  buf e = {.n = 0};
  portls__hello h;
  ext(&e, 23, NULL, 0);
  ext(&e, 0xff01, "\0", 1);
  ext(&e, 23, NULL, 0);
  BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_DUP_EXT);
  cr_assert(strstr(h.err.message, "0x0017") != NULL, "%s", h.err.message);
  portls__hello_free(&h);

  /* 100 distinct extensions are fine; the 101st repeating one is not */
  e.n = 0;
  for (unsigned t = 1000; t < 1100; t++) ext(&e, t, NULL, 0);
  cr_assert_eq(parse_exts(&h, &e), PORTLS__HELLO_DONE, "%s", h.err.message);
  cr_assert_eq(h.ch.n_exts, 100);
  portls__hello_free(&h);
  ext(&e, 1042, NULL, 0);
  BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_DUP_EXT);
  portls__hello_free(&h);
}

static void sni_list(buf *e, const void *name, size_t len) {
  buf d = {.n = 0};
  put16(&d, (unsigned)(3 + len));
  put8(&d, 0);
  put16(&d, (unsigned)len);
  put(&d, name, len);
  e->n = 0;
  ext(e, 0, d.b, d.n);
}

Test(hello, server_name_is_validated) {
  static buf e;
  portls__hello h;
  char name[256];

  sni_list(&e, "bad\0name.com", 12);
  BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_SNI);
  cr_assert(strstr(h.err.message, "NUL") != NULL, "%s", h.err.message);
  portls__hello_free(&h);

  sni_list(&e, "", 0);
  BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_SNI);
  portls__hello_free(&h);

  memset(name, 'a', sizeof name);
  sni_list(&e, name, 256);
  BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_SNI);
  portls__hello_free(&h);

  sni_list(&e, name, 255);
  cr_assert_eq(parse_exts(&h, &e), PORTLS__HELLO_DONE, "%s", h.err.message);
  cr_assert_eq(h.ch.servername_len, 255);
  cr_assert_eq(strlen(h.ch.servername), 255);
  portls__hello_free(&h);

  sni_list(&e, "x", 1);
  cr_assert_eq(parse_exts(&h, &e), PORTLS__HELLO_DONE);
  cr_assert_str_eq(h.ch.servername, "x");
  portls__hello_free(&h);

  /* host_name length overrunning the list; list length overrunning the extension */
  sni_list(&e, "example.com", 11);
  e.b[8] = 12;
  BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_SNI);
  portls__hello_free(&h);
  sni_list(&e, "example.com", 11);
  e.b[5] = 15;
  BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_SNI);
  portls__hello_free(&h);

  /* an empty extension, an empty list */
  e.n = 0;
  ext(&e, 0, NULL, 0);
  BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_SNI);
  portls__hello_free(&h);
  e.n = 0;
  ext(&e, 0, "\0\0", 2);
  BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_SNI);
  portls__hello_free(&h);
}

Test(hello, server_name_takes_the_host_name_among_other_name_types) {
  static const uint8_t two_types[] = {0x00, 0x0b, 0x07, 0x00, 0x02, 'z', 'z',
                                      0x00, 0x00, 0x03, 'a',  '.',  'b'};
  static const uint8_t two_hosts[] = {0x00, 0x0a, 0x00, 0x00, 0x03, 'a',
                                      '.',  'b',  0x00, 0x00, 0x01, 'c'};
  static const uint8_t no_host[] = {0x00, 0x05, 0x07, 0x00, 0x02, 'z', 'z'};
  buf e = {.n = 0};
  portls__hello h;
  ext(&e, 0, two_types, sizeof two_types);
  cr_assert_eq(parse_exts(&h, &e), PORTLS__HELLO_DONE, "%s", h.err.message);
  cr_assert_str_eq(h.ch.servername, "a.b");
  portls__hello_free(&h);
  e.n = 0;
  ext(&e, 0, two_hosts, sizeof two_hosts);
  BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_SNI);
  portls__hello_free(&h);
  e.n = 0;
  ext(&e, 0, no_host, sizeof no_host);
  BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_SNI);
  portls__hello_free(&h);
}

Test(hello, alpn_list_is_validated) {
  buf e = {.n = 0};
  portls__hello h;
  char names[64];

  ext(&e, 16, "\x00\x06\x02h2\x00\x01x", 8); /* "h2", "", then more */
  BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_ALPN);
  cr_assert(strstr(h.err.message, "empty") != NULL, "%s", h.err.message);
  portls__hello_free(&h);

  e.n = 0;
  ext(&e, 16, "\x00\x00", 2);
  BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_ALPN);
  portls__hello_free(&h);

  e.n = 0;
  ext(&e, 16, "\x00\x03\x05h2", 5); /* name longer than the list */
  BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_ALPN);
  portls__hello_free(&h);

  e.n = 0;
  ext(&e, 16, "\x00\x09\x02h2", 5); /* list longer than the extension */
  BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_ALPN);
  portls__hello_free(&h);

  e.n = 0;
  ext(&e, 16,
      "\x00\x03\x02"
      "ab"
      "c",
      6); /* list shorter than the extension */
  BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_ALPN);
  portls__hello_free(&h);

  e.n = 0;
  ext(&e, 16,
      "\x00\x04\x01"
      "a\x01"
      "b",
      6);
  cr_assert_eq(parse_exts(&h, &e), PORTLS__HELLO_DONE, "%s", h.err.message);
  cr_assert_eq(alpn_names(&h.ch, names, sizeof names), 2);
  cr_assert_str_eq(names, "a,b");
  portls__hello_free(&h);
}

Test(hello, status_request_only_counts_for_ocsp) {
  buf e = {.n = 0};
  portls__hello h;
  ext(&e, 5, "\x02\x00\x00\x00\x00", 5); /* ocsp_multi-style type: ignored */
  cr_assert_eq(parse_exts(&h, &e), PORTLS__HELLO_DONE);
  cr_assert_not(h.ch.status_request);
  portls__hello_free(&h);

  e.n = 0;
  ext(&e, 5, "\x01\x00\x04\x00\x02\xab\xcd\x00\x00", 9); /* one responder id */
  cr_assert_eq(parse_exts(&h, &e), PORTLS__HELLO_DONE, "%s", h.err.message);
  cr_assert(h.ch.status_request);
  portls__hello_free(&h);

  static const struct {
    const char *d;
    size_t n;
  } bad[] = {
      {"", 0},                             /* no status_type */
      {"\x01\x00\x00", 3},                 /* no request_extensions */
      {"\x01\x00\x05\x00\x00\x00", 6},     /* responder_id_list past the end */
      {"\x01\x00\x02\x00\x00\x00\x00", 7}, /* an empty responder id */
      {"\x01\x00\x00\x00\x00\x00", 6},     /* a trailing byte */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    e.n = 0;
    ext(&e, 5, bad[i].d, bad[i].n);
    BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_EXT);
    portls__hello_free(&h);
  }
}

Test(hello, session_ticket_npn_early_data_and_renegotiation_info) {
  buf e = {.n = 0};
  portls__hello h;
  ext(&e, 35, "TICKET", 6);
  ext(&e, 13172, NULL, 0);
  ext(&e, 42, NULL, 0);
  ext(&e, 0xff01, "\0", 1);
  cr_assert_eq(parse_exts(&h, &e), PORTLS__HELLO_DONE, "%s", h.err.message);
  cr_assert(h.ch.session_ticket);
  cr_assert_eq(h.ch.ticket_len, 6);
  cr_assert_arr_eq(h.ch.ticket, "TICKET", 6);
  cr_assert(h.ch.npn);
  cr_assert(h.ch.early_data);
  cr_assert(h.ch.reneg_info);
  portls__hello_free(&h);

  e.n = 0;
  ext(&e, 0xff01, "\x02\x00", 2); /* says 2, has 1 */
  BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_EXT);
  portls__hello_free(&h);
  e.n = 0;
  ext(&e, 42, "x", 1);
  BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_EXT);
  portls__hello_free(&h);
}

Test(hello, lists_of_16_bit_values_are_validated) {
  static const unsigned types[] = {10, 13, 43};
  portls__hello h;
  for (size_t i = 0; i < 3; i++) {
    int one = types[i] == 43; /* supported_versions has a 1-byte length */
    buf e = {.n = 0};
    /* odd length */
    ext(&e, types[i], one ? "\x03\x03\x04\x03" : "\x00\x03\x03\x04\x03", one ? 4 : 5);
    BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_EXT);
    portls__hello_free(&h);
    /* empty list */
    e.n = 0;
    ext(&e, types[i], "\0\0", one ? 1 : 2);
    BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_EXT);
    portls__hello_free(&h);
    /* list past the end */
    e.n = 0;
    ext(&e, types[i], one ? "\x04\x03\x04" : "\x00\x04\x03\x04", one ? 3 : 4);
    BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_EXT);
    portls__hello_free(&h);
  }
  buf e = {.n = 0};
  ext(&e, 43, "\x04\x7a\x7a\x03\x04", 5); /* GREASE, then TLS 1.3 */
  cr_assert_eq(parse_exts(&h, &e), PORTLS__HELLO_DONE);
  cr_assert_eq(h.ch.n_versions, 2);
  cr_assert(portls__hello_offers_tls13(&h.ch));
  portls__hello_free(&h);
}

/* OfferedPsks with one identity of len bytes and one 32-byte binder. */
static void psk_ext(buf *e, size_t idlen, size_t binders) {
  buf d = {.n = 0};
  uint8_t zero[64] = {0};
  put16(&d, (unsigned)(2 + idlen + 4));
  put16(&d, (unsigned)idlen);
  put(&d, zero, idlen);
  put(&d, "\0\0\0\1", 4);
  put16(&d, (unsigned)(33 * binders));
  for (size_t i = 0; i < binders; i++) {
    put8(&d, 32);
    put(&d, zero, 32);
  }
  ext(e, 41, d.b, d.n);
}

Test(hello, pre_shared_key_must_be_last_and_well_formed) {
  buf e = {.n = 0};
  portls__hello h;
  ext(&e, 43, "\x02\x03\x04", 3);
  psk_ext(&e, 16, 1);
  cr_assert_eq(parse_exts(&h, &e), PORTLS__HELLO_DONE, "%s", h.err.message);
  cr_assert(h.ch.pre_shared_key);
  cr_assert_eq(h.ch.n_psk_identities, 1);
  cr_assert_eq(h.ch.psk_identity_len, 16);
  portls__hello_free(&h);

  ext(&e, 23, NULL, 0);
  BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_PSK_NOT_LAST);
  portls__hello_free(&h);

  e.n = 0;
  psk_ext(&e, 16, 2); /* two binders for one identity */
  BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_EXT);
  portls__hello_free(&h);
  e.n = 0;
  psk_ext(&e, 0, 1); /* an empty identity */
  BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_EXT);
  portls__hello_free(&h);
  e.n = 0;
  ext(&e, 41, "\x00\x00\x00\x00", 4); /* no identities */
  BAD(&h, parse_exts(&h, &e), PORTLS__HELLO_E_EXT);
  portls__hello_free(&h);
}

/* ---- allocation failure ---------------------------------------------------------- */

static void *no_malloc(void *ctx, size_t size) {
  (void)ctx, (void)size;
  return NULL;
}
static void *no_realloc(void *ctx, void *p, size_t size) {
  (void)ctx, (void)p, (void)size;
  return NULL;
}
static void std_free(void *ctx, void *p) {
  (void)ctx;
  free(p);
}

Test(hello, allocation_failure_is_enomem_and_final) {
  portls_allocator a = {no_malloc, no_realloc, std_free, NULL};
  portls__hello h;
  cr_assert_eq(portls_set_allocator(&a), 0);
  portls__hello_init(&h);
  cr_assert_eq(portls__hello_feed(&h, ossl12, sizeof ossl12), PORTLS_ENOMEM);
  cr_assert_eq(h.why, PORTLS__HELLO_E_NOMEM);
  cr_assert_eq(h.err.code, PORTLS_ENOMEM);
  cr_assert_eq(portls__hello_alert(&h), PORTLS__ALERT_INTERNAL_ERROR);
  cr_assert_eq(portls__hello_feed(&h, ossl12, sizeof ossl12), PORTLS_ENOMEM);
  portls__hello_free(&h);
  portls_set_allocator(NULL);
}
