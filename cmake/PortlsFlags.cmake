# Compiler flags for portls's own targets (never for imported ones, never global).
#
#   portls_target_flags(<target>)
#
# Warnings are always on; PORTLS_WERROR turns them into errors; PORTLS_SANITIZE adds
# ASan + UBSan at compile and link time. Applied to the libraries too, not only to the
# tests: a sanitizer only sees the code it instrumented.

set(PORTLS_WARNING_FLAGS -Wall -Wextra -Wpedantic -Wstrict-prototypes -Wold-style-definition)
set(PORTLS_SANITIZE_FLAGS
  -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)

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
if(PORTLS_SANITIZE)
  set(PORTLS_SANITIZE_ENV
    "ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1"
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()
