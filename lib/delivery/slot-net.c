/* slot-net.c: installing a slot from a release URL: the signed index fetched and checked, a version
 * chosen against the slot's version floor, the sidecars checked as for a local image, the image assembled
 * from the disk's slots and Range requests (assembly.c) or streamed whole. */
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "assembly.h"
#include "http.h"
#include "release.h"
#include "signing.h"
#include "slot.h"

#define MAX_INDEX (16u << 20)
#define MAX_SIGNATURE (64u * 1024)
#define MAX_BLOCK_INDEX (64u << 20)

static void emit(const struct ingot_fetch_options *fo, const struct ingot_fetch_event *e) {
        if (fo->event)
                fo->event(e, fo->userdata);
}

/* BASE/name; base ends in '/'. */
static char *url_of(const char *base, const char *name) {
        char *u;
        return asprintf(&u, "%s%s", base, name) < 0 ? NULL : u;
}

/* The index and its signature by a trusted key, of the release index's kind and not expired. The two
 * files are renamed one after the other when a release is published, so a mismatch is fetched once more
 * before it is refused. */
static int fetch_index(const struct ingot_fetch_options *fo, const char *base, char **trusted,
                       struct release_index *ret, struct ingot_error *err) {
        _cleanup_free_ char *url = url_of(base, RELEASE_INDEX), *sig_url = url_of(base, RELEASE_INDEX ".p7s");
        if (!url || !sig_url)
                return -ENOMEM;
        int r = 0;
        for (int round = 0; round < 2; round++) {
                _cleanup_free_ uint8_t *text = NULL, *der = NULL;
                size_t size, der_size;
                char fp[65];
                if (err)
                        *err = (struct ingot_error) { 0 };
                r = http_get(fo, url, MAX_INDEX, &text, &size, err);
                if (r < 0)
                        return r;
                if (strlen((char *) text) != size)
                        return error_set(err, -EBADMSG, "%s: not a text file", url);
                r = http_get(fo, sig_url, MAX_SIGNATURE, &der, &der_size, err);
                if (r == -ENOENT && err)
                        *err = (struct ingot_error) { 0 }; /* say it in the index's words */
                if (r == -ENOENT)
                        return error_set(err, -ENOKEY, "%s: the index is not signed (no %s)", url, sig_url);
                if (r < 0)
                        return r;
                r = signature_check_trusted(der, der_size, sig_url, (char *) text, trusted, url, fp, err);
                if (r == -EBADMSG && round == 0)
                        continue;
                if (r == -EBADMSG && err && strstr(err->message, "does not match")) {
                        *err = (struct ingot_error) { 0 };
                        return error_set(err, r, "%s: the signature does not match it (%s): changed after it was "
                                         "signed", url, sig_url);
                }
                if (r < 0)
                        return r;
                _cleanup_(release_index_clear) struct release_index idx = { 0 };
                r = release_index_parse((char *) text, url, RELEASE_INSTALLER, &idx, err);
                if (r < 0)
                        return r;
                r = release_index_check_expiry(&idx, url, (int64_t) time(NULL), err); /* the host's clock */
                if (r < 0)
                        return r;
                *ret = idx;
                idx = (struct release_index) { 0 }; /* ret's now */
                return 0;
        }
        return r;
}

static const char *newest_installed(const struct slot_table *t) {
        const char *v = NULL;
        for (int i = 0; i < SLOT_COUNT; i++) {
                const struct slot *s = &t->slots[i];
                enum slot_state st = slot_state_of(&s->attrs, s->installed);
                if ((st == SLOT_GOOD || st == SLOT_TRYING) && *s->version && (!v || version_compare(s->version, v) > 0))
                        v = s->version;
        }
        return v;
}

/* The version to install: --version's, or the newest; refused below the floor and the index's minimum
 * (a stale or replayed index), unless a downgrade is allowed. */
static int choose_version(const struct release_index *idx, const struct slot_table *t, const char *url,
                          const struct ingot_install_options *io, const struct ingot_fetch_options *fo,
                          const struct release_entry **ret, struct ingot_error *err) {
        if (idx->n == 0)
                return error_set(err, -ENOENT, "%s: the index lists no version", url);
        const struct release_entry *e = &idx->entries[0];
        if (fo->version && !(e = release_index_find(idx, fo->version)))
                return error_set(err, -ENOENT, "%s: no version '%s' in the index (newest: '%s')", url, fo->version,
                                 idx->entries[0].version);
        int r = slot_floor_check(t, url, e->version, true, err); /* the signed floor: always */
        if (r < 0)
                return r;
        if (io->allow_downgrade) {
                *ret = e;
                return 0;
        }
        const struct slot *floor = slot_version_floor(t);
        if (floor && version_compare(e->version, floor->version) < 0)
                return error_set(err, fo->version ? -EPERM : -ESTALE,
                                 fo->version ? "%s: version '%s' is older than '%s' in good slot %c, the version floor; "
                                               "--allow-downgrade installs it anyway"
                                             : "%s: stale index: its newest version '%s' is older than '%s' in good "
                                               "slot %c, the version floor (an outdated mirror or a replayed index)",
                                 url, e->version, floor->version, floor->name);
        if (*idx->min_version && version_compare(e->version, idx->min_version) < 0)
                return error_set(err, -EPERM, "%s: version '%s' is below the index's min_version '%s'", url, e->version,
                                 idx->min_version);
        *ret = e;
        return 0;
}

