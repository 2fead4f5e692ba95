/* profile.c: reading a host profile: one key table per section ([Kernel], [HugePages]; [Sysctl] takes
 * any well-formed sysctl name), later assignments win, each value keeps the file:line that set it. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ini.h"
#include "profile.h"

#define WHERE_FMT "%s:%u: "
#define WHERE(ev) (ev)->file, (ev)->line
#define KiB UINT64_C(1024)
#define MiB (KiB * 1024)
#define GiB (MiB * 1024)
#define MAX_PAGES (UINT64_C(1) << 24)

struct key_def {
        const char *key;
        int (*parse)(struct profile *p, const struct ini_event *ev, struct ingot_error *err);
};
struct section_def {
        const char *name;
        const struct key_def *keys;
        size_t n_keys;
};

static char *where_dup(const struct ini_event *ev) {
        char *s;
        return asprintf(&s, "%s:%u", ev->file, ev->line) < 0 ? NULL : s;
}

/* Replaces *field with a copy of value (NULL stays NULL); where likewise. */
static int set_pair(char **field, const char *value, char **where_field, const struct ini_event *ev) {
        _cleanup_free_ char *v = value ? strdup(value) : NULL, *w = where_dup(ev);
        if ((value && !v) || !w)
                return -ENOMEM;
        free(*field);
        free(*where_field);
        *field = TAKE_PTR(v);
        *where_field = TAKE_PTR(w);
        return 0;
}

void page_size_format(uint64_t size, char out[32]) {
        if (size >= GiB && size % GiB == 0)
                snprintf(out, 32, "%lluG", (unsigned long long) (size / GiB));
        else if (size >= MiB && size % MiB == 0)
                snprintf(out, 32, "%lluM", (unsigned long long) (size / MiB));
        else
                snprintf(out, 32, "%lluK", (unsigned long long) (size / KiB));
}

/* x86-64's huge page sizes (2M always, 1G with pdpe1gb). */
static int parse_page_size(const char *s, uint64_t *ret) {
        uint64_t v;
        if (parse_size(s, &v) < 0 || (v != 2 * MiB && v != GiB))
                return -EINVAL;
        *ret = v;
        return 0;
}

/* ---- [Kernel] ---- */

static bool valid_param_key(const char *k, size_t n) {
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) k[i]) && !strchr("_-.", k[i]))
                        return false;
        return true;
}

static struct profile_entry *find_entry(struct profile_entry *e, size_t n, const char *key, size_t len) {
        for (size_t i = 0; i < n; i++)
                if (strlen(e[i].key) == len && strncmp(e[i].key, key, len) == 0)
                        return &e[i];
        return NULL;
}

/* The entry for the len bytes of key, appended when there is none yet. */
static int upsert_entry(struct profile_entry **e, size_t *n, const char *key, size_t len, struct profile_entry **ret) {
        struct profile_entry *have = find_entry(*e, *n, key, len);
        if (!have) {
                struct profile_entry *grown = reallocarray(*e, *n + 1, sizeof(*grown));
                if (!grown)
                        return -ENOMEM;
                *e = grown;
                have = &grown[(*n)++];
                *have = (struct profile_entry) { .key = strndup(key, len) };
                if (!have->key)
                        return -ENOMEM;
        }
        *ret = have;
        return 0;
}

static void entries_clear(struct profile_entry **e, size_t *n) {
        for (size_t i = 0; i < *n; i++) {
                free((*e)[i].key);
                free((*e)[i].value);
                free((*e)[i].where);
        }
        free(*e);
        *e = NULL;
        *n = 0;
}

/* Parameters=WORD...: key or key=value appends (a key already there takes the new value in its
 * place), -key removes; an empty assignment clears. */
