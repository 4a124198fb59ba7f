/* portls core: password-based crypto for the PKCS#8/PKCS#12 decoders (see
 * pkcs_crypto.h). The SHA digests and the AES/3DES ciphers come from the
 * backend; MD5 and RC2 live here because no backend is asked for them and
 * both are small, frozen algorithms. */
#include "tls/pkcs_crypto.h"

#include <string.h>

#include "util/utf8.h"
#include "util/util.h"

void portls__pkcs_wipe(void *p, size_t n) {
  volatile uint8_t *v = (volatile uint8_t *)p;
  while (v != NULL && n-- > 0) *v++ = 0;
}

void portls__pkcs_wipe_free(void *p, size_t n) {
  if (p == NULL) return;
  portls__pkcs_wipe(p, n);
  portls__free(p);
}

/* ------------------------------------------------------------------------ */
/* MD5 (RFC 1321)                                                            */

typedef struct md5_ctx {
  uint32_t h[4];
  uint64_t total;
  uint8_t buf[64];
  size_t used;
} md5_ctx;

static const uint32_t md5_k[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};

static const uint8_t md5_r[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                  5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                                  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                  6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};

static uint32_t rotl32(uint32_t x, unsigned n) { return (x << n) | (x >> (32 - n)); }

static void md5_block(md5_ctx *c, const uint8_t *p) {
  uint32_t w[16], a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3];
  unsigned i;
  for (i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
           (uint32_t)p[4 * i + 3] << 24;
  for (i = 0; i < 64; i++) {
    uint32_t f, t;
    unsigned g;
    if (i < 16) {
      f = (b & cc) | (~b & d);
      g = i;
    } else if (i < 32) {
      f = (d & b) | (~d & cc);
      g = (5 * i + 1) & 15;
    } else if (i < 48) {
      f = b ^ cc ^ d;
      g = (3 * i + 5) & 15;
    } else {
      f = cc ^ (b | ~d);
      g = (7 * i) & 15;
    }
    t = d;
    d = cc;
    cc = b;
    b = b + rotl32(a + f + md5_k[i] + w[g], md5_r[i]);
    a = t;
  }
  c->h[0] += a;
  c->h[1] += b;
  c->h[2] += cc;
  c->h[3] += d;
}

static void md5_init(md5_ctx *c) {
  c->h[0] = 0x67452301;
  c->h[1] = 0xefcdab89;
  c->h[2] = 0x98badcfe;
  c->h[3] = 0x10325476;
  c->total = 0;
  c->used = 0;
}

static void md5_update(md5_ctx *c, const void *data, size_t len) {
  const uint8_t *p = (const uint8_t *)data;
  c->total += len;
  while (len > 0) {
    size_t n = PORTLS__MIN(len, 64 - c->used);
    memcpy(c->buf + c->used, p, n);
    c->used += n;
    p += n;
    len -= n;
    if (c->used == 64) {
      md5_block(c, c->buf);
      c->used = 0;
    }
  }
}

static void md5_final(md5_ctx *c, uint8_t out[16]) {
  uint64_t bits = c->total * 8;
  uint8_t pad[72] = {0x80};
  size_t padlen = (c->used < 56 ? 56 : 120) - c->used;
  unsigned i;
  for (i = 0; i < 8; i++) pad[padlen + i] = (uint8_t)(bits >> (8 * i));
  md5_update(c, pad, padlen + 8);
  for (i = 0; i < 16; i++) out[i] = (uint8_t)(c->h[i / 4] >> (8 * (i % 4)));
  portls__pkcs_wipe(c, sizeof(*c));
}

void portls__md5(const void *data, size_t len, uint8_t out[16]) {
  md5_ctx c;
  md5_init(&c);
  md5_update(&c, data, len);
  md5_final(&c, out);
}

