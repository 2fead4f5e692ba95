/* boot-disk.h: which disk the initrd boots from. Pinned by the kernel command line (ingot.disk=GUID, the
 * GPT disk GUID) or else by the boot loader (its LoaderDevicePartUUID EFI variable: the disk holding the
 * ESP it was started from); with neither, the one non-removable disk with ingot slots. Never a guess
 * between two disks, and never another disk than the pinned one. */
#pragma once

#include "util.h"

/* The Boot Loader Interface's variable (systemd-boot sets it), as efivarfs names it */
#define LOADER_DEVICE_PART_UUID_VARIABLE "LoaderDevicePartUUID-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"

enum boot_disk_pin {
        BOOT_DISK_UNPINNED, /* the only non-removable disk with ingot slots */
        BOOT_DISK_GUID,     /* ingot.disk=GUID: the disk whose GPT has that disk GUID */
        BOOT_DISK_ESP,      /* LoaderDevicePartUUID: the disk with a partition of that UUID */
};

struct boot_disk_query {
        enum boot_disk_pin pin;
        char uuid[37];         /* BOOT_DISK_GUID: the disk GUID; BOOT_DISK_ESP: the ESP's partition UUID */
        const char *sys_block; /* NULL: /sys/block */
        const char *dev;       /* NULL: /dev */
};

/* Whether s is a GUID as GPT tools write them: 8-4-4-4-12 hex digits, either case. */
bool guid_is_valid(const char *s);

/* The partition UUID in LoaderDevicePartUUID as efivarfs shows it at path: 4 attribute bytes, then UTF-16LE
 * text, NUL-terminated or not. -ENOENT when there is no such file; -EBADMSG when it holds no GUID. */
int loader_device_part_uuid(const char *path, char ret[37], struct ingot_error *err);

/* One look at the disks under sys_block, each opened as dev/NAME: on 0, ret is that node and how says how it
 * was chosen ("ingot.disk=GUID", ...). -ENODEV when it is not there (yet): err then says what to tell when
 * the wait for it ends. Other errors are final: two disks that could be it (-ENOTUNIQ: unpinned, two
 * non-removable disks with ingot slots; pinned, two disks with the GUID), or a pinned disk without ingot
 * slots (-EMEDIUMTYPE). Unpinned, a removable disk (sys_block/NAME/removable) is not even opened; pinned,
 * only its GPT is read until one matches. */
int boot_disk_find(const struct boot_disk_query *q, char *ret, size_t size, char *how, size_t how_size,
                   struct ingot_error *err);
