/* init.c: the ingot initrd's /init: mounts the API filesystems, loads the modules the initrd lists,
 * finds the disk with ingot slots, boots the chosen slot (try counted first, signature checked in user
 * space, dm-verity opened with the checked root hash) and switches root, leaving a watcher for
 * corruption behind. A slot that fails is marked bad; the other one is tried in the same boot only when
 * this kernel and command line are the boot loader's, else after a restart (boot/README.md: the rule).
 * The disk is the one ingot.disk=GUID names, else the one holding the ESP the boot loader was started from
 * (LoaderDevicePartUUID), else the only non-removable disk with ingot slots (lib/boot-disk.c).
 * Kernel command line: ingot.disk=GUID, ingot.slot=a|b, ingot.debug, init=PATH, and ingot.kexec=a|b (set by
 * the first stage when it restarts into the slot's kernel with its profile's parameters and ingot.disk=). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libcryptsetup.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "boot-disk.h"
#include "cryptsetup-util.h"
#include "ingot.h"
#include "json-util.h"
#include "signing.h"
#include "slot-boot.h"
#include "slot.h"
#include "util.h"
#include "profile-apply.h"
#include "profile.h"
#include "squashfs-read.h"
#include "verity-watch.h"
#include "writable.h"

#define TRUSTED_GLOB "/etc/ingot/trusted.d/*.crt"
#define MODULE_LIST "/etc/ingot/modules"
#define SYSROOT "/sysroot"
#define EFIVARS "/sys/firmware/efi/efivars"

static bool debug;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One line, in one write: the console interleaves the kernel's messages between writes (a corrupted
 * block's are printed while the corruption watcher speaks). */
static void say(const char *fmt, ...) {
        char line[2048];
        size_t n = (size_t) snprintf(line, sizeof(line), "ingot-init: ");
        if (debug) { /* seconds since the kernel started, as its own messages show them */
                struct timespec ts;
                clock_gettime(CLOCK_BOOTTIME, &ts);
                n += (size_t) snprintf(line + n, sizeof(line) - n, "[%4lld.%03ld] ", (long long) ts.tv_sec,
                                       ts.tv_nsec / 1000000);
        }
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
        va_end(ap);
        n = m < 0 ? n : n + (size_t) m;
        if (n > sizeof(line) - 2)
                n = sizeof(line) - 2; /* cut, still ending the line */
        line[n++] = '\n';
        (void) !write(STDERR_FILENO, line, n);
}

static void mount_api(void) {
        mkdir("/proc", 0555);
        mkdir("/sys", 0555);
        mkdir("/dev", 0755);
        mkdir("/run", 0755);
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
        mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
}

struct cmdline {
        char slot;
        bool kexeced; /* ingot.kexec=SLOT: the first stage counted the try and restarted into the slot's kernel */
        char disk[64]; /* ingot.disk=GUID: the GPT disk GUID of the disk to boot from */
        char init[256];
};

static void read_cmdline(struct cmdline *c) {
        *c = (struct cmdline) { .init = "/sbin/init" };
        char buf[4096] = "";
        _cleanup_fclose_ FILE *f = fopen("/proc/cmdline", "re");
        if (f && !fgets(buf, sizeof(buf), f))
                buf[0] = 0;
        char *save = NULL;
        for (char *w = strtok_r(buf, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
                if (strcmp(w, "ingot.debug") == 0)
                        debug = true;
                else if (strncmp(w, "ingot.slot=", 11) == 0 && (w[11] == 'a' || w[11] == 'b'))
                        c->slot = w[11];
                else if (strncmp(w, "ingot.kexec=", 12) == 0 && (w[12] == 'a' || w[12] == 'b')) {
                        c->slot = w[12];
                        c->kexeced = true;
                }
                else if (strncmp(w, "ingot.disk=", 11) == 0)
                        snprintf(c->disk, sizeof(c->disk), "%s", w + 11);
                else if (strncmp(w, "init=", 5) == 0)
                        snprintf(c->init, sizeof(c->init), "%s", w + 5);
        }
}

static void load_modules(void) {
        _cleanup_fclose_ FILE *f = fopen(MODULE_LIST, "re");
        char path[512];
        while (f && fgets(path, sizeof(path), f)) {
                path[strcspn(path, "\n")] = 0;
                _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        say("%s: %s", path, strerror(errno));
                        continue;
                }
                /* ENODEV: what it drives is not there (efivarfs without UEFI) */
                if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST && (errno != ENODEV || debug))
                        say("loading %s: %s", path, strerror(errno));
                else if (debug)
                        say("loaded %s", path);
        }
}

