/* portls command-line tool: private declarations shared by the files of tools/.
 *
 * The tool is a user of the public API only (the headers in include/portls/); see
 * docs/cli.md for its contract. Output is one JSON object per line on stdout,
 * written through the small JSON writer below and flushed per line.
 */
#ifndef PORTLS_TOOLS_CLI_H
#define PORTLS_TOOLS_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "portls/portls.h"

/* Exit statuses. */
enum { CLI_EXIT_OK = 0, CLI_EXIT_FAIL = 1, CLI_EXIT_USAGE = 2 };

/* ------------------------------------------------------------------------ */
/* JSON writer (json.c)                                                       */

/* A growable line of JSON. Commas are inserted automatically: every value
 * (or key) after the first one in an object or array gets one. */
typedef struct jw {
  char *buf;
  size_t len;
  size_t cap;
  int comma; /* the next key or value needs a ',' first */
} jw;

void jw_init(jw *w);
void jw_free(jw *w);
void jw_reset(jw *w);
void jw_begin_object(jw *w);
void jw_end_object(jw *w);
void jw_begin_array(jw *w);
void jw_end_array(jw *w);
void jw_key(jw *w, const char *key);
/* A C string; NULL is written as null. */
void jw_string(jw *w, const char *s);
/* Bytes as a JSON string: UTF-8 kept, each invalid sequence replaced by U+FFFD. */
void jw_string_n(jw *w, const void *s, size_t len);
void jw_null(jw *w);
void jw_bool(jw *w, int b);
void jw_int(jw *w, long long v);
/* Already-formatted JSON (e.g. portls_cert_to_json output). */
void jw_raw(jw *w, const char *json);
/* Writes the line and a newline to stdout, flushes, and resets the writer. */
void jw_print(jw *w);

/* Shorthands for "key":value. */
void jw_kstring(jw *w, const char *key, const char *s);          /* NULL: null */
void jw_kstring_or_false(jw *w, const char *key, const char *s); /* NULL: false */
void jw_kbool(jw *w, const char *key, int b);
void jw_kint(jw *w, const char *key, long long v);

/* Length of an incomplete (so far valid) UTF-8 sequence at the end of s:
 * 0..3 bytes that a later chunk may complete. */
size_t utf8_incomplete_tail(const void *s, size_t len);

/* ------------------------------------------------------------------------ */
/* Events (events.c)                                                          */

/* Starts `{"event":NAME` on the shared writer and returns it; finish with
 * ev_end(), which closes the object and prints the line. */
jw *ev_begin(const char *event);
void ev_end(jw *w);
/* {"event":"error","code":NAME,"message":MSG}; message NULL or empty: the
 * code's default message. */
