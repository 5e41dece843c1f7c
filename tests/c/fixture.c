/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "fixture.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

uint32_t tc_wait_ms(void) {
    static uint32_t wait_ms;
    if (wait_ms == 0) {
        const char *env = getenv("MQE_TEST_WAIT_MS");
        long ms = env ? strtol(env, NULL, 10) : 5000;
        wait_ms = (uint32_t)(ms < 1000 ? 1000 : ms > 60000 ? 60000 : ms);
    }
    return wait_ms;
}

mqe_platform_t tc_platform;

static tc_t pool[TC_POOL];
static char run_id[9];
static const char *broker_host = "127.0.0.1";
static uint16_t broker_port = 1883;
static const char *broker_user; /* MQE_BROKER_USER / MQE_BROKER_PASS: NULL, no login */
static const char *broker_pass;

void tc_setup(void) {
    uint32_t seed = 0;
    FILE *urandom = fopen("/dev/urandom", "rb");
    if (urandom == NULL || fread(&seed, sizeof seed, 1, urandom) != 1) {
        seed = (uint32_t)h_real_ms() ^ ((uint32_t)getpid() << 12);
    }
    if (urandom != NULL) {
        fclose(urandom);
    }
    snprintf(run_id, sizeof run_id, "%08x", (unsigned)seed);
    const char *host = getenv("MQE_BROKER_HOST");
    const char *port = getenv("MQE_BROKER_PORT");
    if (host != NULL) {
        broker_host = host;
    }
    if (port != NULL) {
        broker_port = (uint16_t)strtoul(port, NULL, 10);
    }
    broker_user = getenv("MQE_BROKER_USER");
    broker_pass = broker_user != NULL ? getenv("MQE_BROKER_PASS") : NULL;
    port_posix_platform(&tc_platform);
    printf("# broker %s:%u%s%s, run %s, tick %u\n", broker_host, broker_port,
           broker_user != NULL ? ", user " : "", broker_user != NULL ? broker_user : "", run_id,
           (unsigned)port_posix_now_ms());
}

const char *tc_topic(char *buf, size_t len, const char *suffix) {
    snprintf(buf, len, "mqe-ct/%s/%s", run_id, suffix);
    return buf;
}

int32_t tc_unused_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    int32_t port = -1;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0) {
        port = ntohs(addr.sin_port);
    }
    close(fd);
    return port;
}

static void on_event(void *user, const mqe_event_t *ev) {
    tc_t *tc = user;
    if (tc->event_count >= TC_MAX_EVENTS) {
        return;
    }
    tc_event_t *rec = &tc->events[tc->event_count++];
    rec->ev = *ev;
    rec->ev.granted = NULL;
    if (ev->granted != NULL && ev->granted_count > 0) {
        size_t n = ev->granted_count < sizeof rec->granted ? ev->granted_count : sizeof rec->granted;
        memcpy(rec->granted, ev->granted, n);
        rec->ev.granted = rec->granted; /* the engine's pointer dies with the callback */
    }
    rec->ev.topic = NULL;
    if (ev->topic != NULL && ev->topic_len > 0) {
        size_t n = ev->topic_len < sizeof rec->topic ? ev->topic_len : sizeof rec->topic;
        memcpy(rec->topic, ev->topic, n);
        rec->ev.topic = rec->topic;
    }
}

static void on_message(void *user, const mqe_message_t *msg) {
    tc_t *tc = user;
    if (tc->msg_count >= TC_MAX_MSGS) {
        tc->msgs_lost++;
        return;
    }
    tc_msg_t *m = &tc->msgs[tc->msg_count++];
    memset(m, 0, sizeof *m);
    m->topic_len = msg->topic_len;
    memcpy(m->topic, msg->topic, msg->topic_len < TC_TOPIC_MAX - 1 ? msg->topic_len : TC_TOPIC_MAX - 1);
    m->payload_len = msg->payload_len;
    if (msg->payload_len > 0) {
        memcpy(m->payload, msg->payload,
               msg->payload_len < TC_PAYLOAD_MAX ? msg->payload_len : TC_PAYLOAD_MAX);
    }
    m->qos = msg->qos;
    m->retain = msg->retain;
    m->dup = msg->dup;
    m->packet_id = msg->packet_id;
    if (tc->probe.enabled) {
        tc->probe.poll_status = mqe_poll(&tc->client);
        tc->probe.connect_status = mqe_connect(&tc->client);
        if (tc->probe.echo_topic != NULL) {
            tc->probe.publish_status =
                mqe_publish(&tc->client, tc->probe.echo_topic, "echo", 4, 1, false, NULL);
        }
    }
}

