/* verify.c: `ingot verify`: an image against its hash tree, root hash, signature and manifest, each
 * check independent so that the report names everything that is wrong, not only the first thing. */
#include <fcntl.h>
#include <json-c/json.h>
#include <string.h>
#include <sys/stat.h>

#include "ddi.h"
#include "json-util.h"
#include "roothash.h"
#include "signing.h"
#include "verify.h"
#include "verity-sig.h"

struct sidecars {
        char *base; /* OUTDIR/NAME_VERSION */
        char *verity, *roothash, *signature, *manifest;
};

static void sidecars_free(struct sidecars *s) {
        free(s->base);
        free(s->verity);
        free(s->roothash);
        free(s->signature);
        free(s->manifest);
}

#define check(rep, name) check_add((rep)->checks, &(rep)->n_checks, name)
#define set check_set

void verify_signature_ok(struct ingot_check *sig, struct ingot_verify_report *rep, const char *cert_path) {
        rep->trusted = cert_path != NULL;
        if (cert_path)
                set(sig, INGOT_CHECK_OK, "signed by %s (SHA-256 %s)", cert_path, rep->signer_fingerprint);
        else
                set(sig, INGOT_CHECK_OK, "intact, signer SHA-256 %s; not checked against a trusted certificate (--cert)",
                    rep->signer_fingerprint);
}

void verify_root_hash(struct ingot_check *root, const char *signed_hash, const char *source,
                      const struct verity_info *info) {
        char computed[129] = "";
        if (info)
                hex_encode(info->root_hash, info->root_hash_size, computed);
        if (!info)
                set(root, INGOT_CHECK_SKIPPED, "the hash tree does not match the image");
        else if (strcmp(computed, signed_hash) != 0)
                set(root, INGOT_CHECK_FAILED, "the root hash in %s does not match the hash tree (which gives %s)", source,
                    computed);
        else
                set(root, INGOT_CHECK_OK, "%s (%s)", signed_hash, source);
}

static const char *jstr(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
                       ? json_object_get_string(v)
                       : NULL;
}

static void check_manifest(struct ingot_check *c, const struct sidecars *sc, const char *image_path,
                           const struct ingot_verify_report *rep, const struct verity_info *info, bool have_info) {
        _cleanup_json_ json_object *m = json_object_from_file(sc->manifest);
        if (!m) {
                set(c, INGOT_CHECK_FAILED, "%s: missing or not JSON", sc->manifest);
                return;
        }
        json_object *v, *arts;
        const char *file = strrchr(image_path, '/') ? strrchr(image_path, '/') + 1 : image_path;
        _cleanup_free_ char *expected_file = NULL;
        if (asprintf(&expected_file, "%s_%s.raw", jstr(m, "name") ?: "?", jstr(m, "version") ?: "?") < 0)
                expected_file = NULL;
        char salt[2 * 256 + 1] = "";
        if (have_info)
                hex_encode(info->salt, info->salt_size, salt);
        size_t n_artifacts = 0;

        if (!json_object_object_get_ex(m, "manifest_version", &v) || json_object_get_int(v) != 1)
                set(c, INGOT_CHECK_FAILED, "%s: manifest_version is not 1", sc->manifest);
        else if (!expected_file || strcmp(expected_file, file) != 0)
                set(c, INGOT_CHECK_FAILED, "%s: name and version say %s, the image is %s", sc->manifest,
                    expected_file ?: "?", file);
        else if (!streq_ptr(jstr(m, "root_hash"), rep->root_hash))
                set(c, INGOT_CHECK_FAILED, "%s: root_hash differs from %s", sc->manifest, sc->roothash);
        else if (*rep->signer_fingerprint && !streq_ptr(jstr(m, "signer_fingerprint"), rep->signer_fingerprint))
                set(c, INGOT_CHECK_FAILED, "%s: signer_fingerprint is not the signer of %s", sc->manifest,
                    sc->signature);
        else if (json_object_object_get_ex(m, "verity", &v) && have_info && !streq_ptr(jstr(v, "salt"), salt))
                set(c, INGOT_CHECK_FAILED, "%s: verity.salt is not the salt in %s", sc->manifest, sc->verity);
        else if (!json_object_object_get_ex(m, "artifacts", &arts) || !json_object_is_type(arts, json_type_object))
                set(c, INGOT_CHECK_FAILED, "%s: no artifacts", sc->manifest);
        else {
                _cleanup_free_ char *dir = dirname_dup(image_path);
                json_object_object_foreach(arts, kind, a) {
                        const char *name = jstr(a, "file"), *sum = jstr(a, "sha256");
                        _cleanup_free_ char *path = name && dir && !strchr(name, '/') ? path_join(dir, name) : NULL;
                        char actual[65];
                        uint64_t size;
                        if (!path || !sum) {
                                set(c, INGOT_CHECK_FAILED, "%s: artifact '%s' lacks a file name or sha256",
                                    sc->manifest, kind);
                                break;
                        }
                        if (sha256_file(path, actual, &size) < 0) {
                                set(c, INGOT_CHECK_FAILED, "%s: cannot read %s", sc->manifest, path);
                                break;
                        }
                        if (strcmp(actual, sum) != 0) {
                                set(c, INGOT_CHECK_FAILED, "%s: sha256 of %s does not match", sc->manifest, name);
                                break;
                        }
                        n_artifacts++;
                }
                if (c->state == INGOT_CHECK_OK)
                        set(c, INGOT_CHECK_OK, "%zu artifacts match their sha256", n_artifacts);
        }
}

