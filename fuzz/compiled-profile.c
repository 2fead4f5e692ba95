/* fuzz/compiled-profile.c: a compiled host profile (NAME.profile.json, an image's /usr/lib/ingot/profile.json,
 * a slot's ingotProfile) read by profile_compiled_parse, then walked with the json-c calls the initrd's
 * boot/profile-apply.c makes on what it accepts (that code writes /proc/sys and sysfs, so it is not linked). */
#include <json-c/json.h>

#include "fuzz.h"
#include "profile.h"

/* apply_sysctls and apply_pages, without the writes: json-c aborts on an array call on a non-array. */
static void walk(json_object *j) {
        json_object *list, *v;
        if (json_object_object_get_ex(j, "sysctl", &list))
                for (size_t i = 0; list && i < json_object_array_length(list); i++) {
                        json_object *pair = json_object_array_get_idx(list, i);
                        const char *key = json_object_get_string(json_object_array_get_idx(pair, 0));
                        const char *value = json_object_get_string(json_object_array_get_idx(pair, 1));
                        if (!key || !value)
                                abort(); /* the parser promised string pairs */
                }
        if (json_object_object_get_ex(j, "runtime_hugepages", &list))
                for (size_t i = 0; list && i < json_object_array_length(list); i++) {
                        json_object *o = json_object_array_get_idx(list, i);
                        int64_t size = json_object_object_get_ex(o, "size", &v) ? json_object_get_int64(v) : 0;
                        char s[32];
                        if (size > 0)
                                page_size_format((uint64_t) size, s);
                        (void) (json_object_object_get_ex(o, "count", &v) ? json_object_get_int64(v) : -1);
                        (void) (json_object_object_get_ex(o, "node", &v) && v ? json_object_get_int(v) : -1);
                }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = malloc(size + 1); /* every reader hands it NUL-terminated text */
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0;
        json_object *j;
        const char *name, *cmdline;
        struct ingot_error err = { 0 };
        if (profile_compiled_parse(text, "profile.json", &j, &name, &cmdline, &err) == 0) {
                if (!name || !cmdline)
                        abort();
                walk(j);
                json_object_put(j);
        }
        free(text);
        return 0;
}
