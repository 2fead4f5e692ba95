/* verb-build.c: `ingot build RECIPE`: compile a recipe into OUTDIR/NAME_VERSION.raw, with progress on
 * a terminal, a JSON result on request, and a clean stop on SIGINT/SIGTERM. */
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util.h"

static volatile sig_atomic_t cancelled;

static void on_signal(int sig) {
        (void) sig;
        cancelled = 1;
}

void help_build(FILE *f) {
        fprintf(f,
                "Usage: %s build RECIPE [OPTIONS]\n"
                "Compile RECIPE into OUTDIR/NAME_VERSION.raw, a reproducible squashfs root image,\n"
                "with NAME_VERSION.verity (its dm-verity hash tree), NAME_VERSION.roothash and\n"
                "NAME_VERSION.roothash.p7s (PKCS#7 signature over the hex root hash), NAME_VERSION.blocks\n"
                "(its block index: each block's offset, size and SHA-256) and NAME_VERSION.manifest.json.\n"
                "Rootless: ownership comes from the base (tar headers, or the tree's owners).\n\n"
                "  -o --output DIR  where to write the image (default: ./out)\n"
                "  -j --jobs N      compressor threads (default: all cores)\n"
                "     --json        print the result as a JSON object on stdout\n"
                "  -q --quiet       no progress, only errors and warnings\n"
                "     --key KEY     PEM private key that signs the root hash (with --cert)\n"
                "     --cert CERT   its PEM certificate; both beat [Signing] in the recipe\n"
                "     --unsigned    build without a signature (needed when no key is given)\n"
                "     --reuse PREV  take the blocks that did not change from PREV (an earlier image with its\n"
                "                   .blocks beside it, or a directory of them; repeatable) instead of\n"
                "                   compressing them again: the output is the same, byte for byte\n"
                "  -h --help        show this help\n\n"
                "SOURCE_DATE_EPOCH, when set, clamps every mtime and beats the recipe's SourceDateEpoch=;\n"
                "with neither, the build warns that a rebuild may differ.\n"
                "The image is written under a temporary name and renamed when complete; a failed build\n"
                "leaves nothing behind, not even the output directory when it made it.\n",
                program_name);
}

static void on_progress(const struct ingot_progress *p, void *userdata) {
        struct progress_state *s = userdata;
        if (!progress_due(s, strcmp(p->phase, "finishing") == 0))
                return;
        double t = s->last;
        double mib = (double) p->bytes / (1024.0 * 1024.0);
        double rate = t > s->start ? mib / (t - s->start) : 0;
        fprintf(stderr, "\r\033[K%-9s %8llu files  %10.1f MiB  %7.1f MiB/s", p->phase, (unsigned long long) p->files,
                mib, rate);
        s->shown = true;
        fflush(stderr);
}

static int print_json(const struct ingot_recipe *recipe, const struct ingot_build_result *res, double seconds,
                      const char *warning) {
        json_object *o = json_object_new_object();
        if (!o)
                return -1;
        json_object_object_add(o, "image", json_object_new_string(res->image_path));
        json_object_object_add(o, "verity", json_object_new_string(res->verity_path));
        json_object_object_add(o, "roothash", json_object_new_string(res->roothash_path));
        json_object_object_add(o, "root_hash", json_object_new_string(res->root_hash));
        json_object_object_add(o, "manifest", json_object_new_string(res->manifest_path));
        json_object_object_add(o, "blocks", json_object_new_string(res->blocks_path));
        json_object_object_add(o, "signature",
                               res->signature_path ? json_object_new_string(res->signature_path) : NULL);
        json_object_object_add(o, "signer_fingerprint",
                               res->signature_path ? json_object_new_string(res->signer_fingerprint) : NULL);
        json_object_object_add(o, "name", json_object_new_string(ingot_recipe_name(recipe)));
        json_object_object_add(o, "version", json_object_new_string(ingot_recipe_version(recipe)));
        json_object_object_add(o, "size", json_object_new_int64((int64_t) res->image_size));
        json_object_object_add(o, "source_date_epoch",
                               res->source_date_epoch >= 0 ? json_object_new_int64(res->source_date_epoch) : NULL);
        const struct ingot_image_stats *s = &res->stats;
        json_object *c = json_object_new_object();
        json_object_object_add(c, "files", json_object_new_int64((int64_t) s->files));
        json_object_object_add(c, "directories", json_object_new_int64((int64_t) s->directories));
        json_object_object_add(c, "symlinks", json_object_new_int64((int64_t) s->symlinks));
        json_object_object_add(c, "hardlinks", json_object_new_int64((int64_t) s->hardlinks));
        json_object_object_add(c, "devices", json_object_new_int64((int64_t) s->devices));
        json_object_object_add(c, "fifos", json_object_new_int64((int64_t) s->fifos));
        json_object_object_add(c, "sockets", json_object_new_int64((int64_t) s->sockets));
        json_object_object_add(c, "bytes", json_object_new_int64((int64_t) s->bytes));
        json_object_object_add(o, "contents", c);
        json_object *b = json_object_new_object(); /* data and fragment blocks */
        json_object_object_add(b, "compressed", json_object_new_int64((int64_t) res->blocks_compressed));
        json_object_object_add(b, "reused", json_object_new_int64((int64_t) res->blocks_reused));
        json_object_object_add(b, "reused_bytes", json_object_new_int64((int64_t) res->bytes_reused));
        json_object_object_add(o, "block_reuse", b);
        json_object_object_add(o, "seconds", json_object_new_double(seconds));
        json_object *w = json_object_new_array(); /* every warning said on stderr, the epoch's first */
        if (warning)
                json_object_array_add(w, json_object_new_string(warning));
        for (char **l = res->warnings; l && *l; l++)
                json_object_array_add(w, json_object_new_string(*l));
        json_object_object_add(o, "warnings", w);
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return 0;
}

