/* json-util.h: the cleanup helper for json-c objects, for _cleanup_json_ (json_object_put takes
 * NULL). */
#pragma once

#include <json-c/json.h>

#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);
#define _cleanup_json_ _cleanup_(json_object_putp)
