/* portls command-line tool: `connect`, a TLS client (docs/cli.md). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define STDIN_TICK_MS 10
#define STDIN_BUSY_MS 100
#define STDIN_CHUNK 65536
#define STDIN_READS_PER_TICK 16

typedef struct client {
  const cli_opts *o;
  portls_loop *loop;
  portls_socket *sock;
  portls_timer *stdin_timer; /* --stdin: polls fd 0 */
  int secured;               /* 'secureConnect' was reached */
  int had_error;
  int ended; /* we called portls_socket_end() */
  int closed;
  int stdin_waiting;        /* a write returned 0: wait for 'drain' */
  uint64_t stdin_last_data; /* loop time of the last read that returned data */
  /* The start of a UTF-8 sequence cut by the end of a 'data' chunk, kept to
   * be decoded with the next one (Node's setEncoding('utf8') does the same). */
  unsigned char utf8_tail[4];
  size_t utf8_tail_len;
  uint64_t renegotiations; /* --renegotiate: how many remain */
  int sessions;            /* 'session' events so far */
  int peer_ended;
  portls_timer *session_timer; /* --session-out on TLS 1.3: the end waits for a ticket */
  const void *end_data;
  size_t end_len;
} client;

static int session_wait_start(client *c, const void *data, size_t len);

static void client_end(client *c, const void *data, size_t len) {
  if (c->ended || c->closed) return;
  c->ended = 1;
  if (session_wait_start(c, data, len)) return;
  portls_socket_end(c->sock, data, len);
}

#define SESSION_WAIT_MS 1000

static void stop_session_wait(client *c) {
  if (c->session_timer) {
    portls_timer_free(c->session_timer);
    c->session_timer = NULL;
  }
}

/* The ticket came, or it is late: end now. */
static void end_after_session(client *c) {
  if (c->session_timer == NULL) return;
  stop_session_wait(c);
  portls_socket_end(c->sock, c->end_data, c->end_len);
}

static void on_session_wait(portls_timer *timer, void *user) {
  (void)timer;
  end_after_session(user);
}

static void stop_stdin(client *c) {
  if (c->stdin_timer) {
    portls_timer_free(c->stdin_timer);
    c->stdin_timer = NULL;
  }
}

/* ---- --stdin: standard input to the socket ---- */

static void on_stdin_tick(portls_timer *timer, void *user) {
  client *c = user;
  static char buf[STDIN_CHUNK];
  int got = 0;
  for (int i = 0; i < STDIN_READS_PER_TICK && !c->stdin_waiting; i++) {
    struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
    if (poll(&p, 1, 0) <= 0) break; /* nothing to read yet (or EINTR: next tick) */
    ssize_t n = (p.revents & POLLNVAL) ? 0 : read(STDIN_FILENO, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) break;
    if (n <= 0) {
      if (n < 0) fprintf(stderr, "portls: reading stdin: %s\n", strerror(errno));
      stop_stdin(c);
      client_end(c, NULL, 0);
      return;
    }
    got = 1;
    int rc = portls_socket_write(c->sock, buf, (size_t)n);
    if (rc < 0) {
      stop_stdin(c);
      return;
    }
    if (rc == 0) c->stdin_waiting = 1;
  }
  /* Standard input cannot wake the loop (the public API watches no file
   * descriptors), so poll it: on the next iteration while data keeps coming,
   * every millisecond shortly after (a pipe refills between reads), and every
   * STDIN_TICK_MS when idle. */
  uint64_t now = portls_loop_now(c->loop);
  uint64_t delay = STDIN_TICK_MS;
  if (got) c->stdin_last_data = now;
  if (got && !c->stdin_waiting)
    delay = 0;
  else if (now - c->stdin_last_data < STDIN_BUSY_MS)
    delay = 1;
  portls_timer_start(timer, delay, STDIN_TICK_MS);
}

/* ---- after secureConnect: send, then end or pipe stdin ---- */

