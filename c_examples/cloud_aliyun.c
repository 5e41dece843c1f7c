/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * cloud_aliyun: a device connecting to Alibaba Cloud IoT Platform (Aliyun) with its device
 * certificate, the way docs/CLOUDS.md describes:
 *   - the Aliyun profile keeps QoS 2, retain and a will from ever reaching the cloud, and puts
 *     the keep-alive in its 30..1200 s range;
 *   - the credentials callback signs the username and password before every CONNECT
 *     (automatic reconnects included);
 *   - the wall clock is the network's time (NITZ, AT+CCLK on a module; time() here): before it
 *     is set the signer answers MQE_ERR_CLOCK_UNSET and that attempt is skipped, not sent.
 *
 * Aliyun's MQTT client id carries the sign method and the timestamp that the password signs,
 * and mqtt-engine takes the client id from mqe_options_t, fixed at mqe_init. So the timestamp
 * is taken once, and the callback signs the password with that same one on every attempt.
 *
 * Needs ALIYUN_PRODUCT_KEY, ALIYUN_DEVICE_NAME, ALIYUN_DEVICE_SECRET and ALIYUN_REGION (for
 * example cn-shanghai) in the environment; connects over plain TCP (securemode=3) to
 * {productKey}.iot-as-mqtt.{region}.aliyuncs.com:1883 and publishes one property report.
 * Compiled by `make check-c`; not run by the tests (it needs a real Aliyun device).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mqtt_engine.h"
#include "port_posix.h"

#define WAIT_MS 20000u

static const char *product_key, *device_name, *device_secret;
static char client_id[160];
static uint64_t signed_ms; /* the timestamp in client_id, which the password must sign too */

/* The wall clock in ms since 1970, 0 when unknown (a module: AT+CCLK or the NITZ time). */
static uint64_t wall_clock_ms(void) {
    time_t now = time(NULL);
    return now > 0 ? (uint64_t)now * 1000u : 0;
}

static mqe_status_t credentials(void *user, uint8_t refused, char *username, size_t username_cap,
                                size_t *username_len, uint8_t *password, size_t password_cap,
                                size_t *password_len) {
    char id[160];
    mqe_status_t st;
    (void)user;
    if (refused != 0) {
        fprintf(stderr, "cloud_aliyun: CONNACK %u refused the last attempt; signing afresh\n",
                refused);
    }
    /* NUL-terminated outputs; the callback reports their lengths. */
    st = mqe_aliyun_sign(product_key, device_name, device_secret, device_name, signed_ms,
                         MQE_SIGN_HMAC_SHA256, 3, id, sizeof id, username, username_cap,
                         (char *)password, password_cap);
    if (st != MQE_OK) {
        return st; /* e.g. MQE_ERR_CLOCK_UNSET: this attempt is skipped */
    }
    *username_len = strlen(username);
    *password_len = strlen((const char *)password);
    return MQE_OK;
}

int main(void) {
    static mqe_client_t client;
    static uint8_t rx[1024], tx[1024], store[2048];
    static char user_buf[128];
    static uint8_t pass_buf[72]; /* 64 hex digits of HMAC-SHA256 and the NUL */
    static char host[160];
    const char *region = getenv("ALIYUN_REGION");
    mqe_options_t o = mqe_options_default();
    mqe_transport_t transport;
    mqe_platform_t platform;
    port_posix_t ctx;
    char user_tmp[128], pass_tmp[72];
    mqe_status_t st;

    product_key = getenv("ALIYUN_PRODUCT_KEY");
    device_name = getenv("ALIYUN_DEVICE_NAME");
    device_secret = getenv("ALIYUN_DEVICE_SECRET");
    if (product_key == NULL || device_name == NULL || device_secret == NULL || region == NULL) {
        fprintf(stderr, "cloud_aliyun: set ALIYUN_PRODUCT_KEY, _DEVICE_NAME, _DEVICE_SECRET, "
                        "_REGION\n");
        return 2;
    }
    snprintf(host, sizeof host, "%s.iot-as-mqtt.%s.aliyuncs.com", product_key, region);
    /* The MQTT client id carries the sign method and timestamp: signed once here (before the
       clock is set this fails with MQE_ERR_CLOCK_UNSET: wait for NITZ/AT+CCLK, then retry). */
    signed_ms = wall_clock_ms();
    st = mqe_aliyun_sign(product_key, device_name, device_secret, device_name, signed_ms,
                         MQE_SIGN_HMAC_SHA256, 3, client_id, sizeof client_id, user_tmp,
                         sizeof user_tmp, pass_tmp, sizeof pass_tmp);
    if (st != MQE_OK) {
        fprintf(stderr, "cloud_aliyun: %s\n", mqe_strerror(st));
        return 1;
    }
    o.host = host;
    o.port = 1883;
    o.client_id = client_id;
    o.keep_alive_s = 300;
    o.rx_buf = rx;
    o.rx_buf_len = sizeof rx;
    o.tx_buf = tx;
    o.tx_buf_len = sizeof tx;
    o.store_buf = store;
    o.store_buf_len = sizeof store;
    mqe_options_for_cloud(MQE_CLOUD_ALIYUN, &o);
    port_posix_transport(&transport, &ctx);
    port_posix_platform(&platform);
    if ((st = mqe_init(&client, &o, &transport, &platform)) != MQE_OK ||
        (st = mqe_set_credentials_handler(&client, credentials, NULL, user_buf, sizeof user_buf,
                                          pass_buf, sizeof pass_buf)) != MQE_OK ||
        (st = mqe_connect_wait(&client, WAIT_MS)) != MQE_OK) {
        fprintf(stderr, "cloud_aliyun: %s\n", mqe_strerror(st));
        return 1;
    }
    /* The profile refuses what Aliyun would drop the connection over. */
    if (mqe_publish(&client, "t", "x", 1, MQE_QOS_2, false, NULL) != MQE_ERR_UNSUPPORTED) {
        return 1;
    }
    {
        char topic[200];
        const char *report = "{\"id\":\"1\",\"version\":\"1.0\",\"params\":{\"temp\":21.5}}";
        snprintf(topic, sizeof topic, "/sys/%s/%s/thing/event/property/post", product_key,
                 device_name);
        st = mqe_publish(&client, topic, report, strlen(report), MQE_QOS_1, false, NULL);
        printf("cloud_aliyun: property report %s\n", mqe_strerror(st));
    }
    mqe_disconnect(&client);
    mqe_poll(&client);
    return st == MQE_OK ? 0 : 1;
}
