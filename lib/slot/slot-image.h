/* slot-image.h: a disk's two slots (root, verity and signature partitions found by label and type) with
 * their state, and the image that goes into one: loaded, checked and written with its tree and signature. */
#pragma once

#include "gpt.h"
#include "slot-state.h"
#include "verity-sig.h"
#include "verity.h"

#define SLOT_COUNT 2

struct slot {
        char name;
        size_t root, verity, sig; /* indexes into gpt->parts */
        struct slot_attrs attrs;
        bool installed;           /* its signature partition holds a payload */
        char unreadable[256];     /* why it holds no payload when it is not zeros either (not installed,
                                     never boots); "" otherwise */
        struct verity_sig payload;
        char image_id[64], version[64]; /* read behind its hash tree (slot_table_read_images) */
        char min_version[64];     /* its image's INGOT_MIN_VERSION: none below it boots once this slot is good */
        bool requires_profile;    /* its image's INGOT_SLOT_PROFILE=required */
        char unverified[256];     /* why they could not be read: the image does not match its tree */
        char profile[64];         /* the profile's name: the slot's own, else the image's, else "" */
        bool profile_in_slot;
};

struct slot_table {
        struct gpt *gpt;
        struct slot slots[SLOT_COUNT];
};

/* Finds root-a, verity-a, verity-sig-a, root-b, ... with the right types; -EMEDIUMTYPE for a disk
 * without them. Reads each slot's signature payload, and nothing of its image (the initrd probes disks
 * with it before any signature is checked). */
int slot_table_open(const char *disk, bool writable, unsigned lock_wait_ms, struct slot_table **ret,
                    struct ingot_error *err);
/* Each installed slot's identity and profile name from its image, read only when its signature is by one
 * of trusted (NULL: by any certificate, intact) and then behind its hash tree as checked against that root
 * hash (slot_image_reader): what status shows and the version floor compares. A slot whose signature or
 * image does not verify gets none, and s->unverified says why. */
void slot_table_read_images(struct slot_table *t, char **trusted);
/* The same for one installed slot. */
void slot_read_image(struct slot_table *t, struct slot *s, char **trusted);
/* Slot s's image behind its tree: every block read through *ret_rd is checked before libsquashfs sees
 * it. Free both (reader first) when done. */
struct squashfs_reader;
struct verity_tree;
int slot_image_reader(struct slot_table *t, const struct slot *s, struct verity_tree **ret_tree,
                      struct squashfs_reader **ret_rd, struct ingot_error *err);
void slot_table_free(struct slot_table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct slot_table *, slot_table_free);
int slot_index(char name);

/* Where an image's data comes from: read size bytes at offset (copy_data asks in order, from 0). */
typedef int (*slot_read_fn)(void *source, void *buf, size_t size, uint64_t offset, struct ingot_error *err);

/* An image to install: IMAGE.raw and its sidecars, checked before anything is written. */
struct slot_image {
        const char *path;           /* the file or URL, for messages */
        int fd;                     /* a local image; -1 for one read through read */
        uint64_t offset;            /* where the data starts in fd: 0 for a file, the partition in a slot */
        slot_read_fn read;          /* NULL: pread from fd */
        void *source;
        uint64_t size;
        struct verity_tree *tree;   /* IMAGE.verity, checked level by level against the root hash */
        char *verity_name;          /* what the tree's messages call it */
        char root_hash[129];
        uint8_t *payload;           /* the signature partition's contents */
        size_t payload_size;
        char fingerprint[65];
        char image_id[64], version[64];
        char min_version[64];       /* INGOT_MIN_VERSION of its os-release */
        bool requires_profile;      /* INGOT_SLOT_PROFILE=required */
};

/* Refuses an unsigned image, a signer that is not among trusted (NULL: any intact signature), a
 * hash tree that does not give the signed root hash, and a truncated image. */
int slot_image_open(const char *path, char **trusted, struct slot_image *ret, struct ingot_error *err);
/* The same checks for sidecars already in memory (img->path and img->size set): the root hash text,
 * its PKCS#7 signature (DER, p7s_name in messages) and the hash tree in the region hash. */
int slot_image_check_sidecars(struct slot_image *img, const char *root_hash, const uint8_t *p7s, size_t p7s_size,
                              const char *p7s_name, const struct verity_region *hash, char **trusted,
                              struct ingot_error *err);
void slot_image_close(struct slot_image *img);
/* The image installed in slot s of t, as a source for the other slot (a reprofile copies the booted slot):
 * its signature (trusted as above), its tree read from the verity partition, its data in the root
 * partition. The payload keeps the slot's profile; slot_image_set_profile replaces it. */
int slot_image_from_slot(struct slot_table *t, const struct slot *s, char **trusted, struct slot_image *ret,
                         struct ingot_error *err);

/* Writes img into slot s (no GPT state change): signature cleared, tree, data checked against the tree
 * as written, signature, fsync; then the tree and signature read back from the disk and checked. */
int slot_write(struct slot_table *t, struct slot *s, const struct slot_image *img, char **trusted,
               ingot_progress_fn progress, void *userdata, struct ingot_error *err);

/* Zeroes s's signature partition (the slot reads as empty), best effort: for a write that must not stand. */
void slot_clear_signature(struct slot_table *t, const struct slot *s);
/* 0 when s holds an image; else -ENOENT saying that it is empty, or why its signature partition is unreadable. */
int slot_require_installed(const struct slot_table *t, const struct slot *s, struct ingot_error *err);
