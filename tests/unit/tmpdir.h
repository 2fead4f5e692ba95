/* tmpdir.h: a scratch directory for a group of unit tests, made before the first test and removed with
 * all it holds after the last (cmocka group setup and teardown). */
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
