/* release.h: a release directory's index (index.json, json-c): the versions it serves, newest first,
 * each with its files, size, root hash and signer, and the publisher's minimum version. */
#pragma once

#include "util.h"

#define RELEASE_INDEX "index.json"
/* What a signed index says it is, so that no other JSON signed by the same key passes for one. */
#define RELEASE_KIND "ingot-release-index"
/* 2: "kind" and "expires". Format 1 had neither: installers refuse it, publish reads it to rewrite it. */
#define RELEASE_FORMAT 2

struct release_entry {
        char name[64], version[64];
        char image[256], verity[256], roothash[256], signature[256], manifest[256]; /* file names */
        uint64_t size;          /* the image's bytes */
        uint64_t verity_size;
        char root_hash[129];
        char signer[65];        /* SHA-256 of the signing certificate */
        char sha256[65];        /* of the image */
        char blocks[256];       /* the image's block index (block-index.h), "" for none */
        char blocks_sha256[65]; /* of the block index, "" for none */
};

struct release_index {
        int64_t expires;        /* seconds since the epoch: installers refuse the index from then on; 0 in format 1 */
        char min_version[64];   /* "" for none */
        struct release_entry *entries; /* newest first */
        size_t n;
};

/* Who reads an index: an installer, after the signature checked (format 2 only: a signed JSON of another
 * kind or an older format is refused saying what it is), or publish, which reads DEST's own index to add
 * to it and so also takes format 1 (expires 0), which it rewrites as format 2. */
enum release_reader {
        RELEASE_INSTALLER,
        RELEASE_PUBLISHER,
};

/* Parses and validates (kind, format, expires, file names without '/', hex fields, sizes); sorts newest
 * first. Whether the index has expired is release_index_check_expiry's question. */
int release_index_parse(const char *text, const char *name, enum release_reader reader, struct release_index *ret,
                        struct ingot_error *err);
/* -ESTALE, naming name, the expiry and now, when the index expired at or before now (seconds since the epoch). */
int release_index_check_expiry(const struct release_index *idx, const char *name, int64_t now,
                               struct ingot_error *err);
int release_index_format(const struct release_index *idx, char **ret_text);
/* Adds e, replacing an entry of the same name and version; keeps newest first. */
int release_index_put(struct release_index *idx, const struct release_entry *e);
void release_index_clear(struct release_index *idx);
/* The entry for version, or NULL. */
const struct release_entry *release_index_find(const struct release_index *idx, const char *version);
