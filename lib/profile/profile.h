/* profile.h: host profiles: kernel parameters, huge pages and sysctls read from systemd-style INI
 * (Include=, drop-ins, later wins), each value with the file:line that set it; and their differences
 * (profile.c, profile-diff.c). Their compiled form (profile-compiled.c), that form written and checked
 * as build artifacts (profile-artifact.c), and whether an image can restart into them (profile-restart.c). */
#pragma once

#include <json-c/json.h>
#include <stdint.h>

#include "util.h"

/* A kernel parameter ("quiet", "mitigations"=auto) or a sysctl (vm.swappiness=1). */
struct profile_entry {
        char *key;
        char *value; /* NULL for a bare kernel parameter */
        char *where;
};

struct profile_pages {
        uint64_t size;  /* bytes: 2M or 1G on x86-64 */
        uint64_t count;
        int node;       /* NUMA node, -1 for the whole host */
        char *where;
};

struct profile {
        char *path;
        char **files;
        struct profile_entry *params;
        size_t n_params;
        uint64_t default_page_size; /* 0: the kernel's */
        char *default_page_size_where;
        struct profile_pages *pages;
        size_t n_pages;
        struct profile_entry *sysctls;
        size_t n_sysctls;
        char **warnings; /* one line each, from file:line: what may not do what it seems (init=, root=) */
};

/* Refuses, naming the file:line, what is malformed and the kernel parameters the boot machinery owns
 * (ingot.*, initrd=, rdinit=, panic=0; and the sysctl kernel.panic=0); warns in warnings about init=
 * and root=. */
int profile_load(const char *path, struct profile **ret, struct ingot_error *err);
void profile_free(struct profile *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct profile *, profile_free);

/* The resolved profile as INI (each value's origin in a comment above it; it loads to the same
 * profile) or as JSON. */
int profile_to_ini(const struct profile *p, char **ret);
json_object *profile_to_json(const struct profile *p);

/* "2M", "1G" */
void page_size_format(uint64_t size, char out[32]);

enum profile_change_kind { CHANGE_PARAM, CHANGE_DEFAULT_PAGE_SIZE, CHANGE_PAGES, CHANGE_SYSCTL };
enum profile_apply { APPLY_LIVE, APPLY_REBOOT };

struct profile_change {
        enum profile_change_kind kind;
        char name[256];         /* parameter key, sysctl name, page size ("2M", "1G@0") */
        char *old_value, *new_value; /* NULL: absent; for a bare kernel parameter, "" */
        const char *old_where, *new_where; /* into the profiles */
        enum profile_apply apply;
        const char *why;
};

const char *profile_change_kind_name(enum profile_change_kind kind);

/* Every difference from a to b, in a stable order: kernel parameters, huge pages, sysctls, each in
 * a's order, then what only b has. */
int profile_diff(const struct profile *a, const struct profile *b, struct profile_change **ret, size_t *ret_n);
void profile_changes_free(struct profile_change *c, size_t n);

/* ---- profile-compiled.c: the compiled form, what the initrd reads ---- */

/* The compiled profile: its kind ("ingot-profile", so that a signature over it is one over a profile and
 * nothing else), the root hashes of the images it may boot with as a slot's own profile (images, NULL:
 * none, for a profile baked into an image), the kernel command line fragment (parameters, then the
 * boot-time huge pages: default_hugepagesz=, hugepagesz=1G hugepages=N), the sysctls, and the huge pages
 * set at run time (2M, through sysfs), as one canonical JSON text: what a signature covers and what the
 * initrd reads. */
#define PROFILE_KIND "ingot-profile"
#define PROFILE_FORMAT 2
int profile_compile(const struct profile *p, const char *name, char **images, char **ret_json,
                    struct ingot_error *err);

/* A compiled profile read back (from an image, a slot or a file): kind ingot-profile, format 2, with a
 * name and a command line fragment, images, sysctl and runtime_hugepages (when there) of the shapes
 * profile_compile writes, which boot/profile-apply.c walks; -EBADMSG otherwise, the message naming what
 * (and, for another signed kind, which). ret_name and ret_cmdline point into *ret. */
int profile_compiled_parse(const char *text, const char *what, json_object **ret, const char **ret_name,
                           const char **ret_cmdline, struct ingot_error *err);
/* A slot's own profile is bound to the image it boots with: 0 when j (profile_compiled_parse's) lists
 * root_hash among its images, else -EPERM, the message naming what, why, and the images it lists. */
int profile_bound_to(json_object *j, const char *what, const char *root_hash, struct ingot_error *err);

/* In an image: the compiled Profile= of its recipe, which the initrd applies (covered by the image's
 * signature like everything in it). */
#define PROFILE_IN_IMAGE "/usr/lib/ingot/profile.json"

/* In an image: the initrd the ingot initrd restarts a slot's kernel with (boot/profile-apply.c). */
#define INITRD_IN_IMAGE "/usr/lib/ingot/initrd"

/* A profile's name: its file name without ".conf" (malloc'd; NULL when out of memory). */
char *profile_name(const char *path);

/* ---- profile-artifact.c: the compiled form written and checked as build artifacts ---- */

struct profile_compile_options {
        char **images; /* root hashes of the images it is for as a slot's own profile (NULL: none) */
        const char *key_path, *cert_path; /* both, or neither with unsigned_ok */
        bool unsigned_ok;
        uint64_t memory; /* the hosts' memory: huge pages must fit (0: unknown) */
        const char *kernel_sysctls; /* a kernel's /proc/sys: every sysctl must be there (NULL: not checked) */
};

/* Writes OUTDIR/NAME.profile.json and, when signed, NAME.profile.json.p7s (detached PKCS#7 over the
 * JSON bytes, as for root hashes), both or neither; NAME is the profile file's name without .conf. */
int profile_compile_to(const struct profile *p, const char *outdir, const struct profile_compile_options *o,
                       char **ret_json_path, struct ingot_error *err);

/* ---- profile-restart.c: whether an image can carry a profile's kernel parameters ---- */

/* A profile's kernel parameters (cmdline, "" for none) take effect only when the initrd restarts into the
 * image's own kernel: refuses (-ENOEXEC) an image at fd's offset..+size (a squashfs; read behind tree when
 * it is not NULL) that carries no kernel (usr/lib/modules/V/vmlinuz or boot/vmlinuz-V) and initrd to
 * restart into, the message naming what (the profile), image ("NAME VERSION") and the consequence. */
struct verity_tree;
int profile_restart_check(const char *what, const char *cmdline, int fd, uint64_t offset, uint64_t size,
                          const struct verity_tree *tree, const char *image, const char *consequence,
                          struct ingot_error *err);
