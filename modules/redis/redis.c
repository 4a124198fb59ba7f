/* portls::redis: sessions and ticket keys shared through Redis (see
 * include/portls/redis.h). hiredis's asynchronous client runs on the portls
 * loop: its socket is a portls_poll, its deadlines portls timers. */
#define _POSIX_C_SOURCE 200809L

#include "portls/redis.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { KIND_NEW, KIND_RESUME, KIND_KEYS };
enum { BACKOFF_MIN_MS = 100, BACKOFF_MAX_MS = 5000, MAX_SERVERS = 64 };

/* A command waiting for its reply. hiredis holds it as privdata until the
 * reply (or NULL when the connection goes); a handshake waiting on it is
 * answered at the reply or at its deadline, whichever comes first. */
typedef struct pending {
  struct pending *prev, *next; /* in store->waiting while it has a deadline */
  portls_redis_store *st;
  int kind;
  portls_session_request *req; /* NULL once answered */
  uint64_t deadline;
  uint64_t period; /* KIND_KEYS: of which period */
  int last;        /* KIND_KEYS: the reply that completes the fetch */
} pending;

struct portls_redis_store {
  portls_loop *loop;
  char *host; /* NULL for a Unix socket */
  int port;
  char *unix_path;
  char *url;
  char *prefix;
  uint64_t rotate_s, timeout_ms;
  int session_timeout_s;
  portls_redis_events events;
  void *user;

  redisAsyncContext *ac;
  int connected;
  int outage; /* an error was reported; cleared by a connection */
  int freeing;
  portls_poll *poll;
  int poll_mask;
  portls_timer *deadline_timer, *reconnect_timer, *rotate_timer;
  uint64_t backoff_ms;
  pending waiting; /* sentinel, in deadline order */

  /* Ticket keys of the current period and the one before. */
  uint64_t period; /* 0: none known */
  uint8_t cur[48], prev[48];
  int has_prev;
  uint8_t fetched_prev[48];
  int fetched_has_prev;
  portls_server *servers[MAX_SERVERS];
  size_t nservers;

  portls_redis_stats stats;
};

/* ---- errors --------------------------------------------------------------- */

static int fail(portls_error *err, int code, const char *fmt, ...) {
  if (err != NULL) {
    va_list ap;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
  }
  return code;
}

/* Reports an outage once, until the next connection. */
static void outage(portls_redis_store *st, int code, const char *fmt, ...) {
  if (st->outage || st->freeing) return;
  st->outage = 1;
  if (st->events.error == NULL) return;
  portls_error e = {code, ""};
  int n = snprintf(e.message, sizeof e.message, "session store %s: ", st->url);
  if (n < 0 || (size_t)n >= sizeof e.message) n = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e.message + n, sizeof e.message - (size_t)n, fmt, ap);
  va_end(ap);
  st->events.error(st, &e, st->user);
}

/* ---- hiredis on the portls loop -------------------------------------------- */

static void ev_apply(portls_redis_store *st) {
  if (st->poll != NULL) (void)portls_poll_start(st->poll, st->poll_mask);
}
static void ev_add_read(void *d) {
  portls_redis_store *st = d;
  st->poll_mask |= PORTLS_POLL_READABLE;
  ev_apply(st);
}
static void ev_del_read(void *d) {
  portls_redis_store *st = d;
  st->poll_mask &= ~PORTLS_POLL_READABLE;
  ev_apply(st);
}
static void ev_add_write(void *d) {
  portls_redis_store *st = d;
  st->poll_mask |= PORTLS_POLL_WRITABLE;
  ev_apply(st);
}
static void ev_del_write(void *d) {
  portls_redis_store *st = d;
  st->poll_mask &= ~PORTLS_POLL_WRITABLE;
  ev_apply(st);
}
/* hiredis is freeing its context: the socket goes with it. */
static void ev_cleanup(void *d) {
  portls_redis_store *st = d;
  portls_poll_free(st->poll);
  st->poll = NULL;
  st->poll_mask = 0;
  st->ac = NULL;
  st->connected = 0;
}

