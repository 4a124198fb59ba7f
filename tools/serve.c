/* portls command-line tool: `serve`, a TLS server (docs/cli.md). */
#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli.h"

/* In the order of the --mode choices. */
enum { MODE_ECHO, MODE_COUNT, MODE_WELCOME };

typedef struct serve serve;

/* One established connection. */
typedef struct conn {
  serve *srv;
  portls_socket *sock;
  uint64_t count; /* --mode count: bytes received so far */
  int paused;     /* echo: waiting for 'drain' before reading on */
  struct conn *prev, *next;
} conn;

struct serve {
  portls_loop *loop;
  portls_server *server;
  portls_timer *timer;
  int mode;
  size_t max_send_fragment;
  const char *host;
  conn *conns;
  int stopping;
  int stop_ticks; /* timer ticks since serve_stop() */
  int failed;
  serve_hooks *hooks;
  const cli_opts *o;             /* --export-keying-material */
  const cli_list *alpn_accepted; /* --alpn-callback */
  const cli_opts *opts;          /* for the SIGHUP reload */
  /* --workers: connections arrive on the workers' threads; the list is
   * shared under this lock, and each connection is only ever touched by
   * its own thread (the stop destroys none of them: they end with their
   * clients, or the process exits after the grace period). */
  unsigned workers;
  pthread_mutex_t lock;
};

/* Set by the signal handler, read by a timer on the loop: the handler itself
 * must not touch the library. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

/* SIGHUP: read the key/cert/ca/crl/pfx files again (Node's
 * server.setSecureContext). The handler only sets the flag; the tick does
 * the work, on the loop, so this works on every platform. */
static volatile sig_atomic_t reload_requested;

static void on_hup(int sig) {
  (void)sig;
  reload_requested = 1;
}

/* New connections get the context made from the files as they are now; open
 * ones keep theirs. Bad files print an error event naming the option and the
 * file, and the server keeps its current context. */
static void serve_reload(serve *s) {
  cli_tls t;
  portls_context_options co;
  portls_protocols alpn = {0}, npn = {0};
  portls_context_options_init(&co);
  if (cli_tls_options(s->opts, &t, &co, &alpn, &npn) != 0) { /* printed its error */
    cli_tls_free(&t);
    return;
  }
  portls_error err = {0, ""};
  int rc = portls_server_set_secure_context(s->server, &co, &err);
  cli_tls_free(&t);
  if (rc < 0) {
    ev_error(err.code ? err.code : rc, err.message);
    return;
  }
  /* --sni-context: each hostname's context is replaced when its files are good. */
  int sni = s->opts->v[OPT_SNI_CONTEXT].count;
  int sni_failed = serve_hooks_add_contexts(s->hooks, s->server, s->opts) != 0;
  jw *w = ev_begin("secureContextReloaded");
  jw_kint(w, "sniContexts", sni);
  jw_kbool(w, "sniFailed", sni_failed);
  ev_end(w);
}

/* Stops accepting and destroys every established connection. The server's
 * 'close' then frees the timer, the loop runs out of objects and
 * portls_loop_run() returns. */
static void serve_stop(serve *s) {
  if (s->stopping) return;
  s->stopping = 1;
  portls_server_close(s->server);
  if (s->workers > 1) return;
  for (conn *c = s->conns; c; c = c->next) portls_socket_destroy(c->sock, NULL);
}

#define TICK_MS 100
#define STOP_GRACE_TICKS 20

static void on_tick(portls_timer *timer, void *user) {
  (void)timer;
  serve *s = user;
  if (!s->stopping) {
    if (stop_requested) {
      serve_stop(s);
    } else if (reload_requested) {
      reload_requested = 0;
      serve_reload(s);
    }
    return;
  }
  /* Handshakes still in flight are not established connections, so they are
   * not in our list, and they keep the server open until they finish or time
   * out. Once our own connections are gone (or after a grace period) stop
   * waiting for them. */
  pthread_mutex_lock(&s->lock);
  int idle = s->conns == NULL;
  pthread_mutex_unlock(&s->lock);
  if (idle || ++s->stop_ticks >= STOP_GRACE_TICKS) portls_loop_stop(s->loop);
}

/* ---- connection events ---- */

