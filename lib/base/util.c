/* util.c: small shared helpers for libingot. */
#include <ctype.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <string.h>
#include <time.h>

#include "util.h"

int error_set(struct ingot_error *err, int code, const char *fmt, ...) {
        if (code > 0)
                code = -code;
        if (code == 0)
                code = -EINVAL;
        if (err && !err->code) { /* keep the first, innermost message */
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(err->message, sizeof(err->message), fmt, ap);
                va_end(ap);
                err->code = code;
        }
        return code;
}

void strv_free(char **l) {
        if (!l)
                return;
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
}

size_t strv_length(char *const *l) {
        size_t n = 0;
        while (l && l[n])
                n++;
        return n;
}

bool cmdline_has_key(const char *cmdline, const char *key) {
        for (const char *p = cmdline; (p = strstr(p, key)); p++)
                if (p == cmdline || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n')
                        return true;
        return false;
}

int strv_split(const char *s, const char *sep, char ***ret) {
        _cleanup_free_ char *copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        _cleanup_strv_free_ char **l = NULL;
        char *save = NULL;
        for (char *w = strtok_r(copy, sep, &save); w; w = strtok_r(NULL, sep, &save)) {
                int r = strv_extend(&l, w);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

struct ingot_check *check_add(struct ingot_check *checks, size_t *n, const char *name) {
        struct ingot_check *c = &checks[(*n)++];
        *c = (struct ingot_check) { .name = name, .state = INGOT_CHECK_OK };
        return c;
}

void check_set(struct ingot_check *c, enum ingot_check_state state, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->message, sizeof(c->message), fmt, ap);
        va_end(ap);
        c->state = state;
}

bool strv_contains(char *const *l, const char *s) {
        for (; l && *l; l++)
                if (strcmp(*l, s) == 0)
                        return true;
        return false;
}

int strv_push(char ***l, char *value) {
        size_t n = strv_length(*l);
        char **m = realloc(*l, (n + 2) * sizeof(char *));
        if (!m) {
                free(value);
                return -ENOMEM;
        }
        m[n] = value;
        m[n + 1] = NULL;
        *l = m;
        return 0;
}

int strv_extend(char ***l, const char *value) {
        char *v = strdup(value);
        if (!v)
                return -ENOMEM;
        return strv_push(l, v);
}

bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

char *strstrip(char *s) {
        while (isspace((unsigned char) *s))
                s++;
        size_t n = strlen(s);
        while (n > 0 && isspace((unsigned char) s[n - 1]))
                s[--n] = 0;
        return s;
}

unsigned levenshtein(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        if (la > 64 || lb > 64)
                return UINT32_MAX;
        unsigned row[65];
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                unsigned diag = row[0];
                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        unsigned up = row[j];
                        unsigned cost = tolower((unsigned char) a[i - 1]) != tolower((unsigned char) b[j - 1]);
                        unsigned best = diag + cost;
                        if (row[j] + 1 < best)
                                best = row[j] + 1;
                        if (row[j - 1] + 1 < best)
                                best = row[j - 1] + 1;
                        row[j] = best;
                        diag = up;
                }
        }
        return row[lb];
}

