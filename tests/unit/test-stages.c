/* test-stages.c: each stage of the recipe compiler on its own: a recipe and a small tree in, the tree the
 * stage leaves out (the content operations, os-release, mounts, a layer's extension-release and its
 * /usr-and-/opt rule, the trust store, the profile). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>
#include <sys/stat.h>

#include "content.h"
#include "mounts-stage.h"
#include "os-release.h"
#include "pipeline.h"
#include "profile-stage.h"
#include "profile.h"
#include "mounts.h"
#include "source.h"
#include "sysext.h"
#include "trust.h"
#include "tmpdir.h"

/* A stage's inputs: recipe TEXT (written to DIR/recipe.ini and loaded), an empty tree at mtime 7. */
struct fixture {
        struct ingot_recipe *recipe;
        struct ingot_build_options options;
        struct ingot_error err;
        struct build b;
};

static void fixture_init(struct fixture *f, const char *text) {
        char path[128];
        snprintf(path, sizeof(path), "%s/recipe.ini", dir);
        FILE *file = fopen(path, "we");
        assert_non_null(file);
        fputs(text, file);
        assert_int_equal(fclose(file), 0);
        *f = (struct fixture) { 0 };
        assert_int_equal(ingot_recipe_load(path, &f->recipe, &f->err), 0);
        f->b = (struct build) { .recipe = f->recipe, .options = &f->options, .err = &f->err, .default_mtime = 7 };
        assert_int_equal(tree_new(7, &f->b.tree), 0);
}

static void fixture_done(struct fixture *f) {
        tree_free(f->b.tree);
        strv_free(f->b.warnings);
        free(f->b.profile_cmdline);
        ingot_recipe_free(f->recipe);
}

static struct node *put(struct tree *t, const char *path, mode_t mode) {
        struct node *n = NULL;
        _cleanup_free_ char *conflict = NULL;
        assert_int_equal(tree_put(t, path, mode, 0, &n, &conflict), 0);
        return n;
}

/* A regular file in memory, as the sources leave a captured one. */
static struct node *put_text(struct tree *t, const char *path, const char *text) {
        struct node *n = put(t, path, S_IFREG | 0644);
        n->memory = strdup(text);
        assert_non_null(n->memory);
        n->size = strlen(text);
        n->data = DATA_MEMORY;
        return n;
}

static const char *text_at(struct tree *t, const char *path) {
        struct node *n = tree_lookup(t, path);
        assert_non_null(n);
        assert_true(S_ISREG(n->mode));
        assert_int_equal(n->data, DATA_MEMORY);
        assert_int_equal(n->mtime, 7);
        assert_int_equal(n->uid, 0);
        return n->memory;
}

#define BASE_RECIPE "[Image]\nName=demo\nVersion=1.0\n[Base]\nTree=.\n"

/* The base's os-release keeps its lines; the image's identity is merged in, ingot's policy fields
 * replace whatever the base said of them, and /etc/os-release points at the one in /usr/lib. */
static void test_os_release(void **state) {
        (void) state;
        struct fixture f;
        fixture_init(&f, BASE_RECIPE "[Image]\nMinVersion=0.9\n");
        put_text(f.b.tree, OS_RELEASE, "PRETTY_NAME=\"Debian\"\nID=debian\nVERSION_ID=12\nINGOT_MIN_VERSION=5\n");
        assert_int_equal(os_release_write(&f.b), 0);
        assert_string_equal(text_at(f.b.tree, OS_RELEASE),
                            "PRETTY_NAME=\"Debian\"\nID=debian\nVERSION_ID=12\nNAME=demo\nIMAGE_ID=demo\n"
                            "IMAGE_VERSION=1.0\nINGOT_MIN_VERSION=0.9\n");
        struct node *etc = tree_lookup(f.b.tree, ETC_OS_RELEASE);
        assert_non_null(etc);
        assert_true(S_ISLNK(etc->mode));
        assert_string_equal(etc->symlink_target, "../usr/lib/os-release");
        fixture_done(&f);
}

/* OsRelease=no leaves the tree as it is. */
static void test_os_release_off(void **state) {
        (void) state;
        struct fixture f;
        fixture_init(&f, BASE_RECIPE "[Image]\nOsRelease=no\n");
        assert_int_equal(os_release_write(&f.b), 0);
        assert_null(tree_lookup(f.b.tree, OS_RELEASE));
        assert_null(tree_lookup(f.b.tree, ETC_OS_RELEASE));
        fixture_done(&f);
}

/* [Mounts] becomes MOUNTS_FILE, each path checked against the tree; a missing directory is named with
 * the recipe line that asked for it. */
