/* portls platforms: the command line from /proc (see cmdline.h). */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include "cmdline.h"

#ifdef _WIN32
size_t portls__plat_proc_command_line(char *buf, size_t cap) {
  (void)buf, (void)cap;
  return 0;
}
#else
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

size_t portls__plat_proc_command_line(char *buf, size_t cap) {
  int fd = open("/proc/self/cmdline", O_RDONLY);
  if (fd < 0) return 0;
  size_t len = 0;
  while (len < cap) {
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  close(fd);
  if (len > 0 && buf[len - 1] == '\0') len--; /* the last argument's terminator */
  for (size_t i = 0; i < len; i++)
    if (buf[i] == '\0')
      buf[i] = ' '; /* argv joined with spaces, as Node's process.argv.join(' ') */
  return len;
}
#endif
