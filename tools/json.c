/* portls command-line tool: a minimal JSON line writer. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The tool cannot do anything useful without memory, so it stops here
 * rather than carrying half-written lines around. */
static void jw_reserve(jw *w, size_t more) {
  if (w->len + more + 1 <= w->cap) return;
  size_t cap = w->cap ? w->cap : 256;
  while (cap < w->len + more + 1) cap *= 2;
  char *p = realloc(w->buf, cap);
  if (p == NULL) {
    fputs("portls: out of memory\n", stderr);
    exit(CLI_EXIT_FAIL);
  }
  w->buf = p;
  w->cap = cap;
}

static void jw_put(jw *w, const char *s, size_t n) {
  jw_reserve(w, n);
  memcpy(w->buf + w->len, s, n);
  w->len += n;
  w->buf[w->len] = '\0';
}

static void jw_putc(jw *w, char c) { jw_put(w, &c, 1); }

static void jw_sep(jw *w) {
  if (w->comma) jw_putc(w, ',');
  w->comma = 1;
}

void jw_init(jw *w) { memset(w, 0, sizeof(*w)); }

void jw_free(jw *w) {
  free(w->buf);
  jw_init(w);
}

void jw_reset(jw *w) {
  w->len = 0;
  w->comma = 0;
  if (w->buf) w->buf[0] = '\0';
}

void jw_begin_object(jw *w) {
  jw_sep(w);
  jw_putc(w, '{');
  w->comma = 0;
}

void jw_end_object(jw *w) {
  jw_putc(w, '}');
  w->comma = 1;
}

void jw_begin_array(jw *w) {
  jw_sep(w);
  jw_putc(w, '[');
  w->comma = 0;
}

void jw_end_array(jw *w) {
  jw_putc(w, ']');
  w->comma = 1;
}

static void jw_escaped_byte(jw *w, unsigned char c) {
  char tmp[8];
  switch (c) {
  case '"':
    jw_put(w, "\\\"", 2);
    break;
  case '\\':
    jw_put(w, "\\\\", 2);
    break;
  case '\n':
    jw_put(w, "\\n", 2);
    break;
  case '\r':
    jw_put(w, "\\r", 2);
    break;
  case '\t':
    jw_put(w, "\\t", 2);
    break;
  case '\b':
    jw_put(w, "\\b", 2);
    break;
  case '\f':
    jw_put(w, "\\f", 2);
    break;
  default:
    if (c < 0x20 || c == 0x7f) {
      snprintf(tmp, sizeof(tmp), "\\u%04x", c);
      jw_put(w, tmp, 6);
    } else {
      jw_putc(w, (char)c);
    }
  }
}

/* How many continuation bytes follow lead byte b (1..3), and the range the
 * first of them must fall in (which excludes overlong forms, surrogates and
 * code points above U+10FFFF); 0 for ASCII and for bytes that cannot lead. */
static size_t utf8_need(unsigned char b, unsigned char *lo, unsigned char *hi) {
  *lo = 0x80;
  *hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) return 1;
  if (b >= 0xE0 && b <= 0xEF) {
    if (b == 0xE0) *lo = 0xA0;
    if (b == 0xED) *hi = 0x9F;
    return 2;
  }
  if (b >= 0xF0 && b <= 0xF4) {
    if (b == 0xF0) *lo = 0x90;
    if (b == 0xF4) *hi = 0x8F;
    return 3;
  }
  return 0;
}

/* How many bytes from s[0] on are valid continuation bytes for lead s[0]
 * (at most need, and at most len - 1). */
static size_t utf8_valid_cont(const unsigned char *s, size_t len, size_t need, unsigned char lo,
                              unsigned char hi) {
  size_t i = 1;
  for (; i <= need && i < len; i++) {
    if (s[i] < lo || s[i] > hi) break;
    lo = 0x80;
    hi = 0xBF;
  }
  return i - 1;
}

size_t utf8_incomplete_tail(const void *data, size_t len) {
  const unsigned char *s = data;
  /* A sequence is at most 4 bytes, so only the last 3 can start an unfinished one. */
  for (size_t back = 1; back <= 3 && back <= len; back++) {
    const unsigned char *p = s + len - back;
    unsigned char lo, hi;
    if (*p >= 0x80 && *p <= 0xBF) continue; /* a continuation byte: look further back */
    size_t need = utf8_need(*p, &lo, &hi);
    if (need < back) return 0; /* ASCII, an invalid byte, or a complete sequence */
    return utf8_valid_cont(p, back, need, lo, hi) == back - 1 ? back : 0;
  }
  return 0;
}

void jw_string_n(jw *w, const void *data, size_t len) {
  const unsigned char *s = data;
  jw_sep(w);
  jw_putc(w, '"');
  size_t i = 0;
  while (i < len) {
    unsigned char lo, hi;
    if (s[i] < 0x80) {
      jw_escaped_byte(w, s[i++]);
      continue;
    }
    size_t need = utf8_need(s[i], &lo, &hi);
    size_t got = need ? utf8_valid_cont(s + i, len - i, need, lo, hi) : 0;
    if (need && got == need) {
      jw_put(w, (const char *)s + i, need + 1);
    } else {
      /* one U+FFFD for the longest invalid prefix (the WHATWG decoder's
       * rule, which Node's Buffer#toString follows) */
      jw_put(w, "\xEF\xBF\xBD", 3);
    }
    i += got + 1;
  }
  jw_putc(w, '"');
}

void jw_string(jw *w, const char *s) {
  if (s == NULL) {
    jw_null(w);
    return;
  }
  jw_string_n(w, s, strlen(s));
}

void jw_key(jw *w, const char *key) {
  jw_string(w, key);
  jw_putc(w, ':');
  w->comma = 0;
}

void jw_null(jw *w) {
  jw_sep(w);
  jw_put(w, "null", 4);
}

void jw_bool(jw *w, int b) {
  jw_sep(w);
  if (b)
    jw_put(w, "true", 4);
  else
    jw_put(w, "false", 5);
}

void jw_int(jw *w, long long v) {
  char tmp[32];
  int n = snprintf(tmp, sizeof(tmp), "%lld", v);
  jw_sep(w);
  jw_put(w, tmp, (size_t)n);
}

void jw_raw(jw *w, const char *json) {
  jw_sep(w);
  jw_put(w, json, strlen(json));
}

void jw_print(jw *w) {
  flockfile(stdout); /* one whole line, whichever thread prints (serve --workers) */
  if (w->buf) fputs(w->buf, stdout);
  fputc('\n', stdout);
  fflush(stdout);
  funlockfile(stdout);
  jw_reset(w);
}

void jw_kstring(jw *w, const char *key, const char *s) {
  jw_key(w, key);
  jw_string(w, s);
}

void jw_kstring_or_false(jw *w, const char *key, const char *s) {
  jw_key(w, key);
  if (s)
    jw_string(w, s);
  else
    jw_bool(w, 0);
}

void jw_kbool(jw *w, const char *key, int b) {
  jw_key(w, key);
  jw_bool(w, b);
}

void jw_kint(jw *w, const char *key, long long v) {
  jw_key(w, key);
  jw_int(w, v);
}
