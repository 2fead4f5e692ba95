/* squashfs-read.c: a squashfs image over a region of an fd through libsquashfs's directory and data
 * readers: one file, one path's type, every path; and the image identity from its os-release. */
#include <sqfs/compressor.h>
#include <sqfs/data_reader.h>
#include <sqfs/dir.h>
#include <sqfs/dir_reader.h>
#include <sqfs/error.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/super.h>
#include <string.h>
#include <sys/stat.h>

#include "squashfs-read.h"
#include "squashfs.h" /* sqfs_freep */
#include "verity.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(sqfs_tree_node_t *, sqfs_dir_tree_destroy);

struct region_file {
        sqfs_file_t base;
        int fd;
        uint64_t offset, size;
        /* verified reads: each data block checked against the tree; the last one kept */
        const struct verity_tree *tree;
        uint8_t *block;
        uint64_t block_index; /* UINT64_MAX: none */
        struct ingot_error error; /* the first block that did not match */
};

static int verified_read_at(struct region_file *f, uint64_t offset, void *buffer, size_t size) {
        uint64_t bs = verity_tree_info(f->tree)->data_block_size;
        while (size > 0) {
                uint64_t b = offset / bs, in = offset % bs;
                if (b != f->block_index) {
                        f->block_index = UINT64_MAX;
                        if (pread_full(f->fd, f->block, bs, f->offset + b * bs) < 0)
                                return SQFS_ERROR_IO;
                        struct ingot_error e = { 0 };
                        if (verity_tree_check_blocks(f->tree, b, f->block, 1, &e) < 0) {
                                if (!f->error.code)
                                        f->error = e;
                                return SQFS_ERROR_CORRUPTED;
                        }
                        f->block_index = b;
                }
                size_t n = bs - in < size ? (size_t) (bs - in) : size;
                memcpy(buffer, f->block + in, n);
                buffer = (char *) buffer + n;
                size -= n;
                offset += n;
        }
        return 0;
}

