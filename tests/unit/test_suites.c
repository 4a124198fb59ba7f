/* The suite table, its look-ups and Node's tls.getCiphers(). */
#include <criterion/criterion.h>
#include <string.h>

#include "portls/backend.h"
#include "portls/portls.h"
#include "tls/suites.h"
#include "util/util.h"

/* `node -e "console.log(require('tls').getCiphers())"`, Node 20.20.2 on
 * OpenSSL 3.0.19. */
static const char *const node_get_ciphers[] = {"aes128-gcm-sha256",
                                               "aes128-sha",
                                               "aes128-sha256",
                                               "aes256-gcm-sha384",
                                               "aes256-sha",
                                               "aes256-sha256",
                                               "dhe-psk-aes128-cbc-sha",
                                               "dhe-psk-aes128-cbc-sha256",
                                               "dhe-psk-aes128-gcm-sha256",
                                               "dhe-psk-aes256-cbc-sha",
                                               "dhe-psk-aes256-cbc-sha384",
                                               "dhe-psk-aes256-gcm-sha384",
                                               "dhe-psk-chacha20-poly1305",
                                               "dhe-rsa-aes128-gcm-sha256",
                                               "dhe-rsa-aes128-sha",
                                               "dhe-rsa-aes128-sha256",
                                               "dhe-rsa-aes256-gcm-sha384",
                                               "dhe-rsa-aes256-sha",
                                               "dhe-rsa-aes256-sha256",
                                               "dhe-rsa-chacha20-poly1305",
                                               "ecdhe-ecdsa-aes128-gcm-sha256",
                                               "ecdhe-ecdsa-aes128-sha",
                                               "ecdhe-ecdsa-aes128-sha256",
                                               "ecdhe-ecdsa-aes256-gcm-sha384",
                                               "ecdhe-ecdsa-aes256-sha",
                                               "ecdhe-ecdsa-aes256-sha384",
                                               "ecdhe-ecdsa-chacha20-poly1305",
                                               "ecdhe-psk-aes128-cbc-sha",
                                               "ecdhe-psk-aes128-cbc-sha256",
                                               "ecdhe-psk-aes256-cbc-sha",
                                               "ecdhe-psk-aes256-cbc-sha384",
                                               "ecdhe-psk-chacha20-poly1305",
                                               "ecdhe-rsa-aes128-gcm-sha256",
                                               "ecdhe-rsa-aes128-sha",
                                               "ecdhe-rsa-aes128-sha256",
                                               "ecdhe-rsa-aes256-gcm-sha384",
                                               "ecdhe-rsa-aes256-sha",
                                               "ecdhe-rsa-aes256-sha384",
                                               "ecdhe-rsa-chacha20-poly1305",
                                               "psk-aes128-cbc-sha",
                                               "psk-aes128-cbc-sha256",
                                               "psk-aes128-gcm-sha256",
                                               "psk-aes256-cbc-sha",
                                               "psk-aes256-cbc-sha384",
                                               "psk-aes256-gcm-sha384",
                                               "psk-chacha20-poly1305",
                                               "rsa-psk-aes128-cbc-sha",
                                               "rsa-psk-aes128-cbc-sha256",
                                               "rsa-psk-aes128-gcm-sha256",
                                               "rsa-psk-aes256-cbc-sha",
                                               "rsa-psk-aes256-cbc-sha384",
                                               "rsa-psk-aes256-gcm-sha384",
                                               "rsa-psk-chacha20-poly1305",
                                               "srp-aes-128-cbc-sha",
                                               "srp-aes-256-cbc-sha",
                                               "srp-rsa-aes-128-cbc-sha",
                                               "srp-rsa-aes-256-cbc-sha",
                                               "tls_aes_128_ccm_8_sha256",
                                               "tls_aes_128_ccm_sha256",
                                               "tls_aes_128_gcm_sha256",
                                               "tls_aes_256_gcm_sha384",
                                               "tls_chacha20_poly1305_sha256"};

/* ASCII case-insensitive strcmp (strcasecmp is POSIX, not C11). */
static int ascii_casecmp(const char *a, const char *b) {
  for (;; a++, b++) {
    int ca = (*a >= 'A' && *a <= 'Z') ? *a - 'A' + 'a' : *a;
    int cb = (*b >= 'A' && *b <= 'Z') ? *b - 'A' + 'a' : *b;
    if (ca != cb || ca == 0) return ca - cb;
  }
}

