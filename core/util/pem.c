/* portls core: PEM blocks (see pem.h). */
#include "util/pem.h"

#include <string.h>

#include "util/base64.h"

static const char begin_tag[] = "-----BEGIN ";
static const char end_tag[] = "-----END ";
static const char dashes[] = "-----";

static size_t line_end(const char *s, size_t n, size_t i) {
  while (i < n && s[i] != '\n') i++;
  return i;
}

static int label_wanted(const char *label, size_t len, const char *const *labels) {
  if (labels == NULL) return 1;
  for (; *labels != NULL; labels++)
    if (strlen(*labels) == len && memcmp(*labels, label, len) == 0) return 1;
  return 0;
}

/* Parses a BEGIN line starting at i; on success sets the label and *next to
 * the first byte of the following line. */
static int begin_line(const char *s, size_t n, size_t i, const char **label, size_t *label_len,
                      size_t *next) {
  size_t bl = sizeof(begin_tag) - 1, eol = line_end(s, n, i), j, k;
  if (eol - i < bl || memcmp(s + i, begin_tag, bl) != 0 || eol >= n) return -1;
  for (j = i + bl; j + 5 <= eol; j++)
    if (memcmp(s + j, dashes, 5) == 0) break;
  if (j + 5 > eol || j == i + bl) return -1;
  /* Only spaces may follow the closing dashes (CRLF files end in '\r'). */
  for (k = j + 5; k < eol; k++)
    if (s[k] != ' ' && s[k] != '\t' && s[k] != '\r') return -1;
  *label = s + i + bl;
  *label_len = j - (i + bl);
  *next = eol + 1;
  return 0;
}

static int is_end_line(const char *s, size_t n, size_t i, const char *label, size_t label_len) {
  size_t el = sizeof(end_tag) - 1;
  return n - i >= el + label_len + 5 && memcmp(s + i, end_tag, el) == 0 &&
         memcmp(s + i + el, label, label_len) == 0 &&
         memcmp(s + i + el + label_len, dashes, 5) == 0;
}

static int blank_line(const char *s, size_t from, size_t to) {
  for (; from < to; from++)
    if (s[from] != ' ' && s[from] != '\t' && s[from] != '\r') return 0;
  return 1;
}

int portls__pem_find(const void *text, size_t n, size_t *pos, const char *const *labels,
                     portls__pem_block *out) {
  const char *s = (const char *)text;
  size_t i = *pos;
  if (s == NULL) return PORTLS__PEM_NONE;
  while (i < n) {
    const char *label;
    size_t label_len, body, j;
    if (begin_line(s, n, i, &label, &label_len, &body) == 0 &&
        label_wanted(label, label_len, labels)) {
      memset(out, 0, sizeof(*out));
      out->label = label;
      out->label_len = label_len;
      /* Encapsulated headers: the first line holds a colon, and a blank line
       * ends them. Without the blank line it is all body (and bad base64). */
      {
        size_t eol = line_end(s, n, body);
        if (memchr(s + body, ':', eol - body) != NULL &&
            !is_end_line(s, n, body, label, label_len)) {
          size_t k = body;
          while (k < n && !is_end_line(s, n, k, label, label_len)) {
            size_t e = line_end(s, n, k);
            if (blank_line(s, k, e)) {
              out->headers = s + body;
              out->headers_len = k - body;
              body = e < n ? e + 1 : n;
              break;
            }
            k = e + 1;
          }
        }
      }
      for (j = body; j < n; j = line_end(s, n, j) + 1) {
        if (is_end_line(s, n, j, label, label_len)) {
          out->body = s + body;
          out->body_len = j - body;
          j = line_end(s, n, j);
          *pos = j < n ? j + 1 : n;
          return 0;
        }
      }
      return PORTLS__PEM_NO_END;
    }
    i = line_end(s, n, i) + 1;
  }
  return PORTLS__PEM_NONE;
}

int portls__pem_is(const portls__pem_block *b, const char *label) {
  return strlen(label) == b->label_len && memcmp(b->label, label, b->label_len) == 0;
}

int portls__pem_header(const portls__pem_block *b, const char *name, const char **value,
                       size_t *len) {
  size_t nl = strlen(name), i = 0, n = b->headers_len;
  const char *s = b->headers;
  while (s != NULL && i < n) {
    size_t e = line_end(s, n, i);
    if (e - i > nl && memcmp(s + i, name, nl) == 0 && s[i + nl] == ':') {
      size_t a = i + nl + 1, z = e;
      while (a < z && (s[a] == ' ' || s[a] == '\t')) a++;
      while (z > a && (s[z - 1] == ' ' || s[z - 1] == '\t' || s[z - 1] == '\r')) z--;
      *value = s + a;
      *len = z - a;
      return 0;
    }
    i = e + 1;
  }
  return -1;
}

int portls__pem_decode(const portls__pem_block *b, uint8_t **der, size_t *len) {
  uint8_t *p = (uint8_t *)portls__malloc(portls__base64_decoded_max(b->body_len) + 1);
  if (p == NULL) return PORTLS_ENOMEM;
  if (portls__base64_decode(b->body, b->body_len, p, len, PORTLS__BASE64_SKIP_SPACE) != 0) {
    portls__free(p);
    return PORTLS_EINVAL;
  }
  *der = p;
  return 0;
}

int portls__pem_encode(portls__bytes *out, const char *label, const void *der, size_t len) {
  size_t b64 = portls__base64_encoded_len(len), i;
  char *text;
  int rc;
  if (b64 == (size_t)-1) return PORTLS_ENOMEM;
  text = (char *)portls__malloc(b64 + 1);
  if (text == NULL) return PORTLS_ENOMEM;
  portls__base64_encode(der, len, text);
  rc = portls__bytes_printf(out, "-----BEGIN %s-----\n", label);
  for (i = 0; rc == 0 && i < b64; i += 64) {
    rc = portls__bytes_append(out, text + i, PORTLS__MIN(64, b64 - i));
    if (rc == 0) rc = portls__bytes_append(out, "\n", 1);
  }
  if (rc == 0) rc = portls__bytes_printf(out, "-----END %s-----\n", label);
  if (rc == 0) rc = portls__bytes_reserve(out, 1);
  if (rc == 0) out->data[out->len] = '\0';
  /* The text may be a private key: leave no copy behind. */
  {
    volatile char *v = text;
    for (i = 0; i < b64; i++) v[i] = 0;
  }
  portls__free(text);
  return rc;
}
