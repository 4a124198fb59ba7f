/* 'drain' as a busy writer relies on it: Node emits it when the write
 * buffer has emptied (socket.bufferSize is 0 then), not whenever one write
 * to the transport completes.
 *
 * The writer keeps writing megabytes after write() has returned 0 while the
 * peer does not read, so that the transport completes its writes one at a
 * time with more queued behind each; then the peer resumes. At every 'drain'
 * the buffer must be empty, and the peer must get every byte in order. Plain
 * (net) and TLS sockets; every backend and platform runs these. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/harness.h"

#define DR_CHUNK ((size_t)64 * 1024)
#define DR_BURST ((size_t)8 * 1024 * 1024) /* twice what a kernel buffers at most (4 MiB) */
#define DR_BURSTS 2

typedef struct dr_state {
  unsigned char chunk[DR_CHUNK];
  size_t written;
  int zero;        /* write() returned 0 in the current burst */
  int zero_bursts; /* bursts in which it did */
  int drains;
  int drains_with_data;
  size_t worst; /* the largest bufferSize seen at a 'drain' */
  int reader_paused, drain_while_paused;
} dr_state;

/* A byte that depends on its offset at several scales, so that a lost,
 * repeated or reordered chunk shows. */
static unsigned char dr_byte(size_t off) {
  return (unsigned char)(off * 31u ^ off >> 13 ^ off >> 21);
}

/* One burst: DR_BURST bytes in chunks, whatever write() returns. */
static void dr_burst(h_side *s, dr_state *st) {
  st->zero = 0;
  for (size_t done = 0; done < DR_BURST; done += DR_CHUNK) {
    for (size_t i = 0; i < DR_CHUNK; i++) st->chunk[i] = dr_byte(st->written + i);
    int rc = portls_socket_write(s->sock, st->chunk, DR_CHUNK);
    cr_assert_geq(rc, 0, "%s: write: %s", s->name, portls_err_name(rc));
    if (rc == 0) st->zero = 1;
    st->written += DR_CHUNK;
  }
  st->zero_bursts += st->zero;
}

static void dr_writer(h_side *s, h_event ev) {
  dr_state *st = s->t->user;
  if (ev != H_DRAIN) return;
  size_t n = portls_socket_buffer_size(s->sock);
  st->drains++;
  if (st->reader_paused) st->drain_while_paused = 1;
  if (n > 0) st->drains_with_data++;
  if (n > st->worst) st->worst = n;
}

static void dr_reader(h_side *s, h_event ev) {
  dr_state *st = s->t->user;
  if (ev == H_CONNECT || ev == H_SECURE) {
    portls_socket_pause(s->sock);
    st->reader_paused = 1;
  }
}

/* Bursts with the reader paused, then resumed; the first burst cannot fit
 * in the kernel's buffers of a peer that has read nothing yet, so write()
 * returns 0 then and the transport completes its writes with data behind
 * them. Later bursts may fit (the kernel's buffers grow once the peer reads):
 * those expect no 'drain'. */
static void dr_run(h_test *t, h_side *c, dr_state *st, h_event writer_ready) {
  h_run_until(t, c->count[writer_ready] == 1 && t->nconns == 1 && st->reader_paused);
  h_side *r = &t->conn[0];
  for (int b = 0; b < DR_BURSTS; b++) {
    if (!st->reader_paused) {
      portls_socket_pause(r->sock);
      st->reader_paused = 1;
    }
    dr_burst(c, st);
    if (b == 0) {
      cr_assert(st->zero, "write() never returned 0 in %zu bytes to a paused peer", DR_BURST);
      cr_assert_gt(portls_socket_buffer_size(c->sock), 0, "nothing buffered after the burst");
    }
    h_wait(t, 100); /* whatever the kernel takes, the rest waits for the peer */
    st->reader_paused = 0;
    portls_socket_resume(r->sock);
    h_run_until(t, st->drains == st->zero_bursts);
  }
  portls_socket_end(c->sock, NULL, 0);
  h_run_until(t, r->count[H_END] == 1 || r->closed || c->closed);

  cr_assert_eq(st->drains_with_data, 0,
               "%d of %d 'drain' events came with data still buffered (bufferSize up to %zu)",
               st->drains_with_data, st->drains, st->worst);
  cr_assert_eq(st->drains, st->zero_bursts, "one 'drain' per burst that filled the buffer");
  cr_assert_eq(st->drain_while_paused, 0, "'drain' while the peer was paused");
  cr_assert_eq(r->rx_len, st->written, "received %zu of %zu bytes; reader: %s", r->rx_len,
               st->written, r->log);
  for (size_t i = 0; i < r->rx_len; i++)
    if (r->rx[i] != dr_byte(i)) cr_assert_fail("byte %zu differs from the one written", i);
  cr_assert_eq(c->count[H_ERROR], 0, "writer: %s", c->log);
  cr_assert_eq(r->count[H_ERROR], 0, "reader: %s", r->log);
}

/* A writer (client) and a paused reader (the accepted socket), net or TLS. */
static void dr_test(int tls) {
  h_test t;
  static dr_state st;
  memset(&st, 0, sizeof st);
  h_init(&t);
  t.user = &st;
  t.srv.conn_hook = dr_reader;
  h_side *c;
  if (tls) {
    portls_server_options so;
    portls_server_options_init(&so);
    h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
    h_listen_tls(&t, &so);
    portls_connect_options co;
    portls_connect_options_init(&co);
    h_context_options(&t, &co.tls.context, NULL, NULL, "ca.crt");
    co.host = "127.0.0.1";
    co.tls.servername = "localhost";
    c = h_connect_tls(&t, &co);
  } else {
    h_listen_net(&t, NULL);
    portls_net_connect_options o;
    portls_net_connect_options_init(&o);
    o.host = "127.0.0.1";
    c = h_connect_net(&t, &o);
  }
  c->hook = dr_writer;
  dr_run(&t, c, &st, tls ? H_SECURE : H_CONNECT);
  h_finish(&t);
}

Test(drain, net_drain_comes_only_with_an_empty_buffer_while_a_writer_keeps_writing) { dr_test(0); }

Test(drain, tls_drain_comes_only_with_an_empty_buffer_while_a_writer_keeps_writing) { dr_test(1); }
