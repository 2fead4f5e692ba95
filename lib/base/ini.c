/* ini.c: systemd unit-file syntax reader with Include= and drop-in directories. */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include "ini.h"

#define INCLUDE_DEPTH_MAX 16

struct include_stack {
        const char *files[INCLUDE_DEPTH_MAX];
        unsigned depth;
};

static int parse_file(const char *path, ini_handler_t handler, void *userdata, struct include_stack *stack,
                      struct ingot_error *err);

static int do_include(const char *file, unsigned line, const char *value, ini_handler_t handler,
                      void *userdata, struct include_stack *stack, struct ingot_error *err) {
        if (!*value)
                return error_set(err, -EINVAL, "%s:%u: Include= needs a file name", file, line);

        _cleanup_free_ char *dir = dirname_dup(file);
        _cleanup_free_ char *target = value[0] == '/' ? strdup(value) : path_join(dir, value);
        if (!dir || !target)
                return -ENOMEM;

        /* Compare by identity, not by name, so "a/../b.ini" and "b.ini" are one file. */
        struct stat st;
        if (stat(target, &st) < 0)
                return error_set(err, -errno, "%s:%u: cannot include '%s': %s", file, line, target,
                                 strerror(errno));
        for (unsigned i = 0; i < stack->depth; i++) {
                struct stat other;
                if (stat(stack->files[i], &other) == 0 && other.st_dev == st.st_dev &&
                    other.st_ino == st.st_ino)
                        return error_set(err, -ELOOP, "%s:%u: include loop: '%s' is already being read", file,
                                         line, target);
        }
        if (stack->depth >= INCLUDE_DEPTH_MAX)
                return error_set(err, -ELOOP, "%s:%u: includes nested deeper than %d", file, line,
                                 INCLUDE_DEPTH_MAX);
        return parse_file(target, handler, userdata, stack, err);
}

/* One logical line l (continued lines joined, stripped) at path:at: blank, a [Section] header (the new
 * *section), or Key=Value in the current section, where Include= is read in place. */
static int parse_line(char *l, const char *path, unsigned at, char **section, ini_handler_t handler, void *userdata,
                      struct include_stack *stack, struct ingot_error *err) {
        if (!*l)
                return 0;

        if (*l == '[') {
                char *end = strchr(l, ']');
                if (!end || end[1] || end == l + 1)
                        return error_set(err, -EINVAL, "%s:%u: malformed section header '%s'", path, at, l);
                *end = 0;
                free(*section);
                *section = strdup(l + 1);
                if (!*section)
                        return -ENOMEM;
                return handler(&(struct ini_event) { .type = INI_SECTION, .file = path, .line = at,
                                                     .section = *section },
                               userdata, err);
        }

        char *eq = strchr(l, '=');
        if (!eq)
                return error_set(err, -EINVAL, "%s:%u: expected Key=Value or [Section], got '%s'", path, at, l);
        *eq = 0;
        char *key = strstrip(l), *value = strstrip(eq + 1);
        if (!*key)
                return error_set(err, -EINVAL, "%s:%u: assignment without a key", path, at);

        if (strcmp(key, "Include") == 0)
                return do_include(path, at, value, handler, userdata, stack, err);
        if (!*section)
                return error_set(err, -EINVAL, "%s:%u: '%s=' outside of any [Section]", path, at, key);
        return handler(&(struct ini_event) { .type = INI_ASSIGNMENT, .file = path, .line = at, .section = *section,
                                             .key = key, .value = value },
                       userdata, err);
}

/* The events of f, the open file path, which is on top of the include stack. */
static int parse_lines(FILE *f, const char *path, ini_handler_t handler, void *userdata, struct include_stack *stack,
                       struct ingot_error *err) {
        int r = handler(&(struct ini_event) { .type = INI_FILE, .file = path }, userdata, err);
        if (r < 0)
                return r;

        _cleanup_free_ char *section = NULL, *buf = NULL, *joined = NULL;
        size_t bufsize = 0;
        unsigned lineno = 0, start_line = 0;
        ssize_t n;
        while ((n = getline(&buf, &bufsize, f)) >= 0) {
                lineno++;
                if (strlen(buf) != (size_t) n)
                        return error_set(err, -EINVAL, "%s:%u: line contains a NUL byte", path, lineno);
                char *l = strstrip(buf);

                /* Comment lines are dropped, even inside a continuation, as systemd does. */
                if (*l == '#' || *l == ';')
                        continue;

                size_t len = strlen(l);
                bool cont = len > 0 && l[len - 1] == '\\';
                if (cont) {
                        l[--len] = 0;
                        l = strstrip(l);
                }

                if (joined || cont) {
                        char *j;
                        if (asprintf(&j, "%s%s%s", joined ?: "", joined && *l ? " " : "", l) < 0)
                                return -ENOMEM;
                        free(joined);
                        joined = j;
                        if (!start_line)
                                start_line = lineno;
                        if (cont)
                                continue;
                        l = strstrip(joined);
                }
                unsigned at = start_line ?: lineno;
                start_line = 0;

                r = parse_line(l, path, at, &section, handler, userdata, stack, err);
                if (r < 0)
                        return r;
                free(joined); /* l may point into it: only now */
                joined = NULL;
        }
        if (ferror(f))
                return error_set(err, -EIO, "%s: read error", path);
        if (joined)
                return error_set(err, -EINVAL, "%s:%u: file ends inside a continued line", path, lineno);
        return 0;
}

static int parse_file(const char *path, ini_handler_t handler, void *userdata, struct include_stack *stack,
                      struct ingot_error *err) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return error_set(err, -errno, "%s: %s", path, strerror(errno));

        /* on the stack while it is read, for do_include's loop check; off again however it ends */
        stack->files[stack->depth++] = path;
        int r = parse_lines(f, path, handler, userdata, stack, err);
        stack->depth--;
        return r;
}

static int compare_names(const struct dirent **a, const struct dirent **b) {
        /* Plain byte order, not the locale's: drop-ins apply in the same order everywhere. */
        return strcmp((*a)->d_name, (*b)->d_name);
}

static int filter_conf(const struct dirent *de) {
        size_t n = strlen(de->d_name);
        return de->d_name[0] != '.' && n > 5 && strcmp(de->d_name + n - 5, ".conf") == 0;
}

int ini_parse(const char *path, ini_handler_t handler, void *userdata, struct ingot_error *err) {
        struct include_stack stack = { .depth = 0 };
        int r = parse_file(path, handler, userdata, &stack, err);
        if (r < 0)
                return r;

        _cleanup_free_ char *dropin_dir = NULL;
        if (asprintf(&dropin_dir, "%s.d", path) < 0)
                return -ENOMEM;
        _cleanup_(dirent_list_done) struct dirent_list list = { 0 };
        list.n = scandir(dropin_dir, &list.names, filter_conf, compare_names);
        if (list.n < 0)
                return errno == ENOENT || errno == ENOTDIR
                               ? 0
                               : error_set(err, -errno, "%s: %s", dropin_dir, strerror(errno));
        for (int i = 0; i < list.n; i++) {
                _cleanup_free_ char *p = path_join(dropin_dir, list.names[i]->d_name);
                if (!p)
                        return -ENOMEM;
                r = parse_file(p, handler, userdata, &stack, err);
                if (r < 0)
                        return r;
        }
        return 0;
}
