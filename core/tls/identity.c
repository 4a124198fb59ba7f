/* portls core: tls.checkServerIdentity as Node 18/20 has it (lib/tls.js).
 *
 * The rules, and the reason texts, follow Node line by line, including its
 * quirks (the host loses up to two trailing dots for matching but only one
 * in messages; IP lists in messages are canonical). One rule is stricter
 * than Node: a wildcard never matches an empty label (Node lets "*.a.com"
 * match ".a.com").
 */
#include <string.h>

#include "portls/cert.h"
#include "util/utf8.h"
#include "util/util.h"

#define NPOS ((size_t)-1)

/* ------------------------------------------------------------------------ */
/* IP addresses, as libuv's inet_pton/inet_ntop (Node's canonicalizeIP).    */

enum { IP_NONE = 0, IP_V4 = 4, IP_V6 = 6 };

typedef struct ip_addr {
  int family;
  uint8_t b[16];
} ip_addr;

/* Dotted quad: four decimal octets, no leading zeros, nothing else. */
static int pton4(const char *s, size_t n, uint8_t out[4]) {
  size_t i;
  int octets = 0, saw_digit = 0;
  unsigned cur = 0;
  uint8_t tmp[4];
  for (i = 0; i < n; i++) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      if (saw_digit && cur == 0) return -1;
      cur = cur * 10 + (unsigned)(c - '0');
      if (cur > 255) return -1;
      if (!saw_digit) {
        if (++octets > 4) return -1;
        saw_digit = 1;
      }
      tmp[octets - 1] = (uint8_t)cur;
    } else if (c == '.' && saw_digit) {
      if (octets == 4) return -1;
      saw_digit = 0;
      cur = 0;
    } else {
      return -1;
    }
  }
  if (octets < 4 || !saw_digit) return -1;
  memcpy(out, tmp, 4);
  return 0;
}

/* RFC 4291 text: groups of 1-4 hex digits, one "::", an optional dotted
 * quad at the end. */
static int pton6(const char *s, size_t n, uint8_t out[16]) {
  uint8_t tmp[16];
  size_t tp = 0, i = 0, curtok;
  size_t colonp = NPOS;
  int seen = 0;
  unsigned val = 0;

  memset(tmp, 0, sizeof(tmp));
  if (n > 0 && s[0] == ':') {
    if (n < 2 || s[1] != ':') return -1;
    i = 1;
  }
  curtok = i;
  while (i < n) {
    char c = s[i++];
    int h = portls__hexval(c);
    if (h >= 0) {
      val = (val << 4) | (unsigned)h;
      if (++seen > 4) return -1;
      continue;
    }
    if (c == ':') {
      curtok = i;
      if (!seen) {
        if (colonp != NPOS) return -1;
        colonp = tp;
        continue;
      }
      if (i == n) return -1; /* trailing single ':' */
      if (tp + 2 > 16) return -1;
      tmp[tp++] = (uint8_t)(val >> 8);
      tmp[tp++] = (uint8_t)val;
      seen = 0;
      val = 0;
      continue;
    }
    if (c == '.' && tp + 4 <= 16 && pton4(s + curtok, n - curtok, tmp + tp) == 0) {
      tp += 4;
      seen = 0;
      i = n;
      break;
    }
    return -1;
  }
  if (seen) {
    if (tp + 2 > 16) return -1;
    tmp[tp++] = (uint8_t)(val >> 8);
    tmp[tp++] = (uint8_t)val;
  }
  if (colonp != NPOS) {
    size_t k, moved = tp - colonp;
    if (tp == 16) return -1;
    for (k = 1; k <= moved; k++) {
      tmp[16 - k] = tmp[colonp + moved - k];
      tmp[colonp + moved - k] = 0;
    }
    tp = 16;
  }
  if (tp != 16) return -1;
  memcpy(out, tmp, 16);
  return 0;
}

