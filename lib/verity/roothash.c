/* roothash.c: reads the .roothash sidecar (one line of lowercase hex) strictly: a NUL, a second line,
 * an odd or out-of-range length or an uppercase digit is an error, never a truncated or padded hash. */
#include <string.h>
#include <unistd.h>

#include "roothash.h"

int root_hash_parse(const char *text, size_t size, char ret_hex[ROOT_HASH_MAX + 1]) {
        if (size > 0 && text[size - 1] == '\n')
                size--;
        if (size < 40 || size > ROOT_HASH_MAX || size % 2)
                return -EBADMSG;
        for (size_t i = 0; i < size; i++)
                if (!text[i] || !strchr("0123456789abcdef", text[i]))
                        return -EBADMSG;
        memcpy(ret_hex, text, size);
        ret_hex[size] = 0;
        return 0;
}

int root_hash_read(const char *path, char ret_hex[ROOT_HASH_MAX + 1], struct ingot_error *err) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return error_set(err, -errno, "%s: %s", path, strerror(errno));
        char text[ROOT_HASH_MAX + 2];
        size_t size = fread(text, 1, sizeof(text), f);
        if (ferror(f))
                return error_set(err, -EIO, "%s: %s", path, strerror(EIO));
        if (size == sizeof(text))
                return error_set(err, -EBADMSG, "%s: longer than a root hash (%d hex digits and a newline)", path,
                                 ROOT_HASH_MAX);
        if (root_hash_parse(text, size, ret_hex) < 0)
                return error_set(err, -EBADMSG, "%s: not a root hash (one line of 40-%d lowercase hex digits)", path,
                                 ROOT_HASH_MAX);
        return 0;
}

int root_hash_of(const char *image, char ret_hex[ROOT_HASH_MAX + 1], struct ingot_error *err) {
        if (root_hash_parse(image, strlen(image), ret_hex) >= 0)
                return 0;
        size_t n = strlen(image);
        if (n > 9 && strcmp(image + n - 9, ".roothash") == 0)
                return root_hash_read(image, ret_hex, err);
        _cleanup_free_ char *base = image_sidecar_base(image), *path = NULL;
        if (!base || asprintf(&path, "%s.roothash", base) < 0)
                return -ENOMEM;
        if (access(path, F_OK) < 0)
                return error_set(err, -ENOENT, "%s: neither a root hash, a .roothash file nor an image with one beside "
                                 "it (%s)", image, path);
        return root_hash_read(path, ret_hex, err);
}

void root_hash_uuids(const char *root_hash, char ret_root[37], char ret_verity[37]) {
        uint8_t h[64];
        size_t n = 0;
        (void) hex_decode(root_hash, h, sizeof(h), &n);
        if (n < 32) { /* too short to pair: zeros, which no one pairs */
                memset(h, 0, sizeof(h));
                n = 32;
        }
        uuid_format(h, ret_root);
        uuid_format(h + n - 16, ret_verity);
}
