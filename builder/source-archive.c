/* source-archive.c: any archive libarchive reads (tar, cpio; gzip, xz, zstd ...) streamed into the
 * image tree; file data goes straight to the squashfs writer, nothing is extracted to disk. */
#include <archive.h>
#include <archive_entry.h>
#include <poll.h>
#include <string.h>

#include "build.h"

#define READ_BLOCK (256 * 1024)

struct fd_reader {
        struct build *b;
        int fd;
        bool started; /* read() returned data */
        bool ended;   /* read() said end of file */
        char buffer[READ_BLOCK];
};

/* A pipe may stay silent for a long time (mmdebstrap downloads before it writes), and a signal that
 * comes just before read() does not interrupt it: wait in poll() and look at the cancel flag at
 * least every 100 ms. A regular file is always readable, so this costs it one system call. */
static la_ssize_t fd_read(struct archive *a, void *userdata, const void **ret_buffer) {
        struct fd_reader *rd = userdata;
        for (;;) {
                if (build_cancelled(rd->b)) {
                        archive_set_error(a, ECANCELED, "interrupted");
                        return -1;
                }
                struct pollfd p = { .fd = rd->fd, .events = POLLIN };
                int ready = poll(&p, 1, 100);
                if (ready == 0 || (ready < 0 && errno == EINTR))
                        continue;
                ssize_t n = ready < 0 ? -1 : read(rd->fd, rd->buffer, sizeof(rd->buffer));
                if (n >= 0) {
                        rd->started = rd->started || n > 0;
                        rd->ended = n == 0;
                        *ret_buffer = rd->buffer;
                        return n;
                }
                if (errno == EINTR)
                        continue;
                archive_set_error(a, errno, "read error: %s", strerror(errno));
                return -1;
        }
}

static void archive_freep(struct archive **a) {
        if (*a)
                archive_read_free(*a);
}

/* Member names become image paths: "./a/b", "a/b" and "/a/b" all name /a/b, but ".." never passes. */
static int member_path(struct build *b, const char *display, const char *name, char **ret) {
        int r = image_path_normalize(name, ret);
        if (r == -EXDEV)
                return error_set(b->err, -EXDEV, "%s: member '%s' contains '..' and would escape the image root",
                                 display, name);
        if (r == -ENAMETOOLONG)
                return error_set(b->err, r, "%s: member '%.64s...' has a name longer than %d bytes, which squashfs "
                                 "cannot store", display, name, IMAGE_NAME_MAX);
        return r;
}

static int read_data(struct build *b, struct archive *a, struct node *n, const char *display, const char *path,
                     uint64_t size) {
        int r = squashfs_writer_begin_file(b->writer, n);
        if (r < 0)
                return build_write_error(b, r, path);
        uint64_t pos = 0;
        for (;;) {
                if (build_cancelled(b))
                        return build_cancel_error(b);
                const void *buf;
                size_t len;
                la_int64_t offset;
                int ar = archive_read_data_block(a, &buf, &len, &offset);
                if (ar == ARCHIVE_EOF)
                        break;
                if (ar < ARCHIVE_WARN)
                        return error_set(b->err, -EIO, "%s: reading data of '%s': %s", display, path,
                                         archive_error_string(a) ?: "unknown error");
                if ((uint64_t) offset < pos || (uint64_t) offset + len > size)
                        return error_set(b->err, -EBADMSG, "%s: data of '%s' lies outside its %llu bytes", display,
                                         path, (unsigned long long) size);
                r = squashfs_writer_append_zeros(b->writer, (uint64_t) offset - pos); /* a hole */
                if (r < 0)
                        goto write_fail;
                r = squashfs_writer_append(b->writer, buf, len);
                if (r < 0)
                        goto write_fail;
                pos = (uint64_t) offset + len;
                build_report(b, 0, len);
        }
        r = squashfs_writer_append_zeros(b->writer, size - pos); /* a trailing hole */
        if (r >= 0)
                r = squashfs_writer_end_file(b->writer);
        if (r < 0)
                goto write_fail;
        build_file_written(b, n, size);
        return 0;
write_fail:
        return build_write_error(b, r, path);
}

