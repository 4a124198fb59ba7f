/* portls backends: the OpenSSL-family implementation of backend.h, shared by
 * the OpenSSL and BoringSSL libraries (see ossl.h for the feature macros and
 * the per-library hooks).
 *
 * A session's operations go through its table (s->ops, see ossl.h): pssl_ops
 * here, on the library's SSL; ossl_lean.c's once a quiet server session has
 * given its SSL back (rest()).
 *
 * Error-queue discipline: the thread's error queue is cleared before every
 * call into the library whose failure we inspect, and again after we have read
 * it, so that one connection's errors never surface in another's report.
 */
#include "backends/common/ossl.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/pkcs12.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#if defined(PORTLS_OSSL_BORING)
#include <pthread.h>

static pthread_once_t pssl_once = PTHREAD_ONCE_INIT, pssl_roots_once = PTHREAD_ONCE_INIT;
#define PSSL_RUN_ONCE_ON(once, fn) (pthread_once(&(once), (fn)) == 0)
#else
static CRYPTO_ONCE pssl_once = CRYPTO_ONCE_STATIC_INIT, pssl_roots_once = CRYPTO_ONCE_STATIC_INIT;
#define PSSL_RUN_ONCE_ON(once, fn) (CRYPTO_THREAD_run_once(&(once), (fn)) == 1)
#endif
#define PSSL_RUN_ONCE(fn) PSSL_RUN_ONCE_ON(pssl_once, fn)

/* The system's trusted roots, parsed once per process from the bundle file.
 * OpenSSL's default verify paths also look certificates up in the hashed
 * directory on every verification, which cost about 250 µs per client
 * handshake in the benchmark; a store built once and shared costs nothing. */
static X509_STORE *pssl_roots;

static const char *pssl_roots_file(void) {
  const char *f = getenv(X509_get_default_cert_file_env());
  return f != NULL && f[0] != '\0' ? f : X509_get_default_cert_file();
}

/* Makes the library compute what it caches in a certificate on first use
 * (its decoded extensions, key ids, purpose flags), now, on the thread that
 * makes the context. Otherwise the first handshakes to use a shared
 * certificate (a trust anchor, our own chain) fill that cache on whichever
 * threads run them, under the certificate's lock, while other threads read
 * it behind an unlocked "already done" flag: ThreadSanitizer reports exactly
 * that in OpenSSL 3.0 (tests/threads). */
static void pssl_settle_cert(X509 *x) {
  if (x != NULL) (void)X509_check_purpose(x, -1, 0);
}

static void pssl_settle_certs(STACK_OF(X509) * certs) {
  for (size_t i = 0; certs != NULL && i < (size_t)sk_X509_num(certs); i++)
    pssl_settle_cert(sk_X509_value(certs, i));
}

static void pssl_roots_init(void) {
  X509_STORE *st = X509_STORE_new();
  if (st == NULL) return;
  (void)X509_STORE_load_locations(st, pssl_roots_file(),
                                  NULL); /* no system store is not an error */
  ERR_clear_error();
  STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(st);
  for (size_t i = 0; objs != NULL && i < (size_t)sk_X509_OBJECT_num(objs); i++)
    pssl_settle_cert(X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i)));
  pssl_roots = st;
}

/* Session ID context used when the application sets none. OpenSSL refuses
 * every resumption attempt on a server that verifies peers and has an empty
 * context (SSL_R_SESSION_ID_CONTEXT_UNINITIALIZED, a fatal alert); Node
 * avoids that by setting a default under requestCert, and so do we, always. */
#define PSSL_DEFAULT_SID_CTX "portls"

enum { PSSL_OP_HANDSHAKE, PSSL_OP_READ, PSSL_OP_WRITE, PSSL_OP_SHUTDOWN };

/* ------------------------------------------------------------------------ */
/* Process-wide state: the BIO method and the suite table, built once.        */

#define PSSL_MAX_SUITES 512
static BIO_METHOD *pssl_bio_method;
static uint16_t pssl_suite_ids[PSSL_MAX_SUITES];
static const char *pssl_suite_names[PSSL_MAX_SUITES];
static size_t pssl_suite_count;

#if defined(PORTLS_OSSL_HAS_TLS13_SUITES)
/* The TLS 1.3 suites OpenSSL knows; used to list them all in the suite table. */
static const char pssl_all_tls13[] = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:"
                                     "TLS_AES_128_GCM_SHA256:TLS_AES_128_CCM_SHA256:"
                                     "TLS_AES_128_CCM_8_SHA256";
#endif

static int pssl_bio_write(BIO *b, const char *in, int inl);
static int pssl_bio_read(BIO *b, char *out, int outl);
static long pssl_bio_ctrl(BIO *b, int cmd, long num, void *ptr);
static int pssl_bio_create(BIO *b);
static int pssl_bio_destroy(BIO *b);

static void pssl_add_suite(const SSL_CIPHER *c) {
  if (c == NULL || pssl_suite_count >= PSSL_MAX_SUITES) return;
  pssl_suite_ids[pssl_suite_count] = (uint16_t)SSL_CIPHER_get_protocol_id(c);
  pssl_suite_names[pssl_suite_count] = SSL_CIPHER_get_name(c);
  pssl_suite_count++;
}

static void pssl_build_suites(void) {
  SSL_CTX *c = SSL_CTX_new(TLS_method());
  if (c == NULL) return;
#if defined(PORTLS_OSSL_HAS_TLS13_SUITES)
  (void)SSL_CTX_set_ciphersuites(c, pssl_all_tls13);
#endif
#if defined(PORTLS_OSSL_BORING)
  static const char everything[] = "ALL";
#else
  /* The eNULL suites too: OpenSSL's cipher-string language can select them
   * ("kRSA", "eNULL", ...), so core's compiler must know this library has them. */
  static const char everything[] = "ALL:COMPLEMENTOFALL";
#endif
  if (SSL_CTX_set_cipher_list(c, everything)) {
    STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(c);
    for (size_t i = 0; sk != NULL && i < (size_t)sk_SSL_CIPHER_num(sk); i++)
      pssl_add_suite(sk_SSL_CIPHER_value(sk, i));
  }
#if defined(PORTLS_OSSL_BORING)
  /* BoringSSL's TLS 1.3 suites are fixed and never appear in a cipher list. */
  for (uint16_t id = 0x1301; id <= 0x1303; id++) pssl_add_suite(SSL_get_cipher_by_value(id));
#endif
  SSL_CTX_free(c);
}

static void pssl_global_once(void) {
  BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "portls");
  if (m != NULL && BIO_meth_set_write(m, pssl_bio_write) && BIO_meth_set_read(m, pssl_bio_read) &&
      BIO_meth_set_ctrl(m, pssl_bio_ctrl) && BIO_meth_set_create(m, pssl_bio_create) &&
      BIO_meth_set_destroy(m, pssl_bio_destroy)) {
    pssl_bio_method = m;
  } else if (m != NULL) {
    BIO_meth_free(m);
  }
  pssl_build_suites();
  ERR_clear_error();
}

static int pssl_global(void) {
  if (!PSSL_RUN_ONCE(pssl_global_once) || pssl_bio_method == NULL) return PORTLS_ENOMEM;
  return 0;
}

static const char *pssl_suite_name(uint16_t id) {
  for (size_t i = 0; i < pssl_suite_count; i++)
    if (pssl_suite_ids[i] == id) return pssl_suite_names[i];
  return NULL;
}

size_t portls__ossl_suites(const uint16_t **ids) {
  (void)pssl_global();
  if (ids != NULL) *ids = pssl_suite_ids;
  return pssl_suite_count;
}

/* ------------------------------------------------------------------------ */
/* The custom BIO: records go straight to and from core's buffers.            */

static int pssl_bio_write(BIO *b, const char *in, int inl) {
  portls_be_session *s = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (s == NULL) return -1;
  if (inl <= 0) return 0;
  /* core's send never takes part of a buffer: it queues all or fails. A
   * failure is fatal (no retry flag), and the session reports its code. */
  int rc = s->io.send(s->io.io, (const uint8_t *)in, (size_t)inl);
  if (rc < 0) {
    s->io_error = rc;
    return -1;
  }
  return inl;
}

static int pssl_bio_read(BIO *b, char *out, int outl) {
  portls_be_session *s = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (s == NULL) return -1;
  if (outl <= 0) return 0;
  size_t n = s->io.recv(s->io.io, (uint8_t *)out, (size_t)outl);
  if (n == 0) {
    /* Nothing buffered is "try again", never end of file: the transport's EOF
     * is core's business, so OpenSSL never reports an unexpected EOF. */
    BIO_set_retry_read(b);
    return -1;
  }
  return (int)n;
}

static long pssl_bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)b;
  (void)num;
  (void)ptr;
  switch (cmd) {
  case BIO_CTRL_FLUSH: /* every record is already in core's queue */
  case BIO_CTRL_DUP:
  case BIO_CTRL_SET_CLOSE:
    return 1;
  case BIO_CTRL_GET_CLOSE:
    return BIO_NOCLOSE;
  case BIO_CTRL_PENDING:  /* what core buffers is not ours to count */
  case BIO_CTRL_WPENDING: /* writes are never held back */
  case BIO_CTRL_EOF:
  default:
    return 0;
  }
}

static int pssl_bio_create(BIO *b) {
  BIO_set_data(b, NULL);
  BIO_set_init(b, 1);
  return 1;
}

