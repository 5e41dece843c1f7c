/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* port_lwip: mqtt-engine's transport over lwIP's BSD-style sockets. See port_lwip.h. */

/* Some hosts build lwIP on the C library's socket headers (LWIP_SOCKET_EXTERNAL_HEADERS,
 * Debian's liblwip-dev): those declarations need POSIX under -std=c99. Firmware ignores it. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "port_lwip.h"

#include <string.h>

#include "lwip/opt.h"
#include "lwip/errno.h"
#include "lwip/sockets.h"
#if LWIP_DNS
#include "lwip/netdb.h"
#endif
#if LWIP_SOCKET_EXTERNAL_HEADERS
#include <fcntl.h> /* F_SETFL and O_NONBLOCK come from the C library then, as for lwIP itself */
#endif

#if NO_SYS || !LWIP_SOCKET || !LWIP_TCP
#error "port_lwip needs lwIP's socket API: NO_SYS 0, LWIP_SOCKET 1, LWIP_TCP 1 in lwipopts.h"
#endif

/* The MQE_IO_ERR_* code for lwIP's errno after a failed socket call. lwIP turns its err_t
 * into errno through err_to_errno(): ERR_RST is ECONNRESET, ERR_ABRT (retransmissions given
 * up, or tcp_abort) ECONNABORTED, ERR_RTE (no netif routes there) EHOSTUNREACH, ERR_IF -1. */
static int32_t io_error(int err) {
    switch (err) {
    case ECONNREFUSED: /* lwIP itself never says it (see connect_error); other stacks do */
        return MQE_IO_ERR_REFUSED;
    case EHOSTUNREACH:
    case ENETUNREACH:
        return MQE_IO_ERR_UNREACHABLE;
    case ETIMEDOUT:
        return MQE_IO_ERR_TIMEOUT;
    case ECONNRESET:
    case ECONNABORTED:
    case EPIPE:
        return MQE_IO_ERR_RESET;
    case ENETDOWN:
    case EADDRNOTAVAIL:
        return MQE_IO_ERR_NET_DOWN;
    default:
        return MQE_IO_ERR;
    }
}

/* While connecting, lwIP reports the peer's RST answer to the SYN as ERR_RST (ECONNRESET):
 * that is a refusal. ERR_ABRT then means the SYN retransmissions ran out: a timeout. */
static int32_t connect_error(int err) {
    switch (err) {
    case ECONNRESET:
        return MQE_IO_ERR_REFUSED;
    case ECONNABORTED:
        return MQE_IO_ERR_TIMEOUT;
    default:
        return io_error(err);
    }
}

/* The cause lwIP keeps on the socket (read once: lwIP clears it), or 0. */
static int pending_error(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    if (lwip_getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        return 0;
    }
    return err;
}

typedef struct {
    int fd;     /* lwIP descriptor, -1 until connect makes it */
    int in_use; /* handle given out to the engine */
} slot_t;

/* Zero-initialised: every slot starts free; port_open claims one. Used from one task only. */
static slot_t slots[PORT_LWIP_MAX_SOCKETS];

static slot_t *slot_get(int32_t sock) {
    if (sock < 0 || sock >= PORT_LWIP_MAX_SOCKETS || !slots[sock].in_use) {
        return NULL;
    }
    return &slots[sock];
}

static void slot_close_fd(slot_t *s) {
    if (s->fd >= 0) {
        (void)lwip_close(s->fd);
        s->fd = -1;
    }
}

/* ---- transport ---------------------------------------------------------------------- */

static int32_t port_open(void *ctx) {
    for (int32_t i = 0; i < PORT_LWIP_MAX_SOCKETS; i++) {
        if (!slots[i].in_use) {
            slots[i].in_use = 1;
            slots[i].fd = -1;
            if (ctx != NULL) {
                ((port_lwip_t *)ctx)->sock = i;
            }
            return i;
        }
    }
    return MQE_IO_ERR; /* table full */
}

