/* net.Server: listen, accept, per-connection sockets, maxConnections, and
 * close once every connection is gone. A tls.Server is one with an upper
 * layer that takes each accepted socket (tls_server.c, in core/tls). */
#include <stdio.h>
#include <string.h>

#include "net/addr.h"
#include "net/socket.h"
#include "util/sync.h"

#define P (&portls__platform)

typedef struct portls__workers workers;

struct portls_server {
  portls_loop *loop;
  portls_server_events ev;
  void *user;
  const portls__server_upper *uops; /* NULL for a net.Server */
  void *upper;
  size_t hwm;
  portls_plat_listener *listener;
  int closing, listener_closed;
  /* Accepting failed (EMFILE at the descriptor limit, ...): the code, until an
   * accept succeeds again; the platform waits for the back-off timer to end
   * before it accepts again. */
  int accept_err;
  portls_plat_timer *backoff;
  portls_socket *conns;
  size_t nconns, max_conns;
  portls__task task_listening, task_close;
  /* Connections adopted with portls_server_adopt_fd(), opened on this
   * loop and waiting for the loop to take them (events never run inside the
   * call). */
  struct adopt_pending *pending_streams, **pending_tail;
  portls__task task_adopt;
  /* Workers (a server with options.workers > 1): the group, on the server
   * the application made (the parent, on its loop) and on each worker's. A
   * worker's queue of descriptors handed over by the parent is filled from
   * the parent's thread, under the group's lock. */
  workers *group;
  struct worker *wk; /* a worker's own entry */
  int is_parent;
  int *handed;
  size_t nhanded, handed_cap;
};

typedef struct adopt_pending {
  struct adopt_pending *next;
  portls_plat_stream *stream;
} adopt_pending;

/* ---- workers: one server on several loops, one per thread ----
 *
 * The parent lives on the application's loop and owns the group; each worker
 * is a server of its own on a loop of its own, run by a thread of its own,
 * made from the same options and the same context. Accepting is either the
 * kernel's job (PORTLS_WORKERS_REUSEPORT: every worker listens on a socket of
 * its own bound to the same port with SO_REUSEPORT) or the parent's
 * (PORTLS_WORKERS_HANDOFF, and Unix sockets: the parent accepts and hands
 * each connection's descriptor to the workers in turn). What the application
 * sees is one server: the connection count and maxConnections are the
 * group's; close() on any of them closes all; 'listening' and 'close' come
 * once, from the parent. Threads meet in three places only: the counters
 * (atomics), each worker's queue of descriptors and wakeup (the group's lock),
 * and the wakeups themselves (platform async handles). */

typedef struct worker {
  workers *g;
  portls_server *srv;
  portls_loop *loop;
  portls_plat_async *wake; /* on loop: close requests and handed-over connections */
  portls_plat_thread *thread;
  int wake_open; /* under g->lock: wake may be sent to */
  int close_req; /* under g->lock */
} worker;

struct portls__workers {
  portls__spin lock;
  portls__refcount nconns, max_conns, closing;
  size_t running; /* threads not finished; under lock */
  unsigned n, next;
  int mode, started, joined;
  int have_addr;
  portls_plat_addr addr;
  portls_plat_async *parent_wake; /* on the parent's loop: a worker finished */
  portls_server *parent;
  worker *w;
};

static void group_close(workers *g);

static void stop_backoff(portls_server *srv) {
  if (srv->backoff != NULL) {
    P->timer_free(srv->backoff);
    srv->backoff = NULL;
  }
}

static void drop_pending(portls_server *srv);
static void group_free(workers *g);

void portls__server_discard(portls_server *srv) {
  stop_backoff(srv);
  drop_pending(srv);
  portls__free(srv->handed);
  if (srv->is_parent && srv->group != NULL) group_free(srv->group);
  if (srv->uops != NULL) srv->uops->free(srv->upper);
  srv->loop->objects--;
  portls__free(srv);
}

