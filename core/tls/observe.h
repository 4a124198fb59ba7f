/* Internal: keylog and trace (observe.c). */
#ifndef PORTLS_CORE_OBSERVE_H
#define PORTLS_CORE_OBSERVE_H

#include <stddef.h>
#include <stdint.h>

#include "net/socket.h"

/* Where SSLKEYLOGFILE's lines go once the application opted in
 * (portls_keylog_from_env, core/util/file.c); NULL: nowhere. */
extern void (*portls__keylog_sink)(const char *line, size_t len);

/* Installs or removes the backend's keylog and trace observers of s's
 * session to match who listens now (the socket's and its server's keylog
 * events, the sink, enableTrace). Nothing is installed while nobody does. */
void portls__tls_observe(portls_socket *s);

/* One trace line for a message (see portls_be_msg_fn) into out (always
 * NUL-terminated; cut at cap); returns its length. */
size_t portls__trace_format(char *out, size_t cap, int sent, int content_type, const uint8_t *msg,
                            size_t len);

#endif
