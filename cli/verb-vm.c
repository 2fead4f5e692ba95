/* verb-vm.c: `ingot vm DISK`: boot a disk under QEMU with the serial console on the terminal, KVM
 * when it can run a guest and TCG otherwise; with --expect, stop with 0 when a text appears. */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "gpt.h"
#include "util.h"

#define OVMF_CODE "/usr/share/OVMF/OVMF_CODE.fd"
#define OVMF_VARS "/usr/share/OVMF/OVMF_VARS.fd"

void help_vm(FILE *f) {
        fprintf(f,
                "Usage: %s vm DISK --initrd INITRD [OPTIONS]\n"
                "       %s vm DISK --uefi [OPTIONS]\n"
                "Boot DISK under QEMU (virtio disk, serial console on this terminal); KVM when it can run a\n"
                "guest here, TCG otherwise. Without --uefi the kernel is started directly; with it, OVMF\n"
                "firmware boots what the disk's ESP holds (ingot disk --boot-kernel ...).\n\n"
                "  --uefi            boot through OVMF: " OVMF_CODE " read-only, a scratch copy\n"
                "                    of " OVMF_VARS " for its variables\n"
                "  --kernel KERNEL   default: the newest /boot/vmlinuz-*\n"
                "  --initrd INITRD   the ingot initrd (ingot initrd -o ...)\n"
                "  --append ARGS     more kernel command line (console=ttyS0 is always there, and\n"
                "                    ingot.disk=GUID, DISK's GPT disk GUID, unless ARGS has one)\n"
                "  --no-pin          no ingot.disk=: the initrd finds the disk itself (the only\n"
                "                    non-removable disk with ingot slots)\n"
                "  --memory SIZE     default 1G\n"
                "  --timeout SECONDS give up after this long (default: none; 300 with --expect)\n"
                "  --expect TEXT     exit 0 as soon as TEXT appears on the console, 1 on timeout or\n"
                "                    when the VM stops first (the console's tail is printed)\n"
                "  --snapshot        leave DISK (and --drive-first's FILE) untouched (writes go to a\n"
                "                    temporary overlay)\n"
                "  --drive FILE      also attach FILE read-only as the next virtio disk (/dev/vdb, ...);\n"
                "                    repeatable, e.g. a squashfs holding images to install\n"
                "  --drive-first FILE  attach FILE writable as the virtio disk before DISK (/dev/vda;\n"
                "                    DISK becomes /dev/vdb, --drive ones follow it), e.g. another disk\n"
                "                    with ingot slots, first in line\n"
                "  --accel auto|kvm|tcg  auto (default): KVM if a test guest runs on it, and back to TCG\n"
                "                    when the guest prints nothing in 10 s or QEMU stops before it does\n\n"
                "Exit status: with --expect, 0 when TEXT appeared; without, QEMU's (0 when the VM powers off).\n"
                "  -h --help         show this help\n",
                program_name, program_name);
}

/* Runs a one-instruction guest (hlt, in real mode) in a child with a 2 s limit: /dev/kvm can exist
 * and create VMs on machines where guests never run (this workplace's, for one). */
