/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* What only the AT port has to prove, through scripts/modem_emulator.py and a real
 * mosquitto (`make at-test`): a cut with acknowledgements still in the network, resumed
 * with the session and DUP re-sends; and the AT bytes one published message costs, beside
 * the modem's own AT+QMTPUBEX. Optional argv[1]: run only the cases whose name contains it. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "at_host.h"
#include "fixture.h"
#include "harness.h"

#define BYTES_MESSAGES 20u
#define BYTES_PAYLOAD 32u

static long modem_stat(const char *key) {
    char reply[512];
    if (at_host_ctl("stats", reply, sizeof reply) != 0) {
        return -1;
    }
    return at_host_stat(reply, key);
}

static tc_t *open_persistent(const char *role) {
    mqe_options_t opts;
    tc_t *tc = tc_alloc(role, &opts);
    if (tc == NULL) {
        return NULL;
    }
    opts.clean_session = false;
    opts.reconnect = true;
    opts.reconnect_min_ms = 50;
    opts.reconnect_max_ms = 200;
    if (tc_init(tc, &opts) != MQE_OK) {
        return NULL;
    }
    return tc_connect_wait(tc) ? tc : NULL;
}

/* The PUBLISHes reach the broker, their PUBACK / PUBREC are held in the network, the TCP
 * sockets are dropped: the publisher reconnects with its session and re-sends both with
 * DUP; the subscriber (its deliveries were held too) gets QoS 2 exactly once. */
static void case_cut_then_resume_with_dup(void) {
    char topic[TC_TOPIC_MAX];
    tc_topic(topic, sizeof topic, "at/resume");
    tc_t *sub = open_persistent("ars");
    tc_t *pub = open_persistent("arp");
    REQUIRE(sub != NULL && pub != NULL);
    REQUIRE_EQ(tc_subscribe_wait(sub, topic, 2), 2);
    long published = modem_stat("publish");
    long dups = modem_stat("dup_publish");
    REQUIRE(published >= 0 && dups >= 0);

    REQUIRE_EQ(at_host_ctl("hold", NULL, 0), 0);
    uint16_t id1 = 0, id2 = 0;
    REQUIRE_EQ(mqe_publish(&pub->client, topic, "q1", 2, 1, false, &id1), MQE_OK);
    REQUIRE_EQ(mqe_publish(&pub->client, topic, "q2", 2, 2, false, &id2), MQE_OK);
    WAIT_UNTIL(modem_stat("publish") >= published + 2, TC_WAIT_MS, tc_pump);
    REQUIRE_EQ(modem_stat("publish"), published + 2);
    tc_settle(300); /* the broker answers and forwards; the modem holds it all */
    CHECK_EQ(tc_event_count(pub, MQE_EVENT_PUBLISH_COMPLETE), 0);
    CHECK_EQ(sub->msg_count, 0);

    REQUIRE_EQ(at_host_ctl("cut", NULL, 0), 0);
    REQUIRE_EQ(at_host_ctl("release", NULL, 0), 0);
    WAIT_UNTIL(tc_event(pub, MQE_EVENT_PUBLISH_COMPLETE, id1) != NULL &&
                   tc_event(pub, MQE_EVENT_PUBLISH_COMPLETE, id2) != NULL &&
                   tc_msg_count(sub, topic) >= 2,
               3 * TC_WAIT_MS, tc_pump);
    tc_settle(500);
    CHECK(tc_event(pub, MQE_EVENT_PUBLISH_COMPLETE, id1) != NULL);
    CHECK(tc_event(pub, MQE_EVENT_PUBLISH_COMPLETE, id2) != NULL);
    CHECK_EQ(tc_event_count(pub, MQE_EVENT_CONNECTED), 2);
    const tc_event_t *again = NULL;
    for (size_t i = 0; i < pub->event_count; i++) {
        if (pub->events[i].ev.kind == MQE_EVENT_CONNECTED) {
            again = &pub->events[i]; /* the last one: the reconnect */
        }
    }
    CHECK(again != NULL && again->ev.session_present);
    CHECK(modem_stat("dup_publish") >= dups + 2); /* both re-sent with DUP */
    size_t q1 = 0, q2 = 0;
    for (size_t i = 0; i < sub->msg_count; i++) {
        q1 += tc_payload_str(&sub->msgs[i], "q1");
        q2 += tc_payload_str(&sub->msgs[i], "q2");
    }
    CHECK(q1 >= 1); /* at least once */
    CHECK_EQ(q2, 1); /* exactly once */
    CHECK(tc_event_count(sub, MQE_EVENT_CONNECTED) >= 2);
}

#if defined(MQE_FEATURE_LINK)
static tc_t *linked; /* the client the modem's link events go to */

/* As a firmware's loop: poll, then hand the port's link events to the library (never from
 * inside the transport call that noticed them). */
