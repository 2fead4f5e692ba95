/* test-slot-state.c: the attribute bits and every row of the boot choice table (the function the
 * initrd runs): both good, one on trial, tries exhausted, both bad, equal priority, empty and unreadable slots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "slot-state.h"

static struct slot_candidate slot(char name, unsigned prio, unsigned tries, bool ok, bool installed) {
        return (struct slot_candidate) { name, { .priority = prio, .tries = tries, .successful = ok }, installed, false };
}

/* installed false: its signature partition holds something that is not a payload */
static struct slot_candidate unreadable(char name, unsigned prio, unsigned tries) {
        return (struct slot_candidate) { name, { .priority = prio, .tries = tries }, false, true };
}

static void test_bits(void **state) {
        (void) state;
        struct slot_attrs a = { .priority = 2, .tries = 3, .successful = false }, b;
        /* DPS flags (63 no-auto, 60 read-only) survive */
        uint64_t keep = (UINT64_C(1) << 63) | (UINT64_C(1) << 60);
        uint64_t v = slot_attrs_encode(keep | (UINT64_C(0x1ff) << 48), &a);
        assert_true((v & keep) == keep);
        assert_int_equal((v >> 48) & 0x1ff, 2 | (3 << 4));
        slot_attrs_decode(v, &b);
        assert_int_equal(b.priority, 2);
        assert_int_equal(b.tries, 3);
        assert_false(b.successful);
        a = (struct slot_attrs) { .priority = 99, .tries = 99, .successful = true };
        slot_attrs_decode(slot_attrs_encode(0, &a), &b);
        assert_int_equal(b.priority, 15); /* clamped to four bits */
        assert_int_equal(b.tries, 15);
        assert_true(b.successful);
        assert_int_equal(slot_attrs_encode(0, &a) >> 57, 0); /* nothing beyond bit 56 */
        /* why it was marked bad: bits 57-58, read back, cleared by whatever sets the state anew */
        a = (struct slot_attrs) { .priority = 0, .failure = SLOT_FAILURE_CORRUPTED };
        v = slot_attrs_encode(keep, &a);
        assert_int_equal((v >> 57) & 3, 3);
        assert_true((v & keep) == keep);
        slot_attrs_decode(v, &b);
        assert_int_equal(b.failure, SLOT_FAILURE_CORRUPTED);
        a = (struct slot_attrs) { .priority = 2, .tries = 3 };
        assert_int_equal((slot_attrs_encode(v, &a) >> 57) & 3, 0);
        assert_int_equal(slot_attrs_encode(v, &a) >> 59, keep >> 59);
}

static void test_states(void **state) {
        (void) state;
        struct slot_attrs good = { .priority = 1, .successful = true }, trying = { .priority = 2, .tries = 3 },
                          exhausted = { .priority = 2 }, zero = { .tries = 3, .successful = true };
        assert_string_equal(slot_state_to_string(slot_state_of(&good, true)), "good");
        assert_string_equal(slot_state_to_string(slot_state_of(&trying, true)), "trying");
        assert_string_equal(slot_state_to_string(slot_state_of(&exhausted, true)), "bad");
        assert_string_equal(slot_state_to_string(slot_state_of(&zero, true)), "bad");
        assert_string_equal(slot_state_to_string(slot_state_of(&good, false)), "empty");
        /* and why a bad one is bad */
        struct slot_attrs initrd = { .failure = SLOT_FAILURE_INITRD }, corrupted = { .failure = SLOT_FAILURE_CORRUPTED },
                          marked = { .failure = SLOT_FAILURE_MARKED };
        assert_null(slot_failure_describe(&good, true));
        assert_null(slot_failure_describe(&trying, true));
        assert_null(slot_failure_describe(&initrd, false));
        assert_string_equal(slot_failure_describe(&exhausted, true), "out of tries");
        assert_string_equal(slot_failure_to_string(&exhausted, true), "out-of-tries");
        assert_string_equal(slot_failure_describe(&zero, true), "priority 0");
        assert_string_equal(slot_failure_to_string(&initrd, true), "initrd");
        assert_string_equal(slot_failure_describe(&corrupted, true), "dm-verity found a corrupted block while it ran");
        assert_string_equal(slot_failure_to_string(&marked, true), "marked-bad");
}

struct row {
        struct slot_candidate a, b;
        int want;       /* index, -1 none */
        bool count_try;
        const char *reason;
};

static void test_choice_table(void **state) {
        (void) state;
        const struct row rows[] = {
                /* both good: the higher priority */
                { slot('a', 1, 0, true, true), slot('b', 2, 0, true, true), 1, false, "b is good with priority 2; a has priority 1" },
                { slot('a', 2, 0, true, true), slot('b', 1, 0, true, true), 0, false, "a is good with priority 2; b has priority 1" },
                /* one on trial with tries left, above the good one: boots it, counting the try */
                { slot('a', 1, 0, true, true), slot('b', 2, 3, false, true), 1, true,
                  "b is on trial with 3 tries left, priority 2; a has priority 1" },
                { slot('a', 1, 0, true, true), slot('b', 2, 1, false, true), 1, true,
                  "b is on trial with 1 try left, priority 2; a has priority 1" },
                /* tries exhausted: back to the good one */
                { slot('a', 1, 0, true, true), slot('b', 2, 0, false, true), 0, false,
                  "a is good with priority 1; b is bad (out of tries)" },
                /* marked bad (priority 0) */
                { slot('a', 0, 0, false, true), slot('b', 1, 0, true, true), 1, false,
                  "b is good with priority 1; a is bad (priority 0)" },
                /* both bad: nothing */
                { slot('a', 0, 0, false, true), slot('b', 2, 0, false, true), -1, false,
                  "no bootable slot: a is bad (priority 0), b is bad (out of tries)" },
                /* equal priority: good before trying, then the first */
                { slot('a', 2, 3, false, true), slot('b', 2, 0, true, true), 1, false, "b is good with priority 2; a has priority 2" },
                { slot('a', 2, 0, true, true), slot('b', 2, 0, true, true), 0, false, "a is good with priority 2; b has priority 2" },
                { slot('a', 2, 1, false, true), slot('b', 2, 2, false, true), 0, true,
                  "a is on trial with 1 try left, priority 2; b has priority 2" },
                /* empty slots never boot, whatever their bits say */
                { slot('a', 1, 0, true, true), slot('b', 15, 15, true, false), 0, false, "a is good with priority 1; b is empty" },
                { slot('a', 0, 0, false, false), slot('b', 0, 0, false, false), -1, false, "no bootable slot: a is empty, b is empty" },
                /* nor does one whose signature partition holds something else than a payload, and the reason says so */
                { slot('a', 1, 0, true, true), unreadable('b', 2, 3), 0, false,
                  "a is good with priority 1; b's signature partition is unreadable" },
                { unreadable('a', 2, 3), slot('b', 0, 0, false, false), -1, false,
                  "no bootable slot: a's signature partition is unreadable, b is empty" },
        };
        for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                struct slot_candidate c[2] = { rows[i].a, rows[i].b };
                struct slot_choice ch;
                slot_choose(c, 2, &ch);
                print_message("row %zu: %s\n", i, ch.reason);
                assert_int_equal(ch.index, rows[i].want);
                assert_int_equal(ch.count_try, rows[i].count_try);
                assert_string_equal(ch.reason, rows[i].reason);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bits),
                cmocka_unit_test(test_states),
                cmocka_unit_test(test_choice_table),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
