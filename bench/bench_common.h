/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* What the two bench programs (mqe_bench.c over mqtt-engine, mosq_bench.c over libmosquitto)
 * share: the command line, clocks, waiting on a socket, callgrind toggles and result lines.
 * Both programs run the same workloads so that bench/run.py can put them side by side.
 *
 *   PROG cpu-pub0 PORT N    N x (QoS 0 publish of 64 bytes + one service call)
 *   PROG cpu-recv0 PORT N   receive and dispatch N QoS 0 messages already in the socket
 *                           (fed by raw_publish_qos0, the same for both libraries)
 *   PROG cpu-qos1 PORT N    N complete QoS 1 exchanges, one at a time (publisher side)
 *   PROG cpu-qos2 PORT N    N complete QoS 2 exchanges, one at a time (publisher side)
 *   PROG pub PORT QOS COUNT WINDOW TOPIC   throughput publisher
 *   PROG sub PORT QOS COUNT TOPIC          throughput subscriber (prints "ready" once subscribed)
 *   PROG lat PORT COUNT                    QoS 1 publish->receive latency, one message at a time
 *
 * In the cpu-* modes callgrind collects only the measured loop (run with
 * --collect-atstart=no); waiting for the broker is excluded. How many polls an exchange takes
 * still depends on when the ack lands, so run.py takes the median of three runs.
 * Every loop is bounded by a count and by BENCH_TIMEOUT_NS.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* ppoll */
#endif

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

#define BENCH_PAYLOAD_LEN 64
#define BENCH_HOST "127.0.0.1"
/* No single phase of a run may take longer than this. */
#define BENCH_TIMEOUT_NS (60ull * 1000000000ull)
/* A subscriber that hears nothing for this long after its last message gives up. */
#define BENCH_IDLE_NS (5ull * 1000000000ull)
#define BENCH_MAX_LAT 100000

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void die(const char *what) {
    fprintf(stderr, "bench: %s\n", what);
    exit(2);
}

static inline void sleep_ms(unsigned ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The bench's own waits use ppoll, which neither library calls, so strace counts of the
 * libraries' syscalls can leave them out. Returns when an fd is ready or after timeout_ms. */
static inline void wait_fds(const int *fds, int n, short events, int timeout_ms) {
    struct pollfd p[4];
    for (int i = 0; i < n && i < 4; i++) {
        p[i].fd = fds[i];
        p[i].events = events;
        p[i].revents = 0;
    }
    struct timespec ts = {.tv_sec = timeout_ms / 1000, .tv_nsec = (long)(timeout_ms % 1000) * 1000000L};
    (void)ppoll(p, (nfds_t)(n < 4 ? n : 4), &ts, NULL);
}

static inline void wait_fd(int fd, short events, int timeout_ms) {
    wait_fds(&fd, 1, events, timeout_ms);
}

/* The TCP socket connected to 127.0.0.1:port that is not `exclude` (mqtt-engine's port keeps
 * its fds private; the bench only needs one to wait on). -1 when none. */
static inline int find_socket_fd(uint16_t port, int exclude) {
    int found = -1;
    for (int fd = 3; fd < 1024; fd++) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        if (fd == exclude || getpeername(fd, (struct sockaddr *)&peer, &len) != 0) {
            continue;
        }
        if (peer.sin_family == AF_INET && ntohs(peer.sin_port) == port) {
            found = fd; /* the highest: the newest connection */
        }
    }
    return found;
}

/* 1 when TCP_NODELAY is set on fd. */
static inline int tcp_nodelay(int fd) {
    int on = 0;
    socklen_t len = sizeof on;
    return getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) == 0 && on != 0;
}

/* Waits (bounded) until `fd` holds at least `bytes` unread bytes; returns what it holds. */
static inline int wait_buffered(int fd, int bytes) {
    int have = 0;
    uint64_t until = now_ns() + 5000000000ull;
    while (now_ns() < until) {
        if (ioctl(fd, FIONREAD, &have) != 0 || have >= bytes) {
            break;
        }
        sleep_ms(2);
    }
    return have;
}

