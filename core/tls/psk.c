/* Node's pskCallback and pskIdentityHint: the options, checked and copied,
 * and the two functions the backend calls in the middle of a handshake,
 * which ask the application for the key and check its answer. */
#include <string.h>

#include "tls/pkcs_crypto.h"
#include "tls/tls.h"

/* strnlen is POSIX, not C11. */
static size_t bounded_len(const char *p, size_t max) {
  size_t n = 0;
  while (n < max && p[n] != '\0') n++;
  return n;
}

int portls__psk_setup(portls__psk *out, const portls_tls_options *o, int is_server,
                      portls_error *err) {
  int rc;
  memset(out, 0, sizeof *out);
  portls_psk_client_cb client = is_server ? NULL : o->psk_client_callback;
  portls_psk_server_cb server = is_server ? o->psk_server_callback : NULL;
  if ((client != NULL || server != NULL) &&
      (rc = portls__need_cap(PORTLS_CAP_PSK, "pskCallback", err)) < 0)
    return rc;
  const char *hint = is_server ? o->psk_identity_hint : NULL;
  if (hint != NULL) {
    size_t n = strlen(hint);
    if (n == 0 || n > PORTLS_PSK_MAX_IDENTITY)
      return portls__err(err, PORTLS_EINVAL, "pskIdentityHint: must be 1..%d bytes, got %zu",
                         PORTLS_PSK_MAX_IDENTITY, n);
    if ((rc = portls__need_cap(PORTLS_CAP_PSK_HINT, "pskIdentityHint", err)) < 0) return rc;
    if ((out->hint = portls__strdup(hint)) == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  }
  out->client = client;
  out->server = server;
  out->user = o->psk_user;
  return 0;
}

int portls__psk_copy(portls__psk *dst, const portls__psk *src) {
  *dst = *src;
  dst->hint = NULL;
  if (src->hint != NULL && (dst->hint = portls__strdup(src->hint)) == NULL) return PORTLS_ENOMEM;
  return 0;
}

void portls__psk_free(portls__psk *p) {
  portls__free(p->hint);
  p->hint = NULL;
}

/* The application's answer, checked: 1 (a key to use), 0 (none). A key or
 * identity of the wrong size is no key, and the handshake's failure is
 * reported as this mistake rather than as what the backend makes of it. */
static int psk_answer(portls_socket *s, int rc, portls_psk *psk, int need_identity) {
  portls__tls *t = portls__tls_of(s);
  if (s->flags & S_DESTROYED) return 0; /* destroyed inside the callback */
  if (rc != 1) return 0;
  if (psk->key_len == 0 || psk->key_len > PORTLS_PSK_MAX_KEY) {
    portls__err(&t->psk_err, PORTLS_EINVAL, "pskCallback: the key must be 1..%d bytes, got %zu",
                PORTLS_PSK_MAX_KEY, psk->key_len);
    return 0;
  }
  size_t n = bounded_len(psk->identity, sizeof psk->identity);
  if (need_identity && (n == 0 || n > PORTLS_PSK_MAX_IDENTITY)) {
    portls__err(&t->psk_err, PORTLS_EINVAL,
                "pskCallback: the identity must be a NUL-terminated string of 1..%d bytes",
                PORTLS_PSK_MAX_IDENTITY);
    return 0;
  }
  return 1;
}

int portls__psk_client(void *arg, const char *hint, portls_psk *psk) {
  portls_socket *s = arg;
  portls__tls *t = portls__tls_of(s);
  if (t == NULL || t->psk.client == NULL || (s->flags & S_DESTROYED)) return 0;
  memset(psk, 0, sizeof *psk);
  int rc = t->psk.client(s, hint, psk, t->psk.user);
  rc = psk_answer(s, rc, psk, 1);
  if (rc != 1) portls__pkcs_wipe(psk, sizeof *psk);
  return rc;
}

int portls__psk_server(void *arg, const char *identity, portls_psk *psk) {
  portls_socket *s = arg;
  portls__tls *t = portls__tls_of(s);
  if (t == NULL || t->psk.server == NULL || (s->flags & S_DESTROYED)) return 0;
  memset(psk, 0, sizeof *psk);
  if (identity == NULL) identity = "";
  size_t n = bounded_len(identity, PORTLS_PSK_MAX_IDENTITY + 1);
  if (n > PORTLS_PSK_MAX_IDENTITY) return 0; /* no key can be known for it */
  memcpy(psk->identity, identity, n);
  int rc = t->psk.server(s, psk->identity, psk, t->psk.user);
  rc = psk_answer(s, rc, psk, 0);
  if (rc != 1) portls__pkcs_wipe(psk, sizeof *psk);
  return rc;
}
