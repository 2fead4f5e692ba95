/* slot.c: `ingot slot`'s operations on a disk: status, install, switch, mark-good, mark-bad and
 * rollback, each under the disk's lock and each ending in one GPT write; and the booted-slot record. */
#include <string.h>

#include "json-util.h"
#include "profile.h"
#include "roothash.h"
#include "slot.h"

/* The initrd's record of what it booted (RUNTIME_DIR/booted): SLOT=a, DISK_UUID=..., DEVICE=/dev/vda. */
struct booted {
        char slot;
        char disk_uuid[37];
        char device[256];
};

static void read_booted(const char *runtime_dir, struct booted *ret) {
        *ret = (struct booted) { 0 };
        _cleanup_free_ char *path = path_join(runtime_dir ?: "/run/ingot", "booted");
        _cleanup_fclose_ FILE *f = path ? fopen(path, "re") : NULL;
        char line[512];
        while (f && fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = 0;
                if (strncmp(line, "SLOT=", 5) == 0 && (line[5] == 'a' || line[5] == 'b') && !line[6])
                        ret->slot = line[5];
                else if (strncmp(line, "DISK_UUID=", 10) == 0)
                        snprintf(ret->disk_uuid, sizeof(ret->disk_uuid), "%.36s", line + 10);
                else if (strncmp(line, "DEVICE=", 7) == 0)
                        snprintf(ret->device, sizeof(ret->device), "%.255s", line + 7);
        }
}

int slot_disk_open(const struct ingot_slot_options *o, bool writable, struct slot_table **ret, char *ret_booted,
                   struct ingot_error *err) {
        struct booted b;
        read_booted(o->runtime_dir, &b);
        const char *disk = o->disk;
        if (!disk) {
                if (!*b.device)
                        return error_set(err, -ENODEV,
                                         "no --disk given, and this host was not booted by ingot (no %s/booted)",
                                         o->runtime_dir ?: "/run/ingot");
                disk = b.device;
        }
        int r = slot_table_open(disk, writable, o->lock_wait_ms ? o->lock_wait_ms : 5000, ret, err);
        if (r < 0)
                return r;
        *ret_booted = b.slot && strcasecmp(b.disk_uuid, (*ret)->gpt->disk_uuid) == 0 ? b.slot : 0;
        return 0;
}

void slot_table_choose(const struct slot_table *t, struct slot_choice *ret) {
        struct slot_candidate c[SLOT_COUNT];
        for (int i = 0; i < SLOT_COUNT; i++)
                c[i] = (struct slot_candidate) { t->slots[i].name, t->slots[i].attrs, t->slots[i].installed,
                                                 *t->slots[i].unreadable != 0 };
        slot_choose(c, SLOT_COUNT, ret);
}

static void fill_status(const struct slot_table *t, char booted, struct ingot_slot_status *st) {
        *st = (struct ingot_slot_status) { .booted = booted };
        snprintf(st->disk_uuid, sizeof(st->disk_uuid), "%s", t->gpt->disk_uuid);
        snprintf(st->warning, sizeof(st->warning), "%s", t->gpt->warning);
        for (int i = 0; i < SLOT_COUNT; i++) {
                const struct slot *s = &t->slots[i];
                struct ingot_slot_info *x = &st->slots[i];
                x->name = s->name;
                x->state = *s->unreadable ? "unreadable" : slot_state_to_string(slot_state_of(&s->attrs, s->installed));
                snprintf(x->unreadable, sizeof(x->unreadable), "%s", s->unreadable);
                snprintf(x->unverified, sizeof(x->unverified), "%s", s->unverified);
                x->failure = slot_failure_to_string(&s->attrs, s->installed);
                x->failure_text = slot_failure_describe(&s->attrs, s->installed);
                x->priority = s->attrs.priority;
                x->tries = s->attrs.tries;
                x->successful = s->attrs.successful;
                x->size = t->gpt->parts[s->root].size;
                if (s->installed) {
                        snprintf(x->image_id, sizeof(x->image_id), "%s", s->image_id);
                        snprintf(x->version, sizeof(x->version), "%s", s->version);
                        snprintf(x->root_hash, sizeof(x->root_hash), "%s", s->payload.root_hash);
                        snprintf(x->signer, sizeof(x->signer), "%s", s->payload.fingerprint);
                        snprintf(x->profile, sizeof(x->profile), "%s", s->profile);
                        x->profile_source = !*s->profile ? NULL : s->profile_in_slot ? "slot" : "image";
                }
        }
        struct slot_choice ch;
        slot_table_choose(t, &ch);
        st->next = ch.index < 0 ? 0 : t->slots[ch.index].name;
        st->next_counts_try = ch.count_try;
        snprintf(st->reason, sizeof(st->reason), "%s", ch.reason);
}

