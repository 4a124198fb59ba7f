/* tls.createSecurePair(): a TLS socket whose lower layer is the application
 * itself. Ciphertext from the peer comes in through encrypted_write (copied)
 * or encrypted_feed (lent, decrypted in place); ciphertext for the peer goes
 * out through the encrypted_data event (push) or peek/consume (pull), straight
 * from the socket's output buffer. */
#include <string.h>

#include "tls/tls.h"

struct portls_pair {
  portls_socket *s;
  portls_pair_events ev;
  void *user;
  portls_loop *loop;

  portls__bytes in; /* copied input not yet delivered */
  const uint8_t *lent;
  size_t lent_len;
  portls_pair_cb lent_done;
  void *lent_user;
  int eof, reading;
  int closing;        /* the cleartext socket is closing: no more I/O */
  int encrypted_end;  /* encrypted_end was emitted */
  portls__bytes tail; /* ciphertext still owed to the peer when the cleartext closed */

  const uint8_t *out; /* the socket's write in flight */
  size_t out_len, out_off;
  portls_plat_status_cb write_cb;
  void *write_ud;
  portls_plat_status_cb shutdown_cb;
  void *shutdown_ud;
  portls_plat_cb close_cb;
  void *close_ud;
  uint64_t enc_written;

  portls__task task_deliver, task_out, task_write_done, task_shutdown, task_close, task_lent_done;
};

/* ---- input ---- */

static void lent_done(void *arg) {
  portls_pair *p = arg;
  portls_pair_cb done = p->lent_done;
  p->lent_done = NULL;
  if (done != NULL) done(p, p->lent_user);
}

static void deliver(void *arg) {
  portls_pair *p = arg;
  if (!p->reading || p->closing) return;
  if (p->in.len > 0) {
    portls__bytes b = p->in;
    memset(&p->in, 0, sizeof p->in);
    portls__socket_on_bytes(p->s, 0, b.data, b.len);
    portls__bytes_free(&b);
  }
  if (p->lent != NULL && !p->closing && p->reading) {
    const uint8_t *data = p->lent;
    size_t len = p->lent_len;
    p->lent = NULL;
    /* The engine keeps only an unfinished record; the buffer goes back now. */
    portls__socket_on_bytes(p->s, 0, data, len);
    portls__defer(p->loop, &p->task_lent_done, lent_done, p);
  }
  if (p->eof && p->reading && !p->closing && p->in.len == 0 && p->lent == NULL) {
    p->eof = 0;
    portls__socket_on_bytes(p->s, PORTLS_EOF, NULL, 0);
  }
}

static int pl_read_start(void *impl, portls_socket *s) {
  portls_pair *p = impl;
  (void)s;
  p->reading = 1;
  if (p->in.len > 0 || p->lent != NULL || p->eof)
    portls__defer(p->loop, &p->task_deliver, deliver, p);
  return 0;
}

static void pl_read_stop(void *impl) { ((portls_pair *)impl)->reading = 0; }

static int pair_usable(const portls_pair *p) {
  return p != NULL && !p->closing && !(p->s->flags & S_DESTROYED);
}

int portls_pair_encrypted_write(portls_pair *p, const void *data, size_t len) {
  if (p == NULL || (data == NULL && len > 0)) return PORTLS_EINVAL;
  if (!pair_usable(p)) return PORTLS_ESTREAM_DESTROYED;
  if (p->eof) return PORTLS_EWRITE_AFTER_END;
  if (portls__bytes_append(&p->in, data, len) != 0) return PORTLS_ENOMEM;
  if (p->reading) portls__defer(p->loop, &p->task_deliver, deliver, p);
  return 0;
}

int portls_pair_encrypted_feed(portls_pair *p, const void *data, size_t len, portls_pair_cb done,
                               void *user) {
  if (p == NULL || data == NULL || len == 0) return PORTLS_EINVAL;
  if (!pair_usable(p)) return PORTLS_ESTREAM_DESTROYED;
  if (p->eof) return PORTLS_EWRITE_AFTER_END;
  if (p->lent != NULL || p->lent_done != NULL) return PORTLS_EBUSY;
  p->lent = data;
  p->lent_len = len;
  p->lent_done = done;
  p->lent_user = user;
  if (p->reading) portls__defer(p->loop, &p->task_deliver, deliver, p);
  return 0;
}

