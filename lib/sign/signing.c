/* signing.c: PKCS#7 signatures over root hashes, and development keys, with OpenSSL 3. */
#include <limits.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <sys/stat.h>

#include "openssl-util.h"
#include "signing.h"

/* For what openssl-util.h does not hold: the DER i2d_PKCS7 allocates, a certificate's serial number
 * while it is made, and the signer list PKCS7_get0_signers returns (its certificates are p7's). */
static inline void openssl_freep(void *p) {
        OPENSSL_free(*(void **) p);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(BIGNUM *, BN_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ASN1_INTEGER *, ASN1_INTEGER_free);
static inline void sk_X509_freep(STACK_OF(X509) **sk) {
        sk_X509_free(*sk);
}

struct signer {
        EVP_PKEY *key;
        X509 *cert;
};

/* The innermost OpenSSL reason, for messages. */
static const char *ssl_reason(void) {
        static char buf[256];
        unsigned long e = ERR_peek_last_error();
        ERR_error_string_n(e, buf, sizeof(buf));
        ERR_clear_error();
        return e ? buf : "unknown OpenSSL error";
}

void signer_free(struct signer *s) {
        if (!s)
                return;
        EVP_PKEY_free(s->key);
        X509_free(s->cert);
        free(s);
}

int signer_load(const char *key_path, const char *cert_path, struct signer **ret, struct ingot_error *err) {
        _cleanup_(signer_freep) struct signer *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        _cleanup_fclose_ FILE *kf = fopen(key_path, "re");
        if (!kf)
                return error_set(err, -errno, "%s: %s", key_path, strerror(errno));
        _cleanup_fclose_ FILE *cf = fopen(cert_path, "re");
        if (!cf)
                return error_set(err, -errno, "%s: %s", cert_path, strerror(errno));
        s->key = PEM_read_PrivateKey(kf, NULL, NULL, NULL);
        if (!s->key)
                return error_set(err, -EINVAL, "%s: not a PEM private key: %s", key_path, ssl_reason());
        s->cert = PEM_read_X509(cf, NULL, NULL, NULL);
        if (!s->cert)
                return error_set(err, -EINVAL, "%s: not a PEM certificate: %s", cert_path, ssl_reason());
        if (X509_check_private_key(s->cert, s->key) != 1) {
                ERR_clear_error();
                return error_set(err, -EKEYREJECTED, "%s does not match the certificate %s", key_path, cert_path);
        }
        if (X509_cmp_current_time(X509_get0_notAfter(s->cert)) <= 0)
                return error_set(err, -EKEYEXPIRED, "%s: the certificate has expired; sign with a valid one",
                                 cert_path);
        if (X509_cmp_current_time(X509_get0_notBefore(s->cert)) >= 0)
                return error_set(err, -EKEYREJECTED, "%s: the certificate is not valid yet", cert_path);
        *ret = TAKE_PTR(s);
        return 0;
}

int signer_sign(const struct signer *s, const char *text, uint8_t **ret_der, size_t *ret_size,
                struct ingot_error *err) {
        _cleanup_(BIO_free_allp) BIO *in = BIO_new_mem_buf(text, (int) strlen(text));
        if (!in)
                return -ENOMEM;
        _cleanup_(PKCS7_freep) PKCS7 *p7 = PKCS7_sign(s->cert, s->key, NULL, in,
                                                      PKCS7_DETACHED | PKCS7_BINARY | PKCS7_NOATTR);
        if (!p7)
                return error_set(err, -EIO, "signing the root hash: %s", ssl_reason());
        _cleanup_(openssl_freep) uint8_t *der = NULL;
        int n = i2d_PKCS7(p7, &der);
        if (n <= 0)
                return error_set(err, -EIO, "encoding the signature: %s", ssl_reason());
        /* the caller frees it with free(), not OPENSSL_free() */
        uint8_t *copy = malloc((size_t) n);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, der, (size_t) n);
        *ret_der = copy;
        *ret_size = (size_t) n;
        return 0;
}

static int cert_fingerprint(X509 *cert, char ret_hex[65]) {
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        if (!X509_digest(cert, EVP_sha256(), md, &len) || len != 32)
                return -EIO;
        hex_encode(md, len, ret_hex);
        return 0;
}

