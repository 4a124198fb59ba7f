/* The DER reader and base64: the byte-level parsers under certificates. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tls/der.h"
#include "util/base64.h"

/* Copies bytes into a heap block of exactly their size, so that ASan
 * reports any read past the end. */
static uint8_t *exact(const void *p, size_t n) {
  uint8_t *q = malloc(n ? n : 1);
  cr_assert_not_null(q);
  if (n) memcpy(q, p, n);
  return q;
}

static int read_one(const void *bytes, size_t n, portls__der_tlv *out) {
  uint8_t *b = exact(bytes, n);
  portls__der d;
  int r;
  portls__der_init(&d, b, n);
  r = portls__der_read(&d, out);
  if (r == 0) {
    /* Keep offsets, not pointers, once the copy is gone. */
    out->val = (const uint8_t *)(size_t)(out->val - b);
    out->hdr = NULL;
  }
  free(b);
  return r;
}

Test(der, reads_short_form_length) {
  static const uint8_t b[] = {0x04, 0x03, 'a', 'b', 'c'};
  portls__der_tlv t;
  cr_assert_eq(read_one(b, sizeof(b), &t), 0);
  cr_assert_eq(t.tag, PORTLS__DER_OCTET_STRING);
  cr_assert_eq(t.len, 3);
  cr_assert_eq(t.hdr_len, 2);
}

Test(der, reads_long_form_lengths_up_to_four_octets) {
  uint8_t *b = calloc(1, 6 + 0x10000);
  portls__der_tlv t;
  b[0] = 0x04;
  b[1] = 0x81;
  b[2] = 0x80;
  cr_assert_eq(read_one(b, 3 + 0x80, &t), 0);
  cr_assert_eq(t.len, 0x80);
  b[1] = 0x82;
  b[2] = 0x01;
  b[3] = 0x00;
  cr_assert_eq(read_one(b, 4 + 0x100, &t), 0);
  cr_assert_eq(t.len, 0x100);
  b[1] = 0x83;
  b[2] = 0x01;
  b[3] = 0x00;
  b[4] = 0x00;
  cr_assert_eq(read_one(b, 5 + 0x10000, &t), 0);
  cr_assert_eq(t.len, 0x10000);
  free(b);
  /* Four length octets parse; the value does not fit here, so it fails
   * on the bounds check, not on the form. */
  {
    static const uint8_t big[] = {0x04, 0x84, 0x01, 0x00, 0x00, 0x00};
    cr_assert_eq(read_one(big, sizeof(big), &t), -1);
  }
}

Test(der, rejects_indefinite_length) {
  static const uint8_t b[] = {0x30, 0x80, 0x04, 0x00, 0x00, 0x00};
  portls__der_tlv t;
  cr_assert_eq(read_one(b, sizeof(b), &t), -1);
}

Test(der, rejects_more_than_four_length_octets) {
  static const uint8_t b[] = {0x04, 0x85, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00};
  portls__der_tlv t;
  cr_assert_eq(read_one(b, sizeof(b), &t), -1);
}

Test(der, rejects_non_minimal_lengths) {
  static const uint8_t long_for_short[] = {0x04, 0x81, 0x05, 1, 2, 3, 4, 5};
  static const uint8_t leading_zero[] = {0x04, 0x82, 0x00, 0x85, 0};
  portls__der_tlv t;
  cr_assert_eq(read_one(long_for_short, sizeof(long_for_short), &t), -1);
  cr_assert_eq(read_one(leading_zero, sizeof(leading_zero), &t), -1);
  /* The boundary: 127 still fits the short form, 128 is the first long one. */
  uint8_t edge[3 + 0x80] = {0x04, 0x81, 0x7F};
  cr_assert_eq(read_one(edge, 3 + 0x7F, &t), -1);
  edge[2] = 0x80;
  cr_assert_eq(read_one(edge, 3 + 0x80, &t), 0);
  cr_assert_eq(t.len, 0x80);
}

