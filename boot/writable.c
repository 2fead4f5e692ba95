/* writable.c: /var and the image's [Mounts] for a booted slot (see writable.h). */
#include <blkid.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mounts.h"
#include "writable.h"

#define MKE2FS "/sbin/mke2fs"

/* 1: nothing found, 0: something, negative: the probe failed */
static int probe_empty(const char *device, struct ingot_error *err) {
        blkid_probe pr = blkid_new_probe_from_filename(device);
        if (!pr)
                return error_set(err, -errno ?: -EIO, "%s: cannot probe: %s", device, strerror(errno ?: EIO));
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
        blkid_probe_enable_partitions(pr, 1);
        int rc = blkid_do_safeprobe(pr);
        blkid_free_probe(pr);
        if (rc == -1)
                return error_set(err, -EIO, "%s: probing for a filesystem failed", device);
        return rc == 1; /* -2 (ambiguous) is "something": never format over it */
}

static int run_mke2fs(const char *device, struct ingot_error *err) {
        pid_t pid = fork();
        if (pid < 0)
                return error_set(err, -errno, "fork: %s", strerror(errno));
        if (pid == 0) {
                execl(MKE2FS, "mke2fs", "-q", "-F", "-t", "ext4", "-L", "var", device, (char *) NULL);
                _exit(127);
        }
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return error_set(err, -errno, "waitpid: %s", strerror(errno));
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return error_set(err, -EIO, "%s %s failed (%s %d)", MKE2FS, device,
                                 WIFEXITED(status) ? "exit status" : "signal",
                                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return 0;
}

int var_mount(const char *device, const char *target, bool *ret_formatted, struct ingot_error *err) {
        *ret_formatted = false;
        struct stat st;
        if (stat(target, &st) < 0 || !S_ISDIR(st.st_mode))
                return error_set(err, -ENOENT, "the image has no /var directory to mount the var partition on");
        int r = probe_empty(device, err);
        if (r < 0)
                return r;
        if (r == 1) {
                r = run_mke2fs(device, err);
                if (r < 0)
                        return r;
                *ret_formatted = true;
        }
        if (mount(device, target, "ext4", MS_NOSUID | MS_NODEV, NULL) < 0)
                return error_set(err, -errno, "mounting %s (ext4) on /var: %s", device, strerror(errno));
        return 0;
}

static int mount_one(const char *root, const char *run_dir, size_t index, const struct mount_request *m,
                     struct ingot_error *err) {
        _cleanup_free_ char *target = NULL, *layer = NULL, *upper = NULL, *work = NULL, *opts = NULL;
        if (asprintf(&target, "%s%s", root, m->path) < 0)
                return -ENOMEM;
        struct stat st;
        if (lstat(target, &st) < 0 || !S_ISDIR(st.st_mode))
                return error_set(err, -ENOTDIR, "%s: %s is not a directory in the image", m->where, m->path);
        if (m->kind == MOUNT_TMPFS) {
                if (asprintf(&opts, "mode=%04o,uid=%u,gid=%u", (unsigned) (st.st_mode & 07777), (unsigned) st.st_uid,
                             (unsigned) st.st_gid) < 0)
                        return -ENOMEM;
                if (mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
                        return error_set(err, -errno, "%s: tmpfs on %s: %s", m->where, m->path, strerror(errno));
                return 0;
        }
        if (asprintf(&layer, "%s/overlay/%zu", run_dir, index) < 0 || asprintf(&upper, "%s/upper", layer) < 0 ||
            asprintf(&work, "%s/work", layer) < 0)
                return -ENOMEM;
        int r = mkdir_p(layer, 0755);
        if (r >= 0 && mkdir(upper, st.st_mode & 07777) < 0 && errno != EEXIST)
                r = -errno;
        if (r >= 0 && mkdir(work, 0700) < 0 && errno != EEXIST)
                r = -errno;
        /* the merged directory's owner and mode are the upper layer's: give it the image's */
        if (r >= 0 && (chown(upper, st.st_uid, st.st_gid) < 0 || chmod(upper, st.st_mode & 07777) < 0))
                r = -errno;
        if (r < 0)
                return error_set(err, r, "%s: overlay layer %s: %s", m->where, layer, strerror(-r));
        if (asprintf(&opts, "lowerdir=%s,upperdir=%s,workdir=%s", target, upper, work) < 0)
                return -ENOMEM;
        if (mount("overlay", target, "overlay", 0, opts) < 0)
                return error_set(err, -errno, "%s: overlay on %s: %s", m->where, m->path, strerror(errno));
        return 0;
}

int image_mounts_apply(const char *root, const char *run_dir, void (*report)(const char *line),
                       struct ingot_error *err) {
        _cleanup_free_ char *file = NULL, *text = NULL;
        if (asprintf(&file, "%s%s", root, MOUNTS_FILE) < 0)
                return -ENOMEM;
        int r = read_text_file(file, 64 * 1024, &text);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return error_set(err, r, "%s: %s", MOUNTS_FILE, strerror(-r));
        struct mount_request *m = NULL;
        size_t n = 0;
        r = mounts_parse(text, MOUNTS_FILE, &m, &n, err);
        if (r < 0)
                return r;
        int first = 0;
        for (size_t i = 0; i < n; i++) {
                struct ingot_error e = { 0 };
                r = mount_one(root, run_dir, i, &m[i], &e);
                if (r < 0 && first == 0) {
                        first = r;
                        *err = e;
                } else if (r < 0 && report)
                        report(e.message);
                if (r >= 0 && report) {
                        char line[4200];
                        snprintf(line, sizeof(line), "%s on %s", m[i].kind == MOUNT_TMPFS ? "tmpfs" : "overlay", m[i].path);
                        report(line);
                }
        }
        mounts_free(m, n);
        return first;
}
