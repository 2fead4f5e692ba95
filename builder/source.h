/* source.h: what a base (or a Copy=) brings, one entry at a time, in the manner of squashfs-tools-ng's
 * sqfs_dir_iterator_t: the next entry, its data, the end. A source never sees the tree, the writer or the
 * build: pipeline.c's loop (pipeline_take) puts each entry in the tree and streams its data to the sink. */
#pragma once

#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "recipe.h"
#include "tree.h"

struct source_entry {
        const char *name;     /* as the source spells it (a member's name, a path below the root), for messages */
        const char *path;     /* the canonical image path */
        const char *hardlink; /* another name of an earlier entry (its canonical image path), or NULL */
        uint32_t nlink;       /* how many names the source knows its inode has; 0: it cannot tell */
        mode_t mode;          /* type and permissions */
        uint32_t uid, gid;
        int64_t mtime;        /* as the source has it: the loop clamps it */
        uint64_t size;        /* data bytes: a regular file's, or a hard link's that carries the data (cpio) */
        const char *symlink;  /* a symlink's target; NULL or "" when the source has none */
        unsigned rdev_major, rdev_minor;
        const struct xattr *xattrs;
        size_t n_xattrs;
};

struct source {
        const char *display; /* names the source in messages */
        /* 1 and *ret, valid until the next call: the next entry; 0: the end; < 0: an error, said in err */
        int (*next)(struct source *s, const struct source_entry **ret, struct ingot_error *err);
        /* The current entry's data in order: 1 and an extent of *ret_size bytes at *ret_offset (what lies
         * between extents, and after the last, is a hole); 0 at its end; < 0: an error, said in err. */
        int (*read)(struct source *s, const void **ret_data, size_t *ret_size, uint64_t *ret_offset,
                    struct ingot_error *err);
        /* After next() gave a directory: its entries are not wanted. NULL: the source gives them anyway. */
        void (*ignore_subdir)(struct source *s);
        /* Ends and frees the source once the loop ended with result (0, or an error said in result_err),
         * and gives the build's result: a source that knows a better cause (mmdebstrap's failure, which cut
         * the stream) says that in err instead. */
        int (*close)(struct source *s, int result, const struct ingot_error *result_err, struct ingot_error *err);
};

/* For close(): the build's result (0, or result said in result_err) into err. */
static inline int source_result(int result, const struct ingot_error *result_err, struct ingot_error *err) {
        if (result < 0)
                return error_set(err, result, "%s", result_err->code ? result_err->message : strerror(-result));
        return 0;
}

/* source-dir.c: the host directory host_root (or file) at image_root and all below it. With seen, the root
 * is a file scanned earlier, opened again for its data only (no xattrs), which is refused when the file is
 * no longer as seen says. */
enum {
        SOURCE_DIR_SHAPE = 1 << 0, /* paths and types only: no xattrs, no symlink targets, no data */
};
int source_dir_open(const char *host_root, const char *image_root, const struct stat *seen, unsigned flags,
                    struct source **ret);
/* The current entry's host path and what lstat() said of it, valid until the next call. */
void source_dir_entry_host(const struct source *s, const char **ret_path, const struct stat **ret_stat);

/* source-archive.c: any archive libarchive reads (tar, cpio; any filter) from fd, a file or a pipe, which
 * stays the caller's; waiting for data, it looks at *cancel at least every 100 ms. Nothing is read
 * before the first next(). */
int source_archive_open(int fd, const char *display, const volatile sig_atomic_t *cancel, struct source **ret);
/* Whether data came from fd, and whether it was read to its end of file. */
void source_archive_stream_state(const struct source *s, bool *ret_started, bool *ret_ended);

/* source-debian.c: recipe r's Debian= base from mmdebstrap's tar stream, its file times and dates from
 * source_date_epoch (-1: none); closing it stops or waits for mmdebstrap and reports its failure. */
int source_debian_open(const struct ingot_recipe *r, int64_t source_date_epoch, const volatile sig_atomic_t *cancel,
                       struct source **ret, struct ingot_error *err);
