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

const char *portls__alert_name(int description) {
  switch (description) {
  case 0:
    return "close_notify";
  case 10:
    return "unexpected_message";
  case 20:
    return "bad_record_mac";
  case 21:
    return "decryption_failed";
  case 22:
    return "record_overflow";
  case 30:
    return "decompression_failure";
  case 40:
    return "handshake_failure";
  case 41:
    return "no_certificate";
  case 42:
    return "bad_certificate";
  case 43:
    return "unsupported_certificate";
  case 44:
    return "certificate_revoked";
  case 45:
    return "certificate_expired";
  case 46:
    return "certificate_unknown";
  case 47:
    return "illegal_parameter";
  case 48:
    return "unknown_ca";
  case 49:
    return "access_denied";
  case 50:
    return "decode_error";
  case 51:
    return "decrypt_error";
  case 70:
    return "protocol_version";
  case 71:
    return "insufficient_security";
  case 80:
    return "internal_error";
  case 86:
    return "inappropriate_fallback";
  case 90:
    return "user_canceled";
  case 100:
    return "no_renegotiation";
  case 109:
    return "missing_extension";
  case 110:
    return "unsupported_extension";
  case 112:
    return "unrecognized_name";
  case 113:
    return "bad_certificate_status_response";
  case 115:
    return "unknown_psk_identity";
  case 116:
    return "certificate_required";
  case 120:
    return "no_application_protocol";
  default:
    return NULL;
  }
}

int portls__alert_code(int description) {
  if (description == 70) return PORTLS_EVERSION;         /* protocol_version */
  if (description == 100) return PORTLS_ERENEG_DISABLED; /* no_renegotiation */
  if (description < 0 || description > 255) return PORTLS_ETLS_ALERT;
  int code = -200 - description; /* errors.h: a named alert's code */
  return strcmp(portls_err_name(code), "UNKNOWN") != 0 ? code : PORTLS_ETLS_ALERT;
}
