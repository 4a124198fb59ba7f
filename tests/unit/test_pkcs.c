/* Encrypted keys and PKCS#12 decoded in core (core/tls/pkcs.h), on the
 * linked backend's digest and cipher_decrypt primitives:
 * - the primitives core builds (MD5, RC2, HMAC, PBKDF2) against published
 *   test vectors;
 * - the generated files in $PORTLS_CERTS (passphrase portls-pass) against
 *   what the openssl command-line tool says the key and certificates are
 *   (`openssl pkcs8 -topk8 -nocrypt -outform DER`, `openssl x509 -outform DER`),
 *   plus variants made at test time with the same tool (other PRFs,
 *   ciphers, PKCS#12 PBEs, legacy RC2 PFX, no MAC, empty passwords);
 * - wrong passphrases, bounds, and every truncation and many bit flips of
 *   each file: an error or a well-formed result, never a crash (ASan).
 * Tests that decrypt skip, saying why, when the backend has no cipher_decrypt.
 */
#define _POSIX_C_SOURCE 200809L /* popen, mkstemp */

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portls/backend.h"
#include "portls/cert.h"
#include "tls/pkcs.h"
#include "tls/pkcs_crypto.h"
#include "util/pem.h"

#define PASS "portls-pass"

typedef struct blob {
  uint8_t *p;
  size_t n;
} blob;

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

static void need_cipher(void) {
  if (portls__backend.cipher_decrypt == NULL)
    cr_skip_test("backend %s has no cipher_decrypt primitive, so core cannot decrypt keys or PFX "
                 "files there",
                 portls__backend.name);
}

static const char *certs_dir(void) {
  const char *d = getenv("PORTLS_CERTS");
  if (d == NULL) cr_skip_test("PORTLS_CERTS is not set (it names the generated test certificates)");
  return d;
}

static const char *openssl_cli(void) {
  const char *o = getenv("OPENSSL");
  return o != NULL && *o != '\0' ? o : "openssl";
}

/* Exact-size heap copy, so ASan sees any read past the end. */
static blob exact(const void *p, size_t n) {
  blob b;
  b.p = malloc(n ? n : 1);
  cr_assert_not_null(b.p);
  if (n) memcpy(b.p, p, n);
  b.n = n;
  return b;
}

static blob slurp(FILE *f) {
  blob b = {NULL, 0};
  size_t cap = 0;
  for (;;) {
    size_t got;
    if (b.n == cap) {
      cap = cap ? 2 * cap : 4096;
      b.p = realloc(b.p, cap);
      cr_assert_not_null(b.p);
    }
    got = fread(b.p + b.n, 1, cap - b.n, f);
    if (got == 0) break;
    b.n += got;
  }
  return b;
}

static blob read_cert_file(const char *name) {
  char path[4096];
  FILE *f;
  blob raw, b;
  snprintf(path, sizeof(path), "%s/%s", certs_dir(), name);
  f = fopen(path, "rb");
  cr_assert_not_null(f, "cannot open %s", path);
  raw = slurp(f);
  fclose(f);
  b = exact(raw.p, raw.n);
  free(raw.p);
  return b;
}

/* Runs a shell command (cd'ed into $PORTLS_CERTS, $O the openssl tool) and
 * returns its stdout; .p is NULL when the command failed. */
static blob run(const char *fmt, ...) {
  char cmd[4096], full[8192];
  va_list ap;
  FILE *f;
  blob raw, b = {NULL, 0};
  int st;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof(cmd), fmt, ap);
  va_end(ap);
  snprintf(full, sizeof(full), "cd '%s' && O='%s' && { %s ; } 2>/dev/null", certs_dir(),
           openssl_cli(), cmd);
  f = popen(full, "r");
  cr_assert_not_null(f);
  raw = slurp(f);
  st = pclose(f);
  if (st == 0 && raw.n > 0) b = exact(raw.p, raw.n);
  free(raw.p);
  return b;
}

static blob must_run(const char *cmd) {
  blob b = run("%s", cmd);
  cr_assert_not_null(b.p, "command failed: %s", cmd);
  return b;
}

static int same(const uint8_t *a, size_t an, const blob *b) {
  return an == b->n && memcmp(a, b->p, an) == 0;
}

static portls_buf buf_of(const blob *b) {
  portls_buf x;
  x.base = b->p;
  x.len = b->n;
  return x;
}

/* The key as OpenSSL writes it in plain PKCS#8 DER. */
static blob expected_key(const char *keyfile) {
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "$O pkcs8 -topk8 -nocrypt -outform DER -in %s", keyfile);
  return must_run(cmd);
}

static blob cert_der(const char *crtfile) {
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "$O x509 -outform DER -in %s", crtfile);
  return must_run(cmd);
}

static int key_decrypt(const blob *in, const char *pass, portls__bytes *out, portls_error *err) {
  memset(out, 0, sizeof(*out));
  return portls__key_decrypt(buf_of(in), pass, out, err);
}

static void expect_key(const blob *in, const char *pass, const blob *want, const char *what) {
  portls__bytes out;
  portls_error err = {0};
  int r = key_decrypt(in, pass, &out, &err);
  cr_assert_eq(r, 0, "%s: %d %s", what, r, err.message);
  cr_expect(same(out.data, out.len, want),
            "%s: the decoded key differs from OpenSSL's PKCS#8 (%zu vs %zu bytes)", what, out.len,
            want->n);
  portls__key_free(&out);
}

static void free_blob(blob *b) {
  free(b->p);
  b->p = NULL;
  b->n = 0;
}

static size_t hex(const char *s, uint8_t *out) {
  size_t n = 0;
  for (; s[0] && s[1]; s += 2) {
    unsigned v;
    sscanf(s, "%2x", &v);
    out[n++] = (uint8_t)v;
  }
  return n;
}

/* ------------------------------------------------------------------------ */
/* Primitives                                                                */

Test(pkcs_crypto, md5_matches_rfc1321_vectors) {
  static const struct {
    const char *in, *out;
  } v[] = {
      {"", "d41d8cd98f00b204e9800998ecf8427e"},
      {"abc", "900150983cd24fb0d6963f7d28e17f72"},
      {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
      {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
       "57edf4a22be3c955ac49da2e2107b67a"},
  };
  for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    uint8_t md[16], want[16];
    hex(v[i].out, want);
    portls__md5(v[i].in, strlen(v[i].in), md);
    cr_expect(memcmp(md, want, 16) == 0, "MD5 vector %zu", i);
  }
}