int ingot_slot_status(const struct ingot_slot_options *o, struct ingot_slot_status *ret, struct ingot_error *err) {
        _cleanup_(slot_table_freep) struct slot_table *t = NULL;
        char booted;
        int r = slot_disk_open(o, false, &t, &booted, err);
        if (r < 0)
                return r;
        slot_table_read_images(t, NULL); /* for the eye: any intact signature, the signer shown beside it */
        fill_status(t, booted, ret);
        return 0;
}

/* The slot to write when none is named: never the booted one; on a disk nothing booted from, the
 * least valuable one (empty, then bad, then on trial, then good), and on a tie the one not next. */
static struct slot *inactive_slot(struct slot_table *t, char booted) {
        if (booted)
                return &t->slots[1 - slot_index(booted)];
        struct slot_choice ch;
        slot_table_choose(t, &ch);
        enum slot_state a = slot_state_of(&t->slots[0].attrs, t->slots[0].installed),
                        b = slot_state_of(&t->slots[1].attrs, t->slots[1].installed);
        if (a != b)
                return &t->slots[a < b ? 0 : 1];
        return &t->slots[ch.index == 0 ? 1 : 0];
}

/* The slot's state bits become a (why it failed included: whatever else a says is cleared). */
static int set_attrs(struct slot_table *t, struct slot *s, struct slot_attrs a, const char *root_uuid,
                     const char *verity_uuid, struct ingot_error *err) {
        s->attrs = a;
        int r = gpt_set(t->gpt, s->root, slot_attrs_encode(t->gpt->parts[s->root].attrs, &s->attrs), root_uuid, err);
        if (r < 0 || !verity_uuid)
                return r;
        return gpt_set(t->gpt, s->verity, t->gpt->parts[s->verity].attrs, verity_uuid, err);
}

/* Makes s next: priority 2 and the other, if it may boot, priority 1 (in the same GPT write). */
static int make_next(struct slot_table *t, struct slot *s, unsigned tries, bool successful, const char *root_uuid,
                     const char *verity_uuid, struct ingot_error *err) {
        struct slot *other = &t->slots[1 - slot_index(s->name)];
        struct slot_attrs a = { .priority = 2, .tries = successful ? 0 : tries, .successful = successful };
        int r = set_attrs(t, s, a, root_uuid, verity_uuid, err);
        if (r < 0 || other->attrs.priority <= 1)
                return r;
        a = (struct slot_attrs) { .priority = 1, .tries = other->attrs.tries, .successful = other->attrs.successful };
        return set_attrs(t, other, a, NULL, NULL, err);
}

const struct slot *slot_version_floor(const struct slot_table *t) {
        const struct slot *floor = NULL;
        for (int i = 0; i < SLOT_COUNT; i++) {
                const struct slot *g = &t->slots[i];
                if (slot_state_of(&g->attrs, g->installed) != SLOT_GOOD || !*g->version)
                        continue;
                if (!floor || version_compare(g->version, floor->version) > 0)
                        floor = g;
        }
        return floor;
}

const struct slot *slot_signed_floor(const struct slot_table *t) {
        const struct slot *floor = NULL;
        for (int i = 0; i < SLOT_COUNT; i++) {
                const struct slot *g = &t->slots[i];
                if (slot_state_of(&g->attrs, g->installed) != SLOT_GOOD || !*g->min_version)
                        continue;
                if (!floor || version_compare(g->min_version, floor->min_version) > 0)
                        floor = g;
        }
        return floor;
}

int slot_floor_check(const struct slot_table *t, const char *what, const char *version, bool allow_downgrade,
                     struct ingot_error *err) {
        const struct slot *floor = slot_signed_floor(t);
        if (floor && version_compare(version, floor->min_version) < 0)
                return error_set(err, -EPERM,
                                 "%s: version '%s' is below %s, the version floor that good slot %c's image (%s %s) "
                                 "sets with MinVersion=: a rollback past it is refused, --allow-downgrade or not",
                                 what, version, floor->min_version, floor->name, floor->image_id, floor->version);
        floor = slot_version_floor(t);
        if (floor && !allow_downgrade && version_compare(version, floor->version) < 0)
                return error_set(err, -EPERM,
                                 "%s: version '%s' is older than '%s' in good slot %c, the version floor; "
                                 "--allow-downgrade installs it anyway",
                                 what, version, floor->version, floor->name);
        return 0;
}

