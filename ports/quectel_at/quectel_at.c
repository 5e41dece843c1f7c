/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* quectel_at: the Quectel TCP/IP command set over at_engine, as an mqe_transport_t.
 * See quectel_at.h. Timeouts are the manual's maximum response times. */
#include "quectel_at_internal.h"

#include <stddef.h>
#include <string.h>

#ifndef QAT_T_SHORT_MS
/* Plain commands answer within 300 ms; AT+QIRD's 1,500 bytes take 130 ms at 115,200 baud.
 * Raise it for slow UARTs (1.6 s at 9,600 baud). */
#define QAT_T_SHORT_MS 2000u
#endif
#define T_SHORT_MS QAT_T_SHORT_MS
#define T_QIACT_MS 150000u    /* AT+QIACT: 150 s */
#define T_QIDEACT_MS 40000u   /* AT+QIDEACT: 40 s */
#define T_QIOPEN_MS 150000u   /* +QIOPEN URC: 150 s */
#define T_QICLOSE_MS 11000u   /* AT+QICLOSE: 10 s */
#define T_QISEND_MS 10000u    /* '>' then SEND OK */
#define T_DNS_MS 60000u       /* +QIURC: "dnsgip": 60 s */
#define SEND_RETRY_MS 100u    /* SEND FAIL: the modem's send buffer is full; try again */
#define SEND_GIVE_UP_MS 10000u
#define SYNC_RETRY_MS 1000u
#define RELINK_RETRY_MS 5000u /* a failed re-activation after the link dropped */
#define PUMP_ROUNDS 4u

static uint32_t now(const qat_modem_t *m) {
    return m->cfg.io.now_ms(m->cfg.io.ctx);
}

static int due(const qat_modem_t *m, uint32_t at) {
    return (int32_t)(now(m) - at) >= 0; /* wrap-safe */
}

void qat_link_event(qat_modem_t *m, int up) {
    uint8_t v = up ? 1u : 0u;
    if (m->link_n > 0 && m->link_q[m->link_n - 1] == v) {
        return; /* no change since the last one not yet taken */
    }
    if (m->link_n == sizeof m->link_q) {
        memmove(m->link_q, m->link_q + 1, sizeof m->link_q - 1); /* the oldest goes */
        m->link_n--;
    }
    m->link_q[m->link_n++] = v;
    if (!up) {
        m->relink = 1; /* bring the context back without waiting for a connect */
        m->relink_at = now(m);
    }
    if (m->cfg.link != NULL) {
        m->cfg.link(m->cfg.link_user, up);
    }
}

qat_sock_t *qat_sock_by_id(qat_modem_t *m, int32_t connect_id) {
    int32_t i = connect_id - (int32_t)m->cfg.first_connect_id;
    return (i >= 0 && i < QAT_MAX_SOCKETS) ? &m->socks[i] : NULL;
}

static uint8_t connect_id(const qat_modem_t *m, const qat_sock_t *s) {
    return (uint8_t)(m->cfg.first_connect_id + (uint8_t)(s - m->socks));
}

void qat_sock_fail(qat_modem_t *m, qat_sock_t *s, int32_t err) {
    if (s->state == QS_FREE || s->state == QS_CLOSING || s->state == QS_FAILED) {
        return;
    }
    s->state = QS_FAILED;
    s->err = err;
    s->rx_pending = 0;
    if (m->tx_len > 0 && &m->socks[m->tx_sock] == s) {
        m->tx_len = 0; /* accepted bytes die with the connection; the session re-sends */
    }
}

/* A +CME code of the TCP/IP commands as a transport failure. A PDP code also means our
 * idea of the context is stale (a pdpdeact URC can overtake a slow AT+QIACT's OK): ask the
 * modem again (AT+QIACT?) before the next connect. */
int32_t qat_map_cme(qat_modem_t *m, int32_t cme) {
    switch (cme) {
    case 561: /* open PDP context failed */
    case 570: /* PDP context broken down */
    case 573: /* APN not configured */
        if (m->pdp == QP_UP) {
            m->pdp = QP_UNKNOWN;
            qat_link_event(m, 0);
        }
        return QAT_ERR_NET_DOWN;
    case 569: /* operation timeout */
        return QAT_ERR_TIMEOUT;
    default:
        return QAT_ERR;
    }
}

/* The PDP context is gone (URC pdpdeact, or a modem restart): every socket with it. */
void qat_pdp_lost(qat_modem_t *m) {
    for (int i = 0; i < QAT_MAX_SOCKETS; i++) {
        qat_sock_fail(m, &m->socks[i], QAT_ERR_NET_DOWN);
    }
    if (m->dns == D_WANT || m->dns == D_SENT) {
        m->dns = D_FAIL;
    }
    qat_link_event(m, 0);
}

