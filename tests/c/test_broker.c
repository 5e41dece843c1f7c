/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* C tests of mqtt-engine through its header, against a real mosquitto
 * (run under scripts/with_broker.py; `make ctest`). Optional argv[1]: run only the cases
 * whose name contains it. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "harness.h"

#define SETTLE_MS 300u /* time for a message that should not come to show up anyway */

/* ---- round trips ---------------------------------------------------------------------- */

/* Three messages back to back at one QoS: each arrives once, in order, with its exact
 * topic, payload bytes and QoS; QoS 1/2 publishes complete with the ids mqe_publish gave. */
static void round_trip(uint8_t qos) {
    char topic[TC_TOPIC_MAX];
    char name[16];
    snprintf(name, sizeof name, "rt/q%u", qos);
    tc_topic(topic, sizeof topic, name);

    tc_t *sub = tc_open("rts", true);
    tc_t *pub = tc_open("rtp", true);
    REQUIRE(sub != NULL && pub != NULL);
    CHECK_EQ(mqe_state(&pub->client), MQE_STATE_CONNECTED);
    CHECK_EQ(mqe_mqttsta(&pub->client), 0);
    REQUIRE_EQ(tc_subscribe_wait(sub, topic, 2), 2);

    uint8_t payloads[3][200];
    uint16_t ids[3] = {0xFFFF, 0xFFFF, 0xFFFF};
    for (int n = 0; n < 3; n++) {
        for (size_t i = 0; i < sizeof payloads[n]; i++) {
            payloads[n][i] = (uint8_t)(i * 7u + (unsigned)n * 31u + qos); /* includes 0x00, 0xff */
        }
        CHECK_EQ(mqe_publish(&pub->client, topic, payloads[n], sizeof payloads[n], qos, false, &ids[n]),
                 MQE_OK);
    }
    if (qos == 0) {
        CHECK(ids[0] == 0 && ids[1] == 0 && ids[2] == 0);
    } else {
        CHECK(ids[0] != 0 && ids[1] != 0 && ids[2] != 0);
        CHECK(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
    }

    WAIT_UNTIL(sub->msg_count >= 3, TC_WAIT_MS, tc_pump);
    if (qos > 0) {
        WAIT_UNTIL(tc_event_count(pub, MQE_EVENT_PUBLISH_COMPLETE) >= 3, TC_WAIT_MS, tc_pump);
    }
    tc_settle(SETTLE_MS);
    REQUIRE_EQ(sub->msg_count, 3);
    for (int n = 0; n < 3; n++) {
        const tc_msg_t *m = &sub->msgs[n];
        CHECK_EQ(m->topic_len, strlen(topic));
        CHECK(memcmp(m->topic, topic, strlen(topic)) == 0);
        CHECK(tc_payload_is(m, payloads[n], sizeof payloads[n]));
        CHECK_EQ(m->qos, qos);
        CHECK(!m->retain);
        CHECK(!m->dup);
        CHECK(qos == 0 ? m->packet_id == 0 : m->packet_id != 0);
    }
    if (qos == 0) {
        CHECK_EQ(tc_event_count(pub, MQE_EVENT_PUBLISH_COMPLETE), 0);
    } else {
        CHECK_EQ(tc_event_count(pub, MQE_EVENT_PUBLISH_COMPLETE), 3);
        for (int n = 0; n < 3; n++) {
            CHECK(tc_event(pub, MQE_EVENT_PUBLISH_COMPLETE, ids[n]) != NULL);
        }
    }
    CHECK_EQ(tc_event_count(pub, MQE_EVENT_DISCONNECTED), 0);
    CHECK_EQ(tc_event_count(sub, MQE_EVENT_DISCONNECTED), 0);
}

static void case_qos0_round_trip(void) { round_trip(0); }
static void case_qos1_round_trip(void) { round_trip(1); }
static void case_qos2_round_trip(void) { round_trip(2); }

/* A full in-flight window answers MQE_ERR_FULL; the caller polls and retries, and every
 * message still arrives exactly once, in order. */
static void case_full_window_is_back_pressure(void) {
    enum { TOTAL = 12 };
    char topic[TC_TOPIC_MAX];
    tc_topic(topic, sizeof topic, "bp/t");
    tc_t *sub = tc_open("bps", true);
    REQUIRE(sub != NULL);
    REQUIRE_EQ(tc_subscribe_wait(sub, topic, 2), 2);
    mqe_options_t opts;
    tc_t *pub = tc_alloc("bpp", &opts);
    REQUIRE(pub != NULL);
    opts.inflight_window = 2;
    REQUIRE_EQ(tc_init(pub, &opts), MQE_OK);
    REQUIRE(tc_connect_wait(pub));

    /* Nothing is polled between these, so no acknowledgement can free a slot. */
    CHECK_EQ(mqe_publish(&pub->client, topic, "m00", 3, 1, false, NULL), MQE_OK);
    CHECK_EQ(mqe_publish(&pub->client, topic, "m01", 3, 2, false, NULL), MQE_OK);
    uint16_t id = 0xBEEF;
    CHECK_EQ(mqe_publish(&pub->client, topic, "m02", 3, 1, false, &id), MQE_ERR_FULL);

    int sent = 2;
    int full = 1;
    uint64_t until = h_real_ms() + 2 * TC_WAIT_MS;
    while (sent < TOTAL && h_real_ms() < until) {
        char payload[16];
        snprintf(payload, sizeof payload, "m%02d", sent);
        mqe_status_t st = mqe_publish(&pub->client, topic, payload, strlen(payload),
                                      (uint8_t)(1 + sent % 2), false, NULL);
        if (st == MQE_OK) {
            sent++;
        } else {
            CHECK_EQ(st, MQE_ERR_FULL);
            full++;
            tc_pump();
        }
    }
    REQUIRE_EQ(sent, TOTAL);
    CHECK(full > 1);
    WAIT_UNTIL(sub->msg_count >= TOTAL && tc_event_count(pub, MQE_EVENT_PUBLISH_COMPLETE) >= TOTAL,
               TC_WAIT_MS, tc_pump);
    tc_settle(SETTLE_MS);
    REQUIRE_EQ(sub->msg_count, TOTAL);
    CHECK_EQ(tc_event_count(pub, MQE_EVENT_PUBLISH_COMPLETE), TOTAL);
    /* Each exactly once; in order within a QoS (a QoS 2 message is forwarded only after its
     * PUBREL, so QoS 1 ones may overtake it). Message n was sent at QoS 1 + n % 2. */
    int last_seen[3] = {-1, -1, -1};
    for (size_t i = 0; i < sub->msg_count; i++) {
        const tc_msg_t *m = &sub->msgs[i];
        int n = -1;
        if (m->payload_len == 3 && m->payload[0] == 'm') {
            n = (m->payload[1] - '0') * 10 + (m->payload[2] - '0');
        }
        if (n < 0 || n >= TOTAL || m->qos < 1 || m->qos > 2) {
            h_fail(__FILE__, __LINE__, "unexpected message %zu", i);
            continue;
        }
        CHECK_EQ(m->qos, 1 + n % 2);
        CHECK(n > last_seen[m->qos]);
        last_seen[m->qos] = n;
    }
    for (int n = 0; n < TOTAL; n++) {
        char payload[16];
        snprintf(payload, sizeof payload, "m%02d", n);
        size_t copies = 0;
        for (size_t i = 0; i < sub->msg_count; i++) {
            copies += tc_payload_str(&sub->msgs[i], payload);
        }
        if (copies != 1) {
            h_fail(__FILE__, __LINE__, "%s arrived %zu times", payload, copies);
        }
    }
}

/* Index of the message with payload `text` in sub's log, or -1 when it is not there once. */
static int index_of_once(const tc_t *sub, const char *text) {
    int found = -1;
    for (size_t i = 0; i < sub->msg_count; i++) {
        if (tc_payload_str(&sub->msgs[i], text)) {
            if (found >= 0) {
                return -1;
            }
            found = (int)i;
        }
    }
    return found;
}

/* QoS 1/2 publishes are accepted before the connection exists and go out once it does.
 * MQTT 3.1.1 orders messages only within one topic and QoS (§4.6; aedes reorders across QoS
 * levels), so only that order is checked: each QoS's two messages in publish order. */
static void case_publish_before_connect_is_sent_after(void) {
    char topic[TC_TOPIC_MAX];
    tc_topic(topic, sizeof topic, "early/t");
    tc_t *sub = tc_open("eas", true);
    REQUIRE(sub != NULL);
    REQUIRE_EQ(tc_subscribe_wait(sub, topic, 2), 2);
    mqe_options_t opts;
    tc_t *pub = tc_alloc("eap", &opts);
    REQUIRE(pub != NULL);
    REQUIRE_EQ(tc_init(pub, &opts), MQE_OK);
    static const struct {
        const char *payload;
        uint8_t qos;
    } early[4] = {{"early 1a", 1}, {"early 2a", 2}, {"early 1b", 1}, {"early 2b", 2}};
    uint16_t ids[4] = {0};
    for (int n = 0; n < 4; n++) {
        CHECK_EQ(mqe_publish(&pub->client, topic, early[n].payload, strlen(early[n].payload),
                             early[n].qos, false, &ids[n]),
                 MQE_OK);
        CHECK(ids[n] != 0);
    }
    CHECK(ids[0] != ids[1] && ids[0] != ids[2] && ids[0] != ids[3]);
    CHECK(ids[1] != ids[2] && ids[1] != ids[3] && ids[2] != ids[3]);
    REQUIRE(tc_connect_wait(pub));
    WAIT_UNTIL(sub->msg_count >= 4 && tc_event_count(pub, MQE_EVENT_PUBLISH_COMPLETE) >= 4,
               TC_WAIT_MS, tc_pump);
    tc_settle(SETTLE_MS);
    REQUIRE_EQ(sub->msg_count, 4);
    int at[4];
    for (int n = 0; n < 4; n++) {
        at[n] = index_of_once(sub, early[n].payload);
        if (at[n] < 0) {
            h_fail(__FILE__, __LINE__, "%s did not arrive exactly once", early[n].payload);
        } else {
            CHECK_EQ(sub->msgs[at[n]].qos, early[n].qos);
        }
        CHECK(tc_event(pub, MQE_EVENT_PUBLISH_COMPLETE, ids[n]) != NULL);
    }
    CHECK(at[0] < at[2]); /* QoS 1: 1a before 1b */
    CHECK(at[1] < at[3]); /* QoS 2: 2a before 2b */
}

/* ---- subscriptions -------------------------------------------------------------------- */

static void case_subscribe_many_wildcards(void) {
    char f_plus[TC_TOPIC_MAX], f_hash[TC_TOPIC_MAX], f_exact[TC_TOPIC_MAX], f_mid[TC_TOPIC_MAX];
    tc_topic(f_plus, sizeof f_plus, "sm/a/+");
    tc_topic(f_hash, sizeof f_hash, "sm/b/#");
    tc_topic(f_exact, sizeof f_exact, "sm/c");
    tc_topic(f_mid, sizeof f_mid, "sm/+/d/#");
    const mqe_subscription_t subs[4] = {{f_plus, 0}, {f_hash, 1}, {f_exact, 2}, {f_mid, 1}};

    tc_t *sub = tc_open("sms", true);
    tc_t *pub = tc_open("smp", true);
    REQUIRE(sub != NULL && pub != NULL);
    uint16_t id = 0;
    REQUIRE_EQ(mqe_subscribe_many(&sub->client, subs, 4, &id), MQE_OK);
    CHECK(id != 0);
    WAIT_UNTIL(tc_event(sub, MQE_EVENT_SUBSCRIBED, id) != NULL, TC_WAIT_MS, tc_pump);
    const tc_event_t *ack = tc_event(sub, MQE_EVENT_SUBSCRIBED, id);
    REQUIRE(ack != NULL);
    REQUIRE_EQ(ack->ev.granted_count, 4);
    CHECK_EQ(ack->granted[0], 0);
    CHECK_EQ(ack->granted[1], 1);
    CHECK_EQ(ack->granted[2], 2);
    CHECK_EQ(ack->granted[3], 1);

    /* Published at QoS 2: each match arrives at its subscription's granted QoS. */
    static const struct {
        const char *suffix;
        int delivered_qos; /* -1: must not match */
    } cases[] = {
        {"sm/a/1", 0},   {"sm/a/1/2", -1}, {"sm/a", -1},   {"sm/b", 1},      {"sm/b/x/y", 1},
        {"sm/c/x", -1},  {"sm/x/d", 1},    {"sm/x/d/e/f", 1}, {"sm/x/e", -1}, {"sm/c", 2},
    };
    const size_t n_cases = sizeof cases / sizeof cases[0];
    size_t expected = 0;
    for (size_t i = 0; i < n_cases; i++) {
        char topic[TC_TOPIC_MAX];
        tc_topic(topic, sizeof topic, cases[i].suffix);
        CHECK_EQ(mqe_publish(&pub->client, topic, cases[i].suffix, strlen(cases[i].suffix), 2,
                             false, NULL),
                 MQE_OK);
        expected += cases[i].delivered_qos >= 0;
        /* Keep the window small so this never meets back-pressure. */
        WAIT_UNTIL(mqe_state(&pub->client) == MQE_STATE_CONNECTED &&
                       tc_event_count(pub, MQE_EVENT_PUBLISH_COMPLETE) > i,
                   TC_WAIT_MS, tc_pump);
    }
    WAIT_UNTIL(sub->msg_count >= expected, TC_WAIT_MS, tc_pump);
    tc_settle(SETTLE_MS);
    CHECK_EQ(sub->msg_count, expected);
    for (size_t i = 0; i < n_cases; i++) {
        char topic[TC_TOPIC_MAX];
        tc_topic(topic, sizeof topic, cases[i].suffix);
        const tc_msg_t *m = tc_msg(sub, topic);
        if (cases[i].delivered_qos < 0) {
            if (m != NULL) {
                h_fail(__FILE__, __LINE__, "%s matched none of the filters but arrived", topic);
            }
            continue;
        }
        if (m == NULL || tc_msg_count(sub, topic) != 1) {
            h_fail(__FILE__, __LINE__, "%s: want exactly one delivery, got %zu", topic,
                   tc_msg_count(sub, topic));
            continue;
        }
        CHECK_EQ(m->qos, cases[i].delivered_qos);
        CHECK(tc_payload_str(m, cases[i].suffix));
    }
}

static void case_unsubscribe_stops_delivery(void) {
    char topic[TC_TOPIC_MAX], end[TC_TOPIC_MAX];
    tc_topic(topic, sizeof topic, "us/t");
    tc_topic(end, sizeof end, "us/end");
    tc_t *sub = tc_open("uss", true);
    tc_t *pub = tc_open("usp", true);
    REQUIRE(sub != NULL && pub != NULL);
    REQUIRE_EQ(tc_subscribe_wait(sub, topic, 1), 1);
    REQUIRE_EQ(tc_subscribe_wait(sub, end, 1), 1);

    CHECK_EQ(mqe_publish(&pub->client, topic, "one", 3, 1, false, NULL), MQE_OK);
    WAIT_UNTIL(tc_msg(sub, topic) != NULL, TC_WAIT_MS, tc_pump);
    REQUIRE(tc_payload_str(tc_msg(sub, topic), "one"));

    uint16_t id = 0;
    REQUIRE_EQ(mqe_unsubscribe(&sub->client, topic, &id), MQE_OK);
    CHECK(id != 0);
    WAIT_UNTIL(tc_event(sub, MQE_EVENT_UNSUBSCRIBED, id) != NULL, TC_WAIT_MS, tc_pump);
    REQUIRE(tc_event(sub, MQE_EVENT_UNSUBSCRIBED, id) != NULL);

    /* Same publisher, same QoS: the broker keeps order, so "end" arriving means "two"
     * would have arrived before it. */
    CHECK_EQ(mqe_publish(&pub->client, topic, "two", 3, 1, false, NULL), MQE_OK);
    CHECK_EQ(mqe_publish(&pub->client, end, "end", 3, 1, false, NULL), MQE_OK);
    WAIT_UNTIL(tc_msg(sub, end) != NULL, TC_WAIT_MS, tc_pump);
    CHECK(tc_payload_str(tc_msg(sub, end), "end"));
    tc_settle(SETTLE_MS);
    CHECK_EQ(tc_msg_count(sub, topic), 1);
}

static void case_retained_reaches_late_subscriber(void) {
    char topic[TC_TOPIC_MAX], filter[TC_TOPIC_MAX];
    tc_topic(topic, sizeof topic, "ret/t");
    tc_topic(filter, sizeof filter, "ret/#");
    tc_t *pub = tc_open("rtp", true);
    REQUIRE(pub != NULL);
    uint16_t id = 0;
    REQUIRE_EQ(mqe_publish(&pub->client, topic, "kept", 4, 1, true, &id), MQE_OK);
    WAIT_UNTIL(tc_event(pub, MQE_EVENT_PUBLISH_COMPLETE, id) != NULL, TC_WAIT_MS, tc_pump);
    REQUIRE(tc_event(pub, MQE_EVENT_PUBLISH_COMPLETE, id) != NULL);

    tc_t *late = tc_open("rtl", true);
    REQUIRE(late != NULL);
    REQUIRE_EQ(tc_subscribe_wait(late, filter, 1), 1);
    WAIT_UNTIL(late->msg_count >= 1, TC_WAIT_MS, tc_pump);
    REQUIRE_EQ(late->msg_count, 1);
    CHECK(tc_payload_str(&late->msgs[0], "kept"));
    CHECK(late->msgs[0].retain);
    CHECK_EQ(late->msgs[0].qos, 1);

    /* A live message to an existing subscription carries retain=0 (§3.3.1.3), even when
     * published with retain=1. An empty retained message (payload NULL, length 0) also
     * clears the retained one. */
    REQUIRE_EQ(mqe_publish(&pub->client, topic, NULL, 0, 1, true, NULL), MQE_OK);
    WAIT_UNTIL(late->msg_count >= 2, TC_WAIT_MS, tc_pump);
    REQUIRE_EQ(late->msg_count, 2);
    CHECK(!late->msgs[1].retain);
    CHECK_EQ(late->msgs[1].payload_len, 0);

    tc_t *later = tc_open("rtm", true);
    REQUIRE(later != NULL);
    REQUIRE_EQ(tc_subscribe_wait(later, filter, 1), 1);
    tc_settle(SETTLE_MS);
    CHECK_EQ(later->msg_count, 0);
}

/* ---- will ------------------------------------------------------------------------------- */

static tc_t *open_with_will(const char *role, const char *will_topic, const char *will_payload) {
    mqe_options_t opts;
    tc_t *tc = tc_alloc(role, &opts);
    if (tc == NULL) {
        return NULL;
    }
    opts.will_topic = will_topic;
    opts.will_payload = (const uint8_t *)will_payload;
    opts.will_payload_len = strlen(will_payload);
    opts.will_qos = 1;
    opts.will_retain = false;
    mqe_status_t st = tc_init(tc, &opts);
    if (st != MQE_OK) {
        h_fail(__FILE__, __LINE__, "mqe_init with a will: %s", mqe_strerror(st));
        return NULL;
    }
    return tc_connect_wait(tc) ? tc : NULL;
}

static void case_will_on_cut_socket(void) {
    char will_topic[TC_TOPIC_MAX], filter[TC_TOPIC_MAX];
    tc_topic(will_topic, sizeof will_topic, "will/cut");
    tc_topic(filter, sizeof filter, "will/#");
    tc_t *obs = tc_open("wio", true);
    REQUIRE(obs != NULL);
    REQUIRE_EQ(tc_subscribe_wait(obs, filter, 1), 1);
    tc_t *dying = open_with_will("wid", will_topic, "dying gasp");
    REQUIRE(dying != NULL);
    tc_settle(50);
    CHECK_EQ(obs->msg_count, 0);

    REQUIRE_EQ(port_posix_abort(&dying->port), 0); /* RST, no DISCONNECT */
    WAIT_UNTIL(tc_msg(obs, will_topic) != NULL, TC_WAIT_MS, tc_pump);
    const tc_msg_t *m = tc_msg(obs, will_topic);
    REQUIRE(m != NULL);
    CHECK(tc_payload_str(m, "dying gasp"));
    CHECK_EQ(m->qos, 1);
    CHECK(!m->retain);

    /* The client notices on its next read and reports the loss with a reason. */
    WAIT_UNTIL(tc_event(dying, MQE_EVENT_DISCONNECTED, -1) != NULL, TC_WAIT_MS, tc_pump);
    const tc_event_t *lost = tc_event(dying, MQE_EVENT_DISCONNECTED, -1);
    REQUIRE(lost != NULL);
    CHECK(lost->ev.reason != MQE_OK);
    CHECK_EQ(mqe_state(&dying->client), MQE_STATE_DISCONNECTED);
}

static void case_clean_disconnect_sends_no_will(void) {
    char will_topic[TC_TOPIC_MAX], filter[TC_TOPIC_MAX], end[TC_TOPIC_MAX];
    tc_topic(will_topic, sizeof will_topic, "nowill/w");
    tc_topic(filter, sizeof filter, "nowill/#");
    tc_topic(end, sizeof end, "nowill/end");
    tc_t *obs = tc_open("nwo", true);
    REQUIRE(obs != NULL);
    REQUIRE_EQ(tc_subscribe_wait(obs, filter, 1), 1);
    tc_t *polite = open_with_will("nwp", will_topic, "should not be sent");
    REQUIRE(polite != NULL);
    REQUIRE(tc_disconnect_wait(polite));
    const tc_event_t *down = tc_event(polite, MQE_EVENT_DISCONNECTED, -1);
    REQUIRE(down != NULL);
    CHECK_EQ(down->ev.reason, MQE_OK);

    CHECK_EQ(mqe_publish(&obs->client, end, "end", 3, 1, false, NULL), MQE_OK);
    WAIT_UNTIL(tc_msg(obs, end) != NULL, TC_WAIT_MS, tc_pump);
    REQUIRE(tc_msg(obs, end) != NULL);
    tc_settle(SETTLE_MS);
    CHECK(tc_msg(obs, will_topic) == NULL);
}

/* ---- persistent session ------------------------------------------------------------------- */

static void case_offline_messages_arrive_on_reconnect(void) {
    char filter[TC_TOPIC_MAX], t1[TC_TOPIC_MAX], t2[TC_TOPIC_MAX];
    tc_topic(filter, sizeof filter, "off/#");
    tc_topic(t1, sizeof t1, "off/q1");
    tc_topic(t2, sizeof t2, "off/q2");
    tc_t *sub = tc_open("ofs", false);
    REQUIRE(sub != NULL);
    const tc_event_t *first = tc_event(sub, MQE_EVENT_CONNECTED, -1);
    REQUIRE(first != NULL);
    CHECK(!first->ev.session_present); /* a fresh id has no session yet */
    REQUIRE_EQ(tc_subscribe_wait(sub, filter, 2), 2);
    REQUIRE(tc_disconnect_wait(sub));

    tc_t *pub = tc_open("ofp", true);
    REQUIRE(pub != NULL);
    uint16_t id1 = 0, id2 = 0;
    CHECK_EQ(mqe_publish(&pub->client, t1, "while away 1", 12, 1, false, &id1), MQE_OK);
    CHECK_EQ(mqe_publish(&pub->client, t2, "while away 2", 12, 2, false, &id2), MQE_OK);
    WAIT_UNTIL(tc_event(pub, MQE_EVENT_PUBLISH_COMPLETE, id1) != NULL &&
                   tc_event(pub, MQE_EVENT_PUBLISH_COMPLETE, id2) != NULL,
               TC_WAIT_MS, tc_pump);
    REQUIRE(tc_event(pub, MQE_EVENT_PUBLISH_COMPLETE, id2) != NULL);
    CHECK_EQ(sub->msg_count, 0);

    size_t events_before = sub->event_count;
    REQUIRE_EQ(mqe_connect(&sub->client), MQE_OK);
    WAIT_UNTIL(sub->event_count > events_before, TC_WAIT_MS, tc_pump);
    REQUIRE(sub->event_count > events_before);
    const tc_event_t *again = &sub->events[events_before];
    REQUIRE_EQ(again->ev.kind, MQE_EVENT_CONNECTED);
    CHECK(again->ev.session_present);
    WAIT_UNTIL(sub->msg_count >= 2, TC_WAIT_MS, tc_pump);
    tc_settle(SETTLE_MS);
    REQUIRE_EQ(sub->msg_count, 2);
    CHECK(tc_payload_str(tc_msg(sub, t1), "while away 1"));
    CHECK_EQ(tc_msg(sub, t1)->qos, 1);
    CHECK(tc_payload_str(tc_msg(sub, t2), "while away 2"));
    CHECK_EQ(tc_msg(sub, t2)->qos, 2);
    CHECK_EQ(tc_event_count(sub, MQE_EVENT_SESSION_LOST), 0);
}

/* Issue 12 §3: one message larger than a persistent subscriber's rx_buf is read past,
   acknowledged (QoS 2: PUBREC, then PUBCOMP) and reported; the messages after it arrive, and
   the broker does not send it again on the next connection. */
static void case_oversized_message_does_not_wedge_the_subscriber(void) {
    char topic[TC_TOPIC_MAX];
    tc_topic(topic, sizeof topic, "ovs/big");
    mqe_options_t o;
    tc_t *sub = tc_alloc("ovs", &o);
    REQUIRE(sub != NULL);
    o.clean_session = false;
    o.rx_buf_len = 256;
    REQUIRE_EQ(tc_init(sub, &o), MQE_OK);
    REQUIRE(tc_connect_wait(sub));
    REQUIRE_EQ(tc_subscribe_wait(sub, topic, 2), 2);

    tc_t *pub = tc_open("ovp", true);
    REQUIRE(pub != NULL);
    static uint8_t big[1500];
    memset(big, 'x', sizeof big);
    uint16_t big_id = 0;
    REQUIRE_EQ(mqe_publish(&pub->client, topic, big, sizeof big, 2, false, &big_id), MQE_OK);
    for (int i = 0; i < 3; i++) {
        char text[16]; /* room for any int: -O1 -fsanitize warns on 8 */
        snprintf(text, sizeof text, "n%d", i);
        REQUIRE_EQ(mqe_publish(&pub->client, topic, text, strlen(text), 1, false, NULL), MQE_OK);
    }
    WAIT_UNTIL(sub->msg_count >= 3, TC_WAIT_MS, tc_pump);
    tc_settle(SETTLE_MS);
    REQUIRE_EQ(sub->msg_count, 3);
    CHECK(tc_payload_str(&sub->msgs[0], "n0"));
    CHECK(tc_payload_str(&sub->msgs[1], "n1"));
    CHECK(tc_payload_str(&sub->msgs[2], "n2"));
    CHECK_EQ(tc_event_count(sub, MQE_EVENT_MESSAGE_TOO_LARGE), 1);
    const tc_event_t *ev = tc_event(sub, MQE_EVENT_MESSAGE_TOO_LARGE, -1);
    REQUIRE(ev != NULL);
    CHECK_EQ(ev->ev.qos, 2);
    CHECK_EQ(ev->ev.topic_len, strlen(topic));
    CHECK(ev->ev.topic != NULL && memcmp(ev->ev.topic, topic, strlen(topic)) == 0);
    /* fixed header 3 + topic length 2 + topic + packet id 2 + payload */
    CHECK_EQ(ev->ev.size, 3 + 2 + strlen(topic) + 2 + sizeof big);
    CHECK_EQ(mqe_oversized_count(&sub->client), 1);
    CHECK_EQ(tc_event_count(sub, MQE_EVENT_DISCONNECTED), 0);
    CHECK_EQ(mqe_state(&sub->client), MQE_STATE_CONNECTED);

    /* The broker holds nothing for the session any more: a new connection gets nothing. */
    REQUIRE(tc_disconnect_wait(sub));
    REQUIRE(tc_connect_wait(sub));
    tc_settle(SETTLE_MS);
    CHECK_EQ(tc_event_count(sub, MQE_EVENT_MESSAGE_TOO_LARGE), 1);
    CHECK_EQ(sub->msg_count, 3);
    CHECK_EQ(mqe_oversized_count(&sub->client), 1);
}

/* ---- argument and state checks ------------------------------------------------------------- */

static mqe_client_t never_initialised; /* zeroed storage: not a client */

static void case_argument_checks(void) {
    char topic[TC_TOPIC_MAX];
    tc_topic(topic, sizeof topic, "args/t");
    tc_t *a = tc_open("arg", true);
    REQUIRE(a != NULL);
    mqe_client_t *c = &a->client;
    uint16_t id = 0;

    CHECK_EQ(mqe_publish(NULL, topic, "x", 1, 0, false, NULL), MQE_ERR_NULL);
    CHECK_EQ(mqe_publish(c, NULL, "x", 1, 0, false, NULL), MQE_ERR_NULL);
    CHECK_EQ(mqe_publish(c, topic, NULL, 5, 1, false, &id), MQE_ERR_NULL);
    CHECK_EQ(mqe_publish(c, topic, "x", 1, 3, false, &id), MQE_ERR_QOS);
    CHECK_EQ(mqe_publish(c, "a/+/b", "x", 1, 0, false, NULL), MQE_ERR_TOPIC);
    CHECK_EQ(mqe_publish(c, "a/#", "x", 1, 0, false, NULL), MQE_ERR_TOPIC);
    CHECK_EQ(mqe_publish(c, "", "x", 1, 0, false, NULL), MQE_ERR_TOPIC);
    CHECK_EQ(mqe_publish(c, "bad/\xff\xfe", "x", 1, 0, false, NULL), MQE_ERR_UTF8);
    CHECK_EQ(mqe_publish(c, "bad/\xc3", "x", 1, 1, false, NULL), MQE_ERR_UTF8); /* truncated */
    static uint8_t big[sizeof a->store + 1];
    CHECK_EQ(mqe_publish(c, topic, big, sizeof big, 1, false, NULL), MQE_ERR_TOO_LARGE);

    CHECK_EQ(mqe_subscribe(NULL, topic, 0, &id), MQE_ERR_NULL);
    CHECK_EQ(mqe_subscribe(c, NULL, 0, &id), MQE_ERR_NULL);
    CHECK_EQ(mqe_subscribe(c, topic, 3, &id), MQE_ERR_QOS);
    CHECK_EQ(mqe_subscribe(c, "a/#/b", 0, &id), MQE_ERR_TOPIC);
    CHECK_EQ(mqe_subscribe(c, "a/b+", 0, &id), MQE_ERR_TOPIC);
    CHECK_EQ(mqe_subscribe(c, "bad/\xff", 0, &id), MQE_ERR_UTF8);
    const mqe_subscription_t one_bad[2] = {{topic, 1}, {"x/#/y", 1}};
    CHECK_EQ(mqe_subscribe_many(c, NULL, 1, &id), MQE_ERR_NULL);
    CHECK_EQ(mqe_subscribe_many(c, one_bad, 0, &id), MQE_ERR_ARG);
    CHECK_EQ(mqe_subscribe_many(c, one_bad, 2, &id), MQE_ERR_TOPIC);
    CHECK_EQ(mqe_unsubscribe(c, NULL, &id), MQE_ERR_NULL);
    CHECK_EQ(mqe_unsubscribe(c, "a/#/b", &id), MQE_ERR_TOPIC);

    /* None of that touched the connection: a valid empty QoS 0 message still goes out. */
    CHECK_EQ(mqe_state(c), MQE_STATE_CONNECTED);
    CHECK_EQ(mqe_publish(c, topic, NULL, 0, 0, false, NULL), MQE_OK);

    /* Storage that mqe_init never saw. */
    mqe_client_t *raw = &never_initialised;
    CHECK_EQ(mqe_publish(raw, topic, "x", 1, 0, false, NULL), MQE_ERR_NOT_INIT);
    CHECK_EQ(mqe_subscribe(raw, topic, 0, &id), MQE_ERR_NOT_INIT);
    CHECK_EQ(mqe_unsubscribe(raw, topic, &id), MQE_ERR_NOT_INIT);
    CHECK_EQ(mqe_connect(raw), MQE_ERR_NOT_INIT);
    CHECK_EQ(mqe_disconnect(raw), MQE_ERR_NOT_INIT);
    CHECK_EQ(mqe_poll(raw), MQE_ERR_NOT_INIT);
    CHECK_EQ(mqe_state(raw), MQE_ERR_NOT_INIT);
    CHECK_EQ(mqe_set_event_handler(raw, NULL, NULL), MQE_ERR_NOT_INIT);
    CHECK_EQ(mqe_state(NULL), MQE_ERR_NULL);
    CHECK_EQ(mqe_poll(NULL), MQE_ERR_NULL);
    CHECK_EQ(mqe_connect(NULL), MQE_ERR_NULL);

    /* Initialised but not connected. */
    mqe_options_t opts;
    tc_t *idle = tc_alloc("ari", &opts);
    REQUIRE(idle != NULL);
    REQUIRE_EQ(tc_init(idle, &opts), MQE_OK);
    CHECK_EQ(mqe_state(&idle->client), MQE_STATE_DISCONNECTED);
    CHECK_EQ(mqe_publish(&idle->client, topic, "x", 1, 0, false, NULL), MQE_ERR_STATE);
    CHECK_EQ(mqe_subscribe(&idle->client, topic, 1, &id), MQE_ERR_STATE);
    CHECK_EQ(mqe_unsubscribe(&idle->client, topic, &id), MQE_ERR_STATE);
}

/* Options the engine may check at mqe_init or, at the latest, at mqe_connect. */
static mqe_status_t init_then_connect(tc_t *tc, const mqe_options_t *opts) {
    mqe_status_t st = mqe_init(&tc->client, opts, &tc->transport, &tc_platform);
    return st == MQE_OK ? mqe_connect(&tc->client) : st;
}

static void case_init_checks(void) {
    mqe_options_t opts;
    tc_t *tc = tc_alloc("ini", &opts);
    REQUIRE(tc != NULL);
    mqe_client_t *c = &tc->client;
    CHECK_EQ(mqe_init(NULL, &opts, &tc->transport, &tc_platform), MQE_ERR_NULL);
    CHECK_EQ(mqe_init(c, NULL, &tc->transport, &tc_platform), MQE_ERR_NULL);
    CHECK_EQ(mqe_init(c, &opts, NULL, &tc_platform), MQE_ERR_NULL);
    CHECK_EQ(mqe_init(c, &opts, &tc->transport, NULL), MQE_ERR_NULL);

    mqe_options_t bad = opts;
    bad.rx_buf_len = MQE_MIN_BUFFER - 1;
    CHECK_EQ(mqe_init(c, &bad, &tc->transport, &tc_platform), MQE_ERR_BUFFER);
    bad = opts;
    bad.tx_buf_len = MQE_MIN_BUFFER - 1;
    CHECK_EQ(mqe_init(c, &bad, &tc->transport, &tc_platform), MQE_ERR_BUFFER);
    bad = opts;
    bad.rx_buf = NULL;
    CHECK_EQ(mqe_init(c, &bad, &tc->transport, &tc_platform), MQE_ERR_BUFFER);
    bad = opts;
    bad.tx_buf = NULL;
    CHECK_EQ(mqe_init(c, &bad, &tc->transport, &tc_platform), MQE_ERR_BUFFER);
    bad = opts;
    bad.will_topic = "will/+";
    bad.will_payload = (const uint8_t *)"x";
    bad.will_payload_len = 1;
    CHECK_EQ(init_then_connect(tc, &bad), MQE_ERR_TOPIC);
    bad = opts;
    bad.will_topic = "will/t";
    bad.will_qos = 3;
    CHECK_EQ(init_then_connect(tc, &bad), MQE_ERR_QOS);
    /* A password needs a username (§3.1.2.9). */
    bad = opts;
    bad.username = NULL; /* the fixture's login (MQE_BROKER_USER) when set */
    bad.password = (const uint8_t *)"secret";
    bad.password_len = 6;
    CHECK_EQ(init_then_connect(tc, &bad), MQE_ERR_PASSWORD_WITHOUT_USER);

    /* The minimum is enough (for a CONNECT without a login: a login adds its bytes). */
    mqe_options_t small = opts;
    small.username = NULL;
    small.password = NULL;
    small.password_len = 0;
    small.rx_buf_len = MQE_MIN_BUFFER;
    small.tx_buf_len = MQE_MIN_BUFFER;
    CHECK_EQ(mqe_init(c, &small, &tc->transport, &tc_platform), MQE_OK);
    CHECK_EQ(mqe_state(c), MQE_STATE_DISCONNECTED);
}

static void case_strerror_and_version(void) {
    /* Every code, from the header's own list: a new code cannot be left out. */
#define TC_CODE(code) code,
    static const mqe_status_t codes[] = {MQE_STATUS_LIST(TC_CODE)};
#undef TC_CODE
    CHECK_EQ(codes[0], MQE_OK);
    const size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        const char *text = mqe_strerror(codes[i]);
        if (text == NULL || text[0] == '\0' || strcmp(text, "unknown status") == 0) {
            h_fail(__FILE__, __LINE__, "mqe_strerror(%d) = \"%s\"", codes[i], text ? text : "(null)");
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            CHECK(codes[i] != codes[j]);
            if (strcmp(text, mqe_strerror(codes[j])) == 0) {
                h_fail(__FILE__, __LINE__, "codes %d and %d share \"%s\"", codes[i], codes[j], text);
            }
        }
    }
    CHECK(strcmp(mqe_strerror(-9999), "unknown status") == 0);
    CHECK(strcmp(mqe_strerror(1), "unknown status") == 0);
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", MQE_VERSION_MAJOR, MQE_VERSION_MINOR,
             MQE_VERSION_PATCH);
    CHECK(strcmp(mqe_version(), expected) == 0);
    CHECK(strcmp(mqe_version(), "0.1.0") == 0);
}

