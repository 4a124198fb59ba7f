/* portls platforms: listening sockets made for several loops (SO_REUSEPORT),
 * descriptors adopted from the application, and threads; shared by the
 * platforms built on BSD sockets and POSIX threads (platform/posix,
 * platform/libuv on Unix). Functions return 0 or a negative errno, which
 * each platform maps to PORTLS_E* with its own table. */
#ifndef PORTLS_PLATFORM_COMMON_FDS_H
#define PORTLS_PLATFORM_COMMON_FDS_H

#include "portls/platform.h"

/* A TCP (or Unix) socket bound to addr and listening, non-blocking and
 * close-on-exec, with SO_REUSEADDR, dual-stack for "::", and SO_REUSEPORT
 * when reuseport is set (-EOPNOTSUPP where the system has none), as *fd. */
int portls__plat_bind_listen(const portls_plat_addr *addr, int backlog, int reuseport, int *fd);

/* Checks that fd is a stream socket; *is_unix says whether it is AF_UNIX,
 * *listening whether listen() was called on it. Then makes it non-blocking
 * and close-on-exec. -EBADF, -ENOTSOCK, -EINVAL (not a stream socket). */
int portls__plat_fd_adopt(int fd, int *is_unix, int *listening);

/* dup() keeping close-on-exec: the new descriptor or a negative errno. */
int portls__plat_fd_dup(int fd);
/* close(), retried on nothing, errors ignored. */
void portls__plat_fd_close(int fd);

/* A joinable thread running fn(arg). */
int portls__plat_thread_start(void (*fn)(void *arg), void *arg, portls_plat_thread **out);
/* Waits for the thread to end and frees it. */
void portls__plat_thread_join(portls_plat_thread *t);

#endif
