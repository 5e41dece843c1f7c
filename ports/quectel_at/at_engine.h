/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * at_engine: a generic, non-blocking AT command engine (no modem-specific knowledge).
 *
 * It runs one command at a time over a byte pipe (the firmware's UART callbacks):
 *   - splits the input into lines (CR or LF ends a line; empty lines are skipped);
 *   - drops the echo of the current command (echo on or off both work), and the echo of a
 *     payload sent after a `>` prompt;
 *   - offers every line to the command set's URC handler first, so URCs are taken wherever
 *     they arrive, in the middle of a response included;
 *   - ends a command on its final result (OK, ERROR, +CME ERROR: n, +CMS ERROR: n,
 *     SEND OK, SEND FAIL, NO CARRIER) or on its own timeout;
 *   - hands intermediate lines to the command set, which may ask for N raw bytes next
 *     (a binary payload after a length line, e.g. +QIRD: n);
 *   - writes the command and its payload as the UART accepts them, never waiting.
 * No heap: everything lives in at_engine_t.
 */
#ifndef AT_ENGINE_H
#define AT_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifndef AT_LINE_MAX
#define AT_LINE_MAX 128 /* longest response or URC line kept; longer ones are cut */
#endif
#ifndef AT_CMD_MAX
#define AT_CMD_MAX 112 /* longest command text, "AT...", without the CR */
#endif

/* How a command ended. */
typedef enum {
    AT_OK = 0,
    AT_ERROR,     /* ERROR or NO CARRIER */
    AT_CME_ERROR, /* +CME ERROR: n or +CMS ERROR: n; the code is passed along */
    AT_SEND_OK,
    AT_SEND_FAIL,
    AT_TIMEOUT,   /* no final result in time */
    AT_UART_FAIL  /* the UART callback failed */
} at_result_t;

/* The firmware's UART and tick. Both I/O calls must return at once. */
typedef struct {
    void *ctx;
    /* Reads up to len bytes: the count (0 when nothing is there), or < 0 on failure. */
    int32_t (*read)(void *ctx, uint8_t *buf, size_t len);
    /* Writes up to len bytes: the count accepted (may be fewer, or 0), or < 0 on failure. */
    int32_t (*write)(void *ctx, const uint8_t *buf, size_t len);
    /* A millisecond tick that wraps at 2^32. */
    uint32_t (*now_ms)(void *ctx);
} at_io_t;

/* The command set's side. Every function is called from inside at_service. */
typedef struct {
    /* A line that may be a URC: return 1 when it was one (taken), 0 otherwise. */
    int (*urc)(void *user, const char *line, size_t len);
    /* An intermediate line of the current command (tag as given to at_command). */
    void (*line)(void *user, uint8_t tag, const char *line, size_t len);
    /* The current command ended; cme is the +CME/+CMS code, else 0. */
    void (*done)(void *user, uint8_t tag, at_result_t result, int32_t cme);
} at_handlers_t;

typedef struct {
    at_io_t io;
    const at_handlers_t *h;
    void *user;
    /* the current command */
    uint8_t busy;
    uint8_t tag;
    uint8_t echoed;       /* its echo was seen: the modem echoes, so a payload is echoed too */
    uint8_t phase;        /* AT_PH_* */
    char cmd[AT_CMD_MAX + 1];
    size_t cmd_len;       /* with the CR */
    size_t out_off;       /* bytes of cmd (or of payload) written so far */
    const uint8_t *payload;
    size_t payload_len;
    uint32_t started;
    uint32_t timeout_ms;
    /* the input */
    char line[AT_LINE_MAX + 1];
    size_t line_len;
    uint8_t line_cut;     /* the current line overflowed: drop it */
    uint8_t eat;          /* AT_EAT_*: a byte to drop if it comes next */
    uint8_t *raw_dst;     /* raw bytes still expected go here */
    size_t raw_left;
    size_t skip_left;     /* echoed payload bytes still to drop */
    /* counters, for measuring AT traffic */
    uint32_t tx_bytes;
    uint32_t rx_bytes;
} at_engine_t;

void at_init(at_engine_t *at, const at_io_t *io, const at_handlers_t *h, void *user);

/* 1 when no command is running (a new one may start). */
int at_idle(const at_engine_t *at);

/* Starts a command: text without "\r" (copied); payload (kept by pointer: it must stay
 * valid until done) is sent after the `>` prompt, or NULL. Returns 0, or -1 when busy or
 * the text is too long. */
int at_command(at_engine_t *at, uint8_t tag, const char *text, size_t len,
               const uint8_t *payload, size_t payload_len, uint32_t timeout_ms);

/* Called from handlers.line: the next n bytes of input are raw data for dst. */
void at_expect_raw(at_engine_t *at, uint8_t *dst, size_t n);

/* Reads what the UART has, handles it, writes what is due, checks the timeout. Never
 * blocks; bounded by the bytes available now. */
void at_service(at_engine_t *at);

/* Drops any partial input and the current command without calling done (after the
 * modem restarted, for example). */
void at_reset(at_engine_t *at);

/* A small formatter for command text, no printf: appends to buf (cap includes the NUL)
 * and returns the new length; stops silently at cap. */
size_t at_put_str(char *buf, size_t cap, size_t at, const char *s);
size_t at_put_u32(char *buf, size_t cap, size_t at, uint32_t v);
/* Parses a decimal from s (leading spaces skipped); *end is set past it. -1 when none. */
int32_t at_parse_int(const char *s, size_t len, size_t *end);

#endif /* AT_ENGINE_H */
