/* verity.h: the dm-verity hash tree of an image, computed from the very writes that produce the
 * image (no read-back), laid out as veritysetup's format 1, with the superblock from libcryptsetup. */
#pragma once

#include "util.h"

#define VERITY_DIGEST_MAX 64

struct verity_params {
        const char *hash_name; /* an OpenSSL digest name, "sha256" */
        uint32_t data_block_size;
        uint32_t hash_block_size;
        const uint8_t *salt;
        size_t salt_size;
};

struct verity;

/* image_fd is the image being written: the few bytes of a block that a truncation cuts into, or
 * that is overwritten after it was hashed, are read back from it. */
int verity_new(const struct verity_params *params, int image_fd, struct verity **ret_verity,
               struct ingot_error *err);
void verity_free(struct verity *v);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct verity *, verity_free);

/* The image file's writes and truncations, in the order they happen. */
int verity_write(struct verity *v, uint64_t offset, const void *data, size_t size);
int verity_truncate(struct verity *v, uint64_t size);

/* Once the image is complete (its size a multiple of the data block size): writes the hash tree
 * and its superblock to hash_path (an existing, empty file open as hash_fd) and returns the root
 * hash. data_path is the image, which libcryptsetup opens but does not read. */
int verity_finish(struct verity *v, const char *data_path, const char *hash_path, int hash_fd,
                  uint8_t root_hash[VERITY_DIGEST_MAX], size_t *ret_root_hash_size, struct ingot_error *err);

/* The same tree for an existing file, hashed on jobs threads (for `ingot verity`). */
int verity_format_file(const struct verity_params *params, const char *data_path, const char *hash_path, int hash_fd,
                       unsigned jobs, uint8_t root[VERITY_DIGEST_MAX], size_t *ret_root_size,
                       uint64_t *ret_data_blocks, struct ingot_error *err);

/* Geometry, for the manifest and messages. */
uint64_t verity_data_blocks(const struct verity *v);

/* What a hash tree says about an image, for `ingot verify`. */
struct verity_info {
        char hash_name[32];
        uint32_t data_block_size, hash_block_size;
        uint64_t data_blocks;
        uint8_t salt[256];
        size_t salt_size;
        uint8_t root_hash[VERITY_DIGEST_MAX]; /* computed from the tree's top block */
        size_t root_hash_size;
};

/* A file or a region of a disk: name for messages (and the path libcryptsetup opens for the hash
 * area unless path is set, e.g. /proc/self/fd/N of a memfd), an open fd, the region's start, and its
 * size (0: the whole file, which must fit exactly). */
struct verity_region {
        const char *name;
        const char *path;
        int fd;
        uint64_t offset;
        uint64_t size;
};

/* Reads the hash area's superblock (libcryptsetup) and checks every data block against the tree and
 * every tree block against the level above; the message names the first block that does not match.
 * -EBADMSG for a mismatch. The computed root hash is returned for comparison with the trusted one. */
int verity_check(const struct verity_region *data, const struct verity_region *hash, struct verity_info *ret_info,
                 struct ingot_error *err);

/* A hash area in memory, every level checked against the one above, its root hash computed: data can
 * then be checked block by block as it streams past (ingot slot install hashes what it writes). */
struct verity_tree;
int verity_tree_load(const struct verity_region *hash, struct verity_tree **ret_tree, struct ingot_error *err);
void verity_tree_free(struct verity_tree *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct verity_tree *, verity_tree_free);
const struct verity_info *verity_tree_info(const struct verity_tree *t);
/* The hash area's bytes as read (superblock and tree), to be copied elsewhere verbatim. */
const uint8_t *verity_tree_area(const struct verity_tree *t, size_t *ret_size);
/* The bytes a hash area with t's geometry (hash, block sizes, salt) takes for data_size bytes of data:
 * what a verity partition must hold for a root partition of that size. 0 if no tree can be that big. */
uint64_t verity_tree_area_for(const struct verity_tree *t, uint64_t data_size);
/* Checks every data block of the region against t (the region may be larger than the tree covers, not
 * smaller), in order, telling progress (phase "verify", may be NULL) as it goes; the message names the
 * first block that does not match, its bytes counted from the region's start. For a one-block image, t's
 * root hash is that block's digest afterwards. */
int verity_tree_check_data(struct verity_tree *t, const struct verity_region *data, ingot_progress_fn progress,
                           void *userdata, struct ingot_error *err);
/* Checks data blocks first..first+n-1 (n * data_block_size bytes at data); safe from several threads. */
int verity_tree_check_blocks(const struct verity_tree *t, uint64_t first, const void *data, uint64_t n,
                             struct ingot_error *err);
