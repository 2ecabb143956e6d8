/* Tests of the dead-letter store (core/deadletter.c): what a put leaves in the SQLite file, read
 * back with sqlite3 directly; the same for the JSON-lines store, read back with jansson; the
 * listings a user prints; a store that cannot be opened; several writers on one file, as the
 * workers of a pipeline are; and replay into a stage's inbox, received on a real socket. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>
#include <zmq.h>

#include "config.h"
#include "deadletter.h"
#include "newsflow/record.h"

#define assert_has(hay, needle)                                                                \
    do {                                                                                       \
        if (!strstr((hay), (needle)))                                                          \
            fail_msg("expected \"%s\" in \"%s\"", (needle), (hay));                            \
    } while (0)

struct fx {
    char dir[PATH_MAX];
    char db[PATH_MAX + 32];
    char jl[PATH_MAX + 32];
    char err[1024];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    char tmpl[] = "/tmp/nf-dlq-XXXXXX";
    if (!mkdtemp(tmpl)) {
        free(f);
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "%s", tmpl);
    snprintf(f->db, sizeof(f->db), "%s/deadletter.db", f->dir);
    snprintf(f->jl, sizeof(f->jl), "%s/dl.jsonl", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", f->dir);
    free(f);
    return 0;
}

static void put_ok(struct fx *f, struct nf_dlq *d, const char *id, const char *src,
                   const char *stage, int worker, int64_t attempt, const char *error,
                   const void *bytes, size_t n)
{
    f->err[0] = '\0';
    if (nf_dlq_put(d, id, src, stage, worker, attempt, error, bytes, n, f->err,
                   sizeof(f->err)) != 0)
        fail_msg("put %s refused: %s", id ? id : "(no id)", f->err);
}

static int64_t count_rows(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM dead_letters", -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

/* Asserts a text column: NULL when `want` is NULL. */
static void assert_text(sqlite3_stmt *s, int col, const char *want)
{
    if (!want) {
        if (sqlite3_column_type(s, col) != SQLITE_NULL)
            fail_msg("column %d: expected NULL, got \"%s\"", col, sqlite3_column_text(s, col));
        return;
    }
    assert_int_equal(sqlite3_column_type(s, col), SQLITE_TEXT);
    assert_string_equal((const char *)sqlite3_column_text(s, col), want);
}

