/* Tests of the config loader (core/config.c): config files written into a temporary directory,
 * the DAG and defaults a valid file yields, every error with the file:line a user would look
 * at, ${NAME} substitution, --set overrides, option tables applied to a stage, and endpoints.
 * Plugins are the test's own descriptors, or the test plugins in NF_PLUGIN_DIR. */
#include <errno.h>
#include <limits.h>
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
#include <zmq.h>

#include "config.h"

#define assert_has(hay, needle)                                                                \
    do {                                                                                       \
        if (!strstr((hay), (needle)))                                                          \
            fail_msg("expected \"%s\" in \"%s\"", (needle), (hay));                            \
    } while (0)

#define assert_lacks(hay, needle)                                                              \
    do {                                                                                       \
        if (strstr((hay), (needle)))                                                           \
            fail_msg("did not expect \"%s\" in \"%s\"", (needle), (hay));                      \
    } while (0)

struct fx {
    char dir[PATH_MAX];      /* the temporary directory, as realpath() spells it */
    char path[PATH_MAX + 32]; /* the last config written */
    char err[2048];
    struct nf_config *cfg;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    char tmpl[] = "/tmp/nf-config-XXXXXX";
    if (!mkdtemp(tmpl) || !realpath(tmpl, f->dir)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    nf_config_destroy(&f->cfg);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
    free(f);
    return 0;
}

/* Writes `text` to DIR/name and remembers its path in f->path. */
static const char *write_cfg(struct fx *f, const char *name, const char *text)
{
    snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    return f->path;
}

/* Loads f->path with `sets` and expects success. */
static struct nf_config *load_ok(struct fx *f, char *const *sets, int n_sets)
{
    nf_config_destroy(&f->cfg);
    f->err[0] = '\0';
    f->cfg = nf_config_load(f->path, sets, n_sets, f->err, sizeof(f->err));
    if (!f->cfg)
        fail_msg("%s refused: %s", f->path, f->err);
    return f->cfg;
}

/* Loads f->path and expects a refusal starting with "PATH:LINE: " (line 0: the message starts
 * with `prefix` instead, e.g. "--set x"), naming each of the NULL-terminated needles. */
static void load_bad(struct fx *f, char *const *sets, int n_sets, int line, const char *prefix,
                     ...)
{
    nf_config_destroy(&f->cfg);
    f->err[0] = '\0';
    f->cfg = nf_config_load(f->path, sets, n_sets, f->err, sizeof(f->err));
    if (f->cfg)
        fail_msg("%s was accepted", f->path);
    char where[PATH_MAX + 64];
    if (line > 0)
        snprintf(where, sizeof(where), "%s:%d: ", f->path, line);
    else
        snprintf(where, sizeof(where), "%s", prefix);
    if (strncmp(f->err, where, strlen(where)) != 0)
        fail_msg("expected the message to start with \"%s\": \"%s\"", where, f->err);
    va_list ap;
    va_start(ap, prefix);
    for (const char *n; (n = va_arg(ap, const char *));)
        assert_has(f->err, n);
    va_end(ap);
}

static void join(char *out, size_t outlen, const char *a, const char *b)
{
    snprintf(out, outlen, "%s/%s", a, b);
}

static const struct nf_conf_value *opt(const struct nf_stage_conf *st, const char *key)
{
    for (int i = 0; i < st->n_opts; i++)
        if (strcmp(st->opts[i].key, key) == 0)
            return &st->opts[i];
    return NULL;
}

/* ---- a valid config ------------------------------------------------------------------------ */

static void test_valid_fan_out(void **state)
{
    struct fx *f = *state;
    write_cfg(f, "p.cfg",
              "# a fan-out: one source, one filter, two sinks\n" /* 1 */
              "state_dir = \"state\";\n"                          /* 2 */
              "stages = {\n"                                      /* 3 */
              "  fetch = { plugin = \"src\"; path = \"in\"; };\n" /* 4 */
              "  clean = {\n"                                     /* 5 */
              "    plugin = \"flt\";\n"                           /* 6 */
              "    inputs = [\"fetch\"];\n"                       /* 7 */
              "    workers = 3;\n"                                /* 8 */
              "    ratio = 0.25;\n"                               /* 9 */
              "    strict = true;\n"                              /* 10 */
              "    count = 12;\n"                                 /* 11 */
              "  };\n"                                            /* 12 */
              "  store_a = { plugin = \"snk\"; inputs = [\"clean\"]; };\n" /* 13 */
              "  store_b = { plugin = \"snk\"; inputs = [\"clean\"]; hwm = 7; batch = 9; };\n"
              "};\n");
    struct nf_config *c = load_ok(f, NULL, 0);
    assert_int_equal(c->n_stages, 4);
    const char *names[] = {"fetch", "clean", "store_a", "store_b"};
    for (int i = 0; i < 4; i++) {
        assert_string_equal(c->stages[i].name, names[i]);
        assert_int_equal(nf_config_stage_index(c, names[i]), i);
    }
    assert_int_equal(nf_config_stage_index(c, "nope"), -1);
    assert_string_equal(c->stages[0].plugin, "src");
    assert_string_equal(c->stages[3].plugin, "snk");

    /* where each stage is defined */
    char where[PATH_MAX + 64];
    snprintf(where, sizeof(where), "%s:4", f->path);
    assert_string_equal(c->stages[0].where, where);
    snprintf(where, sizeof(where), "%s:5", f->path);
    assert_string_equal(c->stages[1].where, where);

    /* inputs resolved, consumers, acknowledgement weights */
    assert_int_equal(c->stages[0].n_inputs, 0);
    assert_int_equal(c->stages[1].n_inputs, 1);
    assert_int_equal(c->stages[1].input_idx[0], 0);
    assert_int_equal(c->stages[2].input_idx[0], 1);
    assert_int_equal(c->stages[3].input_idx[0], 1);
    assert_int_equal(c->stages[0].n_consumers, 1);
    assert_int_equal(c->stages[0].consumers[0], 1);
    assert_int_equal(c->stages[1].n_consumers, 2);
    assert_int_equal(c->stages[1].consumers[0] + c->stages[1].consumers[1], 2 + 3);
    assert_int_equal(c->stages[2].n_consumers, 0);
    assert_int_equal(c->stages[0].paths_below, 2);
    assert_int_equal(c->stages[1].paths_below, 2);
    assert_int_equal(c->stages[2].paths_below, 1);
    assert_int_equal(c->stages[3].paths_below, 1);

    /* stage keys and their defaults */
    assert_int_equal(c->stages[1].workers, 3);
    assert_int_equal(c->stages[0].workers, 1);
    assert_int_equal(c->stages[3].hwm, 7);
    assert_int_equal(c->stages[3].batch, 9);
    const struct nf_stage_conf *d = &c->stages[2];
    assert_int_equal(d->hwm, 100);
    assert_int_equal(d->batch, 500);
    assert_int_equal(d->flush_ms, 200);
    assert_int_equal(d->window, 4096);
    assert_int_equal(d->ack_timeout_ms, 30000);
    assert_int_equal(d->max_attempts, 5);
    assert_null(d->endpoint);
    assert_null(d->ack_endpoint);
    assert_null(d->log_level);

    /* plugin options are kept as written, with their kind and file:line */
    assert_int_equal(c->stages[0].n_opts, 1);
    const struct nf_conf_value *v = opt(&c->stages[0], "path");
    assert_non_null(v);
    assert_int_equal(v->kind, NF_VAL_STRING);
    assert_string_equal(v->text, "in"); /* not resolved: only the plugin knows it is a path */
    snprintf(where, sizeof(where), "%s:4", f->path);
    assert_string_equal(v->where, where);
    assert_int_equal(c->stages[1].n_opts, 3);
    v = opt(&c->stages[1], "ratio");
    assert_int_equal(v->kind, NF_VAL_FLOAT);
    assert_true(strtod(v->text, NULL) == 0.25);
    snprintf(where, sizeof(where), "%s:9", f->path);
    assert_string_equal(v->where, where);
    v = opt(&c->stages[1], "strict");
    assert_int_equal(v->kind, NF_VAL_BOOL);
    assert_string_equal(v->text, "true");
    v = opt(&c->stages[1], "count");
    assert_int_equal(v->kind, NF_VAL_INT);
    assert_string_equal(v->text, "12");
    assert_null(opt(&c->stages[1], "workers")); /* a stage key is not a plugin option */

    /* top-level defaults; relative paths are resolved against the config's directory */
    char want[PATH_MAX + 64];
    assert_string_equal(c->dir, f->dir);
    join(want, sizeof(want), f->dir, "state");
    assert_string_equal(c->state_dir, want);
    join(want, sizeof(want), f->dir, "state/run");
    assert_string_equal(c->run_dir, want);
    join(want, sizeof(want), f->dir, "state/deadletter.db");
    assert_string_equal(c->deadletter, want);
    assert_string_equal(c->log_level, "info");
    assert_true(c->trace);
    assert_int_equal(c->grace_ms, 10000);
    assert_non_null(c->plugin_dir);
}

static void test_valid_diamond(void **state)
{
    struct fx *f = *state;
    /* a->b, a->c, b->d, c->d: a record from a reaches the end twice. e hangs off b as well, so
     * b has two paths below and a three. */
    write_cfg(f, "d.cfg",
              "stages = {\n"
              "  a = { plugin = \"src\"; };\n"
              "  b = { plugin = \"flt\"; inputs = [\"a\"]; };\n"
              "  c = { plugin = \"flt\"; inputs = [\"a\"]; };\n"
              "  d = { plugin = \"snk\"; inputs = [\"b\", \"c\"]; };\n"
              "};\n");
    struct nf_config *c = load_ok(f, NULL, 0);
    assert_int_equal(c->stages[0].paths_below, 2);
    assert_int_equal(c->stages[1].paths_below, 1);
    assert_int_equal(c->stages[2].paths_below, 1);
    assert_int_equal(c->stages[3].paths_below, 1);
    assert_int_equal(c->stages[3].n_inputs, 2);
    assert_int_equal(c->stages[3].input_idx[0], 1);
    assert_int_equal(c->stages[3].input_idx[1], 2);

    write_cfg(f, "d2.cfg",
              "stages = {\n"
              "  d = { plugin = \"snk\"; inputs = (\"b\", \"c\"); };\n" /* a list works too */
              "  e = { plugin = \"snk\"; inputs = [\"b\"]; };\n"
              "  c = { plugin = \"flt\"; inputs = [\"a\"]; };\n"
              "  b = { plugin = \"flt\"; inputs = [\"a\"]; };\n"
              "  a = { plugin = \"src\"; };\n"
              "};\n");
    c = load_ok(f, NULL, 0);
    int a = nf_config_stage_index(c, "a"), b = nf_config_stage_index(c, "b");
    assert_int_equal(a, 4);
    assert_int_equal(c->stages[a].paths_below, 3);
    assert_int_equal(c->stages[b].paths_below, 2);
    assert_int_equal(c->stages[nf_config_stage_index(c, "c")].paths_below, 1);
}

static void test_top_level_paths(void **state)
{
    struct fx *f = *state;
    write_cfg(f, "t.cfg",
              "plugin_dir = \"/opt/nf/plugins\";\n"
              "run_dir = \"r\";\n"
              "deadletter = \"dl/letters.db\";\n"
              "log_level = \"debug\";\n"
              "trace = false;\n"
              "grace_ms = 250;\n"
              "stages = { a = { plugin = \"src\"; }; };\n");
    struct nf_config *c = load_ok(f, NULL, 0);
    char want[PATH_MAX + 64];
    assert_string_equal(c->plugin_dir, "/opt/nf/plugins");
    join(want, sizeof(want), f->dir, "r");
    assert_string_equal(c->run_dir, want);
    join(want, sizeof(want), f->dir, "dl/letters.db");
    assert_string_equal(c->deadletter, want);
    join(want, sizeof(want), f->dir, "var"); /* state_dir's default */
    assert_string_equal(c->state_dir, want);
    assert_string_equal(c->log_level, "debug");
    assert_false(c->trace);
    assert_int_equal(c->grace_ms, 250);

    /* without plugin_dir in the file, NEWSFLOW_PLUGIN_DIR decides */
    write_cfg(f, "t2.cfg", "stages = { a = { plugin = \"src\"; }; };\n");
    setenv("NEWSFLOW_PLUGIN_DIR", "/from/env", 1);
    c = load_ok(f, NULL, 0);
    unsetenv("NEWSFLOW_PLUGIN_DIR");
    assert_string_equal(c->plugin_dir, "/from/env");
    c = load_ok(f, NULL, 0);
    assert_string_not_equal(c->plugin_dir, "/from/env");
    write_cfg(f, "t.cfg", "plugin_dir = \"/opt/nf/plugins\";\nrun_dir = \"r\";\n"
                          "stages = { a = { plugin = \"src\"; }; };\n");

    /* a config named relative to the working directory still resolves against its own folder */
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(f->dir), 0);
    nf_config_destroy(&f->cfg);
    f->cfg = nf_config_load("t.cfg", NULL, 0, f->err, sizeof(f->err));
    assert_int_equal(chdir(cwd), 0);
    if (!f->cfg)
        fail_msg("t.cfg refused: %s", f->err);
    assert_string_equal(f->cfg->dir, f->dir);
    join(want, sizeof(want), f->dir, "r");
    assert_string_equal(f->cfg->run_dir, want);
}

