/* profile-apply.h: the booted slot's host profile, applied before the image's init starts: sysctls
 * into /proc/sys, run-time huge pages into sysfs; its kernel parameters checked against /proc/cmdline. */
#pragma once

#include "util.h"

/* Applies the slot's own profile (slot_profile, its signature already checked), else root's compiled one
 * (PROFILE_IN_IMAGE), if there is one, and records it in run_dir/profile (NAME=, SOURCE=slot|image,
 * CMDLINE=, CMDLINE_IN_EFFECT=yes|no, COMPLETE=yes|no: every part in effect). Goes on past what fails,
 * telling report; returns the first error. */
int profile_apply(const char *root, const char *slot_profile, const char *run_dir, void (*report)(const char *line),
                  struct ingot_error *err);

/* When root carries another kernel than the running one (root/usr/lib/modules/VERSION/vmlinuz, or
 * Debian's root/boot/vmlinuz-VERSION), or the profile (as for profile_apply) has kernel parameters the
 * running kernel lacks: loads that kernel and the image's initrd (root/usr/lib/ingot/initrd) with this
 * command line, the profile's parameters, ingot.kexec=SLOT and ingot.disk=DISK_UUID (the disk this stage
 * chose: the second one boots from no other), and restarts into it (kexec_file_load): does not return then.
 * Returns 0 when nothing is to be done or possible (said through report), else an error. */
int profile_kexec(const char *root, const char *slot_profile, char slot, const char *disk_uuid,
                  void (*report)(const char *line), struct ingot_error *err);
