/* verb-verity.c: `ingot verity IMAGE.raw [--jobs N]`: (re)write an image's hash tree and root hash. */
#include <getopt.h>
#include <stdlib.h>

#include "cli.h"

void help_verity(FILE *f) {
        fprintf(f,
                "Usage: %s verity IMAGE.raw [--jobs N]\n"
                "Compute the dm-verity hash tree of an existing image on all cores and write\n"
                "IMAGE.verity (format 1, with superblock) and IMAGE.roothash beside it. With\n"
                "IMAGE.manifest.json, the build's salt and geometry are used, so the files come out\n"
                "identical to the build's; 'ingot build' already writes them in the same pass.\n\n"
                "  -j --jobs N  hashing threads (default: all cores)\n"
                "  -h --help    show this help\n",
                program_name);
}

int verb_verity(int argc, char **argv) {
        static const struct option options[] = {
                { "jobs", required_argument, NULL, 'j' },
                {},
        };
        unsigned jobs = 0;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "j:", options, NULL)) >= 0)
                switch (c) {
                case 'j': {
                        char *end;
                        long n = strtol(optarg, &end, 10);
                        if (*end || n < 1 || n > 64)
                                return usage_error("verity", "--jobs wants a number from 1 to 64, got '%s'", optarg);
                        jobs = (unsigned) n;
                        break;
                }
                default:
                        return usage_error("verity", "invalid option");
                }
        if (argc - optind != 1)
                return usage_error("verity", "expected exactly one IMAGE.raw");
        struct ingot_error err = { 0 };
        char root[129];
        int r = ingot_verity(argv[optind], jobs, root, &err);
        if (r < 0)
                return log_lib_error(NULL, r, &err);
        printf("%s\n", root);
        return EXIT_OK;
}
