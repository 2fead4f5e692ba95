/* initrd.c: `ingot initrd`: a reproducible initramfs (newc cpio through libarchive, zstd when asked)
 * holding the ingot-init binary and its libraries, the kernel modules it loads with their
 * dependencies from modules.dep, mke2fs and e2fsck for var, the trusted certificate and a static busybox for ingot.debug. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "artifact.h"
#include "ldd.h"
#include "signing.h"

/* libarchive's free functions take NULL. */
DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive *, archive_write_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct archive_entry *, archive_entry_free);

#define MKE2FS "/usr/sbin/mke2fs"
#define E2FSCK "/usr/sbin/e2fsck"

/* What the init loads: device-mapper and verity, virtio disks, squashfs, overlayfs and ext4 (var). */
static const char *const wanted_modules[] = { "dm_mod",     "dm_bufio",   "dm_verity", "reed_solomon",
                                              "virtio_pci", "virtio_blk", "squashfs",  "overlay",
                                              /* var: ext4, and the crc32c it asks for by name */
                                              "crc32c_generic", "ext4" };
/* Loaded when the kernel has them: efivarfs, for the boot loader's LoaderDevicePartUUID (without it the
 * initrd relies on ingot.disk=, which ingot's boot entries carry anyway). */
static const char *const optional_modules[] = { "efivarfs" };

struct entry {
        char *path;     /* in the initrd, no leading '/' */
        mode_t mode;
        char *host;     /* regular file: copy this host file */
        char *data;     /* or these bytes */
        size_t size;
        char *target;   /* symlink */
        dev_t rdev;
};

struct initrd {
        struct entry *e;
        size_t n;
        struct ingot_error *err;
};

static void initrd_done(struct initrd *d) {
        for (size_t i = 0; i < d->n; i++) {
                free(d->e[i].path);
                free(d->e[i].host);
                free(d->e[i].data);
                free(d->e[i].target);
        }
        free(d->e);
}

static int add(struct initrd *d, const char *path, mode_t mode, const char *host, char *data, size_t size,
               const char *target, dev_t rdev) {
        while (*path == '/')
                path++;
        for (size_t i = 0; i < d->n; i++)
                if (strcmp(d->e[i].path, path) == 0) {
                        free(data);
                        return 0; /* first one wins (a library twice) */
                }
        struct entry *n = realloc(d->e, (d->n + 1) * sizeof(*n));
        if (!n) {
                free(data);
                return -ENOMEM;
        }
        d->e = n;
        struct entry e = { .path = strdup(path), .mode = mode, .host = host ? strdup(host) : NULL, .data = data,
                           .size = size, .target = target ? strdup(target) : NULL, .rdev = rdev };
        if (!e.path || (host && !e.host) || (target && !e.target)) {
                free(e.path);
                free(e.host);
                free(e.data);
                free(e.target);
                return -ENOMEM;
        }
        d->e[d->n++] = e;
        /* and every parent directory */
        _cleanup_free_ char *parent = strdup(path);
        char *slash = parent ? strrchr(parent, '/') : NULL;
        if (!parent)
                return -ENOMEM;
        if (slash) {
                *slash = 0;
                return add(d, parent, S_IFDIR | 0755, NULL, NULL, 0, NULL, 0);
        }
        return 0;
}

static void normalize(char *name) {
        for (char *p = name; *p; p++)
                if (*p == '-')
                        *p = '_';
}

/* modules.dep: "kernel/x/y.ko: kernel/a.ko kernel/b.ko" */
struct moddep {
        char **paths;
        char ***deps;
        size_t n;
};

static int moddep_load(const char *dir, struct moddep *m, struct ingot_error *err) {
        _cleanup_free_ char *path = path_join(dir, "modules.dep");
        _cleanup_fclose_ FILE *f = path ? fopen(path, "re") : NULL;
        if (!f)
                return error_set(err, -errno, "%s: %s", path ? path : dir, strerror(errno));
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        while (getline(&line, &size, f) >= 0) {
                char *colon = strchr(line, ':');
                if (!colon)
                        continue;
                *colon = 0;
                char ***dn = realloc(m->deps, (m->n + 1) * sizeof(*dn));
                if (!dn)
                        return -ENOMEM;
                m->deps = dn;
                _cleanup_strv_free_ char **deps = NULL;
                char *save = NULL;
                for (char *w = strtok_r(colon + 1, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
                        if (strv_extend(&deps, w) < 0)
                                return -ENOMEM;
                if (strv_extend(&m->paths, line) < 0)
                        return -ENOMEM;
                m->deps[m->n++] = TAKE_PTR(deps);
        }
        return 0;
}

static void moddep_free(struct moddep *m) {
        for (size_t i = 0; i < m->n; i++)
                strv_free(m->deps[i]);
        free(m->deps);
        strv_free(m->paths);
}

static ssize_t moddep_find_path(const struct moddep *m, const char *relpath) {
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->paths[i], relpath) == 0)
                        return (ssize_t) i;
        return -1;
}

