/* portls core: the OpenSSL cipher-list compiler (see suites.h).
 *
 * A port of the rule engine of OpenSSL 3.0's ssl/ssl_ciph.c to the suite
 * table: the suites sit in one list in OpenSSL's default preference order
 * (`rank`), all inactive; each item of the string then activates, moves,
 * deactivates or removes the suites it matches, exactly as OpenSSL's
 * ssl_cipher_apply_rule() does, so the resulting order is OpenSSL's. */
#include <string.h>

#include "tls/suites.h"
#include "util/util.h"

enum { RULE_ADD = 1, RULE_KILL, RULE_DEL, RULE_ORD, RULE_SPECIAL };

/* What an item selects (OpenSSL's alg_mkey/alg_auth/... of one rule). */
typedef struct pattern {
  const portls__suite *suite; /* an explicit suite name */
  uint32_t kx, auth, enc, mac;
  uint16_t min_version;
  uint8_t strength;
} pattern;

typedef struct alias {
  const char *name;
  uint32_t kx, auth, enc, mac;
  uint16_t min_version;
  uint8_t strength;
} alias;

/* Selects nothing: a version no suite has. */
#define NOTHING 0x0001u

#define E_AES                                                                                      \
  (PORTLS__E_AES128 | PORTLS__E_AES256 | PORTLS__E_AES128GCM | PORTLS__E_AES256GCM |               \
   PORTLS__E_AES128CCM | PORTLS__E_AES256CCM | PORTLS__E_AES128CCM8 | PORTLS__E_AES256CCM8)
#define E_CAMELLIA128 (PORTLS__E_CAMELLIA128 | PORTLS__E_CAMELLIA128GCM)
#define E_CAMELLIA256 (PORTLS__E_CAMELLIA256 | PORTLS__E_CAMELLIA256GCM)
#define E_ARIA128 (PORTLS__E_ARIA128GCM | PORTLS__E_ARIA128)
#define E_ARIA256 (PORTLS__E_ARIA256GCM | PORTLS__E_ARIA256)
#define E_CBC                                                                                      \
  (PORTLS__E_DES | PORTLS__E_3DES | PORTLS__E_RC2 | PORTLS__E_IDEA | PORTLS__E_AES128 |            \
   PORTLS__E_AES256 | PORTLS__E_CAMELLIA128 | PORTLS__E_CAMELLIA256 | PORTLS__E_SEED |             \
   PORTLS__E_ARIA128 | PORTLS__E_ARIA256)
#define K_PSK (PORTLS__K_PSK | PORTLS__K_RSAPSK | PORTLS__K_ECDHEPSK | PORTLS__K_DHEPSK)
#define K_ECDH (PORTLS__K_ECDHr | PORTLS__K_ECDHe)