static int make_socket(int family) {
    int fd = lwip_socket(family, SOCK_STREAM, IPPROTO_TCP);
    if (fd < 0) {
        return -1;
    }
    /* lwIP's F_SETFL accepts O_NONBLOCK alone (it ignores the access mode bits). */
    if (lwip_fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
        (void)lwip_close(fd);
        return -1;
    }
    int one = 1;
    /* MQTT packets are small: send them at once rather than waiting for Nagle's ACK. */
    (void)lwip_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* The port in network byte order, without lwIP's or the C library's htons (one of the two
 * may be hidden, LWIP_DONT_PROVIDE_BYTEORDER_FUNCTIONS). */
static void put_port(void *field, uint16_t port) {
    uint8_t be[2] = {(uint8_t)(port >> 8), (uint8_t)(port & 0xffu)};
    memcpy(field, be, sizeof be);
}

/* Fills *out from addr; returns its length, or 0 when lwIP was built without that family. */
static socklen_t to_lwip_addr(const mqe_sockaddr_t *addr, struct sockaddr_storage *out) {
    memset(out, 0, sizeof *out);
#if LWIP_IPV4
    if (addr->family == 4) {
        struct sockaddr_in *in4 = (struct sockaddr_in *)out;
        in4->sin_family = AF_INET;
        put_port(&in4->sin_port, addr->port);
        memcpy(&in4->sin_addr, addr->addr, 4);
        return sizeof *in4;
    }
#endif
#if LWIP_IPV6
    if (addr->family == 6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
        in6->sin6_family = AF_INET6;
        put_port(&in6->sin6_port, addr->port);
        memcpy(&in6->sin6_addr, addr->addr, 16);
        return sizeof *in6;
    }
#endif
    return 0;
}

/* Needs neither select nor poll: lwip_connect itself says how far it got. The first call
 * starts the connect (EINPROGRESS); later ones answer EALREADY while the handshake runs and
 * EISCONN once it is done. A failed handshake leaves no connection (ENOTCONN) and its cause
 * in SO_ERROR. */
static int32_t port_connect(void *ctx, int32_t sock, const mqe_sockaddr_t *addr) {
    (void)ctx;
    slot_t *s = slot_get(sock);
    if (s == NULL || addr == NULL) {
        return MQE_IO_ERR;
    }
    struct sockaddr_storage lwip_addr;
    socklen_t len = to_lwip_addr(addr, &lwip_addr);
    if (len == 0) {
        return MQE_IO_ERR;
    }
    if (s->fd < 0) {
        s->fd = make_socket(addr->family == 4 ? AF_INET : AF_INET6);
        if (s->fd < 0) {
            return MQE_IO_ERR; /* MEMP_NUM_NETCONN or MEMP_NUM_TCP_PCB exhausted */
        }
    }
    if (lwip_connect(s->fd, (const struct sockaddr *)&lwip_addr, len) == 0) {
        return 0;
    }
    int err = errno;
    if (err == EISCONN) {
        return 0;
    }
    if (err == EINPROGRESS || err == EALREADY) {
        return MQE_IO_WOULD_BLOCK;
    }
    int cause = pending_error(s->fd);
    slot_close_fd(s); /* a later attempt starts from a fresh socket */
    return connect_error(cause != 0 ? cause : err);
}

static int32_t port_send(void *ctx, int32_t sock, const uint8_t *buf, size_t len) {
    (void)ctx;
    slot_t *s = slot_get(sock);
    if (s == NULL || s->fd < 0 || buf == NULL) {
        return MQE_IO_ERR;
    }
    if (len > INT32_MAX) {
        len = INT32_MAX; /* the return type caps one call; the engine sends the rest later */
    }
    ssize_t n = lwip_send(s->fd, buf, len, 0);
    if (n >= 0) {
        return (int32_t)n;
    }
    int err = errno;
    if (err == EWOULDBLOCK || err == EAGAIN || err == EINPROGRESS) {
        return MQE_IO_WOULD_BLOCK;
    }
    return io_error(err);
}

static int32_t port_recv(void *ctx, int32_t sock, uint8_t *buf, size_t len) {
    (void)ctx;
    slot_t *s = slot_get(sock);
    if (s == NULL || s->fd < 0 || buf == NULL) {
        return MQE_IO_ERR;
    }
    if (len > INT32_MAX) {
        len = INT32_MAX;
    }
    ssize_t n = lwip_recv(s->fd, buf, len, 0);
    if (n >= 0) {
        return (int32_t)n; /* 0: the peer closed the connection (FIN) */
    }
    int err = errno;
    if (err == EWOULDBLOCK || err == EAGAIN) {
        return MQE_IO_WOULD_BLOCK;
    }
    return io_error(err);
}

static void port_close(void *ctx, int32_t sock) {
    slot_t *s = slot_get(sock);
    if (s == NULL) {
        return;
    }
    slot_close_fd(s);
    s->in_use = 0;
    if (ctx != NULL && ((port_lwip_t *)ctx)->sock == sock) {
        ((port_lwip_t *)ctx)->sock = -1;
    }
}

#if LWIP_DNS
/* lwip_getaddrinfo blocks the calling task until lwIP's DNS answers or gives up
 * (DNS_MAX_RETRIES x DNS_TMR_INTERVAL backoff: seconds). IP literals never wait. Firmware
 * that must not wait there resolves itself before mqe_connect and passes the literal. */
static int32_t port_resolve(void *ctx, const char *host, mqe_sockaddr_t *out) {
    (void)ctx;
    if (host == NULL || out == NULL) {
        return MQE_IO_ERR;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo *found = NULL;
    if (lwip_getaddrinfo(host, NULL, &hints, &found) != 0 || found == NULL) {
        return MQE_IO_ERR;
    }
    int32_t status = MQE_IO_ERR;
    memset(out, 0, sizeof *out);
#if LWIP_IPV4
    if (found->ai_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)(void *)found->ai_addr;
        out->family = 4;
        memcpy(out->addr, &in4->sin_addr, 4);
        status = 0;
    }
#endif
#if LWIP_IPV6
    if (found->ai_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(void *)found->ai_addr;
        out->family = 6;
        memcpy(out->addr, &in6->sin6_addr, 16);
        status = 0;
    }
#endif
    lwip_freeaddrinfo(found);
    return status;
}
#endif /* LWIP_DNS */

void port_lwip_transport(mqe_transport_t *t, port_lwip_t *ctx) {
    if (ctx != NULL) {
        ctx->sock = -1;
    }
    t->ctx = ctx;
    t->open = port_open;
    t->connect = port_connect;
    t->send = port_send;
    t->recv = port_recv;
    t->close = port_close;
#if LWIP_DNS
    t->resolve = port_resolve;
#else
    t->resolve = NULL; /* the engine parses IP literals itself */
#endif
}

int port_lwip_fd(const port_lwip_t *ctx) {
    const slot_t *s = ctx == NULL ? NULL : slot_get(ctx->sock);
    return s == NULL ? -1 : s->fd;
}

int port_lwip_open_sockets(void) {
    int open = 0;
    for (int i = 0; i < PORT_LWIP_MAX_SOCKETS; i++) {
        open += slots[i].in_use != 0;
    }
    return open;
}
