/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* libmosquitto side of the benchmarks: the same workloads as mqe_bench.c through libmosquitto's
 * own API, with its loop functions (mosquitto_loop) called from this one thread, and TCP_NODELAY
 * set as on our port. Modes and output: see bench_common.h. */
#include "bench_common.h"

#include <mosquitto.h>

typedef struct {
    struct mosquitto *m;
    int fd;
    long received, completed, subscribed, connected, disconnected;
    uint64_t first_rx_ns, last_rx_ns;
    uint64_t *lat;
} bench_client_t;

static bench_client_t pub_client, sub_client;

static void on_message(struct mosquitto *m, void *user, const struct mosquitto_message *msg) {
    bench_client_t *b = user;
    (void)m;
    (void)msg;
    uint64_t t = now_ns();
    if (b->received == 0) {
        b->first_rx_ns = t;
    }
    b->last_rx_ns = t;
    if (b->lat != NULL && b->received < BENCH_MAX_LAT) {
        b->lat[b->received] = t - b->lat[b->received];
    }
    b->received++;
}

static void on_publish(struct mosquitto *m, void *user, int mid) {
    (void)m;
    (void)mid;
    ((bench_client_t *)user)->completed++;
}

static void on_subscribe(struct mosquitto *m, void *user, int mid, int n, const int *granted) {
    (void)m;
    (void)mid;
    (void)n;
    (void)granted;
    ((bench_client_t *)user)->subscribed++;
}

static void on_connect(struct mosquitto *m, void *user, int rc) {
    (void)m;
    if (rc == 0) {
        ((bench_client_t *)user)->connected++;
    } else {
        ((bench_client_t *)user)->disconnected++;
    }
}

static void on_disconnect(struct mosquitto *m, void *user, int rc) {
    (void)m;
    (void)rc;
    ((bench_client_t *)user)->disconnected++;
}

