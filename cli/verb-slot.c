/* verb-slot.c: `ingot slot ACTION [--disk DISK]`: status, install, switch, mark-good, mark-bad,
 * rollback, next and verify on a disk image or block device; one table of actions. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util.h"

void help_slot(FILE *f) {
        fprintf(f,
                "Usage: %s slot ACTION [ARGS] [--disk DISK]\n"
                "Install images into A/B slots and choose which boots, on a disk image or a block device.\n"
                "State lives in the root partitions' GPT attribute bits; every change is one GPT write.\n\n"
                "Actions:\n"
                "  status [--json]          each slot's state, version, root hash and signer; booted, next, why\n"
                "  next                     one line: the slot that boots next and why\n"
                "  install IMAGE.raw        write a signed image into the inactive slot and make it next\n"
                "      [--slot a|b] [--tries N] [--cert CERT]... [--allow-downgrade]\n"
                "      [--profile NAME.profile.json]  the slot's own host profile (ingot profile compile)\n"
                "  install URL              the same from a release `ingot publish` wrote, served over HTTP(S):\n"
                "      [--version V] [--cacert FILE] [--capath DIR] [--retries N] [--full] [--json]\n"
                "                           the newest version the version floor allows (or V), written\n"
                "                           into the slot as it is checked: the blocks the disk's slots\n"
                "                           hold taken from them, the rest fetched (all with --full, or\n"
                "                           when the release has no block index); --json: events per line\n"
                "  switch a|b [--tries N]   make a slot next, on trial with N tries (default 3)\n"
                "  mark-good [a|b]          the slot (default: the booted one) works: keep it\n"
                "  mark-bad a|b             never boot the slot again until it is reinstalled or switched to\n"
                "  rollback                 make the other good slot next\n"
                "  verify [a|b] [--cert CERT]... [--json]\n"
                "                           check installed slots (default: every one) in place: every data\n"
                "                           block against the hash tree, the root hash, the signature, the\n"
                "                           version and the slot's own profile; exit 1 if a check fails\n\n"
                "Options:\n"
                "  --disk DISK     image file or block device (default: the disk the booted slot is on)\n"
                "  --cert CERT     trusted signing certificate; repeatable (default: %s/*.crt\n"
                "                  of the running image)\n"
                "  --wait SECONDS  how long to wait for another ingot call on the disk (default 5)\n"
                "  --cacert FILE   CA certificates for HTTPS (default: $CURL_CA_BUNDLE, $SSL_CERT_FILE,\n"
                "                  libcurl's bundle); proxies come from http_proxy, HTTPS_PROXY, NO_PROXY\n"
                "  --retries N     tries of a transfer that makes no progress (default 5, backoff from 0.5 s)\n"
                "  --full          fetch the whole image, taking nothing from the disk's slots\n"
                "  -h --help       show this help\n\n"
                "The booted slot comes from the initrd's record, $INGOT_RUNTIME_DIR/booted\n"
                "(default /run/ingot/booted); the running slot is never written.\n",
                program_name, TRUSTED_DIR);
}

struct args {
        struct ingot_slot_options slot;
        const char *positional[2];
        int n_positional;
        bool json, allow_downgrade;
        unsigned tries;
        char slot_name;
        char **certs;
        const char *profile;
        const char *version;
        struct delivery delivery;
};

static int parse_slot_name(const char *s, char *ret) {
        if (!s || (strcmp(s, "a") != 0 && strcmp(s, "b") != 0))
                return usage_error("slot", "'%s' is not a slot; slots are a and b", s ?: "");
        *ret = s[0];
        return 0;
}

static int parse_args(int argc, char **argv, struct args *a) {
        static const struct option options[] = {
                { "disk", required_argument, NULL, 'd' },  { "json", no_argument, NULL, 'J' },
                { "slot", required_argument, NULL, 's' },  { "tries", required_argument, NULL, 't' },
                { "cert", required_argument, NULL, 'c' },  { "allow-downgrade", no_argument, NULL, 'D' },
                { "wait", required_argument, NULL, 'w' },  { "version", required_argument, NULL, 'V' },
                { "cacert", required_argument, NULL, 'A' }, { "capath", required_argument, NULL, 'P' },
                { "retries", required_argument, NULL, 'R' }, { "profile", required_argument, NULL, 'p' },
                { "full", no_argument, NULL, 'F' },          {},
        };
        int c;
        uint64_t v;
        optind = 1;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'd':
                        a->slot.disk = optarg;
                        break;
                case 'J':
                        a->json = true;
                        break;
                case 's':
                        if (parse_slot_name(optarg, &a->slot_name) != 0)
                                return EXIT_USAGE;
                        break;
                case 't':
                        if (parse_uint(optarg, 15, &v) < 0 || v == 0)
                                return usage_error("slot", "--tries takes 1 to 15, not '%s'", optarg);
                        a->tries = (unsigned) v;
                        break;
                case 'c':
                        if (strv_extend(&a->certs, optarg) < 0)
                                return EXIT_FAILURE_;
                        break;
                case 'D':
                        a->allow_downgrade = true;
                        break;
                case 'p':
                        a->profile = optarg;
                        break;
                case 'w':
                        if (parse_uint(optarg, 3600, &v) < 0)
                                return usage_error("slot", "--wait takes seconds, not '%s'", optarg);
                        a->slot.lock_wait_ms = v ? (unsigned) v * 1000 : 1;
                        break;
                case 'V':
                        a->version = optarg;
                        break;
                case 'A':
                        a->delivery.cacert = optarg;
                        break;
                case 'P':
                        a->delivery.capath = optarg;
                        break;
                case 'R':
                        if (parse_uint(optarg, 100, &v) < 0 || v == 0)
                                return usage_error("slot", "--retries takes 1 to 100, not '%s'", optarg);
                        a->delivery.attempts = (unsigned) v;
                        break;
                case 'F':
                        a->delivery.full = true;
                        break;
                default:
                        return usage_error("slot", "invalid option");
                }
        for (int i = optind; i < argc; i++) {
                if (a->n_positional == 2)
                        return usage_error("slot", "unexpected argument '%s'", argv[i]);
                a->positional[a->n_positional++] = argv[i];
        }
        a->slot.runtime_dir = getenv("INGOT_RUNTIME_DIR");
        return 0;
}

static json_object *str_or_null(const char *s) {
        return s && *s ? json_object_new_string(s) : NULL;
}

static json_object *slot_name_json(char c) {
        char s[2] = { c, 0 };
        return c ? json_object_new_string(s) : NULL;
}

static void print_status(const struct ingot_slot_status *st, bool json) {
        if (json) {
                json_object *o = json_object_new_object(), *slots = json_object_new_array();
                for (int i = 0; i < 2; i++) {
                        const struct ingot_slot_info *s = &st->slots[i];
                        json_object *x = json_object_new_object();
                        json_object_object_add(x, "name", slot_name_json(s->name));
                        json_object_object_add(x, "state", json_object_new_string(s->state));
                        json_object_object_add(x, "failure", str_or_null(s->failure));
                        json_object_object_add(x, "failure_text", str_or_null(s->failure_text));
                        json_object_object_add(x, "priority", json_object_new_int((int) s->priority));
                        json_object_object_add(x, "tries", json_object_new_int((int) s->tries));
                        json_object_object_add(x, "successful", json_object_new_boolean(s->successful));
                        json_object_object_add(x, "version", str_or_null(s->version));
                        json_object_object_add(x, "root_hash", str_or_null(s->root_hash));
                        json_object_object_add(x, "signer", str_or_null(s->signer));
                        json_object_object_add(x, "image_id", str_or_null(s->image_id));
                        json_object_object_add(x, "size", json_object_new_int64((int64_t) s->size));
                        json_object_object_add(x, "profile", str_or_null(s->profile));
                        json_object_object_add(x, "profile_source", str_or_null(s->profile_source));
                        json_object_object_add(x, "unreadable", str_or_null(s->unreadable));
                        json_object_object_add(x, "unverified", str_or_null(s->unverified));
                        json_object_array_add(slots, x);
                }
                json_object_object_add(o, "slots", slots);
                json_object_object_add(o, "booted", slot_name_json(st->booted));
                json_object_object_add(o, "next", slot_name_json(st->next));
                json_object_object_add(o, "reason", json_object_new_string(st->reason));
                json_object_object_add(o, "disk_uuid", json_object_new_string(st->disk_uuid));
                json_object_object_add(o, "warning", str_or_null(st->warning));
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
                return;
        }
        printf("SLOT STATE      PRIO TRIES VERSION          ROOT HASH         SIGNER            PROFILE\n");
        for (int i = 0; i < 2; i++) {
                const struct ingot_slot_info *s = &st->slots[i];
                char profile[80];
                snprintf(profile, sizeof(profile), "%s%s%s%s", *s->profile ? s->profile : "-",
                         s->profile_source ? " (" : "", s->profile_source ?: "", s->profile_source ? ")" : "");
                printf("%c%c   %-10s %4u %5u %-16s %-17.16s %-17.16s %s\n", s->name, s->name == st->booted ? '*' : ' ',
                       s->state, s->priority, s->tries, *s->version ? s->version : "-",
                       *s->root_hash ? s->root_hash : "-", *s->signer ? s->signer : "-", profile);
        }
        for (int i = 0; i < 2; i++) {
                if (*st->slots[i].unreadable)
                        printf("%c is unreadable: %s\n", st->slots[i].name, st->slots[i].unreadable);
                if (*st->slots[i].unverified)
                        printf("%c: its version and profile were not read: %s\n", st->slots[i].name,
                               st->slots[i].unverified);
        }
        printf("booted: %s\n", st->booted ? (char[]) { st->booted, 0 } : "unknown (not booted from this disk)");
        printf("next:   %s\n", st->reason);
}

/* The disk's status, its warning (a GPT read from the backup) said on stderr. */
static int get_status(struct args *a, const char *action, struct ingot_slot_status *st) {
        if (a->n_positional)
                return usage_error("slot", "%s takes no argument", action);
        struct ingot_error err = { 0 };
        int r = ingot_slot_status(&a->slot, st, &err);
        if (r < 0)
                return log_lib_error(NULL, r, &err);
        if (*st->warning)
                log_error("warning: %s", st->warning);
        return 0;
}

