/* boot-disk.c: the disk the initrd boots from (see boot-disk.h). Only GPTs are read to find it (and, unpinned,
 * the slots' signature partitions, as the boot reads them anyway); nothing of a disk that is not chosen is
 * written. */
#include <ctype.h>
#include <dirent.h>
#include <string.h>
#include <strings.h>

#include "boot-disk.h"
#include "gpt.h"
#include "slot.h"

bool guid_is_valid(const char *s) {
        for (size_t i = 0; i < 36; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;
                if (dash ? s[i] != '-' : !isxdigit((unsigned char) s[i]))
                        return false;
        }
        return s[36] == 0;
}

int loader_device_part_uuid(const char *path, char ret[37], struct ingot_error *err) {
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        /* 4 bytes of attributes, 36 UTF-16 characters and a NUL; a little more is tolerated and refused below */
        int r = read_file(path, 4 + 2 * 64, &data, &size);
        if (r == -ENOENT)
                return error_set(err, r, "%s: no such variable", path);
        if (r < 0 && r != -EFBIG)
                return error_set(err, r, "%s: %s", path, strerror(-r));
        if (r < 0) /* longer than a partition UUID */
                return error_set(err, -EBADMSG, "%s: holds no partition UUID (%zu bytes)", path, size);
        char text[37];
        size_t n = 0;
        for (size_t i = 4; i + 1 < size; i += 2) {
                unsigned c = (unsigned char) data[i] | (unsigned) (unsigned char) data[i + 1] << 8;
                if (c == 0)
                        break;
                if (c > 0x7f || n == sizeof(text) - 1) {
                        n = 0;
                        break;
                }
                text[n++] = (char) c;
        }
        text[n] = 0;
        if (!guid_is_valid(text))
                return error_set(err, -EBADMSG, "%s: holds no partition UUID (%zu bytes)", path, size);
        memcpy(ret, text, sizeof(text));
        return 0;
}

static int disk_filter(const struct dirent *de) {
        return de->d_name[0] != '.' && strncmp(de->d_name, "loop", 4) != 0 && strncmp(de->d_name, "ram", 3) != 0;
}

static int is_removable(const char *sys_block, const char *name, bool *ret) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        if (asprintf(&path, "%s/%s/removable", sys_block, name) < 0)
                return -ENOMEM;
        int r = read_text_file(path, 16, &text);
        if (r == -ENOMEM)
                return r;
        *ret = r >= 0 && text[0] == '1';
        return 0;
}

/* Whether the disk at node is the one q names (pinned) or has ingot slots (unpinned). */
static int disk_matches(const struct boot_disk_query *q, const char *node, bool *ret) {
        *ret = false;
        if (q->pin == BOOT_DISK_UNPINNED) {
                _cleanup_(slot_table_freep) struct slot_table *t = NULL;
                int r = slot_table_open(node, false, 0, &t, NULL);
                *ret = r >= 0;
                return r == -ENOMEM ? r : 0;
        }
        _cleanup_(gpt_freep) struct gpt *g = NULL;
        int r = gpt_open(node, false, 0, &g, NULL);
        if (r < 0)
                return r == -ENOMEM ? r : 0; /* no disk, no GPT: not this one */
        if (q->pin == BOOT_DISK_GUID)
                *ret = strcasecmp(g->disk_uuid, q->uuid) == 0;
        for (size_t i = 0; q->pin == BOOT_DISK_ESP && i < g->n_parts && !*ret; i++)
                *ret = strcasecmp(g->parts[i].uuid, q->uuid) == 0;
        return 0;
}

static const char *count_word(size_t n) {
        static const char *words[] = { "no", "one", "two", "three", "four" };
        return n < ELEMENTSOF(words) ? words[n] : "many";
}

