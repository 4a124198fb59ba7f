/* tls.createSecureContext(): option checking common to every backend, then
 * one backend context shared by every connection that uses it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls/context.h"
#include "tls/der.h"
#include "tls/files.h"
#include "tls/pkcs.h"
#include "tls/pkcs_crypto.h"
#include "util/pem.h"
#include "tls/suites.h"
#include "tls/x509.h"
#include "util/sync.h"
#include "util/util.h"

/* ---- default cipher list (Node's --tls-cipher-list) ---- */

static char *default_ciphers_override;
static portls__once_flag env_once = PORTLS__ONCE_INIT;

/* PORTLS_TLS_CIPHER_LIST is read once, by whichever thread asks first. */
static void read_cipher_env(void) {
  const char *env = getenv("PORTLS_TLS_CIPHER_LIST");
  if (env != NULL && env[0] != '\0' && default_ciphers_override == NULL)
    default_ciphers_override = portls__strdup(env);
}

const char *portls_default_ciphers(void) {
  portls__once(&env_once, read_cipher_env);
  return default_ciphers_override ? default_ciphers_override : PORTLS_DEFAULT_CIPHERS;
}

int portls_set_default_ciphers(const char *ciphers, portls_error *err) {
  /* The environment is read first, so that it cannot replace this later. */
  portls__once(&env_once, read_cipher_env);
  if (ciphers != NULL && ciphers[0] == '\0')
    return portls__err(err, PORTLS_ECIPHERS, "default ciphers: empty cipher list");
  char *copy = NULL;
  if (ciphers != NULL && (copy = portls__strdup(ciphers)) == NULL)
    return portls__err(err, PORTLS_ENOMEM, NULL);
  portls__free(default_ciphers_override);
  default_ciphers_override = copy;
  return 0;
}

/* ---- secureProtocol ---- */

typedef struct method {
  const char *base; /* without _server_method / _client_method / _method */
  uint16_t min, max;
} method;

static const method methods[] = {
    {"SSLv23", 0, 0},
    {"TLS", 0, 0},
    {"TLSv1", PORTLS_TLS1_0, PORTLS_TLS1_0},
    {"TLSv1_1", PORTLS_TLS1_1, PORTLS_TLS1_1},
    {"TLSv1_2", PORTLS_TLS1_2, PORTLS_TLS1_2},
    {"TLSv1_3", PORTLS_TLS1_3, PORTLS_TLS1_3},
};

static int version_cap(uint16_t v) {
  switch (v) {
  case PORTLS_TLS1_0:
    return PORTLS_CAP_TLS1_0;
  case PORTLS_TLS1_1:
    return PORTLS_CAP_TLS1_1;
  case PORTLS_TLS1_2:
    return PORTLS_CAP_TLS1_2;
  default:
    return PORTLS_CAP_TLS1_3;
  }
}

static int parse_method(const char *name, portls_context *ctx, portls_error *err) {
  if (name == NULL) return 0;
  size_t n = strlen(name);
  int role = PORTLS__ROLE_ANY;
  size_t base_len;
  static const char *const suffixes[] = {"_server_method", "_client_method", "_method"};
  size_t i;
  for (i = 0; i < 3; i++) {
    size_t sl = strlen(suffixes[i]);
    if (n > sl && strcmp(name + n - sl, suffixes[i]) == 0) break;
  }
  if (i == 3)
    return portls__err(err, PORTLS_EPROTOCOL_METHOD, "secureProtocol: Unknown method: %s", name);
  role = i == 0 ? PORTLS__ROLE_SERVER : i == 1 ? PORTLS__ROLE_CLIENT : PORTLS__ROLE_ANY;
  base_len = n - strlen(suffixes[i]);
  if ((base_len == 5 && strncmp(name, "SSLv2", 5) == 0) ||
      (base_len == 5 && strncmp(name, "SSLv3", 5) == 0))
    return portls__err(err, PORTLS_EPROTOCOL_METHOD, "secureProtocol: %.5s methods disabled", name);
  for (size_t m = 0; m < PORTLS__ARRAY_SIZE(methods); m++) {
    if (strlen(methods[m].base) == base_len && strncmp(name, methods[m].base, base_len) == 0) {
      ctx->role = role;
      ctx->min_version = methods[m].min;
      ctx->max_version = methods[m].max;
      if (methods[m].min != 0) {
        char opt[80];
        snprintf(opt, sizeof opt, "secureProtocol %s", name);
        return portls__need_cap((portls_cap)version_cap(methods[m].min), opt, err);
      }
      return 0;
    }
  }
  return portls__err(err, PORTLS_EPROTOCOL_METHOD, "secureProtocol: Unknown method: %s", name);
}

