/* Tests of plugin option tables (core/options.c): each option type from text and from typed
 * config values, the messages a user sees for bad values, path resolution, defaults, and the
 * documentation printed from the same table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "options.h"

/* Marks a test of a defect that is reported and not fixed yet: it is skipped, visibly, unless
 * NF_TEST_KNOWN_BUGS is set in the environment. Delete the line with the fix. */
#define KNOWN_BUG()                                                                            \
    do {                                                                                       \
        if (!getenv("NF_TEST_KNOWN_BUGS"))                                                     \
            skip();                                                                            \
    } while (0)

struct conf {
    const char *name;
    const char *path;
    int64_t count;
    double ratio;
    bool flag;
    int64_t size;
    int64_t after; /* nothing writes here: a guard against writes past a member */
};

static const struct nf_option table[] = {
    {"name", NF_OPT_STRING, "anon", offsetof(struct conf, name), "Who this stage says it is."},
    {"path", NF_OPT_PATH, "data/x.db", offsetof(struct conf, path), "Where the database lives."},
    {"count", NF_OPT_INT, "12", offsetof(struct conf, count), "How many to keep."},
    {"ratio", NF_OPT_DOUBLE, "0.25", offsetof(struct conf, ratio), "Similarity threshold."},
    {"flag", NF_OPT_BOOL, "yes", offsetof(struct conf, flag), "Whether to be strict."},
    {"size", NF_OPT_SIZE, "64K", offsetof(struct conf, size), "Largest batch in bytes."},
    {"required", NF_OPT_STRING, NULL, offsetof(struct conf, after), "Has no default."},
    {.name = NULL},
};

enum { O_NAME, O_PATH, O_COUNT, O_RATIO, O_FLAG, O_SIZE };

struct fixture {
    struct nf_strpool *pool;
    struct conf c;
    char err[256];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    f->pool = nf_strpool_new();
    if (!f->pool) {
        free(f);
        return -1;
    }
    f->c.after = 0x5a5a5a5a;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    nf_strpool_destroy(&f->pool);
    assert_null(f->pool);
    free(f);
    return 0;
}

/* Sets option i from (kind, text) and expects success. */
static void set_ok(struct fixture *f, int i, enum nf_valkind kind, const char *text)
{
    f->err[0] = '\0';
    if (nf_option_set(&table[i], &f->c, kind, text, NULL, f->pool, f->err, sizeof(f->err)) != 0)
        fail_msg("option %s: \"%s\" refused: %s", table[i].name, text, f->err);
    assert_true(f->c.after == 0x5a5a5a5a);
}

/* Sets option i and expects a refusal whose message names the option and each `needles`. */
static void set_bad(struct fixture *f, int i, enum nf_valkind kind, const char *text,
                    const char *needle)
{
    struct conf before = f->c;
    f->err[0] = '\0';
    if (nf_option_set(&table[i], &f->c, kind, text, NULL, f->pool, f->err, sizeof(f->err)) != -1)
        fail_msg("option %s: \"%s\" (kind %d) was accepted", table[i].name, text, (int)kind);
    if (!strstr(f->err, table[i].name))
        fail_msg("message \"%s\" does not name option '%s'", f->err, table[i].name);
    if (needle && !strstr(f->err, needle))
        fail_msg("message \"%s\" does not mention \"%s\"", f->err, needle);
    /* a refused value leaves the conf as it was */
    assert_memory_equal(&before, &f->c, sizeof(before));
}

