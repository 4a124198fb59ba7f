/* libFuzzer target for the ClientHello parser (core/tls/hello.c).
 *
 * Each input is parsed three ways, which must agree on the outcome, the
 * reason, the message, the bytes consumed and every parsed field:
 *   - whole, in one call;
 *   - byte by byte;
 *   - in chunks cut at positions derived from the input.
 * Then, so that mutations reach the body parser without having to keep the
 * record and handshake lengths right, the input (minus its first 9 bytes when
 * it already starts like a ClientHello record) is wrapped as the body of a
 * ClientHello, with correct lengths, fragmented into records whose sizes
 * derive from the input, and parsed whole and split again.
 *
 * Seeds (tests/fuzz/corpus/hello/): ClientHellos captured on 127.0.0.1 from
 * openssl s_client (TLS 1.2 and 1.3; -servername, -alpn, -status, -sess_in),
 * Node.js tls.connect and gnutls-cli, and three built by hand (synth-*: every
 * extension the parser knows, a 6 KiB hello in 64-byte records, no extensions).
 *
 * Run: bin/fuzz-hello-<backend> -max_len=20000 <scratch dir> tests/fuzz/corpus/hello
 * (new inputs go to the first directory; keep the committed corpus small).
 * fuzz-scope: core */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls/hello.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define CHECK(c)                                                                                   \
  do {                                                                                             \
    if (!(c)) {                                                                                    \
      fprintf(stderr, "fuzz_hello: check failed at line %d: %s\n", __LINE__, #c);                  \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

/* FNV-1a, to fold every parsed byte and field into one number. */
static uint64_t mix(uint64_t h, const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
  return h;
}
static uint64_t mixz(uint64_t h, size_t v) { return mix(h, &v, sizeof v); }

/* Reads every field through the accessors, checking what must hold of any
 * successful parse; returns a digest. */
static uint64_t digest(const portls__client_hello *ch) {
  uint64_t h = 0xcbf29ce484222325ull;
  const uint8_t *d, *name;
  size_t len, pos = 0, n = 0, nlen, total = 0;
  uint16_t type;

  h = mixz(h, ch->version);
  CHECK(ch->random != NULL);
  h = mix(h, ch->random, 32);
  CHECK(ch->session_id_len <= 32 && (ch->session_id_len == 0) == (ch->session_id == NULL));
  h = mixz(mix(h, ch->session_id, ch->session_id_len), ch->session_id_len);
  CHECK(ch->n_suites >= 1 && ch->n_compressions >= 1);
  for (size_t i = 0; i < ch->n_suites; i++) h = mixz(h, portls__hello_u16(ch->suites, i));
  CHECK(ch->reneg_scsv == portls__hello_has_u16(ch->suites, ch->n_suites, 0x00ff));
  h = mixz(mix(h, ch->compressions, ch->n_compressions), ch->n_compressions);

  while (portls__hello_next_ext(ch, &pos, &type, &d, &len)) {
    const uint8_t *fd;
    size_t flen;
    n++;
    total += 4 + len;
    h = mixz(mix(mixz(h, type), d, len), len);
    CHECK(portls__hello_find_ext(ch, type, &fd, &flen) == 1 && fd == d && flen == len);
    if (type == PORTLS__EXT_PRE_SHARED_KEY) CHECK(pos == ch->exts_len);
    if (type == PORTLS__EXT_SESSION_TICKET) CHECK(ch->session_ticket && ch->ticket_len == len);
  }
  CHECK(n == ch->n_exts && total == ch->exts_len);
  CHECK(portls__hello_find_ext(ch, 0xfafa, &d, &len) ==
        portls__hello_find_ext(ch, 0xfafa, &d, &len));

  if (ch->servername != NULL) {
    CHECK(strlen(ch->servername) == ch->servername_len);
    CHECK(ch->servername_len >= 1 && ch->servername_len <= 255);
    h = mix(h, ch->servername, ch->servername_len + 1);
  }
  CHECK((ch->servername != NULL) == portls__hello_find_ext(ch, PORTLS__EXT_SERVER_NAME, &d, &len));

  CHECK((ch->alpn != NULL) == portls__hello_find_ext(ch, PORTLS__EXT_ALPN, &d, &len));
  pos = 0;
  n = 0;
  while (portls__hello_alpn_next(ch->alpn, ch->alpn_len, &pos, &name, &nlen)) {
    CHECK(nlen >= 1);
    h = mix(h, name, nlen);
    n++;
  }
  CHECK(pos == ch->alpn_len);
  CHECK(ch->alpn == NULL || n >= 1);

  h = mixz(h, (size_t)ch->status_request << 8 | (size_t)ch->session_ticket << 7 |
                  (size_t)ch->pre_shared_key << 6 | (size_t)ch->early_data << 5 |
                  (size_t)ch->npn << 4 | (size_t)ch->reneg_info << 3 |
                  (size_t)portls__hello_offers_tls13(ch) << 2);
  h = mix(h, ch->ticket, ch->ticket_len);
  CHECK((ch->ticket != NULL) == (ch->ticket_len > 0));
  for (size_t i = 0; i < ch->n_versions; i++) h = mixz(h, portls__hello_u16(ch->versions, i));
  for (size_t i = 0; i < ch->n_groups; i++) h = mixz(h, portls__hello_u16(ch->groups, i));
  for (size_t i = 0; i < ch->n_sigalgs; i++) h = mixz(h, portls__hello_u16(ch->sigalgs, i));
  CHECK((ch->versions != NULL) == (ch->n_versions > 0));
  CHECK((ch->groups != NULL) == (ch->n_groups > 0));
  CHECK((ch->sigalgs != NULL) == (ch->n_sigalgs > 0));
  CHECK(ch->pre_shared_key == (ch->n_psk_identities > 0));
  CHECK(!ch->pre_shared_key || ch->psk_identity_len >= 1);
  h = mixz(mix(h, ch->psk_identity, ch->psk_identity_len), ch->n_psk_identities);
  return h;
}

typedef struct outcome {
  int state;
  int why;
  size_t consumed;
  uint64_t digest;
  char message[sizeof(((portls_error *)0)->message)];
} outcome;

/* Parses data fed in pieces ending at the cut positions (ascending), then the rest. */
static void run(const uint8_t *data, size_t size, const size_t *cuts, size_t ncuts, outcome *o) {
  portls__hello h;
  size_t at = 0;
  int rc = PORTLS__HELLO_MORE;

  portls__hello_init(&h);
  CHECK(portls__hello_feed(&h, NULL, 0) == PORTLS__HELLO_MORE);
  for (size_t i = 0; i <= ncuts; i++) {
    size_t end = i < ncuts ? cuts[i] : size;
    if (end < at || end > size) continue;
    rc = portls__hello_feed(&h, data + at, end - at);
    at = end;
    CHECK(rc == h.state);
    if (rc != PORTLS__HELLO_MORE) break;
  }
  CHECK(rc == PORTLS__HELLO_MORE || rc == PORTLS__HELLO_DONE || rc == PORTLS__HELLO_NOT_TLS ||
        rc == PORTLS_EPROTO || rc == PORTLS_ENOMEM);
  CHECK((rc == PORTLS__HELLO_MORE || rc == PORTLS__HELLO_DONE) == (h.why == PORTLS__HELLO_OK));
  /* A final result is sticky. */
  if (rc != PORTLS__HELLO_MORE) CHECK(portls__hello_feed(&h, data, size) == rc);
  CHECK(portls__hello_consumed(&h) <= size && portls__hello_consumed(&h) <= PORTLS__HELLO_MAX);
  if (rc == PORTLS__HELLO_MORE) CHECK(portls__hello_consumed(&h) == size);

  memset(o, 0, sizeof *o);
  o->state = rc;
  o->why = (int)h.why;
  o->consumed = portls__hello_consumed(&h);
  if (rc == PORTLS__HELLO_DONE) o->digest = digest(&h.ch);
  if (rc != PORTLS__HELLO_MORE && rc != PORTLS__HELLO_DONE) {
    CHECK(h.err.code == PORTLS_EPROTO || h.err.code == PORTLS_ENOMEM);
    CHECK(h.err.message[0] != '\0');
    memcpy(o->message, h.err.message, sizeof o->message);
  }
  portls__hello_free(&h);
}

static void same(const outcome *a, const outcome *b) {
  CHECK(a->state == b->state);
  CHECK(a->why == b->why);
  CHECK(a->consumed == b->consumed);
  CHECK(a->digest == b->digest);
  CHECK(strcmp(a->message, b->message) == 0);
}

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return (x > y) - (x < y);
}

/* Whole, byte by byte, and cut at positions derived from the input. */
static void three_ways(const uint8_t *data, size_t size) {
  outcome whole, split;
  size_t cuts[8];
  uint64_t seed = mix(0xcbf29ce484222325ull, data, size);

  run(data, size, NULL, 0, &whole);

  /* Byte by byte: one cut after every byte (bounded: the parser reads at most
   * PORTLS__HELLO_MAX bytes anyway). */
  {
    size_t n = size < PORTLS__HELLO_MAX + 16 ? size : PORTLS__HELLO_MAX + 16;
    size_t *all = malloc((n ? n : 1) * sizeof *all);
    CHECK(all != NULL);
    for (size_t i = 0; i < n; i++) all[i] = i + 1;
    run(data, size, all, n, &split);
    free(all);
    same(&whole, &split);
  }

  if (size > 1) {
    for (size_t i = 0; i < COUNT(cuts); i++) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      /* Favour the first bytes, where the headers are. */
      cuts[i] = (size_t)(seed >> 33) % (i < 4 ? (size < 16 ? size : 16) : size);
    }
    qsort(cuts, COUNT(cuts), sizeof cuts[0], cmp_size);
    run(data, size, cuts, COUNT(cuts), &split);
    same(&whole, &split);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  three_ways(data, size);

  /* The input as a ClientHello body, in records of input-derived sizes. */
  if (size >= 9 && data[0] == 0x16 && data[1] == 0x03) data += 9, size -= 9;
  if (size <= PORTLS__HELLO_BODY_MAX) {
    size_t msg = 4 + size, recs, out = 0;
    size_t frag = 1 + (size ? data[size / 2] : 0) % 64; /* bytes per record, small */
    uint8_t *buf;
    if (size > 0 && (data[0] & 1)) frag = 16384; /* often one record */
    recs = (msg + frag - 1) / frag;
    /* Mostly within the byte limit; sometimes over it, to reach that path too. */
    if (recs * 5 + msg > PORTLS__HELLO_MAX && !(size > 0 && data[size - 1] == 0xff))
      frag = 16384, recs = (msg + frag - 1) / frag;
    buf = malloc(recs * 5 + msg);
    CHECK(buf != NULL);
    for (size_t done = 0; done < msg; done += frag) {
      size_t n = msg - done < frag ? msg - done : frag;
      buf[out++] = 0x16, buf[out++] = 0x03, buf[out++] = 0x01;
      buf[out++] = (uint8_t)(n >> 8), buf[out++] = (uint8_t)n;
      for (size_t i = 0; i < n; i++) {
        size_t k = done + i;
        buf[out++] = k == 0   ? 1
                     : k == 1 ? (uint8_t)(size >> 16)
                     : k == 2 ? (uint8_t)(size >> 8)
                     : k == 3 ? (uint8_t)size
                              : data[k - 4];
      }
    }
    three_ways(buf, out);
    free(buf);
  }
  return 0;
}