static _Noreturn void restart(void) {
        sync();
        reboot(RB_AUTOBOOT);
        for (;;)
                pause();
}

static _Noreturn void give_up(const char *why) {
        say("%s", why);
        if (debug && access("/bin/sh", X_OK) == 0) {
                say("ingot.debug: emergency shell");
                execl("/bin/sh", "sh", (char *) NULL);
        }
        say("rebooting");
        restart();
}

/* The boot loader's LoaderDevicePartUUID, when the firmware started this kernel through a loader that sets
 * it: efivarfs is mounted for the read (read-only) and unmounted again, for the image's init to mount as it
 * likes. */
static bool loader_esp(char uuid[37]) {
        if (access("/sys/firmware/efi", F_OK) < 0)
                return false; /* not booted through UEFI */
        if (mount("efivarfs", EFIVARS, "efivarfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
                say("efivarfs: %s; the boot loader's LoaderDevicePartUUID is not read", strerror(errno));
                return false;
        }
        struct ingot_error e = { 0 };
        int r = loader_device_part_uuid(EFIVARS "/" LOADER_DEVICE_PART_UUID_VARIABLE, uuid, &e);
        if (r < 0 && r != -ENOENT)
                say("%s", e.message);
        if (umount(EFIVARS) < 0)
                say("unmounting efivarfs: %s", strerror(errno));
        return r >= 0;
}

/* The disk to boot from (lib/boot-disk.c), waiting up to 10 s for it to appear; gives up when it does not,
 * or when nothing says which of two disks it is. */
static void find_disk(const struct cmdline *c, char *ret, size_t size) {
        struct boot_disk_query q = { .pin = BOOT_DISK_UNPINNED };
        char why[1200];
        if (*c->disk && !guid_is_valid(c->disk)) {
                snprintf(why, sizeof(why), "ingot.disk=%s: not a disk GUID (8-4-4-4-12 hex digits, as ingot slot "
                         "status shows disk_uuid)", c->disk);
                give_up(why);
        }
        if (*c->disk) {
                q.pin = BOOT_DISK_GUID;
                memcpy(q.uuid, c->disk, sizeof(q.uuid)); /* a GUID: 36 characters and the NUL */
        } else if (loader_esp(q.uuid))
                q.pin = BOOT_DISK_ESP;
        struct ingot_error e = { 0 };
        char how[300];
        int r = -ENODEV;
        for (int waited = 0; r == -ENODEV && waited < 100; waited++) { /* 10 s */
                if (waited)
                        nanosleep(&(struct timespec) { .tv_nsec = 100 * 1000 * 1000 }, NULL);
                e = (struct ingot_error) { 0 };
                r = boot_disk_find(&q, ret, size, how, sizeof(how), &e);
        }
        if (r < 0)
                give_up(e.message);
        say("disk %s (%s)", ret, how);
}

static void partition_node(const char *disk, size_t partno, char *out, size_t size) {
        size_t n = strlen(disk);
        bool digit = n > 0 && disk[n - 1] >= '0' && disk[n - 1] <= '9';
        snprintf(out, size, "%s%s%zu", disk, digit ? "p" : "", partno + 1);
}

/* Whether one of the certificates g names has that fingerprint. */
static int trusted_match(const glob_t *g, const char *fp) {
        for (size_t i = 0; i < g->gl_pathc; i++) {
                char want[65];
                if (cert_file_fingerprint(g->gl_pathv[i], want, NULL) == 0 && strcmp(want, fp) == 0)
                        return 0;
        }
        return -EKEYREJECTED;
}

/* The slot's own profile (its signature checked) names the image it boots with. */
static int profile_bound_check(const struct slot_boot *b) {
        _cleanup_json_ json_object *j = NULL;
        const char *name, *cmdline;
        struct ingot_error e = { 0 };
        int r = profile_compiled_parse(b->profile, "its profile", &j, &name, &cmdline, &e);
        if (r < 0) {
                say("slot %c: %s", b->name, e.message);
                return r;
        }
        char what[96];
        snprintf(what, sizeof(what), "its profile %.64s", name);
        r = profile_bound_to(j, what, b->root_hash, &e);
        if (r < 0)
                say("slot %c: %s", b->name, e.message);
        return r;
}

/* der signs payload (what: for messages) with a certificate in g; whose says whose signature it is. */
static int check_signed_by_trusted(const struct slot_boot *b, glob_t *g, const uint8_t *der, size_t der_size,
                                   const char *what, const char *payload, const char *whose) {
        char fp[65];
        struct ingot_error e = { 0 };
        int r = signature_check_der(der, der_size, what, payload, NULL, fp, &e);
        if (r < 0) {
                say("slot %c: %s", b->name, e.message);
                return r;
        }
        r = trusted_match(g, fp);
        if (r < 0)
                say("slot %c: %ssigned by %.16s..., which this initrd does not trust", b->name, whose, fp);
        return r;
}

static int check_signature(const struct slot_boot *b) {
        _cleanup_(globfree) glob_t g = { 0 };
        if (glob(TRUSTED_GLOB, 0, NULL, &g) != 0) {
                say("no trusted certificate in the initrd (%s)", TRUSTED_GLOB);
                return -ENOKEY;
        }
        int r = check_signed_by_trusted(b, &g, b->signature, b->signature_size, "signature partition", b->root_hash,
                                        "");
        if (r < 0 || !b->profile)
                return r;
        /* the slot's own profile: its kernel parameters are as trusted as the image */
        r = check_signed_by_trusted(b, &g, b->profile_signature, b->profile_signature_size, "the slot's profile",
                                    b->profile, "its profile is ");
        if (r < 0)
                return r;
        return profile_bound_check(b); /* signed for this slot's image, not grafted from another disk's slot */
}

static int verity_activate(const char *data, const char *hash, const uint8_t *root, size_t root_size) {
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        int r = crypt_init_data_device(&cd, hash, data);
        if (r < 0)
                return r;
        struct crypt_params_verity p = { .flags = 0 };
        r = crypt_load(cd, CRYPT_VERITY, &p);
        if (r < 0)
                return r;
        return crypt_activate_by_volume_key(cd, "ingot-root", (const char *) root, root_size, CRYPT_ACTIVATE_READONLY);
}

static int open_verity(const char *disk, const struct slot_boot *b) {
        char data[300], hash[300];
        partition_node(disk, b->root_partno, data, sizeof(data));
        partition_node(disk, b->verity_partno, hash, sizeof(hash));
        uint8_t root[64];
        size_t root_size = 0;
        if (hex_decode(b->root_hash, root, sizeof(root), &root_size) < 0)
                return -EBADMSG;
        int r = verity_activate(data, hash, root, root_size);
        if (r < 0)
                say("slot %c: dm-verity on %s with %s: %s", b->name, data, hash, strerror(-r));
        return r;
}

static int write_record_tmp(const char *disk, const struct slot_boot *b) {
        _cleanup_fclose_ FILE *f = fopen("/run/ingot/booted.tmp", "we");
        if (!f)
                return -errno;
        fprintf(f, "SLOT=%c\nDISK_UUID=%s\nDEVICE=%s\nROOT_HASH=%s\n", b->name, b->disk_uuid, disk, b->root_hash);
        return 0;
}

static void write_record(const char *disk, const struct slot_boot *b) {
        mkdir("/run/ingot", 0755);
        if (write_record_tmp(disk, b) < 0)
                return;
        rename("/run/ingot/booted.tmp", "/run/ingot/booted"); /* closed by then */
}

/* The slot could not boot under its own kernel and command line: priority 0, the reason kept. */
static int mark_bad(const char *disk, char slot) {
        struct ingot_error e = { 0 };
        int r = ingot_slot_change(&(struct ingot_slot_options) { .disk = disk, .runtime_dir = "/nonexistent" },
                                  INGOT_SLOT_FAILED_INITRD, slot, 0, NULL, &e);
        if (r < 0)
                say("marking slot %c bad: %s", slot, e.message);
        return r;
}

static void report_line(const char *line) {
        say("%s", line);
}

/* var, the image's [Mounts] and its host profile, under the slot's own kernel and command line: a failure
 * here is the host's, not the slot's, so it is said and the boot goes on (the image's health check decides
 * whether it can run like that, and counts the try). */
static void mount_writable(const char *disk, const struct slot_boot *b, bool var_noexec) {
        struct ingot_error e = { 0 };
        if (b->has_var) {
                char dev[300];
                bool formatted;
                const char *checked;
                partition_node(disk, b->var_partno, dev, sizeof(dev));
                if (var_mount(SYSROOT, dev, var_noexec, &checked, &formatted, &e) < 0) {
                        say("var: %s; /var is a tmpfs for this boot", e.message);
                        e = (struct ingot_error) { 0 };
                        if (var_tmpfs(SYSROOT, &e) < 0)
                                say("var: %s", e.message);
                } else
                        say("var: %s%s%s%s%s mounted on /var%s", dev, formatted ? " was empty: made ext4 and" : "",
                            checked ? " (e2fsck: " : "", checked ?: "", checked ? ")" : "", var_noexec ? ", noexec" : "");
        }
        e = (struct ingot_error) { 0 };
        if (image_mounts_apply(SYSROOT, "/run/ingot", report_line, &e) < 0)
                say("%s", e.message);
        e = (struct ingot_error) { 0 };
        if (profile_apply(SYSROOT, b->profile, "/run/ingot", report_line, &e) < 0)
                say("%s", e.message);
}

/* What the slot's image says of itself, read through dm-verity: its version must not be below the floor a
 * good slot beside it sets, and it may ask for a profile of its own (a slot stripped of it is refused) and
 * for var without exec (*ret_var_noexec). */
static int image_policy_check(const struct slot_boot *b, bool *ret_var_noexec) {
        _cleanup_free_ char *text = NULL;
        char id[64] = "", version[64] = "", required[64] = "", noexec[64] = "";
        if (read_text_file(SYSROOT "/usr/lib/os-release", 64 * 1024, &text) >= 0) {
                os_release_identity(text, id, version);
                os_release_value(text, "INGOT_SLOT_PROFILE", required);
                os_release_value(text, "INGOT_VAR_NOEXEC", noexec);
        }
        *ret_var_noexec = strcmp(noexec, "yes") == 0;
        if (*b->floor && version_compare(version, b->floor) < 0) {
                say("slot %c: version %s is below %s, the version floor good slot %c's image sets (MinVersion=): a "
                    "rollback, refused", b->name, *version ? version : "(none)", b->floor, b->floor_slot);
                return -EPERM;
        }
        if (access(SYSROOT EXTENSION_RELEASE_DIR, F_OK) == 0) {
                say("slot %c: a system extension layer (%s), not an image for a slot: its signature is a layer's",
                    b->name, EXTENSION_RELEASE_DIR);
                return -EMEDIUMTYPE;
        }
        if (strcmp(required, "required") == 0 && !b->profile) {
                say("slot %c: its image boots only with a profile of its own (SlotProfile=required), and the slot has none",
                    b->name);
                return -EPERM;
        }
        return 0;
}

/* The slot's image mounted on SYSROOT: checked, restarted into the slot's own kernel when this one is not
 * it, then var, [Mounts] and its profile set up. */
static int boot_mounted(const char *disk, const struct cmdline *c, const struct slot_boot *b) {
        bool var_noexec = false;
        int r = image_policy_check(b, &var_noexec);
        if (r < 0)
                return r;
        if (strcmp(c->init, "/var") == 0 || strncmp(c->init, "/var/", 5) == 0) {
                /* var is mounted there by then, and nothing verifies what it holds */
                say("slot %c: init=%s is below /var, which no signature covers: an init comes from the image", b->name,
                    c->init);
                return -EPERM;
        }
        char init[300];
        snprintf(init, sizeof(init), SYSROOT "%s", c->init);
        if (access(init, X_OK) < 0) {
                r = -errno;
                say("slot %c: %s: %s", b->name, c->init, strerror(errno));
                return r;
        }
        /* the slot's own kernel and command line (its profile's parameters), when they are not this boot's: the
         * restart, pinned to this disk, returns only when it could not happen, and then this slot cannot boot as
         * itself */
        if (!c->kexeced) {
                struct ingot_error ke = { 0 };
                r = profile_kexec(SYSROOT, b->profile, b->name, b->disk_uuid, report_line, &ke);
                if (r < 0) {
                        say("slot %c: %s", b->name, ke.message);
                        return r;
                }
        }
        mount_writable(disk, b, var_noexec);
        return 0;
}

/* The slot's dm-verity device opened: its squashfs mounted on SYSROOT and booted, or unmounted again. */
static int boot_opened(const char *disk, const struct cmdline *c, const struct slot_boot *b) {
        mkdir(SYSROOT, 0755);
        if (mount("/dev/mapper/ingot-root", SYSROOT, "squashfs", MS_RDONLY, NULL) < 0) {
                int r = -errno;
                say("slot %c: mounting its squashfs: %s", b->name, strerror(errno));
                return r;
        }
        int r = boot_mounted(disk, c, b);
        if (r < 0)
                umount(SYSROOT);
        return r;
}

/* The slot to boot (lib/slot-boot.c), trusting the initrd's certificates for the floor. */
static int prepare_slot(const char *disk, char forced, struct slot_boot *ret) {
        struct ingot_error e = { 0 };
        _cleanup_(globfree) glob_t g = { 0 };
        char **trusted = glob(TRUSTED_GLOB, 0, NULL, &g) == 0 ? g.gl_pathv : NULL;
        int r = slot_boot_prepare(disk, forced, trusted, ret, &e);
        if (r < 0)
                say("%s", e.message);
        return r;
}

static int boot_slot(const char *disk, const struct cmdline *c, char forced, char *ret_slot) {
        _cleanup_(slot_boot_clear) struct slot_boot b = { 0 };
        int r = prepare_slot(disk, forced, &b);
        if (r < 0)
                return r;
        *ret_slot = b.name;
        say("booting slot %c: %s", b.name, b.reason);
        write_record(disk, &b);
        r = check_signature(&b);
        if (r < 0)
                return r;
        if (debug)
                say("slot %c: signature checked", b.name);
        r = open_verity(disk, &b);
        if (r < 0)
                return r;
        if (debug)
                say("slot %c: dm-verity opened", b.name);
        r = boot_opened(disk, c, &b);
        if (r < 0)
                crypt_deactivate(NULL, "ingot-root");
        return r;
}

/* /sysroot becomes / (the API filesystems moved along); the caller starts init. Each is moved onto
 * the image's directory reached through no symlink (one could lead into var: writable.c). */
static int switch_root(void) {
        static const char *moves[] = { "/dev", "/proc", "/sys", "/run" };
        _cleanup_close_ int root_fd = open(SYSROOT, O_PATH | O_DIRECTORY | O_CLOEXEC);
        int root_error = root_fd < 0 ? -errno : 0;
        for (size_t i = 0; i < ELEMENTSOF(moves); i++) {
                _cleanup_close_ int to = -1;
                int r = root_error ?: open_dir_beneath(root_fd, moves[i], NULL, NULL, &to, NULL);
                if (r == -ELOOP)
                        say("moving %s: the image's %s is a symlink; not moved", moves[i], moves[i]);
                else if (r < 0)
                        say("moving %s: the image's %s: %s", moves[i], moves[i], strerror(-r));
                else if (move_mount(AT_FDCWD, moves[i], to, "", MOVE_MOUNT_T_EMPTY_PATH) < 0)
                        say("moving %s: %s", moves[i], strerror(errno));
        }
        if (chdir(SYSROOT) < 0 || mount(SYSROOT, "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0) {
                say("switching root: %s", strerror(errno));
                return -errno;
        }
        return 0;
}

static void start_init(const char *disk, char slot, const char *init) {
        struct stat st;
        if (stat("/dev/mapper/ingot-root", &st) == 0)
                verity_watch_start(disk, slot, st.st_rdev, report_line);
        else
                say("slot %c: no corruption watcher: /dev/mapper/ingot-root: %s", slot, strerror(errno));
        if (debug)
                say("starting %s", init);
        execl(init, init, (char *) NULL);
        say("exec %s: %s", init, strerror(errno));
}

int main(void) {
        mount_api();
        struct cmdline c;
        read_cmdline(&c);
        load_modules();
        char disk[300];
        if (debug)
                say("modules loaded");
        find_disk(&c, disk, sizeof(disk));
        char forced = c.slot;
        for (int attempt = 0; attempt < 2; attempt++) {
                char slot = 0;
                int r = boot_slot(disk, &c, forced, &slot);
                if (r >= 0) {
                        if (switch_root() >= 0)
                                start_init(disk, slot, c.init);
                        give_up("could not start the slot's init");
                }
                if (!slot)
                        break; /* nothing bootable */
                mark_bad(disk, slot);
                if (c.kexeced) {
                        /* This kernel and command line are the failed slot's own: the other slot may be judged only
                         * under its own, which a restart gives it. */
                        say("slot %c failed under its own kernel and command line; marked bad, restarting so that the "
                            "other slot boots under its own", slot);
                        restart();
                }
                say("slot %c failed; marked bad, trying the other", slot);
                forced = 0;
        }
        give_up("no bootable slot: nothing signed and intact to boot");
}