static void on_done(void *user, uint8_t tag, at_result_t res, int32_t cme) {
    qat_modem_t *m = user;
    qat_sock_t *s = &m->socks[m->cur_sock];
    switch (tag) {
    case C_SYNC:
        if (res == AT_OK) {
            m->state = m->cfg.keep_echo ? QM_READY : QM_ECHO;
        } else {
            m->retry_at = now(m) + SYNC_RETRY_MS;
        }
        break;
    case C_ECHO:
        m->state = res == AT_OK ? QM_READY : QM_SYNC;
        break;
    case C_ACT_Q:
        if (res == AT_OK && m->pdp == QP_UNKNOWN) {
            m->pdp = QP_DOWN; /* not listed: not active */
        }
        if (m->pdp == QP_UP && m->relink) {
            m->relink = 0; /* the modem brought it back itself */
            qat_link_event(m, 1);
        }
        break;
    case C_ACT:
        if (res == AT_OK) {
            m->pdp = QP_UP;
            m->relink = 0;
            qat_link_event(m, 1);
        } else {
            m->pdp = QP_UNKNOWN; /* ask again next time */
            m->pdp_fail = 1;
            m->relink_at = now(m) + RELINK_RETRY_MS;
        }
        break;
    case C_DEACT:
        m->pdp = QP_DOWN;
        break;
    case C_DNS:
        if (res != AT_OK && m->dns == D_SENT) {
            m->dns = D_FAIL;
        }
        break;
    case C_OPEN:
        if (res == AT_OK) {
            if (s->state == QS_WANT_OPEN) {
                s->state = QS_OPENING;
                s->since = now(m);
            }
        } else {
            qat_sock_fail(m, s, res == AT_CME_ERROR ? qat_map_cme(m, cme) : QAT_ERR);
        }
        break;
    case C_SEND:
        if (res == AT_SEND_OK) {
            m->tx_len = 0;
            m->tx_failing = 0;
        } else if (m->tx_len == 0) {
            /* the socket went away meanwhile: nothing left to deliver */
        } else if (res == AT_SEND_FAIL) {
            if (!m->tx_failing) {
                m->tx_failing = 1;
                m->tx_fail_since = now(m);
            }
            m->retry_at = now(m) + SEND_RETRY_MS;
            if ((uint32_t)(now(m) - m->tx_fail_since) >= SEND_GIVE_UP_MS) {
                qat_sock_fail(m, s, QAT_ERR_TIMEOUT);
            }
        } else {
            qat_sock_fail(m, s, res == AT_TIMEOUT ? QAT_ERR_TIMEOUT : QAT_ERR_RESET);
        }
        break;
    case C_READ:
        if (res == AT_OK) {
            if (s->state == QS_UP || s->state == QS_PEER_CLOSED) {
                s->rx_len = m->rd_len;
                s->rx_off = 0;
            }
            /* A short read emptied the modem's buffer: it reports the next data by URC. A
             * "recv" URC that came while the read was answered announced data the read may
             * not have held: keep asking, or that data waits for ever. */
            if (m->rd_len < m->rd_asked && m->rd_urcs == s->rx_urcs) {
                s->rx_pending = 0;
            }
        } else {
            qat_sock_fail(m, s, QAT_ERR_RESET);
        }
        break;
    case C_CLOSE:
        /* Freed whatever the answer: after a timeout the modem is told again next open. */
        s->state = QS_FREE;
        s->modem_has = 0;
        break;
    default:
        break;
    }
    if (res == AT_TIMEOUT && tag != C_SYNC) {
        m->state = QM_SYNC; /* a late answer must not be taken for the next command's */
    }
}

static const at_handlers_t handlers = {qat_on_urc, qat_on_line, on_done};

/* ---- issuing commands ------------------------------------------------------------- */

static int issue(qat_modem_t *m, uint8_t tag, const char *text, size_t len,
                 const uint8_t *payload, size_t payload_len, uint32_t timeout_ms) {
    return at_command(&m->at, tag, text, len, payload, payload_len, timeout_ms) == 0;
}

/* "<prefix><a>,<b>" */
static size_t fmt2(char *buf, size_t cap, const char *prefix, uint32_t a, uint32_t b) {
    size_t n = at_put_str(buf, cap, 0, prefix);
    n = at_put_u32(buf, cap, n, a);
    n = at_put_str(buf, cap, n, ",");
    return at_put_u32(buf, cap, n, b);
}