static int parse_parameters(struct profile *p, const struct ini_event *ev, struct ingot_error *err) {
        if (!*ev->value) {
                entries_clear(&p->params, &p->n_params);
                return 0;
        }
        _cleanup_free_ char *copy = strdup(ev->value);
        if (!copy)
                return -ENOMEM;
        char *save = NULL;
        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                bool remove = w[0] == '-';
                const char *word = w + remove;
                const char *eq = strchr(word, '=');
                size_t klen = eq ? (size_t) (eq - word) : strlen(word);
                if (strpbrk(word, "\"'\\") || !valid_param_key(word, klen) || (remove && eq))
                        return error_set(err, -EINVAL,
                                         WHERE_FMT "Parameters=: '%s' is not a kernel parameter: use key or key=value "
                                                   "(letters, digits, '_', '-', '.'; no quotes), or -key to remove one",
                                         WHERE(ev), w);
                struct profile_entry *have = find_entry(p->params, p->n_params, word, klen);
                if (remove) {
                        if (!have)
                                return error_set(err, -ENOENT,
                                                 WHERE_FMT "Parameters=: -%.*s removes nothing: no earlier file sets %.*s",
                                                 WHERE(ev), (int) klen, word, (int) klen, word);
                        size_t i = (size_t) (have - p->params);
                        free(have->key);
                        free(have->value);
                        free(have->where);
                        memmove(have, have + 1, (p->n_params - i - 1) * sizeof(*have));
                        p->n_params--;
                        continue;
                }
                int q = upsert_entry(&p->params, &p->n_params, word, klen, &have);
                if (q < 0)
                        return q;
                q = set_pair(&have->value, eq ? eq + 1 : NULL, &have->where, ev);
                if (q < 0)
                        return q;
        }
        return 0;
}

/* ---- [HugePages] ---- */

static int parse_default_size(struct profile *p, const struct ini_event *ev, struct ingot_error *err) {
        if (!*ev->value) {
                p->default_page_size = 0;
                free(p->default_page_size_where);
                p->default_page_size_where = NULL;
                return 0;
        }
        uint64_t v;
        if (parse_page_size(ev->value, &v) < 0)
                return error_set(err, -EINVAL, WHERE_FMT "DefaultSize='%s': x86-64 huge pages are 2M or 1G", WHERE(ev),
                                 ev->value);
        char *w = where_dup(ev);
        if (!w)
                return -ENOMEM;
        free(p->default_page_size_where);
        p->default_page_size_where = w;
        p->default_page_size = v;
        return 0;
}

/* Pages=SIZE:COUNT[@NODE]; the same size (and node) again replaces the count; empty clears. */
static int parse_pages(struct profile *p, const struct ini_event *ev, struct ingot_error *err) {
        if (!*ev->value) {
                for (size_t i = 0; i < p->n_pages; i++)
                        free(p->pages[i].where);
                free(p->pages);
                p->pages = NULL;
                p->n_pages = 0;
                return 0;
        }
        char size_s[32];
        const char *colon = strchr(ev->value, ':');
        const char *at = colon ? strchr(colon, '@') : NULL;
        uint64_t size, count, node = UINT64_MAX;
        _cleanup_free_ char *count_s = colon ? strndup(colon + 1, at ? (size_t) (at - colon - 1) : strlen(colon + 1)) : NULL;
        if (!colon || (size_t) (colon - ev->value) >= sizeof(size_s) || !count_s)
                return error_set(err, -EINVAL, WHERE_FMT "Pages='%s': use SIZE:COUNT or SIZE:COUNT@NODE, e.g. 2M:1024",
                                 WHERE(ev), ev->value);
        snprintf(size_s, sizeof(size_s), "%.*s", (int) (colon - ev->value), ev->value);
        if (parse_page_size(size_s, &size) < 0)
                return error_set(err, -EINVAL, WHERE_FMT "Pages='%s': x86-64 huge pages are 2M or 1G, not '%s'",
                                 WHERE(ev), ev->value, size_s);
        if (parse_uint(count_s, MAX_PAGES, &count) < 0)
                return error_set(err, -EINVAL, WHERE_FMT "Pages='%s': the count '%s' is not a number up to %llu",
                                 WHERE(ev), ev->value, count_s, (unsigned long long) MAX_PAGES);
        if (at && parse_uint(at + 1, 1023, &node) < 0)
                return error_set(err, -EINVAL, WHERE_FMT "Pages='%s': the NUMA node '%s' is not a number up to 1023",
                                 WHERE(ev), ev->value, at + 1);
        int n = at ? (int) node : -1;
        struct profile_pages *have = NULL;
        for (size_t i = 0; i < p->n_pages && !have; i++)
                if (p->pages[i].size == size && p->pages[i].node == n)
                        have = &p->pages[i];
        if (!have) {
                struct profile_pages *grown = reallocarray(p->pages, p->n_pages + 1, sizeof(*grown));
                if (!grown)
                        return -ENOMEM;
                p->pages = grown;
                have = &p->pages[p->n_pages++];
                *have = (struct profile_pages) { .size = size, .node = n };
        }
        char *w = where_dup(ev);
        if (!w)
                return -ENOMEM;
        free(have->where);
        have->where = w;
        have->count = count;
        return 0;
}

