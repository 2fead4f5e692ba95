/* stage.h: what every step of a build shares: the build's state (the tree, the squashfs writer, the
 * shadow of the content operations), the stage signature, and the small services of the pipeline. */
#pragma once

#include <sys/stat.h>

#include "block-index.h"
#include "path-set.h"
#include "recipe.h"
#include "squashfs.h"
#include "tree.h"

struct build {
        const struct ingot_recipe *recipe;
        const struct ingot_build_options *options;
        struct ingot_error *err;

        struct tree *tree;
        struct squashfs_writer *writer;
        struct verity *verity;
        struct block_index index; /* the image's extents as the writer writes them */
        struct block_reuse reuse; /* the blocks' content digests, and earlier images' blocks (--reuse) */
        /* What the content operations will remove or replace: base entries under it are never written. */
        struct path_set *shadow;
        /* The base entries left out because of the shadow (topmost paths only). */
        struct path_set *skipped;
        /* Per content op: the libraries a Binaries= op brings (NULL for other ops). */
        char ***binary_libraries;

        const struct build_layer *layer; /* what makes the build a layer; NULL for a root image */

        int64_t source_date_epoch; /* -1: none */
        uint32_t default_mtime;

        char *profile_cmdline;  /* the compiled Profile='s kernel parameters, NULL without one */
        char **warnings;        /* for the result: one line each */

        struct ingot_progress progress;
        const char *phase;
};

/* A stage: one step that edits the build's tree once the base is in, in the recipe's terms (the content
 * operations, os-release, the trust store, mounts, the profile; a layer's extension-release and rules). */
typedef int (*build_stage_fn)(struct build *b);

/* What makes a build a systemd-sysext layer, given by its caller (sysext/): the stages after the content
 * operations, the check of the written squashfs, the manifest's "extension" object, the architecture
 * (of the base) and the format. */
struct json_object;
struct build_layer {
        const build_stage_fn *stages;
        size_t n_stages;
        int (*check_image)(struct build *b, int fd);
        struct json_object *(*manifest_extension)(struct build *b);
        const char *architecture;
        bool ddi;
        const void *userdata;
};

bool build_cancelled(const struct build *b);

/* Every entry of source s through fn, until fn or s fails or the build is cancelled; then closes s
 * with the outcome, which it returns (the message in b->err). The one loop over a source's entries. */
struct source;
struct source_entry;
typedef int (*build_entry_fn)(struct build *b, struct source *s, const struct source_entry *e, void *userdata,
                              struct ingot_error *err);
int build_each_entry(struct build *b, struct source *s, build_entry_fn fn, void *userdata);
/* Says in err that the build was interrupted. */
int build_cancel_error(struct ingot_error *err);
void build_report(struct build *b, uint64_t files, uint64_t bytes);
uint32_t build_clamp_mtime(const struct build *b, int64_t mtime);
/* A file's data went to the writer completely: record it and count it. */
void build_file_written(struct build *b, struct node *node, uint64_t size);
/* The error for a failed write of path's data to the image. */
int build_write_error(struct ingot_error *err, int r, const char *path);
/* The error for a failed tree_put of path (where: the file or line that asked; conflict: tree_put's). */
int build_put_error(struct ingot_error *err, int r, const char *where, const char *path, const char *conflict);
