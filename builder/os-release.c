/* os-release.c: /usr/lib/os-release with the image's identity (ID, VERSION_ID, IMAGE_ID, IMAGE_VERSION)
 * merged into what the base ships, and /etc/os-release pointing at it. */
#include <string.h>

#include "os-release.h"


int build_put_generated(struct build *b, const char *path, char *text, size_t size) {
        struct node *n;
        _cleanup_free_ char *conflict = NULL;
        int q = tree_put(b->tree, path, S_IFREG | 0644, TREE_REPLACE | TREE_FOLLOW_SYMLINKS, &n, &conflict);
        if (q < 0) {
                free(text);
                return error_set(b->err, q, "cannot write %s: %s%s%s", path, strerror(-q), conflict ? ": " : "",
                                 conflict ?: "");
        }
        n->mode = S_IFREG | 0644;
        n->uid = n->gid = 0;
        n->mtime = b->default_mtime;
        node_clear_xattrs(n);
        free(n->memory);
        n->memory = text;
        n->size = size;
        n->data = DATA_MEMORY;
        return 0;
}

bool build_captures(const struct build *b, const char *path) {
        return (b->recipe->os_release && (strcmp(path, OS_RELEASE) == 0 || strcmp(path, ETC_OS_RELEASE) == 0)) ||
               strcmp(path, DPKG_STATUS) == 0;
}

static int read_host_text(struct build *b, const char *path, char **ret) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return error_set(b->err, -errno, "%s: %s", path, strerror(errno));
        char *buf = malloc(CAPTURE_MAX + 1);
        if (!buf)
                return -ENOMEM;
        size_t n = fread(buf, 1, CAPTURE_MAX, f);
        buf[n] = 0;
        *ret = buf;
        return 0;
}

int build_captured_text(struct build *b, const char *path, char **ret) {
        *ret = NULL;
        struct node *n = tree_lookup(b->tree, path);
        if (!n || !S_ISREG(node_inode(n)->mode))
                return 0;
        n = node_inode(n);
        if (n->memory)
                return (*ret = strdup(n->memory)) ? 0 : -ENOMEM;
        if (n->data == DATA_HOST)
                return read_host_text(b, n->host_path, ret);
        return 0;
}

/* The os-release the base (or a Copy=) put in place, or an empty one. */
static int current_text(struct build *b, char **ret) {
        const char *paths[] = { ETC_OS_RELEASE, OS_RELEASE };
        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                int r = build_captured_text(b, paths[i], ret);
                if (r < 0 || *ret)
                        return r;
        }
        return (*ret = strdup("")) ? 0 : -ENOMEM;
}

static bool is_key(const char *line, const char *key) {
        size_t n = strlen(key);
        return strncmp(line, key, n) == 0 && line[n] == '=';
}

int os_release_write(struct build *b) {
        const struct ingot_recipe *r = b->recipe;
        if (!r->os_release)
                return 0;
        _cleanup_free_ char *old = NULL;
        int q = current_text(b, &old);
        if (q < 0)
                return q;

        struct {
                const char *key;
                const char *value; /* NULL: keep the base's, add when missing */
                const char *fallback;
                bool seen;
                bool ingots; /* only ever what this recipe says: the base's line is dropped, none when NULL */
        } fields[] = {
                { "NAME", NULL, r->name, false, false },
                { "ID", r->os_id, r->name, false, false },
                { "VERSION_ID", r->os_version_id, r->version, false, false },
                { "IMAGE_ID", r->name, NULL, false, false },
                { "IMAGE_VERSION", r->version, NULL, false, false },
                /* the slot policy (docs/slots.md): ingot's own fields, named as os-release(5) asks */
                { "INGOT_MIN_VERSION", r->min_version, NULL, false, true },
                { "INGOT_SLOT_PROFILE", r->slot_profile_required ? "required" : NULL, NULL, false, true },
                { "INGOT_VAR_NOEXEC", r->var_noexec ? "yes" : NULL, NULL, false, true },
        };

        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        char *save = NULL;
        for (char *line = strtok_r(old, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                bool replaced = false;
                for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                        if (is_key(line, fields[i].key)) {
                                fields[i].seen = true;
                                if (fields[i].ingots)
                                        replaced = true;
                                else if (fields[i].value) {
                                        fprintf(f, "%s=%s\n", fields[i].key, fields[i].value);
                                        replaced = true;
                                }
                        }
                if (!replaced)
                        fprintf(f, "%s\n", line);
        }
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (fields[i].ingots ? fields[i].value != NULL : !fields[i].seen)
                        fprintf(f, "%s=%s\n", fields[i].key, fields[i].value ?: fields[i].fallback);
        if (fclose(f) != 0) {
                free(text);
                return -ENOMEM;
        }

        q = build_put_generated(b, OS_RELEASE, text, size);
        if (q < 0)
                return q;

        struct node *n;
        _cleanup_free_ char *conflict = NULL;
        q = tree_put(b->tree, ETC_OS_RELEASE, S_IFLNK | 0777, TREE_REPLACE | TREE_FOLLOW_SYMLINKS, &n, &conflict);
        if (q < 0)
                return error_set(b->err, q, "cannot write %s: %s%s%s", ETC_OS_RELEASE, strerror(-q),
                                 conflict ? ": " : "", conflict ?: "");
        n->uid = n->gid = 0;
        n->mtime = b->default_mtime;
        free(n->symlink_target);
        n->symlink_target = strdup("../usr/lib/os-release");
        return n->symlink_target ? 0 : -ENOMEM;
}