/* OpenSSL 3.0's cipher_aliases[], then portls's additions (suites.h). */
static const alias aliases[] = {
    {"ALL", 0, 0, ~PORTLS__E_NULL, 0, 0, 0},
    {"COMPLEMENTOFALL", 0, 0, PORTLS__E_NULL, 0, 0, 0},
    {"COMPLEMENTOFDEFAULT", 0, 0, 0, 0, 0, PORTLS__S_NOT_DEFAULT},
    {"kRSA", PORTLS__K_RSA, 0, 0, 0, 0, 0},
    {"kEDH", PORTLS__K_DHE, 0, 0, 0, 0, 0},
    {"kDHE", PORTLS__K_DHE, 0, 0, 0, 0, 0},
    {"DH", PORTLS__K_DHE, 0, 0, 0, 0, 0},
    {"kEECDH", PORTLS__K_ECDHE, 0, 0, 0, 0, 0},
    {"kECDHE", PORTLS__K_ECDHE, 0, 0, 0, 0, 0},
    {"ECDH", PORTLS__K_ECDHE, 0, 0, 0, 0, 0},
    {"kPSK", PORTLS__K_PSK, 0, 0, 0, 0, 0},
    {"kRSAPSK", PORTLS__K_RSAPSK, 0, 0, 0, 0, 0},
    {"kECDHEPSK", PORTLS__K_ECDHEPSK, 0, 0, 0, 0, 0},
    {"kDHEPSK", PORTLS__K_DHEPSK, 0, 0, 0, 0, 0},
    {"kSRP", PORTLS__K_SRP, 0, 0, 0, 0, 0},
    {"kGOST", PORTLS__K_GOST, 0, 0, 0, 0, 0},
    {"kGOST18", PORTLS__K_GOST18, 0, 0, 0, 0, 0},
    {"aRSA", 0, PORTLS__A_RSA, 0, 0, 0, 0},
    {"aDSS", 0, PORTLS__A_DSS, 0, 0, 0, 0},
    {"DSS", 0, PORTLS__A_DSS, 0, 0, 0, 0},
    {"aNULL", 0, PORTLS__A_NULL, 0, 0, 0, 0},
    {"aECDSA", 0, PORTLS__A_ECDSA, 0, 0, 0, 0},
    {"ECDSA", 0, PORTLS__A_ECDSA, 0, 0, 0, 0},
    {"aPSK", 0, PORTLS__A_PSK, 0, 0, 0, 0},
    {"aGOST01", 0, PORTLS__A_GOST01, 0, 0, 0, 0},
    {"aGOST12", 0, PORTLS__A_GOST12, 0, 0, 0, 0},
    {"aGOST", 0, PORTLS__A_GOST01 | PORTLS__A_GOST12, 0, 0, 0, 0},
    {"aSRP", 0, PORTLS__A_SRP, 0, 0, 0, 0},
    {"EDH", PORTLS__K_DHE, ~PORTLS__A_NULL, 0, 0, 0, 0},
    {"DHE", PORTLS__K_DHE, ~PORTLS__A_NULL, 0, 0, 0, 0},
    {"EECDH", PORTLS__K_ECDHE, ~PORTLS__A_NULL, 0, 0, 0, 0},
    {"ECDHE", PORTLS__K_ECDHE, ~PORTLS__A_NULL, 0, 0, 0, 0},
    {"NULL", 0, 0, PORTLS__E_NULL, 0, 0, 0},
    {"RSA", PORTLS__K_RSA, PORTLS__A_RSA, 0, 0, 0, 0},
    {"ADH", PORTLS__K_DHE, PORTLS__A_NULL, 0, 0, 0, 0},
    {"AECDH", PORTLS__K_ECDHE, PORTLS__A_NULL, 0, 0, 0, 0},
    {"PSK", K_PSK, 0, 0, 0, 0, 0},
    {"SRP", PORTLS__K_SRP, 0, 0, 0, 0, 0},
    {"3DES", 0, 0, PORTLS__E_3DES, 0, 0, 0},
    {"RC4", 0, 0, PORTLS__E_RC4, 0, 0, 0},
    {"RC2", 0, 0, PORTLS__E_RC2, 0, 0, 0},
    {"IDEA", 0, 0, PORTLS__E_IDEA, 0, 0, 0},
    {"SEED", 0, 0, PORTLS__E_SEED, 0, 0, 0},
    {"eNULL", 0, 0, PORTLS__E_NULL, 0, 0, 0},
    {"GOST89", 0, 0, PORTLS__E_GOST89 | PORTLS__E_GOST8912, 0, 0, 0},
    {"AES128", 0, 0,
     PORTLS__E_AES128 | PORTLS__E_AES128GCM | PORTLS__E_AES128CCM | PORTLS__E_AES128CCM8, 0, 0, 0},
    {"AES256", 0, 0,
     PORTLS__E_AES256 | PORTLS__E_AES256GCM | PORTLS__E_AES256CCM | PORTLS__E_AES256CCM8, 0, 0, 0},
    {"AES", 0, 0, E_AES, 0, 0, 0},
    {"AESGCM", 0, 0, PORTLS__E_AES128GCM | PORTLS__E_AES256GCM, 0, 0, 0},
    {"AESCCM", 0, 0,
     PORTLS__E_AES128CCM | PORTLS__E_AES256CCM | PORTLS__E_AES128CCM8 | PORTLS__E_AES256CCM8, 0, 0,
     0},
    {"AESCCM8", 0, 0, PORTLS__E_AES128CCM8 | PORTLS__E_AES256CCM8, 0, 0, 0},
    {"CAMELLIA128", 0, 0, E_CAMELLIA128, 0, 0, 0},
    {"CAMELLIA256", 0, 0, E_CAMELLIA256, 0, 0, 0},
    {"CAMELLIA", 0, 0, E_CAMELLIA128 | E_CAMELLIA256, 0, 0, 0},
    {"CHACHA20", 0, 0, PORTLS__E_CHACHA20POLY1305, 0, 0, 0},
    {"GOST2012-GOST8912-GOST8912", 0, 0, PORTLS__E_GOST8912, 0, 0, 0},
    {"ARIA", 0, 0, E_ARIA128 | E_ARIA256, 0, 0, 0},
    {"ARIAGCM", 0, 0, PORTLS__E_ARIA128GCM | PORTLS__E_ARIA256GCM, 0, 0, 0},
    {"ARIA128", 0, 0, E_ARIA128, 0, 0, 0},
    {"ARIA256", 0, 0, E_ARIA256, 0, 0, 0},
    {"CBC", 0, 0, E_CBC, 0, 0, 0},
    {"MD5", 0, 0, 0, PORTLS__M_MD5, 0, 0},
    {"SHA1", 0, 0, 0, PORTLS__M_SHA1, 0, 0},
    {"SHA", 0, 0, 0, PORTLS__M_SHA1, 0, 0},
    {"GOST94", 0, 0, 0, PORTLS__M_GOST94, 0, 0},
    {"GOST89MAC", 0, 0, 0, PORTLS__M_GOST89MAC, 0, 0},
    {"SHA256", 0, 0, 0, PORTLS__M_SHA256, 0, 0},
    {"SHA384", 0, 0, 0, PORTLS__M_SHA384, 0, 0},
    {"GOST12", 0, 0, 0, PORTLS__M_GOST12, 0, 0},
    {"SSLv3", 0, 0, 0, 0, PORTLS__V_SSL3, 0},
    {"TLSv1", 0, 0, 0, 0, PORTLS__V_TLS1, 0},
    {"TLSv1.0", 0, 0, 0, 0, PORTLS__V_TLS1, 0},
    {"TLSv1.2", 0, 0, 0, 0, PORTLS__V_TLS1_2, 0},
    {"LOW", 0, 0, 0, 0, 0, PORTLS__S_LOW},
    {"MEDIUM", 0, 0, 0, 0, 0, PORTLS__S_MEDIUM},
    {"HIGH", 0, 0, 0, 0, 0, PORTLS__S_HIGH},
    {"FIPS", 0, 0, ~PORTLS__E_NULL, 0, 0, PORTLS__S_FIPS},
    /* OpenSSL's "EDH-" spellings of the DHE 3DES suites. */
    {"EDH-DSS-DES-CBC3-SHA", PORTLS__K_DHE, PORTLS__A_DSS, PORTLS__E_3DES, PORTLS__M_SHA1, 0, 0},
    {"EDH-RSA-DES-CBC3-SHA", PORTLS__K_DHE, PORTLS__A_RSA, PORTLS__E_3DES, PORTLS__M_SHA1, 0, 0},
    /* portls: classes OpenSSL 3.0 no longer has (OpenSSL 1.0.2's meaning). */
    {"DES", 0, 0, PORTLS__E_DES, 0, 0, 0},
    {"kECDHr", PORTLS__K_ECDHr, 0, 0, 0, 0, 0},
    {"kECDHe", PORTLS__K_ECDHe, 0, 0, 0, 0, 0},
    {"kECDH", K_ECDH, 0, 0, 0, 0, 0},
    {"aECDH", 0, PORTLS__A_ECDH, 0, 0, 0, 0},
    {"kECJPAKE", PORTLS__K_ECJPAKE, 0, 0, 0, 0, 0},
    {"ECJPAKE", PORTLS__K_ECJPAKE, 0, 0, 0, 0, 0},
    /* portls: names found in old strings that match no suite any more. */
    {"EXPORT", 0, 0, 0, 0, NOTHING, 0},
    {"EXP", 0, 0, 0, 0, NOTHING, 0},
    {"EXPORT40", 0, 0, 0, 0, NOTHING, 0},
    {"EXPORT56", 0, 0, 0, 0, NOTHING, 0},
    {"SSLv2", 0, 0, 0, 0, NOTHING, 0},
    {"TLSv1.1", 0, 0, 0, 0, PORTLS__V_TLS1_1, 0},
    {"kDH", 0, 0, 0, 0, NOTHING, 0},
    {"kDHr", 0, 0, 0, 0, NOTHING, 0},
    {"kDHd", 0, 0, 0, 0, NOTHING, 0},
    {"aDH", 0, 0, 0, 0, NOTHING, 0},
    /* Node's default list (PORTLS_DEFAULT_CIPHERS) has carried these two since
     * v0.10, yet no such suites exist; OpenSSL skips them silently. */
    {"DHE-RSA-AES256-SHA384", 0, 0, 0, 0, NOTHING, 0},
    {"ECDHE-RSA-AES256-SHA256", 0, 0, 0, 0, NOTHING, 0},
};

