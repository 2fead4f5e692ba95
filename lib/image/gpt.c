/* gpt.c: the partition table through libfdisk (no GPT code of our own): reading, one-write changes,
 * creation, and the flock that serializes ingot calls on one disk. */
#include <fcntl.h>
#include <libfdisk/libfdisk.h>
#include <linux/fs.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>

#include "gpt.h"

/* libfdisk's unref functions take NULL. */
DEFINE_TRIVIAL_CLEANUP_FUNC(struct fdisk_table *, fdisk_unref_table);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct fdisk_partition *, fdisk_unref_partition);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct fdisk_parttype *, fdisk_unref_parttype);

/* A context, with the device it was given (not closed: the fd is ours) let go first. */
static void fdisk_context_release(struct fdisk_context *cxt) {
        if (!cxt)
                return;
        /* libfdisk asserts on deassigning a context whose assignment failed */
        if (fdisk_get_devfd(cxt) >= 0)
                fdisk_deassign_device(cxt, 1);
        fdisk_unref_context(cxt);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct fdisk_context *, fdisk_context_release);

/* libfdisk reports through its ask callback; keep the first warning for the caller to show. */
static int ask_cb(struct fdisk_context *cxt, struct fdisk_ask *ask, void *data) {
        (void) cxt;
        struct gpt *g = data;
        int type = fdisk_ask_get_type(ask);
        if ((type == FDISK_ASKTYPE_WARN || type == FDISK_ASKTYPE_WARNX) && g && !*g->warning) {
                const char *m = fdisk_ask_print_get_mesg(ask);
                snprintf(g->warning, sizeof(g->warning), "%s", m ? m : "");
        }
        return 0;
}

static int lock_fd(int fd, const char *path, bool exclusive, unsigned wait_ms, struct ingot_error *err) {
        for (unsigned waited = 0;; waited += 50) {
                if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
                        return 0;
                if (errno != EWOULDBLOCK)
                        return error_set(err, -errno, "%s: locking: %s", path, strerror(errno));
                if (waited >= wait_ms)
                        return error_set(err, -EBUSY,
                                         "%s: another ingot call holds the disk (waited %.1f s); try again when it is done",
                                         path, wait_ms / 1000.0);
                nanosleep(&(struct timespec) { .tv_nsec = 50 * 1000 * 1000 }, NULL);
        }
}

/* libfdisk allocates the partition entry array a header claims before it checks anything else:
 * a hostile disk could make ingot allocate gigabytes. ingot writes 128 entries of 128 bytes; any
 * header (primary at LBA 1, backup at the last LBA) with an array over GPT_ENTRIES_MAX is refused. */
#define GPT_ENTRIES_MAX (1024u * 1024u)

static int headers_check(int fd, const char *path, bool block_device, uint64_t size, struct ingot_error *err) {
        int ssz = 512;
        if (block_device && (ioctl(fd, BLKSSZGET, &ssz) < 0 || ssz < 512 || ssz > 65536))
                ssz = 512;
        const uint64_t at[] = { (uint64_t) ssz, size >= 2 * (uint64_t) ssz ? size - (uint64_t) ssz : 0 };
        for (size_t i = 0; i < ELEMENTSOF(at); i++) {
                uint8_t h[92];
                if (!at[i] || pread(fd, h, sizeof(h), (off_t) at[i]) != (ssize_t) sizeof(h) ||
                    memcmp(h, "EFI PART", 8) != 0)
                        continue;
                uint32_t n = (uint32_t) h[80] | (uint32_t) h[81] << 8 | (uint32_t) h[82] << 16 | (uint32_t) h[83] << 24;
                uint32_t esize = (uint32_t) h[84] | (uint32_t) h[85] << 8 | (uint32_t) h[86] << 16 |
                                 (uint32_t) h[87] << 24;
                if ((uint64_t) n * esize > GPT_ENTRIES_MAX)
                        return error_set(err, -EMEDIUMTYPE,
                                         "%s: the GPT header at byte %llu claims %u partition entries of %u bytes; "
                                         "ingot reads at most %u bytes of entries",
                                         path, (unsigned long long) at[i], n, esize, GPT_ENTRIES_MAX);
        }
        return 0;
}

/* Every partition inside the usable area and none overlapping another: a table that says otherwise
 * would have ingot write one slot over another, or past the disk, so nothing is done with it. */