int cert_file_fingerprint(const char *cert_path, char ret_hex[65], struct ingot_error *err) {
        _cleanup_fclose_ FILE *f = fopen(cert_path, "re");
        if (!f)
                return error_set(err, -errno, "%s: %s", cert_path, strerror(errno));
        _cleanup_(X509_freep) X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
        if (!c)
                return error_set(err, -EINVAL, "%s: not a PEM certificate: %s", cert_path, ssl_reason());
        int r = cert_fingerprint(c, ret_hex);
        if (r < 0)
                return error_set(err, r, "%s: cannot take its fingerprint", cert_path);
        return 0;
}

int signer_fingerprint(const struct signer *s, char ret_hex[65]) {
        return cert_fingerprint(s->cert, ret_hex);
}

static int write_and_sync(FILE *f, int (*writer)(FILE *f, void *userdata), void *userdata) {
        int r = writer(f, userdata);
        if (r < 0)
                return r;
        if (fflush(f) != 0 || fsync(fileno(f)) < 0)
                return -errno;
        return 0;
}

static int write_new_file(const char *path, mode_t mode, int (*writer)(FILE *f, void *userdata), void *userdata,
                          struct ingot_error *err) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd < 0)
                return error_set(err, -errno, "%s: %s", path,
                                 errno == EEXIST ? "exists already; ingot keygen never overwrites a key"
                                                 : strerror(errno));
        FILE *f = fdopen(fd, "we");
        if (!f) {
                fd = safe_close(fd);
                unlink(path);
                return -ENOMEM;
        }
        (void) TAKE_FD(fd); /* f's now: closed below, where a failed close is a failed write */
        int r = write_and_sync(f, writer, userdata);
        if (fclose(f) != 0 && r >= 0)
                r = -errno;
        if (r < 0) {
                unlink(path);
                return error_set(err, r, "%s: cannot write: %s", path, strerror(-r));
        }
        return 0;
}

static int write_key(FILE *f, void *key) {
        return PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) ? 0 : -EIO;
}

static int write_cert(FILE *f, void *cert) {
        return PEM_write_X509(f, cert) ? 0 : -EIO;
}

/* A self-signed certificate for key, valid from now for 10 years, with a random serial number. */
static int cert_make(X509 *cert, EVP_PKEY *key, const char *common_name, struct ingot_error *err) {
        uint8_t serial[16];
        _cleanup_(BN_freep) BIGNUM *bn = NULL;
        _cleanup_(ASN1_INTEGER_freep) ASN1_INTEGER *sn = NULL;
        if (RAND_bytes(serial, sizeof(serial)) != 1 || !(bn = BN_bin2bn(serial, sizeof(serial), NULL)) ||
            !(sn = BN_to_ASN1_INTEGER(bn, NULL)) || !X509_set_serialNumber(cert, sn) || !X509_set_version(cert, 2) ||
            !X509_gmtime_adj(X509_getm_notBefore(cert), 0) ||
            !X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 24 * 3600) || !X509_set_pubkey(cert, key) ||
            !X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_UTF8,
                                        (const unsigned char *) common_name, -1, -1, 0) ||
            !X509_set_issuer_name(cert, X509_get_subject_name(cert)) || !X509_sign(cert, key, EVP_sha256()))
                return error_set(err, -EIO, "making the certificate: %s", ssl_reason());
        return 0;
}

int signing_keygen(const char *dir, enum key_type type, const char *common_name, struct ingot_error *err) {
        _cleanup_free_ char *key_path = path_join(dir, "ingot.key"), *cert_path = path_join(dir, "ingot.crt");
        if (!key_path || !cert_path)
                return -ENOMEM;
        struct stat st;
        if (stat(key_path, &st) == 0 || stat(cert_path, &st) == 0)
                return error_set(err, -EEXIST, "%s: a key or certificate exists already; ingot keygen never overwrites",
                                 dir);
        int q = mkdir_p(dir, 0700);
        if (q < 0)
                return error_set(err, q, "%s: %s", dir, strerror(-q));

        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = type == KEY_RSA ? EVP_RSA_gen(3072) : EVP_EC_gen("P-256");
        _cleanup_(X509_freep) X509 *cert = X509_new();
        if (!key || !cert)
                return error_set(err, -EIO, "generating a key: %s", ssl_reason());
        int r = cert_make(cert, key, common_name, err);
        if (r < 0)
                return r;
        r = write_new_file(key_path, 0600, write_key, key, err);
        if (r < 0)
                return r;
        r = write_new_file(cert_path, 0644, write_cert, cert, err);
        if (r < 0) {
                unlink(key_path); /* both or neither */
                return r;
        }
        return fsync_directory_of(key_path);
}

