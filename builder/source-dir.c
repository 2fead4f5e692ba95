/* source-dir.c: host directories (Tree= and Copy=) walked in name order into the image tree, and
 * host file data read into the image while watching the file for changes. */
#include <dirent.h>
#include <fcntl.h>
#include <search.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "build.h"

#define PREFETCH_FILES 64          /* files of a directory asked for ahead of the one being read */
#define PREFETCH_BYTES (32u << 20) /* and at most this much data */

static bool same_file_state(const struct stat *a, const struct stat *b) {
        return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
               a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

int host_file_write(struct build *b, struct node *node, const char *host_path, const struct stat *seen) {
        _cleanup_close_ int fd = open(host_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return error_set(b->err, -errno, "%s: cannot read: %s", host_path, strerror(errno));
        struct stat st;
        if (fstat(fd, &st) < 0)
                return error_set(b->err, -errno, "%s: %s", host_path, strerror(errno));
        if (!S_ISREG(st.st_mode) || !same_file_state(&st, seen))
                return error_set(b->err, -ESTALE, "%s: changed since it was scanned", host_path);

        int r = squashfs_writer_begin_file(b->writer, node);
        if (r < 0)
                goto write_fail;

        uint64_t size = (uint64_t) st.st_size, pos = 0, advised = PREFETCH_BYTES;
        while (pos < size) {
                if (build_cancelled(b))
                        return build_cancel_error(b->err);
                /* Holes are not read: they are fed as zeros, which the writer stores sparse. */
                off_t data = lseek(fd, (off_t) pos, SEEK_DATA);
                if (data < 0 && errno == ENXIO)
                        data = (off_t) size;
                else if (data < 0)
                        data = (off_t) pos;
                if ((uint64_t) data > size)
                        data = (off_t) size;
                if ((uint64_t) data > pos) {
                        r = squashfs_writer_append_zeros(b->writer, (uint64_t) data - pos);
                        if (r < 0)
                                goto write_fail;
                        pos = (uint64_t) data;
                        continue;
                }
                /* keep the disk busy some buffers ahead while this one is compressed */
                if (advised < size && advised < pos + 8 * BUFFER_SIZE) {
                        (void) posix_fadvise(fd, (off_t) advised, 16 * BUFFER_SIZE, POSIX_FADV_WILLNEED);
                        advised += 16 * BUFFER_SIZE;
                }
                size_t want = size - pos < BUFFER_SIZE ? (size_t) (size - pos) : BUFFER_SIZE;
                ssize_t n = pread(fd, b->buffer, want, (off_t) pos);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return error_set(b->err, -errno, "%s: read error: %s", host_path, strerror(errno));
                if (n == 0)
                        return error_set(b->err, -ESTALE, "%s: shrank while being read", host_path);
                r = squashfs_writer_append(b->writer, b->buffer, (size_t) n);
                if (r < 0)
                        goto write_fail;
                pos += (uint64_t) n;
                build_report(b, 0, (uint64_t) n);
        }
        r = squashfs_writer_end_file(b->writer);
        if (r < 0)
                goto write_fail;

        struct stat after;
        if (fstat(fd, &after) < 0)
                return error_set(b->err, -errno, "%s: %s", host_path, strerror(errno));
        if (!same_file_state(&after, &st) || after.st_ctim.tv_sec != st.st_ctim.tv_sec ||
            after.st_ctim.tv_nsec != st.st_ctim.tv_nsec)
                return error_set(b->err, -ESTALE, "%s: changed while being read", host_path);
        build_file_written(b, node, size);
        return 0;

write_fail:
        return build_write_error(b->err, r, host_path);
}

static uint32_t kernel_devno(dev_t d) {
        unsigned maj = major(d), min = minor(d);
        return (min & 0xff) | (maj << 8) | ((min & ~0xffu) << 12);
}

static int read_xattrs(struct build *b, struct node *n, const char *path) {
        ssize_t len = llistxattr(path, NULL, 0);
        if (len < 0 && (errno == ENOTSUP || errno == ENOSYS))
                return 0;
        if (len < 0)
                return error_set(b->err, -errno, "%s: listing extended attributes: %s", path, strerror(errno));
        if (len == 0)
                return 0;
        _cleanup_free_ char *keys = malloc((size_t) len);
        if (!keys)
                return -ENOMEM;
        len = llistxattr(path, keys, (size_t) len);
        if (len < 0)
                return error_set(b->err, -errno, "%s: listing extended attributes: %s", path, strerror(errno));
        for (char *k = keys; k < keys + len; k += strlen(k) + 1) {
                ssize_t vlen = lgetxattr(path, k, NULL, 0);
                if (vlen < 0)
                        return error_set(b->err, -errno, "%s: reading extended attribute %s: %s", path, k,
                                         strerror(errno));
                _cleanup_free_ char *v = malloc((size_t) vlen + 1);
                if (!v)
                        return -ENOMEM;
                vlen = lgetxattr(path, k, v, (size_t) vlen);
                if (vlen < 0)
                        return error_set(b->err, -errno, "%s: reading extended attribute %s: %s", path, k,
                                         strerror(errno));
                int r = node_add_xattr(n, k, v, (size_t) vlen);
                if (r < 0)
                        return r;
        }
        return 0;
}

struct inode_key {
        dev_t dev;
        ino_t ino;
        struct node *node;
};

static int compare_inode_keys(const void *a, const void *b) {
        const struct inode_key *x = a, *y = b;
        if (x->dev != y->dev)
                return x->dev < y->dev ? -1 : 1;
        if (x->ino != y->ino)
                return x->ino < y->ino ? -1 : 1;
        return 0;
}

struct walk {
        struct build *b;
        enum host_mode mode;
        bool shadow_only;
        void *inodes; /* tsearch() root of struct inode_key */
};

static int compare_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int list_dir(struct build *b, const char *path, char ***ret_names, size_t *ret_n) {
        DIR *d = opendir(path);
        if (!d)
                return error_set(b->err, -errno, "%s: cannot open directory: %s", path, strerror(errno));
        char **names = NULL;
        size_t n = 0, cap = 0;
        int r = 0;
        struct dirent *de;
        errno = 0;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (n == cap) {
                        cap = cap ? cap * 2 : 16;
                        char **m = realloc(names, cap * sizeof(*m));
                        if (!m) {
                                r = -ENOMEM;
                                break;
                        }
                        names = m;
                }
                if (!(names[n] = strdup(de->d_name))) {
                        r = -ENOMEM;
                        break;
                }
                n++;
                errno = 0;
        }
        if (r == 0 && errno)
                r = error_set(b->err, -errno, "%s: reading directory: %s", path, strerror(errno));
        closedir(d);
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        free(names[i]);
                free(names);
                return r;
        }
        if (n > 1)
                qsort(names, n, sizeof(*names), compare_names);
        *ret_names = names;
        *ret_n = n;
        return 0;
}

