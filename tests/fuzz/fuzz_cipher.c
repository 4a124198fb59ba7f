/* Fuzz target: the cipher-string compiler (core/tls/cipherlist.c), which
 * takes application strings (and PORTLS_TLS_CIPHER_LIST from the
 * environment) apart.
 *
 * The input, cut at its first NUL, is compiled against four suite sets: the
 * whole table, OpenSSL's suites, mbedTLS's, and a subset chosen by the
 * input. What must hold:
 *   - the result is 0 or PORTLS_ECIPHERS with a message, ids are unique and
 *     available, and the TLS 1.3 list holds TLS 1.3 ids only;
 *   - one language everywhere: a suite outside OpenSSL 3's language is only
 *     selected when the string names it (OpenSSL-style, IANA or mbedTLS name);
 *   - a smaller set changes nothing but what it lacks: the result on a subset
 *     is the whole table's result with the missing ids left out (or "no
 *     cipher match" when nothing is left), and a syntax error is the same
 *     error on every set;
 *   - the public portls_cipher_list() agrees with it on the linked backend.
 *
 * Seeds (tests/fuzz/corpus/cipher/): Node's default list, OpenSSL's
 * documented examples, every operator and command, IANA and mbedTLS names.
 * fuzz-scope: core */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portls/portls.h"
#include "tls/suites.h"
#include "util/util.h"

