/* portls_read_file: hosted builds only (a bare-metal build leaves this file out). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "portls/portls.h"
#include "util/util.h"

static int errno_code(int e) {
#ifdef ENOENT
  if (e == ENOENT) return PORTLS_ENOENT;
#endif
#ifdef EACCES
  if (e == EACCES) return PORTLS_EACCES;
#endif
#ifdef EISDIR
  if (e == EISDIR) return PORTLS_EINVAL;
#endif
  return PORTLS_EIO;
}

int portls_read_file(const char *path, portls_buf *out, portls_error *err) {
  if (path == NULL || out == NULL)
    return portls__err(err, PORTLS_EINVAL, "read_file: NULL argument");
  out->base = NULL;
  out->len = 0;
  errno = 0;
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    int code = errno_code(errno);
    return portls__err(err, code, "%s: %s", path, errno ? strerror(errno) : "cannot open");
  }
  portls__bytes b = {0};
  char chunk[8192];
  size_t n;
  int rc = 0;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if ((rc = portls__bytes_append(&b, chunk, n)) != 0) break;
  }
  if (rc == 0 && ferror(f))
    rc = portls__err(err, errno_code(errno), "%s: read error", path);
  else if (rc != 0)
    portls__err(err, rc, "%s: out of memory", path);
  fclose(f);
  if (rc != 0) {
    portls__bytes_free(&b);
    return rc;
  }
  /* A trailing NUL that is not counted lets callers treat PEM as a string. */
  if (portls__bytes_append(&b, "", 1) != 0) {
    portls__bytes_free(&b);
    return portls__err(err, PORTLS_ENOMEM, "%s: out of memory", path);
  }
  out->base = b.data;
  out->len = b.len - 1;
  return 0;
}
