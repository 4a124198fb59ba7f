/* portls core: strict UTF-8 and its U+FFFD replacement (see utf8.h). */
#include "util/utf8.h"

#include <string.h>

/* The continuation bytes the lead byte b asks for (0 for ASCII) and the
 * range allowed for the first of them (Unicode's table 3-7, which excludes
 * overlong forms, surrogates and code points above U+10FFFF); -1 when b
 * cannot start a sequence. */
static int lead(uint8_t b, uint8_t *lo, uint8_t *hi) {
  *lo = 0x80;
  *hi = 0xBF;
  if (b < 0x80) return 0;
  if (b >= 0xC2 && b <= 0xDF) return 1;
  if (b >= 0xE0 && b <= 0xEF) {
    if (b == 0xE0)
      *lo = 0xA0;
    else if (b == 0xED)
      *hi = 0x9F;
    return 2;
  }
  if (b >= 0xF0 && b <= 0xF4) {
    if (b == 0xF0)
      *lo = 0x90;
    else if (b == 0xF4)
      *hi = 0x8F;
    return 3;
  }
  return -1;
}

int portls__utf8_is_scalar(uint32_t c) { return c <= 0x10FFFF && !(c >= 0xD800 && c <= 0xDFFF); }

size_t portls__utf8_decode(const uint8_t *p, size_t n, uint32_t *cp) {
  uint8_t lo, hi;
  int need;
  size_t i;
  uint32_t c;
  if (n == 0) return 0;
  need = lead(p[0], &lo, &hi);
  if (need < 0 || (size_t)need >= n) return 0;
  c = p[0] & (need == 0 ? 0x7Fu : 0x3Fu >> need);
  for (i = 1; i <= (size_t)need; i++) {
    if (p[i] < lo || p[i] > hi) return 0;
    c = (c << 6) | (p[i] & 0x3Fu);
    lo = 0x80;
    hi = 0xBF;
  }
  if (cp) *cp = c;
  return i;
}

size_t portls__utf8_invalid_len(const uint8_t *p, size_t n) {
  uint8_t lo, hi;
  int need;
  size_t i;
  if (n == 0) return 0;
  need = lead(p[0], &lo, &hi);
  if (need <= 0) return 1;
  for (i = 1; i <= (size_t)need && i < n; i++) {
    if (p[i] < lo || p[i] > hi) return i;
    lo = 0x80;
    hi = 0xBF;
  }
  return i;
}

size_t portls__utf8_encode(uint32_t c, uint8_t out[4]) {
  if (c < 0x80) {
    out[0] = (uint8_t)c;
    return 1;
  }
  if (c < 0x800) {
    out[0] = (uint8_t)(0xC0 | (c >> 6));
    out[1] = (uint8_t)(0x80 | (c & 0x3F));
    return 2;
  }
  if (c < 0x10000) {
    out[0] = (uint8_t)(0xE0 | (c >> 12));
    out[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
    out[2] = (uint8_t)(0x80 | (c & 0x3F));
    return 3;
  }
  out[0] = (uint8_t)(0xF0 | (c >> 18));
  out[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
  out[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
  out[3] = (uint8_t)(0x80 | (c & 0x3F));
  return 4;
}

static size_t replacement(uint8_t *out) {
  memcpy(out, PORTLS__UTF8_REPLACEMENT, 3);
  return 3;
}

size_t portls__utf8_stream_byte(portls__utf8_stream *s, uint8_t b, uint8_t *out) {
  size_t o = 0;
  int need;
  if (s->need) {
    if (b >= s->lo && b <= s->hi) {
      s->buf[s->have++] = b;
      s->lo = 0x80;
      s->hi = 0xBF;
      if (--s->need == 0) {
        memcpy(out, s->buf, s->have);
        o = s->have;
        s->have = 0;
      }
      return o;
    }
    /* The pending bytes were a maximal subpart; b starts afresh. */
    o = replacement(out);
    s->need = 0;
    s->have = 0;
  }
  need = lead(b, &s->lo, &s->hi);
  if (b == 0 || need < 0) {
    o += replacement(out + o);
  } else if (need == 0) {
    out[o++] = b;
  } else {
    s->buf[0] = b;
    s->have = 1;
    s->need = (uint8_t)need;
  }
  return o;
}

size_t portls__utf8_stream_end(portls__utf8_stream *s, uint8_t *out) {
  if (s->need == 0) return 0;
  s->need = 0;
  s->have = 0;
  return replacement(out);
}
