/* One cipher language on every backend: a cipher string selects, on the
 * mbedTLS table, OpenSSL 3's selection minus what mbedTLS lacks, and never a
 * suite OpenSSL 3's language has no name for (static ECDH, Camellia-GCM,
 * ARIA-CBC, EC J-PAKE, and the RC4/DES/3DES suites OpenSSL 3 builds without):
 * those come only by their own name.
 *
 * Each want_* list is `openssl ciphers -V -ciphersuites '' STRING` on the
 * Debian 12 build box (OpenSSL 3.0.19), pasted once, keeping the ids the
 * table marks PORTLS__ORIGIN_MBEDTLS, in OpenSSL's order. */
#include <criterion/criterion.h>
#include <string.h>

#include "portls/backend.h"
#include "portls/portls.h"
#include "tls/suites.h"
#include "util/util.h"

static const uint16_t want_high[] = {
    0xC02C, 0xC030, 0x009F, 0xCCA9, 0xCCA8, 0xCCAA, 0xC0AF, 0xC0AD, 0xC0A3, 0xC09F, 0xC05D, 0xC061,
    0xC053, 0xC02B, 0xC02F, 0x009E, 0xC0AE, 0xC0AC, 0xC0A2, 0xC09E, 0xC05C, 0xC060, 0xC052, 0xC024,
    0xC028, 0x006B, 0xC073, 0xC077, 0x00C4, 0xC023, 0xC027, 0x0067, 0xC072, 0xC076, 0x00BE, 0xC00A,
    0xC014, 0x0039, 0x0088, 0xC009, 0xC013, 0x0033, 0x0045, 0x00AD, 0x00AB, 0xCCAE, 0xCCAD, 0xCCAC,
    0xC0AB, 0xC0A7, 0xC06F, 0xC06D, 0x009D, 0xC0A1, 0xC09D, 0xC051, 0x00A9, 0xCCAB, 0xC0A9, 0xC0A5,
    0xC06B, 0x00AC, 0x00AA, 0xC0AA, 0xC0A6, 0xC06E, 0xC06C, 0x009C, 0xC0A0, 0xC09C, 0xC050, 0x00A8,
    0xC0A8, 0xC0A4, 0xC06A, 0x003D, 0x00C0, 0x003C, 0x00BA, 0xC038, 0xC036, 0x00B7, 0x00B3, 0x0095,
    0x0091, 0xC09B, 0xC099, 0xC097, 0x0035, 0x0084, 0x00AF, 0x008D, 0xC095, 0xC037, 0xC035, 0x00B6,
    0x00B2, 0x0094, 0x0090, 0xC09A, 0xC098, 0xC096, 0x002F, 0x0041, 0x00AE, 0x008C, 0xC094};

static const uint16_t want_all[] = {
    0xC02C, 0xC030, 0x009F, 0xCCA9, 0xCCA8, 0xCCAA, 0xC0AF, 0xC0AD, 0xC0A3, 0xC09F, 0xC05D, 0xC061,
    0xC053, 0xC02B, 0xC02F, 0x009E, 0xC0AE, 0xC0AC, 0xC0A2, 0xC09E, 0xC05C, 0xC060, 0xC052, 0xC024,
    0xC028, 0x006B, 0xC073, 0xC077, 0x00C4, 0xC023, 0xC027, 0x0067, 0xC072, 0xC076, 0x00BE, 0xC00A,
    0xC014, 0x0039, 0x0088, 0xC009, 0xC013, 0x0033, 0x0045, 0x00AD, 0x00AB, 0xCCAE, 0xCCAD, 0xCCAC,
    0xC0AB, 0xC0A7, 0xC06F, 0xC06D, 0x009D, 0xC0A1, 0xC09D, 0xC051, 0x00A9, 0xCCAB, 0xC0A9, 0xC0A5,
    0xC06B, 0x00AC, 0x00AA, 0xC0AA, 0xC0A6, 0xC06E, 0xC06C, 0x009C, 0xC0A0, 0xC09C, 0xC050, 0x00A8,
    0xC0A8, 0xC0A4, 0xC06A, 0x003D, 0x00C0, 0x003C, 0x00BA, 0xC038, 0xC036, 0x00B7, 0x00B3, 0x0095,
    0x0091, 0xC09B, 0xC099, 0xC097, 0x0035, 0x0084, 0x00AF, 0x008D, 0xC095, 0xC037, 0xC035, 0x00B6,
    0x00B2, 0x0094, 0x0090, 0xC09A, 0xC098, 0xC096, 0x002F, 0x0041, 0x00AE, 0x008C, 0xC094};