Test(pkcs_crypto, rc2_matches_rfc2268_vectors) {
  static const struct {
    const char *key;
    unsigned bits;
    const char *pt, *ct;
  } v[] = {
      {"0000000000000000", 63, "0000000000000000", "ebb773f993278eff"},
      {"ffffffffffffffff", 64, "ffffffffffffffff", "278b27e42e2f0d49"},
      {"3000000000000000", 64, "1000000000000001", "30649edf9be7d2c2"},
      {"88", 64, "0000000000000000", "61a8a244adacccf0"},
      {"88bca90e90875a", 64, "0000000000000000", "6ccf4308974c267f"},
      {"88bca90e90875a7f0f79c384627bafb2", 64, "0000000000000000", "1a807d272bbe5db1"},
      {"88bca90e90875a7f0f79c384627bafb2", 128, "0000000000000000", "2269552ab0f85ca6"},
  };
  for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    uint8_t key[64], pt[8], ct[8], out[8];
    size_t kl = hex(v[i].key, key);
    hex(v[i].pt, pt);
    hex(v[i].ct, ct);
    portls__rc2_decrypt_block(key, kl, v[i].bits, ct, out);
    cr_expect(memcmp(out, pt, 8) == 0, "RC2 vector %zu", i);
  }
}

Test(pkcs_crypto, hmac_matches_rfc4231_and_rfc2202) {
  static const char msg[] = "what do ya want for nothing?";
  static const struct {
    int md;
    const char *out;
  } v[] = {
      {PORTLS_BE_SHA1, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
      {PORTLS_BE_SHA256, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {PORTLS_BE_SHA384, "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
                         "8e2240ca5e69e2c78b3239ecfab21649"},
      {PORTLS_BE_SHA512, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
                         "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
      {PORTLS__MD5, "750c783e6ab0b503eaa86e310a5db738"},
  };
  for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    uint8_t mac[64], want[64];
    size_t n = hex(v[i].out, want);
    int r =
        portls__hmac(v[i].md, (const uint8_t *)"Jefe", 4, (const uint8_t *)msg, strlen(msg), mac);
    if (r == PORTLS_ENOTSUP) continue; /* a backend without SHA-384/512 */
    cr_assert_eq(r, 0, "HMAC %zu", i);
    cr_expect(memcmp(mac, want, n) == 0, "HMAC vector %zu", i);
  }
  /* A key longer than the block is hashed first (RFC 4231 case 6). */
  {
    uint8_t key[131], mac[32], want[32];
    static const char m6[] = "Test Using Larger Than Block-Size Key - Hash Key First";
    memset(key, 0xaa, sizeof(key));
    hex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", want);
    cr_assert_eq(
        portls__hmac(PORTLS_BE_SHA256, key, sizeof(key), (const uint8_t *)m6, strlen(m6), mac), 0);
    cr_expect(memcmp(mac, want, 32) == 0);
  }
}

Test(pkcs_crypto, pbkdf2_matches_rfc6070_and_rfc7914) {
  static const struct {
    int md;
    const char *p, *s;
    unsigned long c;
    const char *out;
  } v[] = {
      {PORTLS_BE_SHA1, "password", "salt", 1, "0c60c80f961f0e71f3a9b524af6012062fe037a6"},
      {PORTLS_BE_SHA1, "password", "salt", 2, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"},
      {PORTLS_BE_SHA1, "password", "salt", 4096, "4b007901b765489abead49d926f721d065a429c1"},
      {PORTLS_BE_SHA1, "passwordPASSWORDpassword", "saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096,
       "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038"},
      {PORTLS_BE_SHA256, "passwd", "salt", 1,
       "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
       "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"},
  };
  for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    uint8_t out[64], want[64];
    size_t n = hex(v[i].out, want);
    cr_assert_eq(portls__pbkdf2(v[i].md, (const uint8_t *)v[i].p, strlen(v[i].p),
                                (const uint8_t *)v[i].s, strlen(v[i].s), v[i].c, out, n),
                 0);
    cr_expect(memcmp(out, want, n) == 0, "PBKDF2 vector %zu", i);
  }
}

Test(pkcs_crypto, pkcs12_password_is_utf16_with_terminator) {
  uint8_t *b;
  size_t n;
  static const uint8_t ascii[] = {0, 'a', 0, 'b', 0, 0};
  static const uint8_t utf8[] = {0x00, 0xe9, 0xd8, 0x3d, 0xde, 0x00, 0, 0}; /* e-acute, U+1F600 */
  static const uint8_t latin1[] = {0x00, 0xff, 0x00, 0x41, 0, 0};
  cr_assert_eq(portls__pkcs12_bmp_pass("ab", &b, &n), 0);
  cr_expect(n == sizeof(ascii) && memcmp(b, ascii, n) == 0);
  portls__pkcs_wipe_free(b, n);
  cr_assert_eq(portls__pkcs12_bmp_pass("\xc3\xa9\xf0\x9f\x98\x80", &b, &n), 0);
  cr_expect(n == sizeof(utf8) && memcmp(b, utf8, n) == 0);
  portls__pkcs_wipe_free(b, n);
  cr_assert_eq(portls__pkcs12_bmp_pass("\xff"
                                       "A",
                                       &b, &n),
               0); /* not UTF-8: Latin-1 */
  cr_expect(n == sizeof(latin1) && memcmp(b, latin1, n) == 0);
  portls__pkcs_wipe_free(b, n);
  cr_assert_eq(portls__pkcs12_bmp_pass(NULL, &b, &n), 0);
  cr_expect_eq(n, 0);
  cr_assert_eq(portls__pkcs12_bmp_pass("", &b, &n), 0);
  cr_expect(n == 2 && b[0] == 0 && b[1] == 0);
  portls__pkcs_wipe_free(b, n);
}

Test(pkcs_crypto, cipher_decrypt_rejects_bad_padding) {
  uint8_t key[32] = {0}, iv[16] = {0}, in[32] = {0}, out[32];
  size_t n;
  need_cipher();
  /* Random-looking plaintext almost never ends in valid padding; search a
   * ciphertext whose decryption does not, deterministically. */
  for (int i = 0; i < 256; i++) {
    int r;
    in[31] = (uint8_t)i;
    r = portls__backend.cipher_decrypt(PORTLS_BE_AES_256_CBC, key, iv, in, sizeof(in), out, &n);
    cr_assert(r == 0 || r == PORTLS_EBAD_PASSPHRASE, "r = %d", r);
    if (r == 0) cr_expect(n < sizeof(in) && n >= sizeof(in) - 16);
  }
  cr_expect_neq(portls__backend.cipher_decrypt(PORTLS_BE_AES_256_CBC, key, iv, in, 31, out, &n), 0);
}

/* ------------------------------------------------------------------------ */
/* PEM helper                                                                */

Test(pem, finds_blocks_headers_and_end_lines) {
  static const char text[] =
      "junk\n-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
      "-----BEGIN RSA PRIVATE KEY-----\r\nProc-Type: 4,ENCRYPTED\r\n"
      "DEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\r\n\r\nZm9v\r\n"
      "-----END RSA PRIVATE KEY-----\r\n";
  static const char *const labels[] = {"RSA PRIVATE KEY", NULL};
  portls__pem_block b;
  size_t pos = 0, vl, n;
  const char *v;
  uint8_t *der;
  cr_assert_eq(portls__pem_find(text, strlen(text), &pos, labels, &b), 0);
  cr_expect(portls__pem_is(&b, "RSA PRIVATE KEY"));
  cr_assert_eq(portls__pem_header(&b, "DEK-Info", &v, &vl), 0);
  cr_expect(vl == strlen("AES-256-CBC,00112233445566778899AABBCCDDEEFF") &&
            memcmp(v, "AES-256-CBC,", 12) == 0);
  cr_assert_eq(portls__pem_header(&b, "Proc-Type", &v, &vl), 0);
  cr_expect(vl == 11 && memcmp(v, "4,ENCRYPTED", 11) == 0);
  cr_expect_eq(portls__pem_header(&b, "Nope", &v, &vl), -1);
  cr_assert_eq(portls__pem_decode(&b, &der, &n), 0);
  cr_expect(n == 3 && memcmp(der, "foo", 3) == 0);
  portls__free(der);
  cr_expect_eq(pos, strlen(text));
  pos = 0;
  cr_assert_eq(portls__pem_find(text, strlen(text), &pos, NULL, &b), 0);
  cr_expect(portls__pem_is(&b, "EC PARAMETERS"));
  cr_expect_null(b.headers);
  /* A wanted block without its END line. */
  pos = 0;
  cr_expect_eq(portls__pem_find(text, strlen(text) - 8, &pos, labels, &b), PORTLS__PEM_NO_END);
  pos = 0;
  cr_expect_eq(portls__pem_find("nothing\n", 8, &pos, labels, &b), PORTLS__PEM_NONE);
}

/* A block ends only at the END line of its own label: another label's END line
 * is not its end (OpenSSL's PEM reader refuses the mismatch too). */
Test(pem, a_block_ends_only_at_its_own_end_line) {
  static const char text[] = "-----BEGIN CERTIFICATE-----\nZm9v\n-----END PRIVATE KEY-----\n";
  static const char *const labels[] = {"CERTIFICATE", NULL};
  portls__pem_block b;
  size_t pos = 0;
  cr_expect_eq(portls__pem_find(text, strlen(text), &pos, labels, &b), PORTLS__PEM_NO_END);
}

Test(pem, encode_round_trips_with_64_column_lines_and_a_nul) {
  uint8_t der[100];
  portls__bytes out = {0};
  portls__pem_block b;
  size_t pos = 0, n;
  uint8_t *back;
  for (size_t i = 0; i < sizeof(der); i++) der[i] = (uint8_t)(i * 7);
  cr_assert_eq(portls__pem_encode(&out, "CERTIFICATE", der, sizeof(der)), 0);
  cr_expect_eq(out.data[out.len], '\0');
  cr_expect(strncmp((char *)out.data, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
  cr_expect_eq(strchr((char *)out.data + 28, '\n') - ((char *)out.data + 28), 64);
  cr_assert_eq(portls__pem_find(out.data, out.len, &pos, NULL, &b), 0);
  cr_assert_eq(portls__pem_decode(&b, &back, &n), 0);
  cr_expect(n == sizeof(der) && memcmp(back, der, n) == 0);
  portls__free(back);
  portls__bytes_free(&out);
}

/* ------------------------------------------------------------------------ */
/* Keys                                                                      */

static const char *const enc_keys[] = {
    "server-rsa.enc-pkcs8-aes.key", "server-rsa.enc-pkcs8-des3.key", "server-rsa.enc-trad-aes.key",
    "server-rsa.enc-trad-des3.key"};

Test(pkcs8, decrypts_each_generated_key_to_the_plain_key) {
  blob want, plain;
  need_cipher();
  want = expected_key("server-rsa.key");
  plain = read_cert_file("server-rsa.key");
  expect_key(&plain, NULL, &want, "server-rsa.key (plain PKCS#8)");
  for (size_t i = 0; i < sizeof(enc_keys) / sizeof(enc_keys[0]); i++) {
    blob in = read_cert_file(enc_keys[i]);
    cr_expect(portls__key_is_encrypted(buf_of(&in)), "%s", enc_keys[i]);
    expect_key(&in, PASS, &want, enc_keys[i]);
    free_blob(&in);
  }
  cr_expect_not(portls__key_is_encrypted(buf_of(&plain)));
  free_blob(&plain);
  free_blob(&want);
}

Test(pkcs8, wrong_or_missing_passphrase_is_bad_passphrase) {
  need_cipher();
  for (size_t i = 0; i < sizeof(enc_keys) / sizeof(enc_keys[0]); i++) {
    blob in = read_cert_file(enc_keys[i]);
    static const char *const wrong[] = {"portls-pas", "Portls-pass", "", "x"};
    portls__bytes out;
    portls_error err = {0};
    for (size_t w = 0; w < sizeof(wrong) / sizeof(wrong[0]); w++) {
      cr_expect_eq(key_decrypt(&in, wrong[w], &out, &err), PORTLS_EBAD_PASSPHRASE,
                   "%s with '%s': %s", enc_keys[i], wrong[w], err.message);
      cr_expect_null(out.data);
    }
    cr_expect_eq(key_decrypt(&in, NULL, &out, &err), PORTLS_EBAD_PASSPHRASE,
                 "%s without passphrase", enc_keys[i]);
    free_blob(&in);
  }
}

/* Variants the openssl tool makes from server-rsa.key / server-ec.key. A
 * NULL-result command that needs the legacy provider may fail (then skipped);
 * the others must work. */
static const struct {
  const char *cmd;
  const char *key; /* the plain key it came from */
  int legacy;
} variants[] = {
    {"$O pkcs8 -topk8 -v2 aes128 -v2prf hmacWithSHA512 -passout pass:" PASS " -in server-rsa.key",
     "server-rsa.key", 0},
    {"$O pkcs8 -topk8 -v2 aes192 -v2prf hmacWithSHA384 -passout pass:" PASS " -in server-rsa.key",
     "server-rsa.key", 0},
    {"$O pkcs8 -topk8 -v2 aes256 -v2prf hmacWithSHA1 -iter 1 -passout pass:" PASS
     " -in server-ec.key",
     "server-ec.key", 0},
    {"$O pkcs8 -topk8 -v2 des3 -outform DER -passout pass:" PASS " -in server-ec.key",
     "server-ec.key", 0},
    {"$O pkcs8 -topk8 -v1 PBE-SHA1-3DES -passout pass:" PASS " -in server-rsa.key",
     "server-rsa.key", 0},
    {"$O pkcs8 -topk8 -v1 PBE-SHA1-2DES -passout pass:" PASS " -in server-ec.key", "server-ec.key",
     0},
    {"$O pkcs8 -topk8 -v1 PBE-SHA1-RC2-40 -provider legacy -provider default -passout pass:" PASS
     " -in server-ec.key",
     "server-ec.key", 1},
    {"$O pkcs8 -topk8 -v1 PBE-SHA1-RC2-128 -provider legacy -provider default -passout pass:" PASS
     " -in server-rsa.key",
     "server-rsa.key", 1},
    {"$O rsa -traditional -aes128 -passout pass:" PASS " -in server-rsa.key", "server-rsa.key", 0},
    {"$O rsa -traditional -aes192 -passout pass:" PASS " -in server-rsa.key", "server-rsa.key", 0},
    {"$O rsa -traditional -in server-rsa.key", "server-rsa.key", 0},
    {"$O rsa -traditional -outform DER -in server-rsa.key", "server-rsa.key", 0},
    {"$O ec -aes256 -passout pass:" PASS " -in server-ec.key", "server-ec.key", 0},
    {"$O ec -des3 -passout pass:" PASS " -in server-ec.key", "server-ec.key", 0},
    {"$O ec -in server-ec.key", "server-ec.key", 0},
    {"$O ec -outform DER -in server-ec.key", "server-ec.key", 0},
    {"$O ecparam -name prime256v1 && $O ec -in server-ec.key", "server-ec.key", 0},
    {"$O pkey -outform DER -in server-ec.key | $O pkcs8 -topk8 -inform DER -nocrypt -outform DER",
     "server-ec.key", 0},
    {"cat server-rsa.crt server-rsa.enc-pkcs8-aes.key", "server-rsa.key", 0},
};

Test(pkcs8, decodes_every_variant_openssl_writes) {
  need_cipher();
  for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
    blob in = run("%s", variants[i].cmd), want;
    if (in.p == NULL) {
      cr_assert(variants[i].legacy, "command failed: %s", variants[i].cmd);
      cr_log_warn("skipped (the openssl tool lacks the legacy provider): %s", variants[i].cmd);
      continue;
    }
    want = expected_key(variants[i].key);
    expect_key(&in, PASS, &want, variants[i].cmd);
    free_blob(&want);
    free_blob(&in);
  }
}

/* A tiny DER writer for hand-made structures. */
static size_t tlv(uint8_t *out, uint8_t tag, const void *val, size_t len) {
  size_t h = 0;
  out[h++] = tag;
  if (len < 0x80) {
    out[h++] = (uint8_t)len;
  } else if (len < 0x100) {
    out[h++] = 0x81;
    out[h++] = (uint8_t)len;
  } else {
    out[h++] = 0x82;
    out[h++] = (uint8_t)(len >> 8);
    out[h++] = (uint8_t)len;
  }
  if (len > 0) memmove(out + h, val, len);
  return h + len;
}

static const uint8_t oid_pbes2[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d};
static const uint8_t oid_pbkdf2[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c};
static const uint8_t oid_aes256[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a};

/* EncryptedPrivateKeyInfo under PBES2/PBKDF2/AES-256 with the given
 * iteration count (big-endian INTEGER contents). */
static blob make_epki(const uint8_t *iter, size_t iter_len) {
  uint8_t kdfp[64], kdf[96], enc[64], params[192], alg[224], body[320], out[400], tmp[320];
  size_t n, kn, en, pn, an, bn;
  static const uint8_t salt[8] = {1, 2, 3, 4, 5, 6, 7, 8}, iv[16] = {0}, ct[32] = {0};
  n = tlv(kdfp, 0x04, salt, sizeof(salt));
  n += tlv(kdfp + n, 0x02, iter, iter_len);
  kn = tlv(kdf, 0x06, oid_pbkdf2, sizeof(oid_pbkdf2));
  kn += tlv(kdf + kn, 0x30, kdfp, n);
  kn = tlv(tmp, 0x30, kdf, kn);
  memcpy(kdf, tmp, kn);
  en = tlv(enc, 0x06, oid_aes256, sizeof(oid_aes256));
  en += tlv(enc + en, 0x04, iv, sizeof(iv));
  en = tlv(tmp, 0x30, enc, en);
  memcpy(enc, tmp, en);
  memcpy(params, kdf, kn);
  memcpy(params + kn, enc, en);
  pn = tlv(tmp, 0x30, params, kn + en);
  an = tlv(alg, 0x06, oid_pbes2, sizeof(oid_pbes2));
  memcpy(alg + an, tmp, pn);
  an += pn;
  bn = tlv(body, 0x30, alg, an);
  bn += tlv(body + bn, 0x04, ct, sizeof(ct));
  return exact(out, tlv(out, 0x30, body, bn));
}

Test(pkcs8, rejects_absurd_iteration_counts_and_names_unsupported_oids) {
  static const uint8_t too_many[] = {0x00, 0x98, 0x96, 0x81}; /* 10,000,001 */
  static const uint8_t zero[] = {0x00};
  static const uint8_t negative[] = {0xff};
  portls__bytes out;
  portls_error err = {0};
  blob b;
  need_cipher();
  b = make_epki(too_many, sizeof(too_many));
  cr_expect_eq(key_decrypt(&b, PASS, &out, &err), PORTLS_EKEY);
  cr_expect(strstr(err.message, "10000001") != NULL, "%s", err.message);
  free_blob(&b);
  b = make_epki(zero, sizeof(zero));
  cr_expect_eq(key_decrypt(&b, PASS, &out, &err), PORTLS_EKEY);
  free_blob(&b);
  b = make_epki(negative, sizeof(negative));
  cr_expect_eq(key_decrypt(&b, PASS, &out, &err), PORTLS_EKEY);
  free_blob(&b);
  /* PBES1 pbeWithMD5AndDES-CBC: unsupported, and the message says which. */
  {
    static const uint8_t oid_md5des[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x03};
    uint8_t p[32], a[64], body[128], out_der[160];
    size_t pn, an, bn;
    static const uint8_t salt[8] = {0}, ct[16] = {0}, one[] = {1};
    pn = tlv(p, 0x04, salt, sizeof(salt));
    pn += tlv(p + pn, 0x02, one, 1);
    an = tlv(a, 0x06, oid_md5des, sizeof(oid_md5des));
    an += tlv(a + an, 0x30, p, pn);
    bn = tlv(body, 0x30, a, an);
    bn += tlv(body + bn, 0x04, ct, sizeof(ct));
    b = exact(out_der, tlv(out_der, 0x30, body, bn));
    cr_expect_eq(key_decrypt(&b, PASS, &out, &err), PORTLS_EKEY);
    cr_expect(strstr(err.message, "1.2.840.113549.1.5.3") != NULL, "%s", err.message);
    free_blob(&b);
  }
  /* Traditional PEM with a cipher core does not know. */
  {
    static const char t[] = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
                            "DEK-Info: BF-CBC,0011223344556677\n\nAAAAAAAAAAAAAAAAAAAAAA==\n"
                            "-----END RSA PRIVATE KEY-----\n";
    b = exact(t, strlen(t));
    cr_expect_eq(key_decrypt(&b, PASS, &out, &err), PORTLS_EKEY);
    cr_expect(strstr(err.message, "BF-CBC") != NULL, "%s", err.message);
    free_blob(&b);
  }
}

Test(pkcs8, a_work_budget_bounds_the_derivations_of_one_input) {
  blob in;
  portls__pem_block b;
  size_t pos = 0, n;
  uint8_t *der;
  unsigned long budget = 2047; /* the file asks 2048 PBKDF2-SHA256 iterations, one block */
  portls__bytes out = {0};
  portls_error err = {0};
  need_cipher();
  in = read_cert_file("server-rsa.enc-pkcs8-aes.key");
  cr_assert_eq(portls__pem_find(in.p, in.n, &pos, NULL, &b), 0);
  cr_assert_eq(portls__pem_decode(&b, &der, &n), 0);
  cr_expect_eq(portls__pkcs8_decrypt_der(der, n, PASS, PORTLS_EPFX, &budget, &out, &err),
               PORTLS_EPFX);
  cr_expect(strstr(err.message, "key-derivation work") != NULL, "%s", err.message);
  cr_expect_eq(budget, 2047);
  budget = 2048;
  cr_expect_eq(portls__pkcs8_decrypt_der(der, n, PASS, PORTLS_EPFX, &budget, &out, &err), 0, "%s",
               err.message);
  cr_expect_eq(budget, 0);
  portls__key_free(&out);
  portls__free(der);
  free_blob(&in);
}

Test(pkcs8, malformed_inputs_are_key_errors) {
  static const char *const bad[] = {
      "",
      "no key here\n",
      "-----BEGIN PRIVATE KEY-----\nMIIB!!\n-----END PRIVATE KEY-----\n",
      "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n",
      "-----BEGIN PRIVATE KEY-----\nMAA=\n",
      "-----BEGIN DSA PRIVATE KEY-----\nMAA=\n-----END DSA PRIVATE KEY-----\n",
      "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nMAA=\n-----END RSA PRIVATE "
      "KEY-----\n",
      "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,MIC-ONLY\n\nMAA=\n-----END RSA PRIVATE "
      "KEY-----\n",
      "-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n",
      "\x30\x03\x02\x01\x00",
  };
  portls__bytes out;
  portls_error err;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    blob b = exact(bad[i], strlen(bad[i]));
    int r = key_decrypt(&b, PASS, &out, &err);
    cr_expect_eq(r, PORTLS_EKEY, "case %zu: %d", i, r);
    cr_expect_null(out.data);
    free_blob(&b);
  }
  {
    portls_buf nb = {NULL, 0};
    cr_expect_eq(portls__key_decrypt(nb, PASS, &out, &err), PORTLS_EINVAL);
  }
}

/* Every truncation fails (except those that keep the whole END line); bit
 * flips end in an error or a well-formed key, never a crash. */
static size_t pem_needed(const blob *b) {
  size_t i = b->n;
  while (i > 5 && memcmp(b->p + i - 5, "-----", 5) != 0) i--;
  return i;
}

static void fuzz_key(const blob *file, const char *name, size_t stride) {
  int pem = file->n > 0 && file->p[0] != 0x30;
  size_t need = pem ? pem_needed(file) : file->n;
  portls__bytes out;
  portls_error err;
  for (size_t len = 0; len < file->n; len++) {
    blob t = exact(file->p, len);
    int r = key_decrypt(&t, PASS, &out, &err);
    if (len < need) cr_expect_neq(r, 0, "%s cut to %zu bytes decoded", name, len);
    if (r == 0) portls__key_free(&out);
    free_blob(&t);
  }
  for (size_t pos = 0; pos < file->n; pos += (pos < 96 ? 1 : stride)) {
    blob t = exact(file->p, file->n);
    int r;
    t.p[pos] ^= (uint8_t)(1u << (pos % 8));
    r = key_decrypt(&t, PASS, &out, &err);
    if (r == 0) {
      cr_expect_eq(portls__pkcs8_check(out.data, out.len), 0,
                   "%s: flip at %zu gave a malformed key", name, pos);
      portls__key_free(&out);
    } else {
      cr_expect(r == PORTLS_EKEY || r == PORTLS_EBAD_PASSPHRASE, "%s: flip at %zu: %d", name, pos,
                r);
    }
    free_blob(&t);
  }
}

Test(pkcs8, truncations_and_bit_flips_never_crash, .timeout = 300) {
  need_cipher();
  for (size_t i = 0; i < sizeof(enc_keys) / sizeof(enc_keys[0]); i++) {
    blob in = read_cert_file(enc_keys[i]);
    fuzz_key(&in, enc_keys[i], i < 2 ? 7 : 1);
    /* The DER inside the PKCS#8 files, flipped bit by bit in its header. */
    if (i < 2) {
      portls__pem_block b;
      size_t pos = 0, n;
      uint8_t *der;
      cr_assert_eq(portls__pem_find(in.p, in.n, &pos, NULL, &b), 0);
      cr_assert_eq(portls__pem_decode(&b, &der, &n), 0);
      blob d = exact(der, n);
      portls__free(der);
      fuzz_key(&d, enc_keys[i], 11);
      free_blob(&d);
    }
    free_blob(&in);
  }
}

/* ------------------------------------------------------------------------ */
/* PKCS#12                                                                   */

static int pfx_decode(const blob *in, const char *pass, portls__pfx_result *out,
                      portls_error *err) {
  return portls__pfx_decode(buf_of(in), pass, out, err);
}

static void expect_pfx(const blob *pfx, const char *pass, const char *keyfile,
                       const char *const *certs, size_t ncerts, const char *what) {
  portls__pfx_result res;
  portls_error err = {0};
  blob want = expected_key(keyfile);
  int r = pfx_decode(pfx, pass, &res, &err);
  cr_assert_eq(r, 0, "%s: %d %s", what, r, err.message);
  cr_expect(same(res.key.data, res.key.len, &want), "%s: key differs from %s", what, keyfile);
  cr_assert_eq(res.cert_count, ncerts, "%s: %zu certificates", what, res.cert_count);
  for (size_t i = 0; i < ncerts; i++) {
    blob c = cert_der(certs[i]);
    cr_expect(same(res.certs[i].data, res.certs[i].len, &c), "%s: certificate %zu is not %s", what,
              i, certs[i]);
    free_blob(&c);
  }
  portls__pfx_result_free(&res);
  cr_expect_null(res.certs);
  free_blob(&want);
}

static const char *const server_chain[] = {"server-rsa.crt", "intermediate.crt"};
static const char *const client_chain[] = {"client.crt", "intermediate.crt"};

Test(pkcs12, decodes_the_generated_pfx_files) {
  blob a, b, c;
  need_cipher();
  a = read_cert_file("server.pfx");
  b = read_cert_file("server-3des.pfx");
  c = read_cert_file("client.pfx");
  expect_pfx(&a, PASS, "server-rsa.key", server_chain, 2,
             "server.pfx (PBES2/AES-256, MAC SHA-256)");
  expect_pfx(&b, PASS, "server-rsa.key", server_chain, 2, "server-3des.pfx (3DES, MAC SHA-1)");
  expect_pfx(&c, PASS, "client.key", client_chain, 2, "client.pfx");
  free_blob(&a);
  free_blob(&b);
  free_blob(&c);
}

Test(pkcs12, wrong_or_missing_passphrase_is_bad_passphrase) {
  static const char *const files[] = {"server.pfx", "server-3des.pfx", "client.pfx"};
  need_cipher();
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    blob in = read_cert_file(files[i]);
    portls__pfx_result res;
    portls_error err = {0};
    cr_expect_eq(pfx_decode(&in, "portls-pas", &res, &err), PORTLS_EBAD_PASSPHRASE, "%s: %s",
                 files[i], err.message);
    cr_expect_null(res.certs);
    cr_expect_eq(pfx_decode(&in, "", &res, &err), PORTLS_EBAD_PASSPHRASE, "%s", files[i]);
    cr_expect_eq(pfx_decode(&in, NULL, &res, &err), PORTLS_EBAD_PASSPHRASE, "%s", files[i]);
    free_blob(&in);
  }
}

#define EXPORT                                                                                     \
  "$O pkcs12 -export -inkey server-rsa.key -in server-rsa.crt -certfile intermediate.crt "

Test(pkcs12, decodes_every_variant_openssl_writes) {
  static const struct {
    const char *cmd, *pass;
    int legacy;
  } v[] = {
      {EXPORT "-legacy -passout pass:" PASS, PASS, 1}, /* RC2-40 certificates, 3DES key */
      {EXPORT "-certpbe PBE-SHA1-RC2-128 -keypbe PBE-SHA1-2DES -provider legacy -provider default "
              "-passout pass:" PASS,
       PASS, 1},
      {EXPORT "-macalg sha512 -passout pass:" PASS, PASS, 0},
      {EXPORT "-macalg sha384 -certpbe AES-128-CBC -keypbe AES-192-CBC -passout pass:" PASS, PASS,
       0},
      {EXPORT "-nomac -passout pass:" PASS, PASS, 0},
      {EXPORT "-certpbe NONE -keypbe NONE -passout pass:" PASS, PASS, 0}, /* plain keyBag */
      {EXPORT "-passout pass:", "", 0},
      {EXPORT "-passout pass:", NULL, 0},
      {EXPORT "-keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -passout pass:", NULL, 0},
      {EXPORT "-passout 'pass:p\xc3\xa4ss'", "p\xc3\xa4ss", 0}, /* UTF-8 passphrase */
      {EXPORT "-keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -passout 'pass:p\xc3\xa4ss'",
       "p\xc3\xa4ss", 0},
      {EXPORT "-iter 1 -passout pass:" PASS, PASS, 0},
  };
  need_cipher();
  for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    blob in = run("%s", v[i].cmd);
    if (in.p == NULL) {
      cr_assert(v[i].legacy, "command failed: %s", v[i].cmd);
      cr_log_warn("skipped (the openssl tool lacks the legacy provider): %s", v[i].cmd);
      continue;
    }
    expect_pfx(&in, v[i].pass, "server-rsa.key", server_chain, 2, v[i].cmd);
    free_blob(&in);
  }
}

