/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* Peak stack per public call: paint the free stack below the caller, make the call, then find
   the deepest word that changed. What a call's callbacks and transport functions use counts
   too, so the image keeps those light. No interrupts run, so nothing else touches the stack. */
#ifndef CORTEX_M_STACK_METER_H
#define CORTEX_M_STACK_METER_H

#include <stddef.h>
#include <stdint.h>

/* One row per public function; the peak over every call the run made. */
typedef struct {
  const char *name;
  uint32_t calls;
  uint32_t peak_bytes;
} stack_row_t;

/* Records `bytes` of stack used by the call whose source text is `call`; fails the run when
   the call reached the bottom of the stack region (an overflow the painting cannot size). */
void stack_note(const char *call, uint32_t bytes, uintptr_t sp_at_call);
void stack_report(void);
uint32_t stack_worst(void);

static inline __attribute__((always_inline)) uintptr_t stack_pointer(void) {
  uintptr_t sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  return sp;
}

extern uint32_t __stack_limit[];
#define STACK_PAINT 0xC5C5C5C5u

/* Paints from the stack's bottom up to the current stack pointer. Inlined, so the loop lives in
   registers and leaves the painted words alone. */
static inline __attribute__((always_inline)) void stack_paint(void) {
  uint32_t *word = __stack_limit;
  uint32_t *const end = (uint32_t *)stack_pointer();
  while (word < end) {
    *(volatile uint32_t *)word++ = STACK_PAINT;
  }
}

/* Bytes below `sp_at_call` that were written since stack_paint. Inlined, so it has no frame
   of its own to mistake for the call's. */
static inline __attribute__((always_inline)) uint32_t stack_used(uintptr_t sp_at_call) {
  const uint32_t *word = __stack_limit;
  while ((uintptr_t)word < sp_at_call && *(const volatile uint32_t *)word == STACK_PAINT) {
    word++;
  }
  return (uint32_t)(sp_at_call - (uintptr_t)word);
}

/* The value of `call`, measured. GNU C statement expression. */
#define MEASURED(call)                        \
  __extension__({                             \
    stack_paint();                            \
    uintptr_t sp_at_call_ = stack_pointer();  \
    __typeof__(call) result_ = (call);        \
    stack_note(#call, stack_used(sp_at_call_), sp_at_call_); \
    result_;                                  \
  })

#define MEASURED_VOID(call)                   \
  do {                                        \
    stack_paint();                            \
    uintptr_t sp_at_call_ = stack_pointer();  \
    call;                                     \
    stack_note(#call, stack_used(sp_at_call_), sp_at_call_); \
  } while (0)

#endif