#define DEFAULT_RULE "ALL:!COMPLEMENTOFDEFAULT:!eNULL" /* OSSL_default_cipher_list() */
#define TLS13_MAX 16

/* The working list: OpenSSL's CIPHER_ORDER as index links. */
typedef struct co_list {
  const portls__suite *suite[PORTLS__SUITE_MAX];
  int next[PORTLS__SUITE_MAX], prev[PORTLS__SUITE_MAX];
  uint8_t active[PORTLS__SUITE_MAX];
  int head, tail;
  /* TLS 1.3 suites named in the string */
  uint16_t tls13[TLS13_MAX];
  size_t n_tls13;
  uint16_t tls13_removed[TLS13_MAX];
  size_t n_tls13_removed;
  uint16_t tls13_killed[TLS13_MAX];
  size_t n_tls13_killed;
  int tls13_added;
} co_list;

static int is_sep(char c) { return c == ':' || c == ' ' || c == ';' || c == ','; }

static int is_name_char(char c) {
  /* OpenSSL's set plus '_' for IANA names. */
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '=' || c == '_';
}

static int name_is(const char *name, const char *buf, size_t len) {
  return strncmp(name, buf, len) == 0 && name[len] == '\0';
}

static int available_has(const uint16_t *available, size_t n, uint16_t id) {
  for (size_t i = 0; i < n; i++)
    if (available[i] == id) return 1;
  return 0;
}

