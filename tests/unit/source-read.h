/* source-read.h: for the sources' unit tests: all of an entry's data as a source gives it (source.h),
 * holes as zeros. */
#pragma once

#include <string.h>

#include "source.h"

/* All of one entry's data, holes as zeros, and how many extents carried it. */
static inline char *read_all(struct source *s, const struct source_entry *e, size_t *ret_extents) {
        struct ingot_error err = { 0 };
        char *m = calloc(1, e->size + 1);
        assert_non_null(m);
        const void *data;
        size_t size, n = 0;
        uint64_t offset;
        int r;
        while ((r = s->read(s, &data, &size, &offset, &err)) > 0) {
                assert_true(offset + size <= e->size);
                memcpy(m + offset, data, size);
                n++;
        }
        assert_int_equal(r, 0);
        *ret_extents = n;
        return m;
}
