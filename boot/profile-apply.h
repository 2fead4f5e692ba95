/* profile-apply.h: the booted slot's host profile, applied before the image's init starts: sysctls
 * into /proc/sys, run-time huge pages into sysfs; its kernel parameters checked against /proc/cmdline. */
#pragma once

#include "util.h"

/* Applies root's compiled profile (PROFILE_IN_IMAGE), if it has one, and records it in
 * run_dir/profile (NAME=, CMDLINE=, CMDLINE_IN_EFFECT=yes|no). Goes on past what fails, telling
 * report; returns the first error. */
int profile_apply(const char *root, const char *run_dir, void (*report)(const char *line), struct ingot_error *err);
