/* portls core: PEM blocks (RFC 7468, plus RFC 1421's encapsulated headers
 * that OpenSSL's traditional encrypted keys carry).
 *
 * A block is a BEGIN line at the start of a line, an optional run of
 * "Name: value" header lines ended by a blank line, base64, and the END line
 * with the same label at the start of a line. Text around blocks is ignored.
 *
 * Internal: never included by a public header.
 */
#ifndef PORTLS_CORE_UTIL_PEM_H
#define PORTLS_CORE_UTIL_PEM_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

typedef struct portls__pem_block {
  const char *label; /* between "-----BEGIN " and "-----"; not NUL-terminated */
  size_t label_len;
  const char *headers; /* the header lines with their line ends; NULL when none */
  size_t headers_len;
  const char *body; /* the base64 text, up to the END line */
  size_t body_len;
} portls__pem_block;

enum {
  PORTLS__PEM_NONE = -1,  /* no block with a wanted label */
  PORTLS__PEM_NO_END = -2 /* a wanted BEGIN line without its END line */
};

/* Finds the first block at or after offset *pos of [text, text+n) whose label
 * is one of labels (a NULL-terminated list; NULL takes any label). A BEGIN
 * line with anything but spaces after its closing dashes is not a BEGIN line.
 * Returns 0 and sets *pos past the END line, or PORTLS__PEM_NONE or
 * PORTLS__PEM_NO_END. */
int portls__pem_find(const void *text, size_t n, size_t *pos, const char *const *labels,
                     portls__pem_block *out);

/* 1 when the block's label is exactly label. */
int portls__pem_is(const portls__pem_block *b, const char *label);

/* The value of header name (case-sensitive, as OpenSSL reads it) with
 * surrounding spaces removed: 0 with *value and *len set, or -1 when absent. */
int portls__pem_header(const portls__pem_block *b, const char *name, const char **value,
                       size_t *len);

/* Decodes the body (whitespace allowed, strict base64 otherwise) into a new
 * block from portls__malloc. 0, PORTLS_EINVAL for bad base64, PORTLS_ENOMEM. */
int portls__pem_decode(const portls__pem_block *b, uint8_t **der, size_t *len);

/* Appends "-----BEGIN label-----\n", der as base64 in 64-character lines and
 * "-----END label-----\n" to out, and keeps a NUL after out->len (mbedTLS's
 * PEM parsers want the NUL counted: pass out->len + 1). 0 or PORTLS_ENOMEM. */
int portls__pem_encode(portls__bytes *out, const char *label, const void *der, size_t len);

#endif
