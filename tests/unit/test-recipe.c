/* test-recipe.c: the INI reader (continuations, comments, Include=, drop-ins, loops) and the recipe
 * key tables: every error names file:line and, where it can, the nearest known key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>
#include <sys/stat.h>

#include "ini.h"
#include "recipe.h"
#include "tmpdir.h"

static void write_file(const char *name, const char *text) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static char *path_of(const char *name) {
        static char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        return path;
}

struct collected {
        char text[4096];
};

static int collect(const struct ini_event *ev, void *userdata, struct ingot_error *err) {
        (void) err;
        struct collected *c = userdata;
        size_t n = strlen(c->text);
        if (ev->type == INI_ASSIGNMENT)
                snprintf(c->text + n, sizeof(c->text) - n, "%u:[%s]%s=%s;", ev->line, ev->section, ev->key,
                         ev->value);
        return 0;
}

static void test_ini_syntax(void **state) {
        (void) state;
        write_file("a.ini", "# comment\n; also\n[S]\n  Key = value with spaces  \nList=a \\\n  b \\\n# skipped\n  c\n"
                            "Empty=\n");
        struct collected c = { "" };
        struct ingot_error err = { 0 };
        assert_int_equal(ini_parse(path_of("a.ini"), collect, &c, &err), 0);
        assert_string_equal(c.text, "4:[S]Key=value with spaces;5:[S]List=a b c;9:[S]Empty=;");
}

static void test_ini_include_and_dropins(void **state) {
        (void) state;
        write_file("b.ini", "[S]\nA=1\nInclude=inc/c.ini\nB=2\n");
        mkdir(path_of("inc"), 0755);
        write_file("inc/c.ini", "[T]\nC=3\n");
        mkdir(path_of("b.ini.d"), 0755);
        write_file("b.ini.d/20-late.conf", "[S]\nD=late\n");
        write_file("b.ini.d/10-early.conf", "[S]\nD=early\n");
        write_file("b.ini.d/ignored.txt", "[S]\nD=never\n");
        struct collected c = { "" };
        struct ingot_error err = { 0 };
        assert_int_equal(ini_parse(path_of("b.ini"), collect, &c, &err), 0);
        /* after the include the including file's section goes on */
        assert_string_equal(c.text, "2:[S]A=1;2:[T]C=3;4:[S]B=2;2:[S]D=early;2:[S]D=late;");
}

static void test_ini_errors(void **state) {
        (void) state;
        struct collected c = { "" };
        struct ingot_error err = { 0 };
        write_file("loop.ini", "[S]\nInclude=loop.ini\n");
        assert_int_equal(ini_parse(path_of("loop.ini"), collect, &c, &err), -ELOOP);
        assert_non_null(strstr(err.message, "loop.ini:2: include loop"));

        err = (struct ingot_error) { 0 };
        write_file("nosec.ini", "Key=1\n");
        assert_int_equal(ini_parse(path_of("nosec.ini"), collect, &c, &err), -EINVAL);
        assert_non_null(strstr(err.message, "nosec.ini:1: 'Key=' outside of any [Section]"));

        err = (struct ingot_error) { 0 };
        write_file("bad.ini", "[S]\n\ngarbage\n");
        assert_int_equal(ini_parse(path_of("bad.ini"), collect, &c, &err), -EINVAL);
        assert_non_null(strstr(err.message, "bad.ini:3: expected Key=Value"));

        err = (struct ingot_error) { 0 };
        write_file("missing.ini", "[S]\nInclude=nope.ini\n");
        assert_int_equal(ini_parse(path_of("missing.ini"), collect, &c, &err), -ENOENT);
        assert_non_null(strstr(err.message, "missing.ini:2: cannot include"));
}

static void expect_recipe_error(const char *text, const char *message) {
        write_file("r.ini", text);
        struct ingot_recipe *r = NULL;
        struct ingot_error err = { 0 };
        assert_true(ingot_recipe_load(path_of("r.ini"), &r, &err) < 0);
        assert_null(r);
        if (!strstr(err.message, message))
                fail_msg("got '%s', want '%s'", err.message, message);
}

static void test_recipe_errors(void **state) {
        (void) state;
        expect_recipe_error("[Image]\nName=x\nVersion=1\n[Output]\nCompresion=xz\n",
                            "r.ini:5: unknown key 'Compresion' in [Output]; did you mean 'Compression'?");
        expect_recipe_error("[Image]\nName=x\nVersion=1\n[Outptu]\n", "r.ini:4: unknown section [Outptu]; did you mean [Output]?");
        expect_recipe_error("[Image]\nName=x\nLevel=3\n", "r.ini:3: unknown key 'Level' in [Image]; it belongs in [Output]");
        expect_recipe_error("[Image]\nName=x\n", "[Image] Version= is required");
        expect_recipe_error("[Image]\nName=../x\nVersion=1\n", "r.ini:2: Name='../x' is not valid");
        expect_recipe_error("[Image]\nName=x\nVersion=1\n[Base]\nTree=does-not-exist\n", "r.ini:5: '");
        expect_recipe_error("[Image]\nName=x\nVersion=1\n[Base]\nDebian=bookworm\nArchive=r.ini\n",
                            "r.ini:6: Archive= conflicts with the base set at");
        expect_recipe_error("[Image]\nName=x\nVersion=1\n[Output]\nCompression=gzip\nLevel=12\n", "Level=12 is outside 1..9");
        expect_recipe_error("[Image]\nName=x\nVersion=1\n[Output]\nBlockSize=3K\n", "r.ini:5: BlockSize='3K' must be");
        expect_recipe_error("[Image]\nName=x\nVersion=1\n[Content]\nRemove=/usr/../..\n", "r.ini:5: Remove=: image path");
        expect_recipe_error("[Image]\nName=x\nVersion=1\n[Content]\nRemove=etc\n", "must be absolute");
        expect_recipe_error("[Image]\nName=x\nVersion=1\n[Content]\nMode=/x:999\n", "r.ini:5: Mode= wants PATH:OCTAL-MODE");
        expect_recipe_error("[Image]\nName=x\nVersion=1\n[Content]\nOwner=/x:root:0\n", "is not a numeric UID:GID");
        expect_recipe_error("[Image]\nName=x\nVersion=1\n[Base]\nPackages=vim\n", "need Debian= in [Base]");
}

