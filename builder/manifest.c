/* manifest.c: the image's manifest as JSON (json-c), from the build's tree and results. */
#include <json-c/json.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "json-util.h"
#include "manifest.h"
#include "openssl-util.h"
#include "os-release.h"
#include "signing.h"

int recipe_digest(const struct ingot_recipe *r, char ret_hex[65]) {
        _cleanup_free_ char *text = NULL, *dir = dirname_dup(r->path);
        int q = ingot_recipe_to_ini(r, &text);
        if (q < 0)
                return q;
        if (!dir)
                return -ENOMEM;
        /* without comments (they name file:line) and with host paths relative to the recipe */
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
                return -ENOMEM;
        size_t dlen = strlen(dir);
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (line[0] == '#')
                        continue;
                char *eq = strchr(line, '=');
                if (eq && strncmp(eq + 1, dir, dlen) == 0 && eq[1 + dlen] == '/') {
                        EVP_DigestUpdate(ctx, line, (size_t) (eq + 1 - line));
                        EVP_DigestUpdate(ctx, eq + 2 + dlen, strlen(eq + 2 + dlen));
                } else
                        EVP_DigestUpdate(ctx, line, strlen(line));
                EVP_DigestUpdate(ctx, "\n", 1);
        }
        uint8_t md[32];
        unsigned len;
        if (!EVP_DigestFinal_ex(ctx, md, &len))
                return -EIO;
        hex_encode(md, 32, ret_hex);
        return 0;
}

/* systemd's architecture names (os-release ARCHITECTURE=, the DPS tables). */
static const char *architecture(void) {
        struct utsname u;
        if (uname(&u) < 0)
                return "unknown";
        static const struct {
                const char *machine, *name;
        } map[] = { { "x86_64", "x86-64" }, { "aarch64", "arm64" }, { "i686", "x86" }, { "riscv64", "riscv64" } };
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (strcmp(u.machine, map[i].machine) == 0)
                        return map[i].name;
        static char other[sizeof(u.machine)];
        snprintf(other, sizeof(other), "%s", u.machine);
        return other;
}

static json_object *os_release_object(struct build *b) {
        json_object *o = json_object_new_object();
        _cleanup_free_ char *text = NULL;
        if (build_captured_text(b, OS_RELEASE, &text) < 0 || !text)
                return o;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *eq = strchr(line, '=');
                if (line[0] == '#' || !eq)
                        continue;
                *eq = 0;
                char *v = eq + 1;
                size_t n = strlen(v);
                if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
                        v[n - 1] = 0;
                        v++;
                }
                json_object_object_add(o, strstrip(line), json_object_new_string(v));
        }
        return o;
}

/* Kernels the image carries: the directories of /usr/lib/modules (through /lib on split-usr trees). */
static json_object *kernels_array(struct build *b) {
        json_object *a = json_object_new_array();
        struct node *d = tree_resolve(b->tree, "/usr/lib/modules");
        if (!d)
                d = tree_resolve(b->tree, "/lib/modules");
        for (size_t i = 0; d && S_ISDIR(d->mode) && i < d->n_children; i++)
                if (S_ISDIR(d->children[i]->mode))
                        json_object_array_add(a, json_object_new_string(d->children[i]->name));
        return a;
}

/* Installed packages from the dpkg status file, in its order; NULL when the image has none. */
static json_object *packages_array(struct build *b) {
        _cleanup_free_ char *text = NULL;
        if (build_captured_text(b, DPKG_STATUS, &text) < 0 || !text)
                return NULL;
        json_object *a = json_object_new_array();
        char *package = NULL, *version = NULL, *arch = NULL;
        bool installed = false;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save);; line = strtok_r(NULL, "\n", &save)) {
                /* strtok_r skips blank lines, so a stanza ends where "Package:" starts again */
                if (!line || strncmp(line, "Package: ", 9) == 0) {
                        if (package && installed) {
                                json_object *p = json_object_new_object();
                                json_object_object_add(p, "name", json_object_new_string(package));
                                json_object_object_add(p, "version", json_object_new_string(version ?: ""));
                                json_object_object_add(p, "architecture", json_object_new_string(arch ?: ""));
                                json_object_array_add(a, p);
                        }
                        if (!line)
                                break;
                        package = line + 9;
                        version = arch = NULL;
                        installed = false;
                } else if (strncmp(line, "Version: ", 9) == 0)
                        version = line + 9;
                else if (strncmp(line, "Architecture: ", 14) == 0)
                        arch = line + 14;
                else if (strncmp(line, "Status: ", 8) == 0)
                        installed = strstr(line, " installed") != NULL;
        }
        return a;
}

static void add_int(json_object *o, const char *key, uint64_t v) {
        json_object_object_add(o, key, json_object_new_int64((int64_t) v));
}

