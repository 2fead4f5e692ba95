/* fragment-boundary.h: where the image's fragment blocks end, chosen by content so that updates stay
 * local: a changed, added or removed small file rewrites its own fragment block, not every one after it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* A fragment block is closed after a file's tail when the tails since the last close fill at least
 * half a block and the file's path (hashed) says so, with a chance of tail / a quarter block: a
 * decision by the path and that tail alone, so the blocks after a change line up again at the next
 * close both versions share. Blocks the tails overflow are closed by libsquashfs, as always. */
struct fragment_boundary {
        uint32_t block_size;
        uint64_t fill; /* the tails' bytes in the open block, as far as this module counts them */
};

/* After a file whose last block is tail bytes (0: none) went to the fragment block: true to close the
 * block now. */
bool fragment_boundary_after(struct fragment_boundary *b, uint64_t path_hash, uint64_t tail);

/* A path's hash for the decision above (FNV-1a, mixed): the same path, the same decision. */
uint64_t fragment_path_hash(uint64_t h, const char *component);
#define FRAGMENT_PATH_HASH_INIT UINT64_C(0xcbf29ce484222325)
