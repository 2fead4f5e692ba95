/* recipe.c: recipe key tables, parsing, validation and the resolved (plan) form. */
#include <ctype.h>
#include <json-c/json.h>
#include <limits.h>
#include <sqfs/compressor.h>
#include <sqfs/super.h>
#include <string.h>
#include <sys/stat.h>

#include "ini.h"
#include "recipe.h"
#include "squashfs.h"

struct key_def {
        const char *key;
        int (*parse)(struct ingot_recipe *r, const struct key_def *def, const struct ini_event *ev,
                     struct ingot_error *err);
        size_t offset; /* field for the generic parsers */
        int arg;       /* base or content op kind */
};

struct section_def {
        const char *name;
        const struct key_def *keys;
        size_t n_keys;
};

#define FIELD(f) offsetof(struct ingot_recipe, f)
#define WHERE_FMT "%s:%u: "
#define WHERE(ev) (ev)->file, (ev)->line

const char *content_op_name(enum content_op_kind kind) {
        static const char *const names[] = {
                [OP_COPY] = "Copy",   [OP_REMOVE] = "Remove", [OP_MKDIR] = "Mkdir",       [OP_SYMLINK] = "Symlink",
                [OP_OWNER] = "Owner", [OP_MODE] = "Mode",     [OP_BINARIES] = "Binaries",
        };
        return names[kind];
}

static char *where_dup(const struct ini_event *ev) {
        char *s;
        return asprintf(&s, "%s:%u", ev->file, ev->line) < 0 ? NULL : s;
}

/* A host path named in a recipe is relative to the file that names it; it must exist. */
static int resolve_host_path(const struct ini_event *ev, const char *value, char **ret, struct ingot_error *err) {
        _cleanup_free_ char *dir = dirname_dup(ev->file);
        _cleanup_free_ char *joined = value[0] == '/' ? strdup(value) : path_join(dir, value);
        if (!dir || !joined)
                return -ENOMEM;
        char *abs = realpath(joined, NULL);
        if (!abs)
                return error_set(err, -errno, WHERE_FMT "'%s': %s", WHERE(ev), joined, strerror(errno));
        *ret = abs;
        return 0;
}

static int image_path(const struct ini_event *ev, const char *value, char **ret, struct ingot_error *err) {
        if (value[0] != '/')
                return error_set(err, -EINVAL, WHERE_FMT "%s=: image path '%s' must be absolute", WHERE(ev),
                                 ev->key, value);
        int r = image_path_normalize(value, ret);
        if (r == -EXDEV)
                return error_set(err, r, WHERE_FMT "%s=: image path '%s' contains '..'", WHERE(ev), ev->key,
                                 value);
        if (r == -ENAMETOOLONG)
                return error_set(err, r, WHERE_FMT "%s=: image path '%.64s...' has a name longer than %d bytes",
                                 WHERE(ev), ev->key, value, IMAGE_NAME_MAX);
        return r;
}

static bool valid_name(const char *s, const char *extra) {
        if (!*s || *s == '.' || *s == '-' || strlen(s) > 128)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && !strchr("._-", *s) && !strchr(extra, *s))
                        return false;
        return true;
}

static int parse_identifier(struct ingot_recipe *r, const struct key_def *def, const struct ini_event *ev,
                            struct ingot_error *err) {
        /* Names and versions become file names and os-release values: keep them to a safe alphabet. */
        if (!valid_name(ev->value, def->arg ? "+~" : ""))
                return error_set(err, -EINVAL,
                                 WHERE_FMT "%s='%s' is not valid: use letters, digits, '.', '_', '-'%s", WHERE(ev),
                                 ev->key, ev->value, def->arg ? ", '+', '~'" : "");
        char **field = (char **) ((char *) r + def->offset);
        free(*field);
        *field = strdup(ev->value);
        return *field ? 0 : -ENOMEM;
}

static int parse_min_version(struct ingot_recipe *r, const struct key_def *def, const struct ini_event *ev,
                             struct ingot_error *err) {
        int q = parse_identifier(r, def, ev, err);
        if (q < 0)
                return q;
        free(r->policy_where);
        return (r->policy_where = where_dup(ev)) ? 0 : -ENOMEM;
}

static int parse_slot_profile(struct ingot_recipe *r, const struct key_def *def, const struct ini_event *ev,
                              struct ingot_error *err) {
        (void) def;
        if (strcmp(ev->value, "required") != 0 && strcmp(ev->value, "optional") != 0)
                return error_set(err, -EINVAL, WHERE_FMT "SlotProfile='%s' is not 'required' or 'optional'", WHERE(ev),
                                 ev->value);
        r->slot_profile_required = strcmp(ev->value, "required") == 0;
        free(r->policy_where);
        return (r->policy_where = where_dup(ev)) ? 0 : -ENOMEM;
}

static int parse_os_release(struct ingot_recipe *r, const struct key_def *def, const struct ini_event *ev,
                            struct ingot_error *err) {
        (void) def;
        if (parse_bool(ev->value, &r->os_release) < 0)
                return error_set(err, -EINVAL, WHERE_FMT "OsRelease='%s' is not a boolean", WHERE(ev), ev->value);
        return 0;
}

static int parse_allow_devices(struct ingot_recipe *r, const struct key_def *def, const struct ini_event *ev,
                               struct ingot_error *err) {
        (void) def;
        bool allow;
        if (parse_bool(ev->value, &allow) < 0)
                return error_set(err, -EINVAL, WHERE_FMT "AllowDevices='%s' is not a boolean", WHERE(ev), ev->value);
        free(r->devices_forbidden_where);
        r->devices_forbidden_where = allow ? NULL : where_dup(ev);
        return allow || r->devices_forbidden_where ? 0 : -ENOMEM;
}

