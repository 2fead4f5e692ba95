/* slot-profile.c: a slot's own host profile: a compiled, signed profile file checked against the trusted
 * certificates, and carried in the slot's signature partition beside the root hash signature. */
#include <json-c/json.h>
#include <string.h>

#include "json-util.h"
#include "profile.h"
#include "signing.h"
#include "slot-profile.h"

void slot_profile_clear(struct slot_profile *p) {
        free(p->json);
        free(p->signature);
        *p = (struct slot_profile) { 0 };
}

int slot_profile_load(const char *path, char **trusted, const char *root_hash, struct slot_profile *ret,
                      struct ingot_error *err) {
        *ret = (struct slot_profile) { 0 };
        _cleanup_free_ char *p7s = NULL;
        size_t len = strlen(path);
        if (len > 5 && strcmp(path + len - 5, ".conf") == 0)
                return error_set(err, -EINVAL,
                                 "%s: a profile source; compile and sign it first: ingot profile compile %s -o DIR "
                                 "--key KEY --cert CERT, then give DIR/NAME.profile.json",
                                 path, path);
        if (asprintf(&p7s, "%s.p7s", path) < 0)
                return -ENOMEM;
        _cleanup_(slot_profile_clear) struct slot_profile p = { 0 };
        int r = read_text_file(path, 64 * 1024, &p.json);
        if (r < 0)
                return error_set(err, r, "%s: %s", path,
                                 r == -EFBIG ? "larger than a compiled profile can be" : strerror(-r));
        if (access(p7s, F_OK) < 0)
                return error_set(err, -ENOKEY, "%s: unsigned (no %s); a slot only takes a signed profile", path, p7s);
        r = read_file(p7s, 64 * 1024, (char **) &p.signature, &p.signature_size);
        if (r < 0 || p.signature_size == 0)
                return error_set(err, r < 0 ? r : -EBADMSG, "%s: cannot read it whole", p7s);
        r = signature_check_trusted(p.signature, p.signature_size, p7s, p.json, trusted, path, p.fingerprint, err);
        if (r < 0)
                return r;
        _cleanup_json_ json_object *j = NULL;
        const char *name, *cmdline;
        r = profile_compiled_parse(p.json, path, &j, &name, &cmdline, err);
        if (r < 0)
                return r;
        snprintf(p.name, sizeof(p.name), "%s", name);
        r = profile_bound_to(j, path, root_hash, err);
        if (r < 0)
                return r;
        *ret = p;
        p = (struct slot_profile) { 0 }; /* handed over to ret */
        return 0;
}

int slot_image_set_profile(struct slot_image *img, const struct slot_profile *p) {
        _cleanup_(verity_sig_clear) struct verity_sig vs = { 0 };
        struct ingot_error e = { 0 };
        int r = verity_sig_decode(img->payload, img->payload_size, &vs, &e);
        if (r < 0)
                return r;
        free(vs.profile);
        free(vs.profile_signature);
        vs.profile = NULL;
        vs.profile_signature = NULL;
        vs.profile_signature_size = 0;
        if (p) {
                vs.profile = strdup(p->json);
                vs.profile_signature = malloc(p->signature_size);
                if (!vs.profile || !vs.profile_signature)
                        return -ENOMEM;
                memcpy(vs.profile_signature, p->signature, p->signature_size);
                vs.profile_signature_size = p->signature_size;
        }
        _cleanup_free_ uint8_t *payload = NULL;
        size_t size;
        r = verity_sig_encode(&vs, &payload, &size);
        if (r < 0)
                return r;
        free(img->payload);
        img->payload = TAKE_PTR(payload);
        img->payload_size = size;
        return 0;
}