static void on_poll(portls_poll *p, int status, int events, void *user) {
  (void)p;
  portls_redis_store *st = user;
  redisAsyncContext *ac = st->ac;
  if (ac == NULL) return;
  if (status < 0 || (events & PORTLS_POLL_READABLE)) redisAsyncHandleRead(ac);
  /* The read may have ended the connection (and freed ac). */
  if ((events & PORTLS_POLL_WRITABLE) && st->ac == ac) redisAsyncHandleWrite(ac);
}

/* ---- deadlines -------------------------------------------------------------- */

static void waiting_remove(pending *p) {
  if (p->next == NULL) return;
  p->prev->next = p->next;
  p->next->prev = p->prev;
  p->prev = p->next = NULL;
}

static void arm_deadline(portls_redis_store *st) {
  if (st->waiting.next == &st->waiting) {
    portls_timer_stop(st->deadline_timer);
    return;
  }
  uint64_t now = portls_loop_now(st->loop), due = st->waiting.next->deadline;
  (void)portls_timer_start(st->deadline_timer, due > now ? due - now : 0, 0);
}

/* Answers p's handshake: data (a session found) or nothing. */
static void answer(pending *p, const void *data, size_t len) {
  portls_session_request *req = p->req;
  if (req == NULL) return;
  p->req = NULL;
  waiting_remove(p);
  (void)portls_session_request_done(req, data, len, NULL);
}

static pending *pending_new(portls_redis_store *st, int kind, portls_session_request *req) {
  pending *p = calloc(1, sizeof *p);
  if (p == NULL) return NULL;
  p->st = st;
  p->kind = kind;
  p->req = req;
  if (req != NULL) {
    p->deadline = portls_loop_now(st->loop) + st->timeout_ms;
    p->prev = st->waiting.prev;
    p->next = &st->waiting;
    st->waiting.prev->next = p;
    st->waiting.prev = p;
    if (p->prev == &st->waiting) arm_deadline(st);
  }
  return p;
}

static void schedule_reconnect(portls_redis_store *st);

static void on_deadline(portls_timer *t, void *user) {
  (void)t;
  portls_redis_store *st = user;
  uint64_t now = portls_loop_now(st->loop);
  int late = 0;
  while (st->waiting.next != &st->waiting && st->waiting.next->deadline <= now) {
    pending *p = st->waiting.next;
    if (p->kind == KIND_RESUME) st->stats.misses++;
    st->stats.errors++;
    answer(p, NULL, 0); /* hiredis still holds p; its reply frees it */
    late = 1;
  }
  arm_deadline(st);
  if (late && st->ac != NULL) {
    /* A server that does not answer in time is treated as gone: dropping
     * the connection bounds what waits in hiredis, and the reconnection
     * finds out whether it is back. */
    outage(st, PORTLS_ETIMEDOUT, "no reply within %" PRIu64 " ms; handshakes go on without it",
           st->timeout_ms);
    redisAsyncFree(st->ac); /* Disconnect would wait for the replies */
  }
}

/* ---- ticket keys ------------------------------------------------------------- */

static uint64_t period_now(const portls_redis_store *st) {
  return (uint64_t)time(NULL) / st->rotate_s;
}

/* The cluster's keys for `period` (and the one before, when known) onto one
 * server: the previous keys first, then a rotation to the current. */
static void apply_keys(portls_redis_store *st, portls_server *srv) {
  portls_error e = {0, ""};
  int rc = 0;
  if (st->has_prev) rc = portls_server_set_ticket_keys(srv, st->prev, 48, &e);
  if (rc == 0)
    rc = st->has_prev ? portls_server_rotate_ticket_keys(srv, st->cur, 48, &e)
                      : portls_server_set_ticket_keys(srv, st->cur, 48, &e);
  if (rc < 0 && st->events.error != NULL) st->events.error(st, &e, st->user);
}

static void on_keys_reply(redisAsyncContext *ac, void *r, void *privdata);

static void arm_rotation(portls_redis_store *st) {
  uint64_t now_ms = (uint64_t)time(NULL) * 1000u;
  uint64_t next_ms = (period_now(st) + 1) * st->rotate_s * 1000u;
  /* A little after the boundary, so that every server sees the new period. */
  (void)portls_timer_start(st->rotate_timer, (next_ms > now_ms ? next_ms - now_ms : 0) + 50, 0);
}