tc_t *tc_alloc(const char *role, mqe_options_t *opts) {
    for (int i = 0; i < TC_POOL; i++) {
        tc_t *tc = &pool[i];
        if (tc->in_use) {
            continue;
        }
        memset(tc, 0, sizeof *tc);
        tc->in_use = true;
        snprintf(tc->id, sizeof tc->id, "%s%.14s", run_id, role);
        port_posix_transport(&tc->transport, &tc->port);
        *opts = mqe_options_default();
        opts->host = broker_host;
        opts->port = broker_port;
        opts->client_id = tc->id;
        opts->username = broker_user;
        if (broker_pass != NULL) {
            opts->password = (const uint8_t *)broker_pass;
            opts->password_len = strlen(broker_pass);
        }
        opts->reconnect = false; /* a test decides itself when to reconnect */
        opts->rx_buf = tc->rx;
        opts->rx_buf_len = sizeof tc->rx;
        opts->tx_buf = tc->tx;
        opts->tx_buf_len = sizeof tc->tx;
        opts->store_buf = tc->store;
        opts->store_buf_len = sizeof tc->store;
        return tc;
    }
    h_fail(__FILE__, __LINE__, "client pool exhausted");
    return NULL;
}

mqe_status_t tc_init(tc_t *tc, const mqe_options_t *opts) {
    mqe_status_t st = mqe_init(&tc->client, opts, &tc->transport, &tc_platform);
    if (st == MQE_OK) {
        st = mqe_set_event_handler(&tc->client, on_event, tc);
    }
    if (st == MQE_OK) {
        st = mqe_set_message_handler(&tc->client, on_message, tc);
    }
    return st;
}

bool tc_connect_wait(tc_t *tc) {
    size_t before = tc->event_count;
    mqe_status_t st = mqe_connect(&tc->client);
    if (st != MQE_OK) {
        h_fail(__FILE__, __LINE__, "%s: mqe_connect: %s", tc->id, mqe_strerror(st));
        return false;
    }
    WAIT_UNTIL(tc->event_count > before, TC_WAIT_MS, tc_pump);
    if (tc->event_count == before || tc->events[before].ev.kind != MQE_EVENT_CONNECTED) {
        h_fail(__FILE__, __LINE__, "%s: no CONNECTED event (events %zu -> %zu, first kind %d)",
               tc->id, before, tc->event_count,
               tc->event_count > before ? tc->events[before].ev.kind : -1);
        return false;
    }
    return true;
}

tc_t *tc_open(const char *role, bool clean_session) {
    mqe_options_t opts;
    tc_t *tc = tc_alloc(role, &opts);
    if (tc == NULL) {
        return NULL;
    }
    opts.clean_session = clean_session;
    mqe_status_t st = tc_init(tc, &opts);
    if (st != MQE_OK) {
        h_fail(__FILE__, __LINE__, "%s: mqe_init: %s", tc->id, mqe_strerror(st));
        return NULL;
    }
    return tc_connect_wait(tc) ? tc : NULL;
}

int tc_subscribe_wait(tc_t *tc, const char *filter, uint8_t qos) {
    uint16_t id = 0;
    mqe_status_t st = mqe_subscribe(&tc->client, filter, qos, &id);
    if (st != MQE_OK || id == 0) {
        h_fail(__FILE__, __LINE__, "%s: mqe_subscribe(%s): %s, id %u", tc->id, filter,
               mqe_strerror(st), id);
        return -1;
    }
    WAIT_UNTIL(tc_event(tc, MQE_EVENT_SUBSCRIBED, id) != NULL, TC_WAIT_MS, tc_pump);
    const tc_event_t *ev = tc_event(tc, MQE_EVENT_SUBSCRIBED, id);
    if (ev == NULL || ev->ev.granted_count != 1) {
        h_fail(__FILE__, __LINE__, "%s: no SUBACK with one code for %s", tc->id, filter);
        return -1;
    }
    return ev->granted[0];
}

