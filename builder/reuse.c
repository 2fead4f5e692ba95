/* reuse.c: `ingot build --reuse`: the earlier images a build takes unchanged blocks from (each image, or
 * every NAME.raw with NAME.blocks in a directory), and the lines that say what could not be reused. */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include "reuse.h"

/* One image as a source; what keeps it from serving is a warning, not a failure. */
static int add_image(struct build *b, const char *image) {
        struct ingot_error why = { 0 };
        int q = block_reuse_add_image(&b->reuse, image, &why);
        if (q == 0)
                return strv_extend(&b->warnings, why.message);
        if (q < 0)
                return error_set(b->err, q, "%s", why.code ? why.message : strerror(-q));
        return 0;
}

/* Every NAME.raw with a NAME.blocks beside it in dir, in name order; none is an error (a typo, likely). */
static int add_directory(struct build *b, const char *dir) {
        _cleanup_(dirent_list_done) struct dirent_list d = { 0 };
        d.n = scandir(dir, &d.names, NULL, alphasort);
        if (d.n < 0)
                return error_set(b->err, -errno, "%s: %s", dir, strerror(errno));
        size_t added = 0;
        for (int i = 0; i < d.n; i++) {
                const char *name = d.names[i]->d_name;
                size_t len = strlen(name);
                if (name[0] == '.' || len <= 7 || strcmp(name + len - 7, ".blocks") != 0)
                        continue;
                _cleanup_free_ char *image = NULL;
                if (asprintf(&image, "%s/%.*s.raw", dir, (int) (len - 7), name) < 0)
                        return -ENOMEM;
                if (access(image, F_OK) < 0)
                        continue;
                int q = add_image(b, image);
                if (q < 0)
                        return q;
                added++;
        }
        if (!added)
                return error_set(b->err, -ENOENT, "%s: no image with a block index (NAME.raw and NAME.blocks) to reuse",
                                 dir);
        return 0;
}

int build_reuse_open(struct build *b) {
        for (char *const *p = b->options->reuse; p && *p; p++) {
                struct stat st;
                if (stat(*p, &st) < 0)
                        return error_set(b->err, -errno, "--reuse %s: %s", *p, strerror(errno));
                int q = S_ISDIR(st.st_mode) ? add_directory(b, *p) : add_image(b, *p);
                if (q < 0)
                        return q;
        }
        return 0;
}

int build_reuse_report(struct build *b) {
        for (size_t i = 0; i < b->reuse.n_sources; i++) {
                const struct reuse_source *s = &b->reuse.sources[i];
                if (!s->refused)
                        continue;
                _cleanup_free_ char *line = NULL;
                if (asprintf(&line,
                             "%s: %llu of its blocks did not match its block index or their content (the first at "
                             "byte %llu): compressed anew",
                             s->path, (unsigned long long) s->refused, (unsigned long long) s->first_refused_offset) < 0)
                        return -ENOMEM;
                int q = strv_push(&b->warnings, TAKE_PTR(line));
                if (q < 0)
                        return q;
        }
        return 0;
}
