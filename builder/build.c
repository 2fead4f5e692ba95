/* build.c: `ingot build`: recipe to OUTDIR/NAME_VERSION.raw through a temporary file that is renamed
 * only when complete and durable; on any failure nothing is left under the final name. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "artifact.h"
#include "build.h"
#include "content.h"
#include "ddi.h"
#include "manifest.h"
#include "mounts-stage.h"
#include "os-release.h"
#include "pipeline.h"
#include "profile-stage.h"
#include "reuse.h"
#include "signing.h"
#include "source.h"
#include "trust.h"
#include "verity-sig.h"

/* A generated file's data, from memory, to the writer. */
static int write_memory(struct build *b, struct node *n) {
        int r = squashfs_writer_begin_file(b->writer, n);
        if (r < 0)
                return r;
        r = squashfs_writer_append(b->writer, n->memory, n->size);
        if (r < 0)
                return r;
        return squashfs_writer_end_file(b->writer);
}

/* Data that waited for the tree to be final: Copy= and Binaries= files, generated files. */
static int write_deferred(struct node *n, void *userdata) {
        struct build *b = userdata;
        if (n->link || !S_ISREG(n->mode))
                return 0;
        if (n->data == DATA_HOST)
                return pipeline_take_host_file(b, n);
        if (n->data != DATA_MEMORY)
                return 0;
        int r = write_memory(b, n);
        if (r < 0) {
                _cleanup_free_ char *p = node_path(n);
                return build_write_error(b->err, r, p ?: n->name);
        }
        build_report(b, 0, n->size);
        build_file_written(b, n, n->size);
        return 0;
}

static int count(struct node *n, void *userdata) {
        struct ingot_image_stats *s = userdata;
        if (n->link) {
                s->hardlinks++;
                return 0;
        }
        switch (n->mode & S_IFMT) {
        case S_IFREG:
                s->files++;
                s->bytes += n->size;
                break;
        case S_IFDIR:
                s->directories++;
                break;
        case S_IFLNK:
                s->symlinks++;
                break;
        case S_IFBLK:
        case S_IFCHR:
                s->devices++;
                break;
        case S_IFIFO:
                s->fifos++;
                break;
        case S_IFSOCK:
                s->sockets++;
                break;
        }
        return 0;
}

static int build_base(struct build *b) {
        const struct ingot_recipe *r = b->recipe;
        b->phase = "base";
        switch (r->base) {
        case BASE_NONE:
                return 0;
        case BASE_TREE: {
                struct source *s;
                int q = source_dir_open(r->base_source, "/", NULL, 0, &s);
                return q < 0 ? q : pipeline_take(b, s);
        }
        case BASE_ARCHIVE: {
                _cleanup_close_ int fd = open(r->base_source, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0)
                        return error_set(b->err, -errno, "%s: %s", r->base_source, strerror(errno));
                struct source *s;
                int q = source_archive_open(fd, r->base_source, b->options->cancel, &s);
                return q < 0 ? q : pipeline_take(b, s);
        }
        case BASE_DEBIAN: {
                struct source *s;
                int q = source_debian_open(r, b->source_date_epoch, b->options->cancel, &s, b->err);
                return q < 0 ? q : pipeline_take(b, s);
        }
        }
        return -EINVAL;
}

static int build_image(struct build *b, int fd) {
        unsigned jobs = b->options->jobs;
        if (!jobs) {
                long n = sysconf(_SC_NPROCESSORS_ONLN);
                jobs = n > 0 ? (unsigned) n : 1;
        }
        int q = build_reuse_open(b);
        if (q < 0)
                return q;
        struct squashfs_options so = {
                .reuse = &b->reuse,
                .jobs = jobs,
                .mkfs_time = b->default_mtime,
                .verity = b->verity,
                .index = &b->index,
        };
        q = squashfs_writer_new(fd, &so, &b->writer, b->err);
        if (q < 0)
                return q;
        q = tree_new(b->default_mtime, &b->tree);
        if (q < 0)
                return q;
        q = content_prepare(b);
        if (q < 0)
                return q;
        q = build_base(b);
        if (q < 0)
                return q;
        b->phase = "content";
        q = content_apply(b);
        if (q < 0)
                return q;
        /* a root image's stages, or the layer's (its identity, only /usr and /opt) */
        static const build_stage_fn image_stages[] = { os_release_write, trust_write, mounts_write, profile_write };
        const build_stage_fn *stages = b->layer ? b->layer->stages : image_stages;
        size_t n_stages = b->layer ? b->layer->n_stages : ELEMENTSOF(image_stages);
        for (size_t i = 0; i < n_stages; i++)
                if ((q = stages[i](b)) < 0)
                        return q;
        q = tree_finalize(b->tree);
        if (q < 0)
                return q;
        q = tree_walk(b->tree->root, write_deferred, NULL, b);
        if (q < 0)
                return q;
        b->phase = "finishing";
        build_report(b, 0, 0);
        return 0;
}