/* canonicalizeIP: IPv4, else IPv6 with any "%zone" ignored. */
static int canonicalize(const char *s, size_t n, ip_addr *ip) {
  size_t i;
  memset(ip, 0, sizeof(*ip));
  if (pton4(s, n, ip->b) == 0) {
    ip->family = IP_V4;
    return 0;
  }
  for (i = 0; i < n && s[i] != '%'; i++)
    ;
  if (i < n && i > 45) return -1; /* libuv's buffer for the part before the zone */
  if (pton6(s, i, ip->b) == 0) {
    ip->family = IP_V6;
    return 0;
  }
  return -1;
}

/* net.isIP: as canonicalize, but a zone must be [0-9a-zA-Z-.:]+. */
static int is_ip(const char *s, size_t n, ip_addr *ip) {
  size_t i;
  if (canonicalize(s, n, ip) != 0) return 0;
  if (ip->family == IP_V6) {
    for (i = 0; i < n && s[i] != '%'; i++)
      ;
    if (i < n) {
      if (i + 1 == n) return 0;
      for (i++; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-' || c == '.' || c == ':'))
          return 0;
      }
    }
  }
  return 1;
}

/* ------------------------------------------------------------------------ */
/* The reason text, built into a fixed buffer (truncated like err->message). */

typedef struct msg {
  char buf[sizeof(((portls_error *)0)->message)];
  size_t len;
  int full;
} msg;

static void msg_put(msg *m, const char *s, size_t n) {
  size_t room;
  if (m->full) return;
  room = sizeof(m->buf) - 1 - m->len;
  if (n > room) {
    /* Cut before a partial character so the message stays UTF-8; s[n] is
     * the first byte left out. */
    n = room;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    m->full = 1;
  }
  memcpy(m->buf + m->len, s, n);
  m->len += n;
  m->buf[m->len] = '\0';
}

static void msg_puts(msg *m, const char *s) { msg_put(m, s, strlen(s)); }

