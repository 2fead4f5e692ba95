/* test-writable.c: the initrd's [Mounts] (boot/writable.c) against a var partition that an attacker
 * wrote: symlinks on var must not move a tmpfs or an overlay onto the image's /etc or /usr, a path that
 * var lacks is made there with the image's owner and mode, and the other mounts still happen. Mounts
 * for real, in a mount namespace of its own: skips when it cannot make one (not root). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "util.h"
#include "writable.h"

static char base[] = "/tmp/ingot-unit.XXXXXX";
static char skip_reason[200];
static char reported[2048];

static void report(const char *line) {
        size_t len = strlen(reported);
        snprintf(reported + len, sizeof(reported) - len, "%s\n", line);
}

static const char *at(const char *rel) {
        static char path[4][512];
        static unsigned next;
        char *p = path[next++ % 4];
        snprintf(p, sizeof(path[0]), "%s/%s", base, rel);
        return p;
}

static void make(const char *rel, mode_t mode, uid_t uid, gid_t gid) {
        assert_int_equal(mkdir(at(rel), mode), 0);
        assert_int_equal(chown(at(rel), uid, gid), 0);
        assert_int_equal(chmod(at(rel), mode), 0);
}

/* How many mounts /proc/self/mountinfo lists on base/rel, and the file system type of the top one. */
static int mounts_on(const char *rel, char *fstype, size_t size) {
        FILE *f = fopen("/proc/self/mountinfo", "re");
        assert_non_null(f);
        char line[4096];
        int n = 0;
        snprintf(fstype, size, "none");
        while (fgets(line, sizeof(line), f)) {
                char point[1024], type[64];
                /* ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER */
                const char *dash = strstr(line, " - ");
                if (!dash || sscanf(line, "%*s %*s %*s %*s %1023s", point) != 1 || sscanf(dash, " - %63s", type) != 1)
                        continue;
                if (strcmp(point, at(rel)) == 0) {
                        n++;
                        snprintf(fstype, size, "%s", type);
                }
        }
        fclose(f);
        return n;
}

/* The process's open fds: the initrd's mounts leave none behind (an O_PATH fd pins its directory). */
static int open_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        assert_non_null(d);
        int n = 0;
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

static int setup(void **state) {
        (void) state;
        if (geteuid() != 0) {
                snprintf(skip_reason, sizeof(skip_reason), "needs root: it mounts, in a mount namespace of its own");
                return 0;
        }
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                snprintf(skip_reason, sizeof(skip_reason), "no mount namespace of its own: %s", strerror(errno));
                return 0;
        }
        if (!mkdtemp(base) || mount("tmpfs", base, "tmpfs", 0, "mode=0755") < 0)
                return -1;
        return 0;
}

static int teardown(void **state) {
        (void) state;
        if (skip_reason[0])
                return 0;
        if (umount2(base, MNT_DETACH) < 0 || rmdir(base) < 0)
                return -1;
        return 0;
}

/* The image (read-only, as the squashfs is): /etc, /usr/lib/ingot with its mounts list, /tmp, and the
 * directories its [Mounts] name below /var; then var on its /var, as the disk's writer left it. */
