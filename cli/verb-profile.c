/* verb-profile.c: `ingot profile show|diff|explain`: a host profile resolved with where each value
 * came from, the differences between two, and which of them a running host takes live. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "profile.h"
#include "roothash.h"

void help_profile(FILE *f) {
        fprintf(f,
                "Usage: %s profile ACTION [--json] PROFILE...\n"
                "Host profiles: kernel parameters, huge pages and sysctls (docs/profiles.md).\n\n"
                "  show PROFILE        the resolved profile, each value under the file:line that set it\n"
                "                      (the output is itself a profile that resolves the same)\n"
                "  diff A B            what B sets differently from A, with where each side was set\n"
                "  explain A B         each difference, and whether a running host takes it live or\n"
                "                      only at the next boot; what a reprofile from A to B does\n"
                "  compile PROFILE -o DIR --key KEY --cert CERT [--for IMAGE]...\n"
                "                      DIR/NAME.profile.json (command line fragment, sysctls, run-time huge\n"
                "                      pages, the images it is for) and its detached PKCS#7 signature\n"
                "                      NAME.profile.json.p7s\n\n"
                "  --json              one JSON document instead of text\n"
                "  -o --output DIR     compile: where to write (made if missing)\n"
                "  --key KEY --cert CERT  compile: sign with them; --unsigned to skip signing\n"
                "  --memory SIZE       compile: the hosts' memory; refuse huge pages that do not fit\n"
                "  --kernel-sysctls DIR  compile: refuse sysctls that DIR (a kernel's /proc/sys, e.g. on a\n"
                "                      host running the image's kernel) does not have\n"
                "  --for IMAGE         compile: an image the profile may boot with as a slot's own profile\n"
                "                      (IMAGE.raw, IMAGE.roothash or the root hash); repeatable. A slot\n"
                "                      takes a profile only for its own image (slot install --profile,\n"
                "                      reprofile), and the initrd refuses it with any other\n"
                "  -h --help           show this help\n\n"
                "Kernel parameters the boot owns (ingot.*, initrd=, rdinit=, panic=0) are refused, naming the\n"
                "file:line that set them; init= and root= are compiled with a warning on stderr.\n",
                program_name);
}

static void print_json(json_object *o) {
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
}

/* The profile, its warnings said on stderr. */
static int load(const char *path, struct profile **ret) {
        struct ingot_error err = { 0 };
        int r = profile_load(path, ret, &err);
        if (r < 0)
                return log_lib_error(NULL, r, &err);
        for (char **w = (*ret)->warnings; w && *w; w++)
                log_error("warning: %s", *w);
        return 0;
}

static int do_show(char **files, bool json) {
        _cleanup_(profile_freep) struct profile *p = NULL;
        int r = load(files[0], &p);
        if (r)
                return r;
        if (json) {
                print_json(profile_to_json(p));
                return EXIT_OK;
        }
        _cleanup_free_ char *text = NULL;
        r = profile_to_ini(p, &text);
        if (r < 0)
                return log_lib_error("profile", r, NULL);
        fputs(text, stdout);
        return EXIT_OK;
}

static int do_compile(char **files, const char *outdir, const struct profile_compile_options *o, bool json) {
        _cleanup_(profile_freep) struct profile *p = NULL;
        int r = load(files[0], &p);
        if (r)
                return r;
        struct ingot_error err = { 0 };
        _cleanup_free_ char *path = NULL, *text = NULL;
        r = profile_compile_to(p, outdir, o, &path, &err);
        if (r < 0)
                return log_lib_error(NULL, r, &err);
        r = read_text_file(path, 1 << 20, &text);
        if (r < 0)
                return log_lib_error(NULL, r, &err);
        if (json) {
                json_object *c = json_tokener_parse(text), *res = json_object_new_object();
                json_object_object_add(res, "profile", json_object_new_string(path));
                json_object_object_add(res, "signed", json_object_new_boolean(o->key_path != NULL));
                json_object_object_add(res, "compiled", c);
                print_json(res);
        } else
                printf("%s%s\n%s", path, o->key_path ? " (signed: .p7s beside it)" : " (unsigned)", text);
        return EXIT_OK;
}

static const char *section_of(enum profile_change_kind kind) {
        return kind == CHANGE_PARAM ? "Kernel" : kind == CHANGE_SYSCTL ? "Sysctl" : "HugePages";
}