static void on_data(portls_socket *sock, const void *data, size_t len, void *user) {
  conn *c = user;
  if (c->srv->mode == MODE_COUNT) {
    c->count += len;
    return;
  }
  /* Echo, honouring backpressure as socket.pipe(socket) does. */
  if (portls_socket_write(sock, data, len) == 0) {
    portls_socket_pause(sock);
    c->paused = 1;
  }
}

static void on_drain(portls_socket *sock, void *user) {
  conn *c = user;
  if (c->paused) {
    c->paused = 0;
    portls_socket_resume(sock);
  }
}

static void on_end(portls_socket *sock, void *user) {
  conn *c = user;
  if (c->srv->mode == MODE_COUNT) {
    char reply[32];
    int n = snprintf(reply, sizeof(reply), "%llu\n", (unsigned long long)c->count);
    portls_socket_end(sock, reply, (size_t)n);
  } else {
    portls_socket_end(sock, NULL, 0);
  }
}

static void on_error(portls_socket *sock, const portls_error *err, void *user) {
  (void)sock;
  (void)user;
  ev_error_from(err);
}

static void on_close(portls_socket *sock, int had_error, void *user) {
  (void)sock;
  conn *c = user;
  ev_close(had_error);
  serve *s = c->srv;
  pthread_mutex_lock(&s->lock);
  if (c->prev)
    c->prev->next = c->next;
  else
    s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  pthread_mutex_unlock(&s->lock);
  free(c);
}

/* ---- server events ---- */

static void on_listening(portls_server *server, void *user) {
  serve *s = user;
  portls_address addr;
  jw *w = ev_begin("listening");
  if (portls_server_address(server, &addr) == 0) {
    jw_kstring(w, "host", addr.address);
    jw_kint(w, "port", addr.port);
  } else {
    jw_kstring(w, "host", s->host);
    jw_key(w, "port");
    jw_null(w);
  }
  ev_end(w);
}

/* --alpn-callback LIST: Node's ALPNCallback choosing the client's first
 * protocol that LIST has (the client's order), NULL (reject) when none. */
static const char *on_alpn_callback(portls_server *server, portls_socket *sock,
                                    const char *servername, const char *const *protocols,
                                    size_t count, void *user) {
  (void)server, (void)sock;
  const serve *s = user;
  const char *pick = NULL;
  for (size_t i = 0; i < count && pick == NULL; i++)
    for (size_t j = 0; j < s->alpn_accepted->count; j++)
      if (strcmp(protocols[i], s->alpn_accepted->names[j]) == 0) pick = protocols[i];
  jw *w = ev_begin("ALPNCallback");
  jw_kstring_or_false(w, "servername", servername);
  jw_key(w, "protocols");
  jw_begin_array(w);
  for (size_t i = 0; i < count; i++) jw_string(w, protocols[i]);
  jw_end_array(w);
  jw_kstring(w, "selected", pick);
  ev_end(w);
  return pick;
}

static void on_secure_connection(portls_server *server, portls_socket *sock, void *user) {
  (void)server;
  serve *s = user;
  ev_secure("secureConnection", sock, 0);
  ev_keying_material(sock, s->o);

  conn *c = calloc(1, sizeof(*c));
  if (c == NULL) {
    portls_socket_destroy(sock, NULL);
    return;
  }
  c->srv = s;
  c->sock = sock;
  pthread_mutex_lock(&s->lock);
  c->next = s->conns;
  if (s->conns) s->conns->prev = c;
  s->conns = c;
  pthread_mutex_unlock(&s->lock);

  portls_socket_events ev = {0};
  ev.data = on_data;
  ev.drain = on_drain;
  ev.end = on_end;
  ev.error = on_error;
  ev.close = on_close;
  portls_socket_set_events(sock, &ev, c);

  if (s->max_send_fragment && portls_socket_set_max_send_fragment(sock, s->max_send_fragment) != 1)
    ev_errorf(PORTLS_EINVAL, "--max-send-fragment: %zu refused", s->max_send_fragment);
  if (s->mode == MODE_WELCOME) portls_socket_write(sock, "welcome!\n", 9);
  if (s->stopping) portls_socket_destroy(sock, NULL);
}