static const uint16_t want_default[] = {
    0xC02C, 0xC030, 0x009F, 0xCCA9, 0xCCA8, 0xCCAA, 0xC02B, 0xC02F, 0x009E, 0xC024, 0xC028,
    0x006B, 0xC023, 0xC027, 0x0067, 0xC00A, 0xC014, 0x0039, 0xC009, 0xC013, 0x0033, 0x00AD,
    0x00AB, 0xCCAE, 0xCCAD, 0xCCAC, 0x009D, 0x00A9, 0xCCAB, 0x00AC, 0x00AA, 0x009C, 0x00A8,
    0x003D, 0x003C, 0xC038, 0xC036, 0x00B7, 0x00B3, 0x0095, 0x0091, 0x0035, 0x00AF, 0x008D,
    0xC037, 0xC035, 0x00B6, 0x00B2, 0x0094, 0x0090, 0x002F, 0x00AE, 0x008C};

static const uint16_t want_node_default[] = {
    0xC02F, 0xC02B, 0xC030, 0xC02C, 0x009E, 0xC027, 0x0067, 0xC028, 0x006B, 0x009F, 0xCCA9, 0xCCA8,
    0xCCAA, 0xC0AF, 0xC0AD, 0xC0A3, 0xC09F, 0xC05D, 0xC061, 0xC053, 0xC0AE, 0xC0AC, 0xC0A2, 0xC09E,
    0xC05C, 0xC060, 0xC052, 0xC024, 0xC023, 0xC00A, 0xC014, 0x0039, 0xC009, 0xC013, 0x0033, 0x009D,
    0xC0A1, 0xC09D, 0xC051, 0x009C, 0xC0A0, 0xC09C, 0xC050, 0x003D, 0x003C, 0x0035, 0x002F};

static const uint16_t want_all_complementofall[] = {
    0xC02C, 0xC030, 0x009F, 0xCCA9, 0xCCA8, 0xCCAA, 0xC0AF, 0xC0AD, 0xC0A3, 0xC09F, 0xC05D, 0xC061,
    0xC053, 0xC02B, 0xC02F, 0x009E, 0xC0AE, 0xC0AC, 0xC0A2, 0xC09E, 0xC05C, 0xC060, 0xC052, 0xC024,
    0xC028, 0x006B, 0xC073, 0xC077, 0x00C4, 0xC023, 0xC027, 0x0067, 0xC072, 0xC076, 0x00BE, 0xC00A,
    0xC014, 0x0039, 0x0088, 0xC009, 0xC013, 0x0033, 0x0045, 0x00AD, 0x00AB, 0xCCAE, 0xCCAD, 0xCCAC,
    0xC0AB, 0xC0A7, 0xC06F, 0xC06D, 0x009D, 0xC0A1, 0xC09D, 0xC051, 0x00A9, 0xCCAB, 0xC0A9, 0xC0A5,
    0xC06B, 0x00AC, 0x00AA, 0xC0AA, 0xC0A6, 0xC06E, 0xC06C, 0x009C, 0xC0A0, 0xC09C, 0xC050, 0x00A8,
    0xC0A8, 0xC0A4, 0xC06A, 0x003D, 0x00C0, 0x003C, 0x00BA, 0xC038, 0xC036, 0x00B7, 0x00B3, 0x0095,
    0x0091, 0xC09B, 0xC099, 0xC097, 0x0035, 0x0084, 0x00AF, 0x008D, 0xC095, 0xC037, 0xC035, 0x00B6,
    0x00B2, 0x0094, 0x0090, 0xC09A, 0xC098, 0xC096, 0x002F, 0x0041, 0x00AE, 0x008C, 0xC094, 0xC006,
    0xC010, 0x003B, 0xC03B, 0xC03A, 0xC039, 0x00B9, 0x00B8, 0x00B5, 0x00B4, 0x002E, 0x002D, 0x0002,
    0x0001, 0x00B1, 0x00B0, 0x002C};

static const uint16_t want_arsa_aesgcm[] = {0xC030, 0x009F, 0xC02F, 0x009E,
                                            0x00AD, 0x009D, 0x00AC, 0x009C};

static const uint16_t want_camellia[] = {0xC073, 0xC077, 0x00C4, 0xC072, 0xC076, 0x00BE, 0x0088,
                                         0x0045, 0x00C0, 0x00BA, 0xC09B, 0xC099, 0xC097, 0x0084,
                                         0xC095, 0xC09A, 0xC098, 0xC096, 0x0041, 0xC094};

static const uint16_t want_ecdh_aesgcm_krsa[] = {
    0xC02C, 0xC030, 0xC02B, 0xC02F, 0x009D, 0xC0A1, 0xC09D, 0xC051, 0x009C, 0xC0A0, 0xC09C, 0xC050,
    0x003D, 0x00C0, 0x003C, 0x00BA, 0x003B, 0x0035, 0x0084, 0x002F, 0x0041, 0x0002, 0x0001};