static int read_memory(struct build *b, struct archive *a, struct node *n, const char *display, const char *path,
                       uint64_t size) {
        if (size > CAPTURE_MAX)
                return error_set(b->err, -EFBIG, "%s: '%s' is larger than %u MiB", display, path, CAPTURE_MAX >> 20);
        char *m = malloc(size + 1);
        if (!m)
                return -ENOMEM;
        la_ssize_t got = archive_read_data(a, m, size);
        if (got < 0 || (uint64_t) got != size) {
                free(m);
                return error_set(b->err, -EIO, "%s: reading data of '%s': %s", display, path,
                                 archive_error_string(a) ?: "short read");
        }
        m[size] = 0;
        free(n->memory);
        n->memory = m;
        n->size = size;
        n->data = DATA_MEMORY;
        return 0;
}

static mode_t entry_type(struct archive_entry *e) {
        switch (archive_entry_filetype(e)) {
        case AE_IFREG:
                return S_IFREG;
        case AE_IFDIR:
                return S_IFDIR;
        case AE_IFLNK:
                return S_IFLNK;
        case AE_IFCHR:
                return S_IFCHR;
        case AE_IFBLK:
                return S_IFBLK;
        case AE_IFIFO:
                return S_IFIFO;
        case AE_IFSOCK:
                return S_IFSOCK;
        default:
                return 0;
        }
}

static int add_entry(struct build *b, struct archive *a, struct archive_entry *e, const char *display) {
        const char *name = archive_entry_pathname_utf8(e) ?: archive_entry_pathname(e);
        if (!name || !*name)
                return error_set(b->err, -EBADMSG, "%s: member without a name", display);
        _cleanup_free_ char *path = NULL;
        int r = member_path(b, display, name, &path);
        if (r < 0)
                return r;

        const char *hardlink = archive_entry_hardlink_utf8(e) ?: archive_entry_hardlink(e);
        mode_t type = entry_type(e);
        if (!type && !hardlink)
                return error_set(b->err, -EBADMSG, "%s: member '%s' has an unknown file type", display, name);

        if (build_shadowed(b, path, type))
                return build_skip(b, path);
        /* mmdebstrap always puts device nodes in /dev; with AllowDevices=no they are left out (devtmpfs
         * gives a booted host its /dev), and a device anywhere else is still an error */
        if ((type == S_IFCHR || type == S_IFBLK) && b->recipe->devices_forbidden_where &&
            b->recipe->base == BASE_DEBIAN && strncmp(path, "/dev/", 5) == 0)
                return 0;

        struct node *n;
        _cleanup_free_ char *conflict = NULL;
        if (hardlink) {
                _cleanup_free_ char *target_path = NULL;
                r = member_path(b, display, hardlink, &target_path);
                if (r < 0)
                        return r;
                struct node *target = tree_lookup(b->tree, target_path);
                if (!target || S_ISDIR(target->mode)) {
                        if (build_shadowed(b, target_path, S_IFREG))
                                return error_set(b->err, -ENOENT,
                                                 "%s: '%s' is a hard link to '%s', which a content operation removes; "
                                                 "remove both or neither",
                                                 display, path, target_path);
                        return error_set(b->err, -ENOENT, "%s: hard link '%s' points to '%s', which is not in the archive",
                                         display, path, target_path);
                }
                target = node_inode(target);
                r = tree_put(b->tree, path, target->mode, 0, &n, &conflict);
                if (r == -EEXIST)
                        return error_set(b->err, r, "%s: duplicate path '%s'", display, path);
                if (r < 0)
                        goto put_fail;
                n->link = target;
                /* cpio carries the data on the last name of an inode */
                uint64_t size = archive_entry_size_is_set(e) ? (uint64_t) archive_entry_size(e) : 0;
                if (size > 0 && S_ISREG(target->mode) && target->data == DATA_NONE)
                        return read_data(b, a, target, display, path, size);
                return 0;
        }

        mode_t mode = type | (archive_entry_perm(e) & 07777);
        r = tree_put(b->tree, path, mode, 0, &n, &conflict);
        if (r == -EEXIST)
                return error_set(b->err, r, "%s: duplicate path '%s'", display, path);
        if (r < 0)
                goto put_fail;
        n->mode = mode;
        n->uid = (uint32_t) archive_entry_uid(e);
        n->gid = (uint32_t) archive_entry_gid(e);
        n->mtime = build_clamp_mtime(b, archive_entry_mtime(e));

        node_clear_xattrs(n);
        archive_entry_xattr_reset(e);
        const char *key;
        const void *value;
        size_t size;
        while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK) {
                r = node_add_xattr(n, key, value, size);
                if (r < 0)
                        return r;
        }

        switch (type) {
        case S_IFLNK: {
                const char *target = archive_entry_symlink_utf8(e) ?: archive_entry_symlink(e);
                if (!target || !*target)
                        return error_set(b->err, -EBADMSG, "%s: symlink '%s' has no target", display, path);
                n->symlink_target = strdup(target);
                return n->symlink_target ? 0 : -ENOMEM;
        }
        case S_IFCHR:
        case S_IFBLK: {
                if (b->recipe->devices_forbidden_where)
                        return error_set(b->err, -EPERM, "%s: member '%s' is a %s device (%u:%u), and %s forbids devices",
                                         display, name, type == S_IFCHR ? "character" : "block",
                                         (unsigned) archive_entry_rdevmajor(e), (unsigned) archive_entry_rdevminor(e),
                                         b->recipe->devices_forbidden_where);
                unsigned maj = (unsigned) archive_entry_rdevmajor(e), min = (unsigned) archive_entry_rdevminor(e);
                n->devno = (min & 0xff) | (maj << 8) | ((min & ~0xffu) << 12);
                return 0;
        }
        case S_IFREG: {
                uint64_t fsize = archive_entry_size_is_set(e) ? (uint64_t) archive_entry_size(e) : 0;
                if (build_captures(b, path))
                        return read_memory(b, a, n, display, path, fsize);
                if (fsize == 0) /* possibly a cpio hard link whose data comes later */
                        return 0;
                return read_data(b, a, n, display, path, fsize);
        }
        default:
                return 0;
        }