static int parse_base(struct ingot_recipe *r, const struct key_def *def, const struct ini_event *ev,
                      struct ingot_error *err) {
        if (r->base != BASE_NONE && r->base != (enum base_kind) def->arg)
                return error_set(err, -EINVAL, WHERE_FMT "%s= conflicts with the base set at %s: a recipe has one base",
                                 WHERE(ev), ev->key, r->base_where);
        _cleanup_free_ char *source = NULL;
        int q;
        if (def->arg == BASE_DEBIAN) {
                if (!valid_name(ev->value, ""))
                        return error_set(err, -EINVAL, WHERE_FMT "Debian='%s' is not a suite name", WHERE(ev),
                                         ev->value);
                source = strdup(ev->value);
                if (!source)
                        return -ENOMEM;
        } else {
                q = resolve_host_path(ev, ev->value, &source, err);
                if (q < 0)
                        return q;
                struct stat st;
                if (stat(source, &st) < 0)
                        return error_set(err, -errno, WHERE_FMT "'%s': %s", WHERE(ev), source, strerror(errno));
                if (def->arg == BASE_TREE && !S_ISDIR(st.st_mode))
                        return error_set(err, -ENOTDIR, WHERE_FMT "Tree='%s' is not a directory", WHERE(ev), source);
                if (def->arg == BASE_ARCHIVE && S_ISDIR(st.st_mode))
                        return error_set(err, -EISDIR, WHERE_FMT "Archive='%s' is a directory; use Tree=", WHERE(ev),
                                         source);
        }
        free(r->base_source);
        free(r->base_where);
        r->base_source = TAKE_PTR(source);
        r->base_where = where_dup(ev);
        r->base = def->arg;
        return r->base_where ? 0 : -ENOMEM;
}

