/* fragment-boundary.c: the content-defined close of fragment blocks (see the header). */
#include "fragment-boundary.h"

uint64_t fragment_path_hash(uint64_t h, const char *component) {
        for (const unsigned char *p = (const unsigned char *) component; *p; p++)
                h = (h ^ *p) * UINT64_C(0x100000001b3);
        return (h ^ '/') * UINT64_C(0x100000001b3);
}

/* splitmix64's finalizer: FNV's low bits alone are poor. */
static uint64_t mix(uint64_t x) {
        x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
        return x ^ (x >> 31);
}

bool fragment_boundary_after(struct fragment_boundary *b, uint64_t path_hash, uint64_t tail) {
        if (tail == 0)
                return false;
        /* libsquashfs starts a new block when a tail does not fit */
        b->fill = b->fill + tail > b->block_size ? tail : b->fill + tail;
        if (b->fill < b->block_size / 2)
                return false;
        /* a chance of tail / (block_size / 4): the top 32 bits against it, in 64-bit arithmetic */
        uint64_t threshold = (tail << 32) / (b->block_size / 4);
        if ((mix(path_hash) >> 32) >= threshold)
                return false;
        b->fill = 0;
        return true;
}
