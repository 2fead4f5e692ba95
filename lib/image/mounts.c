/* mounts.c: the [Mounts] request as the image carries it to the initrd (see mounts.h). */
#include <string.h>

#include "build.h"
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

void mounts_free(struct mount_request *m, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(m[i].path);
                free(m[i].where);
        }
        free(m);
}

int mounts_parse(const char *text, const char *file, struct mount_request **ret, size_t *ret_n,
                 struct ingot_error *err) {
        struct mount_request *m = NULL;
        size_t n = 0;
        unsigned line = 0;
        for (const char *p = text, *end; *p; p = *end ? end + 1 : end) {
                end = strchrnul(p, '\n');
                line++;
                char buf[4096];
                size_t len = (size_t) (end - p);
                if (len == 0)
                        continue;
                if (len >= sizeof(buf))
                        goto bad;
                memcpy(buf, p, len);
                buf[len] = 0;
                char *space = strchr(buf, ' ');
                if (!space || space[1] != '/' || strstr(space + 1, "/..") || strchr(space + 1, ' '))
                        goto bad;
                *space = 0;
                enum mount_kind kind;
                if (strcmp(buf, "tmpfs") == 0)
                        kind = MOUNT_TMPFS;
                else if (strcmp(buf, "overlay") == 0)
                        kind = MOUNT_OVERLAY;
                else
                        goto bad;
                struct mount_request *grown = reallocarray(m, n + 1, sizeof(*m));
                if (!grown)
                        goto nomem;
                m = grown;
                m[n] = (struct mount_request) { .kind = kind, .path = strdup(space + 1) };
                if (asprintf(&m[n].where, "%s:%u", file, line) < 0)
                        m[n].where = NULL;
                n++;
                if (!m[n - 1].path || !m[n - 1].where)
                        goto nomem;
        }
        *ret = m;
        *ret_n = n;
        return 0;
bad:
        mounts_free(m, n);
        return error_set(err, -EBADMSG, "%s:%u: not 'tmpfs PATH' or 'overlay PATH'", file, line);
nomem:
        mounts_free(m, n);
        return -ENOMEM;
}
