/* slot-image.c: a disk's slot table and the writing of an image into a slot: sidecars checked first,
 * the data checked against the hash tree as it is written, tree and signature read back after fsync. */
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

#include "json-util.h"
#include "profile.h"
#include "roothash.h"
#include "signing.h"
#include "slot-image.h"
#include "squashfs-read.h"

int slot_index(char name) {
        return name == 'a' ? 0 : name == 'b' ? 1 : -1;
}

static int find_part(const struct gpt *g, const char *type, const char *label, size_t *ret) {
        for (size_t i = 0; i < g->n_parts; i++)
                if (strcmp(g->parts[i].label, label) == 0) {
                        if (strcasecmp(g->parts[i].type, type) != 0)
                                return -EBADMSG;
                        *ret = i;
                        return 0;
                }
        return -ENOENT;
}

/* The signature partition's payload; -ENODATA when it is empty (zeros). */
static int read_payload(struct gpt *g, const struct gpt_partition *p, struct verity_sig *ret, struct ingot_error *err) {
        size_t size = p->size < 4 * 1024 * 1024 ? (size_t) p->size : 4 * 1024 * 1024;
        _cleanup_free_ uint8_t *buf = malloc(size ? size : 1);
        if (!buf)
                return -ENOMEM;
        int r = pread_full(g->fd, buf, size, p->offset);
        if (r < 0)
                return error_set(err, r, "%s: reading %s: %s", g->path, p->label, strerror(-r));
        return verity_sig_decode(buf, size, ret, err);
}

int slot_image_reader(struct slot_table *t, const struct slot *s, struct verity_tree **ret_tree,
                      struct squashfs_reader **ret_rd, struct ingot_error *err) {
        const struct gpt_partition *root = &t->gpt->parts[s->root], *verity = &t->gpt->parts[s->verity];
        *ret_tree = NULL;
        *ret_rd = NULL;
        if (!s->installed)
                return slot_require_installed(t, s, err);
        char name[300];
        snprintf(name, sizeof(name), "%s (%s)", t->gpt->path, verity->label);
        _cleanup_(verity_tree_freep) struct verity_tree *tree = NULL;
        /* the region's name is the path libcryptsetup opens for the superblock */
        int r = verity_tree_load(&(struct verity_region) { .name = t->gpt->path, .fd = t->gpt->fd,
                                                           .offset = verity->offset },
                                 &tree, err);
        if (r < 0)
                return r;
        const struct verity_info *vi = verity_tree_info(tree);
        char computed[129];
        hex_encode(vi->root_hash, vi->root_hash_size, computed);
        if (strcmp(computed, s->payload.root_hash) != 0 || vi->data_blocks * vi->data_block_size > root->size)
                return error_set(err, -EBADMSG, "%s: does not hold the tree of the root hash %.16s... that %s names",
                                 name, s->payload.root_hash, t->gpt->parts[s->sig].label);
        r = squashfs_reader_open_verified(t->gpt->fd, root->offset, tree, ret_rd, err);
        if (r < 0)
                return r;
        *ret_tree = TAKE_PTR(tree);
        return 0;
}

/* The name of the profile the slot boots with: its own (in the signature partition), else the image's. */
static void slot_profile_name(struct slot *s, struct squashfs_reader *rd) {
        _cleanup_free_ char *text = NULL;
        const char *json = s->payload.profile;
        s->profile_in_slot = json;
        if (!json && squashfs_reader_read_file(rd, &PROFILE_IN_IMAGE[1], 64 * 1024, &text, NULL) >= 0)
                json = text;
        _cleanup_json_ json_object *j = NULL;
        const char *name, *cmdline;
        if (json && profile_compiled_parse(json, "profile", &j, &name, &cmdline, NULL) >= 0)
                snprintf(s->profile, sizeof(s->profile), "%s", name);
}