static int wants_net(const qat_modem_t *m) {
    if (m->dns == D_WANT) {
        return 1;
    }
    for (int i = 0; i < QAT_MAX_SOCKETS; i++) {
        if (m->socks[i].state == QS_WANT_OPEN) {
            return 1;
        }
    }
    return 0;
}

/* Starts the most urgent command that is due; 1 when one was started. */
static int next_command(qat_modem_t *m) {
    char cmd[AT_CMD_MAX + 1];
    size_t n;
    uint8_t ctx = m->cfg.context_id;
    if (m->state == QM_SYNC) {
        return due(m, m->retry_at) && issue(m, C_SYNC, "AT", 2, NULL, 0, T_SHORT_MS);
    }
    if (m->state == QM_ECHO) {
        return issue(m, C_ECHO, "ATE0", 4, NULL, 0, T_SHORT_MS);
    }
    for (int i = 0; i < QAT_MAX_SOCKETS; i++) {
        qat_sock_t *s = &m->socks[i];
        if (s->state == QS_CLOSING) {
            m->cur_sock = (uint8_t)i;
            n = fmt2(cmd, sizeof cmd, "AT+QICLOSE=", connect_id(m, s), 10);
            return issue(m, C_CLOSE, cmd, n, NULL, 0, T_QICLOSE_MS);
        }
    }
    if (m->pdp == QP_DEACT) {
        n = at_put_u32(cmd, sizeof cmd, at_put_str(cmd, sizeof cmd, 0, "AT+QIDEACT="), ctx);
        return issue(m, C_DEACT, cmd, n, NULL, 0, T_QIDEACT_MS);
    }
    if (m->pdp_fail) {
        m->pdp_fail = 0; /* the activation failed: those waiting for it fail */
        for (int i = 0; i < QAT_MAX_SOCKETS; i++) {
            if (m->socks[i].state == QS_WANT_OPEN) {
                qat_sock_fail(m, &m->socks[i], QAT_ERR_NET_DOWN);
            }
        }
        if (m->dns == D_WANT) {
            m->dns = D_FAIL;
        }
    }
    int need = wants_net(m) || (m->relink && due(m, m->relink_at));
    if (need && m->pdp == QP_UNKNOWN) {
        return issue(m, C_ACT_Q, "AT+QIACT?", 9, NULL, 0, T_SHORT_MS);
    }
    if (need && m->pdp == QP_DOWN) {
        n = at_put_u32(cmd, sizeof cmd, at_put_str(cmd, sizeof cmd, 0, "AT+QIACT="), ctx);
        return issue(m, C_ACT, cmd, n, NULL, 0, T_QIACT_MS);
    }
    if (m->pdp == QP_UP && m->dns == D_WANT) {
        n = at_put_u32(cmd, sizeof cmd, at_put_str(cmd, sizeof cmd, 0, "AT+QIDNSGIP="), ctx);
        n = at_put_str(cmd, sizeof cmd, n, ",\"");
        n = at_put_str(cmd, sizeof cmd, n, m->dns_host);
        n = at_put_str(cmd, sizeof cmd, n, "\"");
        m->dns = D_SENT;
        m->dns_since = now(m);
        return issue(m, C_DNS, cmd, n, NULL, 0, T_SHORT_MS);
    }
    for (int i = 0; i < QAT_MAX_SOCKETS && m->pdp == QP_UP; i++) {
        qat_sock_t *s = &m->socks[i];
        if (s->state == QS_WANT_OPEN) {
            m->cur_sock = (uint8_t)i;
            s->modem_has = 1;
            n = fmt2(cmd, sizeof cmd, "AT+QIOPEN=", ctx, connect_id(m, s));
            n = at_put_str(cmd, sizeof cmd, n, ",\"TCP\",\"");
            for (int k = 0; k < 4; k++) {
                n = at_put_u32(cmd, sizeof cmd, n, s->addr[k]);
                n = at_put_str(cmd, sizeof cmd, n, k < 3 ? "." : "\",");
            }
            n = at_put_u32(cmd, sizeof cmd, n, s->port);
            n = at_put_str(cmd, sizeof cmd, n, ",0,0"); /* any local port; buffer access mode */
            return issue(m, C_OPEN, cmd, n, NULL, 0, T_SHORT_MS);
        }
    }
    if (m->tx_len > 0 && (!m->tx_failing || due(m, m->retry_at))) {
        m->cur_sock = m->tx_sock;
        n = fmt2(cmd, sizeof cmd, "AT+QISEND=", connect_id(m, &m->socks[m->tx_sock]), m->tx_len);
        return issue(m, C_SEND, cmd, n, m->tx, m->tx_len, T_QISEND_MS);
    }
    for (int i = 0; i < QAT_MAX_SOCKETS; i++) {
        qat_sock_t *s = &m->socks[i];
        if ((s->state == QS_UP || s->state == QS_PEER_CLOSED) && s->rx_pending &&
            s->rx_off >= s->rx_len) {
            m->cur_sock = (uint8_t)i;
            m->rd_len = 0;
            m->rd_asked = QAT_RX_CHUNK;
            m->rd_urcs = s->rx_urcs;
            n = fmt2(cmd, sizeof cmd, "AT+QIRD=", connect_id(m, s), QAT_RX_CHUNK);
            return issue(m, C_READ, cmd, n, NULL, 0, T_SHORT_MS);
        }
    }
    return 0;
}

