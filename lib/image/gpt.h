/* gpt.h: a disk's GUID partition table, read and written through libfdisk: partitions with type,
 * label, UUID, place and attribute bits; a change is one libfdisk write (backup, then primary). */
#pragma once

#include "util.h"

#define GPT_TYPE_ESP "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
#define GPT_TYPE_ROOT "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"
#define GPT_TYPE_ROOT_VERITY "2C7357ED-EBD2-46D9-AEC1-23D437EC2BF5"
#define GPT_TYPE_ROOT_VERITY_SIG "41092B05-9FC8-4523-994F-2DEF0408B176"
#define GPT_TYPE_USR "8484680C-9521-48C6-9C11-B0720656F69E"
#define GPT_TYPE_USR_VERITY "77FF5F63-E7B6-4633-ACF4-1565B864C0E6"
#define GPT_TYPE_USR_VERITY_SIG "E7BB33FB-06CF-4E81-8273-E543B413E2E2"
#define GPT_TYPE_VAR "4D21B016-B534-45C2-A9FB-5C16E091FD2D"

struct gpt_partition {
        size_t partno;
        char type[37];  /* uppercase, as libfdisk prints it */
        char label[73];
        char uuid[37];
        uint64_t offset, size; /* bytes */
        uint64_t attrs;
};

struct gpt {
        struct fdisk_context *cxt;
        int fd;          /* also holds the flock */
        char *path;
        bool writable;
        bool block_device;
        uint64_t size;   /* bytes */
        unsigned long sector_size;
        char disk_uuid[37];
        struct gpt_partition *parts;
        size_t n_parts;
        char warning[256]; /* what libfdisk noticed, e.g. a corrupt primary table it read around */
};

/* Opens a disk image or block device and reads its GPT. writable: O_RDWR and an exclusive flock,
 * else a shared one; a held lock is retried for lock_wait_ms, then -EBUSY. A disk without a GPT
 * (or with a protective MBR over a truncated or destroyed GPT) is -EMEDIUMTYPE; a read-only device
 * asked to be writable is -EROFS. */
int gpt_open(const char *path, bool writable, unsigned lock_wait_ms, struct gpt **ret, struct ingot_error *err);
void gpt_free(struct gpt *g);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct gpt *, gpt_free);

/* Changes one partition in memory (uuid NULL: keep it); gpt_write() makes every change durable at
 * once: libfdisk writes and fsyncs the backup array and header, then the primary ones, so a power cut
 * leaves either the old table or the new one readable. */
int gpt_set(struct gpt *g, size_t index, uint64_t attrs, const char *uuid, struct ingot_error *err);
int gpt_write(struct gpt *g, struct ingot_error *err);

/* A new GPT on fd (a file already sized, or a device): the partitions in order, at the byte offsets
 * and sizes given (multiples of the sector size). */
struct gpt_new_partition {
        const char *type;
        const char *label;
        char uuid[37];
        uint64_t offset, size;
        uint64_t attrs;
};
int gpt_create(int fd, const char *path, const char *disk_uuid, const struct gpt_new_partition *parts, size_t n,
               struct ingot_error *err);

/* Partitions of the disk region at offset/size, for pwrite through the gpt's fd. */
int gpt_pwrite(struct gpt *g, const struct gpt_partition *p, uint64_t at, const void *buf, size_t size,
               struct ingot_error *err);

/* A v4-style UUID from HMAC-SHA256(seed, label): the same inputs give the same disk. */
int gpt_uuid_derive(const uint8_t seed[32], const char *label, char out[37]);
