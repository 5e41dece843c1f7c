/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* quectel_at's own shared parts: its states, its command tags, the transport failure codes,
 * and the helpers the URC handler (quectel_at_urc.c) and the commands (quectel_at.c) share.
 * Not for the firmware: include quectel_at.h. */
#ifndef QUECTEL_AT_INTERNAL_H
#define QUECTEL_AT_INTERNAL_H

#include "quectel_at.h"

/* Transport failures: the library's detailed codes when its header has them. */
#define QAT_ERR (-1)
#ifdef MQE_IO_ERR_RESET
#define QAT_ERR_RESET MQE_IO_ERR_RESET
#else
#define QAT_ERR_RESET QAT_ERR
#endif
#ifdef MQE_IO_ERR_TIMEOUT
#define QAT_ERR_TIMEOUT MQE_IO_ERR_TIMEOUT
#else
#define QAT_ERR_TIMEOUT QAT_ERR
#endif
#ifdef MQE_IO_ERR_NET_DOWN
#define QAT_ERR_NET_DOWN MQE_IO_ERR_NET_DOWN
#else
#define QAT_ERR_NET_DOWN QAT_ERR
#endif

enum { QM_SYNC = 0, QM_ECHO, QM_READY };
enum { QP_UNKNOWN = 0, QP_DOWN, QP_DEACT, QP_UP };
enum { D_IDLE = 0, D_WANT, D_SENT, D_DONE, D_FAIL };
enum {
    QS_FREE = 0,
    QS_IDLE,        /* handle given out, not connecting */
    QS_WANT_OPEN,   /* AT+QIOPEN due */
    QS_OPENING,     /* waiting for +QIOPEN */
    QS_UP,
    QS_PEER_CLOSED, /* URC "closed": read what is left, then 0 */
    QS_FAILED,      /* every call returns err until the engine closes it */
    QS_CLOSING      /* closed by the engine; AT+QICLOSE due or in flight */
};
/* Command tags. */
enum { C_SYNC = 1, C_ECHO, C_ACT_Q, C_ACT, C_DEACT, C_DNS, C_OPEN, C_SEND, C_READ, C_CLOSE };

void qat_link_event(qat_modem_t *m, int up);
/* The socket of a connectID, or NULL. */
qat_sock_t *qat_sock_by_id(qat_modem_t *m, int32_t connect_id);
/* The connection is lost: every call on the socket returns err until the engine closes it. */
void qat_sock_fail(qat_modem_t *m, qat_sock_t *s, int32_t err);
/* A +CME code (or a +QIOPEN <err>) of the TCP/IP commands as a transport failure; a PDP
 * code makes the context's state unknown again. */
int32_t qat_map_cme(qat_modem_t *m, int32_t cme);
/* The PDP context is gone: every socket with it. */
void qat_pdp_lost(qat_modem_t *m);
/* at_handlers_t.urc and .line (quectel_at_urc.c). */
int qat_on_urc(void *user, const char *line, size_t len);
void qat_on_line(void *user, uint8_t tag, const char *line, size_t len);

#endif /* QUECTEL_AT_INTERNAL_H */
