/* fuzz/release.c: a fleet release index (index.json) parsed as `ingot slot install URL` and `ingot publish`
 * parse it, looked up, then written again and parsed back to the same entries. */
#include "fuzz.h"
#include "release.h"

static bool same(const struct release_entry *a, const struct release_entry *b) {
        return !strcmp(a->name, b->name) && !strcmp(a->version, b->version) && !strcmp(a->image, b->image) &&
               !strcmp(a->verity, b->verity) && !strcmp(a->roothash, b->roothash) &&
               !strcmp(a->signature, b->signature) && !strcmp(a->manifest, b->manifest) && a->size == b->size &&
               a->verity_size == b->verity_size && !strcmp(a->root_hash, b->root_hash) &&
               !strcmp(a->signer, b->signer) && !strcmp(a->sha256, b->sha256);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = malloc(size + 1); /* the installer hands the parser NUL-terminated text */
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0;
        struct release_index idx;
        struct ingot_error err = { 0 };
        if (release_index_parse(text, "index.json", &idx, &err) == 0) {
                for (size_t i = 0; i < idx.n; i++)
                        if (!release_index_find(&idx, idx.entries[i].version))
                                abort();
                char *again = NULL;
                if (release_index_format(&idx, &again) == 0) {
                        struct release_index back;
                        if (release_index_parse(again, "index.json", &back, &err) != 0 || back.n != idx.n ||
                            strcmp(back.min_version, idx.min_version) != 0)
                                abort(); /* what publish writes, installers must read back */
                        for (size_t i = 0; i < idx.n; i++)
                                if (!same(&idx.entries[i], &back.entries[i]))
                                        abort();
                        release_index_clear(&back);
                        free(again);
                }
                release_index_clear(&idx);
        }
        free(text);
        return 0;
}
