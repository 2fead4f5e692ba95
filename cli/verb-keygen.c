/* verb-keygen.c: `ingot keygen DIR`: a development signing key and self-signed certificate. */
#include <getopt.h>

#include "cli.h"

void help_keygen(FILE *f) {
        fprintf(f,
                "Usage: %s keygen DIR [--ecdsa] [--name CN]\n"
                "Create DIR/ingot.key (mode 0600) and DIR/ingot.crt, a self-signed certificate valid\n"
                "for 10 years, for signing development images. Existing files are never overwritten.\n\n"
                "  --ecdsa      a P-256 key instead of RSA 3072 (ECDSA signatures differ on every\n"
                "               build, so signed builds no longer repeat byte for byte)\n"
                "  --name CN    the certificate's common name (default: ingot development key)\n"
                "  -h --help    show this help\n",
                program_name);
}

int verb_keygen(int argc, char **argv) {
        static const struct option options[] = {
                { "ecdsa", no_argument, NULL, 'E' },
                { "name", required_argument, NULL, 'N' },
                {},
        };
        bool ecdsa = false;
        const char *name = NULL;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'E':
                        ecdsa = true;
                        break;
                case 'N':
                        name = optarg;
                        break;
                default:
                        return usage_error("keygen", "invalid option");
                }
        if (argc - optind != 1)
                return usage_error("keygen", "expected exactly one DIR");
        struct ingot_error err = { 0 };
        int r = ingot_keygen(argv[optind], ecdsa, name, &err);
        if (r < 0)
                return log_lib_error(NULL, r, &err);
        printf("%s/ingot.key: %s private key (0600)\n%s/ingot.crt: its self-signed certificate\n", argv[optind],
               ecdsa ? "ECDSA P-256" : "RSA 3072", argv[optind]);
        return EXIT_OK;
}