void build_args_init(struct build_args *a) {
        *a = (struct build_args) { .options = { .output_dir = "out", .cancel = &cancelled } };
}

void build_args_done(struct build_args *a) {
        free(a->reuse);
        a->reuse = NULL;
}

int build_args_option(struct build_args *a, int c, const char *arg, const char *verb) {
        struct ingot_build_options *bo = &a->options;
        switch (c) {
        case 'R': {
                char **l = reallocarray(a->reuse, a->n_reuse + 2, sizeof(*l));
                if (!l) {
                        log_error("out of memory");
                        return EXIT_FAILURE_;
                }
                l[a->n_reuse++] = (char *) arg;
                l[a->n_reuse] = NULL;
                bo->reuse = a->reuse = l;
                return 0;
        }
        case 'o':
                bo->output_dir = arg;
                return 0;
        case 'j': {
                char *end;
                long n = strtol(arg, &end, 10);
                if (*end || n < 1 || n > 1024)
                        return usage_error(verb, "--jobs wants a number from 1 to 1024, got '%s'", arg);
                bo->jobs = (unsigned) n;
                return 0;
        }
        case 'J':
                a->json = true;
                return 0;
        case 'q':
                a->quiet = true;
                return 0;
        case 'K':
                bo->key_path = arg;
                return 0;
        case 'C':
                bo->cert_path = arg;
                return 0;
        case 'U':
                bo->unsigned_image = true;
                return 0;
        }
        return -1;
}

int build_args_finish(struct build_args *a, const char *verb) {
        struct ingot_build_options *bo = &a->options;
        if (!bo->key_path != !bo->cert_path)
                return usage_error(verb, "--key and --cert go together");
        if (bo->unsigned_image && bo->key_path)
                return usage_error(verb, "--unsigned and --key contradict each other");
        int q = source_date_epoch(verb, &bo->have_source_date_epoch, &bo->source_date_epoch);
        if (q != 0)
                return q;
        struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: blocked reads return */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        a->progress = (struct progress_state) { .start = now_seconds() };
        if (!a->quiet && isatty(STDERR_FILENO)) {
                bo->progress = on_progress;
                bo->userdata = &a->progress;
        }
        return 0;
}

const char *build_epoch_warning(const struct build_args *a, const char *recipe_path,
                                const struct ingot_recipe *recipe, char *buf, size_t size) {
        if (a->options.have_source_date_epoch || ingot_recipe_source_date_epoch(recipe) >= 0)
                return NULL;
        snprintf(buf, size,
                 "nothing sets a source date epoch (no SourceDateEpoch= in %s, no SOURCE_DATE_EPOCH): file times "
                 "are not clamped and a rebuild may differ",
                 recipe_path);
        log_error("warning: %s", buf);
        return buf;
}

int verb_build(int argc, char **argv) {
        static const struct option options[] = { BUILD_LONG_OPTIONS, {} };
        _cleanup_(build_args_done) struct build_args a;
        build_args_init(&a);
        int c, u;
        optind = 1;
        while ((c = getopt_long(argc, argv, BUILD_SHORT_OPTIONS, options, NULL)) >= 0)
                if ((u = build_args_option(&a, c, optarg, "build")) != 0)
                        return u > 0 ? u : usage_error("build", "invalid option");
        if (argc - optind != 1)
                return usage_error("build", "expected exactly one RECIPE");
        if ((u = build_args_finish(&a, "build")) != 0)
                return u;
        struct ingot_build_options bo = a.options;
        bool json = a.json, quiet = a.quiet;

        struct ingot_error err = { 0 };
        struct ingot_recipe *recipe = NULL;
        int r = ingot_recipe_load(argv[optind], &recipe, &err);
        if (r < 0)
                return log_lib_error(NULL, r, &err);
        char warning_buf[512];
        const char *warning = build_epoch_warning(&a, argv[optind], recipe, warning_buf, sizeof(warning_buf));

        struct ingot_build_result res = { 0 };
        r = ingot_build(recipe, &bo, &res, &err);
        progress_clear(&a.progress);
        double seconds = now_seconds() - a.progress.start;
        if (r < 0) {
                ingot_recipe_free(recipe);
                return log_lib_error(NULL, r, &err);
        }
        for (char **l = res.warnings; l && *l; l++)
                log_error("warning: %s", *l);
        if (json)
                print_json(recipe, &res, seconds, warning);
        else if (!quiet)
                printf("%s: %llu files, %llu directories, %.1f MiB of data -> %.1f MiB image in %.1f s\n"
                       "%s: dm-verity hash tree, root hash %s\n",
                       res.image_path, (unsigned long long) res.stats.files,
                       (unsigned long long) res.stats.directories, (double) res.stats.bytes / 1048576.0,
                       (double) res.image_size / 1048576.0, seconds, res.verity_path, res.root_hash);
        if (!json && !quiet && bo.reuse)
                printf("%s: %llu blocks reused (%.1f MiB), %llu compressed\n", res.image_path,
                       (unsigned long long) res.blocks_reused, (double) res.bytes_reused / 1048576.0,
                       (unsigned long long) res.blocks_compressed);
        if (!json && !quiet)
                printf(res.signature_path ? "%s: signed by the certificate with SHA-256 fingerprint %s\n"
                                          : "unsigned: no host that checks signatures will boot it\n",
                       res.signature_path, res.signer_fingerprint);
        ingot_build_result_clear(&res);
        ingot_recipe_free(recipe);
        return EXIT_OK;
}
