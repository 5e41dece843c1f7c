/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* quectel_at's transport calls against a scripted modem, no library, no pty: each case is
 * the exact command sequence the port must write and what the modem answers, for the
 * orderings the emulator only meets by chance. `make at-test` runs it. */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "quectel_at.h"

typedef struct {
    const char *cmd;   /* the command the port must write (without CR), or NULL: any */
    const char *reply; /* what the modem then sends */
} step_t;

static const step_t *script;
static size_t script_len, script_pos;
static char out_line[256];
static size_t out_len;
static size_t data_left; /* payload bytes after a '>' the port still owes */
static const char *after_data; /* the reply's rest, sent once the payload is in */
static char in_buf[2048];
static size_t in_len, in_off;
static uint32_t now_ms;
static int link_up, link_down;

static void modem_says(const char *s) {
    size_t n = strlen(s);
    if (in_off > 0) {
        memmove(in_buf, in_buf + in_off, in_len - in_off);
        in_len -= in_off;
        in_off = 0;
    }
    if (in_len + n <= sizeof in_buf) {
        memcpy(in_buf + in_len, s, n);
        in_len += n;
    }
}

static int32_t uart_read(void *ctx, uint8_t *buf, size_t len) {
    (void)ctx;
    size_t n = in_len - in_off;
    n = n < len ? n : len;
    memcpy(buf, in_buf + in_off, n);
    in_off += n;
    return (int32_t)n;
}

/* Checks each command line against the script and queues the scripted reply. */
static int32_t uart_write(void *ctx, const uint8_t *buf, size_t len) {
    (void)ctx;
    for (size_t i = 0; i < len; i++) {
        if (data_left > 0) {
            if (--data_left == 0 && after_data != NULL) {
                modem_says(after_data); /* a modem answers a payload only once it has it */
                after_data = NULL;
            }
            continue;
        }
        if (buf[i] != '\r') {
            if (out_len + 1 < sizeof out_line) {
                out_line[out_len++] = (char)buf[i];
            }
            continue;
        }
        out_line[out_len] = '\0';
        out_len = 0;
        if (script_pos >= script_len) {
            h_fail(__FILE__, __LINE__, "unscripted command %s", out_line);
            continue;
        }
        const step_t *st = &script[script_pos++];
        if (st->cmd != NULL && strcmp(st->cmd, out_line) != 0) {
            h_fail(__FILE__, __LINE__, "step %zu: wrote %s, want %s", script_pos, out_line, st->cmd);
        }
        unsigned id = 0, n = 0;
        const char *prompt = strstr(st->reply, "> ");
        if (sscanf(out_line, "AT+QISEND=%u,%u", &id, &n) == 2 && prompt != NULL) {
            char head[64];
            snprintf(head, sizeof head, "%.*s", (int)(prompt + 2 - st->reply), st->reply);
            modem_says(head);
            data_left = n;
            after_data = prompt + 2;
        } else {
            modem_says(st->reply);
        }
    }
    return (int32_t)len;
}

static uint32_t tick(void *ctx) {
    (void)ctx;
    return now_ms;
}

static void on_link(void *user, int up) {
    (void)user;
    up ? link_up++ : link_down++;
}

static qat_modem_t modem;
static mqe_transport_t t;

static void start(const step_t *steps, size_t n) {
    script = steps;
    script_len = n;
    script_pos = 0;
    out_len = 0;
    data_left = 0;
    after_data = NULL;
    in_len = in_off = 0;
    now_ms = 5000;
    link_up = link_down = 0;
    qat_config_t cfg;
    qat_config_default(&cfg);
    cfg.io.read = uart_read;
    cfg.io.write = uart_write;
    cfg.io.now_ms = tick;
    cfg.link = on_link;
    qat_init(&modem, &cfg);
    qat_transport(&t, &modem);
}

static const mqe_sockaddr_t broker = {4, {10, 0, 0, 1}, 1883};

