/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* at_engine: see at_engine.h. Generic: nothing here knows a modem's command set. */
#include "at_engine.h"

#include <string.h>

enum {
    AT_PH_CMD = 0, /* writing the command text */
    AT_PH_WAIT,    /* waiting for the response (or the prompt, when there is a payload) */
    AT_PH_PAYLOAD, /* writing the payload after the prompt */
    AT_PH_RESULT   /* payload written; waiting for the final result */
};

#define AT_READ_CHUNK 64u
#define AT_READS_PER_SERVICE 64u /* bounds one at_service to 4 KiB of input */

/* at_engine_t.eat: the byte after a CR may be its LF; the byte after '>' may be a space. */
#define AT_EAT_LF 0x1u
#define AT_EAT_SPACE 0x2u

void at_init(at_engine_t *at, const at_io_t *io, const at_handlers_t *h, void *user) {
    memset(at, 0, sizeof *at);
    at->io = *io;
    at->h = h;
    at->user = user;
}

void at_reset(at_engine_t *at) {
    at->busy = 0;
    at->line_len = 0;
    at->line_cut = 0;
    at->eat = 0;
    at->raw_dst = NULL;
    at->raw_left = 0;
    at->skip_left = 0;
}

int at_idle(const at_engine_t *at) {
    return !at->busy;
}

int at_command(at_engine_t *at, uint8_t tag, const char *text, size_t len,
               const uint8_t *payload, size_t payload_len, uint32_t timeout_ms) {
    if (at->busy || len > AT_CMD_MAX) {
        return -1;
    }
    memcpy(at->cmd, text, len);
    at->cmd[len] = '\r';
    at->cmd_len = len + 1;
    at->out_off = 0;
    at->tag = tag;
    at->echoed = 0;
    at->phase = AT_PH_CMD;
    at->payload = payload;
    at->payload_len = payload != NULL ? payload_len : 0;
    at->timeout_ms = timeout_ms;
    at->started = at->io.now_ms(at->io.ctx);
    at->busy = 1;
    return 0;
}

void at_expect_raw(at_engine_t *at, uint8_t *dst, size_t n) {
    at->raw_dst = dst;
    at->raw_left = dst != NULL ? n : 0;
}

static void finish(at_engine_t *at, at_result_t result, int32_t cme) {
    at->busy = 0;
    at->payload = NULL;
    at->h->done(at->user, at->tag, result, cme); /* may start the next command */
}

static int line_is(const char *line, size_t len, const char *word) {
    size_t n = strlen(word);
    return len == n && memcmp(line, word, n) == 0;
}

static int line_starts(const char *line, size_t len, const char *prefix) {
    size_t n = strlen(prefix);
    return len >= n && memcmp(line, prefix, n) == 0;
}

/* A final result ends the command; 1 when line was one. */
static int final_result(at_engine_t *at, const char *line, size_t len) {
    if (line_is(line, len, "OK")) {
        finish(at, AT_OK, 0);
    } else if (line_is(line, len, "ERROR") || line_is(line, len, "NO CARRIER")) {
        finish(at, AT_ERROR, 0);
    } else if (line_is(line, len, "SEND OK")) {
        finish(at, AT_SEND_OK, 0);
    } else if (line_is(line, len, "SEND FAIL")) {
        finish(at, AT_SEND_FAIL, 0);
    } else if (line_starts(line, len, "+CME ERROR:") || line_starts(line, len, "+CMS ERROR:")) {
        size_t end = 0;
        int32_t code = at_parse_int(line + 11, len - 11, &end);
        finish(at, AT_CME_ERROR, code < 0 ? 0 : code);
    } else {
        return 0;
    }
    return 1;
}

static void handle_line(at_engine_t *at) {
    const char *line = at->line;
    size_t len = at->line_len;
    while (len > 0 && line[len - 1] == ' ') {
        len--;
    }
    if (len == 0) {
        return;
    }
    at->line[len] = '\0';
    /* The echo of the command: the modem echoes, so a payload will be echoed as well. */
    if (at->busy && at->phase != AT_PH_CMD && len + 1 == at->cmd_len &&
        memcmp(line, at->cmd, len) == 0) {
        at->echoed = 1;
        return;
    }
    if (at->h->urc(at->user, line, len)) {
        return;
    }
    if (!at->busy || at->phase == AT_PH_CMD || final_result(at, line, len)) {
        return; /* stray line: nobody asked */
    }
    at->h->line(at->user, at->tag, line, len);
}

static void prompt(at_engine_t *at) {
    at->line_len = 0;
    at->phase = AT_PH_PAYLOAD;
    at->out_off = 0;
    at->eat = AT_EAT_SPACE;
    if (at->echoed) {
        at->skip_left = at->payload_len; /* the modem echoes what it takes after '>' */
    }
}

