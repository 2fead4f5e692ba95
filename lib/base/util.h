/* util.h: small shared helpers for libingot: cleanup attributes, error reporting,
 * string lists, size and number parsing, and durable file operations. */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include "ingot.h"

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_strv_free_ _cleanup_(strv_freep)
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
/* funcp(&p) for _cleanup_(funcp), as systemd's: func must take NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)      \
        static inline void func##p(type *p) {        \
                func(*p);                             \
        }

static inline void freep(void *p) {
        free(*(void **) p);
}

static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}

/* Closes fd if it is one; -1, for "fd = safe_close(fd)". */
static inline int safe_close(int fd) {
        closep(&fd);
        return -1;
}

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

static inline void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}
#define _cleanup_closedir_ _cleanup_(closedirp)

/* What scandir() returns: n entries (negative: none, scandir failed) and their array, freed together. */
struct dirent_list {
        struct dirent **names;
        int n;
};
static inline void dirent_list_done(struct dirent_list *l) {
        for (int i = 0; i < l->n; i++)
                free(l->names[i]);
        free(l->names);
}

/* Hand a pointer or fd out of a cleanup scope. */
static inline void *steal_ptr(void *pp) {
        void **p = pp, *v = *p;
        *p = NULL;
        return v;
}
#define TAKE_PTR(p) steal_ptr(&(p))
static inline int take_fd(int *fd) {
        int v = *fd;
        *fd = -1;
        return v;
}
#define TAKE_FD(fd) take_fd(&(fd))

/* Record a message in err (may be NULL) and return code as a negative errno. */
int error_set(struct ingot_error *err, int code, const char *fmt, ...) _printf_(3, 4);

/* NULL-terminated string lists. */
void strv_free(char **l);
static inline void strv_freep(char ***l) {
        strv_free(*l);
}
size_t strv_length(char *const *l);
bool strv_contains(char *const *l, const char *s);
int strv_push(char ***l, char *value); /* takes ownership of value */
int strv_extend(char ***l, const char *value);

/* Whether a kernel command line has a word that starts with key (e.g. "ingot.disk="). */
bool cmdline_has_key(const char *cmdline, const char *key);

/* Splits s at any of the characters in sep into a list of its non-empty words (NULL for none). */
int strv_split(const char *s, const char *sep, char ***ret);

/* Reports of independent checks (verify, sysext check): the next check of a list, ok until set. */
struct ingot_check *check_add(struct ingot_check *checks, size_t *n, const char *name);
void check_set(struct ingot_check *c, enum ingot_check_state state, const char *fmt, ...) _printf_(3, 4);

bool streq_ptr(const char *a, const char *b);
char *strstrip(char *s);
unsigned levenshtein(const char *a, const char *b);
/* The name in a table of n entries of the given size (each starting with its const char *name)
 * nearest to name, within max_distance edits; NULL when none is. */
const char *nearest_name(const char *name, const void *table, size_t n, size_t size, unsigned max_distance);

/* "128K", "1M", "4096" -> bytes. */
int parse_size(const char *s, uint64_t *ret);
int parse_uint(const char *s, uint64_t max, uint64_t *ret);
int parse_bool(const char *s, bool *ret);

/* Times as RFC 3339 UTC in the one form ingot writes and reads, "2026-12-10T00:00:00Z": seconds since
 * the epoch from 0 (1970) to UTC_TIME_LAST (the last second of 9999), no fraction, no offset. */
#define UTC_TIME_SIZE sizeof("2026-12-10T00:00:00Z")
#define UTC_TIME_LAST INT64_C(253402300799)
void utc_time_format(int64_t t, char out[UTC_TIME_SIZE]);
/* Exactly that form and a real date and time (no 24:00, no Feb 30, no leap second); -EINVAL otherwise. */
int utc_time_parse(const char *s, int64_t *ret);
/* A duration in seconds: a whole number above 0 and one unit, s, m, h, d or w ("7d", "12h"); -EINVAL,
 * or -ERANGE past UTC_TIME_LAST seconds. */
int parse_duration(const char *s, int64_t *ret);