void portls__bytes_to_key_md5(const uint8_t *pass, size_t pass_len, const uint8_t salt[8],
                              uint8_t *key, size_t key_len) {
  uint8_t d[16];
  size_t have = 0;
  while (have < key_len) {
    md5_ctx c;
    size_t n;
    md5_init(&c);
    if (have > 0) md5_update(&c, d, sizeof(d));
    md5_update(&c, pass, pass_len);
    md5_update(&c, salt, 8);
    md5_final(&c, d);
    n = PORTLS__MIN(sizeof(d), key_len - have);
    memcpy(key + have, d, n);
    have += n;
  }
  portls__pkcs_wipe(d, sizeof(d));
}

/* ------------------------------------------------------------------------ */
/* Digests and HMAC                                                          */

size_t portls__md_size(int md) {
  switch (md) {
  case PORTLS__MD5:
    return 16;
  case PORTLS_BE_SHA1:
    return 20;
  case PORTLS_BE_SHA256:
    return 32;
  case PORTLS_BE_SHA384:
    return 48;
  case PORTLS_BE_SHA512:
    return 64;
  default:
    return 0;
  }
}

size_t portls__md_block(int md) {
  switch (md) {
  case PORTLS__MD5:
  case PORTLS_BE_SHA1:
  case PORTLS_BE_SHA256:
    return 64;
  case PORTLS_BE_SHA384:
  case PORTLS_BE_SHA512:
    return 128;
  default:
    return 0;
  }
}

int portls__md(int md, const void *data, size_t len, uint8_t *out) {
  if (md == PORTLS__MD5) {
    portls__md5(data, len, out);
    return 0;
  }
  if (portls__md_size(md) == 0) return PORTLS_EINVAL;
  return portls__backend.digest(md, data, len, out);
}

/* A keyed HMAC: the padded key blocks, computed once. The backend offers
 * one-shot digests only, so each HMAC builds pad||message in a scratch
 * buffer of block + max(message, digest) bytes. */
typedef struct hmac_key {
  int md;
  size_t hs, bs;
  uint8_t ipad[PORTLS__MD_BLOCK_MAX];
  uint8_t opad[PORTLS__MD_BLOCK_MAX];
} hmac_key;

static int hmac_init(hmac_key *h, int md, const uint8_t *key, size_t key_len) {
  uint8_t k[PORTLS__MD_BLOCK_MAX];
  size_t i;
  int rc;
  h->md = md;
  h->hs = portls__md_size(md);
  h->bs = portls__md_block(md);
  if (h->hs == 0) return PORTLS_EINVAL;
  memset(k, 0, sizeof(k));
  if (key_len > h->bs) {
    if ((rc = portls__md(md, key, key_len, k)) != 0) return rc;
  } else if (key_len > 0) {
    memcpy(k, key, key_len);
  }
  for (i = 0; i < h->bs; i++) {
    h->ipad[i] = (uint8_t)(k[i] ^ 0x36);
    h->opad[i] = (uint8_t)(k[i] ^ 0x5c);
  }
  portls__pkcs_wipe(k, sizeof(k));
  return 0;
}

static int hmac_run(const hmac_key *h, uint8_t *scratch, const uint8_t *msg, size_t len,
                    uint8_t *out) {
  uint8_t inner[PORTLS__MD_MAX];
  int rc;
  memcpy(scratch, h->ipad, h->bs);
  if (len > 0) memmove(scratch + h->bs, msg, len);
  if ((rc = portls__md(h->md, scratch, h->bs + len, inner)) != 0) return rc;
  memcpy(scratch, h->opad, h->bs);
  memcpy(scratch + h->bs, inner, h->hs);
  rc = portls__md(h->md, scratch, h->bs + h->hs, out);
  portls__pkcs_wipe(inner, sizeof(inner));
  return rc;
}

