/* portls: the posix platform's name lookup.
 *
 * POSIX has no asynchronous resolver and this platform has no threads, so
 * getaddrinfo() runs on the loop's thread and BLOCKS THE LOOP while it
 * resolves: instantly for literal addresses and names in /etc/hosts, up to
 * the resolver's timeout for a DNS name whose server does not answer. It
 * never runs inside lookup(): lookup() queues the request, and the loop's
 * pending-callback queue calls getaddrinfo() and then the callback, so the
 * result always arrives from the loop, as with the libuv platform (whose
 * thread pool resolves without blocking). A port with an asynchronous
 * resolver (lwIP's dns_gethostbyname() with a callback) can do better.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

#include "../common/sockaddr.h"
#include "px.h"

/* glibc hides these two outside _GNU_SOURCE (their values are part of its
 * ABI); Node reports both as ENOTFOUND, like EAI_NONAME. Elsewhere they are
 * mapped when the headers show them. */
#if defined(__GLIBC__) && !defined(EAI_NODATA)
#define EAI_NODATA (-5)
#endif
#if defined(__GLIBC__) && !defined(EAI_ADDRFAMILY)
#define EAI_ADDRFAMILY (-9)
#endif

struct portls_plat_lookup {
  px_pending item;
  portls_plat_loop *loop;
  portls_plat_lookup_cb cb;
  void *ud;
  uint16_t port;
  struct addrinfo hints;
  unsigned char canceled;
  unsigned char done; /* the callback has started */
  char host[];
};

/* Mirrors the EAI_* half of portls__uv_err(). */
static int px_gai_err(int rc, int saved_errno) {
  switch (rc) {
  case EAI_NONAME:
#ifdef EAI_NODATA
#if EAI_NODATA != EAI_NONAME
  case EAI_NODATA:
#endif
#endif
#ifdef EAI_ADDRFAMILY
  case EAI_ADDRFAMILY:
#endif
    return PORTLS_EAI_NONAME;
  case EAI_MEMORY:
    return PORTLS_ENOMEM;
  case EAI_BADFLAGS:
  case EAI_FAMILY:
  case EAI_SERVICE:
  case EAI_SOCKTYPE:
#ifdef EAI_BADHINTS
  case EAI_BADHINTS:
#endif
#ifdef EAI_PROTOCOL
  case EAI_PROTOCOL:
#endif
    return PORTLS_EINVAL;
  /* EAI_AGAIN (temporary failure) has no code of its own in errors.h. */
  case EAI_AGAIN:
  case EAI_FAIL:
  case EAI_OVERFLOW:
    return PORTLS_EAI_FAIL;
  case EAI_SYSTEM:
    return saved_errno != 0 ? portls__px_err(saved_errno) : PORTLS_EAI_FAIL;
  default:
    return PORTLS_EIO;
  }
}

static void px_lookup_run(px_pending *p) {
  portls_plat_lookup *lk = PX_CONTAINER(p, portls_plat_lookup, item);
  struct addrinfo *res = NULL;
  portls_plat_addr *addrs = NULL;
  size_t n = 0;
  int rc, status;

  if (lk->canceled) {
    portls_plat_free(lk);
    return;
  }
  /* From here on the request is complete: cancelling it (even from its own
   * callback) is a no-op, and it stops counting as open. */
  lk->done = 1;
  lk->loop->nopen--;

  errno = 0;
  rc = getaddrinfo(lk->host, NULL, &lk->hints, &res);
  /* It may have blocked for a while: timers the callback starts count from
   * now. */
  portls__px_update_time(lk->loop);
  if (rc != 0) {
    status = px_gai_err(rc, errno);
  } else {
    status = portls__plat_from_addrinfo(res, lk->port, &addrs, &n);
    freeaddrinfo(res);
  }

  lk->cb(lk->ud, status, status == 0 ? addrs : NULL, status == 0 ? n : 0);
  portls_plat_free(addrs);
  portls_plat_free(lk);
}

int portls__px_lookup(portls_plat_loop *loop, const char *host, uint16_t port, int family,
                      portls_plat_lookup_cb cb, void *ud, portls_plat_lookup **out) {
  portls_plat_lookup *lk;
  struct addrinfo hints;
  size_t len;

  if (out != NULL) *out = NULL;
  if (loop == NULL || host == NULL || cb == NULL) return PORTLS_EINVAL;
  if (portls__plat_lookup_hints(family, &hints) != 0) return PORTLS_EINVAL;
  len = strlen(host);
  if (len > (size_t)-1 - sizeof *lk - 1) return PORTLS_ENOMEM;
  lk = portls_plat_alloc(sizeof *lk + len + 1);
  if (lk == NULL) return PORTLS_ENOMEM;
  memset(lk, 0, sizeof *lk);
  lk->item.run = px_lookup_run;
  lk->loop = loop;
  lk->cb = cb;
  lk->ud = ud;
  lk->port = port;
  lk->hints = hints;
  memcpy(lk->host, host, len + 1);
  portls__px_queue(loop, &lk->item);
  loop->nopen++;
  if (out != NULL) *out = lk;
  return 0;
}

void portls__px_lookup_cancel(portls_plat_lookup *lk) {
  /* After the callback has started the lookup is complete (and freed when
   * the callback returns): cancelling it then is a no-op. Otherwise it stays
   * queued, and is freed when the loop reaches it, so a second cancel before
   * then is harmless too. */
  if (lk == NULL || lk->canceled || lk->done) return;
  lk->canceled = 1;
  lk->loop->nopen--;
}
