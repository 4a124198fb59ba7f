#include <string.h>

#include "tls/sni.h"

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

int portls__sni_match(const char *p, const char *n) {
  /* Backtracking only at '*', which never crosses a dot: linear in practice,
   * and bounded by 255-byte names. */
  while (*p != '\0') {
    if (*p == '*') {
      p++;
      for (const char *q = n;; q++) {
        if (portls__sni_match(p, q)) return 1;
        if (*q == '\0' || *q == '.') return 0;
      }
    }
    if (*n == '\0' || lower((unsigned char)*p) != lower((unsigned char)*n)) return 0;
    p++;
    n++;
  }
  return *n == '\0';
}

int portls__sni_same_pattern(const char *a, const char *b) {
  for (; *a != '\0' && lower((unsigned char)*a) == lower((unsigned char)*b); a++, b++) {}
  return *a == '\0' && *b == '\0';
}

portls_context *portls__sni_lookup(const portls__hello_hooks *cfg, const char *name) {
  for (const portls__sni_entry *e = cfg->contexts; e != NULL; e = e->next)
    if (portls__sni_match(e->pattern, name)) return e->ctx;
  return NULL;
}

int portls__hooks_need_hello(const portls__hello_hooks *h) {
  return h != NULL && (h->cb != NULL || h->contexts != NULL || h->resume_session != NULL ||
                       h->ocsp_request != NULL || h->alpn_cb != NULL);
}
