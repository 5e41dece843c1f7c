/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* port_posix: mqtt-engine's transport and platform over POSIX sockets and clocks.
 * See port_posix.h for the rules a port keeps. */
#define _POSIX_C_SOURCE 200809L /* POSIX.1-2008 under -std=c99; must precede every include */
#define _DARWIN_C_SOURCE /* macOS: _POSIX_C_SOURCE alone would hide SO_NOSIGPIPE */
#include "port_posix.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* BSD/macOS: SO_NOSIGPIPE is set on the socket instead */
#endif

/* Any negative value other than MQE_IO_WOULD_BLOCK tells the engine the connection is lost;
 * io_error() names the cause with an MQE_IO_ERR_* code where errno says it. */
#define PORT_ERR MQE_IO_ERR

/* The MQE_IO_ERR_* code for a socket call's errno: the client reports it as its own status
 * (MQE_ERR_CONN_REFUSED, ...) in the disconnect event and the log line. */
static int32_t io_error(int err) {
    switch (err) {
    case ECONNREFUSED:
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
        return PORT_ERR;
    }
}

enum slot_state {
    SLOT_FREE = 0,
    SLOT_OPEN,       /* handle given out; the OS socket is made at connect (family known then) */
    SLOT_CONNECTING, /* non-blocking connect in progress */
    SLOT_CONNECTED,
    SLOT_DEAD /* cut by port_posix_abort: every call fails until the engine closes it */
};

typedef struct {
    int fd;
    enum slot_state state;
} slot_t;

/* Zero-initialised: every slot starts SLOT_FREE. Used from one task only. */
static slot_t slots[PORT_POSIX_MAX_SOCKETS];

static slot_t *slot_get(int32_t sock) {
    if (sock < 0 || sock >= PORT_POSIX_MAX_SOCKETS || slots[sock].state == SLOT_FREE) {
        return NULL;
    }
    return &slots[sock];
}

static void slot_close_fd(slot_t *s) {
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
}

/* ---- transport ---------------------------------------------------------------------- */

static int32_t posix_open(void *ctx) {
    for (int32_t i = 0; i < PORT_POSIX_MAX_SOCKETS; i++) {
        if (slots[i].state == SLOT_FREE) {
            slots[i].state = SLOT_OPEN;
            slots[i].fd = -1;
            if (ctx != NULL) {
                ((port_posix_t *)ctx)->sock = i;
            }
            return i;
        }
    }
    return PORT_ERR; /* table full */
}

