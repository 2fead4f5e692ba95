/* test-source-archive.c: the archive source on its own, without a build: a small tar (made by GNU tar)
 * yields its members in order as canonical image paths with their metadata, a hard link by name, a
 * sparse file's data as extents; a member that climbs out of the root and a non-archive are refused. */
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

static struct source *open_file(const char *name, int *ret_fd) {
        char path[128];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        *ret_fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(*ret_fd >= 0);
        struct source *s = NULL;
        assert_int_equal(source_archive_open(*ret_fd, "t.tar", NULL, &s), 0);
        return s;
}

static void test_members(void **state) {
        (void) state;
        sh("mkdir -p t/etc t/usr/bin && printf 'ID=x\\n' >t/etc/os-release && "
           "printf '#!/bin/sh\\n' >t/usr/bin/a && chmod 4755 t/usr/bin/a && ln t/usr/bin/a t/usr/bin/b && "
           "ln -s a t/usr/bin/c && truncate -s 1M t/sparse && printf END >>t/sparse && "
           "tar --sort=name --owner=7 --group=8 --mtime=@1000 --sparse -C t -cf t.tar .");
        int fd;
        struct source *s = open_file("t.tar", &fd);
        struct ingot_error err = { 0 };
        const struct source_entry *e;
        const char *want[] = { "/", "/etc", "/etc/os-release", "/sparse", "/usr", "/usr/bin", "/usr/bin/a",
                               "/usr/bin/b", "/usr/bin/c" };
        for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
                assert_int_equal(s->next(s, &e, &err), 1);
                assert_string_equal(e->path, want[i]);
                assert_int_equal(e->uid, 7);
                assert_int_equal(e->gid, 8);
                assert_int_equal(e->mtime, 1000);
                size_t extents;
                if (strcmp(e->path, "/etc/os-release") == 0) {
                        assert_int_equal(e->mode, S_IFREG | 0644);
                        _cleanup_free_ char *text = read_all(s, e, &extents);
                        assert_string_equal(text, "ID=x\n");
                } else if (strcmp(e->path, "/sparse") == 0) {
                        assert_int_equal(e->size, (1 << 20) + 3);
                        _cleanup_free_ char *data = read_all(s, e, &extents);
                        assert_memory_equal(data + (1 << 20), "END", 3);
                        assert_int_equal(extents, 1); /* the megabyte of zeros is a hole */
                } else if (strcmp(e->path, "/usr/bin/a") == 0) {
                        assert_int_equal(e->mode, S_IFREG | 04755);
                        assert_null(e->hardlink);
                } else if (strcmp(e->path, "/usr/bin/b") == 0) {
                        assert_string_equal(e->hardlink, "/usr/bin/a");
                } else if (strcmp(e->path, "/usr/bin/c") == 0) {
                        assert_int_equal(e->mode & S_IFMT, S_IFLNK);
                        assert_string_equal(e->symlink, "a");
                } else
                        assert_int_equal(e->mode & S_IFMT, S_IFDIR);
        }
        assert_int_equal(s->next(s, &e, &err), 0);
        assert_int_equal(s->close(s, 0, &err, &err), 0);
        close(fd);
}

static void test_refused(void **state) {
        (void) state;
        sh("mkdir -p u && printf x >u/f && tar -C u -cf dotdot.tar --transform='s|f|../f|' f && "
           "printf 'not an archive' >junk.tar");
        int fd;
        struct source *s = open_file("dotdot.tar", &fd);
        struct ingot_error err = { 0 }, out = { 0 };
        const struct source_entry *e;
        int r = s->next(s, &e, &err);
        assert_int_equal(r, -EXDEV);
        assert_string_equal(err.message, "t.tar: member '../f' contains '..' and would escape the image root");
        /* close passes the loop's result on, message and all */
        assert_int_equal(s->close(s, r, &err, &out), -EXDEV);
        assert_string_equal(out.message, err.message);
        close(fd);

        s = open_file("junk.tar", &fd);
        err = (struct ingot_error) { 0 };
        r = s->next(s, &e, &err);
        assert_int_equal(r, -EBADMSG);
        assert_non_null(strstr(err.message, "t.tar: not an archive libarchive can read"));
        assert_int_equal(s->close(s, 0, &err, &err), 0);
        close(fd);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_members),
                cmocka_unit_test(test_refused),
        };
        return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
