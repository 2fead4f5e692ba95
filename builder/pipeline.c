/* pipeline.c: the loop that takes a source's entries (source.h) into the image tree and their data into
 * the squashfs sink: what later operations shadow is left out, captured files go to memory, every mtime
 * is clamped, and progress and cancellation are looked after here, not in the sources. Data that waited
 * for the tree to be final (Copy=, Binaries=) goes to the sink the same way. */
#include <string.h>

#include "content.h"
#include "os-release.h"
#include "pipeline.h"
#include "source.h"

/* The data of entry e into n: extents as they come, holes as zeros (the writer stores them sparse). */
static int take_data(struct build *b, struct source *s, const struct source_entry *e, struct node *n,
                     struct ingot_error *err) {
        int r = squashfs_writer_begin_file(b->writer, n);
        if (r < 0)
                return build_write_error(err, r, e->path);
        uint64_t pos = 0;
        for (;;) {
                if (build_cancelled(b))
                        return build_cancel_error(err);
                const void *data;
                size_t size;
                uint64_t offset;
                r = s->read(s, &data, &size, &offset, err);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                r = squashfs_writer_append_zeros(b->writer, offset - pos);
                if (r < 0)
                        return build_write_error(err, r, e->path);
                r = squashfs_writer_append(b->writer, data, size);
                if (r < 0)
                        return build_write_error(err, r, e->path);
                pos = offset + size;
                build_report(b, 0, size);
        }
        r = squashfs_writer_append_zeros(b->writer, e->size - pos); /* a trailing hole */
        if (r < 0)
                return build_write_error(err, r, e->path);
        r = squashfs_writer_end_file(b->writer);
        if (r < 0)
                return build_write_error(err, r, e->path);
        build_file_written(b, n, e->size);
        return 0;
}

/* A captured file (os-release, the dpkg status) into memory, at most CAPTURE_MAX bytes. */
static int take_memory(struct source *s, const struct source_entry *e, struct node *n, struct ingot_error *err) {
        if (e->size > CAPTURE_MAX)
                return error_set(err, -EFBIG, "%s: '%s' is larger than %u MiB", s->display, e->path,
                                 CAPTURE_MAX >> 20);
        _cleanup_free_ char *m = calloc(1, e->size + 1);
        if (!m)
                return -ENOMEM;
        int r;
        const void *data;
        size_t size;
        uint64_t offset;
        while ((r = s->read(s, &data, &size, &offset, err)) > 0)
                memcpy(m + offset, data, size);
        if (r < 0)
                return r;
        free(n->memory);
        n->memory = TAKE_PTR(m);
        n->size = e->size;
        n->data = DATA_MEMORY;
        return 0;
}

static int take_entry(struct build *b, struct source *s, const struct source_entry *e, void *userdata,
                      struct ingot_error *err) {
        (void) userdata;
        const char *display = s->display, *path = e->path;
        mode_t type = e->mode & S_IFMT;
        /* What a content operation removes or replaces is left out, and what is below it; unless it has other
         * names: then the operations run on it, and a surviving name inherits it. */
        if (content_shadowed(b, path, type) && (type == S_IFDIR || e->nlink <= 1)) {
                if (type == S_IFDIR && s->ignore_subdir)
                        s->ignore_subdir(s);
                return content_skip(b, path);
        }
        /* mmdebstrap always puts device nodes in /dev; with AllowDevices=no they are left out (devtmpfs
         * gives a booted host its /dev), and a device anywhere else is still an error */
        if ((type == S_IFCHR || type == S_IFBLK) && b->recipe->devices_forbidden_where &&
            b->recipe->base == BASE_DEBIAN && strncmp(path, "/dev/", 5) == 0)
                return 0;

        struct node *n;
        _cleanup_free_ char *conflict = NULL;
        int r;
        if (e->hardlink) {
                struct node *target = tree_lookup(b->tree, e->hardlink);
                if (!target || S_ISDIR(target->mode)) {
                        if (content_shadowed(b, e->hardlink, S_IFREG))
                                return error_set(err, -ENOENT,
                                                 "%s: '%s' is a hard link to '%s', which a content operation removes; "
                                                 "remove both or neither",
                                                 display, path, e->hardlink);
                        return error_set(err, -ENOENT, "%s: hard link '%s' points to '%s', which is not in the archive",
                                         display, path, e->hardlink);
                }
                target = node_inode(target);
                r = tree_put(b->tree, path, target->mode, 0, &n, &conflict);
                if (r == -EEXIST)
                        return error_set(err, r, "%s: duplicate path '%s'", display, path);
                if (r < 0)
                        return build_put_error(err, r, display, path, conflict);
                n->link = target;
                /* cpio carries the data on the last name of an inode */
                if (e->size > 0 && S_ISREG(target->mode) && target->data == DATA_NONE)
                        return take_data(b, s, e, target, err);
                return 0;
        }

        r = tree_put(b->tree, path, e->mode, 0, &n, &conflict);
        if (r == -EEXIST)
                return error_set(err, r, "%s: duplicate path '%s'", display, path);
        if (r < 0)
                return build_put_error(err, r, display, path, conflict);
        n->mode = e->mode;
        n->uid = e->uid;
        n->gid = e->gid;
        n->mtime = build_clamp_mtime(b, e->mtime);
        node_clear_xattrs(n);
        for (size_t i = 0; i < e->n_xattrs; i++)
                if ((r = node_add_xattr(n, e->xattrs[i].key, e->xattrs[i].value, e->xattrs[i].size)) < 0)
                        return r;

        switch (type) {
        case S_IFLNK:
                if (!e->symlink || !*e->symlink)
                        return error_set(err, -EBADMSG, "%s: symlink '%s' has no target", display, path);
                n->symlink_target = strdup(e->symlink);
                return n->symlink_target ? 0 : -ENOMEM;
        case S_IFCHR:
        case S_IFBLK: {
                if (b->recipe->devices_forbidden_where)
                        return error_set(err, -EPERM, "%s: '%s' is a %s device (%u:%u), and %s forbids devices",
                                         display, e->name, type == S_IFCHR ? "character" : "block", e->rdev_major,
                                         e->rdev_minor, b->recipe->devices_forbidden_where);
                n->devno = node_devno(e->rdev_major, e->rdev_minor);
                return 0;
        }
        case S_IFREG:
                if (build_captures(b, path))
                        return take_memory(s, e, n, err);
                if (e->size == 0) /* possibly a cpio hard link whose data comes later */
                        return 0;
                return take_data(b, s, e, n, err);
        default:
                return 0;
        }
}

int pipeline_take(struct build *b, struct source *s) {
        return build_each_entry(b, s, take_entry, NULL);
}

int pipeline_take_host_file(struct build *b, struct node *n) {
        struct source *s;
        int r = source_dir_open(n->host_path, n->host_path, n->host_stat, 0, &s);
        if (r < 0)
                return r;
        struct ingot_error e = { 0 };
        const struct source_entry *entry;
        r = s->next(s, &entry, &e);
        if (r > 0)
                r = take_data(b, s, entry, n, &e);
        return s->close(s, r < 0 ? r : 0, &e, b->err);
}
