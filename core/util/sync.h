/* portls core: the little synchronisation core needs so that contexts may be
 * shared by loops on several threads, and process-wide state is set up once.
 * Internal: never included by a public header.
 *
 * Three implementations, chosen at compile time, in this order:
 *  1. C11 <threads.h> call_once, when the build found it (CMake defines
 *     PORTLS_HAVE_C11_THREADS after checking that call_once links: glibc
 *     2.28 and later). Used for process-wide initialisation only.
 *  2. C11 <stdatomic.h>: a once flag spun on with acquire/release atomics,
 *     a spin lock (atomic_flag) for the few short critical sections (copying
 *     48 bytes of ticket keys), atomic reference counts. This is what core
 *     compiled freestanding (bare metal: no threads.h to link) gets; it is
 *     correct on any C11 implementation with atomics.
 *  3. Neither (__STDC_NO_ATOMICS__): plain variables. Such a build is
 *     single-threaded: every object and every call belongs to one thread.
 * Under ThreadSanitizer the atomics' once is used even where call_once exists:
 * glibc's call_once reaches pthread_once inside libc, where TSan's interceptor
 * does not see it, so TSan would report the once's own initialisation as a
 * race; the atomics it sees.
 */
#ifndef PORTLS_CORE_SYNC_H
#define PORTLS_CORE_SYNC_H

#include <stddef.h>

#if !defined(__STDC_NO_ATOMICS__)
#include <stdatomic.h>
#define PORTLS__ATOMICS 1
#endif
#if defined(__SANITIZE_THREAD__)
#define PORTLS__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PORTLS__TSAN 1
#endif
#endif
#if defined(PORTLS_HAVE_C11_THREADS) && !defined(PORTLS__TSAN)
#define PORTLS__CALL_ONCE 1
#include <threads.h>
#endif

/* ---- once ---- */

#if defined(PORTLS__CALL_ONCE)
typedef once_flag portls__once_flag;
#define PORTLS__ONCE_INIT ONCE_FLAG_INIT
static inline void portls__once(portls__once_flag *flag, void (*fn)(void)) { call_once(flag, fn); }
#elif defined(PORTLS__ATOMICS)
/* 0: not run, 1: running, 2: done. */
typedef atomic_int portls__once_flag;
#define PORTLS__ONCE_INIT 0
static inline void portls__once(portls__once_flag *flag, void (*fn)(void)) {
  if (atomic_load_explicit(flag, memory_order_acquire) == 2) return;
  int expected = 0;
  if (atomic_compare_exchange_strong_explicit(flag, &expected, 1, memory_order_acq_rel,
                                              memory_order_acquire)) {
    fn();
    atomic_store_explicit(flag, 2, memory_order_release);
    return;
  }
  while (atomic_load_explicit(flag, memory_order_acquire) != 2) {
    /* Another thread is initialising: wait for it (initialisation is short). */
  }
}
#else
typedef int portls__once_flag;
#define PORTLS__ONCE_INIT 0
static inline void portls__once(portls__once_flag *flag, void (*fn)(void)) {
  if (*flag) return;
  *flag = 1;
  fn();
}
#endif

/* ---- spin lock, for critical sections of a few instructions ---- */

#if defined(PORTLS__ATOMICS)
typedef atomic_flag portls__spin;
#define PORTLS__SPIN_INIT ATOMIC_FLAG_INIT
static inline void portls__spin_init(portls__spin *s) { atomic_flag_clear(s); }
static inline void portls__spin_lock(portls__spin *s) {
  while (atomic_flag_test_and_set_explicit(s, memory_order_acquire)) {}
}
static inline void portls__spin_unlock(portls__spin *s) {
  atomic_flag_clear_explicit(s, memory_order_release);
}
#else
typedef int portls__spin;
#define PORTLS__SPIN_INIT 0
static inline void portls__spin_init(portls__spin *s) { *s = 0; }
static inline void portls__spin_lock(portls__spin *s) { (void)s; }
static inline void portls__spin_unlock(portls__spin *s) { (void)s; }
#endif

/* ---- reference counts and counters shared between threads ---- */

#if defined(PORTLS__ATOMICS)
typedef atomic_size_t portls__refcount;
static inline void portls__ref_init(portls__refcount *r, size_t v) { atomic_init(r, v); }
static inline void portls__ref_inc(portls__refcount *r) {
  atomic_fetch_add_explicit(r, 1, memory_order_relaxed);
}
/* Returns the count after the decrement; the thread that sees 0 frees. */
static inline size_t portls__ref_dec(portls__refcount *r) {
  return atomic_fetch_sub_explicit(r, 1, memory_order_acq_rel) - 1;
}
static inline size_t portls__ref_get(portls__refcount *r) {
  return atomic_load_explicit(r, memory_order_acquire);
}
static inline void portls__ref_set(portls__refcount *r, size_t v) {
  atomic_store_explicit(r, v, memory_order_release);
}
#else
typedef size_t portls__refcount;
static inline void portls__ref_init(portls__refcount *r, size_t v) { *r = v; }
static inline void portls__ref_inc(portls__refcount *r) { ++*r; }
static inline size_t portls__ref_dec(portls__refcount *r) { return --*r; }
static inline size_t portls__ref_get(portls__refcount *r) { return *r; }
static inline void portls__ref_set(portls__refcount *r, size_t v) { *r = v; }
#endif

#endif
