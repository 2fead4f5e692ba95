/* fuzz/manifest.c: a manifest (.manifest.json) beside a real small image, read by `ingot verify` (every
 * field it compares, each artifact's sha256) and by `ingot inspect`, whose JSON must hold arrays where the
 * CLI's printer takes an array's length. */
#include <json-c/json.h>

#include "fuzz.h"
#include "ingot.h"

static char image[160];

/* The image the seeds describe: the same recipe and SOURCE_DATE_EPOCH give the same bytes. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc, (void) argv;
        static const char text[] = "[Image]\nName=m\nVersion=1\n[Content]\nMkdir=/etc\n";
        struct ingot_recipe *r = NULL;
        struct ingot_error err = { 0 };
        char out[128];
        snprintf(out, sizeof(out), "%s/out", fuzz_dir());
        struct ingot_build_options o = { .output_dir = out, .jobs = 1, .unsigned_image = true,
                                         .have_source_date_epoch = true };
        struct ingot_build_result res = { 0 };
        if (ingot_recipe_load(fuzz_file("m.ini", (const uint8_t *) text, sizeof(text) - 1), &r, &err) < 0 ||
            ingot_build(r, &o, &res, &err) < 0) {
                fprintf(stderr, "fuzz/manifest: %s\n", err.message);
                abort();
        }
        snprintf(image, sizeof(image), "%s", res.image_path);
        ingot_build_result_clear(&res);
        ingot_recipe_free(r);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        fuzz_file("out/m_1.manifest.json", data, size);
        struct ingot_verify_report rep;
        (void) ingot_verify(image, NULL, &rep);
        char *json = NULL;
        struct ingot_error err = { 0 };
        if (ingot_inspect(image, &json, &err) == 0) {
                /* what `ingot inspect` prints takes the length of these: arrays or absent */
                json_object *o = json_tokener_parse(json), *v;
                if (!o)
                        abort();
                const char *arrays[] = { "kernel_versions", "extension_release" };
                for (size_t i = 0; i < sizeof(arrays) / sizeof(*arrays); i++)
                        if (json_object_object_get_ex(o, arrays[i], &v) && v && !json_object_is_type(v, json_type_array))
                                abort();
                json_object_put(o);
                free(json);
        }
        return 0;
}