int portls__context_check_role(const portls_context *ctx, int is_server, portls_error *err) {
  if (ctx->role == PORTLS__ROLE_SERVER && !is_server)
    return portls__err(err, PORTLS_EINVAL,
                       "secureContext: a *_server_method context cannot make client connections");
  if (ctx->role == PORTLS__ROLE_CLIENT && is_server)
    return portls__err(err, PORTLS_EINVAL,
                       "secureContext: a *_client_method context cannot accept connections");
  return 0;
}

/* ---- minVersion / maxVersion (Node 11.4), and their process defaults ---- */

static portls_tls_version default_min_version, default_max_version;

const char *portls_tls_version_name(portls_tls_version v) {
  switch (v) {
  case PORTLS_TLS1_0:
    return "TLSv1";
  case PORTLS_TLS1_1:
    return "TLSv1.1";
  case PORTLS_TLS1_2:
    return "TLSv1.2";
  case PORTLS_TLS1_3:
    return "TLSv1.3";
  default:
    return NULL;
  }
}

portls_tls_version portls_tls_version_from_name(const char *name) {
  static const portls_tls_version all[] = {PORTLS_TLS1_0, PORTLS_TLS1_1, PORTLS_TLS1_2,
                                           PORTLS_TLS1_3};
  for (size_t i = 0; name != NULL && i < PORTLS__ARRAY_SIZE(all); i++)
    if (strcmp(name, portls_tls_version_name(all[i])) == 0) return all[i];
  return PORTLS_TLS_ANY;
}

static int check_version(portls_tls_version v, const char *what, portls_error *err) {
  if (v == PORTLS_TLS_ANY || portls_tls_version_name(v) != NULL) return 0;
  return portls__err(err, PORTLS_EPROTOCOL_VERSION,
                     "%s: 0x%04x is not a valid TLS protocol version (TLSv1, TLSv1.1, TLSv1.2, "
                     "TLSv1.3)",
                     what, (unsigned)v);
}

portls_tls_version portls_default_min_version(void) { return default_min_version; }
portls_tls_version portls_default_max_version(void) { return default_max_version; }

/* Whether the backend has a version in [lo, hi] (0: unbounded). */
static int has_version_in(uint16_t lo, uint16_t hi) {
  static const uint16_t all[] = {PORTLS_TLS1_0, PORTLS_TLS1_1, PORTLS_TLS1_2, PORTLS_TLS1_3};
  for (size_t i = 0; i < PORTLS__ARRAY_SIZE(all); i++)
    if ((lo == 0 || all[i] >= lo) && (hi == 0 || all[i] <= hi) &&
        portls_has_capability((portls_cap)version_cap(all[i])))
      return 1;
  return 0;
}

/* A default the backend cannot honour fails when it is set, as an option does. */
static int check_default(portls_tls_version v, int is_min, portls_error *err) {
  const char *what = is_min ? "tls.DEFAULT_MIN_VERSION" : "tls.DEFAULT_MAX_VERSION";
  int rc = check_version(v, what, err);
  if (rc < 0 || v == PORTLS_TLS_ANY) return rc;
  if (is_min ? has_version_in((uint16_t)v, 0) : has_version_in(0, (uint16_t)v)) return 0;
  char opt[64];
  snprintf(opt, sizeof opt, "%s %s", what, portls_tls_version_name(v));
  return portls__need_cap((portls_cap)version_cap((uint16_t)v), opt, err);
}

