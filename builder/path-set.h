/* path-set.h: a set of image paths kept as a tree of names, each put as a directory or not, with the
 * flags the content operations' shadow needs (whiteout, Remove= pattern); parents nobody put are implicit. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util.h"

struct path_entry {
        char *name;
        struct path_entry *parent;
        struct path_entry **children; /* sorted by name */
        size_t n_children, allocated_children;

        bool directory;
        bool implicit;     /* a parent directory nobody put */
        bool whiteout;     /* the base's entries here and below are removed */
        bool pattern;      /* a whiteout whose name is a Remove= pattern (fnmatch) */
        bool has_patterns; /* some children are patterns */
};

struct path_set {
        struct path_entry root;
};

int path_set_new(struct path_set **ret);
void path_set_free(struct path_set *set);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct path_set *, path_set_free);

/* Puts path as a directory or not, creating implicit parents. A directory put over a directory keeps
 * its children and flags; anything else replaces what was there, children and flags with it. -ENOTDIR:
 * a parent was put as something other than a directory. */
int path_set_put(struct path_set *set, const char *path, bool directory, struct path_entry **ret);

/* The child of dir named by the len bytes at name; NULL when absent. */
struct path_entry *path_set_child(const struct path_entry *dir, const char *name, size_t len);
/* The entry at path ("/a/b"); NULL when absent. */
struct path_entry *path_set_lookup(struct path_set *set, const char *path);
