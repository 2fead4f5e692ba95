/* sysext-check.c: `ingot sysext check`: a layer against a base image: compatibility as systemd-sysext
 * decides it (extension_release_validate's rules), files that shadow the base's, and the signature. */
#include <fcntl.h>
#include <json-c/json.h>
#include <string.h>
#include <sys/stat.h>

#include "ddi.h"
#include "signing.h"
#include "squashfs-read.h"
#include "sysext-check.h"
#include "verity-sig.h"
#include "verity.h"

void ingot_sysext_report_clear(struct ingot_sysext_report *rep) {
        strv_free(rep->shadowed);
        strv_free(rep->shadowed_allowed);
        strv_free(rep->release);
        *rep = (struct ingot_sysext_report) { 0 };
}

#define check(rep, name) check_add((rep)->checks, &(rep)->n_checks, name)
#define set check_set

/* The value of KEY in KEY=VALUE lines, quotes removed (os-release syntax); NULL when absent or empty. */
static const char *field(char **lines, const char *key, char *buf, size_t size) {
        size_t n = strlen(key);
        for (char **l = lines; l && *l; l++) {
                if (strncmp(*l, key, n) != 0 || (*l)[n] != '=')
                        continue;
                const char *v = *l + n + 1;
                size_t len = strlen(v);
                if (len >= 2 && (v[0] == '"' || v[0] == '\'') && v[len - 1] == v[0])
                        v++, len -= 2;
                snprintf(buf, size, "%.*s", (int) len, v);
                return *buf ? buf : NULL;
        }
        return NULL;
}

