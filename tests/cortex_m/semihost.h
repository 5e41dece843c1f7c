/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Semihosting output and exit for the QEMU image (ARM semihosting, BKPT 0xAB), and the
   tiny bits of board support the apps share: output, the stack meter, failing hard. */
#ifndef CORTEX_M_SEMIHOST_H
#define CORTEX_M_SEMIHOST_H

#include <stdbool.h>
#include <stdint.h>

/* printf-style line to the host's stdout (formatted by newlib-nano's vsnprintf). */
void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Ends the QEMU run: status 0 when ok, 1 otherwise. */
__attribute__((noreturn)) void sh_exit(bool ok);

/* Fails the run with a message naming the source line. */
#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      out("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);             \
      sh_exit(false);                                                 \
    }                                                                 \
  } while (0)

#endif
