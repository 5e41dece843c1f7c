/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* port_posix_tls: mqe_transport_t over mbedTLS over the POSIX TCP port. See the header. */
#include "port_posix_tls.h"

#include <stdio.h>
#include <string.h>

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>

#define TLS_ERR (-1) /* any negative value but MQE_IO_WOULD_BLOCK: the connection is lost */

static void set_error(port_tls_t *ctx, const char *what, int ret) {
    char detail[100];
    mbedtls_strerror(ret, detail, sizeof detail);
    snprintf(ctx->last_error, sizeof ctx->last_error, "%s: %s (-0x%04x)", what, detail,
             (unsigned)-ret);
}

/* mbedTLS's BIO callbacks: the POSIX transport, with its WOULD_BLOCK mapped to WANT_*. */
static int bio_send(void *arg, const unsigned char *buf, size_t len) {
    port_tls_t *ctx = arg;
    int32_t n = ctx->tcp.send(ctx->tcp.ctx, ctx->sock, buf, len);
    if (n == MQE_IO_WOULD_BLOCK) {
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    }
    if (n < 0) {
        return MBEDTLS_ERR_NET_SEND_FAILED;
    }
    size_t room = PORT_TLS_WIRE_TAP - ctx->wire_len;
    size_t keep = (size_t)n < room ? (size_t)n : room;
    memcpy(ctx->wire + ctx->wire_len, buf, keep);
    ctx->wire_len += keep;
    return n;
}

static int bio_recv(void *arg, unsigned char *buf, size_t len) {
    port_tls_t *ctx = arg;
    int32_t n = ctx->tcp.recv(ctx->tcp.ctx, ctx->sock, buf, len);
    if (n == MQE_IO_WOULD_BLOCK) {
        return MBEDTLS_ERR_SSL_WANT_READ;
    }
    if (n < 0) {
        return MBEDTLS_ERR_NET_RECV_FAILED;
    }
    return n; /* 0: the peer closed */
}

static int32_t tls_open(void *arg) {
    port_tls_t *ctx = arg;
    if (ctx->sock >= 0) {
        snprintf(ctx->last_error, sizeof ctx->last_error, "one TLS connection at a time");
        return TLS_ERR;
    }
    int32_t sock = ctx->tcp.open(ctx->tcp.ctx);
    if (sock < 0) {
        return sock;
    }
    ctx->sock = sock;
    ctx->tcp_connected = 0;
    ctx->pending_write = 0;
    ctx->verify_flags = 0;
    ctx->last_error[0] = '\0';
    mbedtls_ssl_init(&ctx->ssl);
    int ret = mbedtls_ssl_setup(&ctx->ssl, &ctx->conf);
    if (ret == 0) {
        ret = mbedtls_ssl_set_hostname(&ctx->ssl, ctx->server_name);
    }
    if (ret != 0) {
        set_error(ctx, "TLS setup", ret);
        mbedtls_ssl_free(&ctx->ssl);
        ctx->tcp.close(ctx->tcp.ctx, sock);
        ctx->sock = -1;
        return TLS_ERR;
    }
    mbedtls_ssl_set_bio(&ctx->ssl, ctx, bio_send, bio_recv, NULL);
    ctx->ssl_ready = 1;
    return sock;
}

static int32_t tls_connect(void *arg, int32_t sock, const mqe_sockaddr_t *addr) {
    port_tls_t *ctx = arg;
    if (sock != ctx->sock || !ctx->ssl_ready) {
        return TLS_ERR;
    }
    if (!ctx->tcp_connected) {
        int32_t r = ctx->tcp.connect(ctx->tcp.ctx, sock, addr);
        if (r != 0) {
            return r; /* WOULD_BLOCK or failure, as the plain port says */
        }
        ctx->tcp_connected = 1;
    }
    int ret = mbedtls_ssl_handshake(&ctx->ssl);
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        return MQE_IO_WOULD_BLOCK;
    }
    if (ret != 0) {
        ctx->verify_flags = mbedtls_ssl_get_verify_result(&ctx->ssl);
        if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && ctx->verify_flags != 0) {
            char info[120];
            mbedtls_x509_crt_verify_info(info, sizeof info, "", ctx->verify_flags);
            info[strcspn(info, "\n")] = '\0';
            snprintf(ctx->last_error, sizeof ctx->last_error, "certificate verify failed: %s",
                     info);
        } else {
            set_error(ctx, "TLS handshake", ret);
        }
        return MQE_IO_ERR_TLS; /* the client reports MQE_ERR_TLS */
    }
    return 0;
}