int portls_pair_encrypted_end(portls_pair *p) {
  if (p == NULL) return PORTLS_EINVAL;
  if (!pair_usable(p)) return PORTLS_ESTREAM_DESTROYED;
  p->eof = 1;
  if (p->reading) portls__defer(p->loop, &p->task_deliver, deliver, p);
  return 0;
}

/* ---- output ---- */

/* The encrypted stream's end, once: after a close_notify, or when the
 * cleartext socket closes without one (a failed handshake, destroy()), so
 * that the side pumping the ciphertext always sees the end. */
static void end_encrypted(portls_pair *p) {
  if (p->encrypted_end) return;
  p->encrypted_end = 1;
  if (p->ev.encrypted_end != NULL) p->ev.encrypted_end(p, p->user);
}

static void write_done(void *arg) {
  portls_pair *p = arg;
  portls_plat_status_cb cb = p->write_cb;
  p->write_cb = NULL;
  p->out = NULL;
  p->out_len = p->out_off = 0;
  if (cb != NULL) cb(p->write_ud, 0);
}

static void out_task(void *arg) {
  portls_pair *p = arg;
  if (p->out == NULL || p->closing) return;
  if (p->ev.encrypted_data != NULL) {
    size_t n = p->out_len - p->out_off;
    const uint8_t *data = p->out + p->out_off;
    p->out_off = p->out_len;
    p->enc_written += n;
    p->ev.encrypted_data(p, data, n, p->user);
    write_done(p);
  } else if (p->ev.encrypted_readable != NULL) {
    p->ev.encrypted_readable(p, p->user);
  }
}

static int pl_try_write(void *impl, const portls_plat_iov *iov, size_t n) {
  (void)impl, (void)iov, (void)n;
  return 0; /* everything leaves from the loop */
}

static int pl_write(void *impl, const portls_plat_iov *iov, size_t n, portls_plat_status_cb cb,
                    void *ud) {
  portls_pair *p = impl;
  /* The socket keeps one write in flight, from one contiguous buffer. */
  if (n != 1 || p->out != NULL) return PORTLS_EBUSY;
  p->out = iov[0].base;
  p->out_len = iov[0].len;
  p->out_off = 0;
  p->write_cb = cb;
  p->write_ud = ud;
  portls__defer(p->loop, &p->task_out, out_task, p);
  return 0;
}

size_t portls_pair_encrypted_peek(portls_pair *p, const void **data) {
  if (data != NULL) *data = NULL;
  if (p == NULL || data == NULL || p->out == NULL || p->out_off == p->out_len) return 0;
  *data = p->out + p->out_off;
  return p->out_len - p->out_off;
}

void portls_pair_encrypted_consume(portls_pair *p, size_t n) {
  if (p == NULL || p->out == NULL) return;
  size_t left = p->out_len - p->out_off;
  if (n > left) n = left;
  p->out_off += n;
  p->enc_written += n;
  /* Closing, the rest is the pair's own copy (the tail): nothing to complete. */
  if (p->out_off == p->out_len && !p->closing)
    portls__defer(p->loop, &p->task_write_done, write_done, p);
}

uint64_t portls_pair_encrypted_bytes_written(const portls_pair *p) {
  return p ? p->enc_written : 0;
}

static void shutdown_done(void *arg) {
  portls_pair *p = arg;
  end_encrypted(p);
  p->shutdown_cb(p->shutdown_ud, 0);
}

static int pl_shutdown(void *impl, portls_plat_status_cb cb, void *ud) {
  portls_pair *p = impl;
  p->shutdown_cb = cb;
  p->shutdown_ud = ud;
  portls__defer(p->loop, &p->task_shutdown, shutdown_done, p);
  return 0;
}

static void pair_free(portls_pair *p) {
  portls_loop *loop = p->loop;
  portls__cancel(loop, &p->task_deliver);
  portls__cancel(loop, &p->task_out);
  portls__cancel(loop, &p->task_write_done);
  portls__cancel(loop, &p->task_shutdown);
  portls__cancel(loop, &p->task_lent_done);
  portls__bytes_free(&p->in);
  portls__bytes_free(&p->tail);
  portls__free(p);
}

/* The cleartext socket has closed: what the peer is still owed (the alert
 * of a failed handshake, most often) goes out, the encrypted stream ends,
 * the cleartext socket's 'error' and 'close' come, then the pair's own
 * 'close', and only then is the pair freed. Until then the application may
 * still call the pair's functions: they fail with PORTLS_ESTREAM_DESTROYED. */