static int is_lower(const char *s) {
  for (; *s; s++)
    if (*s >= 'A' && *s <= 'Z') return 0;
  return 1;
}

static int count_origin(unsigned origin) {
  int n = 0;
  for (size_t i = 0; i < portls__suite_count(); i++)
    n += (portls__suite_at(i)->origin & origin) != 0;
  return n;
}

Test(suites, table_holds_every_openssl_3_0_and_mbedtls_2_28_suite) {
  cr_expect_eq(portls__suite_count(), 243);
  cr_expect_eq(count_origin(PORTLS__ORIGIN_OPENSSL), 160); /* 155 + 5 TLS 1.3 */
  cr_expect_eq(count_origin(PORTLS__ORIGIN_MBEDTLS), 207);
  cr_expect_leq(portls__suite_count(), PORTLS__SUITE_MAX);
  cr_expect_null(portls__suite_at(portls__suite_count()));
}

Test(suites, table_is_sorted_by_id_and_names_are_unique) {
  size_t n = portls__suite_count();
  for (size_t i = 0; i < n; i++) {
    const portls__suite *a = portls__suite_at(i);
    cr_expect_lt(strlen(a->name), PORTLS__SUITE_NAME_MAX, "%s", a->name);
    cr_expect_eq(strncmp(a->std_name, "TLS_", 4), 0, "%s", a->std_name);
    if (i + 1 < n) cr_expect_lt(a->id, portls__suite_at(i + 1)->id, "%s", a->name);
    for (size_t j = i + 1; j < n; j++) {
      const portls__suite *b = portls__suite_at(j);
      cr_expect_neq(ascii_casecmp(a->name, b->name), 0, "%s", a->name);
      cr_expect_neq(strcmp(a->std_name, b->std_name), 0, "%s", a->std_name);
      cr_expect_neq(strcmp(a->name, b->std_name), 0, "%s", a->name);
    }
  }
}

Test(suites, ranks_order_legacy_and_tls13_suites_separately) {
  uint8_t seen[PORTLS__SUITE_MAX] = {0};
  size_t legacy = 0, tls13 = 0;
  for (size_t i = 0; i < portls__suite_count(); i++) {
    const portls__suite *s = portls__suite_at(i);
    if (s->min_version == PORTLS__V_TLS1_3) {
      cr_expect_lt(s->rank, 5);
      tls13++;
      continue;
    }
    cr_assert_lt(s->rank, PORTLS__SUITE_MAX);
    cr_expect_eq(seen[s->rank], 0, "rank %d twice", s->rank);
    seen[s->rank] = 1;
    legacy++;
  }
  for (size_t r = 0; r < legacy; r++) cr_expect_eq(seen[r], 1, "rank %zu missing", r);
  cr_expect_eq(tls13, 5);
  cr_expect_eq(portls__suite_by_name("TLS_AES_256_GCM_SHA384")->rank, 0);
  cr_expect_eq(portls__suite_by_name("ECDHE-ECDSA-AES256-GCM-SHA384")->rank, 0);
}

