/* Built against an installed portls by tests/install/run.sh, once with CMake's
 * find_package(portls) and once with pkg-config, to prove the installed headers,
 * libraries, CMake package and .pc files work on their own. */
#include <portls/portls.h>
#include <stdio.h>

int main(void) {
  printf("backend=%s version=%s\n", portls_backend_name(), portls_version_string());
  return 0;
}
