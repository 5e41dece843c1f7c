/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "semihost.h"

#include <stdarg.h>
#include <stdio.h>

#define SYS_WRITE0 0x04
#define SYS_EXIT 0x18
#define ADP_STOPPED_APPLICATION_EXIT 0x20026
#define ADP_STOPPED_RUNTIME_ERROR 0x20023

static int semihost_call(int op, const void *arg) {
  register int r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void out(const char *fmt, ...) {
  char line[160];
  va_list args;
  va_start(args, fmt);
  vsnprintf(line, sizeof line, fmt, args);
  va_end(args);
  semihost_call(SYS_WRITE0, line);
}

void sh_exit(bool ok) {
  /* 32-bit semihosting passes the reason itself in r1; QEMU exits 0 only for ApplicationExit. */
  semihost_call(SYS_EXIT, (const void *)(uintptr_t)(ok ? ADP_STOPPED_APPLICATION_EXIT
                                                        : ADP_STOPPED_RUNTIME_ERROR));
  for (;;) {
  }
}

/* No heap on this board: newlib-nano's string formatting references malloc but never calls it
   for snprintf, and the library itself has no allocator at all. */
void *_sbrk(int increment) {
  (void)increment;
  return (void *)-1;
}
