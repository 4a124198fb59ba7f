/* portls backends: a TLS 1.3 server session at rest gives its SSL back.
 *
 * After a TLS 1.3 handshake, an OpenSSL server connection keeps about 15 KiB
 * inside the library (the SSL, its session, the key shares, two cipher
 * contexts, the handshake hash), for as long as it lives. Most of it is never
 * used again: once the handshake is over, TLS 1.3 is a record layer (RFC 8446
 * section 5) plus two post-handshake messages a server can receive
 * (KeyUpdate; a Certificate only after a post-handshake request, which portls
 * never makes). So when core finds such a connection quiet (no ciphertext
 * either way for a whole rest sweep of its server, core/net/server.c) and
 * nothing is buffered, rest() keeps what Node's API can still ask for (info,
 * the peer's certificates as DER, the session bytes), frees the SSL, and the
 * session carries on here with the traffic secrets: a few hundred bytes.
 *
 * A session at rest is another implementation of the same operations: rest()
 * switches the session's table (s->ops, see ossl.h) from ossl.c's to the one
 * at the end of this file, and every operation of backend.h keeps working.
 * All the rest of the family knows of this file is ossl.h's three functions
 * and the opaque s->rest.
 *
 * Why only quiet ones: this record layer costs less CPU per byte than
 * OpenSSL's, yet a server that drains a bulk sender faster sleeps between its
 * writes, and on a small machine the extra wake-ups cost the sender more than
 * the server saved (bench: 25% less throughput with both ends on 2 cores).
 * A connection moving data keeps the library's record layer; one that went
 * quiet has nothing to lose.
 *
 * The secrets come from the key-log callback and the record sequence numbers
 * from the message callback, both public API (lean_*_cb): every record
 * header after a direction switched to its application secret counts one,
 * and a KeyUpdate starts the next secret at zero.
 *
 * Only servers rest: a client must stay able to take NewSessionTicket
 * messages into a library session. Suites: the three AEAD ones RFC 8446
 * requires or recommends (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305); a
 * connection on another one keeps its SSL.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include "backends/common/ossl.h"

#if defined(PORTLS_OSSL_LEAN)

/* The limits OpenSSL's record layer keeps on an active connection, kept the
 * same here so that resting changes nothing a peer can see (OpenSSL 3.0,
 * ssl/record): at most 32 empty records in a row (MAX_EMPTY_RECORDS,
 * ssl3_get_record: the 33rd is fatal, "record too small"; a non-empty record
 * of any type starts the count again), and fewer than 5 warning alerts in a
 * row (MAX_WARN_ALERT_COUNT, ssl3_read_bytes: the fifth is fatal, "too many
 * warn alerts"; in TLS 1.3 user_canceled counts whatever its level; a
 * non-empty record that is not an alert starts the count again). Both end
 * the connection with an unexpected_message alert.
 *
 * There is no such limit on KeyUpdate messages in OpenSSL (BoringSSL has
 * one, 32 in a row), so there is none here either: each KeyUpdate that asks
 * for ours is answered, and what bounds the answers a peer that never reads
 * can pile up is core's backpressure (the socket stops reading while its
 * own output is above the high-water mark, core/net/socket.c). */
enum { LEAN_MAX_EMPTY_RECORDS = 32, LEAN_MAX_WARN_ALERTS = 5 };

enum {
  LEAN_HDR = 5,
  LEAN_TAG = 16,
  LEAN_MAX_PLAIN = 16384,
  LEAN_MAX_CIPHER = LEAN_MAX_PLAIN + 256, /* RFC 8446 5.2 */
  LEAN_RT_ALERT = 21,
  LEAN_RT_HANDSHAKE = 22,
  LEAN_RT_APP = 23,
  LEAN_HT_KEY_UPDATE = 24
};

/* Alert descriptions sent here. */
enum {
  LEAN_AD_CLOSE_NOTIFY = 0,
  LEAN_AD_UNEXPECTED_MESSAGE = 10,
  LEAN_AD_BAD_RECORD_MAC = 20,
  LEAN_AD_RECORD_OVERFLOW = 22,
  LEAN_AD_DECODE_ERROR = 50,
  LEAN_AD_INTERNAL_ERROR = 80,
  LEAN_AD_USER_CANCELED = 90
};

/* One direction's application traffic: followed from the library's
 * callbacks while the SSL lives, carried on by the record layer afterwards. */
typedef struct lean_dir {
  uint8_t secret[48]; /* the current traffic secret (hash_len bytes) */
  uint64_t seq;       /* records under it so far: the next record's sequence number */
  int ready;          /* the first application secret has been logged */
  uint8_t key[32];    /* from the secret, once at rest */
  uint8_t iv[12];
} lean_dir;

/* The record layer of a session at rest. */
typedef struct lean_layer {
  const EVP_CIPHER *cipher;
  const EVP_MD *md;
  size_t key_len;
  portls_be_info info; /* strings point into the portls_be_session */
  uint8_t *session;    /* getSession()'s bytes, taken before the SSL went */
  size_t session_len;
  EVP_CIPHER_CTX *rctx;        /* keyed for reading while records arrive; freed when idle */
  uint8_t *rec;                /* the record being received, then its plaintext */
  size_t rec_have;             /* ciphertext bytes of it received so far */
  size_t plain_off, plain_end; /* undelivered application data inside rec */
  uint8_t hs[4 + 1];           /* a post-handshake message split across records */
  size_t hs_len;
  unsigned empty_in_row, warn_in_row; /* see LEAN_MAX_EMPTY_RECORDS */
  int got_close, sent_close, failed;
  /* getFinished / getPeerFinished and getSharedSigalgs, taken before the SSL went. */
  uint8_t fin[48], peer_fin[48];
  uint8_t fin_len, peer_fin_len;
  uint16_t sigalgs_n; /* shared sigalgs as (sign NID, hash NID) pairs: 4 bytes each */
  uint16_t *sigalgs;
} lean_layer;

