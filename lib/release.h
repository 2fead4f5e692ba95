/* release.h: a release directory's index (index.json, json-c): the versions it serves, newest first,
 * each with its files, size, root hash and signer, and the publisher's minimum version. */
#pragma once

#include "util.h"

#define RELEASE_INDEX "index.json"
#define RELEASE_FORMAT 1

struct release_entry {
        char name[64], version[64];
        char image[256], verity[256], roothash[256], signature[256], manifest[256]; /* file names */
        uint64_t size;          /* the image's bytes */
        uint64_t verity_size;
        char root_hash[129];
        char signer[65];        /* SHA-256 of the signing certificate */
        char sha256[65];        /* of the image */
};

struct release_index {
        char min_version[64];   /* "" for none */
        struct release_entry *entries; /* newest first */
        size_t n;
};

/* Parses and validates (file names without '/', hex fields, sizes); sorts newest first. */
int release_index_parse(const char *text, const char *name, struct release_index *ret, struct ingot_error *err);
int release_index_format(const struct release_index *idx, char **ret_text);
/* Adds e, replacing an entry of the same name and version; keeps newest first. */
int release_index_put(struct release_index *idx, const struct release_entry *e);
void release_index_clear(struct release_index *idx);
/* The entry for version, or NULL. */
const struct release_entry *release_index_find(const struct release_index *idx, const char *version);