static int do_status(struct args *a) {
        struct ingot_slot_status st;
        int r = get_status(a, "status", &st);
        if (r != 0)
                return r;
        print_status(&st, a->json);
        return EXIT_OK;
}

static int do_next(struct args *a) {
        struct ingot_slot_status st;
        int r = get_status(a, "next", &st);
        if (r != 0)
                return r;
        printf("%s: %s\n", st.next ? (char[]) { st.next, 0 } : "none", st.reason);
        return st.next ? EXIT_OK : EXIT_FAILURE_;
}

/* ok: no check of any slot failed. */
static void print_verify(const struct ingot_slot_verify_report *reps, size_t n, const char *disk, bool ok, bool json) {
        if (!json) {
                for (size_t i = 0; i < n; i++) {
                        printf("%sslot %c\n", i ? "\n" : "", reps[i].slot);
                        checks_print(reps[i].report.checks, reps[i].report.n_checks, 10);
                }
                return;
        }
        json_object *o = json_object_new_object(), *slots = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
                json_object *x = json_object_new_object();
                json_object_object_add(x, "slot", slot_name_json(reps[i].slot));
                verify_report_json_add(x, &reps[i].report);
                json_object_object_add(x, "image_id", str_or_null(reps[i].image_id));
                json_object_object_add(x, "version", str_or_null(reps[i].version));
                json_object_array_add(slots, x);
        }
        json_object_object_add(o, "disk", str_or_null(disk));
        json_object_object_add(o, "ok", json_object_new_boolean(ok));
        json_object_object_add(o, "slots", slots);
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
}