static int parse_packages(struct ingot_recipe *r, const struct key_def *def, const struct ini_event *ev,
                          struct ingot_error *err) {
        (void) def;
        if (!*ev->value) { /* an empty assignment resets the list, as in systemd */
                strv_free(r->packages);
                r->packages = NULL;
                return 0;
        }
        _cleanup_free_ char *copy = strdup(ev->value);
        if (!copy)
                return -ENOMEM;
        char *save = NULL;
        for (char *w = strtok_r(copy, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
                if (!valid_name(w, "+:=<>") || !isalnum((unsigned char) w[0]))
                        return error_set(err, -EINVAL, WHERE_FMT "Packages=: '%s' is not a package name", WHERE(ev), w);
                int q = strv_extend(&r->packages, w);
                if (q < 0)
                        return q;
        }
        if (!r->packages_where)
                r->packages_where = where_dup(ev);
        return 0;
}

static int parse_string(struct ingot_recipe *r, const struct key_def *def, const struct ini_event *ev,
                        struct ingot_error *err) {
        if (!*ev->value || strpbrk(ev->value, " \t"))
                return error_set(err, -EINVAL, WHERE_FMT "%s= needs one word, got '%s'", WHERE(ev), ev->key,
                                 ev->value);
        char **field = (char **) ((char *) r + def->offset);
        free(*field);
        *field = strdup(ev->value);
        return *field ? 0 : -ENOMEM;
}

/* "A:B" -> "A", "B"; B may be absent. */
static int split_pair(const char *value, char **ret_a, char **ret_b) {
        const char *colon = strchr(value, ':');
        *ret_a = colon ? strndup(value, (size_t) (colon - value)) : strdup(value);
        *ret_b = colon ? strdup(colon + 1) : NULL;
        if (!*ret_a || (colon && !*ret_b))
                return -ENOMEM;
        return 0;
}

static int parse_mode_value(const char *s, mode_t *ret) {
        if (!*s || strlen(s) > 4 || strspn(s, "01234567") != strlen(s))
                return -EINVAL;
        *ret = (mode_t) strtoul(s, NULL, 8);
        return 0;
}

static void content_op_done(struct content_op *op) {
        free(op->where);
        free(op->source);
        free(op->path);
        free(op->target);
}

/* Copy=SRC[:DST], Binaries=HOSTPATH[:IMAGEPATH] */
static int parse_host_op(const struct ini_event *ev, const char *a, const char *b, struct content_op *op,
                         struct ingot_error *err) {
        int q = resolve_host_path(ev, a, &op->source, err);
        if (q < 0)
                return q;
        struct stat st;
        if (op->kind == OP_BINARIES && (stat(op->source, &st) < 0 || !S_ISREG(st.st_mode)))
                return error_set(err, -EINVAL, WHERE_FMT "Binaries='%s' is not a regular file", WHERE(ev), op->source);
        const char *dst = b ?: (op->kind == OP_COPY ? "/" : a);
        return image_path(ev, dst, &op->path, err);
}

static int parse_remove(const struct ini_event *ev, const char *a, const char *b, struct content_op *op,
                        struct ingot_error *err) {
        if (b)
                return error_set(err, -EINVAL, WHERE_FMT "Remove= takes one image path", WHERE(ev));
        int q = image_path(ev, a, &op->path, err);
        if (q < 0)
                return q;
        if (strcmp(op->path, "/") == 0)
                return error_set(err, -EINVAL, WHERE_FMT "Remove=/ would remove the whole image", WHERE(ev));
        /* a pattern names entries of one directory: only the last name may be one */
        const char *last = strrchr(op->path, '/') + 1, *wild = strpbrk(op->path, PATTERN_CHARS);
        if (wild && wild < last)
                return error_set(err, -EINVAL, WHERE_FMT "Remove=%s: only the last name may be a pattern (*, ?, [...])",
                                 WHERE(ev), op->path);
        op->pattern = wild != NULL;
        return 0;
}

/* Mkdir=PATH[:MODE] */
static int parse_mkdir(const struct ini_event *ev, const char *a, const char *b, struct content_op *op,
                       struct ingot_error *err) {
        int q = image_path(ev, a, &op->path, err);
        if (q < 0)
                return q;
        op->mode = 0755;
        op->has_mode = true;
        if (b && parse_mode_value(b, &op->mode) < 0)
                return error_set(err, -EINVAL, WHERE_FMT "Mkdir=: '%s' is not an octal mode", WHERE(ev), b);
        return 0;
}

/* Symlink=TARGET:PATH, as ln -s TARGET PATH */
static int parse_symlink(const struct ini_event *ev, const char *a, const char *b, struct content_op *op,
                         struct ingot_error *err) {
        if (!b || !*a)
                return error_set(err, -EINVAL, WHERE_FMT "Symlink= wants TARGET:PATH", WHERE(ev));
        op->target = strdup(a);
        if (!op->target)
                return -ENOMEM;
        return image_path(ev, b, &op->path, err);
}

/* Owner=PATH:UID:GID */
static int parse_owner(const struct ini_event *ev, const char *a, char *b, struct content_op *op,
                       struct ingot_error *err) {
        char *gid = b ? strchr(b, ':') : NULL;
        uint64_t u, g;
        if (!gid)
                return error_set(err, -EINVAL, WHERE_FMT "Owner= wants PATH:UID:GID", WHERE(ev));
        *gid++ = 0;
        if (parse_uint(b, UINT32_MAX - 1, &u) < 0 || parse_uint(gid, UINT32_MAX - 1, &g) < 0)
                return error_set(err, -EINVAL, WHERE_FMT "Owner=: '%s:%s' is not a numeric UID:GID", WHERE(ev), b, gid);
        op->uid = (uint32_t) u;
        op->gid = (uint32_t) g;
        return image_path(ev, a, &op->path, err);
}

/* Mode=PATH:MODE */
static int parse_mode(const struct ini_event *ev, const char *a, const char *b, struct content_op *op,
                      struct ingot_error *err) {
        if (!b || parse_mode_value(b, &op->mode) < 0)
                return error_set(err, -EINVAL, WHERE_FMT "Mode= wants PATH:OCTAL-MODE, e.g. /usr/bin/su:4755",
                                 WHERE(ev));
        op->has_mode = true;
        return image_path(ev, a, &op->path, err);
}

static int parse_content(struct ingot_recipe *r, const struct key_def *def, const struct ini_event *ev,
                         struct ingot_error *err) {
        if (!*ev->value)
                return error_set(err, -EINVAL, WHERE_FMT "%s= needs a value", WHERE(ev), ev->key);
        _cleanup_(content_op_done) struct content_op op = { .kind = def->arg };
        _cleanup_free_ char *a = NULL, *b = NULL;
        int q = split_pair(ev->value, &a, &b);
        if (q < 0)
                return q;

        switch (op.kind) {
        case OP_COPY:
        case OP_BINARIES:
                q = parse_host_op(ev, a, b, &op, err);
                break;
        case OP_REMOVE:
                q = parse_remove(ev, a, b, &op, err);
                break;
        case OP_MKDIR:
                q = parse_mkdir(ev, a, b, &op, err);
                break;
        case OP_SYMLINK:
                q = parse_symlink(ev, a, b, &op, err);
                break;
        case OP_OWNER:
                q = parse_owner(ev, a, b, &op, err);
                break;
        case OP_MODE:
                q = parse_mode(ev, a, b, &op, err);
                break;
        }
        if (q < 0)
                return q;

        op.where = where_dup(ev);
        if (!op.where)
                return -ENOMEM;
        struct content_op *ops = reallocarray(r->ops, r->n_ops + 1, sizeof(*ops));
        if (!ops)
                return -ENOMEM;
        r->ops = ops;
        r->ops[r->n_ops++] = op;
        op = (struct content_op) {}; /* the recipe owns it now */
        return 0;
}

static int parse_host_file(struct ingot_recipe *r, const struct key_def *def, const struct ini_event *ev,
                           struct ingot_error *err) {
        char **field = (char **) ((char *) r + def->offset), *path = NULL;
        int q = resolve_host_path(ev, ev->value, &path, err);
        if (q < 0)
                return q;
        free(*field);
        *field = path;
        return 0;
}

/* Profile=: the host file, and where it was said (the build's warnings about it name it). */
static int parse_profile(struct ingot_recipe *r, const struct key_def *def, const struct ini_event *ev,
                         struct ingot_error *err) {
        char *where = where_dup(ev);
        int q = where ? parse_host_file(r, def, ev, err) : -ENOMEM;
        if (q < 0) {
                free(where);
                return q;
        }
        free(r->profile_where);
        r->profile_where = where;
        return 0;
}

/* A list: each assignment adds one; an empty one clears what came before (systemd's way). */
static int parse_trusted_cert(struct ingot_recipe *r, const struct key_def *def, const struct ini_event *ev,
                              struct ingot_error *err) {
        (void) def;
        if (!*ev->value) {
                strv_free(r->trusted_certs);
                r->trusted_certs = NULL;
                return 0;
        }
        char *path = NULL;
        int q = resolve_host_path(ev, ev->value, &path, err);
        if (q < 0)
                return q;
        return strv_push(&r->trusted_certs, path) < 0 ? -ENOMEM : 0;
}

static int parse_compression(struct ingot_recipe *r, const struct key_def *def, const struct ini_event *ev,
                             struct ingot_error *err) {
        (void) def;
        const struct squashfs_compressor *c = squashfs_compressor_find(ev->value);
        if (c) {
                r->compressor = c->id;
                return 0;
        }
        return error_set(err, -EINVAL, WHERE_FMT "Compression='%s' is not one of zstd, xz, gzip, lz4", WHERE(ev),
                         ev->value);
}

static int parse_level(struct ingot_recipe *r, const struct key_def *def, const struct ini_event *ev,
                       struct ingot_error *err) {
        (void) def;
        uint64_t v;
        if (parse_uint(ev->value, 22, &v) < 0)
                return error_set(err, -EINVAL, WHERE_FMT "Level='%s' is not a number from 0 to 22", WHERE(ev),
                                 ev->value);
        r->level = (unsigned) v;
        return 0;
}

static int parse_block_size(struct ingot_recipe *r, const struct key_def *def, const struct ini_event *ev,
                            struct ingot_error *err) {
        (void) def;
        uint64_t v;
        if (parse_size(ev->value, &v) < 0 || v < SQFS_MIN_BLOCK_SIZE || v > SQFS_MAX_BLOCK_SIZE || (v & (v - 1)))
                return error_set(err, -EINVAL, WHERE_FMT "BlockSize='%s' must be a power of two from 4K to 1M",
                                 WHERE(ev), ev->value);
        r->block_size = (uint32_t) v;
        return 0;
}

static int parse_epoch(struct ingot_recipe *r, const struct key_def *def, const struct ini_event *ev,
                       struct ingot_error *err) {
        (void) def;
        uint64_t v;
        if (parse_uint(ev->value, UINT32_MAX, &v) < 0)
                return error_set(err, -EINVAL, WHERE_FMT "SourceDateEpoch='%s' is not seconds since 1970 (32 bits)",
                                 WHERE(ev), ev->value);
        r->source_date_epoch = (int64_t) v;
        return 0;
}

static const struct key_def image_keys[] = {
        { "Name", parse_identifier, FIELD(name), 0 },
        { "Version", parse_identifier, FIELD(version), 1 },
        { "OsRelease", parse_os_release, 0, 0 },
        { "Id", parse_identifier, FIELD(os_id), 0 },
        { "VersionId", parse_identifier, FIELD(os_version_id), 1 },
        { "Profile", parse_profile, FIELD(profile), 0 },
        { "MinVersion", parse_min_version, FIELD(min_version), 1 },
        { "SlotProfile", parse_slot_profile, 0, 0 },
};
static const struct key_def base_keys[] = {
        { "Tree", parse_base, 0, BASE_TREE },
        { "Archive", parse_base, 0, BASE_ARCHIVE },
        { "Debian", parse_base, 0, BASE_DEBIAN },
        { "Packages", parse_packages, 0, 0 },
        { "Mirror", parse_string, FIELD(debian_mirror), 0 },
        { "Variant", parse_string, FIELD(debian_variant), 0 },
        { "AllowDevices", parse_allow_devices, 0, 0 },
};
static const struct key_def content_keys[] = {
        { "Copy", parse_content, 0, OP_COPY },       { "Remove", parse_content, 0, OP_REMOVE },
        { "Mkdir", parse_content, 0, OP_MKDIR },     { "Symlink", parse_content, 0, OP_SYMLINK },
        { "Owner", parse_content, 0, OP_OWNER },     { "Mode", parse_content, 0, OP_MODE },
        { "Binaries", parse_content, 0, OP_BINARIES },
};
static int parse_verity_hash(struct ingot_recipe *r, const struct key_def *def, const struct ini_event *ev,
                             struct ingot_error *err) {
        (void) def;
        static const char *const ok[] = { "sha256", "sha512", "sha1" };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++)
                if (strcmp(ev->value, ok[i]) == 0) {
                        free(r->verity_hash);
                        r->verity_hash = strdup(ok[i]);
                        return r->verity_hash ? 0 : -ENOMEM;
                }
        return error_set(err, -EINVAL, WHERE_FMT "Hash='%s' is not one of sha256, sha512, sha1", WHERE(ev), ev->value);
}

