/* portls: Node.js's `tls` model for C programs, over OpenSSL 3, BoringSSL or mbedTLS.
 *
 * Conventions
 * -----------
 * Objects. Every object is opaque and created by a `_new`, `connect` or
 * `create_server` function. Sockets, servers and SecurePairs are closed
 * asynchronously: their memory stays valid until their close callback has
 * run, and is freed by the library right after it returns. Contexts are
 * reference counted.
 *
 * Callbacks. Events are typed C callbacks with a `void *user`, one listener per
 * event, set in an events struct (copied). Callbacks always run from the loop,
 * never from inside the API call that caused them. If a call that takes a
 * callback fails, the callback is never called.
 *
 * Errors. Fallible calls return 0 (or a non-negative count) on success and a
 * negative PORTLS_E* code on failure; those that take a `portls_error *err`
 * (which may be NULL) also fill it with the code and a message. Error events
 * carry a portls_error. Names come from Node and OpenSSL (portls_err_name()).
 *
 * Borrowing. Pointers passed in (options, buffers, strings) are borrowed for
 * the duration of the call and copied where they must outlive it. Pointers
 * returned by getters are valid until the object closes or the next call that
 * changes the state they describe.
 *
 * NULL. A NULL object pointer is PORTLS_EINVAL, never a crash. Where Node
 * returns `false` or `null` for "nothing" (servername, alpnProtocol), the C
 * getter returns NULL.
 *
 * Threads. A loop and everything attached to it belong to one thread. Distinct
 * loops may run on distinct threads. portls_set_allocator(),
 * portls_set_default_ciphers() and portls_set_default_min_version() /
 * portls_set_default_max_version() are process-wide and must be called
 * before any object exists.
 * Threads. A loop and everything attached to it (sockets, servers, timers,
 * SecurePairs, requests) belong to the thread that runs the loop: call their
 * functions from that thread only. Distinct loops may run on distinct threads
 * at the same time. A context (portls_context) may be shared by loops on any
 * number of threads: portls_context_ref(), portls_context_free() and
 * server.setTicketKeys() on it are safe from any thread, and so is resumption
 * with one context's ticket keys on every thread. The process-wide state the
 * library sets up itself (the backend's initialisation, the
 * PORTLS_TLS_CIPHER_LIST environment variable) is initialised once, safely,
 * by whichever thread needs it first; portls_set_client_reneg_limit() may be
 * called from any thread. portls_set_allocator() and
 * portls_set_default_ciphers() must be called before any object exists, with
 * no other thread inside the library. A server with `workers` (several
 * threads) is the exception that proves the rule: see portls_server_options.
 *
 * Capabilities. An option the linked backend cannot honour fails when set with
 * PORTLS_ENOTSUP naming the option, the capability and the backend (caps.h).
 */
#ifndef PORTLS_H
#define PORTLS_H

#include <stddef.h>
#include <stdint.h>

#include "caps.h"
#include "cert.h"
#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PORTLS_VERSION_MAJOR 0
#define PORTLS_VERSION_MINOR 1
#define PORTLS_VERSION_PATCH 0

/* ------------------------------------------------------------------------ */
/* Library                                                                    */

/* This library's version, "0.1.0" (static string). */
const char *portls_version_string(void);
/* "openssl", "boringssl" or "mbedtls": the backend this library was built
 * with (static string). */
const char *portls_backend_name(void);
/* The backend library's own version text, e.g. "OpenSSL 3.0.19 27 Jan 2026"
 * (static string). */
const char *portls_backend_version(void);
/* "libuv" or "posix": the platform this library was built with (static string). */
const char *portls_platform_name(void);

/* A replacement for malloc/realloc/free for the whole library (and, where the
 * backend allows it, the backend's own allocations). Must be called before any
 * other portls call creates an object. NULL restores libc's. */
typedef struct portls_allocator {
  void *(*malloc_fn)(void *ctx, size_t size);
  void *(*realloc_fn)(void *ctx, void *ptr, size_t size);
  void (*free_fn)(void *ctx, void *ptr);
  void *ctx;
} portls_allocator;
/* Installs allocator (copied) for the whole process; NULL restores libc's.
 * Call it before any object exists (not thread-safe). Errors: PORTLS_EINVAL
 * when one of the three functions is NULL. */
int portls_set_allocator(const portls_allocator *allocator);

/* Frees memory the library handed to the caller (JSON strings, file data,
 * sessions, cipher lists), with the allocator in force. NULL is a no-op. */
void portls_free(void *ptr);

/* A borrowed byte range. */
typedef struct portls_buf {
  const void *base;
  size_t len;
} portls_buf;

/* Reads a whole file into *out (hosted builds only); a NUL, not counted in
 * len, follows the data. The caller frees out->base with portls_free().
 * Errors: PORTLS_EINVAL, PORTLS_ENOENT, PORTLS_EACCES, PORTLS_EIO, PORTLS_ENOMEM. */
int portls_read_file(const char *path, portls_buf *out, portls_error *err);

/* ------------------------------------------------------------------------ */
/* Loop and timers                                                            */

typedef struct portls_loop portls_loop;

/* Creates an event loop on the compiled platform (Node's event loop); the
 * caller frees it with portls_loop_free(). Errors: PORTLS_EINVAL,
 * PORTLS_ENOMEM, or the platform's error. */
int portls_loop_new(portls_loop **out);
/* Runs until no socket, server or active timer remains, or portls_loop_stop().
 * Returns 0, or a negative code: PORTLS_EINVAL, or the platform's error. */
int portls_loop_run(portls_loop *loop);
/* Runs one iteration; with block, waits for at least one event. Returns 1 if
 * more work remains, 0 if none, or PORTLS_EINVAL / the platform's error. */
int portls_loop_run_once(portls_loop *loop, int block);
/* Makes portls_loop_run() return after the current iteration. */
void portls_loop_stop(portls_loop *loop);

/* Your own event loop (libuv's uv_backend_fd / uv_backend_timeout). An
 * application with its own epoll or poll loop adds this descriptor to it
 * (for reading); when it is readable, or when the timeout below has passed,
 * it calls portls_loop_run_once(loop, 0). On the posix platform (Linux) it is
 * an epoll descriptor that mirrors the loop's sockets; on libuv, the loop's
 * own. Valid while the loop lives; the library owns it. Errors:
 * PORTLS_EINVAL, PORTLS_ENOTSUP (the platform has no such descriptor: posix
 * outside Linux). */
int portls_loop_backend_fd(portls_loop *loop);
/* How long the application may wait before it must run the loop again: ms,
 * -1 for as long as it likes (nothing is due), 0 to run it now (something is
 * ready, or the loop has nothing at all to do). Ask it again after every run. */
int portls_loop_backend_timeout(portls_loop *loop);
/* Frees a loop with no objects left. Errors: PORTLS_EBUSY while a socket,
 * server or timer remains or deferred work is pending, PORTLS_EINVAL. */
int portls_loop_free(portls_loop *loop);
/* Milliseconds of the loop's monotonic clock, cached per iteration (0 for NULL). */
uint64_t portls_loop_now(portls_loop *loop);

typedef struct portls_timer portls_timer;
typedef void (*portls_timer_cb)(portls_timer *timer, void *user);
/* Creates a stopped timer, like Node's setTimeout/setInterval: cb(timer,
 * user) runs from the loop each time it fires. The caller frees it with
 * portls_timer_free(); while it exists the loop is not free. Errors:
 * PORTLS_EINVAL (loop, cb or out NULL), PORTLS_ENOMEM, the platform's error. */
int portls_timer_new(portls_loop *loop, portls_timer_cb cb, void *user, portls_timer **out);
/* (Re)starts: fires after timeout_ms, then every repeat_ms if repeat_ms > 0.
 * Node: setTimeout / setInterval / timeout.refresh(). Errors: PORTLS_EINVAL. */
int portls_timer_start(portls_timer *timer, uint64_t timeout_ms, uint64_t repeat_ms);
/* Stops the timer without freeing it; portls_timer_start() may start it again.
 * Node: clearTimeout / clearInterval. NULL is a no-op. */
void portls_timer_stop(portls_timer *timer);
/* Stops and frees the timer (its callback will not run again). NULL is a no-op. */
void portls_timer_free(portls_timer *timer);

/* A descriptor the application owns, watched by the loop (libuv's uv_poll_t):
 * for libraries with sockets of their own, such as a Redis client, to run
 * on a portls loop. Not for portls's own sockets. */
typedef struct portls_poll portls_poll;
/* What portls_poll_start() watches and the callback reports. */
enum { PORTLS_POLL_READABLE = 1, PORTLS_POLL_WRITABLE = 2 };
/* Runs from the loop when fd is ready: events is PORTLS_POLL_READABLE and/or
 * _WRITABLE (a hang-up or socket error reports the directions watched, so
 * the owner's read or write sees it); status is 0, or a negative code when
 * the descriptor is no longer valid (the poll is then stopped). */
typedef void (*portls_poll_cb)(portls_poll *poll, int status, int events, void *user);
/* Creates a stopped poll of fd (borrowed: the caller closes it, after
 * portls_poll_free()). While a poll is started the loop keeps running; while
 * it exists the loop is not free. Errors: PORTLS_EINVAL, PORTLS_ENOMEM,
 * PORTLS_ENOTSUP (a platform without descriptor watches), the platform's. */