int slot_target(struct slot_table *t, char booted, char name, struct slot **ret, struct ingot_error *err) {
        struct slot *s;
        if (name) {
                if (slot_index(name) < 0)
                        return error_set(err, -EINVAL, "no slot '%c'; slots are a and b", name);
                s = &t->slots[slot_index(name)];
        } else
                s = inactive_slot(t, booted);
        if (s->name == booted)
                return error_set(err, -EBUSY, "%s: slot %c is the running slot; install into %c", t->gpt->path, s->name,
                                 t->slots[1 - slot_index(s->name)].name);
        *ret = s;
        return 0;
}

static int check_fits(const struct slot_table *t, const struct slot *s, const struct slot_image *img,
                      struct ingot_error *err) {
        const struct gpt_partition *root = &t->gpt->parts[s->root], *verity = &t->gpt->parts[s->verity],
                                   *sig = &t->gpt->parts[s->sig];
        size_t area_size;
        (void) verity_tree_area(img->tree, &area_size);
        if (img->size > root->size || area_size > verity->size)
                return error_set(err, -EFBIG,
                                 "%s: does not fit slot %c: image %llu bytes (root-%c holds %llu), hash tree %zu "
                                 "(verity-%c holds %llu)",
                                 img->path, s->name, (unsigned long long) img->size, s->name,
                                 (unsigned long long) root->size, area_size, s->name, (unsigned long long) verity->size);
        if (img->payload_size > sig->size)
                return error_set(err, -EFBIG, "%s: its signature (and profile) take %zu bytes; verity-sig-%c holds %llu",
                                 img->path, img->payload_size, s->name, (unsigned long long) sig->size);
        return 0;
}

#define EVERY_TRY_FAILS "every try would fail its health check"

/* The slot profile in img's payload, with kernel parameters, needs a kernel and initrd in the image to
 * restart into: read from fd at offset (the image file, the slot it is copied from, or the slot an image
 * streamed into). what names the profile, consequence ends the message. */
static int check_restart(const struct slot_image *img, const char *what, int fd, uint64_t offset,
                         const char *consequence, struct ingot_error *err) {
        _cleanup_(verity_sig_clear) struct verity_sig vs = { 0 };
        int r = verity_sig_decode(img->payload, img->payload_size, &vs, err);
        if (r < 0)
                return r;
        _cleanup_json_ json_object *j = NULL;
        const char *name, *cmdline = NULL;
        if (vs.profile) {
                r = profile_compiled_parse(vs.profile, what, &j, &name, &cmdline, err);
                if (r < 0)
                        return r;
        }
        char image[160];
        snprintf(image, sizeof(image), "%s %s", *img->image_id ? img->image_id : img->path,
                 *img->version ? img->version : "(no version)");
        return profile_restart_check(what, cmdline, fd, offset, img->size, img->tree, image, consequence, err);
}

/* Writes img into s and makes it next on trial: 1: the target can no longer boot; 2: its contents;
 * 3: it boots next, on trial (one GPT write each). late_profile: the profile to check against the image
 * once it is written (one that streamed in could not be read before), or NULL. */
static int install_into(struct slot_table *t, struct slot *s, const struct slot_image *img, char **trusted,
                        unsigned tries, const char *late_profile, ingot_progress_fn progress, void *userdata,
                        struct ingot_error *err) {
        int r = set_attrs(t, s, (struct slot_attrs) { 0 }, NULL, NULL, err);
        if (r < 0)
                return r;
        r = gpt_write(t->gpt, err);
        if (r < 0)
                return r;
        r = slot_write(t, s, img, trusted, progress, userdata, err);
        if (r < 0)
                return r;
        if (late_profile) {
                char consequence[128];
                snprintf(consequence, sizeof(consequence), EVERY_TRY_FAILS "; slot %c was left empty", s->name);
                r = check_restart(img, late_profile, t->gpt->fd, t->gpt->parts[s->root].offset, consequence, err);
                if (r < 0) {
                        slot_clear_signature(t, s); /* the slot must not keep an image that cannot boot */
                        return r;
                }
        }
        char root_uuid[37], verity_uuid[37];
        root_hash_uuids(img->root_hash, root_uuid, verity_uuid);
        const struct slot *other = &t->slots[1 - slot_index(s->name)];
        if (other->installed && strcmp(other->payload.root_hash, img->root_hash) == 0) {
                /* the same image in both slots: UUIDs must stay unique, so b's are not the hash's */
                root_uuid[0] = root_uuid[0] == 'f' ? '0' : 'f';
                verity_uuid[0] = verity_uuid[0] == 'f' ? '0' : 'f';
        }
        r = make_next(t, s, tries ? tries : 3, false, root_uuid, verity_uuid, err);
        if (r < 0)
                return r;
        return gpt_write(t->gpt, err);
}

