#include <string.h>

#include "net/loop.h"

#define P (&portls__platform)

static void run_deferred(void *arg) {
  portls_loop *loop = arg;
  loop->defer_armed = 0;
  /* Run what is queued now; tasks queued by these run in the next round, so
   * a task that re-queues itself cannot starve I/O. */
  loop->running = loop->head;
  loop->head = loop->tail = NULL;
  /* The batch stays reachable from the loop while it runs: a task may free an
   * object whose other tasks are still in it (a pair closing with input to
   * deliver), and cancelling them must take them out of the batch, not leave
   * it pointing into freed memory (found by tests/fuzz/fuzz_pair.c). */
  while (loop->running != NULL) {
    portls__task *t = loop->running;
    loop->running = t->next;
    t->next = NULL;
    t->queued = 0;
    t->fn(t->arg);
  }
}

void portls__defer(portls_loop *loop, portls__task *task, void (*fn)(void *), void *arg) {
  if (task->queued) return;
  task->fn = fn;
  task->arg = arg;
  task->next = NULL;
  task->queued = 1;
  if (loop->tail != NULL)
    loop->tail->next = task;
  else
    loop->head = task;
  loop->tail = task;
  if (!loop->defer_armed) {
    loop->defer_armed = 1;
    P->timer_start(loop->defer_timer, 0, 0);
  }
}

void portls__cancel(portls_loop *loop, portls__task *task) {
  if (!task->queued) return;
  /* In the batch being run? (No tail there: it is consumed from the head.) */
  for (portls__task **rp = &loop->running; *rp != NULL; rp = &(*rp)->next)
    if (*rp == task) {
      *rp = task->next;
      task->queued = 0;
      task->next = NULL;
      return;
    }
  portls__task **pp = &loop->head, *prev = NULL;
  while (*pp != NULL && *pp != task) {
    prev = *pp;
    pp = &(*pp)->next;
  }
  if (*pp == task) {
    *pp = task->next;
    if (loop->tail == task) loop->tail = prev;
  }
  task->queued = 0;
  task->next = NULL;
}

static int loop_setup(portls_loop *loop) {
  int rc = P->timer_new(loop->plat, run_deferred, loop, &loop->defer_timer);
  if (rc < 0) return rc;
  return 0;
}

int portls__loop_wrap(portls_plat_loop *plat, portls_loop **out) {
  if (plat == NULL || out == NULL) return PORTLS_EINVAL;
  *out = NULL;
  portls_loop *loop = portls__calloc(1, sizeof *loop);
  if (loop == NULL) return PORTLS_ENOMEM;
  loop->plat = plat;
  int rc = loop_setup(loop);
  if (rc < 0) {
    portls__free(loop);
    return rc;
  }
  *out = loop;
  return 0;
}

int portls_loop_new(portls_loop **out) {
  if (out == NULL) return PORTLS_EINVAL;
  *out = NULL;
  int rc = portls__global_init(NULL);
  if (rc < 0) return rc;
  portls_loop *loop = portls__calloc(1, sizeof *loop);
  if (loop == NULL) return PORTLS_ENOMEM;
  rc = P->loop_new(&loop->plat);
  if (rc < 0) {
    portls__free(loop);
    return rc;
  }
  rc = loop_setup(loop);
  if (rc < 0) {
    P->loop_free(loop->plat);
    portls__free(loop);
    return rc;
  }
  *out = loop;
  return 0;
}

int portls_loop_run(portls_loop *loop) {
  if (loop == NULL) return PORTLS_EINVAL;
  int rc = P->loop_run(loop->plat, PORTLS_PLAT_RUN_DEFAULT);
  return rc < 0 ? rc : 0;
}

int portls_loop_run_once(portls_loop *loop, int block) {
  if (loop == NULL) return PORTLS_EINVAL;
  return P->loop_run(loop->plat, block ? PORTLS_PLAT_RUN_ONCE : PORTLS_PLAT_RUN_NOWAIT);
}

void portls_loop_stop(portls_loop *loop) {
  if (loop != NULL) P->loop_stop(loop->plat);
}

uint64_t portls_loop_now(portls_loop *loop) { return loop ? P->now(loop->plat) : 0; }

int portls_loop_backend_fd(portls_loop *loop) {
  if (loop == NULL) return PORTLS_EINVAL;
  if (P->backend_fd == NULL) return PORTLS_ENOTSUP;
  return P->backend_fd(loop->plat);
}

int portls_loop_backend_timeout(portls_loop *loop) {
  if (loop == NULL || P->backend_timeout == NULL) return 0;
  return P->backend_timeout(loop->plat);
}