/* Every suite mbedTLS 2.28 knows (the table's own column). */
static size_t mbedtls_suites(uint16_t *ids) {
  size_t n = 0;
  for (size_t i = 0; i < portls__suite_count(); i++)
    if (portls__suite_at(i)->origin & PORTLS__ORIGIN_MBEDTLS) ids[n++] = portls__suite_at(i)->id;
  return n;
}

static void expect_ids(const char *str, const uint16_t *want, size_t n_want) {
  uint16_t avail[PORTLS__SUITE_MAX], *ids = NULL;
  size_t n_avail = mbedtls_suites(avail), n = 0;
  portls_error err = {0};
  cr_assert_eq(portls__cipher_compile(str, avail, n_avail, &ids, &n, &err), 0, "\"%s\": %s", str,
               err.message);
  for (size_t i = 0; i < n; i++) {
    const portls__suite *s = portls__suite_by_id(ids[i]);
    cr_assert_not_null(s);
    cr_expect(s->origin & PORTLS__ORIGIN_OPENSSL, "\"%s\" selects %s, which OpenSSL 3 lacks", str,
              s->name);
    cr_expect(!(s->kx & (PORTLS__K_ECDHr | PORTLS__K_ECDHe)), "\"%s\" selects static ECDH %s", str,
              s->name);
    cr_expect(!(s->enc & (PORTLS__E_CAMELLIA128GCM | PORTLS__E_CAMELLIA256GCM)),
              "\"%s\" selects Camellia-GCM %s", str, s->name);
  }
  cr_expect_eq(n, n_want, "\"%s\": %zu suites, OpenSSL's selection has %zu", str, n, n_want);
  for (size_t i = 0; i < n && i < n_want; i++)
    cr_expect_eq(ids[i], want[i], "\"%s\"[%zu]: 0x%04X (%s), want 0x%04X (%s)", str, i, ids[i],
                 portls__suite_by_id(ids[i])->name, want[i], portls__suite_by_id(want[i])->name);
  portls__free(ids);
}

#define EXPECT(str, want) expect_ids(str, want, PORTLS__ARRAY_SIZE(want))

Test(cipher_parity, high_all_and_default_are_openssls_selection_on_the_mbedtls_table) {
  EXPECT("HIGH", want_high);
  EXPECT("ALL", want_all);
  EXPECT("DEFAULT", want_default);
  EXPECT(PORTLS_DEFAULT_CIPHERS, want_node_default);
}

Test(cipher_parity, every_alias_keeps_to_openssls_language) {
  EXPECT("ALL:COMPLEMENTOFALL", want_all_complementofall);
  EXPECT("aRSA+AESGCM", want_arsa_aesgcm);
  EXPECT("CAMELLIA", want_camellia); /* CBC only: OpenSSL 3 has no Camellia-GCM */
  EXPECT("ECDH+AESGCM:kRSA", want_ecdh_aesgcm_krsa);
}

/* The compiled names of str on the mbedTLS table, ':'-joined (static buffer). */
static const char *names(const char *str, int *rc, portls_error *err) {
  static char buf[PORTLS__SUITE_MAX * PORTLS__SUITE_NAME_MAX];
  uint16_t avail[PORTLS__SUITE_MAX], *ids = NULL;
  size_t n_avail = mbedtls_suites(avail), n = 0;
  buf[0] = '\0';
  *rc = portls__cipher_compile(str, avail, n_avail, &ids, &n, err);
  for (size_t i = 0; i < n; i++) {
    if (i > 0) strcat(buf, ":");
    strcat(buf, portls__suite_by_id(ids[i])->name);
  }
  portls__free(ids);
  return *rc == 0 ? buf : NULL;
}