/* Slot s's root, verity and signature partitions, by label and type. */
static int slot_find_parts(struct gpt *g, struct slot *s, const char *disk, struct ingot_error *err) {
        char root[16], verity[16], sig[20];
        snprintf(root, sizeof(root), "root-%c", s->name);
        snprintf(verity, sizeof(verity), "verity-%c", s->name);
        snprintf(sig, sizeof(sig), "verity-sig-%c", s->name);
        const struct { const char *type, *label; size_t *out; } want[] = {
                { GPT_TYPE_ROOT, root, &s->root },
                { GPT_TYPE_ROOT_VERITY, verity, &s->verity },
                { GPT_TYPE_ROOT_VERITY_SIG, sig, &s->sig },
        };
        for (size_t k = 0; k < ELEMENTSOF(want); k++) {
                int r = find_part(g, want[k].type, want[k].label, want[k].out);
                if (r == -ENOENT)
                        return error_set(err, -EMEDIUMTYPE,
                                         "%s: a GPT without ingot slots (no partition labelled '%s'); "
                                         "ingot disk makes one",
                                         disk, want[k].label);
                if (r < 0)
                        return error_set(err, -EMEDIUMTYPE, "%s: partition '%s' is not of type %s", disk,
                                         want[k].label, want[k].type);
        }
        return 0;
}

int slot_table_open(const char *disk, bool writable, unsigned wait, struct slot_table **ret, struct ingot_error *err) {
        _cleanup_(slot_table_freep) struct slot_table *t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        int r = gpt_open(disk, writable, wait, &t->gpt, err);
        if (r < 0)
                return r;
        for (int i = 0; i < SLOT_COUNT; i++) {
                struct slot *s = &t->slots[i];
                s->name = (char) ('a' + i);
                r = slot_find_parts(t->gpt, s, disk, err);
                if (r < 0)
                        return r;
                slot_attrs_decode(t->gpt->parts[s->root].attrs, &s->attrs);
                struct ingot_error e = { 0 };
                r = read_payload(t->gpt, &t->gpt->parts[s->sig], &s->payload, &e);
                if (r == -ENOMEM)
                        return r;
                s->installed = r >= 0; /* a damaged payload is not installed: the slot cannot boot */
                if (r < 0 && r != -ENODATA)
                        snprintf(s->unreadable, sizeof(s->unreadable), "%.255s", e.message);
        }
        *ret = TAKE_PTR(t);
        return 0;
}

void slot_table_read_images(struct slot_table *t, char **trusted) {
        for (int i = 0; i < SLOT_COUNT; i++)
                if (t->slots[i].installed)
                        slot_read_image(t, &t->slots[i], trusted);
}

/* The identity, slot policy and profile name of s's image, read through rd (behind its tree). */
static int slot_read_release(struct slot *s, struct squashfs_reader *rd, struct ingot_error *err) {
        _cleanup_free_ char *text = NULL;
        int r = squashfs_reader_read_file(rd, "usr/lib/os-release", 64 * 1024, &text, err);
        if (r < 0 && r != -ENOENT) /* no os-release: no version */
                return r;
        if (text) {
                char required[64] = "";
                os_release_identity(text, s->image_id, s->version);
                os_release_value(text, "INGOT_MIN_VERSION", s->min_version);
                os_release_value(text, "INGOT_SLOT_PROFILE", required);
                s->requires_profile = strcmp(required, "required") == 0;
        }
        slot_profile_name(s, rd);
        return 0;
}

/* slot_read_image's checks and reads; err says why when they fail. */
static int slot_read_image_checked(struct slot_table *t, struct slot *s, char **trusted, struct ingot_error *err) {
        char name[300], fp[65];
        snprintf(name, sizeof(name), "%s (%s)", t->gpt->path, t->gpt->parts[s->sig].label);
        int r = signature_check_trusted(s->payload.signature, s->payload.signature_size, name, s->payload.root_hash,
                                        trusted, name, fp, err);
        if (r < 0)
                return r;
        _cleanup_(verity_tree_freep) struct verity_tree *tree = NULL;
        /* declared after the tree it reads through, so freed before it */
        _cleanup_(squashfs_reader_freep) struct squashfs_reader *rd = NULL;
        r = slot_image_reader(t, s, &tree, &rd, err);
        if (r < 0)
                return r;
        return slot_read_release(s, rd, err);
}

void slot_read_image(struct slot_table *t, struct slot *s, char **trusted) {
        struct ingot_error e = { 0 };
        if (slot_read_image_checked(t, s, trusted, &e) < 0)
                snprintf(s->unverified, sizeof(s->unverified), "%.255s", e.message);
}

