/* The certificate model: DER/PEM parsing, Node's field formats, JSON.
 *
 * Two kinds of input:
 * - the generated test certificates in $PORTLS_CERTS (server-rsa.crt,
 *   server-ec.crt, intermediate.crt, ca.crt), whose fields are compared
 *   with what the openssl command prints for the same file, and whose JSON
 *   is compared with Node's when node is installed;
 * - certificates built below, byte by byte, for the formats real
 *   certificates rarely exercise. Their expected strings are what Node v20
 *   (OpenSSL 3.0) prints for the same DER. To re-check them, run with
 *   PORTLS_CERT_TEST_DUMP=<dir>: each built certificate is written there as
 *   <name>.der for `new crypto.X509Certificate(der).toLegacyObject()`.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portls/cert.h"
#include "util/base64.h"

void portls_free(void *ptr);

/* ---------------------------------------------------------------------- */
/* A small DER builder. Each call takes ownership of the blobs it is given. */

typedef struct blob {
  uint8_t *p;
  size_t n;
} blob;

static const blob END = {NULL, (size_t)-1};

static blob raw(const void *p, size_t n) {
  blob b;
  b.p = malloc(n ? n : 1);
  cr_assert_not_null(b.p);
  if (n) memcpy(b.p, p, n);
  b.n = n;
  return b;
}

static blob str(const char *s) { return raw(s, strlen(s)); }

static blob hexb(const char *hex) {
  blob b = raw("", 0);
  size_t n = strlen(hex) / 2;
  free(b.p);
  b.p = malloc(n ? n : 1);
  b.n = n;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    sscanf(hex + 2 * i, "%2x", &v);
    b.p[i] = (uint8_t)v;
  }
  return b;
}

static blob catv(blob first, va_list ap) {
  blob out = raw("", 0);
  for (blob part = first; part.n != (size_t)-1; part = va_arg(ap, blob)) {
    out.p = realloc(out.p, out.n + part.n + 1);
    cr_assert_not_null(out.p);
    if (part.n) memcpy(out.p + out.n, part.p, part.n);
    out.n += part.n;
    free(part.p);
  }
  return out;
}

static blob cat(blob first, ...) {
  va_list ap;
  blob b;
  va_start(ap, first);
  b = catv(first, ap);
  va_end(ap);
  return b;
}

/* One TLV with a single identifier octet. */
static blob tlv(unsigned tag, blob v) {
  uint8_t hdr[6];
  size_t h = 0;
  hdr[h++] = (uint8_t)tag;
  if (v.n < 0x80) {
    hdr[h++] = (uint8_t)v.n;
  } else if (v.n < 0x100) {
    hdr[h++] = 0x81;
    hdr[h++] = (uint8_t)v.n;
  } else if (v.n < 0x10000) {
    hdr[h++] = 0x82;
    hdr[h++] = (uint8_t)(v.n >> 8);
    hdr[h++] = (uint8_t)v.n;
  } else {
    hdr[h++] = 0x83;
    hdr[h++] = (uint8_t)(v.n >> 16);
    hdr[h++] = (uint8_t)(v.n >> 8);
    hdr[h++] = (uint8_t)v.n;
  }
  return cat(raw(hdr, h), v, END);
}

static blob seq(blob first, ...) {
  va_list ap;
  blob b;
  va_start(ap, first);
  b = catv(first, ap);
  va_end(ap);
  return tlv(0x30, b);
}

static blob set(blob first, ...) {
  va_list ap;
  blob b;
  va_start(ap, first);
  b = catv(first, ap);
  va_end(ap);
  return tlv(0x31, b);
}

static blob oid_body(const char *dotted) {
  unsigned long long arcs[32] = {0};
  size_t n = 0;
  uint8_t out[160];
  size_t o = 0;
  const char *p = dotted;
  while (*p) {
    arcs[n++] = strtoull(p, (char **)&p, 10);
    if (*p == '.') p++;
  }
  arcs[1] += arcs[0] * 40;
  for (size_t i = 1; i < n; i++) {
    uint8_t tmp[10];
    size_t k = 0;
    unsigned long long v = arcs[i];
    do {
      tmp[k++] = (uint8_t)(v & 0x7F);
      v >>= 7;
    } while (v);
    while (k--) out[o++] = (uint8_t)(tmp[k] | (k ? 0x80 : 0));
  }
  return raw(out, o);
}

static blob oid(const char *dotted) { return tlv(0x06, oid_body(dotted)); }
static blob utf8(const char *s) { return tlv(0x0C, str(s)); }
static blob printable(const char *s) { return tlv(0x13, str(s)); }
static blob ia5(const char *s) { return tlv(0x16, str(s)); }
static blob octets(blob b) { return tlv(0x04, b); }
static blob boolean(int v) { return tlv(0x01, raw(v ? "\xFF" : "\x00", 1)); }
static blob integer_hex(const char *hex) { return tlv(0x02, hexb(hex)); }
static blob bits(blob b) { return tlv(0x03, cat(raw("", 1), b, END)); }
static blob ctx(unsigned n, blob v) { return tlv(0x80 | n, v); }
static blob ctx_cons(unsigned n, blob v) { return tlv(0xA0 | n, v); }

/* A Name of single-attribute RDNs. */
static blob name1(const char *type, blob value) {
  return seq(set(seq(oid(type), value, END), END), END);
}

static blob ext(const char *id, int critical, blob value) {
  if (critical) return seq(oid(id), boolean(1), octets(value), END);
  return seq(oid(id), octets(value), END);
}

/* A fake 528-bit modulus: parsing never checks that a key is usable. */
#define TEST_MODULUS                                                                               \
  "00C0FFEE0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789AB"                           \
  "CDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCD"

static blob rsa_spki(const char *modulus_hex, const char *exponent_hex) {
  return seq(seq(oid("1.2.840.113549.1.1.1"), tlv(0x05, raw("", 0)), END),
             bits(seq(integer_hex(modulus_hex), integer_hex(exponent_hex), END)), END);
}

static blob ec_spki(const char *curve) {
  return seq(seq(oid("1.2.840.10045.2.1"), oid(curve), END),
             bits(hexb("04AABBCCDDEEFF00112233445566778899")), END);
}

typedef struct spec {
  blob version; /* the [0] field, or .n == 0 for none */
  blob serial, issuer, subject, not_before, not_after, spki, exts;
} spec;

/* Fills the fields a test left empty with plain values. */
static blob build(spec s) {
  blob tbs, sigalg = seq(oid("1.2.840.113549.1.1.11"), tlv(0x05, raw("", 0)), END);
  if (!s.serial.p) s.serial = integer_hex("01");
  if (!s.issuer.p) s.issuer = name1("2.5.4.3", utf8("issuer"));
  if (!s.subject.p) s.subject = name1("2.5.4.3", utf8("subject"));
  if (!s.not_before.p) s.not_before = tlv(0x17, str("240101000000Z"));
  if (!s.not_after.p) s.not_after = tlv(0x17, str("340101000000Z"));
  if (!s.spki.p) s.spki = rsa_spki(TEST_MODULUS, "010001");
  if (!s.version.p) s.version = ctx_cons(0, integer_hex("02"));
  tbs = seq(s.version, s.serial, seq(oid("1.2.840.113549.1.1.11"), tlv(0x05, raw("", 0)), END),
            s.issuer, seq(s.not_before, s.not_after, END), s.subject, s.spki,
            s.exts.p ? ctx_cons(3, seq(s.exts, END)) : raw("", 0), END);
  return seq(tbs, sigalg, bits(raw("\x01\x02\x03", 3)), END);
}

