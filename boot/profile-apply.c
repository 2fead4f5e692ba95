/* profile-apply.c: a booted slot's host profile (see profile-apply.h). */
#include <fcntl.h>
#include <glob.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <stdarg.h>
#include <stdlib.h>
#include <json-c/json.h>
#include <string.h>
#include <unistd.h>

#include "json-util.h"
#include "profile-apply.h"
#include "profile.h"

static void say(void (*report)(const char *), const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(void (*report)(const char *), const char *fmt, ...) {
        char line[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        if (report)
                report(line);
}

static long read_number(const char *path) {
        _cleanup_free_ char *text = NULL;
        return read_text_file(path, 64, &text) < 0 ? -1 : strtol(text, NULL, 10);
}

static int apply_sysctls(json_object *list, const char *name, void (*report)(const char *)) {
        int first = 0;
        for (size_t i = 0; json_object_is_type(list, json_type_array) && i < json_object_array_length(list); i++) {
                json_object *pair = json_object_array_get_idx(list, i);
                if (!json_object_is_type(pair, json_type_array))
                        continue; /* profile_compiled_parse refuses it; json-c would abort PID 1 */
                const char *key = json_object_get_string(json_object_array_get_idx(pair, 0));
                const char *value = json_object_get_string(json_object_array_get_idx(pair, 1));
                if (!key || !value || strstr(key, ".."))
                        continue;
                char path[512];
                int n = snprintf(path, sizeof(path), "/proc/sys/%s", key);
                for (char *c = path + 10; n > 0 && *c; c++)
                        if (*c == '.')
                                *c = '/';
                int r = write_value_file(path, value);
                if (r < 0) {
                        say(report, "profile %s: sysctl %s=%s: %s", name, key, value, strerror(-r));
                        first = first ?: r;
                }
        }
        return first;
}

static int apply_pages(json_object *list, const char *name, void (*report)(const char *)) {
        int first = 0;
        for (size_t i = 0; json_object_is_type(list, json_type_array) && i < json_object_array_length(list); i++) {
                json_object *o = json_object_array_get_idx(list, i), *v;
                int64_t size = json_object_object_get_ex(o, "size", &v) ? json_object_get_int64(v) : 0;
                int64_t count = json_object_object_get_ex(o, "count", &v) ? json_object_get_int64(v) : -1;
                int node = json_object_object_get_ex(o, "node", &v) && v ? json_object_get_int(v) : -1;
                if (size <= 0 || count < 0)
                        continue;
                char path[256], count_s[32], size_s[32];
                page_size_format((uint64_t) size, size_s);
                if (node >= 0)
                        snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/hugepages/hugepages-%lldkB/nr_hugepages",
                                 node, (long long) (size / 1024));
                else
                        snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%lldkB/nr_hugepages",
                                 (long long) (size / 1024));
                snprintf(count_s, sizeof(count_s), "%lld", (long long) count);
                long before = read_number(path);
                int r = write_value_file(path, count_s);
                long got = read_number(path);
                if (r >= 0 && got != count)
                        r = -ENOMEM;
                if (r < 0) {
                        say(report, "profile %s: %lld %s huge pages%s: %s (the kernel has %ld)", name, (long long) count,
                            size_s, node >= 0 ? " on that node" : "", strerror(-r), got);
                        first = first ?: r;
                        /* The pages the kernel did find are memory the rest of the boot needs to reach its health
                         * check (which fails on this and falls back): give them back. */
                        if (before >= 0 && got > before) {
                                snprintf(count_s, sizeof(count_s), "%ld", before);
                                if (write_value_file(path, count_s) >= 0)
                                        say(report, "profile %s: gave the %ld %s huge pages back", name, got - before,
                                            size_s);
                        }
                } else
                        say(report, "profile %s: %lld %s huge pages", name, (long long) count, size_s);
        }
        return first;
}

/* Whether every word of want is a word of the running kernel's command line. */
static bool cmdline_has(const char *want) {
        _cleanup_free_ char *have = NULL, *copy = strdup(want);
        if (!copy || read_text_file("/proc/cmdline", 8192, &have) < 0)
                return false;
        char *save = NULL;
        for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
                bool found = false;
                size_t n = strlen(w);
                for (const char *p = have; !found && (p = strstr(p, w)); p += n)
                        found = (p == have || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || !p[n]);
                if (!found)
                        return false;
        }
        return true;
}

