/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* at_engine on a scripted UART, no modem: the modem's bytes arrive in every chunking (one
 * byte at a time up to all at once), and the engine must see the same lines, URCs, raw
 * data and results. `make at-test` runs it. */
#include <stdio.h>
#include <string.h>

#include "at_engine.h"
#include "harness.h"

typedef struct {
    const char *in; /* what the modem sends */
    size_t in_len;
    size_t in_off;
    size_t chunk;   /* bytes per read */
    int gated;      /* nothing to read before a command's CR has been written */
    size_t hold_at; /* input stops here (after the prompt) ... */
    size_t hold_out; /* ... until this many bytes were written (command and payload) */
    char out[256];  /* what the engine wrote */
    size_t out_len;
    size_t write_max; /* bytes per write */
    uint32_t now;
} fake_uart_t;

typedef struct {
    at_engine_t *at;
    char urcs[4][64];
    int urc_count;
    char lines[4][64];
    int line_count;
    uint8_t raw[64];
    size_t raw_len;
    int done_count;
    at_result_t result;
    int32_t cme;
} record_t;

static int32_t fake_read(void *ctx, uint8_t *buf, size_t len) {
    fake_uart_t *u = ctx;
    if (u->gated && memchr(u->out, '\r', u->out_len) == NULL) {
        return 0; /* the modem answers once the command's CR is in */
    }
    size_t end = u->in_len;
    if (u->hold_at > 0 && u->out_len < u->hold_out) {
        end = u->hold_at; /* the modem answers a payload only once it has all of it */
    }
    size_t n = end > u->in_off ? end - u->in_off : 0;
    n = n < u->chunk ? n : u->chunk;
    n = n < len ? n : len;
    memcpy(buf, u->in + u->in_off, n);
    u->in_off += n;
    return (int32_t)n;
}

static int32_t fake_write(void *ctx, const uint8_t *buf, size_t len) {
    fake_uart_t *u = ctx;
    size_t n = len < u->write_max ? len : u->write_max;
    if (n > sizeof u->out - u->out_len) {
        return -1;
    }
    memcpy(u->out + u->out_len, buf, n);
    u->out_len += n;
    return (int32_t)n;
}

static uint32_t fake_now(void *ctx) {
    return ((fake_uart_t *)ctx)->now;
}

static int rec_urc(void *user, const char *line, size_t len) {
    record_t *r = user;
    if (len < 7 || memcmp(line, "+QIURC:", 7) != 0) {
        return 0;
    }
    if (r->urc_count < 4) {
        snprintf(r->urcs[r->urc_count++], 64, "%.*s", (int)len, line);
    }
    return 1;
}

static void rec_line(void *user, uint8_t tag, const char *line, size_t len) {
    record_t *r = user;
    (void)tag;
    if (r->line_count < 4) {
        snprintf(r->lines[r->line_count++], 64, "%.*s", (int)len, line);
    }
    size_t end = 0;
    if (len > 7 && memcmp(line, "+QIRD: ", 7) == 0) {
        int32_t n = at_parse_int(line + 7, len - 7, &end);
        if (n > 0 && (size_t)n <= sizeof r->raw) {
            r->raw_len = (size_t)n;
            at_expect_raw(r->at, r->raw, (size_t)n);
        }
    }
}

static void rec_done(void *user, uint8_t tag, at_result_t result, int32_t cme) {
    record_t *r = user;
    (void)tag;
    r->done_count++;
    r->result = result;
    r->cme = cme;
}

static const at_handlers_t rec_handlers = {rec_urc, rec_line, rec_done};

/* Runs one command against the modem's bytes, read `chunk` bytes at a time. */
static void run(at_engine_t *at, fake_uart_t *u, record_t *r, const char *cmd, const char *payload,
                size_t payload_len, const char *modem, size_t modem_len, size_t chunk) {
    memset(u, 0, sizeof *u);
    memset(r, 0, sizeof *r);
    u->in = modem;
    u->in_len = modem_len;
    u->chunk = chunk;
    u->gated = 1;
    if (payload != NULL) {
        const char *prompt = strstr(modem, "> ");
        u->hold_at = prompt != NULL ? (size_t)(prompt - modem) + 2 : 0;
        u->hold_out = strlen(cmd) + 1 + payload_len;
    }
    u->write_max = 3; /* the UART takes a few bytes at a time */
    u->now = 1000;
    r->at = at;
    at_io_t io = {u, fake_read, fake_write, fake_now};
    at_init(at, &io, &rec_handlers, r);
    CHECK_EQ(at_command(at, 7, cmd, strlen(cmd), (const uint8_t *)payload, payload_len, 500), 0);
    for (int i = 0; i < 2000 && r->done_count == 0; i++) { /* bounded */
        at_service(at);
    }
}

#define MODEM(s) s, sizeof(s) - 1

/* Echo on; the raw data holds CR LF; a URC sits between the data and OK. */
static void case_qird_raw_data_and_urc_inside(void) {
    static const char modem[] = "AT+QIRD=0,1500\r\r\n+QIRD: 6\r\nab\r\ncd\r\n"
                                "\r\n+QIURC: \"recv\",1\r\n\r\nOK\r\n";
    for (size_t chunk = 1; chunk <= sizeof modem && h_failures == 0; chunk++) {
        at_engine_t at;
        fake_uart_t u;
        record_t r;
        run(&at, &u, &r, "AT+QIRD=0,1500", NULL, 0, MODEM(modem), chunk);
        CHECK_EQ(r.done_count, 1);
        CHECK_EQ(r.result, AT_OK);
        CHECK_EQ(r.raw_len, 6);
        CHECK(memcmp(r.raw, "ab\r\ncd", 6) == 0);
        CHECK_EQ(r.urc_count, 1);
        CHECK(strcmp(r.urcs[0], "+QIURC: \"recv\",1") == 0);
        CHECK_EQ(r.line_count, 1); /* +QIRD only: the echo was dropped */
        CHECK(u.out_len == 15 && memcmp(u.out, "AT+QIRD=0,1500\r", 15) == 0);
    }
}

