/* slot-verify.c: `ingot slot verify`: an installed slot checked where it lies, through its partitions'
 * places in the disk, with the checks `ingot verify` makes of an image file (verify.h). */
#include <fcntl.h>
#include <string.h>

#include "json-util.h"
#include "profile.h"
#include "signing.h"
#include "slot.h"
#include "squashfs-read.h"
#include "verify.h"

#define check(rep, name) check_add((rep)->checks, &(rep)->n_checks, name)
#define set check_set

/* The data check's progress under the root partition's name, so that two slots tell apart. */
struct relabel {
        ingot_progress_fn progress;
        void *userdata;
        const char *phase;
};

static void progress_relabel(const struct ingot_progress *p, void *userdata) {
        const struct relabel *l = userdata;
        struct ingot_progress q = *p;
        q.phase = l->phase;
        l->progress(&q, l->userdata);
}

/* der, a signature over text, intact and by one of trusted: that certificate's path; else NULL, with err
 * saying why. fp: the signer's fingerprint. */
static const char *trusted_signer(const uint8_t *der, size_t size, const char *name, const char *text, char **trusted,
                                  char fp[65], struct ingot_error *err) {
        if (signature_check_trusted(der, size, name, text, trusted, name, fp, err) < 0)
                return NULL;
        for (char **c = trusted; *c; c++) {
                char want[65];
                if (cert_file_fingerprint(*c, want, NULL) >= 0 && strcmp(want, fp) == 0)
                        return *c;
        }
        error_set(err, -EKEYREJECTED, "%s: its signer's certificate could not be read again", name);
        return NULL;
}

/* The tree in the verity partition (hash_name in messages), its levels checked, and not larger than the
 * partition. */
static int load_tree(const struct gpt *g, const struct gpt_partition *verity, const char *hash_name,
                     struct verity_tree **ret, struct ingot_error *err) {
        _cleanup_(verity_tree_freep) struct verity_tree *tree = NULL;
        int r = verity_tree_load(&(struct verity_region) { .name = hash_name, .path = g->path, .fd = g->fd,
                                                           .offset = verity->offset },
                                 &tree, err);
        if (r < 0)
                return r;
        size_t area_size;
        (void) verity_tree_area(tree, &area_size);
        if (area_size > verity->size)
                return error_set(err, -EBADMSG,
                                 "%s: its superblock describes a tree of %zu bytes, the partition holds %llu",
                                 hash_name, area_size, (unsigned long long) verity->size);
        *ret = TAKE_PTR(tree);
        return 0;
}

/* "hash tree": the tree in the verity partition, every level against the one above, then every data block
 * of the root partition against it. ret_info: the tree's, when its levels hold together (its root hash is
 * then known, even when the data does not match). Returns whether the data matched. */