static int pssl_bio_destroy(BIO *b) {
  if (b == NULL) return 0;
  BIO_set_data(b, NULL);
  BIO_set_init(b, 0);
  return 1;
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                     */

int portls__ossl_lib_err(portls_error *err, int code, const char *what) {
  unsigned long e = ERR_peek_error();
  char buf[200];
  if (e == 0) {
    ERR_clear_error();
    return portls__err(err, code, "%s", what);
  }
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return portls__err(err, code, "%s: %s", what, buf);
}

/* The library's reason → the code every backend gives for the same failure
 * (errors.h). */
static int pssl_conn_code(unsigned long e, int in_handshake) {
  if (ERR_GET_LIB(e) != ERR_LIB_SSL) return PORTLS_EPROTO;
  int r = ERR_GET_REASON(e);
  /* A record of the handshake that does not decrypt: the two sides derived
   * different keys (a wrong PSK). Afterwards it stays a protocol error. */
  if (in_handshake && r == SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC) return PORTLS_EBAD_RECORD_MAC;
  switch (r) {
  case SSL_R_NO_SHARED_CIPHER:
    /* Nothing to authenticate the server with: a server without a certificate
     * (BoringSSL says NO_CERTIFICATE_SET; OpenSSL, over TLS 1.3, that no
     * signature algorithm suits; over TLS 1.2 OpenSSL and mbedTLS find no
     * suite), or a certificate the client's signature algorithms exclude. One
     * code on every backend and version: no shared cipher. */
#if defined(SSL_R_NO_CERTIFICATE_SET)
  case SSL_R_NO_CERTIFICATE_SET:
#endif
#if defined(SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM)
  case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
#endif
#if defined(SSL_R_NO_COMMON_SIGNATURE_ALGORITHMS)
  case SSL_R_NO_COMMON_SIGNATURE_ALGORITHMS:
#endif
    return PORTLS_ENO_SHARED_CIPHER;
  case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
    return PORTLS_ENO_CERT;
#if defined(SSL_R_PSK_IDENTITY_NOT_FOUND)
  case SSL_R_PSK_IDENTITY_NOT_FOUND:
    return PORTLS_EPSK_IDENTITY_NOT_FOUND;
#endif
#if defined(SSL_R_BINDER_DOES_NOT_VERIFY)
  case SSL_R_BINDER_DOES_NOT_VERIFY:
    return PORTLS_EBINDER;
#endif
  case SSL_R_WRONG_VERSION_NUMBER:
    return PORTLS_EWRONG_VERSION_NUMBER;
  case SSL_R_HTTP_REQUEST:
    return PORTLS_EHTTP_REQUEST;
  case SSL_R_HTTPS_PROXY_REQUEST:
    return PORTLS_EHTTPS_PROXY_REQUEST;
  case SSL_R_UNSUPPORTED_PROTOCOL:
#if defined(SSL_R_NO_PROTOCOLS_AVAILABLE)
  case SSL_R_NO_PROTOCOLS_AVAILABLE:
#endif
#if defined(SSL_R_VERSION_TOO_LOW)
  case SSL_R_VERSION_TOO_LOW:
#endif
#if defined(SSL_R_VERSION_TOO_HIGH)
  case SSL_R_VERSION_TOO_HIGH:
#endif
    return PORTLS_EVERSION;
#if defined(SSL_R_DH_KEY_TOO_SMALL)
  /* The library's own floor on the server's DH size (1024 bits at security
   * level 1): the same condition as Node's minDHSize check. */
  case SSL_R_DH_KEY_TOO_SMALL:
    return PORTLS_EDH_TOO_SMALL;
#endif
  default:
    break;
  }
  /* SSL_R_SSLV3_ALERT_*, SSL_R_TLSV1_ALERT_*, ...: an alert the peer sent. */
  if (r >= SSL_AD_REASON_OFFSET && r < SSL_AD_REASON_OFFSET + 256)
    return portls__alert_code(r - SSL_AD_REASON_OFFSET);
  return PORTLS_EPROTO;
}

/* Reports the error queue after an SSL_ERROR_SSL: the first entry from the
 * SSL library decides the code (it names the TLS-level cause; crypto entries
 * before it are details), and its text is the message. */
static int pssl_conn_err(portls_be_session *s, int op, portls_error *err) {
  unsigned long e, first = 0, chosen = 0;
  while ((e = ERR_get_error()) != 0) {
    if (first == 0) first = e;
    if (chosen == 0 && ERR_GET_LIB(e) == ERR_LIB_SSL) chosen = e;
  }
  ERR_clear_error();
  if (chosen == 0) chosen = first;
  if (chosen == 0) return portls__err(err, PORTLS_EPROTO, "TLS protocol error");
  char buf[200];
  ERR_error_string_n(chosen, buf, sizeof buf);
#if defined(PORTLS_OSSL_BORING)
  /* A BoringSSL server without a certificate gives up without a word; OpenSSL
   * and mbedTLS tell the client (handshake_failure), and so does this. */
  if (ERR_GET_LIB(chosen) == ERR_LIB_SSL && ERR_GET_REASON(chosen) == SSL_R_NO_CERTIFICATE_SET &&
      SSL_is_server(s->ssl)) {
    (void)SSL_send_fatal_alert(s->ssl, SSL_AD_HANDSHAKE_FAILURE);
    ERR_clear_error();
  }
#else
  (void)s;
#endif
  return portls__err(err, pssl_conn_code(chosen, op == PSSL_OP_HANDSHAKE), "%s", buf);
}

static int pssl_fail(portls_be_session *s, int ret, int op, portls_error *err) {
  int e = SSL_get_error(s->ssl, ret);
  switch (e) {
  case SSL_ERROR_WANT_READ:
    ERR_clear_error();
    return PORTLS_BE_WANT_READ;
  case SSL_ERROR_ZERO_RETURN:
    ERR_clear_error();
    if (op == PSSL_OP_READ) return PORTLS_BE_CLOSED;
    if (op == PSSL_OP_HANDSHAKE)
      return portls__err(err, PORTLS_ECONNRESET,
                         "peer sent close_notify before the handshake completed");
    return portls__err(err, PORTLS_EPIPE, "peer has closed the TLS session");
  case SSL_ERROR_SYSCALL:
    if (s->io_error < 0) {
      int code = s->io_error;
      s->io_error = 0;
      ERR_clear_error();
      return portls__err(err, code, "queueing ciphertext for the peer failed");
    }
    return pssl_conn_err(s, op, err);
  case SSL_ERROR_SSL:
    return pssl_conn_err(s, op, err);
  default:
    ERR_clear_error();
    return portls__err(err, PORTLS_EPROTO, "unexpected SSL_get_error() result %d", e);
  }
}

/* ------------------------------------------------------------------------ */
/* Verification results                                                       */

int portls__ossl_verify_code(long v) {
  switch (v) {
  case X509_V_OK:
    return 0;
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    return PORTLS_EUNABLE_TO_GET_ISSUER_CERT;
  case X509_V_ERR_UNABLE_TO_GET_CRL:
    return PORTLS_EUNABLE_TO_GET_CRL;
  case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    return PORTLS_EUNABLE_TO_DECRYPT_CERT_SIGNATURE;
  case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
    return PORTLS_EUNABLE_TO_DECRYPT_CRL_SIGNATURE;
  case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
    return PORTLS_EUNABLE_TO_DECODE_ISSUER_PUBLIC_KEY;
  case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    return PORTLS_ECERT_SIGNATURE_FAILURE;
  case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    return PORTLS_ECRL_SIGNATURE_FAILURE;
  case X509_V_ERR_CERT_NOT_YET_VALID:
    return PORTLS_ECERT_NOT_YET_VALID;
  case X509_V_ERR_CERT_HAS_EXPIRED:
    return PORTLS_ECERT_HAS_EXPIRED;
  case X509_V_ERR_CRL_NOT_YET_VALID:
    return PORTLS_ECRL_NOT_YET_VALID;
  case X509_V_ERR_CRL_HAS_EXPIRED:
    return PORTLS_ECRL_HAS_EXPIRED;
  case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
    return PORTLS_EERROR_IN_CERT_NOT_BEFORE_FIELD;
  case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
    return PORTLS_EERROR_IN_CERT_NOT_AFTER_FIELD;
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    return PORTLS_EDEPTH_ZERO_SELF_SIGNED_CERT;
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    return PORTLS_ESELF_SIGNED_CERT_IN_CHAIN;
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    return PORTLS_EUNABLE_TO_GET_ISSUER_CERT_LOCALLY;
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    return PORTLS_EUNABLE_TO_VERIFY_LEAF_SIGNATURE;
  case X509_V_ERR_CERT_CHAIN_TOO_LONG:
    return PORTLS_ECERT_CHAIN_TOO_LONG;
  case X509_V_ERR_CERT_REVOKED:
    return PORTLS_ECERT_REVOKED;
  case X509_V_ERR_INVALID_CA:
    return PORTLS_EINVALID_CA;
  case X509_V_ERR_PATH_LENGTH_EXCEEDED:
    return PORTLS_EPATH_LENGTH_EXCEEDED;
  case X509_V_ERR_INVALID_PURPOSE:
    return PORTLS_EINVALID_PURPOSE;
  case X509_V_ERR_CERT_UNTRUSTED:
    return PORTLS_ECERT_UNTRUSTED;
  case X509_V_ERR_CERT_REJECTED:
    return PORTLS_ECERT_REJECTED;
#if defined(X509_V_ERR_HOSTNAME_MISMATCH)
  case X509_V_ERR_HOSTNAME_MISMATCH:
    return PORTLS_EHOSTNAME_MISMATCH;
#endif
  default:
    return PORTLS_EVERIFY_FAILED;
  }
}

static void pssl_der_cache_free(portls__ossl_der_cache *c);

#if defined(PORTLS_OSSL_BORING)
/* OpenSSL 3.0's notion of a self-signed certificate (X509_self_signed(x, 0),
 * EXFLAG_SS): subject equal to issuer, an authority key identifier (if any)
 * that matches the certificate's own, and a signature algorithm of the
 * certificate's own key type. BoringSSL (like OpenSSL 1.1) also demands
 * keyCertSign whenever keyUsage is present, so a self-signed server
 * certificate with keyUsage digitalSignature,keyEncipherment is not
 * "self-signed" to it, and a lone one is reported as 20 and then 21
 * UNABLE_TO_VERIFY_LEAF_SIGNATURE where OpenSSL 3 reports 18
 * DEPTH_ZERO_SELF_SIGNED_CERT. */
static int pssl_self_signed(X509 *x) {
  int ok = 0, pknid = NID_undef;
  if (X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) != 0) return 0;
  AUTHORITY_KEYID *akid = X509_get_ext_d2i(x, NID_authority_key_identifier, NULL, NULL);
  ok = X509_check_akid(x, akid) == X509_V_OK;
  AUTHORITY_KEYID_free(akid);
  EVP_PKEY *key = X509_get_pubkey(x);
  if (ok && key != NULL && OBJ_find_sigid_algs(X509_get_signature_nid(x), NULL, &pknid)) {
    if (pknid == NID_rsassaPss) pknid = NID_rsaEncryption;
    ok = pknid == EVP_PKEY_id(key);
  } else {
    ok = 0;
  }
  EVP_PKEY_free(key);
  ERR_clear_error();
  return ok;
}

/* Makes BoringSSL's verification of a lone self-signed certificate (see
 * pssl_self_signed) report what OpenSSL 3 reports. The two report the same
 * errors through the callback, in the same order, except:
 *   - chain building: BoringSSL says 20 UNABLE_TO_GET_ISSUER_CERT_LOCALLY
 *     where OpenSSL says 18 DEPTH_ZERO_SELF_SIGNED_CERT;
 *   - signature checks: BoringSSL ends with 21 UNABLE_TO_VERIFY_LEAF_SIGNATURE
 *     (and stops), where OpenSSL reports nothing for a self-signed leaf and
 *     goes on to check its validity period.
 * The result is the last error reported, so 21 becomes the error reported
 * before it in this verification (the chain-building step always comes
 * first, so there is one), followed by the validity checks OpenSSL makes,
 * with its errors in its order. Other errors in between (26 INVALID_PURPOSE
 * for a server certificate used as a client's, 3 UNABLE_TO_GET_CRL, ...) are
 * the same in both libraries and stay. */
