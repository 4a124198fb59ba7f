/* Fuzz target: PEM bundles given to tls.createSecureContext(): private keys,
 * certificate chains, CAs, CRLs and DH parameters, taken apart by core
 * (core/util/pem.c, the key decoders) and by the backend's own parsers.
 *
 * The first byte says where the rest goes (the other options hold valid
 * files of the build's test certificates, $PORTLS_CERTS):
 *   0 key (with a valid certificate)    1 certificate chain (with a valid key)
 *   2 ca                                3 crl (with a valid ca)
 *   4 key and certificate, the input cut in two at its first "\n==\n" (else
 *     in the middle), so that a matching pair can succeed
 *   5 dhparam (server context)          6 several CAs (cut at "\n==\n")
 *   7 key with passphrase "portls-pass"
 * Every input must give a context or one of the errors of
 * portls_context_new(), never a crash, leak or overread; a context made
 * from it must also serve for a pair (the backend applies everything then).
 *
 * Seeds (tests/fuzz/corpus/pem/): PEM keys (PKCS#1, PKCS#8, SEC1, encrypted),
 * chains, CA bundles, CRLs and DH parameters of the test PKI.
 * fuzz-scope: backend */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "portls/portls.h"

static int allowed(int rc) {
  static const int codes[] = {
      PORTLS_EKEY, PORTLS_ECERT,    PORTLS_EKEY_MISMATCH, PORTLS_EBAD_PASSPHRASE, PORTLS_EPFX,
      PORTLS_ECRL, PORTLS_EDHPARAM, PORTLS_EINVAL,        PORTLS_ENOTSUP,         PORTLS_ENOMEM};
  if (rc == 0) return 1;
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
    if (rc == codes[i]) return 1;
  return 0;
}

/* Cuts b at its first "\n==\n" (or in the middle) into a and c. */
static void cut(portls_buf b, portls_buf *a, portls_buf *c) {
  const uint8_t *p = b.base;
  size_t at = b.len / 2, skip = 0;
  for (size_t i = 0; i + 4 <= b.len; i++)
    if (memcmp(p + i, "\n==\n", 4) == 0) {
      at = i + 1;
      skip = 3;
      break;
    }
  a->base = p;
  a->len = at;
  c->base = p + at + skip;
  c->len = b.len - at - skip;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 65536) return 0;
  portls_buf in = {data + 1, size - 1};
  portls_buf key = fuzz_cert_file("server-ec.key"), cert = fuzz_cert_file("server-ec-chain.crt");
  portls_buf ca = fuzz_cert_file("ca.crt"), cas[4];
  portls_context_options o;
  portls_context_options_init(&o);
  o.key = &key;
  o.key_count = 1;
  o.cert = &cert;
  o.cert_count = 1;
  int server = 1;
  switch (data[0] % 8) {
  case 0:
    key = in;
    break;
  case 1:
    cert = in;
    break;
  case 2:
    o.ca = &in;
    o.ca_count = 1;
    server = 0;
    break;
  case 3:
    o.ca = &ca;
    o.ca_count = 1;
    o.crl = &in;
    o.crl_count = 1;
    server = 0;
    break;
  case 4:
    cut(in, &key, &cert);
    break;
  case 5:
    o.dhparam = in;
    break;
  case 6:
    cut(in, &cas[0], &cas[2]);
    cut(cas[0], &cas[0], &cas[1]);
    cut(cas[2], &cas[2], &cas[3]);
    o.ca = cas;
    o.ca_count = 4;
    server = 0;
    break;
  default:
    key = in;
    o.passphrase = "portls-pass";
    break;
  }
  if (!server) {
    o.key = NULL;
    o.key_count = 0;
    o.cert = NULL;
    o.cert_count = 0;
  }
  portls_context *ctx = NULL;
  portls_error err = {0};
  int rc = portls_context_new(&o, &ctx, &err);
  if (!allowed(rc)) {
    fprintf(stderr, "fuzz_pem: unexpected %d (%s): %s\n", rc, portls_err_name(rc), err.message);
    abort();
  }
  FUZZ_CHECK((rc == 0) == (ctx != NULL));
  if (rc < 0) FUZZ_CHECK(err.code == rc && err.message[0] != '\0');
  if (ctx != NULL) {
    (void)portls_context_warning(ctx);
    portls_context_free(ctx);
  }
  return 0;
}