/* The hash tree in a memfd: libcryptsetup reads its superblock by path, /proc/self/fd/N. */
static int tree_memfd(const uint8_t *data, size_t size, const char *url, int *ret_fd, struct ingot_error *err) {
        _cleanup_close_ int fd = memfd_create("ingot-verity", MFD_CLOEXEC);
        if (fd < 0)
                return error_set(err, -errno, "memfd_create: %s", strerror(errno));
        int r = pwrite_full(fd, data, size, 0);
        if (r < 0)
                return error_set(err, r, "%s: keeping it in memory: %s", url, strerror(-r));
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* The small files of entry e, checked as slot_image_open checks them, and the image as a stream. */
static int open_remote_image(const struct ingot_fetch_options *fo, const char *base, const struct release_entry *e,
                             uint64_t max_tree, char **trusted, struct slot_image *img, char **ret_image_url,
                             struct ingot_error *err) {
        _cleanup_free_ char *image = url_of(base, e->image), *verity = url_of(base, e->verity),
                            *roothash = url_of(base, e->roothash), *sig = url_of(base, e->signature);
        _cleanup_free_ uint8_t *rh = NULL, *der = NULL, *tree = NULL;
        size_t rh_size, der_size, tree_size;
        if (!image || !verity || !roothash || !sig)
                return -ENOMEM;
        int r = http_get(fo, roothash, 256, &rh, &rh_size, err);
        if (r < 0)
                return r;
        r = http_get(fo, sig, MAX_SIGNATURE, &der, &der_size, err);
        if (r < 0)
                return r;
        r = http_get(fo, verity, max_tree, &tree, &tree_size, err);
        if (r < 0)
                return r;
        ((char *) rh)[strcspn((char *) rh, "\n")] = 0;
        if (strcmp((char *) rh, e->root_hash) != 0)
                return error_set(err, -EBADMSG, "%s: root hash %.16s..., but the signed index says %.16s...", roothash,
                                 (char *) rh, e->root_hash);
        if (tree_size != e->verity_size)
                return error_set(err, -EBADMSG, "%s: %zu bytes, but the index says %llu", verity, tree_size,
                                 (unsigned long long) e->verity_size);
        _cleanup_close_ int tfd = -1;
        r = tree_memfd(tree, tree_size, verity, &tfd, err);
        if (r < 0)
                return r;
        char proc[64];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", tfd);
        *img = (struct slot_image) { .path = image, .fd = -1, .size = e->size };
        snprintf(img->version, sizeof(img->version), "%s", e->version);
        snprintf(img->image_id, sizeof(img->image_id), "%s", e->name);
        r = slot_image_check_sidecars(img, (char *) rh, der, der_size, sig,
                                      &(struct verity_region) { .name = verity, .path = proc, .fd = tfd }, trusted, err);
        if (r < 0)
                return r;
        if (strcmp(img->fingerprint, e->signer) != 0)
                return error_set(err, -EBADMSG, "%s: signed by %.16s..., but the index says %.16s...", sig,
                                 img->fingerprint, e->signer);
        img->path = *ret_image_url = TAKE_PTR(image);
        return 0;
}

/* Release entry e's block index, checked against the digest the signed index gives for it. */
static int fetch_block_index(const struct ingot_fetch_options *fo, const char *base, const struct release_entry *e,
                             struct block_index *ret, struct ingot_error *err) {
        _cleanup_free_ char *url = url_of(base, e->blocks);
        _cleanup_free_ uint8_t *text = NULL;
        _cleanup_(block_index_done) struct block_index x = { 0 };
        size_t size;
        uint64_t image_size;
        char sum[65], root_hash[129];
        if (!url)
                return -ENOMEM;
        int r = http_get(fo, url, MAX_BLOCK_INDEX, &text, &size, err);
        if (r < 0)
                return r;
        r = sha256_buffer(text, size, sum);
        if (r < 0)
                return r;
        if (strcmp(sum, e->blocks_sha256) != 0)
                return error_set(err, -EBADMSG, "%s: its SHA-256 is not the one the signed index gives", url);
        r = block_index_parse((const char *) text, url, &x, &image_size, root_hash, err);
        if (r < 0)
                return r;
        if (image_size != e->size || strcmp(root_hash, e->root_hash) != 0)
                return error_set(err, -EBADMSG, "%s: describes another image than %s %s", url, e->name, e->version);
        *ret = x;
        x = (struct block_index) { 0 };
        return 0;
}

static int copy_index(const struct block_index *from, struct block_index *ret) {
        *ret = (struct block_index) { .n = from->n, .allocated = from->n };
        if (!(ret->extents = reallocarray(NULL, from->n ? from->n : 1, sizeof(*from->extents))))
                return -ENOMEM;
        memcpy(ret->extents, from->extents, from->n * sizeof(*from->extents));
        return 0;
}

static void seed_event(const struct ingot_fetch_options *fo, const char *name, const char *why) {
        emit(fo, &(struct ingot_fetch_event) { .type = "seed", .url = name, .message = why });
}

/* What the disk's slots offer: each installed slot by the index of its own version in the release (found
 * by its root hash), and the slot being written, when it holds no image, by the new image's index, for
 * what an interrupted install already wrote there. A slot that offers nothing is said and skipped. */
static int collect_seeds(const struct ingot_fetch_options *fo, const char *base, const struct release_index *idx,
                         const struct slot_table *t, const struct slot *target, const struct block_index *image,
                         struct assembly_seed *seeds, size_t *ret_n) {
        size_t n = 0;
        for (size_t i = 0; i < SLOT_COUNT; i++) {
                const struct slot *s = &t->slots[i];
                const struct gpt_partition *root = &t->gpt->parts[s->root];
                struct assembly_seed *seed = &seeds[n];
                *seed = (struct assembly_seed) { .fd = t->gpt->fd, .offset = root->offset, .size = root->size,
                                                 .target = s == target };
                snprintf(seed->name, sizeof(seed->name), "%s (%s)", t->gpt->path, root->label);
                if (!s->installed || !*s->payload.root_hash)
                        continue;
                const struct release_entry *f = NULL;
                for (size_t k = 0; k < idx->n && !f; k++)
                        if (strcmp(idx->entries[k].root_hash, s->payload.root_hash) == 0 && *idx->entries[k].blocks)
                                f = &idx->entries[k];
                if (!f) {
                        seed_event(fo, seed->name, "the release has no block index for its image: it offers nothing");
                        continue;
                }
                struct ingot_error e = { 0 };
                int r = fetch_block_index(fo, base, f, &seed->index, &e);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        seed_event(fo, seed->name, e.message);
                        continue;
                }
                n++;
        }
        *ret_n = n;
        if (target->installed) /* an install's last write: this slot's bytes are another image's */
                return 0;
        struct assembly_seed *resume = &seeds[n];
        const struct gpt_partition *root = &t->gpt->parts[target->root];
        *resume = (struct assembly_seed) { .fd = t->gpt->fd, .offset = root->offset, .size = root->size,
                                           .target = true, .prefix = true };
        snprintf(resume->name, sizeof(resume->name), "%s (%s)", t->gpt->path, root->label);
        int r = copy_index(image, &resume->index);
        if (r < 0)
                return r;
        *ret_n = n + 1;
        return 0;
}

