/* ldd.h: the shared libraries a host executable loads, resolved by the host's ldd. */
#pragma once

#include "util.h"

/* Absolute paths of the libraries and the loader (none for a static executable); where prefixes
 * messages (e.g. "recipe.ini:9"). */
int host_libraries(const char *binary, const char *where, char ***ret, struct ingot_error *err);
