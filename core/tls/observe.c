/* What an application may observe of a TLS connection while debugging it:
 * Node's 'keylog' event (and the SSLKEYLOGFILE opt-in) and enableTrace().
 *
 * Both cost nothing while nobody asks: the backend's set_keylog/set_trace
 * are called only when a listener exists, and only then does the backend
 * install anything in its library. The trace lines are rendered here, from
 * the raw messages every backend hands over, so they read the same on each. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tls/observe.h"
#include "tls/suites.h"
#include "tls/tls.h"

#define B (&portls__backend)

void (*portls__keylog_sink)(const char *line, size_t len);

/* ---- keylog ---- */

static int wants_keylog(const portls_socket *s) {
  if (s->ev.keylog != NULL || portls__keylog_sink != NULL) return 1;
  if (s->server == NULL) return 0;
  void *user;
  return portls__server_events(s->server, &user)->keylog != NULL;
}

static void on_keylog(void *arg, const char *line) {
  portls_socket *s = arg;
  char buf[320], *l = buf;
  size_t n = strlen(line);
  if (s->flags & S_DESTROYED) return; /* destroyed from a listener: no more events */
  if (n + 1 > sizeof buf && (l = portls__malloc(n + 1)) == NULL) return; /* longer than any label */
  memcpy(l, line, n);
  l[n] = '\n';
  if (portls__keylog_sink != NULL) portls__keylog_sink(l, n + 1);
  if (s->ev.keylog != NULL) s->ev.keylog(s, l, n + 1, s->user);
  if (s->server != NULL) {
    void *user;
    const portls_server_events *ev = portls__server_events(s->server, &user);
    if (ev->keylog != NULL) ev->keylog(s->server, s, l, n + 1, user);
  }
  memset(l, 0, n + 1); /* a secret */
  if (l != buf) portls__free(l);
}

/* ---- trace: one line per message ---- */

static const char *hs_name(unsigned type) {
  switch (type) {
  case 0:
    return "HelloRequest";
  case 1:
    return "ClientHello";
  case 2:
    return "ServerHello";
  case 3:
    return "HelloVerifyRequest";
  case 4:
    return "NewSessionTicket";
  case 5:
    return "EndOfEarlyData";
  case 8:
    return "EncryptedExtensions";
  case 11:
    return "Certificate";
  case 12:
    return "ServerKeyExchange";
  case 13:
    return "CertificateRequest";
  case 14:
    return "ServerHelloDone";
  case 15:
    return "CertificateVerify";
  case 16:
    return "ClientKeyExchange";
  case 20:
    return "Finished";
  case 21:
    return "CertificateURL";
  case 22:
    return "CertificateStatus";
  case 24:
    return "KeyUpdate";
  case 67:
    return "NextProtocol";
  case 254:
    return "MessageHash";
  default:
    return NULL;
  }
}

static const char *version_name(unsigned v) {
  switch (v) {
  case 0x0300:
    return "SSLv3";
  case 0x0301:
    return "TLSv1";
  case 0x0302:
    return "TLSv1.1";
  case 0x0303:
    return "TLSv1.2";
  case 0x0304:
    return "TLSv1.3";
  default:
    return NULL;
  }
}

/* A bounded reader over a message body. */
typedef struct rd {
  const uint8_t *p, *end;
  int bad;
} rd;

static unsigned rd_u(rd *r, size_t n) {
  unsigned v = 0;
  if ((size_t)(r->end - r->p) < n) {
    r->bad = 1;
    r->p = r->end;
    return 0;
  }
  for (size_t i = 0; i < n; i++) v = v << 8 | *r->p++;
  return v;
}

