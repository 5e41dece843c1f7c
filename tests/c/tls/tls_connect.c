/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * MQTT over TLS through ports/posix/port_posix_tls.c against mosquitto's TLS listener
 * (scripts/with_tls_broker.py: MQE_TLS_CA, MQE_TLS_WRONG_CA, MQE_TLS_SERVER_NAME).
 *
 *   1. the right CA and host name: connect, subscribe, a QoS 1 message comes back, ping;
 *      the client id never appears in the raw stream;
 *   2. a CA that did not sign the server: the connect fails with MQE_ERR_TLS, the port
 *      says "certificate verify failed", and not one MQTT byte was written;
 *   3. the right CA but another host name: the same, for the name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt_engine.h"
#include "port_posix_tls.h"

static mqe_client_t client;
static uint8_t rx[2048], tx[2048], store[2048];
static port_tls_t tls;
static int got_message;

#define CHECK(cond, ...)                                         \
    do {                                                         \
        if (!(cond)) {                                           \
            fprintf(stderr, "tls: FAIL line %d: ", __LINE__);    \
            fprintf(stderr, __VA_ARGS__);                        \
            fprintf(stderr, "\n");                               \
            return 1;                                            \
        }                                                        \
    } while (0)

static void on_message(void *user, const mqe_message_t *m) {
    (void)user;
    got_message = m->payload_len == 10 && memcmp(m->payload, "over TLS!!", 10) == 0;
}

static int contains(const uint8_t *hay, size_t hay_len, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= hay_len; i++) {
        if (memcmp(hay + i, needle, n) == 0) return 1;
    }
    return 0;
}

/* mqe_init over a fresh TLS transport; returns mqe_connect_wait's status. */
static mqe_status_t connect_with(const char *ca, const char *server_name, const char *id) {
    mqe_transport_t transport;
    mqe_platform_t platform;
    if (port_tls_transport(&transport, &tls, ca, server_name) != 0) {
        fprintf(stderr, "tls: port setup: %s\n", port_tls_last_error(&tls));
        return MQE_ERR_ARG;
    }
    port_posix_platform(&platform);
    mqe_options_t o = mqe_options_default();
    o.host = getenv("MQE_BROKER_HOST");
    o.port = (uint16_t)atoi(getenv("MQE_BROKER_PORT"));
    o.client_id = id;
    o.rx_buf = rx;
    o.rx_buf_len = sizeof rx;
    o.tx_buf = tx;
    o.tx_buf_len = sizeof tx;
    o.store_buf = store;
    o.store_buf_len = sizeof store;
    o.reconnect = false; /* the failing cases must stop at the first attempt */
    mqe_status_t st = mqe_init(&client, &o, &transport, &platform);
    if (st != MQE_OK) return st;
    mqe_set_message_handler(&client, on_message, NULL);
    return mqe_connect_wait(&client, 10000);
}

int main(void) {
    const char *ca = getenv("MQE_TLS_CA"), *wrong_ca = getenv("MQE_TLS_WRONG_CA");
    const char *name = getenv("MQE_TLS_SERVER_NAME");
    CHECK(ca && wrong_ca && name && getenv("MQE_BROKER_PORT"), "run under with_tls_broker.py");

    /* 1. verified connection */
    mqe_status_t st = connect_with(ca, name, "mqe-tls-good");
    CHECK(st == MQE_OK, "connect: %s (%s)", mqe_strerror(st), port_tls_last_error(&tls));
    CHECK(mqe_subscribe(&client, "mqe/tls/echo", 1, NULL) == MQE_OK, "subscribe");
    CHECK(mqe_publish(&client, "mqe/tls/echo", "over TLS!!", 10, 1, false, NULL) == MQE_OK,
          "publish");
    for (int i = 0; i < 20 && !got_message; i++) {
        st = mqe_wait_msg(&client, 250);
        CHECK(st == MQE_OK || st == MQE_ERR_TIMEOUT, "wait_msg: %s", mqe_strerror(st));
    }
    CHECK(got_message, "the QoS 1 message did not come back over TLS");
    st = mqe_ping(&client, 5000);
    CHECK(st == MQE_OK, "ping: %s", mqe_strerror(st));
    CHECK(tls.plaintext_sent > 0 && tls.wire_len > 0, "nothing went through TLS");
    CHECK(!contains(tls.wire, tls.wire_len, "mqe-tls-good") &&
              !contains(tls.wire, tls.wire_len, "over TLS!!"),
          "MQTT bytes visible in the raw stream");
    mqe_disconnect(&client);
    for (int i = 0; i < 200 && mqe_state(&client) != MQE_STATE_DISCONNECTED; i++) {
        mqe_poll(&client);
    }
    CHECK(mqe_state(&client) == MQE_STATE_DISCONNECTED, "disconnect");
    port_tls_free(&tls);
    printf("tls: verified connection: publish, receive and ping over TLS: ok\n");

    /* 2. wrong CA, 3. wrong host name */
    const struct {
        const char *ca, *name, *expect;
    } bad[] = {
        {wrong_ca, name, "certificate verify failed"},
        {ca, "not-the-broker.test", "certificate verify failed"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        st = connect_with(bad[i].ca, bad[i].name, "mqe-tls-bad");
        const char *why = port_tls_last_error(&tls);
        CHECK(st == MQE_ERR_TLS, "case %zu: connect gave %s", i + 2, mqe_strerror(st));
        CHECK(strstr(why, bad[i].expect) != NULL, "case %zu: port says \"%s\"", i + 2, why);
        CHECK(tls.plaintext_sent == 0, "case %zu: %llu MQTT bytes sent", i + 2,
              (unsigned long long)tls.plaintext_sent);
        CHECK(!contains(tls.wire, tls.wire_len, "MQTT") &&
                  !contains(tls.wire, tls.wire_len, "mqe-tls-bad"),
              "case %zu: CONNECT in clear", i + 2);
        CHECK(mqe_state(&client) == MQE_STATE_DISCONNECTED, "case %zu: state", i + 2);
        printf("tls: %s: %s -> %s: ok\n", i == 0 ? "wrong CA" : "wrong host name",
               mqe_strerror(st), why);
        port_tls_free(&tls);
    }
    printf("tls: PASS\n");
    return 0;
}