/* The profile (a compiled, signed file) in img's payload. */
static int attach_profile(struct slot_image *img, const char *path, char **trusted, struct ingot_error *err) {
        _cleanup_(slot_profile_clear) struct slot_profile p = { 0 };
        int r = slot_profile_load(path, trusted, img->root_hash, &p, err);
        if (r < 0)
                return r;
        return slot_image_set_profile(img, &p);
}

int slot_install_image(struct slot_table *t, struct slot *s, struct slot_image *img,
                       const struct ingot_install_options *io, struct ingot_error *err) {
        int r;
        if (io->profile) {
                r = attach_profile(img, io->profile, io->trusted_certs, err);
                if (r < 0)
                        return r;
        }
        r = check_fits(t, s, img, err);
        if (r < 0)
                return r;
        if (io->profile && img->fd >= 0) {
                r = check_restart(img, io->profile, img->fd, img->offset, EVERY_TRY_FAILS, err);
                if (r < 0)
                        return r;
        }
        /* anti-rollback: not older than any good slot, nor below what a good slot's signer set */
        r = slot_floor_check(t, img->path, img->version, io->allow_downgrade, err);
        if (r < 0)
                return r;
        if (img->requires_profile && !io->profile)
                return error_set(err, -EPERM,
                                 "%s: its image boots only with a profile of its own (SlotProfile=required): "
                                 "give --profile", img->path);
        return install_into(t, s, img, io->trusted_certs, io->tries, img->fd < 0 ? io->profile : NULL, io->progress,
                            io->userdata, err);
}

int ingot_slot_install(const struct ingot_slot_options *o, const char *image_path,
                       const struct ingot_install_options *io, char *ret_slot, struct ingot_error *err) {
        _cleanup_(slot_image_close) struct slot_image img = { .fd = -1 };
        int r = slot_image_open(image_path, io->trusted_certs, &img, err);
        if (r < 0)
                return r;
        _cleanup_(slot_table_freep) struct slot_table *t = NULL;
        struct slot *s;
        char booted;
        r = slot_disk_open(o, true, &t, &booted, err);
        if (r < 0)
                return r;
        slot_table_read_images(t, io->trusted_certs); /* the version floor: trusted slots only */
        r = slot_target(t, booted, io->slot, &s, err);
        if (r < 0)
                return r;
        r = slot_install_image(t, s, &img, io, err);
        if (r < 0)
                return r;
        if (ret_slot)
                *ret_slot = s->name;
        return 0;
}

int ingot_slot_reprofile(const struct ingot_slot_options *o, const char *profile, char **trusted, unsigned tries,
                         ingot_progress_fn progress, void *userdata, char *ret_slot, struct ingot_error *err) {
        _cleanup_(slot_table_freep) struct slot_table *t = NULL;
        char booted;
        int r = slot_disk_open(o, true, &t, &booted, err);
        if (r < 0)
                return r;
        slot_table_read_images(t, trusted);
        /* the booted slot; on a disk not booted from, the one that boots next, unless that is only on trial
         * and the other is good: the good one is never the one overwritten */
        struct slot_choice ch;
        slot_table_choose(t, &ch);
        struct slot *from = booted ? &t->slots[slot_index(booted)] : ch.index >= 0 ? &t->slots[ch.index] : NULL;
        if (!from)
                return error_set(err, -ENOENT, "%s: no slot to reprofile: %s", t->gpt->path, ch.reason);
        struct slot *to = &t->slots[1 - slot_index(from->name)];
        if (!booted && slot_state_of(&from->attrs, from->installed) != SLOT_GOOD &&
            slot_state_of(&to->attrs, to->installed) == SLOT_GOOD) {
                struct slot *good = to;
                to = from;
                from = good;
        }
        /* declared after t, so closed before it: its fd duplicates the disk's, and the disk's flock lasts
         * until the last of them is closed */
        _cleanup_(slot_image_close) struct slot_image img = { .fd = -1 };
        r = slot_image_from_slot(t, from, trusted, &img, err);
        if (r < 0)
                return r;
        r = attach_profile(&img, profile, trusted, err);
        if (r < 0)
                return r;
        r = check_fits(t, to, &img, err);
        if (r < 0)
                return r;
        r = check_restart(&img, profile, img.fd, img.offset, EVERY_TRY_FAILS, err);
        if (r < 0)
                return r;
        r = install_into(t, to, &img, trusted, tries, NULL, progress, userdata, err);
        if (r < 0)
                return r;
        if (ret_slot)
                *ret_slot = to->name;
        return 0;
}

