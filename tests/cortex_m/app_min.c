/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The minimal app of the footprint table: the work of a coreMQTT app built on MQTT_Init,
   MQTT_Connect, MQTT_Subscribe, MQTT_Publish and MQTT_ProcessLoop. Init, connect, subscribe,
   publish at QoS 1, and poll until the message arrived and the publish completed.
   Built twice: against the full library (with QoS 2: the broker's QoS 2 message comes too) and
   against the lite one (docs/FOOTPRINT.md), with the header generated for each. Each call's
   peak stack is measured (SIZEOF and STACK lines: the size table of `make size`). */
#include <stdbool.h>
#include <stdint.h>

#include "board.h"
#include "broker.h"
#include "mqtt_engine.h"
#include "semihost.h"
#include "stack_meter.h"

#ifdef MQE_FEATURE_QOS2
#define SUB_QOS 2
#define EXPECTED 2u
#else
#define SUB_QOS 1
#define EXPECTED 1u
#endif

static mqe_client_t client;
static broker_t broker;
static uint8_t rx_buf[256], tx_buf[256], store_buf[256];
static unsigned received;

static void on_message(void *user, const mqe_message_t *m) {
  (void)user;
  received += m->payload_len > 0;
}

int main(void) {
  mqe_options_t opts = mqe_options_default();
  opts.host = "10.0.0.1";
  opts.client_id = "m4-min";
  opts.rx_buf = rx_buf;
  opts.rx_buf_len = sizeof rx_buf;
  opts.tx_buf = tx_buf;
  opts.tx_buf_len = sizeof tx_buf;
  opts.store_buf = store_buf;
  opts.store_buf_len = sizeof store_buf;
  const mqe_transport_t transport = broker_transport(&broker);
  const mqe_platform_t platform = board_platform();
  broker.push_after_subscribe = true;
  broker.push_qos1_only = SUB_QOS < 2;
  CHECK(MEASURED(mqe_init(&client, &opts, &transport, &platform)) == MQE_OK);
  CHECK(MEASURED(mqe_set_message_handler(&client, on_message, NULL)) == MQE_OK);
  CHECK(MEASURED(mqe_connect(&client)) == MQE_OK);

  bool subscribed = false, published = false;
  for (int round = 0; round < 200 && broker.pubacks + broker.pubcomps < EXPECTED; round++) {
    CHECK(MEASURED(mqe_poll(&client)) == MQE_OK);
    if (MEASURED(mqe_state(&client)) == MQE_STATE_CONNECTED && !subscribed) {
      subscribed = MEASURED(mqe_subscribe(&client, "dev/in/#", SUB_QOS, NULL)) == MQE_OK;
    }
    if (subscribed && !published) {
      published = MEASURED(mqe_publish(&client, "dev/out", "hello", 5, 1, false, NULL)) == MQE_OK;
    }
    board_tick += 10;
  }
  CHECK(received == EXPECTED && broker.publishes[1] == 1 && broker.pubacks == 1);
  CHECK(broker.pubcomps == EXPECTED - 1);
  CHECK(!broker.protocol_violation);
  stack_report();
  out("SIZEOF mqe_client_t %u\n", (unsigned)sizeof(mqe_client_t));
  out("PASS minimal app: connected, subscribed, published, received %u\n", received);
  return 0;
}
