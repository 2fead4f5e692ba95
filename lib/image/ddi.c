/* ddi.c: the layer DDI: layout (1 MiB, then root, root-verity, root-verity-sig on 4 KiB boundaries),
 * UUIDs from the root hash's halves (as systemd-repart, so systemd pairs them), data copied in; found again. */
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>

#include "ddi.h"
#include "roothash.h"
#include "verity-sig.h"

#define MiB (UINT64_C(1) << 20)
#define ALIGN 4096u
#define GPT_READ_ONLY (UINT64_C(1) << 60) /* DPS: mount read-only */

static uint64_t round_up(uint64_t v, uint64_t to) {
        return (v + to - 1) / to * to;
}

static int copy_region(int from, uint64_t size, int to, uint64_t at, const char *path, struct ingot_error *err) {
        _cleanup_free_ uint8_t *buf = malloc(MiB);
        if (!buf)
                return -ENOMEM;
        for (uint64_t done = 0; done < size;) {
                size_t n = size - done < MiB ? (size_t) (size - done) : MiB;
                int r = pread_full(from, buf, n, done);
                if (r < 0)
                        return error_set(err, r, "%s: copying a partition's data: %s", path, strerror(-r));
                r = pwrite_full(to, buf, n, at + done);
                if (r < 0)
                        return error_set(err, r, "%s: copying a partition's data: %s", path, strerror(-r));
                done += n;
        }
        return 0;
}

int ddi_write(int fd, const char *path, const struct ddi_input *in, struct ingot_error *err) {
        uint8_t seed[32];
        unsigned len = 0;
        if (!EVP_Digest(in->root_hash, strlen(in->root_hash), seed, &len, EVP_sha256(), NULL))
                return -EIO;
        if (strcmp(in->architecture, "x86-64") != 0)
                return error_set(err, -EOPNOTSUPP, "%s: no partition types for architecture %s here; build the layer "
                                 "with --format raw", path, in->architecture);
        /* root, not usr: systemd 252 reads only a root-verity-sig partition (docs/sysext.md) */
        struct gpt_new_partition parts[3] = {
                { .type = GPT_TYPE_ROOT, .label = "root-x86-64", .offset = MiB, .size = round_up(in->data_size, ALIGN),
                  .attrs = GPT_READ_ONLY },
                { .type = GPT_TYPE_ROOT_VERITY, .label = "root-x86-64-verity", .size = round_up(in->hash_size, ALIGN),
                  .attrs = GPT_READ_ONLY },
                { .type = GPT_TYPE_ROOT_VERITY_SIG, .label = "root-x86-64-verity-sig",
                  .size = round_up(in->payload_size > DDI_SIG_PARTITION_SIZE ? in->payload_size : DDI_SIG_PARTITION_SIZE,
                                   ALIGN),
                  .attrs = GPT_READ_ONLY },
        };
        size_t n = in->payload ? 3 : 2;
        parts[1].offset = parts[0].offset + parts[0].size;
        parts[2].offset = parts[1].offset + parts[1].size;
        /* systemd pairs root with root-verity when their UUIDs are the root hash's first and last 128 bits */
        root_hash_uuids(in->root_hash, parts[0].uuid, parts[1].uuid);
        char disk_uuid[37];
        int r = gpt_uuid_derive(seed, "ddi", disk_uuid);
        if (r < 0)
                return r;
        r = gpt_uuid_derive(seed, "root-verity-sig", parts[2].uuid);
        if (r < 0)
                return r;
        /* the backup GPT (33 sectors) after the last partition */
        uint64_t total = round_up(parts[n - 1].offset + parts[n - 1].size + 64 * 1024, ALIGN);
        if (ftruncate(fd, (off_t) total) < 0)
                return error_set(err, -errno, "%s: %s", path, strerror(errno));
        r = gpt_create(fd, path, disk_uuid, parts, n, err);
        if (r < 0)
                return r;
        r = copy_region(in->data_fd, in->data_size, fd, parts[0].offset, path, err);
        if (r < 0)
                return r;
        r = copy_region(in->hash_fd, in->hash_size, fd, parts[1].offset, path, err);
        if (r < 0)
                return r;
        if (!in->payload)
                return 0;
        r = pwrite_full(fd, in->payload, in->payload_size, parts[2].offset);
        if (r < 0)
                return error_set(err, r, "%s: writing the signature partition: %s", path, strerror(-r));
        return 0;
}

bool ddi_detect(int fd) {
        char sig[8];
        return pread_full(fd, sig, sizeof(sig), 512) >= 0 && memcmp(sig, "EFI PART", 8) == 0;
}

