/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Test clients against the real broker: a static pool, each recording what it receives. */
#ifndef MQE_TEST_FIXTURE_H
#define MQE_TEST_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqtt_engine.h"
#include "port_posix.h"

#define TC_POOL 6
#define TC_MAX_MSGS 32
#define TC_MAX_EVENTS 64
#define TC_TOPIC_MAX 160
#define TC_PAYLOAD_MAX 512
/* Bound of a wait for the broker: 5,000 ms, or MQE_TEST_WAIT_MS (1,000..60,000) for slow
 * paths such as the AT port through the modem emulator's paced UART. */
#define TC_WAIT_MS tc_wait_ms()
uint32_t tc_wait_ms(void);

typedef struct {
    char topic[TC_TOPIC_MAX];
    size_t topic_len; /* as delivered, even when longer than the copy */
    uint8_t payload[TC_PAYLOAD_MAX];
    size_t payload_len;
    uint8_t qos;
    bool retain;
    bool dup;
    uint16_t packet_id;
} tc_msg_t;

typedef struct {
    mqe_event_t ev; /* ev.granted and ev.topic point into granted[] and topic[] below */
    uint8_t granted[16];
    char topic[TC_TOPIC_MAX];
} tc_event_t;

/* What the message handler does besides recording (reentrancy probes). */
typedef struct {
    bool enabled;
    mqe_status_t poll_status;
    mqe_status_t connect_status;
    mqe_status_t publish_status;
    const char *echo_topic; /* published from inside the callback when set */
} tc_probe_t;

typedef struct {
    bool in_use;
    mqe_client_t client;
    uint8_t rx[2048];
    uint8_t tx[2048];
    uint8_t store[4096];
    port_posix_t port;
    mqe_transport_t transport;
    char id[24]; /* MQTT 3.1.1 guarantees ids up to 23 bytes */
    tc_msg_t msgs[TC_MAX_MSGS];
    size_t msg_count;
    size_t msgs_lost; /* arrived after msgs[] was full */
    tc_event_t events[TC_MAX_EVENTS];
    size_t event_count;
    tc_probe_t probe;
} tc_t;

extern mqe_platform_t tc_platform;

/* Run-wide setup: a random run id for unique topics and client ids, the broker address. */
void tc_setup(void);
/* "mqe-ct/<run>/<suffix>" into buf. */
const char *tc_topic(char *buf, size_t len, const char *suffix);

/* A 127.0.0.1 TCP port nothing listens on (bound then released), or -1. */
int32_t tc_unused_port(void);

/* Takes a pool slot and fills opts with the defaults, broker address, buffers and a
 * unique client id ("<run><role>"). The caller may change opts before tc_init. */
tc_t *tc_alloc(const char *role, mqe_options_t *opts);
mqe_status_t tc_init(tc_t *tc, const mqe_options_t *opts);
/* alloc + init + connect + wait for CONNECTED; NULL (with a recorded failure) on error. */
tc_t *tc_open(const char *role, bool clean_session);
/* Connects and waits for CONNECTED (true) or anything else / timeout (false). */
bool tc_connect_wait(tc_t *tc);
/* Subscribes and waits for the SUBACK; returns the granted code, or -1. */
int tc_subscribe_wait(tc_t *tc, const char *filter, uint8_t qos);
/* Disconnects cleanly and waits for MQE_STATE_DISCONNECTED. */
bool tc_disconnect_wait(tc_t *tc);

/* One round: mqe_poll on every client in use, then a short sleep. */
void tc_pump(void);
/* Pumps for ms regardless (lets stray messages arrive before checking their absence). */
void tc_settle(uint32_t ms);
/* Disconnects and frees every client, and checks that the engine closed its sockets. */
void tc_teardown(void);

const tc_event_t *tc_event(const tc_t *tc, mqe_event_kind_t kind, int32_t packet_id /* -1 any */);
size_t tc_event_count(const tc_t *tc, mqe_event_kind_t kind);
const tc_msg_t *tc_msg(const tc_t *tc, const char *topic);
size_t tc_msg_count(const tc_t *tc, const char *topic);
bool tc_payload_is(const tc_msg_t *m, const void *payload, size_t len);
bool tc_payload_str(const tc_msg_t *m, const char *text);

#endif /* MQE_TEST_FIXTURE_H */
