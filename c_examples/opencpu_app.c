/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * opencpu_app.c: the shape of a module app on mqtt-engine, the template to copy.
 *
 * A cellular module SDK (Quectel OpenCPU, a FreeRTOS or ThreadX SDK) runs the app as a few
 * RTOS tasks. Here two of them:
 *   - the MQTT task owns the client: it alone calls mqe_* (except mqe_post_publish), loops on
 *     mqe_poll and sleeps until mqe_next_deadline_ms, capped so socket data is seen soon;
 *   - the sensor task reads a sensor every SENSOR_PERIOD_MS and hands each reading to the
 *     MQTT task with mqe_post_publish, which copies it into the library's outbox under the
 *     critical section and never blocks on the network.
 * The app subscribes to its own readings topic and checks that every reading comes back
 * exactly once, so `make opencpu` proves the whole path against mosquitto.
 *
 * On this host, pthreads stand in for the RTOS tasks, a pthread mutex for the critical
 * section and ports/posix/port_posix.c for the module's socket and tick port. Each place
 * where the module app calls its RTOS instead is marked "RTOS:". The run is bounded in
 * readings (READINGS) and time (RUN_LIMIT_MS); it exits 0 only when every reading arrived
 * once.
 */
#define _POSIX_C_SOURCE 200809L /* POSIX.1-2008 under -std=c99; must precede every include */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mqtt_engine.h"
#include "port_posix.h" /* RTOS: the module's port (Ql_SOC_* sockets, the system tick) */

#define READINGS 200          /* readings the sensor task produces, then stops */
#define SENSOR_PERIOD_MS 5    /* a real sensor: seconds; short here to keep the test fast */
#define MQTT_MAX_SLEEP_MS 20  /* the MQTT task wakes at least this often to read the socket */
#define RUN_LIMIT_MS 30000u   /* the whole run */
#define READING_QOS 1

/* ---- the RTOS stand-ins ------------------------------------------------------------- */

/* RTOS: the task delay (Ql_Sleep, vTaskDelay(pdMS_TO_TICKS(ms)), tx_thread_sleep). */
static void task_sleep_ms(uint32_t ms) {
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000u),
                          .tv_nsec = (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
}

/* RTOS: the critical section the outbox needs, registered once before any task posts.
 * Bare metal or an ISR poster: mask interrupts and return the old mask. FreeRTOS:
 * taskENTER_CRITICAL_FROM_ISR() / taskEXIT_CRITICAL_FROM_ISR(state). ThreadX:
 * tx_interrupt_control(TX_INT_DISABLE) / tx_interrupt_control(state). It is held only to
 * copy one message, so a mutex is fine when only tasks (no ISR) post. */
static pthread_mutex_t outbox_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t critical_enter(void) {
    pthread_mutex_lock(&outbox_lock);
    return 0;
}
static void critical_exit(uint32_t state) {
    (void)state;
    pthread_mutex_unlock(&outbox_lock);
}

/* RTOS: event flags between the tasks (Ql_OS_SetEvent, xEventGroupSetBits): "online" once
 * the MQTT task has subscribed, "stopping" when it ends, both waited for by the sensor task. */
#define FLAG_ONLINE 1
#define FLAG_STOPPING 2
static pthread_mutex_t flags_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t flags_cond = PTHREAD_COND_INITIALIZER;
static int flags;

static void set_flag(int flag) {
    pthread_mutex_lock(&flags_lock);
    flags |= flag;
    pthread_cond_broadcast(&flags_cond);
    pthread_mutex_unlock(&flags_lock);
}

static int get_flags(void) {
    pthread_mutex_lock(&flags_lock);
    int result = flags;
    pthread_mutex_unlock(&flags_lock);
    return result;
}

/* Waits for any flag; 0 when RUN_LIMIT_MS passes first. */
static int wait_flags(void) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += RUN_LIMIT_MS / 1000u;
    pthread_mutex_lock(&flags_lock);
    while (flags == 0 && pthread_cond_timedwait(&flags_cond, &flags_lock, &until) == 0) {
    }
    int result = flags;
    pthread_mutex_unlock(&flags_lock);
    return result;
}

