/* portls platforms: accept() at the process's descriptor limit, shared by the
 * platforms that accept on a BSD listening socket themselves (platform/posix,
 * and platform/libuv on Unix). Nothing on Windows. */
#ifndef PORTLS_PLATFORM_COMMON_ACCEPT_H
#define PORTLS_PLATFORM_COMMON_ACCEPT_H

/* A spare descriptor, taken while descriptors are plentiful and given back
 * by portls__plat_emfile_trick(); -1 when none could be opened. */
int portls__plat_emfile_reserve(void);

/* libuv's EMFILE trick, for an accept() on the non-blocking listening socket
 * lfd that failed with EMFILE or ENFILE: gives back the spare descriptor
 * *reserve, accepts and closes every connection pending on lfd (their peers
 * see the connection closed at once instead of waiting in the backlog for a
 * descriptor), and takes a spare again (*reserve is -1 when that failed).
 * Returns the errno the last accept() failed with: EAGAIN or EWOULDBLOCK
 * once nothing is pending, EMFILE at once when *reserve was -1. */
int portls__plat_emfile_trick(int lfd, int *reserve);

#endif
