/* Tests of the plugin loader (core/plugin_loader.c) against the test plugins built from
 * tests/testplugins/: a good plugin loads with its descriptor intact and works through it; every
 * broken one is refused with a message that carries the path and the numbers that disagree. */
#include <dlfcn.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "options.h"
#include "plugin_loader.h"

#ifndef NF_PLUGIN_DIR
#error "NF_PLUGIN_DIR must point at the built plugins"
#endif

/* Marks a test of a defect that is reported and not fixed yet: it is skipped, visibly, unless
 * NF_TEST_KNOWN_BUGS is set in the environment. Delete the line with the fix. */
#define KNOWN_BUG()                                                                            \
    do {                                                                                       \
        if (!getenv("NF_TEST_KNOWN_BUGS"))                                                     \
            skip();                                                                            \
    } while (0)

static char err[1024];

static void plugin_path(const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s.so", NF_PLUGIN_DIR, name);
}

/* True when `msg` contains the decimal number v as a whole number (not inside a longer one). */
static bool has_number(const char *msg, unsigned long long v)
{
    char num[32];
    int n = snprintf(num, sizeof(num), "%llu", v);
    for (const char *p = strstr(msg, num); p; p = strstr(p + 1, num)) {
        bool left = p == msg || p[-1] < '0' || p[-1] > '9';
        bool right = p[n] < '0' || p[n] > '9';
        if (left && right)
            return true;
    }
    return false;
}

static void assert_msg_has(const char *needle)
{
    if (!strstr(err, needle))
        fail_msg("message \"%s\" does not mention \"%s\"", err, needle);
}

static void assert_msg_has_number(unsigned long long v)
{
    if (!has_number(err, v))
        fail_msg("message \"%s\" does not give the number %llu", err, v);
}

/* Loads a plugin that must be refused; the message must name its path. */
static void expect_refused(const char *name)
{
    char path[4096];
    plugin_path(name, path, sizeof(path));
    if (access(path, R_OK) != 0)
        fail_msg("%s is missing: build the tests/testplugins targets first", path);
    err[0] = '\0';
    struct nf_plugin_handle *h = nf_plugin_load(NF_PLUGIN_DIR, name, err, sizeof(err));
    if (h) {
        nf_plugin_unload(&h);
        fail_msg("plugin %s was accepted", name);
    }
    assert_msg_has(path);
    /* Drop the path, so that digits in the build directory's name cannot pass for the
     * numbers the message must give. */
    char *at = strstr(err, path);
    memmove(at, at + strlen(path), strlen(at + strlen(path)) + 1);
}

static struct nf_plugin_handle *load_ok(const char *name)
{
    err[0] = '\0';
    struct nf_plugin_handle *h = nf_plugin_load(NF_PLUGIN_DIR, name, err, sizeof(err));
    if (!h)
        fail_msg("plugin %s refused: %s", name, err);
    return h;
}

static void test_good_plugin_loads_intact(void **state)
{
    (void)state;
    struct nf_plugin_handle *h = load_ok("tp_ok");
    char path[4096];
    plugin_path("tp_ok", path, sizeof(path));
    assert_string_equal(h->path, path);
    assert_non_null(h->dl);

    /* the host's copy is the plugin's descriptor, member for member */
    const struct nf_plugin *orig = dlsym(h->dl, "nf_plugin");
    assert_non_null(orig);
    const struct nf_plugin *d = &h->desc;
    assert_int_equal(d->abi, NF_PLUGIN_ABI);
    assert_int_equal(d->size, sizeof(struct nf_plugin));
    assert_string_equal(d->name, "tp_ok");
    assert_string_equal(d->description, "Loader test filter that stamps story_id");
    assert_int_equal(d->kind, NF_PLUGIN_FILTER);
    assert_ptr_equal(d->options, orig->options);
    assert_int_equal(d->conf_size, orig->conf_size);
    assert_ptr_equal(d->init, orig->init);
    assert_ptr_equal(d->process, orig->process);
    assert_ptr_equal(d->flush, orig->flush);
    assert_ptr_equal(d->destroy, orig->destroy);
    assert_non_null(d->init);
    assert_non_null(d->process);
    assert_non_null(d->flush);
    assert_non_null(d->destroy);
    assert_null(d->next);
    assert_null(d->acked);
    assert_int_equal(nf_option_count(d->options), 6);
    assert_non_null(nf_option_find(d->options, "tag"));
    assert_non_null(nf_option_find(d->options, "budget"));

    /* and it works through the descriptor: defaults, an override, init, process, destroy */
    void *conf = calloc(1, d->conf_size);
    struct nf_strpool *pool = nf_strpool_new();
    assert_non_null(conf);
    assert_non_null(pool);
    assert_int_equal(nf_options_defaults(d->options, conf, NULL, pool, err, sizeof(err)), 0);
    void *st = NULL;
    assert_int_equal(d->init(NULL, conf, &st), NF_OK);
    struct nf_record *rec = nf_record_new();
    assert_non_null(rec);
    assert_int_equal(d->process(st, NULL, rec), NF_OK);
    assert_string_equal(nf_record_str(rec, NF_F_STORY_ID, NULL), "ok");
    assert_int_equal(nf_option_set(nf_option_find(d->options, "tag"), conf, NF_VAL_STRING,
                                   "changed", NULL, pool, err, sizeof(err)),
                     0);
    assert_int_equal(d->process(st, NULL, rec), NF_OK);
    assert_string_equal(nf_record_str(rec, NF_F_STORY_ID, NULL), "changed");
    assert_int_equal(d->flush(st, NULL), NF_OK);
    d->destroy(st);
    nf_record_destroy(&rec);
    nf_strpool_destroy(&pool);
    free(conf);

    nf_plugin_unload(&h);
    assert_null(h);
    nf_plugin_unload(&h);
    nf_plugin_unload(NULL);
}