static bool check_tree(struct ingot_check *c, struct slot_table *t, const struct slot *s, ingot_progress_fn progress,
                       void *userdata, struct verity_info *ret_info, bool *ret_have_info) {
        const struct gpt *g = t->gpt;
        const struct gpt_partition *root = &g->parts[s->root], *verity = &g->parts[s->verity];
        char hash_name[300], data_name[300];
        snprintf(hash_name, sizeof(hash_name), "%s (%s)", g->path, verity->label);
        snprintf(data_name, sizeof(data_name), "%s (%s)", g->path, root->label);
        /* what the disk holds, not what the page cache kept of it */
        (void) posix_fadvise(g->fd, (off_t) verity->offset, (off_t) verity->size, POSIX_FADV_DONTNEED);
        (void) posix_fadvise(g->fd, (off_t) root->offset, (off_t) root->size, POSIX_FADV_DONTNEED);

        struct ingot_error e = { 0 };
        _cleanup_(verity_tree_freep) struct verity_tree *tree = NULL;
        int r = load_tree(g, verity, hash_name, &tree, &e);
        if (r < 0) {
                set(c, INGOT_CHECK_FAILED, "%s", e.message);
                return false;
        }
        const struct verity_info *vi = verity_tree_info(tree);
        uint64_t covers = vi->data_blocks * vi->data_block_size;
        *ret_info = *vi;
        *ret_have_info = true;
        if (covers > root->size) {
                set(c, INGOT_CHECK_FAILED, "%s: its tree covers %llu bytes of data, %s holds %llu", hash_name,
                    (unsigned long long) covers, root->label, (unsigned long long) root->size);
                return false;
        }
        struct relabel l = { progress, userdata, root->label };
        r = verity_tree_check_data(tree,
                                   &(struct verity_region) { .name = data_name, .fd = g->fd, .offset = root->offset,
                                                             .size = root->size },
                                   progress ? progress_relabel : NULL, &l, &e);
        *ret_info = *verity_tree_info(tree); /* a one-block image's root hash is known now */
        if (r < 0)
                set(c, INGOT_CHECK_FAILED, "%s; bytes count from the start of %s, which is at byte %llu of %s", e.message,
                    root->label, (unsigned long long) root->offset, g->path);
        else
                set(c, INGOT_CHECK_OK, "%llu data blocks of %u bytes, %s (%s against %s)",
                    (unsigned long long) vi->data_blocks, vi->data_block_size, vi->hash_name, root->label,
                    verity->label);
        return r >= 0;
}

/* "version": what the image says it is, read from the data only once it is known to be what a trusted
 * certificate signed (not_yet: why it is not). */
static void check_version(struct ingot_check *c, const struct slot_table *t, const struct slot *s, uint64_t size,
                          const char *not_yet, struct ingot_slot_verify_report *ret) {
        const struct gpt_partition *root = &t->gpt->parts[s->root];
        struct ingot_error e = { 0 };
        if (not_yet)
                return set(c, INGOT_CHECK_SKIPPED, "%s: its os-release is not read", not_yet);
        int r = squashfs_image_identity(t->gpt->fd, root->offset, size, ret->image_id, ret->version, &e);
        if (r == -ENOENT)
                set(c, INGOT_CHECK_SKIPPED, "the image has no /usr/lib/os-release: no version to check");
        else if (r < 0)
                set(c, INGOT_CHECK_FAILED, "%s (%s): %s", t->gpt->path, root->label,
                    e.code ? e.message : strerror(-r));
        else if (!*ret->version)
                set(c, INGOT_CHECK_FAILED, "%s (%s): its /usr/lib/os-release names no IMAGE_VERSION (nor VERSION_ID)",
                    t->gpt->path, root->label);
        else
                set(c, INGOT_CHECK_OK, "%s %s (the verified data's /usr/lib/os-release)", *ret->image_id ? ret->image_id : "-",
                    ret->version);
}

/* "profile": the slot's own host profile, which the initrd boots only when a trusted certificate signed it. */
static void check_profile(struct ingot_check *c, const struct slot *s, const char *sig_name, char **trusted) {
        const struct verity_sig *p = &s->payload;
        if (!s->installed)
                return set(c, INGOT_CHECK_SKIPPED, "the signature partition cannot be read");
        if (!p->profile)
                return set(c, INGOT_CHECK_SKIPPED, "the slot has no profile of its own");
        char name[340], fp[65];
        snprintf(name, sizeof(name), "%s: the slot's profile", sig_name);
        struct ingot_error e = { 0 };
        const char *cert = trusted_signer(p->profile_signature, p->profile_signature_size, name, p->profile, trusted, fp, &e);
        _cleanup_json_ json_object *j = NULL;
        const char *profile, *cmdline;
        if (!cert || profile_compiled_parse(p->profile, name, &j, &profile, &cmdline, &e) < 0)
                set(c, INGOT_CHECK_FAILED, "%s", e.message);
        else
                set(c, INGOT_CHECK_OK, "%s, signed by %s (SHA-256 %s)", profile, cert, fp);
}

