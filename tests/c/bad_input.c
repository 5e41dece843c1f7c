/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The bad-input table (docs/BAD_INPUT.md) through the C API, one case per row, with no broker: a fake
 * C transport plays the network and scripts the broker's bytes. Each network row ends in a
 * clear status and event, then the client connects again and the QoS 1 message it had
 * accepted before is re-sent (DUP) and completes: nothing accepted is lost.
 *
 * Its own program (not part of test_c): `make cbad`, and under ASan/UBSan and valgrind in
 * `make sanitize`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mqtt_engine.h"

/* ---- the fake network ----------------------------------------------------------------------- */

typedef struct {
    uint32_t now;
    int32_t open_sock; /* -1: none */
    int32_t next_sock;
    uint8_t in[1024]; /* broker -> client */
    size_t in_len;
    size_t in_pos;
    bool peer_closed; /* recv returns 0 once `in` is drained */
    uint8_t out[4096]; /* client -> broker, this connection */
    size_t out_len;
    int32_t misuse; /* calls on a socket that is not the open one */
} fake_net_t;

static fake_net_t net;

static int32_t f_open(void *ctx) {
    (void)ctx;
    if (net.open_sock >= 0) {
        net.misuse++;
    }
    net.open_sock = ++net.next_sock;
    net.in_len = net.in_pos = net.out_len = 0;
    net.peer_closed = false;
    return net.open_sock;
}

static int32_t f_connect(void *ctx, int32_t sock, const mqe_sockaddr_t *addr) {
    (void)ctx;
    (void)addr;
    net.misuse += sock != net.open_sock;
    return 0;
}

static int32_t f_send(void *ctx, int32_t sock, const uint8_t *buf, size_t len) {
    (void)ctx;
    net.misuse += sock != net.open_sock;
    size_t room = sizeof net.out - net.out_len;
    size_t n = len < room ? len : room;
    memcpy(net.out + net.out_len, buf, n);
    net.out_len += n;
    return (int32_t)n;
}

static int32_t f_recv(void *ctx, int32_t sock, uint8_t *buf, size_t len) {
    (void)ctx;
    net.misuse += sock != net.open_sock;
    if (net.in_pos == net.in_len) {
        return net.peer_closed ? 0 : MQE_IO_WOULD_BLOCK;
    }
    size_t left = net.in_len - net.in_pos;
    size_t n = len < left ? len : left;
    memcpy(buf, net.in + net.in_pos, n);
    net.in_pos += n;
    return (int32_t)n;
}

static void f_close(void *ctx, int32_t sock) {
    (void)ctx;
    net.misuse += sock != net.open_sock;
    net.open_sock = -1;
}

static uint32_t f_now(void *ctx) {
    (void)ctx;
    return net.now;
}

static const mqe_transport_t transport = {NULL, f_open, f_connect, f_send, f_recv, f_close, NULL};
static const mqe_platform_t platform = {NULL, f_now, NULL, NULL, NULL};

static void broker_sends(const uint8_t *bytes, size_t len) {
    if (len <= sizeof net.in - net.in_len) {
        memcpy(net.in + net.in_len, bytes, len);
        net.in_len += len;
    }
}

/* ---- the client ----------------------------------------------------------------------------- */

#define MAX_EVENTS 32
static struct {
    mqe_event_kind_t kind;
    mqe_status_t reason;
    uint16_t packet_id;
} events[MAX_EVENTS];
static size_t event_count;

static void on_event(void *user, const mqe_event_t *e) {
    (void)user;
    if (event_count < MAX_EVENTS) {
        events[event_count].kind = e->kind;
        events[event_count].reason = e->reason;
        events[event_count].packet_id = e->packet_id;
        event_count++;
    }
}

static mqe_client_t client;
static uint8_t rx[256], tx[512], store[1024];