static void dump_der(const char *name, blob der) {
  const char *dir = getenv("PORTLS_CERT_TEST_DUMP");
  char path[512];
  FILE *f;
  if (!dir) return;
  snprintf(path, sizeof(path), "%s/%s.der", dir, name);
  f = fopen(path, "wb");
  if (f) {
    fwrite(der.p, 1, der.n, f);
    fclose(f);
  }
}

/* Builds, parses and frees the DER; the certificate is the caller's. */
static portls_cert *parse_built(const char *name, spec s) {
  blob der = build(s);
  portls_cert *c = NULL;
  portls_error err;
  int rc;
  dump_der(name, der);
  memset(&err, 0, sizeof(err));
  rc = portls_cert_parse_der(der.p, der.n, &c, &err);
  free(der.p);
  cr_assert_eq(rc, 0, "%s: %s", name, err.message);
  return c;
}

static int parse_fails(const char *name, spec s) {
  blob der = build(s);
  portls_cert *c = NULL;
  portls_error err;
  int rc;
  dump_der(name, der);
  rc = portls_cert_parse_der(der.p, der.n, &c, &err);
  free(der.p);
  cr_assert_null(c);
  return rc;
}

static const char *dn_get(const portls_dn *dn, const char *key, size_t nth) {
  for (size_t i = 0; i < dn->count; i++)
    if (strcmp(dn->entries[i].key, key) == 0 && nth-- == 0) return dn->entries[i].value;
  return NULL;
}

/* ---------------------------------------------------------------------- */
/* Built certificates.                                                    */

Test(cert, subjectaltname_is_formatted_like_node) {
  spec s = {0};
  blob gn = cat(
      ctx(2, str("a.example.com")), ctx(1, str("admin@example.com")),
      ctx(6, str("https://example.com/x")), ctx(7, hexb("0A000001")),
      ctx(7, hexb("20010DB8000000000000000000000001")),
      ctx(7, hexb("FE800000000000000000000000ABCDEF")), ctx(7, hexb("01020304FFFFFF00")),
      ctx(8, oid_body("1.2.3.4")),
      ctx_cons(0, cat(oid("1.3.6.1.4.1.311.20.2.3"), ctx_cons(0, utf8("upn@example.com")), END)),
      ctx_cons(0, cat(oid("1.2.3.4.5"), ctx_cons(0, utf8("x")), END)),
      ctx_cons(0, cat(oid("1.3.6.1.5.5.7.8.7"), ctx_cons(0, ia5("_http.example.com")), END)),
      ctx_cons(4, seq(set(seq(oid("2.5.4.6"), printable("US"), END), END),
                      set(seq(oid("2.5.4.10"), utf8("Acme, Inc."), END), END),
                      set(seq(oid("2.5.4.3"), utf8("dir"), END), END), END)),
      ctx(2, str("a,b.example.com")), ctx(2, str("caf\xE9.example.com")),
      ctx(6, str("http://x/\"q\"")), ctx(2, raw("evil.com\0.good.com", 18)), ctx(2, str("")),
      ctx(1, str("x\\y")), END);
  portls_cert *c;
  s.exts = ext("2.5.29.17", 0, tlv(0x30, gn));
  c = parse_built("san_all", s);
  cr_assert_str_eq(
      c->subjectaltname,
      "DNS:a.example.com, email:admin@example.com, URI:https://example.com/x, IP Address:10.0.0.1, "
      "IP Address:2001:DB8:0:0:0:0:0:1, IP Address:FE80:0:0:0:0:0:AB:CDEF, IP Address:<invalid "
      "length=8>, Registered ID:1.2.3.4, othername:UPN:upn@example.com, othername:<unsupported>, "
      "othername:SRVName:_http.example.com, DirName:\"CN=dir\\u002cO=Acme\\\\\\u002c "
      "Inc.\\u002cC=US\", DNS:\"a\\u002cb.example.com\", DNS:\"caf\\u00e9.example.com\", "
      "URI:\"http://x/\\\"q\\\"\", DNS:\"evil.com\\u0000.good.com\", DNS:, email:\"x\\\\y\"");
  portls_cert_free(c);
}

Test(cert, dirname_uses_reversed_rfc2253_with_openssl_escapes) {
  spec s = {0};
  blob name =
      seq(set(seq(oid("2.5.4.3"), utf8("a+b"), END), seq(oid("2.5.4.11"), utf8("ou"), END), END),
          set(seq(oid("2.5.4.3"), utf8(" #lead"), END), END),
          set(seq(oid("2.5.4.3"), utf8("trail "), END), END),
          set(seq(oid("1.2.3.4"), utf8("unk"), END), END),
          set(seq(oid("2.5.4.3"), tlv(0x1E, hexb("00FC20AC")), END), END),
          set(seq(oid("2.5.4.3"), utf8("x\ny;z<>\"\\="), END), END),
          set(seq(oid("2.5.4.3"), utf8("\xC3\xA9"), END), END), END);
  portls_cert *c;
  s.exts = ext("2.5.29.17", 0, seq(ctx_cons(4, name), END));
  c = parse_built("san_dirname", s);
  cr_assert_str_eq(
      c->subjectaltname,
      "DirName:\"CN=\303\251\\u002cCN=x\\u000ay\\\\;z\\\\<\\\\>\\\\\\\"\\\\\\\\=\\u002cCN="
      "\303\274\342\202\254\\u002c1.2.3.4=#0C03756E6B\\u002cCN=trail\\\\ \\u002cCN="
      "\\\\ #lead\\u002cOU=ou+CN=a\\\\+b\"");
  portls_cert_free(c);
}

Test(cert, othernames_print_known_types_and_sanitize_utf8) {
  spec s = {0};
#define ON(type, value) ctx_cons(0, cat(oid(type), ctx_cons(0, value), END))
  blob gn =
      cat(ON("1.3.6.1.5.5.7.8.9", utf8("\xC3\xBC@x.de")), ON("1.3.6.1.5.5.7.8.5", utf8("xmpp@x")),
          ON("1.3.6.1.5.5.7.8.8", utf8("realm")), ON("1.3.6.1.5.5.7.8.7", utf8("_srv")),
          ON("1.3.6.1.4.1.311.20.2.3", ia5("upn-ia5")),
          ON("1.3.6.1.4.1.311.20.2.3", tlv(0x0C, str("bad\xFF\xFE utf8 \xE2\x82"))),
          ON("1.3.6.1.4.1.311.20.2.3", utf8("a,b")),
          ON("1.3.6.1.4.1.311.20.2.3", utf8("tab\tx\x7F")), ON("1.3.6.1.5.5.7.8.7", ia5("_s,rv")),
          ctx(6, str("http://x/\x7F")), ctx(1, str("\xC3\xA9@x")), END);
#undef ON
  portls_cert *c;
  s.exts = ext("2.5.29.17", 0, tlv(0x30, gn));
  c = parse_built("san_othernames", s);
  cr_assert_str_eq(c->subjectaltname,
                   "othername:SmtpUTF8Mailbox:\303\274@x.de, othername:XmppAddr:xmpp@x, "
                   "othername:NAIRealm:realm, othername:<unsupported>, othername:<unsupported>, "
                   "othername:UPN:bad\357\277\275\357\277\275 utf8 \357\277\275, "
                   "othername:\"UPN:a\\u002cb\", othername:\"UPN:tab\\u0009x\\u007f\", "
                   "othername:\"SRVName:_s\\u002crv\", URI:\"http://x/\\u007f\", "
                   "email:\"\\u00c3\\u00a9@x\"");
  portls_cert_free(c);
}

