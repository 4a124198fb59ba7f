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
      .request_ocsp = t->request_ocsp,
      .resume = {t->resume.data, t->resume.len},
      .ocsp_response = {t->ocsp.data, t->ocsp.len},
  };
  int rc = portls__engine_init(&t->eng, t->ctx->be, &cfg, &s->out, err);
  portls__bytes_free(&t->resume);
  portls__bytes_free(&t->ocsp);
  if (rc < 0) return rc;
  if (!t->is_server) portls__tls_process(s); /* sends the ClientHello */
  return 0;
}

int portls__tls_start(portls_socket *s, portls_error *err) {
  portls__tls *t = s->tls;
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
enum { STEP_RESUME, STEP_SNI, STEP_OCSP, STEP_DONE };

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
  s->tls->req = r;
  portls_socket_pause(s); /* bounded: nothing more is read until the answer */
  return r;
}

static void hello_continue(portls_socket *s);
static void finish_secure(portls_socket *s);

static void req_answered(void *arg) {
  portls_socket *s = arg;
  portls__tls *t = s->tls;
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
    if (!(s->flags & S_DESTROYED) && s->tls != NULL) portls__tls_process(s);
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
  portls__defer(s->loop, &s->tls->task_req, req_answered, s);
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
  portls__tls *t = s->tls;
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
  if (rc != 0)
    portls__socket_fail(s, PORTLS_ENOMEM, "read: out of memory");
  else if (!(s->flags & S_DESTROYED))
    portls_socket_resume(s);
}

/* Asks the next question the ClientHello raises, or hands over to the backend. */
static void hello_continue(portls_socket *s) {
  portls__tls *t = s->tls;
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
  portls__tls *t = s->tls;
  if (portls__bytes_append(&t->held_hello, data, len) != 0) {
    portls__socket_fail(s, PORTLS_ENOMEM, "read: out of memory");
    return;
  }
  if (t->req != NULL || t->hello_step != STEP_RESUME) return; /* asking: just hold the bytes */
  int rc = portls__hello_feed(t->hello, data, len);
  if (rc == PORTLS__HELLO_MORE) return;
  if (rc != PORTLS__HELLO_DONE) {
    portls__socket_fail(s, rc == PORTLS_ENOMEM ? PORTLS_ENOMEM : PORTLS_EPROTO, "%s",
                        t->hello->err.message);
    return;
  }
  const char *name = t->hello->ch.servername;
  if (name != NULL && (t->peer_servername = portls__strdup(name)) == NULL) {
    portls__socket_fail(s, PORTLS_ENOMEM, "read: out of memory");
    return;
  }
  hello_continue(s);
}

