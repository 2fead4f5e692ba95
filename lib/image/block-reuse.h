/* block-reuse.h: blocks known by their content: the compressor libsquashfs's block processor calls, which
 * records each block's content digest for the block index and copies a block's stored bytes from an
 * earlier image (found by its index) instead of compressing it again, checked before use. */
#pragma once

#include <pthread.h>
#include <sqfs/predef.h>
#include <stdint.h>

#include "block-index.h"
#include "util.h"

/* An earlier image a build may take blocks from. */
struct reuse_source {
        char *path;
        int fd;
        struct block_index index;
        uint64_t refused;              /* blocks whose stored bytes did not check out: compressed anew */
        uint64_t first_refused_offset; /* the first of them, for the message */
};

struct block_reuse {
        pthread_mutex_t lock;
        struct block_settings settings; /* this build's: a source must have the same */
        struct reuse_source *sources;
        size_t n_sources;
        struct reuse_entry *entries; /* every source's blocks by content digest */
        size_t n_entries;
        struct digest_pair *stored;  /* this build's blocks: stored digest, content digest */
        size_t n_stored, allocated_stored;
        uint64_t reused, compressed, reused_bytes;
        int error; /* a worker's failure to record, for block_reuse_fill_index */
};

int block_reuse_init(struct block_reuse *r, const struct block_settings *settings);
void block_reuse_done(struct block_reuse *r);

/* Adds IMAGE (NAME.raw, with NAME.blocks beside it) as a source: 1 when added; 0 when it cannot serve,
 * with why in err (no index, an index of format 1, other settings, an index that is not the image's);
 * negative on an error of this machine's (-ENOMEM) or an image that cannot be opened (err says). */
int block_reuse_add_image(struct block_reuse *r, const char *image, struct ingot_error *err);

/* A compressor for the block processor with the settings' compressor inside; destroyed with sqfs_destroy. */
int block_reuse_compressor_new(struct block_reuse *r, sqfs_compressor_t **ret);

/* Once the image is written and its index classified: every data and fragment extent's content digest,
 * by its stored one; -EBADMSG if one was not seen going through the compressor. */
int block_reuse_fill_index(struct block_reuse *r, struct block_index *x);