int portls__hmac(int md, const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                 uint8_t *out) {
  hmac_key h;
  uint8_t *scratch;
  size_t n;
  int rc = hmac_init(&h, md, key, key_len);
  if (rc != 0) return rc;
  if (msg_len > SIZE_MAX - 2 * PORTLS__MD_BLOCK_MAX) return PORTLS_EINVAL;
  n = h.bs + PORTLS__MAX(msg_len, h.hs);
  scratch = (uint8_t *)portls__malloc(n);
  if (scratch == NULL) {
    portls__pkcs_wipe(&h, sizeof(h));
    return PORTLS_ENOMEM;
  }
  rc = hmac_run(&h, scratch, msg, msg_len, out);
  portls__pkcs_wipe_free(scratch, n);
  portls__pkcs_wipe(&h, sizeof(h));
  return rc;
}

int portls__pbkdf2(int md, const uint8_t *pass, size_t pass_len, const uint8_t *salt,
                   size_t salt_len, unsigned long iterations, uint8_t *out, size_t out_len) {
  hmac_key h;
  uint8_t u[PORTLS__MD_MAX], t[PORTLS__MD_MAX], *scratch;
  size_t n, done = 0;
  uint32_t block = 1;
  int rc;
  if (iterations == 0 || salt_len > 65536) return PORTLS_EINVAL;
  if ((rc = hmac_init(&h, md, pass, pass_len)) != 0) return rc;
  n = h.bs + PORTLS__MAX(salt_len + 4, h.hs);
  scratch = (uint8_t *)portls__malloc(n);
  if (scratch == NULL) return PORTLS_ENOMEM;
  while (rc == 0 && done < out_len) {
    unsigned long i;
    size_t j, take;
    /* U_1 = PRF(P, S || INT(block)): the message is built in place, after
     * the pad block, where hmac_run expects it. */
    uint8_t *m = scratch + h.bs;
    if (salt_len > 0) memcpy(m, salt, salt_len);
    m[salt_len] = (uint8_t)(block >> 24);
    m[salt_len + 1] = (uint8_t)(block >> 16);
    m[salt_len + 2] = (uint8_t)(block >> 8);
    m[salt_len + 3] = (uint8_t)block;
    rc = hmac_run(&h, scratch, m, salt_len + 4, u);
    memcpy(t, u, h.hs);
    for (i = 1; rc == 0 && i < iterations; i++) {
      rc = hmac_run(&h, scratch, u, h.hs, u);
      for (j = 0; j < h.hs; j++) t[j] ^= u[j];
    }
    take = PORTLS__MIN(h.hs, out_len - done);
    memcpy(out + done, t, take);
    done += take;
    block++;
  }
  portls__pkcs_wipe_free(scratch, n);
  portls__pkcs_wipe(&h, sizeof(h));
  portls__pkcs_wipe(u, sizeof(u));
  portls__pkcs_wipe(t, sizeof(t));
  return rc;
}

int portls__pkcs12_kdf(int md, int id, const uint8_t *pass, size_t pass_len, const uint8_t *salt,
                       size_t salt_len, unsigned long iterations, uint8_t *out, size_t out_len) {
  size_t u = portls__md_size(md), v = portls__md_block(md), slen, plen, ilen, i, done = 0;
  uint8_t a[PORTLS__MD_MAX], *buf, *in;
  int rc = 0;
  /* pass is a BMPString: up to four bytes per passphrase byte, plus 00 00. */
  if (u == 0 || md == PORTLS__MD5 || iterations == 0 || salt_len > 65536 ||
      pass_len > 4 * 65536 + 2)
    return PORTLS_EINVAL;
  slen = v * ((salt_len + v - 1) / v);
  plen = v * ((pass_len + v - 1) / v);
  ilen = slen + plen;
  /* buf = D || I, so that A_1 = H(D || I) is one digest over buf. */
  buf = (uint8_t *)portls__malloc(v + ilen);
  if (buf == NULL) return PORTLS_ENOMEM;
  memset(buf, id, v);
  in = buf + v;
  for (i = 0; i < slen; i++) in[i] = salt[i % salt_len];
  for (i = 0; i < plen; i++) in[slen + i] = pass[i % pass_len];
  while (done < out_len) {
    unsigned long r;
    size_t take, j;
    if ((rc = portls__md(md, buf, v + ilen, a)) != 0) break;
    for (r = 1; r < iterations; r++)
      if ((rc = portls__md(md, a, u, a)) != 0) break;
    if (rc != 0) break;
    take = PORTLS__MIN(u, out_len - done);
    memcpy(out + done, a, take);
    done += take;
    if (done >= out_len) break;
    /* I_j = (I_j + B + 1) mod 2^(8v), B = A repeated to v bytes. */
    for (j = 0; j < ilen; j += v) {
      unsigned carry = 1;
      size_t k = v;
      while (k-- > 0) {
        carry += (unsigned)in[j + k] + a[k % u];
        in[j + k] = (uint8_t)carry;
        carry >>= 8;
      }
    }
  }
  portls__pkcs_wipe_free(buf, v + ilen);
  portls__pkcs_wipe(a, sizeof(a));
  return rc;
}

