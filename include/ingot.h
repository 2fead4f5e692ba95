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
/* [Output] SourceDateEpoch=, or -1 when the recipe sets none. */
int64_t ingot_recipe_source_date_epoch(const struct ingot_recipe *recipe);

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
        const char *phase;     /* "base", "content", "finishing"; "data" while installing; the root
                                  partition ("root-a") while `slot verify` reads it */
        uint64_t files;
        uint64_t bytes;
        uint64_t total_bytes;  /* 0 when unknown */
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
        char *const *reuse;              /* NULL-terminated: earlier images (NAME.raw beside NAME.blocks), or
                                            directories of them, whose blocks stand in for compressing again */
};

struct ingot_build_result {
        char *image_path;    /* OUTDIR/NAME_VERSION.raw, the squashfs */
        char *verity_path;   /* OUTDIR/NAME_VERSION.verity, its dm-verity hash tree (format 1, superblock) */
        char *roothash_path; /* OUTDIR/NAME_VERSION.roothash */
        char root_hash[129]; /* lowercase hex */
        char *signature_path; /* OUTDIR/NAME_VERSION.roothash.p7s, NULL for an unsigned image */
        char *manifest_path;  /* OUTDIR/NAME_VERSION.manifest.json */
        char *blocks_path;    /* OUTDIR/NAME_VERSION.blocks, the image's block index; NULL for a DDI */
        char signer_fingerprint[65]; /* SHA-256 of the signing certificate (DER), hex; "" when unsigned */
        uint64_t image_size;
        struct ingot_image_stats stats;
        uint64_t blocks_compressed;      /* data and fragment blocks compressed by this build */
        uint64_t blocks_reused;          /* ... taken from an earlier image instead (--reuse) */
        uint64_t bytes_reused;           /* their stored bytes */
        int64_t source_date_epoch;       /* -1 when none was set */
        bool ddi;            /* a sysext layer as a DDI: image_path holds the partitions, the tree and the
                                signature; verity_path and signature_path are NULL */
        char **warnings;     /* NULL-terminated, or NULL: what may not work as the recipe means it, one line
                                each starting with the file:line it is about */
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
        const char *name; /* "hash tree", "root hash", "signature", "manifest"; a slot's "version", "profile" */
        enum ingot_check_state state;
        char message[512];
};

