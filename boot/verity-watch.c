/* verity-watch.c: the booted slot's corruption watcher (see verity-watch.h). dm-verity fails a read of a
 * corrupted block with EIO and sends a uevent naming it; a slot that was marked good long ago would
 * otherwise keep serving those errors for as long as it runs. This process, forked by the initrd's init
 * and locked in memory (nothing it runs lives on the slot's own squashfs), turns the first such event
 * into the slot's state: marked bad with the reason kept for `ingot slot status`, then a restart, as
 * dm-verity's restart_on_corruption would do, so that the next boot takes the other slot. */
#include <errno.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ingot.h"
#include "util.h"
#include "verity-watch.h"

static void say(void (*report)(const char *), const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(void (*report)(const char *), const char *fmt, ...) {
        char line[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        report(line);
}

/* The "TYPE,BLOCK" of a DM_VERITY_ERR_BLOCK_NR change event of device dm, else NULL. msg: NUL-separated
 * KEY=VALUE strings after the "ACTION@DEVPATH" header, as the kernel sends them. */
static const char *corrupted_block(const char *msg, size_t n, dev_t dm) {
        const char *block = NULL;
        bool change = false;
        long major_ = -1, minor_ = -1;
        for (size_t i = 0; i < n; i += strlen(msg + i) + 1) {
                const char *kv = msg + i;
                if (strcmp(kv, "ACTION=change") == 0)
                        change = true;
                else if (strncmp(kv, "MAJOR=", 6) == 0)
                        major_ = strtol(kv + 6, NULL, 10);
                else if (strncmp(kv, "MINOR=", 6) == 0)
                        minor_ = strtol(kv + 6, NULL, 10);
                else if (strncmp(kv, "DM_VERITY_ERR_BLOCK_NR=", 23) == 0)
                        block = kv + 23;
        }
        if (!change || major_ != (long) major(dm) || minor_ != (long) minor(dm))
                return NULL;
        return block;
}

static void corrupted(const char *disk, char slot, const char *block, void (*report)(const char *)) {
        char kind[16] = "data";
        const char *comma = strchr(block, ',');
        if (comma && strncmp(block, "1,", 2) == 0)
                snprintf(kind, sizeof(kind), "hash tree");
        say(report, "slot %c: dm-verity found %s block %s corrupted while the slot ran", slot, kind, comma ? comma + 1 : block);
        /* never the last bootable slot (the library refuses that with -EBUSY): with nothing to fall back
         * to, a slot with one bad block is better than none (reads of that block keep failing; a reinstall
         * heals it) */
        struct ingot_slot_options o = { .disk = disk, .runtime_dir = "/nonexistent", .lock_wait_ms = 30000 };
        struct ingot_error e = { 0 };
        int r = ingot_slot_change(&o, INGOT_SLOT_FAILED_CORRUPTED, slot, 0, NULL, &e);
        if (r == -EBUSY) {
                say(report, "slot %c: %s: it keeps running, and reads of that block fail", slot, e.message);
                return;
        }
        if (r < 0) {
                say(report, "slot %c: marking it bad: %s; it keeps running", slot, e.message);
                return;
        }
        say(report, "slot %c marked bad (corrupted); restarting, slot %c boots next", slot, slot == 'a' ? 'b' : 'a');
        sync();
        reboot(RB_AUTOBOOT);
}

static _Noreturn void watch(int fd, const char *disk, char slot, dev_t dm, void (*report)(const char *)) {
        bool done = false;
        for (;;) {
                char buf[8192];
                struct sockaddr_nl from;
                struct iovec iov = { buf, sizeof(buf) - 1 };
                struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1 };
                ssize_t n = recvmsg(fd, &m, 0);
                if (n < 0) {
                        if (errno == EINTR || errno == ENOBUFS) /* ENOBUFS: events were lost; the next one counts */
                                continue;
                        say(report, "slot %c: the corruption watcher stops: %s", slot, strerror(errno));
                        _exit(1);
                }
                if (from.nl_pid != 0 || done) /* only the kernel's own events */
                        continue;
                buf[n] = 0;
                const char *block = corrupted_block(buf, (size_t) n, dm);
                if (block) {
                        corrupted(disk, slot, block, report); /* returns when the slot stays */
                        done = true;
                }
        }
}

int verity_watch_start(const char *disk, char slot, dev_t dm, void (*report)(const char *line)) {
        _cleanup_close_ int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
        if (fd < 0 || bind(fd, (struct sockaddr *) &(struct sockaddr_nl) { .nl_family = AF_NETLINK, .nl_groups = 1 },
                           sizeof(struct sockaddr_nl)) < 0) {
                int r = -errno;
                say(report, "slot %c: no corruption watcher: kernel events: %s", slot, strerror(errno));
                return r;
        }
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                say(report, "slot %c: no corruption watcher: fork: %s", slot, strerror(errno));
                return r;
        }
        if (pid > 0)
                return 0; /* the watcher has its own copy of fd */
        prctl(PR_SET_NAME, "ingot-watch");
        /* nothing it runs may fault in from the slot's squashfs, nor may the OOM killer take it */
        (void) write_value_file("/proc/self/oom_score_adj", "-1000");
        if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
                say(report, "slot %c: corruption watcher: mlockall: %s", slot, strerror(errno));
        watch(TAKE_FD(fd), disk, slot, dm, report);
}
