/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Expiring credentials against a real broker: mosquitto behind tests/cloud/auth_proxy.py,
 * which accepts one password at a time (the one in $MQE_CRED_FILE), answers CONNACK 4 to any
 * other, and cuts a connection when its password expires. The credentials callback hands out
 * "gen-N"; it renews (N+1) only when told the last attempt was refused, as a device that signs
 * a token with a cached expiry would. The test shows:
 *   - a stale password is refused with CONNACK 4 (MQE_EVENT_CONNECT_REFUSED, code 4);
 *   - the callback, asked again with refused = 4, gives the new one, which connects;
 *   - nothing queued meanwhile is lost: every QoS 1 message published before, during and
 *     after the expiry comes back from the broker.
 * Bounded: every wait has a deadline; run under auth_proxy.py's and with_broker.py's timeouts.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mqtt_engine.h"
#include "port_posix.h"

#define TOPIC "cloud/expiring"
#define BEFORE 5   /* messages published on the first connection */
#define DURING 10  /* published once the password expired, before the renewal */
#define TOTAL (BEFORE + DURING)
#define WAIT_MS 20000u

static int generation = 1;     /* the password the callback hands out: "gen-<generation>" */
static int asked;              /* callback calls */
static int asked_after_refusal;
static int refused_4;          /* MQE_EVENT_CONNECT_REFUSED with return code 4 */
static int connected;          /* MQE_EVENT_CONNECTED */
static int subscribed;
static int seen[TOTAL];        /* copies received of message i */

static int fail(const char *what, long value) {
    fprintf(stderr, "expiring_creds: FAIL: %s (%ld)\n", what, value);
    return 1;
}

static void set_valid_password(int gen) {
    const char *path = getenv("MQE_CRED_FILE");
    FILE *f = path ? fopen(path, "w") : NULL;
    if (f == NULL) {
        fprintf(stderr, "expiring_creds: cannot write MQE_CRED_FILE\n");
        exit(2);
    }
    fprintf(f, "gen-%d", gen);
    fclose(f);
}

static mqe_status_t credentials(void *user, uint8_t refused, char *username, size_t username_cap,
                                size_t *username_len, uint8_t *password, size_t password_cap,
                                size_t *password_len) {
    char pw[32];
    const char *name = "device-1";
    int n;
    (void)user;
    asked++;
    if (refused == 4 || refused == 5) {
        asked_after_refusal++;
        generation++; /* sign afresh */
    }
    n = snprintf(pw, sizeof pw, "gen-%d", generation);
    if (n < 0 || (size_t)n > password_cap || strlen(name) > username_cap) {
        return MQE_ERR_BUFFER;
    }
    memcpy(username, name, strlen(name));
    *username_len = strlen(name);
    memcpy(password, pw, (size_t)n);
    *password_len = (size_t)n;
    printf("expiring_creds: credentials asked (refused %u): gen-%d\n", refused, generation);
    return MQE_OK;
}

static void on_event(void *user, const mqe_event_t *e) {
    (void)user;
    if (e->kind == MQE_EVENT_CONNECTED) {
        connected++;
    } else if (e->kind == MQE_EVENT_CONNECT_REFUSED) {
        printf("expiring_creds: CONNACK %u refused the connection\n", e->return_code);
        if (e->return_code == 4) {
            refused_4++;
        }
    } else if (e->kind == MQE_EVENT_SUBSCRIBED) {
        subscribed++;
    }
}

static void on_message(void *user, const mqe_message_t *m) {
    char text[16];
    int i;
    (void)user;
    if (m->payload_len == 0 || m->payload_len >= sizeof text) {
        return;
    }
    memcpy(text, m->payload, m->payload_len);
    text[m->payload_len] = '\0';
    i = atoi(text);
    if (i >= 0 && i < TOTAL) {
        seen[i]++;
    }
}

static void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

static int received(int upto) {
    int i;
    for (i = 0; i < upto; i++) {
        if (seen[i] == 0) {
            return 0;
        }
    }
    return 1;
}

/* Polls until *flag >= want or `done(upto)`, at most WAIT_MS; 0 when it happened. */
static int poll_until(mqe_client_t *c, const int *flag, int want, int upto) {
    uint32_t start = port_posix_now_ms();
    while (port_posix_now_ms() - start < WAIT_MS) {
        mqe_poll(c);
        if (flag != NULL ? *flag >= want : received(upto)) {
            return 0;
        }
        sleep_ms(5);
    }
    return -1;
}

