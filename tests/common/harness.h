/* One-process loopback tests: a loop with a watchdog, servers on 127.0.0.1
 * port 0, clients, and a record of every event each socket saw.
 *
 *   h_test t;
 *   h_init(&t);
 *   portls_server_options so;
 *   portls_server_options_init(&so);
 *   h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
 *   h_listen_tls(&t, &so);
 *   portls_connect_options co;
 *   portls_connect_options_init(&co);
 *   h_context_options(&t, &co.tls.context, NULL, NULL, "ca.crt");
 *   h_side *c = h_connect_tls(&t, &co);
 *   c->hook = my_hook;                      (reacts to events: write, end, ...)
 *   h_run_until(&t, c->closed);
 *   cr_assert_str_eq(c->log, "connect secureConnect end close(0)");
 *   h_finish(&t);
 *
 * Every socket the harness creates or accepts gets an h_side whose `log` lists
 * its events in order, separated by spaces: connect, secureConnect (client) or
 * connection/secureConnection (accepted), data (consecutive ones shown once),
 * end, drain, timeout, error(NAME), close(HAD_ERROR). The server's own events
 * go to t->srv.log: listening, connection, secureConnection, clientError(NAME),
 * error(NAME), close.
 *
 * Nothing can hang: h_run_until() fails the test with the logs when the
 * watchdog (H_WATCHDOG_MS) expires first. Every recorded event stops the
 * loop, so the condition is checked again right after each one. h_finish() destroys what is still
 * open, closes the server, runs the loop until every object is gone, frees
 * everything and asserts that the loop had nothing left. */
#ifndef PORTLS_TEST_HARNESS_H
#define PORTLS_TEST_HARNESS_H

#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>

#include "portls/portls.h"

#define H_WATCHDOG_MS 10000
#define H_MAX_SIDES 8
#define H_MAX_FILES 16
#define H_LOG_SIZE 512

typedef enum h_event {
  H_CONNECT, /* client: 'connect'; accepted socket: 'connection' (net) */
  H_SECURE,  /* client: 'secureConnect'; accepted socket: 'secureConnection' */
  H_DATA,
  H_END,
  H_DRAIN,
  H_TIMEOUT,
  H_ERROR,
  H_CLOSE,
  H_EVENT_COUNT
} h_event;

typedef struct h_test h_test;
typedef struct h_side h_side;

/* Called after the event has been recorded. On H_CLOSE, side->sock is still
 * the closing socket; it becomes NULL when the hook returns. */
typedef void (*h_hook)(h_side *side, h_event ev);

struct h_side {
  h_test *t;
  char name[16];       /* "client0", "conn0", ... */
  portls_socket *sock; /* NULL once closed */
  int closed;
  int had_error; /* the close event's argument */
  char log[H_LOG_SIZE];
  int count[H_EVENT_COUNT]; /* how many times each event fired */
  portls_error err;         /* the last 'error' */
  unsigned char *rx;        /* every byte of 'data', in order */
  size_t rx_len, rx_cap;
  unsigned close_seq; /* position of 'close' among all closes of the test */
  h_hook hook;
  void *ctx;
};

typedef struct h_server {
  portls_server *srv; /* NULL once closed */
  uint16_t port;
  int closed;
  char log[H_LOG_SIZE];
  int listening, connections, secure_connections, client_errors, errors;
  portls_error client_err; /* the last 'clientError' */
  int client_err_sock;     /* whether it came with a socket */
  unsigned close_seq;
  h_hook conn_hook; /* given to every accepted socket's side */
  void *conn_ctx;
} h_server;

struct h_test {
  portls_loop *loop;
  portls_timer *watchdog;
  int expired;
  unsigned seq;
  h_server srv;
  h_side client[H_MAX_SIDES]; /* from h_connect_* */
  h_side conn[H_MAX_SIDES];   /* accepted by the server */
  size_t nclients, nconns;
  portls_buf files[H_MAX_FILES];
  size_t nfiles;
  void *user; /* for the test */
};

/* H_WATCHDOG_MS times $PORTLS_TEST_SLOW (set under valgrind). */
uint64_t h_watchdog_ms(void);
/* A test's own timeout, scaled the same way. */
uint64_t h_slow(uint64_t ms);

/* Creates the loop and starts the watchdog. */
void h_init(h_test *t);
/* Tears everything down (see above); the test's last call. */
void h_finish(h_test *t);

/* Runs the loop one iteration at a time until cond holds; fails the test
 * with every log if the watchdog fires first. */
#define h_run_until(t, cond)                                                                       \
  do {                                                                                             \
    while (!(cond)) h_step((t), #cond);                                                            \
  } while (0)
void h_step(h_test *t, const char *waiting_for);
/* Runs the loop for ms milliseconds (events happen meanwhile). */
void h_wait(h_test *t, uint64_t ms);
/* Runs until every socket the test made or accepted has closed. */
void h_run_all_closed(h_test *t);
int h_all_closed(const h_test *t);

/* A file of $PORTLS_CERTS, read once and kept until h_finish(). The returned
 * pointer is stable, so it can go straight into options (key, cert, ca). */
const portls_buf *h_file(h_test *t, const char *name);
/* portls_context_options_init(), then key/cert/ca from $PORTLS_CERTS (each
 * name may be NULL for "not set"). */
void h_context_options(h_test *t, portls_context_options *o, const char *key, const char *cert,
                       const char *ca);

/* A TLS / net server on 127.0.0.1, port 0; returns the port (also t->srv.port).
 * The harness owns o->events and o->user; o may be NULL for net. */
uint16_t h_listen_tls(h_test *t, portls_server_options *o);
uint16_t h_listen_net(h_test *t, portls_server_options *o);
/* A net server on a Unix socket path. */
void h_listen_path(h_test *t, const char *path);

/* A client. The harness owns o->events and o->user; port 0 and no path mean
 * t->srv.port. */
h_side *h_connect_tls(h_test *t, portls_connect_options *o);
h_side *h_connect_net(h_test *t, portls_net_connect_options *o);

/* The value of the first `key` entry of a name ("CN", "O"), or NULL. */
const char *h_dn_get(const portls_dn *dn, const char *key);
/* Whether s contains sub (NULL-safe). */
int h_contains(const char *s, const char *sub);
/* Skips the test unless the backend has cap; the message names both. */
void h_need_cap(portls_cap cap);
/* The same, the skip message ending with why the backend lacks it. */
void h_need_cap_because(portls_cap cap, const char *why);

#endif
