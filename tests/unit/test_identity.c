/* portls_check_server_identity against Node's tls.checkServerIdentity.
 *
 * Every expected reason below was produced by Node v20's own
 * tls.checkServerIdentity on the same host and certificate object (subject
 * {CN: ...} and subjectaltname as written), except in the group
 * wildcard_never_matches_empty_label, where portls is deliberately
 * stricter. NULL means Node accepted the name.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "portls/cert.h"

typedef struct id_case {
  const char *host;
  const char *san;    /* subjectaltname, NULL when absent */
  const char *cn[3];  /* subject CNs, NULL-terminated */
  const char *reason; /* NULL: the name matches */
} id_case;

/* Node's own test/parallel/test-tls-check-server-identity.js, case for case
 * (its false/null/undefined hosts become the strings Node turns them into). */
static const id_case node_suite[] = {
    {"false", NULL, {"a.com", NULL}, "Host: false. is not cert's CN: a.com"},
    {"null", NULL, {"a.com", NULL}, "Host: null. is not cert's CN: a.com"},
    {"undefined", NULL, {"a.com", NULL}, "Host: undefined. is not cert's CN: a.com"},
    {"a.com", NULL, {"a.com", NULL}, NULL},
    {"a.com", NULL, {"A.COM", NULL}, NULL},
    {"a.com", NULL, {"b.com", NULL}, "Host: a.com. is not cert's CN: b.com"},
    {"a.com", NULL, {"a.com.", NULL}, NULL},
    {"a.com", NULL, {".a.com", NULL}, "Host: a.com. is not cert's CN: .a.com"},
    {"8.8.8.8", NULL, {"8.8.8.8", NULL}, "IP: 8.8.8.8 is not in the cert's list: "},
    {"8.8.8.8", "DNS:8.8.8.8", {"8.8.8.8", NULL}, "IP: 8.8.8.8 is not in the cert's list: "},
    {"8.8.8.8",
     "URI:http://8.8.8.8/",
     {"8.8.8.8", NULL},
     "IP: 8.8.8.8 is not in the cert's list: "},
    {"8.8.8.8", "IP Address:8.8.8.8", {"8.8.8.8", NULL}, NULL},
    {"8.8.8.8",
     "IP Address:8.8.8.0/24",
     {"8.8.8.8", NULL},
     "IP: 8.8.8.8 is not in the cert's list: "},
    {"b.a.com", NULL, {"*.a.com", NULL}, NULL},
    {"ba.com", NULL, {"*.a.com", NULL}, "Host: ba.com. is not cert's CN: *.a.com"},
    {"\012.b.com", NULL, {"*n.b.com", NULL}, "Host: \012.b.com. is not cert's CN: *n.b.com"},
    {"b.a.com",
     "DNS:omg.com",
     {"*.a.com", NULL},
     "Host: b.a.com. is not in the cert's altnames: DNS:omg.com"},
    {"b.a.com", NULL, {"b*b.a.com", NULL}, "Host: b.a.com. is not cert's CN: b*b.a.com"},
    {"a.com", NULL, {NULL}, "Cert does not contain a DNS name"},
    {"a.com", "DNS:a.com", {NULL}, NULL},
    {"a.b.a.com", "URI:http://a.b.a.com/", {NULL}, "Cert does not contain a DNS name"},
    {"foo.com", NULL, {"foo.com", "bar.com", NULL}, NULL},
    {"a.com", "DNS:*", {"b.com", NULL}, "Host: a.com. is not in the cert's altnames: DNS:*"},
    {"a.com",
     "DNS:*.com",
     {"b.com", NULL},
     "Host: a.com. is not in the cert's altnames: DNS:*.com"},
    {"a.co.uk", "DNS:*.co.uk", {"b.com", NULL}, NULL},
    {"a.com",
     "DNS:*.a.com",
     {"a.com", NULL},
     "Host: a.com. is not in the cert's altnames: DNS:*.a.com"},
    {"a.com",
     "DNS:*.a.com",
     {"b.com", NULL},
     "Host: a.com. is not in the cert's altnames: DNS:*.a.com"},
    {"a.com", "DNS:a.com", {"b.com", NULL}, NULL},
    {"a.com", "DNS:A.COM", {"b.com", NULL}, NULL},
    {"a.com", "DNS:*.a.com", {NULL}, "Host: a.com. is not in the cert's altnames: DNS:*.a.com"},
    {"b.a.com", "DNS:*.a.com", {NULL}, NULL},
    {"c.b.a.com",
     "DNS:*.a.com",
     {NULL},
     "Host: c.b.a.com. is not in the cert's altnames: DNS:*.a.com"},
    {"b.a.com", "DNS:*b.a.com", {NULL}, NULL},
    {"a-cb.a.com", "DNS:*b.a.com", {NULL}, NULL},
    {"a.b.a.com",
     "DNS:*b.a.com",
     {NULL},
     "Host: a.b.a.com. is not in the cert's altnames: DNS:*b.a.com"},
    {"a.b.a.com", "DNS:*b.a.com, DNS:a.b.a.com", {NULL}, NULL},
    {"a.b.a.com", "URI:http://a.b.a.com/", {NULL}, "Cert does not contain a DNS name"},
    {"a.b.a.com", "URI:http://*.b.a.com/", {NULL}, "Cert does not contain a DNS name"},
    {"a.b.a.com", "IP Address:127.0.0.1", {NULL}, "Cert does not contain a DNS name"},
    {"127.0.0.1", "IP Address:127.0.0.1", {NULL}, NULL},
    {"127.0.0.2",
     "IP Address:127.0.0.1",
     {NULL},
     "IP: 127.0.0.2 is not in the cert's list: 127.0.0.1"},
    {"127.0.0.1", "DNS:a.com", {NULL}, "IP: 127.0.0.1 is not in the cert's list: "},
    {"localhost",
     "DNS:a.com",
     {"localhost", NULL},
     "Host: localhost. is not in the cert's altnames: DNS:a.com"},
    {"xn--bcher-kva.example.com", NULL, {"*.example.com", NULL}, NULL},
    {"xn--bcher-kva.example.com",
     NULL,
     {"xn--*.example.com", NULL},
     "Host: xn--bcher-kva.example.com. is not cert's CN: xn--*.example.com"},
};
/* ASCII case never matters; one trailing dot on the host is dropped for
 * messages and up to two for matching, as Node's unfqdn + splitHost do. */