void ingot_build_result_clear(struct ingot_build_result *result) {
        free(result->image_path);
        free(result->verity_path);
        free(result->roothash_path);
        free(result->signature_path);
        free(result->manifest_path);
        free(result->blocks_path);
        strv_free(result->warnings);
        *result = (struct ingot_build_result) { 0 };
}

/* The verity salt is derived, not random, so that builds repeat: from the image's name and version,
 * which every build of one recipe shares wherever it runs. */
static int derive_salt(const struct ingot_recipe *r, uint8_t salt[32]) {
        _cleanup_free_ char *seed = NULL;
        int n = asprintf(&seed, "ingot verity salt%c%s%c%s", 0, r->name, 0, r->version);
        if (n < 0)
                return -ENOMEM;
        unsigned len;
        return EVP_Digest(seed, (size_t) n, salt, &len, EVP_sha256(), NULL) ? 0 : -EIO;
}

/* in the order of the renames: the image last, so whoever sees it sees the rest. A DDI layer holds the
 * squashfs, the tree and the signature in its partitions: those three stay temporaries, and it has no
 * block index (its offsets are the partition's). */
enum { ARTIFACT_VERITY, ARTIFACT_ROOTHASH, ARTIFACT_SIGNATURE, ARTIFACT_BLOCKS, ARTIFACT_MANIFEST, ARTIFACT_IMAGE,
       ARTIFACT_DDI, N_ARTIFACTS };
static const char *const suffixes[N_ARTIFACTS] = { "verity", "roothash", "roothash.p7s", "blocks", "manifest.json",
                                                    "raw", "raw" };

/* The files of one build, each under a temporary name in dir until all are committed together. */
struct outputs {
        const char *dir;
        char *made; /* dir, or the part of it this build made */
        bool ddi;
        bool committed;
        struct artifact art[N_ARTIFACTS];
};

/* Whether artifact i is a file of the output (committed, listed in the manifest). */
static bool artifact_kept(int i, bool ddi) {
        if (ddi)
                return i == ARTIFACT_ROOTHASH || i == ARTIFACT_MANIFEST || i == ARTIFACT_DDI;
        return i != ARTIFACT_DDI;
}

static int outputs_open(struct outputs *out, const struct ingot_recipe *r, bool signed_image,
                        struct ingot_error *err) {
        int q = mkdir_p_made(out->dir, 0755, &out->made);
        if (q < 0)
                return error_set(err, q, "%s: cannot create directory: %s", out->dir, strerror(-q));
        for (size_t i = 0; i < N_ARTIFACTS; i++) {
                if ((i == ARTIFACT_SIGNATURE && (!signed_image || out->ddi)) || (i == ARTIFACT_DDI && !out->ddi) ||
                    (i == ARTIFACT_BLOCKS && out->ddi))
                        continue;
                _cleanup_free_ char *name = NULL;
                if (asprintf(&name, "%s_%s.%s", r->name, r->version, suffixes[i]) < 0)
                        return -ENOMEM;
                if ((q = artifact_open(&out->art[i], out->dir, name, err)) < 0)
                        return q;
        }
        return 0;
}

