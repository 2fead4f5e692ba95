/* test-path-set.c: the set of image paths behind the content operations' shadow: sorted children,
 * implicit parents, a directory put again keeping what is below it, a replacement dropping it, and
 * -ENOTDIR beneath what is not a directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "path-set.h"

static struct path_entry *put(struct path_set *s, const char *path, bool directory) {
        struct path_entry *e = NULL;
        return path_set_put(s, path, directory, &e) < 0 ? NULL : e;
}

static void test_sorted_and_implicit(void **state) {
        (void) state;
        _cleanup_(path_set_freep) struct path_set *s = NULL;
        assert_int_equal(path_set_new(&s), 0);
        const char *paths[] = { "/b", "/a/x", "/c", "/B", "/aa" };
        for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                assert_non_null(put(s, paths[i], false));
        const char *want[] = { "B", "a", "aa", "b", "c" }; /* strcmp order */
        assert_int_equal(s->root.n_children, ELEMENTSOF(want));
        for (size_t i = 0; i < ELEMENTSOF(want); i++)
                assert_string_equal(s->root.children[i]->name, want[i]);
        struct path_entry *a = path_set_lookup(s, "/a");
        assert_non_null(a);
        assert_true(a->directory);
        assert_true(a->implicit);
        assert_ptr_equal(path_set_child(a, "xyz", 1), path_set_lookup(s, "//a/x"));
        assert_null(path_set_lookup(s, "/a/y"));
        assert_null(path_set_child(&s->root, "a", 0));
        assert_ptr_equal(path_set_lookup(s, "/"), &s->root);
}

static void test_put_again(void **state) {
        (void) state;
        _cleanup_(path_set_freep) struct path_set *s = NULL;
        assert_int_equal(path_set_new(&s), 0);
        assert_non_null(put(s, "/etc/a/f", false));
        struct path_entry *etc = put(s, "/etc", true); /* made explicit; what is below stays */
        assert_non_null(etc);
        assert_false(etc->implicit);
        etc->whiteout = true;
        assert_ptr_equal(put(s, "/etc", true), etc);
        assert_true(etc->whiteout);
        assert_non_null(path_set_lookup(s, "/etc/a/f"));

        struct path_entry *a = put(s, "/etc/a", false); /* a file over a directory: all below goes */
        assert_non_null(a);
        assert_false(a->directory);
        assert_int_equal(a->n_children, 0);
        assert_null(path_set_lookup(s, "/etc/a/f"));
        assert_ptr_equal(a->parent, etc);

        struct path_entry *e = NULL;
        assert_int_equal(path_set_put(s, "/etc/a/g", false, &e), -ENOTDIR);
        assert_int_equal(path_set_put(s, "/", false, &e), -EISDIR);
        a->whiteout = true;
        a = put(s, "/etc/a", true); /* a directory over a file: new, with no flags */
        assert_non_null(a);
        assert_true(a->directory);
        assert_false(a->whiteout);
        assert_non_null(put(s, "/etc/a/g", false));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sorted_and_implicit),
                cmocka_unit_test(test_put_again),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