static void random_bytes(uint8_t *out, size_t len) {
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  size_t got = 0;
  while (fd >= 0 && got < len) {
    ssize_t n = read(fd, out + got, len - got);
    if (n <= 0 && errno != EINTR) break;
    if (n > 0) got += (size_t)n;
  }
  if (fd >= 0) close(fd);
  if (got < len) abort(); /* no randomness: never make guessable ticket keys */
}

/* Makes sure period E's keys exist (the first server makes them), then
 * reads E-1's and E's. */
static void fetch_keys(portls_redis_store *st) {
  if (st->rotate_s == 0 || !st->connected) return;
  uint64_t e = period_now(st);
  char key[300], prev_key[300];
  snprintf(key, sizeof key, "%stk:%" PRIu64, st->prefix, e);
  snprintf(prev_key, sizeof prev_key, "%stk:%" PRIu64, st->prefix, e - 1);
  uint8_t fresh[48];
  random_bytes(fresh, sizeof fresh);
  unsigned long long ttl = (unsigned long long)st->rotate_s * 3u;
  pending *set = pending_new(st, KIND_KEYS, NULL), *get_prev = pending_new(st, KIND_KEYS, NULL),
          *get_cur = pending_new(st, KIND_KEYS, NULL);
  if (set == NULL || get_prev == NULL || get_cur == NULL) {
    free(set);
    free(get_prev);
    free(get_cur);
    return;
  }
  set->period = get_prev->period = get_cur->period = e;
  get_prev->last = 0;
  get_cur->last = 1;
  set->last = -1; /* its reply only says whether we made them */
  int ok = redisAsyncCommand(st->ac, on_keys_reply, set, "SET %s %b NX EX %llu", key, fresh,
                             sizeof fresh, ttl) == REDIS_OK;
  if (!ok) free(set);
  if (!ok || redisAsyncCommand(st->ac, on_keys_reply, get_prev, "GET %s", prev_key) != REDIS_OK) {
    free(get_prev);
    ok = 0;
  }
  if (!ok || redisAsyncCommand(st->ac, on_keys_reply, get_cur, "GET %s", key) != REDIS_OK) {
    free(get_cur);
    ok = 0;
  }
  memset(fresh, 0, sizeof fresh);
}

static void on_keys_reply(redisAsyncContext *ac, void *r, void *privdata) {
  (void)ac;
  pending *p = privdata;
  portls_redis_store *st = p->st;
  redisReply *reply = r;
  int last = p->last;
  uint64_t e = p->period;
  free(p);
  if (last < 0 || st->freeing) return;
  if (reply == NULL) return; /* the connection went: the reconnection fetches again */
  if (reply->type == REDIS_REPLY_ERROR) {
    outage(st, PORTLS_EIO, "ticket keys: %s", reply->str);
    return;
  }
  int found = reply->type == REDIS_REPLY_STRING && reply->len == 48;
  if (last == 0) {
    st->fetched_has_prev = found;
    if (found) memcpy(st->fetched_prev, reply->str, 48);
    return;
  }
  if (!found) {
    outage(st, PORTLS_EIO, "ticket keys of period %" PRIu64 " are missing or not 48 bytes", e);
    return;
  }
  int changed = st->period != e || memcmp(st->cur, reply->str, 48) != 0 ||
                st->has_prev != st->fetched_has_prev ||
                (st->has_prev && memcmp(st->prev, st->fetched_prev, 48) != 0);
  memcpy(st->cur, reply->str, 48);
  memcpy(st->prev, st->fetched_prev, 48);
  st->has_prev = st->fetched_has_prev;
  st->period = e;
  if (changed) {
    for (size_t i = 0; i < st->nservers; i++) apply_keys(st, st->servers[i]);
    if (st->events.ticket_keys != NULL) st->events.ticket_keys(st, e, st->user);
  }
}

static void on_rotate(portls_timer *t, void *user) {
  (void)t;
  portls_redis_store *st = user;
  fetch_keys(st);
  arm_rotation(st);
}

/* ---- the connection ------------------------------------------------------------ */

static void on_ping(redisAsyncContext *ac, void *r, void *privdata) {
  (void)ac;
  (void)r;
  (void)privdata;
}

