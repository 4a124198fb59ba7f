/* Built against an installed portls by tests/install/run.sh, once with CMake's
 * find_package(portls) and once with pkg-config, to prove the installed headers,
 * libraries, CMake package and .pc files work on their own. */
#include <portls/portls.h>
#include <stdio.h>

int main(void) {
  /* The installed header's options: the TLSSocket options every kind shares. */
  portls_connect_options opts;
  portls_connect_options_init(&opts);
  portls_server_options so;
  portls_server_options_init(&so);
  printf("backend=%s version=%s reject_unauthorized=%d/%d\n", portls_backend_name(),
         portls_version_string(), opts.tls.reject_unauthorized, so.tls.reject_unauthorized);
  return opts.tls.reject_unauthorized == 1 && so.tls.reject_unauthorized == 0 ? 0 : 1;
}
