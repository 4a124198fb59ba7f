/* Internal: the sans-I/O engine driving one backend session.
 *
 * Ciphertext in: the caller points the engine at bytes it just received
 * (engine_input), runs handshake/read, then calls engine_input_done, which
 * keeps whatever the backend did not consume (at most a partial record).
 * Ciphertext out: appended by the backend to *out, which the owner (a socket,
 * a SecurePair) moves to its transport. */
#ifndef PORTLS_CORE_ENGINE_H
#define PORTLS_CORE_ENGINE_H

#include "portls/backend.h"
#include "util/util.h"

typedef struct portls__engine {
  portls_be_session *sess;
  portls_be_io io;
  portls__bytes *out;
  portls__bytes left; /* unconsumed ciphertext kept between reads */
  size_t left_off;
  const uint8_t *cur; /* the bytes of the current read, not yet consumed */
  size_t cur_len;
  int handshake_done;
} portls__engine;

int portls__engine_init(portls__engine *e, portls_be_ctx *ctx, const portls_be_session_config *cfg,
                        portls__bytes *out, portls_error *err);
void portls__engine_free(portls__engine *e);
void portls__engine_input(portls__engine *e, const uint8_t *data, size_t len);
/* Saves what the backend left unread; returns 0 or PORTLS_ENOMEM. */
int portls__engine_input_done(portls__engine *e);
size_t portls__engine_pending_input(const portls__engine *e);

#endif
