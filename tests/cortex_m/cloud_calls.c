/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "cloud_calls.h"

#include <string.h>

#include "dead_transport.h"
#include "mqtt_engine.h"
#include "semihost.h"
#include "stack_meter.h"

#if defined(MQE_FEATURE_CREDENTIALS_CB)
static mqe_status_t credentials(void *user, uint8_t refused, char *username, size_t username_cap,
                                size_t *username_len, uint8_t *password, size_t password_cap,
                                size_t *password_len) {
  (void)user, (void)refused, (void)username, (void)username_cap, (void)password;
  (void)password_cap;
  *username_len = 0;
  *password_len = 0;
  return MQE_OK;
}
#endif

/* A client of its own, never connected: the profile and handler calls need one. */
static mqe_client_t cloud_client;
static uint8_t rx[128], tx[128], store[256];


void cloud_calls(void) {
  out("cloud calls\n");
  mqe_options_t opts = mqe_options_default();
  opts.host = "10.0.0.2";
  opts.rx_buf = rx;
  opts.rx_buf_len = sizeof rx;
  opts.tx_buf = tx;
  opts.tx_buf_len = sizeof tx;
  opts.store_buf = store;
  opts.store_buf_len = sizeof store;
#if defined(MQE_FEATURE_CLOUD_PROFILES)
  CHECK(MEASURED(mqe_options_for_cloud(MQE_CLOUD_ALIYUN, &opts)) == MQE_OK);
#endif
  const mqe_transport_t transport = dead_transport(NULL);
  const mqe_platform_t platform = dead_platform();
  CHECK(mqe_init(&cloud_client, &opts, &transport, &platform) == MQE_OK);
#if defined(MQE_FEATURE_CLOUD_PROFILES)
  CHECK(MEASURED(mqe_publish(&cloud_client, "t", "x", 1, MQE_QOS_2, false, NULL)) ==
        MQE_ERR_UNSUPPORTED);
  CHECK(mqe_publish(&cloud_client, "t", "x", 1, MQE_QOS_1, true, NULL) == MQE_ERR_UNSUPPORTED);
  CHECK(mqe_publish(&cloud_client, "t", "x", 1, MQE_QOS_1, false, NULL) == MQE_OK);
#endif
#if defined(MQE_FEATURE_CREDENTIALS_CB)
  static char user_buf[64];
  static uint8_t pass_buf[128];
  CHECK(MEASURED(mqe_set_credentials_handler(&cloud_client, credentials, NULL, user_buf,
                                             sizeof user_buf, pass_buf, sizeof pass_buf)) ==
        MQE_OK);
#endif
  char a[96], b[64], c[256];
  (void)a, (void)b, (void)c;
#if defined(MQE_FEATURE_SIGN_ALIYUN)
  /* Aliyun's published example, signed on the target. */
  CHECK(MEASURED(mqe_aliyun_sign("a14Xib5kdYd", "light1983432",
                                 "oLyaKqVxtRvjH284LdhqVgVUx1UPy6zq", "SN1928339",
                                 1539421321846ull, MQE_SIGN_HMAC_SHA1, 3, a, sizeof a, b,
                                 sizeof b, c, sizeof c)) == MQE_OK);
  CHECK(strcmp(c, "b2488041f64f425016b467ee1c94959ebd592ad1") == 0);
  CHECK(mqe_aliyun_sign("k", "d", "s", "c", 1539421321846ull, MQE_SIGN_HMAC_SHA256, 2, a,
                        sizeof a, b, sizeof b, c, sizeof c) == MQE_OK);
  CHECK(strlen(c) == 64);
#endif
#if defined(MQE_FEATURE_SIGN_AZURE)
  CHECK(MEASURED(mqe_azure_username("hub.azure-devices.net", "dev1", b, sizeof b)) == MQE_OK);
  CHECK(MEASURED(mqe_azure_sas_token("hub.azure-devices.net", "dev1",
                                     "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                                     1765000000ull, 3600, c, sizeof c)) == MQE_OK);
  CHECK(strstr(c, "&se=1765003600") != NULL);
  CHECK(mqe_azure_sas_token("h", "d", "AAEC", 0, 3600, c, sizeof c) == MQE_ERR_CLOCK_UNSET);
#endif
#if defined(MQE_FEATURE_SIGN_TENCENT)
  CHECK(MEASURED(mqe_tencent_sign("PID", "dev", "AAECAwQFBgcICQoLDA0ODw==", "12010126", "abcde",
                                  1765000000ull, 60, MQE_SIGN_HMAC_SHA256, b, sizeof b, c,
                                  sizeof c)) == MQE_OK);
  CHECK(strcmp(b, "PIDdev;12010126;abcde;1765000060") == 0);
#endif
#if defined(MQE_FEATURE_SIGN_ONENET)
  CHECK(MEASURED(mqe_onenet_token("123", "dev", "AAECAwQFBgcICQoLDA0ODw==", 1765000000ull, 60,
                                  MQE_SIGN_HMAC_SHA1, c, sizeof c)) == MQE_OK);
  static const char head[] = "version=2018-10-31&res=products%2F123%2Fdevices%2Fdev&et=1765000060&";
  CHECK(strncmp(c, head, sizeof head - 1) == 0);
#endif
}
