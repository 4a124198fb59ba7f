/* portls platforms: the command line on systems with /proc (see
 * portls_platform.command_line). */
#ifndef PORTLS_PLATFORM_COMMON_CMDLINE_H
#define PORTLS_PLATFORM_COMMON_CMDLINE_H

#include <stddef.h>

/* /proc/self/cmdline with its NULs turned into spaces; 0 when it cannot be
 * read (no /proc: macOS, the BSDs without procfs, Windows). */
size_t portls__plat_proc_command_line(char *buf, size_t cap);

#endif