/* Deadlines that belong to no single command: the +QIOPEN and dnsgip URCs (checked while
 * no command runs). */
static void check_deadlines(qat_modem_t *m) {
    for (int i = 0; i < QAT_MAX_SOCKETS; i++) {
        qat_sock_t *s = &m->socks[i];
        if (s->state == QS_OPENING && (uint32_t)(now(m) - s->since) >= T_QIOPEN_MS) {
            qat_sock_fail(m, s, QAT_ERR_TIMEOUT);
        }
    }
    if (m->dns == D_SENT && (uint32_t)(now(m) - m->dns_since) >= T_DNS_MS) {
        m->dns = D_FAIL;
    }
}

void qat_poll(qat_modem_t *m) {
    for (unsigned i = 0; i < PUMP_ROUNDS; i++) {
        at_service(&m->at);
        if (!at_idle(&m->at)) {
            break;
        }
        check_deadlines(m);
        if (!next_command(m)) {
            break;
        }
    }
}

/* ---- the transport ---------------------------------------------------------------- */

static qat_sock_t *sock_get(qat_modem_t *m, int32_t sock) {
    if (m == NULL || sock < 0 || sock >= QAT_MAX_SOCKETS || m->socks[sock].state == QS_FREE) {
        return NULL;
    }
    return &m->socks[sock];
}

static int32_t qat_open(void *ctx) {
    qat_modem_t *m = ctx;
    for (int32_t i = 0; i < QAT_MAX_SOCKETS; i++) {
        qat_sock_t *s = &m->socks[i];
        if (s->state == QS_FREE) {
            memset(s, 0, offsetof(qat_sock_t, rx)); /* the buffer needs no clearing */
            s->state = QS_IDLE;
            return i;
        }
    }
    return QAT_ERR; /* every connectID busy (some may still be closing) */
}

static int32_t qat_connect(void *ctx, int32_t sock, const mqe_sockaddr_t *addr) {
    qat_modem_t *m = ctx;
    qat_sock_t *s = sock_get(m, sock);
    if (s == NULL || addr == NULL) {
        return QAT_ERR;
    }
    if (s->state == QS_IDLE) {
        if (addr->family != 4) {
            return QAT_ERR; /* the command text here is IPv4 only */
        }
        memcpy(s->addr, addr->addr, 4);
        s->port = addr->port;
        s->state = QS_WANT_OPEN;
    }
    qat_poll(m);
    switch (s->state) {
    case QS_UP:
        return 0;
    case QS_WANT_OPEN:
    case QS_OPENING:
        return MQE_IO_WOULD_BLOCK;
    case QS_FAILED:
        return s->err;
    default:
        return QAT_ERR_RESET;
    }
}

static int32_t qat_send(void *ctx, int32_t sock, const uint8_t *buf, size_t len) {
    qat_modem_t *m = ctx;
    qat_sock_t *s = sock_get(m, sock);
    if (s == NULL || buf == NULL) {
        return QAT_ERR;
    }
    qat_poll(m);
    if (s->state == QS_FAILED) {
        return s->err;
    }
    if (s->state != QS_UP) {
        return (s->state == QS_WANT_OPEN || s->state == QS_OPENING) ? MQE_IO_WOULD_BLOCK
                                                                    : QAT_ERR_RESET;
    }
    if (len == 0) {
        return 0;
    }
    if (m->tx_len > 0 || (!at_idle(&m->at) && m->at.tag == C_SEND)) {
        return MQE_IO_WOULD_BLOCK; /* the buffer is taken, or still being written out */
    }
    size_t n = len < QAT_TX_CHUNK ? len : QAT_TX_CHUNK;
    memcpy(m->tx, buf, n);
    m->tx_len = (uint16_t)n;
    m->tx_sock = (uint8_t)sock;
    m->tx_failing = 0;
    qat_poll(m); /* AT+QISEND goes out now */
    return (int32_t)n;
}

