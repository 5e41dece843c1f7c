/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Real-broker soak: a publisher and a subscriber, both mqtt-engine clients with persistent
 * sessions and automatic reconnect, talk to mosquitto through scripts/fault_proxy.py, which
 * cuts their connections at random points. The publisher sends Q1 QoS 1 and Q2 QoS 2
 * messages (payload: a sequence number per topic); the subscriber counts what arrives.
 *
 *   soak Q1 Q2 TIMEOUT_S
 *
 * The publisher connects to MQE_BROKER_HOST:MQE_BROKER_PORT, the subscriber to
 * MQE_BROKER_HOST:MQE_SUB_PORT when set (its own proxy, with its own cut rate), else the same;
 * both log in as MQE_BROKER_USER / MQE_BROKER_PASS when set.
 *
 * Prints "soak: progress N" lines (scripts/soak.py restarts the broker mid-stream on them) and
 * a final "soak: result ..." line. Exits 0 only if no QoS 1 or QoS 2 message was lost and no
 * QoS 2 message arrived twice. Every loop is bounded by TIMEOUT_S. */
#define _POSIX_C_SOURCE 200809L /* POSIX.1-2008 under -std=c99; must precede every include */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mqtt_engine.h"
#include "port_posix.h"

#define MAX_MESSAGES 1000000u
#define RECONNECT_MIN_MS 20u
#define RECONNECT_MAX_MS 500u
#define PROGRESS_EVERY 500u
#define DRAIN_GRACE_MS 20000u /* after the last PUBACK/PUBCOMP, wait this long for the rest */

typedef struct {
    mqe_client_t client;
    uint8_t rx[2048];
    uint8_t tx[2048];
    uint8_t store[8192];
    port_posix_t port;
    mqe_transport_t transport;
    char id[48];
    uint32_t connects;
    uint32_t reconnecting;
    bool subscribed;
} soak_client_t;

typedef struct {
    uint32_t total;
    uint8_t *count; /* deliveries per sequence number (1-based), saturating at 255 */
    uint32_t distinct;
    uint32_t duplicates;
    uint32_t reordered; /* first deliveries that came after a later sequence number */
    uint32_t last_first;
} topic_stats_t;

static soak_client_t pub, sub;
static mqe_platform_t platform;
static topic_stats_t stats[3]; /* [1] QoS 1, [2] QoS 2 */
static char topics[3][96];
static uint32_t completed;
static uint32_t unknown_messages;
/* Reported degradations (docs/DELIVERY.md): each can explain a loss or a duplicate. */
static uint32_t abandoned, evicted_ids, rx_full;

static void sleep_ms(uint32_t ms) {
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000u), .tv_nsec = (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint32_t parse_seq(const uint8_t *p, size_t len) {
    uint32_t v = 0;
    if (len == 0 || len > 9) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return 0;
        }
        v = v * 10u + (uint32_t)(p[i] - '0');
    }
    return v;
}

static void on_message(void *user, const mqe_message_t *m) {
    (void)user;
    int level = 0;
    for (int q = 1; q <= 2; q++) {
        if (m->topic_len == strlen(topics[q]) && memcmp(m->topic, topics[q], m->topic_len) == 0) {
            level = q;
        }
    }
    uint32_t seq = parse_seq(m->payload, m->payload_len);
    if (level == 0 || seq == 0 || seq > stats[level].total) {
        unknown_messages++;
        return;
    }
    topic_stats_t *s = &stats[level];
    if (s->count[seq] == 0) {
        s->distinct++;
        if (seq < s->last_first) {
            s->reordered++;
        } else {
            s->last_first = seq;
        }
    } else {
        s->duplicates++;
    }
    if (s->count[seq] < 255) {
        s->count[seq]++;
    }
}

static void on_event(void *user, const mqe_event_t *e) {
    soak_client_t *c = user;
    switch (e->kind) {
    case MQE_EVENT_CONNECTED:
        c->connects++;
        break;
    case MQE_EVENT_RECONNECTING:
        c->reconnecting++;
        break;
    case MQE_EVENT_DISCONNECTED:
        if (getenv("SOAK_DEBUG") != NULL) {
            fprintf(stderr, "%s: %s\n", c->id, mqe_strerror(e->reason));
        }
        if (e->reason == MQE_ERR_RX_QOS2_FULL) {
            rx_full++;
        }
        break;
    case MQE_EVENT_RX_QOS2_EVICTED:
        evicted_ids += e->dropped;
        break;
    case MQE_EVENT_PUBLISH_COMPLETE:
        if (c == &pub) {
            completed++;
            abandoned += e->abandoned ? 1u : 0u;
        }
        break;
    case MQE_EVENT_SUBSCRIBED:
        if (c == &sub && e->granted_count == 2 && e->granted[0] == 1 && e->granted[1] == 2) {
            c->subscribed = true;
        }
        break;
    default:
        break;
    }
}