static int partitions_check(struct gpt *g, struct ingot_error *err) {
        uint64_t first = (uint64_t) fdisk_get_first_lba(g->cxt) * g->sector_size;
        uint64_t last = ((uint64_t) fdisk_get_last_lba(g->cxt) + 1) * g->sector_size;
        if (last > g->size)
                last = g->size;
        for (size_t i = 0; i < g->n_parts; i++) {
                const struct gpt_partition *p = &g->parts[i];
                if (p->size == 0)
                        return error_set(err, -EMEDIUMTYPE,
                                         "%s: partition %zu ('%s') ends before it starts; nothing was done", g->path,
                                         p->partno + 1, p->label);
                if (p->offset < first || p->size > last || p->offset > last - p->size)
                        return error_set(err, -EMEDIUMTYPE,
                                         "%s: partition %zu ('%s', bytes %llu-%llu) lies outside the usable area "
                                         "(bytes %llu-%llu); nothing was done",
                                         g->path, p->partno + 1, p->label, (unsigned long long) p->offset,
                                         (unsigned long long) (p->offset + p->size), (unsigned long long) first,
                                         (unsigned long long) last);
                for (size_t k = 0; k < i; k++) {
                        const struct gpt_partition *q = &g->parts[k];
                        if (p->offset < q->offset + q->size && q->offset < p->offset + p->size)
                                return error_set(err, -EMEDIUMTYPE,
                                                 "%s: partition %zu ('%s', bytes %llu-%llu) overlaps partition %zu "
                                                 "('%s', bytes %llu-%llu); nothing was done",
                                                 g->path, p->partno + 1, p->label, (unsigned long long) p->offset,
                                                 (unsigned long long) (p->offset + p->size), q->partno + 1, q->label,
                                                 (unsigned long long) q->offset,
                                                 (unsigned long long) (q->offset + q->size));
                }
        }
        return 0;
}

static int read_partitions(struct gpt *g, struct ingot_error *err) {
        _cleanup_(fdisk_unref_tablep) struct fdisk_table *tb = NULL;
        int r = fdisk_get_partitions(g->cxt, &tb);
        if (r < 0)
                return error_set(err, r, "%s: reading the partitions: %s", g->path, strerror(-r));
        size_t n = fdisk_table_get_nents(tb);
        g->parts = calloc(n ? n : 1, sizeof(*g->parts));
        if (!g->parts)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct fdisk_partition *pa = fdisk_table_get_partition(tb, i);
                struct gpt_partition *p = &g->parts[g->n_parts];
                if (!pa || !fdisk_partition_has_partno(pa))
                        continue;
                struct fdisk_parttype *t = fdisk_partition_get_type(pa);
                p->partno = fdisk_partition_get_partno(pa);
                snprintf(p->type, sizeof(p->type), "%s", t ? fdisk_parttype_get_string(t) : "");
                snprintf(p->label, sizeof(p->label), "%s", fdisk_partition_get_name(pa) ?: "");
                snprintf(p->uuid, sizeof(p->uuid), "%s", fdisk_partition_get_uuid(pa) ?: "");
                p->offset = (uint64_t) fdisk_partition_get_start(pa) * g->sector_size;
                p->size = (uint64_t) fdisk_partition_get_size(pa) * g->sector_size;
                if (fdisk_gpt_get_partition_attrs(g->cxt, p->partno, &p->attrs) < 0)
                        p->attrs = 0;
                g->n_parts++;
        }
        return partitions_check(g, err);
}

/* Opens g->path, checks that it is a disk image or a device ingot may use as asked, and takes the lock;
 * then the checks libfdisk does not make before it allocates. */
