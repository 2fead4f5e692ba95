/* profile-artifact.c: compiled host profiles as build artifacts (see profile.h): checked against the
 * hosts' memory and a kernel's sysctls, signed like a root hash and written as artifacts (temporary names,
 * fsync, rename); and whether an image's squashfs carries the kernel and initrd a profile's parameters
 * need. */
#include <string.h>
#include <sys/stat.h>

#include "artifact.h"
#include "profile.h"
#include "signing.h"
#include "squashfs-read.h"

static int check_memory(const struct profile *p, uint64_t memory, struct ingot_error *err) {
        uint64_t total = 0;
        const char *where = NULL;
        for (size_t i = 0; i < p->n_pages; i++) {
                total += p->pages[i].size * p->pages[i].count;
                if (total > memory && !where)
                        where = p->pages[i].where;
        }
        if (where)
                return error_set(err, -E2BIG, "%s: the huge pages come to %llu MiB, more than the hosts' %llu MiB",
                                 where, (unsigned long long) (total >> 20), (unsigned long long) (memory >> 20));
        return 0;
}

/* Every sysctl is a file under dir (a kernel's /proc/sys): the profile is for that kernel. */
static int check_sysctls(const struct profile *p, const char *dir, struct ingot_error *err) {
        for (size_t i = 0; i < p->n_sysctls; i++) {
                _cleanup_free_ char *path = path_join(dir, p->sysctls[i].key);
                if (!path)
                        return -ENOMEM;
                for (char *c = path + strlen(dir); *c; c++)
                        if (*c == '.')
                                *c = '/';
                struct stat st;
                if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                        return error_set(err, -ENOENT, "%s: %s: the kernel of %s has no such sysctl", p->sysctls[i].where,
                                         p->sysctls[i].key, dir);
        }
        return 0;
}

/* The files profile_compile_to writes: each discarded however it ends (a temporary removed, a renamed one
 * kept). */
struct compiled_files {
        struct artifact a[2];
        size_t n;
};

static void compiled_files_discard(struct compiled_files *c) {
        for (size_t i = 0; i < c->n; i++)
                artifact_discard(&c->a[i]);
}

/* One more file of c, under a temporary name in dir. */
static int compiled_file_write(struct compiled_files *c, const char *dir, const char *name, const void *data,
                               size_t size, struct ingot_error *err) {
        struct artifact *a = &c->a[c->n++];
        int r = artifact_open(a, dir, name, err);
        if (r < 0)
                return r;
        return artifact_write(a, data, size, err);
}

int profile_compile_to(const struct profile *p, const char *outdir, const struct profile_compile_options *o,
                       char **ret_json_path, struct ingot_error *err) {
        if (!o->key_path != !o->cert_path)
                return error_set(err, -EINVAL, "profile: --key and --cert go together");
        if (!o->key_path && !o->unsigned_ok)
                return error_set(err, -EINVAL, "profile: no signing key: give --key and --cert, or --unsigned");
        int q;
        if (o->memory) {
                q = check_memory(p, o->memory, err);
                if (q < 0)
                        return q;
        }
        if (o->kernel_sysctls) {
                q = check_sysctls(p, o->kernel_sysctls, err);
                if (q < 0)
                        return q;
        }
        _cleanup_free_ char *name = profile_name(p->path);
        _cleanup_free_ char *json = NULL, *json_name = NULL, *sig_name = NULL;
        if (!name || asprintf(&json_name, "%s.profile.json", name) < 0 || asprintf(&sig_name, "%s.p7s", json_name) < 0)
                return -ENOMEM;
        q = profile_compile(p, name, o->images, &json, err);
        if (q < 0)
                return q;
        q = mkdir_p(outdir, 0755);
        if (q < 0)
                return error_set(err, q, "%s: %s", outdir, strerror(-q));
        _cleanup_(compiled_files_discard) struct compiled_files files = { .n = 0 };
        if (o->key_path) {
                _cleanup_(signer_freep) struct signer *signer = NULL;
                _cleanup_free_ uint8_t *der = NULL;
                size_t der_size = 0;
                q = signer_load(o->key_path, o->cert_path, &signer, err);
                if (q < 0)
                        return q;
                q = signer_sign(signer, json, &der, &der_size, err);
                if (q < 0)
                        return q;
                q = compiled_file_write(&files, outdir, sig_name, der, der_size, err); /* first: readers look for the JSON */
                if (q < 0)
                        return q;
        }
        q = compiled_file_write(&files, outdir, json_name, json, strlen(json), err);
        if (q < 0)
                return q;
        q = artifacts_commit(files.a, files.n, err);
        if (q < 0)
                return q;
        if (ret_json_path && !(*ret_json_path = strdup(files.a[files.n - 1].final)))
                return -ENOMEM;
        return 0;
}