int portls_poll_new(portls_loop *loop, int fd, portls_poll_cb cb, void *user, portls_poll **out);
/* Watches events (PORTLS_POLL_READABLE | PORTLS_POLL_WRITABLE), replacing
 * what was watched; 0 stops. Errors: PORTLS_EINVAL, the platform's. */
int portls_poll_start(portls_poll *poll, int events);
/* Stops watching; portls_poll_start() may start again. NULL is a no-op. */
void portls_poll_stop(portls_poll *poll);
/* Stops and frees the poll (its callback will not run again); the descriptor
 * stays open. NULL is a no-op. */
void portls_poll_free(portls_poll *poll);

/* ------------------------------------------------------------------------ */
/* SecureContext                                                              */

typedef struct portls_context portls_context;

/* TLS protocol versions, with their wire numbers. */
typedef enum portls_tls_version {
  PORTLS_TLS_ANY = 0,
  PORTLS_TLS1_0 = 0x0301,
  PORTLS_TLS1_1 = 0x0302,
  PORTLS_TLS1_2 = 0x0303,
  PORTLS_TLS1_3 = 0x0304
} portls_tls_version;

/* Node: the details of tls.createSecureContext(). Initialise with
 * portls_context_options_init() (which sets the specification's defaults),
 * then set what you need. Every buffer is copied by portls_context_new(). */
typedef struct portls_context_options {
  const portls_buf *key; /* PEM (or DER) private keys: one per certificate */
  size_t key_count;
  const portls_buf *cert; /* PEM certificates, each leaf first then its chain */
  size_t cert_count;
  const char *passphrase; /* for encrypted keys and pfx */
  portls_buf pfx;         /* PKCS#12; exclusive with key/cert. Requires: PORTLS_CAP_PFX */
  const portls_buf *ca;   /* trusted CAs (PEM, several per buffer allowed); none: system roots */
  size_t ca_count;
  const portls_buf *crl; /* PEM CRLs. Requires: PORTLS_CAP_CRL */
  size_t crl_count;
  const char *ciphers; /* OpenSSL cipher-list syntax; NULL: the default list */
  /* "auto" (default, Node >= 10: the library's own group order, X25519 first, then P-256,
   * with P-384 among the rest), a ':'-list such as "prime256v1" or "secp384r1", or "false"
   * to disable ECDHE below TLS 1.3. A client offers exactly these groups. */
  const char *ecdh_curve;
  portls_buf dhparam;          /* PEM DH parameters; unparsable/absent: no DHE (specification) */
  int honor_cipher_order;      /* server: prefer our order. Default 1 */
  const char *secure_protocol; /* "SSLv23_method", "TLSv1_2_method", ...; NULL: any */
  /* Node: minVersion / maxVersion. PORTLS_TLS_ANY (0): the process default
   * (portls_set_default_min_version()), else the backend's range (TLS 1.2 up
   * to the highest it has). Either one set together with secure_protocol is
   * PORTLS_EPROTOCOL_VERSION_CONFLICT, as in Node; min above max, or a value
   * not in portls_tls_version, is PORTLS_EPROTOCOL_VERSION. A range with no
   * version the backend has is PORTLS_ENOTSUP naming the capability
   * (min_version PORTLS_TLS1_3 on a backend without "tls1.3"); a max above
   * what the backend has means its highest. */
  portls_tls_version min_version;
  portls_tls_version max_version;
  const char *session_id_context;
  int session_timeout;    /* seconds; 0: the backend's default (300) */
  portls_buf ticket_keys; /* 48 bytes: 16 name, 16 HMAC, 16 AES. Requires: PORTLS_CAP_TICKET_KEYS */
  /* Node: secureOptions SSL_OP_NO_TICKET. A server issues no session
   * tickets, so TLS 1.2 clients resume by session id (newSession /
   * resumeSession); a client offers none. Default 0. */
  int disable_tickets;
  /* Node: sigalgs: the signature algorithms offered and accepted, a
   * ':'-list of OpenSSL's names ("ECDSA+SHA256:RSA-PSS+SHA256",
   * "rsa_pss_rsae_sha256", "ed25519"); NULL: the backend's default. An
   * empty string, an empty entry or an unknown name is PORTLS_EINVAL naming
   * "sigalgs". Requires: PORTLS_CAP_SIGALGS */
  const char *sigalgs;
  /* Files (hosted builds), read by portls_context_new() and added to the
   * options above: key_file to key[], cert_file to cert[], ca_file and each
   * certificate of ca_path to ca[], crl_file to crl[]; pfx_file as pfx
   * (exclusive with it). Every error names the option and the path:
   * "cert_file /etc/x.pem: no PEM certificate found" (PORTLS_ECERT), a missing
   * file PORTLS_ENOENT, an unreadable one PORTLS_EACCES, on every backend. */
  const char *key_file;  /* a PEM (or DER) private key */
  const char *cert_file; /* PEM certificates, leaf first then its chain */
  const char *ca_file;   /* PEM CA certificates */
  /* OpenSSL's CApath: a directory of certificates named <hash>.<n> (as
   * `openssl rehash` / c_rehash make them), all of them trusted; read when
   * the context is made, on every backend. */
  const char *ca_path;
  const char *crl_file; /* PEM CRLs. Requires: PORTLS_CAP_CRL */
  const char *pfx_file; /* PKCS#12 (DER). Requires: PORTLS_CAP_PFX */
} portls_context_options;

/* Fills opts with Node's defaults for tls.createSecureContext(): no key, no
 * certificate, the system roots, the default cipher list, honor_cipher_order
 * 1. NULL is a no-op. */
void portls_context_options_init(portls_context_options *opts);

/* Node: tls.createSecureContext(details). Every option is copied; the caller
 * owns *out and drops it with portls_context_free(). On failure *out is NULL and err says
 * which option is wrong: PORTLS_EKEY, PORTLS_ECERT, PORTLS_EKEY_MISMATCH,
 * PORTLS_EBAD_PASSPHRASE, PORTLS_EPFX, PORTLS_ECRL, PORTLS_ECIPHERS,
 * PORTLS_EPROTOCOL_METHOD, PORTLS_EPROTOCOL_VERSION, PORTLS_EPROTOCOL_VERSION_CONFLICT,
 * PORTLS_EDHPARAM, PORTLS_ECURVE, PORTLS_ETICKET_KEYS,
 * PORTLS_ENOTSUP, PORTLS_EINVAL, PORTLS_ENOMEM; for a *_file option that cannot
 * be read PORTLS_ENOENT, PORTLS_EACCES or PORTLS_EIO, naming option and path;
 * without `ca`, the error of an unusable PORTLS_EXTRA_CA_CERTS file. */
int portls_context_new(const portls_context_options *opts, portls_context **out, portls_error *err);
/* What Node would print as a process warning about this context, or NULL:
 * "DH parameter is less than 2048 bits", or a dhparam that the backend
 * ignores because it lacks the "dhe" capability (PORTLS_CAP_DHE). Borrowed:
 * valid while ctx lives. */
const char *portls_context_warning(const portls_context *ctx);

/* Node: tls.rootCertificates: the system's trusted root certificates as PEM
 * strings, read once (hosted builds) from the bundle the backends trust:
 * $SSL_CERT_FILE, else the first of /etc/ssl/certs/ca-certificates.crt
 * (Debian), /etc/pki/tls/certs/ca-bundle.crt, /etc/ssl/cert.pem that exists.
 * *pems is a static array of *count strings, valid for the life of the
 * process (never freed). Errors: PORTLS_ENOENT (no bundle), PORTLS_ECERT (it
 * holds no certificate), PORTLS_ENOTSUP (no file system), PORTLS_ENOMEM,
 * PORTLS_EINVAL. */
int portls_root_certificates(const char *const **pems, size_t *count, portls_error *err);

/* Node: NODE_EXTRA_CA_CERTS, set from the program: contexts made afterwards
 * without `ca` (nor ca_file/ca_path) trust the system roots plus these PEM
 * certificates (copied; count 0 clears them). Process-wide: call it before
 * any object exists. When it was never called, the environment variable
 * PORTLS_EXTRA_CA_CERTS, naming a PEM file, is read once, at the first
 * context creation; a file that cannot be read or holds no certificate then
 * fails that and every later context without `ca`, with the variable and the
 * path in the message. Errors: PORTLS_ECERT (no certificate, or one that does
 * not parse, naming extra_ca[i]), PORTLS_EINVAL, PORTLS_ENOMEM. */
int portls_set_extra_ca_certs(const portls_buf *ca, size_t count, portls_error *err);

/* Takes another reference (dropped with portls_context_free()); returns ctx. */
portls_context *portls_context_ref(portls_context *ctx);
/* Drops a reference; the context is freed when servers and sockets using it
 * are done with it too. NULL is a no-op. */
void portls_context_free(portls_context *ctx);

/* Node: tls.getCiphers(): sorted lowercase names of the suites this backend
 * supports. Returns the count; *names is a static array (never freed). */
size_t portls_get_ciphers(const char *const **names);

/* The suites an OpenSSL-syntax cipher string selects on this backend, in
 * order (TLS 1.3 suites first, as `openssl ciphers` lists them), as
 * OpenSSL-style names; the same string gives the same list on every backend
 * except for suites a backend lacks. *names is one allocation (static
 * strings), freed with portls_free(). Errors: PORTLS_ECIPHERS naming the
 * unknown token or the string that selects nothing, PORTLS_EINVAL, PORTLS_ENOMEM. */
int portls_cipher_list(const char *ciphers, const char ***names, size_t *count, portls_error *err);

