/* tls.connect(): a socket with an engine, connected by host and port or
 * Unix path, verifying the server as Node does. */
#include <string.h>

#include "net/addr.h"
#include "net/socket.h"
#include "tls/context.h"

int portls__protocols_to_wire(const portls_protocols *p, const char *what, portls__bytes *out,
                              portls_error *err);

void portls_connect_options_init(portls_connect_options *o) {
  if (o == NULL) return;
  memset(o, 0, sizeof *o);
  portls_context_options_init(&o->context);
  o->reject_unauthorized = 1;
  o->min_dh_size = 1024;
}

static int setup_tls(portls_socket *s, const portls_connect_options *o, portls_error *err) {
  portls__tls *t = portls__calloc(1, sizeof *t);
  if (t == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  s->tls = t;
  int rc;
  if (o->secure_context != NULL) {
    t->ctx = portls_context_ref(o->secure_context);
  } else if ((rc = portls_context_new(&o->context, &t->ctx, err)) < 0) {
    return rc;
  }
  if ((rc = portls__context_check_role(t->ctx, 0, err)) < 0) return rc;
  if ((rc = portls__protocols_to_wire(&o->alpn_protocols, "ALPNProtocols", &t->alpn_wire, err)) < 0)
    return rc;
  if (t->alpn_wire.len > 0 && (rc = portls__need_cap(PORTLS_CAP_ALPN, "ALPNProtocols", err)) < 0) return rc;
  if ((rc = portls__protocols_to_wire(&o->npn_protocols, "NPNProtocols", &t->npn_wire, err)) < 0)
    return rc;
  if (t->npn_wire.len > 0 && (rc = portls__need_cap(PORTLS_CAP_NPN, "NPNProtocols", err)) < 0) return rc;
  if (o->request_ocsp && (rc = portls__need_cap(PORTLS_CAP_OCSP_REQUEST, "requestOCSP", err)) < 0) return rc;
  if (o->min_dh_size < 0) return portls__err(err, PORTLS_EINVAL, "minDHSize: must be positive");
  t->min_dh_size = o->min_dh_size;
  t->reject_unauthorized = o->reject_unauthorized != 0;
  t->check_identity = o->check_server_identity;
  t->check_identity_user = o->check_server_identity_user;
  const char *host = o->host ? o->host : "localhost";
  if (o->path == NULL && (t->host = portls__strdup(host)) == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  /* SNI: the servername option, else the host unless it is an IP address
   * (RFC 6066 forbids literal addresses in SNI). */
  uint8_t ip[16];
  const char *sni = o->servername;
  if (sni == NULL && o->path == NULL && !portls__ip_parse(host, ip)) sni = host;
  if (sni != NULL && sni[0] != '\0') {
    if (!portls_has_capability(PORTLS_CAP_SNI)) return portls__need_cap(PORTLS_CAP_SNI, "servername", err);
    if ((t->servername = portls__strdup(sni)) == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  }
  if (o->session.len > 0) {
    void *copy = portls__memdup(o->session.base, o->session.len);
    if (copy == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
    t->session = (portls_buf){copy, o->session.len};
  }
  return 0;
}

int portls_tls_connect(portls_loop *loop, const portls_connect_options *o, portls_socket **out,
                       portls_error *err) {
  if (loop == NULL || o == NULL || out == NULL)
    return portls__err(err, PORTLS_EINVAL, "tls.connect: NULL argument");
  *out = NULL;
  if (o->socket != NULL)
    return portls__err(err, PORTLS_ENOTSUP, "tls.connect: the socket option is not available yet");
  if (o->path == NULL && o->port == 0)
    return portls__err(err, PORTLS_EINVAL, "tls.connect: a port (or a path) is required");
  portls_socket *s = portls__socket_alloc(loop, o->high_water_mark);
  if (s == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  portls_socket_set_events(s, o->events, o->user);
  int rc = setup_tls(s, o, err);
  if (rc == 0) rc = portls__socket_connect(s, o->host, o->port, o->path, err);
  if (rc < 0) {
    portls__socket_discard(s);
    return rc;
  }
  *out = s;
  return 0;
}