/* Callbacks may publish, but not re-enter mqe_poll or mqe_connect. */
static void case_callback_reentrancy(void) {
    char topic[TC_TOPIC_MAX], echo[TC_TOPIC_MAX];
    tc_topic(topic, sizeof topic, "re/in");
    tc_topic(echo, sizeof echo, "re/echo");
    tc_t *a = tc_open("rea", true);
    tc_t *obs = tc_open("reo", true);
    REQUIRE(a != NULL && obs != NULL);
    REQUIRE_EQ(tc_subscribe_wait(a, topic, 1), 1);
    REQUIRE_EQ(tc_subscribe_wait(obs, echo, 1), 1);
    a->probe.enabled = true;
    a->probe.echo_topic = echo;
    a->probe.poll_status = a->probe.connect_status = a->probe.publish_status = 1;
    CHECK_EQ(mqe_publish(&obs->client, topic, "ping", 4, 1, false, NULL), MQE_OK);
    WAIT_UNTIL(tc_msg(obs, echo) != NULL, TC_WAIT_MS, tc_pump);
    CHECK_EQ(a->probe.poll_status, MQE_ERR_REENTRANT);
    CHECK_EQ(a->probe.connect_status, MQE_ERR_REENTRANT);
    CHECK_EQ(a->probe.publish_status, MQE_OK);
    CHECK(tc_payload_str(tc_msg(obs, echo), "echo"));
    a->probe.enabled = false;
    CHECK_EQ(mqe_state(&a->client), MQE_STATE_CONNECTED);
}