Test(cipher_parity, a_suite_outside_openssls_language_is_selected_by_its_own_name) {
  int rc;
  portls_error err = {0};
  /* OpenSSL-style, IANA and mbedTLS names */
  cr_expect_str_eq(names("ECDH-ECDSA-AES128-GCM-SHA256", &rc, &err),
                   "ECDH-ECDSA-AES128-GCM-SHA256");
  cr_expect_str_eq(names("TLS_ECDH_RSA_WITH_AES_256_CBC_SHA", &rc, &err), "ECDH-RSA-AES256-SHA");
  cr_expect_str_eq(names("TLS-ECDHE-RSA-WITH-CAMELLIA-128-GCM-SHA256", &rc, &err),
                   "ECDHE-RSA-CAMELLIA128-GCM-SHA256");
  cr_expect_str_eq(names("TLS-ECJPAKE-WITH-AES-128-CCM-8", &rc, &err), "ECJPAKE-AES128-CCM8");
  /* mbedTLS's spelling of the two suites IANA calls TLS_PSK_DHE_WITH_... */
  cr_expect_str_eq(
      names("TLS-DHE-PSK-WITH-AES-128-CCM-8:TLS-DHE-PSK-WITH-AES-256-CCM-8", &rc, &err),
      "DHE-PSK-AES128-CCM8:DHE-PSK-AES256-CCM8");
  /* an mbedTLS name of a suite OpenSSL has too */
  cr_expect_str_eq(names("TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256", &rc, &err),
                   "ECDHE-RSA-AES128-GCM-SHA256");
  /* named first, then an alias: the alias adds OpenSSL's suites after it */
  const char *got = names("ECDH-RSA-AES128-GCM-SHA256:HIGH", &rc, &err);
  cr_assert_not_null(got, "%s", err.message);
  cr_expect_eq(strncmp(got, "ECDH-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:", 57), 0,
               "%s", got);
  cr_expect_null(strstr(got + 27, "ECDH-"), "%s", got);
  /* joined with an alias by '+': the named suite must also match it */
  cr_expect_str_eq(names("ECDH-RSA-AES128-GCM-SHA256+AESGCM", &rc, &err),
                   "ECDH-RSA-AES128-GCM-SHA256");
  cr_expect_null(names("ECDH-RSA-AES128-GCM-SHA256+CHACHA20", &rc, &err));
}

Test(cipher_parity, deleting_by_alias_reaches_suites_added_by_name) {
  int rc;
  portls_error err = {0};
  /* '!' and '-' say what must not be offered: a named suite of the family goes too */
  cr_expect_null(names("ECDH-ECDSA-AES128-GCM-SHA256:!AESGCM", &rc, &err));
  cr_expect_eq(rc, PORTLS_ECIPHERS);
  cr_expect_str_eq(names("ECDHE-RSA-CAMELLIA128-GCM-SHA256:AES128-SHA:-CAMELLIA", &rc, &err),
                   "AES128-SHA");
  /* '+' moves it like any other suite */
  cr_expect_str_eq(names("ECDH-RSA-AES128-SHA:AES128-SHA:+SHA1", &rc, &err),
                   "ECDH-RSA-AES128-SHA:AES128-SHA");
  cr_expect_str_eq(names("ECDH-RSA-AES128-SHA:AES128-GCM-SHA256:+aECDH", &rc, &err),
                   "AES128-GCM-SHA256:ECDH-RSA-AES128-SHA");
}

Test(cipher_parity, portls_family_aliases_select_nothing_by_themselves) {
  int rc;
  portls_error err = {0};
  const char *only[] = {"kECDH", "kECDHr", "kECDHe", "aECDH", "ECJPAKE", "kECJPAKE",
                        "DES",   "3DES",   "RC4",    "LOW",   "MEDIUM"};
  for (size_t i = 0; i < PORTLS__ARRAY_SIZE(only); i++) {
    cr_expect_null(names(only[i], &rc, &err), "\"%s\" selected something", only[i]);
    cr_expect_eq(rc, PORTLS_ECIPHERS, "\"%s\"", only[i]);
    cr_expect_not_null(strstr(err.message, "no cipher match"), "\"%s\": %s", only[i], err.message);
  }
}

Test(cipher_parity, node_get_ciphers_lists_no_suite_outside_openssls_language) {
  for (size_t i = 0; i < portls__suite_count(); i++) {
    const portls__suite *s = portls__suite_at(i);
    if (!(s->origin & PORTLS__ORIGIN_OPENSSL))
      cr_expect(!portls__suite_is_default(s), "%s counts as a default suite", s->name);
  }
}

/* On the backend this test binary links: what the public API returns. */
Test(cipher_parity, the_linked_backend_selects_no_suite_outside_openssls_language) {
  const char *strings[] = {"HIGH", "ALL", "DEFAULT", "ALL:COMPLEMENTOFALL", PORTLS_DEFAULT_CIPHERS};
  for (size_t k = 0; k < PORTLS__ARRAY_SIZE(strings); k++) {
    const char **list = NULL;
    size_t count = 0;
    portls_error err = {0};
    cr_assert_eq(portls_cipher_list(strings[k], &list, &count, &err), 0, "%s", err.message);
    cr_expect_gt(count, 0);
    for (size_t i = 0; i < count; i++) {
      const portls__suite *s = portls__suite_by_name(list[i]);
      cr_assert_not_null(s, "%s", list[i]);
      cr_expect(s->origin & PORTLS__ORIGIN_OPENSSL, "\"%.20s\" selects %s on %s", strings[k],
                list[i], portls_backend_name());
    }
    portls_free(list);
  }
}