Test(pkcs12, orders_the_chain_leaf_first_whatever_the_file_order) {
  static const char *const want[] = {"server-rsa.crt", "intermediate.crt", "ca.crt"};
  char tmpl[] = "/tmp/portls-pkcs-XXXXXX";
  int fd;
  blob pfx;
  need_cipher();
  fd = mkstemp(tmpl);
  cr_assert(fd >= 0);
  close(fd);
  /* root, leaf, intermediate in one -in file: OpenSSL stores the leaf and
   * then the others as found (root before intermediate). */
  pfx = run(
      "cat ca.crt server-rsa.crt intermediate.crt > %s && $O pkcs12 -export -inkey server-rsa.key "
      "-in %s -passout pass:" PASS,
      tmpl, tmpl);
  unlink(tmpl);
  cr_assert_not_null(pfx.p);
  expect_pfx(&pfx, PASS, "server-rsa.key", want, 3, "root-first PFX");
  free_blob(&pfx);
}

static const uint8_t oid_data[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01};
static const uint8_t oid_sha256[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};

/* A PFX built by hand: no MAC, no encryption, no localKeyID, the bags in
 * the given order, so the leaf can be anywhere. */
static size_t put_tlv(uint8_t *out, uint8_t tag, const uint8_t *val, size_t len) {
  return tlv(out, tag, val, len);
}

