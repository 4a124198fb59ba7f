/* Internal: SecureContext. */
#ifndef PORTLS_CORE_CONTEXT_H
#define PORTLS_CORE_CONTEXT_H

#include "portls/backend.h"
#include "portls/portls.h"

enum { PORTLS__ROLE_ANY = 0, PORTLS__ROLE_SERVER = 1, PORTLS__ROLE_CLIENT = 2 };

struct portls_context {
  int refs;
  portls_be_ctx *be;
  int role; /* from a *_server_method / *_client_method secureProtocol */
  uint16_t min_version, max_version;
  char warning[128]; /* portls_context_warning(); empty when none */
};

/* Checks that ctx may be used for a connection of this role. */
int portls__context_check_role(const portls_context *ctx, int is_server, portls_error *err);

#endif
