/* verb-plan.c: `ingot plan RECIPE [--json]`: the validated, fully resolved recipe, without building. */
#include <stdlib.h>

#include "cli.h"

void help_plan(FILE *f) {
        fprintf(f,
                "Usage: %s plan RECIPE [--json]\n"
                "Validate RECIPE with its includes and RECIPE.d/*.conf drop-ins and print the result:\n"
                "every key resolved, host paths absolute, content operations in order with the\n"
                "file:line that set them. Nothing is built.\n\n"
                "  --json     print a JSON object instead of INI text\n"
                "  -h --help  show this help\n",
                program_name);
}

int verb_plan(int argc, char **argv) {
        const char *arg;
        bool json;
        int u = parse_one_arg_json(argc, argv, "plan", "RECIPE", &arg, &json);
        if (u > 0)
                return u;

        struct ingot_error err = { 0 };
        struct ingot_recipe *recipe = NULL;
        int r = ingot_recipe_load(arg, &recipe, &err);
        if (r < 0)
                return log_lib_error(NULL, r, &err);
        char *text = NULL;
        r = json ? ingot_recipe_to_json(recipe, &text) : ingot_recipe_to_ini(recipe, &text);
        ingot_recipe_free(recipe);
        if (r < 0)
                return log_lib_error(NULL, r, NULL);
        fputs(text, stdout);
        if (json)
                fputc('\n', stdout);
        free(text);
        return EXIT_OK;
}
