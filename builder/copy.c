/* copy.c: Copy= of a host directory, in the content operations' terms: the directory source's entries
 * merged into the image tree (owned by root, following the image's symlinks, data read once the tree is
 * final), and the shadow such a copy casts on the base before the base is taken. */
#include <search.h>
#include <string.h>

#include "copy.h"
#include "source.h"

/* The first name of a copied inode with several, as the source gave it, and the node it became. */
struct first_name {
        char *path;
        struct node *node;
};

static int compare_first_names(const void *a, const void *b) {
        return strcmp(((const struct first_name *) a)->path, ((const struct first_name *) b)->path);
}

static void first_name_free(void *p) {
        struct first_name *f = p;
        free(f->path);
        free(f);
}

static int remember_first_name(void **names, const char *path, struct node *n) {
        struct first_name *f = malloc(sizeof(*f));
        if (!f)
                return -ENOMEM;
        *f = (struct first_name) { .path = strdup(path), .node = n };
        if (!f->path || !tsearch(f, names, compare_first_names)) {
                first_name_free(f);
                return -ENOMEM;
        }
        return 0;
}

static int copy_entry(struct build *b, struct source *s, const struct source_entry *e, void **first_names,
                      struct ingot_error *err) {
        const char *host;
        const struct stat *st;
        source_dir_entry_host(s, &host, &st);
        const unsigned flags = TREE_REPLACE | TREE_FOLLOW_SYMLINKS;
        struct node *n;
        _cleanup_free_ char *conflict = NULL;
        int r;

        /* Hard links: a later name of an inode refers to the first, while that is in the tree. */
        struct first_name **found = NULL;
        if (e->hardlink) {
                found = tfind(&(struct first_name) { .path = (char *) e->hardlink }, first_names, compare_first_names);
                if (found && !(*found)->node->removed) {
                        r = tree_put(b->tree, e->path, (*found)->node->mode, flags, &n, &conflict);
                        if (r < 0)
                                return build_put_error(err, r, host, e->path, conflict);
                        n->link = node_inode((*found)->node);
                        return 0;
                }
        }

        /* A directory copied onto a symlink to a directory goes where it points (merged /usr): it stays a
         * symlink, and what the directory holds is put through it. */
        if (S_ISDIR(e->mode)) {
                struct node *here = tree_lookup_resolving_parents(b->tree, e->path);
                struct node *there = here && S_ISLNK(node_inode(here)->mode) ? tree_resolve(b->tree, e->path) : NULL;
                if (there && S_ISDIR(there->mode))
                        return 0;
        }

        /* An existing directory merged into keeps its own metadata: an overlay adds, it does not chmod. */
        struct node *existing = tree_resolve(b->tree, e->path);
        bool keep_metadata = existing && S_ISDIR(existing->mode) && S_ISDIR(e->mode) && !existing->implicit;

        r = tree_put(b->tree, e->path, e->mode, flags, &n, &conflict);
        if (r < 0)
                return build_put_error(err, r, host, e->path, conflict);
        if (!keep_metadata) {
                n->mode = e->mode;
                n->uid = n->gid = 0;
                n->mtime = build_clamp_mtime(b, e->mtime);
                node_clear_xattrs(n);
                for (size_t i = 0; i < e->n_xattrs; i++)
                        if ((r = node_add_xattr(n, e->xattrs[i].key, e->xattrs[i].value, e->xattrs[i].size)) < 0)
                                return r;
        }

        if (found) /* the first name was removed: this one carries the inode from here on */
                (*found)->node = n;
        else if (!S_ISDIR(e->mode) && e->nlink > 1 && (r = remember_first_name(first_names, e->path, n)) < 0)
                return r;

        switch (e->mode & S_IFMT) {
        case S_IFLNK:
                free(n->symlink_target);
                n->symlink_target = strdup(e->symlink);
                return n->symlink_target ? 0 : -ENOMEM;
        case S_IFBLK:
        case S_IFCHR:
                n->devno = node_devno(e->rdev_major, e->rdev_minor);
                return 0;
        case S_IFREG:
                free(n->host_path);
                free(n->host_stat);
                n->size = (uint64_t) st->st_size; /* e->size is 0 on a later name */
                n->host_path = strdup(host);
                n->host_stat = malloc(sizeof(*st));
                if (!n->host_path || !n->host_stat)
                        return -ENOMEM;
                *n->host_stat = *st;
                n->data = DATA_HOST;
                return 0;
        default:
                return 0;
        }
}

static int shadow_entry(struct build *b, struct source *s, const struct source_entry *e) {
        /* Only the shape matters: which image paths the copy will create, and of which kind. */
        struct path_entry *n;
        int r = path_set_put(b->shadow, e->path, S_ISDIR(e->mode), &n);
        if (r == -ENOTDIR) { /* beneath something already shadowed: nothing more to learn */
                if (S_ISDIR(e->mode))
                        s->ignore_subdir(s);
                return 0;
        }
        return r;
}

struct copy_walk {
        bool shadow;
        void *first_names;
};

static int walk_entry(struct build *b, struct source *s, const struct source_entry *e, void *userdata,
                      struct ingot_error *err) {
        struct copy_walk *w = userdata;
        return w->shadow ? shadow_entry(b, s, e) : copy_entry(b, s, e, &w->first_names, err);
}

/* Every entry of host_root at image_path through copy_entry, or with shadow through shadow_entry. */
static int copy_walk(struct build *b, const char *host_root, const char *image_path, bool shadow) {
        struct source *s;
        int r = source_dir_open(host_root, image_path, NULL, shadow ? SOURCE_DIR_SHAPE : 0, &s);
        if (r < 0)
                return r;
        struct copy_walk w = { .shadow = shadow };
        r = build_each_entry(b, s, walk_entry, &w);
        tdestroy(w.first_names, first_name_free);
        return r;
}

int copy_dir(struct build *b, const char *host_root, const char *image_path) {
        return copy_walk(b, host_root, image_path, false);
}

int copy_shadow(struct build *b, const char *host_root, const char *image_path) {
        return copy_walk(b, host_root, image_path, true);
}