/* Node: the `--tls-cipher-list` switch. Replaces the default cipher list for
 * contexts created afterwards (ciphers is copied); NULL restores the
 * specification's default. Process-wide: call it before any object exists.
 * The environment variable PORTLS_TLS_CIPHER_LIST is read once, at the first
 * context creation, when no call to this function came first. Errors:
 * PORTLS_ECIPHERS (the list selects nothing), PORTLS_ENOMEM. */
int portls_set_default_ciphers(const char *ciphers, portls_error *err);
/* Node: tls.DEFAULT_CIPHERS: the default cipher list currently in force
 * (borrowed; valid until the next portls_set_default_ciphers()). */
const char *portls_default_ciphers(void);
/* Node: tls.DEFAULT_MIN_VERSION / tls.DEFAULT_MAX_VERSION. Sets the version
 * range for contexts created afterwards whose min_version / max_version is
 * PORTLS_TLS_ANY and that have no secure_protocol. PORTLS_TLS_ANY restores
 * the built-in default: TLS 1.2 (lower only with a cipher string's
 * "@SECLEVEL=0", as before) up to the highest version the backend has.
 * Process-wide: call it before any object exists. Errors:
 * PORTLS_EPROTOCOL_VERSION for a value not in portls_tls_version,
 * PORTLS_ENOTSUP naming the capability when the backend has no version on
 * that side of it (a minimum of TLS 1.3 without "tls1.3"); the old default
 * stays. The range (min above max) is checked by portls_context_new(),
 * naming the default. */
int portls_set_default_min_version(portls_tls_version version, portls_error *err);
/* See portls_set_default_min_version(). */
int portls_set_default_max_version(portls_tls_version version, portls_error *err);
/* The process-wide default minimum set by portls_set_default_min_version(),
 * PORTLS_TLS_ANY when none is (the built-in range applies). */
portls_tls_version portls_default_min_version(void);
/* The process-wide default maximum, PORTLS_TLS_ANY when none is set. */
portls_tls_version portls_default_max_version(void);
/* Node's name of a version ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"), as
 * minVersion takes it and getProtocol() gives it; NULL for any other value
 * (static string). */
const char *portls_tls_version_name(portls_tls_version version);
/* The version Node's name stands for ("TLSv1.2"), or PORTLS_TLS_ANY when the
 * name is none of portls_tls_version_name()'s (NULL too). */
portls_tls_version portls_tls_version_from_name(const char *name);

/* The specification's default cipher list. */
#define PORTLS_DEFAULT_CIPHERS                                                                     \
  "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:"                                     \
  "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES256-GCM-SHA384:"                                     \
  "DHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA256:DHE-RSA-AES128-SHA256:"                       \
  "ECDHE-RSA-AES256-SHA384:DHE-RSA-AES256-SHA384:ECDHE-RSA-AES256-SHA256:"                         \
  "DHE-RSA-AES256-SHA256:HIGH:!aNULL:!eNULL:!EXPORT:!DES:!RC4:!MD5:!PSK:!SRP:"                     \
  "!CAMELLIA"

/* ------------------------------------------------------------------------ */
/* Sockets: net.Socket and tls.TLSSocket                                      */

typedef struct portls_socket portls_socket;
typedef struct portls_server portls_server;

typedef void (*portls_socket_cb)(portls_socket *sock, void *user);
typedef void (*portls_data_cb)(portls_socket *sock, const void *data, size_t len, void *user);
typedef void (*portls_error_cb)(portls_socket *sock, const portls_error *err, void *user);
typedef void (*portls_close_cb)(portls_socket *sock, int had_error, void *user);
/* OCSPResponse: response NULL when the server stapled nothing. */
typedef void (*portls_ocsp_response_cb)(portls_socket *sock, const void *response, size_t len,
                                        void *user);
/* 'session' (a client's session to reuse, as getSession() would return it). */
typedef void (*portls_session_cb)(portls_socket *sock, const void *session, size_t len, void *user);
/* Node 'keylog' (line, tlsSocket): one NSS key log line (the format of
 * SSLKEYLOGFILE that Wireshark reads), its newline included, valid during
 * the call only. It holds a secret of the connection: CLIENT_RANDOM for TLS
 * 1.2 and below; CLIENT_HANDSHAKE_TRAFFIC_SECRET,
 * SERVER_HANDSHAKE_TRAFFIC_SECRET, CLIENT_TRAFFIC_SECRET_0,
 * SERVER_TRAFFIC_SECRET_0 and EXPORTER_SECRET for TLS 1.3. Called during the
 * handshake, from the loop; the socket may be destroyed from it (no line
 * follows then). Requires:
 * PORTLS_CAP_KEYLOG */
typedef void (*portls_keylog_cb)(portls_socket *sock, const void *line, size_t len, void *user);

/* One listener per event; any may be NULL. */
typedef struct portls_socket_events {
  portls_socket_cb connect;        /* Node 'connect': the transport is connected */
  portls_socket_cb secure_connect; /* Node 'secureConnect' (client) / SecurePair 'secure' */
  portls_data_cb data;             /* Node 'data': cleartext arrived */
  portls_socket_cb end;            /* Node 'end': the peer ended its side */
  portls_socket_cb drain;          /* Node 'drain': the write buffer emptied below the mark */
  portls_socket_cb timeout;        /* Node 'timeout': idle for setTimeout's delay */
  portls_error_cb error;           /* Node 'error': 'close' with had_error follows */
  portls_close_cb close;           /* Node 'close': the last event; memory is freed after it */
  portls_ocsp_response_cb ocsp_response; /* Node 'OCSPResponse' (requestOCSP) */
  portls_session_cb session;             /* Node 'session' */
  /* Node 'keylog'. Nothing is installed in the TLS library while no socket
   * or server listens. Lines of a handshake already under way come from the
   * moment it is set. Requires: PORTLS_CAP_KEYLOG */
  portls_keylog_cb keylog;
} portls_socket_events;

/* Replaces the socket's listeners (Node's socket.on(...) for every event at
 * once): events is copied (NULL removes them all), user is passed to each.
 * Errors: PORTLS_EINVAL, PORTLS_ENOTSUP (keylog without PORTLS_CAP_KEYLOG;
 * nothing is replaced then). */
int portls_socket_set_events(portls_socket *sock, const portls_socket_events *events, void *user);
/* The user pointer given with the socket's events (NULL for a NULL socket). */
void *portls_socket_user(const portls_socket *sock);

/* A list of ALPN or NPN protocol names, given either as C strings or as the
 * wire form ("\x02h2\x08http/1.1"); when both are set, names wins. Malformed
 * wire buffers and names longer than 255 bytes are PORTLS_EALPN. */
typedef struct portls_protocols {
  const char *const *names;
  size_t count;
  portls_buf wire;
} portls_protocols;

/* Node: checkServerIdentity(servername, cert). Return 0 to accept, or a
 * negative code after filling err. */
typedef int (*portls_check_identity_cb)(const char *servername, const portls_cert *cert,
                                        portls_error *err, void *user);

/* ---- PSK: Node's pskCallback and pskIdentityHint ----
 * A pre-shared key authenticates both sides without certificates (a server
 * with a PSK callback needs no key or certificate at all). TLS 1.2 uses the
 * PSK cipher suites, which the default cipher list excludes ("!PSK"), as in
 * Node: set `ciphers` to include them ("PSK-AES128-GCM-SHA256", "PSK", ...)
 * on both sides. TLS 1.3 uses the key as an external PSK (with
 * TLS_AES_128_GCM_SHA256's hash) where the backend has PORTLS_CAP_PSK_TLS1_3;
 * elsewhere a socket with a PSK callback is held to TLS 1.2 (unless its
 * context allows TLS 1.3 alone), so that its PSK can be used.
 *
 * The callbacks run synchronously inside the handshake, from the loop thread
 * (the engines ask for the key in the middle of a handshake message and
 * cannot wait for it), as Node's do. They must not block. They may call
 * portls_socket_destroy() on sock: the handshake then fails at once, and the
 * socket closes from the loop as usual (its memory stays valid until its
 * 'close'). portls_socket_write() and _end() inside them are queued until the
 * handshake completes, as before it; getters that describe the handshake
 * (getCipher, getPeerCertificate, ...) have nothing to say yet, and
 * renegotiate() is refused (PORTLS_EINVAL: not secure). */

#define PORTLS_PSK_MAX_KEY 256      /* bytes of key, as OpenSSL 3's PSK_MAX_PSK_LEN */
#define PORTLS_PSK_MAX_IDENTITY 128 /* bytes of identity, not counting the NUL */

/* What a PSK callback fills in. */
typedef struct portls_psk {
  uint8_t key[PORTLS_PSK_MAX_KEY];
  size_t
      key_len; /* 1..PORTLS_PSK_MAX_KEY (a backend may allow less: mbedTLS's MBEDTLS_PSK_MAX_LEN) */
  char identity[PORTLS_PSK_MAX_IDENTITY + 1]; /* client: a NUL-terminated identity to send */
} portls_psk;

/* Node: tls.connect()'s pskCallback(hint). hint is the server's
 * pskIdentityHint, or NULL (none sent; always NULL over TLS 1.3, and on a
 * backend without PORTLS_CAP_PSK_HINT). Fill psk->identity and psk->key and
 * return 1 to use them, or return 0 (Node's null) to offer no PSK: over TLS
 * 1.2 a PSK suite then fails the handshake, over TLS 1.3 the handshake goes on
 * with certificates. A key or identity of the wrong size fails the handshake
 * with PORTLS_EINVAL naming pskCallback. Requires: PORTLS_CAP_PSK */
