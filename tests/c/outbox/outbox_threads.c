/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * mqe_post_publish from several threads while the owner thread polls, against mosquitto.
 *
 *   outbox_threads [PRODUCERS [POSTS_EACH]]     (defaults 4 and 5000)
 *
 * Producers stand in for RTOS tasks: each posts POSTS_EACH QoS 1 messages numbered 0, 1, ...
 * to its own topic, retrying on MQE_ERR_FULL. The owner thread alone calls every other mqe_*
 * function: it subscribes to all the producers' topics with a per-topic handler and polls.
 * Passes when every message arrives exactly once and, per producer, in the order posted.
 * The critical section the library needs is a pthread mutex, as a host port provides it.
 * Run plain, under ThreadSanitizer (-fsanitize=thread) and under helgrind (make outbox-test).
 */
#define _POSIX_C_SOURCE 200809L /* POSIX.1-2008 under -std=c99; must precede every include */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mqtt_engine.h"
#include "port_posix.h"

#define MAX_PRODUCERS 16
#define RUN_LIMIT_MS 240000u /* the whole run, also under helgrind */

#ifndef BROKEN_CRITICAL_SECTION
static pthread_mutex_t outbox_lock = PTHREAD_MUTEX_INITIALIZER;
#endif

/* -DBROKEN_CRITICAL_SECTION: hooks that lock nothing, the negative control proving the race
 * detectors see the outbox (make outbox-test expects them to fail). */
static uint32_t critical_enter(void) {
#ifndef BROKEN_CRITICAL_SECTION
    pthread_mutex_lock(&outbox_lock);
#endif
    return 0;
}

static void critical_exit(uint32_t state) {
    (void)state;
#ifndef BROKEN_CRITICAL_SECTION
    pthread_mutex_unlock(&outbox_lock);
#endif
}

static mqe_client_t client;
static uint8_t rx[1024], tx[4096], store[8192];
static char topic_root[64];
static int producers = 4;
static long posts_each = 5000;

/* Owner thread only. */
static long next_expected[MAX_PRODUCERS];
static long received, duplicates_or_gaps;
static int subscribed;

/* Written by producer threads, read by main after pthread_join. */
typedef struct {
    int index;
    long full_retries;
    int error;
} producer_t;

static void sleep_us(long us) {
    struct timespec ts = {.tv_sec = 0, .tv_nsec = us * 1000L};
    nanosleep(&ts, NULL);
}

static void on_message(void *user, const mqe_message_t *m) {
    (void)user;
    /* topic: <root>/<producer>; payload: the decimal sequence number. */
    char topic[96], text[24];
    if (m->topic_len >= sizeof topic || m->payload_len >= sizeof text) {
        duplicates_or_gaps++;
        return;
    }
    memcpy(topic, m->topic, m->topic_len);
    topic[m->topic_len] = '\0';
    memcpy(text, m->payload, m->payload_len);
    text[m->payload_len] = '\0';
    const char *slash = strrchr(topic, '/');
    int p = slash != NULL ? atoi(slash + 1) : -1;
    long seq = atol(text);
    if (p < 0 || p >= producers || seq != next_expected[p]) {
        if (duplicates_or_gaps < 5) {
            fprintf(stderr, "outbox: producer %d: got %ld, expected %ld\n", p, seq,
                    p >= 0 && p < producers ? next_expected[p] : -1);
        }
        duplicates_or_gaps++;
        return;
    }
    next_expected[p]++;
    received++;
}

static void on_event(void *user, const mqe_event_t *e) {
    (void)user;
    if (e->kind == MQE_EVENT_SUBSCRIBED && e->granted_count == 1 && e->granted[0] == 1) {
        subscribed = 1;
    } else if (e->kind == MQE_EVENT_DISCONNECTED && e->reason != MQE_OK) {
        fprintf(stderr, "outbox: disconnected: %s\n", mqe_strerror(e->reason));
    } else if (e->kind == MQE_EVENT_ERROR) {
        fprintf(stderr, "outbox: %u posted messages dropped: %s\n", e->dropped,
                mqe_strerror(e->reason));
    }
}