static const id_case case_and_dots[] = {
    {"A.COM", NULL, {"a.com", NULL}, NULL},
    {"WWW.Example.Com", "DNS:www.EXAMPLE.com", {NULL}, NULL},
    {"a.com.", NULL, {"a.com", NULL}, NULL},
    {"a.com..", NULL, {"a.com", NULL}, NULL},
    {"a.com.", "DNS:a.com.", {NULL}, NULL},
    {"a.com...", NULL, {"a.com", NULL}, "Host: a.com... is not cert's CN: a.com"},
    {"B.A.COM", "DNS:*.a.com", {NULL}, NULL},
    {"b.a.com.", "DNS:*.a.com", {NULL}, NULL},
};
/* The subject CN is consulted only when there is no DNS SAN at all; other
 * SAN types do not count. Repeated CNs behave as Node's array. */
static const id_case cn_only_without_dns_sans[] = {
    {"localhost",
     "DNS:other.example",
     {"localhost", NULL},
     "Host: localhost. is not in the cert's altnames: DNS:other.example"},
    {"localhost", "IP Address:127.0.0.1", {"localhost", NULL}, NULL},
    {"localhost", "email:a@localhost, URI:https://localhost/", {"localhost", NULL}, NULL},
    {"bar.com", NULL, {"foo.com", "bar.com", NULL}, NULL},
    {"baz.com",
     NULL,
     {"foo.com", "bar.com", NULL},
     "Host: baz.com. is not cert's CN: foo.com,bar.com"},
    {"a.com", NULL, {"", "", NULL}, "Host: a.com. is not cert's CN: ,"},
    {"a.com", NULL, {"", NULL}, "Cert does not contain a DNS name"},
    {"a.com", "", {"a.com", NULL}, NULL},
    {"127.0.0.1", NULL, {"127.0.0.1", NULL}, "IP: 127.0.0.1 is not in the cert's list: "},
};
/* "*" stands for exactly one label. */
static const id_case wildcard_one_label[] = {
    {"www.example.com", "DNS:*.example.com", {NULL}, NULL},
    {"a.b.example.com",
     "DNS:*.example.com",
     {NULL},
     "Host: a.b.example.com. is not in the cert's altnames: DNS:*.example.com"},
    {"example.com",
     "DNS:*.example.com",
     {NULL},
     "Host: example.com. is not in the cert's altnames: DNS:*.example.com"},
    {"www.example.com", NULL, {"*.example.com", NULL}, NULL},
    {"a.b.example.com",
     NULL,
     {"*.example.com", NULL},
     "Host: a.b.example.com. is not cert's CN: *.example.com"},
};
/* "*.com", "*" and friends never match anything. */
static const id_case wildcard_not_single_label_suffix[] = {
    {"a.com", "DNS:*.com", {NULL}, "Host: a.com. is not in the cert's altnames: DNS:*.com"},
    {"com", "DNS:*", {NULL}, "Host: com. is not in the cert's altnames: DNS:*"},
    {"a.com", "DNS:*", {NULL}, "Host: a.com. is not in the cert's altnames: DNS:*"},
    {"a.com", "DNS:*.", {"x", NULL}, "Host: a.com. is not in the cert's altnames: DNS:*."},
    {"a.com", NULL, {"*.com", NULL}, "Host: a.com. is not cert's CN: *.com"},
    {"ab.com", "DNS:a*.com", {NULL}, "Host: ab.com. is not in the cert's altnames: DNS:a*.com"},
    {"a.co.uk", "DNS:*.co.uk", {NULL}, NULL},
};
/* A wildcard may be part of the left-most label ("b*z"). */
static const id_case wildcard_partial_label[] = {
    {"baz.example.com", "DNS:b*z.example.com", {NULL}, NULL},
    {"bz.example.com", "DNS:b*z.example.com", {NULL}, NULL},
    {"bat.example.com",
     "DNS:b*z.example.com",
     {NULL},
     "Host: bat.example.com. is not in the cert's altnames: DNS:b*z.example.com"},
    {"foo1.example.com", "DNS:foo*.example.com", {NULL}, NULL},
    {"xfoo.example.com", "DNS:*foo.example.com", {NULL}, NULL},
    {"b.example.com",
     "DNS:b*b.example.com",
     {NULL},
     "Host: b.example.com. is not in the cert's altnames: DNS:b*b.example.com"},
};
/* No wildcard substitution inside an IDNA A-label ("xn--"). */
static const id_case wildcard_not_in_a_label[] = {
    {"xn--bcher-kva.example.com",
     "DNS:xn--*.example.com",
     {NULL},
     "Host: xn--bcher-kva.example.com. is not in the cert's altnames: DNS:xn--*.example.com"},
    {"xn--bcher-kva.example.com", "DNS:*.example.com", {NULL}, NULL},
    {"xn--bcher-kva.example.com", "DNS:xn--bcher-kva.example.com", {NULL}, NULL},
    {"fooxn--a.example.com",
     "DNS:*xn--a.example.com",
     {NULL},
     "Host: fooxn--a.example.com. is not in the cert's altnames: DNS:*xn--a.example.com"},
    {"XN--bcher-kva.example.com",
     "DNS:XN--*.example.com",
     {NULL},
     "Host: XN--bcher-kva.example.com. is not in the cert's altnames: DNS:XN--*.example.com"},
};
/* A wildcard anywhere but the left-most label, or two of them, never matches. */
static const id_case wildcard_only_leftmost[] = {
    {"a.b.com", "DNS:a.*.com", {NULL}, "Host: a.b.com. is not in the cert's altnames: DNS:a.*.com"},
    {"a.b.c.com",
     "DNS:*.*.c.com",
     {NULL},
     "Host: a.b.c.com. is not in the cert's altnames: DNS:*.*.c.com"},
    {"a.b.c.com",
     "DNS:**.b.c.com",
     {NULL},
     "Host: a.b.c.com. is not in the cert's altnames: DNS:**.b.c.com"},
    {"a.b.c.com",
     "DNS:a*b*.b.c.com",
     {NULL},
     "Host: a.b.c.com. is not in the cert's altnames: DNS:a*b*.b.c.com"},
};
/* IP hosts are compared as addresses, only against IP SANs: never DNS SANs
 * or the CN. */
