/* slot-profile.h: a compiled host profile as a slot carries it, in its signature partition beside the
 * root hash signature: loaded and checked against the image it is signed for. */
#pragma once

#include "slot-image.h"

/* A compiled host profile (`ingot profile compile`: NAME.profile.json and NAME.profile.json.p7s) for a
 * slot's signature partition, where the initrd finds it and checks it like the root hash. */
struct slot_profile {
        char *json;
        uint8_t *signature; /* DER */
        size_t signature_size;
        char name[64];
        char fingerprint[65];
};

/* Refuses a profile that is unsigned, damaged, signed by a certificate not in trusted (checked before
 * anything of it is parsed), not a compiled profile, or not signed for the image with root_hash. */
int slot_profile_load(const char *path, char **trusted, const char *root_hash, struct slot_profile *ret,
                      struct ingot_error *err);
void slot_profile_clear(struct slot_profile *p);
/* The image's signature partition payload, with p (NULL: none) as the slot's profile. */
int slot_image_set_profile(struct slot_image *img, const struct slot_profile *p);
