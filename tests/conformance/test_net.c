/* Plain net sockets and servers: Node's net.Socket / net.Server semantics
 * over loopback, one process (tests/common/harness.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/harness.h"

static portls_net_connect_options client_options(void) {
  portls_net_connect_options o;
  portls_net_connect_options_init(&o);
  o.host = "127.0.0.1";
  return o;
}

static void write_text(h_side *s, const char *text) {
  int rc = portls_socket_write(s->sock, text, strlen(text));
  cr_expect_geq(rc, 0, "%s: write: %s", s->name, portls_err_name(rc));
}

static void end_on(h_side *s, h_event ev, h_event when) {
  if (ev == when) portls_socket_end(s->sock, NULL, 0);
}

/* ---- listen and connect ---- */

Test(net_server, listen_on_port_0_gives_a_real_port_and_emits_listening) {
  h_test t;
  h_init(&t);
  uint16_t port = h_listen_net(&t, NULL);
  cr_assert_gt(port, 0);
  portls_address a;
  cr_assert_eq(portls_server_address(t.srv.srv, &a), 0);
  cr_assert_str_eq(a.address, "127.0.0.1");
  cr_assert_str_eq(a.family, "IPv4");
  cr_assert_eq(a.port, port);
  cr_assert_eq(t.srv.listening, 0, "'listening' must come from the loop, not from listen()");
  h_run_until(&t, t.srv.listening > 0);
  cr_assert_str_eq(t.srv.log, "listening");
  h_finish(&t);
}

Test(net_server, address_is_ESERVER_NOT_RUNNING_after_close) {
  h_test t;
  h_init(&t);
  h_listen_net(&t, NULL);
  portls_server *srv = t.srv.srv;
  portls_server_close(srv);
  portls_address a;
  cr_assert_eq(portls_server_address(srv, &a), PORTLS_ESERVER_NOT_RUNNING);
  h_run_until(&t, t.srv.closed);
  cr_assert_str_eq(t.srv.log, "close", "no 'listening' after close(), got: %s", t.srv.log);
  h_finish(&t);
}

static void client_ends_on_connect(h_side *s, h_event ev) { end_on(s, ev, H_CONNECT); }

Test(net_socket, client_gets_connect_and_server_gets_connection) {
  h_test t;
  h_init(&t);
  h_listen_net(&t, NULL);
  portls_net_connect_options o = client_options();
  h_side *c = h_connect_net(&t, &o);
  c->hook = client_ends_on_connect;
  cr_assert_eq(c->count[H_CONNECT], 0, "'connect' must not run inside portls_net_connect()");
  h_run_all_closed(&t);
  cr_assert_eq(c->count[H_CONNECT], 1);
  cr_assert_eq(t.srv.connections, 1);
  cr_assert_eq(t.nconns, 1);
  cr_assert_eq(portls_socket_encrypted(t.conn[0].sock), 0);
  h_finish(&t);
}

typedef struct addr_pair {
  portls_address local, remote;
  int local_rc, remote_rc;
} addr_pair;

typedef struct addrs_state {
  addr_pair client, conn;
} addrs_state;

static void record_addresses(h_side *s, addr_pair *p) {
  p->local_rc = portls_socket_address(s->sock, &p->local);
  p->remote_rc = portls_socket_remote_address(s->sock, &p->remote);
}

static void addrs_client(h_side *s, h_event ev) {
  addrs_state *st = s->t->user;
  if (ev == H_CONNECT) record_addresses(s, &st->client);
}

static void addrs_conn(h_side *s, h_event ev) {
  addrs_state *st = s->t->user;
  if (ev == H_CONNECT) {
    record_addresses(s, &st->conn);
    portls_socket_end(s->sock, NULL, 0);
  }
}