static const uint8_t oid_cert_bag[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
                                       0x01, 0x0c, 0x0a, 0x01, 0x03};
static const uint8_t oid_key_bag[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
                                      0x01, 0x0c, 0x0a, 0x01, 0x01};
static const uint8_t oid_x509[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x16, 0x01};

static blob make_plain_pfx(const char *const *crts, size_t ncrts, const char *keyfile) {
  enum { CAP = 1 << 16 };
  uint8_t *safe = malloc(CAP), *a = malloc(CAP), *b = malloc(CAP), *c = malloc(CAP);
  size_t sn = 0, n, m;
  static const uint8_t three[] = {3};
  blob out;
  for (size_t i = 0; i <= ncrts; i++) {
    blob d = i < ncrts ? cert_der(crts[i]) : expected_key(keyfile);
    if (i < ncrts) {
      n = put_tlv(a, 0x04, d.p, d.n);
      n = put_tlv(b, 0xa0, a, n);
      m = put_tlv(a, 0x06, oid_x509, sizeof(oid_x509));
      memcpy(a + m, b, n);
      n = put_tlv(b, 0x30, a, m + n); /* CertBag */
      n = put_tlv(a, 0xa0, b, n);
      m = put_tlv(b, 0x06, oid_cert_bag, sizeof(oid_cert_bag));
    } else {
      n = put_tlv(a, 0xa0, d.p, d.n);
      m = put_tlv(b, 0x06, oid_key_bag, sizeof(oid_key_bag));
    }
    memcpy(b + m, a, n);
    sn += put_tlv(safe + sn, 0x30, b, m + n); /* SafeBag */
    free_blob(&d);
  }
  n = put_tlv(a, 0x30, safe, sn); /* SafeContents */
  n = put_tlv(b, 0x04, a, n);
  n = put_tlv(a, 0xa0, b, n);
  m = put_tlv(b, 0x06, oid_data, sizeof(oid_data));
  memcpy(b + m, a, n);
  n = put_tlv(a, 0x30, b, m + n); /* ContentInfo */
  n = put_tlv(b, 0x30, a, n);     /* AuthenticatedSafe */
  n = put_tlv(a, 0x04, b, n);
  n = put_tlv(b, 0xa0, a, n);
  m = put_tlv(a, 0x06, oid_data, sizeof(oid_data));
  memcpy(a + m, b, n);
  n = put_tlv(b, 0x30, a, m + n); /* authSafe */
  m = put_tlv(c, 0x02, three, 1);
  memcpy(c + m, b, n);
  out = exact(a, put_tlv(a, 0x30, c, m + n));
  free(safe);
  free(a);
  free(b);
  free(c);
  return out;
}

