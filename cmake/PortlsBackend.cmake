# Everything that exists once per backend.
#
#   portls_add_backend(<name>)     name: openssl | boringssl | mbedtls
#
# Creates, when the backend's crypto library is found and backends/<name>/ has sources:
#   portls-<name>-objects     OBJECT library: core + backends/<name> (+ backends/common for
#                             the OpenSSL family) + platform/${PORTLS_PLATFORM}, PIC
#   portls-<name>-static      STATIC, libportls-<name>.a   alias portls::<name>-static
#   portls-<name>             SHARED, libportls-<name>.so  alias portls::<name>
#   portls-<name>-cli         bin/portls-<name> from tools/*.c            (PORTLS_BUILD_TOOLS)
#   test-unit-<name>          bin/, tests/unit/*.c + tests/common/*.c      (PORTLS_BUILD_TESTS)
#   test-conformance-<name>   bin/, tests/conformance/*.c + tests/common/*.c
#   fuzz-<x>-<name>           bin/, tests/fuzz/fuzz_<x>.c over portls-<name>-fuzzlib, a
#                             coverage-instrumented copy of the library (PORTLS_BUILD_FUZZERS)
#   fuzz-replay-<x>[-<name>]  bin/, tests/fuzz/fuzz_<x>.c + tests/fuzz/replay.c: the same
#                             target as an ordinary executable (any compiler) that runs
#                             each file of tests/fuzz/corpus/<x>/ once (PORTLS_BUILD_TESTS)
#   tests: unit-<name>, conformance-<name>, interop-<script>-<name>, exports-<name>,
#          linkage-<name>, install-consumer-<name>, fuzz-replay-<x>[-<name>],
#          hostile-<group>-<name> (tests/hostile), <x>-<name> for tests/threads/test_<x>.c
#          (threads-<name>, workers-<name>; each test-<x>-<name> is also a dependency of the
#          target `threads-tests`, which scripts/test.sh builds alone under ThreadSanitizer)
#
# Fuzz targets say which backends they need in a comment line of their own
# source, ` * fuzz-scope: S`:
#   core     backend-independent code: replayed once (on the first enabled backend),
#            test fuzz-replay-<x>; the default
#   backend  replayed on every backend, test fuzz-replay-<x>-<name>
#   <name>   that backend only (e.g. openssl), test fuzz-replay-<x>-<name>
# and appends <name> to the global property PORTLS_ENABLED_BACKENDS.
#
# Every executable links the STATIC library of exactly one backend: OpenSSL and
# BoringSSL export the same symbols and must never share a process
# (docs/backends.md, "Linking").

include(GNUInstallDirs)

# Globs are re-evaluated at build time (CONFIGURE_DEPENDS): adding or removing a .c file
# re-runs CMake by itself. An absent directory simply yields nothing.
macro(portls_glob var)
  file(GLOB ${var} CONFIGURE_DEPENDS ${ARGN})
  list(SORT ${var})
endmacro()

portls_glob(PORTLS_CORE_SOURCES "${PROJECT_SOURCE_DIR}/core/*.c" "${PROJECT_SOURCE_DIR}/core/*/*.c")
portls_glob(PORTLS_PLATFORM_SOURCES "${PROJECT_SOURCE_DIR}/platform/${PORTLS_PLATFORM}/*.c")
# BSD-socket helpers shared by the platforms built on sockets.
if(PORTLS_PLATFORM STREQUAL "posix" OR PORTLS_PLATFORM STREQUAL "libuv")
  portls_glob(PORTLS_PLATFORM_COMMON_SOURCES "${PROJECT_SOURCE_DIR}/platform/common/*.c")
  list(APPEND PORTLS_PLATFORM_SOURCES ${PORTLS_PLATFORM_COMMON_SOURCES})
