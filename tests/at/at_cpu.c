/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The port's CPU cost per published message, deterministic: the client runs over
 * ports/quectel_at against a scripted modem and broker in this process (no pty, no
 * network, a fake clock). The UART callbacks are plain ring buffers, as a firmware's ISR
 * would fill. `make at-cpu` runs it under callgrind, collecting only inside the transport
 * calls (t_*), for 0 and N messages: (Ir(N) - Ir(0)) / N is the port's cost per message.
 *
 *   at_cpu QOS N   exits 0 when all N messages were published (and acknowledged). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt_engine.h"
#include "quectel_at.h"

#define RING 8192u
typedef struct {
    uint8_t b[RING];
    size_t head, tail; /* bytes in [tail, head) */
} ring_t;

static ring_t to_modem, from_modem;
static uint32_t fake_ms;

static size_t ring_len(const ring_t *r) { return r->head - r->tail; }

static void ring_put(ring_t *r, const void *data, size_t n) {
    if (r->head + n > RING) { /* compact; the tests never hold more than a few hundred bytes */
        memmove(r->b, r->b + r->tail, ring_len(r));
        r->head -= r->tail;
        r->tail = 0;
    }
    if (r->head + n <= RING) {
        memcpy(r->b + r->head, data, n);
        r->head += n;
    }
}

static size_t ring_get(ring_t *r, void *out, size_t n) {
    size_t have = ring_len(r);
    n = n < have ? n : have;
    memcpy(out, r->b + r->tail, n);
    r->tail += n;
    return n;
}

/* ---- the firmware side: UART rings and a tick ---------------------------------------- */
static int32_t uart_read(void *ctx, uint8_t *buf, size_t len) {
    (void)ctx;
    return (int32_t)ring_get(&from_modem, buf, len);
}

static int32_t uart_write(void *ctx, const uint8_t *buf, size_t len) {
    (void)ctx;
    ring_put(&to_modem, buf, len);
    return (int32_t)len;
}

static uint32_t tick(void *ctx) {
    (void)ctx;
    return fake_ms;
}

/* ---- the scripted modem and broker ---------------------------------------------------- */
static char line[128];
static size_t line_len;
static size_t data_left;       /* AT+QISEND payload bytes still to take */
static uint8_t mqtt_in[4096];  /* client -> broker bytes not yet parsed */
static size_t mqtt_len;
static ring_t sock_rx;         /* broker -> client bytes the modem holds */
static int urc_armed = 1;

static void say(const char *s) { ring_put(&from_modem, s, strlen(s)); }

static void broker_reply(const uint8_t *pkt, size_t n) {
    if (ring_len(&sock_rx) == 0 && urc_armed) {
        say("\r\n+QIURC: \"recv\",0\r\n");
        urc_armed = 0;
    }
    ring_put(&sock_rx, pkt, n);
}

/* Answers each complete MQTT packet the client sent. */
static void broker(void) {
    while (mqtt_len >= 2) {
        size_t rl = 0, mult = 1, i = 1;
        while (i < mqtt_len && i <= 4) {
            rl += (size_t)(mqtt_in[i] & 0x7f) * mult;
            mult *= 128;
            if ((mqtt_in[i++] & 0x80) == 0) {
                break;
            }
        }
        if (mqtt_len < i + rl) {
            return;
        }
        uint8_t type = mqtt_in[0] >> 4, qos = (mqtt_in[0] >> 1) & 3;
        uint8_t ack[4] = {0, 2, 0, 0};
        if (type == 1) { /* CONNECT -> CONNACK */
            ack[0] = 0x20;
            broker_reply(ack, 4);
        } else if (type == 3 && qos > 0) { /* PUBLISH -> PUBACK / PUBREC */
            size_t tl = ((size_t)mqtt_in[i] << 8) | mqtt_in[i + 1];
            ack[0] = qos == 1 ? 0x40 : 0x50;
            ack[2] = mqtt_in[i + 2 + tl];
            ack[3] = mqtt_in[i + 3 + tl];
            broker_reply(ack, 4);
        } else if (type == 6) { /* PUBREL -> PUBCOMP */
            ack[0] = 0x70;
            ack[2] = mqtt_in[i];
            ack[3] = mqtt_in[i + 1];
            broker_reply(ack, 4);
        } else if (type == 12) { /* PINGREQ */
            ack[0] = 0xd0;
            ack[1] = 0;
            broker_reply(ack, 2);
        }
        memmove(mqtt_in, mqtt_in + i + rl, mqtt_len - i - rl);
        mqtt_len -= i + rl;
    }
}

