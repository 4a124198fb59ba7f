/* A server at the process's descriptor limit (RLIMIT_NOFILE): real limits,
 * real descriptors, no mocks. Criterion runs each test in a process of its
 * own; the test lowers its soft limit and puts it back before it ends. */
#define _GNU_SOURCE /* SOCK_CLOEXEC */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/harness.h"

/* Every accepted connection echoes what it receives. */
static void echo(h_side *s, h_event ev) {
  if (ev != H_DATA || s->sock == NULL) return;
  /* The whole of rx so far, minus what was echoed already (kept in ctx). */
  size_t *sent = s->ctx;
  if (sent == NULL) return;
  size_t i = (size_t)(s - s->t->conn);
  portls_socket_write(s->sock, s->rx + sent[i], s->rx_len - sent[i]);
  sent[i] = s->rx_len;
}

typedef struct fillers {
  int fd[4096];
  size_t n;
  struct rlimit saved;
} fillers;

/* Lowers the soft limit to what is open now plus a little, then takes every
 * descriptor left, so the next socket() or accept() fails with EMFILE. */
static void exhaust(fillers *f) {
  cr_assert_eq(getrlimit(RLIMIT_NOFILE, &f->saved), 0);
  int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
  cr_assert_geq(probe, 0);
  close(probe);
  struct rlimit low = f->saved;
  low.rlim_cur = (rlim_t)probe + 64; /* the lowest free descriptor, and some */
  if (low.rlim_cur > f->saved.rlim_cur) low.rlim_cur = f->saved.rlim_cur;
  cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0, "setrlimit: %s", strerror(errno));
  f->n = 0;
  for (;;) {
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      cr_assert_eq(errno, EMFILE, "open: %s", strerror(errno));
      break;
    }
    cr_assert_lt(f->n, sizeof f->fd / sizeof f->fd[0]);
    f->fd[f->n++] = fd;
  }
  cr_assert_gt(f->n, 0);
}

/* Gives back n descriptors (every one with n 0) and, after the last, the limit. */
static void give_back(fillers *f, size_t n) {
  if (n == 0 || n > f->n) n = f->n;
  while (n-- > 0) close(f->fd[--f->n]);
  if (f->n == 0) cr_assert_eq(setrlimit(RLIMIT_NOFILE, &f->saved), 0);
}

