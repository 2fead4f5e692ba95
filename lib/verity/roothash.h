/* roothash.h: the .roothash sidecar, one line of lowercase hex (a SHA-256 or longer digest) and a
 * newline; the one reader verify, inspect and slot install share, strict about what it accepts. */
#pragma once

#include "util.h"

#define ROOT_HASH_MAX 128 /* hex digits: a 512-bit digest */

/* text of size bytes (not NUL-terminated) holds exactly one root hash line: 40 to 128 lowercase hex
 * digits, an even count, then an optional newline and nothing else. -EBADMSG otherwise. */
int root_hash_parse(const char *text, size_t size, char ret_hex[ROOT_HASH_MAX + 1]);
/* The same from a file; the message names it and says what is wrong. */
int root_hash_read(const char *path, char ret_hex[ROOT_HASH_MAX + 1], struct ingot_error *err);
/* An image's root hash, named as a user names an image: the hex itself, a .roothash file, or the image
 * (IMAGE.raw, whose IMAGE.roothash is read). */
int root_hash_of(const char *image, char ret_hex[ROOT_HASH_MAX + 1], struct ingot_error *err);
/* The partition UUIDs systemd pairs with a root hash: its first and last 128 bits (zeros for one shorter
 * than 256 bits, which nothing pairs). */
void root_hash_uuids(const char *root_hash, char ret_root[37], char ret_verity[37]);
