/* test-boot-disk.c: the disk the initrd boots from, on a made-up /sys/block and /dev whose disks are image
 * files: pinned by disk GUID (ingot.disk=) or by the ESP's partition UUID (LoaderDevicePartUUID), removable
 * ones included, never another disk; unpinned, the only non-removable disk with ingot slots, and a refusal
 * to choose between two; two disks carrying the pinned GUID are refused too. And the EFI variable's bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "boot-disk.h"
#include "gpt.h"

#define MiB (UINT64_C(1) << 20)
#define GUID_A "11111111-2222-4333-8444-555555555555"
#define GUID_B "66666666-7777-4888-9999-aaaaaaaaaaaa"
#define GUID_STICK "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff"
#define ESP_B "0b0b0b0b-0000-4000-8000-000000000002"

static char dir[64];

/* dir/a/name/c ("" for none) */
static char *at(const char *a, const char *name, const char *c) {
        static char path[256];
        snprintf(path, sizeof(path), "%s/%s%s%s%s%s", dir, a, *name ? "/" : "", name, *c ? "/" : "", c);
        return path;
}

/* /sys/block/NAME (removable 0 or 1) and /dev/NAME, an image file with a GPT: ingot's slots when slots, else
 * only an ESP; partition UUIDs end in tag. */
static void add_disk(const char *name, bool removable, const char *guid, const char *esp_uuid, bool slots, char tag) {
        assert_int_equal(mkdir(at("sys/block", name, ""), 0755), 0);
        FILE *f = fopen(at("sys/block", name, "removable"), "we");
        assert_non_null(f);
        fprintf(f, "%d\n", removable);
        fclose(f);
        const char *node = at("dev", name, "");
        int fd = open(node, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 12 * MiB), 0);
        static const struct { const char *type, *label; } layout[] = {
                { GPT_TYPE_ESP, "esp" },
                { GPT_TYPE_ROOT, "root-a" },  { GPT_TYPE_ROOT_VERITY, "verity-a" }, { GPT_TYPE_ROOT_VERITY_SIG, "verity-sig-a" },
                { GPT_TYPE_ROOT, "root-b" },  { GPT_TYPE_ROOT_VERITY, "verity-b" }, { GPT_TYPE_ROOT_VERITY_SIG, "verity-sig-b" },
        };
        struct gpt_new_partition parts[ELEMENTSOF(layout)];
        size_t n = slots ? ELEMENTSOF(layout) : 1;
        for (size_t i = 0; i < n; i++) {
                parts[i] = (struct gpt_new_partition) { .type = layout[i].type, .label = layout[i].label,
                                                        .offset = (1 + i) * MiB, .size = MiB };
                snprintf(parts[i].uuid, sizeof(parts[i].uuid), "0%c0%c0%c0%c-0000-4000-8000-%012zx", tag, tag, tag, tag, i);
        }
        if (esp_uuid)
                memcpy(parts[0].uuid, esp_uuid, 37);
        struct ingot_error e = { 0 };
        assert_int_equal(gpt_create(fd, node, guid, parts, n, &e), 0);
        close(fd);
}

static void remove_disk(const char *name) {
        unlink(at("sys/block", name, "removable"));
        rmdir(at("sys/block", name, ""));
        unlink(at("dev", name, ""));
}

static int setup(void **state) {
        (void) state;
        snprintf(dir, sizeof(dir), "/tmp/ingot-boot-disk.XXXXXX");
        assert_non_null(mkdtemp(dir));
        assert_int_equal(mkdir_p(at("sys/block", "", ""), 0755), 0);
        assert_int_equal(mkdir(at("dev", "", ""), 0755), 0);
        return 0;
}