static int parse_verity_block_size(struct ingot_recipe *r, const struct key_def *def, const struct ini_event *ev,
                                   struct ingot_error *err) {
        uint64_t v;
        /* the image is padded to 4 KiB, and dm-verity wants a power of two from 512 bytes */
        if (parse_size(ev->value, &v) < 0 || v < 512 || v > 4096 || (v & (v - 1)))
                return error_set(err, -EINVAL, WHERE_FMT "%s='%s' must be 512, 1K, 2K or 4K", WHERE(ev), ev->key,
                                 ev->value);
        *(uint32_t *) ((char *) r + def->offset) = (uint32_t) v;
        return 0;
}

static const struct key_def verity_keys[] = {
        { "Hash", parse_verity_hash, 0, 0 },
        { "DataBlockSize", parse_verity_block_size, FIELD(verity_data_block_size), 0 },
        { "HashBlockSize", parse_verity_block_size, FIELD(verity_hash_block_size), 0 },
};
static const struct key_def signing_keys[] = {
        { "Key", parse_host_file, FIELD(signing_key), 0 },
        { "Certificate", parse_host_file, FIELD(signing_cert), 0 },
        { "TrustedCertificate", parse_trusted_cert, 0, 0 },
};
/* Tmpfs=PATH, Overlay=PATH: a list in the order given; an empty assignment clears it. */
static int parse_mount(struct ingot_recipe *r, const struct key_def *def, const struct ini_event *ev,
                       struct ingot_error *err) {
        if (!*ev->value) {
                for (size_t i = 0; i < r->n_mounts; i++) {
                        free(r->mounts[i].path);
                        free(r->mounts[i].where);
                }
                r->n_mounts = 0;
                return 0;
        }
        char *path = NULL;
        int q = image_path(ev, ev->value, &path, err);
        if (q < 0)
                return q;
        if (strcmp(path, "/") == 0 || strcmp(path, "/usr") == 0 || strncmp(path, "/usr/", 5) == 0 ||
            strcmp(path, "/var") == 0) {
                free(path);
                return error_set(err, -EINVAL,
                                 WHERE_FMT "%s=%s: / and /usr are the verified image and /var is the var partition",
                                 WHERE(ev), ev->key, ev->value);
        }
        for (size_t i = 0; i < r->n_mounts; i++)
                if (strcmp(r->mounts[i].path, path) == 0) {
                        error_set(err, -EINVAL, WHERE_FMT "%s=%s: already mounted by %s", WHERE(ev), ev->key,
                                  ev->value, r->mounts[i].where);
                        free(path);
                        return -EINVAL;
                }
        char *where = where_dup(ev);
        struct mount_request *m = where ? reallocarray(r->mounts, r->n_mounts + 1, sizeof(*m)) : NULL;
        if (!m) {
                free(path);
                free(where);
                return -ENOMEM;
        }
        r->mounts = m;
        m[r->n_mounts++] = (struct mount_request) { .kind = (enum mount_kind) def->arg, .path = path, .where = where };
        return 0;
}

