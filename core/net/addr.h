/* Internal: IP address parsing and formatting (no OS headers: core must
 * build bare-metal), and conversions to the public portls_address. */
#ifndef PORTLS_CORE_ADDR_H
#define PORTLS_CORE_ADDR_H

#include <stddef.h>
#include <stdint.h>

#include "portls/platform.h"
#include "portls/portls.h"

/* Parses a literal IPv4 ("127.0.0.1") or IPv6 ("::1", "::ffff:1.2.3.4")
 * address. Returns 4 or 6 and fills out (4 or 16 bytes), or 0 if s is not one. */
int portls__ip_parse(const char *s, uint8_t out[16]);
/* Formats as Node does: dotted quad, or RFC 5952 (lowercase, longest zero run
 * compressed, embedded IPv4 for ::ffff:a.b.c.d). buf needs 46 bytes. */
void portls__ip_format(int family, const uint8_t *ip, char *buf, size_t len);
void portls__addr_to_public(const portls_plat_addr *a, portls_address *out);
/* "127.0.0.1:443", "[::1]:443" or the path, for error messages. */
void portls__addr_describe(const portls_plat_addr *a, char *buf, size_t len);

#endif
