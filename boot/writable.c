/* writable.c: /var and the image's [Mounts] for a booted slot (see writable.h). var is written by
 * whoever can write the disk, unsigned: whatever is mounted or made below the image's root is reached
 * from an fd of it one name at a time, through no symlink and never above it (open_dir_beneath), is
 * made with mkdirat on its parent's fd, and is mounted on with the new mount API (move_mount onto the
 * fd), so that a symlink on var cannot move a mount onto the image's /etc or /usr (docs/security.md). */
#include <blkid.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mounts.h"
#include "writable.h"

/* blkid_free_probe takes NULL. */
DEFINE_TRIVIAL_CLEANUP_FUNC(blkid_probe, blkid_free_probe);

#define MKE2FS "/sbin/mke2fs"
#define E2FSCK "/sbin/e2fsck"

/* 1: nothing found, 0: something, negative: the probe failed */
static int probe_empty(const char *device, struct ingot_error *err) {
        _cleanup_(blkid_free_probep) blkid_probe pr = blkid_new_probe_from_filename(device);
        if (!pr)
                return error_set(err, -errno ?: -EIO, "%s: cannot probe: %s", device, strerror(errno ?: EIO));
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
        blkid_probe_enable_partitions(pr, 1);
        int rc = blkid_do_safeprobe(pr);
        if (rc == -1)
                return error_set(err, -EIO, "%s: probing for a filesystem failed", device);
        return rc == 1; /* -2 (ambiguous) is "something": never format over it */
}

/* Runs argv (argv[0] a path in the initrd); its exit status, or -errno with err set. */
static int run(const char *const *argv, struct ingot_error *err) {
        pid_t pid = fork();
        if (pid < 0)
                return error_set(err, -errno, "fork: %s", strerror(errno));
        if (pid == 0) {
                execv(argv[0], (char *const *) argv);
                _exit(127);
        }
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return error_set(err, -errno, "waitpid: %s", strerror(errno));
        if (!WIFEXITED(status))
                return error_set(err, -EIO, "%s: killed by signal %d", argv[0], WTERMSIG(status));
        return WEXITSTATUS(status);
}

static int run_mke2fs(const char *device, struct ingot_error *err) {
        const char *const argv[] = { MKE2FS, "-q", "-F", "-t", "ext4", "-L", "var", device, NULL };
        int r = run(argv, err);
        if (r > 0)
                return error_set(err, -EIO, "%s %s failed (exit status %d)", MKE2FS, device, r);
        return r;
}

/* var is the one file system no signature covers: e2fsck -p repairs what it safely can; what it cannot
 * (exit status 4 and up) keeps it unmounted. */
static int run_e2fsck(const char *device, const char **ret_what, struct ingot_error *err) {
        const char *const argv[] = { E2FSCK, "-p", device, NULL };
        int r = run(argv, err);
        if (r < 0)
                return r;
        if (r >= 4)
                return error_set(err, -EUCLEAN, "%s -p %s: errors it cannot repair on its own (exit status %d)", E2FSCK,
                                 device, r);
        *ret_what = r == 0 ? "clean" : "repaired";
        return 0;
}

/* A new file system of type from source, with its "key", "value" options (NULL-terminated pairs),
 * attached on target_fd (the new mount API: the mount point is the fd, never a path). */
