/* block-reuse.c: the content-digest compressor (block-reuse.h). A block whose content an earlier image
 * holds, compressed with the same settings, is that image's stored bytes: they are read, checked against
 * the earlier index's SHA-256 and decompressed back to this block's bytes before they stand in for the
 * compressor's output, so that a build that reuses is byte for byte the build that does not. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqfs/compressor.h>
#include <sqfs/error.h>

#include "block-reuse.h"
#include "signing.h"

struct reuse_entry {
        uint8_t content[32];
        struct reuse_source *source;
        const struct extent *extent;
};

struct digest_pair {
        uint8_t stored[32], content[32];
};

int block_reuse_init(struct block_reuse *r, const struct block_settings *settings) {
        *r = (struct block_reuse) { .settings = *settings };
        int e = pthread_mutex_init(&r->lock, NULL);
        return e ? -e : 0;
}

void block_reuse_done(struct block_reuse *r) {
        for (size_t i = 0; i < r->n_sources; i++) {
                free(r->sources[i].path);
                safe_close(r->sources[i].fd);
                block_index_done(&r->sources[i].index);
        }
        free(r->sources);
        free(r->entries);
        free(r->stored);
        pthread_mutex_destroy(&r->lock);
        *r = (struct block_reuse) { 0 };
}

/* An image that cannot serve as a source: why in err (for a warning), and 0. */
#define not_reused(err, ...) (error_set((err), -EINVAL, __VA_ARGS__), 0)

static int compare_entries(const void *a, const void *b) {
        return memcmp(((const struct reuse_entry *) a)->content, ((const struct reuse_entry *) b)->content, 32);
}

/* NAME.blocks for NAME.raw (or for IMAGE with no .raw: IMAGE.blocks). */
static char *index_path(const char *image) {
        size_t n = strlen(image);
        char *p = NULL;
        if (n > 4 && strcmp(image + n - 4, ".raw") == 0)
                return asprintf(&p, "%.*s.blocks", (int) (n - 4), image) < 0 ? NULL : p;
        return asprintf(&p, "%s.blocks", image) < 0 ? NULL : p;
}