typedef int (*portls_psk_client_cb)(portls_socket *sock, const char *hint, portls_psk *psk,
                                    void *user);
/* Node: tls.createServer()'s pskCallback(socket, identity). identity is what
 * the client sent (also in psk->identity). Fill psk->key and return 1, or
 * return 0 (Node's null) for an unknown identity: the handshake fails
 * (PORTLS_EPSK_IDENTITY_NOT_FOUND on this side over TLS 1.2; over TLS 1.3
 * the handshake goes on without the PSK, and fails when the server has no
 * certificate). Requires: PORTLS_CAP_PSK */
typedef int (*portls_psk_server_cb)(portls_socket *sock, const char *identity, portls_psk *psk,
                                    void *user);
/* enableTrace's output: one line (NUL-terminated, no newline) per handshake
 * message, ChangeCipherSpec or alert, sent ("-> ") or received ("<- "), e.g.
 * "<- ServerHello len=118, version TLSv1.3, cipher TLS_AES_256_GCM_SHA384". */
typedef void (*portls_trace_cb)(portls_socket *sock, const char *line, void *user);

/* Node: the options of net.connect(). */
typedef struct portls_net_connect_options {
  const char *host; /* default "localhost" */
  uint16_t port;
  const char *path;       /* Unix socket; when set, host and port are ignored */
  size_t high_water_mark; /* write() returns 0 above it; default 16384 */
  const portls_socket_events *events;
  void *user;
} portls_net_connect_options;

/* Fills opts with Node's defaults for net.connect(): all zero, which means
 * host "localhost" and high_water_mark 16384; no events. NULL is a no-op. */
void portls_net_connect_options_init(portls_net_connect_options *opts);

/* Node: net.connect(options). opts is borrowed for the call (strings are
 * copied); *out belongs to the library and is freed after its 'close'. The
 * result arrives as 'connect' or 'error' + 'close'. Errors returned here:
 * PORTLS_EINVAL, PORTLS_ENOMEM. */
int portls_net_connect(portls_loop *loop, const portls_net_connect_options *opts,
                       portls_socket **out, portls_error *err);

/* Node: the options of new tls.TLSSocket(): the TLS settings that tls.connect()
 * extends (portls_connect_options.tls) and that tls.createServer() gives its
 * accepted sockets (portls_server_options.tls). A field marked client or
 * server is ignored in the other role. The defaults are those of the
 * enclosing struct's `_options_init()`; where they differ, the field says. */
typedef struct portls_tls_options {
  portls_context *secure_context; /* borrowed (a reference is taken); NULL: built from `context` */
  portls_context_options context; /* used when secure_context is NULL */
  int request_cert;               /* server: ask for a client certificate. Default 0 */
  /* Default: 1 for tls.connect(), 0 for a server (honoured only with
   * request_cert), -1 for a TLS socket: 1 as a client, 0 as a server. */
  int reject_unauthorized;
  /* Server: destroy the socket if the handshake has not completed in time.
   * Default: 120000 for a server, 0 (none) for a TLS socket. */
  uint64_t handshake_timeout_ms;
  portls_protocols alpn_protocols;
  portls_protocols npn_protocols; /* Requires: PORTLS_CAP_NPN */
  /* Client: SNI and the name the identity check uses; tls.connect(): default
   * host, unless it is an IP address. Requires: PORTLS_CAP_SNI */
  const char *servername;
  portls_buf session; /* client: a session from getSession() to resume */
  int request_ocsp;   /* client. Requires: PORTLS_CAP_OCSP_REQUEST */
  int min_dh_size;    /* client; default 1024. Requires: PORTLS_CAP_MIN_DH_SIZE */
  portls_check_identity_cb check_server_identity; /* client; NULL: portls_check_server_identity */
  void *check_server_identity_user;
  /* PSK (Node's pskCallback and pskIdentityHint; see portls_psk). A client
   * that authenticated with a PSK and got no certificate is authorized and
   * skips check_server_identity (there is no certificate to check). */
  portls_psk_client_cb psk_client_callback; /* client. Requires: PORTLS_CAP_PSK */
  portls_psk_server_cb psk_server_callback; /* server. Requires: PORTLS_CAP_PSK */
  void *psk_user;
  /* Server: the identity hint sent in TLS 1.2's ServerKeyExchange (at most
   * PORTLS_PSK_MAX_IDENTITY bytes). Requires: PORTLS_CAP_PSK_HINT */
  const char *psk_identity_hint;
  /* Node: enableTrace: portls_socket_enable_trace(sock, trace, trace_user)
   * on the socket (a server: on each connection) before its first byte.
   * Default 0. Requires: PORTLS_CAP_TRACE */
  int enable_trace;
  portls_trace_cb trace; /* NULL: standard error */
  void *trace_user;
} portls_tls_options;

/* Node: the options of tls.connect(): the TLSSocket options plus where to connect. */
typedef struct portls_connect_options {
  const char *host; /* default "localhost" */
  uint16_t port;
  const char *path;      /* Unix socket; when set, host and port are ignored */
  portls_socket *socket; /* an existing connected net socket to secure (it is taken over) */
  portls_tls_options tls;
  size_t high_water_mark; /* default 16384 */
  const portls_socket_events *events;
  void *user;
  /* Name lookup, connect and handshake must end (secureConnect) within this
   * many milliseconds, else the socket is destroyed with an `error` of code
   * PORTLS_ETIMEDOUT, then `close`. The timer stops at the end of the
   * handshake; it never cuts an established connection. Default 0: none,
   * as Node. (Node users reach it through socket.setTimeout(), which only
   * emits 'timeout'; this option ends the socket itself.) */
  uint64_t timeout_ms;
} portls_connect_options;

/* Fills opts with Node's defaults for tls.connect(): tls.reject_unauthorized
 * 1, tls.min_dh_size 1024, the context defaults of
 * portls_context_options_init(), the rest zero (host NULL: "localhost";
 * high_water_mark 0: 16384). NULL is a no-op. */
void portls_connect_options_init(portls_connect_options *opts);

/* Node: tls.connect(options). opts is borrowed for the call (what must
 * outlive it is copied; opts->tls.secure_context gets a reference); *out
 * belongs to the library and is freed after its 'close'. The result arrives
 * as 'secureConnect', or as
 * 'error' + 'close' (refused, reset, handshake failure, and, with
 * reject_unauthorized, a certificate that does not verify or does not name the
 * host: err->code is the verification code, e.g. PORTLS_ECERT_HAS_EXPIRED or
 * PORTLS_ECERT_ALTNAME_INVALID). Errors returned here: PORTLS_EINVAL,
 * PORTLS_ENOMEM, PORTLS_EALPN, PORTLS_ENOTSUP (an option needs a capability the
 * backend lacks: PORTLS_CAP_ALPN, _NPN, _SNI, _OCSP_REQUEST), and those of
 * portls_context_new(). */
int portls_tls_connect(portls_loop *loop, const portls_connect_options *opts, portls_socket **out,
                       portls_error *err);

/* Node: the options of new tls.TLSSocket(socket, options) and of
 * tls.createSecurePair(); also what a server gives its accepted sockets. */
typedef struct portls_tls_socket_options {
  portls_tls_options tls;
  int is_server; /* default 0 */
  size_t high_water_mark;
  const portls_socket_events *events;
  void *user;
} portls_tls_socket_options;

/* Fills opts with Node's defaults for new tls.TLSSocket(): a client,
 * tls.reject_unauthorized -1 (1 as a client, 0 as a server), tls.min_dh_size
 * 1024, no handshake timeout, the context defaults of
 * portls_context_options_init(). NULL is a no-op. */
void portls_tls_socket_options_init(portls_tls_socket_options *opts);

/* Node: new tls.TLSSocket(socket, options): secures a connected net socket
 * (STARTTLS). The net socket is taken over: its events now belong to the TLS
 * socket, which destroys it when it closes; do not use it afterwards. opts is
 * borrowed as for portls_tls_connect(); *out is freed after its 'close'.
 * Errors: PORTLS_EINVAL (not a connected plain socket), those of
 * portls_context_new(), PORTLS_EALPN, PORTLS_ENOTSUP, PORTLS_ENOMEM. */
int portls_tls_socket_wrap(portls_socket *net_socket, const portls_tls_socket_options *opts,
                           portls_socket **out, portls_error *err);

/* A byte stream the application implements (a serial line, a tunnel, a
 * protocol inside another protocol). portls calls these; received bytes go in
 * with portls_socket_push(). Every function must not call back into portls. */
typedef struct portls_duplex_ops {
  /* Takes len bytes for the peer (copy them if they must outlive the call).
   * 0, or a negative PORTLS_E* code (the socket is then destroyed with it). */
  int (*write)(void *impl, const void *data, size_t len);
  /* No more bytes will be written (half-close). May be NULL. */
  void (*end)(void *impl);
  /* The socket has closed: release the stream. May be NULL. */
  void (*destroy)(void *impl);
} portls_duplex_ops;

/* Node: new tls.TLSSocket(duplex, options) over an application-defined
 * stream. ops is copied; impl is borrowed until ops->destroy runs and is
 * passed back to each op; opts is borrowed as for portls_tls_connect(); *out
 * is freed after its 'close'. Errors: PORTLS_EINVAL, those of
 * portls_context_new(), PORTLS_EALPN, PORTLS_ENOTSUP, PORTLS_ENOMEM. */