static int parse_var_noexec(struct ingot_recipe *r, const struct key_def *def, const struct ini_event *ev,
                            struct ingot_error *err) {
        (void) def;
        if (parse_bool(ev->value, &r->var_noexec) < 0)
                return error_set(err, -EINVAL, WHERE_FMT "VarNoExec='%s' is not a boolean", WHERE(ev), ev->value);
        free(r->policy_where);
        return (r->policy_where = where_dup(ev)) ? 0 : -ENOMEM;
}

static const struct key_def mounts_keys[] = {
        { "Tmpfs", parse_mount, 0, MOUNT_TMPFS },
        { "Overlay", parse_mount, 0, MOUNT_OVERLAY },
        { "VarNoExec", parse_var_noexec, 0, 0 },
};
static const struct key_def output_keys[] = {
        { "Compression", parse_compression, 0, 0 },
        { "Level", parse_level, 0, 0 },
        { "BlockSize", parse_block_size, 0, 0 },
        { "SourceDateEpoch", parse_epoch, 0, 0 },
};

/* Base=: where the base image's manifest will be; --base may name another, so it need not exist yet. */
static int parse_sysext_base(struct ingot_recipe *r, const struct key_def *def, const struct ini_event *ev,
                             struct ingot_error *err) {
        (void) def;
        if (!*ev->value)
                return error_set(err, -EINVAL, WHERE_FMT "Base= needs the base image's NAME_VERSION.manifest.json",
                                 WHERE(ev));
        _cleanup_free_ char *dir = dirname_dup(ev->file), *cwd = getcwd(NULL, 0);
        if (!dir || !cwd)
                return -ENOMEM;
        _cleanup_free_ char *rel = ev->value[0] == '/' ? strdup(ev->value) : path_join(dir, ev->value);
        _cleanup_free_ char *joined = rel && rel[0] != '/' ? path_join(cwd, rel) : (rel ? strdup(rel) : NULL);
        if (!joined)
                return -ENOMEM;
        /* "a/./b" -> "a/b", lexically: resolving symlinks would make the recipe digest depend on them */
        char *abs = joined;
        for (char *dot; (dot = strstr(abs, "/./"));)
                memmove(dot, dot + 2, strlen(dot + 2) + 1);
        joined = NULL;
        free(r->sysext_base);
        r->sysext_base = abs;
        return 0;
}

/* Scope=system initrd portable: a list; an empty assignment resets it. */
static int parse_sysext_scope(struct ingot_recipe *r, const struct key_def *def, const struct ini_event *ev,
                              struct ingot_error *err) {
        (void) def;
        _cleanup_strv_free_ char **words = NULL;
        int q = strv_split(ev->value, " \t", &words);
        if (q < 0)
                return q;
        strv_free(r->sysext_scopes);
        r->sysext_scopes = NULL;
        for (char **w = words; w && *w; w++) {
                if (strcmp(*w, "system") != 0 && strcmp(*w, "initrd") != 0 && strcmp(*w, "portable") != 0)
                        return error_set(err, -EINVAL, WHERE_FMT "Scope='%s' is not one of system, initrd, portable",
                                         WHERE(ev), *w);
                if (!strv_contains(r->sysext_scopes, *w) && (q = strv_extend(&r->sysext_scopes, *w)) < 0)
                        return q;
        }
        return 0;
}

/* AllowShadow=PATH...: layer paths that may replace what the base has; an empty assignment resets. */
static int parse_allow_shadow(struct ingot_recipe *r, const struct key_def *def, const struct ini_event *ev,
                              struct ingot_error *err) {
        (void) def;
        _cleanup_strv_free_ char **words = NULL;
        int q = strv_split(ev->value, " \t", &words);
        if (q < 0)
                return q;
        if (!words) {
                strv_free(r->shadow_allowed);
                r->shadow_allowed = NULL;
        }
        for (char **w = words; w && *w; w++) {
                _cleanup_free_ char *path = NULL;
                q = image_path(ev, *w, &path, err);
                if (q < 0)
                        return q;
                if (!sysext_path_allowed(path))
                        return error_set(err, -EINVAL, WHERE_FMT "AllowShadow=%s: a layer holds only /usr and /opt",
                                         WHERE(ev), path);
                q = strv_push(&r->shadow_allowed, TAKE_PTR(path));
                if (q < 0)
                        return q;
        }
        return 0;
}

static const struct key_def extension_keys[] = {
        { "Name", parse_identifier, FIELD(name), 0 },
        { "Version", parse_identifier, FIELD(version), 1 },
        { "Base", parse_sysext_base, 0, 0 },
        { "Scope", parse_sysext_scope, 0, 0 },
        { "Level", parse_identifier, FIELD(sysext_level), 1 },
        { "AllowShadow", parse_allow_shadow, 0, 0 },
};
static const struct section_def sections[] = {
        { "Image", image_keys, ELEMENTSOF(image_keys) },
        { "Base", base_keys, ELEMENTSOF(base_keys) },
        { "Content", content_keys, ELEMENTSOF(content_keys) },
        { "Verity", verity_keys, ELEMENTSOF(verity_keys) },
        { "Signing", signing_keys, ELEMENTSOF(signing_keys) },
        { "Mounts", mounts_keys, ELEMENTSOF(mounts_keys) },
        { "Output", output_keys, ELEMENTSOF(output_keys) },
        { "Extension", extension_keys, ELEMENTSOF(extension_keys) },
};

static const struct section_def *find_section(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(sections); i++)
                if (strcmp(sections[i].name, name) == 0)
                        return &sections[i];
        return NULL;
}

static int unknown_section(const struct ini_event *ev, struct ingot_error *err) {
        const char *best = nearest_name(ev->section, sections, ELEMENTSOF(sections), sizeof(sections[0]), 2);
        if (best)
                return error_set(err, -EINVAL, WHERE_FMT "unknown section [%s]; did you mean [%s]?", WHERE(ev),
                                 ev->section, best);
        return error_set(err, -EINVAL, WHERE_FMT "unknown section [%s]; known: [Image] [Extension] [Base] [Content] [Verity] [Signing] [Mounts] [Output]",
                         WHERE(ev), ev->section);
}