static void test_put_and_read_back(void **state)
{
    struct fx *f = *state;
    struct nf_dlq *d = nf_dlq_new(f->db);
    assert_non_null(d);
    /* nothing is created before the first put */
    assert_int_equal(access(f->db, F_OK), -1);

    const unsigned char raw[] = {'<', 'p', '>', 0x00, 0xff, 0xfe, '\n', 'x'};
    put_ok(f, d, "a1", "file:///in/a1.html", "clean", 2, 1, "invalid UTF-8 at byte 4", raw,
           sizeof(raw));
    assert_int_equal(access(f->db, F_OK), 0);
    put_ok(f, d, NULL, NULL, NULL, 0, 0, NULL, NULL, 0);
    put_ok(f, d, "b2", "s3://bucket/b2", "store", 7, 5, "disk full", "", 0);
    nf_dlq_destroy(&d);
    assert_null(d);
    nf_dlq_destroy(&d); /* accepts NULL */

    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT id, source_uri, stage, worker, attempt, error,"
                                        " record, at FROM dead_letters ORDER BY n",
                                        -1, &s, NULL),
                     SQLITE_OK);

    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_text(s, 0, "a1");
    assert_text(s, 1, "file:///in/a1.html");
    assert_text(s, 2, "clean");
    assert_int_equal(sqlite3_column_int(s, 3), 2);
    assert_int_equal(sqlite3_column_int64(s, 4), 1);
    assert_text(s, 5, "invalid UTF-8 at byte 4");
    assert_int_equal(sqlite3_column_type(s, 6), SQLITE_BLOB);
    assert_int_equal(sqlite3_column_bytes(s, 6), sizeof(raw));
    assert_memory_equal(sqlite3_column_blob(s, 6), raw, sizeof(raw));
    /* when: an ISO-8601 UTC time such as 2026-01-02T03:04:05.678Z */
    const char *at = (const char *)sqlite3_column_text(s, 7);
    assert_non_null(at);
    assert_int_equal(strlen(at), 24);
    assert_int_equal(at[10], 'T');
    assert_int_equal(at[23], 'Z');

    /* every text may be missing; the error then still says something */
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_text(s, 0, NULL);
    assert_text(s, 1, NULL);
    assert_text(s, 2, NULL);
    assert_int_equal(sqlite3_column_int(s, 3), 0);
    assert_int_equal(sqlite3_column_int64(s, 4), 0);
    assert_int_equal(sqlite3_column_type(s, 5), SQLITE_TEXT);
    assert_true(sqlite3_column_bytes(s, 5) > 0);
    assert_int_equal(sqlite3_column_type(s, 6), SQLITE_NULL);

    /* bytes of length zero are an empty record, not a missing one */
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_text(s, 0, "b2");
    assert_int_equal(sqlite3_column_int(s, 3), 7);
    assert_int_equal(sqlite3_column_int64(s, 4), 5);
    assert_int_equal(sqlite3_column_type(s, 6), SQLITE_BLOB);
    assert_int_equal(sqlite3_column_bytes(s, 6), 0);

    assert_int_equal(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static void test_put_large_attempt_and_record(void **state)
{
    struct fx *f = *state;
    struct nf_dlq *d = nf_dlq_new(f->db);
    size_t n = 3 << 20;
    unsigned char *big = malloc(n);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (unsigned char)(i * 31 + 7);
    put_ok(f, d, "big", "src", "fetch", 0, INT64_MAX, "too large", big, n);
    nf_dlq_destroy(&d);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT attempt, record FROM dead_letters", -1, &s, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_true(sqlite3_column_int64(s, 0) == INT64_MAX);
    assert_int_equal(sqlite3_column_bytes(s, 1), (int)n);
    assert_memory_equal(sqlite3_column_blob(s, 1), big, n);
    sqlite3_finalize(s);
    sqlite3_close(db);
    free(big);
}

/* Runs nf_dlq_list on path into a string; returns its result. */
static int list_to(const char *path, char **out, char *err, size_t errlen)
{
    size_t len = 0;
    FILE *mem = open_memstream(out, &len);
    assert_non_null(mem);
    int rc = nf_dlq_list(path, mem, err, errlen);
    assert_int_equal(fclose(mem), 0);
    return rc;
}

static void test_list(void **state)
{
    struct fx *f = *state;
    struct nf_dlq *d = nf_dlq_new(f->db);
    put_ok(f, d, "a1", "file:///in/a1.html", "clean", 2, 1, "invalid UTF-8 at byte 4", "abc", 3);
    put_ok(f, d, "b2", "s3://bucket/b2", "store", 0, 3, "disk full", NULL, 0);
    char *out = NULL;
    /* the listing works while a writer still has the store open */
    assert_int_equal(list_to(f->db, &out, f->err, sizeof(f->err)), 2);
    assert_has(out, "a1");
    assert_has(out, "clean");
    assert_has(out, "invalid UTF-8 at byte 4");
    assert_has(out, "file:///in/a1.html");
    assert_has(out, "b2");
    assert_has(out, "disk full");
    assert_has(out, "s3://bucket/b2");
    /* in the order they were put */
    assert_true(strstr(out, "a1") < strstr(out, "b2"));
    free(out);
    nf_dlq_destroy(&d);

    out = NULL;
    assert_int_equal(list_to(f->db, &out, f->err, sizeof(f->err)), 2);
    free(out);
}

static void test_list_missing_fields(void **state)
{
    /* A dead letter may lack any text (the header says so); the listing printed the NULL stage
     * with "%s", which glibc renders as "(null)" and which is undefined behaviour. */
    struct fx *f = *state;
    struct nf_dlq *d = nf_dlq_new(f->db);
    put_ok(f, d, NULL, NULL, NULL, 1, 1, NULL, NULL, 0);
    nf_dlq_destroy(&d);
    char *out = NULL;
    assert_int_equal(list_to(f->db, &out, f->err, sizeof(f->err)), 1);
    if (strstr(out, "(null)"))
        fail_msg("the listing prints a missing field as (null):\n%s", out);
    free(out);
}

static void test_list_errors(void **state)
{
    struct fx *f = *state;
    char *out = NULL;
    /* no store yet: nothing was ever dead-lettered, 0 rows, and listing does not create one */
    f->err[0] = '\0';
    assert_int_equal(list_to(f->db, &out, f->err, sizeof(f->err)), 0);
    assert_int_equal(access(f->db, F_OK), -1);
    free(out);
    /* a file that is not a dead-letter store */
    char other[PATH_MAX + 32];
    snprintf(other, sizeof(other), "%s/other.db", f->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    out = NULL;
    f->err[0] = '\0';
    assert_int_equal(list_to(other, &out, f->err, sizeof(f->err)), -1);
    assert_has(f->err, other);
    free(out);
}

static void test_put_in_missing_directory(void **state)
{
    struct fx *f = *state;
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/not/yet/dl.db", f->dir);
    struct nf_dlq *d = nf_dlq_new(path);
    assert_non_null(d);
    f->err[0] = '\0';
    assert_int_equal(nf_dlq_put(d, "a1", "src", "clean", 0, 1, "bad", "x", 1, f->err,
                                sizeof(f->err)),
                     -1);
    assert_has(f->err, path);
    /* the record is not acknowledged and comes back: once the directory exists, it is stored */
    char sub[PATH_MAX + 64];
    snprintf(sub, sizeof(sub), "%s/not", f->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(sub, sizeof(sub), "%s/not/yet", f->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    put_ok(f, d, "a1", "src", "clean", 0, 2, "bad", "x", 1);
    nf_dlq_destroy(&d);
    assert_int_equal(count_rows(path), 1);
}

static void test_put_on_a_directory(void **state)
{
    struct fx *f = *state;
    struct nf_dlq *d = nf_dlq_new(f->dir); /* a directory, not a file */
    f->err[0] = '\0';
    assert_int_equal(nf_dlq_put(d, "a1", "src", "clean", 0, 1, "bad", NULL, 0, f->err,
                                sizeof(f->err)),
                     -1);
    assert_has(f->err, f->dir);
    nf_dlq_destroy(&d);
}

static void test_two_handles_one_file(void **state)
{
    struct fx *f = *state;
    struct nf_dlq *a = nf_dlq_new(f->db), *b = nf_dlq_new(f->db);
    for (int i = 0; i < 20; i++) {
        char id[32];
        snprintf(id, sizeof(id), "a-%d", i);
        put_ok(f, a, id, "src", "clean", 0, 1, "from a", NULL, 0);
        snprintf(id, sizeof(id), "b-%d", i);
        put_ok(f, b, id, "src", "store", 1, 1, "from b", "b", 1);
    }
    nf_dlq_destroy(&a);
    nf_dlq_destroy(&b);
    assert_int_equal(count_rows(f->db), 40);
}

static void test_two_processes_one_file(void **state)
{
    /* Workers are processes: each has its own handle and they write at the same time. */
    struct fx *f = *state;
    enum { WRITERS = 3, EACH = 40 };
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0) {
            struct nf_dlq *d = nf_dlq_new(f->db);
            char err[512];
            int bad = 0;
            for (int i = 0; i < EACH && d; i++) {
                char id[32];
                snprintf(id, sizeof(id), "w%d-%d", w, i);
                if (nf_dlq_put(d, id, "src", "clean", w, 1, "failed", id, strlen(id), err,
                               sizeof(err)) != 0) {
                    fprintf(stderr, "writer %d: %s\n", w, err);
                    bad = 1;
                    break;
                }
            }
            nf_dlq_destroy(&d);
            _exit(bad);
        }
    }
    for (int w = 0; w < WRITERS; w++) {
        int st = 0;
        assert_int_equal(waitpid(pids[w], &st, 0), pids[w]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    assert_int_equal(count_rows(f->db), WRITERS * EACH);
    /* every writer's rows are all there */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT worker, count(DISTINCT id) FROM dead_letters"
                                        " GROUP BY worker ORDER BY worker",
                                        -1, &s, NULL),
                     SQLITE_OK);
    for (int w = 0; w < WRITERS; w++) {
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(s, 0), w);
        assert_int_equal(sqlite3_column_int(s, 1), EACH);
    }
    assert_int_equal(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    sqlite3_close(db);
}


/* ---- JSON lines ------------------------------------------------------------------------------ */

/* The file's lines, each parsed; fails the test on a line that is not whole JSON. */
static json_t **read_lines(const char *path, size_t *n_out)
{
    FILE *in = fopen(path, "r");
    assert_non_null(in);
    json_t **v = NULL;
    size_t n = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, in)) > 0) {
        if (line[len - 1] != '\n')
            fail_msg("line %zu of %s does not end with a newline", n + 1, path);
        json_error_t e;
        json_t *o = json_loadb(line, (size_t)len, 0, &e);
        if (!o)
            fail_msg("line %zu of %s is not JSON (%s): %.80s", n + 1, path, e.text, line);
        v = realloc(v, (n + 1) * sizeof(*v));
        assert_non_null(v);
        v[n++] = o;
    }
    free(line);
    fclose(in);
    *n_out = n;
    return v;
}

