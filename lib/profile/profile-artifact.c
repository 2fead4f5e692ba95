/* profile-artifact.c: compiled host profiles as build artifacts (see profile.h): checked against the
 * hosts' memory and a kernel's sysctls, signed like a root hash and written as artifacts (temporary names,
 * fsync, rename). */
#include <string.h>
#include <sys/stat.h>

#include "artifact.h"
#include "profile.h"
#include "signing.h"

static int check_memory(const struct profile *p, uint64_t memory, struct ingot_error *err) {
        uint64_t total = 0;
        const char *where = NULL;
        for (size_t i = 0; i < p->n_pages; i++) {
                total += p->pages[i].size * p->pages[i].count;
                if (total > memory && !where)
                        where = p->pages[i].where;
        }
        if (where)
                return error_set(err, -E2BIG, "%s: the huge pages come to %llu MiB, more than the hosts' %llu MiB",
                                 where, (unsigned long long) (total >> 20), (unsigned long long) (memory >> 20));
        return 0;
}

/* Every sysctl is a file under dir (a kernel's /proc/sys): the profile is for that kernel. */
static int check_sysctls(const struct profile *p, const char *dir, struct ingot_error *err) {
        for (size_t i = 0; i < p->n_sysctls; i++) {
                _cleanup_free_ char *path = path_join(dir, p->sysctls[i].key);
                if (!path)
                        return -ENOMEM;
                for (char *c = path + strlen(dir); *c; c++)
                        if (*c == '.')
                                *c = '/';
                struct stat st;
                if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                        return error_set(err, -ENOENT, "%s: %s: the kernel of %s has no such sysctl", p->sysctls[i].where,
                                         p->sysctls[i].key, dir);
        }
        return 0;
}

int profile_compile_to(const struct profile *p, const char *outdir, const struct profile_compile_options *o,
                       char **ret_json_path, struct ingot_error *err) {
        if (!o->key_path != !o->cert_path)
                return error_set(err, -EINVAL, "profile: --key and --cert go together");
        if (!o->key_path && !o->unsigned_ok)
                return error_set(err, -EINVAL, "profile: no signing key: give --key and --cert, or --unsigned");
        int q;
        if (o->memory) {
                q = check_memory(p, o->memory, err);
                if (q < 0)
                        return q;
        }
        if (o->kernel_sysctls) {
                q = check_sysctls(p, o->kernel_sysctls, err);
                if (q < 0)
                        return q;
        }
        _cleanup_free_ char *name = profile_name(p->path);
        _cleanup_free_ char *json = NULL, *json_name = NULL, *sig_name = NULL;
        if (!name || asprintf(&json_name, "%s.profile.json", name) < 0 || asprintf(&sig_name, "%s.p7s", json_name) < 0)
                return -ENOMEM;
        q = profile_compile(p, name, o->images, &json, err);
        if (q < 0)
                return q;
        q = mkdir_p(outdir, 0755);
        if (q < 0)
                return error_set(err, q, "%s: %s", outdir, strerror(-q));
        _cleanup_(artifact_set_discard) struct artifact_set files = { .n = 0 };
        if (o->key_path) {
                _cleanup_(signer_freep) struct signer *signer = NULL;
                _cleanup_free_ uint8_t *der = NULL;
                size_t der_size = 0;
                q = signer_load(o->key_path, o->cert_path, &signer, err);
                if (q < 0)
                        return q;
                q = signer_sign(signer, json, &der, &der_size, err);
                if (q < 0)
                        return q;
                q = artifact_set_add(&files, outdir, sig_name, der, der_size, err); /* first: readers look for the JSON */
                if (q < 0)
                        return q;
        }
        q = artifact_set_add(&files, outdir, json_name, json, strlen(json), err);
        if (q < 0)
                return q;
        q = artifacts_commit(files.a, files.n, err);
        if (q < 0)
                return q;
        if (ret_json_path && !(*ret_json_path = strdup(files.a[files.n - 1].final)))
                return -ENOMEM;
        return 0;
}