static void on_connect(const redisAsyncContext *ac, int status) {
  portls_redis_store *st = ac->ev.data;
  if (status != REDIS_OK) {
    /* hiredis frees the context after this returns. */
    outage(st, PORTLS_ECONNREFUSED, "%s; handshakes go on without it",
           ac->errstr[0] ? ac->errstr : "cannot connect");
    schedule_reconnect(st);
    return;
  }
  st->connected = 1;
  st->outage = 0;
  st->backoff_ms = 0;
  if (st->events.connected != NULL) st->events.connected(st, st->user);
  fetch_keys(st);
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
  portls_redis_store *st = ac->ev.data;
  st->connected = 0;
  if (st->freeing) return;
  if (status != REDIS_OK)
    outage(st, PORTLS_ECONNRESET, "%s; handshakes go on without it",
           ac->errstr[0] ? ac->errstr : "connection lost");
  schedule_reconnect(st);
}

static void connect_now(portls_redis_store *st) {
  redisAsyncContext *ac =
      st->host ? redisAsyncConnect(st->host, st->port) : redisAsyncConnectUnix(st->unix_path);
  if (ac == NULL) {
    outage(st, PORTLS_ENOMEM, "out of memory");
    schedule_reconnect(st);
    return;
  }
  if (ac->err) {
    outage(st, PORTLS_ECONNREFUSED, "%s; handshakes go on without it", ac->errstr);
    redisAsyncFree(ac);
    schedule_reconnect(st);
    return;
  }
  if (portls_poll_new(st->loop, ac->c.fd, on_poll, st, &st->poll) < 0) {
    outage(st, PORTLS_ENOMEM, "cannot watch its socket");
    redisAsyncFree(ac);
    schedule_reconnect(st);
    return;
  }
  st->ac = ac;
  ac->ev.data = st;
  ac->ev.addRead = ev_add_read;
  ac->ev.delRead = ev_del_read;
  ac->ev.addWrite = ev_add_write;
  ac->ev.delWrite = ev_del_write;
  ac->ev.cleanup = ev_cleanup;
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  /* The connection completes on the first writable event: a command asks for it. */
  (void)redisAsyncCommand(ac, on_ping, NULL, "PING");
}

static void on_reconnect(portls_timer *t, void *user) {
  (void)t;
  connect_now(user);
}

static void schedule_reconnect(portls_redis_store *st) {
  if (st->freeing) return;
  st->backoff_ms = st->backoff_ms == 0 ? BACKOFF_MIN_MS : st->backoff_ms * 2;
  if (st->backoff_ms > BACKOFF_MAX_MS) st->backoff_ms = BACKOFF_MAX_MS;
  (void)portls_timer_start(st->reconnect_timer, st->backoff_ms, 0);
}

/* ---- the server's questions -------------------------------------------------- */

/* prefix + "s:" + the id in hex. */
static size_t session_key(const portls_redis_store *st, const void *id, size_t id_len, char *out,
                          size_t cap) {
  static const char hex[] = "0123456789abcdef";
  int n = snprintf(out, cap, "%ss:", st->prefix);
  if (n < 0 || (size_t)n + id_len * 2 + 1 > cap) return 0;
  size_t k = (size_t)n;
  for (size_t i = 0; i < id_len; i++) {
    out[k++] = hex[((const uint8_t *)id)[i] >> 4];
    out[k++] = hex[((const uint8_t *)id)[i] & 15];
  }
  out[k] = '\0';
  return k;
}

static void on_session_reply(redisAsyncContext *ac, void *r, void *privdata) {
  (void)ac;
  pending *p = privdata;
  portls_redis_store *st = p->st;
  redisReply *reply = r;
  if (p->req != NULL) {
    if (reply != NULL && reply->type == REDIS_REPLY_ERROR) {
      outage(st, PORTLS_EIO, "%s", reply->str);
      st->stats.errors++;
    }
    if (p->kind == KIND_NEW) {
      if (reply != NULL && reply->type == REDIS_REPLY_STATUS) st->stats.stored++;
      answer(p, NULL, 0);
    } else if (reply != NULL && reply->type == REDIS_REPLY_STRING && reply->len > 0) {
      st->stats.hits++;
      answer(p, reply->str, (size_t)reply->len);
    } else {
      st->stats.misses++;
      answer(p, NULL, 0);
    }
    arm_deadline(st);
  }
  free(p);
}