static void send_and_end(client *c) {
  const cli_opts *o = c->o;
  const void *data = NULL;
  size_t len = 0;
  if (cli_has(o, OPT_SEND)) {
    data = cli_str(o, OPT_SEND, "");
    len = strlen(data);
  } else if (cli_has(o, OPT_SEND_FILE)) {
    data = o->v[OPT_SEND_FILE].file[0].base;
    len = o->v[OPT_SEND_FILE].file[0].len;
  }
  if (!cli_num(o, OPT_STDIN, 0)) {
    client_end(c, data, len);
    return;
  }
  if (len) portls_socket_write(c->sock, data, len);
  int rc = portls_timer_new(c->loop, on_stdin_tick, c, &c->stdin_timer);
  if (rc == 0) rc = portls_timer_start(c->stdin_timer, 0, STDIN_TICK_MS);
  if (rc < 0) {
    ev_error(rc, "cannot start the stdin timer");
    c->had_error = 1;
    stop_stdin(c);
    client_end(c, NULL, 0);
  }
}

/* --session-out on TLS 1.3: the session to save is a ticket that comes
 * after the handshake, and a client that has already sent its close_notify
 * may not take it (BoringSSL drops it), so the end waits for the first
 * 'session' event, at most SESSION_WAIT_MS. Returns 1 when waiting. */
static int session_wait_start(client *c, const void *data, size_t len) {
  const char *proto = portls_socket_get_protocol(c->sock);
  if (!cli_has(c->o, OPT_SESSION_OUT) || c->sessions > 0 || c->peer_ended || proto == NULL ||
      strcmp(proto, "TLSv1.3") != 0)
    return 0;
  if (portls_timer_new(c->loop, on_session_wait, c, &c->session_timer) < 0) return 0;
  if (portls_timer_start(c->session_timer, SESSION_WAIT_MS, 0) < 0) {
    stop_session_wait(c);
    return 0;
  }
  c->end_data = data;
  c->end_len = len;
  return 1;
}

/* ---- socket events ---- */

static void save_session(client *c, const void *data, size_t len) {
  const char *path = cli_str(c->o, OPT_SESSION_OUT, NULL);
  if (path == NULL) return;
  FILE *f = fopen(path, "wb");
  int ok = f != NULL && fwrite(data, 1, len, f) == len;
  if (f != NULL && fclose(f) != 0) ok = 0;
  if (!ok) {
    ev_errorf(PORTLS_EIO, "--session-out: cannot write '%s': %s", path, strerror(errno));
    c->had_error = 1;
  }
}

/* --renegotiate N: one after the other, then on as without it. */
static void renegotiate_next(client *c);

static void on_renegotiated(portls_socket *sock, const portls_error *err, void *user) {
  (void)sock;
  client *c = user;
  jw *w = ev_begin("renegotiated");
  jw_kbool(w, "ok", err == NULL);
  jw_kstring(w, "code", err ? portls_err_name(err->code) : NULL);
  ev_end(w);
  if (err != NULL) {
    c->had_error = 1;
    c->renegotiations = 0;
    /* Refused (TLS 1.3, a backend that cannot): carry on; the connection failed: stop. */
    if (err->code != PORTLS_ERENEG_DISABLED) return;
  }
  renegotiate_next(c);
}

static void renegotiate_next(client *c) {
  if (c->renegotiations == 0) {
    send_and_end(c);
    return;
  }
  c->renegotiations--;
  int rc = portls_socket_renegotiate(c->sock, NULL, on_renegotiated, c);
  if (rc < 0) {
    portls_error e = {rc, ""};
    on_renegotiated(c->sock, &e, c);
  }
}

