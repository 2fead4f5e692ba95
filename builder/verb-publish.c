/* verb-publish.c: `ingot publish OUTDIR DEST`: a build's signed images into a release directory any
 * web server serves as is, with SHA256SUMS and a signed index written last. */
#include <getopt.h>
#include <json-c/json.h>
#include <string.h>

#include "cli.h"
#include "util.h"

void help_publish(FILE *f) {
        fprintf(f,
                "Usage: %s publish OUTDIR DEST --key KEY --cert CERT [--min-version V] [--json]\n"
                "Copy every signed image in OUTDIR (NAME_VERSION.raw with .verity, .roothash, .roothash.p7s\n"
                "and .manifest.json) into the release directory DEST, then write SHA256SUMS (sha256sum's\n"
                "format, as systemd-sysupdate reads it), SHA256SUMS.p7s, index.json (every version in DEST,\n"
                "newest first) and index.json.p7s. New files are renamed into place before the lists that\n"
                "name them, the index last; a published file never changes. Serve DEST with any web server;\n"
                "hosts install with `ingot slot install URL` or `ingot update` (docs/delivery.md).\n\n"
                "  --key KEY, --cert CERT  sign SHA256SUMS and the index (PKCS#7, DER)\n"
                "  --min-version V         installers refuse versions older than V (kept until changed)\n"
                "  --json                  print the versions published as JSON\n"
                "  -h --help               show this help\n",
                program_name);
}

int verb_publish(int argc, char **argv) {
        static const struct option options[] = {
                { "key", required_argument, NULL, 'k' },         { "cert", required_argument, NULL, 'c' },
                { "min-version", required_argument, NULL, 'm' }, { "json", no_argument, NULL, 'J' },
                {},
        };
        struct ingot_publish_options o = { .key_path = NULL };
        bool json = false;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'k':
                        o.key_path = optarg;
                        break;
                case 'c':
                        o.cert_path = optarg;
                        break;
                case 'm':
                        o.min_version = optarg;
                        break;
                case 'J':
                        json = true;
                        break;
                default:
                        return usage_error("publish", "invalid option");
                }
        if (argc - optind != 2)
                return usage_error("publish", "expected OUTDIR and DEST");
        if (!o.key_path || !o.cert_path)
                return usage_error("publish", "the index is signed: give --key and --cert");
        struct ingot_error err = { 0 };
        _cleanup_strv_free_ char **versions = NULL;
        int r = ingot_publish(argv[optind], argv[optind + 1], &o, &versions, &err);
        if (r < 0)
                return log_lib_error(NULL, r, &err);
        if (json) {
                json_object *j = json_object_new_object(), *list = json_object_new_array();
                for (char **v = versions; v && *v; v++)
                        json_object_array_add(list, json_object_new_string(*v));
                json_object_object_add(j, "dest", json_object_new_string(argv[optind + 1]));
                json_object_object_add(j, "published", list);
                puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(j);
        } else
                for (char **v = versions; v && *v; v++)
                        printf("published %s into %s\n", *v, argv[optind + 1]);
        return EXIT_OK;
}
