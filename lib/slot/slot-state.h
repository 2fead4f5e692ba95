/* slot-state.h: the A/B boot state of a slot as GPT attribute bits 48-58 (priority, tries left,
 * successful, why it was marked bad), its state word, and the choice of the slot to boot, shared by
 * `ingot slot` and the initrd. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLOT_PRIORITY_SHIFT 48
#define SLOT_TRIES_SHIFT 52
#define SLOT_SUCCESSFUL_BIT 56
#define SLOT_FAILURE_SHIFT 57 /* two bits: enum slot_failure */
#define SLOT_MAX 15 /* priority and tries are four bits each */

/* Why a slot was marked bad (priority 0), kept beside the bits so that `ingot slot status` can say it
 * after the boot that found it. Whatever changes the slot's state otherwise clears it. */
enum slot_failure {
        SLOT_FAILURE_NONE,      /* not marked bad, or by an ingot older than the field */
        SLOT_FAILURE_MARKED,    /* `ingot slot mark-bad`: its health check, or someone, said so */
        SLOT_FAILURE_INITRD,    /* the initrd could not boot it under its own kernel and command line */
        SLOT_FAILURE_CORRUPTED, /* dm-verity found a corrupted block while it ran */
};

struct slot_attrs {
        unsigned priority; /* 0: never boot */
        unsigned tries;    /* boots left before the slot counts as bad, while not successful */
        bool successful;   /* booted and marked good */
        enum slot_failure failure;
};

void slot_attrs_decode(uint64_t gpt_attrs, struct slot_attrs *ret);
/* gpt_attrs with bits 48-56 replaced; the other bits (DPS flags 59-63, bit 0...) are kept. */
uint64_t slot_attrs_encode(uint64_t gpt_attrs, const struct slot_attrs *a);
/* Why an installed slot is bad, in words ("out of tries", "dm-verity found a corrupted block while it
 * ran", ...), or NULL when it is not bad. */
const char *slot_failure_describe(const struct slot_attrs *a, bool installed);
/* The same as one word for programs: "out-of-tries", "marked-bad", "initrd", "corrupted", "priority-0". */
const char *slot_failure_to_string(const struct slot_attrs *a, bool installed);

enum slot_state {
        SLOT_EMPTY,  /* no image installed (no signature in its signature partition) */
        SLOT_BAD,    /* installed, but priority 0 or out of tries without success */
        SLOT_TRYING, /* on trial: tries left, not yet marked good */
        SLOT_GOOD,   /* booted and marked good */
};

const char *slot_state_to_string(enum slot_state s);
enum slot_state slot_state_of(const struct slot_attrs *a, bool installed);
bool slot_bootable(const struct slot_attrs *a, bool installed);

struct slot_candidate {
        char name; /* 'a', 'b' */
        struct slot_attrs attrs;
        bool installed;
        bool unreadable; /* not installed: its signature partition holds neither zeros nor a payload */
};

struct slot_choice {
        int index;      /* into the candidates; -1: nothing is bootable */
        bool count_try; /* the slot is on trial: decrement its tries before booting it */
        char reason[384];
};

/* The slot to boot: the bootable one (installed, priority > 0, successful or tries left) with the
 * highest priority; on equal priority a good slot before one on trial, then the first. */
void slot_choose(const struct slot_candidate *slots, size_t n, struct slot_choice *ret);
