/* verb-disk.c: `ingot disk OUT.img --slot-a IMAGE.raw [--slot-b IMAGE.raw] [sizes]`: a new A/B disk. */
#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "esp.h"
#include "util.h"

void help_disk(FILE *f) {
        fprintf(f,
                "Usage: %s disk OUT.img --slot-a IMAGE.raw [--slot-b IMAGE.raw] [OPTIONS]\n"
                "Create a GPT disk image: an ESP (FAT32; with --boot-kernel, systemd-boot and entries), slots a and b (root, root-verity and\n"
                "root-verity-sig partitions each: root-a, verity-a, verity-sig-a, ...) and var, typed\n"
                "as the Discoverable Partitions Specification says. Slot a is written (and b when\n"
                "given) and checked like an install; a boots first. The same inputs give the same bytes.\n\n"
                "  --slot-a IMAGE   signed image (with .verity, .roothash, .roothash.p7s beside it)\n"
                "  --slot-b IMAGE   a second one; without it slot b is empty\n"
                "  --size SIZE      the whole disk (var takes what is left); default: what the rest needs\n"
                "  --esp-size SIZE  default 256M\n"
                "  --var-size SIZE  default 256M, or the rest of --size\n"
                "  --slot-size SIZE root partitions; default twice the largest image, in MiB\n"
                "                   (verity partitions hold the tree of an image that fills one)\n"
                "  --boot-kernel K  fill the ESP: systemd-boot, which starts the EFI-stub kernel K with\n"
                "                   the ingot initrd; the initrd restarts into the slot's own kernel\n"
                "  --boot-initrd I  that initrd (ingot initrd -o I ...)\n"
                "  --cmdline ARGS   their command line, after ro (default: console=tty0 console=ttyS0)\n"
                "  --loader EFI     systemd-boot's binary (default: " ESP_LOADER_DEFAULT ")\n"
                "  -h --help        show this help\n\n"
                "SIZE takes K, M, G suffixes. OUT.img is written under a temporary name and renamed\n"
                "once complete.\n",
                program_name);
}

int verb_disk(int argc, char **argv) {
        static const struct option options[] = {
                { "slot-a", required_argument, NULL, 'a' },   { "slot-b", required_argument, NULL, 'b' },
                { "size", required_argument, NULL, 's' },     { "esp-size", required_argument, NULL, 'e' },
                { "var-size", required_argument, NULL, 'v' }, { "slot-size", required_argument, NULL, 'S' },
                { "boot-kernel", required_argument, NULL, 'K' }, { "boot-initrd", required_argument, NULL, 'I' },
                { "cmdline", required_argument, NULL, 'c' },  { "loader", required_argument, NULL, 'L' },
                {},
        };
        struct ingot_disk_options o = { 0 };
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                uint64_t *size = c == 's' ? &o.size : c == 'e' ? &o.esp_size : c == 'v' ? &o.var_size
                                                       : c == 'S'               ? &o.slot_size
                                                                                : NULL;
                switch (c) {
                case 'a':
                        o.slot_a = optarg;
                        break;
                case 'b':
                        o.slot_b = optarg;
                        break;
                case 'K':
                        o.boot_kernel = optarg;
                        break;
                case 'I':
                        o.boot_initrd = optarg;
                        break;
                case 'c':
                        o.cmdline = optarg;
                        break;
                case 'L':
                        o.loader = optarg;
                        break;
                case 's':
                case 'e':
                case 'v':
                case 'S':
                        if (parse_size(optarg, size) < 0 || *size == 0)
                                return usage_error("disk", "invalid size '%s'", optarg);
                        break;
                default:
                        return usage_error("disk", "invalid option");
                }
        }
        if (argc - optind != 1)
                return usage_error("disk", "expected exactly one OUT.img");
        if (!o.slot_a)
                return usage_error("disk", "--slot-a IMAGE is required");
        if (!o.boot_kernel != !o.boot_initrd)
                return usage_error("disk", "--boot-kernel and --boot-initrd go together");
        if (!o.boot_kernel && (o.cmdline || o.loader))
                return usage_error("disk", "--cmdline and --loader need --boot-kernel and --boot-initrd");
        struct ingot_error err = { 0 };
        int r = ingot_disk_create(argv[optind], &o, &err);
        if (r < 0)
                return log_lib_error(NULL, r, &err);
        return EXIT_OK;
}
