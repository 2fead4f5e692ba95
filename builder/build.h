/* build.h: `ingot build`: a recipe compiled into its artifacts, as a root image or, with the stages a
 * caller (sysext/) hands over, as a layer. */
#pragma once

#include "stage.h"

/* Compiles recipe r into its artifacts: a root image, or with layer a layer. */
int build_run(const struct ingot_recipe *r, const struct ingot_build_options *o, const struct build_layer *layer,
              struct ingot_build_result *ret, struct ingot_error *err);