bool tc_disconnect_wait(tc_t *tc) {
    mqe_status_t st = mqe_disconnect(&tc->client);
    if (st != MQE_OK) {
        h_fail(__FILE__, __LINE__, "%s: mqe_disconnect: %s", tc->id, mqe_strerror(st));
        return false;
    }
    WAIT_UNTIL(mqe_state(&tc->client) == MQE_STATE_DISCONNECTED, TC_WAIT_MS, tc_pump);
    return mqe_state(&tc->client) == MQE_STATE_DISCONNECTED;
}

void tc_pump(void) {
    for (int i = 0; i < TC_POOL; i++) {
        if (pool[i].in_use) {
            (void)mqe_poll(&pool[i].client); /* outcomes are checked through events */
        }
    }
    tc_platform.delay_ms(tc_platform.ctx, 2);
}

void tc_settle(uint32_t ms) {
    uint64_t until = h_real_ms() + ms;
    while (h_real_ms() < until) {
        tc_pump();
    }
}

void tc_teardown(void) {
    for (int i = 0; i < TC_POOL; i++) {
        tc_t *tc = &pool[i];
        if (tc->in_use && mqe_state(&tc->client) != MQE_STATE_DISCONNECTED) {
            (void)mqe_disconnect(&tc->client);
        }
    }
    bool all_down = false;
    uint64_t until = h_real_ms() + TC_WAIT_MS;
    while (!all_down && h_real_ms() < until) {
        tc_pump();
        all_down = true;
        for (int i = 0; i < TC_POOL; i++) {
            if (pool[i].in_use && mqe_state(&pool[i].client) > MQE_STATE_DISCONNECTED) {
                all_down = false;
            }
        }
    }
    if (!all_down) {
        h_fail(__FILE__, __LINE__, "a client did not reach DISCONNECTED");
    }
    for (int i = 0; i < TC_POOL; i++) {
        if (pool[i].in_use && pool[i].msgs_lost > 0) {
            h_fail(__FILE__, __LINE__, "%s: %zu messages beyond the test's record", pool[i].id,
                   pool[i].msgs_lost);
        }
        pool[i].in_use = false;
    }
    if (port_posix_open_sockets() != 0) {
        h_fail(__FILE__, __LINE__, "%d sockets left open after every client disconnected",
               port_posix_open_sockets());
    }
}

const tc_event_t *tc_event(const tc_t *tc, mqe_event_kind_t kind, int32_t packet_id) {
    for (size_t i = 0; i < tc->event_count; i++) {
        const tc_event_t *e = &tc->events[i];
        if (e->ev.kind == kind && (packet_id < 0 || e->ev.packet_id == (uint16_t)packet_id)) {
            return e;
        }
    }
    return NULL;
}

size_t tc_event_count(const tc_t *tc, mqe_event_kind_t kind) {
    size_t n = 0;
    for (size_t i = 0; i < tc->event_count; i++) {
        n += tc->events[i].ev.kind == kind;
    }
    return n;
}

static bool topic_is(const tc_msg_t *m, const char *topic) {
    return m->topic_len == strlen(topic) && memcmp(m->topic, topic, m->topic_len) == 0;
}

const tc_msg_t *tc_msg(const tc_t *tc, const char *topic) {
    for (size_t i = 0; i < tc->msg_count; i++) {
        if (topic_is(&tc->msgs[i], topic)) {
            return &tc->msgs[i];
        }
    }
    return NULL;
}

size_t tc_msg_count(const tc_t *tc, const char *topic) {
    size_t n = 0;
    for (size_t i = 0; i < tc->msg_count; i++) {
        n += topic_is(&tc->msgs[i], topic);
    }
    return n;
}

bool tc_payload_is(const tc_msg_t *m, const void *payload, size_t len) {
    return m != NULL && m->payload_len == len && len <= TC_PAYLOAD_MAX &&
           (len == 0 || memcmp(m->payload, payload, len) == 0);
}

bool tc_payload_str(const tc_msg_t *m, const char *text) {
    return tc_payload_is(m, text, strlen(text));
}