int parse_uint(const char *s, uint64_t max, uint64_t *ret) {
        if (!s || !isdigit((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || *end)
                return -EINVAL;
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int parse_size(const char *s, uint64_t *ret) {
        if (!s || !isdigit((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno)
                return -EINVAL;
        unsigned shift = 0;
        if (*end) {
                const char *suffix = "KMGT";
                const char *p = strchr(suffix, toupper((unsigned char) *end));
                if (!p || !*p)
                        return -EINVAL;
                shift = 10 * (unsigned) (p - suffix + 1);
                end++;
                if (*end == 'i' || *end == 'I')
                        end++;
                if (*end == 'B' || *end == 'b')
                        end++;
                if (*end)
                        return -EINVAL;
        }
        if (shift && v > (UINT64_MAX >> shift))
                return -ERANGE;
        *ret = (uint64_t) v << shift;
        return 0;
}

void utc_time_format(int64_t t, char out[UTC_TIME_SIZE]) {
        time_t tt = (time_t) (t < 0 ? 0 : t > UTC_TIME_LAST ? UTC_TIME_LAST : t);
        struct tm tm;
        if (!gmtime_r(&tt, &tm) || strftime(out, UTC_TIME_SIZE, "%Y-%m-%dT%H:%M:%SZ", &tm) != UTC_TIME_SIZE - 1)
                snprintf(out, UTC_TIME_SIZE, "?");
}

int utc_time_parse(const char *s, int64_t *ret) {
        static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
        if (strlen(s) != sizeof(shape) - 1)
                return -EINVAL;
        for (size_t i = 0; shape[i]; i++)
                if (shape[i] == 'd' ? !isdigit((unsigned char) s[i]) : s[i] != shape[i])
                        return -EINVAL;
        struct tm tm = { .tm_year = atoi(s) - 1900, .tm_mon = atoi(s + 5) - 1, .tm_mday = atoi(s + 8),
                         .tm_hour = atoi(s + 11), .tm_min = atoi(s + 14), .tm_sec = atoi(s + 17) };
        time_t t = timegm(&tm); /* normalizes Feb 30 into March: the round trip below refuses it */
        char back[UTC_TIME_SIZE];
        if (t < 0 || (int64_t) t > UTC_TIME_LAST)
                return -EINVAL;
        utc_time_format(t, back);
        if (strcmp(back, s) != 0)
                return -EINVAL;
        *ret = t;
        return 0;
}

int parse_duration(const char *s, int64_t *ret) {
        static const struct { char unit; int64_t seconds; } units[] = {
                { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 7 * 86400 },
        };
        size_t digits = strspn(s, "0123456789");
        if (digits == 0 || digits > 12 || strlen(s) != digits + 1)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (s[digits] == units[i].unit) {
                        int64_t n = strtoll(s, NULL, 10);
                        if (n == 0)
                                return -EINVAL;
                        if (n > UTC_TIME_LAST / units[i].seconds)
                                return -ERANGE;
                        *ret = n * units[i].seconds;
                        return 0;
                }
        return -EINVAL;
}

int parse_bool(const char *s, bool *ret) {
        static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "f", "off" };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        return -EINVAL;
}

void hex_encode(const uint8_t *data, size_t size, char *out) {
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < size; i++) {
                out[2 * i] = digits[data[i] >> 4];
                out[2 * i + 1] = digits[data[i] & 15];
        }
        out[2 * size] = 0;
}

int hex_decode(const char *hex, uint8_t *out, size_t max, size_t *ret_size) {
        size_t n = strlen(hex);
        if (n % 2 || n / 2 > max)
                return -EINVAL;
        for (size_t i = 0; i < n / 2; i++) {
                unsigned b;
                if (!isxdigit((unsigned char) hex[2 * i]) || !isxdigit((unsigned char) hex[2 * i + 1]) ||
                    sscanf(hex + 2 * i, "%2x", &b) != 1)
                        return -EINVAL;
                out[i] = (uint8_t) b;
        }
        *ret_size = n / 2;
        return 0;
}

char *image_sidecar_base(const char *image_path) {
        size_t len = strlen(image_path);
        return len > 4 && strcmp(image_path + len - 4, ".raw") == 0 ? strndup(image_path, len - 4)
                                                                    : strdup(image_path);
}

char *path_join(const char *a, const char *b) {
        size_t la = strlen(a);
        while (la > 1 && a[la - 1] == '/')
                la--;
        while (*b == '/')
                b++;
        char *r;
        if (asprintf(&r, "%.*s%s%s", (int) la, a, (la == 1 && a[0] == '/') || !*b ? "" : "/", b) < 0)
                return NULL;
        return r;
}

int image_path_normalize(const char *in, char **ret) {
        size_t n = strlen(in);
        char *out = malloc(n + 2);
        if (!out)
                return -ENOMEM;
        size_t o = 0;
        const char *p = in;
        while (*p) {
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                const char *e = strchrnul(p, '/');
                size_t len = (size_t) (e - p);
                if (len == 1 && p[0] == '.') {
                        p = e;
                        continue;
                }
                if (len == 2 && p[0] == '.' && p[1] == '.') {
                        free(out);
                        return -EXDEV;
                }
                if (len > IMAGE_NAME_MAX) {
                        free(out);
                        return -ENAMETOOLONG;
                }
                out[o++] = '/';
                memcpy(out + o, p, len);
                o += len;
                p = e;
        }
        if (o == 0)
                out[o++] = '/';
        out[o] = 0;
        *ret = out;
        return 0;
}

char *dirname_dup(const char *path) {
        const char *slash = strrchr(path, '/');
        if (!slash)
                return strdup(".");
        if (slash == path)
                return strdup("/");
        return strndup(path, (size_t) (slash - path));
}

int mkdir_p(const char *path, mode_t mode) {
        return mkdir_p_made(path, mode, NULL);
}

int mkdir_p_made(const char *path, mode_t mode, char **ret_made) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        if (ret_made)
                *ret_made = NULL;
        for (char *s = p + 1;; s++) {
                if (*s != '/' && *s)
                        continue;
                char c = *s;
                *s = 0;
                if (mkdir(p, c ? 0755 : mode) < 0) {
                        if (errno != EEXIST)
                                return -errno;
                } else if (ret_made && !*ret_made && !(*ret_made = strdup(p)))
                        return -ENOMEM;
                if (!c)
                        return 0;
                *s = c;
        }
}

int openat_beneath(int dir_fd, const char *path, int flags) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC),
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        long fd = syscall(SYS_openat2, dir_fd, path, &how, sizeof(how));
        return fd < 0 ? -errno : (int) fd;
}