static void on_secure_connect(portls_socket *sock, void *user) {
  client *c = user;
  c->secured = 1;
  ev_secure("secureConnect", sock, 1);
  ev_keying_material(sock, c->o);

  /* TLS 1.2 sessions are ready now; a later 'session' event (TLS 1.3
   * tickets) overwrites the file with the newer one. */
  portls_buf session;
  if (cli_has(c->o, OPT_SESSION_OUT) && portls_socket_get_session(sock, &session) == 0) {
    save_session(c, session.base, session.len);
    portls_free((void *)session.base);
  }
  size_t fragment = (size_t)cli_num(c->o, OPT_MAX_SEND_FRAGMENT, 0);
  if (fragment && portls_socket_set_max_send_fragment(sock, fragment) != 1)
    ev_errorf(PORTLS_EINVAL, "--max-send-fragment: %zu refused", fragment);
  c->renegotiations = cli_num(c->o, OPT_RENEGOTIATE, 0);
  renegotiate_next(c);
}

static void on_data(portls_socket *sock, const void *data, size_t len, void *user) {
  (void)sock;
  client *c = user;
  size_t total = c->utf8_tail_len + len;
  unsigned char *text = malloc(total ? total : 1);
  if (text == NULL) {
    fputs("portls: out of memory\n", stderr);
    exit(CLI_EXIT_FAIL);
  }
  memcpy(text, c->utf8_tail, c->utf8_tail_len);
  memcpy(text + c->utf8_tail_len, data, len);
  size_t keep = utf8_incomplete_tail(text, total);

  jw *w = ev_begin("data");
  jw_kint(w, "bytes", (long long)len);
  jw_key(w, "text");
  jw_string_n(w, text, total - keep);
  ev_end(w);

  memcpy(c->utf8_tail, text + total - keep, keep);
  c->utf8_tail_len = keep;
  free(text);
}

static void flush_utf8_tail(client *c) {
  if (c->utf8_tail_len == 0) return;
  jw *w = ev_begin("data");
  jw_kint(w, "bytes", 0); /* counted in the chunk it arrived with */
  jw_key(w, "text");
  jw_string_n(w, c->utf8_tail, c->utf8_tail_len);
  ev_end(w);
  c->utf8_tail_len = 0;
}

static void on_end(portls_socket *sock, void *user) {
  (void)sock;
  client *c = user;
  flush_utf8_tail(c);
  ev_end(ev_begin("end"));
  c->peer_ended = 1;
  /* Node's default (allowHalfOpen false): the peer ended, so do we. */
  stop_stdin(c);
  client_end(c, NULL, 0);
}

static void on_drain(portls_socket *sock, void *user) {
  (void)sock;
  client *c = user;
  c->stdin_waiting = 0;
  /* Read on at once rather than at the next tick, or a fast input would be
   * limited to one chunk per tick. */
  if (c->stdin_timer) on_stdin_tick(c->stdin_timer, c);
}

static void on_error(portls_socket *sock, const portls_error *err, void *user) {
  (void)sock;
  client *c = user;
  c->had_error = 1;
  ev_error_from(err);
}

static void on_close(portls_socket *sock, int had_error, void *user) {
  (void)sock;
  client *c = user;
  flush_utf8_tail(c);
  c->closed = 1;
  if (had_error) c->had_error = 1;
  stop_stdin(c);
  stop_session_wait(c);
  ev_close(had_error);
}

static void on_ocsp_response(portls_socket *sock, const void *response, size_t len, void *user) {
  (void)sock;
  (void)user;
  jw *w = ev_begin("OCSPResponse");
  jw_key(w, "length");
  if (response)
    jw_int(w, (long long)len);
  else
    jw_null(w);
  ev_end(w);
}

static void on_session(portls_socket *sock, const void *session, size_t len, void *user) {
  (void)sock;
  client *c = user;
  c->sessions++;
  jw *w = ev_begin("session");
  jw_kint(w, "length", (long long)len);
  ev_end(w);
  save_session(c, session, len);
  end_after_session(c);
}

/* 'keylog': --keylog's file gets the connection's lines. */
static void on_keylog(portls_socket *sock, const void *line, size_t len, void *user) {
  (void)sock, (void)user;
  cli_keylog_write(line, len);
}

/* ---- the command ---- */

