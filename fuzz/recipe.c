/* fuzz/recipe.c: a recipe (INI with includes and drop-ins) loaded, validated and printed back as
 * INI and JSON, as `ingot plan` does; the input is the recipe file itself. */
#include "fuzz.h"
#include "ingot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *path = fuzz_file("recipe.ini", data, size);
        struct ingot_recipe *r = NULL;
        struct ingot_error err = { 0 };
        if (ingot_recipe_load(path, &r, &err) == 0) {
                char *text = NULL;
                if (ingot_recipe_to_json(r, &text) == 0)
                        free(text);
                text = NULL;
                if (ingot_recipe_to_ini(r, &text) == 0)
                        free(text);
                ingot_recipe_free(r);
        }
        return 0;
}
