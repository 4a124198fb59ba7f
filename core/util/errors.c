#include <stdio.h>
#include <string.h>

#include "portls/errors.h"
#include "util/util.h"

const char *portls_err_name(int code) {
  switch (code) {
#define XX(id, val, name, msg)                                                                     \
  case PORTLS_##id:                                                                                \
    return name;
    PORTLS_ERRNO_MAP(XX)
#undef XX
  default:
    return "UNKNOWN";
  }
}

const char *portls_strerror(int code) {
  switch (code) {
#define XX(id, val, name, msg)                                                                     \
  case PORTLS_##id:                                                                                \
    return msg;
    PORTLS_ERRNO_MAP(XX)
#undef XX
  default:
    return "unknown error";
  }
}

int portls_err_is_verify(int code) { return code <= -100 && code >= -125; }

int portls__verr(portls_error *err, int code, const char *fmt, va_list ap) {
  if (err != NULL) {
    err->code = code;
    if (fmt == NULL)
      snprintf(err->message, sizeof err->message, "%s", portls_strerror(code));
    else
      vsnprintf(err->message, sizeof err->message, fmt, ap);
  }
  return code;
}

int portls__err(portls_error *err, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  portls__verr(err, code, fmt, ap);
  va_end(ap);
  return code;
}

int portls__alert_code(int description) {
  if (description == 70) return PORTLS_EVERSION;         /* protocol_version */
  if (description == 100) return PORTLS_ERENEG_DISABLED; /* no_renegotiation */
  if (description < 0 || description > 255) return PORTLS_ETLS_ALERT;
  int code = -200 - description; /* errors.h: a named alert's code */
  return strcmp(portls_err_name(code), "UNKNOWN") != 0 ? code : PORTLS_ETLS_ALERT;
}
