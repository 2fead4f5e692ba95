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

static int add_modules(struct initrd *d, const char *dir, struct ingot_error *err) {
        struct moddep m = { 0 };
        _cleanup_strv_free_ char **order = NULL;
        bool *seen = NULL;
        int r = moddep_load(dir, &m, err);
        if (r >= 0 && !(seen = calloc(m.n + 1, 1)))
                r = -ENOMEM;
        for (size_t k = 0; r >= 0 && k < ELEMENTSOF(wanted_modules) + ELEMENTSOF(optional_modules); k++) {
                bool optional = k >= ELEMENTSOF(wanted_modules);
                const char *name = optional ? optional_modules[k - ELEMENTSOF(wanted_modules)] : wanted_modules[k];
                ssize_t i = moddep_find_name(&m, name);
                if (i < 0) {
                        if (!optional && !builtin(dir, name))
                                r = error_set(err, -ENOENT, "%s: no module %s in modules.dep, nor built in", dir, name);
                        continue;
                }
                r = order_module(&m, (size_t) i, seen, &order);
        }
        char *list = NULL;
        size_t list_size = 0;
        FILE *lf = r >= 0 ? open_memstream(&list, &list_size) : NULL;
        if (r >= 0 && !lf)
                r = -ENOMEM;
        for (char **o = order; r >= 0 && o && *o; o++) {
                _cleanup_free_ char *host = path_join(dir, *o);
                if (!host) {
                        r = -ENOMEM;
                        break;
                }
                r = add(d, host, S_IFREG | 0644, host, NULL, 0, NULL, 0);
                fprintf(lf, "%s\n", host);
        }
        if (lf && fclose(lf) == 0 && r >= 0)
                r = add(d, "etc/ingot/modules", S_IFREG | 0644, NULL, list, list_size, NULL, 0);
        else {
                free(list);
                if (r >= 0) /* the list could not be finished: an initrd without it would load no module */
                        r = -ENOMEM;
        }
        free(seen);
        moddep_free(&m);
        return r;
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

static int write_archive(struct initrd *d, int fd, bool zstd, int64_t mtime, struct ingot_error *err) {
        qsort(d->e, d->n, sizeof(*d->e), by_path);
        struct archive *a = archive_write_new();
        if (!a)
                return -ENOMEM;
        int r = 0;
        if (archive_write_set_format_cpio_newc(a) != ARCHIVE_OK ||
            (zstd && archive_write_add_filter_zstd(a) != ARCHIVE_OK) ||
            archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK || archive_write_open_fd(a, fd) != ARCHIVE_OK) {
                r = error_set(err, -EIO, "initrd: %s", archive_error_string(a));
                goto out;
        }
        uint8_t *buf = malloc(1 << 20);
        if (!buf) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < d->n && r >= 0; i++) {
                struct entry *e = &d->e[i];
                struct archive_entry *ae = archive_entry_new();
                if (!ae) {
                        r = -ENOMEM;
                        break;
                }
                _cleanup_close_ int hfd = -1;
                uint64_t size = e->size;
                if (e->host) {
                        struct stat st;
                        hfd = open(e->host, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                        if (hfd < 0 || fstat(hfd, &st) < 0) {
                                r = error_set(err, -errno, "%s: %s", e->host, strerror(errno));
                                archive_entry_free(ae);
                                break;
                        }
                        size = (uint64_t) st.st_size;
                        e->mode = S_IFREG | (st.st_mode & 0755);
                }
                archive_entry_set_pathname(ae, e->path);
                archive_entry_set_mode(ae, e->mode);
                archive_entry_set_uid(ae, 0);
                archive_entry_set_gid(ae, 0);
                archive_entry_set_mtime(ae, mtime, 0);
                archive_entry_set_ino64(ae, (int64_t) i + 1);
                archive_entry_set_nlink(ae, S_ISDIR(e->mode) ? 2 : 1);
                archive_entry_set_size(ae, S_ISREG(e->mode) ? (int64_t) size : 0);
                if (e->target)
                        archive_entry_set_symlink(ae, e->target);
                if (S_ISCHR(e->mode) || S_ISBLK(e->mode))
                        archive_entry_set_rdev(ae, e->rdev);
                if (archive_write_header(a, ae) != ARCHIVE_OK)
                        r = error_set(err, -EIO, "initrd: %s: %s", e->path, archive_error_string(a));
                archive_entry_free(ae);
                if (r < 0 || !S_ISREG(e->mode))
                        continue;
                if (e->data) {
                        if (archive_write_data(a, e->data, e->size) != (la_ssize_t) e->size)
                                r = error_set(err, -EIO, "initrd: %s: %s", e->path, archive_error_string(a));
                        continue;
                }
                for (;;) {
                        ssize_t n = read(hfd, buf, 1 << 20);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0)
                                r = error_set(err, -errno, "%s: %s", e->host, strerror(errno));
                        if (n <= 0)
                                break;
                        if (archive_write_data(a, buf, (size_t) n) != n) {
                                r = error_set(err, -EIO, "initrd: %s: %s", e->path, archive_error_string(a));
                                break;
                        }
                }
        }
        free(buf);
        if (r >= 0 && archive_write_close(a) != ARCHIVE_OK)
                r = error_set(err, -EIO, "initrd: %s", archive_error_string(a));
out:
        archive_write_free(a);
        return r;
}

