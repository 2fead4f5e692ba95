/* squashfs-read.h: reading a squashfs image, a file or a region of a disk, optionally each block checked
 * against its hash tree first: one small file (the identity in /usr/lib/os-release), a path's type, every path. */
#pragma once

#include <sys/types.h>

#include "util.h"

struct squashfs_reader;
struct sqfs_super_t;
struct verity_tree;

/* The image at fd's offset..+size (size 0: to the end of the file); the fd stays the caller's. */
int squashfs_reader_open(int fd, uint64_t offset, uint64_t size, struct squashfs_reader **ret, struct ingot_error *err);
/* The same behind a hash tree checked against a trusted root hash, as dm-verity reads it: the image is the
 * tree's data (at fd's offset), and every block libsquashfs asks for is checked before it sees a byte, so
 * nothing unverified is parsed; a block that does not match fails the read (-EBADMSG, named in err). The
 * tree stays the caller's and must outlive the reader. */
int squashfs_reader_open_verified(int fd, uint64_t offset, const struct verity_tree *tree,
                                  struct squashfs_reader **ret, struct ingot_error *err);
void squashfs_reader_free(struct squashfs_reader *rd);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct squashfs_reader *, squashfs_reader_free);
const struct sqfs_super_t *squashfs_reader_super(const struct squashfs_reader *rd);
/* The mode (type and permissions) of the entry at path ("usr/bin/x"); -ENOENT when there is none. */
int squashfs_reader_find(struct squashfs_reader *rd, const char *path, mode_t *ret_mode);
int squashfs_reader_read_file(struct squashfs_reader *rd, const char *path, size_t max, char **ret_text,
                              struct ingot_error *err);
/* The names in the directory at path ("usr/lib/modules"), NULL for none; -ENOENT when there is no such
 * directory. */
int squashfs_reader_list(struct squashfs_reader *rd, const char *path, char ***ret_names);
/* Every entry but the root, parents before children, as "/usr/bin/x"; a negative return stops. */
typedef int (*squashfs_visit_t)(const char *path, mode_t mode, void *userdata);
int squashfs_reader_walk(struct squashfs_reader *rd, squashfs_visit_t visit, void *userdata, struct ingot_error *err);

/* The contents of path (a regular file, at most max bytes) inside the squashfs at fd's offset..+size
 * (size 0: to the end of the file); NUL-terminated. -ENOENT when the image has no such file. */
int squashfs_read_file(int fd, uint64_t offset, uint64_t size, const char *path, size_t max, char **ret_text,
                       struct ingot_error *err);

/* Where a system extension layer keeps its identity (extension-release.NAME); an image for a slot has
 * /usr/lib/os-release instead. */
#define EXTENSION_RELEASE_DIR "/usr/lib/extension-release.d"

/* KEY's value in an os-release text into out (quotes taken off; unchanged when there is no such line). */
void os_release_value(const char *text, const char *key, char out[64]);
/* IMAGE_ID and IMAGE_VERSION, else ID and VERSION_ID, of an os-release text. */
void os_release_identity(const char *text, char ret_id[64], char ret_version[64]);
/* IMAGE_ID and IMAGE_VERSION (else ID and VERSION_ID) from the image's /usr/lib/os-release. */
int squashfs_image_identity(int fd, uint64_t offset, uint64_t size, char ret_id[64], char ret_version[64],
                            struct ingot_error *err);
int squashfs_reader_identity(struct squashfs_reader *rd, char ret_id[64], char ret_version[64], struct ingot_error *err);
