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

int slot_boot_prepare(const char *disk, char forced, char **trusted, struct slot_boot *ret, struct ingot_error *err) {
        *ret = (struct slot_boot) { 0 };
        struct slot_table *t;
        int r = slot_table_open(disk, true, 5000, &t, err);
        if (r < 0)
                return r;
        struct slot_choice ch;
        slot_table_choose(t, &ch);
        if (forced) {
                int i = slot_index(forced);
                if (i < 0 || !t->slots[i].installed) {
                        r = error_set(err, -ENOENT, "ingot.slot=%c: no such slot, or it is empty", forced);
                        goto out;
                }
                ch = (struct slot_choice) { .index = i };
                snprintf(ch.reason, sizeof(ch.reason), "%c forced by ingot.slot=", forced);
        }
        if (ch.index < 0) {
                r = error_set(err, -ENOENT, "%s", ch.reason);
                goto out;
        }
        struct slot *s = &t->slots[ch.index];
        if (ch.count_try) { /* the try is spent before the boot, durably: a hang still counts */
                s->attrs.tries--;
                r = gpt_set(t->gpt, s->root, slot_attrs_encode(t->gpt->parts[s->root].attrs, &s->attrs), NULL, err);
                if (r >= 0)
                        r = gpt_write(t->gpt, err);
                if (r < 0)
                        goto out;
        }
        ret->name = s->name;
        ret->root_partno = t->gpt->parts[s->root].partno;
        ret->verity_partno = t->gpt->parts[s->verity].partno;
        snprintf(ret->root_hash, sizeof(ret->root_hash), "%s", s->payload.root_hash);
        snprintf(ret->disk_uuid, sizeof(ret->disk_uuid), "%s", t->gpt->disk_uuid);
        for (size_t i = 0; i < t->gpt->n_parts && !ret->has_var; i++)
                if (strcmp(t->gpt->parts[i].type, GPT_TYPE_VAR) == 0) {
                        ret->has_var = true;
                        ret->var_partno = t->gpt->parts[i].partno;
                }
        if (ch.count_try)
                snprintf(ret->reason, sizeof(ret->reason), "%s; this try counted, %u left after it", ch.reason,
                         s->attrs.tries);
        else
                snprintf(ret->reason, sizeof(ret->reason), "%s", ch.reason);
        ret->signature = malloc(s->payload.signature_size);
        if (!ret->signature) {
                r = -ENOMEM;
                goto out;
        }
        memcpy(ret->signature, s->payload.signature, s->payload.signature_size);
        ret->signature_size = s->payload.signature_size;
        /* the slot's profile: handed over, the table is freed below */
        ret->profile = TAKE_PTR(s->payload.profile);
        ret->profile_signature = TAKE_PTR(s->payload.profile_signature);
        ret->profile_signature_size = s->payload.profile_signature_size;
        /* the signed floor of the good slot beside it: read only when its signer is trusted */
        for (int i = 0; trusted && i < SLOT_COUNT; i++) {
                struct slot *o = &t->slots[i];
                if (o == s || slot_state_of(&o->attrs, o->installed) != SLOT_GOOD)
                        continue;
                slot_read_image(t, o, trusted);
                if (*o->min_version && (!*ret->floor || version_compare(o->min_version, ret->floor) > 0)) {
                        snprintf(ret->floor, sizeof(ret->floor), "%s", o->min_version);
                        ret->floor_slot = o->name;
                }
        }
out:
        slot_table_free(t);
        return r;
}
