/* trust.c: /usr/lib/ingot/trusted.d/ in the image: the certificates a host running it accepts for
 * its next installs, named by fingerprint: the recipe's TrustedCertificate= list, else the signer's. */
#include <string.h>

#include "os-release.h"
#include "trust.h"
#include "signing.h"

#define CERTIFICATE_MAX (64 * 1024)

static int add_certificate(struct build *b, const char *path) {
        char fp[65];
        int q = cert_file_fingerprint(path, fp, b->err); /* also: it is one PEM certificate */
        if (q < 0)
                return q;
        _cleanup_free_ char *text = NULL, *dest = NULL;
        size_t size;
        q = read_file(path, CERTIFICATE_MAX, &text, &size);
        if (q < 0)
                return error_set(b->err, q, "%s: %s", path,
                                 q == -EFBIG ? "larger than 64 KiB, which no certificate is" : strerror(-q));
        if (asprintf(&dest, "%s/%s.crt", TRUSTED_DIR, fp) < 0)
                return -ENOMEM;
        return build_put_generated(b, dest, TAKE_PTR(text), size);
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