/* Where the image's bytes come from: assembled when the release has its block index and the server
 * answers Range requests, else streamed whole, with a "full" event saying why. */
static int open_image_data(const struct ingot_fetch_options *fo, const char *base, const struct release_index *idx,
                           const struct release_entry *e, const struct slot_table *t, const struct slot *target,
                           struct slot_image *img, struct http_stream **ret_stream, struct assembly **ret_assembly,
                           struct ingot_error *err) {
        const char *why = fo->full ? "--full" : "the release has no block index for it";
        struct ingot_error e2 = { 0 };
        _cleanup_(block_index_done) struct block_index image = { 0 };
        if (*e->blocks && !fo->full) {
                int r = fetch_block_index(fo, base, e, &image, &e2);
                if (r == -ENOMEM)
                        return r;
                why = e2.message;
                if (r >= 0) {
                        /* does the server answer Range? asked with the superblock, which every install needs */
                        uint8_t probe[96];
                        size_t k = image.n && image.extents[0].size < sizeof(probe) ? image.extents[0].size : sizeof(probe);
                        e2 = (struct ingot_error) { 0 };
                        _cleanup_(http_ranges_freep) struct http_ranges *server = NULL;
                        r = http_ranges_new(fo, img->path, &server);
                        if (r < 0)
                                return r;
                        r = http_ranges_get(server, 0, k, probe, &e2);
                        why = r < 0 ? e2.message : NULL;
                }
        }
        if (!why) {
                struct assembly_seed seeds[SLOT_COUNT + 1];
                size_t n = 0;
                int r = collect_seeds(fo, base, idx, t, target, &image, seeds, &n);
                if (r < 0) {
                        for (size_t i = 0; i < n; i++)
                                block_index_done(&seeds[i].index);
                        return r;
                }
                /* the assembly takes the indexes, and copies the array */
                r = assembly_new(fo, img->path, &image, seeds, n, ret_assembly);
                if (r < 0)
                        return error_set(err, r, "%s: %s", img->path, strerror(-r));
                const struct assembly_stats *st = assembly_stats(*ret_assembly);
                emit(fo, &(struct ingot_fetch_event) { .type = "seeded", .url = img->path, .version = e->version,
                                                       .reused = st->offered, .fetched = e->size - st->offered });
                img->read = assembly_read;
                img->source = *ret_assembly;
                return 0;
        }
        emit(fo, &(struct ingot_fetch_event) { .type = "full", .url = img->path, .version = e->version, .message = why });
        int r = http_stream_new(fo, img->path, e->size, ret_stream);
        if (r < 0)
                return error_set(err, r, "%s: %s", img->path, strerror(-r));
        img->read = http_stream_read;
        img->source = *ret_stream;
        return 0;
}

