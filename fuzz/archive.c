/* fuzz/archive.c: an archive (any format and filter libarchive reads) as a recipe's base, built into
 * an unsigned image on tmpfs: member names, links, holes, xattrs, the captured os-release and dpkg
 * status, the tree, the squashfs writer, verity and the manifest. */
#include "fuzz.h"
#include "ingot.h"

static struct ingot_recipe *recipe;
static char out[128];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc, (void) argv;
        char text[512];
        snprintf(text, sizeof(text), "[Image]\nName=a\nVersion=1\n[Base]\nArchive=%s/base.tar\n[Output]\nCompression=gzip\n",
                 fuzz_dir());
        struct ingot_error err = { 0 };
        fuzz_file("base.tar", (const uint8_t *) "", 0);
        if (ingot_recipe_load(fuzz_file("a.ini", (const uint8_t *) text, strlen(text)), &recipe, &err) < 0) {
                fprintf(stderr, "fuzz/archive: %s\n", err.message);
                abort();
        }
        snprintf(out, sizeof(out), "%s/out", fuzz_dir());
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        fuzz_file("base.tar", data, size);
        struct ingot_build_options o = {
                .output_dir = out,
                .jobs = 1,
                .unsigned_image = true,
                .have_source_date_epoch = true,
        };
        struct ingot_build_result res = { 0 };
        struct ingot_error err = { 0 };
        if (ingot_build(recipe, &o, &res, &err) == 0)
                ingot_build_result_clear(&res);
        return 0;
}