/* A host program at path, with the libraries it loads. */
static int add_program(struct initrd *d, const char *path, const char *host, struct ingot_error *err) {
        _cleanup_strv_free_ char **libs = NULL;
        int r = add(d, path, S_IFREG | 0755, host, NULL, 0, NULL, 0);
        if (r >= 0)
                r = host_libraries(host, host, &libs, err);
        for (char **l = libs; r >= 0 && l && *l; l++)
                r = add(d, *l, S_IFREG | 0755, *l, NULL, 0, NULL, 0);
        return r;
}

int ingot_initrd(const char *out_path, const struct ingot_initrd_options *o, struct ingot_error *err) {
        struct initrd d = { .err = err };
        _cleanup_free_ char *modules = NULL, *dir = dirname_dup(out_path), *cert_name = NULL;
        struct artifact art = { .fd = -1 };
        int r = 0;
        char fp[65];
        if (!dir)
                return -ENOMEM;
        if (o->modules_dir)
                modules = strdup(o->modules_dir);
        else if (o->kernel_version)
                r = asprintf(&modules, "/lib/modules/%s", o->kernel_version) < 0 ? -ENOMEM : 0;
        else
                r = newest_modules_dir(&modules, err);
        if (r >= 0 && !modules)
                r = -ENOMEM;
        if (r >= 0)
                r = cert_file_fingerprint(o->cert_path, fp, err);
        if (r >= 0 && asprintf(&cert_name, "etc/ingot/trusted.d/%s.crt", fp) < 0)
                r = -ENOMEM;
        if (r >= 0)
                r = add_program(&d, "init", o->init_path, err);
        if (r >= 0 && access(MKE2FS, X_OK) < 0)
                r = error_set(err, -errno, "%s (e2fsprogs): %s; the init formats var with it on first boot", MKE2FS,
                              strerror(errno));
        if (r >= 0)
                r = add_program(&d, "sbin/mke2fs", MKE2FS, err);
        if (r >= 0 && access(E2FSCK, X_OK) < 0)
                r = error_set(err, -errno, "%s (e2fsprogs): %s; the init checks var with it before each mount", E2FSCK,
                              strerror(errno));
        if (r >= 0)
                r = add_program(&d, "sbin/e2fsck", E2FSCK, err);
        if (r >= 0)
                r = add(&d, cert_name, S_IFREG | 0644, o->cert_path, NULL, 0, NULL, 0);
        if (r >= 0)
                r = add_modules(&d, modules, err);
        static const char *const dirs[] = { "proc", "sys", "dev", "run", "sysroot", "tmp" };
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(dirs); i++)
                r = add(&d, dirs[i], S_IFDIR | 0755, NULL, NULL, 0, NULL, 0);
        if (r >= 0) /* the kernel opens it for init's stdin, stdout and stderr */
                r = add(&d, "dev/console", S_IFCHR | 0600, NULL, NULL, 0, NULL, makedev(5, 1));
        if (r >= 0 && access("/bin/busybox", X_OK) == 0) { /* the ingot.debug shell, when the host has one */
                r = add(&d, "bin/busybox", S_IFREG | 0755, "/bin/busybox", NULL, 0, NULL, 0);
                if (r >= 0)
                        r = add(&d, "bin/sh", S_IFLNK | 0777, NULL, NULL, 0, "busybox", 0);
        }
        if (r < 0)
                goto out;

        const char *base = strrchr(out_path, '/') ? strrchr(out_path, '/') + 1 : out_path;
        r = artifact_open(&art, dir, base, err);
        size_t ol = strlen(out_path);
        bool zstd = ol > 4 && strcmp(out_path + ol - 4, ".zst") == 0;
        if (r >= 0)
                r = write_archive(&d, art.fd, zstd, o->mtime, err);
        if (r >= 0)
                r = artifacts_commit(&art, 1, err);
out:
        artifact_discard(&art);
        for (size_t i = 0; i < d.n; i++) {
                free(d.e[i].path);
                free(d.e[i].host);
                free(d.e[i].data);
                free(d.e[i].target);
        }
        free(d.e);
        return r;
}
