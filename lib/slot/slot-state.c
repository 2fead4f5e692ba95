/* slot-state.c: slot attribute bits, state words and the boot choice; pure, so that the initrd and
 * the unit tests run exactly the code `ingot slot next` runs. */
#include <stdio.h>
#include <string.h>

#include "slot-state.h"

void slot_attrs_decode(uint64_t attrs, struct slot_attrs *ret) {
        ret->priority = (unsigned) (attrs >> SLOT_PRIORITY_SHIFT) & 15;
        ret->tries = (unsigned) (attrs >> SLOT_TRIES_SHIFT) & 15;
        ret->successful = (attrs >> SLOT_SUCCESSFUL_BIT) & 1;
        ret->failure = (enum slot_failure) ((attrs >> SLOT_FAILURE_SHIFT) & 3);
}

uint64_t slot_attrs_encode(uint64_t attrs, const struct slot_attrs *a) {
        attrs &= ~((UINT64_C(0x7ff)) << SLOT_PRIORITY_SHIFT);
        attrs |= (uint64_t) (a->priority > SLOT_MAX ? SLOT_MAX : a->priority) << SLOT_PRIORITY_SHIFT;
        attrs |= (uint64_t) (a->tries > SLOT_MAX ? SLOT_MAX : a->tries) << SLOT_TRIES_SHIFT;
        attrs |= (uint64_t) (a->successful ? 1 : 0) << SLOT_SUCCESSFUL_BIT;
        attrs |= (uint64_t) (a->failure & 3) << SLOT_FAILURE_SHIFT;
        return attrs;
}

static const struct {
        const char *word, *words;
} failures[] = {
        [SLOT_FAILURE_NONE] = { "priority-0", "priority 0" },
        [SLOT_FAILURE_MARKED] = { "marked-bad", "marked bad by ingot slot mark-bad" },
        [SLOT_FAILURE_INITRD] = { "initrd", "the initrd could not boot it under its own kernel and command line" },
        [SLOT_FAILURE_CORRUPTED] = { "corrupted", "dm-verity found a corrupted block while it ran" },
};

const char *slot_failure_describe(const struct slot_attrs *a, bool installed) {
        if (!installed || (a->priority > 0 && (a->successful || a->tries > 0)))
                return NULL;
        if (a->priority > 0)
                return "out of tries";
        return failures[a->failure & 3].words;
}

const char *slot_failure_to_string(const struct slot_attrs *a, bool installed) {
        if (!slot_failure_describe(a, installed))
                return NULL;
        return a->priority > 0 ? "out-of-tries" : failures[a->failure & 3].word;
}

const char *slot_state_to_string(enum slot_state s) {
        switch (s) {
        case SLOT_EMPTY:
                return "empty";
        case SLOT_BAD:
                return "bad";
        case SLOT_TRYING:
                return "trying";
        case SLOT_GOOD:
                return "good";
        }
        return "?";
}

bool slot_bootable(const struct slot_attrs *a, bool installed) {
        return installed && a->priority > 0 && (a->successful || a->tries > 0);
}

enum slot_state slot_state_of(const struct slot_attrs *a, bool installed) {
        if (!installed)
                return SLOT_EMPTY;
        if (!slot_bootable(a, installed))
                return SLOT_BAD;
        return a->successful ? SLOT_GOOD : SLOT_TRYING;
}

/* Why a slot was passed over, for the reason line. */
static void describe(const struct slot_candidate *c, char *buf, size_t size) {
        if (!c->installed && c->unreadable)
                snprintf(buf, size, "%c's signature partition is unreadable", c->name);
        else if (!c->installed)
                snprintf(buf, size, "%c is empty", c->name);
        else if (!slot_bootable(&c->attrs, c->installed))
                snprintf(buf, size, "%c is bad (%s)", c->name, slot_failure_describe(&c->attrs, c->installed));
        else
                snprintf(buf, size, "%c has priority %u", c->name, c->attrs.priority);
}

void slot_choose(const struct slot_candidate *slots, size_t n, struct slot_choice *ret) {
        int best = -1;
        for (size_t i = 0; i < n; i++) {
                const struct slot_candidate *c = &slots[i];
                if (!slot_bootable(&c->attrs, c->installed))
                        continue;
                if (best < 0 || c->attrs.priority > slots[best].attrs.priority ||
                    (c->attrs.priority == slots[best].attrs.priority && c->attrs.successful &&
                     !slots[best].attrs.successful))
                        best = (int) i;
        }
        *ret = (struct slot_choice) { .index = best };
        char others[320] = "";
        for (size_t i = 0; i < n; i++) {
                if ((int) i == best)
                        continue;
                char one[160];
                describe(&slots[i], one, sizeof(one));
                size_t len = strlen(others);
                snprintf(others + len, sizeof(others) - len, "%s%s", len ? ", " : "", one);
        }
        if (best < 0) {
                snprintf(ret->reason, sizeof(ret->reason), "no bootable slot: %s", others);
                return;
        }
        const struct slot_candidate *b = &slots[best];
        ret->count_try = !b->attrs.successful;
        if (b->attrs.successful)
                snprintf(ret->reason, sizeof(ret->reason), "%c is good with priority %u%s%s", b->name,
                         b->attrs.priority, *others ? "; " : "", others);
        else
                snprintf(ret->reason, sizeof(ret->reason), "%c is on trial with %u %s left, priority %u%s%s", b->name,
                         b->attrs.tries, b->attrs.tries == 1 ? "try" : "tries", b->attrs.priority,
                         *others ? "; " : "", others);
}
