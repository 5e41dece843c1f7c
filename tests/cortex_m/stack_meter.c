/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "stack_meter.h"

#include <string.h>

#include "semihost.h"

#define MAX_ROWS 64 /* the header has 26 functions, and the optional ones */

static stack_row_t rows[MAX_ROWS];
static size_t row_count;

/* The function name of a call expression: "mqe_poll(&c)" -> "mqe_poll". */
static size_t name_len(const char *call) {
  size_t n = 0;
  while (call[n] != '\0' && call[n] != '(') {
    n++;
  }
  return n;
}

void stack_note(const char *call, uint32_t used, uintptr_t sp_at_call) {
  if (used == sp_at_call - (uintptr_t)__stack_limit) {
    out("FAIL: %s used the whole stack region (overflow)\n", call);
    sh_exit(false);
  }
  size_t len = name_len(call);
  stack_row_t *row = NULL;
  for (size_t i = 0; i < row_count; i++) {
    if (strncmp(rows[i].name, call, len) == 0 && name_len(rows[i].name) == len) {
      row = &rows[i];
    }
  }
  if (row == NULL) {
    CHECK(row_count < MAX_ROWS);
    row = &rows[row_count++];
    row->name = call;
  }
  row->calls++;
  if (used > row->peak_bytes) {
    row->peak_bytes = used;
  }
}

void stack_report(void) {
  for (size_t i = 0; i < row_count; i++) {
    out("STACK %.*s %lu calls=%lu\n", (int)name_len(rows[i].name), rows[i].name,
        (unsigned long)rows[i].peak_bytes, (unsigned long)rows[i].calls);
  }
}

uint32_t stack_worst(void) {
  uint32_t worst = 0;
  for (size_t i = 0; i < row_count; i++) {
    if (rows[i].peak_bytes > worst) {
      worst = rows[i].peak_bytes;
    }
  }
  return worst;
}
