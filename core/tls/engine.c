#include <string.h>

#include "tls/engine.h"

static size_t eng_recv(void *io, uint8_t *buf, size_t len) {
  portls__engine *e = io;
  size_t got = 0;
  size_t avail = e->left.len - e->left_off;
  if (avail > 0) {
    size_t n = PORTLS__MIN(avail, len);
    memcpy(buf, e->left.data + e->left_off, n);
    e->left_off += n;
    got += n;
    if (e->left_off == e->left.len) e->left.len = e->left_off = 0;
  }
  if (got < len && e->cur_len > 0) {
    size_t n = PORTLS__MIN(e->cur_len, len - got);
    memcpy(buf + got, e->cur, n);
    e->cur += n;
    e->cur_len -= n;
    got += n;
  }
  return got;
}

static int eng_send(void *io, const uint8_t *buf, size_t len) {
  portls__engine *e = io;
  return portls__bytes_append(e->out, buf, len);
}

int portls__engine_init(portls__engine *e, portls_be_ctx *ctx, const portls_be_session_config *cfg,
                        portls__bytes *out, portls_error *err) {
  memset(e, 0, sizeof *e);
  e->out = out;
  e->io.io = e;
  e->io.recv = eng_recv;
  e->io.send = eng_send;
  return portls__backend.session_new(ctx, cfg, &e->io, &e->sess, err);
}

void portls__engine_free(portls__engine *e) {
  if (e->sess != NULL) portls__backend.session_free(e->sess);
  e->sess = NULL;
  portls__bytes_free(&e->left);
  e->left_off = 0;
  e->cur = NULL;
  e->cur_len = 0;
}

void portls__engine_input(portls__engine *e, const uint8_t *data, size_t len) {
  e->cur = data;
  e->cur_len = len;
}

int portls__engine_input_done(portls__engine *e) {
  int rc = 0;
  if (e->cur_len > 0) {
    if (e->left_off > 0) {
      portls__bytes_consume(&e->left, e->left_off);
      e->left_off = 0;
    }
    rc = portls__bytes_append(&e->left, e->cur, e->cur_len);
  }
  e->cur = NULL;
  e->cur_len = 0;
  /* Idle connections give their buffers back. */
  if (e->left.len == e->left_off) portls__bytes_free(&e->left), e->left_off = 0;
  return rc;
}

size_t portls__engine_pending_input(const portls__engine *e) {
  return e->left.len - e->left_off + e->cur_len;
}
