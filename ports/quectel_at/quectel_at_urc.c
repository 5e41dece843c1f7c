/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* quectel_at's URC and response handler: what the modem says, unasked (+QIURC, +QIOPEN,
 * RDY) or as the lines of a response (+QIRD, +QIACT). */
#include <string.h>

#include "quectel_at_internal.h"

/* ---- URCs ------------------------------------------------------------------------- */

static int starts(const char *line, size_t len, const char *prefix, size_t *rest) {
    size_t n = strlen(prefix);
    if (len < n || memcmp(line, prefix, n) != 0) {
        return 0;
    }
    *rest = n;
    return 1;
}

/* "a.b.c.d" (up to the closing quote) into out[4]; 0 on success. */
static int parse_ipv4(const char *s, size_t len, uint8_t out[4]) {
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        size_t end = 0;
        int32_t v = at_parse_int(s + i, len - i, &end);
        if (v < 0 || v > 255 || end == 0) {
            return -1;
        }
        out[part] = (uint8_t)v;
        i += end;
        if (part < 3) {
            if (i >= len || s[i] != '.') {
                return -1;
            }
            i++;
        }
    }
    return (i == len || s[i] == '"') ? 0 : -1;
}

static void urc_qiurc(qat_modem_t *m, const char *p, size_t len) {
    size_t r = 0, end = 0;
    if (starts(p, len, "\"recv\",", &r) || starts(p, len, "\"closed\",", &r)) {
        qat_sock_t *s = qat_sock_by_id(m, at_parse_int(p + r, len - r, &end));
        if (s == NULL) {
            return;
        }
        if (p[1] == 'r') {
            if (s->state == QS_UP || s->state == QS_PEER_CLOSED) {
                s->rx_pending = 1;
                s->rx_urcs++;
            }
        } else if (s->state == QS_UP) {
            s->state = QS_PEER_CLOSED; /* what the modem still holds can be read */
            if (m->tx_len > 0 && &m->socks[m->tx_sock] == s) {
                m->tx_len = 0;
            }
        }
    } else if (starts(p, len, "\"pdpdeact\",", &r)) {
        if (at_parse_int(p + r, len - r, &end) == m->cfg.context_id) {
            m->pdp = QP_DEACT; /* the manual: deactivate it before activating again */
            qat_pdp_lost(m);
        }
    } else if (starts(p, len, "\"dnsgip\",", &r) && m->dns == D_SENT) {
        if (p[r] == '"') {
            if (parse_ipv4(p + r + 1, len - r - 1, m->dns_addr) == 0) {
                m->dns = D_DONE; /* the first IPv4 address will do */
            }
        } else if (at_parse_int(p + r, len - r, &end) != 0) {
            m->dns = D_FAIL;
        }
    }
}

int qat_on_urc(void *user, const char *line, size_t len) {
    qat_modem_t *m = user;
    size_t r = 0, end = 0;
    if (starts(line, len, "+QIURC: ", &r)) {
        urc_qiurc(m, line + r, len - r);
        return 1;
    }
    if (starts(line, len, "+QIOPEN: ", &r)) {
        qat_sock_t *s = qat_sock_by_id(m, at_parse_int(line + r, len - r, &end));
        r += end;
        int32_t err = (r < len && line[r] == ',') ? at_parse_int(line + r + 1, len - r - 1, &end) : -1;
        if (s != NULL && (s->state == QS_OPENING || s->state == QS_WANT_OPEN)) {
            if (err == 0) {
                s->state = QS_UP;
                s->rx_pending = 0;
            } else {
                qat_sock_fail(m, s, qat_map_cme(m, err));
            }
        }
        return 1;
    }
    if (len == 3 && memcmp(line, "RDY", 3) == 0) {
        /* The modem restarted: its sockets and context are gone, and so is our command. */
        at_reset(&m->at);
        for (int i = 0; i < QAT_MAX_SOCKETS; i++) {
            m->socks[i].modem_has = 0;
        }
        m->state = QM_SYNC;
        m->pdp = QP_UNKNOWN;
        qat_pdp_lost(m);
        m->tx_len = 0;
        return 1;
    }
    return 0;
}

/* ---- responses -------------------------------------------------------------------- */

void qat_on_line(void *user, uint8_t tag, const char *line, size_t len) {
    qat_modem_t *m = user;
    size_t r = 0, end = 0;
    if (tag == C_READ && starts(line, len, "+QIRD: ", &r)) {
        int32_t n = at_parse_int(line + r, len - r, &end);
        if (n > 0 && n <= (int32_t)m->rd_asked) {
            m->rd_len = (uint16_t)n;
            at_expect_raw(&m->at, m->socks[m->cur_sock].rx, (size_t)n);
        }
    } else if (tag == C_ACT_Q && starts(line, len, "+QIACT: ", &r)) {
        /* +QIACT: <ctx>,<state>,<type>[,"<ip>"] for each active context */
        int32_t ctx = at_parse_int(line + r, len - r, &end);
        r += end;
        if (ctx == m->cfg.context_id && r + 1 < len && line[r] == ',') {
            m->pdp = at_parse_int(line + r + 1, len - r - 1, &end) == 1 ? QP_UP : QP_DOWN;
        }
    }
}
