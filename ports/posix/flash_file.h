/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * flash_file: a flash region for mqtt-engine's session store (mqe_set_store), backed by a
 * file. For Linux modules and hosts with a file system, and for tests: it behaves as NOR
 * flash (program only clears bits: new = old & data; erase sets a sector to 0xFF).
 *
 * A file survives a killed process through the page cache; to survive a power cut too,
 * open it with sync = 1 (every program and erase is followed by fdatasync).
 * Needs a library built with `--features store`, and its header (`make store-header` writes
 * it to build/store/include; it defines MQE_FEATURE_STORE).
 */
#ifndef FLASH_FILE_H
#define FLASH_FILE_H

#include <stdint.h>

#include "mqtt_engine.h"

#if !defined(MQE_FEATURE_STORE)
#error "flash_file needs the header of a library built with --features store"
#endif

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
