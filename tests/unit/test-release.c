/* test-release.c: the release index: entries sorted newest first in systemd's version order, a round
 * trip through JSON, and refusals of file names outside the release, bad hex and a missing format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "release.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static struct release_entry entry(const char *version, const char *image) {
        struct release_entry e = { .size = 4096, .verity_size = 8192 };
        snprintf(e.name, sizeof(e.name), "demo");
        snprintf(e.version, sizeof(e.version), "%s", version);
        snprintf(e.image, sizeof(e.image), "%s", image);
        snprintf(e.verity, sizeof(e.verity), "demo_%s.verity", version);
        snprintf(e.roothash, sizeof(e.roothash), "demo_%s.roothash", version);
        snprintf(e.signature, sizeof(e.signature), "demo_%s.roothash.p7s", version);
        snprintf(e.root_hash, sizeof(e.root_hash), HEX64);
        snprintf(e.signer, sizeof(e.signer), HEX64);
        snprintf(e.sha256, sizeof(e.sha256), HEX64);
        return e;
}

static void test_order_and_round_trip(void **state) {
        (void) state;
        struct release_index idx = { 0 }, back;
        const char *versions[] = { "1.9.0", "1.10.0", "1.10.0~rc1", "2" };
        for (size_t i = 0; i < 4; i++) {
                struct release_entry e = entry(versions[i], "x.raw");
                assert_int_equal(release_index_put(&idx, &e), 0);
        }
        struct release_entry again = entry("1.9.0", "replaced.raw");
        assert_int_equal(release_index_put(&idx, &again), 0);
        assert_int_equal(idx.n, 4);
        assert_string_equal(idx.entries[0].version, "2");
        assert_string_equal(idx.entries[1].version, "1.10.0");
        assert_string_equal(idx.entries[2].version, "1.10.0~rc1");
        assert_string_equal(idx.entries[3].version, "1.9.0");
        assert_string_equal(idx.entries[3].image, "replaced.raw");
        snprintf(idx.min_version, sizeof(idx.min_version), "1.9.0");
        char *text = NULL;
        assert_int_equal(release_index_format(&idx, &text), 0);
        struct ingot_error err = { 0 };
        assert_int_equal(release_index_parse(text, "index.json", &back, &err), 0);
        assert_int_equal(back.n, 4);
        assert_string_equal(back.min_version, "1.9.0");
        assert_memory_equal(back.entries, idx.entries, 4 * sizeof(*idx.entries));
        assert_non_null(release_index_find(&back, "1.10.0~rc1"));
        assert_null(release_index_find(&back, "3"));
        free(text);
        release_index_clear(&back);
        release_index_clear(&idx);
}

static void refused(const char *image, const char *root_hash, const char *want) {
        struct release_index idx = { 0 }, back;
        struct release_entry e = entry("1.0.0", image);
        snprintf(e.root_hash, sizeof(e.root_hash), "%s", root_hash);
        assert_int_equal(release_index_put(&idx, &e), 0);
        char *text = NULL;
        assert_int_equal(release_index_format(&idx, &text), 0);
        struct ingot_error err = { 0 };
        assert_int_equal(release_index_parse(text, "index.json", &back, &err), -EBADMSG);
        print_message("%s\n", err.message);
        assert_non_null(strstr(err.message, want));
        assert_int_equal(back.n, 0);
        free(text);
        release_index_clear(&idx);
}

static void test_refusals(void **state) {
        (void) state;
        refused("../etc/shadow", HEX64, "is not a file name beside the index");
        refused("sub/x.raw", HEX64, "is not a file name beside the index");
        refused(".hidden.raw", HEX64, "is not a file name beside the index");
        refused("x.raw", "0123XYZ", "must be lowercase hex");
        struct release_index back;
        struct ingot_error err = { 0 };
        assert_int_equal(release_index_parse("{\"versions\": []}", "i", &back, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "format 1"));
        err = (struct ingot_error) { 0 };
        assert_int_equal(release_index_parse("[1]", "i", &back, &err), -EBADMSG);
        err = (struct ingot_error) { 0 };
        assert_int_equal(release_index_parse("{\"format\": 1, \"versions\": [{\"name\": \"x\"}]}", "i", &back, &err),
                         -EBADMSG);
        assert_non_null(strstr(err.message, "no \"version\""));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_order_and_round_trip),
                cmocka_unit_test(test_refusals),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
