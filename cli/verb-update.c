/* verb-update.c: `ingot update DISK URL`, a host agent's one step: check the release for a newer
 * version, install it into the inactive slot (which makes it next, on trial), report, and reboot. */
#include <getopt.h>
#include <json-c/json.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util.h"

void help_update(FILE *f) {
        fprintf(f,
                "Usage: %s update DISK URL [--reboot] [--json] [--cert CERT]... [--cacert FILE]\n"
                "Check the release at URL (written by `ingot publish`) for a version newer than both slots\n"
                "of DISK; when there is none, say so and succeed. Otherwise install it into the inactive\n"
                "slot as `ingot slot install URL` does, which makes it boot next on trial, and report the\n"
                "slots. DISK may be - for the disk the booted slot is on.\n\n"
                "  --reboot          after a successful install only: systemctl reboot\n"
                "  --json            one JSON event per line on stdout, the last {\"event\":\"result\"}\n"
                "  --cert CERT       trusted signing certificate; repeatable (default: %s/*.crt)\n"
                "  --cacert FILE     CA certificates for HTTPS (default: $CURL_CA_BUNDLE, $SSL_CERT_FILE)\n"
                "  --capath DIR      a directory of CA certificates (default: $SSL_CERT_DIR)\n"
                "  --retries N       tries of a transfer that makes no progress (default 5)\n"
                "  --full            fetch the whole image, taking nothing from the disk's slots\n"
                "  --tries N         boot tries of the new slot (default 3)\n"
                "  -h --help         show this help\n",
                program_name, TRUSTED_DIR);
}

static int reboot_now(struct delivery *d) {
        fflush(stdout);
        if (!d->json)
                printf("rebooting\n");
        fflush(stdout);
        execlp("systemctl", "systemctl", "reboot", (char *) NULL);
        log_error("cannot run systemctl reboot: %m");
        return EXIT_FAILURE_;
}

int verb_update(int argc, char **argv) {
        static const struct option options[] = {
                { "reboot", no_argument, NULL, 'r' },        { "json", no_argument, NULL, 'J' },
                { "cert", required_argument, NULL, 'c' },    { "cacert", required_argument, NULL, 'A' },
                { "capath", required_argument, NULL, 'P' },  { "retries", required_argument, NULL, 'R' },
                { "tries", required_argument, NULL, 't' },   { "full", no_argument, NULL, 'F' },
                {},
        };
        struct delivery d = { .json = false };
        _cleanup_strv_free_ char **certs = NULL;
        bool reboot = false;
        unsigned tries = 0;
        uint64_t v;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'r':
                        reboot = true;
                        break;
                case 'J':
                        d.json = true;
                        break;
                case 'c':
                        if (strv_extend(&certs, optarg) < 0)
                                return EXIT_FAILURE_;
                        break;
                case 'A':
                        d.cacert = optarg;
                        break;
                case 'P':
                        d.capath = optarg;
                        break;
                case 'R':
                        if (parse_uint(optarg, 100, &v) < 0 || v == 0)
                                return usage_error("update", "--retries takes 1 to 100, not '%s'", optarg);
                        d.attempts = (unsigned) v;
                        break;
                case 't':
                        if (parse_uint(optarg, 15, &v) < 0 || v == 0)
                                return usage_error("update", "--tries takes 1 to 15, not '%s'", optarg);
                        tries = (unsigned) v;
                        break;
                case 'F':
                        d.full = true;
                        break;
                default:
                        return usage_error("update", "invalid option");
                }
        if (argc - optind != 2)
                return usage_error("update", "expected DISK and URL");
        int q = load_trusted_certs(&certs);
        if (q != 0)
                return q;
        const char *url = argv[optind + 1];
        struct ingot_slot_options so = { .disk = strcmp(argv[optind], "-") == 0 ? NULL : argv[optind],
                                         .runtime_dir = getenv("INGOT_RUNTIME_DIR") };
        struct ingot_install_options io = { .tries = tries, .trusted_certs = certs };
        struct ingot_fetch_options fo = { .only_newer = true };
        delivery_setup(&d, &fo, &io);
        struct ingot_error err = { 0 };
        struct ingot_fetch_result res;
        int r = ingot_slot_install_url(&so, url, &io, &fo, &res, &err);
        progress_clear(&d.progress);
        if (r < 0)
                return delivery_error(&d, r, &err);
        struct ingot_slot_status st;
        err = (struct ingot_error) { 0 };
        r = ingot_slot_status(&so, &st, &err);
        if (r < 0)
                return delivery_error(&d, r, &err);
        if (d.json) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "event", json_object_new_string("result"));
                json_object_object_add(o, "installed", json_object_new_boolean(res.installed));
                json_object_object_add(o, "slot", res.slot ? json_object_new_string((char[]) { res.slot, 0 }) : NULL);
                json_object_object_add(o, "version", json_object_new_string(res.version));
                json_object_object_add(o, "reused", json_object_new_int64((int64_t) res.reused));
                json_object_object_add(o, "fetched", json_object_new_int64((int64_t) res.fetched));
                json_object_object_add(o, "next", st.next ? json_object_new_string((char[]) { st.next, 0 }) : NULL);
                json_object_object_add(o, "reason", json_object_new_string(st.reason));
                json_object_object_add(o, "reboot", json_object_new_boolean(reboot && res.installed));
                delivery_print(&d, o);
        } else if (res.installed)
                printf("installed %s into slot %c (%.1f MiB fetched, %.1f MiB from the disk)\nnext: %s\n", res.version,
                       res.slot, res.fetched / 1048576.0, res.reused / 1048576.0, st.reason);
        else
                printf("nothing newer at %s: its newest allowed version is %s\n", url, res.version);
        if (reboot && res.installed)
                return reboot_now(&d);
        return EXIT_OK;
}