Test(pkcs12, the_leaf_is_the_certificate_matching_the_key) {
  static const char *const rsa_in[] = {"intermediate.crt", "ca.crt", "server-ec.crt",
                                       "server-rsa.crt"};
  static const char *const rsa_out[] = {"server-rsa.crt", "intermediate.crt", "ca.crt",
                                        "server-ec.crt"};
  static const char *const ec_in[] = {"server-rsa.crt", "ca.crt", "server-ec.crt",
                                      "intermediate.crt"};
  static const char *const ec_out[] = {"server-ec.crt", "intermediate.crt", "ca.crt",
                                       "server-rsa.crt"};
  blob pfx;
  pfx = make_plain_pfx(rsa_in, 4, "server-rsa.key");
  expect_pfx(&pfx, NULL, "server-rsa.key", rsa_out, 4, "hand-made RSA PFX");
  free_blob(&pfx);
  pfx = make_plain_pfx(ec_in, 4, "server-ec.key");
  expect_pfx(&pfx, PASS, "server-ec.key", ec_out, 4, "hand-made EC PFX");
  free_blob(&pfx);
  /* A key with no certificate, and certificates with no key. */
  {
    portls__pfx_result res;
    portls_error err = {0};
    pfx = make_plain_pfx(NULL, 0, "server-rsa.key");
    cr_expect_eq(pfx_decode(&pfx, NULL, &res, &err), PORTLS_EPFX);
    cr_expect(strstr(err.message, "no certificate") != NULL, "%s", err.message);
    free_blob(&pfx);
    pfx = run(EXPORT "-nokeys -passout pass:" PASS);
    cr_assert_not_null(pfx.p);
    cr_expect_eq(pfx_decode(&pfx, PASS, &res, &err), PORTLS_EPFX);
    cr_expect(strstr(err.message, "no private key") != NULL, "%s", err.message);
    free_blob(&pfx);
  }
}