static int outputs_commit(struct outputs *out, struct ingot_error *err) {
        struct artifact commit[N_ARTIFACTS];
        int index[N_ARTIFACTS];
        size_t n = 0;
        for (int i = 0; i < N_ARTIFACTS; i++)
                if (out->art[i].fd >= 0 && artifact_kept(i, out->ddi)) {
                        index[n] = i;
                        commit[n++] = out->art[i];
                }
        int q = artifacts_commit(commit, n, err);
        for (size_t j = 0; j < n; j++)
                out->art[index[j]].renamed = commit[j].renamed;
        out->committed = q >= 0;
        return q;
}

/* Removes the temporaries (files under final names stay, older ones included), and a directory this
 * build made when it failed. */
static void outputs_done(struct outputs *out) {
        for (size_t i = 0; i < N_ARTIFACTS; i++)
                artifact_discard(&out->art[i]);
        if (!out->committed)
                mkdir_p_undo(out->dir, out->made);
        free(out->made);
}

static void build_done(struct build *b) {
        squashfs_writer_free(b->writer);
        verity_free(b->verity);
        tree_free(b->tree);
        path_set_free(b->shadow);
        path_set_free(b->skipped);
        for (size_t i = 0; b->binary_libraries && i < b->recipe->n_ops; i++)
                strv_free(b->binary_libraries[i]);
        free(b->binary_libraries);
        free(b->profile_cmdline);
        strv_free(b->warnings);
        block_index_done(&b->index);
        block_reuse_done(&b->reuse); /* after the writer, whose compressors refer to it */
}

static int load_signer(const struct ingot_recipe *r, const struct ingot_build_options *o, struct signer **ret,
                       struct ingot_error *err) {
        const char *key = o->key_path ?: r->signing_key, *cert = o->cert_path ?: r->signing_cert;
        *ret = NULL;
        if (o->unsigned_image)
                return 0;
        if (!key || !cert)
                return error_set(err, -ENOKEY,
                                 "no signing key: give --key and --cert, [Signing] Key= and Certificate= in the "
                                 "recipe, or --unsigned for an image no host will boot");
        return signer_load(key, cert, ret, err);
}

/* The DDI from the finished squashfs and tree, with the signature partition when signed. */
static int write_ddi(struct artifact *art, const char *architecture, const char *root_hash, const char *fingerprint,
                     uint8_t *der, size_t der_size, struct ingot_error *err) {
        struct stat data, hash;
        if (fstat(art[ARTIFACT_IMAGE].fd, &data) < 0 || fstat(art[ARTIFACT_VERITY].fd, &hash) < 0)
                return error_set(err, -errno, "%s: %s", art[ARTIFACT_IMAGE].tmp, strerror(errno));
        _cleanup_free_ uint8_t *payload = NULL;
        size_t payload_size = 0;
        if (der) {
                struct verity_sig vs = { .signature = der, .signature_size = der_size };
                snprintf(vs.root_hash, sizeof(vs.root_hash), "%.128s", root_hash);
                snprintf(vs.fingerprint, sizeof(vs.fingerprint), "%s", fingerprint);
                int q = verity_sig_encode(&vs, &payload, &payload_size);
                if (q < 0)
                        return q;
        }
        struct ddi_input in = {
                .data_fd = art[ARTIFACT_IMAGE].fd, .data_size = (uint64_t) data.st_size,
                .hash_fd = art[ARTIFACT_VERITY].fd, .hash_size = (uint64_t) hash.st_size,
                .architecture = architecture, .root_hash = root_hash, .payload = payload,
                .payload_size = payload_size,
        };
        return ddi_write(art[ARTIFACT_DDI].fd, art[ARTIFACT_DDI].tmp, &in, err);
}

/* The root hash signed (over its hex, without a newline) and written: the .roothash file, and the
 * .roothash.p7s or a DDI's signature partition. */
static int write_root_hash(struct build *b, struct outputs *out, struct signer *signer, const char *hex,
                           const char *fingerprint) {
        struct artifact *art = out->art;
        _cleanup_free_ uint8_t *der = NULL;
        size_t der_size = 0;
        int q;
        if (signer && (q = signer_sign(signer, hex, &der, &der_size, b->err)) < 0)
                return q;
        if (signer && !out->ddi && (q = artifact_write(&art[ARTIFACT_SIGNATURE], der, der_size, b->err)) < 0)
                return q;
        if (out->ddi && (q = write_ddi(art, b->layer->architecture, hex, fingerprint, der, der_size, b->err)) < 0)
                return q;
        _cleanup_free_ char *line = NULL;
        if (asprintf(&line, "%s\n", hex) < 0)
                return -ENOMEM;
        return artifact_write(&art[ARTIFACT_ROOTHASH], line, strlen(line), b->err);
}

