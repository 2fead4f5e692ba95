/* fuzz/release.c: a fleet release index (index.json) parsed as `ingot slot install URL` parses it after
 * its signature check (kind, format 2, expiry) and as `ingot publish` parses DEST's own (format 1 too),
 * its expiry checked at its last second and at its end, looked up, then written again and parsed back,
 * as an installer, to the same entries, floor and expiry. */
#include "fuzz.h"
#include "release.h"

static bool same(const struct release_entry *a, const struct release_entry *b) {
        return !strcmp(a->name, b->name) && !strcmp(a->version, b->version) && !strcmp(a->image, b->image) &&
               !strcmp(a->verity, b->verity) && !strcmp(a->roothash, b->roothash) &&
               !strcmp(a->signature, b->signature) && !strcmp(a->manifest, b->manifest) && a->size == b->size &&
               a->verity_size == b->verity_size && !strcmp(a->root_hash, b->root_hash) &&
               !strcmp(a->signer, b->signer) && !strcmp(a->sha256, b->sha256);
}

/* A refusal always says why. */
static int parse(const char *text, enum release_reader reader, struct release_index *ret) {
        struct ingot_error err = { 0 };
        int r = release_index_parse(text, "index.json", reader, ret, &err);
        if (r < 0 && (!err.code || !*err.message))
                abort();
        return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = malloc(size + 1); /* the installer hands the parser NUL-terminated text */
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0;
        struct release_index idx, host;
        struct ingot_error err = { 0 };
        bool installer = parse(text, RELEASE_INSTALLER, &host) == 0;
        if (parse(text, RELEASE_PUBLISHER, &idx) == 0) {
                if (installer && (host.n != idx.n || host.expires != idx.expires))
                        abort(); /* publish reads what hosts take, the same way */
                if (release_index_check_expiry(&idx, "index.json", idx.expires, &err) != -ESTALE || !*err.message ||
                    (idx.expires > 0 && release_index_check_expiry(&idx, "index.json", idx.expires - 1, &err) != 0))
                        abort();
                for (size_t i = 0; i < idx.n; i++)
                        if (!release_index_find(&idx, idx.entries[i].version))
                                abort();
                char *again = NULL;
                if (release_index_format(&idx, &again) == 0) {
                        struct release_index back;
                        if (parse(again, RELEASE_INSTALLER, &back) != 0 || back.n != idx.n ||
                            back.expires != idx.expires || strcmp(back.min_version, idx.min_version) != 0)
                                abort(); /* what publish writes, installers must read back */
                        for (size_t i = 0; i < idx.n; i++)
                                if (!same(&idx.entries[i], &back.entries[i]))
                                        abort();
                        release_index_clear(&back);
                        free(again);
                }
                release_index_clear(&idx);
        } else if (installer)
                abort();
        release_index_clear(&host);
        free(text);
        return 0;
}
