/* fuzz/sysext-base.c: a base image's manifest as `ingot sysext build` and `ingot sysext check` read it
 * (--base or [Extension] Base=: name, version, architecture, os-release, the image beside it), then the
 * layer's extension-release made from it. Input: the manifest, beside a real image it may name. */
#include "fuzz.h"
#include "ingot.h"
#include "sysext.h"

static struct ingot_recipe *layer;
static char manifest[160];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc, (void) argv;
        static const char text[] = "[Extension]\nName=tools\nVersion=1.0\nScope=system portable\n";
        struct ingot_error err = { 0 };
        if (ingot_recipe_load(fuzz_file("tools.ini", (const uint8_t *) text, sizeof(text) - 1), &layer, &err) < 0) {
                fprintf(stderr, "fuzz/sysext-base: %s\n", err.message);
                abort();
        }
        fuzz_file("demo_1.0.0.raw", (const uint8_t *) "hsqs", 4); /* artifacts.raw may name it */
        snprintf(manifest, sizeof(manifest), "%s/demo_1.0.0.manifest.json", fuzz_dir());
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        fuzz_file("demo_1.0.0.manifest.json", data, size);
        struct sysext_base base;
        struct ingot_error err = { 0 };
        if (sysext_base_load(manifest, &base, &err) == 0) {
                if (!base.name || !base.version || !base.architecture || !base.id)
                        abort(); /* what a layer's extension-release needs */
                char *text = NULL;
                if (sysext_release_text(layer, &base, &text) == 0)
                        free(text);
                sysext_base_clear(&base);
        }
        return 0;
}