/* Whether rd holds path as a file (a symlink is taken on trust: the initrd follows it). */
static int has_file(struct squashfs_reader *rd, const char *path, bool *ret) {
        mode_t mode;
        int r = squashfs_reader_find(rd, path, &mode);
        *ret = r >= 0 && (S_ISREG(mode) || S_ISLNK(mode));
        return r == -ENOENT ? 0 : r;
}

/* What the initrd restarts a slot into (boot/profile-apply.c's slot_kernel and kexec_into): for some V,
 * usr/lib/modules/V/vmlinuz or boot/vmlinuz-V; and usr/lib/ingot/initrd. */
static int has_kernel(struct squashfs_reader *rd, bool *ret) {
        _cleanup_strv_free_ char **versions = NULL;
        *ret = false;
        int r = squashfs_reader_list(rd, "usr/lib/modules", &versions);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        for (char **v = versions; v && *v; v++)
                for (int place = 0; place < 2; place++) {
                        _cleanup_free_ char *path = NULL;
                        if ((place == 0 ? asprintf(&path, "usr/lib/modules/%s/vmlinuz", *v)
                                        : asprintf(&path, "boot/vmlinuz-%s", *v)) < 0) {
                                path = NULL; /* asprintf leaves it undefined */
                                return -ENOMEM;
                        }
                        r = has_file(rd, path, ret);
                        if (r < 0 || *ret)
                                return r;
                }
        return 0;
}

static int read_restartable(int fd, uint64_t offset, uint64_t size, const struct verity_tree *tree, bool *ret,
                            struct ingot_error *err) {
        _cleanup_(squashfs_reader_freep) struct squashfs_reader *rd = NULL;
        *ret = false;
        int r = tree ? squashfs_reader_open_verified(fd, offset, tree, &rd, err)
                     : squashfs_reader_open(fd, offset, size, &rd, err);
        if (r < 0)
                return r;
        bool kernel, initrd;
        r = has_kernel(rd, &kernel);
        if (r < 0)
                return r;
        r = has_file(rd, &INITRD_IN_IMAGE[1], &initrd);
        if (r < 0)
                return r;
        *ret = kernel && initrd;
        return 0;
}

static int image_restartable(int fd, uint64_t offset, uint64_t size, const struct verity_tree *tree, bool *ret,
                             struct ingot_error *err) {
        int r = read_restartable(fd, offset, size, tree, ret, err);
        if (r == -EBADMSG && !(err && err->code))
                return error_set(err, r, "a damaged squashfs image (its directories)");
        return r;
}

int profile_restart_check(const char *what, const char *cmdline, int fd, uint64_t offset, uint64_t size,
                          const struct verity_tree *tree, const char *image, const char *consequence,
                          struct ingot_error *err) {
        if (!cmdline || !*cmdline)
                return 0;
        bool ok;
        int r = image_restartable(fd, offset, size, tree, &ok, err);
        if (r < 0)
                return r;
        if (!ok)
                return error_set(err, -ENOEXEC,
                                 "%s: its kernel parameters (%s) cannot take effect: the image %s carries no kernel and "
                                 "initrd to restart into (/usr/lib/modules/*/vmlinuz or /boot/vmlinuz-*, and %s); %s",
                                 what, cmdline, image, INITRD_IN_IMAGE, consequence);
        return 0;
}