/* systemd-sysext's rules (src/shared/extension-release.c) with the base in the host's place, scope system. */
static void check_compatibility(struct ingot_check *c, char **rel, const struct sysext_base *base, const char *name) {
        char scope[256], arch[64], id[128], level[128], version[128];
        const char *s = field(rel, "SYSEXT_SCOPE", scope, sizeof(scope));
        const char *a = field(rel, "ARCHITECTURE", arch, sizeof(arch));
        const char *i = field(rel, "ID", id, sizeof(id));
        const char *l = field(rel, "SYSEXT_LEVEL", level, sizeof(level));
        const char *v = field(rel, "VERSION_ID", version, sizeof(version));
        char what[256];
        snprintf(what, sizeof(what), "the base %s %s", base->name, base->version);
        if (!rel)
                return set(c, INGOT_CHECK_FAILED, "no extension-release in the layer: systemd-sysext ignores it");
        if (s) {
                bool system = false;
                char *save = NULL;
                for (char *w = strtok_r(scope, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
                        system |= strcmp(w, "system") == 0;
                if (!system)
                        return set(c, INGOT_CHECK_FAILED,
                                   "SYSEXT_SCOPE=%s: not for the system scope that systemd-sysext merges", s);
        }
        if (a && strcmp(a, "_any") != 0 && strcmp(a, base->architecture) != 0)
                return set(c, INGOT_CHECK_FAILED, "extension '%s' is for architecture '%s', but %s is '%s'", name, a, what,
                           base->architecture);
        if (!i)
                return set(c, INGOT_CHECK_FAILED, "extension '%s' has no ID in its extension-release", name);
        if (strcmp(i, "_any") == 0)
                return set(c, INGOT_CHECK_OK, "ID=_any: any base");
        if (strcmp(i, base->id) != 0)
                return set(c, INGOT_CHECK_FAILED, "extension '%s' is for OS ID '%s', but %s has ID '%s'", name, i, what,
                           base->id);
        if (!base->version_id && !base->sysext_level)
                return set(c, INGOT_CHECK_OK, "ID=%s matches; the base has no VERSION_ID or SYSEXT_LEVEL", i);
        if (base->sysext_level && l) {
                if (strcmp(l, base->sysext_level) != 0)
                        return set(c, INGOT_CHECK_FAILED,
                                   "extension '%s' is for SYSEXT_LEVEL '%s', but %s has SYSEXT_LEVEL '%s'", name, l,
                                   what, base->sysext_level);
                return set(c, INGOT_CHECK_OK, "ID=%s SYSEXT_LEVEL=%s ARCHITECTURE=%s match %s", i, l, a ?: "(any)", what);
        }
        if (base->version_id) {
                if (!v)
                        return set(c, INGOT_CHECK_FAILED,
                                   "extension '%s' has no VERSION_ID%s, but %s has VERSION_ID '%s'%s", name,
                                   l ? " (its SYSEXT_LEVEL does not count: the base has none)" : "", what,
                                   base->version_id, "");
                if (strcmp(v, base->version_id) != 0)
                        return set(c, INGOT_CHECK_FAILED,
                                   "extension '%s' is for VERSION_ID '%s', but %s has VERSION_ID '%s'", name, v, what,
                                   base->version_id);
                return set(c, INGOT_CHECK_OK, "ID=%s VERSION_ID=%s ARCHITECTURE=%s match %s", i, v, a ?: "(any)", what);
        }
        set(c, INGOT_CHECK_OK, "ID=%s matches %s", i, what);
}

static int prefix_error(struct ingot_error *err, int r, const char *path) {
        if (!err || !*err->message)
                return r;
        char message[sizeof(err->message)];
        snprintf(message, sizeof(message), "%s", err->message);
        err->code = 0; /* error_set keeps the first message; this one replaces it */
        return error_set(err, r, "%s: %s", path, message);
}

struct walk {
        struct squashfs_reader *base;
        char **allowed;             /* the layer's AllowShadow= */
        struct ingot_sysext_report *rep;
        char **release_files;       /* extension-release.* in the layer */
        struct ingot_error *err;
};

static bool allowed(char **list, const char *path) {
        for (char **a = list; a && *a; a++) {
                size_t n = strlen(*a);
                if (strncmp(path, *a, n) == 0 && (path[n] == 0 || path[n] == '/'))
                        return true;
        }
        return false;
}

static int visit(const char *path, mode_t mode, void *userdata) {
        struct walk *w = userdata;
        if (strncmp(path, EXTENSION_RELEASE_DIR "/extension-release.", strlen(EXTENSION_RELEASE_DIR) + 19) == 0 &&
            !strchr(path + strlen(EXTENSION_RELEASE_DIR) + 1, '/'))
                if (strv_extend(&w->release_files, path) < 0)
                        return -ENOMEM;
        if (!w->base)
                return 0;
        mode_t base_mode;
        int r = squashfs_reader_find(w->base, path + 1, &base_mode);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return error_set(w->err, r, "the base image: %s cannot be read", path);
        if (S_ISDIR(mode) && S_ISDIR(base_mode)) /* directories merge */
                return 0;
        r = strv_extend(&w->rep->shadowed, path);
        if (r >= 0 && allowed(w->allowed, path))
                r = strv_extend(&w->rep->shadowed_allowed, path);
        return r;
}

int sysext_shadowed(int layer_fd, uint64_t offset, uint64_t size, const char *base_image, char **allowed_paths,
                    char ***ret_shadowed, char ***ret_allowed, struct ingot_error *err) {
        struct ingot_sysext_report rep = { 0 };
        struct walk w = { .rep = &rep, .allowed = allowed_paths, .err = err };
        struct squashfs_reader *layer = NULL;
        _cleanup_close_ int bfd = open(base_image, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        int r = bfd < 0 ? error_set(err, -errno, "%s: %s", base_image, strerror(errno)) : 0;
        if (r >= 0 && (r = squashfs_reader_open(bfd, 0, 0, &w.base, err)) < 0)
                r = prefix_error(err, r, base_image);
        if (r >= 0)
                r = squashfs_reader_open(layer_fd, offset, size, &layer, err);
        if (r >= 0)
                r = squashfs_reader_walk(layer, visit, &w, err);
        squashfs_reader_free(layer);
        squashfs_reader_free(w.base);
        strv_free(w.release_files);
        if (r >= 0) {
                *ret_shadowed = TAKE_PTR(rep.shadowed);
                *ret_allowed = TAKE_PTR(rep.shadowed_allowed);
        }
        ingot_sysext_report_clear(&rep);
        return r;
}

/* AllowShadow= as the layer's manifest recorded it. */
static char **manifest_allowed(const char *layer_path) {
        _cleanup_free_ char *base = image_sidecar_base(layer_path), *path = NULL;
        if (!base || asprintf(&path, "%s.manifest.json", base) < 0)
                return NULL;
        json_object *m = json_object_from_file(path), *e, *a;
        char **l = NULL;
        if (m && json_object_object_get_ex(m, "extension", &e) && json_object_object_get_ex(e, "allow_shadow", &a) &&
            json_object_is_type(a, json_type_array))
                for (size_t i = 0; i < json_object_array_length(a); i++)
                        (void) strv_extend(&l, json_object_get_string(json_object_array_get_idx(a, i)));
        json_object_put(m);
        return l;
}

static void check_signature(struct ingot_check *c, const char *path, int fd, const struct image_parts *p,
                            const char *cert) {
        struct verity_sig vs;
        struct ingot_error e = { 0 };
        int r = image_signature_read(path, fd, p, &vs, &e);
        if (r == -ENODATA)
                return set(c, cert ? INGOT_CHECK_FAILED : INGOT_CHECK_SKIPPED,
                           "unsigned: systemd-sysext merges it only where no signature is required");
        if (r < 0)
                return set(c, INGOT_CHECK_FAILED, "%s", e.message);
        /* the signed root hash must be the one the layer's data and hash tree give */
        _cleanup_close_ int hfd = open(p->hash_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        struct verity_info vi;
        if (hfd < 0)
                set(c, INGOT_CHECK_FAILED, "%s: %s", p->hash_path, strerror(errno));
        else if (verity_check(&(struct verity_region) { .name = path, .fd = fd, .offset = p->data_offset,
                                                        .size = p->data_size },
                              &(struct verity_region) { .name = p->hash_path, .fd = hfd, .offset = p->hash_offset,
                                                        .size = p->hash_size },
                              &vi, &e) < 0)
                set(c, INGOT_CHECK_FAILED, "%s", e.message);
        else {
                char computed[129], fp[65];
                hex_encode(vi.root_hash, vi.root_hash_size, computed);
                if (strcmp(computed, vs.root_hash) != 0)
                        set(c, INGOT_CHECK_FAILED, "the signed root hash %.16s... is not the layer's %.16s...",
                            vs.root_hash, computed);
                else if (signature_check_der(vs.signature, vs.signature_size, p->ddi ? "the signature partition" : path,
                                             vs.root_hash, cert, fp, &e) < 0)
                        set(c, INGOT_CHECK_FAILED, "%s", e.message);
                else if (cert)
                        set(c, INGOT_CHECK_OK, "root hash %.16s... signed by %s (SHA-256 %s)", vs.root_hash, cert, fp);
                else
                        set(c, INGOT_CHECK_OK,
                            "intact, signer SHA-256 %s; not checked against a trusted certificate (--cert)", fp);
        }
        verity_sig_clear(&vs);
}

int ingot_sysext_check(const char *path, const char *base_manifest, const char *cert, struct ingot_sysext_report *rep,
                       struct ingot_error *err) {
        *rep = (struct ingot_sysext_report) { 0 };
        struct sysext_base base;
        int r = sysext_base_load(base_manifest, &base, err);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        struct image_parts parts = { 0 };
        struct squashfs_reader *layer = NULL, *base_image = NULL;
        _cleanup_close_ int bfd = -1;
        struct walk w = { .rep = rep, .err = err };
        if (fd < 0)
                r = error_set(err, -errno, "%s: %s", path, strerror(errno));
        if (r >= 0)
                r = image_parts_find(path, fd, &parts, err);
        if (r >= 0 && (r = squashfs_reader_open(fd, parts.data_offset, parts.data_size, &layer, err)) < 0)
                r = prefix_error(err, r, path);
        if (r >= 0 && base.image) {
                bfd = open(base.image, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (bfd < 0)
                        r = error_set(err, -errno, "%s: %s", base.image, strerror(errno));
                else if ((r = squashfs_reader_open(bfd, 0, 0, &base_image, err)) < 0)
                        r = prefix_error(err, r, base.image);
        }
        w.base = base_image;
        w.allowed = manifest_allowed(path);
        if (r >= 0 && (r = squashfs_reader_walk(layer, visit, &w, err)) < 0)
                r = prefix_error(err, r, path);

        /* compatibility, from the one extension-release file */
        struct ingot_check *compat = r >= 0 ? check(rep, "compatibility") : NULL;
        if (compat && strv_length(w.release_files) != 1)
                set(compat, INGOT_CHECK_FAILED, "%s extension-release files in %s: systemd-sysext wants exactly one",
                    w.release_files ? "several" : "no", EXTENSION_RELEASE_DIR);
        else if (compat) {
                _cleanup_free_ char *text = NULL;
                const char *file = strrchr(w.release_files[0], '/') + 1;
                snprintf(rep->release_name, sizeof(rep->release_name), "%s", file);
                r = squashfs_reader_read_file(layer, w.release_files[0] + 1, 64 * 1024, &text, err);
                char *save = NULL;
                for (char *line = r >= 0 ? strtok_r(text, "\n", &save) : NULL; line && r >= 0;
                     line = strtok_r(NULL, "\n", &save))
                        if (line[0] != '#' && strchr(line, '='))
                                r = strv_extend(&rep->release, line);
                if (r >= 0)
                        check_compatibility(compat, rep->release, &base, file + strlen("extension-release."));
        }

        if (r >= 0) {
                struct ingot_check *sh = check(rep, "shadowing");
                size_t n = strv_length(rep->shadowed), ok = strv_length(rep->shadowed_allowed);
                if (!base_image)
                        set(sh, INGOT_CHECK_SKIPPED, "the base's image is not beside %s: its files are unknown",
                            base_manifest);
                else if (n > ok) {
                        const char *first = NULL;
                        for (char **p = rep->shadowed; p && *p && !first; p++)
                                if (!strv_contains(rep->shadowed_allowed, *p))
                                        first = *p;
                        set(sh, INGOT_CHECK_FAILED, "%zu file%s replace%s the base's (%s%s) and AllowShadow= does not "
                            "allow %s", n - ok, n - ok == 1 ? "" : "s", n - ok == 1 ? "s" : "", first,
                            n - ok > 1 ? ", ..." : "", n - ok == 1 ? "it" : "them");
                }
                else if (n)
                        set(sh, INGOT_CHECK_OK, "%zu file%s replace%s the base's, as AllowShadow= allows", n,
                            n == 1 ? "" : "s", n == 1 ? "s" : "");
                else
                        set(sh, INGOT_CHECK_OK, "nothing of the base is replaced");
                check_signature(check(rep, "signature"), path, fd, &parts, cert);
        }

        strv_free(w.allowed);
        strv_free(w.release_files);
        squashfs_reader_free(layer);
        squashfs_reader_free(base_image);
        image_parts_clear(&parts);
        sysext_base_clear(&base);
        if (r < 0)
                return r;
        for (size_t i = 0; i < rep->n_checks; i++)
                if (rep->checks[i].state == INGOT_CHECK_FAILED)
                        return -EBADMSG;
        return 0;
}
