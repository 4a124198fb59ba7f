/* portls core: incremental, bounded ClientHello parser (see hello.h). */
#include "tls/hello.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define REC_HANDSHAKE 22
#define REC_MAX 16384u /* TLSPlaintext.length limit (RFC 8446, 5.1) */
#define HS_CLIENT_HELLO 1
#define SCSV_RENEG 0x00ff

void portls__hello_init(portls__hello *h) { memset(h, 0, sizeof *h); }

void portls__hello_free(portls__hello *h) {
  portls__free(h->body);
  h->body = NULL;
  memset(&h->ch, 0, sizeof h->ch);
}

size_t portls__hello_consumed(const portls__hello *h) { return h->raw; }

static int fail(portls__hello *h, int state, portls__hello_why why, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Ends the parse. NOT_TLS carries PORTLS_EPROTO in h->err too, the code the
 * caller fails the connection with. */
static int fail(portls__hello *h, int state, portls__hello_why why, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  portls__verr(&h->err, state == PORTLS_ENOMEM ? PORTLS_ENOMEM : PORTLS_EPROTO, fmt, ap);
  va_end(ap);
  h->state = state;
  h->why = why;
  memset(&h->ch, 0, sizeof h->ch);
  return state;
}

#define BAD(h, why, ...) fail((h), PORTLS_EPROTO, (why), __VA_ARGS__)

/* ---- a bounds-checked reader over [p, end) ----------------------------------------- */

typedef struct rd {
  const uint8_t *p;
  const uint8_t *end;
} rd;

static size_t left(const rd *r) { return (size_t)(r->end - r->p); }

static int get_n(rd *r, size_t n, unsigned long *v) {
  unsigned long x = 0;
  if (left(r) < n) return -1;
  for (size_t i = 0; i < n; i++) x = x << 8 | r->p[i];
  r->p += n;
  *v = x;
  return 0;
}

/* A vector with an n-byte length prefix: inner spans its contents. On failure
 * the reader does not move. */
static int get_vec(rd *r, size_t n, rd *inner) {
  rd c = *r;
  unsigned long len;
  if (get_n(&c, n, &len) != 0 || left(&c) < len) return -1;
  inner->p = c.p;
  inner->end = c.p + len;
  r->p = c.p + len;
  return 0;
}

/* The whole of r is one vector with an n-byte length prefix. */
static int whole_vec(const rd *r, size_t n, rd *inner) {
  rd c = *r;
  return get_vec(&c, n, inner) == 0 && left(&c) == 0 ? 0 : -1;
}

/* ---- extensions ------------------------------------------------------------------ */

static int cmp_u16(const void *a, const void *b) {
  uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
  return (x > y) - (x < y);
}

/* A list of 16-bit values behind a prefix-byte length (2, or 1 for
 * supported_versions): even, non-empty, spanning the whole extension. */
static int u16_list(const rd *ext, size_t prefix, const uint8_t **list, size_t *count) {
  rd v;
  if (whole_vec(ext, prefix, &v) != 0 || left(&v) == 0 || left(&v) % 2 != 0) return -1;
  *list = v.p;
  *count = left(&v) / 2;
  return 0;
}

static int ext_sni(portls__hello *h, rd ext) {
  rd list;
  int seen = 0;
  if (whole_vec(&ext, 2, &list) != 0 || left(&list) == 0)
    return BAD(h, PORTLS__HELLO_E_SNI, "ClientHello: malformed server_name list");
  while (left(&list) > 0) {
    unsigned long type;
    rd name;
    if (get_n(&list, 1, &type) != 0 || get_vec(&list, 2, &name) != 0)
      return BAD(h, PORTLS__HELLO_E_SNI, "ClientHello: malformed server_name list");
    if (type != 0) continue; /* other name types: none defined, skipped (RFC 6066, 3) */
    if (seen)
      return BAD(h, PORTLS__HELLO_E_SNI, "ClientHello: more than one host_name in server_name");
    seen = 1;
    if (left(&name) == 0 || left(&name) > 255)
      return BAD(h, PORTLS__HELLO_E_SNI, "ClientHello: server_name host_name of %zu bytes",
                 left(&name));
    if (memchr(name.p, 0, left(&name)) != NULL)
      return BAD(h, PORTLS__HELLO_E_SNI, "ClientHello: server_name contains a NUL byte");
    memcpy(h->sni, name.p, left(&name));
    h->sni[left(&name)] = '\0';
    h->ch.servername = h->sni;
    h->ch.servername_len = left(&name);
  }
  if (!seen) return BAD(h, PORTLS__HELLO_E_SNI, "ClientHello: server_name has no host_name");
  return 0;
}

static int ext_alpn(portls__hello *h, rd ext) {
  rd list;
  if (whole_vec(&ext, 2, &list) != 0)
    return BAD(h, PORTLS__HELLO_E_ALPN, "ClientHello: ALPN list length does not match");
  if (left(&list) == 0) return BAD(h, PORTLS__HELLO_E_ALPN, "ClientHello: empty ALPN list");
  h->ch.alpn = list.p;
  h->ch.alpn_len = left(&list);
  while (left(&list) > 0) {
    rd name;
    if (get_vec(&list, 1, &name) != 0)
      return BAD(h, PORTLS__HELLO_E_ALPN, "ClientHello: ALPN protocol name overruns the list");
    if (left(&name) == 0)
      return BAD(h, PORTLS__HELLO_E_ALPN, "ClientHello: empty ALPN protocol name");
  }
  return 0;
}

/* CertificateStatusRequest (RFC 6066, 8). Types other than ocsp are opaque to
 * us and ignored, as OpenSSL does. */
static int ext_status(portls__hello *h, rd ext) {
  unsigned long type;
  rd ids, exts;
  if (get_n(&ext, 1, &type) != 0)
    return BAD(h, PORTLS__HELLO_E_EXT, "ClientHello: empty status_request");
  if (type != 1) return 0;
  if (get_vec(&ext, 2, &ids) != 0 || get_vec(&ext, 2, &exts) != 0 || left(&ext) != 0)
    return BAD(h, PORTLS__HELLO_E_EXT, "ClientHello: malformed status_request");
  while (left(&ids) > 0) {
    rd id;
    if (get_vec(&ids, 2, &id) != 0 || left(&id) == 0)
      return BAD(h, PORTLS__HELLO_E_EXT, "ClientHello: malformed status_request responder id");
  }
  h->ch.status_request = 1;
  return 0;
}

/* OfferedPsks (RFC 8446, 4.2.11): identities<7..2^16-1>, binders<33..2^16-1>,
 * one binder per identity. */
static int ext_psk(portls__hello *h, rd ext) {
  rd ids, binders;
  size_t n_ids = 0, n_binders = 0;
  if (get_vec(&ext, 2, &ids) != 0 || get_vec(&ext, 2, &binders) != 0 || left(&ext) != 0)
    return BAD(h, PORTLS__HELLO_E_EXT, "ClientHello: malformed pre_shared_key");
  while (left(&ids) > 0) {
    rd id;
    unsigned long age;
    if (get_vec(&ids, 2, &id) != 0 || left(&id) == 0 || get_n(&ids, 4, &age) != 0)
      return BAD(h, PORTLS__HELLO_E_EXT, "ClientHello: malformed pre_shared_key identity");
    if (n_ids++ == 0) {
      h->ch.psk_identity = id.p;
      h->ch.psk_identity_len = left(&id);
    }
  }
  while (left(&binders) > 0) {
    rd b;
    if (get_vec(&binders, 1, &b) != 0 || left(&b) < 32)
      return BAD(h, PORTLS__HELLO_E_EXT, "ClientHello: malformed pre_shared_key binder");
    n_binders++;
  }
  if (n_ids == 0 || n_ids != n_binders)
    return BAD(h, PORTLS__HELLO_E_EXT,
               "ClientHello: pre_shared_key has %zu identities and %zu binders", n_ids, n_binders);
  h->ch.pre_shared_key = 1;
  h->ch.n_psk_identities = n_ids;
  return 0;
}

static int ext_one(portls__hello *h, uint16_t type, rd ext, int last) {
  portls__client_hello *ch = &h->ch;
  rd v;
  switch (type) {
  case PORTLS__EXT_SERVER_NAME:
    return ext_sni(h, ext);
  case PORTLS__EXT_STATUS_REQUEST:
    return ext_status(h, ext);
  case PORTLS__EXT_SUPPORTED_GROUPS:
    if (u16_list(&ext, 2, &ch->groups, &ch->n_groups) != 0)
      return BAD(h, PORTLS__HELLO_E_EXT, "ClientHello: malformed supported_groups");
    return 0;
  case PORTLS__EXT_SIGNATURE_ALGORITHMS:
    if (u16_list(&ext, 2, &ch->sigalgs, &ch->n_sigalgs) != 0)
      return BAD(h, PORTLS__HELLO_E_EXT, "ClientHello: malformed signature_algorithms");
    return 0;
  case PORTLS__EXT_ALPN:
    return ext_alpn(h, ext);
  case PORTLS__EXT_SESSION_TICKET:
    ch->session_ticket = 1;
    if (left(&ext) > 0) {
      ch->ticket = ext.p;
      ch->ticket_len = left(&ext);
    }
    return 0;
  case PORTLS__EXT_PRE_SHARED_KEY:
    if (!last)
      return BAD(h, PORTLS__HELLO_E_PSK_NOT_LAST,
                 "ClientHello: pre_shared_key is not the last extension");
    return ext_psk(h, ext);
  case PORTLS__EXT_EARLY_DATA:
    if (left(&ext) != 0) return BAD(h, PORTLS__HELLO_E_EXT, "ClientHello: early_data not empty");
    ch->early_data = 1;
    return 0;
  case PORTLS__EXT_SUPPORTED_VERSIONS:
    if (u16_list(&ext, 1, &ch->versions, &ch->n_versions) != 0)
      return BAD(h, PORTLS__HELLO_E_EXT, "ClientHello: malformed supported_versions");
    return 0;
  case PORTLS__EXT_NPN:
    ch->npn = 1;
    return 0;
  case PORTLS__EXT_RENEGOTIATION_INFO:
    if (whole_vec(&ext, 1, &v) != 0)
      return BAD(h, PORTLS__HELLO_E_EXT, "ClientHello: malformed renegotiation_info");
    ch->reneg_info = 1;
    return 0;
  default:
    return 0;
  }
}

/* Checks the framing of every extension, then duplicates, then each one's
 * contents in wire order. */
static int parse_exts(portls__hello *h, rd all) {
  uint16_t small[64], *types = small;
  size_t n = 0;
  rd r = all;
  int rc = 0;

  while (left(&r) > 0) {
    unsigned long type;
    rd data;
    if (get_n(&r, 2, &type) != 0 || get_vec(&r, 2, &data) != 0)
      return BAD(h, PORTLS__HELLO_E_LENGTH, "ClientHello: extension %zu overruns the extensions",
                 n);
    n++;
  }
  h->ch.exts = all.p;
  h->ch.exts_len = left(&all);
  h->ch.n_exts = n;
  if (n == 0) return 0;

  if (n > PORTLS__ARRAY_SIZE(small) && (types = portls__malloc(n * sizeof *types)) == NULL)
    return fail(h, PORTLS_ENOMEM, PORTLS__HELLO_E_NOMEM, "ClientHello: out of memory");
  r = all;
  for (size_t i = 0; i < n; i++) {
    types[i] = (uint16_t)(r.p[0] << 8 | r.p[1]);
    r.p += 4 + (size_t)(r.p[2] << 8 | r.p[3]);
  }
  qsort(types, n, sizeof *types, cmp_u16);
  for (size_t i = 1; i < n && rc == 0; i++)
    if (types[i] == types[i - 1])
      rc = BAD(h, PORTLS__HELLO_E_DUP_EXT, "ClientHello: duplicate extension 0x%04x",
               (unsigned)types[i]);
  if (types != small) portls__free(types);
  if (rc != 0) return rc;

  r = all;
  while (left(&r) > 0) {
    unsigned long type;
    rd data;
    if (get_n(&r, 2, &type) != 0 || get_vec(&r, 2, &data) != 0) break; /* checked above */
    if ((rc = ext_one(h, (uint16_t)type, data, left(&r) == 0)) != 0) return rc;
  }
  return 0;
}

/* ---- the body -------------------------------------------------------------------- */

static int parse_body(portls__hello *h) {
  portls__client_hello *ch = &h->ch;
  rd r = {h->body, h->body + h->body_len};
  rd v;
  unsigned long x;

  if (get_n(&r, 2, &x) != 0 || left(&r) < 32)
    return BAD(h, PORTLS__HELLO_E_LENGTH, "ClientHello: truncated before the random");
  ch->version = (uint16_t)x;
  ch->random = r.p;
  r.p += 32;

  if (get_vec(&r, 1, &v) != 0)
    return BAD(h, PORTLS__HELLO_E_LENGTH, "ClientHello: session_id overruns the message");
  if (left(&v) > 32)
    return BAD(h, PORTLS__HELLO_E_LENGTH, "ClientHello: session_id of %zu bytes", left(&v));
  ch->session_id = left(&v) ? v.p : NULL;
  ch->session_id_len = left(&v);

  if (get_vec(&r, 2, &v) != 0)
    return BAD(h, PORTLS__HELLO_E_LENGTH, "ClientHello: cipher_suites overrun the message");
  if (left(&v) == 0 || left(&v) % 2 != 0)
    return BAD(h, PORTLS__HELLO_E_LENGTH, "ClientHello: cipher_suites of %zu bytes", left(&v));
  ch->suites = v.p;
  ch->n_suites = left(&v) / 2;
  ch->reneg_scsv = portls__hello_has_u16(ch->suites, ch->n_suites, SCSV_RENEG);

  if (get_vec(&r, 1, &v) != 0)
    return BAD(h, PORTLS__HELLO_E_LENGTH, "ClientHello: compression_methods overrun the message");
  if (left(&v) == 0) return BAD(h, PORTLS__HELLO_E_LENGTH, "ClientHello: no compression method");
  ch->compressions = v.p;
  ch->n_compressions = left(&v);

  /* Extensions are optional before TLS 1.3: nothing at all may follow. */
  if (left(&r) == 0) return PORTLS__HELLO_DONE;
  if (get_vec(&r, 2, &v) != 0)
    return BAD(h, PORTLS__HELLO_E_LENGTH, "ClientHello: extensions overrun the message");
  if (left(&r) != 0)
    return BAD(h, PORTLS__HELLO_E_LENGTH, "ClientHello: %zu bytes after the extensions", left(&r));
  if (parse_exts(h, v) != 0) return h->state;
  return PORTLS__HELLO_DONE;
}

/* ---- records and the handshake header ------------------------------------------- */

/* A record header is complete in h->rec. */
static int record_header(portls__hello *h) {
  size_t len = (size_t)h->rec[3] << 8 | h->rec[4];
  if (h->rec[0] != REC_HANDSHAKE)
    return BAD(h, PORTLS__HELLO_E_RECORD, "ClientHello: record of type %u inside the ClientHello",
               (unsigned)h->rec[0]);
  if (h->rec[1] != 3)
    return BAD(h, PORTLS__HELLO_E_RECORD, "ClientHello: record version %u.%u", (unsigned)h->rec[1],
               (unsigned)h->rec[2]);
  if (len == 0) return BAD(h, PORTLS__HELLO_E_RECORD, "ClientHello: empty handshake record");
  if (len > REC_MAX) return BAD(h, PORTLS__HELLO_E_RECORD, "ClientHello: record of %zu bytes", len);
  h->rec_left = len;
  h->rec_got = 0;
  h->nrec++;
  return 0;
}

/* The 4-byte handshake header is complete in h->hs. */
static int message_header(portls__hello *h) {
  size_t len = (size_t)h->hs[1] << 16 | (size_t)h->hs[2] << 8 | h->hs[3];
  if (h->hs[0] != HS_CLIENT_HELLO)
    return BAD(h, PORTLS__HELLO_E_NOT_HELLO, "ClientHello expected, got handshake message %u",
               (unsigned)h->hs[0]);
  if (len > PORTLS__HELLO_BODY_MAX)
    return BAD(h, PORTLS__HELLO_E_TOO_BIG, "ClientHello of %zu bytes exceeds %u", len,
               PORTLS__HELLO_BODY_MAX);
  h->body_len = len;
  if ((h->body = portls__malloc(len)) == NULL)
    return fail(h, PORTLS_ENOMEM, PORTLS__HELLO_E_NOMEM, "ClientHello: out of memory");
  return 0;
}

int portls__hello_feed(portls__hello *h, const void *data, size_t len) {
  const uint8_t *p = data;
  size_t i = 0;

  if (h->state != PORTLS__HELLO_MORE) return h->state;
  while (i < len) {
    if (h->rec_left == 0) {
      uint8_t b = p[i++];
      if (h->raw == PORTLS__HELLO_MAX) goto too_big;
      h->raw++;
      h->rec[h->rec_got++] = b;
      /* Decide "not TLS" on the first bytes, before anything is buffered. */
      if (h->nrec == 0 && h->rec_got == 1 && b != REC_HANDSHAKE) {
        if (b & 0x80)
          return fail(h, PORTLS__HELLO_NOT_TLS, PORTLS__HELLO_E_SSLV2,
                      "SSLv2-format ClientHello is not supported");
        return fail(h, PORTLS__HELLO_NOT_TLS, PORTLS__HELLO_E_NOT_HANDSHAKE,
                    "not a TLS handshake (first byte 0x%02x)", (unsigned)b);
      }
      if (h->nrec == 0 && h->rec_got == 2 && b != 3)
        return fail(h, PORTLS__HELLO_NOT_TLS, PORTLS__HELLO_E_NOT_HANDSHAKE,
                    "not a TLS handshake (record version %u.x)", (unsigned)b);
      if (h->rec_got == 5 && record_header(h) != 0) return h->state;
      continue;
    }

    size_t n = PORTLS__MIN(h->rec_left, len - i);
    if (h->hs_got < 4)
      n = PORTLS__MIN(n, 4 - h->hs_got);
    else
      n = PORTLS__MIN(n, 4 + h->body_len - h->hs_got);
    if (n > PORTLS__HELLO_MAX - h->raw) goto too_big;
    if (h->hs_got < 4)
      memcpy(h->hs + h->hs_got, p + i, n);
    else
      memcpy(h->body + (h->hs_got - 4), p + i, n);
    h->hs_got += n;
    h->rec_left -= n;
    h->raw += n;
    i += n;
    if (h->hs_got == 4 && h->body == NULL && message_header(h) != 0) return h->state;
    if (h->hs_got == 4 + h->body_len && h->body != NULL) {
      int rc = parse_body(h);
      if (rc == PORTLS__HELLO_DONE) h->state = PORTLS__HELLO_DONE;
      return h->state;
    }
  }
  return h->state;

too_big:
  /* Whatever the chunking, the parser gave up after exactly this many bytes. */
  h->raw = PORTLS__HELLO_MAX;
  return BAD(h, PORTLS__HELLO_E_TOO_BIG, "ClientHello not complete within %u bytes",
             PORTLS__HELLO_MAX);
}

/* ---- accessors ------------------------------------------------------------------- */

unsigned portls__hello_alert(const portls__hello *h) {
  if (h->state == PORTLS__HELLO_MORE || h->state == PORTLS__HELLO_DONE ||
      h->state == PORTLS__HELLO_NOT_TLS)
    return 0;
  switch (h->why) {
  case PORTLS__HELLO_E_TOO_BIG:
    return PORTLS__ALERT_HANDSHAKE_FAILURE;
  case PORTLS__HELLO_E_NOT_HELLO:
    return PORTLS__ALERT_UNEXPECTED_MESSAGE;
  case PORTLS__HELLO_E_DUP_EXT:
  case PORTLS__HELLO_E_PSK_NOT_LAST:
    return PORTLS__ALERT_ILLEGAL_PARAMETER;
  case PORTLS__HELLO_E_NOMEM:
    return PORTLS__ALERT_INTERNAL_ERROR;
  default:
    return PORTLS__ALERT_DECODE_ERROR;
  }
}

int portls__hello_has_u16(const uint8_t *list, size_t n, uint16_t v) {
  for (size_t i = 0; i < n; i++)
    if (portls__hello_u16(list, i) == v) return 1;
  return 0;
}

int portls__hello_offers_tls13(const portls__client_hello *ch) {
  return portls__hello_has_u16(ch->versions, ch->n_versions, 0x0304);
}

int portls__hello_next_ext(const portls__client_hello *ch, size_t *pos, uint16_t *type,
                           const uint8_t **data, size_t *len) {
  size_t at = *pos, n;
  /* The block was validated by the parser; check again anyway, it is cheap. */
  if (ch->exts == NULL || at >= ch->exts_len || ch->exts_len - at < 4) return 0;
  n = (size_t)ch->exts[at + 2] << 8 | ch->exts[at + 3];
  if (n > ch->exts_len - at - 4) return 0;
  *type = (uint16_t)(ch->exts[at] << 8 | ch->exts[at + 1]);
  *data = ch->exts + at + 4;
  *len = n;
  *pos = at + 4 + n;
  return 1;
}

int portls__hello_find_ext(const portls__client_hello *ch, uint16_t type, const uint8_t **data,
                           size_t *len) {
  size_t pos = 0;
  uint16_t t;
  while (portls__hello_next_ext(ch, &pos, &t, data, len))
    if (t == type) return 1;
  *data = NULL;
  *len = 0;
  return 0;
}

int portls__hello_alpn_next(const uint8_t *wire, size_t len, size_t *pos, const uint8_t **name,
                            size_t *name_len) {
  size_t at = *pos, n;
  if (wire == NULL || at >= len) return 0;
  n = wire[at];
  if (n > len - at - 1) return 0;
  *name = wire + at + 1;
  *name_len = n;
  *pos = at + 1 + n;
  return 1;
}
