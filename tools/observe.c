/* portls command-line tool: --keylog, SSLKEYLOGFILE and --trace (docs/cli.md). */
#include <errno.h>
#include <string.h>

#include "cli.h"

static FILE *keylog_file;

int cli_observe_open(const cli_opts *o) {
  if (cli_has(o, OPT_TRACE) && cli_num(o, OPT_TRACE, 0) &&
      cli_require_cap("--trace", PORTLS_CAP_TRACE) != 0)
    return CLI_EXIT_USAGE;
  if (cli_has(o, OPT_KEYLOG)) {
    const char *path = cli_str(o, OPT_KEYLOG, NULL);
    if (cli_require_cap("--keylog", PORTLS_CAP_KEYLOG) != 0) return CLI_EXIT_USAGE;
    if (path[0] == '\0') {
      ev_error(PORTLS_EINVAL, "--keylog: needs a file name");
      return CLI_EXIT_USAGE;
    }
    errno = 0;
    keylog_file = fopen(path, "a");
    if (keylog_file == NULL) {
      int e = errno;
      ev_errorf(e == ENOENT   ? PORTLS_ENOENT
                : e == EACCES ? PORTLS_EACCES
                              : PORTLS_EIO,
                "--keylog: %s: %s", path, e ? strerror(e) : "cannot open");
      return CLI_EXIT_USAGE;
    }
    return 0;
  }
  /* Without --keylog, the tool honours SSLKEYLOGFILE, as curl does; the
   * library would not unless asked. */
  portls_error err = {0, ""};
  int rc = portls_keylog_from_env(&err);
  if (rc < 0 && rc != PORTLS_ENOTSUP) {
    ev_error_from(&err);
    return CLI_EXIT_USAGE;
  }
  return 0;
}

int cli_keylog_wanted(void) { return keylog_file != NULL; }

void cli_keylog_write(const void *line, size_t len) {
  if (keylog_file != NULL && fwrite(line, 1, len, keylog_file) == len) fflush(keylog_file);
}

void cli_observe_close(void) {
  if (keylog_file != NULL) fclose(keylog_file);
  keylog_file = NULL;
}
