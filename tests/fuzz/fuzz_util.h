/* What several fuzz targets share (header-only: each target is one .c file
 * plus tests/fuzz/replay.c or libFuzzer's main). */
#ifndef PORTLS_TESTS_FUZZ_UTIL_H
#define PORTLS_TESTS_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portls/portls.h"

#define FUZZ_CHECK(c)                                                                              \
  do {                                                                                             \
    if (!(c)) {                                                                                    \
      fprintf(stderr, "%s: check failed at line %d: %s\n", __FILE__, __LINE__, #c);                \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

#ifndef PORTLS_FUZZ_CERTS_DIR
#define PORTLS_FUZZ_CERTS_DIR "certs"
#endif

/* A file of the test certificates ($PORTLS_CERTS, else the build's
 * certs/ directory), read once and kept for the process. Aborts when it is
 * missing: the target cannot run without it. */
static inline portls_buf fuzz_cert_file(const char *name) {
  static struct {
    char name[64];
    portls_buf buf;
  } cache[16];
  static size_t n;
  for (size_t i = 0; i < n; i++)
    if (strcmp(cache[i].name, name) == 0) return cache[i].buf;
  const char *dir = getenv("PORTLS_CERTS");
  char path[1024];
  portls_error err;
  snprintf(path, sizeof path, "%s/%s", dir != NULL && *dir ? dir : PORTLS_FUZZ_CERTS_DIR, name);
  FUZZ_CHECK(n < sizeof cache / sizeof cache[0] && strlen(name) < sizeof cache[0].name);
  if (portls_read_file(path, &cache[n].buf, &err) != 0) {
    fprintf(stderr, "fuzz: cannot read %s (%s): set PORTLS_CERTS to the build's certs/\n", path,
            err.message);
    abort();
  }
  strcpy(cache[n].name, name);
  return cache[n++].buf;
}

/* A little reader over the fuzzer's bytes: past the end it yields zeros. */
typedef struct fuzz_in {
  const uint8_t *p;
  size_t len, off;
} fuzz_in;

static inline uint8_t fuzz_u8(fuzz_in *in) { return in->off < in->len ? in->p[in->off++] : 0; }
static inline uint16_t fuzz_u16(fuzz_in *in) {
  uint16_t hi = fuzz_u8(in);
  return (uint16_t)(hi << 8 | fuzz_u8(in));
}
static inline size_t fuzz_left(const fuzz_in *in) { return in->len - in->off; }
/* Up to n bytes (fewer at the end); *got says how many. */
static inline const uint8_t *fuzz_bytes(fuzz_in *in, size_t n, size_t *got) {
  const uint8_t *p = in->p + in->off;
  *got = n < fuzz_left(in) ? n : fuzz_left(in);
  in->off += *got;
  return p;
}

#endif
