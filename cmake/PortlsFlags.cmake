# Compiler flags for portls's own targets (never for imported ones, never global).
#
#   portls_target_flags(<target>)
#
# Warnings are always on; PORTLS_WERROR turns them into errors; PORTLS_SANITIZE adds
# ASan + UBSan at compile and link time (ON or "address"), or ThreadSanitizer
# ("thread": the two cannot be combined). Applied to the libraries too, not only to
# the tests: a sanitizer only sees the code it instrumented.

set(PORTLS_WARNING_FLAGS -Wall -Wextra -Wpedantic -Wstrict-prototypes -Wold-style-definition)
if(PORTLS_SANITIZE STREQUAL "thread")
  set(PORTLS_SANITIZE_FLAGS -fsanitize=thread -fno-omit-frame-pointer)
else()
  set(PORTLS_SANITIZE_FLAGS
    -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
endif()

# C11 <threads.h> call_once (glibc 2.28 and later): core initialises process-wide
# state with it (core/util/sync.h); without it, with C11 atomics.
include(CheckSymbolExists)
find_package(Threads)
set(CMAKE_REQUIRED_LIBRARIES Threads::Threads)
check_symbol_exists(call_once "threads.h" PORTLS_HAVE_C11_THREADS)
unset(CMAKE_REQUIRED_LIBRARIES)
if(PORTLS_HAVE_C11_THREADS)
  add_compile_definitions(PORTLS_HAVE_C11_THREADS=1)
endif()

function(portls_target_flags target)
  get_target_property(type ${target} TYPE)
  target_compile_options(${target} PRIVATE
    ${PORTLS_WARNING_FLAGS} $<$<BOOL:${PORTLS_WERROR}>:-Werror>)
  if(PORTLS_SANITIZE)
    target_compile_options(${target} PRIVATE ${PORTLS_SANITIZE_FLAGS})
    if(NOT type STREQUAL "OBJECT_LIBRARY" AND NOT type STREQUAL "STATIC_LIBRARY")
      target_link_options(${target} PRIVATE ${PORTLS_SANITIZE_FLAGS})
    endif()
  endif()
endfunction()

# Environment for running sanitized binaries under CTest.
set(PORTLS_SANITIZE_ENV)
if(PORTLS_SANITIZE STREQUAL "thread")
  set(PORTLS_SANITIZE_ENV
    "TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=${PROJECT_SOURCE_DIR}/tests/threads/tsan.supp")
elseif(PORTLS_SANITIZE)
  set(PORTLS_SANITIZE_ENV
    "ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1"
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()
