/* test-block-index.c: the block index as the writer feeds it: appends, the superblock written again, a
 * deduplicated file's blocks taken back, what no writer does refused; regions classified; JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <json-c/json.h>
#include <string.h>

#include "block-index.h"

static void write_at(struct block_index *x, uint64_t offset, size_t size, char fill) {
        char buf[256];
        memset(buf, fill, size);
        assert_int_equal(block_index_record(x, offset, buf, size), 0);
}

/* superblock 96, options 16, data 100 + 50, a fragment 30, metadata 40 + 20, padding 160: 512 bytes */
static void write_image(struct block_index *x) {
        write_at(x, 0, 96, 0);
        write_at(x, 96, 16, 'o');
        write_at(x, 112, 100, 'a');
        write_at(x, 212, 50, 'b');
        write_at(x, 262, 100, 'a'); /* a file whose block another has: written, then taken back */
        block_index_truncate(x, 262);
        write_at(x, 262, 30, 'f');
        write_at(x, 292, 40, 'i');
        write_at(x, 332, 20, 'd');
        write_at(x, 0, 96, 's'); /* the superblock, final */
        write_at(x, 352, 160, 0);
}

/* What the build adds once the image is classified: a block's content digest (here its kind's letter,
 * repeated), and the settings. */
static void give_content(struct block_index *x) {
        x->settings = (struct block_settings) { .compressor = 6, .level = 15, .block_size = 131072 };
        for (size_t i = 0; i < x->n; i++) {
                struct extent *e = &x->extents[i];
                if (e->kind != EXTENT_DATA && e->kind != EXTENT_FRAGMENT)
                        continue;
                memset(e->content_sha256, e->kind == EXTENT_DATA ? 0xda : 0xf4, sizeof(e->content_sha256));
                e->has_content = true;
        }
}

static void test_record_and_classify(void **state) {
        (void) state;
        struct block_index x = { 0 };
        write_image(&x);
        assert_int_equal(x.error, 0);
        assert_int_equal(x.n, 8);
        const uint64_t fragments[] = { 262 };
        struct block_index_layout l = { .data_start = 112, .inode_table_start = 292, .bytes_used = 352, .size = 512,
                                        .fragments = fragments, .n_fragments = 1 };
        assert_int_equal(block_index_classify(&x, &l), 0);
        const enum extent_kind want[] = { EXTENT_SUPERBLOCK, EXTENT_METADATA, EXTENT_DATA, EXTENT_DATA,
                                          EXTENT_FRAGMENT,   EXTENT_METADATA, EXTENT_METADATA, EXTENT_PADDING };
        for (size_t i = 0; i < x.n; i++)
                assert_int_equal(x.extents[i].kind, want[i]);

        char *text = NULL;
        assert_int_equal(block_index_to_json(&x, "x_1.raw", 512, "ab", &text), -EBADMSG); /* no content digests */
        give_content(&x);
        assert_int_equal(block_index_to_json(&x, "x_1.raw", 512, "ab", &text), 0);
        json_object *j = json_tokener_parse(text);
        free(text);
        assert_non_null(j);
        json_object *e;
        assert_true(json_object_object_get_ex(j, "extents", &e));
        assert_int_equal(json_object_array_length(e), 8);
        json_object *sb = json_object_array_get_idx(e, 0);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(sb, 2)), "superblock");
        /* the rewritten superblock's digest: SHA-256 of 96 bytes of 's' (Python's hashlib) */
        assert_string_equal(json_object_get_string(json_object_array_get_idx(sb, 3)),
                            "ce6b6a6a85c8eec80663dfb98b7fbd5c8cc162d51b090dde1c75a1f3dc3926dd");
        assert_int_equal(json_object_array_length(sb), 4);
        json_object *frag = json_object_array_get_idx(e, 4);
        assert_int_equal(json_object_array_length(frag), 5);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(frag, 4)),
                            "f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4");
        json_object_put(j);

        l.size = 513; /* an image longer than its extents */
        assert_int_equal(block_index_classify(&x, &l), -EBADMSG);
        l.size = 512;
        l.bytes_used = 340; /* a region's end inside an extent */
        assert_int_equal(block_index_classify(&x, &l), -EBADMSG);
        block_index_done(&x);
}

