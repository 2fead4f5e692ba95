/* disk.c: `ingot disk`: a new A/B disk image: the GPT layout and its derived UUIDs, the ESP (esp.c),
 * slot a (and b) written and checked like an install; complete before it gets its name. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "artifact.h"
#include "esp.h"
#include "openssl-util.h"
#include "roothash.h"
#include "slot.h"

#define MiB (UINT64_C(1) << 20)
#define SIG_PARTITION_SIZE (16 * 1024) /* what systemd-repart makes */

static uint64_t round_up(uint64_t v, uint64_t to) {
        return (v + to - 1) / to * to;
}

struct layout {
        struct gpt_new_partition parts[16];
        size_t n;
        uint64_t end;
};

static void add(struct layout *l, const char *type, const char *label, uint64_t size) {
        l->parts[l->n] = (struct gpt_new_partition) { .type = type, .label = label, .offset = l->end, .size = size };
        l->end = round_up(l->end + size, MiB);
        l->n++;
}

static void slot_images_close(struct slot_image (*img)[SLOT_COUNT]) {
        for (int i = 0; i < SLOT_COUNT; i++)
                slot_image_close(&(*img)[i]);
}

/* The slots' images, opened and checked, the largest image and hash tree among them, and the seed every
 * derived UUID comes from: the images' root hashes and the sizes asked for, so a disk repeats. */
static int open_images(const struct ingot_disk_options *o, struct slot_image img[SLOT_COUNT], uint8_t seed[32],
                       uint64_t *ret_max_image, uint64_t *ret_max_tree, struct ingot_error *err) {
        const char *sources[SLOT_COUNT] = { o->slot_a, o->slot_b };
        uint64_t max_image = 0, max_tree = 0;
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL) || !EVP_DigestUpdate(md, "ingot disk", 11))
                return -ENOMEM;
        for (int i = 0; i < SLOT_COUNT; i++) {
                if (!sources[i])
                        continue;
                int r = slot_image_open(sources[i], NULL, &img[i], err);
                if (r < 0)
                        return r;
                size_t area;
                (void) verity_tree_area(img[i].tree, &area);
                max_image = img[i].size > max_image ? img[i].size : max_image;
                max_tree = area > max_tree ? area : max_tree;
                EVP_DigestUpdate(md, img[i].root_hash, strlen(img[i].root_hash) + 1);
        }
        uint64_t sizes[4] = { o->size, o->esp_size, o->var_size, o->slot_size };
        EVP_DigestUpdate(md, sizes, sizeof(sizes));
        EVP_DigestFinal_ex(md, seed, NULL);
        *ret_max_image = max_image;
        *ret_max_tree = max_tree;
        return 0;
}

/* The partitions: the ESP, each slot's root, verity and signature partitions sized for the largest image
 * (twice it, unless --slot-size says), /var with what is left; and the disk's size. */
static int plan_layout(const struct ingot_disk_options *o, const struct slot_image img[SLOT_COUNT],
                       uint64_t max_image, uint64_t max_tree, struct layout *l, uint64_t *ret_total,
                       struct ingot_error *err) {
        uint64_t slot_size = o->slot_size ? round_up(o->slot_size, MiB) : round_up(2 * max_image, MiB);
        if (slot_size < max_image)
                return error_set(err, -EFBIG, "--slot-size %llu is smaller than the image (%llu bytes)",
                                 (unsigned long long) o->slot_size, (unsigned long long) max_image);
        /* room for the tree of an image that fills the root partition, as later installs may */
        uint64_t tree_size = 2 * max_tree;
        for (int i = 0; i < SLOT_COUNT; i++) {
                uint64_t need = img[i].tree ? verity_tree_area_for(img[i].tree, slot_size) : 0;
                tree_size = need > tree_size ? need : tree_size;
        }
        tree_size = round_up(tree_size, MiB);
        *l = (struct layout) { .end = MiB };
        add(l, GPT_TYPE_ESP, "esp", o->esp_size ? round_up(o->esp_size, MiB) : 256 * MiB);
        static const char *labels[SLOT_COUNT][3] = { { "root-a", "verity-a", "verity-sig-a" },
                                                     { "root-b", "verity-b", "verity-sig-b" } };
        for (int i = 0; i < SLOT_COUNT; i++) {
                add(l, GPT_TYPE_ROOT, labels[i][0], slot_size);
                add(l, GPT_TYPE_ROOT_VERITY, labels[i][1], tree_size);
                add(l, GPT_TYPE_ROOT_VERITY_SIG, labels[i][2], SIG_PARTITION_SIZE);
        }
        uint64_t tail = MiB; /* the backup GPT */
        uint64_t var = o->var_size ? round_up(o->var_size, MiB) : 256 * MiB;
        if (o->size) {
                uint64_t size = o->size / MiB * MiB;
                if (size < l->end + 16 * MiB + tail || (o->var_size && size < l->end + var + tail))
                        return error_set(err, -EFBIG, "--size %llu is too small: the partitions need %llu bytes",
                                         (unsigned long long) o->size,
                                         (unsigned long long) (l->end + (o->var_size ? var : 16 * MiB) + tail));
                if (!o->var_size)
                        var = size - l->end - tail;
        }
        add(l, GPT_TYPE_VAR, "var", var);
        *ret_total = o->size ? o->size / MiB * MiB : l->end + tail;
        return 0;
}

