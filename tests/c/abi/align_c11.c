/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* `make abi-test` compiles this with -std=c11 -pedantic and MQE_NO_GNU_ATTRIBUTES, natively
 * and for i386 (-m32), where uint64_t alone is only 4-aligned in a struct: the header's
 * _Alignas on the storage member must give mqe_client_t its 8 bytes of alignment. The same
 * build with MQE_ALIGNAS emptied must fail on i386 (the check can fail). It also compiles as
 * C99 (make check-c), where the GNU attribute does the work. */
#include <stddef.h>

#include "mqtt_engine.h"

/* A compile-time check in C99 and C11: an array of negative size does not compile. */
#define COMPILE_CHECK(name, cond) typedef char name[(cond) ? 1 : -1]

struct after_a_char {
  char c;
  mqe_client_t client;
};

COMPILE_CHECK(client_is_8_aligned_as_a_member,
              offsetof(struct after_a_char, client) == MQE_CLIENT_ALIGN);
COMPILE_CHECK(client_size_is_the_macro, sizeof(mqe_client_t) == MQE_CLIENT_SIZE);
#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(_Alignof(mqe_client_t) == MQE_CLIENT_ALIGN, "mqe_client_t is not 8-aligned");
#endif

int main(void) { return 0; }
