/* os-release.h: the image's identity merged into the base's os-release (os-release.c), the base files
 * captured in memory as they stream by, and the files a build generates. */
#pragma once

#include "stage.h"

/* Base files read into memory as they stream by: os-release (its fields are rewritten) and the
 * dpkg status (the manifest lists the packages). At most CAPTURE_MAX bytes. */
#define OS_RELEASE "/usr/lib/os-release"
#define ETC_OS_RELEASE "/etc/os-release"
#define DPKG_STATUS "/var/lib/dpkg/status"
#define CAPTURE_MAX (32u << 20)
bool build_captures(const struct build *b, const char *path);
/* The text of a captured (or Copy=/generated) file at path; *ret is NULL when there is none. */
int build_captured_text(struct build *b, const char *path, char **ret);
/* A file the build makes (root-owned, 0644, the default mtime) at path, replacing what is there;
 * takes text (malloc'd) in any case. */
int build_put_generated(struct build *b, const char *path, char *text, size_t size);

int os_release_write(struct build *b);