Test(cert, empty_san_is_an_empty_string) {
  spec s = {0};
  portls_cert *c;
  s.exts = ext("2.5.29.17", 0, tlv(0x30, raw("", 0)));
  c = parse_built("san_empty", s);
  cr_assert_str_eq(c->subjectaltname, "");
  portls_cert_free(c);
}

Test(cert, infoaccess_splits_method_and_name_like_node) {
  spec s = {0};
#define AD(method, gn) seq(oid(method), gn, END)
  blob aia = seq(
      AD("1.3.6.1.5.5.7.48.1", ctx(6, str("http://o1/"))),
      AD("1.3.6.1.5.5.7.48.1", ctx(6, str("http://o2/"))),
      AD("1.3.6.1.5.5.7.48.2", ctx(6, str("http://ca/,x"))),
      AD("1.3.6.1.5.5.7.48.5", ctx(6, str("http://repo/"))),
      AD("1.2.3.4", ctx(2, str("dns.example"))), AD("1.3.6.1.5.5.7.48.2", ctx(7, hexb("01020304"))),
      AD("1.3.6.1.5.5.7.48.3",
         ctx_cons(0, cat(oid("1.3.6.1.4.1.311.20.2.3"), ctx_cons(0, utf8("u,pn")), END))),
      AD("1.3.6.1.5.5.7.48.1", ctx(6, str("http://caf\xE9/"))), END);
#undef AD
  static const char *const expect[][2] = {{"OCSP - URI", "http://o1/"},
                                          {"OCSP - URI", "http://o2/"},
                                          {"CA Issuers - URI", "http://ca/,x"},
                                          {"CA Repository - URI", "http://repo/"},
                                          {"1.2.3.4 - DNS", "dns.example"},
                                          {"CA Issuers - IP Address", "1.2.3.4"},
                                          {"AD Time Stamping - othername", "UPN:u,pn"},
                                          {"OCSP - URI", "http://caf\303\251/"}};
  portls_cert *c;
  char *json;
  s.exts = ext("1.3.6.1.5.5.7.1.1", 0, aia);
  c = parse_built("aia", s);
  cr_assert_eq(c->infoaccess.count, 8);
  for (size_t i = 0; i < 8; i++) {
    cr_expect_str_eq(c->infoaccess.entries[i].key, expect[i][0]);
    cr_expect_str_eq(c->infoaccess.entries[i].value, expect[i][1]);
  }
  json = portls_cert_to_json(c);
  cr_assert(strstr(json, ",\"infoAccess\":{\"OCSP - URI\":[\"http://o1/\",\"http://o2/\","
                         "\"http://caf\303\251/\"],\"CA Issuers - URI\":[\"http://ca/,x\"],"
                         "\"CA Repository - URI\":[\"http://repo/\"],\"1.2.3.4 - DNS\":"
                         "[\"dns.example\"],\"CA Issuers - IP Address\":[\"1.2.3.4\"],"
                         "\"AD Time Stamping - othername\":[\"UPN:u,pn\"]},\"ca\":false,"));
  portls_free(json);
  portls_cert_free(c);
}

/* What Node prints for the subject built below. */
static const char names_json[] =
    "{\"subject\":{\"C\":\"DE\",\"OU\":[\"one\",\"two\"],\"CN\":[\"multi\","
    "\"Gr\303\274\303\237e \342\202\254\",\"with \\\"quotes\\\" and \\\\ back\","
    "\"tab\\there\"],\"O\":\"val\",\"L\":\"caf\303\251\",\"ST\":\"\360\235\204\236x\","
    "\"1.2.3.4.5.6\":\"unknown oid\",\"emailAddress\":\"a@b.c\",\"DC\":\"example\","
    "\"UID\":\"uid1\",\"GN\":\"Given\",\"SN\":\"Sur\",\"title\":\"Dr\","
    "\"serialNumber\":\"12345\",\"organizationIdentifier\":\"VATDE-1\","
    "\"jurisdictionC\":\"DE\",\"businessCategory\":\"Private Organization\","
    "\"postalCode\":\"12345\"},\"issuer\":{\"CN\":\"issuer\"},\"ca\":false,";

Test(cert, names_use_openssl_short_names_and_convert_string_types) {
  spec s = {0};
#define RDN(type, value) set(seq(oid(type), value, END), END)
  s.subject = seq(
      RDN("2.5.4.6", printable("DE")), RDN("2.5.4.11", utf8("one")), RDN("2.5.4.11", utf8("two")),
      set(seq(oid("2.5.4.3"), utf8("multi"), END), seq(oid("2.5.4.10"), utf8("val"), END), END),
      RDN("2.5.4.3", tlv(0x1E, hexb("0047007200FC00DF0065002020AC"))),
      RDN("2.5.4.7", tlv(0x14, str("caf\xE9"))),
      RDN("2.5.4.8", tlv(0x1C, hexb("0001D11E00000078"))), RDN("1.2.3.4.5.6", utf8("unknown oid")),
      RDN("1.2.840.113549.1.9.1", ia5("a@b.c")), RDN("0.9.2342.19200300.100.1.25", ia5("example")),
      RDN("0.9.2342.19200300.100.1.1", utf8("uid1")), RDN("2.5.4.42", utf8("Given")),
      RDN("2.5.4.4", utf8("Sur")), RDN("2.5.4.12", utf8("Dr")), RDN("2.5.4.5", printable("12345")),
      RDN("2.5.4.97", utf8("VATDE-1")), RDN("1.3.6.1.4.1.311.60.2.1.3", printable("DE")),
      RDN("2.5.4.15", utf8("Private Organization")),
      RDN("2.5.4.3", utf8("with \"quotes\" and \\ back")), RDN("2.5.4.3", utf8("tab\there")),
      RDN("2.5.4.17", tlv(0x12, str("12345"))), END);
#undef RDN
  portls_cert *c = parse_built("names", s);
  char *json;
  cr_assert_eq(c->subject.count, 22);
  cr_expect_str_eq(dn_get(&c->subject, "OU", 1), "two");
  cr_expect_str_eq(dn_get(&c->subject, "O", 0), "val");
  cr_expect_str_eq(dn_get(&c->subject, "CN", 1), "Gr\303\274\303\237e \342\202\254");
  cr_expect_str_eq(dn_get(&c->subject, "L", 0), "caf\303\251");
  cr_expect_str_eq(dn_get(&c->subject, "ST", 0), "\360\235\204\236x");
  cr_expect_str_eq(dn_get(&c->subject, "1.2.3.4.5.6", 0), "unknown oid");
  json = portls_cert_to_json(c);
  cr_assert(strncmp(json, names_json, strlen(names_json)) == 0, "%s", json);
  portls_free(json);
  portls_cert_free(c);
}

Test(cert, nul_in_a_name_never_truncates_it) {
  /* Node keeps the NUL ("evil.com\u0000.good.com"); a C string cannot,
   * and cutting it would turn the name into "evil.com". */
  spec s = {0};
  portls_cert *c;
  s.subject = name1("2.5.4.3", tlv(0x0C, raw("evil.com\0.good.com", 18)));
  c = parse_built("name_nul", s);
  cr_assert_str_eq(dn_get(&c->subject, "CN", 0), "evil.com\357\277\275.good.com");
  portls_cert_free(c);
}

