/* portls command-line tool: `serve`, a TLS server (docs/cli.md). */
#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

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
};

/* Set by the signal handler, read by a timer on the loop: the handler itself
 * must not touch the library. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

/* Stops accepting and destroys every established connection. The server's
 * 'close' then frees the timer, the loop runs out of objects and
 * portls_loop_run() returns. */
static void serve_stop(serve *s) {
  if (s->stopping) return;
  s->stopping = 1;
  portls_server_close(s->server);
  for (conn *c = s->conns; c; c = c->next) portls_socket_destroy(c->sock, NULL);
}

#define TICK_MS 100
#define STOP_GRACE_TICKS 20

static void on_tick(portls_timer *timer, void *user) {
  (void)timer;
  serve *s = user;
  if (!s->stopping) {
    if (stop_requested) serve_stop(s);
    return;
  }
  /* Handshakes still in flight are not established connections, so they are
   * not in our list, and they keep the server open until they finish or time
   * out. Once our own connections are gone (or after a grace period) stop
   * waiting for them. */
  if (s->conns == NULL || ++s->stop_ticks >= STOP_GRACE_TICKS) portls_loop_stop(s->loop);
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
  if (c->prev)
    c->prev->next = c->next;
  else
    c->srv->conns = c->next;
  if (c->next) c->next->prev = c->prev;
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

static void on_secure_connection(portls_server *server, portls_socket *sock, void *user) {
  (void)server;
  serve *s = user;
  ev_secure("secureConnection", sock, 0);

  conn *c = calloc(1, sizeof(*c));
  if (c == NULL) {
    portls_socket_destroy(sock, NULL);
    return;
  }
  c->srv = s;
  c->sock = sock;
  c->next = s->conns;
  if (s->conns) s->conns->prev = c;
  s->conns = c;

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
  int rc = cli_parse(CLI_SERVE, argc, argv, &o);
  if (rc) goto done;

  portls_server_options_init(&so);
  rc = cli_tls_options(&o, &t, &so.tls.context, &so.tls.alpn_protocols, &so.tls.npn_protocols);
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

  s.mode = (int)cli_num(&o, OPT_MODE, MODE_ECHO);
  s.max_send_fragment = (size_t)cli_num(&o, OPT_MAX_SEND_FRAGMENT, 0);
  s.host = cli_str(&o, OPT_HOST, "127.0.0.1");
  rc = serve_run(&s, &o, &so);

done:
  cli_observe_close();
  cli_tls_free(&t);
  cli_opts_free(&o);
  return rc < 0 ? CLI_EXIT_OK : rc;
}
