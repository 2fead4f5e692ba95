/* block-index.c: the block index (block-index.h): extents recorded as the image writer writes them,
 * classified by the finished superblock's regions, and printed as JSON. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "block-index.h"
#include "json-util.h"
#include "signing.h"

static const char *const kind_names[] = {
        [EXTENT_SUPERBLOCK] = "superblock", [EXTENT_METADATA] = "metadata", [EXTENT_DATA] = "data",
        [EXTENT_FRAGMENT] = "fragment",     [EXTENT_PADDING] = "padding",
};

const char *extent_kind_name(enum extent_kind kind) {
        return (size_t) kind < ELEMENTSOF(kind_names) ? kind_names[kind] : "unknown";
}

void block_index_done(struct block_index *x) {
        free(x->extents);
        *x = (struct block_index) { 0 };
}

int block_index_record(struct block_index *x, uint64_t offset, const void *data, size_t size) {
        if (x->error || size == 0)
                return 0;
        if (size > UINT32_MAX) {
                x->error = -EFBIG;
                return 0;
        }
        struct extent *last = x->n > 0 ? &x->extents[x->n - 1] : NULL;
        uint64_t end = last ? last->offset + last->size : 0;
        if (offset != end) { /* only the rewrite of one whole extent (the superblock at the end) */
                for (size_t i = 0; i < x->n; i++)
                        if (x->extents[i].offset == offset && x->extents[i].size == size)
                                return sha256_digest(data, size, x->extents[i].sha256);
                x->error = -EINVAL;
                return 0;
        }
        if (x->n == x->allocated) {
                size_t a = x->allocated ? x->allocated * 2 : 1024;
                struct extent *e = reallocarray(x->extents, a, sizeof(*e));
                if (!e)
                        return -ENOMEM;
                x->extents = e;
                x->allocated = a;
        }
        struct extent *e = &x->extents[x->n];
        *e = (struct extent) { .offset = offset, .size = (uint32_t) size };
        int r = sha256_digest(data, size, e->sha256);
        if (r < 0)
                return r;
        x->n++;
        return 0;
}

void block_index_truncate(struct block_index *x, uint64_t size) {
        while (x->n > 0 && x->extents[x->n - 1].offset >= size)
                x->n--;
        if (x->n > 0 && x->extents[x->n - 1].offset + x->extents[x->n - 1].size > size)
                x->error = -EINVAL; /* cut inside an extent: never done by the block writer */
}

static bool is_fragment(const struct block_index_layout *l, uint64_t offset) {
        size_t lo = 0, hi = l->n_fragments;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (l->fragments[mid] == offset)
                        return true;
                if (l->fragments[mid] < offset)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return false;
}

int block_index_classify(struct block_index *x, const struct block_index_layout *l) {
        if (x->error)
                return x->error;
        uint64_t at = 0;
        for (size_t i = 0; i < x->n; i++) {
                struct extent *e = &x->extents[i];
                if (e->offset != at)
                        return -EBADMSG;
                at += e->size;
                if (e->offset == 0)
                        e->kind = EXTENT_SUPERBLOCK;
                else if (e->offset < l->data_start || (e->offset >= l->inode_table_start && e->offset < l->bytes_used))
                        e->kind = EXTENT_METADATA;
                else if (e->offset < l->inode_table_start)
                        e->kind = is_fragment(l, e->offset) ? EXTENT_FRAGMENT : EXTENT_DATA;
                else
                        e->kind = EXTENT_PADDING;
                /* no extent may straddle a region's end */
                uint64_t end = e->offset + e->size;
                if ((e->offset < l->data_start && end > l->data_start) ||
                    (e->offset < l->inode_table_start && end > l->inode_table_start) ||
                    (e->offset < l->bytes_used && end > l->bytes_used))
                        return -EBADMSG;
        }
        return at == l->size ? 0 : -EBADMSG;
}

