/* publish.c: `ingot publish`: a build's signed images and sidecars copied into a release directory a web
 * server serves as is; then SHA256SUMS, its signature and the signed index, last, so readers never see
 * an index naming a file that is not complete. */
#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <string.h>
#include <sys/stat.h>

#include "artifact.h"
#include "json-util.h"
#include "release.h"
#include "signing.h"

#define SUMS "SHA256SUMS"

struct sum {
        char name[256];
        char hex[65];
};

struct publish {
        const char *dest;
        struct release_index idx;
        struct sum *sums;
        size_t n_sums;
        struct artifact *new_files;
        size_t n_new;
};

static void publish_clear(struct publish *p) {
        release_index_clear(&p->idx);
        free(p->sums);
        for (size_t i = 0; i < p->n_new; i++)
                artifact_discard(&p->new_files[i]);
        free(p->new_files);
}

static struct sum *sum_find(struct publish *p, const char *name) {
        for (size_t i = 0; i < p->n_sums; i++)
                if (strcmp(p->sums[i].name, name) == 0)
                        return &p->sums[i];
        return NULL;
}

static int sum_put(struct publish *p, const char *name, const char *hex) {
        struct sum *s = sum_find(p, name);
        if (!s) {
                struct sum *n = realloc(p->sums, (p->n_sums + 1) * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                p->sums = n;
                s = &p->sums[p->n_sums++];
        }
        snprintf(s->name, sizeof(s->name), "%s", name);
        snprintf(s->hex, sizeof(s->hex), "%s", hex);
        return 0;
}

static int by_name(const void *a, const void *b) {
        return strcmp(((const struct sum *) a)->name, ((const struct sum *) b)->name);
}

/* DEST/name, or NULL text when DEST has none yet. */
static int read_dest_file(struct publish *p, const char *name, char **ret_path, char **ret_text,
                          struct ingot_error *err) {
        *ret_text = NULL;
        if (!(*ret_path = path_join(p->dest, name)))
                return -ENOMEM;
        int r = read_text_file(*ret_path, 64 << 20, ret_text);
        if (r == -ENOENT)
                return 0;
        return r < 0 ? error_set(err, r, "%s: %s", *ret_path, strerror(-r)) : 0;
}

/* DEST/SHA256SUMS as sha256sum writes it: "HEX  NAME" (or "HEX *NAME", binary mode) per line. */
static int read_sums(struct publish *p, struct ingot_error *err) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r = read_dest_file(p, SUMS, &path, &text, err);
        if (r < 0 || !text)
                return r;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *sep = strchr(line, ' ');
                if (!sep || sep - line != 64 || (sep[1] != ' ' && sep[1] != '*') || !sep[2])
                        return error_set(err, -EBADMSG, "%s: not in sha256sum's format: %.80s", path, line);
                *sep = 0;
                r = sum_put(p, sep + 2, line);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int read_index(struct publish *p, struct ingot_error *err) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r = read_dest_file(p, RELEASE_INDEX, &path, &text, err);
        if (r < 0 || !text)
                return r;
        return release_index_parse(text, path, RELEASE_PUBLISHER, &p->idx, err);
}

static struct artifact *new_artifact(struct publish *p) {
        struct artifact *n = realloc(p->new_files, (p->n_new + 1) * sizeof(*n));
        if (!n)
                return NULL;
        p->new_files = n;
        n[p->n_new] = (struct artifact) { .fd = -1 };
        return &n[p->n_new++];
}

static int copy_into(struct artifact *a, const char *src, struct ingot_error *err) {
        _cleanup_close_ int fd = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return error_set(err, -errno, "%s: %s", src, strerror(errno));
        for (;;) {
                ssize_t n = copy_file_range(fd, NULL, a->fd, NULL, 1 << 30, 0);
                if (n == 0)
                        return 0;
                if (n > 0)
                        continue;
                if (errno == EINTR)
                        continue;
                if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
                        return error_set(err, -errno, "%s: copying to %s: %s", src, a->tmp, strerror(errno));
                break; /* another file system that cannot: copy by hand */
        }
        static uint8_t buf[1 << 20];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return error_set(err, -errno, "%s: %s", src, strerror(errno));
                if (n == 0)
                        return 0;
                int r = artifact_write(a, buf, (size_t) n, err);
                if (r < 0)
                        return r;
        }
}

/* One file of an image into DEST: copied under a temporary name, or, when DEST has it, checked to be
 * the same bytes (a published file never changes: caches and CDNs keep it). */
