/* portls: capabilities.
 *
 * A capability is a feature the linked backend's protocol engine can honour.
 * Each backend computes its set from what it was compiled against. Setting an
 * option that needs a capability the backend lacks fails at once with
 * PORTLS_ENOTSUP and a message naming the option, the capability and the
 * backend. One table yields the enum and the names printed by
 * `portls-<backend> caps` and the README's capability table.
 */
#ifndef PORTLS_CAPS_H
#define PORTLS_CAPS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* XX(enum suffix, bit, name, description) */
#define PORTLS_CAP_MAP(XX)                                                                         \
  XX(TLS1_0, 0, "tls1.0", "TLS 1.0")                                                               \
  XX(TLS1_1, 1, "tls1.1", "TLS 1.1")                                                               \
  XX(TLS1_2, 2, "tls1.2", "TLS 1.2")                                                               \
  XX(TLS1_3, 3, "tls1.3", "TLS 1.3")                                                               \
  XX(ALPN, 4, "alpn", "ALPN (client offer, server selection in server order)")                     \
  XX(NPN, 5, "npn", "NPN (next protocol negotiation)")                                             \
  XX(SNI, 6, "sni", "SNI: client sends a name, server switches context")                           \
  XX(OCSP_STAPLING, 7, "ocsp-stapling", "server staples an OCSP response")                         \
  XX(OCSP_REQUEST, 8, "ocsp-request", "client requests and reads an OCSP response")                \
  XX(DHE, 9, "dhe", "finite-field DHE key exchange (dhparam)")                                     \
  XX(DH_SIZE, 10, "dh-size", "report the server's DH parameter size")                              \
  XX(MIN_DH_SIZE, 11, "min-dh-size", "client minDHSize enforcement")                               \
  XX(ECDH_CURVES, 12, "ecdh-curves", "ECDHE curve selection (ecdhCurve)")                          \
  XX(RENEG_CLIENT, 13, "renegotiate-client", "initiate renegotiation as a client")                 \
  XX(RENEG_SERVER, 14, "renegotiate-server", "initiate renegotiation as a server")                 \
  XX(RENEG_COUNT, 15, "renegotiation-limit", "count client-initiated renegotiations")              \
  XX(SESSION_CACHE, 16, "session-cache", "server session-ID cache hooks")                          \
  XX(SESSION_TICKETS, 17, "session-tickets", "session tickets (RFC 5077)")                         \
  XX(TICKET_KEYS, 18, "ticket-keys", "48-byte ticketKeys shared between servers")                  \
  XX(PFX, 19, "pfx", "PKCS#12 / PFX containers")                                                   \
  XX(ENCRYPTED_KEYS, 20, "encrypted-keys", "passphrase-protected private keys")                    \
  XX(CRL, 21, "crl", "certificate revocation lists")                                               \
  XX(CIPHER_SERVER_PREF, 22, "honor-cipher-order", "server cipher preference")                     \
  XX(CIPHER_CLIENT_PREF, 23, "client-cipher-order", "honorCipherOrder:false (client preference)")  \
  XX(MAX_SEND_FRAGMENT, 24, "max-send-fragment", "setMaxSendFragment(512..16384)")                 \
  XX(MULTI_CERT, 25, "multi-cert", "several key/cert pairs (RSA + ECDSA) chosen per client")       \
  XX(IDLE_RELEASE, 26, "idle-release",                                                             \
     "a quiet TLS 1.3 server connection gives its library session back")                           \
  XX(TICKET_ROTATION, 27, "ticket-rotation",                                                       \
     "rotate ticket keys, still accepting the previous ones")                                      \
  /* exporters, Finished, signature algorithms (issue 13, point 4) */                              \
  XX(EXPORTER, 28, "exporter", "exportKeyingMaterial (RFC 5705 / RFC 8446 7.5)")                   \
  XX(FINISHED, 29, "finished", "getFinished()/getPeerFinished() on every version spoken")          \
  XX(SIGALGS, 30, "sigalgs", "the sigalgs option (signature algorithms, e.g. ECDSA+SHA256)")       \
  XX(SHARED_SIGALGS, 31, "shared-sigalgs", "getSharedSigalgs()")                                   \
  /* PSK (Node's pskCallback / pskIdentityHint) */                                                 \
  XX(PSK, 32, "psk", "pre-shared keys: pskCallback with TLS 1.2 PSK suites")                       \
  XX(PSK_TLS1_3, 33, "psk-tls1.3", "pskCallback keys used as TLS 1.3 external PSKs")               \
  XX(PSK_HINT, 34, "psk-hint", "pskIdentityHint sent by a server and seen by a client")            \
  XX(KEYLOG, 35, "keylog", "NSS key log lines of each connection's secrets (keylog)")              \
  XX(TRACE, 36, "trace", "one line per handshake message sent and received (enableTrace)")

typedef enum portls_cap {
#define PORTLS__CAP_ENUM(id, bit, name, desc) PORTLS_CAP_##id = (bit),
  PORTLS_CAP_MAP(PORTLS__CAP_ENUM)
#undef PORTLS__CAP_ENUM
      PORTLS_CAP_COUNT_
} portls_cap;

/* 1 if the linked backend has the capability, 0 if not (or cap is unknown).
 * An option that needs a missing one fails with PORTLS_ENOTSUP when set. */
int portls_has_capability(portls_cap cap);
/* "tls1.3", "alpn", ... (static string); NULL for an unknown cap. */
const char *portls_capability_name(portls_cap cap);
/* One-line description of a capability (static string); NULL for an unknown cap. */
const char *portls_capability_description(portls_cap cap);
/* The whole set as a bit mask (bit n = portls_cap n). */
uint64_t portls_capabilities(void);

#ifdef __cplusplus
}
#endif
#endif