/* A DDI layer: the tree in its verity partition, the root hash and signature in its signature
 * partition (or, unsigned, in IMAGE.roothash beside it), the manifest beside it. */
static void verify_ddi(const char *image_path, int fd, const struct image_parts *p, const struct sidecars *sc,
                       const char *cert_path, struct ingot_verify_report *rep) {
        struct ingot_check *tree = check(rep, "hash tree");
        struct verity_info info;
        struct ingot_error e = { 0 };
        bool have_info = verity_check(&(struct verity_region) { .name = image_path, .fd = fd, .offset = p->data_offset,
                                                                .size = p->data_size },
                                      &(struct verity_region) { .name = image_path, .fd = fd, .offset = p->hash_offset,
                                                                .size = p->hash_size },
                                      &info, &e) >= 0;
        if (have_info)
                set(tree, INGOT_CHECK_OK, "%llu data blocks of %u bytes, %s (root and root-verity partitions)",
                    (unsigned long long) info.data_blocks, info.data_block_size, info.hash_name);
        else
                set(tree, INGOT_CHECK_FAILED, "%s", e.message);

        struct ingot_check *root = check(rep, "root hash");
        _cleanup_(verity_sig_clear) struct verity_sig vs = { 0 };
        e = (struct ingot_error) { 0 };
        int sr = image_signature_read(image_path, fd, p, &vs, &e);
        const char *source = "the signature partition";
        if (sr == -ENODATA) {
                source = sc->roothash;
                if (root_hash_read(sc->roothash, rep->root_hash, NULL) < 0)
                        *rep->root_hash = 0;
        } else if (sr >= 0)
                snprintf(rep->root_hash, sizeof(rep->root_hash), "%s", vs.root_hash);
        if (sr < 0 && sr != -ENODATA)
                set(root, INGOT_CHECK_FAILED, "%s", e.message);
        else if (!*rep->root_hash)
                set(root, INGOT_CHECK_FAILED, "unsigned, and no root hash in %s", sc->roothash);
        else
                verify_root_hash(root, rep->root_hash, source, have_info ? &info : NULL);

        struct ingot_check *sig = check(rep, "signature");
        if (sr == -ENODATA)
                set(sig, cert_path ? INGOT_CHECK_FAILED : INGOT_CHECK_SKIPPED, "unsigned: no signature partition payload");
        else if (sr < 0)
                set(sig, INGOT_CHECK_SKIPPED, "the signature partition cannot be read");
        else if (signature_check_der(vs.signature, vs.signature_size, "the signature partition", vs.root_hash,
                                     cert_path, rep->signer_fingerprint, &e) < 0)
                set(sig, INGOT_CHECK_FAILED, "%s", e.message);
        else
                verify_signature_ok(sig, rep, cert_path);
        check_manifest(check(rep, "manifest"), sc, image_path, rep, &info, have_info);
}

/* -EBADMSG when any check failed, else 0. */
static int report_result(const struct ingot_verify_report *rep) {
        for (size_t i = 0; i < rep->n_checks; i++)
                if (rep->checks[i].state == INGOT_CHECK_FAILED)
                        return -EBADMSG;
        return 0;
}

