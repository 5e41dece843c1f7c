/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Reboot soak (scripts/soak_reboot.py): a publisher with its session store in a file-backed
 * flash region is killed with SIGKILL at random moments and restarted; a subscriber counts.
 *
 *   reboot pub FLASH APPLOG TAG Q1 Q2   publish Q1 QoS 1 + Q2 QoS 2 messages, resuming from
 *                                       APPLOG; exits 0 once all are published and complete
 *   reboot sub TAG Q1 Q2 DONEFILE       subscribe; count; once DONEFILE exists and nothing
 *                                       arrived for 3 s, print the result and exit
 *
 * The publisher's own record of what it published (APPLOG, append-only lines) survives the
 * kills: "I q s" before mqe_publish, "D q s" after MQE_OK, "F q s" after MQE_ERR_FULL. On a
 * restart, a last "I" without its "D" is a message whose fate the kill made unknown: it is
 * logged "U q s" and never published again (the store may hold it); the checker counts it
 * neither lost nor duplicated if it never arrives. Every loop is bounded in time. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flash_file.h"
#include "port_posix.h"

#define SECTOR_SIZE 4096u
#define SECTORS 4u
#define RUN_LIMIT_MS 600000u
#define QUIET_MS 3000u
/* Messages published per 10 ms at most: spreads the publishing over many kills. */
#define BATCH 20u

static mqe_client_t client;
static uint8_t rx[2048], tx[2048], store_buf[4096];
static port_posix_t port;
static mqe_transport_t transport;
static mqe_platform_t platform;
static char topics[3][96];
static char client_id[64];

/* Publisher state. */
static int applog = -1;
static uint32_t next_seq[3] = {0, 1, 1};
static uint32_t totals[3];
static uint32_t restored, completed, published;
static bool got_restored;

/* Subscriber state. */
static uint8_t *counts[3];
static uint32_t distinct[3], duplicates[3], unknown;
static bool subscribed;
static uint32_t last_arrival;

static void sleep_ms(uint32_t ms) {
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000u), .tv_nsec = (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
}

static void log_line(char kind, int q, uint32_t seq) {
    char line[32];
    int n = snprintf(line, sizeof line, "%c %d %u\n", kind, q, (unsigned)seq);
    if (write(applog, line, (size_t)n) != n) {
        fprintf(stderr, "reboot: applog write failed\n");
        exit(2);
    }
}

/* Replays APPLOG: the next sequence per QoS, and the one message a kill left unknown. */
static void resume_from_log(const char *path) {
    FILE *f = fopen(path, "r");
    char kind = 0, last_kind = 0;
    int q = 0, last_q = 0;
    unsigned seq = 0, last_seq = 0;
    if (f != NULL) {
        while (fscanf(f, " %c %d %u", &kind, &q, &seq) == 3) {
            if (q < 1 || q > 2) {
                continue;
            }
            if ((kind == 'D' || kind == 'U') && seq + 1u > next_seq[q]) {
                next_seq[q] = seq + 1u;
            }
            last_kind = kind;
            last_q = q;
            last_seq = seq;
        }
        fclose(f);
    }
    applog = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (applog < 0) {
        perror("reboot: applog");
        exit(2);
    }
    if (last_kind == 'I' && last_seq >= next_seq[last_q]) {
        log_line('U', last_q, last_seq);
        next_seq[last_q] = last_seq + 1u;
    }
}

static void on_event(void *user, const mqe_event_t *e) {
    (void)user;
    switch (e->kind) {
    case MQE_EVENT_RESTORED:
        restored = e->restored_outgoing;
        got_restored = true;
        break;
    case MQE_EVENT_PUBLISH_COMPLETE:
        completed++;
        break;
    case MQE_EVENT_SUBSCRIBED:
        subscribed = e->granted_count == 2 && e->granted[0] == 1 && e->granted[1] == 2;
        break;
    default:
        break;
    }
}

static uint32_t parse_seq(const uint8_t *p, size_t len) {
    uint32_t v = 0;
    if (len == 0 || len > 9) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return 0;
        }
        v = v * 10u + (uint32_t)(p[i] - '0');
    }
    return v;
}