static void test_same_plugin_twice(void **state)
{
    (void)state;
    /* two workers' handles are independent: unloading one leaves the other callable */
    struct nf_plugin_handle *a = load_ok("tp_pass"), *b = load_ok("tp_pass");
    nf_plugin_unload(&a);
    struct nf_record *rec = nf_record_new();
    assert_int_equal(b->desc.process(NULL, NULL, rec), NF_OK);
    nf_record_destroy(&rec);
    nf_plugin_unload(&b);
}

static void test_bad_abi(void **state)
{
    (void)state;
    expect_refused("tp_bad_abi");
    assert_msg_has_number(NF_PLUGIN_ABI + 1);
    assert_msg_has_number(NF_PLUGIN_ABI);
}

static void test_descriptor_too_small(void **state)
{
    (void)state;
    expect_refused("tp_small");
    assert_msg_has_number(offsetof(struct nf_plugin, flush)); /* what it declares */
    assert_msg_has_number(NF_PLUGIN_MIN_SIZE);                /* what this ABI needs */
}

static void test_no_descriptor(void **state)
{
    (void)state;
    expect_refused("tp_nodesc");
    assert_msg_has("nf_plugin");
}

static void test_option_outside_conf(void **state)
{
    (void)state;
    expect_refused("tp_badopt");
    assert_msg_has("limit");
    assert_msg_has_number(64); /* the offset, from tp_badopt's other struct */
    assert_msg_has_number(sizeof(int64_t)); /* conf_size */
}

static void test_option_offset_that_wraps(void **state)
{
    /* offset + width overflowed size_t and passed the bounds check: SIZE_MAX - 3 + 8 == 4 */

    (void)state;
    expect_refused("tp_badopt_wrap");
    assert_msg_has("limit");
}

static void test_filter_without_process(void **state)
{
    (void)state;
    expect_refused("tp_nocb");
    assert_msg_has("process");
}

static void test_newer_descriptor_of_same_abi(void **state)
{
    (void)state;
    /* A larger descriptor of the same ABI loads; the host copies only what it knows (an
     * over-read or over-write here is an ASan error). */
    struct nf_plugin_handle *h = load_ok("tp_newer");
    assert_true(h->desc.size > sizeof(struct nf_plugin));
    assert_string_equal(h->desc.name, "tp_newer");
    assert_non_null(h->desc.process);
    nf_plugin_unload(&h);
}

/* A plugin built for ABI 1 loads: its five-member option rows are read as such, into rows of
 * this ABI with no bounds, choices or flags; what lies past its declared size (a validate) is
 * not used. */
static void test_abi1_plugin_is_read_through_old_rows(void **state)
{
    (void)state;
    struct nf_plugin_handle *h = load_ok("tp_abi1");
    const struct nf_plugin *d = &h->desc;
    assert_int_equal(h->abi, 1);
    assert_null(d->validate);
    assert_int_equal(nf_option_count(d->options), 3);
    static const char *const names[] = {"limit", "label", "ratio"};
    static const char *const defs[] = {"7", "old", "0.5"};
    for (int i = 0; i < 3; i++) {
        const struct nf_option *o = &d->options[i];
        assert_string_equal(o->name, names[i]);
        assert_string_equal(o->def, defs[i]);
        assert_null(o->min);
        assert_null(o->max);
        assert_null(o->choices);
        assert_int_equal(o->flags, 0);
    }
    assert_int_equal(d->options[1].type, NF_OPT_STRING);
    assert_int_equal(d->options[2].offset, 2 * sizeof(int64_t));
    /* and its conf fills from those rows */
    struct {
        int64_t limit;
        const char *label;
        double ratio;
    } conf = {0};
    struct nf_strpool *pool = nf_strpool_new();
    assert_int_equal(nf_options_defaults(d->options, &conf, NULL, pool, err, sizeof(err)), 0);
    assert_int_equal(conf.limit, 7);
    assert_string_equal(conf.label, "old");
    assert_true(conf.ratio == 0.5);
    const char *opt;
    assert_int_equal(nf_options_validate(d, &conf, &opt, err, sizeof(err)), 0);
    nf_strpool_destroy(&pool);
    nf_plugin_unload(&h);
}

