/* enableTrace's renderer (core/tls/observe.c): one line per message, from
 * hand-built messages; truncated and malformed ones never read past their
 * end (ASan watches) and still give a line. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "portls/portls.h"
#include "tls/observe.h"

static const char *fmt(int sent, int type, const uint8_t *msg, size_t len) {
  static char line[512];
  /* An exact-size copy, so that reading one byte too far is an ASan error. */
  uint8_t *copy = NULL;
  if (msg != NULL) {
    copy = malloc(len ? len : 1);
    memcpy(copy, msg, len);
  }
  size_t n = portls__trace_format(line, sizeof line, sent, type, copy, len);
  cr_assert_eq(n, strlen(line));
  free(copy);
  return line;
}

/* A TLS 1.3 ClientHello: legacy version TLS 1.2, 3 suites, SNI "example.com",
 * supported_versions {1.3, 1.2}. */
static const uint8_t client_hello[] = {
    1,    0,    0,    76, /* ClientHello, length 76 */
    0x03, 0x03,           /* legacy_version */
    1,    2,    3,    4,    5,    6,    7,    8,    9,  10,  11,  12,  13,  14,  15,  16,  17,
    18,   19,   20,   21,   22,   23,   24,   25,   26, 27,  28,  29,  30,  31,  32, /* random */
    0,                                              /* session id */
    0,    6,    0x13, 0x01, 0x13, 0x02, 0xc0, 0x2f, /* 3 suites */
    1,    0,                                        /* compression */
    0,    29,                                       /* extensions: 29 bytes */
    0,    0,    0,    16,   0,    14,   0,    0,    11, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.',
    'c',  'o',  'm',                                    /* server_name */
    0,    43,   0,    5,    4,    3,    4,    3,    3}; /* supported_versions */

/* A TLS 1.3 ServerHello: TLS_AES_128_GCM_SHA256, supported_versions 1.3. */
static const uint8_t server_hello[] = {
    2,    0,    0, 46, 0x03, 0x03, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
    9,    9,    9, 9,  9,    9,    9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, /* random */
    0,                                                                    /* session id */
    0x13, 0x01, 0,                                                        /* suite, compression */
    0,    6,    0, 43, 0,    2,    3, 4};                                 /* supported_versions */

Test(trace_format, client_hello_names_the_highest_version_the_suites_and_sni) {
  cr_assert_str_eq(fmt(1, 22, client_hello, sizeof client_hello),
                   "-> ClientHello len=76, version TLSv1.3, 3 suites, sni example.com");
}

Test(trace_format, server_hello_names_the_version_from_supported_versions_and_the_cipher) {
  cr_assert_str_eq(fmt(0, 22, server_hello, sizeof server_hello),
                   "<- ServerHello len=46, version TLSv1.3, cipher TLS_AES_128_GCM_SHA256");
}

Test(trace_format, a_tls12_server_hello_has_its_legacy_version_and_openssl_name) {
  uint8_t m[sizeof server_hello - 8];
  memcpy(m, server_hello, sizeof m);
  m[3] = 38;
  m[4 + 2 + 32 + 1] = 0xc0, m[4 + 2 + 32 + 2] = 0x2f;
  cr_assert_str_eq(fmt(0, 22, m, sizeof m),
                   "<- ServerHello len=38, version TLSv1.2, cipher ECDHE-RSA-AES128-GCM-SHA256");
}

Test(trace_format, hello_retry_request_is_named_by_its_random) {
  static const uint8_t hrr[32] = {0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
                                  0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
                                  0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};
  uint8_t m[sizeof server_hello];
  memcpy(m, server_hello, sizeof m);
  memcpy(m + 6, hrr, 32);
  cr_assert(strncmp(fmt(0, 22, m, sizeof m), "<- HelloRetryRequest len=46, version TLSv1.3", 44) ==
            0);
}

Test(trace_format, other_messages_alerts_and_change_cipher_spec) {
  static const uint8_t fin[] = {20, 0, 0, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  cr_assert_str_eq(fmt(1, 22, fin, sizeof fin), "-> Finished len=12");
  static const uint8_t ku[] = {24, 0, 0, 1, 1};
  cr_assert_str_eq(fmt(0, 22, ku, sizeof ku), "<- KeyUpdate len=1, update_requested");
  static const uint8_t odd[] = {99, 0, 0, 0};
  cr_assert_str_eq(fmt(0, 22, odd, sizeof odd), "<- handshake type 99 len=0");
  static const uint8_t ccs[] = {1};
  cr_assert_str_eq(fmt(1, 20, ccs, 1), "-> ChangeCipherSpec");
  static const uint8_t alert[] = {2, 40}, warn[] = {1, 0}, unknown[] = {2, 201};
  cr_assert_str_eq(fmt(0, 21, alert, 2), "<- Alert fatal handshake_failure");
  cr_assert_str_eq(fmt(1, 21, warn, 2), "-> Alert warning close_notify");
  cr_assert_str_eq(fmt(1, 21, unknown, 2), "-> Alert fatal 201");
  cr_assert_str_eq(fmt(0, 22, NULL, 37), "<- encrypted handshake record len=37");
  cr_assert_str_eq(fmt(0, 21, NULL, 26), "<- encrypted alert len=26");
}

Test(trace_format, truncated_and_malformed_hellos_still_give_a_line_within_bounds) {
  for (size_t n = 0; n <= sizeof client_hello; n++) {
    const char *l = fmt(1, 22, client_hello, n);
    cr_assert(strncmp(l, "-> ", 3) == 0, "%zu: %s", n, l);
  }
  for (size_t n = 0; n <= sizeof server_hello; n++) fmt(0, 22, server_hello, n);
  /* Lengths inside that point past the end. */
  uint8_t m[sizeof client_hello];
  for (size_t i = 4; i < sizeof m; i++) {
    memcpy(m, client_hello, sizeof m);
    m[i] = 0xff;
    fmt(1, 22, m, sizeof m);
  }
  /* An SNI with control bytes is shown without them. */
  memcpy(m, client_hello, sizeof m);
  m[4 + 2 + 32 + 1 + 8 + 2 + 2 + 9] = '\n';
  cr_assert(strstr(fmt(1, 22, m, sizeof m), "sni ?xample.com") != NULL);
}

Test(trace_format, a_small_buffer_cuts_the_line_and_stays_terminated) {
  char small[12];
  size_t n = portls__trace_format(small, sizeof small, 1, 22, client_hello, sizeof client_hello);
  cr_assert_eq(n, strlen(small));
  cr_assert_str_eq(small, "-> ClientHe");
  cr_assert_eq(portls__trace_format(small, 0, 1, 22, client_hello, sizeof client_hello), 0);
}