static int disk_open(struct gpt *g, unsigned lock_wait_ms, struct ingot_error *err) {
        const char *path = g->path;
        g->fd = open(path, (g->writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY);
        if (g->fd < 0)
                return errno == EROFS || (g->writable && errno == EACCES)
                               ? error_set(err, -EROFS, "%s: read-only (%s); nothing was written", path,
                                           strerror(errno))
                               : error_set(err, -errno, "%s: %s", path, strerror(errno));
        struct stat st;
        if (fstat(g->fd, &st) < 0)
                return error_set(err, -errno, "%s: %s", path, strerror(errno));
        g->block_device = S_ISBLK(st.st_mode);
        if (!g->block_device && !S_ISREG(st.st_mode))
                return error_set(err, -ENOTBLK, "%s: neither a disk image file nor a block device", path);
        if (g->block_device && g->writable) {
                int ro = 0;
                if (ioctl(g->fd, BLKROGET, &ro) == 0 && ro)
                        return error_set(err, -EROFS, "%s: the device is read-only; nothing was written", path);
        }
        int r = lock_fd(g->fd, path, g->writable, lock_wait_ms, err);
        if (r < 0)
                return r;
        uint64_t dev_size = (uint64_t) st.st_size;
        bool size_known = true;
        if (g->block_device && ioctl(g->fd, BLKGETSIZE64, &dev_size) < 0) {
                dev_size = 0;
                size_known = false;
        }
        if (size_known && dev_size < 512) /* not even one sector: libfdisk only says EINVAL */
                return error_set(err, -EMEDIUMTYPE, "%s: %llu byte%s, too small to be a disk: no GPT partition table",
                                 path, (unsigned long long) dev_size, dev_size == 1 ? "" : "s");
        return headers_check(g->fd, path, g->block_device, dev_size, err);
}

/* A DOS label whose first partition is of type 0xee: what a GPT disk shows when its GPT is gone. */
static bool protective_mbr(struct fdisk_context *cxt) {
        if (!fdisk_is_label(cxt, DOS))
                return false;
        _cleanup_(fdisk_unref_partitionp) struct fdisk_partition *pa = NULL;
        if (fdisk_get_partition(cxt, 0, &pa) != 0)
                return false;
        struct fdisk_parttype *t = fdisk_partition_get_type(pa);
        return t && fdisk_parttype_get_code(t) == 0xee;
}

/* Hands g->fd to libfdisk and reads the label: a GPT, or -EMEDIUMTYPE. */
static int label_read(struct gpt *g, struct ingot_error *err) {
        g->cxt = fdisk_new_context();
        if (!g->cxt)
                return -ENOMEM;
        fdisk_set_ask(g->cxt, ask_cb, g);
        int r = fdisk_assign_device_by_fd(g->cxt, g->fd, g->path, !g->writable);
        if (r < 0)
                return error_set(err, r, "%s: %s", g->path, strerror(-r));
        g->sector_size = fdisk_get_sector_size(g->cxt);
        g->size = (uint64_t) fdisk_get_nsectors(g->cxt) * g->sector_size;
        if (!fdisk_is_label(g->cxt, GPT))
                return error_set(err, -EMEDIUMTYPE,
                                 protective_mbr(g->cxt) ? "%s: a protective MBR but no readable GPT: the disk is "
                                                          "truncated or both GPT headers are damaged"
                                                        : "%s: no GPT partition table",
                                 g->path);
        _cleanup_free_ char *id = NULL;
        if (fdisk_get_disklabel_id(g->cxt, &id) == 0 && id)
                snprintf(g->disk_uuid, sizeof(g->disk_uuid), "%s", id);
        return 0;
}

int gpt_open(const char *path, bool writable, unsigned lock_wait_ms, struct gpt **ret, struct ingot_error *err) {
        _cleanup_(gpt_freep) struct gpt *g = calloc(1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        g->fd = -1;
        g->writable = writable;
        g->path = strdup(path);
        if (!g->path)
                return -ENOMEM;
        int r = disk_open(g, lock_wait_ms, err);
        if (r < 0)
                return r;
        r = label_read(g, err);
        if (r < 0)
                return r;
        r = read_partitions(g, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(g);
        return 0;
}

void gpt_free(struct gpt *g) {
        if (!g)
                return;
        fdisk_context_release(g->cxt);
        if (g->fd >= 0)
                close(g->fd); /* drops the flock */
        free(g->parts);
        free(g->path);
        free(g);
}

static int change_failed(struct gpt *g, const struct gpt_partition *p, int r, struct ingot_error *err) {
        return error_set(err, r, "%s: changing partition %zu: %s", g->path, p->partno + 1, strerror(-r));
}

int gpt_set(struct gpt *g, size_t index, uint64_t attrs, const char *uuid, struct ingot_error *err) {
        struct gpt_partition *p = &g->parts[index];
        int r = fdisk_gpt_set_partition_attrs(g->cxt, p->partno, attrs);
        if (r < 0)
                return change_failed(g, p, r, err);
        if (uuid && strcasecmp(uuid, p->uuid) != 0) {
                _cleanup_(fdisk_unref_partitionp) struct fdisk_partition *pa = fdisk_new_partition();
                if (!pa)
                        return -ENOMEM;
                r = fdisk_partition_set_uuid(pa, uuid);
                if (r < 0)
                        return change_failed(g, p, r, err);
                r = fdisk_set_partition(g->cxt, p->partno, pa);
                if (r < 0)
                        return change_failed(g, p, r, err);
                snprintf(p->uuid, sizeof(p->uuid), "%s", uuid);
        }
        p->attrs = attrs;
        return 0;
}

int gpt_write(struct gpt *g, struct ingot_error *err) {
        int r = fdisk_write_disklabel(g->cxt);
        if (r < 0)
                return error_set(err, r, "%s: writing the partition table: %s", g->path, strerror(-r));
        if (fsync(g->fd) < 0)
                return error_set(err, -errno, "%s: fsync: %s", g->path, strerror(errno));
        *g->warning = 0; /* both tables are whole again */
        return 0;
}

int gpt_pwrite(struct gpt *g, const struct gpt_partition *p, uint64_t at, const void *buf, size_t size,
               struct ingot_error *err) {
        if (at > p->size || size > p->size - at)
                return error_set(err, -ENOSPC, "%s: write beyond partition %s", g->path, p->label);
        int r = pwrite_full(g->fd, buf, size, p->offset + at);
        if (r < 0)
                return error_set(err, r, "%s: writing %s: %s", g->path, p->label, strerror(-r));
        return 0;
}

/* Assigns fd to cxt and makes an empty GPT on it with the given disk UUID, in memory. */
static int label_create(struct fdisk_context *cxt, int fd, const char *path, const char *disk_uuid) {
        int r = fdisk_assign_device_by_fd(cxt, fd, path, 0);
        if (r < 0)
                return r;
        r = fdisk_create_disklabel(cxt, "gpt");
        if (r < 0)
                return r;
        return fdisk_set_disklabel_id_from_string(cxt, disk_uuid);
}

/* Adds np as partition number i, in memory. */
static int partition_add(struct fdisk_context *cxt, size_t i, const struct gpt_new_partition *np, const char *path,
                         struct ingot_error *err) {
        unsigned long ss = fdisk_get_sector_size(cxt);
        _cleanup_(fdisk_unref_partitionp) struct fdisk_partition *pa = fdisk_new_partition();
        _cleanup_(fdisk_unref_parttypep) struct fdisk_parttype *t =
                fdisk_label_get_parttype_from_string(fdisk_get_label(cxt, NULL), np->type);
        if (!pa || !t)
                return -ENOMEM;
        fdisk_partition_set_partno(pa, i);
        fdisk_partition_set_start(pa, np->offset / ss);
        fdisk_partition_set_size(pa, np->size / ss);
        fdisk_partition_set_type(pa, t);
        fdisk_partition_set_name(pa, np->label);
        fdisk_partition_set_uuid(pa, np->uuid);
        int r = fdisk_add_partition(cxt, pa, NULL);
        if (r < 0)
                return error_set(err, r, "%s: adding partition %s: %s", path, np->label, strerror(-r));
        r = fdisk_gpt_set_partition_attrs(cxt, i, np->attrs);
        if (r < 0)
                return error_set(err, r, "%s: adding partition %s: %s", path, np->label, strerror(-r));
        return 0;
}

int gpt_create(int fd, const char *path, const char *disk_uuid, const struct gpt_new_partition *parts, size_t n,
               struct ingot_error *err) {
        _cleanup_(fdisk_context_releasep) struct fdisk_context *cxt = fdisk_new_context();
        if (!cxt)
                return -ENOMEM;
        fdisk_set_ask(cxt, ask_cb, NULL);
        int r = label_create(cxt, fd, path, disk_uuid);
        if (r < 0)
                return error_set(err, r, "%s: creating the GPT: %s", path, strerror(-r));
        for (size_t i = 0; i < n; i++) {
                r = partition_add(cxt, i, &parts[i], path, err);
                if (r < 0)
                        return r;
        }
        r = fdisk_write_disklabel(cxt);
        if (r < 0)
                return error_set(err, r, "%s: writing the GPT: %s", path, strerror(-r));
        return 0;
}

int gpt_uuid_derive(const uint8_t seed[32], const char *label, char out[37]) {
        uint8_t mac[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        if (!HMAC(EVP_sha256(), seed, 32, (const unsigned char *) label, strlen(label), mac, &len))
                return -EIO;
        mac[6] = (mac[6] & 0x0f) | 0x40;
        mac[8] = (mac[8] & 0x3f) | 0x80;
        uuid_format(mac, out);
        return 0;
}
