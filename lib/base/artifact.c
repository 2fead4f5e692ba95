/* artifact.c: temporary files in the output directory, committed together (fsync, rename, fsync dir). */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "artifact.h"

int artifact_open(struct artifact *a, const char *dir, const char *name, struct ingot_error *err) {
        *a = (struct artifact) { .fd = -1 };
        if (asprintf(&a->final, "%s/%s", dir, name) < 0 || asprintf(&a->tmp, "%s/.%s.XXXXXX", dir, name) < 0)
                return -ENOMEM;
        a->fd = mkostemp(a->tmp, O_CLOEXEC);
        if (a->fd < 0) {
                int r = error_set(err, -errno, "%s: cannot create: %s", a->tmp, strerror(errno));
                free(a->tmp);
                a->tmp = NULL; /* nothing to remove */
                return r;
        }
        (void) fchmod(a->fd, 0644);
        return 0;
}

int artifact_write(struct artifact *a, const void *data, size_t size, struct ingot_error *err) {
        const char *p = data;
        while (size > 0) {
                ssize_t n = write(a->fd, p, size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return error_set(err, n < 0 ? -errno : -ENOSPC, "%s: %s", a->tmp,
                                         strerror(n < 0 ? errno : ENOSPC));
                p += n;
                size -= (size_t) n;
        }
        return 0;
}

int artifacts_commit(struct artifact *list, size_t n, struct ingot_error *err) {
        for (size_t i = 0; i < n; i++)
                if (fsync(list[i].fd) < 0)
                        return error_set(err, -errno, "%s: fsync: %s", list[i].tmp, strerror(errno));
        for (size_t i = 0; i < n; i++) {
                if (rename(list[i].tmp, list[i].final) < 0)
                        return error_set(err, -errno, "%s: cannot rename to %s: %s", list[i].tmp, list[i].final,
                                         strerror(errno));
                list[i].renamed = true;
        }
        int r = n ? fsync_directory_of(list[0].final) : 0;
        if (r < 0)
                return error_set(err, r, "%s: fsync of its directory: %s", list[0].final, strerror(-r));
        return 0;
}

void artifact_discard(struct artifact *a) {
        if (a->fd >= 0)
                close(a->fd);
        if (a->tmp && !a->renamed)
                (void) unlink(a->tmp);
        free(a->tmp);
        free(a->final);
        *a = (struct artifact) { .fd = -1 };
}

void artifact_set_discard(struct artifact_set *set) {
        for (size_t i = 0; i < set->n; i++)
                artifact_discard(&set->a[i]);
}

int artifact_set_add(struct artifact_set *set, const char *dir, const char *name, const void *data, size_t size,
                     struct ingot_error *err) {
        if (set->n == ARTIFACT_SET_MAX)
                return -E2BIG;
        struct artifact *a = &set->a[set->n++];
        int r = artifact_open(a, dir, name, err);
        if (r < 0)
                return r;
        return artifact_write(a, data, size, err);
}