/* ---- errors, each with its file:line ------------------------------------------------------ */

static void test_syntax_error(void **state)
{
    struct fx *f = *state;
    write_cfg(f, "s.cfg",
              "stages = {\n"
              "  fetch = { plugin = \"src\"; path = ; };\n"
              "};\n");
    load_bad(f, NULL, 0, 2, NULL, "syntax error", NULL);
    /* libconfig does not need ';' between settings: this is two settings, not an error */
    write_cfg(f, "s1.cfg",
              "stages = {\n"
              "  fetch = { plugin = \"src\" path = \"x\"; };\n"
              "};\n");
    load_ok(f, NULL, 0);
    assert_string_equal(opt(&f->cfg->stages[0], "path")->text, "x");
    write_cfg(f, "s2.cfg",
              "# fine\n"
              "state_dir = \"var\";\n"
              "stages = {\n"
              "  a = { plugin = \"src\"; };\n"
              "  b = { plugin = \"flt\"; inputs = [\"a\"] };\n" /* missing ';' is fine; '}' */
              "  c = { plugin = \"flt\"; inputs = [\"a\"]; }; }; };\n"
              "};\n");
    load_bad(f, NULL, 0, 6, NULL, "syntax error", NULL);
}

static void test_missing_file(void **state)
{
    struct fx *f = *state;
    snprintf(f->path, sizeof(f->path), "%s/absent.cfg", f->dir);
    load_bad(f, NULL, 0, 0, f->path, strerror(ENOENT), NULL);
}

static void test_unknown_top_level_key(void **state)
{
    struct fx *f = *state;
    write_cfg(f, "u.cfg",
              "state_dir = \"var\";\n"
              "\n"
              "stat_dir = \"oops\";\n"
              "stages = { a = { plugin = \"src\"; }; };\n");
    load_bad(f, NULL, 0, 3, NULL, "'stat_dir'", "plugin_dir", "run_dir", "state_dir",
             "deadletter", "log_level", "trace", "grace_ms", "stages", NULL);
}

