/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * quectel_at: mqtt-engine's transport over a Quectel modem's TCP/IP AT commands
 * (BG95, BG96, EC2x and the like), for firmware on an MCU that drives the modem by UART.
 *
 * The modem's own TCP stack carries the bytes; this file turns mqe_transport_t calls into
 *   AT+QIACT? / AT+QIACT=<ctx> / AT+QIDEACT=<ctx>       the PDP context
 *   AT+QIDNSGIP=<ctx>,"<host>" + URC "dnsgip"             resolve
 *   AT+QIOPEN=<ctx>,<id>,"TCP","<ip>",<port>,0,0 + URC +QIOPEN: <id>,<err>   connect (buffer access mode)
 *   AT+QISEND=<id>,<n> '>' data -> SEND OK | SEND FAIL    send, at most 1460 bytes per command
 *   URC +QIURC: "recv",<id> then AT+QIRD=<id>,<n>          receive, at most 1500 bytes per command
 *   URC +QIURC: "closed",<id>, AT+QICLOSE=<id>             close
 *   URC +QIURC: "pdpdeact",<ctx>, RDY                      the link went down / the modem restarted
 * over at_engine (the generic AT layer). Nothing blocks: every call moves what the UART
 * allows now and returns MQE_IO_WOULD_BLOCK while the modem has not answered. The engine's
 * mqe_poll drives it through the transport calls; call qat_poll as well when no client is
 * polling, so URCs are still read. One qat_modem_t per modem; several clients may share it
 * (each socket is one connectID). No heap.
 *
 * Build-time sizes (-D): QAT_MAX_SOCKETS (2), QAT_RX_CHUNK (1500: RAM per socket and the
 * AT+QIRD length), QAT_TX_CHUNK (1460: the AT+QISEND length and the one shared send buffer).
 */
#ifndef QUECTEL_AT_H
#define QUECTEL_AT_H

#include <stdint.h>

#include "at_engine.h"
#include "mqtt_engine.h"

#ifndef QAT_MAX_SOCKETS
#define QAT_MAX_SOCKETS 2
#endif
#ifndef QAT_RX_CHUNK
#define QAT_RX_CHUNK 1500 /* AT+QIRD reads at most 1500 bytes */
#endif
#ifndef QAT_TX_CHUNK
#define QAT_TX_CHUNK 1460 /* AT+QISEND takes at most 1460 bytes */
#endif
#define QAT_HOST_MAX 64

typedef struct {
    at_io_t io;               /* the UART read/write callbacks and the ms tick */
    uint8_t context_id;       /* PDP context (AT+QICSGP set up by the firmware); default 1 */
    uint8_t first_connect_id; /* connectIDs used: this one and the next QAT_MAX_SOCKETS-1; default 0 */
    uint8_t keep_echo;        /* 0 (default): send ATE0 first; 1: leave the echo as it is */
    /* Optional: the PDP context went down (up = 0: URC pdpdeact, or RDY) or came up (1).
     * It runs inside a transport call, so inside mqe_poll: do not call the library from it
     * (set a flag, wake the task); qat_take_link_event gives the same events afterwards. */
    void (*link)(void *user, int up);
    void *link_user;
} qat_config_t;

typedef struct {
    uint8_t state;      /* QS_* in quectel_at.c */
    uint8_t modem_has;  /* the connectID is taken in the modem: AT+QICLOSE it */
    uint8_t rx_pending; /* the modem holds received data (URC "recv", or a full read) */
    uint8_t rx_urcs; /* "recv" URCs seen (wrapping): one during an AT+QIRD keeps rx_pending */
    int32_t err;        /* what a failed socket reports */
    uint8_t addr[4];
    uint16_t port;
    uint32_t since;     /* when AT+QIOPEN was answered OK: the +QIOPEN URC's deadline */
    uint16_t rx_len;
    uint16_t rx_off;
    uint8_t rx[QAT_RX_CHUNK];
} qat_sock_t;

typedef struct {
    qat_config_t cfg;
    at_engine_t at;
    uint8_t state;    /* QM_*: sync, echo off, ready */
    uint8_t pdp;      /* QP_*: unknown, down, deactivate first, up */
    uint8_t pdp_fail; /* the last activation failed: sockets waiting for it fail */
    uint8_t relink;   /* the context dropped: activate it again on our own */
    uint32_t relink_at;
    uint8_t link_q[4]; /* link events (0 down, 1 up) not yet taken by qat_take_link_event */
    uint8_t link_n;
    uint32_t retry_at;
    /* the command in flight */
    uint8_t cur_sock;
    uint16_t rd_len;   /* +QIRD: n of the read in flight */
    uint16_t rd_asked;
    uint8_t rd_urcs; /* the socket's rx_urcs when the AT+QIRD in flight was issued */
    /* the one send buffer: bytes send() took and AT+QISEND has not yet delivered */
    uint8_t tx_sock;
    uint16_t tx_len;
    uint32_t tx_fail_since;
    uint8_t tx_failing;
    uint8_t tx[QAT_TX_CHUNK];
    /* resolve */
    uint8_t dns;
    char dns_host[QAT_HOST_MAX];
    uint8_t dns_addr[4];
    uint32_t dns_since;
    qat_sock_t socks[QAT_MAX_SOCKETS];
} qat_modem_t;

/* Defaults: context 1, connectIDs from 0, echo turned off. The caller sets cfg->io. */
void qat_config_default(qat_config_t *cfg);
/* Sets up m (zeroes it); the modem is synchronised ("AT") on the first call that needs it. */
void qat_init(qat_modem_t *m, const qat_config_t *cfg);
/* Fills *t with the transport over m (t->ctx = m). */
void qat_transport(mqe_transport_t *t, qat_modem_t *m);
/* Reads and handles what the modem sent, and issues what is due. Non-blocking. */
void qat_poll(qat_modem_t *m);
/* The next link event, oldest first: 0 (the PDP context went down: +QIURC "pdpdeact", or
 * RDY), 1 (it is up again: the port re-activates it by itself), -1 when none. Call it after
 * mqe_poll and qat_poll, and pass it on: 0 to mqe_link_down, 1 to mqe_link_up. */
int qat_take_link_event(qat_modem_t *m);
/* Sockets taken and not yet fully closed in the modem (a leak check for tests). */
int qat_open_sockets(const qat_modem_t *m);
/* AT bytes written to / read from the UART since qat_init. */
uint32_t qat_tx_bytes(const qat_modem_t *m);
uint32_t qat_rx_bytes(const qat_modem_t *m);

#endif /* QUECTEL_AT_H */
