/* mounts-stage.c: the [Mounts] stage: the recipe's writable paths as MOUNTS_FILE in the image, each
 * checked to be a directory there (the initrd reads the file: lib/image/mounts.c). */
#include <string.h>

#include "mounts-stage.h"
#include "os-release.h"
#include "mounts.h"
#include "tree.h"

int mounts_write(struct build *b) {
        const struct ingot_recipe *r = b->recipe;
        if (!r->n_mounts)
                return 0;
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        int q = 0;
        for (size_t i = 0; i < r->n_mounts && q >= 0; i++) {
                const struct mount_request *m = &r->mounts[i];
                struct node *n = tree_lookup(b->tree, m->path);
                if (!n || !S_ISDIR(node_inode(n)->mode))
                        q = error_set(b->err, -ENOTDIR, "%s: %s=%s: %s in the image", m->where,
                                      mount_kind_name(m->kind), m->path,
                                      !n ? "there is no such directory" : "not a directory (a symlink is not followed)");
                else
                        fprintf(f, "%s %s\n", m->kind == MOUNT_TMPFS ? "tmpfs" : "overlay", m->path);
        }
        if (fclose(f) != 0 && q >= 0)
                q = -ENOMEM;
        if (q < 0) {
                free(text);
                return q;
        }
        return build_put_generated(b, MOUNTS_FILE, text, size);
}