static void test_top_level_wrong_type(void **state)
{
    struct fx *f = *state;
    write_cfg(f, "w.cfg", "trace = \"yes\";\nstages = { a = { plugin = \"src\"; }; };\n");
    load_bad(f, NULL, 0, 1, NULL, "trace", NULL);
    write_cfg(f, "w2.cfg", "\nstate_dir = 5;\nstages = { a = { plugin = \"src\"; }; };\n");
    load_bad(f, NULL, 0, 2, NULL, "state_dir", NULL);
    write_cfg(f, "w3.cfg", "log_level = \"loud\";\nstages = { a = { plugin = \"src\"; }; };\n");
    load_bad(f, NULL, 0, 1, NULL, "log_level", "loud", NULL);
    write_cfg(f, "w4.cfg", "grace_ms = -1;\nstages = { a = { plugin = \"src\"; }; };\n");
    load_bad(f, NULL, 0, 1, NULL, "grace_ms", NULL);
    /* the bounds come from the same rows as docs/config.md, for the top level and stages alike,
     * in the file and from --set */
    write_cfg(f, "w5.cfg", "max_message = \"1K\";\nstages = { a = { plugin = \"src\"; }; };\n");
    load_bad(f, NULL, 0, 1, NULL, "'max_message' must be a size from 4K to 1G", "got 1K", NULL);
    write_cfg(f, "w6.cfg", "stages = {\n a = { plugin = \"src\";\n window_bytes = \"32K\"; }; };\n");
    load_bad(f, NULL, 0, 3, NULL, "stage 'a': 'window_bytes' must be a size from 64K to 16G", NULL);
    write_cfg(f, "w7.cfg", "stages = { a = { plugin = \"src\"; }; };\n");
    char *set[] = {"a.workers=257"};
    load_bad(f, set, 1, 0, "--set a.workers=257: ",
             "stage 'a': 'workers' must be an integer from 1 to 256, got 257", NULL);
    char *set2[] = {"health_stuck_ms=999"};
    load_bad(f, set2, 1, 0, "--set health_stuck_ms=999: ",
             "'health_stuck_ms' must be an integer from 1000 to 86400000", NULL);
}

static void test_no_stages(void **state)
{
    struct fx *f = *state;
    write_cfg(f, "n.cfg", "state_dir = \"var\";\n");
    load_bad(f, NULL, 0, 1, NULL, "stages", NULL);
    write_cfg(f, "n2.cfg", "state_dir = \"var\";\nstages = {};\n");
    load_bad(f, NULL, 0, 2, NULL, "stages", NULL);
    write_cfg(f, "n3.cfg", "\n\nstages = ( { plugin = \"src\"; } );\n");
    load_bad(f, NULL, 0, 3, NULL, "stages", NULL);
}

static void test_stage_errors(void **state)
{
    struct fx *f = *state;
    write_cfg(f, "e1.cfg",
              "stages = {\n"
              "  fetch = { plugin = \"src\"; };\n"
              "  clean = {\n"
              "    inputs = [\"fetch\"];\n"
              "  };\n"
              "};\n");
    load_bad(f, NULL, 0, 3, NULL, "'clean'", "plugin", NULL);

    write_cfg(f, "e2.cfg",
              "stages = {\n"
              "  fetch = { plugin = \"src\"; };\n"
              "  clean = {\n"
              "    plugin = \"flt\";\n"
              "    inputs = [\"fetsh\"];\n"
              "  };\n"
              "};\n");
    load_bad(f, NULL, 0, 3, NULL, "'clean'", "'fetsh'", "not a stage", NULL);

    write_cfg(f, "e3.cfg",
              "stages = {\n"
              "  fetch = { plugin = \"src\"; };\n"
              "  clean = { plugin = \"flt\"; inputs = [\"fetch\", \"clean\"]; };\n"
              "};\n");
    load_bad(f, NULL, 0, 3, NULL, "'clean'", "itself", NULL);

    write_cfg(f, "e4.cfg",
              "stages = {\n"
              "  fetch = { plugin = \"src\"; };\n"
              "  clean = {\n"
              "    plugin = \"flt\";\n"
              "    inputs = \"fetch\";\n"
              "  };\n"
              "};\n");
    load_bad(f, NULL, 0, 5, NULL, "'clean'", "inputs", "list", NULL);

    write_cfg(f, "e5.cfg",
              "stages = {\n"
              "  fetch = { plugin = \"src\"; };\n"
              "  clean = { plugin = \"flt\"; inputs = (\"fetch\", 3); };\n"
              "};\n");
    load_bad(f, NULL, 0, 3, NULL, "inputs", "string", NULL);

    write_cfg(f, "e6.cfg",
              "stages = {\n"
              "  fetch = { plugin = \"src\"; };\n"
              "  clean = { plugin = \"flt\"; inputs = [\"fetch\", \"fetch\"]; };\n"
              "};\n");
    load_bad(f, NULL, 0, 3, NULL, "'fetch'", "twice", NULL);

    write_cfg(f, "e7.cfg", "stages = {\n  Fetch = { plugin = \"src\"; };\n};\n");
    load_bad(f, NULL, 0, 2, NULL, "'Fetch'", "lowercase", NULL);

    write_cfg(f, "e8.cfg", "stages = {\n  fetch = \"src\";\n};\n");
    load_bad(f, NULL, 0, 2, NULL, "'fetch'", "group", NULL);

    write_cfg(f, "e9.cfg", "stages = {\n  fetch = { plugin = 5; };\n};\n");
    load_bad(f, NULL, 0, 2, NULL, "'plugin'", "string", NULL);

    write_cfg(f, "e10.cfg",
              "stages = {\n  fetch = {\n    plugin = \"src\";\n    log_level = \"chatty\";\n"
              "  };\n};\n");
    load_bad(f, NULL, 0, 4, NULL, "log_level", NULL);

    write_cfg(f, "e11.cfg",
              "stages = {\n  fetch = {\n    plugin = \"src\";\n"
              "    endpoint = \"ipc:///tmp/x\";\n  };\n};\n");
    load_bad(f, NULL, 0, 4, NULL, "endpoint", "tcp://", NULL);
}

/* fuse: a stage run inside the workers of its one input. The chain and its head are what the
 * supervisor and the stage host read; every shape the chain cannot take is refused at the
 * stage's line. */
