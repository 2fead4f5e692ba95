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

/* A GPT in data (512-byte sectors) with its primary header's CRCs (entry array and header) recomputed, so
 * that mutated tables get past the checksums to the parsers behind them. */
static inline uint32_t fuzz_crc32(const uint8_t *p, size_t n) {
        uint32_t c = 0xffffffffu;
        while (n--) {
                c ^= *p++;
                for (int k = 0; k < 8; k++)
                        c = c >> 1 ^ (0xedb88320u & -(c & 1));
        }
        return ~c;
}

static inline uint64_t fuzz_le(const uint8_t *p, int bytes) {
        uint64_t v = 0;
        for (int i = bytes - 1; i >= 0; i--)
                v = v << 8 | p[i];
        return v;
}

static inline void fuzz_put32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> 8 * i);
}

static inline void fuzz_gpt_fix_crcs(uint8_t *d, size_t size) {
        uint8_t *h = d + 512;
        if (size < 1024 || memcmp(h, "EFI PART", 8) != 0)
                return;
        uint64_t entries = fuzz_le(h + 72, 8) * 512, n = fuzz_le(h + 80, 4), esize = fuzz_le(h + 84, 4);
        if (entries < size && n * esize <= size - entries)
                fuzz_put32(h + 88, fuzz_crc32(d + entries, n * esize));
        uint64_t hsize = fuzz_le(h + 12, 4);
        if (hsize >= 92 && hsize <= 512) {
                fuzz_put32(h + 16, 0);
                fuzz_put32(h + 16, fuzz_crc32(h, hsize));
        }
}
