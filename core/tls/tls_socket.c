/* tls.TLSSocket: the TLS upper layer of a socket (the ops net calls, over
 * the engine in engine.c), its lifecycle, getSession()'s bytes,
 * renegotiate() and the TLS getters. */
#include <stdio.h>
#include <string.h>

#include "tls/context.h"
#include "tls/suites.h"
#include "tls/observe.h"
#include "tls/tls.h"

#define B (&portls__backend)
#define P (&portls__platform)

/* ---- protocol lists ---- */

int portls__protocols_to_wire(const portls_protocols *p, const char *what, portls__bytes *out,
                              portls_error *err) {
  if (p->names != NULL && p->count > 0) {
    for (size_t i = 0; i < p->count; i++) {
      size_t n = p->names[i] ? strlen(p->names[i]) : 0;
      if (n == 0 || n > 255) {
        portls__bytes_free(out);
        return portls__err(err, PORTLS_EALPN, "%s[%zu]: protocol names must be 1..255 bytes", what,
                           i);
      }
      uint8_t len = (uint8_t)n;
      if (portls__bytes_append(out, &len, 1) || portls__bytes_append(out, p->names[i], n)) {
        portls__bytes_free(out);
        return portls__err(err, PORTLS_ENOMEM, NULL);
      }
    }
    return 0;
  }
  if (p->wire.len == 0) return 0;
  if (p->wire.base == NULL) return portls__err(err, PORTLS_EALPN, "%s: NULL wire buffer", what);
  const uint8_t *w = p->wire.base;
  for (size_t off = 0; off < p->wire.len;) {
    size_t n = w[off];
    if (n == 0 || off + 1 + n > p->wire.len)
      return portls__err(err, PORTLS_EALPN, "%s: malformed length-prefixed buffer at byte %zu",
                         what, off);
    off += 1 + n;
  }
  if (portls__bytes_append(out, w, p->wire.len)) return portls__err(err, PORTLS_ENOMEM, NULL);
  return 0;
}

/* ---- lifecycle ---- */

static void on_handshake_timeout(void *ud) {
  portls_socket *s = ud;
  portls__socket_fail(s, PORTLS_EHANDSHAKE_TIMEOUT, "TLS handshake timeout");
}

int portls__tls_arm_handshake_timer(portls_socket *s, uint64_t ms) {
  if (ms == 0) return 0;
  portls__tls *t = portls__tls_of(s);
  int rc = P->timer_new(s->loop->plat, on_handshake_timeout, s, &t->hs_timer);
  if (rc < 0) return rc;
  P->timer_start(t->hs_timer, ms, 0);
  return 0;
}

static void on_connect_timeout(void *ud) {
  portls_socket *s = ud;
  portls__tls *t = portls__tls_of(s);
  portls__socket_fail(s, PORTLS_ETIMEDOUT,
                      "tls.connect: no secureConnect within timeout (%llu ms: connect and "
                      "handshake)",
                      (unsigned long long)(t ? t->connect_timeout_ms : 0));
}

int portls__tls_arm_connect_timer(portls_socket *s, uint64_t ms) {
  if (ms == 0) return 0;
  portls__tls *t = portls__tls_of(s);
  int rc = P->timer_new(s->loop->plat, on_connect_timeout, s, &t->hs_timer);
  if (rc < 0) return rc;
  t->connect_timeout_ms = ms;
  P->timer_start(t->hs_timer, ms, 0);
  return 0;
}

void portls__tls_stop_handshake_timer(portls__tls *t) {
  if (t->hs_timer != NULL) {
    P->timer_free(t->hs_timer);
    t->hs_timer = NULL;
  }
}