static int do_verify(struct args *a) {
        char slot = 0;
        if (a->n_positional > 1)
                return usage_error("slot", "verify takes at most a slot: a or b");
        if (a->n_positional && parse_slot_name(a->positional[0], &slot) != 0)
                return EXIT_USAGE;
        int q = load_trusted_certs(&a->certs);
        if (q != 0)
                return q;
        struct progress_state ps = { .start = now_seconds() };
        struct ingot_slot_verify_report reps[2];
        size_t n = 0;
        struct ingot_error err = { 0 };
        int r = ingot_slot_verify(&a->slot, slot, a->certs, isatty(STDERR_FILENO) ? progress_draw_bytes : NULL, &ps,
                                  reps, &n, &err);
        progress_clear(&ps);
        if (r < 0 && r != -EBADMSG)
                return log_lib_error(NULL, r, &err);
        print_verify(reps, n, a->slot.disk, r >= 0, a->json);
        if (r < 0) {
                for (size_t i = 0; i < n; i++) {
                        char name[8];
                        snprintf(name, sizeof(name), "slot %c", reps[i].slot);
                        checks_log_failures(name, reps[i].report.checks, reps[i].report.n_checks);
                }
                return EXIT_FAILURE_;
        }
        return EXIT_OK;
}

static bool is_url(const char *s) {
        return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

static int do_install_url(struct args *a, struct ingot_install_options *io) {
        struct ingot_fetch_options fo = { .version = a->version };
        a->delivery.json = a->json;
        delivery_setup(&a->delivery, &fo, io);
        struct ingot_error err = { 0 };
        struct ingot_fetch_result res;
        int r = ingot_slot_install_url(&a->slot, a->positional[0], io, &fo, &res, &err);
        progress_clear(&a->delivery.progress);
        if (r < 0)
                return delivery_error(&a->delivery, r, &err);
        if (a->json) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "event", json_object_new_string("result"));
                json_object_object_add(o, "installed", json_object_new_boolean(true));
                json_object_object_add(o, "slot", slot_name_json(res.slot));
                json_object_object_add(o, "version", json_object_new_string(res.version));
                json_object_object_add(o, "root_hash", json_object_new_string(res.root_hash));
                json_object_object_add(o, "reused", json_object_new_int64((int64_t) res.reused));
                json_object_object_add(o, "fetched", json_object_new_int64((int64_t) res.fetched));
                delivery_print(&a->delivery, o);
        } else
                printf("installed %s from %s into slot %c (%.1f MiB fetched, %.1f MiB from the disk); it boots next, "
                       "on trial with %u tries\n",
                       res.version, a->positional[0], res.slot, res.fetched / 1048576.0, res.reused / 1048576.0,
                       a->tries ? a->tries : 3);
        return EXIT_OK;
}

