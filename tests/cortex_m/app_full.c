/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The whole C API on a Cortex-M4, against the in-image scripted broker: connect, subscribe,
   receive at QoS 1 and 2, publish at QoS 0, 1 and 2, a keep-alive ping across the tick's wrap,
   unsubscribe, a per-topic handler fed through the blocking mqe_wait_msg, mqe_check_msg, a
   publish posted through the outbox under the PRIMASK critical section, a blocking mqe_ping,
   a truncated PUBACK (a clean protocol error), QoS 0 queued offline (the oldest dropped),
   mqe_connect_wait resuming the session with the QoS 1 message re-sent, disconnect. The log
   hook runs at debug level throughout. Every public call is made, and its peak stack
   measured, through MEASURED. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "board.h"
#include "broker.h"
#include "cell_calls.h"
#include "cloud_calls.h"
#include "mqtt_engine.h"
#include "semihost.h"
#include "stack_meter.h"

#define MAX_SEEN 40

typedef struct {
  mqe_event_kind_t kind;
  bool session_present;
  mqe_status_t reason;
  uint16_t packet_id;
  uint8_t granted[4];
  size_t granted_count;
  uint32_t dropped;
  uint32_t restored; /* MQE_EVENT_RESTORED: outgoing messages restored */
} seen_event_t;

typedef struct {
  char topic[24];
  char payload[24];
  uint8_t qos;
  bool dup;
} seen_message_t;

static mqe_client_t client;
static broker_t broker;
static uint8_t rx_buf[256], tx_buf[256], store_buf[512];

static seen_event_t events[MAX_SEEN];
static size_t event_count, events_printed;
static seen_message_t messages[8]; /* through the default handler */
static size_t message_count;
static seen_message_t topic_messages[4]; /* through the mqe_subscribe_cb handler */
static size_t topic_message_count;
static mqe_status_t last_poll_error;

/* Log lines the platform hook got, per level (MQE_LOG_ERROR .. MQE_LOG_DEBUG), and the last. */
static uint32_t log_lines[MQE_LOG_DEBUG + 1];
static char last_log_line[MQE_LOG_DEBUG + 1][96];

/* Handlers only record: they run inside mqe_poll, whose stack is being measured. */
static void on_event(void *user, const mqe_event_t *e) {
  (void)user;
  if (event_count == MAX_SEEN) {
    return;
  }
  seen_event_t *s = &events[event_count++];
  s->kind = e->kind;
  s->session_present = e->session_present;
  s->reason = e->reason;
  s->packet_id = e->packet_id;
  s->granted_count = e->granted_count;
  s->dropped = e->dropped;
  s->restored = e->restored_outgoing;
  for (size_t i = 0; i < e->granted_count && i < sizeof s->granted; i++) {
    s->granted[i] = e->granted[i];
  }
}

static size_t copy_text(char *dst, size_t cap, const void *src, size_t len) {
  const size_t n = len < cap - 1 ? len : cap - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
  return n;
}

static void record_message(seen_message_t *list, size_t cap, size_t *count,
                           const mqe_message_t *m) {
  if (*count == cap) {
    return;
  }
  seen_message_t *s = &list[(*count)++];
  copy_text(s->topic, sizeof s->topic, m->topic, m->topic_len);
  copy_text(s->payload, sizeof s->payload, m->payload, m->payload_len);
  s->qos = m->qos;
  s->dup = m->dup;
}

static void on_message(void *user, const mqe_message_t *m) {
  (void)user;
  record_message(messages, sizeof messages / sizeof messages[0], &message_count, m);
}

/* The per-topic handler; `user` must come back as registered. */
static int topic_handler_user;
static void on_topic_message(void *user, const mqe_message_t *m) {
  if (user != &topic_handler_user) {
    return;
  }
  record_message(topic_messages, sizeof topic_messages / sizeof topic_messages[0],
                 &topic_message_count, m);
}

static void on_log(void *ctx, int32_t level, const char *line) {
  (void)ctx;
  if (level < MQE_LOG_ERROR || level > MQE_LOG_DEBUG) {
    return;
  }
  log_lines[level]++;
  copy_text(last_log_line[level], sizeof last_log_line[level], line, strlen(line));
}