static const id_case ip_only_against_ip_sans[] = {
    {"127.0.0.1",
     "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1",
     {"localhost", NULL},
     NULL},
    {"::1",
     "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1",
     {"localhost", NULL},
     NULL},
    {"0:0:0:0:0:0:0:1",
     "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1",
     {"localhost", NULL},
     NULL},
    {"0000::0001",
     "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1",
     {"localhost", NULL},
     NULL},
    {"::1.",
     "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1",
     {"localhost", NULL},
     NULL},
    {"127.0.0.1.",
     "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1",
     {"localhost", NULL},
     NULL},
    {"fe80::1%eth0", "IP Address:FE80:0:0:0:0:0:0:1", {NULL}, NULL},
    {"2001:db8::1", "IP Address:2001:DB8:0:0:0:0:0:1", {NULL}, NULL},
    {"2001:DB8::1", "IP Address:2001:DB8:0:0:0:0:0:1", {NULL}, NULL},
    {"::ffff:1.2.3.4", "IP Address:0:0:0:0:0:FFFF:102:304", {NULL}, NULL},
    {"1.2.3.4",
     "IP Address:0:0:0:0:0:FFFF:102:304",
     {NULL},
     "IP: 1.2.3.4 is not in the cert's list: ::ffff:1.2.3.4"},
    {"::ffff:1.2.3.4",
     "IP Address:1.2.3.4",
     {NULL},
     "IP: ::ffff:1.2.3.4 is not in the cert's list: 1.2.3.4"},
    {"127.0.0.1",
     "DNS:127.0.0.1",
     {"127.0.0.1", NULL},
     "IP: 127.0.0.1 is not in the cert's list: "},
    {"127.0.0.1", NULL, {"127.0.0.1", NULL}, "IP: 127.0.0.1 is not in the cert's list: "},
    {"01.2.3.4", NULL, {"01.2.3.4", NULL}, NULL},
    {"1.2.3", NULL, {"1.2.3", NULL}, NULL},
    {"256.1.1.1", "DNS:256.1.1.1", {NULL}, NULL},
};
/* The IP reason lists the SAN addresses in canonical (inet_ntop) form,
 * and unparsable entries as empty strings. */