endif()
portls_glob(PORTLS_OSSL_COMMON_SOURCES "${PROJECT_SOURCE_DIR}/backends/common/*.c")
portls_glob(PORTLS_TOOL_SOURCES "${PROJECT_SOURCE_DIR}/tools/*.c")
portls_glob(PORTLS_TEST_COMMON_SOURCES "${PROJECT_SOURCE_DIR}/tests/common/*.c")
portls_glob(PORTLS_UNIT_SOURCES "${PROJECT_SOURCE_DIR}/tests/unit/*.c")
portls_glob(PORTLS_CONFORMANCE_SOURCES "${PROJECT_SOURCE_DIR}/tests/conformance/*.c")
portls_glob(PORTLS_INTEROP_SCRIPTS "${PROJECT_SOURCE_DIR}/tests/interop/*.sh")
portls_glob(PORTLS_FUZZ_SOURCES "${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_*.c")
set(PORTLS_FUZZ_REPLAY_MAIN "${PROJECT_SOURCE_DIR}/tests/fuzz/replay.c")

if(NOT PORTLS_PLATFORM_SOURCES)
  message(STATUS "portls: platform/${PORTLS_PLATFORM}/ has no sources yet")
endif()

# A sanitizer report anywhere in a test's output fails it. Criterion runs each test in
# a worker process and ignores how the worker exits after the test body, so a leak
# LeakSanitizer reports at exit would otherwise pass unnoticed.
set(PORTLS_SANITIZER_FAIL_REGEX "ERROR: [A-Za-z]+Sanitizer|runtime error: ")

# Environment every test runs with.
set(PORTLS_TEST_ENV
  "PORTLS_CERTS=${CMAKE_BINARY_DIR}/certs"
  "PORTLS_BIN=${CMAKE_BINARY_DIR}/bin"
  "PORTLS_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
  ${PORTLS_SANITIZE_ENV})

# The fuzz-scope of tests/fuzz/fuzz_<x>.c (see the top of this file) into <var>.
function(portls_fuzz_scope src var)
  file(STRINGS "${src}" lines REGEX "^ \\* fuzz-scope: [a-z]+" LIMIT_COUNT 1)
  set(scope core)
  if(lines MATCHES "fuzz-scope: ([a-z]+)")
    set(scope ${CMAKE_MATCH_1})
  endif()
  set(${var} ${scope} PARENT_SCOPE)
endfunction()

# Whether fuzz target <src> is built for backend <name> (into <var>), and under which
# test/executable suffix: "" for a core target on the first backend, "-<name>" otherwise.
function(portls_fuzz_for src name var suffix_var)
  portls_fuzz_scope("${src}" scope)
  get_property(enabled GLOBAL PROPERTY PORTLS_ENABLED_BACKENDS)
  list(GET enabled 0 first)
  set(want OFF)
  set(suffix "-${name}")
  if(scope STREQUAL "core")
    if(name STREQUAL first)
      set(want ON)
      set(suffix "")
    endif()
  elseif(scope STREQUAL "backend" OR scope STREQUAL name)
    set(want ON)
  endif()
  set(${var} ${want} PARENT_SCOPE)
  set(${suffix_var} "${suffix}" PARENT_SCOPE)
endfunction()

# Link <target> against the static library of backend <name>.
function(portls_link_backend target name)
  target_link_libraries(${target} PRIVATE portls-${name}-static)
  if(name STREQUAL "boringssl")
    set_property(TARGET ${target} APPEND PROPERTY BUILD_RPATH "${PORTLS_BORINGSSL_LIBDIR}")
    set_property(TARGET ${target} APPEND PROPERTY INSTALL_RPATH "${PORTLS_BORINGSSL_LIBDIR}")
  endif()
endfunction()

# A Criterion test executable test-<kind>-<name> and its CTest entry <kind>-<name>.
function(portls_add_criterion_test kind name)
  set(exe test-${kind}-${name})
  add_executable(${exe} ${ARGN} ${PORTLS_TEST_COMMON_SOURCES})
  target_include_directories(${exe} PRIVATE
    "${PROJECT_SOURCE_DIR}/core" "${PROJECT_SOURCE_DIR}" "${PROJECT_SOURCE_DIR}/tests")
  # No PORTLS_BACKEND_* macros here on purpose: tests skip by capability, never by
  # backend name (docs/architecture.md).
  portls_link_backend(${exe} ${name})
  target_link_libraries(${exe} PRIVATE PkgConfig::CRITERION)
  portls_target_flags(${exe})
  portls_needs_certs(${exe})
  add_test(NAME ${kind}-${name} COMMAND ${exe} --jobs=2)
  set_tests_properties(${kind}-${name} PROPERTIES
    LABELS "backend:${name};${kind}"
    ENVIRONMENT "${PORTLS_TEST_ENV};PORTLS_BACKEND=${name}"
    FAIL_REGULAR_EXPRESSION "${PORTLS_SANITIZER_FAIL_REGEX}"
    TIMEOUT 600)
