/* manifest.h: NAME_VERSION.manifest.json, what an image is in one JSON object (schema in
 * docs/manifest.md, versioned by "manifest_version"): identity, verity geometry, signer, contents. */
#pragma once

#include "stage.h"

#define MANIFEST_VERSION 1

struct manifest_artifact {
        const char *kind; /* "raw", "verity", "roothash", "roothash.p7s" */
        const char *name; /* the final file name, without directory */
        const char *path; /* where its bytes are now (the temporary) */
};

struct manifest_input {
        const char *root_hash;          /* hex */
        const uint8_t *salt;
        size_t salt_size;
        uint64_t data_blocks;
        uint64_t image_size;
        const char *signer_fingerprint; /* NULL when unsigned */
        const struct ingot_image_stats *stats;
        const struct manifest_artifact *artifacts;
        size_t n_artifacts;
};

/* A JSON array of the strings of l (an empty one for NULL). */
struct json_object *manifest_strv_array(char **l);

/* The manifest of the build b (its tree supplies os-release, kernels and packages), as JSON text. */
int manifest_text(struct build *b, const struct manifest_input *in, char **ret_text, struct ingot_error *err);

/* The SHA-256 of the resolved recipe, independent of the directory it lives in. */
int recipe_digest(const struct ingot_recipe *r, char ret_hex[65]);
