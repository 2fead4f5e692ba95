/* verity-watch.h: the process that outlives the initrd and watches the booted slot's dm-verity device; the
 * first corrupted block the kernel reports marks the slot bad (when the other one can boot) and restarts. */
#pragma once

#include <sys/types.h>

/* Listens (before it returns) for the kernel's DM_VERITY_ERR_BLOCK_NR uevents of the device dm (the
 * slot's root), then forks the watcher; -errno when it could not start (said through report). Called
 * after the switch to the slot's root, so that disk is the path the running system knows. */
int verity_watch_start(const char *disk, char slot, dev_t dm, void (*report)(const char *line));
