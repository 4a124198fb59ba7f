/* portls_loop_from_uv(): the libuv platform's public entry point. */
#include "net/loop.h"
#include "platform/libuv/uv_platform.h"
#include "portls/uv.h"

int portls_loop_from_uv(void *uv_loop, portls_loop **out) {
  if (out == NULL) return PORTLS_EINVAL;
  *out = NULL;
  portls_plat_loop *plat = NULL;
  int rc = portls__uv_loop_wrap(uv_loop, &plat);
  if (rc < 0) return rc;
  rc = portls__loop_wrap(plat, out);
  if (rc < 0) portls__platform.loop_free(plat);
  return rc;
}