static void test_refused(void **state) {
        (void) state;
        struct block_index x = { 0 };
        write_at(&x, 0, 96, 0);
        write_at(&x, 100, 10, 'g'); /* a gap */
        assert_int_equal(x.error, -EINVAL);
        struct block_index_layout l = { .size = 110 };
        assert_int_equal(block_index_classify(&x, &l), -EINVAL);
        block_index_done(&x);

        write_at(&x, 0, 96, 0);
        write_at(&x, 96, 100, 'a');
        block_index_truncate(&x, 150); /* inside an extent */
        assert_int_equal(x.error, -EINVAL);
        block_index_done(&x);

        write_at(&x, 0, 96, 0);
        write_at(&x, 96, 100, 'a');
        write_at(&x, 96, 50, 'b'); /* a rewrite of part of one */
        assert_int_equal(x.error, -EINVAL);
        block_index_done(&x);
}

/* What block_index_to_json wrote reads back the same; text that is not such an index is refused, saying
 * which extent. */
static void test_parse(void **state) {
        (void) state;
        struct block_index x = { 0 }, y;
        write_image(&x);
        const uint64_t fragments[] = { 262 };
        struct block_index_layout l = { .data_start = 112, .inode_table_start = 292, .bytes_used = 352, .size = 512,
                                        .fragments = fragments, .n_fragments = 1 };
        assert_int_equal(block_index_classify(&x, &l), 0);
        give_content(&x);
        char *text = NULL, root_hash[129];
        uint64_t size;
        struct ingot_error err = { 0 };
        assert_int_equal(block_index_to_json(&x, "x_1.raw", 512, "ab", &text), 0);
        assert_int_equal(block_index_parse(text, "x.blocks", &y, &size, root_hash, &err), 0);
        assert_int_equal(size, 512);
        assert_string_equal(root_hash, "ab");
        assert_int_equal(y.n, x.n);
        assert_memory_equal(y.extents, x.extents, x.n * sizeof(*x.extents));
        assert_memory_equal(&y.settings, &x.settings, sizeof(x.settings));
        block_index_done(&y);

        /* format 1, as builds before content digests wrote it, still reads: no digests, no settings */
        char *old = strdup(text), *cut;
        while ((cut = strstr(old, ",\"f4f4")) || (cut = strstr(old, ",\"dada")))
                memmove(cut, cut + 67, strlen(cut + 67) + 1); /* ,"64 hex" */
        memcpy(strstr(old, "\"format\":2"), "\"format\":1", 10);
        assert_int_equal(block_index_parse(old, "x.blocks", &y, &size, root_hash, &err), 0);
        assert_int_equal(y.n, x.n);
        assert_false(y.extents[2].has_content);
        assert_int_equal(y.settings.compressor, 0);
        block_index_done(&y);
        free(old);

        static const struct {
                const char *from, *to, *message;
        } damage[] = {
                { "ingot-block-index", "ingot-clock-index", "x.blocks: not an ingot-block-index" },
                { "\"format\":2", "\"format\":3", "x.blocks: not of format 1 to 2" },
                { "\"level\":15", "\"levex\":15", "x.blocks: no \"compressor\", \"level\" and \"block_size\"" },
                { "\"f4f4f4", "\"f4f4g4", "x.blocks: extent 4 is not [offset, size, kind, sha256, content sha256]" },
                { "[96,16,", "[97,16,", "x.blocks: extent 1 is not [offset, size, kind, sha256] following the one before (at byte 96)" },
                { "\"fragment\"", "\"fragmint\"", "x.blocks: extent 4 is not" },
                { "\"size\":512", "\"size\":600", "x.blocks: the extents end at byte 512, the image at 600" },
                { "ce6b6a6a85c8", "ce6b6a6a85cz", "x.blocks: extent 0 is not" },
        };
        for (size_t i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
                char *bad = strdup(text), *at = strstr(bad, damage[i].from);
                assert_non_null(at);
                assert_int_equal(strlen(damage[i].from), strlen(damage[i].to));
                memcpy(at, damage[i].to, strlen(damage[i].to));
                err = (struct ingot_error) { 0 };
                assert_int_equal(block_index_parse(bad, "x.blocks", &y, &size, root_hash, &err), -EBADMSG);
                if (!strstr(err.message, damage[i].message))
                        fail_msg("damage %zu: %s", i, err.message);
                assert_null(y.extents);
                free(bad);
        }
        free(text);
        block_index_done(&x);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_record_and_classify),
                cmocka_unit_test(test_refused),
                cmocka_unit_test(test_parse),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
