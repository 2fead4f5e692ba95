/* artifact.h: the files of one image (NAME_VERSION.raw, .verity, .roothash): each written under a
 * temporary name in the output directory, then all made durable and renamed, or all discarded. */
#pragma once

#include "util.h"

struct artifact {
        char *final; /* OUTDIR/NAME */
        char *tmp;   /* OUTDIR/.NAME.XXXXXX while unfinished */
        int fd;
        bool renamed;
};

/* Creates OUTDIR/.NAME.XXXXXX (mode 0644, O_CLOEXEC). */
int artifact_open(struct artifact *a, const char *dir, const char *name, struct ingot_error *err);
int artifact_write(struct artifact *a, const void *data, size_t size, struct ingot_error *err);
/* fsyncs every artifact, renames them in the order given (put the one readers look for last),
 * then fsyncs the directory. */
int artifacts_commit(struct artifact *list, size_t n, struct ingot_error *err);
/* Closes; a temporary that was not renamed is removed, a file under the final name never is. */
void artifact_discard(struct artifact *a);

/* A few whole files written under temporary names in one directory (a release's lists, a compiled
 * profile and its signature), committed together with artifacts_commit(set.a, set.n) and each
 * discarded however it ends: for _cleanup_(artifact_set_discard). */
#define ARTIFACT_SET_MAX 4
struct artifact_set {
        struct artifact a[ARTIFACT_SET_MAX];
        size_t n;
};
void artifact_set_discard(struct artifact_set *set);
/* One more file of set: DIR/.NAME.XXXXXX holding data. */
int artifact_set_add(struct artifact_set *set, const char *dir, const char *name, const void *data, size_t size,
                     struct ingot_error *err);
