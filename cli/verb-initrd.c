/* verb-initrd.c: `ingot initrd -o INITRD --cert CERT [--kernel-modules DIR | --kernel-version V]`. */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void help_initrd(FILE *f) {
        fprintf(f,
                "Usage: %s initrd -o INITRD --cert CERT [--kernel-modules DIR | --kernel-version V]\n"
                "Build the initramfs that boots ingot disks: the C init (ingot-init) that picks the slot,\n"
                "counts its try, checks its signature against CERT, opens dm-verity, mounts var and the\n"
                "image's [Mounts] and switches root; with its libraries, the kernel modules it needs\n"
                "(dm-verity, virtio, squashfs, overlay, ext4 and their dependencies from modules.dep),\n"
                "mke2fs (var is formatted on the first boot) and busybox for ingot.debug. A newc cpio,\n"
                "zstd-compressed when INITRD ends in .zst. The same inputs give the same bytes.\n\n"
                "  -o --output INITRD      where to write it\n"
                "     --cert CERT          the certificate slots must be signed by\n"
                "     --kernel-modules DIR /lib/modules/VERSION to take modules from\n"
                "     --kernel-version V   the same as /lib/modules/V (default: the newest there)\n"
                "     --init PATH          the init binary (default: ingot-init beside ingot)\n"
                "  -h --help               show this help\n\n"
                "SOURCE_DATE_EPOCH sets every entry's time (default 0).\n",
                program_name);
}

int verb_initrd(int argc, char **argv) {
        static const struct option options[] = {
                { "output", required_argument, NULL, 'o' },         { "cert", required_argument, NULL, 'c' },
                { "kernel-modules", required_argument, NULL, 'm' }, { "kernel-version", required_argument, NULL, 'k' },
                { "init", required_argument, NULL, 'i' },           {},
        };
        struct ingot_initrd_options o = { 0 };
        const char *out = NULL;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "o:", options, NULL)) >= 0)
                switch (c) {
                case 'o':
                        out = optarg;
                        break;
                case 'c':
                        o.cert_path = optarg;
                        break;
                case 'm':
                        o.modules_dir = optarg;
                        break;
                case 'k':
                        o.kernel_version = optarg;
                        break;
                case 'i':
                        o.init_path = optarg;
                        break;
                default:
                        return usage_error("initrd", "invalid option");
                }
        if (optind != argc)
                return usage_error("initrd", "unexpected argument '%s'", argv[optind]);
        if (!out || !o.cert_path)
                return usage_error("initrd", "-o INITRD and --cert CERT are required");
        if (o.modules_dir && o.kernel_version)
                return usage_error("initrd", "--kernel-modules and --kernel-version exclude each other");
        char self[PATH_MAX], init[PATH_MAX + 16];
        if (!o.init_path) {
                ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
                if (n > 0) {
                        self[n] = 0;
                        snprintf(init, sizeof(init), "%s/ingot-init", dirname(self));
                        o.init_path = access(init, X_OK) == 0 ? init : "/usr/lib/ingot/ingot-init";
                } else
                        o.init_path = "/usr/lib/ingot/ingot-init";
        }
        const char *sde = getenv("SOURCE_DATE_EPOCH");
        o.mtime = sde ? strtoll(sde, NULL, 10) : 0;
        struct ingot_error err = { 0 };
        int r = ingot_initrd(out, &o, &err);
        if (r < 0)
                return log_lib_error(NULL, r, &err);
        return EXIT_OK;
}
