/* N loops on N threads sharing what portls.h says may be shared: one server
 * context (and so one ticket-key set), one client context, and one session
 * store behind newSession/resumeSession. Run under ThreadSanitizer by the test
 * command (scripts/test.sh, PORTLS_SANITIZE=thread); under ASan otherwise.
 *
 * Every thread starts at the same instant and creates its first loop and
 * servers then (the process-wide initialisation races), serves on its own
 * loop, and connects to the servers of the other threads. Then:
 *   1. TLS 1.3: a session (ticket) made by thread i's client against thread
 *      i+1's server resumes at thread i+2's server: the ticket keys are the
 *      shared context's. Meanwhile thread 0 sets the same keys again
 *      (server.setTicketKeys on a context other threads are handshaking on).
 *   2. TLS 1.2 without tickets (PORTLS_CAP_SESSION_CACHE): a session id made
 *      at one thread's server resumes at another's through the shared store.
 * Every connection echoes a line; every byte must come back.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "portls/portls.h"

#define NT 3

static void fail(const char *what, int rc, const portls_error *err) {
  fprintf(stderr, "FAIL: %s: %s %s\n", what, rc < 0 ? portls_err_name(rc) : "",
          err != NULL ? err->message : "");
  /* Other threads may still be inside the library: no exit handlers. */
  fflush(stdout);
  _exit(1);
}
#define CHECK(cond, what)                                                                          \
  do {                                                                                             \
    if (!(cond)) fail(what, 0, NULL);                                                              \
  } while (0)

/* ---- what the threads share ---- */

static portls_context *srv13, *srv12, *cli13, *cli12;
static uint8_t ticket_keys[48];
static int have_session_cache;

/* The session store: TLS 1.2 ids -> session data, behind one mutex. */
#define STORE_MAX 64
static struct {
  pthread_mutex_t lock;
  struct {
    uint8_t id[32];
    size_t id_len;
    uint8_t *data;
    size_t len;
  } e[STORE_MAX];
  size_t n;
  atomic_int stores, lookups, hits;
} store = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Client sessions (getSession() bytes) one thread hands to another. */
static struct {
  pthread_mutex_t lock;
  uint8_t data[NT][2][8192];
  size_t len[NT][2];
} sessions = {.lock = PTHREAD_MUTEX_INITIALIZER};

static uint16_t ports[NT][2]; /* [thread][0: TLS 1.3 server, 1: TLS 1.2 server] */
static atomic_int arrived[8];
static atomic_int resumed13, resumed12;
static atomic_int contexts_ready;
static portls_context *make_context(int server, int tls12);

/* ---- one thread's state ---- */

typedef struct worker {
  int index;
  portls_loop *loop;
  portls_server *srv[2];
  int closed_servers;
} worker;

typedef struct client {
  worker *w;
  int kind; /* 0: TLS 1.3, 1: TLS 1.2 */
  char sent[64];
  size_t sent_len;
  char got[64];
  size_t got_len;
  int secure, reused, closed, errored;
  uint8_t session[8192];
  size_t session_len;
} client;

static void sleep_ms(long ms) {
  struct timespec ts = {0, ms * 1000000L};
  nanosleep(&ts, NULL);
}

/* Waits for every thread to reach phase p, serving meanwhile: the others'
 * clients may still be talking to this thread's servers. */
static void rendezvous(worker *w, int p) {
  atomic_fetch_add(&arrived[p], 1);
  while (atomic_load(&arrived[p]) < NT) {
    portls_loop_run_once(w->loop, 0);
    sleep_ms(1);
  }
}

/* ---- servers: echo, and the shared store ---- */

static void srv_data(portls_socket *s, const void *data, size_t len, void *u) {
  (void)u;
  portls_socket_write(s, data, len);
}
static void srv_end(portls_socket *s, void *u) {
  (void)u;
  portls_socket_end(s, NULL, 0);
}
static void srv_secure(portls_server *srv, portls_socket *s, void *u) {
  (void)srv, (void)u;
  static const portls_socket_events ev = {.data = srv_data, .end = srv_end};
  portls_socket_set_events(s, &ev, NULL);
}
static void srv_closed(portls_server *srv, void *u) {
  (void)srv;
  ((worker *)u)->closed_servers++;
}

