/* verb-inspect.c: `ingot inspect IMAGE.raw [--json]`: an image's essentials at a glance. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>

#include "cli.h"

void help_inspect(FILE *f) {
        fprintf(f,
                "Usage: %s inspect IMAGE.raw [--json]\n"
                "Show what an image is: name, version, size, compression, root hash, signer, verity\n"
                "geometry, files, packages and kernels, from its squashfs superblock and its sidecars.\n"
                "It checks nothing: that is 'ingot verify'.\n\n"
                "  --json     print a JSON object\n"
                "  -h --help  show this help\n",
                program_name);
}

static const char *s(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : "-";
}

int verb_inspect(int argc, char **argv) {
        const char *arg;
        bool json;
        int u = parse_one_arg_json(argc, argv, "inspect", "IMAGE.raw", &arg, &json);
        if (u > 0)
                return u;

        struct ingot_error err = { 0 };
        char *text = NULL;
        int r = ingot_inspect(arg, &text, &err);
        if (r < 0)
                return log_lib_error(NULL, r, &err);
        if (json) {
                puts(text);
                free(text);
                return EXIT_OK;
        }
        json_object *o = json_tokener_parse(text);
        free(text);
        if (!o)
                return log_lib_error(NULL, -ENOMEM, NULL);
        json_object *sq = json_object_object_get(o, "squashfs"), *v = json_object_object_get(o, "verity");
        json_object *k = json_object_object_get(o, "kernel_versions");
        printf("image:        %s\n", s(o, "image"));
        printf("name:         %s %s (%s)\n", s(o, "name"), s(o, "version"), s(o, "pretty_name"));
        printf("architecture: %s\n", s(o, "architecture"));
        printf("size:         %s bytes, %s, %s-byte blocks, %s inodes\n", s(o, "size"), s(sq, "compression"),
               s(sq, "block_size"), s(sq, "inodes"));
        printf("contents:     %s files, %s bytes; %s packages\n", s(o, "files"), s(o, "file_bytes"), s(o, "packages"));
        printf("kernels:      %s\n", k && json_object_array_length(k) ? json_object_to_json_string(k) : "none");
        printf("root hash:    %s\n", s(o, "root_hash"));
        printf("verity:       %s, %s-byte data and %s-byte hash blocks, %s data blocks, salt %s\n",
               s(v, "algorithm"), s(v, "data_block_size"), s(v, "hash_block_size"), s(v, "data_blocks"), s(v, "salt"));
        json_object *rel = json_object_object_get(o, "extension_release"), *base = json_object_object_get(o, "base");
        if (rel) {
                printf("layer:        systemd-sysext, %s, for %s %s\n", s(o, "format"), s(base, "name"), s(base, "version"));
                for (size_t i = 0; i < json_object_array_length(rel); i++)
                        printf("%s%s\n", i ? "              " : "release:      ",
                               json_object_get_string(json_object_array_get_idx(rel, i)));
        }
        printf("signed:       %s%s%s\n", json_object_get_boolean(json_object_object_get(o, "signed")) ? "yes" : "no",
               json_object_get_boolean(json_object_object_get(o, "signed")) ? ", certificate SHA-256 " : "",
               json_object_get_boolean(json_object_object_get(o, "signed")) ? s(o, "signer_fingerprint") : "");
        json_object_put(o);
        return EXIT_OK;
}