static const id_case ip_mismatch_lists_canonical_addresses[] = {
    {"10.0.0.2",
     "DNS:a.com, IP Address:10.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:FE80:0:0:0:0:0:0:1, "
     "IP Address:0:0:0:0:0:FFFF:102:304",
     {NULL},
     "IP: 10.0.0.2 is not in the cert's list: 10.0.0.1, ::1, fe80::1, ::ffff:1.2.3.4"},
    {"::2",
     "IP Address:0:0:0:0:0:0:0:0, IP Address:1:0:0:0:0:0:0:0, IP Address:0:0:0:0:0:0:102:304, IP "
     "Address:2001:DB8:0:0:1:0:0:1, IP Address:0:1:2:3:4:5:6:7",
     {NULL},
     "IP: ::2 is not in the cert's list: ::, 1::, ::1.2.3.4, 2001:db8::1:0:0:1, 0:1:2:3:4:5:6:7"},
    {"::2",
     "IP Address:<invalid length=8>, IP Address:8.8.8.0/24, IP Address:1.2.3.4",
     {NULL},
     "IP: ::2 is not in the cert's list: , , 1.2.3.4"},
    {"1.2.3.5",
     "IP Address:2001:DB8:0:0:0:0:0:1, IP Address:0:0:0:0:0:0:0:1",
     {NULL},
     "IP: 1.2.3.5 is not in the cert's list: 2001:db8::1, ::1"},
};
/* SAN entries Node prints JSON-quoted (commas, quotes, controls) are
 * unescaped before matching; splitting follows splitEscapedAltNames. */