static void test_int(void **state)
{
    struct fixture *f = *state;
    set_ok(f, O_COUNT, NF_VAL_TEXT, "12");
    assert_int_equal(f->c.count, 12);
    set_ok(f, O_COUNT, NF_VAL_TEXT, "0x10");
    assert_int_equal(f->c.count, 16);
    set_ok(f, O_COUNT, NF_VAL_TEXT, "-7");
    assert_int_equal(f->c.count, -7);
    set_ok(f, O_COUNT, NF_VAL_INT, "9223372036854775807");
    assert_true(f->c.count == INT64_MAX);
    set_ok(f, O_COUNT, NF_VAL_INT, "-9223372036854775808");
    assert_true(f->c.count == INT64_MIN);
    set_bad(f, O_COUNT, NF_VAL_TEXT, "abc", "\"abc\"");
    set_bad(f, O_COUNT, NF_VAL_TEXT, "abc", "integer");
    set_bad(f, O_COUNT, NF_VAL_TEXT, "12abc", NULL);
    set_bad(f, O_COUNT, NF_VAL_TEXT, "1.5", NULL);
    set_bad(f, O_COUNT, NF_VAL_TEXT, "", NULL);
    set_bad(f, O_COUNT, NF_VAL_TEXT, "12 ", NULL);
    set_bad(f, O_COUNT, NF_VAL_TEXT, "9223372036854775808", NULL); /* overflows */
    set_bad(f, O_COUNT, NF_VAL_TEXT, "-9223372036854775809", NULL);
    /* typed values of another kind */
    set_bad(f, O_COUNT, NF_VAL_STRING, "12", "integer");
    set_bad(f, O_COUNT, NF_VAL_FLOAT, "12.5", "integer");
    set_bad(f, O_COUNT, NF_VAL_BOOL, "true", "integer");
}

static void test_int_leading_zero_is_not_octal(void **state)
{
    /* "--set batch=010" silently meant 8 (strtoll base 0 reads a leading 0 as octal), while
     * "08" was refused as "not an integer". Hex stays accepted. */

    struct fixture *f = *state;
    char err[256];
    int rc = nf_option_set(&table[O_COUNT], &f->c, NF_VAL_TEXT, "010", NULL, f->pool, err,
                           sizeof(err));
    assert_true(rc == -1 || f->c.count == 10);
    rc = nf_option_set(&table[O_COUNT], &f->c, NF_VAL_TEXT, "08", NULL, f->pool, err,
                       sizeof(err));
    assert_true(rc == -1 || f->c.count == 8);
    if (rc == -1)
        assert_null(strstr(err, "expects an integer, got \"08\"")); /* say why, then */
}

static void test_double_refuses_nan_and_inf(void **state)
{
    /* A threshold of NaN makes every comparison false: a plugin would silently never (or
     * always) fire. strtod accepts "nan", "inf" and "infinity". */

    struct fixture *f = *state;
    set_bad(f, O_RATIO, NF_VAL_TEXT, "nan", NULL);
    set_bad(f, O_RATIO, NF_VAL_TEXT, "inf", NULL);
    set_bad(f, O_RATIO, NF_VAL_TEXT, "-Infinity", NULL);
}

static void test_double(void **state)
{
    struct fixture *f = *state;
    set_ok(f, O_RATIO, NF_VAL_TEXT, "0.5");
    assert_true(f->c.ratio == 0.5);
    set_ok(f, O_RATIO, NF_VAL_FLOAT, "1e-3");
    assert_true(f->c.ratio == 1e-3);
    /* an integer in the config is accepted for a double option */
    set_ok(f, O_RATIO, NF_VAL_INT, "3");
    assert_true(f->c.ratio == 3.0);
    set_ok(f, O_RATIO, NF_VAL_TEXT, "-2");
    assert_true(f->c.ratio == -2.0);
    set_bad(f, O_RATIO, NF_VAL_TEXT, "half", "number");
    set_bad(f, O_RATIO, NF_VAL_TEXT, "0.5x", NULL);
    set_bad(f, O_RATIO, NF_VAL_TEXT, "", NULL);
    set_bad(f, O_RATIO, NF_VAL_TEXT, "1e999", NULL); /* out of range */
    set_bad(f, O_RATIO, NF_VAL_BOOL, "true", "number");
    set_bad(f, O_RATIO, NF_VAL_STRING, "0.5", "number");
}

static void test_bool(void **state)
{
    struct fixture *f = *state;
    static const char *const yes[] = {"yes", "true", "1", "on", "TRUE", "Yes"};
    static const char *const no[] = {"no", "false", "0", "off", "FALSE", "No"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        f->c.flag = false;
        set_ok(f, O_FLAG, NF_VAL_TEXT, yes[i]);
        assert_true(f->c.flag);
        set_ok(f, O_FLAG, NF_VAL_TEXT, no[i]);
        assert_false(f->c.flag);
    }
    set_ok(f, O_FLAG, NF_VAL_BOOL, "true");
    assert_true(f->c.flag);
    set_bad(f, O_FLAG, NF_VAL_TEXT, "2", "true or false");
    set_bad(f, O_FLAG, NF_VAL_TEXT, "yess", NULL);
    set_bad(f, O_FLAG, NF_VAL_TEXT, "", NULL);
    set_bad(f, O_FLAG, NF_VAL_INT, "1", "true or false"); /* a number in the config is not a bool */
    set_bad(f, O_FLAG, NF_VAL_STRING, "yes", NULL);
}

