/* fuzz/gpt.c: a disk's GPT and slots read as `ingot slot status` reads them (libfdisk, the slot
 * table, each signature partition's payload, each root's os-release, the boot choice). Input: the
 * disk's first bytes; the file is extended with zeros to the size the primary header claims (the
 * backup header's LBA, at most 1 GiB, sparse), so a disk truncated to its tables is a whole disk.
 * The primary header's CRCs are recomputed (fuzz.h), or almost every mutation would stop at the checksum. */
#include "fuzz.h"
#include "ingot.h"

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size) {
        uint8_t *data = malloc(size ? size : 1);
        if (!data)
                return 0;
        memcpy(data, input, size);
        fuzz_gpt_fix_crcs(data, size);
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