int signature_check(const char *p7s_path, const char *text, const char *cert_path, char ret_fp[65],
                    struct ingot_error *err) {
        _cleanup_fclose_ FILE *f = fopen(p7s_path, "re");
        if (!f)
                return error_set(err, -errno, "%s: %s", p7s_path, strerror(errno));
        uint8_t der[64 * 1024];
        size_t n = fread(der, 1, sizeof(der), f);
        if (ferror(f))
                return error_set(err, -EIO, "%s: read error", p7s_path);
        return signature_check_der(der, n, p7s_path, text, cert_path, ret_fp, err);
}

/* Every digest the signed data and its signer infos name is one OpenSSL implements. */
static bool digests_known(PKCS7 *p7) {
        STACK_OF(X509_ALGOR) *algs = p7->d.sign ? p7->d.sign->md_algs : NULL;
        for (int i = 0; i < sk_X509_ALGOR_num(algs); i++) {
                const ASN1_OBJECT *obj = NULL;
                X509_ALGOR_get0(&obj, NULL, NULL, sk_X509_ALGOR_value(algs, i));
                if (!obj || !EVP_get_digestbyobj(obj))
                        return false;
        }
        STACK_OF(PKCS7_SIGNER_INFO) *infos = PKCS7_get_signer_info(p7);
        for (int i = 0; i < sk_PKCS7_SIGNER_INFO_num(infos); i++) {
                PKCS7_SIGNER_INFO *si = sk_PKCS7_SIGNER_INFO_value(infos, i);
                const ASN1_OBJECT *obj = NULL;
                if (si && si->digest_alg)
                        X509_ALGOR_get0(&obj, NULL, NULL, si->digest_alg);
                if (!obj || !EVP_get_digestbyobj(obj))
                        return false;
        }
        return true;
}

/* Whether c verifies under key: that key's owner issued it. */
static bool cert_signed_by(X509 *c, EVP_PKEY *key) {
        bool ok = key && X509_verify(c, key) == 1;
        ERR_clear_error();
        return ok;
}

/* A carried certificate that cannot be what it says it is: it names itself as its issuer, carries a
 * trusted certificate's key or names a trusted certificate as its issuer, yet verifies under none of
 * those keys; or its key does not parse. (A certificate from an unknown issuer that does not verify
 * cannot be told from another signer's: it is only not trusted.) */
static bool cert_damaged(X509 *c, X509 *const *trusted, size_t n_trusted) {
        EVP_PKEY *own = X509_get0_pubkey(c);
        ERR_clear_error();
        if (!own)
                return true;
        if (cert_signed_by(c, own))
                return false;
        const X509_NAME *issuer = X509_get_issuer_name(c);
        bool claims = X509_NAME_cmp(issuer, X509_get_subject_name(c)) == 0;
        for (size_t i = 0; i < n_trusted; i++) {
                EVP_PKEY *key = X509_get0_pubkey(trusted[i]);
                if (cert_signed_by(c, key))
                        return false;
                if (key && (EVP_PKEY_eq(own, key) == 1 || X509_NAME_cmp(issuer, X509_get_subject_name(trusted[i])) == 0))
                        claims = true;
        }
        ERR_clear_error();
        return claims;
}

/* With an RSA signer, whether the signature value is damaged: it does not decrypt to a PKCS#1 block under
 * the signer's key at all (a whole signature over other content does). Other keys cannot tell. */
