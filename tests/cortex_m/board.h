/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* What the apps share: the wrapping tick the image advances, the platform vtable over it,
   the critical section over PRIMASK. */
#ifndef CORTEX_M_BOARD_H
#define CORTEX_M_BOARD_H

#include <stdbool.h>
#include <stdint.h>

#include "mqtt_engine.h"

/* The tick starts 5 s before it wraps at 2^32, so the run crosses the wrap. */
#define TICK_START (0u - 5000u)

extern uint32_t board_tick;

/* platform.delay_ms: what the blocking helpers slept, in calls and milliseconds. */
extern uint32_t board_delays, board_delayed_ms;

mqe_platform_t board_platform(void);

/* The critical section for mqe_set_critical_section, as on a single-core MCU: save PRIMASK
   and mask interrupts; restore it. The counters say how it was used: `misuse` is set when it
   was entered while already masked (nested) or left while not masked. */
uint32_t board_critical_enter(void);
void board_critical_exit(uint32_t primask);
extern uint32_t board_critical_entries, board_critical_exits;
extern bool board_critical_misuse;

/* True while interrupts are masked (PRIMASK set). */
bool board_irq_masked(void);

#endif
