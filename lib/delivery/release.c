/* release.c: the release index (docs/delivery.md): parsed and validated for installers, which also refuse
 * it once expired, written for `ingot publish`, its entries kept newest first in systemd's version order. */
#include <json-c/json.h>
#include <string.h>

#include "json-util.h"
#include "release.h"

void release_index_clear(struct release_index *idx) {
        free(idx->entries);
        *idx = (struct release_index) { 0 };
}

static int newest_first(const void *a, const void *b) {
        const struct release_entry *x = a, *y = b;
        int c = version_compare(y->version, x->version);
        return c ? c : strcmp(x->name, y->name);
}

const struct release_entry *release_index_find(const struct release_index *idx, const char *version) {
        for (size_t i = 0; i < idx->n; i++)
                if (strcmp(idx->entries[i].version, version) == 0)
                        return &idx->entries[i];
        return NULL;
}

int release_index_put(struct release_index *idx, const struct release_entry *e) {
        for (size_t i = 0; i < idx->n; i++)
                if (strcmp(idx->entries[i].name, e->name) == 0 && strcmp(idx->entries[i].version, e->version) == 0) {
                        idx->entries[i] = *e;
                        return 0;
                }
        struct release_entry *n = realloc(idx->entries, (idx->n + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        idx->entries = n;
        idx->entries[idx->n++] = *e;
        qsort(idx->entries, idx->n, sizeof(*idx->entries), newest_first);
        return 0;
}

static bool is_hex(const char *s, size_t min, size_t max) {
        size_t n = strlen(s);
        return n >= min && n <= max && strspn(s, "0123456789abcdef") == n;
}

/* A file beside the index: one name, no '/', not hidden. */
static bool is_file_name(const char *s) {
        return *s && *s != '.' && !strchr(s, '/') && !strchr(s, '\\') && strcspn(s, "?#%") == strlen(s);
}

static int get_string(json_object *o, const char *key, char *out, size_t size, bool optional, const char *name,
                      size_t i, struct ingot_error *err) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
                if (optional) {
                        *out = 0;
                        return 0;
                }
                return error_set(err, -EBADMSG, "%s: version entry %zu has no \"%s\"", name, i, key);
        }
        const char *s = json_object_get_string(v);
        if (!json_object_is_type(v, json_type_string) || strlen(s) >= size || !*s)
                return error_set(err, -EBADMSG, "%s: version entry %zu: \"%s\" is not a string of at most %zu bytes",
                                 name, i, key, size - 1);
        memcpy(out, s, strlen(s) + 1);
        return 0;
}

static int get_size(json_object *o, const char *key, uint64_t *out, const char *name, size_t i,
                    struct ingot_error *err) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int) ||
            json_object_get_int64(v) <= 0)
                return error_set(err, -EBADMSG, "%s: version entry %zu: \"%s\" is not a positive integer", name, i, key);
        *out = (uint64_t) json_object_get_int64(v);
        return 0;
}

