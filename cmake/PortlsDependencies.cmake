# Finding what portls links against, the way that works on Debian 12 (docs/backends.md,
# "Finding the libraries with CMake").
#
#   portls_find_backend(<name> <libs-var> <reason-var>)   (macro)
#     Sets <libs-var> to the imported targets a backend library links, or leaves it
#     empty and sets <reason-var> to why the backend cannot be built.
#   PORTLS_PLATFORM_LIBS   imported targets the chosen platform links (libuv or none)
#   PORTLS_CRITERION_FOUND / PkgConfig::CRITERION   the test framework

find_package(PkgConfig REQUIRED)

set(PORTLS_PLATFORM_LIBS)
if(PORTLS_PLATFORM STREQUAL "libuv")
  pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET libuv)
  set(PORTLS_PLATFORM_LIBS PkgConfig::LIBUV)
endif()

if(PORTLS_BUILD_TESTS)
  pkg_check_modules(CRITERION IMPORTED_TARGET criterion)
  set(PORTLS_CRITERION_FOUND ${CRITERION_FOUND})
  if(NOT CRITERION_FOUND)
    message(STATUS "portls: Criterion not found (libcriterion-dev): unit and conformance tests are not built")
  endif()
endif()

# A macro, not a function, so that the find modules' result variables (OPENSSL_VERSION,
# BoringSSL_LIBRARY_DIR, MbedTLS_VERSION, ...) stay visible to the caller.
macro(portls_find_backend name libs_var reason_var)
  set(${libs_var})
  set(${reason_var})
  if("${name}" STREQUAL "openssl")
    find_package(OpenSSL 3.0 QUIET)
    if(OpenSSL_FOUND)
      set(${libs_var} OpenSSL::SSL OpenSSL::Crypto)
    else()
      set(${reason_var} "OpenSSL >= 3.0 not found (apt-get install libssl-dev)")
    endif()
  elseif("${name}" STREQUAL "boringssl")
    find_package(BoringSSL QUIET)
    if(BoringSSL_FOUND)
      set(${libs_var} BoringSSL::SSL BoringSSL::Crypto)
      set(PORTLS_BORINGSSL_LIBDIR "${BoringSSL_LIBRARY_DIR}" CACHE INTERNAL "")
    else()
      set(${reason_var} "BoringSSL not found in /usr/include/android (apt-get install android-libboringssl-dev)")
    endif()
  elseif("${name}" STREQUAL "mbedtls")
    if(PORTLS_MBEDTLS STREQUAL "bundled")
      set(MbedTLS_ROOT_DIR "${PORTLS_MBEDTLS_ROOT}")
      set(MbedTLS_ROOT_ONLY ON)
    endif()
    find_package(MbedTLS QUIET)
    if(MbedTLS_FOUND)
      set(${libs_var} MbedTLS::mbedtls)
    elseif(PORTLS_MBEDTLS STREQUAL "bundled")
      set(${reason_var} "mbedTLS 3.6 not found in ${PORTLS_MBEDTLS_ROOT} (run scripts/install-mbedtls36.sh, or -DPORTLS_MBEDTLS=system for Debian's 2.28)")
    else()
      set(${reason_var} "mbed TLS not found (apt-get install libmbedtls-dev)")
    endif()
  else()
    message(FATAL_ERROR "portls: unknown backend '${name}' in PORTLS_BACKENDS (known: openssl boringssl mbedtls)")
  endif()
endmacro()
