/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * ports/lwip against mosquitto through a real lwIP (Debian's liblwip, the unix port): lwIP
 * runs in this process on a TAP device (tapif) whose kernel end carries the broker's
 * address. scripts/lwip_netns.sh sets up the namespace, the TAP and the broker, then runs
 * this with:
 *   PRECONFIGURED_TAPIF  the TAP device tapif attaches to
 *   LWIP_TEST_IP         this side's address (the broker's /24)
 *   MQE_BROKER_HOST/PORT the broker, on the kernel end of the TAP
 *   LWIP_TEST_CUT/HEAL   shell commands taking the TAP link down and up again
 *
 *   lwip_test [filter]      the cases whose name contains filter (all when absent)
 *   lwip_test --bench N     N QoS 1 publishes, each waited for (PORTING.md: instructions)
 *
 * Every byte the engine sends or receives through the port is also parsed here into MQTT
 * packets (fixed header and the first bytes), so the checks can name what went on the wire.
 */
#define _POSIX_C_SOURCE 200809L /* POSIX.1-2008 under -std=c99; must precede every include */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mqtt_engine.h"
#include "port_lwip.h"
#include "port_posix.h" /* the platform only: tick, sleep, log */

#include "lwip/init.h"
#include "lwip/ip4_addr.h"
#include "lwip/ip6_addr.h"
#include "lwip/netif.h"
#include "lwip/sockets.h"
#include "lwip/sys.h"
#include "lwip/tcpip.h"
#include "netif/tapif.h"

#define WAIT_MS 8000u
#define MAX_MSGS 16
#define MAX_EVENTS 32
#define MAX_PKTS 512

/* ---- the wire, as the port carried it ------------------------------------------------ */

typedef struct {
    uint8_t hdr;      /* first byte: type << 4 | flags */
    uint32_t len;     /* remaining length */
    uint8_t head[4];  /* the first bytes after the fixed header */
    uint16_t pid;     /* packet id: after a QoS 1/2 PUBLISH's topic, else the first 2 bytes */
    uint32_t conn;    /* which connection of this client (1, 2, ...) */
} pkt_t;

typedef struct {
    pkt_t pkts[MAX_PKTS];
    size_t count;
    int stage; /* 0: fixed header byte, 1: remaining length, 2: body */
    uint32_t mult, got;
    pkt_t cur;
} wire_t;

static void wire_reset(wire_t *w, uint32_t conn) {
    w->stage = 0;
    memset(&w->cur, 0, sizeof w->cur);
    w->cur.conn = conn;
}

static void wire_done(wire_t *w) {
    if ((w->cur.hdr >> 4) != 3 && w->cur.len >= 2) {
        w->cur.pid = (uint16_t)((w->cur.head[0] << 8) | w->cur.head[1]);
    }
    if (w->count < MAX_PKTS) {
        w->pkts[w->count++] = w->cur;
    }
    wire_reset(w, w->cur.conn);
}

static void wire_feed(wire_t *w, const uint8_t *buf, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint8_t b = buf[i];
        if (w->stage == 0) {
            w->cur.hdr = b;
            w->cur.len = 0;
            w->mult = 1;
            w->got = 0;
            w->stage = 1;
        } else if (w->stage == 1) {
            w->cur.len += (uint32_t)(b & 0x7fu) * w->mult;
            w->mult *= 128u;
            if ((b & 0x80u) == 0) {
                w->stage = 2;
                if (w->cur.len == 0) {
                    wire_done(w);
                }
            }
        } else {
            if (w->got < sizeof w->cur.head) {
                w->cur.head[w->got] = b;
            }
            uint32_t topic_end = 2u + (uint32_t)((w->cur.head[0] << 8) | w->cur.head[1]);
            if ((w->cur.hdr >> 4) == 3 && (w->cur.hdr & 0x06u) != 0 && w->got >= 2) {
                if (w->got == topic_end) {
                    w->cur.pid = (uint16_t)(b << 8);
                } else if (w->got == topic_end + 1) {
                    w->cur.pid |= b;
                }
            }
            if (++w->got == w->cur.len) {
                wire_done(w);
            }
        }
    }
}

/* ---- clients ---------------------------------------------------------------------------- */

typedef struct {
    char topic[96];
    char payload[64];
    uint8_t qos;
    bool dup;
} msg_t;

typedef struct {
    bool in_use;
    mqe_client_t client;
    uint8_t rx[1024], tx[1024], store[2048];
    char id[24];
    port_lwip_t port;
    mqe_transport_t inner; /* the port's table; the client gets the recording one */
    mqe_transport_t transport;
    uint32_t conns;
    wire_t sent, received;
    msg_t msgs[MAX_MSGS];
    size_t msg_count;
    mqe_event_t events[MAX_EVENTS];
    size_t event_count;
    long completes; /* PUBLISH_COMPLETE events, beyond the record too */
} lc_t;

