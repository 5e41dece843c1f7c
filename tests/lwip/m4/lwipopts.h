/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* lwipopts.h for sizing ports/lwip on Cortex-M4 (make lwip-size): what a module firmware with
 * an RTOS sets for the port, nothing more. Not a tuned configuration for a product. */
#ifndef MQE_M4_LWIPOPTS_H
#define MQE_M4_LWIPOPTS_H

#define NO_SYS 0                 /* the socket API runs over tcpip_thread and an RTOS */
#define LWIP_SOCKET 1            /* lwip_socket, lwip_connect, lwip_send, lwip_recv, ... */
#define LWIP_NETCONN 1           /* the socket API is built on netconn */
#define LWIP_TCP 1
#define LWIP_IPV4 1
#define LWIP_IPV6 0
#ifndef LWIP_DNS
#define LWIP_DNS 1 /* lwip_getaddrinfo: the port's resolve (make lwip-size measures both) */
#endif
#define LWIP_UDP 1               /* DNS queries */
#define LWIP_COMPAT_SOCKETS 0    /* the port calls lwip_* by name */
#define LWIP_SO_RCVTIMEO 0       /* not needed: the port is non-blocking */
#define LWIP_SO_SNDTIMEO 0
#define MEMP_NUM_NETCONN 4       /* one per client, one for DNS, spare */
#define MEMP_NUM_TCP_PCB 4
#define LWIP_ERRNO_STDINCLUDE 1  /* errno and its codes from the C library (newlib) */
#define LWIP_TIMEVAL_PRIVATE 1
#define MEM_ALIGNMENT 4

#endif /* MQE_M4_LWIPOPTS_H */