Test(net_socket, local_and_remote_addresses_agree_on_both_sides) {
  h_test t;
  addrs_state st;
  memset(&st, 0, sizeof st);
  h_init(&t);
  t.user = &st;
  t.srv.conn_hook = addrs_conn;
  uint16_t port = h_listen_net(&t, NULL);
  portls_net_connect_options o = client_options();
  h_side *c = h_connect_net(&t, &o);
  portls_address early;
  cr_assert_eq(portls_socket_address(c->sock, &early), PORTLS_ENOTCONN,
               "address() before 'connect' is ENOTCONN");
  c->hook = addrs_client;
  h_run_all_closed(&t);
  cr_assert_eq(st.client.local_rc, 0);
  cr_assert_eq(st.client.remote_rc, 0);
  cr_assert_eq(st.conn.local_rc, 0);
  cr_assert_eq(st.conn.remote_rc, 0);
  cr_assert_str_eq(st.client.local.family, "IPv4");
  cr_assert_str_eq(st.client.remote.family, "IPv4");
  cr_assert_str_eq(st.conn.local.family, "IPv4");
  cr_assert_str_eq(st.conn.remote.family, "IPv4");
  cr_assert_str_eq(st.client.remote.address, "127.0.0.1");
  cr_assert_str_eq(st.conn.local.address, "127.0.0.1");
  cr_assert_eq(st.client.remote.port, port);
  cr_assert_eq(st.conn.local.port, port);
  cr_assert_gt(st.client.local.port, 0);
  cr_assert_eq(st.client.local.port, st.conn.remote.port, "client local port %d, server sees %d",
               st.client.local.port, st.conn.remote.port);
  cr_assert_str_eq(st.client.local.address, st.conn.remote.address);
  h_finish(&t);
}

/* ---- data ---- */

static void ping_client(h_side *s, h_event ev) {
  if (ev == H_CONNECT) write_text(s, "ping");
}

static void pong_conn(h_side *s, h_event ev) {
  if (ev == H_DATA && s->rx_len == 4) {
    cr_expect_str_eq((char *)s->rx, "ping");
    portls_socket_end(s->sock, "pong", 4);
  }
}

Test(net_socket, data_flows_both_ways_and_counters_follow) {
  h_test t;
  h_init(&t);
  t.srv.conn_hook = pong_conn;
  h_listen_net(&t, NULL);
  portls_net_connect_options o = client_options();
  h_side *c = h_connect_net(&t, &o);
  c->hook = ping_client;
  h_run_until(&t, c->rx_len == 4);
  cr_assert_str_eq((char *)c->rx, "pong");
  cr_assert_eq(portls_socket_bytes_written(c->sock), 4);
  cr_assert_eq(portls_socket_bytes_read(c->sock), 4);
  cr_assert_eq(portls_socket_transport_bytes_written(c->sock), 4, "no overhead on a plain socket");
  h_run_all_closed(&t);
  cr_assert_str_eq((char *)t.conn[0].rx, "ping");
  cr_assert_str_eq(c->log, "connect data end close(0)");
  cr_assert_str_eq(t.conn[0].log, "connection data end close(0)");
  h_finish(&t);
}

/* ---- backpressure ---- */

#define BP_CHUNK (64 * 1024)
#define BP_LIMIT ((size_t)256 * 1024 * 1024)

typedef struct bp_state {
  unsigned char chunk[BP_CHUNK];
  size_t written;
  int saw_zero;
  int resumed;
  int drain_before_resume;
  int write_rc_after_zero;
} bp_state;

static void fill_pattern(unsigned char *p, size_t n, size_t offset) {
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)((offset + i) % 251);
}

static int pattern_ok(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != (unsigned char)(i % 251)) return 0;
  return 1;
}

/* Writes until write() says "wait for drain" (the peer does not read). */
static void bp_write_until_full(h_side *s) {
  bp_state *st = s->t->user;
  while (st->written < BP_LIMIT) {
    fill_pattern(st->chunk, BP_CHUNK, st->written);
    int rc = portls_socket_write(s->sock, st->chunk, BP_CHUNK);
    cr_expect_geq(rc, 0, "write: %s", portls_err_name(rc));
    if (rc < 0) return;
    st->written += BP_CHUNK;
    if (rc == 0) {
      st->saw_zero = 1;
      cr_expect_geq(portls_socket_buffer_size(s->sock), 1024,
                    "write() returned 0 with bufferSize %zu below the mark",
                    portls_socket_buffer_size(s->sock));
      return;
    }
  }
}