int portls_loop_free(portls_loop *loop) {
  if (loop == NULL) return PORTLS_EINVAL;
  if (loop->objects > 0 || loop->head != NULL) return PORTLS_EBUSY;
  P->timer_free(loop->defer_timer);
  loop->defer_timer = NULL;
  /* The platform knows whether it owns the loop: a wrapped one is left open. */
  int rc = P->loop_free(loop->plat);
  if (rc < 0) {
    /* Give pending close callbacks a turn, then try once more. */
    P->loop_run(loop->plat, PORTLS_PLAT_RUN_NOWAIT);
    rc = P->loop_free(loop->plat);
    if (rc < 0) return rc;
  }
  portls__free(loop->read_buf);
  portls__free(loop->clear_buf);
  portls__free(loop);
  return 0;
}

/* ---- public timers ---- */

struct portls_timer {
  portls_loop *loop;
  portls_plat_timer *t;
  portls_timer_cb cb;
  void *user;
};

static void timer_fire(void *ud) {
  portls_timer *t = ud;
  t->cb(t, t->user);
}

int portls_timer_new(portls_loop *loop, portls_timer_cb cb, void *user, portls_timer **out) {
  if (loop == NULL || cb == NULL || out == NULL) return PORTLS_EINVAL;
  *out = NULL;
  portls_timer *t = portls__calloc(1, sizeof *t);
  if (t == NULL) return PORTLS_ENOMEM;
  int rc = P->timer_new(loop->plat, timer_fire, t, &t->t);
  if (rc < 0) {
    portls__free(t);
    return rc;
  }
  t->loop = loop;
  t->cb = cb;
  t->user = user;
  loop->objects++;
  *out = t;
  return 0;
}

int portls_timer_start(portls_timer *t, uint64_t timeout_ms, uint64_t repeat_ms) {
  if (t == NULL) return PORTLS_EINVAL;
  P->timer_start(t->t, timeout_ms, repeat_ms);
  return 0;
}

void portls_timer_stop(portls_timer *t) {
  if (t != NULL) P->timer_stop(t->t);
}

void portls_timer_free(portls_timer *t) {
  if (t == NULL) return;
  P->timer_free(t->t);
  t->loop->objects--;
  portls__free(t);
}

/* ---- public descriptor polls ---- */

struct portls_poll {
  portls_loop *loop;
  portls_plat_watch *w;
  portls_poll_cb cb;
  void *user;
};

static void poll_fire(void *ud, int status, int events) {
  portls_poll *p = ud;
  int ev = 0;
  if (events & PORTLS_PLAT_WATCH_READ) ev |= PORTLS_POLL_READABLE;
  if (events & PORTLS_PLAT_WATCH_WRITE) ev |= PORTLS_POLL_WRITABLE;
  p->cb(p, status, ev, p->user);
}

int portls_poll_new(portls_loop *loop, int fd, portls_poll_cb cb, void *user, portls_poll **out) {
  if (out != NULL) *out = NULL;
  if (loop == NULL || fd < 0 || cb == NULL || out == NULL) return PORTLS_EINVAL;
  if (P->watch_new == NULL) return PORTLS_ENOTSUP;
  portls_poll *p = portls__calloc(1, sizeof *p);
  if (p == NULL) return PORTLS_ENOMEM;
  int rc = P->watch_new(loop->plat, fd, poll_fire, p, &p->w);
  if (rc < 0) {
    portls__free(p);
    return rc;
  }
  p->loop = loop;
  p->cb = cb;
  p->user = user;
  loop->objects++;
  *out = p;
  return 0;
}

int portls_poll_start(portls_poll *p, int events) {
  if (p == NULL || (events & ~(PORTLS_POLL_READABLE | PORTLS_POLL_WRITABLE))) return PORTLS_EINVAL;
  int w = 0;
  if (events & PORTLS_POLL_READABLE) w |= PORTLS_PLAT_WATCH_READ;
  if (events & PORTLS_POLL_WRITABLE) w |= PORTLS_PLAT_WATCH_WRITE;
  return P->watch_start(p->w, w);
}

void portls_poll_stop(portls_poll *p) {
  if (p != NULL) (void)P->watch_start(p->w, 0);
}

void portls_poll_free(portls_poll *p) {
  if (p == NULL) return;
  /* The platform frees its half after its close callback; ours goes now,
   * since the watch never calls poll_fire again. */
  P->watch_close(p->w, NULL, NULL);
  p->loop->objects--;
  portls__free(p);
}