/* ---- the app ------------------------------------------------------------------------- */

/* The client and its buffers are the app's static memory: no heap anywhere. */
static mqe_client_t client;
static uint8_t rx_buf[512], tx_buf[512], store_buf[1024];
static port_posix_t port;
static char readings_topic[64];

/* MQTT task only (handlers run inside its mqe_poll). */
static unsigned char arrivals[READINGS];
static int received, unexpected;

/* Sensor task only until it is joined. */
static int sensor_failed;
static long full_retries;

/* RTOS: the module's trace output (APP_DEBUG, Ql_UART_Write to the debug port). */
static void app_log(void *ctx, int32_t level, const char *msg) {
    static const char levels[] = "EWID";
    (void)ctx;
    printf("[mqe] %c %s\n", level >= 0 && level <= MQE_LOG_DEBUG ? levels[level] : '?', msg);
}

/* Our own readings coming back: payload "seq=N ...". Each must arrive exactly once. */
static void on_reading(void *user, const mqe_message_t *m) {
    (void)user;
    char text[32];
    if (m->payload_len >= sizeof text) {
        unexpected++;
        return;
    }
    memcpy(text, m->payload, m->payload_len);
    text[m->payload_len] = '\0';
    int seq = -1;
    if (sscanf(text, "seq=%d", &seq) != 1 || seq < 0 || seq >= READINGS || arrivals[seq] != 0) {
        unexpected++;
        return;
    }
    arrivals[seq] = 1;
    received++;
}

static void on_event(void *user, const mqe_event_t *e) {
    (void)user;
    switch (e->kind) {
    case MQE_EVENT_CONNECTED:
        /* After a reconnect the library renews the subscription by itself; subscribing
         * once, on the first CONNACK, is enough. */
        if (!(get_flags() & FLAG_ONLINE) &&
            mqe_subscribe_cb(&client, readings_topic, READING_QOS, on_reading, NULL, NULL) !=
                MQE_OK) {
            unexpected++;
        }
        break;
    case MQE_EVENT_SUBSCRIBED:
        if (e->granted_count == 1 && e->granted[0] != 0x80) {
            set_flag(FLAG_ONLINE); /* the sensor task may post now */
        }
        break;
    case MQE_EVENT_ERROR: /* posted readings the library could not publish */
        unexpected += (int)e->dropped;
        break;
    default: /* connection changes are logged through app_log */
        break;
    }
}

/* The sensor task: one reading per period, posted from this task. */
static void *sensor_task(void *arg) {
    (void)arg;
    if (wait_flags() != FLAG_ONLINE) {
        sensor_failed = 1;
        return NULL;
    }
    uint32_t start = port_posix_now_ms();
    for (int seq = 0; seq < READINGS; seq++) {
        /* RTOS: read the sensor (ADC, I2C); a made-up temperature here. */
        int centi_celsius = 2000 + (seq * 37) % 500;
        char payload[32];
        int len = snprintf(payload, sizeof payload, "seq=%d t=%d.%02d", seq, centi_celsius / 100,
                           centi_celsius % 100);
        for (;;) {
            mqe_status_t st =
                mqe_post_publish(&client, readings_topic, payload, (size_t)len, READING_QOS, false);
            if (st == MQE_OK) {
                break;
            }
            /* MQE_ERR_FULL: every outbox slot waits for the MQTT task (or the link is down):
             * keep the reading and retry shortly. A real sensor may drop it instead. */
            if (st != MQE_ERR_FULL || (get_flags() & FLAG_STOPPING) ||
                port_posix_now_ms() - start > RUN_LIMIT_MS) {
                fprintf(stderr, "opencpu: post seq %d: %s\n", seq, mqe_strerror(st));
                sensor_failed = 1;
                return NULL;
            }
            full_retries++;
            task_sleep_ms(1);
        }
        task_sleep_ms(SENSOR_PERIOD_MS);
    }
    return NULL;
}

/* The MQTT task: owns the client from init to disconnect. Returns 0 when every reading
 * came back once. */
