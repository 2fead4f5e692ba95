/* trust.h: the trust store a root image carries (trust.c): the certificates its host accepts
 * signatures from. */
#pragma once

#include "stage.h"

#define TRUSTED_DIR "/usr/lib/ingot/trusted.d"
/* TRUSTED_DIR/FINGERPRINT.crt for each trusted certificate. */
int trust_write(struct build *b);
