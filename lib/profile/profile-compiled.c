/* profile-compile.c: a host profile compiled into what a booting host applies (see profile.h):
 * canonical JSON, signed like a root hash, written as artifacts (temporary names, fsync, rename). */
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "artifact.h"
#include "json-util.h"
#include "profile.h"
#include "signing.h"
#include "squashfs-read.h"

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

static int check_memory(const struct profile *p, uint64_t memory, struct ingot_error *err) {
        uint64_t total = 0;
        const char *where = NULL;
        for (size_t i = 0; i < p->n_pages; i++) {
                total += p->pages[i].size * p->pages[i].count;
                if (total > memory && !where)
                        where = p->pages[i].where;
        }
        if (where)
                return error_set(err, -E2BIG, "%s: the huge pages come to %llu MiB, more than the hosts' %llu MiB",
                                 where, (unsigned long long) (total >> 20), (unsigned long long) (memory >> 20));
        return 0;
}

/* Every sysctl is a file under dir (a kernel's /proc/sys): the profile is for that kernel. */
static int check_sysctls(const struct profile *p, const char *dir, struct ingot_error *err) {
        for (size_t i = 0; i < p->n_sysctls; i++) {
                _cleanup_free_ char *path = path_join(dir, p->sysctls[i].key);
                if (!path)
                        return -ENOMEM;
                for (char *c = path + strlen(dir); *c; c++)
                        if (*c == '.')
                                *c = '/';
                struct stat st;
                if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                        return error_set(err, -ENOENT, "%s: %s: the kernel of %s has no such sysctl", p->sysctls[i].where,
                                         p->sysctls[i].key, dir);
        }
        return 0;
}

/* The files profile_compile_to writes: each discarded however it ends (a temporary removed, a renamed one
 * kept). */
struct compiled_files {
        struct artifact a[2];
        size_t n;
};

static void compiled_files_discard(struct compiled_files *c) {
        for (size_t i = 0; i < c->n; i++)
                artifact_discard(&c->a[i]);
}

/* One more file of c, under a temporary name in dir. */
static int compiled_file_write(struct compiled_files *c, const char *dir, const char *name, const void *data,
                               size_t size, struct ingot_error *err) {
        struct artifact *a = &c->a[c->n++];
        int r = artifact_open(a, dir, name, err);
        if (r < 0)
                return r;
        return artifact_write(a, data, size, err);
}

int profile_compile_to(const struct profile *p, const char *outdir, const struct profile_compile_options *o,
                       char **ret_json_path, struct ingot_error *err) {
        if (!o->key_path != !o->cert_path)
                return error_set(err, -EINVAL, "profile: --key and --cert go together");
        if (!o->key_path && !o->unsigned_ok)
                return error_set(err, -EINVAL, "profile: no signing key: give --key and --cert, or --unsigned");
        int q;
        if (o->memory) {
                q = check_memory(p, o->memory, err);
                if (q < 0)
                        return q;
        }
        if (o->kernel_sysctls) {
                q = check_sysctls(p, o->kernel_sysctls, err);
                if (q < 0)
                        return q;
        }
        _cleanup_free_ char *name = profile_name(p->path);
        _cleanup_free_ char *json = NULL, *json_name = NULL, *sig_name = NULL;
        if (!name || asprintf(&json_name, "%s.profile.json", name) < 0 || asprintf(&sig_name, "%s.p7s", json_name) < 0)
                return -ENOMEM;
        q = profile_compile(p, name, o->images, &json, err);
        if (q < 0)
                return q;
        q = mkdir_p(outdir, 0755);
        if (q < 0)
                return error_set(err, q, "%s: %s", outdir, strerror(-q));
        _cleanup_(compiled_files_discard) struct compiled_files files = { .n = 0 };
        if (o->key_path) {
                _cleanup_(signer_freep) struct signer *signer = NULL;
                _cleanup_free_ uint8_t *der = NULL;
                size_t der_size = 0;
                q = signer_load(o->key_path, o->cert_path, &signer, err);
                if (q < 0)
                        return q;
                q = signer_sign(signer, json, &der, &der_size, err);
                if (q < 0)
                        return q;
                q = compiled_file_write(&files, outdir, sig_name, der, der_size, err); /* first: readers look for the JSON */
                if (q < 0)
                        return q;
        }
        q = compiled_file_write(&files, outdir, json_name, json, strlen(json), err);
        if (q < 0)
                return q;
        q = artifacts_commit(files.a, files.n, err);
        if (q < 0)
                return q;
        if (ret_json_path && !(*ret_json_path = strdup(files.a[files.n - 1].final)))
                return -ENOMEM;
        return 0;
}