static volatile bool panic_hook_called;
static void on_panic(void) { panic_hook_called = true; }

static void print_new_events(void) {
  for (; events_printed < event_count; events_printed++) {
    const seen_event_t *e = &events[events_printed];
    out("  t=%lu event %u id=%u reason=%ld (%s) session_present=%d granted=%u\n",
        (unsigned long)board_tick, e->kind, e->packet_id, (long)e->reason,
        mqe_strerror(e->reason), e->session_present, e->granted_count ? e->granted[0] : 0);
  }
}

static const seen_event_t *find_event(mqe_event_kind_t kind, size_t from) {
  for (size_t i = from; i < event_count; i++) {
    if (events[i].kind == kind) {
      return &events[i];
    }
  }
  return NULL;
}

/* Polls until `count` events of `kind` arrived after index `from`. When mqe_poll has nothing
   due, the tick jumps to the next deadline (at most 1 s), as an RTOS task would sleep. */
static bool poll_until(mqe_event_kind_t kind, size_t from, size_t count) {
  for (int round = 0; round < 500; round++) {
    const mqe_status_t status = MEASURED(mqe_poll(&client));
    if (status != MQE_OK) {
      last_poll_error = status;
    }
    print_new_events();
    size_t seen = 0;
    for (size_t i = from; i < event_count; i++) {
      seen += events[i].kind == kind;
    }
    if (seen >= count) {
      return true;
    }
    uint32_t wait = MEASURED(mqe_next_deadline_ms(&client));
    board_tick += wait > 1000 ? 1000 : wait;
  }
  return false;
}

static void check_arguments_and_texts(void) {
  CHECK(MEASURED(mqe_version())[0] >= '0');
  CHECK(strcmp(MEASURED(mqe_strerror(MQE_OK)), "unknown status") != 0);
  CHECK(strcmp(mqe_strerror(-12345), "unknown status") == 0);
  CHECK(MEASURED(mqe_state(&client)) == MQE_ERR_NOT_INIT);
  CHECK(MEASURED(mqe_poll(&client)) == MQE_ERR_NOT_INIT);
  CHECK(MEASURED(mqe_init(NULL, NULL, NULL, NULL)) == MQE_ERR_NULL);
}

#if defined(MQE_FEATURE_STORE)
/* The session store's flash: a RAM region of 4 sectors of 1 KB (write size 4) that keeps its
 * bytes across the simulated reset below, as NOR flash would (program only clears bits). */
#define FLASH_SECTOR 1024u
#define FLASH_SECTORS 4u
static uint8_t flash_ram[FLASH_SECTOR * FLASH_SECTORS];
static mqe_store_t store;

static int32_t flash_read(void *ctx, uint32_t offset, uint8_t *buf, uint32_t len) {
  (void)ctx;
  if (offset > sizeof flash_ram || len > sizeof flash_ram - offset) {
    return -1;
  }
  memcpy(buf, flash_ram + offset, len);
  return 0;
}

static int32_t flash_program(void *ctx, uint32_t offset, const uint8_t *data, uint32_t len) {
  (void)ctx;
  if (offset > sizeof flash_ram || len > sizeof flash_ram - offset) {
    return -1;
  }
  for (uint32_t i = 0; i < len; i++) {
    flash_ram[offset + i] &= data[i];
  }
  return 0;
}

static int32_t flash_erase(void *ctx, uint32_t sector) {
  (void)ctx;
  if (sector >= FLASH_SECTORS) {
    return -1;
  }
  memset(flash_ram + sector * FLASH_SECTOR, 0xFF, FLASH_SECTOR);
  return 0;
}

static void set_store(void) {
  static bool erased;
  if (!erased) { /* the factory state of flash */
    memset(flash_ram, 0xFF, sizeof flash_ram);
    erased = true;
  }
  const mqe_flash_t flash = {NULL, flash_read, flash_program, flash_erase,
                             FLASH_SECTOR, FLASH_SECTORS, 4, 0};
  CHECK(MEASURED(mqe_set_store(&client, &store, &flash)) == MQE_OK);
}
#endif