static mqe_options_t options(void) {
    mqe_options_t o = mqe_options_default();
    o.host = "127.0.0.1";
    o.client_id = "bad-input";
    o.clean_session = false;
    o.keep_alive_s = 0;
    o.connect_timeout_ms = 1000;
    o.ack_timeout_ms = 0;
    o.reconnect = false;
    o.rx_buf = rx;
    o.rx_buf_len = sizeof rx;
    o.tx_buf = tx;
    o.tx_buf_len = sizeof tx;
    o.store_buf = store;
    o.store_buf_len = sizeof store;
    return o;
}

/* Polls n times; returns the last status other than MQE_OK (or MQE_OK). */
static mqe_status_t poll_n(int n) {
    mqe_status_t seen = MQE_OK;
    for (int i = 0; i < n; i++) {
        mqe_status_t st = mqe_poll(&client);
        if (st != MQE_OK) {
            seen = st;
        }
    }
    return seen;
}

static const mqe_event_kind_t NO_EVENT = 0;

static mqe_event_kind_t last_event_kind(void) {
    return event_count == 0 ? NO_EVENT : events[event_count - 1].kind;
}

static bool fresh_client(void) {
    memset(&net, 0, sizeof net);
    net.open_sock = -1;
    net.now = 1000;
    event_count = 0;
    mqe_options_t o = options();
    if (mqe_init(&client, &o, &transport, &platform) != MQE_OK) {
        return false;
    }
    return mqe_set_event_handler(&client, on_event, NULL) == MQE_OK;
}

static const uint8_t CONNACK_NEW[] = {0x20, 0x02, 0x00, 0x00};
static const uint8_t CONNACK_PRESENT[] = {0x20, 0x02, 0x01, 0x00};
/* PUBLISH QoS 1 "t/1" id 1 "keep", first as sent and then re-sent with DUP. */
static const uint8_t PUBLISH_KEEP[] = {0x32, 0x0B, 0x00, 0x03, 't', '/', '1', 0x00, 0x01, 'k', 'e', 'e', 'p'};
static const uint8_t PUBLISH_KEEP_DUP[] = {0x3A, 0x0B, 0x00, 0x03, 't', '/', '1', 0x00, 0x01, 'k', 'e', 'e', 'p'};
static const uint8_t PUBACK_1[] = {0x40, 0x02, 0x00, 0x01};

static bool out_has(const uint8_t *bytes, size_t len) {
    for (size_t i = 0; i + len <= net.out_len; i++) {
        if (memcmp(net.out + i, bytes, len) == 0) {
            return true;
        }
    }
    return false;
}

/* Connects, gets CONNACK, and has QoS 1 "keep" (id 1) sent and awaiting its PUBACK. */
static bool connected_with_message_in_flight(void) {
    if (!fresh_client() || mqe_connect(&client) != MQE_OK) {
        return false;
    }
    poll_n(3);
    broker_sends(CONNACK_NEW, sizeof CONNACK_NEW);
    poll_n(3);
    uint16_t id = 0;
    if (mqe_state(&client) != MQE_STATE_CONNECTED ||
        mqe_publish(&client, "t/1", "keep", 4, 1, false, &id) != MQE_OK || id != 1) {
        return false;
    }
    poll_n(3);
    return out_has(PUBLISH_KEEP, sizeof PUBLISH_KEEP);
}

/* After a row: the connection is over with `want`, the socket closed; a new connection
 * re-sends the message with DUP and completes it. */