static int by_rank(const portls__suite *a, const portls__suite *b) {
  return a->rank < b->rank ? -1 : a->rank > b->rank;
}

static void list_init(co_list *l, const uint16_t *available, size_t n_available) {
  size_t n = 0;
  memset(l, 0, sizeof *l);
  for (size_t i = 0; i < portls__suite_count(); i++) {
    const portls__suite *s = portls__suite_at(i);
    if (s->min_version >= PORTLS__V_TLS1_3) continue;
    if (!available_has(available, n_available, s->id)) continue;
    /* insertion by rank: the table is small and this runs once per context */
    size_t j = n;
    while (j > 0 && by_rank(l->suite[j - 1], s) > 0) {
      l->suite[j] = l->suite[j - 1];
      j--;
    }
    l->suite[j] = s;
    n++;
  }
  for (size_t i = 0; i < n; i++) {
    l->prev[i] = (int)i - 1;
    l->next[i] = i + 1 < n ? (int)i + 1 : -1;
  }
  l->head = n > 0 ? 0 : -1;
  l->tail = n > 0 ? (int)n - 1 : -1;
}

static void unlink_node(co_list *l, int c) {
  if (l->prev[c] >= 0)
    l->next[l->prev[c]] = l->next[c];
  else
    l->head = l->next[c];
  if (l->next[c] >= 0)
    l->prev[l->next[c]] = l->prev[c];
  else
    l->tail = l->prev[c];
  l->next[c] = l->prev[c] = -1;
}

static void append_tail(co_list *l, int c) {
  if (c == l->tail) return;
  unlink_node(l, c);
  l->prev[c] = l->tail;
  l->next[c] = -1;
  if (l->tail >= 0)
    l->next[l->tail] = c;
  else
    l->head = c;
  l->tail = c;
}

static void append_head(co_list *l, int c) {
  if (c == l->head) return;
  unlink_node(l, c);
  l->next[c] = l->head;
  l->prev[c] = -1;
  if (l->head >= 0)
    l->prev[l->head] = c;
  else
    l->tail = c;
  l->head = c;
}

