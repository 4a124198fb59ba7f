/* Exporters and channel bindings of a TLS socket: exportKeyingMaterial
 * (RFC 5705, RFC 8446 7.5), getFinished / getPeerFinished (the Finished
 * messages' verify_data, RFC 5929's tls-unique material) and
 * getSharedSigalgs. Core checks the arguments the same way on every backend;
 * the backend's optional operations compute. */
#include <string.h>

#include "tls/tls.h"

#define B (&portls__backend)

/* The handshake has completed (and was accepted, or is being judged). */
static const portls__tls *done_tls(const portls_socket *s) {
  const portls__tls *t = portls__tls_of(s);
  return t != NULL && t->eng.handshake_done && t->eng.sess != NULL ? t : NULL;
}

/* RFC 5705 section 4: labels TLS 1.2 uses itself. OpenSSL refuses a label
 * that starts with one of them (TLS 1.2 and below only), so core does the
 * same for every backend. */
static const char *reserved_label(const char *label, size_t len) {
  static const char *const reserved[] = {"client finished", "server finished", "master secret",
                                         "extended master secret", "key expansion"};
  for (size_t i = 0; i < PORTLS__ARRAY_SIZE(reserved); i++) {
    size_t n = strlen(reserved[i]);
    if (len >= n && memcmp(label, reserved[i], n) == 0) return reserved[i];
  }
  return NULL;
}

int portls_socket_export_keying_material(portls_socket *s, size_t length, const char *label,
                                         const void *context, size_t context_len, void *out,
                                         portls_error *err) {
  if (s == NULL || out == NULL || label == NULL || label[0] == '\0')
    return portls__err(err, PORTLS_EINVAL, "exportKeyingMaterial: needs a label and a buffer");
  if (length == 0)
    return portls__err(err, PORTLS_EINVAL, "exportKeyingMaterial: length must be at least 1");
  if (context == NULL && context_len > 0)
    return portls__err(err, PORTLS_EINVAL, "exportKeyingMaterial: context NULL with a length");
  if (portls__tls_of(s) == NULL)
    return portls__err(err, PORTLS_EINVAL, "exportKeyingMaterial: not a TLS socket");
  int rc = portls__need_cap(PORTLS_CAP_EXPORTER, "exportKeyingMaterial", err);
  if (rc < 0) return rc;
  const portls__tls *t = done_tls(s);
  if (t == NULL)
    return portls__err(err, PORTLS_ENOTCONN,
                       "exportKeyingMaterial: the handshake has not completed");
  size_t label_len = strlen(label);
  const char *why;
  if (t->info.version < PORTLS_TLS1_3 && (why = reserved_label(label, label_len)) != NULL)
    return portls__err(err, PORTLS_EINVAL, "exportKeyingMaterial: label \"%s\" is reserved (%s)",
                       label, why);
  return B->export_keying_material(t->eng.sess, out, length, label, label_len, context, context_len,
                                   context != NULL, err);
}

static int finished(const portls_socket *s, int peer, void *buf, size_t cap, portls_error *err) {
  const char *what = peer ? "getPeerFinished" : "getFinished";
  if (s == NULL || buf == NULL) return portls__err(err, PORTLS_EINVAL, "%s: NULL argument", what);
  const portls__tls *t = portls__tls_of(s);
  if (t == NULL) return portls__err(err, PORTLS_EINVAL, "%s: not a TLS socket", what);
  if (B->finished == NULL)
    return portls__err(err, PORTLS_ENOTSUP, "%s: needs capability '%s', which backend '%s' lacks",
                       what, portls_capability_name(PORTLS_CAP_FINISHED), B->name);
  if ((t = done_tls(s)) == NULL)
    return portls__err(err, PORTLS_ENOTCONN, "%s: the handshake has not completed", what);
  uint8_t tmp[PORTLS_FINISHED_MAX];
  size_t n = B->finished(t->eng.sess, peer, tmp, sizeof tmp);
  if (n == 0)
    return portls__err(err, PORTLS_ENOTSUP, "%s: backend '%s' does not tell it for %s", what,
                       B->name, portls_socket_get_protocol(s));
  if (n > cap)
    return portls__err(err, PORTLS_EINVAL, "%s: needs %zu bytes, the buffer has %zu", what, n, cap);
  memcpy(buf, tmp, n);
  return (int)n;
}

int portls_socket_get_finished(const portls_socket *s, void *buf, size_t cap, portls_error *err) {
  return finished(s, 0, buf, cap, err);
}

int portls_socket_get_peer_finished(const portls_socket *s, void *buf, size_t cap,
                                    portls_error *err) {
  return finished(s, 1, buf, cap, err);
}

int portls_socket_get_shared_sigalgs(const portls_socket *s, const char ***names, size_t *count,
                                     portls_error *err) {
  if (s == NULL || names == NULL || count == NULL)
    return portls__err(err, PORTLS_EINVAL, "getSharedSigalgs: NULL argument");
  *names = NULL;
  *count = 0;
  if (portls__tls_of(s) == NULL)
    return portls__err(err, PORTLS_EINVAL, "getSharedSigalgs: not a TLS socket");
  int rc = portls__need_cap(PORTLS_CAP_SHARED_SIGALGS, "getSharedSigalgs", err);
  if (rc < 0) return rc;
  const portls__tls *t = done_tls(s);
  if (t == NULL)
    return portls__err(err, PORTLS_ENOTCONN, "getSharedSigalgs: the handshake has not completed");
  char *joined = NULL;
  if ((rc = B->shared_sigalgs(t->eng.sess, &joined, err)) < 0) return rc;
  /* One allocation: the pointer array, then the strings. */
  size_t n = joined[0] != '\0' ? 1 : 0, len = strlen(joined);
  for (const char *p = joined; *p != '\0'; p++) n += *p == ':';
  char **arr = portls__malloc((n + 1) * sizeof *arr + len + 1);
  if (arr == NULL) {
    portls__free(joined);
    return portls__err(err, PORTLS_ENOMEM, "getSharedSigalgs: out of memory");
  }
  char *text = (char *)(arr + n + 1);
  memcpy(text, joined, len + 1);
  portls__free(joined);
  size_t i = 0;
  for (char *p = text; n > 0;) {
    arr[i++] = p;
    char *colon = strchr(p, ':');
    if (colon == NULL) break;
    *colon = '\0';
    p = colon + 1;
  }
  arr[n] = NULL;
  *names = (const char **)arr;
  *count = n;
  return 0;
}