static void init_client(void) {
  mqe_options_t opts = MEASURED(mqe_options_default());
  opts.host = "10.0.0.1";
  opts.client_id = "m4-image";
  opts.clean_session = false;
  opts.keep_alive_s = 10;
  opts.reconnect = false; /* the image reconnects itself, to check the resent message */
  opts.will_topic = "dev/status";
  opts.will_payload = (const uint8_t *)"offline";
  opts.will_payload_len = 7;
  opts.will_qos = 1;
  opts.rx_buf = rx_buf;
  opts.rx_buf_len = sizeof rx_buf;
  opts.tx_buf = tx_buf;
  opts.tx_buf_len = sizeof tx_buf;
  opts.store_buf = store_buf;
  opts.store_buf_len = sizeof store_buf;
  opts.qos0_policy = MQE_QOS0_DROP_OLDEST;
  const mqe_transport_t transport = broker_transport(&broker);
  mqe_platform_t platform = board_platform();
  platform.log = on_log;
  CHECK(MEASURED(mqe_init(&client, &opts, &transport, &platform)) == MQE_OK);
  CHECK(MEASURED(mqe_set_event_handler(&client, on_event, NULL)) == MQE_OK);
  CHECK(MEASURED(mqe_set_message_handler(&client, on_message, NULL)) == MQE_OK);
  CHECK(MEASURED(mqe_set_log_level(&client, MQE_LOG_DEBUG)) == MQE_OK);
  CHECK(mqe_set_log_level(&client, MQE_LOG_DEBUG + 1) == MQE_ERR_ARG);
  MEASURED_VOID(mqe_set_panic_hook(on_panic));
  /* Before anything posts (the outbox's contract); a half-registered pair is refused. */
  CHECK(mqe_set_critical_section(board_critical_enter, NULL) == MQE_ERR_NULL);
  CHECK(MEASURED(mqe_set_critical_section(board_critical_enter, board_critical_exit)) == MQE_OK);
  CHECK(MEASURED(mqe_state(&client)) == MQE_STATE_DISCONNECTED);
  CHECK(MEASURED(mqe_qos0_dropped(&client)) == 0);
#if defined(MQE_FEATURE_STORE)
  set_store();
#endif
}