static int put_file(struct publish *p, const char *dir, const char *name, char ret_hex[65], uint64_t *ret_size,
                    struct ingot_error *err) {
        _cleanup_free_ char *src = path_join(dir, name), *dst = path_join(p->dest, name);
        if (!src || !dst)
                return -ENOMEM;
        int r = sha256_file(src, ret_hex, ret_size);
        if (r < 0)
                return error_set(err, r, "%s: %s", src, strerror(-r));
        if (access(dst, F_OK) == 0) {
                const struct sum *s = sum_find(p, name);
                char have[65];
                uint64_t size;
                if (s)
                        snprintf(have, sizeof(have), "%s", s->hex);
                else if ((r = sha256_file(dst, have, &size)) < 0)
                        return error_set(err, r, "%s: %s", dst, strerror(-r));
                if (strcmp(have, ret_hex) != 0)
                        return error_set(err, -EEXIST,
                                         "%s exists with other bytes than %s; a published version never changes: "
                                         "build and publish a new version",
                                         dst, src);
        } else {
                struct artifact *a = new_artifact(p);
                if (!a)
                        return -ENOMEM;
                r = artifact_open(a, p->dest, name, err);
                if (r < 0)
                        return r;
                r = copy_into(a, src, err);
                if (r < 0)
                        return r;
        }
        return sum_put(p, name, ret_hex);
}

static int manifest_identity(const char *path, struct release_entry *e, struct ingot_error *err) {
        _cleanup_json_ json_object *m = json_object_from_file(path);
        json_object *v;
        const char *name = m && json_object_object_get_ex(m, "name", &v) ? json_object_get_string(v) : NULL;
        const char *version = m && json_object_object_get_ex(m, "version", &v) ? json_object_get_string(v) : NULL;
        if (!name || !version || !*version || strlen(name) >= sizeof(e->name) || strlen(version) >= sizeof(e->version))
                return error_set(err, -EBADMSG, "%s: no name and version (every build writes them)", path);
        snprintf(e->name, sizeof(e->name), "%s", name);
        snprintf(e->version, sizeof(e->version), "%s", version);
        return 0;
}

/* The image's block index, when its build wrote one: into DEST before the image, its digest into e. */
static int publish_block_index(struct publish *p, const char *outdir, const char *base, struct release_entry *e,
                               struct ingot_error *err) {
        char name[sizeof(e->blocks)];
        snprintf(name, sizeof(name), "%s.blocks", base);
        _cleanup_free_ char *path = path_join(outdir, name);
        if (!path)
                return -ENOMEM;
        if (access(path, F_OK) < 0)
                return errno == ENOENT ? 0 : error_set(err, -errno, "%s: %s", path, strerror(errno));
        uint64_t size;
        int r = put_file(p, outdir, name, e->blocks_sha256, &size, err);
        if (r < 0)
                return r;
        snprintf(e->blocks, sizeof(e->blocks), "%s", name);
        return 0;
}

/* One signed image of outdir (base: NAME_VERSION): its files into DEST, its entry into the index. */
static int publish_image(struct publish *p, const char *outdir, const char *base, char ***versions,
                         struct ingot_error *err) {
        struct release_entry e = { .size = 0 };
        const struct { const char *suffix; char *name; } files[] = {
                { ".verity", e.verity },           { ".roothash", e.roothash },
                { ".roothash.p7s", e.signature },  { ".manifest.json", e.manifest },
                { ".raw", e.image }, /* last: the image is renamed after everything that describes it */
        };
        for (size_t k = 0; k < ELEMENTSOF(files); k++)
                snprintf(files[k].name, sizeof(e.image), "%s%s", base, files[k].suffix);
        _cleanup_free_ char *manifest = path_join(outdir, e.manifest), *roothash = path_join(outdir, e.roothash),
                            *p7s = path_join(outdir, e.signature), *text = NULL;
        if (!manifest || !roothash || !p7s)
                return -ENOMEM;
        int r = manifest_identity(manifest, &e, err);
        if (r < 0)
                return r;
        r = read_text_file(roothash, 256, &text);
        if (r < 0)
                return error_set(err, r, "%s: %s", roothash, strerror(-r));
        snprintf(e.root_hash, sizeof(e.root_hash), "%.*s", (int) strcspn(text, "\n"), text);
        r = signature_check(p7s, e.root_hash, NULL, e.signer, err);
        if (r < 0)
                return r;
        r = publish_block_index(p, outdir, base, &e, err); /* before the image, as the other files */
        if (r < 0)
                return r;
        char hex[65];
        uint64_t size;
        for (size_t k = 0; k < ELEMENTSOF(files); k++) {
                r = put_file(p, outdir, files[k].name, hex, &size, err);
                if (r < 0)
                        return r;
                if (files[k].name == e.verity)
                        e.verity_size = size;
                if (files[k].name == e.image) {
                        e.size = size;
                        snprintf(e.sha256, sizeof(e.sha256), "%s", hex);
                }
        }
        r = release_index_put(&p->idx, &e);
        return r < 0 ? r : strv_extend(versions, e.version);
}