static int walk_entry(struct walk *w, const char *host, const char *image, bool is_root);

/* Read-ahead for the files about to be read: asks the kernel to fetch the next files of a directory
 * while this one is compressed, so a cold page cache does not serialize the build on disk latency. */

struct prefetch {
        size_t next;       /* first name not yet asked for */
        uint64_t sizes[PREFETCH_FILES];
        uint64_t bytes;    /* asked for and not yet read */
};

static void prefetch_ahead(struct prefetch *p, int dfd, char **names, size_t n, size_t current) {
        if (current > 0) /* the previous file has been read */
                p->bytes -= p->sizes[(current - 1) % PREFETCH_FILES];
        /* always the current one, so that every file read was accounted for */
        while (p->next < n && (p->next <= current || (p->next < current + PREFETCH_FILES &&
                                                      p->bytes < PREFETCH_BYTES))) {
                uint64_t size = 0;
                int fd = openat(dfd, names[p->next], O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
                struct stat st;
                if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
                        /* the head of a large file; sequential read-ahead takes it from there */
                        size = (uint64_t) st.st_size < PREFETCH_BYTES ? (uint64_t) st.st_size : PREFETCH_BYTES;
                        (void) posix_fadvise(fd, 0, (off_t) size, POSIX_FADV_WILLNEED);
                }
                if (fd >= 0)
                        close(fd);
                p->sizes[p->next % PREFETCH_FILES] = size;
                p->bytes += size;
                p->next++;
        }
}

