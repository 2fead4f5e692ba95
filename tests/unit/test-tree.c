/* test-tree.c: the image tree: sorted children, implicit parents, replacement, symlinked parents,
 * removal, and the hand-over of a removed file's inode to its surviving hard link. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>
#include <sys/stat.h>

#include "tree.h"

static struct node *put(struct tree *t, const char *path, mode_t mode, unsigned flags) {
        struct node *n = NULL;
        char *conflict = NULL;
        int r = tree_put(t, path, mode, flags, &n, &conflict);
        free(conflict);
        return r < 0 ? NULL : n;
}

static void test_sorted_children(void **state) {
        (void) state;
        struct tree *t;
        assert_int_equal(tree_new(0, &t), 0);
        const char *names[] = { "/b", "/a", "/c", "/B", "/aa" };
        for (size_t i = 0; i < 5; i++)
                assert_non_null(put(t, names[i], S_IFREG | 0644, 0));
        const char *want[] = { "B", "a", "aa", "b", "c" }; /* strcmp order, as squashfs needs */
        assert_int_equal(t->root->n_children, 5);
        for (size_t i = 0; i < 5; i++)
                assert_string_equal(t->root->children[i]->name, want[i]);
        tree_free(t);
}

static void test_implicit_and_duplicates(void **state) {
        (void) state;
        struct tree *t;
        assert_int_equal(tree_new(7, &t), 0);
        struct node *f = put(t, "/usr/bin/x", S_IFREG | 0755, 0);
        assert_non_null(f);
        struct node *usr = tree_lookup(t, "/usr");
        assert_true(usr->implicit);
        assert_int_equal(usr->mtime, 7);
        /* an implicit directory may be described later; a real duplicate may not */
        assert_non_null(put(t, "/usr", S_IFDIR | 0700, 0));
        assert_false(usr->implicit);
        struct node *n;
        char *conflict = NULL;
        assert_int_equal(tree_put(t, "/usr/bin/x", S_IFREG | 0644, 0, &n, &conflict), -EEXIST);
        assert_string_equal(conflict, "/usr/bin/x");
        free(conflict);
        conflict = NULL;
        assert_int_equal(tree_put(t, "/usr/bin/x/y", S_IFREG | 0644, 0, &n, &conflict), -ENOTDIR);
        free(conflict);
        tree_free(t);
}

static void test_symlinked_parent(void **state) {
        (void) state;
        struct tree *t;
        assert_int_equal(tree_new(0, &t), 0);
        assert_non_null(put(t, "/usr/lib", S_IFDIR | 0755, 0));
        struct node *l = put(t, "/lib", S_IFLNK | 0777, 0);
        l->symlink_target = strdup("usr/lib");
        struct node *n;
        char *conflict = NULL;
        /* without following, a symlinked parent is refused (archives may not smuggle paths) */
        assert_int_equal(tree_put(t, "/lib/libc.so", S_IFREG | 0644, 0, &n, &conflict), -ENOTDIR);
        free(conflict);
        assert_non_null(put(t, "/lib/libc.so", S_IFREG | 0644, TREE_FOLLOW_SYMLINKS));
        assert_non_null(tree_lookup(t, "/usr/lib/libc.so"));
        assert_ptr_equal(tree_resolve(t, "/lib/libc.so"), tree_lookup(t, "/usr/lib/libc.so"));
        /* ".." and absolute targets stay inside the image */
        struct node *esc = put(t, "/esc", S_IFLNK | 0777, 0);
        esc->symlink_target = strdup("../../../usr");
        assert_ptr_equal(tree_resolve(t, "/esc/lib"), tree_lookup(t, "/usr/lib"));
        struct node *loop = put(t, "/loop", S_IFLNK | 0777, 0);
        loop->symlink_target = strdup("/loop");
        assert_null(tree_resolve(t, "/loop/x"));
        tree_free(t);
}

static void test_replace_merges_directories(void **state) {
        (void) state;
        struct tree *t;
        assert_int_equal(tree_new(0, &t), 0);
        assert_non_null(put(t, "/etc/a", S_IFREG | 0644, 0));
        assert_non_null(put(t, "/etc", S_IFDIR | 0700, TREE_REPLACE));
        assert_non_null(tree_lookup(t, "/etc/a"));
        assert_non_null(put(t, "/etc", S_IFREG | 0644, TREE_REPLACE));
        assert_null(tree_lookup(t, "/etc/a"));
        assert_true(S_ISREG(tree_lookup(t, "/etc")->mode));
        tree_free(t);
}

static void test_hardlink_heir(void **state) {
        (void) state;
        struct tree *t;
        assert_int_equal(tree_new(0, &t), 0);
        struct node *a = put(t, "/a", S_IFREG | 0644, 0);
        a->size = 5;
        a->uid = 42;
        struct node *b = put(t, "/x/b", S_IFREG | 0644, 0);
        b->link = a;
        struct node *c = put(t, "/y/c", S_IFREG | 0644, 0);
        c->link = a;
        assert_int_equal(tree_finalize(t), 0);
        assert_int_equal(a->nlink, 3);
        tree_remove(a);
        assert_int_equal(tree_finalize(t), 0);
        assert_null(b->link); /* the first surviving name in walk order takes the inode */
        assert_int_equal(b->uid, 42);
        assert_int_equal(b->size, 5);
        assert_ptr_equal(c->link, b);
        assert_int_equal(b->nlink, 2);
        tree_free(t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sorted_children),          cmocka_unit_test(test_implicit_and_duplicates),
                cmocka_unit_test(test_symlinked_parent),         cmocka_unit_test(test_replace_merges_directories),
                cmocka_unit_test(test_hardlink_heir),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
