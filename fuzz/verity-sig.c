/* fuzz/verity-sig.c: a root-verity-sig partition's payload (JSON, base64 PKCS#7, NUL padding) decoded
 * as slot status and the initrd read it, then encoded again and decoded to the same fields. */
#include "fuzz.h"
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
                            memcmp(s.signature, t.signature, s.signature_size))
                                abort(); /* what ingot writes it must read back */
                        verity_sig_clear(&t);
                        free(payload);
                }
                verity_sig_clear(&s);
        }
        return 0;
}
