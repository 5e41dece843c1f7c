/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Swaps the AT port in under programs written for the POSIX port (c_examples/pubsub.c,
 * tests/c/test_broker.c): port_posix_transport hands out the modem's transport instead of
 * BSD sockets, port_posix_abort asks the emulator to drop that socket's TCP connection,
 * port_posix_open_sockets counts the modem's connectIDs. The real port_posix.c is linked
 * for the clock and the log, with those three renamed (-D) out of the way. */
#include <stddef.h>
#include <stdio.h>

#include "at_host.h"
#include "port_posix.h"

static mqe_transport_t inner; /* the modem's transport */

/* Each client's port_posix_t is its transport ctx, so its socket handle is known. */
static int32_t glue_open(void *ctx) {
    int32_t sock = inner.open(inner.ctx);
    if (ctx != NULL) {
        ((port_posix_t *)ctx)->sock = sock;
    }
    return sock;
}

static int32_t glue_connect(void *ctx, int32_t sock, const mqe_sockaddr_t *addr) {
    (void)ctx;
    return inner.connect(inner.ctx, sock, addr);
}

static int32_t glue_send(void *ctx, int32_t sock, const uint8_t *buf, size_t len) {
    (void)ctx;
    return inner.send(inner.ctx, sock, buf, len);
}

static int32_t glue_recv(void *ctx, int32_t sock, uint8_t *buf, size_t len) {
    (void)ctx;
    return inner.recv(inner.ctx, sock, buf, len);
}

static void glue_close(void *ctx, int32_t sock) {
    if (ctx != NULL && ((port_posix_t *)ctx)->sock == sock) {
        ((port_posix_t *)ctx)->sock = -1;
    }
    inner.close(inner.ctx, sock);
}

static int32_t glue_resolve(void *ctx, const char *host, mqe_sockaddr_t *out) {
    (void)ctx;
    return inner.resolve(inner.ctx, host, out);
}

void port_posix_transport(mqe_transport_t *t, port_posix_t *ctx) {
    if (ctx != NULL) {
        ctx->sock = -1;
    }
    qat_modem_t *m = at_host_modem();
    if (m == NULL) {
        return; /* t stays as the caller left it: mqe_init refuses it */
    }
    qat_transport(&inner, m);
    t->ctx = ctx;
    t->open = glue_open;
    t->connect = glue_connect;
    t->send = glue_send;
    t->recv = glue_recv;
    t->close = glue_close;
    t->resolve = glue_resolve;
}

int port_posix_abort(port_posix_t *ctx) {
    qat_modem_t *m = at_host_modem();
    if (m == NULL || ctx == NULL || ctx->sock < 0) {
        return -1;
    }
    char word[32];
    snprintf(word, sizeof word, "cut %d", (int)(m->cfg.first_connect_id + ctx->sock));
    return at_host_ctl(word, NULL, 0);
}

int port_posix_open_sockets(void) {
    qat_modem_t *m = at_host_modem();
    if (m == NULL) {
        return 0;
    }
    /* The connectIDs the engine closed are freed once AT+QICLOSE is answered. */
    for (int i = 0; i < 200 && qat_open_sockets(m) > 0; i++) {
        qat_poll(m);
        at_host_sleep_ms(5);
    }
    return qat_open_sockets(m);
}