void slot_table_free(struct slot_table *t) {
        if (!t)
                return;
        for (int i = 0; i < SLOT_COUNT; i++)
                verity_sig_clear(&t->slots[i].payload);
        gpt_free(t->gpt);
        free(t);
}

int slot_require_installed(const struct slot_table *t, const struct slot *s, struct ingot_error *err) {
        if (s->installed)
                return 0;
        if (*s->unreadable)
                return error_set(err, -ENOENT, "%s: slot %c holds no image: its signature partition is unreadable (%s)",
                                 t->gpt->path, s->name, s->unreadable);
        return error_set(err, -ENOENT, "%s: slot %c is empty", t->gpt->path, s->name);
}

void slot_image_close(struct slot_image *img) {
        if (img->fd >= 0)
                close(img->fd);
        verity_tree_free(img->tree);
        free(img->verity_name);
        free(img->payload);
        *img = (struct slot_image) { .fd = -1 };
}

int slot_image_check_sidecars(struct slot_image *img, const char *root_hash, const uint8_t *p7s, size_t p7s_size,
                              const char *p7s_name, const struct verity_region *hash, char **trusted,
                              struct ingot_error *err) {
        /* the root hash, and a signature over it by a trusted key */
        int r = root_hash_parse(root_hash, strlen(root_hash), img->root_hash);
        if (r < 0)
                return error_set(err, r, "%s: its root hash is not one line of lowercase hex", img->path);
        r = signature_check_trusted(p7s, p7s_size, p7s_name, img->root_hash, trusted, img->path, img->fingerprint, err);
        if (r < 0)
                return r;

        /* the tree must give that root hash, and cover exactly the image */
        if (!(img->verity_name = strdup(hash->name)))
                return -ENOMEM;
        struct verity_region h = *hash;
        h.name = img->verity_name;
        r = verity_tree_load(&h, &img->tree, err);
        if (r < 0)
                return r;
        const struct verity_info *vi = verity_tree_info(img->tree);
        char computed[129];
        hex_encode(vi->root_hash, vi->root_hash_size, computed);
        if (strcmp(computed, img->root_hash) != 0)
                return error_set(err, -EBADMSG, "%s: its hash tree gives root hash %.16s..., not the signed %.16s...",
                                 h.name, computed, img->root_hash);
        if (img->size != vi->data_blocks * vi->data_block_size)
                return error_set(err, -EBADMSG, "%s: %llu bytes, but its hash tree covers %llu: truncated or grown",
                                 img->path, (unsigned long long) img->size,
                                 (unsigned long long) (vi->data_blocks * vi->data_block_size));

        /* the payload for the signature partition */
        struct verity_sig vs = { .signature = (uint8_t *) p7s, .signature_size = p7s_size };
        snprintf(vs.root_hash, sizeof(vs.root_hash), "%s", img->root_hash);
        snprintf(vs.fingerprint, sizeof(vs.fingerprint), "%s", img->fingerprint);
        return verity_sig_encode(&vs, &img->payload, &img->payload_size);
}

/* img's os-release, read behind its tree (-ENOENT: it has none), and whether the signed bytes are a system
 * extension layer rather than an image for a slot. */
static int image_read_release(const struct slot_image *img, char **ret_text, bool *ret_layer, struct ingot_error *err) {
        _cleanup_(squashfs_reader_freep) struct squashfs_reader *rd = NULL;
        *ret_layer = false;
        int r = squashfs_reader_open_verified(img->fd, 0, img->tree, &rd, err);
        if (r < 0)
                return r;
        r = squashfs_reader_read_file(rd, "usr/lib/os-release", 64 * 1024, ret_text, err);
        /* the same keys sign layers: what the signed bytes are says which kind of image this is */
        *ret_layer = (r >= 0 || r == -ENOENT) && squashfs_reader_find(rd, &EXTENSION_RELEASE_DIR[1], NULL) >= 0;
        return r;
}

