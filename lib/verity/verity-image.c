/* verity-image.c: `ingot verity`: the hash tree and root hash of an existing image, hashed on all
 * cores and written beside it; with the image's manifest, the same salt and geometry as its build. */
#include <json-c/json.h>
#include <openssl/evp.h>
#include <string.h>

#include "artifact.h"
#include "json-util.h"
#include "verity.h"

/* The two sidecars: a temporary not renamed is removed (artifact_discard), in the order opened. */
static void sidecars_discard(struct artifact (*art)[2]) {
        artifact_discard(&(*art)[0]);
        artifact_discard(&(*art)[1]);
}

int ingot_verity(const char *image_path, unsigned jobs, char ret_root_hash[129], struct ingot_error *err) {
        _cleanup_free_ char *base = image_sidecar_base(image_path);
        _cleanup_free_ char *manifest = NULL, *dir = dirname_dup(image_path);
        if (!base || !dir || asprintf(&manifest, "%s.manifest.json", base) < 0)
                return -ENOMEM;
        const char *stem = strrchr(base, '/') ? strrchr(base, '/') + 1 : base;

        char hash_name[32] = "sha256";
        struct verity_params vp = { .hash_name = hash_name, .data_block_size = 4096, .hash_block_size = 4096 };
        uint8_t salt[256];
        size_t salt_size = 0;
        _cleanup_json_ json_object *m = json_object_from_file(manifest);
        json_object *v = NULL, *x;
        if (m && json_object_object_get_ex(m, "verity", &v)) { /* what the build used */
                if (json_object_object_get_ex(v, "salt", &x))
                        (void) hex_decode(json_object_get_string(x), salt, sizeof(salt), &salt_size);
                if (json_object_object_get_ex(v, "algorithm", &x))
                        snprintf(hash_name, sizeof(hash_name), "%s", json_object_get_string(x));
                if (json_object_object_get_ex(v, "data_block_size", &x))
                        vp.data_block_size = (uint32_t) json_object_get_int(x);
                if (json_object_object_get_ex(v, "hash_block_size", &x))
                        vp.hash_block_size = (uint32_t) json_object_get_int(x);
        }
        if (salt_size == 0) { /* no manifest: derived from the file's name, so reruns agree */
                _cleanup_free_ char *seed = NULL;
                int n = asprintf(&seed, "ingot verity salt%c%s", 0, stem);
                unsigned l;
                if (n < 0 || !EVP_Digest(seed, (size_t) n, salt, &l, EVP_sha256(), NULL))
                        return -ENOMEM;
                salt_size = 32;
        }
        vp.salt = salt;
        vp.salt_size = salt_size;
        if (jobs == 0) {
                long n = sysconf(_SC_NPROCESSORS_ONLN);
                jobs = n > 0 ? (unsigned) n : 1;
        }

        _cleanup_(sidecars_discard) struct artifact art[2] = { { .fd = -1 }, { .fd = -1 } };
        _cleanup_free_ char *verity_name = NULL, *roothash_name = NULL;
        if (asprintf(&verity_name, "%s.verity", stem) < 0 || asprintf(&roothash_name, "%s.roothash", stem) < 0)
                return -ENOMEM;
        int r = artifact_open(&art[0], dir, verity_name, err);
        if (r < 0)
                return r;
        r = artifact_open(&art[1], dir, roothash_name, err);
        if (r < 0)
                return r;
        uint8_t root[VERITY_DIGEST_MAX];
        size_t root_size = 0;
        uint64_t blocks;
        r = verity_format_file(&vp, image_path, art[0].tmp, art[0].fd, jobs, root, &root_size, &blocks, err);
        if (r < 0)
                return r;
        char hex[2 * VERITY_DIGEST_MAX + 2] = "";
        hex_encode(root, root_size, hex);
        strcat(hex, "\n");
        r = artifact_write(&art[1], hex, strlen(hex), err);
        if (r < 0)
                return r;
        hex[2 * root_size] = 0;
        r = artifacts_commit(art, 2, err);
        if (r < 0)
                return r;
        memcpy(ret_root_hash, hex, 129);
        return 0;
}