/* The INI line one side of a change stands for. */
static void change_line(const struct profile_change *c, const char *value, char *out, size_t size) {
        switch (c->kind) {
        case CHANGE_PARAM:
                snprintf(out, size, "Parameters=%s%s%s", c->name, *value ? "=" : "", value);
                break;
        case CHANGE_DEFAULT_PAGE_SIZE:
                snprintf(out, size, "DefaultSize=%s", value);
                break;
        case CHANGE_PAGES: {
                const char *at = strchr(c->name, '@');
                snprintf(out, size, "Pages=%.*s:%s%s", at ? (int) (at - c->name) : (int) strlen(c->name), c->name, value,
                         at ?: "");
                break;
        }
        case CHANGE_SYSCTL:
                snprintf(out, size, "%s=%s", c->name, value);
                break;
        }
}

static json_object *changes_json(const struct profile_change *c, size_t n) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "kind", json_object_new_string(profile_change_kind_name(c[i].kind)));
                json_object_object_add(o, "name", json_object_new_string(c[i].name));
                json_object_object_add(o, "old", c[i].old_value ? json_object_new_string(c[i].old_value) : NULL);
                json_object_object_add(o, "new", c[i].new_value ? json_object_new_string(c[i].new_value) : NULL);
                json_object_object_add(o, "old_where", c[i].old_where ? json_object_new_string(c[i].old_where) : NULL);
                json_object_object_add(o, "new_where", c[i].new_where ? json_object_new_string(c[i].new_where) : NULL);
                json_object_object_add(o, "applies", json_object_new_string(c[i].apply == APPLY_LIVE ? "live" : "reboot"));
                json_object_object_add(o, "why", json_object_new_string(c[i].why));
                json_object_array_add(a, o);
        }
        return a;
}

/* profile_diff's list, for a cleanup. */
struct changes {
        struct profile_change *c;
        size_t n;
};

static void changes_free(struct changes *ch) {
        profile_changes_free(ch->c, ch->n);
}

static int do_compare(char **files, bool json, bool explain) {
        _cleanup_(profile_freep) struct profile *a = NULL, *b = NULL;
        int r = load(files[0], &a);
        if (r)
                return r;
        r = load(files[1], &b);
        if (r)
                return r;
        _cleanup_(changes_free) struct changes ch = { 0 };
        if (profile_diff(a, b, &ch.c, &ch.n) < 0)
                return log_lib_error("profile", -ENOMEM, NULL);
        const struct profile_change *c = ch.c;
        size_t n = ch.n, reboot = 0;
        for (size_t i = 0; i < n; i++)
                reboot += c[i].apply == APPLY_REBOOT;
        if (json) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "from", json_object_new_string(a->path));
                json_object_object_add(o, "to", json_object_new_string(b->path));
                json_object_object_add(o, "changes", changes_json(c, n));
                if (explain) {
                        json_object_object_add(o, "reboot_needed", json_object_new_boolean(reboot > 0));
                        json_object_object_add(o, "live", json_object_new_int64((int64_t) (n - reboot)));
                        json_object_object_add(o, "reboot", json_object_new_int64((int64_t) reboot));
                }
                print_json(o);
        } else if (!explain) {
                const char *section = NULL;
                for (size_t i = 0; i < n; i++) {
                        if (!section || strcmp(section, section_of(c[i].kind)) != 0) {
                                printf("%s[%s]\n", section ? "\n" : "", section_of(c[i].kind));
                                section = section_of(c[i].kind);
                        }
                        char line[512];
                        if (c[i].old_value) {
                                change_line(&c[i], c[i].old_value, line, sizeof(line));
                                printf("-%-40s # %s\n", line, c[i].old_where);
                        }
                        if (c[i].new_value) {
                                change_line(&c[i], c[i].new_value, line, sizeof(line));
                                printf("+%-40s # %s\n", line, c[i].new_where);
                        }
                }
        } else {
                for (size_t i = 0; i < n; i++) {
                        char what[300];
                        snprintf(what, sizeof(what), "%s%s%s", profile_change_kind_name(c[i].kind), *c[i].name ? " " : "",
                                 c[i].name);
                        /* absent huge pages are none; a bare kernel parameter is set without a value */
                        const char *absent = c[i].kind == CHANGE_PAGES ? "0" : "(unset)";
                        printf("%-7s %-40s %s -> %s\n        %s\n", c[i].apply == APPLY_LIVE ? "live" : "reboot", what,
                               c[i].old_value ? (*c[i].old_value ? c[i].old_value : "(set)") : absent,
                               c[i].new_value ? (*c[i].new_value ? c[i].new_value : "(set)") : absent, c[i].why);
                }
                if (n == 0)
                        printf("no differences: a reprofile from %s to %s changes nothing\n", files[0], files[1]);
                else if (reboot)
                        printf("\n%zu change%s need%s a reboot, %zu appl%s live. A reprofile stages %s on the inactive slot "
                               "and boots it on trial: if the host does not mark itself good within its tries, it "
                               "boots the old slot with %s again.\n",
                               reboot, reboot == 1 ? "" : "s", reboot == 1 ? "s" : "", n - reboot,
                               n - reboot == 1 ? "ies" : "y", files[1], files[0]);
                else
                        printf("\nevery change applies live; a reprofile still boots %s on trial, so a value the host "
                               "cannot live with falls back to %s.\n",
                               files[1], files[0]);
        }
        return EXIT_OK;
}

