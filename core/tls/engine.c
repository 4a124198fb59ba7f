/* The engine: the sans-I/O driver of one backend session. Below, its
 * ciphertext buffers; above, what it does for a TLS socket: the handshake
 * (with the pauses where it waits for the application: the ClientHello's
 * questions, newSession), its completion and verification, the decrypt
 * loop, the renegotiation limiter, and the write and end of cleartext. */
#include <stdio.h>
#include <string.h>

#include "tls/context.h"
#include "tls/observe.h"
#include "tls/tls.h"

#define B (&portls__backend)

/* ---- ciphertext buffers ---- */

static size_t eng_recv(void *io, uint8_t *buf, size_t len) {
  portls__engine *e = io;
  size_t got = 0;
  size_t avail = e->left.len - e->left_off;
  if (avail > 0) {
    size_t n = PORTLS__MIN(avail, len);
    memcpy(buf, e->left.data + e->left_off, n);
    e->left_off += n;
    got += n;
    if (e->left_off == e->left.len) e->left.len = e->left_off = 0;
  }
  if (got < len && e->cur_len > 0) {
    size_t n = PORTLS__MIN(e->cur_len, len - got);
    memcpy(buf + got, e->cur, n);
    e->cur += n;
    e->cur_len -= n;
    got += n;
  }
  return got;
}

static int eng_send(void *io, const uint8_t *buf, size_t len) {
  portls__engine *e = io;
  return portls__bytes_append(e->out, buf, len);
}

int portls__engine_init(portls__engine *e, portls_be_ctx *ctx, const portls_be_session_config *cfg,
                        portls__bytes *out, portls_error *err) {
  memset(e, 0, sizeof *e);
  e->out = out;
  e->io.io = e;
  e->io.recv = eng_recv;
  e->io.send = eng_send;
  return portls__backend.session_new(ctx, cfg, &e->io, &e->sess, err);
}

void portls__engine_free(portls__engine *e) {
  if (e->sess != NULL) portls__backend.session_free(e->sess);
  e->sess = NULL;
  portls__bytes_free(&e->left);
  e->left_off = 0;
  e->cur = NULL;
  e->cur_len = 0;
}

void portls__engine_input(portls__engine *e, const uint8_t *data, size_t len) {
  e->cur = data;
  e->cur_len = len;
}

int portls__engine_input_done(portls__engine *e) {
  int rc = 0;
  if (e->cur_len > 0) {
    if (e->left_off > 0) {
      portls__bytes_consume(&e->left, e->left_off);
      e->left_off = 0;
    }
    rc = portls__bytes_append(&e->left, e->cur, e->cur_len);
  }
  e->cur = NULL;
  e->cur_len = 0;
  /* Idle connections give their buffers back. */
  if (e->left.len == e->left_off) portls__bytes_free(&e->left), e->left_off = 0;
  return rc;
}

size_t portls__engine_pending_input(const portls__engine *e) {
  return e->left.len - e->left_off + e->cur_len;
}

/* ---- starting ---- */

static int start_engine(portls_socket *s, portls_error *err) {
  portls__tls *t = portls__tls_of(s);
  portls_be_session_config cfg = {
      .is_server = t->is_server,
      .servername = t->servername,
      .verify_peer = !t->is_server || t->request_cert,
      .require_peer_cert = t->is_server && t->request_cert && t->reject_unauthorized,
      .alpn_wire = {t->alpn_wire.data, t->alpn_wire.len},
      .npn_wire = {t->npn_wire.data, t->npn_wire.len},
      .session = t->session,
      .request_ocsp = t->request_ocsp,
      .resume = {t->resume.data, t->resume.len},
      .ocsp_response = {t->ocsp.data, t->ocsp.len},
      .psk_client = t->psk.client != NULL ? portls__psk_client : NULL,
      .psk_server = t->psk.server != NULL ? portls__psk_server : NULL,
      .psk_arg = s,
      .psk_identity_hint = t->psk.hint,
  };
  cfg.may_rest = t->may_rest = t->is_server && portls__tls_server_may_rest(t->server);
  int rc = portls__engine_init(&t->eng, t->ctx->be, &cfg, &s->out, err);
  portls__bytes_free(&t->resume);
  portls__bytes_free(&t->ocsp);
  if (rc < 0) return rc;
  portls__tls_observe(s);                    /* keylog, trace: only when someone listens */
  if (!t->is_server) portls__tls_process(s); /* sends the ClientHello */
  return 0;
}

