/* portls core: allocation, errors, small helpers shared by all of core.
 * Internal: never included by a public header. */
#ifndef PORTLS_CORE_UTIL_H
#define PORTLS_CORE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "portls/backend.h"
#include "portls/errors.h"

/* Every allocation of the library goes through these (see portls_set_allocator). */
void *portls__malloc(size_t size);
void *portls__calloc(size_t n, size_t size);
void *portls__realloc(void *ptr, size_t size);
void portls__free(void *ptr);
char *portls__strdup(const char *s);
void *portls__memdup(const void *p, size_t len);
/* The value of a hex digit (either case), or -1. */
int portls__hexval(char c);

/* Fills *err (when err is not NULL) and returns code, so that
 * `return portls__err(err, PORTLS_EINVAL, "key: %s", why);` reads naturally.
 * With fmt NULL the code's default message is used. */
int portls__err(portls_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
int portls__verr(portls_error *err, int code, const char *fmt, va_list ap);

/* Message digests, computed with the linked backend's primitives. */
enum { PORTLS__SHA1 = PORTLS_BE_SHA1, PORTLS__SHA256 = PORTLS_BE_SHA256 };
#define PORTLS__SHA1_LEN 20
#define PORTLS__SHA256_LEN 32
int portls__digest(int alg, const void *data, size_t len, uint8_t *out);

/* A growable byte buffer. */
typedef struct portls__bytes {
  uint8_t *data;
  size_t len;
  size_t cap;
} portls__bytes;
int portls__bytes_reserve(portls__bytes *b, size_t extra);
int portls__bytes_append(portls__bytes *b, const void *data, size_t len);
int portls__bytes_printf(portls__bytes *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void portls__bytes_consume(portls__bytes *b, size_t n); /* drop n bytes from the front */
void portls__bytes_free(portls__bytes *b);

/* Library-wide helpers (core/lib.c). */
#include "portls/caps.h"
int portls__need_cap(portls_cap cap, const char *option, portls_error *err);
int portls__global_init(portls_error *err);
/* Compiles a cipher string against the backend's suites (TLS 1.3 first). */
int portls__ciphers_compile(const char *str, uint16_t **ids, size_t *n, portls_error *err);

#define PORTLS__ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PORTLS__MIN(a, b) ((a) < (b) ? (a) : (b))
#define PORTLS__MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
