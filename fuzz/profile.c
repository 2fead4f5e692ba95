/* fuzz/profile.c: a host profile loaded, printed back as INI and JSON, and compiled to the JSON a
 * signature covers, as `ingot profile show` and `ingot profile compile` do; that JSON must parse back. */
#include <json-c/json.h>

#include "fuzz.h"
#include "profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *path = fuzz_file("host.conf", data, size);
        struct profile *p = NULL;
        struct ingot_error err = { 0 };
        if (profile_load(path, &p, &err) == 0) {
                char *text = NULL;
                if (profile_to_ini(p, &text) == 0)
                        free(text);
                json_object_put(profile_to_json(p));
                text = NULL;
                if (profile_compile(p, "host", NULL, &text, &err) == 0) {
                        json_object *j;
                        const char *name, *cmdline;
                        if (profile_compiled_parse(text, "host.profile.json", &j, &name, &cmdline, &err) != 0)
                                abort(); /* what `ingot profile compile` writes, the initrd must read */
                        json_object_put(j);
                        free(text);
                }
                profile_free(p);
        }
        return 0;
}
