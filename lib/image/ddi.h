/* ddi.h: a sysext layer as a Discoverable Disk Image (GPT through gpt.c): the DPS root partition with the
 * squashfs, its root-verity and root-verity-sig partitions (docs/sysext.md: why root); and an image's parts. */
#pragma once

#include "gpt.h"

#define DDI_SIG_PARTITION_SIZE (16 * 1024) /* what systemd-repart makes */

struct ddi_input {
        int data_fd;             /* the squashfs */
        uint64_t data_size;      /* a multiple of 4096 */
        int hash_fd;             /* the hash tree with its superblock */
        uint64_t hash_size;
        const char *architecture; /* systemd's name; only x86-64 has partition types known here */
        const char *root_hash;   /* hex: the root and root-verity partition UUIDs are its halves */
        const uint8_t *payload;  /* the usr-verity-sig payload (verity-sig.c); NULL: unsigned, no partition */
        size_t payload_size;
};

/* Writes the whole DDI to fd (an empty file named path): sized, partitioned, filled. Reproducible:
 * the disk and signature partition UUIDs are derived from the root hash. */
int ddi_write(int fd, const char *path, const struct ddi_input *in, struct ingot_error *err);

struct ddi {
        struct gpt_partition data, verity, sig; /* root (or usr), its verity and verity-sig partitions */
        bool has_sig;
        char disk_uuid[37];
};

/* Whether fd holds a GPT (the "EFI PART" header in its second sector), i.e. a DDI rather than a squashfs. */
bool ddi_detect(int fd);
/* Finds the root, root-verity and (optional) root-verity-sig partitions, or the usr ones of a DDI
 * another tool made; -EMEDIUMTYPE without them. */
int ddi_open(const char *path, struct ddi *ret, struct ingot_error *err);

/* Where an image's parts are, in either format: a DDI's partitions, or IMAGE.raw with IMAGE.verity,
 * IMAGE.roothash and IMAGE.roothash.p7s beside it. */
struct image_parts {
        bool ddi;
        uint64_t data_offset, data_size; /* the squashfs in the image file; data_size 0: the whole file */
        char *hash_path;                 /* the DDI itself, or IMAGE.verity */
        uint64_t hash_offset, hash_size; /* hash_size 0: the whole file */
        bool has_sig;                    /* a DDI's verity-sig partition */
        uint64_t sig_offset, sig_size;
};

int image_parts_find(const char *image_path, int fd, struct image_parts *ret, struct ingot_error *err);
void image_parts_clear(struct image_parts *p); /* also for _cleanup_(image_parts_clear) */

/* The signed root hash and its signature: from a DDI's signature partition, or from IMAGE.roothash and
 * IMAGE.roothash.p7s. -ENODATA when the image is unsigned (ret->root_hash may still be set from
 * IMAGE.roothash). */
struct verity_sig;
int image_signature_read(const char *image_path, int fd, const struct image_parts *p, struct verity_sig *ret,
                         struct ingot_error *err);