static int check_connect_options(const cli_opts *o) {
  if (!cli_has(o, OPT_PORT) && !cli_has(o, OPT_PATH)) {
    ev_error(PORTLS_EINVAL, "connect needs --port or --path");
    return CLI_EXIT_USAGE;
  }
  if (cli_has(o, OPT_SEND) && cli_has(o, OPT_SEND_FILE)) {
    ev_error(PORTLS_EINVAL, "--send and --send-file exclude each other");
    return CLI_EXIT_USAGE;
  }
  if (cli_has(o, OPT_MAX_SEND_FRAGMENT))
    return cli_require_cap("--max-send-fragment", PORTLS_CAP_MAX_SEND_FRAGMENT);
  return 0;
}

int cmd_connect(int argc, char **argv) {
  cli_opts o;
  cli_tls t;
  client c;
  portls_connect_options co;
  portls_socket_events events = {0};
  portls_error err = {0, ""};

  memset(&t, 0, sizeof(t));
  memset(&c, 0, sizeof(c));
  int rc = cli_parse(CLI_CONNECT, argc, argv, &o);
  if (rc == 0) rc = check_connect_options(&o);
  if (rc == 0) rc = cli_observe_open(&o);
  if (rc) goto done;

  portls_connect_options_init(&co);
  rc = cli_tls_options(&o, &t, &co.tls.context, &co.tls.alpn_protocols, &co.tls.npn_protocols);
  if (rc == 0) rc = cli_psk_options(&o, &t, &co.tls, 0);
  if (rc) goto done;
  co.host = cli_str(&o, OPT_HOST, "localhost");
  co.port = (uint16_t)cli_num(&o, OPT_PORT, 0);
  co.path = cli_str(&o, OPT_PATH, NULL);
  co.tls.servername = cli_str(&o, OPT_SERVERNAME, co.tls.servername);
  co.tls.reject_unauthorized = (int)cli_num(&o, OPT_REJECT_UNAUTHORIZED, 1);
  co.tls.request_ocsp = (int)cli_num(&o, OPT_REQUEST_OCSP, 0);
  if (cli_has(&o, OPT_MIN_DH_SIZE)) co.tls.min_dh_size = (int)cli_num(&o, OPT_MIN_DH_SIZE, 0);
  if (cli_has(&o, OPT_SESSION_IN)) co.tls.session = o.v[OPT_SESSION_IN].file[0];
  co.timeout_ms = cli_num(&o, OPT_TIMEOUT, 0);

  events.secure_connect = on_secure_connect;
  events.data = on_data;
  events.end = on_end;
  events.drain = on_drain;
  events.error = on_error;
  events.close = on_close;
  events.ocsp_response = on_ocsp_response;
  events.session = on_session;
  if (cli_keylog_wanted()) events.keylog = on_keylog;
  co.tls.enable_trace = (int)cli_num(&o, OPT_TRACE, 0);
  co.events = &events;
  co.user = &c;

  c.o = &o;
  signal(SIGPIPE, SIG_IGN);

  rc = portls_loop_new(&c.loop);
  if (rc < 0) {
    ev_error(rc, "cannot create the event loop");
    rc = CLI_EXIT_FAIL;
    goto done;
  }
  rc = portls_tls_connect(c.loop, &co, &c.sock, &err);
  if (rc < 0) {
    /* a context or option error: no callback follows, nothing was sent */
    ev_error(err.code ? err.code : rc, err.message);
    portls_loop_free(c.loop);
    rc = CLI_EXIT_USAGE;
    goto done;
  }
  rc = portls_loop_run(c.loop);
  if (rc < 0) {
    ev_error(rc, "event loop failed");
    c.had_error = 1;
  }
  portls_loop_free(c.loop);
  rc = c.secured && c.closed && !c.had_error ? CLI_EXIT_OK : CLI_EXIT_FAIL;

done:
  cli_observe_close();
  cli_tls_free(&t);
  cli_opts_free(&o);
  return rc < 0 ? CLI_EXIT_OK : rc;
}
