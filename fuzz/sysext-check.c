/* fuzz/sysext-check.c: a sysext layer (a DDI or a plain squashfs) checked against a real small base image as
 * `ingot sysext check` does: the GPT and its partitions, ingot's squashfs reader (walk, lookups, one file),
 * the extension-release text and systemd's compatibility rules, shadowing, the signature partition and
 * dm-verity over the layer. Input: the layer file, or a DDI in records (SPARSE below): a DDI's first partition
 * starts at 1 MiB, and mutations of a megabyte of zeros find nothing. A GPT gets its primary CRCs fixed. */
#include "fuzz.h"
#include "ingot.h"

static char base_manifest[160], layer[160];

/* libsquashfs allocates what an inode claims (its block list, from the file size) before it reads it;
 * ingot cannot bound that through its API. An impossible claim fails the allocation there, and the
 * image is reported damaged: so it is under ASan too, instead of ASan aborting (docs/security.md). */
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
        return "allocator_may_return_null=1";
}

/* The base the seeds were built for (tests/integration/sysext.sh's shape, smaller): ID=demo,
 * VERSION_ID=1.0.0, /usr/bin/sh a symlink a layer can shadow. Same recipe and epoch, same bytes. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc, (void) argv;
        static const char text[] = "[Image]\nName=demo\nVersion=1.0.0\n[Content]\nMkdir=/usr/bin\nMkdir=/opt\n"
                                   "Symlink=busybox:/usr/bin/sh\nSymlink=usr/bin:/bin\n[Output]\nCompression=gzip\n"
                                   "SourceDateEpoch=1735689600\n";
        struct ingot_recipe *r = NULL;
        struct ingot_error err = { 0 };
        char out[128];
        snprintf(out, sizeof(out), "%s/base", fuzz_dir());
        struct ingot_build_options o = { .output_dir = out, .jobs = 1, .unsigned_image = true };
        struct ingot_build_result res = { 0 };
        if (ingot_recipe_load(fuzz_file("demo.ini", (const uint8_t *) text, sizeof(text) - 1), &r, &err) < 0 ||
            ingot_build(r, &o, &res, &err) < 0) {
                fprintf(stderr, "fuzz/sysext-check: %s\n", err.message);
                abort();
        }
        snprintf(base_manifest, sizeof(base_manifest), "%s", res.manifest_path);
        snprintf(layer, sizeof(layer), "%s/tools_1.0.raw", fuzz_dir());
        ingot_build_result_clear(&res);
        ingot_recipe_free(r);
        return 0;
}

/* "SPARSE\n", then records: an offset (8 bytes, little-endian), a length (2 bytes) and that many bytes,
 * written over zeros; the file ends where the last record does (at most MAX_FILE). */
#define SPARSE "SPARSE\n"
#define MAX_FILE (4u << 20)

static uint8_t *expand(const uint8_t *data, size_t size, size_t *ret_size) {
        size_t m = strlen(SPARSE), end = 0;
        if (size < m || memcmp(data, SPARSE, m) != 0) {
                uint8_t *copy = malloc(size ? size : 1);
                if (copy)
                        memcpy(copy, data, size);
                *ret_size = size;
                return copy;
        }
        uint8_t *out = calloc(1, MAX_FILE);
        if (!out)
                return NULL;
        for (size_t at = m; at + 10 <= size;) {
                uint64_t off = fuzz_le(data + at, 8);
                size_t len = (size_t) fuzz_le(data + at + 8, 2);
                at += 10;
                if (len > size - at)
                        len = size - at;
                if (off < MAX_FILE && len <= MAX_FILE - off) {
                        memcpy(out + off, data + at, len);
                        if (off + len > end)
                                end = off + len;
                }
                at += len;
        }
        *ret_size = end;
        return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t input_size) {
        size_t size;
        uint8_t *data = expand(input, input_size, &size);
        if (!data)
                return 0;
        fuzz_gpt_fix_crcs(data, size);
        fuzz_file("tools_1.0.raw", data, size);
        free(data);
        struct ingot_sysext_report rep;
        struct ingot_error err = { 0 };
        int r = ingot_sysext_check(layer, base_manifest, NULL, &rep, &err);
        bool failed = false;
        for (size_t i = 0; i < rep.n_checks; i++)
                failed |= rep.checks[i].state == INGOT_CHECK_FAILED;
        if ((r == 0 && failed) || (r < 0 && !failed && !*err.message))
                abort(); /* 0 means nothing failed; a failure says why, in a check or in err */
        ingot_sysext_report_clear(&rep);
        return 0;
}