int ddi_open(const char *path, struct ddi *ret, struct ingot_error *err) {
        *ret = (struct ddi) { 0 };
        _cleanup_(gpt_freep) struct gpt *g = NULL;
        int r = gpt_open(path, false, 0, &g, err);
        if (r < 0)
                return r;
        static const char *const types[][3] = {
                { GPT_TYPE_ROOT, GPT_TYPE_ROOT_VERITY, GPT_TYPE_ROOT_VERITY_SIG },
                { GPT_TYPE_USR, GPT_TYPE_USR_VERITY, GPT_TYPE_USR_VERITY_SIG },
        };
        bool data = false, verity = false;
        for (size_t t = 0; t < ELEMENTSOF(types) && !data; t++)
                for (size_t i = 0; i < g->n_parts; i++) {
                        const struct gpt_partition *p = &g->parts[i];
                        if (strcasecmp(p->type, types[t][0]) == 0 && !data)
                                ret->data = *p, data = true;
                        else if (strcasecmp(p->type, types[t][1]) == 0 && !verity)
                                ret->verity = *p, verity = true;
                        else if (strcasecmp(p->type, types[t][2]) == 0 && !ret->has_sig)
                                ret->sig = *p, ret->has_sig = true;
                }
        snprintf(ret->disk_uuid, sizeof(ret->disk_uuid), "%s", g->disk_uuid);
        if (!data || !verity)
                return error_set(err, -EMEDIUMTYPE, "%s: a GPT without a root (or usr) partition and its verity "
                                 "partition: not a sysext layer", path);
        return 0;
}

void image_parts_clear(struct image_parts *p) {
        free(p->hash_path);
        *p = (struct image_parts) { 0 };
}

int image_parts_find(const char *path, int fd, struct image_parts *ret, struct ingot_error *err) {
        *ret = (struct image_parts) { 0 };
        if (!ddi_detect(fd)) {
                _cleanup_free_ char *base = image_sidecar_base(path);
                if (!base || asprintf(&ret->hash_path, "%s.verity", base) < 0)
                        return -ENOMEM;
                return 0;
        }
        struct ddi d;
        int r = ddi_open(path, &d, err);
        if (r < 0)
                return r;
        *ret = (struct image_parts) {
                .ddi = true,
                .data_offset = d.data.offset, .data_size = d.data.size,
                .hash_path = strdup(path),
                .hash_offset = d.verity.offset, .hash_size = d.verity.size,
                .has_sig = d.has_sig, .sig_offset = d.sig.offset, .sig_size = d.sig.size,
        };
        return ret->hash_path ? 0 : -ENOMEM;
}

int image_signature_read(const char *path, int fd, const struct image_parts *p, struct verity_sig *ret,
                         struct ingot_error *err) {
        *ret = (struct verity_sig) { 0 };
        if (p->ddi) {
                if (!p->has_sig)
                        return -ENODATA;
                if (p->sig_size > 1024 * 1024)
                        return error_set(err, -EBADMSG, "%s: a signature partition of %llu bytes", path,
                                         (unsigned long long) p->sig_size);
                _cleanup_free_ uint8_t *buf = malloc(p->sig_size);
                if (!buf)
                        return -ENOMEM;
                int r = pread_full(fd, buf, p->sig_size, p->sig_offset);
                if (r < 0)
                        return error_set(err, r, "%s: reading the signature partition: %s", path, strerror(-r));
                return verity_sig_decode(buf, p->sig_size, ret, err);
        }
        _cleanup_free_ char *base = image_sidecar_base(path), *roothash = NULL, *p7s = NULL, *text = NULL;
        if (!base || asprintf(&roothash, "%s.roothash", base) < 0 || asprintf(&p7s, "%s.roothash.p7s", base) < 0)
                return -ENOMEM;
        int r = read_text_file(roothash, 256, &text);
        if (r < 0)
                return error_set(err, r, "%s: %s", roothash, strerror(-r));
        snprintf(ret->root_hash, sizeof(ret->root_hash), "%.*s", (int) strcspn(text, "\n"), text);
        _cleanup_close_ int sfd = open(p7s, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (sfd < 0 && errno == ENOENT)
                return -ENODATA;
        struct stat st;
        if (sfd < 0 || fstat(sfd, &st) < 0)
                return error_set(err, -errno, "%s: %s", p7s, strerror(errno));
        if (st.st_size <= 0 || st.st_size > 64 * 1024)
                return error_set(err, -EBADMSG, "%s: not a signature of a sensible size", p7s);
        ret->signature = malloc((size_t) st.st_size);
        if (!ret->signature)
                return -ENOMEM;
        ret->signature_size = (size_t) st.st_size;
        r = pread_full(sfd, ret->signature, ret->signature_size, 0);
        if (r < 0) {
                verity_sig_clear(ret);
                return error_set(err, r, "%s: %s", p7s, strerror(-r));
        }
        return 0;
}
