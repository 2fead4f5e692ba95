/* test-release.c: the release index: entries sorted newest first in systemd's version order, a round
 * trip through JSON, refusals of file names outside the release, bad hex, other kinds and formats, and
 * the expiry. */
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
        idx.expires = 1800000000;
        char *text = NULL;
        assert_int_equal(release_index_format(&idx, &text), 0);
        assert_non_null(strstr(text, "\"kind\": \"ingot-release-index\""));
        assert_non_null(strstr(text, "\"format\": 2"));
        assert_non_null(strstr(text, "\"expires\": \"2027-01-15T08:00:00Z\""));
        struct ingot_error err = { 0 };
        assert_int_equal(release_index_parse(text, "index.json", RELEASE_INSTALLER, &back, &err), 0);
        assert_int_equal(back.n, 4);
        assert_int_equal(back.expires, 1800000000);
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
        assert_int_equal(release_index_parse(text, "index.json", RELEASE_INSTALLER, &back, &err), -EBADMSG);
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
        assert_int_equal(release_index_parse("[1]", "i", RELEASE_INSTALLER, &back, &err), -EBADMSG);
        assert_string_equal(err.message, "i: not a JSON object");
        err = (struct ingot_error) { 0 };
        assert_int_equal(release_index_parse("{\"kind\": \"ingot-release-index\", \"format\": 2, \"expires\": "
                                             "\"2027-01-15T08:00:00Z\", \"versions\": [{\"name\": \"x\"}]}",
                                             "i", RELEASE_INSTALLER, &back, &err),
                         -EBADMSG);
        assert_non_null(strstr(err.message, "no \"version\""));
}

/* parsed: what each reader makes of text: 0, or the error whose message is want. */
static void parsed(const char *text, enum release_reader reader, int code, const char *want) {
        struct release_index back;
        struct ingot_error err = { 0 };
        assert_int_equal(release_index_parse(text, "i", reader, &back, &err), code);
        if (want)
                assert_string_equal(err.message, want);
        release_index_clear(&back);
}

#define HEAD "\"kind\": \"ingot-release-index\", \"format\": 2, "
#define EXPIRES "\"expires\": \"2027-01-15T08:00:00Z\", "

/* Only a release index of format 2 passes, whatever else the same key signed; publish also reads format
 * 1 (expires 0) to write it again. */
static void test_kinds_and_formats(void **state) {
        (void) state;
        const char *profile = "{\"kind\": \"ingot-profile\", \"format\": 1, \"name\": \"db\", \"cmdline\": \"\"}";
        parsed(profile, RELEASE_INSTALLER, -EBADMSG, "i: a signed ingot-profile, not a release index");
        parsed(profile, RELEASE_PUBLISHER, -EBADMSG, "i: of kind 'ingot-profile', not a release index");
        parsed("{\"kind\": \"ingot-profile\", " EXPIRES "\"format\": 2, \"versions\": []}", RELEASE_INSTALLER,
               -EBADMSG, "i: a signed ingot-profile, not a release index");
        parsed("{\"format\": 1, \"name\": \"db\"}", RELEASE_INSTALLER, -EBADMSG,
               "i: a signed JSON with no \"kind\", not a release index");
        parsed("{\"format\": 1, \"name\": \"db\"}", RELEASE_PUBLISHER, -EBADMSG, "i: no \"kind\": not a release index");
        parsed("{\"kind\": null, \"versions\": []}", RELEASE_INSTALLER, -EBADMSG,
               "i: \"kind\" is not a string: not a release index");
        const char *format1 = "{\"format\": 1, \"min_version\": \"1\", \"versions\": []}";
        parsed(format1, RELEASE_INSTALLER, -EBADMSG,
               "i: a release index of format 1, which has no expiry; this ingot reads format 2: the publisher must "
               "publish again");
        parsed(format1, RELEASE_PUBLISHER, 0, NULL);
        parsed("{\"kind\": \"ingot-release-index\", \"format\": 3, " EXPIRES "\"versions\": []}", RELEASE_INSTALLER,
               -EBADMSG, "i: a release index of format 3; this ingot reads format 2: update it");
        parsed("{\"kind\": \"ingot-release-index\", \"format\": 1, " EXPIRES "\"versions\": []}", RELEASE_PUBLISHER,
               -EBADMSG, "i: not a release index of format 2");
        parsed("{" HEAD "\"versions\": []}", RELEASE_PUBLISHER, -EBADMSG,
               "i: \"expires\" is not a UTC time such as 2026-12-10T00:00:00Z");
        parsed("{" HEAD "\"expires\": \"2027-02-29T00:00:00Z\", \"versions\": []}", RELEASE_INSTALLER, -EBADMSG,
               "i: \"expires\" is not a UTC time such as 2026-12-10T00:00:00Z");
        parsed("{" HEAD "\"expires\": 1800000000, \"versions\": []}", RELEASE_INSTALLER, -EBADMSG,
               "i: \"expires\" is not a UTC time such as 2026-12-10T00:00:00Z");
        parsed("{" HEAD EXPIRES "\"versions\": []}", RELEASE_INSTALLER, 0, NULL);
}

static void test_expiry(void **state) {
        (void) state;
        struct release_index idx = { .expires = 1800000000 };
        struct ingot_error err = { 0 };
        assert_int_equal(release_index_check_expiry(&idx, "u/index.json", 1800000000 - 1, &err), 0);
        assert_int_equal(release_index_check_expiry(&idx, "u/index.json", 1800000000, &err), -ESTALE);
        assert_string_equal(err.message, "u/index.json: expired at 2027-01-15T08:00:00Z (now 2027-01-15T08:00:00Z): a "
                                         "stale or replayed index; the publisher must publish again");
        err = (struct ingot_error) { 0 };
        idx.expires = 0; /* format 1, as publish reads it */
        assert_int_equal(release_index_check_expiry(&idx, "u/index.json", 1800000000, &err), -ESTALE);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_order_and_round_trip),
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_kinds_and_formats),
                cmocka_unit_test(test_expiry),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
