/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * flash_file: a flash region for mqtt-engine's session store (mqe_set_store), backed by a
 * file. For Linux modules and hosts with a file system, and for tests: it behaves as NOR
 * flash (program only clears bits: new = old & data; erase sets a sector to 0xFF).
 *
 * A file survives a killed process through the page cache; to survive a power cut too,
 * open it with sync = 1 (every program and erase is followed by fdatasync).
 * Needs a library built with `--features store` and MQE_STORE defined before the header.
 */
#ifndef FLASH_FILE_H
#define FLASH_FILE_H

#include <stdint.h>

#ifndef MQE_STORE
#define MQE_STORE 1
#endif
#include "mqtt_engine.h"

typedef struct flash_file {
    int fd;
    uint32_t sector_size;
    uint32_t sector_count;
    int sync;
} flash_file_t;

/* Opens (or creates, erased) the file at `path` as a region of sector_count sectors of
 * sector_size bytes, and fills `table` (write_size: 1..32, a power of two) for
 * mqe_set_store. Returns 0, or -1 with errno set. */
int flash_file_open(flash_file_t *f, mqe_flash_t *table, const char *path,
                    uint32_t sector_size, uint32_t sector_count, uint32_t write_size, int sync);

void flash_file_close(flash_file_t *f);

#endif
