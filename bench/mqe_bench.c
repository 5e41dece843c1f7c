/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* mqtt-engine side of the benchmarks: the C API over ports/posix/port_posix.
 * Modes and output: see bench_common.h; mosq_bench.c runs the same workloads on libmosquitto. */
#include "bench_common.h"

#include "mqtt_engine.h"
#include "port_posix.h"

typedef struct {
    mqe_client_t c;
    uint8_t rx[4096], tx[4096], store[16384];
    port_posix_t port_ctx;
    int fd;
    long received, completed, subscribed, disconnected;
    uint64_t first_rx_ns, last_rx_ns;
    uint64_t *lat; /* latency mode: receive time of message i goes to lat[i] */
} bench_client_t;

static bench_client_t pub_client, sub_client;
static long polls; /* mqe_poll calls in the measured loop of the cpu-* modes */

static void on_message(void *user, const mqe_message_t *m) {
    bench_client_t *b = user;
    (void)m;
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

static void on_event(void *user, const mqe_event_t *e) {
    bench_client_t *b = user;
    switch (e->kind) {
    case MQE_EVENT_PUBLISH_COMPLETE:
        b->completed++;
        break;
    case MQE_EVENT_SUBSCRIBED:
        b->subscribed++;
        break;
    case MQE_EVENT_DISCONNECTED:
    case MQE_EVENT_CONNECT_REFUSED:
        if (e->reason != MQE_OK) {
            fprintf(stderr, "bench: disconnected: %s\n", mqe_strerror(e->reason));
        }
        b->disconnected++;
        break;
    default:
        break;
    }
}

static void start(bench_client_t *b, uint16_t port, const char *id, int window, int exclude_fd) {
    mqe_transport_t t;
    mqe_platform_t p;
    port_posix_transport(&t, &b->port_ctx);
    port_posix_platform(&p);
    mqe_options_t o = mqe_options_default();
    o.host = BENCH_HOST;
    o.port = port;
    o.client_id = id;
    o.rx_buf = b->rx;
    o.rx_buf_len = sizeof b->rx;
    o.tx_buf = b->tx;
    o.tx_buf_len = sizeof b->tx;
    o.store_buf = b->store;
    o.store_buf_len = sizeof b->store;
    o.inflight_window = (uint16_t)(window > MQE_MAX_INFLIGHT ? MQE_MAX_INFLIGHT : window);
    o.ack_timeout_ms = 0; /* a loaded 2-core box must not turn slowness into a reconnect */
    if (mqe_init(&b->c, &o, &t, &p) != MQE_OK) {
        die("mqe_init failed");
    }
    mqe_set_message_handler(&b->c, on_message, b);
    mqe_set_event_handler(&b->c, on_event, b);
    if (mqe_connect(&b->c) != MQE_OK) {
        die("mqe_connect failed");
    }
    uint64_t until = now_ns() + 10000000000ull;
    while (mqe_state(&b->c) != MQE_STATE_CONNECTED) {
        if (now_ns() > until || b->disconnected) {
            die("connect failed");
        }
        mqe_poll(&b->c);
        sleep_ms(1);
    }
    b->fd = find_socket_fd(port, exclude_fd);
    if (b->fd < 0) {
        die("no socket found");
    }
}

static void subscribe(bench_client_t *b, const char *topic, int qos) {
    if (mqe_subscribe(&b->c, topic, (uint8_t)qos, NULL) != MQE_OK) {
        die("mqe_subscribe failed");
    }
    uint64_t until = now_ns() + 10000000000ull;
    while (!b->subscribed) {
        if (now_ns() > until || b->disconnected) {
            die("no SUBACK");
        }
        mqe_poll(&b->c);
        wait_fd(b->fd, POLLIN, 10);
    }
}

static void stop(bench_client_t *b) {
    if (mqe_disconnect(&b->c) != MQE_OK) {
        return;
    }
    uint64_t until = now_ns() + 5000000000ull;
    while (mqe_state(&b->c) != MQE_STATE_DISCONNECTED && now_ns() < until) {
        mqe_poll(&b->c);
        wait_fd(b->fd, POLLOUT, 10);
    }
}

/* Polls until `*counter` reaches `target`; waiting for the socket is outside the collection. */
static void poll_until(bench_client_t *b, const long *counter, long target) {
    uint64_t until = now_ns() + BENCH_TIMEOUT_NS;
    for (;;) {
        mqe_poll(&b->c);
        polls++;
        if (*counter >= target) {
            return;
        }
        if (b->disconnected || now_ns() > until) {
            die("exchange did not complete");
        }
        CALLGRIND_TOGGLE_COLLECT;
        wait_fd(b->fd, POLLIN, 1000);
        CALLGRIND_TOGGLE_COLLECT;
    }
}

static int cpu_mode(const bench_args_t *a) {
    static uint8_t payload[BENCH_PAYLOAD_LEN];
    fill_payload(payload);
    char topic[64];
    snprintf(topic, sizeof topic, "bench/cpu/%d", (int)getpid());
    start(&pub_client, a->port, "mqe-cpu-pub", 1, -1);

    if (strcmp(a->mode, "cpu-recv0") == 0) {
        stop(&pub_client);
        start(&sub_client, a->port, "mqe-cpu-sub", 1, -1);
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
        poll_until(&sub_client, &sub_client.received, a->count);
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
        if (mqe_publish(&pub_client.c, topic, payload, sizeof payload, (uint8_t)qos, false, NULL) !=
            MQE_OK) {
            die("mqe_publish failed");
        }
        if (qos == 0) {
            mqe_poll(&pub_client.c);
        } else {
            poll_until(&pub_client, &pub_client.completed, i + 1);
        }
    }
    CALLGRIND_TOGGLE_COLLECT;
    printf("cpu completed=%ld polls=%ld\n", qos == 0 ? a->count : pub_client.completed, polls);
    stop(&pub_client);
    return 0;
}

static int pub_mode(const bench_args_t *a) {
    static uint8_t payload[BENCH_PAYLOAD_LEN];
    fill_payload(payload);
    start(&pub_client, a->port, "mqe-pub", a->window, -1);
    int nodelay = tcp_nodelay(pub_client.fd);
    long published = 0;
    uint64_t first_ns = 0, until = now_ns() + BENCH_TIMEOUT_NS;
    while (published < a->count || (a->qos > 0 && pub_client.completed < a->count)) {
        if (now_ns() > until || pub_client.disconnected) {
            fprintf(stderr, "bench: publisher stopped at %ld/%ld\n", published, pub_client.completed);
            break;
        }
        int full = 0;
        while (published < a->count &&
               (a->qos == 0 || published - pub_client.completed < a->window)) {
            if (first_ns == 0) {
                first_ns = now_ns();
            }
            int rc = mqe_publish(&pub_client.c, a->topic, payload, sizeof payload, (uint8_t)a->qos,
                                 false, NULL);
            if (rc == MQE_ERR_FULL) {
                full = 1;
                break;
            }
            if (rc != MQE_OK) {
                die("mqe_publish failed");
            }
            published++;
        }
        long before = pub_client.completed;
        mqe_poll(&pub_client.c);
        if (full || (a->qos > 0 && pub_client.completed == before &&
                     published - pub_client.completed >= a->window)) {
            wait_fd(pub_client.fd, full ? (POLLIN | POLLOUT) : POLLIN, 10);
        }
    }
    stop(&pub_client);
    printf("pub first_ns=%llu published=%ld completed=%ld nodelay=%d\n", (unsigned long long)first_ns,
           published, a->qos == 0 ? published : pub_client.completed, nodelay);
    return 0;
}

static int sub_mode(const bench_args_t *a) {
    start(&sub_client, a->port, "mqe-sub", 1, -1);
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
        mqe_poll(&sub_client.c);
        if (sub_client.received < a->count) {
            wait_fd(sub_client.fd, POLLIN, 10);
        }
    }
    /* The last PUBACK/PUBCOMP must reach the broker before the socket closes. */
    stop(&sub_client);
    printf("sub received=%ld first_rx_ns=%llu last_rx_ns=%llu\n", sub_client.received,
           (unsigned long long)sub_client.first_rx_ns, (unsigned long long)sub_client.last_rx_ns);
    return 0;
}

