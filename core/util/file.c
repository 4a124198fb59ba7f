/* portls_read_file: hosted builds only (a bare-metal build leaves this file out). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portls/portls.h"
#include "tls/observe.h"
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

/* ---- SSLKEYLOGFILE, when the application opts in ---- */

/* The process's key log file; lines are appended whole and flushed, so a
 * reader (Wireshark) sees each secret as soon as it exists. */
static FILE *keylog_file;

static void keylog_to_file(const char *line, size_t len) {
  if (fwrite(line, 1, len, keylog_file) == len) fflush(keylog_file);
}

int portls_keylog_from_env(portls_error *err) {
  int rc = portls__need_cap(PORTLS_CAP_KEYLOG, "SSLKEYLOGFILE", err);
  if (rc < 0) return rc;
  const char *path = getenv("SSLKEYLOGFILE");
  if (path == NULL || path[0] == '\0') return 0;
  errno = 0;
  FILE *f = fopen(path, "a");
  if (f == NULL) {
    int code = errno_code(errno);
    return portls__err(err, code, "SSLKEYLOGFILE: %s: %s", path,
                       errno ? strerror(errno) : "cannot open");
  }
  if (keylog_file != NULL) fclose(keylog_file);
  keylog_file = f;
  portls__keylog_sink = keylog_to_file;
  return 1;
}
