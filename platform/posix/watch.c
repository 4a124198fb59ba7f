/* portls: the posix platform's descriptor watches (portls_poll_new()): an
 * fd the application owns, polled by the loop beside its streams. */
#include <poll.h>

#include "portls/errors.h"
#include "px.h"

struct portls_plat_watch {
  px_io io; /* first */
  portls_plat_loop *loop;
  portls_plat_watch_cb cb;
  void *ud;
  int wanted;           /* PORTLS_PLAT_WATCH_* */
  unsigned char active; /* counted in loop->nactive */
  portls_plat_cb close_cb;
  void *close_ud;
  px_pending close_item;
};

static void px_watch_set_active(portls_plat_watch *w, int active) {
  if (active == w->active) return;
  if (active)
    w->loop->nactive++;
  else
    w->loop->nactive--;
  w->active = (unsigned char)active;
}

static void px_watch_events(px_io *io, short revents) {
  portls_plat_watch *w = PX_CONTAINER(io, portls_plat_watch, io);
  int events = 0;
  if (revents & POLLNVAL) {
    /* Closed behind our back: report it once and stop, as libuv does. */
    w->io.events = 0;
    px_watch_set_active(w, 0);
    w->wanted = 0;
    w->cb(w->ud, PORTLS_EINVAL, 0);
    return;
  }
  /* Errors and hang-ups wake both directions: the owner's read or write
   * then sees what happened. */
  if ((w->wanted & PORTLS_PLAT_WATCH_READ) && (revents & (POLLIN | POLLHUP | POLLERR)))
    events |= PORTLS_PLAT_WATCH_READ;
  if ((w->wanted & PORTLS_PLAT_WATCH_WRITE) && (revents & (POLLOUT | POLLHUP | POLLERR)))
    events |= PORTLS_PLAT_WATCH_WRITE;
  if (events != 0) w->cb(w->ud, 0, events);
}

static void px_watch_close_item(px_pending *p) {
  portls_plat_watch *w = PX_CONTAINER(p, portls_plat_watch, close_item);
  if (w->close_cb != NULL) w->close_cb(w->close_ud);
  portls_plat_free(w);
}

int portls__px_watch_new(portls_plat_loop *loop, int fd, portls_plat_watch_cb cb, void *ud,
                         portls_plat_watch **out) {
  portls_plat_watch *w;
  int rc;
  if (loop == NULL || fd < 0 || cb == NULL || out == NULL) return PORTLS_EINVAL;
  w = portls_plat_alloc(sizeof *w);
  if (w == NULL) return PORTLS_ENOMEM;
  *w = (portls_plat_watch){.loop = loop, .cb = cb, .ud = ud};
  w->io.fd = fd;
  w->io.on_events = px_watch_events;
  w->close_item.run = px_watch_close_item;
  rc = portls__px_io_add(loop, &w->io);
  if (rc != 0) {
    portls_plat_free(w);
    return rc;
  }
  loop->nopen++;
  *out = w;
  return 0;
}

int portls__px_watch_start(portls_plat_watch *w, int events) {
  short ev = 0;
  if (w == NULL || w->io.closing) return PORTLS_EINVAL;
  if (events & ~(PORTLS_PLAT_WATCH_READ | PORTLS_PLAT_WATCH_WRITE)) return PORTLS_EINVAL;
  if (events & PORTLS_PLAT_WATCH_READ) ev |= POLLIN;
  if (events & PORTLS_PLAT_WATCH_WRITE) ev |= POLLOUT;
  w->wanted = events;
  w->io.events = ev;
  px_watch_set_active(w, ev != 0);
  return 0;
}

void portls__px_watch_close(portls_plat_watch *w, portls_plat_cb close_cb, void *ud) {
  if (w == NULL || w->io.closing) return;
  w->close_cb = close_cb;
  w->close_ud = ud;
  w->io.closing = 1;
  w->io.events = 0;
  px_watch_set_active(w, 0);
  w->loop->nopen--;
  portls__px_io_remove(w->loop, &w->io);
  portls__px_queue(w->loop, &w->close_item);
}
