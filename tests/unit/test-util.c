/* test-util.c: sizes, numbers, image path normalization, path joining, the edit distance, UTC times and
 * durations, and directories opened below a root without following a symlink (as the initrd reaches its
 * mount points). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

static void test_parse_size(void **state) {
        (void) state;
        uint64_t v;
        assert_int_equal(parse_size("4096", &v), 0);
        assert_int_equal(v, 4096);
        assert_int_equal(parse_size("128K", &v), 0);
        assert_int_equal(v, 131072);
        assert_int_equal(parse_size("1M", &v), 0);
        assert_int_equal(v, 1048576);
        assert_int_equal(parse_size("2GiB", &v), 0);
        assert_int_equal(v, 2ULL << 30);
        assert_int_equal(parse_size("12Q", &v), -EINVAL);
        assert_int_equal(parse_size("-1", &v), -EINVAL);
        assert_int_equal(parse_size("", &v), -EINVAL);
        assert_int_equal(parse_size("99999999999999T", &v), -ERANGE);
}

static void test_image_path(void **state) {
        (void) state;
        char *p;
        assert_int_equal(image_path_normalize("./etc//passwd", &p), 0);
        assert_string_equal(p, "/etc/passwd");
        free(p);
        assert_int_equal(image_path_normalize("/", &p), 0);
        assert_string_equal(p, "/");
        free(p);
        assert_int_equal(image_path_normalize("./", &p), 0);
        assert_string_equal(p, "/");
        free(p);
        assert_int_equal(image_path_normalize("a/./b/", &p), 0);
        assert_string_equal(p, "/a/b");
        free(p);
        assert_int_equal(image_path_normalize("../etc/passwd", &p), -EXDEV);
        assert_int_equal(image_path_normalize("a/../../x", &p), -EXDEV);
        assert_int_equal(image_path_normalize("a/..", &p), -EXDEV);
}

static void test_path_join(void **state) {
        (void) state;
        char *p = path_join("/", "etc");
        assert_string_equal(p, "/etc");
        free(p);
        p = path_join("/usr/", "/lib");
        assert_string_equal(p, "/usr/lib");
        free(p);
        p = path_join("a", "");
        assert_string_equal(p, "a");
        free(p);
}

static void test_levenshtein(void **state) {
        (void) state;
        assert_int_equal(levenshtein("Compresion", "Compression"), 1);
        assert_int_equal(levenshtein("level", "Level"), 0);
        assert_int_equal(levenshtein("", "abc"), 3);
}

static void test_strv(void **state) {
        (void) state;
        char **l = NULL;
        assert_int_equal(strv_extend(&l, "a"), 0);
        assert_int_equal(strv_extend(&l, "b"), 0);
        assert_int_equal(strv_length(l), 2);
        assert_string_equal(l[1], "b");
        assert_null(l[2]);
        assert_true(strv_contains(l, "a"));
        assert_false(strv_contains(l, "c"));
        strv_free(l);
        assert_int_equal(strv_split("  one\ttwo  three ", " \t", &l), 0);
        assert_int_equal(strv_length(l), 3);
        assert_string_equal(l[2], "three");
        strv_free(l);
        assert_int_equal(strv_split(" \t ", " \t", &l), 0);
        assert_null(l);
}

static void test_error_keeps_first(void **state) {
        (void) state;
        struct ingot_error e = { 0 };
        assert_int_equal(error_set(&e, ENOENT, "first %d", 1), -ENOENT);
        assert_int_equal(error_set(&e, -EIO, "second"), -EIO);
        assert_string_equal(e.message, "first 1");
        assert_int_equal(e.code, -ENOENT);
}

static void test_hex_and_sidecars(void **state) {
        (void) state;
        const uint8_t data[] = { 0x00, 0x7f, 0xab, 0xff };
        char hex[9];
        hex_encode(data, sizeof(data), hex);
        assert_string_equal(hex, "007fabff");
        uint8_t back[4];
        size_t n;
        assert_int_equal(hex_decode(hex, back, sizeof(back), &n), 0);
        assert_int_equal(n, 4);
        assert_memory_equal(back, data, 4);
        assert_int_equal(hex_decode("abc", back, sizeof(back), &n), -EINVAL);
        assert_int_equal(hex_decode("zz", back, sizeof(back), &n), -EINVAL);
        assert_int_equal(hex_decode("0011223344", back, sizeof(back), &n), -EINVAL);
        char *b = image_sidecar_base("out/demo_1.0.0.raw");
        assert_string_equal(b, "out/demo_1.0.0");
        free(b);
        b = image_sidecar_base("disk.img");
        assert_string_equal(b, "disk.img");
        free(b);
}

static void test_version_compare(void **state) {
        (void) state;
        assert_true(version_compare("1.0.0", "1.0.0") == 0);
        assert_true(version_compare("1.0.10", "1.0.9") > 0);
        assert_true(version_compare("2", "10") < 0);
        assert_true(version_compare("1.0~rc1", "1.0") < 0);
        assert_true(version_compare("1.0", "1.0.1") < 0);
        assert_true(version_compare("1.01", "1.1") == 0);
        assert_true(version_compare("", "1") < 0);
}

struct made {
        char prefixes[512];
        int fail; /* returned instead of making anything, when not 0 */
};

