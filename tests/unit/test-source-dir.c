/* test-source-dir.c: the directory source on its own, without a build: a small host tree yields its
 * entries in name order (each directory before what it holds) as image paths with their metadata, a hard
 * link by its first name, a sparse file's data as extents; a directory's entries can be passed over, and
 * a file that changed after it was scanned is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source-read.h"
#include "tmpdir.h"

static struct source *open_dir(const char *name, const char *image_root) {
        char path[128];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        struct source *s = NULL;
        assert_int_equal(source_dir_open(path, image_root, NULL, 0, &s), 0);
        return s;
}

static void test_entries(void **state) {
        (void) state;
        sh("mkdir -p t/etc t/usr/bin && printf 'ID=x\\n' >t/etc/os-release && "
           "printf '#!/bin/sh\\n' >t/usr/bin/a && ln t/usr/bin/a t/usr/bin/b && "
           "ln -s a t/usr/bin/c && truncate -s 1M t/sparse && printf END >>t/sparse && mkfifo t/fifo && "
           "chown -R 7:8 t && chmod 4755 t/usr/bin/a && touch -h -d @1000 t t/* t/*/* t/usr/bin/*");
        struct source *s = open_dir("t", "/srv");
        struct ingot_error err = { 0 };
        const struct source_entry *e;
        const char *want[] = { "/srv", "/srv/etc", "/srv/etc/os-release", "/srv/fifo", "/srv/sparse", "/srv/usr",
                               "/srv/usr/bin", "/srv/usr/bin/a", "/srv/usr/bin/b", "/srv/usr/bin/c" };
        for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
                assert_int_equal(s->next(s, &e, &err), 1);
                assert_string_equal(e->path, want[i]);
                assert_string_equal(e->name, i == 0 ? "." : want[i] + strlen("/srv/"));
                assert_int_equal(e->uid, 7);
                assert_int_equal(e->gid, 8);
                assert_int_equal(e->mtime, 1000);
                size_t extents;
                if (strcmp(e->path, "/srv/etc/os-release") == 0) {
                        assert_int_equal(e->mode & S_IFMT, S_IFREG);
                        assert_int_equal(e->nlink, 1);
                        _cleanup_free_ char *text = read_all(s, e, &extents);
                        assert_string_equal(text, "ID=x\n");
                } else if (strcmp(e->path, "/srv/fifo") == 0) {
                        assert_int_equal(e->mode & S_IFMT, S_IFIFO);
                } else if (strcmp(e->path, "/srv/sparse") == 0) {
                        assert_int_equal(e->size, (1 << 20) + 3);
                        _cleanup_free_ char *data = read_all(s, e, &extents);
                        assert_memory_equal(data + (1 << 20), "END", 3);
                        assert_int_equal(extents, 1); /* the megabyte of zeros is a hole */
                } else if (strcmp(e->path, "/srv/usr/bin/a") == 0) {
                        assert_int_equal(e->mode, S_IFREG | 04755);
                        assert_int_equal(e->nlink, 2);
                        assert_null(e->hardlink);
                        assert_int_equal(e->size, 10);
                } else if (strcmp(e->path, "/srv/usr/bin/b") == 0) {
                        assert_string_equal(e->hardlink, "/srv/usr/bin/a");
                        assert_int_equal(e->size, 0); /* the data came with the first name */
                } else if (strcmp(e->path, "/srv/usr/bin/c") == 0) {
                        assert_int_equal(e->mode & S_IFMT, S_IFLNK);
                        assert_string_equal(e->symlink, "a");
                } else
                        assert_int_equal(e->mode & S_IFMT, S_IFDIR);
        }
        assert_int_equal(s->next(s, &e, &err), 0);
        assert_int_equal(s->close(s, 0, &err, &err), 0);
}