Test(der, rejects_length_past_the_end) {
  static const uint8_t b[] = {0x04, 0x05, 1, 2, 3, 4};
  static const uint8_t hdr_only[] = {0x04};
  static const uint8_t long_hdr[] = {0x04, 0x82, 0x01};
  portls__der_tlv t;
  cr_assert_eq(read_one(b, sizeof(b), &t), -1);
  cr_assert_eq(read_one(hdr_only, sizeof(hdr_only), &t), -1);
  cr_assert_eq(read_one(long_hdr, sizeof(long_hdr), &t), -1);
}

Test(der, reads_high_tag_numbers_and_rejects_non_minimal_ones) {
  static const uint8_t high[] = {0x9F, 0x81, 0x00, 0x01, 0xAA}; /* [128] */
  static const uint8_t low_in_high[] = {0x9F, 0x1E, 0x00};      /* [30] belongs in one octet */
  static const uint8_t padded[] = {0x9F, 0x80, 0x81, 0x00, 0x00};
  static const uint8_t too_long[] = {0x9F, 0x81, 0x81, 0x81, 0x81, 0x01, 0x00};
  portls__der_tlv t;
  cr_assert_eq(read_one(high, sizeof(high), &t), 0);
  cr_assert_eq(t.tag, PORTLS__DER_TAG(PORTLS__DER_CLASS_CONTEXT, 0, 128));
  cr_assert_eq(t.len, 1);
  cr_assert_eq(read_one(low_in_high, sizeof(low_in_high), &t), -1);
  cr_assert_eq(read_one(padded, sizeof(padded), &t), -1);
  cr_assert_eq(read_one(too_long, sizeof(too_long), &t), -1);
}

Test(der, rejects_end_of_contents) {
  static const uint8_t b[] = {0x00, 0x00};
  portls__der_tlv t;
  cr_assert_eq(read_one(b, sizeof(b), &t), -1);
}

Test(der, expect_optional_enter_and_finish_walk_a_sequence) {
  /* SEQUENCE { [0] { INTEGER 2 }, INTEGER 5, BOOLEAN TRUE } */
  static const uint8_t b[] = {0x30, 0x0B, 0xA0, 0x03, 0x02, 0x01, 0x02,
                              0x02, 0x01, 0x05, 0x01, 0x01, 0xFF};
  uint8_t *p = exact(b, sizeof(b));
  portls__der d, seq;
  portls__der_tlv t;
  long v;
  int flag;

  portls__der_init(&d, p, sizeof(b));
  cr_assert_eq(portls__der_enter(&d, PORTLS__DER_SEQUENCE, &seq), 0);
  cr_assert_eq(portls__der_finish(&d), 0);
  cr_assert_eq(portls__der_optional(&seq, PORTLS__DER_CTX_CONS(1), &t), 0);
  cr_assert_eq(portls__der_optional(&seq, PORTLS__DER_CTX_CONS(0), &t), 1);
  cr_assert_eq(portls__der_expect(&seq, PORTLS__DER_BOOLEAN, &t), -1, "wrong tag must not move");
  cr_assert_eq(portls__der_expect(&seq, PORTLS__DER_INTEGER, &t), 0);
  cr_assert_eq(portls__der_get_long(&t, &v), 0);
  cr_assert_eq(v, 5);
  cr_assert_eq(portls__der_finish(&seq), -1, "BOOLEAN still unread");
  cr_assert_eq(portls__der_expect(&seq, PORTLS__DER_BOOLEAN, &t), 0);
  cr_assert_eq(portls__der_get_bool(&t, &flag), 0);
  cr_assert_eq(flag, 1);
  cr_assert_eq(portls__der_finish(&seq), 0);
  cr_assert_eq(portls__der_optional(&seq, PORTLS__DER_BOOLEAN, &t), 0, "at end: absent");
  cr_assert_eq(portls__der_read(&seq, &t), -1);
  free(p);
}

Test(der, enter_requires_a_constructed_tag) {
  static const uint8_t b[] = {0x10, 0x00}; /* SEQUENCE in primitive form */
  uint8_t *p = exact(b, sizeof(b));
  portls__der d, in;
  portls__der_init(&d, p, sizeof(b));
  cr_assert_eq(portls__der_enter(&d, PORTLS__DER_SEQUENCE, &in), -1);
  free(p);
}

