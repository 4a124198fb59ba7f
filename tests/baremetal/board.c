/* The mps2-an386 test board (see board.h). The platform's two hooks
 * (platform/baremetal/baremetal.h) come from SysTick and WFI; newlib's system
 * calls from semihosting (output and exit only) and a heap between .bss and
 * the stack; mbed TLS's clocks (mbedtls_ms_time from SysTick, time() from the
 * host's clock through semihosting); mbed TLS's entropy (mbedtls_hardware_poll)
 * from a FIXED-SEED generator: deterministic, for this emulated test only,
 * never for a device.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <mbedtls/platform_time.h>

#include "board.h"
#include "platform/baremetal/baremetal.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define CPU_HZ 25000000u /* mps2-an386's system clock */

static volatile uint32_t ticks_ms;

void SysTick_Handler(void) { ticks_ms++; }

void board_init(void) {
  SYST_RVR = CPU_HZ / 1000u - 1u;
  SYST_CVR = 0;
  SYST_CSR = 7u; /* processor clock, interrupt, enable */
}

uint32_t portls_board_millis(void) { return ticks_ms; }

void portls_board_wait(uint32_t ms) {
  (void)ms; /* SysTick wakes the core every millisecond */
  __asm volatile("wfi");
}

/* ---- semihosting ------------------------------------------------------------ */

static int semihost(int op, const void *arg) {
  register int r0 __asm("r0") = op;
  register const void *r1 __asm("r1") = arg;
  __asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void board_puts(const char *s) { semihost(0x04 /* SYS_WRITE0 */, s); }

void board_exit(int status) {
  /* ADP_Stopped_ApplicationExit with the status as subcode. */
  const uint32_t block[2] = {0x20026u, (uint32_t)status};
  for (;;) semihost(0x20 /* SYS_EXIT_EXTENDED */, block);
}

/* ---- the stack ----------------------------------------------------------------- */

extern uint32_t __stack_top[], __stack_limit[];

size_t board_stack_used(void) {
  const uint32_t *p = __stack_limit;
  while (p < __stack_top && *p == 0x5a5aa5a5u) p++;
  return (size_t)((const char *)__stack_top - (const char *)p);
}

size_t board_stack_size(void) {
  return (size_t)((const char *)__stack_top - (const char *)__stack_limit);
}

/* ---- newlib's system calls -------------------------------------------------------- */

extern char __heap_start[], __heap_end[];
static char *brk = __heap_start;

size_t board_heap_claimed(void) { return (size_t)(brk - __heap_start); }

void *_sbrk(ptrdiff_t incr);
void *_sbrk(ptrdiff_t incr) {
  if (incr > __heap_end - brk || -incr > brk - __heap_start) {
    errno = ENOMEM;
    return (void *)-1;
  }
  char *old = brk;
  brk += incr;
  return old;
}

int _write(int fd, const char *buf, int len);
int _write(int fd, const char *buf, int len) {
  (void)fd;
  char chunk[129];
  int done = 0;
  while (done < len) {
    int n = len - done > 128 ? 128 : len - done;
    memcpy(chunk, buf + done, (size_t)n);
    chunk[n] = '\0';
    board_puts(chunk);
    done += n;
  }
  return len;
}

int _read(int fd, char *buf, int len);
int _read(int fd, char *buf, int len) {
  (void)fd, (void)buf, (void)len;
  return 0;
}
int _close(int fd);
int _close(int fd) {
  (void)fd;
  return -1;
}
int _lseek(int fd, int off, int whence);
int _lseek(int fd, int off, int whence) {
  (void)fd, (void)off, (void)whence;
  return 0;
}
int _fstat(int fd, struct stat *st);
int _fstat(int fd, struct stat *st) {
  (void)fd;
  memset(st, 0, sizeof *st);
  st->st_mode = S_IFCHR;
  return 0;
}
int _isatty(int fd);
int _isatty(int fd) {
  (void)fd;
  return 1;
}
int _getpid(void);
int _getpid(void) { return 1; }
int _kill(int pid, int sig);
int _kill(int pid, int sig) {
  (void)pid, (void)sig;
  errno = EINVAL;
  return -1;
}
__attribute__((noreturn)) void _exit(int status);
void _exit(int status) { board_exit(status); }

/* ---- time ------------------------------------------------------------------------------- */

/* mbed TLS's millisecond clock (MBEDTLS_PLATFORM_MS_TIME_ALT): the tick. */
mbedtls_ms_time_t mbedtls_ms_time(void) { return (mbedtls_ms_time_t)ticks_ms; }

/* newlib's time(): the wall clock, which this board reads from the host
 * (semihosting SYS_TIME, seconds since 1970); a real board reads its RTC. */
int _gettimeofday(struct timeval *tv, void *tz);
int _gettimeofday(struct timeval *tv, void *tz) {
  (void)tz;
  if (tv != NULL) {
    tv->tv_sec = (time_t)(unsigned)semihost(0x11 /* SYS_TIME */, NULL);
    tv->tv_usec = 0;
  }
  return 0;
}

/* ---- entropy: TEST ONLY --------------------------------------------------------------- */

/* mbed TLS's entropy source (MBEDTLS_ENTROPY_HARDWARE_ALT). A real board
 * reads its TRNG here (platform/README.md). This one is a xorshift generator
 * with a fixed seed: every run of the image makes the same keys and nonces. */
int mbedtls_hardware_poll(void *data, unsigned char *output, size_t len, size_t *olen);
int mbedtls_hardware_poll(void *data, unsigned char *output, size_t len, size_t *olen) {
  static uint64_t x = 0x9e3779b97f4a7c15u; /* FIXED SEED: not random */
  (void)data;
  for (size_t i = 0; i < len; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    output[i] = (unsigned char)(x >> 32);
  }
  *olen = len;
  return 0;
}