/* Rebuilds the sorted table over every source's blocks; entries point into the sources' arrays. */
static int index_entries(struct block_reuse *r) {
        size_t n = 0;
        for (size_t i = 0; i < r->n_sources; i++)
                for (size_t k = 0; k < r->sources[i].index.n; k++)
                        n += r->sources[i].index.extents[k].has_content;
        struct reuse_entry *e = reallocarray(r->entries, n ?: 1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        r->entries = e;
        r->n_entries = 0;
        for (size_t i = 0; i < r->n_sources; i++)
                for (size_t k = 0; k < r->sources[i].index.n; k++) {
                        const struct extent *x = &r->sources[i].index.extents[k];
                        if (!x->has_content)
                                continue;
                        struct reuse_entry *y = &e[r->n_entries++];
                        memcpy(y->content, x->content_sha256, 32);
                        y->source = &r->sources[i];
                        y->extent = x;
                }
        if (r->n_entries)
                qsort(e, r->n_entries, sizeof(*e), compare_entries);
        return 0;
}

int block_reuse_add_image(struct block_reuse *r, const char *image, struct ingot_error *err) {
        _cleanup_close_ int fd = open(image, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return error_set(err, -errno, "%s: %s", image, strerror(errno));
        struct stat st;
        if (fstat(fd, &st) < 0)
                return error_set(err, -errno, "%s: %s", image, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return error_set(err, -EINVAL, "%s: not an image file", image);
        _cleanup_free_ char *ipath = index_path(image);
        if (!ipath)
                return -ENOMEM;
        _cleanup_free_ char *text = NULL;
        int q = read_text_file(ipath, 64 << 20, &text);
        if (q < 0)
                return not_reused(err, "%s: no block index (%s): not reused", image, strerror(-q));
        _cleanup_(block_index_done) struct block_index x = { 0 };
        uint64_t size;
        char root_hash[129];
        struct ingot_error why = { 0 };
        q = block_index_parse(text, ipath, &x, &size, root_hash, &why);
        if (q == -ENOMEM)
                return q;
        if (q < 0)
                return not_reused(err, "%s: not reused: %s", image, why.message);
        if (size != (uint64_t) st.st_size)
                return not_reused(err, "%s: not reused: its index is of an image of %llu bytes, not %lld", image,
                                 (unsigned long long) size, (long long) st.st_size);
        /* the superblock (offsets, sizes, the time) tells one image from another at the cost of 96 bytes */
        uint8_t super[96], digest[32];
        if (x.n == 0 || x.extents[0].size != sizeof(super) || pread(fd, super, sizeof(super), 0) != sizeof(super) ||
            sha256_digest(super, sizeof(super), digest) < 0 || memcmp(digest, x.extents[0].sha256, 32) != 0)
                return not_reused(err, "%s: not reused: its index is another image's (the superblock differs)", image);
        const struct block_settings *s = &x.settings, *want = &r->settings;
        if (!s->compressor)
                return not_reused(err, "%s: not reused: its index (format 1) has no content digests", image);
        if (s->compressor != want->compressor || s->level != want->level || s->block_size != want->block_size)
                return not_reused(err,
                                 "%s: not reused: compressed with compressor %d level %u, blocks of %u bytes; this "
                                 "build: compressor %d level %u, blocks of %u bytes",
                                 image, s->compressor, s->level, s->block_size, want->compressor, want->level,
                                 want->block_size);

        struct reuse_source *a = reallocarray(r->sources, r->n_sources + 1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        /* the entries point into the sources: rebuilt below, whether or not the array moved */
        r->sources = a;
        struct reuse_source *src = &a[r->n_sources];
        *src = (struct reuse_source) { .path = strdup(image), .fd = -1 };
        if (!src->path)
                return -ENOMEM;
        src->fd = TAKE_FD(fd);
        src->index = x;
        x = (struct block_index) { 0 };
        r->n_sources++;
        q = index_entries(r);
        return q < 0 ? q : 1;
}

/* The compressor the block processor calls: the settings' own inside, and one to check by decompressing. */
struct reuse_compressor {
        sqfs_compressor_t base;
        struct block_reuse *reuse;
        sqfs_compressor_t *inner, *uncmp;
        uint8_t *scratch; /* a block decompressed */
};

static void reuse_compressor_destroy(sqfs_object_t *base) {
        struct reuse_compressor *c = (struct reuse_compressor *) base;
        sqfs_destroy(c->inner);
        sqfs_destroy(c->uncmp);
        free(c->scratch);
        free(c);
}

static sqfs_object_t *reuse_compressor_copy(const sqfs_object_t *base) {
        const struct reuse_compressor *c = (const struct reuse_compressor *) base;
        sqfs_compressor_t *copy = NULL;
        return block_reuse_compressor_new(c->reuse, &copy) < 0 ? NULL : (sqfs_object_t *) copy;
}

static void reuse_get_configuration(const sqfs_compressor_t *base, sqfs_compressor_config_t *cfg) {
        const struct reuse_compressor *c = (const struct reuse_compressor *) base;
        c->inner->get_configuration(c->inner, cfg);
}

static int reuse_write_options(sqfs_compressor_t *base, sqfs_file_t *file) {
        struct reuse_compressor *c = (struct reuse_compressor *) base;
        return c->inner->write_options(c->inner, file);
}

static int reuse_read_options(sqfs_compressor_t *base, sqfs_file_t *file) {
        struct reuse_compressor *c = (struct reuse_compressor *) base;
        return c->inner->read_options(c->inner, file);
}

static void refuse(struct block_reuse *r, struct reuse_source *s, uint64_t offset) {
        pthread_mutex_lock(&r->lock);
        if (s->refused++ == 0)
                s->first_refused_offset = offset;
        pthread_mutex_unlock(&r->lock);
}

/* The stored bytes of one entry into out, if they are what its index says and hold exactly in[0, size):
 * their length (0: stored uncompressed, as in is) and their digest, checked here, in ret_stored; -1 when
 * they do not serve. */
static sqfs_s32 try_entry(struct reuse_compressor *c, const struct reuse_entry *y, const sqfs_u8 *in, sqfs_u32 size,
                          sqfs_u8 *out, sqfs_u32 outsize, uint8_t ret_stored[static 32]) {
        const struct extent *x = y->extent;
        if (x->size > outsize || x->size > size)
                return -1;
        uint8_t digest[32];
        ssize_t n = pread(y->source->fd, out, x->size, (off_t) x->offset);
        if (n != (ssize_t) x->size || sha256_digest(out, x->size, digest) < 0 || memcmp(digest, x->sha256, 32) != 0) {
                refuse(c->reuse, y->source, x->offset);
                return -1;
        }
        memcpy(ret_stored, digest, 32);
        if (memcmp(x->sha256, x->content_sha256, 32) == 0) {
                /* stored as it is, the compressor did not make it smaller: so again, if it is this block */
                if (x->size == size && memcmp(out, in, size) == 0)
                        return 0;
        } else {
                sqfs_s32 got = c->uncmp->do_block(c->uncmp, out, x->size, c->scratch, c->reuse->settings.block_size);
                if (got == (sqfs_s32) size && memcmp(c->scratch, in, size) == 0)
                        return (sqfs_s32) x->size;
        }
        refuse(c->reuse, y->source, x->offset);
        return -1;
}

static sqfs_s32 reuse_do_block(sqfs_compressor_t *base, const sqfs_u8 *in, sqfs_u32 size, sqfs_u8 *out,
                               sqfs_u32 outsize) {
        struct reuse_compressor *c = (struct reuse_compressor *) base;
        struct block_reuse *r = c->reuse;
        struct digest_pair p;
        if (sha256_digest(in, size, p.content) < 0)
                return SQFS_ERROR_INTERNAL;

        sqfs_s32 ret = -1;
        struct reuse_entry key;
        memcpy(key.content, p.content, 32);
        const struct reuse_entry *y = r->n_entries ? bsearch(&key, r->entries, r->n_entries, sizeof(key), compare_entries)
                                                   : NULL;
        if (y) {
                while (y > r->entries && memcmp(y[-1].content, p.content, 32) == 0)
                        y--;
                for (; ret < 0 && y < r->entries + r->n_entries && memcmp(y->content, p.content, 32) == 0; y++)
                        ret = try_entry(c, y, in, size, out, outsize, p.stored);
        }
        bool reused = ret >= 0;
        if (!reused) {
                ret = c->inner->do_block(c->inner, in, size, out, outsize);
                if (ret < 0)
                        return ret;
        }
        if (ret == 0)
                memcpy(p.stored, p.content, 32);
        else if (!reused && sha256_digest(out, (size_t) ret, p.stored) < 0) /* a reused block's was checked */
                return SQFS_ERROR_INTERNAL;

        pthread_mutex_lock(&r->lock);
        if (reused) {
                r->reused++;
                r->reused_bytes += ret > 0 ? (uint64_t) ret : size;
        } else
                r->compressed++;
        if (r->n_stored == r->allocated_stored) {
                size_t a = r->allocated_stored ? r->allocated_stored * 2 : 1024;
                struct digest_pair *d = reallocarray(r->stored, a, sizeof(*d));
                if (d) {
                        r->stored = d;
                        r->allocated_stored = a;
                }
        }
        bool room = r->n_stored < r->allocated_stored;
        if (room)
                r->stored[r->n_stored++] = p;
        else
                r->error = -ENOMEM;
        pthread_mutex_unlock(&r->lock);
        return room ? ret : SQFS_ERROR_ALLOC;
}

int block_reuse_compressor_new(struct block_reuse *r, sqfs_compressor_t **ret) {
        sqfs_compressor_config_t cfg;
        if (sqfs_compressor_config_init(&cfg, (SQFS_COMPRESSOR) r->settings.compressor, r->settings.block_size, 0))
                return -EINVAL;
        cfg.level = r->settings.level;
        struct reuse_compressor *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->base = (sqfs_compressor_t) {
                .base = { .destroy = reuse_compressor_destroy, .copy = reuse_compressor_copy },
                .get_configuration = reuse_get_configuration,
                .write_options = reuse_write_options,
                .read_options = reuse_read_options,
                .do_block = reuse_do_block,
        };
        c->reuse = r;
        int e = sqfs_compressor_create(&cfg, &c->inner);
        cfg.flags |= SQFS_COMP_FLAG_UNCOMPRESS;
        if (!e)
                e = sqfs_compressor_create(&cfg, &c->uncmp);
        c->scratch = malloc(r->settings.block_size);
        if (e || !c->scratch) {
                reuse_compressor_destroy(&c->base.base);
                return e ? -EINVAL : -ENOMEM;
        }
        *ret = &c->base;
        return 0;
}

static int compare_stored(const void *a, const void *b) {
        return memcmp(((const struct digest_pair *) a)->stored, ((const struct digest_pair *) b)->stored, 32);
}

int block_reuse_fill_index(struct block_reuse *r, struct block_index *x) {
        if (r->error)
                return r->error;
        if (r->n_stored)
                qsort(r->stored, r->n_stored, sizeof(*r->stored), compare_stored);
        x->settings = r->settings;
        for (size_t i = 0; i < x->n; i++) {
                struct extent *e = &x->extents[i];
                if (e->kind != EXTENT_DATA && e->kind != EXTENT_FRAGMENT)
                        continue;
                struct digest_pair key;
                memcpy(key.stored, e->sha256, 32);
                const struct digest_pair *p =
                        r->n_stored ? bsearch(&key, r->stored, r->n_stored, sizeof(key), compare_stored) : NULL;
                if (!p)
                        return -EBADMSG;
                memcpy(e->content_sha256, p->content, 32);
                e->has_content = true;
        }
        return 0;
}
