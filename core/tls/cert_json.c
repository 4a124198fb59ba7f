/* portls core: a certificate as Node's JSON.stringify(getPeerCertificate())
 * prints it, with two departures Node's own output forces on us: raw is a
 * base64 string rather than {"type":"Buffer","data":[...]}, and the
 * self-reference that ends a detailed chain is the string "[Circular]"
 * (JSON.stringify would throw on it). pubkey and fingerprint512 are not in
 * the model, so not in the JSON.
 *
 * The text is measured by one pass and written by a second pass of the
 * same code, so it is one exact allocation and nothing recurses.
 */
#include <stdio.h>
#include <string.h>

#include "portls/cert.h"
#include "util/base64.h"
#include "util/utf8.h"
#include "util/util.h"

typedef struct jw {
  char *buf; /* NULL while measuring */
  size_t len;
  size_t cap;
  int overflow;
} jw;

static void jput(jw *w, const char *s, size_t n) {
  if (w->overflow || n == 0) return;
  if (n > (size_t)-1 - w->len || (w->buf && w->len + n > w->cap)) {
    w->overflow = 1;
    return;
  }
  if (w->buf) memcpy(w->buf + w->len, s, n);
  w->len += n;
}

static void jputs(jw *w, const char *s) { jput(w, s, strlen(s)); }

/* A JSON string as JSON.stringify writes it: the short escapes, \u00xx for
 * other control characters, everything else verbatim. Bytes that are not
 * UTF-8 (possible in a hand-built portls_cert) become U+FFFD so the output
 * stays valid UTF-8. */
static void jstr(jw *w, const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strlen(s), i = 0;
  jput(w, "\"", 1);
  while (i < n) {
    unsigned char c = p[i];
    size_t k;
    if (c == '"') {
      jput(w, "\\\"", 2);
    } else if (c == '\\') {
      jput(w, "\\\\", 2);
    } else if (c == '\b') {
      jput(w, "\\b", 2);
    } else if (c == '\f') {
      jput(w, "\\f", 2);
    } else if (c == '\n') {
      jput(w, "\\n", 2);
    } else if (c == '\r') {
      jput(w, "\\r", 2);
    } else if (c == '\t') {
      jput(w, "\\t", 2);
    } else if (c < 0x20) {
      char buf[8];
      snprintf(buf, sizeof(buf), "\\u%04x", (unsigned)c);
      jput(w, buf, 6);
    } else if (c < 0x80) {
      jput(w, (const char *)p + i, 1);
    } else if ((k = portls__utf8_decode(p + i, n - i, NULL)) != 0) {
      jput(w, (const char *)p + i, k);
      i += k;
      continue;
    } else {
      jput(w, PORTLS__UTF8_REPLACEMENT, 3);
      i += portls__utf8_invalid_len(p + i, n - i);
      continue;
    }
    i++;
  }
  jput(w, "\"", 1);
}

static void jkey(jw *w, const char *key) {
  jput(w, ",", 1);
  jstr(w, key);
  jput(w, ":", 1);
}

/* A name as Node builds it: keys in order of first appearance, a repeated
 * key becoming an array of its values in order. */
static void jdn(jw *w, const portls_dn *dn, int arrays_always) {
  size_t i, j;
  int first = 1;
  jput(w, "{", 1);
  for (i = 0; dn->entries && i < dn->count; i++) {
    const char *key = dn->entries[i].key ? dn->entries[i].key : "";
    size_t n = 0;
    int seen = 0;
    for (j = 0; j < i && !seen; j++)
      seen = dn->entries[j].key && strcmp(dn->entries[j].key, key) == 0;
    if (seen) continue;
    for (j = i; j < dn->count; j++) n += dn->entries[j].key && strcmp(dn->entries[j].key, key) == 0;
    if (!first) jput(w, ",", 1);
    first = 0;
    jstr(w, key);
    jput(w, ":", 1);
    if (n > 1 || arrays_always) jput(w, "[", 1);
    for (j = i; j < dn->count; j++) {
      if (!dn->entries[j].key || strcmp(dn->entries[j].key, key) != 0) continue;
      if (j != i) jput(w, ",", 1);
      jstr(w, dn->entries[j].value ? dn->entries[j].value : "");
    }
    if (n > 1 || arrays_always) jput(w, "]", 1);
  }
  jput(w, "}", 1);
}

