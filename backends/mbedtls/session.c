/* portls backend mbed TLS: one connection.
 *
 * Sans-I/O through mbedtls_ssl_set_bio on core's portls_be_io. mbed TLS asks
 * for exactly the bytes of the record it is reading (header, then body), so
 * it never holds more ciphertext than one partial record; no read-ahead.
 *
 * The first handshake is driven one mbedtls_ssl_handshake_step at a time; a
 * renegotiation runs inside mbedtls_ssl_read/write. Either way what only
 * exists while the handshake structure lives (the ECDHE group, the server's
 * DH prime, whether the session was resumed) is captured before mbed TLS
 * frees it (mbed_track); there are no public getters for those in 2.28.
 *
 * Verification is Node's: authmode OPTIONAL, never REQUIRED, so the handshake
 * completes and core reads the result. mbed TLS reports a bit mask; the
 * verify callback records, per depth, the flags, the certificate and whether
 * it is self-issued, and mbed_verify_code() turns that into the code OpenSSL
 * gives for the same chain in a Node-style handshake (docs/backends.md,
 * "Keys, containers and verification").
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "backends/mbedtls/mbed.h"

#include <mbedtls/error.h>
#include <mbedtls/platform.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl_ciphersuites.h>
#if !defined(PORTLS_MBED3)
#include <mbedtls/ssl_internal.h>
#endif

#if !defined(MBEDTLS_SSL_KEEP_PEER_CERTIFICATE)
#error "portls: mbed TLS must keep the peer certificate (MBEDTLS_SSL_KEEP_PEER_CERTIFICATE)"
#endif

enum { MBED_OP_HANDSHAKE, MBED_OP_READ, MBED_OP_WRITE, MBED_OP_SHUTDOWN };

/* The largest TLS record body a peer may send (plaintext + expansion). */
#define MBED_MAX_RECORD (16384 + 2048)

/* Warning alerts in a row, OpenSSL's limit (MAX_WARN_ALERT_COUNT): the fifth
 * fails the connection with unexpected_message. mbed TLS 2.28 passes over
 * warning alerts (all but close_notify and no_renegotiation) inside its
 * record loop with no limit at all, so a peer could keep a connection busy
 * with them forever; they are counted here as their records go by (see
 * mbed_frame). Empty records need nothing of the kind: mbed TLS fails the
 * fourth in a row itself (nb_zero), stricter than OpenSSL's 32. */
#define MBED_MAX_WARN_ALERTS 5

/* Session bytes, one format for getSession(), a server's server_session()
 * and the state sealed in a ticket:
 *   'p' 'm' 'b' 2 | verify code (int16, big-endian) | c (1) | k (1) |
 *   context (c bytes) | [chain] | mbedtls_ssl_session_save() output
 * k 1: the peer's chain follows the context, as TLS's Certificate list
 * (3-byte total length, then each DER certificate with a 3-byte length),
 * because mbed TLS 3.6 saves no peer certificate in a TLS 1.3 session;
 * k 0: no chain (2.28, TLS 1.2: mbed TLS keeps it in its own bytes).
 * verify code: the peer's verification result in OpenSSL's terms, which a
 * resumed handshake cannot recompute (no chain is verified then); context: a
 * server's session id context (SHA-256, see mbed.h), empty on a client.
 * (Which server name a client session is for is core's business: it frames
 * getSession()'s bytes with the name.) */
#define MBED_BLOB_HDR 8
static const uint8_t mbed_blob_magic[4] = {'p', 'm', 'b', 2};

static void mbed_track(portls_be_session *s);

/* Whether no handshake is under way. mbed TLS 3 puts a TLS 1.3 server's
 * NewSessionTicket states (and a client's, while it takes one in) after
 * HANDSHAKE_OVER: past the handshake, as mbedtls_ssl_is_handshake_over()
 * says. In 2.28 the states after it are TLS 1.2 and DTLS handshake steps. */
#if defined(PORTLS_MBED3)
#define MBED_HS_OVER(s) ((s)->ssl.state >= MBEDTLS_SSL_HANDSHAKE_OVER)
#else
#define MBED_HS_OVER(s) ((s)->ssl.state == MBEDTLS_SSL_HANDSHAKE_OVER)
#endif

#if defined(PORTLS_MBED3)
/* ------------------------------------------------------------------------ */
/* mbed TLS 3: the server's first flight, read as it goes by (see mbed.h).    */

/* IANA TLS group ids → mbed TLS curve ids (RFC 8422, 7027, 8446). */
static int mbed_group_to_ecp(unsigned tls_id) {
  switch (tls_id) {
  case 18:
    return MBEDTLS_ECP_DP_SECP192K1;
  case 19:
    return MBEDTLS_ECP_DP_SECP192R1;
  case 20:
    return MBEDTLS_ECP_DP_SECP224K1;
  case 21:
    return MBEDTLS_ECP_DP_SECP224R1;
  case 22:
    return MBEDTLS_ECP_DP_SECP256K1;
  case 23:
    return MBEDTLS_ECP_DP_SECP256R1;
  case 24:
    return MBEDTLS_ECP_DP_SECP384R1;
  case 25:
    return MBEDTLS_ECP_DP_SECP521R1;
  case 26:
    return MBEDTLS_ECP_DP_BP256R1;
  case 27:
    return MBEDTLS_ECP_DP_BP384R1;
  case 28:
    return MBEDTLS_ECP_DP_BP512R1;
  case 29:
    return MBEDTLS_ECP_DP_CURVE25519;
  case 30:
    return MBEDTLS_ECP_DP_CURVE448;
  default:
    return 0;
  }
}

/* SHA-256("HelloRetryRequest"): the random of a HelloRetryRequest (RFC 8446 4.1.3). */
static const uint8_t mbed_hrr_random[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};

static void mbed_watch_server_hello(portls_be_session *s, const uint8_t *p, size_t len) {
  const uint8_t *end = p + len;
  if (len < 35) return;
  if (memcmp(p + 2, mbed_hrr_random, 32) == 0) {
    /* A HelloRetryRequest: TLS 1.3 (its compatibility CCS is no TLS 1.2
     * resumption), and the real ServerHello follows in the clear. */
    s->sf.tls13 = 1;
    s->sf.after_hrr = 1;
    return;
  }
  s->sf.after_hrr = 0;
  p += 34;
  if ((size_t)(end - p) < 1u + p[0]) return;
  p += 1 + p[0]; /* session id */
  if (end - p < 3) return;
  s->sf.suite = (p[0] << 8) | p[1];
  p += 3;
  if (end - p < 2) return;
  size_t n = ((size_t)p[0] << 8) | p[1];
  p += 2;
  if ((size_t)(end - p) < n) return;
  end = p + n;
  int group = 0, psk = 0, v13 = 0;
  while (end - p >= 4) {
    unsigned type = ((unsigned)p[0] << 8) | p[1];
    size_t elen = ((size_t)p[2] << 8) | p[3];
    p += 4;
    if ((size_t)(end - p) < elen) return;
    if (type == 43 && elen == 2 && p[0] == 3 && p[1] == 4) v13 = 1; /* supported_versions */
    if (type == 51 && elen >= 2) group = (p[0] << 8) | p[1];        /* key_share */
    if (type == 41) psk = 1;                                        /* pre_shared_key */
    p += elen;
  }
  s->sf.tls13 = v13;
  if (v13) {
    s->resumed = psk;
    s->ecdh_grp = mbed_group_to_ecp((unsigned)group);
  }
}

static void mbed_watch_key_exchange(portls_be_session *s, const uint8_t *p, size_t len) {
  const mbedtls_ssl_ciphersuite_t *cs = mbedtls_ssl_ciphersuite_from_id(s->sf.suite);
  if (cs == NULL) return;
  switch (cs->key_exchange) {
  case MBEDTLS_KEY_EXCHANGE_ECDHE_RSA:
  case MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA:
    if (len >= 3 && p[0] == 3) s->ecdh_grp = mbed_group_to_ecp(((unsigned)p[1] << 8) | p[2]);
    break;
  case MBEDTLS_KEY_EXCHANGE_DHE_RSA: {
    size_t plen = len >= 2 ? ((size_t)p[0] << 8) | p[1] : 0;
    size_t i = 2;
    while (i < len && i < 2 + plen && p[i] == 0) i++; /* leading zero bytes */
    if (plen == 0 || i >= len || i >= 2 + plen) return;
    int bits = (int)(2 + plen - i) * 8;
    for (uint8_t top = p[i]; (top & 0x80) == 0; top = (uint8_t)(top << 1)) bits--;
    s->dh_bits = bits;
    break;
  }
  default:
    break;
  }
}

static void mbed_watch_message(portls_be_session *s, unsigned type) {
  size_t n = PORTLS__MIN(s->sf.msg_have, sizeof s->sf.msg);
  if (type == MBEDTLS_SSL_HS_SERVER_HELLO) mbed_watch_server_hello(s, s->sf.msg, n);
  if (type == MBEDTLS_SSL_HS_CERTIFICATE) s->sf.saw_cert = 1;
  if (type == MBEDTLS_SSL_HS_SERVER_KEY_EXCHANGE) mbed_watch_key_exchange(s, s->sf.msg, n);
}

/* Handshake record bytes: messages are framed (they may span records) and
 * the start of those of interest kept. */
static void mbed_watch_hs_bytes(portls_be_session *s, const uint8_t *p, size_t n) {
  while (n > 0) {
    if (s->sf.hdr_have < 4) {
      s->sf.msg_hdr[s->sf.hdr_have++] = *p++;
      n--;
      if (s->sf.hdr_have == 4) {
        s->sf.msg_left =
            ((size_t)s->sf.msg_hdr[1] << 16) | ((size_t)s->sf.msg_hdr[2] << 8) | s->sf.msg_hdr[3];
        s->sf.msg_have = 0;
      } else {
        continue;
      }
    } else {
      size_t k = PORTLS__MIN(n, s->sf.msg_left);
      size_t room = sizeof s->sf.msg - PORTLS__MIN(s->sf.msg_have, sizeof s->sf.msg);
      memcpy(s->sf.msg + PORTLS__MIN(s->sf.msg_have, sizeof s->sf.msg), p, PORTLS__MIN(k, room));
      s->sf.msg_have += k;
      s->sf.msg_left -= k;
      p += k;
      n -= k;
    }
    if (s->sf.hdr_have == 4 && s->sf.msg_left == 0) {
      mbed_watch_message(s, s->sf.msg_hdr[0]);
      s->sf.hdr_have = 0;
      if (s->sf.tls13 && !s->sf.after_hrr) s->sf.done = 1; /* the rest is encrypted */
    }
  }
}

/* Bytes of the server's flight (records, cut anywhere). */
static void mbed_watch(portls_be_session *s, const uint8_t *p, size_t n) {
  while (n > 0 && !s->sf.done) {
    if (s->sf.rec_have < 5) {
      s->sf.rec[s->sf.rec_have++] = *p++;
      n--;
      if (s->sf.rec_have == 5) s->sf.rec_left = ((size_t)s->sf.rec[3] << 8) | s->sf.rec[4];
      if (s->sf.rec_have < 5 || s->sf.rec_left > 0) continue;
    }
    size_t k = PORTLS__MIN(n, s->sf.rec_left);
    switch (s->sf.rec[0]) {
    case MBEDTLS_SSL_MSG_HANDSHAKE:
      mbed_watch_hs_bytes(s, p, k);
      break;
    case MBEDTLS_SSL_MSG_CHANGE_CIPHER_SPEC:
      /* TLS 1.2: encryption starts; no Certificate before it is a
       * resumption. (TLS 1.3's compatibility CCS means nothing.) */
      if (!s->sf.tls13) {
        s->resumed = !s->sf.saw_cert;
        s->sf.done = 1;
      }
      break;
    case MBEDTLS_SSL_MSG_APPLICATION_DATA:
      s->sf.done = 1;
      break;
    default:
      break;
    }
    p += k;
    n -= k;
    s->sf.rec_left -= k;
    if (s->sf.rec_left == 0) s->sf.rec_have = 0;
  }
}
#endif

/* ------------------------------------------------------------------------ */
/* The bio: records straight to and from core's buffers.                      */

static int mbed_send(void *p, const unsigned char *buf, size_t len) {
  portls_be_session *s = p;
  mbed_track(s);
  if (s->io_error < 0) return MBEDTLS_ERR_SSL_INTERNAL_ERROR; /* a failure inside a callback */
  if (len == 0) return 0;
#if defined(PORTLS_MBED3)
  if (s->is_server) mbed_watch(s, buf, len);
#endif
  /* core queues all of it or fails; a failure is fatal and reported with
   * core's code rather than as an mbed TLS error. */
  int rc = s->io.send(s->io.io, buf, len);
  if (rc < 0) {
    s->io_error = rc;
    return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
  }
  if (s->trace != NULL) portls__mbed_tap(s, 1, buf, len);
  return len > INT_MAX ? INT_MAX : (int)len;
}