static int do_install(struct args *a) {
        if (a->n_positional != 1)
                return usage_error("slot", "install takes one IMAGE.raw or URL");
        bool url = is_url(a->positional[0]);
        if (!url && (a->version || a->delivery.cacert || a->delivery.capath || a->delivery.attempts || a->delivery.full))
                return usage_error("slot", "--version, --cacert, --capath, --retries and --full are for installs from a URL");
        int q = load_trusted_certs(&a->certs);
        if (q != 0)
                return q;
        struct progress_state ps = { .start = now_seconds() };
        struct ingot_install_options io = {
                .slot = a->slot_name, .tries = a->tries, .trusted_certs = a->certs,
                .allow_downgrade = a->allow_downgrade, .profile = a->profile,
                .progress = isatty(STDERR_FILENO) ? progress_draw_bytes : NULL, .userdata = &ps,
        };
        if (url)
                return do_install_url(a, &io);
        struct ingot_error err = { 0 };
        char slot = 0;
        int r = ingot_slot_install(&a->slot, a->positional[0], &io, &slot, &err);
        progress_clear(&ps);
        if (r < 0)
                return log_lib_error(NULL, r, &err);
        printf("installed %s into slot %c; it boots next, on trial with %u tries\n", a->positional[0], slot,
               a->tries ? a->tries : 3);
        return EXIT_OK;
}

void help_reprofile(FILE *f) {
        fprintf(f,
                "Usage: %s reprofile [DISK] NAME.profile.json [--tries N] [--cert CERT]...\n"
                "Change a host's profile as a slot switch: copy the booted slot (on a disk not booted from: the\n"
                "slot that boots next) into the other slot with the profile as that slot's own, and make it\n"
                "boot next on trial. A host that does not come up healthy with it falls back to the old slot\n"
                "and the old profile when its tries run out. The profile is what `%s profile compile` signs;\n"
                "`%s profile explain OLD NEW` tells what the change does. A profile with kernel parameters\n"
                "is refused for an image without a kernel and initrd to restart into with them.\n\n"
                "Options:\n"
                "  --tries N       boot tries of the reprofiled slot (default 3)\n"
                "  --cert CERT     trusted signing certificate, for the image and the profile; repeatable\n"
                "                  (default: %s/*.crt of the running image)\n"
                "  --wait SECONDS  how long to wait for another ingot call on the disk (default 5)\n"
                "  -h --help       show this help\n\n"
                "DISK: an image file or block device (default: the disk the booted slot is on).\n",
                program_name, program_name, program_name, TRUSTED_DIR);
}

