/* tls.TLSSocket: the engine between the socket's user bytes and its
 * transport, the handshake's completion (verification, as Node's
 * onConnectSecure / onServerSocketSecure do it) and the TLS getters. */
#include <stdio.h>
#include <string.h>

#include "net/addr.h"
#include "net/socket.h"
#include "tls/context.h"
#include "tls/suites.h"

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
        return portls__err(err, PORTLS_EALPN, "%s[%zu]: protocol names must be 1..255 bytes", what, i);
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
      return portls__err(err, PORTLS_EALPN, "%s: malformed length-prefixed buffer at byte %zu", what, off);
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
  int rc = P->timer_new(s->loop->plat, on_handshake_timeout, s, &s->tls->hs_timer);
  if (rc < 0) return rc;
  P->timer_start(s->tls->hs_timer, ms, 0);
  return 0;
}

static int start_engine(portls_socket *s, portls_error *err) {
  portls__tls *t = s->tls;
  portls_be_session_config cfg = {
      .is_server = t->is_server,
      .servername = t->servername,
      .verify_peer = !t->is_server || t->request_cert,
      .alpn_wire = {t->alpn_wire.data, t->alpn_wire.len},
      .npn_wire = {t->npn_wire.data, t->npn_wire.len},
      .session = t->session,
  };
  int rc = portls__engine_init(&t->eng, t->ctx->be, &cfg, &s->out, err);
  if (rc < 0) return rc;
  if (!t->is_server) portls__tls_process(s); /* sends the ClientHello */
  return 0;
}

