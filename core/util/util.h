/* portls core: allocation, errors, small helpers shared by all of core.
 * Internal: never included by a public header. */
#ifndef PORTLS_CORE_UTIL_H
#define PORTLS_CORE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "portls/backend.h"
#include "portls/errors.h"

/* The allocation wrappers (portls__malloc, ...), portls__err,
 * portls__alert_code, portls__alert_name, portls__hexval and PORTLS__ARRAY_SIZE/MIN/MAX are
 * declared in portls/backend.h, among the services core gives a backend; they are core's all the
 * same. */

/* portls__err with a va_list. */
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

#endif
