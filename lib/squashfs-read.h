/* squashfs-read.h: reading one small file out of a squashfs image, a file or a region of a disk
 * (for the image identity in /usr/lib/os-release of an image or an installed slot). */
#pragma once

#include "util.h"

/* The contents of path (a regular file, at most max bytes) inside the squashfs at fd's offset..+size
 * (size 0: to the end of the file); NUL-terminated. -ENOENT when the image has no such file. */
int squashfs_read_file(int fd, uint64_t offset, uint64_t size, const char *path, size_t max, char **ret_text,
                       struct ingot_error *err);

/* IMAGE_ID and IMAGE_VERSION (else ID and VERSION_ID) from the image's /usr/lib/os-release. */
int squashfs_image_identity(int fd, uint64_t offset, uint64_t size, char ret_id[64], char ret_version[64],
                            struct ingot_error *err);
