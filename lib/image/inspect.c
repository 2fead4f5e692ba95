/* inspect.c: `ingot inspect`: what a person asks first about an image, read from the image's own
 * squashfs superblock (libsquashfs), its verity superblock (libcryptsetup) and its manifest. */
#include <fcntl.h>
#include <json-c/json.h>
#include <sqfs/compressor.h>
#include <sqfs/error.h>
#include <sqfs/io.h>
#include <sqfs/super.h>
#include <string.h>
#include <sys/stat.h>

#include "ddi.h"
#include "json-util.h"
#include "roothash.h"
#include "squashfs-read.h"
#include "squashfs.h"
#include "verity-sig.h"

static json_object *get(json_object *o, const char *key) {
        json_object *v = NULL;
        return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static json_object *copy(json_object *o, const char *key) {
        json_object *v = get(o, key), *c = NULL;
        if (v && json_object_deep_copy(v, &c, NULL) == 0)
                return c;
        return NULL;
}

int ingot_inspect(const char *image_path, char **ret_json, struct ingot_error *err) {
        _cleanup_close_ int fd = open(image_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return error_set(err, -errno, "%s: %s", image_path, strerror(errno));
        struct stat st;
        if (fstat(fd, &st) < 0)
                return error_set(err, -errno, "%s: %s", image_path, strerror(errno));
        _cleanup_(image_parts_clear) struct image_parts parts = { 0 };
        int e = image_parts_find(image_path, fd, &parts, err);
        if (e < 0)
                return e;
        _cleanup_(squashfs_reader_freep) struct squashfs_reader *rd = NULL;
        if (squashfs_reader_open(fd, parts.data_offset, parts.data_size, &rd, NULL) < 0)
                return error_set(err, -EBADMSG, "%s: not a squashfs image%s (superblock unreadable)", image_path,
                                 parts.ddi ? " in its root partition" : "");
        const sqfs_super_t super = *squashfs_reader_super(rd);

        _cleanup_free_ char *base = image_sidecar_base(image_path);
        _cleanup_free_ char *manifest_path = NULL, *roothash_path = NULL, *verity_path = NULL, *sig_path = NULL;
        if (!base || asprintf(&manifest_path, "%s.manifest.json", base) < 0 ||
            asprintf(&roothash_path, "%s.roothash", base) < 0 || asprintf(&verity_path, "%s.verity", base) < 0 ||
            asprintf(&sig_path, "%s.roothash.p7s", base) < 0)
                return -ENOMEM;
        _cleanup_json_ json_object *m = json_object_from_file(manifest_path); /* may be NULL: say what the image says */

        _cleanup_json_ json_object *o = json_object_new_object();
        json_object_object_add(o, "image", json_object_new_string(image_path));
        json_object_object_add(o, "name", copy(m, "name"));
        json_object_object_add(o, "version", copy(m, "version"));
        json_object_object_add(o, "size", json_object_new_int64(st.st_size));
        json_object *os = get(m, "os_release");
        json_object_object_add(o, "pretty_name", copy(os, "PRETTY_NAME"));
        json_object_object_add(o, "architecture", copy(m, "architecture"));

        json_object *sq = json_object_new_object();
        json_object_object_add(sq, "compression", json_object_new_string(compressor_name(super.compression_id)));
        json_object_object_add(sq, "block_size", json_object_new_int64(super.block_size));
        json_object_object_add(sq, "inodes", json_object_new_int64(super.inode_count));
        json_object_object_add(sq, "bytes_used", json_object_new_int64((int64_t) super.bytes_used));
        json_object_object_add(sq, "created", json_object_new_int64(super.modification_time));
        json_object_object_add(o, "squashfs", sq);

        char hex[ROOT_HASH_MAX + 1] = "";
        if (root_hash_read(roothash_path, hex, NULL) < 0)
                *hex = 0; /* missing or not a root hash: inspect says there is none */
        bool is_signed = access(sig_path, F_OK) == 0;
        if (parts.ddi) { /* the signature partition says both */
                _cleanup_(verity_sig_clear) struct verity_sig vs = { 0 };
                is_signed = image_signature_read(image_path, fd, &parts, &vs, NULL) >= 0;
                if (is_signed)
                        snprintf(hex, sizeof(hex), "%s", vs.root_hash);
        }
        json_object_object_add(o, "root_hash", *hex ? json_object_new_string(hex) : NULL);
        json_object_object_add(o, "signed", json_object_new_boolean(is_signed));
        json_object_object_add(o, "signer_fingerprint", copy(m, "signer_fingerprint"));
        json_object_object_add(o, "verity", copy(m, "verity"));

        json_object *contents = get(m, "contents"), *packages = get(m, "packages");
        json_object_object_add(o, "files", copy(contents, "files"));
        json_object_object_add(o, "file_bytes", copy(contents, "bytes"));
        json_object_object_add(o, "packages", packages && json_object_is_type(packages, json_type_array)
                                                      ? json_object_new_int((int) json_object_array_length(packages))
                                                      : NULL);
        json_object *kernels = get(m, "kernel_versions"); /* an array or nothing: the CLI prints its length */
        json_object_object_add(o, "kernel_versions",
                               json_object_is_type(kernels, json_type_array) ? copy(m, "kernel_versions") : NULL);
        json_object_object_add(o, "manifest", m ? json_object_new_string(manifest_path) : NULL);

        /* a layer: its format, partitions and extension-release, read from the layer itself */
        json_object *ext = get(m, "extension");
        const char *release = json_object_get_string(get(ext, "release_file"));
        json_object_object_add(o, "kind", m ? copy(m, "kind") : NULL);
        json_object_object_add(o, "format", json_object_new_string(parts.ddi ? "ddi" : "squashfs"));
        if (parts.ddi) {
                json_object *pa = json_object_new_object();
                json_object_object_add(pa, "data_offset", json_object_new_int64((int64_t) parts.data_offset));
                json_object_object_add(pa, "data_size", json_object_new_int64((int64_t) parts.data_size));
                json_object_object_add(pa, "verity_offset", json_object_new_int64((int64_t) parts.hash_offset));
                json_object_object_add(pa, "verity_size", json_object_new_int64((int64_t) parts.hash_size));
                json_object_object_add(pa, "signature_offset",
                                       parts.has_sig ? json_object_new_int64((int64_t) parts.sig_offset) : NULL);
                json_object_object_add(o, "partitions", pa);
        }
        if (release && !strchr(release, '/')) {
                _cleanup_free_ char *path = NULL, *text = NULL;
                json_object *lines = json_object_new_array();
                if (asprintf(&path, "usr/lib/extension-release.d/%s", release) >= 0 &&
                    squashfs_reader_read_file(rd, path, 64 * 1024, &text, NULL) >= 0) {
                        char *save = NULL;
                        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                                json_object_array_add(lines, json_object_new_string(l));
                }
                json_object_object_add(o, "extension_release", lines);
                json_object_object_add(o, "base", copy(ext, "base"));
                json_object_object_add(o, "allow_shadow", copy(ext, "allow_shadow"));
        }

        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE);
        *ret_json = s ? strdup(s) : NULL;
        return *ret_json ? 0 : -ENOMEM;
}