/* Publishes message i at QoS 1, waiting out back-pressure (MQE_ERR_FULL) for at most WAIT_MS. */
static int publish(mqe_client_t *c, int i) {
    char text[16];
    int n = snprintf(text, sizeof text, "%d", i);
    uint32_t start = port_posix_now_ms();
    int st;
    while ((st = mqe_publish(c, TOPIC, text, (size_t)n, MQE_QOS_1, false, NULL)) == MQE_ERR_FULL &&
           port_posix_now_ms() - start < WAIT_MS) {
        mqe_poll(c);
        sleep_ms(5);
    }
    return st;
}

int main(void) {
    static mqe_client_t client;
    static uint8_t rx[1024], tx[1024], store[4096];
    static char user_buf[64];
    static uint8_t pass_buf[64];
    const char *host = getenv("MQE_BROKER_HOST");
    const char *port = getenv("MQE_BROKER_PORT");
    mqe_options_t o = mqe_options_default();
    mqe_transport_t transport;
    mqe_platform_t platform;
    port_posix_t ctx;
    int i, st, connects_before;

    if (host == NULL || port == NULL) {
        return fail("MQE_BROKER_HOST/PORT unset", 0);
    }
    set_valid_password(1);
    o.host = host;
    o.port = (uint16_t)atoi(port);
    o.client_id = "cloud-expiring";
    o.clean_session = false;
    o.rx_buf = rx;
    o.rx_buf_len = sizeof rx;
    o.tx_buf = tx;
    o.tx_buf_len = sizeof tx;
    o.store_buf = store;
    o.store_buf_len = sizeof store;
    o.reconnect_min_ms = 100;
    o.reconnect_max_ms = 500;
    o.inflight_window = 4;
    port_posix_transport(&transport, &ctx);
    port_posix_platform(&platform);
    if ((st = mqe_init(&client, &o, &transport, &platform)) != MQE_OK) {
        return fail("mqe_init", st);
    }
    mqe_set_event_handler(&client, on_event, NULL);
    mqe_set_message_handler(&client, on_message, NULL);
    st = mqe_set_credentials_handler(&client, credentials, NULL, user_buf, sizeof user_buf,
                                     pass_buf, sizeof pass_buf);
    if (st != MQE_OK) {
        return fail("mqe_set_credentials_handler", st);
    }
    if ((st = mqe_connect_wait(&client, WAIT_MS)) != MQE_OK) {
        return fail("first connect", st);
    }
    if ((st = mqe_subscribe(&client, TOPIC, MQE_QOS_1, NULL)) != MQE_OK) {
        return fail("subscribe", st);
    }
    if (poll_until(&client, &subscribed, 1, 0) != 0) {
        return fail("no SUBACK", 0);
    }
    for (i = 0; i < BEFORE; i++) {
        if ((st = publish(&client, i)) != MQE_OK) {
            return fail("publish before expiry", st);
        }
    }
    if (poll_until(&client, NULL, 0, BEFORE) != 0) {
        return fail("first messages not back", 0);
    }

    /* The password expires: the cloud cuts the connection; the device keeps publishing. */
    connects_before = connected;
    set_valid_password(2);
    for (i = BEFORE; i < TOTAL; i++) {
        if ((st = publish(&client, i)) != MQE_OK) {
            return fail("publish during expiry", st);
        }
        mqe_poll(&client);
        sleep_ms(20);
    }
    if (poll_until(&client, &refused_4, 1, 0) != 0) {
        return fail("no CONNACK 4 for the stale password", refused_4);
    }
    if (poll_until(&client, &connected, connects_before + 1, 0) != 0) {
        return fail("the renewed password did not connect", connected);
    }
    if (poll_until(&client, NULL, 0, TOTAL) != 0) {
        for (i = 0; i < TOTAL; i++) {
            if (seen[i] == 0) {
                fprintf(stderr, "expiring_creds: message %d lost\n", i);
            }
        }
        return fail("messages lost", 0);
    }
    if (asked_after_refusal < 1 || generation != 2) {
        return fail("callback not asked again after the refusal", asked_after_refusal);
    }
    mqe_disconnect(&client);
    for (i = 0; i < 50 && mqe_state(&client) != MQE_STATE_DISCONNECTED; i++) {
        mqe_poll(&client);
        sleep_ms(5);
    }
    printf("PASS expiring_creds: %d messages back, %d CONNACK 4, callback asked %d times "
           "(%d after a refusal), %d connects\n",
           TOTAL, refused_4, asked, asked_after_refusal, connected);
    return 0;
}
