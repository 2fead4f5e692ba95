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

#include "signing.h"

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

static void fclose_quietly(FILE **f) {
        if (*f)
                fclose(*f);
}

void signer_free(struct signer *s) {
        if (!s)
                return;
        EVP_PKEY_free(s->key);
        X509_free(s->cert);
        free(s);
}


int signer_load(const char *key_path, const char *cert_path, struct signer **ret, struct ingot_error *err) {
        struct signer *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        int r = 0;
        {
                _cleanup_(fclose_quietly) FILE *kf = fopen(key_path, "re");
                _cleanup_(fclose_quietly) FILE *cf = fopen(cert_path, "re");
                if (!kf)
                        r = error_set(err, -errno, "%s: %s", key_path, strerror(errno));
                else if (!cf)
                        r = error_set(err, -errno, "%s: %s", cert_path, strerror(errno));
                else if (!(s->key = PEM_read_PrivateKey(kf, NULL, NULL, NULL)))
                        r = error_set(err, -EINVAL, "%s: not a PEM private key: %s", key_path, ssl_reason());
                else if (!(s->cert = PEM_read_X509(cf, NULL, NULL, NULL)))
                        r = error_set(err, -EINVAL, "%s: not a PEM certificate: %s", cert_path, ssl_reason());
                else if (X509_check_private_key(s->cert, s->key) != 1) {
                        ERR_clear_error();
                        r = error_set(err, -EKEYREJECTED, "%s does not match the certificate %s", key_path,
                                      cert_path);
                } else if (X509_cmp_current_time(X509_get0_notAfter(s->cert)) <= 0)
                        r = error_set(err, -EKEYEXPIRED, "%s: the certificate has expired; sign with a valid one",
                                      cert_path);
                else if (X509_cmp_current_time(X509_get0_notBefore(s->cert)) >= 0)
                        r = error_set(err, -EKEYREJECTED, "%s: the certificate is not valid yet", cert_path);
        }
        if (r < 0) {
                signer_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

int signer_sign(const struct signer *s, const char *text, uint8_t **ret_der, size_t *ret_size,
                struct ingot_error *err) {
        BIO *in = BIO_new_mem_buf(text, (int) strlen(text));
        if (!in)
                return -ENOMEM;
        PKCS7 *p7 = PKCS7_sign(s->cert, s->key, NULL, in, PKCS7_DETACHED | PKCS7_BINARY | PKCS7_NOATTR);
        BIO_free(in);
        if (!p7)
                return error_set(err, -EIO, "signing the root hash: %s", ssl_reason());
        uint8_t *der = NULL;
        int n = i2d_PKCS7(p7, &der);
        PKCS7_free(p7);
        if (n <= 0)
                return error_set(err, -EIO, "encoding the signature: %s", ssl_reason());
        *ret_der = malloc((size_t) n);
        if (!*ret_der) {
                OPENSSL_free(der);
                return -ENOMEM;
        }
        memcpy(*ret_der, der, (size_t) n);
        OPENSSL_free(der);
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
        _cleanup_(fclose_quietly) FILE *f = fopen(cert_path, "re");
        if (!f)
                return error_set(err, -errno, "%s: %s", cert_path, strerror(errno));
        X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
        if (!c) {
                int r = error_set(err, -EINVAL, "%s: not a PEM certificate: %s", cert_path, ssl_reason());
                return r;
        }
        int r = cert_fingerprint(c, ret_hex);
        X509_free(c);
        return r < 0 ? error_set(err, r, "%s: cannot take its fingerprint", cert_path) : 0;
}

int signer_fingerprint(const struct signer *s, char ret_hex[65]) {
        return cert_fingerprint(s->cert, ret_hex);
}

static int write_new_file(const char *path, mode_t mode, int (*writer)(FILE *f, void *userdata), void *userdata,
                          struct ingot_error *err) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd < 0)
                return error_set(err, -errno, "%s: %s", path,
                                 errno == EEXIST ? "exists already; ingot keygen never overwrites a key"
                                                 : strerror(errno));
        FILE *f = fdopen(fd, "we");
        if (!f) {
                close(fd);
                unlink(path);
                return -ENOMEM;
        }
        int r = writer(f, userdata);
        if (r >= 0 && (fflush(f) != 0 || fsync(fileno(f)) < 0))
                r = -errno;
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

        EVP_PKEY *key = type == KEY_RSA ? EVP_RSA_gen(3072) : EVP_EC_gen("P-256");
        X509 *cert = X509_new();
        int r = 0;
        if (!key || !cert) {
                r = error_set(err, -EIO, "generating a key: %s", ssl_reason());
                goto out;
        }
        uint8_t serial[16];
        ASN1_INTEGER *sn = NULL;
        BIGNUM *bn = NULL;
        if (RAND_bytes(serial, sizeof(serial)) != 1 || !(bn = BN_bin2bn(serial, sizeof(serial), NULL)) ||
            !(sn = BN_to_ASN1_INTEGER(bn, NULL)) || !X509_set_serialNumber(cert, sn) || !X509_set_version(cert, 2) ||
            !X509_gmtime_adj(X509_getm_notBefore(cert), 0) ||
            !X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 24 * 3600) || !X509_set_pubkey(cert, key) ||
            !X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_UTF8,
                                        (const unsigned char *) common_name, -1, -1, 0) ||
            !X509_set_issuer_name(cert, X509_get_subject_name(cert)) || !X509_sign(cert, key, EVP_sha256()))
                r = error_set(err, -EIO, "making the certificate: %s", ssl_reason());
        ASN1_INTEGER_free(sn);
        BN_free(bn);
        if (r >= 0)
                r = write_new_file(key_path, 0600, write_key, key, err);
        if (r >= 0) {
                r = write_new_file(cert_path, 0644, write_cert, cert, err);
                if (r < 0)
                        unlink(key_path);
        }
        if (r >= 0)
                r = fsync_directory_of(key_path);
