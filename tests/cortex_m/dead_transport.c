/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "dead_transport.h"

static int32_t dead_open(void *ctx) {
  (void)ctx;
  return -1;
}
static int32_t dead_connect(void *ctx, int32_t s, const struct mqe_sockaddr_t *a) {
  (void)ctx;
  (void)s;
  (void)a;
  return -1;
}
static int32_t dead_send(void *ctx, int32_t s, const uint8_t *b, size_t n) {
  (void)ctx;
  (void)s;
  (void)b;
  (void)n;
  return -1;
}
static int32_t dead_recv(void *ctx, int32_t s, uint8_t *b, size_t n) {
  (void)ctx;
  (void)s;
  (void)b;
  (void)n;
  return -1;
}
static void dead_close(void *ctx, int32_t s) {
  (void)ctx;
  (void)s;
}
static uint32_t zero_ms(void *ctx) {
  (void)ctx;
  return 0;
}

mqe_transport_t dead_transport(int32_t (*open)(void *ctx)) {
  const mqe_transport_t transport = {NULL,      open ? open : dead_open, dead_connect, dead_send,
                                     dead_recv, dead_close,              NULL};
  return transport;
}

mqe_platform_t dead_platform(void) {
  const mqe_platform_t platform = {NULL, zero_ms, NULL, NULL, NULL};
  return platform;
}
