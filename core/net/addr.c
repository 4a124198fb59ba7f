#include <stdio.h>
#include <string.h>

#include "net/addr.h"
#include "util/util.h"

static int parse_v4(const char *s, const char *end, uint8_t out[4]) {
  int parts = 0;
  while (s < end) {
    unsigned v = 0;
    int digits = 0;
    while (s < end && *s >= '0' && *s <= '9') {
      v = v * 10 + (unsigned)(*s - '0');
      if (++digits > 3 || v > 255) return 0;
      s++;
    }
    if (digits == 0 || parts == 4) return 0;
    out[parts++] = (uint8_t)v;
    if (s < end) {
      if (*s != '.' || parts == 4) return 0;
      s++;
      if (s == end) return 0;
    }
  }
  return parts == 4;
}

static int parse_v6(const char *s, uint8_t out[16]) {
  uint16_t words[8];
  int n = 0, gap = -1;
  const char *p = s, *end = s + strlen(s);
  if (end - p >= 2 && p[0] == ':' && p[1] == ':') {
    gap = 0;
    p += 2;
  } else if (p < end && *p == ':') {
    return 0;
  }
  while (p < end) {
    const char *q = p;
    unsigned v = 0;
    int digits = 0;
    while (q < end && portls__hexval(*q) >= 0) {
      v = v * 16 + (unsigned)portls__hexval(*q);
      if (++digits > 4) return 0;
      q++;
    }
    if (q < end && *q == '.') {
      /* Embedded IPv4 in the last 32 bits. */
      uint8_t v4[4];
      if (n > 6 || !parse_v4(p, end, v4)) return 0;
      words[n++] = (uint16_t)(v4[0] << 8 | v4[1]);
      words[n++] = (uint16_t)(v4[2] << 8 | v4[3]);
      p = end;
      break;
    }
    if (digits == 0 || n == 8) return 0;
    words[n++] = (uint16_t)v;
    p = q;
    if (p == end) break;
    if (*p != ':') return 0;
    p++;
    if (p < end && *p == ':') {
      if (gap >= 0) return 0;
      gap = n;
      p++;
    } else if (p == end) {
      return 0;
    }
  }
  if (gap >= 0) {
    if (n == 8) return 0;
    int fill = 8 - n;
    memmove(words + gap + fill, words + gap, (size_t)(n - gap) * sizeof words[0]);
    for (int i = 0; i < fill; i++) words[gap + i] = 0;
  } else if (n != 8) {
    return 0;
  }
  for (int i = 0; i < 8; i++) {
    out[2 * i] = (uint8_t)(words[i] >> 8);
    out[2 * i + 1] = (uint8_t)words[i];
  }
  return 1;
}

int portls__ip_parse(const char *s, uint8_t out[16]) {
  if (s == NULL || *s == '\0') return 0;
  if (strchr(s, ':') != NULL) return parse_v6(s, out) ? 6 : 0;
  return parse_v4(s, s + strlen(s), out) ? 4 : 0;
}

void portls__ip_format(int family, const uint8_t *ip, char *buf, size_t len) {
  if (family == 4) {
    snprintf(buf, len, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
    return;
  }
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (memcmp(ip, mapped, 12) == 0) {
    snprintf(buf, len, "::ffff:%u.%u.%u.%u", ip[12], ip[13], ip[14], ip[15]);
    return;
  }
  unsigned w[8];
  for (int i = 0; i < 8; i++) w[i] = (unsigned)ip[2 * i] << 8 | ip[2 * i + 1];
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (w[i] != 0) {
      i++;
      continue;
    }
    int j = i;
    while (j < 8 && w[j] == 0) j++;
    if (j - i > best_len && j - i >= 2) best = i, best_len = j - i;
    i = j;
  }
  size_t o = 0;
  buf[0] = '\0';
  for (int i = 0; i < 8 && o < len; i++) {
    if (i == best) {
      o += (size_t)snprintf(buf + o, len - o, "::");
      i += best_len - 1;
      continue;
    }
    int sep = i > 0 && !(best >= 0 && i == best + best_len);
    o += (size_t)snprintf(buf + o, len - o, "%s%x", sep ? ":" : "", w[i]);
  }
}

void portls__addr_to_public(const portls_plat_addr *a, portls_address *out) {
  memset(out, 0, sizeof *out);
  if (a->family == PORTLS_PLAT_UNIX) {
    snprintf(out->address, sizeof out->address, "%s", a->path);
    out->family = "Unix";
    return;
  }
  portls__ip_format(a->family, a->ip, out->address, sizeof out->address);
  out->family = a->family == PORTLS_PLAT_INET ? "IPv4" : "IPv6";
  out->port = a->port;
}

void portls__addr_describe(const portls_plat_addr *a, char *buf, size_t len) {
  if (a->family == PORTLS_PLAT_UNIX) {
    snprintf(buf, len, "%s", a->path);
    return;
  }
  char ip[64];
  portls__ip_format(a->family, a->ip, ip, sizeof ip);
  snprintf(buf, len, "%s:%u", ip, a->port); /* Node writes IPv6 the same way: "::1:443" */
}
