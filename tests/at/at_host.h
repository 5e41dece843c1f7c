/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The POSIX side of the modem's UART for the AT port's tests: the pseudo-terminal that
 * scripts/modem_emulator.py gives in MQE_MODEM_TTY, opened non-blocking, one qat_modem_t
 * on it, and the emulator's control channel (MQE_MODEM_CTL). */
#ifndef MQE_AT_HOST_H
#define MQE_AT_HOST_H

#include <stddef.h>

#include "quectel_at.h"

/* The process's modem, set up on the first call from MQE_MODEM_TTY (MQE_MODEM_ECHO=1 keeps
 * the modem's echo on). NULL, with a message on stderr, when the pty cannot be opened. */
qat_modem_t *at_host_modem(void);

/* How often the port's link hook said down (up = 0) or up (1). */
int at_host_link_events(int up);

/* Sends a control word to the emulator ("cut", "pdp", "hold", "release", "sendfail N",
 * "stats"); the reply (up to len-1 bytes) goes to reply when not NULL. 0 on success. */
int at_host_ctl(const char *word, char *reply, size_t len);

/* Sleeps ms milliseconds. */
void at_host_sleep_ms(unsigned ms);

/* The number after "key=" in a "stats" reply, or -1. */
long at_host_stat(const char *reply, const char *key);

#endif /* MQE_AT_HOST_H */