static void pssl_boring_verify_fixup(portls_be_session *s, X509_STORE_CTX *x) {
  int e = X509_STORE_CTX_get_error(x);
  STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(x);
  if ((e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
       e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
       e == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE) &&
      chain != NULL && sk_X509_num(chain) == 1) {
    X509 *leaf = sk_X509_value(chain, 0);
    int self = pssl_self_signed(leaf);
    if (!self && e != X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE) {
      /* a lone leaf whose issuer is missing: OpenSSL 3 stops there too */
    } else if (e != X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE) {
      X509_STORE_CTX_set_error(x, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
    } else {
      /* OpenSSL 3 goes on to check the lone leaf's dates, and a date error
       * is the one it reports; BoringSSL stops at the first error. */
      if (self)
        X509_STORE_CTX_set_error(x, s != NULL && s->verify_last_error != X509_V_OK
                                        ? s->verify_last_error
                                        : X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
      int c = X509_cmp_current_time(X509_get_notBefore(leaf));
      if (c == 0)
        X509_STORE_CTX_set_error(x, X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD);
      else if (c > 0)
        X509_STORE_CTX_set_error(x, X509_V_ERR_CERT_NOT_YET_VALID);
      c = X509_cmp_current_time(X509_get_notAfter(leaf));
      if (c == 0)
        X509_STORE_CTX_set_error(x, X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD);
      else if (c < 0)
        X509_STORE_CTX_set_error(x, X509_V_ERR_CERT_HAS_EXPIRED);
    }
  }
  if (s != NULL) s->verify_last_error = X509_STORE_CTX_get_error(x);
}
#endif

/* Node-style verification: the chain is checked during the handshake, but a
 * bad result never aborts it; core reads SSL_get_verify_result afterwards and
 * decides (rejectUnauthorized). With a callback in place OpenSSL reports a
 * missing intermediate as 21 UNABLE_TO_VERIFY_LEAF_SIGNATURE, as Node does. */
static int pssl_verify_cb(int ok, X509_STORE_CTX *x) {
#if !defined(PORTLS_OSSL_HAS_VERIFIED_CHAIN) || defined(PORTLS_OSSL_BORING)
  SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
  portls_be_session *s = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
#endif
#if !defined(PORTLS_OSSL_HAS_VERIFIED_CHAIN)
  /* No SSL_get0_verified_chain: keep the chain as the library built it, as
   * OpenSSL keeps it, whether or not it verified. Every call replaces it: the
   * last one sees the longest chain (BoringSSL makes no final call after
   * 21). */
  STACK_OF(X509) *chain = s != NULL ? X509_STORE_CTX_get1_chain(x) : NULL;
  if (chain != NULL) {
    sk_X509_pop_free(s->verified_chain, X509_free);
    s->verified_chain = chain;
    pssl_der_cache_free(&s->verified);
  }
#endif
#if defined(PORTLS_OSSL_BORING)
  if (!ok) pssl_boring_verify_fixup(s, x);
#endif
  (void)ok;
  (void)x;
  return 1;
}

/* ------------------------------------------------------------------------ */
/* Loading keys, certificates, CAs, CRLs                                      */

static int pssl_is_pem(portls_buf b) {
  static const char tag[] = "-----BEGIN";
  const size_t n = sizeof tag - 1;
  const char *p = b.base;
  for (size_t i = 0; b.len >= n && i <= b.len - n; i++)
    if (p[i] == '-' && memcmp(p + i, tag, n) == 0) return 1;
  return 0;
}

static BIO *pssl_mem_bio(portls_buf b) {
  if (b.len > INT_MAX) return NULL;
  return BIO_new_mem_buf(b.base, (int)b.len);
}

typedef struct pssl_pass {
  const char *pass;
  int asked; /* the key is encrypted: the library wanted the passphrase */
} pssl_pass;

static int pssl_pass_cb(char *buf, int size, int rwflag, void *u) {
  pssl_pass *p = u;
  (void)rwflag;
  if (p == NULL) return -1;
  p->asked = 1;
  if (p->pass == NULL || size <= 0) return -1;
  size_t n = strlen(p->pass);
  if (n > (size_t)size) n = (size_t)size;
  memcpy(buf, p->pass, n);
  return (int)n;
}

/* Certificates never need a passphrase; never let the library prompt for one. */
static int pssl_no_pass_cb(char *buf, int size, int rwflag, void *u) {
  (void)buf;
  (void)size;
  (void)rwflag;
  (void)u;
  return -1;
}

/* Every certificate in b (PEM blocks, or concatenated DER) into *out. An
 * empty or unreadable buffer fails with code. */
static int pssl_read_certs(portls_buf b, int trusted, STACK_OF(X509) * *out, int code,
                           const char *what, portls_error *err) {
  STACK_OF(X509) *sk = sk_X509_new_null();
  *out = NULL;
  if (sk == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  ERR_clear_error();
  if (b.base == NULL || b.len == 0) {
    sk_X509_free(sk);
    return portls__err(err, code, "%s: empty", what);
  }
  if (pssl_is_pem(b)) {
    BIO *bio = pssl_mem_bio(b);
    if (bio == NULL) {
      sk_X509_free(sk);
      return portls__ossl_lib_err(err, PORTLS_ENOMEM, what);
    }
    for (;;) {
      X509 *x = trusted ? PEM_read_bio_X509_AUX(bio, NULL, pssl_no_pass_cb, NULL)
                        : PEM_read_bio_X509(bio, NULL, pssl_no_pass_cb, NULL);
      if (x == NULL) {
        unsigned long e = ERR_peek_last_error();
        if (sk_X509_num(sk) > 0 && ERR_GET_LIB(e) == ERR_LIB_PEM &&
            ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
          ERR_clear_error(); /* end of the buffer */
          break;
        }
        BIO_free(bio);
        sk_X509_pop_free(sk, X509_free);
        return portls__ossl_lib_err(err, code, what);
      }
      if (!sk_X509_push(sk, x)) {
        X509_free(x);
        BIO_free(bio);
        sk_X509_pop_free(sk, X509_free);
        return portls__err(err, PORTLS_ENOMEM, NULL);
      }
    }
    BIO_free(bio);
  } else {
    const unsigned char *p = b.base, *end = p + b.len;
    while (p < end) {
      X509 *x = d2i_X509(NULL, &p, (long)(end - p));
      if (x == NULL) {
        sk_X509_pop_free(sk, X509_free);
        return portls__ossl_lib_err(err, code, what);
      }
      if (!sk_X509_push(sk, x)) {
        X509_free(x);
        sk_X509_pop_free(sk, X509_free);
        return portls__err(err, PORTLS_ENOMEM, NULL);
      }
    }
  }
  *out = sk;
  return 0;
}

static int pssl_read_key(portls_buf b, const char *passphrase, EVP_PKEY **out, const char *what,
                         portls_error *err) {
  pssl_pass pp = {passphrase, 0};
  EVP_PKEY *k = NULL;
  *out = NULL;
  ERR_clear_error();
  if (b.base == NULL || b.len == 0) return portls__err(err, PORTLS_EKEY, "%s: empty", what);
  BIO *bio = pssl_mem_bio(b);
  if (bio == NULL) return portls__ossl_lib_err(err, PORTLS_ENOMEM, what);
  if (pssl_is_pem(b)) {
    k = PEM_read_bio_PrivateKey(bio, NULL, pssl_pass_cb, &pp);
  } else {
    const unsigned char *p = b.base;
    k = d2i_AutoPrivateKey(NULL, &p, (long)b.len);
    if (k == NULL) { /* perhaps an encrypted PKCS#8 in DER */
      ERR_clear_error();
      k = d2i_PKCS8PrivateKey_bio(bio, NULL, pssl_pass_cb, &pp);
    }
  }
  BIO_free(bio);
  if (k == NULL) {
    if (pp.asked && passphrase == NULL) {
      ERR_clear_error();
      return portls__err(err, PORTLS_EBAD_PASSPHRASE,
                         "%s: the key is encrypted and no passphrase was given", what);
    }
    if (pp.asked) {
      char msg[96];
      snprintf(msg, sizeof msg, "%s: bad decrypt (wrong passphrase?)", what);
      return portls__ossl_lib_err(err, PORTLS_EBAD_PASSPHRASE, msg);
    }
    return portls__ossl_lib_err(err, PORTLS_EKEY, what);
  }
  *out = k;
  return 0;
}

static int pssl_use_pair(SSL_CTX *c, X509 *leaf, EVP_PKEY *key, STACK_OF(X509) * chain,
                         const char *what, portls_error *err) {
  ERR_clear_error();
  if (!X509_check_private_key(leaf, key))
    return portls__ossl_lib_err(err, PORTLS_EKEY_MISMATCH, what);
#if defined(PORTLS_OSSL_HAS_MULTI_CERT)
  /* One slot per key type (RSA, ECDSA, ...), each with its own chain; the
   * library picks the one the client can use. */
  if (!SSL_CTX_use_cert_and_key(c, leaf, key, chain, 1))
    return portls__ossl_lib_err(err, PORTLS_ECERT, what);
#else
  if (!SSL_CTX_use_certificate(c, leaf) || !SSL_CTX_use_PrivateKey(c, key) ||
      !SSL_CTX_set1_chain(c, chain))
    return portls__ossl_lib_err(err, PORTLS_ECERT, what);
#endif
  return 0;
}

static int pssl_load_pair(SSL_CTX *c, const portls_be_keypair *pair, const char *passphrase,
                          size_t index, size_t count, portls_error *err) {
  char what_key[32], what_cert[32];
  if (count > 1) {
    snprintf(what_key, sizeof what_key, "key[%zu]", index);
    snprintf(what_cert, sizeof what_cert, "cert[%zu]", index);
  } else {
    snprintf(what_key, sizeof what_key, "key");
    snprintf(what_cert, sizeof what_cert, "cert");
  }
  STACK_OF(X509) *certs = NULL;
  EVP_PKEY *key = NULL;
  int rc = pssl_read_certs(pair->cert, 0, &certs, PORTLS_ECERT, what_cert, err);
  if (rc < 0) return rc;
  rc = pssl_read_key(pair->key, passphrase, &key, what_key, err);
  if (rc == 0) {
    pssl_settle_certs(certs);
    X509 *leaf = sk_X509_shift(certs); /* certs is now the chain */
    rc = pssl_use_pair(c, leaf, key, certs, what_key, err);
    X509_free(leaf);
  }
  EVP_PKEY_free(key);
  sk_X509_pop_free(certs, X509_free);
  return rc;
}

static int pssl_add_ca_certs(SSL_CTX *c, STACK_OF(X509) * certs, portls_error *err) {
  X509_STORE *store = SSL_CTX_get_cert_store(c);
  for (size_t i = 0; i < (size_t)sk_X509_num(certs); i++) {
    X509 *x = sk_X509_value(certs, i);
    pssl_settle_cert(x);
    ERR_clear_error();
    /* A duplicate is not an error worth failing a context for. */
    (void)X509_STORE_add_cert(store, x);
    /* Node also names its CAs in the CertificateRequest. */
    if (!SSL_CTX_add_client_CA(c, x)) return portls__ossl_lib_err(err, PORTLS_ENOMEM, "ca");
  }
  ERR_clear_error();
  return 0;
}

static int pssl_load_pfx(SSL_CTX *c, portls_buf pfx, const char *passphrase, portls_error *err) {
  BIO *bio = pssl_mem_bio(pfx);
  PKCS12 *p12;
  EVP_PKEY *key = NULL;
  X509 *leaf = NULL;
  STACK_OF(X509) *extra = NULL;
  int rc;
  ERR_clear_error();
  if (bio == NULL) return portls__ossl_lib_err(err, PORTLS_ENOMEM, "pfx");
  p12 = d2i_PKCS12_bio(bio, NULL);
  BIO_free(bio);
  if (p12 == NULL) return portls__ossl_lib_err(err, PORTLS_EPFX, "pfx");
  if (!PKCS12_parse(p12, passphrase, &key, &leaf, &extra)) {
    unsigned long e = ERR_peek_last_error();
    int code = PORTLS_EPFX;
#if defined(PKCS12_R_MAC_VERIFY_FAILURE)
    if (ERR_GET_LIB(e) == ERR_LIB_PKCS12 && ERR_GET_REASON(e) == PKCS12_R_MAC_VERIFY_FAILURE)
      code = PORTLS_EBAD_PASSPHRASE;
#endif
#if defined(PKCS8_R_INCORRECT_PASSWORD)
    if (ERR_GET_LIB(e) == ERR_LIB_PKCS8 && ERR_GET_REASON(e) == PKCS8_R_INCORRECT_PASSWORD)
      code = PORTLS_EBAD_PASSPHRASE;
#endif
    PKCS12_free(p12);
    return portls__ossl_lib_err(err, code, "pfx");
  }
  PKCS12_free(p12);
  pssl_settle_cert(leaf);
  pssl_settle_certs(extra);
  if (key == NULL || leaf == NULL) {
    rc = portls__err(err, PORTLS_EPFX, "pfx: no %s in the container",
                     key == NULL ? "private key" : "certificate");
  } else {
    rc = pssl_use_pair(c, leaf, key, extra, "pfx", err);
    /* Node trusts a PFX's extra certificates as CAs too. */
    if (rc == 0 && extra != NULL) rc = pssl_add_ca_certs(c, extra, err);
  }
  EVP_PKEY_free(key);
  X509_free(leaf);
  sk_X509_pop_free(extra, X509_free);
  return rc;
}

static int pssl_load_crls(SSL_CTX *c, portls_buf b, portls_error *err) {
  X509_STORE *store = SSL_CTX_get_cert_store(c);
  int count = 0;
  ERR_clear_error();
  if (b.base == NULL || b.len == 0) return portls__err(err, PORTLS_ECRL, "crl: empty");
  BIO *bio = pssl_mem_bio(b);
  if (bio == NULL) return portls__ossl_lib_err(err, PORTLS_ENOMEM, "crl");
  for (;;) {
    X509_CRL *crl = PEM_read_bio_X509_CRL(bio, NULL, pssl_no_pass_cb, NULL);
    if (crl == NULL) {
      unsigned long e = ERR_peek_last_error();
      if (count > 0 && ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
        ERR_clear_error();
        break;
      }
      BIO_free(bio);
      return portls__ossl_lib_err(err, PORTLS_ECRL, "crl");
    }
    ERR_clear_error();
    (void)X509_STORE_add_crl(store, crl); /* a duplicate is harmless */
    X509_CRL_free(crl);
    count++;
  }
  BIO_free(bio);
  ERR_clear_error();
  /* As Node: once a CRL is given, every certificate of the chain is checked. */
  X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Ciphers                                                                    */

static void pssl_append(char *dst, size_t *len, const char *src, size_t n) {
  if (*len > 0) dst[(*len)++] = ':';
  memcpy(dst + *len, src, n);
  *len += n;
  dst[*len] = '\0';
}

/* The suites core compiled (portls_be_ctx_config.suites), by this library's
 * names, ':'-separated: the TLS 1.3 ones in *tls13, the others in *list, in
 * the order given. Both are allocated, or neither (PORTLS_ENOMEM). */
static int pssl_suite_lists(const portls_be_ctx_config *cfg, char **list, char **tls13) {
  size_t cap = 1, ll = 0, tl = 0;
  for (size_t i = 0; i < cfg->suite_count; i++) {
    const char *name = pssl_suite_name(cfg->suites[i]);
    if (name != NULL) cap += strlen(name) + 1;
  }
  *list = portls__malloc(cap);
  *tls13 = portls__malloc(cap);
  if (*list == NULL || *tls13 == NULL) {
    portls__free(*list);
    portls__free(*tls13);
    *list = *tls13 = NULL;
    return PORTLS_ENOMEM;
  }
  (*list)[0] = (*tls13)[0] = '\0';
  for (size_t i = 0; i < cfg->suite_count; i++) {
    const char *name = pssl_suite_name(cfg->suites[i]);
    if (name == NULL) continue;
    if ((cfg->suites[i] >> 8) == 0x13)
      pssl_append(*tls13, &tl, name, strlen(name));
    else
      pssl_append(*list, &ll, name, strlen(name));
  }
  return 0;
}

static int pssl_ciphers_err(portls_error *err, const char *list) {
  char msg[160];
  snprintf(msg, sizeof msg, "ciphers: no cipher match for \"%.100s\"", list);
  return portls__ossl_lib_err(err, PORTLS_ECIPHERS, msg);
}

#if !defined(PORTLS_OSSL_BORING)
/* TLS 1.3 suites through SSL_CTX_set_ciphersuites (none: no TLS 1.3), the
 * others through SSL_CTX_set_cipher_list, each list exactly as core compiled
 * it from the cipher string. (ecdhCurve "false" has removed ECDHE already;
 * a TLS 1.3 handshake still uses an ECDHE group, from ecdh_curves or the
 * library's default groups: TLS 1.3 has no other kind of key exchange.) */
static int pssl_apply_ciphers(SSL_CTX *c, const portls_be_ctx_config *cfg, portls_error *err) {
  char *list = NULL, *tls13 = NULL;
  int rc = 0;
  if (pssl_suite_lists(cfg, &list, &tls13) < 0) return portls__err(err, PORTLS_ENOMEM, NULL);
#if defined(PORTLS_OSSL_HAS_TLS13_SUITES)
  ERR_clear_error();
  if (!SSL_CTX_set_ciphersuites(c, tls13)) rc = pssl_ciphers_err(err, tls13);
#endif
  ERR_clear_error();
  if (rc == 0 && !SSL_CTX_set_cipher_list(c, list)) {
    /* TLS 1.3 suites alone: the TLS <= 1.2 list is now deliberately empty
     * (the library installs it before complaining), as in Node. */
    if (list[0] != '\0') rc = pssl_ciphers_err(err, list);
    ERR_clear_error();
  }
  portls__free(list);
  portls__free(tls13);
  return rc;
}
#else  /* PORTLS_OSSL_BORING */

/* The TLS <= 1.2 suites core compiled, by name, through the strict setter:
 * one string selects the same suites, in the same order, as on OpenSSL
 * (BoringSSL's own parser is not OpenSSL's: its legacy setter skips what it
 * does not know, and "HIGH" means "ALL" there). TLS 1.3 suites are fixed in
 * BoringSSL: named in the string they have no effect, except that a string
 * selecting TLS 1.3 suites alone raises the minimum version to TLS 1.3 (an
 * empty TLS <= 1.2 list is what OpenSSL then has; BoringSSL refuses an
 * empty list). */
static int pssl_boring_ciphers(SSL_CTX *c, const portls_be_ctx_config *cfg, int *tls13_only,
                               portls_error *err) {
  char *list = NULL, *tls13 = NULL;
  int rc = 0;
  if (pssl_suite_lists(cfg, &list, &tls13) < 0) return portls__err(err, PORTLS_ENOMEM, NULL);
  *tls13_only = list[0] == '\0';
  ERR_clear_error();
  if (!*tls13_only && !SSL_CTX_set_strict_cipher_list(c, list)) rc = pssl_ciphers_err(err, list);
  portls__free(list);
  portls__free(tls13);
  return rc;
}

/* ecdhCurve: OpenSSL 3.0's group names (SSL_CTX_set1_groups_list accepts
 * exactly these for the groups BoringSSL has: case-sensitive, except that
 * "x25519" is the TLS name) → BoringSSL's. Elements are trimmed of white
 * space; an empty, unknown or repeated group fails, as on OpenSSL. Groups
 * only OpenSSL has (X448, ffdhe*, brainpool*, secp256k1, ...) are unknown
 * here: PORTLS_ECURVE. */
static const struct {
  const char *openssl, *boring;
} pssl_boring_group_names[] = {
    {"prime256v1", "P-256"}, {"secp256r1", "P-256"}, {"P-256", "P-256"},   {"secp384r1", "P-384"},
    {"P-384", "P-384"},      {"secp521r1", "P-521"}, {"P-521", "P-521"},   {"secp224r1", "P-224"},
    {"P-224", "P-224"},      {"X25519", "X25519"},   {"x25519", "X25519"},
};

/* OpenSSL's list parser (CONF_parse_list) trims with isspace() in the C locale. */
static int pssl_is_space(char ch) {
  return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

static int pssl_boring_curves(SSL_CTX *c, const char *curves, portls_error *err) {
  enum { N = PORTLS__ARRAY_SIZE(pssl_boring_group_names) };
  const char *seen[N];
  char list[N * 8]; /* every BoringSSL name is shorter than 8 */
  size_t n_seen = 0, len = 0;
  list[0] = '\0';
  for (const char *p = curves;; p++) {
    const char *t = p, *e;
    while (*p != '\0' && *p != ':') p++;
    for (e = p; t < e && pssl_is_space(*t); t++) {}
    while (e > t && pssl_is_space(e[-1])) e--;
    const char *mapped = NULL;
    for (size_t i = 0; i < N; i++) {
      const char *o = pssl_boring_group_names[i].openssl;
      if (strlen(o) == (size_t)(e - t) && memcmp(o, t, (size_t)(e - t)) == 0)
        mapped = pssl_boring_group_names[i].boring;
    }
    for (size_t i = 0; mapped != NULL && i < n_seen; i++)
      if (seen[i] == mapped) mapped = NULL; /* OpenSSL refuses a repeated group */
    if (mapped == NULL)
      return portls__err(err, PORTLS_ECURVE, "ecdhCurve: unknown curve in \"%.100s\"", curves);
    seen[n_seen++] = mapped; /* at most N: each is distinct */
    pssl_append(list, &len, mapped, strlen(mapped));
    if (*p == '\0') break;
  }
  ERR_clear_error();
  if (!SSL_CTX_set1_curves_list(c, list)) {
    char msg[160];
    snprintf(msg, sizeof msg, "ecdhCurve: unknown curve in \"%.100s\"", curves);
    return portls__ossl_lib_err(err, PORTLS_ECURVE, msg);
  }
  return 0;
}
#endif /* PORTLS_OSSL_BORING */

/* ------------------------------------------------------------------------ */
/* ALPN and NPN                                                               */

/* The server picks in its own order: the first of its protocols that the
 * client also offered. No overlap: no ALPN at all (the extension is ignored). */
static int pssl_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                            const unsigned char *in, unsigned int inlen, void *arg) {
  portls_be_session *s = SSL_get_app_data(ssl);
  (void)arg;
  if (s == NULL || s->alpn_wire == NULL) return SSL_TLSEXT_ERR_NOACK;
  for (size_t i = 0; i < s->alpn_len;) {
    size_t l = s->alpn_wire[i];
    if (l == 0 || i + 1 + l > s->alpn_len) break;
    for (unsigned int j = 0; j < inlen;) {
      unsigned int cl = in[j];
      if (cl == 0 || j + 1 + cl > inlen) break;
      if (cl == l && memcmp(in + j + 1, s->alpn_wire + i + 1, l) == 0) {
        *out = s->alpn_wire + i + 1;
        *outlen = (unsigned char)l;
        return SSL_TLSEXT_ERR_OK;
      }
      j += 1 + cl;
    }
    i += 1 + l;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

#if defined(PORTLS_OSSL_HAS_NPN)
static int pssl_npn_advertise(SSL *ssl, const unsigned char **out, unsigned int *outlen,
                              void *arg) {
  portls_be_session *s = SSL_get_app_data(ssl);
  (void)arg;
  if (s == NULL || s->npn_wire == NULL) return SSL_TLSEXT_ERR_NOACK;
  *out = s->npn_wire;
  *outlen = (unsigned int)s->npn_len;
  return SSL_TLSEXT_ERR_OK;
}

/* Client. The callback is per SSL_CTX, so it also runs for connections that
 * set no NPN list; refusing there would abort the handshake, so those pick
 * the server's first protocol and report none (Node v4 did the same). */
static int pssl_npn_select(SSL *ssl, unsigned char **out, unsigned char *outlen,
                           const unsigned char *in, unsigned int inlen, void *arg) {
  portls_be_session *s = SSL_get_app_data(ssl);
  (void)arg;
  if (s == NULL) return SSL_TLSEXT_ERR_NOACK;
  s->npn[0] = '\0';
  if (s->npn_wire == NULL) {
    if (inlen == 0 || in[0] == 0 || 1u + in[0] > inlen) return SSL_TLSEXT_ERR_NOACK;
    *out = (unsigned char *)(uintptr_t)(in + 1);
    *outlen = in[0];
    return SSL_TLSEXT_ERR_OK;
  }
  unsigned char *sel = NULL;
  unsigned char sel_len = 0;
  int r = SSL_select_next_proto(&sel, &sel_len, in, inlen, s->npn_wire, (unsigned int)s->npn_len);
  if (sel == NULL || sel_len == 0) return SSL_TLSEXT_ERR_NOACK;
  if (r == OPENSSL_NPN_NEGOTIATED) {
    memcpy(s->npn, sel, sel_len);
    s->npn[sel_len] = '\0';
  }
  /* No overlap: the client's first protocol goes on the wire (NPN's rule),
   * but nothing was agreed, so info reports none. */
  *out = sel;
  *outlen = sel_len;
  return SSL_TLSEXT_ERR_OK;
}
#endif

static int pssl_copy_wire(portls_buf b, uint8_t **out, size_t *len) {
  *out = NULL;
  *len = 0;
  if (b.base == NULL || b.len == 0) return 0;
  *out = portls__memdup(b.base, b.len);
  if (*out == NULL) return PORTLS_ENOMEM;
  *len = b.len;
  return 0;
}

/* A client's sessions as the library completes them: after a TLS 1.2 full
 * handshake, and for each TLS 1.3 ticket, which arrives after the handshake.
 * In TLS 1.3 SSL_get1_session may still return the handshake's own session,
 * which cannot be resumed (BoringSSL's ssl.h: "using the callback is
 * required as of TLS 1.3"), so getSession() answers with the newest one seen
 * here, and core emits Node's 'session' event for each. */
static int pssl_new_session(SSL *ssl, SSL_SESSION *sess) {
  portls_be_session *s = SSL_get_app_data(ssl);
  if (s == NULL || SSL_is_server(ssl)) return 0;
  SSL_SESSION_free(s->latest_session);
  s->latest_session = sess;
  s->new_session = 1;
  return 1; /* the reference is ours now */
}

int portls__ossl_session_ready(portls_be_session *s) {
  int ready = s->new_session;
  s->new_session = 0;
  return ready;
}

/* Server: the session resumeSession found, when the ClientHello's id is its
 * id (OpenSSL checks the session-id context and expiry itself). */
#if defined(PORTLS_OSSL_BORING)
static SSL_SESSION *pssl_get_session_cb(SSL *ssl, const uint8_t *id, int id_len, int *copy) {
#else
static SSL_SESSION *pssl_get_session_cb(SSL *ssl, const unsigned char *id, int id_len, int *copy) {
#endif
  portls_be_session *s = SSL_get_app_data(ssl);
  *copy = 0;
  if (s == NULL || s->resume == NULL) return NULL;
  const unsigned char *p = s->resume;
  SSL_SESSION *sess =
      s->resume_len > LONG_MAX ? NULL : d2i_SSL_SESSION(NULL, &p, (long)s->resume_len);
  ERR_clear_error();
  unsigned int n = 0;
  const unsigned char *sid = sess ? SSL_SESSION_get_id(sess, &n) : NULL;
  if (sess == NULL || id_len < 0 || n != (unsigned)id_len || memcmp(sid, id, n) != 0) {
    SSL_SESSION_free(sess);
    return NULL;
  }
  return sess; /* *copy 0: the reference is the library's */
}

static int pssl_server_session(portls_be_session *s, portls_buf *id, portls_buf *data,
                               portls_error *err) {
  SSL_SESSION *sess = SSL_get_session(s->ssl);
  unsigned int n = 0;
  const unsigned char *sid = sess ? SSL_SESSION_get_id(sess, &n) : NULL;
  /* TLS 1.3 resumes by ticket only; a TLS 1.2 session given a ticket has no id. */
  if (!SSL_is_server(s->ssl) || SSL_version(s->ssl) >= TLS1_3_VERSION ||
      SSL_session_reused(s->ssl) || n == 0)
    return 0;
  int len = i2d_SSL_SESSION(sess, NULL);
  uint8_t *buf = len > 0 ? portls__malloc((size_t)len) : NULL;
  if (buf == NULL)
    return portls__ossl_lib_err(err, len > 0 ? PORTLS_ENOMEM : PORTLS_ESESSION, "newSession");
  unsigned char *q = buf;
  i2d_SSL_SESSION(sess, &q);
  *id = (portls_buf){sid, n};
  *data = (portls_buf){buf, (size_t)len};
  return 1;
}

static int pssl_ticket(portls_be_session *s, portls_buf *out) {
  SSL_SESSION *sess = s->latest_session ? s->latest_session : SSL_get_session(s->ssl);
  const unsigned char *tick = NULL;
  size_t len = 0;
  if (sess == NULL || SSL_is_server(s->ssl)) return PORTLS_ENOENT;
  SSL_SESSION_get0_ticket(sess, &tick, &len);
  if (tick == NULL || len == 0) return PORTLS_ENOENT;
  *out = (portls_buf){tick, len};
  return 0;
}

int portls__ossl_set_ticket_keys_op(portls_be_ctx *ctx, const uint8_t keys[48], portls_error *err) {
  pthread_mutex_lock(&ctx->lock);
  memcpy(ctx->ticket_keys, keys, sizeof ctx->ticket_keys);
  ctx->has_ticket_keys = 1;
  pthread_mutex_unlock(&ctx->lock);
  return portls__ossl_set_ticket_keys(ctx, err);
}

int portls__ossl_set_old_ticket_keys_op(portls_be_ctx *ctx, const uint8_t keys[48],
                                        portls_error *err) {
  pthread_mutex_lock(&ctx->lock);
  if (keys != NULL)
    memcpy(ctx->old_ticket_keys, keys, sizeof ctx->old_ticket_keys);
  else
    OPENSSL_cleanse(ctx->old_ticket_keys, sizeof ctx->old_ticket_keys);
  ctx->has_old_ticket_keys = keys != NULL;
  pthread_mutex_unlock(&ctx->lock);
  return portls__ossl_set_ticket_keys(ctx, err);
}

static int pssl_ocsp_response(portls_be_session *s, portls_buf *out) {
  const unsigned char *p = NULL;
  size_t len = 0;
#if defined(PORTLS_OSSL_BORING)
  SSL_get0_ocsp_response(s->ssl, &p, &len);
#else
  unsigned char *q = NULL;
  long n = SSL_get_tlsext_status_ocsp_resp(s->ssl, &q);
  p = q;
  len = n > 0 ? (size_t)n : 0;
#endif
  if (p == NULL || len == 0) return PORTLS_ENOENT;
  *out = (portls_buf){p, len};
  return 0;
}

/* ---- pskCallback ---- */

#if defined(PORTLS_OSSL_HAS_PSK)
/* Both libraries call these with the identity/key buffers of their own
 * sizes; core has checked the key's and identity's lengths against portls's
 * limits, which fit OpenSSL 3's and BoringSSL's. */
static unsigned int pssl_psk_client_cb(SSL *ssl, const char *hint, char *identity,
                                       unsigned int max_identity_len, unsigned char *psk,
                                       unsigned int max_psk_len) {
  portls_be_session *s = SSL_get_app_data(ssl);
  portls_psk k;
  unsigned int n = 0;
  if (s == NULL || s->psk_client == NULL || s->psk_client(s->psk_arg, hint, &k) != 1) return 0;
  size_t idlen = strlen(k.identity);
  if (idlen < max_identity_len && k.key_len <= max_psk_len) {
    memcpy(identity, k.identity, idlen + 1);
    memcpy(psk, k.key, k.key_len);
    n = (unsigned int)k.key_len;
    s->psk_used = 1;
  }
  OPENSSL_cleanse(&k, sizeof k);
  return n;
}

static unsigned int pssl_psk_server_cb(SSL *ssl, const char *identity, unsigned char *psk,
                                       unsigned int max_psk_len) {
  portls_be_session *s = SSL_get_app_data(ssl);
  portls_psk k;
  unsigned int n = 0;
  if (s == NULL || s->psk_server == NULL || s->psk_server(s->psk_arg, identity, &k) != 1) return 0;
  if (k.key_len <= max_psk_len) {
    memcpy(psk, k.key, k.key_len);
    n = (unsigned int)k.key_len;
    s->psk_used = 1;
  }
  OPENSSL_cleanse(&k, sizeof k);
  return n;
}

/* Sets the session's PSK callbacks and hint up from its config. */
static int pssl_psk_setup(portls_be_session *s, const portls_be_session_config *cfg,
                          portls_error *err) {
  s->psk_client = cfg->psk_client;
  s->psk_server = cfg->psk_server;
  s->psk_arg = cfg->psk_arg;
#if !defined(PORTLS_OSSL_HAS_PSK_TLS13)
  /* PSK lives in TLS 1.2 alone here: a connection that asks for one is
   * held to TLS 1.2 (when its context allows it), or a PSK-only server could
   * never be reached, and a PSK-only server would never answer. */
  if ((cfg->is_server ? cfg->psk_server : cfg->psk_client) != NULL &&
      SSL_get_min_proto_version(s->ssl) <= TLS1_2_VERSION &&
      !SSL_set_max_proto_version(s->ssl, TLS1_2_VERSION))
    return portls__ossl_lib_err(err, PORTLS_ENOMEM, "pskCallback");
#endif
  if (cfg->is_server && cfg->psk_server != NULL) {
    SSL_set_psk_server_callback(s->ssl, pssl_psk_server_cb);
    ERR_clear_error();
    if (cfg->psk_identity_hint != NULL &&
        !SSL_use_psk_identity_hint(s->ssl, cfg->psk_identity_hint))
      return portls__ossl_lib_err(err, PORTLS_EINVAL, "pskIdentityHint");
  } else if (!cfg->is_server && cfg->psk_client != NULL) {
    SSL_set_psk_client_callback(s->ssl, pssl_psk_client_cb);
#if defined(PORTLS_OSSL_HAS_PSK_TLS13)
    /* OpenSSL's TLS 1.3 client makes a session of the external PSK with an
     * empty session-id context and, once the server takes it, refuses it
     * as "reused in a different context" unless the SSL's is empty too. A
     * client's own sessions then carry the empty context: the same on both
     * sides of its checks. */
    static const unsigned char no_sid_ctx[1] = {0};
    ERR_clear_error();
    if (!SSL_set_session_id_context(s->ssl, no_sid_ctx, 0))
      return portls__ossl_lib_err(err, PORTLS_ENOMEM, "pskCallback");
#endif
  }
  return 0;
}

/* Whether the handshake authenticated with a key a callback gave: a PSK
 * suite (TLS 1.2), or a TLS 1.3 handshake that resumed the external PSK. */
static int pssl_psk_authenticated(const portls_be_session *s, const SSL_CIPHER *c) {
  if (!s->psk_used || c == NULL) return 0;
  if (SSL_version(s->ssl) >= TLS1_3_VERSION) return SSL_session_reused(s->ssl) ? 1 : 0;
  return SSL_CIPHER_get_auth_nid(c) == NID_auth_psk;
}
#endif

#if !defined(PORTLS_OSSL_BORING)
/* Server: staple what OCSPRequest answered (set on the SSL by session_new);
 * client: accept whatever came, core hands it to the application as Node does. */
static int pssl_status_cb(SSL *ssl, void *arg) {
  (void)arg;
  if (!SSL_is_server(ssl)) return 1;
  unsigned char *resp = NULL;
  return SSL_get_tlsext_status_ocsp_resp(ssl, &resp) > 0 && resp != NULL ? SSL_TLSEXT_ERR_OK
                                                                         : SSL_TLSEXT_ERR_NOACK;
}
#endif

/* Server: accepts every server_name, as Node's own callback does (core has
 * chosen the context already). Without a callback that accepts it, OpenSSL
 * does not keep the name in a TLS 1.2 session, and SSL_get_servername on a
 * session resumed from it then answers NULL. The name is also kept here, in
 * case the library has none to give later. */
static int pssl_servername_cb(SSL *ssl, int *alert, void *arg) {
  portls_be_session *s = SSL_get_app_data(ssl);
  const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  (void)alert;
  (void)arg;
  if (s != NULL && name != NULL && (s->servername == NULL || strcmp(s->servername, name) != 0)) {
    portls__free(s->servername);
    s->servername = portls__strdup(name); /* NULL when out of memory: then none is reported */
  }
  return SSL_TLSEXT_ERR_OK;
}

/* Handshakes started and done, for Node's renegotiation limit. TLS 1.3's
 * post-handshake messages (tickets, key updates) raise the same events in
 * OpenSSL; they are not handshakes. */
static void pssl_info_cb(const SSL *ssl, int where, int ret) {
  (void)ret;
  portls_be_session *s = SSL_get_app_data(ssl);
  if (s == NULL || (s->hs_done > 0 && SSL_version(ssl) >= TLS1_3_VERSION)) return;
  if (where & SSL_CB_HANDSHAKE_START) s->hs_started++;
  if (where & SSL_CB_HANDSHAKE_DONE) {
    /* A renegotiation may bring other certificates: forget the DER copies. */
    if (s->hs_done++ > 0) {
      pssl_der_cache_free(&s->peer);
      pssl_der_cache_free(&s->verified);
    }
  }
}

/* ------------------------------------------------------------------------ */
/* Contexts                                                                   */

/* Makes one SSL_CTX of ctx (*out, set as soon as it exists, so that the
 * caller frees it on failure) and configures it from cfg. follows: the
 * context of sessions that may rest (ossl_lean.c follows their secrets). */
static int pssl_ctx_build(portls_be_ctx *ctx, const portls_be_ctx_config *cfg, SSL_CTX **out,
                          int follows, portls_error *err) {
  SSL_CTX *c;
  int rc;

  ERR_clear_error();
  c = *out = SSL_CTX_new(TLS_method());
  if (c == NULL) return portls__ossl_lib_err(err, PORTLS_ENOMEM, "SSL_CTX_new");
  SSL_CTX_set_app_data(c, ctx);

  if ((rc = portls__ossl_ctx_setup(c, cfg, err)) < 0) goto fail;

  /* Idle connections give their record buffers back; core may hand a write
   * to OpenSSL again from another address. */
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  /* Take all ciphertext core has in one BIO read rather than 5-byte headers
   * and bodies separately. Consequence for core: records that arrive with the
   * last handshake flight (a client's first request right behind its
   * Finished) are then held inside the SSL, so after handshake() returns
   * PORTLS_BE_OK core must call read() until PORTLS_BE_WANT_READ even though
   * no new ciphertext came in (Node's TLSWrap does the same ClearOut). */
  SSL_CTX_set_read_ahead(c, 1);
  /* As Node: no internal server-side session-ID cache (tickets still
   * resume); core owns any session store. */
  /* The client side too, so that the new-session callback sees TLS 1.3
   * tickets (still nothing stored inside the library). */
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_BOTH | SSL_SESS_CACHE_NO_INTERNAL |
                                        SSL_SESS_CACHE_NO_AUTO_CLEAR);
  SSL_CTX_sess_set_new_cb(c, pssl_new_session);
  SSL_CTX_sess_set_get_cb(c, pssl_get_session_cb);
  SSL_CTX_set_info_callback(c, pssl_info_cb);
  SSL_CTX_set_tlsext_servername_callback(c, pssl_servername_cb);
#if defined(PORTLS_OSSL_LEAN)
  portls__ossl_lean_follow(c, follows); /* so that a quiet server session can rest */
#else
  (void)follows;
#endif
#if !defined(PORTLS_OSSL_BORING)
  SSL_CTX_set_tlsext_status_cb(c, pssl_status_cb);
#if defined(SSL_OP_ALLOW_CLIENT_RENEGOTIATION)
  /* Node lets clients renegotiate and limits how often (core counts them). */
  SSL_CTX_set_options(c, SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
#endif
#endif

#if defined(PORTLS_OSSL_BORING)
  int tls13_only = 0;
  if ((rc = pssl_boring_ciphers(c, cfg, &tls13_only, err)) < 0) goto fail;
#else
  if ((rc = pssl_apply_ciphers(c, cfg, err)) < 0) goto fail;
#endif

  if (cfg->honor_cipher_order)
    SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE);
  else
    SSL_CTX_clear_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (cfg->disable_tickets) SSL_CTX_set_options(c, SSL_OP_NO_TICKET);

  ERR_clear_error();
  if (cfg->min_version != 0 && !SSL_CTX_set_min_proto_version(c, cfg->min_version)) {
    rc = portls__ossl_lib_err(err, PORTLS_EPROTOCOL_METHOD, "minimum TLS version");
    goto fail;
  }
  if (cfg->max_version != 0 && !SSL_CTX_set_max_proto_version(c, cfg->max_version)) {
    rc = portls__ossl_lib_err(err, PORTLS_EPROTOCOL_METHOD, "maximum TLS version");
    goto fail;
  }
#if defined(PORTLS_OSSL_BORING)
  if (tls13_only && !SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION)) {
    rc = portls__ossl_lib_err(err, PORTLS_EPROTOCOL_METHOD, "minimum TLS version");
    goto fail;
  }
#endif

  if (cfg->ecdh_curves != NULL && strcmp(cfg->ecdh_curves, "auto") != 0) {
#if defined(PORTLS_OSSL_BORING)
    /* BoringSSL names its groups differently ("P-256"). */
    if ((rc = pssl_boring_curves(c, cfg->ecdh_curves, err)) < 0) goto fail;
#else
    ERR_clear_error();
#if defined(PORTLS_OSSL_HAS_GROUPS_LIST)
    if (!SSL_CTX_set1_groups_list(c, cfg->ecdh_curves)) {
#else
    if (!SSL_CTX_set1_curves_list(c, cfg->ecdh_curves)) {
#endif
      char msg[160];
      snprintf(msg, sizeof msg, "ecdhCurve: unknown curve in \"%.100s\"", cfg->ecdh_curves);
      rc = portls__ossl_lib_err(err, PORTLS_ECURVE, msg);
      goto fail;
    }
#endif
  }

  if (cfg->sigalgs != NULL) {
    ERR_clear_error();
    if (!SSL_CTX_set1_sigalgs_list(c, cfg->sigalgs)) {
      char msg[160];
      snprintf(msg, sizeof msg, "sigalgs: unknown or unusable algorithm in \"%.100s\"",
               cfg->sigalgs);
      rc = portls__ossl_lib_err(err, PORTLS_EINVAL, msg);
      goto fail;
    }
  }

#if !defined(PORTLS_OSSL_HAS_MULTI_CERT)
  if (cfg->pair_count + (cfg->pfx.len > 0 ? 1 : 0) > 1) {
    rc =
        portls__err(err, PORTLS_ENOTSUP, "this backend holds one key/certificate pair per context");
    goto fail;
  }
#endif
  for (size_t i = 0; i < cfg->pair_count; i++)
    if ((rc = pssl_load_pair(c, &cfg->pairs[i], cfg->passphrase, i, cfg->pair_count, err)) < 0)
      goto fail;

  for (size_t i = 0; i < cfg->ca_count; i++) {
    STACK_OF(X509) *certs = NULL;
    if ((rc = pssl_read_certs(cfg->ca[i], 1, &certs, PORTLS_ECERT, "ca", err)) < 0) goto fail;
    rc = pssl_add_ca_certs(c, certs, err);
    sk_X509_pop_free(certs, X509_free);
    if (rc < 0) goto fail;
  }
  if (cfg->ca_count == 0 && cfg->use_system_ca) {
    ERR_clear_error();
    int own_store = cfg->crl_count > 0 || (cfg->pfx.base != NULL && cfg->pfx.len > 0) ||
                    cfg->extra_ca_count > 0;
    if (!own_store && PSSL_RUN_ONCE_ON(pssl_roots_once, pssl_roots_init) && pssl_roots != NULL &&
        X509_STORE_up_ref(pssl_roots)) {
      SSL_CTX_set_cert_store(c, pssl_roots); /* shared: nothing below adds to it */
    } else if (PSSL_RUN_ONCE_ON(pssl_roots_once, pssl_roots_init) && pssl_roots != NULL) {
      /* CRLs, a PFX's CAs or extra CAs go into this context's own store:
       * the roots parsed once are shared into it by reference, which costs
       * far less than parsing the bundle again for every context. */
      X509_STORE *own = SSL_CTX_get_cert_store(c);
      STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(pssl_roots);
      for (size_t i = 0; i < (size_t)sk_X509_OBJECT_num(objs); i++) {
        X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
        if (x != NULL) (void)X509_STORE_add_cert(own, x);
      }
    } else {
      (void)SSL_CTX_load_verify_locations(c, pssl_roots_file(), NULL);
    }
    ERR_clear_error();
    /* Extra CAs (NODE_EXTRA_CA_CERTS) join the roots; like them, they are
     * not named in a CertificateRequest. */
    for (size_t i = 0; i < cfg->extra_ca_count; i++) {
      STACK_OF(X509) *certs = NULL;
      if ((rc = pssl_read_certs(cfg->extra_ca[i], 1, &certs, PORTLS_ECERT, "extra CA", err)) < 0)
        goto fail;
      X509_STORE *own = SSL_CTX_get_cert_store(c);
      for (size_t j = 0; j < (size_t)sk_X509_num(certs); j++)
        (void)X509_STORE_add_cert(own, sk_X509_value(certs, j));
      sk_X509_pop_free(certs, X509_free);
      ERR_clear_error();
    }
  }
  if (cfg->pfx.base != NULL && cfg->pfx.len > 0)
    if ((rc = pssl_load_pfx(c, cfg->pfx, cfg->passphrase, err)) < 0) goto fail;
  for (size_t i = 0; i < cfg->crl_count; i++)
    if ((rc = pssl_load_crls(c, cfg->crl[i], err)) < 0) goto fail;

  if (cfg->dhparam.base != NULL && cfg->dhparam.len > 0)
    if ((rc = portls__ossl_set_dhparam(c, cfg->dhparam, err)) < 0) goto fail;

  if (cfg->session_timeout > 0) SSL_CTX_set_timeout(c, (long)cfg->session_timeout);
  {
    const char *sid =
        cfg->session_id_context != NULL ? cfg->session_id_context : PSSL_DEFAULT_SID_CTX;
    size_t n = strlen(sid);
    ERR_clear_error();
    if (n > SSL_MAX_SID_CTX_LENGTH ||
        !SSL_CTX_set_session_id_context(c, (const unsigned char *)sid, (unsigned int)n)) {
      ERR_clear_error();
      rc = portls__err(err, PORTLS_EINVAL, "sessionIdContext: longer than %d bytes",
                       SSL_MAX_SID_CTX_LENGTH);
      goto fail;
    }
  }

  /* Per-connection lists live in the session; these read them from there. */
  SSL_CTX_set_alpn_select_cb(c, pssl_alpn_select, NULL);
#if defined(PORTLS_OSSL_HAS_NPN)
  SSL_CTX_set_next_protos_advertised_cb(c, pssl_npn_advertise, NULL);
  SSL_CTX_set_next_proto_select_cb(c, pssl_npn_select, NULL);
#endif

  ERR_clear_error();
  return 0;

fail:
  ERR_clear_error();
  return rc;
}

int portls__ossl_ctx_new(const portls_be_ctx_config *cfg, portls_be_ctx **out, portls_error *err) {
  portls_be_ctx *ctx;
  int rc;

  *out = NULL;
  if (cfg == NULL) return portls__err(err, PORTLS_EINVAL, NULL);
  if (pssl_global() < 0) return portls__err(err, PORTLS_ENOMEM, "backend initialisation failed");
  ctx = portls__calloc(1, sizeof *ctx);
  if (ctx == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  if (pthread_mutex_init(&ctx->lock, NULL) != 0) {
    portls__free(ctx);
    return portls__err(err, PORTLS_ENOMEM, "context lock");
  }
  if ((rc = pssl_ctx_build(ctx, cfg, &ctx->ssl_ctx, 0, err)) < 0) goto fail;
#if defined(PORTLS_OSSL_LEAN)
  /* A second SSL_CTX, configured the same, for the server sessions that may
   * rest (portls_be_session_config.may_rest): resting needs each session's
   * traffic secrets, which OpenSSL gives only to a key-log callback on the
   * SSL_CTX, and once one is set, OpenSSL formats every secret of every
   * handshake on that SSL_CTX as hex text (about 225,000 instructions, 8% of
   * a server's TLS 1.3 handshake). Sessions that will not rest (clients, a
   * server's first rest_min_connections) then pay nothing. Only a context
   * with a certificate serves TLS 1.3 handshakes that can rest. Both
   * SSL_CTXs share the be_ctx (app data): ticket keys, offered sessions. */
  if ((cfg->pair_count > 0 || cfg->pfx.len > 0) &&
      (rc = pssl_ctx_build(ctx, cfg, &ctx->rest_ssl_ctx, 1, err)) < 0)
    goto fail;
#endif
  /* 48 bytes, checked by core, which makes random ones when the
   * application gives none. */
  if (cfg->ticket_keys.len != 0 &&
      (rc = portls__ossl_set_ticket_keys_op(ctx, cfg->ticket_keys.base, err)) < 0)
    goto fail;
  *out = ctx;
  return 0;

fail:
  portls__ossl_ctx_free(ctx);
  return rc;
}

void portls__ossl_ctx_free(portls_be_ctx *ctx) {
  if (ctx == NULL) return;
  SSL_SESSION_free(ctx->offered);
  portls__free(ctx->offered_der);
  SSL_CTX_free(ctx->ssl_ctx);
#if defined(PORTLS_OSSL_LEAN)
  SSL_CTX_free(ctx->rest_ssl_ctx);
#endif
  OPENSSL_cleanse(ctx->ticket_keys, sizeof ctx->ticket_keys);
  OPENSSL_cleanse(ctx->old_ticket_keys, sizeof ctx->old_ticket_keys);
  pthread_mutex_destroy(&ctx->lock);
  portls__free(ctx);
}

/* ------------------------------------------------------------------------ */
/* Sessions                                                                   */

static const portls__ossl_ops pssl_ops; /* the SSL-backed session's operations, below */

static void pssl_der_cache_free(portls__ossl_der_cache *c) {
  for (size_t i = 0; i < c->count; i++) portls__free((void *)(uintptr_t)c->items[i].base);
  portls__free(c->items);
  c->items = NULL;
  c->count = 0;
}

static int pssl_staple(portls_be_session *s, portls_buf resp, portls_error *err) {
  ERR_clear_error();
#if defined(PORTLS_OSSL_BORING)
  if (!SSL_set_ocsp_response(s->ssl, resp.base, resp.len))
    return portls__ossl_lib_err(err, PORTLS_ENOMEM, "OCSPRequest response");
#else
  unsigned char *copy = OPENSSL_malloc(resp.len); /* the SSL takes it */
  if (copy == NULL || resp.len > LONG_MAX) {
    OPENSSL_free(copy);
    return portls__err(err, PORTLS_ENOMEM, NULL);
  }
  memcpy(copy, resp.base, resp.len);
  if (!SSL_set_tlsext_status_ocsp_resp(s->ssl, copy, (long)resp.len)) {
    OPENSSL_free(copy);
    return portls__ossl_lib_err(err, PORTLS_ENOMEM, "OCSPRequest response");
  }
#endif
  return 0;
}

/* Keeps the decoded form of session bytes the client context handed out or
 * was given, so that offering them (again) costs a copy, not a decode: the
 * peer's certificate inside made decoding 40% of a resumed handshake, and a
 * TLS 1.3 client resumes from the newest ticket, bytes getSession() just made. */
static void pssl_remember_session(portls_be_ctx *ctx, SSL_SESSION *sess, const void *der,
                                  size_t len) {
#if !defined(PORTLS_OSSL_BORING)
  SSL_SESSION *keep = SSL_SESSION_dup(sess);
  uint8_t *copy = keep ? portls__memdup(der, len) : NULL;
  if (copy == NULL) {
    SSL_SESSION_free(keep);
    return;
  }
  pthread_mutex_lock(&ctx->lock);
  SSL_SESSION *old = ctx->offered;
  uint8_t *old_der = ctx->offered_der;
  ctx->offered = keep;
  ctx->offered_der = copy;
  ctx->offered_len = len;
  pthread_mutex_unlock(&ctx->lock);
  SSL_SESSION_free(old);
  portls__free(old_der);
#else
  (void)ctx, (void)sess, (void)der, (void)len;
#endif
}

int portls__ossl_session_new(portls_be_ctx *ctx, const portls_be_session_config *cfg,
                             const portls_be_io *io, portls_be_session **out, portls_error *err) {
  portls_be_session *s;
  BIO *bio;
  int rc = 0;

  *out = NULL;
  if (ctx == NULL || cfg == NULL || io == NULL || io->recv == NULL || io->send == NULL)
    return portls__err(err, PORTLS_EINVAL, NULL);
  s = portls__calloc(1, sizeof *s);
  if (s == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  s->ops = &pssl_ops;
  s->io = *io;
  s->max_send_fragment = 16384;
  ERR_clear_error();
#if defined(PORTLS_OSSL_LEAN)
  /* may_rest: core sets it for server sessions only. */
  s->ssl = SSL_new(cfg->may_rest && ctx->rest_ssl_ctx != NULL ? ctx->rest_ssl_ctx : ctx->ssl_ctx);
#else
  s->ssl = SSL_new(ctx->ssl_ctx);
#endif
  if (s->ssl == NULL) {
    portls__free(s);
    return portls__ossl_lib_err(err, PORTLS_ENOMEM, "SSL_new");
  }
  SSL_set_app_data(s->ssl, s);
  bio = BIO_new(pssl_bio_method);
  if (bio == NULL) {
    rc = portls__ossl_lib_err(err, PORTLS_ENOMEM, "BIO_new");
    goto fail;
  }
  BIO_set_data(bio, s);
  SSL_set_bio(s->ssl, bio, bio); /* one reference, owned by the SSL */

  if (cfg->is_server) {
    SSL_set_accept_state(s->ssl);
    if (cfg->resume.len > 0 &&
        (s->resume = portls__memdup(cfg->resume.base, cfg->resume.len)) == NULL) {
      rc = portls__err(err, PORTLS_ENOMEM, NULL);
      goto fail;
    }
    s->resume_len = cfg->resume.len;
    if (cfg->ocsp_response.len > 0 && (rc = pssl_staple(s, cfg->ocsp_response, err)) < 0) goto fail;
    /* Node's verify mode: a bad certificate never aborts the handshake (the
     * callback says so), no certificate at all does under rejectUnauthorized. */
    if (cfg->verify_peer)
      SSL_set_verify(s->ssl,
                     SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE |
                         (cfg->require_peer_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                     pssl_verify_cb);
    else
      SSL_set_verify(s->ssl, SSL_VERIFY_NONE, NULL);
    if (pssl_copy_wire(cfg->alpn_wire, &s->alpn_wire, &s->alpn_len) < 0 ||
        pssl_copy_wire(cfg->npn_wire, &s->npn_wire, &s->npn_len) < 0) {
      rc = portls__err(err, PORTLS_ENOMEM, NULL);
      goto fail;
    }
  } else {
    SSL_set_connect_state(s->ssl);
    /* A client always verifies, the Node way (see pssl_verify_cb). */
    SSL_set_verify(s->ssl, SSL_VERIFY_PEER, pssl_verify_cb);
    if (cfg->servername != NULL && cfg->servername[0] != '\0') {
      ERR_clear_error();
      if (!SSL_set_tlsext_host_name(s->ssl, cfg->servername)) {
        rc = portls__ossl_lib_err(err, PORTLS_EINVAL, "servername");
        goto fail;
      }
    }
    if (cfg->alpn_wire.base != NULL && cfg->alpn_wire.len > 0) {
      ERR_clear_error();
      if (cfg->alpn_wire.len > UINT_MAX ||
          SSL_set_alpn_protos(s->ssl, cfg->alpn_wire.base, (unsigned int)cfg->alpn_wire.len) != 0) {
        rc = portls__ossl_lib_err(err, PORTLS_EALPN, "ALPNProtocols");
        goto fail;
      }
    }
    if (pssl_copy_wire(cfg->npn_wire, &s->npn_wire, &s->npn_len) < 0) {
      rc = portls__err(err, PORTLS_ENOMEM, NULL);
      goto fail;
    }
    if (cfg->session.base != NULL && cfg->session.len > 0) {
      const unsigned char *p = cfg->session.base;
      SSL_SESSION *sess;
      ERR_clear_error();
      sess = NULL;
#if !defined(PORTLS_OSSL_BORING)
      /* A copy, not the cached object: TLS 1.3 marks a session it used as not
       * resumable, and offering the same bytes twice must behave as decoding
       * them twice. The copy shares the decoded certificates. */
      pthread_mutex_lock(&ctx->lock);
      if (ctx->offered != NULL && ctx->offered_len == cfg->session.len &&
          memcmp(ctx->offered_der, cfg->session.base, cfg->session.len) == 0)
        sess = SSL_SESSION_dup(ctx->offered);
      pthread_mutex_unlock(&ctx->lock);
#endif
      if (sess == NULL) {
        sess =
            cfg->session.len > LONG_MAX ? NULL : d2i_SSL_SESSION(NULL, &p, (long)cfg->session.len);
        if (sess == NULL) {
          rc = portls__ossl_lib_err(err, PORTLS_ESESSION, "session");
          goto fail;
        }
        pssl_remember_session(ctx, sess, cfg->session.base, cfg->session.len);
      }
      int ok = SSL_set_session(s->ssl, sess);
      SSL_SESSION_free(sess);
      if (!ok) {
        rc = portls__ossl_lib_err(err, PORTLS_ESESSION, "session");
        goto fail;
      }
    }
#if defined(PORTLS_OSSL_HAS_OCSP)
    if (cfg->request_ocsp) SSL_set_tlsext_status_type(s->ssl, TLSEXT_STATUSTYPE_ocsp);
#endif
#if defined(PORTLS_OSSL_BORING)
    /* An OpenSSL client follows a server's HelloRequest; BoringSSL's refuses
     * unless told otherwise. (Initiating one is beyond BoringSSL.) */
    SSL_set_renegotiate_mode(s->ssl, ssl_renegotiate_freely);
#endif
  }
#if defined(PORTLS_OSSL_HAS_PSK)
  if ((rc = pssl_psk_setup(s, cfg, err)) < 0) goto fail;
#endif
  ERR_clear_error();
  *out = s;
  return 0;

fail:
  portls__ossl_session_free(s);
  return rc;
}

void portls__ossl_session_free(portls_be_session *s) {
  if (s == NULL) return;
  SSL_free(s->ssl); /* frees the BIO */
#if defined(PORTLS_OSSL_LEAN)
  portls__ossl_lean_free(s->rest);
#endif
  portls__free(s->servername);
  portls__free(s->alpn_wire);
  portls__free(s->npn_wire);
  pssl_der_cache_free(&s->peer);
  pssl_der_cache_free(&s->verified);
#if !defined(PORTLS_OSSL_HAS_VERIFIED_CHAIN)
  sk_X509_pop_free(s->verified_chain, X509_free);
#endif
  SSL_SESSION_free(s->latest_session);
  portls__free(s->resume);
  portls__free(s);
}

/* ---- Observers: keylog and trace ----
 * The OpenSSL backend already follows every context's records, and the
 * secrets of the sessions that may rest (ossl_lean.c's callbacks, for
 * rest()); those hand each line and message on to the session's observer.
 * Elsewhere nothing is installed in the library until core asks: the key
 * log callback on the session's SSL_CTX (OpenSSL has no per-SSL one; it
 * stays, and sessions without an observer return at once), the message
 * callback on the SSL alone. */

static void pssl_keylog_cb(const SSL *ssl, const char *line) {
  portls__ossl_keylog_forward(SSL_get_app_data(ssl), line);
}

#if !defined(PORTLS_OSSL_LEAN)

static void pssl_msg_cb(int write_p, int version, int content_type, const void *buf, size_t len,
                        SSL *ssl, void *arg) {
  (void)version;
  (void)arg;
  portls__ossl_msg_forward(SSL_get_app_data(ssl), write_p, content_type, buf, len);
}
#endif

void portls__ossl_set_keylog(portls_be_session *s, portls_be_keylog_fn fn, void *user) {
  s->keylog = fn;
  s->keylog_user = user;
  /* Not over ossl_lean.c's callback, which forwards too. */
  if (fn != NULL && s->ssl != NULL && SSL_CTX_get_keylog_callback(SSL_get_SSL_CTX(s->ssl)) == NULL)
    SSL_CTX_set_keylog_callback(SSL_get_SSL_CTX(s->ssl), pssl_keylog_cb);
}

void portls__ossl_set_trace(portls_be_session *s, portls_be_msg_fn fn, void *user) {
  s->trace = fn;
  s->trace_user = user;
#if !defined(PORTLS_OSSL_LEAN)
  if (s->ssl != NULL) SSL_set_msg_callback(s->ssl, fn != NULL ? pssl_msg_cb : NULL);
#endif
}

#if !defined(PORTLS_OSSL_BORING)
static int pssl_renegotiate(portls_be_session *s, int verify_peer, portls_error *err) {
  if (SSL_version(s->ssl) >= TLS1_3_VERSION)
    return portls__err(err, PORTLS_ERENEG_DISABLED, "renegotiate: TLS 1.3 has no renegotiation");
  /* Asked again this time (the first handshake's SSL_VERIFY_CLIENT_ONCE would not). */
  if (SSL_is_server(s->ssl)) {
    SSL_set_verify(s->ssl, verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
                   verify_peer ? pssl_verify_cb : NULL);
    /* A full handshake, or a resumed session would skip the certificate request. */
    SSL_set_options(s->ssl, SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
  }
  ERR_clear_error();
  s->io_error = 0;
  if (!SSL_renegotiate(s->ssl))
    return portls__ossl_lib_err(err, PORTLS_ERENEG_DISABLED, "renegotiate");
  unsigned started = s->hs_started, done = s->hs_done;
  int r = SSL_do_handshake(s->ssl); /* sends HelloRequest or ClientHello */
  if (SSL_is_server(s->ssl)) {
    /* OpenSSL reports sending HelloRequest as a handshake started and done;
     * the handshake is the one the client's ClientHello starts. */
    s->hs_started = started;
    s->hs_done = done;
  }
  if (r == 1) return 0;
  r = pssl_fail(s, r, PSSL_OP_HANDSHAKE, err);
  return r == PORTLS_BE_WANT_READ ? 0 : r;
}

void portls__ossl_handshakes(portls_be_session *s, unsigned *started, unsigned *completed) {
  *started = s->hs_started;
  *completed = s->hs_done;
}
#endif

static int pssl_handshake(portls_be_session *s, portls_error *err) {
  ERR_clear_error();
  s->io_error = 0;
  int r = SSL_do_handshake(s->ssl);
  if (r == 1) return PORTLS_BE_OK;
  return pssl_fail(s, r, PSSL_OP_HANDSHAKE, err);
}

static int pssl_read(portls_be_session *s, uint8_t *buf, size_t cap, size_t *nread,
                     portls_error *err) {
  ERR_clear_error();
  s->io_error = 0;
#if defined(PORTLS_OSSL_HAS_EX_IO)
  size_t n = 0;
  int r = SSL_read_ex(s->ssl, buf, cap, &n);
  if (r == 1) {
    *nread = n;
    return PORTLS_BE_OK;
  }
#else
  int r = SSL_read(s->ssl, buf, cap > INT_MAX ? INT_MAX : (int)cap);
  if (r > 0) {
    *nread = (size_t)r;
    return PORTLS_BE_OK;
  }
#endif
#if defined(PORTLS_OSSL_BORING)
  /* A BoringSSL server keeps its TLS 1.3 tickets until it next writes; a
   * zero-length write sends them now, as OpenSSL does, so that a client which
   * ends at once (Node's pattern) still gets a session to resume. */
  if (SSL_is_server(s->ssl) && !s->tickets_flushed &&
      SSL_get_error(s->ssl, r) == SSL_ERROR_WANT_READ && SSL_version(s->ssl) == TLS1_3_VERSION) {
    s->tickets_flushed = 1;
    (void)SSL_write(s->ssl, "", 0);
    ERR_clear_error();
    return PORTLS_BE_WANT_READ;
  }
#endif
  return pssl_fail(s, r, PSSL_OP_READ, err);
}

/* All of buf becomes records in one call: the BIO never blocks, and without
 * SSL_MODE_ENABLE_PARTIAL_WRITE the library writes everything or fails. The
 * one way to stop part-way is a renegotiation in progress that needs the
 * peer's next flight (SSL_ERROR_WANT_READ before anything was written);
 * that comes back as PORTLS_BE_WANT_READ and the caller writes buf again
 * once more ciphertext has arrived. */
static int pssl_write(portls_be_session *s, const uint8_t *buf, size_t len, portls_error *err) {
  size_t off = 0;
  while (off < len) {
    ERR_clear_error();
    s->io_error = 0;
#if defined(PORTLS_OSSL_HAS_EX_IO)
    size_t n = 0;
    int r = SSL_write_ex(s->ssl, buf + off, len - off, &n);
    if (r == 1) {
      off += n;
      continue;
    }
#else
    size_t chunk = len - off > INT_MAX ? INT_MAX : len - off;
    int r = SSL_write(s->ssl, buf + off, (int)chunk);
    if (r > 0) {
      off += (size_t)r;
      continue;
    }
#endif
    return pssl_fail(s, r, PSSL_OP_WRITE, err);
  }
  return PORTLS_BE_OK;
}

static int pssl_shutdown(portls_be_session *s, portls_error *err) {
  /* Before the handshake is done (or after a fatal error) there is no
   * session to close: nothing is sent, and core just closes the transport. */
  if (!SSL_is_init_finished(s->ssl)) return PORTLS_BE_OK;
  ERR_clear_error();
  s->io_error = 0;
  int r = SSL_shutdown(s->ssl); /* 0: close_notify sent; 1: and the peer's received */
  if (r >= 0) {
    ERR_clear_error();
    return PORTLS_BE_OK;
  }
  return pssl_fail(s, r, PSSL_OP_SHUTDOWN, err);
}

/* The peer's leaf, borrowed from the session. */
static X509 *pssl_peer_leaf(SSL *ssl) {
#if defined(PORTLS_OSSL_HAS_GET0_PEER_CERT)
  return SSL_get0_peer_certificate(ssl);
#else
  /* BoringSSL keeps the X509 in the SSL_SESSION; the reference we drop here
   * is only the one this getter added. */
  X509 *x = SSL_get_peer_certificate(ssl);
  X509_free(x);
  return x;
#endif
}

static void pssl_copy_proto(char *dst, const unsigned char *p, unsigned int len) {
  if (p == NULL || len == 0 || len > 255) {
    dst[0] = '\0';
    return;
  }
  memcpy(dst, p, len);
  dst[len] = '\0';
}

static void pssl_info(portls_be_session *s, portls_be_info *info) {
  SSL *ssl = s->ssl;
  const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
  const unsigned char *p = NULL;
  unsigned int len = 0;

  memset(info, 0, sizeof *info);
  info->version = (uint16_t)SSL_version(ssl);
  if (c != NULL) {
    info->suite = (uint16_t)SSL_CIPHER_get_protocol_id(c);
    info->cipher_name = SSL_CIPHER_get_name(c);
  }
  if (SSL_is_server(ssl)) {
    /* A copy: the string must outlive the SSL (a connection at rest). */
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (name == NULL) name = s->servername; /* what pssl_servername_cb saw */
    if (name != NULL && name != s->servername &&
        (s->servername == NULL || strcmp(s->servername, name) != 0)) {
      portls__free(s->servername);
      s->servername = portls__strdup(name);
    }
    info->servername = name != NULL && s->servername != NULL ? s->servername : name;
  }

  SSL_get0_alpn_selected(ssl, &p, &len);
  pssl_copy_proto(s->alpn, p, len);
  info->alpn = s->alpn[0] != '\0' ? s->alpn : NULL;
#if defined(PORTLS_OSSL_HAS_NPN)
  if (SSL_is_server(ssl)) {
    p = NULL;
    len = 0;
    SSL_get0_next_proto_negotiated(ssl, &p, &len);
    pssl_copy_proto(s->npn, p, len);
  } /* client: s->npn was filled by pssl_npn_select when a protocol was agreed */
  info->npn = s->npn[0] != '\0' ? s->npn : NULL;
#endif

  info->session_reused = SSL_session_reused(ssl) ? 1 : 0;
#if defined(PORTLS_OSSL_HAS_PSK)
  info->psk = pssl_psk_authenticated(s, c);
#endif
  info->has_peer_cert = pssl_peer_leaf(ssl) != NULL;
  info->verify_result =
      info->has_peer_cert ? portls__ossl_verify_code(SSL_get_verify_result(ssl)) : 0;
  portls__ossl_ephemeral(s, info);
}

static int pssl_export_keying_material(portls_be_session *s, uint8_t *out, size_t len,
                                       const char *label, size_t label_len, const uint8_t *context,
                                       size_t context_len, int use_context, portls_error *err) {
  ERR_clear_error();
  if (SSL_export_keying_material(s->ssl, out, len, label, label_len, context, context_len,
                                 use_context) != 1)
    return portls__ossl_lib_err(err, PORTLS_EINVAL, "exportKeyingMaterial");
  return 0;
}

static size_t pssl_finished(portls_be_session *s, int peer, uint8_t *buf, size_t cap) {
  size_t n = peer ? SSL_get_peer_finished(s->ssl, buf, cap) : SSL_get_finished(s->ssl, buf, cap);
  return n <= cap ? n : 0;
}

#if !defined(PORTLS_OSSL_BORING)
/* Node's getSharedSigalgs() names: the key type, '+', the hash's short name
 * ("UNDEF" for algorithms with none built in, Ed25519). */
static const char *pssl_sig_name(int nid) {
  switch (nid) {
  case EVP_PKEY_RSA:
    return "RSA";
  case EVP_PKEY_RSA_PSS:
    return "RSA-PSS";
  case EVP_PKEY_DSA:
    return "DSA";
  case EVP_PKEY_EC:
    return "ECDSA";
  case EVP_PKEY_ED25519:
    return "Ed25519";
  case EVP_PKEY_ED448:
    return "Ed448";
  default: {
    const char *ln = OBJ_nid2ln(nid);
    return ln != NULL ? ln : "UNDEF";
  }
  }
}

size_t portls__ossl_sigalg_pairs(portls_be_session *s, uint16_t *pairs, size_t max) {
  int n = SSL_get_shared_sigalgs(s->ssl, 0, NULL, NULL, NULL, NULL, NULL);
  size_t count = 0;
  for (int i = 0; i < n; i++) {
    int sign = NID_undef, hash = NID_undef;
    SSL_get_shared_sigalgs(s->ssl, i, &sign, &hash, NULL, NULL, NULL);
    if (sign < 0 || sign > UINT16_MAX || hash < 0 || hash > UINT16_MAX) continue;
    if (pairs != NULL && count < max) {
      pairs[2 * count] = (uint16_t)sign;
      pairs[2 * count + 1] = (uint16_t)hash;
    }
    count++;
  }
  return count;
}

int portls__ossl_sigalgs_text(const uint16_t *pairs, size_t n, char **out, portls_error *err) {
  size_t cap = 1 + n * 48, len = 0;
  char *text = portls__malloc(cap);
  if (text == NULL) return portls__err(err, PORTLS_ENOMEM, "getSharedSigalgs: out of memory");
  text[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    int hash = pairs[2 * i + 1];
    const char *h = hash != NID_undef ? OBJ_nid2sn(hash) : NULL;
    int w = snprintf(text + len, cap - len, "%s%s+%s", len > 0 ? ":" : "",
                     pssl_sig_name(pairs[2 * i]), h != NULL ? h : "UNDEF");
    if (w < 0 || (size_t)w >= cap - len) break; /* a name past 46 bytes: cut the list there */
    len += (size_t)w;
  }
  *out = text;
  return 0;
}

static int pssl_shared_sigalgs(portls_be_session *s, char **out, portls_error *err) {
  size_t n = portls__ossl_sigalg_pairs(s, NULL, 0);
  uint16_t *pairs = portls__malloc(2 * (n ? n : 1) * sizeof *pairs);
  if (pairs == NULL) return portls__err(err, PORTLS_ENOMEM, "getSharedSigalgs: out of memory");
  n = portls__ossl_sigalg_pairs(s, pairs, n);
  int rc = portls__ossl_sigalgs_text(pairs, n, out, err);
  portls__free(pairs);
  return rc;
}
#endif

/* Caches the DER of x as entry i of c (computed once). */
static int pssl_der_cached(portls__ossl_der_cache *c, size_t i, X509 *x, portls_buf *der) {
  if (i >= c->count) {
    portls_buf *items = portls__realloc(c->items, (i + 1) * sizeof *items);
    if (items == NULL) return PORTLS_ENOMEM;
    memset(items + c->count, 0, (i + 1 - c->count) * sizeof *items);
    c->items = items;
    c->count = i + 1;
  }
  if (c->items[i].base == NULL) {
    int n = i2d_X509(x, NULL);
    if (n <= 0) {
      ERR_clear_error();
      return PORTLS_ECERT;
    }
    unsigned char *buf = portls__malloc((size_t)n), *q = buf;
    if (buf == NULL) return PORTLS_ENOMEM;
    if (i2d_X509(x, &q) != n) {
      ERR_clear_error();
      portls__free(buf);
      return PORTLS_ECERT;
    }
    c->items[i].base = buf;
    c->items[i].len = (size_t)n;
  }
  *der = c->items[i];
  return 0;
}

/* Leaf first on both sides: a client's chain includes the leaf, a server's
 * does not; a client resuming a serialized session has the leaf alone. */
static X509 *pssl_peer_cert_at(SSL *ssl, size_t index) {
  X509 *leaf = pssl_peer_leaf(ssl);
  if (leaf == NULL) return NULL;
  if (index == 0) return leaf;
  STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
  size_t j = SSL_is_server(ssl) ? index - 1 : index;
  if (chain == NULL || j >= (size_t)sk_X509_num(chain)) return NULL;
  return sk_X509_value(chain, (int)j);
}

static int pssl_peer_cert(portls_be_session *s, size_t index, portls_buf *der) {
  X509 *x = pssl_peer_cert_at(s->ssl, index);
  if (x == NULL) return PORTLS_ENOENT;
  return pssl_der_cached(&s->peer, index, x, der);
}

static int pssl_verified_cert(portls_be_session *s, size_t index, portls_buf *der) {
#if defined(PORTLS_OSSL_HAS_VERIFIED_CHAIN)
  STACK_OF(X509) *chain = SSL_get0_verified_chain(s->ssl);
#else
  STACK_OF(X509) *chain = s->verified_chain; /* kept by pssl_verify_cb */
#endif
  /* A resumed session has no verified chain: the chain as sent is the best
   * there is. */
  if (chain == NULL || sk_X509_num(chain) == 0) return pssl_peer_cert(s, index, der);
  if (index >= (size_t)sk_X509_num(chain)) return PORTLS_ENOENT;
  return pssl_der_cached(&s->verified, index, sk_X509_value(chain, (int)index), der);
}

static int pssl_set_max_send_fragment(portls_be_session *s, size_t size) {
  if (size < 512 || size > 16384) return PORTLS_EINVAL;
  if (!SSL_set_max_send_fragment(s->ssl, (long)size)) {
    ERR_clear_error();
    return PORTLS_EINVAL;
  }
#if !defined(PORTLS_OSSL_BORING)
  /* OpenSSL cuts records at split_send_fragment, which a smaller maximum
   * lowers and a larger one leaves where it was: 512 and then 16384 would
   * keep 512-byte records. */
  (void)SSL_set_split_send_fragment(s->ssl, (long)size);
#endif
  s->max_send_fragment = size;
  return 0;
}

static int pssl_get_session(portls_be_session *s, portls_buf *out, portls_error *err) {
  out->base = NULL;
  out->len = 0;
  SSL_SESSION *sess = s->latest_session; /* see pssl_new_session */
  if (sess != NULL)
    SSL_SESSION_up_ref(sess);
  else
    sess = SSL_get1_session(s->ssl);
  if (sess == NULL) return portls__err(err, PORTLS_ENOTCONN, "no TLS session");
  ERR_clear_error();
  int n = i2d_SSL_SESSION(sess, NULL);
  if (n <= 0) {
    SSL_SESSION_free(sess);
    return portls__ossl_lib_err(err, PORTLS_ESESSION, "session");
  }
  unsigned char *buf = portls__malloc((size_t)n), *q = buf;
  if (buf == NULL) {
    SSL_SESSION_free(sess);
    return portls__err(err, PORTLS_ENOMEM, NULL);
  }
  int m = i2d_SSL_SESSION(sess, &q);
  if (m == n && !SSL_is_server(s->ssl))
    pssl_remember_session(SSL_CTX_get_app_data(SSL_get_SSL_CTX(s->ssl)), sess, buf, (size_t)n);
  SSL_SESSION_free(sess);
  if (m != n) {
    portls__free(buf);
    return portls__ossl_lib_err(err, PORTLS_ESESSION, "session");
  }
  out->base = buf;
  out->len = (size_t)n;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* The session operations of backend.h: each goes through the session's
 * table, this one while the SSL lives, ossl_lean.c's once the session rests. */

static const portls__ossl_ops pssl_ops = {
  .handshake = pssl_handshake,
  .read = pssl_read,
  .write = pssl_write,
  .shutdown = pssl_shutdown,
  .info = pssl_info,
  .peer_cert = pssl_peer_cert,
  .verified_cert = pssl_verified_cert,
  .set_max_send_fragment = pssl_set_max_send_fragment,
  .get_session = pssl_get_session,
  .server_session = pssl_server_session,
  .ticket = pssl_ticket,
  .ocsp_response = pssl_ocsp_response,
#if !defined(PORTLS_OSSL_BORING)
  .renegotiate = pssl_renegotiate,
#endif
#if defined(PORTLS_OSSL_LEAN)
  .rest = portls__ossl_lean_rest,
#endif
  .export_keying_material = pssl_export_keying_material,
  .finished = pssl_finished,
#if !defined(PORTLS_OSSL_BORING)
  .shared_sigalgs = pssl_shared_sigalgs,
#endif
};

int portls__ossl_export_keying_material(portls_be_session *s, uint8_t *out, size_t len,
                                        const char *label, size_t label_len, const uint8_t *context,
                                        size_t context_len, int use_context, portls_error *err) {
  return s->ops->export_keying_material(s, out, len, label, label_len, context, context_len,
                                        use_context, err);
}

size_t portls__ossl_finished(portls_be_session *s, int peer, uint8_t *buf, size_t cap) {
  return s->ops->finished(s, peer, buf, cap);
}

#if !defined(PORTLS_OSSL_BORING)
int portls__ossl_shared_sigalgs(portls_be_session *s, char **out, portls_error *err) {
  return s->ops->shared_sigalgs(s, out, err);
}
#endif

int portls__ossl_handshake(portls_be_session *s, portls_error *err) {
  return s->ops->handshake(s, err);
}

int portls__ossl_read(portls_be_session *s, uint8_t *buf, size_t cap, size_t *nread,
                      portls_error *err) {
  *nread = 0;
  if (cap == 0) return portls__err(err, PORTLS_EINVAL, "read: empty buffer");
  return s->ops->read(s, buf, cap, nread, err);
}

int portls__ossl_write(portls_be_session *s, const uint8_t *buf, size_t len, portls_error *err) {
  return s->ops->write(s, buf, len, err);
}

int portls__ossl_shutdown(portls_be_session *s, portls_error *err) {
  return s->ops->shutdown(s, err);
}

void portls__ossl_info(portls_be_session *s, portls_be_info *info) { s->ops->info(s, info); }

int portls__ossl_peer_cert(portls_be_session *s, size_t index, portls_buf *der) {
  return s->ops->peer_cert(s, index, der);
}

int portls__ossl_verified_cert(portls_be_session *s, size_t index, portls_buf *der) {
  return s->ops->verified_cert(s, index, der);
}

int portls__ossl_set_max_send_fragment(portls_be_session *s, size_t size) {
  return s->ops->set_max_send_fragment(s, size);
}

int portls__ossl_get_session(portls_be_session *s, portls_buf *out, portls_error *err) {
  return s->ops->get_session(s, out, err);
}

int portls__ossl_server_session(portls_be_session *s, portls_buf *id, portls_buf *data,
                                portls_error *err) {
  return s->ops->server_session(s, id, data, err);
}

int portls__ossl_ticket(portls_be_session *s, portls_buf *out) { return s->ops->ticket(s, out); }

int portls__ossl_ocsp_response(portls_be_session *s, portls_buf *out) {
  return s->ops->ocsp_response(s, out);
}

#if !defined(PORTLS_OSSL_BORING)
int portls__ossl_renegotiate(portls_be_session *s, int verify_peer, portls_error *err) {
  return s->ops->renegotiate(s, verify_peer, err);
}
#endif

#if defined(PORTLS_OSSL_LEAN)
int portls__ossl_rest(portls_be_session *s) { return s->ops->rest(s); }
#endif

/* ------------------------------------------------------------------------ */
/* Primitives                                                                 */

int portls__ossl_digest(int alg, const void *data, size_t len, uint8_t *out) {
  const EVP_MD *md = NULL;
  switch (alg) {
  case PORTLS_BE_SHA1:
    md = EVP_sha1();
    break;
  case PORTLS_BE_SHA256:
    md = EVP_sha256();
    break;
  case PORTLS_BE_SHA384:
    md = EVP_sha384();
    break;
  case PORTLS_BE_SHA512:
    md = EVP_sha512();
    break;
  default:
    return PORTLS_ENOTSUP;
  }
  if (md == NULL) return PORTLS_ENOTSUP;
  int ok = EVP_Digest(data, len, out, NULL, md, NULL);
  ERR_clear_error();
  return ok ? 0 : PORTLS_EINVAL;
}

/* Padding is checked here rather than by EVP_DecryptFinal_ex so that the
 * output never exceeds len bytes, whatever the library's buffering. */
int portls__ossl_cipher_decrypt(int alg, const uint8_t *key, const uint8_t *iv, const uint8_t *in,
                                size_t len, uint8_t *out, size_t *out_len) {
  const EVP_CIPHER *c = NULL;
  switch (alg) {
  case PORTLS_BE_AES_128_CBC:
    c = EVP_aes_128_cbc();
    break;
  case PORTLS_BE_AES_192_CBC:
    c = EVP_aes_192_cbc();
    break;
  case PORTLS_BE_AES_256_CBC:
    c = EVP_aes_256_cbc();
    break;
  case PORTLS_BE_DES_EDE3_CBC:
    c = EVP_des_ede3_cbc();
    break;
  default:
    return PORTLS_ENOTSUP;
  }
  if (c == NULL) return PORTLS_ENOTSUP;
  size_t bs = (size_t)EVP_CIPHER_block_size(c);
  if (len == 0 || bs == 0 || len % bs != 0 || len > INT_MAX) return PORTLS_EINVAL;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (ctx == NULL) return PORTLS_ENOMEM;
  int n = 0;
  int ok = EVP_DecryptInit_ex(ctx, c, NULL, key, iv) == 1 &&
           EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
           EVP_DecryptUpdate(ctx, out, &n, in, (int)len) == 1 && (size_t)n == len;
  EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
  ERR_clear_error();
  if (!ok) {
    OPENSSL_cleanse(out, len);
    return PORTLS_EINVAL;
  }
  /* PKCS#7: pad bytes each equal to the pad length, 1..bs; checked without
   * branching on the bytes themselves. */
  uint8_t pad = out[len - 1], bad = (uint8_t)(pad == 0 || pad > bs);
  for (size_t i = 0; i < bs; i++) {
    uint8_t in_pad = (uint8_t)(i < pad ? 0xFF : 0);
    bad |= (uint8_t)(in_pad & (out[len - 1 - i] ^ pad));
  }
  if (bad) {
    OPENSSL_cleanse(out, len);
    return PORTLS_EBAD_PASSPHRASE;
  }
  *out_len = len - pad;
  return 0;
}

int portls__ossl_random(uint8_t *buf, size_t len) {
  while (len > 0) {
    int n = len > INT_MAX ? INT_MAX : (int)len;
    if (RAND_bytes(buf, n) != 1) {
      ERR_clear_error();
      return PORTLS_EIO;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}
