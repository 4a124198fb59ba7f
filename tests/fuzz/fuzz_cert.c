/* libFuzzer target: the certificate model (DER/PEM parsing, the detailed
 * chain, Node's JSON, the identity check) on arbitrary bytes. Every input
 * must give a certificate or an error, never a crash, leak or overread.
 * fuzz-scope: core */
#include <stddef.h>
#include <stdint.h>

#include "portls/cert.h"
#include "portls/portls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  portls_cert *cert = NULL;
  portls_error err;
  if (portls_cert_parse_der(data, size, &cert, &err) == 0) {
    portls_free(portls_cert_to_json(cert));
    (void)portls_check_server_identity("localhost", cert, &err);
    (void)portls_check_server_identity("a.example.com", cert, &err);
    (void)portls_check_server_identity("127.0.0.1", cert, &err);
    (void)portls_check_server_identity("::1", cert, &err);
    portls_cert_free(cert);
  }
  /* The same bytes as a two-certificate chain: self-links and issuer walks. */
  const void *ders[2] = {data, data};
  size_t lens[2] = {size, size};
  if (portls_cert_parse_chain(ders, lens, 2, &cert, &err) == 0) {
    portls_free(portls_cert_to_json(cert));
    portls_cert_free(cert);
  }
  if (portls_cert_parse_pem(data, size, &cert, &err) == 0) portls_cert_free(cert);
  return 0;
}
