/* fuzz/pkcs7.c: a detached PKCS#7 signature over a root hash, checked as `ingot verify`, slot install
 * and the initrd check it: against the certificate it carries, and against trusted certificates.
 * Input: the signed text (one line) then the DER signature. */
#include "fuzz.h"
#include "signing.h"

static char cert[160];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc, (void) argv;
        char keys[128];
        snprintf(keys, sizeof(keys), "%s/keys", fuzz_dir());
        struct ingot_error err = { 0 };
        if (signing_keygen(keys, KEY_ECDSA, "fuzz", &err) < 0) {
                fprintf(stderr, "fuzz/pkcs7: %s\n", err.message);
                abort();
        }
        snprintf(cert, sizeof(cert), "%s/ingot.crt", keys);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const uint8_t *nl = memchr(data, '\n', size < 200 ? size : 200);
        if (!nl)
                return 0;
        char text[201];
        size_t n = (size_t) (nl - data);
        memcpy(text, data, n);
        text[n] = 0;
        const uint8_t *der = nl + 1;
        size_t der_size = size - n - 1;
        char fp[65];
        struct ingot_error err = { 0 };
        (void) signature_check_der(der, der_size, "fuzz.p7s", text, NULL, fp, &err);
        err = (struct ingot_error) { 0 };
        (void) signature_check_der(der, der_size, "fuzz.p7s", text, cert, fp, &err);
        err = (struct ingot_error) { 0 };
        (void) signature_check_trusted(der, der_size, "fuzz.p7s", text, (char *[]) { cert, NULL }, "fuzz", fp, &err);
        err = (struct ingot_error) { 0 };
        (void) signature_check(fuzz_file("fuzz.p7s", der, der_size), text, NULL, fp, &err);
        return 0;
}