#define CHECK(c)                                                                                   \
  do {                                                                                             \
    if (!(c)) {                                                                                    \
      fprintf(stderr, "fuzz_cipher: check failed at line %d: %s\n", __LINE__, #c);                 \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

typedef struct result {
  int rc, rc13;
  uint16_t *ids, *ids13;
  size_t n, n13;
  portls_error err;
} result;

static void compile(const char *str, const uint16_t *avail, size_t n_avail, result *r) {
  memset(r, 0, sizeof *r);
  r->rc = portls__cipher_compile(str, avail, n_avail, &r->ids, &r->n, &r->err);
  portls_error err13 = {0};
  r->rc13 = portls__cipher_compile_tls13(str, avail, n_avail, &r->ids13, &r->n13, &err13);
  CHECK(r->rc == 0 || r->rc == PORTLS_ECIPHERS);
  CHECK(r->rc13 == r->rc); /* the same validation */
  if (r->rc < 0) {
    CHECK(r->ids == NULL && r->n == 0 && r->ids13 == NULL && r->n13 == 0);
    CHECK(r->err.code == PORTLS_ECIPHERS && r->err.message[0] != '\0');
    CHECK(strcmp(r->err.message, err13.message) == 0);
    return;
  }
  CHECK((r->ids == NULL) == (r->n == 0));
  CHECK((r->ids13 == NULL) == (r->n13 == 0));
  for (size_t i = 0; i < r->n; i++) {
    const portls__suite *s = portls__suite_by_id(r->ids[i]);
    CHECK(s != NULL && s->min_version < PORTLS__V_TLS1_3);
    int avail_has = 0;
    for (size_t k = 0; k < n_avail; k++) avail_has |= avail[k] == r->ids[i];
    CHECK(avail_has);
    for (size_t j = 0; j < i; j++) CHECK(r->ids[j] != r->ids[i]);
  }
  for (size_t i = 0; i < r->n13; i++) {
    const portls__suite *s = portls__suite_by_id(r->ids13[i]);
    CHECK(s != NULL && s->min_version == PORTLS__V_TLS1_3);
    for (size_t j = 0; j < i; j++) CHECK(r->ids13[j] != r->ids13[i]);
  }
}

static void release(result *r) {
  portls__free(r->ids);
  portls__free(r->ids13);
}

/* Whether str names s in one of its tokens (split at separators and '+',
 * less the operator): OpenSSL-style, IANA, or mbedTLS name (IANA with '-',
 * TLS-DHE-PSK- for IANA's TLS_PSK_DHE_). */
static int names(const char *str, const portls__suite *s) {
  char mbed[96];
  size_t k = 0;
  for (; s->std_name[k] != '\0' && k + 1 < sizeof mbed; k++)
    mbed[k] = s->std_name[k] == '_' ? '-' : s->std_name[k];
  mbed[k] = '\0';
  if (strncmp(mbed, "TLS-PSK-DHE-", 12) == 0) memcpy(mbed, "TLS-DHE-PSK-", 12);
  for (const char *p = str; *p != '\0';) {
    size_t tl = strcspn(p, ":, ;+");
    const char *t = p;
    while (tl > 0 && (*t == '!' || *t == '-' || *t == '@')) t++, tl--;
    const char *cands[3] = {s->name, s->std_name, mbed};
    for (size_t c = 0; c < 3; c++)
      if (tl == strlen(cands[c]) && strncmp(t, cands[c], tl) == 0) return 1;
    p = t + tl;
    if (*p != '\0') p++;
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint16_t all[PORTLS__SUITE_MAX], ossl[PORTLS__SUITE_MAX], mbed[PORTLS__SUITE_MAX];
  static size_t n_all, n_ossl, n_mbed;
  if (n_all == 0) {
    for (size_t i = 0; i < portls__suite_count(); i++) {
      const portls__suite *s = portls__suite_at(i);
      all[n_all++] = s->id;
      if (s->origin & PORTLS__ORIGIN_OPENSSL) ossl[n_ossl++] = s->id;
      if (s->origin & PORTLS__ORIGIN_MBEDTLS) mbed[n_mbed++] = s->id;
    }
  }
  if (size > 4096) return 0; /* long strings add nothing but time */
  char *str = malloc(size + 1);
  CHECK(str != NULL);
  memcpy(str, data, size);
  str[size] = '\0';

  result whole;
  compile(str, all, n_all, &whole);
  if (whole.rc == 0) {
    for (size_t i = 0; i < whole.n; i++) {
      const portls__suite *s = portls__suite_by_id(whole.ids[i]);
      if (!(s->origin & PORTLS__ORIGIN_OPENSSL) && !names(str, s)) {
        fprintf(stderr, "fuzz_cipher: \"%s\" selects %s, outside OpenSSL's language\n", str,
                s->name);
        abort();
      }
    }
  }

  /* Subsets: OpenSSL's, mbedTLS's, and one the input picks (a hash of it). */
  uint16_t pick[PORTLS__SUITE_MAX];
  size_t n_pick = 0;
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 0x100000001b3ull;
  for (size_t i = 0; i < n_all; i++) {
    h = h * 6364136223846793005ull + 1442695040888963407ull;
    if ((h >> 61) != 0) pick[n_pick++] = all[i]; /* ~7 in 8 */
  }
  const uint16_t *sets[3] = {ossl, mbed, pick};
  size_t n_sets[3] = {n_ossl, n_mbed, n_pick};
  for (size_t k = 0; k < 3; k++) {
    result sub;
    compile(str, sets[k], n_sets[k], &sub);
    if (whole.rc < 0) {
      /* an error on the whole table (bad syntax, unknown name, or nothing
       * selected) is the same error on any part of it */
      CHECK(sub.rc == whole.rc && strcmp(sub.err.message, whole.err.message) == 0);
    } else {
      /* the whole table's answer without the missing ids */
      size_t j = 0, j13 = 0;
      for (size_t i = 0; i < whole.n; i++) {
        int in = 0;
        for (size_t m = 0; m < n_sets[k]; m++) in |= sets[k][m] == whole.ids[i];
        if (!in) continue;
        CHECK(sub.rc == 0 && j < sub.n && sub.ids[j] == whole.ids[i]);
        j++;
      }
      if (sub.rc < 0) {
        CHECK(j == 0 && strstr(sub.err.message, "no cipher match") != NULL);
      } else {
        CHECK(j == sub.n);
        for (size_t i = 0; i < whole.n13; i++) {
          int in = 0;
          for (size_t m = 0; m < n_sets[k]; m++) in |= sets[k][m] == whole.ids13[i];
          if (!in) continue;
          CHECK(j13 < sub.n13 && sub.ids13[j13] == whole.ids13[i]);
          j13++;
        }
        CHECK(j13 == sub.n13);
      }
    }
    release(&sub);
  }

  /* The public API on the linked backend: the same validation. */
  const char **list = NULL;
  size_t count = 0;
  portls_error err = {0};
  int rc = portls_cipher_list(str, &list, &count, &err);
  CHECK(rc == 0 || rc == PORTLS_ECIPHERS);
  if (whole.rc < 0) CHECK(rc == whole.rc);
  if (rc == 0) {
    CHECK(count > 0 && list[count] == NULL);
    for (size_t i = 0; i < count; i++) CHECK(portls__suite_by_name(list[i]) != NULL);
  }
  portls_free(list);
  (void)portls__cipher_security_level(str);

  release(&whole);
  free(str);
  return 0;
}