static void free_lines(json_t **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_decref(v[i]);
    free(v);
}

/* Collects what a scan visits, with copies of everything. */
struct seen {
    struct nf_dead_letter dl[512];
    char *text[512][7];
    void *record[512];
    int n;
};

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int collect(void *arg, const struct nf_dead_letter *dl)
{
    struct seen *S = arg;
    assert_true(S->n < 512);
    int i = S->n++;
    S->dl[i] = *dl;
    const char *t[7] = {dl->at, dl->id, dl->source_uri, dl->stage, dl->error, dl->replayed_at};
    const char **dst[7] = {&S->dl[i].at,    &S->dl[i].id,    &S->dl[i].source_uri,
                           &S->dl[i].stage, &S->dl[i].error, &S->dl[i].replayed_at};
    for (int k = 0; k < 6; k++)
        *dst[k] = S->text[i][k] = dup_or_null(t[k]);
    S->record[i] = NULL;
    if (dl->record) {
        S->record[i] = malloc(dl->record_len + 1);
        assert_non_null(S->record[i]);
        memcpy(S->record[i], dl->record, dl->record_len);
        S->dl[i].record = S->record[i];
    }
    return 0;
}

static struct seen *scan_all(struct fx *f, const char *path, int expect)
{
    struct seen *S = calloc(1, sizeof(*S));
    assert_non_null(S);
    f->err[0] = '\0';
    int rc = nf_dlq_scan(path, collect, S, f->err, sizeof(f->err));
    if (rc != expect)
        fail_msg("scan of %s gave %d, expected %d: %s", path, rc, expect, f->err);
    assert_int_equal(S->n, expect);
    return S;
}

static void seen_free(struct seen *S)
{
    for (int i = 0; i < S->n; i++) {
        for (int k = 0; k < 6; k++)
            free(S->text[i][k]);
        free(S->record[i]);
    }
    free(S);
}

