/* verb-sysext.c: `ingot sysext build|check`: compile a layer recipe into a systemd-sysext layer (DDI or
 * plain squashfs), and check a layer against a base image as systemd-sysext would, plus shadowing. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util.h"

void help_sysext(FILE *f) {
        fprintf(f,
                "Usage: %s sysext build RECIPE [OPTIONS]\n"
                "       %s sysext check LAYER --base BASE.manifest.json [--cert CERT] [--json]\n"
                "systemd-sysext layers of /usr and /opt for one base image (docs/sysext.md).\n\n"
                "build: compile a recipe with an [Extension] section into OUTDIR/NAME_VERSION.raw with\n"
                "/usr/lib/extension-release.d/extension-release.NAME made from the base's manifest.\n"
                "  --base MANIFEST    the base image's NAME_VERSION.manifest.json (beats Base=)\n"
                "  --format ddi|raw   ddi (default): a GPT disk image with the usr, usr-verity and\n"
                "                     usr-verity-sig partitions; raw: a plain squashfs with .verity,\n"
                "                     .roothash and .roothash.p7s beside it\n"
                "  -o --output DIR    where to write (default: ./out)\n"
                "  -j --jobs N        compressor threads (default: all cores)\n"
                "  --key KEY --cert CERT  sign the root hash; --unsigned to build without\n"
                "  --reuse PREV       take unchanged blocks from PREV (an earlier raw layer or image with\n"
                "                     its .blocks, or a directory of them) instead of compressing again\n"
                "  -q --quiet         no output but errors\n"
                "  --json             print the result as JSON\n\n"
                "check: whether systemd-sysext on the base would merge LAYER (ID, VERSION_ID or\n"
                "SYSEXT_LEVEL, ARCHITECTURE, scope), which files replace the base's (an error unless\n"
                "the recipe's AllowShadow= names them; needs the base's .raw beside its manifest),\n"
                "and the signature (against --cert, else only intact). Exit 0 only if nothing failed.\n"
                "  -h --help          show this help\n",
                program_name, program_name);
}

static void print_json(json_object *o) {
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
}

static json_object *str_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static int do_build(int argc, char **argv) {
        static const struct option options[] = {
                BUILD_LONG_OPTIONS,
                { "base", required_argument, NULL, 'B' },
                { "format", required_argument, NULL, 'F' },
                {},
        };
        _cleanup_(build_args_done) struct build_args a;
        build_args_init(&a);
        struct ingot_sysext_options so = { .format = INGOT_LAYER_DDI };
        int c, u;
        optind = 1;
        while ((c = getopt_long(argc, argv, BUILD_SHORT_OPTIONS, options, NULL)) >= 0) {
                if (c == 'B')
                        so.base_manifest = optarg;
                else if (c == 'F' && (strcmp(optarg, "ddi") == 0 || strcmp(optarg, "raw") == 0))
                        so.format = strcmp(optarg, "ddi") == 0 ? INGOT_LAYER_DDI : INGOT_LAYER_RAW;
                else if (c == 'F')
                        return usage_error("sysext", "--format is ddi or raw, not '%s'", optarg);
                else if ((u = build_args_option(&a, c, optarg, "sysext")) != 0)
                        return u > 0 ? u : usage_error("sysext", "invalid option");
        }
        if (argc - optind != 1)
                return usage_error("sysext", "build: expected exactly one RECIPE");
        if ((u = build_args_finish(&a, "sysext")) != 0)
                return u;
        bool json = a.json, quiet = a.quiet;

        struct ingot_error err = { 0 };
        struct ingot_recipe *recipe = NULL;
        int r = ingot_recipe_load(argv[optind], &recipe, &err);
        if (r < 0)
                return log_lib_error(NULL, r, &err);
        char warning_buf[512];
        const char *warning = build_epoch_warning(&a, argv[optind], recipe, warning_buf, sizeof(warning_buf));
        struct ingot_build_result res = { 0 };
        r = ingot_sysext_build(recipe, &a.options, &so, &res, &err);
        progress_clear(&a.progress);
        double seconds = now_seconds() - a.progress.start;
        if (r < 0) {
                ingot_recipe_free(recipe);
                return log_lib_error(NULL, r, &err);
        }
        bool is_signed = *res.signer_fingerprint != 0;
        if (json) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "layer", json_object_new_string(res.image_path));
                json_object_object_add(o, "format", json_object_new_string(res.ddi ? "ddi" : "raw"));
                json_object_object_add(o, "name", json_object_new_string(ingot_recipe_name(recipe)));
                json_object_object_add(o, "version", json_object_new_string(ingot_recipe_version(recipe)));
                json_object_object_add(o, "root_hash", json_object_new_string(res.root_hash));
                json_object_object_add(o, "roothash", str_or_null(res.roothash_path));
                json_object_object_add(o, "verity", str_or_null(res.verity_path));
                json_object_object_add(o, "signature", str_or_null(res.signature_path));
                json_object_object_add(o, "signed", json_object_new_boolean(is_signed));
                json_object_object_add(o, "signer_fingerprint",
                                       is_signed ? json_object_new_string(res.signer_fingerprint) : NULL);
                json_object_object_add(o, "manifest", str_or_null(res.manifest_path));
                json_object_object_add(o, "blocks", str_or_null(res.blocks_path));
                json_object_object_add(o, "squashfs_size", json_object_new_int64((int64_t) res.image_size));
                json_object_object_add(o, "files", json_object_new_int64((int64_t) res.stats.files));
                json_object_object_add(o, "seconds", json_object_new_double(seconds));
                json_object *w = json_object_new_array();
                if (warning)
                        json_object_array_add(w, json_object_new_string(warning));
                json_object_object_add(o, "warnings", w);
                print_json(o);
        } else if (!quiet)
                printf("%s: %s layer, %llu files, root hash %s, %s\n", res.image_path, res.ddi ? "DDI" : "squashfs",
                       (unsigned long long) res.stats.files, res.root_hash,
                       is_signed ? "signed" : "unsigned: systemd-sysext merges it only without signature policy");
        ingot_build_result_clear(&res);
        ingot_recipe_free(recipe);
        return EXIT_OK;
}

static int do_check(int argc, char **argv) {
        static const struct option options[] = {
                { "base", required_argument, NULL, 'B' },
                { "cert", required_argument, NULL, 'C' },
                { "json", no_argument, NULL, 'J' },
                {},
        };
        const char *base = NULL, *cert = NULL;
        bool json = false;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'B':
                        base = optarg;
                        break;
                case 'C':
                        cert = optarg;
                        break;
                case 'J':
                        json = true;
                        break;
                default:
                        return usage_error("sysext", "invalid option");
                }
        if (argc - optind != 1)
                return usage_error("sysext", "check: expected exactly one LAYER");
        if (!base)
                return usage_error("sysext", "check: --base BASE.manifest.json is required");
        const char *layer = argv[optind];
        struct ingot_error err = { 0 };
        struct ingot_sysext_report rep;
        int r = ingot_sysext_check(layer, base, cert, &rep, &err);
        bool failed = false; /* -EBADMSG is a failed check, or a damaged layer that err describes */
        for (size_t i = 0; i < rep.n_checks; i++)
                failed |= rep.checks[i].state == INGOT_CHECK_FAILED;
        if (r < 0 && (r != -EBADMSG || !failed)) {
                ingot_sysext_report_clear(&rep);
                return log_lib_error(NULL, r, &err);
        }
        if (json) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "layer", json_object_new_string(layer));
                json_object_object_add(o, "base", json_object_new_string(base));
                json_object_object_add(o, "ok", json_object_new_boolean(r >= 0));
                json_object_object_add(o, "release_file",
                                       *rep.release_name ? json_object_new_string(rep.release_name) : NULL);
                json_object *rel = json_object_new_object();
                for (char **l = rep.release; l && *l; l++) {
                        const char *eq = strchr(*l, '=');
                        if (eq) {
                                char key[128];
                                snprintf(key, sizeof(key), "%.*s", (int) (eq - *l), *l);
                                json_object_object_add(rel, key, json_object_new_string(eq + 1));
                        }
                }
                json_object_object_add(o, "release", rel);
                json_object *checks = checks_to_json(rep.checks, rep.n_checks);
                json_object_object_add(o, "checks", checks);
                json_object *sh = json_object_new_array();
                for (char **p = rep.shadowed; p && *p; p++) {
                        bool allowed = strv_contains(rep.shadowed_allowed, *p);
                        json_object *e = json_object_new_object();
                        json_object_object_add(e, "path", json_object_new_string(*p));
                        json_object_object_add(e, "allowed", json_object_new_boolean(allowed));
                        json_object_array_add(sh, e);
                }
                json_object_object_add(o, "shadowed", sh);
                print_json(o);
        } else {
                checks_print(rep.checks, rep.n_checks, 13);
                for (char **p = rep.shadowed; p && *p; p++) {
                        bool allowed = strv_contains(rep.shadowed_allowed, *p);
                        printf("  shadows %s%s\n", *p, allowed ? " (allowed by AllowShadow=)" : "");
                }
        }
        if (r < 0)
                checks_log_failures(layer, rep.checks, rep.n_checks);
        ingot_sysext_report_clear(&rep);
        return r < 0 ? EXIT_FAILURE_ : EXIT_OK;
}

int verb_sysext(int argc, char **argv) {
        if (argc < 2)
                return usage_error("sysext", "expected an action: build, check");
        if (strcmp(argv[1], "build") == 0)
                return do_build(argc - 1, argv + 1);
        if (strcmp(argv[1], "check") == 0)
                return do_check(argc - 1, argv + 1);
        return usage_error("sysext", "unknown action '%s'; actions: build, check", argv[1]);
}
