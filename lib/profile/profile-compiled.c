/* profile-compiled.c: a host profile's compiled form (see profile.h): the canonical JSON a signature
 * covers and a booting host applies, read back and checked against the images it is bound to, and a
 * profile's name. What the initrd's PID 1 needs of it; writing artifacts is profile-artifact.c's. */
#include <stdarg.h>
#include <string.h>

#include "json-util.h"
#include "profile.h"

#define GiB (UINT64_C(1) << 30)

static int append(char **s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int append(char **s, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *add = NULL;
        int n = vasprintf(&add, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        char *joined = NULL;
        if (asprintf(&joined, "%s%s%s", *s ?: "", *s && **s ? " " : "", add) < 0)
                return -ENOMEM;
        free(*s);
        *s = joined;
        return 0;
}

/* 1G pages on the command line: "hugepagesz=1G hugepages=N", or per node "hugepages=0:N,1:M". */
static int boot_pages(const struct profile *p, char **cmdline) {
        _cleanup_free_ char *nodes = NULL;
        uint64_t whole = 0;
        bool any = false;
        for (size_t i = 0; i < p->n_pages; i++) {
                const struct profile_pages *pg = &p->pages[i];
                if (pg->size != GiB)
                        continue;
                any = true;
                if (pg->node < 0)
                        whole = pg->count;
                else {
                        char *joined = NULL;
                        if (asprintf(&joined, "%s%s%d:%llu", nodes ?: "", nodes ? "," : "", pg->node,
                                     (unsigned long long) pg->count) < 0)
                                return -ENOMEM;
                        free(nodes);
                        nodes = joined;
                }
        }
        if (!any)
                return 0;
        /* the kernel takes either form for one size; per-node counts, when given, win */
        return nodes ? append(cmdline, "hugepagesz=1G hugepages=%s", nodes)
                     : append(cmdline, "hugepagesz=1G hugepages=%llu", (unsigned long long) whole);
}

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The kernel command line fragment: the parameters, then the boot-time huge pages. */
static int compile_cmdline(const struct profile *p, char **ret) {
        _cleanup_free_ char *cmdline = strdup("");
        if (!cmdline)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_params; i++) {
                int q = p->params[i].value ? append(&cmdline, "%s=%s", p->params[i].key, p->params[i].value)
                                           : append(&cmdline, "%s", p->params[i].key);
                if (q < 0)
                        return q;
        }
        if (p->default_page_size) {
                char s[32];
                page_size_format(p->default_page_size, s);
                int q = append(&cmdline, "default_hugepagesz=%s", s);
                if (q < 0)
                        return q;
        }
        int q = boot_pages(p, &cmdline);
        if (q < 0)
                return q;
        *ret = TAKE_PTR(cmdline);
        return 0;
}

int profile_compile(const struct profile *p, const char *name, char **images, char **ret_json,
                    struct ingot_error *err) {
        _cleanup_free_ char *cmdline = NULL;
        int q = compile_cmdline(p, &cmdline);
        if (q < 0)
                return q;
        _cleanup_json_ json_object *root = json_object_new_object();
        json_object_object_add(root, "kind", json_object_new_string(PROFILE_KIND));
        json_object_object_add(root, "format", json_object_new_int(PROFILE_FORMAT));
        json_object_object_add(root, "name", json_object_new_string(name));
        if (images) { /* sorted and once each: the same images give the same bytes */
                size_t n = strv_length(images);
                _cleanup_free_ char **sorted = n ? malloc(n * sizeof(char *)) : NULL;
                if (n && !sorted)
                        return -ENOMEM;
                if (n)
                        memcpy(sorted, images, n * sizeof(char *));
                if (n)
                        qsort(sorted, n, sizeof(char *), strcmp_ptr);
                json_object *list = json_object_new_array();
                for (size_t i = 0; i < n; i++)
                        if (i == 0 || strcmp(sorted[i], sorted[i - 1]) != 0)
                                json_object_array_add(list, json_object_new_string(sorted[i]));
                json_object_object_add(root, "images", list);
        }
        json_object_object_add(root, "cmdline", json_object_new_string(cmdline));
        json_object *sysctl = json_object_new_array();
        for (size_t i = 0; i < p->n_sysctls; i++) {
                json_object *pair = json_object_new_array();
                json_object_array_add(pair, json_object_new_string(p->sysctls[i].key));
                json_object_array_add(pair, json_object_new_string(p->sysctls[i].value));
                json_object_array_add(sysctl, pair);
        }
        json_object_object_add(root, "sysctl", sysctl);
        json_object *pages = json_object_new_array();
        for (size_t i = 0; i < p->n_pages; i++) {
                if (p->pages[i].size == GiB)
                        continue;
                json_object *o = json_object_new_object();
                json_object_object_add(o, "size", json_object_new_int64((int64_t) p->pages[i].size));
                json_object_object_add(o, "count", json_object_new_int64((int64_t) p->pages[i].count));
                json_object_object_add(o, "node", p->pages[i].node >= 0 ? json_object_new_int(p->pages[i].node) : NULL);
                json_object_array_add(pages, o);
        }
        json_object_object_add(root, "runtime_hugepages", pages);
        const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        char *copy = NULL;
        if (!text || asprintf(&copy, "%s\n", text) < 0)
                return error_set(err, -ENOMEM, "profile: out of memory");
        *ret_json = copy;
        return 0;
}

/* Whether the parts the initrd walks have the shapes it walks (absent or null is fine): sysctl an array of
 * [KEY, VALUE] string pairs, runtime_hugepages an array of objects. json-c asserts on an array call on
 * anything else, and in the initrd that abort is PID 1's: a kernel panic instead of a fallback. */
static bool compiled_shapes_ok(json_object *j) {
        json_object *v;
        if (json_object_object_get_ex(j, "sysctl", &v) && v) {
                if (!json_object_is_type(v, json_type_array))
                        return false;
                for (size_t i = 0; i < json_object_array_length(v); i++) {
                        json_object *pair = json_object_array_get_idx(v, i);
                        if (!json_object_is_type(pair, json_type_array) || json_object_array_length(pair) != 2 ||
                            !json_object_is_type(json_object_array_get_idx(pair, 0), json_type_string) ||
                            !json_object_is_type(json_object_array_get_idx(pair, 1), json_type_string))
                                return false;
                }
        }
        if (json_object_object_get_ex(j, "runtime_hugepages", &v) && v) {
                if (!json_object_is_type(v, json_type_array))
                        return false;
                for (size_t i = 0; i < json_object_array_length(v); i++)
                        if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_object))
                                return false;
        }
        return true;
}