static void test_var_symlinks_refused(void **state) {
        (void) state;
        if (skip_reason[0]) {
                print_message("SKIP-REASON: %s\n", skip_reason);
                skip();
        }
        static const char *image_dirs[] = { "sysroot", "sysroot/etc", "sysroot/usr", "sysroot/usr/lib",
                                            "sysroot/usr/lib/ingot", "sysroot/tmp", "sysroot/var",
                                            "sysroot/var/lib", "sysroot/var/lib/etc", "sysroot/var/spool",
                                            "sysroot/var/spool/ingot" };
        for (size_t i = 0; i < ELEMENTSOF(image_dirs); i++)
                make(image_dirs[i], 0755, 0, 0);
        make("sysroot/var/cache", 0751, 0, 0);
        make("sysroot/var/cache/ingot-test", 0710, 1, 2);
        make("run", 0755, 0, 0);
        FILE *f = fopen(at("sysroot/usr/lib/ingot/mounts"), "we");
        assert_non_null(f);
        fputs("overlay /etc\n"
              "tmpfs /var/lib/etc\n"
              "tmpfs /var/cache/ingot-test\n"
              "overlay /var/spool/ingot\n"
              "tmpfs /tmp\n",
              f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(mount(at("sysroot"), at("sysroot"), NULL, MS_BIND, NULL), 0);
        assert_int_equal(mount(NULL, at("sysroot"), NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL), 0);
        /* var: lib -> .. makes /var/lib/etc the image's /etc; spool -> BASE/sysroot/usr/lib (absolute, as
         * the initrd sees it) makes /var/spool/ingot the image's /usr/lib/ingot; no cache at all */
        assert_int_equal(mount("tmpfs", at("sysroot/var"), "tmpfs", 0, "mode=0755"), 0);
        assert_int_equal(symlink("..", at("sysroot/var/lib")), 0);
        assert_int_equal(symlink(at("sysroot/usr/lib"), at("sysroot/var/spool")), 0);

        struct ingot_error e = { 0 };
        reported[0] = 0;
        int fds = open_fds();
        assert_int_equal(image_mounts_apply(at("sysroot"), at("run"), report, &e), -ELOOP);
        assert_int_equal(open_fds(), fds);
        assert_string_equal(e.message, "[Mounts] /var/lib/etc: /var/lib is a symlink on var; not mounted");
        assert_string_equal(reported, "overlay on /etc\n"
                                      "tmpfs on /var/cache/ingot-test\n"
                                      "[Mounts] /var/spool/ingot: /var/spool is a symlink on var; not mounted\n"
                                      "tmpfs on /tmp\n");
        char fstype[64];
        /* the image's /etc has its overlay and nothing more; /usr/lib/ingot has nothing */
        assert_int_equal(mounts_on("sysroot/etc", fstype, sizeof(fstype)), 1);
        assert_string_equal(fstype, "overlay");
        assert_int_equal(mounts_on("sysroot/usr/lib/ingot", fstype, sizeof(fstype)), 0);
        assert_int_equal(mounts_on("sysroot/tmp", fstype, sizeof(fstype)), 1);
        assert_string_equal(fstype, "tmpfs");
        /* var's symlinks are as they were, and what var lacked was made on var with the image's owner and
         * mode, the tmpfs on it too */
        struct stat st, var;
        assert_int_equal(lstat(at("sysroot/var/lib"), &st), 0);
        assert_true(S_ISLNK(st.st_mode));
        assert_int_equal(stat(at("sysroot/var"), &var), 0);
        assert_int_equal(stat(at("sysroot/var/cache"), &st), 0);
        assert_int_equal(st.st_dev, var.st_dev);
        assert_int_equal(st.st_mode, S_IFDIR | 0751);
        assert_int_equal(mounts_on("sysroot/var/cache/ingot-test", fstype, sizeof(fstype)), 1);
        assert_string_equal(fstype, "tmpfs");
        assert_int_equal(stat(at("sysroot/var/cache/ingot-test"), &st), 0);
        assert_int_not_equal(st.st_dev, var.st_dev);
        assert_int_equal(st.st_mode, S_IFDIR | 0710);
        assert_int_equal(st.st_uid, 1);
        assert_int_equal(st.st_gid, 2);
        /* the overlay on /etc is writable */
        int fd = open(at("sysroot/etc/written"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        close(fd);
}

/* var's fallback tmpfs goes on the image's /var directory, never through a symlink there */
static void test_var_tmpfs(void **state) {
        (void) state;
        if (skip_reason[0]) {
                print_message("SKIP-REASON: %s\n", skip_reason);
                skip();
        }
        static const char *dirs[] = { "linked", "linked/etc", "plain", "plain/var" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                make(dirs[i], 0755, 0, 0);
        assert_int_equal(symlink("etc", at("linked/var")), 0);
        struct ingot_error e = { 0 };
        assert_int_equal(var_tmpfs(at("linked"), &e), -ELOOP);
        assert_string_equal(e.message, "the image's /var is a symlink; the var partition is mounted on a directory only");
        char fstype[64];
        assert_int_equal(mounts_on("linked/etc", fstype, sizeof(fstype)), 0);
        e = (struct ingot_error) { 0 };
        assert_int_equal(var_tmpfs(at("plain"), &e), 0);
        assert_int_equal(mounts_on("plain/var", fstype, sizeof(fstype)), 1);
        assert_string_equal(fstype, "tmpfs");
        assert_int_equal(var_mount(at("linked"), "/dev/null", false, &(const char *) { NULL }, &(bool) { false }, &e), -ELOOP);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_var_symlinks_refused),
                cmocka_unit_test(test_var_tmpfs),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