static int unknown_key(const struct section_def *s, const struct ini_event *ev, struct ingot_error *err) {
        const char *best = nearest_name(ev->key, s->keys, s->n_keys, sizeof(s->keys[0]), 3);
        if (best)
                return error_set(err, -EINVAL, WHERE_FMT "unknown key '%s' in [%s]; did you mean '%s'?", WHERE(ev),
                                 ev->key, ev->section, best);
        for (size_t i = 0; i < ELEMENTSOF(sections); i++)
                for (size_t k = 0; k < sections[i].n_keys; k++)
                        if (strcmp(sections[i].keys[k].key, ev->key) == 0)
                                return error_set(err, -EINVAL, WHERE_FMT "unknown key '%s' in [%s]; it belongs in [%s]",
                                                 WHERE(ev), ev->key, ev->section, sections[i].name);
        return error_set(err, -EINVAL, WHERE_FMT "unknown key '%s' in [%s]", WHERE(ev), ev->key, ev->section);
}

static int on_event(const struct ini_event *ev, void *userdata, struct ingot_error *err) {
        struct ingot_recipe *r = userdata;
        if (ev->type == INI_FILE)
                return strv_extend(&r->files, ev->file);

        const struct section_def *s = find_section(ev->section);
        if (!s)
                return unknown_section(ev, err);
        if (ev->type == INI_SECTION) {
                char **where = strcmp(s->name, "Extension") == 0 ? &r->extension_where
                               : strcmp(s->name, "Image") == 0   ? &r->image_where
                               : strcmp(s->name, "Mounts") == 0  ? &r->mounts_where
                                                                 : NULL;
                if (where && !*where && !(*where = where_dup(ev)))
                        return -ENOMEM;
                r->extension |= where == &r->extension_where;
                return 0;
        }
        for (size_t i = 0; i < s->n_keys; i++)
                if (strcmp(s->keys[i].key, ev->key) == 0)
                        return s->keys[i].parse(r, &s->keys[i], ev, err);
        return unknown_key(s, ev, err);
}

bool sysext_path_allowed(const char *path) {
        return strcmp(path, "/usr") == 0 || strncmp(path, "/usr/", 5) == 0 || strcmp(path, "/opt") == 0 ||
               strncmp(path, "/opt/", 5) == 0;
}

/* A layer recipe: [Extension] instead of [Image], nothing outside /usr and /opt, no boot-time keys. */
static int validate_extension(struct ingot_recipe *r, struct ingot_error *err) {
        if (r->image_where)
                return error_set(err, -EINVAL, "%s: [Image] in a layer recipe ([Extension] at %s): a recipe builds an "
                                 "image or a layer", r->image_where, r->extension_where);
        if (r->mounts_where)
                return error_set(err, -EINVAL, "%s: [Mounts] does not apply to a layer: the base image's initrd "
                                 "makes paths writable", r->mounts_where);
        if (r->trusted_certs)
                return error_set(err, -EINVAL, "%s: TrustedCertificate= does not apply to a layer: hosts trust what "
                                 "their base image says", r->files[0]);
        if (!r->name)
                return error_set(err, -EINVAL, "%s: [Extension] Name= is required", r->extension_where);
        if (!r->version)
                return error_set(err, -EINVAL, "%s: [Extension] Version= is required", r->extension_where);
        for (size_t i = 0; i < r->n_ops; i++) {
                const struct content_op *op = &r->ops[i];
                /* Copy=DIR:/ may hold only usr/ and opt/: the build checks what it brings */
                if (op->kind == OP_COPY && strcmp(op->path, "/") == 0)
                        continue;
                if (!sysext_path_allowed(op->path))
                        return error_set(err, -EINVAL, "%s: %s=%s: a layer holds only /usr and /opt", op->where,
                                         content_op_name(op->kind), op->path);
        }
        r->os_release = false; /* the layer's identity is its extension-release file */
        return 0;
}

static int validate(struct ingot_recipe *r, struct ingot_error *err) {
        if (r->extension) {
                int q = validate_extension(r, err);
                if (q < 0)
                        return q;
        }
        if (!r->name)
                return error_set(err, -EINVAL, "%s: [Image] Name= is required", r->files[0]);
        if (!r->version)
                return error_set(err, -EINVAL, "%s: [Image] Version= is required", r->files[0]);
        if (!r->signing_key != !r->signing_cert)
                return error_set(err, -EINVAL, "%s: [Signing] needs both Key= and Certificate=", r->files[0]);
        if (r->min_version && version_compare(r->min_version, r->version) > 0)
                return error_set(err, -EINVAL, "%s: MinVersion=%s is above the image's own Version=%s: it could never boot",
                                 r->policy_where, r->min_version, r->version);
        if ((r->min_version || r->slot_profile_required || r->var_noexec) && (!r->os_release || r->extension))
                return error_set(err, -EINVAL, "%s: MinVersion=, SlotProfile= and VarNoExec= live in the image's "
                                 "os-release: %s", r->policy_where, r->extension ? "not for a layer" : "they need OsRelease=yes");
        if (r->base != BASE_DEBIAN && (r->packages || r->debian_mirror || r->debian_variant))
                return error_set(err, -EINVAL, "%s: Packages=, Mirror= and Variant= need Debian= in [Base]",
                                 r->packages_where ?: r->files[0]);
        const struct squashfs_compressor *c = squashfs_compressor_by_id(r->compressor);
        if (c && r->level) {
                if (c->max_level == 0)
                        return error_set(err, -EINVAL, "%s: Level= does not apply to %s", r->files[0], c->name);
                if (r->level < c->min_level || r->level > c->max_level)
                        return error_set(err, -EINVAL, "%s: Level=%u is outside %u..%u for %s", r->files[0], r->level,
                                         c->min_level, c->max_level, c->name);
        }
        return 0;
}