static void test_fused_stages(void **state)
{
    struct fx *f = *state;
    write_cfg(f, "f.cfg",
              "stages = {\n"
              "  fetch = { plugin = \"src\"; };\n"
              "  html = { plugin = \"flt\"; inputs = [\"fetch\"]; workers = 3; };\n"
              "  clean = { plugin = \"flt\"; inputs = [\"html\"]; fuse = true; };\n"
              "  extract = { plugin = \"flt\"; inputs = [\"clean\"]; fuse = true; workers = 3; };\n"
              "  dedup = { plugin = \"flt\"; inputs = [\"extract\"]; };\n"
              "  store = { plugin = \"snk\"; inputs = [\"dedup\"]; };\n"
              "};\n");
    struct nf_config *c = load_ok(f, NULL, 0);
    int html = nf_config_stage_index(c, "html"), clean = nf_config_stage_index(c, "clean"),
        extract = nf_config_stage_index(c, "extract"), dedup = nf_config_stage_index(c, "dedup");
    assert_int_equal(nf_config_head(c, html), html);
    assert_int_equal(nf_config_head(c, clean), html);
    assert_int_equal(nf_config_head(c, extract), html);
    assert_int_equal(nf_config_head(c, dedup), dedup);
    assert_int_equal(c->stages[clean].workers, 3); /* the head's */
    int chain[8];
    assert_int_equal(nf_config_chain(c, html, chain, 8), 2);
    assert_int_equal(chain[0], clean);
    assert_int_equal(chain[1], extract);
    assert_int_equal(nf_config_chain(c, dedup, chain, 8), 0);
    assert_int_equal(nf_config_chain(c, html, chain, 1), 1); /* bounded by max */

    /* --set turns it off again: each stage its own workers */
    char *off[] = {"clean.fuse=false", "clean.workers=3"};
    c = load_ok(f, off, 2);
    assert_int_equal(nf_config_head(c, nf_config_stage_index(c, "clean")),
                     nf_config_stage_index(c, "clean"));
    assert_int_equal(nf_config_head(c, nf_config_stage_index(c, "extract")),
                     nf_config_stage_index(c, "clean"));

    write_cfg(f, "f1.cfg",
              "stages = {\n"
              "  a = { plugin = \"src\"; };\n"
              "  b = { plugin = \"src\"; };\n"
              "  m = { plugin = \"flt\"; inputs = [\"a\"]; };\n"
              "  n = { plugin = \"flt\"; inputs = [\"m\", \"b\"]; fuse = true; };\n"
              "};\n");
    load_bad(f, NULL, 0, 5, NULL, "'n'", "2 inputs", NULL);

    write_cfg(f, "f2.cfg",
              "stages = {\n"
              "  fetch = { plugin = \"src\"; };\n"
              "  clean = { plugin = \"flt\"; inputs = [\"fetch\"]; fuse = true; };\n"
              "};\n");
    load_bad(f, NULL, 0, 3, NULL, "'clean'", "source 'fetch'", NULL);

    write_cfg(f, "f3.cfg",
              "stages = {\n"
              "  fetch = { plugin = \"src\"; };\n"
              "  html = { plugin = \"flt\"; inputs = [\"fetch\"]; };\n"
              "  clean = { plugin = \"flt\"; inputs = [\"html\"]; fuse = true; };\n"
              "  copy = { plugin = \"flt\"; inputs = [\"html\"]; };\n"
              "};\n");
    load_bad(f, NULL, 0, 4, NULL, "'clean'", "'html'", "feeds 2 stages", NULL);

    write_cfg(f, "f4.cfg",
              "stages = {\n"
              "  fetch = { plugin = \"src\"; };\n"
              "  html = { plugin = \"flt\"; inputs = [\"fetch\"]; in_read_order = true; };\n"
              "  clean = { plugin = \"flt\"; inputs = [\"html\"]; fuse = true; };\n"
              "};\n");
    load_bad(f, NULL, 0, 4, NULL, "'clean'", "in_read_order", NULL);

    write_cfg(f, "f5.cfg",
              "stages = {\n"
              "  fetch = { plugin = \"src\"; };\n"
              "  html = { plugin = \"flt\"; inputs = [\"fetch\"]; workers = 2; };\n"
              "  clean = { plugin = \"flt\"; inputs = [\"html\"]; fuse = true; workers = 3; };\n"
              "};\n");
    load_bad(f, NULL, 0, 4, NULL, "'clean'", "2 workers of 'html'", "(3)", NULL);

    write_cfg(f, "f6.cfg",
              "stages = {\n"
              "  fetch = { plugin = \"src\"; };\n"
              "  html = { plugin = \"flt\"; inputs = [\"fetch\"]; };\n"
              "  clean = { plugin = \"flt\"; inputs = [\"html\"]; fuse = true;\n"
              "            endpoint = \"tcp://127.0.0.1:7000\"; };\n"
              "};\n");
    load_bad(f, NULL, 0, 4, NULL, "'clean'", "no inbox of its own", NULL);

    /* a chain longer than NF_CONFIG_CHAIN_MAX is refused at the first stage past it */
    char big[16384];
    int n = snprintf(big, sizeof(big), "stages = {\n  fetch = { plugin = \"src\"; };\n"
                                       "  s0 = { plugin = \"flt\"; inputs = [\"fetch\"]; };\n");
    for (int i = 1; i <= NF_CONFIG_CHAIN_MAX + 1; i++)
        n += snprintf(big + n, sizeof(big) - (size_t)n,
                      "  s%d = { plugin = \"flt\"; inputs = [\"s%d\"]; fuse = true; };\n", i,
                      i - 1);
    snprintf(big + n, sizeof(big) - (size_t)n, "};\n");
    write_cfg(f, "f8.cfg", big);
    load_bad(f, NULL, 0, NF_CONFIG_CHAIN_MAX + 4, NULL, "more than 64 stages fused", "'s0'",
             NULL);

    write_cfg(f, "f7.cfg",
              "stages = {\n"
              "  fetch = { plugin = \"src\"; };\n"
              "  html = { plugin = \"flt\"; inputs = [\"fetch\"]; nice = 2; };\n"
              "  clean = { plugin = \"flt\"; inputs = [\"html\"]; fuse = true; nice = 5; };\n"
              "};\n");
    load_bad(f, NULL, 0, 4, NULL, "'clean'", "nice of 'html' (2)", "(5)", NULL);
    char *same[] = {"clean.nice=2"};
    c = load_ok(f, same, 1);
    assert_int_equal(c->stages[nf_config_stage_index(c, "clean")].nice, 2);
}

static void test_cycle(void **state)
{
    struct fx *f = *state;
    write_cfg(f, "c.cfg",
              "stages = {\n"
              "  src = { plugin = \"src\"; };\n"
              "  a = { plugin = \"flt\"; inputs = [\"src\", \"b\"]; };\n"
              "  b = { plugin = \"flt\"; inputs = [\"a\"]; };\n"
              "  out = { plugin = \"snk\"; inputs = [\"b\"]; };\n"
              "};\n");
    nf_config_destroy(&f->cfg);
    f->cfg = nf_config_load(f->path, NULL, 0, f->err, sizeof(f->err));
    assert_null(f->cfg);
    /* either stage of the cycle may be named, with its own line */
    char at3[PATH_MAX + 64], at4[PATH_MAX + 64];
    snprintf(at3, sizeof(at3), "%s:3: stage 'a'", f->path);
    snprintf(at4, sizeof(at4), "%s:4: stage 'b'", f->path);
    if (strncmp(f->err, at3, strlen(at3)) != 0 && strncmp(f->err, at4, strlen(at4)) != 0)
        fail_msg("expected the stage of the cycle with its line: \"%s\"", f->err);
    assert_has(f->err, "cycle");

    /* a cycle with no way in: no stage is a source */
    write_cfg(f, "c2.cfg",
              "stages = {\n"
              "  a = { plugin = \"flt\"; inputs = [\"b\"]; };\n"
              "  b = { plugin = \"flt\"; inputs = [\"a\"]; };\n"
              "};\n");
    nf_config_destroy(&f->cfg);
    f->cfg = nf_config_load(f->path, NULL, 0, f->err, sizeof(f->err));
    assert_null(f->cfg);
    assert_has(f->err, "cycle");
    assert_has(f->err, f->path);
}

static void test_stage_int_keys(void **state)
{
    struct fx *f = *state;
    write_cfg(f, "i.cfg",
              "stages = {\n"
              "  fetch = {\n"
              "    plugin = \"src\";\n"
              "    workers = 0;\n"
              "  };\n"
              "};\n");
    load_bad(f, NULL, 0, 4, NULL, "'fetch'", "'workers'", "from 1 to 256", "got 0", NULL);
    write_cfg(f, "i2.cfg",
              "stages = {\n"
              "  fetch = {\n"
              "    plugin = \"src\";\n"
              "\n"
              "    workers = \"abc\";\n"
              "  };\n"
              "};\n");
    load_bad(f, NULL, 0, 5, NULL, "'workers'", "abc", NULL);
    write_cfg(f, "i3.cfg", "stages = {\n  fetch = { plugin = \"src\"; workers = 1.5; };\n};\n");
    load_bad(f, NULL, 0, 2, NULL, "'workers'", NULL);
    write_cfg(f, "i4.cfg", "stages = {\n  fetch = { plugin = \"src\"; ack_timeout_ms = 5; };\n};\n");
    load_bad(f, NULL, 0, 2, NULL, "'ack_timeout_ms'", "from 10", NULL);
    write_cfg(f, "i5.cfg", "stages = {\n  fetch = { plugin = \"src\"; hwm = 0; };\n};\n");
    load_bad(f, NULL, 0, 2, NULL, "'hwm'", NULL);
    write_cfg(f, "i6.cfg",
              "stages = {\n  fetch = { plugin = \"src\"; workers = 256; batch = 1000000;\n"
              "    flush_ms = 1; window = 1; ack_timeout_ms = 86400000; max_attempts = 1000;\n"
              "  };\n};\n");
    struct nf_config *c = load_ok(f, NULL, 0);
    assert_int_equal(c->stages[0].workers, 256);
    assert_int_equal(c->stages[0].batch, 1000000);
    assert_int_equal(c->stages[0].flush_ms, 1);
    assert_int_equal(c->stages[0].window, 1);
    assert_int_equal(c->stages[0].ack_timeout_ms, 86400000);
    assert_int_equal(c->stages[0].max_attempts, 1000);
}

static void test_non_scalar_option(void **state)
{
    struct fx *f = *state;
    write_cfg(f, "o.cfg",
              "stages = {\n"
              "  fetch = {\n"
              "    plugin = \"src\";\n"
              "    tags = [\"a\", \"b\"];\n"
              "  };\n"
              "};\n");
    load_bad(f, NULL, 0, 4, NULL, "'tags'", "single value", NULL);
    write_cfg(f, "o2.cfg",
              "stages = {\n"
              "  fetch = {\n"
              "    plugin = \"src\";\n"
              "    sub = { depth = 2; };\n"
              "  };\n"
              "};\n");
    load_bad(f, NULL, 0, 4, NULL, "'sub'", "single value", NULL);
}

