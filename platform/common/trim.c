/* portls platforms: giving freed heap memory back to the system (see trim.h). */
#include "trim.h"

#include <stdlib.h> /* defines __GLIBC__ on glibc */

#if defined(__GLIBC__)
#include <malloc.h>

void portls__plat_trim_memory(void) { (void)malloc_trim(0); }
#else
void portls__plat_trim_memory(void) {}
#endif