int portls__tls_start(portls_socket *s, portls_error *err) {
  portls__tls *t = s->tls;
  if (t->is_server && t->sni != NULL) {
    /* The backend session is made once the ClientHello says which context. */
    t->hello = portls__malloc(sizeof *t->hello);
    if (t->hello == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
    portls__hello_init(t->hello);
    return 0;
  }
  return start_engine(s, err);
}

/* ---- SNI: the ClientHello stage ---- */

struct portls_sni_request {
  portls_socket *sock; /* NULL once the connection is gone */
  int answered;
  portls_context *ctx;
  portls_error err;
  int has_err;
};

static void hello_done(portls_socket *s, portls_context *ctx) {
  portls__tls *t = s->tls;
  if (ctx != NULL && ctx != t->ctx) {
    portls_context_free(t->ctx);
    t->ctx = portls_context_ref(ctx);
  }
  portls__hello_free(t->hello);
  portls__free(t->hello);
  t->hello = NULL;
  portls_error err;
  if (start_engine(s, &err) < 0) {
    portls__socket_fail(s, err.code, "%s", err.message);
    return;
  }
  portls__bytes held = t->held_hello;
  memset(&t->held_hello, 0, sizeof t->held_hello);
  portls__engine_input(&t->eng, held.data, held.len);
  portls__tls_process(s);
  int rc = s->tls != NULL ? portls__engine_input_done(&t->eng) : 0;
  portls__bytes_free(&held);
  if (rc != 0) portls__socket_fail(s, PORTLS_ENOMEM, "read: out of memory");
  else if (!(s->flags & S_DESTROYED)) portls_socket_resume(s);
}

static void sni_answered(void *arg) {
  portls_socket *s = arg;
  portls_sni_request *req = s->tls->sni_req;
  if (s->flags & S_DESTROYED) return;
  if (req->has_err) {
    portls__socket_fail(s, req->err.code ? req->err.code : PORTLS_EPROTO, "SNICallback: %s", req->err.message);
    return;
  }
  hello_done(s, req->ctx);
}

int portls_sni_request_done(portls_sni_request *req, portls_context *ctx, const portls_error *err) {
  if (req == NULL || req->answered) return PORTLS_EINVAL;
  req->answered = 1;
  if (req->sock == NULL) { /* the connection has gone: nothing to answer */
    portls__free(req);
    return 0;
  }
  if (err != NULL) {
    req->err = *err;
    req->has_err = 1;
  } else if (ctx != NULL) {
    req->ctx = portls_context_ref(ctx);
  }
  portls_socket *s = req->sock;
  portls__defer(s->loop, &s->tls->task_sni, sni_answered, s);
  return 0;
}

static void hello_stage(portls_socket *s, const uint8_t *data, size_t len) {
  portls__tls *t = s->tls;
  if (portls__bytes_append(&t->held_hello, data, len) != 0) {
    portls__socket_fail(s, PORTLS_ENOMEM, "read: out of memory");
    return;
  }
  if (t->sni_req != NULL) return; /* waiting for the application: just hold the bytes */
  int rc = portls__hello_feed(t->hello, data, len);
  if (rc == PORTLS__HELLO_MORE) return;
  if (rc != PORTLS__HELLO_DONE) {
    portls__socket_fail(s, rc == PORTLS_ENOMEM ? PORTLS_ENOMEM : PORTLS_EPROTO, "%s", t->hello->err.message);
    return;
  }
  const char *name = t->hello->ch.servername;
  if (name != NULL && (t->peer_servername = portls__strdup(name)) == NULL) {
    portls__socket_fail(s, PORTLS_ENOMEM, "read: out of memory");
    return;
  }
  if (name == NULL || t->sni->cb == NULL) {
    hello_done(s, name ? portls__sni_lookup(t->sni, name) : NULL);
    return;
  }
  t->sni_req = portls__calloc(1, sizeof *t->sni_req);
  if (t->sni_req == NULL) {
    portls__socket_fail(s, PORTLS_ENOMEM, "read: out of memory");
    return;
  }
  t->sni_req->sock = s;
  portls_socket_pause(s); /* bounded: nothing more is read until the answer */
  t->sni->cb(t->sni->server, t->peer_servername, t->sni_req, t->sni->user);
}

void portls__tls_free(portls_socket *s) {
  portls__tls *t = s->tls;
  portls__cancel(s->loop, &t->task_sni);
  if (t->sni_req != NULL) {
    portls_context_free(t->sni_req->ctx);
    if (t->sni_req->answered)
      portls__free(t->sni_req);
    else
      t->sni_req->sock = NULL; /* freed by portls_sni_request_done() */
  }
  if (t->hello != NULL) {
    portls__hello_free(t->hello);
    portls__free(t->hello);
  }
  portls__bytes_free(&t->held_hello);
  portls__engine_free(&t->eng);
  if (t->hs_timer != NULL) P->timer_free(t->hs_timer);
  portls_context_free(t->ctx);
  portls__free(t->host);
  portls__free(t->servername);
  portls__free(t->alpn);
  portls__free(t->npn);
  portls__free(t->peer_servername);
  portls__free((void *)t->session.base);
  portls__bytes_free(&t->alpn_wire);
  portls__bytes_free(&t->npn_wire);
  portls__bytes_free(&t->pending_clear);
  portls__free(t);
  s->tls = NULL;
}

/* ---- verification ---- */

static int check_identity(portls_socket *s, portls_error *err) {
  portls__tls *t = s->tls;
  portls_buf der;
  int rc = B->peer_cert(t->eng.sess, 0, &der);
  if (rc < 0) return portls__err(err, PORTLS_EUNABLE_TO_GET_ISSUER_CERT, NULL);
  portls_cert *cert = NULL;
  rc = portls_cert_parse_der(der.base, der.len, &cert, err);
  if (rc < 0) return rc;
  const char *host = t->servername ? t->servername : t->host ? t->host : "localhost";
  if (t->check_identity != NULL) {
    rc = t->check_identity(host, cert, err, t->check_identity_user);
    if (rc < 0 && err->code == 0) portls__err(err, rc, NULL);
  } else {
    rc = portls_check_server_identity(host, cert, err);
  }
  portls_cert_free(cert);
  return rc < 0 ? rc : 0;
}

static int copy_info_strings(portls__tls *t) {
  if (t->info.alpn && !(t->alpn = portls__strdup(t->info.alpn))) return PORTLS_ENOMEM;
  if (t->info.npn && !(t->npn = portls__strdup(t->info.npn))) return PORTLS_ENOMEM;
  if (t->info.servername && !t->peer_servername && !(t->peer_servername = portls__strdup(t->info.servername)))
    return PORTLS_ENOMEM;
  return 0;
}

/* Writes cleartext queued before the handshake completed (or while a
 * renegotiation held writes back). */
static void flush_pending(portls_socket *s) {
  portls__tls *t = s->tls;
  if (t->pending_clear.len > 0) {
    portls_error err;
    int rc = B->write(t->eng.sess, t->pending_clear.data, t->pending_clear.len, &err);
    if (rc == PORTLS_BE_WANT_READ) return;
    portls__bytes_free(&t->pending_clear);
    if (rc < 0) {
      portls__socket_fail(s, err.code, "%s", err.message);
      return;
    }
  }
  if (t->end_after_handshake) {
    t->end_after_handshake = 0;
    portls__tls_end(s);
  }
}

/* Node: onConnectSecure (client) and onServerSocketSecure (server). */
static void handshake_done(portls_socket *s) {
  portls__tls *t = s->tls;
  B->info(t->eng.sess, &t->info);
  if (copy_info_strings(t) < 0) {
    portls__socket_fail(s, PORTLS_ENOMEM, "handshake: out of memory");
    return;
  }
  if (t->hs_timer != NULL) {
    P->timer_free(t->hs_timer);
    t->hs_timer = NULL;
  }
  portls_error err = {0};
  int code = 0;
  /* Node checks the DH size first, and that failure is never optional. */
  if (!t->is_server && t->info.ephemeral_type != NULL && strcmp(t->info.ephemeral_type, "DH") == 0 &&
      t->info.ephemeral_bits < t->min_dh_size) {
    portls__socket_fail(s, PORTLS_EDH_TOO_SMALL, "DH parameter size %d is less than %d",
                        t->info.ephemeral_bits, t->min_dh_size);
    return;
  }
  if (!t->is_server || t->request_cert) {
    /* Node reports a missing peer certificate as UNABLE_TO_GET_ISSUER_CERT. */
    code = t->info.has_peer_cert ? t->info.verify_result : PORTLS_EUNABLE_TO_GET_ISSUER_CERT;
    if (code != 0) portls__err(&err, code, NULL);
    if (code == 0 && !t->is_server && !t->info.session_reused) code = check_identity(s, &err);
  }
  t->authorized = (!t->is_server || t->request_cert) && code == 0;
  t->authz_error = code;
  if (code != 0 && t->reject_unauthorized) {
    portls__socket_fail(s, err.code, "%s", err.message);
    return;
  }
  t->secure = 1;
  flush_pending(s);
  if (s->flags & S_DESTROYED) return;
  portls__socket_flush(s);
  if (t->is_server && s->server != NULL) {
    portls__server_secure(s->server, s);
    return;
  }
  if (t->on_secure != NULL) {
    t->on_secure(s, t->on_secure_arg);
    if (s->flags & S_DESTROYED) return;
  }
  if (s->ev.secure_connect != NULL) s->ev.secure_connect(s, s->user);
}

/* ---- data path ---- */

/* Node's 'session': each session the client can resume later. */
static void emit_sessions(portls_socket *s) {
  portls__tls *t = s->tls;
  if (t->is_server || B->session_ready == NULL || !B->session_ready(t->eng.sess)) return;
  if (s->ev.session == NULL) return;
  portls_buf b;
  portls_error err;
  if (B->get_session(t->eng.sess, &b, &err) < 0) return;
  s->ev.session(s, b.base, b.len, s->user);
  portls__free((void *)b.base);
}

static void fail_from(portls_socket *s, const portls_error *err) {
  portls__socket_fail(s, err->code, "%s", err->message);
}

void portls__tls_process(portls_socket *s) {
  portls__tls *t = s->tls;
  portls_error err;
  if (t == NULL || t->eng.sess == NULL) return;
  while (!(s->flags & S_DESTROYED)) {
    if (!t->eng.handshake_done) {
      int rc = B->handshake(t->eng.sess, &err);
      if (rc == PORTLS_BE_WANT_READ) break;
      if (rc < 0) {
        portls__socket_flush(s); /* let the alert reach the peer */
        fail_from(s, &err);
        return;
      }
      t->eng.handshake_done = 1;
      portls__socket_flush(s);
      handshake_done(s);
      if (!(s->flags & S_DESTROYED) && t->secure) emit_sessions(s);
      continue;
    }
    if (s->flags & S_PAUSED) break;
    if (s->loop->clear_buf == NULL && (s->loop->clear_buf = portls__malloc(PORTLS__CLEAR_BUF_SIZE)) == NULL) {
      portls__socket_fail(s, PORTLS_ENOMEM, "read: out of memory");
      return;
    }
    size_t n = 0;
    int rc = B->read(t->eng.sess, s->loop->clear_buf, PORTLS__CLEAR_BUF_SIZE, &n, &err);
    if (rc == PORTLS_BE_OK) {
      portls__socket_emit_data(s, s->loop->clear_buf, n);
      continue;
    }
    if (t->secure && !(s->flags & S_DESTROYED)) emit_sessions(s);
    if (rc == PORTLS_BE_WANT_READ) {
      if (t->secure && t->pending_clear.len > 0) flush_pending(s);
      break;
    }
    if (rc == PORTLS_BE_CLOSED) {
      portls__socket_flush(s);
      portls__socket_peer_ended(s);
      return;
    }
    portls__socket_flush(s);
    fail_from(s, &err);
    return;
  }
  portls__socket_flush(s);
}

void portls__tls_on_read(portls_socket *s, const uint8_t *data, size_t len) {
  portls__tls *t = s->tls;
  if (t->hello != NULL) {
    hello_stage(s, data, len);
    return;
  }
  if (t->eng.sess == NULL) return;
  portls__engine_input(&t->eng, data, len);
  portls__tls_process(s);
  if (s->tls != NULL && portls__engine_input_done(&t->eng) != 0)
    portls__socket_fail(s, PORTLS_ENOMEM, "read: out of memory");
}

void portls__tls_on_eof(portls_socket *s) {
  portls__tls *t = s->tls;
  if (!t->eng.handshake_done) {
    portls__socket_fail(s, PORTLS_ECONNRESET,
                        "Client network socket disconnected before secure TLS connection was established");
    return;
  }
  portls__socket_peer_ended(s);
}

int portls__tls_write(portls_socket *s, const void *data, size_t len) {
  portls__tls *t = s->tls;
  s->bytes_written += len;
  if (!t->secure || t->pending_clear.len > 0) {
    if (portls__bytes_append(&t->pending_clear, data, len) != 0) return PORTLS_ENOMEM;
    return 0;
  }
  portls_error err;
  int rc = B->write(t->eng.sess, data, len, &err);
  if (rc == PORTLS_BE_WANT_READ) {
    if (portls__bytes_append(&t->pending_clear, data, len) != 0) return PORTLS_ENOMEM;
  } else if (rc < 0) {
    fail_from(s, &err);
    return rc;
  }
  portls__socket_flush(s);
  return 0;
}

void portls__tls_end(portls_socket *s) {
  portls__tls *t = s->tls;
  if (!t->secure) {
    t->end_after_handshake = 1;
    return;
  }
  portls_error err;
  if (B->shutdown(t->eng.sess, &err) < 0) fail_from(s, &err);
}

/* ---- getters ---- */

static const portls__tls *secure_tls(const portls_socket *s) {
  return s != NULL && s->tls != NULL && s->tls->eng.handshake_done ? s->tls : NULL;
}

int portls_socket_authorized(const portls_socket *s) {
  return s != NULL && s->tls != NULL && s->tls->authorized;
}

int portls_socket_authorization_error(const portls_socket *s) {
  return s != NULL && s->tls != NULL ? s->tls->authz_error : 0;
}

const char *portls_socket_servername(const portls_socket *s) {
  if (s == NULL || s->tls == NULL) return NULL;
  return s->tls->is_server ? s->tls->peer_servername : s->tls->servername;
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
    case PORTLS_TLS1_0: return "TLSv1";
    case PORTLS_TLS1_1: return "TLSv1.1";
    case PORTLS_TLS1_2: return "TLSv1.2";
    case PORTLS_TLS1_3: return "TLSv1.3";
    default: return "unknown";
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
    snprintf(out->name, sizeof out->name, "%s", t->info.cipher_name ? t->info.cipher_name : "unknown");
    snprintf(out->version, sizeof out->version, "%s", portls__version_name(t->info.version));
  }
  return 0;
}

