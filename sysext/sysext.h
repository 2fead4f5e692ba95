/* sysext.h: what makes a build a systemd-sysext layer: the layer's extension-release file made from the
 * base's manifest, the rule that a layer holds only /usr and /opt, and the base's files left alone. */
#pragma once

#include "stage.h"
#include "squashfs-read.h" /* EXTENSION_RELEASE_DIR */
#include "sysext-base.h"

/* The extension-release of recipe r for base: ID, VERSION_ID or SYSEXT_LEVEL, ARCHITECTURE,
 * SYSEXT_SCOPE, and the layer's own SYSEXT_ID and SYSEXT_VERSION_ID. */
int sysext_release_text(const struct ingot_recipe *r, const struct sysext_base *base, char **ret);
/* EXTENSION_RELEASE_DIR/extension-release.NAME, tagged user.extension-release.strict=0 so that
 * systemd accepts it in NAME_VERSION.raw (it wants the file named for the image file otherwise). */
int sysext_release_write(struct build *b);
/* Refuses any entry outside /usr and /opt (naming it and the recipe line that brought it) and
 * /usr/lib/os-release, which systemd-sysext refuses in a layer. */
int sysext_check_tree(struct build *b);

/* The build's check of its finished squashfs (layer_fd): an error naming the first path that
 * replaces a base file, AllowShadow= does not cover, and the recipe line that brought it. */
int sysext_check_shadowing(struct build *b, int layer_fd);