static void check_ended_then_recovers(mqe_status_t polled, mqe_status_t want) {
    CHECK_EQ(polled, want);
    CHECK_EQ(mqe_state(&client), MQE_STATE_DISCONNECTED);
    CHECK_EQ(last_event_kind(), MQE_EVENT_DISCONNECTED);
    if (event_count > 0) {
        CHECK_EQ(events[event_count - 1].reason, want);
    }
    CHECK_EQ(net.open_sock, -1);
    CHECK_EQ(net.misuse, 0);

    REQUIRE_EQ(mqe_connect(&client), MQE_OK);
    poll_n(3);
    broker_sends(CONNACK_PRESENT, sizeof CONNACK_PRESENT);
    poll_n(3);
    CHECK_EQ(mqe_state(&client), MQE_STATE_CONNECTED);
    CHECK(out_has(PUBLISH_KEEP_DUP, sizeof PUBLISH_KEEP_DUP));
    broker_sends(PUBACK_1, sizeof PUBACK_1);
    poll_n(3);
    CHECK_EQ(last_event_kind(), MQE_EVENT_PUBLISH_COMPLETE);
    if (event_count > 0) {
        CHECK_EQ(events[event_count - 1].packet_id, 1);
    }
}

/* One network row: the broker sends `bytes` to a connected client. */
static void network_row(const uint8_t *bytes, size_t len, mqe_status_t want) {
    REQUIRE(connected_with_message_in_flight());
    broker_sends(bytes, len);
    mqe_status_t polled = poll_n(5);
    check_ended_then_recovers(polled, want);
}

#define ROW(name, want, ...)                                                                 \
    static void case_##name(void) {                                                          \
        static const uint8_t bytes[] = {__VA_ARGS__};                                        \
        network_row(bytes, sizeof bytes, want);                                              \
    }

/* mqttrs's crash classes (DESIGN.md) */
ROW(short_puback, MQE_ERR_MALFORMED, 0x40, 0x01, 0x00)
ROW(short_unsuback, MQE_ERR_MALFORMED, 0xB0, 0x01, 0x03)
ROW(qos1_publish_without_its_id, MQE_ERR_MALFORMED, 0x32, 0x03, 0x00, 0x01, 't')
ROW(topic_length_past_the_packet, MQE_ERR_MALFORMED, 0x30, 0x04, 0x00, 0x09, 'a', 'b')
ROW(wrong_remaining_length, MQE_ERR_MALFORMED, 0x40, 0x03, 0x00, 0x01, 0x00)
ROW(wildcard_in_publish_topic, MQE_ERR_MALFORMED, 0x30, 0x05, 0x00, 0x03, 'a', '/', '#')
ROW(suback_without_codes, MQE_ERR_MALFORMED, 0x90, 0x02, 0x00, 0x01)
/* framing */
ROW(non_minimal_remaining_length, MQE_ERR_MALFORMED, 0xD0, 0x80, 0x00)
ROW(five_byte_remaining_length, MQE_ERR_MALFORMED, 0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01)
ROW(reserved_packet_type, MQE_ERR_MALFORMED, 0xF0, 0x00)
/* Refused from the header, before the body: a SUBACK of 512 bytes (rx is 256; only a PUBLISH
   is read past), and a PUBLISH of 65,537 (beyond the default oversized_limit, 64 KiB). */
ROW(packet_bigger_than_rx_buffer, MQE_ERR_PACKET_TOO_LARGE, 0x90, 0x80, 0x04)
ROW(publish_beyond_oversized_limit, MQE_ERR_PACKET_TOO_LARGE, 0x30, 0x81, 0x80, 0x04)
/* packets a broker never sends */
ROW(connect_from_broker, MQE_ERR_UNEXPECTED_PACKET, 0x10, 0x0D, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,
    0x02, 0x00, 0x3C, 0x00, 0x01, 'x')
ROW(subscribe_from_broker, MQE_ERR_UNEXPECTED_PACKET, 0x82, 0x06, 0x00, 0x09, 0x00, 0x01, 'a', 0x00)
ROW(pingreq_from_broker, MQE_ERR_UNEXPECTED_PACKET, 0xC0, 0x00)
ROW(second_connack, MQE_ERR_UNEXPECTED_PACKET, 0x20, 0x02, 0x00, 0x00)
ROW(puback_unknown_id, MQE_ERR_UNKNOWN_PACKET_ID, 0x40, 0x02, 0x00, 0x63)
ROW(pubcomp_unknown_id, MQE_ERR_UNKNOWN_PACKET_ID, 0x70, 0x02, 0x00, 0x63)