static void closed(void *arg) {
  portls_pair *p = arg;
  portls_plat_cb cb = p->close_cb;
  void *ud = p->close_ud;
  portls_plat_status_cb wcb = p->write_cb;
  void *wud = p->write_ud;
  portls_pair_cb done = p->lent_done;
  void *done_user = p->lent_user;
  p->write_cb = NULL;
  p->lent_done = NULL;
  if (wcb != NULL) wcb(wud, PORTLS_ECANCELED);
  if (done != NULL) done(p, done_user); /* the lent buffer is released */
  if (p->out != NULL && p->out_off < p->out_len) {
    if (p->ev.encrypted_data != NULL) {
      size_t n = p->out_len - p->out_off;
      p->out_off = p->out_len;
      p->enc_written += n;
      p->ev.encrypted_data(p, p->tail.data, n, p->user);
    } else if (p->ev.encrypted_readable != NULL) {
      p->ev.encrypted_readable(p, p->user); /* peek it now: the pair goes with 'close' */
    }
  }
  end_encrypted(p);
  cb(ud); /* the cleartext socket's 'error' and 'close'; it is freed after */
  p->s = NULL;
  if (p->ev.close != NULL) p->ev.close(p, p->user);
  pair_free(p);
}

static void pl_close(void *impl, portls_plat_cb cb, void *ud) {
  portls_pair *p = impl;
  p->close_cb = cb;
  p->close_ud = ud;
  p->closing = 1;
  p->reading = 0;
  portls__cancel(p->loop, &p->task_deliver);
  portls__cancel(p->loop, &p->task_out);
  portls__cancel(p->loop, &p->task_write_done);
  portls__cancel(p->loop, &p->task_shutdown);
  /* The ciphertext not handed out yet (the write in flight, and what the
   * socket queued behind it) lives in the socket, which goes with its
   * 'close': the pair keeps a copy to hand out before it ends. */
  const portls__bytes *queued = &p->s->out;
  int rc = 0;
  if (p->out != NULL && p->out_off < p->out_len)
    rc = portls__bytes_append(&p->tail, p->out + p->out_off, p->out_len - p->out_off);
  if (rc == 0 && queued->len > 0) rc = portls__bytes_append(&p->tail, queued->data, queued->len);
  if (rc != 0) portls__bytes_free(&p->tail); /* out of memory: the peer sees the end only */
  p->out = p->tail.len > 0 ? p->tail.data : NULL;
  p->out_len = p->tail.len;
  p->out_off = 0;
  portls__defer(p->loop, &p->task_close, closed, p);
}

static const portls__lower_ops pair_lower = {
    .read_start = pl_read_start,
    .read_stop = pl_read_stop,
    .try_write = pl_try_write,
    .write = pl_write,
    .shutdown = pl_shutdown,
    .close = pl_close,
};

static void on_secure(portls_socket *s, void *arg) {
  (void)s;
  portls_pair *p = arg;
  if (p->ev.secure != NULL) p->ev.secure(p, p->user);
}

int portls_pair_new(portls_loop *loop, const portls_tls_socket_options *o,
                    const portls_pair_events *ev, void *user, portls_pair **out,
                    portls_error *err) {
  if (loop == NULL || out == NULL)
    return portls__err(err, PORTLS_EINVAL, "createSecurePair: NULL argument");
  *out = NULL;
  portls_tls_socket_options defaults;
  if (o == NULL) {
    portls_tls_socket_options_init(&defaults);
    o = &defaults;
  }
  portls_pair *p = portls__calloc(1, sizeof *p);
  if (p == NULL) return portls__err(err, PORTLS_ENOMEM, NULL);
  p->loop = loop;
  if (ev != NULL) p->ev = *ev;
  p->user = user;
  portls_socket *s;
  int rc = portls__tls_over(loop, p, &pair_lower, o, &s, err);
  if (rc < 0) {
    portls__free(p);
    return rc;
  }
  p->s = s;
  portls__tls_of(s)->on_secure = on_secure;
  portls__tls_of(s)->on_secure_arg = p;
  portls__defer(loop, &s->task_resume, portls__tls_start_task, s);
  *out = p;
  return 0;
}

portls_socket *portls_pair_cleartext(portls_pair *p) { return p ? p->s : NULL; }