int portls_socket_get_peer_certificate(const portls_socket *s, int detailed, portls_cert **out,
                                       portls_error *err) {
  if (s == NULL || out == NULL) return portls__err(err, PORTLS_EINVAL, "getPeerCertificate: NULL argument");
  *out = NULL;
  const portls__tls *t = secure_tls(s);
  if (t == NULL) return portls__err(err, PORTLS_ENOTCONN, "getPeerCertificate: no secure connection");
  portls_buf der;
  if (!detailed) {
    if (B->peer_cert(t->eng.sess, 0, &der) < 0) return 0; /* no certificate: Node's {} */
    return portls_cert_parse_der(der.base, der.len, out, err);
  }
  /* The verified chain reaches the trust anchor; without one, what the peer sent. */
  int (*get)(portls_be_session *, size_t, portls_buf *) = B->peer_cert;
  if (B->verified_cert != NULL && B->verified_cert(t->eng.sess, 0, &der) == 0) get = B->verified_cert;
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
  if (s == NULL || out == NULL || s->tls == NULL || s->tls->is_server) return PORTLS_EINVAL;
  const portls__tls *t = secure_tls(s);
  if (t == NULL) return PORTLS_ENOTCONN;
  memset(out, 0, sizeof *out);
  out->type = t->info.ephemeral_type;
  if (t->info.ephemeral_name != NULL) snprintf(out->name, sizeof out->name, "%s", t->info.ephemeral_name);
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
  return B->get_session(t->eng.sess, out, &err);
}

int portls_socket_is_session_reused(const portls_socket *s) {
  const portls__tls *t = secure_tls(s);
  return t ? t->info.session_reused : 0;
}

int portls_socket_set_max_send_fragment(portls_socket *s, size_t size) {
  if (s == NULL || s->tls == NULL || s->tls->eng.sess == NULL) return 0;
  if (size < 512 || size > 16384) return 0;
  if (!portls_has_capability(PORTLS_CAP_MAX_SEND_FRAGMENT) || B->set_max_send_fragment == NULL) return 0;
  return B->set_max_send_fragment(s->tls->eng.sess, size) == 0;
}