Test(pkcs12, an_ec_pfx_decodes) {
  static const char *const chain[] = {"server-ec.crt", "intermediate.crt"};
  blob pfx;
  need_cipher();
  pfx = must_run(
      "$O pkcs12 -export -inkey server-ec.key -in server-ec.crt -certfile intermediate.crt "
      "-passout pass:" PASS);
  expect_pfx(&pfx, PASS, "server-ec.key", chain, 2, "EC PFX");
  free_blob(&pfx);
}

Test(pkcs12, pem_output_loads_back) {
  blob in;
  portls__pfx_result res;
  portls__bytes key_pem = {0}, certs_pem = {0}, again;
  portls_error err = {0};
  portls_cert *cert = NULL;
  need_cipher();
  in = read_cert_file("server.pfx");
  cr_assert_eq(pfx_decode(&in, PASS, &res, &err), 0, "%s", err.message);
  cr_assert_eq(portls__pfx_to_pem(&res, &key_pem, &certs_pem), 0);
  cr_expect_eq(key_pem.data[key_pem.len], '\0');
  cr_expect_eq(certs_pem.data[certs_pem.len], '\0');
  cr_expect(strstr((char *)certs_pem.data,
                   "-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\n") != NULL);
  {
    portls_buf kb = {key_pem.data, key_pem.len};
    memset(&again, 0, sizeof(again));
    cr_assert_eq(portls__key_decrypt(kb, NULL, &again, &err), 0, "%s", err.message);
    cr_expect(again.len == res.key.len && memcmp(again.data, res.key.data, again.len) == 0);
    portls__key_free(&again);
  }
  cr_assert_eq(portls_cert_parse_pem(certs_pem.data, certs_pem.len, &cert, &err), 0, "%s",
               err.message);
  cr_assert_geq(cert->subject.count, 1);
  cr_expect_str_eq(cert->subject.entries[cert->subject.count - 1].value, "localhost");
  portls_cert_free(cert);
  portls__key_free(&key_pem);
  portls__bytes_free(&certs_pem);
  portls__pfx_result_free(&res);
  free_blob(&in);
}