/* ---- environment substitution ------------------------------------------------------------- */

static void test_env_substitution(void **state)
{
    struct fx *f = *state;
    setenv("NF_TEST_ROOT", "/data/news", 1);
    setenv("NF_TEST_TAG", "evening", 1);
    unsetenv("NF_TEST_UNSET");
    write_cfg(f, "v.cfg",
              "state_dir = \"${NF_TEST_ROOT}/state\";\n"
              "stages = {\n"
              "  fetch = {\n"
              "    plugin = \"src\";\n"
              "    path = \"${NF_TEST_ROOT}/in\";\n"
              "    mode = \"${NF_TEST_UNSET:-fallback}\";\n"
              "    tag = \"${NF_TEST_TAG:-morning}\";\n"
              "    price = \"$$5 and $x\";\n"
              "    both = \"${NF_TEST_TAG}-${NF_TEST_TAG}/${NF_TEST_UNSET:-}.\";\n"
              "    plain = \"no variables at all\";\n"
              "  };\n"
              "};\n");
    struct nf_config *c = load_ok(f, NULL, 0);
    assert_string_equal(c->state_dir, "/data/news/state");
    assert_string_equal(c->run_dir, "/data/news/state/run");
    const struct nf_stage_conf *st = &c->stages[0];
    assert_string_equal(opt(st, "path")->text, "/data/news/in");
    assert_string_equal(opt(st, "mode")->text, "fallback");
    assert_string_equal(opt(st, "tag")->text, "evening");
    assert_string_equal(opt(st, "price")->text, "$5 and $x");
    assert_string_equal(opt(st, "both")->text, "evening-evening/.");
    assert_string_equal(opt(st, "plain")->text, "no variables at all");

    /* a value longer than the text it replaces */
    char big[600];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    setenv("NF_TEST_BIG", big, 1);
    write_cfg(f, "v2.cfg",
              "stages = { fetch = { plugin = \"src\"; p = \"<${NF_TEST_BIG}|${NF_TEST_BIG}>\"; }; "
              "};\n");
    c = load_ok(f, NULL, 0);
    const char *p = opt(&c->stages[0], "p")->text;
    assert_int_equal(strlen(p), 2 * strlen(big) + 3);
    assert_int_equal(p[0], '<');
    assert_int_equal(p[strlen(big) + 1], '|');
    unsetenv("NF_TEST_BIG");
    unsetenv("NF_TEST_ROOT");
    unsetenv("NF_TEST_TAG");
}

static void test_env_unset_is_an_error(void **state)
{
    struct fx *f = *state;
    unsetenv("NF_TEST_NOPE");
    write_cfg(f, "v.cfg",
              "stages = {\n"
              "  fetch = {\n"
              "    plugin = \"src\";\n"
              "    path = \"${NF_TEST_NOPE}/in\";\n"
              "  };\n"
              "};\n");
    load_bad(f, NULL, 0, 4, NULL, "NF_TEST_NOPE", "not set", NULL);
    write_cfg(f, "v2.cfg",
              "\nstate_dir = \"${NF_TEST_NOPE}\";\nstages = { a = { plugin = \"src\"; }; };\n");
    load_bad(f, NULL, 0, 2, NULL, "NF_TEST_NOPE", NULL);
    write_cfg(f, "v3.cfg", "stages = {\n  a = { plugin = \"src\"; p = \"${NF_TEST_NOPE\"; };\n};\n");
    load_bad(f, NULL, 0, 2, NULL, "${", NULL);
    write_cfg(f, "v4.cfg", "stages = {\n  a = { plugin = \"src\"; p = \"${}\"; };\n};\n");
    load_bad(f, NULL, 0, 2, NULL, "variable", NULL);
}

/* ---- --set overrides ---------------------------------------------------------------------- */

static const char *const set_cfg = "state_dir = \"state\";\n"
                                   "stages = {\n"
                                   "  fetch = { plugin = \"src\"; path = \"in\"; };\n"
                                   "  clean = { plugin = \"flt\"; inputs = [\"fetch\"]; };\n"
                                   "  other = { plugin = \"src\"; };\n"
                                   "};\n";

static void test_set_overrides(void **state)
{
    struct fx *f = *state;
    write_cfg(f, "s.cfg", set_cfg);
    char *sets[] = {"fetch.path=/elsewhere", "fetch.limit=5",  "clean.workers=4",
                    "state_dir=/srv/nf",     "trace=false",    "grace_ms=77",
                    "log_level=warn",        "fetch.path=/last"};
    struct nf_config *c = load_ok(f, sets, 8);
    const struct nf_stage_conf *st = &c->stages[0];
    assert_int_equal(st->n_opts, 2);
    const struct nf_conf_value *v = opt(st, "path");
    assert_string_equal(v->text, "/last"); /* a later value wins */
    assert_int_equal(v->kind, NF_VAL_TEXT);
    assert_string_equal(v->where, "--set fetch.path=/last");
    v = opt(st, "limit");
    assert_non_null(v);
    assert_string_equal(v->text, "5");
    assert_int_equal(v->kind, NF_VAL_TEXT);
    assert_string_equal(v->where, "--set fetch.limit=5");
    assert_int_equal(c->stages[1].workers, 4);
    assert_string_equal(c->state_dir, "/srv/nf");
    assert_string_equal(c->run_dir, "/srv/nf/run"); /* derived from the overridden state_dir */
    assert_string_equal(c->deadletter, "/srv/nf/deadletter.db");
    assert_false(c->trace);
    assert_int_equal(c->grace_ms, 77);
    assert_string_equal(c->log_level, "warn");

    /* a value may itself contain '=' and '.' */
    char *sets2[] = {"fetch.query=a=b.c"};
    c = load_ok(f, sets2, 1);
    assert_string_equal(opt(&c->stages[0], "query")->text, "a=b.c");

    /* re-wiring inputs on the command line re-checks the DAG */
    char *sets3[] = {"clean.inputs=fetch,other"};
    c = load_ok(f, sets3, 1);
    assert_int_equal(c->stages[1].n_inputs, 2);
    assert_int_equal(c->stages[2].paths_below, 1);
    assert_int_equal(c->stages[2].n_consumers, 1);
    char *sets4[] = {"clean.inputs=fetch,nowhere"};
    load_bad(f, sets4, 1, 4, NULL, "'nowhere'", NULL);
}

static void test_set_errors(void **state)
{
    struct fx *f = *state;
    write_cfg(f, "s.cfg", set_cfg);
    char *s1[] = {"nope.path=/x"};
    load_bad(f, s1, 1, 0, "--set nope.path=/x: ", "'nope'", NULL);
    char *s2[] = {"fetch.path"};
    load_bad(f, s2, 1, 0, "--set fetch.path: ", "STAGE.OPTION=VALUE", NULL);
    char *s3[] = {"=5"};
    load_bad(f, s3, 1, 0, "--set =5: ", NULL);
    char *s4[] = {"clean.workers=abc"};
    load_bad(f, s4, 1, 0, "--set clean.workers=abc: ", "'workers'", "abc", NULL);
    char *s5[] = {"colour=blue"};
    load_bad(f, s5, 1, 0, "--set colour=blue: ", "'colour'", "state_dir", "STAGE.OPTION", NULL);
    char *s6[] = {"grace_ms=soon"};
    load_bad(f, s6, 1, 0, "--set grace_ms=soon: ", "grace_ms", NULL);
    char *s7[] = {"fetch.endpoint=ipc:///x"};
    load_bad(f, s7, 1, 0, "--set fetch.endpoint=ipc:///x: ", "tcp://", NULL);
    /* the first bad --set is the one reported */
    char *s8[] = {"fetch.path=/ok", "bad.one=1", "worse"};
    load_bad(f, s8, 3, 0, "--set bad.one=1: ", NULL);
}

static void test_set_log_level_checked(void **state)
{
    /* log_level in the file must be error, warn, info or debug; the same key on the command
     * line went through unchecked, and the processes then ran with level -1 (nothing logged,
     * not even errors). */
    struct fx *f = *state;
    write_cfg(f, "s.cfg", set_cfg);
    char *s1[] = {"log_level=loud"};
    load_bad(f, s1, 1, 0, "--set log_level=loud: ", "log_level", NULL);
}