static void connect_subscribe_and_receive(void) {
  out("connect\n");
  CHECK(MEASURED(mqe_connect(&client)) == MQE_OK);
  CHECK(mqe_state(&client) == MQE_STATE_CONNECTING);
  CHECK(MEASURED(mqe_mqttsta(&client)) == 1);
  CHECK(poll_until(MQE_EVENT_CONNECTED, 0, 1));
  CHECK(broker.connects == 1 && !broker.last_connect_clean);
  CHECK(mqe_state(&client) == MQE_STATE_CONNECTED && mqe_mqttsta(&client) == 0);
  /* Info level: "connecting" from mqe_connect, "connected" on CONNACK (and with the store,
   * "restored from flash" from MQE_EVENT_RESTORED). */
#if defined(MQE_FEATURE_STORE)
  CHECK(log_lines[MQE_LOG_INFO] == 3 && log_lines[MQE_LOG_DEBUG] == 0);
  CHECK(find_event(MQE_EVENT_RESTORED, 0) != NULL && find_event(MQE_EVENT_RESTORED, 0)->restored == 0);
#else
  CHECK(log_lines[MQE_LOG_INFO] == 2 && log_lines[MQE_LOG_DEBUG] == 0);
#endif
  CHECK(strncmp(last_log_line[MQE_LOG_INFO], "connected", 9) == 0);
  out("  log: %s\n", last_log_line[MQE_LOG_INFO]);

  out("subscribe; the broker then publishes at QoS 1 and 2\n");
  uint16_t id_one = 0, id_many = 0;
  const size_t from = event_count;
  CHECK(MEASURED(mqe_subscribe(&client, "dev/in/#", 2, &id_one)) == MQE_OK);
  const mqe_subscription_t subs[2] = {{"dev/cfg", 1}, {"dev/+/ota", 0}};
  CHECK(MEASURED(mqe_subscribe_many(&client, subs, 2, &id_many)) == MQE_OK);
  CHECK(mqe_subscribe_many(&client, subs, 0, NULL) == MQE_ERR_ARG);
  CHECK(mqe_subscribe(&client, "dev/#/bad", 0, NULL) == MQE_ERR_TOPIC);
  CHECK(id_one != 0 && id_many != 0 && id_one != id_many);
  CHECK(poll_until(MQE_EVENT_SUBSCRIBED, from, 2));
  for (int round = 0; round < 50 && broker.pubcomps == 0; round++) {
    (void)MEASURED(mqe_poll(&client));
    print_new_events();
  }
  const seen_event_t *suback = find_event(MQE_EVENT_SUBSCRIBED, from);
  CHECK(suback->packet_id == id_one && suback->granted_count == 1 && suback->granted[0] == 2);
  CHECK(message_count == 2);
  CHECK(strcmp(messages[0].topic, BROKER_PUSH_TOPIC) == 0 && messages[0].qos == 1);
  CHECK(strcmp(messages[0].payload, "qos1-from-broker") == 0);
  CHECK(strcmp(messages[1].payload, "qos2-from-broker") == 0 && messages[1].qos == 2);
  CHECK(broker.pubacks == 1 && broker.pubrecs == 1 && broker.pubcomps == 1);
  /* Debug level: one line per SUBACK, the last for the second SUBSCRIBE. */
  char expected[32];
  snprintf(expected, sizeof expected, "SUBACK id %u", id_many);
  CHECK(log_lines[MQE_LOG_DEBUG] == 2 && strcmp(last_log_line[MQE_LOG_DEBUG], expected) == 0);
  out("  received: %s q%u, %s q%u\n", messages[0].payload, messages[0].qos, messages[1].payload,
      messages[1].qos);
}

static void publish_each_qos(void) {
  out("publish at QoS 0, 1, 2\n");
  uint16_t id0 = 7, id1 = 0, id2 = 0;
  const size_t from = event_count;
  CHECK(MEASURED(mqe_publish(&client, "dev/out/q0", "zero", 4, 0, false, &id0)) == MQE_OK);
  CHECK(mqe_publish(&client, "dev/out/q1", "one", 3, 1, false, &id1) == MQE_OK);
  CHECK(mqe_publish(&client, "dev/out/q2", "two", 3, 2, true, &id2) == MQE_OK);
  CHECK(mqe_publish(&client, "dev/out/+", "x", 1, 0, false, NULL) == MQE_ERR_TOPIC);
  CHECK(mqe_publish(&client, "dev/out/q3", "x", 1, 3, false, NULL) == MQE_ERR_QOS);
  CHECK(id0 == 0 && id1 != 0 && id2 != 0);
  CHECK(poll_until(MQE_EVENT_PUBLISH_COMPLETE, from, 2));
  CHECK(broker.publishes[0] == 1 && broker.publishes[1] == 1 && broker.publishes[2] == 1);
  CHECK(broker.pubrels == 1);
}

static void keep_alive_across_the_wrap(void) {
  out("idle until the keep-alive ping (tick %lu, wraps at 2^32)\n", (unsigned long)board_tick);
  const uint32_t before = board_tick;
  CHECK(poll_until(MQE_EVENT_PING_RESPONSE, event_count, 1));
  CHECK(broker.pingreqs == 1);
  CHECK(board_tick < before); /* the tick wrapped on the way */
  CHECK(board_tick - before >= 9000);
  CHECK(strcmp(last_log_line[MQE_LOG_DEBUG], "PINGRESP") == 0);
  out("  PINGRESP at tick %lu, %lu ms after the last packet\n", (unsigned long)board_tick,
      (unsigned long)(board_tick - before));
}

static void unsubscribe(void) {
  uint16_t id = 0;
  const size_t from = event_count;
  CHECK(MEASURED(mqe_unsubscribe(&client, "dev/cfg", &id)) == MQE_OK);
  CHECK(poll_until(MQE_EVENT_UNSUBSCRIBED, from, 1));
  CHECK(find_event(MQE_EVENT_UNSUBSCRIBED, from)->packet_id == id && broker.unsubscribes == 1);
}

