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
#include <sys/stat.h>
#include <unistd.h>

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
/* not inlined: gcc -O3 takes open_memstream's buffer for a local of this frame */
__attribute__((noinline)) static char *doc_of(const struct nf_plugin *p)
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

/* ---- bounds, choices, validate and path kinds (ABI 2) ---------------------------------- */

struct rconf {
    int64_t window;
    double share;
    int64_t cache;
    const char *mode;
    const char *prefix;
    const char *in_file, *in_dir, *out_file, *out_dir, *made_file, *either;
};

static const struct nf_option ruled[] = {
    {"window", NF_OPT_INT, "8", offsetof(struct rconf, window), "In flight.", .min = "1",
     .max = "64"},
    {"share", NF_OPT_DOUBLE, "0.5", offsetof(struct rconf, share), "A share.", .min = "0",
     .max = "1"},
    {"cache", NF_OPT_SIZE, "1M", offsetof(struct rconf, cache), "Memory.", .min = "64K"},
    {"mode", NF_OPT_STRING, "keep", offsetof(struct rconf, mode), "What to do.",
     .choices = "keep|drop|mark"},
    {"prefix", NF_OPT_STRING, "", offsetof(struct rconf, prefix), "Table prefix.", .max = "4"},
    {"in_file", NF_OPT_PATH, "", offsetof(struct rconf, in_file), "Read.",
     .flags = NF_OPT_READ_FILE},
    {"in_dir", NF_OPT_PATH, NULL, offsetof(struct rconf, in_dir), "Read.", .min = "1",
     .flags = NF_OPT_READ_DIR},
    {"out_file", NF_OPT_PATH, "", offsetof(struct rconf, out_file), "Written.",
     .flags = NF_OPT_WRITE_FILE},
    {"out_dir", NF_OPT_PATH, "", offsetof(struct rconf, out_dir), "Written into.",
     .flags = NF_OPT_WRITE_DIR},
    {"made_file", NF_OPT_PATH, "", offsetof(struct rconf, made_file), "Written, dirs made.",
     .flags = NF_OPT_WRITE_FILE | NF_OPT_MKDIR},
    {"either", NF_OPT_PATH, "", offsetof(struct rconf, either), "A file or a directory.",
     .flags = NF_OPT_READ_FILE | NF_OPT_READ_DIR},
    {.name = NULL},
};

enum { R_WINDOW, R_SHARE, R_CACHE, R_MODE, R_PREFIX, R_IN_FILE, R_IN_DIR, R_OUT_FILE, R_OUT_DIR,
       R_MADE_FILE, R_EITHER };

static int rset(struct nf_strpool *pool, struct rconf *c, int i, enum nf_valkind kind,
                const char *text, char *err, size_t errlen)
{
    return nf_option_set(&ruled[i], c, kind, text, NULL, pool, err, errlen);
}

/* Bounds hold for every way a value arrives (typed config values, --set text, defaults), at the
 * edges included, and the message names the option, the range and the value. */