/* ---- option tables applied to a stage ----------------------------------------------------- */

struct tconf {
    const char *label;
    const char *db;
    int64_t count;
    double ratio;
    bool strict;
    int64_t budget;
    const char *target;
    int64_t guard; /* nothing may write here */
};

static const struct nf_option t_options[] = {
    {"label", NF_OPT_STRING, "plain", offsetof(struct tconf, label), "A label."},
    {"db", NF_OPT_PATH, "data/db.sqlite", offsetof(struct tconf, db), "A database file."},
    {"count", NF_OPT_INT, "3", offsetof(struct tconf, count), "How many."},
    {"ratio", NF_OPT_DOUBLE, "0.5", offsetof(struct tconf, ratio), "A fraction."},
    {"strict", NF_OPT_BOOL, "false", offsetof(struct tconf, strict), "Refuse doubtful input."},
    {"budget", NF_OPT_SIZE, "64K", offsetof(struct tconf, budget), "Bytes per batch."},
    {"target", NF_OPT_STRING, NULL, offsetof(struct tconf, target), "Where the records go."},
    {.name = NULL},
};

static int t_process(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    (void)state, (void)ctx, (void)rec;
    return NF_OK;
}

static int t_next(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    (void)state, (void)ctx, (void)rec;
    return NF_EOF;
}

static const struct nf_plugin t_filter = {
    .abi = NF_PLUGIN_ABI, .size = sizeof(struct nf_plugin), .name = "t_filter",
    .kind = NF_PLUGIN_FILTER, .options = t_options, .conf_size = sizeof(struct tconf),
    .process = t_process,
};
static const struct nf_plugin t_source = {
    .abi = NF_PLUGIN_ABI, .size = sizeof(struct nf_plugin), .name = "t_source",
    .kind = NF_PLUGIN_SOURCE, .next = t_next,
};
static const struct nf_plugin t_sink = {
    .abi = NF_PLUGIN_ABI, .size = sizeof(struct nf_plugin), .name = "t_sink",
    .kind = NF_PLUGIN_SINK, .process = t_process,
};

/* Applies `p` to stage `name` of f->cfg; returns nf_config_plugin_conf's result. */
static int apply(struct fx *f, const char *name, const struct nf_plugin *p, struct tconf *tc,
                 struct nf_strpool *pool)
{
    memset(tc, 0, sizeof(*tc));
    tc->guard = 0x5a5a;
    f->err[0] = '\0';
    int s = nf_config_stage_index(f->cfg, name);
    assert_true(s >= 0);
    int rc = nf_config_plugin_conf(f->cfg, s, p, tc, pool, f->err, sizeof(f->err));
    assert_int_equal(tc->guard, 0x5a5a);
    return rc;
}

static void expect_conf_error(struct fx *f, const char *name, const struct nf_plugin *p,
                              int line, const char *n1, const char *n2)
{
    struct nf_strpool *pool = nf_strpool_new();
    struct tconf tc;
    int rc = apply(f, name, p, &tc, pool);
    nf_strpool_destroy(&pool);
    if (rc != -1)
        fail_msg("stage %s was accepted by %s", name, p->name);
    char where[PATH_MAX + 64];
    snprintf(where, sizeof(where), "%s:%d: ", f->path, line);
    if (line > 0 && strncmp(f->err, where, strlen(where)) != 0)
        fail_msg("expected the message to start with \"%s\": \"%s\"", where, f->err);
    if (n1)
        assert_has(f->err, n1);
    if (n2)
        assert_has(f->err, n2);
}

static const char *const conf_cfg =
    "stages = {\n"                             /* 1 */
    "  src = { plugin = \"t_source\"; };\n"    /* 2 */
    "  t = {\n"                                /* 3 */
    "    plugin = \"t_filter\";\n"             /* 4 */
    "    inputs = [\"src\"];\n"                /* 5 */
    "    target = \"here\";\n"                 /* 6 */
    "    label = \"news\";\n"                  /* 7 */
    "    db = \"store/x.db\";\n"               /* 8 */
    "    count = 42;\n"                        /* 9 */
    "    ratio = 0.25;\n"                      /* 10 */
    "    strict = true;\n"                     /* 11 */
    "    budget = \"8M\";\n"                   /* 12 */
    "  };\n"                                   /* 13 */
    "  d = { plugin = \"t_filter\"; inputs = [\"src\"]; target = \"there\"; };\n" /* 14 */
    "  e = { plugin = \"t_filter\"; inputs = [\"src\"]; target = \"x\"; ratio = 2;\n"
    "        budget = 1024; db = \"/abs/y.db\"; };\n" /* 16 */
    "};\n";

static void test_plugin_conf_values(void **state)
{
    struct fx *f = *state;
    write_cfg(f, "p.cfg", conf_cfg);
    load_ok(f, NULL, 0);
    struct nf_strpool *pool = nf_strpool_new();
    struct tconf tc;
    char want[PATH_MAX + 64];

    if (apply(f, "t", &t_filter, &tc, pool) != 0)
        fail_msg("%s", f->err);
    assert_string_equal(tc.target, "here");
    assert_string_equal(tc.label, "news");
    join(want, sizeof(want), f->dir, "store/x.db");
    assert_string_equal(tc.db, want);
    assert_int_equal(tc.count, 42);
    assert_true(tc.ratio == 0.25);
    assert_true(tc.strict);
    assert_int_equal(tc.budget, 8388608);

    /* defaults, a relative default path resolved against the config's directory */
    if (apply(f, "d", &t_filter, &tc, pool) != 0)
        fail_msg("%s", f->err);
    assert_string_equal(tc.target, "there");
    assert_string_equal(tc.label, "plain");
    join(want, sizeof(want), f->dir, "data/db.sqlite");
    assert_string_equal(tc.db, want);
    assert_int_equal(tc.count, 3);
    assert_true(tc.ratio == 0.5);
    assert_false(tc.strict);
    assert_int_equal(tc.budget, 65536);

    /* an integer where a number is expected, a size in bytes, an absolute path */
    if (apply(f, "e", &t_filter, &tc, pool) != 0)
        fail_msg("%s", f->err);
    assert_true(tc.ratio == 2.0);
    assert_int_equal(tc.budget, 1024);
    assert_string_equal(tc.db, "/abs/y.db");
    nf_strpool_destroy(&pool);

    /* values from --set are text, parsed by the option's type */
    char *sets[] = {"t.count=7", "t.strict=no", "t.ratio=0.125", "t.budget=2K", "t.db=rel.db",
                    "t.label=42"};
    load_ok(f, sets, 6);
    pool = nf_strpool_new();
    if (apply(f, "t", &t_filter, &tc, pool) != 0)
        fail_msg("%s", f->err);
    assert_int_equal(tc.count, 7);
    assert_false(tc.strict);
    assert_true(tc.ratio == 0.125);
    assert_int_equal(tc.budget, 2048);
    assert_string_equal(tc.label, "42");
    join(want, sizeof(want), f->dir, "rel.db");
    assert_string_equal(tc.db, want);
    nf_strpool_destroy(&pool);
}