/* A per-topic handler gets what matches its filter, the default handler the rest. The
   blocking mqe_wait_msg sleeps through platform.delay_ms (the tick moves on) until a message
   is delivered; mqe_check_msg is one poll and never sleeps. */
static void topic_handler_and_blocking_receive(void) {
  out("per-topic handler, mqe_wait_msg, mqe_check_msg\n");
  uint16_t id = 0;
  const size_t from = event_count;
  CHECK(MEASURED(mqe_subscribe_cb(&client, "dev/led/+", 1, on_topic_message, &topic_handler_user,
                                  &id)) == MQE_OK);
  CHECK(mqe_subscribe_cb(&client, "dev/led/+", 1, NULL, NULL, NULL) == MQE_ERR_NULL);
  CHECK(poll_until(MQE_EVENT_SUBSCRIBED, from, 1));
  const seen_event_t *suback = find_event(MQE_EVENT_SUBSCRIBED, from);
  CHECK(suback->packet_id == id && suback->granted_count == 1 && suback->granted[0] == 1);

  /* Nothing arrives: the helper sleeps in slices until its timeout. */
  uint32_t delays = board_delays, before = board_tick;
  CHECK(MEASURED(mqe_wait_msg(&client, 50)) == MQE_ERR_TIMEOUT);
  CHECK(board_delays > delays && board_tick - before >= 50 && board_tick - before < 100);

  /* A message held up in the network for a few polls: the helper sleeps until it is in. */
  const size_t default_before = message_count;
  const uint32_t pubacks = broker.pubacks;
  broker_publish(&broker, "dev/led/1", 1, "on");
  broker.stall_recvs = 3;
  delays = board_delays;
  CHECK(MEASURED(mqe_wait_msg(&client, 1000)) == MQE_OK);
  const uint32_t sleeps = board_delays - delays;
  CHECK(broker.stall_recvs == 0 && sleeps > 0);
  CHECK(topic_message_count == 1 && message_count == default_before);
  CHECK(strcmp(topic_messages[0].topic, "dev/led/1") == 0);
  CHECK(strcmp(topic_messages[0].payload, "on") == 0 && topic_messages[0].qos == 1);

  /* Nothing pending: one poll (it sends the PUBACK), no message, no sleep. */
  delays = board_delays;
  before = board_tick;
  CHECK(MEASURED(mqe_check_msg(&client)) == MQE_OK);
  CHECK(topic_message_count == 1 && message_count == default_before);
  CHECK(board_delays == delays && board_tick == before);
  CHECK(broker.pubacks == pubacks + 1);

  /* A topic no per-topic handler matches goes to the default handler. */
  broker_publish(&broker, BROKER_PUSH_TOPIC, 0, "to-default");
  CHECK(mqe_check_msg(&client) == MQE_OK);
  CHECK(message_count == default_before + 1 && topic_message_count == 1);
  CHECK(strcmp(messages[default_before].payload, "to-default") == 0);
  print_new_events();
  out("  per-topic handler got \"%s\" on %s at QoS %u (after %lu sleeps); the default "
      "handler \"%s\"\n",
      topic_messages[0].payload, topic_messages[0].topic, topic_messages[0].qos,
      (unsigned long)sleeps, messages[default_before].payload);
}

/* mqe_post_publish (any task or ISR) copies the message into the outbox under the critical
   section; only the owner's mqe_poll sends it. */
