/* mounts.h: /usr/lib/ingot/mounts, the image's request for writable paths at boot ([Mounts] in the
 * recipe): written by the build, read by the initrd. One line per mount: "tmpfs PATH" or "overlay PATH". */
#pragma once

#include "recipe.h"

#define MOUNTS_FILE "/usr/lib/ingot/mounts"

struct build;

/* Writes MOUNTS_FILE when the recipe has [Mounts]; each path must be a directory in the image. */
int mounts_write(struct build *b);

/* Parses MOUNTS_FILE's text into ret (kinds and paths; where is "FILE:LINE"); -EBADMSG names the line. */
int mounts_parse(const char *text, const char *file, struct mount_request **ret, size_t *ret_n,
                 struct ingot_error *err);
void mounts_free(struct mount_request *m, size_t n);