/* Calls connect until it stops answering MQE_IO_WOULD_BLOCK (bounded). */
static int32_t connect_until_done(int32_t sock) {
    int32_t r = MQE_IO_WOULD_BLOCK;
    for (int i = 0; i < 200 && r == MQE_IO_WOULD_BLOCK; i++) {
        r = t.connect(t.ctx, sock, &broker);
        now_ms += 10;
    }
    return r;
}

#define OPEN_CMD "AT+QIOPEN=1,0,\"TCP\",\"10.0.0.1\",1883,0,0"
#define STEPS(a) a, sizeof a / sizeof a[0]

/* The pdpdeact URC overtakes AT+QIACT's OK, so the port believes the context is up; the
 * modem's +QIOPEN: 0,561 must make it ask again (AT+QIACT?) instead of failing forever, and
 * the link events must say down, up, down, up. */
static void case_stale_pdp_is_asked_again(void) {
    static const step_t steps[] = {
        {"AT", "\r\nOK\r\n"},
        {"ATE0", "\r\nOK\r\n"},
        {"AT+QIACT?", "\r\nOK\r\n"},
        {"AT+QIACT=1", "\r\n+QIURC: \"pdpdeact\",1\r\n\r\nOK\r\n"},
        {OPEN_CMD, "\r\nOK\r\n\r\n+QIOPEN: 0,561\r\n"},
        {"AT+QIACT?", "\r\nOK\r\n"}, /* at once: the port brings the link back itself */
        {"AT+QICLOSE=0,10", "\r\nOK\r\n"},
        {"AT+QIACT=1", "\r\nOK\r\n"},
        {"AT+QIOPEN=1,1,\"TCP\",\"10.0.0.1\",1883,0,0", "\r\nOK\r\n\r\n+QIOPEN: 1,0\r\n"},
    };
    start(STEPS(steps));
    int32_t s = t.open(t.ctx);
    REQUIRE_EQ(s, 0);
    CHECK_EQ(connect_until_done(s), MQE_IO_ERR_NET_DOWN); /* the URC failed the waiting socket */
    t.close(t.ctx, s);
    s = t.open(t.ctx);
    CHECK_EQ(connect_until_done(s), MQE_IO_ERR_NET_DOWN); /* 561 */
    t.close(t.ctx, s);
    s = t.open(t.ctx);
    CHECK_EQ(s, 1); /* connectID 0 is still being closed */
    CHECK_EQ(connect_until_done(s), 0);
    CHECK_EQ(script_pos, script_len);
    CHECK_EQ(link_down, 2); /* the URC, then the 561 that showed the context down */
    CHECK_EQ(link_up, 2);
    int events[5], n = 0, e;
    while (n < 5 && (e = qat_take_link_event(&modem)) >= 0) {
        events[n++] = e;
    }
    CHECK(n == 4 && events[0] == 0 && events[1] == 1 && events[2] == 0 && events[3] == 1);
}

/* SEND FAIL (the modem's buffer is full) repeats the same bytes after 100 ms; recv reads
 * until a short read; the "closed" URC lets the rest be read, then recv says 0. */