static lc_t pool[3];
static struct netif tap_netif; /* lwIP's side of the TAP */
static ip4_addr_t local_ip, netmask, gateway;
static sys_sem_t lwip_ready, netif_done;
static ip6_addr_t local_ip6;
static bool have_ip6;
static s8_t ip6_index = -1;
static mqe_platform_t platform;
static char run_id[9];
static const char *broker_host;
static uint16_t broker_port;

static int32_t rec_open(void *ctx) {
    lc_t *c = ctx;
    int32_t sock = c->inner.open(c->inner.ctx);
    if (sock >= 0) {
        c->conns++;
        wire_reset(&c->sent, c->conns);
        wire_reset(&c->received, c->conns);
    }
    return sock;
}
static int32_t rec_connect(void *ctx, int32_t sock, const mqe_sockaddr_t *addr) {
    lc_t *c = ctx;
    return c->inner.connect(c->inner.ctx, sock, addr);
}
static int32_t rec_send(void *ctx, int32_t sock, const uint8_t *buf, size_t len) {
    lc_t *c = ctx;
    int32_t n = c->inner.send(c->inner.ctx, sock, buf, len);
    if (n > 0) {
        wire_feed(&c->sent, buf, (size_t)n);
    }
    return n;
}
static int32_t rec_recv(void *ctx, int32_t sock, uint8_t *buf, size_t len) {
    lc_t *c = ctx;
    int32_t n = c->inner.recv(c->inner.ctx, sock, buf, len);
    if (n > 0) {
        wire_feed(&c->received, buf, (size_t)n);
    }
    return n;
}
static void rec_close(void *ctx, int32_t sock) {
    lc_t *c = ctx;
    c->inner.close(c->inner.ctx, sock);
}

static void on_event(void *user, const mqe_event_t *ev) {
    lc_t *c = user;
    c->completes += ev->kind == MQE_EVENT_PUBLISH_COMPLETE;
    if (c->event_count < MAX_EVENTS) {
        c->events[c->event_count] = *ev;
        c->events[c->event_count].granted = NULL; /* valid only during the callback */
        c->event_count++;
    }
}

static void on_message(void *user, const mqe_message_t *msg) {
    lc_t *c = user;
    if (c->msg_count >= MAX_MSGS) {
        return;
    }
    msg_t *m = &c->msgs[c->msg_count++];
    memset(m, 0, sizeof *m);
    memcpy(m->topic, msg->topic, msg->topic_len < sizeof m->topic - 1 ? msg->topic_len : sizeof m->topic - 1);
    memcpy(m->payload, msg->payload,
           msg->payload_len < sizeof m->payload - 1 ? msg->payload_len : sizeof m->payload - 1);
    m->qos = msg->qos;
    m->dup = msg->dup;
}

static void topic(char *buf, size_t len, const char *suffix) {
    snprintf(buf, len, "mqe-lwip/%s/%s", run_id, suffix);
}

/* A client with the port's transport wrapped in the recorder; opts as the test wants. */
static lc_t *lc_alloc(const char *role, mqe_options_t *opts) {
    for (size_t i = 0; i < sizeof pool / sizeof pool[0]; i++) {
        lc_t *c = &pool[i];
        if (c->in_use) {
            continue;
        }
        memset(c, 0, sizeof *c);
        c->in_use = true;
        snprintf(c->id, sizeof c->id, "%s%.12s", run_id, role);
        port_lwip_transport(&c->inner, &c->port);
        c->transport = (mqe_transport_t){c, rec_open, rec_connect, rec_send, rec_recv, rec_close, NULL};
        *opts = mqe_options_default();
        opts->host = broker_host;
        opts->port = broker_port;
        opts->client_id = c->id;
        opts->reconnect = false;
        opts->rx_buf = c->rx;
        opts->rx_buf_len = sizeof c->rx;
        opts->tx_buf = c->tx;
        opts->tx_buf_len = sizeof c->tx;
        opts->store_buf = c->store;
        opts->store_buf_len = sizeof c->store;
        return c;
    }
    h_fail(__FILE__, __LINE__, "client pool exhausted");
    return NULL;
}

static void pump(void) {
    for (size_t i = 0; i < sizeof pool / sizeof pool[0]; i++) {
        if (pool[i].in_use) {
            (void)mqe_poll(&pool[i].client);
        }
    }
    platform.delay_ms(platform.ctx, 1);
}

static void settle(uint32_t ms) {
    uint64_t until = h_real_ms() + ms;
    while (h_real_ms() < until) {
        pump();
    }
}

static size_t count_events(const lc_t *c, mqe_event_kind_t kind) {
    size_t n = 0;
    for (size_t i = 0; i < c->event_count; i++) {
        n += c->events[i].kind == kind;
    }
    return n;
}