void ingot_recipe_free(struct ingot_recipe *r) {
        if (!r)
                return;
        free(r->path);
        strv_free(r->files);
        free(r->name);
        free(r->version);
        free(r->os_id);
        free(r->os_version_id);
        free(r->profile);
        free(r->profile_where);
        free(r->min_version);
        free(r->policy_where);
        free(r->base_where);
        free(r->base_source);
        free(r->debian_mirror);
        free(r->debian_variant);
        strv_free(r->packages);
        free(r->packages_where);
        free(r->devices_forbidden_where);
        free(r->verity_hash);
        free(r->signing_key);
        free(r->signing_cert);
        strv_free(r->trusted_certs);
        for (size_t i = 0; i < r->n_ops; i++) {
                content_op_done(&r->ops[i]);
        }
        free(r->ops);
        for (size_t i = 0; i < r->n_mounts; i++) {
                free(r->mounts[i].path);
                free(r->mounts[i].where);
        }
        free(r->mounts);
        free(r->extension_where);
        free(r->image_where);
        free(r->mounts_where);
        free(r->sysext_base);
        strv_free(r->sysext_scopes);
        free(r->sysext_level);
        strv_free(r->shadow_allowed);
        free(r);
}

static void recipe_freep(struct ingot_recipe **r) {
        ingot_recipe_free(*r);
}

int ingot_recipe_load(const char *path, struct ingot_recipe **ret_recipe, struct ingot_error *err) {
        _cleanup_(recipe_freep) struct ingot_recipe *r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->os_release = true;
        r->compressor = SQFS_COMP_ZSTD;
        r->block_size = SQFS_DEFAULT_BLOCK_SIZE;
        r->source_date_epoch = -1;
        r->verity_data_block_size = r->verity_hash_block_size = 4096;
        r->verity_hash = strdup("sha256");
        if (!r->verity_hash)
                return -ENOMEM;

        r->path = realpath(path, NULL);
        if (!r->path)
                return error_set(err, -errno, "%s: %s", path, strerror(errno));

        int q = ini_parse(path, on_event, r, err);
        if (q < 0)
                return q;
        q = validate(r, err);
        if (q < 0)
                return q;
        *ret_recipe = TAKE_PTR(r);
        return 0;
}

const char *ingot_recipe_name(const struct ingot_recipe *r) {
        return r->name;
}

const char *ingot_recipe_version(const struct ingot_recipe *r) {
        return r->version;
}

int64_t ingot_recipe_source_date_epoch(const struct ingot_recipe *r) {
        return r->source_date_epoch;
}

static const char *base_name(enum base_kind k) {
        static const char *const names[] = {
                [BASE_NONE] = "none", [BASE_TREE] = "tree", [BASE_ARCHIVE] = "archive", [BASE_DEBIAN] = "debian"
        };
        return names[k];
}

static json_object *strv_to_json(char **l) {
        json_object *a = json_object_new_array();
        for (char **i = l; a && i && *i; i++)
                json_object_array_add(a, json_object_new_string(*i));
        return a;
}

static void json_add_string(json_object *o, const char *key, const char *value) {
        json_object_object_add(o, key, value ? json_object_new_string(value) : NULL);
}

int ingot_recipe_to_json(const struct ingot_recipe *r, char **ret_json) {
        json_object *root = json_object_new_object();
        if (!root)
                return -ENOMEM;
        json_add_string(root, "recipe", r->path);
        json_object_object_add(root, "files", strv_to_json(r->files));

        json_object *image = json_object_new_object();
        json_add_string(image, "name", r->name);
        json_add_string(image, "version", r->version);
        json_object_object_add(image, "os_release", json_object_new_boolean(r->os_release));
        json_add_string(image, "id", r->os_id);
        json_add_string(image, "version_id", r->os_version_id);
        json_add_string(image, "profile", r->profile);
        json_add_string(image, "min_version", r->min_version);
        json_object_object_add(image, "slot_profile", json_object_new_string(r->slot_profile_required ? "required"
                                                                                                     : "optional"));
        json_object_object_add(image, "var_noexec", json_object_new_boolean(r->var_noexec));
        json_object_object_add(root, "image", image);

        json_object *base = json_object_new_object();
        json_add_string(base, "kind", base_name(r->base));
        json_add_string(base, "source", r->base_source);
        if (r->base == BASE_DEBIAN) {
                json_add_string(base, "mirror", r->debian_mirror);
                json_add_string(base, "variant", r->debian_variant ?: "minbase");
                json_object_object_add(base, "packages", strv_to_json(r->packages));
        }
        if (r->devices_forbidden_where) /* only when set: older plans and recipe digests stay as they were */
                json_object_object_add(base, "allow_devices", json_object_new_boolean(false));
        json_object_object_add(root, "base", base);

        json_object *content = json_object_new_array();
        for (size_t i = 0; i < r->n_ops; i++) {
                const struct content_op *op = &r->ops[i];
                json_object *o = json_object_new_object();
                json_add_string(o, "op", content_op_name(op->kind));
                json_add_string(o, "where", op->where);
                json_add_string(o, "path", op->path);
                if (op->source)
                        json_add_string(o, "source", op->source);
                if (op->target)
                        json_add_string(o, "target", op->target);
                if (op->kind == OP_OWNER) {
                        json_object_object_add(o, "uid", json_object_new_int64(op->uid));
                        json_object_object_add(o, "gid", json_object_new_int64(op->gid));
                }
                if (op->has_mode) {
                        char m[8];
                        snprintf(m, sizeof(m), "%04o", (unsigned) op->mode);
                        json_add_string(o, "mode", m);
                }
                json_object_array_add(content, o);
        }
        json_object_object_add(root, "content", content);

        json_object *verity = json_object_new_object();
        json_add_string(verity, "hash", r->verity_hash);
        json_object_object_add(verity, "data_block_size", json_object_new_int64(r->verity_data_block_size));
        json_object_object_add(verity, "hash_block_size", json_object_new_int64(r->verity_hash_block_size));
        json_object_object_add(root, "verity", verity);

        json_object *signing = json_object_new_object();
        json_add_string(signing, "key", r->signing_key);
        json_add_string(signing, "certificate", r->signing_cert);
        json_object_object_add(signing, "trusted_certificates", strv_to_json(r->trusted_certs));
        json_object_object_add(root, "signing", signing);

        json_object *mounts = json_object_new_array();
        for (size_t i = 0; i < r->n_mounts; i++) {
                json_object *o = json_object_new_object();
                json_add_string(o, "kind", r->mounts[i].kind == MOUNT_TMPFS ? "tmpfs" : "overlay");
                json_add_string(o, "path", r->mounts[i].path);
                json_add_string(o, "where", r->mounts[i].where);
                json_object_array_add(mounts, o);
        }
        json_object_object_add(root, "mounts", mounts);

        json_object *ext = NULL;
        if (r->extension) {
                ext = json_object_new_object();
                json_add_string(ext, "base", r->sysext_base);
                json_object_object_add(ext, "scope", strv_to_json(r->sysext_scopes));
                json_add_string(ext, "level", r->sysext_level);
                json_object_object_add(ext, "allow_shadow", strv_to_json(r->shadow_allowed));
        }
        json_object_object_add(root, "extension", ext);

        json_object *output = json_object_new_object();
        json_add_string(output, "compression", compressor_name(r->compressor));
        json_object_object_add(output, "level", r->level ? json_object_new_int(r->level) : NULL);
        json_object_object_add(output, "block_size", json_object_new_int64(r->block_size));
        json_object_object_add(output, "source_date_epoch",
                               r->source_date_epoch >= 0 ? json_object_new_int64(r->source_date_epoch) : NULL);
        json_object_object_add(root, "output", output);

        const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                     JSON_C_TO_STRING_NOSLASHESCAPE);
        char *copy = s ? strdup(s) : NULL;
        json_object_put(root);
        if (!copy)
                return -ENOMEM;
        *ret_json = copy;
        return 0;
}