/* The disk's and partitions' UUIDs: a slot's root and verity partitions take theirs from its image's root
 * hash (as systemd-gpt-auto-generator finds them), the rest are derived from seed. */
static int assign_uuids(struct layout *l, const struct slot_image img[SLOT_COUNT], const uint8_t seed[32],
                        char ret_disk_uuid[37]) {
        int r = gpt_uuid_derive(seed, "disk", ret_disk_uuid);
        if (r < 0)
                return r;
        for (size_t i = 0; i < l->n; i++) {
                struct gpt_new_partition *p = &l->parts[i];
                int s = strcmp(p->label, "esp") == 0 || strcmp(p->label, "var") == 0
                                ? -1
                                : p->label[strlen(p->label) - 1] - 'a';
                if (s >= 0 && img[s].fd >= 0 && strncmp(p->label, "verity-sig", 10) != 0) {
                        char ru[37], vu[37];
                        root_hash_uuids(img[s].root_hash, ru, vu);
                        if (s == 1 && img[0].fd >= 0 && strcmp(img[0].root_hash, img[1].root_hash) == 0)
                                ru[0] = vu[0] = ru[0] == 'f' ? '0' : 'f'; /* same image twice: keep UUIDs unique */
                        memcpy(p->uuid, strncmp(p->label, "root", 4) == 0 ? ru : vu, 37);
                        continue;
                }
                r = gpt_uuid_derive(seed, p->label, p->uuid);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Each given image into its slot, checked like an install; factory state: a is good and first, b (when
 * given) good and second. */
static int write_slots(const char *path, const struct slot_image img[SLOT_COUNT], struct ingot_error *err) {
        _cleanup_(slot_table_freep) struct slot_table *t = NULL;
        int r = slot_table_open(path, true, 0, &t, err);
        if (r < 0)
                return r;
        for (int i = 0; i < SLOT_COUNT; i++) {
                if (img[i].fd < 0)
                        continue;
                struct slot *s = &t->slots[i];
                if ((r = slot_write(t, s, &img[i], NULL, NULL, NULL, err)) < 0)
                        return r;
                s->attrs = (struct slot_attrs) { .priority = i == 0 ? 2 : 1, .successful = true };
                r = gpt_set(t->gpt, s->root, slot_attrs_encode(t->gpt->parts[s->root].attrs, &s->attrs), NULL, err);
                if (r < 0)
                        return r;
        }
        return gpt_write(t->gpt, err);
}

int ingot_disk_create(const char *path, const struct ingot_disk_options *o, struct ingot_error *err) {
        if (!o->slot_a)
                return error_set(err, -EINVAL, "a disk needs an image for slot a");
        _cleanup_free_ char *dir = dirname_dup(path);
        if (!dir)
                return -ENOMEM;

        _cleanup_(slot_images_close) struct slot_image img[SLOT_COUNT] = { { .fd = -1 }, { .fd = -1 } };
        uint8_t seed[32];
        uint64_t max_image = 0, max_tree = 0, total = 0;
        struct layout l;
        char disk_uuid[37];
        int r = open_images(o, img, seed, &max_image, &max_tree, err);
        if (r < 0)
                return r;
        if ((r = plan_layout(o, img, max_image, max_tree, &l, &total, err)) < 0)
                return r;
        if ((r = assign_uuids(&l, img, seed, disk_uuid)) < 0)
                return r;

        /* built under a temporary name, renamed once complete and durable */
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        _cleanup_(artifact_discard) struct artifact art = { .fd = -1 };
        if ((r = artifact_open(&art, dir, base, err)) < 0)
                return r;
        if (ftruncate(art.fd, (off_t) total) < 0)
                return error_set(err, -errno, "%s: %s", art.tmp, strerror(errno));
        if ((r = gpt_create(art.fd, art.tmp, disk_uuid, l.parts, l.n, err)) < 0)
                return r;
        char volid[9]; /* the ESP's volume id from its UUID */
        snprintf(volid, sizeof(volid), "%.8s", l.parts[0].uuid);
        if ((r = esp_format(art.tmp, l.parts[0].offset, l.parts[0].size, volid, err)) < 0)
                return r;
        if (o->boot_kernel && (r = esp_fill(art.tmp, l.parts[0].offset, o, disk_uuid, dir, err)) < 0)
                return r;
        if ((r = write_slots(art.tmp, img, err)) < 0)
                return r;
        return artifacts_commit(&art, 1, err);
}
