/* portls platforms: portls_plat_addr to and from BSD socket addresses, shared
 * by the platforms built on sockets (platform/posix, platform/libuv). A port
 * to a stack without BSD sockets leaves platform/common out. */
#ifndef PORTLS_PLATFORM_COMMON_SOCKADDR_H
#define PORTLS_PLATFORM_COMMON_SOCKADDR_H

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <sys/socket.h>
#endif

#include "portls/platform.h"

/* An IPv4 or IPv6 address with its port; PORTLS_EINVAL for another family.
 * *len receives the size of the sockaddr written. */
int portls__plat_to_sockaddr(const portls_plat_addr *a, struct sockaddr_storage *ss,
                             socklen_t *len);
/* The reverse; PORTLS_EINVAL for a family other than AF_INET / AF_INET6. */
int portls__plat_from_sockaddr(const struct sockaddr *sa, portls_plat_addr *out);

#endif