int portls__tls_attach(portls_socket *s, portls__tls **out, portls_error *err) {
  portls__tls *t = portls__calloc(1, sizeof *t);
  if (t == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  s->uops = &portls__tls_upper;
  s->upper = t;
  *out = t;
  return 0;
}

static void tls_free(portls_socket *s) {
  portls__tls *t = portls__tls_of(s);
  portls__cancel(s->loop, &t->task_reneg);
  portls__tls_drop_request(s);
  portls__bytes_free(&t->resume);
  portls__bytes_free(&t->ocsp);
  portls__engine_free(&t->eng);
  if (t->hs_timer != NULL) P->timer_free(t->hs_timer);
  portls_context_free(t->ctx);
  portls__free(t->host);
  portls__free(t->servername);
  portls__free(t->alpn);
  portls__free(t->npn);
  portls__free(t->peer_servername);
  portls__psk_free(&t->psk);
  portls__free((void *)t->session.base);
  portls__bytes_free(&t->alpn_wire);
  portls__bytes_free(&t->npn_wire);
  portls__bytes_free(&t->pending_clear);
  portls__free(t);
  s->upper = NULL;
}

static void tls_resume(portls_socket *s) { portls__tls_process(s); }

static size_t tls_held(const portls_socket *s) { return portls__tls_of(s)->pending_clear.len; }

static int tls_holds_end(const portls_socket *s) {
  const portls__tls *t = portls__tls_of(s);
  return t->pending_clear.len > 0 || t->end_after_handshake;
}

static void tls_destroying(portls_socket *s) {
  portls__tls_stop_handshake_timer(portls__tls_of(s));
}

static void tls_closing(portls_socket *s);

const portls__upper_ops portls__tls_upper = {
    .read = portls__tls_on_read,
    .eof = portls__tls_on_eof,
    .resume = tls_resume,
    .write = portls__tls_write,
    .end = portls__tls_end,
    .held = tls_held,
    .holds_end = tls_holds_end,
    .connected = portls__tls_start,
    .destroying = tls_destroying,
    .closing = tls_closing,
    .report_error = portls__tls_server_client_error,
    .free = tls_free,
    .events_changed = portls__tls_observe,
};

int portls_socket_encrypted(const portls_socket *s) { return portls__tls_of(s) != NULL; }

/* ---- sessions: getSession()'s bytes ----
 * "PLS1", the servername's length (one byte) and the servername the session
 * was made for, then the backend's own serialization. */

static const uint8_t session_magic[4] = {'P', 'L', 'S', '1'};

static uint8_t lower_ascii(uint8_t c) { return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c; }

int portls__tls_get_session(const portls__tls *t, portls_buf *out, portls_error *err) {
  portls_buf b;
  int rc = B->get_session(t->eng.sess, &b, err);
  if (rc < 0) return rc;
  size_t n = t->servername ? strlen(t->servername) : 0; /* at most 255: checked by tls_setup */
  uint8_t *w = portls__malloc(sizeof session_magic + 1 + n + b.len);
  if (w == NULL) {
    portls__free((void *)b.base);
    return portls__err(err, PORTLS_ENOMEM, NULL);
  }
  memcpy(w, session_magic, sizeof session_magic);
  w[4] = (uint8_t)n;
  if (n > 0) memcpy(w + 5, t->servername, n);
  memcpy(w + 5 + n, b.base, b.len);
  portls__free((void *)b.base);
  *out = (portls_buf){w, 5 + n + b.len};
  return 0;
}

int portls__session_unwrap(portls_buf in, const char *servername, portls_buf *backend,
                           portls_error *err) {
  const uint8_t *p = in.base;
  if (p == NULL || in.len < 5 || memcmp(p, session_magic, 4) != 0 || in.len < 5u + p[4])
    return portls__err(err, PORTLS_ESESSION, "session: not the bytes of getSession()");
  size_t n = p[4];
  size_t have = servername ? strlen(servername) : 0;
  int same = n == have;
  for (size_t i = 0; same && i < n; i++)
    same = lower_ascii(p[5 + i]) == lower_ascii((uint8_t)servername[i]);
  *backend = same ? (portls_buf){p + 5 + n, in.len - 5 - n} : (portls_buf){NULL, 0};
  return 0;
}

/* ---- renegotiation ---- */

void portls__tls_reneg_report(void *arg) {
  portls_socket *s = arg;
  portls__tls *t = portls__tls_of(s);
  portls_renegotiate_cb cb = t->reneg_cb;
  if (cb == NULL || (s->flags & S_DESTROYED)) return; /* tls_closing() answers */
  t->reneg_cb = NULL;
  cb(s, t->reneg_err.code ? &t->reneg_err : NULL, t->reneg_user);
}

/* Before 'error' and 'close': the connection leaves its server's rest sweep,
 * and a renegotiate() callback still owed is answered. */
static void tls_closing(portls_socket *s) {
  portls__tls *t = portls__tls_of(s);
  portls__tls_server_forget(s);
  if (t->reneg_cb == NULL) return;
  portls__cancel(s->loop, &t->task_reneg);
  if (s->flags & S_HAD_ERROR)
    t->reneg_err = s->error;
  else if (t->reneg_err.code == 0)
    portls__err(&t->reneg_err, PORTLS_ECONNRESET, "renegotiate: the socket closed first");
  portls_renegotiate_cb cb = t->reneg_cb;
  t->reneg_cb = NULL;
  cb(s, &t->reneg_err, t->reneg_user);
}

int portls_socket_renegotiate(portls_socket *s, const portls_renegotiate_options *o,
                              portls_renegotiate_cb cb, void *user) {
  portls__tls *t = portls__tls_of(s);
  if (t == NULL || cb == NULL || !t->secure || (s->flags & S_DESTROYED)) return PORTLS_EINVAL;
  if (t->reneg_cb != NULL) return PORTLS_EBUSY;
  t->reneg_cb = cb;
  t->reneg_user = user;
  portls_error *e = &t->reneg_err;
  memset(e, 0, sizeof *e);
  portls_cap cap = t->is_server ? PORTLS_CAP_RENEG_SERVER : PORTLS_CAP_RENEG_CLIENT;
  if (!portls_has_capability(cap) || B->renegotiate == NULL || B->handshakes == NULL) {
    portls__err(e, PORTLS_ERENEG_DISABLED, "renegotiate: backend '%s' lacks capability '%s'",
                B->name, portls_capability_name(cap));
  } else if (t->info.version >= PORTLS_TLS1_3) {
    portls__err(e, PORTLS_ERENEG_DISABLED, "renegotiate: TLS 1.3 has no renegotiation");
  } else {
    if (o != NULL && t->is_server && o->request_cert >= 0) t->request_cert = o->request_cert != 0;
    if (o != NULL && o->reject_unauthorized >= 0)
      t->reject_unauthorized = o->reject_unauthorized != 0;
    if (t->is_server && !t->request_cert) t->reject_unauthorized = 0;
    unsigned started = 0, completed = 0;
    B->handshakes(t->eng.sess, &started, &completed);
    if (B->renegotiate(t->eng.sess, !t->is_server || t->request_cert, e) == 0) {
      t->reneg_target = completed + 1;
      if (t->is_server) {
        portls__tls_stop_handshake_timer(t);
        int rc = portls__tls_arm_handshake_timer(s, t->hs_timeout_ms);
        if (rc < 0) portls__err(e, rc, "renegotiate: handshake timer");
      }
      portls__socket_flush(s);
      if (e->code == 0) return 0;
    }
  }
  portls__defer(s->loop, &t->task_reneg, portls__tls_reneg_report, s);
  return 0;
}

/* ---- getters ---- */

static const portls__tls *secure_tls(const portls_socket *s) {
  const portls__tls *t = portls__tls_of(s);
  return t != NULL && t->eng.handshake_done ? t : NULL;
}

int portls_socket_authorized(const portls_socket *s) {
  const portls__tls *t = portls__tls_of(s);
  return t != NULL && t->authorized;
}

int portls_socket_authorization_error(const portls_socket *s) {
  const portls__tls *t = portls__tls_of(s);
  return t != NULL ? t->authz_error : 0;
}

const char *portls_socket_servername(const portls_socket *s) {
  const portls__tls *t = portls__tls_of(s);
  if (t == NULL) return NULL;
  return t->is_server ? t->peer_servername : t->servername;
}

const char *portls_socket_alpn_protocol(const portls_socket *s) {
  const portls__tls *t = secure_tls(s);
  return t ? t->alpn : NULL;
}

const char *portls_socket_npn_protocol(const portls_socket *s) {
  const portls__tls *t = secure_tls(s);
  /* ALPN takes precedence over NPN, as the specification says. */
  return t && !t->alpn ? t->npn : NULL;
}

const char *portls__version_name(uint16_t v) {
  switch (v) {
  case PORTLS_TLS1_0:
    return "TLSv1";
  case PORTLS_TLS1_1:
    return "TLSv1.1";
  case PORTLS_TLS1_2:
    return "TLSv1.2";
  case PORTLS_TLS1_3:
    return "TLSv1.3";
  default:
    return "unknown";
  }
}

const char *portls_socket_get_protocol(const portls_socket *s) {
  const portls__tls *t = secure_tls(s);
  return t ? portls__version_name(t->info.version) : NULL;
}

int portls_socket_get_cipher(const portls_socket *s, portls_cipher *out) {
  if (s == NULL || out == NULL) return PORTLS_EINVAL;
  const portls__tls *t = secure_tls(s);
  if (t == NULL) return PORTLS_ENOTCONN;
  memset(out, 0, sizeof *out);
  const portls__suite *suite = portls__suite_by_id(t->info.suite);
  if (suite != NULL) {
    snprintf(out->name, sizeof out->name, "%s", suite->name);
    snprintf(out->standard_name, sizeof out->standard_name, "%s", suite->std_name);
    snprintf(out->version, sizeof out->version, "%s", portls__suite_version_name(suite));
  } else {
    snprintf(out->name, sizeof out->name, "%s",
             t->info.cipher_name ? t->info.cipher_name : "unknown");
    snprintf(out->version, sizeof out->version, "%s", portls__version_name(t->info.version));
  }
  return 0;
}

int portls_socket_get_peer_certificate(const portls_socket *s, int detailed, portls_cert **out,
                                       portls_error *err) {
  if (s == NULL || out == NULL)
    return portls__err(err, PORTLS_EINVAL, "getPeerCertificate: NULL argument");
  *out = NULL;
  const portls__tls *t = secure_tls(s);
  if (t == NULL)
    return portls__err(err, PORTLS_ENOTCONN, "getPeerCertificate: no secure connection");
  portls_buf der;
  if (!detailed) {
    if (B->peer_cert(t->eng.sess, 0, &der) < 0) return 0; /* no certificate: Node's {} */
    return portls_cert_parse_der(der.base, der.len, out, err);
  }
  /* The verified chain reaches the trust anchor; without one, what the peer sent. */
  int (*get)(portls_be_session *, size_t, portls_buf *) = B->peer_cert;
  if (B->verified_cert != NULL && B->verified_cert(t->eng.sess, 0, &der) == 0)
    get = B->verified_cert;
  enum { MAX_CHAIN = 16 };
  const void *ders[MAX_CHAIN];
  size_t lens[MAX_CHAIN];
  size_t n = 0;
  while (n < MAX_CHAIN && get(t->eng.sess, n, &der) == 0) {
    ders[n] = der.base;
    lens[n] = der.len;
    n++;
  }
  if (n == 0) return 0;
  return portls_cert_parse_chain(ders, lens, n, out, err);
}

int portls_socket_get_ephemeral_key_info(const portls_socket *s, portls_ephemeral_key_info *out) {
  if (out == NULL || portls__tls_of(s) == NULL || portls__tls_of(s)->is_server)
    return PORTLS_EINVAL;
  const portls__tls *t = secure_tls(s);
  if (t == NULL) return PORTLS_ENOTCONN;
  memset(out, 0, sizeof *out);
  out->type = t->info.ephemeral_type;
  if (t->info.ephemeral_name != NULL)
    snprintf(out->name, sizeof out->name, "%s", t->info.ephemeral_name);
  out->size = t->info.ephemeral_type ? t->info.ephemeral_bits : 0;
  return 0;
}

int portls_socket_get_session(const portls_socket *s, portls_buf *out) {
  if (s == NULL || out == NULL) return PORTLS_EINVAL;
  out->base = NULL;
  out->len = 0;
  const portls__tls *t = secure_tls(s);
  if (t == NULL) return PORTLS_ENOTCONN;
  if (B->get_session == NULL) return PORTLS_ENOTSUP;
  portls_error err;
  return portls__tls_get_session(t, out, &err);
}

int portls_socket_is_session_reused(const portls_socket *s) {
  const portls__tls *t = secure_tls(s);
  return t ? t->info.session_reused : 0;
}

int portls_socket_get_tls_ticket(const portls_socket *s, portls_buf *out) {
  if (out == NULL || portls__tls_of(s) == NULL) return PORTLS_EINVAL;
  out->base = NULL;
  out->len = 0;
  if (!portls_has_capability(PORTLS_CAP_SESSION_TICKETS) || B->ticket == NULL)
    return PORTLS_ENOTSUP;
  const portls__tls *t = secure_tls(s);
  if (t == NULL || t->is_server) return PORTLS_ENOENT;
  return B->ticket(t->eng.sess, out);
}

int portls_socket_set_max_send_fragment(portls_socket *s, size_t size) {
  portls__tls *t = portls__tls_of(s);
  if (t == NULL || t->eng.sess == NULL) return 0;
  if (size < 512 || size > 16384) return 0;
  if (!portls_has_capability(PORTLS_CAP_MAX_SEND_FRAGMENT) || B->set_max_send_fragment == NULL)
    return 0;
  return B->set_max_send_fragment(t->eng.sess, size) == 0;
}