out:
        EVP_PKEY_free(key);
        X509_free(cert);
        return r;
}

int signature_check(const char *p7s_path, const char *text, const char *cert_path, char ret_fp[65],
                    struct ingot_error *err) {
        _cleanup_(fclose_quietly) FILE *f = fopen(p7s_path, "re");
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

int signature_check_der(const uint8_t *der, size_t der_size, const char *p7s_path, const char *text,
                        const char *cert_path, char ret_fp[65], struct ingot_error *err) {
        PKCS7 *p7 = NULL;
        X509 *trusted = NULL;
        X509_STORE *store = NULL;
        BIO *content = NULL;
        STACK_OF(X509) *signers = NULL;
        int r = 0;
        const unsigned char *in = der;
        p7 = der_size <= LONG_MAX ? d2i_PKCS7(NULL, &in, (long) der_size) : NULL;
        if (!p7 || !PKCS7_type_is_signed(p7)) {
                ERR_clear_error();
                r = error_set(err, -EBADMSG, "%s: not a PKCS#7 signature (damaged or truncated)", p7s_path);
                goto out;
        }
        /* ingot signs detached: embedded content would not be what is checked */
        if (!PKCS7_get_detached(p7)) {
                ERR_clear_error();
                r = error_set(err, -EBADMSG, "%s: not a detached signature (it carries content of its own)", p7s_path);
                goto out;
        }
        /* OpenSSL 3.0's PKCS7_verify leaks when a digest is unknown (fuzz/crashes/pkcs7/): refuse first */
        if (!digests_known(p7)) {
                ERR_clear_error();
                r = error_set(err, -EBADMSG, "%s: the signature names a digest algorithm OpenSSL does not know", p7s_path);
                goto out;
        }
        signers = PKCS7_get0_signers(p7, NULL, 0);
        if (!signers || sk_X509_num(signers) != 1 || cert_fingerprint(sk_X509_value(signers, 0), ret_fp) < 0) {
                ERR_clear_error();
                r = error_set(err, -EBADMSG, "%s: the signature does not carry its signer's certificate", p7s_path);
                goto out;
        }
        if (cert_path) {
                _cleanup_(fclose_quietly) FILE *cf = fopen(cert_path, "re");
                if (!cf) {
                        r = error_set(err, -errno, "%s: %s", cert_path, strerror(errno));
                        goto out;
                }
                trusted = PEM_read_X509(cf, NULL, NULL, NULL);
                if (!trusted) {
                        r = error_set(err, -EINVAL, "%s: not a PEM certificate: %s", cert_path, ssl_reason());
                        goto out;
                }
                char want[65];
                if (cert_fingerprint(trusted, want) < 0 || strcmp(want, ret_fp) != 0) {
                        r = error_set(err, -EKEYREJECTED,
                                      "signature made by another key: signer %.16s..., trusted certificate %.16s...",
                                      ret_fp, want);
                        goto out;
                }
        }
        store = X509_STORE_new();
        content = BIO_new_mem_buf(text, (int) strlen(text));
        if (!store || !content || (trusted && !X509_STORE_add_cert(store, trusted))) {
                r = -ENOMEM;
                goto out;
        }
        X509_STORE_set_purpose(store, X509_PURPOSE_ANY);
        X509_STORE_set_flags(store, X509_V_FLAG_NO_CHECK_TIME); /* a host may not know the time */
        if (PKCS7_verify(p7, NULL, store, content, NULL, PKCS7_BINARY | (trusted ? 0 : PKCS7_NOVERIFY)) != 1) {
                ERR_clear_error();
                r = error_set(err, -EBADMSG, "%s: the signature does not match the root hash %s", p7s_path, text);
        }
out:
        sk_X509_free(signers);
        BIO_free(content);
        X509_STORE_free(store);
        X509_free(trusted);
        PKCS7_free(p7);
        return r;
}