/* Lowercase hex of size bytes into out (2 * size + 1 bytes); and back, at most max bytes. */
void hex_encode(const uint8_t *data, size_t size, char *out);
int hex_decode(const char *hex, uint8_t *out, size_t max, size_t *ret_size);

/* 16 bytes as a UUID string, in byte order (as systemd compares partition UUIDs with root hashes). */
void uuid_format(const uint8_t bytes[16], char out[37]);

/* Image version order (systemd's): numbers as numbers, '~' before anything; <0, 0, >0. */
int version_compare(const char *a, const char *b);

/* "out/demo_1.0.0.raw" -> "out/demo_1.0.0", the stem its sidecars (.verity, ...) share. */
char *image_sidecar_base(const char *image_path);

/* Path helpers. path_join never returns "//". */
char *path_join(const char *a, const char *b);
/* Turns an image path into canonical form "/a/b" ("/" for the root); refuses ".." and empty
 * names so that no path can leave the image root (-EXDEV), and a name longer than IMAGE_NAME_MAX
 * (-ENAMETOOLONG: squashfs stores at most 256 bytes, Linux reads at most NAME_MAX). Leading "./"
 * and "/" are accepted. */
#define IMAGE_NAME_MAX 255
int image_path_normalize(const char *in, char **ret);
char *dirname_dup(const char *path);

/* A whole small text file, NUL-terminated; -EFBIG when it is longer than max bytes. */
int read_text_file(const char *path, size_t max, char **ret);
/* The same for any bytes (still NUL-terminated, one past ret_size). */
int read_file(const char *path, size_t max, char **ret, size_t *ret_size);
/* value written to an existing file in one write(), as /proc and /sys want it; -EIO for a short one. */
int write_value_file(const char *path, const char *value);

/* mkdir -p: missing parents 0755, the directory itself with mode; an existing one is fine. */
int mkdir_p(const char *path, mode_t mode);
/* The same, and *ret_made is the topmost directory it made (NULL when path existed): for
 * mkdir_p_undo() when the command that wanted it fails. */
int mkdir_p_made(const char *path, mode_t mode, char **ret_made);
/* Removes path and its parents up to made (what mkdir_p_made() made), each only while it is empty:
 * a directory that is not empty stays, and so do its parents. Nothing when made is NULL. */
void mkdir_p_undo(const char *path, const char *made);

/* openat2(dir_fd, path, flags | O_CLOEXEC) resolving with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS (Linux 5.6; glibc has no wrapper): path stays below dir_fd and passes through
 * no symlink, the last name included (unless flags has O_PATH | O_NOFOLLOW). -ELOOP: a symlink;
 * -EXDEV: an absolute path or a ".." above dir_fd. Returns the new fd or a negative errno. */
int openat_beneath(int dir_fd, const char *path, int flags);

/* Made by dir_make_fn: the missing directory name (the last name of prefix, path's first names up to
 * it) on parent_fd with mkdirat(), never by path; 0 or a negative errno (-EEXIST is fine). */
typedef int (*dir_make_fn)(int parent_fd, const char *name, const char *prefix, void *userdata);

/* The directory path below root_fd ("/" or relative: either way below it), opened O_PATH one name at a
 * time with openat_beneath() from its parent's fd: nothing in it may be a symlink or leave root_fd.
 * When make is not NULL, a missing directory is made by make() and then opened the same way. On
 * failure, *ret_failed_len (may be NULL) is the length of path's prefix that ends at the name that
 * failed: -ELOOP for a symlink, -ENOTDIR for something else, -EXDEV for "..", -ENOENT when missing. */
int open_dir_beneath(int root_fd, const char *path, dir_make_fn make, void *userdata, int *ret_fd,
                     size_t *ret_failed_len);

/* The whole range or an error: -EIO for a read past the end, -ENOSPC for a write that made no progress. */
int pread_full(int fd, void *buf, size_t size, uint64_t offset);
int pwrite_full(int fd, const void *buf, size_t size, uint64_t offset);

/* Durable writes. */
int fsync_directory_of(const char *path);