static int make_dir(int parent_fd, const char *name, const char *prefix, void *userdata) {
        struct made *m = userdata;
        if (m->fail)
                return m->fail;
        size_t len = strlen(m->prefixes);
        snprintf(m->prefixes + len, sizeof(m->prefixes) - len, "%s;", prefix);
        return mkdirat(parent_fd, name, 0750) < 0 ? -errno : 0;
}

/* root/var as var holds it for an attacker: lib -> .. (relative), abs -> /etc, a file, and ok/link -> dir */
static void test_open_dir_beneath(void **state) {
        (void) state;
        char root[] = "/tmp/ingot-unit.XXXXXX", p[256], cmd[300];
        assert_non_null(mkdtemp(root));
        static const char *dirs[] = { "etc", "var", "var/ok", "var/ok/dir" };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                snprintf(p, sizeof(p), "%s/%s", root, dirs[i]);
                assert_int_equal(mkdir(p, 0755), 0);
        }
        snprintf(p, sizeof(p), "%s/var/lib", root);
        assert_int_equal(symlink("..", p), 0);
        snprintf(p, sizeof(p), "%s/var/abs", root);
        assert_int_equal(symlink("/etc", p), 0);
        snprintf(p, sizeof(p), "%s/var/ok/link", root);
        assert_int_equal(symlink("dir", p), 0);
        snprintf(p, sizeof(p), "%s/var/file", root);
        int f = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(f >= 0);
        close(f);
        int root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(root_fd >= 0);

        /* a real directory, by an absolute or a relative path; "/" is the root itself */
        struct stat want, got;
        snprintf(p, sizeof(p), "%s/var/ok/dir", root);
        assert_int_equal(stat(p, &want), 0);
        int fd = -1;
        size_t len = 0;
        assert_int_equal(open_dir_beneath(root_fd, "/var/ok/dir", NULL, NULL, &fd, &len), 0);
        assert_int_equal(fstat(fd, &got), 0);
        assert_int_equal(got.st_ino, want.st_ino);
        close(fd);
        assert_int_equal(open_dir_beneath(root_fd, "var//ok/./dir/", NULL, NULL, &fd, &len), 0);
        assert_int_equal(fstat(fd, &got), 0);
        assert_int_equal(got.st_ino, want.st_ino);
        close(fd);
        assert_int_equal(stat(root, &want), 0);
        assert_int_equal(open_dir_beneath(root_fd, "/", NULL, NULL, &fd, &len), 0);
        assert_int_equal(fstat(fd, &got), 0);
        assert_int_equal(got.st_ino, want.st_ino);
        close(fd);

        /* each refusal names the prefix that ends at the name that failed */
        static const struct {
                const char *path;
                int code;
                const char *failed;
        } rows[] = {
                { "/var/lib/etc", -ELOOP, "/var/lib" },   /* a relative symlink to the image's root */
                { "/var/abs/x", -ELOOP, "/var/abs" },     /* an absolute one */
                { "/var/ok/link", -ELOOP, "/var/ok/link" }, /* the last name, even to a directory below */
                { "/var/file/x", -ENOTDIR, "/var/file" },
                { "/var/../..", -EXDEV, "/var/.." },
                { "/var/missing/x", -ENOENT, "/var/missing" },
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                fd = -1;
                len = 0;
                assert_int_equal(open_dir_beneath(root_fd, rows[i].path, NULL, NULL, &fd, &len), rows[i].code);
                assert_int_equal(fd, -1);
                assert_int_equal(len, strlen(rows[i].failed));
                assert_memory_equal(rows[i].path, rows[i].failed, len);
        }

        /* missing directories are made on their parent's fd, each once, in order */
        struct made m = { .prefixes = "" };
        assert_int_equal(open_dir_beneath(root_fd, "/var/new/deeper", make_dir, &m, &fd, &len), 0);
        assert_string_equal(m.prefixes, "/var/new;/var/new/deeper;");
        snprintf(p, sizeof(p), "%s/var/new/deeper", root);
        assert_int_equal(lstat(p, &want), 0);
        assert_true(S_ISDIR(want.st_mode));
        assert_int_equal(fstat(fd, &got), 0);
        assert_int_equal(got.st_ino, want.st_ino);
        close(fd);
        /* nothing is made through a symlink: mkdir -p of root/var/lib/etc/new would make root/etc/new */
        m.prefixes[0] = 0;
        assert_int_equal(open_dir_beneath(root_fd, "/var/lib/etc/new", make_dir, &m, &fd, &len), -ELOOP);
        assert_int_equal(len, strlen("/var/lib"));
        assert_string_equal(m.prefixes, "");
        snprintf(p, sizeof(p), "%s/etc/new", root);
        assert_int_equal(lstat(p, &want), -1);
        assert_int_equal(errno, ENOENT);
        /* and what make() fails with is the answer, at that name */
        m.fail = -EROFS;
        assert_int_equal(open_dir_beneath(root_fd, "/var/ok/x/y", make_dir, &m, &fd, &len), -EROFS);
        assert_int_equal(len, strlen("/var/ok/x"));

        close(root_fd);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        assert_int_equal(system(cmd), 0);
}

