/* portls core: UTF-8 as RFC 3629 has it (shortest form, no surrogates,
 * nothing above U+10FFFF), and the U+FFFD replacement of what is not,
 * substituting each maximal invalid subpart as V8 and WHATWG decoders do.
 * Internal: never included by a public header. */
#ifndef PORTLS_CORE_UTIL_UTF8_H
#define PORTLS_CORE_UTIL_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* U+FFFD as UTF-8 (3 bytes). */
#define PORTLS__UTF8_REPLACEMENT "\xEF\xBF\xBD"

/* 1 when c is a Unicode scalar value: at most U+10FFFF, not a surrogate. */
int portls__utf8_is_scalar(uint32_t c);

/* The length (1 to 4) of the valid sequence at p, of the n bytes there, and
 * its code point in *cp (when cp is not NULL); 0 when the sequence is
 * invalid or truncated, or n is 0 (*cp is then left alone). */
size_t portls__utf8_decode(const uint8_t *p, size_t n, uint32_t *cp);

/* Where portls__utf8_decode says 0: the length of the maximal invalid
 * subpart at p (a possible lead byte and the continuation bytes that still
 * fit it), which a decoder replaces with one U+FFFD. 1 at least when n > 0. */
size_t portls__utf8_invalid_len(const uint8_t *p, size_t n);

/* Writes c (at most U+10FFFF) into out as 1 to 4 bytes and returns how
 * many. No check: callers that may hold a surrogate test it first. */
size_t portls__utf8_encode(uint32_t c, uint8_t out[4]);

/* A sanitiser fed one byte at a time: valid UTF-8 comes out as it went in,
 * each maximal invalid subpart (also one cut short by the end) and each NUL
 * (our strings are NUL-terminated) as U+FFFD. Zero-initialise. */
typedef struct portls__utf8_stream {
  uint8_t buf[4];
  uint8_t have, need;
  uint8_t lo, hi; /* the range allowed for the next continuation byte */
} portls__utf8_stream;

/* Room every call below may write into out. */
#define PORTLS__UTF8_STREAM_OUT 8

/* Feeds b; writes what is now complete into out and returns its length. */
size_t portls__utf8_stream_byte(portls__utf8_stream *s, uint8_t b, uint8_t *out);
/* Ends the input (the stream may be fed again afterwards): a pending
 * partial sequence becomes U+FFFD. Returns the bytes written into out. */
size_t portls__utf8_stream_end(portls__utf8_stream *s, uint8_t *out);

#endif