static int matches(const pattern *p, const portls__suite *s, int strength_bits) {
  if (strength_bits >= 0) return s->strength_bits == strength_bits;
  if (p->suite != NULL && p->suite != s) return 0;
  if (p->kx && !(p->kx & s->kx)) return 0;
  if (p->auth && !(p->auth & s->auth)) return 0;
  if (p->enc && !(p->enc & s->enc)) return 0;
  if (p->mac && !(p->mac & s->mac)) return 0;
  if (p->min_version && p->min_version != s->min_version) return 0;
  if ((p->strength & PORTLS__S_STRONG_MASK) && !(p->strength & PORTLS__S_STRONG_MASK & s->strength))
    return 0;
  if ((p->strength & PORTLS__S_NOT_DEFAULT) && !(s->strength & PORTLS__S_NOT_DEFAULT)) return 0;
  return 1;
}

/* ssl_cipher_apply_rule(): '-' walks backwards so that suites deleted
 * together keep their order at the head, where a later addition finds them. */
static void apply_rule(co_list *l, const pattern *p, int rule, int strength_bits) {
  int reverse = rule == RULE_DEL;
  int last = reverse ? l->head : l->tail;
  int next = reverse ? l->tail : l->head;
  int curr = -1;
  if (next < 0) return;
  for (;;) {
    if (curr == last) break;
    curr = next;
    if (curr < 0) break;
    next = reverse ? l->prev[curr] : l->next[curr];
    if (!matches(p, l->suite[curr], strength_bits)) continue;
    /* One language on every backend: an alias adds only what OpenSSL 3's
     * language can name; a suite outside it comes by its own name alone. '-',
     * '!' and '+' reach every suite the pattern matches. */
    if (rule == RULE_ADD && p != NULL && p->suite == NULL &&
        !(l->suite[curr]->origin & PORTLS__ORIGIN_OPENSSL))
      continue;
    switch (rule) {
    case RULE_ADD:
      if (!l->active[curr]) {
        append_tail(l, curr);
        l->active[curr] = 1;
      }
      break;
    case RULE_ORD:
      if (l->active[curr]) append_tail(l, curr);
      break;
    case RULE_DEL:
      if (l->active[curr]) {
        append_head(l, curr);
        l->active[curr] = 0;
      }
      break;
    case RULE_KILL:
      unlink_node(l, curr);
      l->active[curr] = 0;
      break;
    default:
      break;
    }
  }
}

/* ssl_cipher_strength_sort(): by descending strength bits, stable. */
static void strength_sort(co_list *l) {
  int max_bits = 0;
  uint8_t used[1024];
  memset(used, 0, sizeof used);
  for (int c = l->head; c >= 0; c = l->next[c])
    if (l->active[c]) {
      int b = l->suite[c]->strength_bits;
      if (b > max_bits) max_bits = b;
      if (b < (int)sizeof used) used[b] = 1;
    }
  for (int b = max_bits; b >= 0; b--)
    if (b < (int)sizeof used && used[b]) apply_rule(l, NULL, RULE_ORD, b);
}

static int contains16(const uint16_t *v, size_t n, uint16_t id) {
  for (size_t i = 0; i < n; i++)
    if (v[i] == id) return 1;
  return 0;
}

static void remove16(uint16_t *v, size_t *n, uint16_t id) {
  size_t j = 0;
  for (size_t i = 0; i < *n; i++)
    if (v[i] != id) v[j++] = v[i];
  *n = j;
}

static void push16(uint16_t *v, size_t *n, uint16_t id) {
  if (*n < TLS13_MAX && !contains16(v, *n, id)) v[(*n)++] = id;
}

static void tls13_rule(co_list *l, uint16_t id, int rule) {
  switch (rule) {
  case RULE_ADD:
    l->tls13_added = 1;
    if (!contains16(l->tls13_killed, l->n_tls13_killed, id)) push16(l->tls13, &l->n_tls13, id);
    break;
  case RULE_ORD:
    if (contains16(l->tls13, l->n_tls13, id)) {
      remove16(l->tls13, &l->n_tls13, id);
      push16(l->tls13, &l->n_tls13, id);
    }
    break;
  case RULE_KILL:
    push16(l->tls13_killed, &l->n_tls13_killed, id);
    /* fall through */
  default: /* RULE_DEL */
    remove16(l->tls13, &l->n_tls13, id);
    push16(l->tls13_removed, &l->n_tls13_removed, id);
    break;
  }
}