static void test_utc_time(void **state) {
        (void) state;
        char out[UTC_TIME_SIZE];
        int64_t t;
        utc_time_format(0, out);
        assert_string_equal(out, "1970-01-01T00:00:00Z");
        utc_time_format(1800000000, out);
        assert_string_equal(out, "2027-01-15T08:00:00Z");
        utc_time_format(UTC_TIME_LAST, out);
        assert_string_equal(out, "9999-12-31T23:59:59Z");
        assert_int_equal(utc_time_parse("2027-01-15T08:00:00Z", &t), 0);
        assert_int_equal(t, 1800000000);
        assert_int_equal(utc_time_parse("2028-02-29T00:00:00Z", &t), 0); /* a leap year */
        assert_int_equal(utc_time_parse("9999-12-31T23:59:59Z", &t), 0);
        assert_int_equal(t, UTC_TIME_LAST);
        const char *bad[] = { "", "2027-02-29T00:00:00Z", "2027-01-15T24:00:00Z", "2027-01-15T08:00:60Z",
                              "2027-13-01T00:00:00Z", "2027-00-01T00:00:00Z", "1969-12-31T23:59:59Z",
                              "2027-01-15T08:00:00", "2027-01-15t08:00:00z", "2027-01-15T08:00:00+00:00",
                              "2027-01-15T08:00:00.5Z", "2027-1-15T08:00:00Z", "+027-01-15T08:00:00Z",
                              "2027-01-15 08:00:00Z" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(utc_time_parse(bad[i], &t), -EINVAL);
}

static void test_parse_duration(void **state) {
        (void) state;
        int64_t d;
        static const struct { const char *text; int64_t seconds; } good[] = {
                { "7d", 604800 }, { "12h", 43200 }, { "90m", 5400 }, { "1s", 1 }, { "2w", 1209600 },
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                assert_int_equal(parse_duration(good[i].text, &d), 0);
                assert_int_equal(d, good[i].seconds);
        }
        const char *bad[] = { "", "7", "d", "0d", "-1d", "+1d", "1.5d", "7y", "7dd", " 7d", "7 d", "7D" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(parse_duration(bad[i], &d), -EINVAL);
        assert_int_equal(parse_duration("999999999999w", &d), -ERANGE);
        assert_int_equal(parse_duration("9999999999999s", &d), -EINVAL); /* over 12 digits */
}

/* mkdir_p_made() names the topmost directory it made; mkdir_p_undo() takes back only those, and only
 * while empty. */
static void test_mkdir_p_undo(void **state) {
        (void) state;
        char base[] = "/tmp/ingot-unit.XXXXXX", path[128], there[128];
        assert_non_null(mkdtemp(base));
        snprintf(there, sizeof(there), "%s/there", base);
        assert_int_equal(mkdir(there, 0755), 0);

        char *made = NULL;
        snprintf(path, sizeof(path), "%s/there/a//b/c/", base);
        assert_int_equal(mkdir_p_made(path, 0755, &made), 0);
        char expect[128];
        snprintf(expect, sizeof(expect), "%s/there/a", base);
        assert_string_equal(made, expect);
        mkdir_p_undo(path, made);
        assert_int_equal(access(expect, F_OK), -1); /* a, b and c are gone */
        assert_int_equal(access(there, F_OK), 0);   /* what was there stays */
        free(made);

        /* nothing made: nothing to undo */
        assert_int_equal(mkdir_p_made(there, 0755, &made), 0);
        assert_null(made);
        mkdir_p_undo(there, made);
        assert_int_equal(access(there, F_OK), 0);

        /* a directory that is not empty stays, and so do its parents */
        snprintf(path, sizeof(path), "%s/there/x/y", base);
        assert_int_equal(mkdir_p_made(path, 0755, &made), 0);
        char file[160];
        snprintf(file, sizeof(file), "%s/there/x/keep", base);
        FILE *f = fopen(file, "we");
        assert_non_null(f);
        fclose(f);
        mkdir_p_undo(path, made);
        snprintf(expect, sizeof(expect), "%s/there/x/y", base);
        assert_int_equal(access(expect, F_OK), -1);
        assert_int_equal(access(file, F_OK), 0);
        free(made);

        assert_int_equal(unlink(file), 0);
        snprintf(expect, sizeof(expect), "%s/there/x", base);
        assert_int_equal(rmdir(expect), 0);
        assert_int_equal(rmdir(there), 0);
        assert_int_equal(rmdir(base), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_size), cmocka_unit_test(test_image_path),
                cmocka_unit_test(test_path_join),  cmocka_unit_test(test_levenshtein),
                cmocka_unit_test(test_strv),       cmocka_unit_test(test_error_keeps_first),
                cmocka_unit_test(test_hex_and_sidecars), cmocka_unit_test(test_version_compare),
                cmocka_unit_test(test_open_dir_beneath),
                cmocka_unit_test(test_utc_time),   cmocka_unit_test(test_parse_duration),
                cmocka_unit_test(test_mkdir_p_undo),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