static void on_new_session(portls_server *srv, portls_socket *sock, const void *id, size_t id_len,
                           const void *data, size_t len, portls_session_request *req, void *user) {
  (void)srv;
  (void)sock;
  portls_redis_store *st = user;
  char key[512];
  size_t klen = session_key(st, id, id_len, key, sizeof key);
  pending *p = NULL;
  if (st->connected && klen > 0 && (p = pending_new(st, KIND_NEW, req)) != NULL &&
      redisAsyncCommand(st->ac, on_session_reply, p, "SET %b %b EX %d", key, klen, data, len,
                        st->session_timeout_s) == REDIS_OK)
    return;
  /* Not connected (or out of memory): the session is simply not shared. */
  if (p != NULL) {
    answer(p, NULL, 0);
    free(p);
    arm_deadline(st);
  } else {
    (void)portls_session_request_done(req, NULL, 0, NULL);
  }
  st->stats.errors++;
}

static void on_resume_session(portls_server *srv, portls_socket *sock, const void *id,
                              size_t id_len, portls_session_request *req, void *user) {
  (void)srv;
  (void)sock;
  portls_redis_store *st = user;
  char key[512];
  size_t klen = session_key(st, id, id_len, key, sizeof key);
  pending *p = NULL;
  if (st->connected && klen > 0 && (p = pending_new(st, KIND_RESUME, req)) != NULL &&
      redisAsyncCommand(st->ac, on_session_reply, p, "GET %b", key, klen) == REDIS_OK)
    return;
  if (p != NULL) {
    answer(p, NULL, 0);
    free(p);
    arm_deadline(st);
  } else {
    (void)portls_session_request_done(req, NULL, 0, NULL);
  }
  st->stats.misses++;
  st->stats.errors++;
}

/* ---- the public API ------------------------------------------------------------- */

void portls_redis_options_init(portls_redis_options *o) {
  if (o == NULL) return;
  memset(o, 0, sizeof *o);
  o->url = "redis://127.0.0.1:6379";
  o->prefix = "portls:";
  o->timeout_ms = 250;
}