int portls_set_default_min_version(portls_tls_version v, portls_error *err) {
  int rc = check_default(v, 1, err);
  if (rc == 0) default_min_version = v;
  return rc;
}

int portls_set_default_max_version(portls_tls_version v, portls_error *err) {
  int rc = check_default(v, 0, err);
  if (rc == 0) default_max_version = v;
  return rc;
}

/* Sets ctx's range from minVersion / maxVersion, or the process defaults
 * when neither they nor secureProtocol (already applied) say anything. */
static int apply_versions(const portls_context_options *o, portls_context *ctx, portls_error *err) {
  int rc;
  if ((rc = check_version(o->min_version, "minVersion", err)) < 0 ||
      (rc = check_version(o->max_version, "maxVersion", err)) < 0)
    return rc;
  if (o->secure_protocol != NULL && (o->min_version != 0 || o->max_version != 0))
    return portls__err(
        err, PORTLS_EPROTOCOL_VERSION_CONFLICT,
        "%s: TLS protocol version %s conflicts with secureProtocol \"%.60s\"",
        o->min_version != 0 ? "minVersion" : "maxVersion",
        portls_tls_version_name(o->min_version != 0 ? o->min_version : o->max_version),
        o->secure_protocol);
  if (o->secure_protocol != NULL) return 0;
  const char *min_what = "minVersion", *max_what = "maxVersion";
  portls_tls_version min = o->min_version, max = o->max_version;
  if (min == PORTLS_TLS_ANY && default_min_version != PORTLS_TLS_ANY)
    min = default_min_version, min_what = "minVersion (tls.DEFAULT_MIN_VERSION)";
  if (max == PORTLS_TLS_ANY && default_max_version != PORTLS_TLS_ANY)
    max = default_max_version, max_what = "maxVersion (tls.DEFAULT_MAX_VERSION)";
  if (min != 0 && max != 0 && min > max)
    return portls__err(err, PORTLS_EPROTOCOL_VERSION, "%s %s is above %s %s", min_what,
                       portls_tls_version_name(min), max_what, portls_tls_version_name(max));
  /* A range the backend has no version in fails now, naming the end that
   * excludes what it has (mbedTLS 2.28 with minVersion TLSv1.3). */
  if (!has_version_in(min, max)) {
    char opt[96];
    int lacks_min = min != 0 && !has_version_in(min, 0);
    uint16_t v = lacks_min ? (uint16_t)min : (uint16_t)max;
    snprintf(opt, sizeof opt, "%s %s", lacks_min ? min_what : max_what,
             portls_tls_version_name((portls_tls_version)v));
    return portls__need_cap((portls_cap)version_cap(v), opt, err);
  }
  ctx->min_version = (uint16_t)min;
  ctx->max_version = (uint16_t)max;
  return 0;
}

/* ---- dhparam ---- */

/* The size in bits of the prime of PEM "DH PARAMETERS", or 0 when they do not
 * parse (the specification: unparsable dhparam is silently discarded). */
static int dh_bits(portls_buf b) {
  static const char *const labels[] = {"DH PARAMETERS", NULL};
  size_t pos = 0;
  portls__pem_block blk;
  uint8_t *der = NULL;
  size_t len = 0;
  if (b.base == NULL || portls__pem_find(b.base, b.len, &pos, labels, &blk) != 0 ||
      portls__pem_decode(&blk, &der, &len) != 0)
    return 0;
  int bits = 0;
  portls__der d, seq;
  portls__der_tlv p;
  portls__der_init(&d, der, len);
  if (portls__der_enter(&d, PORTLS__DER_SEQUENCE, &seq) == 0 &&
      portls__der_expect(&seq, PORTLS__DER_INTEGER, &p) == 0) {
    const uint8_t *v = p.val;
    size_t n = p.len;
    while (n > 0 && *v == 0) v++, n--;
    if (n > 0 && n < 8192) {
      bits = (int)(n * 8);
      for (unsigned top = v[0]; !(top & 0x80u); top <<= 1) bits--;
    }
  }
  portls__free(der);
  return bits;
}