static const mqe_event_t *find_event(const lc_t *c, mqe_event_kind_t kind, int32_t packet_id) {
    for (size_t i = 0; i < c->event_count; i++) {
        if (c->events[i].kind == kind && (packet_id < 0 || c->events[i].packet_id == packet_id)) {
            return &c->events[i];
        }
    }
    return NULL;
}

/* Packets of wire w with this first byte (type and flags), on connection conn (0: any). */
static size_t count_pkts(const wire_t *w, uint8_t hdr, uint32_t conn) {
    size_t n = 0;
    for (size_t i = 0; i < w->count; i++) {
        n += w->pkts[i].hdr == hdr && (conn == 0 || w->pkts[i].conn == conn);
    }
    return n;
}

static const pkt_t *find_pkt(const wire_t *w, uint8_t hdr, uint32_t conn) {
    for (size_t i = 0; i < w->count; i++) {
        if (w->pkts[i].hdr == hdr && (conn == 0 || w->pkts[i].conn == conn)) {
            return &w->pkts[i];
        }
    }
    return NULL;
}

static size_t count_msgs(const lc_t *c, const char *t) {
    size_t n = 0;
    for (size_t i = 0; i < c->msg_count; i++) {
        n += strcmp(c->msgs[i].topic, t) == 0;
    }
    return n;
}

static const msg_t *find_msg(const lc_t *c, const char *t) {
    for (size_t i = 0; i < c->msg_count; i++) {
        if (strcmp(c->msgs[i].topic, t) == 0) {
            return &c->msgs[i];
        }
    }
    return NULL;
}

static bool lc_start(lc_t *c, const mqe_options_t *opts) {
    mqe_status_t st = mqe_init(&c->client, opts, &c->transport, &platform);
    if (st == MQE_OK) {
        st = mqe_set_event_handler(&c->client, on_event, c);
    }
    if (st == MQE_OK) {
        st = mqe_set_message_handler(&c->client, on_message, c);
    }
    if (st == MQE_OK) {
        st = mqe_connect(&c->client);
    }
    if (st != MQE_OK) {
        h_fail(__FILE__, __LINE__, "%s: %s", c->id, mqe_strerror(st));
        return false;
    }
    return true;
}

/* alloc + init + connect; waits for CONNECTED. */
static lc_t *lc_open(const char *role, bool clean_session, uint16_t keep_alive_s) {
    mqe_options_t opts;
    lc_t *c = lc_alloc(role, &opts);
    if (c == NULL) {
        return NULL;
    }
    opts.clean_session = clean_session;
    opts.keep_alive_s = keep_alive_s;
    if (!lc_start(c, &opts)) {
        return NULL;
    }
    WAIT_UNTIL(c->event_count > 0, WAIT_MS, pump);
    if (c->event_count == 0 || c->events[0].kind != MQE_EVENT_CONNECTED) {
        h_fail(__FILE__, __LINE__, "%s: no CONNECTED (events %zu, first kind %d, reason %s)", c->id,
               c->event_count, c->event_count > 0 ? c->events[0].kind : -1,
               c->event_count > 0 ? mqe_strerror(c->events[0].reason) : "-");
        return NULL;
    }
    return c;
}

static int subscribe_wait(lc_t *c, const char *filter, uint8_t qos) {
    uint16_t id = 0;
    if (mqe_subscribe(&c->client, filter, qos, &id) != MQE_OK) {
        return -1;
    }
    WAIT_UNTIL(find_event(c, MQE_EVENT_SUBSCRIBED, id) != NULL, WAIT_MS, pump);
    const mqe_event_t *ev = find_event(c, MQE_EVENT_SUBSCRIBED, id);
    return ev != NULL && ev->granted_count == 1 ? 0 : -1;
}

static void teardown(void) {
    for (size_t i = 0; i < sizeof pool / sizeof pool[0]; i++) {
        if (pool[i].in_use && mqe_state(&pool[i].client) != MQE_STATE_DISCONNECTED) {
            (void)mqe_disconnect(&pool[i].client);
        }
    }
    bool down = false;
    uint64_t until = h_real_ms() + WAIT_MS;
    while (!down && h_real_ms() < until) {
        pump();
        down = true;
        for (size_t i = 0; i < sizeof pool / sizeof pool[0]; i++) {
            down = down && (!pool[i].in_use || mqe_state(&pool[i].client) == MQE_STATE_DISCONNECTED);
        }
    }
    if (!down) {
        h_fail(__FILE__, __LINE__, "a client did not reach DISCONNECTED");
    }
    for (size_t i = 0; i < sizeof pool / sizeof pool[0]; i++) {
        pool[i].in_use = false;
    }
    if (port_lwip_open_sockets() != 0) {
        h_fail(__FILE__, __LINE__, "%d port_lwip sockets left open", port_lwip_open_sockets());
    }
}

/* ---- cases ------------------------------------------------------------------------------ */

