/* portls core: a strict, bounds-checked DER reader.
 *
 * Certificates arrive from the network, so everything here assumes hostile
 * input: every length is checked against the bytes that remain, lengths use
 * the minimal definite form (no indefinite length, at most 4 length octets),
 * and nothing recurses except portls__der_check_tree, which takes a depth
 * bound. A reader never allocates and never reads outside [p, end).
 *
 * Internal: never included by a public header.
 */
#ifndef PORTLS_CORE_TLS_DER_H
#define PORTLS_CORE_TLS_DER_H

#include <stddef.h>
#include <stdint.h>

/* A tag packs class, constructed bit and tag number into one value, so that
 * high tag numbers (>= 31) compare as easily as the common ones. */
#define PORTLS__DER_CLASS_UNIVERSAL 0u
#define PORTLS__DER_CLASS_APPLICATION 1u
#define PORTLS__DER_CLASS_CONTEXT 2u
#define PORTLS__DER_CLASS_PRIVATE 3u
#define PORTLS__DER_TAG(cls, cons, num)                                                            \
  (((uint32_t)(cls) << 30) | ((uint32_t)((cons) ? 1u : 0u) << 29) | (uint32_t)(num))
#define PORTLS__DER_TAG_CLASS(t) ((unsigned)((t) >> 30))
#define PORTLS__DER_TAG_CONSTRUCTED(t) ((int)(((t) >> 29) & 1u))
#define PORTLS__DER_TAG_NUMBER(t) ((uint32_t)((t)&0x1FFFFFFFu))

/* Universal tags as they appear in certificates. */
#define PORTLS__DER_BOOLEAN PORTLS__DER_TAG(0, 0, 1)
#define PORTLS__DER_INTEGER PORTLS__DER_TAG(0, 0, 2)
#define PORTLS__DER_BIT_STRING PORTLS__DER_TAG(0, 0, 3)
#define PORTLS__DER_OCTET_STRING PORTLS__DER_TAG(0, 0, 4)
#define PORTLS__DER_NULL PORTLS__DER_TAG(0, 0, 5)
#define PORTLS__DER_OID PORTLS__DER_TAG(0, 0, 6)
#define PORTLS__DER_UTF8_STRING PORTLS__DER_TAG(0, 0, 12)
#define PORTLS__DER_SEQUENCE PORTLS__DER_TAG(0, 1, 16)
#define PORTLS__DER_SET PORTLS__DER_TAG(0, 1, 17)
#define PORTLS__DER_NUMERIC_STRING PORTLS__DER_TAG(0, 0, 18)
#define PORTLS__DER_PRINTABLE_STRING PORTLS__DER_TAG(0, 0, 19)
#define PORTLS__DER_T61_STRING PORTLS__DER_TAG(0, 0, 20)
#define PORTLS__DER_IA5_STRING PORTLS__DER_TAG(0, 0, 22)
#define PORTLS__DER_UTC_TIME PORTLS__DER_TAG(0, 0, 23)
#define PORTLS__DER_GENERALIZED_TIME PORTLS__DER_TAG(0, 0, 24)
#define PORTLS__DER_UNIVERSAL_STRING PORTLS__DER_TAG(0, 0, 28)
#define PORTLS__DER_BMP_STRING PORTLS__DER_TAG(0, 0, 30)
/* [n] IMPLICIT primitive and [n] constructed (EXPLICIT or IMPLICIT SEQUENCE). */
#define PORTLS__DER_CTX(n) PORTLS__DER_TAG(PORTLS__DER_CLASS_CONTEXT, 0, (n))
#define PORTLS__DER_CTX_CONS(n) PORTLS__DER_TAG(PORTLS__DER_CLASS_CONTEXT, 1, (n))

/* Longest dotted OID text portls__der_oid_text accepts to produce. */
#define PORTLS__DER_OID_TEXT_MAX 256

/* A cursor over a run of DER elements: [p, end). */
typedef struct portls__der {
  const uint8_t *p;
  const uint8_t *end;
} portls__der;

/* One element: its tag, the whole encoding and the contents. */
typedef struct portls__der_tlv {
  uint32_t tag;
  const uint8_t *hdr; /* first identifier octet: the whole TLV is hdr..val+len */
  size_t hdr_len;
  const uint8_t *val;
  size_t len;
} portls__der_tlv;

void portls__der_init(portls__der *d, const void *data, size_t len);
/* Starts a reader over the contents of tlv. */
void portls__der_init_tlv(portls__der *d, const portls__der_tlv *tlv);
int portls__der_at_end(const portls__der *d);

/* Reads the next element. 0 on success, -1 when the bytes are not one
 * well-formed DER header whose contents fit in what remains (or when the
 * reader is already at its end). On failure the reader does not move. */
int portls__der_read(portls__der *d, portls__der_tlv *out);
/* Like portls__der_read but leaves the reader where it was. */
int portls__der_peek(const portls__der *d, portls__der_tlv *out);
/* Reads the next element and requires its tag to be tag. */
int portls__der_expect(portls__der *d, uint32_t tag, portls__der_tlv *out);
/* If the next element has tag, reads it and returns 1; returns 0 if the
 * reader is at its end or the next element has another tag; -1 on a
 * malformed header. */
int portls__der_optional(portls__der *d, uint32_t tag, portls__der_tlv *out);
/* Reads a constructed element with tag and starts inner over its contents. */
int portls__der_enter(portls__der *d, uint32_t tag, portls__der *inner);
/* 0 when the reader has consumed everything, -1 on trailing bytes. */
int portls__der_finish(const portls__der *d);

/* Parses exactly one element spanning all of [data, data+len). */
int portls__der_parse_one(const void *data, size_t len, portls__der_tlv *out);

/* Walks the whole tree under [data, data+len) (a run of elements), entering
 * every constructed element, at most max_depth levels deep, and checks that
 * every nested length is consistent. 0 if well-formed, -1 otherwise. */
int portls__der_check_tree(const void *data, size_t len, unsigned max_depth);

/* Value checks and decoders. Each returns 0 on success, -1 when the
 * contents break DER's rules for the type. */
/* BOOLEAN: one octet, 0x00 or 0xFF. */
int portls__der_get_bool(const portls__der_tlv *tlv, int *out);
/* INTEGER: at least one octet and minimally encoded. */
int portls__der_check_integer(const portls__der_tlv *tlv);
/* INTEGER that fits in a long (used for small fields such as the version). */
int portls__der_get_long(const portls__der_tlv *tlv, long *out);
/* BIT STRING: a leading unused-bits octet 0..7, 0 when the string is empty,
 * and unused bits that are zero. */
int portls__der_get_bits(const portls__der_tlv *tlv, const uint8_t **bits, size_t *len,
                         unsigned *unused);
/* NULL: empty contents. */
int portls__der_check_null(const portls__der_tlv *tlv);
/* OBJECT IDENTIFIER contents: non-empty, each arc minimally encoded, the
 * last octet ends an arc. */
int portls__der_check_oid(const uint8_t *oid, size_t len);
/* Writes the dotted text of OID contents (arcs of any size) into buf.
 * Returns the text length, or -1 if the OID is malformed or the text does
 * not fit in cap bytes including the NUL. */
int portls__der_oid_text(const uint8_t *oid, size_t len, char *buf, size_t cap);
/* 1 when the OID contents equal those of the dotted text (for tables). */
int portls__der_oid_equals(const uint8_t *oid, size_t len, const char *dotted);

#endif