static const alias *find_alias(const char *buf, size_t len) {
  for (size_t i = 0; i < PORTLS__ARRAY_SIZE(aliases); i++)
    if (name_is(aliases[i].name, buf, len)) return &aliases[i];
  return NULL;
}

/* An mbedTLS name: the IANA name with '-' for '_' ("TLS-ECDHE-RSA-WITH-AES-
 * 128-GCM-SHA256"), but for the two suites IANA calls TLS_PSK_DHE_WITH_...,
 * which mbedTLS spells TLS-DHE-PSK-WITH-... */
static int mbedtls_name_is(const portls__suite *s, const char *buf, size_t len) {
  static const char quirk[] = "TLS_PSK_DHE_", mbed[] = "TLS-DHE-PSK-";
  const char *std = s->std_name;
  size_t i = 0;
  if (len < 4 || strncmp(buf, "TLS-", 4) != 0) return 0;
  if (strncmp(std, quirk, sizeof quirk - 1) == 0) {
    if (len < sizeof mbed - 1 || strncmp(buf, mbed, sizeof mbed - 1) != 0) return 0;
    i = sizeof mbed - 1;
  }
  for (; i < len; i++)
    if (std[i] == '\0' || (std[i] == '_' ? buf[i] != '-' : std[i] != buf[i])) return 0;
  return std[len] == '\0';
}

static const portls__suite *find_suite(const char *buf, size_t len) {
  /* OpenSSL's names first (OpenSSL looks up suites before aliases), then
   * IANA names, then mbedTLS's. */
  size_t n = portls__suite_count();
  for (size_t i = 0; i < n; i++)
    if (name_is(portls__suite_at(i)->name, buf, len)) return portls__suite_at(i);
  for (size_t i = 0; i < n; i++)
    if (name_is(portls__suite_at(i)->std_name, buf, len)) return portls__suite_at(i);
  for (size_t i = 0; i < n; i++)
    if (mbedtls_name_is(portls__suite_at(i), buf, len)) return portls__suite_at(i);
  return NULL;
}

static int unknown_token(const char *buf, size_t len, portls_error *err) {
  if (len == 7 && strncmp(buf, "DEFAULT", 7) == 0)
    return portls__err(err, PORTLS_ECIPHERS,
                       "cipher list: DEFAULT is only allowed at the start of the list");
  if (len >= 6 && strncmp(buf, "SUITEB", 6) == 0)
    return portls__err(err, PORTLS_ECIPHERS, "cipher list: Suite B mode \"%.*s\" is not supported",
                       (int)len, buf);
  return portls__err(err, PORTLS_ECIPHERS, "cipher list: unknown cipher or alias \"%.*s\"",
                     (int)len, buf);
}

static int syntax_error(const char *str, const char *at, portls_error *err) {
  if (*at == '\0')
    return portls__err(err, PORTLS_ECIPHERS, "cipher list: a name is missing at the end of \"%s\"",
                       str);
  return portls__err(err, PORTLS_ECIPHERS, "cipher list: unexpected '%c' at offset %d of \"%s\"",
                     *at, (int)(at - str), str);
}

/* Combines one '+' part into p as ssl_cipher_process_rulestr() does; returns 0
 * when the combination can match nothing. */
