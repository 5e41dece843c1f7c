/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#ifndef CELL_CALLS_H
#define CELL_CALLS_H

/* The cellular API on the Cortex-M4 (each part only when its feature is built): link down and
   up, mqe_stats, mqe_pending, on a client of its own. Links them into full.elf so that
   `make size` counts them, and measures their stack. */
void cell_calls(void);

#endif
