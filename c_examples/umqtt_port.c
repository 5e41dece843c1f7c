/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The QuecPython umqtt example, translated line by line into C on mqtt-engine.
 * Each Python line is quoted above its C counterpart. The broker comes from
 * MQE_BROKER_HOST / MQE_BROKER_PORT (the test's mosquitto) instead of the public test
 * broker, and wait_msg's loop is bounded, since `make umqtt` runs it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "mqtt_engine.h"
#include "port_posix.h" /* on a module: the SDK's socket and tick port */

/* umqtt allocates inside MQTTClient(); here the storage and buffers are the app's. */
static mqe_client_t c;
static uint8_t rx[1024], tx[1024], store[2048];
static port_posix_t port;

/* state = 0 */
static int state = 0;

/* def sub_cb(topic, msg): */
static void sub_cb(void *user, const mqe_message_t *m) {
    (void)user;
    /* global state
     * print("subscribe recv:") */
    printf("subscribe recv:\n");
    /* print(topic, msg) */
    printf("%.*s %.*s\n", (int)m->topic_len, m->topic, (int)m->payload_len,
           (const char *)m->payload);
    /* state = 1 */
    state = 1;
}

int main(void) {
    const char *server = getenv("MQE_BROKER_HOST") ? getenv("MQE_BROKER_HOST") : "127.0.0.1";
    uint16_t port_number =
        getenv("MQE_BROKER_PORT") ? (uint16_t)atoi(getenv("MQE_BROKER_PORT")) : 1883;

    /* c = MQTTClient("umqtt_client", "mq.tongxinmao.com", 18830) */
    mqe_transport_t transport;
    mqe_platform_t platform;
    port_posix_transport(&transport, &port); /* umqtt: ssl=False, a plain socket */
    port_posix_platform(&platform);
    mqe_options_t o = mqe_options_default();
    o.client_id = "umqtt_client";
    o.host = server;
    o.port = port_number;
    o.rx_buf = rx;
    o.rx_buf_len = sizeof rx;
    o.tx_buf = tx;
    o.tx_buf_len = sizeof tx;
    o.store_buf = store;
    o.store_buf_len = sizeof store;
    if (mqe_init(&c, &o, &transport, &platform) != MQE_OK) {
        return 1;
    }

    /* c.set_callback(sub_cb) */
    mqe_set_message_handler(&c, sub_cb, NULL);

    /* c.connect() */
    mqe_status_t st = mqe_connect_wait(&c, 10000);
    if (st != MQE_OK) { /* umqtt raises MQTTException */
        fprintf(stderr, "connect: %s\n", mqe_strerror(st));
        return 1;
    }

    /* c.subscribe(b"/public/TEST/quecpython") */
    st = mqe_subscribe(&c, "/public/TEST/quecpython", 0, NULL);
    if (st != MQE_OK) {
        fprintf(stderr, "subscribe: %s\n", mqe_strerror(st));
        return 1;
    }
    /* print("Connected to mq.tongxinmao.com, subscribed to /public/TEST/quecpython topic") */
    printf("Connected to %s, subscribed to /public/TEST/quecpython topic\n", server);

    /* c.publish(b"/public/TEST/quecpython", b"my name is Quecpython!") */
    st = mqe_publish(&c, "/public/TEST/quecpython", "my name is Quecpython!", 22, 0, false, NULL);
    if (st != MQE_OK) {
        fprintf(stderr, "publish: %s\n", mqe_strerror(st));
        return 1;
    }
    /* print("Publish topic: /public/TEST/quecpython, msg: my name is Quecpython") */
    printf("Publish topic: /public/TEST/quecpython, msg: my name is Quecpython\n");

    /* while True: */
    for (int i = 0; i < 50; i++) { /* bounded: at most 50 x 200 ms */
        /* c.wait_msg() */
        st = mqe_wait_msg(&c, 200);
        if (st != MQE_OK && st != MQE_ERR_TIMEOUT) {
            fprintf(stderr, "wait_msg: %s\n", mqe_strerror(st));
            break;
        }
        /* if state == 1: break */
        if (state == 1) {
            break;
        }
    }

    /* c.disconnect() */
    mqe_disconnect(&c);
    for (int i = 0; i < 100 && mqe_state(&c) != MQE_STATE_DISCONNECTED; i++) {
        mqe_poll(&c); /* umqtt's disconnect() blocks until the socket is closed */
        platform.delay_ms(platform.ctx, 10);
    }
    return state == 1 ? 0 : 1;
}
