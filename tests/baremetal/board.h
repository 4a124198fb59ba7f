/* The mps2-an386 test board: semihosting output and exit, SysTick, the stack
 * high-water mark, and the test-only entropy source. */
#ifndef PORTLS_TESTS_BAREMETAL_BOARD_H
#define PORTLS_TESTS_BAREMETAL_BOARD_H

#include <stddef.h>
#include <stdint.h>

/* Starts SysTick (1 kHz). */
void board_init(void);
/* Writes a NUL-terminated string to the host's stdout (semihosting). */
void board_puts(const char *s);
/* Ends the emulation with status (semihosting SYS_EXIT_EXTENDED). */
__attribute__((noreturn)) void board_exit(int status);
/* The deepest the stack has been since reset, in bytes (painted at reset). */
size_t board_stack_used(void);
/* The stack's size, in bytes. */
size_t board_stack_size(void);
/* Heap bytes newlib took from _sbrk so far. */
size_t board_heap_claimed(void);
void SysTick_Handler(void);

#endif
