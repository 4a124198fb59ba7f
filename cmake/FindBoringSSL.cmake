# FindBoringSSL
# -------------
# Finds Debian's android-libboringssl-dev (headers in /usr/include/android, libraries
# in /usr/lib/<multiarch>/android) or a BoringSSL under BoringSSL_ROOT_DIR.
#
# Deliberately separate from FindOpenSSL: pointing FindOpenSSL at BoringSSL mixes
# BoringSSL headers with the system OpenSSL libraries and clobbers the OPENSSL_* cache
# entries the real OpenSSL needs (docs/backends.md, "Finding the libraries with CMake").
#
# Imported targets:  BoringSSL::SSL, BoringSSL::Crypto (SHARED; SSL links Crypto)
# Result variables:  BoringSSL_FOUND, BoringSSL_INCLUDE_DIR, BoringSSL_SSL_LIBRARY,
#                    BoringSSL_CRYPTO_LIBRARY, BoringSSL_LIBRARY_DIR
#
# The library directory is not in the dynamic loader's search path, so the targets
# carry INTERFACE_LINK_OPTIONS "-Wl,-rpath,<dir>": anything linking them, inside or
# outside this project, finds libssl.so.0 at run time. Targets linking BoringSSL
# should also list BoringSSL_LIBRARY_DIR in BUILD_RPATH/INSTALL_RPATH.

set(_bssl_inc_hints /usr/include/android)
set(_bssl_lib_hints /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/android)
if(BoringSSL_ROOT_DIR)
  list(PREPEND _bssl_inc_hints "${BoringSSL_ROOT_DIR}/include")
  list(PREPEND _bssl_lib_hints "${BoringSSL_ROOT_DIR}/lib" "${BoringSSL_ROOT_DIR}")
endif()

# is_boringssl.h exists only in BoringSSL, so this can never pick up OpenSSL's headers.
find_path(BoringSSL_INCLUDE_DIR openssl/is_boringssl.h PATHS ${_bssl_inc_hints} NO_DEFAULT_PATH)
find_library(BoringSSL_SSL_LIBRARY NAMES ssl PATHS ${_bssl_lib_hints} NO_DEFAULT_PATH)
find_library(BoringSSL_CRYPTO_LIBRARY NAMES crypto PATHS ${_bssl_lib_hints} NO_DEFAULT_PATH)
mark_as_advanced(BoringSSL_INCLUDE_DIR BoringSSL_SSL_LIBRARY BoringSSL_CRYPTO_LIBRARY)

if(BoringSSL_INCLUDE_DIR AND EXISTS "${BoringSSL_INCLUDE_DIR}/openssl/base.h")
  file(STRINGS "${BoringSSL_INCLUDE_DIR}/openssl/base.h" _bssl_api REGEX "^#define BORINGSSL_API_VERSION [0-9]+")
  string(REGEX REPLACE ".* ([0-9]+)$" "\\1" BoringSSL_API_VERSION "${_bssl_api}")
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(BoringSSL
  REQUIRED_VARS BoringSSL_SSL_LIBRARY BoringSSL_CRYPTO_LIBRARY BoringSSL_INCLUDE_DIR
  VERSION_VAR BoringSSL_API_VERSION)

if(BoringSSL_FOUND)
  get_filename_component(BoringSSL_LIBRARY_DIR "${BoringSSL_SSL_LIBRARY}" DIRECTORY)
  if(NOT TARGET BoringSSL::Crypto)
    add_library(BoringSSL::Crypto SHARED IMPORTED)
    set_target_properties(BoringSSL::Crypto PROPERTIES
      IMPORTED_LOCATION "${BoringSSL_CRYPTO_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${BoringSSL_INCLUDE_DIR}"
      INTERFACE_LINK_OPTIONS "LINKER:-rpath,${BoringSSL_LIBRARY_DIR}")
  endif()
  if(NOT TARGET BoringSSL::SSL)
    add_library(BoringSSL::SSL SHARED IMPORTED)
    set_target_properties(BoringSSL::SSL PROPERTIES
      IMPORTED_LOCATION "${BoringSSL_SSL_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${BoringSSL_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES BoringSSL::Crypto)
  endif()
endif()
