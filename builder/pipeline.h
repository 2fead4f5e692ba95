/* pipeline.h: the loop that takes a source's entries into the image tree and their data into the sink
 * (pipeline.c). */
#pragma once

#include "stage.h"

struct source;
/* Takes source s's entries into the tree and their data into the writer, then closes s: what a content
 * operation shadows is left out, captured files go to memory, mtimes are clamped. */
int pipeline_take(struct build *b, struct source *s);
/* The data of n, a file that waited for the tree to be final, from n->host_path into the writer; refused
 * when the file is no longer as n->host_stat saw it, or changes while it is read. */
int pipeline_take_host_file(struct build *b, struct node *n);