/* ---- connection setup ------------------------------------------------------------------------ */

/* A host name goes through the port's resolve() (getaddrinfo) before the TCP connect. */
static void case_host_name_is_resolved(void) {
    mqe_options_t opts;
    tc_t *tc = tc_alloc("dns", &opts);
    REQUIRE(tc != NULL);
    opts.host = "localhost";
    REQUIRE_EQ(tc_init(tc, &opts), MQE_OK);
    REQUIRE(tc_connect_wait(tc));
    CHECK_EQ(mqe_state(&tc->client), MQE_STATE_CONNECTED);
}

/* Nothing listens on the port: the attempt ends with a transport reason, the socket is
 * closed (checked by the teardown) and the client can be used again. */
/* ---- topics and filters as pointer + length ------------------------------------------------- */

/* The responder answers "ping" with "pong" on the topic it received, straight from the
 * message: mqe_publish_n takes msg->topic and msg->topic_len, no copy, no NUL. */
static mqe_status_t reply_status = MQE_ERR_STATE;
static size_t replies;

static void reply_on_received_topic(void *user, const mqe_message_t *msg) {
    tc_t *tc = user;
    if (msg->payload_len == 4 && memcmp(msg->payload, "ping", 4) == 0) {
        reply_status = mqe_publish_n(&tc->client, msg->topic, msg->topic_len, "pong", 4,
                                     MQE_QOS_1, false, NULL);
        replies++;
    }
}