Test(der, parse_one_rejects_trailing_garbage) {
  static const uint8_t b[] = {0x05, 0x00, 0x00};
  uint8_t *p = exact(b, sizeof(b));
  portls__der_tlv t;
  cr_assert_eq(portls__der_parse_one(p, 2, &t), 0);
  cr_assert_eq(portls__der_parse_one(p, 3, &t), -1);
  free(p);
}

Test(der, check_tree_bounds_nesting_depth) {
  enum { DEPTH = 60 }; /* keeps every length in the short form */
  uint8_t b[2 * DEPTH];
  for (size_t i = 0; i < DEPTH; i++) {
    b[2 * i] = 0x30;
    b[2 * i + 1] = (uint8_t)(2 * (DEPTH - i - 1));
  }
  cr_assert_eq(portls__der_check_tree(b, sizeof(b), DEPTH), 0);
  cr_assert_eq(portls__der_check_tree(b, sizeof(b), DEPTH - 2), -1);
  b[2 * DEPTH - 1] = 1; /* innermost length now points past the end */
  cr_assert_eq(portls__der_check_tree(b, sizeof(b), DEPTH), -1);
}

Test(der, boolean_must_be_00_or_ff) {
  portls__der_tlv t = {PORTLS__DER_BOOLEAN, NULL, 2, (const uint8_t *)"\x01", 1};
  int v;
  cr_assert_eq(portls__der_get_bool(&t, &v), -1);
  t.val = (const uint8_t *)"\x00";
  cr_assert_eq(portls__der_get_bool(&t, &v), 0);
  cr_assert_eq(v, 0);
  t.len = 2;
  cr_assert_eq(portls__der_get_bool(&t, &v), -1);
}

Test(der, integers_must_be_minimal) {
  portls__der_tlv t = {PORTLS__DER_INTEGER, NULL, 2, NULL, 0};
  long v;
  cr_assert_eq(portls__der_check_integer(&t), -1, "empty");
  t.val = (const uint8_t *)"\x00\x7F";
  t.len = 2;
  cr_assert_eq(portls__der_check_integer(&t), -1, "redundant 00");
  t.val = (const uint8_t *)"\xFF\x80";
  cr_assert_eq(portls__der_check_integer(&t), -1, "redundant FF");
  t.val = (const uint8_t *)"\x00\x80";
  cr_assert_eq(portls__der_get_long(&t, &v), 0);
  cr_assert_eq(v, 128);
  t.val = (const uint8_t *)"\xFF\x7F";
  cr_assert_eq(portls__der_get_long(&t, &v), 0);
  cr_assert_eq(v, -129);
  t.val = (const uint8_t *)"\x80";
  t.len = 1;
  cr_assert_eq(portls__der_get_long(&t, &v), 0);
  cr_assert_eq(v, -128);
}

Test(der, bit_strings_check_unused_bits) {
  portls__der_tlv t = {PORTLS__DER_BIT_STRING, NULL, 2, (const uint8_t *)"\x07\x80", 2};
  const uint8_t *bits;
  size_t n;
  unsigned unused;
  cr_assert_eq(portls__der_get_bits(&t, &bits, &n, &unused), 0);
  cr_assert_eq(n, 1);
  cr_assert_eq(unused, 7);
  t.val = (const uint8_t *)"\x07\x81";
  cr_assert_eq(portls__der_get_bits(&t, &bits, &n, &unused), -1, "nonzero unused bit");
  t.val = (const uint8_t *)"\x08\x00";
  cr_assert_eq(portls__der_get_bits(&t, &bits, &n, &unused), -1, "more than 7 unused");
  t.val = (const uint8_t *)"\x01";
  t.len = 1;
  cr_assert_eq(portls__der_get_bits(&t, &bits, &n, &unused), -1, "unused bits of nothing");
  t.val = (const uint8_t *)"\x00";
  cr_assert_eq(portls__der_get_bits(&t, &bits, &n, &unused), 0);
  cr_assert_eq(n, 0);
}

