/* The loop's deferred tasks (core/net/loop.c). */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "net/loop.h"
#include "portls/portls.h"

typedef struct owner {
  portls_loop *loop;
  portls__task first, second, third;
  int *ran_second;
} owner;

static int ran_second, ran_third;

/* What a pair does when its close task runs: cancels its other tasks and
 * frees the memory they live in. */
static void first_frees_owner(void *arg) {
  owner *o = arg;
  portls__cancel(o->loop, &o->second);
  portls__cancel(o->loop, &o->third);
  free(o);
}
static void count_second(void *arg) {
  (void)arg;
  ran_second++;
}
static void count_third(void *arg) {
  (void)arg;
  ran_third++;
}

/* Found by tests/fuzz/fuzz_pair.c: a task cancelled by an earlier task of the
 * same batch still ran, read from the freed object that held it. */
Test(loop, a_task_cancelled_by_an_earlier_task_of_the_same_batch_does_not_run) {
  portls_loop *loop = NULL;
  cr_assert_eq(portls_loop_new(&loop), 0);
  static portls__task other;
  owner *o = calloc(1, sizeof *o);
  cr_assert_not_null(o);
  o->loop = loop;
  ran_second = ran_third = 0;
  portls__defer(loop, &o->first, first_frees_owner, o);
  portls__defer(loop, &o->second, count_second, o);
  portls__defer(loop, &other, count_third, NULL); /* not cancelled: must still run */
  portls__defer(loop, &o->third, count_third, o);
  for (int i = 0; i < 10; i++) portls_loop_run_once(loop, 0);
  cr_expect_eq(ran_second, 0, "a cancelled task ran");
  cr_expect_eq(ran_third, 1, "the other task ran %d times", ran_third);
  cr_expect_eq(portls_loop_free(loop), 0);
}

Test(loop, a_task_deferred_while_the_batch_runs_waits_for_the_next_round) {
  portls_loop *loop = NULL;
  cr_assert_eq(portls_loop_new(&loop), 0);
  static portls__task a, b;
  ran_third = 0;
  portls__defer(loop, &a, count_third, NULL);
  portls__cancel(loop, &a); /* cancelled before it ran */
  portls__defer(loop, &b, count_third, NULL);
  portls__defer(loop, &b, count_third, NULL); /* queued once */
  for (int i = 0; i < 10; i++) portls_loop_run_once(loop, 0);
  cr_expect_eq(ran_third, 1);
  cr_expect_eq(portls_loop_free(loop), 0);
}
