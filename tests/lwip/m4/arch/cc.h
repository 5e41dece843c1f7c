/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* The compiler/platform glue lwIP's headers need to compile ports/lwip for Cortex-M4. */
#ifndef MQE_M4_ARCH_CC_H
#define MQE_M4_ARCH_CC_H

#define LWIP_PLATFORM_DIAG(x) \
    do {                      \
    } while (0)
#define LWIP_PLATFORM_ASSERT(x) \
    do {                        \
    } while (0)
#define BYTE_ORDER LITTLE_ENDIAN

typedef unsigned int sys_prot_t;

#endif /* MQE_M4_ARCH_CC_H */