Test(cert, values_openssl_cannot_show_as_text_are_hex_dumped) {
  /* Node drops the whole subject for these; we keep the RFC 4514 form. */
  spec s = {0};
  portls_cert *c;
  s.subject = name1("2.5.4.3", bits(raw("\x01", 1)));
  c = parse_built("name_bitstring", s);
  cr_assert_str_eq(dn_get(&c->subject, "CN", 0), "#03020001");
  portls_cert_free(c);
}

Test(cert, names_openssl_rejects_are_rejected) {
  static const char *const bad[][2] = {
      {"0C04", "61FF62C3"},       /* invalid UTF-8 */
      {"0C02", "C0AF"},           /* overlong UTF-8 */
      {"0C03", "EDA080"},         /* UTF-8 surrogate */
      {"1E03", "006100"},         /* odd BMPString */
      {"1E02", "D834"},           /* BMPString surrogate */
      {"1C04", "00110000"},       /* UniversalString beyond U+10FFFF */
      {"1A07", "76697369626C65"}, /* VisibleString: not a DirectoryString in OpenSSL */
      {"0402", "01AB"},           /* OCTET STRING */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    spec s = {0};
    s.subject = name1("2.5.4.3", cat(hexb(bad[i][0]), hexb(bad[i][1]), END));
    cr_expect_eq(parse_fails("name_bad", s), PORTLS_ECERT, "case %zu", i);
  }
}

Test(cert, serial_numbers_print_like_bn_bn2hex) {
  static const char *const cases[][2] = {
      {"00", "0"},
      {"01", "01"},
      {"0F", "0F"},
      {"1001", "1001"},
      {"00FF1002", "FF1002"},
      {"FF", "-01"},
      {"EDCC", "-1234"},
      {"008F00000000000000000000000000000000000001", "8F00000000000000000000000000000000000001"}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    spec s = {0};
    portls_cert *c;
    s.serial = integer_hex(cases[i][0]);
    c = parse_built("serial", s);
    cr_expect_str_eq(c->serial_number, cases[i][1]);
    portls_cert_free(c);
  }
}

