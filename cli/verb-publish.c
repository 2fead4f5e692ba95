/* verb-publish.c: `ingot publish OUTDIR DEST`: a build's signed images into a release directory any
 * web server serves as is, with SHA256SUMS and a signed index, which expires, written last. */
#include <getopt.h>
#include <json-c/json.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "util.h"

void help_publish(FILE *f) {
        fprintf(f,
                "Usage: %s publish OUTDIR DEST --key KEY --cert CERT [--expires WHEN] [--min-version V] [--json]\n"
                "Copy every signed image in OUTDIR (NAME_VERSION.raw with .verity, .roothash, .roothash.p7s,\n"
                ".manifest.json and, when its build wrote one, the block index .blocks) into the release\n"
                "directory DEST, then write SHA256SUMS (sha256sum's format, as systemd-sysupdate reads it),\n"
                "SHA256SUMS.p7s, index.json (every version in DEST, newest first, and when it expires) and\n"
                "index.json.p7s. New files are renamed into place before the lists that name them, the index\n"
                "last; a published file never changes. Serve DEST with any web server; hosts install with\n"
                "`ingot slot install URL` or `ingot update`, and refuse an index that has expired\n"
                "(docs/delivery.md).\n\n"
                "  --key KEY, --cert CERT  sign SHA256SUMS and the index (PKCS#7, DER)\n"
                "  --expires WHEN          hosts refuse the index from WHEN on: a duration from now (7d, 12h,\n"
                "                          90m, 45s, 2w) or a UTC time (2026-12-10T00:00:00Z); default 7d.\n"
                "                          Each publish sets it anew: publish again before then (a new\n"
                "                          version, or the last OUTDIR again), or hosts stop updating\n"
                "  --min-version V         installers refuse versions older than V (kept until changed)\n"
                "  --json                  print the versions published and the expiry as JSON\n"
                "  -h --help               show this help\n\n"
                "SOURCE_DATE_EPOCH, when set, is the \"now\" --expires counts from: the same images and\n"
                "SOURCE_DATE_EPOCH give the same index.\n",
                program_name);
}

/* --expires WHEN: a UTC time, or a duration after now. */
static int parse_expires(const char *when, int64_t now, int64_t *ret) {
        int64_t d;
        if (utc_time_parse(when, ret) == 0)
                return 0;
        if (parse_duration(when, &d) < 0 || d > UTC_TIME_LAST - now)
                return usage_error("publish", "--expires takes a duration (7d, 12h, 90m, 45s, 2w) or a UTC time "
                                   "(2026-12-10T00:00:00Z), not '%s'", when);
        *ret = now + d;
        return 0;
}

int verb_publish(int argc, char **argv) {
        static const struct option options[] = {
                { "key", required_argument, NULL, 'k' },         { "cert", required_argument, NULL, 'c' },
                { "min-version", required_argument, NULL, 'm' }, { "expires", required_argument, NULL, 'e' },
                { "json", no_argument, NULL, 'J' },              {},
        };
        struct ingot_publish_options o = { .key_path = NULL };
        const char *expires = NULL;
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
                case 'e':
                        expires = optarg;
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
        bool have_sde;
        int64_t now = (int64_t) time(NULL), clock = now;
        int q = source_date_epoch("publish", &have_sde, &now);
        if (q == 0 && expires)
                q = parse_expires(expires, now, &o.expires);
        else if (q == 0)
                o.expires = now + INGOT_INDEX_LIFETIME_DEFAULT;
        if (q != 0)
                return q;
        struct ingot_error err = { 0 };
        _cleanup_strv_free_ char **versions = NULL;
        int r = ingot_publish(argv[optind], argv[optind + 1], &o, &versions, &err);
        if (r < 0)
                return log_lib_error(NULL, r, &err);
        char at[UTC_TIME_SIZE], clock_text[UTC_TIME_SIZE];
        utc_time_format(o.expires, at);
        utc_time_format(clock, clock_text);
        if (o.expires <= clock)
                log_error("warning: the index expired at %s (now %s): hosts refuse it until it is published again",
                          at, clock_text);
        if (json) {
                json_object *j = json_object_new_object(), *list = json_object_new_array();
                for (char **v = versions; v && *v; v++)
                        json_object_array_add(list, json_object_new_string(*v));
                json_object_object_add(j, "dest", json_object_new_string(argv[optind + 1]));
                json_object_object_add(j, "published", list);
                json_object_object_add(j, "expires", json_object_new_string(at));
                puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(j);
        } else {
                for (char **v = versions; v && *v; v++)
                        printf("published %s into %s\n", *v, argv[optind + 1]);
                printf("index.json expires at %s\n", at);
        }
        return EXIT_OK;
}
