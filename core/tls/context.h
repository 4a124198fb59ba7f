/* Internal: SecureContext. */
#ifndef PORTLS_CORE_CONTEXT_H
#define PORTLS_CORE_CONTEXT_H

#include "portls/backend.h"
#include "portls/portls.h"
#include "util/sync.h"

enum { PORTLS__ROLE_ANY = 0, PORTLS__ROLE_SERVER = 1, PORTLS__ROLE_CLIENT = 2 };

/* A context may be shared by loops on several threads (portls.h, "Threads"):
 * its reference count is atomic, and what can change after creation (the
 * ticket keys) is read and written under `lock`. */
struct portls_context {
  portls__refcount refs;
  portls__spin lock;
  portls_be_ctx *be;
  int role; /* from a *_server_method / *_client_method secureProtocol */
  uint16_t min_version, max_version;
  char warning[128];   /* portls_context_warning(); empty when none */
  int has_ticket_keys; /* on a backend with PORTLS_CAP_TICKET_KEYS: always */
  uint8_t ticket_keys[48];
  /* For OCSPRequest: the first certificate's DER and its issuer's (from the
   * chain, else the CAs); NULL when unknown. */
  uint8_t *ocsp_cert, *ocsp_issuer;
  size_t ocsp_cert_len, ocsp_issuer_len;
};

/* Checks that ctx may be used for a connection of this role. */
/* Replaces the ticket keys (server.setTicketKeys). */
/* Node's key rotation: the current keys become the previous ones (tickets
 * under them still open, and are renewed where the backend can), keys
 * become current. The same keys again are a no-op. */
int portls__context_rotate_ticket_keys(portls_context *ctx, const void *keys, size_t len,
                                       portls_error *err);
int portls__context_set_ticket_keys(portls_context *ctx, const void *keys, size_t len,
                                    portls_error *err);

/* Copies the current ticket keys (server.getTicketKeys). */
void portls__context_get_ticket_keys(portls_context *ctx, uint8_t keys[48]);

int portls__context_check_role(const portls_context *ctx, int is_server, portls_error *err);

#endif
