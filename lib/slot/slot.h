/* slot.h: the slot operations a host runs: the disk of the booted slot, which slot boots next, the
 * version floors, and the install sequence (state changes in slot-state.h, the partitions in slot-image.h). */
#pragma once

#include "slot-image.h"
#include "slot-profile.h"

struct ingot_slot_options;
struct ingot_install_options;

/* slot.c: opens the disk the options name, or the one the booted slot is on; ret_booted: the booted
 * slot if it is on this disk, else 0. */
int slot_disk_open(const struct ingot_slot_options *o, bool writable, struct slot_table **ret, char *ret_booted,
                   struct ingot_error *err);
/* slot_choose over the table's slots: what `ingot slot next` says and the initrd boots. */
void slot_table_choose(const struct slot_table *t, struct slot_choice *ret);
/* The good slot with the highest version (the anti-rollback floor an install keeps, unless told
 * otherwise), or NULL. */
const struct slot *slot_version_floor(const struct slot_table *t);
/* The good slot whose image sets the highest MinVersion= (INGOT_MIN_VERSION), or NULL: the floor its
 * signer set, which nothing overrides. Both read what slot_table_read_images read. */
const struct slot *slot_signed_floor(const struct slot_table *t);
/* Refuses version (what: the image, for the message) below either floor; allow_downgrade lifts the first. */
int slot_floor_check(const struct slot_table *t, const char *what, const char *version, bool allow_downgrade,
                     struct ingot_error *err);
/* The slot named (0: the inactive one); -EBUSY for the running slot. */
int slot_target(struct slot_table *t, char booted, char name, struct slot **ret, struct ingot_error *err);
/* The install sequence for a checked image: io's profile attached (checked), fit and version floor,
 * target priority 0 (one GPT write), slot_write, then the slot made next on trial (one GPT write). */
int slot_install_image(struct slot_table *t, struct slot *s, struct slot_image *img,
                       const struct ingot_install_options *io, struct ingot_error *err);
