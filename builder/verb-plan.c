/* verb-plan.c: `ingot plan RECIPE [--json]`: the validated, fully resolved recipe, without building. */
#include <getopt.h>
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
        static const struct option options[] = {
                { "json", no_argument, NULL, 'J' },
                {},
        };
        bool json = false;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'J':
                        json = true;
                        break;
                default:
                        return usage_error("plan", "invalid option");
                }
        if (argc - optind != 1)
                return usage_error("plan", "expected exactly one RECIPE");

        struct ingot_error err = { 0 };
        struct ingot_recipe *recipe = NULL;
        int r = ingot_recipe_load(argv[optind], &recipe, &err);
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