static rd rd_sub(rd *r, size_t n) {
  rd sub = {r->p, r->p, 0};
  if ((size_t)(r->end - r->p) < n) {
    r->bad = 1;
    sub.bad = 1;
    r->p = r->end;
    sub.p = sub.end = r->end;
    return sub;
  }
  sub.end = r->p + n;
  r->p += n;
  return sub;
}

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void
put(char *out, size_t cap, size_t *at, const char *fmt, ...) {
  if (*at + 1 >= cap) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out + *at, cap - *at, fmt, ap);
  va_end(ap);
  if (n > 0) *at += (size_t)n < cap - *at ? (size_t)n : cap - *at - 1;
}

static void put_version(char *out, size_t cap, size_t *at, unsigned v) {
  const char *name = version_name(v);
  if (name != NULL)
    put(out, cap, at, ", version %s", name);
  else
    put(out, cap, at, ", version 0x%04x", v);
}

/* The ClientHello: the highest version offered, how many suites, the SNI name. */
static void render_client_hello(char *out, size_t cap, size_t *at, rd body) {
  unsigned legacy = rd_u(&body, 2), best = 0, nsuites;
  rd_sub(&body, 32);
  rd_sub(&body, rd_u(&body, 1));
  nsuites = rd_u(&body, 2) / 2;
  rd_sub(&body, nsuites * 2);
  rd_sub(&body, rd_u(&body, 1));
  char sni[256] = "";
  if (body.p < body.end) {
    rd exts = rd_sub(&body, rd_u(&body, 2));
    while (!exts.bad && exts.p < exts.end) {
      unsigned type = rd_u(&exts, 2);
      rd e = rd_sub(&exts, rd_u(&exts, 2));
      if (type == 43) { /* supported_versions */
        rd list = rd_sub(&e, rd_u(&e, 1));
        while (!list.bad && list.p < list.end) {
          unsigned v = rd_u(&list, 2);
          if (version_name(v) != NULL && v > best) best = v;
        }
      } else if (type == 0) { /* server_name */
        rd list = rd_sub(&e, rd_u(&e, 2));
        if (rd_u(&list, 1) == 0) {
          rd name = rd_sub(&list, rd_u(&list, 2));
          size_t n = (size_t)(name.end - name.p);
          if (!name.bad && n < sizeof sni) {
            for (size_t i = 0; i < n; i++)
              sni[i] = name.p[i] >= 0x21 && name.p[i] < 0x7f ? (char)name.p[i] : '?';
            sni[n] = '\0';
          }
        }
      }
    }
  }
  put_version(out, cap, at, best ? best : legacy);
  put(out, cap, at, ", %u suites", nsuites);
  if (sni[0] != '\0') put(out, cap, at, ", sni %s", sni);
}

/* The ServerHello: the version (supported_versions in TLS 1.3) and the suite. */
static void render_server_hello(char *out, size_t cap, size_t *at, rd body, int *hrr) {
  static const uint8_t hrr_random[32] = {0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11,
                                         0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
                                         0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e,
                                         0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};
  unsigned version = rd_u(&body, 2);
  rd random = rd_sub(&body, 32);
  *hrr = !random.bad && memcmp(random.p, hrr_random, 32) == 0;
  rd_sub(&body, rd_u(&body, 1));
  unsigned suite = rd_u(&body, 2);
  rd_u(&body, 1);
  if (body.p < body.end) {
    rd exts = rd_sub(&body, rd_u(&body, 2));
    while (!exts.bad && exts.p < exts.end) {
      unsigned type = rd_u(&exts, 2);
      rd e = rd_sub(&exts, rd_u(&exts, 2));
      if (type == 43) version = rd_u(&e, 2);
    }
  }
  put_version(out, cap, at, version);
  const portls__suite *s = portls__suite_by_id((uint16_t)suite);
  if (s != NULL)
    put(out, cap, at, ", cipher %s", s->name);
  else
    put(out, cap, at, ", cipher 0x%04x", suite);
}