/* Publishes n QoS 0 messages through a bare blocking TCP connection: hand-encoded MQTT 3.1.1,
 * one write for all of them. The cpu-recv0 mode feeds its subscriber this way, so the
 * publishing adds the same few syscalls and instructions to both libraries' counts, whatever n.
 * Returns 0 when everything was written. */
static inline int raw_publish_qos0(uint16_t port, const char *topic, const uint8_t *payload, long n) {
    static uint8_t buf[1 << 20];
    size_t topic_len = strlen(topic);
    size_t rem = 2 + topic_len + BENCH_PAYLOAD_LEN; /* < 128: one length byte */
    size_t packet = 2 + rem;
    if (rem > 127 || (size_t)n * packet + 64 > sizeof buf) {
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        return -1;
    }
    /* CONNECT: protocol "MQTT" level 4, clean session, keep-alive 60, client id "bench-raw". */
    static const uint8_t connect_packet[] = {0x10, 0x15, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02,
                                             0x00, 0x3C, 0x00, 0x09, 'b', 'e', 'n', 'c', 'h',
                                             '-', 'r', 'a', 'w'};
    uint8_t connack[4];
    if (write(fd, connect_packet, sizeof connect_packet) != (ssize_t)sizeof connect_packet ||
        recv(fd, connack, sizeof connack, MSG_WAITALL) != 4 || connack[3] != 0) {
        close(fd);
        return -1;
    }
    size_t len = 0;
    for (long i = 0; i < n; i++) {
        buf[len++] = 0x30;
        buf[len++] = (uint8_t)rem;
        buf[len++] = (uint8_t)(topic_len >> 8);
        buf[len++] = (uint8_t)topic_len;
        memcpy(buf + len, topic, topic_len);
        len += topic_len;
        memcpy(buf + len, payload, BENCH_PAYLOAD_LEN);
        len += BENCH_PAYLOAD_LEN;
    }
    buf[len++] = 0xE0; /* DISCONNECT */
    buf[len++] = 0x00;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, buf + done, len - done);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)w;
    }
    close(fd);
    return 0;
}

static inline int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Prints "lat count=N p50_us=.. p99_us=.." from per-message latencies in ns (sorted here). */
static inline void print_latency(uint64_t *lat, int n) {
    if (n <= 0) {
        printf("lat count=0\n");
        return;
    }
    qsort(lat, (size_t)n, sizeof lat[0], cmp_u64);
    int i50 = (n * 50) / 100, i99 = (n * 99) / 100;
    if (i99 >= n) {
        i99 = n - 1;
    }
    printf("lat count=%d p50_us=%.1f p99_us=%.1f max_us=%.1f\n", n, lat[i50] / 1e3, lat[i99] / 1e3,
           lat[n - 1] / 1e3);
}

typedef struct {
    const char *mode;
    uint16_t port;
    int qos;
    long count;
    int window;
    const char *topic;
} bench_args_t;

static inline bench_args_t parse_args(int argc, char **argv) {
    bench_args_t a = {.mode = NULL, .port = 0, .qos = 0, .count = 0, .window = 1, .topic = "bench/t"};
    if (argc < 4) {
        die("usage: PROG MODE PORT ... (see bench/bench_common.h)");
    }
    a.mode = argv[1];
    a.port = (uint16_t)atoi(argv[2]);
    if (strncmp(a.mode, "cpu-", 4) == 0 || strcmp(a.mode, "lat") == 0) {
        a.count = atol(argv[3]);
    } else if (strcmp(a.mode, "pub") == 0 && argc >= 7) {
        a.qos = atoi(argv[3]);
        a.count = atol(argv[4]);
        a.window = atoi(argv[5]);
        a.topic = argv[6];
    } else if (strcmp(a.mode, "sub") == 0 && argc >= 6) {
        a.qos = atoi(argv[3]);
        a.count = atol(argv[4]);
        a.topic = argv[5];
    } else {
        die("bad arguments");
    }
    if (a.count < 0 || a.count > 10000000 || a.window < 1 || a.qos < 0 || a.qos > 2) {
        die("argument out of range");
    }
    return a;
}

static inline void fill_payload(uint8_t *p) {
    for (int i = 0; i < BENCH_PAYLOAD_LEN; i++) {
        p[i] = (uint8_t)('a' + i % 26);
    }
}

#endif /* BENCH_COMMON_H */
