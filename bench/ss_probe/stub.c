#include <stdint.h>
#include <stddef.h>
int probe_push(const uint8_t*b, size_t n){(void)b;return (int)n;} int probe_restore(uint8_t*b, size_t n, uint16_t d){(void)b;return (int)n+d;}
