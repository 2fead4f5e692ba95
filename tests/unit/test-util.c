/* test-util.c: sizes, numbers, image path normalization, path joining, the edit distance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
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
                cmocka_unit_test(test_mkdir_p_undo),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
