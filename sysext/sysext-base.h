/* sysext-base.h: the base image a layer is for, as its manifest describes it: what a layer's
 * extension-release is made from and what `sysext check` compares it with. */
#pragma once

#include "util.h"

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