/* ---- [Sysctl] ---- */

/* vm.swappiness, net/ipv4/ip_forward: segments of [A-Za-z0-9_:-] joined by '.' or '/'. */
static bool valid_sysctl_name(const char *s) {
        size_t segments = 0, len = 0;
        for (;; s++) {
                if (*s == 0 || *s == '.' || *s == '/') {
                        if (len == 0)
                                return false;
                        segments++;
                        len = 0;
                        if (*s == 0)
                                return segments >= 2;
                } else if (isalnum((unsigned char) *s) || strchr("_:-", *s))
                        len++;
                else
                        return false;
        }
}

static int parse_sysctl(struct profile *p, const struct ini_event *ev, struct ingot_error *err) {
        if (!valid_sysctl_name(ev->key))
                return error_set(err, -EINVAL, WHERE_FMT "'%s' is not a sysctl name (like vm.swappiness)", WHERE(ev),
                                 ev->key);
        if (!*ev->value)
                return error_set(err, -EINVAL, WHERE_FMT "%s= needs a value", WHERE(ev), ev->key);
        for (const char *c = ev->value; *c; c++)
                if (!isprint((unsigned char) *c) && *c != '\t')
                        return error_set(err, -EINVAL, WHERE_FMT "%s=: the value has a control character", WHERE(ev),
                                         ev->key);
        struct profile_entry *have;
        int q = upsert_entry(&p->sysctls, &p->n_sysctls, ev->key, strlen(ev->key), &have);
        if (q < 0)
                return q;
        return set_pair(&have->value, ev->value, &have->where, ev);
}

/* ---- tables ---- */

static const struct key_def kernel_keys[] = { { "Parameters", parse_parameters } };
static const struct key_def hugepages_keys[] = { { "DefaultSize", parse_default_size }, { "Pages", parse_pages } };
static const struct section_def sections[] = {
        { "Kernel", kernel_keys, ELEMENTSOF(kernel_keys) },
        { "HugePages", hugepages_keys, ELEMENTSOF(hugepages_keys) },
        { "Sysctl", NULL, 0 }, /* any sysctl name */
};

static int on_event(const struct ini_event *ev, void *userdata, struct ingot_error *err) {
        struct profile *p = userdata;
        if (ev->type == INI_FILE)
                return strv_extend(&p->files, ev->file) < 0 ? -ENOMEM : 0;
        const struct section_def *s = NULL;
        for (size_t i = 0; i < ELEMENTSOF(sections); i++)
                if (strcmp(sections[i].name, ev->section) == 0)
                        s = &sections[i];
        if (!s) {
                const char *best = nearest_name(ev->section, sections, ELEMENTSOF(sections), sizeof(sections[0]), 2);
                if (best)
                        return error_set(err, -EINVAL, WHERE_FMT "unknown section [%s]; did you mean [%s]?", WHERE(ev),
                                         ev->section, best);
                return error_set(err, -EINVAL, WHERE_FMT "unknown section [%s]; known: [Kernel] [HugePages] [Sysctl]",
                                 WHERE(ev), ev->section);
        }
        if (ev->type == INI_SECTION)
                return 0;
        if (!s->keys)
                return parse_sysctl(p, ev, err);
        for (size_t i = 0; i < s->n_keys; i++)
                if (strcmp(s->keys[i].key, ev->key) == 0)
                        return s->keys[i].parse(p, ev, err);
        const char *best = nearest_name(ev->key, s->keys, s->n_keys, sizeof(s->keys[0]), 3);
        if (best)
                return error_set(err, -EINVAL, WHERE_FMT "unknown key '%s' in [%s]; did you mean '%s'?", WHERE(ev),
                                 ev->key, ev->section, best);
        return error_set(err, -EINVAL, WHERE_FMT "unknown key '%s' in [%s]", WHERE(ev), ev->key, ev->section);
}

/* ---- what the boot machinery owns ---- */

/* Whether a panic timeout makes a panicking kernel restart the machine: a number (as the kernel reads
 * it: 10, -1, 0x10) other than 0. */
static bool panic_restarts(const char *value, int base) {
        char *end;
        errno = 0;
        long long v = value && *value ? strtoll(value, &end, base) : 0;
        return value && *value && !*end && errno == 0 && v != 0 && v >= INT32_MIN && v <= INT32_MAX;
}

#define PANIC_WHY \
        "a kernel panic must restart the machine, so that a slot whose kernel panics falls back instead of hanging"