static void test_plugin_conf_errors(void **state)
{
    struct fx *f = *state;
    write_cfg(f, "p.cfg",
              "stages = {\n"
              "  src = { plugin = \"t_source\"; };\n"
              "  t = {\n"
              "    plugin = \"t_filter\";\n"
              "    inputs = [\"src\"];\n"
              "    target = \"here\";\n"
              "    cuont = 4;\n"
              "  };\n"
              "};\n");
    load_ok(f, NULL, 0);
    /* a misspelt option: file:line, its name, the plugin's options and the stage keys */
    expect_conf_error(f, "t", &t_filter, 7, "unknown option 'cuont'", "t_filter");
    for (const struct nf_option *o = t_options; o->name; o++)
        assert_has(f->err, o->name);
    assert_has(f->err, "workers");
    /* on the command line, the --set names itself */
    write_cfg(f, "p2.cfg", conf_cfg);
    char *sets[] = {"t.lable=x"};
    load_ok(f, sets, 1);
    expect_conf_error(f, "t", &t_filter, 0, "unknown option 'lable'", NULL);
    if (strncmp(f->err, "--set t.lable=x: ", 17) != 0)
        fail_msg("expected the --set first: \"%s\"", f->err);

    /* wrong types, with the type expected */
    struct {
        const char *line, *name, *expect;
    } wrong[] = {
        {"count = \"abc\";", "'count'", "integer"},
        {"count = 1.5;", "'count'", "integer"},
        {"strict = 1;", "'strict'", "true or false"},
        {"ratio = \"half\";", "'ratio'", "number"},
        {"budget = true;", "'budget'", "size"},
        {"budget = \"8 parsecs\";", "'budget'", "size"},
        {"label = 5;", "'label'", "string"},
        {"db = false;", "'db'", "path"},
    };
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text),
                 "stages = {\n"
                 "  src = { plugin = \"t_source\"; };\n"
                 "  t = {\n"
                 "    plugin = \"t_filter\"; inputs = [\"src\"]; target = \"x\";\n"
                 "\n"
                 "    %s\n"
                 "  };\n"
                 "};\n",
                 wrong[i].line);
        write_cfg(f, "w.cfg", text);
        load_ok(f, NULL, 0);
        expect_conf_error(f, "t", &t_filter, 6, wrong[i].name, wrong[i].expect);
    }

    /* a required option that is missing: named, at the stage's line */
    write_cfg(f, "r.cfg",
              "stages = {\n"
              "  src = { plugin = \"t_source\"; };\n"
              "  t = {\n"
              "    plugin = \"t_filter\";\n"
              "    inputs = [\"src\"];\n"
              "  };\n"
              "};\n");
    load_ok(f, NULL, 0);
    expect_conf_error(f, "t", &t_filter, 3, "'target'", "Where the records go.");
    char *sets2[] = {"t.target=cli"};
    load_ok(f, sets2, 1);
    struct nf_strpool *pool = nf_strpool_new();
    struct tconf tc;
    if (apply(f, "t", &t_filter, &tc, pool) != 0)
        fail_msg("--set did not provide the required option: %s", f->err);
    assert_string_equal(tc.target, "cli");
    nf_strpool_destroy(&pool);
}

static void test_plugin_kind_errors(void **state)
{
    struct fx *f = *state;
    write_cfg(f, "k.cfg",
              "stages = {\n"
              "  src = { plugin = \"t_source\"; };\n"
              "  mid = { plugin = \"t_sink\"; inputs = [\"src\"]; };\n"
              "  after = { plugin = \"t_filter\"; inputs = [\"mid\"]; target = \"x\"; };\n"
              "};\n");
    load_ok(f, NULL, 0);
    /* a source given inputs */
    expect_conf_error(f, "mid", &t_source, 3, "source", "inputs");
    /* a filter without inputs */
    expect_conf_error(f, "src", &t_filter, 2, "t_filter", "inputs");
    /* a sink that another stage reads from */
    expect_conf_error(f, "mid", &t_sink, 3, "sink", "'after'");
    /* the right kinds in the right places pass */
    struct nf_strpool *pool = nf_strpool_new();
    struct tconf tc;
    assert_int_equal(apply(f, "src", &t_source, &tc, pool), 0);
    assert_int_equal(apply(f, "after", &t_sink, &tc, pool), -1); /* t_sink has no 'target' */
    assert_has(f->err, "'target'");
    nf_strpool_destroy(&pool);
}

/* ---- the plugins a config names ------------------------------------------------------------ */

static bool have_plugin(const char *name)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s.so", NF_PLUGIN_DIR, name);
    if (access(p, R_OK) == 0)
        return true;
    fprintf(stderr, "%s is missing: build it (cmake --build ... --target %s)\n", p, name);
    return false;
}

static void test_check_plugins(void **state)
{
    struct fx *f = *state;
    assert_true(have_plugin("tp_ok"));
    char text[2048];
    /* stages are checked in the order of the file: clean (tp_ok) first, then fetch */
    snprintf(text, sizeof(text),
             "plugin_dir = \"%s\";\n"
             "stages = {\n"
             "  clean = {\n"
             "    plugin = \"tp_ok\";\n"
             "    inputs = [\"fetch\"];\n"
             "    tag = \"t\";\n"
             "    budget = \"1M\";\n"
             "  };\n"
             "  fetch = {\n"
             "    plugin = \"tp_nope\";\n"
             "  };\n"
             "};\n",
             NF_PLUGIN_DIR);
    write_cfg(f, "c.cfg", text);
    load_ok(f, NULL, 0);
    assert_int_equal(nf_config_check_plugins(f->cfg, f->err, sizeof(f->err)), -1);
    char where[PATH_MAX + 64];
    snprintf(where, sizeof(where), "%s:9: ", f->path);
    if (strncmp(f->err, where, strlen(where)) != 0)
        fail_msg("expected \"%s\" first: \"%s\"", where, f->err);
    assert_has(f->err, "'fetch'");
    snprintf(where, sizeof(where), "%s/tp_nope.so", NF_PLUGIN_DIR);
    assert_has(f->err, where);

    /* the loaded plugin's own table is what options are checked against */
    char *sets[] = {"clean.tga=x"};
    load_ok(f, sets, 1);
    assert_int_equal(nf_config_check_plugins(f->cfg, f->err, sizeof(f->err)), -1);
    assert_has(f->err, "--set clean.tga=x");
    assert_has(f->err, "'tga'");
    assert_has(f->err, "tag, dir, times, ratio, loud, budget");
    char *sets2[] = {"clean.times=many"};
    load_ok(f, sets2, 1);
    assert_int_equal(nf_config_check_plugins(f->cfg, f->err, sizeof(f->err)), -1);
    assert_has(f->err, "'times'");
    assert_has(f->err, "integer");

    /* a filter where a source belongs */
    snprintf(text, sizeof(text),
             "plugin_dir = \"%s\";\n"
             "stages = {\n"
             "  fetch = { plugin = \"tp_pass\"; };\n"
             "};\n",
             NF_PLUGIN_DIR);
    write_cfg(f, "c2.cfg", text);
    load_ok(f, NULL, 0);
    assert_int_equal(nf_config_check_plugins(f->cfg, f->err, sizeof(f->err)), -1);
    snprintf(where, sizeof(where), "%s:3: ", f->path);
    if (strncmp(f->err, where, strlen(where)) != 0)
        fail_msg("expected \"%s\" first: \"%s\"", where, f->err);
    assert_has(f->err, "tp_pass");
    assert_has(f->err, "inputs");
}

/* ---- endpoints ----------------------------------------------------------------------------- */

static void test_endpoints_ipc(void **state)
{
    struct fx *f = *state;
    write_cfg(f, "e.cfg",
              "run_dir = \"/run/nf\";\n"
              "stages = {\n"
              "  fetch = { plugin = \"src\"; workers = 3; };\n"
              "  clean = { plugin = \"flt\"; inputs = [\"fetch\"]; };\n"
              "};\n");
    struct nf_config *c = load_ok(f, NULL, 0);
    char ep[256];
    assert_int_equal(nf_config_inbox(c, 1, false, true, ep, sizeof(ep)), 0);
    assert_string_equal(ep, "ipc:///run/nf/clean.in");
    assert_int_equal(nf_config_inbox(c, 1, false, false, ep, sizeof(ep)), 0);
    assert_string_equal(ep, "ipc:///run/nf/clean.in");
    assert_int_equal(nf_config_inbox(c, 1, true, false, ep, sizeof(ep)), 0);
    assert_string_equal(ep, "ipc:///run/nf/clean.out");
    assert_int_equal(nf_config_ack_endpoint(c, 0, 2, true, ep, sizeof(ep)), 0);
    assert_string_equal(ep, "ipc:///run/nf/fetch-2.ack");
    assert_int_equal(nf_config_ack_endpoint(c, 0, 0, false, ep, sizeof(ep)), 0);
    assert_string_equal(ep, "ipc:///run/nf/fetch-0.ack");
    /* too small a buffer is an error, not a truncated endpoint */
    char small[16];
    assert_int_equal(nf_config_inbox(c, 1, false, true, small, sizeof(small)), -1);
}

