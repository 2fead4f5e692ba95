/* main.c: `ingot VERB [ARGS]`: the one verb table, global --help and --version. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int verb_help(int argc, char **argv);
static void help_help(FILE *f);
static int verb_version(int argc, char **argv);

static const struct verb verbs[] = {
        { "build", "RECIPE", "compile a recipe into a squashfs root image", verb_build, help_build },
        { "plan", "RECIPE", "print the validated, fully resolved recipe without building", verb_plan, help_plan },
        { "verify", "IMAGE", "check an image against its hash tree, signature and manifest", verb_verify, help_verify },
        { "inspect", "IMAGE", "show what an image is: name, version, root hash, signer, contents", verb_inspect,
          help_inspect },
        { "verity", "IMAGE", "write the hash tree and root hash of an existing image", verb_verity, help_verity },
        { "disk", "OUT.img", "create an A/B disk image with signed images in its slots", verb_disk, help_disk },
        { "slot", "ACTION", "install into, switch and inspect the A/B slots of a disk", verb_slot, help_slot },
        { "publish", "OUT DEST", "copy signed images into a release directory a web server serves", verb_publish,
          help_publish },
        { "update", "DISK URL", "install the newest version of a release into the inactive slot", verb_update,
          help_update },
        { "initrd", "-o INITRD", "build the initramfs that boots ingot disks", verb_initrd, help_initrd },
        { "vm", "DISK", "boot a disk in QEMU, optionally until a text appears", verb_vm, help_vm },
        { "sysext", "ACTION", "build systemd-sysext layers and check them against a base image", verb_sysext,
          help_sysext },
        { "profile", "ACTION", "show host profiles and explain what changes between two", verb_profile, help_profile },
        { "reprofile", "PROFILE", "switch a host to another profile as a boot-counted slot switch", verb_reprofile,
          help_reprofile },
        { "keygen", "DIR", "create a development signing key and certificate", verb_keygen, help_keygen },
        { "help", "[VERB]", "show help for ingot or one verb", verb_help, help_help },
        { "version", "", "print the version", verb_version, NULL },
};

static const struct verb *find_verb(const char *name) {
        for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
                if (strcmp(verbs[i].name, name) == 0)
                        return &verbs[i];
        return NULL;
}

static void main_help(FILE *f) {
        fprintf(f,
                "Usage: %s VERB [ARGS...]\n"
                "Build immutable, verity-protected host images from declarative recipes.\n\n"
                "Verbs:\n",
                program_name);
        for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
                fprintf(f, "  %-9s %-10s %s\n", verbs[i].name, verbs[i].args, verbs[i].summary);
        fprintf(f,
                "\nOptions:\n"
                "  -h --help     show this help\n"
                "     --version  print the version\n\n"
                "'%s VERB --help' describes a verb. Recipes: docs/recipe.md.\n",
                program_name);
}

static void help_help(FILE *f) {
        fprintf(f, "Usage: %s help [VERB]\nShow help for ingot or for one verb.\n", program_name);
}

static int verb_help(int argc, char **argv) {
        if (argc < 2) {
                main_help(stdout);
                return EXIT_OK;
        }
        const struct verb *v = find_verb(argv[1]);
        if (!v)
                return usage_error(NULL, "unknown verb '%s'", argv[1]);
        if (v->help)
                v->help(stdout);
        else
                printf("Usage: %s %s\n%s\n", program_name, v->name, v->summary);
        return EXIT_OK;
}

static int verb_version(int argc, char **argv) {
        (void) argc;
        (void) argv;
        printf("ingot %s\n", INGOT_VERSION);
        return EXIT_OK;
}

int main(int argc, char **argv) {
        if (argc < 2) {
                main_help(stderr);
                return EXIT_USAGE;
        }
        const char *name = argv[1];
        if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
                main_help(stdout);
                return EXIT_OK;
        }
        if (strcmp(name, "--version") == 0)
                return verb_version(0, NULL);
        if (name[0] == '-')
                return usage_error(NULL, "unknown option '%s'; options go after the verb", name);
        const struct verb *v = find_verb(name);
        if (!v) {
                const char *best = NULL;
                for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
                        if (strncmp(verbs[i].name, name, 2) == 0)
                                best = verbs[i].name;
                if (best)
                        return usage_error(NULL, "unknown verb '%s'; did you mean '%s'?", name, best);
                return usage_error(NULL, "unknown verb '%s'", name);
        }
        /* every verb answers --help the same way */
        for (int i = 2; i < argc; i++)
                if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                        if (v->help)
                                v->help(stdout);
                        else
                                printf("Usage: %s %s\n%s\n", program_name, v->name, v->summary);
                        return EXIT_OK;
                }
        return v->run(argc - 1, argv + 1);
}
