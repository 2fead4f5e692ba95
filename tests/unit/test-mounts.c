/* test-mounts.c: the image's mount request file as the initrd parses it: kinds, order, blank lines,
 * and the line named for what it refuses (unknown kinds, relative paths, "..", missing paths). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "mounts.h"

static void test_parse(void **state) {
        (void) state;
        struct mount_request *m;
        size_t n;
        struct ingot_error e = { 0 };
        assert_int_equal(mounts_parse("overlay /etc\n\ntmpfs /tmp\ntmpfs /srv/data", "F", &m, &n, &e), 0);
        assert_int_equal(n, 3);
        assert_int_equal(m[0].kind, MOUNT_OVERLAY);
        assert_string_equal(m[0].path, "/etc");
        assert_string_equal(m[0].where, "F:1");
        assert_int_equal(m[1].kind, MOUNT_TMPFS);
        assert_string_equal(m[1].where, "F:3");
        assert_string_equal(m[2].path, "/srv/data");
        mounts_free(m, n);
        assert_int_equal(mounts_parse("", "F", &m, &n, &e), 0);
        assert_int_equal(n, 0);
        mounts_free(m, n);
}

static void test_refused(void **state) {
        (void) state;
        static const struct {
                const char *text, *message;
        } rows[] = {
                { "bind /etc\n", "F:1: not 'tmpfs PATH' or 'overlay PATH'" },
                { "tmpfs /tmp\ntmpfs tmp\n", "F:2: not 'tmpfs PATH' or 'overlay PATH'" },
                { "tmpfs /tmp\n\noverlay /etc/../usr\n", "F:3: not 'tmpfs PATH' or 'overlay PATH'" },
                { "overlay\n", "F:1: not 'tmpfs PATH' or 'overlay PATH'" },
                { "tmpfs /a b\n", "F:1: not 'tmpfs PATH' or 'overlay PATH'" },
        };
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                struct mount_request *m = NULL;
                size_t n = 0;
                struct ingot_error e = { 0 };
                assert_int_equal(mounts_parse(rows[i].text, "F", &m, &n, &e), -EBADMSG);
                assert_string_equal(e.message, rows[i].message);
                assert_null(m);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
