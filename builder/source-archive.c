/* source-archive.c: any archive libarchive reads (tar, cpio; gzip, xz, zstd ...) as a source (source.h):
 * its members one at a time, each member's data streamed as it comes; nothing is extracted to disk. */
#include <archive.h>
#include <archive_entry.h>
#include <poll.h>
#include <string.h>

#include "source.h"

#define READ_BLOCK (256 * 1024)

struct archive_source {
        struct source source;
        struct archive *archive;
        bool opened;
        const volatile sig_atomic_t *cancel;
        int fd;
        bool started; /* read() returned data */
        bool ended;   /* read() said end of file */
        /* the current entry */
        struct source_entry entry;
        char *path, *hardlink;
        struct xattr *xattrs;
        size_t n_xattrs;
        uint64_t pos; /* where its data reached */
        char buffer[READ_BLOCK];
};

static bool cancelled(const struct archive_source *a) {
        return a->cancel && *a->cancel;
}

/* A pipe may stay silent for a long time (mmdebstrap downloads before it writes), and a signal that
 * comes just before read() does not interrupt it: wait in poll() and look at the cancel flag at
 * least every 100 ms. A regular file is always readable, so this costs it one system call. */
static la_ssize_t fd_read(struct archive *a, void *userdata, const void **ret_buffer) {
        struct archive_source *s = userdata;
        for (;;) {
                if (cancelled(s)) {
                        archive_set_error(a, ECANCELED, "interrupted");
                        return -1;
                }
                struct pollfd p = { .fd = s->fd, .events = POLLIN };
                int ready = poll(&p, 1, 100);
                if (ready == 0 || (ready < 0 && errno == EINTR))
                        continue;
                ssize_t n = ready < 0 ? -1 : read(s->fd, s->buffer, sizeof(s->buffer));
                if (n >= 0) {
                        s->started = s->started || n > 0;
                        s->ended = n == 0;
                        *ret_buffer = s->buffer;
                        return n;
                }
                if (errno == EINTR)
                        continue;
                archive_set_error(a, errno, "read error: %s", strerror(errno));
                return -1;
        }
}

static int cancel_error(struct ingot_error *err) {
        return error_set(err, -ECANCELED, "interrupted");
}