static int combine(pattern *p, uint32_t kx, uint32_t auth, uint32_t enc, uint32_t mac,
                   uint8_t strength) {
  if (kx) {
    if (p->kx && !(p->kx &= kx)) return 0;
    if (!p->kx) p->kx = kx;
  }
  if (auth) {
    if (p->auth && !(p->auth &= auth)) return 0;
    if (!p->auth) p->auth = auth;
  }
  if (enc) {
    if (p->enc && !(p->enc &= enc)) return 0;
    if (!p->enc) p->enc = enc;
  }
  if (mac) {
    if (p->mac && !(p->mac &= mac)) return 0;
    if (!p->mac) p->mac = mac;
  }
  if (strength & PORTLS__S_STRONG_MASK) {
    if (p->strength & PORTLS__S_STRONG_MASK) {
      p->strength &= (uint8_t)((strength & PORTLS__S_STRONG_MASK) | ~PORTLS__S_STRONG_MASK);
      if (!(p->strength & PORTLS__S_STRONG_MASK)) return 0;
    } else {
      /* OpenSSL assigns here, dropping a NOT_DEFAULT bit set by an earlier part. */
      p->strength = strength & PORTLS__S_STRONG_MASK;
    }
  }
  if (strength & PORTLS__S_NOT_DEFAULT) p->strength |= PORTLS__S_NOT_DEFAULT;
  return 1;
}

static int process(co_list *l, const char *whole, const char *str, portls_error *err) {
  const char *p = str;
  for (;;) {
    char ch = *p;
    int rule;
    if (ch == '\0') break;
    if (ch == '-') {
      rule = RULE_DEL;
      p++;
    } else if (ch == '+') {
      rule = RULE_ORD;
      p++;
    } else if (ch == '!') {
      rule = RULE_KILL;
      p++;
    } else if (ch == '@') {
      rule = RULE_SPECIAL;
      p++;
    } else {
      rule = RULE_ADD;
    }
    if (is_sep(ch)) {
      p++;
      continue;
    }

    pattern pat;
    int possible = 1, parts = 0;
    const portls__suite *tls13 = NULL;
    memset(&pat, 0, sizeof pat);
    for (;;) {
      const char *buf = p;
      size_t len = 0;
      while (is_name_char(*p)) {
        p++;
        len++;
      }
      if (len == 0) return syntax_error(whole, p, err);
      if (rule == RULE_SPECIAL) {
        if (len == 8 && strncmp(buf, "STRENGTH", 8) == 0) {
          strength_sort(l);
        } else if (len == 10 && strncmp(buf, "SECLEVEL=", 9) == 0 && buf[9] >= '0' &&
                   buf[9] <= '5') {
          /* accepted and ignored: see suites.h */
        } else {
          return portls__err(err, PORTLS_ECIPHERS, "cipher list: unknown command \"@%.*s\"",
                             (int)len, buf);
        }
        if (*p != '\0' && !is_sep(*p)) return syntax_error(whole, p, err);
        break;
      }
      int multi = *p == '+';
      if (multi) p++;
      parts++;

      const portls__suite *s = find_suite(buf, len);
      const alias *a = s == NULL ? find_alias(buf, len) : NULL;
      if (s == NULL && a == NULL) return unknown_token(buf, len, err);
      if (s != NULL && s->min_version >= PORTLS__V_TLS1_3) {
        tls13 = s;
      } else if (s != NULL) {
        /* an explicit suite: its version is not part of the pattern */
        if (possible && !combine(&pat, s->kx, s->auth, s->enc, s->mac, s->strength)) possible = 0;
        pat.suite = s;
      } else {
        if (possible && !combine(&pat, a->kx, a->auth, a->enc, a->mac, a->strength)) possible = 0;
        if (a->min_version) {
          if (pat.min_version && pat.min_version != a->min_version) possible = 0;
          pat.min_version = a->min_version;
        }
      }
      if (tls13 != NULL && (parts > 1 || multi))
        return portls__err(err, PORTLS_ECIPHERS,
                           "cipher list: TLS 1.3 suite %s cannot be joined with '+'", tls13->name);
      if (!multi) break;
    }
    if (rule != RULE_SPECIAL) {
      if (tls13 != NULL)
        tls13_rule(l, tls13->id, rule);
      else if (possible)
        apply_rule(l, &pat, rule, -1);
    }
    if (*p == '\0') break;
  }
  return 0;
}

static void tls13_result(const co_list *l, const uint16_t *available, size_t n_available,
                         uint16_t *out, size_t *n_out) {
  static const uint16_t defaults[] = {0x1302, 0x1303, 0x1301};
  size_t n = 0;
  if (l->tls13_added) {
    for (size_t i = 0; i < l->n_tls13; i++)
      if (available_has(available, n_available, l->tls13[i])) out[n++] = l->tls13[i];
  } else {
    for (size_t i = 0; i < PORTLS__ARRAY_SIZE(defaults); i++)
      if (available_has(available, n_available, defaults[i]) &&
          !contains16(l->tls13_removed, l->n_tls13_removed, defaults[i]))
        out[n++] = defaults[i];
  }
  *n_out = n;
}