static bool start(soak_client_t *c, const char *host, uint16_t port, const char *role, uint32_t run) {
    snprintf(c->id, sizeof c->id, "soak-%08x-%s", (unsigned)run, role);
    mqe_options_t o = mqe_options_default();
    o.host = host;
    o.port = port;
    o.client_id = c->id;
    o.username = getenv("MQE_BROKER_USER");
    const char *pass = o.username != NULL ? getenv("MQE_BROKER_PASS") : NULL;
    if (pass != NULL) {
        o.password = (const uint8_t *)pass;
        o.password_len = strlen(pass);
    }
    o.clean_session = false;
    o.keep_alive_s = 10;
    o.connect_timeout_ms = 3000;
    o.ack_timeout_ms = 5000;
    o.reconnect = true;
    o.reconnect_min_ms = RECONNECT_MIN_MS;
    o.reconnect_max_ms = RECONNECT_MAX_MS;
    o.rx_buf = c->rx;
    o.rx_buf_len = sizeof c->rx;
    o.tx_buf = c->tx;
    o.tx_buf_len = sizeof c->tx;
    o.store_buf = c->store;
    o.store_buf_len = sizeof c->store;
    port_posix_transport(&c->transport, &c->port);
    mqe_status_t st = mqe_init(&c->client, &o, &c->transport, &platform);
    if (st == MQE_OK) {
        st = mqe_set_event_handler(&c->client, on_event, c);
    }
    if (st == MQE_OK && c == &sub) {
        st = mqe_set_message_handler(&c->client, on_message, NULL);
    }
    if (st == MQE_OK) {
        st = mqe_connect(&c->client);
    }
    if (st != MQE_OK) {
        fprintf(stderr, "soak: %s: %s\n", role, mqe_strerror(st));
        return false;
    }
    return true;
}

static void poll_both(void) {
    mqe_poll(&pub.client);
    mqe_poll(&sub.client);
}