static int mqtt_task(void) {
    mqe_transport_t transport;
    mqe_platform_t platform;
    port_posix_transport(&transport, &port);
    port_posix_platform(&platform);
    platform.log = app_log; /* optional: NULL and the library formats nothing */

    mqe_options_t o = mqe_options_default();
    o.host = getenv("MQE_BROKER_HOST") ? getenv("MQE_BROKER_HOST") : "127.0.0.1";
    o.port = getenv("MQE_BROKER_PORT") ? (uint16_t)atoi(getenv("MQE_BROKER_PORT")) : 1883;
    o.client_id = "opencpu-app";
    o.keep_alive_s = 60;
    o.rx_buf = rx_buf;
    o.rx_buf_len = sizeof rx_buf;
    o.tx_buf = tx_buf;
    o.tx_buf_len = sizeof tx_buf;
    o.store_buf = store_buf;
    o.store_buf_len = sizeof store_buf;
    o.reconnect = true; /* a module loses its link: the library reconnects inside mqe_poll */

    if (mqe_init(&client, &o, &transport, &platform) != MQE_OK) {
        fprintf(stderr, "opencpu: mqe_init failed\n");
        return 1;
    }
    mqe_set_log_level(&client, MQE_LOG_INFO);
    mqe_set_event_handler(&client, on_event, NULL);
    mqe_status_t st = mqe_connect(&client); /* returns at once; mqe_poll does the work */
    if (st != MQE_OK) {
        fprintf(stderr, "opencpu: mqe_connect: %s\n", mqe_strerror(st));
        return 1;
    }

    uint32_t start = port_posix_now_ms();
    while (received + unexpected < READINGS && port_posix_now_ms() - start < RUN_LIMIT_MS) {
        mqe_poll(&client); /* a lost connection is reported to on_event and retried */
        /* RTOS: sleep until the library has timed work, but wake every MQTT_MAX_SLEEP_MS to
         * read the socket. With a socket-readable callback from the SDK, or a notification
         * from the posting tasks, the task could block on that instead. */
        uint32_t sleep_ms = mqe_next_deadline_ms(&client);
        if (sleep_ms > MQTT_MAX_SLEEP_MS) {
            sleep_ms = MQTT_MAX_SLEEP_MS;
        }
        if (sleep_ms > 0) {
            task_sleep_ms(sleep_ms);
        }
    }

    mqe_disconnect(&client);
    for (int i = 0; i < 200 && mqe_state(&client) != MQE_STATE_DISCONNECTED; i++) {
        mqe_poll(&client);
        task_sleep_ms(5);
    }
    return received == READINGS && unexpected == 0 ? 0 : 1;
}

/* RTOS: the SDK's entry (proc_main_task on OpenCPU, the task table or main() creating
 * tasks on FreeRTOS). Register the critical section before any task may post. */
int main(void) {
    snprintf(readings_topic, sizeof readings_topic, "opencpu/%ld/readings", (long)getpid());
    if (mqe_set_critical_section(critical_enter, critical_exit) != MQE_OK) {
        fprintf(stderr, "opencpu: mqe_set_critical_section failed\n");
        return 1;
    }
    pthread_t sensor; /* RTOS: create the sensor task (Ql_OS_CreateTask, xTaskCreate) */
    if (pthread_create(&sensor, NULL, sensor_task, NULL) != 0) {
        fprintf(stderr, "opencpu: cannot start the sensor task\n");
        return 1;
    }
    uint32_t start = port_posix_now_ms();
    int status = mqtt_task(); /* RTOS: this runs as the MQTT task */
    set_flag(FLAG_STOPPING);  /* the sensor task stops retrying (or waiting) */
    pthread_join(sensor, NULL);
    printf("opencpu: %d of %d readings arrived once, %d unexpected, %ld outbox-full retries, "
           "%u ms\n",
           received, READINGS, unexpected, full_retries, port_posix_now_ms() - start);
    if (status != 0 || sensor_failed) {
        printf("opencpu: FAIL\n");
        return 1;
    }
    printf("opencpu: PASS\n");
    return 0;
}
