/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#define _POSIX_C_SOURCE 200809L /* POSIX.1-2008 under -std=c99; must precede every include */
#include "at_host.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "port_posix.h"

static int uart_fd = -1;
static qat_modem_t modem;
static int modem_ready;
static int link_events[2];

static void on_link(void *user, int up) {
    (void)user;
    link_events[up != 0]++;
}

int at_host_link_events(int up) {
    return link_events[up != 0];
}

/* The UART callbacks: non-blocking, as a firmware's ring buffers would be. */
static int32_t uart_read(void *ctx, uint8_t *buf, size_t len) {
    (void)ctx;
    ssize_t n = read(uart_fd, buf, len);
    if (n >= 0) {
        return (int32_t)n;
    }
    return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
}

static int32_t uart_write(void *ctx, const uint8_t *buf, size_t len) {
    (void)ctx;
    ssize_t n = write(uart_fd, buf, len);
    if (n >= 0) {
        return (int32_t)n;
    }
    return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
}

static uint32_t uart_now(void *ctx) {
    (void)ctx;
    return port_posix_now_ms();
}

static int open_pty(const char *path) {
    int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        return -1;
    }
    struct termios t;
    if (tcgetattr(fd, &t) == 0) {
        /* Raw: no echo, no CR/LF translation, no signals, 8 bits. */
        t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
        t.c_oflag &= ~(tcflag_t)OPOST;
        t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
        t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
        t.c_cflag |= CS8;
        (void)tcsetattr(fd, TCSANOW, &t);
    }
    return fd;
}

qat_modem_t *at_host_modem(void) {
    if (modem_ready) {
        return &modem;
    }
    const char *path = getenv("MQE_MODEM_TTY");
    if (path == NULL || (uart_fd = open_pty(path)) < 0) {
        fprintf(stderr, "at_host: cannot open the modem's pty (MQE_MODEM_TTY=%s): run me under "
                        "scripts/modem_emulator.py\n", path != NULL ? path : "(unset)");
        return NULL;
    }
    qat_config_t cfg;
    qat_config_default(&cfg);
    cfg.io.ctx = NULL;
    cfg.io.read = uart_read;
    cfg.io.write = uart_write;
    cfg.io.now_ms = uart_now;
    const char *echo = getenv("MQE_MODEM_ECHO");
    cfg.keep_echo = echo != NULL && strcmp(echo, "1") == 0;
    cfg.link = on_link;
    qat_init(&modem, &cfg);
    modem_ready = 1;
    return &modem;
}

int at_host_ctl(const char *word, char *reply, size_t len) {
    const char *path = getenv("MQE_MODEM_CTL");
    if (path == NULL) {
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_un me, peer;
    memset(&me, 0, sizeof me);
    memset(&peer, 0, sizeof peer);
    me.sun_family = AF_UNIX;
    peer.sun_family = AF_UNIX;
    snprintf(me.sun_path, sizeof me.sun_path, "%s.%ld", path, (long)getpid());
    snprintf(peer.sun_path, sizeof peer.sun_path, "%s", path);
    (void)unlink(me.sun_path);
    int status = -1;
    if (bind(fd, (struct sockaddr *)&me, sizeof me) == 0 &&
        sendto(fd, word, strlen(word), 0, (struct sockaddr *)&peer, sizeof peer) >= 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN, .revents = 0};
        char buf[512];
        if (poll(&pfd, 1, 2000) == 1) { /* bounded: the emulator answers at once */
            ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
            if (n >= 0) {
                buf[n] = '\0';
                if (reply != NULL && len > 0) {
                    snprintf(reply, len, "%s", buf);
                }
                status = 0;
            }
        }
    }
    close(fd);
    (void)unlink(me.sun_path);
    return status;
}

long at_host_stat(const char *reply, const char *key) {
    size_t klen = strlen(key);
    for (const char *p = reply; p != NULL && *p != '\0'; p = strchr(p, ' ')) {
        while (*p == ' ') {
            p++;
        }
        if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
            return strtol(p + klen + 1, NULL, 10);
        }
    }
    return -1;
}

void at_host_sleep_ms(unsigned ms) {
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000u), .tv_nsec = (long)(ms % 1000u) * 1000000L};
    (void)nanosleep(&ts, NULL);
}