int verb_profile(int argc, char **argv) {
        static const struct {
                const char *name;
                size_t n_files;
        } actions[] = { { "show", 1 }, { "diff", 2 }, { "explain", 2 }, { "compile", 1 } };
        static const struct option options[] = {
                { "json", no_argument, NULL, 'J' },         { "output", required_argument, NULL, 'o' },
                { "key", required_argument, NULL, 'k' },    { "cert", required_argument, NULL, 'c' },
                { "unsigned", no_argument, NULL, 'u' },     { "memory", required_argument, NULL, 'm' },
                { "kernel-sysctls", required_argument, NULL, 's' }, { "for", required_argument, NULL, 'f' }, {},
        };
        if (argc < 2)
                return usage_error("profile", "expected an action: show, diff, explain, compile");
        size_t action = ELEMENTSOF(actions);
        for (size_t i = 0; i < ELEMENTSOF(actions); i++)
                if (strcmp(argv[1], actions[i].name) == 0)
                        action = i;
        if (action == ELEMENTSOF(actions))
                return usage_error("profile", "unknown action '%s'; actions: show, diff, explain, compile", argv[1]);
        bool json = false, compile_opts = false;
        const char *outdir = NULL;
        struct profile_compile_options co = { 0 };
        _cleanup_strv_free_ char **images = NULL;
        int c;
        optind = 1;
        while ((c = getopt_long(argc - 1, argv + 1, "o:", options, NULL)) >= 0) {
                compile_opts |= c != 'J';
                switch (c) {
                case 'J':
                        json = true;
                        break;
                case 'o':
                        outdir = optarg;
                        break;
                case 'k':
                        co.key_path = optarg;
                        break;
                case 'c':
                        co.cert_path = optarg;
                        break;
                case 'u':
                        co.unsigned_ok = true;
                        break;
                case 's':
                        co.kernel_sysctls = optarg;
                        break;
                case 'f': {
                        char hex[ROOT_HASH_MAX + 1];
                        struct ingot_error err = { 0 };
                        int r = root_hash_of(optarg, hex, &err);
                        if (r < 0)
                                return log_lib_error(NULL, r, &err);
                        if (strv_extend(&images, hex) < 0)
                                return log_lib_error("profile", -ENOMEM, NULL);
                        co.images = images;
                        break;
                }
                case 'm':
                        if (parse_size(optarg, &co.memory) < 0 || co.memory == 0)
                                return usage_error("profile", "--memory takes a size like 4G, not '%s'", optarg);
                        break;
                default:
                        return usage_error("profile", "invalid option");
                }
        }
        if ((size_t) (argc - 1 - optind) != actions[action].n_files)
                return usage_error("profile", "%s takes %s", actions[action].name,
                                   actions[action].n_files == 1 ? "one PROFILE" : "two profiles, A and B");
        bool compile = action == 3;
        if (compile_opts && !compile)
                return usage_error("profile", "-o, --key, --cert, --unsigned, --memory, --kernel-sysctls and --for are for compile");
        if (compile && !outdir)
                return usage_error("profile", "compile needs -o DIR");
        if (compile && co.unsigned_ok && co.key_path)
                return usage_error("profile", "--unsigned and --key contradict each other");
        char **files = argv + 1 + optind;
        if (compile)
                return do_compile(files, outdir, &co, json);
        return action == 0 ? do_show(files, json) : do_compare(files, json, action == 2);
}
