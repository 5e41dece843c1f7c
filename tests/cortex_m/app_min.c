/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The minimal app of the footprint table: the work of a coreMQTT app built on MQTT_Init,
   MQTT_Connect, MQTT_Subscribe, MQTT_Publish and MQTT_ProcessLoop. Init, connect, subscribe,
   publish at QoS 1, and poll until the message arrived and the publish completed. */
#include <stdbool.h>
#include <stdint.h>

#include "board.h"
#include "broker.h"
#include "mqtt_engine.h"
#include "semihost.h"

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
  CHECK(mqe_init(&client, &opts, &transport, &platform) == MQE_OK);
  CHECK(mqe_set_message_handler(&client, on_message, NULL) == MQE_OK);
  CHECK(mqe_connect(&client) == MQE_OK);

  bool subscribed = false, published = false;
  for (int round = 0; round < 200 && broker.pubacks + broker.pubcomps < 2; round++) {
    CHECK(mqe_poll(&client) == MQE_OK);
    if (mqe_state(&client) == MQE_STATE_CONNECTED && !subscribed) {
      subscribed = mqe_subscribe(&client, "dev/in/#", 2, NULL) == MQE_OK;
    }
    if (subscribed && !published) {
      published = mqe_publish(&client, "dev/out", "hello", 5, 1, false, NULL) == MQE_OK;
    }
    board_tick += 10;
  }
  CHECK(received == 2 && broker.publishes[1] == 1 && broker.pubacks == 1 && broker.pubcomps == 1);
  CHECK(!broker.protocol_violation);
  out("PASS minimal app: connected, subscribed, published, received %u\n", received);
  return 0;
}