static void test_size(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *text;
        int64_t want;
    } good[] = {
        {"0", 0},
        {"123", 123},
        {"64K", 64 << 10},
        {"64k", 64 << 10},
        {"8M", 8 << 20},
        {"8MB", 8 << 20},
        {"1G", (int64_t)1 << 30},
        {"8589934591G", INT64_MAX - ((int64_t)1 << 30) + 1}, /* the largest in G */
        {"9223372036854775807", INT64_MAX},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        set_ok(f, O_SIZE, NF_VAL_TEXT, good[i].text);
        if (f->c.size != good[i].want)
            fail_msg("size \"%s\" gave %lld", good[i].text, (long long)f->c.size);
    }
    /* a size may be written as a number or a string in the config */
    set_ok(f, O_SIZE, NF_VAL_INT, "4096");
    assert_int_equal(f->c.size, 4096);
    set_ok(f, O_SIZE, NF_VAL_STRING, "2M");
    assert_int_equal(f->c.size, 2 << 20);

    set_bad(f, O_SIZE, NF_VAL_TEXT, "8Q", "\"8Q\"");
    set_bad(f, O_SIZE, NF_VAL_TEXT, "8Q", "size");
    set_bad(f, O_SIZE, NF_VAL_TEXT, "-1", NULL);
    set_bad(f, O_SIZE, NF_VAL_TEXT, "-1K", NULL);
    set_bad(f, O_SIZE, NF_VAL_TEXT, "", NULL);
    set_bad(f, O_SIZE, NF_VAL_TEXT, "M", NULL);
    set_bad(f, O_SIZE, NF_VAL_TEXT, "8MM", NULL);
    set_bad(f, O_SIZE, NF_VAL_TEXT, "8M ", NULL);
    set_bad(f, O_SIZE, NF_VAL_TEXT, "1.5M", NULL);
    set_bad(f, O_SIZE, NF_VAL_TEXT, "8589934592G", NULL); /* 2^63: one past int64 */
    set_bad(f, O_SIZE, NF_VAL_TEXT, "9223372036854775808", NULL);
    set_bad(f, O_SIZE, NF_VAL_FLOAT, "1.5", NULL);
    set_bad(f, O_SIZE, NF_VAL_BOOL, "true", NULL);
}

static void test_parse_size_overflow(void **state)
{
    (void)state;
    int64_t v = 77;
    assert_int_equal(nf_parse_size("8796093022207M", &v), 0); /* 2^43 - 1 M */
    assert_true(v == (((int64_t)1 << 43) - 1) << 20);
    v = 77;
    assert_int_equal(nf_parse_size("8796093022208M", &v), -1); /* 2^43 M = 2^63 */
    assert_int_equal(nf_parse_size("9007199254740992K", &v), -1); /* 2^53 K = 2^63 */
    assert_int_equal(nf_parse_size("99999999999999999999", &v), -1);
    assert_int_equal(nf_parse_size("99999999999999999999G", &v), -1);
    assert_int_equal(v, 77); /* untouched on failure */
    assert_int_equal(nf_parse_size("1K", &v), 0);
    assert_int_equal(v, 1024);
}