const char *portls_context_warning(const portls_context *ctx) {
  return ctx != NULL && ctx->warning[0] != '\0' ? ctx->warning : NULL;
}

/* ---- options ---- */

void portls_context_options_init(portls_context_options *o) {
  if (o == NULL) return;
  memset(o, 0, sizeof *o);
  o->honor_cipher_order = 1;
}

static int check_bufs(const portls_buf *b, size_t n, const char *what, portls_error *err) {
  if (n > 0 && b == NULL)
    return portls__err(err, PORTLS_EINVAL, "%s: count %zu but no array", what, n);
  for (size_t i = 0; i < n; i++)
    if (b[i].base == NULL || b[i].len == 0)
      return portls__err(err, PORTLS_EINVAL, "%s[%zu]: empty buffer", what, i);
  return 0;
}

/* ---- ciphers ---- */

/* ecdhCurve "false": no ECDHE key exchange below TLS 1.3, as OpenSSL's
 * "!kECDHE" (static ECDH goes too, on a backend that has it; TLS 1.3 suites
 * stay, their key exchange is not part of the suite). A string whose TLS <= 1.2
 * suites were all ECDHE then selects nothing. */
static int drop_ecdhe(const char *ciphers, uint16_t *ids, size_t *n, portls_error *err) {
  size_t k = 0, had = 0, kept = 0;
  for (size_t i = 0; i < *n; i++) {
    const portls__suite *s = portls__suite_by_id(ids[i]);
    if (s == NULL || s->min_version < PORTLS__V_TLS1_3) {
      had++;
      if (s != NULL && (s->kx & (PORTLS__K_ECDHE | PORTLS__K_ECDHr | PORTLS__K_ECDHe)) != 0)
        continue;
      kept++;
    }
    ids[k++] = ids[i];
  }
  *n = k;
  if (had > 0 && kept == 0)
    return portls__err(err, PORTLS_ECIPHERS,
                       "ciphers: no cipher match for \"%.100s\" without ECDHE", ciphers);
  return 0;
}

/* ---- OCSPRequest's certificate and issuer ---- */

/* Calls fn on each PEM certificate of b, in order, until it returns nonzero
 * (1: found, PORTLS_ENOMEM); returns that, or 0. */
static int each_cert(portls_buf b, int (*fn)(const uint8_t *der, size_t len, void *arg),
                     void *arg) {
  static const char *const labels[] = {"CERTIFICATE", "TRUSTED CERTIFICATE", NULL};
  size_t pos = 0;
  portls__pem_block blk;
  int stop = 0;
  while (!stop && b.base != NULL && portls__pem_find(b.base, b.len, &pos, labels, &blk) == 0) {
    uint8_t *der = NULL;
    size_t len = 0;
    int rc = portls__pem_decode(&blk, &der, &len);
    if (rc == PORTLS_ENOMEM) return rc;
    if (rc != 0) continue;
    stop = fn(der, len, arg);
    portls__free(der);
  }
  return stop;
}

typedef struct ocsp_find {
  portls_context *ctx;
  portls__x509 leaf;
  int skip_first;
} ocsp_find;

static int take_leaf(const uint8_t *der, size_t len, void *arg) {
  portls_context *ctx = arg;
  if ((ctx->ocsp_cert = portls__memdup(der, len)) == NULL) return PORTLS_ENOMEM;
  ctx->ocsp_cert_len = len;
  return 1;
}

static int take_issuer(const uint8_t *der, size_t len, void *arg) {
  ocsp_find *f = arg;
  if (f->skip_first) {
    f->skip_first = 0;
    return 0;
  }
  portls__x509 x;
  if (portls__x509_parse(der, len, &x, NULL) != 0 || !portls__x509_issued_by(&f->leaf, &x))
    return 0;
  if ((f->ctx->ocsp_issuer = portls__memdup(der, len)) == NULL) return PORTLS_ENOMEM;
  f->ctx->ocsp_issuer_len = len;
  return 1;
}

