/* slot-boot.h: what the initrd does with a disk's slots: choose the slot to boot, count its try in
 * one GPT write before booting it, and mark it bad when it fails to come up. */
#pragma once

#include "util.h"

struct slot_boot {
        char name;                /* 'a' or 'b' */
        size_t root_partno, verity_partno; /* 0-based GPT entry numbers: the kernel's partition N+1 */
        char root_hash[129];
        uint8_t *signature;       /* DER, from the signature partition */
        size_t signature_size;
        char *profile;            /* the slot's own compiled host profile, NULL for none */
        uint8_t *profile_signature; /* DER, over the profile's bytes */
        size_t profile_signature_size;
        char disk_uuid[37];
        bool has_var;
        size_t var_partno;        /* the first var partition (DPS type), when has_var */
        char reason[512];         /* slot_choose's, and the try counted */
        char floor[64];           /* the MinVersion= a good other slot's image sets ("" for none): this slot's
                                   * version must not be below it */
        char floor_slot;          /* that slot */
};

/* forced: 'a' or 'b' (ingot.slot=) or 0 for the boot choice; -ENOENT when nothing can boot. trusted:
 * the certificates a good other slot's image must be signed by for its floor to be read (behind its
 * hash tree); NULL: no floor is read. */
int slot_boot_prepare(const char *disk, char forced, char **trusted, struct slot_boot *ret, struct ingot_error *err);
void slot_boot_clear(struct slot_boot *b);
