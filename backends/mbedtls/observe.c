/* portls backend mbed TLS: what core observes of a connection when the
 * application asks (Node's 'keylog' event and enableTrace()).
 *
 * Key log: mbed TLS 2.28 exports the master secret with both randoms
 * through the key export callback of the session's own config (session.c);
 * that is the NSS line "CLIENT_RANDOM <client random> <master secret>" (2.28
 * has no TLS 1.3, so no other label). mbed TLS 3.6 has a per-connection
 * callback with every secret, installed when a listener comes.
 *
 * Trace: mbed TLS has no message callback, but every byte it reads or writes
 * passes the bio, and in TLS 1.2 and below each record header is in the
 * clear. The tap frames those records in each direction and hands core the
 * plaintext handshake messages (reassembled when a record splits one),
 * ChangeCipherSpec and alerts. After a ChangeCipherSpec the direction is
 * encrypted: its next handshake record is the Finished message (in TLS 1.2
 * and below always 12 bytes of verify_data, so its header is known exactly);
 * later encrypted records (a renegotiation) are reported by length alone.
 */
#include <string.h>

#include <mbedtls/platform_util.h>

#include "backends/mbedtls/mbed.h"

/* A handshake message larger than this is reported by its header alone
 * (mbed TLS 2.28 takes none that does not fit its 16 KiB record anyway). */
#define MBED_TAP_MAX_MSG (64u * 1024u)

enum { TAP_CCS = 20, TAP_ALERT = 21, TAP_HANDSHAKE = 22, TAP_FINISHED = 20 };

struct portls__mbed_tap {
  uint8_t hdr[5]; /* the record header being read */
  size_t have;    /* bytes of hdr so far */
  size_t body;    /* bytes of the current record's body still to come */
  size_t rec_len;
  int encrypted; /* a ChangeCipherSpec went this way */
  int finished;  /* the next encrypted handshake record is Finished */
  uint8_t alert[2];
  size_t alert_len;
  uint8_t *msg;    /* plaintext handshake bytes not yet a whole message */
  size_t len, cap; /* of msg */
  int skipping;    /* the message in msg was too large: its bytes are dropped */
  size_t skip;     /* bytes of it still to drop */
};

/* ---- keylog ---- */

#if defined(MBEDTLS_SSL_EXPORT_KEYS) || defined(PORTLS_MBED3)
static void mbed_hex(char *out, const uint8_t *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  out[2 * n] = '\0';
}

/* "LABEL <client random> <secret>" to the listener. */
static void mbed_keylog_line(portls_be_session *s, const char *label, const uint8_t cr[32],
                             const uint8_t *secret, size_t secret_len) {
  char line[40 + 1 + 64 + 1 + 2 * 64 + 1];
  size_t n = strlen(label);
  if (s->keylog == NULL || secret_len > 64 || n > 40) return;
  memcpy(line, label, n);
  line[n] = ' ';
  mbed_hex(line + n + 1, cr, 32);
  line[n + 65] = ' ';
  mbed_hex(line + n + 66, secret, secret_len);
  s->keylog(s->keylog_user, line);
  mbedtls_platform_zeroize(line, sizeof line);
}
#endif

#if defined(PORTLS_MBED3)
/* 3.6: a per-connection callback with each secret as the key schedule makes
 * it. Its TLS 1.3 exporter secret is not among them, so a TLS 1.3 key log
 * has four lines, not OpenSSL's five (Wireshark needs only these four). */
