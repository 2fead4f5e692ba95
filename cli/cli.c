/* cli.c: what the verbs share (cli.h): messages to the terminal, usage errors and their exit codes,
 * SOURCE_DATE_EPOCH, and the one-argument-plus---json command line. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char *program_name = "ingot";

void log_error(const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "%s: ", program_name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

int log_lib_error(const char *prefix, int code, const struct ingot_error *err) {
        const char *msg = err && err->code ? err->message : strerror(-code);
        if (prefix)
                log_error("%s: %s", prefix, msg);
        else
                log_error("%s", msg);
        return code == -ECANCELED ? EXIT_INTERRUPTED : EXIT_FAILURE_;
}

int source_date_epoch(const char *verb, bool *ret_have, int64_t *ret) {
        const char *sde = getenv("SOURCE_DATE_EPOCH");
        *ret_have = sde && *sde;
        if (!*ret_have)
                return 0;
        char *end;
        errno = 0;
        long long v = strtoll(sde, &end, 10);
        if (errno || *end || v < 0 || v > UINT32_MAX)
                return usage_error(verb, "SOURCE_DATE_EPOCH='%s' is not seconds since 1970", sde);
        *ret = v;
        return 0;
}

int usage_error(const char *verb, const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "%s: ", program_name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry '%s %s%s--help'.\n", program_name, verb ?: "", verb ? " " : "");
        return EXIT_USAGE;
}

int parse_one_arg_json(int argc, char **argv, const char *verb, const char *what, const char **ret_arg,
                       bool *ret_json) {
        static const struct option options[] = {
                { "json", no_argument, NULL, 'J' },
                {},
        };
        int c;
        *ret_json = false;
        optind = 1;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                if (c != 'J')
                        return usage_error(verb, "invalid option");
                *ret_json = true;
        }
        if (argc - optind != 1)
                return usage_error(verb, "expected exactly one %s", what);
        *ret_arg = argv[optind];
        return 0;
}