/* QoS 0, 1 and 2 from one lwIP client to another, each flow's packets on the wire. */
static void qos_round_trips(void) {
    char t[96];
    topic(t, sizeof t, "qos");
    lc_t *sub = lc_open("sub", true, 60);
    lc_t *pub = lc_open("pub", true, 60);
    REQUIRE(sub != NULL && pub != NULL);
    REQUIRE(subscribe_wait(sub, t, 2) == 0);
    REQUIRE(find_pkt(&sub->sent, 0x82, 0) != NULL); /* SUBSCRIBE */
    REQUIRE(find_pkt(&sub->received, 0x90, 0) != NULL); /* SUBACK */
    uint16_t id1 = 0, id2 = 0;
    REQUIRE_EQ(mqe_publish(&pub->client, t, "q0", 2, 0, false, NULL), MQE_OK);
    REQUIRE_EQ(mqe_publish(&pub->client, t, "q1", 2, 1, false, &id1), MQE_OK);
    REQUIRE_EQ(mqe_publish(&pub->client, t, "q2", 2, 2, false, &id2), MQE_OK);
    WAIT_UNTIL(sub->msg_count >= 3 && find_event(pub, MQE_EVENT_PUBLISH_COMPLETE, id2) != NULL, WAIT_MS, pump);
    settle(200);
    REQUIRE_EQ(sub->msg_count, 3);
    for (int q = 0; q < 3; q++) {
        char want[3] = {'q', (char)('0' + q), 0};
        CHECK(strcmp(sub->msgs[q].topic, t) == 0);
        CHECK(strcmp(sub->msgs[q].payload, want) == 0);
        CHECK_EQ(sub->msgs[q].qos, q);
    }
    CHECK(find_event(pub, MQE_EVENT_PUBLISH_COMPLETE, id1) != NULL);
    CHECK(find_event(pub, MQE_EVENT_PUBLISH_COMPLETE, id2) != NULL);
    /* Publisher: PUBLISH q0/q1/q2, PUBACK in, PUBREC in, PUBREL out, PUBCOMP in. */
    CHECK_EQ(count_pkts(&pub->sent, 0x30, 0), 1);
    CHECK_EQ(count_pkts(&pub->sent, 0x32, 0), 1);
    CHECK_EQ(count_pkts(&pub->sent, 0x34, 0), 1);
    CHECK_EQ(count_pkts(&pub->received, 0x40, 0), 1);
    CHECK_EQ(count_pkts(&pub->received, 0x50, 0), 1);
    CHECK_EQ(count_pkts(&pub->sent, 0x62, 0), 1);
    CHECK_EQ(count_pkts(&pub->received, 0x70, 0), 1);
    const pkt_t *rel = find_pkt(&pub->sent, 0x62, 0);
    CHECK(rel != NULL && rel->len == 2 && rel->pid == id2);
    const pkt_t *pub2 = find_pkt(&pub->sent, 0x34, 0);
    CHECK(pub2 != NULL && pub2->pid == id2);
    /* Subscriber: the three PUBLISHes at their QoS, PUBACK and PUBREC/PUBREL/PUBCOMP. */
    CHECK_EQ(count_pkts(&sub->received, 0x30, 0) + count_pkts(&sub->received, 0x32, 0) +
                 count_pkts(&sub->received, 0x34, 0), 3);
    CHECK_EQ(count_pkts(&sub->sent, 0x40, 0), 1);
    CHECK_EQ(count_pkts(&sub->sent, 0x50, 0), 1);
    CHECK_EQ(count_pkts(&sub->received, 0x62, 0), 1);
    CHECK_EQ(count_pkts(&sub->sent, 0x70, 0), 1);
}

/* '+' matches one level, '#' the parent and every level below. */
static void wildcard_subscribe(void) {
    char plus[96], hash[96], t[5][96];
    topic(plus, sizeof plus, "+/temp");
    topic(hash, sizeof hash, "dev/#");
    topic(t[0], sizeof t[0], "k1/temp");   /* + */
    topic(t[1], sizeof t[1], "k1/hum");    /* no */
    topic(t[2], sizeof t[2], "dev/a/b");   /* # */
    topic(t[3], sizeof t[3], "dev");       /* # (its parent level) */
    topic(t[4], sizeof t[4], "x/y/temp");  /* no: + is one level */
    lc_t *sub = lc_open("wsub", true, 60);
    lc_t *pub = lc_open("wpub", true, 60);
    REQUIRE(sub != NULL && pub != NULL);
    REQUIRE(subscribe_wait(sub, plus, 1) == 0);
    REQUIRE(subscribe_wait(sub, hash, 1) == 0);
    for (int i = 0; i < 5; i++) {
        REQUIRE_EQ(mqe_publish(&pub->client, t[i], "w", 1, 1, false, NULL), MQE_OK);
    }
    WAIT_UNTIL(count_events(pub, MQE_EVENT_PUBLISH_COMPLETE) == 5 && sub->msg_count >= 3, WAIT_MS, pump);
    settle(300); /* a wrong match would arrive by now */
    CHECK_EQ(count_events(pub, MQE_EVENT_PUBLISH_COMPLETE), 5);
    CHECK_EQ(sub->msg_count, 3);
    CHECK_EQ(count_msgs(sub, t[0]), 1);
    CHECK_EQ(count_msgs(sub, t[1]), 0);
    CHECK_EQ(count_msgs(sub, t[2]), 1);
    CHECK_EQ(count_msgs(sub, t[3]), 1);
    CHECK_EQ(count_msgs(sub, t[4]), 0);
}