/* Node hands OCSPRequest the DER of the server certificate and of its issuer,
 * looked up in the certificate chain and then the CAs (null when absent).
 * 0 or PORTLS_ENOMEM. */
static int find_ocsp_certs(portls_context *ctx, portls_buf chain, const portls_context_options *o) {
  int rc = each_cert(chain, take_leaf, ctx);
  if (rc <= 0) return rc;
  ocsp_find f = {.ctx = ctx, .skip_first = 1};
  if (portls__x509_parse(ctx->ocsp_cert, ctx->ocsp_cert_len, &f.leaf, NULL) != 0) return 0;
  if ((rc = each_cert(chain, take_issuer, &f)) != 0) return rc < 0 ? rc : 0;
  for (size_t i = 0; i < o->ca_count; i++)
    if ((rc = each_cert(o->ca[i], take_issuer, &f)) != 0) return rc < 0 ? rc : 0;
  return 0;
}

/* ---- ticket keys ---- */

int portls__context_set_ticket_keys(portls_context *ctx, const void *keys, size_t len,
                                    portls_error *err) {
  int rc = portls__need_cap(PORTLS_CAP_TICKET_KEYS, "ticketKeys", err);
  if (rc < 0) return rc;
  if (keys == NULL || len != sizeof ctx->ticket_keys)
    return portls__err(err, PORTLS_ETICKET_KEYS, "ticketKeys: must be 48 bytes, got %zu",
                       keys ? len : 0);
  if (portls__backend.set_ticket_keys == NULL)
    return portls__err(err, PORTLS_ENOTSUP, "setTicketKeys: not supported by backend '%s'",
                       portls__backend.name);
  if ((rc = portls__backend.set_ticket_keys(ctx->be, keys, err)) < 0) return rc;
  /* A context may be shared by loops on several threads. */
  portls__spin_lock(&ctx->lock);
  memcpy(ctx->ticket_keys, keys, sizeof ctx->ticket_keys);
  ctx->has_ticket_keys = 1;
  portls__spin_unlock(&ctx->lock);
  return 0;
}

int portls__context_rotate_ticket_keys(portls_context *ctx, const void *keys, size_t len,
                                       portls_error *err) {
  int rc = portls__need_cap(PORTLS_CAP_TICKET_ROTATION, "rotateTicketKeys", err);
  if (rc < 0) return rc;
  if (keys == NULL || len != sizeof ctx->ticket_keys)
    return portls__err(err, PORTLS_ETICKET_KEYS, "rotateTicketKeys: must be 48 bytes, got %zu",
                       keys ? len : 0);
  /* The same keys again (every server of a cluster applies each rotation it
   * sees): nothing changes, and the previous keys stay. */
  uint8_t cur[48];
  portls__spin_lock(&ctx->lock);
  int have = ctx->has_ticket_keys;
  memcpy(cur, ctx->ticket_keys, sizeof cur);
  portls__spin_unlock(&ctx->lock);
  if (have && memcmp(cur, keys, sizeof cur) == 0) return 0;
  if (have && (rc = portls__backend.set_old_ticket_keys(ctx->be, cur, err)) < 0) return rc;
  rc = portls__context_set_ticket_keys(ctx, keys, len, err);
  memset(cur, 0, sizeof cur);
  return rc;
}

/* Node's sigalgs: a ':'-list of names, checked here for its shape (the
 * backend knows the names); needs PORTLS_CAP_SIGALGS. */
