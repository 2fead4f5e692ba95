/* sysext.c: the layer side of a build: the base image's manifest read (json-c), extension-release
 * written from it, and the layer's content held to /usr and /opt. */
#include <json-c/json.h>
#include <string.h>
#include <sys/stat.h>

#include "signing.h"
#include "sysext.h"

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

int sysext_release_text(const struct ingot_recipe *r, const struct sysext_base *base, char **ret) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "ID=%s\n", base->id);
        if (r->sysext_level)
                fprintf(f, "SYSEXT_LEVEL=%s\n", r->sysext_level);
        else if (base->version_id)
                fprintf(f, "VERSION_ID=%s\n", base->version_id);
        fprintf(f, "ARCHITECTURE=%s\nSYSEXT_SCOPE=", base->architecture);
        for (char **s = r->sysext_scopes; s && *s; s++)
                fprintf(f, "%s%s", s == r->sysext_scopes ? "" : " ", *s);
        fprintf(f, "%s\nSYSEXT_ID=%s\nSYSEXT_VERSION_ID=%s\n", r->sysext_scopes ? "" : "system", r->name, r->version);
        if (fclose(f) != 0) {
                free(text);
                return -ENOMEM;
        }
        *ret = text;
        return 0;
}

int sysext_release_write(struct build *b) {
        char *text = NULL;
        int q = sysext_release_text(b->recipe, b->sysext_base, &text);
        if (q < 0)
                return q;
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/extension-release.%s", EXTENSION_RELEASE_DIR, b->recipe->name) < 0) {
                free(text);
                return -ENOMEM;
        }
        q = build_put_generated(b, path, text, strlen(text));
        if (q < 0)
                return q;
        struct node *n = tree_lookup(b->tree, path);
        return n ? node_add_xattr(n, "user.extension-release.strict", "0", 1) : -ENOENT;
}

/* The recipe line that put path into the image (the last operation that did), or NULL. */
static const char *origin(const struct build *b, const char *path) {
        const struct ingot_recipe *r = b->recipe;
        const char *found = NULL;
        for (size_t i = 0; i < r->n_ops; i++) {
                const struct content_op *op = &r->ops[i];
                size_t n = strcmp(op->path, "/") == 0 ? 0 : strlen(op->path);
                bool under = strncmp(path, op->path, n) == 0 && (path[n] == 0 || path[n] == '/');
                if (under && op->kind == OP_COPY) { /* only if the source has it */
                        _cleanup_free_ char *p = path_join(op->source, path + n);
                        struct stat st;
                        under = p && lstat(p, &st) == 0;
                }
                for (char **l = b->binary_libraries ? b->binary_libraries[i] : NULL; l && *l && !under; l++)
                        under = strcmp(*l, path) == 0;
                if (under && op->kind != OP_REMOVE)
                        found = op->where;
        }
        return found ?: (r->base != BASE_NONE ? r->base_where : NULL);
}

int sysext_check_tree(struct build *b) {
        struct node *root = b->tree->root;
        for (size_t i = 0; i < root->n_children; i++) {
                struct node *n = root->children[i];
                bool hierarchy = strcmp(n->name, "usr") == 0 || strcmp(n->name, "opt") == 0;
                if (hierarchy && S_ISDIR(n->mode))
                        continue;
                /* name the first file down there: what the user will recognise */
                struct node *leaf = n;
                while (S_ISDIR(leaf->mode) && leaf->n_children)
                        leaf = leaf->children[0];
                _cleanup_free_ char *path = node_path(leaf);
                const char *where = path ? origin(b, path) : NULL;
                return error_set(b->err, -EINVAL, "%s%s%s: a layer holds only /usr and /opt (systemd-sysext merges "
                                 "nothing else)%s",
                                 where ? where : "", where ? ": " : "", path ?: n->name,
                                 hierarchy ? ", as directories" : "");
        }
        struct node *os = tree_lookup(b->tree, OS_RELEASE);
        if (os)
                return error_set(b->err, -EINVAL, "%s: systemd-sysext refuses a layer with an os-release; its "
                                 "identity is %s/extension-release.%s", OS_RELEASE, EXTENSION_RELEASE_DIR,
                                 b->recipe->name);
        return 0;
}

int sysext_check_shadowing(struct build *b, int layer_fd) {
        const struct ingot_recipe *r = b->recipe;
        const struct sysext_base *base = b->sysext_base;
        struct ingot_error *err = b->err;
        if (!base->image) /* a manifest without its image: sysext check says so */
                return 0;
        _cleanup_strv_free_ char **shadowed = NULL, **allowed = NULL;
        int q = sysext_shadowed(layer_fd, 0, 0, base->image, r->shadow_allowed, &shadowed, &allowed, err);
        if (q < 0)
                return q;
        size_t refused = strv_length(shadowed) - strv_length(allowed);
        for (char **p = shadowed; p && *p; p++)
                if (!strv_contains(allowed, *p))
                        return error_set(err, -EEXIST, "%s: %s replaces what the base image %s %s has there (%zu "
                                         "path%s in all); name it in [Extension] AllowShadow= if that is meant",
                                         origin(b, *p) ?: r->path, *p, base->name, base->version, refused,
                                         refused == 1 ? "" : "s");
        return 0;
}
