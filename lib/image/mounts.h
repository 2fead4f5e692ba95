/* mounts.h: /usr/lib/ingot/mounts, the image's request for writable paths at boot ([Mounts] in the
 * recipe): written by the build, read by the initrd. One line per mount: "tmpfs PATH" or "overlay PATH". */
#pragma once

#include "util.h"

#define MOUNTS_FILE "/usr/lib/ingot/mounts"

enum mount_kind {
        MOUNT_TMPFS,   /* an empty tmpfs */
        MOUNT_OVERLAY, /* the image's directory under a tmpfs upper layer: writable, reset at boot */
};

struct mount_request {
        enum mount_kind kind;
        char *path;  /* canonical image path, a directory in the image */
        char *where; /* "file:line" */
};

/* The recipe's key for kind: Tmpfs, Overlay. */
const char *mount_kind_name(enum mount_kind kind);

/* Parses MOUNTS_FILE's text into ret (kinds and paths; where is "FILE:LINE"); -EBADMSG names the line. */
int mounts_parse(const char *text, const char *file, struct mount_request **ret, size_t *ret_n,
                 struct ingot_error *err);
void mounts_free(struct mount_request *m, size_t n);