/* keep_alive 1 s: idle, the client sends PINGREQ and the broker's PINGRESP comes back. */
static void keep_alive_ping(void) {
    lc_t *c = lc_open("ka", true, 1);
    REQUIRE(c != NULL);
    WAIT_UNTIL(count_events(c, MQE_EVENT_PING_RESPONSE) >= 2, 4000u, pump);
    CHECK(count_events(c, MQE_EVENT_PING_RESPONSE) >= 2);
    CHECK(count_pkts(&c->sent, 0xC0, 1) >= 2);     /* PINGREQ, C0 00 */
    CHECK(count_pkts(&c->received, 0xD0, 1) >= 2); /* PINGRESP, D0 00 */
    const pkt_t *ping = find_pkt(&c->sent, 0xC0, 1);
    CHECK(ping != NULL && ping->len == 0);
    CHECK_EQ(mqe_state(&c->client), MQE_STATE_CONNECTED);
    CHECK_EQ(c->conns, 1);
}

/* Nothing listens on port 1: the kernel answers the SYN with RST, which lwIP reports as
 * ECONNRESET and the port as MQE_IO_ERR_REFUSED: the client says "connection refused". */
static void refused_port(void) {
    mqe_options_t opts;
    lc_t *c = lc_alloc("ref", &opts);
    REQUIRE(c != NULL);
    opts.port = 1;
    REQUIRE(lc_start(c, &opts));
    WAIT_UNTIL(find_event(c, MQE_EVENT_DISCONNECTED, -1) != NULL, WAIT_MS, pump);
    const mqe_event_t *ev = find_event(c, MQE_EVENT_DISCONNECTED, -1);
    REQUIRE(ev != NULL);
    CHECK_EQ(ev->reason, MQE_ERR_CONN_REFUSED);
    CHECK_EQ(count_events(c, MQE_EVENT_CONNECTED), 0);
    CHECK_EQ(port_lwip_open_sockets(), 0);
}

/* A second client with the same id takes the session over: mosquitto closes the first
 * connection with a FIN, lwip_recv returns 0 and the client reports MQE_ERR_CLOSED. */
static void broker_closes(void) {
    lc_t *first = lc_open("twin", true, 60);
    REQUIRE(first != NULL);
    lc_t *second = lc_open("twin", true, 60);
    REQUIRE(second != NULL);
    WAIT_UNTIL(find_event(first, MQE_EVENT_DISCONNECTED, -1) != NULL, WAIT_MS, pump);
    const mqe_event_t *ev = find_event(first, MQE_EVENT_DISCONNECTED, -1);
    REQUIRE(ev != NULL);
    CHECK_EQ(ev->reason, MQE_ERR_CLOSED);
    CHECK_EQ(mqe_state(&second->client), MQE_STATE_CONNECTED);
}

/* 200 QoS 1 publishes of 600 bytes as fast as the window allows: each arrives once, in
 * order (lwIP's send buffer fills and drains; the port's partial sends resume). */
static void burst_in_order(void) {
    enum { N = 200, SIZE = 600 };
    char t[96];
    topic(t, sizeof t, "burst");
    lc_t *sub = lc_open("bsub", true, 60);
    lc_t *pub = lc_open("bpub", true, 60);
    REQUIRE(sub != NULL && pub != NULL);
    REQUIRE(subscribe_wait(sub, t, 1) == 0);
    static uint8_t payload[SIZE];
    long seen = 0, order_errors = 0, size_errors = 0;
    uint64_t until = h_real_ms() + 20000u;
    int sent = 0;
    size_t next_msg = 0;
    while ((sent < N || seen < N || pub->completes < N) && h_real_ms() < until) {
        if (sent < N) {
            memset(payload, 'a' + sent % 26, sizeof payload);
            memcpy(payload, &sent, sizeof sent);
            mqe_status_t st = mqe_publish(&pub->client, t, payload, sizeof payload, 1, false, NULL);
            if (st == MQE_OK) {
                sent++;
            } else if (st != MQE_ERR_FULL) {
                h_fail(__FILE__, __LINE__, "publish %d: %s", sent, mqe_strerror(st));
                return;
            }
        }
        pump();
        /* The recorder keeps MAX_MSGS: check and drop what arrived. */
        for (; next_msg < sub->msg_count; next_msg++) {
            int n = -1;
            memcpy(&n, sub->msgs[next_msg].payload, sizeof n);
            order_errors += n != seen;
            size_errors += sub->msgs[next_msg].qos != 1;
            seen++;
        }
        sub->msg_count = 0;
        next_msg = 0;
    }
    CHECK_EQ(sent, N);
    CHECK_EQ(seen, N);
    CHECK_EQ(order_errors, 0);
    CHECK_EQ(size_errors, 0);
    CHECK_EQ(pub->completes, N);
    CHECK_EQ(count_pkts(&sub->received, 0x32, 0), N);
}