static void case_send_fail_retry_then_read_until_closed(void) {
    static const step_t steps[] = {
        {"AT", "\r\nOK\r\n"},
        {"ATE0", "\r\nOK\r\n"},
        {"AT+QIACT?", "\r\n+QIACT: 1,1,1,\"10.7.0.2\"\r\n\r\nOK\r\n"},
        {OPEN_CMD, "\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n"},
        {"AT+QISEND=0,5", "\r\n> \r\nSEND FAIL\r\n"},
        {"AT+QISEND=0,5", "\r\n> \r\nSEND OK\r\n\r\n+QIURC: \"recv\",0\r\n\r\n+QIURC: \"closed\",0\r\n"},
        {"AT+QIRD=0,1500", "\r\n+QIRD: 3\r\nabc\r\n\r\nOK\r\n"},
        {"AT+QICLOSE=0,10", "\r\nOK\r\n"},
    };
    start(STEPS(steps));
    int32_t s = t.open(t.ctx);
    REQUIRE_EQ(connect_until_done(s), 0);
    CHECK_EQ(t.send(t.ctx, s, (const uint8_t *)"hello", 5), 5);
    uint8_t buf[16];
    CHECK_EQ(t.recv(t.ctx, s, buf, sizeof buf), MQE_IO_WOULD_BLOCK); /* SEND FAIL read */
    CHECK_EQ(script_pos, 5);
    CHECK_EQ(t.send(t.ctx, s, (const uint8_t *)"x", 1), MQE_IO_WOULD_BLOCK); /* buffer taken */
    now_ms += 99;
    (void)t.recv(t.ctx, s, buf, sizeof buf);
    CHECK_EQ(script_pos, 5); /* not yet */
    now_ms += 1;
    int32_t got = MQE_IO_WOULD_BLOCK;
    for (int i = 0; i < 10 && got == MQE_IO_WOULD_BLOCK; i++) {
        got = t.recv(t.ctx, s, buf, sizeof buf);
    }
    CHECK_EQ(got, 3);
    CHECK(memcmp(buf, "abc", 3) == 0);
    CHECK_EQ(t.recv(t.ctx, s, buf, sizeof buf), 0); /* closed, and nothing left */
    t.close(t.ctx, s);
    qat_poll(&modem); /* AT+QICLOSE's OK */
    CHECK_EQ(script_pos, script_len);
    CHECK_EQ(qat_open_sockets(&modem), 0);
}

/* The modem restarts (RDY) mid-session: the socket fails at once, the port syncs again
 * (AT, ATE0: the echo is back on after a restart), and the connectID needs no AT+QICLOSE. */
static void case_modem_restart(void) {
    static const step_t steps[] = {
        {"AT", "\r\nOK\r\n"},
        {"ATE0", "\r\nOK\r\n"},
        {"AT+QIACT?", "\r\n+QIACT: 1,1,1,\"10.7.0.2\"\r\n\r\nOK\r\n"},
        {OPEN_CMD, "\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n"},
        {"AT", "AT\r\r\nOK\r\n"},
        {"ATE0", "ATE0\r\r\nOK\r\n"},
        {"AT+QIACT?", "\r\nOK\r\n"},
        {"AT+QIACT=1", "\r\nOK\r\n"},
        {OPEN_CMD, "\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n"},
    };
    start(STEPS(steps));
    int32_t s = t.open(t.ctx);
    REQUIRE_EQ(connect_until_done(s), 0);
    modem_says("\r\nRDY\r\n");
    uint8_t buf[8];
    CHECK_EQ(t.recv(t.ctx, s, buf, sizeof buf), MQE_IO_ERR_NET_DOWN);
    CHECK_EQ(link_down, 1);
    t.close(t.ctx, s);
    CHECK_EQ(qat_open_sockets(&modem), 0); /* gone with the restart: no AT+QICLOSE */
    s = t.open(t.ctx);
    CHECK_EQ(connect_until_done(s), 0);
    CHECK_EQ(script_pos, script_len);
}

/* The network drops the context while nothing is sent: polling alone deactivates and
 * re-activates the context (the socket's connectID is closed when the engine closes it),
 * and the link events say down, then up. */
