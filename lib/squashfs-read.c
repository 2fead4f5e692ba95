/* squashfs-read.c: one file out of a squashfs image through libsquashfs's directory and data readers,
 * over a region of an fd, and the image identity from its os-release. */
#include <sqfs/compressor.h>
#include <sqfs/data_reader.h>
#include <sqfs/dir_reader.h>
#include <sqfs/error.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/super.h>
#include <string.h>
#include <sys/stat.h>

#include "squashfs-read.h"

struct region_file {
        sqfs_file_t base;
        int fd;
        uint64_t offset, size;
};

static int region_read_at(sqfs_file_t *base, sqfs_u64 offset, void *buffer, size_t size) {
        struct region_file *f = (struct region_file *) base;
        if (offset > f->size || size > f->size - offset)
                return SQFS_ERROR_OUT_OF_BOUNDS;
        while (size > 0) {
                ssize_t n = pread(f->fd, buffer, size, (off_t) (f->offset + offset));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return SQFS_ERROR_IO;
                buffer = (char *) buffer + n;
                size -= (size_t) n;
                offset += (uint64_t) n;
        }
        return 0;
}

static int region_write_at(sqfs_file_t *base, sqfs_u64 offset, const void *buffer, size_t size) {
        (void) base, (void) offset, (void) buffer, (void) size;
        return SQFS_ERROR_UNSUPPORTED;
}

static sqfs_u64 region_get_size(const sqfs_file_t *base) {
        return ((const struct region_file *) base)->size;
}

static int region_truncate(sqfs_file_t *base, sqfs_u64 size) {
        (void) base, (void) size;
        return SQFS_ERROR_UNSUPPORTED;
}

static void region_destroy(sqfs_object_t *obj) {
        (void) obj; /* on the stack */
}

int squashfs_read_file(int fd, uint64_t offset, uint64_t size, const char *path, size_t max, char **ret,
                       struct ingot_error *err) {
        if (size == 0) {
                struct stat st;
                if (fstat(fd, &st) < 0)
                        return -errno;
                size = (uint64_t) st.st_size > offset ? (uint64_t) st.st_size - offset : 0;
        }
        struct region_file f = {
                .base = { .base = { .destroy = region_destroy },
                          .read_at = region_read_at, .write_at = region_write_at,
                          .get_size = region_get_size, .truncate = region_truncate },
                .fd = fd, .offset = offset, .size = size,
        };
        sqfs_super_t super;
        sqfs_compressor_config_t cfg;
        sqfs_compressor_t *cmp = NULL;
        sqfs_dir_reader_t *dr = NULL;
        sqfs_data_reader_t *data = NULL;
        sqfs_inode_generic_t *inode = NULL;
        char *buf = NULL;
        int r = 0;
        if (sqfs_super_read(&super, &f.base) != 0) {
                r = error_set(err, -EBADMSG, "not a squashfs image");
                goto out;
        }
        if (sqfs_compressor_config_init(&cfg, (SQFS_COMPRESSOR) super.compression_id, super.block_size,
                                        SQFS_COMP_FLAG_UNCOMPRESS) != 0 ||
            sqfs_compressor_create(&cfg, &cmp) != 0 || !(dr = sqfs_dir_reader_create(&super, cmp, &f.base, 0)) ||
            !(data = sqfs_data_reader_create(&f.base, super.block_size, cmp, 0)) ||
            sqfs_data_reader_load_fragment_table(data, &super) != 0) {
                r = error_set(err, -EBADMSG, "a damaged squashfs image (superblock, compressor or tables)");
                goto out;
        }
        int q = sqfs_dir_reader_find_by_path(dr, NULL, path, &inode);
        if (q != 0) {
                r = error_set(err, q == SQFS_ERROR_NO_ENTRY ? -ENOENT : -EBADMSG, "%s: %s", path,
                              q == SQFS_ERROR_NO_ENTRY ? "not in the image" : "cannot be read");
                goto out;
        }
        sqfs_u64 fsize;
        if (sqfs_inode_get_file_size(inode, &fsize) != 0 || fsize > max) {
                r = error_set(err, -EFBIG, "%s: not a regular file of at most %zu bytes", path, max);
                goto out;
        }
        buf = malloc((size_t) fsize + 1);
        if (!buf) {
                r = -ENOMEM;
                goto out;
        }
        sqfs_s32 n = fsize ? sqfs_data_reader_read(data, inode, 0, buf, (sqfs_u32) fsize) : 0;
        if (n < 0 || (sqfs_u64) n != fsize) {
                r = error_set(err, -EBADMSG, "%s: reading it from the image failed", path);
                goto out;
        }
        buf[fsize] = 0;
        *ret = TAKE_PTR(buf);
out:
        free(buf);
        sqfs_free(inode);
        sqfs_destroy(data);
        sqfs_destroy(dr);
        sqfs_destroy(cmp);
        return r;
}

static void field(const char *text, const char *key, char out[64]) {
        size_t kl = strlen(key);
        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                if (strncmp(l, key, kl) != 0 || l[kl] != '=')
                        continue;
                const char *v = l + kl + 1;
                size_t n = strcspn(v, "\n");
                if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0])
                        v++, n -= 2;
                snprintf(out, 64, "%.*s", (int) (n < 63 ? n : 63), v);
                return;
        }
}

int squashfs_image_identity(int fd, uint64_t offset, uint64_t size, char ret_id[64], char ret_version[64],
                            struct ingot_error *err) {
        _cleanup_free_ char *text = NULL;
        *ret_id = *ret_version = 0;
        int r = squashfs_read_file(fd, offset, size, "usr/lib/os-release", 64 * 1024, &text, err);
        if (r < 0)
                return r;
        field(text, "ID", ret_id);
        field(text, "IMAGE_ID", ret_id);
        field(text, "VERSION_ID", ret_version);
        field(text, "IMAGE_VERSION", ret_version);
        return 0;
}