/* A ClientHello handshake message (header included) of len bytes: where its
 * cipher suites and its extensions are. 0, or -1 when malformed. */
typedef struct mbed_hello {
  const uint8_t *suites, *exts;
  size_t suites_len, exts_len;
} mbed_hello;

static int mbed_hello_split(const uint8_t *p, size_t len, mbed_hello *h) {
  const uint8_t *end = p + len;
  memset(h, 0, sizeof *h);
  if (len < 4 || p[0] != MBEDTLS_SSL_HS_CLIENT_HELLO) return -1;
  size_t hlen = ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
  p += 4;
  if (hlen > (size_t)(end - p)) return -1;
  end = p + hlen;
  if (end - p < 34) return -1;
  p += 34; /* version, random */
  if (end - p < 1 || (size_t)(end - p) < 1u + p[0]) return -1;
  p += 1 + p[0]; /* session id */
  if (end - p < 2) return -1;
  size_t n = ((size_t)p[0] << 8) | p[1];
  if ((size_t)(end - p) < 2 + n) return -1;
  h->suites = p + 2;
  h->suites_len = n;
  p += 2 + n;
  if (end - p < 1 || (size_t)(end - p) < 1u + p[0]) return -1;
  p += 1 + p[0];             /* compression methods */
  if (end - p < 2) return 0; /* no extensions */
  n = ((size_t)p[0] << 8) | p[1];
  p += 2;
  if ((size_t)(end - p) < n) return -1;
  h->exts = p;
  h->exts_len = n;
  return 0;
}

#if defined(PORTLS_MBED3)
/* A ClientHello handshake message (header included) of len bytes: 1 when it
 * offers no version in lo..hi (IANA numbers): its supported_versions list,
 * or, without one, versions up to its legacy_version. */
static int mbed_hello_version_mismatch(const uint8_t *m, size_t len, int lo, int hi) {
  mbed_hello h;
  if (mbed_hello_split(m, len, &h) < 0) return 0;
  const uint8_t *p = h.exts, *end = h.exts != NULL ? h.exts + h.exts_len : NULL;
  while (p != NULL && end - p >= 4) {
    unsigned type = ((unsigned)p[0] << 8) | p[1];
    size_t elen = ((size_t)p[2] << 8) | p[3];
    p += 4;
    if ((size_t)(end - p) < elen) return 0;
    if (type == 43 && elen >= 1) {
      for (size_t i = 1; i + 1 < elen && i < 1u + p[0]; i += 2) {
        int v = (p[i] << 8) | p[i + 1];
        if (v >= lo && v <= hi) return 0;
      }
      return 1;
    }
    p += elen;
  }
  int legacy = len >= 6 ? (m[4] << 8) | m[5] : 0;
  return legacy != 0 && legacy < lo;
}
#endif

/* The server's ALPN choice, in its own order, from a complete ClientHello
 * record body. mbed TLS 2.28 has no ALPN select callback and aborts the
 * handshake (no_application_protocol) when the lists do not overlap, where
 * OpenSSL (and Node) carry on without ALPN; so only the protocol chosen here
 * is handed to mbed TLS, or no list at all. */
static void mbed_choose_alpn(portls_be_session *s, const uint8_t *msg, size_t len) {
  mbed_hello h;
  s->conf.alpn_list = NULL;
  if (mbed_hello_split(msg, len, &h) < 0 || h.exts == NULL) return;
  const uint8_t *p = h.exts, *end = h.exts + h.exts_len;
  while (end - p >= 4) {
    unsigned type = ((unsigned)p[0] << 8) | p[1];
    size_t elen = ((size_t)p[2] << 8) | p[3];
    p += 4;
    if ((size_t)(end - p) < elen) return;
    if (type == MBEDTLS_TLS_EXT_ALPN && elen >= 2) {
      const uint8_t *l = p + 2, *lend = p + 2 + (((size_t)p[0] << 8) | p[1]);
      if (lend > p + elen) return;
      for (const char **ours = s->alpn_list; ours != NULL && *ours != NULL; ours++) {
        size_t ol = strlen(*ours);
        for (const uint8_t *q = l; q < lend && (size_t)(lend - q) >= 1u + q[0]; q += 1 + q[0])
          if (q[0] == ol && memcmp(q + 1, *ours, ol) == 0) {
            s->alpn_chosen[0] = *ours;
            s->alpn_chosen[1] = NULL;
            s->conf.alpn_list = s->alpn_chosen;
            return;
          }
      }
      return;
    }
    p += elen;
  }
}

/* Server with an ALPN list: collects the first record before mbed TLS sees
 * any of it. 0 when done (the bytes are in s->pre), or an mbed TLS code. */
static int mbed_peek_hello(portls_be_session *s) {
  for (;;) {
    size_t need = 5;
    if (s->pre_len >= 5) {
      size_t rlen = ((size_t)s->pre[3] << 8) | s->pre[4];
      /* Not a handshake record, or an impossible one: mbed TLS will reject
       * it, with the alert it chooses. */
      if (s->pre[0] != MBEDTLS_SSL_MSG_HANDSHAKE || rlen > MBED_MAX_RECORD) break;
      need = 5 + rlen;
      if (s->pre_len >= need) {
#if defined(PORTLS_MBED3)
        /* No version in common: refused here with protocol_version, as
         * OpenSSL does (3.x would send handshake_failure). */
        if (mbed_hello_version_mismatch(s->pre + 5, rlen, s->conf.min_tls_version,
                                        s->conf.max_tls_version)) {
          static const uint8_t alert[] = {MBEDTLS_SSL_MSG_ALERT,
                                          3,
                                          3,
                                          0,
                                          2,
                                          MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                          MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION};
          int rc = s->io.send(s->io.io, alert, sizeof alert);
          if (rc < 0) s->io_error = rc;
          return MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION;
        }
#endif
        mbed_choose_alpn(s, s->pre + 5, rlen);
        break;
      }
    }
    if (s->pre_cap < need) {
      uint8_t *b = portls__realloc(s->pre, need);
      if (b == NULL) {
        s->io_error = PORTLS_ENOMEM;
        return MBEDTLS_ERR_SSL_ALLOC_FAILED;
      }
      s->pre = b;
      s->pre_cap = need;
    }
    size_t got = s->io.recv(s->io.io, s->pre + s->pre_len, need - s->pre_len);
    if (got == 0) return MBEDTLS_ERR_SSL_WANT_READ;
    s->pre_len += got;
  }
  s->peek = 0;
  return 0;
}

/* The records mbed TLS reads, framed as their bytes go by: it asks for a
 * record's header, then for exactly its body, and never reads ahead, so
 * every header it is handed is seen here whole. TLS 1.2 and below carry the
 * real content type in the clear header (mbed TLS 2.28 has no TLS 1.3).
 * Alerts in a row are counted; a handshake or ChangeCipherSpec record
 * (never empty: mbed TLS refuses empty ones) starts the count again, and so
 * does application data that reaches the caller (portls__mbed_read); an
 * empty application-data record does not, as with OpenSSL. */
static void mbed_frame(portls_be_session *s, const uint8_t *p, size_t n) {
  if (s->trace != NULL) portls__mbed_tap(s, 0, p, n);
  while (n > 0) {
    if (s->fr_body > 0) {
      size_t k = PORTLS__MIN(n, s->fr_body);
      s->fr_body -= k;
      p += k;
      n -= k;
      continue;
    }
    s->fr_hdr[s->fr_have++] = *p++;
    n--;
    if (s->fr_have == sizeof s->fr_hdr) {
      s->fr_have = 0;
      s->fr_body = ((size_t)s->fr_hdr[3] << 8) | s->fr_hdr[4];
#if defined(PORTLS_MBED_TLS13)
      s->fr_inner_seen = 0; /* a record whose inner type mbed_count_inner will look at */
#endif
      if (s->fr_hdr[0] == MBEDTLS_SSL_MSG_ALERT)
        s->alerts_in_row++;
      else if (s->fr_hdr[0] != MBEDTLS_SSL_MSG_APPLICATION_DATA)
        s->alerts_in_row = 0;
    }
  }
}

#if defined(PORTLS_MBED_TLS13)
/* TLS 1.3 hides a record's type inside the encryption: the warning alerts in
 * a row are counted from the type mbed TLS decrypted, when it asks for the
 * next record's header (the previous one is processed by then, and mbed TLS
 * 3.6 passes over TLS 1.3 warning alerts without a limit too). */
static void mbed_count_inner(portls_be_session *s) {
  if (s->fr_have != 0 || s->fr_body != 0 || s->fr_inner_seen) return;
  s->fr_inner_seen = 1;
  if (s->ssl.tls_version != MBEDTLS_SSL_VERSION_TLS1_3 || s->ssl.in_msg == NULL) return;
  if (s->fr_hdr[0] != MBEDTLS_SSL_MSG_APPLICATION_DATA) return; /* plaintext: mbed_frame's */
  /* (in_msglen is 0 by now: the record is consumed, its bytes still there.) */
  if (s->ssl.in_msgtype == MBEDTLS_SSL_MSG_ALERT &&
      s->ssl.in_msg[0] == MBEDTLS_SSL_ALERT_LEVEL_WARNING)
    s->alerts_in_row++;
  else if (s->ssl.in_msgtype == MBEDTLS_SSL_MSG_HANDSHAKE)
    s->alerts_in_row = 0;
}
#endif

static int mbed_recv(void *p, unsigned char *buf, size_t len) {
  portls_be_session *s = p;
  mbed_track(s);
  if (len == 0) return 0;
  if (len > INT_MAX) len = INT_MAX;
#if defined(PORTLS_MBED_TLS13)
  mbed_count_inner(s);
#endif
  /* At a record boundary after too many warning alerts: no further record,
   * the caller fails the connection (mbed_too_many_alerts). */
  if (s->alerts_in_row >= MBED_MAX_WARN_ALERTS && s->fr_have == 0 && s->fr_body == 0) {
    s->too_many_alerts = 1;
    return MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE;
  }
  if (s->peek) {
    int r = mbed_peek_hello(s);
    if (r != 0) return r;
  }
  if (s->pre != NULL) {
    size_t n = PORTLS__MIN(len, s->pre_len - s->pre_off);
    memcpy(buf, s->pre + s->pre_off, n);
    s->pre_off += n;
    if (s->pre_off == s->pre_len) {
      portls__free(s->pre);
      s->pre = NULL;
      s->pre_len = s->pre_off = s->pre_cap = 0;
    }
    mbed_frame(s, buf, n);
    return (int)n;
  }
  /* Nothing buffered is "try again", never end of file: the transport's EOF
   * is core's business. */
  size_t n = s->io.recv(s->io.io, buf, len);
  if (n == 0) {
    s->starved = 1;
    return MBEDTLS_ERR_SSL_WANT_READ;
  }
  s->rx_count += n;
  mbed_frame(s, buf, n);
#if defined(PORTLS_MBED3)
  if (!s->is_server) mbed_watch(s, buf, n);
#endif
  return (int)n;
}

/* ------------------------------------------------------------------------ */
/* Callbacks                                                                  */

/* Server: the name the client sent (there is no getter afterwards). Any name
 * is accepted; core decides what to do with it. */
int portls__mbed_sni_cb(void *p, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len) {
  portls_be_session *s = (portls_be_session *)(void *)ssl; /* ssl is the first member */
  (void)p;
  portls__free(s->servername);
  s->servername = NULL;
  if (len == 0 || len > 255 || memchr(name, '\0', len) != NULL) return 0;
  s->servername = portls__malloc(len + 1);
  if (s->servername == NULL) {
    s->io_error = PORTLS_ENOMEM;
    return MBEDTLS_ERR_SSL_ALLOC_FAILED;
  }
  memcpy(s->servername, name, len);
  s->servername[len] = '\0';
  return 0;
}

static int mbed_is_self_issued(const mbedtls_x509_crt *c) {
  return c->issuer_raw.len == c->subject_raw.len &&
         memcmp(c->issuer_raw.p, c->subject_raw.p, c->issuer_raw.len) == 0;
}

/* Called for every certificate of the chain mbed TLS built, from the top
 * (the trust anchor, or the last certificate it could link) down to the
 * peer's leaf at depth 0. */
