/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * port_lwip: mqtt-engine's transport over lwIP's socket API (lwip_socket, lwip_connect,
 * lwip_send, lwip_recv, lwip_close), for firmware that runs lwIP with an RTOS (NO_SYS=0).
 *
 * Every socket is non-blocking (O_NONBLOCK through lwip_fcntl), so mqe_poll never waits
 * on the network. lwIP's errno values are mapped to the MQE_IO_ERR_* codes, so the client
 * reports "connection refused" or "network timed out" rather than a bare transport error.
 * Host names go through lwip_getaddrinfo when lwIP is built with LWIP_DNS=1; without it the
 * table has no resolve and the host must be an IP literal.
 *
 * lwIP options it needs (lwipopts.h; PORTING.md "lwIP sockets (ports/lwip)" says why):
 *   NO_SYS 0, LWIP_SOCKET 1, LWIP_TCP 1, LWIP_IPV4 and/or LWIP_IPV6 1,
 *   MEMP_NUM_NETCONN and MEMP_NUM_TCP_PCB >= the clients + the firmware's other sockets;
 *   optional: LWIP_DNS 1 for host names. Not needed: LWIP_SO_RCVTIMEO, LWIP_SO_SNDTIMEO,
 *   LWIP_SOCKET_SELECT, LWIP_SOCKET_POLL, LWIP_COMPAT_SOCKETS (only lwip_* names are used).
 *
 * Sockets live in a small fixed table (no malloc); the handle given to the engine is an
 * index into it, and the lwIP socket is made at connect, when the address family is known.
 * The table is used from one task: the task that polls every client of this port.
 * This header does not include lwIP's, so the code that sets up a client needs none.
 */
#ifndef PORT_LWIP_H
#define PORT_LWIP_H

#include <stdint.h>

#include "mqtt_engine.h"

/* Sockets open at once through this port (one per client, plus one while a client that
 * lost its connection has not closed it yet). */
#ifndef PORT_LWIP_MAX_SOCKETS
#define PORT_LWIP_MAX_SOCKETS 4
#endif

/* Per-client context: remembers the client's current handle. Zero-initialise it or let
 * port_lwip_transport set it. */
typedef struct port_lwip {
    int32_t sock; /* last handle opened through this context, -1 when none */
} port_lwip_t;

/* Fills *t with the lwIP transport; t->ctx = ctx (NULL is allowed). */
void port_lwip_transport(mqe_transport_t *t, port_lwip_t *ctx);

/* The lwIP descriptor of the context's current socket, or -1: the MQTT task may sleep in
 * lwip_select/lwip_poll on it (bounded by mqe_next_deadline_ms) instead of a fixed delay. */
int port_lwip_fd(const port_lwip_t *ctx);

/* Handles taken and not yet closed by the engine (a leak check for tests). */
int port_lwip_open_sockets(void);

#endif /* PORT_LWIP_H */