static void on_message(void *user, const mqe_message_t *m) {
    (void)user;
    int level = 0;
    for (int q = 1; q <= 2; q++) {
        if (m->topic_len == strlen(topics[q]) && memcmp(m->topic, topics[q], m->topic_len) == 0) {
            level = q;
        }
    }
    uint32_t seq = parse_seq(m->payload, m->payload_len);
    if (level == 0 || seq == 0 || seq > totals[level]) {
        unknown++;
        return;
    }
    if (counts[level][seq] == 0) {
        distinct[level]++;
    } else {
        duplicates[level]++;
    }
    if (counts[level][seq] < 255) {
        counts[level][seq]++;
    }
    last_arrival = port_posix_now_ms();
}

static bool init_client(const char *role, const char *tag) {
    const char *host = getenv("MQE_BROKER_HOST");
    const char *port_text = getenv("MQE_BROKER_PORT");
    if (host == NULL || port_text == NULL) {
        fprintf(stderr, "reboot: set MQE_BROKER_HOST and MQE_BROKER_PORT\n");
        return false;
    }
    snprintf(client_id, sizeof client_id, "reboot-%s-%s", tag, role);
    for (int q = 1; q <= 2; q++) {
        snprintf(topics[q], sizeof topics[q], "mqe-reboot/%s/q%d", tag, q);
    }
    port_posix_platform(&platform);
    mqe_options_t o = mqe_options_default();
    o.host = host;
    o.port = (uint16_t)strtoul(port_text, NULL, 10);
    o.client_id = client_id;
    o.clean_session = false;
    o.keep_alive_s = 10;
    o.connect_timeout_ms = 3000;
    o.ack_timeout_ms = 5000;
    o.reconnect = true;
    o.reconnect_min_ms = 20;
    o.reconnect_max_ms = 500;
    o.rx_buf = rx;
    o.rx_buf_len = sizeof rx;
    o.tx_buf = tx;
    o.tx_buf_len = sizeof tx;
    o.store_buf = store_buf;
    o.store_buf_len = sizeof store_buf;
    port_posix_transport(&transport, &port);
    mqe_status_t st = mqe_init(&client, &o, &transport, &platform);
    if (st == MQE_OK) {
        st = mqe_set_event_handler(&client, on_event, NULL);
    }
    if (st != MQE_OK) {
        fprintf(stderr, "reboot: %s init: %s\n", role, mqe_strerror(st));
        return false;
    }
    return true;
}

static int run_pub(const char *flash_path, const char *log_path, const char *tag) {
    static flash_file_t ff;
    static mqe_flash_t flash;
    static mqe_store_t store;
    resume_from_log(log_path);
    if (flash_file_open(&ff, &flash, flash_path, SECTOR_SIZE, SECTORS, 4, 0) != 0) {
        perror("reboot: flash");
        return 2;
    }
    if (!init_client("pub", tag)) {
        return 2;
    }
    /* MQE_REBOOT_NO_STORE=1: the control run, without the store; it must lose messages. */
    bool no_store = getenv("MQE_REBOOT_NO_STORE") != NULL;
    mqe_status_t st = no_store ? MQE_OK : mqe_set_store(&client, &store, &flash);
    got_restored = got_restored || no_store;
    if (st != MQE_OK) {
        /* Never erased here: a refused region is a failure the soak must show. */
        fprintf(stderr, "reboot: mqe_set_store: %s\n", mqe_strerror(st));
        return 1;
    }
    st = mqe_connect(&client);
    if (st != MQE_OK) {
        fprintf(stderr, "reboot: connect: %s\n", mqe_strerror(st));
        return 1;
    }
    uint32_t t0 = port_posix_now_ms();
    while (port_posix_now_ms() - t0 < RUN_LIMIT_MS) {
        mqe_poll(&client);
        uint32_t batch = 0;
        static uint32_t batch_at;
        if (port_posix_now_ms() - batch_at >= 10u) {
            batch_at = port_posix_now_ms();
        } else {
            batch = BATCH; /* this 10 ms slot is used up */
        }
        while (batch++ < BATCH && (next_seq[1] <= totals[1] || next_seq[2] <= totals[2])) {
            int q = (next_seq[1] <= next_seq[2] && next_seq[1] <= totals[1]) || next_seq[2] > totals[2] ? 1 : 2;
            char payload[16];
            int len = snprintf(payload, sizeof payload, "%u", (unsigned)next_seq[q]);
            log_line('I', q, next_seq[q]);
            st = mqe_publish(&client, topics[q], payload, (size_t)len, (uint8_t)q, false, NULL);
            if (st == MQE_ERR_FULL) {
                log_line('F', q, next_seq[q]);
                break;
            }
            if (st != MQE_OK) {
                fprintf(stderr, "reboot: publish: %s\n", mqe_strerror(st));
                return 1;
            }
            log_line('D', q, next_seq[q]);
            next_seq[q]++;
            published++;
        }
        bool all_published = next_seq[1] > totals[1] && next_seq[2] > totals[2];
        /* The RESTORED event comes with the first poll; until then the count is unknown. */
        if (all_published && got_restored && completed >= restored + published) {
            printf("pub: done restored=%u published=%u\n", (unsigned)restored, (unsigned)published);
            fflush(stdout);
            mqe_disconnect(&client);
            for (int i = 0; i < 200 && mqe_state(&client) != MQE_STATE_DISCONNECTED; i++) {
                mqe_poll(&client);
                sleep_ms(5);
            }
            return 0;
        }
        if (mqe_next_deadline_ms(&client) > 0) {
            struct timespec nap = {.tv_sec = 0, .tv_nsec = 200000L};
            nanosleep(&nap, NULL);
        }
    }
    fprintf(stderr, "reboot: publisher ran out of time\n");
    return 1;
}

