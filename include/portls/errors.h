/* portls: error codes.
 *
 * Every fallible call returns 0 (or a non-negative count) on success and a
 * negative PORTLS_E* code on failure. One table below yields the enum, the
 * names (Node's and OpenSSL's words: "ECONNRESET", "CERT_HAS_EXPIRED",
 * "ERR_TLS_HANDSHAKE_TIMEOUT") and a default message. Codes are stable.
 *
 * The same failure has the same code on every backend: the libraries' reasons
 * (OpenSSL's SSL_R_*, mbedTLS's MBEDTLS_ERR_*) are mapped onto this table
 * (ERR_SSL_NO_SHARED_CIPHER, ERR_SSL_WRONG_VERSION_NUMBER, ERR_SSL_HTTP_REQUEST,
 * ...), the library's own words staying in the message. A fatal alert the peer
 * sent is -200 minus its AlertDescription under Node's name for it
 * (ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE is -240), or ERR_SSL_ALERT for one the
 * table does not name; the exceptions are protocol_version, which is
 * ERR_SSL_UNSUPPORTED_PROTOCOL whichever side noticed the mismatch (the
 * libraries differ in that), and no_renegotiation, ERR_TLS_RENEGOTIATION_DISABLED.
 */
#ifndef PORTLS_ERRORS_H
#define PORTLS_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

