# Installation: headers, the CMake package and one pkg-config file per backend.
# (Libraries and tools are installed by portls_add_backend.)
#
#   portls_write_pkgconfig(<backend>)   configure + install portls-<backend>.pc
#   portls_install_package()            headers, portlsConfig*.cmake, Find modules

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(PORTLS_CMAKE_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/portls")
set(PORTLS_PKGCONFIG_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig")

# Relocatable .pc files: paths are relative to ${pcfiledir}, so an install moved or made
# with `cmake --install --prefix` elsewhere still works.
function(portls_pc_dir var dir)
  if(IS_ABSOLUTE "${dir}")
    set(${var} "${dir}" PARENT_SCOPE)
  else()
    set(${var} "\${prefix}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

function(portls_write_pkgconfig name)
  set(PC_BACKEND ${name})
  set(requires)
  set(libs)
  if(name STREQUAL "openssl")
    set(PC_BACKEND_DESC "OpenSSL ${OPENSSL_VERSION}")
    list(APPEND requires "libssl >= 3.0" "libcrypto >= 3.0")
  elseif(name STREQUAL "boringssl")
    set(PC_BACKEND_DESC "BoringSSL")
    set(d "${PORTLS_BORINGSSL_LIBDIR}")
    list(APPEND libs "-L${d}" -lssl -lcrypto "-Wl,-rpath,${d}")
  elseif(name STREQUAL "mbedtls")
    set(PC_BACKEND_DESC "mbed TLS ${MbedTLS_VERSION}")
    get_filename_component(d "${MbedTLS_TLS_LIBRARY}" DIRECTORY)
    if(NOT d IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
      list(APPEND libs "-L${d}")
    endif()
    list(APPEND libs -lmbedtls -lmbedx509 -lmbedcrypto)
  endif()
  if(PORTLS_PLATFORM STREQUAL "libuv")
    list(APPEND requires libuv)
  endif()
  list(JOIN requires ", " PC_REQUIRES_PRIVATE)
  list(JOIN libs " " PC_LIBS_PRIVATE)

  file(RELATIVE_PATH PC_PREFIX_FROM_PCDIR
    "${CMAKE_INSTALL_PREFIX}/${PORTLS_PKGCONFIG_INSTALL_DIR}" "${CMAKE_INSTALL_PREFIX}")
  string(REGEX REPLACE "/$" "" PC_PREFIX_FROM_PCDIR "${PC_PREFIX_FROM_PCDIR}")
  portls_pc_dir(PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
  portls_pc_dir(PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")

  set(template "${PROJECT_SOURCE_DIR}/cmake/portls.pc.in")
  set(out "${CMAKE_BINARY_DIR}/pkgconfig/portls-${name}.pc")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${template}")
  file(READ "${template}" pc)
  string(CONFIGURE "${pc}" pc @ONLY)
  string(REGEX REPLACE "\n(Requires|Libs)\\.private: *\n" "\n" pc "${pc}") # drop empty fields
  file(CONFIGURE OUTPUT "${out}" CONTENT "${pc}" @ONLY)
  install(FILES "${out}" DESTINATION "${PORTLS_PKGCONFIG_INSTALL_DIR}")
endfunction()

function(portls_install_package)
  get_property(PORTLS_ENABLED_BACKENDS GLOBAL PROPERTY PORTLS_ENABLED_BACKENDS)

  file(GLOB headers CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/include/portls/*.h")
  # uv.h declares portls_loop_from_uv(), which only libuv builds define.
  if(NOT PORTLS_PLATFORM STREQUAL "libuv")
    list(FILTER headers EXCLUDE REGEX "/uv\\.h$")
  endif()
  if(headers)
    install(FILES ${headers} DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/portls")
  endif()

  configure_package_config_file(
    "${PROJECT_SOURCE_DIR}/cmake/portlsConfig.cmake.in"
    "${CMAKE_BINARY_DIR}/cmake/portlsConfig.cmake"
    INSTALL_DESTINATION "${PORTLS_CMAKE_INSTALL_DIR}")
  # 0.x: minor versions may break compatibility.
  write_basic_package_version_file("${CMAKE_BINARY_DIR}/cmake/portlsConfigVersion.cmake"
    COMPATIBILITY SameMinorVersion)
  install(FILES
    "${CMAKE_BINARY_DIR}/cmake/portlsConfig.cmake"
    "${CMAKE_BINARY_DIR}/cmake/portlsConfigVersion.cmake"
    "${PROJECT_SOURCE_DIR}/cmake/FindBoringSSL.cmake"
    "${PROJECT_SOURCE_DIR}/cmake/FindMbedTLS.cmake"
    DESTINATION "${PORTLS_CMAKE_INSTALL_DIR}")
endfunction()
