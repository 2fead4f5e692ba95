/* fuzz/mounts.c: an image's /usr/lib/ingot/mounts ([Mounts] as the build writes it) parsed as the initrd
 * parses it before it mounts anything; every request it accepts is an absolute path without "..". */
#include "fuzz.h"
#include "mounts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = malloc(size + 1); /* the initrd reads the file as NUL-terminated text */
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0;
        struct mount_request *m = NULL;
        size_t n = 0;
        struct ingot_error err = { 0 };
        if (mounts_parse(text, MOUNTS_FILE, &m, &n, &err) == 0) {
                for (size_t i = 0; i < n; i++)
                        if (m[i].path[0] != '/' || strstr(m[i].path, "/..") || strchr(m[i].path, '\n') ||
                            (m[i].kind != MOUNT_TMPFS && m[i].kind != MOUNT_OVERLAY) || !m[i].where)
                                abort();
                mounts_free(m, n);
        }
        free(text);
        return 0;
}
