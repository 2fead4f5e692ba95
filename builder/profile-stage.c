/* profile-stage.c: the Profile= stage: the recipe's host profile compiled into PROFILE_IN_IMAGE, and
 * the written image checked against it (a kernel to restart into for its parameters: profile-compile.c). */
#include <string.h>

#include "json-util.h"
#include "os-release.h"
#include "profile-stage.h"
#include "profile.h"

/* The compiled profile's kernel command line, as the initrd will read it back. */
static int compiled_cmdline(const char *json, char **ret, struct ingot_error *err) {
        _cleanup_json_ json_object *j = NULL;
        const char *name, *cmdline;
        int q = profile_compiled_parse(json, PROFILE_IN_IMAGE, &j, &name, &cmdline, err);
        if (q < 0)
                return q;
        *ret = strdup(cmdline);
        return *ret ? 0 : -ENOMEM;
}

int profile_write(struct build *b) {
        const char *path = b->recipe->profile;
        if (!path)
                return 0;
        _cleanup_(profile_freep) struct profile *p = NULL;
        int q = profile_load(path, &p, b->err);
        if (q < 0)
                return q;
        for (char **w = p->warnings; w && *w; w++) {
                q = strv_extend(&b->warnings, *w);
                if (q < 0)
                        return q;
        }
        _cleanup_free_ char *name = profile_name(path), *json = NULL;
        if (!name)
                return -ENOMEM;
        q = profile_compile(p, name, NULL, &json, b->err);
        if (q < 0)
                return q;
        q = compiled_cmdline(json, &b->profile_cmdline, b->err);
        if (q < 0)
                return q;
        size_t size = strlen(json);
        return build_put_generated(b, PROFILE_IN_IMAGE, TAKE_PTR(json), size);
}

int profile_check_image(struct build *b, int fd, uint64_t size) {
        const struct ingot_recipe *r = b->recipe;
        if (!b->profile_cmdline)
                return 0;
        _cleanup_free_ char *what = NULL, *image = NULL;
        if (asprintf(&what, "%s: Profile=%s", r->profile_where, r->profile) < 0 ||
            asprintf(&image, "%s %s", r->name, r->version) < 0)
                return -ENOMEM;
        struct ingot_error e = { 0 };
        int q = profile_restart_check(what, b->profile_cmdline, fd, 0, size, NULL, image,
                                      "booted through the ingot initrd, every try would fail its health check, "
                                      "unless the boot loader passes those parameters itself", &e);
        if (q == -ENOEXEC)
                return strv_extend(&b->warnings, e.message);
        return q < 0 ? error_set(b->err, q, "%s: reading the image back: %s", r->name, e.code ? e.message : strerror(-q))
                     : 0;
}
