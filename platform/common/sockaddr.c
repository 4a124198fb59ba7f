/* portls platforms: BSD socket addresses (see sockaddr.h). */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include "sockaddr.h"

#include <string.h>
#ifndef _WIN32
#include <netinet/in.h>
#endif

int portls__plat_to_sockaddr(const portls_plat_addr *a, struct sockaddr_storage *ss,
                             socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  if (a->family == PORTLS_PLAT_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)(void *)ss;
    uint8_t *port = (uint8_t *)&sin->sin_port;
    sin->sin_family = AF_INET;
    port[0] = (uint8_t)(a->port >> 8);
    port[1] = (uint8_t)(a->port & 0xff);
    memcpy(&sin->sin_addr, a->ip, 4);
    *len = (socklen_t)sizeof *sin;
    return 0;
  }
  if (a->family == PORTLS_PLAT_INET6) {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)ss;
    uint8_t *port = (uint8_t *)&sin6->sin6_port;
    sin6->sin6_family = AF_INET6;
    port[0] = (uint8_t)(a->port >> 8);
    port[1] = (uint8_t)(a->port & 0xff);
    memcpy(&sin6->sin6_addr, a->ip, 16);
    sin6->sin6_scope_id = a->scope_id;
    *len = (socklen_t)sizeof *sin6;
    return 0;
  }
  return PORTLS_EINVAL;
}

int portls__plat_from_sockaddr(const struct sockaddr *sa, portls_plat_addr *out) {
  memset(out, 0, sizeof *out);
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;
    const uint8_t *port = (const uint8_t *)&sin->sin_port;
    out->family = PORTLS_PLAT_INET;
    out->port = (uint16_t)(port[0] << 8 | port[1]);
    memcpy(out->ip, &sin->sin_addr, 4);
    return 0;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;
    const uint8_t *port = (const uint8_t *)&sin6->sin6_port;
    out->family = PORTLS_PLAT_INET6;
    out->port = (uint16_t)(port[0] << 8 | port[1]);
    memcpy(out->ip, &sin6->sin6_addr, 16);
    out->scope_id = (uint32_t)sin6->sin6_scope_id;
    return 0;
  }
  return PORTLS_EINVAL;
}