int portls__server_new(portls_loop *loop, const portls_server_options *o, portls_server **out,
                       portls_error *err) {
  if (loop == NULL || out == NULL)
    return portls__err(err, PORTLS_EINVAL, "createServer: NULL argument");
  *out = NULL;
  portls_server *srv = portls__calloc(1, sizeof *srv);
  if (srv == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  srv->loop = loop;
  loop->objects++;
  if (o != NULL) {
    srv->hwm = o->high_water_mark;
    if (o->events != NULL) srv->ev = *o->events;
    srv->user = o->user;
  }
  *out = srv;
  return 0;
}

static int make_net_worker(portls_loop *loop, void *arg, portls_server **out, portls_error *err) {
  portls_server_options o = *(const portls_server_options *)arg;
  o.workers = 0;
  return portls__server_new(loop, &o, out, err);
}

int portls_net_create_server(portls_loop *loop, const portls_server_options *o, portls_server **out,
                             portls_error *err) {
  int rc = portls__server_new(loop, o, out, err);
  if (rc < 0 || o == NULL || o->workers <= 1) return rc;
  rc = portls__server_workers(*out, o->workers, o->workers_mode, make_net_worker, (void *)o, err);
  if (rc < 0) {
    portls__server_discard(*out);
    *out = NULL;
  }
  return rc;
}

void portls__server_set_upper(portls_server *srv, const portls__server_upper *ops, void *data) {
  srv->uops = ops;
  srv->upper = data;
}

void *portls__server_upper_data(const portls_server *srv, const portls__server_upper *ops) {
  return srv != NULL && srv->uops == ops ? srv->upper : NULL;
}

const portls_server_events *portls__server_events(const portls_server *srv, void **user) {
  *user = srv->user;
  return &srv->ev;
}

int portls_server_set_events(portls_server *srv, const portls_server_events *ev, void *user) {
  if (srv == NULL) return PORTLS_EINVAL;
  if (srv->group != NULL) {
    /* The workers' events run on their threads: set before listening. */
    if (!srv->is_parent || srv->group->started) return PORTLS_EBUSY;
    for (unsigned i = 0; i < srv->group->n; i++)
      (void)portls_server_set_events(srv->group->w[i].srv, ev, user);
  }
  if (ev != NULL && ev->keylog != NULL && !portls_has_capability(PORTLS_CAP_KEYLOG))
    return PORTLS_ENOTSUP;
  if (ev != NULL)
    srv->ev = *ev;
  else
    memset(&srv->ev, 0, sizeof srv->ev);
  srv->user = user;
  return 0;
}

void *portls_server_user(const portls_server *srv) { return srv ? srv->user : NULL; }

/* ---- connections ---- */

static void link_conn(portls_server *srv, portls_socket *s) {
  s->server = srv;
  s->srv_next = srv->conns;
  if (srv->conns != NULL) srv->conns->srv_prev = s;
  srv->conns = s;
  srv->nconns++;
}

/* Takes one of the connection slots maxConnections allows (for a group, the
 * group's): 0 when the server is full. */
static int take_slot(portls_server *srv) {
  if (srv->group == NULL) return srv->max_conns == 0 || srv->nconns < srv->max_conns;
  workers *g = srv->group;
  portls__ref_inc(&g->nconns);
  size_t max = portls__ref_get(&g->max_conns);
  if (max > 0 && portls__ref_get(&g->nconns) > max) {
    (void)portls__ref_dec(&g->nconns);
    return 0;
  }
  return 1;
}

static void give_slot(portls_server *srv) {
  if (srv->group != NULL) (void)portls__ref_dec(&srv->group->nconns);
}

static void maybe_finish_close(portls_server *srv);

void portls__server_socket_closed(portls_server *srv, portls_socket *s) {
  if (s->srv_prev != NULL)
    s->srv_prev->srv_next = s->srv_next;
  else
    srv->conns = s->srv_next;
  if (s->srv_next != NULL) s->srv_next->srv_prev = s->srv_prev;
  srv->nconns--;
  give_slot(srv);
  s->server = NULL;
  if (srv->closing) maybe_finish_close(srv);
}

static void on_stray_closed(void *ud) { (void)ud; }

static void take_connection(portls_server *srv);

static void backoff_done(void *ud) {
  portls_server *srv = ud;
  if (!srv->closing) take_connection(srv); /* accept() lets the platform accept again */
}

/* Accepting failed. The server keeps listening and keeps its connections:
 * 'error' says so once per stretch of failures (not once per dropped
 * connection), and the platform, paused since it reported the failure,
 * accepts again after a back-off rather than spinning on a listener that
 * stays readable. At the descriptor limit the platform has already closed
 * what was pending (libuv's reserve-descriptor trick), so those clients are
 * told at once rather than left waiting. */
static void accept_failed(portls_server *srv, int status) {
  int first = srv->accept_err != status;
  srv->accept_err = status;
  P->timer_start(srv->backoff, PORTLS__ACCEPT_BACKOFF_MS, 0);
  if (!first || srv->ev.error == NULL) return;
  portls_error err;
  if (status == PORTLS_EMFILE)
    portls__err(&err, status,
                "accept EMFILE: too many open files; the server keeps listening and its "
                "connections, and closes new ones until descriptors are freed");
  else
    portls__err(&err, status, "accept %s: %s", portls_err_name(status), portls_strerror(status));
  srv->ev.error(srv, &err, srv->user);
}

static void on_connection(void *ud, int status) {
  portls_server *srv = ud;
  if (srv->closing) return;
  if (status < 0) {
    accept_failed(srv, status);
    return;
  }
  take_connection(srv);
}

/* A connection the platform accepted, or adopted: a socket of srv's. */
static void take_stream(portls_server *srv, portls_plat_stream *stream) {
  if (!take_slot(srv)) {
    /* Node drops connections over maxConnections without an event. */
    P->close(stream, on_stray_closed, NULL);
    return;
  }
  portls_socket *s = portls__socket_alloc(srv->loop, srv->hwm);
  if (s == NULL) {
    give_slot(srv);
    P->close(stream, on_stray_closed, NULL);
    return;
  }
  link_conn(srv, s);
  int rc = portls__socket_attach(s, stream, &portls__stream_lower);
  portls_error err;
  if (rc < 0) {
    portls__err(&err, rc, "read_start: %s", portls_strerror(rc));
    portls_socket_destroy(s, &err);
    return;
  }
  if (srv->uops != NULL) {
    if (srv->uops->accepted(srv->upper, s, &err) < 0) portls_socket_destroy(s, &err);
    return;
  }
  if (srv->ev.connection != NULL) srv->ev.connection(srv, s, srv->user);
}

static void hand_over(portls_server *parent, int fd);

static void take_connection(portls_server *srv) {
  if (srv->is_parent) {
    /* Handoff: the descriptor goes to a worker's loop. */
    int fd;
    if (P->accept_fd(srv->listener, &fd) < 0) return;
    srv->accept_err = 0;
    hand_over(srv, fd);
    return;
  }
  portls_plat_stream *stream = NULL;
  int rc = P->accept(srv->listener, &stream);
  if (rc < 0) return;
  srv->accept_err = 0;
  take_stream(srv, stream);
}

/* ---- adopting accepted descriptors ---- */

/* Closes what was adopted and not taken yet (the server is going). */
static void drop_pending(portls_server *srv) {
  portls__cancel(srv->loop, &srv->task_adopt);
  while (srv->pending_streams != NULL) {
    adopt_pending *ap = srv->pending_streams;
    srv->pending_streams = ap->next;
    P->close(ap->stream, on_stray_closed, NULL);
    portls__free(ap);
  }
  srv->pending_tail = &srv->pending_streams;
}

static void run_adopted(void *arg) {
  portls_server *srv = arg;
  adopt_pending *ap = srv->pending_streams;
  srv->pending_streams = NULL;
  srv->pending_tail = &srv->pending_streams;
  while (ap != NULL) {
    adopt_pending *next = ap->next;
    if (srv->closing)
      P->close(ap->stream, on_stray_closed, NULL);
    else
      take_stream(srv, ap->stream);
    portls__free(ap);
    ap = next;
  }
}

/* ---- listen / address / close ---- */

static void emit_listening(void *arg) {
  portls_server *srv = arg;
  if (!srv->closing && srv->ev.listening != NULL) srv->ev.listening(srv, srv->user);
}

/* srv listens on l: the back-off timer, and 'listening' (but for a worker:
 * the parent says it once). */
static int attach_listener(portls_server *srv, portls_plat_listener *l, portls_error *err) {
  int rc =
      srv->backoff != NULL ? 0 : P->timer_new(srv->loop->plat, backoff_done, srv, &srv->backoff);
  if (rc < 0) {
    srv->backoff = NULL;
    P->listener_close(l, on_stray_closed, NULL);
    return portls__err(err, rc, "listen: %s", portls_strerror(rc));
  }
  srv->listener = l;
  if (srv->group == NULL || srv->is_parent)
    portls__defer(srv->loop, &srv->task_listening, emit_listening, srv);
  return 0;
}

static int check_listen(portls_server *srv, portls_error *err) {
  if (srv->closing || (srv->group != NULL && portls__ref_get(&srv->group->closing)))
    return portls__err(err, PORTLS_ESERVER_NOT_RUNNING, "listen: server is closing");
  if (srv->listener != NULL || (srv->group != NULL && srv->group->started))
    return portls__err(err, PORTLS_ESERVER_LISTENING, "listen: already listening");
  if (srv->group != NULL && !srv->is_parent)
    return portls__err(err, PORTLS_EINVAL, "listen: a worker listens through its parent server");
  return 0;
}

static int start_workers(portls_server *parent, portls_error *err);
static int workers_listen(portls_server *parent, const int *fds, int caller_fd, portls_error *err);

static int do_listen(portls_server *srv, const portls_plat_addr *a, int backlog,
                     portls_error *err) {
  int rc = check_listen(srv, err);
  if (rc < 0) return rc;
  if (backlog <= 0) backlog = 511;
  workers *g = srv->group;
  char where[140];
  portls__addr_describe(a, where, sizeof where);
  if (g != NULL && g->mode == PORTLS_WORKERS_REUSEPORT && a->family != PORTLS_PLAT_UNIX) {
    /* One socket per worker on the same port; the first picks it for port 0. */
    int fds[PORTLS_WORKERS_MAX];
    portls_plat_addr at = *a;
    for (unsigned i = 0; i < g->n; i++) {
      rc = P->bind_listen(&at, backlog, 1, &fds[i]);
      if (rc < 0) {
        for (unsigned j = 0; j < i; j++) P->fd_close(fds[j]);
        return portls__err(err, rc, "listen %s: address %s (SO_REUSEPORT, worker %u)",
                           portls_err_name(rc), where, i);
      }
      if (i == 0 && at.port == 0) {
        /* The port the kernel chose, for the other workers. */
        portls_plat_listener *probe;
        int dup = P->fd_dup(fds[0]);
        if (dup >= 0 && P->listen_fd(srv->loop->plat, dup, on_connection, srv, &probe) == 0) {
          portls_plat_addr got;
          if (P->listener_address(probe, &got) == 0) at.port = got.port;
          P->listener_close(probe, on_stray_closed, NULL);
        } else if (dup >= 0) {
          P->fd_close(dup);
        }
      }
    }
    return workers_listen(srv, fds, 0, err);
  }
  portls_plat_listener *l;
  rc = P->listen(srv->loop->plat, a, backlog, on_connection, srv, &l);
  if (rc < 0) return portls__err(err, rc, "listen %s: address %s", portls_err_name(rc), where);
  if (g != NULL) {
    /* Handoff: this server accepts, the workers serve. */
    rc = attach_listener(srv, l, err);
    if (rc == 0) rc = start_workers(srv, err);
    return rc;
  }
  return attach_listener(srv, l, err);
}

int portls_server_listen(portls_server *srv, const char *host, uint16_t port, int backlog,
                         portls_error *err) {
  if (srv == NULL) return portls__err(err, PORTLS_EINVAL, "listen: NULL server");
  portls_plat_addr a;
  memset(&a, 0, sizeof a);
  a.port = port;
  if (host == NULL) {
    a.family = PORTLS_PLAT_INET6; /* "::": dual-stack where IPv6 exists */
    int rc = do_listen(srv, &a, backlog, NULL);
    if (rc == 0) return 0;
    a.family = PORTLS_PLAT_INET;
    return do_listen(srv, &a, backlog, err);
  }
  int fam = portls__ip_parse(host, a.ip);
  if (fam == 0) {
    if (strcmp(host, "localhost") != 0)
      return portls__err(err, PORTLS_EINVAL, "listen: host must be an IP address or localhost: %s",
                         host);
    fam = 4;
    a.ip[0] = 127, a.ip[3] = 1;
  }
  a.family = fam == 4 ? PORTLS_PLAT_INET : PORTLS_PLAT_INET6;
  return do_listen(srv, &a, backlog, err);
}

int portls_server_listen_path(portls_server *srv, const char *path, int backlog,
                              portls_error *err) {
  if (srv == NULL || path == NULL) return portls__err(err, PORTLS_EINVAL, "listen: NULL argument");
  portls_plat_addr a;
  memset(&a, 0, sizeof a);
  a.family = PORTLS_PLAT_UNIX;
  if (strlen(path) >= sizeof a.path)
    return portls__err(err, PORTLS_ENAMETOOLONG, "listen: path too long: %s", path);
  strcpy(a.path, path);
  return do_listen(srv, &a, backlog, err);
}

int portls_server_address(const portls_server *srv, portls_address *out) {
  if (srv == NULL || out == NULL) return PORTLS_EINVAL;
  if (srv->group != NULL && srv->is_parent && srv->listener == NULL && !srv->closing &&
      srv->group->have_addr) {
    /* Workers listening on sockets of their own: where they were bound. */
    portls__addr_to_public(&srv->group->addr, out);
    return 0;
  }
  if (srv->listener == NULL || srv->closing) return PORTLS_ESERVER_NOT_RUNNING;
  portls_plat_addr a;
  int rc = P->listener_address(srv->listener, &a);
  if (rc < 0) return rc;
  portls__addr_to_public(&a, out);
  return 0;
}

static void worker_done(worker *w);

static void finish_close(void *arg) {
  portls_server *srv = arg;
  if (srv->group != NULL && !srv->is_parent) {
    worker_done(srv->wk);
    return;
  }
  if (srv->ev.close != NULL) srv->ev.close(srv, srv->user);
  portls__server_discard(srv);
}

static void maybe_finish_close(portls_server *srv) {
  if (srv->closing && srv->listener_closed && srv->nconns == 0 &&
      (srv->group == NULL || !srv->is_parent || srv->group->joined))
    portls__defer(srv->loop, &srv->task_close, finish_close, srv);
}

static void on_listener_closed(void *ud) {
  portls_server *srv = ud;
  srv->listener = NULL;
  srv->listener_closed = 1;
  maybe_finish_close(srv);
}

/* Closes srv itself (on its own thread): no more accepting; 'close' once
 * its connections are gone. */
static void close_local(portls_server *srv) {
  if (srv->closing) return;
  srv->closing = 1;
  drop_pending(srv);
  portls__cancel(srv->loop, &srv->task_listening);
  stop_backoff(srv);
  if (srv->listener != NULL) {
    P->listener_close(srv->listener, on_listener_closed, srv);
  } else {
    srv->listener_closed = 1;
    maybe_finish_close(srv);
  }
}

void portls_server_close(portls_server *srv) {
  if (srv == NULL) return;
  if (srv->group != NULL) {
    group_close(srv->group);
    return;
  }
  close_local(srv);
}

/* ---- for the TLS half: a workers server's workers ---- */

size_t portls__server_workers_count(const portls_server *srv, int *started) {
  if (srv == NULL || srv->group == NULL || !srv->is_parent) return 0;
  *started = srv->group->started;
  return srv->group->n;
}

portls_server *portls__server_worker(const portls_server *srv, size_t i) {
  return srv->group->w[i].srv;
}

size_t portls_server_connections(const portls_server *srv) {
  if (srv == NULL) return 0;
  if (srv->group != NULL) return portls__ref_get(&srv->group->nconns);
  return srv->nconns;
}

void portls_server_set_max_connections(portls_server *srv, size_t max) {
  if (srv == NULL) return;
  if (srv->group != NULL) portls__ref_set(&srv->group->max_conns, max);
  srv->max_conns = max;
}

/* ---- descriptors from the application ---- */

int portls_server_listen_fd(portls_server *srv, int fd, portls_error *err) {
  if (srv == NULL) return portls__err(err, PORTLS_EINVAL, "listen_fd: NULL server");
  if (fd < 0) return portls__err(err, PORTLS_EINVAL, "listen_fd: %d is not a descriptor", fd);
  if (P->listen_fd == NULL)
    return portls__err(err, PORTLS_ENOTSUP, "listen_fd: platform '%s' cannot adopt descriptors",
                       P->name);
  int rc = check_listen(srv, err);
  if (rc < 0) return rc;
  workers *g = srv->group;
  if (g != NULL) {
    /* Every worker polls the same socket; whichever accepts first serves. */
    int fds[PORTLS_WORKERS_MAX];
    fds[0] = fd;
    for (unsigned i = 1; i < g->n; i++) {
      fds[i] = P->fd_dup(fd);
      if (fds[i] < 0) {
        rc = fds[i];
        for (unsigned j = 1; j < i; j++) P->fd_close(fds[j]);
        return portls__err(err, rc, "listen_fd: dup(%d): %s", fd, portls_strerror(rc));
      }
    }
    return workers_listen(srv, fds, 1, err);
  }
  portls_plat_listener *l;
  rc = P->listen_fd(srv->loop->plat, fd, on_connection, srv, &l);
  if (rc < 0)
    return portls__err(err, rc, "listen_fd: descriptor %d %s", fd,
                       rc == PORTLS_EINVAL ? "is not a listening stream socket (TCP or Unix)"
                                           : portls_strerror(rc));
  return attach_listener(srv, l, err);
}

int portls_server_adopt_fd(portls_server *srv, int fd, portls_error *err) {
  if (srv == NULL) return portls__err(err, PORTLS_EINVAL, "adopt_fd: NULL server");
  if (fd < 0) return portls__err(err, PORTLS_EINVAL, "adopt_fd: %d is not a descriptor", fd);
  if (P->stream_open == NULL)
    return portls__err(err, PORTLS_ENOTSUP, "adopt_fd: platform '%s' cannot adopt descriptors",
                       P->name);
  if (srv->closing || (srv->group != NULL && portls__ref_get(&srv->group->closing)))
    return portls__err(err, PORTLS_ESERVER_NOT_RUNNING, "adopt_fd: server is closing");
  if (srv->group != NULL && srv->is_parent) {
    if (!srv->group->started)
      return portls__err(err, PORTLS_ESERVER_NOT_RUNNING,
                         "adopt_fd: a workers server adopts connections once it listens");
    hand_over(srv, fd);
    return 0;
  }
  if (srv->group != NULL)
    return portls__err(err, PORTLS_EINVAL, "adopt_fd: give the connection to the parent server");
  /* Checked now, on this loop; taken (and its events emitted) from the loop. */
  portls_plat_stream *stream = NULL;
  int rc = P->stream_open(srv->loop->plat, fd, &stream);
  if (rc < 0)
    return portls__err(err, rc, "adopt_fd: descriptor %d %s", fd,
                       rc == PORTLS_EINVAL ? "is not a connected stream socket (TCP or Unix)"
                                           : portls_strerror(rc));
  adopt_pending *ap = portls__calloc(1, sizeof *ap);
  if (ap == NULL) {
    P->close(stream, on_stray_closed, NULL);
    return portls__err(err, PORTLS_ENOMEM, NULL);
  }
  ap->stream = stream;
  if (srv->pending_tail == NULL) srv->pending_tail = &srv->pending_streams;
  *srv->pending_tail = ap;
  srv->pending_tail = &ap->next;
  portls__defer(srv->loop, &srv->task_adopt, run_adopted, srv);
  return 0;
}

/* ---- workers ---- */

static void worker_wake(void *ud);
static void parent_wake(void *ud);

/* Ends a worker whose thread never started (or failed to): on this thread. */
static void worker_discard(worker *w) {
  if (w->srv != NULL) {
    close_local(w->srv); /* its finish_close ends in worker_done */
  } else if (w->wake != NULL) {
    P->async_close(w->wake);
    w->wake = NULL;
  }
  if (w->loop != NULL) {
    (void)portls_loop_run(w->loop);
    (void)portls_loop_free(w->loop);
    w->loop = NULL;
  }
}

static void group_free(workers *g) {
  portls__free(g->w);
  portls__free(g);
}

int portls__server_workers(portls_server *parent, unsigned n, int mode,
                           int (*make)(portls_loop *loop, void *arg, portls_server **out,
                                       portls_error *err),
                           void *arg, portls_error *err) {
  if (n <= 1) return 0;
  if (n > PORTLS_WORKERS_MAX)
    return portls__err(err, PORTLS_EINVAL, "workers: %u is more than %d", n, PORTLS_WORKERS_MAX);
  if (mode != PORTLS_WORKERS_REUSEPORT && mode != PORTLS_WORKERS_HANDOFF)
    return portls__err(err, PORTLS_EINVAL, "workers_mode: %d is neither REUSEPORT nor HANDOFF",
                       mode);
  if (P->thread_start == NULL || P->async_new == NULL || P->bind_listen == NULL ||
      P->listen_fd == NULL || P->accept_fd == NULL || P->stream_open == NULL)
    return portls__err(err, PORTLS_ENOTSUP,
                       "workers: platform '%s' cannot run loops on several threads", P->name);
  workers *g = portls__calloc(1, sizeof *g);
  if (g == NULL || (g->w = portls__calloc(n, sizeof *g->w)) == NULL) {
    portls__free(g);
    return portls__err(err, PORTLS_ENOMEM, NULL);
  }
  portls__spin_init(&g->lock);
  portls__ref_init(&g->nconns, 0);
  portls__ref_init(&g->max_conns, parent->max_conns);
  portls__ref_init(&g->closing, 0);
  g->n = n;
  g->mode = mode;
  g->parent = parent;
  int rc = 0;
  unsigned made;
  for (made = 0; made < n && rc == 0; made++) {
    worker *w = &g->w[made];
    w->g = g;
    rc = portls_loop_new(&w->loop);
    if (rc < 0) {
      rc = portls__err(err, rc, "workers: loop: %s", portls_strerror(rc));
      break;
    }
    rc = make(w->loop, arg, &w->srv, err);
    if (rc < 0) break;
    w->srv->group = g;
    w->srv->wk = w;
    rc = P->async_new(w->loop->plat, worker_wake, w, &w->wake);
    if (rc < 0) {
      w->wake = NULL;
      rc = portls__err(err, rc, "workers: wakeup: %s", portls_strerror(rc));
      break;
    }
    w->wake_open = 1;
  }
  if (rc < 0) {
    for (unsigned i = 0; i < n; i++) worker_discard(&g->w[i]);
    group_free(g);
    return rc;
  }
  parent->group = g;
  parent->is_parent = 1;
  return 0;
}

/* The parent listens through workers on fds[0..n-1] (each a listening
 * socket the worker owns from now on), then starts them. */
static int workers_listen(portls_server *parent, const int *fds, int caller_fd, portls_error *err) {
  workers *g = parent->group;
  int rc = 0;
  unsigned i;
  for (i = 0; i < g->n && rc == 0; i++) {
    worker *w = &g->w[i];
    portls_plat_listener *l;
    rc = P->listen_fd(w->loop->plat, fds[i], on_connection, w->srv, &l);
    if (rc < 0) {
      rc = portls__err(err, rc, "listen: worker %u: descriptor %d %s", i, fds[i],
                       rc == PORTLS_EINVAL ? "is not a listening stream socket (TCP or Unix)"
                                           : portls_strerror(rc));
      break;
    }
    rc = attach_listener(w->srv, l, err);
    if (rc == 0 && i == 0 && P->listener_address(l, &g->addr) == 0) g->have_addr = 1;
  }
  if (rc < 0) {
    /* fds[i] failed to be adopted: still ours, and the rest too (but the
     * application's own descriptor, when nothing has taken it yet). */
    for (unsigned j = i; j < g->n; j++)
      if (!(caller_fd && j == 0)) P->fd_close(fds[j]);
    for (unsigned j = 0; j < i; j++)
      if (g->w[j].srv->listener != NULL) {
        P->listener_close(g->w[j].srv->listener, on_stray_closed, NULL);
        g->w[j].srv->listener = NULL;
      }
    return rc;
  }
  portls__defer(parent->loop, &parent->task_listening, emit_listening, parent);
  return start_workers(parent, err);
}

static void worker_main(void *arg) {
  worker *w = arg;
  workers *g = w->g;
  (void)portls_loop_run(w->loop);
  (void)portls_loop_free(w->loop);
  w->loop = NULL;
  portls__spin_lock(&g->lock);
  g->running--;
  P->async_send(g->parent_wake);
  portls__spin_unlock(&g->lock);
}

static int start_workers(portls_server *parent, portls_error *err) {
  workers *g = parent->group;
  int rc = P->async_new(parent->loop->plat, parent_wake, parent, &g->parent_wake);
  if (rc < 0) {
    g->parent_wake = NULL;
    return portls__err(err, rc, "workers: wakeup: %s", portls_strerror(rc));
  }
  g->started = 1;
  for (unsigned i = 0; i < g->n; i++) {
    worker *w = &g->w[i];
    portls__spin_lock(&g->lock);
    g->running++;
    portls__spin_unlock(&g->lock);
    rc = P->thread_start(worker_main, w, &w->thread);
    if (rc < 0) {
      portls__spin_lock(&g->lock);
      g->running--;
      portls__spin_unlock(&g->lock);
      w->thread = NULL;
      /* The workers that run stop; the one that did not is ended here. */
      portls__err(err, rc, "workers: thread %u: %s", i, portls_strerror(rc));
      for (unsigned j = i; j < g->n; j++) {
        portls__spin_lock(&g->lock);
        g->w[j].wake_open = 0;
        portls__spin_unlock(&g->lock);
        worker_discard(&g->w[j]);
      }
      group_close(g);
      return rc;
    }
  }
  return 0;
}

/* Handoff: the connection goes to the next worker, which takes it from its loop. */
static void hand_over(portls_server *parent, int fd) {
  workers *g = parent->group;
  worker *w = &g->w[g->next++ % g->n];
  int queued = 0;
  portls__spin_lock(&g->lock);
  if (w->wake_open && !w->close_req) {
    portls_server *srv = w->srv;
    if (srv->nhanded == srv->handed_cap) {
      size_t cap = srv->handed_cap ? srv->handed_cap * 2 : 16;
      int *q = portls__realloc(srv->handed, cap * sizeof *q);
      if (q != NULL) {
        srv->handed = q;
        srv->handed_cap = cap;
      }
    }
    if (srv->nhanded < srv->handed_cap) {
      srv->handed[srv->nhanded++] = fd;
      queued = 1;
      P->async_send(w->wake);
    }
  }
  portls__spin_unlock(&g->lock);
  if (!queued) P->fd_close(fd); /* closing, or out of memory: the client sees it closed */
}

/* On a worker's thread: close requests and handed-over connections. */
static void worker_wake(void *ud) {
  worker *w = ud;
  workers *g = w->g;
  portls_server *srv = w->srv;
  for (;;) {
    int fds[64];
    size_t n;
    portls__spin_lock(&g->lock);
    int close_req = w->close_req;
    n = srv->nhanded < PORTLS__ARRAY_SIZE(fds) ? srv->nhanded : PORTLS__ARRAY_SIZE(fds);
    if (n > 0) {
      memcpy(fds, srv->handed, n * sizeof *fds);
      memmove(srv->handed, srv->handed + n, (srv->nhanded - n) * sizeof *fds);
      srv->nhanded -= n;
    }
    portls__spin_unlock(&g->lock);
    for (size_t i = 0; i < n; i++) {
      portls_plat_stream *stream = NULL;
      int rc = close_req || srv->closing ? PORTLS_ESERVER_NOT_RUNNING
                                         : P->stream_open(srv->loop->plat, fds[i], &stream);
      if (rc < 0) {
        P->fd_close(fds[i]);
        if (rc != PORTLS_ESERVER_NOT_RUNNING && srv->ev.error != NULL) {
          portls_error err;
          portls__err(&err, rc, "adopt_fd: descriptor %d: %s", fds[i], portls_strerror(rc));
          srv->ev.error(srv, &err, srv->user);
        }
        continue;
      }
      take_stream(srv, stream);
    }
    if (n == 0) {
      if (close_req) close_local(srv);
      return;
    }
  }
}

/* A worker's server has closed (its listener and its connections are gone):
 * the wakeup goes, and with nothing left the worker's loop, and its thread,
 * end (worker_main). */
static void worker_done(worker *w) {
  workers *g = w->g;
  portls__spin_lock(&g->lock);
  w->wake_open = 0;
  int *left = w->srv->handed;
  size_t nleft = w->srv->nhanded;
  w->srv->handed = NULL;
  w->srv->nhanded = w->srv->handed_cap = 0;
  portls__spin_unlock(&g->lock);
  for (size_t i = 0; i < nleft; i++) P->fd_close(left[i]);
  portls__free(left);
  if (w->wake != NULL) P->async_close(w->wake);
  w->wake = NULL;
  portls__server_discard(w->srv);
  w->srv = NULL;
}

/* Any thread: close every worker, then the parent ('close' once, from the
 * parent's loop). */
static void group_close(workers *g) {
  portls__spin_lock(&g->lock);
  int first = portls__ref_get(&g->closing) == 0;
  portls__ref_set(&g->closing, 1);
  if (first) {
    for (unsigned i = 0; i < g->n; i++) {
      g->w[i].close_req = 1;
      if (g->w[i].wake_open && g->started) P->async_send(g->w[i].wake);
    }
    if (g->parent_wake != NULL) P->async_send(g->parent_wake);
  }
  int started = g->started;
  portls__spin_unlock(&g->lock);
  if (!first) return;
  if (!started) {
    /* Never listened: no thread runs; this is the parent's thread. */
    for (unsigned i = 0; i < g->n; i++) worker_discard(&g->w[i]);
    g->joined = 1;
    close_local(g->parent);
  }
}

/* On the parent's thread: the group is closing, or a worker has finished. */
static void parent_wake(void *ud) {
  portls_server *parent = ud;
  workers *g = parent->group;
  if (portls__ref_get(&g->closing)) close_local(parent);
  portls__spin_lock(&g->lock);
  size_t running = g->running;
  portls__spin_unlock(&g->lock);
  if (running > 0 || g->joined) return;
  /* Every worker has finished and sent its last wakeup (under the lock). */
  for (unsigned i = 0; i < g->n; i++) {
    P->thread_join(g->w[i].thread);
    g->w[i].thread = NULL;
  }
  P->async_close(g->parent_wake);
  g->parent_wake = NULL;
  g->joined = 1;
  maybe_finish_close(parent);
}
