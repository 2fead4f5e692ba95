/* sysext-check.c: `ingot sysext check`: a layer against a base image: compatibility as systemd-sysext
 * decides it (extension_release_validate's rules), files that shadow the base's, and the signature. */
#include <fcntl.h>
#include <json-c/json.h>
#include <string.h>
#include <sys/stat.h>

#include "ddi.h"
#include "json-util.h"
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

/* What a walk collects; its base reader and allowed list are its caller's. */
static void walk_done(struct walk *w) {
        strv_free(w->release_files);
}

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
        if (r < 0 || !allowed(w->allowed, path))
                return r;
        return strv_extend(&w->rep->shadowed_allowed, path);
}

int sysext_shadowed(int layer_fd, uint64_t offset, uint64_t size, const char *base_image, char **allowed_paths,
                    char ***ret_shadowed, char ***ret_allowed, struct ingot_error *err) {
        _cleanup_close_ int bfd = open(base_image, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_(ingot_sysext_report_clear) struct ingot_sysext_report rep = { 0 };
        _cleanup_(walk_done) struct walk w = { .rep = &rep, .allowed = allowed_paths, .err = err };
        _cleanup_(squashfs_reader_freep) struct squashfs_reader *base = NULL;
        _cleanup_(squashfs_reader_freep) struct squashfs_reader *layer = NULL;
        if (bfd < 0)
                return error_set(err, -errno, "%s: %s", base_image, strerror(errno));
        int r = squashfs_reader_open(bfd, 0, 0, &base, err);
        if (r < 0)
                return prefix_error(err, r, base_image);
        w.base = base;
        r = squashfs_reader_open(layer_fd, offset, size, &layer, err);
        if (r < 0)
                return r;
        r = squashfs_reader_walk(layer, visit, &w, err);
        if (r < 0)
                return r;
        *ret_shadowed = TAKE_PTR(rep.shadowed);
        *ret_allowed = TAKE_PTR(rep.shadowed_allowed);
        return r;
}

/* AllowShadow= as the layer's manifest recorded it. */
static char **manifest_allowed(const char *layer_path) {
        _cleanup_free_ char *base = image_sidecar_base(layer_path), *path = NULL;
        if (!base || asprintf(&path, "%s.manifest.json", base) < 0)
                return NULL;
        _cleanup_json_ json_object *m = json_object_from_file(path);
        json_object *e, *a;
        char **l = NULL;
        if (m && json_object_object_get_ex(m, "extension", &e) && json_object_object_get_ex(e, "allow_shadow", &a) &&
            json_object_is_type(a, json_type_array))
                for (size_t i = 0; i < json_object_array_length(a); i++)
                        (void) strv_extend(&l, json_object_get_string(json_object_array_get_idx(a, i)));
        return l;
}

static void check_signature(struct ingot_check *c, const char *path, int fd, const struct image_parts *p,
                            const char *cert) {
        _cleanup_(verity_sig_clear) struct verity_sig vs = { 0 };
        struct ingot_error e = { 0 };
        int r = image_signature_read(path, fd, p, &vs, &e);
        if (r == -ENODATA)
                return set(c, cert ? INGOT_CHECK_FAILED : INGOT_CHECK_SKIPPED,
                           "unsigned: systemd-sysext merges it only where no signature is required");
        if (r < 0)
                return set(c, INGOT_CHECK_FAILED, "%s", e.message);
        /* the signed root hash must be the one the layer's data and hash tree give */
        _cleanup_close_ int hfd = open(p->hash_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (hfd < 0)
                return set(c, INGOT_CHECK_FAILED, "%s: %s", p->hash_path, strerror(errno));
        struct verity_info vi;
        if (verity_check(&(struct verity_region) { .name = path, .fd = fd, .offset = p->data_offset,
                                                   .size = p->data_size },
                         &(struct verity_region) { .name = p->hash_path, .fd = hfd, .offset = p->hash_offset,
                                                   .size = p->hash_size },
                         &vi, &e) < 0)
                return set(c, INGOT_CHECK_FAILED, "%s", e.message);
        char computed[129], fp[65];
        hex_encode(vi.root_hash, vi.root_hash_size, computed);
        if (strcmp(computed, vs.root_hash) != 0)
                return set(c, INGOT_CHECK_FAILED, "the signed root hash %.16s... is not the layer's %.16s...",
                           vs.root_hash, computed);
        if (signature_check_der(vs.signature, vs.signature_size, p->ddi ? "the signature partition" : path,
                                vs.root_hash, cert, fp, &e) < 0)
                return set(c, INGOT_CHECK_FAILED, "%s", e.message);
        if (cert)
                return set(c, INGOT_CHECK_OK, "root hash %.16s... signed by %s (SHA-256 %s)", vs.root_hash, cert, fp);
        set(c, INGOT_CHECK_OK, "intact, signer SHA-256 %s; not checked against a trusted certificate (--cert)", fp);
}

/* Compatibility, from the layer's one extension-release file; its lines into rep->release. */
static int check_release(struct ingot_sysext_report *rep, struct squashfs_reader *layer, char **release_files,
                         const struct sysext_base *base, struct ingot_error *err) {
        struct ingot_check *compat = check(rep, "compatibility");
        if (strv_length(release_files) != 1) {
                set(compat, INGOT_CHECK_FAILED, "%s extension-release files in %s: systemd-sysext wants exactly one",
                    release_files ? "several" : "no", EXTENSION_RELEASE_DIR);
                return 0;
        }
        _cleanup_free_ char *text = NULL;
        const char *file = strrchr(release_files[0], '/') + 1;
        snprintf(rep->release_name, sizeof(rep->release_name), "%s", file);
        int r = squashfs_reader_read_file(layer, release_files[0] + 1, 64 * 1024, &text, err);
        if (r < 0)
                return r;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (line[0] == '#' || !strchr(line, '='))
                        continue;
                r = strv_extend(&rep->release, line);
                if (r < 0)
                        return r;
        }
        check_compatibility(compat, rep->release, base, file + strlen("extension-release."));
        return 0;
}

/* The files of the base the layer replaces, against its AllowShadow=; skipped without the base's image. */
static void check_shadowing(struct ingot_sysext_report *rep, bool have_base_image, const char *base_manifest) {
        struct ingot_check *sh = check(rep, "shadowing");
        size_t n = strv_length(rep->shadowed), ok = strv_length(rep->shadowed_allowed);
        if (!have_base_image)
                set(sh, INGOT_CHECK_SKIPPED, "the base's image is not beside %s: its files are unknown", base_manifest);
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
}

int ingot_sysext_check(const char *path, const char *base_manifest, const char *cert, struct ingot_sysext_report *rep,
                       struct ingot_error *err) {
        *rep = (struct ingot_sysext_report) { 0 };
        _cleanup_(sysext_base_clear) struct sysext_base base = { 0 };
        int r = sysext_base_load(base_manifest, &base, err);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_(image_parts_clear) struct image_parts parts = { 0 };
        _cleanup_(squashfs_reader_freep) struct squashfs_reader *base_image = NULL;
        _cleanup_(squashfs_reader_freep) struct squashfs_reader *layer = NULL;
        _cleanup_close_ int bfd = -1;
        _cleanup_strv_free_ char **allowed = NULL;
        _cleanup_(walk_done) struct walk w = { .rep = rep, .err = err };
        if (fd < 0)
                return error_set(err, -errno, "%s: %s", path, strerror(errno));
        r = image_parts_find(path, fd, &parts, err);
        if (r < 0)
                return r;
        r = squashfs_reader_open(fd, parts.data_offset, parts.data_size, &layer, err);
        if (r < 0)
                return prefix_error(err, r, path);
        if (base.image) {
                bfd = open(base.image, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (bfd < 0)
                        return error_set(err, -errno, "%s: %s", base.image, strerror(errno));
                r = squashfs_reader_open(bfd, 0, 0, &base_image, err);
                if (r < 0)
                        return prefix_error(err, r, base.image);
        }
        w.base = base_image;
        w.allowed = allowed = manifest_allowed(path);
        r = squashfs_reader_walk(layer, visit, &w, err);
        if (r < 0)
                return prefix_error(err, r, path);
        r = check_release(rep, layer, w.release_files, &base, err);
        if (r < 0)
                return r;
        check_shadowing(rep, base_image != NULL, base_manifest);
        check_signature(check(rep, "signature"), path, fd, &parts, cert);
        for (size_t i = 0; i < rep->n_checks; i++)
                if (rep->checks[i].state == INGOT_CHECK_FAILED)
                        return -EBADMSG;
        return 0;
}
