/* source-dir.c: a host directory as a source (source.h): its entries in name order, each directory
 * before what it holds, hard links by the first name met, data read with holes skipped and refused when
 * a file changes while it is read. Nothing is read before the first next(). */
#include <dirent.h>
#include <fcntl.h>
#include <search.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "source.h"

#define READ_BLOCK (1024 * 1024)
#define PREFETCH_FILES 64          /* files of a directory asked for ahead of the one being read */
#define PREFETCH_BYTES (32u << 20) /* and at most this much data */

/* Read-ahead for the files about to be read: asks the kernel to fetch the next files of a directory
 * while this one is compressed, so a cold page cache does not serialize the build on disk latency. */
struct prefetch {
        size_t done;    /* names before this one were read or passed by */
        size_t next;    /* first name not yet asked for */
        uint64_t sizes[PREFETCH_FILES];
        uint64_t bytes; /* asked for and not yet read */
};

/* A directory being walked: its names sorted, the next one to give. */
struct level {
        char *host, *image, *name; /* name: relative to the source's root, "" for the root */
        char **names;
        size_t n, next;
        int fd; /* for read-ahead, opened when a file of it is first read */
        struct prefetch prefetch;
};

/* The first name (image path) met of an inode with several. */
struct inode_name {
        dev_t dev;
        ino_t ino;
        char *path;
};

struct dir_source {
        struct source source;
        char *root_host, *root_image;
        struct stat seen; /* what the root must still be (source_dir_open's seen) */
        bool has_seen, started;
        unsigned flags;
        struct level *levels;
        size_t n_levels, allocated_levels;
        bool descend; /* the current entry is a directory whose entries come next */
        void *inodes; /* tsearch() root of struct inode_name */

        /* the current entry */
        struct source_entry entry;
        char *host, *path, *name, *symlink;
        struct stat st;
        struct xattr *xattrs;
        size_t n_xattrs;
        struct level *level; /* whose names hold it; NULL for the root */
        /* its data */
        int fd;
        struct stat opened; /* what fstat() said when it was opened */
        uint64_t pos, advised;
        bool data_done;
        char *buffer; /* as large as the largest read so far, at most READ_BLOCK */
        size_t buffer_size;
};

