/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Linked by tests/install/run.sh with arm-none-eabi-gcc against a TARGET=thumbv7em-none-eabihf
 * install, the way docs/BUILDING.md says: the C library ahead of the
 * archive, --gc-sections. It only has to link. */
#include "mqtt_engine.h"

int main(void) {
    return mqe_version()[0] == (char)('0' + MQE_VERSION_MAJOR) ? 0 : 1;
}
