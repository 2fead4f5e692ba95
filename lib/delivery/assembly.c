/* assembly.c: the assembled image (assembly.h): which seed may hold each extent, decided once by
 * SHA-256; then each extent read or fetched in order and checked against its SHA-256 before use. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "assembly.h"
#include "http.h"

#define MAX_RANGE (8u << 20) /* bytes one Range request asks for, at most (a larger extent alone may be more) */
#define MAX_PARTS 64           /* ranges one request asks for, at most */
#define READ_AHEAD (16u << 20) /* bytes of a seed the kernel is asked to read ahead of the one read now */

/* An extent some seed's index names, where in that seed. */
struct candidate {
        uint8_t sha256[32];
        uint32_t size;
        uint32_t seed;
        uint64_t offset;
};

struct assembly {
        const struct ingot_fetch_options *o;
        char *url;
        struct http_ranges *server;
        struct block_index image;
        uint64_t size;
        struct assembly_seed *seeds;
        size_t n_seeds;
        struct candidate *candidates; /* by SHA-256 */
        size_t n_candidates;
        bool *fetch;                  /* per extent of the image: no seed names it */
        bool *spent;                  /* per seed: a prefix seed past its end */
        uint64_t *advised;            /* per seed: how far read-ahead was asked for */
        uint64_t pos;                 /* the next byte to hand out */
        size_t cur;                   /* the extent whose checked bytes are at bytes */
        const uint8_t *bytes;         /* NULL: none yet */
        uint8_t *seed_buf, *range_buf;
        size_t seed_cap, range_cap;
        struct byte_range parts[MAX_PARTS]; /* what range_buf holds, one after another */
        size_t n_parts;
        bool one_range;               /* the server answers one range a request */
        struct assembly_stats stats;
};

static int by_sha(const void *a, const void *b) {
        return memcmp(((const struct candidate *) a)->sha256, ((const struct candidate *) b)->sha256, 32);
}

