/* content.c: the ordered [Content] operations (Copy, Remove, Mkdir, Symlink, Owner, Mode, Binaries)
 * applied to the image tree, and their shadow: the base paths they will remove or replace. */
#include <fnmatch.h>
#include <string.h>

#include "content.h"
#include "copy.h"
#include "ldd.h"

static int binary_libraries(struct build *b, const struct content_op *op, char ***ret) {
        return host_libraries(op->source, op->where, ret, b->err);
}

/* Records in the shadow tree what op will create at path (dir or not) or remove (mode 0; pattern: the
 * last name is a Remove= pattern). */
static int shadow_put(struct build *b, const char *path, mode_t mode, bool pattern) {
        struct path_entry *n, *old = path_set_lookup(b->shadow, path);
        bool whiteout = mode == 0 || (old && old->whiteout); /* what is made after a Remove= is new */
        int r = path_set_put(b->shadow, path, S_ISDIR(mode), &n);
        if (r == -ENOTDIR) /* beneath a replaced path: base entries there are gone already */
                return 0;
        if (r < 0)
                return r;
        n->whiteout = whiteout;
        n->pattern = pattern;
        if (pattern)
                n->parent->has_patterns = true;
        return 0;
}

/* Whether one of dir's Remove= patterns (in the shadow tree) matches the len bytes at name. As a
 * shell's glob, a wildcard does not match a leading dot. */
static bool shadow_pattern_matches(const struct path_entry *dir, const char *name, size_t len) {
        if (!dir->has_patterns || len > IMAGE_NAME_MAX)
                return false;
        char buf[IMAGE_NAME_MAX + 1];
        memcpy(buf, name, len);
        buf[len] = 0;
        for (size_t i = 0; i < dir->n_children; i++) {
                const struct path_entry *c = dir->children[i];
                if (c->pattern && c->whiteout && fnmatch(c->name, buf, FNM_PERIOD) == 0)
                        return true;
        }
        return false;
}