static void command(const char *cmd) {
    char buf[1600];
    unsigned a = 0, b = 0;
    if (sscanf(cmd, "AT+QISEND=%u,%u", &a, &b) == 2) {
        data_left = b;
        say("\r\n> ");
    } else if (sscanf(cmd, "AT+QIRD=%u,%u", &a, &b) == 2) {
        uint8_t data[1500];
        size_t n = ring_get(&sock_rx, data, b < sizeof data ? b : sizeof data);
        if (ring_len(&sock_rx) == 0) {
            urc_armed = 1;
        }
        snprintf(buf, sizeof buf, "\r\n+QIRD: %u\r\n", (unsigned)n);
        say(buf);
        ring_put(&from_modem, data, n);
        say(n > 0 ? "\r\n\r\nOK\r\n" : "\r\nOK\r\n");
    } else if (strncmp(cmd, "AT+QIOPEN=", 10) == 0) {
        say("\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n");
    } else {
        say("\r\nOK\r\n"); /* AT, ATE0, AT+QIACT?, AT+QIACT=1, AT+QICLOSE */
    }
}

static void modem_step(void) {
    uint8_t c;
    while (ring_get(&to_modem, &c, 1) == 1) {
        if (data_left > 0) {
            mqtt_in[mqtt_len++] = c;
            if (--data_left == 0) {
                say("\r\nSEND OK\r\n");
                broker();
            }
        } else if (c == '\r') {
            line[line_len] = '\0';
            command(line);
            line_len = 0;
        } else if (line_len + 1 < sizeof line) {
            line[line_len++] = (char)c;
        }
    }
}

/* ---- the transport calls, wrapped so callgrind can collect inside them only ------------ */
static mqe_transport_t port;
static int32_t t_open(void *ctx) { (void)ctx; return port.open(port.ctx); }
static int32_t t_connect(void *ctx, int32_t s, const mqe_sockaddr_t *a) { (void)ctx; return port.connect(port.ctx, s, a); }
static int32_t t_send(void *ctx, int32_t s, const uint8_t *b, size_t n) { (void)ctx; return port.send(port.ctx, s, b, n); }
static int32_t t_recv(void *ctx, int32_t s, uint8_t *b, size_t n) { (void)ctx; return port.recv(port.ctx, s, b, n); }
static void t_close(void *ctx, int32_t s) { (void)ctx; port.close(port.ctx, s); }

static int completed;
static int connected;
static void on_event(void *user, const mqe_event_t *ev) {
    (void)user;
    completed += ev->kind == MQE_EVENT_PUBLISH_COMPLETE;
    connected = ev->kind == MQE_EVENT_CONNECTED ? 1 : connected;
}

static qat_modem_t modem;
static mqe_client_t client;
static uint8_t rx[1024], tx[1024], store[4096];

static void step(void) {
    modem_step();
    (void)mqe_poll(&client);
    fake_ms += 1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s QOS N\n", argv[0]);
        return 2;
    }
    uint8_t qos = (uint8_t)atoi(argv[1]);
    int n = atoi(argv[2]);
    qat_config_t cfg;
    qat_config_default(&cfg);
    cfg.io.read = uart_read;
    cfg.io.write = uart_write;
    cfg.io.now_ms = tick;
    qat_init(&modem, &cfg);
    qat_transport(&port, &modem);
    mqe_transport_t t = {NULL, t_open, t_connect, t_send, t_recv, t_close, NULL};
    mqe_platform_t p = {NULL, tick, NULL, NULL, NULL};
    mqe_options_t o = mqe_options_default();
    o.host = "10.0.0.1";
    o.client_id = "at-cpu";
    o.rx_buf = rx;
    o.rx_buf_len = sizeof rx;
    o.tx_buf = tx;
    o.tx_buf_len = sizeof tx;
    o.store_buf = store;
    o.store_buf_len = sizeof store;
    if (mqe_init(&client, &o, &t, &p) != MQE_OK || mqe_set_event_handler(&client, on_event, NULL) != MQE_OK ||
        mqe_connect(&client) != MQE_OK) {
        return 1;
    }
    for (int i = 0; i < 1000 && !connected; i++) {
        step();
    }
    static const char payload[32] = "0123456789abcdef0123456789abcdef";
    for (int m = 0; m < n && connected; m++) {
        if (mqe_publish(&client, "mqe-ct/00000000/at/bytes", payload, sizeof payload, qos, false, NULL) != MQE_OK) {
            return 1;
        }
        int want = qos > 0 ? m + 1 : 0;
        for (int i = 0; i < 100; i++) { /* until the exchange is over and the UART quiet */
            step();
            if (completed >= want && at_idle(&modem.at) && modem.tx_len == 0 &&
                ring_len(&to_modem) == 0 && ring_len(&from_modem) == 0) {
                break;
            }
        }
    }
    for (int i = 0; i < 20; i++) {
        step(); /* the same tail for every N */
    }
    int ok = connected && (qos == 0 || completed == n);
    printf("at_cpu qos %u: %d messages, %d completed: %s\n", qos, n, completed, ok ? "ok" : "FAIL");
    return ok ? 0 : 1;
}