static void mbed_export_keys3(void *p, mbedtls_ssl_key_export_type type,
                              const unsigned char *secret, size_t secret_len,
                              const unsigned char client_random[32],
                              const unsigned char server_random[32],
                              mbedtls_tls_prf_types tls_prf_type) {
  portls_be_session *s = p;
  const char *label = NULL;
  (void)server_random;
  (void)tls_prf_type;
  switch (type) {
  case MBEDTLS_SSL_KEY_EXPORT_TLS12_MASTER_SECRET:
    label = "CLIENT_RANDOM";
    break;
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
  case MBEDTLS_SSL_KEY_EXPORT_TLS1_3_CLIENT_EARLY_SECRET:
    label = "CLIENT_EARLY_TRAFFIC_SECRET";
    break;
  case MBEDTLS_SSL_KEY_EXPORT_TLS1_3_CLIENT_HANDSHAKE_TRAFFIC_SECRET:
    label = "CLIENT_HANDSHAKE_TRAFFIC_SECRET";
    break;
  case MBEDTLS_SSL_KEY_EXPORT_TLS1_3_SERVER_HANDSHAKE_TRAFFIC_SECRET:
    label = "SERVER_HANDSHAKE_TRAFFIC_SECRET";
    break;
  case MBEDTLS_SSL_KEY_EXPORT_TLS1_3_CLIENT_APPLICATION_TRAFFIC_SECRET:
    label = "CLIENT_TRAFFIC_SECRET_0";
    break;
  case MBEDTLS_SSL_KEY_EXPORT_TLS1_3_SERVER_APPLICATION_TRAFFIC_SECRET:
    label = "SERVER_TRAFFIC_SECRET_0";
    break;
#endif
  default:
    break;
  }
  if (label != NULL) mbed_keylog_line(s, label, client_random, secret, secret_len);
}

void portls__mbed_set_keylog(portls_be_session *s, portls_be_keylog_fn fn, void *user) {
  s->keylog = fn;
  s->keylog_user = user;
  /* Installed once a listener exists; with none it finds nothing to do. */
  if (fn != NULL) mbedtls_ssl_set_export_keys_cb(&s->ssl, mbed_export_keys3, s);
}
#elif defined(MBEDTLS_SSL_EXPORT_KEYS)
/* 2.28: the session's own key-export callback (session.c, which also keeps
 * what exportKeyingMaterial needs) hands the master secret here. */
void portls__mbed_keylog_tls12(portls_be_session *s, const uint8_t ms[48], const uint8_t cr[32]) {
  mbed_keylog_line(s, "CLIENT_RANDOM", cr, ms, 48); /* the (extended) master secret */
}

void portls__mbed_set_keylog(portls_be_session *s, portls_be_keylog_fn fn, void *user) {
  s->keylog = fn;
  s->keylog_user = user;
}
#endif

/* ---- trace ---- */

static void tap_emit(portls_be_session *s, int sent, int type, const uint8_t *msg, size_t len) {
  if (s->trace != NULL) s->trace(s->trace_user, sent, type, msg, len);
}

static int tap_reserve(struct portls__mbed_tap *t, size_t need) {
  if (t->cap >= need) return 0;
  size_t cap = t->cap ? t->cap : 256;
  while (cap < need) cap *= 2;
  uint8_t *m = portls__realloc(t->msg, cap);
  if (m == NULL) return -1;
  t->msg = m;
  t->cap = cap;
  return 0;
}

/* Plaintext handshake bytes: each whole message goes to core. */
static void tap_handshake(portls_be_session *s, int sent, struct portls__mbed_tap *t,
                          const uint8_t *p, size_t n) {
  while (n > 0) {
    if (t->skipping) {
      size_t k = PORTLS__MIN(n, t->skip);
      t->skip -= k;
      p += k;
      n -= k;
      if (t->skip == 0) t->skipping = 0;
      continue;
    }
    size_t want = 4;
    if (t->len >= 4) want = 4 + (((size_t)t->msg[1] << 16) | ((size_t)t->msg[2] << 8) | t->msg[3]);
    if (want > MBED_TAP_MAX_MSG) {
      tap_emit(s, sent, TAP_HANDSHAKE, t->msg, 4); /* its header says what it is */
      t->skipping = 1;
      t->skip = want - t->len;
      t->len = 0;
      continue;
    }
    size_t k = PORTLS__MIN(n, want - t->len);
    if (tap_reserve(t, t->len + k) < 0) { /* out of memory: this message goes untraced */
      t->skipping = 1;
      t->skip = want - t->len;
      t->len = 0;
      continue;
    }
    memcpy(t->msg + t->len, p, k);
    t->len += k;
    p += k;
    n -= k;
    if (t->len >= 4 &&
        t->len == 4 + (((size_t)t->msg[1] << 16) | ((size_t)t->msg[2] << 8) | t->msg[3])) {
      tap_emit(s, sent, TAP_HANDSHAKE, t->msg, t->len);
      t->len = 0;
    }
  }
}