static const id_case escaped_altnames[] = {
    {"a,b.example.com", "DNS:\"a\\u002cb.example.com\"", {NULL}, NULL},
    {"a",
     "DNS:\"a\\u002cb.example.com\"",
     {NULL},
     "Host: a. is not in the cert's altnames: DNS:\"a\\u002cb.example.com\""},
    {"b.example.com",
     "DNS:\"a\\u002cb.example.com\"",
     {NULL},
     "Host: b.example.com. is not in the cert's altnames: DNS:\"a\\u002cb.example.com\""},
    {"x.com", "DNS:\"evil.com\\u0000.x.com\", DNS:x.com", {NULL}, NULL},
    {"evil.com",
     "DNS:\"evil.com\\u0000.x.com\"",
     {NULL},
     "Host: evil.com. is not in the cert's altnames: DNS:\"evil.com\\u0000.x.com\""},
    {"1.2.3.4",
     "DirName:\"CN=a\\u002cb\", DNS:\"a\\u002cb.example.com\", IP Address:1.2.3.4",
     {NULL},
     NULL},
    {"example.com",
     "DirName:\"CN=a\\u002cb\", DNS:\"a\\u002cb.example.com\", IP Address:1.2.3.4",
     {NULL},
     "Host: example.com. is not in the cert's altnames: DirName:\"CN=a\\u002cb\", "
     "DNS:\"a\\u002cb.example.com\", IP Address:1.2.3.4"},
    {"x.com", "othername:\"UPN:a\\u002cb\", DNS:x.com", {NULL}, NULL},
    {"b.com",
     "DNS:a.com,DNS:b.com",
     {NULL},
     "Host: b.com. is not in the cert's altnames: DNS:a.com,DNS:b.com"},
    {"a.com", "DNS:a.com, ", {NULL}, NULL},
    {"a.com", "DNS:, DNS:a.com", {NULL}, NULL},
};
/* A quoted entry that is not a JSON string fails closed (Node throws
 * ERR_TLS_CERT_ALTNAME_FORMAT). */
static const id_case malformed_escapes[] = {
    {"a.com", "DNS:\"unterminated", {NULL}, "Invalid subject alternative name string"},
    {"a.com", "DNS:\"bad\\x\"", {NULL}, "Invalid subject alternative name string"},
    {"a.com", "DNS:\"\\u12\"", {NULL}, "Invalid subject alternative name string"},
};
/* Patterns with non-ASCII bytes, blanks or empty labels never match. */
static const id_case non_ascii_and_blank_patterns[] = {
    {"\303\251.com",
     "DNS:\303\251.com",
     {NULL},
     "Host: \303\251.com. is not in the cert's altnames: DNS:\303\251.com"},
    {"a.com", "DNS:a.com ", {NULL}, "Host: a.com. is not in the cert's altnames: DNS:a.com "},
    {"a b.com", "DNS:a b.com", {NULL}, "Host: a b.com. is not in the cert's altnames: DNS:a b.com"},
    {"bad..example.com",
     "DNS:bad..example.com",
     {NULL},
     "Host: bad..example.com. is not in the cert's altnames: DNS:bad..example.com"},
    {"\303\251.com",
     NULL,
     {"\303\251.com", NULL},
     "Host: \303\251.com. is not cert's CN: \303\251.com"},
};
/* No DNS SAN and no CN. */
static const id_case no_names[] = {
    {"a.com", NULL, {NULL}, "Cert does not contain a DNS name"},
    {"a.com", "email:a@a.com", {NULL}, "Cert does not contain a DNS name"},
    {"a.com", "", {NULL}, "Cert does not contain a DNS name"},
    {"1.2.3.4", NULL, {NULL}, "IP: 1.2.3.4 is not in the cert's list: "},
};

/* Runs one case with a subject of O=portls plus the CNs, so CN lookup has
 * to skip other attributes. */
static void run_case(const id_case *t, size_t index) {
  portls_dn_entry entries[4];
  portls_cert cert;
  portls_error err;
  size_t n = 0;
  int rc;

  memset(&cert, 0, sizeof(cert));
  memset(&err, 0, sizeof(err));
  entries[n].key = "O";
  entries[n++].value = "portls";
  for (size_t i = 0; t->cn[i]; i++) {
    entries[n].key = "CN";
    entries[n++].value = t->cn[i];
  }
  cert.subject.entries = entries;
  cert.subject.count = n;
  cert.subjectaltname = t->san;

  rc = portls_check_server_identity(t->host, &cert, &err);
  if (t->reason == NULL) {
    cr_expect_eq(rc, 0, "case %zu: host \"%s\" should match (san \"%s\"), got: %s", index, t->host,
                 t->san ? t->san : "(none)", err.message);
  } else {
    cr_expect_eq(rc, PORTLS_ECERT_ALTNAME_INVALID,
                 "case %zu: host \"%s\" should not match (san \"%s\")", index, t->host,
                 t->san ? t->san : "(none)");
    cr_expect_eq(err.code, PORTLS_ECERT_ALTNAME_INVALID, "case %zu: err.code", index);
    cr_expect_str_eq(err.message, t->reason, "case %zu: host \"%s\": reason", index, t->host);
  }
}