static bool signature_value_damaged(PKCS7 *p7, X509 *signer) {
        STACK_OF(PKCS7_SIGNER_INFO) *infos = PKCS7_get_signer_info(p7);
        PKCS7_SIGNER_INFO *si = sk_PKCS7_SIGNER_INFO_num(infos) == 1 ? sk_PKCS7_SIGNER_INFO_value(infos, 0) : NULL;
        EVP_PKEY *key = X509_get0_pubkey(signer);
        uint8_t out[2048];
        if (!si || !si->enc_digest || !key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA ||
            EVP_PKEY_get_size(key) > (int) sizeof(out)) {
                ERR_clear_error();
                return false;
        }
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
        size_t n = sizeof(out);
        bool damaged = ctx && EVP_PKEY_verify_recover_init(ctx) == 1 &&
                       EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
                       EVP_PKEY_verify_recover(ctx, out, &n, si->enc_digest->data, (size_t) si->enc_digest->length) != 1;
        ERR_clear_error();
        return damaged;
}

/* The checks both entry points share. trusted: the certificates the signer must be one of (none: any
 * whole signature); a whole signature by another returns -EKEYREJECTED without a message, for the caller
 * to say in its words. */
static int check_pkcs7(const uint8_t *der, size_t der_size, const char *name, const char *text, X509 *const *trusted,
                       size_t n_trusted, char ret_fp[65], struct ingot_error *err) {
        const unsigned char *in = der;
        _cleanup_(PKCS7_freep) PKCS7 *p7 = der_size <= LONG_MAX ? d2i_PKCS7(NULL, &in, (long) der_size) : NULL;
        if (!p7 || !PKCS7_type_is_signed(p7) || !p7->d.sign) {
                ERR_clear_error();
                return error_set(err, -EBADMSG, "%s: damaged signature: not a PKCS#7 signature (truncated or corrupt)",
                                 name);
        }
        /* ingot signs detached: embedded content would not be what is checked */
        if (!PKCS7_get_detached(p7)) {
                ERR_clear_error();
                return error_set(err, -EBADMSG, "%s: not a detached signature (it carries content of its own)", name);
        }
        /* OpenSSL 3.0's PKCS7_verify leaks when a digest is unknown (fuzz/crashes/pkcs7/): refuse first */
        if (!digests_known(p7)) {
                ERR_clear_error();
                return error_set(err, -EBADMSG, "%s: the signature names a digest algorithm OpenSSL does not know",
                                 name);
        }
        _cleanup_(sk_X509_freep) STACK_OF(X509) *signers = PKCS7_get0_signers(p7, NULL, 0);
        if (!signers || sk_X509_num(signers) != 1 || cert_fingerprint(sk_X509_value(signers, 0), ret_fp) < 0) {
                ERR_clear_error();
                if (sk_X509_num(p7->d.sign->cert) > 0 && sk_PKCS7_SIGNER_INFO_num(p7->d.sign->signer_info) == 1)
                        return error_set(err, -EBADMSG, "%s: damaged signature: its signer is none of the "
                                         "certificates it carries", name);
                return error_set(err, -EBADMSG, "%s: the signature does not carry its signer's certificate", name);
        }
        X509 *signer = sk_X509_value(signers, 0);
        if (cert_damaged(signer, trusted, n_trusted))
                return error_set(err, -EBADMSG, "%s: damaged signature: the signer's certificate in it is corrupt (its "
                                 "own signature does not verify)", name);
        X509 *match = NULL;
        for (size_t i = 0; i < n_trusted && !match; i++) {
                char fp[65];
                if (cert_fingerprint(trusted[i], fp) == 0 && strcmp(fp, ret_fp) == 0)
                        match = trusted[i];
        }
        if (n_trusted && !match)
                return -EKEYREJECTED;
        _cleanup_(X509_STORE_freep) X509_STORE *store = X509_STORE_new();
        _cleanup_(BIO_free_allp) BIO *content = BIO_new_mem_buf(text, (int) strlen(text));
        if (!store || !content || (match && !X509_STORE_add_cert(store, match)))
                return -ENOMEM;
        X509_STORE_set_purpose(store, X509_PURPOSE_ANY);
        X509_STORE_set_flags(store, X509_V_FLAG_NO_CHECK_TIME); /* a host may not know the time */
        if (PKCS7_verify(p7, NULL, store, content, NULL, PKCS7_BINARY | (match ? 0 : PKCS7_NOVERIFY)) != 1) {
                ERR_clear_error();
                if (signature_value_damaged(p7, signer))
                        return error_set(err, -EBADMSG, "%s: damaged signature: its signature value is corrupt (no "
                                         "RSA signature block under the signer's key)", name);
                return error_set(err, -EBADMSG, "%s: the signature does not match the root hash %s", name, text);
        }
        return 0;
}

