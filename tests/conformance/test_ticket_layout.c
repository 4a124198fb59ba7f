/* Node's 48-byte ticketKeys are name 16 | HMAC-SHA256 key 16 | AES-128 key
 * 16, and a ticket made under them is what OpenSSL's ticket key callback
 * (Node's) makes, RFC 5077 section 4:
 *   key_name(16) | IV(16) | AES-128-CBC(state, PKCS#7) | HMAC-SHA256(32)
 * the MAC over everything before it. Servers sharing keys with Node's, or
 * with one another across backends, depend on that layout; resuming between
 * two portls servers would not notice two halves swapped consistently.
 *
 * So a portls server issues a ticket under a known key, and the test opens
 * it by the layout alone, with the backend's one-shot HMAC and CBC
 * primitives (those of the PKCS#8/#12 decoders, not the ticket code): every
 * backend with the capability ticket-keys, TLS 1.2 and, where there is one,
 * TLS 1.3. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/harness.h"
#include "portls/portls.h"
#include "tls/pkcs_crypto.h"

#define NEED(cap)                                                                                  \
  do {                                                                                             \
    if (!portls_has_capability(cap))                                                               \
      cr_skip_test("needs capability %s", portls_capability_name(cap));                            \
  } while (0)

/* Three halves that cannot be mistaken for one another. */
static const uint8_t tk_keys[48] = {
    'p',  'o',  'r',  't',  'l',  's',  '-',  't',  'i',  'c',  'k',  'e',  't',  '-',  'n',  '1',
    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xf0, 0x01,
    0xa5, 0x5a, 0x3c, 0xc3, 0x0f, 0xf0, 0x69, 0x96, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf1};

enum { TK_NAME = 16, TK_IV = 16, TK_MAC = 32 };

/* The server says something at once: a TLS 1.3 ticket is sent after the
 * handshake, so the client has it once these bytes are in. */
static void tk_greet(h_side *s, h_event ev) {
  if (ev == H_SECURE) portls_socket_write(s->sock, "hi", 2);
}

static void tk_test(const char *method) {
  NEED(PORTLS_CAP_SESSION_TICKETS);
  NEED(PORTLS_CAP_TICKET_KEYS);
  h_test t;
  h_init(&t);
  portls_server_options so;
  portls_server_options_init(&so);
  h_context_options(&t, &so.tls.context, "server-rsa.key", "server-rsa-chain.crt", NULL);
  so.tls.context.ticket_keys = (portls_buf){tk_keys, sizeof tk_keys};
  t.srv.conn_hook = tk_greet;
  h_listen_tls(&t, &so);
  uint8_t got_keys[48];
  portls_error err = {0};
  cr_assert_eq(portls_server_get_ticket_keys(t.srv.srv, got_keys, &err), 0, "%s", err.message);
  cr_assert_eq(memcmp(got_keys, tk_keys, 48), 0, "getTicketKeys() is not the ticketKeys option");

  portls_connect_options co;
  portls_connect_options_init(&co);
  h_context_options(&t, &co.tls.context, NULL, NULL, "ca.crt");
  co.host = "127.0.0.1";
  co.tls.servername = "localhost";
  co.tls.context.secure_protocol = method;
  h_side *c = h_connect_tls(&t, &co);
  h_run_until(&t, c->rx_len >= 2 || c->closed);
  cr_assert_eq(c->rx_len, 2, "client: %s", c->log);

  portls_buf tk = {0};
  cr_assert_eq(portls_socket_get_tls_ticket(c->sock, &tk), 0, "%s: the client got no ticket",
               method);
  const uint8_t *p = tk.base;
  cr_assert_geq(tk.len, TK_NAME + TK_IV + 16 + TK_MAC, "%s: a ticket of %zu bytes", method, tk.len);
  size_t clen = tk.len - TK_NAME - TK_IV - TK_MAC;
  cr_assert_eq(clen % 16, 0, "%s: %zu bytes of AES-CBC ciphertext", method, clen);

  /* bytes 0..15 of the keys: the ticket's key name */
  cr_assert_eq(memcmp(p, tk_keys, TK_NAME), 0, "%s: the ticket does not start with key[0..16)",
               method);
  /* bytes 16..31: the HMAC-SHA256 key, over name | IV | ciphertext */
  uint8_t mac[32];
  cr_assert_eq(portls__hmac(PORTLS_BE_SHA256, tk_keys + 16, 16, p, tk.len - TK_MAC, mac), 0);
  cr_assert_eq(memcmp(mac, p + tk.len - TK_MAC, TK_MAC), 0,
               "%s: the last 32 bytes are not HMAC-SHA256 under key[16..32)", method);
  /* bytes 32..47: the AES-128-CBC key; the IV follows the name */
  static uint8_t plain[16384];
  cr_assert_leq(clen, sizeof plain);
  size_t plen = 0;
  int rc = portls__cbc_decrypt(PORTLS_BE_AES_128_CBC, tk_keys + 32, 16, p + TK_NAME,
                               p + TK_NAME + TK_IV, clen, plain, &plen);
  cr_assert_eq(rc, 0, "%s: the ciphertext does not decrypt under key[32..48) (%s)", method,
               portls_err_name(rc));
  cr_assert_gt(plen, 0, "%s: an empty session state", method);
  cr_assert_geq(plen + 16, clen, "%s: %zu bytes of PKCS#7 padding", method, clen - plen);
  portls_socket_end(c->sock, NULL, 0);
  h_run_all_closed(&t);
  h_finish(&t);
}

Test(ticket_keys, a_tls12_ticket_is_name_iv_aes128cbc_hmacsha256_under_the_48_byte_layout) {
  NEED(PORTLS_CAP_TLS1_2);
  tk_test("TLSv1_2_method");
}

Test(ticket_keys, a_tls13_ticket_is_name_iv_aes128cbc_hmacsha256_under_the_48_byte_layout) {
  NEED(PORTLS_CAP_TLS1_3);
  tk_test("TLSv1_3_method");
}
