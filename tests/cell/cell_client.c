/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The client side of the cellular link test (scripts/cell_link.py drives it): connects through
 * the link emulator to mosquitto, publishes numbered QoS 1 messages to a topic it subscribes
 * to, and obeys one-word commands on stdin, as a firmware obeys its modem's data-call
 * callback:
 *   down / up   mqe_link_down / mqe_link_up
 *   quiet / talk  stop / resume publishing
 *   finish      disconnect cleanly, print the wire counters and exit
 * It reports on stdout, one line each: EVENT ..., ACCEPTED n, GOT n, IDLE, STATS ...
 * Bounded: exits 2 after MAX_RUN_MS.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mqtt_engine.h"
#include "port_posix.h"

#if !defined(MQE_FEATURE_LINK) || !defined(MQE_FEATURE_STATS) || !defined(MQE_FEATURE_PENDING)
#error "the cellular link test needs the link, stats and pending features (the default build)"
#endif

#define MAX_RUN_MS 240000u
#define PUBLISH_EVERY_MS 500u
#define MAX_MESSAGES 4096

static mqe_client_t client;
static uint8_t rx[1024], tx[1024], store[8192];
static port_posix_t port;
static mqe_transport_t transport;
static mqe_platform_t platform;
static char topic[64];
static unsigned char got[MAX_MESSAGES];

static void say(const char *line) {
    printf("%s\n", line);
    fflush(stdout);
}

static void on_message(void *user, const mqe_message_t *m) {
    char text[16];
    size_t n = m->payload_len < sizeof text - 1 ? m->payload_len : sizeof text - 1;
    unsigned long seq;
    (void)user;
    memcpy(text, m->payload, n);
    text[n] = '\0';
    seq = strtoul(text, NULL, 10);
    if (seq < MAX_MESSAGES && !got[seq]) {
        got[seq] = 1;
        printf("GOT %lu\n", seq);
        fflush(stdout);
    }
}

static void on_event(void *user, const mqe_event_t *e) {
    (void)user;
    switch (e->kind) {
    case MQE_EVENT_CONNECTED:
        printf("EVENT CONNECTED %d\n", e->session_present ? 1 : 0);
        break;
    case MQE_EVENT_DISCONNECTED:
        printf("EVENT DISCONNECTED %d\n", (int)e->reason);
        break;
    case MQE_EVENT_RECONNECTING:
        printf("EVENT RECONNECTING %u %u\n", (unsigned)e->attempt, (unsigned)e->delay_ms);
        break;
    case MQE_EVENT_LINK_DOWN:
        printf("EVENT LINK_DOWN\n");
        break;
    case MQE_EVENT_LINK_UP:
        printf("EVENT LINK_UP\n");
        break;
    case MQE_EVENT_IDLE:
        printf("IDLE\n");
        break;
    case MQE_EVENT_SUBSCRIBED:
        printf("EVENT SUBSCRIBED\n");
        break;
    default:
        return;
    }
    fflush(stdout);
}

/* One command line from stdin, if a whole one is there (stdin is non-blocking). */
static int read_command(char *out, size_t cap) {
    static char buf[128];
    static size_t len;
    ssize_t n = read(STDIN_FILENO, buf + len, sizeof buf - 1 - len);
    char *nl;
    if (n > 0) len += (size_t)n;
    buf[len] = '\0';
    nl = strchr(buf, '\n');
    if (nl == NULL) {
        if (len == sizeof buf - 1) len = 0; /* no command is that long */
        return 0;
    }
    *nl = '\0';
    snprintf(out, cap, "%s", buf);
    len -= (size_t)(nl + 1 - buf);
    memmove(buf, nl + 1, len);
    return 1;
}

static void print_stats(void) {
    mqe_stats_t s;
    if (mqe_stats(&client, &s) != MQE_OK) {
        say("STATS error");
        return;
    }
    printf("STATS sent=%llu received=%llu connects=%u reconnects=%u pings=%u resends=%u "
           "connect_pkts=%u publish_pkts=%u\n",
           (unsigned long long)s.bytes_sent, (unsigned long long)s.bytes_received,
           (unsigned)s.connects, (unsigned)s.reconnects, (unsigned)s.pings,
           (unsigned)s.publish_resends, (unsigned)s.packets_sent[1],
           (unsigned)s.packets_sent[3]);
    fflush(stdout);
}