static int parse_entry(json_object *o, const char *name, size_t i, struct release_entry *e, struct ingot_error *err) {
        *e = (struct release_entry) { 0 };
        if (!json_object_is_type(o, json_type_object))
                return error_set(err, -EBADMSG, "%s: version entry %zu is not an object", name, i);
        const struct { const char *key; char *out; size_t size; } strings[] = {
                { "name", e->name, sizeof(e->name) },           { "version", e->version, sizeof(e->version) },
                { "image", e->image, sizeof(e->image) },        { "verity", e->verity, sizeof(e->verity) },
                { "roothash", e->roothash, sizeof(e->roothash) }, { "signature", e->signature, sizeof(e->signature) },
                { "root_hash", e->root_hash, sizeof(e->root_hash) }, { "signer", e->signer, sizeof(e->signer) },
                { "sha256", e->sha256, sizeof(e->sha256) },
        };
        for (size_t k = 0; k < ELEMENTSOF(strings); k++) {
                int r = get_string(o, strings[k].key, strings[k].out, strings[k].size, false, name, i, err);
                if (r < 0)
                        return r;
        }
        const struct { const char *key; char *out; size_t size; } optional[] = {
                { "manifest", e->manifest, sizeof(e->manifest) },
                { "blocks", e->blocks, sizeof(e->blocks) },
                { "blocks_sha256", e->blocks_sha256, sizeof(e->blocks_sha256) },
        };
        for (size_t k = 0; k < ELEMENTSOF(optional); k++) {
                int r = get_string(o, optional[k].key, optional[k].out, optional[k].size, true, name, i, err);
                if (r < 0)
                        return r;
        }
        if (!*e->blocks != !*e->blocks_sha256 || (*e->blocks_sha256 && !is_hex(e->blocks_sha256, 64, 64)))
                return error_set(err, -EBADMSG, "%s: version %s: \"blocks\" comes with its \"blocks_sha256\" in hex",
                                 name, e->version);
        int r = get_size(o, "size", &e->size, name, i, err);
        if (r < 0)
                return r;
        r = get_size(o, "verity_size", &e->verity_size, name, i, err);
        if (r < 0)
                return r;
        const char *files[] = { e->image, e->verity, e->roothash, e->signature, e->manifest, e->blocks };
        for (size_t k = 0; k < ELEMENTSOF(files); k++)
                if (*files[k] && !is_file_name(files[k]))
                        return error_set(err, -EBADMSG, "%s: version %s: '%s' is not a file name beside the index",
                                         name, e->version, files[k]);
        if (!is_hex(e->root_hash, 64, 128) || !is_hex(e->signer, 64, 64) || !is_hex(e->sha256, 64, 64))
                return error_set(err, -EBADMSG, "%s: version %s: root_hash, signer and sha256 must be lowercase hex",
                                 name, e->version);
        return 0;
}

/* The head of an index: its kind, format and expiry. Whatever the trusted key signed gets this far, so
 * anything but a release index of this format is refused saying what it is. */
static int parse_head(json_object *root, const char *name, enum release_reader reader, struct release_index *ret,
                      struct ingot_error *err) {
        bool installer = reader == RELEASE_INSTALLER;
        json_object *kind, *format, *expires, *list;
        int f = json_object_object_get_ex(root, "format", &format) && json_object_is_type(format, json_type_int)
                        ? json_object_get_int(format)
                        : 0;
        if (!json_object_object_get_ex(root, "kind", &kind)) {
                bool format1 = f == 1 && json_object_object_get_ex(root, "versions", &list) &&
                               json_object_is_type(list, json_type_array);
                if (format1 && !installer)
                        return 0; /* publish writes it again as format 2 */
                if (format1)
                        return error_set(err, -EBADMSG, "%s: a release index of format 1, which has no expiry; "
                                         "this ingot reads format %d: the publisher must publish again", name,
                                         RELEASE_FORMAT);
                if (installer)
                        return error_set(err, -EBADMSG, "%s: a signed JSON with no \"kind\", not a release index",
                                         name);
                return error_set(err, -EBADMSG, "%s: no \"kind\": not a release index", name);
        }
        if (!json_object_is_type(kind, json_type_string))
                return error_set(err, -EBADMSG, "%s: \"kind\" is not a string: not a release index", name);
        const char *k = json_object_get_string(kind);
        if (strcmp(k, RELEASE_KIND) != 0)
                return installer ? error_set(err, -EBADMSG, "%s: a signed %.64s, not a release index", name, k)
                                 : error_set(err, -EBADMSG, "%s: of kind '%.64s', not a release index", name, k);
        if (f > RELEASE_FORMAT)
                return error_set(err, -EBADMSG, "%s: a release index of format %d; this ingot reads format %d: "
                                 "update it", name, f, RELEASE_FORMAT);
        if (f != RELEASE_FORMAT)
                return error_set(err, -EBADMSG, "%s: not a release index of format %d", name, RELEASE_FORMAT);
        if (!json_object_object_get_ex(root, "expires", &expires) || !json_object_is_type(expires, json_type_string) ||
            utc_time_parse(json_object_get_string(expires), &ret->expires) < 0)
                return error_set(err, -EBADMSG, "%s: \"expires\" is not a UTC time such as 2026-12-10T00:00:00Z", name);
        return 0;
}

