/* portls platform for a system with no OS: a loop and timers on the board's
 * millisecond counter (baremetal.h), nothing else.
 *
 * One turn of the loop: the clock, then every timer that is due and was not
 * started during this turn, in (due time, start order); with RUN_ONCE and
 * nothing run yet, a wait for the next timer (portls_board_wait) and the
 * timers due then. Core delivers its deferred events from a 0 ms timer, so
 * SecurePairs and duplex streams need nothing more. There are no sockets and
 * no name lookup: those entries fail with PORTLS_ENOTSUP (core reports it for
 * tls.connect(), net servers and the like), and since no stream can exist, the
 * stream entries that return nothing are never reached.
 *
 * "Active", as in libuv: a started timer. loop_free() is PORTLS_EBUSY while a
 * timer exists (created, not freed) or while the loop runs.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "platform/baremetal/baremetal.h"
#include "portls/platform.h"

struct portls_plat_timer {
  portls_plat_loop *loop;
  portls_plat_cb cb;
  void *ud;
  uint64_t due, repeat, seq, turn;
  int active;
  struct portls_plat_timer *next; /* the loop's list of active timers, by (due, seq) */
};

struct portls_plat_loop {
  uint64_t now;
  uint64_t high; /* the counter's wraps, << 32 */
  uint32_t last;
  uint64_t turn, seq;
  portls_plat_timer *timers;
  size_t ntimers; /* created and not freed */
  int running, stop;
};

static void bm_update_time(portls_plat_loop *loop) {
  uint32_t raw = portls_board_millis();
  if (raw < loop->last) loop->high += UINT64_C(1) << 32;
  loop->last = raw;
  loop->now = loop->high | raw;
}

static int bm_loop_new(portls_plat_loop **out) {
  portls_plat_loop *loop = portls_plat_alloc(sizeof *loop);
  if (loop == NULL) return PORTLS_ENOMEM;
  memset(loop, 0, sizeof *loop);
  loop->last = portls_board_millis();
  loop->now = loop->last;
  *out = loop;
  return 0;
}

static int bm_loop_free(portls_plat_loop *loop) {
  if (loop == NULL) return PORTLS_EINVAL;
  if (loop->running || loop->ntimers > 0) return PORTLS_EBUSY;
  portls_plat_free(loop);
  return 0;
}

static uint64_t bm_now(portls_plat_loop *loop) { return loop->now; }

static void bm_unlink(portls_plat_timer *t) {
  if (!t->active) return;
  for (portls_plat_timer **pp = &t->loop->timers; *pp != NULL; pp = &(*pp)->next)
    if (*pp == t) {
      *pp = t->next;
      break;
    }
  t->next = NULL;
  t->active = 0;
}

static void bm_arm(portls_plat_timer *t, uint64_t timeout) {
  portls_plat_loop *loop = t->loop;
  t->due = loop->now + timeout;
  t->seq = ++loop->seq;
  t->turn = loop->turn; /* started during this turn: runs from the next one on */
  t->active = 1;
  portls_plat_timer **pp = &loop->timers;
  while (*pp != NULL && (*pp)->due <= t->due) pp = &(*pp)->next;
  t->next = *pp;
  *pp = t;
}

static int bm_timer_new(portls_plat_loop *loop, portls_plat_cb cb, void *ud,
                        portls_plat_timer **out) {
  portls_plat_timer *t = portls_plat_alloc(sizeof *t);
  if (t == NULL) return PORTLS_ENOMEM;
  memset(t, 0, sizeof *t);
  t->loop = loop;
  t->cb = cb;
  t->ud = ud;
  loop->ntimers++;
  *out = t;
  return 0;
}

static void bm_timer_start(portls_plat_timer *t, uint64_t timeout_ms, uint64_t repeat_ms) {
  bm_unlink(t);
  t->repeat = repeat_ms;
  bm_arm(t, timeout_ms);
}

static void bm_timer_stop(portls_plat_timer *t) { bm_unlink(t); }

static void bm_timer_free(portls_plat_timer *t) {
  if (t == NULL) return;
  bm_unlink(t);
  t->loop->ntimers--;
  portls_plat_free(t);
}

/* Runs the due timers of this turn; how many ran. A callback may start, stop
 * or free any timer (itself too): the list is searched afresh after each. */
static int bm_run_timers(portls_plat_loop *loop) {
  int ran = 0;
  for (;;) {
    portls_plat_timer *t = loop->timers;
    while (t != NULL && t->due <= loop->now && t->turn == loop->turn) t = t->next;
    if (t == NULL || t->due > loop->now || loop->stop) return ran;
    bm_unlink(t);
    if (t->repeat > 0) bm_arm(t, t->repeat);
    ran++;
    t->cb(t->ud);
  }
}

static int bm_alive(const portls_plat_loop *loop) { return loop->timers != NULL; }

/* Waits until the first timer is due (or the loop was stopped). */
static void bm_wait(portls_plat_loop *loop) {
  while (!loop->stop && loop->timers != NULL && loop->timers->due > loop->now) {
    uint64_t left = loop->timers->due - loop->now;
    portls_board_wait(left > UINT32_MAX ? UINT32_MAX : (uint32_t)left);
    bm_update_time(loop);
  }
}

