/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Test-only image, linked against the library built with the `panic-test` feature: a
   deliberately triggered panic must reach the firmware's hook set by mqe_set_panic_hook. */
#include <stdbool.h>

#include "mqtt_engine.h"
#include "semihost.h"

/* Exported by the library only with the `panic-test` feature. */
void mqe_test_panic(void);

static void firmware_panic_hook(void) {
  out("PASS panic hook reached\n");
  sh_exit(true); /* a real firmware would reset the device here */
}

int main(void) {
  mqe_set_panic_hook(firmware_panic_hook);
  out("triggering a panic inside the library\n");
  mqe_test_panic();
  out("FAIL: mqe_test_panic returned\n");
  return 1;
}
