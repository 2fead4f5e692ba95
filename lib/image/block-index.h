/* block-index.h: an image's block index: the squashfs as the extents it was written in (superblock,
 * data and fragment blocks, metadata, padding), each with offset, stored length and SHA-256; as JSON. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

#define BLOCK_INDEX_KIND "ingot-block-index"
#define BLOCK_INDEX_FORMAT 1

enum extent_kind {
        EXTENT_SUPERBLOCK,
        EXTENT_METADATA, /* compressor options, inode, directory, fragment, id and xattr tables */
        EXTENT_DATA,     /* a block of one file's data */
        EXTENT_FRAGMENT, /* a block of small files' tails, packed */
        EXTENT_PADDING,  /* zeros to the device block size */
};

struct extent {
        uint64_t offset;
        uint32_t size;
        enum extent_kind kind;
        uint8_t sha256[32];
};

struct block_index {
        struct extent *extents; /* by offset, each one write of the image */
        size_t n, allocated;
        int error; /* a write that was neither an append nor a rewrite of one extent: no index */
};

void block_index_done(struct block_index *x);

/* What the image writer does, as it does it: the size bytes at offset written (an append, or the
 * superblock written again), the file cut to size (a deduplicated file's blocks taken back). */
int block_index_record(struct block_index *x, uint64_t offset, const void *data, size_t size);
void block_index_truncate(struct block_index *x, uint64_t size);

/* Once the image is complete: which extent is what, by the superblock's regions (data_start: the end of
 * the compressor options; fragments: the fragment blocks' offsets, sorted). -EBADMSG when the extents
 * do not cover [0, size) exactly. */
struct block_index_layout {
        uint64_t data_start, inode_table_start, bytes_used, size;
        const uint64_t *fragments;
        size_t n_fragments;
};
int block_index_classify(struct block_index *x, const struct block_index_layout *l);

/* The index as canonical JSON text ending in a newline: its kind and format, the image's file name,
 * size and root hash, and the extents as [offset, size, kind, sha256] in order. */
int block_index_to_json(const struct block_index *x, const char *image_name, uint64_t image_size,
                        const char *root_hash, char **ret_text);

const char *extent_kind_name(enum extent_kind kind);

/* The index block_index_to_json wrote, from text whose digest the caller has checked (name: for
 * messages): -EBADMSG saying what is wrong unless it is of this kind and format and its extents tile
 * [0, size) in order. ret_size and ret_root_hash: the image it describes. */
int block_index_parse(const char *text, const char *name, struct block_index *ret, uint64_t *ret_size,
                      char ret_root_hash[static 129], struct ingot_error *err);
