/* portls core: strict base64 (see base64.h). */
#include "util/base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t portls__base64_encoded_len(size_t n) {
  size_t groups = n / 3 + (n % 3 != 0);
  if (groups > ((size_t)-1 - 1) / 4) return (size_t)-1;
  return groups * 4;
}

size_t portls__base64_encode(const void *in, size_t n, char *out) {
  const uint8_t *p = (const uint8_t *)in;
  size_t o = 0;
  size_t i = 0;
  for (; n - i >= 3; i += 3) {
    uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8) | p[i + 2];
    out[o++] = alphabet[(v >> 18) & 63];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = alphabet[(v >> 6) & 63];
    out[o++] = alphabet[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)p[i] << 16;
    out[o++] = alphabet[(v >> 18) & 63];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = '=';
    out[o++] = '=';
  } else if (n - i == 2) {
    uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8);
    out[o++] = alphabet[(v >> 18) & 63];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = alphabet[(v >> 6) & 63];
    out[o++] = '=';
  }
  out[o] = '\0';
  return o;
}

size_t portls__base64_decoded_max(size_t n) { return n / 4 * 3 + 3; }

static int value_of(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int portls__base64_decode(const char *in, size_t n, uint8_t *out, size_t *out_len, unsigned flags) {
  uint32_t acc = 0;
  size_t quad = 0; /* characters in the current group of four */
  size_t pad = 0;
  size_t o = 0;
  size_t i;

  if (in == NULL && n != 0) return -1;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)in[i];
    int v;
    if (is_space(c)) {
      if (!(flags & PORTLS__BASE64_SKIP_SPACE)) return -1;
      continue;
    }
    if (c == '=') {
      /* Padding fills the last group from its third character on. */
      if (quad < 2) return -1;
      pad++;
      quad++;
      if (quad == 4) break;
      continue;
    }
    if (pad) return -1; /* data after '=' */
    v = value_of(c);
    if (v < 0) return -1;
    acc = (acc << 6) | (uint32_t)v;
    if (++quad == 4) {
      out[o++] = (uint8_t)(acc >> 16);
      out[o++] = (uint8_t)(acc >> 8);
      out[o++] = (uint8_t)acc;
      acc = 0;
      quad = 0;
    }
  }
  if (pad) {
    if (quad != 4) return -1;
    /* Only whitespace may follow the final group. */
    for (i++; i < n; i++)
      if (!(flags & PORTLS__BASE64_SKIP_SPACE) || !is_space((unsigned char)in[i])) return -1;
    if (pad == 2) {
      if (acc & 0x0F) return -1; /* nonzero pad bits */
      out[o++] = (uint8_t)(acc >> 4);
    } else {
      if (acc & 0x03) return -1;
      out[o++] = (uint8_t)(acc >> 10);
      out[o++] = (uint8_t)(acc >> 2);
    }
  } else if (quad != 0) {
    return -1; /* unpadded tail */
  }
  *out_len = o;
  return 0;
}
