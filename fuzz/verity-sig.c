/* fuzz/verity-sig.c: a root-verity-sig partition's payload (JSON, base64 PKCS#7, NUL padding, the slot's
 * own profile) decoded as slot status and the initrd read it, the profile parsed as slot status parses it,
 * then encoded again and decoded to the same fields. */
#include <json-c/json.h>

#include "fuzz.h"
#include "profile.h"
#include "verity-sig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct verity_sig s = { .signature = NULL };
        struct ingot_error err = { 0 };
        if (verity_sig_decode(data, size, &s, &err) == 0) {
                uint8_t *payload = NULL;
                size_t n = 0;
                if (verity_sig_encode(&s, &payload, &n) == 0) {
                        struct verity_sig t = { .signature = NULL };
                        if (n % VERITY_SIG_ALIGN || verity_sig_decode(payload, n, &t, &err) != 0 ||
                            strcmp(s.root_hash, t.root_hash) || strcmp(s.fingerprint, t.fingerprint) ||
                            s.signature_size != t.signature_size ||
                            memcmp(s.signature, t.signature, s.signature_size) || !s.profile != !t.profile ||
                            (s.profile && strcmp(s.profile, t.profile)) ||
                            s.profile_signature_size != t.profile_signature_size ||
                            (s.profile_signature_size &&
                             memcmp(s.profile_signature, t.profile_signature, s.profile_signature_size)))
                                abort(); /* what ingot writes it must read back */
                        verity_sig_clear(&t);
                        free(payload);
                }
                json_object *j;
                const char *name, *cmdline;
                if (s.profile && profile_compiled_parse(s.profile, "profile", &j, &name, &cmdline, &err) == 0)
                        json_object_put(j);
                verity_sig_clear(&s);
        }
        return 0;
}
