/* block-index.h: an image's block index: the squashfs as the extents it was written in (superblock,
 * data and fragment blocks, metadata, padding), each with offset, stored length and SHA-256 (and a
 * block's the SHA-256 of its content, uncompressed, with the compressor's settings); as JSON. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

#define BLOCK_INDEX_KIND "ingot-block-index"
#define BLOCK_INDEX_FORMAT 2 /* 2: content digests and the compressor's settings; 1 is still read */

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
        bool has_content;          /* format 2, data and fragment blocks: */
        uint8_t content_sha256[32]; /* the block uncompressed */
};

/* How the data and fragment blocks were compressed: a build reuses an image's blocks only when its own
 * settings are the same (the compressor gives the same bytes for the same content at the same level). */
struct block_settings {
        int compressor; /* SQFS_COMPRESSOR; 0: not known (format 1) */
        unsigned level;
        uint32_t block_size;
};

struct block_index {
        struct extent *extents; /* by offset, each one write of the image */
        size_t n, allocated;
        int error; /* a write that was neither an append nor a rewrite of one extent: no index */
        struct block_settings settings;
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
 * size and root hash, the settings, and the extents as [offset, size, kind, sha256] in order, data and
 * fragment blocks with their content's SHA-256 as a fifth (-EBADMSG if one has none). */
int block_index_to_json(const struct block_index *x, const char *image_name, uint64_t image_size,
                        const char *root_hash, char **ret_text);

const char *extent_kind_name(enum extent_kind kind);

/* The index block_index_to_json wrote (format 1 or 2), from text whose digest the caller has checked
 * (name: for messages): -EBADMSG saying what is wrong unless it is of this kind and format and its
 * extents tile [0, size) in order. ret_size and ret_root_hash: the image it describes. */
int block_index_parse(const char *text, const char *name, struct block_index *ret, uint64_t *ret_size,
                      char ret_root_hash[static 129], struct ingot_error *err);
