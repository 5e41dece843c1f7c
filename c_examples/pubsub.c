/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * pubsub: the QuecPython MQTT application note's scenario, in C on mqtt-engine.
 *
 *   client B connects and subscribes to a topic;
 *   client A connects and publishes to that topic at QoS 0, 1 and 2;
 *   B prints each message as it arrives (topic, QoS, payload);
 *   both disconnect cleanly.
 *
 * Exits 0 only when B received all three messages. The broker comes from the environment
 * (MQE_BROKER_HOST, MQE_BROKER_PORT; default 127.0.0.1:1883), and so does the login when
 * the broker wants one (MQE_BROKER_USER, MQE_BROKER_PASS; default none).
 *
 * Everything is static: no malloc. Every wait is bounded in time. A firmware task has the
 * same shape: call mqe_poll(), then sleep for mqe_next_deadline_ms() (capped, so new
 * socket data is noticed soon) or until the socket signals.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt_engine.h"
#include "port_posix.h"

#define TOPIC "quec/demo/topic_b"
#define WAIT_MS 10000u  /* bound of every wait below */
#define POLL_SLICE_MS 10u /* longest sleep between polls: how soon socket data is seen */

/* One client: the engine's storage, its buffers and its socket context. */
typedef struct {
    const char *name;
    char client_id[32];
    mqe_client_t client;
    uint8_t rx[1024];
    uint8_t tx[1024];
    uint8_t store[2048]; /* QoS 1/2 publishes wait here until acknowledged */
    port_posix_t port;
    mqe_transport_t transport;
    bool connected;
    bool subscribed;
    int completed; /* QoS 1/2 publishes acknowledged (PUBACK / PUBCOMP) */
    int received;  /* messages delivered to this client */
} demo_client_t;

static demo_client_t client_a = {.name = "A"};
static demo_client_t client_b = {.name = "B"};
static mqe_platform_t platform;
static const char *login_user; /* NULL: connect without a user name */
static const char *login_pass;

static void on_event(void *user, const mqe_event_t *ev) {
    demo_client_t *dc = user;
    switch (ev->kind) {
    case MQE_EVENT_CONNECTED:
        dc->connected = true;
        printf("[%s] connected (session present %d)\n", dc->name, ev->session_present);
        break;
    case MQE_EVENT_CONNECT_REFUSED:
        printf("[%s] connection refused, return code %u\n", dc->name, ev->return_code);
        break;
    case MQE_EVENT_DISCONNECTED:
        dc->connected = false;
        printf("[%s] disconnected: %s\n", dc->name, mqe_strerror(ev->reason));
        break;
    case MQE_EVENT_SUBSCRIBED:
        dc->subscribed = ev->granted_count == 1 && ev->granted[0] != 0x80;
        printf("[%s] subscribed, packet id %u, granted QoS %u\n", dc->name, ev->packet_id,
               ev->granted_count > 0 ? ev->granted[0] : 0x80);
        break;
    case MQE_EVENT_PUBLISH_COMPLETE:
        dc->completed++;
        printf("[%s] publish complete, packet id %u\n", dc->name, ev->packet_id);
        break;
    default:
        break;
    }
}

/* Runs inside mqe_poll(); the topic and payload are only valid during this call. */
static void on_message(void *user, const mqe_message_t *msg) {
    demo_client_t *dc = user;
    dc->received++;
    printf("[%s] message on \"%.*s\" QoS %u: %.*s\n", dc->name, (int)msg->topic_len, msg->topic,
           msg->qos, (int)msg->payload_len, (const char *)msg->payload);
}

static bool start_client(demo_client_t *dc, const char *host, uint16_t port) {
    /* A per-run id: two demo runs on one broker must not kick each other off. */
    snprintf(dc->client_id, sizeof dc->client_id, "mqe-demo-%s-%08x", dc->name,
             (unsigned)port_posix_now_ms());

    mqe_options_t opts = mqe_options_default();
    opts.host = host;
    opts.port = port;
    opts.client_id = dc->client_id;
    opts.username = login_user;
    if (login_pass != NULL) {
        opts.password = (const uint8_t *)login_pass;
        opts.password_len = strlen(login_pass);
    }
    opts.keep_alive_s = 60;
    opts.clean_session = true;
    opts.reconnect = false; /* a demo should fail loudly, not retry */
    opts.rx_buf = dc->rx;
    opts.rx_buf_len = sizeof dc->rx;
    opts.tx_buf = dc->tx;
    opts.tx_buf_len = sizeof dc->tx;
    opts.store_buf = dc->store;
    opts.store_buf_len = sizeof dc->store;

    port_posix_transport(&dc->transport, &dc->port);
    mqe_status_t st = mqe_init(&dc->client, &opts, &dc->transport, &platform);
    if (st == MQE_OK) {
        st = mqe_set_event_handler(&dc->client, on_event, dc);
    }
    if (st == MQE_OK) {
        st = mqe_set_message_handler(&dc->client, on_message, dc);
    }
    if (st == MQE_OK) {
        st = mqe_connect(&dc->client);
    }
    if (st != MQE_OK) {
        printf("[%s] start failed: %s\n", dc->name, mqe_strerror(st));
        return false;
    }
    return true;
}

