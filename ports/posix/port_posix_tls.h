/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * port_posix_tls: the POSIX port's transport wrapped in TLS (mbedTLS 2.28), to show where a
 * module's TLS socket plugs into mqtt-engine: the engine only sees mqe_transport_t, and TLS
 * is entirely the transport's job (umqtt's ssl=True / ssl_params).
 *
 *   - connect() does the TCP connect, then the TLS handshake, without blocking: each step
 *     that must wait returns MQE_IO_WOULD_BLOCK and continues on the next mqe_poll;
 *   - the server certificate must chain to the CA file and match server_name (CN or SAN),
 *     else connect() fails with MQE_IO_ERR_TLS (the client reports MQE_ERR_TLS) before any MQTT byte is
 *     written: port_tls_last_error() says why;
 *   - send()/recv() are mbedtls_ssl_write/read with the same return contract as plain TCP.
 *
 * One TLS connection per port_tls_t at a time (one client); no malloc of its own (mbedTLS
 * allocates its record buffers through its configured allocator).
 */
#ifndef PORT_POSIX_TLS_H
#define PORT_POSIX_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "mqtt_engine.h"
#include "port_posix.h"

/* Bytes of the raw (encrypted) stream kept for tests: proof nothing goes out in clear. */
#define PORT_TLS_WIRE_TAP 4096

typedef struct port_tls {
    /* the plain transport underneath */
    mqe_transport_t tcp;
    port_posix_t posix;
    const char *server_name;
    /* mbedTLS state */
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt ca;
    mbedtls_ssl_config conf;
    mbedtls_ssl_context ssl;
    int ssl_ready;            /* ssl set up for the current socket */
    int32_t sock;             /* the TCP handle, -1 when none */
    int tcp_connected;
    size_t pending_write;     /* a write that returned WANT_WRITE: retried with this length */
    /* diagnostics */
    char last_error[160];
    uint32_t verify_flags;    /* mbedTLS MBEDTLS_X509_BADCERT_* of the last handshake */
    uint64_t plaintext_sent;  /* MQTT bytes accepted by send() (after the handshake) */
    uint8_t wire[PORT_TLS_WIRE_TAP];
    size_t wire_len;          /* bytes of the raw stream sent, capped at PORT_TLS_WIRE_TAP */
} port_tls_t;

/* Sets up *ctx (loads the CA file) and fills *t with the TLS transport. server_name is the
 * host name the certificate must carry (also sent as SNI); it is kept, not copied.
 * Returns 0, or -1 with port_tls_last_error() set (e.g. the CA file cannot be read). */
int port_tls_transport(mqe_transport_t *t, port_tls_t *ctx, const char *ca_file,
                       const char *server_name);

/* Releases what port_tls_transport set up (after the client is disconnected). */
void port_tls_free(port_tls_t *ctx);

/* Why the last connect or I/O failed ("" when nothing failed), e.g.
 * "certificate verify failed: The certificate Common Name (CN) does not match ...". */
const char *port_tls_last_error(const port_tls_t *ctx);

#endif /* PORT_POSIX_TLS_H */