static void case_reply_on_received_topic_without_a_copy(void) {
    char filter[TC_TOPIC_MAX + 8], topic[TC_TOPIC_MAX];
    tc_topic(filter, sizeof filter, "req/#");
    tc_topic(topic, sizeof topic, "req/dev7");
    size_t filter_len = strlen(filter);
    memcpy(filter + filter_len, "XYZ", 4); /* bytes past filter_len are not the filter's */
    tc_t *responder = tc_open("rsp", true);
    tc_t *asker = tc_open("ask", true);
    REQUIRE(responder != NULL && asker != NULL);
    reply_status = MQE_ERR_STATE;
    replies = 0;
    REQUIRE_EQ(mqe_set_message_handler(&responder->client, reply_on_received_topic, responder),
               MQE_OK);
    uint16_t id = 0;
    REQUIRE_EQ(mqe_subscribe_n(&responder->client, filter, filter_len, MQE_QOS_1, &id), MQE_OK);
    WAIT_UNTIL(tc_event(responder, MQE_EVENT_SUBSCRIBED, id) != NULL, TC_WAIT_MS, tc_pump);
    const tc_event_t *suback = tc_event(responder, MQE_EVENT_SUBSCRIBED, id);
    REQUIRE(suback != NULL);
    CHECK_EQ(suback->ev.granted[0], MQE_QOS_1);
    /* The asker listens on the exact topic it asks on, as a NUL-less slice too. */
    REQUIRE_EQ(mqe_subscribe_n(&asker->client, topic, strlen(topic), MQE_QOS_1, &id), MQE_OK);
    WAIT_UNTIL(tc_event(asker, MQE_EVENT_SUBSCRIBED, id) != NULL, TC_WAIT_MS, tc_pump);
    CHECK_EQ(mqe_publish(&asker->client, topic, "ping", 4, MQE_QOS_1, false, NULL), MQE_OK);
    WAIT_UNTIL(tc_msg_count(asker, topic) >= 2, TC_WAIT_MS, tc_pump);
    tc_settle(200);
    CHECK_EQ(replies, 1);
    CHECK_EQ(reply_status, MQE_OK);
    REQUIRE_EQ(asker->msg_count, 2);
    CHECK(tc_payload_str(&asker->msgs[0], "ping"));
    CHECK(tc_payload_str(&asker->msgs[1], "pong"));
    CHECK_EQ(asker->msgs[1].topic_len, strlen(topic));
    CHECK(strcmp(asker->msgs[1].topic, topic) == 0);
    /* The slice rules: empty, embedded NUL, wildcard in a topic name. */
    CHECK_EQ(mqe_publish_n(&asker->client, topic, 0, "x", 1, MQE_QOS_0, false, NULL),
             MQE_ERR_TOPIC);
    CHECK_EQ(mqe_publish_n(&asker->client, "a\0b", 3, "x", 1, MQE_QOS_0, false, NULL),
             MQE_ERR_UTF8);
    CHECK_EQ(mqe_publish_n(&asker->client, "a/+", 3, "x", 1, MQE_QOS_0, false, NULL),
             MQE_ERR_TOPIC);
    CHECK_EQ(mqe_subscribe_n(&asker->client, "a/#/b", 5, MQE_QOS_0, NULL), MQE_ERR_TOPIC);
}

