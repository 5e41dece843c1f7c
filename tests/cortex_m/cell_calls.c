/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "cell_calls.h"

#include "dead_transport.h"
#include "mqtt_engine.h"
#include "semihost.h"
#include "stack_meter.h"

/* A client of its own whose transport never connects: enough for the link state machine. */
static mqe_client_t cell_client;
static uint8_t rx[128], tx[128], store[256];
static unsigned opens;

static int32_t fail_open(void *ctx) {
  (void)ctx;
  opens++;
  return -1;
}

void cell_calls(void) {
  out("cell calls\n");
  mqe_options_t opts = mqe_options_default();
  opts.host = "10.0.0.3";
  opts.rx_buf = rx;
  opts.rx_buf_len = sizeof rx;
  opts.tx_buf = tx;
  opts.tx_buf_len = sizeof tx;
  opts.store_buf = store;
  opts.store_buf_len = sizeof store;
  const mqe_transport_t transport = dead_transport(fail_open);
  const mqe_platform_t platform = dead_platform();
  CHECK(mqe_init(&cell_client, &opts, &transport, &platform) == MQE_OK);
#if defined(MQE_FEATURE_LINK)
  CHECK(MEASURED(mqe_link_down(&cell_client)) == MQE_OK);
  CHECK(mqe_connect(&cell_client) == MQE_OK);
  CHECK(mqe_state(&cell_client) == MQE_STATE_LINK_DOWN);
  CHECK(mqe_poll(&cell_client) == MQE_OK);
  CHECK(opens == 0); /* no attempt while the link is down */
  CHECK(MEASURED(mqe_link_up(&cell_client)) == MQE_OK);
  CHECK(mqe_state(&cell_client) == MQE_STATE_CONNECTING);
  CHECK(mqe_poll(&cell_client) == MQE_ERR_TRANSPORT);
  CHECK(opens == 1); /* at once on link-up */
#endif
#if defined(MQE_FEATURE_STATS)
  mqe_stats_t stats;
  CHECK(MEASURED(mqe_stats(&cell_client, &stats)) == MQE_OK);
  CHECK(stats.bytes_sent == 0 && stats.connects == 0);
#endif
#if defined(MQE_FEATURE_PENDING)
  mqe_pending_t pending;
  CHECK(mqe_publish(&cell_client, "t", "x", 1, MQE_QOS_1, false, NULL) == MQE_OK);
  CHECK(MEASURED(mqe_pending(&cell_client, &pending)) == MQE_OK);
  CHECK(pending.inflight == 1 && !pending.idle);
#endif
  /* The pointer + length calls and the counters, so that check-no-panic sees them linked. */
  static const char reply_topic[] = {'r', '/', 'x', '#'}; /* not NUL-terminated */
  CHECK(MEASURED(mqe_publish_n(&cell_client, reply_topic, 3, "y", 1, MQE_QOS_1, false, NULL)) ==
        MQE_OK);
  CHECK(mqe_publish_n(&cell_client, reply_topic, 4, "y", 1, MQE_QOS_0, false, NULL) ==
        MQE_ERR_TOPIC);
  CHECK(mqe_publish_n(&cell_client, reply_topic, 0, "y", 1, MQE_QOS_0, false, NULL) ==
        MQE_ERR_TOPIC);
  CHECK(mqe_subscribe_n(&cell_client, NULL, 3, MQE_QOS_1, NULL) == MQE_ERR_NULL);
  CHECK(mqe_subscribe_n(&cell_client, reply_topic, 70000, MQE_QOS_1, NULL) == MQE_ERR_TOO_LARGE);
#if defined(MQE_FEATURE_TOPIC_HANDLERS)
  CHECK(mqe_subscribe_cb_n(&cell_client, reply_topic, 4, MQE_QOS_1, NULL, NULL, NULL) ==
        MQE_ERR_NULL);
#endif
  CHECK(mqe_oversized_count(&cell_client) == 0);
#if defined(MQE_FEATURE_STORE)
  CHECK(mqe_rx_done(&cell_client, 1) == MQE_ERR_STATE); /* rx_qos2_manual_ack is off */
#endif
  CHECK(mqe_disconnect(&cell_client) == MQE_OK);
}
