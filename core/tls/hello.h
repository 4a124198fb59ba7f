/* portls core: an incremental, bounded ClientHello parser.
 *
 * A server feeds it the ciphertext bytes the peer sends, as they arrive and
 * in any split (byte by byte, across reads, across TLS records: a ClientHello
 * may span several handshake records). It reports when the whole ClientHello
 * has been seen and what it says, so that core can pause the handshake and
 * ask the application (SNICallback, resumeSession, OCSPRequest) before the
 * backend reads a single byte. That is what makes those hooks asynchronous on
 * every backend, including those whose own callbacks are synchronous.
 *
 * The parser never consumes: it keeps its own copy of the handshake message
 * (de-framed from the records, at most PORTLS__HELLO_BODY_MAX + 4 bytes) and
 * the caller keeps the ciphertext and later gives all of it to the backend
 * unchanged.
 *
 * The bytes come from an unauthenticated peer: every length is checked
 * against its container, every container must be consumed exactly, and the
 * parser stops (malformed) as soon as more than PORTLS__HELLO_MAX bytes have
 * gone by without a complete ClientHello. The outcome does not depend on how
 * the input was split: the same bytes give the same result and the same
 * message however they are fed.
 *
 * Internal: never included by a public header.
 */
#ifndef PORTLS_CORE_TLS_HELLO_H
#define PORTLS_CORE_TLS_HELLO_H

#include <stddef.h>
#include <stdint.h>

#include "portls/errors.h"

/* Largest ClientHello body accepted (the handshake message without its 4-byte
 * header): 64 KiB. Most hellos are a few hundred bytes, up to ~2 KiB with
 * post-quantum key shares, but a client may send far more (a large session
 * ticket, a long ALPN list, padding) over several records of at most 16 KiB
 * each; the extensions alone may take 64 KiB. OpenSSL accepts up to 128 KiB,
 * BoringSSL 16 KiB (more when it asks for a client certificate), mbedTLS
 * 2.28 what one record carries: past core, the backend's own limit applies. */
#define PORTLS__HELLO_BODY_MAX 65536u
/* Largest number of raw bytes (record headers included) the parser reads
 * before giving up: a maximal hello plus the headers of up to 1024 records
 * (records of 64 bytes and more, for a maximal hello). */
#define PORTLS__HELLO_MAX (PORTLS__HELLO_BODY_MAX + 4u + 5u * 1024u)

/* What portls__hello_feed returns; negative values are PORTLS_E* codes. */
#define PORTLS__HELLO_MORE 0    /* a prefix of a ClientHello so far: feed more */
#define PORTLS__HELLO_DONE 1    /* a whole ClientHello: see h->ch */
#define PORTLS__HELLO_NOT_TLS 2 /* not TLS at all (another protocol, SSLv2 format) */
/* PORTLS_EPROTO: TLS records, but not a well-formed ClientHello (h->err says why).
 * PORTLS_ENOMEM: the parser could not allocate its copy of the message. */

/* Why a parse failed, for callers and tests that need more than the text. */
typedef enum portls__hello_why {
  PORTLS__HELLO_OK = 0,
  PORTLS__HELLO_E_SSLV2,         /* NOT_TLS: first byte has the high bit set (SSLv2 format) */
  PORTLS__HELLO_E_NOT_HANDSHAKE, /* NOT_TLS: the first record is not a TLS handshake record */
  PORTLS__HELLO_E_RECORD,        /* a record of 0 or > 16384 bytes; a later record of
                                    another type or version */
  PORTLS__HELLO_E_NOT_HELLO,     /* the first handshake message is not a ClientHello */
  PORTLS__HELLO_E_TOO_BIG,       /* over PORTLS__HELLO_BODY_MAX or PORTLS__HELLO_MAX */
  PORTLS__HELLO_E_LENGTH,        /* a length that does not fit its container, or leftovers */
  PORTLS__HELLO_E_DUP_EXT,       /* an extension type appears twice (RFC 8446, 4.2) */
  PORTLS__HELLO_E_SNI,           /* server_name: no host_name, two, bad length, a NUL byte */
  PORTLS__HELLO_E_ALPN,          /* ALPN: bad lengths, empty list, an empty protocol name */
  PORTLS__HELLO_E_EXT,           /* another known extension with malformed contents */
  PORTLS__HELLO_E_PSK_NOT_LAST,  /* pre_shared_key is not the last extension */
  PORTLS__HELLO_E_NOMEM
} portls__hello_why;

/* Extension types the parser understands. */
#define PORTLS__EXT_SERVER_NAME 0
#define PORTLS__EXT_STATUS_REQUEST 5
#define PORTLS__EXT_SUPPORTED_GROUPS 10
#define PORTLS__EXT_SIGNATURE_ALGORITHMS 13
#define PORTLS__EXT_ALPN 16
#define PORTLS__EXT_SESSION_TICKET 35
#define PORTLS__EXT_PRE_SHARED_KEY 41
#define PORTLS__EXT_EARLY_DATA 42
#define PORTLS__EXT_SUPPORTED_VERSIONS 43
#define PORTLS__EXT_NPN 13172
#define PORTLS__EXT_RENEGOTIATION_INFO 0xff01

/* A parsed ClientHello. Pointers point into the parser's copy of the message
 * (servername into the parser itself, so a portls__hello must not be moved
 * while they are in use) and stay valid until portls__hello_free. Lists of 16-bit values (suites,
 * versions, groups, signature algorithms) are the wire bytes, big-endian:
 * read entry i with portls__hello_u16(list, i). An absent extension leaves
 * its pointer NULL and its count 0. */