/* s->rest: allocated at a server session's first application secret. */
struct portls__ossl_lean {
  lean_dir rd, wr;
  uint8_t exporter[48]; /* the exporter_master_secret, for exportKeyingMaterial at rest */
  size_t exporter_len;  /* 0: not logged (the session keeps its SSL) */
  size_t hash_len;
  int broken;        /* something did not add up: this session keeps its SSL */
  lean_layer *layer; /* NULL while the SSL lives */
};

/* s->rest of a session whose own could not be allocated: it keeps its SSL.
 * Never written (every writer checks broken first). */
static portls__ossl_lean lean_never = {.broken = 1};

static const portls__ossl_ops lean_ops; /* a session at rest: at the end of this file */

/* ------------------------------------------------------------------------ */
/* Key schedule (RFC 8446 7.1, 7.3)                                           */

/* HKDF-Expand-Label(secret, label, "", len) for len <= the hash length: one
 * HMAC block. */
static int lean_expand(const EVP_MD *md, const uint8_t *secret, size_t hash_len, const char *label,
                       uint8_t *out, size_t len) {
  uint8_t info[2 + 1 + 6 + 16 + 1 + 1];
  size_t llen = strlen(label), n = 0;
  uint8_t block[EVP_MAX_MD_SIZE];
  unsigned int blen = 0;
  if (llen > 16 || len > hash_len) return -1;
  info[n++] = (uint8_t)(len >> 8);
  info[n++] = (uint8_t)len;
  info[n++] = (uint8_t)(6 + llen);
  memcpy(info + n, "tls13 ", 6);
  n += 6;
  memcpy(info + n, label, llen);
  n += llen;
  info[n++] = 0; /* empty context */
  info[n++] = 1; /* T(1) */
  if (HMAC(md, secret, (int)hash_len, info, n, block, &blen) == NULL || blen < len) {
    ERR_clear_error();
    return -1;
  }
  memcpy(out, block, len);
  OPENSSL_cleanse(block, sizeof block);
  return 0;
}

static int lean_dir_keys(const lean_layer *l, size_t hash_len, lean_dir *d) {
  return lean_expand(l->md, d->secret, hash_len, "key", d->key, l->key_len) < 0 ||
                 lean_expand(l->md, d->secret, hash_len, "iv", d->iv, sizeof d->iv) < 0
             ? -1
             : 0;
}

