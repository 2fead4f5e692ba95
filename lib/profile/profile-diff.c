/* profile-diff.c: what changes between two host profiles, and for each whether a running host can
 * take it live or only from the next boot (the knowledge `ingot profile explain` prints). */
#include <string.h>

#include "profile.h"

const char *profile_change_kind_name(enum profile_change_kind kind) {
        static const char *const names[] = {
                [CHANGE_PARAM] = "kernel parameter",
                [CHANGE_DEFAULT_PAGE_SIZE] = "default huge page size",
                [CHANGE_PAGES] = "huge pages",
                [CHANGE_SYSCTL] = "sysctl",
        };
        return names[kind];
}

struct changes {
        struct profile_change *c;
        size_t n;
};

static int add(struct changes *cs, enum profile_change_kind kind, const char *name, const char *old_value,
               const char *old_where, const char *new_value, const char *new_where) {
        struct profile_change *grown = reallocarray(cs->c, cs->n + 1, sizeof(*grown));
        if (!grown)
                return -ENOMEM;
        cs->c = grown;
        struct profile_change *c = &cs->c[cs->n++];
        *c = (struct profile_change) { .kind = kind, .old_where = old_where, .new_where = new_where };
        snprintf(c->name, sizeof(c->name), "%s", name);
        c->old_value = old_value ? strdup(old_value) : NULL;
        c->new_value = new_value ? strdup(new_value) : NULL;
        if ((old_value && !c->old_value) || (new_value && !c->new_value))
                return -ENOMEM;
        switch (kind) {
        case CHANGE_PARAM:
                c->apply = APPLY_REBOOT;
                c->why = "the kernel reads its command line once, at boot";
                break;
        case CHANGE_DEFAULT_PAGE_SIZE:
                c->apply = APPLY_REBOOT;
                c->why = "default_hugepagesz= is a boot parameter";
                break;
        case CHANGE_PAGES:
                if (strncmp(name, "1G", 2) == 0) {
                        c->apply = APPLY_REBOOT;
                        c->why = "1G pages are reserved at boot (hugepagesz=1G hugepages=N): later, memory is too "
                                 "fragmented to find them";
                } else {
                        c->apply = APPLY_LIVE;
                        c->why = "nr_hugepages in sysfs; a busy host may find fewer free 2M blocks than asked";
                }
                break;
        case CHANGE_SYSCTL:
                if (new_value) {
                        c->apply = APPLY_LIVE;
                        c->why = "written to /proc/sys now, and kept in /etc/sysctl.d for the next boots";
                } else {
                        c->apply = APPLY_REBOOT;
                        c->why = "nothing to write live: the kernel's default returns at the next boot";
                }
                break;
        }
        return 0;
}

static const char *param_value(const struct profile_entry *p) {
        return p->value ?: "";
}

static int diff_params(const struct profile *a, const struct profile *b, struct changes *cs) {
        for (size_t i = 0; i < a->n_params; i++) {
                const struct profile_entry *pa = &a->params[i], *pb = NULL;
                for (size_t j = 0; j < b->n_params && !pb; j++)
                        if (strcmp(b->params[j].key, pa->key) == 0)
                                pb = &b->params[j];
                if (pb && streq_ptr(pa->value, pb->value))
                        continue;
                int q = add(cs, CHANGE_PARAM, pa->key, param_value(pa), pa->where, pb ? param_value(pb) : NULL,
                            pb ? pb->where : NULL);
                if (q < 0)
                        return q;
        }
        for (size_t j = 0; j < b->n_params; j++) {
                bool in_a = false;
                for (size_t i = 0; i < a->n_params && !in_a; i++)
                        in_a = strcmp(a->params[i].key, b->params[j].key) == 0;
                int q = in_a ? 0 : add(cs, CHANGE_PARAM, b->params[j].key, NULL, NULL, param_value(&b->params[j]),
                                       b->params[j].where);
                if (q < 0)
                        return q;
        }
        return 0;
}

static const struct profile_pages *find_pages(const struct profile *p, uint64_t size, int node) {
        for (size_t i = 0; i < p->n_pages; i++)
                if (p->pages[i].size == size && p->pages[i].node == node)
                        return &p->pages[i];
        return NULL;
}

