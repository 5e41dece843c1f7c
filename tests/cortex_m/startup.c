/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Cortex-M4 startup: the vector table, copying .data, zeroing .bss, enabling the FPU (the
   library is built for thumbv7em-none-eabihf), then main. Any fault ends the run as failed. */
#include <stdint.h>
#include <string.h>

#include "semihost.h"

extern uint32_t __stack_top[], __data_start[], __data_end[], __data_load[], __bss_start[],
    __bss_end[];
int main(void);

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

__attribute__((noreturn)) void Reset_Handler(void) {
  memcpy(__data_start, __data_load, (size_t)((char *)__data_end - (char *)__data_start));
  memset(__bss_start, 0, (size_t)((char *)__bss_end - (char *)__bss_start));
  SCB_CPACR |= 0xFu << 20; /* CP10 and CP11: full access */
  __asm__ volatile("dsb\n\tisb" ::: "memory");
  sh_exit(main() == 0);
}

__attribute__((noreturn)) static void Fault_Handler(void) {
  out("FAIL: CPU fault\n");
  sh_exit(false);
}

__attribute__((section(".isr_vector"), used)) static void (*const vector_table[16])(void) = {
    (void (*)(void))__stack_top,
    Reset_Handler,
    Fault_Handler, /* NMI */
    Fault_Handler, /* HardFault */
    Fault_Handler, /* MemManage */
    Fault_Handler, /* BusFault */
    Fault_Handler, /* UsageFault */
    0, 0, 0, 0,
    Fault_Handler, /* SVCall */
    Fault_Handler, /* DebugMonitor */
    0,
    Fault_Handler, /* PendSV */
    Fault_Handler, /* SysTick */
};