static int make_socket(int family) {
    int fd = socket(family, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    /* MQTT packets are small and latency matters more than segment count. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#ifdef SO_NOSIGPIPE
    (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
    return fd;
}

/* Returns the socklen, or 0 when the family is neither 4 nor 6. */
static socklen_t to_os_addr(const mqe_sockaddr_t *addr, struct sockaddr_storage *out) {
    memset(out, 0, sizeof *out);
    if (addr->family == 4) {
        struct sockaddr_in *in4 = (struct sockaddr_in *)out;
        in4->sin_family = AF_INET;
        in4->sin_port = htons(addr->port);
        memcpy(&in4->sin_addr, addr->addr, 4);
        return sizeof *in4;
    }
    if (addr->family == 6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(addr->port);
        memcpy(&in6->sin6_addr, addr->addr, 16);
        return sizeof *in6;
    }
    return 0;
}

/* First call starts a non-blocking connect; later calls report whether it finished. */
static int32_t posix_connect(void *ctx, int32_t sock, const mqe_sockaddr_t *addr) {
    (void)ctx;
    slot_t *s = slot_get(sock);
    if (s == NULL || addr == NULL) {
        return PORT_ERR;
    }
    switch (s->state) {
    case SLOT_OPEN: {
        struct sockaddr_storage os_addr;
        socklen_t len = to_os_addr(addr, &os_addr);
        if (len == 0) {
            return PORT_ERR;
        }
        s->fd = make_socket(addr->family == 4 ? AF_INET : AF_INET6);
        if (s->fd < 0) {
            return PORT_ERR;
        }
        if (connect(s->fd, (const struct sockaddr *)&os_addr, len) == 0) {
            s->state = SLOT_CONNECTED;
            return 0;
        }
        if (errno == EINPROGRESS || errno == EINTR) {
            s->state = SLOT_CONNECTING;
            return MQE_IO_WOULD_BLOCK;
        }
        int err = errno;
        slot_close_fd(s); /* a later call may try again from scratch */
        return io_error(err);
    }
    case SLOT_CONNECTING: {
        struct pollfd pfd = {.fd = s->fd, .events = POLLOUT, .revents = 0};
        int ready = poll(&pfd, 1, 0);
        if (ready == 0 || (ready < 0 && errno == EINTR)) {
            return MQE_IO_WOULD_BLOCK;
        }
        int err = 0;
        socklen_t err_len = sizeof err;
        if (ready < 0 || getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0) {
            err = errno;
        }
        if (err != 0) {
            slot_close_fd(s);
            s->state = SLOT_OPEN;
            return io_error(err);
        }
        s->state = SLOT_CONNECTED;
        return 0;
    }
    case SLOT_CONNECTED:
        return 0;
    default:
        return PORT_ERR;
    }
}

static int32_t posix_send(void *ctx, int32_t sock, const uint8_t *buf, size_t len) {
    (void)ctx;
    slot_t *s = slot_get(sock);
    if (s == NULL || s->state == SLOT_DEAD || s->state == SLOT_OPEN || buf == NULL) {
        return PORT_ERR;
    }
    if (s->state == SLOT_CONNECTING) {
        return MQE_IO_WOULD_BLOCK;
    }
    if (len > INT32_MAX) {
        len = INT32_MAX; /* the return type caps one call; the engine sends the rest later */
    }
    ssize_t n = send(s->fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0) {
        return (int32_t)n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        return MQE_IO_WOULD_BLOCK;
    }
    return io_error(errno);
}

static int32_t posix_recv(void *ctx, int32_t sock, uint8_t *buf, size_t len) {
    (void)ctx;
    slot_t *s = slot_get(sock);
    if (s == NULL || s->state == SLOT_DEAD || s->state == SLOT_OPEN || buf == NULL) {
        return PORT_ERR;
    }
    if (s->state == SLOT_CONNECTING) {
        return MQE_IO_WOULD_BLOCK;
    }
    if (len > INT32_MAX) {
        len = INT32_MAX;
    }
    ssize_t n = recv(s->fd, buf, len, 0);
    if (n >= 0) {
        return (int32_t)n; /* 0: the peer closed the connection */
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        return MQE_IO_WOULD_BLOCK;
    }
    return io_error(errno);
}

static void posix_close(void *ctx, int32_t sock) {
    slot_t *s = slot_get(sock);
    if (s == NULL) {
        return;
    }
    slot_close_fd(s);
    s->state = SLOT_FREE;
    if (ctx != NULL && ((port_posix_t *)ctx)->sock == sock) {
        ((port_posix_t *)ctx)->sock = -1;
    }
}

/* getaddrinfo blocks while it asks DNS; fine on a host. A module port would start an
 * asynchronous lookup here and return MQE_IO_WOULD_BLOCK until it completes. */
static int32_t posix_resolve(void *ctx, const char *host, mqe_sockaddr_t *out) {
    (void)ctx;
    if (host == NULL || out == NULL) {
        return PORT_ERR;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo *found = NULL;
    if (getaddrinfo(host, NULL, &hints, &found) != 0) {
        return PORT_ERR;
    }
    int32_t status = PORT_ERR;
    for (const struct addrinfo *ai = found; ai != NULL; ai = ai->ai_next) {
        memset(out, 0, sizeof *out);
        if (ai->ai_family == AF_INET) {
            const struct sockaddr_in *in4 = (const struct sockaddr_in *)ai->ai_addr;
            out->family = 4;
            memcpy(out->addr, &in4->sin_addr, 4);
            status = 0;
            break;
        }
        if (ai->ai_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ai->ai_addr;
            out->family = 6;
            memcpy(out->addr, &in6->sin6_addr, 16);
            status = 0;
            break;
        }
    }
    freeaddrinfo(found);
    return status;
}

void port_posix_transport(mqe_transport_t *t, port_posix_t *ctx) {
    if (ctx != NULL) {
        ctx->sock = -1;
    }
    t->ctx = ctx;
    t->open = posix_open;
    t->connect = posix_connect;
    t->send = posix_send;
    t->recv = posix_recv;
    t->close = posix_close;
    t->resolve = posix_resolve;
}

int port_posix_abort(port_posix_t *ctx) {
    slot_t *s = ctx == NULL ? NULL : slot_get(ctx->sock);
    if (s == NULL || s->fd < 0) {
        return -1;
    }
    /* Linger 0: close() sends RST at once instead of an orderly FIN. */
    struct linger hard = {.l_onoff = 1, .l_linger = 0};
    (void)setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    slot_close_fd(s);
    s->state = SLOT_DEAD; /* the handle stays taken until the engine closes it */
    return 0;
}

int port_posix_open_sockets(void) {
    int open = 0;
    for (int i = 0; i < PORT_POSIX_MAX_SOCKETS; i++) {
        open += slots[i].state != SLOT_FREE;
    }
    return open;
}

/* ---- platform ----------------------------------------------------------------------- */

static uint32_t tick_offset;
static int tick_offset_set;

void port_posix_set_tick_offset(uint32_t offset) {
    tick_offset = offset;
    tick_offset_set = 1;
}

static uint32_t monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    return (uint32_t)ms; /* keeps the low 32 bits: wraps like a hardware tick */
}

uint32_t port_posix_tick_offset(void) {
    if (!tick_offset_set) {
        const char *start = getenv("MQE_TICK_START");
        uint32_t offset = 0;
        if (start != NULL) {
            offset = (uint32_t)strtoul(start, NULL, 0) - monotonic_ms(); /* unsigned: wraps */
        }
        port_posix_set_tick_offset(offset);
    }
    return tick_offset;
}

uint32_t port_posix_now_ms(void) {
    uint32_t offset = port_posix_tick_offset();
    return monotonic_ms() + offset;
}

static uint32_t posix_now_ms(void *ctx) {
    (void)ctx;
    return port_posix_now_ms();
}

static void posix_delay_ms(void *ctx, uint32_t ms) {
    (void)ctx;
    struct timespec left = {.tv_sec = (time_t)(ms / 1000u), .tv_nsec = (long)(ms % 1000u) * 1000000L};
    /* Bounded: each EINTR restarts with what is left, which only shrinks. */
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
}

/* Backoff jitter only: xorshift32 is plenty. */
static uint32_t posix_random(void *ctx) {
    (void)ctx;
    static uint32_t state;
    if (state == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        state = ((uint32_t)ts.tv_nsec ^ ((uint32_t)getpid() << 16)) | 1u;
    }
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}

static int32_t log_level = -1;

void port_posix_set_log_level(int32_t level) {
    log_level = level;
}

static void posix_log(void *ctx, int32_t level, const char *msg) {
    (void)ctx;
    static const char *const names[] = {"error", "warn", "info", "debug", "trace"};
    if (log_level < 0) {
        const char *env = getenv("MQE_LOG_LEVEL");
        log_level = env != NULL ? (int32_t)strtol(env, NULL, 10) : 1;
    }
    if (level > log_level || msg == NULL) {
        return;
    }
    const char *name = (level >= 0 && level < 5) ? names[level] : "log";
    fprintf(stderr, "[mqe %s] %s\n", name, msg);
}

void port_posix_platform(mqe_platform_t *p) {
    p->ctx = NULL;
    p->now_ms = posix_now_ms;
    p->random = posix_random;
    p->delay_ms = posix_delay_ms;
    p->log = posix_log;
}
