/* trust.c: /usr/lib/ingot/trusted.d/ in the image: the certificates a host running it accepts for
 * its next installs, named by fingerprint: the recipe's TrustedCertificate= list, else the signer's. */
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>

#include "os-release.h"
#include "trust.h"
#include "signing.h"

static int add_certificate(struct build *b, const char *path) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return error_set(b->err, -errno, "%s: %s", path, strerror(errno));
        char *text = malloc(64 * 1024 + 1);
        if (!text)
                return -ENOMEM;
        size_t n = fread(text, 1, 64 * 1024, f);
        text[n] = 0;
        char fp[65];
        int q = cert_file_fingerprint(path, fp, b->err); /* also: it is one PEM certificate */
        if (q < 0) {
                free(text);
                return q;
        }
        _cleanup_free_ char *dest = NULL;
        if (asprintf(&dest, "%s/%s.crt", TRUSTED_DIR, fp) < 0) {
                free(text);
                return -ENOMEM;
        }
        return build_put_generated(b, dest, text, n);
}

int trust_write(struct build *b) {
        const struct ingot_recipe *r = b->recipe;
        if (r->trusted_certs) {
                for (char **c = r->trusted_certs; *c; c++) {
                        int q = add_certificate(b, *c);
                        if (q < 0)
                                return q;
                }
                return 0;
        }
        const char *signer = b->options->unsigned_image ? NULL : b->options->cert_path ?: r->signing_cert;
        return signer ? add_certificate(b, signer) : 0;
}