static void on_client_error(portls_server *server, const portls_error *err, portls_socket *sock,
                            void *user) {
  (void)server;
  (void)sock;
  (void)user;
  jw *w = ev_begin("clientError");
  jw_kstring(w, "code", portls_err_name(err->code));
  jw_kstring(w, "message", err->message[0] ? err->message : portls_strerror(err->code));
  ev_end(w);
}

static void on_server_close(portls_server *server, void *user) {
  (void)server;
  serve *s = user;
  s->server = NULL;
  if (s->timer) {
    portls_timer_free(s->timer);
    s->timer = NULL;
  }
  serve_hooks_free(s->hooks);
  s->hooks = NULL;
}

/* A failed accept (EMFILE at the descriptor limit, ...): the server keeps
 * listening and its connections, and accepts again when it can. */
static void on_server_error(portls_server *server, const portls_error *err, void *user) {
  (void)server, (void)user;
  ev_error_from(err);
}

/* As servers do: the soft limit on open descriptors (often 1024) up to the
 * hard one, so that the connections a server can hold are the system's
 * limit rather than a shell default. */
static void raise_nofile_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == rl.rlim_max) return;
  rlim_t soft = rl.rlim_cur;
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) == 0) return;
#ifdef OPEN_MAX
  /* macOS refuses more than OPEN_MAX under an unlimited hard limit. */
  if (soft < OPEN_MAX) {
    rl.rlim_cur = OPEN_MAX;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
#else
  (void)soft;
#endif
}

/* tls.Server 'keylog': --keylog's file gets every connection's lines. */
static void on_server_keylog(portls_server *server, portls_socket *sock, const void *line,
                             size_t len, void *user) {
  (void)server, (void)sock, (void)user;
  cli_keylog_write(line, len);
}

/* ---- the command ---- */