static void test_mounts(void **state) {
        (void) state;
        struct fixture f;
        fixture_init(&f, BASE_RECIPE "[Mounts]\nTmpfs=/srv\nOverlay=/etc\n");
        put(f.b.tree, "/srv", S_IFDIR | 0755);
        put(f.b.tree, "/etc", S_IFDIR | 0755);
        assert_int_equal(mounts_write(&f.b), 0);
        assert_string_equal(text_at(f.b.tree, MOUNTS_FILE), "tmpfs /srv\noverlay /etc\n");
        fixture_done(&f);

        fixture_init(&f, BASE_RECIPE "[Mounts]\nTmpfs=/srv\n");
        put(f.b.tree, "/srv", S_IFLNK | 0777);
        assert_int_equal(mounts_write(&f.b), -ENOTDIR);
        assert_non_null(strstr(f.err.message, "recipe.ini:7: Tmpfs=/srv: not a directory"));
        assert_null(tree_lookup(f.b.tree, MOUNTS_FILE));
        fixture_done(&f);
}

/* A layer's stages: extension-release from its base (tagged for systemd), and nothing outside /usr
 * and /opt, named with the recipe line that brought it. */
static void test_layer(void **state) {
        (void) state;
        struct fixture f;
        fixture_init(&f, "[Extension]\nName=tools\nVersion=2\n[Content]\nMkdir=/usr/share/tools\n");
        struct sysext_base base = { .name = (char *) "demo", .version = (char *) "1.0", .id = (char *) "debian",
                                    .version_id = (char *) "12", .architecture = (char *) "x86-64" };
        struct build_layer layer = { .architecture = "x86-64", .userdata = &base };
        f.b.layer = &layer;
        put(f.b.tree, "/usr/share/tools", S_IFDIR | 0755);
        assert_int_equal(sysext_release_write(&f.b), 0);
        const char *path = EXTENSION_RELEASE_DIR "/extension-release.tools";
        const char *text = text_at(f.b.tree, path);
        assert_non_null(strstr(text, "ID=debian\n"));
        assert_non_null(strstr(text, "VERSION_ID=12\n"));
        assert_non_null(strstr(text, "ARCHITECTURE=x86-64\n"));
        struct node *n = tree_lookup(f.b.tree, path);
        assert_int_equal(n->n_xattrs, 1);
        assert_string_equal(n->xattrs[0].key, "user.extension-release.strict");
        assert_int_equal(sysext_check_tree(&f.b), 0);

        put(f.b.tree, "/etc/tools.conf", S_IFREG | 0644);
        assert_int_equal(sysext_check_tree(&f.b), -EINVAL);
        assert_non_null(strstr(f.err.message, "/etc/tools.conf: a layer holds only /usr and /opt"));
        fixture_done(&f);
}

/* The content operations in order, and their shadow on the base: Copy= of a host directory merges
 * through the image's /lib symlink without replacing it, owned by root with its data left for later;
 * Remove= takes a name while its hard link keeps the inode; Mkdir= and Mode= set what they say. */
static void test_content(void **state) {
        (void) state;
        sh("mkdir -p overlay/lib overlay/etc && echo p >overlay/lib/plugin.so && echo m >overlay/etc/motd");
        struct fixture f;
        fixture_init(&f, BASE_RECIPE "[Content]\nRemove=/usr/bin/tool\nCopy=overlay/:/\nMkdir=/srv:0700\n"
                                     "Mode=/usr/bin/alias:0750\n");
        put(f.b.tree, "/usr/lib", S_IFDIR | 0755);
        put(f.b.tree, "/lib", S_IFLNK | 0777)->symlink_target = strdup("usr/lib");
        put_text(f.b.tree, "/etc/motd", "base\n")->uid = 5;
        struct node *tool = put(f.b.tree, "/usr/bin/tool", S_IFREG | 0755);
        put(f.b.tree, "/usr/bin/alias", S_IFREG | 0755)->link = tool;

        assert_int_equal(content_prepare(&f.b), 0);
        assert_true(content_shadowed(&f.b, "/usr/bin/tool", S_IFREG));
        assert_true(content_shadowed(&f.b, "/etc/motd", S_IFREG)); /* the copy replaces it */
        assert_false(content_shadowed(&f.b, "/etc", S_IFDIR));      /* a directory merges */
        assert_false(content_shadowed(&f.b, "/usr/bin/alias", S_IFREG));

        assert_int_equal(content_apply(&f.b), 0);
        assert_null(tree_lookup(f.b.tree, "/usr/bin/tool"));
        struct node *lib = tree_lookup(f.b.tree, "/lib");
        assert_true(S_ISLNK(lib->mode));
        struct node *plugin = tree_lookup(f.b.tree, "/usr/lib/plugin.so");
        assert_non_null(plugin);
        assert_int_equal(plugin->data, DATA_HOST);
        assert_int_equal(plugin->size, 2);
        assert_non_null(strstr(plugin->host_path, "/overlay/lib/plugin.so"));
        struct node *motd = tree_lookup(f.b.tree, "/etc/motd");
        assert_int_equal(motd->data, DATA_HOST);
        assert_int_equal(motd->uid, 0);
        assert_int_equal(tree_lookup(f.b.tree, "/srv")->mode, S_IFDIR | 0700);
        assert_int_equal(node_inode(tree_lookup(f.b.tree, "/usr/bin/alias"))->mode, S_IFREG | 0750);
        path_set_free(f.b.shadow);
        path_set_free(f.b.skipped);
        free(f.b.binary_libraries);
        fixture_done(&f);
}