static bool same_file_state(const struct stat *a, const struct stat *b) {
        return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
               a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static int compare_inodes(const void *a, const void *b) {
        const struct inode_name *x = a, *y = b;
        if (x->dev != y->dev)
                return x->dev < y->dev ? -1 : 1;
        if (x->ino != y->ino)
                return x->ino < y->ino ? -1 : 1;
        return 0;
}

static void inode_name_free(void *p) {
        struct inode_name *i = p;
        free(i->path);
        free(i);
}

static int compare_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static void names_free(char **names, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
}

static int list_dir(const char *path, char ***ret_names, size_t *ret_n, struct ingot_error *err) {
        DIR *d = opendir(path);
        if (!d)
                return error_set(err, -errno, "%s: cannot open directory: %s", path, strerror(errno));
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
                r = error_set(err, -errno, "%s: reading directory: %s", path, strerror(errno));
        closedir(d);
        if (r < 0) {
                names_free(names, n);
                return r;
        }
        if (n > 1)
                qsort(names, n, sizeof(*names), compare_names);
        *ret_names = names;
        *ret_n = n;
        return 0;
}

/* Asks for the files after current (the one about to be read) while the budget lasts. */
static void prefetch_ahead(struct level *l, size_t current) {
        struct prefetch *p = &l->prefetch;
        for (; p->done < current; p->done++) /* read, or passed by: no longer waiting in the cache */
                if (p->done < p->next)
                        p->bytes -= p->sizes[p->done % PREFETCH_FILES];
        if (p->next < current)
                p->next = current;
        if (l->fd < 0)
                l->fd = open(l->host, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (l->fd < 0)
                return;
        /* always the current one, so that every file read was accounted for */
        while (p->next < l->n && (p->next <= current || (p->next < current + PREFETCH_FILES &&
                                                          p->bytes < PREFETCH_BYTES))) {
                uint64_t size = 0;
                int fd = openat(l->fd, l->names[p->next], O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
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

static void level_free(struct level *l) {
        free(l->host);
        free(l->image);
        free(l->name);
        names_free(l->names, l->n);
        if (l->fd >= 0)
                close(l->fd);
}

/* The current entry, a directory, becomes the level whose names come next. */
static int level_push(struct dir_source *s, struct ingot_error *err) {
        bool root = !s->level;
        if (s->n_levels == s->allocated_levels) {
                size_t cap = s->allocated_levels ? s->allocated_levels * 2 : 16;
                struct level *m = realloc(s->levels, cap * sizeof(*m));
                if (!m)
                        return -ENOMEM;
                s->levels = m;
                s->allocated_levels = cap;
        }
        struct level l = { .fd = -1 };
        int r = list_dir(s->host, &l.names, &l.n, err);
        if (r < 0)
                return r;
        l.host = TAKE_PTR(s->host);
        l.image = TAKE_PTR(s->path);
        l.name = root ? strdup("") : TAKE_PTR(s->name);
        if (!l.name) {
                level_free(&l);
                return -ENOMEM;
        }
        s->levels[s->n_levels++] = l;
        return 0;
}

static void entry_clear(struct dir_source *s) {
        free(s->host);
        free(s->path);
        free(s->name);
        free(s->symlink);
        s->host = s->path = s->name = s->symlink = NULL;
        xattr_list_free(&s->xattrs, &s->n_xattrs);
        if (s->fd >= 0)
                close(s->fd);
        s->fd = -1;
        s->pos = 0;
        s->advised = PREFETCH_BYTES; /* what prefetch_ahead asks for of each file */
        s->data_done = false;
        s->level = NULL;
        s->entry = (struct source_entry) { 0 };
}

static int read_xattrs(struct dir_source *s, struct ingot_error *err) {
        const char *path = s->host;
        ssize_t len = llistxattr(path, NULL, 0);
        if (len < 0 && (errno == ENOTSUP || errno == ENOSYS))
                return 0;
        if (len < 0)
                return error_set(err, -errno, "%s: listing extended attributes: %s", path, strerror(errno));
        if (len == 0)
                return 0;
        _cleanup_free_ char *keys = malloc((size_t) len);
        if (!keys)
                return -ENOMEM;
        len = llistxattr(path, keys, (size_t) len);
        if (len < 0)
                return error_set(err, -errno, "%s: listing extended attributes: %s", path, strerror(errno));
        for (char *k = keys; k < keys + len; k += strlen(k) + 1) {
                ssize_t vlen = lgetxattr(path, k, NULL, 0);
                if (vlen < 0)
                        return error_set(err, -errno, "%s: reading extended attribute %s: %s", path, k,
                                         strerror(errno));
                _cleanup_free_ char *v = malloc((size_t) vlen + 1);
                if (!v)
                        return -ENOMEM;
                vlen = lgetxattr(path, k, v, (size_t) vlen);
                if (vlen < 0)
                        return error_set(err, -errno, "%s: reading extended attribute %s: %s", path, k,
                                         strerror(errno));
                int r = xattr_list_add(&s->xattrs, &s->n_xattrs, k, v, (size_t) vlen);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Describes s->host (at s->path) as the current entry. */
static int entry_fill(struct dir_source *s, struct ingot_error *err) {
        if (!s->level && s->has_seen)
                s->st = s->seen;
        else if (lstat(s->host, &s->st) < 0)
                return error_set(err, -errno, "%s: %s", s->host, strerror(errno));
        const struct stat *st = &s->st;

        const char *hardlink = NULL;
        if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
                struct inode_name key = { .dev = st->st_dev, .ino = st->st_ino };
                struct inode_name **found = tfind(&key, &s->inodes, compare_inodes);
                if (found)
                        hardlink = (*found)->path;
                else {
                        struct inode_name *i = malloc(sizeof(*i));
                        if (!i)
                                return -ENOMEM;
                        *i = (struct inode_name) { .dev = st->st_dev, .ino = st->st_ino, .path = strdup(s->path) };
                        if (!i->path || !tsearch(i, &s->inodes, compare_inodes)) {
                                inode_name_free(i);
                                return -ENOMEM;
                        }
                }
        }

        /* a file seen earlier is opened again for its data only */
        bool metadata = !(s->flags & SOURCE_DIR_SHAPE) && !(!s->level && s->has_seen);
        int r = metadata ? read_xattrs(s, err) : 0;
        if (r < 0)
                return r;
        if (S_ISLNK(st->st_mode) && metadata) {
                s->symlink = malloc((size_t) st->st_size + 1);
                if (!s->symlink)
                        return -ENOMEM;
                ssize_t len = readlink(s->host, s->symlink, (size_t) st->st_size + 1);
                if (len < 0)
                        return error_set(err, -errno, "%s: %s", s->host, strerror(errno));
                if ((size_t) len > (size_t) st->st_size)
                        return error_set(err, -ESTALE, "%s: changed while being read", s->host);
                s->symlink[len] = 0;
        }
        s->entry = (struct source_entry) {
                .name = s->name,
                .path = s->path,
                .hardlink = hardlink,
                .nlink = (uint32_t) st->st_nlink,
                .mode = st->st_mode & (S_IFMT | 07777),
                .uid = st->st_uid,
                .gid = st->st_gid,
                .mtime = st->st_mtim.tv_sec,
                .size = S_ISREG(st->st_mode) && !hardlink ? (uint64_t) st->st_size : 0,
                .symlink = s->symlink,
                .rdev_major = major(st->st_rdev),
                .rdev_minor = minor(st->st_rdev),
                .xattrs = s->xattrs,
                .n_xattrs = s->n_xattrs,
        };
        s->descend = S_ISDIR(st->st_mode);
        return 1;
}

static int dir_next(struct source *source, const struct source_entry **ret, struct ingot_error *err) {
        struct dir_source *s = (struct dir_source *) source;
        int r;
        if (s->descend) {
                s->descend = false;
                if ((r = level_push(s, err)) < 0)
                        return r;
        }
        entry_clear(s);

        if (!s->started) {
                s->started = true;
                s->host = strdup(s->root_host);
                s->path = strdup(s->root_image);
                s->name = strdup(".");
        } else {
                while (s->n_levels > 0 && s->levels[s->n_levels - 1].next == s->levels[s->n_levels - 1].n)
                        level_free(&s->levels[--s->n_levels]);
                if (s->n_levels == 0)
                        return 0;
                struct level *l = &s->levels[s->n_levels - 1];
                const char *name = l->names[l->next++];
                s->level = l;
                s->host = path_join(l->host, name);
                s->path = path_join(l->image, name);
                s->name = *l->name ? path_join(l->name, name) : strdup(name);
        }
        if (!s->host || !s->path || !s->name)
                return -ENOMEM;
        if ((r = entry_fill(s, err)) < 0)
                return r;
        *ret = &s->entry;
        return 1;
}

static void dir_ignore_subdir(struct source *source) {
        ((struct dir_source *) source)->descend = false;
}

static int data_open(struct dir_source *s, struct ingot_error *err) {
        /* small files, as a Copy= of many has, need no megabyte each */
        size_t want = s->st.st_size < READ_BLOCK ? (size_t) s->st.st_size : READ_BLOCK;
        if (want > s->buffer_size) {
                char *b = realloc(s->buffer, want);
                if (!b)
                        return -ENOMEM;
                s->buffer = b;
                s->buffer_size = want;
        }
        s->fd = open(s->host, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (s->fd < 0)
                return error_set(err, -errno, "%s: cannot read: %s", s->host, strerror(errno));
        if (fstat(s->fd, &s->opened) < 0)
                return error_set(err, -errno, "%s: %s", s->host, strerror(errno));
        if (!S_ISREG(s->opened.st_mode) || !same_file_state(&s->opened, &s->st))
                return error_set(err, -ESTALE, "%s: changed since it was scanned", s->host);
        if (s->level)
                prefetch_ahead(s->level, s->level->next - 1);
        return 0;
}

/* The data extents of the current file; at its end, whether it stayed as it was while read. */
static int dir_read(struct source *source, const void **ret_data, size_t *ret_size, uint64_t *ret_offset,
                    struct ingot_error *err) {
        struct dir_source *s = (struct dir_source *) source;
        if (!S_ISREG(s->st.st_mode) || s->entry.hardlink || s->data_done || (s->flags & SOURCE_DIR_SHAPE))
                return 0;
        int r;
        if (s->fd < 0 && (r = data_open(s, err)) < 0)
                return r;
        uint64_t size = (uint64_t) s->st.st_size;
        while (s->pos < size) {
                /* Holes are not read: the loop feeds them as zeros, which the writer stores sparse. */
                off_t data = lseek(s->fd, (off_t) s->pos, SEEK_DATA);
                if (data < 0 && errno == ENXIO)
                        data = (off_t) size;
                else if (data < 0)
                        data = (off_t) s->pos;
                if ((uint64_t) data > size)
                        data = (off_t) size;
                if ((uint64_t) data > s->pos) {
                        s->pos = (uint64_t) data;
                        continue;
                }
                /* keep the disk busy some blocks ahead while this one is compressed */
                if (s->advised < size && s->advised < s->pos + 8 * READ_BLOCK) {
                        (void) posix_fadvise(s->fd, (off_t) s->advised, 16 * READ_BLOCK, POSIX_FADV_WILLNEED);
                        s->advised += 16 * READ_BLOCK;
                }
                size_t want = size - s->pos < READ_BLOCK ? (size_t) (size - s->pos) : READ_BLOCK;
                ssize_t n = pread(s->fd, s->buffer, want, (off_t) s->pos);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return error_set(err, -errno, "%s: read error: %s", s->host, strerror(errno));
                if (n == 0)
                        return error_set(err, -ESTALE, "%s: shrank while being read", s->host);
                *ret_data = s->buffer;
                *ret_size = (size_t) n;
                *ret_offset = s->pos;
                s->pos += (uint64_t) n;
                return 1;
        }
        struct stat after;
        if (fstat(s->fd, &after) < 0)
                return error_set(err, -errno, "%s: %s", s->host, strerror(errno));
        if (!same_file_state(&after, &s->opened) || after.st_ctim.tv_sec != s->opened.st_ctim.tv_sec ||
            after.st_ctim.tv_nsec != s->opened.st_ctim.tv_nsec)
                return error_set(err, -ESTALE, "%s: changed while being read", s->host);
        s->data_done = true;
        return 0;
}

static int dir_close(struct source *source, int result, const struct ingot_error *result_err,
                     struct ingot_error *err) {
        struct dir_source *s = (struct dir_source *) source;
        entry_clear(s);
        while (s->n_levels > 0)
                level_free(&s->levels[--s->n_levels]);
        free(s->levels);
        tdestroy(s->inodes, inode_name_free);
        free(s->root_host);
        free(s->root_image);
        free(s->buffer);
        free(s);
        return source_result(result, result_err, err);
}

int source_dir_open(const char *host_root, const char *image_root, const struct stat *seen, unsigned flags,
                    struct source **ret) {
        struct dir_source *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->fd = -1;
        s->flags = flags;
        s->root_host = strdup(host_root);
        s->root_image = strdup(image_root);
        if (!s->root_host || !s->root_image) {
                free(s->root_host);
                free(s->root_image);
                free(s);
                return -ENOMEM;
        }
        if (seen) {
                s->seen = *seen;
                s->has_seen = true;
        }
        s->source = (struct source) { .display = s->root_host, .next = dir_next, .read = dir_read,
                                      .ignore_subdir = dir_ignore_subdir, .close = dir_close };
        *ret = &s->source;
        return 0;
}

void source_dir_entry_host(const struct source *source, const char **ret_path, const struct stat **ret_stat) {
        const struct dir_source *s = (const struct dir_source *) source;
        *ret_path = s->host;
        *ret_stat = &s->st;
}