static char *dup_str(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (d != NULL) {
    memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

/* "redis://HOST[:PORT][/]" or "unix:PATH". */
static int parse_url(portls_redis_store *st, const char *url, portls_error *err) {
  if (strncmp(url, "unix:", 5) == 0) {
    if (url[5] == '\0') return fail(err, PORTLS_EINVAL, "url: '%s' names no socket path", url);
    st->unix_path = dup_str(url + 5, strlen(url + 5));
    return st->unix_path ? 0 : fail(err, PORTLS_ENOMEM, "url: out of memory");
  }
  if (strncmp(url, "redis://", 8) != 0)
    return fail(err, PORTLS_EINVAL, "url: '%s' is not redis://HOST:PORT or unix:PATH", url);
  const char *h = url + 8, *end = h + strcspn(h, "/");
  if (*end == '/' && end[1] != '\0')
    return fail(err, PORTLS_EINVAL, "url: '%s': databases and paths are not supported", url);
  const char *colon = memchr(h, ':', (size_t)(end - h));
  long port = 6379;
  if (colon != NULL) {
    char *stop = NULL;
    errno = 0;
    port = strtol(colon + 1, &stop, 10);
    if (stop == colon + 1 || stop != end || errno != 0 || port < 1 || port > 65535)
      return fail(err, PORTLS_EINVAL, "url: '%s' has no valid port (1-65535)", url);
  }
  size_t hlen = (size_t)((colon ? colon : end) - h);
  if (hlen == 0) return fail(err, PORTLS_EINVAL, "url: '%s' names no host", url);
  st->host = dup_str(h, hlen);
  st->port = (int)port;
  return st->host ? 0 : fail(err, PORTLS_ENOMEM, "url: out of memory");
}

int portls_redis_store_new(portls_loop *loop, const portls_redis_options *o,
                           portls_redis_store **out, portls_error *err) {
  if (out != NULL) *out = NULL;
  if (loop == NULL || o == NULL || out == NULL)
    return fail(err, PORTLS_EINVAL, "portls_redis_store_new: NULL argument");
  const char *url = o->url ? o->url : "redis://127.0.0.1:6379";
  const char *prefix = o->prefix ? o->prefix : "portls:";
  if (strlen(prefix) > 200) return fail(err, PORTLS_EINVAL, "prefix: longer than 200 bytes");
  if (o->session_timeout_s < 0)
    return fail(err, PORTLS_EINVAL, "session_timeout_s: %d is negative", o->session_timeout_s);
  portls_redis_store *st = calloc(1, sizeof *st);
  if (st == NULL) return fail(err, PORTLS_ENOMEM, "portls_redis_store_new: out of memory");
  st->loop = loop;
  st->waiting.prev = st->waiting.next = &st->waiting;
  int rc = parse_url(st, url, err);
  if (rc == 0 && ((st->url = dup_str(url, strlen(url))) == NULL ||
                  (st->prefix = dup_str(prefix, strlen(prefix))) == NULL))
    rc = fail(err, PORTLS_ENOMEM, "portls_redis_store_new: out of memory");
  if (rc == 0 && (portls_timer_new(loop, on_deadline, st, &st->deadline_timer) < 0 ||
                  portls_timer_new(loop, on_reconnect, st, &st->reconnect_timer) < 0 ||
                  portls_timer_new(loop, on_rotate, st, &st->rotate_timer) < 0))
    rc = fail(err, PORTLS_ENOMEM, "portls_redis_store_new: out of memory");
  if (rc < 0) {
    st->freeing = 1;
    portls_redis_store_free(st);
    return rc;
  }
  st->rotate_s = o->ticket_rotate_s;
  st->timeout_ms = o->timeout_ms ? o->timeout_ms : 250;
  st->session_timeout_s = o->session_timeout_s;
  if (o->events != NULL) st->events = *o->events;
  st->user = o->user;
  connect_now(st);
  if (st->rotate_s > 0) arm_rotation(st);
  *out = st;
  return 0;
}

void portls_redis_server_options(portls_redis_store *st, portls_server_options *so) {
  if (st == NULL || so == NULL) return;
  so->new_session = on_new_session;
  so->resume_session = on_resume_session;
  so->session_user = st;
  if (st->session_timeout_s == 0)
    st->session_timeout_s =
        so->tls.context.session_timeout > 0 ? so->tls.context.session_timeout : 300;
}

int portls_redis_attach_server(portls_redis_store *st, portls_server *srv, portls_error *err) {
  if (st == NULL || srv == NULL)
    return fail(err, PORTLS_EINVAL, "portls_redis_attach_server: NULL argument");
  if (st->rotate_s == 0) return 0;
  if (!portls_has_capability(PORTLS_CAP_TICKET_ROTATION))
    return fail(err, PORTLS_ENOTSUP,
                "ticket_rotate_s: needs capability 'ticket-rotation', which backend '%s' lacks",
                portls_backend_name());
  if (st->nservers == MAX_SERVERS)
    return fail(err, PORTLS_ENOMEM, "portls_redis_attach_server: more than %d servers",
                MAX_SERVERS);
  st->servers[st->nservers++] = srv;
  if (st->period != 0) apply_keys(st, srv);
  return 0;
}

void portls_redis_detach_server(portls_redis_store *st, portls_server *srv) {
  if (st == NULL) return;
  for (size_t i = 0; i < st->nservers; i++)
    if (st->servers[i] == srv) {
      st->servers[i] = st->servers[--st->nservers];
      return;
    }
}

int portls_redis_connected(const portls_redis_store *st) { return st != NULL && st->connected; }

void portls_redis_get_stats(const portls_redis_store *st, portls_redis_stats *out) {
  if (out == NULL) return;
  if (st == NULL)
    memset(out, 0, sizeof *out);
  else
    *out = st->stats;
}

void portls_redis_store_free(portls_redis_store *st) {
  if (st == NULL) return;
  st->freeing = 1;
  /* Every waiting handshake goes on now; hiredis then hands each command
   * back (reply NULL), which frees it. */
  while (st->waiting.next != &st->waiting) answer(st->waiting.next, NULL, 0);
  if (st->ac != NULL) redisAsyncFree(st->ac);
  portls_poll_free(st->poll);
  portls_timer_free(st->deadline_timer);
  portls_timer_free(st->reconnect_timer);
  portls_timer_free(st->rotate_timer);
  memset(st->cur, 0, sizeof st->cur);
  memset(st->prev, 0, sizeof st->prev);
  memset(st->fetched_prev, 0, sizeof st->fetched_prev);
  free(st->host);
  free(st->unix_path);
  free(st->url);
  free(st->prefix);
  free(st);
}
