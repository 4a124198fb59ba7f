/* portls_poll_*: descriptors the application owns, watched by the loop (what
 * the Redis session store runs its hiredis connection on). */
#include <criterion/criterion.h>
#include <unistd.h>

#include "portls/portls.h"

typedef struct seen {
  int calls, status, events;
  int fd;         /* read a byte from it when readable */
  int stop_after; /* stop the poll after this many calls (0: never) */
} seen;

static void on_ready(portls_poll *p, int status, int events, void *user) {
  seen *s = user;
  s->calls++;
  s->status = status;
  s->events = events;
  if (s->fd >= 0 && (events & PORTLS_POLL_READABLE)) {
    char c;
    (void)read(s->fd, &c, 1);
  }
  if (s->stop_after != 0 && s->calls >= s->stop_after) portls_poll_stop(p);
}

Test(poll, reports_readable_when_the_peer_writes_and_only_then) {
  portls_loop *loop = NULL;
  int fds[2];
  cr_assert_eq(pipe(fds), 0);
  cr_assert_eq(portls_loop_new(&loop), 0);
  seen s = {.fd = fds[0], .stop_after = 1};
  portls_poll *p = NULL;
  cr_assert_eq(portls_poll_new(loop, fds[0], on_ready, &s, &p), 0);
  cr_assert_eq(portls_poll_start(p, PORTLS_POLL_READABLE), 0);
  /* Nothing written: a non-blocking turn reports nothing. */
  portls_loop_run_once(loop, 0);
  cr_assert_eq(s.calls, 0);
  cr_assert_eq(write(fds[1], "x", 1), 1);
  /* The started poll keeps run() going until the callback stops it. */
  cr_assert_eq(portls_loop_run(loop), 0);
  cr_assert_eq(s.calls, 1);
  cr_assert_eq(s.status, 0);
  cr_assert_eq(s.events, PORTLS_POLL_READABLE);
  /* A loop with a poll is not free, even stopped. */
  cr_assert_eq(portls_loop_free(loop), PORTLS_EBUSY);
  portls_poll_free(p);
  cr_assert_eq(portls_loop_free(loop), 0);
  close(fds[0]);
  close(fds[1]);
}

Test(poll, reports_writable_and_switches_direction) {
  portls_loop *loop = NULL;
  int fds[2];
  cr_assert_eq(pipe(fds), 0);
  cr_assert_eq(portls_loop_new(&loop), 0);
  seen s = {.fd = -1, .stop_after = 1};
  portls_poll *p = NULL;
  cr_assert_eq(portls_poll_new(loop, fds[1], on_ready, &s, &p), 0);
  cr_assert_eq(portls_poll_start(p, PORTLS_POLL_WRITABLE), 0);
  cr_assert_eq(portls_loop_run(loop), 0);
  cr_assert_eq(s.calls, 1);
  cr_assert_eq(s.events, PORTLS_POLL_WRITABLE);
  /* Watching only readable on a write end: nothing ever comes. */
  cr_assert_eq(portls_poll_start(p, PORTLS_POLL_READABLE), 0);
  portls_loop_run_once(loop, 0);
  cr_assert_eq(s.calls, 1);
  portls_poll_free(p);
  cr_assert_eq(portls_loop_free(loop), 0);
  close(fds[0]);
  close(fds[1]);
}

Test(poll, a_freed_poll_never_calls_back_and_bad_arguments_fail) {
  portls_loop *loop = NULL;
  int fds[2];
  cr_assert_eq(pipe(fds), 0);
  cr_assert_eq(portls_loop_new(&loop), 0);
  seen s = {.fd = -1};
  portls_poll *p = NULL;
  cr_assert_eq(portls_poll_new(loop, -1, on_ready, &s, &p), PORTLS_EINVAL);
  cr_assert_null(p);
  cr_assert_eq(portls_poll_new(loop, fds[0], NULL, &s, &p), PORTLS_EINVAL);
  cr_assert_eq(portls_poll_new(loop, fds[0], on_ready, &s, &p), 0);
  cr_assert_eq(portls_poll_start(p, 4), PORTLS_EINVAL);
  cr_assert_eq(portls_poll_start(p, PORTLS_POLL_READABLE), 0);
  cr_assert_eq(write(fds[1], "x", 1), 1);
  portls_poll_free(p);
  /* Ready data, but the poll is gone: the loop has nothing to run. */
  cr_assert_eq(portls_loop_run(loop), 0);
  cr_assert_eq(s.calls, 0);
  cr_assert_eq(portls_loop_free(loop), 0);
  close(fds[0]);
  close(fds[1]);
}
