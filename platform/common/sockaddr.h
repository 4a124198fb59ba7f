/* portls platforms: portls_plat_addr to and from BSD socket addresses, shared
 * by the platforms built on sockets (platform/posix, platform/libuv). A port
 * to a stack without BSD sockets leaves platform/common out. */
#ifndef PORTLS_PLATFORM_COMMON_SOCKADDR_H
#define PORTLS_PLATFORM_COMMON_SOCKADDR_H

#include <stddef.h>
#include <stdint.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netdb.h>
#include <sys/socket.h>
#endif

#include "portls/platform.h"

/* An IPv4 or IPv6 address with its port; PORTLS_EINVAL for another family.
 * *len receives the size of the sockaddr written. */
int portls__plat_to_sockaddr(const portls_plat_addr *a, struct sockaddr_storage *ss,
                             socklen_t *len);
/* The reverse; PORTLS_EINVAL for a family other than AF_INET / AF_INET6. */
int portls__plat_from_sockaddr(const struct sockaddr *sa, portls_plat_addr *out);
/* A PORTLS_PLAT_UNIX address's path as bind()/connect() take it: PORTLS_EINVAL
 * when empty, PORTLS_ENAMETOOLONG when sun_path cannot hold it (refused
 * rather than truncated). */
int portls__plat_check_unix_path(const portls_plat_addr *a);

/* getaddrinfo() hints for a lookup of family 0, PORTLS_PLAT_INET or
 * PORTLS_PLAT_INET6: one entry per address rather than one per socket type;
 * AI_ADDRCONFIG stays off so that "localhost" resolves on hosts without a
 * global address. PORTLS_EINVAL for another family. */
int portls__plat_lookup_hints(int family, struct addrinfo *hints);
/* The IPv4 and IPv6 addresses of a getaddrinfo() result, each with port,
 * duplicates removed, in the order given, as a new array (*out, for
 * portls_plat_free) of *n entries. PORTLS_ENOMEM, or PORTLS_EAI_NONAME when
 * the list holds no such address (*out NULL, *n 0). */
int portls__plat_from_addrinfo(const struct addrinfo *res, uint16_t port, portls_plat_addr **out,
                               size_t *n);

#endif
