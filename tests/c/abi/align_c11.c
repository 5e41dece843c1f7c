/* `make abi-test` compiles this with -std=c11 -pedantic and MQE_NO_GNU_ATTRIBUTES, natively
 * and for i386 (-m32), where uint64_t alone is only 4-aligned in a struct: the header's
 * _Alignas on the storage member must give mqe_client_t its 8 bytes of alignment. The same
 * file built with MQE_ALIGNAS emptied must fail on i386 (the check can fail). */
#include <stddef.h>

#include "mqtt_engine.h"

struct after_a_char {
  char c;
  mqe_client_t client;
};

_Static_assert(_Alignof(mqe_client_t) == MQE_CLIENT_ALIGN, "mqe_client_t is not 8-aligned");
_Static_assert(offsetof(struct after_a_char, client) == MQE_CLIENT_ALIGN,
               "mqe_client_t is not 8-aligned as a member");
_Static_assert(sizeof(mqe_client_t) == MQE_CLIENT_SIZE, "sizeof(mqe_client_t) != MQE_CLIENT_SIZE");

int main(void) { return 0; }
