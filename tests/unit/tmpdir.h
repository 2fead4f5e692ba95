/* tmpdir.h: a scratch directory for a group of unit tests, made before the first test and removed with
 * all it holds after the last (cmocka group setup and teardown), and shell commands run in it. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[64];

static int tmpdir_setup(void **state) {
        (void) state;
        strcpy(dir, "/tmp/ingot-unit.XXXXXX");
        return mkdtemp(dir) ? 0 : -1;
}

static int tmpdir_teardown(void **state) {
        (void) state;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

/* cmd run by sh in dir */
static inline void sh(const char *cmd) {
        assert_int_equal(setenv("D", dir, 1), 0);
        char *full = NULL;
        assert_true(asprintf(&full, "cd \"$D\" && %s", cmd) > 0);
        assert_int_equal(system(full), 0);
        free(full);
}
