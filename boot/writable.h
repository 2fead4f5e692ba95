/* writable.h: what is writable on a booted slot: the var partition on /var (made ext4 on the first
 * boot, when libblkid finds nothing on it) and the image's [Mounts] (tmpfs; overlay over a tmpfs). */
#pragma once

#include <stdbool.h>

#include "util.h"

/* Formats device as ext4 (label "var") when it holds no filesystem or partition table, else checks it
 * with e2fsck -p (*ret_checked: "clean" or "repaired"; -EUCLEAN for what it cannot repair), then mounts
 * it on root's /var (a directory of the image, not a symlink), nosuid, nodev and, when the image asks
 * (noexec), noexec; *ret_formatted says whether this was the first boot. */
int var_mount(const char *root, const char *device, bool noexec, const char **ret_checked, bool *ret_formatted,
              struct ingot_error *err);
/* A tmpfs on root's /var instead, for a boot whose var partition could not be mounted. */
int var_tmpfs(const char *root, struct ingot_error *err);

/* Applies root's MOUNTS_FILE, if the image has one; overlay upper layers live under run_dir. Each
 * path is reached from root through no symlink (one on var is refused: "[Mounts] PATH: COMPONENT is
 * a symlink on var; not mounted"); what var lacks of it is made there with the image's owner and
 * mode, and a tmpfs or an overlay's upper layer gets the image's directory's owner and mode.
 * Goes on past a failed mount and returns the first error; report (may be NULL) hears each mount
 * and each later failure. */
int image_mounts_apply(const char *root, const char *run_dir, void (*report)(const char *line),
                       struct ingot_error *err);
