/* mounts-stage.h: the recipe's [Mounts] written into the image (mounts-stage.c). */
#pragma once

#include "stage.h"

/* MOUNTS_FILE when the recipe has [Mounts]; each path must be a directory in the image. */
int mounts_write(struct build *b);