static void new_session(portls_server *srv, portls_socket *s, const void *id, size_t id_len,
                        const void *data, size_t len, portls_session_request *req, void *u) {
  (void)srv, (void)s, (void)u;
  pthread_mutex_lock(&store.lock);
  if (store.n < STORE_MAX && id_len <= 32) {
    memcpy(store.e[store.n].id, id, id_len);
    store.e[store.n].id_len = id_len;
    store.e[store.n].data = malloc(len);
    CHECK(store.e[store.n].data != NULL, "malloc");
    memcpy(store.e[store.n].data, data, len);
    store.e[store.n].len = len;
    store.n++;
  }
  pthread_mutex_unlock(&store.lock);
  atomic_fetch_add(&store.stores, 1);
  portls_session_request_done(req, NULL, 0, NULL);
}

static void resume_session(portls_server *srv, portls_socket *s, const void *id, size_t id_len,
                           portls_session_request *req, void *u) {
  (void)srv, (void)s, (void)u;
  atomic_fetch_add(&store.lookups, 1);
  uint8_t *copy = NULL;
  size_t len = 0;
  pthread_mutex_lock(&store.lock);
  for (size_t i = 0; i < store.n; i++)
    if (store.e[i].id_len == id_len && memcmp(store.e[i].id, id, id_len) == 0) {
      copy = malloc(store.e[i].len);
      CHECK(copy != NULL, "malloc");
      memcpy(copy, store.e[i].data, store.e[i].len);
      len = store.e[i].len;
    }
  pthread_mutex_unlock(&store.lock);
  if (copy != NULL) atomic_fetch_add(&store.hits, 1);
  portls_session_request_done(req, copy, len, NULL);
  free(copy);
}

static void start_servers(worker *w) {
  static const portls_server_events ev = {.secure_connection = srv_secure, .close = srv_closed};
  for (int k = 0; k < 2; k++) {
    if (k == 1 && !have_session_cache) continue;
    portls_server_options so;
    portls_server_options_init(&so);
    so.tls.secure_context = k == 0 ? srv13 : srv12;
    if (k == 1) {
      so.new_session = new_session;
      so.resume_session = resume_session;
    }
    so.events = &ev;
    so.user = w;
    portls_error err = {0};
    int rc = portls_tls_create_server(w->loop, &so, &w->srv[k], &err);
    if (rc < 0) fail("tls_create_server", rc, &err);
    rc = portls_server_listen(w->srv[k], "127.0.0.1", 0, 0, &err);
    if (rc < 0) fail("listen", rc, &err);
    portls_address a;
    CHECK(portls_server_address(w->srv[k], &a) == 0, "server address");
    ports[w->index][k] = a.port;
  }
}

/* ---- clients ---- */

static void cl_secure(portls_socket *s, void *u) {
  client *c = u;
  c->secure = 1;
  c->reused = portls_socket_is_session_reused(s);
  portls_socket_write(s, c->sent, c->sent_len);
}
static void cl_data(portls_socket *s, const void *data, size_t len, void *u) {
  client *c = u;
  CHECK(c->got_len + len <= sizeof c->got, "echo too long");
  memcpy(c->got + c->got_len, data, len);
  c->got_len += len;
  /* The whole echo is back (TLS 1.3 tickets came before it): done. */
  if (c->got_len == c->sent_len) portls_socket_end(s, NULL, 0);
}
static void cl_session(portls_socket *s, const void *data, size_t len, void *u) {
  (void)s;
  client *c = u;
  CHECK(len <= sizeof c->session, "session too big");
  memcpy(c->session, data, len);
  c->session_len = len;
}
static void cl_error(portls_socket *s, const portls_error *err, void *u) {
  (void)s;
  client *c = u;
  c->errored = 1;
  fprintf(stderr, "thread %d client error: %s %s\n", c->w->index, portls_err_name(err->code),
          err->message);
}
static void cl_close(portls_socket *s, int had_error, void *u) {
  (void)s, (void)had_error;
  ((client *)u)->closed = 1;
}

