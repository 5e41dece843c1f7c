/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Compiled against the header that matches the library under test (`make abi-test`): the
 * library's own client size and ABI tag, for abi_guard.c's checks and its control. */
#include "mqtt_engine.h"

const size_t lib_client_size = sizeof(mqe_client_t);
const uint32_t lib_abi_tag = MQE_ABI_TAG;
