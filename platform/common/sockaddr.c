/* portls platforms: BSD socket addresses (see sockaddr.h). */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include "sockaddr.h"

#include <string.h>
#ifndef _WIN32
#include <netinet/in.h>
#include <sys/un.h>
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

int portls__plat_check_unix_path(const portls_plat_addr *a) {
  if (a->path[0] == '\0') return PORTLS_EINVAL;
  if (memchr(a->path, '\0', sizeof a->path) == NULL) return PORTLS_ENAMETOOLONG;
#ifndef _WIN32
  if (strlen(a->path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) return PORTLS_ENAMETOOLONG;
#endif
  return 0;
}

int portls__plat_lookup_hints(int family, struct addrinfo *hints) {
  memset(hints, 0, sizeof *hints);
  if (family == 0)
    hints->ai_family = AF_UNSPEC;
  else if (family == PORTLS_PLAT_INET)
    hints->ai_family = AF_INET;
  else if (family == PORTLS_PLAT_INET6)
    hints->ai_family = AF_INET6;
  else
    return PORTLS_EINVAL;
  hints->ai_socktype = SOCK_STREAM;
  return 0;
}

static int same_addr(const portls_plat_addr *a, const portls_plat_addr *b) {
  return a->family == b->family && a->scope_id == b->scope_id &&
         memcmp(a->ip, b->ip, sizeof a->ip) == 0;
}

int portls__plat_from_addrinfo(const struct addrinfo *res, uint16_t port, portls_plat_addr **out,
                               size_t *n) {
  const struct addrinfo *ai;
  portls_plat_addr *addrs = NULL;
  size_t cap = 0, k = 0;
  *out = NULL;
  *n = 0;
  for (ai = res; ai != NULL; ai = ai->ai_next) cap++;
  if (cap > 0) {
    addrs = cap <= (size_t)-1 / sizeof *addrs ? portls_plat_alloc(cap * sizeof *addrs) : NULL;
    if (addrs == NULL) return PORTLS_ENOMEM;
  }
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    portls_plat_addr *a = &addrs[k];
    size_t i;
    int dup = 0;
    if (ai->ai_addr == NULL || portls__plat_from_sockaddr(ai->ai_addr, a) != 0) continue;
    a->port = port;
    for (i = 0; i < k && !dup; i++) dup = same_addr(&addrs[i], a);
    if (!dup) k++;
  }
  if (k == 0) {
    portls_plat_free(addrs);
    return PORTLS_EAI_NONAME;
  }
  *out = addrs;
  *n = k;
  return 0;
}