int portls_tls_socket_from_duplex(portls_loop *loop, const portls_duplex_ops *ops, void *impl,
                                  const portls_tls_socket_options *opts, portls_socket **out,
                                  portls_error *err);
/* Node: duplex.push(chunk) / push(null): hands bytes received from the
 * application's stream to a socket made by portls_tls_socket_from_duplex()
 * (copied; processed from the loop). len 0 means the stream ended (EOF).
 * Errors: PORTLS_EINVAL (other sockets), PORTLS_ESTREAM_DESTROYED,
 * PORTLS_EWRITE_AFTER_END (after EOF), PORTLS_ENOMEM. */
int portls_socket_push(portls_socket *sock, const void *data, size_t len);

/* Node: socket.write(data). data is copied. Returns 1 if the data was queued
 * below the high water mark, 0 if the caller should wait for 'drain' (the
 * data is still queued), or PORTLS_EWRITE_AFTER_END / PORTLS_ESTREAM_DESTROYED /
 * PORTLS_EINVAL / PORTLS_ENOMEM.
 * On a TLS socket, data written before the handshake completes is sent after it. */
int portls_socket_write(portls_socket *sock, const void *data, size_t len);
/* Node: socket.end([data]): writes data (copied; may be NULL), then
 * half-closes (on TLS: close_notify, then the transport's write side).
 * Errors: as portls_socket_write(). */
int portls_socket_end(portls_socket *sock, const void *data, size_t len);
/* Node: socket.destroy([err]): closes at once; 'error' (when err is given;
 * copied) then 'close' follow from the loop. NULL sock is a no-op. */
void portls_socket_destroy(portls_socket *sock, const portls_error *err);
/* Node: socket.pause(): stops 'data' events (and reading) until resumed. */
void portls_socket_pause(portls_socket *sock);
/* Node: socket.resume(): restarts 'data' events, from the loop. */
void portls_socket_resume(portls_socket *sock);
/* Node: socket.setTimeout(ms): 'timeout' after ms without activity; 0 disables.
 * Errors: PORTLS_EINVAL, PORTLS_ESTREAM_DESTROYED, the platform's error. */
int portls_socket_set_timeout(portls_socket *sock, uint64_t ms);
/* Node: socket.setNoDelay([noDelay]). Errors: PORTLS_EINVAL, PORTLS_ENOTCONN
 * (no transport yet), PORTLS_ENOTSUP (a transport without the option, e.g. a
 * SecurePair's), the platform's error. */
int portls_socket_set_no_delay(portls_socket *sock, int no_delay);
/* Node: socket.setKeepAlive([enable][, initialDelay]). Errors: as
 * portls_socket_set_no_delay(). */
int portls_socket_set_keep_alive(portls_socket *sock, int enable, unsigned initial_delay_ms);

/* An address as Node reports it. */
typedef struct portls_address {
  char address[108];  /* "127.0.0.1", "::1", or a Unix socket path */
  const char *family; /* "IPv4", "IPv6" or "Unix" */
  int port;           /* 0 for Unix sockets */
} portls_address;

/* Node: socket.address(): the local address, into *out. Errors:
 * PORTLS_EINVAL, PORTLS_ENOTCONN before the transport is connected. */
int portls_socket_address(portls_socket *sock, portls_address *out);
/* Node: socket.remoteAddress / remoteFamily / remotePort, into *out. Errors:
 * as portls_socket_address(). */
int portls_socket_remote_address(portls_socket *sock, portls_address *out);

/* Node: socket.bufferSize: cleartext bytes queued and not yet written. */
size_t portls_socket_buffer_size(const portls_socket *sock);
/* Node: socket.bytesRead (cleartext bytes). */
uint64_t portls_socket_bytes_read(const portls_socket *sock);
/* Node: socket.bytesWritten (cleartext bytes). */
uint64_t portls_socket_bytes_written(const portls_socket *sock);
/* Node: cryptoStream.bytesWritten: bytes written to the transport, TLS overhead included. */
uint64_t portls_socket_transport_bytes_written(const portls_socket *sock);

/* Node: tlsSocket.encrypted: 1 for a TLS socket, 0 for a plain net socket. */
int portls_socket_encrypted(const portls_socket *sock);
/* Node: tlsSocket.authorized. */
int portls_socket_authorized(const portls_socket *sock);
/* Node: tlsSocket.authorizationError: 0 when authorized, else a PORTLS_E* code
 * (portls_err_name() gives "CERT_HAS_EXPIRED" etc.). */
int portls_socket_authorization_error(const portls_socket *sock);
/* Node: tlsSocket.servername: the client's SNI name (NULL: none sent/none
 * set). Borrowed (valid until the socket closes). */
const char *portls_socket_servername(const portls_socket *sock);
/* Node: tlsSocket.alpnProtocol; NULL when nothing was agreed. Borrowed
 * (valid until the socket closes). Requires: PORTLS_CAP_ALPN */
const char *portls_socket_alpn_protocol(const portls_socket *sock);
/* Node: tlsSocket.npnProtocol; NULL when nothing was agreed. Borrowed.
 * Requires: PORTLS_CAP_NPN */
const char *portls_socket_npn_protocol(const portls_socket *sock);
/* Node: tlsSocket.getProtocol(): "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"
 * (static strings); NULL before the handshake. */
const char *portls_socket_get_protocol(const portls_socket *sock);

/* Node: tlsSocket.getCipher(). */
typedef struct portls_cipher {
  char name[64]; /* OpenSSL-style name on every backend, e.g. "ECDHE-RSA-AES128-GCM-SHA256" */
  char standard_name[80]; /* IANA name, e.g. "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" */
  char version[16];       /* "TLSv1.2" */
} portls_cipher;
/* Node: tlsSocket.getCipher(), into *out. Errors: PORTLS_EINVAL,
 * PORTLS_ENOTCONN before the handshake completes. */
int portls_socket_get_cipher(const portls_socket *sock, portls_cipher *out);

/* Node: tlsSocket.getPeerCertificate([detailed]). The caller frees *out with
 * portls_cert_free(); *out is NULL when the peer sent no certificate (Node's
 * `{}`). Errors: PORTLS_EINVAL, PORTLS_ENOTCONN before the handshake,
 * PORTLS_ECERT, PORTLS_ENOMEM. */
int portls_socket_get_peer_certificate(const portls_socket *sock, int detailed, portls_cert **out,
                                       portls_error *err);

/* Node: the object tlsSocket.getEphemeralKeyInfo() returns. */
typedef struct portls_ephemeral_key_info {
  const char *type; /* "ECDH", "DH" or NULL (static string) */
  char name[32];    /* ECDH curve, e.g. "prime256v1"; empty for DH */
  int size;         /* bits */
} portls_ephemeral_key_info;
/* Node: tlsSocket.getEphemeralKeyInfo(), into *out; type NULL when the
 * exchange was not ephemeral. Errors: PORTLS_EINVAL (also on a server socket:
 * Node's null), PORTLS_ENOTCONN before the handshake. */
int portls_socket_get_ephemeral_key_info(const portls_socket *sock, portls_ephemeral_key_info *out);

/* Node: tlsSocket.getSession(): the session to pass as `tls.session` later.
 * The caller frees out->base with portls_free(). Errors: PORTLS_EINVAL,
 * PORTLS_ENOTCONN when there is none, PORTLS_ENOTSUP (a backend without
 * sessions), PORTLS_ENOMEM. */
int portls_socket_get_session(const portls_socket *sock, portls_buf *out);
/* Node: tlsSocket.isSessionReused(): 1 or 0. */
int portls_socket_is_session_reused(const portls_socket *sock);

/* Node: tlsSocket.getTLSTicket(): the ticket the server issued for this
 * client's session (borrowed, valid until the socket closes or renegotiates).
 * PORTLS_ENOENT when there is none (no ticket, a server socket, before the
 * handshake); PORTLS_ENOTSUP without PORTLS_CAP_SESSION_TICKETS. */
int portls_socket_get_tls_ticket(const portls_socket *sock, portls_buf *out);

/* Node: tlsSocket.renegotiate(options, callback). Fields left at -1 keep the
 * socket's current setting. */
typedef struct portls_renegotiate_options {
  int request_cert;        /* server: ask the client for a certificate this time */
  int reject_unauthorized; /* destroy the socket if the new handshake does not verify */
} portls_renegotiate_options;
/* What renegotiate() reports: err NULL on success. */
typedef void (*portls_renegotiate_cb)(portls_socket *sock, const portls_error *err, void *user);
/* Node: tlsSocket.renegotiate(options, callback). opts (may be NULL) is read
 * during the call. cb(sock, NULL) runs once the new handshake has completed
 * (authorized and authorizationError then describe it), or cb(sock, err)
 * with PORTLS_ERENEG_DISABLED when it cannot happen: TLS 1.3, a backend
 * without the renegotiate-client / renegotiate-server capability (the
 * message names it), a handshake in progress. A server socket is destroyed
 * with ERR_TLS_HANDSHAKE_TIMEOUT if the client does not complete it within
 * the server's handshakeTimeout. Returns 0, or PORTLS_EINVAL (not a secure
 * TLS socket, cb NULL) or PORTLS_EBUSY (a renegotiation is pending), in which
 * case cb is never called. Requires: PORTLS_CAP_RENEG_CLIENT (client) or
 * PORTLS_CAP_RENEG_SERVER (server) */
