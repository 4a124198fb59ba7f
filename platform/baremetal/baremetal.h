/* portls platform for a system with no OS: what the board supplies.
 *
 * platform/baremetal/ gives core an event loop and timers and nothing else:
 * no sockets, no name lookup (stream and lookup entries return
 * PORTLS_ENOTSUP). Its objects are SecurePairs (portls_pair_new), whose
 * ciphertext the application moves over whatever link it has (UART, radio,
 * a memory buffer); TLS over an application-defined duplex stream needs nothing
 * more either.
 *
 * The application drives the loop from its main loop: portls_loop_run_once(loop, 0)
 * runs what is due and returns at once; portls_loop_run_once(loop, 1) waits for
 * the next timer through portls_board_wait() when nothing was due.
 *
 * A board port links these two functions (the mps2-an386 test image's are in
 * tests/baremetal/board.c, from SysTick).
 */
#ifndef PORTLS_PLATFORM_BAREMETAL_H
#define PORTLS_PLATFORM_BAREMETAL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A free-running millisecond counter (SysTick, an RTC, a hardware timer). It
 * may wrap at 2^32: the platform extends it to 64 bits, so it must be read
 * at least once per wrap (every 49 days), which any running loop does. */
uint32_t portls_board_millis(void);

/* Sleeps until an interrupt or at most ms milliseconds (WFI, a low-power
 * mode); returning early is allowed. Called only when the loop has nothing to
 * run before its next timer. */
void portls_board_wait(uint32_t ms);

#ifdef __cplusplus
}
#endif
#endif
