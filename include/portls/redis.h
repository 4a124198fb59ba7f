/* portls::redis: TLS session resumption shared by every server of a cluster,
 * through Redis.
 *
 * An optional library of its own (libportls-redis, CMake target
 * portls::redis, built when hiredis is found), on top of the public API of
 * whichever backend the program links. It answers two of a server's
 * questions from a Redis server, as Node's documentation suggests for a
 * cluster (an external store for 'newSession'/'resumeSession', and shared
 * ticket keys):
 *
 * - TLS 1.2 sessions by id: 'newSession' stores the session under its id
 *   (SET ... EX <session timeout>), 'resumeSession' looks it up (GET), so a
 *   client resumes on any server. Servers must share a sessionIdContext
 *   (portls_context_options.session_id_context): the default one is made
 *   from the command line, which differs from server to server.
 * - Ticket keys (TLS 1.2 and 1.3 tickets): with a rotation period P, the
 *   keys of period E = floor(unix time / P) are made by the first server
 *   that needs them (SET NX: random bytes from the backend) and read by the
 *   others; every server issues tickets under period E's keys and still
 *   accepts period E-1's (portls_server_rotate_ticket_keys()). Servers'
 *   clocks must agree to within a small part of P (NTP).
 *
 * Everything runs on the loop, asynchronously (hiredis's asynchronous API on
 * a portls_poll): no handshake ever blocks on a round trip. When Redis is
 * down, slow or unreachable, handshakes go on without it: a lookup answers
 * "not found" (a full handshake follows) after at most timeout_ms, a store is
 * dropped, the server keeps its current ticket keys, and the `error`
 * listener says why, once per outage; the store reconnects with back-off.
 *
 * Threads: a store belongs to its loop's thread, like a server. */
#ifndef PORTLS_REDIS_H
#define PORTLS_REDIS_H

#include <stdint.h>

#include "portls/portls.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct portls_redis_store portls_redis_store;

/* The store's listeners; any may be NULL. */
typedef struct portls_redis_events {
  /* Connected to Redis (also after a reconnection). */
  void (*connected)(portls_redis_store *store, void *user);
  /* Redis cannot be used (refused, lost, a reply too late, an error reply):
   * once per outage, until connected again. err->message names the URL. */
  void (*error)(portls_redis_store *store, const portls_error *err, void *user);
  /* The servers' ticket keys changed: a new period began (or the first
   * keys were read). */
  void (*ticket_keys)(portls_redis_store *store, uint64_t period, void *user);
} portls_redis_events;

/* The options of portls_redis_store_new(). */
typedef struct portls_redis_options {
  /* "redis://HOST:PORT" (port default 6379; HOST an address or a name) or
   * "unix:/path/to/socket". */
  const char *url;
  /* Prefix of every key the store writes; default "portls:". Servers that
   * share sessions share a prefix. */
  const char *prefix;
  /* Ticket-key rotation period, seconds; 0 (default): ticket keys are not
   * shared through Redis (each server keeps its own, or ticketKeys). */
  uint64_t ticket_rotate_s;
  /* How long a handshake may wait for Redis; default 250 ms. */
  uint64_t timeout_ms;
  /* Lifetime of a stored session, seconds; 0 (default): the session_timeout
   * of the server options given to portls_redis_server_options(), else 300
   * (Node's default). */
  int session_timeout_s;
  const portls_redis_events *events;
  void *user;
} portls_redis_options;

/* Fills opts with the defaults above (url NULL: "redis://127.0.0.1:6379"). */
void portls_redis_options_init(portls_redis_options *opts);

/* Creates a store on loop and starts connecting (the result comes as the
 * `connected` or `error` event; the store works either way). opts is
 * borrowed for the call. Free it with portls_redis_store_free() after the
 * servers using it have closed. Errors: PORTLS_EINVAL (a NULL argument, or a
 * URL that does not parse: the message names the option `url`),
 * PORTLS_ENOMEM. */
int portls_redis_store_new(portls_loop *loop, const portls_redis_options *opts,
                           portls_redis_store **out, portls_error *err);

/* Points a server's session hooks at the store: sets so->new_session,
 * so->resume_session and so->session_user, and reads so->tls's session
 * timeout. Call before portls_tls_create_server(). */
void portls_redis_server_options(portls_redis_store *store, portls_server_options *so);

/* With ticket_rotate_s set: the server takes the cluster's ticket keys now
 * (when they are known) and at each rotation. Errors: PORTLS_EINVAL,
 * PORTLS_ENOTSUP (the backend lacks PORTLS_CAP_TICKET_ROTATION),
 * PORTLS_ENOMEM. */
int portls_redis_attach_server(portls_redis_store *store, portls_server *server, portls_error *err);
/* The server no longer takes ticket keys from the store (call it before
 * the server is gone, if the store outlives it). NULL is a no-op. */
void portls_redis_detach_server(portls_redis_store *store, portls_server *server);

/* 1 while connected to Redis, else 0. */
int portls_redis_connected(const portls_redis_store *store);

/* Counters since the store was made: sessions stored, lookups that found a
 * session, lookups that did not (or could not ask). */
typedef struct portls_redis_stats {
  uint64_t stored, hits, misses, errors;
} portls_redis_stats;
/* Copies the counters into *out. */
void portls_redis_get_stats(const portls_redis_store *store, portls_redis_stats *out);

/* Disconnects and frees the store. A question still waiting for Redis is
 * answered at once ("not found"; a new session is not stored). NULL is a
 * no-op. */
void portls_redis_store_free(portls_redis_store *store);

#ifdef __cplusplus
}
#endif
#endif