/* Why a host profile may not set kernel parameter e (the boot machinery's), or NULL. */
static const char *refused_param(const struct profile_entry *e) {
        if (strncmp(e->key, "ingot.", 6) == 0)
                return "ingot.* parameters are the ingot initrd's (ingot.disk= names the disk to boot from, "
                       "ingot.slot= forces a slot, ingot.kexec= marks the restart into a slot's kernel, ingot.debug "
                       "times each step and opens a shell when no slot boots): a boot loader entry gives them, never "
                       "a host profile";
        if (strcmp(e->key, "initrd") == 0)
                return "initrd= is the boot loader's (the initrd its EFI stub loads); the restart into a slot's "
                       "kernel loads the slot's own initrd, /usr/lib/ingot/initrd";
        if (strcmp(e->key, "rdinit") == 0)
                return "rdinit= replaces the ingot initrd's own /init, so nothing checks the slot's signature, "
                       "opens its verity root or counts its try: the slot cannot boot (and /init, the one value "
                       "that would, is the kernel's default)";
        if (strcmp(e->key, "init") == 0 && e->value &&
            (strcmp(e->value, "/var") == 0 || strncmp(e->value, "/var/", 5) == 0))
                return "init= below /var would run what the var partition holds, which no signature covers: an init "
                       "comes from the image (the initrd refuses it too)";
        if (strcmp(e->key, "panic") == 0 && !panic_restarts(e->value, 0))
                return PANIC_WHY ": give panic=SECONDS other than 0, or none (the restart into a slot's kernel "
                                 "adds panic=10 when the command line has no panic= word)";
        return NULL;
}

/* Why kernel parameter e may not do what it seems to, or NULL. */
static const char *warned_param(const struct profile_entry *e) {
        if (strcmp(e->key, "init") == 0)
                return "init= replaces the image's init: the initrd checks that it is there in the image, and a "
                       "wrong one fails the slot";
        if (strcmp(e->key, "root") == 0)
                return "the ingot initrd ignores root=: it mounts the slot's verity root itself";
        return NULL;
}

/* Huge pages have one place: [HugePages]. The same settings as kernel parameters would fight it. The
 * boot machinery's parameters are refused, and those that replace the init or the root warned about. */
static int validate(struct profile *p, struct ingot_error *err) {
        static const char *const owned[] = { "hugepages", "hugepagesz", "default_hugepagesz" };
        const char *pages_where = p->default_page_size_where ?: p->n_pages ? p->pages[0].where : NULL;
        for (size_t i = 0; i < ELEMENTSOF(owned); i++) {
                struct profile_entry *k = find_entry(p->params, p->n_params, owned[i], strlen(owned[i]));
                if (k && pages_where)
                        return error_set(err, -EINVAL, "%s: Parameters=%s= conflicts with [HugePages] at %s: set huge pages in one place",
                                         k->where, owned[i], pages_where);
        }
        for (size_t i = 0; i < p->n_params; i++) {
                const struct profile_entry *e = &p->params[i];
                const char *why = refused_param(e);
                if (why)
                        return error_set(err, -EINVAL, "%s: Parameters=%s%s%s: %s", e->where, e->key, e->value ? "=" : "",
                                         e->value ?: "", why);
                why = warned_param(e);
                char *w;
                if (why && (asprintf(&w, "%s: Parameters=%s%s%s: %s", e->where, e->key, e->value ? "=" : "",
                                     e->value ?: "", why) < 0 || strv_push(&p->warnings, w) < 0))
                        return -ENOMEM;
        }
        for (size_t i = 0; i < p->n_sysctls; i++) {
                const struct profile_entry *e = &p->sysctls[i];
                if ((strcmp(e->key, "kernel.panic") == 0 || strcmp(e->key, "kernel/panic") == 0) &&
                    !panic_restarts(e->value, 10))
                        return error_set(err, -EINVAL, "%s: %s=%s: " PANIC_WHY ": give seconds other than 0", e->where, e->key, e->value);
        }
        return 0;
}

void profile_free(struct profile *p) {
        if (!p)
                return;
        free(p->path);
        strv_free(p->files);
        entries_clear(&p->params, &p->n_params);
        entries_clear(&p->sysctls, &p->n_sysctls);
        free(p->default_page_size_where);
        for (size_t i = 0; i < p->n_pages; i++)
                free(p->pages[i].where);
        free(p->pages);
        strv_free(p->warnings);
        free(p);
}

