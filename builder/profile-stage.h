/* profile-stage.h: the recipe's Profile= compiled into the image (profile-stage.c), and the written
 * image checked against it. */
#pragma once

#include "stage.h"

/* Compiles the recipe's Profile= into PROFILE_IN_IMAGE; its warnings become the build's. */
int profile_write(struct build *b);
/* The written image (the squashfs at fd, size bytes) against the Profile= compiled into it: a warning
 * when the profile has kernel parameters and the image no kernel and initrd to restart into. */
int profile_check_image(struct build *b, int fd, uint64_t size);