/* XX(enum suffix, value, name, default message) */
#define PORTLS_ERRNO_MAP(XX)                                                                       \
  /* system and stream errors: Node's net error codes */                                           \
  XX(EINVAL, -1, "EINVAL", "invalid argument")                                                     \
  XX(ENOMEM, -2, "ENOMEM", "out of memory")                                                        \
  XX(ENOTSUP, -3, "ENOTSUP", "not supported by this backend")                                      \
  XX(ENOENT, -4, "ENOENT", "no such file or directory")                                            \
  XX(EACCES, -5, "EACCES", "permission denied")                                                    \
  XX(EIO, -6, "EIO", "i/o error")                                                                  \
  XX(EOF, -7, "EOF", "end of file")                                                                \
  XX(EBUSY, -8, "EBUSY", "resource busy")                                                          \
  XX(EAGAIN, -9, "EAGAIN", "resource temporarily unavailable")                                     \
  XX(ECANCELED, -10, "ECANCELED", "operation canceled")                                            \
  XX(ECONNREFUSED, -11, "ECONNREFUSED", "connection refused")                                      \
  XX(ECONNRESET, -12, "ECONNRESET", "connection reset by peer")                                    \
  XX(ECONNABORTED, -13, "ECONNABORTED", "connection aborted")                                      \
  XX(EPIPE, -14, "EPIPE", "broken pipe")                                                           \
  XX(ETIMEDOUT, -15, "ETIMEDOUT", "connection timed out")                                          \
  XX(EADDRINUSE, -16, "EADDRINUSE", "address already in use")                                      \
  XX(EADDRNOTAVAIL, -17, "EADDRNOTAVAIL", "address not available")                                 \
  XX(ENOTCONN, -18, "ENOTCONN", "socket is not connected")                                         \
  XX(ENETUNREACH, -19, "ENETUNREACH", "network is unreachable")                                    \
  XX(EHOSTUNREACH, -20, "EHOSTUNREACH", "host is unreachable")                                     \
  XX(EAI_NONAME, -21, "ENOTFOUND", "name or service not known")                                    \
  XX(EAI_FAIL, -22, "EAI_FAIL", "name lookup failed")                                              \
  XX(EMFILE, -23, "EMFILE", "too many open files")                                                 \
  XX(ENAMETOOLONG, -24, "ENAMETOOLONG", "name too long")                                           \
  XX(EUNKNOWN, -25, "UNKNOWN", "unknown error")                                                    \
  XX(ESTREAM_DESTROYED, -26, "ERR_STREAM_DESTROYED", "stream was destroyed")                       \
  XX(EWRITE_AFTER_END, -27, "ERR_STREAM_WRITE_AFTER_END", "write after end")                       \
  XX(ESERVER_NOT_RUNNING, -28, "ERR_SERVER_NOT_RUNNING", "server is not running")                  \
  XX(ESERVER_LISTENING, -29, "ERR_SERVER_ALREADY_LISTEN", "server is already listening")           \
  /* configuration and input errors */                                                             \
  XX(EKEY, -40, "ERR_TLS_INVALID_KEY", "invalid or unreadable private key")                        \
  XX(ECERT, -41, "ERR_TLS_INVALID_CERT", "invalid or unreadable certificate")                      \
  XX(EKEY_MISMATCH, -42, "ERR_TLS_KEY_MISMATCH", "key values mismatch")                            \
  XX(EBAD_PASSPHRASE, -43, "ERR_TLS_BAD_PASSPHRASE", "bad decrypt: wrong passphrase")              \
  XX(EPFX, -44, "ERR_TLS_INVALID_PFX", "invalid PFX/PKCS#12 data")                                 \
  XX(ECRL, -45, "ERR_TLS_INVALID_CRL", "invalid CRL")                                              \
  XX(ECIPHERS, -46, "ERR_TLS_INVALID_CIPHERS", "no cipher match")                                  \
  XX(EPROTOCOL_METHOD, -47, "ERR_TLS_INVALID_PROTOCOL_METHOD",                                     \
     "unknown or unsupported secureProtocol")                                                      \
  XX(EDHPARAM, -48, "ERR_TLS_DH_PARAM", "DH parameter is too small")                               \
  XX(ECURVE, -49, "ERR_TLS_INVALID_CURVE", "unknown ECDH curve")                                   \
  XX(EALPN, -50, "ERR_TLS_INVALID_PROTOCOLS", "malformed protocol list")                           \
  XX(ETICKET_KEYS, -51, "ERR_TLS_TICKET_KEYS", "ticket keys must be 48 bytes")                     \
  XX(ESESSION, -52, "ERR_TLS_INVALID_SESSION", "invalid session data")                             \
  /* TLS versions (minVersion / maxVersion) */                                                     \
  XX(EPROTOCOL_VERSION, -53, "ERR_TLS_INVALID_PROTOCOL_VERSION", "invalid TLS protocol version")   \
  XX(EPROTOCOL_VERSION_CONFLICT, -54, "ERR_TLS_PROTOCOL_VERSION_CONFLICT",                         \
     "TLS protocol version conflicts with secureProtocol")                                         \
  /* TLS connection errors */                                                                      \
  XX(EPROTO, -60, "EPROTO", "TLS protocol error")                                                  \
  XX(ETLS_ALERT, -61, "ERR_SSL_ALERT", "TLS alert received from peer")                             \
  XX(ENO_SHARED_CIPHER, -62, "ERR_SSL_NO_SHARED_CIPHER", "no shared cipher")                       \
  XX(EVERSION, -63, "ERR_SSL_UNSUPPORTED_PROTOCOL", "no protocol version in common")               \
  XX(EHANDSHAKE_TIMEOUT, -64, "ERR_TLS_HANDSHAKE_TIMEOUT", "TLS handshake timeout")                \
  XX(ECERT_ALTNAME_INVALID, -65, "ERR_TLS_CERT_ALTNAME_INVALID",                                   \
     "Hostname/IP does not match certificate's altnames")                                          \
  XX(ESESSION_ATTACK, -66, "ERR_TLS_SESSION_ATTACK", "TLS session renegotiation attack detected")  \
  XX(EDH_TOO_SMALL, -67, "ERR_TLS_DH_PARAM_SIZE", "DH parameter size is smaller than minDHSize")   \
  XX(ERENEG_DISABLED, -68, "ERR_TLS_RENEGOTIATION_DISABLED", "renegotiation is not possible")      \
  XX(ENO_CERT, -69, "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE",                                   \
     "peer did not return a certificate")                                                          \
  XX(EMAX_CONNECTIONS, -71, "ERR_SERVER_MAX_CONNECTIONS", "server.maxConnections reached")         \
  XX(EWRONG_VERSION_NUMBER, -72, "ERR_SSL_WRONG_VERSION_NUMBER",                                   \
     "wrong version number: the peer does not speak TLS")                                          \
  /* ALPNCallback (issue 13, point 6) */                                                           \
  XX(EALPN_CALLBACK_WITH_PROTOCOLS, -95, "ERR_TLS_ALPN_CALLBACK_WITH_PROTOCOLS",                   \
     "ALPNCallback and ALPNProtocols cannot both be set")                                          \
  XX(EALPN_CALLBACK_INVALID_RESULT, -96, "ERR_TLS_ALPN_CALLBACK_INVALID_RESULT",                   \
     "ALPNCallback returned a protocol the client did not offer")                                  \
  XX(EHTTP_REQUEST, -73, "ERR_SSL_HTTP_REQUEST", "http request: plain HTTP sent to a TLS server")  \
  XX(EHTTPS_PROXY_REQUEST, -74, "ERR_SSL_HTTPS_PROXY_REQUEST",                                     \
     "https proxy request: HTTP CONNECT sent to a TLS server")                                     \
  XX(EPSK_IDENTITY_NOT_FOUND, -78, "ERR_SSL_PSK_IDENTITY_NOT_FOUND",                               \
     "psk identity not found: the server's pskCallback knows no key for it")                       \
  XX(EBAD_RECORD_MAC, -79, "ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC",                          \
     "decryption failed or bad record mac: the handshake's keys differ (a wrong PSK)")             \
  XX(EBINDER, -80, "ERR_SSL_BINDER_DOES_NOT_VERIFY",                                               \
     "binder does not verify: the TLS 1.3 PSK differs (a wrong PSK)")                              \
  /* certificate verification: OpenSSL's X509_V_ERR_* names, as Node reports them */               \
  XX(EUNABLE_TO_GET_ISSUER_CERT, -100, "UNABLE_TO_GET_ISSUER_CERT",                                \
     "unable to get issuer certificate")                                                           \
  XX(EUNABLE_TO_GET_CRL, -101, "UNABLE_TO_GET_CRL", "unable to get certificate CRL")               \
  XX(EUNABLE_TO_DECRYPT_CERT_SIGNATURE, -102, "UNABLE_TO_DECRYPT_CERT_SIGNATURE",                  \
     "unable to decrypt certificate's signature")                                                  \
  XX(EUNABLE_TO_DECRYPT_CRL_SIGNATURE, -103, "UNABLE_TO_DECRYPT_CRL_SIGNATURE",                    \
     "unable to decrypt CRL's signature")                                                          \
  XX(EUNABLE_TO_DECODE_ISSUER_PUBLIC_KEY, -104, "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",              \
     "unable to decode issuer public key")                                                         \
  XX(ECERT_SIGNATURE_FAILURE, -105, "CERT_SIGNATURE_FAILURE", "certificate signature failure")     \
  XX(ECRL_SIGNATURE_FAILURE, -106, "CRL_SIGNATURE_FAILURE", "CRL signature failure")               \
  XX(ECERT_NOT_YET_VALID, -107, "CERT_NOT_YET_VALID", "certificate is not yet valid")              \
  XX(ECERT_HAS_EXPIRED, -108, "CERT_HAS_EXPIRED", "certificate has expired")                       \
  XX(ECRL_NOT_YET_VALID, -109, "CRL_NOT_YET_VALID", "CRL is not yet valid")                        \
  XX(ECRL_HAS_EXPIRED, -110, "CRL_HAS_EXPIRED", "CRL has expired")                                 \
  XX(EERROR_IN_CERT_NOT_BEFORE_FIELD, -111, "ERROR_IN_CERT_NOT_BEFORE_FIELD",                      \
     "format error in certificate's notBefore field")                                              \
  XX(EERROR_IN_CERT_NOT_AFTER_FIELD, -112, "ERROR_IN_CERT_NOT_AFTER_FIELD",                        \
     "format error in certificate's notAfter field")                                               \
  XX(EDEPTH_ZERO_SELF_SIGNED_CERT, -113, "DEPTH_ZERO_SELF_SIGNED_CERT", "self signed certificate") \
  XX(ESELF_SIGNED_CERT_IN_CHAIN, -114, "SELF_SIGNED_CERT_IN_CHAIN",                                \
     "self signed certificate in certificate chain")                                               \
  XX(EUNABLE_TO_GET_ISSUER_CERT_LOCALLY, -115, "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",                \
     "unable to get local issuer certificate")                                                     \
  XX(EUNABLE_TO_VERIFY_LEAF_SIGNATURE, -116, "UNABLE_TO_VERIFY_LEAF_SIGNATURE",                    \
     "unable to verify the first certificate")                                                     \
  XX(ECERT_CHAIN_TOO_LONG, -117, "CERT_CHAIN_TOO_LONG", "certificate chain too long")              \
  XX(ECERT_REVOKED, -118, "CERT_REVOKED", "certificate revoked")                                   \
  XX(EINVALID_CA, -119, "INVALID_CA", "invalid CA certificate")                                    \
  XX(EPATH_LENGTH_EXCEEDED, -120, "PATH_LENGTH_EXCEEDED", "path length constraint exceeded")       \
  XX(EINVALID_PURPOSE, -121, "INVALID_PURPOSE", "unsupported certificate purpose")                 \
  XX(ECERT_UNTRUSTED, -122, "CERT_UNTRUSTED", "certificate not trusted")                           \
  XX(ECERT_REJECTED, -123, "CERT_REJECTED", "certificate rejected")                                \
  XX(EHOSTNAME_MISMATCH, -124, "HOSTNAME_MISMATCH", "Hostname mismatch")                           \
  XX(EVERIFY_FAILED, -125, "UNSPECIFIED", "unspecified certificate verification error")            \
  /* a fatal alert the peer sent: -200 - its AlertDescription, named as Node names it (OpenSSL's   \
   * reason); an alert not listed here is PORTLS_ETLS_ALERT */                                     \
  XX(EALERT_UNEXPECTED_MESSAGE, -210, "ERR_SSL_SSLV3_ALERT_UNEXPECTED_MESSAGE",                    \
     "peer sent alert unexpected_message (10)")                                                    \
  XX(EALERT_BAD_RECORD_MAC, -220, "ERR_SSL_SSLV3_ALERT_BAD_RECORD_MAC",                            \
     "peer sent alert bad_record_mac (20)")                                                        \
  XX(EALERT_RECORD_OVERFLOW, -222, "ERR_SSL_TLSV1_ALERT_RECORD_OVERFLOW",                          \
     "peer sent alert record_overflow (22)")                                                       \
  XX(EALERT_DECOMPRESSION_FAILURE, -230, "ERR_SSL_SSLV3_ALERT_DECOMPRESSION_FAILURE",              \
     "peer sent alert decompression_failure (30)")                                                 \
  XX(EALERT_HANDSHAKE_FAILURE, -240, "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE",                      \
     "peer sent alert handshake_failure (40)")                                                     \
  XX(EALERT_BAD_CERTIFICATE, -242, "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE",                          \
     "peer sent alert bad_certificate (42)")                                                       \
  XX(EALERT_UNSUPPORTED_CERTIFICATE, -243, "ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",          \
     "peer sent alert unsupported_certificate (43)")                                               \
  XX(EALERT_CERTIFICATE_REVOKED, -244, "ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED",                  \
     "peer sent alert certificate_revoked (44)")                                                   \
  XX(EALERT_CERTIFICATE_EXPIRED, -245, "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED",                  \
     "peer sent alert certificate_expired (45)")                                                   \
  XX(EALERT_CERTIFICATE_UNKNOWN, -246, "ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN",                  \
     "peer sent alert certificate_unknown (46)")                                                   \
  XX(EALERT_ILLEGAL_PARAMETER, -247, "ERR_SSL_SSLV3_ALERT_ILLEGAL_PARAMETER",                      \
     "peer sent alert illegal_parameter (47)")                                                     \
  XX(EALERT_UNKNOWN_CA, -248, "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", "peer sent alert unknown_ca (48)") \
  XX(EALERT_ACCESS_DENIED, -249, "ERR_SSL_TLSV1_ALERT_ACCESS_DENIED",                              \
     "peer sent alert access_denied (49)")                                                         \
  XX(EALERT_DECODE_ERROR, -250, "ERR_SSL_TLSV1_ALERT_DECODE_ERROR",                                \
     "peer sent alert decode_error (50)")                                                          \
  XX(EALERT_DECRYPT_ERROR, -251, "ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR",                              \
     "peer sent alert decrypt_error (51)")                                                         \
  XX(EALERT_INSUFFICIENT_SECURITY, -271, "ERR_SSL_TLSV1_ALERT_INSUFFICIENT_SECURITY",              \
     "peer sent alert insufficient_security (71)")                                                 \
  XX(EALERT_INTERNAL_ERROR, -280, "ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR",                            \
     "peer sent alert internal_error (80)")                                                        \
  XX(EALERT_INAPPROPRIATE_FALLBACK, -286, "ERR_SSL_TLSV1_ALERT_INAPPROPRIATE_FALLBACK",            \
     "peer sent alert inappropriate_fallback (86)")                                                \
  XX(EALERT_USER_CANCELLED, -290, "ERR_SSL_TLSV1_ALERT_USER_CANCELLED",                            \
     "peer sent alert user_canceled (90)")                                                         \
  XX(EALERT_MISSING_EXTENSION, -309, "ERR_SSL_TLSV13_ALERT_MISSING_EXTENSION",                     \
     "peer sent alert missing_extension (109)")                                                    \
  XX(EALERT_UNSUPPORTED_EXTENSION, -310, "ERR_SSL_TLSV1_UNSUPPORTED_EXTENSION",                    \
     "peer sent alert unsupported_extension (110)")                                                \
  XX(EALERT_UNRECOGNIZED_NAME, -312, "ERR_SSL_TLSV1_UNRECOGNIZED_NAME",                            \
     "peer sent alert unrecognized_name (112)")                                                    \
  XX(EALERT_BAD_CERTIFICATE_STATUS_RESPONSE, -313,                                                 \
     "ERR_SSL_TLSV1_BAD_CERTIFICATE_STATUS_RESPONSE",                                              \
     "peer sent alert bad_certificate_status_response (113)")                                      \
  XX(EALERT_UNKNOWN_PSK_IDENTITY, -315, "ERR_SSL_TLSV1_ALERT_UNKNOWN_PSK_IDENTITY",                \
     "peer sent alert unknown_psk_identity (115)")                                                 \
  XX(EALERT_CERTIFICATE_REQUIRED, -316, "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",               \
     "peer sent alert certificate_required (116)")                                                 \
  XX(EALERT_NO_APPLICATION_PROTOCOL, -320, "ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL",          \
     "peer sent alert no_application_protocol (120)")

typedef enum portls_errno {
#define PORTLS__ERRNO_ENUM(id, val, name, msg) PORTLS_##id = (val),
  PORTLS_ERRNO_MAP(PORTLS__ERRNO_ENUM)
#undef PORTLS__ERRNO_ENUM
      PORTLS_ERRNO_MIN_ = -456
} portls_errno;

/* An error as events and failing calls report it. */
typedef struct portls_error {
  int code;          /* a PORTLS_E* value, never 0 when set */
  char message[256]; /* human-readable, with the backend's own detail where it has one */
} portls_error;

/* Node: err.code: "ECONNRESET", "CERT_HAS_EXPIRED", ...; "UNKNOWN" for a
 * code not in the table (static string). */
const char *portls_err_name(int code);
/* The default message of a code (static string); "unknown error" for a code
 * not in the table. */
const char *portls_strerror(int code);
/* 1 if code is a certificate-verification code (Node's authorizationError
 * values, PORTLS_EUNABLE_TO_GET_ISSUER_CERT..PORTLS_EVERIFY_FAILED), else 0. */
int portls_err_is_verify(int code);

#ifdef __cplusplus
}
#endif
#endif