static void netif_down_cb(void *arg) {
    (void)arg;
    netif_set_down(&tap_netif);
    sys_sem_signal(&netif_done);
}

static void netif_up_cb(void *arg) {
    (void)arg;
    netif_set_up(&tap_netif);
    sys_sem_signal(&netif_done);
}

/* Runs fn in lwIP's tcpip thread (the one that may touch netifs) and waits, bounded. */
static bool in_tcpip_thread(tcpip_callback_fn fn) {
    return tcpip_callback(fn, NULL) == ERR_OK && sys_arch_sem_wait(&netif_done, 5000) != SYS_ARCH_TIMEOUT;
}

/* lwIP's own interface is down: no netif routes to the broker, lwip_connect fails with
 * EHOSTUNREACH (ERR_RTE) and the client reports MQE_ERR_UNREACHABLE. */
static void netif_down_unreachable(void) {
    mqe_options_t opts;
    lc_t *c = lc_alloc("down", &opts);
    REQUIRE(c != NULL);
    REQUIRE(in_tcpip_thread(netif_down_cb));
    bool started = lc_start(c, &opts);
    if (started) {
        WAIT_UNTIL(find_event(c, MQE_EVENT_DISCONNECTED, -1) != NULL, WAIT_MS, pump);
    }
    bool up = in_tcpip_thread(netif_up_cb);
    REQUIRE(started);
    REQUIRE(up);
    const mqe_event_t *ev = find_event(c, MQE_EVENT_DISCONNECTED, -1);
    REQUIRE(ev != NULL);
    CHECK_EQ(ev->reason, MQE_ERR_UNREACHABLE);
    CHECK_EQ(port_lwip_open_sockets(), 0);
    /* Back up: the next client connects. */
    CHECK(lc_open("up", true, 60) != NULL);
}

static void sleep_ms(void) {
    platform.delay_ms(platform.ctx, 10);
}

/* The same round trip over IPv6 (an IPv6 literal host, AF_INET6 sockets). */
static void ipv6_round_trip(void) {
    const char *host6 = getenv("MQE_BROKER_HOST6");
    const char *port6 = getenv("MQE_BROKER_PORT6");
    if (!have_ip6 || host6 == NULL || host6[0] == 0 || port6 == NULL) {
        const char *why = getenv("LWIP_TEST_NO_IP6");
        REQUIRE(why != NULL && why[0] != 0); /* skipped only when the script says why */
        printf("    skipped: no IPv6 in the namespace (%s)\n", why);
        return;
    }
    /* lwIP's address turns preferred after duplicate address detection (about 1 s). */
    WAIT_UNTIL(ip6_index >= 0 && ip6_addr_ispreferred(netif_ip6_addr_state(&tap_netif, ip6_index)), 5000u, sleep_ms);
    REQUIRE(ip6_index >= 0 && ip6_addr_ispreferred(netif_ip6_addr_state(&tap_netif, ip6_index)));
    char t[96];
    topic(t, sizeof t, "v6");
    mqe_options_t opts;
    lc_t *c = lc_alloc("v6", &opts);
    REQUIRE(c != NULL);
    opts.host = host6;
    opts.port = (uint16_t)strtoul(port6, NULL, 10);
    REQUIRE(lc_start(c, &opts));
    WAIT_UNTIL(c->event_count > 0, WAIT_MS, pump);
    REQUIRE(find_event(c, MQE_EVENT_CONNECTED, -1) != NULL);
    REQUIRE(subscribe_wait(c, t, 1) == 0);
    uint16_t id = 0;
    REQUIRE_EQ(mqe_publish(&c->client, t, "over IPv6", 9, 1, false, &id), MQE_OK);
    WAIT_UNTIL(find_msg(c, t) != NULL && find_event(c, MQE_EVENT_PUBLISH_COMPLETE, id) != NULL, WAIT_MS, pump);
    const msg_t *m = find_msg(c, t);
    CHECK(m != NULL && strcmp(m->payload, "over IPv6") == 0);
    CHECK(find_event(c, MQE_EVENT_PUBLISH_COMPLETE, id) != NULL);
}

