/* portls platforms: accept() at the descriptor limit (see accept.h). */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include "accept.h"

#ifndef _WIN32
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

int portls__plat_emfile_reserve(void) { return open("/", O_RDONLY | O_CLOEXEC); }

int portls__plat_emfile_trick(int lfd, int *reserve) {
  int fd, err;
  if (*reserve < 0) return EMFILE;
  (void)close(*reserve);
  *reserve = -1;
  for (;;) {
    fd = accept(lfd, NULL, NULL);
    if (fd >= 0) {
      (void)close(fd);
      continue;
    }
    if (errno != EINTR && errno != ECONNABORTED) break;
  }
  err = errno;
  *reserve = portls__plat_emfile_reserve();
  return err;
}
#else
typedef int portls__plat_accept_unused; /* ISO C: no empty translation unit */
#endif