Test(cert, times_print_like_asn1_time_print) {
  static const struct {
    unsigned tag;
    const char *in, *out;
  } cases[] = {
      {0x17, "291106095222Z", "Nov  6 09:52:22 2029 GMT"},
      {0x17, "500101000000Z", "Jan  1 00:00:00 1950 GMT"},
      {0x17, "491231235959Z", "Dec 31 23:59:59 2049 GMT"},
      {0x18, "20510707010203Z", "Jul  7 01:02:03 2051 GMT"},
      {0x18, "20240101000000.5Z", "Jan  1 00:00:00.5 2024 GMT"},
      {0x18, "00010101000000Z", "Jan  1 00:00:00 1 GMT"},
      {0x17, "240229235959Z", "Feb 29 23:59:59 2024 GMT"},
      {0x17, "2401010000Z", "Jan  1 00:00:00 2024 GMT"},
      {0x17, "240101000000+0130", "Dec 31 22:30:00 2023 GMT"},
      {0x18, "20240101000000-0200", "Jan  1 02:00:00 2024 GMT"},
      {0x17, "241301000000Z", "Bad time value"},
      {0x17, "230229000000Z", "Bad time value"},
      {0x17, "231231235960Z", "Bad time value"},
      {0x18, "20240101000000.Z", "Bad time value"},
      {0x17, "240101000000", "Bad time value"},
      {0x17, "240101000000Zx", "Bad time value"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    spec s = {0};
    portls_cert *c;
    s.not_before = tlv(cases[i].tag, str(cases[i].in));
    c = parse_built("time", s);
    cr_expect_str_eq(c->valid_from, cases[i].out, "case %zu (%s)", i, cases[i].in);
    cr_expect_str_eq(c->valid_to, "Jan  1 00:00:00 2034 GMT");
    portls_cert_free(c);
  }
}

Test(cert, ca_needs_basic_constraints_and_cert_sign_usage) {
  static const struct {
    const char *bc, *ku; /* hex extension values, NULL when absent */
    int ca;
  } cases[] = {
      {"30030101FF", NULL, 1},
      {"30060101FF020103", "03020106", 1},
      {"30030101FF", "03020780", 0}, /* keyUsage without keyCertSign */
      {"3000", NULL, 0},
      {NULL, "03020106", 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    spec s = {0};
    portls_cert *c;
    s.exts = cat(cases[i].bc ? ext("2.5.29.19", 1, hexb(cases[i].bc)) : raw("", 0),
                 cases[i].ku ? ext("2.5.29.15", 1, hexb(cases[i].ku)) : raw("", 0), END);
    c = parse_built("ca", s);
    cr_expect_eq(c->ca, cases[i].ca, "case %zu", i);
    portls_cert_free(c);
  }
}

Test(cert, rsa_key_fields) {
  spec s = {0};
  portls_cert *c;
  char *json;
  s.spki = rsa_spki(TEST_MODULUS, "010001");
  c = parse_built("rsa", s);
  cr_assert_str_eq(c->pubkey_type, "RSA");
  cr_assert_eq(c->bits, 528);
  cr_assert_str_eq(c->modulus, TEST_MODULUS + 2);
  cr_assert_str_eq(c->exponent, "0x10001");
  cr_assert_null(c->asn1curve);
  json = portls_cert_to_json(c);
  cr_assert(strstr(json, ",\"ca\":false,\"modulus\":\"C0FFEE0123456789ABCDEF0123456789ABCDEF"
                         "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123"
                         "456789ABCDEF0123456789ABCD\",\"bits\":528,\"exponent\":\"0x10001\","
                         "\"valid_from\":"));
  portls_free(json);
  portls_cert_free(c);

  memset(&s, 0, sizeof(s));
  s.spki = rsa_spki("0F", "03");
  c = parse_built("rsa_small", s);
  cr_assert_str_eq(c->modulus, "F", "BN_print drops leading zero nibbles");
  cr_assert_eq(c->bits, 4);
  cr_assert_str_eq(c->exponent, "0x3");
  portls_cert_free(c);

  memset(&s, 0, sizeof(s));
  s.spki = rsa_spki(TEST_MODULUS, "0400000000000000000001");
  c = parse_built("rsa_big_exponent", s);
  cr_assert_str_eq(c->exponent, "0xffffffffffffffff", "BN_get_word saturates");
  portls_cert_free(c);
}

Test(cert, ec_key_fields) {
  static const struct {
    const char *oid, *asn1, *nist;
    int bits;
  } cases[] = {
      {"1.2.840.10045.3.1.7", "prime256v1", "P-256", 256},
      {"1.3.132.0.34", "secp384r1", "P-384", 384},
      {"1.3.132.0.35", "secp521r1", "P-521", 521},
      {"1.3.132.0.10", "secp256k1", NULL, 256},
      {"1.3.36.3.3.2.8.1.1.7", "brainpoolP256r1", NULL, 256},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    spec s = {0};
    portls_cert *c;
    char *json;
    char want[128];
    s.spki = ec_spki(cases[i].oid);
    c = parse_built("ec", s);
    cr_expect_str_eq(c->pubkey_type, "EC");
    cr_expect_eq(c->bits, cases[i].bits);
    cr_expect_str_eq(c->asn1curve, cases[i].asn1);
    if (cases[i].nist)
      cr_expect_str_eq(c->nistcurve, cases[i].nist);
    else
      cr_expect_null(c->nistcurve);
    cr_expect_null(c->modulus);
    json = portls_cert_to_json(c);
    snprintf(want, sizeof(want),
             ",\"ca\":false,\"bits\":%d,\"asn1Curve\":\"%s\"%s%s%s,\"valid_from\"", cases[i].bits,
             cases[i].asn1, cases[i].nist ? ",\"nistCurve\":\"" : "",
             cases[i].nist ? cases[i].nist : "", cases[i].nist ? "\"" : "");
    cr_expect(strstr(json, want) != NULL, "%s lacks %s", json, want);
    portls_free(json);
    portls_cert_free(c);
  }
}

Test(cert, other_keys_have_a_type_and_no_rsa_or_ec_fields) {
  static const char *const cases[][2] = {{"1.3.101.112", "Ed25519"},
                                         {"1.3.101.113", "Ed448"},
                                         {"1.2.840.113549.1.1.10", "RSA-PSS"},
                                         {"1.2.3.4.5", "1.2.3.4.5"}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    spec s = {0};
    portls_cert *c;
    char *json;
    s.spki = seq(seq(oid(cases[i][0]), END), bits(hexb("0011223344")), END);
    c = parse_built("key", s);
    cr_expect_str_eq(c->pubkey_type, cases[i][1]);
    cr_expect_eq(c->bits, 0);
    cr_expect_null(c->modulus);
    json = portls_cert_to_json(c);
    cr_expect(strstr(json, ",\"ca\":false,\"valid_from\":") != NULL, "%s", json);
    portls_free(json);
    portls_cert_free(c);
  }
}

Test(cert, ext_key_usage_lists_dotted_oids) {
  spec s = {0};
  portls_cert *c;
  char *json;
  s.exts = ext("2.5.29.37", 0,
               seq(oid("1.3.6.1.5.5.7.3.1"), oid("1.3.6.1.5.5.7.3.2"), oid("2.999.1"), END));
  c = parse_built("eku", s);
  cr_assert_eq(c->ext_key_usage_count, 3);
  cr_assert_str_eq(c->ext_key_usage[0], "1.3.6.1.5.5.7.3.1");
  cr_assert_str_eq(c->ext_key_usage[2], "2.999.1");
  json = portls_cert_to_json(c);
  cr_assert(strstr(json, ",\"ext_key_usage\":[\"1.3.6.1.5.5.7.3.1\",\"1.3.6.1.5.5.7.3.2\","
                         "\"2.999.1\"],\"serialNumber\":\"01\",\"raw\":\""));
  portls_free(json);
  portls_cert_free(c);
}

Test(cert, malformed_certificates_are_rejected) {
  spec s;
  /* the same extension twice */
  memset(&s, 0, sizeof(s));
  s.exts = cat(ext("2.5.29.17", 0, seq(ctx(2, str("a.com")), END)),
               ext("2.5.29.17", 0, seq(ctx(2, str("b.com")), END)), END);
  cr_expect_eq(parse_fails("dup_san", s), PORTLS_ECERT);
  /* a SAN whose general name overruns */
  memset(&s, 0, sizeof(s));
  s.exts = ext("2.5.29.17", 0, hexb("3003820561"));
  cr_expect_eq(parse_fails("bad_san", s), PORTLS_ECERT);
  /* an unknown general name tag */
  memset(&s, 0, sizeof(s));
  s.exts = ext("2.5.29.17", 0, seq(ctx(9, str("x")), END));
  cr_expect_eq(parse_fails("san_tag9", s), PORTLS_ECERT);
  /* a non-DER boolean */
  memset(&s, 0, sizeof(s));
  s.exts = ext("2.5.29.19", 1, hexb("3003010101"));
  cr_expect_eq(parse_fails("bc_bool", s), PORTLS_ECERT);
  /* version 4 */
  memset(&s, 0, sizeof(s));
  s.version = ctx_cons(0, integer_hex("03"));
  cr_expect_eq(parse_fails("v4", s), PORTLS_ECERT);
  /* a padded serial */
  memset(&s, 0, sizeof(s));
  s.serial = integer_hex("0001");
  cr_expect_eq(parse_fails("serial_pad", s), PORTLS_ECERT);
  /* validity that is not a time */
  memset(&s, 0, sizeof(s));
  s.not_before = printable("240101000000Z");
  cr_expect_eq(parse_fails("validity", s), PORTLS_ECERT);
}

Test(cert, der_must_be_exactly_one_certificate) {
  spec s = {0};
  blob der = build(s);
  portls_cert *c = NULL;
  portls_error err;
  uint8_t *longer = malloc(der.n + 1);
  memcpy(longer, der.p, der.n);
  longer[der.n] = 0;
  cr_assert_eq(portls_cert_parse_der(longer, der.n + 1, &c, &err), PORTLS_ECERT);
  cr_assert_eq(err.code, PORTLS_ECERT);
  cr_assert_null(c);
  cr_assert_eq(portls_cert_parse_der(der.p, der.n - 1, &c, &err), PORTLS_ECERT);
  cr_assert_eq(portls_cert_parse_der(der.p, 0, &c, &err), PORTLS_ECERT);
  cr_assert_eq(portls_cert_parse_der(NULL, 10, &c, &err), PORTLS_EINVAL);
  cr_assert_eq(portls_cert_parse_der(der.p, der.n, NULL, &err), PORTLS_EINVAL);
  cr_assert_eq(portls_cert_parse_der(der.p, der.n, &c, NULL), 0, "err is optional");
  cr_assert_eq(c->raw_len, der.n);
  cr_assert(memcmp(c->raw, der.p, der.n) == 0);
  portls_cert_free(c);
  portls_cert_free(NULL);
  free(longer);
  free(der.p);
}

static char *pem_of(blob der, const char *label, const char *eol) {
  size_t n = portls__base64_encoded_len(der.n);
  char *b = malloc(n + 1), *out = malloc(n * 2 + 256);
  size_t o = 0;
  portls__base64_encode(der.p, der.n, b);
  o += (size_t)sprintf(out + o, "-----BEGIN %s-----%s", label, eol);
  for (size_t i = 0; i < n; i += 64) o += (size_t)sprintf(out + o, "%.64s%s", b + i, eol);
  sprintf(out + o, "-----END %s-----%s", label, eol);
  free(b);
  return out;
}

Test(cert, pem_takes_the_first_certificate_block) {
  spec s1 = {0}, s2 = {0};
  blob d1, d2;
  char *p1, *p2, *text;
  portls_cert *c = NULL;
  portls_error err;
  s1.serial = integer_hex("11");
  s2.serial = integer_hex("22");
  d1 = build(s1);
  d2 = build(s2);
  p1 = pem_of(d1, "CERTIFICATE", "\r\n");
  p2 = pem_of(d2, "CERTIFICATE", "\n");
  text = malloc(strlen(p1) + strlen(p2) + 200);
  sprintf(text,
          "Bag Attributes\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n%s%s", p1,
          p2);
  cr_assert_eq(portls_cert_parse_pem(text, strlen(text), &c, &err), 0, "%s", err.message);
  cr_assert_str_eq(c->serial_number, "11");
  portls_cert_free(c);
  /* the length bounds the text: no NUL needed, nothing read past it */
  cr_assert_eq(portls_cert_parse_pem(p2, strlen(p2), &c, &err), 0);
  cr_assert_str_eq(c->serial_number, "22");
  portls_cert_free(c);
  cr_assert_eq(portls_cert_parse_pem(p2, strlen(p2) - 5, &c, &err), PORTLS_ECERT, "END line cut");
  free(p1);
  p1 = pem_of(d1, "X509 CERTIFICATE", "\n");
  cr_assert_eq(portls_cert_parse_pem(p1, strlen(p1), &c, &err), 0);
  portls_cert_free(c);
  free(p1);
  free(p2);
  free(text);
  free(d1.p);
  free(d2.p);
}

Test(cert, pem_errors) {
  portls_cert *c = NULL;
  portls_error err;
  static const char *const bad[] = {
      "",
      "no certificate here\n",
      "-----BEGIN CERTIFICATE-----\nMIIB!!!!\n-----END CERTIFICATE-----\n",
      "-----BEGIN CERTIFICATE-----\nZg==\n-----END CERTIFICATE-----\n",
      "-----BEGIN CERTIFICATE-----\nZg==\n",
      "x-----BEGIN CERTIFICATE-----\nZg==\n-----END CERTIFICATE-----\n",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    cr_expect_eq(portls_cert_parse_pem(bad[i], strlen(bad[i]), &c, &err), PORTLS_ECERT, "case %zu",
                 i);
    cr_expect_null(c);
  }
  cr_expect_eq(portls_cert_parse_pem(NULL, 0, &c, &err), PORTLS_EINVAL);
}

/* ---------------------------------------------------------------------- */
/* JSON of hand-built structs.                                            */

Test(cert_json, escapes_strings_like_json_stringify) {
  portls_dn_entry subj[] = {{"CN", "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f \303\251 \360\237\230\200"},
                            {"O", "bad \xff \xe2\x82 end"}};
  portls_cert c;
  char *json;
  memset(&c, 0, sizeof(c));
  c.subject.entries = subj;
  c.subject.count = 2;
  json = portls_cert_to_json(&c);
  cr_assert_str_eq(json, "{\"subject\":{\"CN\":\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f "
                         "\303\251 \360\237\230\200\",\"O\":\"bad \357\277\275 \357\277\275 end\"},"
                         "\"issuer\":{},\"ca\":false}");
  portls_free(json);
}

Test(cert_json, repeated_keys_become_arrays_in_first_position) {
  portls_dn_entry subj[] = {{"OU", "a"}, {"CN", "x"}, {"OU", "b"}, {"OU", "c"}, {"O", "o"}};
  portls_cert c;
  char *json;
  memset(&c, 0, sizeof(c));
  c.subject.entries = subj;
  c.subject.count = 5;
  json = portls_cert_to_json(&c);
  cr_assert_str_eq(json, "{\"subject\":{\"OU\":[\"a\",\"b\",\"c\"],\"CN\":\"x\",\"O\":\"o\"},"
                         "\"issuer\":{},\"ca\":false}");
  portls_free(json);
}

Test(cert_json, issuer_links_nest_and_cycles_print_circular) {
  portls_dn_entry a_dn[] = {{"CN", "a"}}, b_dn[] = {{"CN", "b"}};
  portls_cert a, b;
  char *json;
  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  a.subject.entries = a_dn;
  a.subject.count = 1;
  b.subject.entries = b_dn;
  b.subject.count = 1;
  b.ca = 1;
  a.issuer_certificate = &b;
  json = portls_cert_to_json(&a);
  cr_assert_str_eq(json,
                   "{\"subject\":{\"CN\":\"a\"},\"issuer\":{},\"ca\":false,\"issuerCertificate\":"
                   "{\"subject\":{\"CN\":\"b\"},\"issuer\":{},\"ca\":true}}");
  portls_free(json);
  b.issuer_certificate = &b;
  json = portls_cert_to_json(&a);
  cr_assert_str_eq(json,
                   "{\"subject\":{\"CN\":\"a\"},\"issuer\":{},\"ca\":false,\"issuerCertificate\":"
                   "{\"subject\":{\"CN\":\"b\"},\"issuer\":{},\"ca\":true,"
                   "\"issuerCertificate\":\"[Circular]\"}}");
  portls_free(json);
  b.issuer_certificate = &a; /* a loop back past the parent */
  json = portls_cert_to_json(&a);
  cr_assert(strstr(json, "\"ca\":true,\"issuerCertificate\":\"[Circular]\"}}") != NULL, "%s", json);
  portls_free(json);
  cr_assert_null(portls_cert_to_json(NULL));
}

/* ---------------------------------------------------------------------- */
/* Robustness: truncations and mutations of a full certificate.           */

static blob rich_cert(void) {
  spec s = {0};
  s.subject = seq(set(seq(oid("2.5.4.6"), printable("US"), END), END),
                  set(seq(oid("2.5.4.3"), utf8("localhost"), END),
                      seq(oid("2.5.4.11"), tlv(0x1E, hexb("00410042")), END), END),
                  END);
  s.exts = cat(
      ext("2.5.29.17", 0,
          seq(ctx(2, str("localhost")), ctx(7, hexb("7F000001")),
              ctx(7, hexb("00000000000000000000000000000001")),
              ctx_cons(4, name1("2.5.4.3", utf8("d,n"))),
              ctx_cons(0, cat(oid("1.3.6.1.4.1.311.20.2.3"), ctx_cons(0, utf8("u")), END)), END)),
      ext("2.5.29.19", 1, hexb("30030101FF")), ext("2.5.29.15", 1, hexb("03020106")),
      ext("2.5.29.37", 0, seq(oid("1.3.6.1.5.5.7.3.1"), END)),
      ext("1.3.6.1.5.5.7.1.1", 0,
          seq(seq(oid("1.3.6.1.5.5.7.48.1"), ctx(6, str("http://o/")), END), END)),
      END);
  s.not_after = tlv(0x18, str("20510101000000.25Z"));
  return build(s);
}

/* Parses, formats and checks; only crashes and leaks (under ASan) fail. */
static void churn(const uint8_t *p, size_t n) {
  uint8_t *copy = malloc(n ? n : 1);
  portls_cert *c = NULL;
  portls_error err;
  const void *ders[2];
  size_t lens[2];
  if (n) memcpy(copy, p, n);
  if (portls_cert_parse_der(copy, n, &c, &err) == 0) {
    char *json = portls_cert_to_json(c);
    cr_assert_not_null(json);
    portls_free(json);
    portls_check_server_identity("localhost", c, &err);
    portls_check_server_identity("127.0.0.1", c, &err);
    portls_cert_free(c);
  } else {
    cr_assert(err.code == PORTLS_ECERT, "unexpected error %d", err.code);
  }
  ders[0] = copy;
  ders[1] = copy;
  lens[0] = n;
  lens[1] = n;
  if (portls_cert_parse_chain(ders, lens, 2, &c, &err) == 0) {
    char *json = portls_cert_to_json(c);
    portls_free(json);
    portls_cert_free(c);
  }
  free(copy);
}

Test(cert_fuzz, every_truncation_parses_or_fails_cleanly) {
  blob der = rich_cert();
  for (size_t n = 0; n <= der.n; n++) churn(der.p, n);
  free(der.p);
}

Test(cert_fuzz, single_byte_mutations_parse_or_fail_cleanly) {
  static const uint8_t values[] = {0x00, 0x01, 0x7F, 0x80, 0x81, 0x82, 0x84, 0xFF};
  blob der = rich_cert();
  uint32_t rnd = 0x2545F491u;
  for (size_t i = 0; i < der.n; i++) {
    uint8_t saved = der.p[i];
    for (size_t k = 0; k < sizeof(values); k++) {
      der.p[i] = values[k];
      churn(der.p, der.n);
    }
    /* and a few random values per position */
    for (int k = 0; k < 4; k++) {
      rnd ^= rnd << 13;
      rnd ^= rnd >> 17;
      rnd ^= rnd << 5;
      der.p[i] = (uint8_t)rnd;
      churn(der.p, der.n);
    }
    der.p[i] = saved;
  }
  free(der.p);
}

/* ---------------------------------------------------------------------- */
/* The generated certificate files, against openssl and node.             */

static const char *certs_dir(void) {
  const char *d = getenv("PORTLS_CERTS");
  if (d == NULL || *d == '\0')
    cr_skip_test("PORTLS_CERTS is not set (it names the generated test certificates)");
  return d;
}

static char *read_file(const char *dir, const char *name, size_t *len) {
  char path[1024];
  FILE *f;
  char *buf;
  long n;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  f = fopen(path, "rb");
  cr_assert_not_null(f, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = malloc((size_t)n + 1);
  cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  buf[n] = '\0';
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static portls_cert *load(const char *dir, const char *name) {
  size_t len;
  char *pem = read_file(dir, name, &len);
  portls_cert *c = NULL;
  portls_error err;
  cr_assert_eq(portls_cert_parse_pem(pem, len, &c, &err), 0, "%s: %s", name, err.message);
  free(pem);
  return c;
}

/* Output of a shell command, or NULL if it printed nothing. */
static char *run(const char *fmt, ...) {
  char cmd[2048];
  va_list ap;
  FILE *p;
  size_t cap = 1 << 16, n = 0;
  char *out = malloc(cap);
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof(cmd), fmt, ap);
  va_end(ap);
  p = popen(cmd, "r");
  if (p == NULL) {
    free(out);
    return NULL;
  }
  for (size_t r; (r = fread(out + n, 1, cap - n - 1, p)) > 0;) {
    n += r;
    if (n + 1 == cap) out = realloc(out, cap *= 2);
  }
  pclose(p);
  out[n] = '\0';
  if (n == 0) {
    free(out);
    return NULL;
  }
  return out;
}

/* The value after "key=" on the line that starts with it. */
static char *field(const char *text, const char *key) {
  size_t k = strlen(key);
  for (const char *line = text; line && *line;
       line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    if (strncmp(line, key, k) == 0) {
      const char *e = strchr(line, '\n');
      size_t n = e ? (size_t)(e - line) - k : strlen(line) - k;
      char *v = malloc(n + 1);
      memcpy(v, line + k, n);
      v[n] = '\0';
      return v;
    }
  }
  return NULL;
}

static const char *const cert_files[] = {"server-rsa.crt", "server-ec.crt", "intermediate.crt",
                                         "ca.crt"};

static char *openssl(const char *dir, const char *file, const char *args) {
  char *out = run("openssl x509 -in '%s/%s' -noout %s 2>/dev/null", dir, file, args);
  if (out == NULL) cr_skip_test("the openssl command is not available");
  return out;
}

/* "    KEY=VALUE" lines, as -nameopt sep_multiline prints them. */
static void expect_dn_equals_openssl(const portls_dn *dn, const char *text, const char *what) {
  size_t i = 0;
  const char *line = strchr(text, '\n');
  for (line = line ? line + 1 : NULL; line && *line; i++) {
    const char *e = strchr(line, '\n');
    size_t n = e ? (size_t)(e - line) : strlen(line);
    char want[512];
    cr_assert_lt(i, dn->count, "%s: openssl shows more attributes", what);
    snprintf(want, sizeof(want), "    %s=%s", dn->entries[i].key, dn->entries[i].value);
    cr_expect(strlen(want) == n && strncmp(line, want, n) == 0,
              "%s: attribute %zu: openssl %.*s, portls %s", what, i, (int)n, line, want);
    line = e ? e + 1 : NULL;
  }
  cr_expect_eq(i, dn->count, "%s: attribute count", what);
}

Test(cert_files, names_match_openssl) {
  const char *dir = certs_dir();
  for (size_t f = 0; f < sizeof(cert_files) / sizeof(cert_files[0]); f++) {
    portls_cert *c = load(dir, cert_files[f]);
    char *subj = openssl(dir, cert_files[f], "-subject -nameopt sep_multiline,sname,utf8,-esc_msb");
    char *iss = openssl(dir, cert_files[f], "-issuer -nameopt sep_multiline,sname,utf8,-esc_msb");
    expect_dn_equals_openssl(&c->subject, subj, cert_files[f]);
    expect_dn_equals_openssl(&c->issuer, iss, cert_files[f]);
    free(subj);
    free(iss);
    portls_cert_free(c);
  }
}

Test(cert_files, serial_dates_and_fingerprints_match_openssl) {
  const char *dir = certs_dir();
  for (size_t f = 0; f < sizeof(cert_files) / sizeof(cert_files[0]); f++) {
    portls_cert *c = load(dir, cert_files[f]);
    char *out = openssl(dir, cert_files[f], "-serial -dates -fingerprint -sha1");
    char *out256 = openssl(dir, cert_files[f], "-fingerprint -sha256");
    char *serial = field(out, "serial="), *nb = field(out, "notBefore="),
         *na = field(out, "notAfter=");
    char *fp = field(out, "sha1 Fingerprint="), *fp256 = field(out256, "sha256 Fingerprint=");
    cr_assert(serial && nb && na && fp && fp256, "%s: unexpected openssl output", cert_files[f]);
    /* openssl prints a zero serial as "00" where Node prints "0"; the
     * generated certificates have nonzero serials. */
    cr_expect_str_eq(c->serial_number, serial, "%s", cert_files[f]);
    cr_expect_str_eq(c->valid_from, nb, "%s", cert_files[f]);
    cr_expect_str_eq(c->valid_to, na, "%s", cert_files[f]);
    cr_expect_str_eq(c->fingerprint, fp, "%s", cert_files[f]);
    cr_expect_str_eq(c->fingerprint256, fp256, "%s", cert_files[f]);
    free(serial);
    free(nb);
    free(na);
    free(fp);
    free(fp256);
    free(out);
    free(out256);
    portls_cert_free(c);
  }
}

Test(cert_files, server_names_match_openssl_and_the_generator) {
  const char *dir = certs_dir();
  static const char *const servers[] = {"server-rsa.crt", "server-ec.crt"};
  for (size_t f = 0; f < 2; f++) {
    portls_cert *c = load(dir, servers[f]);
    char *out = openssl(dir, servers[f], "-ext subjectAltName");
    char *line = strstr(out, "\n    ");
    portls_error err;
    cr_assert_not_null(line, "%s: no subjectAltName", servers[f]);
    line += 5;
    line[strcspn(line, "\n")] = '\0';
    /* OpenSSL 3.0 and Node agree on these entry types. */
    cr_expect_str_eq(c->subjectaltname, line, "%s", servers[f]);
    cr_expect(strstr(c->subjectaltname, "DNS:localhost") != NULL);
    cr_expect(strstr(c->subjectaltname, "IP Address:127.0.0.1") != NULL);
    cr_expect(strstr(c->subjectaltname, "IP Address:0:0:0:0:0:0:0:1") != NULL);
    cr_expect_str_eq(dn_get(&c->subject, "CN", 0), "localhost");
    cr_expect_eq(c->ca, 0);
    cr_expect_eq(portls_check_server_identity("localhost", c, &err), 0, "%s", err.message);
    cr_expect_eq(portls_check_server_identity("127.0.0.1", c, &err), 0, "%s", err.message);
    cr_expect_eq(portls_check_server_identity("::1", c, &err), 0, "%s", err.message);
    cr_expect_eq(portls_check_server_identity("example.com", c, &err),
                 PORTLS_ECERT_ALTNAME_INVALID);
    free(out);
    portls_cert_free(c);
  }
}

Test(cert_files, keys_match_openssl) {
  const char *dir = certs_dir();
  portls_cert *rsa = load(dir, "server-rsa.crt"), *ec = load(dir, "server-ec.crt");
  char *out = openssl(dir, "server-rsa.crt", "-modulus");
  char *mod = field(out, "Modulus=");
  cr_assert_not_null(mod);
  cr_expect_str_eq(rsa->modulus, mod);
  cr_expect_eq(rsa->bits, 2048);
  cr_expect_str_eq(rsa->exponent, "0x10001");
  cr_expect_str_eq(rsa->pubkey_type, "RSA");
  cr_expect_str_eq(ec->pubkey_type, "EC");
  cr_expect_eq(ec->bits, 256);
  cr_expect_str_eq(ec->asn1curve, "prime256v1");
  cr_expect_str_eq(ec->nistcurve, "P-256");
  cr_expect_null(ec->modulus);
  free(mod);
  free(out);
  portls_cert_free(rsa);
  portls_cert_free(ec);
}

Test(cert_files, ca_flags_and_raw_der) {
  const char *dir = certs_dir();
  for (size_t f = 0; f < sizeof(cert_files) / sizeof(cert_files[0]); f++) {
    size_t len, body_len = 0, der_len;
    char *pem = read_file(dir, cert_files[f], &len);
    char *body = strstr(pem, "-----\n") + 6, *end = strstr(body, "-----END");
    uint8_t *der = malloc(len);
    portls_cert *c = load(dir, cert_files[f]);
    char *json = portls_cert_to_json(c);
    char *b64 = malloc(len), *p = b64;
    for (char *q = body; q < end; q++)
      if (*q != '\n' && *q != '\r') *p++ = *q;
    *p = '\0';
    body_len = (size_t)(p - b64);
    cr_assert_eq(portls__base64_decode(b64, body_len, der, &der_len, 0), 0);
    cr_expect_eq(c->raw_len, der_len);
    cr_expect(memcmp(c->raw, der, der_len) == 0, "%s: raw is not the file's DER", cert_files[f]);
    cr_expect_eq(c->ca, f >= 2, "%s: ca", cert_files[f]);
    cr_expect(strstr(json, b64) != NULL, "%s: JSON raw is not the PEM body", cert_files[f]);
    free(b64);
    free(json);
    free(der);
    free(pem);
    portls_cert_free(c);
  }
}

Test(cert_files, json_keys_follow_node_order) {
  const char *dir = certs_dir();
  static const char *const keys[] = {"{\"subject\":{",
                                     ",\"issuer\":{",
                                     ",\"subjectaltname\":\"",
                                     ",\"ca\":false",
                                     ",\"modulus\":\"",
                                     ",\"bits\":2048",
                                     ",\"exponent\":\"0x10001\"",
                                     ",\"valid_from\":\"",
                                     ",\"valid_to\":\"",
                                     ",\"fingerprint\":\"",
                                     ",\"fingerprint256\":\"",
                                     ",\"serialNumber\":\"",
                                     ",\"raw\":\""};
  portls_cert *c = load(dir, "server-rsa.crt");
  char *json = portls_cert_to_json(c);
  const char *at = json;
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    const char *next = strstr(at, keys[i]);
    cr_expect_not_null(next, "%s missing or out of order in %s", keys[i], json);
    if (next) at = next;
  }
  cr_expect_eq(json[strlen(json) - 1], '}');
  cr_expect_null(strstr(json, "issuerCertificate"));
  portls_free(json);
  portls_cert_free(c);
}

Test(cert_files, chain_links_each_certificate_to_its_issuer) {
  const char *dir = certs_dir();
  portls_cert *leaf = load(dir, "server-rsa.crt"), *mid = load(dir, "intermediate.crt"),
              *root = load(dir, "ca.crt"), *chain;
  const void *ders[3] = {leaf->raw, mid->raw, root->raw};
  size_t lens[3] = {leaf->raw_len, mid->raw_len, root->raw_len};
  portls_error err;
  char *json;
  size_t n;

  cr_assert_eq(portls_cert_parse_chain(ders, lens, 3, &chain, &err), 0, "%s", err.message);
  cr_assert_eq(chain->issuer_certificate, &chain[1]);
  cr_assert_eq(chain[1].issuer_certificate, &chain[2]);
  cr_assert_eq(chain[2].issuer_certificate, &chain[2], "a self-issued root points to itself");
  cr_assert_str_eq(chain[1].fingerprint, mid->fingerprint);
  json = portls_cert_to_json(chain);
  n = strlen(json);
  {
    static const char tail[] = ",\"issuerCertificate\":\"[Circular]\"}}}";
    cr_assert(n > sizeof(tail) && strcmp(json + n - (sizeof(tail) - 1), tail) == 0, "%s",
              json + (n > 80 ? n - 80 : 0));
  }
  portls_free(json);
  portls_cert_free(chain);

  cr_assert_eq(portls_cert_parse_chain(ders, lens, 2, &chain, &err), 0);
  cr_assert_null(chain[1].issuer_certificate, "the chain ends without its root");
  portls_cert_free(chain);
  cr_assert_eq(portls_cert_parse_chain(ders, lens, 0, &chain, &err), PORTLS_EINVAL);
  portls_cert_free(leaf);
  portls_cert_free(mid);
  portls_cert_free(root);
}

Test(cert_files, json_equals_node_legacy_object) {
  const char *dir = certs_dir();
  char *version = run("node --version 2>/dev/null");
  if (version == NULL) cr_skip_test("node is not installed");
  free(version);
  for (size_t f = 0; f < sizeof(cert_files) / sizeof(cert_files[0]); f++) {
    portls_cert *c = load(dir, cert_files[f]);
    char *json = portls_cert_to_json(c);
    /* Node's object less what portls leaves out (pubkey, fingerprint512),
     * with raw as base64 instead of a Buffer. */
    char *node = run("node -e \"const o = new (require('crypto').X509Certificate)(require('fs')"
                     ".readFileSync(process.argv[1])).toLegacyObject(); delete o.pubkey; "
                     "delete o.fingerprint512; process.stdout.write(JSON.stringify(o, (k, v) => "
                     "k === 'raw' ? Buffer.from(v.data || v).toString('base64') : v))\" '%s/%s'",
                     dir, cert_files[f]);
    cr_assert_not_null(node, "node printed nothing for %s", cert_files[f]);
    cr_expect_str_eq(json, node, "%s", cert_files[f]);
    free(node);
    portls_free(json);
    portls_cert_free(c);
  }
}