/* The image's block index (block-index.h), bound to its root hash. */
static int write_block_index(struct build *b, struct outputs *out, uint64_t size, const char *root_hash) {
        struct artifact *a = &out->art[ARTIFACT_BLOCKS];
        if (a->fd < 0)
                return 0;
        int q = block_reuse_fill_index(&b->reuse, &b->index);
        if (q < 0)
                return error_set(b->err, q, "the block index: a block without its content digest: %s", strerror(-q));
        _cleanup_free_ char *text = NULL;
        q = block_index_to_json(&b->index, strrchr(out->art[ARTIFACT_IMAGE].final, '/') + 1, size, root_hash,
                                    &text);
        if (q < 0)
                return q;
        return artifact_write(a, text, strlen(text), b->err);
}

static int write_manifest(struct build *b, struct outputs *out, const struct manifest_input *in) {
        struct manifest_artifact listed[N_ARTIFACTS];
        size_t n = 0;
        for (int i = 0; i < N_ARTIFACTS; i++)
                if (out->art[i].fd >= 0 && i != ARTIFACT_MANIFEST && artifact_kept(i, out->ddi))
                        listed[n++] = (struct manifest_artifact) {
                                .kind = suffixes[i], .name = strrchr(out->art[i].final, '/') + 1,
                                .path = out->art[i].tmp,
                        };
        struct manifest_input mi = *in;
        mi.artifacts = listed;
        mi.n_artifacts = n;
        _cleanup_free_ char *text = NULL;
        int q = manifest_text(b, &mi, &text, b->err);
        if (q < 0)
                return q;
        return artifact_write(&out->art[ARTIFACT_MANIFEST], text, strlen(text), b->err);
}

/* b's recipe into out's files: the tree, the squashfs with its verity tree, the signed root hash, the
 * manifest, all committed at once; then what they are into ret. */
