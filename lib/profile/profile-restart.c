/* profile-restart.c: whether an image's squashfs carries the kernel and initrd that a profile's kernel
 * parameters need (the initrd restarts into them); for builds, installs and reprofiles alike. */
#include <string.h>
#include <sys/stat.h>

#include "profile.h"
#include "squashfs-read.h"

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
