/* slot-boot.c: the initrd's side of the slots: the boot choice (slot_choose, as `ingot slot next`
 * prints it) and the try counted in the GPT before the slot boots. */
#include <string.h>

#include "slot-boot.h"
#include "slot.h"

void slot_boot_clear(struct slot_boot *b) {
        free(b->signature);
        free(b->profile);
        free(b->profile_signature);
        *b = (struct slot_boot) { 0 };
}

/* The try is spent before the boot, durably: a hang still counts. */
static int count_try(struct slot_table *t, struct slot *s, struct ingot_error *err) {
        s->attrs.tries--;
        int r = gpt_set(t->gpt, s->root, slot_attrs_encode(t->gpt->parts[s->root].attrs, &s->attrs), NULL, err);
        if (r < 0)
                return r;
        return gpt_write(t->gpt, err);
}

/* The signed floor of the good slot beside s: read only when its signer is trusted. */
static void read_floor(struct slot_table *t, const struct slot *s, char **trusted, struct slot_boot *b) {
        for (int i = 0; trusted && i < SLOT_COUNT; i++) {
                struct slot *o = &t->slots[i];
                if (o == s || slot_state_of(&o->attrs, o->installed) != SLOT_GOOD)
                        continue;
                slot_read_image(t, o, trusted);
                if (*o->min_version && (!*b->floor || version_compare(o->min_version, b->floor) > 0)) {
                        snprintf(b->floor, sizeof(b->floor), "%s", o->min_version);
                        b->floor_slot = o->name;
                }
        }
}

int slot_boot_prepare(const char *disk, char forced, char **trusted, struct slot_boot *ret, struct ingot_error *err) {
        *ret = (struct slot_boot) { 0 };
        _cleanup_(slot_table_freep) struct slot_table *t = NULL;
        int r = slot_table_open(disk, true, 5000, &t, err);
        if (r < 0)
                return r;
        struct slot_choice ch;
        slot_table_choose(t, &ch);
        if (forced) {
                int i = slot_index(forced);
                if (i < 0 || !t->slots[i].installed)
                        return error_set(err, -ENOENT, "ingot.slot=%c: no such slot, or it is empty", forced);
                ch = (struct slot_choice) { .index = i };
                snprintf(ch.reason, sizeof(ch.reason), "%c forced by ingot.slot=", forced);
        }
        if (ch.index < 0)
                return error_set(err, -ENOENT, "%s", ch.reason);
        struct slot *s = &t->slots[ch.index];
        if (ch.count_try) {
                r = count_try(t, s, err);
                if (r < 0)
                        return r;
        }
        _cleanup_(slot_boot_clear) struct slot_boot b = {
                .name = s->name,
                .root_partno = t->gpt->parts[s->root].partno,
                .verity_partno = t->gpt->parts[s->verity].partno,
        };
        snprintf(b.root_hash, sizeof(b.root_hash), "%s", s->payload.root_hash);
        snprintf(b.disk_uuid, sizeof(b.disk_uuid), "%s", t->gpt->disk_uuid);
        for (size_t i = 0; i < t->gpt->n_parts && !b.has_var; i++)
                if (strcmp(t->gpt->parts[i].type, GPT_TYPE_VAR) == 0) {
                        b.has_var = true;
                        b.var_partno = t->gpt->parts[i].partno;
                }
        if (ch.count_try)
                snprintf(b.reason, sizeof(b.reason), "%s; this try counted, %u left after it", ch.reason,
                         s->attrs.tries);
        else
                snprintf(b.reason, sizeof(b.reason), "%s", ch.reason);
        b.signature = malloc(s->payload.signature_size);
        if (!b.signature)
                return -ENOMEM;
        memcpy(b.signature, s->payload.signature, s->payload.signature_size);
        b.signature_size = s->payload.signature_size;
        /* the slot's profile: handed over, the table is freed on return */
        b.profile = TAKE_PTR(s->payload.profile);
        b.profile_signature = TAKE_PTR(s->payload.profile_signature);
        b.profile_signature_size = s->payload.profile_signature_size;
        read_floor(t, s, trusted, &b);
        *ret = b;
        b = (struct slot_boot) { 0 }; /* handed over to ret */
        return 0;
}
