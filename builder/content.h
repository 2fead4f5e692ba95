/* content.h: the [Content] operations (content.c) and their shadow on the base: what a base entry
 * loses to a later operation is never written. */
#pragma once

#include "stage.h"

int content_prepare(struct build *b);
int content_apply(struct build *b);
/* Whether a base entry at path, of the given type (S_IFDIR, ...), is removed or replaced by a
 * content op. Directories copied onto a symlink follow it, so they shadow neither. */
bool content_shadowed(const struct build *b, const char *path, mode_t type);
/* Records that the base entry at path was left out; whether path (or a parent) was. */
int content_skip(struct build *b, const char *path);
bool content_was_skipped(const struct build *b, const char *path);