static void assert_str_or_null(const char *got, const char *want)
{
    if (!want) {
        if (got)
            fail_msg("expected NULL, got \"%s\"", got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
}

static void test_jsonl_put_and_read_back(void **state)
{
    struct fx *f = *state;
    struct nf_dlq *d = nf_dlq_new(f->jl);
    assert_non_null(d);
    assert_int_equal(access(f->jl, F_OK), -1); /* nothing before the first put */
    const unsigned char raw[] = {'<', 'p', '>', 0x00, 0xff, 0xfe, '\n', 'x', '"', '\\'};
    put_ok(f, d, "a1", "file:///in/a1.html", "clean", 2, 1, "invalid \"UTF-8\"\nat byte 4", raw,
           sizeof(raw));
    put_ok(f, d, NULL, NULL, NULL, 0, 0, NULL, NULL, 0);
    put_ok(f, d, "b2", "s3://bucket/b2", "store", 7, INT64_MAX, "disk full", "", 0);
    nf_dlq_destroy(&d);

    /* what is in the file: one JSON object a line, with the documented keys */
    size_t n = 0;
    json_t **lines = read_lines(f->jl, &n);
    assert_int_equal(n, 3);
    json_t *o = lines[0];
    assert_string_equal(json_string_value(json_object_get(o, "id")), "a1");
    assert_string_equal(json_string_value(json_object_get(o, "source_uri")), "file:///in/a1.html");
    assert_string_equal(json_string_value(json_object_get(o, "stage")), "clean");
    assert_int_equal(json_integer_value(json_object_get(o, "worker")), 2);
    assert_int_equal(json_integer_value(json_object_get(o, "attempt")), 1);
    assert_string_equal(json_string_value(json_object_get(o, "error")),
                        "invalid \"UTF-8\"\nat byte 4");
    /* base64 of the bytes, as any base64 decoder reads it */
    assert_string_equal(json_string_value(json_object_get(o, "record")), "PHA+AP/+CngiXA==");
    const char *at = json_string_value(json_object_get(o, "at"));
    assert_non_null(at);
    assert_int_equal(strlen(at), 24);
    assert_int_equal(at[10], 'T');
    assert_int_equal(at[23], 'Z');
    /* missing texts are null; the error still says something; no bytes is null, not "" */
    o = lines[1];
    assert_true(json_is_null(json_object_get(o, "id")));
    assert_true(json_is_null(json_object_get(o, "source_uri")));
    assert_true(json_is_null(json_object_get(o, "stage")));
    assert_true(json_is_null(json_object_get(o, "record")));
    assert_true(json_string_length(json_object_get(o, "error")) > 0);
    o = lines[2];
    assert_string_equal(json_string_value(json_object_get(o, "record")), "");
    assert_true(json_integer_value(json_object_get(o, "attempt")) == INT64_MAX);
    free_lines(lines, n);

    /* and read back through the store's own reader: the same dead letters */
    struct seen *S = scan_all(f, f->jl, 3);
    assert_int_equal(S->dl[0].n, 1);
    assert_str_or_null(S->dl[0].id, "a1");
    assert_str_or_null(S->dl[0].stage, "clean");
    assert_int_equal(S->dl[0].worker, 2);
    assert_int_equal(S->dl[0].record_len, sizeof(raw));
    assert_memory_equal(S->dl[0].record, raw, sizeof(raw));
    assert_null(S->dl[0].replayed_at);
    assert_false(S->dl[0].damaged);
    assert_null(S->dl[1].id);
    assert_null(S->dl[1].source_uri);
    assert_null(S->dl[1].record);
    assert_non_null(S->dl[2].record); /* an empty record is kept as one */
    assert_int_equal(S->dl[2].record_len, 0);
    assert_true(S->dl[2].attempt == INT64_MAX);
    seen_free(S);
}

static void test_jsonl_not_utf8(void **state)
{
    /* A file name in Latin-1 is not UTF-8; JSON must be: the line stays valid and readable. */
    struct fx *f = *state;
    struct nf_dlq *d = nf_dlq_new(f->jl);
    put_ok(f, d, "c3", "file:///in/caf\xe9.txt", "fetch", 0, 1, "cannot read caf\xe9.txt", NULL,
           0);
    nf_dlq_destroy(&d);
    struct seen *S = scan_all(f, f->jl, 1);
    assert_str_or_null(S->dl[0].source_uri, "file:///in/caf\xEF\xBF\xBD.txt");
    assert_str_or_null(S->dl[0].error, "cannot read caf\xEF\xBF\xBD.txt");
    seen_free(S);
}

static void test_jsonl_big_record(void **state)
{
    struct fx *f = *state;
    struct nf_dlq *d = nf_dlq_new(f->jl);
    size_t n = (3 << 20) + 1; /* not a multiple of 3: base64 padding */
    unsigned char *big = malloc(n);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (unsigned char)(i * 31 + 7);
    put_ok(f, d, "small", "src", "clean", 0, 1, "first", "x", 1);
    put_ok(f, d, "big", "src", "fetch", 0, 1, "too large", big, n);
    put_ok(f, d, "after", "src", "clean", 0, 1, "last", "y", 1);
    nf_dlq_destroy(&d);
    struct seen *S = scan_all(f, f->jl, 3);
    assert_str_or_null(S->dl[1].id, "big");
    assert_int_equal(S->dl[1].record_len, n);
    assert_memory_equal(S->dl[1].record, big, n);
    assert_str_or_null(S->dl[2].id, "after");
    assert_int_equal(S->dl[2].n, 3);
    seen_free(S);
    free(big);
}

static void test_jsonl_concurrent_writers(void **state)
{
    /* Processes appending at once, with lines under and far over PIPE_BUF: every line whole. */
    struct fx *f = *state;
    enum { WRITERS = 4, EACH = 100 };
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0) {
            struct nf_dlq *d = nf_dlq_new(f->jl);
            char err[512], id[32];
            size_t big = 20000;
            char *bytes = malloc(big);
            int bad = !d || !bytes;
            for (int i = 0; i < EACH && !bad; i++) {
                snprintf(id, sizeof(id), "w%d-%d", w, i);
                size_t n = i % 3 == 0 ? big - (size_t)i : (size_t)i; /* > and < PIPE_BUF */
                memset(bytes, 'a' + w, n);
                if (nf_dlq_put(d, id, "src", "clean", w, i, "failed", bytes, n, err,
                               sizeof(err)) != 0) {
                    fprintf(stderr, "writer %d: %s\n", w, err);
                    bad = 1;
                }
            }
            free(bytes);
            nf_dlq_destroy(&d);
            _exit(bad);
        }
    }
    for (int w = 0; w < WRITERS; w++) {
        int st = 0;
        assert_int_equal(waitpid(pids[w], &st, 0), pids[w]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    size_t n = 0;
    json_t **lines = read_lines(f->jl, &n); /* fails on any torn or glued line */
    assert_int_equal(n, WRITERS * EACH);
    free_lines(lines, n);
    /* each writer's records all there, each with its own bytes */
    int per[WRITERS] = {0};
    char *out = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&out, &len);
    assert_int_equal(nf_dlq_list_json(f->jl, m, f->err, sizeof(f->err)), WRITERS * EACH);
    fclose(m);
    FILE *in = fmemopen(out, len, "r");
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, in) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        assert_non_null(o);
        int w = (int)json_integer_value(json_object_get(o, "worker"));
        int i = (int)json_integer_value(json_object_get(o, "attempt"));
        assert_true(w >= 0 && w < WRITERS);
        char want[32];
        snprintf(want, sizeof(want), "w%d-%d", w, i);
        assert_string_equal(json_string_value(json_object_get(o, "id")), want);
        /* base64 length gives the byte count back */
        size_t b64 = json_string_length(json_object_get(o, "record"));
        size_t nbytes = i % 3 == 0 ? 20000 - (size_t)i : (size_t)i;
        assert_int_equal(b64, (nbytes + 2) / 3 * 4);
        per[w]++;
        json_decref(o);
    }
    free(line);
    fclose(in);
    free(out);
    for (int w = 0; w < WRITERS; w++)
        assert_int_equal(per[w], EACH);
}