static int run_cmd(const char *env) {
    const char *cmd = getenv(env);
    if (cmd == NULL || cmd[0] == 0) {
        h_fail(__FILE__, __LINE__, "%s is not set: the cut cannot be made", env);
        return -1;
    }
    int st = system(cmd);
    if (st != 0) {
        h_fail(__FILE__, __LINE__, "%s (%s) exited %d", env, cmd, st);
    }
    return st;
}

/* The TAP link goes down under a persistent session with a QoS 1 PUBLISH in flight; the
 * client loses the connection (PINGRESP missing), reconnects once the link is back, and
 * re-sends the PUBLISH with DUP and the same packet id; the broker delivers it. */
static void cut_resume_dup(void) {
    char t[96];
    topic(t, sizeof t, "cut");
    mqe_options_t opts;
    lc_t *c = lc_alloc("cut", &opts);
    REQUIRE(c != NULL);
    opts.clean_session = false;
    opts.keep_alive_s = 1;
    opts.reconnect = true;
    opts.reconnect_min_ms = 200;
    opts.reconnect_max_ms = 1000;
    opts.connect_timeout_ms = 2000;
    REQUIRE(lc_start(c, &opts));
    WAIT_UNTIL(find_event(c, MQE_EVENT_CONNECTED, -1) != NULL, WAIT_MS, pump);
    REQUIRE(find_event(c, MQE_EVENT_CONNECTED, -1) != NULL);
    REQUIRE(subscribe_wait(c, t, 1) == 0); /* the delivery comes back to this session */

    printf("    link down: tapif reports its failed writes until it is back up\n");
    REQUIRE(run_cmd("LWIP_TEST_CUT") == 0);
    uint16_t id = 0;
    REQUIRE_EQ(mqe_publish(&c->client, t, "through the cut", 15, 1, false, &id), MQE_OK);
    WAIT_UNTIL(find_event(c, MQE_EVENT_DISCONNECTED, -1) != NULL, 6000u, pump);
    const mqe_event_t *lost = find_event(c, MQE_EVENT_DISCONNECTED, -1);
    bool noticed = lost != NULL;
    settle(1500); /* reconnect attempts fail while the link is down */
    int healed = run_cmd("LWIP_TEST_HEAL");
    REQUIRE(noticed);
    REQUIRE(healed == 0);
    printf("    lost: %s; %u connections so far\n", mqe_strerror(lost->reason), (unsigned)c->conns);
    CHECK(lost->reason != MQE_OK);
    CHECK(find_event(c, MQE_EVENT_PUBLISH_COMPLETE, id) == NULL);

    WAIT_UNTIL(count_events(c, MQE_EVENT_CONNECTED) >= 2 && find_event(c, MQE_EVENT_PUBLISH_COMPLETE, id) != NULL &&
                   find_msg(c, t) != NULL,
               20000u, pump);
    REQUIRE(count_events(c, MQE_EVENT_CONNECTED) >= 2);
    const mqe_event_t *back = NULL;
    for (size_t i = 0; i < c->event_count; i++) {
        if (c->events[i].kind == MQE_EVENT_CONNECTED) {
            back = &c->events[i]; /* the last one */
        }
    }
    CHECK(back != NULL && back->session_present);
    CHECK(find_event(c, MQE_EVENT_PUBLISH_COMPLETE, id) != NULL);
    const msg_t *m = find_msg(c, t);
    CHECK(m != NULL && strcmp(m->payload, "through the cut") == 0);
    /* On the wire: first sent without DUP on connection 1, then with DUP on the connection
     * that got the PUBACK, same packet id. */
    const pkt_t *first = find_pkt(&c->sent, 0x32, 1);
    REQUIRE(first != NULL);
    const pkt_t *again = NULL;
    for (size_t i = 0; i < c->sent.count; i++) {
        if (c->sent.pkts[i].hdr == 0x3A) {
            again = &c->sent.pkts[i];
        }
    }
    REQUIRE(again != NULL);
    CHECK(again->conn > 1);
    CHECK_EQ(again->len, first->len);
    CHECK_EQ(first->pid, id);
    CHECK_EQ(again->pid, id);
    const pkt_t *ack = find_pkt(&c->received, 0x40, again->conn);
    CHECK(ack != NULL && ack->pid == id);
    printf("    PUBLISH id %u (first %u) re-sent with DUP on connection %u of %u\n", (unsigned)again->pid,
           (unsigned)first->pid, (unsigned)again->conn, (unsigned)c->conns);
}

/* ---- set-up ------------------------------------------------------------------------------ */


/* Runs in lwIP's tcpip thread, the one that may touch netifs. */
static void lwip_up(void *arg) {
    (void)arg;
    if (netif_add(&tap_netif, &local_ip, &netmask, &gateway, NULL, tapif_init, tcpip_input) != NULL) {
        netif_set_default(&tap_netif);
        netif_set_up(&tap_netif);
        if (have_ip6) {
            (void)netif_add_ip6_address(&tap_netif, &local_ip6, &ip6_index); /* tentative: DAD */
        }
    }
    sys_sem_signal(&lwip_ready);
}