static X509 *read_cert(const char *cert_path, struct ingot_error *err) {
        _cleanup_fclose_ FILE *f = fopen(cert_path, "re");
        if (!f) {
                error_set(err, -errno, "%s: %s", cert_path, strerror(errno));
                return NULL;
        }
        X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
        if (!c)
                error_set(err, -EINVAL, "%s: not a PEM certificate: %s", cert_path, ssl_reason());
        return c;
}

int signature_check_der(const uint8_t *der, size_t der_size, const char *name, const char *text,
                        const char *cert_path, char ret_fp[65], struct ingot_error *err) {
        _cleanup_(X509_freep) X509 *trusted = NULL;
        if (cert_path && !(trusted = read_cert(cert_path, err)))
                return err && err->code ? err->code : -EINVAL;
        int r = check_pkcs7(der, der_size, name, text, &trusted, trusted ? 1 : 0, ret_fp, err);
        if (r == -EKEYREJECTED) {
                char want[65] = "";
                (void) cert_fingerprint(trusted, want);
                return error_set(err, r, "signature made by another key: signer %.16s..., trusted certificate "
                                 "%.16s...", ret_fp, want);
        }
        return r;
}

/* A NULL-terminated list of certificates. */
static void certs_free(X509 **certs) {
        for (X509 **c = certs; c && *c; c++)
                X509_free(*c);
        free(certs);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(X509 **, certs_free);

int signature_check_trusted(const uint8_t *der, size_t der_size, const char *name, const char *text,
                            char **trusted, const char *what, char ret_fp[65], struct ingot_error *err) {
        size_t n = 0;
        while (trusted && trusted[n])
                n++;
        _cleanup_(certs_freep) X509 **certs = calloc(n + 1, sizeof(*certs));
        if (!certs)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(certs[i] = read_cert(trusted[i], err)))
                        return err && err->code ? err->code : -EINVAL;
        int r = check_pkcs7(der, der_size, name, text, certs, n, ret_fp, err);
        if (r == -EKEYREJECTED)
                return error_set(err, r, "%s: signed by a certificate that is not trusted (signer %.16s...)", what,
                                 ret_fp);
        return r;
}

int sha256_digest(const void *data, size_t size, uint8_t ret[static 32]) {
        unsigned len = 0;
        return EVP_Digest(data, size, ret, &len, EVP_sha256(), NULL) && len == 32 ? 0 : -EIO;
}

int sha256_buffer(const void *data, size_t size, char ret_hex[65]) {
        uint8_t md[32];
        int r = sha256_digest(data, size, md);
        if (r < 0)
                return r;
        hex_encode(md, 32, ret_hex);
        return 0;
}

int sha256_file(const char *path, char ret_hex[65], uint64_t *ret_size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        enum { SIZE = 1 << 20 };
        _cleanup_free_ uint8_t *buf = malloc(SIZE);
        if (!buf)
                return -ENOMEM;
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
                return -ENOMEM;
        uint64_t total = 0;
        for (;;) {
                ssize_t n = read(fd, buf, SIZE);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                EVP_DigestUpdate(ctx, buf, (size_t) n);
                total += (uint64_t) n;
        }
        uint8_t md[32];
        unsigned len;
        if (!EVP_DigestFinal_ex(ctx, md, &len))
                return -EIO;
        hex_encode(md, 32, ret_hex);
        *ret_size = total;
        return 0;
}

int ingot_keygen(const char *dir, bool ecdsa, const char *common_name, struct ingot_error *err) {
        return signing_keygen(dir, ecdsa ? KEY_ECDSA : KEY_RSA, common_name ?: "ingot development key", err);
}