static void msg_hex(msg *m, unsigned v) {
  char tmp[8];
  size_t n = 0;
  do {
    tmp[sizeof(tmp) - 1 - n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  msg_put(m, tmp + sizeof(tmp) - n, n);
}

static void msg_dec(msg *m, unsigned v) {
  char tmp[8];
  size_t n = 0;
  do {
    tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  msg_put(m, tmp + sizeof(tmp) - n, n);
}

static void msg_ipv4(msg *m, const uint8_t *b) {
  int i;
  for (i = 0; i < 4; i++) {
    if (i) msg_puts(m, ".");
    msg_dec(m, b[i]);
  }
}

/* libuv's inet_ntop6: the longest run of two or more zero groups (the
 * first of equals) becomes "::", and the IPv4-compatible and -mapped forms
 * end in a dotted quad. */
static void msg_ip(msg *m, const ip_addr *ip) {
  unsigned words[8];
  int i, best = -1, best_len = 0, cur = -1, cur_len = 0;
  if (ip->family == IP_V4) {
    msg_ipv4(m, ip->b);
    return;
  }
  for (i = 0; i < 8; i++) words[i] = ((unsigned)ip->b[2 * i] << 8) | ip->b[2 * i + 1];
  for (i = 0; i < 8; i++) {
    if (words[i] == 0) {
      if (cur == -1) {
        cur = i;
        cur_len = 1;
      } else {
        cur_len++;
      }
    } else if (cur != -1) {
      if (best == -1 || cur_len > best_len) {
        best = cur;
        best_len = cur_len;
      }
      cur = -1;
    }
  }
  if (cur != -1 && (best == -1 || cur_len > best_len)) {
    best = cur;
    best_len = cur_len;
  }
  if (best != -1 && best_len < 2) best = -1;
  for (i = 0; i < 8; i++) {
    if (best != -1 && i >= best && i < best + best_len) {
      if (i == best) msg_puts(m, ":");
      continue;
    }
    if (i != 0) msg_puts(m, ":");
    if (i == 6 && best == 0 &&
        (best_len == 6 || (best_len == 7 && words[7] != 0x0001) ||
         (best_len == 5 && words[5] == 0xffff))) {
      msg_ipv4(m, ip->b + 12);
      return;
    }
    msg_hex(m, words[i]);
  }
  if (best != -1 && best + best_len == 8) msg_puts(m, ":");
}

/* ------------------------------------------------------------------------ */
/* Splitting subjectaltname as Node does.                                   */

typedef struct tokens {
  const char *s;
  size_t len;
  size_t off;
  int escaped; /* the string has a '"': Node's splitEscapedAltNames */
  int done;
  char *buf; /* decoded token (escaped mode) */
} tokens;

static size_t find(const char *s, size_t len, size_t from, char c) {
  const char *p;
  if (from >= len) return NPOS;
  p = (const char *)memchr(s + from, c, len - from);
  return p ? (size_t)(p - s) : NPOS;
}

/* Length of the JSON string literal at s (Node's jsonStringPattern), or 0. */
static size_t json_match(const char *s, size_t n) {
  size_t i = 1;
  if (n == 0 || s[0] != '"') return 0;
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"') return i + 1;
    if (c < 0x20) return 0;
    if (c == '\\') {
      if (i + 1 >= n) return 0;
      c = (unsigned char)s[i + 1];
      if (c == 'u') {
        int k;
        if (i + 6 > n) return 0;
        for (k = 2; k < 6; k++)
          if (portls__hexval(s[i + k]) < 0) return 0;
        i += 6;
        continue;
      }
      if (!strchr("\"\\/bfnrt", c) || c == '\0') return 0;
      i += 2;
      continue;
    }
    i++;
  }
  return 0;
}

static unsigned hex4(const char *s) {
  return (unsigned)(portls__hexval(s[0]) << 12 | portls__hexval(s[1]) << 8 |
                    portls__hexval(s[2]) << 4 | portls__hexval(s[3]));
}

/* JSON.parse of a literal json_match accepted, as UTF-8 into out (never
 * longer than the literal). A lone surrogate becomes U+FFFD. */
static size_t json_decode(const char *s, size_t n, char *out) {
  size_t i = 1, o = 0;
  while (i < n - 1) {
    char c = s[i];
    if (c != '\\') {
      out[o++] = c;
      i++;
      continue;
    }
    c = s[i + 1];
    if (c == 'u') {
      unsigned long u = hex4(s + i + 2);
      i += 6;
      if (u >= 0xD800 && u <= 0xDBFF && i + 6 <= n - 1 && s[i] == '\\' && s[i + 1] == 'u') {
        unsigned long lo = hex4(s + i + 2);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
          u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
          i += 6;
        }
      }
      if (u >= 0xD800 && u <= 0xDFFF) u = 0xFFFD;
      o += portls__utf8_encode((uint32_t)u, (uint8_t *)out + o);
      continue;
    }
    switch (c) {
    case 'b':
      out[o++] = '\b';
      break;
    case 'f':
      out[o++] = '\f';
      break;
    case 'n':
      out[o++] = '\n';
      break;
    case 'r':
      out[o++] = '\r';
      break;
    case 't':
      out[o++] = '\t';
      break;
    default:
      out[o++] = c;
      break; /* " \ / */
    }
    i += 2;
  }
  return o;
}

/* The next name: 1 (and the token), 0 at the end, -1 when an escaped
 * string is malformed (Node throws ERR_TLS_CERT_ALTNAME_FORMAT). */
static int tokens_next(tokens *t, const char **tok, size_t *n) {
  size_t cur = 0;
  if (t->done) return 0;
  if (!t->escaped) {
    /* altNames.split(', ') */
    size_t i = t->off;
    for (; i + 1 < t->len; i++)
      if (t->s[i] == ',' && t->s[i + 1] == ' ') break;
    *tok = t->s + t->off;
    if (i + 1 < t->len) {
      *n = i - t->off;
      t->off = i + 2;
    } else {
      *n = t->len - t->off;
      t->done = 1;
    }
    return 1;
  }
  for (;;) {
    size_t off = t->off, sep, quote;
    if (off >= t->len) {
      t->done = 1;
      break;
    }
    sep = find(t->s, t->len, off, ',');
    quote = find(t->s, t->len, off, '"');
    if (quote != NPOS && (sep == NPOS || quote < sep)) {
      size_t m;
      memcpy(t->buf + cur, t->s + off, quote - off);
      cur += quote - off;
      m = json_match(t->s + quote, t->len - quote);
      if (m == 0) return -1;
      cur += json_decode(t->s + quote, m, t->buf + cur);
      t->off = quote + m;
    } else if (sep != NPOS) {
      memcpy(t->buf + cur, t->s + off, sep - off);
      cur += sep - off;
      t->off = sep + 2;
      *tok = t->buf;
      *n = cur;
      return 1;
    } else {
      memcpy(t->buf + cur, t->s + off, t->len - off);
      cur += t->len - off;
      t->off = t->len;
    }
  }
  *tok = t->buf;
  *n = cur;
  return 1;
}

static int starts_with(const char *s, size_t n, const char *prefix) {
  size_t k = strlen(prefix);
  return n >= k && memcmp(s, prefix, k) == 0;
}

/* ------------------------------------------------------------------------ */
/* Name matching: Node's check(hostParts, pattern, wildcards = true).       */

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

static int eq_lower(const char *a, const char *b, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (lower(a[i]) != lower(b[i])) return 0;
  return 1;
}

static size_t count_dots(const char *s, size_t n) {
  size_t i, d = 0;
  for (i = 0; i < n; i++) d += s[i] == '.';
  return d;
}

static size_t first_dot(const char *s, size_t n) {
  const char *p = (const char *)memchr(s, '.', n);
  return p ? (size_t)(p - s) : n;
}

static int contains_xn(const char *s, size_t n) {
  size_t i;
  for (i = 0; i + 4 <= n; i++)
    if (lower(s[i]) == 'x' && lower(s[i + 1]) == 'n' && s[i + 2] == '-' && s[i + 3] == '-')
      return 1;
  return 0;
}

/* h is the host as Node's splitHost sees it (trailing dot removed). */
static int match_name(const char *h, size_t hn, const char *p, size_t pn) {
  size_t i, hl, pl, stars = 0, star = 0, labels, prefix, suffix;

  if (pn == 0) return 0;
  if (p[pn - 1] == '.') pn--;
  labels = count_dots(p, pn) + 1;
  if (labels != count_dots(h, hn) + 1) return 0;
  /* Empty labels ("bad..example.com") and anything outside printable
   * ASCII (U-labels, controls, blanks) never match. */
  if (pn == 0 || p[0] == '.' || p[pn - 1] == '.') return 0;
  for (i = 0; i < pn; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c < 0x21 || c > 0x7F) return 0;
    if (c == '.' && i + 1 < pn && p[i + 1] == '.') return 0;
  }
  hl = first_dot(h, hn);
  pl = first_dot(p, pn);
  /* Every label but the first must be equal. */
  if (hn - hl != pn - pl || !eq_lower(h + hl, p + pl, hn - hl)) return 0;
  for (i = 0; i < pl; i++) {
    if (p[i] == '*') {
      stars++;
      star = i;
    }
  }
  /* No wildcard, or an A-label, where RFC 6125 forbids one: verbatim. */
  if (stars == 0 || contains_xn(p, pl)) return hl == pl && eq_lower(h, p, pl);
  /* One wildcard, never in "*.tld", standing for exactly one non-empty
   * label (or, as "b*z", for part of one). */
  if (stars > 1 || labels <= 2 || hl == 0) return 0;
  prefix = star;
  suffix = pl - star - 1;
  if (prefix + suffix > hl) return 0;
  return eq_lower(h, p, prefix) && eq_lower(h + hl - suffix, p + star + 1, suffix);
}