int portls_socket_renegotiate(portls_socket *sock, const portls_renegotiate_options *opts,
                              portls_renegotiate_cb cb, void *user);

/* Sets Node's tls.CLIENT_RENEG_LIMIT (3) and tls.CLIENT_RENEG_WINDOW (600 s): a
 * server socket on which the client starts more than `limit` renegotiations
 * within `window_s` seconds of each other emits 'error' with
 * ERR_TLS_SESSION_ATTACK and is destroyed; other connections carry on.
 * Process-wide defaults for servers created afterwards (a server may set its
 * own in portls_server_options). */
void portls_set_client_reneg_limit(unsigned limit, unsigned window_s);
/* Node: tls.CLIENT_RENEG_LIMIT: the process-wide limit in force (default 3). */
unsigned portls_client_reneg_limit(void);
/* Node: tls.CLIENT_RENEG_WINDOW: the process-wide window in force, in seconds
 * (default 600). */
unsigned portls_client_reneg_window(void);

/* Node: tlsSocket.setMaxSendFragment(size): 1 on success, 0 outside
 * 512..16384, on a socket that is not TLS or has no session yet, or without
 * the capability. Requires: PORTLS_CAP_MAX_SEND_FRAGMENT */
int portls_socket_set_max_send_fragment(portls_socket *sock, size_t size);

/* ---- Exporters, Finished messages, signature algorithms (RFC 5705, RFC 5929) */

/* Node: tlsSocket.exportKeyingMaterial(length, label[, context]): length
 * bytes of keying material (RFC 5705; TLS 1.3: RFC 8446 7.5) into out.
 * context NULL is Node's absent context; a non-NULL context of length 0 is
 * an empty one (the two differ in TLS 1.2, not in TLS 1.3). Both sides of a
 * connection get the same bytes for the same label and context. Errors:
 * PORTLS_EINVAL (not a TLS socket, length 0, label NULL or empty, a TLS 1.2 label RFC 5705
 * reserves: "client finished", "server finished", "master secret",
 * "extended master secret", "key expansion"), PORTLS_ENOTCONN before the
 * handshake completes, PORTLS_ENOTSUP, PORTLS_ENOMEM. Requires:
 * PORTLS_CAP_EXPORTER */
int portls_socket_export_keying_material(portls_socket *sock, size_t length, const char *label,
                                         const void *context, size_t context_len, void *out,
                                         portls_error *err);

/* The largest verify_data of a Finished message (TLS 1.3 with SHA-384: 48). */
#define PORTLS_FINISHED_MAX 64
/* Node: tlsSocket.getFinished(): the verify_data of the latest Finished
 * message this side sent, into buf (cap bytes; PORTLS_FINISHED_MAX is
 * always enough). Returns its length (12 in TLS 1.2, the hash's length in
 * TLS 1.3), or PORTLS_EINVAL (NULL, not a TLS socket, cap too small), PORTLS_ENOTCONN before
 * the handshake, PORTLS_ENOTSUP (a backend that does not tell it; BoringSSL
 * tells it in TLS 1.2 only). Requires: PORTLS_CAP_FINISHED */
int portls_socket_get_finished(const portls_socket *sock, void *buf, size_t cap, portls_error *err);
/* Node: tlsSocket.getPeerFinished(): the same for the latest Finished message
 * the peer sent; equal to the peer's getFinished(). Errors and capability as
 * portls_socket_get_finished(). */
int portls_socket_get_peer_finished(const portls_socket *sock, void *buf, size_t cap,
                                    portls_error *err);

/* Node: tlsSocket.getSharedSigalgs(): the signature algorithms both sides
 * support, most preferred first, as Node names them ("ECDSA+SHA256",
 * "RSA-PSS+SHA256", "RSA+SHA384", "Ed25519"). *names is one allocation
 * (strings included) freed with portls_free(); *count may be 0. Errors:
 * PORTLS_EINVAL (NULL, not a TLS socket), PORTLS_ENOTCONN before the handshake, PORTLS_ENOTSUP,
 * PORTLS_ENOMEM. Requires: PORTLS_CAP_SHARED_SIGALGS */
int portls_socket_get_shared_sigalgs(const portls_socket *sock, const char ***names, size_t *count,
                                     portls_error *err);
/* Node: tlsSocket.enableTrace(): from now on, each handshake message,
 * ChangeCipherSpec and alert the socket sends or receives becomes one line
 * given to cb (NULL: written to standard error with a newline), the same
 * format on every backend. Lines are rendered by portls from the messages
 * themselves (not OpenSSL's SSL_trace text, which Node prints). On a backend
 * that sees only ciphertext after ChangeCipherSpec (mbedTLS), later
 * encrypted records are named with their length. Nothing is installed in
 * the TLS library until this is called. Errors: PORTLS_EINVAL (not a TLS
 * socket), PORTLS_ENOTSUP. Requires: PORTLS_CAP_TRACE */
int portls_socket_enable_trace(portls_socket *sock, portls_trace_cb cb, void *user);

/* Opt-in to the SSLKEYLOGFILE convention (curl, Firefox, Chrome): when the
 * environment variable SSLKEYLOGFILE names a file, every TLS connection of
 * the process appends its NSS key log lines to it (as the 'keylog' event
 * gives them), on top of the events. portls never reads SSLKEYLOGFILE
 * unless the application calls this: anyone who can set the environment
 * could otherwise make a program disclose its secrets. Process-wide: call it
 * before any connection exists. Returns 1 when the file was opened, 0 when
 * SSLKEYLOGFILE is unset or empty, or PORTLS_ENOENT / PORTLS_EACCES /
 * PORTLS_EIO with a message naming SSLKEYLOGFILE and the path (hosted builds
 * only; PORTLS_ENOTSUP without PORTLS_CAP_KEYLOG). */
int portls_keylog_from_env(portls_error *err);

/* ------------------------------------------------------------------------ */
/* SecurePair: TLS with no transport at all                                   */

typedef struct portls_pair portls_pair;
typedef void (*portls_pair_cb)(portls_pair *pair, void *user);
typedef void (*portls_pair_data_cb)(portls_pair *pair, const void *data, size_t len, void *user);

/* Events of the pair itself (the cleartext socket has its own). */
typedef struct portls_pair_events {
  portls_pair_cb secure; /* Node 'secure': the handshake completed and was accepted */
  /* The encrypted stream's 'data': ciphertext to carry to the peer, valid
   * during the call only. When NULL, the pair works in pull mode: see
   * portls_pair_encrypted_peek(). */
  portls_pair_data_cb encrypted_data;
  portls_pair_cb encrypted_readable; /* pull mode: ciphertext is waiting */
  /* The encrypted stream ended: after our close_notify (half-close), or when
   * the cleartext socket closes without one (a failed handshake, destroy()),
   * once the ciphertext still owed to the peer (an alert) was handed out.
   * Exactly once per pair; pass it on to the peer. */
  portls_pair_cb encrypted_end;
  /* The pair's own 'close': the last event, once, after the cleartext
   * socket's 'close'. The pair's memory is freed when it returns, and not
   * before: until then every pair function may be called (after the
   * cleartext closed they fail with PORTLS_ESTREAM_DESTROYED, and
   * portls_pair_cleartext() gives NULL). Clear your pointers to the pair here. */
  portls_pair_cb close;
} portls_pair_events;

/* Node: tls.createSecurePair(context, isServer, requestCert,
 * rejectUnauthorized, options). opts->is_server, tls.request_cert and
 * tls.reject_unauthorized carry the positional arguments; opts (NULL: the
 * defaults) is borrowed as for portls_tls_connect(), events is copied. The
 * pair needs a loop for its callbacks but no socket. Its `cleartext` stream
 * is a TLS socket (same API: write, end, authorized, getPeerCertificate,
 * getCipher, ...). The pair belongs to the library and is freed after its
 * own 'close' event, which follows its cleartext socket's 'close'. Errors:
 * PORTLS_EINVAL, those of portls_context_new(), PORTLS_EALPN,
 * PORTLS_ENOTSUP, PORTLS_ENOMEM. */
int portls_pair_new(portls_loop *loop, const portls_tls_socket_options *opts,
                    const portls_pair_events *events, void *user, portls_pair **out,
                    portls_error *err);
/* Node: pair.cleartext: the pair's TLS socket (owned by the pair); NULL
 * once that socket has closed. */
portls_socket *portls_pair_cleartext(portls_pair *pair);
/* Node: pair.encrypted.write(data): ciphertext received from the peer
 * (copied; processed from the loop). Errors: PORTLS_EINVAL,
 * PORTLS_ESTREAM_DESTROYED, PORTLS_EWRITE_AFTER_END, PORTLS_ENOMEM. */
int portls_pair_encrypted_write(portls_pair *pair, const void *data, size_t len);
/* Zero-copy pair.encrypted.write(data): lends data until done(pair, user)
 * runs (from the loop); it is decrypted in place. One lent buffer at a time:
 * PORTLS_EBUSY otherwise; other errors as portls_pair_encrypted_write(), and
 * then done is never called. */
int portls_pair_encrypted_feed(portls_pair *pair, const void *data, size_t len, portls_pair_cb done,
                               void *user);
/* Node: pair.encrypted.end(): the peer's stream ended. Errors:
 * PORTLS_EINVAL, PORTLS_ESTREAM_DESTROYED. */
int portls_pair_encrypted_end(portls_pair *pair);
/* Pull mode (no encrypted_data event), zero-copy: the length of the
 * ciphertext ready to send, 0 when none; *data is borrowed until the next
 * call on the pair ... */