static int32_t tls_send(void *arg, int32_t sock, const uint8_t *buf, size_t len) {
    port_tls_t *ctx = arg;
    if (sock != ctx->sock || !ctx->ssl_ready) {
        return TLS_ERR;
    }
    /* mbedTLS wants a write that returned WANT_WRITE repeated with the same arguments; the
     * engine re-offers the same unsent bytes first, so the same length is enough. */
    if (ctx->pending_write > 0 && len > ctx->pending_write) {
        len = ctx->pending_write;
    }
    int ret = mbedtls_ssl_write(&ctx->ssl, buf, len);
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        ctx->pending_write = len;
        return MQE_IO_WOULD_BLOCK;
    }
    ctx->pending_write = 0;
    if (ret < 0) {
        set_error(ctx, "TLS write", ret);
        return TLS_ERR;
    }
    ctx->plaintext_sent += (uint64_t)ret;
    return ret;
}

static int32_t tls_recv(void *arg, int32_t sock, uint8_t *buf, size_t len) {
    port_tls_t *ctx = arg;
    if (sock != ctx->sock || !ctx->ssl_ready) {
        return TLS_ERR;
    }
    int ret = mbedtls_ssl_read(&ctx->ssl, buf, len);
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        return MQE_IO_WOULD_BLOCK;
    }
    if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == MBEDTLS_ERR_SSL_CONN_EOF) {
        return 0;
    }
    if (ret < 0) {
        set_error(ctx, "TLS read", ret);
        return TLS_ERR;
    }
    return ret;
}

static void tls_close(void *arg, int32_t sock) {
    port_tls_t *ctx = arg;
    if (sock != ctx->sock) {
        return;
    }
    if (ctx->ssl_ready) {
        if (ctx->tcp_connected) {
            (void)mbedtls_ssl_close_notify(&ctx->ssl); /* best effort, never waits */
        }
        mbedtls_ssl_free(&ctx->ssl);
        ctx->ssl_ready = 0;
    }
    ctx->tcp.close(ctx->tcp.ctx, sock);
    ctx->sock = -1;
}

static int32_t tls_resolve(void *arg, const char *host, mqe_sockaddr_t *out) {
    port_tls_t *ctx = arg;
    return ctx->tcp.resolve != NULL ? ctx->tcp.resolve(ctx->tcp.ctx, host, out) : TLS_ERR;
}

int port_tls_transport(mqe_transport_t *t, port_tls_t *ctx, const char *ca_file,
                       const char *server_name) {
    memset(ctx, 0, sizeof *ctx);
    ctx->sock = -1;
    ctx->server_name = server_name;
    port_posix_transport(&ctx->tcp, &ctx->posix);
    mbedtls_entropy_init(&ctx->entropy);
    mbedtls_ctr_drbg_init(&ctx->drbg);
    mbedtls_x509_crt_init(&ctx->ca);
    mbedtls_ssl_config_init(&ctx->conf);
    static const unsigned char personal[] = "mqtt-engine port_posix_tls";
    int ret = mbedtls_ctr_drbg_seed(&ctx->drbg, mbedtls_entropy_func, &ctx->entropy, personal,
                                    sizeof personal - 1);
    if (ret != 0) {
        set_error(ctx, "random seed", ret);
        return -1;
    }
    ret = mbedtls_x509_crt_parse_file(&ctx->ca, ca_file);
    if (ret != 0) {
        set_error(ctx, "CA file", ret);
        return -1;
    }
    ret = mbedtls_ssl_config_defaults(&ctx->conf, MBEDTLS_SSL_IS_CLIENT,
                                      MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0) {
        set_error(ctx, "TLS config", ret);
        return -1;
    }
    mbedtls_ssl_conf_authmode(&ctx->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&ctx->conf, &ctx->ca, NULL);
    mbedtls_ssl_conf_rng(&ctx->conf, mbedtls_ctr_drbg_random, &ctx->drbg);

    t->ctx = ctx;
    t->open = tls_open;
    t->connect = tls_connect;
    t->send = tls_send;
    t->recv = tls_recv;
    t->close = tls_close;
    t->resolve = tls_resolve;
    return 0;
}

void port_tls_free(port_tls_t *ctx) {
    if (ctx->sock >= 0) {
        tls_close(ctx, ctx->sock);
    }
    mbedtls_ssl_config_free(&ctx->conf);
    mbedtls_x509_crt_free(&ctx->ca);
    mbedtls_ctr_drbg_free(&ctx->drbg);
    mbedtls_entropy_free(&ctx->entropy);
}

const char *port_tls_last_error(const port_tls_t *ctx) {
    return ctx->last_error;
}