static int serve_run(serve *s, const cli_opts *o, portls_server_options *so) {
  portls_error err = {0, ""};
  raise_nofile_limit();
  int rc = portls_loop_new(&s->loop);
  if (rc < 0) {
    ev_error(rc, "cannot create the event loop");
    return CLI_EXIT_FAIL;
  }
  int usage = serve_hooks_new(o, s->loop, so, &s->hooks);
  if (usage) {
    portls_loop_free(s->loop);
    return usage;
  }
  rc = portls_tls_create_server(s->loop, so, &s->server, &err);
  if (rc < 0) {
    /* a context or option error: nothing touched the network yet */
    ev_error(err.code ? err.code : rc, err.message);
    serve_hooks_free(s->hooks);
    portls_loop_free(s->loop);
    return CLI_EXIT_USAGE;
  }
  if ((usage = serve_hooks_add_contexts(s->hooks, s->server, o)) != 0) {
    s->failed = 1;
    portls_server_close(s->server); /* its 'close' frees the hooks */
    portls_loop_run(s->loop);
    portls_loop_free(s->loop);
    return usage;
  }
  if (cli_has(o, OPT_MAX_CONNECTIONS))
    portls_server_set_max_connections(s->server, (size_t)cli_num(o, OPT_MAX_CONNECTIONS, 0));

  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = on_hup;
  sigaction(SIGHUP, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  rc = portls_timer_new(s->loop, on_tick, s, &s->timer);
  if (rc == 0) rc = portls_timer_start(s->timer, TICK_MS, TICK_MS);
  if (rc < 0) {
    ev_error(rc, "cannot start the signal timer");
    s->failed = 1;
    serve_stop(s);
  } else {
    uint16_t port = (uint16_t)cli_num(o, OPT_PORT, 0);
    rc = portls_server_listen(s->server, s->host, port, 511, &err);
    if (rc < 0) {
      ev_error(err.code ? err.code : rc, err.message);
      s->failed = 1;
      serve_stop(s);
    }
  }

  rc = portls_loop_run(s->loop);
  if (rc < 0) {
    ev_error(rc, "event loop failed");
    s->failed = 1;
  }
  /* After the grace period objects may remain (EBUSY); the process exits anyway. */
  if (s->server == NULL) {
    serve_hooks_free(s->hooks);
    portls_loop_free(s->loop);
  } else if (s->workers > 1) {
    /* Workers still serve connections on their threads: leave without
     * running the libraries' exit handlers under them. */
    fflush(stdout);
    _exit(s->failed ? CLI_EXIT_FAIL : CLI_EXIT_OK);
  }
  return s->failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

int cmd_serve(int argc, char **argv) {
  cli_opts o;
  cli_tls t;
  serve s;
  portls_server_options so;
  portls_server_events events = {0};

  memset(&t, 0, sizeof(t));
  memset(&s, 0, sizeof(s));
  pthread_mutex_init(&s.lock, NULL);
  int rc = cli_parse(CLI_SERVE, argc, argv, &o);
  if (rc) goto done;

  portls_server_options_init(&so);
  rc = cli_tls_options(&o, &t, &so.tls.context, &so.tls.alpn_protocols, &so.tls.npn_protocols);
  if (rc == 0) rc = cli_psk_options(&o, &t, &so.tls, 1);
  if (rc == 0 && cli_has(&o, OPT_MAX_SEND_FRAGMENT))
    rc = cli_require_cap("--max-send-fragment", PORTLS_CAP_MAX_SEND_FRAGMENT);
  if (rc == 0) rc = cli_observe_open(&o);
  if (rc) goto done;

  so.tls.request_cert = (int)cli_num(&o, OPT_REQUEST_CERT, 0);
  so.tls.reject_unauthorized = (int)cli_num(&o, OPT_REJECT_UNAUTHORIZED, 0);
  if (cli_has(&o, OPT_HANDSHAKE_TIMEOUT))
    so.tls.handshake_timeout_ms = cli_num(&o, OPT_HANDSHAKE_TIMEOUT, 0);

  events.listening = on_listening;
  events.secure_connection = on_secure_connection;
  events.client_error = on_client_error;
  events.error = on_server_error;
  events.close = on_server_close;
  if (cli_keylog_wanted()) events.keylog = on_server_keylog;
  so.tls.enable_trace = (int)cli_num(&o, OPT_TRACE, 0);
  so.events = &events;
  so.user = &s;
  if (cli_has(&o, OPT_ALPN_CALLBACK)) {
    so.alpn_callback = on_alpn_callback;
    so.alpn_user = &s;
    s.alpn_accepted = &t.alpn_callback;
  }

  if (cli_has(&o, OPT_REST_MIN_CONNECTIONS))
    so.rest_min_connections = (unsigned)cli_num(&o, OPT_REST_MIN_CONNECTIONS, 0);
  s.o = &o;
  if (cli_has(&o, OPT_WORKERS)) {
    s.workers = (unsigned)cli_num(&o, OPT_WORKERS, 1);
    /* The in-memory session store and the OCSP answers are given from the
     * main loop; with workers the requests live on other threads. */
    if (s.workers > 1 && (cli_num(&o, OPT_SESSION_CACHE, 0) || cli_has(&o, OPT_OCSP_RESPONSE) ||
                          cli_has(&o, OPT_SESSION_STORE))) {
      ev_errorf(PORTLS_EINVAL,
                "--workers: cannot be combined with %s, whose answers come from "
                "the main thread (workers resume each other's sessions by ticket)",
                cli_num(&o, OPT_SESSION_CACHE, 0) ? "--session-cache"
                : cli_has(&o, OPT_SESSION_STORE)  ? "--session-store"
                                                  : "--ocsp-response");
      rc = CLI_EXIT_USAGE;
      goto done;
    }
    so.workers = s.workers;
    so.workers_mode = (int)cli_num(&o, OPT_WORKERS_MODE, 0) == 1 ? PORTLS_WORKERS_HANDOFF
                                                                 : PORTLS_WORKERS_REUSEPORT;
  } else if (cli_has(&o, OPT_WORKERS_MODE)) {
    ev_error(PORTLS_EINVAL, "--workers-mode: needs --workers");
    rc = CLI_EXIT_USAGE;
    goto done;
  }
  s.mode = (int)cli_num(&o, OPT_MODE, MODE_ECHO);
  s.max_send_fragment = (size_t)cli_num(&o, OPT_MAX_SEND_FRAGMENT, 0);
  s.host = cli_str(&o, OPT_HOST, "127.0.0.1");
  s.opts = &o;
  rc = serve_run(&s, &o, &so);

done:
  cli_observe_close();
  cli_tls_free(&t);
  cli_opts_free(&o);
  return rc < 0 ? CLI_EXIT_OK : rc;
}