/* A table whose own rule cannot work is refused at load, naming the option. */
static void test_option_rule_that_cannot_work(void **state)
{
    (void)state;
    expect_refused("tp_badrule");
    assert_msg_has("option 'window'");
    assert_msg_has("min 16 is above max 4");
}

static void test_missing_file(void **state)
{
    (void)state;
    char path[4096];
    plugin_path("tp_does_not_exist", path, sizeof(path));
    assert_null(nf_plugin_load(NF_PLUGIN_DIR, "tp_does_not_exist", err, sizeof(err)));
    assert_msg_has(path);
    assert_msg_has("not found");
    assert_null(nf_plugin_load_path("/nonexistent/dir/x.so", err, sizeof(err)));
    assert_msg_has("/nonexistent/dir/x.so");
}

static void test_not_a_shared_object(void **state)
{
    (void)state;
    char dir[] = "/tmp/nf-loader-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/junk.so", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("this is not an ELF file\n", f);
    fclose(f);
    assert_null(nf_plugin_load(dir, "junk", err, sizeof(err)));
    assert_msg_has(path);
    assert_msg_has("cannot load");
    unlink(path);
    rmdir(dir);
}

static void test_names_must_be_plain(void **state)
{
    (void)state;
    /* A directory beside the plugin dir holds a real plugin under sub/: even so, a name with a
     * slash or ".." never reaches the file system. */
    char dir[] = "/tmp/nf-loader-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[256];
    snprintf(sub, sizeof(sub), "%s/sub", dir);
    assert_int_equal(symlink(NF_PLUGIN_DIR, sub), 0);
    static const char *const bad[] = {"sub/tp_ok", "../tp_ok", "..", "../../etc/passwd",
                                      "tp_ok/..", "/tp_ok", "", "a..b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        struct nf_plugin_handle *h = nf_plugin_load(dir, bad[i], err, sizeof(err));
        if (h) {
            nf_plugin_unload(&h);
            fail_msg("name \"%s\" was accepted", bad[i]);
        }
        char quoted[64];
        snprintf(quoted, sizeof(quoted), "\"%s\"", bad[i]);
        assert_msg_has(quoted);
        assert_null(strstr(err, "not found"));
    }
    unlink(sub);
    rmdir(dir);
}

static void test_path_too_long(void **state)
{
    (void)state;
    char *dir = malloc(5000);
    assert_non_null(dir);
    memset(dir, 'd', 4999);
    dir[0] = '/';
    dir[4999] = '\0';
    assert_null(nf_plugin_load(dir, "tp_ok", err, sizeof(err)));
    assert_msg_has("too long");
    free(dir);
}

static void test_pass_and_poison(void **state)
{
    (void)state;
    struct nf_plugin_handle *pass = load_ok("tp_pass"), *poison = load_ok("tp_poison");
    struct nf_record *rec = nf_record_new();
    assert_int_equal(nf_record_set_cstr(rec, NF_F_TITLE, "poisoned well"), 0);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_TEXT, "body"), 0);
    struct nf_buf before = {0}, after = {0};
    assert_int_equal(nf_record_encode(rec, &before), 0);
    assert_int_equal(pass->desc.process(NULL, NULL, rec), NF_OK);
    assert_int_equal(poison->desc.process(NULL, NULL, rec), NF_OK);
    assert_int_equal(nf_record_encode(rec, &after), 0);
    assert_int_equal(after.len, before.len);
    assert_memory_equal(after.data, before.data, before.len); /* both left it unchanged */

    /* "poison" aborts the process: run it in a child */
    assert_int_equal(nf_record_set_cstr(rec, NF_F_TITLE, "poison"), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGABRT, SIG_DFL);
        poison->desc.process(NULL, NULL, rec);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);

    nf_buf_free(&before);
    nf_buf_free(&after);
    nf_record_destroy(&rec);
    nf_plugin_unload(&pass);
    nf_plugin_unload(&poison);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_plugin_loads_intact),
        cmocka_unit_test(test_same_plugin_twice),
        cmocka_unit_test(test_bad_abi),
        cmocka_unit_test(test_descriptor_too_small),
        cmocka_unit_test(test_no_descriptor),
        cmocka_unit_test(test_option_outside_conf),
        cmocka_unit_test(test_option_offset_that_wraps),
        cmocka_unit_test(test_filter_without_process),
        cmocka_unit_test(test_newer_descriptor_of_same_abi),
        cmocka_unit_test(test_abi1_plugin_is_read_through_old_rows),
        cmocka_unit_test(test_option_rule_that_cannot_work),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_not_a_shared_object),
        cmocka_unit_test(test_names_must_be_plain),
        cmocka_unit_test(test_path_too_long),
        cmocka_unit_test(test_pass_and_poison),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
