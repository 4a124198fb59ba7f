/* Node's 'keylog' event (socket and server) and enableTrace(), on every
 * backend: the NSS key log lines a handshake gives, their labels and client
 * random (checked against the ClientHello on the wire), and the trace lines
 * of a full handshake in both directions. */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/harness.h"
#include "portls/portls.h"

#define MAX_LINES 32

typedef struct lines {
  char line[MAX_LINES][256];
  int n;
  int calls;
} lines;

static void lines_add(lines *l, const char *text, size_t len) {
  l->calls++;
  if (l->n >= MAX_LINES || len >= sizeof l->line[0]) return;
  memcpy(l->line[l->n], text, len);
  l->line[l->n][len] = '\0';
  l->n++;
}

/* The index of the first line starting with prefix at or after from, or -1. */
static int lines_find(const lines *l, int from, const char *prefix) {
  for (int i = from; i < l->n; i++)
    if (strncmp(l->line[i], prefix, strlen(prefix)) == 0) return i;
  return -1;
}

/* ---- two SecurePairs pumped into each other ---- */

typedef struct side {
  portls_socket *sock;
  int secure, closed;
  lines keylog, trace;
} side;

typedef struct duo {
  portls_pair *client, *server;
  side c, s;
  uint8_t first[8192]; /* the client's first ciphertext: its ClientHello */
  size_t first_len;
} duo;

static void s_secure(portls_socket *sock, void *u) {
  (void)sock;
  ((side *)u)->secure++;
}
static void s_close(portls_socket *sock, int had_error, void *u) {
  (void)sock, (void)had_error;
  side *sd = u;
  sd->closed++;
  sd->sock = NULL;
}
static void s_keylog(portls_socket *sock, const void *line, size_t len, void *u) {
  side *sd = u;
  cr_assert_eq(sock, sd->sock, "keylog names its socket");
  lines_add(&sd->keylog, line, len);
}
static void s_trace(portls_socket *sock, const char *line, void *u) {
  side *sd = u;
  cr_assert_eq(sock, sd->sock, "trace names its socket");
  lines_add(&sd->trace, line, strlen(line));
}

static void p_secure(portls_pair *p, void *u) {
  duo *d = u;
  portls_socket_end(portls_pair_cleartext(p), NULL, 0);
  (void)d;
}
static void p_data(portls_pair *p, const void *data, size_t n, void *u) {
  duo *d = u;
  if (p == d->client && d->first_len == 0 && n <= sizeof d->first) {
    memcpy(d->first, data, n);
    d->first_len = n;
  }
  portls_pair *peer = p == d->client ? d->server : d->client;
  if (peer != NULL) portls_pair_encrypted_write(peer, data, n);
}
static void p_end(portls_pair *p, void *u) {
  duo *d = u;
  portls_pair *peer = p == d->client ? d->server : d->client;
  if (peer != NULL) portls_pair_encrypted_end(peer);
}
static void p_close(portls_pair *p, void *u) {
  duo *d = u;
  if (p == d->client) d->client = NULL;
  if (p == d->server) d->server = NULL;
}

static const portls_pair_events pair_events = {
    .secure = p_secure, .encrypted_data = p_data, .encrypted_end = p_end, .close = p_close};

typedef struct duo_opts {
  const char *protocol; /* secure_protocol of both, NULL: any */
  int keylog, trace;    /* listen from the start */
  int trace_option;     /* enable_trace by option (else portls_socket_enable_trace) */
} duo_opts;

