/* verb-verify.c: `ingot verify IMAGE.raw [--cert CERT] [--json]`: every check on an image and its
 * sidecars; exit 0 only if none failed. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>

#include "cli.h"

void help_verify(FILE *f) {
        fprintf(f,
                "Usage: %s verify IMAGE.raw [--cert CERT] [--json]\n"
                "Check an image against its sidecars: every data block against the hash tree\n"
                "(IMAGE.verity), the tree against IMAGE.roothash, the signature IMAGE.roothash.p7s over\n"
                "the root hash, and the sha256 sums and fields of IMAGE.manifest.json.\n"
                "Exit 0 only if nothing failed.\n\n"
                "  --cert CERT  the trusted certificate: the signer must be it (without, the signature\n"
                "               is only checked to be intact, and an unsigned image passes)\n"
                "  --json       print the checks as a JSON object\n"
                "  -h --help    show this help\n\n"
                "Certificate validity dates are not checked here, as hosts booting without a clock\n"
                "cannot either; ingot build refuses expired certificates.\n",
                program_name);
}

static const char *state_word(enum ingot_check_state s) {
        return s == INGOT_CHECK_OK ? "ok" : s == INGOT_CHECK_FAILED ? "FAILED" : "skipped";
}

void checks_print(const struct ingot_check *checks, size_t n, int width) {
        for (size_t i = 0; i < n; i++)
                printf("%-*s %-7s %s\n", width, checks[i].name, state_word(checks[i].state), checks[i].message);
}

struct json_object *checks_to_json(const struct ingot_check *checks, size_t n) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
                json_object *ch = json_object_new_object();
                json_object_object_add(ch, "name", json_object_new_string(checks[i].name));
                json_object_object_add(ch, "state", json_object_new_string(checks[i].state == INGOT_CHECK_OK ? "ok"
                                                                           : checks[i].state == INGOT_CHECK_FAILED
                                                                                   ? "failed"
                                                                                   : "skipped"));
                json_object_object_add(ch, "message", json_object_new_string(checks[i].message));
                json_object_array_add(a, ch);
        }
        return a;
}

void verify_report_json_add(struct json_object *o, const struct ingot_verify_report *rep) {
        bool ok = true;
        for (size_t i = 0; i < rep->n_checks; i++)
                ok = ok && rep->checks[i].state != INGOT_CHECK_FAILED;
        json_object_object_add(o, "ok", json_object_new_boolean(ok));
        json_object_object_add(o, "root_hash", *rep->root_hash ? json_object_new_string(rep->root_hash) : NULL);
        json_object_object_add(o, "signer_fingerprint",
                               *rep->signer_fingerprint ? json_object_new_string(rep->signer_fingerprint) : NULL);
        json_object_object_add(o, "trusted", json_object_new_boolean(rep->trusted));
        json_object_object_add(o, "checks", checks_to_json(rep->checks, rep->n_checks));
}

void checks_log_failures(const char *image, const struct ingot_check *checks, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (checks[i].state == INGOT_CHECK_FAILED)
                        log_error("%s: %s: %s", image, checks[i].name, checks[i].message);
}

int verb_verify(int argc, char **argv) {
        static const struct option options[] = {
                { "cert", required_argument, NULL, 'C' },
                { "json", no_argument, NULL, 'J' },
                {},
        };
        const char *cert = NULL;
        bool json = false;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'C':
                        cert = optarg;
                        break;
                case 'J':
                        json = true;
                        break;
                default:
                        return usage_error("verify", "invalid option");
                }
        if (argc - optind != 1)
                return usage_error("verify", "expected exactly one IMAGE.raw");
        const char *image = argv[optind];

        struct ingot_verify_report rep;
        int r = ingot_verify(image, cert, &rep);
        if (r < 0 && r != -EBADMSG)
                return log_lib_error(image, r, NULL);

        if (json) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "image", json_object_new_string(image));
                verify_report_json_add(o, &rep);
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
        } else
                checks_print(rep.checks, rep.n_checks, 10);
        if (r < 0) {
                checks_log_failures(image, rep.checks, rep.n_checks);
                return EXIT_FAILURE_;
        }
        return EXIT_OK;
}
