/* esp.c: the ESP of an ingot disk (see esp.h): mkfs.vfat formats it, mtools' mmd and mcopy fill it
 * through IMAGE@@OFFSET with file times fixed by SOURCE_DATE_EPOCH, so nothing is mounted. */
#include <ctype.h>
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>

#include "esp.h"

extern char **environ;

/* FAT's epoch (1980-01-01): what mtools stamps every file and directory with */
#define ESP_TIME "SOURCE_DATE_EPOCH=315532800"
#define CMDLINE_DEFAULT "console=tty0 console=ttyS0"

/* Runs argv with stdout and stderr on a pipe; a failure names the tool and its first line of output. */
static int run_tool(char *const argv[], char *const envp[], const char *package, struct ingot_error *err) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return error_set(err, -errno, "pipe: %s", strerror(errno));
        _cleanup_close_ int rfd = p[0], wfd = p[1];
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, wfd, STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, wfd, STDERR_FILENO);
        pid_t pid;
        int r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp);
        posix_spawn_file_actions_destroy(&fa);
        wfd = safe_close(wfd); /* the tool has its own: without ours, the read below ends when it exits */
        if (r != 0)
                return error_set(err, -r, "%s: %s (it comes with %s)", argv[0], strerror(r), package);
        char out[512];
        size_t len = 0;
        ssize_t n;
        while ((n = read(rfd, out + len, sizeof(out) - 1 - len)) > 0 || (n < 0 && errno == EINTR))
                if (n > 0 && (len += (size_t) n) == sizeof(out) - 1)
                        len = 0; /* keep the first screenful's worth: drop and go on draining */
        rfd = safe_close(rfd); /* before the wait: a tool still writing (after a failed read) gets EPIPE */
        out[len] = 0;
        out[strcspn(out, "\n")] = 0;
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return error_set(err, -errno, "%s: %s", argv[0], strerror(errno));
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return error_set(err, -EIO, "%s failed on the ESP (status %d)%s%s", argv[0], status, *out ? ": " : "", out);
        return 0;
}

int esp_format(const char *path, uint64_t offset, uint64_t size, const char *volid, struct ingot_error *err) {
        char off[32], kib[32], vol[16];
        snprintf(off, sizeof(off), "--offset=%llu", (unsigned long long) (offset / 512));
        snprintf(kib, sizeof(kib), "%llu", (unsigned long long) (size / 1024));
        snprintf(vol, sizeof(vol), "%.8s", volid);
        /* one sector per cluster keeps even a small ESP above FAT32's minimum cluster count; mkfs.vfat
         * warns that the file is larger than the filesystem, which is the point of --offset */
        char *argv[] = { "mkfs.vfat", "-F", "32", "-S", "512", "-s", "1", "-n", "ESP", "--invariant", "-i", vol, off,
                         (char *) path, kib, NULL };
        return run_tool(argv, environ, "dosfstools", err);
}

/* The environment for mtools: fixed file times, no check of the image's geometry against a drive. */
static int mtools_env(char ***ret) {
        _cleanup_strv_free_ char **env = NULL;
        for (char **e = environ; e && *e; e++) {
                if (strncmp(*e, "SOURCE_DATE_EPOCH=", 18) == 0 || strncmp(*e, "MTOOLS", 6) == 0)
                        continue;
                int r = strv_extend(&env, *e);
                if (r < 0)
                        return r;
        }
        int r = strv_extend(&env, ESP_TIME);
        if (r < 0)
                return r;
        r = strv_extend(&env, "MTOOLS_SKIP_CHECK=1");
        if (r < 0)
                return r;
        *ret = TAKE_PTR(env);
        return 0;
}

struct esp {
        char image[4200]; /* PATH@@OFFSET */
        char **env;
        const char *dir;
        struct ingot_error *err;
};

static int esp_mkdir(struct esp *e, const char *dir) {
        char to[256];
        snprintf(to, sizeof(to), "::%s", dir);
        char *argv[] = { "mmd", "-i", e->image, to, NULL };
        return run_tool(argv, e->env, "mtools", e->err);
}

static int esp_copy(struct esp *e, const char *from, const char *to_path) {
        char to[256];
        snprintf(to, sizeof(to), "::%s", to_path);
        char *argv[] = { "mcopy", "-i", e->image, (char *) from, to, NULL };
        if (access(from, R_OK) < 0)
                return error_set(e->err, -errno, "%s: %s", from, strerror(errno));
        return run_tool(argv, e->env, "mtools", e->err);
}

static int write_and_copy(struct esp *e, int fd, const char *tmp, const char *to_path, const char *text) {
        int r = pwrite_full(fd, text, strlen(text), 0);
        if (r < 0)
                return error_set(e->err, r, "%s: %s", tmp, strerror(-r));
        return esp_copy(e, tmp, to_path);
}

