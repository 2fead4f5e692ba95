/* sysext.c: the layer side of a build: extension-release written from the base image's manifest, the
 * layer's content held to /usr and /opt, and none of the base's files replaced unless allowed. */
#include <json-c/json.h>
#include <string.h>
#include <sys/stat.h>

#include "os-release.h"
#include "sysext-check.h"
#include "sysext.h"

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
        int q = sysext_release_text(b->recipe, b->layer->userdata, &text);
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
        const struct sysext_base *base = b->layer->userdata;
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