/* Whether rd holds path as a file (a symlink is taken on trust: the initrd follows it). */
static int has_file(struct squashfs_reader *rd, const char *path, bool *ret) {
        mode_t mode;
        int r = squashfs_reader_find(rd, path, &mode);
        *ret = r >= 0 && (S_ISREG(mode) || S_ISLNK(mode));
        return r == -ENOENT ? 0 : r;
}

/* What the initrd restarts a slot into (boot/profile-apply.c's slot_kernel and kexec_into): for some V,
 * usr/lib/modules/V/vmlinuz or boot/vmlinuz-V; and usr/lib/ingot/initrd. */
static int has_kernel(struct squashfs_reader *rd, bool *ret) {
        _cleanup_strv_free_ char **versions = NULL;
        *ret = false;
        int r = squashfs_reader_list(rd, "usr/lib/modules", &versions);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        for (char **v = versions; v && *v; v++)
                for (int place = 0; place < 2; place++) {
                        _cleanup_free_ char *path = NULL;
                        if ((place == 0 ? asprintf(&path, "usr/lib/modules/%s/vmlinuz", *v)
                                        : asprintf(&path, "boot/vmlinuz-%s", *v)) < 0) {
                                path = NULL; /* asprintf leaves it undefined */
                                return -ENOMEM;
                        }
                        r = has_file(rd, path, ret);
                        if (r < 0 || *ret)
                                return r;
                }
        return 0;
}

static int read_restartable(int fd, uint64_t offset, uint64_t size, const struct verity_tree *tree, bool *ret,
                            struct ingot_error *err) {
        _cleanup_(squashfs_reader_freep) struct squashfs_reader *rd = NULL;
        *ret = false;
        int r = tree ? squashfs_reader_open_verified(fd, offset, tree, &rd, err)
                     : squashfs_reader_open(fd, offset, size, &rd, err);
        if (r < 0)
                return r;
        bool kernel, initrd;
        r = has_kernel(rd, &kernel);
        if (r < 0)
                return r;
        r = has_file(rd, &INITRD_IN_IMAGE[1], &initrd);
        if (r < 0)
                return r;
        *ret = kernel && initrd;
        return 0;
}

static int image_restartable(int fd, uint64_t offset, uint64_t size, const struct verity_tree *tree, bool *ret,
                             struct ingot_error *err) {
        int r = read_restartable(fd, offset, size, tree, ret, err);
        if (r == -EBADMSG && !(err && err->code))
                return error_set(err, r, "a damaged squashfs image (its directories)");
        return r;
}

int profile_restart_check(const char *what, const char *cmdline, int fd, uint64_t offset, uint64_t size,
                          const struct verity_tree *tree, const char *image, const char *consequence,
                          struct ingot_error *err) {
        if (!cmdline || !*cmdline)
                return 0;
        bool ok;
        int r = image_restartable(fd, offset, size, tree, &ok, err);
        if (r < 0)
                return r;
        if (!ok)
                return error_set(err, -ENOEXEC,
                                 "%s: its kernel parameters (%s) cannot take effect: the image %s carries no kernel and "
                                 "initrd to restart into (/usr/lib/modules/*/vmlinuz or /boot/vmlinuz-*, and %s); %s",
                                 what, cmdline, image, INITRD_IN_IMAGE, consequence);
        return 0;
}