/* A DDI at fd: its partitions, or that they cannot be found as the hash tree's failure. */
static int verify_layer(const char *image_path, int fd, const struct sidecars *sc, const char *cert_path,
                        struct ingot_verify_report *rep) {
        _cleanup_(image_parts_clear) struct image_parts parts = { 0 };
        struct ingot_error pe = { 0 };
        if (image_parts_find(image_path, fd, &parts, &pe) < 0) {
                set(check(rep, "hash tree"), INGOT_CHECK_FAILED, "%s", pe.message);
                check_manifest(check(rep, "manifest"), sc, image_path, rep, NULL, false);
        } else
                verify_ddi(image_path, fd, &parts, sc, cert_path, rep);
        return report_result(rep);
}

int ingot_verify(const char *image_path, const char *cert_path, struct ingot_verify_report *rep) {
        *rep = (struct ingot_verify_report) { 0 };
        _cleanup_(sidecars_free) struct sidecars sc = { 0 };
        sc.base = image_sidecar_base(image_path);
        if (!sc.base || asprintf(&sc.verity, "%s.verity", sc.base) < 0 ||
            asprintf(&sc.roothash, "%s.roothash", sc.base) < 0 ||
            asprintf(&sc.signature, "%s.roothash.p7s", sc.base) < 0 ||
            asprintf(&sc.manifest, "%s.manifest.json", sc.base) < 0)
                return -ENOMEM;

        {
                _cleanup_close_ int fd = open(image_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd >= 0 && ddi_detect(fd))
                        return verify_layer(image_path, fd, &sc, cert_path, rep);
        }

        /* hash tree: every data block and tree block */
        struct ingot_check *tree = check(rep, "hash tree");
        struct verity_info info;
        struct ingot_error e = { 0 };
        bool have_info = false;
        {
                _cleanup_close_ int dfd = open(image_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                _cleanup_close_ int hfd = open(sc.verity, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (dfd < 0 || hfd < 0)
                        error_set(&e, -errno, "%s: %s", dfd < 0 ? image_path : sc.verity, strerror(errno));
                else
                        have_info = verity_check(&(struct verity_region) { .name = image_path, .fd = dfd },
                                                 &(struct verity_region) { .name = sc.verity, .fd = hfd }, &info,
                                                 &e) >= 0;
        }
        if (have_info)
                set(tree, INGOT_CHECK_OK, "%llu data blocks of %u bytes, %s", (unsigned long long) info.data_blocks,
                    info.data_block_size, info.hash_name);
        else
                set(tree, INGOT_CHECK_FAILED, "%s", e.message);

        /* root hash */
        struct ingot_check *root = check(rep, "root hash");
        struct ingot_error re = { 0 };
        int r = root_hash_read(sc.roothash, rep->root_hash, &re);
        if (r < 0) {
                *rep->root_hash = 0;
                set(root, INGOT_CHECK_FAILED, "%s", re.message);
        }
        else if (!have_info)
                set(root, INGOT_CHECK_SKIPPED, "the hash tree does not match the image");
        else {
                char computed[129];
                hex_encode(info.root_hash, info.root_hash_size, computed);
                if (strcmp(computed, rep->root_hash) != 0)
                        set(root, INGOT_CHECK_FAILED, "%s does not match the hash tree (which gives %s)", sc.roothash,
                            computed);
                else
                        set(root, INGOT_CHECK_OK, "%s", rep->root_hash);
        }

        /* signature over the hex root hash */
        struct ingot_check *sig = check(rep, "signature");
        struct stat st;
        if (stat(sc.signature, &st) < 0)
                set(sig, cert_path ? INGOT_CHECK_FAILED : INGOT_CHECK_SKIPPED, "unsigned: %s does not exist",
                    sc.signature);
        else if (root->state == INGOT_CHECK_FAILED && !*rep->root_hash)
                set(sig, INGOT_CHECK_SKIPPED, "no root hash to check it against");
        else {
                e = (struct ingot_error) { 0 };
                r = signature_check(sc.signature, rep->root_hash, cert_path, rep->signer_fingerprint, &e);
                if (r < 0)
                        set(sig, INGOT_CHECK_FAILED, "%s", e.message);
                else
                        verify_signature_ok(sig, rep, cert_path);
        }

        check_manifest(check(rep, "manifest"), &sc, image_path, rep, &info, have_info);
        return report_result(rep);
}
