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
