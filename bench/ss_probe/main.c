#include <stdint.h>
#include <stddef.h>
int probe_push(const uint8_t*, size_t); int probe_restore(uint8_t*, size_t, uint16_t);
static uint8_t fl[16384];
int fl_read(uint32_t o, uint8_t*b, size_t n){for(size_t i=0;i<n;i++)b[i]=fl[o+i];return 0;}
int fl_prog(uint32_t o, const uint8_t*b, size_t n){for(size_t i=0;i<n;i++)fl[o+i]&=b[i];return 0;}
int fl_erase(uint32_t a, uint32_t e){for(uint32_t i=a;i<e;i++)fl[i]=0xff;return 0;}
static uint8_t buf[256];
int main(void){ buf[0]=1; probe_push(buf, 40); return probe_restore(buf, 256, 1); }
void _exit(int c){(void)c; for(;;);}
