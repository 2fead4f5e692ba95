/* tree.c: the in-memory image tree. */
#include <sqfs/predef.h>
#include <string.h>
#include <sys/stat.h>

#include "tree.h"

#define SYMLINK_HOPS_MAX 40

static struct node *node_new(struct tree *t, const char *name, size_t len, mode_t mode) {
        _cleanup_free_ struct node *n = calloc(1, sizeof(*n));
        if (!n)
                return NULL;
        n->name = strndup(name, len);
        if (!n->name)
                return NULL;
        n->mode = mode;
        n->mtime = t->default_mtime;
        n->next_allocated = t->allocated;
        t->allocated = n;
        return TAKE_PTR(n);
}

static void node_free(struct node *n) {
        free(n->name);
        free(n->children);
        free(n->symlink_target);
        node_clear_xattrs(n);
        free(n->host_path);
        free(n->host_stat);
        free(n->memory);
        sqfs_free(n->inode);
        free(n);
}

int tree_new(uint32_t default_mtime, struct tree **ret_tree) {
        _cleanup_free_ struct tree *t = calloc(1, sizeof(*t)); /* no node yet: free() is enough */
        if (!t)
                return -ENOMEM;
        t->default_mtime = default_mtime;
        t->root = node_new(t, "", 0, S_IFDIR | 0755);
        if (!t->root)
                return -ENOMEM;
        t->root->implicit = true;
        *ret_tree = TAKE_PTR(t);
        return 0;
}

void tree_free(struct tree *t) {
        if (!t)
                return;
        for (struct node *n = t->allocated, *next; n; n = next) {
                next = n->next_allocated;
                node_free(n);
        }
        free(t);
}

