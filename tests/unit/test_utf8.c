/* Unit tests of core/util/utf8.c: the strict decoder, the maximal-subpart
 * replacement (whole-string and streaming), the encoder. */
#include <criterion/criterion.h>
#include <string.h>

#include "util/utf8.h"

#define U(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

static size_t dec(const uint8_t *p, size_t n, uint32_t *cp) {
  return portls__utf8_decode(p, n, cp);
}

Test(utf8, decodes_valid_sequences_of_every_length) {
  static const struct {
    const char *s;
    size_t len;
    uint32_t cp;
  } ok[] = {
      {"A", 1, 0x41},
      {"\x7F", 1, 0x7F},
      {"\xC2\x80", 2, 0x80},
      {"\xC3\xA9", 2, 0xE9},
      {"\xDF\xBF", 2, 0x7FF},
      {"\xE0\xA0\x80", 3, 0x800},
      {"\xE2\x82\xAC", 3, 0x20AC},
      {"\xED\x9F\xBF", 3, 0xD7FF},
      {"\xEE\x80\x80", 3, 0xE000},
      {"\xEF\xBF\xBF", 3, 0xFFFF},
      {"\xF0\x90\x80\x80", 4, 0x10000},
      {"\xF0\x9F\x98\x80", 4, 0x1F600},
      {"\xF4\x8F\xBF\xBF", 4, 0x10FFFF},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    uint32_t cp = 0;
    uint8_t b[4];
    cr_assert_eq(dec((const uint8_t *)ok[i].s, strlen(ok[i].s), &cp), ok[i].len, "case %zu", i);
    cr_assert_eq(cp, ok[i].cp, "case %zu", i);
    /* Trailing bytes do not matter; a NULL cp is allowed. */
    cr_assert_eq(dec((const uint8_t *)ok[i].s, strlen(ok[i].s) + 1, NULL), ok[i].len);
    cr_assert_eq(portls__utf8_encode(ok[i].cp, b), ok[i].len);
    cr_assert_eq(memcmp(b, ok[i].s, ok[i].len), 0, "case %zu", i);
  }
}

Test(utf8, rejects_overlong_surrogate_truncated_and_invalid) {
  static const struct {
    const char *s;
    size_t invalid; /* portls__utf8_invalid_len */
  } bad[] = {
      /* overlong */
      {"\xC0\x80", 1},
      {"\xC1\xBF", 1},
      {"\xE0\x80\x80", 1},
      {"\xE0\x9F\xBF", 1},
      {"\xF0\x80\x80\x80", 1},
      {"\xF0\x8F\xBF\xBF", 1},
      /* surrogates */
      {"\xED\xA0\x80", 1},
      {"\xED\xBF\xBF", 1},
      /* above U+10FFFF */
      {"\xF4\x90\x80\x80", 1},
      {"\xF5\x80\x80\x80", 1},
      {"\xF7\xBF\xBF\xBF", 1},
      /* truncated: the lead byte and the continuation bytes that fit */
      {"\xC3", 1},
      {"\xE2\x82", 2},
      {"\xF0\x9F\x98", 3},
      {"\xE2\x82"
       "A",
       2},
      {"\xF0\x9F"
       "\xC3\xA9",
       2},
      /* invalid bytes */
      {"\x80", 1},
      {"\xBF", 1},
      {"\xC3"
       "A",
       1},
      {"\xF8\x88\x80\x80\x80", 1},
      {"\xFE", 1},
      {"\xFF", 1},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint32_t cp = 0x1234;
    size_t n = strlen(bad[i].s);
    cr_assert_eq(dec((const uint8_t *)bad[i].s, n, &cp), 0, "case %zu", i);
    cr_assert_eq(cp, 0x1234, "case %zu: cp untouched", i);
    cr_assert_eq(portls__utf8_invalid_len((const uint8_t *)bad[i].s, n), bad[i].invalid, "case %zu",
                 i);
  }
  cr_assert_eq(dec(U(""), NULL), 0);
  cr_assert_eq(portls__utf8_invalid_len(U("")), 0);
}

/* Every one- to three-byte input, and every four-byte one with a valid lead
 * byte: the decoder accepts exactly the shortest encodings of the scalar
 * values, which the encoder writes back byte for byte. */