int block_index_to_json(const struct block_index *x, const char *image_name, uint64_t image_size,
                        const char *root_hash, char **ret_text) {
        _cleanup_json_ json_object *root = json_object_new_object();
        json_object *extents = json_object_new_array_ext((int) x->n);
        if (!root || !extents) {
                json_object_put(extents);
                return -ENOMEM;
        }
        json_object_object_add(root, "kind", json_object_new_string(BLOCK_INDEX_KIND));
        json_object_object_add(root, "format", json_object_new_int(BLOCK_INDEX_FORMAT));
        json_object_object_add(root, "image", json_object_new_string(image_name));
        json_object_object_add(root, "size", json_object_new_int64((int64_t) image_size));
        json_object_object_add(root, "root_hash", json_object_new_string(root_hash));
        json_object_object_add(root, "compressor", json_object_new_int(x->settings.compressor));
        json_object_object_add(root, "level", json_object_new_int64(x->settings.level));
        json_object_object_add(root, "block_size", json_object_new_int64(x->settings.block_size));
        json_object_object_add(root, "extents", extents);
        for (size_t i = 0; i < x->n; i++) {
                const struct extent *e = &x->extents[i];
                bool block = e->kind == EXTENT_DATA || e->kind == EXTENT_FRAGMENT;
                if (block != e->has_content)
                        return -EBADMSG;
                char hex[65], content[65];
                hex_encode(e->sha256, sizeof(e->sha256), hex);
                json_object *a = json_object_new_array_ext(block ? 5 : 4);
                if (!a || json_object_array_add(extents, a) < 0) {
                        json_object_put(a);
                        return -ENOMEM;
                }
                json_object_array_add(a, json_object_new_int64((int64_t) e->offset));
                json_object_array_add(a, json_object_new_int64(e->size));
                json_object_array_add(a, json_object_new_string(extent_kind_name(e->kind)));
                json_object_array_add(a, json_object_new_string(hex));
                if (block) {
                        hex_encode(e->content_sha256, sizeof(e->content_sha256), content);
                        json_object_array_add(a, json_object_new_string(content));
                }
        }
        const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text || asprintf(ret_text, "%s\n", text) < 0)
                return -ENOMEM;
        return 0;
}

static int kind_by_name(const char *name) {
        for (size_t k = 0; k < ELEMENTSOF(kind_names); k++)
                if (strcmp(name, kind_names[k]) == 0)
                        return (int) k;
        return -1;
}

static bool parse_sha256(json_object *o, uint8_t ret[static 32]) {
        size_t n = 0;
        return json_object_is_type(o, json_type_string) && json_object_get_string_len(o) == 64 &&
               hex_decode(json_object_get_string(o), ret, 32, &n) >= 0 && n == 32;
}

/* Extent i of a, as [offset, size, kind, sha256], with a data or fragment block's content sha256 in
 * format 2, following the one that ended at *at. */
static int parse_extent(json_object *a, const char *name, int format, size_t i, uint64_t *at, struct extent *ret,
                        struct ingot_error *err) {
        json_object *f[5] = {};
        size_t len = json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
        for (size_t k = 0; k < len && k < 5; k++)
                f[k] = json_object_array_get_idx(a, k);
        int64_t offset = json_object_get_int64(f[0]), size = json_object_get_int64(f[1]);
        int kind = json_object_is_type(f[2], json_type_string) ? kind_by_name(json_object_get_string(f[2])) : -1;
        bool block = kind == EXTENT_DATA || kind == EXTENT_FRAGMENT;
        size_t want = format >= 2 && block ? 5 : 4;
        if (len != want || !json_object_is_type(f[0], json_type_int) || !json_object_is_type(f[1], json_type_int) ||
            (uint64_t) offset != *at || size <= 0 || size > UINT32_MAX || kind < 0 || !parse_sha256(f[3], ret->sha256) ||
            (want == 5 && !parse_sha256(f[4], ret->content_sha256)))
                return error_set(err, -EBADMSG,
                                 "%s: extent %zu is not [offset, size, kind, sha256%s] following the one before "
                                 "(at byte %llu)",
                                 name, i, want == 5 ? ", content sha256" : "", (unsigned long long) *at);
        ret->offset = (uint64_t) offset;
        ret->size = (uint32_t) size;
        ret->kind = (enum extent_kind) kind;
        ret->has_content = want == 5;
        *at += (uint64_t) size;
        return 0;
}

