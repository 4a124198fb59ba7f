/* tls.connect(): a socket with an engine, connected by host and port or
 * Unix path, verifying the server as Node does. */
#include <string.h>

#include "tls/context.h"
#include "tls/tls.h"

void portls_connect_options_init(portls_connect_options *o) {
  if (o == NULL) return;
  memset(o, 0, sizeof *o);
  portls_context_options_init(&o->tls.context);
  o->tls.reject_unauthorized = 1;
  o->tls.min_dh_size = 1024;
}

int portls_tls_connect(portls_loop *loop, const portls_connect_options *o, portls_socket **out,
                       portls_error *err) {
  if (loop == NULL || o == NULL || out == NULL)
    return portls__err(err, PORTLS_EINVAL, "tls.connect: NULL argument");
  *out = NULL;
  portls_tls_socket_options to;
  portls_tls_socket_options_init(&to);
  to.tls = o->tls;
  to.high_water_mark = o->high_water_mark;
  to.events = o->events;
  to.user = o->user;
  /* Node: tls.connect({socket}) is new tls.TLSSocket(socket) plus verification of host. */
  if (o->socket != NULL) {
    if (to.tls.servername == NULL && o->host != NULL) to.tls.servername = o->host;
    int rc = portls_tls_socket_wrap(o->socket, &to, out, err);
    if (rc < 0) return rc;
    /* The socket exists now: a timer that cannot be made fails it, from the loop. */
    if ((rc = portls__tls_arm_connect_timer(*out, o->timeout_ms)) < 0)
      portls__socket_fail(*out, rc, "tls.connect: timeout: no timer");
    return 0;
  }
  if (o->path == NULL && o->port == 0)
    return portls__err(err, PORTLS_EINVAL, "tls.connect: a port (or a path) is required");
  portls_socket *s = portls__socket_alloc(loop, o->high_water_mark);
  if (s == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  portls_socket_set_events(s, o->events, o->user);
  /* SNI: the servername option, else the host (never for a Unix path). */
  int rc = portls__tls_setup(s, &to, o->path ? NULL : (o->host ? o->host : "localhost"), err);
  if (rc == 0 && (rc = portls__tls_arm_connect_timer(s, o->timeout_ms)) < 0)
    portls__err(err, rc, "tls.connect: timeout: no timer");
  if (rc == 0) rc = portls__socket_connect(s, o->host, o->port, o->path, err);
  if (rc < 0) {
    portls__socket_discard(s);
    return rc;
  }
  *out = s;
  return 0;
}