int release_index_parse(const char *text, const char *name, enum release_reader reader, struct release_index *ret,
                        struct ingot_error *err) {
        *ret = (struct release_index) { 0 };
        _cleanup_json_ json_object *root = json_tokener_parse(text);
        if (!root || !json_object_is_type(root, json_type_object))
                return error_set(err, -EBADMSG, "%s: not a JSON object", name);
        _cleanup_(release_index_clear) struct release_index idx = { 0 };
        int r = parse_head(root, name, reader, &idx, err);
        if (r < 0)
                return r;
        json_object *v, *list;
        if (json_object_object_get_ex(root, "min_version", &v) && json_object_is_type(v, json_type_string))
                snprintf(idx.min_version, sizeof(idx.min_version), "%s", json_object_get_string(v));
        if (!json_object_object_get_ex(root, "versions", &list) || !json_object_is_type(list, json_type_array))
                return error_set(err, -EBADMSG, "%s: no \"versions\" array", name);
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                struct release_entry e;
                r = parse_entry(json_object_array_get_idx(list, i), name, i, &e, err);
                if (r < 0)
                        return r;
                r = release_index_put(&idx, &e);
                if (r < 0)
                        return r;
        }
        *ret = idx;
        idx = (struct release_index) { 0 }; /* ret's now */
        return 0;
}

int release_index_check_expiry(const struct release_index *idx, const char *name, int64_t now,
                               struct ingot_error *err) {
        if (now < idx->expires)
                return 0;
        char at[UTC_TIME_SIZE], clock[UTC_TIME_SIZE];
        utc_time_format(idx->expires, at);
        utc_time_format(now, clock);
        return error_set(err, -ESTALE, "%s: expired at %s (now %s): a stale or replayed index; the publisher must "
                         "publish again", name, at, clock);
}

int release_index_format(const struct release_index *idx, char **ret_text) {
        _cleanup_json_ json_object *root = json_object_new_object();
        json_object *list = json_object_new_array();
        char expires[UTC_TIME_SIZE];
        utc_time_format(idx->expires, expires);
        json_object_object_add(root, "kind", json_object_new_string(RELEASE_KIND));
        json_object_object_add(root, "format", json_object_new_int(RELEASE_FORMAT));
        json_object_object_add(root, "expires", json_object_new_string(expires));
        json_object_object_add(root, "min_version", *idx->min_version ? json_object_new_string(idx->min_version) : NULL);
        for (size_t i = 0; i < idx->n; i++) {
                const struct release_entry *e = &idx->entries[i];
                json_object *o = json_object_new_object();
                const struct { const char *key, *value; } strings[] = {
                        { "name", e->name },           { "version", e->version },     { "image", e->image },
                        { "verity", e->verity },       { "roothash", e->roothash },   { "signature", e->signature },
                        { "manifest", e->manifest },   { "root_hash", e->root_hash }, { "signer", e->signer },
                        { "sha256", e->sha256 },
                };
                for (size_t k = 0; k < ELEMENTSOF(strings); k++)
                        json_object_object_add(o, strings[k].key,
                                               *strings[k].value ? json_object_new_string(strings[k].value) : NULL);
                json_object_object_add(o, "size", json_object_new_int64((int64_t) e->size));
                json_object_object_add(o, "verity_size", json_object_new_int64((int64_t) e->verity_size));
                if (*e->blocks) { /* images built before block indexes have none */
                        json_object_object_add(o, "blocks", json_object_new_string(e->blocks));
                        json_object_object_add(o, "blocks_sha256", json_object_new_string(e->blocks_sha256));
                }
                json_object_array_add(list, o);
        }
        json_object_object_add(root, "versions", list);
        const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                     JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s || asprintf(ret_text, "%s\n", s) < 0)
                return -ENOMEM;
        return 0;
}