/* The loop that takes a base in (pipeline.c), over a directory source: what Remove= takes is left out
 * with all below it, unless it is a file with another name, which then inherits it; mtimes are clamped. */
static void test_take(void **state) {
        (void) state;
        sh("mkdir -p base/a base/b base/c base/d && : >base/a/x && ln base/a/x base/b/y && : >base/c/z && "
           "ln base/c/z base/d/w && touch -d @2000000000 base/d");
        struct fixture f;
        fixture_init(&f, BASE_RECIPE "[Content]\nRemove=/a\nRemove=/c/z\n[Output]\nSourceDateEpoch=1000000\n");
        f.b.source_date_epoch = 1000000;
        assert_int_equal(content_prepare(&f.b), 0);
        char base[128];
        snprintf(base, sizeof(base), "%s/base", dir);
        struct source *s;
        assert_int_equal(source_dir_open(base, "/", NULL, 0, &s), 0);
        assert_int_equal(pipeline_take(&f.b, s), 0);
        assert_null(tree_lookup(f.b.tree, "/a"));
        assert_true(content_was_skipped(&f.b, "/a/x"));
        assert_null(tree_lookup(f.b.tree, "/b/y")->link); /* its first name was never taken */
        struct node *z = tree_lookup(f.b.tree, "/c/z");
        assert_non_null(z);
        assert_ptr_equal(tree_lookup(f.b.tree, "/d/w")->link, z);
        assert_int_equal(tree_lookup(f.b.tree, "/d")->mtime, 1000000);

        assert_int_equal(content_apply(&f.b), 0);
        assert_null(tree_lookup(f.b.tree, "/c/z"));
        assert_non_null(tree_lookup(f.b.tree, "/d/w"));
        path_set_free(f.b.shadow);
        path_set_free(f.b.skipped);
        free(f.b.binary_libraries);
        fixture_done(&f);
}

/* A certificate made by openssl in dir as NAME.pem, and its SHA-256 fingerprint as openssl computes it
 * (of the DER form), which names it in the trust store. */
static void make_certificate(const char *name, char fp[65]) {
        char cmd[512], path[128];
        snprintf(cmd, sizeof(cmd),
                 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s.key -out %s.pem "
                 "-subj /CN=%s -days 1 2>/dev/null && openssl x509 -in %s.pem -outform DER | sha256sum | "
                 "cut -c1-64 | tr -d '\\n' >%s.fp",
                 name, name, name, name, name);
        sh(cmd);
        snprintf(path, sizeof(path), "%s/%s.fp", dir, name);
        _cleanup_free_ char *text = NULL;
        assert_int_equal(read_text_file(path, 64, &text), 0);
        assert_int_equal(strlen(text), 64);
        strcpy(fp, text);
}

static void assert_trusted(struct tree *t, const char *fp, const char *pem_name) {
        char image_path[256], host_path[128];
        snprintf(image_path, sizeof(image_path), "%s/%s.crt", TRUSTED_DIR, fp);
        snprintf(host_path, sizeof(host_path), "%s/%s.pem", dir, pem_name);
        _cleanup_free_ char *pem = NULL;
        assert_int_equal(read_text_file(host_path, 64 * 1024, &pem), 0);
        assert_string_equal(text_at(t, image_path), pem);
}

/* The trust store: each TrustedCertificate= under its fingerprint, byte for byte; without the key, the
 * signer's certificate; an unsigned image with none trusts nothing; what is not one certificate is
 * refused by name. */
