/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "board.h"

uint32_t board_tick = TICK_START;
uint32_t board_delays, board_delayed_ms;
uint32_t board_critical_entries, board_critical_exits;
bool board_critical_misuse;

static uint32_t now_ms(void *ctx) {
  (void)ctx;
  return board_tick;
}

static uint32_t random_u32(void *ctx) {
  (void)ctx;
  static uint32_t state = 0x2545F491u;
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  return state;
}

/* Nothing else runs, so sleeping is the tick moving on (wrapping at 2^32 like a real one). */
static void delay_ms(void *ctx, uint32_t ms) {
  (void)ctx;
  board_delays++;
  board_delayed_ms += ms;
  board_tick += ms;
}

mqe_platform_t board_platform(void) {
  mqe_platform_t p = {0};
  p.now_ms = now_ms;
  p.random = random_u32;
  p.delay_ms = delay_ms;
  return p;
}

static uint32_t primask(void) {
  uint32_t value;
  __asm__ volatile("mrs %0, primask" : "=r"(value)::"memory");
  return value;
}

bool board_irq_masked(void) { return (primask() & 1u) != 0; }

uint32_t board_critical_enter(void) {
  const uint32_t saved = primask();
  __asm__ volatile("cpsid i" ::: "memory");
  board_critical_misuse |= (saved & 1u) != 0; /* the library never nests it */
  board_critical_entries++;
  return saved;
}

void board_critical_exit(uint32_t saved) {
  board_critical_misuse |= !board_irq_masked();
  board_critical_exits++;
  __asm__ volatile("msr primask, %0" ::"r"(saved) : "memory");
}
