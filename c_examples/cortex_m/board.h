/* What the apps share: the wrapping tick the image advances, the platform vtable over it,
   and the client's buffers. */
#ifndef CORTEX_M_BOARD_H
#define CORTEX_M_BOARD_H

#include <stdint.h>

#include "mqtt_engine.h"

/* The tick starts 5 s before it wraps at 2^32, so the run crosses the wrap. */
#define TICK_START (0u - 5000u)

extern uint32_t board_tick;

mqe_platform_t board_platform(void);

#endif
