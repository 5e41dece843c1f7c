/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* flash_file: see flash_file.h. */
#define _XOPEN_SOURCE 700

#include "flash_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int in_region(const flash_file_t *f, uint32_t offset, uint32_t len) {
    uint64_t end = (uint64_t)offset + len;
    return end <= (uint64_t)f->sector_size * f->sector_count;
}

/* Whole transfers: pread/pwrite may stop short or be interrupted. */
static int full_io(int fd, int is_write, uint8_t *buf, uint32_t len, uint32_t offset) {
    while (len > 0) {
        ssize_t n = is_write ? pwrite(fd, buf, len, (off_t)offset)
                             : pread(fd, buf, len, (off_t)offset);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        buf += n;
        len -= (uint32_t)n;
        offset += (uint32_t)n;
    }
    return 0;
}

static int32_t flash_read(void *ctx, uint32_t offset, uint8_t *buf, uint32_t len) {
    flash_file_t *f = ctx;
    if (!in_region(f, offset, len)) {
        return -1;
    }
    return full_io(f->fd, 0, buf, len, offset);
}

static int32_t flash_program(void *ctx, uint32_t offset, const uint8_t *data, uint32_t len) {
    flash_file_t *f = ctx;
    uint8_t chunk[256];
    if (!in_region(f, offset, len)) {
        return -1;
    }
    while (len > 0) {
        uint32_t n = len < sizeof chunk ? len : (uint32_t)sizeof chunk;
        uint32_t i;
        if (full_io(f->fd, 0, chunk, n, offset) != 0) {
            return -1;
        }
        for (i = 0; i < n; i++) {
            chunk[i] &= data[i]; /* NOR: programming only clears bits */
        }
        if (full_io(f->fd, 1, chunk, n, offset) != 0) {
            return -1;
        }
        data += n;
        offset += n;
        len -= n;
    }
    return f->sync && fdatasync(f->fd) != 0 ? -1 : 0;
}

static int32_t flash_erase(void *ctx, uint32_t sector) {
    flash_file_t *f = ctx;
    uint8_t ff[256];
    uint32_t done = 0;
    if (sector >= f->sector_count) {
        return -1;
    }
    memset(ff, 0xFF, sizeof ff);
    while (done < f->sector_size) {
        uint32_t left = f->sector_size - done;
        uint32_t n = left < sizeof ff ? left : (uint32_t)sizeof ff;
        if (full_io(f->fd, 1, ff, n, sector * f->sector_size + done) != 0) {
            return -1;
        }
        done += n;
    }
    return f->sync && fdatasync(f->fd) != 0 ? -1 : 0;
}

int flash_file_open(flash_file_t *f, mqe_flash_t *table, const char *path,
                    uint32_t sector_size, uint32_t sector_count, uint32_t write_size, int sync) {
    struct stat st;
    uint64_t size = (uint64_t)sector_size * sector_count;
    f->fd = open(path, O_RDWR | O_CREAT, 0644);
    if (f->fd < 0) {
        return -1;
    }
    f->sector_size = sector_size;
    f->sector_count = sector_count;
    f->sync = sync;
    if (fstat(f->fd, &st) != 0) {
        close(f->fd);
        return -1;
    }
    if ((uint64_t)st.st_size < size) {
        /* A new region is erased flash. */
        uint32_t s;
        for (s = 0; s < sector_count; s++) {
            if (flash_erase(f, s) != 0) {
                close(f->fd);
                return -1;
            }
        }
    }
    table->ctx = f;
    table->read = flash_read;
    table->program = flash_program;
    table->erase = flash_erase;
    table->sector_size = sector_size;
    table->sector_count = sector_count;
    table->write_size = write_size;
    table->batch = 0;
    return 0;
}

void flash_file_close(flash_file_t *f) {
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
}
