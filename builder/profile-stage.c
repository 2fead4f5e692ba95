/* profile-stage.c: the Profile= stage: the recipe's host profile compiled into PROFILE_IN_IMAGE, and
 * the written image checked against it (a kernel to restart into for its parameters: profile-compile.c). */
#include <json-c/json.h>
#include <string.h>

#include "os-release.h"
#include "profile-stage.h"
#include "profile.h"

int profile_write(struct build *b) {
        const char *path = b->recipe->profile;
        if (!path)
                return 0;
        struct profile *p = NULL;
        int q = profile_load(path, &p, b->err);
        if (q < 0)
                return q;
        for (char **w = p->warnings; q >= 0 && w && *w; w++)
                q = strv_extend(&b->warnings, *w);
        _cleanup_free_ char *name = profile_name(path);
        char *json = NULL;
        if (q >= 0)
                q = name ? profile_compile(p, name, NULL, &json, b->err) : -ENOMEM;
        profile_free(p);
        json_object *j;
        const char *compiled_name, *cmdline;
        if (q >= 0 && (q = profile_compiled_parse(json, PROFILE_IN_IMAGE, &j, &compiled_name, &cmdline, b->err)) >= 0) {
                b->profile_cmdline = strdup(cmdline);
                json_object_put(j);
                q = b->profile_cmdline ? 0 : -ENOMEM;
        }
        if (q < 0) {
                free(json);
                return q;
        }
        return build_put_generated(b, PROFILE_IN_IMAGE, json, strlen(json));
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