int boot_disk_find(const struct boot_disk_query *q, char *ret, size_t size, char *how, size_t how_size,
                   struct ingot_error *err) {
        const char *sys_block = q->sys_block ?: "/sys/block", *dev = q->dev ?: "/dev";
        char found[512] = "", removable[512] = "", first[300] = "";
        size_t n_found = 0;
        _cleanup_(dirent_list_done) struct dirent_list l = { 0 };
        l.n = scandir(sys_block, &l.names, disk_filter, alphasort);
        if (l.n < 0)
                return error_set(err, -errno, "%s: %s", sys_block, strerror(errno));
        for (int i = 0; i < l.n; i++) {
                const char *name = l.names[i]->d_name;
                char node[300];
                bool skip = false, match = false;
                int r;
                snprintf(node, sizeof(node), "%s/%s", dev, name);
                if (q->pin == BOOT_DISK_UNPINNED) {
                        r = is_removable(sys_block, name, &skip);
                        if (r < 0)
                                return r;
                        if (skip) {
                                snprintf(removable + strlen(removable), sizeof(removable) - strlen(removable), "%s%s",
                                         *removable ? ", " : "", name);
                                continue;
                        }
                }
                r = disk_matches(q, node, &match);
                if (r < 0)
                        return r;
                if (!match)
                        continue;
                snprintf(found + strlen(found), sizeof(found) - strlen(found), "%s%s", n_found ? ", " : "", name);
                if (!n_found++)
                        snprintf(first, sizeof(first), "%s", node);
        }

        char skipped[700] = "";
        if (*removable)
                snprintf(skipped, sizeof(skipped), "; removable %s skipped: a removable disk boots only when "
                         "ingot.disk= or the boot loader names it", removable);
        if (n_found == 0) {
                if (q->pin == BOOT_DISK_GUID)
                        return error_set(err, -ENODEV, "the boot disk GUID %s (ingot.disk=) did not appear", q->uuid);
                if (q->pin == BOOT_DISK_ESP)
                        return error_set(err, -ENODEV,
                                         "the disk of the ESP the boot loader was started from (LoaderDevicePartUUID "
                                         "%s) did not appear", q->uuid);
                return error_set(err, -ENODEV, "no disk appeared%s", skipped);
        }
        if (n_found > 1) {
                if (q->pin == BOOT_DISK_GUID)
                        return error_set(err, -ENOTUNIQ,
                                         "%s disks carry the boot disk GUID %s (%s): not guessing which one is the "
                                         "boot disk", count_word(n_found), q->uuid, found);
                if (q->pin == BOOT_DISK_ESP)
                        return error_set(err, -ENOTUNIQ,
                                         "%s disks carry the partition UUID %s of the ESP the boot loader was started "
                                         "from (%s): not guessing which one is the boot disk; give ingot.disk=GUID",
                                         count_word(n_found), q->uuid, found);
                return error_set(err, -ENOTUNIQ, "%s disks with ingot slots (%s) and nothing says which: give "
                                 "ingot.disk=GUID", count_word(n_found), found);
        }
        if (q->pin != BOOT_DISK_UNPINNED) { /* the pinned disk must be a disk to boot from: never another one */
                _cleanup_(slot_table_freep) struct slot_table *t = NULL;
                struct ingot_error e = { 0 };
                int r = slot_table_open(first, false, 0, &t, &e);
                if (r < 0)
                        return error_set(err, r == -ENOMEM ? r : -EMEDIUMTYPE, "the boot disk (%s%s) cannot be "
                                         "booted: %s", q->pin == BOOT_DISK_GUID ? "ingot.disk=" : "LoaderDevicePartUUID ",
                                         q->uuid, e.message);
        }
        if (strlen(first) >= size)
                return error_set(err, -ENAMETOOLONG, "%s: too long a device name", first);
        memcpy(ret, first, strlen(first) + 1);
        if (q->pin == BOOT_DISK_GUID)
                snprintf(how, how_size, "ingot.disk=%s", q->uuid);
        else if (q->pin == BOOT_DISK_ESP)
                snprintf(how, how_size, "the ESP the boot loader was started from, LoaderDevicePartUUID %s", q->uuid);
        else
                snprintf(how, how_size, "the only non-removable disk with ingot slots, and nothing names one%s%s%s",
                         *removable ? "; removable " : "", removable, *removable ? " skipped" : "");
        return 0;
}