static int start_lwip(void) {
    const char *ip = getenv("LWIP_TEST_IP");
    if (ip == NULL || getenv("PRECONFIGURED_TAPIF") == NULL || !ip4addr_aton(ip, &local_ip)) {
        fprintf(stderr, "lwip_test: set LWIP_TEST_IP and PRECONFIGURED_TAPIF (scripts/lwip_netns.sh does)\n");
        return -1;
    }
    const char *ip6 = getenv("LWIP_TEST_IP6");
    have_ip6 = ip6 != NULL && ip6[0] != 0 && ip6addr_aton(ip6, &local_ip6);
    IP4_ADDR(&netmask, 255, 255, 255, 0);
    ip4_addr_set_zero(&gateway);
    if (sys_sem_new(&lwip_ready, 0) != ERR_OK || sys_sem_new(&netif_done, 0) != ERR_OK) {
        return -1;
    }
    tcpip_init(lwip_up, NULL);
    if (sys_arch_sem_wait(&lwip_ready, 5000) == SYS_ARCH_TIMEOUT || !netif_is_up(&tap_netif)) {
        fprintf(stderr, "lwip_test: lwIP did not bring %s up\n", getenv("PRECONFIGURED_TAPIF"));
        return -1;
    }
    return 0;
}

/* One client, n QoS 1 publishes one after the other, each polled until its PUBACK. Between
 * polls the task sleeps in lwip_poll on the port's socket, as an event-driven firmware loop
 * would, so the count is per message rather than per idle spin. */
static int bench(long n) {
    mqe_options_t opts;
    lc_t *c = lc_alloc("bench", &opts);
    char t[96];
    topic(t, sizeof t, "bench");
    if (c == NULL) {
        return 1;
    }
    c->transport = c->inner; /* the port alone: the recorder's parsing is not counted */
    if (!lc_start(c, &opts)) {
        return 1;
    }
    WAIT_UNTIL(find_event(c, MQE_EVENT_CONNECTED, -1) != NULL, WAIT_MS, pump);
    if (find_event(c, MQE_EVENT_CONNECTED, -1) == NULL) {
        fprintf(stderr, "bench: not connected\n");
        return 1;
    }
    long polls = 0, done = 0;
    uint64_t until = h_real_ms() + 120000u;
    for (long i = 0; i < n && h_real_ms() < until; i++) {
        long before = c->completes;
        if (mqe_publish(&c->client, t, "0123456789abcdef", 16, 1, false, NULL) != MQE_OK) {
            break;
        }
        while (h_real_ms() < until) {
            (void)mqe_poll(&c->client);
            polls++;
            if (c->completes != before) {
                break;
            }
            struct pollfd pfd = {port_lwip_fd(&c->port), POLLIN, 0};
            (void)lwip_poll(&pfd, 1, 100);
        }
        done += c->completes > before;
    }
    printf("bench: %ld of %ld QoS 1 publishes acknowledged, %ld polls\n", done, n, polls);
    (void)mqe_disconnect(&c->client);
    WAIT_UNTIL(mqe_state(&c->client) == MQE_STATE_DISCONNECTED, WAIT_MS, pump);
    return done == n ? 0 : 1;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    broker_host = getenv("MQE_BROKER_HOST");
    const char *port = getenv("MQE_BROKER_PORT");
    if (broker_host == NULL || port == NULL) {
        fprintf(stderr, "lwip_test: MQE_BROKER_HOST and MQE_BROKER_PORT must be set\n");
        return 2;
    }
    broker_port = (uint16_t)strtoul(port, NULL, 10);
    snprintf(run_id, sizeof run_id, "%08lx", (unsigned long)(h_real_ms() * 2654435761u) & 0xffffffffUL);
    port_posix_platform(&platform);
    if (start_lwip() != 0) {
        return 2;
    }
    printf("# lwIP %s on %s, broker %s:%u, run %s\n", LWIP_VERSION_STRING, getenv("LWIP_TEST_IP"),
           broker_host, broker_port, run_id);
    if (argc == 3 && strcmp(argv[1], "--bench") == 0) {
        return bench(strtol(argv[2], NULL, 10));
    }
    static const h_case_t cases[] = {
        {"qos_round_trips", qos_round_trips},
        {"wildcard_subscribe", wildcard_subscribe},
        {"keep_alive_ping", keep_alive_ping},
        {"refused_port", refused_port},
        {"ipv6_round_trip", ipv6_round_trip},
        {"netif_down_unreachable", netif_down_unreachable},
        {"broker_closes", broker_closes},
        {"burst_in_order", burst_in_order},
        {"cut_resume_dup", cut_resume_dup},
    };
    return h_run(cases, (int)(sizeof cases / sizeof cases[0]), argc > 1 ? argv[1] : NULL, teardown);
}
