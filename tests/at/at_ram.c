/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* `make at-size`: the RAM a firmware gives the AT port, one modem's state, as bss. */
#include "quectel_at.h"

qat_modem_t at_ram_modem;
