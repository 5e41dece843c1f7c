/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* A consumer of the installed package, built by tests/install/run.sh against a temporary
 * prefix the way SDKs build: once with pkg-config, once with CMake's find_package. It checks
 * that the installed header and archive belong together (version, client size, argument
 * checks) and, when MQE_BROKER_PORT is set (scripts/with_broker.py), does a QoS 1 round trip
 * and a ping through the broker with the blocking helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mqtt_engine.h"
#include "port_posix.h"

#define ROUND_TRIP_TOPIC "install/consumer/echo"
#define WAIT_MS 1000u
#define WAIT_TRIES 10

static mqe_client_t client;
static uint8_t rx[512], tx[512], store[1024];
static port_posix_t port;
static mqe_transport_t transport;
static mqe_platform_t platform;
static int echoes;
static int failures;

static void expect(int ok, const char *what) {
    if (!ok) {
        failures++;
        fprintf(stderr, "consumer: FAIL: %s\n", what);
    }
}

static void on_message(void *user, const mqe_message_t *m) {
    (void)user;
    if (m->topic_len == strlen(ROUND_TRIP_TOPIC) && memcmp(m->topic, ROUND_TRIP_TOPIC, m->topic_len) == 0 &&
        m->payload_len == 2 && memcmp(m->payload, "hi", 2) == 0 && m->qos == 1) {
        echoes++;
    }
}

static void check_without_broker(mqe_options_t *o) {
    char version[32];
    snprintf(version, sizeof version, "%d.%d.%d", MQE_VERSION_MAJOR, MQE_VERSION_MINOR, MQE_VERSION_PATCH);
    expect(strcmp(mqe_version(), version) == 0, "mqe_version() matches the header's MQE_VERSION_*");
    expect(sizeof(mqe_client_t) == MQE_CLIENT_SIZE, "sizeof(mqe_client_t) == MQE_CLIENT_SIZE");
    expect(mqe_init(NULL, o, &transport, &platform) == MQE_ERR_NULL, "mqe_init(NULL client) is MQE_ERR_NULL");
    expect(mqe_init(&client, NULL, &transport, &platform) == MQE_ERR_NULL, "mqe_init(NULL options) is MQE_ERR_NULL");
    o->rx_buf_len = MQE_MIN_BUFFER - 1;
    expect(mqe_init(&client, o, &transport, &platform) == MQE_ERR_BUFFER, "rx below MQE_MIN_BUFFER is MQE_ERR_BUFFER");
    o->rx_buf_len = sizeof rx;
    expect(mqe_connect(&client) == MQE_ERR_NOT_INIT, "mqe_connect before mqe_init is MQE_ERR_NOT_INIT");
    expect(mqe_strerror(MQE_ERR_FULL) != NULL, "mqe_strerror has a text");
    expect(mqe_init(&client, o, &transport, &platform) == MQE_OK, "mqe_init with valid options");
    expect(mqe_state(&client) == MQE_STATE_DISCONNECTED, "a new client is disconnected");
}

static void round_trip(void) {
    mqe_status_t status = mqe_connect_wait(&client, 5000);
    expect(status == MQE_OK, "mqe_connect_wait");
    if (status != MQE_OK) {
        fprintf(stderr, "consumer: connect: %s\n", mqe_strerror(status));
        return;
    }
    expect(mqe_subscribe(&client, ROUND_TRIP_TOPIC, 1, NULL) == MQE_OK, "mqe_subscribe");
    expect(mqe_publish(&client, ROUND_TRIP_TOPIC, "hi", 2, 1, false, NULL) == MQE_OK, "mqe_publish");
    for (int i = 0; i < WAIT_TRIES && echoes == 0; i++) {
        status = mqe_wait_msg(&client, WAIT_MS);
        if (status != MQE_OK && status != MQE_ERR_TIMEOUT) break;
    }
    expect(echoes == 1, "our QoS 1 publish came back once");
    expect(mqe_ping(&client, 5000) == MQE_OK, "mqe_ping round trip");
    expect(mqe_disconnect(&client) == MQE_OK, "mqe_disconnect");
    for (int i = 0; i < 100 && mqe_state(&client) != MQE_STATE_DISCONNECTED; i++) {
        mqe_poll(&client);
        platform.delay_ms(platform.ctx, 10);
    }
    expect(mqe_state(&client) == MQE_STATE_DISCONNECTED, "disconnected");
}

int main(void) {
    const char *broker_port = getenv("MQE_BROKER_PORT");
    port_posix_transport(&transport, &port);
    port_posix_platform(&platform);
    mqe_options_t o = mqe_options_default();
    o.host = getenv("MQE_BROKER_HOST") ? getenv("MQE_BROKER_HOST") : "127.0.0.1";
    o.port = broker_port ? (uint16_t)atoi(broker_port) : 1883;
    o.client_id = "install-consumer";
    o.reconnect = false;
    o.rx_buf = rx; o.rx_buf_len = sizeof rx;
    o.tx_buf = tx; o.tx_buf_len = sizeof tx;
    o.store_buf = store; o.store_buf_len = sizeof store;

    check_without_broker(&o);
    if (broker_port != NULL && failures == 0) {
        mqe_set_message_handler(&client, on_message, NULL);
        round_trip();
    }
    printf("consumer: mqtt-engine %s, %s: %s\n", mqe_version(),
           broker_port ? "checks and broker round trip" : "checks without a broker",
           failures == 0 ? "PASS" : "FAIL");
    return failures == 0 ? 0 : 1;
}
