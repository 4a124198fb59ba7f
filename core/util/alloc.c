/* The library's allocator: everything core, the platform and (where the
 * backend lets us) the backend allocate goes through here, so an embedder can
 * account for memory or inject failures. */
#include <stdlib.h>
#include <string.h>

#include "portls/platform.h"
#include "portls/portls.h"
#include "util/util.h"

static void *libc_malloc(void *ctx, size_t size) {
  (void)ctx;
  return malloc(size);
}
static void *libc_realloc(void *ctx, void *ptr, size_t size) {
  (void)ctx;
  return realloc(ptr, size);
}
static void libc_free(void *ctx, void *ptr) {
  (void)ctx;
  free(ptr);
}

static portls_allocator current = {libc_malloc, libc_realloc, libc_free, NULL};

int portls_set_allocator(const portls_allocator *a) {
  if (a == NULL) {
    current = (portls_allocator){libc_malloc, libc_realloc, libc_free, NULL};
    return 0;
  }
  if (a->malloc_fn == NULL || a->realloc_fn == NULL || a->free_fn == NULL) return PORTLS_EINVAL;
  current = *a;
  return 0;
}

/* NULL while libc's allocator is in use, so that a backend can skip routing
 * its own allocations through ours (two extra calls on every one). */
const portls_allocator *portls__allocator(void) {
  return current.malloc_fn == libc_malloc && current.free_fn == libc_free ? NULL : &current;
}

void *portls__malloc(size_t size) { return current.malloc_fn(current.ctx, size ? size : 1); }

void *portls__calloc(size_t n, size_t size) {
  if (size != 0 && n > SIZE_MAX / size) return NULL;
  void *p = portls__malloc(n * size);
  if (p != NULL) memset(p, 0, n * size);
  return p;
}

void *portls__realloc(void *ptr, size_t size) {
  return current.realloc_fn(current.ctx, ptr, size ? size : 1);
}

void portls__free(void *ptr) {
  if (ptr != NULL) current.free_fn(current.ctx, ptr);
}

void portls_free(void *ptr) { portls__free(ptr); }

void *portls_plat_alloc(size_t size) { return portls__malloc(size); }
void portls_plat_free(void *ptr) { portls__free(ptr); }

char *portls__strdup(const char *s) {
  if (s == NULL) return NULL;
  return portls__memdup(s, strlen(s) + 1);
}

void *portls__memdup(const void *p, size_t len) {
  void *q = portls__malloc(len);
  if (q != NULL && len > 0) memcpy(q, p, len);
  return q;
}

int portls__hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