static int kvm_probe_child(void) {
        int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (kvm < 0 || ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
                return 1;
        int vm = ioctl(kvm, KVM_CREATE_VM, 0);
        uint8_t *mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (vm < 0 || mem == MAP_FAILED)
                return 1;
        mem[0] = 0xf4; /* hlt */
        struct kvm_userspace_memory_region region = {
                .slot = 0, .guest_phys_addr = 0x1000, .memory_size = 4096, .userspace_addr = (uint64_t) (uintptr_t) mem,
        };
        int cpu = ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0 ? -1 : ioctl(vm, KVM_CREATE_VCPU, 0);
        int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
        if (cpu < 0 || size <= 0)
                return 1;
        struct kvm_run *run = mmap(NULL, (size_t) size, PROT_READ | PROT_WRITE, MAP_SHARED, cpu, 0);
        struct kvm_sregs sregs;
        if (run == MAP_FAILED || ioctl(cpu, KVM_GET_SREGS, &sregs) < 0)
                return 1;
        sregs.cs.base = 0;
        sregs.cs.selector = 0;
        struct kvm_regs regs = { .rip = 0x1000, .rflags = 2 };
        if (ioctl(cpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(cpu, KVM_SET_REGS, &regs) < 0)
                return 1;
        alarm(2);
        if (ioctl(cpu, KVM_RUN, 0) < 0)
                return 1;
        return run->exit_reason == KVM_EXIT_HLT ? 0 : 1;
}

static bool kvm_usable(void) {
        if (access("/dev/kvm", R_OK | W_OK) < 0)
                return false;
        pid_t pid = fork();
        if (pid == 0)
                _exit(kvm_probe_child());
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) < 0)
                return false;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static char *newest_kernel(void) {
        _cleanup_closedir_ DIR *d = opendir("/boot");
        char best[256] = "";
        struct dirent *de;
        while (d && (de = readdir(d)))
                if (strncmp(de->d_name, "vmlinuz-", 8) == 0 && version_compare(de->d_name + 8, best) > 0)
                        snprintf(best, sizeof(best), "%s", de->d_name + 8);
        char *path = NULL;
        return *best && asprintf(&path, "/boot/vmlinuz-%s", best) >= 0 ? path : NULL;
}

/* A fresh copy of OVMF's variable store in $TMPDIR for this VM (the firmware writes its boot entries). */
static int uefi_vars_reset(const char *path) {
        _cleanup_free_ char *data = NULL;
        _cleanup_close_ int in = open(OVMF_VARS, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (in < 0 || fstat(in, &st) < 0)
                return -errno;
        data = malloc((size_t) st.st_size);
        if (!data)
                return -ENOMEM;
        int r = pread_full(in, data, (size_t) st.st_size, 0);
        if (r < 0)
                return r;
        _cleanup_close_ int out = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (out < 0)
                return -errno;
        return pwrite_full(out, data, (size_t) st.st_size, 0);
}

static int uefi_vars(char **ret) {
        const char *dir = getenv("TMPDIR") ?: "/tmp";
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/ingot-ovmf-vars.XXXXXX", dir) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = mkostemp(path, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        fd = safe_close(fd); /* made only to reserve the name: uefi_vars_reset opens it again */
        int r = uefi_vars_reset(path);
        if (r < 0) {
                unlink(path);
                return r;
        }
        *ret = TAKE_PTR(path);
        return 0;
}

#define MAX_DRIVES 4

struct vm {
        const char *disk, *kernel, *initrd, *append, *memory, *expect;
        const char *first; /* --drive-first */
        char pin[64];      /* "ingot.disk=GUID", or "" */
        const char *vars; /* --uefi: the scratch copy of OVMF's variables */
        const char *drives[MAX_DRIVES];
        size_t n_drives;
        unsigned timeout;
        bool snapshot;
};

static pid_t spawn_qemu(const struct vm *v, bool kvm, int out_fd, bool keep_stdin) {
        char drive[4200], first[4200], cmdline[4200], extra[MAX_DRIVES][4200], code[4200], vars[4200];
        snprintf(drive, sizeof(drive), "file=%s,format=raw,if=virtio%s", v->disk, v->snapshot ? ",snapshot=on" : "");
        snprintf(cmdline, sizeof(cmdline), "console=ttyS0 panic=-1%s%s%s%s", *v->pin ? " " : "", v->pin,
                 v->append ? " " : "", v->append ? v->append : "");
        const char *argv[64] = { "qemu-system-x86_64", "-accel", kvm ? "kvm" : "tcg", "-cpu", kvm ? "host" : "max",
                                 "-m", v->memory, "-smp", "2",
                                 "-display", "none", "-monitor", "none", "-serial", "stdio", "-no-user-config",
                                 "-nodefaults" };
        size_t argc = 0;
        while (argv[argc])
                argc++;
        if (v->first) { /* virtio disks are named in the order they are given: this one is /dev/vda */
                snprintf(first, sizeof(first), "file=%s,format=raw,if=virtio%s", v->first,
                         v->snapshot ? ",snapshot=on" : "");
                argv[argc++] = "-drive";
                argv[argc++] = first;
        }
        argv[argc++] = "-drive";
        argv[argc++] = drive;
        if (v->vars) {
                snprintf(code, sizeof(code), "if=pflash,format=raw,unit=0,readonly=on,file=%s", OVMF_CODE);
                snprintf(vars, sizeof(vars), "if=pflash,format=raw,unit=1,file=%s", v->vars);
                const char *uefi[] = { "-drive", code, "-drive", vars };
                for (size_t i = 0; i < ELEMENTSOF(uefi); i++)
                        argv[argc++] = uefi[i];
        } else {
                const char *direct[] = { "-kernel", v->kernel, "-initrd", v->initrd, "-append", cmdline };
                for (size_t i = 0; i < ELEMENTSOF(direct); i++)
                        argv[argc++] = direct[i];
        }
        for (size_t i = 0; i < v->n_drives; i++) {
                snprintf(extra[i], sizeof(extra[i]), "file=%s,format=raw,if=virtio,readonly=on", v->drives[i]);
                argv[argc++] = "-drive";
                argv[argc++] = extra[i];
        }
        pid_t pid = fork();
        if (pid == 0) {
                int null = open("/dev/null", O_RDONLY);
                if (!keep_stdin)
                        dup2(null, STDIN_FILENO);
                dup2(out_fd, STDOUT_FILENO);
                execvp(argv[0], (char **) argv);
                fprintf(stderr, "%s: qemu-system-x86_64: %s\n", program_name, strerror(errno));
                _exit(127);
        }
        return pid;
}

/* "ingot.disk=GUID" with DISK's GPT disk GUID: the initrd boots from that disk and no other. */
static int disk_pin(const char *disk, char *out, size_t size) {
        _cleanup_(gpt_freep) struct gpt *g = NULL;
        struct ingot_error e = { 0 };
        int r = gpt_open(disk, false, 5000, &g, &e);
        if (r < 0) {
                log_error("%s (--no-pin boots it without ingot.disk=)", e.message);
                return EXIT_FAILURE_;
        }
        snprintf(out, size, "ingot.disk=%s", g->disk_uuid);
        return 0;
}

#define KVM_FIRST_OUTPUT_S 10.0

/* Relays the console to stdout, watching for v->expect (NULL: runs until QEMU exits, with the
 * terminal as its input). Returns an exit status, or -EAGAIN when KVM printed nothing in time. */
static int run(const struct vm *v, bool kvm) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return log_lib_error("pipe", -errno, NULL);
        pid_t pid = spawn_qemu(v, kvm, p[1], !v->expect);
        close(p[1]);
        if (pid < 0)
                return log_lib_error("fork", -errno, NULL);
        char tail[8192] = ""; /* printed even when the VM printed nothing */
        size_t tail_len = 0;
        bool found = false;
        double start = now_seconds();
        bool any = false, stuck = false;
        for (;;) {
                double left = v->timeout ? v->timeout - (now_seconds() - start) : 86400;
                if (kvm && !any && now_seconds() - start > KVM_FIRST_OUTPUT_S) {
                        stuck = true; /* KVM that creates guests but never runs them */
                        break;
                }
                if (left <= 0)
                        break;
                if (kvm && !any && left > KVM_FIRST_OUTPUT_S)
                        left = KVM_FIRST_OUTPUT_S + 0.1 - (now_seconds() - start);
                struct pollfd pfd = { .fd = p[0], .events = POLLIN };
                int n = poll(&pfd, 1, (int) (left * 1000) + 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        continue;
                char buf[4096];
                ssize_t got = read(p[0], buf, sizeof(buf));
                if (got <= 0)
                        break; /* qemu is gone */
                any = true;
                fwrite(buf, 1, (size_t) got, stdout);
                fflush(stdout);
                if (tail_len + (size_t) got > sizeof(tail) - 1) { /* keep the newest bytes */
                        size_t drop = tail_len + (size_t) got - (sizeof(tail) - 1);
                        drop = drop > tail_len ? tail_len : drop;
                        memmove(tail, tail + drop, tail_len - drop);
                        tail_len -= drop;
                }
                size_t take = (size_t) got > sizeof(tail) - 1 - tail_len ? sizeof(tail) - 1 - tail_len : (size_t) got;
                memcpy(tail + tail_len, buf + got - take, take);
                tail_len += take;
                tail[tail_len] = 0;
                if (v->expect && memmem(tail, tail_len, v->expect, strlen(v->expect))) {
                        found = true;
                        break;
                }
        }
        double took = now_seconds() - start;
        kill(pid, SIGTERM);
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        close(p[0]);
        if (kvm && !any && !stuck) {
                fprintf(stderr, "%s: QEMU with KVM stopped before the guest printed anything; booting again with TCG\n",
                        program_name);
                return -EAGAIN;
        }
        if (stuck) {
                fprintf(stderr, "%s: KVM ran no guest code in %.0f s; booting again with TCG\n", program_name,
                        KVM_FIRST_OUTPUT_S);
                return -EAGAIN;
        }
        if (!v->expect)
                return WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_FAILURE_;
        if (found) {
                fprintf(stderr, "%s: '%s' appeared after %.1f s (%s)\n", program_name, v->expect, took,
                        kvm ? "KVM" : "TCG");
                return EXIT_OK;
        }
        fprintf(stderr, "\n%s: '%s' did not appear: %s after %.1f s; the console's last lines:\n", program_name,
                v->expect, took >= v->timeout ? "timed out" : "the VM stopped", took);
        const char *t = tail;
        for (int lines = 0, i = (int) tail_len - 1; i >= 0; i--)
                if (tail[i] == '\n' && ++lines > 20) {
                        t = tail + i + 1;
                        break;
                }
        fprintf(stderr, "%s\n", t);
        return EXIT_FAILURE_;
}

int verb_vm(int argc, char **argv) {
        static const struct option options[] = {
                { "kernel", required_argument, NULL, 'k' }, { "initrd", required_argument, NULL, 'i' },
                { "append", required_argument, NULL, 'a' }, { "memory", required_argument, NULL, 'm' },
                { "timeout", required_argument, NULL, 't' }, { "expect", required_argument, NULL, 'e' },
                { "snapshot", no_argument, NULL, 's' },     { "accel", required_argument, NULL, 'A' },
                { "drive", required_argument, NULL, 'd' },  { "uefi", no_argument, NULL, 'u' },
                { "drive-first", required_argument, NULL, 'F' }, { "no-pin", no_argument, NULL, 'P' },
                {},
        };
        struct vm v = { .memory = "1G" };
        const char *accel = "auto";
        bool uefi = false, pin = true;
        _cleanup_free_ char *kernel = NULL;
        uint64_t n;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'k':
                        v.kernel = optarg;
                        break;
                case 'i':
                        v.initrd = optarg;
                        break;
                case 'a':
                        v.append = optarg;
                        break;
                case 'm':
                        v.memory = optarg;
                        break;
                case 't':
                        if (parse_uint(optarg, 86400, &n) < 0 || n == 0)
                                return usage_error("vm", "--timeout takes seconds, not '%s'", optarg);
                        v.timeout = (unsigned) n;
                        break;
                case 'e':
                        v.expect = optarg;
                        break;
                case 's':
                        v.snapshot = true;
                        break;
                case 'u':
                        uefi = true;
                        break;
                case 'd':
                        if (v.n_drives == MAX_DRIVES)
                                return usage_error("vm", "at most %d --drive", MAX_DRIVES);
                        if (access(optarg, R_OK) < 0)
                                return log_lib_error(optarg, -errno, NULL);
                        v.drives[v.n_drives++] = optarg;
                        break;
                case 'F':
                        if (v.first)
                                return usage_error("vm", "at most one --drive-first");
                        if (access(optarg, R_OK | W_OK) < 0)
                                return log_lib_error(optarg, -errno, NULL);
                        v.first = optarg;
                        break;
                case 'P':
                        pin = false;
                        break;
                case 'A':
                        if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "kvm") != 0 && strcmp(optarg, "tcg") != 0)
                                return usage_error("vm", "--accel takes auto, kvm or tcg, not '%s'", optarg);
                        accel = optarg;
                        break;
                default:
                        return usage_error("vm", "invalid option");
                }
        if (argc - optind != 1)
                return usage_error("vm", "expected exactly one DISK");
        v.disk = argv[optind];
        if (access(v.disk, R_OK) < 0)
                return log_lib_error(v.disk, -errno, NULL);
        if (uefi && (v.initrd || v.kernel || v.append || !pin))
                return usage_error("vm", "--uefi boots what the ESP holds: no --kernel, --initrd, --append or --no-pin");
        if (!uefi && !v.initrd)
                return usage_error("vm", "--initrd INITRD is required (make one with 'ingot initrd')");
        _cleanup_free_ char *vars = NULL;
        if (uefi) {
                int r = uefi_vars(&vars);
                if (r < 0)
                        return log_lib_error(OVMF_VARS, r, NULL);
                v.vars = vars;
        } else if (!v.kernel) {
                kernel = newest_kernel();
                if (!kernel) {
                        log_error("no --kernel and no /boot/vmlinuz-* (install linux-image-amd64)");
                        return EXIT_FAILURE_;
                }
                v.kernel = kernel;
        }
        if (!uefi && pin && !(v.append && cmdline_has_key(v.append, "ingot.disk="))) {
                int r = disk_pin(v.disk, v.pin, sizeof(v.pin));
                if (r != 0)
                        return r;
        }
        bool kvm = strcmp(accel, "kvm") == 0 || (strcmp(accel, "auto") == 0 && kvm_usable());
        if (v.expect && !v.timeout)
                v.timeout = 300;
        int r = run(&v, kvm);
        if (r == -EAGAIN && strcmp(accel, "auto") == 0 && (!vars || uefi_vars_reset(vars) == 0))
                r = run(&v, false);
        if (vars)
                unlink(vars);
        return r == -EAGAIN ? EXIT_FAILURE_ : r;
}
