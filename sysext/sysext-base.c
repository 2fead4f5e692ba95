/* sysext-base.c: the base image a layer is for, read from its manifest (json-c): identity, os-release
 * fields, architecture, root hash, the manifest's SHA-256 and its squashfs beside it. */
#include <json-c/json.h>
#include <string.h>

#include "signing.h"
#include "sysext-base.h"

void sysext_base_clear(struct sysext_base *b) {
        free(b->manifest);
        free(b->name);
        free(b->version);
        free(b->id);
        free(b->version_id);
        free(b->sysext_level);
        free(b->architecture);
        free(b->root_hash);
        free(b->image);
        *b = (struct sysext_base) { 0 };
}

static char *jdup(json_object *o, const char *key) {
        json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        const char *s = json_object_get_string(v);
        return *s ? strdup(s) : NULL;
}

int sysext_base_load(const char *path, struct sysext_base *b, struct ingot_error *err) {
        *b = (struct sysext_base) { 0 };
        json_object *m = json_object_from_file(path);
        if (!m)
                return error_set(err, access(path, R_OK) < 0 ? -errno : -EBADMSG, "%s: %s", path,
                                 access(path, R_OK) < 0 ? strerror(errno) : "not a JSON manifest");
        json_object *os = NULL, *kind = NULL, *arts = NULL, *raw = NULL;
        (void) json_object_object_get_ex(m, "os_release", &os);
        int r = 0;
        uint64_t size;
        b->manifest = strdup(path);
        b->name = jdup(m, "name");
        b->version = jdup(m, "version");
        b->architecture = jdup(m, "architecture");
        b->root_hash = jdup(m, "root_hash");
        b->id = jdup(os, "ID");
        b->version_id = jdup(os, "VERSION_ID");
        b->sysext_level = jdup(os, "SYSEXT_LEVEL");
        if (json_object_object_get_ex(m, "kind", &kind) && json_object_is_type(kind, json_type_string) &&
            strcmp(json_object_get_string(kind), "sysext") == 0) /* "kind": null gives kind NULL */
                r = error_set(err, -EINVAL, "%s: the manifest of a sysext layer, not of a base image", path);
        else if (!b->manifest || !b->name || !b->version || !b->architecture)
                r = error_set(err, -EBADMSG, "%s: not an ingot image manifest (no name, version or architecture)", path);
        else if (!b->id)
                r = error_set(err, -EBADMSG, "%s: the base has no os-release ID, which a layer must match", path);
        else if ((r = sha256_file(path, b->manifest_sha256, &size)) < 0)
                r = error_set(err, r, "%s: %s", path, strerror(-r));
        /* the base's squashfs, to know which files it has */
        if (r >= 0 && json_object_object_get_ex(m, "artifacts", &arts) && json_object_object_get_ex(arts, "raw", &raw)) {
                _cleanup_free_ char *dir = dirname_dup(path), *file = jdup(raw, "file");
                if (dir && file && !strchr(file, '/')) {
                        b->image = path_join(dir, file);
                        if (b->image && access(b->image, R_OK) < 0) {
                                free(b->image);
                                b->image = NULL;
                        }
                }
        }
        json_object_put(m);
        if (r < 0)
                sysext_base_clear(b);
        return r;
}