/* Runs the whole string; fills l. */
static int compile(const char *str, const uint16_t *available, size_t n_available, co_list *l,
                   portls_error *err) {
  const char *rest = str;
  int rc;
  if (str == NULL || (available == NULL && n_available > 0))
    return portls__err(err, PORTLS_EINVAL, "cipher list: NULL argument");
  if (str[0] == '\0') return portls__err(err, PORTLS_ECIPHERS, "cipher list: empty");
  list_init(l, available, n_available);
  /* As OpenSSL: a leading DEFAULT applies the default rule first. */
  if (strncmp(str, "DEFAULT", 7) == 0 && (str[7] == '\0' || is_sep(str[7]))) {
    if ((rc = process(l, DEFAULT_RULE, DEFAULT_RULE, err)) < 0) return rc;
    rest = str + 7;
  }
  if ((rc = process(l, str, rest, err)) < 0) return rc;

  int any = 0;
  for (int c = l->head; c >= 0 && !any; c = l->next[c]) any = l->active[c];
  if (!any && l->tls13_added) {
    uint16_t t[TLS13_MAX];
    size_t nt;
    tls13_result(l, available, n_available, t, &nt);
    any = nt > 0;
  }
  if (!any)
    return portls__err(err, PORTLS_ECIPHERS, "cipher list: no cipher match for \"%s\"", str);
  return 0;
}

int portls__cipher_compile(const char *str, const uint16_t *available, size_t n_available,
                           uint16_t **out, size_t *n_out, portls_error *err) {
  co_list l;
  int rc;
  if (out == NULL || n_out == NULL)
    return portls__err(err, PORTLS_EINVAL, "cipher list: NULL argument");
  *out = NULL;
  *n_out = 0;
  if ((rc = compile(str, available, n_available, &l, err)) < 0) return rc;
  size_t n = 0;
  for (int c = l.head; c >= 0; c = l.next[c]) n += l.active[c];
  if (n == 0) return 0;
  uint16_t *ids = portls__malloc(n * sizeof *ids);
  if (ids == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  n = 0;
  for (int c = l.head; c >= 0; c = l.next[c])
    if (l.active[c]) ids[n++] = l.suite[c]->id;
  *out = ids;
  *n_out = n;
  return 0;
}

int portls__cipher_compile_tls13(const char *str, const uint16_t *available, size_t n_available,
                                 uint16_t **out, size_t *n_out, portls_error *err) {
  co_list l;
  uint16_t t[TLS13_MAX];
  size_t nt;
  int rc;
  if (out == NULL || n_out == NULL)
    return portls__err(err, PORTLS_EINVAL, "cipher list: NULL argument");
  *out = NULL;
  *n_out = 0;
  if (str == NULL) {
    if (available == NULL && n_available > 0)
      return portls__err(err, PORTLS_EINVAL, "cipher list: NULL argument");
    memset(&l, 0, sizeof l);
  } else if ((rc = compile(str, available, n_available, &l, err)) < 0) {
    return rc;
  }
  tls13_result(&l, available, n_available, t, &nt);
  if (nt == 0) return 0;
  uint16_t *ids = portls__malloc(nt * sizeof *ids);
  if (ids == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  memcpy(ids, t, nt * sizeof *ids);
  *out = ids;
  *n_out = nt;
  return 0;
}

int portls__cipher_security_level(const char *str) {
  static const char tag[] = "@SECLEVEL=";
  const size_t n = sizeof tag - 1;
  int level = -1;
  for (const char *p = str; p != NULL && *p != '\0';) {
    while (is_sep(*p)) p++;
    const char *t = p;
    while (*p != '\0' && !is_sep(*p)) p++;
    if ((size_t)(p - t) == n + 1 && strncmp(t, tag, n) == 0 && t[n] >= '0' && t[n] <= '5')
      level = t[n] - '0';
  }
  return level;
}
