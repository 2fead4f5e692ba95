/* ingot.h: the public interface of libingot, the core that compiles recipes into images.
 * Every function returns 0 or a negative errno and fills a struct ingot_error; none prints or exits. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#define INGOT_VERSION "0.1.0"

/* A human-readable account of the first error, e.g. "demo.ini:12: unknown key ...". */
struct ingot_error {
        int code; /* negative errno, 0 while no error happened */
        char message[1024];
};

/* Recipes: a validated, fully resolved description of one image. */
struct ingot_recipe;

int ingot_recipe_load(const char *path, struct ingot_recipe **ret_recipe, struct ingot_error *err);
void ingot_recipe_free(struct ingot_recipe *recipe);
/* The resolved recipe (drop-ins merged, paths absolute) as a JSON object, NUL-terminated. */
int ingot_recipe_to_json(const struct ingot_recipe *recipe, char **ret_json);
/* The same, as the INI text that would produce it. */
int ingot_recipe_to_ini(const struct ingot_recipe *recipe, char **ret_text);
const char *ingot_recipe_name(const struct ingot_recipe *recipe);
const char *ingot_recipe_version(const struct ingot_recipe *recipe);

/* What the image holds, counted while it is written. */
struct ingot_image_stats {
        uint64_t files;        /* regular files, hard links counted once */
        uint64_t directories;
        uint64_t symlinks;
        uint64_t hardlinks;    /* extra names of files */
        uint64_t devices;      /* block and character devices */
        uint64_t fifos;
        uint64_t sockets;
        uint64_t bytes;        /* uncompressed file data */
};

struct ingot_progress {
        const char *phase;     /* "base", "content", "finishing" */
        uint64_t files;
        uint64_t bytes;
};

typedef void (*ingot_progress_fn)(const struct ingot_progress *progress, void *userdata);

struct ingot_build_options {
        const char *output_dir;          /* created if missing; default "out" */
        unsigned jobs;                   /* compressor threads; 0 = all cores */
        ingot_progress_fn progress;      /* may be NULL */
        void *userdata;
        const volatile sig_atomic_t *cancel; /* the build stops with -ECANCELED once *cancel != 0 */
        const char *key_path;            /* PEM key and certificate; beat the recipe's [Signing] */
        const char *cert_path;
        bool unsigned_image;             /* no key anywhere is an error unless this is set */
        bool have_source_date_epoch;     /* SOURCE_DATE_EPOCH from the environment beats the recipe's */
        int64_t source_date_epoch;
};

struct ingot_build_result {
        char *image_path;    /* OUTDIR/NAME_VERSION.raw, the squashfs */
        char *verity_path;   /* OUTDIR/NAME_VERSION.verity, its dm-verity hash tree (format 1, superblock) */
        char *roothash_path; /* OUTDIR/NAME_VERSION.roothash */
        char root_hash[129]; /* lowercase hex */
        char *signature_path; /* OUTDIR/NAME_VERSION.roothash.p7s, NULL for an unsigned image */
        char *manifest_path;  /* OUTDIR/NAME_VERSION.manifest.json */
        char signer_fingerprint[65]; /* SHA-256 of the signing certificate (DER), hex; "" when unsigned */
        uint64_t image_size;
        struct ingot_image_stats stats;
        int64_t source_date_epoch;       /* -1 when none was set */
};

int ingot_build(const struct ingot_recipe *recipe, const struct ingot_build_options *options,
                struct ingot_build_result *ret_result, struct ingot_error *err);
void ingot_build_result_clear(struct ingot_build_result *result);

/* Checking a built image and its sidecars (NAME_VERSION.verity, .roothash, .roothash.p7s,
 * .manifest.json). Every check runs; each says ok, failed (with why) or skipped (with why). */
enum ingot_check_state {
        INGOT_CHECK_OK,
        INGOT_CHECK_FAILED,
        INGOT_CHECK_SKIPPED,
};

struct ingot_check {
        const char *name; /* "hash tree", "root hash", "signature", "manifest" */
        enum ingot_check_state state;
        char message[512];
};

struct ingot_verify_report {
        struct ingot_check checks[4];
        size_t n_checks;
        char root_hash[129];         /* from .roothash */
        char signer_fingerprint[65]; /* "" when unsigned */
        bool trusted;                /* the signer is the certificate given */
};

/* 0 when no check failed; -EBADMSG otherwise (the report says which and why). cert_path: the
 * trusted certificate, or NULL to check the signature only against the certificate it carries. */
int ingot_verify(const char *image_path, const char *cert_path, struct ingot_verify_report *ret_report);

/* Writes IMAGE.verity and IMAGE.roothash for an existing image, hashing on jobs threads (0: all
 * cores). With IMAGE.manifest.json it uses the build's salt and geometry and so reproduces its files. */
int ingot_verity(const char *image_path, unsigned jobs, char ret_root_hash[129], struct ingot_error *err);

/* What an image is (name, version, size, compression, root hash, signer, verity geometry, files,
 * packages, kernels) as a JSON object, from its superblock, verity superblock and manifest. */
int ingot_inspect(const char *image_path, char **ret_json, struct ingot_error *err);

/* Development keys: DIR/ingot.key (0600) and DIR/ingot.crt. ecdsa: P-256 instead of RSA 3072. */
int ingot_keygen(const char *dir, bool ecdsa, const char *common_name, struct ingot_error *err);