static void case_suback_with_wrong_code_count(void) {
    REQUIRE(connected_with_message_in_flight());
    const mqe_subscription_t two[2] = {{"a/#", 1}, {"b/+", 0}};
    uint16_t id = 0;
    REQUIRE_EQ(mqe_subscribe_many(&client, two, 2, &id), MQE_OK);
    REQUIRE_EQ(id, 2);
    poll_n(2);
    const uint8_t one_code[] = {0x90, 0x03, 0x00, 0x02, 0x01};
    broker_sends(one_code, sizeof one_code);
    check_ended_then_recovers(poll_n(5), MQE_ERR_MALFORMED);
}

static void case_connack_with_reserved_flags(void) {
    REQUIRE(connected_with_message_in_flight());
    net.peer_closed = true;
    CHECK_EQ(poll_n(3), MQE_ERR_CLOSED);
    REQUIRE_EQ(mqe_connect(&client), MQE_OK);
    poll_n(3);
    const uint8_t bad[] = {0x20, 0x02, 0x02, 0x00};
    broker_sends(bad, sizeof bad);
    check_ended_then_recovers(poll_n(5), MQE_ERR_MALFORMED);
}

/* The broker accepts TCP and never answers CONNECT: the connect timeout ends it. */
static void case_broker_never_answers(void) {
    REQUIRE(connected_with_message_in_flight());
    net.peer_closed = true;
    CHECK_EQ(poll_n(3), MQE_ERR_CLOSED);
    REQUIRE_EQ(mqe_connect(&client), MQE_OK);
    CHECK_EQ(poll_n(3), MQE_OK);
    CHECK_EQ(mqe_state(&client), MQE_STATE_CONNECTING);
    net.now += 999;
    CHECK_EQ(poll_n(3), MQE_OK);
    net.now += 1;
    check_ended_then_recovers(poll_n(3), MQE_ERR_CONNECT_TIMEOUT);
}

/* The broker closes the connection after half a packet. */
static void case_broker_closes_mid_packet(void) {
    REQUIRE(connected_with_message_in_flight());
    const uint8_t half[] = {0x30, 0x0A, 0x00, 0x03, 'a', '/'};
    broker_sends(half, sizeof half);
    CHECK_EQ(poll_n(3), MQE_OK);
    CHECK_EQ(mqe_state(&client), MQE_STATE_CONNECTED);
    net.peer_closed = true;
    check_ended_then_recovers(poll_n(3), MQE_ERR_CLOSED);
}

/* ---- rows from C ---------------------------------------------------------------------------- */

static mqe_client_t never_initialised; /* zeroed: mqe_init never saw it */
static char long_topic[70000];

