/* signing.h: the root hash signature (detached PKCS#7, DER, over the lowercase hex root hash, no
 * signed attributes), signing keys and certificates, and development keys for `ingot keygen`. */
#pragma once

#include "util.h"

struct signer;

/* Loads a PEM private key and certificate; refuses a key that does not match the certificate, and a
 * certificate that is expired or not yet valid (a build must not produce an image no one can trust). */
int signer_load(const char *key_path, const char *cert_path, struct signer **ret_signer, struct ingot_error *err);
void signer_free(struct signer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct signer *, signer_free);

/* PKCS7_DETACHED|PKCS7_BINARY|PKCS7_NOATTR: with an RSA key the same text gives the same bytes. */
int signer_sign(const struct signer *s, const char *text, uint8_t **ret_der, size_t *ret_size,
                struct ingot_error *err);
/* SHA-256 of the certificate's DER, lowercase hex. */
int signer_fingerprint(const struct signer *s, char ret_hex[65]);

enum key_type {
        KEY_RSA,   /* RSA 3072: deterministic signatures, so builds repeat byte for byte */
        KEY_ECDSA, /* P-256: smaller, but every signature differs (OpenSSL 3.0 has no RFC 6979) */
};

/* DIR/ingot.key (0600) and DIR/ingot.crt, a self-signed certificate valid for 10 years; never
 * overwrites. */
int signing_keygen(const char *dir, enum key_type type, const char *common_name, struct ingot_error *err);

/* Checks a detached PKCS#7 signature (DER file) over text. With cert_path, the signer must be that
 * certificate (validity dates are not checked: see docs/recipe.md); without, only that the signature
 * is intact under the certificate it carries. Returns that certificate's fingerprint. Messages tell a
 * damaged signature ("NAME: damaged signature: ...": not PKCS#7, a carried certificate that does not
 * verify, an RSA signature value that decrypts to nothing), another signer and another content apart;
 * failures are -EBADMSG (damaged, another content) or -EKEYREJECTED (another signer). */
int signature_check(const char *p7s_path, const char *text, const char *cert_path, char ret_fingerprint[65],
                    struct ingot_error *err);
/* The same for a signature in memory; name is what messages call it. */
int signature_check_der(const uint8_t *der, size_t der_size, const char *name, const char *text,
                        const char *cert_path, char ret_fingerprint[65], struct ingot_error *err);
/* The same, the signer one of the trusted certificates (PEM files, NULL-terminated; NULL: any whole
 * signature): a carried certificate with a trusted key, or naming a trusted issuer, that does not verify
 * is damaged; a whole one not among them is "WHAT: signed by a certificate that is not trusted". */
int signature_check_trusted(const uint8_t *der, size_t der_size, const char *name, const char *text,
                            char **trusted, const char *what, char ret_fingerprint[65], struct ingot_error *err);
/* SHA-256 of a PEM certificate's DER, lowercase hex: what trust is pinned to. */
int cert_file_fingerprint(const char *cert_path, char ret_hex[65], struct ingot_error *err);

/* SHA-256 of size bytes at data: the 32 bytes, or lowercase hex. */
int sha256_digest(const void *data, size_t size, uint8_t ret[static 32]);
int sha256_buffer(const void *data, size_t size, char ret_hex[65]);
/* SHA-256 of a file, lowercase hex, and its size. */
int sha256_file(const char *path, char ret_hex[65], uint64_t *ret_size);