int profile_load(const char *path, struct profile **ret, struct ingot_error *err) {
        _cleanup_(profile_freep) struct profile *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->path = realpath(path, NULL);
        if (!p->path)
                return error_set(err, -errno, "%s: %s", path, strerror(errno));
        int q = ini_parse(path, on_event, p, err);
        if (q < 0)
                return q;
        q = validate(p, err);
        if (q < 0)
                return q;
        *ret = TAKE_PTR(p);
        return 0;
}

static void pages_name(const struct profile_pages *pg, char out[64]) {
        char size[32];
        page_size_format(pg->size, size);
        if (pg->node >= 0)
                snprintf(out, 64, "%s:%llu@%d", size, (unsigned long long) pg->count, pg->node);
        else
                snprintf(out, 64, "%s:%llu", size, (unsigned long long) pg->count);
}

int profile_to_ini(const struct profile *p, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "# resolved from %s\n", p->files ? p->files[0] : p->path);
        if (p->n_params)
                fputs("\n[Kernel]\n", f);
        for (size_t i = 0; i < p->n_params; i++)
                fprintf(f, "# %s\nParameters=%s%s%s\n", p->params[i].where, p->params[i].key, p->params[i].value ? "=" : "",
                        p->params[i].value ?: "");
        if (p->default_page_size || p->n_pages)
                fputs("\n[HugePages]\n", f);
        if (p->default_page_size) {
                char s[32];
                page_size_format(p->default_page_size, s);
                fprintf(f, "# %s\nDefaultSize=%s\n", p->default_page_size_where, s);
        }
        for (size_t i = 0; i < p->n_pages; i++) {
                char s[64];
                pages_name(&p->pages[i], s);
                fprintf(f, "# %s\nPages=%s\n", p->pages[i].where, s);
        }
        if (p->n_sysctls)
                fputs("\n[Sysctl]\n", f);
        for (size_t i = 0; i < p->n_sysctls; i++)
                fprintf(f, "# %s\n%s=%s\n", p->sysctls[i].where, p->sysctls[i].key, p->sysctls[i].value);
        if (fclose(f) != 0) /* what completes buf: f is closed here, not by a cleanup */
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

static json_object *sourced(const char *value, const char *where) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "value", value ? json_object_new_string(value) : NULL);
        json_object_object_add(o, "where", json_object_new_string(where));
        return o;
}

json_object *profile_to_json(const struct profile *p) {
        json_object *root = json_object_new_object();
        json_object_object_add(root, "path", json_object_new_string(p->path));
        json_object *files = json_object_new_array();
        for (char **f = p->files; f && *f; f++)
                json_object_array_add(files, json_object_new_string(*f));
        json_object_object_add(root, "files", files);
        json_object *params = json_object_new_array();
        for (size_t i = 0; i < p->n_params; i++) {
                json_object *o = sourced(p->params[i].value, p->params[i].where);
                json_object_object_add(o, "key", json_object_new_string(p->params[i].key));
                json_object_array_add(params, o);
        }
        json_object *kernel = json_object_new_object();
        json_object_object_add(kernel, "parameters", params);
        json_object_object_add(root, "kernel", kernel);
        json_object *hp = json_object_new_object();
        char s[32];
        if (p->default_page_size) {
                page_size_format(p->default_page_size, s);
                json_object_object_add(hp, "default_size", sourced(s, p->default_page_size_where));
        } else
                json_object_object_add(hp, "default_size", NULL);
        json_object *pages = json_object_new_array();
        for (size_t i = 0; i < p->n_pages; i++) {
                json_object *o = json_object_new_object();
                page_size_format(p->pages[i].size, s);
                json_object_object_add(o, "size", json_object_new_string(s));
                json_object_object_add(o, "bytes", json_object_new_int64((int64_t) p->pages[i].size));
                json_object_object_add(o, "count", json_object_new_int64((int64_t) p->pages[i].count));
                json_object_object_add(o, "node", p->pages[i].node >= 0 ? json_object_new_int(p->pages[i].node) : NULL);
                json_object_object_add(o, "where", json_object_new_string(p->pages[i].where));
                json_object_array_add(pages, o);
        }
        json_object_object_add(hp, "pages", pages);
        json_object_object_add(root, "hugepages", hp);
        json_object *sysctl = json_object_new_object();
        for (size_t i = 0; i < p->n_sysctls; i++)
                json_object_object_add(sysctl, p->sysctls[i].key, sourced(p->sysctls[i].value, p->sysctls[i].where));
        json_object_object_add(root, "sysctl", sysctl);
        return root;
}