static int teardown(void **state) {
        (void) state;
        static const char *names[] = { "vda", "vdb", "vdc", "vdd", "sda", "loop0" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                remove_disk(names[i]);
        rmdir(at("sys/block", "", ""));
        rmdir(at("sys", "", ""));
        rmdir(at("dev", "", ""));
        rmdir(dir);
        return 0;
}

static int find(enum boot_disk_pin pin, const char *uuid, char *node, char *how, struct ingot_error *e) {
        char sys_block[128], dev[128];
        snprintf(sys_block, sizeof(sys_block), "%s/sys/block", dir);
        snprintf(dev, sizeof(dev), "%s/dev", dir);
        struct boot_disk_query q = { .pin = pin, .sys_block = sys_block, .dev = dev };
        snprintf(q.uuid, sizeof(q.uuid), "%s", uuid ?: "");
        *e = (struct ingot_error) { 0 };
        *node = *how = 0;
        return boot_disk_find(&q, node, 300, how, 300, e);
}

static void assert_found(const char *node, const char *name) {
        char want[128];
        snprintf(want, sizeof(want), "%s/dev/%s", dir, name);
        assert_string_equal(node, want);
}

static void test_disks(void **state) {
        (void) state;
        char node[300], how[300];
        struct ingot_error e;

        /* nothing yet: the wait goes on, and this is what it says when it ends */
        assert_int_equal(find(BOOT_DISK_UNPINNED, NULL, node, how, &e), -ENODEV);
        assert_string_equal(e.message, "no disk appeared");
        assert_int_equal(find(BOOT_DISK_GUID, GUID_B, node, how, &e), -ENODEV);
        assert_string_equal(e.message, "the boot disk GUID " GUID_B " (ingot.disk=) did not appear");

        /* a removable stick with slots, which the unpinned boot does not even look at */
        add_disk("sda", true, GUID_STICK, NULL, true, 'e');
        assert_int_equal(find(BOOT_DISK_UNPINNED, NULL, node, how, &e), -ENODEV);
        assert_string_equal(e.message, "no disk appeared; removable sda skipped: a removable disk boots only when "
                                       "ingot.disk= or the boot loader names it");
        /* a loop device is never one */
        add_disk("loop0", false, GUID_A, NULL, true, 'f');
        assert_int_equal(find(BOOT_DISK_UNPINNED, NULL, node, how, &e), -ENODEV);

        /* the real disk, and a non-removable disk without slots */
        add_disk("vdb", false, GUID_B, ESP_B, true, 'b');
        add_disk("vdc", false, GUID_A, NULL, false, 'c');
        assert_int_equal(find(BOOT_DISK_UNPINNED, NULL, node, how, &e), 0);
        assert_found(node, "vdb");
        assert_string_equal(how, "the only non-removable disk with ingot slots, and nothing names one; removable sda "
                                 "skipped");

        /* the attacker's disk, first in line: unpinned, no guess */
        add_disk("vda", false, GUID_A, NULL, true, 'a');
        assert_int_equal(find(BOOT_DISK_UNPINNED, NULL, node, how, &e), -ENOTUNIQ);
        assert_string_equal(e.message, "two disks with ingot slots (vda, vdb) and nothing says which: give ingot.disk=GUID");

        /* pinned: the named disk, in either case of hex digits, whatever comes first */
        assert_int_equal(find(BOOT_DISK_GUID, GUID_B, node, how, &e), 0);
        assert_found(node, "vdb");
        assert_string_equal(how, "ingot.disk=" GUID_B);
        assert_int_equal(find(BOOT_DISK_GUID, "66666666-7777-4888-9999-AAAAAAAAAAAA", node, how, &e), 0);
        assert_found(node, "vdb");
        assert_int_equal(find(BOOT_DISK_ESP, "0B0B0B0B-0000-4000-8000-000000000002", node, how, &e), 0);
        assert_found(node, "vdb");
        assert_string_equal(how, "the ESP the boot loader was started from, LoaderDevicePartUUID "
                                 "0B0B0B0B-0000-4000-8000-000000000002");
        /* a removable disk, when it is the one named */
        assert_int_equal(find(BOOT_DISK_GUID, GUID_STICK, node, how, &e), 0);
        assert_found(node, "sda");

        /* a GUID no disk has: never another disk */
        assert_int_equal(find(BOOT_DISK_GUID, "00000000-0000-4000-8000-000000000000", node, how, &e), -ENODEV);
        assert_int_equal(find(BOOT_DISK_ESP, "00000000-0000-4000-8000-000000000000", node, how, &e), -ENODEV);
        assert_string_equal(e.message, "the disk of the ESP the boot loader was started from (LoaderDevicePartUUID "
                                       "00000000-0000-4000-8000-000000000000) did not appear");

        /* the attacker copied the real disk's GUID (and its ESP's UUID): no guess either */
        remove_disk("vda");
        add_disk("vda", false, GUID_B, ESP_B, true, 'a');
        assert_int_equal(find(BOOT_DISK_GUID, GUID_B, node, how, &e), -ENOTUNIQ);
        assert_string_equal(e.message, "two disks carry the boot disk GUID " GUID_B " (vda, vdb): not guessing which one "
                                       "is the boot disk");
        assert_int_equal(find(BOOT_DISK_ESP, ESP_B, node, how, &e), -ENOTUNIQ);

        /* the named disk has no slots: refused, not passed over for another */
        remove_disk("vda");
        assert_int_equal(find(BOOT_DISK_GUID, GUID_A, node, how, &e), -EMEDIUMTYPE); /* vdc; loop0 is not looked at */
        assert_non_null(strstr(e.message, "the boot disk (ingot.disk=" GUID_A ") cannot be booted: "));
        assert_non_null(strstr(e.message, "a GPT without ingot slots"));
}

static void write_variable(const char *path, const void *data, size_t size) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, size), (ssize_t) size);
        close(fd);
}

