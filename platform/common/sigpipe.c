/* portls platforms: SIGPIPE (see sigpipe.h). */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include "sigpipe.h"

#ifndef _WIN32
#include <signal.h>
#include <stddef.h>

void portls__plat_ignore_sigpipe(void) {
  struct sigaction sa;
  if (sigaction(SIGPIPE, NULL, &sa) != 0) return;
  if ((sa.sa_flags & SA_SIGINFO) || sa.sa_handler != SIG_DFL) return;
  sa.sa_handler = SIG_IGN;
  (void)sigaction(SIGPIPE, &sa, NULL);
}
#else
void portls__plat_ignore_sigpipe(void) {}
#endif