int main(void) {
    const char *host = getenv("MQE_BROKER_HOST");
    const char *port_env = getenv("MQE_BROKER_PORT");
    const char *ka = getenv("MQE_CELL_KEEP_ALIVE");
    const char *nat = getenv("MQE_CELL_NAT_TIMEOUT");
    char client_id[32], cmd[128];
    uint32_t start, next_publish;
    unsigned seq = 0;
    int talking = 1, finishing = 0, subscribed = 0;
    mqe_options_t o = mqe_options_default();

    if (fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK) != 0) return 1;
    port_posix_transport(&transport, &port);
    port_posix_platform(&platform);
    snprintf(client_id, sizeof client_id, "cell-%ld", (long)getpid());
    snprintf(topic, sizeof topic, "cell/%ld/seq", (long)getpid());
    o.host = host ? host : "127.0.0.1";
    o.port = port_env ? (uint16_t)atoi(port_env) : 1883;
    o.client_id = client_id;
    o.clean_session = false;
    o.keep_alive_s = ka ? (uint16_t)atoi(ka) : 60;
    o.nat_timeout_s = nat ? (uint32_t)atoi(nat) : 0;
    o.reconnect_min_ms = 500;
    o.reconnect_max_ms = 4000;
    o.connect_timeout_ms = 15000;
    o.ack_timeout_ms = 0; /* a slow link is not a dead one: keep-alive judges that */
    o.idle_event = true;
    o.rx_buf = rx;
    o.rx_buf_len = sizeof rx;
    o.tx_buf = tx;
    o.tx_buf_len = sizeof tx;
    o.store_buf = store;
    o.store_buf_len = sizeof store;
    if (mqe_init(&client, &o, &transport, &platform) != MQE_OK) return 1;
    mqe_set_message_handler(&client, on_message, NULL);
    mqe_set_event_handler(&client, on_event, NULL);
    if (mqe_connect(&client) != MQE_OK) return 1;
    start = platform.now_ms(platform.ctx);
    next_publish = start;
    say("READY");
    for (;;) {
        uint32_t now = platform.now_ms(platform.ctx);
        uint32_t sleep_ms;
        if (now - start > MAX_RUN_MS) {
            say("TIMEOUT");
            return 2;
        }
        mqe_poll(&client);
        if (!subscribed && mqe_state(&client) == MQE_STATE_CONNECTED) {
            /* Once: the session (clean_session 0) keeps it across reconnects. */
            subscribed = mqe_subscribe(&client, topic, 1, NULL) == MQE_OK;
        }
        while (read_command(cmd, sizeof cmd)) {
            if (strcmp(cmd, "down") == 0) {
                mqe_link_down(&client);
            } else if (strcmp(cmd, "up") == 0) {
                mqe_link_up(&client);
            } else if (strcmp(cmd, "quiet") == 0) {
                talking = 0;
            } else if (strcmp(cmd, "talk") == 0) {
                talking = 1;
            } else if (strcmp(cmd, "pending") == 0) {
                mqe_pending_t p;
                mqe_pending(&client, &p);
                printf("PENDING inflight=%u qos0=%u subs=%u tx=%u idle=%d state=%d\n",
                       (unsigned)p.inflight, (unsigned)p.qos0_queued,
                       (unsigned)p.subs_awaiting, (unsigned)p.tx_bytes, p.idle ? 1 : 0,
                       (int)mqe_state(&client));
                fflush(stdout);
            } else if (strcmp(cmd, "finish") == 0 && !finishing) {
                finishing = 1;
                talking = 0;
                mqe_disconnect(&client);
            }
        }
        if (finishing && mqe_state(&client) == MQE_STATE_DISCONNECTED) {
            mqe_poll(&client); /* delivers the last event */
            print_stats();
            say("DONE");
            return 0;
        }
        if (talking && subscribed && (int32_t)(now - next_publish) >= 0 && seq < MAX_MESSAGES) {
            char payload[16];
            int n = snprintf(payload, sizeof payload, "%u", seq);
            mqe_status_t status = mqe_publish(&client, topic, payload, (size_t)n, 1, false, NULL);
            if (status == MQE_OK) {
                printf("ACCEPTED %u\n", seq);
                fflush(stdout);
                seq++;
            }
            next_publish = now + PUBLISH_EVERY_MS;
        }
        sleep_ms = mqe_next_deadline_ms(&client);
        platform.delay_ms(platform.ctx, sleep_ms < 10 ? sleep_ms : 10);
    }
}
