/* squashfs.h: writes the image tree as a squashfs filesystem through libsquashfs: file data as it
 * arrives (compressed on all cores), then inodes, directories, ids, xattrs and the superblock; and the
 * cleanup helper for the memory libsquashfs hands out (inodes, entries, paths), for its readers too. */
#pragma once

#include <sqfs/predef.h>

#include "block-reuse.h"
#include "tree.h"
#include "verity.h"

struct squashfs_writer;
struct block_index;

/* The compressors a recipe may name, with the levels each takes (0..0: no level). */
struct squashfs_compressor {
        const char *name; /* zstd, xz, gzip, lz4 */
        int id;           /* SQFS_COMPRESSOR */
        unsigned min_level, max_level;
};
const struct squashfs_compressor *squashfs_compressor_find(const char *name);
const struct squashfs_compressor *squashfs_compressor_by_id(int id);
/* The name of SQFS_COMPRESSOR id, "unknown" for one not above. */
const char *compressor_name(int id);

/* A recipe's compressor, level (0: the compressor's default) and block size as the settings the block
 * index records, the level made explicit; -EINVAL for a compressor libsquashfs does not know. */
int squashfs_block_settings(int compressor, unsigned level, uint32_t block_size, struct block_settings *ret);

struct squashfs_options {
        struct block_reuse *reuse; /* the settings, and the blocks' compressor (block-reuse.h) */
        unsigned jobs;
        uint32_t mkfs_time;
        struct verity *verity; /* sees every write, to build the hash tree in the same pass; may be NULL */
        struct block_index *index; /* records every write as an extent (block-index.h); may be NULL */
};

/* Writes to fd from offset 0; fd stays the caller's. */
int squashfs_writer_new(int fd, const struct squashfs_options *options, struct squashfs_writer **ret_writer,
                        struct ingot_error *err);
void squashfs_writer_free(struct squashfs_writer *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct squashfs_writer *, squashfs_writer_free);

/* For _cleanup_(sqfs_freep): what libsquashfs allocates (not its objects, which sqfs_destroy() frees). */
static inline void sqfs_freep(void *p) {
        sqfs_free(*(void **) p);
}

/* File data: begin, append any number of times, end. node->inode tracks the result. */
int squashfs_writer_begin_file(struct squashfs_writer *w, struct node *node);
int squashfs_writer_append(struct squashfs_writer *w, const void *data, size_t size);
/* A hole: zeros, which the block processor stores as sparse blocks. */
int squashfs_writer_append_zeros(struct squashfs_writer *w, uint64_t size);
int squashfs_writer_end_file(struct squashfs_writer *w);

/* After all data: writes the tree (already tree_finalize()d) and the tables; the file is complete. */
int squashfs_writer_finish(struct squashfs_writer *w, struct tree *tree, uint64_t *ret_size,
                           struct ingot_error *err);

/* A libsquashfs file over fd (which stays the caller's), for reading an existing image. */
struct sqfs_file_t *squashfs_file_from_fd(int fd);

/* The errno behind the last libsquashfs error code. */
int squashfs_writer_errno(struct squashfs_writer *w, int sqfs_error);
