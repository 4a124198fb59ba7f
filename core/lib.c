/* Library-wide queries: versions, backend, capabilities, digests. */
#include <string.h>

#include "portls/backend.h"
#include "portls/platform.h"
#include "portls/portls.h"
#include "util/sync.h"
#include "util/util.h"

#define PORTLS__STR2(x) #x
#define PORTLS__STR(x) PORTLS__STR2(x)

const char *portls_version_string(void) {
  return PORTLS__STR(PORTLS_VERSION_MAJOR) "." PORTLS__STR(PORTLS_VERSION_MINOR) "." PORTLS__STR(
      PORTLS_VERSION_PATCH);
}

const char *portls_backend_name(void) { return portls__backend.name; }
const char *portls_backend_version(void) { return portls__backend.version(); }
const char *portls_platform_name(void) { return portls__platform.name; }

uint64_t portls_capabilities(void) {
  uint64_t caps = portls__backend.capabilities();
  /* Core decodes PKCS#12 and encrypted keys itself when the backend gives it
   * the primitives (core/tls/pkcs*.c). */
  if (portls__backend.cipher_decrypt != NULL)
    caps |= (1u << PORTLS_CAP_PFX) | (1u << PORTLS_CAP_ENCRYPTED_KEYS);
  return caps;
}

int portls_has_capability(portls_cap cap) {
  /* Unsigned: an enum may be an unsigned char (arm-none-eabi's -fshort-enums). */
  if ((unsigned)cap >= (unsigned)PORTLS_CAP_COUNT_) return 0;
  return (int)((portls_capabilities() >> cap) & 1u);
}

const char *portls_capability_name(portls_cap cap) {
  switch (cap) {
#define XX(id, bit, name, desc)                                                                    \
  case PORTLS_CAP_##id:                                                                            \
    return name;
    PORTLS_CAP_MAP(XX)
#undef XX
  default:
    return NULL;
  }
}

const char *portls_capability_description(portls_cap cap) {
  switch (cap) {
#define XX(id, bit, name, desc)                                                                    \
  case PORTLS_CAP_##id:                                                                            \
    return desc;
    PORTLS_CAP_MAP(XX)
#undef XX
  default:
    return NULL;
  }
}

/* Names an option the backend cannot honour, as the design asks: option,
 * capability, backend. */
int portls__need_cap(portls_cap cap, const char *option, portls_error *err) {
  if (portls_has_capability(cap)) return 0;
  return portls__err(err, PORTLS_ENOTSUP, "%s: needs capability '%s', which backend '%s' lacks",
                     option, portls_capability_name(cap), portls__backend.name);
}

int portls__digest(int alg, const void *data, size_t len, uint8_t *out) {
  return portls__backend.digest(alg, data, len, out);
}

extern const portls_allocator *portls__allocator(void);

/* The backend's process-wide initialisation runs once, whichever thread
 * creates the first loop or context; every thread sees its result. */
static portls__once_flag global_once = PORTLS__ONCE_INIT;
static int global_rc;

static void global_init_once(void) {
  if (portls__backend.global_init != NULL)
    global_rc = portls__backend.global_init(portls__allocator());
}

int portls__global_init(portls_error *err) {
  portls__once(&global_once, global_init_once);
  if (global_rc < 0)
    return portls__err(err, global_rc, "backend %s: initialisation failed", portls__backend.name);
  return 0;
}
