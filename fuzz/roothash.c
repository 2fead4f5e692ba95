/* fuzz/roothash.c: the .roothash sidecar reader, from memory and from a file. */
#include "fuzz.h"
#include "roothash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char hex[ROOT_HASH_MAX + 1], again[ROOT_HASH_MAX + 1];
        int r = root_hash_parse((const char *) data, size, hex);
        struct ingot_error err = { 0 };
        int q = root_hash_read(fuzz_file("x.roothash", data, size), again, &err);
        if ((r == 0) != (q == 0) || (r == 0 && strcmp(hex, again) != 0))
                abort(); /* the file reader and the buffer parser must agree */
        if (r == 0 && (strlen(hex) < 40 || strspn(hex, "0123456789abcdef") != strlen(hex)))
                abort();
        return 0;
}