/* Format 2's settings: the compressor (a squashfs compression id), its level and the block size. */
static int parse_settings(json_object *root, const char *name, struct block_settings *ret, struct ingot_error *err) {
        json_object *c, *l, *b;
        if (!json_object_object_get_ex(root, "compressor", &c) || !json_object_is_type(c, json_type_int) ||
            !json_object_object_get_ex(root, "level", &l) || !json_object_is_type(l, json_type_int) ||
            !json_object_object_get_ex(root, "block_size", &b) || !json_object_is_type(b, json_type_int) ||
            json_object_get_int64(c) <= 0 || json_object_get_int64(c) > 255 || json_object_get_int64(l) < 0 ||
            json_object_get_int64(l) > 255 || json_object_get_int64(b) <= 0 || json_object_get_int64(b) > (1 << 20))
                return error_set(err, -EBADMSG, "%s: no \"compressor\", \"level\" and \"block_size\"", name);
        *ret = (struct block_settings) { .compressor = json_object_get_int(c),
                                         .level = (unsigned) json_object_get_int(l),
                                         .block_size = (uint32_t) json_object_get_int(b) };
        return 0;
}

int block_index_parse(const char *text, const char *name, struct block_index *ret, uint64_t *ret_size,
                      char ret_root_hash[static 129], struct ingot_error *err) {
        *ret = (struct block_index) { 0 };
        _cleanup_json_ json_object *root = json_tokener_parse(text);
        json_object *kind, *format, *size, *root_hash, *extents;
        if (!root || !json_object_is_type(root, json_type_object) || !json_object_object_get_ex(root, "kind", &kind) ||
            !json_object_is_type(kind, json_type_string) || strcmp(json_object_get_string(kind), BLOCK_INDEX_KIND) != 0)
                return error_set(err, -EBADMSG, "%s: not an %s", name, BLOCK_INDEX_KIND);
        int f = json_object_object_get_ex(root, "format", &format) && json_object_is_type(format, json_type_int)
                        ? json_object_get_int(format) : 0;
        if (f < 1 || f > BLOCK_INDEX_FORMAT)
                return error_set(err, -EBADMSG, "%s: not of format 1 to %d", name, BLOCK_INDEX_FORMAT);
        if (!json_object_object_get_ex(root, "size", &size) || !json_object_is_type(size, json_type_int) ||
            json_object_get_int64(size) <= 0 || !json_object_object_get_ex(root, "root_hash", &root_hash) ||
            !json_object_is_type(root_hash, json_type_string) || json_object_get_string_len(root_hash) > 128 ||
            !json_object_object_get_ex(root, "extents", &extents) || !json_object_is_type(extents, json_type_array))
                return error_set(err, -EBADMSG, "%s: no \"size\", \"root_hash\" or \"extents\"", name);
        _cleanup_(block_index_done) struct block_index x = { .n = json_object_array_length(extents) };
        if (f >= 2) {
                int r = parse_settings(root, name, &x.settings, err);
                if (r < 0)
                        return r;
        }
        if (!(x.extents = calloc(x.n ? x.n : 1, sizeof(*x.extents))))
                return -ENOMEM;
        x.allocated = x.n;
        uint64_t at = 0;
        for (size_t i = 0; i < x.n; i++) {
                int r = parse_extent(json_object_array_get_idx(extents, i), name, f, i, &at, &x.extents[i], err);
                if (r < 0)
                        return r;
        }
        if (at != (uint64_t) json_object_get_int64(size))
                return error_set(err, -EBADMSG, "%s: the extents end at byte %llu, the image at %lld", name,
                                 (unsigned long long) at, (long long) json_object_get_int64(size));
        *ret_size = at;
        snprintf(ret_root_hash, 129, "%s", json_object_get_string(root_hash));
        *ret = x;
        x = (struct block_index) { 0 };
        return 0;
}