static void case_pdpdeact_reactivates_by_itself(void) {
    static const step_t steps[] = {
        {"AT", "\r\nOK\r\n"},
        {"ATE0", "\r\nOK\r\n"},
        {"AT+QIACT?", "\r\n+QIACT: 1,1,1,\"10.7.0.2\"\r\n\r\nOK\r\n"},
        {OPEN_CMD, "\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n"},
        {"AT+QIDEACT=1", "\r\nOK\r\n"},
        {"AT+QIACT=1", "\r\nOK\r\n"}, /* before the engine has closed its socket */
        {"AT+QICLOSE=0,10", "\r\nOK\r\n"},
    };
    start(STEPS(steps));
    int32_t s = t.open(t.ctx);
    REQUIRE_EQ(connect_until_done(s), 0);
    CHECK_EQ(qat_take_link_event(&modem), -1); /* it was up already: no event */
    modem_says("\r\n+QIURC: \"pdpdeact\",1\r\n");
    qat_poll(&modem);
    CHECK_EQ(qat_take_link_event(&modem), 0);
    uint8_t buf[4];
    CHECK_EQ(t.recv(t.ctx, s, buf, sizeof buf), MQE_IO_ERR_NET_DOWN);
    t.close(t.ctx, s);
    for (int i = 0; i < 10; i++) {
        qat_poll(&modem);
        now_ms += 10;
    }
    CHECK_EQ(qat_take_link_event(&modem), 1);
    CHECK_EQ(qat_take_link_event(&modem), -1);
    CHECK_EQ(script_pos, script_len);
    CHECK_EQ(qat_open_sockets(&modem), 0);
}

/* A "recv" URC that comes inside a short AT+QIRD's answer announces data the read did not
 * hold: the port must read again, or that data waits for ever (seen as a stalled at-test). */
static void case_recv_urc_during_a_short_read(void) {
    static const step_t steps[] = {
        {"AT", "\r\nOK\r\n"},
        {"ATE0", "\r\nOK\r\n"},
        {"AT+QIACT?", "\r\n+QIACT: 1,1,1,\"10.7.0.2\"\r\n\r\nOK\r\n"},
        {OPEN_CMD, "\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n"},
        {"AT+QIRD=0,1500", "\r\n+QIRD: 3\r\nabc\r\n\r\n+QIURC: \"recv\",0\r\n\r\nOK\r\n"},
        {"AT+QIRD=0,1500", "\r\n+QIRD: 2\r\nde\r\n\r\nOK\r\n"},
        {"AT+QICLOSE=0,10", "\r\nOK\r\n"},
    };
    start(STEPS(steps));
    int32_t s = t.open(t.ctx);
    REQUIRE_EQ(connect_until_done(s), 0);
    modem_says("\r\n+QIURC: \"recv\",0\r\n");
    uint8_t buf[16];
    int32_t got = MQE_IO_WOULD_BLOCK;
    for (int i = 0; i < 10 && got == MQE_IO_WOULD_BLOCK; i++) {
        got = t.recv(t.ctx, s, buf, sizeof buf);
    }
    CHECK_EQ(got, 3);
    CHECK(memcmp(buf, "abc", 3) == 0);
    got = MQE_IO_WOULD_BLOCK;
    for (int i = 0; i < 10 && got == MQE_IO_WOULD_BLOCK; i++) {
        got = t.recv(t.ctx, s, buf, sizeof buf);
    }
    CHECK_EQ(got, 2); /* the second read went out although the first was short */
    CHECK(memcmp(buf, "de", 2) == 0);
    CHECK_EQ(t.recv(t.ctx, s, buf, sizeof buf), MQE_IO_WOULD_BLOCK); /* nothing more asked */
    t.close(t.ctx, s);
    qat_poll(&modem); /* AT+QICLOSE's OK */
    CHECK_EQ(script_pos, script_len);
}

int main(int argc, char **argv) {
    static const h_case_t cases[] = {
        {"stale_pdp_is_asked_again", case_stale_pdp_is_asked_again},
        {"send_fail_retry_then_read_until_closed", case_send_fail_retry_then_read_until_closed},
        {"modem_restart", case_modem_restart},
        {"pdpdeact_reactivates_by_itself", case_pdpdeact_reactivates_by_itself},
        {"recv_urc_during_a_short_read", case_recv_urc_during_a_short_read},
    };
    return h_run(cases, (int)(sizeof cases / sizeof cases[0]), argc > 1 ? argv[1] : NULL, NULL);
}