int portls__pkcs12_bmp_pass(const char *pass, uint8_t **out, size_t *out_len) {
  const uint8_t *s = (const uint8_t *)pass;
  size_t n, i, k = 0;
  int utf8 = 1;
  uint8_t *b;
  *out = NULL;
  *out_len = 0;
  if (pass == NULL) return 0;
  n = strlen(pass);
  for (i = 0; i < n;) {
    uint32_t cp;
    size_t l = portls__utf8_decode(s + i, n - i, &cp);
    if (l == 0) {
      utf8 = 0;
      break;
    }
    i += l;
  }
  /* At most two UTF-16 units (4 bytes) per input byte, plus the terminator. */
  if (n > (SIZE_MAX - 2) / 4) return PORTLS_ENOMEM;
  b = (uint8_t *)portls__malloc(4 * n + 2);
  if (b == NULL) return PORTLS_ENOMEM;
  for (i = 0; i < n;) {
    uint32_t cp = s[i];
    size_t l = utf8 ? portls__utf8_decode(s + i, n - i, &cp) : 1;
    i += l;
    if (cp >= 0x10000) {
      uint32_t hi = 0xD800 + ((cp - 0x10000) >> 10), lo = 0xDC00 + ((cp - 0x10000) & 0x3FF);
      b[k++] = (uint8_t)(hi >> 8);
      b[k++] = (uint8_t)hi;
      b[k++] = (uint8_t)(lo >> 8);
      b[k++] = (uint8_t)lo;
    } else {
      b[k++] = (uint8_t)(cp >> 8);
      b[k++] = (uint8_t)cp;
    }
  }
  b[k++] = 0;
  b[k++] = 0;
  *out = b;
  *out_len = k;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* RC2 (RFC 2268), decryption only                                           */

static const uint8_t rc2_pitable[256] = {
    0xd9, 0x78, 0xf9, 0xc4, 0x19, 0xdd, 0xb5, 0xed, 0x28, 0xe9, 0xfd, 0x79, 0x4a, 0xa0, 0xd8, 0x9d,
    0xc6, 0x7e, 0x37, 0x83, 0x2b, 0x76, 0x53, 0x8e, 0x62, 0x4c, 0x64, 0x88, 0x44, 0x8b, 0xfb, 0xa2,
    0x17, 0x9a, 0x59, 0xf5, 0x87, 0xb3, 0x4f, 0x13, 0x61, 0x45, 0x6d, 0x8d, 0x09, 0x81, 0x7d, 0x32,
    0xbd, 0x8f, 0x40, 0xeb, 0x86, 0xb7, 0x7b, 0x0b, 0xf0, 0x95, 0x21, 0x22, 0x5c, 0x6b, 0x4e, 0x82,
    0x54, 0xd6, 0x65, 0x93, 0xce, 0x60, 0xb2, 0x1c, 0x73, 0x56, 0xc0, 0x14, 0xa7, 0x8c, 0xf1, 0xdc,
    0x12, 0x75, 0xca, 0x1f, 0x3b, 0xbe, 0xe4, 0xd1, 0x42, 0x3d, 0xd4, 0x30, 0xa3, 0x3c, 0xb6, 0x26,
    0x6f, 0xbf, 0x0e, 0xda, 0x46, 0x69, 0x07, 0x57, 0x27, 0xf2, 0x1d, 0x9b, 0xbc, 0x94, 0x43, 0x03,
    0xf8, 0x11, 0xc7, 0xf6, 0x90, 0xef, 0x3e, 0xe7, 0x06, 0xc3, 0xd5, 0x2f, 0xc8, 0x66, 0x1e, 0xd7,
    0x08, 0xe8, 0xea, 0xde, 0x80, 0x52, 0xee, 0xf7, 0x84, 0xaa, 0x72, 0xac, 0x35, 0x4d, 0x6a, 0x2a,
    0x96, 0x1a, 0xd2, 0x71, 0x5a, 0x15, 0x49, 0x74, 0x4b, 0x9f, 0xd0, 0x5e, 0x04, 0x18, 0xa4, 0xec,
    0xc2, 0xe0, 0x41, 0x6e, 0x0f, 0x51, 0xcb, 0xcc, 0x24, 0x91, 0xaf, 0x50, 0xa1, 0xf4, 0x70, 0x39,
    0x99, 0x7c, 0x3a, 0x85, 0x23, 0xb8, 0xb4, 0x7a, 0xfc, 0x02, 0x36, 0x5b, 0x25, 0x55, 0x97, 0x31,
    0x2d, 0x5d, 0xfa, 0x98, 0xe3, 0x8a, 0x92, 0xae, 0x05, 0xdf, 0x29, 0x10, 0x67, 0x6c, 0xba, 0xc9,
    0xd3, 0x00, 0xe6, 0xcf, 0xe1, 0x9e, 0xa8, 0x2c, 0x63, 0x16, 0x01, 0x3f, 0x58, 0xe2, 0x89, 0xa9,
    0x0d, 0x38, 0x34, 0x1b, 0xab, 0x33, 0xff, 0xb0, 0xbb, 0x48, 0x0c, 0x5f, 0xb9, 0xb1, 0xcd, 0x2e,
    0xc5, 0xf3, 0xdb, 0x47, 0xe5, 0xa5, 0x9c, 0x77, 0x0a, 0xa6, 0x20, 0x68, 0xfe, 0x7f, 0xc1, 0xad};

static void rc2_expand(const uint8_t *key, size_t t, unsigned t1, uint16_t k[64]) {
  uint8_t l[128];
  size_t i, t8 = (t1 + 7) / 8;
  uint8_t tm = (uint8_t)(0xFFu >> (8 * t8 - t1));
  memcpy(l, key, t);
  for (i = t; i < 128; i++) l[i] = rc2_pitable[(l[i - 1] + l[i - t]) & 0xFF];
  l[128 - t8] = rc2_pitable[l[128 - t8] & tm];
  for (i = 128 - t8; i-- > 0;) l[i] = rc2_pitable[l[i + 1] ^ l[i + t8]];
  for (i = 0; i < 64; i++) k[i] = (uint16_t)(l[2 * i] | (l[2 * i + 1] << 8));
  portls__pkcs_wipe(l, sizeof(l));
}

static void rc2_decrypt_block(const uint16_t k[64], const uint8_t in[8], uint8_t out[8]) {
  static const unsigned s[4] = {1, 2, 3, 5};
  uint16_t r[4];
  int j = 63, round, i;
  for (i = 0; i < 4; i++) r[i] = (uint16_t)(in[2 * i] | (in[2 * i + 1] << 8));
  /* 5 r-mixing rounds, r-mashing, 6 r-mixing, r-mashing, 5 r-mixing. */
  for (round = 0; round < 16; round++) {
    for (i = 3; i >= 0; i--) {
      uint16_t x = r[i];
      x = (uint16_t)((x >> s[i]) | (x << (16 - s[i])));
      r[i] = (uint16_t)(x - k[j--] - (r[(i + 3) & 3] & r[(i + 2) & 3]) -
                        ((uint16_t)~r[(i + 3) & 3] & r[(i + 1) & 3]));
    }
    if (round == 4 || round == 10)
      for (i = 3; i >= 0; i--) r[i] = (uint16_t)(r[i] - k[r[(i + 3) & 3] & 63]);
  }
  for (i = 0; i < 4; i++) {
    out[2 * i] = (uint8_t)r[i];
    out[2 * i + 1] = (uint8_t)(r[i] >> 8);
  }
}

void portls__rc2_decrypt_block(const uint8_t *key, size_t key_len, unsigned effective_bits,
                               const uint8_t in[8], uint8_t out[8]) {
  uint16_t k[64];
  rc2_expand(key, key_len, effective_bits, k);
  rc2_decrypt_block(k, in, out);
  portls__pkcs_wipe(k, sizeof(k));
}

/* Checks PKCS#7 padding over the last block without branching on its bytes. */
static int unpad(const uint8_t *p, size_t len, size_t bs, size_t *out_len) {
  uint8_t pad = p[len - 1], bad = 0;
  size_t i;
  if (pad == 0 || pad > bs) return PORTLS_EBAD_PASSPHRASE;
  for (i = 0; i < bs; i++) {
    uint8_t in_pad = (uint8_t)(i < pad ? 0xFF : 0);
    bad |= (uint8_t)(in_pad & (p[len - 1 - i] ^ pad));
  }
  if (bad != 0) return PORTLS_EBAD_PASSPHRASE;
  *out_len = len - pad;
  return 0;
}

int portls__rc2_cbc_decrypt(const uint8_t *key, size_t key_len, unsigned effective_bits,
                            const uint8_t iv[8], const uint8_t *in, size_t len, uint8_t *out,
                            size_t *out_len) {
  uint16_t k[64];
  uint8_t prev[8], cur[8];
  size_t off, i;
  int rc;
  if (key_len == 0 || key_len > 128 || effective_bits == 0 || effective_bits > 1024 || len == 0 ||
      len % 8 != 0)
    return PORTLS_EINVAL;
  rc2_expand(key, key_len, effective_bits, k);
  memcpy(prev, iv, 8);
  for (off = 0; off < len; off += 8) {
    memcpy(cur, in + off, 8); /* in and out may be the same buffer */
    rc2_decrypt_block(k, cur, out + off);
    for (i = 0; i < 8; i++) out[off + i] ^= prev[i];
    memcpy(prev, cur, 8);
  }
  portls__pkcs_wipe(k, sizeof(k));
  rc = unpad(out, len, 8, out_len);
  return rc;
}

int portls__cbc_decrypt(int alg, const uint8_t *key, size_t key_len, const uint8_t *iv,
                        const uint8_t *in, size_t len, uint8_t *out, size_t *out_len) {
  size_t want, bs;
  switch (alg) {
  case PORTLS__RC2_CBC:
    return portls__rc2_cbc_decrypt(key, key_len, (unsigned)(key_len * 8), iv, in, len, out,
                                   out_len);
  case PORTLS_BE_AES_128_CBC:
    want = 16, bs = 16;
    break;
  case PORTLS_BE_AES_192_CBC:
    want = 24, bs = 16;
    break;
  case PORTLS_BE_AES_256_CBC:
    want = 32, bs = 16;
    break;
  case PORTLS_BE_DES_EDE3_CBC:
    want = 24, bs = 8;
    break;
  default:
    return PORTLS_EINVAL;
  }
  if (key_len != want || len == 0 || len % bs != 0) return PORTLS_EINVAL;
  if (portls__backend.cipher_decrypt == NULL) return PORTLS_ENOTSUP;
  return portls__backend.cipher_decrypt(alg, key, iv, in, len, out, out_len);
}