static void pump_with_link(void) {
    tc_pump();
    qat_modem_t *m = at_host_modem();
    qat_poll(m);
    int up;
    while ((up = qat_take_link_event(m)) >= 0) {
        if (linked != NULL) {
            (void)(up ? mqe_link_up(&linked->client) : mqe_link_down(&linked->client));
        }
    }
}

static size_t event_index(const tc_t *tc, mqe_event_kind_t kind, size_t from) {
    for (size_t i = from; i < tc->event_count; i++) {
        if (tc->events[i].ev.kind == kind) {
            return i;
        }
    }
    return SIZE_MAX;
}

/* The network drops the PDP context: the port reports the link down (mqe_link_down: no
 * attempt on a dead bearer), re-activates the context by itself, reports it up
 * (mqe_link_up: the attempt starts at once), and the client resumes its session. */
static void case_pdp_deactivation_link_down_up(void) {
    qat_modem_t *m = at_host_modem();
    REQUIRE(m != NULL);
    tc_t *pub = open_persistent("apd");
    REQUIRE(pub != NULL);
    while (qat_take_link_event(m) >= 0) {
    }
    linked = pub;
    int down = at_host_link_events(0), up = at_host_link_events(1);
    REQUIRE_EQ(at_host_ctl("pdp", NULL, 0), 0);
    WAIT_UNTIL(tc_event_count(pub, MQE_EVENT_CONNECTED) >= 2, 3 * TC_WAIT_MS, pump_with_link);
    linked = NULL;
    CHECK_EQ(tc_event_count(pub, MQE_EVENT_CONNECTED), 2);
    CHECK_EQ(at_host_link_events(0), down + 1);
    CHECK_EQ(at_host_link_events(1), up + 1);
    size_t first = event_index(pub, MQE_EVENT_CONNECTED, 0);
    size_t link_down = event_index(pub, MQE_EVENT_LINK_DOWN, 0);
    size_t link_up = event_index(pub, MQE_EVENT_LINK_UP, 0);
    size_t again = event_index(pub, MQE_EVENT_CONNECTED, first + 1);
    CHECK(link_down != SIZE_MAX && link_up != SIZE_MAX && again != SIZE_MAX);
    CHECK(first < link_down && link_down < link_up && link_up < again);
    const tc_event_t *lost = tc_event(pub, MQE_EVENT_DISCONNECTED, -1);
    CHECK(lost != NULL && (lost->ev.reason == MQE_ERR_NET_DOWN || lost->ev.reason == MQE_ERR_LINK_DOWN));
    CHECK(pub->events[again].ev.session_present);
}
#endif

/* Nothing listens: +QIOPEN: <id>,566 is a transport failure (the modem cannot tell a
 * refusal from other failures); the connectID is closed in the modem and free again. */
static void case_failed_tcp_connect(void) {
    int32_t unused_port = tc_unused_port();
    REQUIRE(unused_port > 0);
    mqe_options_t opts;
    tc_t *tc = tc_alloc("afc", &opts);
    REQUIRE(tc != NULL);
    opts.port = (uint16_t)unused_port;
    REQUIRE_EQ(tc_init(tc, &opts), MQE_OK);
    REQUIRE_EQ(mqe_connect(&tc->client), MQE_OK);
    WAIT_UNTIL(tc->event_count > 0, TC_WAIT_MS, tc_pump);
    REQUIRE_EQ(tc->event_count, 1);
    CHECK_EQ(tc->events[0].ev.kind, MQE_EVENT_DISCONNECTED);
    CHECK_EQ(tc->events[0].ev.reason, MQE_ERR_TRANSPORT);
    CHECK_EQ(mqe_state(&tc->client), MQE_STATE_DISCONNECTED);
    CHECK_EQ(port_posix_open_sockets(), 0); /* AT+QICLOSE answered */
}

static size_t digits(uint32_t v) {
    size_t n = 1;
    while (v >= 10u) {
        v /= 10u;
        n++;
    }
    return n;
}

/* AT+QMTPUBEX=<client_idx>,<msgID>,<qos>,<retain>,"<topic>",<length>\r, '>' then the
 * payload, OK, then URC +QMTPUB: <client_idx>,<msgID>,<result> (echo off), from the
 * MQTT application note's command syntax. msgID is 0 at QoS 0. */
static void qmtpubex_bytes(size_t topic_len, uint16_t msg_id, uint8_t qos, size_t *tx, size_t *rx) {
    *tx = strlen("AT+QMTPUBEX=0,") + digits(msg_id) + strlen(",q,0,\"") + topic_len +
          strlen("\",") + digits(BYTES_PAYLOAD) + 1 + BYTES_PAYLOAD;
    (void)qos;
    *rx = strlen("\r\n> ") + strlen("\r\nOK\r\n") + strlen("\r\n+QMTPUB: 0,") + digits(msg_id) +
          strlen(",0\r\n");
}

/* One message at a time (as AT+QMTPUBEX goes), 32-byte payload, per QoS: the AT bytes
 * written and read through the port per message, acknowledgements included. */