static void test_jsonl_damaged_lines(void **state)
{
    /* A line that is not JSON (edited by hand, or torn by a writer killed mid-write) is reported,
     * not fatal; the next put starts on a line of its own. */
    struct fx *f = *state;
    struct nf_dlq *d = nf_dlq_new(f->jl);
    put_ok(f, d, "a1", "src", "clean", 0, 1, "first", "x", 1);
    FILE *raw = fopen(f->jl, "a");
    assert_non_null(raw);
    fputs("not json at all\n{\"at\":\"x\",\"id\":\"torn", raw);
    fclose(raw);
    put_ok(f, d, "a2", "src", "clean", 0, 1, "second", "y", 1);
    nf_dlq_destroy(&d);
    struct seen *S = scan_all(f, f->jl, 4);
    assert_false(S->dl[0].damaged);
    assert_true(S->dl[1].damaged);
    assert_int_equal(S->dl[1].n, 2);
    assert_has(S->dl[1].error, "line 2");
    assert_true(S->dl[2].damaged);
    assert_false(S->dl[3].damaged);
    assert_str_or_null(S->dl[3].id, "a2");
    assert_int_equal(S->dl[3].n, 4);
    seen_free(S);
    char *out = NULL;
    assert_int_equal(list_to(f->jl, &out, f->err, sizeof(f->err)), 4);
    assert_has(out, "damaged");
    assert_has(out, "second");
    free(out);
}

