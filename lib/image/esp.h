/* esp.h: the ESP of an ingot disk: FAT32 made by mkfs.vfat and filled by mtools (no mount): systemd-boot,
 * its loader.conf, the boot kernel and ingot initrd, a default entry and one rescue entry per slot. */
#pragma once

#include "ingot.h"
#include "util.h"

#define ESP_LOADER_DEFAULT "/usr/lib/systemd/boot/efi/systemd-bootx64.efi"

/* Formats [offset, offset + size) of the disk image at path as FAT32; volid: 8 hex digits. */
int esp_format(const char *path, uint64_t offset, uint64_t size, const char *volid, struct ingot_error *err);

/* Fills the ESP at offset with o->boot_kernel, o->boot_initrd, o->loader (or ESP_LOADER_DEFAULT) and
 * the entries (o->cmdline on each, and ingot.disk=DISK_UUID unless o->cmdline has an ingot.disk= of its
 * own); temporary files go to dir. Same inputs, same bytes. */
int esp_fill(const char *path, uint64_t offset, const struct ingot_disk_options *o, const char *disk_uuid,
             const char *dir, struct ingot_error *err);
