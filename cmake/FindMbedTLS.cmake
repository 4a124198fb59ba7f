# FindMbedTLS
# -----------
# Finds mbed TLS (2.28 as Debian packages it, libmbedtls-dev, or a 3.x prefix): headers and libraries
# only, no pkg-config file and no CMake package (docs/backends.md, "Finding the libraries with CMake").
# Set MbedTLS_ROOT_DIR to look elsewhere first, and MbedTLS_ROOT_ONLY to look
# nowhere else (portls's own mbedTLS 3.6 prefix must not mix with the system's 2.28).
#
# Imported targets:  MbedTLS::mbedtls -> MbedTLS::mbedx509 -> MbedTLS::mbedcrypto
#                    (linking MbedTLS::mbedtls gives -lmbedtls -lmbedx509 -lmbedcrypto,
#                    in that order; the names match mbed TLS 3's own CMake package)
# Result variables:  MbedTLS_FOUND, MbedTLS_VERSION, MbedTLS_INCLUDE_DIR,
#                    MbedTLS_TLS_LIBRARY, MbedTLS_X509_LIBRARY, MbedTLS_CRYPTO_LIBRARY

set(_mbed_hints)
if(MbedTLS_ROOT_DIR)
  set(_mbed_hints HINTS "${MbedTLS_ROOT_DIR}")
  if(MbedTLS_ROOT_ONLY)
    set(_mbed_hints HINTS "${MbedTLS_ROOT_DIR}" NO_DEFAULT_PATH)
  endif()
endif()
find_path(MbedTLS_INCLUDE_DIR mbedtls/ssl.h ${_mbed_hints} PATH_SUFFIXES include)
find_library(MbedTLS_TLS_LIBRARY NAMES mbedtls ${_mbed_hints} PATH_SUFFIXES lib)
find_library(MbedTLS_X509_LIBRARY NAMES mbedx509 ${_mbed_hints} PATH_SUFFIXES lib)
find_library(MbedTLS_CRYPTO_LIBRARY NAMES mbedcrypto ${_mbed_hints} PATH_SUFFIXES lib)
mark_as_advanced(MbedTLS_INCLUDE_DIR MbedTLS_TLS_LIBRARY MbedTLS_X509_LIBRARY MbedTLS_CRYPTO_LIBRARY)

if(MbedTLS_INCLUDE_DIR)
  foreach(_h mbedtls/build_info.h mbedtls/version.h)
    if(EXISTS "${MbedTLS_INCLUDE_DIR}/${_h}")
      file(STRINGS "${MbedTLS_INCLUDE_DIR}/${_h}" _mbed_ver REGEX "^#define MBEDTLS_VERSION_STRING +\"")
      if(_mbed_ver)
        string(REGEX REPLACE ".*\"([^\"]+)\".*" "\\1" MbedTLS_VERSION "${_mbed_ver}")
        break()
      endif()
    endif()
  endforeach()
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(MbedTLS
  REQUIRED_VARS MbedTLS_TLS_LIBRARY MbedTLS_X509_LIBRARY MbedTLS_CRYPTO_LIBRARY MbedTLS_INCLUDE_DIR
  VERSION_VAR MbedTLS_VERSION)

function(_portls_mbedtls_target name location link)
  if(NOT TARGET MbedTLS::${name})
    add_library(MbedTLS::${name} UNKNOWN IMPORTED)
    set_target_properties(MbedTLS::${name} PROPERTIES
      IMPORTED_LOCATION "${location}"
      INTERFACE_INCLUDE_DIRECTORIES "${MbedTLS_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES "${link}")
  endif()
endfunction()

if(MbedTLS_FOUND)
  _portls_mbedtls_target(mbedcrypto "${MbedTLS_CRYPTO_LIBRARY}" "")
  # Static archives (portls's own 3.6): their symbols must not be exported from
  # what links them, or a shared library in the same process that uses the
  # system's mbed TLS 2.28 (libgit2, under Criterion) binds to the 3.6 code,
  # whose structures differ. GNU ld and lld know --exclude-libs.
  if(MbedTLS_CRYPTO_LIBRARY MATCHES "\\.a$" AND NOT APPLE)
    set_property(TARGET MbedTLS::mbedcrypto APPEND PROPERTY INTERFACE_LINK_OPTIONS
      "LINKER:--exclude-libs,libmbedtls.a:libmbedx509.a:libmbedcrypto.a")
  endif()
  _portls_mbedtls_target(mbedx509 "${MbedTLS_X509_LIBRARY}" MbedTLS::mbedcrypto)
  _portls_mbedtls_target(mbedtls "${MbedTLS_TLS_LIBRARY}" MbedTLS::mbedx509)
endif()
