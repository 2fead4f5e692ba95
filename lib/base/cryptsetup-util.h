/* cryptsetup-util.h: the cleanup helper for libcryptsetup's device context, for
 * _cleanup_(crypt_freep) (crypt_free takes NULL). */
#pragma once

#include <libcryptsetup.h>

#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct crypt_device *, crypt_free);
