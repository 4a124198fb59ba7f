/* portls core: strict DER reader (see der.h). */
#include "tls/der.h"

#include <string.h>

void portls__der_init(portls__der *d, const void *data, size_t len) {
  d->p = (const uint8_t *)data;
  d->end = d->p ? d->p + len : d->p;
}

void portls__der_init_tlv(portls__der *d, const portls__der_tlv *tlv) {
  portls__der_init(d, tlv->val, tlv->len);
}

int portls__der_at_end(const portls__der *d) { return d->p == d->end; }

/* Parses one header at p; every access is checked against end. */
static int read_header(const uint8_t *p, const uint8_t *end, portls__der_tlv *out) {
  size_t avail = (size_t)(end - p);
  size_t i = 1;
  uint32_t num;
  size_t len;

  if (avail < 2) return -1;
  num = p[0] & 0x1Fu;
  if (num == 0x1Fu) {
    /* High tag number form: base 128, minimal, and only for numbers that
     * do not fit the short form. Four octets (28 bits) is plenty. */
    size_t n = 0;
    uint8_t b;
    num = 0;
    do {
      if (i >= avail || ++n > 4) return -1;
      b = p[i++];
      if (n == 1 && b == 0x80) return -1;
      num = (num << 7) | (uint32_t)(b & 0x7Fu);
    } while (b & 0x80);
    if (num < 31) return -1;
  }
  /* End-of-contents only exists in BER's indefinite form. */
  if ((p[0] & 0xC0) == 0 && num == 0) return -1;
  if (i >= avail) return -1;
  len = p[i++];
  if (len & 0x80) {
    size_t n = len & 0x7F;
    size_t k;
    /* 0x80 is the indefinite form; more than 4 octets cannot describe
     * anything we would accept. */
    if (n == 0 || n > 4 || avail - i < n) return -1;
    if (p[i] == 0) return -1; /* leading zero octet: not minimal */
    len = 0;
    for (k = 0; k < n; k++) len = (len << 8) | p[i++];
    if (len < 0x80) return -1; /* the short form was required */
  }
  if (avail - i < len) return -1;
  out->tag = PORTLS__DER_TAG(p[0] >> 6, (p[0] >> 5) & 1u, num);
  out->hdr = p;
  out->hdr_len = i;
  out->val = p + i;
  out->len = len;
  return 0;
}

int portls__der_peek(const portls__der *d, portls__der_tlv *out) {
  if (d->p == NULL || d->p >= d->end) return -1;
  return read_header(d->p, d->end, out);
}

int portls__der_read(portls__der *d, portls__der_tlv *out) {
  portls__der_tlv t;
  if (portls__der_peek(d, &t) != 0) return -1;
  d->p = t.val + t.len;
  if (out) *out = t;
  return 0;
}

int portls__der_expect(portls__der *d, uint32_t tag, portls__der_tlv *out) {
  portls__der_tlv t;
  if (portls__der_peek(d, &t) != 0 || t.tag != tag) return -1;
  d->p = t.val + t.len;
  if (out) *out = t;
  return 0;
}

int portls__der_optional(portls__der *d, uint32_t tag, portls__der_tlv *out) {
  portls__der_tlv t;
  if (portls__der_at_end(d)) return 0;
  if (portls__der_peek(d, &t) != 0) return -1;
  if (t.tag != tag) return 0;
  d->p = t.val + t.len;
  if (out) *out = t;
  return 1;
}

int portls__der_enter(portls__der *d, uint32_t tag, portls__der *inner) {
  portls__der_tlv t;
  if (!PORTLS__DER_TAG_CONSTRUCTED(tag) || portls__der_expect(d, tag, &t) != 0) return -1;
  portls__der_init_tlv(inner, &t);
  return 0;
}

int portls__der_finish(const portls__der *d) { return d->p == d->end ? 0 : -1; }

int portls__der_parse_one(const void *data, size_t len, portls__der_tlv *out) {
  portls__der d;
  portls__der_init(&d, data, len);
  if (portls__der_read(&d, out) != 0) return -1;
  return portls__der_finish(&d);
}

static int check_tree(const uint8_t *p, const uint8_t *end, unsigned depth) {
  portls__der d;
  d.p = p;
  d.end = end;
  while (!portls__der_at_end(&d)) {
    portls__der_tlv t;
    if (portls__der_read(&d, &t) != 0) return -1;
    if (PORTLS__DER_TAG_CONSTRUCTED(t.tag)) {
      if (depth == 0) return -1;
      if (check_tree(t.val, t.val + t.len, depth - 1) != 0) return -1;
    }
  }
  return 0;
}

int portls__der_check_tree(const void *data, size_t len, unsigned max_depth) {
  const uint8_t *p = (const uint8_t *)data;
  if (p == NULL) return len == 0 ? 0 : -1;
  return check_tree(p, p + len, max_depth);
}

int portls__der_get_bool(const portls__der_tlv *tlv, int *out) {
  if (tlv->tag != PORTLS__DER_BOOLEAN || tlv->len != 1) return -1;
  if (tlv->val[0] != 0x00 && tlv->val[0] != 0xFF) return -1;
  *out = tlv->val[0] != 0;
  return 0;
}

int portls__der_check_integer(const portls__der_tlv *tlv) {
  if (tlv->len == 0) return -1;
  if (tlv->len > 1) {
    /* Nine leading equal bits mean the first octet was redundant. */
    if (tlv->val[0] == 0x00 && !(tlv->val[1] & 0x80)) return -1;
    if (tlv->val[0] == 0xFF && (tlv->val[1] & 0x80)) return -1;
  }
  return 0;
}

