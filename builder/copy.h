/* copy.h: Copy= of a host directory (copy.c): its entries merged into the image tree, and the shadow the
 * copy casts on the base. */
#pragma once

#include "stage.h"

/* host_root onto image_path; its data is read once the tree is final (pipeline_take_host_file). */
int copy_dir(struct build *b, const char *host_root, const char *image_path);
/* What copy_dir will create, into b->shadow (content_prepare). */
int copy_shadow(struct build *b, const char *host_root, const char *image_path);
