/* portls platforms: SO_REUSEPORT listeners, adopted descriptors, threads
 * (see fds.h). */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
/* SO_REUSEPORT is not POSIX: glibc shows it with its default feature set. */
#if !defined(_WIN32) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE 1
#endif

#include "fds.h"

#ifndef _WIN32
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sockaddr.h"

static int fd_flags(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) return -errno;
  fl = fcntl(fd, F_GETFD);
  if (fl == -1 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) == -1) return -errno;
  return 0;
}

int portls__plat_bind_listen(const portls_plat_addr *addr, int backlog, int reuseport, int *out) {
  struct sockaddr_storage ss;
  struct sockaddr_un sun;
  socklen_t salen = 0;
  int fd, on = 1, is_unix = addr->family == PORTLS_PLAT_UNIX, rc;
  *out = -1;
  if (is_unix) {
    if (portls__plat_check_unix_path(addr) != 0) return -EINVAL;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, addr->path, strlen(addr->path) + 1);
    salen = (socklen_t)sizeof sun;
  } else if (portls__plat_to_sockaddr(addr, &ss, &salen) != 0) {
    return -EINVAL;
  }
  fd = socket(is_unix ? AF_UNIX : ss.ss_family, SOCK_STREAM, 0);
  if (fd < 0) return -errno;
  rc = fd_flags(fd);
  if (rc == 0 && !is_unix && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0)
    rc = -errno;
  if (rc == 0 && !is_unix && reuseport) {
#ifdef SO_REUSEPORT
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) rc = -errno;
#else
    rc = -EOPNOTSUPP;
#endif
  }
#ifdef IPV6_V6ONLY
  if (rc == 0 && addr->family == PORTLS_PLAT_INET6) {
    int off = 0;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) != 0) rc = -errno;
  }
#endif
  if (rc == 0 &&
      bind(fd, is_unix ? (struct sockaddr *)(void *)&sun : (struct sockaddr *)(void *)&ss, salen) !=
          0)
    rc = errno == ENOENT ? -EACCES : -errno;
  if (rc == 0 && listen(fd, backlog > 0 ? backlog : 511) != 0) rc = -errno;
  if (rc != 0) {
    (void)close(fd);
    return rc;
  }
  *out = fd;
  return 0;
}

int portls__plat_fd_adopt(int fd, int *is_unix, int *listening) {
  struct sockaddr_storage ss;
  socklen_t len = (socklen_t)sizeof ss;
  int type = 0, acc = 0;
  socklen_t tlen = (socklen_t)sizeof type, alen = (socklen_t)sizeof acc;
  if (fd < 0) return -EBADF;
  memset(&ss, 0, sizeof ss);
  if (getsockname(fd, (struct sockaddr *)(void *)&ss, &len) != 0) return -errno;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0) return -errno;
  if (type != SOCK_STREAM) return -EINVAL;
  if (ss.ss_family != AF_UNIX && ss.ss_family != AF_INET && ss.ss_family != AF_INET6)
    return -EINVAL;
#ifdef SO_ACCEPTCONN
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &alen) != 0) return -errno;
#else
  (void)alen;
  acc = -1; /* unknown: the caller trusts the application */
#endif
  *is_unix = ss.ss_family == AF_UNIX;
  *listening = acc;
  return fd_flags(fd);
}

int portls__plat_fd_dup(int fd) {
  int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  return d < 0 ? -errno : d;
}

void portls__plat_fd_close(int fd) {
  if (fd >= 0) (void)close(fd);
}

struct portls_plat_thread {
  pthread_t id;
  void (*fn)(void *arg);
  void *arg;
};

static void *thread_main(void *p) {
  portls_plat_thread *t = p;
  t->fn(t->arg);
  return NULL;
}

int portls__plat_thread_start(void (*fn)(void *arg), void *arg, portls_plat_thread **out) {
  portls_plat_thread *t = portls_plat_alloc(sizeof *t);
  *out = NULL;
  if (t == NULL) return -ENOMEM;
  t->fn = fn;
  t->arg = arg;
  int rc = pthread_create(&t->id, NULL, thread_main, t);
  if (rc != 0) {
    portls_plat_free(t);
    return -rc;
  }
  *out = t;
  return 0;
}

void portls__plat_thread_join(portls_plat_thread *t) {
  if (t == NULL) return;
  (void)pthread_join(t->id, NULL);
  portls_plat_free(t);
}
#else
typedef int portls__plat_fds_unused; /* ISO C: no empty translation unit */
#endif