/* Connects to port with the kind's client context, offering session (may be
 * empty), echoes a line and waits for the close. */
static void run_client(worker *w, client *c, int kind, uint16_t port, const uint8_t *session,
                       size_t session_len) {
  static const portls_socket_events ev = {.secure_connect = cl_secure,
                                          .data = cl_data,
                                          .session = cl_session,
                                          .error = cl_error,
                                          .close = cl_close};
  memset(c, 0, sizeof *c);
  c->w = w;
  c->kind = kind;
  c->sent_len =
      (size_t)snprintf(c->sent, sizeof c->sent, "hello from thread %d kind %d\n", w->index, kind);
  portls_connect_options co;
  portls_connect_options_init(&co);
  co.host = "127.0.0.1";
  co.port = port;
  co.tls.secure_context = kind == 0 ? cli13 : cli12;
  co.tls.session = (portls_buf){session, session_len};
  co.events = &ev;
  co.user = c;
  portls_socket *s;
  portls_error err = {0};
  int rc = portls_tls_connect(w->loop, &co, &s, &err);
  if (rc < 0) fail("tls_connect", rc, &err);
  while (!c->closed) portls_loop_run_once(w->loop, 1);
  CHECK(!c->errored && c->secure, "client handshake");
  CHECK(c->got_len == c->sent_len && memcmp(c->got, c->sent, c->sent_len) == 0,
        "echo: not every byte came back");
}

static void publish_session(worker *w, int kind, const client *c) {
  CHECK(c->session_len > 0, "no session");
  pthread_mutex_lock(&sessions.lock);
  memcpy(sessions.data[w->index][kind], c->session, c->session_len);
  sessions.len[w->index][kind] = c->session_len;
  pthread_mutex_unlock(&sessions.lock);
}

static size_t take_session(int from, int kind, uint8_t *out) {
  pthread_mutex_lock(&sessions.lock);
  size_t n = sessions.len[from][kind];
  memcpy(out, sessions.data[from][kind], n);
  pthread_mutex_unlock(&sessions.lock);
  return n;
}

static void *thread_main(void *arg) {
  worker *w = arg;
  static uint8_t buf[NT][8192];
  portls_error err = {0};
  /* All threads at once: the first loop and the first look at the defaults. */
  atomic_fetch_add(&arrived[0], 1);
  while (atomic_load(&arrived[0]) < NT) {}
  /* The process's first library calls, on every thread at once (the loop
   * first: a call_once before it would order the threads for TSan). */
  int rc = portls_loop_new(&w->loop);
  if (rc < 0) fail("loop_new", rc, NULL);
  CHECK(portls_default_ciphers() != NULL, "default ciphers");
  if (w->index == 0) {
    /* The shared contexts, made by one thread and used by all. */
    for (size_t i = 0; i < sizeof ticket_keys; i++) ticket_keys[i] = (uint8_t)(i * 7 + 1);
    have_session_cache =
        portls_has_capability(PORTLS_CAP_SESSION_CACHE) && portls_has_capability(PORTLS_CAP_TLS1_2);
    srv13 = make_context(1, 0);
    cli13 = make_context(0, 0);
    if (have_session_cache) {
      srv12 = make_context(1, 1);
      cli12 = make_context(0, 1);
    }
    atomic_store(&contexts_ready, 1);
  }
  while (!atomic_load(&contexts_ready)) sleep_ms(1);
  start_servers(w);
  rendezvous(w, 1);

  int next = (w->index + 1) % NT, after = (w->index + 2) % NT;
  for (int kind = 0; kind < 2; kind++) {
    if (kind == 1 && !have_session_cache) break;
    client c;
    /* A full handshake at the next thread's server; its session for others. */
    run_client(w, &c, kind, ports[next][kind], NULL, 0);
    CHECK(!c.reused, "a first connection resumed");
    publish_session(w, kind, &c);
    rendezvous(w, 2 + 2 * kind);
    /* Another thread's session, offered at a third thread's server. */
    if (w->index == 0 && kind == 0) {
      rc = portls_server_set_ticket_keys(w->srv[0], ticket_keys, sizeof ticket_keys, &err);
      if (rc < 0) fail("set_ticket_keys", rc, &err);
    }
    size_t n = take_session(next, kind, buf[w->index]);
    run_client(w, &c, kind, ports[after][kind], buf[w->index], n);
    if (!c.reused) fprintf(stderr, "thread %d kind %d: not resumed\n", w->index, kind);
    atomic_fetch_add(kind == 0 ? &resumed13 : &resumed12, c.reused);
    rendezvous(w, 3 + 2 * kind);
  }
  (void)err;
  for (int k = 0; k < 2; k++)
    if (w->srv[k] != NULL) portls_server_close(w->srv[k]);
  while (portls_loop_run_once(w->loop, 1) > 0) {}
  rc = portls_loop_free(w->loop);
  if (rc < 0) fail("loop_free", rc, NULL);
  return NULL;
}