static void post_from_another_task(void) {
  out("mqe_post_publish, sent by the owner's poll\n");
  const size_t from = event_count;
  const uint32_t entries = board_critical_entries, sent = broker.publishes[1];
  CHECK(MEASURED(mqe_post_publish(&client, "dev/out/posted", "from-isr", 8, 1, false)) == MQE_OK);
  CHECK(mqe_post_publish(&client, "dev/out/posted", "x", 1, 3, false) == MQE_ERR_QOS);
  CHECK(board_critical_entries > entries && !board_irq_masked());
  CHECK(broker.publishes[1] == sent && mqe_next_deadline_ms(&client) == 0);
  CHECK(poll_until(MQE_EVENT_PUBLISH_COMPLETE, from, 1));
  const broker_publish_t *got = broker_client_publish(&broker, 0);
  CHECK(broker.publishes[1] == sent + 1 && got != NULL && got->qos == 1 && !got->dup);
  CHECK(strcmp(got->topic, "dev/out/posted") == 0 && strcmp(got->payload, "from-isr") == 0);
  CHECK(board_critical_entries == board_critical_exits && !board_critical_misuse);
}

/* mqe_ping: a PINGREQ now (not at the keep-alive) and its PINGRESP. */
static void ping_round_trip(void) {
  out("mqe_ping\n");
  const size_t from = event_count;
  const uint32_t pingreqs = broker.pingreqs, debug_lines = log_lines[MQE_LOG_DEBUG];
  CHECK(MEASURED(mqe_ping(&client, 1000)) == MQE_OK);
  print_new_events();
  CHECK(broker.pingreqs == pingreqs + 1 && find_event(MQE_EVENT_PING_RESPONSE, from) != NULL);
  CHECK(log_lines[MQE_LOG_DEBUG] == debug_lines + 1);
  CHECK(strcmp(last_log_line[MQE_LOG_DEBUG], "PINGRESP") == 0);
}

static void truncated_puback_then_resume(void) {
  out("protocol error: the broker answers with a truncated PUBACK\n");
  broker.truncate_next_puback = true;
  uint16_t id = 0;
  size_t from = event_count;
  CHECK(mqe_publish(&client, "dev/out/q1", "again", 5, 1, false, &id) == MQE_OK);
  CHECK(poll_until(MQE_EVENT_DISCONNECTED, from, 1));
  CHECK(find_event(MQE_EVENT_DISCONNECTED, from)->reason == MQE_ERR_MALFORMED);
  CHECK(last_poll_error == MQE_ERR_MALFORMED);
  CHECK(mqe_state(&client) == MQE_STATE_DISCONNECTED && mqe_mqttsta(&client) == -1);
  CHECK(!broker.socket_open && find_event(MQE_EVENT_PUBLISH_COMPLETE, from) == NULL);
  CHECK(log_lines[MQE_LOG_ERROR] == 1);
  CHECK(strncmp(last_log_line[MQE_LOG_ERROR], "protocol error", 14) == 0);

  out("offline: QoS 0 waits for the connection; one too many drops the oldest\n");
  char payload[8];
  for (unsigned i = 0; i <= MQE_OFFLINE_QOS0_MSGS; i++) {
    snprintf(payload, sizeof payload, "m%u", i);
    CHECK(mqe_publish(&client, "dev/out/q0", payload, strlen(payload), 0, false, NULL) == MQE_OK);
  }
  CHECK(MEASURED(mqe_qos0_dropped(&client)) == 1);

  out("mqe_connect_wait: the session is resumed, the QoS 1 message re-sent with DUP, then the "
      "queued QoS 0\n");
  from = event_count;
  const uint32_t qos0_sent = broker.publishes[0], delays = board_delays;
  broker.stall_recvs = 3; /* a slow CONNACK: the helper sleeps until it is in */
  CHECK(MEASURED(mqe_connect_wait(&client, 5000)) == MQE_OK);
  CHECK(mqe_state(&client) == MQE_STATE_CONNECTED);
  CHECK(broker.stall_recvs == 0 && board_delays > delays);
  CHECK(poll_until(MQE_EVENT_PUBLISH_COMPLETE, from, 1));
  const seen_event_t *connected = find_event(MQE_EVENT_CONNECTED, from);
  CHECK(connected != NULL && connected->session_present);
  CHECK(find_event(MQE_EVENT_PUBLISH_COMPLETE, from)->packet_id == id);
  CHECK(broker.connects == 2 && broker.dup_publishes == 1);
  for (int round = 0; round < 20 && broker.publishes[0] < qos0_sent + MQE_OFFLINE_QOS0_MSGS;
       round++) {
    (void)MEASURED(mqe_poll(&client));
  }
  CHECK(broker.publishes[0] == qos0_sent + MQE_OFFLINE_QOS0_MSGS);
  for (unsigned i = 1; i <= MQE_OFFLINE_QOS0_MSGS; i++) { /* m1 .. m8, in order */
    snprintf(payload, sizeof payload, "m%u", i);
    const broker_publish_t *got = broker_client_publish(&broker, MQE_OFFLINE_QOS0_MSGS - i);
    CHECK(got != NULL && got->qos == 0 && strcmp(got->payload, payload) == 0);
  }
  const seen_event_t *dropped = find_event(MQE_EVENT_QOS0_DROPPED, from);
  CHECK(dropped != NULL && dropped->dropped == 1 && mqe_qos0_dropped(&client) == 1);
}

