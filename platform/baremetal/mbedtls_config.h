/* portls: the mbed TLS 3.6 configuration of the bare-metal Cortex-M image
 * (scripts/baremetal.sh passes it as MBEDTLS_CONFIG_FILE).
 *
 * What a microcontroller without an OS can have: no file system, no
 * sockets, no threads, no wall clock; an entropy source the board supplies
 * (mbedtls_hardware_poll), memory through portls's allocator
 * (MBEDTLS_PLATFORM_MEMORY: the backend hands mbed TLS the allocator given to
 * portls_set_allocator), and small record buffers. Protocols: TLS 1.3 and
 * TLS 1.2, client and server; ECDHE with X25519 and P-256, ECDSA P-256 and
 * RSA (the test CA and intermediate are RSA-2048) signatures, AES-GCM,
 * SHA-256/384.
 */
#ifndef PORTLS_BAREMETAL_MBEDTLS_CONFIG_H
#define PORTLS_BAREMETAL_MBEDTLS_CONFIG_H

/* ---- system ---------------------------------------------------------------- */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY /* mbedtls_platform_set_calloc_free(): portls's allocator */
#define MBEDTLS_NO_PLATFORM_ENTROPY
#define MBEDTLS_ENTROPY_HARDWARE_ALT /* mbedtls_hardware_poll(): the board's source */
#define MBEDTLS_VERSION_C
#define MBEDTLS_ERROR_STRERROR_DUMMY /* no message table: the codes stay in portls's messages */
/* Time: mbedtls_ms_time() from the board's millisecond tick (the same counter
 * platform/baremetal runs its timers on), and time() from the board's real-time
 * clock, for certificate validity dates. A board without a wall clock leaves
 * MBEDTLS_HAVE_TIME_DATE out, and then no certificate is ever found expired
 * (platform/README.md). */
#define MBEDTLS_HAVE_TIME
#define MBEDTLS_HAVE_TIME_DATE
#define MBEDTLS_PLATFORM_MS_TIME_ALT
/* Not defined: MBEDTLS_FS_IO, MBEDTLS_NET_C, MBEDTLS_TIMING_C, MBEDTLS_THREADING_C. */

/* ---- crypto ---------------------------------------------------------------- */
#define MBEDTLS_AES_C
#define MBEDTLS_AES_ROM_TABLES /* tables in flash, not 8 KiB of RAM */
#define MBEDTLS_AES_FEWER_TABLES
#define MBEDTLS_GCM_C
#define MBEDTLS_CIPHER_C
#define MBEDTLS_CIPHER_MODE_CBC /* the backend's PKCS#8 decryption */
#define MBEDTLS_CIPHER_PADDING_PKCS7
#define MBEDTLS_MD_C
#define MBEDTLS_SHA1_C /* certificate fingerprints */
#define MBEDTLS_SHA224_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA256_SMALLER
#define MBEDTLS_SHA384_C
#define MBEDTLS_SHA512_C
#define MBEDTLS_SHA512_SMALLER
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_CTR_DRBG_C
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECP_WINDOW_SIZE 2 /* less RAM per scalar multiplication */
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 0
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_PKCS1_V21
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_OID_C
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_PK_WRITE_C
#define MBEDTLS_PEM_PARSE_C
#define MBEDTLS_BASE64_C
#define MBEDTLS_HKDF_C
#define MBEDTLS_PSA_CRYPTO_C /* TLS 1.3's key schedule is PSA's */
#define MBEDTLS_PSA_KEY_SLOT_COUNT 16

/* ---- X.509 ----------------------------------------------------------------- */
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
#define MBEDTLS_X509_RSASSA_PSS_SUPPORT /* TLS 1.3 signs with RSA only in PSS */
#define MBEDTLS_X509_MAX_INTERMEDIATE_CA 4

/* ---- TLS ------------------------------------------------------------------- */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_SRV_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_PROTO_TLS1_3
#define MBEDTLS_SSL_TLS1_3_COMPATIBILITY_MODE
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_ALPN
#define MBEDTLS_SSL_MAX_FRAGMENT_LENGTH /* TLS 1.2: the client asks for 2^12-byte records */
#define MBEDTLS_SSL_RECORD_SIZE_LIMIT   /* TLS 1.3: record_size_limit (RFC 8449) */
/* Record buffers: 4 KiB of plaintext in, 2 KiB out, instead of 16 KiB each. A
 * peer must send records of at most 4 KiB (the extensions above ask it to), and
 * every handshake message this end sends must fit in 2 KiB: its certificate
 * chain is the largest (the test's ECDSA leaf + RSA intermediate: 1.6 KiB). */
#define MBEDTLS_SSL_IN_CONTENT_LEN 4096
/* Not an mbed TLS option: tells portls's backend to free a TLS 1.3
 * connection's handshake state once the handshake is over (about 3 KiB per
 * connection that mbed TLS 3.6 would keep until the connection ends). */
#define PORTLS_MBED_DROP_TLS13_HANDSHAKE
#define MBEDTLS_SSL_OUT_CONTENT_LEN 2048

#endif