size_t portls__trace_format(char *out, size_t cap, int sent, int content_type, const uint8_t *msg,
                            size_t len) {
  size_t at = 0;
  if (cap == 0) return 0;
  out[0] = '\0';
  put(out, cap, &at, "%s", sent ? "-> " : "<- ");
  if (msg == NULL) { /* a record the backend could not decrypt */
    put(out, cap, &at, "%s", content_type == 21 ? "encrypted alert" : "encrypted handshake record");
    put(out, cap, &at, " len=%u", (unsigned)len);
    return at;
  }
  if (content_type == 20) {
    put(out, cap, &at, "%s", "ChangeCipherSpec");
    return at;
  }
  if (content_type == 21) {
    unsigned level = len >= 1 ? msg[0] : 0, desc = len >= 2 ? msg[1] : 0;
    put(out, cap, &at, "Alert %s", level == 1 ? "warning" : "fatal");
    const char *name = portls__alert_name((int)desc);
    if (name != NULL)
      put(out, cap, &at, " %s", name);
    else
      put(out, cap, &at, " %u", desc);
    return at;
  }
  if (len < 4) {
    put(out, cap, &at, "handshake fragment len=%u", (unsigned)len);
    return at;
  }
  unsigned type = msg[0];
  size_t body_len = ((size_t)msg[1] << 16) | ((size_t)msg[2] << 8) | msg[3];
  rd body = {msg + 4, msg + 4 + PORTLS__MIN(body_len, len - 4), 0};
  const char *name = hs_name(type);
  int hrr = 0;
  char details[320] = "";
  size_t dat = 0;
  if (type == 1 && len - 4 >= body_len) render_client_hello(details, sizeof details, &dat, body);
  if (type == 2 && len - 4 >= body_len)
    render_server_hello(details, sizeof details, &dat, body, &hrr);
  if (type == 24 && body_len >= 1)
    put(details, sizeof details, &dat, ", %s",
        msg[4] ? "update_requested" : "update_not_requested");
  if (hrr) name = "HelloRetryRequest";
  if (name != NULL)
    put(out, cap, &at, "%s", name);
  else
    put(out, cap, &at, "handshake type %u", type);
  put(out, cap, &at, " len=%u", (unsigned)body_len);
  put(out, cap, &at, "%s", details);
  return at;
}

static void on_message(void *arg, int sent, int content_type, const uint8_t *msg, size_t len) {
  portls_socket *s = arg;
  portls__tls *t = portls__tls_of(s);
  char line[512];
  if (t == NULL || !t->trace || (s->flags & S_DESTROYED)) return;
  portls__trace_format(line, sizeof line, sent, content_type, msg, len);
  if (t->trace_cb != NULL) {
    t->trace_cb(s, line, t->trace_user);
    return;
  }
#if __STDC_HOSTED__
  fprintf(stderr, "%s\n", line);
#endif
  /* A freestanding build has no standard error: pass a callback there. */
}

/* ---- installing ---- */

void portls__tls_observe(portls_socket *s) {
  portls__tls *t = portls__tls_of(s);
  if (t == NULL || t->eng.sess == NULL) return;
  int keylog = wants_keylog(s) && B->set_keylog != NULL;
  if (keylog != t->keylog_on) {
    B->set_keylog(t->eng.sess, keylog ? on_keylog : NULL, s);
    t->keylog_on = keylog;
  }
  int trace = t->trace && B->set_trace != NULL;
  if (trace != t->trace_on) {
    B->set_trace(t->eng.sess, trace ? on_message : NULL, s);
    t->trace_on = trace;
  }
}

int portls_socket_enable_trace(portls_socket *sock, portls_trace_cb cb, void *user) {
  portls__tls *t = portls__tls_of(sock);
  if (t == NULL) return PORTLS_EINVAL;
  int rc = portls__need_cap(PORTLS_CAP_TRACE, "enableTrace", NULL);
  if (rc < 0) return rc;
  t->trace = 1;
  t->trace_cb = cb;
  t->trace_user = user;
  portls__tls_observe(sock);
  return 0;
}