static void test_endpoints_tcp(void **state)
{
    struct fx *f = *state;
    write_cfg(f, "e.cfg",
              "insecure = true; stages = {\n"
              "  fetch = { plugin = \"src\"; ack_endpoint = \"tcp://ingest.example:9000\"; };\n"
              "  clean = { plugin = \"flt\"; inputs = [\"fetch\"];\n"
              "            endpoint = \"tcp://10.0.0.5:7000\"; };\n"
              "  top = { plugin = \"snk\"; inputs = [\"clean\"]; endpoint = \"tcp://h:65534\"; };\n"
              "  v6 = { plugin = \"snk\"; inputs = [\"clean\"]; endpoint = \"tcp://[::1]:6000\"; };\n"
              "};\n");
    struct nf_config *c = load_ok(f, NULL, 0);
    char ep[256];
    assert_int_equal(nf_config_inbox(c, 1, false, false, ep, sizeof(ep)), 0);
    assert_string_equal(ep, "tcp://10.0.0.5:7000");
    /* a bound socket listens on the address named, not on every interface */
    assert_int_equal(nf_config_inbox(c, 1, false, true, ep, sizeof(ep)), 0);
    assert_string_equal(ep, "tcp://10.0.0.5:7000");
    assert_int_equal(nf_config_inbox(c, 1, true, false, ep, sizeof(ep)), 0);
    assert_string_equal(ep, "tcp://10.0.0.5:7001");
    assert_int_equal(nf_config_inbox(c, 1, true, true, ep, sizeof(ep)), 0);
    assert_string_equal(ep, "tcp://10.0.0.5:7001");
    assert_int_equal(nf_config_ack_endpoint(c, 0, 0, false, ep, sizeof(ep)), 0);
    assert_string_equal(ep, "tcp://ingest.example:9000");
    assert_int_equal(nf_config_ack_endpoint(c, 0, 3, false, ep, sizeof(ep)), 0);
    assert_string_equal(ep, "tcp://ingest.example:9003");
    assert_int_equal(nf_config_ack_endpoint(c, 0, 3, true, ep, sizeof(ep)), 0);
    assert_string_equal(ep, "tcp://ingest.example:9003");
    /* the highest front port whose back end (port+1) still exists */
    assert_int_equal(nf_config_inbox(c, 2, true, true, ep, sizeof(ep)), 0);
    assert_string_equal(ep, "tcp://h:65535");
    assert_int_equal(nf_config_inbox(c, 3, true, false, ep, sizeof(ep)), 0);
    assert_string_equal(ep, "tcp://[::1]:6001");

    /* endpoints that cannot be built are refused when the config is read, with the stage's
     * line: port 65535 has no port+1 for the back end; no port; port 0 */
    char *sets0[] = {"top.endpoint=tcp://h:65535"};
    load_bad(f, sets0, 1, 5, NULL, "top", "65535", NULL);
    char *sets[] = {"clean.endpoint=tcp://nohost"};
    load_bad(f, sets, 1, 3, NULL, "clean", "PORT", NULL);
    char *sets2[] = {"clean.endpoint=tcp://h:0"};
    load_bad(f, sets2, 1, 3, NULL, "clean", "PORT", NULL);

    /* listen: the address bound when it differs from the one others connect to */
    char *sets3[] = {"clean.listen=0.0.0.0", "fetch.listen=127.0.0.1"};
    struct nf_config *l = load_ok(f, sets3, 2);
    assert_int_equal(nf_config_inbox(l, 1, false, true, ep, sizeof(ep)), 0);
    assert_string_equal(ep, "tcp://0.0.0.0:7000");
    assert_int_equal(nf_config_inbox(l, 1, true, true, ep, sizeof(ep)), 0);
    assert_string_equal(ep, "tcp://0.0.0.0:7001");
    assert_int_equal(nf_config_inbox(l, 1, false, false, ep, sizeof(ep)), 0);
    assert_string_equal(ep, "tcp://10.0.0.5:7000");
    assert_int_equal(nf_config_ack_endpoint(l, 0, 2, true, ep, sizeof(ep)), 0);
    assert_string_equal(ep, "tcp://127.0.0.1:9002");
    char *sets4[] = {"clean.listen=tcp://0.0.0.0:1"};
    load_bad(f, sets4, 1, 0, "--set clean.listen", "without scheme or port", NULL);
}

static void test_window_bytes(void **state)
{
    /* a source's window is bounded in bytes too: a size, 16M by default */
    struct fx *f = *state;
    write_cfg(f, "w.cfg",
              "stages = {\n"
              "  fetch = { plugin = \"src\"; };\n"
              "  top = { plugin = \"snk\"; inputs = [\"fetch\"]; };\n"
              "};\n");
    struct nf_config *c = load_ok(f, NULL, 0);
    assert_int_equal(c->stages[0].window_bytes, INT64_C(16) << 20);
    char *sets[] = {"fetch.window_bytes=8M"};
    c = load_ok(f, sets, 1);
    assert_int_equal(c->stages[0].window_bytes, INT64_C(8) << 20);
    char *bad[] = {"fetch.window_bytes=1K"};
    load_bad(f, bad, 1, 0, "--set fetch.window_bytes", "from 64K to 16G", NULL);
}

static void test_endpoints_port_garbage(void **state)
{
    /* "tcp://h:70x0" was read as port 70 (strtol stopped at the 'x'): a typo in a port must be
     * refused, not quietly become another port. */
    struct fx *f = *state;
    write_cfg(f, "e.cfg",
              "stages = {\n"
              "  fetch = { plugin = \"src\"; };\n"
              "  clean = { plugin = \"flt\"; inputs = [\"fetch\"]; endpoint = \"tcp://h:70x0\"; };\n"
              "};\n");
    load_bad(f, NULL, 0, 3, NULL, "clean", "endpoint", NULL);
}

static void test_endpoints_ipc_length(void **state)
{
    struct fx *f = *state;
    write_cfg(f, "e.cfg",
              "stages = {\n"
              "  s = { plugin = \"src\"; };\n"
              "  t = { plugin = \"flt\"; inputs = [\"s\"]; };\n"
              "};\n");
    /* run_dir + "/t.in" is exactly 107 bytes, the most a socket path holds; one more is too
     * long. The directory is real so that binding proves 107 is usable. */
    char run[PATH_MAX + 2];
    size_t want = 107 - strlen("/t.in");
    assert_true(strlen(f->dir) + 2 < want);
    strcpy(run, f->dir);
    strcat(run, "/");
    while (strlen(run) < want)
        strcat(run, "r");
    assert_int_equal(strlen(run), want);
    assert_int_equal(mkdir(run, 0700), 0);
    char set[PATH_MAX + 16];
    snprintf(set, sizeof(set), "run_dir=%s", run);
    char *sets[] = {set};
    /* "/t.in" fits in 107 bytes but "/t.out" and "/s-0.ack" do not: refused at load, with the
     * line of the first stage whose endpoint cannot be built */
    load_bad(f, sets, 1, 2, NULL, "107", "run_dir", NULL);
    /* shortening run_dir by the three bytes ".ack" needs over ".in" makes every endpoint fit */
    run[strlen(run) - 3] = '\0';
    snprintf(set, sizeof(set), "run_dir=%s", run);
    struct nf_config *c = load_ok(f, sets, 1);
    char ep[512];
    assert_int_equal(nf_config_inbox(c, 1, false, true, ep, sizeof(ep)), 0);
    assert_int_equal(nf_config_ack_endpoint(c, 0, 0, true, ep, sizeof(ep)), 0);
    assert_int_equal(strlen(ep), 6 + 107);
    mkdir(run, 0700);
    void *z = zmq_ctx_new();
    void *sock = zmq_socket(z, ZMQ_PULL);
    int rc = zmq_bind(sock, ep);
    if (rc != 0)
        fail_msg("bind %s: %s", ep, zmq_strerror(zmq_errno()));
    zmq_close(sock);
    zmq_ctx_term(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_valid_fan_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_valid_diamond, setup, teardown),
        cmocka_unit_test_setup_teardown(test_top_level_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syntax_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_top_level_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_top_level_wrong_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_stages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stage_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fused_stages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stage_int_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_scalar_option, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_substitution, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_unset_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_overrides, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_log_level_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plugin_conf_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plugin_conf_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plugin_kind_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_plugins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endpoints_ipc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endpoints_tcp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endpoints_port_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endpoints_ipc_length, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
