/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#ifndef CLOUD_CALLS_H
#define CLOUD_CALLS_H

/* The cloud API on the Cortex-M4 (each part only when its feature is built): the signers
   against fixed expectations, a profile's refusals, a credentials handler. Links them into
   full.elf so that `make size` counts them, and measures their stack. */
void cloud_calls(void);

#endif
