/* assembly.h: the image an install writes, assembled in order from extents the disk's slots already
 * hold (found by SHA-256 through block indexes) and the rest fetched by coalesced HTTP Range requests. */
#pragma once

#include "block-index.h"
#include "util.h"

/* A slot whose bytes may hold extents of the new image, as its index says. Nothing it holds is trusted:
 * an extent is taken only when its bytes give the new index's SHA-256. */
struct assembly_seed {
        char name[128];           /* for messages: "disk.img (root-a)" */
        int fd;                   /* not owned */
        uint64_t offset, size;    /* the slot's partition in fd */
        struct block_index index; /* owned: freed with the assembly */
        bool target;              /* the slot being written: only bytes the install has not yet overwritten */
        bool prefix;              /* holds the image from byte 0 up to where an interrupted install stopped:
                                     the first extent it does not hold ends it */
};

struct assembly_stats {
        uint64_t offered; /* bytes of the image the indexes of the slots not being written name */
        uint64_t reused;  /* bytes taken from seeds */
        uint64_t fetched; /* bytes fetched */
        uint64_t ranges;  /* Range requests */
        uint64_t damaged; /* extents a seed's index promised that its bytes did not give (then fetched) */
};

/* url: the image, served whole; image: its index, checked against the signed release. Takes image and
 * the seeds' indexes, also on failure (the array itself is copied). */
struct assembly;
int assembly_new(const struct ingot_fetch_options *o, const char *url, struct block_index *image,
                 struct assembly_seed *seeds, size_t n_seeds, struct assembly **ret);
void assembly_free(struct assembly *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct assembly *, assembly_free);

/* A slot_read_fn: the image's bytes [offset, offset + size), asked in order from 0. -EBADMSG when a
 * fetched extent is not the one the index names; -EOPNOTSUPP when the server ignores Range. */
int assembly_read(void *assembly, void *buf, size_t size, uint64_t offset, struct ingot_error *err);

const struct assembly_stats *assembly_stats(const struct assembly *a);