/* Writes text to a temporary file in e->dir and copies it to to_path. */
static int esp_write(struct esp *e, const char *to_path, const char *text) {
        _cleanup_free_ char *tmp = NULL;
        if (asprintf(&tmp, "%s/.esp-file.XXXXXX", e->dir) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return error_set(e->err, -errno, "%s: %s", tmp, strerror(errno));
        int r = write_and_copy(e, fd, tmp, to_path, text);
        unlink(tmp); /* copied or not, the temporary file goes */
        return r;
}

static int write_entry(struct esp *e, const char *file, const char *title, const char *sort_key, const char *cmdline,
                       const char *extra) {
        _cleanup_free_ char *text = NULL, *path = NULL;
        /* ro: the root is the slot's squashfs under dm-verity; without it systemd-remount-fs tries rw */
        if (asprintf(&text, "title %s\nsort-key %s\nlinux /ingot/vmlinuz\ninitrd /ingot/initrd\noptions ro %s%s\n", title,
                     sort_key, cmdline, extra) < 0 ||
            asprintf(&path, "/loader/entries/%s", file) < 0)
                return -ENOMEM;
        return esp_write(e, path, text);
}

/* The directories, the loader (twice), the kernel and initrd, loader.conf and the entries. */
static int fill(struct esp *e, const char *loader, const struct ingot_disk_options *o, const char *cmdline) {
        static const char *dirs[] = { "/EFI", "/EFI/BOOT", "/EFI/systemd", "/loader", "/loader/entries", "/ingot" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                int r = esp_mkdir(e, dirs[i]);
                if (r < 0)
                        return r;
        }
        /* the firmware's removable-media path finds systemd-boot without a boot variable */
        int r = esp_copy(e, loader, "/EFI/BOOT/BOOTX64.EFI");
        if (r < 0)
                return r;
        r = esp_copy(e, loader, "/EFI/systemd/systemd-bootx64.efi");
        if (r < 0)
                return r;
        r = esp_copy(e, o->boot_kernel, "/ingot/vmlinuz");
        if (r < 0)
                return r;
        r = esp_copy(e, o->boot_initrd, "/ingot/initrd");
        if (r < 0)
                return r;
        r = esp_write(e, "/loader/loader.conf",
                      "# ingot: the default entry at once, no menu; hold a key while the loader starts\n"
                      "# for the menu, which has one rescue entry per slot\n"
                      "default ingot.conf\ntimeout 0\neditor no\n");
        if (r < 0)
                return r;
        r = write_entry(e, "ingot.conf", "ingot", "ingot-0", cmdline, "");
        if (r < 0)
                return r;
        r = write_entry(e, "ingot-slot-a.conf", "ingot: slot a (rescue)", "ingot-1", cmdline, " ingot.slot=a");
        if (r < 0)
                return r;
        return write_entry(e, "ingot-slot-b.conf", "ingot: slot b (rescue)", "ingot-2", cmdline, " ingot.slot=b");
}

int esp_fill(const char *path, uint64_t offset, const struct ingot_disk_options *o, const char *disk_uuid,
             const char *dir, struct ingot_error *err) {
        struct esp e = { .dir = dir, .err = err };
        const char *loader = o->loader ?: ESP_LOADER_DEFAULT;
        _cleanup_free_ char *cmdline = NULL;
        if (!o->boot_initrd)
                return error_set(err, -EINVAL, "a boot kernel needs the ingot initrd it starts");
        /* the initrd boots this disk and no other, whatever the loader tells it (or does not); the GUID as
         * ingot slot status shows it, upper case */
        const char *args = o->cmdline ?: CMDLINE_DEFAULT;
        char guid[37];
        for (size_t i = 0; i < sizeof(guid); i++)
                guid[i] = (char) toupper((unsigned char) disk_uuid[i]);
        int r = cmdline_has_key(args, "ingot.disk=") ? ((cmdline = strdup(args)) ? 0 : -1)
                                                       : asprintf(&cmdline, "%s ingot.disk=%.36s", args, guid);
        if (r < 0)
                return -ENOMEM;
        if (access(loader, R_OK) < 0)
                return error_set(err, -errno, "%s: %s%s", loader, strerror(errno),
                                 o->loader ? "" : " (systemd-boot comes with systemd-boot-efi)");
        snprintf(e.image, sizeof(e.image), "%s@@%llu", path, (unsigned long long) offset);
        _cleanup_strv_free_ char **env = NULL;
        r = mtools_env(&env);
        if (r < 0)
                return r;
        e.env = env;
        return fill(&e, loader, o, cmdline);
}