Test(suites, by_id_and_by_name_find_openssl_suites) {
  const portls__suite *s = portls__suite_by_id(0xC02F);
  cr_assert_not_null(s);
  cr_expect_str_eq(s->name, "ECDHE-RSA-AES128-GCM-SHA256");
  cr_expect_str_eq(s->std_name, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
  cr_expect_eq(s->kx, PORTLS__K_ECDHE);
  cr_expect_eq(s->auth, PORTLS__A_RSA);
  cr_expect_eq(s->enc, PORTLS__E_AES128GCM);
  cr_expect_eq(s->mac, PORTLS__M_AEAD);
  cr_expect_eq(s->strength, PORTLS__S_HIGH | PORTLS__S_FIPS);
  cr_expect_eq(s->strength_bits, 128);
  cr_expect_eq(s->min_version, PORTLS__V_TLS1_2);
  cr_expect_eq(portls__suite_by_name("ECDHE-RSA-AES128-GCM-SHA256"), s);
  cr_expect_eq(portls__suite_by_name("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), s);
  cr_expect_null(portls__suite_by_name("ecdhe-rsa-aes128-gcm-sha256"));
  cr_expect_null(portls__suite_by_name("NOPE"));
  cr_expect_null(portls__suite_by_name(NULL));
  cr_expect_null(portls__suite_by_id(0x0000));
  cr_expect_null(portls__suite_by_id(0xFFFF));
  cr_expect_eq(portls__suite_by_id(0x0001), portls__suite_by_name("NULL-MD5"));
  cr_expect_eq(portls__suite_by_id(0xCCAC), portls__suite_by_name("ECDHE-PSK-CHACHA20-POLY1305"));
  s = portls__suite_by_name("TLS_CHACHA20_POLY1305_SHA256");
  cr_assert_not_null(s);
  cr_expect_eq(s->id, 0x1303);
  cr_expect_eq(s->kx, PORTLS__K_ANY);
  cr_expect_eq(s->auth, PORTLS__A_ANY);
}

Test(suites, suites_openssl_lacks_take_openssl_header_or_family_names) {
  struct {
    uint16_t id;
    const char *name;
  } cases[] = {
      {0x000A, "DES-CBC3-SHA"}, /* SSL3_TXT_RSA_DES_192_CBC3_SHA */
      {0x0016, "DHE-RSA-DES-CBC3-SHA"},
      {0x0005, "RC4-SHA"},
      {0xC004, "ECDH-ECDSA-AES128-SHA"}, /* TLS1_TXT_ECDH_ECDSA_... */
      {0xC032, "ECDH-RSA-AES256-GCM-SHA384"},
      {0xC062, "ECDH-ARIA128-GCM-SHA256"}, /* OpenSSL's own spelling */
      {0xC03C, "ARIA128-SHA256"},          /* derived, like CAMELLIA128-SHA256 */
      {0xC04C, "ECDHE-RSA-ARIA128-SHA256"},
      {0xC070, "ECDHE-PSK-ARIA128-SHA256"},
      {0xC08A, "ECDHE-RSA-CAMELLIA128-GCM-SHA256"},
      {0xC07A, "CAMELLIA128-GCM-SHA256"},
      {0xC0FF, "ECJPAKE-AES128-CCM8"},
  };
  for (size_t i = 0; i < PORTLS__ARRAY_SIZE(cases); i++) {
    const portls__suite *s = portls__suite_by_id(cases[i].id);
    cr_assert_not_null(s, "0x%04X", cases[i].id);
    cr_expect_str_eq(s->name, cases[i].name);
    cr_expect_eq(s->origin, PORTLS__ORIGIN_MBEDTLS, "%s", s->name);
  }
  const portls__suite *s = portls__suite_by_name("DES-CBC3-SHA");
  cr_expect_eq(s->strength_bits, 112);
  cr_expect_eq(s->alg_bits, 168);
  cr_expect_eq(s->strength & PORTLS__S_STRONG_MASK, PORTLS__S_MEDIUM | PORTLS__S_FIPS);
  s = portls__suite_by_name("ECDH-RSA-AES128-SHA");
  cr_expect_eq(s->kx, PORTLS__K_ECDHr);
  cr_expect_eq(s->auth, PORTLS__A_ECDH);
  cr_expect_eq(s->min_version, PORTLS__V_TLS1);
  s = portls__suite_by_name("PSK-ARIA128-SHA256");
  cr_expect_eq(s->enc, PORTLS__E_ARIA128);
  cr_expect_eq(s->mac, PORTLS__M_SHA256);
  cr_expect_eq(s->min_version, PORTLS__V_TLS1_2);
}

Test(suites, version_name_is_what_ssl_cipher_get_version_prints) {
  cr_expect_str_eq(portls__suite_version_name(portls__suite_by_name("AES128-SHA")), "SSLv3");
  cr_expect_str_eq(portls__suite_version_name(portls__suite_by_name("ECDHE-RSA-AES128-SHA")),
                   "TLSv1.0");
  cr_expect_str_eq(portls__suite_version_name(portls__suite_by_name("PSK-AES128-CBC-SHA256")),
                   "TLSv1.0");
  cr_expect_str_eq(portls__suite_version_name(portls__suite_by_name("AES128-GCM-SHA256")),
                   "TLSv1.2");
  cr_expect_str_eq(portls__suite_version_name(portls__suite_by_name("TLS_AES_128_GCM_SHA256")),
                   "TLSv1.3");
  cr_expect_str_eq(portls__suite_version_name(NULL), "(NONE)");
}

Test(suites, names_for_node_default_list_equal_node_get_ciphers) {
  /* Node lists the suites of OpenSSL's DEFAULT plus the five TLS 1.3 ones. */
  uint16_t avail[PORTLS__SUITE_MAX], ids[PORTLS__SUITE_MAX];
  size_t n_avail = 0, n = 0;
  for (size_t i = 0; i < portls__suite_count(); i++)
    if (portls__suite_at(i)->origin & PORTLS__ORIGIN_OPENSSL)
      avail[n_avail++] = portls__suite_at(i)->id;
  uint16_t *legacy = NULL;
  size_t n_legacy = 0;
  portls_error err = {0};
  cr_assert_eq(portls__cipher_compile("DEFAULT", avail, n_avail, &legacy, &n_legacy, &err), 0);
  for (size_t i = 0; i < n_legacy; i++) ids[n++] = legacy[i];
  portls__free(legacy);
  for (uint16_t id = 0x1301; id <= 0x1305; id++) ids[n++] = id;
  ids[n++] = 0xC02F; /* a duplicate */
  ids[n++] = 0xFEFE; /* unknown to the table */

  const char *names[PORTLS__SUITE_MAX];
  static char store[PORTLS__SUITE_MAX][PORTLS__SUITE_NAME_MAX];
  size_t count = portls__suite_names(ids, n, names, store);
  cr_assert_eq(count, PORTLS__ARRAY_SIZE(node_get_ciphers));
  for (size_t i = 0; i < count; i++) cr_expect_str_eq(names[i], node_get_ciphers[i]);
}

Test(suites, is_default_agrees_with_compiling_default) {
  uint16_t avail[PORTLS__SUITE_MAX];
  for (size_t i = 0; i < portls__suite_count(); i++) avail[i] = portls__suite_at(i)->id;
  uint16_t *ids = NULL;
  size_t n = 0;
  portls_error err = {0};
  cr_assert_eq(portls__cipher_compile("DEFAULT", avail, portls__suite_count(), &ids, &n, &err), 0);
  for (size_t i = 0; i < portls__suite_count(); i++) {
    const portls__suite *s = portls__suite_at(i);
    int in = 0;
    for (size_t j = 0; j < n; j++) in |= ids[j] == s->id;
    if (s->min_version == PORTLS__V_TLS1_3) in = 1;
    cr_expect_eq(portls__suite_is_default(s), in, "%s", s->name);
  }
  portls__free(ids);
}

Test(suites, get_ciphers_lists_the_backends_default_suites_sorted_lowercase_unique) {
  const char *const *names = NULL;
  size_t count = portls_get_ciphers(&names);
  cr_assert_not_null(names);
  const uint16_t *ids = NULL;
  size_t n_ids = portls__backend.suites(&ids);
  size_t expected = 0;
  uint8_t seen[PORTLS__SUITE_MAX] = {0};
  for (size_t i = 0; i < n_ids; i++) {
    const portls__suite *s = portls__suite_by_id(ids[i]);
    if (s == NULL || !portls__suite_is_default(s)) continue;
    size_t idx = 0;
    while (portls__suite_at(idx) != s) idx++;
    if (!seen[idx]) expected++;
    seen[idx] = 1;
  }
  cr_expect_eq(count, expected);
  for (size_t i = 0; i < count; i++) {
    cr_expect(is_lower(names[i]), "%s", names[i]);
    if (i > 0) cr_expect_lt(strcmp(names[i - 1], names[i]), 0, "%s", names[i]);
    int found = 0;
    for (size_t j = 0; j < portls__suite_count(); j++) {
      const portls__suite *s = portls__suite_at(j);
      if (ascii_casecmp(s->name, names[i]) == 0) found = seen[j];
    }
    cr_expect(found, "%s is not a default suite of the backend", names[i]);
  }
  const char *const *again = NULL;
  cr_expect_eq(portls_get_ciphers(&again), count);
  cr_expect_eq(again, names);
  cr_expect_eq(portls_get_ciphers(NULL), count);
}
