/* mounts.c: the [Mounts] request as the image carries it to the initrd (see mounts.h). */
#include <string.h>

#include "mounts.h"

const char *mount_kind_name(enum mount_kind kind) {
        return kind == MOUNT_TMPFS ? "Tmpfs" : "Overlay";
}

void mounts_free(struct mount_request *m, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(m[i].path);
                free(m[i].where);
        }
        free(m);
}

/* The requests parsed so far, freed unless handed out. */
struct mount_list {
        struct mount_request *m;
        size_t n;
};

static void mount_list_done(struct mount_list *l) {
        if (l->m)
                mounts_free(l->m, l->n);
}

/* One line of len bytes at p, "tmpfs PATH" or "overlay PATH": its kind and a copy of its path; -EBADMSG
 * for anything else. */
static int line_parse(const char *p, size_t len, enum mount_kind *ret_kind, char **ret_path) {
        char buf[4096];
        if (len >= sizeof(buf))
                return -EBADMSG;
        memcpy(buf, p, len);
        buf[len] = 0;
        char *space = strchr(buf, ' ');
        if (!space || space[1] != '/' || strstr(space + 1, "/..") || strchr(space + 1, ' '))
                return -EBADMSG;
        *space = 0;
        enum mount_kind kind;
        if (strcmp(buf, "tmpfs") == 0)
                kind = MOUNT_TMPFS;
        else if (strcmp(buf, "overlay") == 0)
                kind = MOUNT_OVERLAY;
        else
                return -EBADMSG;
        char *path = strdup(space + 1);
        if (!path)
                return -ENOMEM;
        *ret_kind = kind;
        *ret_path = path;
        return 0;
}

int mounts_parse(const char *text, const char *file, struct mount_request **ret, size_t *ret_n,
                 struct ingot_error *err) {
        _cleanup_(mount_list_done) struct mount_list l = { 0 };
        unsigned line = 0;
        for (const char *p = text, *end; *p; p = *end ? end + 1 : end) {
                end = strchrnul(p, '\n');
                line++;
                size_t len = (size_t) (end - p);
                if (len == 0)
                        continue;
                enum mount_kind kind;
                _cleanup_free_ char *path = NULL, *where = NULL;
                int r = line_parse(p, len, &kind, &path);
                if (r == -EBADMSG)
                        return error_set(err, -EBADMSG, "%s:%u: not 'tmpfs PATH' or 'overlay PATH'", file, line);
                if (r < 0)
                        return r;
                if (asprintf(&where, "%s:%u", file, line) < 0) {
                        where = NULL; /* asprintf leaves it undefined */
                        return -ENOMEM;
                }
                struct mount_request *grown = reallocarray(l.m, l.n + 1, sizeof(*l.m));
                if (!grown)
                        return -ENOMEM;
                l.m = grown;
                l.m[l.n++] = (struct mount_request) { .kind = kind, .path = TAKE_PTR(path), .where = TAKE_PTR(where) };
        }
        *ret_n = l.n;
        *ret = TAKE_PTR(l.m);
        return 0;
}