static ssize_t moddep_find_name(const struct moddep *m, const char *name) {
        for (size_t i = 0; i < m->n; i++) {
                const char *base = strrchr(m->paths[i], '/') ? strrchr(m->paths[i], '/') + 1 : m->paths[i];
                char n[256];
                snprintf(n, sizeof(n), "%s", base);
                char *dot = strstr(n, ".ko");
                if (dot)
                        *dot = 0;
                normalize(n);
                if (strcmp(n, name) == 0)
                        return (ssize_t) i;
        }
        return -1;
}

/* Depth first, dependencies before their users, each once. */
static int order_module(const struct moddep *m, size_t i, bool *seen, char ***order) {
        if (seen[i])
                return 0;
        seen[i] = true;
        for (char **d = m->deps[i]; d && *d; d++) {
                ssize_t j = moddep_find_path(m, *d);
                if (j >= 0) {
                        int r = order_module(m, (size_t) j, seen, order);
                        if (r < 0)
                                return r;
                }
        }
        return strv_extend(order, m->paths[i]);
}

static bool builtin(const char *dir, const char *name) {
        _cleanup_free_ char *path = path_join(dir, "modules.builtin");
        _cleanup_fclose_ FILE *f = path ? fopen(path, "re") : NULL;
        char line[512];
        while (f && fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = 0;
                char *base = strrchr(line, '/') ? strrchr(line, '/') + 1 : line, *dot = strstr(base, ".ko");
                if (dot)
                        *dot = 0;
                normalize(base);
                if (strcmp(base, name) == 0)
                        return true;
        }
        return false;
}

/* The wanted modules (and the optional ones the kernel has) with their dependencies, each once, in the order
 * to load them: the .ko files, and that order as etc/ingot/modules. */
static int add_modules(struct initrd *d, const char *dir, struct ingot_error *err) {
        _cleanup_(moddep_free) struct moddep m = { 0 };
        int r = moddep_load(dir, &m, err);
        if (r < 0)
                return r;
        _cleanup_free_ bool *seen = calloc(m.n + 1, 1);
        if (!seen)
                return -ENOMEM;
        _cleanup_strv_free_ char **order = NULL;
        for (size_t k = 0; k < ELEMENTSOF(wanted_modules) + ELEMENTSOF(optional_modules); k++) {
                bool optional = k >= ELEMENTSOF(wanted_modules);
                const char *name = optional ? optional_modules[k - ELEMENTSOF(wanted_modules)] : wanted_modules[k];
                ssize_t i = moddep_find_name(&m, name);
                if (i < 0) {
                        if (!optional && !builtin(dir, name))
                                return error_set(err, -ENOENT, "%s: no module %s in modules.dep, nor built in", dir,
                                                 name);
                        continue;
                }
                r = order_module(&m, (size_t) i, seen, &order);
                if (r < 0)
                        return r;
        }
        _cleanup_free_ char *list = NULL;
        size_t list_size = 0;
        _cleanup_fclose_ FILE *lf = open_memstream(&list, &list_size);
        if (!lf)
                return -ENOMEM;
        for (char **o = order; o && *o; o++) {
                _cleanup_free_ char *host = path_join(dir, *o);
                if (!host)
                        return -ENOMEM;
                r = add(d, host, S_IFREG | 0644, host, NULL, 0, NULL, 0);
                if (r < 0)
                        return r;
                fprintf(lf, "%s\n", host);
        }
        if (fclose(TAKE_PTR(lf)) != 0) /* the list could not be finished: an initrd without it would load no module */
                return -ENOMEM;
        return add(d, "etc/ingot/modules", S_IFREG | 0644, NULL, TAKE_PTR(list), list_size, NULL, 0);
}