put_fail:
        return error_set(b->err, r, "%s: cannot add '%s': %s%s%s", display, path,
                         r == -ENOTDIR ? "a parent is not a directory" : strerror(-r), conflict ? ": " : "",
                         conflict ?: "");
}

int source_archive_add(struct build *b, int fd, const char *display) {
        return source_archive_add_stream(b, fd, display, NULL);
}

int source_archive_add_stream(struct build *b, int fd, const char *display, struct stream_state *ret_state) {
        if (ret_state)
                *ret_state = (struct stream_state) { 0 };
        _cleanup_(archive_freep) struct archive *a = archive_read_new();
        if (!a)
                return -ENOMEM;
        archive_read_support_filter_all(a);
        archive_read_support_format_all(a);
        struct fd_reader *rd = malloc(sizeof(*rd));
        if (!rd)
                return -ENOMEM;
        rd->b = b;
        rd->fd = fd;
        rd->started = rd->ended = false;
        int ar = archive_read_open(a, rd, NULL, fd_read, NULL);
        if (ar != ARCHIVE_OK) {
                if (ret_state)
                        *ret_state = (struct stream_state) { .started = rd->started, .ended = rd->ended };
                free(rd);
                if (build_cancelled(b))
                        return build_cancel_error(b);
                return error_set(b->err, -EBADMSG, "%s: not an archive libarchive can read: %s", display,
                                 archive_error_string(a) ?: "unknown format");
        }

        int r = 0;
        for (;;) {
                struct archive_entry *e;
                ar = archive_read_next_header(a, &e);
                if (ar == ARCHIVE_EOF)
                        break;
                if (ar < ARCHIVE_WARN) {
                        r = build_cancelled(b) ? build_cancel_error(b)
                                               : error_set(b->err, -EBADMSG, "%s: %s", display,
                                                           archive_error_string(a) ?: "corrupt archive");
                        break;
                }
                r = add_entry(b, a, e, display);
                if (r < 0)
                        break;
        }
        archive_read_close(a);
        if (ret_state)
                *ret_state = (struct stream_state) { .started = rd->started, .ended = rd->ended };
        free(rd);
        return r;
}
