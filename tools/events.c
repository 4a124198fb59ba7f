/* portls command-line tool: the event lines of docs/cli.md. */
#include <stdarg.h>
#include <stdio.h>

#include "cli.h"

/* Every line is built in this writer, one per thread (serve --workers runs
 * connection events on several), and printed with one flush per line. */
static _Thread_local jw out;

jw *ev_begin(const char *event) {
  jw_reset(&out);
  jw_begin_object(&out);
  jw_kstring(&out, "event", event);
  return &out;
}

void ev_end(jw *w) {
  jw_end_object(w);
  jw_print(w);
  /* A worker thread's writer would outlive its thread otherwise. */
  jw_free(w);
}

void ev_error(int code, const char *message) {
  jw *w = ev_begin("error");
  jw_kstring(w, "code", portls_err_name(code));
  jw_kstring(w, "message", message && *message ? message : portls_strerror(code));
  ev_end(w);
}

void ev_errorf(int code, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  ev_error(code, msg);
}

void ev_error_from(const portls_error *err) { ev_error(err->code, err->message); }

void ev_close(int had_error) {
  jw *w = ev_begin("close");
  jw_kbool(w, "hadError", had_error);
  ev_end(w);
}

void jw_cert(jw *w, const portls_cert *cert) {
  char *json = cert ? portls_cert_to_json(cert) : NULL;
  if (json) {
    jw_raw(w, json);
    portls_free(json);
  } else {
    jw_begin_object(w);
    jw_end_object(w);
  }
}

/* Bytes as lowercase hex (n bytes), or null when n is negative. */
static void jw_hex_or_null(jw *w, const uint8_t *bytes, int n) {
  static const char digits[] = "0123456789abcdef";
  char hex[2 * CLI_EKM_MAX + 1];
  if (n < 0 || (size_t)n > CLI_EKM_MAX) {
    jw_null(w);
    return;
  }
  for (int i = 0; i < n; i++) {
    hex[2 * i] = digits[bytes[i] >> 4];
    hex[2 * i + 1] = digits[bytes[i] & 15];
  }
  hex[2 * n] = '\0';
  jw_string(w, hex);
}

void ev_keying_material(portls_socket *sock, const cli_opts *o) {
  const char *spec = cli_str(o, OPT_EXPORT_KEYING_MATERIAL, NULL);
  size_t len;
  const char *label;
  if (spec == NULL || cli_ekm_spec(spec, &len, &label) < 0) return;
  uint8_t out[CLI_EKM_MAX];
  portls_error err;
  int rc = portls_socket_export_keying_material(sock, len, label, NULL, 0, out, &err);
  if (rc < 0) {
    ev_error_from(&err);
    return;
  }
  jw *w = ev_begin("keyingMaterial");
  jw_kint(w, "length", (long long)len);
  jw_kstring(w, "label", label);
  jw_key(w, "hex");
  jw_hex_or_null(w, out, (int)len);
  ev_end(w);
}

/* The fields are in docs/cli.md's order; servername is the server's view
 * only, ephemeralKeyInfo the client's (Node gives null on a server). */
void ev_secure(const char *event, portls_socket *sock, int is_client) {
  jw *w = ev_begin(event);
  jw_kbool(w, "authorized", portls_socket_authorized(sock) > 0);
  int verr = portls_socket_authorization_error(sock);
  jw_kstring(w, "authorizationError", verr ? portls_err_name(verr) : NULL);
  if (!is_client) jw_kstring_or_false(w, "servername", portls_socket_servername(sock));
  jw_kstring_or_false(w, "alpnProtocol", portls_socket_alpn_protocol(sock));
  jw_kstring_or_false(w, "npnProtocol", portls_socket_npn_protocol(sock));
  jw_kstring(w, "protocol", portls_socket_get_protocol(sock));

  portls_cipher cipher;
  jw_key(w, "cipher");
  if (portls_socket_get_cipher(sock, &cipher) == 0) {
    jw_begin_object(w);
    jw_kstring(w, "name", cipher.name);
    jw_kstring(w, "version", cipher.version);
    jw_end_object(w);
  } else {
    jw_null(w);
  }

  if (is_client) {
    portls_ephemeral_key_info info;
    jw_key(w, "ephemeralKeyInfo");
    jw_begin_object(w);
    if (portls_socket_get_ephemeral_key_info(sock, &info) == 0 && info.type) {
      jw_kstring(w, "type", info.type);
      if (info.name[0]) jw_kstring(w, "name", info.name);
      jw_kint(w, "size", info.size);
    }
    jw_end_object(w);
  }

  jw_kbool(w, "sessionReused", portls_socket_is_session_reused(sock) > 0);
  /* getFinished() / getPeerFinished() as hex; null where the backend does not tell. */
  uint8_t fin[PORTLS_FINISHED_MAX];
  int n = portls_socket_get_finished(sock, fin, sizeof fin, NULL);
  jw_key(w, "finished");
  jw_hex_or_null(w, fin, n);
  n = portls_socket_get_peer_finished(sock, fin, sizeof fin, NULL);
  jw_key(w, "peerFinished");
  jw_hex_or_null(w, fin, n);

  portls_cert *peer = NULL;
  jw_key(w, "peerCertificate");
  if (portls_socket_get_peer_certificate(sock, 0, &peer, NULL) < 0) peer = NULL;
  jw_cert(w, peer);
  if (peer) portls_cert_free(peer);
  ev_end(w);
}
