/* Fuzz target: IP address literals (core/net/addr.c, portls__ip_parse and
 * portls__ip_format), which decide whether a host is connected to by name or
 * by address, and what remoteAddress reports.
 *
 * The input, cut at its first NUL, is parsed; an address that parses must
 * format to a canonical text that parses back to the same bytes and formats
 * to itself, and that the C library's inet_pton reads as the same address.
 * Then the first 16 bytes of the input, taken as an address of each family,
 * must survive format -> parse -> format the same way.
 *
 * Seeds (tests/fuzz/corpus/addr/): IPv4 and IPv6 forms, compressed and not,
 * embedded IPv4, and a few near misses.
 * fuzz-scope: core */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/addr.h"

#define CHECK(c)                                                                                   \
  do {                                                                                             \
    if (!(c)) {                                                                                    \
      fprintf(stderr, "fuzz_addr: check failed at line %d: %s\n", __LINE__, #c);                   \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

/* Formats ip, then checks that the text is canonical and means ip. */
static void round_trip(int family, const uint8_t *ip) {
  char text[64], again[64];
  uint8_t back[16], libc[16];
  size_t n = family == 4 ? 4 : 16;
  memset(text, 0x7f, sizeof text);
  portls__ip_format(family, ip, text, 46);
  CHECK(memchr(text, '\0', 46) != NULL);
  CHECK(portls__ip_parse(text, back) == family);
  CHECK(memcmp(back, ip, n) == 0);
  portls__ip_format(family, back, again, sizeof again);
  CHECK(strcmp(text, again) == 0);
  CHECK(inet_pton(family == 4 ? AF_INET : AF_INET6, text, libc) == 1);
  CHECK(memcmp(libc, ip, n) == 0);
  /* A buffer too small must still end in a NUL and not be overrun. */
  char small[8];
  memset(small, 0x7f, sizeof small);
  portls__ip_format(family, ip, small, 5);
  CHECK(memchr(small, '\0', 5) != NULL);
  CHECK(small[5] == 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  uint8_t ip[16];
  CHECK(s != NULL);
  memcpy(s, data, size);
  s[size] = '\0';
  memset(ip, 0xa5, sizeof ip);
  int family = portls__ip_parse(s, ip);
  CHECK(family == 0 || family == 4 || family == 6);
  if (family != 0) round_trip(family, ip);
  free(s);

  uint8_t raw[16] = {0};
  memcpy(raw, data, size < 16 ? size : 16);
  round_trip(4, raw);
  round_trip(6, raw);
  return 0;
}