static uint32_t elapsed_ms(uint32_t since) {
    return port_posix_now_ms() - since;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s Q1 Q2 TIMEOUT_S\n", argv[0]);
        return 2;
    }
    uint32_t totals[3] = {0, (uint32_t)strtoul(argv[1], NULL, 10), (uint32_t)strtoul(argv[2], NULL, 10)};
    uint32_t timeout_ms = (uint32_t)strtoul(argv[3], NULL, 10) * 1000u;
    const char *host = getenv("MQE_BROKER_HOST");
    const char *port_text = getenv("MQE_BROKER_PORT");
    if (host == NULL || port_text == NULL || totals[1] > MAX_MESSAGES || totals[2] > MAX_MESSAGES) {
        fprintf(stderr, "soak: set MQE_BROKER_HOST/PORT; at most %u messages per QoS\n", MAX_MESSAGES);
        return 2;
    }
    uint16_t port = (uint16_t)strtoul(port_text, NULL, 10);
    const char *sub_port_text = getenv("MQE_SUB_PORT");
    uint16_t sub_port = sub_port_text != NULL ? (uint16_t)strtoul(sub_port_text, NULL, 10) : port;
    port_posix_platform(&platform);
    uint32_t run = platform.random(NULL);
    for (int q = 1; q <= 2; q++) {
        stats[q].total = totals[q];
        stats[q].count = calloc((size_t)totals[q] + 1u, 1);
        if (stats[q].count == NULL) {
            return 2;
        }
        snprintf(topics[q], sizeof topics[q], "mqe-soak/%08x/q%d", (unsigned)run, q);
    }
    uint32_t t0 = port_posix_now_ms();
    bool ok = start(&sub, host, sub_port, "sub", run);
    ok = ok && start(&pub, host, port, "pub", run);
    if (!ok) {
        return 1;
    }

    /* The subscriber's SUBSCRIBE is remembered by the engine and renewed after cuts. */
    while (ok && elapsed_ms(t0) < timeout_ms) {
        if (mqe_state(&sub.client) == MQE_STATE_CONNECTED && !sub.subscribed) {
            static bool asked;
            if (!asked) {
                mqe_subscription_t subs[2] = {{topics[1], 1}, {topics[2], 2}};
                asked = mqe_subscribe_many(&sub.client, subs, 2, NULL) == MQE_OK;
            }
        }
        if (sub.subscribed) {
            break;
        }
        poll_both();
        sleep_ms(1);
    }
    if (!sub.subscribed) {
        fprintf(stderr, "soak: the subscriber never got its SUBACK\n");
        return 1;
    }

    uint32_t sent[3] = {0, 0, 0};
    uint32_t total = totals[1] + totals[2];
    uint32_t published = 0;
    uint32_t last_complete_at = port_posix_now_ms();
    uint32_t last_progress = 0;
    while (elapsed_ms(t0) < timeout_ms) {
        /* Publish until back-pressure, alternating QoS 1 and QoS 2. */
        while (published < total) {
            int q = (published % 2 == 0 && sent[1] < totals[1]) || sent[2] >= totals[2] ? 1 : 2;
            char payload[16];
            int len = snprintf(payload, sizeof payload, "%u", (unsigned)(sent[q] + 1u));
            mqe_status_t st = mqe_publish(&pub.client, topics[q], payload, (size_t)len, (uint8_t)q, false, NULL);
            if (st == MQE_ERR_FULL) {
                break;
            }
            if (st != MQE_OK) {
                fprintf(stderr, "soak: publish: %s\n", mqe_strerror(st));
                return 1;
            }
            sent[q]++;
            published++;
        }
        uint32_t before = completed;
        poll_both();
        if (completed != before) {
            last_complete_at = port_posix_now_ms();
        }
        if (published / PROGRESS_EVERY != last_progress) {
            last_progress = published / PROGRESS_EVERY;
            printf("soak: progress %u\n", (unsigned)published);
            fflush(stdout);
        }
        uint32_t arrived = stats[1].distinct + stats[2].distinct;
        if (completed >= total && (arrived >= total || elapsed_ms(last_complete_at) > DRAIN_GRACE_MS)) {
            break;
        }
        if (mqe_next_deadline_ms(&pub.client) > 0 && mqe_next_deadline_ms(&sub.client) > 0) {
            /* Incoming data is not predicted by the deadline: nap briefly, not for long. */
            struct timespec nap = {.tv_sec = 0, .tv_nsec = 200000L};
            nanosleep(&nap, NULL);
        }
    }
    uint32_t wall_ms = elapsed_ms(t0);
    /* Let the last acknowledgements out, then leave cleanly (bounded). */
    mqe_disconnect(&pub.client);
    mqe_disconnect(&sub.client);
    for (int i = 0; i < 200 && (mqe_state(&pub.client) != MQE_STATE_DISCONNECTED ||
                                mqe_state(&sub.client) != MQE_STATE_DISCONNECTED);
         i++) {
        poll_both();
        sleep_ms(5);
    }

    uint32_t lost[3], dup[3];
    for (int q = 1; q <= 2; q++) {
        lost[q] = stats[q].total - stats[q].distinct;
        dup[q] = stats[q].duplicates;
    }
    double secs = wall_ms / 1000.0;
    printf("soak: result qos1 sent=%u received=%u lost=%u duplicated=%u reordered=%u\n", (unsigned)sent[1],
           (unsigned)stats[1].distinct, (unsigned)lost[1], (unsigned)dup[1], (unsigned)stats[1].reordered);
    printf("soak: result qos2 sent=%u received=%u lost=%u duplicated=%u reordered=%u\n", (unsigned)sent[2],
           (unsigned)stats[2].distinct, (unsigned)lost[2], (unsigned)dup[2], (unsigned)stats[2].reordered);
    printf("soak: result completed=%u/%u unknown=%u connects pub=%u sub=%u wall_s=%.1f msgs_per_s=%.0f\n",
           (unsigned)completed, (unsigned)total, (unsigned)unknown_messages, (unsigned)pub.connects,
           (unsigned)sub.connects, secs, secs > 0 ? total / secs : 0.0);
    printf("soak: result abandoned_pubrel=%u rx_qos2_evicted=%u rx_qos2_full=%u\n", (unsigned)abandoned,
           (unsigned)evicted_ids, (unsigned)rx_full);
    fflush(stdout);
    bool pass = completed == total && lost[1] == 0 && lost[2] == 0 && dup[2] == 0 && unknown_messages == 0;
    free(stats[1].count);
    free(stats[2].count);
    return pass ? 0 : 1;
}
