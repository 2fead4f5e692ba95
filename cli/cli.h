/* cli.h: the ingot command line's shared pieces: the verb signature, messages to the terminal,
 * and the exit codes. Only this layer prints or exits; libingot returns errors. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "ingot.h"

enum {
        EXIT_OK = 0,
        EXIT_FAILURE_ = 1, /* the work failed */
        EXIT_USAGE = 2,    /* bad command line */
        EXIT_INTERRUPTED = 130,
};

struct verb {
        const char *name;
        const char *args;
        const char *summary;
        int (*run)(int argc, char **argv);
        void (*help)(FILE *f);
};

extern const char *program_name;

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints err's message (or strerror of code) after prefix and returns the exit code for it. */
int log_lib_error(const char *prefix, int code, const struct ingot_error *err);
/* Prints "Try 'ingot VERB --help'." for usage errors and returns EXIT_USAGE. */
int usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* SOURCE_DATE_EPOCH, when set and not empty, into *ret (*ret_have true): 0, or the usage error's exit code
 * when it is not seconds since 1970. */
int source_date_epoch(const char *verb, bool *ret_have, int64_t *ret);

/* For verbs that take one argument and --json: parses both, or returns a usage error (> 0). */
int parse_one_arg_json(int argc, char **argv, const char *verb, const char *what, const char **ret_arg,
                       bool *ret_json);

/* A progress line on stderr (progress.c). */
struct progress_state {
        double start, last;
        bool shown; /* a line was drawn on stderr (a terminal): progress_clear() clears it, nothing else does */
};
double now_seconds(void);
/* Whether to redraw now: at most five times a second, and always for the final state. */
bool progress_due(struct progress_state *s, bool final);
void progress_clear(struct progress_state *s);
/* "data 12.0 / 100.0 MiB 50.0 MiB/s" for a progress callback; userdata is a struct progress_state. */
void progress_draw_bytes(const struct ingot_progress *p, void *userdata);

/* Network installs (delivery.c): the options the verbs share, events as text or JSON lines. */
#define TRUSTED_DIR "/usr/lib/ingot/trusted.d"
struct json_object;
struct delivery {
        bool json, tty;
        const char *cacert, *capath;
        unsigned attempts;
        bool full; /* --full */
        struct progress_state progress;
};
/* --cert's certificates, or TRUSTED_DIR's; a usage error (> 0) when there are none. */
int load_trusted_certs(char ***certs);
void delivery_setup(struct delivery *d, struct ingot_fetch_options *fo, struct ingot_install_options *io);
/* Prints one JSON object on a line of stdout and frees it. */
void delivery_print(struct delivery *d, struct json_object *o);
/* The error on stderr (and as an "error" event with --json); returns the exit code. */
int delivery_error(struct delivery *d, int code, const struct ingot_error *err);

/* The options `build` and `sysext build` share: -o, -j, -q, --json, --key, --cert, --unsigned, --reuse. */
#define BUILD_LONG_OPTIONS                                                                          \
        { "output", required_argument, NULL, 'o' }, { "jobs", required_argument, NULL, 'j' },      \
                { "json", no_argument, NULL, 'J' }, { "quiet", no_argument, NULL, 'q' },           \
                { "key", required_argument, NULL, 'K' }, { "cert", required_argument, NULL, 'C' }, \
                { "unsigned", no_argument, NULL, 'U' }, { "reuse", required_argument, NULL, 'R' }
#define BUILD_SHORT_OPTIONS "o:j:q"
struct build_args {
        struct ingot_build_options options;
        bool json, quiet;
        struct progress_state progress;
        char **reuse; /* --reuse's arguments (argv's strings), NULL-terminated */
        size_t n_reuse;
};
void build_args_init(struct build_args *a);
void build_args_done(struct build_args *a);
/* One option getopt_long returned: 0 taken, -1 not one of these, or the usage error's exit code. */
int build_args_option(struct build_args *a, int c, const char *arg, const char *verb);
/* After the options: --key with --cert, SOURCE_DATE_EPOCH, SIGINT/SIGTERM cancel the build, progress
 * on a terminal. 0 or the usage error's exit code. */
int build_args_finish(struct build_args *a, const char *verb);
/* When neither the recipe's SourceDateEpoch= nor SOURCE_DATE_EPOCH sets an epoch: the warning, said on
 * stderr at once and returned (in buf) for the JSON result; NULL otherwise. */
const char *build_epoch_warning(const struct build_args *a, const char *recipe_path,
                                const struct ingot_recipe *recipe, char *buf, size_t size);

/* The report of independent checks (verify, sysext check): as "NAME STATE MESSAGE" lines, as a JSON
 * array, and each failure on stderr under the image's name. */
void checks_print(const struct ingot_check *checks, size_t n, int width);
struct json_object *checks_to_json(const struct ingot_check *checks, size_t n);
void checks_log_failures(const char *image, const struct ingot_check *checks, size_t n);
/* A verify report's "ok" (no check failed), "root_hash", "signer_fingerprint", "trusted" and "checks",
 * added to o. */
void verify_report_json_add(struct json_object *o, const struct ingot_verify_report *rep);

int verb_build(int argc, char **argv);
void help_build(FILE *f);
int verb_keygen(int argc, char **argv);
void help_keygen(FILE *f);
int verb_plan(int argc, char **argv);
int verb_verify(int argc, char **argv);
int verb_inspect(int argc, char **argv);
int verb_verity(int argc, char **argv);
void help_verity(FILE *f);
void help_inspect(FILE *f);
void help_verify(FILE *f);
void help_plan(FILE *f);
int verb_disk(int argc, char **argv);
void help_disk(FILE *f);
int verb_slot(int argc, char **argv);
int verb_reprofile(int argc, char **argv);
int verb_initrd(int argc, char **argv);
void help_initrd(FILE *f);
int verb_vm(int argc, char **argv);
void help_vm(FILE *f);
int verb_profile(int argc, char **argv);
void help_profile(FILE *f);
void help_slot(FILE *f);
void help_reprofile(FILE *f);
int verb_sysext(int argc, char **argv);
void help_sysext(FILE *f);
int verb_publish(int argc, char **argv);
void help_publish(FILE *f);
int verb_update(int argc, char **argv);
void help_update(FILE *f);
