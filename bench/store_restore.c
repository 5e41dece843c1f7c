/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The cost of a restore (docs/STORE.md "Figures"): mqe_set_store over a copy of a full region
 * (target/store_full_region.bin, written by tests/store_figures.rs). Run under
 *   valgrind --tool=callgrind --toggle-collect=mqe_set_store
 * so that only the restore is counted. Prints what was restored. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "flash_file.h"
#include "port_posix.h"

static mqe_client_t client;
static uint8_t rx[512], tx[512], store_buf[4096];
static uint32_t restored = 0xFFFFFFFFu;

static void on_event(void *user, const mqe_event_t *e) {
    (void)user;
    if (e->kind == MQE_EVENT_RESTORED) {
        restored = e->restored_outgoing;
    }
}

int main(int argc, char **argv) {
    static flash_file_t ff;
    static mqe_flash_t flash;
    static mqe_store_t store;
    mqe_transport_t transport;
    mqe_platform_t platform;
    port_posix_t port;
    if (argc != 2 || flash_file_open(&ff, &flash, argv[1], 4096, 4, 4, 0) != 0) {
        fprintf(stderr, "usage: store_restore REGION (4 x 4096 B, write size 4)\n");
        return 2;
    }
    port_posix_platform(&platform);
    port_posix_transport(&transport, &port);
    mqe_options_t o = mqe_options_default();
    o.host = "127.0.0.1";
    o.client_id = "restore";
    o.clean_session = false;
    o.rx_buf = rx;
    o.rx_buf_len = sizeof rx;
    o.tx_buf = tx;
    o.tx_buf_len = sizeof tx;
    o.store_buf = store_buf;
    o.store_buf_len = sizeof store_buf;
    mqe_status_t st = mqe_init(&client, &o, &transport, &platform);
    if (st == MQE_OK) {
        st = mqe_set_event_handler(&client, on_event, NULL);
    }
    if (st == MQE_OK) {
        st = mqe_set_store(&client, &store, &flash);
    }
    if (st != MQE_OK) {
        fprintf(stderr, "store_restore: %s\n", mqe_strerror(st));
        return 1;
    }
    mqe_poll(&client);
    printf("store_restore: restored %u outgoing messages\n", (unsigned)restored);
    return restored == 0xFFFFFFFFu;
}
