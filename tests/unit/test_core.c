/* Unit tests of core pieces with no network: error table, byte buffers, IP
 * address parsing and formatting (Node's textual forms), protocol lists. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "net/addr.h"
#include "portls/platform.h"
#include "portls/portls.h"
#include "util/util.h"

int portls__protocols_to_wire(const portls_protocols *p, const char *what, portls__bytes *out,
                              portls_error *err);

Test(errors, every_code_has_a_distinct_name_and_a_message) {
  static const int codes[] = {
#define XX(id, val, name, msg) PORTLS_##id,
      PORTLS_ERRNO_MAP(XX)
#undef XX
  };
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    cr_assert_lt(codes[i], 0);
    if (codes[i] != PORTLS_EUNKNOWN)
      cr_assert_str_neq(portls_err_name(codes[i]), "UNKNOWN", "code %d", codes[i]);
    cr_assert_gt(strlen(portls_strerror(codes[i])), 0);
    for (size_t j = 0; j < i; j++) {
      cr_assert_neq(codes[i], codes[j]);
      cr_assert_str_neq(portls_err_name(codes[i]), portls_err_name(codes[j]));
    }
  }
}

Test(errors, names_are_nodes_and_openssls) {
  cr_assert_str_eq(portls_err_name(PORTLS_ECONNREFUSED), "ECONNREFUSED");
  cr_assert_str_eq(portls_err_name(PORTLS_ECERT_HAS_EXPIRED), "CERT_HAS_EXPIRED");
  cr_assert_str_eq(portls_err_name(PORTLS_EHANDSHAKE_TIMEOUT), "ERR_TLS_HANDSHAKE_TIMEOUT");
  cr_assert_str_eq(portls_err_name(PORTLS_ECERT_ALTNAME_INVALID), "ERR_TLS_CERT_ALTNAME_INVALID");
  cr_assert_str_eq(portls_err_name(PORTLS_EAI_NONAME), "ENOTFOUND");
  cr_assert_str_eq(portls_err_name(12345), "UNKNOWN");
  cr_assert(portls_err_is_verify(PORTLS_EDEPTH_ZERO_SELF_SIGNED_CERT));
  cr_assert_not(portls_err_is_verify(PORTLS_ECONNRESET));
}

/* A peer's alert is -200 minus its AlertDescription, under Node's name;
 * protocol_version and no_renegotiation are their failures' own codes. */
Test(errors, alerts_have_nodes_names) {
  cr_assert_eq(portls__alert_code(40), PORTLS_EALERT_HANDSHAKE_FAILURE);
  cr_assert_eq(PORTLS_EALERT_HANDSHAKE_FAILURE, -240);
  cr_assert_str_eq(portls_err_name(portls__alert_code(40)),
                   "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE");
  cr_assert_str_eq(portls_err_name(portls__alert_code(116)),
                   "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED");
  cr_assert_str_eq(portls_err_name(portls__alert_code(48)), "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA");
  cr_assert_eq(portls__alert_code(70), PORTLS_EVERSION);
  cr_assert_eq(portls__alert_code(100), PORTLS_ERENEG_DISABLED);
  cr_assert_eq(portls__alert_code(0), PORTLS_ETLS_ALERT, "close_notify is no failure's name");
  cr_assert_eq(portls__alert_code(200), PORTLS_ETLS_ALERT);
  cr_assert_eq(portls__alert_code(-1), PORTLS_ETLS_ALERT);
  cr_assert_eq(portls__alert_code(999), PORTLS_ETLS_ALERT);
  cr_assert_not(portls_err_is_verify(PORTLS_EALERT_BAD_CERTIFICATE));
  cr_assert_str_eq(portls_err_name(PORTLS_ENO_CERT), "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE");
}

