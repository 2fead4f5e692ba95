/* sysext-base.c: the base image a layer is for, read from its manifest (json-c): identity, os-release
 * fields, architecture, root hash, the manifest's SHA-256 and its squashfs beside it. */
#include <json-c/json.h>
#include <string.h>

#include "json-util.h"
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
        _cleanup_json_ json_object *m = json_object_from_file(path);
        if (!m)
                return error_set(err, access(path, R_OK) < 0 ? -errno : -EBADMSG, "%s: %s", path,
                                 access(path, R_OK) < 0 ? strerror(errno) : "not a JSON manifest");
        json_object *os = NULL, *kind = NULL, *arts = NULL, *raw = NULL;
        (void) json_object_object_get_ex(m, "os_release", &os);
        _cleanup_(sysext_base_clear) struct sysext_base base = { 0 };
        base.manifest = strdup(path);
        base.name = jdup(m, "name");
        base.version = jdup(m, "version");
        base.architecture = jdup(m, "architecture");
        base.root_hash = jdup(m, "root_hash");
        base.id = jdup(os, "ID");
        base.version_id = jdup(os, "VERSION_ID");
        base.sysext_level = jdup(os, "SYSEXT_LEVEL");
        if (json_object_object_get_ex(m, "kind", &kind) && json_object_is_type(kind, json_type_string) &&
            strcmp(json_object_get_string(kind), "sysext") == 0) /* "kind": null gives kind NULL */
                return error_set(err, -EINVAL, "%s: the manifest of a sysext layer, not of a base image", path);
        if (!base.manifest || !base.name || !base.version || !base.architecture)
                return error_set(err, -EBADMSG, "%s: not an ingot image manifest (no name, version or architecture)",
                                 path);
        if (!base.id)
                return error_set(err, -EBADMSG, "%s: the base has no os-release ID, which a layer must match", path);
        uint64_t size;
        int r = sha256_file(path, base.manifest_sha256, &size);
        if (r < 0)
                return error_set(err, r, "%s: %s", path, strerror(-r));
        /* the base's squashfs, to know which files it has */
        if (json_object_object_get_ex(m, "artifacts", &arts) && json_object_object_get_ex(arts, "raw", &raw)) {
                _cleanup_free_ char *dir = dirname_dup(path), *file = jdup(raw, "file");
                if (dir && file && !strchr(file, '/')) {
                        base.image = path_join(dir, file);
                        if (base.image && access(base.image, R_OK) < 0) {
                                free(base.image);
                                base.image = NULL;
                        }
                }
        }
        *b = base;
        base = (struct sysext_base) { 0 }; /* b's now */
        return 0;
}