/* The first candidate with e's SHA-256 (its index), or n_candidates. */
static size_t first_candidate(const struct assembly *a, const struct extent *e) {
        size_t lo = 0, hi = a->n_candidates;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (memcmp(a->candidates[mid].sha256, e->sha256, 32) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

/* A seed's bytes can stand for e: the same size, inside its partition and, in the slot being written,
 * at or after e (the install writes in order: what lies before e is already the new image's). */
static bool usable(const struct assembly *a, const struct candidate *c, const struct extent *e) {
        const struct assembly_seed *s = &a->seeds[c->seed];
        return !a->spent[c->seed] && c->size == e->size && c->offset + c->size <= s->size &&
               (!s->target || c->offset >= e->offset);
}

/* Some seed names e (the slot being written too, or only the others). */
static bool offered(const struct assembly *a, const struct extent *e, bool target_too) {
        for (size_t k = first_candidate(a, e); k < a->n_candidates && memcmp(a->candidates[k].sha256, e->sha256, 32) == 0;
             k++)
                if (usable(a, &a->candidates[k], e) && (target_too || !a->seeds[a->candidates[k].seed].target))
                        return true;
        return false;
}

void assembly_free(struct assembly *a) {
        if (!a)
                return;
        for (size_t i = 0; i < a->n_seeds; i++)
                block_index_done(&a->seeds[i].index);
        free(a->seeds);
        block_index_done(&a->image);
        http_ranges_free(a->server);
        free(a->url);
        free(a->candidates);
        free(a->fetch);
        free(a->spent);
        free(a->advised);
        free(a->seed_buf);
        free(a->range_buf);
        free(a);
}

int assembly_new(const struct ingot_fetch_options *o, const char *url, struct block_index *image,
                 struct assembly_seed *seeds, size_t n_seeds, struct assembly **ret) {
        _cleanup_(assembly_freep) struct assembly *a = calloc(1, sizeof(*a));
        struct assembly_seed *copy = reallocarray(NULL, n_seeds ? n_seeds : 1, sizeof(*seeds));
        if (!a || !copy) {
                free(copy);
                for (size_t i = 0; i < n_seeds; i++)
                        block_index_done(&seeds[i].index);
                block_index_done(image);
                return -ENOMEM;
        }
        /* the indexes are ours from here on, whatever happens */
        memcpy(copy, seeds, n_seeds * sizeof(*seeds));
        for (size_t i = 0; i < n_seeds; i++)
                seeds[i].index = (struct block_index) { 0 };
        a->seeds = copy;
        a->n_seeds = n_seeds;
        a->image = *image;
        *image = (struct block_index) { 0 };
        if (a->image.n == 0)
                return -EINVAL;
        a->o = o;
        a->size = a->image.extents[a->image.n - 1].offset + a->image.extents[a->image.n - 1].size;
        size_t n = 0;
        for (size_t i = 0; i < n_seeds; i++)
                n += a->seeds[i].index.n;
        int r = http_ranges_new(o, url, &a->server);
        if (r < 0)
                return r;
        if (!(a->url = strdup(url)) || !(a->candidates = calloc(n ? n : 1, sizeof(*a->candidates))) ||
            !(a->fetch = calloc(a->image.n, sizeof(*a->fetch))) || !(a->spent = calloc(n_seeds + 1, sizeof(*a->spent))) ||
            !(a->advised = calloc(n_seeds + 1, sizeof(*a->advised))))
                return -ENOMEM;
        for (size_t i = 0; i < n_seeds; i++)
                for (size_t k = 0; k < a->seeds[i].index.n; k++) {
                        const struct extent *e = &a->seeds[i].index.extents[k];
                        struct candidate *c = &a->candidates[a->n_candidates++];
                        *c = (struct candidate) { .size = e->size, .seed = (uint32_t) i, .offset = e->offset };
                        memcpy(c->sha256, e->sha256, 32);
                }
        qsort(a->candidates, a->n_candidates, sizeof(*a->candidates), by_sha);
        for (size_t i = 0; i < a->image.n; i++) {
                a->fetch[i] = !offered(a, &a->image.extents[i], true);
                if (offered(a, &a->image.extents[i], false))
                        a->stats.offered += a->image.extents[i].size;
        }
        *ret = TAKE_PTR(a);
        return 0;
}

const struct assembly_stats *assembly_stats(const struct assembly *a) {
        return &a->stats;
}

static bool has_sha(const uint8_t *data, size_t size, const uint8_t sha256[32]) {
        uint8_t d[32];
        unsigned len = 0;
        return EVP_Digest(data, size, d, &len, EVP_sha256(), NULL) && len == 32 && memcmp(d, sha256, 32) == 0;
}

static int grow(uint8_t **buf, size_t *cap, size_t size) {
        if (*cap >= size)
                return 0;
        uint8_t *b = realloc(*buf, size);
        if (!b)
                return -ENOMEM;
        *buf = b;
        *cap = size;
        return 0;
}

/* Extent i from a seed that names it and whose bytes give its SHA-256: the other slots first, then the
 * slot being written. 1 when found (at a->bytes, unless only checking), 0 when none: then the extent is
 * marked to be fetched, so that it is looked for once. */
static int from_seed(struct assembly *a, size_t i, bool check_only) {
        const struct extent *e = &a->image.extents[i];
        int r = grow(&a->seed_buf, &a->seed_cap, e->size);
        if (r < 0)
                return r;
        for (int target = 0; target <= 1; target++)
                for (size_t k = first_candidate(a, e);
                     k < a->n_candidates && memcmp(a->candidates[k].sha256, e->sha256, 32) == 0; k++) {
                        const struct candidate *c = &a->candidates[k];
                        const struct assembly_seed *s = &a->seeds[c->seed];
                        if (s->target != target || !usable(a, c, e))
                                continue;
                        /* a slot's unchanged extents are read in order: have the kernel read them ahead
                         * while the install writes and checks, as the network stream's thread does */
                        uint64_t *advised = &a->advised[c->seed];
                        if (c->offset + READ_AHEAD / 2 > *advised || c->offset + READ_AHEAD < *advised) {
                                (void) posix_fadvise(s->fd, (off_t) (s->offset + c->offset), READ_AHEAD, POSIX_FADV_WILLNEED);
                                *advised = c->offset + READ_AHEAD;
                        }
                        if (pread_full(s->fd, a->seed_buf, e->size, s->offset + c->offset) >= 0 &&
                            has_sha(a->seed_buf, e->size, e->sha256)) {
                                if (!check_only) {
                                        a->bytes = a->seed_buf;
                                        a->stats.reused += e->size;
                                }
                                return 1;
                        }
                        /* the slot being written may hold what an earlier, interrupted install left, and
                                 * no more than that: its first miss is its end */
                        if (s->prefix)
                                a->spent[c->seed] = true;
                        if (s->target)
                                continue;
                        a->stats.damaged++;
                        if (a->o->event) {
                                char why[256];
                                snprintf(why, sizeof(why), "bytes %llu-%llu are not what its index names; fetching them",
                                         (unsigned long long) c->offset, (unsigned long long) (c->offset + e->size));
                                a->o->event(&(struct ingot_fetch_event) { .type = "seed-damaged", .url = s->name,
                                                                          .message = why },
                                            a->o->userdata);
                        }
                }
        a->fetch[i] = true;
        return 0;
}

/* Where extent e's bytes are among the ranges last fetched, or NULL. */
static const uint8_t *fetched_bytes(const struct assembly *a, const struct extent *e) {
        size_t at = 0;
        for (size_t k = 0; k < a->n_parts; k++) {
                const struct byte_range *p = &a->parts[k];
                if (e->offset >= p->offset && e->offset + e->size <= p->offset + p->size)
                        return a->range_buf + at + (e->offset - p->offset);
                at += p->size;
        }
        return NULL;
}

/* The ranges to fetch from extent i on: runs of extents no seed holds, up to MAX_PARTS of them (one
 * where the server answers one range at a time) and MAX_RANGE bytes. A seed that only the slot being
 * written names is read to see (it names every extent, by the new index, but holds them only where an
 * earlier install wrote them); the others are taken at their word until their extent comes. */
static int plan_ranges(struct assembly *a, size_t i, size_t *ret_n, size_t *ret_total) {
        size_t n = 0, total = 0, max = a->one_range ? 1 : MAX_PARTS;
        struct byte_range *run = NULL;
        for (size_t j = i; j < a->image.n; j++) {
                const struct extent *x = &a->image.extents[j];
                bool want = j == i || a->fetch[j];
                if (!want && !offered(a, x, false)) {
                        int r = from_seed(a, j, true);
                        if (r < 0)
                                return r;
                        want = r == 0;
                }
                if (!want) {
                        if (a->one_range)
                                break;
                        run = NULL;
                        continue;
                }
                if (n > 0 && total + x->size > MAX_RANGE)
                        break;
                if (!run || run->offset + run->size != x->offset) {
                        if (n == max)
                                break;
                        run = &a->parts[n++];
                        *run = (struct byte_range) { .offset = x->offset };
                }
                run->size += x->size;
                total += x->size;
        }
        *ret_n = n;
        *ret_total = total;
        return 0;
}

/* Extent i from the server, with what plan_ranges adds to it in one request. */
static int from_server(struct assembly *a, size_t i, struct ingot_error *err) {
        const struct extent *e = &a->image.extents[i];
        const uint8_t *bytes = fetched_bytes(a, e);
        if (!bytes) {
                size_t n, total;
                a->n_parts = 0;
                int r = plan_ranges(a, i, &n, &total);
                if (r < 0)
                        return r;
                r = grow(&a->range_buf, &a->range_cap, total);
                if (r < 0)
                        return r;
                if (n > 1) {
                        struct ingot_error many = { 0 };
                        r = http_ranges_get_many(a->server, a->parts, n, a->range_buf, &many);
                        if (r == -EOPNOTSUPP) { /* one at a time from now on */
                                a->one_range = true;
                                n = 1;
                                total = a->parts[0].size;
                        } else if (r < 0) {
                                if (err)
                                        *err = many;
                                return r;
                        }
                }
                if (n == 1) {
                        r = http_ranges_get(a->server, a->parts[0].offset, a->parts[0].size, a->range_buf, err);
                        if (r < 0)
                                return r;
                }
                a->n_parts = n;
                a->stats.fetched += total;
                a->stats.ranges++;
                bytes = fetched_bytes(a, e);
        }
        if (!has_sha(bytes, e->size, e->sha256))
                return error_set(err, -EBADMSG,
                                 "%s: bytes %llu-%llu (%s) are not what the signed block index names: the server's "
                                 "image is not the one it signed",
                                 a->url, (unsigned long long) e->offset, (unsigned long long) (e->offset + e->size),
                                 extent_kind_name(e->kind));
        a->bytes = bytes;
        return 0;
}

int assembly_read(void *userdata, void *buf, size_t size, uint64_t offset, struct ingot_error *err) {
        struct assembly *a = userdata;
        if (offset != a->pos || size > a->size - offset)
                return error_set(err, -EINVAL, "%s: bytes %llu-%llu asked out of order", a->url,
                                 (unsigned long long) offset, (unsigned long long) (offset + size));
        uint8_t *out = buf;
        while (size > 0) {
                const struct extent *e = a->bytes ? &a->image.extents[a->cur] : NULL;
                if (!e || a->pos >= e->offset + e->size) {
                        size_t i = e ? a->cur + 1 : 0; /* the extents tile the image in order */
                        a->bytes = NULL;
                        e = &a->image.extents[i];
                        int r = a->fetch[i] ? 0 : from_seed(a, i, false);
                        if (r == 0)
                                r = from_server(a, i, err);
                        if (r < 0)
                                return r;
                        a->cur = i;
                }
                size_t k = (size_t) (e->offset + e->size - a->pos);
                if (k > size)
                        k = size;
                memcpy(out, a->bytes + (a->pos - e->offset), k);
                out += k;
                size -= k;
                a->pos += k;
        }
        return 0;
}