static void feed(at_engine_t *at, const uint8_t *buf, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t flags = at->eat;
        if (flags != 0) {
            at->eat = 0;
            if (((flags & AT_EAT_LF) && buf[i] == '\n') || ((flags & AT_EAT_SPACE) && buf[i] == ' ')) {
                i++;
                continue;
            }
        }
        if (at->raw_left > 0 || at->skip_left > 0) { /* a block at a time */
            size_t *left = at->raw_left > 0 ? &at->raw_left : &at->skip_left;
            size_t k = n - i < *left ? n - i : *left;
            if (left == &at->raw_left) {
                memcpy(at->raw_dst, buf + i, k);
                at->raw_dst += k;
            }
            *left -= k;
            i += k;
            continue;
        }
        uint8_t b = buf[i];
        if (b != '\r' && b != '\n' && !(b == '>' && at->line_len == 0)) {
            /* A run of line bytes, copied at once (a '>' opening a line goes alone below: it
             * may be the prompt, and what follows it is not part of the line). */
            size_t j = i;
            while (j < n && buf[j] != '\r' && buf[j] != '\n') {
                j++;
            }
            size_t k = j - i;
            if (k > AT_LINE_MAX - at->line_len) {
                k = AT_LINE_MAX - at->line_len;
                at->line_cut = 1;
            }
            memcpy(at->line + at->line_len, buf + i, k);
            at->line_len += k;
            i = j;
            continue;
        }
        i++;
        if (b == '\r' || b == '\n') {
            int cut = at->line_cut;
            at->line_cut = 0;
            if (!cut) {
                handle_line(at);
            }
            at->line_len = 0;
            if (b == '\r') {
                at->eat = AT_EAT_LF; /* raw data asked for by this line starts after LF */
            }
            continue;
        }
        at->line[at->line_len++] = '>'; /* line_len was 0 */
        if (at->busy && at->phase == AT_PH_WAIT && at->payload != NULL) {
            prompt(at);
        }
    }
}

/* Writes what the UART takes of [data+off, data+len); 1 when all of it is out. */
static int write_out(at_engine_t *at, const uint8_t *data, size_t len) {
    while (at->out_off < len) {
        int32_t n = at->io.write(at->io.ctx, data + at->out_off, len - at->out_off);
        if (n < 0) {
            finish(at, AT_UART_FAIL, 0);
            return 0;
        }
        if (n == 0) {
            return 0;
        }
        at->out_off += (size_t)n;
        at->tx_bytes += (uint32_t)n;
    }
    return 1;
}

void at_service(at_engine_t *at) {
    uint8_t buf[AT_READ_CHUNK];
    for (unsigned i = 0; i < AT_READS_PER_SERVICE; i++) {
        int32_t n = at->io.read(at->io.ctx, buf, sizeof buf);
        if (n < 0) {
            if (at->busy) {
                finish(at, AT_UART_FAIL, 0);
            }
            return;
        }
        if (n == 0) {
            break;
        }
        at->rx_bytes += (uint32_t)n;
        feed(at, buf, (size_t)n);
    }
    if (at->busy && at->phase == AT_PH_CMD &&
        write_out(at, (const uint8_t *)at->cmd, at->cmd_len)) {
        at->phase = AT_PH_WAIT;
    }
    if (at->busy && at->phase == AT_PH_PAYLOAD && write_out(at, at->payload, at->payload_len)) {
        at->phase = AT_PH_RESULT;
    }
    if (at->busy &&
        (uint32_t)(at->io.now_ms(at->io.ctx) - at->started) >= at->timeout_ms) { /* wrap-safe */
        at->raw_left = 0;
        at->skip_left = 0;
        finish(at, AT_TIMEOUT, 0);
    }
}

size_t at_put_str(char *buf, size_t cap, size_t at, const char *s) {
    while (*s != '\0' && at + 1 < cap) {
        buf[at++] = *s++;
    }
    if (at < cap) {
        buf[at] = '\0';
    }
    return at;
}

size_t at_put_u32(char *buf, size_t cap, size_t at, uint32_t v) {
    char digits[10];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0 && n < sizeof digits);
    while (n > 0 && at + 1 < cap) {
        buf[at++] = digits[--n];
    }
    if (at < cap) {
        buf[at] = '\0';
    }
    return at;
}

int32_t at_parse_int(const char *s, size_t len, size_t *end) {
    size_t i = 0;
    while (i < len && s[i] == ' ') {
        i++;
    }
    int32_t v = -1;
    while (i < len && s[i] >= '0' && s[i] <= '9' && v < 100000000) {
        v = (v < 0 ? 0 : v * 10) + (s[i] - '0');
        i++;
    }
    *end = i;
    return v;
}