/* A record header is complete: what can be said before its body. */
static void tap_record_start(portls_be_session *s, int sent, struct portls__mbed_tap *t) {
  int type = t->hdr[0];
  if (!t->encrypted || (type != TAP_HANDSHAKE && type != TAP_ALERT)) return;
  if (type == TAP_HANDSHAKE && t->finished) {
    static const uint8_t finished[4] = {TAP_FINISHED, 0, 0, 12};
    t->finished = 0;
    tap_emit(s, sent, TAP_HANDSHAKE, finished, sizeof finished);
    return;
  }
  tap_emit(s, sent, type, NULL, t->rec_len); /* encrypted: its length alone */
}

void portls__mbed_tap(portls_be_session *s, int sent, const uint8_t *p, size_t n) {
  struct portls__mbed_tap *t = s->tap != NULL ? &s->tap[sent] : NULL;
  if (t == NULL) return;
  while (n > 0) {
    if (t->body == 0) {
      t->hdr[t->have++] = *p++;
      n--;
      if (t->have < sizeof t->hdr) continue;
      t->have = 0;
      t->body = t->rec_len = ((size_t)t->hdr[3] << 8) | t->hdr[4];
      tap_record_start(s, sent, t);
      t->alert_len = 0;
      continue;
    }
    size_t k = PORTLS__MIN(n, t->body);
    int type = t->hdr[0];
    if (type == TAP_HANDSHAKE && !t->encrypted) {
      tap_handshake(s, sent, t, p, k);
    } else if (type == TAP_ALERT && !t->encrypted) {
      for (size_t i = 0; i < k && t->alert_len < 2; i++) t->alert[t->alert_len++] = p[i];
    }
    t->body -= k;
    p += k;
    n -= k;
    if (t->body > 0) continue;
    if (type == TAP_CCS) {
      static const uint8_t ccs[1] = {1};
      tap_emit(s, sent, TAP_CCS, ccs, sizeof ccs);
      t->encrypted = 1;
      t->finished = 1;
    } else if (type == TAP_ALERT && !t->encrypted && t->alert_len == 2) {
      tap_emit(s, sent, TAP_ALERT, t->alert, 2);
    }
  }
}

void portls__mbed_set_trace(portls_be_session *s, portls_be_msg_fn fn, void *user) {
  if (fn == NULL) {
    s->trace = NULL;
    portls__mbed_observe_free(s);
    return;
  }
  if (s->tap == NULL) {
    s->tap = portls__calloc(2, sizeof *s->tap);
    if (s->tap == NULL) return; /* out of memory: no trace, the connection goes on */
    /* Started mid-way: take the received side's framing from the bio's. */
    memcpy(s->tap[0].hdr, s->fr_hdr, sizeof s->fr_hdr);
    s->tap[0].have = s->fr_have;
    s->tap[0].body = s->fr_body;
    if (s->fr_body > 0) s->tap[0].hdr[0] = 23; /* the rest of that record is not traced */
    s->tap[0].encrypted = s->tap[1].encrypted = s->ssl.transform_in != NULL;
  }
  s->trace = fn;
  s->trace_user = user;
}

void portls__mbed_observe_free(portls_be_session *s) {
  if (s->tap == NULL) return;
  for (int i = 0; i < 2; i++) portls__free(s->tap[i].msg);
  portls__free(s->tap);
  s->tap = NULL;
}