static int lat_mode(const bench_args_t *a) {
    static uint8_t payload[BENCH_PAYLOAD_LEN];
    static uint64_t lat[BENCH_MAX_LAT];
    fill_payload(payload);
    long count = a->count < BENCH_MAX_LAT ? a->count : BENCH_MAX_LAT;
    char topic[64];
    snprintf(topic, sizeof topic, "bench/lat/%d", (int)getpid());
    start(&pub_client, a->port, "mqe-lat-pub", 1, -1);
    start(&sub_client, a->port, "mqe-lat-sub", 1, pub_client.fd);
    subscribe(&sub_client, topic, 1);
    sub_client.lat = lat;
    int fds[2] = {pub_client.fd, sub_client.fd};
    for (long i = 0; i < count; i++) {
        uint64_t until = now_ns() + 10000000000ull;
        lat[i] = now_ns();
        if (mqe_publish(&pub_client.c, topic, payload, sizeof payload, 1, false, NULL) != MQE_OK) {
            die("mqe_publish failed");
        }
        for (;;) {
            mqe_poll(&pub_client.c);
            mqe_poll(&sub_client.c);
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
    if (strncmp(a.mode, "cpu-", 4) == 0) {
        return cpu_mode(&a);
    }
    if (strcmp(a.mode, "pub") == 0) {
        return pub_mode(&a);
    }
    if (strcmp(a.mode, "sub") == 0) {
        return sub_mode(&a);
    }
    if (strcmp(a.mode, "lat") == 0) {
        return lat_mode(&a);
    }
    die("unknown mode");
    return 2;
}