static void verify_slot(struct slot_table *t, const struct slot *s, char **trusted, ingot_progress_fn progress,
                        void *userdata, struct ingot_slot_verify_report *ret) {
        *ret = (struct ingot_slot_verify_report) { .slot = s->name };
        struct ingot_verify_report *rep = &ret->report;
        const struct gpt_partition *sigp = &t->gpt->parts[s->sig];
        char sig_name[300];
        snprintf(sig_name, sizeof(sig_name), "%s (%s)", t->gpt->path, sigp->label);

        struct verity_info info = { 0 };
        bool have_info = false;
        bool verified = check_tree(check(rep, "hash tree"), t, s, progress, userdata, &info, &have_info);

        struct ingot_check *root = check(rep, "root hash");
        if (!s->installed)
                set(root, INGOT_CHECK_FAILED, "%s holds no signature payload: %s", sig_name, s->unreadable);
        else {
                snprintf(rep->root_hash, sizeof(rep->root_hash), "%s", s->payload.root_hash);
                verify_root_hash(root, rep->root_hash, sigp->label, have_info ? &info : NULL);
        }

        struct ingot_check *sig = check(rep, "signature");
        struct ingot_error e = { 0 };
        const char *cert = NULL;
        if (!s->installed)
                set(sig, INGOT_CHECK_SKIPPED, "the signature partition cannot be read");
        else if (!(cert = trusted_signer(s->payload.signature, s->payload.signature_size, sig_name, s->payload.root_hash,
                                         trusted, rep->signer_fingerprint, &e)))
                set(sig, INGOT_CHECK_FAILED, "%s", e.message);
        else
                verify_signature_ok(sig, rep, cert);

        /* the version only from data that is what a trusted signature covers */
        const char *not_yet = !verified                          ? "the data does not match the hash tree"
                              : !s->installed                 ? "nothing signed to check the data against"
                              : root->state != INGOT_CHECK_OK ? "the hash tree is not the signed one"
                              : sig->state != INGOT_CHECK_OK  ? "the signature is not a trusted one"
                                                              : NULL;
        check_version(check(rep, "version"), t, s, info.data_blocks * info.data_block_size, not_yet, ret);
        check_profile(check(rep, "profile"), s, sig_name, trusted);
}

int ingot_slot_verify(const struct ingot_slot_options *o, char name, char **trusted, ingot_progress_fn progress,
                      void *userdata, struct ingot_slot_verify_report ret[SLOT_COUNT], size_t *ret_n,
                      struct ingot_error *err) {
        *ret_n = 0;
        if (!trusted || !*trusted)
                return error_set(err, -EINVAL, "no trusted certificate to check the slots' signatures against");
        if (name && slot_index(name) < 0)
                return error_set(err, -EINVAL, "no slot '%c'; slots are a and b", name);
        _cleanup_(slot_table_freep) struct slot_table *t = NULL;
        char booted;
        int r = slot_disk_open(o, false, &t, &booted, err);
        if (r < 0)
                return r;
        for (int i = 0; i < SLOT_COUNT; i++) {
                const struct slot *s = &t->slots[i];
                bool holds = s->installed || *s->unreadable;
                if (name && name != s->name)
                        continue;
                if (name && !holds)
                        return slot_require_installed(t, s, err);
                if (holds)
                        verify_slot(t, s, trusted, progress, userdata, &ret[(*ret_n)++]);
        }
        if (*ret_n == 0)
                return error_set(err, -ENOENT, "%s: no slot to verify: both are empty", t->gpt->path);
        for (size_t k = 0; k < *ret_n; k++)
                for (size_t i = 0; i < ret[k].report.n_checks; i++)
                        if (ret[k].report.checks[i].state == INGOT_CHECK_FAILED)
                                return -EBADMSG;
        return 0;
}