/* The next generation of a traffic secret (KeyUpdate). */
static int lean_next_secret(const EVP_MD *md, uint8_t *secret, size_t hash_len) {
  uint8_t next[48];
  if (lean_expand(md, secret, hash_len, "traffic upd", next, hash_len) < 0) return -1;
  memcpy(secret, next, hash_len);
  OPENSSL_cleanse(next, sizeof next);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Following the traffic state while the SSL lives                            */

static const EVP_MD *lean_md_for_len(size_t hash_len) {
  return hash_len == 48 ? EVP_sha384() : EVP_sha256();
}

/* Key-log line "<LABEL> <client random> <secret>": the first application
 * secret of each direction. OpenSSL logs a direction's secret when that
 * direction switches to it: after our own Finished record went out, after
 * the peer's Finished was read. */
/* Decodes the secret at the end of a key-log line into out (32 or 48
 * bytes); returns its length, 0 when malformed. */
static size_t lean_line_secret(const char *line, uint8_t out[48]) {
  const char *hex = strrchr(line, ' ');
  if (hex == NULL) return 0;
  hex++;
  size_t n = strlen(hex) / 2;
  if ((n != 32 && n != 48) || strlen(hex) != 2 * n) return 0;
  for (size_t i = 0; i < n; i++) {
    int hi = portls__hexval(hex[2 * i]), lo = portls__hexval(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return 0;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return n;
}

static void lean_keylog_cb(const SSL *ssl, const char *line) {
  static const char client[] = "CLIENT_TRAFFIC_SECRET_0 ", server[] = "SERVER_TRAFFIC_SECRET_0 ",
                    exporter[] = "EXPORTER_SECRET ";
  portls_be_session *s = SSL_get_app_data(ssl);
  int reading;
  portls__ossl_keylog_forward(s, line);         /* the application's keylog, when it listens */
  if (s == NULL || !SSL_is_server(ssl)) return; /* clients never rest: nothing to follow */
  if (strncmp(line, exporter, sizeof exporter - 1) == 0) {
    /* Logged before the traffic secrets: exportKeyingMaterial at rest. */
    if (s->rest == NULL && (s->rest = portls__calloc(1, sizeof *s->rest)) == NULL)
      s->rest = &lean_never;
    if (!s->rest->broken &&
        (s->rest->exporter_len = lean_line_secret(line, s->rest->exporter)) == 0)
      s->rest->broken = 1;
    return;
  }
  if (strncmp(line, client, sizeof client - 1) == 0)
    reading = 1;
  else if (strncmp(line, server, sizeof server - 1) == 0)
    reading = 0;
  else
    return;
  if (s->rest == NULL && (s->rest = portls__calloc(1, sizeof *s->rest)) == NULL) {
    s->rest = &lean_never;
    return;
  }
  portls__ossl_lean *r = s->rest;
  if (r->broken) return;
  lean_dir *d = reading ? &r->rd : &r->wr;
  const char *hex = strchr(line + sizeof client - 1, ' ');
  if (hex == NULL) return;
  hex++;
  size_t n = strlen(hex) / 2;
  if (n != 32 && n != 48) {
    r->broken = 1;
    return;
  }
  for (size_t i = 0; i < n; i++) {
    int hi = portls__hexval(hex[2 * i]), lo = portls__hexval(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      r->broken = 1;
      return;
    }
    d->secret[i] = (uint8_t)(hi << 4 | lo);
  }
  r->hash_len = n;
  d->seq = 0;
  d->ready = 1;
}

/* Message callback: a record header (one record under the current secret
 * of that direction) or a KeyUpdate (the next secret from the next record). */
static void lean_msg_cb(int write_p, int version, int content_type, const void *buf, size_t len,
                        SSL *ssl, void *arg) {
  (void)version;
  (void)arg;
  portls_be_session *s = SSL_get_app_data(ssl);
  portls__ossl_msg_forward(s, write_p, content_type, buf, len); /* enableTrace, when asked */
  portls__ossl_lean *r = s != NULL ? s->rest : NULL;
  if (r == NULL || r->broken) return;
  lean_dir *d = write_p ? &r->wr : &r->rd;
  if (!d->ready) return;
  if (content_type == SSL3_RT_HEADER) {
    d->seq++;
  } else if (content_type == SSL3_RT_HANDSHAKE && len >= 1 &&
             ((const uint8_t *)buf)[0] == LEAN_HT_KEY_UPDATE) {
    if (lean_next_secret(lean_md_for_len(r->hash_len), d->secret, r->hash_len) < 0) r->broken = 1;
    d->seq = 0;
  }
}

void portls__ossl_lean_follow(SSL_CTX *ssl_ctx, int secrets) {
  /* The message callback is copied into each SSL when it is made, and costs
   * a test per record where nothing follows: every context has it (it also
   * carries enableTrace). The key log only where sessions may rest. */
  if (secrets) SSL_CTX_set_keylog_callback(ssl_ctx, lean_keylog_cb);
  SSL_CTX_set_msg_callback(ssl_ctx, lean_msg_cb);
}

/* ------------------------------------------------------------------------ */
/* Going to rest                                                              */

/* The ciphers, fetched once: a cipher named by EVP_aes_128_gcm() is looked
 * up in the provider again at every initialisation. */
static EVP_CIPHER *lean_ciphers[3];
static CRYPTO_ONCE lean_ciphers_once = CRYPTO_ONCE_STATIC_INIT;

static void lean_fetch_ciphers(void) {
  lean_ciphers[0] = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
  lean_ciphers[1] = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
  lean_ciphers[2] = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
  ERR_clear_error();
}

static const EVP_CIPHER *lean_cipher(uint16_t suite, size_t *key_len) {
  if (suite < 0x1301 || suite > 0x1303 ||
      !CRYPTO_THREAD_run_once(&lean_ciphers_once, lean_fetch_ciphers))
    return NULL;
  *key_len = suite == 0x1301 ? 16 : 32;
  return lean_ciphers[suite - 0x1301];
}

/* DER of every certificate the getters can still be asked for (s->peer and
 * s->verified keep it). */
static int lean_keep_certs(portls_be_session *s) {
  portls_buf der;
  int rc;
  for (size_t i = 0; (rc = portls__ossl_peer_cert(s, i, &der)) == 0; i++) {}
  if (rc != PORTLS_ENOENT) return rc;
  for (size_t i = 0; (rc = portls__ossl_verified_cert(s, i, &der)) == 0; i++) {}
  return rc == PORTLS_ENOENT ? 0 : rc;
}

/* getSharedSigalgs() at rest: the pairs, formatted when asked. */
static int lean_keep_sigalgs(portls_be_session *s, lean_layer *l) {
  size_t n = portls__ossl_sigalg_pairs(s, NULL, 0);
  if (n == 0) return 0;
  if (n > UINT16_MAX || (l->sigalgs = portls__malloc(4 * n)) == NULL) return -1;
  l->sigalgs_n = (uint16_t)portls__ossl_sigalg_pairs(s, l->sigalgs, n);
  return 0;
}

static void lean_layer_free(lean_layer *l) {
  if (l == NULL) return;
  portls__free(l->sigalgs);
  portls__free(l->session);
  portls__free(l->rec);
  EVP_CIPHER_CTX_free(l->rctx);
  OPENSSL_cleanse(l, sizeof *l);
  portls__free(l);
}

void portls__ossl_lean_free(portls__ossl_lean *r) {
  if (r == NULL || r == &lean_never) return;
  lean_layer_free(r->layer);
  OPENSSL_cleanse(r, sizeof *r);
  portls__free(r);
}

int portls__ossl_lean_rest(portls_be_session *s) {
  SSL *ssl = s->ssl;
  portls__ossl_lean *r = s->rest;
  portls_error err = {0};
  portls_buf sess = {0};
  size_t key_len = 0;
  const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
  uint16_t suite = c != NULL ? (uint16_t)SSL_CIPHER_get_protocol_id(c) : 0;
  const EVP_CIPHER *cipher = lean_cipher(suite, &key_len);
  /* For good: a client (tickets may come), TLS 1.2 and below, another suite,
   * secrets that did not add up (SHA-384 goes with TLS_AES_256_GCM_SHA384
   * alone), a session closing. */
  if (!SSL_is_server(ssl) || SSL_version(ssl) != TLS1_3_VERSION || cipher == NULL ||
      (r != NULL && (r->broken || (r->rd.ready && r->hash_len != (suite == 0x1302 ? 48u : 32u)))) ||
      SSL_get_shutdown(ssl) != 0)
    return -1;
  /* Not yet: records held inside the library, a KeyUpdate to answer. */
  if (r != NULL && r->exporter_len != r->hash_len && r->rd.ready) return -1;
  if (r == NULL || !SSL_is_init_finished(ssl) || !r->rd.ready || !r->wr.ready ||
      SSL_has_pending(ssl) || SSL_get_key_update_type(ssl) != SSL_KEY_UPDATE_NONE)
    return 0;
  lean_layer *l = portls__calloc(1, sizeof *l);
  if (l == NULL) return 0;
  l->cipher = cipher;
  l->key_len = key_len;
  l->md = lean_md_for_len(r->hash_len);
  portls__ossl_info(s, &l->info);
  /* Every string of info must outlive the SSL: a server name the session
   * could not copy (out of memory) is still the SSL's. */
  if ((l->info.servername != NULL && l->info.servername != s->servername) ||
      lean_dir_keys(l, r->hash_len, &r->rd) < 0 || lean_dir_keys(l, r->hash_len, &r->wr) < 0 ||
      lean_keep_certs(s) < 0 || lean_keep_sigalgs(s, l) < 0 ||
      portls__ossl_get_session(s, &sess, &err) < 0) {
    lean_layer_free(l);
    ERR_clear_error();
    return 0;
  }
  l->fin_len = (uint8_t)portls__ossl_finished(s, 0, l->fin, sizeof l->fin);
  l->peer_fin_len = (uint8_t)portls__ossl_finished(s, 1, l->peer_fin, sizeof l->peer_fin);
  l->session = (uint8_t *)sess.base; /* ours: get_session allocated it */
  l->session_len = sess.len;
  SSL_free(ssl); /* and the BIO */
  s->ssl = NULL;
  r->layer = l;
  s->ops = &lean_ops;
  return 1;
}

/* ------------------------------------------------------------------------ */
/* The record layer                                                           */

static void lean_nonce(const lean_dir *d, uint8_t nonce[12]) {
  memcpy(nonce, d->iv, 12);
  for (int i = 0; i < 8; i++) nonce[11 - i] ^= (uint8_t)(d->seq >> (8 * i));
}

/* Seals one record of type `type` around in[0..len) (len <= max_send_fragment) and
 * queues it for the peer. */
static int lean_seal(portls_be_session *s, EVP_CIPHER_CTX *c, uint8_t type, const uint8_t *in,
                     size_t len, uint8_t *rec, portls_error *err) {
  portls__ossl_lean *r = s->rest;
  lean_layer *l = r->layer;
  size_t clen = len + 1 + LEAN_TAG;
  uint8_t nonce[12];
  int outl = 0;
  rec[0] = LEAN_RT_APP;
  rec[1] = 3;
  rec[2] = 3;
  rec[3] = (uint8_t)(clen >> 8);
  rec[4] = (uint8_t)clen;
  if (in != rec + LEAN_HDR) memcpy(rec + LEAN_HDR, in, len);
  rec[LEAN_HDR + len] = type;
  lean_nonce(&r->wr, nonce);
  if (r->wr.seq == UINT64_MAX || !EVP_EncryptInit_ex(c, NULL, NULL, NULL, nonce) ||
      !EVP_EncryptUpdate(c, NULL, &outl, rec, LEAN_HDR) ||
      !EVP_EncryptUpdate(c, rec + LEAN_HDR, &outl, rec + LEAN_HDR, (int)(len + 1)) ||
      !EVP_EncryptFinal_ex(c, rec + LEAN_HDR + len + 1, &outl) ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, LEAN_TAG, rec + LEAN_HDR + len + 1) <= 0) {
    l->failed = 1;
    return portls__ossl_lib_err(err, PORTLS_EPROTO, "record encryption");
  }
  r->wr.seq++;
  int rc = s->io.send(s->io.io, rec, LEAN_HDR + clen);
  if (rc < 0) {
    l->failed = 1;
    return portls__err(err, rc, "queueing ciphertext for the peer failed");
  }
  return 0;
}

static EVP_CIPHER_CTX *lean_ctx(const lean_layer *l, const lean_dir *d, int enc,
                                portls_error *err) {
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  if (c == NULL || !EVP_CipherInit_ex(c, l->cipher, NULL, d->key, NULL, enc)) {
    EVP_CIPHER_CTX_free(c);
    portls__ossl_lib_err(err, PORTLS_ENOMEM, "cipher context");
    return NULL;
  }
  return c;
}

/* Sends one record that is not application data (an alert, a KeyUpdate). */
static int lean_send_one(portls_be_session *s, uint8_t type, const uint8_t *msg, size_t len,
                         portls_error *err) {
  uint8_t rec[LEAN_HDR + 8 + 1 + LEAN_TAG];
  if (len > 8) return portls__err(err, PORTLS_EINVAL, NULL);
  EVP_CIPHER_CTX *c = lean_ctx(s->rest->layer, &s->rest->wr, 1, err);
  if (c == NULL) return err->code;
  int rc = lean_seal(s, c, type, msg, len, rec, err);
  EVP_CIPHER_CTX_free(c);
  return rc;
}

/* A fatal error found here: the alert goes out (as OpenSSL would send it)
 * and the connection fails from now on. */
static int lean_fatal(portls_be_session *s, uint8_t alert, const char *what, portls_error *err) {
  lean_layer *l = s->rest->layer;
  if (!l->failed && !l->sent_close) {
    uint8_t a[2] = {2, alert};
    portls_error ignored = {0};
    (void)lean_send_one(s, LEAN_RT_ALERT, a, 2, &ignored);
  }
  l->failed = 1;
  return portls__err(err, PORTLS_EPROTO, "%s", what);
}

static int lean_write(portls_be_session *s, const uint8_t *buf, size_t len, portls_error *err) {
  lean_layer *l = s->rest->layer;
  if (l->failed) return portls__err(err, PORTLS_EPROTO, "write after a fatal TLS error");
  if (l->sent_close) return portls__err(err, PORTLS_EPIPE, "write after close_notify");
  if (len == 0) return PORTLS_BE_OK;
  size_t frag = s->max_send_fragment, first = len < frag ? len : frag;
  uint8_t *rec = portls__malloc(LEAN_HDR + first + 1 + LEAN_TAG);
  if (rec == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  EVP_CIPHER_CTX *c = lean_ctx(l, &s->rest->wr, 1, err);
  int rc = c == NULL ? err->code : 0;
  for (size_t off = 0; rc == 0 && off < len; off += frag) {
    size_t n = len - off < frag ? len - off : frag;
    rc = lean_seal(s, c, LEAN_RT_APP, buf + off, n, rec, err);
  }
  EVP_CIPHER_CTX_free(c);
  portls__free(rec);
  return rc < 0 ? rc : PORTLS_BE_OK;
}

static int lean_shutdown(portls_be_session *s, portls_error *err) {
  lean_layer *l = s->rest->layer;
  if (l->sent_close || l->failed) return PORTLS_BE_OK;
  uint8_t a[2] = {1, LEAN_AD_CLOSE_NOTIFY};
  int rc = lean_send_one(s, LEAN_RT_ALERT, a, 2, err);
  l->sent_close = 1;
  return rc < 0 ? rc : PORTLS_BE_OK;
}

/* The peer's KeyUpdate: the next read secret, and ours too when asked. */
static int lean_key_update(portls_be_session *s, uint8_t request, portls_error *err) {
  portls__ossl_lean *r = s->rest;
  lean_layer *l = r->layer;
  if (request > 1) return lean_fatal(s, LEAN_AD_DECODE_ERROR, "bad key update", err);
  if (lean_next_secret(l->md, r->rd.secret, r->hash_len) < 0 ||
      lean_dir_keys(l, r->hash_len, &r->rd) < 0)
    return lean_fatal(s, LEAN_AD_INTERNAL_ERROR, "key update", err);
  r->rd.seq = 0;
  EVP_CIPHER_CTX_free(l->rctx); /* keyed with the old secret */
  l->rctx = NULL;
  if (request == 1 && !l->sent_close) {
    static const uint8_t ku[5] = {LEAN_HT_KEY_UPDATE, 0, 0, 1, 0}; /* update_not_requested */
    int rc = lean_send_one(s, LEAN_RT_HANDSHAKE, ku, sizeof ku, err);
    if (rc < 0) return rc;
    if (lean_next_secret(l->md, r->wr.secret, r->hash_len) < 0 ||
        lean_dir_keys(l, r->hash_len, &r->wr) < 0)
      return lean_fatal(s, LEAN_AD_INTERNAL_ERROR, "key update", err);
    r->wr.seq = 0;
  }
  return 0;
}

/* Handshake bytes after the handshake: KeyUpdate is the one message a
 * server accepts (it never asks for a post-handshake certificate). */
static int lean_handshake_bytes(portls_be_session *s, const uint8_t *p, size_t n, int record_end,
                                portls_error *err) {
  lean_layer *l = s->rest->layer;
  while (n > 0) {
    l->hs[l->hs_len++] = *p++;
    n--;
    if (l->hs_len == 1 && l->hs[0] != LEAN_HT_KEY_UPDATE)
      return lean_fatal(s, LEAN_AD_UNEXPECTED_MESSAGE, "unexpected message", err);
    if (l->hs_len == 4 && (l->hs[1] != 0 || l->hs[2] != 0 || l->hs[3] != 1))
      return lean_fatal(s, LEAN_AD_DECODE_ERROR, "bad key update", err);
    if (l->hs_len == 5) {
      l->hs_len = 0;
      /* RFC 8446 5.1: a message before a key change ends its record. */
      if (n > 0 || !record_end)
        return lean_fatal(s, LEAN_AD_UNEXPECTED_MESSAGE, "unexpected message", err);
      int rc = lean_key_update(s, l->hs[4], err);
      if (rc < 0) return rc;
    }
  }
  return 0;
}

static const char *lean_alert_text(uint8_t d) {
  switch (d) {
  case 10:
    return "tlsv1 alert unexpected message";
  case 20:
    return "tlsv1 alert bad record mac";
  case 22:
    return "tlsv1 alert record overflow";
  case 40:
    return "tlsv1 alert handshake failure";
  case 42:
    return "tlsv1 alert bad certificate";
  case 47:
    return "tlsv1 alert illegal parameter";
  case 50:
    return "tlsv1 alert decode error";
  case 51:
    return "tlsv1 alert decrypt error";
  case 80:
    return "tlsv1 alert internal error";
  case 109:
    return "tlsv1 alert missing extension";
  default:
    return "tlsv1 alert";
  }
}

/* Opens the complete record in l->rec. Application data is left in
 * rec[plain_off, plain_end). */
static int lean_open(portls_be_session *s, portls_error *err) {
  portls__ossl_lean *r = s->rest;
  lean_layer *l = r->layer;
  uint8_t *rec = l->rec;
  size_t clen = l->rec_have - LEAN_HDR;
  uint8_t nonce[12];
  int outl = 0;
  l->rec_have = 0;
  if (rec[0] != LEAN_RT_APP) {
    /* A ChangeCipherSpec or a plaintext record after the handshake. */
    return lean_fatal(s, LEAN_AD_UNEXPECTED_MESSAGE, "unexpected record", err);
  }
  if (clen < LEAN_TAG + 1)
    return lean_fatal(s, LEAN_AD_BAD_RECORD_MAC, "decryption failed or bad record mac", err);
  if (l->rctx == NULL && (l->rctx = lean_ctx(l, &r->rd, 0, err)) == NULL) return err->code;
  EVP_CIPHER_CTX *c = l->rctx;
  size_t mlen = clen - LEAN_TAG;
  lean_nonce(&r->rd, nonce);
  int ok = r->rd.seq != UINT64_MAX && EVP_DecryptInit_ex(c, NULL, NULL, NULL, nonce) &&
           EVP_DecryptUpdate(c, NULL, &outl, rec, LEAN_HDR) &&
           EVP_DecryptUpdate(c, rec + LEAN_HDR, &outl, rec + LEAN_HDR, (int)mlen) &&
           EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, LEAN_TAG, rec + LEAN_HDR + mlen) > 0 &&
           EVP_DecryptFinal_ex(c, rec + LEAN_HDR + mlen, &outl) > 0;
  ERR_clear_error();
  if (!ok) return lean_fatal(s, LEAN_AD_BAD_RECORD_MAC, "decryption failed or bad record mac", err);
  r->rd.seq++;
  /* TLSInnerPlaintext: content, type, zero padding. */
  size_t n = mlen;
  while (n > 0 && rec[LEAN_HDR + n - 1] == 0) n--;
  if (n == 0)
    return lean_fatal(s, LEAN_AD_UNEXPECTED_MESSAGE, "record without a content type", err);
  uint8_t type = rec[LEAN_HDR + n - 1];
  n--;
  if (n > LEAN_MAX_PLAIN) return lean_fatal(s, LEAN_AD_RECORD_OVERFLOW, "record overflow", err);
  if (l->hs_len > 0 && type != LEAN_RT_HANDSHAKE)
    return lean_fatal(s, LEAN_AD_UNEXPECTED_MESSAGE, "unexpected message", err);
  /* Empty records (only application data may be empty, RFC 8446 5.1; the
   * other types are refused below) and warning alerts in a row: OpenSSL's
   * limits, see LEAN_MAX_EMPTY_RECORDS. */
  if (n == 0) {
    if (++l->empty_in_row > LEAN_MAX_EMPTY_RECORDS)
      return lean_fatal(s, LEAN_AD_UNEXPECTED_MESSAGE, "record too small", err);
  } else {
    l->empty_in_row = 0;
    if (type != LEAN_RT_ALERT) l->warn_in_row = 0;
  }
  switch (type) {
  case LEAN_RT_APP:
    l->plain_off = LEAN_HDR;
    l->plain_end = LEAN_HDR + n;
    return 0;
  case LEAN_RT_HANDSHAKE:
    if (n == 0) return lean_fatal(s, LEAN_AD_UNEXPECTED_MESSAGE, "empty handshake record", err);
    return lean_handshake_bytes(s, rec + LEAN_HDR, n, 1, err);
  case LEAN_RT_ALERT: {
    if (n != 2) return lean_fatal(s, LEAN_AD_DECODE_ERROR, "bad alert", err);
    const uint8_t level = rec[LEAN_HDR], desc = rec[LEAN_HDR + 1];
    /* Counted before anything else, as OpenSSL does: a fifth warning-level
     * close_notify in a row is "too many" too. */
    if ((level == 1 || desc == LEAN_AD_USER_CANCELED) && ++l->warn_in_row >= LEAN_MAX_WARN_ALERTS)
      return lean_fatal(s, LEAN_AD_UNEXPECTED_MESSAGE, "too many warn alerts", err);
    /* RFC 8446 6: close_notify and user_canceled are the closure alerts;
     * every other alert is an error alert, to be "treated as [an] error
     * alert[] when received regardless of the AlertLevel in the message"
     * (6.2), and so is an unknown one. So a warning here is meaningful only
     * as close_notify (the peer is done sending) or user_canceled (ignored:
     * the close_notify that must follow it ends the stream); anything else
     * fails the connection, warning or not. OpenSSL 3 does the same on an
     * active TLS 1.3 connection (ssl3_read_bytes: "is_tls13" turns any alert
     * but these two into SSL_AD_REASON_OFFSET + the description). */
    if (desc == LEAN_AD_CLOSE_NOTIFY) {
      l->got_close = 1;
      return 0;
    }
    if (desc == LEAN_AD_USER_CANCELED) return 0;
    l->failed = 1;
    return portls__err(err, portls__alert_code(desc), "%s", lean_alert_text(desc));
  }
  default:
    return lean_fatal(s, LEAN_AD_UNEXPECTED_MESSAGE, "unexpected record type", err);
  }
}

static int lean_read(portls_be_session *s, uint8_t *buf, size_t cap, size_t *nread,
                     portls_error *err) {
  lean_layer *l = s->rest->layer;
  for (;;) {
    if (l->plain_off < l->plain_end) {
      size_t n = l->plain_end - l->plain_off < cap ? l->plain_end - l->plain_off : cap;
      memcpy(buf, l->rec + l->plain_off, n);
      l->plain_off += n;
      *nread = n;
      return PORTLS_BE_OK;
    }
    if (l->failed) return portls__err(err, PORTLS_EPROTO, "read after a fatal TLS error");
    if (l->got_close) return PORTLS_BE_CLOSED;
    if (l->rec == NULL && (l->rec = portls__malloc(LEAN_HDR + LEAN_MAX_CIPHER)) == NULL)
      return portls__err(err, PORTLS_ENOMEM, NULL);
    size_t need = LEAN_HDR;
    if (l->rec_have >= LEAN_HDR) need += (size_t)l->rec[3] << 8 | l->rec[4];
    while (l->rec_have < need) {
      size_t got = s->io.recv(s->io.io, l->rec + l->rec_have, need - l->rec_have);
      if (got == 0) {
        /* Idle again: the buffer and the cipher go back unless a record is half in. */
        if (l->rec_have == 0) {
          portls__free(l->rec);
          l->rec = NULL;
          EVP_CIPHER_CTX_free(l->rctx);
          l->rctx = NULL;
        }
        return PORTLS_BE_WANT_READ;
      }
      l->rec_have += got;
      if (l->rec_have == LEAN_HDR && need == LEAN_HDR) {
        size_t len = (size_t)l->rec[3] << 8 | l->rec[4];
        if (len > LEAN_MAX_CIPHER)
          return lean_fatal(s, LEAN_AD_RECORD_OVERFLOW, "record overflow", err);
        need += len;
      }
    }
    l->plain_off = l->plain_end = 0;
    int rc = lean_open(s, err);
    if (rc < 0) return rc;
  }
}

/* ------------------------------------------------------------------------ */
/* The rest of a session at rest: answered from what rest() kept              */

static int lean_handshake(portls_be_session *s, portls_error *err) {
  (void)s;
  (void)err;
  return PORTLS_BE_OK;
}

static void lean_info(portls_be_session *s, portls_be_info *info) { *info = s->rest->layer->info; }

static int lean_kept_cert(const portls__ossl_der_cache *c, size_t index, portls_buf *der) {
  if (index >= c->count || c->items[index].base == NULL) return PORTLS_ENOENT;
  *der = c->items[index];
  return 0;
}

static int lean_peer_cert(portls_be_session *s, size_t index, portls_buf *der) {
  return lean_kept_cert(&s->peer, index, der);
}

static int lean_verified_cert(portls_be_session *s, size_t index, portls_buf *der) {
  /* No verified chain (a resumed session): the chain as sent, as with the SSL. */
  return lean_kept_cert(s->verified.count == 0 ? &s->peer : &s->verified, index, der);
}

static int lean_set_max_send_fragment(portls_be_session *s, size_t size) {
  if (size < 512 || size > 16384) return PORTLS_EINVAL;
  s->max_send_fragment = size; /* lean_write cuts records by it */
  return 0;
}

static int lean_get_session(portls_be_session *s, portls_buf *out, portls_error *err) {
  lean_layer *l = s->rest->layer;
  out->base = NULL;
  out->len = 0;
  if (l->session == NULL) return portls__err(err, PORTLS_ENOTCONN, "no TLS session");
  out->base = portls__memdup(l->session, l->session_len);
  if (out->base == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  out->len = l->session_len;
  return 0;
}

static int lean_server_session(portls_be_session *s, portls_buf *id, portls_buf *data,
                               portls_error *err) {
  (void)s, (void)id, (void)data, (void)err;
  return 0; /* TLS 1.3: resumption by ticket only */
}

static int lean_ticket(portls_be_session *s, portls_buf *out) {
  (void)s, (void)out;
  return PORTLS_ENOENT; /* a client's */
}

static int lean_ocsp_response(portls_be_session *s, portls_buf *out) {
  (void)s, (void)out;
  return PORTLS_ENOENT; /* a client's question */
}

static int lean_renegotiate(portls_be_session *s, int verify_peer, portls_error *err) {
  (void)s, (void)verify_peer;
  return portls__err(err, PORTLS_ERENEG_DISABLED, "renegotiate: TLS 1.3 has no renegotiation");
}

static int lean_rest(portls_be_session *s) {
  (void)s;
  return 1; /* at rest already */
}

/* HKDF-Expand-Label(secret, label, context, len) of any length (RFC 8446 7.1). */
static int lean_expand_label(const EVP_MD *md, const uint8_t *secret, size_t hash_len,
                             const char *label, size_t label_len, const uint8_t *context,
                             size_t context_len, uint8_t *out, size_t len) {
  uint8_t info[2 + 1 + 255 + 1 + 255];
  uint8_t block[EVP_MAX_MD_SIZE];
  size_t n = 0, done = 0, prev = 0;
  if (label_len > 255 - 6 || context_len > 255 || len > 255 * hash_len || len > 0xffff) return -1;
  info[n++] = (uint8_t)(len >> 8);
  info[n++] = (uint8_t)len;
  info[n++] = (uint8_t)(6 + label_len);
  memcpy(info + n, "tls13 ", 6);
  n += 6;
  memcpy(info + n, label, label_len);
  n += label_len;
  info[n++] = (uint8_t)context_len;
  if (context_len > 0) memcpy(info + n, context, context_len);
  n += context_len;
  /* T(i) = HMAC(secret, T(i-1) | info | i), in one buffer. */
  uint8_t msg[EVP_MAX_MD_SIZE + sizeof info + 1];
  int ok = 1;
  for (unsigned i = 1; ok && done < len; i++) {
    unsigned int blen = 0;
    memcpy(msg, block, prev);
    memcpy(msg + prev, info, n);
    msg[prev + n] = (uint8_t)i;
    ok = HMAC(md, secret, (int)hash_len, msg, prev + n + 1, block, &blen) != NULL &&
         blen == hash_len;
    if (!ok) break;
    size_t take = PORTLS__MIN(len - done, hash_len);
    memcpy(out + done, block, take);
    done += take;
    prev = hash_len;
  }
  OPENSSL_cleanse(block, sizeof block);
  OPENSSL_cleanse(msg, sizeof msg);
  if (!ok) ERR_clear_error();
  return ok ? 0 : -1;
}

/* RFC 8446 7.5: HKDF-Expand-Label(Derive-Secret(exporter_master_secret,
 * label, ""), "exporter", Hash(context), len); no context hashes as empty. */
static int lean_export_keying_material(portls_be_session *s, uint8_t *out, size_t len,
                                       const char *label, size_t label_len, const uint8_t *context,
                                       size_t context_len, int use_context, portls_error *err) {
  portls__ossl_lean *r = s->rest;
  const EVP_MD *md = r->layer->md;
  size_t hl = r->hash_len;
  uint8_t empty_hash[EVP_MAX_MD_SIZE], ctx_hash[EVP_MAX_MD_SIZE], derived[48];
  (void)use_context;
  if (r->exporter_len != hl)
    return portls__err(err, PORTLS_EPROTO, "exportKeyingMaterial: no exporter secret");
  int ok =
      EVP_Digest("", 0, empty_hash, NULL, md, NULL) &&
      EVP_Digest(context_len > 0 ? context : (const uint8_t *)"", context_len, ctx_hash, NULL, md,
                 NULL) &&
      lean_expand_label(md, r->exporter, hl, label, label_len, empty_hash, hl, derived, hl) == 0 &&
      lean_expand_label(md, derived, hl, "exporter", 8, ctx_hash, hl, out, len) == 0;
  OPENSSL_cleanse(derived, sizeof derived);
  if (!ok) {
    ERR_clear_error();
    return portls__err(err, PORTLS_EINVAL, "exportKeyingMaterial: label or length too long");
  }
  return 0;
}

static size_t lean_finished(portls_be_session *s, int peer, uint8_t *buf, size_t cap) {
  const lean_layer *l = s->rest->layer;
  size_t n = peer ? l->peer_fin_len : l->fin_len;
  if (n > cap) return 0;
  memcpy(buf, peer ? l->peer_fin : l->fin, n);
  return n;
}

static int lean_shared_sigalgs(portls_be_session *s, char **out, portls_error *err) {
  const lean_layer *l = s->rest->layer;
  return portls__ossl_sigalgs_text(l->sigalgs, l->sigalgs_n, out, err);
}

static const portls__ossl_ops lean_ops = {
    .handshake = lean_handshake,
    .read = lean_read,
    .write = lean_write,
    .shutdown = lean_shutdown,
    .info = lean_info,
    .peer_cert = lean_peer_cert,
    .verified_cert = lean_verified_cert,
    .set_max_send_fragment = lean_set_max_send_fragment,
    .get_session = lean_get_session,
    .server_session = lean_server_session,
    .ticket = lean_ticket,
    .ocsp_response = lean_ocsp_response,
    .renegotiate = lean_renegotiate,
    .rest = lean_rest,
    .export_keying_material = lean_export_keying_material,
    .finished = lean_finished,
    .shared_sigalgs = lean_shared_sigalgs,
};

/* ------------------------------------------------------------------------ */
/* For the tests: a session born at rest                                      */

portls_be_session *portls__ossl_lean_test_session(uint16_t suite, const uint8_t *read_secret,
                                                  const uint8_t *write_secret,
                                                  const portls_be_io *io) {
  size_t key_len = 0, hash_len = suite == 0x1302 ? 48 : 32;
  const EVP_CIPHER *cipher = lean_cipher(suite, &key_len);
  if (cipher == NULL || io == NULL) return NULL;
  portls_be_session *s = portls__calloc(1, sizeof *s);
  portls__ossl_lean *r = portls__calloc(1, sizeof *r);
  lean_layer *l = portls__calloc(1, sizeof *l);
  if (s == NULL || r == NULL || l == NULL) goto fail;
  l->cipher = cipher;
  l->key_len = key_len;
  l->md = lean_md_for_len(hash_len);
  l->info.version = PORTLS_TLS1_3;
  l->info.suite = suite;
  r->hash_len = hash_len;
  memcpy(r->rd.secret, read_secret, hash_len);
  memcpy(r->wr.secret, write_secret, hash_len);
  r->rd.ready = r->wr.ready = 1;
  if (lean_dir_keys(l, hash_len, &r->rd) < 0 || lean_dir_keys(l, hash_len, &r->wr) < 0) goto fail;
  r->layer = l;
  s->rest = r;
  s->ops = &lean_ops;
  s->io = *io;
  s->max_send_fragment = LEAN_MAX_PLAIN;
  return s;
fail:
  lean_layer_free(l);
  if (r != NULL) r->layer = NULL;
  portls__ossl_lean_free(r);
  portls__free(s);
  return NULL;
}

#endif /* PORTLS_OSSL_LEAN */
