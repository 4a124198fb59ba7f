/* portls platforms: giving freed heap memory back to the system (see
 * portls_platform.trim_memory). */
#ifndef PORTLS_PLATFORM_COMMON_TRIM_H
#define PORTLS_PLATFORM_COMMON_TRIM_H

/* glibc: malloc_trim(0), which returns every whole free page of the heap,
 * not only its top. Elsewhere nothing: other allocators return memory on
 * their own terms. */
void portls__plat_trim_memory(void);

#endif