int content_prepare(struct build *b) {
        const struct ingot_recipe *rc = b->recipe;
        b->binary_libraries = calloc(rc->n_ops + 1, sizeof(char **));
        if (!b->binary_libraries)
                return -ENOMEM;
        int r = path_set_new(&b->shadow);
        if (r < 0)
                return r;
        r = path_set_new(&b->skipped);
        if (r < 0)
                return r;
        for (size_t i = 0; i < rc->n_ops; i++) {
                const struct content_op *op = &rc->ops[i];
                struct stat st;
                switch (op->kind) {
                case OP_COPY:
                        if (stat(op->source, &st) < 0)
                                return error_set(b->err, -errno, "%s: Copy source '%s': %s", op->where, op->source,
                                                 strerror(errno));
                        if (S_ISDIR(st.st_mode))
                                r = copy_shadow(b, op->source, op->path);
                        else
                                r = 0; /* a single file: its final path depends on the tree; no shadow */
                        break;
                case OP_REMOVE:
                        r = shadow_put(b, op->path, 0, op->pattern); /* a whiteout */
                        break;
                case OP_MKDIR:
                        r = shadow_put(b, op->path, S_IFDIR | 0755, false);
                        break;
                case OP_SYMLINK:
                        r = shadow_put(b, op->path, S_IFLNK | 0777, false);
                        break;
                case OP_BINARIES:
                        r = binary_libraries(b, op, &b->binary_libraries[i]);
                        if (r < 0)
                                return r;
                        r = shadow_put(b, op->path, S_IFREG | 0755, false);
                        break;
                case OP_OWNER:
                case OP_MODE:
                        r = 0;
                        break;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

bool content_shadowed(const struct build *b, const char *path, mode_t type) {
        if (!b->shadow)
                return false;
        const struct path_entry *root = &b->shadow->root, *cur = root;
        const char *p = path;
        for (;;) {
                while (*p == '/')
                        p++;
                if (cur->whiteout)
                        return true; /* removed, or below a removed path */
                if (!*p) /* the path itself is in the shadow */
                        return cur != root && !(cur->directory && (S_ISDIR(type) || S_ISLNK(type)));
                if (cur != root && !cur->directory)
                        return true; /* below a directory replaced by a file */
                const char *e = strchrnul(p, '/');
                if (shadow_pattern_matches(cur, p, (size_t) (e - p)))
                        return true; /* a Remove= pattern takes it, and all below */
                cur = path_set_child(cur, p, (size_t) (e - p));
                if (!cur)
                        return false;
                p = e;
        }
}

int content_skip(struct build *b, const char *path) {
        struct path_entry *n;
        int r = path_set_put(b->skipped, path, false, &n);
        return r == -ENOTDIR ? 0 : r; /* a parent was skipped already */
}

bool content_was_skipped(const struct build *b, const char *path) {
        const struct path_entry *root = &b->skipped->root, *cur = root;
        for (const char *p = path;;) {
                while (*p == '/')
                        p++;
                if (cur != root && !cur->implicit)
                        return true;
                if (!*p)
                        return false;
                const char *e = strchrnul(p, '/');
                cur = path_set_child(cur, p, (size_t) (e - p));
                if (!cur)
                        return false;
                p = e;
        }
}

static int put_host_file(struct build *b, const struct content_op *op, const char *host, const char *image,
                         mode_t mode_override) {
        struct stat st;
        if (stat(host, &st) < 0) /* follows symlinks: the image gets the file's content */
                return error_set(b->err, -errno, "%s: '%s': %s", op->where, host, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return error_set(b->err, -EINVAL, "%s: '%s' is not a regular file", op->where, host);
        _cleanup_free_ char *conflict = NULL, *real = realpath(host, NULL);
        if (!real)
                return error_set(b->err, -errno, "%s: '%s': %s", op->where, host, strerror(errno));
        struct node *n;
        int r = tree_put(b->tree, image, S_IFREG | (st.st_mode & 07777), TREE_REPLACE | TREE_FOLLOW_SYMLINKS, &n,
                         &conflict);
        if (r < 0)
                return build_put_error(b->err, r, op->where, image, conflict);
        n->mode = S_IFREG | (mode_override ? mode_override : (st.st_mode & 07777));
        n->uid = n->gid = 0;
        n->mtime = build_clamp_mtime(b, st.st_mtim.tv_sec);
        node_clear_xattrs(n);
        n->size = (uint64_t) st.st_size;
        n->host_path = TAKE_PTR(real);
        n->host_stat = malloc(sizeof(st));
        if (!n->host_stat)
                return -ENOMEM;
        *n->host_stat = st;
        n->data = DATA_HOST;
        return 0;
}

/* Remove=DIR/PATTERN: every entry of DIR (whose parents follow the image's symlinks) that the pattern
 * matches. Matching nothing is an error, unless what it matched was left out of the base already. */
static int remove_pattern(struct build *b, const struct content_op *op) {
        _cleanup_free_ char *dir = dirname_dup(op->path);
        if (!dir)
                return -ENOMEM;
        const char *pattern = strrchr(op->path, '/') + 1;
        size_t matched = 0;
        struct node *parent = tree_resolve(b->tree, dir);
        for (size_t i = parent && S_ISDIR(parent->mode) ? parent->n_children : 0; i-- > 0;)
                if (fnmatch(pattern, parent->children[i]->name, FNM_PERIOD) == 0) {
                        tree_remove(parent->children[i]); /* detaches it: the later children moved down */
                        matched++;
                }
        if (matched > 0 || content_was_skipped(b, dir))
                return 0;
        const struct path_entry *skipped = path_set_lookup(b->skipped, dir);
        for (size_t i = 0; skipped && i < skipped->n_children; i++)
                if (fnmatch(pattern, skipped->children[i]->name, FNM_PERIOD) == 0)
                        return 0;
        return error_set(b->err, -ENOENT, "%s: Remove=%s: matches nothing in the image", op->where, op->path);
}

static int apply_op(struct build *b, size_t index) {
        const struct content_op *op = &b->recipe->ops[index];
        struct node *n;
        _cleanup_free_ char *conflict = NULL;
        int r = -EINVAL;

        switch (op->kind) {
        case OP_COPY: {
                struct stat st;
                if (stat(op->source, &st) < 0)
                        return error_set(b->err, -errno, "%s: Copy source '%s': %s", op->where, op->source,
                                         strerror(errno));
                if (S_ISDIR(st.st_mode))
                        return copy_dir(b, op->source, op->path);
                /* A file copied onto a directory goes inside it, as cp does. */
                struct node *dst = tree_resolve(b->tree, op->path);
                _cleanup_free_ char *target = NULL;
                if (dst && S_ISDIR(dst->mode)) {
                        _cleanup_free_ char *dst_path = node_path(dst);
                        target = dst_path ? path_join(dst_path, strrchr(op->source, '/') + 1) : NULL;
                } else
                        target = strdup(op->path);
                if (!target)
                        return -ENOMEM;
                return put_host_file(b, op, op->source, target, 0);
        }
        case OP_REMOVE:
                if (op->pattern)
                        return remove_pattern(b, op);
                n = tree_lookup_resolving_parents(b->tree, op->path);
                if (!n && content_was_skipped(b, op->path))
                        return 0; /* a later operation removes or replaces it, so it was never added */
                if (!n)
                        return error_set(b->err, -ENOENT, "%s: Remove=%s: no such path in the image", op->where,
                                         op->path);
                tree_remove(n);
                return 0;
        case OP_MKDIR:
                n = tree_resolve(b->tree, op->path);
                if (n && S_ISDIR(n->mode)) { /* present, maybe through a symlink: as mkdir -p, plus the mode */
                        n->mode = S_IFDIR | op->mode;
                        return 0;
                }
                r = tree_put(b->tree, op->path, S_IFDIR | op->mode, TREE_REPLACE | TREE_FOLLOW_SYMLINKS, &n,
                             &conflict);
                if (r < 0)
                        break;
                n->mode = S_IFDIR | op->mode;
                return 0;
        case OP_SYMLINK:
                r = tree_put(b->tree, op->path, S_IFLNK | 0777, TREE_REPLACE | TREE_FOLLOW_SYMLINKS, &n, &conflict);
                if (r < 0)
                        break;
                free(n->symlink_target);
                n->symlink_target = strdup(op->target);
                n->uid = n->gid = 0;
                n->mtime = b->default_mtime;
                return n->symlink_target ? 0 : -ENOMEM;
        case OP_OWNER:
        case OP_MODE:
                n = tree_lookup_resolving_parents(b->tree, op->path);
                if (!n && content_was_skipped(b, op->path))
                        return 0;
                if (!n)
                        return error_set(b->err, -ENOENT, "%s: %s=%s: no such path in the image", op->where,
                                         content_op_name(op->kind), op->path);
                n = node_inode(n);
                if (op->kind == OP_OWNER) {
                        n->uid = op->uid;
                        n->gid = op->gid;
                } else {
                        if (S_ISLNK(n->mode))
                                return error_set(b->err, -EINVAL, "%s: Mode=%s: a symlink has no mode of its own",
                                                 op->where, op->path);
                        n->mode = (n->mode & S_IFMT) | op->mode;
                }
                return 0;
        case OP_BINARIES:
                r = put_host_file(b, op, op->source, op->path, 0);
                for (char **l = b->binary_libraries[index]; r >= 0 && l && *l; l++) {
                        _cleanup_free_ char *image = NULL;
                        r = image_path_normalize(*l, &image);
                        if (r < 0)
                                return error_set(b->err, r, "%s: ldd reported an odd path '%s'", op->where, *l);
                        r = put_host_file(b, op, *l, image, 0);
                }
                return r;
        }
        return error_set(b->err, r, "%s: %s=%s: %s%s%s", op->where, content_op_name(op->kind), op->path,
                         r == -ENOTDIR ? "a parent is not a directory" : strerror(-r), conflict ? ": " : "",
                         conflict ?: "");
}

int content_apply(struct build *b) {
        for (size_t i = 0; i < b->recipe->n_ops; i++) {
                if (build_cancelled(b))
                        return build_cancel_error(b->err);
                int r = apply_op(b, i);
                if (r < 0)
                        return r;
        }
        return 0;
}