static int pages_change(struct changes *cs, const struct profile_pages *pa, const struct profile_pages *pb) {
        const struct profile_pages *any = pa ?: pb;
        char name[64], size[32], old_count[32], new_count[32];
        page_size_format(any->size, size);
        if (any->node >= 0)
                snprintf(name, sizeof(name), "%s@%d", size, any->node);
        else
                snprintf(name, sizeof(name), "%s", size);
        snprintf(old_count, sizeof(old_count), "%llu", pa ? (unsigned long long) pa->count : 0ULL);
        snprintf(new_count, sizeof(new_count), "%llu", pb ? (unsigned long long) pb->count : 0ULL);
        return add(cs, CHANGE_PAGES, name, pa ? old_count : NULL, pa ? pa->where : NULL, pb ? new_count : NULL,
                   pb ? pb->where : NULL);
}

static int diff_pages(const struct profile *a, const struct profile *b, struct changes *cs) {
        if (a->default_page_size != b->default_page_size) {
                char sa[32], sb[32];
                page_size_format(a->default_page_size, sa);
                page_size_format(b->default_page_size, sb);
                int q = add(cs, CHANGE_DEFAULT_PAGE_SIZE, "", a->default_page_size ? sa : NULL,
                            a->default_page_size_where, b->default_page_size ? sb : NULL, b->default_page_size_where);
                if (q < 0)
                        return q;
        }
        for (size_t i = 0; i < a->n_pages; i++) {
                const struct profile_pages *pb = find_pages(b, a->pages[i].size, a->pages[i].node);
                if (pb && pb->count == a->pages[i].count)
                        continue;
                int q = pages_change(cs, &a->pages[i], pb);
                if (q < 0)
                        return q;
        }
        for (size_t j = 0; j < b->n_pages; j++) {
                if (find_pages(a, b->pages[j].size, b->pages[j].node))
                        continue;
                int q = pages_change(cs, NULL, &b->pages[j]);
                if (q < 0)
                        return q;
        }
        return 0;
}

static const struct profile_entry *find_sysctl(const struct profile *p, const char *name) {
        for (size_t i = 0; i < p->n_sysctls; i++)
                if (strcmp(p->sysctls[i].key, name) == 0)
                        return &p->sysctls[i];
        return NULL;
}

static int diff_sysctls(const struct profile *a, const struct profile *b, struct changes *cs) {
        for (size_t i = 0; i < a->n_sysctls; i++) {
                const struct profile_entry *sa = &a->sysctls[i], *sb = find_sysctl(b, sa->key);
                if (sb && strcmp(sa->value, sb->value) == 0)
                        continue;
                int q = add(cs, CHANGE_SYSCTL, sa->key, sa->value, sa->where, sb ? sb->value : NULL,
                            sb ? sb->where : NULL);
                if (q < 0)
                        return q;
        }
        for (size_t j = 0; j < b->n_sysctls; j++) {
                if (find_sysctl(a, b->sysctls[j].key))
                        continue;
                int q = add(cs, CHANGE_SYSCTL, b->sysctls[j].key, NULL, NULL, b->sysctls[j].value,
                            b->sysctls[j].where);
                if (q < 0)
                        return q;
        }
        return 0;
}

void profile_changes_free(struct profile_change *c, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(c[i].old_value);
                free(c[i].new_value);
        }
        free(c);
}

static void changes_free(struct changes *cs) {
        profile_changes_free(cs->c, cs->n);
}

int profile_diff(const struct profile *a, const struct profile *b, struct profile_change **ret, size_t *ret_n) {
        _cleanup_(changes_free) struct changes cs = { 0 };
        int q = diff_params(a, b, &cs);
        if (q < 0)
                return q;
        q = diff_pages(a, b, &cs);
        if (q < 0)
                return q;
        q = diff_sysctls(a, b, &cs);
        if (q < 0)
                return q;
        *ret = cs.c;
        *ret_n = cs.n;
        cs = (struct changes) { 0 }; /* ret's now */
        return 0;
}