static int region_read_at(sqfs_file_t *base, sqfs_u64 offset, void *buffer, size_t size) {
        struct region_file *f = (struct region_file *) base;
        if (offset > f->size || size > f->size - offset)
                return SQFS_ERROR_OUT_OF_BOUNDS;
        if (f->tree)
                return verified_read_at(f, offset, buffer, size);
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

struct squashfs_reader {
        struct region_file file;
        sqfs_super_t super;
        sqfs_compressor_t *cmp;
        sqfs_dir_reader_t *dr;
        sqfs_data_reader_t *data;
        sqfs_id_table_t *ids;
};

void squashfs_reader_free(struct squashfs_reader *rd) {
        if (!rd)
                return;
        sqfs_destroy(rd->ids);
        sqfs_destroy(rd->data);
        sqfs_destroy(rd->dr);
        sqfs_destroy(rd->cmp);
        free(rd->file.block);
        free(rd);
}

/* A failed read of a verified image: the block that did not match, else what libsquashfs made of it. */
static int read_error(struct squashfs_reader *rd, struct ingot_error *err, const char *path, const char *what) {
        if (rd->file.error.code)
                return error_set(err, rd->file.error.code, "%s", rd->file.error.message);
        return error_set(err, -EBADMSG, "%s%s%s", path ?: "", path ? ": " : "", what);
}

/* The compressor, the directory and data readers and the fragment and id tables the superblock names;
 * -EBADMSG when any of them cannot be made or read. */
static int tables_load(struct squashfs_reader *rd) {
        sqfs_compressor_config_t cfg;
        if (sqfs_compressor_config_init(&cfg, (SQFS_COMPRESSOR) rd->super.compression_id, rd->super.block_size,
                                        SQFS_COMP_FLAG_UNCOMPRESS) != 0)
                return -EBADMSG;
        if (sqfs_compressor_create(&cfg, &rd->cmp) != 0)
                return -EBADMSG;
        rd->dr = sqfs_dir_reader_create(&rd->super, rd->cmp, &rd->file.base, 0);
        if (!rd->dr)
                return -EBADMSG;
        rd->data = sqfs_data_reader_create(&rd->file.base, rd->super.block_size, rd->cmp, 0);
        if (!rd->data)
                return -EBADMSG;
        if (sqfs_data_reader_load_fragment_table(rd->data, &rd->super) != 0)
                return -EBADMSG;
        rd->ids = sqfs_id_table_create(0);
        if (!rd->ids)
                return -EBADMSG;
        if (sqfs_id_table_read(rd->ids, &rd->file.base, &rd->super, rd->cmp) != 0)
                return -EBADMSG;
        return 0;
}

static int reader_open(int fd, uint64_t offset, uint64_t size, const struct verity_tree *tree,
                       struct squashfs_reader **ret, struct ingot_error *err) {
        if (size == 0 && !tree) {
                struct stat st;
                if (fstat(fd, &st) < 0)
                        return -errno;
                size = (uint64_t) st.st_size > offset ? (uint64_t) st.st_size - offset : 0;
        }
        _cleanup_(squashfs_reader_freep) struct squashfs_reader *rd = calloc(1, sizeof(*rd));
        if (!rd)
                return -ENOMEM;
        rd->file = (struct region_file) {
                .base = { .base = { .destroy = region_destroy },
                          .read_at = region_read_at, .write_at = region_write_at,
                          .get_size = region_get_size, .truncate = region_truncate },
                .fd = fd, .offset = offset, .size = size, .tree = tree, .block_index = UINT64_MAX,
        };
        if (tree) {
                const struct verity_info *vi = verity_tree_info(tree);
                rd->file.size = vi->data_blocks * vi->data_block_size;
                rd->file.block = malloc(vi->data_block_size);
                if (!rd->file.block)
                        return -ENOMEM;
        }
        size = rd->file.size;
        if (sqfs_super_read(&rd->super, &rd->file.base) != 0)
                return read_error(rd, err, NULL, "not a squashfs image");
        /* libsquashfs allocates the fragment table the superblock sizes before it reads it: 2^31 entries
         * were a 32 GiB allocation for a 485-byte file (fuzz/crashes/sysext-check/). Each entry names a
         * block of at least a byte, inside bytes_used, which is inside the region. */
        if (rd->super.bytes_used > size || rd->super.fragment_entry_count > rd->super.bytes_used)
                return error_set(err, -EBADMSG, "a damaged squashfs image (its superblock claims more than the %llu "
                                 "bytes there)", (unsigned long long) size);
        if (tables_load(rd) < 0)
                return read_error(rd, err, NULL, "a damaged squashfs image (superblock, compressor or tables)");
        *ret = TAKE_PTR(rd);
        return 0;
}

int squashfs_reader_open(int fd, uint64_t offset, uint64_t size, struct squashfs_reader **ret, struct ingot_error *err) {
        return reader_open(fd, offset, size, NULL, ret, err);
}

int squashfs_reader_open_verified(int fd, uint64_t offset, const struct verity_tree *tree,
                                  struct squashfs_reader **ret, struct ingot_error *err) {
        return reader_open(fd, offset, 0, tree, ret, err);
}

const struct sqfs_super_t *squashfs_reader_super(const struct squashfs_reader *rd) {
        return &rd->super;
}

/* The inode at path; -ENOENT when there is none. */
static int find_inode(struct squashfs_reader *rd, const char *path, sqfs_inode_generic_t **ret) {
        int q = sqfs_dir_reader_find_by_path(rd->dr, NULL, path, ret);
        return q == 0 ? 0 : q == SQFS_ERROR_NO_ENTRY || q == SQFS_ERROR_NOT_DIR ? -ENOENT : -EBADMSG;
}

int squashfs_reader_find(struct squashfs_reader *rd, const char *path, mode_t *ret_mode) {
        _cleanup_(sqfs_freep) sqfs_inode_generic_t *inode = NULL;
        int q = find_inode(rd, path, &inode);
        if (q < 0)
                return q;
        if (ret_mode)
                *ret_mode = inode->base.mode;
        return 0;
}

int squashfs_reader_list(struct squashfs_reader *rd, const char *path, char ***ret_names) {
        _cleanup_(sqfs_freep) sqfs_inode_generic_t *inode = NULL;
        int q = find_inode(rd, path, &inode);
        if (q < 0)
                return q;
        if (!S_ISDIR(inode->base.mode))
                return -ENOENT;
        if (sqfs_dir_reader_open_dir(rd->dr, inode, 0) != 0)
                return -EBADMSG;
        _cleanup_strv_free_ char **names = NULL;
        for (;;) {
                _cleanup_(sqfs_freep) sqfs_dir_entry_t *ent = NULL;
                q = sqfs_dir_reader_read(rd->dr, &ent);
                if (q < 0)
                        return -EBADMSG;
                if (q > 0)
                        break;
                char *name = strndup((const char *) ent->name, (size_t) ent->size + 1);
                if (!name)
                        return -ENOMEM;
                int r = strv_push(&names, name);
                if (r < 0)
                        return r;
        }
        *ret_names = TAKE_PTR(names);
        return 0;
}

int squashfs_reader_walk(struct squashfs_reader *rd, squashfs_visit_t visit, void *userdata, struct ingot_error *err) {
        _cleanup_(sqfs_dir_tree_destroyp) sqfs_tree_node_t *root = NULL;
        if (sqfs_dir_reader_get_full_hierarchy(rd->dr, rd->ids, NULL, 0, &root) != 0)
                return error_set(err, -EBADMSG, "a damaged squashfs image (directory table)");
        /* depth-first, without recursion: children first, then the next sibling of the nearest ancestor */
        for (sqfs_tree_node_t *n = root->children; n;) {
                _cleanup_(sqfs_freep) char *path = NULL;
                if (sqfs_tree_node_get_path(n, &path) != 0)
                        return error_set(err, -EBADMSG, "a damaged squashfs image (a bad name)");
                int r = visit(path, n->inode->base.mode, userdata);
                if (r < 0)
                        return r;
                if (n->children)
                        n = n->children;
                else {
                        while (n && n != root && !n->next)
                                n = n->parent;
                        n = n && n != root ? n->next : NULL;
                }
        }
        return 0;
}

int squashfs_reader_read_file(struct squashfs_reader *rd, const char *path, size_t max, char **ret,
                              struct ingot_error *err) {
        _cleanup_(sqfs_freep) sqfs_inode_generic_t *inode = NULL;
        int q = sqfs_dir_reader_find_by_path(rd->dr, NULL, path, &inode);
        if (q == SQFS_ERROR_NO_ENTRY)
                return error_set(err, -ENOENT, "%s: not in the image", path);
        if (q != 0)
                return read_error(rd, err, path, "cannot be read");
        sqfs_u64 fsize;
        if (!S_ISREG(inode->base.mode) || sqfs_inode_get_file_size(inode, &fsize) != 0 || fsize > max)
                return error_set(err, -EFBIG, "%s: not a regular file of at most %zu bytes", path, max);
        _cleanup_free_ char *buf = malloc((size_t) fsize + 1);
        if (!buf)
                return -ENOMEM;
        sqfs_s32 n = fsize ? sqfs_data_reader_read(rd->data, inode, 0, buf, (sqfs_u32) fsize) : 0;
        if (n < 0 || (sqfs_u64) n != fsize)
                return read_error(rd, err, path, "reading it from the image failed");
        buf[fsize] = 0;
        *ret = TAKE_PTR(buf);
        return 0;
}

int squashfs_read_file(int fd, uint64_t offset, uint64_t size, const char *path, size_t max, char **ret,
                       struct ingot_error *err) {
        _cleanup_(squashfs_reader_freep) struct squashfs_reader *rd = NULL;
        int r = squashfs_reader_open(fd, offset, size, &rd, err);
        if (r < 0)
                return r;
        return squashfs_reader_read_file(rd, path, max, ret, err);
}

void os_release_value(const char *text, const char *key, char out[64]) {
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

int squashfs_reader_identity(struct squashfs_reader *rd, char ret_id[64], char ret_version[64], struct ingot_error *err) {
        _cleanup_free_ char *text = NULL;
        *ret_id = *ret_version = 0;
        int r = squashfs_reader_read_file(rd, "usr/lib/os-release", 64 * 1024, &text, err);
        if (r < 0)
                return r;
        os_release_identity(text, ret_id, ret_version);
        return 0;
}

void os_release_identity(const char *text, char ret_id[64], char ret_version[64]) {
        *ret_id = *ret_version = 0;
        os_release_value(text, "ID", ret_id);
        os_release_value(text, "IMAGE_ID", ret_id);
        os_release_value(text, "VERSION_ID", ret_version);
        os_release_value(text, "IMAGE_VERSION", ret_version);
}

int squashfs_image_identity(int fd, uint64_t offset, uint64_t size, char ret_id[64], char ret_version[64],
                            struct ingot_error *err) {
        _cleanup_(squashfs_reader_freep) struct squashfs_reader *rd = NULL;
        *ret_id = *ret_version = 0;
        int r = squashfs_reader_open(fd, offset, size, &rd, err);
        if (r < 0)
                return r;
        return squashfs_reader_identity(rd, ret_id, ret_version, err);
}