static int mbed_verify_cb(void *p, mbedtls_x509_crt *crt, int depth, uint32_t *flags) {
  portls_be_session *s = p;
  /* mbedtls_ssl_set_hostname() also turns on a CN/SAN check; core does
   * Node's checkServerIdentity instead, so this result never counts. */
  *flags &= ~(uint32_t)MBEDTLS_X509_BADCERT_CN_MISMATCH;
  /* A later verification (a renegotiation the server asked for) starts
   * afresh: the previous chain's certificates may be gone by now. */
  if (s->vdone) {
    s->vdone = 0;
    s->vtop = -1;
    memset(s->vcrt, 0, sizeof s->vcrt);
    memset(s->vflags, 0, sizeof s->vflags);
    s->vext_n = 0;
    s->vrooted = 0;
  }
  if (depth == 0) s->vdone = 1;
  if (depth < 0 || depth >= PORTLS_MBED_MAX_DEPTH) return 0;
  if (depth > s->vtop) s->vtop = depth;
  s->vflags[depth] = *flags;
  s->vself[depth] = (uint8_t)mbed_is_self_issued(crt);
  s->vcrt[depth] = crt;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Verification results in OpenSSL's terms                                    */

#if defined(MBEDTLS_X509_CRL_PARSE_C)
/* Whether the context holds a CRL issued by c's issuer (OpenSSL, checking
 * every certificate of the chain as Node asks once CRLs are given, reports
 * UNABLE_TO_GET_CRL otherwise; mbed TLS silently skips). */
static int mbed_has_crl_for(const portls_be_ctx *ctx, const mbedtls_x509_crt *c) {
  for (const mbedtls_x509_crl *crl = &ctx->crl; crl != NULL && crl->version != 0; crl = crl->next)
    if (crl->issuer_raw.len == c->issuer_raw.len &&
        memcmp(crl->issuer_raw.p, c->issuer_raw.p, c->issuer_raw.len) == 0)
      return 1;
  return 0;
}
#endif

static int mbed_same_name(const mbedtls_x509_buf *a, const mbedtls_x509_buf *b) {
  return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

/* Continues a trusted chain through the trust store, by issuer name, up to a
 * self-signed root, the way OpenSSL builds it without X509_V_FLAG_PARTIAL_CHAIN
 * (Node never sets it); mbed TLS accepts the first trusted certificate it
 * meets (an intermediate in a store that also holds the root). */
static void mbed_extend_chain(portls_be_session *s) {
  s->vext_n = 0;
  s->vrooted = 0;
  if (s->vtop < 0 || s->vcrt[s->vtop] == NULL) return;
  if (s->vflags[s->vtop] & MBEDTLS_X509_BADCERT_NOT_TRUSTED) return;
  const mbedtls_x509_crt *cur = s->vcrt[s->vtop];
  for (;;) {
    if (mbed_is_self_issued(cur)) {
      s->vrooted = 1;
      return;
    }
    if (s->vtop + 1 + s->vext_n >= PORTLS_MBED_MAX_DEPTH || !s->ctx->has_ca) return;
    const mbedtls_x509_crt *up = NULL;
    for (const mbedtls_x509_crt *c = &s->ctx->ca; c != NULL && c->raw.len > 0; c = c->next)
      if (c != cur && mbed_same_name(&c->subject_raw, &cur->issuer_raw)) {
        up = c;
        break;
      }
    if (up == NULL) return;
    s->vext[s->vext_n++] = up;
    cur = up;
  }
}

/* OpenSSL's result with a verify callback that accepts everything is the
 * last error it met; it meets them in this order: chain building, purpose
 * and key strength, revocation (leaf to top), then signatures and validity
 * periods (top to leaf). The same order here, the last one set wins. */
static int mbed_verify_code(const portls_be_session *s, uint32_t flags) {
  const uint32_t ignored = MBEDTLS_X509_BADCERT_CN_MISMATCH | MBEDTLS_X509_BADCERT_SKIP_VERIFY |
                           MBEDTLS_X509_BADCERT_MISSING;
  const int top = s->vtop;
  int code = 0;
  flags &= ~ignored;

  if (top < 0) { /* no callback ran: the coarse mapping */
    if (flags == 0) return 0;
    if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) code = PORTLS_EUNABLE_TO_GET_ISSUER_CERT_LOCALLY;
    if (flags & MBEDTLS_X509_BADCERT_REVOKED) code = PORTLS_ECERT_REVOKED;
    if (flags & MBEDTLS_X509_BADCERT_FUTURE) code = PORTLS_ECERT_NOT_YET_VALID;
    if (flags & MBEDTLS_X509_BADCERT_EXPIRED) code = PORTLS_ECERT_HAS_EXPIRED;
    return code != 0 ? code : PORTLS_EVERIFY_FAILED;
  }

  /* 1. Chain building: the top of the chain has no trusted issuer. */
  const int untrusted = (s->vflags[top] & MBEDTLS_X509_BADCERT_NOT_TRUSTED) != 0;
  if (untrusted) {
    if (s->vself[top])
      code = top == 0 ? PORTLS_EDEPTH_ZERO_SELF_SIGNED_CERT : PORTLS_ESELF_SIGNED_CERT_IN_CHAIN;
    else
      code = PORTLS_EUNABLE_TO_GET_ISSUER_CERT_LOCALLY;
  } else if (!s->vrooted) {
    /* mbed TLS accepts any trusted certificate as the anchor; OpenSSL, as
     * Node runs it (no X509_V_FLAG_PARTIAL_CHAIN), wants the chain to reach
     * a self-signed root, and reports a trusted intermediate (or leaf) at the
     * top as a missing issuer. */
    code = PORTLS_EUNABLE_TO_GET_ISSUER_CERT;
  }
  /* 2. Purpose (flags the SSL layer adds for the leaf) and strength: weak
   * signature digests or algorithms below the top (OpenSSL does not judge
   * the top certificate's own signature), weak issuer keys. OpenSSL's codes
   * for the latter (CA_MD_TOO_WEAK, CA_KEY_TOO_SMALL) are UNSPECIFIED here. */
  if (flags & (MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_EXT_KEY_USAGE |
               MBEDTLS_X509_BADCERT_NS_CERT_TYPE))
    code = PORTLS_EINVALID_PURPOSE;
  for (int d = 0; d <= top; d++) {
    uint32_t f = s->vflags[d];
    if ((d < top && (f & (MBEDTLS_X509_BADCERT_BAD_MD | MBEDTLS_X509_BADCERT_BAD_PK))) ||
        (f & (MBEDTLS_X509_BADCERT_BAD_KEY | MBEDTLS_X509_BADCERT_OTHER)))
      code = PORTLS_EVERIFY_FAILED;
  }
  /* 3. Revocation, leaf first. */
#if defined(MBEDTLS_X509_CRL_PARSE_C)
  if (s->ctx->has_crl) {
    /* OpenSSL trusts a CRL only through a chain that reaches a trusted root;
     * without one no CRL is usable (mbed TLS uses them all the same). */
    const int rooted = s->vrooted;
    for (int d = 0; d <= top; d++) {
      uint32_t f = s->vflags[d];
      if (!rooted || (s->vcrt[d] != NULL && !mbed_has_crl_for(s->ctx, s->vcrt[d]))) {
        code = PORTLS_EUNABLE_TO_GET_CRL;
        continue;
      }
      if (f & MBEDTLS_X509_BADCRL_FUTURE) code = PORTLS_ECRL_NOT_YET_VALID;
      if (f & MBEDTLS_X509_BADCRL_EXPIRED) code = PORTLS_ECRL_HAS_EXPIRED;
      if (f & (MBEDTLS_X509_BADCRL_NOT_TRUSTED | MBEDTLS_X509_BADCRL_BAD_MD |
               MBEDTLS_X509_BADCRL_BAD_PK | MBEDTLS_X509_BADCRL_BAD_KEY))
        code = PORTLS_ECRL_SIGNATURE_FAILURE;
      if (f & MBEDTLS_X509_BADCERT_REVOKED) code = PORTLS_ECERT_REVOKED;
    }
    for (int i = 0; i < s->vext_n; i++)
      if (!rooted || !mbed_has_crl_for(s->ctx, s->vext[i])) code = PORTLS_EUNABLE_TO_GET_CRL;
  }
#endif
  /* 4. Signatures and validity, from the top down. Below the top, NOT_TRUSTED
   * means an issuer was found whose signature does not verify. */
  /* A lone leaf whose issuer is nowhere: OpenSSL's signature pass reports it
   * again, as UNABLE_TO_VERIFY_LEAF_SIGNATURE (what Node shows for it). */
  if (untrusted && top == 0 && !s->vself[0]) code = PORTLS_EUNABLE_TO_VERIFY_LEAF_SIGNATURE;
  for (int i = s->vext_n - 1; i >= 0; i--) {
    if (mbedtls_x509_time_is_future(&s->vext[i]->valid_from))
      code = PORTLS_ECERT_NOT_YET_VALID;
    else if (mbedtls_x509_time_is_past(&s->vext[i]->valid_to))
      code = PORTLS_ECERT_HAS_EXPIRED;
  }
  for (int d = top; d >= 0; d--) {
    uint32_t f = s->vflags[d];
    if (d < top && (f & MBEDTLS_X509_BADCERT_NOT_TRUSTED)) code = PORTLS_ECERT_SIGNATURE_FAILURE;
    if (f & MBEDTLS_X509_BADCERT_FUTURE)
      code = PORTLS_ECERT_NOT_YET_VALID;
    else if (f & MBEDTLS_X509_BADCERT_EXPIRED)
      code = PORTLS_ECERT_HAS_EXPIRED;
  }
  /* Anything else mbed TLS flagged that has no OpenSSL counterpart above. */
  const uint32_t known =
      MBEDTLS_X509_BADCERT_NOT_TRUSTED | MBEDTLS_X509_BADCERT_EXPIRED |
      MBEDTLS_X509_BADCERT_FUTURE | MBEDTLS_X509_BADCERT_REVOKED | MBEDTLS_X509_BADCRL_NOT_TRUSTED |
      MBEDTLS_X509_BADCRL_EXPIRED | MBEDTLS_X509_BADCRL_FUTURE | MBEDTLS_X509_BADCRL_BAD_MD |
      MBEDTLS_X509_BADCRL_BAD_PK | MBEDTLS_X509_BADCRL_BAD_KEY | MBEDTLS_X509_BADCERT_BAD_MD |
      MBEDTLS_X509_BADCERT_BAD_PK | MBEDTLS_X509_BADCERT_BAD_KEY | MBEDTLS_X509_BADCERT_OTHER |
      MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_EXT_KEY_USAGE |
      MBEDTLS_X509_BADCERT_NS_CERT_TYPE;
  if (code == 0 && (flags & ~known) != 0) code = PORTLS_EVERIFY_FAILED;
  return code;
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                     */

/* The record header mbed TLS rejected was not TLS at all: OpenSSL's
 * WRONG_VERSION_NUMBER, or, for a server's first bytes, its HTTP_REQUEST and
 * HTTPS_PROXY_REQUEST (plain HTTP, or a proxy's CONNECT, sent to a TLS
 * port). 0 when the header looks like TLS (or SSLv2's ClientHello). */
static int mbed_not_tls(const portls_be_session *s, int ret, int op) {
  const unsigned char *h = s->ssl.in_hdr;
  if (op != MBED_OP_HANDSHAKE || h == NULL || s->ssl.in_left < 5) return 0;
#if defined(PORTLS_MBED3)
  /* 3.x: INVALID_RECORD, or the version check's BAD_PROTOCOL_VERSION. */
  if (ret != MBEDTLS_ERR_SSL_INVALID_RECORD && ret != MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION &&
      ret != MBEDTLS_ERR_SSL_DECODE_ERROR)
    return 0;
#else
  if (ret != (s->is_server ? MBEDTLS_ERR_SSL_BAD_HS_CLIENT_HELLO : MBEDTLS_ERR_SSL_INVALID_RECORD))
    return 0;
#endif
  if ((h[0] & 0x80) != 0 || h[1] == MBEDTLS_SSL_MAJOR_VERSION_3) return 0;
  if (s->is_server && s->hs_completed == 0) {
    if (memcmp(h, "GET ", 4) == 0 || memcmp(h, "POST ", 5) == 0 || memcmp(h, "HEAD ", 5) == 0 ||
        memcmp(h, "PUT ", 4) == 0)
      return PORTLS_EHTTP_REQUEST;
    if (memcmp(h, "CONNE", 5) == 0) return PORTLS_EHTTPS_PROXY_REQUEST;
  }
  return PORTLS_EWRONG_VERSION_NUMBER;
}

#if defined(PORTLS_MBED3)
static int mbed_hello_version_mismatch(const uint8_t *m, size_t len, int lo, int hi);

/* Server, a ClientHello (the record body mbed TLS still holds) it failed:
 * whether it offered no version this server allows. */
static int mbed_failed_hello_versions(const portls_be_session *s) {
  size_t rlen = s->ssl.in_len != NULL ? ((size_t)s->ssl.in_len[0] << 8) | s->ssl.in_len[1] : 0;
  return s->ssl.in_msg != NULL &&
         mbed_hello_version_mismatch(s->ssl.in_msg, rlen, s->ssl.conf->min_tls_version,
                                     s->ssl.conf->max_tls_version);
}
#endif

static int mbed_fail(portls_be_session *s, int ret, int op, portls_error *err) {
  if (s->io_error < 0) {
    int code = s->io_error;
    s->io_error = 0;
    return portls__err(err, code,
                       code == PORTLS_ENOMEM ? "out of memory"
                                             : "queueing ciphertext for the peer failed");
  }
  switch (ret) {
  case MBEDTLS_ERR_SSL_WANT_READ:
  case MBEDTLS_ERR_SSL_WANT_WRITE:                  /* never from our bio; harmless */
  case MBEDTLS_ERR_SSL_WAITING_SERVER_HELLO_RENEGO: /* write() while a client's renegotiation waits
                                                     */
    return PORTLS_BE_WANT_READ;
  case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
    if (op == MBED_OP_READ) return PORTLS_BE_CLOSED;
    if (op == MBED_OP_HANDSHAKE)
      return portls__err(err, PORTLS_ECONNRESET,
                         "peer sent close_notify before the handshake completed");
    return portls__err(err, PORTLS_EPIPE, "peer has closed the TLS session");
  case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE: {
    int alert = s->ssl.in_msg != NULL && s->ssl.in_msglen >= 2 ? s->ssl.in_msg[1] : -1;
    char detail[64];
    const char *name = portls__alert_name(alert);
    snprintf(detail, sizeof detail, "alert %s (%d)", name ? name : "unknown", alert);
    /* Named as every backend names it (protocol_version is a version
     * failure; no_renegotiation, a peer that refused to renegotiate). */
    return portls__mbed_err_detail(err, portls__alert_code(alert), ret, NULL, detail);
  }
  case MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE:
    return portls__mbed_err(err, PORTLS_ENO_CERT, ret, NULL);
  case MBEDTLS_ERR_SSL_INVALID_MAC:
    /* In the handshake: the two sides derived different keys (a wrong
     * PSK); afterwards it stays a protocol error. */
    if (op == MBED_OP_HANDSHAKE) return portls__mbed_err(err, PORTLS_EBAD_RECORD_MAC, ret, NULL);
    break;
  case MBEDTLS_ERR_SSL_UNKNOWN_IDENTITY:
#if defined(PORTLS_MBED_PSK)
    if (s->psk_too_long > 0) {
      char detail[96];
      snprintf(detail, sizeof detail,
               "pskCallback: a key of %zu bytes is longer than MBEDTLS_PSK_MAX_LEN (%d)",
               s->psk_too_long, MBEDTLS_PSK_MAX_LEN);
      return portls__mbed_err_detail(err, PORTLS_EINVAL, ret, NULL, detail);
    }
#endif
    return portls__mbed_err(err, PORTLS_EPSK_IDENTITY_NOT_FOUND, ret, NULL);
#if defined(PORTLS_MBED3)
  case MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION:
    return portls__mbed_err(err, PORTLS_EVERSION, ret, NULL);
#else
  case MBEDTLS_ERR_SSL_NO_CIPHER_CHOSEN:
  case MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE:
    return portls__mbed_err(err, PORTLS_ENO_SHARED_CIPHER, ret, NULL);
  case MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION:
    return portls__mbed_err(err, PORTLS_EVERSION, ret, NULL);
#endif
  case MBEDTLS_ERR_SSL_ALLOC_FAILED:
    return portls__mbed_err(err, PORTLS_ENOMEM, ret, NULL);
#if defined(PORTLS_MBED3)
  case MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE:
    /* 3.x's one code for "nothing in common": a server that found no suite
     * (or group) it shares with the ClientHello; on a client, also a DH
     * prime below dhm_min_bitlen. */
    if (s->is_server && s->hs_completed == 0)
      return portls__mbed_err(
          err, mbed_failed_hello_versions(s) ? PORTLS_EVERSION : PORTLS_ENO_SHARED_CIPHER, ret,
          NULL);
#else
  case MBEDTLS_ERR_SSL_BAD_HS_SERVER_KEY_EXCHANGE:
#endif
      /* The library's floor on the server's DH prime (dhm_min_bitlen, 1024 by
       * default, as OpenSSL's security level 1): Node's minDHSize failure. */
#if defined(MBEDTLS_DHM_C)
    if (s->dh_bits > 0 && s->ssl.conf != NULL &&
        (unsigned)s->dh_bits < s->ssl.conf->dhm_min_bitlen) {
      char detail[80];
      snprintf(detail, sizeof detail, "DH prime of %d bits, below the minimum of %u", s->dh_bits,
               s->ssl.conf->dhm_min_bitlen);
      return portls__mbed_err_detail(err, PORTLS_EDH_TOO_SMALL, ret, NULL, detail);
    }
#endif
    break;
  default:
    break;
  }
  int code = mbed_not_tls(s, ret, op);
  return portls__mbed_err(err, code != 0 ? code : PORTLS_EPROTO, ret, NULL);
}

/* ------------------------------------------------------------------------ */
/* Sessions                                                                   */

/* wire (length-prefixed, validated by core) → NULL-terminated char* list. */
static int mbed_alpn_list(portls_be_session *s, portls_buf wire) {
  const uint8_t *w = wire.base;
  size_t count = 0;
  for (size_t off = 0; off < wire.len; off += 1u + w[off]) {
    if (w[off] == 0 || off + 1 + w[off] > wire.len) return PORTLS_EALPN;
    count++;
  }
  s->alpn_store = portls__malloc(wire.len + 1);
  s->alpn_list = portls__calloc(count + 1, sizeof *s->alpn_list);
  if (s->alpn_store == NULL || s->alpn_list == NULL) return PORTLS_ENOMEM;
  /* Each length byte becomes the previous name's NUL. */
  memcpy(s->alpn_store, w + 1, wire.len - 1);
  s->alpn_store[wire.len - 1] = '\0';
  size_t i = 0;
  for (size_t off = 0; off < wire.len; off += 1u + w[off]) {
    s->alpn_list[i++] = s->alpn_store + off;
    if (off + 1 + w[off] < wire.len) s->alpn_store[off + w[off]] = '\0';
  }
  s->alpn_list[i] = NULL;
  return 0;
}

/* The session bytes (see MBED_BLOB_HDR) of sess into *out (portls's
 * allocator). 0 or an mbed TLS code. */
static void mbed_put24(uint8_t *p, size_t v) {
  p[0] = (uint8_t)(v >> 16);
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)v;
}

static int mbed_blob_save(const mbedtls_ssl_session *sess, int verify_code, const uint8_t *context,
                          size_t context_len, const mbedtls_x509_crt *chain, uint8_t **out,
                          size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  if (context_len > 255) return MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
  size_t n = 0;
  int ret = mbedtls_ssl_session_save(sess, NULL, 0, &n);
  if (ret != 0 && ret != MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL) return ret;
  size_t chain_len = 0;
  for (const mbedtls_x509_crt *c = chain; c != NULL && c->raw.len > 0; c = c->next)
    chain_len += 3 + c->raw.len;
  if (chain_len > 0xffffff) return MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
  const size_t head = MBED_BLOB_HDR + context_len + (chain_len > 0 ? 3 + chain_len : 0);
  uint8_t *b = portls__malloc(head + n);
  if (b == NULL) return MBEDTLS_ERR_SSL_ALLOC_FAILED;
  size_t m = 0;
  ret = mbedtls_ssl_session_save(sess, b + head, n, &m);
  if (ret != 0 || m != n) {
    mbedtls_platform_zeroize(b, head + n);
    portls__free(b);
    return ret != 0 ? ret : MBEDTLS_ERR_SSL_INTERNAL_ERROR;
  }
  memcpy(b, mbed_blob_magic, sizeof mbed_blob_magic);
  uint16_t code = (uint16_t)(int16_t)verify_code;
  b[4] = (uint8_t)(code >> 8);
  b[5] = (uint8_t)code;
  b[6] = (uint8_t)context_len;
  b[7] = chain_len > 0;
  if (context_len > 0) memcpy(b + MBED_BLOB_HDR, context, context_len);
  if (chain_len > 0) {
    uint8_t *q = b + MBED_BLOB_HDR + context_len;
    mbed_put24(q, chain_len);
    q += 3;
    for (const mbedtls_x509_crt *c = chain; c != NULL && c->raw.len > 0; c = c->next) {
      mbed_put24(q, c->raw.len);
      memcpy(q + 3, c->raw.p, c->raw.len);
      q += 3 + c->raw.len;
    }
  }
  *out = b;
  *out_len = head + n;
  return 0;
}

typedef struct mbed_blob {
  int verify_code;
  const uint8_t *context, *chain, *state;
  size_t context_len, chain_len, state_len;
} mbed_blob;

static int mbed_blob_parse(const uint8_t *p, size_t len, mbed_blob *b) {
  if (p == NULL || len <= MBED_BLOB_HDR || memcmp(p, mbed_blob_magic, sizeof mbed_blob_magic) != 0)
    return -1;
  b->verify_code = (int16_t)(((unsigned)p[4] << 8) | p[5]);
  b->context_len = p[6];
  if (len - MBED_BLOB_HDR <= b->context_len) return -1;
  b->context = p + MBED_BLOB_HDR;
  b->state = b->context + b->context_len;
  b->state_len = len - MBED_BLOB_HDR - b->context_len;
  b->chain = NULL;
  b->chain_len = 0;
  if (p[7] > 1) return -1;
  if (p[7] == 1) {
    if (b->state_len < 3) return -1;
    size_t n = ((size_t)b->state[0] << 16) | ((size_t)b->state[1] << 8) | b->state[2];
    if (n == 0 || b->state_len - 3 <= n) return -1;
    b->chain = b->state + 3;
    b->chain_len = n;
    b->state += 3 + n;
    b->state_len -= 3 + n;
  }
  return 0;
}

/* The chain a blob carries into s->kept_chain (replacing what was there).
 * 0, or an mbed TLS code. */
static int mbed_keep_chain(portls_be_session *s, const mbed_blob *b) {
  if (s->kept_chain != NULL) {
    mbedtls_x509_crt_free(s->kept_chain);
    portls__free(s->kept_chain);
    s->kept_chain = NULL;
  }
  if (b->chain == NULL) return 0;
  mbedtls_x509_crt *crt = portls__calloc(1, sizeof *crt);
  if (crt == NULL) return MBEDTLS_ERR_SSL_ALLOC_FAILED;
  mbedtls_x509_crt_init(crt);
  const uint8_t *p = b->chain, *end = b->chain + b->chain_len;
  int ret = 0;
  while (ret == 0 && p < end) {
    size_t n = (size_t)(end - p) >= 3 ? ((size_t)p[0] << 16) | ((size_t)p[1] << 8) | p[2] : 0;
    if (n == 0 || (size_t)(end - p) - 3 < n)
      ret = MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
    else
      ret = mbedtls_x509_crt_parse_der(crt, p + 3, n);
    p += 3 + n;
  }
  if (ret != 0) {
    mbedtls_x509_crt_free(crt);
    portls__free(crt);
    return ret;
  }
  s->kept_chain = crt;
  return 0;
}

/* The peer's chain: mbed TLS's, or the one session bytes carried. */
static const mbedtls_x509_crt *mbed_peer_chain(const portls_be_session *s) {
  const mbedtls_x509_crt *c = mbedtls_ssl_get_peer_cert(&s->ssl);
  return c != NULL ? c : s->resumed ? s->kept_chain : NULL;
}

/* What session bytes must carry besides mbed TLS's own: the peer's chain of
 * a TLS 1.3 session (see MBED_BLOB_HDR). */
static const mbedtls_x509_crt *mbed_chain_to_keep(const portls_be_session *s,
                                                  const mbedtls_ssl_session *sess) {
#if defined(PORTLS_MBED_TLS13)
  if (sess->tls_version == MBEDTLS_SSL_VERSION_TLS1_3)
    return sess->peer_cert != NULL ? sess->peer_cert : s->resumed ? s->kept_chain : NULL;
#else
  (void)s;
  (void)sess;
#endif
  return NULL;
}

static int mbed_session_err(portls_error *err, int ret) {
  return portls__mbed_err(
      err, ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? PORTLS_ENOMEM : PORTLS_ESESSION, ret, "session");
}

/* Client: the `session` option. */
static int mbed_set_session(portls_be_session *s, portls_buf b, portls_error *err) {
  mbed_blob blob;
  if (mbed_blob_parse(b.base, b.len, &blob) < 0)
    return portls__err(err, PORTLS_ESESSION, "session: not a session saved by the mbedtls backend");
  mbedtls_ssl_session sess;
  mbedtls_ssl_session_init(&sess);
  int ret = mbedtls_ssl_session_load(&sess, blob.state, blob.state_len);
  if (ret == 0) ret = mbedtls_ssl_set_session(&s->ssl, &sess);
  if (ret == 0) ret = mbed_keep_chain(s, &blob);
  mbedtls_ssl_session_free(&sess);
  if (ret != 0) return mbed_session_err(err, ret);
  s->verify_code = blob.verify_code;
  s->verify_code_set = 1;
  return 0;
}

/* Server: resumes the session in bytes (a ticket's state, or core's resume)
 * into *target, which mbed TLS then uses; when want is given (a lookup by
 * id), only a session with want's id. (mbed TLS 2.28 hands the cache a
 * session holding just the id and compares the suite and compression
 * itself; older versions hand the session being negotiated, whose suite is
 * set, and left that to the cache.) The context must be this one's, and the
 * session no older than the timeout. 0, or an mbed TLS code (a full
 * handshake). */
static int mbed_resume_from(portls_be_session *s, const uint8_t *p, size_t len,
                            mbedtls_ssl_session *target, const mbedtls_ssl_session *want) {
  const portls_be_ctx *ctx = s->ctx;
  mbed_blob blob;
  if (mbed_blob_parse(p, len, &blob) < 0 || blob.context_len != ctx->sid_len ||
      memcmp(blob.context, ctx->sid_ctx, ctx->sid_len) != 0)
    return MBEDTLS_ERR_SSL_INVALID_MAC;
  mbedtls_ssl_session sess;
  mbedtls_ssl_session_init(&sess);
  int ret = mbedtls_ssl_session_load(&sess, blob.state, blob.state_len);
  if (ret == 0 && want != NULL &&
      (sess.id_len != want->id_len || memcmp(sess.id, want->id, sess.id_len) != 0 ||
       (want->ciphersuite != 0 && (sess.ciphersuite != want->ciphersuite
#if !defined(PORTLS_MBED3) /* 3.x has no compression */
                                   || sess.compression != want->compression
#endif
                                   ))))
    ret = MBEDTLS_ERR_SSL_INVALID_MAC;
#if defined(PORTLS_MBED_TLS13) && defined(MBEDTLS_HAVE_TIME) &&                                    \
    defined(MBEDTLS_SSL_SESSION_TICKETS) && defined(MBEDTLS_SSL_SRV_C)
  if (ret == 0 && sess.tls_version == MBEDTLS_SSL_VERSION_TLS1_3) {
    /* A TLS 1.3 session has no start time, but the time its ticket was made
     * (milliseconds). */
    mbedtls_ms_time_t made = 0, now_ms = mbedtls_ms_time();
    if (mbedtls_ssl_session_get_ticket_creation_time(&sess, &made) != 0 || made > now_ms ||
        (now_ms - made) / 1000 > (mbedtls_ms_time_t)ctx->session_timeout)
      ret = MBEDTLS_ERR_SSL_SESSION_TICKET_EXPIRED;
  } else
#endif
#if defined(MBEDTLS_HAVE_TIME)
  {
    mbedtls_time_t now = mbedtls_time(NULL);
    if (ret == 0 && (sess.start > now || now - sess.start > (mbedtls_time_t)ctx->session_timeout))
      ret = MBEDTLS_ERR_SSL_SESSION_TICKET_EXPIRED;
  }
#endif
  if (ret != 0) {
    mbedtls_ssl_session_free(&sess);
    return ret;
  }
  if ((ret = mbed_keep_chain(s, &blob)) != 0) {
    mbedtls_ssl_session_free(&sess);
    return ret;
  }
  /* Moved, as mbed TLS moves a ticket's session into place. */
  mbedtls_ssl_session_free(target);
  memcpy(target, &sess, sizeof sess);
  mbedtls_platform_zeroize(&sess, sizeof sess);
  s->verify_code = blob.verify_code;
  s->verify_code_set = 1;
  return 0;
}

static int mbed_result(portls_be_session *s, uint32_t flags);

#if defined(PORTLS_MBED_TICKETS)
/* The server's ticket callbacks (p: the connection). */
static int mbed_ticket_write(void *p, const mbedtls_ssl_session *session, unsigned char *start,
                             const unsigned char *end, size_t *tlen, uint32_t *lifetime) {
  portls_be_session *s = p;
  uint8_t *state;
  size_t n;
  *tlen = 0;
  /* Written after the client's Finished: its certificate, if any, is
   * verified by now. */
  int ret = mbed_blob_save(session, mbed_result(s, session->verify_result), s->ctx->sid_ctx,
                           s->ctx->sid_len, mbed_chain_to_keep(s, session), &state, &n);
  if (ret == MBEDTLS_ERR_SSL_ALLOC_FAILED) {
    /* mbed TLS would carry on without a ticket; the bio fails the handshake
     * at its next call instead, with core's code (see mbed_send). */
    s->io_error = PORTLS_ENOMEM;
    return ret;
  }
  if (ret != 0) return ret;
  ret = portls__mbed_ticket_seal(s->ctx, state, n, start, (size_t)(end - start), tlen);
  mbedtls_platform_zeroize(state, n);
  portls__free(state);
  *lifetime = (uint32_t)s->ctx->session_timeout;
  if (ret == 0) s->ticket_sent = 1;
  return ret;
}

/* mbed TLS picks the suite after it has taken a ticket, afresh, and may
 * then resume with another suite than the session's, which the client
 * (OpenSSL's: "old session cipher not returned", mbed TLS's own) takes for a
 * broken handshake. So a ticket resumes only when the ClientHello (still in
 * the input buffer: one record, its length checked by mbed TLS) offers the
 * session's suite, and the choice is pinned to it for this ClientHello
 * (mbed_track restores the list once it is parsed). */
static int mbed_pin_suite(portls_be_session *s, int suite) {
  const uint8_t *m = s->ssl.in_msg;
  size_t rlen = s->ssl.in_len != NULL ? ((size_t)s->ssl.in_len[0] << 8) | s->ssl.in_len[1] : 0;
  mbed_hello h;
  if (m == NULL || mbed_hello_split(m, rlen, &h) < 0) return -1;
  int offered = 0;
  for (size_t i = 0; i + 1 < h.suites_len; i += 2)
    offered |= ((h.suites[i] << 8) | h.suites[i + 1]) == suite;
  if (!offered) return -1;
  s->suite_pin[0] = suite;
  s->suite_pin[1] = 0;
#if defined(PORTLS_MBED3)
  s->suites_saved[0] = s->conf.ciphersuite_list; /* one list for every version */
  s->conf.ciphersuite_list = s->suite_pin;
#else
  memcpy(s->suites_saved, s->conf.ciphersuite_list, sizeof s->suites_saved);
  for (size_t i = 0; i < PORTLS__ARRAY_SIZE(s->suites_saved); i++)
    s->conf.ciphersuite_list[i] = s->suite_pin;
#endif
  s->pinned = 1;
  return 0;
}

static int mbed_ticket_parse(void *p, mbedtls_ssl_session *session, unsigned char *buf,
                             size_t len) {
  portls_be_session *s = p;
  uint8_t *state;
  size_t n;
  int ret = portls__mbed_ticket_open(s->ctx, buf, len, &state, &n);
  if (ret != 0) return ret;
  ret = mbed_resume_from(s, state, n, session, NULL);
  mbedtls_platform_zeroize(state, n);
  portls__free(state);
#if defined(PORTLS_MBED_TLS13)
  /* A TLS 1.3 PSK names no suite, only its hash, which mbed TLS checks. */
  if (ret == 0 && session->tls_version == MBEDTLS_SSL_VERSION_TLS1_3) return 0;
#endif
  if (ret == 0 && mbed_pin_suite(s, session->ciphersuite) < 0) ret = MBEDTLS_ERR_SSL_INVALID_MAC;
  return ret;
}
#endif

/* The server's session cache (p: the connection), on core's store: get
 * looks at what resumeSession found, set only notes that mbed TLS would
 * store this session (server_session() hands it out). */
#if defined(PORTLS_MBED3)
/* mbed TLS 3 hands the id on its own and an empty session to fill. */
static int mbed_cache_get(void *p, const unsigned char *id, size_t id_len,
                          mbedtls_ssl_session *session) {
  portls_be_session *s = p;
  if (s->resume == NULL || id_len > sizeof session->id) return 1;
  mbedtls_ssl_session want;
  mbedtls_ssl_session_init(&want);
  memcpy(want.id, id, id_len);
  want.id_len = id_len;
  int ret = mbed_resume_from(s, s->resume, s->resume_len, session, &want);
  return ret == 0 ? 0 : 1;
}

static int mbed_cache_set(void *p, const unsigned char *id, size_t id_len,
                          const mbedtls_ssl_session *session) {
  portls_be_session *s = p;
  (void)id;
  (void)id_len;
  (void)session;
  s->cache_new = 1;
  return 0;
}
#else
static int mbed_cache_get(void *p, mbedtls_ssl_session *session) {
  portls_be_session *s = p;
  if (s->resume == NULL) return 1;
  return mbed_resume_from(s, s->resume, s->resume_len, session, session) == 0 ? 0 : 1;
}

static int mbed_cache_set(void *p, const mbedtls_ssl_session *session) {
  portls_be_session *s = p;
  (void)session;
  s->cache_new = 1;
  return 0;
}
#endif

/* A server's own config: the callbacks above, and the authmode. */
static int mbed_server_conf(portls_be_session *s, const portls_be_session_config *cfg) {
  mbedtls_ssl_conf_authmode(&s->conf, cfg->verify_peer ? MBEDTLS_SSL_VERIFY_OPTIONAL
                                                       : MBEDTLS_SSL_VERIFY_NONE);
  /* Not VERIFY_REQUIRED, which would also abort on a certificate that does
   * not verify (core's decision): see mbed_check_peer_sent_cert. */
  s->require_cert = cfg->verify_peer && cfg->require_peer_cert;
#if defined(PORTLS_MBED_TICKETS)
  /* Under the context's lock: another thread may set ticket keys
   * (server.setTicketKeys) while this one accepts. */
  PORTLS_MBED_LOCK(s->ctx);
  int tickets = s->ctx->has_ticket_keys && !s->ctx->no_tickets;
  PORTLS_MBED_UNLOCK(s->ctx);
  if (tickets)
    mbedtls_ssl_conf_session_tickets_cb(&s->conf, mbed_ticket_write, mbed_ticket_parse, s);
#endif
  mbedtls_ssl_conf_session_cache(&s->conf, s, mbed_cache_get, mbed_cache_set);
  if (cfg->resume.base != NULL && cfg->resume.len > 0) {
    if ((s->resume = portls__memdup(cfg->resume.base, cfg->resume.len)) == NULL)
      return PORTLS_ENOMEM;
    s->resume_len = cfg->resume.len;
  }
  return 0;
}

#if defined(MBEDTLS_SSL_EXPORT_KEYS)
/* Each handshake's keys (a renegotiation's too): what RFC 5705 needs. */
static int mbed_export_keys(void *p, const unsigned char *ms, const unsigned char *kb,
                            size_t maclen, size_t keylen, size_t ivlen,
                            const unsigned char client_random[32],
                            const unsigned char server_random[32], mbedtls_tls_prf_types prf) {
  portls_be_session *s = p;
  (void)kb, (void)maclen, (void)keylen, (void)ivlen;
  memcpy(s->exp_master, ms, sizeof s->exp_master);
  memcpy(s->exp_randoms, client_random, 32);
  memcpy(s->exp_randoms + 32, server_random, 32);
  s->exp_prf = (int)prf;
  s->exp_ready = 1;
  if (s->keylog != NULL) portls__mbed_keylog_tls12(s, ms, client_random);
  return 0;
}
#endif

#if defined(PORTLS_MBED3)
int portls__mbed_export_keying_material(portls_be_session *s, uint8_t *out, size_t len,
                                        const char *label, size_t label_len, const uint8_t *context,
                                        size_t context_len, int use_context, portls_error *err) {
#if defined(MBEDTLS_SSL_KEYING_MATERIAL_EXPORT)
  if (!s->hs_done) return portls__err(err, PORTLS_ENOTCONN, "exportKeyingMaterial: no keys yet");
  int ret = mbedtls_ssl_export_keying_material(&s->ssl, out, len, label, label_len, context,
                                               context_len, use_context);
  if (ret != 0) return portls__mbed_err(err, PORTLS_EINVAL, ret, "exportKeyingMaterial");
  return 0;
#else
  (void)s, (void)out, (void)len, (void)label, (void)label_len, (void)context, (void)context_len,
      (void)use_context;
  return portls__err(err, PORTLS_ENOTSUP, "exportKeyingMaterial: not in this mbed TLS build");
#endif
}
#else
int portls__mbed_export_keying_material(portls_be_session *s, uint8_t *out, size_t len,
                                        const char *label, size_t label_len, const uint8_t *context,
                                        size_t context_len, int use_context, portls_error *err) {
  (void)label_len; /* mbedtls_ssl_tls_prf takes the label as a C string */
  if (!s->exp_ready) return portls__err(err, PORTLS_ENOTCONN, "exportKeyingMaterial: no keys yet");
  if (use_context && context_len > 0xffff)
    return portls__err(err, PORTLS_EINVAL, "exportKeyingMaterial: context over 65535 bytes");
  /* RFC 5705 section 4: PRF(master_secret, label, client_random +
   * server_random [+ context_value_length + context_value]). */
  size_t seed_len = 64 + (use_context ? 2 + context_len : 0);
  uint8_t *seed = portls__malloc(seed_len);
  if (seed == NULL) return portls__err(err, PORTLS_ENOMEM, "exportKeyingMaterial: out of memory");
  memcpy(seed, s->exp_randoms, 64);
  if (use_context) {
    seed[64] = (uint8_t)(context_len >> 8);
    seed[65] = (uint8_t)context_len;
    if (context_len > 0) memcpy(seed + 66, context, context_len);
  }
  int ret = mbedtls_ssl_tls_prf((mbedtls_tls_prf_types)s->exp_prf, s->exp_master,
                                sizeof s->exp_master, label, seed, seed_len, out, len);
  portls__free(seed);
  if (ret != 0) return portls__mbed_err(err, PORTLS_EINVAL, ret, "exportKeyingMaterial");
  return 0;
}
#endif

size_t portls__mbed_finished(portls_be_session *s, int peer, uint8_t *buf, size_t cap) {
#if defined(MBEDTLS_SSL_RENEGOTIATION)
  /* Kept by mbed TLS for secure renegotiation (RFC 5746): the verify_data
   * of the latest Finished messages. */
  size_t n = s->ssl.verify_data_len;
  if (n == 0 || n > cap || n > sizeof s->ssl.own_verify_data) return 0;
  memcpy(buf, peer ? s->ssl.peer_verify_data : s->ssl.own_verify_data, n);
  return n;
#else
  (void)s, (void)peer, (void)buf, (void)cap;
  return 0;
#endif
}

/* ---- pskCallback ---- */

#if defined(PORTLS_MBED_PSK)
/* Server (mbedtls_ssl_conf_psk_cb on the connection's own config): the key
 * for the identity the client sent, or an error, which mbed TLS answers
 * with unknown_psk_identity. */
static int mbed_psk_server_cb(void *p, mbedtls_ssl_context *ssl, const unsigned char *id,
                              size_t id_len) {
  portls_be_session *s = p;
  char identity[PORTLS_PSK_MAX_IDENTITY + 1];
  portls_psk k;
  int ret = MBEDTLS_ERR_SSL_UNKNOWN_IDENTITY;
  if (s->psk_server == NULL || id_len > PORTLS_PSK_MAX_IDENTITY || memchr(id, 0, id_len) != NULL)
    return ret;
  memcpy(identity, id, id_len);
  identity[id_len] = '\0';
  if (s->psk_server(s->psk_arg, identity, &k) != 1) return ret;
  if (k.key_len > MBEDTLS_PSK_MAX_LEN)
    s->psk_too_long = k.key_len;
  else if ((ret = mbedtls_ssl_set_hs_psk(ssl, k.key, k.key_len)) == 0)
    s->psk_used = 1;
  mbedtls_platform_zeroize(&k, sizeof k);
  return ret;
}

/* Client: asks for the key before the ClientHello (hint NULL: mbed TLS 2.28
 * gives a client no hint) and puts it on the connection's own config. A
 * client without a key offers no PSK suite. */
static int mbed_psk_client(portls_be_session *s, portls_error *err) {
  portls_psk k;
  s->psk_asked = 1;
  if (s->psk_client(s->psk_arg, NULL, &k) != 1) return 0;
  int ret = 0;
  size_t idlen = strlen(k.identity);
  if (k.key_len > MBEDTLS_PSK_MAX_LEN)
    ret = portls__err(err, PORTLS_EINVAL,
                      "pskCallback: a key of %zu bytes is longer than mbed TLS allows "
                      "(MBEDTLS_PSK_MAX_LEN %d)",
                      k.key_len, MBEDTLS_PSK_MAX_LEN);
  else if ((ret = mbedtls_ssl_conf_psk(&s->conf, k.key, k.key_len,
                                       (const unsigned char *)k.identity, idlen)) != 0)
    ret = portls__mbed_err(err, ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? PORTLS_ENOMEM : PORTLS_EINVAL,
                           ret, "pskCallback");
  else
    s->psk_used = 1;
  mbedtls_platform_zeroize(&k, sizeof k);
  return ret;
}
#endif

int portls__mbed_session_new(portls_be_ctx *ctx, const portls_be_session_config *cfg,
                             const portls_be_io *io, portls_be_session **out, portls_error *err) {
  portls_be_session *s;
  int ret, rc = 0;

  *out = NULL;
  if (ctx == NULL || cfg == NULL || io == NULL || io->recv == NULL || io->send == NULL)
    return portls__err(err, PORTLS_EINVAL, NULL);
  s = portls__calloc(1, sizeof *s);
  if (s == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  mbedtls_ssl_init(&s->ssl);
  s->ctx = ctx;
  s->io = *io;
  s->is_server = cfg->is_server != 0;
  s->vtop = -1;

  if (!s->is_server || cfg->verify_peer) portls__mbed_ctx_load_system_ca(ctx);
  const mbedtls_ssl_config *conf = s->is_server ? &ctx->srv : &ctx->cli;
  const int alpn = cfg->alpn_wire.base != NULL && cfg->alpn_wire.len > 0;
#if defined(PORTLS_MBED_PSK)
  s->psk_client = s->is_server ? NULL : cfg->psk_client;
  s->psk_server = s->is_server ? cfg->psk_server : NULL;
  s->psk_arg = cfg->psk_arg;
#endif
  /* Every session has its own conf (it is inside the session anyway): the
   * key-export callback takes a pointer per conf, not per connection. */
  s->conf = *conf; /* shallow: shares the context's pointers (see mbed.h) */
  s->own_conf = 1;
  conf = &s->conf;
#if defined(PORTLS_MBED_PSK) && defined(PORTLS_MBED_TLS13)
  /* The PSK callbacks serve TLS 1.2 PSK suites (3.6 takes TLS 1.3 external
   * PSKs only from a static config): a connection with one is held to TLS
   * 1.2, as on BoringSSL, unless its context allows TLS 1.3 alone. */
  if ((s->psk_client != NULL || s->psk_server != NULL) &&
      s->conf.min_tls_version <= MBEDTLS_SSL_VERSION_TLS1_2)
    mbedtls_ssl_conf_max_tls_version(&s->conf, MBEDTLS_SSL_VERSION_TLS1_2);
#endif
#if defined(MBEDTLS_SSL_EXPORT_KEYS)
  mbedtls_ssl_conf_export_keys_ext_cb(&s->conf, mbed_export_keys, s);
#endif

  if (alpn) {
    if ((rc = mbed_alpn_list(s, cfg->alpn_wire)) < 0) {
      rc = portls__err(err, rc, rc == PORTLS_EALPN ? "ALPNProtocols: malformed list" : NULL);
      goto fail;
    }
    if (s->is_server) {
      s->conf.alpn_list = NULL; /* set per ClientHello, see mbed_choose_alpn */
      s->peek = 1;
    } else if ((ret = mbedtls_ssl_conf_alpn_protocols(&s->conf, s->alpn_list)) != 0) {
      rc = portls__mbed_err(err, PORTLS_EALPN, ret, "ALPNProtocols");
      goto fail;
    }
  }
#if defined(PORTLS_MBED3)
  /* Every 3.x server looks at the ClientHello first (its versions). */
  if (s->is_server) s->peek = 1;
#endif
  if (s->is_server && (rc = mbed_server_conf(s, cfg)) < 0) {
    rc = portls__err(err, rc, NULL);
    goto fail;
  }
#if defined(PORTLS_MBED_PSK)
  if (s->psk_server != NULL) mbedtls_ssl_conf_psk_cb(&s->conf, mbed_psk_server_cb, s);
#endif

  if ((ret = mbedtls_ssl_setup(&s->ssl, conf)) != 0) {
    rc = portls__mbed_err(err, ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? PORTLS_ENOMEM : PORTLS_EPROTO,
                          ret, "mbedtls_ssl_setup");
    goto fail;
  }
  mbedtls_ssl_set_bio(&s->ssl, s, mbed_send, mbed_recv, NULL);
  mbedtls_ssl_set_verify(&s->ssl, mbed_verify_cb, s);

  if (!s->is_server) {
    if (cfg->servername != NULL && cfg->servername[0] != '\0') {
      /* Sends SNI (and turns on a name check that mbed_verify_cb masks). */
      if ((ret = mbedtls_ssl_set_hostname(&s->ssl, cfg->servername)) != 0) {
        rc = portls__mbed_err(err,
                              ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? PORTLS_ENOMEM : PORTLS_EINVAL,
                              ret, "servername");
        goto fail;
      }
    }
    if (cfg->session.base != NULL && cfg->session.len > 0)
      if ((rc = mbed_set_session(s, cfg->session, err)) < 0) goto fail;
  }
  *out = s;
  return 0;

fail:
  portls__mbed_session_free(s);
  return rc;
}

void portls__mbed_session_free(portls_be_session *s) {
  if (s == NULL) return;
  mbedtls_ssl_free(&s->ssl); /* never the config: s->conf shares the context's */
  mbedtls_platform_zeroize(s->exp_master, sizeof s->exp_master);
#if defined(PORTLS_MBED_PSK)
  /* ... except the client's PSK, which mbedtls_ssl_conf_psk put on the
   * connection's own config alone. */
  if (s->own_conf && s->conf.psk != NULL) {
    mbedtls_platform_zeroize(s->conf.psk, s->conf.psk_len);
    mbedtls_free(s->conf.psk);
  }
  if (s->own_conf) mbedtls_free(s->conf.psk_identity);
#endif
  portls__free(s->alpn_store);
  portls__free(s->alpn_list);
  portls__free(s->pre);
  portls__free(s->servername);
  portls__mbed_observe_free(s);
  if (s->resume != NULL) mbedtls_platform_zeroize(s->resume, s->resume_len); /* a master secret */
  portls__free(s->resume);
  if (s->kept_chain != NULL) mbedtls_x509_crt_free(s->kept_chain);
  portls__free(s->kept_chain);
  portls__free(s);
}

/* ------------------------------------------------------------------------ */
/* Handshake                                                                  */

static void mbed_capture(portls_be_session *s) {
#if defined(PORTLS_MBED3)
  (void)s; /* mbed_watch does it */
#else
  const mbedtls_ssl_handshake_params *hs = s->ssl.handshake;
  if (hs == NULL) return;
  s->resumed = hs->resume != 0;
  if (s->is_server) return;
#if defined(MBEDTLS_ECDH_C)
#if defined(MBEDTLS_ECDH_LEGACY_CONTEXT)
  if (hs->ecdh_ctx.grp.id != MBEDTLS_ECP_DP_NONE) s->ecdh_grp = (int)hs->ecdh_ctx.grp.id;
#else
  if (hs->ecdh_ctx.grp_id != MBEDTLS_ECP_DP_NONE) s->ecdh_grp = (int)hs->ecdh_ctx.grp_id;
#endif
#endif
#if defined(MBEDTLS_DHM_C)
  size_t bits = mbedtls_mpi_bitlen(&hs->dhm_ctx.P);
  if (bits > 0) s->dh_bits = (int)bits;
#endif
#endif
}

/* The verification result in OpenSSL's terms for the chain the verify
 * callback last recorded and mbed TLS's flags for it. */
static int mbed_result(portls_be_session *s, uint32_t flags) {
  mbed_extend_chain(s);
  return mbed_verify_code(s, flags);
}

/* A handshake has started: what described the previous one goes. */
static void mbed_hs_begin(portls_be_session *s) {
  s->hs_started++;
  s->vtop = -1;
  s->vdone = 0;
  memset(s->vcrt, 0, sizeof s->vcrt);
  memset(s->vflags, 0, sizeof s->vflags);
  s->vext_n = 0;
  s->vrooted = 0;
  s->resumed = 0;
  s->ecdh_grp = 0;
  s->dh_bits = 0;
  s->cache_new = 0;
  s->ticket_sent = 0;
#if defined(PORTLS_MBED3)
  memset(&s->sf, 0, sizeof s->sf);
  /* A renegotiation's flight is encrypted: nothing to read there. */
  s->sf.done = s->hs_completed > 0;
#endif
}

/* A handshake has completed; ssl.session is its session. */
static void mbed_hs_end(portls_be_session *s) {
  s->hs_completed++;
  s->hs_done = 1;
  /* A resumed session keeps the result of the handshake that verified it. */
  if (!(s->resumed && s->verify_code_set))
    s->verify_code = mbed_result(s, mbedtls_ssl_get_verify_result(&s->ssl));
  const mbedtls_ssl_session *sess = s->ssl.session;
  if (!s->is_server && !s->resumed && sess != NULL) {
    int resumable = sess->id_len > 0;
#if defined(MBEDTLS_SSL_SESSION_TICKETS) && defined(MBEDTLS_SSL_CLI_C)
    resumable |= sess->ticket_len > 0;
#endif
    if (resumable) s->new_session = 1;
  }
}

/* Handshakes are counted where the state machine is seen to leave and reach
 * HANDSHAKE_OVER: at every bio call (mbed TLS does I/O between any two
 * handshakes, so none is missed even when one call of mbedtls_ssl_read
 * completes a renegotiation and starts the next) and after every call into
 * mbed TLS. What exists only while the handshake structure lives is captured
 * at the same points: after the step that parsed it there is always a bio
 * call or a return before the structure is freed. */
static void mbed_track(portls_be_session *s) {
  const int in_hs = !MBED_HS_OVER(s);
  if (s->pinned && s->ssl.state > MBEDTLS_SSL_CLIENT_HELLO) {
#if defined(PORTLS_MBED3)
    s->conf.ciphersuite_list = s->suites_saved[0];
#else
    memcpy(s->conf.ciphersuite_list, s->suites_saved, sizeof s->suites_saved);
#endif
    s->pinned = 0;
  }
  if (in_hs && !s->in_hs) {
    s->in_hs = 1;
    mbed_hs_begin(s);
  }
  mbed_capture(s);
  if (!in_hs && s->in_hs) {
    s->in_hs = 0;
    mbed_hs_end(s);
  }
}

/* Too many warning alerts in a row (MBED_MAX_WARN_ALERTS): the bio refused
 * the next record, or the last one read was the one too many. Fatal, with
 * the alert OpenSSL sends for it. */
static int mbed_too_many_alerts(portls_be_session *s, int ret) {
  return s->too_many_alerts ||
         (ret == MBEDTLS_ERR_SSL_WANT_READ && s->alerts_in_row >= MBED_MAX_WARN_ALERTS);
}

static int mbed_alerts_fail(portls_be_session *s, portls_error *err) {
  s->too_many_alerts = 0;
  s->io_error = 0;
  /* Nothing after our close_notify (OpenSSL sends no alert then either;
   * the transport's write side may be shut already). */
  if (!s->close_sent)
    (void)mbedtls_ssl_send_alert_message(&s->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                         MBEDTLS_SSL_ALERT_MSG_UNEXPECTED_MESSAGE);
  return portls__err(err, PORTLS_EPROTO, "mbedtls: too many warn alerts (%u in a row)",
                     s->alerts_in_row);
}

/* Server under requestCert + rejectUnauthorized (require_peer_cert), once
 * the client's Certificate message is in: none at all fails the handshake
 * with handshake_failure, as OpenSSL's SSL_VERIFY_FAIL_IF_NO_PEER_CERT does.
 * (mbed TLS's VERIFY_REQUIRED would also fail a certificate that does not
 * verify, which core decides on, and sends no alert for a missing one.) A
 * resumed handshake has no Certificate message: it was checked when the
 * session was made. */
static int mbed_check_peer_sent_cert(portls_be_session *s, portls_error *err) {
  if (!s->require_cert || s->resumed || s->hs_completed > 0 || s->ssl.session_negotiate == NULL)
    return 0;
  int alert = MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE;
#if defined(PORTLS_MBED3)
  if (s->ssl.tls_version == MBEDTLS_SSL_VERSION_TLS1_3) {
    /* TLS 1.3 sends the client's Certificate after the server's Finished:
     * it has been read once the state is past it. */
    const int st = s->ssl.state;
    if (st != MBEDTLS_SSL_CLIENT_CERTIFICATE_VERIFY && st != MBEDTLS_SSL_CLIENT_FINISHED &&
        st != MBEDTLS_SSL_HANDSHAKE_WRAPUP)
      return 0;
    alert = MBEDTLS_SSL_ALERT_MSG_CERT_REQUIRED; /* what OpenSSL's TLS 1.3 server sends */
  } else if (s->ssl.tls_version != MBEDTLS_SSL_VERSION_TLS1_2 ||
             s->ssl.state <= MBEDTLS_SSL_CLIENT_CERTIFICATE ||
             s->ssl.state > MBEDTLS_SSL_NEW_SESSION_TICKET) {
    return 0; /* not TLS 1.2 (yet: a HelloRetryRequest), or not that far */
  }
#else
  if (s->ssl.state <= MBEDTLS_SSL_CLIENT_CERTIFICATE) return 0;
#endif
  s->require_cert = 0; /* checked */
  if (s->ssl.session_negotiate->peer_cert != NULL) return 0;
#if defined(PORTLS_MBED_TLS13)
  /* The client has switched to the server's application keys after the
   * server's Finished (RFC 8446 7.2); mbed TLS 3.6 switches its server only
   * at the end of the handshake, so the alert goes under those keys, with
   * their sequence numbers starting from 0, as OpenSSL sends it. */
  if (s->ssl.tls_version == MBEDTLS_SSL_VERSION_TLS1_3 && s->ssl.transform_application != NULL) {
    s->ssl.transform_out = s->ssl.transform_application;
    memset(s->ssl.cur_out_ctr, 0, sizeof s->ssl.cur_out_ctr);
  }
#endif
  mbedtls_ssl_send_alert_message(&s->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL, (unsigned char)alert);
  return portls__err(err, PORTLS_ENO_CERT, "mbedtls: peer did not return a certificate");
}

#if defined(PORTLS_MBED_TLS13) && defined(PORTLS_MBED_DROP_TLS13_HANDSHAKE)
/* Library functions of 3.6 that its public headers do not declare
 * (library/ssl_misc.h); libmbedtls exports them. */
void mbedtls_ssl_handshake_free(mbedtls_ssl_context *ssl);
void mbedtls_ssl_transform_free(mbedtls_ssl_transform *transform);

/* mbed TLS 3.6 keeps a TLS 1.3 connection's handshake structure (transcript,
 * handshake keys and transform: ~3 KiB) until mbedtls_ssl_free(); TLS 1.2 frees
 * it at the end of the handshake. Nothing reads it afterwards (a server sends
 * its tickets before HANDSHAKE_OVER; post-handshake KeyUpdate is refused), so
 * it goes now, with the TLS 1.2 transform a 1.3 handshake never uses. A
 * client that processes NewSessionTickets keeps it: that runs as a handshake
 * state. Built where RAM counts (the bare-metal image defines
 * PORTLS_MBED_DROP_TLS13_HANDSHAKE in its mbed TLS config). */
static void mbed_drop_tls13_handshake(portls_be_session *s) {
  if (s->ssl.tls_version != MBEDTLS_SSL_VERSION_TLS1_3 || s->ssl.handshake == NULL) return;
#if defined(MBEDTLS_SSL_SESSION_TICKETS)
  if (!s->is_server) return;
#endif
  mbedtls_ssl_handshake_free(&s->ssl);
  mbedtls_free(s->ssl.handshake);
  s->ssl.handshake = NULL;
#if defined(MBEDTLS_SSL_PROTO_TLS1_2)
  mbedtls_ssl_transform_free(s->ssl.transform_negotiate);
  mbedtls_free(s->ssl.transform_negotiate);
  s->ssl.transform_negotiate = NULL;
#endif
}
#endif

int portls__mbed_handshake(portls_be_session *s, portls_error *err) {
  s->io_error = 0;
#if defined(PORTLS_MBED_PSK)
  if (s->psk_client != NULL && !s->psk_asked) {
    int rc = mbed_psk_client(s, err);
    if (rc < 0) return rc;
  }
#endif
  mbed_track(s);
  while (s->ssl.state != MBEDTLS_SSL_HANDSHAKE_OVER) {
    int ret = mbedtls_ssl_handshake_step(&s->ssl);
    mbed_track(s);
    if (ret != 0 && mbed_too_many_alerts(s, ret)) return mbed_alerts_fail(s, err);
    if (ret != 0) return mbed_fail(s, ret, MBED_OP_HANDSHAKE, err);
    if ((ret = mbed_check_peer_sent_cert(s, err)) < 0) return ret;
  }
#if defined(PORTLS_MBED_TLS13) && defined(PORTLS_MBED_DROP_TLS13_HANDSHAKE)
  mbed_drop_tls13_handshake(s);
#endif
  return PORTLS_BE_OK;
}

/* ------------------------------------------------------------------------ */
/* Data                                                                       */

/* A renegotiation the peer answered with a no_renegotiation warning (the
 * alert mbed TLS just passed over). OpenSSL makes that fatal, and so does
 * this backend: mbed TLS would wait for the new handshake forever. */
static int mbed_reneg_refused(const portls_be_session *s) {
#if defined(MBEDTLS_SSL_RENEGOTIATION)
  return (s->ssl.renego_status == PORTLS_MBED_RENEGOTIATION_IN_PROGRESS ||
          s->ssl.renego_status == PORTLS_MBED_RENEGOTIATION_PENDING) &&
         s->ssl.in_msgtype == MBEDTLS_SSL_MSG_ALERT && s->ssl.in_msg != NULL &&
         s->ssl.in_msglen == 2 && s->ssl.in_msg[0] == MBEDTLS_SSL_ALERT_LEVEL_WARNING &&
         s->ssl.in_msg[1] == MBEDTLS_SSL_ALERT_MSG_NO_RENEGOTIATION;
#else
  (void)s;
  return 0;
#endif
}

int portls__mbed_read(portls_be_session *s, uint8_t *buf, size_t cap, size_t *nread,
                      portls_error *err) {
  *nread = 0;
  if (cap == 0) return portls__err(err, PORTLS_EINVAL, "read: empty buffer");
  if (cap > INT_MAX) cap = INT_MAX;
#if defined(PORTLS_MBED_TLS13)
  int ticket_turns = 0;
#endif
  for (;;) {
    s->io_error = 0;
    s->starved = 0;
    const size_t rx = s->rx_count;
    int r = mbedtls_ssl_read(&s->ssl, buf, cap);
    mbed_track(s);
    if (r > 0) {
      s->alerts_in_row = 0;
      *nread = (size_t)r;
      return PORTLS_BE_OK;
    }
    /* 0 is a record that held nothing: an empty application-data record
     * that followed another (mbed TLS passes over a lone one itself). The
     * records behind it may already be here: go on while the bio took bytes.
     * (The other meaning of 0, the transport's EOF, never comes from our
     * bio.) */
    if (r == 0 && s->rx_count != rx) continue;
    if (r == 0) return PORTLS_BE_WANT_READ;
#if defined(PORTLS_MBED_TLS13)
    /* A TLS 1.3 NewSessionTicket, taken into the session: resumable now. */
    if (r == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) {
      s->new_session = 1;
      continue;
    }
    /* A NewSessionTicket read (another may follow in the same record): mbed
     * TLS answers "want read" and takes it in at the next call, with no new
     * input needed, and only then reads what came after it. */
    if (r == MBEDTLS_ERR_SSL_WANT_READ && !s->is_server &&
        s->ssl.state == MBEDTLS_SSL_TLS1_3_NEW_SESSION_TICKET && s->io_error == 0 &&
        ++ticket_turns < 64) /* (a bound, should mbed TLS ever not move on) */
      continue;
#endif
    if (r == MBEDTLS_ERR_SSL_WANT_READ && mbed_reneg_refused(s)) {
      mbedtls_ssl_send_alert_message(&s->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                     MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
      return portls__err(err, PORTLS_ERENEG_DISABLED,
                         "mbedtls: the peer refused to renegotiate (no_renegotiation)");
    }
    if (mbed_too_many_alerts(s, r)) return mbed_alerts_fail(s, err);
    /* mbed TLS's own limit on empty records (the fourth in a row), which it
     * reports as a bad MAC (and answers with bad_record_mac). */
    if (r == MBEDTLS_ERR_SSL_INVALID_MAC && s->ssl.nb_zero > 3)
      return portls__mbed_err(err, PORTLS_EPROTO, r, "too many empty records in a row");
    /* mbed TLS also answers "want read" after a record that held nothing
     * for the caller (a warning alert, a HelloRequest or ClientHello that
     * started a renegotiation) while core may hold more: go on while the
     * bio finds ciphertext. */
    if (r == MBEDTLS_ERR_SSL_WANT_READ && !s->starved && s->rx_count != rx && s->io_error == 0)
      continue;
    return mbed_fail(s, r, MBED_OP_READ, err);
  }
}

/* mbed TLS writes at most one record per call (partial writes); a max send
 * fragment is honoured by handing it chunks of at most that size. While a
 * renegotiation waits for the peer, nothing is written (PORTLS_BE_WANT_READ). */
int portls__mbed_write(portls_be_session *s, const uint8_t *buf, size_t len, portls_error *err) {
  size_t off = 0;
  while (off < len) {
    size_t chunk = len - off;
    if (s->max_frag > 0 && chunk > s->max_frag) chunk = s->max_frag;
    if (chunk > MBEDTLS_SSL_OUT_CONTENT_LEN) chunk = MBEDTLS_SSL_OUT_CONTENT_LEN;
    s->io_error = 0;
    int r = mbedtls_ssl_write(&s->ssl, buf + off, chunk);
    mbed_track(s);
    if (r > 0) {
      off += (size_t)r;
      continue;
    }
    if (s->too_many_alerts) return mbed_alerts_fail(s, err); /* read during a renegotiation */
    const int waiting =
        r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WAITING_SERVER_HELLO_RENEGO;
    if (waiting && off == 0) return PORTLS_BE_WANT_READ;
    if (r == 0 || waiting)
      return portls__err(err, PORTLS_EPROTO, "mbedtls: write stopped after %zu of %zu bytes", off,
                         len);
    return mbed_fail(s, r, MBED_OP_WRITE, err);
  }
  return PORTLS_BE_OK;
}

int portls__mbed_shutdown(portls_be_session *s, portls_error *err) {
  /* Before the handshake is done (or after a fatal error) there is no
   * session to close: nothing is sent, and core just closes the transport. */
  if (!s->hs_done || s->close_sent) return PORTLS_BE_OK;
  s->close_sent = 1;
  s->io_error = 0;
  /* Nothing during a renegotiation, as OpenSSL ("shutdown while in init"). */
  int r = mbedtls_ssl_close_notify(&s->ssl);
  if (r == 0) return PORTLS_BE_OK;
  return mbed_fail(s, r, MBED_OP_SHUTDOWN, err);
}

/* ------------------------------------------------------------------------ */
/* Renegotiation                                                              */

int portls__mbed_renegotiate(portls_be_session *s, int verify_peer, portls_error *err) {
#if defined(MBEDTLS_SSL_RENEGOTIATION)
  if (!s->hs_done)
    return portls__err(err, PORTLS_ENOTCONN, "renegotiate: the handshake has not completed");
  if (s->ssl.secure_renegotiation != MBEDTLS_SSL_SECURE_RENEGOTIATION)
    return portls__err(err, PORTLS_ERENEG_DISABLED,
                       "renegotiate: the peer does not support secure renegotiation (RFC 5746)");
  if (s->is_server) {
    /* For this handshake and the ones after it (Node's setVerifyMode). */
    if (verify_peer) {
      portls__mbed_ctx_load_system_ca(s->ctx);
      portls__mbed_ctx_apply_ca(s->ctx, &s->conf);
    }
    mbedtls_ssl_conf_authmode(&s->conf,
                              verify_peer ? MBEDTLS_SSL_VERIFY_OPTIONAL : MBEDTLS_SSL_VERIFY_NONE);
  }
  /* One already under way serves this request too. */
  if (!MBED_HS_OVER(s)) return PORTLS_BE_OK;
  s->io_error = 0;
  /* Server: a HelloRequest (the handshake starts with the client's
   * ClientHello, in read()); client: a ClientHello, then read() goes on. */
  int r = mbedtls_ssl_renegotiate(&s->ssl);
  mbed_track(s);
  /* mbed TLS 2.28 sends the HelloRequest again for records of application
   * data that arrive before the ClientHello (a DTLS retransmission it also
   * makes over TLS, a few times when renegotiation is not enforced); a
   * client that is already renegotiating takes the second one for a broken
   * ServerHello (mbed TLS's does: decode_error). Those retransmissions are
   * counted as made already. */
  if (s->is_server) s->ssl.renego_records_seen = INT_MAX / 2;
  if (r == 0 || r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
    return PORTLS_BE_OK;
  return mbed_fail(s, r, MBED_OP_HANDSHAKE, err);
#else
  (void)s;
  (void)verify_peer;
  return portls__err(err, PORTLS_ERENEG_DISABLED,
                     "renegotiate: mbed TLS was built without renegotiation");
#endif
}

void portls__mbed_handshakes(portls_be_session *s, unsigned *started, unsigned *completed) {
  *started = s->hs_started;
  *completed = s->hs_completed;
}

/* ------------------------------------------------------------------------ */
/* Info                                                                       */

/* Curve names and sizes as OpenSSL reports them (X25519: 253 bits). */
static const char *mbed_curve_name(int grp, int *bits) {
  const mbedtls_ecp_curve_info *ci = mbedtls_ecp_curve_info_from_grp_id((mbedtls_ecp_group_id)grp);
  *bits = ci != NULL ? ci->bit_size : 0;
  switch (grp) {
  case MBEDTLS_ECP_DP_SECP192R1:
    return "prime192v1";
  case MBEDTLS_ECP_DP_SECP224R1:
    return "secp224r1";
  case MBEDTLS_ECP_DP_SECP256R1:
    return "prime256v1";
  case MBEDTLS_ECP_DP_SECP384R1:
    return "secp384r1";
  case MBEDTLS_ECP_DP_SECP521R1:
    return "secp521r1";
  case MBEDTLS_ECP_DP_SECP192K1:
    return "secp192k1";
  case MBEDTLS_ECP_DP_SECP224K1:
    return "secp224k1";
  case MBEDTLS_ECP_DP_SECP256K1:
    return "secp256k1";
  case MBEDTLS_ECP_DP_BP256R1:
    return "brainpoolP256r1";
  case MBEDTLS_ECP_DP_BP384R1:
    return "brainpoolP384r1";
  case MBEDTLS_ECP_DP_BP512R1:
    return "brainpoolP512r1";
  case MBEDTLS_ECP_DP_CURVE25519:
    *bits = 253;
    return "X25519";
  case MBEDTLS_ECP_DP_CURVE448:
    *bits = 448;
    return "X448";
  default:
    return ci != NULL ? ci->name : NULL;
  }
}

static void mbed_ephemeral(portls_be_session *s, int suite, portls_be_info *info) {
  const mbedtls_ssl_ciphersuite_t *cs = mbedtls_ssl_ciphersuite_from_id(suite);
  if (s->is_server || cs == NULL) return;
  int kx = (int)cs->key_exchange;
#if defined(PORTLS_MBED3)
  if (s->sf.tls13) kx = MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA; /* TLS 1.3: the key_share group */
#endif
  switch (kx) {
  case MBEDTLS_KEY_EXCHANGE_ECDHE_RSA:
  case MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA:
  case MBEDTLS_KEY_EXCHANGE_ECDHE_PSK: {
    if (s->ecdh_grp == 0) return;
    int bits = 0;
    const char *name = mbed_curve_name(s->ecdh_grp, &bits);
    snprintf(s->ephemeral_name, sizeof s->ephemeral_name, "%s", name != NULL ? name : "");
    info->ephemeral_type = "ECDH";
    info->ephemeral_name = s->ephemeral_name;
    info->ephemeral_bits = bits;
    break;
  }
  case MBEDTLS_KEY_EXCHANGE_DHE_RSA:
  case MBEDTLS_KEY_EXCHANGE_DHE_PSK:
    if (s->dh_bits == 0) return;
    info->ephemeral_type = "DH";
    info->ephemeral_bits = s->dh_bits;
    break;
  default:
    break;
  }
}

void portls__mbed_info(portls_be_session *s, portls_be_info *info) {
  memset(info, 0, sizeof *info);
#if defined(PORTLS_MBED3)
  info->version = (uint16_t)mbedtls_ssl_get_version_number(&s->ssl);
#else
  if (s->ssl.major_ver == MBEDTLS_SSL_MAJOR_VERSION_3)
    info->version = (uint16_t)(0x0300 | (s->ssl.minor_ver & 0xff));
#endif
  int suite = s->ssl.session != NULL ? s->ssl.session->ciphersuite : 0;
  info->suite = (uint16_t)suite;
  info->cipher_name = NULL; /* core names it from its table */
  if (s->is_server) info->servername = s->servername;
#if defined(MBEDTLS_SSL_ALPN)
  info->alpn = mbedtls_ssl_get_alpn_protocol(&s->ssl);
#endif
  info->session_reused = s->resumed;
  info->has_peer_cert = mbed_peer_chain(s) != NULL;
  info->verify_result = info->has_peer_cert ? s->verify_code : 0;
#if defined(PORTLS_MBED_PSK)
  const mbedtls_ssl_ciphersuite_t *psk_cs = mbedtls_ssl_ciphersuite_from_id(suite);
#if defined(PORTLS_MBED3)
  /* 3.x keeps mbedtls_ssl_ciphersuite_uses_psk internal. */
  int kx = psk_cs != NULL ? (int)psk_cs->key_exchange : 0;
  info->psk =
      s->psk_used && (kx == MBEDTLS_KEY_EXCHANGE_PSK || kx == MBEDTLS_KEY_EXCHANGE_DHE_PSK ||
                      kx == MBEDTLS_KEY_EXCHANGE_RSA_PSK || kx == MBEDTLS_KEY_EXCHANGE_ECDHE_PSK);
#else
  info->psk = s->psk_used && psk_cs != NULL && mbedtls_ssl_ciphersuite_uses_psk(psk_cs);
#endif
#endif
  mbed_ephemeral(s, suite, info);
}

/* ------------------------------------------------------------------------ */
/* Certificates and sessions                                                  */

int portls__mbed_peer_cert(portls_be_session *s, size_t index, portls_buf *der) {
  const mbedtls_x509_crt *c = mbed_peer_chain(s);
  for (size_t i = 0; c != NULL && c->raw.len > 0; i++, c = c->next) {
    if (i == index) {
      der->base = c->raw.p;
      der->len = c->raw.len;
      return 0;
    }
  }
  return PORTLS_ENOENT;
}

/* The chain mbed TLS verified, leaf to trust anchor, continued through the
 * trust store to the root as OpenSSL builds it (mbed_extend_chain);
 * certificates live in the session (peer chain) or in the context (store).
 * None after a resumption: core then uses the chain as sent. */
int portls__mbed_verified_cert(portls_be_session *s, size_t index, portls_buf *der) {
  if (!s->hs_done || s->resumed || s->vtop < 0) return PORTLS_ENOENT;
  const mbedtls_x509_crt *c = NULL;
  if (index <= (size_t)s->vtop)
    c = s->vcrt[index];
  else if (index - (size_t)s->vtop - 1 < (size_t)s->vext_n)
    c = s->vext[index - (size_t)s->vtop - 1];
  if (c == NULL) return PORTLS_ENOENT;
  der->base = c->raw.p;
  der->len = c->raw.len;
  return 0;
}

int portls__mbed_set_max_send_fragment(portls_be_session *s, size_t size) {
  if (size < 512 || size > 16384) return PORTLS_EINVAL;
  s->max_frag = size;
  return 0;
}

int portls__mbed_get_session(portls_be_session *s, portls_buf *out, portls_error *err) {
  out->base = NULL;
  out->len = 0;
  if (!s->hs_done || s->ssl.session == NULL)
    return portls__err(err, PORTLS_ENOTCONN, "no TLS session");
  uint8_t *b;
  size_t n;
  int ret = mbed_blob_save(s->ssl.session, s->verify_code, s->is_server ? s->ctx->sid_ctx : NULL,
                           s->is_server ? s->ctx->sid_len : 0,
                           mbed_chain_to_keep(s, s->ssl.session), &b, &n);
  if (ret != 0) return mbed_session_err(err, ret);
  out->base = b;
  out->len = n;
  return 0;
}

int portls__mbed_session_ready(portls_be_session *s) {
  int ready = s->new_session;
  s->new_session = 0;
  return ready;
}

/* Like OpenSSL's new-session callback on a TLS 1.2 server: every session
 * mbed TLS would cache by id, which is each full handshake's unless a ticket
 * was issued instead (both libraries then send an empty session id). */
int portls__mbed_server_session(portls_be_session *s, portls_buf *id, portls_buf *data,
                                portls_error *err) {
  id->base = data->base = NULL;
  id->len = data->len = 0;
  const mbedtls_ssl_session *sess = s->ssl.session;
  if (!s->is_server || !s->cache_new || s->ticket_sent || !s->hs_done || sess == NULL ||
      sess->id_len == 0)
    return 0;
  uint8_t *b;
  size_t n;
  int ret = mbed_blob_save(sess, s->verify_code, s->ctx->sid_ctx, s->ctx->sid_len,
                           mbed_chain_to_keep(s, sess), &b, &n);
  if (ret != 0) return mbed_session_err(err, ret);
  id->base = sess->id;
  id->len = sess->id_len;
  data->base = b;
  data->len = n;
  return 1;
}

int portls__mbed_ticket(portls_be_session *s, portls_buf *out) {
  out->base = NULL;
  out->len = 0;
#if defined(MBEDTLS_SSL_SESSION_TICKETS) && defined(MBEDTLS_SSL_CLI_C)
  const mbedtls_ssl_session *sess = s->ssl.session;
  if (s->is_server || sess == NULL || sess->ticket == NULL || sess->ticket_len == 0)
    return PORTLS_ENOENT;
  out->base = sess->ticket;
  out->len = sess->ticket_len;
  return 0;
#else
  (void)s;
  return PORTLS_ENOENT;
#endif
}
