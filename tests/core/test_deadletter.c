/* Tests of the dead-letter store (core/deadletter.c): what a put leaves in the SQLite file, read
 * back with sqlite3 directly; the listing a user prints; a store that cannot be opened; and
 * several writers on one file, as the workers of a pipeline are. */
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
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "deadletter.h"

#define assert_has(hay, needle)                                                                \
    do {                                                                                       \
        if (!strstr((hay), (needle)))                                                          \
            fail_msg("expected \"%s\" in \"%s\"", (needle), (hay));                            \
    } while (0)

struct fx {
    char dir[PATH_MAX];
    char db[PATH_MAX + 32];
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
    /* no store yet: -1 naming the path, and listing does not create one */
    f->err[0] = '\0';
    assert_int_equal(list_to(f->db, &out, f->err, sizeof(f->err)), -1);
    assert_has(f->err, f->db);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