static void test_bounds(void **state)
{
    (void)state;
    struct nf_strpool *pool = nf_strpool_new();
    struct rconf c = {0};
    char err[256];
    assert_int_equal(nf_options_defaults(ruled, &c, NULL, pool, err, sizeof(err)), 0);
    assert_int_equal(c.window, 8);
    /* the edges are inside */
    assert_int_equal(rset(pool, &c, R_WINDOW, NF_VAL_INT, "1", err, sizeof(err)), 0);
    assert_int_equal(c.window, 1);
    assert_int_equal(rset(pool, &c, R_WINDOW, NF_VAL_TEXT, "64", err, sizeof(err)), 0);
    assert_int_equal(c.window, 64);
    /* outside, from the file and from --set; the conf keeps its value */
    assert_int_equal(rset(pool, &c, R_WINDOW, NF_VAL_INT, "0", err, sizeof(err)), -1);
    assert_string_equal(err, "option 'window' must be between 1 and 64, got 0");
    assert_int_equal(rset(pool, &c, R_WINDOW, NF_VAL_TEXT, "65", err, sizeof(err)), -1);
    assert_string_equal(err, "option 'window' must be between 1 and 64, got 65");
    assert_int_equal(c.window, 64);
    /* doubles, an integer given for a double */
    assert_int_equal(rset(pool, &c, R_SHARE, NF_VAL_INT, "1", err, sizeof(err)), 0);
    assert_int_equal(rset(pool, &c, R_SHARE, NF_VAL_FLOAT, "1.0001", err, sizeof(err)), -1);
    assert_string_equal(err, "option 'share' must be between 0 and 1, got 1.0001");
    assert_int_equal(rset(pool, &c, R_SHARE, NF_VAL_FLOAT, "-0.1", err, sizeof(err)), -1);
    /* sizes compare in bytes, whatever the unit written */
    assert_int_equal(rset(pool, &c, R_CACHE, NF_VAL_STRING, "64K", err, sizeof(err)), 0);
    assert_int_equal(rset(pool, &c, R_CACHE, NF_VAL_INT, "65535", err, sizeof(err)), -1);
    assert_string_equal(err, "option 'cache' must be at least 64K, got 65535");
    assert_int_equal(rset(pool, &c, R_CACHE, NF_VAL_INT, "65536", err, sizeof(err)), 0);
    /* strings: a length in bytes */
    assert_int_equal(rset(pool, &c, R_PREFIX, NF_VAL_STRING, "nf_a", err, sizeof(err)), 0);
    assert_int_equal(rset(pool, &c, R_PREFIX, NF_VAL_STRING, "nf_ab", err, sizeof(err)), -1);
    assert_string_equal(err,
                        "option 'prefix' must be at most 4 bytes long, got \"nf_ab\" (5 bytes)");
    assert_string_equal(c.prefix, "nf_a");
    assert_int_equal(rset(pool, &c, R_IN_DIR, NF_VAL_STRING, "", err, sizeof(err)), -1);
    assert_string_equal(err, "option 'in_dir' must not be empty");
    /* a default outside its own bounds is the table's mistake, said as such */
    const struct nf_option bad_def[] = {
        {"window", NF_OPT_INT, "0", offsetof(struct rconf, window), "x", .min = "1"},
        {.name = NULL},
    };
    assert_int_equal(nf_options_defaults(bad_def, &c, NULL, pool, err, sizeof(err)), -1);
    assert_string_equal(err, "bad default in the plugin's option table: option 'window' must "
                             "be at least 1, got 0");
    nf_strpool_destroy(&pool);
}

static void test_choices(void **state)
{
    (void)state;
    struct nf_strpool *pool = nf_strpool_new();
    struct rconf c = {0};
    char err[256];
    for (const char *const *v = (const char *const[]){"keep", "drop", "mark", NULL}; *v; v++) {
        assert_int_equal(rset(pool, &c, R_MODE, NF_VAL_STRING, *v, err, sizeof(err)), 0);
        assert_string_equal(c.mode, *v);
    }
    /* a typo, a prefix, a case change and the separator itself are no choice */
    static const char *const no[] = {"dorp", "dro", "Drop", "keep|drop", "", "drops"};
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        assert_int_equal(rset(pool, &c, R_MODE, NF_VAL_TEXT, no[i], err, sizeof(err)), -1);
        char want[128];
        snprintf(want, sizeof(want), "option 'mode' must be one of keep, drop or mark, got \"%s\"",
                 no[i]);
        assert_string_equal(err, want);
    }
    assert_string_equal(c.mode, "mark");
    nf_strpool_destroy(&pool);
}