Test(der, oid_text_prints_arcs_of_any_size) {
  char buf[PORTLS__DER_OID_TEXT_MAX];
  static const uint8_t cn[] = {0x55, 0x04, 0x03};
  static const uint8_t rsa[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01};
  static const uint8_t two[] = {0x88, 0x37, 0x03}; /* 2.999.3 */
  /* 2.999.18446744073709551616.1: an arc of 2^64 */
  static const uint8_t big[] = {0x88, 0x37, 0x82, 0x80, 0x80, 0x80, 0x80,
                                0x80, 0x80, 0x80, 0x80, 0x00, 0x01};
  /* first subidentifier 2^70 + 80: 2.(2^70) */
  static const uint8_t big_first[] = {0x81, 0x80, 0x80, 0x80, 0x80, 0x80,
                                      0x80, 0x80, 0x80, 0x80, 0x50};
  cr_assert_eq(portls__der_oid_text(cn, sizeof(cn), buf, sizeof(buf)), 7);
  cr_assert_str_eq(buf, "2.5.4.3");
  portls__der_oid_text(rsa, sizeof(rsa), buf, sizeof(buf));
  cr_assert_str_eq(buf, "1.2.840.113549.1.1.1");
  portls__der_oid_text(two, sizeof(two), buf, sizeof(buf));
  cr_assert_str_eq(buf, "2.999.3");
  portls__der_oid_text(big, sizeof(big), buf, sizeof(buf));
  cr_assert_str_eq(buf, "2.999.18446744073709551616.1");
  portls__der_oid_text(big_first, sizeof(big_first), buf, sizeof(buf));
  cr_assert_str_eq(buf, "2.1180591620717411303424");
  cr_assert(portls__der_oid_equals(cn, sizeof(cn), "2.5.4.3"));
  cr_assert(!portls__der_oid_equals(cn, sizeof(cn), "2.5.4.30"));
}

Test(der, oid_rejects_padding_truncation_and_small_buffers) {
  char buf[PORTLS__DER_OID_TEXT_MAX];
  static const uint8_t padded[] = {0x55, 0x80, 0x04};
  static const uint8_t truncated[] = {0x55, 0x84};
  static const uint8_t cn[] = {0x55, 0x04, 0x03};
  cr_assert_eq(portls__der_oid_text(padded, sizeof(padded), buf, sizeof(buf)), -1);
  cr_assert_eq(portls__der_oid_text(truncated, sizeof(truncated), buf, sizeof(buf)), -1);
  cr_assert_eq(portls__der_oid_text(cn, 0, buf, sizeof(buf)), -1);
  cr_assert_eq(portls__der_oid_text(cn, sizeof(cn), buf, 7), -1, "no room for the NUL");
  cr_assert_eq(portls__der_oid_text(cn, sizeof(cn), buf, 8), 7);
}

Test(der, never_reads_outside_every_two_and_three_byte_input) {
  /* Exhaustive over two bytes and over three bytes with a long-form first
   * length octet: every header shape the reader can meet that short. */
  for (unsigned a = 0; a < 256; a++) {
    for (unsigned b = 0; b < 256; b++) {
      uint8_t in[2] = {(uint8_t)a, (uint8_t)b};
      uint8_t *p = exact(in, 2);
      portls__der d;
      portls__der_tlv t;
      portls__der_init(&d, p, 2);
      if (portls__der_read(&d, &t) == 0) cr_assert(t.val + t.len <= p + 2);
      portls__der_check_tree(p, 2, 4);
      free(p);
      for (unsigned c = 0; c < 256; c += 17) {
        uint8_t in3[3] = {(uint8_t)a, (uint8_t)(0x80 | (b & 7)), (uint8_t)c};
        p = exact(in3, 3);
        portls__der_init(&d, p, 3);
        if (portls__der_read(&d, &t) == 0) cr_assert(t.val + t.len <= p + 3);
        free(p);
      }
    }
  }
}

