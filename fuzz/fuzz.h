/* fuzz.h: what every fuzz target shares: the libFuzzer entry point and a scratch directory to put
 * the input in for the parsers that read a path. Built with clang as a fuzzer, with gcc as a replayer. */
#pragma once

#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir_path[64];

static inline int fuzz_remove(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) flag, (void) ftw;
        return remove(path);
}

static inline void fuzz_dir_remove(void) {
        nftw(fuzz_dir_path, fuzz_remove, 16, FTW_DEPTH | FTW_PHYS);
}

/* A private directory for this process (made once, removed at exit), on tmpfs: the targets that
 * write images fsync, and there that costs nothing. */
static inline const char *fuzz_dir(void) {
        if (!*fuzz_dir_path) {
                snprintf(fuzz_dir_path, sizeof(fuzz_dir_path), "/dev/shm/ingot-fuzz.XXXXXX");
                if (!mkdtemp(fuzz_dir_path))
                        abort();
                atexit(fuzz_dir_remove);
        }
        return fuzz_dir_path;
}

/* Writes data to fuzz_dir()/name (replacing what was there) and returns the path (static). */
static inline const char *fuzz_file(const char *name, const uint8_t *data, size_t size) {
        static char path[128];
        snprintf(path, sizeof(path), "%s/%s", fuzz_dir(), name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                abort();
        for (size_t off = 0; off < size;) {
                ssize_t n = write(fd, data + off, size - off);
                if (n <= 0)
                        abort();
                off += (size_t) n;
        }
        close(fd);
        return path;
}