/* The slot an action applies to: for a rollback the other one, which must be good; else the one named
 * (mark-good: the booted one when none is). */
static int change_target(struct slot_table *t, char booted, enum ingot_slot_action action, char name,
                         struct slot **ret, struct ingot_error *err) {
        if (action == INGOT_SLOT_ROLLBACK) {
                struct slot_choice ch;
                slot_table_choose(t, &ch);
                char current = booted ? booted : ch.index >= 0 ? t->slots[ch.index].name : 'a';
                struct slot *s = &t->slots[1 - slot_index(current)];
                if (slot_state_of(&s->attrs, s->installed) != SLOT_GOOD)
                        return error_set(err, -ENOENT, "%s: no good slot to roll back to: %c is %s", t->gpt->path,
                                         s->name, slot_state_to_string(slot_state_of(&s->attrs, s->installed)));
                *ret = s;
                return 0;
        }
        if (!name && action == INGOT_SLOT_MARK_GOOD)
                name = booted;
        if (!name)
                return error_set(err, -EINVAL, "%s: which slot? this disk's booted slot is not known", t->gpt->path);
        if (slot_index(name) < 0)
                return error_set(err, -EINVAL, "no slot '%c'; slots are a and b", name);
        *ret = &t->slots[slot_index(name)];
        return 0;
}

/* The action's new state bits for s (and, when s becomes next, the other slot's priority), in memory. */
static int change_attrs(struct slot_table *t, struct slot *s, enum ingot_slot_action action, unsigned tries,
                        struct ingot_error *err) {
        switch (action) {
        case INGOT_SLOT_SWITCH:
                return make_next(t, s, tries ? tries : 3, false, NULL, NULL, err);
        case INGOT_SLOT_ROLLBACK:
                return make_next(t, s, 0, true, NULL, NULL, err);
        case INGOT_SLOT_MARK_GOOD:
                return set_attrs(t, s,
                                 (struct slot_attrs) { .priority = s->attrs.priority ? s->attrs.priority : 1,
                                                       .successful = true },
                                 NULL, NULL, err);
        case INGOT_SLOT_MARK_BAD:
        case INGOT_SLOT_FAILED_INITRD:
        case INGOT_SLOT_FAILED_CORRUPTED:
                return set_attrs(t, s,
                                 (struct slot_attrs) { .failure = action == INGOT_SLOT_FAILED_INITRD
                                                                          ? SLOT_FAILURE_INITRD
                                                                  : action == INGOT_SLOT_FAILED_CORRUPTED
                                                                          ? SLOT_FAILURE_CORRUPTED
                                                                          : SLOT_FAILURE_MARKED },
                                 NULL, NULL, err);
        }
        return 0;
}

int ingot_slot_change(const struct ingot_slot_options *o, enum ingot_slot_action action, char name, unsigned tries,
                      char *ret_slot, struct ingot_error *err) {
        _cleanup_(slot_table_freep) struct slot_table *t = NULL;
        char booted;
        int r = slot_disk_open(o, true, &t, &booted, err);
        if (r < 0)
                return r;
        struct slot *s;
        r = change_target(t, booted, action, name, &s, err);
        if (r < 0)
                return r;
        bool mark_bad = action == INGOT_SLOT_MARK_BAD || action == INGOT_SLOT_FAILED_INITRD ||
                        action == INGOT_SLOT_FAILED_CORRUPTED;
        if (!mark_bad) {
                r = slot_require_installed(t, s, err);
                if (r < 0)
                        return r;
        }
        struct slot *other = &t->slots[1 - slot_index(s->name)];
        if (action == INGOT_SLOT_FAILED_CORRUPTED && !slot_bootable(&other->attrs, other->installed))
                /* never the last bootable slot: one bad block is better than nothing to boot */
                return error_set(err, -EBUSY, "%s: slot %c is %s, nothing to fall back to", t->gpt->path, other->name,
                                 slot_state_to_string(slot_state_of(&other->attrs, other->installed)));
        r = change_attrs(t, s, action, tries, err);
        if (r < 0)
                return r;
        r = gpt_write(t->gpt, err); /* the one write that makes the change */
        if (r < 0)
                return r;
        if (ret_slot)
                *ret_slot = s->name;
        return 0;
}