static portls_buf read_cert(const char *name) {
  const char *dir = getenv("PORTLS_CERTS");
  CHECK(dir != NULL, "PORTLS_CERTS is not set (run through ctest)");
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  portls_buf b;
  portls_error err = {0};
  int rc = portls_read_file(path, &b, &err);
  if (rc < 0) fail(path, rc, &err);
  return b;
}

static portls_context *make_context(int server, int tls12) {
  portls_context_options o;
  portls_context_options_init(&o);
  portls_buf key = read_cert("server-rsa.key"), cert = read_cert("server-rsa-chain.crt"),
             ca = read_cert("ca.crt");
  if (server) {
    o.key = &key, o.key_count = 1;
    o.cert = &cert, o.cert_count = 1;
    if (portls_has_capability(PORTLS_CAP_TICKET_KEYS))
      o.ticket_keys = (portls_buf){ticket_keys, sizeof ticket_keys};
    o.disable_tickets = tls12;
  } else {
    o.ca = &ca, o.ca_count = 1;
    if (tls12) o.secure_protocol = "TLSv1_2_method";
  }
  portls_context *ctx;
  portls_error err = {0};
  int rc = portls_context_new(&o, &ctx, &err);
  if (rc < 0) fail("context_new", rc, &err);
  portls_free((void *)key.base);
  portls_free((void *)cert.base);
  portls_free((void *)ca.base);
  return ctx;
}

int main(void) {
  /* No library call before the threads: their first calls race to set the
   * library up (portls__global_init, the cipher environment variable). */
  worker w[NT];
  pthread_t th[NT];
  memset(w, 0, sizeof w);
  for (int i = 0; i < NT; i++) {
    w[i].index = i;
    CHECK(pthread_create(&th[i], NULL, thread_main, &w[i]) == 0, "pthread_create");
  }
  for (int i = 0; i < NT; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < NT; i++) CHECK(w[i].closed_servers == (have_session_cache ? 2 : 1), "close");
  int tickets = portls_has_capability(PORTLS_CAP_TICKET_KEYS);
  printf("TLS 1.3 resumed across threads: %d/%d (ticket keys %s)\n", atomic_load(&resumed13), NT,
         tickets ? "shared" : "unsupported");
  if (tickets) CHECK(atomic_load(&resumed13) == NT, "TLS 1.3 tickets did not resume everywhere");
  if (have_session_cache) {
    printf("TLS 1.2 resumed across threads by id: %d/%d (store: %d stored, %d lookups, %d hits)\n",
           atomic_load(&resumed12), NT, atomic_load(&store.stores), atomic_load(&store.lookups),
           atomic_load(&store.hits));
    CHECK(atomic_load(&resumed12) == NT, "TLS 1.2 sessions did not resume everywhere");
  } else {
    printf("TLS 1.2 session store: skipped (no session-cache capability)\n");
  }
  portls_context_free(srv13);
  portls_context_free(cli13);
  portls_context_free(srv12);
  portls_context_free(cli12);
  for (size_t i = 0; i < store.n; i++) free(store.e[i].data);
  printf("ok\n");
  return 0;
}