static void disconnect(void) {
  out("disconnect\n");
  const size_t from = event_count;
  CHECK(MEASURED(mqe_disconnect(&client)) == MQE_OK);
  CHECK(poll_until(MQE_EVENT_DISCONNECTED, from, 1));
  CHECK(find_event(MQE_EVENT_DISCONNECTED, from)->reason == MQE_OK);
  CHECK(broker.disconnects == 1 && !broker.socket_open);
  CHECK(mqe_state(&client) == MQE_STATE_DISCONNECTED);
  CHECK(mqe_disconnect(&client) == MQE_ERR_STATE);
}

#if defined(MQE_FEATURE_STORE)
/* A reset: the client's RAM is gone; a new mqe_init over the same flash region restores the
 * QoS 1 message published offline, and the next connection re-sends it with DUP. */
static void reset_resumes_from_flash(void) {
  out("reset: a QoS 1 message stored offline survives a new mqe_init over the same flash\n");
  uint16_t id = 0;
  CHECK(mqe_publish(&client, "dev/out/q1", "flash", 5, 1, false, &id) == MQE_OK);
  memset(&client, 0, sizeof client);
  init_client();
  const size_t from = event_count;
  const uint32_t dups = broker.dup_publishes, connects = broker.connects;
  CHECK(mqe_connect(&client) == MQE_OK);
  CHECK(poll_until(MQE_EVENT_PUBLISH_COMPLETE, from, 1));
  const seen_event_t *restored = find_event(MQE_EVENT_RESTORED, from);
  CHECK(restored != NULL && restored->restored == 1);
  CHECK(find_event(MQE_EVENT_PUBLISH_COMPLETE, from)->packet_id == id);
  CHECK(broker.connects == connects + 1 && broker.dup_publishes == dups + 1);
  CHECK(mqe_disconnect(&client) == MQE_OK);
  CHECK(poll_until(MQE_EVENT_DISCONNECTED, from, 1));
}
#endif

int main(void) {
  out("mqtt-engine %s on Cortex-M4 (QEMU mps2-an386), sizeof(mqe_client_t) = %u\n",
      mqe_version(), (unsigned)sizeof(mqe_client_t));
  broker.push_after_subscribe = true;
  broker.max_send_chunk = 7; /* partial writes */
  check_arguments_and_texts();
  init_client();
  connect_subscribe_and_receive();
  publish_each_qos();
  keep_alive_across_the_wrap();
  unsubscribe();
  topic_handler_and_blocking_receive();
  post_from_another_task();
  ping_round_trip();
  truncated_puback_then_resume();
  disconnect();
#if defined(MQE_FEATURE_STORE)
  reset_resumes_from_flash();
#endif
  cloud_calls();
  cell_calls();
  CHECK(!broker.protocol_violation && !panic_hook_called);
  CHECK(board_critical_entries == board_critical_exits && !board_critical_misuse);
  stack_report();
  out("SIZEOF mqe_client_t %u\n", (unsigned)sizeof(mqe_client_t));
  out("PASS full C API: %u events, %u messages, worst stack %lu bytes\n", (unsigned)event_count,
      (unsigned)message_count, (unsigned long)stack_worst());
  return 0;
}
