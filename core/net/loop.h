/* Internal: the loop wrapper, deferred tasks and shared buffers. */
#ifndef PORTLS_CORE_LOOP_H
#define PORTLS_CORE_LOOP_H

#include "portls/platform.h"
#include "portls/portls.h"
#include "util/util.h"

/* A callback queued to run from the loop soon (Node's process.nextTick, as
 * far as a C library needs it). Embedded in the object that owns it, so
 * queueing never allocates. */
typedef struct portls__task {
  struct portls__task *next;
  void (*fn)(void *arg);
  void *arg;
  int queued;
} portls__task;

/* Size of the loop-wide buffer transport reads land in. */
#define PORTLS__READ_BUF_SIZE (64 * 1024)
/* Size of the loop-wide buffer cleartext is decrypted into. */
#ifndef PORTLS__CLEAR_BUF_SIZE /* a build may shrink it (scripts/baremetal.sh: 4 KiB) */
#define PORTLS__CLEAR_BUF_SIZE (16 * 1024)
#endif

struct portls_loop {
  portls_plat_loop *plat;
  portls_plat_timer *defer_timer;
  int defer_armed;
  portls__task *head, *tail;
  portls__task *running; /* the rest of the batch run_deferred is running, which
                            portls__cancel unlinks from too */
  uint8_t *read_buf;     /* shared by every connection: a read is consumed before the next */
  uint8_t *clear_buf;
  size_t objects; /* sockets, servers and timers alive */
};

void portls__defer(portls_loop *loop, portls__task *task, void (*fn)(void *), void *arg);
void portls__cancel(portls_loop *loop, portls__task *task);
/* Wraps an existing platform loop (used by platform-specific entry points
 * such as portls_loop_from_uv()). */
int portls__loop_wrap(portls_plat_loop *plat, portls_loop **out);

#endif
