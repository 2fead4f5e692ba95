/* build.h: the state of one build shared by the sources (directory, archive, Debian), the content
 * operations and the final write: the tree, the squashfs writer, the shadow of later operations. */
#pragma once

#include <sys/stat.h>

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
        /* What the content operations will remove or replace: base entries under it are never written. */
        struct tree *shadow;
        /* The base entries left out because of the shadow (topmost paths only). */
        struct tree *skipped;
        /* Per content op: the libraries a Binaries= op brings (NULL for other ops). */
        char ***binary_libraries;

        const struct build_layer *layer; /* what makes the build a layer; NULL for a root image */

        int64_t source_date_epoch; /* -1: none */
        uint32_t default_mtime;

        char *profile_cmdline;  /* the compiled Profile='s kernel parameters, NULL without one */
        char **warnings;        /* for the result: one line each */

        struct ingot_progress progress;
        const char *phase;
        char *buffer; /* for reading file data, BUFFER_SIZE bytes */
};

#define BUFFER_SIZE (1024 * 1024)

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

/* Compiles recipe r into its artifacts: a root image, or with layer a layer. */
int build_run(const struct ingot_recipe *r, const struct ingot_build_options *o, const struct build_layer *layer,
              struct ingot_build_result *ret, struct ingot_error *err);

/* How a host directory's entries are taken in. */
enum host_mode {
        HOST_BASE, /* the image's base: ownership from the source, data written at once */
        HOST_COPY, /* a Copy= overlay: owned by root, data read once the tree is final */
};

bool build_cancelled(const struct build *b);
/* Says in err that the build was interrupted. */
int build_cancel_error(struct ingot_error *err);
void build_report(struct build *b, uint64_t files, uint64_t bytes);
uint32_t build_clamp_mtime(const struct build *b, int64_t mtime);
/* Whether a base entry at path, of the given type (S_IFDIR, ...), is removed or replaced by a
 * content op. Directories copied onto a symlink follow it, so they shadow neither. */
bool build_shadowed(const struct build *b, const char *path, mode_t type);
/* Records that the base entry at path was left out; whether path (or a parent) was. */
int build_skip(struct build *b, const char *path);
bool build_was_skipped(const struct build *b, const char *path);
/* Base files read into memory as they stream by: os-release (its fields are rewritten) and the
 * dpkg status (the manifest lists the packages). At most CAPTURE_MAX bytes. */
#define OS_RELEASE "/usr/lib/os-release"
#define ETC_OS_RELEASE "/etc/os-release"
#define TRUSTED_DIR "/usr/lib/ingot/trusted.d"
#define DPKG_STATUS "/var/lib/dpkg/status"
#define CAPTURE_MAX (32u << 20)
bool build_captures(const struct build *b, const char *path);
/* The text of a captured (or Copy=/generated) file at path; *ret is NULL when there is none. */
int build_captured_text(struct build *b, const char *path, char **ret);

/* A file's data went to the writer completely: record it and count it. */
void build_file_written(struct build *b, struct node *node, uint64_t size);
/* The error for a failed write of path's data to the image. */
int build_write_error(struct ingot_error *err, int r, const char *path);

/* Reads a host file into the image writer, noticing changes while it is read. */
int host_file_write(struct build *b, struct node *node, const char *host_path, const struct stat *seen);

/* source-dir.c */
int source_dir_add(struct build *b, const char *host_root, const char *image_path, enum host_mode mode);
/* Scans a Copy= source for the shadow tree only. */
int source_dir_shadow(struct build *b, const char *host_root, const char *image_path);

/* Takes source s's entries into the tree and their data into the writer (pipeline.c), then closes s: what
 * a content operation shadows is left out, captured files go to memory, mtimes are clamped. */
struct source;
int build_take(struct build *b, struct source *s);

/* content.c */
int content_prepare(struct build *b);
int content_apply(struct build *b);

/* os-release.c */
int os_release_write(struct build *b);
/* A file the build makes (root-owned, 0644, the default mtime) at path, replacing what is there;
 * takes text (malloc'd) in any case. */
int build_put_generated(struct build *b, const char *path, char *text, size_t size);
/* TRUSTED_DIR/FINGERPRINT.crt for each trusted certificate (trust.c). */
int trust_write(struct build *b);
/* Compiles the recipe's Profile= into PROFILE_IN_IMAGE; its warnings become the build's (profile-stage.c). */
int profile_write(struct build *b);
/* The written image (the squashfs at fd, size bytes) against the Profile= compiled into it: a warning
 * when the profile has kernel parameters and the image no kernel and initrd to restart into. */
int profile_check_image(struct build *b, int fd, uint64_t size);
/* MOUNTS_FILE when the recipe has [Mounts]; each path must be a directory in the image (mounts-stage.c). */
int mounts_write(struct build *b);