/* Member names become image paths: "./a/b", "a/b" and "/a/b" all name /a/b, but ".." never passes. */
static int member_path(const char *display, const char *name, char **ret, struct ingot_error *err) {
        int r = image_path_normalize(name, ret);
        if (r == -EXDEV)
                return error_set(err, -EXDEV, "%s: member '%s' contains '..' and would escape the image root",
                                 display, name);
        if (r == -ENAMETOOLONG)
                return error_set(err, r, "%s: member '%.64s...' has a name longer than %d bytes, which squashfs "
                                 "cannot store", display, name, IMAGE_NAME_MAX);
        return r;
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

static void entry_clear(struct archive_source *s) {
        free(s->path);
        free(s->hardlink);
        s->path = s->hardlink = NULL;
        xattr_list_free(&s->xattrs, &s->n_xattrs);
        s->pos = 0;
        s->entry = (struct source_entry) { 0 };
}

static int read_xattrs(struct archive_source *s, struct archive_entry *e) {
        archive_entry_xattr_reset(e);
        const char *key;
        const void *value;
        size_t size;
        while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK) {
                int r = xattr_list_add(&s->xattrs, &s->n_xattrs, key, value, size);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int open_archive(struct archive_source *s, struct ingot_error *err) {
        s->opened = true;
        archive_read_support_filter_all(s->archive);
        archive_read_support_format_all(s->archive);
        if (archive_read_open(s->archive, s, NULL, fd_read, NULL) == ARCHIVE_OK)
                return 0;
        if (cancelled(s))
                return cancel_error(err);
        return error_set(err, -EBADMSG, "%s: not an archive libarchive can read: %s", s->source.display,
                         archive_error_string(s->archive) ?: "unknown format");
}

static int archive_next(struct source *source, const struct source_entry **ret, struct ingot_error *err) {
        struct archive_source *s = (struct archive_source *) source;
        const char *display = source->display;
        entry_clear(s);
        int r = s->opened ? 0 : open_archive(s, err);
        if (r < 0)
                return r;
        struct archive_entry *e;
        int ar = archive_read_next_header(s->archive, &e);
        if (ar == ARCHIVE_EOF)
                return 0;
        if (ar < ARCHIVE_WARN)
                return cancelled(s) ? cancel_error(err)
                                    : error_set(err, -EBADMSG, "%s: %s", display,
                                                archive_error_string(s->archive) ?: "corrupt archive");
        const char *name = archive_entry_pathname_utf8(e) ?: archive_entry_pathname(e);
        if (!name || !*name)
                return error_set(err, -EBADMSG, "%s: member without a name", display);
        if ((r = member_path(display, name, &s->path, err)) < 0)
                return r;
        const char *hardlink = archive_entry_hardlink_utf8(e) ?: archive_entry_hardlink(e);
        mode_t type = entry_type(e);
        if (!type && !hardlink)
                return error_set(err, -EBADMSG, "%s: member '%s' has an unknown file type", display, name);
        if (hardlink && (r = member_path(display, hardlink, &s->hardlink, err)) < 0)
                return r;
        if ((r = read_xattrs(s, e)) < 0)
                return r;
        s->entry = (struct source_entry) {
                .name = name,
                .path = s->path,
                .hardlink = s->hardlink,
                .mode = type | (archive_entry_perm(e) & 07777),
                .uid = (uint32_t) archive_entry_uid(e),
                .gid = (uint32_t) archive_entry_gid(e),
                .mtime = archive_entry_mtime(e),
                .size = archive_entry_size_is_set(e) ? (uint64_t) archive_entry_size(e) : 0,
                .symlink = archive_entry_symlink_utf8(e) ?: archive_entry_symlink(e),
                .rdev_major = (unsigned) archive_entry_rdevmajor(e),
                .rdev_minor = (unsigned) archive_entry_rdevminor(e),
                .xattrs = s->xattrs,
                .n_xattrs = s->n_xattrs,
        };
        *ret = &s->entry;
        return 1;
}

static int archive_read(struct source *source, const void **ret_data, size_t *ret_size, uint64_t *ret_offset,
                        struct ingot_error *err) {
        struct archive_source *s = (struct archive_source *) source;
        const void *buf;
        size_t len;
        la_int64_t offset;
        int ar = archive_read_data_block(s->archive, &buf, &len, &offset);
        if (ar == ARCHIVE_EOF)
                return 0;
        if (ar < ARCHIVE_WARN)
                return cancelled(s) ? cancel_error(err)
                                    : error_set(err, -EIO, "%s: reading data of '%s': %s", source->display,
                                                s->path, archive_error_string(s->archive) ?: "unknown error");
        if (offset < 0 || (uint64_t) offset < s->pos || (uint64_t) offset + len > s->entry.size)
                return error_set(err, -EBADMSG, "%s: data of '%s' lies outside its %llu bytes", source->display,
                                 s->path, (unsigned long long) s->entry.size);
        s->pos = (uint64_t) offset + len;
        *ret_data = buf;
        *ret_size = len;
        *ret_offset = (uint64_t) offset;
        return 1;
}

static int archive_close(struct source *source, int result, const struct ingot_error *result_err,
                         struct ingot_error *err) {
        struct archive_source *s = (struct archive_source *) source;
        entry_clear(s);
        archive_read_close(s->archive);
        archive_read_free(s->archive);
        free(s);
        return source_result(result, result_err, err);
}

int source_archive_open(int fd, const char *display, const volatile sig_atomic_t *cancel, struct source **ret) {
        struct archive_source *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->archive = archive_read_new();
        if (!s->archive) {
                free(s);
                return -ENOMEM;
        }
        s->source = (struct source) { .display = display, .next = archive_next, .read = archive_read,
                                      .close = archive_close };
        s->fd = fd;
        s->cancel = cancel;
        *ret = &s->source;
        return 0;
}

void source_archive_stream_state(const struct source *source, bool *ret_started, bool *ret_ended) {
        const struct archive_source *s = (const struct archive_source *) source;
        *ret_started = s->started;
        *ret_ended = s->ended;
}