/* The slot's own profile (slot_profile, its signature checked by the caller), else root's compiled one, with
 * its name and command line; *ret NULL when there is neither. */
static int load_compiled(const char *root, const char *slot_profile, json_object **ret, const char **ret_name,
                         const char **ret_cmdline, struct ingot_error *err) {
        _cleanup_free_ char *file = NULL, *text = NULL;
        *ret = NULL;
        if (slot_profile)
                return profile_compiled_parse(slot_profile, "the slot's profile", ret, ret_name, ret_cmdline, err);
        if (asprintf(&file, "%s%s", root, PROFILE_IN_IMAGE) < 0)
                return -ENOMEM;
        int r = read_text_file(file, 1 << 20, &text);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return error_set(err, r, "%s: %s", PROFILE_IN_IMAGE, strerror(-r));
        return profile_compiled_parse(text, PROFILE_IN_IMAGE, ret, ret_name, ret_cmdline, err);
}

/* RUN_DIR/profile: what was applied, for the image's health check (docs/profiles.md). */
static void write_record(const char *run_dir, const char *name, bool from_slot, const char *cmdline, bool in_effect,
                         bool complete) {
        _cleanup_free_ char *record = NULL;
        if (asprintf(&record, "%s/profile", run_dir) < 0)
                return;
        _cleanup_fclose_ FILE *f = fopen(record, "we");
        if (!f)
                return;
        fprintf(f, "NAME=%s\nSOURCE=%s\nCMDLINE=%s\nCMDLINE_IN_EFFECT=%s\nCOMPLETE=%s\n", name,
                from_slot ? "slot" : "image", cmdline, in_effect ? "yes" : "no", complete ? "yes" : "no");
}

int profile_apply(const char *root, const char *slot_profile, const char *run_dir, void (*report)(const char *line),
                  struct ingot_error *err) {
        _cleanup_json_ json_object *j = NULL;
        json_object *v;
        const char *name, *cmdline;
        int r = load_compiled(root, slot_profile, &j, &name, &cmdline, err);
        if (r < 0 || !j)
                return r;
        int first = apply_sysctls(json_object_object_get_ex(j, "sysctl", &v) ? v : NULL, name, report);
        r = apply_pages(json_object_object_get_ex(j, "runtime_hugepages", &v) ? v : NULL, name, report);
        first = first ?: r;
        bool in_effect = cmdline_has(cmdline);
        if (!in_effect) {
                say(report, "profile %s: its kernel parameters are not on this kernel's command line: %s", name, cmdline);
                first = first ?: -ENOEXEC;
        }
        write_record(run_dir, name, slot_profile, cmdline, in_effect, in_effect && first >= 0);
        if (first < 0)
                return error_set(err, first, "profile %s: not all of it applied%s", name,
                                 in_effect ? "" : " (its kernel parameters are not in effect)");
        say(report, "profile %s applied", name);
        return 0;
}

/* The running command line without the words whose keys the profile sets, then the profile's, and panic=10
 * when neither sets panic=: a kernel that panics under this command line must restart (its try was counted
 * before the restart into it, so the slot falls back), not hang the host. Then ingot.kexec=SLOT and
 * ingot.disk=DISK_UUID, in place of any the running command line has: the second stage boots this disk. */
static char *merged_cmdline(const char *profile, char slot, const char *disk_uuid) {
        _cleanup_free_ char *have = NULL;
        if (read_text_file("/proc/cmdline", 8192, &have) < 0)
                return NULL;
        _cleanup_free_ char *out = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&out, &size);
        if (!f)
                return NULL;
        char *save = NULL;
        bool panic = strncmp(profile, "panic=", 6) == 0 || strstr(profile, " panic=");
        for (char *w = strtok_r(have, " \n", &save); w; w = strtok_r(NULL, " \n", &save)) {
                size_t k = strcspn(w, "=");
                /* initrd= is systemd-boot's word for the EFI stub: the kexec loads the slot's initrd itself */
                bool replaced = strncmp(w, "ingot.kexec=", 12) == 0 || strncmp(w, "ingot.disk=", 11) == 0 ||
                                strncmp(w, "initrd=", 7) == 0;
                for (const char *p = profile; !replaced && *p;) {
                        size_t n = strcspn(p, " ");
                        replaced = strcspn(p, "= ") == k && strncmp(p, w, k) == 0;
                        p += n + (p[n] == ' ');
                }
                if (!replaced)
                        fprintf(f, "%s ", w);
                panic = panic || strncmp(w, "panic=", 6) == 0;
        }
        fprintf(f, "%s%s%singot.kexec=%c ingot.disk=%s", profile, *profile ? " " : "", panic ? "" : "panic=10 ", slot,
                disk_uuid);
        if (fclose(f) != 0) /* what completes out: f is closed here, not by a cleanup */
                return NULL;
        return TAKE_PTR(out);
}