static int mount_on_fd(const char *type, const char *source, const char *const *options, unsigned attrs,
                       int target_fd) {
        _cleanup_close_ int fs = fsopen(type, FSOPEN_CLOEXEC);
        if (fs < 0)
                return -errno;
        if (fsconfig(fs, FSCONFIG_SET_STRING, "source", source, 0) < 0)
                return -errno;
        for (const char *const *o = options; o && o[0]; o += 2)
                if (fsconfig(fs, FSCONFIG_SET_STRING, o[0], o[1], 0) < 0)
                        return -errno;
        if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return -errno;
        _cleanup_close_ int mnt = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
        if (mnt < 0)
                return -errno;
        if (move_mount(mnt, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return -errno;
        return 0;
}

/* root's /var, which must be a directory of the image's own (not a symlink). */
static int open_var(const char *root, int *ret_fd, struct ingot_error *err) {
        _cleanup_close_ int root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0)
                return error_set(err, -errno, "%s: %s", root, strerror(errno));
        int r = open_dir_beneath(root_fd, "var", NULL, NULL, ret_fd, NULL);
        if (r == -ELOOP)
                return error_set(err, r, "the image's /var is a symlink; the var partition is mounted on a directory only");
        if (r < 0)
                return error_set(err, r, "the image has no /var directory to mount the var partition on (%s)",
                                 strerror(-r));
        return 0;
}

int var_mount(const char *root, const char *device, bool noexec, const char **ret_checked, bool *ret_formatted,
              struct ingot_error *err) {
        *ret_formatted = false;
        *ret_checked = NULL;
        _cleanup_close_ int target = -1;
        int r = open_var(root, &target, err);
        if (r < 0)
                return r;
        r = probe_empty(device, err);
        if (r < 0)
                return r;
        if (r == 1) {
                r = run_mke2fs(device, err);
                if (r < 0)
                        return r;
                *ret_formatted = true;
        } else if ((r = run_e2fsck(device, ret_checked, err)) < 0)
                return r;
        r = mount_on_fd("ext4", device, NULL, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (noexec ? MOUNT_ATTR_NOEXEC : 0),
                        target);
        if (r < 0)
                return error_set(err, r, "mounting %s (ext4) on /var: %s", device, strerror(-r));
        return 0;
}

int var_tmpfs(const char *root, struct ingot_error *err) {
        _cleanup_close_ int target = -1;
        int r = open_var(root, &target, err);
        if (r < 0)
                return r;
        static const char *const options[] = { "mode", "0755", NULL };
        r = mount_on_fd("tmpfs", "tmpfs", options, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, target);
        if (r < 0)
                return error_set(err, r, "a tmpfs on /var: %s", strerror(-r));
        return 0;
}

/* The directory name on parent_fd, made if missing, with that owner and mode whether made or not;
 * returns an fd of it (O_RDONLY: fchown and fchmod need one). */
static int make_dir(int parent_fd, const char *name, mode_t mode, uid_t uid, gid_t gid) {
        if (mkdirat(parent_fd, name, 0700) < 0 && errno != EEXIST)
                return -errno;
        _cleanup_close_ int fd = openat_beneath(parent_fd, name, O_RDONLY | O_DIRECTORY);
        if (fd < 0)
                return fd;
        if (fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0)
                return -errno;
        return TAKE_FD(fd);
}

/* The owner and mode of path's directory in the image alone (image_fd: the squashfs without what is
 * mounted on it, so also below /var); -ENOENT when the image has none there. */
static int image_dir(int image_fd, const char *path, struct stat *ret) {
        _cleanup_close_ int fd = openat_beneath(image_fd, path + strspn(path, "/"), O_PATH | O_DIRECTORY);
        if (fd < 0)
                return fd;
        return fstat(fd, ret) < 0 ? -errno : 0;
}

/* dir_make_fn for a mount point's missing parents and itself: as the image has them, else 0755 root. */
static int make_like_image(int parent_fd, const char *name, const char *prefix, void *userdata) {
        struct stat st;
        if (image_dir(*(const int *) userdata, prefix, &st) < 0)
                st = (struct stat) { .st_mode = S_IFDIR | 0755 };
        _cleanup_close_ int fd = make_dir(parent_fd, name, st.st_mode & 07777, st.st_uid, st.st_gid);
        if (fd < 0)
                return fd;
        return 0;
}

/* dir_make_fn for directories in the initrd's run directory: 0755 root. */
static int make_plain(int parent_fd, const char *name, const char *prefix, void *userdata) {
        (void) prefix;
        (void) userdata;
        return mkdirat(parent_fd, name, 0755) < 0 ? -errno : 0;
}

/* The mount point, reached from root_fd without a symlink, its missing directories made on var; a
 * failure names the component: var is written by whoever can write the disk. */
static int open_target(int root_fd, int image_fd, const char *path, int *ret_fd, struct ingot_error *err) {
        size_t len = 0;
        int r = open_dir_beneath(root_fd, path, make_like_image, &image_fd, ret_fd, &len);
        if (r >= 0) /* the rest names what failed */
                return r;
        const char *on = len > 4 && strncmp(path, "/var/", 5) == 0 ? "on var" : "in the image";
        if (r == -ELOOP)
                return error_set(err, r, "[Mounts] %s: %.*s is a symlink %s; not mounted", path, (int) len, path, on);
        if (r == -ENOTDIR)
                return error_set(err, r, "[Mounts] %s: %.*s is not a directory %s; not mounted", path, (int) len, path,
                                 on);
        return error_set(err, r, "[Mounts] %s: %.*s: %s; not mounted", path, (int) len, path, strerror(-r));
}

/* run_fd's layer directory, made if missing, and its upper (owner and mode of st) and work directories. */
static int open_layer(int run_fd, const char *layer, const struct stat *st, int *ret_upper, int *ret_work) {
        _cleanup_close_ int layer_fd = -1;
        int r = open_dir_beneath(run_fd, layer, make_plain, NULL, &layer_fd, NULL);
        if (r < 0)
                return r;
        _cleanup_close_ int upper = make_dir(layer_fd, "upper", st->st_mode & 07777, st->st_uid, st->st_gid);
        if (upper < 0)
                return upper;
        int work = make_dir(layer_fd, "work", 0700, 0, 0);
        if (work < 0)
                return work;
        *ret_upper = TAKE_FD(upper);
        *ret_work = work;
        return 0;
}

static int mount_one(int root_fd, int image_fd, int run_fd, size_t index, const struct mount_request *m,
                     struct ingot_error *err) {
        const char *kind = m->kind == MOUNT_TMPFS ? "tmpfs" : "overlay";
        struct stat st;
        int r = image_dir(image_fd, m->path, &st);
        if (r < 0)
                return error_set(err, r, "[Mounts] %s: not a directory in the image (%s); not mounted", m->path,
                                 strerror(-r));
        _cleanup_close_ int target = -1;
        r = open_target(root_fd, image_fd, m->path, &target, err);
        if (r < 0)
                return r;
        if (m->kind == MOUNT_TMPFS) {
                char mode[16], uid[16], gid[16];
                snprintf(mode, sizeof(mode), "%04o", (unsigned) (st.st_mode & 07777));
                snprintf(uid, sizeof(uid), "%u", (unsigned) st.st_uid);
                snprintf(gid, sizeof(gid), "%u", (unsigned) st.st_gid);
                const char *const options[] = { "mode", mode, "uid", uid, "gid", gid, NULL };
                r = mount_on_fd("tmpfs", "tmpfs", options, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, target);
                if (r < 0)
                        return error_set(err, r, "[Mounts] %s: %s: %s; not mounted", m->path, kind, strerror(-r));
                return 0;
        }
        /* the upper layer in the initrd's run directory: the merged directory's owner and mode are its own */
        char layer[64];
        snprintf(layer, sizeof(layer), "overlay/%zu", index);
        _cleanup_close_ int upper = -1, work = -1;
        r = open_layer(run_fd, layer, &st, &upper, &work);
        if (r < 0)
                return error_set(err, r, "[Mounts] %s: overlay layer %s: %s; not mounted", m->path, layer, strerror(-r));
        /* overlayfs takes its layers as paths (Linux 6.1 has no fsconfig for them by fd): the fds' own */
        char lower_path[32], upper_path[32], work_path[32];
        snprintf(lower_path, sizeof(lower_path), "/proc/self/fd/%d", target);
        snprintf(upper_path, sizeof(upper_path), "/proc/self/fd/%d", upper);
        snprintf(work_path, sizeof(work_path), "/proc/self/fd/%d", work);
        const char *const options[] = { "lowerdir", lower_path, "upperdir", upper_path, "workdir", work_path, NULL };
        r = mount_on_fd("overlay", "overlay", options, 0, target);
        if (r < 0)
                return error_set(err, r, "[Mounts] %s: %s: %s; not mounted", m->path, kind, strerror(-r));
        return 0;
}

/* What mounts_parse returns. */
struct mount_list {
        struct mount_request *m;
        size_t n;
};

static void mount_list_free(struct mount_list *l) {
        mounts_free(l->m, l->n);
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
        _cleanup_(mount_list_free) struct mount_list l = { 0 };
        r = mounts_parse(text, MOUNTS_FILE, &l.m, &l.n, err);
        if (r < 0)
                return r;
        /* root as it is (var mounted on it), the image alone (owners and modes), the run directory */
        _cleanup_close_ int root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int image_fd = root_fd < 0 ? -1 : open_tree(root_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
        if (image_fd < 0)
                return error_set(err, -errno, "[Mounts]: %s: %s; nothing mounted", root, strerror(errno));
        r = mkdir_p(run_dir, 0755);
        if (r < 0)
                return error_set(err, r, "[Mounts]: %s: %s; nothing mounted", run_dir, strerror(-r));
        _cleanup_close_ int run_fd = open(run_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (run_fd < 0)
                return error_set(err, -errno, "[Mounts]: %s: %s; nothing mounted", run_dir, strerror(errno));
        int first = 0;
        for (size_t i = 0; i < l.n; i++) {
                struct ingot_error e = { 0 };
                r = mount_one(root_fd, image_fd, run_fd, i, &l.m[i], &e);
                if (r < 0 && first == 0) {
                        first = r;
                        *err = e;
                } else if (r < 0 && report)
                        report(e.message);
                if (r >= 0 && report) {
                        char line[4200];
                        snprintf(line, sizeof(line), "%s on %s", l.m[i].kind == MOUNT_TMPFS ? "tmpfs" : "overlay",
                                 l.m[i].path);
                        report(line);
                }
        }
        return first;
}