/* The warning lines the library logged (refused_tcp_connect's log hook). */
static char refused_log[512];

static void capture_warnings(void *ctx, int32_t level, const char *msg) {
    (void)ctx;
    if (level == MQE_LOG_WARN && strlen(refused_log) + strlen(msg) + 2 < sizeof refused_log) {
        strcat(refused_log, msg);
        strcat(refused_log, "\n");
    }
}

/* The port turns ECONNREFUSED into MQE_IO_ERR_REFUSED: the event, the poll and the log line
 * say "connection refused", not a bare transport error. */
static void case_refused_tcp_connect(void) {
    int32_t unused_port = tc_unused_port();
    REQUIRE(unused_port > 0);
    mqe_options_t opts;
    tc_t *tc = tc_alloc("ref", &opts);
    REQUIRE(tc != NULL);
    opts.port = (uint16_t)unused_port;
    mqe_platform_t usual = tc_platform;
    tc_platform.log = capture_warnings; /* mqe_init copies the platform */
    refused_log[0] = '\0';
    mqe_status_t st = tc_init(tc, &opts);
    tc_platform = usual;
    REQUIRE_EQ(st, MQE_OK);
    REQUIRE_EQ(mqe_connect(&tc->client), MQE_OK);
    WAIT_UNTIL(tc->event_count > 0, TC_WAIT_MS, tc_pump);
    REQUIRE_EQ(tc->event_count, 1);
    CHECK_EQ(tc->events[0].ev.kind, MQE_EVENT_DISCONNECTED);
    CHECK_EQ(tc->events[0].ev.reason, MQE_ERR_CONN_REFUSED);
    CHECK(strcmp(mqe_strerror(tc->events[0].ev.reason), "connection refused") == 0);
    if (strcmp(refused_log, "disconnected: connection refused (-70)\n") != 0) {
        h_fail(__FILE__, __LINE__, "logged \"%s\"", refused_log);
    }
    CHECK_EQ(mqe_state(&tc->client), MQE_STATE_DISCONNECTED);
    CHECK_EQ(port_posix_open_sockets(), 0);
    CHECK_EQ(mqe_connect(&tc->client), MQE_OK); /* a new attempt starts */
    WAIT_UNTIL(tc->event_count > 1, TC_WAIT_MS, tc_pump);
    CHECK_EQ(tc->event_count, 2);
}

