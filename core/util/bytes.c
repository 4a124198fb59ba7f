#include <stdio.h>
#include <string.h>

#include "util/util.h"

int portls__bytes_reserve(portls__bytes *b, size_t extra) {
  if (extra <= b->cap - b->len) return 0;
  if (extra > SIZE_MAX / 2 - b->len) return PORTLS_ENOMEM;
  size_t want = b->len + extra;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < want) cap *= 2;
  uint8_t *p = portls__realloc(b->data, cap);
  if (p == NULL) return PORTLS_ENOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

int portls__bytes_append(portls__bytes *b, const void *data, size_t len) {
  if (len == 0) return 0;
  int rc = portls__bytes_reserve(b, len);
  if (rc) return rc;
  memcpy(b->data + b->len, data, len);
  b->len += len;
  return 0;
}

int portls__bytes_printf(portls__bytes *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char small[256];
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return PORTLS_EINVAL;
  if ((size_t)n < sizeof small) return portls__bytes_append(b, small, (size_t)n);
  int rc = portls__bytes_reserve(b, (size_t)n + 1);
  if (rc) return rc;
  va_start(ap, fmt);
  vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

void portls__bytes_consume(portls__bytes *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}

void portls__bytes_free(portls__bytes *b) {
  portls__free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
