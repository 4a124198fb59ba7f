/* What an idle server connection costs in memory.
 *
 * A server with thousands of quiet clients (push channels, IoT devices)
 * lives or dies by this figure. The clients run in a child process, so the
 * server's heap is all this process measures: heap in use after a batch of
 * connections has completed its handshakes and gone quiet, minus before, per
 * connection. The first connections are a warm-up: the library's
 * process-wide state is made then, and is not the connections' cost.
 *
 * With the capability idle-release (the OpenSSL backend), a TLS 1.3 server
 * connection quiet for a fifth of a second gives its library session back
 * (backends/common/ossl_lean.c): the figure must stay under 8 KiB, where the
 * library session alone is about 15 KiB. Without it the test prints the
 * figure. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "portls/portls.h"

#if defined(__SANITIZE_ADDRESS__)
#define MEM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEM_ASAN 1
#endif
#endif

#if defined(MEM_ASAN)
/* The sanitizer runtime's own figure (sanitizer/allocator_interface.h, which
 * not every compiler installs). */
size_t __sanitizer_get_current_allocated_bytes(void);
#elif defined(__GLIBC__)
#include <malloc.h>
#endif

enum { WARM = 8, BATCH = 32 };

/* Bytes of heap in use; 0 when this build cannot tell (valgrind replaces
 * malloc and leaves mallinfo2 at zero). */
static size_t heap_in_use(void) {
#if defined(MEM_ASAN)
  return __sanitizer_get_current_allocated_bytes();
#elif defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
#else
  return 0;
#endif
}

static char *read_cert(const char *name) {
  const char *dir = getenv("PORTLS_CERTS");
  cr_assert_not_null(dir, "PORTLS_CERTS is not set");
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  portls_buf b;
  cr_assert_eq(portls_read_file(path, &b, NULL), 0, "%s", path);
  return (char *)b.base;
}

/* ---- the child: clients that connect and then say nothing ---- */

static int c_secure, c_failed;

static void c_on_secure(portls_socket *s, void *u) {
  (void)s, (void)u;
  c_secure++;
}
static void c_on_error(portls_socket *s, const portls_error *e, void *u) {
  (void)s, (void)u, (void)e;
  c_failed = 1;
}

static void child_connect(portls_loop *loop, uint16_t port, int n) {
  static const portls_socket_events ev = {.secure_connect = c_on_secure, .error = c_on_error};
  int target = c_secure + n;
  for (int i = 0; i < n; i++) {
    portls_connect_options co;
    portls_connect_options_init(&co);
    co.host = "127.0.0.1";
    co.port = port;
    co.tls.reject_unauthorized = 0;
    co.events = &ev;
    portls_socket *s;
    if (portls_tls_connect(loop, &co, &s, NULL) < 0) _exit(3);
  }
  while (c_secure < target && !c_failed) portls_loop_run_once(loop, 1);
  if (c_failed) _exit(4);
}

/* Connects WARM clients, waits for a byte on `go`, connects BATCH more,
 * then holds them all until `go` reaches its end. */
static void child(uint16_t port, int go) {
  portls_loop *loop;
  char b;
  if (portls_loop_new(&loop) < 0) _exit(2);
  child_connect(loop, port, WARM);
  if (read(go, &b, 1) != 1) _exit(0);
  child_connect(loop, port, BATCH);
  while (read(go, &b, 1) > 0) {}
  _exit(0); /* the parent measured; nothing here is checked for leaks */
}

/* ---- the parent: the server ---- */

static int s_secure, s_errors;
static void on_watchdog(portls_timer *t, void *u) {
  (void)t;
  *(int *)u = 1;
}
static void s_on_secure(portls_server *srv, portls_socket *s, void *u) {
  (void)srv, (void)s, (void)u;
  s_secure++;
}
static void s_on_client_error(portls_server *srv, const portls_error *e, portls_socket *s,
                              void *u) {
  (void)srv, (void)s, (void)u;
  fprintf(stderr, "clientError %s: %s\n", portls_err_name(e->code), e->message);
  s_errors++;
}

/* Runs the loop until `want` connections are secure, then long enough for a
 * server to find them quiet (rest sweeps are PORTLS__REST_SWEEP_MS apart). */