static int newest_modules_dir(char **ret, struct ingot_error *err) {
        DIR *dir = opendir("/lib/modules");
        if (!dir)
                return error_set(err, -errno, "/lib/modules: %s (install linux-image-amd64, or give --kernel-modules)",
                                 strerror(errno));
        char best[256] = "";
        struct dirent *de;
        while ((de = readdir(dir)))
                if (de->d_name[0] != '.' && version_compare(de->d_name, best) > 0)
                        snprintf(best, sizeof(best), "%s", de->d_name);
        closedir(dir);
        if (!*best)
                return error_set(err, -ENOENT, "/lib/modules: no kernel's modules");
        return asprintf(ret, "/lib/modules/%s", best) < 0 ? -ENOMEM : 0;
}

static int by_path(const void *a, const void *b) {
        return strcmp(((const struct entry *) a)->path, ((const struct entry *) b)->path);
}

/* A host file's bytes into the archive entry whose header is written. */
static int copy_host(struct archive *a, const struct entry *e, int hfd, uint8_t *buf, size_t buf_size,
                     struct ingot_error *err) {
        for (;;) {
                ssize_t n = read(hfd, buf, buf_size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return error_set(err, -errno, "%s: %s", e->host, strerror(errno));
                if (n == 0)
                        return 0;
                if (archive_write_data(a, buf, (size_t) n) != n)
                        return error_set(err, -EIO, "initrd: %s: %s", e->path, archive_error_string(a));
        }
}

/* One entry, inode number ino: its header (a host file's size and permissions as the host has them), then
 * its bytes. */
static int write_entry(struct archive *a, struct entry *e, int64_t ino, int64_t mtime, uint8_t *buf, size_t buf_size,
                       struct ingot_error *err) {
        _cleanup_(archive_entry_freep) struct archive_entry *ae = archive_entry_new();
        if (!ae)
                return -ENOMEM;
        _cleanup_close_ int hfd = -1;
        uint64_t size = e->size;
        if (e->host) {
                struct stat st;
                hfd = open(e->host, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (hfd < 0 || fstat(hfd, &st) < 0)
                        return error_set(err, -errno, "%s: %s", e->host, strerror(errno));
                size = (uint64_t) st.st_size;
                e->mode = S_IFREG | (st.st_mode & 0755);
        }
        archive_entry_set_pathname(ae, e->path);
        archive_entry_set_mode(ae, e->mode);
        archive_entry_set_uid(ae, 0);
        archive_entry_set_gid(ae, 0);
        archive_entry_set_mtime(ae, mtime, 0);
        archive_entry_set_ino64(ae, ino);
        archive_entry_set_nlink(ae, S_ISDIR(e->mode) ? 2 : 1);
        archive_entry_set_size(ae, S_ISREG(e->mode) ? (int64_t) size : 0);
        if (e->target)
                archive_entry_set_symlink(ae, e->target);
        if (S_ISCHR(e->mode) || S_ISBLK(e->mode))
                archive_entry_set_rdev(ae, e->rdev);
        if (archive_write_header(a, ae) != ARCHIVE_OK)
                return error_set(err, -EIO, "initrd: %s: %s", e->path, archive_error_string(a));
        if (!S_ISREG(e->mode))
                return 0;
        if (e->data) {
                if (archive_write_data(a, e->data, e->size) != (la_ssize_t) e->size)
                        return error_set(err, -EIO, "initrd: %s: %s", e->path, archive_error_string(a));
                return 0;
        }
        return copy_host(a, e, hfd, buf, buf_size, err);
}

static int write_archive(struct initrd *d, int fd, bool zstd, int64_t mtime, struct ingot_error *err) {
        qsort(d->e, d->n, sizeof(*d->e), by_path);
        _cleanup_(archive_write_freep) struct archive *a = archive_write_new();
        if (!a)
                return -ENOMEM;
        if (archive_write_set_format_cpio_newc(a) != ARCHIVE_OK ||
            (zstd && archive_write_add_filter_zstd(a) != ARCHIVE_OK) ||
            archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK || archive_write_open_fd(a, fd) != ARCHIVE_OK)
                return error_set(err, -EIO, "initrd: %s", archive_error_string(a));
        const size_t buf_size = 1 << 20;
        _cleanup_free_ uint8_t *buf = malloc(buf_size);
        if (!buf)
                return -ENOMEM;
        for (size_t i = 0; i < d->n; i++) {
                int r = write_entry(a, &d->e[i], (int64_t) i + 1, mtime, buf, buf_size, err);
                if (r < 0)
                        return r;
        }
        if (archive_write_close(a) != ARCHIVE_OK)
                return error_set(err, -EIO, "initrd: %s", archive_error_string(a));
        return 0;
}

/* A host program at path, with the libraries it loads. */
static int add_program(struct initrd *d, const char *path, const char *host, struct ingot_error *err) {
        int r = add(d, path, S_IFREG | 0755, host, NULL, 0, NULL, 0);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **libs = NULL;
        r = host_libraries(host, host, &libs, err);
        if (r < 0)
                return r;
        for (char **l = libs; l && *l; l++) {
                r = add(d, *l, S_IFREG | 0755, *l, NULL, 0, NULL, 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* An e2fsprogs tool the init runs on var (why says what for), with its libraries. */
static int add_e2fs_program(struct initrd *d, const char *path, const char *host, const char *why,
                            struct ingot_error *err) {
        if (access(host, X_OK) < 0)
                return error_set(err, -errno, "%s (e2fsprogs): %s; %s", host, strerror(errno), why);
        return add_program(d, path, host, err);
}

/* The kernel modules directory: the one given, the one of the kernel version given, or the host's newest. */
static int modules_dir_find(const struct ingot_initrd_options *o, char **ret, struct ingot_error *err) {
        if (o->modules_dir) {
                *ret = strdup(o->modules_dir);
                return *ret ? 0 : -ENOMEM;
        }
        if (o->kernel_version)
                return asprintf(ret, "/lib/modules/%s", o->kernel_version) < 0 ? -ENOMEM : 0;
        return newest_modules_dir(ret, err);
}

/* Everything the initrd holds, in d. */
static int collect(struct initrd *d, const struct ingot_initrd_options *o, const char *modules,
                   struct ingot_error *err) {
        char fp[65];
        int r = cert_file_fingerprint(o->cert_path, fp, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *cert_name = NULL;
        if (asprintf(&cert_name, "etc/ingot/trusted.d/%s.crt", fp) < 0)
                return -ENOMEM;
        r = add_program(d, "init", o->init_path, err);
        if (r < 0)
                return r;
        r = add_e2fs_program(d, "sbin/mke2fs", MKE2FS, "the init formats var with it on first boot", err);
        if (r < 0)
                return r;
        r = add_e2fs_program(d, "sbin/e2fsck", E2FSCK, "the init checks var with it before each mount", err);
        if (r < 0)
                return r;
        r = add(d, cert_name, S_IFREG | 0644, o->cert_path, NULL, 0, NULL, 0);
        if (r < 0)
                return r;
        r = add_modules(d, modules, err);
        if (r < 0)
                return r;
        static const char *const dirs[] = { "proc", "sys", "dev", "run", "sysroot", "tmp" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                r = add(d, dirs[i], S_IFDIR | 0755, NULL, NULL, 0, NULL, 0);
                if (r < 0)
                        return r;
        }
        /* the kernel opens it for init's stdin, stdout and stderr */
        r = add(d, "dev/console", S_IFCHR | 0600, NULL, NULL, 0, NULL, makedev(5, 1));
        if (r < 0)
                return r;
        if (access("/bin/busybox", X_OK) < 0) /* the ingot.debug shell, when the host has one */
                return 0;
        r = add(d, "bin/busybox", S_IFREG | 0755, "/bin/busybox", NULL, 0, NULL, 0);
        if (r < 0)
                return r;
        return add(d, "bin/sh", S_IFLNK | 0777, NULL, NULL, 0, "busybox", 0);
}

int ingot_initrd(const char *out_path, const struct ingot_initrd_options *o, struct ingot_error *err) {
        _cleanup_(initrd_done) struct initrd d = { .err = err };
        _cleanup_free_ char *modules = NULL, *dir = dirname_dup(out_path);
        if (!dir)
                return -ENOMEM;
        int r = modules_dir_find(o, &modules, err);
        if (r < 0)
                return r;
        r = collect(&d, o, modules, err);
        if (r < 0)
                return r;

        /* written under a temporary name, renamed when complete; removed on any failure */
        const char *base = strrchr(out_path, '/') ? strrchr(out_path, '/') + 1 : out_path;
        _cleanup_(artifact_discard) struct artifact art = { .fd = -1 };
        r = artifact_open(&art, dir, base, err);
        if (r < 0)
                return r;
        size_t ol = strlen(out_path);
        bool zstd = ol > 4 && strcmp(out_path + ol - 4, ".zst") == 0;
        r = write_archive(&d, art.fd, zstd, o->mtime, err);
        if (r < 0)
                return r;
        return artifacts_commit(&art, 1, err);
}