static void bp_client(h_side *s, h_event ev) {
  bp_state *st = s->t->user;
  if (ev == H_CONNECT || ev == H_SECURE) {
    if (portls_socket_encrypted(s->sock) == (ev == H_SECURE)) bp_write_until_full(s);
  }
  if (ev == H_DRAIN) {
    if (!st->resumed) st->drain_before_resume = 1;
    cr_expect_eq(portls_socket_buffer_size(s->sock), 0, "'drain' with bufferSize %zu",
                 portls_socket_buffer_size(s->sock));
    portls_socket_end(s->sock, NULL, 0);
  }
}

static void bp_conn(h_side *s, h_event ev) {
  if (ev == H_CONNECT || ev == H_SECURE) portls_socket_pause(s->sock);
}

Test(net_socket, write_returns_0_above_high_water_mark_and_drain_follows_when_peer_resumes) {
  h_test t;
  static bp_state st;
  memset(&st, 0, sizeof st);
  h_init(&t);
  t.user = &st;
  t.srv.conn_hook = bp_conn;
  h_listen_net(&t, NULL);
  portls_net_connect_options o = client_options();
  o.high_water_mark = 1024;
  h_side *c = h_connect_net(&t, &o);
  c->hook = bp_client;
  h_run_until(&t, st.saw_zero && t.nconns == 1);
  h_wait(&t, 100);
  cr_assert_eq(c->count[H_DRAIN], 0, "'drain' while the peer is paused");
  cr_assert_eq(t.conn[0].count[H_DATA], 0, "'data' on a paused socket");
  st.resumed = 1;
  portls_socket_resume(t.conn[0].sock);
  h_run_all_closed(&t);
  cr_assert_eq(c->count[H_DRAIN], 1);
  cr_assert_eq(st.drain_before_resume, 0);
  cr_assert_eq(t.conn[0].rx_len, st.written, "received %zu of %zu bytes", t.conn[0].rx_len,
               st.written);
  cr_assert(pattern_ok(t.conn[0].rx, t.conn[0].rx_len), "received bytes differ from those written");
  cr_assert_eq(c->had_error, 0);
  h_finish(&t);
}

/* ---- end, destroy ---- */

Test(net_socket, end_half_closes_and_the_peer_ends_too_without_allow_half_open) {
  h_test t;
  h_init(&t);
  h_listen_net(&t, NULL);
  portls_net_connect_options o = client_options();
  h_side *c = h_connect_net(&t, &o);
  c->hook = client_ends_on_connect;
  h_run_all_closed(&t);
  cr_assert_str_eq(c->log, "connect end close(0)");
  cr_assert_str_eq(t.conn[0].log, "connection end close(0)");
  h_finish(&t);
}

static void destroy_with_error_on_connect(h_side *s, h_event ev) {
  if (ev == H_CONNECT) {
    portls_error err = {.code = PORTLS_ECANCELED};
    snprintf(err.message, sizeof err.message, "test: giving up");
    portls_socket_destroy(s->sock, &err);
    cr_expect_eq(s->count[H_ERROR] + s->count[H_CLOSE], 0, "destroy() emitted synchronously");
  }
}

Test(net_socket, destroy_with_an_error_emits_error_then_close_with_had_error) {
  h_test t;
  h_init(&t);
  h_listen_net(&t, NULL);
  portls_net_connect_options o = client_options();
  h_side *c = h_connect_net(&t, &o);
  c->hook = destroy_with_error_on_connect;
  h_run_all_closed(&t);
  cr_assert_str_eq(c->log, "connect error(ECANCELED) close(1)");
  cr_assert_eq(c->err.code, PORTLS_ECANCELED);
  cr_assert_str_eq(c->err.message, "test: giving up");
  cr_assert_eq(c->had_error, 1);
  h_finish(&t);
}