static int bm_loop_run(portls_plat_loop *loop, int mode) {
  if (loop->running) return bm_alive(loop);
  loop->running = 1;
  if (!bm_alive(loop)) bm_update_time(loop);
  while (bm_alive(loop) && !loop->stop) {
    loop->turn++;
    bm_update_time(loop);
    int ran = bm_run_timers(loop);
    if (mode == PORTLS_PLAT_RUN_NOWAIT) break;
    if (mode == PORTLS_PLAT_RUN_ONCE) {
      if (!ran) {
        bm_wait(loop);
        bm_run_timers(loop);
      }
      break;
    }
    if (!ran) bm_wait(loop);
  }
  loop->stop = 0;
  loop->running = 0;
  return bm_alive(loop);
}

static void bm_loop_stop(portls_plat_loop *loop) { loop->stop = 1; }

/* ---- no network ------------------------------------------------------------ */

static int bm_lookup(portls_plat_loop *loop, const char *host, uint16_t port, int family,
                     portls_plat_lookup_cb cb, void *ud, portls_plat_lookup **out) {
  (void)loop, (void)host, (void)port, (void)family, (void)cb, (void)ud;
  *out = NULL;
  return PORTLS_ENOTSUP;
}
static void bm_lookup_cancel(portls_plat_lookup *req) { (void)req; }

static int bm_stream_connect(portls_plat_loop *loop, const portls_plat_addr *addr,
                             portls_plat_status_cb cb, void *ud, portls_plat_stream **out) {
  (void)loop, (void)addr, (void)cb, (void)ud;
  *out = NULL;
  return PORTLS_ENOTSUP;
}
static int bm_listen(portls_plat_loop *loop, const portls_plat_addr *addr, int backlog,
                     portls_plat_status_cb cb, void *ud, portls_plat_listener **out) {
  (void)loop, (void)addr, (void)backlog, (void)cb, (void)ud;
  *out = NULL;
  return PORTLS_ENOTSUP;
}
static int bm_accept(portls_plat_listener *l, portls_plat_stream **out) {
  (void)l;
  *out = NULL;
  return PORTLS_ENOTSUP;
}
static int bm_listener_address(portls_plat_listener *l, portls_plat_addr *out) {
  (void)l, (void)out;
  return PORTLS_ENOTSUP;
}
static void bm_listener_close(portls_plat_listener *l, portls_plat_cb cb, void *ud) {
  (void)l, (void)cb, (void)ud;
}
static int bm_read_start(portls_plat_stream *s, portls_plat_alloc_cb alloc, portls_plat_read_cb cb,
                         void *ud) {
  (void)s, (void)alloc, (void)cb, (void)ud;
  return PORTLS_ENOTSUP;
}
static int bm_read_stop(portls_plat_stream *s) {
  (void)s;
  return PORTLS_ENOTSUP;
}
static int bm_try_write(portls_plat_stream *s, const portls_plat_iov *iov, size_t count) {
  (void)s, (void)iov, (void)count;
  return PORTLS_ENOTSUP;
}
static int bm_write(portls_plat_stream *s, const portls_plat_iov *iov, size_t count,
                    portls_plat_status_cb cb, void *ud) {
  (void)s, (void)iov, (void)count, (void)cb, (void)ud;
  return PORTLS_ENOTSUP;
}
static int bm_shutdown(portls_plat_stream *s, portls_plat_status_cb cb, void *ud) {
  (void)s, (void)cb, (void)ud;
  return PORTLS_ENOTSUP;
}
static void bm_close(portls_plat_stream *s, portls_plat_cb cb, void *ud) {
  (void)s, (void)cb, (void)ud;
}
static int bm_set_nodelay(portls_plat_stream *s, int enable) {
  (void)s, (void)enable;
  return PORTLS_ENOTSUP;
}
static int bm_set_keepalive(portls_plat_stream *s, int enable, unsigned delay_s) {
  (void)s, (void)enable, (void)delay_s;
  return PORTLS_ENOTSUP;
}
static int bm_name(portls_plat_stream *s, portls_plat_addr *out) {
  (void)s, (void)out;
  return PORTLS_ENOTSUP;
}

const portls_platform portls__platform = {
    .name = "baremetal",
    .loop_new = bm_loop_new,
    .loop_free = bm_loop_free,
    .loop_run = bm_loop_run,
    .loop_stop = bm_loop_stop,
    .now = bm_now,
    .timer_new = bm_timer_new,
    .timer_start = bm_timer_start,
    .timer_stop = bm_timer_stop,
    .timer_free = bm_timer_free,
    .lookup = bm_lookup,
    .lookup_cancel = bm_lookup_cancel,
    .stream_connect = bm_stream_connect,
    .listen = bm_listen,
    .accept = bm_accept,
    .listener_address = bm_listener_address,
    .listener_close = bm_listener_close,
    .read_start = bm_read_start,
    .read_stop = bm_read_stop,
    .try_write = bm_try_write,
    .write = bm_write,
    .shutdown = bm_shutdown,
    .close = bm_close,
    .set_nodelay = bm_set_nodelay,
    .set_keepalive = bm_set_keepalive,
    .sockname = bm_name,
    .peername = bm_name,
    .command_line = NULL, /* a fixed text is hashed for the default sessionIdContext */
    .trim_memory = NULL,
};