/* PFX { 3, data { SEQUENCE {} }, MacData with iterations iter }. */
static blob make_pfx(const uint8_t *iter, size_t iter_len) {
  uint8_t a[64], b[64], c[64], mac[160], top[320], t[320];
  size_t an, bn, cn, mn, tn;
  static const uint8_t empty_seq[] = {0x30, 0x00}, digest[32] = {0}, salt[8] = {0}, three[] = {3};
  an = tlv(a, 0x04, empty_seq, sizeof(empty_seq));
  an = tlv(b, 0xa0, a, an);
  bn = tlv(a, 0x06, oid_data, sizeof(oid_data));
  memcpy(a + bn, b, an);
  bn = tlv(b, 0x30, a, bn + an); /* authSafe ContentInfo */
  cn = tlv(c, 0x06, oid_sha256, sizeof(oid_sha256));
  cn += tlv(c + cn, 0x05, NULL, 0);
  cn = tlv(t, 0x30, c, cn);
  cn += tlv(t + cn, 0x04, digest, sizeof(digest));
  mn = tlv(mac, 0x30, t, cn);
  mn += tlv(mac + mn, 0x04, salt, sizeof(salt));
  mn += tlv(mac + mn, 0x02, iter, iter_len);
  mn = tlv(t, 0x30, mac, mn);
  tn = tlv(top, 0x02, three, 1);
  memcpy(top + tn, b, bn);
  tn += bn;
  memcpy(top + tn, t, mn);
  tn += mn;
  return exact(t, tlv(t, 0x30, top, tn));
}