size_t portls_pair_encrypted_peek(portls_pair *pair, const void **data);
/* ... and how much of it was sent (n at most what peek returned). */
void portls_pair_encrypted_consume(portls_pair *pair, size_t n);
/* Node: cryptoStream.bytesWritten on the encrypted stream: ciphertext handed
 * out, TLS overhead included. */
uint64_t portls_pair_encrypted_bytes_written(const portls_pair *pair);

/* ------------------------------------------------------------------------ */
/* Servers: net.Server and tls.Server                                         */

typedef void (*portls_server_cb)(portls_server *server, void *user);
typedef void (*portls_connection_cb)(portls_server *server, portls_socket *sock, void *user);
typedef void (*portls_server_error_cb)(portls_server *server, const portls_error *err, void *user);
/* 'clientError': a connection failed before 'secureConnection' (at most once
 * per connection). sock is closing; it may be NULL if it never existed. */
typedef void (*portls_client_error_cb)(portls_server *server, const portls_error *err,
                                       portls_socket *sock, void *user);
/* tls.Server 'keylog' (line, tlsSocket): as the socket's keylog event, for
 * every connection the server accepts (from the start of its handshake). */
typedef void (*portls_server_keylog_cb)(portls_server *server, portls_socket *sock,
                                        const void *line, size_t len, void *user);

/* A server's listeners; any may be NULL. */
typedef struct portls_server_events {
  portls_server_cb listening;
  portls_connection_cb connection;        /* net: 'connection' */
  portls_connection_cb secure_connection; /* tls: 'secureConnection' */
  portls_client_error_cb client_error;    /* tls: 'clientError' */
  /* A failed accept, e.g. PORTLS_EMFILE when the process is out of file
   * descriptors: once per stretch of failures. The server keeps listening
   * and its connections; connections that arrive meanwhile are closed (or
   * wait, when no spare descriptor could be kept), and accepting resumes
   * after a 500 ms back-off. (listen() returns its own errors.) */
  portls_server_error_cb error;
  portls_server_cb close; /* after close(), once every connection is gone */
  /* tls: 'keylog', for connections accepted while it is set. Requires:
   * PORTLS_CAP_KEYLOG */
  portls_server_keylog_cb keylog;
} portls_server_events;

/* The three questions a server's ClientHello may raise (SNI, session, OCSP)
 * each have their own opaque request type, answered with their own _done()
 * exactly once: passing one kind to another's _done() does not compile.
 *
 * Node: SNICallback(servername, cb). Called, from the loop, when a client
 * names a server (SNI) and the server has a callback; the handshake waits
 * (the handshake timeout still runs) until portls_sni_request_done() answers,
 * now or later, exactly once. Without a callback, the contexts added with
 * portls_server_add_context() are matched instead. */
typedef struct portls_sni_request portls_sni_request;
typedef void (*portls_sni_cb)(portls_server *server, const char *servername,
                              portls_sni_request *req, void *user);
/* Node: the SNICallback's cb(err, ctx). Answers an SNI request: ctx
 * (borrowed; a reference is taken) serves this connection, NULL keeps the
 * server's own; err (copied) non-NULL ends the connection with 'clientError'
 * (never the server). Valid even after the connection has gone (the answer
 * is then dropped); the library frees req once answered. Errors:
 * PORTLS_EINVAL for NULL or a second answer. Requires: PORTLS_CAP_SNI */
int portls_sni_request_done(portls_sni_request *req, portls_context *ctx, const portls_error *err);

/* Node: 'newSession'(sessionId, sessionData, callback) and
 * 'resumeSession'(sessionId, callback): an external session store for
 * resumption by session id (TLS 1.2 and below; TLS 1.3 resumes by ticket).
 * Both are answered, now or later, exactly once, with
 * portls_session_request_done(); meanwhile the connection waits (a new
 * session holds back 'secureConnection' and data; a lookup holds the
 * handshake, and the handshake timeout still runs). id and data are valid
 * during the call only. resumeSession is asked when the ClientHello carries a
 * session id and no ticket, as Node asks it. Requires: PORTLS_CAP_SESSION_CACHE */
typedef struct portls_session_request portls_session_request;
typedef void (*portls_new_session_cb)(portls_server *server, portls_socket *sock, const void *id,
                                      size_t id_len, const void *data, size_t len,
                                      portls_session_request *req, void *user);
typedef void (*portls_resume_session_cb)(portls_server *server, portls_socket *sock, const void *id,
                                         size_t id_len, portls_session_request *req, void *user);
/* Node: the callback of 'newSession' and of 'resumeSession'. Answers a
 * session request. newSession: data is ignored (NULL, 0). resumeSession:
 * data is the sessionData stored for the id (copied), or NULL when none was
 * found (a full handshake follows). err (copied) non-NULL ends the connection
 * with 'clientError'. Valid even after the connection has gone; the library
 * frees req once answered. Errors: PORTLS_EINVAL for NULL, a second answer,
 * or (forced past the types with a cast) a request of another kind.
 * Requires: PORTLS_CAP_SESSION_CACHE */
int portls_session_request_done(portls_session_request *req, const void *data, size_t len,
                                const portls_error *err);

/* Node: 'OCSPRequest'(certificate, issuer, callback): the client asked for
 * a stapled OCSP response. cert is the server certificate's DER (the first
 * key/cert pair's; NULL for a context made from `pfx`, whose certificates
 * only the backend sees), issuer its issuer's DER (from the chain in `cert`,
 * else `ca`), or NULL when neither holds it. Answered with
 * portls_ocsp_request_done() exactly once; the handshake waits.
 * Requires: PORTLS_CAP_OCSP_STAPLING */
typedef struct portls_ocsp_request portls_ocsp_request;
typedef void (*portls_ocsp_request_cb)(portls_server *server, portls_socket *sock, const void *cert,
                                       size_t cert_len, const void *issuer, size_t issuer_len,
                                       portls_ocsp_request *req, void *user);
/* Node: the 'OCSPRequest' callback(err, response). response (copied) is
 * stapled; NULL staples nothing. err (copied) non-NULL ends the connection
 * with 'clientError'. Valid even after the connection has gone; the library
 * frees req once answered. Errors: PORTLS_EINVAL as for the other requests.
 * Requires: PORTLS_CAP_OCSP_STAPLING */
int portls_ocsp_request_done(portls_ocsp_request *req, const void *response, size_t len,
                             const portls_error *err);

/* Node: ALPNCallback({servername, protocols}) (Node >= 20.17): called, from
 * the loop, when a client offers ALPN, with the server name it sent (NULL:
 * none) and its protocols in its order (valid during the call only). Return
 * one of them (a pointer into protocols or an equal string): it is what both
 * sides' alpnProtocol report. Return NULL to refuse the connection: the
 * client gets the no_application_protocol alert
 * (PORTLS_EALERT_NO_APPLICATION_PROTOCOL). A string the client did not offer
 * ends the connection with 'clientError'
 * PORTLS_EALPN_CALLBACK_INVALID_RESULT (and the same alert). Not called when
 * the client sends no ALPN. Synchronous, as in Node. */
typedef const char *(*portls_alpn_cb)(portls_server *server, portls_socket *sock,
                                      const char *servername, const char *const *protocols,
                                      size_t count, void *user);

typedef struct portls_server_options {
  /* What accepted sockets get; the client fields are ignored. */
  portls_tls_options tls;
  size_t high_water_mark;     /* for accepted sockets; default 16384 */
  portls_sni_cb sni_callback; /* Node: SNICallback. Requires: PORTLS_CAP_SNI */
  void *sni_user;
  portls_new_session_cb new_session;       /* Requires: PORTLS_CAP_SESSION_CACHE */
  portls_resume_session_cb resume_session; /* Requires: PORTLS_CAP_SESSION_CACHE */
  void *session_user;
  portls_ocsp_request_cb ocsp_request; /* Requires: PORTLS_CAP_OCSP_STAPLING */
  void *ocsp_user;
  /* Client-initiated renegotiation limit for this server's connections; -1
   * (default): the process-wide portls_client_reneg_limit() and window. */
  int client_reneg_limit;
  int client_reneg_window_s;
  /* Node: ALPNCallback; exclusive with tls.alpn_protocols (both set:
   * PORTLS_EALPN_CALLBACK_WITH_PROTOCOLS). Requires: PORTLS_CAP_ALPN */
  portls_alpn_cb alpn_callback;
  void *alpn_user;
  const portls_server_events *events;
  void *user;
  /* Node's cluster and `exclusive: false` in one: with workers > 1 the
   * server accepts on that many loops, each run by a thread of its own that
   * the library starts when the server listens, all on one port. Every
   * worker serves with the same context (one set of ticket keys: a client
   * resumes whichever thread it lands on). It is still one server:
   * portls_server_connections() and maxConnections count every worker's
   * connections, close() on it closes all, 'listening' and 'close' come once,
   * on the loop it was created on. But 'connection', 'secureConnection',
   * 'clientError', 'error' and the SNI, session and OCSP hooks run on the
   * worker threads, with the worker's own portls_server (same user pointer):
   * each socket belongs to its worker's thread, and so does everything the
   * application does with it; shared application state needs its own locks.
   * set_events() and addContext() apply to every worker before listen(), and
   * are PORTLS_EBUSY after. 0 or 1: an ordinary server. At most
   * PORTLS_WORKERS_MAX. Needs a platform with threads (both hosted ones). */
  unsigned workers;
  /* How the workers share the port: PORTLS_WORKERS_REUSEPORT (default;
   * each listens on its own socket bound with SO_REUSEPORT, the kernel
   * spreads connections by address hash) or PORTLS_WORKERS_HANDOFF (this
   * server's loop accepts and hands each connection to the workers in turn,
   * as Node's cluster does; always so for Unix sockets and listen_fd). */
  int workers_mode;
  /* Idle release (PORTLS_CAP_IDLE_RELEASE): a connection accepted while this
   * server (all its workers together, as portls_server_connections()
   * counts) holds at least this many connections, itself included, may give back its library
   * session when it goes quiet; the ones accepted below it never do. On OpenSSL, being able to rest
   * means following a connection's TLS 1.3 traffic secrets through the library's key log, about 8%
   * of a server's handshake: a server with few connections has little memory to win and doesn't pay
   * it. portls_server_options_init() sets PORTLS_REST_MIN_CONNECTIONS; 1: every connection; 0:
   * none. */
  unsigned rest_min_connections;
} portls_server_options;