static void case_at_bytes_per_message(void) {
    char topic[TC_TOPIC_MAX];
    tc_topic(topic, sizeof topic, "at/bytes");
    qat_modem_t *m = at_host_modem();
    tc_t *pub = tc_open("abp", true);
    REQUIRE(m != NULL && pub != NULL);
    uint8_t payload[BYTES_PAYLOAD];
    memset(payload, 'x', sizeof payload);
    for (uint8_t qos = 0; qos <= 2; qos++) {
        tc_settle(200);
        uint32_t tx0 = qat_tx_bytes(m), rx0 = qat_rx_bytes(m);
        size_t ref_tx = 0, ref_rx = 0;
        for (uint32_t n = 0; n < BYTES_MESSAGES; n++) {
            long before = modem_stat("publish");
            size_t done = tc_event_count(pub, MQE_EVENT_PUBLISH_COMPLETE);
            uint16_t id = 0;
            REQUIRE_EQ(mqe_publish(&pub->client, topic, payload, sizeof payload, qos, false, &id), MQE_OK);
            if (qos == 0) {
                WAIT_UNTIL(modem_stat("publish") > before, TC_WAIT_MS, tc_pump);
                tc_settle(30); /* SEND OK */
            } else {
                WAIT_UNTIL(tc_event_count(pub, MQE_EVENT_PUBLISH_COMPLETE) > done, TC_WAIT_MS, tc_pump);
                tc_settle(30);
            }
            size_t t = 0, r = 0;
            qmtpubex_bytes(strlen(topic), id, qos, &t, &r);
            ref_tx += t;
            ref_rx += r;
        }
        double tx = (double)(qat_tx_bytes(m) - tx0) / BYTES_MESSAGES;
        double rx = (double)(qat_rx_bytes(m) - rx0) / BYTES_MESSAGES;
        printf("at-bytes qos %u, topic %zu B, payload %u B: quectel_at %.1f to the modem + %.1f "
               "from it = %.1f; AT+QMTPUBEX %.1f + %.1f = %.1f\n",
               qos, strlen(topic), BYTES_PAYLOAD, tx, rx, tx + rx, (double)ref_tx / BYTES_MESSAGES,
               (double)ref_rx / BYTES_MESSAGES, (double)(ref_tx + ref_rx) / BYTES_MESSAGES);
        CHECK(tx > 0 && rx > 0);
    }
    /* The same messages back to back: the engine's window lets one AT+QISEND carry several
     * packets and one AT+QIRD several acknowledgements (AT+QMTPUBEX takes one message each). */
    for (uint8_t qos = 0; qos <= 2; qos++) {
        tc_settle(200);
        uint32_t tx0 = qat_tx_bytes(m), rx0 = qat_rx_bytes(m);
        long before = modem_stat("publish");
        size_t done = tc_event_count(pub, MQE_EVENT_PUBLISH_COMPLETE);
        for (uint32_t n = 0; n < BYTES_MESSAGES; n++) {
            mqe_status_t st = MQE_ERR_FULL;
            uint64_t until = h_real_ms() + TC_WAIT_MS;
            while (st == MQE_ERR_FULL && h_real_ms() < until) {
                st = mqe_publish(&pub->client, topic, payload, sizeof payload, qos, false, NULL);
                if (st == MQE_ERR_FULL) {
                    tc_pump(); /* back-pressure: the window is full */
                }
            }
            REQUIRE_EQ(st, MQE_OK);
        }
        if (qos == 0) {
            WAIT_UNTIL(modem_stat("publish") >= before + BYTES_MESSAGES, TC_WAIT_MS, tc_pump);
        } else {
            WAIT_UNTIL(tc_event_count(pub, MQE_EVENT_PUBLISH_COMPLETE) >= done + BYTES_MESSAGES,
                       TC_WAIT_MS, tc_pump);
        }
        tc_settle(30);
        CHECK_EQ(modem_stat("publish"), before + BYTES_MESSAGES);
        double tx = (double)(qat_tx_bytes(m) - tx0) / BYTES_MESSAGES;
        double rx = (double)(qat_rx_bytes(m) - rx0) / BYTES_MESSAGES;
        printf("at-bytes qos %u, %u back to back: quectel_at %.1f to the modem + %.1f from it = %.1f\n",
               qos, BYTES_MESSAGES, tx, rx, tx + rx);
    }
}

static void teardown(void) {
    (void)at_host_ctl("release", NULL, 0);
    tc_teardown();
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    tc_setup();
    static const h_case_t cases[] = {
        {"cut_then_resume_with_dup", case_cut_then_resume_with_dup},
#if defined(MQE_FEATURE_LINK)
        {"pdp_deactivation_link_down_up", case_pdp_deactivation_link_down_up},
#endif
        {"failed_tcp_connect", case_failed_tcp_connect},
        {"at_bytes_per_message", case_at_bytes_per_message},
    };
    return h_run(cases, (int)(sizeof cases / sizeof cases[0]), argc > 1 ? argv[1] : NULL, teardown);
}