static void destroy_on_connect(h_side *s, h_event ev) {
  if (ev == H_CONNECT) portls_socket_destroy(s->sock, NULL);
}

Test(net_socket, destroy_without_an_error_emits_only_close_0) {
  h_test t;
  h_init(&t);
  h_listen_net(&t, NULL);
  portls_net_connect_options o = client_options();
  h_side *c = h_connect_net(&t, &o);
  c->hook = destroy_on_connect;
  h_run_all_closed(&t);
  cr_assert_str_eq(c->log, "connect close(0)");
  cr_assert_eq(c->count[H_ERROR], 0);
  h_finish(&t);
}

static void write_after_destroy(h_side *s, h_event ev) {
  if (ev == H_CONNECT) {
    portls_socket_destroy(s->sock, NULL);
    int rc = portls_socket_write(s->sock, "x", 1);
    cr_expect_eq(rc, PORTLS_ESTREAM_DESTROYED, "write after destroy: %s", portls_err_name(rc));
    s->ctx = (void *)1;
  }
}

Test(net_socket, write_after_destroy_fails_with_ESTREAM_DESTROYED) {
  h_test t;
  h_init(&t);
  h_listen_net(&t, NULL);
  portls_net_connect_options o = client_options();
  h_side *c = h_connect_net(&t, &o);
  c->hook = write_after_destroy;
  h_run_all_closed(&t);
  cr_assert_not_null(c->ctx);
  cr_assert_str_eq(c->log, "connect close(0)");
  h_finish(&t);
}

static void write_after_end(h_side *s, h_event ev) {
  if (ev == H_CONNECT) {
    cr_expect_eq(portls_socket_end(s->sock, "last", 4), 0);
    int rc = portls_socket_write(s->sock, "more", 4);
    cr_expect_eq(rc, PORTLS_EWRITE_AFTER_END, "write after end: %s", portls_err_name(rc));
    s->ctx = (void *)1;
  }
}

Test(net_socket, write_after_end_fails_with_EWRITE_AFTER_END) {
  h_test t;
  h_init(&t);
  h_listen_net(&t, NULL);
  portls_net_connect_options o = client_options();
  h_side *c = h_connect_net(&t, &o);
  c->hook = write_after_end;
  h_run_all_closed(&t);
  cr_assert_not_null(c->ctx, "the hook did not run");
  cr_assert_str_eq((char *)t.conn[0].rx, "last", "only the bytes before end() arrive");
  cr_assert_str_eq(c->log, "connect end close(0)");
  h_finish(&t);
}

/* ---- connect errors ---- */

Test(net_connect, refused_connection_reports_ECONNREFUSED_then_close_1) {
  h_test t;
  h_init(&t);
  uint16_t port = h_listen_net(&t, NULL);
  portls_server_close(t.srv.srv);
  h_run_until(&t, t.srv.closed);
  portls_net_connect_options o = client_options();
  o.port = port;
  h_side *c = h_connect_net(&t, &o);
  h_run_all_closed(&t);
  cr_assert_str_eq(c->log, "error(ECONNREFUSED) close(1)");
  cr_assert_eq(c->err.code, PORTLS_ECONNREFUSED);
  cr_assert(h_contains(c->err.message, "ECONNREFUSED"), "message: %s", c->err.message);
  char where[32];
  snprintf(where, sizeof where, "127.0.0.1:%u", (unsigned)port);
  cr_assert(h_contains(c->err.message, where), "message %s should name %s", c->err.message, where);
  h_finish(&t);
}

Test(net_connect, unknown_host_reports_EAI_NONAME_as_ENOTFOUND) {
  h_test t;
  h_init(&t);
  portls_net_connect_options o = client_options();
  o.host = "nonexistent.invalid";
  o.port = 80;
  h_side *c = h_connect_net(&t, &o);
  h_run_all_closed(&t);
  cr_assert_eq(c->err.code, PORTLS_EAI_NONAME, "got %s: %s", portls_err_name(c->err.code),
               c->err.message);
  cr_assert_str_eq(c->log, "error(ENOTFOUND) close(1)");
  cr_assert(h_contains(c->err.message, "nonexistent.invalid"), "message: %s", c->err.message);
  h_finish(&t);
}