typedef struct portls__client_hello {
  uint16_t version;      /* legacy_version, e.g. 0x0303 */
  const uint8_t *random; /* 32 bytes */
  const uint8_t *session_id;
  size_t session_id_len; /* 0..32 */
  const uint8_t *suites; /* cipher suite ids, including SCSVs and GREASE */
  size_t n_suites;       /* >= 1 */
  const uint8_t *compressions;
  size_t n_compressions; /* >= 1 */
  const uint8_t *exts;   /* the extensions, each type(2) length(2) data, in wire order */
  size_t exts_len;
  size_t n_exts;

  /* server_name: the host_name, NUL-terminated, 1..255 bytes, no NUL inside. */
  const char *servername; /* NULL when absent */
  size_t servername_len;
  /* ALPN, in wire form (each name: a length byte, then the name), validated:
   * non-empty and no empty name. Walk it with portls__hello_alpn_next. */
  const uint8_t *alpn; /* NULL when absent */
  size_t alpn_len;
  int status_request;    /* status_request with status_type ocsp (OCSPRequest) */
  int session_ticket;    /* the session_ticket extension is there (maybe empty) */
  const uint8_t *ticket; /* its contents when not empty, else NULL */
  size_t ticket_len;
  const uint8_t *versions; /* supported_versions (present: a TLS 1.3-capable client) */
  size_t n_versions;
  int pre_shared_key; /* TLS 1.3 resumption offered */
  size_t n_psk_identities;
  const uint8_t *psk_identity; /* the first identity */
  size_t psk_identity_len;
  int early_data;        /* TLS 1.3 0-RTT offered */
  int npn;               /* next_protocol_negotiation */
  int reneg_info;        /* renegotiation_info extension */
  int reneg_scsv;        /* TLS_EMPTY_RENEGOTIATION_INFO_SCSV among the suites */
  const uint8_t *groups; /* supported_groups */
  size_t n_groups;
  const uint8_t *sigalgs; /* signature_algorithms */
  size_t n_sigalgs;
} portls__client_hello;

typedef struct portls__hello {
  int state; /* what the last feed returned; sticky once not MORE */
  portls__hello_why why;
  portls_error err;        /* set with NOT_TLS and errors */
  portls__client_hello ch; /* valid once state is PORTLS__HELLO_DONE */
  size_t raw;              /* bytes read so far, record headers included */
  uint8_t rec[5];          /* the record header being read */
  size_t rec_got;
  size_t rec_left; /* payload bytes left in the current record */
  size_t nrec;     /* records started */
  uint8_t hs[4];   /* the handshake message header */
  size_t hs_got;   /* message bytes seen: header, then body */
  uint8_t *body;   /* the body, allocated once its length is known */
  size_t body_len;
  char sni[256];
} portls__hello;

void portls__hello_init(portls__hello *h);
/* Frees the parser's copy of the message; h->ch is invalid afterwards. */
void portls__hello_free(portls__hello *h);

/* Feeds the next len bytes the peer sent (data may be NULL when len is 0).
 * Returns PORTLS__HELLO_MORE, PORTLS__HELLO_DONE, PORTLS__HELLO_NOT_TLS,
 * PORTLS_EPROTO or PORTLS_ENOMEM. Any result other than MORE is final: later
 * calls return it again and ignore their bytes. Bytes that follow the end of
 * the ClientHello are ignored. */
int portls__hello_feed(portls__hello *h, const void *data, size_t len);

/* The TLS alert (AlertDescription, RFC 8446 6.2) a server answers a failed
 * parse with: decode_error for a malformed hello, handshake_failure for one
 * over the size limit, illegal_parameter for a duplicate extension or a
 * pre_shared_key that is not last, unexpected_message for another handshake
 * message, internal_error when out of memory; 0 (no alert) for input that is
 * not TLS at all and while the parse is not over or succeeded. */
#define PORTLS__ALERT_UNEXPECTED_MESSAGE 10
#define PORTLS__ALERT_HANDSHAKE_FAILURE 40
#define PORTLS__ALERT_ILLEGAL_PARAMETER 47
#define PORTLS__ALERT_DECODE_ERROR 50
#define PORTLS__ALERT_INTERNAL_ERROR 80
unsigned portls__hello_alert(const portls__hello *h);

/* Bytes read, record headers included: once DONE, up to the last byte of the
 * ClientHello; after a failure, up to the byte that decided it
 * (PORTLS__HELLO_MAX when the byte limit was hit); while MORE, all of them. */
size_t portls__hello_consumed(const portls__hello *h);

/* Entry i of a list of big-endian 16-bit values. */
static inline uint16_t portls__hello_u16(const uint8_t *list, size_t i) {
  return (uint16_t)((unsigned)list[2 * i] << 8 | list[2 * i + 1]);
}

/* 1 when the list of n 16-bit values contains v. */
int portls__hello_has_u16(const uint8_t *list, size_t n, uint16_t v);

/* 1 when the client offers TLS 1.3 (0x0304 in supported_versions). */
int portls__hello_offers_tls13(const portls__client_hello *ch);

/* Finds extension type; returns 1 and its contents, or 0 when absent. */
int portls__hello_find_ext(const portls__client_hello *ch, uint16_t type, const uint8_t **data,
                           size_t *len);

/* Walks the extensions in wire order: *pos starts at 0; returns 1 with the next
 * one, 0 at the end. */
int portls__hello_next_ext(const portls__client_hello *ch, size_t *pos, uint16_t *type,
                           const uint8_t **data, size_t *len);

/* Walks an ALPN list in wire form (as in portls__client_hello.alpn): *pos starts
 * at 0; returns 1 with the next name (not NUL-terminated), 0 at the end or on
 * a name that overruns the list. */
int portls__hello_alpn_next(const uint8_t *wire, size_t len, size_t *pos, const uint8_t **name,
                            size_t *name_len);

#endif