/* ---- time ------------------------------------------------------------------------------------ */

/* The tick starts 1.5 s before 2^32 and wraps mid-session: keep-alive pings keep working,
 * the deadlines stay short, no timeout fires early and QoS 1/2 still complete. */
static void case_tick_wraps_mid_session(void) {
    char topic[TC_TOPIC_MAX];
    tc_topic(topic, sizeof topic, "wrap/t");
    uint32_t offset = port_posix_tick_offset();
    uint32_t now = port_posix_now_ms();
    port_posix_set_tick_offset(offset + (UINT32_MAX - 1500u - now)); /* now: 2^32 - 1.5 s */

    mqe_options_t opts;
    tc_t *a = tc_alloc("wra", &opts);
    REQUIRE(a != NULL);
    opts.keep_alive_s = 1;
    REQUIRE_EQ(tc_init(a, &opts), MQE_OK);
    REQUIRE(tc_connect_wait(a));
    tc_t *b = tc_open("wrb", true);
    REQUIRE(b != NULL);
    REQUIRE_EQ(tc_subscribe_wait(a, topic, 2), 2);

    CHECK(port_posix_now_ms() > UINT32_MAX - 1500u); /* not wrapped yet */
    CHECK_EQ(mqe_publish(&b->client, topic, "before", 6, 2, false, NULL), MQE_OK);

    /* Idle across the wrap and a few keep-alive periods. */
    uint32_t longest_sleep = 0;
    uint64_t until = h_real_ms() + 3500u;
    while (h_real_ms() < until) {
        tc_pump();
        uint32_t d = mqe_next_deadline_ms(&a->client);
        if (d > longest_sleep) {
            longest_sleep = d;
        }
    }
    CHECK(port_posix_now_ms() < 10000u); /* wrapped */
    CHECK(longest_sleep <= 1000u);        /* never "sleep for 49 days" */
    CHECK(tc_event_count(a, MQE_EVENT_PING_RESPONSE) >= 2);
    CHECK_EQ(tc_event_count(a, MQE_EVENT_DISCONNECTED), 0);
    CHECK_EQ(mqe_state(&a->client), MQE_STATE_CONNECTED);

    uint16_t id = 0;
    CHECK_EQ(mqe_publish(&b->client, topic, "after", 5, 1, false, &id), MQE_OK);
    WAIT_UNTIL(a->msg_count >= 2 && tc_event(b, MQE_EVENT_PUBLISH_COMPLETE, id) != NULL,
               TC_WAIT_MS, tc_pump);
    REQUIRE_EQ(a->msg_count, 2);
    CHECK(tc_payload_str(&a->msgs[0], "before"));
    CHECK(tc_payload_str(&a->msgs[1], "after"));
    CHECK(tc_event(b, MQE_EVENT_PUBLISH_COMPLETE, id) != NULL);
}

