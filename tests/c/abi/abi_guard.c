/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The ABI guard from C (`make abi-test`). Built against include/mqtt_engine.h and linked with
 * a library of other capacities, `./abi_guard mismatch` checks that mqe_init returns
 * MQE_ERR_ABI_MISMATCH and leaves the client and the 4 KiB canary after it untouched; then,
 * as the control that the canary sees corruption, it calls mqe_init_abi with the library's
 * own size and tag (what the unchecked mqe_init did) and expects canary bytes to change.
 * Built against the header that matches the library, `./abi_guard match` checks that
 * misaligned storage gets MQE_ERR_ALIGNMENT with nothing written, and that mqe_init returns
 * MQE_OK and writes inside the client only. No network: the transport never connects. */
#include <stdio.h>
#include <string.h>

#include "mqtt_engine.h"

/* From abi_lib_values.c, compiled against the header that matches the library. */
extern const size_t lib_client_size;
extern const uint32_t lib_abi_tag;

#define CLIENT_FILL 0x5A
#define CANARY_FILL 0xA5
#define CANARY_BYTES 4096

static struct {
  mqe_client_t client;
  unsigned char canary[CANARY_BYTES];
} guard;

static uint8_t rx_buf[256];
static uint8_t tx_buf[256];
static int failures;

#define CHECK(cond)                                                    \
  do {                                                                 \
    if (!(cond)) {                                                     \
      fprintf(stderr, "abi_guard:%d: FAILED: %s\n", __LINE__, #cond);  \
      failures++;                                                      \
    }                                                                  \
  } while (0)

static int32_t t_open(void *ctx) { (void)ctx; return 1; }
static int32_t t_connect(void *ctx, int32_t sock, const mqe_sockaddr_t *addr) {
  (void)ctx; (void)sock; (void)addr;
  return MQE_IO_WOULD_BLOCK;
}
static int32_t t_send(void *ctx, int32_t sock, const uint8_t *buf, size_t len) {
  (void)ctx; (void)sock; (void)buf; (void)len;
  return MQE_IO_WOULD_BLOCK;
}
static int32_t t_recv(void *ctx, int32_t sock, uint8_t *buf, size_t len) {
  (void)ctx; (void)sock; (void)buf; (void)len;
  return MQE_IO_WOULD_BLOCK;
}
static void t_close(void *ctx, int32_t sock) { (void)ctx; (void)sock; }
static uint32_t p_now(void *ctx) { (void)ctx; return 0; }

static void fill(void) {
  memset(&guard.client, CLIENT_FILL, sizeof guard.client);
  memset(guard.canary, CANARY_FILL, sizeof guard.canary);
}

/* Bytes of `guard` that differ from fill(): in the client and in the canary. */
static void changed(size_t *in_client, size_t *in_canary) {
  const unsigned char *client = (const unsigned char *)&guard.client;
  size_t i;
  *in_client = 0;
  *in_canary = 0;
  for (i = 0; i < sizeof guard.client; i++) *in_client += client[i] != CLIENT_FILL;
  for (i = 0; i < sizeof guard.canary; i++) *in_canary += guard.canary[i] != CANARY_FILL;
}

int main(int argc, char **argv) {
  mqe_options_t o = mqe_options_default();
  mqe_transport_t t;
  mqe_platform_t p;
  size_t in_client, in_canary;
  int mismatch;
  mqe_status_t st;

  if (argc != 2 || (strcmp(argv[1], "mismatch") != 0 && strcmp(argv[1], "match") != 0)) {
    fprintf(stderr, "usage: abi_guard mismatch|match\n");
    return 2;
  }
  mismatch = strcmp(argv[1], "mismatch") == 0;

  o.host = "127.0.0.1";
  o.client_id = "abi";
  o.rx_buf = rx_buf;
  o.rx_buf_len = sizeof rx_buf;
  o.tx_buf = tx_buf;
  o.tx_buf_len = sizeof tx_buf;
  memset(&t, 0, sizeof t);
  t.open = t_open;
  t.connect = t_connect;
  t.send = t_send;
  t.recv = t_recv;
  t.close = t_close;
  memset(&p, 0, sizeof p);
  p.now_ms = p_now;

  printf("abi_guard %s: header sizeof(mqe_client_t) %u tag 0x%08lx; library %u tag 0x%08lx\n",
         argv[1], (unsigned)sizeof(mqe_client_t), (unsigned long)MQE_ABI_TAG,
         (unsigned)lib_client_size, (unsigned long)lib_abi_tag);

  if (mismatch) {
    CHECK(lib_client_size != sizeof(mqe_client_t) || lib_abi_tag != MQE_ABI_TAG);
    fill();
    st = mqe_init(&guard.client, &o, &t, &p);
    printf("mqe_init: %d (%s)\n", (int)st, mqe_strerror(st));
    CHECK(st == MQE_ERR_ABI_MISMATCH);
    changed(&in_client, &in_canary);
    CHECK(in_client == 0);
    CHECK(in_canary == 0);
    /* The refused storage is no client. */
    CHECK(mqe_state(&guard.client) == MQE_ERR_NOT_INIT);
    CHECK(mqe_connect(&guard.client) == MQE_ERR_NOT_INIT);
    changed(&in_client, &in_canary);
    CHECK(in_client == 0 && in_canary == 0);

    /* Control: without the guard (the library's own values), the library writes past the
     * header's mqe_client_t, so this test would see it. */
    if (lib_client_size > sizeof(mqe_client_t) &&
        lib_client_size <= sizeof(mqe_client_t) + CANARY_BYTES) {
      st = mqe_init_abi(&guard.client, &o, &t, &p, lib_client_size, lib_abi_tag);
      changed(&in_client, &in_canary);
      printf("control, unguarded: %d, %u canary bytes changed\n", (int)st, (unsigned)in_canary);
      CHECK(st == MQE_OK);
      CHECK(in_canary > 0);
    } else {
      fprintf(stderr, "abi_guard: the library's client must be larger than the header's\n");
      failures++;
    }
  } else {
    unsigned offset;
    CHECK(lib_client_size == sizeof(mqe_client_t) && lib_abi_tag == MQE_ABI_TAG);
    CHECK(sizeof(mqe_client_t) == MQE_CLIENT_SIZE);
    for (offset = 1; offset < MQE_CLIENT_ALIGN; offset *= 2) {
      /* Through void *: only the library looks at the misaligned pointer. */
      void *storage = (unsigned char *)&guard + offset;
      fill();
      st = mqe_init((mqe_client_t *)storage, &o, &t, &p);
      CHECK(st == MQE_ERR_ALIGNMENT);
      changed(&in_client, &in_canary);
      CHECK(in_client == 0 && in_canary == 0);
      CHECK(mqe_state((mqe_client_t *)storage) == MQE_ERR_NOT_INIT);
    }
    fill();
    st = mqe_init(&guard.client, &o, &t, &p);
    printf("mqe_init: %d (%s)\n", (int)st, mqe_strerror(st));
    CHECK(st == MQE_OK);
    CHECK(mqe_state(&guard.client) == MQE_STATE_DISCONNECTED);
    changed(&in_client, &in_canary);
    CHECK(in_client > 0);
    CHECK(in_canary == 0);
  }
  if (failures) {
    fprintf(stderr, "abi_guard %s: %d check(s) failed\n", argv[1], failures);
    return 1;
  }
  printf("abi_guard %s: ok\n", argv[1]);
  return 0;
}