static int scan_outdir(struct publish *p, const char *outdir, char ***versions, struct ingot_error *err) {
        _cleanup_(dirent_list_done) struct dirent_list d = { 0 };
        d.n = scandir(outdir, &d.names, NULL, alphasort);
        if (d.n < 0)
                return error_set(err, -errno, "%s: %s", outdir, strerror(errno));
        for (int i = 0; i < d.n; i++) {
                const char *name = d.names[i]->d_name;
                size_t len = strlen(name);
                if (name[0] == '.' || len <= 4 || strcmp(name + len - 4, ".raw") != 0)
                        continue;
                _cleanup_free_ char *base = strndup(name, len - 4), *p7s = NULL;
                if (!base || asprintf(&p7s, "%s/%s.roothash.p7s", outdir, base) < 0)
                        return -ENOMEM;
                if (access(p7s, F_OK) < 0)
                        continue; /* unsigned: no host would take it */
                int r = publish_image(p, outdir, base, versions, err);
                if (r < 0)
                        return r;
        }
        if (!*versions)
                return error_set(err, -ENOENT, "%s: no signed image (NAME_VERSION.raw with .roothash.p7s) to publish",
                                 outdir);
        return 0;
}

/* A list and, before it, its detached signature. */
static int list_write_signed(struct artifact_set *l, const char *dir, const struct signer *s, const char *name,
                             const char *text, struct ingot_error *err) {
        _cleanup_free_ uint8_t *der = NULL;
        _cleanup_free_ char *sig_name = NULL;
        size_t der_size = 0;
        if (asprintf(&sig_name, "%s.p7s", name) < 0)
                return -ENOMEM;
        int r = signer_sign(s, text, &der, &der_size, err);
        if (r < 0)
                return r;
        r = artifact_set_add(l, dir, sig_name, der, der_size, err);
        if (r < 0)
                return r;
        return artifact_set_add(l, dir, name, text, strlen(text), err);
}

/* SHA256SUMS and the index, each with its detached signature; the index renamed last. */
static int write_lists(struct publish *p, const struct signer *s, struct ingot_error *err) {
        qsort(p->sums, p->n_sums, sizeof(*p->sums), by_name);
        _cleanup_free_ char *sums = NULL, *index = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&sums, &len);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_sums; i++)
                fprintf(f, "%s  %s\n", p->sums[i].hex, p->sums[i].name);
        if (fclose(f) != 0)
                return -ENOMEM;
        int r = release_index_format(&p->idx, &index);
        if (r < 0)
                return r;
        _cleanup_(artifact_set_discard) struct artifact_set l = { .n = 0 };
        r = list_write_signed(&l, p->dest, s, SUMS, sums ?: "", err);
        if (r < 0)
                return r;
        r = list_write_signed(&l, p->dest, s, RELEASE_INDEX, index, err);
        if (r < 0)
                return r;
        return artifacts_commit(l.a, l.n, err); /* SHA256SUMS.p7s, SHA256SUMS, index.json.p7s, index.json */
}

/* DEST's lists read, outdir's signed images copied in and committed, then the lists written; what this
 * publish put under a temporary name and did not rename is removed when it fails. */
static int publish_into(const char *dest, const char *outdir, const struct ingot_publish_options *o,
                        const struct signer *s, char ***versions, struct ingot_error *err) {
        _cleanup_(publish_clear) struct publish p = { .dest = dest };
        int r = read_index(&p, err);
        if (r < 0)
                return r;
        r = read_sums(&p, err);
        if (r < 0)
                return r;
        if (o->min_version)
                snprintf(p.idx.min_version, sizeof(p.idx.min_version), "%s", o->min_version);
        p.idx.expires = o->expires; /* every publish starts the index's life again */
        r = scan_outdir(&p, outdir, versions, err);
        if (r < 0)
                return r;
        r = artifacts_commit(p.new_files, p.n_new, err); /* the files, before anything lists them */
        if (r < 0)
                return r;
        return write_lists(&p, s, err);
}

int ingot_publish(const char *outdir, const char *dest, const struct ingot_publish_options *o, char ***ret_versions,
                  struct ingot_error *err) {
        if (!o->key_path || !o->cert_path)
                return error_set(err, -ENOKEY, "publishing signs the index: give a key and a certificate");
        if (o->expires <= 0 || o->expires > UTC_TIME_LAST)
                return error_set(err, -EINVAL, "the index needs an expiry between 1970 and 9999, not %lld seconds",
                                 (long long) o->expires);
        _cleanup_(signer_freep) struct signer *s = NULL;
        int r = signer_load(o->key_path, o->cert_path, &s, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *made = NULL; /* dest, when this publish made it */
        r = mkdir_p_made(dest, 0755, &made);
        if (r < 0)
                return error_set(err, r, "%s: %s", dest, strerror(-r));
        _cleanup_strv_free_ char **versions = NULL;
        r = publish_into(dest, outdir, o, s, &versions, err);
        if (r < 0) {
                mkdir_p_undo(dest, made); /* a directory this publish made goes again; one that was there stays */
                return r;
        }
        if (ret_versions)
                *ret_versions = TAKE_PTR(versions);
        return 0;
}