int open_dir_beneath(int root_fd, const char *path, dir_make_fn make, void *userdata, int *ret_fd,
                     size_t *ret_failed_len) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        _cleanup_close_ int fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        for (size_t i = 0, end; p[i]; i = end) {
                if (p[i] == '/') {
                        end = i + 1;
                        continue;
                }
                end = i + strcspn(p + i, "/");
                char saved = p[end];
                p[end] = 0; /* p is now the prefix up to this name, p + i the name */
                int child = openat_beneath(fd, p + i, O_PATH | O_DIRECTORY);
                if (child == -ENOENT && make) {
                        int r = make(fd, p + i, p, userdata);
                        child = r < 0 && r != -EEXIST ? r : openat_beneath(fd, p + i, O_PATH | O_DIRECTORY);
                }
                if (child < 0) {
                        if (ret_failed_len)
                                *ret_failed_len = end;
                        return child;
                }
                close(fd);
                fd = child;
                p[end] = saved;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* The length of path without trailing slashes (but "/" stays). */
static size_t trimmed_length(const char *path) {
        size_t n = strlen(path);
        while (n > 1 && path[n - 1] == '/')
                n--;
        return n;
}

void mkdir_p_undo(const char *path, const char *made) {
        if (!made)
                return;
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return;
        size_t stop = trimmed_length(made); /* made is a prefix of path */
        for (size_t n = trimmed_length(p); n >= stop && n > 0;) {
                p[n] = 0;
                if (rmdir(p) < 0) /* not empty (or gone): it stays, and so do its parents */
                        return;
                while (n > 0 && p[n - 1] != '/') /* up to the parent */
                        n--;
                while (n > 1 && p[n - 1] == '/')
                        n--;
        }
}

int fsync_directory_of(const char *path) {
        _cleanup_free_ char *dir = dirname_dup(path);
        if (!dir)
                return -ENOMEM;
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0)
                return -errno;
        return 0;
}

/* Version order as systemd's strverscmp_improved() sorts it, for what image versions use: runs of
 * digits compare as numbers, '~' sorts before anything (1.0~rc1 < 1.0), other characters by value. */
int version_compare(const char *a, const char *b) {
        while (*a || *b) {
                if (*a == '~' || *b == '~') {
                        if (*a != '~')
                                return 1;
                        if (*b != '~')
                                return -1;
                        a++, b++;
                        continue;
                }
                if (!*a || !*b)
                        return *a ? 1 : -1;
                if (isdigit((unsigned char) *a) && isdigit((unsigned char) *b)) {
                        while (*a == '0')
                                a++;
                        while (*b == '0')
                                b++;
                        size_t la = strspn(a, "0123456789"), lb = strspn(b, "0123456789");
                        if (la != lb)
                                return la < lb ? -1 : 1;
                        int c = strncmp(a, b, la);
                        if (c != 0)
                                return c < 0 ? -1 : 1;
                        a += la, b += lb;
                        continue;
                }
                if (isdigit((unsigned char) *a) != isdigit((unsigned char) *b)) /* 1.0.1 > 1.0a */
                        return isdigit((unsigned char) *a) ? 1 : -1;
                if (*a != *b)
                        return (unsigned char) *a < (unsigned char) *b ? -1 : 1;
                a++, b++;
        }
        return 0;
}

void uuid_format(const uint8_t bytes[16], char out[37]) {
        size_t o = 0;
        for (size_t i = 0; i < 16; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        out[o++] = '-';
                hex_encode(bytes + i, 1, out + o);
                o += 2;
        }
        out[o] = 0;
}

int pread_full(int fd, void *buf, size_t size, uint64_t offset) {
        size_t got = 0;
        while (got < size) {
                ssize_t n = pread(fd, (uint8_t *) buf + got, size - got, (off_t) (offset + got));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                got += (size_t) n;
        }
        return 0;
}

int pwrite_full(int fd, const void *buf, size_t size, uint64_t offset) {
        size_t done = 0;
        while (done < size) {
                ssize_t n = pwrite(fd, (const uint8_t *) buf + done, size - done, (off_t) (offset + done));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -ENOSPC;
                done += (size_t) n;
        }
        return 0;
}

int read_file(const char *path, size_t max, char **ret, size_t *ret_size) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        _cleanup_free_ char *buf = malloc(max + 2);
        if (!buf)
                return -ENOMEM;
        size_t n = fread(buf, 1, max + 1, f);
        if (ferror(f))
                return -EIO;
        if (n > max)
                return -EFBIG;
        buf[n] = 0;
        *ret = steal_ptr(&buf);
        if (ret_size)
                *ret_size = n;
        return 0;
}

int read_text_file(const char *path, size_t max, char **ret) {
        return read_file(path, max, ret, NULL);
}

int write_value_file(const char *path, const char *value) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t n = strlen(value);
        ssize_t w = write(fd, value, n);
        return w < 0 ? -errno : (size_t) w != n ? -EIO : 0;
}

const char *nearest_name(const char *name, const void *table, size_t n, size_t size, unsigned max_distance) {
        const char *best = NULL;
        unsigned best_d = max_distance + 1;
        for (size_t i = 0; i < n; i++) {
                const char *candidate = *(const char *const *) ((const char *) table + i * size);
                unsigned d = levenshtein(name, candidate);
                if (d < best_d) {
                        best_d = d;
                        best = candidate;
                }
        }
        return best;
}