static void test_trust(void **state) {
        (void) state;
        char fp1[65], fp2[65];
        make_certificate("c1", fp1);
        make_certificate("c2", fp2);
        assert_string_not_equal(fp1, fp2);

        struct fixture f;
        fixture_init(&f, BASE_RECIPE "[Signing]\nTrustedCertificate=c1.pem\nTrustedCertificate=c2.pem\n");
        assert_int_equal(trust_write(&f.b), 0);
        assert_trusted(f.b.tree, fp1, "c1");
        assert_trusted(f.b.tree, fp2, "c2");
        assert_int_equal(tree_lookup(f.b.tree, TRUSTED_DIR)->n_children, 2);
        fixture_done(&f);

        char cert[128];
        snprintf(cert, sizeof(cert), "%s/c2.pem", dir);
        fixture_init(&f, BASE_RECIPE);
        f.options.cert_path = cert;
        assert_int_equal(trust_write(&f.b), 0);
        assert_trusted(f.b.tree, fp2, "c2");
        assert_int_equal(tree_lookup(f.b.tree, TRUSTED_DIR)->n_children, 1);
        f.options.unsigned_image = true;
        tree_free(f.b.tree);
        assert_int_equal(tree_new(7, &f.b.tree), 0);
        assert_int_equal(trust_write(&f.b), 0);
        assert_null(tree_lookup(f.b.tree, TRUSTED_DIR));
        fixture_done(&f);

        sh("head -c 100 c1.pem >cut.pem");
        fixture_init(&f, BASE_RECIPE "[Signing]\nTrustedCertificate=c1.pem\nTrustedCertificate=cut.pem\n");
        assert_true(trust_write(&f.b) < 0);
        assert_non_null(strstr(f.err.message, "cut.pem"));
        fixture_done(&f);
}

/* Profile=: the profile compiled into PROFILE_IN_IMAGE (its kind, its kernel parameters and sysctls),
 * the command line kept for the image check, warnings passed on; a parameter the boot machinery owns is
 * refused with the profile's file:line and nothing is written. */
static void test_profile(void **state) {
        (void) state;
        sh("printf '[Kernel]\\nParameters=quiet console=ttyS0\\nParameters=init=/bin/sh\\n"
           "[Sysctl]\\nvm.swappiness=10\\n' >host.conf && printf '[Kernel]\\nParameters=panic=0\\n' >bad.conf");
        struct fixture f;
        fixture_init(&f, BASE_RECIPE "[Image]\nProfile=host.conf\n");
        assert_int_equal(profile_write(&f.b), 0);
        assert_string_equal(f.b.profile_cmdline, "quiet console=ttyS0 init=/bin/sh");
        json_object *j = json_tokener_parse(text_at(f.b.tree, PROFILE_IN_IMAGE));
        assert_non_null(j);
        json_object *v;
        assert_true(json_object_object_get_ex(j, "kind", &v));
        assert_string_equal(json_object_get_string(v), PROFILE_KIND);
        assert_true(json_object_object_get_ex(j, "cmdline", &v));
        assert_string_equal(json_object_get_string(v), f.b.profile_cmdline);
        assert_true(json_object_object_get_ex(j, "sysctl", &v)); /* [[name, value], ...] */
        assert_int_equal(json_object_array_length(v), 1);
        v = json_object_array_get_idx(v, 0);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 0)), "vm.swappiness");
        assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 1)), "10");
        json_object_put(j);
        assert_non_null(f.b.warnings);
        assert_non_null(strstr(f.b.warnings[0], "host.conf:3"));
        assert_non_null(strstr(f.b.warnings[0], "init="));
        fixture_done(&f);

        fixture_init(&f, BASE_RECIPE "[Image]\nProfile=bad.conf\n");
        assert_true(profile_write(&f.b) < 0);
        assert_non_null(strstr(f.err.message, "bad.conf:2"));
        assert_null(tree_lookup(f.b.tree, PROFILE_IN_IMAGE));
        assert_null(f.b.profile_cmdline);
        fixture_done(&f);

        fixture_init(&f, BASE_RECIPE);
        assert_int_equal(profile_write(&f.b), 0);
        assert_null(tree_lookup(f.b.tree, PROFILE_IN_IMAGE));
        fixture_done(&f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_os_release),
                cmocka_unit_test(test_os_release_off),
                cmocka_unit_test(test_mounts),
                cmocka_unit_test(test_layer),
                cmocka_unit_test(test_content),
                cmocka_unit_test(test_take),
                cmocka_unit_test(test_trust),
                cmocka_unit_test(test_profile),
        };
        return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
