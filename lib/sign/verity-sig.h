/* verity-sig.h: the payload of a root-verity-sig partition as systemd reads it: JSON with rootHash,
 * certificateFingerprint and the base64 PKCS#7 signature, NUL-padded to a multiple of 4096 bytes; and the
 * slot's own host profile beside them (ingotProfile, ingotProfileSignature), which systemd ignores. */
#pragma once

#include "util.h"

#define VERITY_SIG_ALIGN 4096

struct verity_sig {
        char root_hash[129];
        char fingerprint[65];
        uint8_t *signature; /* DER */
        size_t signature_size;
        char *profile;      /* the slot's compiled host profile (profile.h), NULL for none */
        uint8_t *profile_signature; /* DER, over the profile's bytes */
        size_t profile_signature_size;
};

/* The padded payload; ret_size is a multiple of VERITY_SIG_ALIGN. */
int verity_sig_encode(const struct verity_sig *s, uint8_t **ret, size_t *ret_size);
/* Parses a payload read from a partition: -ENODATA when it is all zeros (nothing installed),
 * -EBADMSG when it is not what systemd and ingot write. */
int verity_sig_decode(const uint8_t *buf, size_t size, struct verity_sig *ret, struct ingot_error *err);
void verity_sig_clear(struct verity_sig *s);