int slot_image_open(const char *path, char **trusted, struct slot_image *img, struct ingot_error *err) {
        *img = (struct slot_image) { .path = path, .fd = -1 };
        _cleanup_free_ char *base = image_sidecar_base(path), *verity = NULL, *roothash = NULL, *p7s = NULL;
        if (!base || asprintf(&verity, "%s.verity", base) < 0 || asprintf(&roothash, "%s.roothash", base) < 0 ||
            asprintf(&p7s, "%s.roothash.p7s", base) < 0)
                return -ENOMEM;
        int r;
        struct stat st;
        img->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (img->fd < 0 || fstat(img->fd, &st) < 0)
                return error_set(err, -errno, "%s: %s", path, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return error_set(err, -EINVAL, "%s: not an image file", path);
        img->size = (uint64_t) st.st_size;

        /* what ingot build writes beside an image; without them it is not one */
        if (access(roothash, F_OK) < 0 && errno == ENOENT)
                return error_set(err, -ENOENT, "%s: not an ingot image: no %s beside it (ingot build writes an image "
                                 "with its .roothash, .roothash.p7s and .verity)", path, roothash);

        /* the root hash, and its signature read once: the bytes checked go into the signature partition */
        char root_hash[ROOT_HASH_MAX + 1];
        r = root_hash_read(roothash, root_hash, err);
        if (r < 0)
                return r;
        if (access(p7s, F_OK) < 0)
                return error_set(err, -ENOKEY, "%s: unsigned (no %s); a slot only takes a signed image", path, p7s);
        _cleanup_free_ char *der = NULL;
        size_t n;
        r = read_file(p7s, 64 * 1024, &der, &n);
        if (r < 0 || n == 0)
                return error_set(err, r < 0 ? r : -EBADMSG, "%s: cannot read it whole (at most 64 KiB)", p7s);
        _cleanup_close_ int hfd = open(verity, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (hfd < 0 && errno == ENOENT)
                return error_set(err, -ENOENT, "%s: not an ingot image: no %s beside it (ingot build writes an image "
                                 "with its .roothash, .roothash.p7s and .verity)", path, verity);
        if (hfd < 0)
                return error_set(err, -errno, "%s: %s", verity, strerror(errno));
        r = slot_image_check_sidecars(img, root_hash, (const uint8_t *) der, n, p7s,
                                      &(struct verity_region) { .name = verity, .fd = hfd }, trusted, err);
        if (r < 0)
                return r;
        /* its identity and slot policy, read behind the tree the signed root hash gives */
        struct ingot_error e = { 0 };
        _cleanup_free_ char *text = NULL;
        bool layer;
        r = image_read_release(img, &text, &layer, &e);
        if (layer)
                return error_set(err, -EMEDIUMTYPE, "%s: a system extension layer (%s), not an image for a slot: its "
                                 "signature is a layer's", path, EXTENSION_RELEASE_DIR);
        if (r < 0 && r != -ENOENT)
                return error_set(err, r, "%s: %s; its signed sidecars are an image's: the file is damaged or not the "
                                 "image they describe", path, e.code ? e.message : strerror(-r));
        if (text) { /* no os-release: no version */
                char required[64] = "";
                os_release_identity(text, img->image_id, img->version);
                os_release_value(text, "INGOT_MIN_VERSION", img->min_version);
                os_release_value(text, "INGOT_SLOT_PROFILE", required);
                img->requires_profile = strcmp(required, "required") == 0;
        }
        return 0;
}

int slot_image_from_slot(struct slot_table *t, const struct slot *s, char **trusted, struct slot_image *img,
                         struct ingot_error *err) {
        const struct gpt_partition *root = &t->gpt->parts[s->root], *verity = &t->gpt->parts[s->verity];
        *img = (struct slot_image) { .path = root->label, .fd = -1, .offset = root->offset };
        if (!s->installed)
                return error_set(err, -ENOENT, "%s: slot %c is empty", t->gpt->path, s->name);
        snprintf(img->root_hash, sizeof(img->root_hash), "%s", s->payload.root_hash);
        char name[300];
        snprintf(name, sizeof(name), "%s (verity-sig-%c)", t->gpt->path, s->name);
        int r = signature_check_trusted(s->payload.signature, s->payload.signature_size, name, img->root_hash, trusted,
                                        name, img->fingerprint, err);
        if (r < 0)
                return r;
        r = verity_tree_load(&(struct verity_region) { .name = t->gpt->path, .fd = t->gpt->fd, .offset = verity->offset },
                             &img->tree, err);
        if (r < 0)
                return r;
        const struct verity_info *vi = verity_tree_info(img->tree);
        char computed[129];
        hex_encode(vi->root_hash, vi->root_hash_size, computed);
        img->size = vi->data_blocks * vi->data_block_size;
        if (strcmp(computed, img->root_hash) != 0 || img->size > root->size)
                return error_set(err, -EBADMSG, "%s: %s does not hold the tree of the signed root hash %.16s...",
                                 t->gpt->path, verity->label, img->root_hash);
        snprintf(img->image_id, sizeof(img->image_id), "%s", s->image_id);
        snprintf(img->version, sizeof(img->version), "%s", s->version);
        snprintf(img->min_version, sizeof(img->min_version), "%s", s->min_version);
        img->requires_profile = s->requires_profile;
        img->fd = fcntl(t->gpt->fd, F_DUPFD_CLOEXEC, 3);
        if (img->fd < 0)
                return error_set(err, -errno, "%s: %s", t->gpt->path, strerror(errno));
        /* the slot's payload as it is (with its profile, if any) */
        return verity_sig_encode(&s->payload, &img->payload, &img->payload_size);
}

/* The data copy: the main thread reads and writes chunks in order while checker threads (one per core)
 * check written chunks against the hash tree, so writing and checking overlap in one pass. */
#define CHUNK (4u << 20)
#define NBUF 8
#define MAX_CHECKERS 16

enum chunk_state { CHUNK_EMPTY, CHUNK_FULL, CHUNK_CHECKING };

struct pipeline {
        pthread_mutex_t lock;
        pthread_cond_t changed;
        uint8_t *buf[NBUF];
        uint64_t first_block[NBUF], blocks[NBUF];
        enum chunk_state state[NBUF];
        bool done;
        int r;                  /* the first damaged chunk's error, its message in err */
        uint64_t failed_block;  /* of the lowest-numbered damaged chunk seen, so the message names the first */
        struct ingot_error err;
        const struct verity_tree *tree;
        pthread_t tid[MAX_CHECKERS];
        unsigned started;       /* checker threads running */
};

static void *checker(void *userdata) {
        struct pipeline *p = userdata;
        pthread_mutex_lock(&p->lock);
        for (;;) {
                int i = -1;
                for (int k = 0; k < NBUF && i < 0; k++)
                        if (p->state[k] == CHUNK_FULL)
                                i = k;
                if (i < 0) {
                        if (p->done)
                                break;
                        pthread_cond_wait(&p->changed, &p->lock);
                        continue;
                }
                p->state[i] = CHUNK_CHECKING;
                bool skip = p->r < 0 && p->first_block[i] > p->failed_block; /* a later chunk: moot */
                pthread_mutex_unlock(&p->lock);
                struct ingot_error e = { 0 };
                int r = skip ? 0 : verity_tree_check_blocks(p->tree, p->first_block[i], p->buf[i], p->blocks[i], &e);
                pthread_mutex_lock(&p->lock);
                if (r < 0 && (p->r >= 0 || p->first_block[i] < p->failed_block)) {
                        p->r = r;
                        p->err = e;
                        p->failed_block = p->first_block[i];
                }
                p->state[i] = CHUNK_EMPTY;
                pthread_cond_broadcast(&p->changed);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

/* Tells the checkers that no chunk follows, waits for them to finish the ones queued, and frees the
 * buffers; once done, p->r is final. Safe to call again (the cleanup after the explicit call). */
static void pipeline_stop(struct pipeline *p) {
        pthread_mutex_lock(&p->lock);
        p->done = true;
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->lock);
        for (unsigned k = 0; k < p->started; k++)
                pthread_join(p->tid[k], NULL);
        p->started = 0;
        for (unsigned k = 0; k < NBUF; k++) {
                free(p->buf[k]);
                p->buf[k] = NULL;
        }
}

/* The next chunk of the image, at off, into buf. */
static int read_chunk(const struct slot_image *img, void *buf, size_t n, uint64_t off, struct ingot_error *err) {
        if (img->read)
                return img->read(img->source, buf, n, off, err);
        int r = pread_full(img->fd, buf, n, img->offset + off);
        if (r < 0)
                return error_set(err, r, "%s: reading: %s", img->path, strerror(-r));
        return 0;
}

static int copy_data(struct slot_table *t, const struct gpt_partition *root, const struct slot_image *img,
                     ingot_progress_fn progress, void *userdata, struct ingot_error *err) {
        const struct verity_info *vi = verity_tree_info(img->tree);
        uint64_t dbs = vi->data_block_size;
        _cleanup_(pipeline_stop) struct pipeline p = { .lock = PTHREAD_MUTEX_INITIALIZER,
                                                       .changed = PTHREAD_COND_INITIALIZER, .tree = img->tree };
        for (unsigned i = 0; i < NBUF; i++)
                if (!(p.buf[i] = malloc(CHUNK)))
                        return -ENOMEM;
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned n_checkers = cores < 1 ? 1 : cores > MAX_CHECKERS ? MAX_CHECKERS : (unsigned) cores;
        while (p.started < n_checkers && pthread_create(&p.tid[p.started], NULL, checker, &p) == 0)
                p.started++;
        if (p.started == 0)
                return -EAGAIN;
        unsigned i = 0;
        for (uint64_t off = 0; off < img->size; off += CHUNK, i = (i + 1) % NBUF) {
                pthread_mutex_lock(&p.lock);
                while (p.state[i] != CHUNK_EMPTY)
                        pthread_cond_wait(&p.changed, &p.lock);
                bool damaged = p.r < 0;
                pthread_mutex_unlock(&p.lock);
                if (damaged)
                        break; /* reported below, with the checker's message */
                size_t n = img->size - off < CHUNK ? (size_t) (img->size - off) : CHUNK;
                int r = read_chunk(img, p.buf[i], n, off, err);
                if (r < 0)
                        return r;
                r = gpt_pwrite(t->gpt, root, off, p.buf[i], n, err);
                if (r < 0)
                        return r;
                /* start writeback now, so that it overlaps the copy and the check instead of
                 * all waiting for the final fsync (which still makes it durable) */
                (void) sync_file_range(t->gpt->fd, (off_t) (root->offset + off), (off_t) n, SYNC_FILE_RANGE_WRITE);
                pthread_mutex_lock(&p.lock);
                p.first_block[i] = off / dbs;
                p.blocks[i] = n / dbs;
                p.state[i] = CHUNK_FULL;
                pthread_cond_broadcast(&p.changed);
                pthread_mutex_unlock(&p.lock);
                if (progress)
                        progress(&(struct ingot_progress) { .phase = "data", .bytes = off + n,
                                                            .total_bytes = img->size },
                                 userdata);
        }
        pipeline_stop(&p); /* every chunk written is checked before the verdict */
        if (p.r < 0)
                return error_set(err, p.r, "%s: %s: the image is damaged (or changed while it was read); %s was left "
                                 "unbootable",
                                 img->path, p.err.message, root->label);
        return 0;
}

static int zero_partition(struct slot_table *t, const struct gpt_partition *p, struct ingot_error *err) {
        size_t size = p->size < 4 * 1024 * 1024 ? (size_t) p->size : 4 * 1024 * 1024;
        _cleanup_free_ uint8_t *zeros = calloc(1, size ? size : 1);
        if (!zeros)
                return -ENOMEM;
        return gpt_pwrite(t->gpt, p, 0, zeros, size, err);
}

static int sync_disk(struct slot_table *t, struct ingot_error *err) {
        if (fsync(t->gpt->fd) < 0)
                return error_set(err, -errno, "%s: fsync: %s", t->gpt->path, strerror(errno));
        return 0;
}

void slot_clear_signature(struct slot_table *t, const struct slot *s) {
        if (zero_partition(t, &t->gpt->parts[s->sig], NULL) >= 0)
                (void) sync_disk(t, NULL);
}

/* The hash tree in s's verity partition, read from the disk: the one img's tree is. */
static int check_tree_back(struct gpt *g, const struct gpt_partition *verity, const struct slot_image *img,
                           struct ingot_error *err) {
        size_t area_size;
        const uint8_t *area = verity_tree_area(img->tree, &area_size);
        char name[300];
        snprintf(name, sizeof(name), "%s (%s)", g->path, verity->label);
        _cleanup_(verity_tree_freep) struct verity_tree *back = NULL;
        int r = verity_tree_load(&(struct verity_region) { .name = g->path, .fd = g->fd, .offset = verity->offset },
                                 &back, err);
        if (r < 0)
                return r;
        const struct verity_info *vi = verity_tree_info(back);
        char computed[129];
        hex_encode(vi->root_hash, vi->root_hash_size, computed);
        size_t back_size;
        const uint8_t *back_area = verity_tree_area(back, &back_size);
        if (strcmp(computed, img->root_hash) != 0 || back_size != area_size || memcmp(back_area, area, area_size) != 0)
                return error_set(err, -EIO, "%s: the hash tree read back differs from the one written", name);
        return 0;
}

/* The signature in s's signature partition, read from the disk: whole, over img's root hash, trusted. */
static int check_signature_back(struct gpt *g, const struct gpt_partition *sig, const struct slot_image *img,
                                char **trusted, struct ingot_error *err) {
        _cleanup_(verity_sig_clear) struct verity_sig vs = { 0 };
        int r = read_payload(g, sig, &vs, err);
        if (r < 0)
                return error_set(err, r == -ENODATA ? -EIO : r, "%s: the signature read back from %s is not whole",
                                 g->path, sig->label);
        char name[300], fp[65];
        snprintf(name, sizeof(name), "%s (%s)", g->path, sig->label);
        if (strcmp(vs.root_hash, img->root_hash) != 0)
                return error_set(err, -EIO, "%s: read back another root hash", name);
        return signature_check_trusted(vs.signature, vs.signature_size, name, vs.root_hash, trusted, name, fp, err);
}

int slot_write(struct slot_table *t, struct slot *s, const struct slot_image *img, char **trusted,
               ingot_progress_fn progress, void *userdata, struct ingot_error *err) {
        struct gpt *g = t->gpt;
        const struct gpt_partition *root = &g->parts[s->root], *verity = &g->parts[s->verity], *sig = &g->parts[s->sig];
        size_t area_size;
        const uint8_t *area = verity_tree_area(img->tree, &area_size);

        /* the signature goes first, so an interrupted write leaves the slot visibly empty */
        int r = zero_partition(t, sig, err);
        if (r < 0)
                return r;
        r = sync_disk(t, err);
        if (r < 0)
                return r;
        r = gpt_pwrite(g, verity, 0, area, area_size, err);
        if (r < 0)
                return r;
        r = copy_data(t, root, img, progress, userdata, err);
        if (r < 0)
                return r;
        r = sync_disk(t, err);
        if (r < 0)
                return r;
        r = gpt_pwrite(g, sig, 0, img->payload, img->payload_size, err);
        if (r < 0)
                return r;
        r = sync_disk(t, err);
        if (r < 0)
                return r;

        /* read back what decides trust, past the page cache */
        (void) posix_fadvise(g->fd, (off_t) verity->offset, (off_t) area_size, POSIX_FADV_DONTNEED);
        (void) posix_fadvise(g->fd, (off_t) sig->offset, (off_t) img->payload_size, POSIX_FADV_DONTNEED);
        r = check_tree_back(g, verity, img, err);
        if (r < 0)
                return r;
        r = check_signature_back(g, sig, img, trusted, err);
        if (r < 0)
                return r;

        /* The version floor was checked on the image's os-release as read before the copy, from bytes
         * not yet checked against the tree. The slot now holds checked bytes: they must say the same. */
        char image_id[64] = "", version[64] = "";
        r = squashfs_image_identity(g->fd, root->offset, img->size, image_id, version, NULL);
        if (r < 0 && r != -ENOENT)
                return error_set(err, r, "%s (%s): cannot read the installed image's os-release back", g->path,
                                 root->label);
        if (strcmp(image_id, img->image_id) != 0 || strcmp(version, img->version) != 0) {
                /* the slot must not keep a signature over what the floor never saw */
                slot_clear_signature(t, s);
                return error_set(err, -EBADMSG,
                                 "%s: the image changed while it was installed: its os-release said %s %s when "
                                 "checked, the signed bytes written to %s say %s %s; %s was left unbootable",
                                 img->path, *img->image_id ? img->image_id : "-", *img->version ? img->version : "-",
                                 root->label, *image_id ? image_id : "-", *version ? version : "-", root->label);
        }
        return 0;
}
