/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Swaps the AT port in under programs written for the POSIX port (c_examples/pubsub.c,
 * tests/c/test_broker.c): port_posix_transport hands out the modem's transport instead of
 * BSD sockets. The real port_posix.c is linked for the clock and log, with its own
 * port_posix_transport / port_posix_open_sockets renamed (-D) out of the way. */
#include <stddef.h>

#include "at_host.h"
#include "port_posix.h"

void port_posix_transport(mqe_transport_t *t, port_posix_t *ctx) {
    if (ctx != NULL) {
        ctx->sock = -1;
    }
    qat_modem_t *m = at_host_modem();
    if (m == NULL) {
        return; /* t stays as the caller left it: mqe_init refuses it */
    }
    qat_transport(t, m);
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
