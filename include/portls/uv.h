/* portls: living inside an existing libuv program.
 *
 * Only meaningful when portls was built with the libuv platform
 * (platform/libuv). The header does not include <uv.h>: pass your
 * `uv_loop_t *` as the `void *`.
 */
#ifndef PORTLS_UV_H
#define PORTLS_UV_H

#include "portls.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Wraps an existing uv_loop_t so portls lives inside an existing libuv
 * program; portls_loop_free() does not close the uv loop.
 *
 * uv_loop: borrowed; a `uv_loop_t *` that stays valid, and is run on the
 *   thread that uses the portls loop, until the portls loop is freed.
 * out: receives the new loop; set to NULL on failure.
 *
 * The application keeps running its loop with uv_run() as before, and every
 * portls callback runs from there; portls_loop_run() and
 * portls_loop_run_once() also work, but run the whole uv loop, the
 * application's handles included. portls_loop_free() returns PORTLS_EBUSY
 * while a portls object is open; once it succeeds it has freed only the
 * wrapper: close callbacks still pending complete the next time the
 * application runs its loop, which it must do before uv_loop_close(). The
 * process's SIGPIPE disposition is left to the application (a loop from
 * portls_loop_new() sets SIGPIPE to ignored if it was at its default, as
 * Node does, so that writes to a reset peer report EPIPE).
 *
 * Errors: PORTLS_EINVAL (uv_loop or out NULL), PORTLS_ENOMEM. Defined only
 * by libraries built with the libuv platform. */
int portls_loop_from_uv(void *uv_loop, portls_loop **out);

#ifdef __cplusplus
}
#endif
#endif
