/* path-set.c: a set of image paths as a tree of names (path-set.h): sorted children found by binary
 * search, implicit parents, replacement of what a put lands on. */
#include <errno.h>
#include <string.h>

#include "path-set.h"

static void entry_free(struct path_entry *e) {
        for (size_t i = 0; i < e->n_children; i++) {
                entry_free(e->children[i]);
                free(e->children[i]);
        }
        free(e->children);
        free(e->name);
}

int path_set_new(struct path_set **ret) {
        struct path_set *set = calloc(1, sizeof(*set));
        if (!set)
                return -ENOMEM;
        set->root.directory = true;
        set->root.implicit = true;
        *ret = set;
        return 0;
}

void path_set_free(struct path_set *set) {
        if (!set)
                return;
        entry_free(&set->root);
        free(set);
}

static int name_cmp(const char *name, size_t len, const char *other) {
        int c = strncmp(name, other, len);
        return c != 0 ? c : (other[len] ? -1 : 0);
}

/* Where the len bytes at name are, or would go, among dir's children. */
static size_t child_index(const struct path_entry *dir, const char *name, size_t len, bool *ret_found) {
        size_t lo = 0, hi = dir->n_children;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = name_cmp(name, len, dir->children[mid]->name);
                if (c == 0) {
                        *ret_found = true;
                        return mid;
                }
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        *ret_found = false;
        return lo;
}

struct path_entry *path_set_child(const struct path_entry *dir, const char *name, size_t len) {
        bool found;
        size_t i = child_index(dir, name, len, &found);
        return found ? dir->children[i] : NULL;
}

static int child_add(struct path_entry *dir, size_t at, const char *name, size_t len, struct path_entry **ret) {
        if (dir->n_children == dir->allocated_children) {
                size_t a = dir->allocated_children ? dir->allocated_children * 2 : 4;
                struct path_entry **c = reallocarray(dir->children, a, sizeof(*c));
                if (!c)
                        return -ENOMEM;
                dir->children = c;
                dir->allocated_children = a;
        }
        _cleanup_free_ struct path_entry *e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->name = strndup(name, len);
        if (!e->name)
                return -ENOMEM;
        e->parent = dir;
        memmove(dir->children + at + 1, dir->children + at, (dir->n_children - at) * sizeof(*dir->children));
        dir->children[at] = e;
        dir->n_children++;
        *ret = TAKE_PTR(e);
        return 0;
}

int path_set_put(struct path_set *set, const char *path, bool directory, struct path_entry **ret) {
        struct path_entry *cur = &set->root;
        for (const char *p = path;;) {
                while (*p == '/')
                        p++;
                const char *e = strchrnul(p, '/');
                size_t len = (size_t) (e - p);
                const char *rest = e + strspn(e, "/");
                if (len == 0) { /* the root itself */
                        if (!directory)
                                return -EISDIR;
                        cur->implicit = false;
                        *ret = cur;
                        return 0;
                }

                bool found;
                size_t i = child_index(cur, p, len, &found);
                struct path_entry *child = found ? cur->children[i] : NULL;
                if (*rest) { /* an intermediate directory */
                        if (!child) {
                                int r = child_add(cur, i, p, len, &child);
                                if (r < 0)
                                        return r;
                                child->directory = child->implicit = true;
                        } else if (!child->directory)
                                return -ENOTDIR;
                        cur = child;
                        p = e;
                        continue;
                }

                if (child && child->directory && directory) {
                        child->implicit = false;
                        *ret = child;
                        return 0;
                }
                if (child) { /* replaced: what was there goes, with all below it */
                        entry_free(child);
                        *child = (struct path_entry) { .parent = cur };
                        child->name = strndup(p, len);
                        if (!child->name)
                                return -ENOMEM;
                } else {
                        int r = child_add(cur, i, p, len, &child);
                        if (r < 0)
                                return r;
                }
                child->directory = directory;
                *ret = child;
                return 0;
        }
}

struct path_entry *path_set_lookup(struct path_set *set, const char *path) {
        struct path_entry *cur = &set->root;
        for (const char *p = path;;) {
                while (*p == '/')
                        p++;
                if (!*p)
                        return cur;
                const char *e = strchrnul(p, '/');
                cur = path_set_child(cur, p, (size_t) (e - p));
                if (!cur)
                        return NULL;
                p = e;
        }
}