/* A blocking TCP socket made before the limit is reached, connected later. */
static int raw_socket(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

static void raw_connect(int fd, uint16_t port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  /* Loopback completes the TCP handshake in the kernel, accepted or not. */
  cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "connect: %s", strerror(errno));
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

static void write_text(h_side *s, const char *text) {
  int rc = portls_socket_write(s->sock, text, strlen(text));
  cr_assert_geq(rc, 0, "%s: write: %s", s->name, portls_err_name(rc));
}

Test(net_server, at_the_descriptor_limit_emits_EMFILE_keeps_its_connections_and_accepts_again) {
  h_test t;
  h_init(&t);
  static size_t echoed[H_MAX_SIDES];
  memset(echoed, 0, sizeof echoed);
  t.srv.conn_hook = echo;
  t.srv.conn_ctx = echoed;
  uint16_t port = h_listen_net(&t, NULL);
  portls_net_connect_options o;
  portls_net_connect_options_init(&o);
  o.host = "127.0.0.1";
  h_side *a = h_connect_net(&t, &o);
  h_run_until(&t, a->count[H_CONNECT] == 1 && t.nconns == 1);
  write_text(a, "before");
  h_run_until(&t, a->rx_len == 6);

  int late = raw_socket(), later = raw_socket();
  static fillers f;
  exhaust(&f);

  /* A connection arrives that the server has no descriptor for. */
  raw_connect(late, port);
  h_run_until(&t, t.srv.errors > 0);
  cr_assert(h_contains(t.srv.log, "error(EMFILE)"), "server: %s", t.srv.log);
  cr_assert_eq(t.srv.closed, 0, "the server keeps listening");
  /* The client that came then is told at once (closed), not left waiting. */
  char buf[16];
  ssize_t got = recv(late, buf, sizeof buf, 0);
  cr_assert(got == 0 || (got < 0 && errno == ECONNRESET), "recv: %zd %s", got,
            got < 0 ? strerror(errno) : "");

  /* It does not spin meanwhile, and its connections carry on. */
  double cpu = cpu_seconds();
  h_wait(&t, 400);
  cr_assert_lt(cpu_seconds() - cpu, 0.2, "the loop spun at the descriptor limit");
  cr_assert_eq(t.srv.errors, 1, "one error per stretch at the limit, got: %s", t.srv.log);
  write_text(a, " during");
  h_run_until(&t, a->rx_len == 13);
  cr_assert_eq(memcmp(a->rx, "before during", 13), 0);

  /* Descriptors come back: new connections are served again. */
  give_back(&f, 0);
  raw_connect(later, port);
  cr_assert_eq(send(later, "after", 5, 0), 5);
  h_run_until(&t, t.nconns >= 2 && t.conn[t.nconns - 1].rx_len == 5);
  cr_assert_eq(recv(later, buf, sizeof buf, 0), 5, "recv: %s", strerror(errno));
  cr_assert_eq(memcmp(buf, "after", 5), 0);
  close(late);
  close(later);
  h_finish(&t);
}

/* valgrind emulates RLIMIT_NOFILE: an accept() the kernel completes above
 * the soft limit, it closes and reports as EMFILE, so a client cannot wait
 * in the backlog under it. */
static int under_valgrind(void) {
  const char *preload = getenv("LD_PRELOAD");
  return preload != NULL && strstr(preload, "vgpreload") != NULL;
}

/* Without even a spare descriptor to close pending connections with, the
 * server backs off instead of spinning on a listener that stays readable,
 * and serves the waiting client once descriptors are freed. */
Test(net_server, at_the_descriptor_limit_without_a_spare_backs_off_and_serves_the_waiting_client) {
  h_test t;
  h_init(&t);
  static size_t echoed[H_MAX_SIDES];
  memset(echoed, 0, sizeof echoed);
  t.srv.conn_hook = echo;
  t.srv.conn_ctx = echoed;
  int waiting = raw_socket();
  static fillers f;
  exhaust(&f);
  give_back(&f, 1); /* one descriptor: the listener's own, none left for a spare */
  uint16_t port = h_listen_net(&t, NULL);
  cr_assert_lt(open("/dev/null", O_RDONLY | O_CLOEXEC), 0, "nothing left after listen");

  raw_connect(waiting, port);
  cr_assert_eq(send(waiting, "waited", 6, 0), 6);
  h_run_until(&t, t.srv.errors > 0);
  cr_assert(h_contains(t.srv.log, "error(EMFILE)"), "server: %s", t.srv.log);
  double cpu = cpu_seconds();
  h_wait(&t, 1200); /* more than two back-offs */
  cr_assert_lt(cpu_seconds() - cpu, 0.3, "the loop spun at the descriptor limit");
  cr_assert_eq(t.srv.errors, 1, "one error per stretch at the limit, got: %s", t.srv.log);
  cr_assert_eq(t.nconns, 0);

  give_back(&f, 0);
  if (under_valgrind()) { /* the waiting client was closed: another one comes */
    close(waiting);
    waiting = raw_socket();
    raw_connect(waiting, port);
    cr_assert_eq(send(waiting, "waited", 6, 0), 6);
  }
  h_run_until(&t, t.nconns == 1 && t.conn[0].rx_len == 6);
  char buf[16];
  cr_assert_eq(recv(waiting, buf, sizeof buf, 0), 6, "recv: %s", strerror(errno));
  cr_assert_eq(memcmp(buf, "waited", 6), 0);
  close(waiting);
  h_finish(&t);
}