int portls__tls_start(portls_socket *s, portls_error *err) {
  portls__tls *t = portls__tls_of(s);
  if (t->is_server && portls__hooks_need_hello(t->hooks)) {
    /* The backend session is made once the application has answered what
     * the ClientHello asks (which context, which session, which OCSP). */
    t->hello = portls__malloc(sizeof *t->hello);
    if (t->hello == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
    portls__hello_init(t->hello);
    return 0;
  }
  return start_engine(s, err);
}

/* ---- the ClientHello stage: the application's answers, asynchronously ----
 *
 * Node asks in this order: resumeSession (the ClientHello's session id),
 * SNICallback (or the addContext list), OCSPRequest. Each question pauses
 * the socket; the answer comes back through a deferred task, so an answer
 * given inside the callback behaves like a later one. */

enum { REQ_SNI = 1, REQ_RESUME, REQ_OCSP, REQ_NEW_SESSION };
enum { STEP_RESUME, STEP_SNI, STEP_ALPN, STEP_OCSP, STEP_DONE };

/* The public portls_sni_request, _session_request and _ocsp_request point to
 * this under types never defined, so answering with the wrong _done() does not compile. */
struct portls_request {
  portls_socket *sock; /* NULL once the connection is gone */
  int kind;
  int answered;
  int has_err;
  portls_error err;
  portls_context *ctx; /* SNI */
  portls__bytes data;  /* resumeSession's session, OCSPRequest's response */
};

static const char *const req_names[] = {"", "SNICallback", "resumeSession", "OCSPRequest",
                                        "newSession"};

static void req_release(struct portls_request *r) {
  portls_context_free(r->ctx);
  portls__bytes_free(&r->data);
  portls__free(r);
}

static struct portls_request *req_new(portls_socket *s, int kind) {
  struct portls_request *r = portls__calloc(1, sizeof *r);
  if (r == NULL) {
    portls__socket_fail(s, PORTLS_ENOMEM, "%s: out of memory", req_names[kind]);
    return NULL;
  }
  r->sock = s;
  r->kind = kind;
  portls__tls_of(s)->req = r;
  portls_socket_pause(s); /* bounded: nothing more is read until the answer */
  return r;
}

static void hello_continue(portls_socket *s);
static void finish_secure(portls_socket *s);

static void req_answered(void *arg) {
  portls_socket *s = arg;
  portls__tls *t = portls__tls_of(s);
  struct portls_request *r = t->req;
  if (s->flags & S_DESTROYED) return; /* portls__tls_free releases r */
  t->req = NULL;
  if (r->has_err) {
    portls__socket_fail(s, r->err.code ? r->err.code : PORTLS_EPROTO, "%s: %s", req_names[r->kind],
                        r->err.message);
    req_release(r);
    return;
  }
  switch (r->kind) {
  case REQ_SNI:
    if (r->ctx != NULL && r->ctx != t->ctx) {
      portls_context_free(t->ctx);
      t->ctx = portls_context_ref(r->ctx);
    }
    break;
  case REQ_RESUME:
    t->resume = r->data;
    memset(&r->data, 0, sizeof r->data);
    break;
  case REQ_OCSP:
    t->ocsp = r->data;
    memset(&r->data, 0, sizeof r->data);
    break;
  default: /* REQ_NEW_SESSION */
    req_release(r);
    t->new_session_pending = 0;
    portls_socket_resume(s);
    finish_secure(s);
    if (!(s->flags & S_DESTROYED) && portls__tls_of(s) != NULL) portls__tls_process(s);
    return;
  }
  req_release(r);
  hello_continue(s);
}

static int req_done(struct portls_request *r, int kind, portls_context *ctx, const void *data,
                    size_t len, const portls_error *err) {
  if (r == NULL || r->answered || r->kind != kind) return PORTLS_EINVAL;
  r->answered = 1;
  if (r->sock == NULL) { /* the connection has gone: nothing to answer */
    req_release(r);
    return 0;
  }
  if (err != NULL) {
    r->err = *err;
    r->has_err = 1;
  } else if (ctx != NULL) {
    r->ctx = portls_context_ref(ctx);
  } else if (data != NULL && len > 0 && portls__bytes_append(&r->data, data, len) != 0) {
    portls__err(&r->err, PORTLS_ENOMEM, "out of memory");
    r->has_err = 1;
  }
  portls_socket *s = r->sock;
  portls__defer(s->loop, &portls__tls_of(s)->task_req, req_answered, s);
  return 0;
}

int portls_sni_request_done(portls_sni_request *req, portls_context *ctx, const portls_error *err) {
  return req_done((struct portls_request *)req, REQ_SNI, ctx, NULL, 0, err);
}

int portls_ocsp_request_done(portls_ocsp_request *req, const void *response, size_t len,
                             const portls_error *err) {
  return req_done((struct portls_request *)req, REQ_OCSP, NULL, response, len, err);
}

int portls_session_request_done(portls_session_request *req, const void *data, size_t len,
                                const portls_error *err) {
  struct portls_request *r = (struct portls_request *)req;
  if (r != NULL && r->kind == REQ_NEW_SESSION)
    return req_done(r, REQ_NEW_SESSION, NULL, NULL, 0, err);
  return req_done(r, REQ_RESUME, NULL, data, len, err);
}

static void hello_done(portls_socket *s) {
  portls__tls *t = portls__tls_of(s);
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
  int rc = portls__tls_of(s) != NULL ? portls__engine_input_done(&t->eng) : 0;
  portls__bytes_free(&held);
  if (rc != 0)
    portls__socket_fail(s, PORTLS_ENOMEM, "read: out of memory");
  else if (!(s->flags & S_DESTROYED))
    portls_socket_resume(s);
}

/* A hello refused before the backend saw it: a fatal alert, written by core
 * as a plaintext record (no keys exist yet), then the socket fails. */
static void hello_refuse(portls_socket *s, unsigned alert, int code, const char *msg) {
  const uint8_t record[7] = {21, 3, 3, 0, 2, 2, (uint8_t)alert};
  if (alert != 0 && portls__bytes_append(&s->out, record, sizeof record) == 0)
    portls__socket_flush(s);
  portls__socket_fail(s, code, "%s", msg);
}

#define ALERT_NO_APPLICATION_PROTOCOL 120

/* Node's ALPNCallback: synchronous. The choice becomes the server's whole
 * ALPN list for this connection, so every backend selects it; a refusal is
 * the no_application_protocol alert. -1 when the socket failed. */
static int alpn_ask(portls_socket *s) {
  portls__tls *t = portls__tls_of(s);
  const portls__hello_hooks *h = t->hooks;
  const portls__client_hello *ch = &t->hello->ch;
  /* The names, NUL-terminated, in one allocation: at most alpn_len / 2
   * names (each takes a length byte and one byte at least). */
  size_t max = ch->alpn_len / 2 + 1, pos = 0, n = 0, name_len;
  const uint8_t *name;
  char **names = portls__malloc(max * sizeof *names + ch->alpn_len + max);
  if (names == NULL) {
    portls__socket_fail(s, PORTLS_ENOMEM, "%s", "ALPNCallback: out of memory");
    return -1;
  }
  char *text = (char *)(names + max);
  while (n < max && portls__hello_alpn_next(ch->alpn, ch->alpn_len, &pos, &name, &name_len)) {
    memcpy(text, name, name_len);
    text[name_len] = '\0';
    names[n++] = text;
    text += name_len + 1;
  }
  const char *pick =
      h->alpn_cb(h->server, s, t->peer_servername, (const char *const *)names, n, h->alpn_user);
  int rc = 0;
  if (s->flags & S_DESTROYED) {
    rc = -1; /* the callback destroyed the socket */
  } else if (pick == NULL) {
    hello_refuse(s, ALERT_NO_APPLICATION_PROTOCOL, PORTLS_EPROTO,
                 "ALPNCallback: no protocol chosen; sent no_application_protocol");
    rc = -1;
  } else {
    size_t i = 0;
    while (i < n && strcmp(names[i], pick) != 0) i++;
    size_t len = strlen(pick);
    if (i == n || len > 255) {
      char msg[200];
      snprintf(msg, sizeof msg, "ALPNCallback: returned \"%.100s\", which the client did not offer",
               pick);
      hello_refuse(s, ALERT_NO_APPLICATION_PROTOCOL, PORTLS_EALPN_CALLBACK_INVALID_RESULT, msg);
      rc = -1;
    } else {
      uint8_t l = (uint8_t)len;
      portls__bytes_free(&t->alpn_wire);
      if (portls__bytes_append(&t->alpn_wire, &l, 1) != 0 ||
          portls__bytes_append(&t->alpn_wire, names[i], len) != 0) {
        portls__socket_fail(s, PORTLS_ENOMEM, "%s", "ALPNCallback: out of memory");
        rc = -1;
      }
    }
  }
  portls__free(names);
  return rc;
}

/* Asks the next question the ClientHello raises, or hands over to the backend. */
static void hello_continue(portls_socket *s) {
  portls__tls *t = portls__tls_of(s);
  const portls__hello_hooks *h = t->hooks;
  const portls__client_hello *ch = &t->hello->ch;
  struct portls_request *r;
  while (t->hello_step < STEP_DONE) {
    switch (t->hello_step++) {
    case STEP_RESUME:
      /* Node: asked when there is a session id and no ticket to resume by. */
      if (h->resume_session == NULL || ch->session_id_len == 0 || ch->ticket_len > 0) break;
      if ((r = req_new(s, REQ_RESUME)) == NULL) return;
      h->resume_session(h->server, s, ch->session_id, ch->session_id_len,
                        (portls_session_request *)r, h->session_user);
      return;
    case STEP_SNI:
      if (ch->servername == NULL || (h->cb == NULL && h->contexts == NULL)) break;
      if (h->cb == NULL) {
        portls_context *ctx = portls__sni_lookup(h, ch->servername);
        if (ctx != NULL && ctx != t->ctx) {
          portls_context_free(t->ctx);
          t->ctx = portls_context_ref(ctx);
        }
        break;
      }
      if ((r = req_new(s, REQ_SNI)) == NULL) return;
      h->cb(h->server, t->peer_servername, (portls_sni_request *)r, h->user);
      return;
    case STEP_ALPN:
      if (h->alpn_cb != NULL && ch->alpn != NULL && alpn_ask(s) < 0) return;
      break;
    default: /* STEP_OCSP, with the context SNI chose */
      if (h->ocsp_request == NULL || !ch->status_request) break;
      if ((r = req_new(s, REQ_OCSP)) == NULL) return;
      h->ocsp_request(h->server, s, t->ctx->ocsp_cert, t->ctx->ocsp_cert_len, t->ctx->ocsp_issuer,
                      t->ctx->ocsp_issuer_len, (portls_ocsp_request *)r, h->ocsp_user);
      return;
    }
  }
  hello_done(s);
}

static void hello_stage(portls_socket *s, const uint8_t *data, size_t len) {
  portls__tls *t = portls__tls_of(s);
  if (portls__bytes_append(&t->held_hello, data, len) != 0) {
    portls__socket_fail(s, PORTLS_ENOMEM, "read: out of memory");
    return;
  }
  if (t->req != NULL || t->hello_step != STEP_RESUME) return; /* asking: just hold the bytes */
  int rc = portls__hello_feed(t->hello, data, len);
  if (rc == PORTLS__HELLO_MORE) return;
  if (rc != PORTLS__HELLO_DONE) {
    /* A refused hello gets a fatal alert; no keys exist yet, so core writes
     * the plaintext record itself. */
    hello_refuse(s, portls__hello_alert(t->hello),
                 rc == PORTLS_ENOMEM ? PORTLS_ENOMEM : PORTLS_EPROTO, t->hello->err.message);
    return;
  }
  const char *name = t->hello->ch.servername;
  if (name != NULL && (t->peer_servername = portls__strdup(name)) == NULL) {
    portls__socket_fail(s, PORTLS_ENOMEM, "read: out of memory");
    return;
  }
  hello_continue(s);
}

void portls__tls_drop_request(portls_socket *s) {
  portls__tls *t = portls__tls_of(s);
  portls__cancel(s->loop, &t->task_req);
  if (t->req != NULL) {
    if (t->req->answered)
      req_release(t->req);
    else
      t->req->sock = NULL; /* released by the answer */
  }
  if (t->hello != NULL) {
    portls__hello_free(t->hello);
    portls__free(t->hello);
  }
  portls__bytes_free(&t->held_hello);
}

/* ---- verification ---- */

static int check_identity(portls_socket *s, portls_error *err) {
  portls__tls *t = portls__tls_of(s);
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
  if (t->info.servername && !t->peer_servername &&
      !(t->peer_servername = portls__strdup(t->info.servername)))
    return PORTLS_ENOMEM;
  return 0;
}

/* Writes cleartext queued before the handshake completed (or while a
 * renegotiation held writes back). */
static void flush_pending(portls_socket *s) {
  portls__tls *t = portls__tls_of(s);
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

static void fail_from(portls_socket *s, const portls_error *err);
static void emit_ocsp_response(portls_socket *s);

/* Node: onConnectSecure (client) and onServerSocketSecure (server). */
static void handshake_done(portls_socket *s) {
  portls__tls *t = portls__tls_of(s);
  /* A bad pskCallback answer that the handshake survived (TLS 1.3 went on
   * with certificates) is no cause for a later failure. */
  t->psk_err.code = 0;
  B->info(t->eng.sess, &t->info);
  if (copy_info_strings(t) < 0) {
    portls__socket_fail(s, PORTLS_ENOMEM, "handshake: out of memory");
    return;
  }
  portls__tls_stop_handshake_timer(t);
  emit_ocsp_response(s);
  if (s->flags & S_DESTROYED) return;
  portls_error err = {0};
  int code = 0;
  /* Node checks the DH size first, and that failure is never optional. */
  if (!t->is_server && t->info.ephemeral_type != NULL &&
      strcmp(t->info.ephemeral_type, "DH") == 0 && t->info.ephemeral_bits < t->min_dh_size) {
    portls__socket_fail(s, PORTLS_EDH_TOO_SMALL, "DH parameter size %d is less than %d",
                        t->info.ephemeral_bits, t->min_dh_size);
    return;
  }
  if (!t->is_server || t->request_cert) {
    /* Node reports a missing peer certificate as UNABLE_TO_GET_ISSUER_CERT,
     * except after a PSK handshake, where the key authenticated the peer
     * and there is no certificate to check (Node's VerifyPeerCertificate). */
    int psk_only = t->info.psk && !t->info.has_peer_cert;
    code = t->info.has_peer_cert ? t->info.verify_result
           : psk_only            ? 0
                                 : PORTLS_EUNABLE_TO_GET_ISSUER_CERT;
    if (code != 0) portls__err(&err, code, NULL);
    if (code == 0 && !t->is_server && !t->info.session_reused && !psk_only)
      code = check_identity(s, &err);
  }
  t->authorized = (!t->is_server || t->request_cert) && code == 0;
  t->authz_error = code;
  if (code != 0 && t->reject_unauthorized) {
    portls__socket_fail(s, err.code, "%s", err.message);
    return;
  }
  /* Node's 'newSession' holds 'secureConnection' (and data) until answered. */
  const portls__hello_hooks *h = t->hooks;
  if (t->is_server && h != NULL && h->new_session != NULL && !t->info.session_reused &&
      B->server_session != NULL) {
    portls_buf id, data = {NULL, 0};
    int rc = B->server_session(t->eng.sess, &id, &data, &err);
    if (rc < 0) {
      fail_from(s, &err);
      return;
    }
    if (rc == 1) {
      struct portls_request *r = req_new(s, REQ_NEW_SESSION);
      if (r != NULL) {
        t->new_session_pending = 1;
        h->new_session(h->server, s, id.base, id.len, data.base, data.len,
                       (portls_session_request *)r, h->session_user);
      }
      portls__free((void *)data.base);
      return;
    }
  }
  finish_secure(s);
}

/* Node's OCSPResponse, before 'secureConnect' (NULL: nothing stapled). */
static void emit_ocsp_response(portls_socket *s) {
  portls__tls *t = portls__tls_of(s);
  if (t->is_server || !t->request_ocsp || s->ev.ocsp_response == NULL) return;
  portls_buf resp = {NULL, 0};
  if (B->ocsp_response == NULL || B->ocsp_response(t->eng.sess, &resp) < 0) resp.base = NULL;
  s->ev.ocsp_response(s, resp.base, resp.base ? resp.len : 0, s->user);
}

static void finish_secure(portls_socket *s) {
  portls__tls *t = portls__tls_of(s);
  t->secure = 1;
  flush_pending(s);
  if (s->flags & S_DESTROYED) return;
  portls__socket_flush(s);
  if (t->is_server && s->server != NULL) {
    portls__tls_server_secure(s);
    return;
  }
  if (t->on_secure != NULL) {
    t->on_secure(s, t->on_secure_arg);
    if (s->flags & S_DESTROYED) return;
  }
  if (s->ev.secure_connect != NULL) s->ev.secure_connect(s, s->user);
}

/* ---- sessions, renegotiation, the read loop ---- */

/* Node's 'session': each session the client can resume later. */
static void emit_sessions(portls_socket *s) {
  portls__tls *t = portls__tls_of(s);
  if (t->is_server || B->session_ready == NULL || !B->session_ready(t->eng.sess)) return;
  if (s->ev.session == NULL) return;
  portls_buf b;
  portls_error err;
  if (portls__tls_get_session(t, &b, &err) < 0) return;
  s->ev.session(s, b.base, b.len, s->user);
  portls__free((void *)b.base);
}

static void fail_from(portls_socket *s, const portls_error *err) {
  portls__tls *t = portls__tls_of(s);
  if (t != NULL && t->psk_err.code != 0) err = &t->psk_err; /* pskCallback's mistake */
  portls__socket_fail(s, err->code, "%s", err->message);
}

/* The renegotiation renegotiate() started has completed: the verification
 * is redone for the new handshake, as Node does on its 'secure'. */
static void reneg_completed(portls_socket *s) {
  portls__tls *t = portls__tls_of(s);
  portls__tls_stop_handshake_timer(t);
  B->info(t->eng.sess, &t->info);
  memset(&t->reneg_err, 0, sizeof t->reneg_err);
  if (!t->is_server || t->request_cert) {
    int code = t->info.has_peer_cert ? t->info.verify_result
               : t->info.psk         ? 0
                                     : PORTLS_EUNABLE_TO_GET_ISSUER_CERT;
    t->authorized = code == 0;
    t->authz_error = code;
    if (code != 0 && t->reject_unauthorized) portls__err(&t->reneg_err, code, NULL);
  }
  portls_error e = t->reneg_err;
  portls__tls_reneg_report(s);
  if (e.code != 0 && !(s->flags & S_DESTROYED)) fail_from(s, &e);
}

/* Node's onhandshakestart on a server (tls.CLIENT_RENEG_LIMIT within
 * CLIENT_RENEG_WINDOW), and renegotiate()'s completion. -1 when the socket
 * has failed. */
static int count_handshakes(portls_socket *s) {
  portls__tls *t = portls__tls_of(s);
  unsigned started = 0, completed = 0;
  B->handshakes(t->eng.sess, &started, &completed);
  while (t->is_server && t->hs_started_seen < started) {
    uint64_t now = portls_loop_now(s->loop);
    if (t->hs_started_seen++ == 0) {
      t->last_hs_ms = now;
      continue;
    }
    unsigned limit = t->hooks ? t->hooks->reneg_limit : portls_client_reneg_limit();
    uint64_t window =
        t->hooks ? t->hooks->reneg_window_ms : 1000u * (uint64_t)portls_client_reneg_window();
    if (now - t->last_hs_ms > window) t->reneg_count = 0;
    t->last_hs_ms = now;
    if (++t->reneg_count > limit) {
      portls__socket_fail(s, PORTLS_ESESSION_ATTACK, "TLS session renegotiation attack detected");
      return -1;
    }
  }
  if (t->reneg_cb != NULL && t->reneg_target != 0 && completed >= t->reneg_target) {
    t->reneg_target = 0;
    reneg_completed(s);
    if (s->flags & S_DESTROYED) return -1;
  }
  return 0;
}

/* What the backend queued for the peer during one call that took the peer's
 * ciphertext is the protocol's own output (handshake messages, alerts,
 * KeyUpdate answers), not the application's: the socket counts it against
 * its high-water mark and stops reading while too much of it waits (a peer
 * that floods KeyUpdate requests and never reads). 1: stop feeding input. */
static int protocol_output(portls_socket *s, size_t before) {
  return s->out.len > before ? portls__socket_protocol_output(s, s->out.len - before) : 0;
}

void portls__tls_process(portls_socket *s) {
  portls__tls *t = portls__tls_of(s);
  portls_error err;
  if (t == NULL || t->eng.sess == NULL) return;
  while (!(s->flags & S_DESTROYED)) {
    if (!t->eng.handshake_done) {
      size_t before = s->out.len;
      int rc = B->handshake(t->eng.sess, &err);
      protocol_output(s, before);
      if (s->flags & S_DESTROYED) return;
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
    /* Paused, or the peer's requests have filled the output (the rest of
     * the input waits in the engine until resume()). */
    if (s->flags & (S_PAUSED | S_OUT_FULL) || t->new_session_pending) break;
    if (s->loop->clear_buf == NULL &&
        (s->loop->clear_buf = portls__malloc(PORTLS__CLEAR_BUF_SIZE)) == NULL) {
      portls__socket_fail(s, PORTLS_ENOMEM, "read: out of memory");
      return;
    }
    size_t n = 0, before = s->out.len;
    int rc = B->read(t->eng.sess, s->loop->clear_buf, PORTLS__CLEAR_BUF_SIZE, &n, &err);
    protocol_output(s, before);
    if (s->flags & S_DESTROYED) return;
    if (rc >= 0 && B->handshakes != NULL && count_handshakes(s) < 0) return;
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
  portls__tls *t = portls__tls_of(s);
  if (t->hello != NULL) {
    hello_stage(s, data, len);
    return;
  }
  if (t->eng.sess == NULL) return;
  portls__engine_input(&t->eng, data, len);
  portls__tls_process(s);
  if (portls__tls_of(s) != NULL && portls__engine_input_done(&t->eng) != 0)
    portls__socket_fail(s, PORTLS_ENOMEM, "read: out of memory");
}

void portls__tls_on_eof(portls_socket *s) {
  portls__tls *t = portls__tls_of(s);
  if (!t->eng.handshake_done) {
    portls__socket_fail(
        s, PORTLS_ECONNRESET,
        "Client network socket disconnected before secure TLS connection was established");
    return;
  }
  portls__socket_peer_ended(s);
}

int portls__tls_write(portls_socket *s, const void *data, size_t len) {
  portls__tls *t = portls__tls_of(s);
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
  portls__tls *t = portls__tls_of(s);
  if (!t->secure) {
    t->end_after_handshake = 1;
    return;
  }
  portls_error err;
  if (B->shutdown(t->eng.sess, &err) < 0) fail_from(s, &err);
}