Test(net_connect, missing_port_is_EINVAL_and_no_callback_runs) {
  h_test t;
  h_init(&t);
  portls_net_connect_options o = client_options();
  portls_socket *s = (portls_socket *)&o; /* must be overwritten */
  portls_error err = {0};
  cr_assert_eq(portls_net_connect(t.loop, &o, &s, &err), PORTLS_EINVAL);
  cr_assert_eq(err.code, PORTLS_EINVAL);
  cr_assert_neq(err.message[0], '\0');
  cr_assert_null(s);
  h_finish(&t);
}

/* ---- timeouts ---- */

typedef struct timeout_state {
  uint64_t set_at, fired_at;
  portls_timer *ticker;
  h_side *writer;
  int ticks;
  uint64_t stopped_at;
  int timeouts_when_stopped;
} timeout_state;

static void idle_client(h_side *s, h_event ev) {
  timeout_state *st = s->t->user;
  if (ev == H_CONNECT) {
    st->set_at = portls_loop_now(s->t->loop);
    cr_expect_eq(portls_socket_set_timeout(s->sock, 100), 0);
  }
  if (ev == H_TIMEOUT) {
    st->fired_at = portls_loop_now(s->t->loop);
    portls_socket_destroy(s->sock, NULL);
  }
}

Test(net_timeout, timeout_fires_on_an_idle_socket_and_does_not_close_it) {
  h_test t;
  timeout_state st;
  memset(&st, 0, sizeof st);
  h_init(&t);
  t.user = &st;
  h_listen_net(&t, NULL);
  portls_net_connect_options o = client_options();
  h_side *c = h_connect_net(&t, &o);
  c->hook = idle_client;
  h_run_all_closed(&t);
  cr_assert_str_eq(c->log, "connect timeout close(0)",
                   "'timeout' must not close the socket by itself");
  cr_assert_geq(st.fired_at - st.set_at, 90, "fired after %llu ms",
                (unsigned long long)(st.fired_at - st.set_at));
  h_finish(&t);
}

#define TICK_MS 20
#define TICKS 25
#define IDLE_MS 300

static void tick(portls_timer *timer, void *user) {
  h_test *t = user;
  timeout_state *st = t->user;
  if (++st->ticks <= TICKS) {
    portls_socket_write(st->writer->sock, "t", 1);
    return;
  }
  portls_timer_stop(timer);
  st->stopped_at = portls_loop_now(t->loop);
  st->timeouts_when_stopped = t->client[0].count[H_TIMEOUT];
}

static void busy_client(h_side *s, h_event ev) {
  timeout_state *st = s->t->user;
  if (ev == H_CONNECT) cr_expect_eq(portls_socket_set_timeout(s->sock, IDLE_MS), 0);
  if (ev == H_TIMEOUT) {
    st->fired_at = portls_loop_now(s->t->loop);
    portls_socket_destroy(s->sock, NULL);
  }
}

static void ticking_conn(h_side *s, h_event ev) {
  timeout_state *st = s->t->user;
  if (ev == H_CONNECT) {
    st->writer = s;
    portls_timer_start(st->ticker, TICK_MS, TICK_MS);
  }
}

Test(net_timeout, timeout_does_not_fire_while_data_flows) {
  h_test t;
  timeout_state st;
  memset(&st, 0, sizeof st);
  h_init(&t);
  t.user = &st;
  cr_assert_eq(portls_timer_new(t.loop, tick, &t, &st.ticker), 0);
  t.srv.conn_hook = ticking_conn;
  h_listen_net(&t, NULL);
  portls_net_connect_options o = client_options();
  h_side *c = h_connect_net(&t, &o);
  c->hook = busy_client;
  h_run_all_closed(&t);
  portls_timer_free(st.ticker);
  cr_assert_eq(st.ticks, TICKS + 1, "the writer stopped early");
  cr_assert_eq(st.timeouts_when_stopped, 0, "'timeout' fired while data arrived every %d ms",
               TICK_MS);
  cr_assert_eq(c->count[H_TIMEOUT], 1);
  cr_assert_geq(st.fired_at, st.stopped_at);
  cr_assert_eq(c->rx_len, TICKS);
  h_finish(&t);
}