static int compile(struct build *b, struct outputs *out, struct ingot_build_result *ret) {
        const struct ingot_recipe *r = b->recipe;
        struct ingot_error *err = b->err;
        struct artifact *art = out->art;

        /* a key that cannot sign is an error before any work */
        _cleanup_(signer_freep) struct signer *signer = NULL;
        char fingerprint[65] = "";
        int q = load_signer(r, b->options, &signer, err);
        if (q < 0)
                return q;
        if (signer && (q = signer_fingerprint(signer, fingerprint)) < 0)
                return q;
        if ((q = outputs_open(out, r, signer != NULL, err)) < 0)
                return q;

        uint8_t salt[32];
        if ((q = derive_salt(r, salt)) < 0)
                return q;
        struct verity_params vp = {
                .hash_name = r->verity_hash,
                .data_block_size = r->verity_data_block_size,
                .hash_block_size = r->verity_hash_block_size,
                .salt = salt,
                .salt_size = sizeof(salt),
        };
        if ((q = verity_new(&vp, art[ARTIFACT_IMAGE].fd, &b->verity, err)) < 0)
                return q;
        if ((q = build_image(b, art[ARTIFACT_IMAGE].fd)) < 0)
                return q;
        uint64_t size = 0;
        if ((q = squashfs_writer_finish(b->writer, b->tree, &size, err)) < 0)
                return q;
        if (!b->layer && (q = profile_check_image(b, art[ARTIFACT_IMAGE].fd, size)) < 0)
                return q;
        uint8_t root[VERITY_DIGEST_MAX];
        size_t root_size = 0;
        if ((q = verity_finish(b->verity, art[ARTIFACT_IMAGE].tmp, art[ARTIFACT_VERITY].tmp, art[ARTIFACT_VERITY].fd,
                               root, &root_size, err)) < 0)
                return q;
        if (b->layer && b->layer->check_image && (q = b->layer->check_image(b, art[ARTIFACT_IMAGE].fd)) < 0)
                return q;
        char hex[2 * VERITY_DIGEST_MAX + 1];
        hex_encode(root, root_size, hex);
        if ((q = write_root_hash(b, out, signer, hex, fingerprint)) < 0)
                return q;
        if ((q = write_block_index(b, out, size, hex)) < 0)
                return q;
        if ((q = build_reuse_report(b)) < 0)
                return q;

        struct ingot_image_stats stats = { 0 };
        if ((q = tree_walk(b->tree->root, count, NULL, &stats)) < 0)
                return q;
        struct manifest_input mi = {
                .root_hash = hex, .salt = salt, .salt_size = sizeof(salt),
                .data_blocks = verity_data_blocks(b->verity), .image_size = size,
                .signer_fingerprint = signer ? fingerprint : NULL, .stats = &stats,
        };
        if ((q = write_manifest(b, out, &mi)) < 0)
                return q;
        if ((q = outputs_commit(out, err)) < 0)
                return q;

        bool ddi = out->ddi;
        *ret = (struct ingot_build_result) {
                .image_path = TAKE_PTR(art[ddi ? ARTIFACT_DDI : ARTIFACT_IMAGE].final),
                .verity_path = ddi ? NULL : TAKE_PTR(art[ARTIFACT_VERITY].final),
                .roothash_path = TAKE_PTR(art[ARTIFACT_ROOTHASH].final),
                .signature_path = ddi ? NULL : TAKE_PTR(art[ARTIFACT_SIGNATURE].final),
                .manifest_path = TAKE_PTR(art[ARTIFACT_MANIFEST].final),
                .blocks_path = ddi ? NULL : TAKE_PTR(art[ARTIFACT_BLOCKS].final),
                .image_size = size,
                .stats = stats,
                .blocks_compressed = b->reuse.compressed,
                .blocks_reused = b->reuse.reused,
                .bytes_reused = b->reuse.reused_bytes,
                .source_date_epoch = b->source_date_epoch,
                .ddi = ddi,
                .warnings = TAKE_PTR(b->warnings),
        };
        snprintf(ret->root_hash, sizeof(ret->root_hash), "%s", hex);
        memcpy(ret->signer_fingerprint, fingerprint, sizeof(ret->signer_fingerprint));
        return 0;
}

int build_run(const struct ingot_recipe *r, const struct ingot_build_options *o, const struct build_layer *layer,
              struct ingot_build_result *ret, struct ingot_error *err) {
        int64_t epoch = o->have_source_date_epoch ? o->source_date_epoch : r->source_date_epoch;
        /* out is declared first, so cleaned up last: the writer and the verity tee are gone before the files
         * they write are closed */
        _cleanup_(outputs_done) struct outputs out = {
                .dir = o->output_dir ?: "out",
                .ddi = layer && layer->ddi,
                .art = { [0 ... N_ARTIFACTS - 1] = { .fd = -1 } },
        };
        _cleanup_(build_done) struct build b = {
                .recipe = r,
                .options = o,
                .err = err,
                .layer = layer,
                .source_date_epoch = epoch,
                .default_mtime = epoch >= 0 ? (uint32_t) epoch : 0,
        };
        struct block_settings settings;
        int q = squashfs_block_settings(r->compressor, r->level, r->block_size, &settings);
        if (q < 0)
                return error_set(err, q, "%s: compressor %s: not known to libsquashfs", r->path,
                                 compressor_name(r->compressor));
        if ((q = block_reuse_init(&b.reuse, &settings)) < 0)
                return error_set(err, q, "cannot start: %s", strerror(-q));
        q = compile(&b, &out, ret);
        if (q < 0 && build_cancelled(&b) && !err->code)
                build_cancel_error(err);
        return q;
}

int ingot_build(const struct ingot_recipe *r, const struct ingot_build_options *o, struct ingot_build_result *ret,
                struct ingot_error *err) {
        if (r->extension)
                return error_set(err, -EINVAL, "%s: a layer recipe ([Extension] at %s): build it with 'ingot sysext build'",
                                 r->path, r->extension_where);
        return build_run(r, o, NULL, ret, err);
}

bool ingot_recipe_is_extension(const struct ingot_recipe *r) {
        return r->extension;
}