void ev_error(int code, const char *message);
void ev_errorf(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void ev_error_from(const portls_error *err);
/* The secureConnection (server) / secureConnect (client) line. */
void ev_secure(const char *event, portls_socket *sock, int is_client);
/* With --export-keying-material LENGTH:LABEL: the keyingMaterial line (or an
 * error line when the export fails). Nothing without the option. */
struct cli_opts;
void ev_keying_material(portls_socket *sock, const struct cli_opts *o);
/* {"event":"close","hadError":B} */
void ev_close(int had_error);

/* Writes a certificate as its JSON object (`{}` for NULL). */
void jw_cert(jw *w, const portls_cert *cert);

/* ------------------------------------------------------------------------ */
/* Options (options.c): one table for every command                          */

enum { CLI_SERVE = 1, CLI_CONNECT = 2, CLI_BOTH = 3 };

/* How an option takes its value. */
typedef enum cli_kind {
  CLI_FLAG,   /* no value, or an optional one of `choices` ("false|true") */
  CLI_CHOICE, /* one of `choices`; num is its index */
  CLI_STRING, /* any text */
  CLI_FILE,   /* a file name; the file is read while parsing */
  CLI_NUMBER  /* a decimal integer in [min, max] */
} cli_kind;

#define CLI_MANY 16 /* the most times a repeatable option may be given */

/* XX(id, "name", commands, kind, repeatable, min, max, choices, "ARG", "help") */
#define CLI_OPTION_MAP(XX)                                                                         \
  XX(HOST, "host", CLI_BOTH, CLI_STRING, 0, 0, 0, NULL, "H",                                       \
     "address to listen on (127.0.0.1) / connect to (localhost)")                                  \
  XX(PORT, "port", CLI_BOTH, CLI_NUMBER, 0, 0, 65535, NULL, "N", "TCP port (serve: 0 picks one)")  \
  XX(PATH, "path", CLI_CONNECT, CLI_STRING, 0, 0, 0, NULL, "P", "Unix socket to connect to")       \
  XX(SERVERNAME, "servername", CLI_CONNECT, CLI_STRING, 0, 0, 0, NULL, "S", "SNI name")            \
  XX(TIMEOUT, "timeout", CLI_CONNECT, CLI_NUMBER, 0, 0, UINT32_MAX, NULL, "MS",                    \
     "ETIMEDOUT unless secureConnect comes within MS (0: none)")                                   \
  XX(KEY, "key", CLI_BOTH, CLI_STRING, 1, 0, 0, NULL, "F", "private key (PEM), repeatable")        \
  XX(CERT, "cert", CLI_BOTH, CLI_STRING, 1, 0, 0, NULL, "F",                                       \
     "certificate chain (PEM), repeatable, paired with --key in order")                            \
  XX(PFX, "pfx", CLI_BOTH, CLI_STRING, 0, 0, 0, NULL, "F", "PKCS#12 key and certificates")         \
  XX(PASSPHRASE, "passphrase", CLI_BOTH, CLI_STRING, 0, 0, 0, NULL, "P", "for --key or --pfx")     \
  XX(CA, "ca", CLI_BOTH, CLI_STRING, 1, 0, 0, NULL, "F", "trusted CA certificates, repeatable")    \
  XX(CA_PATH, "ca-path", CLI_BOTH, CLI_STRING, 0, 0, 0, NULL, "DIR",                               \
     "trusted CAs: a directory of hashed certificates (openssl rehash)")                           \
  XX(CRL, "crl", CLI_BOTH, CLI_STRING, 1, 0, 0, NULL, "F", "revocation list (PEM), repeatable")    \
  XX(CIPHERS, "ciphers", CLI_BOTH, CLI_STRING, 0, 0, 0, NULL, "S", "OpenSSL cipher list")          \
  XX(ECDH_CURVE, "ecdh-curve", CLI_BOTH, CLI_STRING, 0, 0, 0, NULL, "C|false", "ECDHE curve(s)")   \
  XX(DHPARAM, "dhparam", CLI_SERVE, CLI_FILE, 0, 0, 0, NULL, "F", "DH parameters (PEM)")           \
  XX(HONOR_CIPHER_ORDER, "honor-cipher-order", CLI_SERVE, CLI_CHOICE, 0, 0, 0, "false|true",       \
     "true|false", "prefer the server's cipher order")                                             \
  XX(SECURE_PROTOCOL, "secure-protocol", CLI_BOTH, CLI_STRING, 0, 0, 0, NULL, "NAME",              \
     "e.g. TLSv1_2_method")                                                                        \
  XX(MIN_VERSION, "min-version", CLI_BOTH, CLI_CHOICE, 0, 0, 0, "TLSv1|TLSv1.1|TLSv1.2|TLSv1.3",   \
     "V", "minVersion: TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3")                                        \
  XX(MAX_VERSION, "max-version", CLI_BOTH, CLI_CHOICE, 0, 0, 0, "TLSv1|TLSv1.1|TLSv1.2|TLSv1.3",   \
     "V", "maxVersion: TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3")                                        \
  XX(REQUEST_CERT, "request-cert", CLI_SERVE, CLI_FLAG, 0, 0, 0, "false|true", NULL,               \
     "ask clients for a certificate")                                                              \
  XX(REJECT_UNAUTHORIZED, "reject-unauthorized", CLI_BOTH, CLI_FLAG, 0, 0, 0, "false|true",        \
     "[true|false]", "reject peers that do not verify (connect: default true)")                    \
  XX(ALPN, "alpn", CLI_BOTH, CLI_STRING, 0, 0, 0, NULL, "a,b", "ALPN protocols")                   \
  XX(NPN, "npn", CLI_BOTH, CLI_STRING, 0, 0, 0, NULL, "a,b", "NPN protocols")                      \
  XX(SNI_CONTEXT, "sni-context", CLI_SERVE, CLI_STRING, 1, 0, 0, NULL, "NAME=KEY:CERT",            \
     "server.addContext (repeatable)")                                                             \
  XX(SESSION_TIMEOUT, "session-timeout", CLI_SERVE, CLI_NUMBER, 0, 0, 2147483647, NULL, "S",       \
     "session lifetime in seconds")                                                                \
  XX(TICKET_KEYS, "ticket-keys", CLI_SERVE, CLI_STRING, 0, 0, 0, NULL, "HEX",                      \
     "48 bytes as 96 hex digits")                                                                  \
  XX(SESSION_CACHE, "session-cache", CLI_SERVE, CLI_FLAG, 0, 0, 0, "false|true", NULL,             \
     "in-memory newSession/resumeSession store")                                                   \
  XX(SESSION_STORE, "session-store", CLI_SERVE, CLI_STRING, 0, 0, 0, NULL, "URL",                  \
     "share sessions through Redis: redis://HOST:PORT or unix:PATH")                               \
  XX(TICKET_ROTATE, "ticket-rotate", CLI_SERVE, CLI_NUMBER, 0, 1, 31536000, NULL, "S",             \
     "with --session-store: shared ticket keys, rotated every S seconds")                          \
  XX(SESSION_ID_CONTEXT, "session-id-context", CLI_SERVE, CLI_STRING, 0, 0, 0, NULL, "S",          \
     "sessionIdContext (servers sharing sessions share it)")                                       \
  XX(OCSP_RESPONSE, "ocsp-response", CLI_SERVE, CLI_FILE, 0, 0, 0, NULL, "F",                      \
     "answer OCSPRequest with this DER response")                                                  \
  XX(HANDSHAKE_TIMEOUT, "handshake-timeout", CLI_SERVE, CLI_NUMBER, 0, 0, UINT32_MAX, NULL, "MS",  \
     "abort handshakes slower than this")                                                          \
  XX(MAX_CONNECTIONS, "max-connections", CLI_SERVE, CLI_NUMBER, 0, 0, UINT32_MAX, NULL, "N",       \
     "server.maxConnections")                                                                      \
  XX(RENEG_LIMIT, "reneg-limit", CLI_SERVE, CLI_NUMBER, 0, 0, UINT32_MAX, NULL, "N",               \
     "CLIENT_RENEG_LIMIT for this server")                                                         \
  XX(RENEG_WINDOW, "reneg-window", CLI_SERVE, CLI_NUMBER, 0, 0, UINT32_MAX, NULL, "S",             \
     "CLIENT_RENEG_WINDOW (seconds) for this server")                                              \
  XX(MAX_SEND_FRAGMENT, "max-send-fragment", CLI_BOTH, CLI_NUMBER, 0, 512, 16384, NULL, "N",       \
     "setMaxSendFragment(N)")                                                                      \
  XX(MODE, "mode", CLI_SERVE, CLI_CHOICE, 0, 0, 0, "echo|count|welcome", "echo|count|welcome",     \
     "what to do with each connection (default echo)")                                             \
  XX(WORKERS, "workers", CLI_SERVE, CLI_NUMBER, 0, 1, 256, NULL, "N",                              \
     "accept on N threads, one port (one server)")                                                 \
  XX(WORKERS_MODE, "workers-mode", CLI_SERVE, CLI_CHOICE, 0, 0, 0, "reuseport|handoff",            \
     "reuseport|handoff", "how --workers share the port (default reuseport)")                      \
  XX(REST_MIN_CONNECTIONS, "rest-min-connections", CLI_SERVE, CLI_NUMBER, 0, 0, UINT32_MAX, NULL,  \
     "N", "idle release from N connections on (0: never; default 32)")                             \
  XX(REQUEST_OCSP, "request-ocsp", CLI_CONNECT, CLI_FLAG, 0, 0, 0, "false|true", NULL,             \
     "ask for a stapled OCSP response")                                                            \
  XX(SESSION_IN, "session-in", CLI_CONNECT, CLI_FILE, 0, 0, 0, NULL, "F", "session to resume")     \
  XX(SESSION_OUT, "session-out", CLI_CONNECT, CLI_STRING, 0, 0, 0, NULL, "F",                      \
     "save the session here")                                                                      \
  XX(MIN_DH_SIZE, "min-dh-size", CLI_CONNECT, CLI_NUMBER, 0, 0, 65536, NULL, "N", "minDHSize")     \
  XX(SEND, "send", CLI_CONNECT, CLI_STRING, 0, 0, 0, NULL, "TEXT", "write TEXT, then end")         \
  XX(SEND_FILE, "send-file", CLI_CONNECT, CLI_FILE, 0, 0, 0, NULL, "F", "write F, then end")       \
  XX(STDIN, "stdin", CLI_CONNECT, CLI_FLAG, 0, 0, 0, "false|true", NULL,                           \
     "pipe standard input to the socket")                                                          \
  XX(RENEGOTIATE, "renegotiate", CLI_CONNECT, CLI_NUMBER, 0, 0, 1000, NULL, "N",                   \
     "renegotiate N times after secureConnect")                                                    \
  XX(SIGALGS, "sigalgs", CLI_BOTH, CLI_STRING, 0, 0, 0, NULL, "A:B",                               \
     "signature algorithms, e.g. ECDSA+SHA256:RSA-PSS+SHA256")                                     \
  XX(EXPORT_KEYING_MATERIAL, "export-keying-material", CLI_BOTH, CLI_STRING, 0, 0, 0, NULL,        \
     "LENGTH:LABEL", "print a keyingMaterial event once secure")                                   \
  XX(ALPN_CALLBACK, "alpn-callback", CLI_SERVE, CLI_STRING, 0, 0, 0, NULL, "a,b",                  \
     "ALPNCallback: the client's first protocol in this list, else reject")                        \
  XX(PSK, "psk", CLI_BOTH, CLI_STRING, 1, 0, 0, NULL, "ID:HEX",                                    \
     "pre-shared key (pskCallback); serve: repeatable, one per identity")                          \
  XX(PSK_HINT, "psk-hint", CLI_SERVE, CLI_STRING, 0, 0, 0, NULL, "HINT", "pskIdentityHint")        \
  XX(KEYLOG, "keylog", CLI_BOTH, CLI_STRING, 0, 0, 0, NULL, "F",                                   \
     "append NSS key log lines (SSLKEYLOGFILE format) to F")                                       \
  XX(TRACE, "trace", CLI_BOTH, CLI_FLAG, 0, 0, 0, "false|true", NULL,                              \
     "print each handshake message to stderr (enableTrace)")

typedef enum cli_opt_id {
#define CLI__OPT_ENUM(id, name, cmds, kind, many, min, max, choices, arg, help) OPT_##id,
  CLI_OPTION_MAP(CLI__OPT_ENUM)
#undef CLI__OPT_ENUM
      OPT_COUNT_
} cli_opt_id;

/* What the command line said about one option. */
typedef struct cli_value {
  int count;                 /* times given (0: not given) */
  const char *str[CLI_MANY]; /* the text given (for CLI_FILE: the file name) */
  portls_buf file[CLI_MANY]; /* CLI_FILE: the file's bytes (portls_free'd) */
  uint64_t num;              /* CLI_NUMBER; CLI_FLAG/CLI_CHOICE: the choice's index */
} cli_value;

typedef struct cli_opts {
  cli_value v[OPT_COUNT_];
} cli_opts;

/* Parses argv (after the command name) for a command (CLI_SERVE or
 * CLI_CONNECT). On error prints the error line and returns CLI_EXIT_USAGE;
 * on --help prints usage and returns -1; else returns 0. Free with
 * cli_opts_free() in every case. */
int cli_parse(int cmd, int argc, char **argv, cli_opts *o);
void cli_opts_free(cli_opts *o);

static inline int cli_has(const cli_opts *o, cli_opt_id id) { return o->v[id].count > 0; }
/* The option's text, or def when not given. */
static inline const char *cli_str(const cli_opts *o, cli_opt_id id, const char *def) {
  return o->v[id].count ? o->v[id].str[0] : def;
}
static inline uint64_t cli_num(const cli_opts *o, cli_opt_id id, uint64_t def) {
  return o->v[id].count ? o->v[id].num : def;
}

/* Prints the option list of the commands in `cmds` (a CLI_* mask). */
void cli_print_options(FILE *file, int cmds);

/* A comma-separated list (--alpn a,b) split into names. */
typedef struct cli_list {
  char *copy;
  const char *names[CLI_MANY];
  size_t count;
} cli_list;

/* One --psk IDENTITY:HEX. */
typedef struct cli_psk {
  char identity[PORTLS_PSK_MAX_IDENTITY + 1];
  uint8_t key[PORTLS_PSK_MAX_KEY];
  size_t key_len;
} cli_psk;

/* The options shared by serve and connect, turned into library options. */
typedef struct cli_tls {
  cli_list alpn;
  cli_list npn;
  cli_list alpn_callback; /* serve --alpn-callback: the protocols it accepts */
  uint8_t ticket_keys[128];
  /* --key/--cert/--ca/--crl: the first of each goes to the library as a file
   * option (key_file, ...); the ones after it are read here, into these. */
  portls_buf key[CLI_MANY], cert[CLI_MANY], ca[CLI_MANY], crl[CLI_MANY];
  cli_psk psk[CLI_MANY];
  int psk_count;
} cli_tls;

/* Parses the --psk options into t (prints the error line naming --psk and
 * returns CLI_EXIT_USAGE on a bad one) and sets the PSK callback of the role
 * (and, on a server, --psk-hint) in tls, with t as their user pointer. The
 * callbacks print a pskCallback event line. */
int cli_psk_options(const cli_opts *o, cli_tls *t, portls_tls_options *tls, int is_server);

/* Fills the context options and the protocol lists from the command line.
 * Prints the error line and returns CLI_EXIT_USAGE on a bad value, else 0.
 * The filled structs borrow from o and t: keep both alive while they are used. */
int cli_tls_options(const cli_opts *o, cli_tls *t, portls_context_options *ctx,
                    portls_protocols *alpn, portls_protocols *npn);
void cli_tls_free(cli_tls *t);

/* Prints ENOTSUP naming the option and the capability when the backend lacks
 * cap; returns CLI_EXIT_USAGE then, else 0. */
int cli_require_cap(const char *option, portls_cap cap);

/* --export-keying-material LENGTH:LABEL, LENGTH 1..CLI_EKM_MAX: 0 with both
 * parts, PORTLS_EINVAL (nothing printed) when malformed. */
#define CLI_EKM_MAX 1024
int cli_ekm_spec(const char *spec, size_t *length, const char **label);

/* ------------------------------------------------------------------------ */
/* serve's questions from the handshake (serve_hooks.c): --sni-context,       */
/* --session-cache, --ocsp-response, each answered asynchronously             */

typedef struct serve_hooks serve_hooks;
/* Reads the options into server options (callbacks, reneg limits); the
 * answers are given from timers on loop. Prints the error line and returns
 * CLI_EXIT_USAGE on a bad value. */
int serve_hooks_new(const cli_opts *o, portls_loop *loop, portls_server_options *so,
                    serve_hooks **out);
/* server.addContext for each --sni-context; CLI_EXIT_USAGE on a bad one. */
int serve_hooks_add_contexts(serve_hooks *h, portls_server *server, const cli_opts *o);
void serve_hooks_free(serve_hooks *h);

/* ------------------------------------------------------------------------ */
/* --keylog, SSLKEYLOGFILE and --trace (observe.c)                            */

/* Opens the --keylog file for appending, or else opts in to SSLKEYLOGFILE
 * (portls_keylog_from_env), and checks the capabilities of --keylog and
 * --trace. Prints the error line (naming the option and the path) and
 * returns CLI_EXIT_USAGE on failure, else 0. */
int cli_observe_open(const cli_opts *o);
/* 1 when --keylog was given (its lines then come through cli_keylog_write). */
int cli_keylog_wanted(void);
/* Appends one key log line to the --keylog file. */
void cli_keylog_write(const void *line, size_t len);
void cli_observe_close(void);

/* ------------------------------------------------------------------------ */
/* Commands                                                                    */

int cmd_serve(int argc, char **argv);
int cmd_connect(int argc, char **argv);
void cli_usage(FILE *file);

#endif