/* ---- pause / resume ---- */

static void pausing_client(h_side *s, h_event ev) {
  if (ev == H_CONNECT) portls_socket_pause(s->sock);
  if (ev == H_DATA && s->rx_len == 5) portls_socket_end(s->sock, NULL, 0);
}

static void hello_conn(h_side *s, h_event ev) {
  if (ev == H_CONNECT) write_text(s, "hello");
}

Test(net_socket, pause_stops_data_and_resume_restarts_it) {
  h_test t;
  h_init(&t);
  t.srv.conn_hook = hello_conn;
  h_listen_net(&t, NULL);
  portls_net_connect_options o = client_options();
  h_side *c = h_connect_net(&t, &o);
  c->hook = pausing_client;
  h_run_until(&t, t.nconns == 1 && c->count[H_CONNECT] == 1);
  h_wait(&t, 150);
  cr_assert_eq(c->count[H_DATA], 0, "'data' while paused");
  portls_socket_resume(c->sock);
  cr_assert_eq(c->count[H_DATA], 0, "'data' must come from the loop, not from resume()");
  h_run_all_closed(&t);
  cr_assert_str_eq((char *)c->rx, "hello");
  cr_assert_str_eq(c->log, "connect data end close(0)");
  h_finish(&t);
}

/* ---- Unix sockets ---- */

static void unix_client(h_side *s, h_event ev) {
  if (ev == H_CONNECT) portls_socket_end(s->sock, "over unix", 9);
}

static void unix_conn(h_side *s, h_event ev) {
  if (ev == H_DATA && s->rx_len == 9) portls_socket_write(s->sock, s->rx, s->rx_len);
}

Test(net_unix, server_and_client_on_a_unix_socket_exchange_data) {
  char path[108];
  snprintf(path, sizeof path, "/tmp/portls-conformance-%ld.sock", (long)getpid());
  unlink(path);
  h_test t;
  h_init(&t);
  t.srv.conn_hook = unix_conn;
  h_listen_path(&t, path);
  portls_address a;
  cr_assert_eq(portls_server_address(t.srv.srv, &a), 0);
  cr_assert_str_eq(a.address, path);
  cr_assert_eq(access(path, F_OK), 0, "the socket file exists while listening");
  portls_net_connect_options o;
  portls_net_connect_options_init(&o);
  o.path = path;
  h_side *c = h_connect_net(&t, &o);
  c->hook = unix_client;
  h_run_all_closed(&t);
  cr_assert_str_eq((char *)t.conn[0].rx, "over unix");
  cr_assert_str_eq((char *)c->rx, "over unix");
  cr_assert_str_eq(c->log, "connect data end close(0)");
  h_finish(&t);
  cr_assert_neq(access(path, F_OK), 0, "server close should remove %s, as Node does", path);
  unlink(path);
}

/* ---- server.close, connections, maxConnections ---- */

static void close_server_on_connection(h_side *s, h_event ev) {
  if (ev == H_CONNECT) portls_server_close(s->t->srv.srv);
}