/* SOURCE_DIR_SHAPE, for a Copy='s shadow: the same entries, without symlink targets or data. */
static void test_shape(void **state) {
        (void) state;
        sh("mkdir -p s && ln -s target s/link && printf data >s/file");
        char path[128];
        snprintf(path, sizeof(path), "%s/s", dir);
        struct source *s;
        assert_int_equal(source_dir_open(path, "/", NULL, SOURCE_DIR_SHAPE, &s), 0);
        struct ingot_error err = { 0 };
        const struct source_entry *e;
        const void *data;
        size_t size;
        uint64_t offset;
        assert_int_equal(s->next(s, &e, &err), 1);
        assert_int_equal(s->next(s, &e, &err), 1);
        assert_string_equal(e->path, "/file");
        assert_int_equal(s->read(s, &data, &size, &offset, &err), 0);
        assert_int_equal(s->next(s, &e, &err), 1);
        assert_string_equal(e->path, "/link");
        assert_int_equal(e->mode & S_IFMT, S_IFLNK);
        assert_null(e->symlink);
        assert_int_equal(s->next(s, &e, &err), 0);
        assert_int_equal(s->close(s, 0, &err, &err), 0);
}

static void test_ignore_subdir(void **state) {
        (void) state;
        sh("mkdir -p i/a/deep i/b && : >i/a/deep/f && : >i/a/g && : >i/b/h");
        struct source *s = open_dir("i", "/");
        struct ingot_error err = { 0 };
        const struct source_entry *e;
        assert_int_equal(s->next(s, &e, &err), 1);
        assert_string_equal(e->path, "/");
        assert_int_equal(s->next(s, &e, &err), 1);
        assert_string_equal(e->path, "/a");
        s->ignore_subdir(s);
        assert_int_equal(s->next(s, &e, &err), 1);
        assert_string_equal(e->path, "/b");
        assert_int_equal(s->next(s, &e, &err), 1);
        assert_string_equal(e->path, "/b/h");
        assert_int_equal(s->next(s, &e, &err), 0);
        assert_int_equal(s->close(s, 0, &err, &err), 0);
}

static void test_changed(void **state) {
        (void) state;
        sh("mkdir -p c && printf before >c/f");
        struct source *s = open_dir("c", "/");
        struct ingot_error err = { 0 }, out = { 0 };
        const struct source_entry *e;
        assert_int_equal(s->next(s, &e, &err), 1);
        assert_int_equal(s->next(s, &e, &err), 1);
        assert_string_equal(e->path, "/f");
        sh("printf 'after, and longer' >c/f"); /* between the scan and the read */
        const void *data;
        size_t size;
        uint64_t offset;
        int r = s->read(s, &data, &size, &offset, &err);
        assert_int_equal(r, -ESTALE);
        assert_non_null(strstr(err.message, "c/f: changed since it was scanned"));
        /* close passes the loop's result on, message and all */
        assert_int_equal(s->close(s, r, &err, &out), -ESTALE);
        assert_string_equal(out.message, err.message);

        /* a file scanned earlier (seen) is read as one entry, and refused once it is not as seen */
        char path[128];
        snprintf(path, sizeof(path), "%s/c/f", dir);
        struct stat seen;
        assert_int_equal(lstat(path, &seen), 0);
        assert_int_equal(source_dir_open(path, "/x", &seen, 0, &s), 0);
        assert_int_equal(s->next(s, &e, &err), 1);
        size_t extents;
        _cleanup_free_ char *text = read_all(s, e, &extents);
        assert_string_equal(text, "after, and longer");
        assert_int_equal(s->next(s, &e, &err), 0);
        assert_int_equal(s->close(s, 0, &err, &err), 0);
        sh("printf short >c/f");
        assert_int_equal(source_dir_open(path, "/x", &seen, 0, &s), 0);
        assert_int_equal(s->next(s, &e, &err), 1);
        assert_int_equal(s->read(s, &data, &size, &offset, &err), -ESTALE);
        assert_int_equal(s->close(s, 0, &err, &err), 0);
}

static void test_missing(void **state) {
        (void) state;
        struct source *s = open_dir("nonexistent", "/");
        struct ingot_error err = { 0 };
        const struct source_entry *e;
        assert_int_equal(s->next(s, &e, &err), -ENOENT);
        assert_non_null(strstr(err.message, "nonexistent: No such file or directory"));
        assert_int_equal(s->close(s, 0, &err, &err), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_entries),
                cmocka_unit_test(test_shape),
                cmocka_unit_test(test_ignore_subdir),
                cmocka_unit_test(test_changed),
                cmocka_unit_test(test_missing),
        };
        return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
