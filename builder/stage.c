/* stage.c: the small services every step of a build uses: cancellation, progress, the mtime clamp, and
 * the words for an interrupted build and a failed write. */
#include <string.h>

#include "source.h"
#include "stage.h"

bool build_cancelled(const struct build *b) {
        return b->options->cancel && *b->options->cancel;
}

int build_cancel_error(struct ingot_error *err) {
        return error_set(err, -ECANCELED, "interrupted");
}

void build_report(struct build *b, uint64_t files, uint64_t bytes) {
        b->progress.files += files;
        b->progress.bytes += bytes;
        if (b->options->progress) {
                b->progress.phase = b->phase;
                b->options->progress(&b->progress, b->options->userdata);
        }
}

void build_file_written(struct build *b, struct node *n, uint64_t size) {
        n->data = DATA_WRITTEN;
        n->size = size;
        build_report(b, 1, 0);
}

int build_write_error(struct ingot_error *err, int r, const char *path) {
        return error_set(err, r, "writing the image (data of %s): %s", path, strerror(-r));
}

int build_put_error(struct ingot_error *err, int r, const char *where, const char *path, const char *conflict) {
        return error_set(err, r, "%s: cannot add '%s': %s%s%s", where, path,
                         r == -ENOTDIR ? "a parent is not a directory" : strerror(-r), conflict ? ": " : "",
                         conflict ?: "");
}

uint32_t build_clamp_mtime(const struct build *b, int64_t mtime) {
        if (b->source_date_epoch >= 0 && mtime > b->source_date_epoch)
                mtime = b->source_date_epoch;
        if (mtime < 0)
                return 0;
        return mtime > UINT32_MAX ? UINT32_MAX : (uint32_t) mtime;
}

int build_each_entry(struct build *b, struct source *s, build_entry_fn fn, void *userdata) {
        struct ingot_error e = { 0 };
        int r;
        const struct source_entry *entry;
        while ((r = s->next(s, &entry, &e)) > 0) {
                if (build_cancelled(b)) {
                        r = build_cancel_error(&e);
                        break;
                }
                r = fn(b, s, entry, userdata, &e);
                if (r < 0)
                        break;
        }
        if (r < 0 && build_cancelled(b) && !e.code) /* what failed did because of the interruption */
                build_cancel_error(&e);
        return s->close(s, r < 0 ? r : 0, &e, b->err);
}