Test(net_server, close_emits_close_only_after_existing_connections_end) {
  h_test t;
  h_init(&t);
  t.srv.conn_hook = close_server_on_connection;
  uint16_t port = h_listen_net(&t, NULL);
  portls_net_connect_options o = client_options();
  h_side *c = h_connect_net(&t, &o);
  h_run_until(&t, t.nconns == 1 && c->count[H_CONNECT] == 1);
  h_wait(&t, 100);
  cr_assert_eq(t.srv.closed, 0, "'close' while a connection is open");
  /* The open connection still works. */
  portls_socket_write(c->sock, "still here", 10);
  h_run_until(&t, t.conn[0].rx_len == 10);
  /* New connections are refused. */
  portls_net_connect_options o2 = client_options();
  o2.port = port;
  h_side *late = h_connect_net(&t, &o2);
  h_run_until(&t, late->closed);
  cr_assert_eq(late->err.code, PORTLS_ECONNREFUSED, "%s", late->log);
  cr_assert_eq(t.srv.closed, 0);
  portls_socket_end(c->sock, NULL, 0);
  h_run_until(&t, h_all_closed(&t) && t.srv.closed);
  cr_assert_gt(t.srv.close_seq, t.conn[0].close_seq, "server 'close' before its connection's");
  cr_assert_str_eq(t.srv.log, "listening connection close");
  h_finish(&t);
}

Test(net_server, connections_counts_the_open_connections) {
  h_test t;
  h_init(&t);
  h_listen_net(&t, NULL);
  cr_assert_eq(portls_server_connections(t.srv.srv), 0);
  for (int i = 0; i < 3; i++) {
    portls_net_connect_options o = client_options();
    h_connect_net(&t, &o);
  }
  h_run_until(&t, t.srv.connections == 3);
  cr_assert_eq(portls_server_connections(t.srv.srv), 3);
  portls_socket_destroy(t.conn[1].sock, NULL);
  h_run_until(&t, t.conn[1].closed);
  cr_assert_eq(portls_server_connections(t.srv.srv), 2);
  /* Lookups finish in any order, so conn[1] may belong to any client. */
  for (size_t i = 0; i < t.nclients; i++)
    if (t.client[i].sock != NULL) portls_socket_end(t.client[i].sock, NULL, 0);
  h_run_all_closed(&t);
  cr_assert_eq(portls_server_connections(t.srv.srv), 0);
  h_finish(&t);
}

Test(net_server, max_connections_drops_the_extra_connection) {
  h_test t;
  h_init(&t);
  h_listen_net(&t, NULL);
  portls_server_set_max_connections(t.srv.srv, 1);
  portls_net_connect_options o = client_options();
  h_side *first = h_connect_net(&t, &o);
  h_run_until(&t, t.srv.connections == 1);
  portls_net_connect_options o2 = client_options();
  h_side *extra = h_connect_net(&t, &o2);
  h_run_until(&t, extra->closed);
  cr_assert_eq(extra->count[H_DATA], 0);
  cr_assert(h_contains(extra->log, "close"), "%s", extra->log);
  cr_assert_eq(t.srv.connections, 1, "the extra connection reached 'connection'");
  cr_assert_eq(portls_server_connections(t.srv.srv), 1);
  /* The first one still works. */
  portls_socket_end(first->sock, "ok", 2);
  h_run_all_closed(&t);
  cr_assert_str_eq((char *)t.conn[0].rx, "ok");
  h_finish(&t);
}

static void count_listening(portls_server *srv, void *user) {
  (void)srv;
  ++*(int *)user;
}

/* run_once(block) returns once an event ran, even when that event was a deferred
 * one (a due timer) and no I/O follows. */
Test(net_loop, run_once_returns_after_a_deferred_event) {
  portls_loop *loop;
  cr_assert_eq(portls_loop_new(&loop), 0);
  int fired = 0;
  portls_server_events ev = {.listening = count_listening};
  portls_server_options o;
  portls_server_options_init(&o);
  o.events = &ev;
  o.user = &fired;
  portls_server *srv;
  cr_assert_eq(portls_net_create_server(loop, &o, &srv, NULL), 0);
  cr_assert_eq(portls_server_listen(srv, "127.0.0.1", 0, 0, NULL), 0);
  cr_assert_eq(fired, 0, "'listening' must not run inside listen()");
  for (int i = 0; i < 5 && fired == 0; i++) portls_loop_run_once(loop, 1);
  cr_assert_eq(fired, 1);
  portls_server_close(srv);
  portls_loop_run(loop);
  cr_assert_eq(portls_loop_free(loop), 0);
}