static int check_sigalgs(const char *list, portls_error *err) {
  int rc = portls__need_cap(PORTLS_CAP_SIGALGS, "sigalgs", err);
  if (rc < 0) return rc;
  if (list[0] == '\0') return portls__err(err, PORTLS_EINVAL, "sigalgs: empty list");
  if (strlen(list) > 1024) return portls__err(err, PORTLS_EINVAL, "sigalgs: list too long");
  for (const char *p = list;; p++) {
    const char *end = strchr(p, ':');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n == 0) return portls__err(err, PORTLS_EINVAL, "sigalgs: empty entry in \"%s\"", list);
    for (size_t i = 0; i < n; i++) {
      char c = p[i];
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '+' || c == '-' || c == '_'))
        return portls__err(err, PORTLS_EINVAL, "sigalgs: unexpected character '%c' in \"%s\"", c,
                           list);
    }
    if (end == NULL) return 0;
    p = end;
  }
}

void portls__context_get_ticket_keys(portls_context *ctx, uint8_t keys[48]) {
  portls__spin_lock(&ctx->lock);
  memcpy(keys, ctx->ticket_keys, sizeof ctx->ticket_keys);
  portls__spin_unlock(&ctx->lock);
}

int portls_context_new(const portls_context_options *o, portls_context **out, portls_error *err) {
  if (out == NULL) return portls__err(err, PORTLS_EINVAL, "createSecureContext: NULL out");
  *out = NULL;
  portls_context_options defaults;
  if (o == NULL) {
    portls_context_options_init(&defaults);
    o = &defaults;
  }
  int rc = portls__global_init(err);
  if (rc < 0) return rc;
  /* key_file, cert_file, ... (core/tls/files.c): read, then made from buffers. */
  if (portls__context_has_files(o)) return portls__context_new_files(o, out, err);
  /* Without `ca`: the system roots, plus the extra CAs (NODE_EXTRA_CA_CERTS). */
  const portls_buf *extra_ca = NULL;
  size_t extra_ca_count = 0;
  if (o->ca_count == 0 && (rc = portls__extra_ca(&extra_ca, &extra_ca_count, err)) < 0) return rc;

  if ((rc = check_bufs(o->key, o->key_count, "key", err)) < 0) return rc;
  if ((rc = check_bufs(o->cert, o->cert_count, "cert", err)) < 0) return rc;
  if ((rc = check_bufs(o->ca, o->ca_count, "ca", err)) < 0) return rc;
  if ((rc = check_bufs(o->crl, o->crl_count, "crl", err)) < 0) return rc;
  if (o->key_count != o->cert_count)
    return portls__err(err, PORTLS_EINVAL,
                       "key/cert: %zu keys for %zu certificates; give one key per certificate",
                       o->key_count, o->cert_count);
  if (o->key_count > 1 &&
      (rc = portls__need_cap(PORTLS_CAP_MULTI_CERT, "key/cert: several pairs", err)) < 0)
    return rc;
  if (o->pfx.len > 0 && o->key_count > 0)
    return portls__err(err, PORTLS_EINVAL, "pfx: mutually exclusive with key and cert");
  if (o->pfx.len > 0 && (rc = portls__need_cap(PORTLS_CAP_PFX, "pfx", err)) < 0) return rc;
  if (o->crl_count > 0 && (rc = portls__need_cap(PORTLS_CAP_CRL, "crl", err)) < 0) return rc;
  if (o->ticket_keys.len > 0) {
    if (o->ticket_keys.len != 48)
      return portls__err(err, PORTLS_ETICKET_KEYS, "ticketKeys: must be 48 bytes, got %zu",
                         o->ticket_keys.len);
    if ((rc = portls__need_cap(PORTLS_CAP_TICKET_KEYS, "ticketKeys", err)) < 0) return rc;
  }
  if (!o->honor_cipher_order &&
      (rc = portls__need_cap(PORTLS_CAP_CIPHER_CLIENT_PREF, "honorCipherOrder false", err)) < 0)
    return rc;
  if (o->session_timeout < 0)
    return portls__err(err, PORTLS_EINVAL, "sessionTimeout: must not be negative");
  if (o->sigalgs != NULL && (rc = check_sigalgs(o->sigalgs, err)) < 0) return rc;
  const char *ciphers = o->ciphers ? o->ciphers : portls_default_ciphers();
  if (ciphers[0] == '\0') return portls__err(err, PORTLS_ECIPHERS, "ciphers: empty cipher list");

  /* Compiled by core for every backend, so one string means the same thing
   * (and an unknown name is the same error) whichever library is linked: the
   * suite ids are the cipher policy the backend gets. */
  int ecdh_disabled = o->ecdh_curve != NULL && strcmp(o->ecdh_curve, "false") == 0;
  uint16_t *suites = NULL;
  size_t n_suites = 0;
  if ((rc = portls__ciphers_compile(ciphers, &suites, &n_suites, err)) < 0) return rc;
  if (ecdh_disabled && (rc = drop_ecdhe(ciphers, suites, &n_suites, err)) < 0) {
    portls__free(suites);
    return rc;
  }
  /* The specification's dhparam rules, the same on every backend: under 1024
   * bits an error, under 2048 a warning; unparsable means no DHE. */
  int dhbits = o->dhparam.len > 0 ? dh_bits(o->dhparam) : 0;
  if (dhbits > 0 && dhbits < 1024) {
    portls__free(suites);
    return portls__err(err, PORTLS_EDHPARAM, "dhparam: DH parameter is less than 1024 bits (%d)",
                       dhbits);
  }
  portls_context *ctx = portls__calloc(1, sizeof *ctx);
  if (ctx == NULL) {
    portls__free(suites);
    return portls__err(err, PORTLS_ENOMEM, NULL);
  }
  if (dhbits > 0 && !portls_has_capability(PORTLS_CAP_DHE))
    snprintf(ctx->warning, sizeof ctx->warning,
             "dhparam: ignored: backend '%s' lacks capability 'dhe' (no DHE suites)",
             portls__backend.name);
  else if (dhbits > 0 && dhbits < 2048)
    snprintf(ctx->warning, sizeof ctx->warning, "DH parameter is less than 2048 bits");
  portls__ref_init(&ctx->refs, 1);
  portls__spin_init(&ctx->lock);
  /* Node makes random ticket keys for every context; getTicketKeys() must
   * then have something to return, so core makes them for every backend. */
  if (o->ticket_keys.len == 48) {
    memcpy(ctx->ticket_keys, o->ticket_keys.base, 48);
    ctx->has_ticket_keys = 1;
  } else if (portls_has_capability(PORTLS_CAP_TICKET_KEYS)) {
    if ((rc = portls__backend.random(ctx->ticket_keys, sizeof ctx->ticket_keys)) < 0) {
      rc = portls__err(err, rc, "ticketKeys: no random bytes");
      goto fail;
    }
    ctx->has_ticket_keys = 1;
  }
  if ((rc = parse_method(o->secure_protocol, ctx, err)) < 0) goto fail;
  if ((rc = apply_versions(o, ctx, err)) < 0) goto fail;

  if (o->ecdh_curve != NULL && !ecdh_disabled && o->ecdh_curve[0] == '\0') {
    rc = portls__err(err, PORTLS_ECURVE, "ecdhCurve: empty curve name");
    goto fail;
  }

  /* What the backend cannot decode, core decodes (PKCS#12, encrypted keys). */
  portls__pfx_result pfx = {0};
  portls__bytes pfx_key = {0}, pfx_certs = {0};
  portls__bytes *plain = NULL;
  portls_be_keypair *pairs = NULL;
  size_t npairs = o->key_count;
  const char *passphrase = o->passphrase;
  portls_buf pfx_buf = o->pfx;
  if (o->pfx.len > 0 && !(portls__backend.native & PORTLS_BE_NATIVE_PFX)) {
    if ((rc = portls__pfx_decode(o->pfx, o->passphrase, &pfx, err)) < 0 ||
        (rc = portls__pfx_to_pem(&pfx, &pfx_key, &pfx_certs)) < 0) {
      if (rc == PORTLS_ENOMEM) portls__err(err, rc, "pfx: out of memory");
      goto fail_decoded;
    }
    npairs = 1;
    pfx_buf = (portls_buf){NULL, 0};
    passphrase = NULL;
  }
  if (npairs > 0) {
    pairs = portls__calloc(npairs, sizeof *pairs);
    plain = portls__calloc(npairs, sizeof *plain);
    if (pairs == NULL || plain == NULL) {
      rc = portls__err(err, PORTLS_ENOMEM, NULL);
      goto fail_decoded;
    }
  }
  if (pfx_key.len > 0) {
    pairs[0].key = (portls_buf){pfx_key.data, pfx_key.len};
    pairs[0].cert = (portls_buf){pfx_certs.data, pfx_certs.len};
  }
  for (size_t i = 0; i < o->key_count; i++) {
    pairs[i].key = o->key[i];
    pairs[i].cert = o->cert[i];
    if (!(portls__backend.native & PORTLS_BE_NATIVE_ENCRYPTED_KEYS) &&
        portls__key_is_encrypted(o->key[i])) {
      if ((rc = portls__key_decrypt(o->key[i], o->passphrase, &plain[i], err)) < 0)
        goto fail_decoded;
      pairs[i].key = (portls_buf){plain[i].data, plain[i].len};
    }
  }
  portls_be_ctx_config cfg = {
      .pairs = pairs,
      .pair_count = npairs,
      .passphrase = passphrase,
      .pfx = pfx_buf,
      .ca = o->ca,
      .ca_count = o->ca_count,
      .use_system_ca = o->ca_count == 0,
      .extra_ca = extra_ca,
      .extra_ca_count = extra_ca_count,
      .crl = o->crl,
      .crl_count = o->crl_count,
      .suites = suites,
      .suite_count = n_suites,
      .security_level = portls__cipher_security_level(ciphers),
      .honor_cipher_order = o->honor_cipher_order != 0,
      .min_version = ctx->min_version,
      .max_version = ctx->max_version,
      .ecdh_curves = ecdh_disabled ? NULL : (o->ecdh_curve ? o->ecdh_curve : "auto"),
      .dhparam = o->dhparam,
      .session_id_context = o->session_id_context,
      .session_timeout = o->session_timeout,
      .ticket_keys = {ctx->has_ticket_keys ? ctx->ticket_keys : NULL,
                      ctx->has_ticket_keys ? 48u : 0u},
      .disable_tickets = o->disable_tickets != 0,
      .sigalgs = o->sigalgs,
  };
  rc = portls__backend.ctx_new(&cfg, &ctx->be, err);
  if (rc == 0 && npairs > 0 && portls_has_capability(PORTLS_CAP_OCSP_STAPLING) &&
      find_ocsp_certs(ctx, pairs[0].cert, o) < 0) {
    portls__backend.ctx_free(ctx->be);
    rc = portls__err(err, PORTLS_ENOMEM, "OCSPRequest certificates: out of memory");
  }
fail_decoded:
  for (size_t i = 0; plain != NULL && i < o->key_count; i++) portls__key_free(&plain[i]);
  portls__free(plain);
  portls__free(pairs);
  portls__key_free(&pfx_key);
  portls__bytes_free(&pfx_certs);
  portls__pfx_result_free(&pfx);
  if (rc < 0) goto fail;
  portls__free(suites);
  *out = ctx;
  return 0;
fail:
  portls__free(suites);
  portls__free(ctx->ocsp_cert);
  portls__free(ctx->ocsp_issuer);
  portls__free(ctx);
  return rc;
}

portls_context *portls_context_ref(portls_context *ctx) {
  if (ctx != NULL) portls__ref_inc(&ctx->refs);
  return ctx;
}

void portls_context_free(portls_context *ctx) {
  if (ctx == NULL || portls__ref_dec(&ctx->refs) > 0) return;
  portls__backend.ctx_free(ctx->be);
  portls__free(ctx->ocsp_cert);
  portls__free(ctx->ocsp_issuer);
  portls__pkcs_wipe(ctx->ticket_keys, sizeof ctx->ticket_keys);
  portls__free(ctx);
}