static void duo_run(h_test *t, duo *d, const duo_opts *o) {
  portls_socket_events ev = {.secure_connect = s_secure, .close = s_close};
  if (o->keylog) ev.keylog = s_keylog;
  portls_tls_socket_options so, co;
  portls_tls_socket_options_init(&so);
  so.is_server = 1;
  h_context_options(t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  so.tls.context.secure_protocol = o->protocol;
  so.events = &ev;
  so.user = &d->s;
  portls_tls_socket_options_init(&co);
  h_context_options(t, &co.tls.context, NULL, NULL, "ca.crt");
  co.tls.context.secure_protocol = o->protocol;
  co.tls.servername = "localhost";
  co.events = &ev;
  co.user = &d->c;
  if (o->trace && o->trace_option) {
    so.tls.enable_trace = co.tls.enable_trace = 1;
    so.tls.trace = co.tls.trace = s_trace;
    so.tls.trace_user = &d->s;
    co.tls.trace_user = &d->c;
  } else {
    /* The callback is there, but enableTrace is not: nothing may reach it. */
    so.tls.trace = co.tls.trace = s_trace;
    so.tls.trace_user = &d->s;
    co.tls.trace_user = &d->c;
  }
  portls_error err;
  cr_assert_eq(portls_pair_new(t->loop, &so, &pair_events, d, &d->server, &err), 0, "%s",
               err.message);
  cr_assert_eq(portls_pair_new(t->loop, &co, &pair_events, d, &d->client, &err), 0, "%s",
               err.message);
  d->s.sock = portls_pair_cleartext(d->server);
  d->c.sock = portls_pair_cleartext(d->client);
  if (o->trace && !o->trace_option) {
    cr_assert_eq(portls_socket_enable_trace(d->s.sock, s_trace, &d->s), 0);
    cr_assert_eq(portls_socket_enable_trace(d->c.sock, s_trace, &d->c), 0);
  }
  h_run_until(t, d->c.closed && d->s.closed && d->client == NULL && d->server == NULL);
  cr_assert_eq(d->c.secure, 1, "client secure");
}

/* The ClientHello's random, as lowercase hex, from the first record. */
static void client_random_hex(const duo *d, char out[65]) {
  cr_assert_geq(d->first_len, 5 + 4 + 2 + 32, "a ClientHello record");
  cr_assert_eq(d->first[0], 22, "a handshake record");
  cr_assert_eq(d->first[5], 1, "a ClientHello");
  for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", d->first[5 + 4 + 2 + i]);
}

/* Every line: "LABEL <client random> <secret hex>\n". Returns how many have label. */
static int check_lines(const lines *l, const char *random_hex, const char *label) {
  int found = 0;
  for (int i = 0; i < l->n; i++) {
    const char *line = l->line[i];
    size_t len = strlen(line);
    cr_assert(len > 0 && line[len - 1] == '\n', "ends with a newline: %s", line);
    const char *sp = strchr(line, ' ');
    cr_assert_not_null(sp, "%s", line);
    cr_assert_eq(strncmp(sp + 1, random_hex, 64), 0, "the client random: %s", line);
    cr_assert_eq(sp[65], ' ', "%s", line);
    size_t secret = len - 1 - (size_t)(sp + 66 - line);
    cr_assert(secret == 64 || secret == 96, "secret of 32 or 48 bytes: %s", line);
    for (const char *p = sp + 66; *p != '\n'; p++)
      cr_assert(strchr("0123456789abcdef", *p) != NULL, "lowercase hex: %s", line);
    if ((size_t)(sp - line) == strlen(label) && strncmp(line, label, strlen(label)) == 0) found++;
  }
  return found;
}

Test(keylog, tls13_lines_have_the_five_labels_and_the_client_random_on_both_sides) {
  h_need_cap(PORTLS_CAP_KEYLOG);
  h_need_cap(PORTLS_CAP_TLS1_3);
  h_test t;
  h_init(&t);
  static duo d;
  memset(&d, 0, sizeof d);
  duo_run(&t, &d, &(duo_opts){.protocol = "TLSv1_3_method", .keylog = 1});
  char random[65];
  client_random_hex(&d, random);
  static const char *const labels[] = {"CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                                       "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0",
                                       "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET"};
  /* mbed TLS 3.6 does not export its TLS 1.3 exporter secret: four lines. */
  const int n = strcmp(portls_backend_name(), "mbedtls") == 0 ? 4 : 5;
  for (int i = 0; i < n; i++) {
    cr_assert_eq(check_lines(&d.c.keylog, random, labels[i]), 1, "client: one %s", labels[i]);
    cr_assert_eq(check_lines(&d.s.keylog, random, labels[i]), 1, "server: one %s", labels[i]);
  }
  cr_assert_eq(d.c.keylog.n, (size_t)n, "client lines");
  cr_assert_eq(d.s.keylog.n, (size_t)n, "server lines");
  /* Both ends derived the same secrets. */
  for (int i = 0; i < n; i++) {
    int found = 0;
    for (int j = 0; j < n; j++) found |= strcmp(d.c.keylog.line[i], d.s.keylog.line[j]) == 0;
    cr_assert(found, "the server logged the client's line %s", d.c.keylog.line[i]);
  }
  h_finish(&t);
}

Test(keylog, tls12_gives_one_client_random_line_with_the_master_secret_on_both_sides) {
  h_need_cap(PORTLS_CAP_KEYLOG);
  h_need_cap(PORTLS_CAP_TLS1_2);
  h_test t;
  h_init(&t);
  static duo d;
  memset(&d, 0, sizeof d);
  duo_run(&t, &d, &(duo_opts){.protocol = "TLSv1_2_method", .keylog = 1});
  char random[65];
  client_random_hex(&d, random);
  cr_assert_eq(d.c.keylog.n, 1, "client lines");
  cr_assert_eq(d.s.keylog.n, 1, "server lines");
  cr_assert_eq(check_lines(&d.c.keylog, random, "CLIENT_RANDOM"), 1);
  cr_assert_eq(check_lines(&d.s.keylog, random, "CLIENT_RANDOM"), 1);
  cr_assert_eq(strlen(d.c.keylog.line[0]), strlen("CLIENT_RANDOM ") + 64 + 1 + 96 + 1);
  cr_assert_str_eq(d.c.keylog.line[0], d.s.keylog.line[0]);
  h_finish(&t);
}

/* A listener set with set_events after the socket exists (Node's
 * socket.on('keylog') after tls.connect()) gets the lines too. */
Test(keylog, a_listener_added_before_the_handshake_runs_gets_the_lines) {
  h_need_cap(PORTLS_CAP_KEYLOG);
  h_test t;
  h_init(&t);
  static duo d;
  memset(&d, 0, sizeof d);
  portls_socket_events ev = {.secure_connect = s_secure, .close = s_close};
  portls_tls_socket_options co;
  portls_tls_socket_options_init(&co);
  h_context_options(&t, &co.tls.context, NULL, NULL, "ca.crt");
  co.tls.servername = "localhost";
  co.events = &ev;
  co.user = &d.c;
  portls_tls_socket_options so;
  portls_tls_socket_options_init(&so);
  so.is_server = 1;
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  so.events = &ev;
  so.user = &d.s;
  portls_error err;
  cr_assert_eq(portls_pair_new(t.loop, &so, &pair_events, &d, &d.server, &err), 0);
  cr_assert_eq(portls_pair_new(t.loop, &co, &pair_events, &d, &d.client, &err), 0);
  d.s.sock = portls_pair_cleartext(d.server);
  d.c.sock = portls_pair_cleartext(d.client);
  portls_socket_events with = ev;
  with.keylog = s_keylog;
  cr_assert_eq(portls_socket_set_events(d.c.sock, &with, &d.c), 0);
  h_run_until(&t, d.c.closed && d.s.closed && d.client == NULL && d.server == NULL);
  cr_assert_eq(d.c.secure, 1);
  char random[65];
  client_random_hex(&d, random);
  cr_assert_geq(d.c.keylog.n, 1);
  check_lines(&d.c.keylog, random, "");
  cr_assert_eq(d.s.keylog.calls, 0, "the server side did not listen");
  h_finish(&t);
}

/* ---- tls.Server 'keylog' ---- */

typedef struct srv_state {
  lines keylog;
  portls_server *srv;
  int closed;
  int sock_given;
} srv_state;

static void srv_keylog(portls_server *server, portls_socket *sock, const void *line, size_t len,
                       void *u) {
  srv_state *st = u;
  cr_assert_eq(server, st->srv);
  st->sock_given += sock != NULL;
  lines_add(&st->keylog, line, len);
}
static void srv_close(portls_server *server, void *u) {
  (void)server;
  ((srv_state *)u)->closed = 1;
}

Test(keylog, a_server_gives_the_lines_of_every_connection_it_accepts) {
  h_need_cap(PORTLS_CAP_KEYLOG);
  h_test t;
  h_init(&t);
  static srv_state st;
  memset(&st, 0, sizeof st);
  portls_server_events sev = {.keylog = srv_keylog, .close = srv_close};
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  so.tls.context.secure_protocol = "TLSv1_2_method";
  so.events = &sev;
  so.user = &st;
  portls_error err;
  cr_assert_eq(portls_tls_create_server(t.loop, &so, &st.srv, &err), 0, "%s", err.message);
  cr_assert_eq(portls_server_listen(st.srv, "127.0.0.1", 0, 16, &err), 0, "%s", err.message);
  portls_address a;
  cr_assert_eq(portls_server_address(st.srv, &a), 0);
  for (int i = 0; i < 2; i++) {
    portls_connect_options co;
    portls_connect_options_init(&co);
    h_context_options(&t, &co.tls.context, NULL, NULL, "ca.crt");
    co.host = "127.0.0.1";
    co.port = (uint16_t)a.port;
    co.tls.servername = "localhost";
    h_side *c = h_connect_tls(&t, &co);
    h_run_until(&t, c->count[H_SECURE] == 1);
    portls_socket_end(c->sock, NULL, 0);
    h_run_until(&t, c->closed);
  }
  cr_assert_eq(st.keylog.n, 2, "one CLIENT_RANDOM line per connection");
  cr_assert_eq(st.sock_given, 2);
  for (int i = 0; i < 2; i++)
    cr_assert_eq(strncmp(st.keylog.line[i], "CLIENT_RANDOM ", 14), 0, "%s", st.keylog.line[i]);
  cr_assert_str_neq(st.keylog.line[0], st.keylog.line[1]);
  portls_server_close(st.srv);
  h_run_until(&t, st.closed);
  h_finish(&t);
}

/* ---- enableTrace ---- */

/* Checks the trace of a full handshake seen from one end. */
static void check_trace(const lines *l, int is_client) {
  const char *out = "-> ", *in = "<- ";
  const char *hello_dir = is_client ? out : in, *server_dir = is_client ? in : out;
  char want[64];
  snprintf(want, sizeof want, "%sClientHello len=", hello_dir);
  int ch = lines_find(l, 0, want);
  cr_assert_eq(ch, 0, "%s first (%d lines; first: %s)", want, l->n, l->n ? l->line[0] : "");
  snprintf(want, sizeof want, "%sServerHello len=", server_dir);
  int sh = lines_find(l, 0, want);
  cr_assert_gt(sh, ch, "%s after the ClientHello", want);
  cr_assert(strstr(l->line[sh], ", version TLSv1.") != NULL, "%s", l->line[sh]);
  cr_assert(strstr(l->line[sh], ", cipher ") != NULL, "%s", l->line[sh]);
  cr_assert(strstr(l->line[ch], " suites") != NULL, "%s", l->line[ch]);
  if (is_client) cr_assert(strstr(l->line[ch], ", sni localhost") != NULL, "%s", l->line[ch]);
  cr_assert_gt(lines_find(l, sh, "-> Finished len="), sh, "our Finished");
  cr_assert_gt(lines_find(l, sh, "<- Finished len="), sh, "the peer's Finished");
  snprintf(want, sizeof want, "%sCertificate len=", server_dir);
  cr_assert_gt(lines_find(l, sh, want), sh, "%s", want);
}

Test(trace, a_full_handshake_shows_each_message_in_its_direction_on_both_ends) {
  h_need_cap(PORTLS_CAP_TRACE);
  h_test t;
  h_init(&t);
  static duo d;
  memset(&d, 0, sizeof d);
  duo_run(&t, &d, &(duo_opts){.trace = 1, .trace_option = 1});
  check_trace(&d.c.trace, 1);
  check_trace(&d.s.trace, 0);
  h_finish(&t);
}

Test(trace, tls12_by_enable_trace_shows_the_key_exchange_and_change_cipher_spec) {
  h_need_cap(PORTLS_CAP_TRACE);
  h_need_cap(PORTLS_CAP_TLS1_2);
  h_test t;
  h_init(&t);
  static duo d;
  memset(&d, 0, sizeof d);
  duo_run(&t, &d, &(duo_opts){.protocol = "TLSv1_2_method", .trace = 1});
  check_trace(&d.c.trace, 1);
  check_trace(&d.s.trace, 0);
  cr_assert_geq(lines_find(&d.c.trace, 0, "<- ServerHelloDone len=0"), 0);
  cr_assert_geq(lines_find(&d.c.trace, 0, "-> ClientKeyExchange len="), 0);
  cr_assert_geq(lines_find(&d.c.trace, 0, "-> ChangeCipherSpec"), 0);
  /* (OpenSSL's message callback never reports a ChangeCipherSpec it receives.) */
  cr_assert_geq(lines_find(&d.s.trace, 0, "-> ChangeCipherSpec"), 0);
  cr_assert_geq(lines_find(&d.c.trace, 0, "-> Finished len=12"), 0, "verify_data of TLS 1.2");
  cr_assert(strstr(d.c.trace.line[lines_find(&d.c.trace, 0, "<- ServerHello ")], "TLSv1.2"));
  h_finish(&t);
}

Test(trace, nothing_is_traced_unless_enabled) {
  h_test t;
  h_init(&t);
  static duo d;
  memset(&d, 0, sizeof d);
  duo_run(&t, &d, &(duo_opts){0});
  cr_assert_eq(d.c.trace.calls, 0);
  cr_assert_eq(d.s.trace.calls, 0);
  cr_assert_eq(d.c.keylog.calls, 0);
  h_finish(&t);
}

Test(trace, enable_trace_refuses_a_plain_socket_and_null) {
  cr_assert_eq(portls_socket_enable_trace(NULL, NULL, NULL), PORTLS_EINVAL);
}

/* The socket may be destroyed from its keylog listener (the handshake is
 * under way inside the library then): it closes, nothing else follows. */
static void destroy_on_keylog(portls_socket *sock, const void *line, size_t len, void *u) {
  side *sd = u;
  lines_add(&sd->keylog, line, len);
  portls_error e = {PORTLS_ECONNRESET, "destroyed from keylog"};
  portls_socket_destroy(sock, &e);
}

Test(keylog, destroying_the_socket_from_the_listener_is_safe) {
  h_need_cap(PORTLS_CAP_KEYLOG);
  h_test t;
  h_init(&t);
  static duo d;
  memset(&d, 0, sizeof d);
  portls_socket_events ev = {.secure_connect = s_secure, .close = s_close};
  portls_socket_events cev = ev;
  cev.keylog = destroy_on_keylog;
  portls_tls_socket_options so, co;
  portls_tls_socket_options_init(&so);
  so.is_server = 1;
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  so.events = &ev;
  so.user = &d.s;
  portls_tls_socket_options_init(&co);
  h_context_options(&t, &co.tls.context, NULL, NULL, "ca.crt");
  co.tls.servername = "localhost";
  co.events = &cev;
  co.user = &d.c;
  portls_error err;
  cr_assert_eq(portls_pair_new(t.loop, &so, &pair_events, &d, &d.server, &err), 0);
  cr_assert_eq(portls_pair_new(t.loop, &co, &pair_events, &d, &d.client, &err), 0);
  d.s.sock = portls_pair_cleartext(d.server);
  d.c.sock = portls_pair_cleartext(d.client);
  h_run_until(&t, d.c.closed && d.s.closed && d.client == NULL && d.server == NULL);
  cr_assert_eq(d.c.secure, 0, "no secureConnect after destroy");
  cr_assert_eq(d.c.keylog.n, 1, "no line after destroy");
  cr_assert_eq(d.c.closed, 1);
  h_finish(&t);
}

/* ---- SSLKEYLOGFILE: read only when the application opts in ---- */

static size_t file_lines(const char *path, char first[256]) {
  FILE *f = fopen(path, "r");
  size_t n = 0;
  char buf[256];
  if (f == NULL) return 0;
  while (fgets(buf, sizeof buf, f) != NULL) {
    if (n == 0 && first != NULL) memcpy(first, buf, sizeof buf);
    n++;
  }
  fclose(f);
  return n;
}

Test(keylog, sslkeylogfile_is_ignored_without_the_opt_in) {
  h_test t;
  h_init(&t);
  char path[] = "/tmp/portls-keylog-XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  close(fd);
  unlink(path);
  setenv("SSLKEYLOGFILE", path, 1);
  static duo d;
  memset(&d, 0, sizeof d);
  duo_run(&t, &d, &(duo_opts){0});
  cr_assert_eq(access(path, F_OK), -1,
               "SSLKEYLOGFILE was created without portls_keylog_from_env()");
  h_finish(&t);
}

Test(keylog, sslkeylogfile_gets_every_connections_lines_after_the_opt_in) {
  h_need_cap(PORTLS_CAP_KEYLOG);
  h_test t;
  h_init(&t);
  char path[] = "/tmp/portls-keylog-XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  close(fd);
  portls_error err;
  unsetenv("SSLKEYLOGFILE");
  cr_assert_eq(portls_keylog_from_env(&err), 0, "unset: nothing to do");
  setenv("SSLKEYLOGFILE", "/nonexistent-dir/keys", 1);
  cr_assert_eq(portls_keylog_from_env(&err), PORTLS_ENOENT);
  cr_assert(strstr(err.message, "SSLKEYLOGFILE: /nonexistent-dir/keys") != NULL, "%s", err.message);
  setenv("SSLKEYLOGFILE", path, 1);
  cr_assert_eq(portls_keylog_from_env(&err), 1, "%s", err.message);
  static duo d;
  memset(&d, 0, sizeof d);
  duo_run(&t, &d, &(duo_opts){.protocol = "TLSv1_2_method", .keylog = 1});
  char first[256] = "";
  /* Both ends of the one connection wrote their line (the same one). */
  cr_assert_eq(file_lines(path, first), 2);
  cr_assert_str_eq(first, d.c.keylog.line[0]);
  unlink(path);
  h_finish(&t);
}