static uint32_t run_tick_offset;

static void teardown(void) {
    tc_teardown();
    port_posix_set_tick_offset(run_tick_offset); /* undo a case's own clock */
}

int main(int argc, char **argv) {
    static const h_case_t cases[] = {
        {"qos0_round_trip", case_qos0_round_trip},
        {"qos1_round_trip", case_qos1_round_trip},
        {"qos2_round_trip", case_qos2_round_trip},
        {"full_window_is_back_pressure", case_full_window_is_back_pressure},
        {"publish_before_connect_is_sent_after", case_publish_before_connect_is_sent_after},
        {"subscribe_many_wildcards", case_subscribe_many_wildcards},
        {"unsubscribe_stops_delivery", case_unsubscribe_stops_delivery},
        {"retained_reaches_late_subscriber", case_retained_reaches_late_subscriber},
        {"will_on_cut_socket", case_will_on_cut_socket},
        {"clean_disconnect_sends_no_will", case_clean_disconnect_sends_no_will},
        {"offline_messages_arrive_on_reconnect", case_offline_messages_arrive_on_reconnect},
        {"oversized_message_does_not_wedge_the_subscriber",
         case_oversized_message_does_not_wedge_the_subscriber},
        {"argument_checks", case_argument_checks},
        {"init_checks", case_init_checks},
        {"strerror_and_version", case_strerror_and_version},
        {"callback_reentrancy", case_callback_reentrancy},
        {"host_name_is_resolved", case_host_name_is_resolved},
        {"refused_tcp_connect", case_refused_tcp_connect},
        {"reply_on_received_topic_without_a_copy", case_reply_on_received_topic_without_a_copy},
        {"tick_wraps_mid_session", case_tick_wraps_mid_session},
    };
    setvbuf(stdout, NULL, _IOLBF, 0);
    tc_setup();
    run_tick_offset = port_posix_tick_offset();
    return h_run(cases, (int)(sizeof cases / sizeof cases[0]), argc > 1 ? argv[1] : NULL, teardown);
}