static int run_sub(const char *tag, const char *done_path) {
    for (int q = 1; q <= 2; q++) {
        counts[q] = calloc((size_t)totals[q] + 1u, 1);
        if (counts[q] == NULL) {
            return 2;
        }
    }
    if (!init_client("sub", tag) || mqe_set_message_handler(&client, on_message, NULL) != MQE_OK ||
        mqe_connect(&client) != MQE_OK) {
        return 2;
    }
    uint32_t t0 = port_posix_now_ms();
    bool asked = false, ready = false;
    last_arrival = t0;
    while (port_posix_now_ms() - t0 < RUN_LIMIT_MS * 2u) {
        if (mqe_state(&client) == MQE_STATE_CONNECTED && !asked) {
            mqe_subscription_t subs[2] = {{topics[1], 1}, {topics[2], 2}};
            asked = mqe_subscribe_many(&client, subs, 2, NULL) == MQE_OK;
        }
        if (subscribed && !ready) {
            ready = true;
            printf("sub: ready\n");
            fflush(stdout);
        }
        mqe_poll(&client);
        bool all = distinct[1] == totals[1] && distinct[2] == totals[2];
        if (access(done_path, F_OK) == 0 && (all || port_posix_now_ms() - last_arrival > QUIET_MS)) {
            break;
        }
        sleep_ms(1);
    }
    printf("sub: result qos1 received=%u duplicated=%u qos2 received=%u duplicated=%u unknown=%u\n",
           (unsigned)distinct[1], (unsigned)duplicates[1], (unsigned)distinct[2], (unsigned)duplicates[2],
           (unsigned)unknown);
    for (int q = 1; q <= 2; q++) {
        for (uint32_t s = 1; s <= totals[q]; s++) {
            if (counts[q][s] == 0) {
                printf("sub: missing %d %u\n", q, (unsigned)s);
            }
        }
    }
    fflush(stdout);
    mqe_disconnect(&client);
    for (int i = 0; i < 200 && mqe_state(&client) != MQE_STATE_DISCONNECTED; i++) {
        mqe_poll(&client);
        sleep_ms(5);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 7 && strcmp(argv[1], "pub") == 0) {
        totals[1] = (uint32_t)strtoul(argv[5], NULL, 10);
        totals[2] = (uint32_t)strtoul(argv[6], NULL, 10);
        return run_pub(argv[2], argv[3], argv[4]);
    }
    if (argc == 6 && strcmp(argv[1], "sub") == 0) {
        totals[1] = (uint32_t)strtoul(argv[3], NULL, 10);
        totals[2] = (uint32_t)strtoul(argv[4], NULL, 10);
        return run_sub(argv[2], argv[5]);
    }
    fprintf(stderr, "usage: reboot pub FLASH APPLOG TAG Q1 Q2 | reboot sub TAG Q1 Q2 DONEFILE\n");
    return 2;
}