/* Index of name among dir's children, or where it would go (*found = false). */
static size_t child_index(const struct node *dir, const char *name, size_t len, bool *found) {
        size_t lo = 0, hi = dir->n_children;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                const char *c = dir->children[mid]->name;
                int cmp = strncmp(c, name, len);
                if (cmp == 0)
                        cmp = c[len] ? 1 : 0;
                if (cmp == 0) {
                        *found = true;
                        return mid;
                }
                if (cmp < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *found = false;
        return lo;
}

struct node *tree_child(const struct node *dir, const char *name, size_t len) {
        bool found;
        size_t i = child_index(dir, name, len, &found);
        return found ? dir->children[i] : NULL;
}

static int child_insert(struct node *dir, struct node *n) {
        bool found;
        size_t i = child_index(dir, n->name, strlen(n->name), &found);
        if (found)
                return -EEXIST;
        if (dir->n_children == dir->allocated_children) {
                size_t cap = dir->allocated_children ? dir->allocated_children * 2 : 8;
                struct node **c = realloc(dir->children, cap * sizeof(*c));
                if (!c)
                        return -ENOMEM;
                dir->children = c;
                dir->allocated_children = cap;
        }
        memmove(dir->children + i + 1, dir->children + i, (dir->n_children - i) * sizeof(*dir->children));
        dir->children[i] = n;
        dir->n_children++;
        n->parent = dir;
        return 0;
}

struct node *node_inode(struct node *n) {
        return n->link ?: n;
}

static struct node *resolve(struct tree *t, struct node *cur, const char *p, bool follow_last, unsigned *hops) {
        if (*p == '/')
                cur = t->root;
        for (;;) {
                while (*p == '/')
                        p++;
                if (!*p)
                        return cur;
                const char *e = strchrnul(p, '/');
                size_t len = (size_t) (e - p);
                const char *rest = e;
                while (*rest == '/')
                        rest++;
                bool last = !*rest;

                if (len == 1 && p[0] == '.') {
                        p = e;
                        continue;
                }
                if (len == 2 && p[0] == '.' && p[1] == '.') { /* ".." stops at the image root */
                        cur = cur->parent ?: t->root;
                        p = e;
                        continue;
                }
                if (!S_ISDIR(cur->mode))
                        return NULL;
                struct node *child = tree_child(cur, p, len);
                if (!child)
                        return NULL;
                if (S_ISLNK(node_inode(child)->mode) && (!last || follow_last)) {
                        if (++*hops > SYMLINK_HOPS_MAX)
                                return NULL;
                        cur = resolve(t, cur, node_inode(child)->symlink_target, true, hops);
                        if (!cur)
                                return NULL;
                } else
                        cur = child;
                p = e;
        }
}

struct node *tree_resolve(struct tree *t, const char *path) {
        unsigned hops = 0;
        return resolve(t, t->root, path, true, &hops);
}

struct node *tree_lookup(struct tree *t, const char *path) {
        struct node *cur = t->root;
        const char *p = path;
        for (;;) {
                while (*p == '/')
                        p++;
                if (!*p)
                        return cur;
                if (!S_ISDIR(cur->mode))
                        return NULL;
                const char *e = strchrnul(p, '/');
                cur = tree_child(cur, p, (size_t) (e - p));
                if (!cur)
                        return NULL;
                p = e;
        }
}

static void mark_removed(struct node *n) {
        n->removed = true;
        for (size_t i = 0; i < n->n_children; i++)
                mark_removed(n->children[i]);
}

void tree_remove(struct node *n) {
        struct node *dir = n->parent;
        if (!dir || n->removed)
                return;
        bool found;
        size_t i = child_index(dir, n->name, strlen(n->name), &found);
        if (found) {
                memmove(dir->children + i, dir->children + i + 1, (dir->n_children - i - 1) * sizeof(*dir->children));
                dir->n_children--;
        }
        mark_removed(n);
}

char *node_path(const struct node *n) {
        if (!n->parent)
                return strdup("/");
        size_t len = 0;
        for (const struct node *i = n; i->parent; i = i->parent)
                len += strlen(i->name) + 1;
        char *s = malloc(len + 1);
        if (!s)
                return NULL;
        s[len] = 0;
        for (const struct node *i = n; i->parent; i = i->parent) {
                size_t l = strlen(i->name);
                len -= l;
                memcpy(s + len, i->name, l);
                s[--len] = '/';
        }
        return s;
}

int tree_put(struct tree *t, const char *path, mode_t mode, unsigned flags, struct node **ret_node,
             char **ret_conflict) {
        struct node *cur = t->root;
        const char *p = path;
        *ret_conflict = NULL;
        for (;;) {
                while (*p == '/')
                        p++;
                const char *e = strchrnul(p, '/');
                size_t len = (size_t) (e - p);
                const char *rest = e;
                while (*rest == '/')
                        rest++;

                if (len == 0) { /* the root itself */
                        if (!S_ISDIR(mode))
                                return -EISDIR;
                        if (!(flags & TREE_REPLACE) && !cur->implicit) {
                                *ret_conflict = strdup("/");
                                return -EEXIST;
                        }
                        cur->implicit = false;
                        *ret_node = cur;
                        return 0;
                }

                struct node *child = tree_child(cur, p, len);
                if (*rest) { /* an intermediate directory */
                        if (!child) {
                                child = node_new(t, p, len, S_IFDIR | 0755);
                                if (!child)
                                        return -ENOMEM;
                                child->implicit = true;
                                int r = child_insert(cur, child);
                                if (r < 0)
                                        return r;
                        } else if (S_ISLNK(node_inode(child)->mode) && (flags & TREE_FOLLOW_SYMLINKS)) {
                                unsigned hops = 0;
                                struct node *target = resolve(t, cur, node_inode(child)->symlink_target, true, &hops);
                                if (!target || !S_ISDIR(target->mode)) {
                                        *ret_conflict = node_path(child);
                                        return -ENOTDIR;
                                }
                                child = target;
                        } else if (!S_ISDIR(child->mode)) {
                                *ret_conflict = node_path(child);
                                return -ENOTDIR;
                        }
                        cur = child;
                        p = e;
                        continue;
                }

                if (child) {
                        if (!(flags & TREE_REPLACE) && !child->implicit) {
                                *ret_conflict = node_path(child);
                                return -EEXIST;
                        }
                        if (S_ISDIR(child->mode) && S_ISDIR(mode)) {
                                child->implicit = false;
                                child->mode = mode;
                                *ret_node = child;
                                return 0;
                        }
                        tree_remove(child);
                }
                struct node *n = node_new(t, p, len, mode);
                if (!n)
                        return -ENOMEM;
                int r = child_insert(cur, n);
                if (r < 0)
                        return r;
                *ret_node = n;
                return 0;
        }
}

int xattr_list_add(struct xattr **list, size_t *n, const char *key, const void *value, size_t size) {
        for (size_t i = 0; i < *n; i++)
                if (strcmp((*list)[i].key, key) == 0) { /* archives may repeat a key: the last wins */
                        void *v = malloc(size ?: 1);
                        if (!v)
                                return -ENOMEM;
                        memcpy(v, value, size);
                        free((*list)[i].value);
                        (*list)[i].value = v;
                        (*list)[i].size = size;
                        return 0;
                }
        struct xattr *x = realloc(*list, (*n + 1) * sizeof(*x));
        if (!x)
                return -ENOMEM;
        *list = x;
        _cleanup_free_ char *k = strdup(key);
        _cleanup_free_ void *v = malloc(size ?: 1);
        if (!k || !v)
                return -ENOMEM;
        memcpy(v, value, size);
        x[(*n)++] = (struct xattr) { .key = TAKE_PTR(k), .value = TAKE_PTR(v), .size = size };
        return 0;
}

void xattr_list_free(struct xattr **list, size_t *n) {
        for (size_t i = 0; i < *n; i++) {
                free((*list)[i].key);
                free((*list)[i].value);
        }
        free(*list);
        *list = NULL;
        *n = 0;
}

struct node *tree_lookup_resolving_parents(struct tree *t, const char *path) {
        _cleanup_free_ char *dir = dirname_dup(path);
        struct node *parent = dir ? tree_resolve(t, dir) : NULL;
        if (!parent || !S_ISDIR(parent->mode))
                return NULL;
        if (strcmp(path, "/") == 0)
                return t->root;
        const char *base = strrchr(path, '/') + 1;
        return tree_child(parent, base, strlen(base));
}

uint32_t node_devno(unsigned major, unsigned minor) {
        return (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
}

int node_add_xattr(struct node *n, const char *key, const void *value, size_t size) {
        return xattr_list_add(&n->xattrs, &n->n_xattrs, key, value, size);
}

void node_clear_xattrs(struct node *n) {
        xattr_list_free(&n->xattrs, &n->n_xattrs);
}

int tree_walk(struct node *n, tree_visit_t pre, tree_visit_t post, void *userdata) {
        int r;
        if (pre && (r = pre(n, userdata)) < 0)
                return r;
        for (size_t i = 0; i < n->n_children; i++)
                if ((r = tree_walk(n->children[i], pre, post, userdata)) < 0)
                        return r;
        if (post && (r = post(n, userdata)) < 0)
                return r;
        return 0;
}

/* A removed node's inode moves to the first surviving link in name order. */
static void inherit(struct node *heir, struct node *from) {
        heir->mode = from->mode;
        heir->uid = from->uid;
        heir->gid = from->gid;
        heir->mtime = from->mtime;
        heir->devno = from->devno;
        heir->data = from->data;
        heir->size = from->size;
        heir->symlink_target = TAKE_PTR(from->symlink_target);
        heir->xattrs = TAKE_PTR(from->xattrs);
        heir->n_xattrs = from->n_xattrs;
        from->n_xattrs = 0;
        heir->host_path = TAKE_PTR(from->host_path);
        heir->host_stat = TAKE_PTR(from->host_stat);
        heir->memory = TAKE_PTR(from->memory);
        if (from->data == DATA_WRITTEN)
                heir->inode_source = from->inode_source ?: from;
        heir->link = NULL;
        from->heir = heir;
}

static int compare_xattrs(const void *a, const void *b) {
        return strcmp(((const struct xattr *) a)->key, ((const struct xattr *) b)->key);
}

static int finalize_links(struct node *n, void *userdata) {
        (void) userdata;
        if (!n->link)
                return 0;
        struct node *target = n->link;
        while (target->removed) {
                if (!target->heir) {
                        inherit(n, target);
                        return 0;
                }
                target = target->heir;
        }
        n->link = target == n ? NULL : target;
        return 0;
}

static int reset_counts(struct node *n, void *userdata) {
        (void) userdata;
        n->nlink = S_ISDIR(n->mode) ? 2 : 1;
        if (n->n_xattrs > 1)
                qsort(n->xattrs, n->n_xattrs, sizeof(*n->xattrs), compare_xattrs);
        return 0;
}

static int count_links(struct node *n, void *userdata) {
        (void) userdata;
        if (n->link)
                n->link->nlink++;
        else if (S_ISDIR(n->mode) && n->parent)
                n->parent->nlink++;
        return 0;
}

int tree_finalize(struct tree *t) {
        int r = tree_walk(t->root, finalize_links, NULL, NULL);
        if (r < 0)
                return r;
        r = tree_walk(t->root, reset_counts, NULL, NULL);
        if (r < 0)
                return r;
        return tree_walk(t->root, count_links, NULL, NULL);
}