static void serve_until(portls_loop *loop, int want, const int *expired) {
  while (s_secure < want && !s_errors && !*expired) portls_loop_run_once(loop, 1);
  cr_assert(s_secure >= want && !s_errors, "%d of %d connections became secure (errors %d)",
            s_secure, want, s_errors);
  int quiet = 0;
  portls_timer *settle;
  cr_assert_eq(portls_timer_new(loop, on_watchdog, &quiet, &settle), 0);
  portls_timer_start(settle, 1000, 0);
  while (!quiet && !*expired) portls_loop_run_once(loop, 1);
  portls_timer_free(settle);
}

/* Heap per idle server connection in KiB, for a server with this
 * rest_min_connections; -1 when this build cannot measure its heap. */
static double idle_kib(unsigned rest_min) {
  char *key = read_cert("server-ec.key"), *cert = read_cert("server-ec-chain.crt");
  portls_loop *loop;
  cr_assert_eq(portls_loop_new(&loop), 0);
  int expired = 0;
  portls_timer *watchdog;
  cr_assert_eq(portls_timer_new(loop, on_watchdog, &expired, &watchdog), 0);
  portls_timer_start(watchdog, 30000, 0);

  static const portls_server_events sev = {.secure_connection = s_on_secure,
                                           .client_error = s_on_client_error};
  portls_server_options so;
  portls_server_options_init(&so);
  so.rest_min_connections = rest_min;
  portls_buf kb = {key, strlen(key)}, cb = {cert, strlen(cert)};
  so.tls.context.key = &kb;
  so.tls.context.key_count = 1;
  so.tls.context.cert = &cb;
  so.tls.context.cert_count = 1;
  so.events = &sev;
  portls_server *srv;
  portls_error err;
  cr_assert_eq(portls_tls_create_server(loop, &so, &srv, &err), 0, "%s", err.message);
  cr_assert_eq(portls_server_listen(srv, "127.0.0.1", 0, 511, &err), 0, "%s", err.message);
  portls_address addr;
  cr_assert_eq(portls_server_address(srv, &addr), 0);

  int go[2];
  cr_assert_eq(pipe(go), 0);
  pid_t pid = fork();
  cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
  if (pid == 0) {
    close(go[1]);
    child((uint16_t)addr.port, go[0]);
  }
  close(go[0]);

  serve_until(loop, WARM, &expired);
  size_t before = heap_in_use();
  cr_assert_eq(write(go[1], "g", 1), 1);
  serve_until(loop, WARM + BATCH, &expired);
  size_t after = heap_in_use();
  close(go[1]);
  int status = 0;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the client process failed (status %d)",
            status);

  portls_server_close(srv);
  portls_timer_free(watchdog);
  portls_loop_run(loop);
  cr_assert_eq(portls_loop_free(loop), 0);
  portls_free(key);
  portls_free(cert);

  s_secure = s_errors = 0;
  if (before == 0 || after <= before) return -1;
  double per = (double)(after - before) / BATCH / 1024.0;
  fprintf(stderr, "%s: %.1f KiB per idle server connection (rest_min_connections %u)\n",
          portls_backend_name(), per, rest_min);
  return per;
}

Test(memory, an_idle_server_connection_is_small, .timeout = 60) {
  double per = idle_kib(1); /* every connection may rest */
  if (per < 0) cr_skip_test("this build cannot measure its heap");
  if (!portls_has_capability(PORTLS_CAP_IDLE_RELEASE))
    cr_skip_test("%s keeps its library session (%.1f KiB)", portls_backend_name(), per);
  cr_assert_lt(per, 8.0, "an idle TLS 1.3 server connection holds %.1f KiB", per);
}

/* Below rest_min_connections a connection never rests (nor pays, on OpenSSL,
 * for following its secrets): each keeps its library session. */
Test(memory, below_rest_min_connections_an_idle_connection_keeps_its_session, .timeout = 60) {
  double per = idle_kib(WARM + BATCH + 1);
  if (per < 0) cr_skip_test("this build cannot measure its heap");
  if (!portls_has_capability(PORTLS_CAP_IDLE_RELEASE))
    cr_skip_test("%s keeps its library session (%.1f KiB)", portls_backend_name(), per);
  cr_assert_gt(per, 10.0, "a connection below rest_min_connections rested (%.1f KiB)", per);
}
