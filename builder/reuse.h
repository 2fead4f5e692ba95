/* reuse.h: `ingot build --reuse`: earlier images (or directories of them) opened as the sources of
 * unchanged blocks, and a warning for each source whose blocks did not check out. */
#pragma once

#include "stage.h"

/* The options' reuse paths added to b->reuse; an image that cannot serve is a warning, a path that does
 * not exist (or a directory with no indexed image) an error. */
int build_reuse_open(struct build *b);

/* After the image is written: one warning per source with blocks refused. */
int build_reuse_report(struct build *b);