Test(utf8, accepts_exactly_the_encodings_of_scalar_values) {
  uint8_t p[4], b[4];
  uint32_t cp;
  unsigned long accepted = 0;
  for (uint32_t v = 0; v < 0x1000000; v++) {
    p[0] = (uint8_t)(v >> 16);
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)v;
    for (size_t n = 1; n <= 3; n++) {
      size_t len;
      if (n < 3 && (v & (n == 1 ? 0xFFFF : 0xFF)) != 0) continue;
      len = dec(p, n, &cp);
      if (len != n) continue;
      accepted++;
      cr_assert(portls__utf8_is_scalar(cp));
      cr_assert_eq(portls__utf8_encode(cp, b), n);
      cr_assert_eq(memcmp(b, p, n), 0);
    }
  }
  cr_assert_eq(accepted, 0x80ul + (0x800 - 0x80) + (0x10000 - 0x800 - 0x800));
  accepted = 0;
  for (uint32_t lead = 0xF0; lead <= 0xFF; lead++)
    for (uint32_t rest = 0; rest < 0x40 * 0x40 * 0x40; rest++) {
      p[0] = (uint8_t)lead;
      p[1] = (uint8_t)(0x80 | (rest >> 12));
      p[2] = (uint8_t)(0x80 | ((rest >> 6) & 0x3F));
      p[3] = (uint8_t)(0x80 | (rest & 0x3F));
      if (dec(p, 4, &cp) != 4) continue;
      accepted++;
      cr_assert(cp >= 0x10000 && cp <= 0x10FFFF);
      cr_assert_eq(portls__utf8_encode(cp, b), 4);
      cr_assert_eq(memcmp(b, p, 4), 0);
    }
  cr_assert_eq(accepted, 0x100000ul);
  cr_assert(!portls__utf8_is_scalar(0xD800));
  cr_assert(!portls__utf8_is_scalar(0xDFFF));
  cr_assert(!portls__utf8_is_scalar(0x110000));
  cr_assert(portls__utf8_is_scalar(0xFFFD));
}

/* Replaces as cert_json.c does: decode, else one U+FFFD per maximal subpart. */
static size_t sanitise_whole(const uint8_t *p, size_t n, uint8_t *out) {
  size_t i = 0, o = 0, k;
  while (i < n) {
    if ((k = dec(p + i, n - i, NULL)) != 0) {
      memcpy(out + o, p + i, k);
      o += k;
      i += k;
    } else {
      memcpy(out + o, PORTLS__UTF8_REPLACEMENT, 3);
      o += 3;
      i += portls__utf8_invalid_len(p + i, n - i);
    }
  }
  return o;
}

/* Replaces as x509.c does: one byte at a time. */
static size_t sanitise_stream(const uint8_t *p, size_t n, uint8_t *out) {
  portls__utf8_stream s;
  size_t i, o = 0;
  memset(&s, 0, sizeof(s));
  for (i = 0; i < n; i++) o += portls__utf8_stream_byte(&s, p[i], out + o);
  return o + portls__utf8_stream_end(&s, out + o);
}

#define R "\xEF\xBF\xBD"

Test(utf8, replaces_each_maximal_invalid_subpart) {
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"plain", "plain"},
      {"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"},
      {"a\xE2\x82"
       "b",
       "a" R "b"},
      {"\xF0\x9F\x98"
       "A",
       R "A"},
      {"\xF0\x9F\x98", R},
      {"\xED\xA0\x80", R R R},
      {"\xC0\xAF", R R},
      {"\xE0\x80\xAF", R R R},
      {"\xF4\x90\x80\x80", R R R R},
      {"\x80\xBF", R R},
      {"\xC3\xC3\xA9", R "\xC3\xA9"},
      {"\xE2\x82\xE2\x82\xAC", R "\xE2\x82\xAC"},
      {"x\xFF"
       "y\xFE",
       "x" R "y" R},
  };
  uint8_t a[64], b[64];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t n = strlen(cases[i].in), na, nb;
    na = sanitise_whole((const uint8_t *)cases[i].in, n, a);
    nb = sanitise_stream((const uint8_t *)cases[i].in, n, b);
    cr_assert_eq(na, strlen(cases[i].out), "case %zu", i);
    cr_assert_eq(memcmp(a, cases[i].out, na), 0, "case %zu", i);
    cr_assert_eq(nb, na, "case %zu", i);
    cr_assert_eq(memcmp(b, a, na), 0, "case %zu", i);
  }
}

Test(utf8, stream_replaces_nul_and_can_be_reused) {
  portls__utf8_stream s;
  uint8_t out[PORTLS__UTF8_STREAM_OUT];
  memset(&s, 0, sizeof(s));
  cr_assert_eq(portls__utf8_stream_byte(&s, 0, out), 3);
  cr_assert_eq(memcmp(out, R, 3), 0);
  /* A pending sequence then an invalid byte: two replacements at once. */
  cr_assert_eq(portls__utf8_stream_byte(&s, 0xE2, out), 0);
  cr_assert_eq(portls__utf8_stream_byte(&s, 0xFF, out), 6);
  cr_assert_eq(memcmp(out, R R, 6), 0);
  cr_assert_eq(portls__utf8_stream_byte(&s, 0xC3, out), 0);
  cr_assert_eq(portls__utf8_stream_end(&s, out), 3);
  cr_assert_eq(portls__utf8_stream_end(&s, out), 0);
  cr_assert_eq(portls__utf8_stream_byte(&s, 0xC3, out), 0);
  cr_assert_eq(portls__utf8_stream_byte(&s, 0xA9, out), 2);
  cr_assert_eq(memcmp(out, "\xC3\xA9", 2), 0);
}