static int walk_children(struct walk *w, const char *host, const char *image) {
        char **names = NULL;
        size_t n = 0;
        int r = list_dir(w->b, host, &names, &n);
        if (r < 0)
                return r;
        _cleanup_close_ int dfd = w->shadow_only ? -1 : open(host, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct prefetch pf = { 0 };
        for (size_t i = 0; i < n; i++) {
                if (dfd >= 0)
                        prefetch_ahead(&pf, dfd, names, n, i);
                if (r >= 0) {
                        _cleanup_free_ char *h = path_join(host, names[i]), *im = path_join(image, names[i]);
                        r = h && im ? walk_entry(w, h, im, false) : -ENOMEM;
                }
                free(names[i]);
        }
        free(names);
        return r;
}

static int walk_entry(struct walk *w, const char *host, const char *image, bool is_root) {
        struct build *b = w->b;
        if (build_cancelled(b))
                return build_cancel_error(b->err);

        struct stat st;
        if (lstat(host, &st) < 0)
                return error_set(b->err, -errno, "%s: %s", host, strerror(errno));

        if (w->shadow_only) {
                /* Only the shape matters: which image paths the copy will create, and of which kind. */
                struct node *n;
                _cleanup_free_ char *conflict = NULL;
                int r = tree_put(b->shadow, image, S_ISDIR(st.st_mode) ? S_IFDIR | 0755 : S_IFREG | 0644,
                                 TREE_REPLACE, &n, &conflict);
                if (r == -ENOTDIR) /* beneath something already shadowed: nothing more to learn */
                        return 0;
                if (r < 0)
                        return r;
                return S_ISDIR(st.st_mode) ? walk_children(w, host, image) : 0;
        }

        /* A base entry that a content operation removes or replaces is never written, unless it has
         * other names: then the operations run on it and a surviving name inherits it. */
        if (w->mode == HOST_BASE && !is_root && (S_ISDIR(st.st_mode) || st.st_nlink == 1) &&
            build_shadowed(b, image, st.st_mode & S_IFMT))
                return build_skip(b, image);

        unsigned flags = w->mode == HOST_COPY ? TREE_REPLACE | TREE_FOLLOW_SYMLINKS : 0;
        struct node *n;
        _cleanup_free_ char *conflict = NULL;

        /* Hard links: the second name of an inode refers to the first. */
        struct inode_key key = { .dev = st.st_dev, .ino = st.st_ino }, **found = NULL;
        if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
                found = tfind(&key, &w->inodes, compare_inode_keys);
                if (found && !(*found)->node->removed) {
                        int r = tree_put(b->tree, image, (*found)->node->mode, flags, &n, &conflict);
                        if (r < 0)
                                return error_set(b->err, r, "%s: cannot add '%s' to the image: %s", host, image,
                                                 strerror(-r));
                        n->link = node_inode((*found)->node);
                        return 0;
                }
        }

        /* A directory copied onto a symlink to a directory goes where it points (merged /usr). */
        if (w->mode == HOST_COPY && S_ISDIR(st.st_mode)) {
                struct node *here = tree_lookup(b->tree, image);
                struct node *there = here && S_ISLNK(node_inode(here)->mode) ? tree_resolve(b->tree, image) : NULL;
                if (there && S_ISDIR(there->mode)) {
                        _cleanup_free_ char *target = node_path(there);
                        return target ? walk_children(w, host, target) : -ENOMEM;
                }
        }

        /* An existing directory merged into keeps its own metadata: an overlay adds, it does not chmod. */
        struct node *existing = is_root || w->mode == HOST_COPY ? tree_resolve(b->tree, image) : NULL;
        bool keep_metadata = existing && S_ISDIR(existing->mode) && S_ISDIR(st.st_mode) && !existing->implicit &&
                             w->mode == HOST_COPY;

        int r = tree_put(b->tree, image, st.st_mode & (S_IFMT | 07777), flags | (is_root ? TREE_REPLACE : 0), &n,
                         &conflict);
        if (r < 0)
                return error_set(b->err, r, "%s: cannot add '%s' to the image: %s%s%s", host, image,
                                 r == -ENOTDIR ? "a parent is not a directory" : strerror(-r),
                                 conflict ? ": " : "", conflict ?: "");

        if (!keep_metadata) {
                n->mode = st.st_mode & (S_IFMT | 07777);
                n->uid = w->mode == HOST_BASE ? st.st_uid : 0;
                n->gid = w->mode == HOST_BASE ? st.st_gid : 0;
                n->mtime = build_clamp_mtime(b, st.st_mtim.tv_sec);
                node_clear_xattrs(n);
                r = read_xattrs(b, n, host);
                if (r < 0)
                        return r;
        }

        if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 && !found) {
                struct inode_key *k = malloc(sizeof(*k));
                if (!k)
                        return -ENOMEM;
                *k = key;
                k->node = n;
                if (!tsearch(k, &w->inodes, compare_inode_keys)) {
                        free(k);
                        return -ENOMEM;
                }
        } else if (found)
                (*found)->node = n;

        switch (st.st_mode & S_IFMT) {
        case S_IFDIR:
                return walk_children(w, host, image);
        case S_IFLNK: {
                _cleanup_free_ char *target = malloc((size_t) st.st_size + 1);
                if (!target)
                        return -ENOMEM;
                ssize_t len = readlink(host, target, (size_t) st.st_size + 1);
                if (len < 0)
                        return error_set(b->err, -errno, "%s: %s", host, strerror(errno));
                if ((size_t) len > (size_t) st.st_size)
                        return error_set(b->err, -ESTALE, "%s: changed while being read", host);
                target[len] = 0;
                free(n->symlink_target);
                n->symlink_target = TAKE_PTR(target);
                return 0;
        }
        case S_IFBLK:
        case S_IFCHR:
                if (w->mode == HOST_BASE && b->recipe->devices_forbidden_where)
                        return error_set(b->err, -EPERM, "%s: a %s device (%u:%u), and %s forbids devices", host,
                                         S_ISCHR(st.st_mode) ? "character" : "block", major(st.st_rdev),
                                         minor(st.st_rdev), b->recipe->devices_forbidden_where);
                n->devno = kernel_devno(st.st_rdev);
                return 0;
        case S_IFREG:
                n->size = (uint64_t) st.st_size;
                if (w->mode == HOST_BASE && !build_captures(b, image))
                        return host_file_write(b, n, host, &st);
                free(n->host_path);
                free(n->host_stat);
                n->host_path = strdup(host);
                n->host_stat = malloc(sizeof(st));
                if (!n->host_path || !n->host_stat)
                        return -ENOMEM;
                *n->host_stat = st;
                n->data = DATA_HOST;
                return 0;
        default: /* fifos and sockets have nothing more */
                return 0;
        }
}

int source_dir_add(struct build *b, const char *host_root, const char *image_path, enum host_mode mode) {
        struct walk w = { .b = b, .mode = mode };
        int r = walk_entry(&w, host_root, image_path, mode == HOST_BASE);
        tdestroy(w.inodes, free);
        return r;
}

int source_dir_shadow(struct build *b, const char *host_root, const char *image_path) {
        struct walk w = { .b = b, .shadow_only = true };
        return walk_entry(&w, host_root, image_path, false);
}