static void case_c_arguments(void) {
    REQUIRE(connected_with_message_in_flight());
    mqe_client_t *c = &client;
    uint16_t id = 0;
    /* NULL client, topic, payload with len > 0 */
    CHECK_EQ(mqe_publish(NULL, "t", "x", 1, 0, false, &id), MQE_ERR_NULL);
    CHECK_EQ(mqe_publish(c, NULL, "x", 1, 0, false, &id), MQE_ERR_NULL);
    CHECK_EQ(mqe_publish(c, "t", NULL, 1, 0, false, &id), MQE_ERR_NULL);
    CHECK_EQ(mqe_poll(NULL), MQE_ERR_NULL);
    CHECK_EQ(mqe_state(NULL), MQE_ERR_NULL);
    /* non-UTF-8, wildcard, over 65,535 bytes */
    CHECK_EQ(mqe_publish(c, "t/\xc3\x28", "x", 1, 0, false, &id), MQE_ERR_UTF8);
    CHECK_EQ(mqe_publish(c, "t/+", "x", 1, 0, false, &id), MQE_ERR_TOPIC);
    CHECK_EQ(mqe_publish(c, "t/#", "x", 1, 1, false, &id), MQE_ERR_TOPIC);
    memset(long_topic, 'a', sizeof long_topic - 1);
    long_topic[sizeof long_topic - 1] = '\0';
    CHECK_EQ(mqe_publish(c, long_topic, "x", 1, 0, false, &id), MQE_ERR_TOO_LARGE);
    CHECK_EQ(mqe_subscribe(c, long_topic, 0, &id), MQE_ERR_TOO_LARGE);
    /* a payload bigger than tx (512): never fits, at any QoS */
    static const uint8_t big[600] = {0};
    CHECK_EQ(mqe_publish(c, "t", big, sizeof big, 0, false, &id), MQE_ERR_TOO_LARGE);
    CHECK_EQ(mqe_publish(c, "t", big, sizeof big, 1, false, &id), MQE_ERR_TOO_LARGE);
    /* QoS 3 */
    CHECK_EQ(mqe_publish(c, "t", "x", 1, 3, false, &id), MQE_ERR_QOS);
    CHECK_EQ(mqe_subscribe(c, "t", 3, &id), MQE_ERR_QOS);
    /* none of that touched the connection or the message in flight */
    CHECK_EQ(mqe_state(c), MQE_STATE_CONNECTED);
    broker_sends(PUBACK_1, sizeof PUBACK_1);
    poll_n(3);
    CHECK_EQ(last_event_kind(), MQE_EVENT_PUBLISH_COMPLETE);
}

static void case_c_state(void) {
    uint16_t id = 0;
    /* before mqe_init */
    mqe_client_t *raw = &never_initialised;
    CHECK_EQ(mqe_connect(raw), MQE_ERR_NOT_INIT);
    CHECK_EQ(mqe_poll(raw), MQE_ERR_NOT_INIT);
    CHECK_EQ(mqe_publish(raw, "t", "x", 1, 1, false, &id), MQE_ERR_NOT_INIT);
    CHECK_EQ(mqe_state(raw), MQE_ERR_NOT_INIT);
    /* the wrong state */
    REQUIRE(fresh_client());
    CHECK_EQ(mqe_publish(&client, "t", "x", 1, 0, false, &id), MQE_ERR_STATE);
    CHECK_EQ(mqe_subscribe(&client, "t", 0, &id), MQE_ERR_STATE);
    CHECK_EQ(mqe_disconnect(&client), MQE_ERR_STATE);
    /* a double init: fine while disconnected, a state error while connected */
    mqe_options_t o = options();
    CHECK_EQ(mqe_init(&client, &o, &transport, &platform), MQE_OK);
    REQUIRE(connected_with_message_in_flight());
    CHECK_EQ(mqe_init(&client, &o, &transport, &platform), MQE_ERR_STATE);
    CHECK_EQ(mqe_connect(&client), MQE_ERR_STATE);
    CHECK_EQ(mqe_state(&client), MQE_STATE_CONNECTED);
}

static void case_c_buffers(void) {
    mqe_options_t o = options();
    o.rx_buf_len = MQE_MIN_BUFFER - 1;
    CHECK_EQ(mqe_init(&never_initialised, &o, &transport, &platform), MQE_ERR_BUFFER);
    o = options();
    o.tx_buf_len = MQE_MIN_BUFFER - 1;
    CHECK_EQ(mqe_init(&never_initialised, &o, &transport, &platform), MQE_ERR_BUFFER);
    o = options();
    o.rx_buf = NULL;
    CHECK_EQ(mqe_init(&never_initialised, &o, &transport, &platform), MQE_ERR_BUFFER);
    o = options();
    o.store_buf = NULL;
    CHECK_EQ(mqe_init(&never_initialised, &o, &transport, &platform), MQE_ERR_BUFFER);
    o = options();
    o.tx_buf = o.rx_buf; /* overlapping */
    CHECK_EQ(mqe_init(&never_initialised, &o, &transport, &platform), MQE_ERR_ARG);
    CHECK_EQ(mqe_state(&never_initialised), MQE_ERR_NOT_INIT);
}