/* 4 attribute bytes, then text as UTF-16LE, with its NUL when nul */
static void write_utf16(const char *path, const char *text, bool nul) {
        uint8_t buf[512] = { 0x07, 0, 0, 0 };
        size_t n = 4;
        for (const char *c = text; *c; c++) {
                buf[n++] = (uint8_t) *c;
                buf[n++] = 0;
        }
        if (nul)
                n += 2;
        write_variable(path, buf, n);
}

static void test_loader_variable(void **state) {
        (void) state;
        char path[128], uuid[37];
        struct ingot_error e = { 0 };
        snprintf(path, sizeof(path), "%s/" LOADER_DEVICE_PART_UUID_VARIABLE, dir);
        assert_int_equal(loader_device_part_uuid(path, uuid, &e), -ENOENT);
        /* as systemd-boot writes it: upper case, NUL-terminated */
        write_utf16(path, "0B0B0B0B-0000-4000-8000-000000000002", true);
        assert_int_equal(loader_device_part_uuid(path, uuid, &e), 0);
        assert_string_equal(uuid, "0B0B0B0B-0000-4000-8000-000000000002");
        write_utf16(path, ESP_B, false);
        assert_int_equal(loader_device_part_uuid(path, uuid, &e), 0);
        assert_string_equal(uuid, ESP_B);
        /* what is not one UUID */
        const char *bad[] = { "", "0b0b0b0b-0000-4000-8000-00000000000", "0b0b0b0b-0000-4000-8000-0000000000021",
                              "0b0b0b0b_0000-4000-8000-000000000002", "0b0b0b0b-0000-4000-8000-00000000000g",
                              "0b0b0b0b-0000-4000-8000-000000000002-0b0b0b0b-0000-4000-8000-000000000002" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                e = (struct ingot_error) { 0 };
                write_utf16(path, bad[i], true);
                assert_int_equal(loader_device_part_uuid(path, uuid, &e), -EBADMSG);
                assert_non_null(strstr(e.message, "holds no partition UUID"));
        }
        /* not ASCII: the first character as U+0130 */
        uint8_t wide[4 + 74] = { 0x07, 0, 0, 0 };
        for (size_t i = 0; i < 36; i++)
                wide[4 + 2 * i] = (uint8_t) ESP_B[i];
        wide[5] = 0x01;
        write_variable(path, wide, sizeof(wide));
        assert_int_equal(loader_device_part_uuid(path, uuid, &e), -EBADMSG);
        /* short of its attributes, an odd byte count, a large file */
        write_variable(path, "\7\0\0", 3);
        assert_int_equal(loader_device_part_uuid(path, uuid, &e), -EBADMSG);
        uint8_t big[4096] = { 0x07 };
        write_variable(path, big, sizeof(big));
        assert_int_equal(loader_device_part_uuid(path, uuid, &e), -EBADMSG);
        unlink(path);
}

static void test_guid_is_valid(void **state) {
        (void) state;
        assert_true(guid_is_valid(GUID_A));
        assert_true(guid_is_valid("677E927F-DE8F-49A1-8F21-AE43F08729FB"));
        assert_false(guid_is_valid(""));
        assert_false(guid_is_valid("677E927F-DE8F-49A1-8F21-AE43F08729F"));
        assert_false(guid_is_valid("677E927F-DE8F-49A1-8F21-AE43F08729FBB"));
        assert_false(guid_is_valid("677E927FDE8F-49A1-8F21-AE43F08729FB0"));
        assert_false(guid_is_valid("{77E927F-DE8F-49A1-8F21-AE43F08729FB"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_disks),
                cmocka_unit_test(test_loader_variable),
                cmocka_unit_test(test_guid_is_valid),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