static int do_reprofile(struct args *a) {
        if (a->n_positional < 1 || a->n_positional > 2 || a->slot_name || a->profile || a->allow_downgrade)
                return usage_error("reprofile", "expected [DISK] NAME.profile.json");
        if (a->n_positional == 2)
                a->slot.disk = a->positional[0];
        const char *profile = a->positional[a->n_positional - 1];
        int q = load_trusted_certs(&a->certs);
        if (q != 0)
                return q;
        struct progress_state ps = { .start = now_seconds() };
        struct ingot_error err = { 0 };
        char slot = 0;
        int r = ingot_slot_reprofile(&a->slot, profile, a->certs, a->tries,
                                     isatty(STDERR_FILENO) ? progress_draw_bytes : NULL, &ps, &slot, &err);
        progress_clear(&ps);
        if (r < 0)
                return log_lib_error(NULL, r, &err);
        printf("slot %c now holds the booted image with profile %s; it boots next, on trial with %u tries\n", slot,
               profile, a->tries ? a->tries : 3);
        return EXIT_OK;
}

int verb_reprofile(int argc, char **argv) {
        struct args a = { .slot = { 0 } };
        int r = parse_args(argc, argv, &a);
        if (r == 0)
                r = do_reprofile(&a);
        strv_free(a.certs);
        return r;
}

static int do_change(struct args *a, enum ingot_slot_action action, const char *verb) {
        bool wants_slot = action == INGOT_SLOT_SWITCH || action == INGOT_SLOT_MARK_BAD;
        bool may_slot = action == INGOT_SLOT_MARK_GOOD;
        char slot = 0;
        if ((wants_slot && a->n_positional != 1) || (!wants_slot && !may_slot && a->n_positional) ||
            a->n_positional > 1)
                return usage_error("slot", wants_slot ? "%s takes a slot: a or b" : "%s takes %s", verb,
                                   may_slot ? "at most a slot" : "no argument");
        if (a->n_positional && parse_slot_name(a->positional[0], &slot) != 0)
                return EXIT_USAGE;
        struct ingot_error err = { 0 };
        char changed = 0;
        int r = ingot_slot_change(&a->slot, action, slot, a->tries, &changed, &err);
        if (r < 0)
                return log_lib_error(NULL, r, &err);
        switch (action) {
        case INGOT_SLOT_SWITCH:
                printf("slot %c boots next, on trial with %u tries\n", changed, a->tries ? a->tries : 3);
                break;
        case INGOT_SLOT_ROLLBACK:
                printf("rolled back: slot %c boots next\n", changed);
                break;
        case INGOT_SLOT_MARK_GOOD:
                printf("slot %c marked good\n", changed);
                break;
        case INGOT_SLOT_MARK_BAD:
        case INGOT_SLOT_FAILED_INITRD:
        case INGOT_SLOT_FAILED_CORRUPTED:
                printf("slot %c marked bad\n", changed);
                break;
        }
        return EXIT_OK;
}

static int do_switch(struct args *a) {
        return do_change(a, INGOT_SLOT_SWITCH, "switch");
}
static int do_mark_good(struct args *a) {
        return do_change(a, INGOT_SLOT_MARK_GOOD, "mark-good");
}
static int do_mark_bad(struct args *a) {
        return do_change(a, INGOT_SLOT_MARK_BAD, "mark-bad");
}
static int do_rollback(struct args *a) {
        return do_change(a, INGOT_SLOT_ROLLBACK, "rollback");
}

static const struct {
        const char *name;
        int (*run)(struct args *a);
} actions[] = {
        { "status", do_status },     { "next", do_next },       { "install", do_install },   { "switch", do_switch },
        { "mark-good", do_mark_good }, { "mark-bad", do_mark_bad }, { "rollback", do_rollback },
        { "verify", do_verify },
};

int verb_slot(int argc, char **argv) {
        if (argc < 2)
                return usage_error("slot", "expected an action: status, next, install, switch, mark-good, mark-bad, rollback, "
                                           "verify");
        int (*run)(struct args *) = NULL;
        for (size_t i = 0; i < ELEMENTSOF(actions); i++)
                if (strcmp(argv[1], actions[i].name) == 0)
                        run = actions[i].run;
        if (!run)
                return usage_error("slot", "unknown action '%s'", argv[1]);
        struct args a = { .slot = { 0 } };
        int r = parse_args(argc - 1, argv + 1, &a);
        if (r == 0)
                r = run(&a);
        strv_free(a.certs);
        return r;
}