int portls__der_get_long(const portls__der_tlv *tlv, long *out) {
  unsigned long u;
  size_t i;
  if (portls__der_check_integer(tlv) != 0 || tlv->len > sizeof(long)) return -1;
  /* Build the two's complement value in unsigned arithmetic, then convert:
   * shifting a negative signed value would be undefined. */
  u = (tlv->val[0] & 0x80) ? ~0UL : 0UL;
  for (i = 0; i < tlv->len; i++) u = (u << 8) | tlv->val[i];
  if (u & (1UL << (sizeof(long) * 8 - 1)))
    *out = -(long)(~u) - 1;
  else
    *out = (long)u;
  return 0;
}

int portls__der_get_bits(const portls__der_tlv *tlv, const uint8_t **bits, size_t *len,
                         unsigned *unused) {
  unsigned u;
  if (tlv->len == 0) return -1;
  u = tlv->val[0];
  if (u > 7) return -1;
  if (tlv->len == 1 && u != 0) return -1;
  if (tlv->len > 1 && (tlv->val[tlv->len - 1] & ((1u << u) - 1u)) != 0) return -1;
  *bits = tlv->val + 1;
  *len = tlv->len - 1;
  *unused = u;
  return 0;
}

int portls__der_check_null(const portls__der_tlv *tlv) {
  return tlv->tag == PORTLS__DER_NULL && tlv->len == 0 ? 0 : -1;
}

int portls__der_check_oid(const uint8_t *oid, size_t len) {
  size_t i;
  int arc_start = 1;
  if (oid == NULL || len == 0) return -1;
  for (i = 0; i < len; i++) {
    if (arc_start && oid[i] == 0x80) return -1; /* an arc may not start with a zero septet */
    arc_start = !(oid[i] & 0x80);
  }
  return arc_start ? 0 : -1;
}

static int put_text(char *buf, size_t cap, size_t *pos, const char *s, size_t n) {
  if (cap - *pos <= n) return -1; /* keep room for the NUL */
  memcpy(buf + *pos, s, n);
  *pos += n;
  buf[*pos] = '\0';
  return 0;
}

static int put_u64(char *buf, size_t cap, size_t *pos, unsigned long long v) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[sizeof(tmp) - 1 - n++] = (char)('0' + (int)(v % 10));
    v /= 10;
  } while (v);
  return put_text(buf, cap, pos, tmp + sizeof(tmp) - n, n);
}

/* An arc wider than 63 bits, in decimal, by schoolbook arithmetic on a
 * little-endian digit array. Such arcs only appear in crafted OIDs, but
 * OpenSSL prints them, so we do too. */
static int put_big_arc(char *buf, size_t cap, size_t *pos, const uint8_t *a, size_t n, int first) {
  unsigned char dig[PORTLS__DER_OID_TEXT_MAX];
  size_t nd = 1;
  size_t i;
  char out[PORTLS__DER_OID_TEXT_MAX];

  dig[0] = 0;
  for (i = 0; i < n; i++) {
    unsigned carry = a[i] & 0x7Fu;
    size_t k;
    for (k = 0; k < nd; k++) {
      unsigned v = dig[k] * 128u + carry;
      dig[k] = (unsigned char)(v % 10);
      carry = v / 10;
    }
    while (carry) {
      if (nd == sizeof(dig)) return -1;
      dig[nd++] = (unsigned char)(carry % 10);
      carry /= 10;
    }
  }
  if (first) {
    /* The first subidentifier is 40*x + y; at this size x can only be 2. */
    unsigned borrow = 80;
    size_t k;
    for (k = 0; k < nd && borrow; k++) {
      unsigned sub = borrow % 10;
      borrow /= 10;
      if (dig[k] < sub) {
        dig[k] = (unsigned char)(dig[k] + 10 - sub);
        borrow += 1;
      } else {
        dig[k] = (unsigned char)(dig[k] - sub);
      }
    }
    while (nd > 1 && dig[nd - 1] == 0) nd--;
    if (put_text(buf, cap, pos, "2.", 2) != 0) return -1;
  }
  for (i = 0; i < nd; i++) out[i] = (char)('0' + dig[nd - 1 - i]);
  return put_text(buf, cap, pos, out, nd);
}

int portls__der_oid_text(const uint8_t *oid, size_t len, char *buf, size_t cap) {
  size_t i = 0;
  size_t pos = 0;
  int first = 1;

  if (buf == NULL || cap == 0 || portls__der_check_oid(oid, len) != 0) return -1;
  buf[0] = '\0';
  while (i < len) {
    size_t start = i;
    size_t n;
    while (oid[i] & 0x80) i++;
    i++;
    n = i - start;
    if (!first && put_text(buf, cap, &pos, ".", 1) != 0) return -1;
    if (n <= 9) {
      unsigned long long v = 0;
      size_t k;
      for (k = start; k < i; k++) v = (v << 7) | (oid[k] & 0x7Fu);
      if (first) {
        unsigned x = v < 40 ? 0 : v < 80 ? 1 : 2;
        if (put_u64(buf, cap, &pos, x) != 0 || put_text(buf, cap, &pos, ".", 1) != 0 ||
            put_u64(buf, cap, &pos, v - 40ull * x) != 0)
          return -1;
      } else if (put_u64(buf, cap, &pos, v) != 0) {
        return -1;
      }
    } else if (n > PORTLS__DER_OID_TEXT_MAX / 2 ||
               put_big_arc(buf, cap, &pos, oid + start, n, first) != 0) {
      return -1;
    }
    first = 0;
  }
  return (int)pos;
}

int portls__der_oid_equals(const uint8_t *oid, size_t len, const char *dotted) {
  char text[PORTLS__DER_OID_TEXT_MAX];
  if (portls__der_oid_text(oid, len, text, sizeof(text)) < 0) return 0;
  return strcmp(text, dotted) == 0;
}