json_object *manifest_strv_array(char **l) {
        json_object *a = json_object_new_array();
        for (char **i = l; a && i && *i; i++)
                json_object_array_add(a, json_object_new_string(*i));
        return a;
}

/* Each artifact's file name, size and SHA-256, by kind. */
static int artifacts_object(const struct manifest_input *in, json_object **ret, struct ingot_error *err) {
        _cleanup_json_ json_object *arts = json_object_new_object();
        if (!arts)
                return -ENOMEM;
        for (size_t i = 0; i < in->n_artifacts; i++) {
                char hex[65];
                uint64_t size = 0;
                int q = sha256_file(in->artifacts[i].path, hex, &size);
                if (q < 0)
                        return error_set(err, q, "%s: %s", in->artifacts[i].path, strerror(-q));
                json_object *a = json_object_new_object();
                json_object_object_add(a, "file", json_object_new_string(in->artifacts[i].name));
                add_int(a, "size", size);
                json_object_object_add(a, "sha256", json_object_new_string(hex));
                json_object_object_add(arts, in->artifacts[i].kind, a);
        }
        *ret = TAKE_PTR(arts);
        return 0;
}

int manifest_text(struct build *b, const struct manifest_input *in, char **ret_text, struct ingot_error *err) {
        const struct ingot_recipe *r = b->recipe;
        _cleanup_json_ json_object *m = json_object_new_object();
        if (!m)
                return -ENOMEM;
        add_int(m, "manifest_version", MANIFEST_VERSION);
        json_object_object_add(m, "name", json_object_new_string(r->name));
        json_object_object_add(m, "version", json_object_new_string(r->version));
        json_object_object_add(m, "kind", json_object_new_string(b->layer ? "sysext" : "image"));
        json_object_object_add(m, "architecture",
                               json_object_new_string(b->layer ? b->layer->architecture : architecture()));
        json_object_object_add(m, "os_release", os_release_object(b));
        json_object_object_add(m, "root_hash", json_object_new_string(in->root_hash));
        json_object_object_add(m, "signer_fingerprint",
                               in->signer_fingerprint ? json_object_new_string(in->signer_fingerprint) : NULL);

        char salt[2 * 256 + 1];
        hex_encode(in->salt, in->salt_size, salt);
        json_object *v = json_object_new_object();
        json_object_object_add(v, "format", json_object_new_int(1));
        json_object_object_add(v, "algorithm", json_object_new_string(r->verity_hash));
        add_int(v, "data_block_size", r->verity_data_block_size);
        add_int(v, "hash_block_size", r->verity_hash_block_size);
        add_int(v, "data_blocks", in->data_blocks);
        add_int(v, "data_size", in->data_blocks * r->verity_data_block_size);
        /* the tree follows the 512-byte superblock, which takes one hash block */
        add_int(v, "hash_offset", r->verity_hash_block_size);
        json_object_object_add(v, "salt", json_object_new_string(salt));
        json_object_object_add(m, "verity", v);

        json_object *sq = json_object_new_object();
        json_object_object_add(sq, "compression", json_object_new_string(compressor_name(r->compressor)));
        json_object_object_add(sq, "level", r->level ? json_object_new_int((int) r->level) : NULL);
        add_int(sq, "block_size", r->block_size);
        add_int(sq, "size", in->image_size);
        json_object_object_add(m, "squashfs", sq);

        const struct ingot_image_stats *s = in->stats;
        json_object *c = json_object_new_object();
        add_int(c, "files", s->files);
        add_int(c, "directories", s->directories);
        add_int(c, "symlinks", s->symlinks);
        add_int(c, "hardlinks", s->hardlinks);
        add_int(c, "devices", s->devices);
        add_int(c, "fifos", s->fifos);
        add_int(c, "sockets", s->sockets);
        add_int(c, "bytes", s->bytes);
        json_object_object_add(m, "contents", c);

        json_object *arts = NULL;
        int q = artifacts_object(in, &arts, err);
        if (q < 0)
                return q;
        json_object_object_add(m, "artifacts", arts);

        char digest[65];
        q = recipe_digest(r, digest);
        if (q < 0)
                return q;
        json_object_object_add(m, "recipe_sha256", json_object_new_string(digest));
        json_object_object_add(m, "source_date_epoch",
                               b->source_date_epoch >= 0 ? json_object_new_int64(b->source_date_epoch) : NULL);
        json_object_object_add(m, "kernel_versions", kernels_array(b));
        json_object_object_add(m, "packages", packages_array(b));
        if (b->layer)
                json_object_object_add(m, "extension", b->layer->manifest_extension(b));

        const char *text = json_object_to_json_string_ext(
                m, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text || asprintf(ret_text, "%s\n", text) < 0)
                return -ENOMEM;
        return 0;
}
