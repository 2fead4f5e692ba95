/* recipe.h: the recipe model: one key table per section, validation into absolute paths and
 * canonical image paths, and the resolved form that `ingot plan` prints and the builder reads. */
#pragma once

#include <sys/types.h>

#include "mounts.h"
#include "util.h"

enum base_kind {
        BASE_NONE,    /* an empty root, filled by [Content] only */
        BASE_TREE,    /* a host directory */
        BASE_ARCHIVE, /* anything libarchive reads */
        BASE_DEBIAN,  /* mmdebstrap --mode=unshare --format=tar */
};

enum content_op_kind {
        OP_COPY,
        OP_REMOVE,
        OP_MKDIR,
        OP_SYMLINK,
        OP_OWNER,
        OP_MODE,
        OP_BINARIES,
};

/* The characters that make a Remove= name an fnmatch(3) pattern. */
#define PATTERN_CHARS "*?["

struct content_op {
        enum content_op_kind kind;
        char *where;  /* "file:line" for messages */
        char *source; /* host path, absolute (Copy, Binaries) */
        char *path;   /* canonical image path */
        char *target; /* symlink target, verbatim */
        uint32_t uid, gid;
        mode_t mode;
        bool has_mode;
        bool pattern; /* Remove=: the last name of path is an fnmatch(3) pattern */
};

struct ingot_recipe {
        char *path;   /* absolute path of the main file */
        char **files; /* every file read, in order */

        /* [Image] */
        char *name;
        char *version;
        bool os_release;
        char *os_id;         /* NULL: keep the base's, else Name */
        char *os_version_id; /* NULL: keep the base's, else Version */
        char *profile;       /* host path of the host profile baked in (Profile=), or NULL */
        char *profile_where; /* "file:line" of Profile= */
        char *min_version;   /* MinVersion=: no slot below it boots once a slot with this image was good */
        bool slot_profile_required; /* SlotProfile=required: a slot boots it only with a profile of its own */
        char *policy_where;  /* "file:line" of the last of the two (or of VarNoExec=) */
        bool var_noexec;     /* [Mounts] VarNoExec=yes: the var partition is mounted noexec */

        /* [Base] */
        enum base_kind base;
        char *base_where;
        char *base_source; /* Tree: directory; Archive: file; Debian: suite */
        char *debian_mirror;
        char *debian_variant;
        char **packages;
        char *packages_where;
        char *devices_forbidden_where; /* AllowDevices=no: where it was said; NULL: devices are allowed */

        /* [Content] */
        struct content_op *ops;
        size_t n_ops;

        /* [Verity] */
        char *verity_hash; /* "sha256" */
        uint32_t verity_data_block_size, verity_hash_block_size;

        /* [Signing] */
        char *signing_key;  /* host paths, absolute */
        char *signing_cert;
        char **trusted_certs; /* TrustedCertificate=: what hosts running the image accept; NULL: the signer */

        /* [Mounts]: what the initrd makes writable at boot, in this order */
        struct mount_request *mounts;
        size_t n_mounts;

        /* [Extension]: the recipe builds a systemd-sysext layer (docs/sysext.md) instead of a root image */
        bool extension;
        char *extension_where; /* "file:line" of [Extension] */
        char *image_where;     /* "file:line" of [Image], which a layer recipe may not have */
        char *mounts_where;    /* "file:line" of [Mounts], likewise */
        char *sysext_base;     /* Base=: the base image's NAME_VERSION.manifest.json, absolute; NULL: --base */
        char **sysext_scopes;  /* Scope=: "system", "initrd", "portable" (SYSEXT_SCOPE=); NULL: system */
        char *sysext_level;    /* Level=: SYSEXT_LEVEL=, matched instead of the base's VERSION_ID */
        char **shadow_allowed; /* AllowShadow=: image paths (a directory: all below) that may replace base files */

        /* [Output] */
        int compressor; /* SQFS_COMPRESSOR */
        unsigned level; /* 0: the compressor's default */
        uint32_t block_size;
        int64_t source_date_epoch; /* -1: unset */
};

const char *content_op_name(enum content_op_kind kind);
/* Whether an image path is one a systemd-sysext layer may hold: /usr, /opt and below. */
bool sysext_path_allowed(const char *path);
