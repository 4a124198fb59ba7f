/* libFuzzer target: core's PKCS#12 and encrypted-key decoders on arbitrary
 * bytes (a PFX or a key file from an untrusted source). The work bounds keep
 * each input fast; every input must decode or fail cleanly. The decoders use
 * the backend's digest and cipher primitives, so it runs on every backend.
 * fuzz-scope: backend */
#include <stddef.h>
#include <stdint.h>

#include "tls/pkcs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  portls_buf in = {data, size};
  portls_error err;
  portls__pfx_result pfx;
  if (portls__pfx_decode(in, "portls-pass", &pfx, &err) == 0) {
    portls__bytes key = {0}, certs = {0};
    (void)portls__pfx_to_pem(&pfx, &key, &certs);
    portls__key_free(&key);
    portls__bytes_free(&certs);
  }
  portls__pfx_result_free(&pfx);
  portls__bytes pkcs8 = {0};
  (void)portls__key_decrypt(in, "portls-pass", &pkcs8, &err);
  portls__key_free(&pkcs8);
  return 0;
}