int profile_compiled_parse(const char *text, const char *what, json_object **ret, const char **ret_name,
                           const char **ret_cmdline, struct ingot_error *err) {
        json_tokener *tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        _cleanup_json_ json_object *j = json_tokener_parse_ex(tok, text, (int) strnlen(text, INT32_MAX));
        bool complete = json_tokener_get_error(tok) == json_tokener_success;
        json_tokener_free(tok); /* only the parse needs it */
        json_object *kind, *format, *name, *cmdline, *images;
        bool is_object = j && complete && json_object_is_type(j, json_type_object);
        if (is_object && json_object_object_get_ex(j, "kind", &kind) && json_object_is_type(kind, json_type_string) &&
            strcmp(json_object_get_string(kind), PROFILE_KIND) != 0)
                return error_set(err, -EBADMSG, "%s: a signed %.64s, not a host profile", what,
                                 json_object_get_string(kind));
        if (!is_object || !json_object_object_get_ex(j, "kind", &kind) || !json_object_is_type(kind, json_type_string) ||
            !json_object_object_get_ex(j, "format", &format) || json_object_get_int(format) != PROFILE_FORMAT ||
            !json_object_object_get_ex(j, "name", &name) || !json_object_is_type(name, json_type_string) ||
            !json_object_object_get_ex(j, "cmdline", &cmdline) || !json_object_is_type(cmdline, json_type_string))
                return error_set(err, -EBADMSG, "%s: not a compiled host profile (kind %s, format %d, name, cmdline): "
                                 "compile it with this ingot", what, PROFILE_KIND, PROFILE_FORMAT);
        if (json_object_object_get_ex(j, "images", &images)) {
                bool ok = json_object_is_type(images, json_type_array);
                for (size_t i = 0; ok && i < json_object_array_length(images); i++)
                        ok = json_object_is_type(json_object_array_get_idx(images, i), json_type_string);
                if (!ok)
                        return error_set(err, -EBADMSG, "%s: not a compiled host profile (images must be root hashes)",
                                         what);
        }
        if (!compiled_shapes_ok(j))
                return error_set(err, -EBADMSG, "%s: not a compiled host profile (sysctl must be [KEY, VALUE] string "
                                 "pairs, runtime_hugepages objects)", what);
        *ret_name = json_object_get_string(name);
        *ret_cmdline = json_object_get_string(cmdline);
        *ret = TAKE_PTR(j);
        return 0;
}

int profile_bound_to(json_object *j, const char *what, const char *root_hash, struct ingot_error *err) {
        json_object *images;
        size_t n = json_object_object_get_ex(j, "images", &images) ? json_object_array_length(images) : 0;
        char listed[200] = "";
        for (size_t i = 0; i < n; i++) {
                const char *h = json_object_get_string(json_object_array_get_idx(images, i));
                if (strcmp(h, root_hash) == 0)
                        return 0;
                size_t len = strlen(listed);
                if (len < sizeof(listed) - 24)
                        snprintf(listed + len, sizeof(listed) - len, "%s%.16s...", i ? ", " : "", h);
        }
        if (!n)
                return error_set(err, -EPERM, "%s: signed for no image: a slot's own profile names the images it may boot "
                                 "with (ingot profile compile --for IMAGE), or another disk's could be put in its place",
                                 what);
        return error_set(err, -EPERM, "%s: signed for the images %s, not for this one (root hash %.16s...): compile it "
                         "with --for this image", what, listed, root_hash);
}

char *profile_name(const char *path) {
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        size_t len = strlen(base);
        return strndup(base, len > 5 && strcmp(base + len - 5, ".conf") == 0 ? len - 5 : len);
}