static void jnum(jw *w, long long v) {
  char buf[32];
  int n = snprintf(buf, sizeof(buf), "%lld", v);
  if (n > 0) jput(w, buf, (size_t)n);
}

static void jopt(jw *w, const char *key, const char *value) {
  if (value) {
    jkey(w, key);
    jstr(w, value);
  }
}

static void jraw(jw *w, const uint8_t *raw, size_t len) {
  size_t n = portls__base64_encoded_len(len);
  if (n == (size_t)-1 || n > (size_t)-1 - 3) {
    w->overflow = 1;
    return;
  }
  jput(w, "\"", 1);
  if (w->buf && !w->overflow) {
    /* encode writes a NUL after the text; the closing quote replaces it. */
    if (w->len + n + 1 > w->cap) {
      w->overflow = 1;
      return;
    }
    portls__base64_encode(raw, len, w->buf + w->len);
  }
  w->len += n;
  jput(w, "\"", 1);
}

/* Every field but issuerCertificate, leaving the object open. */
static void jfields(jw *w, const portls_cert *c) {
  jput(w, "{\"subject\":", 11);
  jdn(w, &c->subject, 0);
  jput(w, ",\"issuer\":", 10);
  jdn(w, &c->issuer, 0);
  jopt(w, "subjectaltname", c->subjectaltname);
  if (c->infoaccess.count && c->infoaccess.entries) {
    jkey(w, "infoAccess");
    jdn(w, &c->infoaccess, 1);
  }
  jputs(w, c->ca ? ",\"ca\":true" : ",\"ca\":false");
  if (c->modulus) {
    jopt(w, "modulus", c->modulus);
    jkey(w, "bits");
    jnum(w, c->bits);
    jopt(w, "exponent", c->exponent);
  } else {
    if (c->bits && c->pubkey_type && strcmp(c->pubkey_type, "EC") == 0) {
      jkey(w, "bits");
      jnum(w, c->bits);
    }
    jopt(w, "asn1Curve", c->asn1curve);
    jopt(w, "nistCurve", c->nistcurve);
  }
  jopt(w, "valid_from", c->valid_from);
  jopt(w, "valid_to", c->valid_to);
  jopt(w, "fingerprint", c->fingerprint);
  jopt(w, "fingerprint256", c->fingerprint256);
  if (c->ext_key_usage) {
    size_t i;
    jkey(w, "ext_key_usage");
    jput(w, "[", 1);
    for (i = 0; i < c->ext_key_usage_count; i++) {
      if (i) jput(w, ",", 1);
      jstr(w, c->ext_key_usage[i] ? c->ext_key_usage[i] : "");
    }
    jput(w, "]", 1);
  }
  jopt(w, "serialNumber", c->serial_number);
  if (c->raw) {
    jkey(w, "raw");
    jraw(w, c->raw, c->raw_len);
  }
}

static void jcert(jw *w, const portls_cert *root) {
  const portls_cert *cur = root;
  size_t depth = 0, i;
  for (;;) {
    const portls_cert *next = cur->issuer_certificate;
    const portls_cert *anc = root;
    int circular = 0;
    jfields(w, cur);
    if (next == NULL) break;
    /* A link back to this certificate or any above it in the output. */
    for (i = 0; i <= depth && anc; i++) {
      if (anc == next) {
        circular = 1;
        break;
      }
      anc = anc->issuer_certificate;
    }
    jkey(w, "issuerCertificate");
    if (circular) {
      jstr(w, "[Circular]");
      break;
    }
    cur = next;
    depth++;
  }
  for (i = 0; i <= depth; i++) jput(w, "}", 1);
}

char *portls_cert_to_json(const portls_cert *cert) {
  jw w;
  if (cert == NULL) return NULL;
  memset(&w, 0, sizeof(w));
  jcert(&w, cert);
  if (w.overflow || w.len == (size_t)-1) return NULL;
  w.cap = w.len + 1;
  w.buf = (char *)portls__malloc(w.cap);
  if (w.buf == NULL) return NULL;
  w.len = 0;
  jcert(&w, cert);
  if (w.overflow || w.len + 1 != w.cap) {
    portls__free(w.buf);
    return NULL;
  }
  w.buf[w.len] = '\0';
  return w.buf;
}