#define PORTLS_REST_MIN_CONNECTIONS 32

enum { PORTLS_WORKERS_REUSEPORT = 0, PORTLS_WORKERS_HANDOFF = 1 };
#define PORTLS_WORKERS_MAX 256

/* Fills opts with Node's defaults for tls.createServer(): tls.request_cert 0,
 * tls.reject_unauthorized 0, tls.handshake_timeout_ms 120000, the context
 * defaults of portls_context_options_init(), client_reneg_limit and _window_s
 * -1 (the process-wide ones), the rest zero (high_water_mark 0: 16384). NULL
 * is a no-op. */
void portls_server_options_init(portls_server_options *opts);

/* Node: net.createServer(). Accepted plain sockets arrive as 'connection';
 * only high_water_mark, events and user are read (opts NULL: defaults).
 * *out belongs to the library and is freed after its 'close'. Errors:
 * PORTLS_EINVAL, PORTLS_ENOMEM. */
int portls_net_create_server(portls_loop *loop, const portls_server_options *opts,
                             portls_server **out, portls_error *err);
/* Node: tls.createServer(options). TLS sockets arrive as 'secureConnection'.
 * opts (NULL: defaults) is borrowed as for portls_tls_connect(); *out belongs
 * to the library and is freed after its 'close'. Errors: PORTLS_EINVAL,
 * PORTLS_ENOMEM, PORTLS_EALPN, PORTLS_ENOTSUP (an option needs a capability
 * the backend lacks: PORTLS_CAP_ALPN, _NPN, _SNI, _SESSION_CACHE,
 * _OCSP_STAPLING), and those of portls_context_new(). */
int portls_tls_create_server(portls_loop *loop, const portls_server_options *opts,
                             portls_server **out, portls_error *err);

/* Replaces the server's listeners (Node's server.on(...) for every event at
 * once): events is copied (NULL removes them all), user is passed to each.
 * Errors: PORTLS_EINVAL, PORTLS_ENOTSUP (keylog without PORTLS_CAP_KEYLOG;
 * nothing is replaced then). */
int portls_server_set_events(portls_server *server, const portls_server_events *events, void *user);
/* The user pointer given with the server's events (NULL for a NULL server). */
void *portls_server_user(const portls_server *server);

/* Node: server.listen(port[, host][, backlog]). host NULL: "::" when IPv6 is
 * available, else "0.0.0.0"; port 0 picks a free port. 'listening' follows;
 * binding errors (PORTLS_EADDRINUSE, ...) are returned here. */
int portls_server_listen(portls_server *server, const char *host, uint16_t port, int backlog,
                         portls_error *err);
/* Node: server.listen(path): a Unix socket (path is copied). Errors:
 * PORTLS_EINVAL, PORTLS_ENAMETOOLONG, PORTLS_EADDRINUSE, PORTLS_EACCES, ... */
int portls_server_listen_path(portls_server *server, const char *path, int backlog,
                              portls_error *err);
/* Node: server.listen(handle) with a descriptor ({fd: n}): listens on fd, a
 * socket the application (systemd socket activation, a privileged parent)
 * has already bound and made listening, TCP or Unix; the server owns it from
 * now on and closes it. With workers, each worker polls its own duplicate of
 * it and whichever accepts first serves. 'listening' follows. Errors:
 * PORTLS_EINVAL (not a listening stream socket), PORTLS_ESERVER_LISTENING,
 * PORTLS_ESERVER_NOT_RUNNING, PORTLS_ENOTSUP (the platform cannot adopt
 * descriptors). */
int portls_server_listen_fd(portls_server *server, int fd, portls_error *err);
/* Gives the server a connection accepted elsewhere (another process,
 * another server, a privileged helper): fd, a connected TCP or Unix socket,
 * is the server's from now on, and arrives as 'connection' (net) or goes
 * through the handshake to 'secureConnection' (tls), from the loop, as if the
 * server had accepted it; maxConnections applies. A workers server hands it
 * to its next worker (an unusable fd is then closed there and reported
 * through 'error'). Errors: PORTLS_EINVAL (not a connected stream socket),
 * PORTLS_ESERVER_NOT_RUNNING (closing; a workers server that does not
 * listen yet), PORTLS_ENOTSUP. */
int portls_server_adopt_fd(portls_server *server, int fd, portls_error *err);
/* Node: server.address(), into *out. Errors: PORTLS_EINVAL,
 * PORTLS_ESERVER_NOT_RUNNING when not listening. */
int portls_server_address(const portls_server *server, portls_address *out);
/* Node: server.close(): stop accepting; 'close' once every connection has closed.
 * The server's memory is freed after its close callback. NULL is a no-op. */
void portls_server_close(portls_server *server);
/* Node: server.addContext(hostname, context): when a client names a host
 * matching hostname ('*' matches within one label: "*.example.com"; case
 * does not matter), its connection uses ctx (a reference is taken). Contexts
 * are tried from the most recently added, as Node does; the first match
 * wins; no match keeps the server's own context. A hostname already added
 * (the same pattern, whatever its case) is replaced: its old context is
 * dropped and the new one is tried first, as Node's newer entry shadows the
 * older; connections already open keep theirs. Used when the server has no
 * sni_callback. Requires: PORTLS_CAP_SNI. Errors: PORTLS_EINVAL (empty
 * hostname, a plain net server), PORTLS_ENOMEM. */
int portls_server_add_context(portls_server *server, const char *hostname, portls_context *ctx,
                              portls_error *err);

/* Node: server.setSecureContext(options): a new context made from opts (as
 * portls_context_new() would, with the server's default session id context
 * under request_cert, and the current ticket keys unless opts gives some)
 * serves the connections accepted from now on; connections already open keep
 * the context they started with (those of portls_server_add_context() stay;
 * add one again for its hostname to replace it). On any error nothing changes and the server
 * keeps serving its current context. Errors: PORTLS_EINVAL (not a TLS server,
 * NULL opts, a *_client_method context), and those of portls_context_new(). */
int portls_server_set_secure_context(portls_server *server, const portls_context_options *opts,
                                     portls_error *err);
/* As portls_server_set_secure_context(), with a context already made (a
 * reference is taken; its own ticket keys are used). Errors: PORTLS_EINVAL. */
int portls_server_set_context(portls_server *server, portls_context *ctx, portls_error *err);

/* Node: server.getTicketKeys(): the 48 bytes (16 name, 16 HMAC, 16 AES) the
 * server's context issues and accepts tickets with, copied into keys: the
 * ticketKeys option, else random ones made with the context. Errors:
 * PORTLS_EINVAL (not a TLS server), PORTLS_ENOTSUP. Requires: PORTLS_CAP_TICKET_KEYS */
int portls_server_get_ticket_keys(const portls_server *server, uint8_t keys[48], portls_error *err);
/* Node: server.setTicketKeys(keys): keys (copied) must be 48 bytes
 * (PORTLS_ETICKET_KEYS). Tickets issued and accepted from now on use the new
 * keys (and no others: a rotation's previous keys are dropped); so servers
 * sharing keys resume each other's sessions. Errors:
 * PORTLS_EINVAL (not a TLS server), PORTLS_ETICKET_KEYS, PORTLS_ENOTSUP.
 * Requires: PORTLS_CAP_TICKET_KEYS */
int portls_server_set_ticket_keys(portls_server *server, const void *keys, size_t len,
                                  portls_error *err);
/* Node's ticket-key rotation pattern (setTicketKeys on a schedule), without
 * its cost: keys (48 bytes, copied) become the keys tickets are issued with,
 * and the keys they replace are still accepted until the next rotation, so
 * clients holding a ticket from the last period still resume (and, on the
 * OpenSSL family, get a ticket under the new keys). The same keys as now are
 * a no-op, so every server of a cluster may apply each rotation it sees.
 * Errors: PORTLS_EINVAL (not a TLS server), PORTLS_ETICKET_KEYS,
 * PORTLS_ENOTSUP. Requires: PORTLS_CAP_TICKET_ROTATION */
int portls_server_rotate_ticket_keys(portls_server *server, const void *keys, size_t len,
                                     portls_error *err);

/* Node: server.connections: the connections open now. */
size_t portls_server_connections(const portls_server *server);
/* Node: server.maxConnections = max (0: no limit): connections beyond it are
 * closed at once, without an event, as Node drops them. NULL is a no-op. */
void portls_server_set_max_connections(portls_server *server, size_t max);

#ifdef __cplusplus
}
#endif
#endif
