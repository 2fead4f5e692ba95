/* sysext-check.h: `ingot sysext check` (include/ingot.h) and what it shares with the build: the paths
 * of a layer that replace files of its base. */
#pragma once

#include "sysext-base.h"

/* Entries of the layer squashfs at layer_fd's offset..+size (0: the file) that replace entries of the
 * base squashfs (anything but a directory over a directory), and those of them allowed_paths covers. */
int sysext_shadowed(int layer_fd, uint64_t offset, uint64_t size, const char *base_image, char **allowed_paths,
                    char ***ret_shadowed, char ***ret_allowed, struct ingot_error *err);
