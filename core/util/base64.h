/* portls core: base64 (RFC 4648, standard alphabet, with padding).
 * Internal: never included by a public header. */
#ifndef PORTLS_CORE_UTIL_BASE64_H
#define PORTLS_CORE_UTIL_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters portls__base64_encode writes for n input bytes, without the NUL;
 * (size_t)-1 when that would overflow. */
size_t portls__base64_encoded_len(size_t n);
/* Encodes n bytes into out, which must hold encoded_len(n) + 1 bytes; writes
 * a terminating NUL and returns the text length. */
size_t portls__base64_encode(const void *in, size_t n, char *out);

/* Upper bound of the bytes that decoding n characters can produce. */
size_t portls__base64_decoded_max(size_t n);

/* Allow (and skip) space, tab, CR and LF anywhere, as in PEM bodies. */
#define PORTLS__BASE64_SKIP_SPACE 1u

/* Strict decoding: only the standard alphabet, a length that is a multiple
 * of four characters (after skipping whitespace when allowed), '=' only as
 * one or two final pad characters, and pad bits that are zero, so that every
 * byte string has exactly one accepted encoding. out must hold
 * decoded_max(n) bytes. Returns 0 and sets *out_len, or -1 on invalid input. */
int portls__base64_decode(const char *in, size_t n, uint8_t *out, size_t *out_len, unsigned flags);

#endif
