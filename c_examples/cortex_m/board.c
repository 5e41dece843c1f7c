#include "board.h"

uint32_t board_tick = TICK_START;

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

static void delay_ms(void *ctx, uint32_t ms) {
  (void)ctx;
  board_tick += ms;
}

mqe_platform_t board_platform(void) {
  mqe_platform_t p = {0};
  p.now_ms = now_ms;
  p.random = random_u32;
  p.delay_ms = delay_ms;
  return p;
}