void portls__tls_free(portls_socket *s) {
  portls__tls *t = s->tls;
  portls__cancel(s->loop, &t->task_req);
  portls__cancel(s->loop, &t->task_reneg);
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
  if (t->info.servername && !t->peer_servername &&
      !(t->peer_servername = portls__strdup(t->info.servername)))
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

static void stop_hs_timer(portls__tls *t) {
  if (t->hs_timer != NULL) {
    P->timer_free(t->hs_timer);
    t->hs_timer = NULL;
  }
}

static void fail_from(portls_socket *s, const portls_error *err);
static void emit_ocsp_response(portls_socket *s);

/* Node: onConnectSecure (client) and onServerSocketSecure (server). */
static void handshake_done(portls_socket *s) {
  portls__tls *t = s->tls;
  B->info(t->eng.sess, &t->info);
  if (copy_info_strings(t) < 0) {
    portls__socket_fail(s, PORTLS_ENOMEM, "handshake: out of memory");
    return;
  }
  stop_hs_timer(t);
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
  portls__tls *t = s->tls;
  if (t->is_server || !t->request_ocsp || s->ev.ocsp_response == NULL) return;
  portls_buf resp = {NULL, 0};
  if (B->ocsp_response == NULL || B->ocsp_response(t->eng.sess, &resp) < 0) resp.base = NULL;
  s->ev.ocsp_response(s, resp.base, resp.base ? resp.len : 0, s->user);
}

static void finish_secure(portls_socket *s) {
  portls__tls *t = s->tls;
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

/* ---- sessions: getSession()'s bytes ----
 * "PLS1", the servername's length (one byte) and the servername the session
 * was made for, then the backend's own serialization. */

static const uint8_t session_magic[4] = {'P', 'L', 'S', '1'};

static uint8_t lower_ascii(uint8_t c) { return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c; }

static int get_session(const portls__tls *t, portls_buf *out, portls_error *err) {
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

/* Node's 'session': each session the client can resume later. */
static void emit_sessions(portls_socket *s) {
  portls__tls *t = s->tls;
  if (t->is_server || B->session_ready == NULL || !B->session_ready(t->eng.sess)) return;
  if (s->ev.session == NULL) return;
  portls_buf b;
  portls_error err;
  if (get_session(t, &b, &err) < 0) return;
  s->ev.session(s, b.base, b.len, s->user);
  portls__free((void *)b.base);
}

static void fail_from(portls_socket *s, const portls_error *err) {
  portls__socket_fail(s, err->code, "%s", err->message);
}

/* ---- renegotiation ---- */

static void reneg_report(void *arg) {
  portls_socket *s = arg;
  portls__tls *t = s->tls;
  portls_renegotiate_cb cb = t->reneg_cb;
  if (cb == NULL || (s->flags & S_DESTROYED)) return; /* portls__tls_closing() answers */
  t->reneg_cb = NULL;
  cb(s, t->reneg_err.code ? &t->reneg_err : NULL, t->reneg_user);
}

/* The renegotiation renegotiate() started has completed: the verification
 * is redone for the new handshake, as Node does on its 'secure'. */
static void reneg_completed(portls_socket *s) {
  portls__tls *t = s->tls;
  stop_hs_timer(t);
  B->info(t->eng.sess, &t->info);
  memset(&t->reneg_err, 0, sizeof t->reneg_err);
  if (!t->is_server || t->request_cert) {
    int code = t->info.has_peer_cert ? t->info.verify_result : PORTLS_EUNABLE_TO_GET_ISSUER_CERT;
    t->authorized = code == 0;
    t->authz_error = code;
    if (code != 0 && t->reject_unauthorized) portls__err(&t->reneg_err, code, NULL);
  }
  portls_error e = t->reneg_err;
  reneg_report(s);
  if (e.code != 0 && !(s->flags & S_DESTROYED)) fail_from(s, &e);
}

/* Node's onhandshakestart on a server (tls.CLIENT_RENEG_LIMIT within
 * CLIENT_RENEG_WINDOW), and renegotiate()'s completion. -1 when the socket
 * has failed. */
static int count_handshakes(portls_socket *s) {
  portls__tls *t = s->tls;
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

void portls__tls_closing(portls_socket *s) {
  portls__tls *t = s->tls;
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
  if (s == NULL || s->tls == NULL || cb == NULL || !s->tls->secure || (s->flags & S_DESTROYED))
    return PORTLS_EINVAL;
  portls__tls *t = s->tls;
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
        stop_hs_timer(t);
        int rc = portls__tls_arm_handshake_timer(s, t->hs_timeout_ms);
        if (rc < 0) portls__err(e, rc, "renegotiate: handshake timer");
      }
      portls__socket_flush(s);
      if (e->code == 0) return 0;
    }
  }
  portls__defer(s->loop, &t->task_reneg, reneg_report, s);
  return 0;
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
    if (s->flags & S_PAUSED || t->new_session_pending) break;
    if (s->loop->clear_buf == NULL &&
        (s->loop->clear_buf = portls__malloc(PORTLS__CLEAR_BUF_SIZE)) == NULL) {
      portls__socket_fail(s, PORTLS_ENOMEM, "read: out of memory");
      return;
    }
    size_t n = 0;
    int rc = B->read(t->eng.sess, s->loop->clear_buf, PORTLS__CLEAR_BUF_SIZE, &n, &err);
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
    portls__socket_fail(
        s, PORTLS_ECONNRESET,
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

/* ---- rest ---- */

/* Resting lets the backend give back what only an active connection needs
 * (on OpenSSL, the library's whole session: backends/common/ossl_lean.c).
 * Only a connection quiet for a whole sweep period rests: one that is moving
 * data keeps the library's own record layer, and nothing changes for it. */
int portls__tls_maybe_rest(portls_socket *s) {
  portls__tls *t = s->tls;
  if (B->rest == NULL || t == NULL || t->rested || !t->is_server) return -1;
  if (!t->secure) return 0;
  if (s->activity != t->rest_mark) {
    t->rest_mark = s->activity;
    return 0;
  }
  if (s->flags & (S_DESTROYED | S_ENDING | S_SHUT | S_PEER_ENDED)) return -1; /* on its way out */
  if ((s->flags & (S_PAUSED | S_WRITING)) || s->out.len > 0 || t->pending_clear.len > 0 ||
      portls__engine_pending_input(&t->eng) > 0 || t->req != NULL || t->reneg_cb != NULL ||
      t->new_session_pending)
    return 0;
  int rc = B->rest(t->eng.sess);
  t->rested = rc == 1;
  return rc;
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
  if (s == NULL || out == NULL || s->tls == NULL || s->tls->is_server) return PORTLS_EINVAL;
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
  return get_session(t, out, &err);
}

int portls_socket_is_session_reused(const portls_socket *s) {
  const portls__tls *t = secure_tls(s);
  return t ? t->info.session_reused : 0;
}

int portls_socket_get_tls_ticket(const portls_socket *s, portls_buf *out) {
  if (s == NULL || out == NULL || s->tls == NULL) return PORTLS_EINVAL;
  out->base = NULL;
  out->len = 0;
  if (!portls_has_capability(PORTLS_CAP_SESSION_TICKETS) || B->ticket == NULL)
    return PORTLS_ENOTSUP;
  const portls__tls *t = secure_tls(s);
  if (t == NULL || t->is_server) return PORTLS_ENOENT;
  return B->ticket(t->eng.sess, out);
}

int portls_socket_set_max_send_fragment(portls_socket *s, size_t size) {
  if (s == NULL || s->tls == NULL || s->tls->eng.sess == NULL) return 0;
  if (size < 512 || size > 16384) return 0;
  if (!portls_has_capability(PORTLS_CAP_MAX_SEND_FRAGMENT) || B->set_max_send_fragment == NULL)
    return 0;
  return B->set_max_send_fragment(s->tls->eng.sess, size) == 0;
}
