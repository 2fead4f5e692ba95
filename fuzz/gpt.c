/* fuzz/gpt.c: a disk's GPT and slots read as `ingot slot status` reads them (libfdisk, the slot
 * table, each signature partition's payload, each root's os-release, the boot choice). Input: the
 * disk's first bytes; the file is extended with zeros to the size the primary header claims (the
 * backup header's LBA, at most 1 GiB, sparse), so a disk truncated to its tables is a whole disk.
 * The primary header's CRCs are recomputed, or almost every mutation would stop at the checksum. */
#include "fuzz.h"
#include "ingot.h"

static uint32_t crc32(const uint8_t *p, size_t n) {
        uint32_t c = 0xffffffffu;
        while (n--) {
                c ^= *p++;
                for (int k = 0; k < 8; k++)
                        c = c >> 1 ^ (0xedb88320u & -(c & 1));
        }
        return ~c;
}

static uint64_t le(const uint8_t *p, int bytes) {
        uint64_t v = 0;
        for (int i = bytes - 1; i >= 0; i--)
                v = v << 8 | p[i];
        return v;
}

static void put32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> 8 * i);
}

static void fix_crcs(uint8_t *d, size_t size) {
        uint8_t *h = d + 512;
        if (size < 1024 || memcmp(h, "EFI PART", 8) != 0)
                return;
        uint64_t entries = le(h + 72, 8) * 512, n = le(h + 80, 4), esize = le(h + 84, 4);
        if (entries < size && n * esize <= size - entries)
                put32(h + 88, crc32(d + entries, n * esize));
        uint64_t hsize = le(h + 12, 4);
        if (hsize >= 92 && hsize <= 512) {
                put32(h + 16, 0);
                put32(h + 16, crc32(h, hsize));
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size) {
        uint8_t *data = malloc(size ? size : 1);
        if (!data)
                return 0;
        memcpy(data, input, size);
        fix_crcs(data, size);
        const char *path = fuzz_file("disk.img", data, size);
        uint64_t backup_lba = 0;
        if (size >= 512 + 40)
                for (int i = 7; i >= 0; i--)
                        backup_lba = backup_lba << 8 | data[512 + 32 + i];
        uint64_t disk_size = backup_lba < (1u << 21) ? (backup_lba + 1) * 512 : 0;
        if (disk_size > size && truncate(path, (off_t) disk_size) < 0)
                abort();
        char run[160];
        snprintf(run, sizeof(run), "%s/run", fuzz_dir());
        struct ingot_slot_options o = { .disk = path, .runtime_dir = run, .lock_wait_ms = 1 };
        struct ingot_slot_status st;
        struct ingot_error err = { 0 };
        (void) ingot_slot_status(&o, &st, &err);
        free(data);
        return 0;
}