/* The loader refuses a table whose own rules cannot work, naming the row. */
static void test_table_check(void **state)
{
    (void)state;
    char err[512];
    assert_int_equal(nf_options_table_check(ruled, err, sizeof(err)), 0);
    assert_int_equal(nf_options_table_check(table, err, sizeof(err)), 0); /* no rules at all */
    assert_int_equal(nf_options_table_check(NULL, err, sizeof(err)), 0);
    static const struct {
        struct nf_option row;
        const char *msg;
    } bad[] = {
        {{"n", NF_OPT_INT, "1", 0, "x", .min = "one"}, "option 'n': min \"one\" is not"},
        {{"n", NF_OPT_INT, "1", 0, "x", .min = "5", .max = "4"}, "min 5 is above max 4"},
        {{"n", NF_OPT_DOUBLE, "1", 0, "x", .max = "1e999"}, "max \"1e999\" is not"},
        {{"n", NF_OPT_SIZE, "1", 0, "x", .min = "-1"}, "min \"-1\" is not"},
        {{"n", NF_OPT_STRING, "", 0, "x", .min = "-1"}, "is not a length in bytes"},
        {{"n", NF_OPT_BOOL, "true", 0, "x", .min = "0"}, "allowed on a boolean"},
        {{"n", NF_OPT_INT, "1", 0, "x", .choices = "1|2"}, "choices are for"},
        {{"n", NF_OPT_STRING, "a", 0, "x", .choices = ""}, "choices are for"},
        {{"n", NF_OPT_STRING, "a", 0, "x", .flags = NF_OPT_READ_FILE}, "flags 0x1"},
        {{"n", NF_OPT_PATH, "a", 0, "x", .flags = NF_OPT_READ_FILE | NF_OPT_WRITE_DIR},
         "flags 0x9"},
        {{"n", NF_OPT_PATH, "a", 0, "x", .flags = NF_OPT_READ_DIR | NF_OPT_MKDIR}, "flags 0x12"},
        {{"n", NF_OPT_PATH, "a", 0, "x", .flags = 1u << 9}, "flags 0x200"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const struct nf_option t[] = {bad[i].row, {.name = NULL}};
        assert_int_equal(nf_options_table_check(t, err, sizeof(err)), -1);
        if (!strstr(err, bad[i].msg))
            fail_msg("row %zu: \"%s\" lacks \"%s\"", i, err, bad[i].msg);
    }
}

static int rule_validate(const void *vconf, const char **option_out, char *err, size_t errlen)
{
    const struct rconf *c = vconf;
    if (strcmp(c->mode, "mark") == 0 && !c->prefix[0]) {
        *option_out = "prefix";
        snprintf(err, errlen, "option 'prefix' is needed when mode is \"mark\"");
        return NF_ERR;
    }
    if (strcmp(c->mode, "drop") == 0 && c->window > 32) {
        *option_out = "no such option";
        return NF_ERR; /* and says nothing */
    }
    return NF_OK;
}

static void test_validate(void **state)
{
    (void)state;
    struct nf_plugin p = {.abi = NF_PLUGIN_ABI, .size = sizeof(struct nf_plugin),
                          .name = "ruled", .kind = NF_PLUGIN_FILTER, .options = ruled,
                          .conf_size = sizeof(struct rconf), .validate = rule_validate};
    struct rconf c = {.window = 8, .mode = "keep", .prefix = ""};
    const char *opt = "junk";
    char err[256];
    assert_int_equal(nf_options_validate(&p, &c, &opt, err, sizeof(err)), 0);
    assert_null(opt);
    c.mode = "mark";
    assert_int_equal(nf_options_validate(&p, &c, &opt, err, sizeof(err)), -1);
    assert_string_equal(err, "option 'prefix' is needed when mode is \"mark\"");
    assert_ptr_equal(opt, ruled[R_PREFIX].name); /* the table's own string */
    /* a name outside the table is not passed on; a refusal without words gets some */
    c.mode = "drop";
    c.window = 40;
    assert_int_equal(nf_options_validate(&p, &c, &opt, err, sizeof(err)), -1);
    assert_null(opt);
    assert_string_equal(err, "plugin ruled refused its options without saying why");
    /* no callback: nothing to refuse */
    p.validate = NULL;
    assert_int_equal(nf_options_validate(&p, &c, &opt, err, sizeof(err)), 0);
}

static int path_check(int i, const char *value, char *err, size_t errlen)
{
    struct rconf c = {0};
    const char **slot = (const char **)(void *)((char *)&c + ruled[i].offset);
    *slot = value;
    return nf_option_check_path(&ruled[i], &c, err, errlen);
}

static void test_paths(void **state)
{
    (void)state;
    char dir[] = "/tmp/nf-test-paths-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char file[128], sub[128], missing[128], deep[160], under_file[160];
    snprintf(file, sizeof(file), "%s/a.txt", dir);
    snprintf(sub, sizeof(sub), "%s/sub", dir);
    snprintf(missing, sizeof(missing), "%s/nope", dir);
    snprintf(deep, sizeof(deep), "%s/x/y/out.db", dir);
    snprintf(under_file, sizeof(under_file), "%s/a.txt/out.db", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(mkdir(sub, 0700), 0);
    char err[512], want[512];

    /* an option left empty, or without flags, is not checked */
    assert_int_equal(path_check(R_IN_FILE, "", err, sizeof(err)), 0);
    assert_int_equal(path_check(R_IN_FILE, NULL, err, sizeof(err)), 0);
    /* inputs: there, of their kind */
    assert_int_equal(path_check(R_IN_FILE, file, err, sizeof(err)), 0);
    assert_int_equal(path_check(R_IN_FILE, missing, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "option 'in_file': file %s: does not exist", missing);
    assert_string_equal(err, want);
    assert_int_equal(path_check(R_IN_FILE, sub, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "option 'in_file': %s is a directory, not a file", sub);
    assert_string_equal(err, want);
    assert_int_equal(path_check(R_IN_DIR, sub, err, sizeof(err)), 0);
    assert_int_equal(path_check(R_IN_DIR, missing, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "option 'in_dir': directory %s: does not exist", missing);
    assert_string_equal(err, want);
    assert_int_equal(path_check(R_IN_DIR, file, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "option 'in_dir': %s is not a directory", file);
    assert_string_equal(err, want);
    assert_int_equal(path_check(R_EITHER, file, err, sizeof(err)), 0);
    assert_int_equal(path_check(R_EITHER, sub, err, sizeof(err)), 0);
    assert_int_equal(path_check(R_EITHER, missing, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "option 'either': file or directory %s: does not exist",
             missing);
    assert_string_equal(err, want);
    /* outputs: a file in a directory that exists; a directory that exists */
    assert_int_equal(path_check(R_OUT_FILE, file, err, sizeof(err)), 0);
    assert_int_equal(path_check(R_OUT_FILE, missing, err, sizeof(err)), 0); /* made by the plugin */
    assert_int_equal(path_check(R_OUT_FILE, sub, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "option 'out_file': %s is a directory, not a file", sub);
    assert_string_equal(err, want);
    assert_int_equal(path_check(R_OUT_FILE, deep, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "option 'out_file': directory %s/x/y: does not exist", dir);
    assert_string_equal(err, want);
    assert_int_equal(path_check(R_OUT_DIR, sub, err, sizeof(err)), 0);
    assert_int_equal(path_check(R_OUT_DIR, missing, err, sizeof(err)), -1);
    assert_int_equal(path_check(R_OUT_DIR, file, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "option 'out_dir': %s is not a directory", file);
    assert_string_equal(err, want);
    /* NF_OPT_MKDIR: the nearest directory that exists must let them be made */
    assert_int_equal(path_check(R_MADE_FILE, deep, err, sizeof(err)), 0);
    assert_int_equal(path_check(R_MADE_FILE, under_file, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "option 'made_file': %s/a.txt is not a directory", dir);
    assert_string_equal(err, want);
    if (geteuid() != 0) { /* root writes anywhere: read-only is only seen by others */
        assert_int_equal(chmod(sub, 0500), 0);
        char in_sub[160];
        snprintf(in_sub, sizeof(in_sub), "%s/out.db", sub);
        assert_int_equal(path_check(R_OUT_FILE, in_sub, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "is not writable"));
        snprintf(in_sub, sizeof(in_sub), "%s/new/out.db", sub);
        assert_int_equal(path_check(R_MADE_FILE, in_sub, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "cannot be made"));
        chmod(sub, 0700);
    }
    unlink(file);
    rmdir(sub);
    rmdir(dir);
}

/* The docs say every rule the table holds. */
static void test_print_doc_rules(void **state)
{
    (void)state;
    const struct nf_plugin p = {.name = "ruled", .kind = NF_PLUGIN_FILTER, .options = ruled,
                                .conf_size = sizeof(struct rconf), .validate = rule_validate};
    char *doc = doc_of(&p);
    static const char *const says[] = {
        "between 1 and 64",         "between 0 and 1",
        "at least 64K",             "one of keep, drop or mark",
        "at most 4 bytes long",     "a file it reads",
        "not empty; a directory it reads", "a file it writes, in a directory that exists",
        "a directory it writes, which must exist", "a file it writes (its directory is made)",
        "a file or directory it reads", "how its options go together",
    };
    for (size_t i = 0; i < sizeof(says) / sizeof(says[0]); i++)
        if (!strstr(doc, says[i]))
            fail_msg("doc lacks \"%s\":\n%s", says[i], doc);
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
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_choices),
        cmocka_unit_test(test_table_check),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_print_doc_rules),
        cmocka_unit_test(test_strpool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