static void start(bench_client_t *b, uint16_t port, const char *id, int window) {
    b->m = mosquitto_new(id, true, b);
    if (b->m == NULL) {
        die("mosquitto_new failed");
    }
    mosquitto_int_option(b->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_int_option(b->m, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_max_inflight_messages_set(b->m, (unsigned)window);
    mosquitto_message_callback_set(b->m, on_message);
    mosquitto_publish_callback_set(b->m, on_publish);
    mosquitto_subscribe_callback_set(b->m, on_subscribe);
    mosquitto_connect_callback_set(b->m, on_connect);
    mosquitto_disconnect_callback_set(b->m, on_disconnect);
    if (mosquitto_connect(b->m, BENCH_HOST, port, 60) != MOSQ_ERR_SUCCESS) {
        die("mosquitto_connect failed");
    }
    uint64_t until = now_ns() + 10000000000ull;
    while (!b->connected) {
        if (now_ns() > until || b->disconnected) {
            die("connect failed");
        }
        mosquitto_loop(b->m, 10, 1);
    }
    b->fd = mosquitto_socket(b->m);
}

static void subscribe(bench_client_t *b, const char *topic, int qos) {
    if (mosquitto_subscribe(b->m, NULL, topic, qos) != MOSQ_ERR_SUCCESS) {
        die("mosquitto_subscribe failed");
    }
    uint64_t until = now_ns() + 10000000000ull;
    while (!b->subscribed) {
        if (now_ns() > until || b->disconnected) {
            die("no SUBACK");
        }
        mosquitto_loop(b->m, 10, 1);
    }
}

static void stop(bench_client_t *b) {
    mosquitto_disconnect(b->m);
    uint64_t until = now_ns() + 5000000000ull;
    while (!b->disconnected && now_ns() < until) {
        if (mosquitto_loop(b->m, 10, 1) != MOSQ_ERR_SUCCESS) {
            break;
        }
    }
    mosquitto_destroy(b->m);
}

/* Loops until `*counter` reaches `target`; waiting for the socket is outside the collection. */
static void loop_until(bench_client_t *b, const long *counter, long target) {
    uint64_t until = now_ns() + BENCH_TIMEOUT_NS;
    while (*counter < target) {
        if (b->disconnected || now_ns() > until) {
            die("exchange did not complete");
        }
        CALLGRIND_TOGGLE_COLLECT;
        wait_fd(b->fd, POLLIN, 1000);
        CALLGRIND_TOGGLE_COLLECT;
        mosquitto_loop(b->m, 0, 1);
    }
}

static int cpu_mode(const bench_args_t *a) {
    static uint8_t payload[BENCH_PAYLOAD_LEN];
    fill_payload(payload);
    char topic[64];
    snprintf(topic, sizeof topic, "bench/cpu/%d", (int)getpid());
    start(&pub_client, a->port, "mosq-cpu-pub", 20);

    if (strcmp(a->mode, "cpu-recv0") == 0) {
        stop(&pub_client);
        start(&sub_client, a->port, "mosq-cpu-sub", 20);
        subscribe(&sub_client, topic, 0);
        if (raw_publish_qos0(a->port, topic, payload, a->count) != 0) {
            die("raw publish failed");
        }
        int packet = 2 + 2 + (int)strlen(topic) + BENCH_PAYLOAD_LEN;
        int have = wait_buffered(sub_client.fd, packet * (int)a->count);
        if (have < packet * (int)a->count) {
            fprintf(stderr, "bench: only %d of %d bytes buffered\n", have, packet * (int)a->count);
        }
        CALLGRIND_TOGGLE_COLLECT;
        loop_until(&sub_client, &sub_client.received, a->count);
        CALLGRIND_TOGGLE_COLLECT;
        printf("cpu received=%ld\n", sub_client.received);
        stop(&sub_client);
        return sub_client.received == a->count ? 0 : 1;
    }

    int qos = 0;
    if (strcmp(a->mode, "cpu-qos1") == 0) {
        qos = 1;
    } else if (strcmp(a->mode, "cpu-qos2") == 0) {
        qos = 2;
    } else if (strcmp(a->mode, "cpu-pub0") != 0) {
        die("unknown mode");
    }
    CALLGRIND_TOGGLE_COLLECT;
    for (long i = 0; i < a->count; i++) {
        if (mosquitto_publish(pub_client.m, NULL, topic, BENCH_PAYLOAD_LEN, payload, qos, false) !=
            MOSQ_ERR_SUCCESS) {
            die("mosquitto_publish failed");
        }
        if (qos == 0) {
            mosquitto_loop(pub_client.m, 0, 1);
        } else {
            loop_until(&pub_client, &pub_client.completed, i + 1);
        }
    }
    CALLGRIND_TOGGLE_COLLECT;
    printf("cpu completed=%ld\n", pub_client.completed);
    stop(&pub_client);
    return 0;
}

static int pub_mode(const bench_args_t *a) {
    static uint8_t payload[BENCH_PAYLOAD_LEN];
    fill_payload(payload);
    start(&pub_client, a->port, "mosq-pub", a->window);
    /* libmosquitto queues without bound; QoS 0 keeps at most this many unwritten. */
    long window = a->qos == 0 ? 256 : a->window;
    int nodelay = tcp_nodelay(pub_client.fd);
    long published = 0;
    uint64_t first_ns = 0, until = now_ns() + BENCH_TIMEOUT_NS;
    while (pub_client.completed < a->count) {
        if (now_ns() > until || pub_client.disconnected) {
            fprintf(stderr, "bench: publisher stopped at %ld/%ld\n", published, pub_client.completed);
            break;
        }
        while (published < a->count && published - pub_client.completed < window) {
            if (first_ns == 0) {
                first_ns = now_ns();
            }
            if (mosquitto_publish(pub_client.m, NULL, a->topic, BENCH_PAYLOAD_LEN, payload, a->qos,
                                  false) != MOSQ_ERR_SUCCESS) {
                die("mosquitto_publish failed");
            }
            published++;
        }
        mosquitto_loop(pub_client.m, 10, 1);
    }
    printf("pub first_ns=%llu published=%ld completed=%ld nodelay=%d\n", (unsigned long long)first_ns,
           published, pub_client.completed, nodelay);
    stop(&pub_client);
    return 0;
}

static int sub_mode(const bench_args_t *a) {
    start(&sub_client, a->port, "mosq-sub", 20);
    subscribe(&sub_client, a->topic, a->qos);
    printf("ready\n");
    fflush(stdout);
    uint64_t started = now_ns();
    while (sub_client.received < a->count && !sub_client.disconnected) {
        uint64_t t = now_ns();
        uint64_t last = sub_client.received ? sub_client.last_rx_ns : started;
        if (t - last > BENCH_IDLE_NS + (sub_client.received ? 0 : BENCH_IDLE_NS) ||
            t - started > BENCH_TIMEOUT_NS) {
            break;
        }
        mosquitto_loop(sub_client.m, 10, 1);
    }
    /* Send the last PUBACK/PUBCOMP before closing. */
    for (int i = 0; i < 10 && mosquitto_want_write(sub_client.m); i++) {
        mosquitto_loop(sub_client.m, 10, 1);
    }
    printf("sub received=%ld first_rx_ns=%llu last_rx_ns=%llu\n", sub_client.received,
           (unsigned long long)sub_client.first_rx_ns, (unsigned long long)sub_client.last_rx_ns);
    stop(&sub_client);
    return 0;
}

static int lat_mode(const bench_args_t *a) {
    static uint8_t payload[BENCH_PAYLOAD_LEN];
    static uint64_t lat[BENCH_MAX_LAT];
    fill_payload(payload);
    long count = a->count < BENCH_MAX_LAT ? a->count : BENCH_MAX_LAT;
    char topic[64];
    snprintf(topic, sizeof topic, "bench/lat/%d", (int)getpid());
    start(&pub_client, a->port, "mosq-lat-pub", 1);
    start(&sub_client, a->port, "mosq-lat-sub", 1);
    subscribe(&sub_client, topic, 1);
    sub_client.lat = lat;
    int fds[2] = {pub_client.fd, sub_client.fd};
    for (long i = 0; i < count; i++) {
        uint64_t until = now_ns() + 10000000000ull;
        lat[i] = now_ns();
        if (mosquitto_publish(pub_client.m, NULL, topic, BENCH_PAYLOAD_LEN, payload, 1, false) !=
            MOSQ_ERR_SUCCESS) {
            die("mosquitto_publish failed");
        }
        for (;;) {
            mosquitto_loop(pub_client.m, 0, 1);
            mosquitto_loop(sub_client.m, 0, 1);
            if (sub_client.received > i && pub_client.completed > i) {
                break;
            }
            if (now_ns() > until || pub_client.disconnected || sub_client.disconnected) {
                die("latency message lost");
            }
            wait_fds(fds, 2, POLLIN, 100);
        }
    }
    print_latency(lat, (int)sub_client.received);
    stop(&pub_client);
    stop(&sub_client);
    return 0;
}

int main(int argc, char **argv) {
    bench_args_t a = parse_args(argc, argv);
    mosquitto_lib_init();
    int rc = 2;
    if (strncmp(a.mode, "cpu-", 4) == 0) {
        rc = cpu_mode(&a);
    } else if (strcmp(a.mode, "pub") == 0) {
        rc = pub_mode(&a);
    } else if (strcmp(a.mode, "sub") == 0) {
        rc = sub_mode(&a);
    } else if (strcmp(a.mode, "lat") == 0) {
        rc = lat_mode(&a);
    } else {
        die("unknown mode");
    }
    mosquitto_lib_cleanup();
    return rc;
}
