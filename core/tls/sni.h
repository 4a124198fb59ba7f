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

/* What an accepted socket needs to know about its server's SNI setup. */
typedef struct portls__sni_config {
  portls__sni_entry *contexts;
  portls_sni_cb cb;
  void *user;
  portls_server *server;
} portls__sni_config;

/* Node's hostname patterns: '*' matches any run of characters within one
 * label (possibly empty), everything else literally, case-insensitively, and
 * the whole name must match. */
int portls__sni_match(const char *pattern, const char *name);
/* The context for name, or NULL to keep the default. */
portls_context *portls__sni_lookup(const portls__sni_config *cfg, const char *name);

#endif
