/* verity-sig.c: the root-verity-sig partition payload (systemd's Discoverable Partitions format),
 * JSON through json-c and base64 through OpenSSL. */
#include <json-c/json.h>
#include <openssl/evp.h>
#include <string.h>

#include "json-util.h"
#include "verity-sig.h"

static json_object *base64_json(const uint8_t *data, size_t size) {
        size_t b64_size = 4 * ((size + 2) / 3) + 1;
        _cleanup_free_ char *b64 = malloc(b64_size);
        if (!b64)
                return NULL;
        EVP_EncodeBlock((unsigned char *) b64, data, (int) size);
        return json_object_new_string(b64);
}

int verity_sig_encode(const struct verity_sig *s, uint8_t **ret, size_t *ret_size) {
        if (s->signature_size > 1024 * 1024 || s->profile_signature_size > 1024 * 1024)
                return -E2BIG;
        _cleanup_json_ json_object *o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "rootHash", json_object_new_string(s->root_hash));
        json_object_object_add(o, "certificateFingerprint", json_object_new_string(s->fingerprint));
        json_object_object_add(o, "signature", base64_json(s->signature, s->signature_size));
        if (s->profile) {
                json_object_object_add(o, "ingotProfile", json_object_new_string(s->profile));
                json_object_object_add(o, "ingotProfileSignature",
                                       base64_json(s->profile_signature, s->profile_signature_size));
        }
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        size_t len = strlen(text), size = (len + 1 + VERITY_SIG_ALIGN - 1) / VERITY_SIG_ALIGN * VERITY_SIG_ALIGN;
        _cleanup_free_ uint8_t *buf = calloc(1, size);
        if (!buf)
                return -ENOMEM;
        memcpy(buf, text, len);
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

void verity_sig_clear(struct verity_sig *s) {
        free(s->signature);
        free(s->profile);
        free(s->profile_signature);
        *s = (struct verity_sig) { 0 };
}

static bool all_zero(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

/* DER from base64; -EBADMSG when it is not base64. */
static int base64_decode(const char *b64, uint8_t **ret, size_t *ret_size) {
        size_t bl = strlen(b64);
        if (bl % 4 != 0 || bl > INT32_MAX)
                return -EBADMSG;
        _cleanup_free_ uint8_t *out = malloc(bl / 4 * 3 + 3);
        if (!out)
                return -ENOMEM;
        int n = EVP_DecodeBlock(out, (const unsigned char *) b64, (int) bl);
        if (n < 0)
                return -EBADMSG;
        /* EVP_DecodeBlock counts the padding as zero bytes */
        *ret_size = (size_t) n - (bl >= 1 && b64[bl - 1] == '=') - (bl >= 2 && b64[bl - 2] == '=');
        *ret = TAKE_PTR(out);
        return 0;
}

int verity_sig_decode(const uint8_t *buf, size_t size, struct verity_sig *ret, struct ingot_error *err) {
        *ret = (struct verity_sig) { 0 };
        size_t len = strnlen((const char *) buf, size);
        if (len == 0)
                return all_zero(buf, size) ? -ENODATA : error_set(err, -EBADMSG, "signature partition: garbage");
        if (len == size || !all_zero(buf + len, size - len))
                return error_set(err, -EBADMSG, "signature partition: not NUL-terminated JSON");
        json_tokener *tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        _cleanup_json_ json_object *o = json_tokener_parse_ex(tok, (const char *) buf, (int) len);
        bool complete = json_tokener_get_error(tok) == json_tokener_success;
        json_tokener_free(tok); /* only the parse needs it */
        json_object *rh, *fp, *sig;
        if (!o || !complete || !json_object_is_type(o, json_type_object) ||
            !json_object_object_get_ex(o, "rootHash", &rh) || !json_object_is_type(rh, json_type_string) ||
            !json_object_object_get_ex(o, "signature", &sig) || !json_object_is_type(sig, json_type_string))
                return error_set(err, -EBADMSG, "signature partition: not the JSON object systemd expects");
        const char *h = json_object_get_string(rh), *b64 = json_object_get_string(sig);
        size_t hl = strlen(h);
        _cleanup_(verity_sig_clear) struct verity_sig s = { 0 };
        if (hl >= sizeof(s.root_hash) || hl < 40 || strspn(h, "0123456789abcdef") != hl)
                return error_set(err, -EBADMSG, "signature partition: rootHash is not a lowercase hex hash");
        snprintf(s.root_hash, sizeof(s.root_hash), "%s", h);
        if (json_object_object_get_ex(o, "certificateFingerprint", &fp) && json_object_is_type(fp, json_type_string))
                snprintf(s.fingerprint, sizeof(s.fingerprint), "%s", json_object_get_string(fp));
        int r = base64_decode(b64, &s.signature, &s.signature_size);
        if (r < 0)
                return error_set(err, r, "signature partition: the signature is not base64");
        json_object *prof, *psig;
        if (json_object_object_get_ex(o, "ingotProfile", &prof)) {
                if (!json_object_is_type(prof, json_type_string) ||
                    !json_object_object_get_ex(o, "ingotProfileSignature", &psig) ||
                    !json_object_is_type(psig, json_type_string) ||
                    base64_decode(json_object_get_string(psig), &s.profile_signature, &s.profile_signature_size) < 0)
                        return error_set(err, -EBADMSG,
                                         "signature partition: ingotProfile without a base64 ingotProfileSignature");
                if (!(s.profile = strdup(json_object_get_string(prof))))
                        return -ENOMEM;
        }
        *ret = s;
        s = (struct verity_sig) { 0 }; /* ret's now */
        return 0;
}