#define RUN_TABLE(table)                                                                           \
  do {                                                                                             \
    for (size_t i_ = 0; i_ < sizeof(table) / sizeof((table)[0]); i_++) run_case(&(table)[i_], i_); \
  } while (0)

Test(identity, node_own_test_suite_cases_give_node_reasons) { RUN_TABLE(node_suite); }
Test(identity, case_insensitive_and_tolerates_trailing_dot) { RUN_TABLE(case_and_dots); }
Test(identity, cn_used_only_when_there_are_no_dns_sans) { RUN_TABLE(cn_only_without_dns_sans); }
Test(identity, wildcard_matches_exactly_one_label) { RUN_TABLE(wildcard_one_label); }
Test(identity, wildcard_never_matches_single_label_suffix) {
  RUN_TABLE(wildcard_not_single_label_suffix);
}
Test(identity, wildcard_may_be_part_of_leftmost_label) { RUN_TABLE(wildcard_partial_label); }
Test(identity, wildcard_never_expands_inside_a_label) { RUN_TABLE(wildcard_not_in_a_label); }
Test(identity, wildcard_only_counts_as_whole_leftmost_label) { RUN_TABLE(wildcard_only_leftmost); }
Test(identity, ip_hosts_match_only_ip_sans_as_bytes) { RUN_TABLE(ip_only_against_ip_sans); }
Test(identity, ip_mismatch_reason_lists_canonical_addresses) {
  RUN_TABLE(ip_mismatch_lists_canonical_addresses);
}
Test(identity, escaped_altnames_are_unescaped_before_matching) { RUN_TABLE(escaped_altnames); }
Test(identity, malformed_escaped_altnames_fail_closed) { RUN_TABLE(malformed_escapes); }
Test(identity, non_ascii_blank_or_empty_label_patterns_never_match) {
  RUN_TABLE(non_ascii_and_blank_patterns);
}
Test(identity, cert_without_dns_name_or_cn_is_rejected) { RUN_TABLE(no_names); }

/* Node lets "*.a.com" match ".a.com" (an empty left-most label); RFC 6125
 * wants the wildcard to stand for a label, so portls refuses. */
static const id_case wildcard_empty_label[] = {
    {".a.com", "DNS:*.a.com", {NULL}, "Host: .a.com. is not in the cert's altnames: DNS:*.a.com"},
    {".a.com", NULL, {"*.a.com", NULL}, "Host: .a.com. is not cert's CN: *.a.com"},
    {".a.com.",
     "DNS:*.a.com.",
     {NULL},
     "Host: .a.com. is not in the cert's altnames: DNS:*.a.com."},
    {"x.a.com", "DNS:*.a.com", {NULL}, NULL},
};

Test(identity, wildcard_never_matches_empty_label) { RUN_TABLE(wildcard_empty_label); }

Test(identity, null_arguments_are_einval) {
  portls_cert cert;
  portls_error err;
  memset(&cert, 0, sizeof(cert));
  cr_assert_eq(portls_check_server_identity(NULL, &cert, &err), PORTLS_EINVAL);
  cr_assert_eq(portls_check_server_identity("a.com", NULL, &err), PORTLS_EINVAL);
  /* err may be NULL: the result alone still says no. */
  cr_assert_eq(portls_check_server_identity("a.com", &cert, NULL), PORTLS_ECERT_ALTNAME_INVALID);
}

Test(identity, long_reason_is_truncated_not_overflowed) {
  static char san[4096];
  portls_cert cert;
  portls_error err;
  size_t n = 0;
  memset(&cert, 0, sizeof(cert));
  while (n + 16 < sizeof(san)) {
    memcpy(san + n, "DNS:x.example, ", 15);
    n += 15;
  }
  memcpy(san + n - 2, "", 1);
  cert.subjectaltname = san;
  cr_assert_eq(portls_check_server_identity("a.example", &cert, &err),
               PORTLS_ECERT_ALTNAME_INVALID);
  cr_assert_lt(strlen(err.message), sizeof(err.message));
  cr_assert(strncmp(err.message, "Host: a.example. is not in the cert's altnames: DNS:x.example, ",
                    63) == 0);
}
