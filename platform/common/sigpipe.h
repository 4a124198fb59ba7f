/* portls platforms: SIGPIPE, shared by the platforms built on sockets. */
#ifndef PORTLS_PLATFORM_COMMON_SIGPIPE_H
#define PORTLS_PLATFORM_COMMON_SIGPIPE_H

/* A write to a reset connection must come back as EPIPE, not kill the
 * process: Node ignores SIGPIPE at startup, and so do the platforms, when a
 * loop is created. An application's own handler is left alone: only a
 * disposition still at SIG_DFL becomes SIG_IGN. (libuv writes with write(2),
 * which has no MSG_NOSIGNAL; the posix platform also passes MSG_NOSIGNAL or
 * sets SO_NOSIGPIPE where the system has them, so that its writes raise no
 * SIGPIPE even under an application handler.) Nothing on Windows. */
void portls__plat_ignore_sigpipe(void);

#endif