/* URL is the release directory (a trailing / is added) or its index.json. */
static int release_base(const char *url, char **ret) {
        size_t n = strlen(url), k = strlen("/" RELEASE_INDEX);
        if (n > k && strcmp(url + n - k, "/" RELEASE_INDEX) == 0)
                *ret = strndup(url, n - k + 1);
        else if (asprintf(ret, "%s%s", url, n && url[n - 1] == '/' ? "" : "/") < 0)
                *ret = NULL;
        return *ret ? 0 : -ENOMEM;
}

int ingot_slot_install_url(const struct ingot_slot_options *o, const char *url, const struct ingot_install_options *io,
                           const struct ingot_fetch_options *fo, struct ingot_fetch_result *ret,
                           struct ingot_error *err) {
        *ret = (struct ingot_fetch_result) { 0 };
        if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
                return error_set(err, -EINVAL, "%s: not an http:// or https:// URL", url);
        _cleanup_free_ char *base = NULL, *image_url = NULL;
        /* freed in the reverse order: the image and its stream, then the table, then the index */
        _cleanup_(release_index_clear) struct release_index idx = { 0 };
        _cleanup_(slot_table_freep) struct slot_table *t = NULL;
        _cleanup_(http_stream_freep) struct http_stream *stream = NULL;
        _cleanup_(assembly_freep) struct assembly *assembly = NULL;
        _cleanup_(slot_image_close) struct slot_image img = { .fd = -1 };
        int r = release_base(url, &base);
        if (r < 0)
                return r;
        r = fetch_index(fo, base, io->trusted_certs, &idx, err);
        if (r < 0)
                return r;
        emit(fo, &(struct ingot_fetch_event) { .type = "index", .url = base,
                                               .version = idx.n ? idx.entries[0].version : NULL });
        char booted;
        r = slot_disk_open(o, true, &t, &booted, err);
        if (r < 0)
                return r;
        slot_table_read_images(t, io->trusted_certs); /* the version floor: trusted slots only */
        const struct release_entry *e = NULL;
        r = choose_version(&idx, t, base, io, fo, &e, err);
        if (r < 0)
                return r;
        snprintf(ret->version, sizeof(ret->version), "%s", e->version);
        snprintf(ret->root_hash, sizeof(ret->root_hash), "%s", e->root_hash);
        const char *have = newest_installed(t);
        if (fo->only_newer && have && version_compare(e->version, have) <= 0) {
                emit(fo, &(struct ingot_fetch_event) { .type = "nothing-newer", .url = base, .version = have });
                return 0;
        }
        emit(fo, &(struct ingot_fetch_event) { .type = "selected", .url = base, .version = e->version });
        struct slot *s = NULL;
        r = slot_target(t, booted, io->slot, &s, err);
        if (r < 0)
                return r;
        r = open_remote_image(fo, base, e, t->gpt->parts[s->verity].size, io->trusted_certs, &img, &image_url, err);
        if (r < 0)
                return r;
        r = open_image_data(fo, base, &idx, e, t, s, &img, &stream, &assembly, err);
        if (r < 0)
                return r;
        r = slot_install_image(t, s, &img, io, err);
        if (r < 0)
                return r;
        ret->installed = true;
        ret->slot = s->name;
        ret->seeded = assembly;
        ret->reused = assembly ? assembly_stats(assembly)->reused : 0;
        ret->fetched = assembly ? assembly_stats(assembly)->fetched : e->size;
        emit(fo, &(struct ingot_fetch_event) { .type = "installed", .url = image_url, .version = e->version,
                                               .reused = ret->reused, .fetched = ret->fetched });
        return 0;
}