endfunction()

function(portls_add_backend name)
  portls_find_backend(${name} crypto_libs reason)
  if(reason)
    message(STATUS "portls: backend ${name} skipped: ${reason}")
    return()
  endif()
  portls_glob(backend_sources "${PROJECT_SOURCE_DIR}/backends/${name}/*.c")
  if(NOT backend_sources)
    message(STATUS "portls: backend ${name} skipped: backends/${name}/ has no sources yet")
    return()
  endif()
  message(STATUS "portls: backend ${name} enabled")
  set_property(GLOBAL APPEND PROPERTY PORTLS_ENABLED_BACKENDS ${name})
  string(TOUPPER "${name}" upper)

  # --- the library: compiled once, archived and linked twice -------------------------
  set(sources ${PORTLS_CORE_SOURCES} ${backend_sources} ${PORTLS_PLATFORM_SOURCES})
  if(name STREQUAL "openssl" OR name STREQUAL "boringssl")
    list(APPEND sources ${PORTLS_OSSL_COMMON_SOURCES})
  endif()
  set(objects portls-${name}-objects)
  add_library(${objects} OBJECT ${sources})
  set_target_properties(${objects} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  target_include_directories(${objects} PRIVATE
    "${PROJECT_SOURCE_DIR}/include" "${PROJECT_SOURCE_DIR}/core" "${PROJECT_SOURCE_DIR}")
  target_compile_definitions(${objects} PRIVATE
    PORTLS_BACKEND_NAME="${name}" PORTLS_BACKEND_${upper}=1)
  target_link_libraries(${objects} PRIVATE ${crypto_libs} ${PORTLS_PLATFORM_LIBS})
  portls_target_flags(${objects})

  add_library(portls-${name}-static STATIC $<TARGET_OBJECTS:${objects}>)
  add_library(portls-${name} SHARED $<TARGET_OBJECTS:${objects}>)
  set_target_properties(portls-${name}-static PROPERTIES
    OUTPUT_NAME portls-${name} EXPORT_NAME ${name}-static)
  set_target_properties(portls-${name} PROPERTIES
    EXPORT_NAME ${name}
    VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})
  if(name STREQUAL "boringssl")
    set_target_properties(portls-${name} PROPERTIES
      BUILD_RPATH "${PORTLS_BORINGSSL_LIBDIR}" INSTALL_RPATH "${PORTLS_BORINGSSL_LIBDIR}")
  endif()
  foreach(lib portls-${name}-static portls-${name})
    target_include_directories(${lib} PUBLIC
      $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
      $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
    target_link_libraries(${lib} PRIVATE ${crypto_libs} ${PORTLS_PLATFORM_LIBS})
  endforeach()
  portls_target_flags(portls-${name})
  add_library(portls::${name} ALIAS portls-${name})
  add_library(portls::${name}-static ALIAS portls-${name}-static)

  install(TARGETS portls-${name} portls-${name}-static EXPORT portls-${name}-targets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(EXPORT portls-${name}-targets NAMESPACE portls::
    FILE portls-${name}-targets.cmake
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/portls)
  portls_write_pkgconfig(${name})

  # --- the command-line tool -----------------------------------------------------------
  if(PORTLS_BUILD_TOOLS AND PORTLS_TOOL_SOURCES)
    add_executable(portls-${name}-cli ${PORTLS_TOOL_SOURCES})
    set_target_properties(portls-${name}-cli PROPERTIES OUTPUT_NAME portls-${name})
    portls_link_backend(portls-${name}-cli ${name})
    target_link_libraries(portls-${name}-cli PRIVATE $<TARGET_NAME_IF_EXISTS:Threads::Threads>) # serve --workers
    portls_target_flags(portls-${name}-cli)
    portls_needs_certs(portls-${name}-cli)
    if(TARGET portls-redis)
      target_link_libraries(portls-${name}-cli PRIVATE portls-redis)
      target_compile_definitions(portls-${name}-cli PRIVATE PORTLS_HAVE_REDIS=1)
    endif()
    install(TARGETS portls-${name}-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()

  # --- the benchmark: bin/portls-bench-<name> (bench/portls-bench.c; protocol of
  # docs/benchmark.md; run by scripts/bench.sh) ---------------------------------------
  if(PORTLS_BUILD_TOOLS AND EXISTS "${PROJECT_SOURCE_DIR}/bench/portls-bench.c")
    add_executable(portls-bench-${name} "${PROJECT_SOURCE_DIR}/bench/portls-bench.c")
    portls_link_backend(portls-bench-${name} ${name})
    portls_target_flags(portls-bench-${name})
    portls_needs_certs(portls-bench-${name})
  endif()

  if(PORTLS_BUILD_TESTS)
    portls_add_backend_tests(${name})
  endif()

  # libFuzzer targets (clang only): bin/fuzz-<x>-<backend>, whether or not the tests are
  # built. They link their own copy of the library, compiled with coverage
  # instrumentation (or libFuzzer would be blind inside the parsers it explores); the
  # installed libraries, the tool and the tests stay uninstrumented.
  if(PORTLS_BUILD_FUZZERS AND PORTLS_FUZZ_SOURCES)
    set(fuzzlib portls-${name}-fuzzlib)
    add_library(${fuzzlib} STATIC EXCLUDE_FROM_ALL ${sources})
    target_include_directories(${fuzzlib}
      PUBLIC "${PROJECT_SOURCE_DIR}/include"
      PRIVATE "${PROJECT_SOURCE_DIR}/core" "${PROJECT_SOURCE_DIR}")
    target_compile_definitions(${fuzzlib} PRIVATE
      PORTLS_BACKEND_NAME="${name}" PORTLS_BACKEND_${upper}=1)
    target_link_libraries(${fuzzlib} PRIVATE ${crypto_libs} ${PORTLS_PLATFORM_LIBS})
    portls_target_flags(${fuzzlib})
    target_compile_options(${fuzzlib} PRIVATE -fsanitize=fuzzer-no-link)
    foreach(src IN LISTS PORTLS_FUZZ_SOURCES)
      portls_fuzz_scope("${src}" scope)
      if(NOT scope STREQUAL "core" AND NOT scope STREQUAL "backend" AND NOT scope STREQUAL name)
        continue()
      endif()
      get_filename_component(stem "${src}" NAME_WE)
      string(REGEX REPLACE "^fuzz_" "" stem "${stem}") # tests/fuzz/fuzz_hello.c -> fuzz-hello-<name>
      set(exe fuzz-${stem}-${name})
      add_executable(${exe} "${src}")
      target_include_directories(${exe} PRIVATE
        "${PROJECT_SOURCE_DIR}/core" "${PROJECT_SOURCE_DIR}" "${PROJECT_SOURCE_DIR}/tests")
      target_compile_definitions(${exe} PRIVATE PORTLS_FUZZ_CERTS_DIR="${PORTLS_CERTS_DIR}")
      target_link_libraries(${exe} PRIVATE ${fuzzlib})
      portls_needs_certs(${exe})
      if(name STREQUAL "boringssl")
        set_property(TARGET ${exe} APPEND PROPERTY BUILD_RPATH "${PORTLS_BORINGSSL_LIBDIR}")
      endif()
      portls_target_flags(${exe})
      target_compile_options(${exe} PRIVATE -fsanitize=fuzzer)
      target_link_options(${exe} PRIVATE -fsanitize=fuzzer)
    endforeach()
  endif()
endfunction()

# The tests of one backend (called by portls_add_backend).
function(portls_add_backend_tests name)
  if(PORTLS_CRITERION_FOUND)
    if(PORTLS_UNIT_SOURCES)
      portls_add_criterion_test(unit ${name} ${PORTLS_UNIT_SOURCES})
    endif()
    if(PORTLS_CONFORMANCE_SOURCES)
      portls_add_criterion_test(conformance ${name} ${PORTLS_CONFORMANCE_SOURCES})
    endif()
  endif()

  # Interop scripts: `bash tests/interop/<x>.sh <backend>`; exit 77 means skipped.
  if(PORTLS_INTEROP_SCRIPTS AND TARGET portls-${name}-cli)
    foreach(script IN LISTS PORTLS_INTEROP_SCRIPTS)
      get_filename_component(stem "${script}" NAME_WE)
      add_test(NAME interop-${stem}-${name} COMMAND "${PORTLS_BASH}" "${script}" ${name}
        WORKING_DIRECTORY "${CMAKE_BINARY_DIR}")
      set_tests_properties(interop-${stem}-${name} PROPERTIES
        LABELS "backend:${name};interop"
        ENVIRONMENT "${PORTLS_TEST_ENV};PORTLS_BACKEND=${name}"
        SKIP_RETURN_CODE 77
        FAIL_REGULAR_EXPRESSION "${PORTLS_SANITIZER_FAIL_REGEX}"
        TIMEOUT 600)
    endforeach()
  endif()

  # The fuzz targets as plain executables replaying their committed corpus, under
  # whatever the build uses (ASan + UBSan in the test command): tests/fuzz/replay.c.
  foreach(src IN LISTS PORTLS_FUZZ_SOURCES)
    portls_fuzz_for("${src}" ${name} want suffix)
    if(NOT want)
      continue()
    endif()
    get_filename_component(stem "${src}" NAME_WE)
    string(REGEX REPLACE "^fuzz_" "" stem "${stem}")
    set(exe fuzz-replay-${stem}${suffix})
    add_executable(${exe} "${src}" "${PORTLS_FUZZ_REPLAY_MAIN}")
    target_include_directories(${exe} PRIVATE
      "${PROJECT_SOURCE_DIR}/core" "${PROJECT_SOURCE_DIR}" "${PROJECT_SOURCE_DIR}/tests")
    target_compile_definitions(${exe} PRIVATE PORTLS_FUZZ_CERTS_DIR="${PORTLS_CERTS_DIR}")
    portls_link_backend(${exe} ${name})
    portls_target_flags(${exe})
    portls_needs_certs(${exe})
    add_test(NAME ${exe} COMMAND ${exe} "${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${stem}")
    set(labels "fuzz-replay")
    if(suffix)
      list(APPEND labels "backend:${name}")
    endif()
    set_tests_properties(${exe} PROPERTIES
      LABELS "${labels}"
      ENVIRONMENT "${PORTLS_TEST_ENV};PORTLS_BACKEND=${name}"
      FAIL_REGULAR_EXPRESSION "${PORTLS_SANITIZER_FAIL_REGEX}"
      TIMEOUT 600)
  endforeach()

  # Hostile peers (tests/hostile/run.sh <backend> <group>): a libssl handshake, then
  # crafted records against this backend's `serve` and `connect`; exit 77 means skipped.
  if(TARGET hostile-peer AND TARGET portls-${name}-cli)
    foreach(group IN ITEMS empty-records client-empty-records keyupdate-flood empty-flood
                           warn-flood client-warn-flood)
      add_test(NAME hostile-${group}-${name}
        COMMAND "${PORTLS_BASH}" "${PROJECT_SOURCE_DIR}/tests/hostile/run.sh" ${name} ${group}
        WORKING_DIRECTORY "${CMAKE_BINARY_DIR}")
      set_tests_properties(hostile-${group}-${name} PROPERTIES
        LABELS "backend:${name};hostile"
        ENVIRONMENT "${PORTLS_TEST_ENV};PORTLS_BACKEND=${name}"
        SKIP_RETURN_CODE 77
        FAIL_REGULAR_EXPRESSION "${PORTLS_SANITIZER_FAIL_REGEX}"
        TIMEOUT 600)
    endforeach()
  endif()

  # The load client of tests/interop/workers.sh (serve --workers N against 1,000 clients).
  if(TARGET portls-${name}-cli AND EXISTS "${PROJECT_SOURCE_DIR}/tests/threads/echo_load.c")
    add_executable(echo-load-${name} "${PROJECT_SOURCE_DIR}/tests/threads/echo_load.c")
    portls_link_backend(echo-load-${name} ${name})
    portls_target_flags(echo-load-${name})
    portls_needs_certs(echo-load-${name})
  endif()

  # Threads (tests/threads/test_<x>.c, plain programs, test <x>-<name>): N loops on N
  # threads sharing contexts, ticket keys and a session store (threads-<name>), and a
  # server on several threads with descriptors from the application (workers-<name>);
  # under ThreadSanitizer in the test command's own build (PORTLS_SANITIZE=thread,
  # scripts/test.sh builds the target threads-tests alone).
  portls_glob(thread_tests "${PROJECT_SOURCE_DIR}/tests/threads/test_*.c")
  foreach(src IN LISTS thread_tests)
    find_package(Threads REQUIRED)
    get_filename_component(stem "${src}" NAME_WE)
    string(REGEX REPLACE "^test_" "" stem "${stem}")
    set(exe test-${stem}-${name})
    add_executable(${exe} "${src}")
    portls_link_backend(${exe} ${name})
    target_link_libraries(${exe} PRIVATE Threads::Threads)
    portls_target_flags(${exe})
    portls_needs_certs(${exe})
    if(NOT TARGET threads-tests)
      add_custom_target(threads-tests)
    endif()
    add_dependencies(threads-tests ${exe})
    add_test(NAME ${stem}-${name} COMMAND ${exe})
    set_tests_properties(${stem}-${name} PROPERTIES
      LABELS "backend:${name};threads"
      ENVIRONMENT "${PORTLS_TEST_ENV};PORTLS_BACKEND=${name}"
      FAIL_REGULAR_EXPRESSION "${PORTLS_SANITIZER_FAIL_REGEX}|WARNING: ThreadSanitizer"
      TIMEOUT 600)
  endforeach()

  # Every exported symbol of both libraries starts with portls_ (scripts/check-exports.sh).
  # The benchmark's smoke test: every mode once, tiny, against this backend's server
  # (exit 77 = skipped: the backend lacks a capability the protocol needs).
  if(TARGET portls-bench-${name})
    add_test(NAME bench-quick-${name}
      COMMAND "${PORTLS_BASH}" "${PROJECT_SOURCE_DIR}/scripts/bench.sh" --quick --no-build --backends ${name})
    set_tests_properties(bench-quick-${name} PROPERTIES
      LABELS "backend:${name};bench"
      ENVIRONMENT "PORTLS_BUILD_DIR=${CMAKE_BINARY_DIR};${PORTLS_SANITIZE_ENV}"
      SKIP_RETURN_CODE 77
      FAIL_REGULAR_EXPRESSION "${PORTLS_SANITIZER_FAIL_REGEX}"
      TIMEOUT 120)
  endif()

  add_test(NAME exports-${name}
    COMMAND "${PORTLS_BASH}" "${PROJECT_SOURCE_DIR}/scripts/check-exports.sh"
            $<TARGET_FILE:portls-${name}> $<TARGET_FILE:portls-${name}-static>)
  set_tests_properties(exports-${name} PROPERTIES LABELS "backend:${name};symbols")

  # The shared library and the tool load this backend's TLS library and no other one.
  # (Criterion test binaries are not checked: libcriterion itself pulls in OpenSSL's
  # libcrypto.so.3 through libgit2 -> libssh2.)
  set(linked $<TARGET_FILE:portls-${name}>)
  if(TARGET portls-${name}-cli)
    list(APPEND linked $<TARGET_FILE:portls-${name}-cli>)
  endif()
  add_test(NAME linkage-${name}
    COMMAND "${PORTLS_BASH}" "${PROJECT_SOURCE_DIR}/scripts/check-linkage.sh" ${name} ${linked})
  set_tests_properties(linkage-${name} PROPERTIES LABELS "backend:${name};linkage")

  # Install into a scratch prefix, then build and run a consumer with find_package
  # and with pkg-config (tests/install/run.sh).
  add_test(NAME install-consumer-${name}
    COMMAND "${PORTLS_BASH}" "${PROJECT_SOURCE_DIR}/tests/install/run.sh" "${CMAKE_BINARY_DIR}" ${name})
  set(consumer_flags "")
  if(PORTLS_SANITIZE)
    list(JOIN PORTLS_SANITIZE_FLAGS " " consumer_flags)
  endif()
  set_tests_properties(install-consumer-${name} PROPERTIES
    LABELS "backend:${name};install"
    ENVIRONMENT "CC=${CMAKE_C_COMPILER};CMAKE=${CMAKE_COMMAND};PORTLS_CONSUMER_FLAGS=${consumer_flags};${PORTLS_SANITIZE_ENV}"
    RESOURCE_LOCK portls-install
    TIMEOUT 600)
endfunction()
