/* tree.h: the image tree: every entry of the image-to-be with its metadata, children sorted by
 * name, hard links, and where each regular file's data is (already compressed, on the host, in memory). */
#pragma once

#include <sys/types.h>

#include "util.h"

typedef struct sqfs_inode_generic_t sqfs_inode_generic_t;

struct xattr {
        char *key;
        void *value;
        size_t size;
};

/* A list of extended attributes: xattr_list_add copies key and value (a key given again replaces its
 * value), xattr_list_free frees it all and leaves it empty. */
int xattr_list_add(struct xattr **list, size_t *n, const char *key, const void *value, size_t size);
void xattr_list_free(struct xattr **list, size_t *n);

enum file_data {
        DATA_NONE,     /* empty, or not a regular file */
        DATA_WRITTEN,  /* handed to the block processor; node->inode describes it */
        DATA_HOST,     /* to be read from node->host_path at the end */
        DATA_MEMORY,   /* node->memory, e.g. a generated os-release */
};

struct node {
        char *name;
        struct node *parent;
        struct node **children;
        size_t n_children, allocated_children;

        mode_t mode; /* type and permission bits */
        uint32_t uid, gid;
        uint32_t mtime;
        uint32_t devno; /* Linux new_encode_dev() form, as squashfs stores it */
        char *symlink_target;
        struct xattr *xattrs;
        size_t n_xattrs;

        struct node *link; /* this entry is a hard link to that node */
        bool implicit;     /* a parent directory nobody described yet */
        bool removed;      /* detached; kept so hard links to it can take its inode over */
        struct node *heir; /* the link that took over a removed node's inode */

        enum file_data data;
        uint64_t size;
        char *host_path;
        struct stat *host_stat; /* what the walk saw, to notice changes while reading */
        void *memory;
        /* Kept where the block processor was told to update it, until the processor is finished. */
        sqfs_inode_generic_t *inode;
        struct node *inode_source; /* an heir's inode still lives in the removed node */

        /* set while serializing */
        uint32_t nlink, inode_num, xattr_idx;
        uint64_t inode_ref;

        struct node *next_allocated;
};

struct tree {
        struct node *root;
        struct node *allocated; /* every node ever made, for freeing */
        uint32_t default_mtime; /* for implicit directories */
};

int tree_new(uint32_t default_mtime, struct tree **ret_tree);
void tree_free(struct tree *tree);

/* Canonical image path ("/a/b") to node; NULL when absent. Symlinks are not followed. */
struct node *tree_lookup(struct tree *tree, const char *path);

enum tree_put_flags {
        TREE_FOLLOW_SYMLINKS = 1 << 0, /* resolve symlinked parent directories inside the image */
        TREE_REPLACE = 1 << 1,         /* an existing entry is replaced (directories merge) */
};

/* Creates (or, with TREE_REPLACE, replaces) the entry at path, creating implicit parents.
 * A directory put over a directory keeps the children. -EEXIST when present without TREE_REPLACE,
 * unless the present one is implicit. On error, ret_conflict names the offending path. */
int tree_put(struct tree *tree, const char *path, mode_t mode, unsigned flags, struct node **ret_node,
             char **ret_conflict);

/* The child of dir named by the len bytes at name; NULL when absent. */
struct node *tree_child(const struct node *dir, const char *name, size_t len);

/* The entry at path, its parents resolved following symlinks inside the image (as a shell in a chroot
 * would) and its last name not; NULL when absent. */
struct node *tree_lookup_resolving_parents(struct tree *tree, const char *path);

/* Resolves path following symlinks inside the image (for Binaries= and content ops). */
struct node *tree_resolve(struct tree *tree, const char *path);

void tree_remove(struct node *node);
int node_add_xattr(struct node *node, const char *key, const void *value, size_t size);
void node_clear_xattrs(struct node *node);
/* A device number in the form squashfs stores (Linux's new_encode_dev()). */
uint32_t node_devno(unsigned major, unsigned minor);
/* The path of node, for messages. */
char *node_path(const struct node *node);
/* The node that carries the inode: itself, or what it is a hard link to. */
struct node *node_inode(struct node *node);

/* After all changes: hand the inode of removed link targets to a surviving link, sort xattrs,
 * and count links. */
int tree_finalize(struct tree *tree);

/* Depth-first in name order; a callback's negative return stops the walk. */
typedef int (*tree_visit_t)(struct node *node, void *userdata);
int tree_walk(struct node *root, tree_visit_t pre, tree_visit_t post, void *userdata);
