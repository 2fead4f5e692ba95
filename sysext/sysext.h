/* sysext.h: what makes a build a systemd-sysext layer: the base image's manifest, the layer's
 * extension-release file made from it, and the rule that a layer holds only /usr and /opt. */
#pragma once

#include "build.h"
#include "squashfs-read.h" /* EXTENSION_RELEASE_DIR */

struct sysext_base {
        char *manifest; /* the path given */
        char *name, *version;
        char *id, *version_id, *sysext_level; /* from its os-release; NULL when it has none */
        char *architecture;
        char *root_hash;
        char *image;    /* its squashfs (artifacts.raw, beside the manifest); NULL when that is absent */
        char manifest_sha256[65];
};

/* Refuses what is not a root image's manifest (a layer's, one without os-release ID). */
int sysext_base_load(const char *path, struct sysext_base *ret, struct ingot_error *err);
void sysext_base_clear(struct sysext_base *b);

/* The extension-release of recipe r for base: ID, VERSION_ID or SYSEXT_LEVEL, ARCHITECTURE,
 * SYSEXT_SCOPE, and the layer's own SYSEXT_ID and SYSEXT_VERSION_ID. */
int sysext_release_text(const struct ingot_recipe *r, const struct sysext_base *base, char **ret);
/* EXTENSION_RELEASE_DIR/extension-release.NAME, tagged user.extension-release.strict=0 so that
 * systemd accepts it in NAME_VERSION.raw (it wants the file named for the image file otherwise). */
int sysext_release_write(struct build *b);
/* Refuses any entry outside /usr and /opt (naming it and the recipe line that brought it) and
 * /usr/lib/os-release, which systemd-sysext refuses in a layer. */
int sysext_check_tree(struct build *b);

/* Entries of the layer squashfs at layer_fd's offset..+size (0: the file) that replace entries of the
 * base squashfs (anything but a directory over a directory), and those of them allowed_paths covers. */
int sysext_shadowed(int layer_fd, uint64_t offset, uint64_t size, const char *base_image, char **allowed_paths,
                    char ***ret_shadowed, char ***ret_allowed, struct ingot_error *err);
/* The build's check of its finished squashfs (layer_fd): an error naming the first path that
 * replaces a base file, AllowShadow= does not cover, and the recipe line that brought it. */
int sysext_check_shadowing(struct build *b, int layer_fd);
