/* One cipher string, one selection on every backend: the string is compiled
 * by core against the backend's suites, so a name the backend lacks is simply
 * not selected while an unknown name is an error everywhere. */
#include <string.h>

#include "portls/backend.h"
#include "portls/portls.h"
#include "tls/suites.h"
#include "util/util.h"

int portls__ciphers_compile(const char *str, uint16_t **ids, size_t *n, portls_error *err) {
  *ids = NULL;
  *n = 0;
  const uint16_t *avail = NULL;
  size_t n_avail = portls__backend.suites(&avail);
  uint16_t *v12 = NULL, *v13 = NULL;
  size_t n12 = 0, n13 = 0;
  int rc = portls__cipher_compile(str, avail, n_avail, &v12, &n12, err);
  if (rc < 0) return rc;
  rc = portls__cipher_compile_tls13(str, avail, n_avail, &v13, &n13, err);
  if (rc < 0) {
    portls__free(v12);
    return rc;
  }
  /* As `openssl ciphers` lists them: TLS 1.3 suites first. */
  uint16_t *all = portls__malloc((n12 + n13 + 1) * sizeof *all);
  if (all == NULL) {
    portls__free(v12);
    portls__free(v13);
    return portls__err(err, PORTLS_ENOMEM, NULL);
  }
  if (n13) memcpy(all, v13, n13 * sizeof *all);
  if (n12) memcpy(all + n13, v12, n12 * sizeof *all);
  portls__free(v12);
  portls__free(v13);
  *ids = all;
  *n = n12 + n13;
  return 0;
}

int portls_cipher_list(const char *ciphers, const char ***names, size_t *count, portls_error *err) {
  if (ciphers == NULL || names == NULL || count == NULL)
    return portls__err(err, PORTLS_EINVAL, "cipher_list: NULL argument");
  *names = NULL;
  *count = 0;
  uint16_t *ids;
  size_t n;
  int rc = portls__ciphers_compile(ciphers, &ids, &n, err);
  if (rc < 0) return rc;
  const char **out = portls__malloc((n + 1) * sizeof *out);
  if (out == NULL) {
    portls__free(ids);
    return portls__err(err, PORTLS_ENOMEM, NULL);
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    const portls__suite *s = portls__suite_by_id(ids[i]);
    if (s != NULL) out[k++] = s->name;
  }
  out[k] = NULL;
  portls__free(ids);
  *names = out;
  *count = k;
  return 0;
}
