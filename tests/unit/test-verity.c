/* test-verity.c: the hash tree checked against data that cannot be read whole: a one-block image (whose
 * digest is the root, with no tree) fails as an image of more blocks does, with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <string.h>

#include "tmpdir.h"
#include "verity.h"

/* blocks data blocks of 4096 bytes in dir/NAME.raw, their tree in dir/NAME.verity; both fds stay open. */
static void make_image(const char *name, unsigned blocks, int *ret_data_fd, int *ret_hash_fd, char **ret_hash_path) {
        char *data_path = NULL, *hash_path = NULL;
        assert_true(asprintf(&data_path, "%s/%s.raw", dir, name) > 0);
        assert_true(asprintf(&hash_path, "%s/%s.verity", dir, name) > 0);
        int data_fd = open(data_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int hash_fd = open(hash_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(data_fd >= 0 && hash_fd >= 0);
        static const uint8_t salt[4] = { 1, 2, 3, 4 };
        struct verity_params p = { .hash_name = "sha256", .data_block_size = 4096, .hash_block_size = 4096,
                                   .salt = salt, .salt_size = sizeof(salt) };
        struct verity *v = NULL;
        assert_int_equal(verity_new(&p, data_fd, &v, NULL), 0);
        uint8_t block[4096];
        for (unsigned i = 0; i < blocks; i++) {
                memset(block, 'a' + (int) i, sizeof(block));
                assert_int_equal(pwrite(data_fd, block, sizeof(block), (off_t) i * 4096), (ssize_t) sizeof(block));
                assert_int_equal(verity_write(v, (uint64_t) i * 4096, block, sizeof(block)), 0);
        }
        uint8_t root[VERITY_DIGEST_MAX];
        size_t root_size;
        struct ingot_error e = { 0 };
        assert_int_equal(verity_finish(v, data_path, hash_path, hash_fd, root, &root_size, &e), 0);
        verity_free(v);
        free(data_path);
        *ret_data_fd = data_fd;
        *ret_hash_fd = hash_fd;
        *ret_hash_path = hash_path;
}

static void check_unreadable(unsigned blocks) {
        int data_fd, hash_fd;
        char *hash_path;
        make_image(blocks == 1 ? "one" : "two", blocks, &data_fd, &hash_fd, &hash_path);
        struct verity_info info;
        struct ingot_error e = { 0 };
        const struct verity_region hash = { .name = hash_path, .fd = hash_fd };
        assert_int_equal(verity_check(&(struct verity_region) { .name = "image", .fd = data_fd }, &hash, &info, &e), 0);
        /* a region that claims the blocks, past the end of the file (a partition a truncated disk lost) */
        e = (struct ingot_error) { 0 };
        assert_int_equal(verity_check(&(struct verity_region) { .name = "region", .fd = data_fd,
                                                                .offset = (uint64_t) blocks * 4096,
                                                                .size = (uint64_t) blocks * 4096 },
                                      &hash, &info, &e),
                         -EBADMSG);
        assert_string_equal(e.message, "region: short read");
        close(data_fd);
        close(hash_fd);
        free(hash_path);
}

static void test_unreadable_one_block(void **state) {
        (void) state;
        check_unreadable(1);
}

static void test_unreadable_two_blocks(void **state) {
        (void) state;
        check_unreadable(2);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_unreadable_two_blocks),
                cmocka_unit_test(test_unreadable_one_block),
        };
        return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
