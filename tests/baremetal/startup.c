/* Reset and vector table for the mps2-an386 test image (Cortex-M4).
 *
 * The reset handler paints the stack, copies .data from flash, clears .bss,
 * starts SysTick at 1 kHz (board.c), runs newlib's constructors and main(),
 * and exits through semihosting with main's status, which ends qemu with it.
 */
#include <stdint.h>
#include <stdlib.h>

#include "board.h"

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern uint32_t __stack_top[], __stack_limit[];

extern void __libc_init_array(void);
int main(void);

void Reset_Handler(void);
void Default_Handler(void);
void HardFault_Handler(void);

__attribute__((naked, noreturn)) void Reset_Handler(void) {
  /* Paint the stack below this frame before anything else runs on it. */
  __asm volatile("ldr r0, =__stack_limit\n"
                 "mov r1, sp\n"
                 "sub r1, r1, #64\n"
                 "ldr r2, =0x5a5aa5a5\n"
                 "1: cmp r0, r1\n"
                 "bhs 2f\n"
                 "str r2, [r0], #4\n"
                 "b 1b\n"
                 "2: b board_start\n");
}

__attribute__((noreturn)) void board_start(void);
void board_start(void) {
  for (uint32_t *s = __data_load, *d = __data_start; d < __data_end;) *d++ = *s++;
  for (uint32_t *d = __bss_start; d < __bss_end;) *d++ = 0;
  board_init();
  __libc_init_array();
  exit(main());
}

/* newlib's __libc_init_array/__libc_fini_array call these; crti.o (left out with
 * -nostartfiles) would define them. Nothing to do here. */
void _init(void);
void _fini(void);
void _init(void) {}
void _fini(void) {}

void Default_Handler(void) {
  board_puts("portls-baremetal: unexpected exception\n");
  board_exit(3);
}

void HardFault_Handler(void) {
  board_puts("portls-baremetal: HardFault\n");
  board_exit(4);
}

typedef void (*vector)(void);
__attribute__((section(".vectors"), used)) static const vector vectors[16] = {
    (vector)(uintptr_t)__stack_top, /* initial stack pointer */
    Reset_Handler,
    Default_Handler,   /* NMI */
    HardFault_Handler, /* HardFault */
    HardFault_Handler, /* MemManage */
    HardFault_Handler, /* BusFault */
    HardFault_Handler, /* UsageFault */
    0,
    0,
    0,
    0,
    Default_Handler, /* SVCall */
    Default_Handler, /* DebugMonitor */
    0,
    Default_Handler, /* PendSV */
    SysTick_Handler, /* SysTick */
};