static void test_jsonl_errors(void **state)
{
    struct fx *f = *state;
    char *out = NULL;
    /* no store yet: 0 rows, and listing creates nothing */
    assert_int_equal(list_to(f->jl, &out, f->err, sizeof(f->err)), 0);
    assert_int_equal(access(f->jl, F_OK), -1);
    free(out);
    /* a missing directory: refused with the path, stored once it exists */
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/later/dl.jsonl", f->dir);
    struct nf_dlq *d = nf_dlq_new(path);
    f->err[0] = '\0';
    assert_int_equal(nf_dlq_put(d, "a1", "src", "clean", 0, 1, "bad", "x", 1, f->err,
                                sizeof(f->err)),
                     -1);
    assert_has(f->err, path);
    char sub[PATH_MAX + 64];
    snprintf(sub, sizeof(sub), "%s/later", f->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    put_ok(f, d, "a1", "src", "clean", 0, 2, "bad", "x", 1);
    nf_dlq_destroy(&d);
    struct seen *S = scan_all(f, path, 1);
    seen_free(S);
    /* a directory in the way */
    snprintf(path, sizeof(path), "%s/dir.jsonl", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    d = nf_dlq_new(path);
    f->err[0] = '\0';
    assert_int_equal(nf_dlq_put(d, "a1", "src", "clean", 0, 1, "bad", NULL, 0, f->err,
                                sizeof(f->err)),
                     -1);
    assert_has(f->err, path);
    nf_dlq_destroy(&d);
}

/* Marks: both stores say when a dead letter was replayed; JSON-lines markers are not dead
 * letters themselves, and the latest of several marks is the one shown. */
static void check_marks(struct fx *f, const char *path)
{
    struct nf_dlq *d = nf_dlq_new(path);
    put_ok(f, d, "a1", "src", "clean", 0, 1, "one", "x", 1);
    put_ok(f, d, "a2", "src", "clean", 0, 1, "two", "y", 1);
    put_ok(f, d, "a3", "src", "clean", 0, 1, "three", "z", 1);
    struct seen *S = scan_all(f, path, 3);
    int64_t ns[2] = {S->dl[0].n, S->dl[2].n};
    seen_free(S);
    assert_int_equal(nf_dlq_mark_replayed(d, ns, 2, f->err, sizeof(f->err)), 0);
    S = scan_all(f, path, 3);
    assert_non_null(S->dl[0].replayed_at);
    assert_null(S->dl[1].replayed_at);
    assert_non_null(S->dl[2].replayed_at);
    char first[64];
    snprintf(first, sizeof(first), "%s", S->dl[0].replayed_at);
    assert_int_equal(strlen(first), 24);
    seen_free(S);
    /* dead letters put after a mark keep their numbers apart from the marks' */
    put_ok(f, d, "a4", "src", "clean", 0, 1, "four", "w", 1);
    struct timespec pause = {0, 5 * 1000 * 1000};
    nanosleep(&pause, NULL);
    assert_int_equal(nf_dlq_mark_replayed(d, ns, 1, f->err, sizeof(f->err)), 0);
    S = scan_all(f, path, 4);
    assert_true(strcmp(S->dl[0].replayed_at, first) > 0); /* marked again: the later time */
    assert_str_or_null(S->dl[3].id, "a4");
    assert_null(S->dl[3].replayed_at);
    seen_free(S);
    char *out = NULL;
    assert_int_equal(list_to(path, &out, f->err, sizeof(f->err)), 4);
    assert_has(out, "replayed ");
    free(out);
    nf_dlq_destroy(&d);
}

struct newest {
    int64_t n[32];
    int count;
    bool had_record;
};

static int see(void *arg, const struct nf_dead_letter *dl)
{
    struct newest *w = arg;
    if (w->count < 32)
        w->n[w->count++] = dl->n;
    w->had_record |= dl->record != NULL;
    assert_non_null(dl->error);
    return 0;
}

/* The status page's view: only the newest dead letters, oldest of them first, without their
 * bytes, and how many there are in all; a missing store has none. */
static void check_latest(struct fx *f, const char *path)
{
    struct newest w = {{0}, 0, false};
    assert_int_equal(nf_dlq_latest(path, 10, see, &w, f->err, sizeof(f->err)), 0);
    assert_int_equal(w.count, 0);
    struct nf_dlq *d = nf_dlq_new(path);
    for (int i = 1; i <= 15; i++) {
        char id[33], why[32];
        snprintf(id, sizeof(id), "%032d", i);
        snprintf(why, sizeof(why), "reason %d", i);
        put_ok(f, d, id, "file:///in/x.txt", "clean", 0, 1, why, "\x81\xa1x\x01", 4);
    }
    nf_dlq_destroy(&d);
    assert_int_equal(nf_dlq_latest(path, 10, see, &w, f->err, sizeof(f->err)), 15);
    assert_int_equal(w.count, 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(w.n[i], 6 + i);
    assert_false(w.had_record);
    w.count = 0;
    assert_int_equal(nf_dlq_latest(path, 100, see, &w, f->err, sizeof(f->err)), 15);
    assert_int_equal(w.count, 15);
    assert_int_equal(w.n[0], 1);
}

static void test_latest_sqlite(void **state)
{
    struct fx *f = *state;
    check_latest(f, f->db);
}

static void test_latest_jsonl(void **state)
{
    struct fx *f = *state;
    check_latest(f, f->jl);
}

static void test_mark_replayed_sqlite(void **state)
{
    struct fx *f = *state;
    check_marks(f, f->db);
}

static void test_mark_replayed_jsonl(void **state)
{
    struct fx *f = *state;
    check_marks(f, f->jl);
}

static void test_list_json(void **state)
{
    /* The machine-readable listing reads the same from both stores and gives the bytes back. */
    struct fx *f = *state;
    const char *paths[2] = {f->db, f->jl};
    for (int p = 0; p < 2; p++) {
        struct nf_dlq *d = nf_dlq_new(paths[p]);
        const unsigned char raw[] = {0x81, 0xa1, 'v', 0x01, 0x00};
        put_ok(f, d, "a1", "file:///a1", "clean", 1, 2, "bad", raw, sizeof(raw));
        put_ok(f, d, NULL, NULL, NULL, 0, 0, NULL, NULL, 0);
        nf_dlq_destroy(&d);
        char *out = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&out, &len);
        assert_int_equal(nf_dlq_list_json(paths[p], m, f->err, sizeof(f->err)), 2);
        fclose(m);
        char *nl = strchr(out, '\n');
        assert_non_null(nl);
        json_t *o = json_loadb(out, (size_t)(nl - out), 0, NULL);
        assert_non_null(o);
        assert_string_equal(json_string_value(json_object_get(o, "id")), "a1");
        assert_string_equal(json_string_value(json_object_get(o, "stage")), "clean");
        assert_string_equal(json_string_value(json_object_get(o, "record")), "gaF2AQA=");
        assert_true(json_is_null(json_object_get(o, "replayed_at")));
        assert_true(json_is_integer(json_object_get(o, "n")));
        json_decref(o);
        o = json_loads(nl + 1, 0, NULL);
        assert_non_null(o);
        assert_true(json_is_null(json_object_get(o, "id")));
        assert_true(json_is_null(json_object_get(o, "record")));
        json_decref(o);
        free(out);
    }
}

/* ---- replay ---------------------------------------------------------------------------------- */

static void encode_record(struct nf_buf *buf, const char *id, bool delivery)
{
    struct nf_record *r = nf_record_new();
    assert_non_null(r);
    nf_record_set_int(r, NF_F_V, NF_RECORD_VERSION);
    nf_record_set_cstr(r, NF_F_ID, id);
    nf_record_set_source(r, "file:///in/x.txt", "file");
    nf_record_set_cstr(r, NF_F_TEXT, "Advertisement");
    if (delivery) {
        nf_record_set_cstr(r, NF_F_ACK_TO, "ipc:///nowhere/fetch-0.ack");
        nf_record_set_int(r, NF_F_SEQ, 42);
        nf_record_set_int(r, NF_F_ATTEMPT, 3);
    }
    buf->len = 0;
    assert_int_equal(nf_record_encode(r, buf), 0);
    nf_record_destroy(&r);
}

static struct nf_config *replay_config(struct fx *f, const char *deadletter)
{
    char cfgpath[PATH_MAX + 32], text[4 * PATH_MAX];
    snprintf(cfgpath, sizeof(cfgpath), "%s/p.cfg", f->dir);
    snprintf(text, sizeof(text),
             "state_dir = \"%s/var\";\n"
             "deadletter = \"%s\";\n"
             "stages = {\n"
             "  fetch = { plugin = \"fetch_dir\"; path = \"%s\"; };\n"
             "  clean = { plugin = \"clean_text\"; inputs = [\"fetch\"]; };\n"
             "  store = { plugin = \"store_jsonl\"; inputs = [\"clean\"]; path = \"%s/o\"; };\n"
             "};\n",
             f->dir, deadletter, f->dir, f->dir);
    FILE *c = fopen(cfgpath, "w");
    assert_non_null(c);
    fputs(text, c);
    fclose(c);
    struct nf_config *cfg = nf_config_load(cfgpath, NULL, 0, f->err, sizeof(f->err));
    if (!cfg)
        fail_msg("config: %s", f->err);
    char run[PATH_MAX + 32];
    snprintf(run, sizeof(run), "%s/var", f->dir);
    mkdir(run, 0700);
    snprintf(run, sizeof(run), "%s/var/run", f->dir);
    mkdir(run, 0700);
    return cfg;
}

/* Replays into an inbox this test binds, as the running pipeline's clean worker would. */
static void check_replay(struct fx *f, const char *path)
{
    struct nf_config *cfg = replay_config(f, path);
    struct nf_buf rec = {0};
    struct nf_dlq *d = nf_dlq_new(path);
    encode_record(&rec, "0123456789abcdef0123456789abcdef", true);
    put_ok(f, d, "0123456789abcdef0123456789abcdef", "file:///in/x.txt", "clean", 0, 3,
           "no text left after cleaning", rec.data, rec.len);
    /* a source's dead letter (never acknowledged) goes to its consumer, clean */
    encode_record(&rec, "fedcba9876543210fedcba9876543210", true);
    put_ok(f, d, "fedcba9876543210fedcba9876543210", "file:///in/y.txt", "fetch", 0, 5,
           "not acknowledged after 5 attempts", rec.data, rec.len);
    put_ok(f, d, "1111", "file:///in/empty.txt", "fetch", 0, 0, "empty.txt is empty", NULL, 0);
    put_ok(f, d, "2222", "file:///in/raw.txt", "fetch", 0, 0, "binary", "\x00\x01garbage", 9);
    put_ok(f, d, "3333", "file:///in/z.txt", "renamed", 0, 0, "old stage", rec.data, rec.len);
    nf_dlq_destroy(&d);

    void *zctx = zmq_ctx_new();
    char ep[PATH_MAX];
    /* clean's inbox is ipc, so its worker 0 binds its own (nf_config_direct) */
    assert_true(nf_config_direct(cfg, nf_config_stage_index(cfg, "clean")));
    assert_int_equal(nf_config_worker_inbox(cfg, nf_config_stage_index(cfg, "clean"), 0, ep,
                                            sizeof(ep)),
                     0);
    void *pull = zmq_socket(zctx, ZMQ_PULL);
    int linger = 0, rcvtimeo = 5000;
    zmq_setsockopt(pull, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(pull, ZMQ_RCVTIMEO, &rcvtimeo, sizeof(rcvtimeo));
    assert_int_equal(zmq_bind(pull, ep), 0);

    struct nf_dlq_replay_opts o = {.all = true, .timeout_ms = 5000};
    char *out = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&out, &len);
    int sent = nf_dlq_replay(cfg, &o, m, f->err, sizeof(f->err));
    fclose(m);
    if (sent != 2)
        fail_msg("replay sent %d, expected 2: %s\n%s", sent, f->err, out);
    /* what was skipped is said, with why */
    assert_has(out, "no record bytes");
    assert_has(out, "not a readable record");
    assert_has(out, "'renamed' is not in");
    assert_has(out, "nobody waits");
    free(out);

    /* both arrive at clean's inbox, without the delivery fields, otherwise unchanged */
    struct nf_record *r = nf_record_new();
    bool got_first = false, got_second = false;
    for (int i = 0; i < 2; i++) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        assert_true(zmq_msg_recv(&msg, pull, 0) >= 0);
        assert_int_equal(nf_record_decode(r, zmq_msg_data(&msg), zmq_msg_size(&msg)), 0);
        assert_false(nf_record_has(r, NF_F_ACK_TO));
        assert_false(nf_record_has(r, NF_F_SEQ));
        assert_false(nf_record_has(r, NF_F_ATTEMPT));
        assert_string_equal(nf_record_str(r, NF_F_TEXT, NULL), "Advertisement");
        const char *id = nf_record_str(r, NF_F_ID, NULL);
        got_first |= strcmp(id, "0123456789abcdef0123456789abcdef") == 0;
        got_second |= strcmp(id, "fedcba9876543210fedcba9876543210") == 0;
        zmq_msg_close(&msg);
    }
    assert_true(got_first && got_second);
    nf_record_destroy(&r);

    /* marked: a second replay sends nothing unless forced; --id takes a prefix */
    struct seen *S = scan_all(f, path, 5);
    assert_non_null(S->dl[0].replayed_at);
    assert_non_null(S->dl[1].replayed_at);
    assert_null(S->dl[2].replayed_at);
    seen_free(S);
    m = open_memstream(&out, &len);
    assert_int_equal(nf_dlq_replay(cfg, &o, m, f->err, sizeof(f->err)), 0);
    fclose(m);
    assert_has(out, "2 already replayed");
    free(out);
    const char *ids[] = {"0123"};
    struct nf_dlq_replay_opts by_id = {.ids = ids, .n_ids = 1, .force = true, .timeout_ms = 5000};
    m = open_memstream(&out, &len);
    assert_int_equal(nf_dlq_replay(cfg, &by_id, m, f->err, sizeof(f->err)), 1);
    fclose(m);
    free(out);
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    assert_true(zmq_msg_recv(&msg, pull, 0) >= 0);
    zmq_msg_close(&msg);

    /* a selection that matches nothing is an error, not a silent success */
    struct nf_dlq_replay_opts by_stage = {.stage = "store", .timeout_ms = 5000};
    m = open_memstream(&out, &len);
    assert_int_equal(nf_dlq_replay(cfg, &by_stage, m, f->err, sizeof(f->err)), -1);
    fclose(m);
    free(out);
    assert_has(f->err, "no dead letter");

    /* no pipeline: a bounded wait and a clear reason, and nothing marked. Terminating the
     * context waits until the inbox is really closed (zmq_close alone returns before). */
    zmq_close(pull);
    zmq_ctx_term(zctx);
    struct nf_dlq_replay_opts stage_clean = {.stage = "clean", .force = true, .timeout_ms = 300};
    m = open_memstream(&out, &len);
    assert_int_equal(nf_dlq_replay(cfg, &stage_clean, m, f->err, sizeof(f->err)), -1);
    fclose(m);
    free(out);
    assert_has(f->err, "is the pipeline running?");
    assert_has(f->err, "clean");

    nf_buf_free(&rec);
    nf_config_destroy(&cfg);
}

static void test_replay_sqlite(void **state)
{
    struct fx *f = *state;
    check_replay(f, f->db);
}

static void test_replay_jsonl(void **state)
{
    struct fx *f = *state;
    check_replay(f, f->jl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_and_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_large_attempt_and_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_missing_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_in_missing_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_on_a_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_handles_one_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_processes_one_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jsonl_put_and_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jsonl_not_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jsonl_big_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jsonl_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jsonl_damaged_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jsonl_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_latest_sqlite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_latest_jsonl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mark_replayed_sqlite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mark_replayed_jsonl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_sqlite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_jsonl, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