static void *produce(void *arg) {
    producer_t *self = arg;
    char topic[96], payload[24];
    snprintf(topic, sizeof topic, "%s/%d", topic_root, self->index);
    uint32_t start = port_posix_now_ms();
    for (long seq = 0; seq < posts_each; seq++) {
        int len = snprintf(payload, sizeof payload, "%ld", seq);
        for (;;) { /* bounded by RUN_LIMIT_MS */
            mqe_status_t st = mqe_post_publish(&client, topic, payload, (size_t)len, 1, false);
            if (st == MQE_OK) {
                break;
            }
            if (st != MQE_ERR_FULL || port_posix_now_ms() - start > RUN_LIMIT_MS) {
                fprintf(stderr, "outbox: producer %d: post %ld: %s\n", self->index, seq,
                        mqe_strerror(st));
                self->error = 1;
                return NULL;
            }
            self->full_retries++;
            sleep_us(50);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1) producers = atoi(argv[1]);
    if (argc > 2) posts_each = atol(argv[2]);
    if (producers < 1 || producers > MAX_PRODUCERS || posts_each < 1) {
        fprintf(stderr, "usage: %s [PRODUCERS 1..%d [POSTS_EACH]]\n", argv[0], MAX_PRODUCERS);
        return 2;
    }
    snprintf(topic_root, sizeof topic_root, "mqe/outbox/%ld", (long)getpid());

    static port_posix_t port;
    mqe_transport_t transport;
    mqe_platform_t platform;
    port_posix_transport(&transport, &port);
    port_posix_platform(&platform);
    mqe_options_t o = mqe_options_default();
    o.host = getenv("MQE_BROKER_HOST") ? getenv("MQE_BROKER_HOST") : "127.0.0.1";
    o.port = getenv("MQE_BROKER_PORT") ? (uint16_t)atoi(getenv("MQE_BROKER_PORT")) : 1883;
    o.client_id = "mqe-outbox-threads";
    o.rx_buf = rx;
    o.rx_buf_len = sizeof rx;
    o.tx_buf = tx;
    o.tx_buf_len = sizeof tx;
    o.store_buf = store;
    o.store_buf_len = sizeof store;
    o.reconnect = false; /* a drop would fail the test anyway */

    if (mqe_post_publish(&client, "t", "x", 1, 0, false) != MQE_ERR_NOT_INIT) {
        fprintf(stderr, "outbox: posting before mqe_init must fail\n");
        return 1;
    }
    if (mqe_set_critical_section(critical_enter, critical_exit) != MQE_OK ||
        mqe_init(&client, &o, &transport, &platform) != MQE_OK) {
        fprintf(stderr, "outbox: setup failed\n");
        return 1;
    }
    mqe_set_event_handler(&client, on_event, NULL);
    mqe_status_t st = mqe_connect_wait(&client, 10000);
    if (st != MQE_OK) {
        fprintf(stderr, "outbox: connect: %s\n", mqe_strerror(st));
        return 1;
    }
    char filter[80];
    snprintf(filter, sizeof filter, "%s/+", topic_root);
    st = mqe_subscribe_cb(&client, filter, 1, on_message, NULL, NULL);
    for (int i = 0; st == MQE_OK && !subscribed && i < 500; i++) {
        mqe_wait_msg(&client, 10); /* dispatches the SUBACK event too */
    }
    if (!subscribed) {
        fprintf(stderr, "outbox: subscribe failed: %s\n", mqe_strerror(st));
        return 1;
    }

    pthread_t threads[MAX_PRODUCERS];
    producer_t state[MAX_PRODUCERS];
    memset(state, 0, sizeof state);
    for (int p = 0; p < producers; p++) {
        state[p].index = p;
        if (pthread_create(&threads[p], NULL, produce, &state[p]) != 0) {
            fprintf(stderr, "outbox: pthread_create failed\n");
            return 1;
        }
    }
    long total = (long)producers * posts_each;
    uint32_t start = port_posix_now_ms();
    while (received + duplicates_or_gaps < total && port_posix_now_ms() - start < RUN_LIMIT_MS) {
        st = mqe_poll(&client);
        if (st != MQE_OK || mqe_state(&client) != MQE_STATE_CONNECTED) {
            fprintf(stderr, "outbox: connection ended: %s\n", mqe_strerror(st));
            break;
        }
        if (mqe_next_deadline_ms(&client) > 0) {
            sleep_us(100);
        }
    }
    uint32_t elapsed = port_posix_now_ms() - start;
    int producer_errors = 0;
    long full_retries = 0;
    for (int p = 0; p < producers; p++) {
        pthread_join(threads[p], NULL);
        producer_errors += state[p].error;
        full_retries += state[p].full_retries;
    }
    mqe_disconnect(&client);
    for (int i = 0; i < 200 && mqe_state(&client) != MQE_STATE_DISCONNECTED; i++) {
        mqe_poll(&client);
        sleep_us(1000);
    }
    printf("outbox: %d producers x %ld posts: %ld received in order, %ld duplicate or out of "
           "order, %ld MQE_ERR_FULL retries, %u ms\n",
           producers, posts_each, received, duplicates_or_gaps, full_retries, elapsed);
    if (received != total || duplicates_or_gaps != 0 || producer_errors != 0) {
        printf("outbox: FAIL\n");
        return 1;
    }
    printf("outbox: PASS\n");
    return 0;
}
