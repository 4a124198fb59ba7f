/* portls: the libuv platform's private interface, for core's loop code.
 * Internal: never included by a public header. */
#ifndef PORTLS_PLATFORM_LIBUV_UV_PLATFORM_H
#define PORTLS_PLATFORM_LIBUV_UV_PLATFORM_H

#include "portls/platform.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Wraps an existing uv_loop_t (borrowed: it must outlive *out) so that
 * portls_loop_from_uv() can put portls inside an existing libuv program.
 * loop_run() on the wrapper runs the whole uv loop; loop_free() on it frees
 * only the wrapper (PORTLS_EBUSY while portls objects are open) and never
 * runs nor closes the uv loop. Close callbacks still pending then complete
 * the next time the application runs its loop.
 * Errors: PORTLS_EINVAL (NULL argument), PORTLS_ENOMEM. */
int portls__uv_loop_wrap(void *uv_loop, portls_plat_loop **out);

/* Maps a libuv error (UV_E*, UV_EAI_*) to a PORTLS_E* code; 0 stays 0,
 * anything without an equivalent becomes PORTLS_EIO. */
int portls__uv_err(int uv_err);

#ifdef __cplusplus
}
#endif
#endif