/* ---------------------------------------------------------------------- */

static char *b64(const char *s) {
  size_t n = strlen(s);
  char *out = malloc(portls__base64_encoded_len(n) + 1);
  cr_assert_not_null(out);
  cr_assert_eq(portls__base64_encode(s, n, out), portls__base64_encoded_len(n));
  return out;
}

static int unb64(const char *s, unsigned flags, char *out, size_t *n) {
  uint8_t buf[64];
  size_t len = strlen(s);
  char *in = (char *)exact(s, len);
  int r;
  cr_assert_leq(portls__base64_decoded_max(len), sizeof(buf));
  r = portls__base64_decode(in, len, buf, n, flags);
  free(in);
  if (r == 0) {
    memcpy(out, buf, *n);
    out[*n] = '\0';
  }
  return r;
}

Test(base64, encodes_rfc4648_vectors) {
  static const char *const vec[][2] = {{"", ""},
                                       {"f", "Zg=="},
                                       {"fo", "Zm8="},
                                       {"foo", "Zm9v"},
                                       {"foob", "Zm9vYg=="},
                                       {"fooba", "Zm9vYmE="},
                                       {"foobar", "Zm9vYmFy"}};
  for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
    char *e = b64(vec[i][0]);
    char d[64];
    size_t n;
    cr_assert_str_eq(e, vec[i][1]);
    cr_assert_eq(unb64(vec[i][1], 0, d, &n), 0);
    cr_assert_eq(n, strlen(vec[i][0]));
    cr_assert_str_eq(d, vec[i][0]);
    free(e);
  }
}

Test(base64, decodes_all_byte_values_round_trip) {
  uint8_t in[256], out[256 + 3];
  char text[345];
  size_t n;
  for (size_t i = 0; i < 256; i++) in[i] = (uint8_t)i;
  for (size_t len = 0; len <= 256; len += 37) {
    size_t tl = portls__base64_encode(in, len, text);
    cr_assert_eq(portls__base64_decode(text, tl, out, &n, 0), 0);
    cr_assert_eq(n, len);
    cr_assert(memcmp(in, out, len) == 0);
  }
}

Test(base64, decode_is_strict) {
  char d[64];
  size_t n;
  cr_assert_eq(unb64("Zm9v!", 0, d, &n), -1, "bad character");
  cr_assert_eq(unb64("Zm9", 0, d, &n), -1, "unpadded tail");
  cr_assert_eq(unb64("Zg=", 0, d, &n), -1, "short padding");
  cr_assert_eq(unb64("Z===", 0, d, &n), -1, "too much padding");
  cr_assert_eq(unb64("Zh==", 0, d, &n), -1, "nonzero pad bits");
  cr_assert_eq(unb64("Zm9=", 0, d, &n), -1, "nonzero pad bits");
  cr_assert_eq(unb64("Zg==Zg==", 0, d, &n), -1, "data after padding");
  cr_assert_eq(unb64("Zg=vZg==", 0, d, &n), -1, "data after padding in the same group");
  cr_assert_eq(unb64("Zg=a", 0, d, &n), -1, "data inside padding");
  cr_assert_eq(unb64("Zm 9v", 0, d, &n), -1, "space without the flag");
  cr_assert_eq(unb64("Zm-_", 0, d, &n), -1, "url alphabet");
}

Test(base64, skips_whitespace_only_when_asked) {
  char d[64];
  size_t n;
  cr_assert_eq(unb64(" Zm9v\r\nYmFy\n", PORTLS__BASE64_SKIP_SPACE, d, &n), 0);
  cr_assert_str_eq(d, "foobar");
  cr_assert_eq(unb64("Zg==\n", PORTLS__BASE64_SKIP_SPACE, d, &n), 0);
  cr_assert_str_eq(d, "f");
  cr_assert_eq(unb64("Zg= =", PORTLS__BASE64_SKIP_SPACE, d, &n), 0, "space inside padding");
  cr_assert_eq(unb64("Zg==\nx", PORTLS__BASE64_SKIP_SPACE, d, &n), -1);
}