struct ingot_verify_report {
        struct ingot_check checks[5];
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

/* systemd-sysext layers (docs/sysext.md): a recipe with [Extension] instead of [Image] compiles into
 * a layer of /usr and /opt for one base image, NAME_VERSION.raw, with extension-release.NAME made from
 * the base image's manifest. */
bool ingot_recipe_is_extension(const struct ingot_recipe *recipe);

enum ingot_layer_format {
        INGOT_LAYER_DDI, /* a GPT disk image: usr, usr-verity, usr-verity-sig partitions */
        INGOT_LAYER_RAW, /* a plain squashfs with .verity, .roothash, .roothash.p7s beside it */
};

struct ingot_sysext_options {
        const char *base_manifest; /* the base's NAME_VERSION.manifest.json; beats the recipe's Base= */
        enum ingot_layer_format format;
};

int ingot_sysext_build(const struct ingot_recipe *recipe, const struct ingot_build_options *options,
                       const struct ingot_sysext_options *sysext, struct ingot_build_result *ret_result,
                       struct ingot_error *err);

/* A layer against a base: "compatibility" (ID, VERSION_ID or SYSEXT_LEVEL, ARCHITECTURE, scope, as
 * systemd-sysext decides), "shadowing" (files that replace the base's; an error unless the recipe's
 * AllowShadow= named them) and "signature" (against cert_path; NULL: only intact). */
struct ingot_sysext_report {
        struct ingot_check checks[3];
        size_t n_checks;
        char **shadowed;         /* layer paths that replace base entries, NULL-terminated */
        char **shadowed_allowed; /* of those, the ones AllowShadow= permits */
        char **release;          /* the layer's extension-release, KEY=VALUE lines */
        char release_name[256];  /* extension-release.NAME */
};

/* 0 when nothing failed, -EBADMSG when a check did (the report says why), other errors in err. */
int ingot_sysext_check(const char *layer_path, const char *base_manifest, const char *cert_path,
                       struct ingot_sysext_report *ret_report, struct ingot_error *err);
void ingot_sysext_report_clear(struct ingot_sysext_report *report);

/* Development keys: DIR/ingot.key (0600) and DIR/ingot.crt. ecdsa: P-256 instead of RSA 3072. */
int ingot_keygen(const char *dir, bool ecdsa, const char *common_name, struct ingot_error *err);

/* A/B disks: an ESP, two slots (root, root-verity and root-verity-sig partitions each, labels
 * root-a, verity-a, verity-sig-a, ...) and var, as the Discoverable Partitions Specification types
 * them. Slot state lives in the root partition's GPT attribute bits (docs/slots.md). */
struct ingot_disk_options {
        const char *slot_a;      /* IMAGE.raw with its sidecars (.verity, .roothash, .roothash.p7s) */
        const char *slot_b;      /* may be NULL: slot b is created empty */
        uint64_t size;           /* whole disk; 0: what the partitions need (var gets the rest otherwise) */
        uint64_t esp_size;       /* 0: 256 MiB */
        uint64_t var_size;       /* 0: 256 MiB, or the rest of size */
        uint64_t slot_size;      /* root partitions; 0: twice the largest image, rounded up to 1 MiB */
        /* The ESP's boot chain (docs/hosts.md); without boot_kernel the ESP stays empty. */
        const char *boot_kernel; /* EFI-stub kernel that starts the ingot initrd */
        const char *boot_initrd; /* the ingot initrd (ingot initrd -o ...) */
        const char *cmdline;     /* its command line; NULL: console=tty0 console=ttyS0 */
        const char *loader;      /* systemd-boot's EFI binary; NULL: systemd-boot-efi's */
};

/* Writes the disk to a temporary name beside path and renames it once complete and durable. The same
 * inputs give the same bytes: disk and partition UUIDs are derived, the ESP is formatted invariantly. */
int ingot_disk_create(const char *path, const struct ingot_disk_options *options, struct ingot_error *err);

struct ingot_slot_options {
        const char *disk;         /* an image file or a block device; NULL: the disk the booted slot is on */
        const char *runtime_dir;  /* where the initrd records the booted slot; NULL: /run/ingot */
        unsigned lock_wait_ms;    /* how long to wait for another ingot call on the disk; 0: 5 s */
};

struct ingot_slot_info {
        char name;               /* 'a' or 'b' */
        const char *state;       /* "good", "trying", "bad", "empty" or "unreadable" */
        const char *failure;     /* a bad slot: why, as a word ("out-of-tries", "marked-bad", "initrd", "corrupted",
                                  * "priority-0"), else NULL */
        const char *failure_text; /* the same in words */
        unsigned priority, tries;
        bool successful;
        char image_id[64], version[64]; /* from the slot's /usr/lib/os-release */
        char root_hash[129];     /* from the signature partition */
        char signer[65];         /* the signing certificate's SHA-256 fingerprint */
        uint64_t size;           /* the root partition */
        char profile[64];        /* the host profile it boots with, "" for none */
        const char *profile_source; /* "slot" (its own, installed with it), "image" (baked in), NULL */
        char unreadable[256];    /* state "unreadable": why its signature partition, not zeros, holds no
                                    signature payload (it never boots); "" otherwise */
        char unverified[256];    /* an installed slot whose version and profile were not read, and why: its
                                  * signature is not intact, or its image does not match its hash tree */
};

struct ingot_slot_status {
        char disk_uuid[37];
        struct ingot_slot_info slots[2];
        char booted;             /* 0 when not booted from this disk (or unknown) */
        char next;               /* 0 when nothing is bootable */
        bool next_counts_try;    /* the next boot is a trial that uses up one try */
        char reason[384];        /* why next, in words */
        char warning[256];       /* e.g. the primary GPT was corrupt and the backup was read */
};

int ingot_slot_status(const struct ingot_slot_options *options, struct ingot_slot_status *ret_status,
                      struct ingot_error *err);

struct ingot_install_options {
        char slot;               /* 'a', 'b', or 0: the inactive one */
        unsigned tries;          /* boot tries of the new slot; 0: 3 */
        char **trusted_certs;    /* PEM certificates the image must be signed by (NULL-terminated) */
        bool allow_downgrade;    /* install a version older than the good slots' */
        const char *profile;     /* a compiled, signed host profile (NAME.profile.json) for this slot, or NULL */
        ingot_progress_fn progress;
        void *userdata;
};

/* Refuses before writing anything: an unsigned image, an untrusted signer, a damaged or truncated
 * image, one that does not fit, one older than the version floor, and the running slot. Then: target
 * priority 0, signature cleared, hash tree and data written (the data checked against the tree as it
 * is written), signature written, fsync, tree and signature read back and checked, and only then the
 * slot made next with tries. ret_slot: the slot written. */
int ingot_slot_install(const struct ingot_slot_options *options, const char *image_path,
                       const struct ingot_install_options *install, char *ret_slot, struct ingot_error *err);

/* A reprofile: the booted slot (on a disk not booted from: the one that boots next) copied into the
 * other slot with profile (a compiled, signed NAME.profile.json) as that slot's own, then made next on
 * trial with tries (0: 3), so a host that does not come up healthy with it falls back to the old
 * profile. Checked like an install: the profile's and the image's signers must be trusted. */
int ingot_slot_reprofile(const struct ingot_slot_options *options, const char *profile, char **trusted_certs,
                         unsigned tries, ingot_progress_fn progress, void *userdata, char *ret_slot,
                         struct ingot_error *err);

/* An installed slot checked in place, through its partitions (no loop device, no device-mapper), as
 * ingot_verify checks an image file: "hash tree" (every data block of the root partition against the
 * verity partition's tree), "root hash" (the signature partition's against the tree's), "signature" (by
 * one of the trusted certificates), "version" (the os-release of the data, once verified) and "profile"
 * (the slot's own, when it has one: signed by a trusted certificate, as the initrd requires). */
struct ingot_slot_verify_report {
        char slot;                         /* 'a' or 'b' */
        struct ingot_verify_report report; /* root_hash from the signature partition */
        char image_id[64], version[64];    /* from the verified data's /usr/lib/os-release; "" when not read */
};

/* slot: 'a', 'b', or 0 for every slot that is installed or unreadable (an empty slot named is -ENOENT);
 * trusted_certs: NULL-terminated, at least one. ret: a report per slot checked, *ret_n of them. 0 when
 * no check failed, -EBADMSG when one did (the reports say which and why), other errors in err. */
int ingot_slot_verify(const struct ingot_slot_options *options, char slot, char **trusted_certs,
                      ingot_progress_fn progress, void *userdata, struct ingot_slot_verify_report ret[2],
                      size_t *ret_n, struct ingot_error *err);

enum ingot_slot_action {
        INGOT_SLOT_SWITCH,    /* make slot next, on trial with tries */
        INGOT_SLOT_MARK_GOOD, /* slot (0: the booted one) booted fine: successful */
        INGOT_SLOT_MARK_BAD,  /* slot never boots again until reinstalled or switched to */
        INGOT_SLOT_ROLLBACK,  /* the other good slot boots next */
        /* The initrd's: marked bad as MARK_BAD, with the reason kept for `ingot slot status` */
        INGOT_SLOT_FAILED_INITRD,    /* it could not boot under its own kernel and command line */
        INGOT_SLOT_FAILED_CORRUPTED, /* dm-verity found a corrupted block while it ran; -EBUSY when the other
                                      * slot cannot boot (it stays: better one bad block than nothing) */
};

/* One GPT write. ret_slot: the slot changed. */
int ingot_slot_change(const struct ingot_slot_options *options, enum ingot_slot_action action, char slot,
                      unsigned tries, char *ret_slot, struct ingot_error *err);

/* The initrd: ingot-init (the C init in boot/) with its libraries, the kernel modules it loads and
 * their dependencies (from modules.dep), the trusted certificate and, when the host has one, a static
 * busybox for ingot.debug. A newc cpio, zstd-compressed when path ends in .zst; reproducible. */
struct ingot_initrd_options {
        const char *init_path;      /* the ingot-init binary */
        const char *cert_path;      /* the trust anchor: slots must be signed by it */
        const char *modules_dir;    /* /lib/modules/VERSION; NULL: from kernel_version */
        const char *kernel_version; /* NULL: the newest under /lib/modules */
        int64_t mtime;              /* of every entry (SOURCE_DATE_EPOCH, or 0) */
};

int ingot_initrd(const char *path, const struct ingot_initrd_options *options, struct ingot_error *err);

/* Fleet delivery (docs/delivery.md): a release directory any web server serves, and installs from it. */
struct ingot_publish_options {
        const char *key_path, *cert_path; /* sign SHA256SUMS and the index (PKCS#7, DER) */
        const char *min_version;          /* the index's floor: installers refuse older versions; NULL: keep */
        int64_t expires;                  /* seconds since the epoch: installers refuse the index from then on */
};

/* How long an index stays valid unless the publisher says otherwise: a host can be held on an old
 * release (a replayed index) for at most this long, and the publisher must publish again within it. */
#define INGOT_INDEX_LIFETIME_DEFAULT (7 * 24 * 3600)

/* Copies every signed NAME_VERSION.raw in outdir with its sidecars into dest (new files under temporary
 * names, fsynced, renamed; an existing file must have the same bytes), then writes SHA256SUMS,
 * SHA256SUMS.p7s, index.json.p7s and index.json last, the index with options->expires (an index of
 * format 1 in dest is read and written as format 2). ret_versions: the versions published. */
int ingot_publish(const char *outdir, const char *dest, const struct ingot_publish_options *options,
                  char ***ret_versions, struct ingot_error *err);

struct ingot_fetch_event {
        const char *type;     /* "index", "selected", "nothing-newer", "retry", "resume", "seeded", "seed",
                                 "seed-damaged", "full", "installed" */
        const char *url;      /* seed, seed-damaged: the slot's partition */
        const char *version;
        const char *message;  /* retry: what failed; seed, seed-damaged, full: why */
        uint64_t offset;      /* resume: the first byte asked for */
        uint64_t reused, fetched; /* seeded: bytes the slots' indexes offer and the rest; installed: as done */
        unsigned attempt, delay_ms;
};
typedef void (*ingot_fetch_event_fn)(const struct ingot_fetch_event *event, void *userdata);

struct ingot_fetch_options {
        const char *cacert, *capath;   /* CA bundle and directory for HTTPS; NULL: libcurl's default */
        unsigned attempts;             /* tries per transfer without progress; 0: 5 */
        unsigned backoff_ms;           /* first retry delay, doubled each time up to 8 s; 0: 500 */
        const char *version;           /* install this version; NULL: the newest the floor allows */
        bool only_newer;               /* do nothing (ret->installed false) unless newer than every slot */
        bool full;                     /* fetch the whole image, even when the release has block indexes */
        ingot_fetch_event_fn event;
        void *userdata;
};

struct ingot_fetch_result {
        bool installed;
        bool seeded;              /* assembled from the slots and Range requests, not fetched whole */
        uint64_t reused, fetched; /* the image's bytes taken from the disk's slots, and fetched */
        char slot;
        char version[64];
        char root_hash[129];
};

/* Fetches URL/index.json and its signature (checked against install->trusted_certs; refused when the
 * signed JSON is not a release index of the current format, or has expired by the host's clock), picks
 * a version (newest not below the slot's version floor and the index's min_version), fetches its
 * sidecars and checks them as a local install does, then streams the image into the inactive slot while
 * it is hashed against the tree; the install sequence is ingot_slot_install's. Transfers are retried
 * with backoff and resumed with Range requests. When the release has the image's block index, the image
 * is assembled from extents the disk's slots hold (by the indexes of their own versions in the release,
 * and the new one's for what an interrupted install already wrote) and the rest fetched with Range
 * requests, every extent checked by its SHA-256; without an index, or a server without Range, the whole
 * image is fetched, and a "full" event says why. */
int ingot_slot_install_url(const struct ingot_slot_options *options, const char *url,
                           const struct ingot_install_options *install, const struct ingot_fetch_options *fetch,
                           struct ingot_fetch_result *ret, struct ingot_error *err);
