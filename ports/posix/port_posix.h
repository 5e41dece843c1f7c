/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * port_posix: the platform port of mqtt-engine for Linux/POSIX hosts.
 *
 * It is the reference for a firmware port: a module port replaces these functions with
 * the vendor's socket API (Ql_SOC_*, lwIP, AT sockets) and its tick, and keeps the rules:
 *   - never block: a socket call that cannot finish now returns MQE_IO_WOULD_BLOCK;
 *   - a lost connection is any other negative value; recv() of 0 means the peer closed;
 *     errno is mapped to an MQE_IO_ERR_* code (ECONNREFUSED: MQE_IO_ERR_REFUSED, ...), so
 *     the client reports "connection refused" rather than a bare transport error;
 *   - now_ms() is a free-running millisecond tick that may wrap at 2^32.
 *
 * Sockets live in a small fixed table (no malloc); the handle given to the engine is an
 * index into it. Several clients may share the table, each with its own port_posix_t.
 */
#ifndef PORT_POSIX_H
#define PORT_POSIX_H

#include <stdint.h>

#include "mqtt_engine.h"

/* Sockets open at once in the whole process. */
#define PORT_POSIX_MAX_SOCKETS 16

/* Per-client transport context: remembers the client's current socket so a test can
 * cut it. Zero-initialise it (or call port_posix_transport, which does). */
typedef struct port_posix {
    int32_t sock; /* last handle opened through this context, -1 when none */
} port_posix_t;

/* Fills *t with the BSD-socket transport; t->ctx = ctx (which may be shared or NULL when
 * port_posix_abort is not needed). */
void port_posix_transport(mqe_transport_t *t, port_posix_t *ctx);

/* Fills *p with the POSIX platform: CLOCK_MONOTONIC tick, nanosleep, xorshift random,
 * log lines on stderr. */
void port_posix_platform(mqe_platform_t *p);

/* Cuts the context's socket abruptly (TCP RST, no MQTT DISCONNECT), as a dead radio link
 * would. The engine sees the loss on its next read or write. Returns 0, or -1 when the
 * context has no open socket. */
int port_posix_abort(port_posix_t *ctx);

/* Handles taken and not yet closed by the engine (a leak check for tests). */
int port_posix_open_sockets(void);

/* The tick the engine sees: milliseconds from CLOCK_MONOTONIC plus an offset, wrapping
 * at 2^32. With env MQE_TICK_START (decimal or 0x hex) the first reading is that value, so
 * a whole run can begin just before the wrap; port_posix_set_tick_offset changes it. */
uint32_t port_posix_now_ms(void);
uint32_t port_posix_tick_offset(void);
void port_posix_set_tick_offset(uint32_t offset);

/* Log lines at or below this level are printed (default 1, warnings and errors; env MQE_LOG_LEVEL=2 adds the library's info lines). */
void port_posix_set_log_level(int32_t level);

#endif /* PORT_POSIX_H */