Test(pkcs12, bounds_and_unsupported_structures_are_pfx_errors) {
  static const uint8_t too_many[] = {0x00, 0x98, 0x96, 0x81}, zero[] = {0}, two[] = {2};
  portls__pfx_result res;
  portls_error err = {0};
  blob b;
  need_cipher();
  b = make_pfx(too_many, sizeof(too_many));
  cr_expect_eq(pfx_decode(&b, PASS, &res, &err), PORTLS_EPFX);
  cr_expect(strstr(err.message, "10000001") != NULL, "%s", err.message);
  free_blob(&b);
  b = make_pfx(zero, sizeof(zero));
  cr_expect_eq(pfx_decode(&b, PASS, &res, &err), PORTLS_EPFX);
  free_blob(&b);
  /* Well-formed, MAC wrong: a wrong passphrase. */
  b = make_pfx(two, sizeof(two));
  cr_expect_eq(pfx_decode(&b, PASS, &res, &err), PORTLS_EBAD_PASSPHRASE, "%s", err.message);
  free_blob(&b);
  /* Sizes. */
  {
    size_t n = PORTLS__PKCS_MAX_PFX + 1;
    uint8_t *big = calloc(1, n);
    portls_buf bb = {big, n};
    cr_expect_eq(portls__pfx_decode(bb, PASS, &res, &err), PORTLS_EPFX);
    free(big);
  }
  {
    static const char pem[] = "-----BEGIN PKCS12-----\n";
    b = exact(pem, strlen(pem));
    cr_expect_eq(pfx_decode(&b, PASS, &res, &err), PORTLS_EPFX);
    free_blob(&b);
  }
  {
    portls_buf nb = {NULL, 0};
    cr_expect_eq(portls__pfx_decode(nb, PASS, &res, &err), PORTLS_EINVAL);
  }
}

static void fuzz_pfx(const blob *file, const char *name, int has_mac, size_t stride) {
  portls__pfx_result res;
  portls_error err;
  for (size_t len = 0; len < file->n; len++) {
    blob t = exact(file->p, len);
    cr_expect_neq(pfx_decode(&t, PASS, &res, &err), 0, "%s cut to %zu bytes decoded", name, len);
    free_blob(&t);
  }
  for (size_t pos = 0; pos < file->n; pos += (pos < 64 || pos + 128 > file->n ? 1 : stride)) {
    blob t = exact(file->p, file->n);
    int r;
    t.p[pos] ^= (uint8_t)(1u << ((pos * 5) % 8));
    r = pfx_decode(&t, PASS, &res, &err);
    if (has_mac) {
      cr_expect_neq(r, 0, "%s: flip at %zu decoded", name, pos);
    }
    if (r == 0) {
      cr_expect_eq(portls__pkcs8_check(res.key.data, res.key.len), 0);
      cr_expect_geq(res.cert_count, 1);
      portls__pfx_result_free(&res);
    } else {
      cr_expect(r == PORTLS_EPFX || r == PORTLS_EBAD_PASSPHRASE, "%s: flip at %zu: %d %s", name,
                pos, r, err.message);
      cr_expect_null(res.certs);
    }
    free_blob(&t);
  }
}

Test(pkcs12, truncations_and_bit_flips_never_crash, .timeout = 300) {
  static const char *const files[] = {"server.pfx", "server-3des.pfx", "client.pfx"};
  blob nomac;
  need_cipher();
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    blob in = read_cert_file(files[i]);
    fuzz_pfx(&in, files[i], 1, 29);
    free_blob(&in);
  }
  /* Without a MAC the corruption reaches the decryption and the bag walk. */
  nomac = must_run(EXPORT "-nomac -iter 1 -passout pass:" PASS);
  fuzz_pfx(&nomac, "no-MAC PFX", 0, 3);
  free_blob(&nomac);
  nomac = must_run(
      EXPORT "-nomac -iter 1 -keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -passout pass:" PASS);
  fuzz_pfx(&nomac, "no-MAC 3DES PFX", 0, 3);
  free_blob(&nomac);
}
