/* disk.c: `ingot disk`: a new A/B disk image: the GPT layout and its derived UUIDs, the ESP (esp.c),
 * slot a (and b) written and checked like an install; complete before it gets its name. */
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>

#include "artifact.h"
#include "esp.h"
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

int ingot_disk_create(const char *path, const struct ingot_disk_options *o, struct ingot_error *err) {
        const char *sources[SLOT_COUNT] = { o->slot_a, o->slot_b };
        struct slot_image img[SLOT_COUNT] = { { .fd = -1 }, { .fd = -1 } };
        _cleanup_free_ char *dir = dirname_dup(path);
        struct artifact art = { .fd = -1 };
        const char *tmp = NULL;
        struct slot_table *t = NULL;
        int fd = -1, r = 0;
        if (!o->slot_a)
                return error_set(err, -EINVAL, "a disk needs an image for slot a");
        if (!dir)
                return -ENOMEM;

        /* the images, checked; the largest sizes the slots */
        uint64_t max_image = 0, max_tree = 0;
        uint8_t seed[32];
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL) || !EVP_DigestUpdate(md, "ingot disk", 11)) {
                EVP_MD_CTX_free(md);
                return -ENOMEM;
        }
        for (int i = 0; i < SLOT_COUNT && r >= 0; i++) {
                if (!sources[i])
                        continue;
                r = slot_image_open(sources[i], NULL, &img[i], err);
                if (r < 0)
                        break;
                size_t area;
                (void) verity_tree_area(img[i].tree, &area);
                max_image = img[i].size > max_image ? img[i].size : max_image;
                max_tree = area > max_tree ? area : max_tree;
                EVP_DigestUpdate(md, img[i].root_hash, strlen(img[i].root_hash) + 1);
        }
        uint64_t sizes[4] = { o->size, o->esp_size, o->var_size, o->slot_size };
        EVP_DigestUpdate(md, sizes, sizeof(sizes));
        EVP_DigestFinal_ex(md, seed, NULL);
        EVP_MD_CTX_free(md);
        if (r < 0)
                goto out;

        uint64_t slot_size = o->slot_size ? round_up(o->slot_size, MiB) : round_up(2 * max_image, MiB);
        if (slot_size < max_image) {
                r = error_set(err, -EFBIG, "--slot-size %llu is smaller than the image (%llu bytes)",
                              (unsigned long long) o->slot_size, (unsigned long long) max_image);
                goto out;
        }
        /* room for the tree of an image that fills the root partition, as later installs may */
        uint64_t tree_size = 2 * max_tree;
        for (int i = 0; i < SLOT_COUNT; i++) {
                uint64_t need = img[i].tree ? verity_tree_area_for(img[i].tree, slot_size) : 0;
                tree_size = need > tree_size ? need : tree_size;
        }
        tree_size = round_up(tree_size, MiB);
        struct layout l = { .end = MiB };
        add(&l, GPT_TYPE_ESP, "esp", o->esp_size ? round_up(o->esp_size, MiB) : 256 * MiB);
        static const char *labels[SLOT_COUNT][3] = { { "root-a", "verity-a", "verity-sig-a" },
                                                     { "root-b", "verity-b", "verity-sig-b" } };
        for (int i = 0; i < SLOT_COUNT; i++) {
                add(&l, GPT_TYPE_ROOT, labels[i][0], slot_size);
                add(&l, GPT_TYPE_ROOT_VERITY, labels[i][1], tree_size);
                add(&l, GPT_TYPE_ROOT_VERITY_SIG, labels[i][2], SIG_PARTITION_SIZE);
        }
        uint64_t tail = MiB; /* the backup GPT */
        uint64_t var = o->var_size ? round_up(o->var_size, MiB) : 256 * MiB;
        if (o->size) {
                uint64_t size = o->size / MiB * MiB;
                if (size < l.end + 16 * MiB + tail ||
                    (o->var_size && size < l.end + var + tail)) {
                        r = error_set(err, -EFBIG, "--size %llu is too small: the partitions need %llu bytes",
                                      (unsigned long long) o->size,
                                      (unsigned long long) (l.end + (o->var_size ? var : 16 * MiB) + tail));
                        goto out;
                }
                if (!o->var_size)
                        var = size - l.end - tail;
        }
        add(&l, GPT_TYPE_VAR, "var", var);
        uint64_t total = o->size ? o->size / MiB * MiB : l.end + tail;

        char disk_uuid[37], esp_uuid[37];
        r = gpt_uuid_derive(seed, "disk", disk_uuid);
        for (size_t i = 0; i < l.n && r >= 0; i++) {
                struct gpt_new_partition *p = &l.parts[i];
                int s = strcmp(p->label, "esp") == 0 || strcmp(p->label, "var") == 0 ? -1 : p->label[strlen(p->label) - 1] - 'a';
                if (s >= 0 && img[s].fd >= 0 && strncmp(p->label, "verity-sig", 10) != 0) {
                        char ru[37], vu[37];
                        root_hash_uuids(img[s].root_hash, ru, vu);
                        if (s == 1 && img[0].fd >= 0 && strcmp(img[0].root_hash, img[1].root_hash) == 0)
                                ru[0] = vu[0] = ru[0] == 'f' ? '0' : 'f'; /* same image twice: keep UUIDs unique */
                        memcpy(p->uuid, strncmp(p->label, "root", 4) == 0 ? ru : vu, 37);
                } else
                        r = gpt_uuid_derive(seed, p->label, p->uuid);
        }
        memcpy(esp_uuid, l.parts[0].uuid, sizeof(esp_uuid));
        if (r < 0)
                goto out;

        /* build it under a temporary name */
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        r = artifact_open(&art, dir, base, err);
        if (r < 0)
                goto out;
        fd = art.fd;
        tmp = art.tmp;
        if (ftruncate(fd, (off_t) total) < 0) {
                r = error_set(err, -errno, "%s: %s", tmp, strerror(errno));
                goto out;
        }
        r = gpt_create(fd, tmp, disk_uuid, l.parts, l.n, err);
        if (r >= 0) {
                char volid[9]; /* the ESP's volume id from its UUID */
                snprintf(volid, sizeof(volid), "%.8s", esp_uuid);
                r = esp_format(tmp, l.parts[0].offset, l.parts[0].size, volid, err);
        }
        if (r >= 0 && o->boot_kernel)
                r = esp_fill(tmp, l.parts[0].offset, o, disk_uuid, dir, err);
        if (r >= 0)
                r = slot_table_open(tmp, true, 0, &t, err);
        for (int i = 0; i < SLOT_COUNT && r >= 0; i++) {
                if (img[i].fd < 0)
                        continue;
                struct slot *s = &t->slots[i];
                r = slot_write(t, s, &img[i], NULL, NULL, NULL, err);
                if (r < 0)
                        break;
                /* factory state: a is good and first, b (when given) good and second */
                s->attrs = (struct slot_attrs) { .priority = i == 0 ? 2 : 1, .successful = true };
                r = gpt_set(t->gpt, s->root, slot_attrs_encode(t->gpt->parts[s->root].attrs, &s->attrs), NULL, err);
        }
        if (r >= 0)
                r = gpt_write(t->gpt, err);
        slot_table_free(t);
        t = NULL;
        if (r >= 0)
                r = artifacts_commit(&art, 1, err);
out:
        slot_table_free(t);
        artifact_discard(&art);
        for (int i = 0; i < SLOT_COUNT; i++)
                slot_image_close(&img[i]);
        return r;
}
