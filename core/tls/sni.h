/* Internal: SNI on the server side — the ClientHello stage that lets the
 * application choose the context (server.addContext, SNICallback) before the
 * backend reads a byte, on every backend. */
#ifndef PORTLS_CORE_SNI_H
#define PORTLS_CORE_SNI_H

#include "portls/portls.h"

/* One server.addContext() entry. */
typedef struct portls__sni_entry {
  struct portls__sni_entry *next; /* most recently added first */
  char *pattern;
  portls_context *ctx;
} portls__sni_entry;

/* What an accepted socket needs to know about its server's ClientHello-time
 * questions to the application: SNI (addContext, SNICallback), the session
 * store (resumeSession, and newSession after the handshake) and OCSPRequest. */
typedef struct portls__hello_hooks {
  portls__sni_entry *contexts;
  portls_sni_cb cb;
  void *user;
  portls_server *server;
  portls_new_session_cb new_session;
  portls_resume_session_cb resume_session;
  void *session_user;
  portls_ocsp_request_cb ocsp_request;
  void *ocsp_user;
  portls_alpn_cb alpn_cb; /* ALPNCallback: asked once the hello is in */
  void *alpn_user;
  /* Client-initiated renegotiation limit (Node's CLIENT_RENEG_*). */
  unsigned reneg_limit;
  uint64_t reneg_window_ms;
} portls__hello_hooks;

/* 1 when a connection must stop at the ClientHello to ask the application. */
int portls__hooks_need_hello(const portls__hello_hooks *h);

/* Node's hostname patterns: '*' matches any run of characters within one
 * label (possibly empty), everything else literally, case-insensitively, and
 * the whole name must match. */
int portls__sni_match(const char *pattern, const char *name);
/* 1 when two addContext() hostnames are the same pattern (case does not matter). */
int portls__sni_same_pattern(const char *a, const char *b);
/* The context for name, or NULL to keep the default. */
portls_context *portls__sni_lookup(const portls__hello_hooks *cfg, const char *name);

#endif
