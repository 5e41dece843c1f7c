/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* A transport whose every call fails and a tick that stays at 0: enough for clients that
 * exercise calls which never need a connection (cell_calls.c, cloud_calls.c). */
#ifndef MQE_DEAD_TRANSPORT_H
#define MQE_DEAD_TRANSPORT_H

#include "mqtt_engine.h"

/* The dead transport with `open` as its open call (NULL: one that fails). */
mqe_transport_t dead_transport(int32_t (*open)(void *ctx));
/* A platform whose tick stays at 0 and which has nothing else. */
mqe_platform_t dead_platform(void);

#endif