/* Polls both clients and sleeps until the next timer or the next slice. */
static void poll_both(void) {
    mqe_poll(&client_a.client);
    mqe_poll(&client_b.client);
    uint32_t sleep_ms = POLL_SLICE_MS;
    uint32_t due_a = mqe_next_deadline_ms(&client_a.client);
    uint32_t due_b = mqe_next_deadline_ms(&client_b.client);
    if (due_a < sleep_ms) {
        sleep_ms = due_a;
    }
    if (due_b < sleep_ms) {
        sleep_ms = due_b;
    }
    if (sleep_ms > 0) {
        platform.delay_ms(platform.ctx, sleep_ms);
    }
}

/* Polls until *flag turns true (or false when want is false) or WAIT_MS pass. */
static bool wait_until(const bool *flag, bool want, const char *what) {
    uint32_t start = port_posix_now_ms();
    while (*flag != want) {
        if ((uint32_t)(port_posix_now_ms() - start) >= WAIT_MS) { /* wrap-safe */
            printf("timed out waiting for %s\n", what);
            return false;
        }
        poll_both();
    }
    return true;
}

static bool wait_count(const int *count, int want, const char *what) {
    uint32_t start = port_posix_now_ms();
    while (*count < want) {
        if ((uint32_t)(port_posix_now_ms() - start) >= WAIT_MS) {
            printf("timed out waiting for %s (%d of %d)\n", what, *count, want);
            return false;
        }
        poll_both();
    }
    return true;
}

int main(void) {
    const char *host = getenv("MQE_BROKER_HOST");
    const char *port_env = getenv("MQE_BROKER_PORT");
    if (host == NULL) {
        host = "127.0.0.1";
    }
    uint16_t port = port_env != NULL ? (uint16_t)strtoul(port_env, NULL, 10) : 1883u;
    login_user = getenv("MQE_BROKER_USER");
    login_pass = login_user != NULL ? getenv("MQE_BROKER_PASS") : NULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("mqtt-engine %s, broker %s:%u\n", mqe_version(), host, port);
    port_posix_platform(&platform);

    bool ok = start_client(&client_b, host, port) && wait_until(&client_b.connected, true, "B to connect");

    uint16_t sub_id = 0;
    if (ok) {
        mqe_status_t st = mqe_subscribe(&client_b.client, TOPIC, 2, &sub_id);
        ok = st == MQE_OK && wait_until(&client_b.subscribed, true, "B's SUBACK");
    }
    ok = ok && start_client(&client_a, host, port) && wait_until(&client_a.connected, true, "A to connect");

    if (ok) {
        static const char *const payloads[3] = {"hello, QoS 0", "hello, QoS 1", "hello, QoS 2"};
        for (uint8_t qos = 0; qos <= 2 && ok; qos++) {
            uint16_t packet_id = 0;
            mqe_status_t st = mqe_publish(&client_a.client, TOPIC, payloads[qos],
                                          strlen(payloads[qos]), qos, false, &packet_id);
            printf("[A] publish QoS %u: %s, packet id %u\n", qos, mqe_strerror(st), packet_id);
            ok = st == MQE_OK;
        }
    }
    /* B gets three messages; A sees PUBACK (QoS 1) and PUBCOMP (QoS 2). */
    ok = ok && wait_count(&client_b.received, 3, "B's messages");
    ok = ok && wait_count(&client_a.completed, 2, "A's acknowledgements");

    /* Disconnect cleanly whatever happened, so the broker never publishes a will. */
    mqe_disconnect(&client_a.client);
    mqe_disconnect(&client_b.client);
    bool closed_a = wait_until(&client_a.connected, false, "A to disconnect");
    bool closed_b = wait_until(&client_b.connected, false, "B to disconnect");

    bool passed = ok && closed_a && closed_b && client_b.received == 3;
    printf("B received %d of 3 messages: %s\n", client_b.received, passed ? "PASS" : "FAIL");
    return passed ? 0 : 1;
}