static int32_t qat_recv(void *ctx, int32_t sock, uint8_t *buf, size_t len) {
    qat_modem_t *m = ctx;
    qat_sock_t *s = sock_get(m, sock);
    if (s == NULL || buf == NULL) {
        return QAT_ERR;
    }
    qat_poll(m);
    if (s->rx_off < s->rx_len && len > 0) {
        size_t n = (size_t)(s->rx_len - s->rx_off);
        n = n < len ? n : len;
        memcpy(buf, s->rx + s->rx_off, n);
        s->rx_off = (uint16_t)(s->rx_off + n);
        if (s->rx_off >= s->rx_len) {
            qat_poll(m); /* the next AT+QIRD, if the modem holds more */
        }
        return (int32_t)n;
    }
    switch (s->state) {
    case QS_UP:
    case QS_WANT_OPEN:
    case QS_OPENING:
        return MQE_IO_WOULD_BLOCK;
    case QS_PEER_CLOSED:
        return s->rx_pending ? MQE_IO_WOULD_BLOCK : 0;
    case QS_FAILED:
        return s->err;
    default:
        return QAT_ERR_RESET;
    }
}

static void qat_close(void *ctx, int32_t sock) {
    qat_modem_t *m = ctx;
    qat_sock_t *s = sock_get(m, sock);
    if (s == NULL) {
        return;
    }
    if (m->tx_len > 0 && m->tx_sock == (uint8_t)sock) {
        m->tx_len = 0;
    }
    /* The connectID stays taken until the modem has closed it. */
    s->state = s->modem_has ? QS_CLOSING : QS_FREE;
    s->rx_len = 0;
    s->rx_off = 0;
    qat_poll(m);
}

static int32_t qat_resolve(void *ctx, const char *host, mqe_sockaddr_t *out) {
    qat_modem_t *m = ctx;
    if (host == NULL || out == NULL) {
        return QAT_ERR;
    }
    size_t len = strlen(host);
    if (len == 0 || len >= QAT_HOST_MAX || memchr(host, '"', len) != NULL) {
        return QAT_ERR;
    }
    if (strcmp(host, m->dns_host) != 0 && m->dns != D_SENT) {
        memcpy(m->dns_host, host, len + 1);
        m->dns = D_WANT;
    } else if (m->dns == D_IDLE) {
        m->dns = D_WANT;
    }
    qat_poll(m);
    if (strcmp(host, m->dns_host) != 0) {
        return MQE_IO_WOULD_BLOCK; /* another lookup is in flight */
    }
    if (m->dns == D_DONE) {
        memset(out, 0, sizeof *out);
        out->family = 4;
        memcpy(out->addr, m->dns_addr, 4);
        m->dns = D_IDLE;
        return 0;
    }
    if (m->dns == D_FAIL) {
        m->dns = D_IDLE;
        return QAT_ERR;
    }
    return MQE_IO_WOULD_BLOCK;
}

/* ---- setup ------------------------------------------------------------------------ */

void qat_config_default(qat_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->context_id = 1;
}

void qat_init(qat_modem_t *m, const qat_config_t *cfg) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    at_init(&m->at, &cfg->io, &handlers, m);
    m->retry_at = now(m);
}

void qat_transport(mqe_transport_t *t, qat_modem_t *m) {
    t->ctx = m;
    t->open = qat_open;
    t->connect = qat_connect;
    t->send = qat_send;
    t->recv = qat_recv;
    t->close = qat_close;
    t->resolve = qat_resolve;
}

int qat_take_link_event(qat_modem_t *m) {
    if (m->link_n == 0) {
        return -1;
    }
    int up = m->link_q[0];
    memmove(m->link_q, m->link_q + 1, sizeof m->link_q - 1);
    m->link_n--;
    return up;
}

int qat_open_sockets(const qat_modem_t *m) {
    int open = 0;
    for (int i = 0; i < QAT_MAX_SOCKETS; i++) {
        open += m->socks[i].state != QS_FREE;
    }
    return open;
}

uint32_t qat_tx_bytes(const qat_modem_t *m) {
    return m->at.tx_bytes;
}

uint32_t qat_rx_bytes(const qat_modem_t *m) {
    return m->at.rx_bytes;
}