/* ------------------------------------------------------------------------ */

static int fail(portls_error *err, const msg *m) {
  return portls__err(err, PORTLS_ECERT_ALTNAME_INVALID, "%s", m->buf);
}

int portls_check_server_identity(const char *host, const portls_cert *cert, portls_error *err) {
  const char *san;
  size_t n, hn, mn, i;
  tokens t;
  const char *tok;
  size_t tn;
  int r, has_dns = 0, valid = 0, cn_count = 0;
  ip_addr host_ip;
  msg m;

  if (host == NULL || cert == NULL)
    return portls__err(err, PORTLS_EINVAL, "checkServerIdentity: NULL argument");
  memset(&m, 0, sizeof(m));
  memset(&t, 0, sizeof(t));
  san = cert->subjectaltname ? cert->subjectaltname : "";
  t.s = san;
  t.len = strlen(san);
  t.done = t.len == 0; /* an empty string is no list at all */
  t.escaped = memchr(san, '"', t.len) != NULL;
  if (t.escaped) {
    t.buf = (char *)portls__malloc(t.len + 1);
    if (t.buf == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  }

  /* unfqdn for messages; splitHost drops one more trailing dot. */
  n = strlen(host);
  mn = n > 0 && host[n - 1] == '.' ? n - 1 : n;
  hn = mn > 0 && host[mn - 1] == '.' ? mn - 1 : mn;

  if (is_ip(host, mn, &host_ip)) {
    tokens t2 = t;
    int first = 1;
    while ((r = tokens_next(&t, &tok, &tn)) == 1) {
      ip_addr ip;
      if (starts_with(tok, tn, "IP Address:") && canonicalize(tok + 11, tn - 11, &ip) == 0 &&
          ip.family == host_ip.family && memcmp(ip.b, host_ip.b, ip.family == IP_V4 ? 4 : 16) == 0)
        valid = 1;
    }
    if (r < 0) goto bad_format;
    if (!valid) {
      msg_puts(&m, "IP: ");
      msg_put(&m, host, mn);
      msg_puts(&m, " is not in the cert's list: ");
      while (tokens_next(&t2, &tok, &tn) == 1) {
        ip_addr ip;
        if (!starts_with(tok, tn, "IP Address:")) continue;
        if (!first) msg_puts(&m, ", ");
        first = 0;
        /* An unparsable entry is undefined in Node, which joins as "". */
        if (canonicalize(tok + 11, tn - 11, &ip) == 0) msg_ip(&m, &ip);
      }
    }
  } else {
    while ((r = tokens_next(&t, &tok, &tn)) == 1) {
      if (!starts_with(tok, tn, "DNS:")) continue;
      has_dns = 1;
      if (match_name(host, hn, tok + 4, tn - 4)) valid = 1;
    }
    if (r < 0) goto bad_format;
    for (i = 0; cert->subject.entries && i < cert->subject.count; i++) {
      const portls_dn_entry *e = &cert->subject.entries[i];
      if (e->key && strcmp(e->key, "CN") == 0) cn_count++;
    }
    if (has_dns) {
      if (!valid) {
        msg_puts(&m, "Host: ");
        msg_put(&m, host, mn);
        msg_puts(&m, ". is not in the cert's altnames: ");
        msg_puts(&m, san);
      }
    } else if (cn_count > 0) {
      /* subject.CN: one string, or an array when repeated, which is truthy
       * even if its strings are empty; Node prints an array joined by ','. */
      int first = 1, truthy = cn_count > 1;
      for (i = 0; i < cert->subject.count; i++) {
        const portls_dn_entry *e = &cert->subject.entries[i];
        if (!e->key || strcmp(e->key, "CN") != 0) continue;
        if (e->value && e->value[0]) truthy = 1;
        if (e->value && match_name(host, hn, e->value, strlen(e->value))) valid = 1;
      }
      if (!truthy) {
        msg_puts(&m, "Cert does not contain a DNS name");
      } else if (!valid) {
        msg_puts(&m, "Host: ");
        msg_put(&m, host, mn);
        msg_puts(&m, ". is not cert's CN: ");
        for (i = 0; i < cert->subject.count; i++) {
          const portls_dn_entry *e = &cert->subject.entries[i];
          if (!e->key || strcmp(e->key, "CN") != 0) continue;
          if (!first) msg_puts(&m, ",");
          first = 0;
          msg_puts(&m, e->value ? e->value : "");
        }
      }
    } else {
      msg_puts(&m, "Cert does not contain a DNS name");
    }
  }
  portls__free(t.buf);
  return valid ? 0 : fail(err, &m);

bad_format:
  portls__free(t.buf);
  return portls__err(err, PORTLS_ECERT_ALTNAME_INVALID, "Invalid subject alternative name string");
}
