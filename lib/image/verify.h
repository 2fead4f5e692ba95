/* verify.h: the report lines `ingot verify` and `ingot slot verify` share: a signature that checked out,
 * and a signed root hash against the one a hash tree gives. */
#pragma once

#include "verity.h"

/* sig ok: signed by cert_path (rep->trusted), or only intact when cert_path is NULL; the signer is
 * rep->signer_fingerprint. */
void verify_signature_ok(struct ingot_check *sig, struct ingot_verify_report *rep, const char *cert_path);
/* root: signed_hash (read from source, for the message) against the root hash of info's tree; skipped
 * when info is NULL (the tree could not be read). */
void verify_root_hash(struct ingot_check *root, const char *signed_hash, const char *source,
                      const struct verity_info *info);
