/* layer.c: `ingot sysext build`: a layer recipe through the recipe compiler's pipeline, with the layer's
 * stages (extension-release, /usr and /opt only), its check against the base and its manifest object. */
#include <json-c/json.h>
#include <string.h>

#include "build.h"
#include "manifest.h"
#include "sysext.h"

/* What a layer is for: its extension-release, scope, level, what may shadow, and its base image. */
static json_object *manifest_extension(struct build *build) {
        const struct ingot_recipe *r = build->recipe;
        const struct sysext_base *base = build->layer->userdata;
        json_object *e = json_object_new_object();
        json_object_object_add(e, "format", json_object_new_string(build->layer->ddi ? "ddi" : "raw"));
        char file[300];
        snprintf(file, sizeof(file), "extension-release.%s", r->name);
        json_object_object_add(e, "release_file", json_object_new_string(file));
        json_object *rel = json_object_new_object();
        _cleanup_free_ char *text = NULL;
        if (sysext_release_text(r, base, &text) >= 0) {
                char *save = NULL;
                for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                        char *eq = strchr(line, '=');
                        if (eq) {
                                *eq = 0;
                                json_object_object_add(rel, line, json_object_new_string(eq + 1));
                        }
                }
        }
        json_object_object_add(e, "release", rel);
        json_object *scopes = r->sysext_scopes ? manifest_strv_array(r->sysext_scopes) : json_object_new_array();
        if (!r->sysext_scopes)
                json_object_array_add(scopes, json_object_new_string("system"));
        json_object_object_add(e, "scope", scopes);
        json_object_object_add(e, "level", r->sysext_level ? json_object_new_string(r->sysext_level) : NULL);
        json_object_object_add(e, "allow_shadow", manifest_strv_array(r->shadow_allowed));
        json_object *b = json_object_new_object();
        json_object_object_add(b, "name", json_object_new_string(base->name));
        json_object_object_add(b, "version", json_object_new_string(base->version));
        json_object_object_add(b, "root_hash", base->root_hash ? json_object_new_string(base->root_hash) : NULL);
        json_object_object_add(b, "manifest_sha256", json_object_new_string(base->manifest_sha256));
        json_object_object_add(e, "base", b);
        return e;
}

int ingot_sysext_build(const struct ingot_recipe *r, const struct ingot_build_options *o,
                       const struct ingot_sysext_options *sx, struct ingot_build_result *ret, struct ingot_error *err) {
        if (!r->extension)
                return error_set(err, -EINVAL, "%s: not a layer recipe: it has no [Extension] section", r->path);
        const char *manifest = sx->base_manifest ?: r->sysext_base;
        if (!manifest)
                return error_set(err, -EINVAL, "%s: no base image: give --base BASE.manifest.json or [Extension] Base=",
                                 r->path);
        struct sysext_base base;
        int q = sysext_base_load(manifest, &base, err);
        if (q < 0)
                return q;
        static const build_stage_fn stages[] = { sysext_release_write, sysext_check_tree };
        struct build_layer layer = {
                .stages = stages,
                .n_stages = ELEMENTSOF(stages),
                .check_image = sysext_check_shadowing,
                .manifest_extension = manifest_extension,
                .architecture = base.architecture,
                .ddi = sx->format == INGOT_LAYER_DDI,
                .userdata = &base,
        };
        q = build_run(r, o, &layer, ret, err);
        sysext_base_clear(&base);
        return q;
}