static void test_recipe_resolves(void **state) {
        (void) state;
        mkdir(path_of("overlay"), 0755);
        write_file("ok.ini", "[Image]\nName=demo\nVersion=1.0.0\n[Base]\nDebian=bookworm\nPackages=a,b c\nPackages=d\n"
                             "[Content]\nCopy=overlay/:/srv\nSymlink=../usr/lib/os-release:/etc/os-release\n"
                             "Remove=/usr/share/doc/\n[Output]\nCompression=xz\nLevel=9\nBlockSize=1M\n");
        mkdir(path_of("ok.ini.d"), 0755);
        write_file("ok.ini.d/50-more.conf", "[Base]\nPackages=\nPackages=e\n[Content]\nMode=/srv:0700\n");
        struct ingot_recipe *r = NULL;
        struct ingot_error err = { 0 };
        assert_int_equal(ingot_recipe_load(path_of("ok.ini"), &r, &err), 0);
        assert_string_equal(r->name, "demo");
        assert_int_equal(r->base, BASE_DEBIAN);
        assert_int_equal(strv_length(r->packages), 1); /* the drop-in's empty assignment reset the list */
        assert_string_equal(r->packages[0], "e");
        assert_int_equal(r->n_ops, 4);
        assert_int_equal(r->ops[0].kind, OP_COPY);
        assert_true(r->ops[0].source[0] == '/');
        assert_string_equal(r->ops[0].path, "/srv");
        assert_string_equal(r->ops[1].target, "../usr/lib/os-release");
        assert_string_equal(r->ops[2].path, "/usr/share/doc");
        assert_int_equal(r->ops[3].mode, 0700);
        assert_non_null(strstr(r->ops[3].where, "ok.ini.d/50-more.conf:5"));
        assert_int_equal(r->block_size, 1 << 20);
        char *json = NULL;
        assert_int_equal(ingot_recipe_to_json(r, &json), 0);
        assert_non_null(strstr(json, "\"compression\": \"xz\""));
        free(json);
        ingot_recipe_free(r);
}

static void test_extension_recipe(void **state) {
        (void) state;
        expect_recipe_error("[Extension]\nName=x\nVersion=1\nScope=system bogus\n",
                            "r.ini:4: Scope='bogus' is not one of system, initrd, portable");
        expect_recipe_error("[Extension]\nName=x\nVersion=1\n[Content]\nSymlink=usr/bin:/bin\n",
                            "r.ini:5: Symlink=/bin: a layer holds only /usr and /opt");
        expect_recipe_error("[Extension]\nName=x\nVersion=1\nAllowShadow=/etc/passwd\n",
                            "r.ini:4: AllowShadow=/etc/passwd: a layer holds only /usr and /opt");
        expect_recipe_error("[Extension]\nName=x\n", "r.ini:1: [Extension] Version= is required");
        expect_recipe_error("[Extension]\nName=x\nVersion=1\n[Signing]\nTrustedCertificate=r.ini\n",
                            "TrustedCertificate= does not apply to a layer");
        write_file("layer.ini", "[Extension]\nName=tools\nVersion=2\nBase=./sub/./base.manifest.json\n"
                                "Scope=portable system portable\nLevel=3\nAllowShadow=/usr/bin/a /opt/x/\n"
                                "[Content]\nMkdir=/opt/x\nCopy=overlay/:/\n");
        mkdir(path_of("overlay"), 0755);
        struct ingot_recipe *r = NULL;
        struct ingot_error err = { 0 };
        assert_int_equal(ingot_recipe_load(path_of("layer.ini"), &r, &err), 0);
        assert_true(r->extension);
        assert_false(r->os_release); /* a layer's identity is its extension-release */
        assert_non_null(strstr(r->sysext_base, "/sub/base.manifest.json"));
        assert_null(strstr(r->sysext_base, "/./"));
        assert_int_equal(strv_length(r->sysext_scopes), 2); /* duplicates dropped, order kept */
        assert_string_equal(r->sysext_scopes[0], "portable");
        assert_string_equal(r->sysext_level, "3");
        assert_string_equal(r->shadow_allowed[1], "/opt/x");
        char *text = NULL;
        assert_int_equal(ingot_recipe_to_ini(r, &text), 0);
        assert_non_null(strstr(text, "[Extension]\nName=tools\nVersion=2\n"));
        assert_non_null(strstr(text, "Scope=portable system\nLevel=3\nAllowShadow=/usr/bin/a\nAllowShadow=/opt/x\n"));
        assert_null(strstr(text, "[Image]"));
        free(text);
        ingot_recipe_free(r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ini_syntax),    cmocka_unit_test(test_ini_include_and_dropins),
                cmocka_unit_test(test_ini_errors),    cmocka_unit_test(test_recipe_errors),
                cmocka_unit_test(test_recipe_resolves), cmocka_unit_test(test_extension_recipe),
        };
        return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