/* The prompt, a binary payload, its echo (echo on) and SEND OK; a URC before the prompt. */
static void case_prompt_payload_echoed(void) {
    static const char modem[] = "AT+QISEND=0,7\r\r\n+QIURC: \"closed\",1\r\n\r\n> h\r\n>\r\nz"
                                "\r\nSEND OK\r\n";
    for (size_t chunk = 1; chunk <= sizeof modem && h_failures == 0; chunk++) {
        at_engine_t at;
        fake_uart_t u;
        record_t r;
        run(&at, &u, &r, "AT+QISEND=0,7", "h\r\n>\r\nz", 7, MODEM(modem), chunk);
        CHECK_EQ(r.done_count, 1);
        CHECK_EQ(r.result, AT_SEND_OK);
        CHECK_EQ(r.urc_count, 1);
        CHECK_EQ(r.line_count, 0); /* the echoed payload never became lines */
        CHECK(u.out_len == 21 && memcmp(u.out, "AT+QISEND=0,7\rh\r\n>\r\nz", 21) == 0);
    }
}

/* Echo off: the prompt straight after the command; SEND FAIL. */
static void case_prompt_without_echo(void) {
    static const char modem[] = "\r\n> \r\nSEND FAIL\r\n";
    for (size_t chunk = 1; chunk <= sizeof modem && h_failures == 0; chunk++) {
        at_engine_t at;
        fake_uart_t u;
        record_t r;
        run(&at, &u, &r, "AT+QISEND=0,2", "ok", 2, MODEM(modem), chunk);
        CHECK_EQ(r.result, AT_SEND_FAIL);
        CHECK(u.out_len == 16 && memcmp(u.out, "AT+QISEND=0,2\rok", 16) == 0);
    }
}

static void case_cme_error_code(void) {
    at_engine_t at;
    fake_uart_t u;
    record_t r;
    run(&at, &u, &r, "AT+QIOPEN=1,0,\"TCP\",\"1.2.3.4\",1883,0,0", NULL, 0,
        MODEM("\r\n+CME ERROR: 563\r\n"), 4);
    CHECK_EQ(r.result, AT_CME_ERROR);
    CHECK_EQ(r.cme, 563);
}

/* A line longer than AT_LINE_MAX is dropped whole; what follows is still understood. */
static void case_overlong_line_dropped(void) {
    static char modem[400];
    memset(modem, 'x', 300);
    memcpy(modem + 300, "\r\n+QIURC: \"closed\",0\r\nOK\r\n", 26);
    at_engine_t at;
    fake_uart_t u;
    record_t r;
    run(&at, &u, &r, "AT", NULL, 0, modem, 326, 17);
    CHECK_EQ(r.result, AT_OK);
    CHECK_EQ(r.line_count, 0);
    CHECK_EQ(r.urc_count, 1);
}

/* No answer: the command ends with AT_TIMEOUT once its time has passed, not before. */
static void case_timeout(void) {
    at_engine_t at;
    fake_uart_t u;
    record_t r;
    run(&at, &u, &r, "AT", NULL, 0, MODEM(""), 1);
    CHECK_EQ(r.done_count, 0);
    u.now += 499;
    at_service(&at);
    CHECK_EQ(r.done_count, 0);
    u.now += 1;
    at_service(&at);
    CHECK_EQ(r.done_count, 1);
    CHECK_EQ(r.result, AT_TIMEOUT);
    CHECK(at_idle(&at));
}

/* A stray final result with no command running is ignored; URCs still come through. */
static void case_idle_lines(void) {
    at_engine_t at;
    fake_uart_t u;
    record_t r;
    memset(&u, 0, sizeof u);
    memset(&r, 0, sizeof r);
    static const char modem[] = "\r\nOK\r\n+QIURC: \"pdpdeact\",1\r\n";
    u.in = modem;
    u.in_len = sizeof modem - 1;
    u.chunk = 5;
    u.write_max = 8;
    r.at = &at;
    at_io_t io = {&u, fake_read, fake_write, fake_now};
    at_init(&at, &io, &rec_handlers, &r);
    for (int i = 0; i < 20; i++) {
        at_service(&at);
    }
    CHECK_EQ(r.done_count, 0);
    CHECK_EQ(r.urc_count, 1);
    CHECK_EQ(r.line_count, 0);
}

int main(int argc, char **argv) {
    static const h_case_t cases[] = {
        {"qird_raw_data_and_urc_inside", case_qird_raw_data_and_urc_inside},
        {"prompt_payload_echoed", case_prompt_payload_echoed},
        {"prompt_without_echo", case_prompt_without_echo},
        {"cme_error_code", case_cme_error_code},
        {"overlong_line_dropped", case_overlong_line_dropped},
        {"timeout", case_timeout},
        {"idle_lines", case_idle_lines},
    };
    return h_run(cases, (int)(sizeof cases / sizeof cases[0]), argc > 1 ? argv[1] : NULL, NULL);
}