Test(errors, err_helper_formats_and_returns_the_code) {
  portls_error e;
  cr_assert_eq(portls__err(&e, PORTLS_EINVAL, "key[%d]: %s", 2, "empty"), PORTLS_EINVAL);
  cr_assert_eq(e.code, PORTLS_EINVAL);
  cr_assert_str_eq(e.message, "key[2]: empty");
  portls__err(&e, PORTLS_ENOMEM, NULL);
  cr_assert_str_eq(e.message, "out of memory");
  cr_assert_eq(portls__err(NULL, PORTLS_EIO, "ignored"), PORTLS_EIO);
}

Test(bytes, append_consume_and_printf) {
  portls__bytes b = {0};
  cr_assert_eq(portls__bytes_append(&b, "hello ", 6), 0);
  cr_assert_eq(portls__bytes_printf(&b, "%s %d", "world", 42), 0);
  cr_assert_eq(b.len, 14);
  cr_assert_eq(memcmp(b.data, "hello world 42", 14), 0);
  portls__bytes_consume(&b, 6);
  cr_assert_eq(memcmp(b.data, "world 42", 8), 0);
  char big[1000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  cr_assert_eq(portls__bytes_printf(&b, "%s", big), 0);
  cr_assert_eq(b.len, 8 + 999);
  portls__bytes_consume(&b, 5000);
  cr_assert_eq(b.len, 0);
  portls__bytes_free(&b);
  cr_assert_null(b.data);
}

static void roundtrip(const char *in, int family, const char *canonical) {
  uint8_t ip[16];
  cr_assert_eq(portls__ip_parse(in, ip), family, "parse %s", in);
  char out[64];
  portls__ip_format(family, ip, out, sizeof out);
  cr_assert_str_eq(out, canonical, "format of %s", in);
}

Test(addr, formats_addresses_as_node_does) {
  roundtrip("127.0.0.1", 4, "127.0.0.1");
  roundtrip("0.0.0.0", 4, "0.0.0.0");
  roundtrip("255.255.255.255", 4, "255.255.255.255");
  roundtrip("::1", 6, "::1");
  roundtrip("::", 6, "::");
  roundtrip("0:0:0:0:0:0:0:1", 6, "::1");
  roundtrip("2001:DB8:0:0:1:0:0:1", 6, "2001:db8::1:0:0:1");
  roundtrip("2001:db8::", 6, "2001:db8::");
  roundtrip("fe80::1:2", 6, "fe80::1:2");
  roundtrip("1:0:1:0:1:0:1:0", 6, "1:0:1:0:1:0:1:0");
  roundtrip("::ffff:127.0.0.1", 6, "::ffff:127.0.0.1");
  roundtrip("2001:4860:a005::68", 6, "2001:4860:a005::68");
}

Test(addr, rejects_what_is_not_an_address) {
  static const char *bad[] = {"",           "localhost", "1.2.3",
                              "1.2.3.4.5",  "256.1.1.1", "1..2.3",
                              "1.2.3.4.",   ":::",       "1:2:3:4:5:6:7:8:9",
                              "1::2::3",    "12345::",   "::g",
                              ":1:2",       "1:2:",      "1.2.3.04a",
                              "example.com"};
  uint8_t ip[16];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    cr_assert_eq(portls__ip_parse(bad[i], ip), 0, "accepted %s", bad[i]);
}

Test(protocols, names_become_the_length_prefixed_wire_form) {
  const char *names[] = {"h2", "http/1.1"};
  portls_protocols p = {.names = names, .count = 2};
  portls__bytes w = {0};
  cr_assert_eq(portls__protocols_to_wire(&p, "ALPNProtocols", &w, NULL), 0);
  cr_assert_eq(w.len, 12);
  cr_assert_eq(memcmp(w.data, "\x02h2\x08http/1.1", 12), 0);
  portls__bytes_free(&w);
}

Test(protocols, malformed_wire_buffers_and_bad_names_are_rejected) {
  portls_error e;
  portls__bytes w = {0};
  portls_protocols p = {.wire = {"\x05hello\x09world", 12}};
  cr_assert_eq(portls__protocols_to_wire(&p, "ALPNProtocols", &w, &e), PORTLS_EALPN);
  cr_assert(strstr(e.message, "ALPNProtocols") != NULL);
  portls_protocols zero = {.wire = {"\x00", 1}};
  cr_assert_eq(portls__protocols_to_wire(&zero, "NPNProtocols", &w, &e), PORTLS_EALPN);
  const char *names[] = {"ok", ""};
  portls_protocols empty_name = {.names = names, .count = 2};
  cr_assert_eq(portls__protocols_to_wire(&empty_name, "ALPNProtocols", &w, &e), PORTLS_EALPN);
  cr_assert_eq(w.len, 0);
  portls_protocols good = {.wire = {"\x05hello\x05world", 12}};
  cr_assert_eq(portls__protocols_to_wire(&good, "ALPNProtocols", &w, &e), 0);
  cr_assert_eq(w.len, 12);
  portls__bytes_free(&w);
}

Test(library, reports_backend_platform_and_capabilities_consistently) {
  cr_assert_str_eq(portls_version_string(), "0.1.0");
  cr_assert_gt(strlen(portls_backend_name()), 0);
  cr_assert_gt(strlen(portls_backend_version()), 0);
  cr_assert_gt(strlen(portls_platform_name()), 0);
  uint64_t caps = portls_capabilities();
  for (int c = 0; c < PORTLS_CAP_COUNT_; c++) {
    cr_assert_not_null(portls_capability_name((portls_cap)c));
    cr_assert_eq(portls_has_capability((portls_cap)c), (int)((caps >> c) & 1));
  }
  cr_assert_null(portls_capability_name(PORTLS_CAP_COUNT_));
  cr_assert_eq(portls_has_capability((portls_cap)-1), 0);
  cr_assert(portls_has_capability(PORTLS_CAP_TLS1_2), "every backend speaks TLS 1.2");
}

#include "tls/sni.h"

Test(sni_match, node_hostname_patterns) {
  static const struct {
    const char *pattern, *name;
    int match;
  } cases[] = {
      {"example.com", "example.com", 1},
      {"example.com", "EXAMPLE.Com", 1},
      {"example.com", "www.example.com", 0},
      {"*.example.com", "a.example.com", 1},
      {"*.example.com", "A.EXAMPLE.COM", 1},
      {"*.example.com", "a.b.example.com", 0},
      {"*.example.com", "example.com", 0},
      {"*.example.com", ".example.com", 1},
      {"b*z.example.com", "buzz.example.com", 1},
      {"b*z.example.com", "bz.example.com", 1},
      {"b*z.example.com", "buz.z.example.com", 0},
      {"*", "localhost", 1},
      {"*", "a.b", 0},
      {"a.*.c", "a.b.c", 1},
      {"a.*.c", "a.b.b.c", 0},
      {"exa?ple.com", "example.com", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    cr_assert_eq(portls__sni_match(cases[i].pattern, cases[i].name), cases[i].match, "%s ~ %s",
                 cases[i].pattern, cases[i].name);
}

/* The platform's command line, which core hashes into Node's default
 * sessionIdContext: this program's arguments, joined by spaces (compared
 * with /proc read here, where there is one). */
Test(platform, command_line_is_the_programs_arguments_joined_by_spaces) {
  if (portls__platform.command_line == NULL)
    cr_skip_test("platform '%s' has no command line", portls__platform.name);
  FILE *f = fopen("/proc/self/cmdline", "rb");
  if (f == NULL) cr_skip_test("no /proc on this system");
  char want[4096], buf[4096];
  size_t w = fread(want, 1, sizeof want, f);
  fclose(f);
  cr_assert_gt(w, 0);
  w--; /* the last argument's NUL */
  for (size_t i = 0; i < w; i++)
    if (want[i] == '\0') want[i] = ' ';
  size_t n = portls__platform.command_line(buf, sizeof buf);
  cr_assert_eq(n, w);
  cr_assert_eq(memcmp(buf, want, n), 0, "%.*s / %.*s", (int)n, buf, (int)w, want);
  cr_assert_eq(portls__platform.command_line(buf, 4), 4, "cut at the buffer's size");
}