/* The broker refuses filters (SUBACK 0x80): each frees its mqe_subscribe_cb slot, so twice
 * as many refusals as slots leave the table as empty as before. */
static void ignore_message(void *user, const mqe_message_t *msg) {
    (void)user;
    (void)msg;
}

static mqe_status_t subscribe_cb_answered(int n, uint8_t code) {
    char filter[16];
    snprintf(filter, sizeof filter, "s/%d", n);
    uint16_t id = 0;
    mqe_status_t st = mqe_subscribe_cb(&client, filter, MQE_QOS_1, ignore_message, NULL, &id);
    if (st == MQE_OK) {
        poll_n(2);
        const uint8_t suback[] = {0x90, 0x03, (uint8_t)(id >> 8), (uint8_t)id, code};
        broker_sends(suback, sizeof suback);
        CHECK_EQ(poll_n(2), MQE_OK);
        CHECK_EQ(last_event_kind(), MQE_EVENT_SUBSCRIBED);
    }
    return st;
}

static void case_refused_filters_free_their_handler_slots(void) {
    REQUIRE(connected_with_message_in_flight());
    int n = 0;
    for (; n < 2 * MQE_MAX_TOPIC_HANDLERS; n++) {
        CHECK_EQ(subscribe_cb_answered(n, MQE_SUBACK_FAILURE), MQE_OK);
    }
    for (int granted = 0; granted < MQE_MAX_TOPIC_HANDLERS; granted++, n++) {
        CHECK_EQ(subscribe_cb_answered(n, MQE_QOS_1), MQE_OK);
    }
    CHECK_EQ(subscribe_cb_answered(n, MQE_QOS_1), MQE_ERR_FULL);
}

static void teardown(void) {
    if (mqe_state(&client) >= 0 && mqe_state(&client) != MQE_STATE_DISCONNECTED) {
        net.peer_closed = true;
        poll_n(3);
    }
}

int main(int argc, char **argv) {
    static const h_case_t cases[] = {
        {"short_puback", case_short_puback},
        {"short_unsuback", case_short_unsuback},
        {"qos1_publish_without_its_id", case_qos1_publish_without_its_id},
        {"topic_length_past_the_packet", case_topic_length_past_the_packet},
        {"wrong_remaining_length", case_wrong_remaining_length},
        {"wildcard_in_publish_topic", case_wildcard_in_publish_topic},
        {"suback_without_codes", case_suback_without_codes},
        {"non_minimal_remaining_length", case_non_minimal_remaining_length},
        {"five_byte_remaining_length", case_five_byte_remaining_length},
        {"reserved_packet_type", case_reserved_packet_type},
        {"packet_bigger_than_rx_buffer", case_packet_bigger_than_rx_buffer},
        {"publish_beyond_oversized_limit", case_publish_beyond_oversized_limit},
        {"connect_from_broker", case_connect_from_broker},
        {"subscribe_from_broker", case_subscribe_from_broker},
        {"pingreq_from_broker", case_pingreq_from_broker},
        {"second_connack", case_second_connack},
        {"puback_unknown_id", case_puback_unknown_id},
        {"pubcomp_unknown_id", case_pubcomp_unknown_id},
        {"suback_with_wrong_code_count", case_suback_with_wrong_code_count},
        {"connack_with_reserved_flags", case_connack_with_reserved_flags},
        {"broker_never_answers", case_broker_never_answers},
        {"broker_closes_mid_packet", case_broker_closes_mid_packet},
        {"c_arguments", case_c_arguments},
        {"c_state", case_c_state},
        {"c_buffers", case_c_buffers},
        {"refused_filters_free_their_handler_slots", case_refused_filters_free_their_handler_slots},
    };
    setvbuf(stdout, NULL, _IOLBF, 0);
    return h_run(cases, (int)(sizeof cases / sizeof cases[0]), argc > 1 ? argv[1] : NULL, teardown);
}
