# Test certificates: ${CMAKE_BINARY_DIR}/certs, made by certs/gen.sh.
#
#   PORTLS_CERTS_DIR          where they are (exported to tests as PORTLS_CERTS)
#   portls-certs              target that (re)generates them when a file is missing
#                             or certs/gen.sh changed; part of ALL
#   portls_needs_certs(<t>)   make target <t> depend on it
#
# The output list comes from `certs/gen.sh --list`, so gen.sh stays the one place
# that names the files.

set(PORTLS_CERTS_DIR "${CMAKE_BINARY_DIR}/certs")
set(_gen "${PROJECT_SOURCE_DIR}/certs/gen.sh")

find_program(PORTLS_BASH bash REQUIRED)
find_program(PORTLS_OPENSSL_CLI openssl)

if(NOT PORTLS_OPENSSL_CLI)
  message(WARNING "portls: the openssl command-line tool was not found (apt-get install openssl): "
                  "test certificates will not be generated")
  function(portls_needs_certs target)
  endfunction()
  return()
endif()

set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_gen}")
execute_process(COMMAND "${PORTLS_BASH}" "${_gen}" --list
  OUTPUT_VARIABLE _cert_files OUTPUT_STRIP_TRAILING_WHITESPACE
  COMMAND_ERROR_IS_FATAL ANY)
string(REPLACE "\n" ";" _cert_files "${_cert_files}")
list(TRANSFORM _cert_files PREPEND "${PORTLS_CERTS_DIR}/" OUTPUT_VARIABLE PORTLS_CERT_FILES)

add_custom_command(
  OUTPUT ${PORTLS_CERT_FILES}
  COMMAND ${CMAKE_COMMAND} -E env "OPENSSL=${PORTLS_OPENSSL_CLI}"
          "${PORTLS_BASH}" "${_gen}" "${PORTLS_CERTS_DIR}"
  DEPENDS "${_gen}"
  COMMENT "Generating test certificates in ${PORTLS_CERTS_DIR}"
  VERBATIM)
add_custom_target(portls-certs ALL DEPENDS ${PORTLS_CERT_FILES})

function(portls_needs_certs target)
  add_dependencies(${target} portls-certs)
endfunction()