static void test_string_and_kind_mismatch(void **state)
{
    struct fixture *f = *state;
    set_ok(f, O_NAME, NF_VAL_STRING, "clean");
    assert_string_equal(f->c.name, "clean");
    set_ok(f, O_NAME, NF_VAL_TEXT, "");
    assert_string_equal(f->c.name, "");

    /* the stored string is the pool's copy, not the caller's buffer */
    char buf[16] = "worker";
    set_ok(f, O_NAME, NF_VAL_TEXT, buf);
    assert_ptr_not_equal(f->c.name, buf);
    strcpy(buf, "XXXXXX");
    assert_string_equal(f->c.name, "worker");

    /* A number where a string is expected: the message names the option and the type, and
     * shows the value as written (not quoted, it was not a string). */
    set_bad(f, O_NAME, NF_VAL_INT, "12", "a string");
    assert_non_null(strstr(f->err, "12"));
    assert_null(strstr(f->err, "\"12\""));
    set_bad(f, O_NAME, NF_VAL_BOOL, "true", "a string");
    set_bad(f, O_NAME, NF_VAL_FLOAT, "0.5", "a string");
    set_bad(f, O_PATH, NF_VAL_INT, "1", "path");
}

static void test_error_buffer_is_bounded(void **state)
{
    struct fixture *f = *state;
    char small[16];
    memset(small, 'Z', sizeof(small));
    char text[600];
    memset(text, 'a', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    assert_int_equal(nf_option_set(&table[O_COUNT], &f->c, NF_VAL_TEXT, text, NULL, f->pool,
                                   small, sizeof(small)),
                     -1);
    assert_int_equal(strlen(small), sizeof(small) - 1); /* truncated, terminated, in bounds */
}

static void test_path_resolution(void **state)
{
    struct fixture *f = *state;
    char err[256];
    assert_int_equal(nf_option_set(&table[O_PATH], &f->c, NF_VAL_STRING, "data/x.db",
                                   "/etc/newsflow", f->pool, err, sizeof(err)),
                     0);
    assert_string_equal(f->c.path, "/etc/newsflow/data/x.db");
    assert_int_equal(nf_option_set(&table[O_PATH], &f->c, NF_VAL_TEXT, "/var/lib/nf/x.db",
                                   "/etc/newsflow", f->pool, err, sizeof(err)),
                     0);
    assert_string_equal(f->c.path, "/var/lib/nf/x.db");
    /* no base directory: the path stays as written */
    assert_int_equal(nf_option_set(&table[O_PATH], &f->c, NF_VAL_TEXT, "rel/x", NULL, f->pool,
                                   err, sizeof(err)),
                     0);
    assert_string_equal(f->c.path, "rel/x");
    /* a relative base joins too (the config was named by a relative path) */
    assert_int_equal(nf_option_set(&table[O_PATH], &f->c, NF_VAL_TEXT, "x.db", "conf", f->pool,
                                   err, sizeof(err)),
                     0);
    assert_string_equal(f->c.path, "conf/x.db");
    /* a STRING option is never joined, even with a base */
    assert_int_equal(nf_option_set(&table[O_NAME], &f->c, NF_VAL_TEXT, "a/b", "/etc", f->pool,
                                   err, sizeof(err)),
                     0);
    assert_string_equal(f->c.name, "a/b");
}

static void test_defaults(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(nf_options_defaults(table, &f->c, "/srv/nf", f->pool, f->err,
                                         sizeof(f->err)),
                     0);
    assert_string_equal(f->c.name, "anon");
    assert_string_equal(f->c.path, "/srv/nf/data/x.db");
    assert_int_equal(f->c.count, 12);
    assert_true(f->c.ratio == 0.25);
    assert_true(f->c.flag);
    assert_int_equal(f->c.size, 64 << 10);
    assert_true(f->c.after == 0x5a5a5a5a); /* the required option is left alone */

    /* NULL table: nothing to do */
    assert_int_equal(nf_options_defaults(NULL, &f->c, NULL, f->pool, f->err, sizeof(f->err)),
                     0);

    /* a bad default in a plugin's table is reported with the option */
    static const struct nf_option bad[] = {
        {"ok", NF_OPT_INT, "1", offsetof(struct conf, count), "fine"},
        {"timeout", NF_OPT_DOUBLE, "soon", offsetof(struct conf, ratio), "broken default"},
        {.name = NULL},
    };
    assert_int_equal(nf_options_defaults(bad, &f->c, NULL, f->pool, f->err, sizeof(f->err)),
                     -1);
    assert_non_null(strstr(f->err, "timeout"));
    assert_non_null(strstr(f->err, "default"));
    assert_non_null(strstr(f->err, "soon"));
}

static void test_find_count_names(void **state)
{
    (void)state;
    assert_int_equal(nf_option_count(table), 7);
    assert_int_equal(nf_option_count(NULL), 0);
    assert_ptr_equal(nf_option_find(table, "ratio"), &table[O_RATIO]);
    assert_null(nf_option_find(table, "rati"));
    assert_null(nf_option_find(table, "Ratio"));
    assert_null(nf_option_find(NULL, "ratio"));

    char out[256];
    nf_options_names(table, out, sizeof(out));
    assert_string_equal(out, "name, path, count, ratio, flag, size, required");
    static const struct nf_option none[] = {{.name = NULL}};
    strcpy(out, "junk");
    nf_options_names(none, out, sizeof(out));
    assert_string_equal(out, "");
    nf_options_names(NULL, out, sizeof(out));
    assert_string_equal(out, "");
    /* a short buffer holds a terminated prefix */
    char small[10];
    memset(small, 'Z', sizeof(small));
    nf_options_names(table, small, sizeof(small));
    assert_true(strlen(small) < sizeof(small));
    assert_memory_equal(small, "name, pat", strlen(small));
}

/* Prints the doc of plugin p into a string the caller frees. */
static char *doc_of(const struct nf_plugin *p)
{
    char *text = NULL;
    size_t n = 0;
    FILE *mem = open_memstream(&text, &n);
    assert_non_null(mem);
    nf_options_print_doc(p, mem);
    assert_int_equal(fclose(mem), 0);
    return text;
}

static void test_print_doc(void **state)
{
    (void)state;
    const struct nf_plugin p = {
        .abi = NF_PLUGIN_ABI,
        .size = sizeof(struct nf_plugin),
        .name = "dedup_test",
        .description = "Marks near-duplicate articles",
        .kind = NF_PLUGIN_FILTER,
        .options = table,
        .conf_size = sizeof(struct conf),
    };
    char *doc = doc_of(&p);
    assert_non_null(strstr(doc, "dedup_test"));
    assert_non_null(strstr(doc, "Marks near-duplicate articles"));
    assert_non_null(strstr(doc, "filter"));
    for (const struct nf_option *o = table; o->name; o++) {
        if (!strstr(doc, o->name))
            fail_msg("doc lacks option %s:\n%s", o->name, doc);
        if (!strstr(doc, o->description))
            fail_msg("doc lacks the description of %s:\n%s", o->name, doc);
        if (o->def && !strstr(doc, o->def))
            fail_msg("doc lacks the default of %s:\n%s", o->name, doc);
    }
    /* the option without a default is shown as required, on its own line */
    const char *line = strstr(doc, "  required");
    assert_non_null(line);
    const char *eol = strchr(line, '\n');
    assert_non_null(eol);
    const char *req = strstr(line + strlen("  required"), "required");
    assert_true(req && req < eol);
    free(doc);

    const struct nf_plugin bare = {.name = "bare", .kind = NF_PLUGIN_SINK};
    doc = doc_of(&bare);
    assert_non_null(strstr(doc, "bare"));
    assert_non_null(strstr(doc, "sink"));
    assert_non_null(strstr(doc, "no options"));
    free(doc);
}

static void test_strpool(void **state)
{
    (void)state;
    struct nf_strpool *pool = nf_strpool_new();
    assert_non_null(pool);
    const char *a = nf_strpool_add(pool, "alpha");
    const char *b = nf_strpool_add(pool, "");
    assert_string_equal(a, "alpha");
    assert_string_equal(b, "");
    for (int i = 0; i < 1000; i++)
        assert_non_null(nf_strpool_add(pool, "filler"));
    assert_string_equal(a, "alpha"); /* earlier strings stay put */
    nf_strpool_destroy(&pool);
    assert_null(pool);
    nf_strpool_destroy(&pool);
    nf_strpool_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_int, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_leading_zero_is_not_octal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_double, setup, teardown),
        cmocka_unit_test_setup_teardown(test_double_refuses_nan_and_inf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size, setup, teardown),
        cmocka_unit_test(test_parse_size_overflow),
        cmocka_unit_test_setup_teardown(test_string_and_kind_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_buffer_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path_resolution, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test(test_find_count_names),
        cmocka_unit_test(test_print_doc),
        cmocka_unit_test(test_strpool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