int ingot_recipe_to_ini(const struct ingot_recipe *r, char **ret_text) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "# resolved from %s\n", r->path);
        if (r->extension) {
                fprintf(f, "[Extension]\nName=%s\nVersion=%s\n", r->name, r->version);
                if (r->sysext_base)
                        fprintf(f, "Base=%s\n", r->sysext_base);
                fputs("Scope=", f);
                for (char **i = r->sysext_scopes; i && *i; i++)
                        fprintf(f, "%s%s", i == r->sysext_scopes ? "" : " ", *i);
                fputs(r->sysext_scopes ? "\n" : "system\n", f);
                if (r->sysext_level)
                        fprintf(f, "Level=%s\n", r->sysext_level);
                for (char **i = r->shadow_allowed; i && *i; i++)
                        fprintf(f, "AllowShadow=%s\n", *i);
        } else
                fprintf(f, "[Image]\nName=%s\nVersion=%s\nOsRelease=%s\n", r->name, r->version,
                        r->os_release ? "yes" : "no");
        if (r->os_id)
                fprintf(f, "Id=%s\n", r->os_id);
        if (r->os_version_id)
                fprintf(f, "VersionId=%s\n", r->os_version_id);
        if (r->profile)
                fprintf(f, "Profile=%s\n", r->profile);
        if (r->min_version)
                fprintf(f, "MinVersion=%s\n", r->min_version);
        if (r->slot_profile_required)
                fprintf(f, "SlotProfile=required\n");
        fputs("\n[Base]\n", f);
        if (r->base == BASE_TREE)
                fprintf(f, "Tree=%s\n", r->base_source);
        else if (r->base == BASE_ARCHIVE)
                fprintf(f, "Archive=%s\n", r->base_source);
        else if (r->base == BASE_DEBIAN) {
                fprintf(f, "Debian=%s\nVariant=%s\n", r->base_source, r->debian_variant ?: "minbase");
                if (r->debian_mirror)
                        fprintf(f, "Mirror=%s\n", r->debian_mirror);
                for (char **p = r->packages; p && *p; p++)
                        fprintf(f, "Packages=%s\n", *p);
        }
        if (r->devices_forbidden_where)
                fputs("AllowDevices=no\n", f);
        fputs("\n[Content]\n", f);
        for (size_t i = 0; i < r->n_ops; i++) {
                const struct content_op *op = &r->ops[i];
                fprintf(f, "# %s\n%s=", op->where, content_op_name(op->kind));
                switch (op->kind) {
                case OP_COPY:
                case OP_BINARIES:
                        fprintf(f, "%s:%s", op->source, op->path);
                        break;
                case OP_REMOVE:
                        fputs(op->path, f);
                        break;
                case OP_MKDIR:
                case OP_MODE:
                        fprintf(f, "%s:%04o", op->path, (unsigned) op->mode);
                        break;
                case OP_SYMLINK:
                        fprintf(f, "%s:%s", op->target, op->path);
                        break;
                case OP_OWNER:
                        fprintf(f, "%s:%u:%u", op->path, op->uid, op->gid);
                        break;
                }
                fputc('\n', f);
        }
        fprintf(f, "\n[Verity]\nHash=%s\nDataBlockSize=%u\nHashBlockSize=%u\n", r->verity_hash,
                r->verity_data_block_size, r->verity_hash_block_size);
        if (r->signing_key || r->trusted_certs)
                fprintf(f, "\n[Signing]\n");
        if (r->signing_key)
                fprintf(f, "Key=%s\nCertificate=%s\n", r->signing_key, r->signing_cert);
        for (char **c = r->trusted_certs; c && *c; c++)
                fprintf(f, "TrustedCertificate=%s\n", *c);
        if (r->n_mounts || r->var_noexec)
                fputs("\n[Mounts]\n", f);
        for (size_t i = 0; i < r->n_mounts; i++)
                fprintf(f, "# %s\n%s=%s\n", r->mounts[i].where, mount_kind_name(r->mounts[i].kind), r->mounts[i].path);
        if (r->var_noexec)
                fprintf(f, "VarNoExec=yes\n");
        fprintf(f, "\n[Output]\nCompression=%s\n", compressor_name(r->compressor));
        if (r->level)
                fprintf(f, "Level=%u\n", r->level);
        fprintf(f, "BlockSize=%u\n", r->block_size);
        if (r->source_date_epoch >= 0)
                fprintf(f, "SourceDateEpoch=%lld\n", (long long) r->source_date_epoch);
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret_text = buf;
        return 0;
}
