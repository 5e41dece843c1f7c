/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The README's quick start, compiled by `make test` so it never goes stale. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mqtt_engine.h"
#include "port_posix.h" /* replace with your module's port */

static mqe_client_t client; /* size from the header; no heap anywhere */
static uint8_t rx[1024], tx[1024], store[4096];
static port_posix_t port;
static mqe_transport_t transport;
static mqe_platform_t platform;
static int received;

static void on_message(void *user, const mqe_message_t *m) {
    (void)user;
    received++;
    printf("%.*s (QoS %u): %.*s\n", (int)m->topic_len, m->topic, m->qos,
           (int)m->payload_len, (const char *)m->payload);
}

int main(void) {
    port_posix_transport(&transport, &port);
    port_posix_platform(&platform);
    mqe_options_t o = mqe_options_default();
    o.host = getenv("MQE_BROKER_HOST") ? getenv("MQE_BROKER_HOST") : "127.0.0.1";
    o.port = getenv("MQE_BROKER_PORT") ? (uint16_t)atoi(getenv("MQE_BROKER_PORT")) : 1883;
    o.client_id = "quickstart-42";
    o.username = getenv("MQE_BROKER_USER"); /* NULL: no login */
    if (o.username && getenv("MQE_BROKER_PASS")) {
        o.password = (const uint8_t *)getenv("MQE_BROKER_PASS");
        o.password_len = strlen(getenv("MQE_BROKER_PASS"));
    }
    o.rx_buf = rx; o.rx_buf_len = sizeof rx;
    o.tx_buf = tx; o.tx_buf_len = sizeof tx;
    o.store_buf = store; o.store_buf_len = sizeof store;
    if (mqe_init(&client, &o, &transport, &platform) != MQE_OK) return 1;
    mqe_set_message_handler(&client, on_message, NULL);
    mqe_connect(&client);
    for (int i = 0; i < 500 && mqe_state(&client) != MQE_STATE_CONNECTED; i++) {
        mqe_poll(&client);
        platform.delay_ms(platform.ctx, 10);
    }
    mqe_subscribe(&client, "quickstart/42/#", 1, NULL);
    mqe_publish(&client, "quickstart/42/status", "online", 6, 1, false, NULL);
    for (int i = 0; i < 100; i++) { /* a firmware task loops forever */
        mqe_poll(&client);
        platform.delay_ms(platform.ctx, 10); /* or sleep up to mqe_next_deadline_ms() */
    }
    mqe_disconnect(&client);
    for (int i = 0; i < 100 && mqe_state(&client) != MQE_STATE_DISCONNECTED; i++) mqe_poll(&client);
    return received > 0 ? 0 : 1; /* our own publish came back */
}