/* The slot's kernel, for the newest V in root/usr/lib/modules: root/usr/lib/modules/V/vmlinuz, or where
 * Debian's packages put it, root/boot/vmlinuz-V. Returns -ENOENT when the image carries none. */
static int slot_kernel(const char *root, char **ret_version, char **ret_path) {
        _cleanup_free_ char *pattern = NULL;
        if (asprintf(&pattern, "%s/usr/lib/modules/*/", root) < 0)
                return -ENOMEM;
        _cleanup_(globfree) glob_t g = { 0 };
        if (glob(pattern, GLOB_ONLYDIR, NULL, &g) != 0)
                return -ENOENT;
        for (size_t i = g.gl_pathc; i-- > 0;) {
                char *v = g.gl_pathv[i] + strlen(pattern) - 2;
                v[strcspn(v, "/")] = 0;
                for (int place = 0; place < 2; place++) {
                        _cleanup_free_ char *path = NULL;
                        if ((place == 0 ? asprintf(&path, "%s/usr/lib/modules/%s/vmlinuz", root, v)
                                        : asprintf(&path, "%s/boot/vmlinuz-%s", root, v)) < 0) {
                                path = NULL; /* asprintf leaves it undefined */
                                return -ENOMEM;
                        }
                        if (access(path, R_OK) < 0)
                                continue;
                        char *version = strdup(v);
                        if (!version)
                                return -ENOMEM;
                        *ret_version = version;
                        *ret_path = TAKE_PTR(path);
                        return 0;
                }
        }
        return -ENOENT;
}

/* what: "profile NAME" or "slot kernel V", for the messages. */
static int kexec_into(const char *root, char slot, const char *disk_uuid, const char *what, const char *kernel,
                      const char *cmdline, void (*report)(const char *line), struct ingot_error *err) {
        _cleanup_free_ char *initrd = NULL, *merged = NULL;
        if (asprintf(&initrd, "%s/usr/lib/ingot/initrd", root) < 0)
                return -ENOMEM;
        if (!kernel || access(initrd, R_OK) < 0) {
                say(report, "%s: the image carries no kernel and initrd to restart into", what);
                return 0;
        }
        _cleanup_close_ int kfd = open(kernel, O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int ifd = open(initrd, O_RDONLY | O_CLOEXEC);
        merged = merged_cmdline(cmdline, slot, disk_uuid);
        if (kfd < 0 || ifd < 0 || !merged)
                return error_set(err, -errno ?: -ENOMEM, "%s: opening the image's kernel and initrd: %s", what,
                                 strerror(errno ?: ENOMEM));
        if (syscall(SYS_kexec_file_load, kfd, ifd, strlen(merged) + 1, merged, 0UL) < 0)
                return error_set(err, -errno, "%s: kexec_file_load: %s", what, strerror(errno));
        say(report, "%s: restarting into the slot's kernel with: %s", what, merged);
        sync();
        reboot(RB_KEXEC);
        return error_set(err, -errno, "%s: kexec: %s", what, strerror(errno));
}

int profile_kexec(const char *root, const char *slot_profile, char slot, const char *disk_uuid,
                  void (*report)(const char *line), struct ingot_error *err) {
        _cleanup_free_ char *version = NULL, *kernel = NULL, *what = NULL;
        _cleanup_json_ json_object *j = NULL;
        const char *name = NULL, *cmdline = "";
        int r = load_compiled(root, slot_profile, &j, &name, &cmdline, err);
        if (r < 0)
                return r;
        /* the slot's own kernel, when it carries another than the one running */
        struct utsname u;
        bool other_kernel = slot_kernel(root, &version, &kernel) == 0 && uname(&u) == 0 && strcmp(u.release, version) != 0;
        if (!other_kernel && (!j || cmdline_has(cmdline)))
                return 0;
        if (j ? asprintf(&what, "profile %s", name) < 0 : asprintf(&what, "slot kernel %s", version) < 0)
                return -ENOMEM;
        return kexec_into(root, slot, disk_uuid, what, kernel, cmdline, report, err);
}
