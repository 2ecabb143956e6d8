/* fetch_jsonl through its descriptor: the field mapping (string and integer ids, dates made ISO),
 * bad lines that name file:line while the source goes on, gzipped input, sharding by line
 * number, refetch of a line by its id (also after a restart), the ledger of acknowledged lines,
 * and the shared corpora when they are present. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "mock_core.h"

static char root[PATH_MAX];
static char opt_path[PATH_MAX + 64], file_a[PATH_MAX + 32], file_gz[PATH_MAX + 32],
    file_big[PATH_MAX + 32];

static const char LINES_A[] =
    "{\"id\": \"x1\", \"title\": \"First\", \"text\": \"Body one.\", \"date\": \"2010-07-02\", "
    "\"url\": \"http://example.com/1\", \"outlet\": \"nyt\"}\n"
    "this is not json\n"
    "{\"id\": \"x3\", \"title\": \"no text here\"}\n"
    "\n"
    "{\"title\": \"no id\", \"text\": \"orphan\"}\n"
    "{\"id\": 7, \"text\": \"Numeric id, Reuters date.\", \"date\": \"26-FEB-1987 15:01:01.79\"}\r\n"
    "{\"id\": \"x7\", \"text\": \"Last line without a newline\", \"date\": \"someday\"}";

static const char LINES_GZ[] =
    "{\"newid\": 1, \"date\": \"26-FEB-1987 15:01:01.79\", \"title\": \"BAHIA COCOA REVIEW\", "
    "\"topics\": [\"cocoa\"], \"text\": \"Showers continued throughout the week.\"}\n"
    "{\"newid\": 2, \"date\": \"26-FEB-1987 15:02:20.00\", \"title\": \"STANDARD OIL\", "
    "\"topics\": [], \"text\": \"Standard Oil Co said.\"}\n";

static void write_all(const char *path, const char *data)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, strlen(data), f), strlen(data));
    assert_int_equal(fclose(f), 0);
}

static struct mock_plugin *open_src(const char *path, const char *o1, const char *o2)
{
    snprintf(opt_path, sizeof(opt_path), "path=%s", path);
    const char *opts[] = {opt_path, o1 ? o1 : "remember=false", o2, NULL};
    struct mock_plugin *mp = mock_plugin_new("fetch_jsonl", opts);
    assert_non_null(mp);
    return mp;
}

static const char *raw_of(struct nf_record *rec)
{
    static char buf[256];
    size_t n;
    const void *p = nf_record_bytes(rec, NF_F_RAW, &n);
    if (!p)
        return NULL;
    snprintf(buf, sizeof(buf), "%.*s", (int)n, (const char *)p);
    return buf;
}

static void test_mapping_and_bad_lines(void **state)
{
    (void)state;
    struct mock_plugin *mp = open_src(file_a, NULL, NULL);
    assert_int_equal(mock_desc(mp)->kind, NF_PLUGIN_SOURCE);
    struct nf_record *rec = nf_record_new();
    char uri[PATH_MAX + 128], id[33];

    assert_int_equal(mock_next(mp, rec), NF_OK);
    const char *u = NULL, *kind = NULL;
    assert_int_equal(nf_record_source(rec, &u, &kind), 0);
    snprintf(uri, sizeof(uri), "file://%s#x1", file_a);
    assert_string_equal(u, uri);
    assert_string_equal(kind, "jsonl");
    nf_id_make(uri, strlen(uri), id);
    assert_string_equal(nf_record_str(rec, NF_F_ID, NULL), id);
    assert_string_equal(nf_record_str(rec, NF_F_TITLE, NULL), "First");
    assert_string_equal(raw_of(rec), "Body one.");
    assert_false(nf_record_has(rec, NF_F_TEXT)); /* clean_text makes it from raw */
    assert_non_null(strstr(nf_record_str(rec, NF_F_CONTENT_TYPE, NULL), "text/plain"));
    assert_string_equal(nf_record_str(rec, NF_F_PUBLISHED_AT, NULL), "2010-07-02");
    assert_string_equal(nf_record_str(rec, NF_F_URL, NULL), "http://example.com/1");
    assert_string_equal(nf_record_str(rec, NF_F_OUTLET, NULL), "nyt");
    assert_int_equal(mock_roundtrip(rec), 0);

    /* Bad lines are errors naming file:line; the source goes on after each. */
    char where[PATH_MAX + 64];
    assert_int_equal(mock_next(mp, rec), NF_ERR);
    snprintf(where, sizeof(where), "%s:2: not JSON", file_a);
    assert_non_null(strstr(mock_last_error(), where));
    assert_non_null(nf_record_str(rec, NF_F_ID, NULL)); /* the dead letter has a name */
    assert_string_equal(raw_of(rec), "this is not json");
    assert_int_equal(mock_next(mp, rec), NF_ERR);
    snprintf(where, sizeof(where), "%s:3: no text", file_a);
    assert_non_null(strstr(mock_last_error(), where));
    /* line 4 is blank and skipped */
    assert_int_equal(mock_next(mp, rec), NF_ERR);
    snprintf(where, sizeof(where), "%s:5: no id", file_a);
    assert_non_null(strstr(mock_last_error(), where));

    assert_int_equal(mock_next(mp, rec), NF_OK);
    nf_record_source(rec, &u, NULL);
    snprintf(uri, sizeof(uri), "file://%s#7", file_a); /* an integer id, in decimal */
    assert_string_equal(u, uri);
    assert_string_equal(nf_record_str(rec, NF_F_PUBLISHED_AT, NULL), "1987-02-26T15:01:01");
    assert_false(nf_record_has(rec, NF_F_TITLE));

    assert_int_equal(mock_next(mp, rec), NF_OK);
    assert_string_equal(raw_of(rec), "Last line without a newline");
    assert_false(nf_record_has(rec, NF_F_PUBLISHED_AT)); /* "someday" is no date */
    assert_int_equal(mock_next(mp, rec), NF_EOF);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_gzip_and_mapping(void **state)
{
    (void)state;
    struct mock_plugin *mp = open_src(file_gz, "id_field=newid", "set_text=true");
    struct nf_record *rec = nf_record_new();
    char uri[PATH_MAX + 128];
    assert_int_equal(mock_next(mp, rec), NF_OK);
    const char *u = NULL;
    nf_record_source(rec, &u, NULL);
    snprintf(uri, sizeof(uri), "file://%s#1", file_gz);
    assert_string_equal(u, uri);
    assert_string_equal(nf_record_str(rec, NF_F_TITLE, NULL), "BAHIA COCOA REVIEW");
    assert_string_equal(nf_record_str(rec, NF_F_TEXT, NULL),
                        "Showers continued throughout the week.");
    assert_int_equal(mock_next(mp, rec), NF_OK);
    assert_string_equal(nf_record_str(rec, NF_F_TEXT, NULL), "Standard Oil Co said.");
    int64_t done, total;
    assert_string_equal(mock_progress(&done, &total), "bytes");
    struct stat st;
    assert_int_equal(stat(file_gz, &st), 0);
    assert_int_equal(total, st.st_size); /* the gzipped file's bytes on disk */
    assert_true(done > 0 && done <= total);
    assert_int_equal(mock_next(mp, rec), NF_EOF);
    mock_progress(&done, &total);
    assert_int_equal(done, total); /* read to its end */
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);

    /* A directory: its JSON-lines files in name order. */
    mp = open_src(root, NULL, NULL);
    rec = nf_record_new();
    int ok = 0, err = 0, rc;
    while ((rc = mock_next(mp, rec)) != NF_EOF) {
        ok += rc == NF_OK;
        err += rc == NF_ERR;
    }
    /* a.jsonl: 3 good, 3 bad; big.jsonl: 10; b.jsonl.gz: no 'id' key under the default map */
    assert_int_equal(ok, 3 + 10);
    assert_int_equal(err, 3 + 2);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_sharding_by_line(void **state)
{
    (void)state;
    int seen[10] = {0};
    for (int w = 0; w < 3; w++) {
        mock_set_worker(w, 3);
        struct mock_plugin *mp = open_src(file_big, NULL, NULL);
        struct nf_record *rec = nf_record_new();
        int n = 0;
        while (mock_next(mp, rec) == NF_OK) {
            int k = atoi(raw_of(rec) + strlen("article "));
            assert_true(k >= 1 && k <= 10);
            assert_int_equal((k - 1) % 3, w); /* line k goes to worker (k-1) mod 3 */
            seen[k - 1]++;
            n++;
        }
        assert_int_equal(n, w == 0 ? 4 : 3);
        nf_record_destroy(&rec);
        mock_plugin_destroy(&mp);
    }
    mock_set_worker(0, 1);
    for (int i = 0; i < 10; i++)
        assert_int_equal(seen[i], 1);
}

/* A record as the journal keeps it: everything but raw. */
static void strip(struct nf_record *rec)
{
    nf_record_unset(rec, NF_F_RAW);
    assert_int_equal(mock_roundtrip(rec), 0);
}

static void test_refetch(void **state)
{
    (void)state;
    struct mock_plugin *mp = open_src(file_big, NULL, NULL);
    struct nf_record *rec = nf_record_new();
    for (int i = 0; i < 6; i++)
        assert_int_equal(mock_next(mp, rec), NF_OK);
    assert_string_equal(raw_of(rec), "article 6 body");
    strip(rec);
    assert_int_equal(mock_refetch(mp, rec), NF_OK);
    assert_string_equal(raw_of(rec), "article 6 body");
    /* next() keeps its place. */
    assert_int_equal(mock_next(mp, rec), NF_OK);
    assert_string_equal(raw_of(rec), "article 7 body");
    strip(rec);
    mock_plugin_destroy(&mp);

    /* After a restart nothing was read yet: the line is found by its id. */
    mp = open_src(file_big, NULL, NULL);
    assert_int_equal(mock_refetch(mp, rec), NF_OK);
    assert_string_equal(raw_of(rec), "article 7 body");
    /* A line that is gone cannot be read again. */
    char uri[PATH_MAX + 128], id[33];
    snprintf(uri, sizeof(uri), "file://%s#gone", file_big);
    nf_id_make(uri, strlen(uri), id);
    nf_record_reset(rec);
    nf_record_set_cstr(rec, NF_F_ID, id);
    nf_record_set_source(rec, uri, "jsonl");
    assert_int_equal(mock_refetch(mp, rec), NF_ERR);
    assert_non_null(strstr(mock_last_error(), "no line has this id"));
    nf_record_set_source(rec, "file:///elsewhere.jsonl#1", "jsonl");
    assert_int_equal(mock_refetch(mp, rec), NF_ERR);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);

    /* In a gzipped file too. */
    mp = open_src(file_gz, "id_field=newid", NULL);
    rec = nf_record_new();
    assert_int_equal(mock_next(mp, rec), NF_OK);
    assert_int_equal(mock_next(mp, rec), NF_OK);
    strip(rec);
    mock_plugin_destroy(&mp);
    mp = open_src(file_gz, "id_field=newid", NULL);
    assert_int_equal(mock_refetch(mp, rec), NF_OK);
    assert_string_equal(raw_of(rec), "Standard Oil Co said.");
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* Recovery after a restart asks for every journaled record, in the order they were sent: the
 * source reads the file once for all of them, not once (or up to the offset) for each. */
static void refetch_in_order(const char *path, int n_lines)
{
    struct mock_plugin *mp = open_src(path, NULL, NULL);
    struct nf_record *rec = nf_record_new();
    struct nf_buf *kept = calloc((size_t)n_lines, sizeof(*kept));
    assert_non_null(kept);
    for (int i = 0; i < n_lines; i++) {
        assert_int_equal(mock_next(mp, rec), NF_OK);
        strip(rec);
        assert_int_equal(nf_record_encode(rec, &kept[i]), 0);
    }
    assert_int_equal(mock_next(mp, rec), NF_EOF);
    mock_plugin_destroy(&mp);

    mp = open_src(path, NULL, NULL);
    int64_t before = mock_counter("refetch_bytes"), back = mock_counter("refetch_rereads");
    char want[64];
    /* Every other record is in flight, as when a sink acknowledged the rest. */
    for (int i = 0; i < n_lines; i += 2) {
        assert_int_equal(nf_record_decode(rec, kept[i].data, kept[i].len), 0);
        assert_int_equal(mock_refetch(mp, rec), NF_OK);
        snprintf(want, sizeof(want), "body of article %d", i + 1);
        assert_non_null(raw_of(rec));
        assert_int_equal(strncmp(raw_of(rec), want, strlen(want)), 0);
    }
    int64_t read = mock_counter("refetch_bytes") - before;
    size_t inflated = 0;
    free(mock_slurp(path, &inflated));
    /* Once over the file at most: up to its last line in flight, and never from the start
     * again for each record (that was n_lines / 2 times half the file). */
    assert_true(read > (int64_t)inflated / 2);
    assert_true(read <= (int64_t)inflated);
    assert_int_equal(mock_counter("refetch_rereads"), back);

    /* A line behind the reader is still found, by opening the file again. */
    assert_int_equal(nf_record_decode(rec, kept[10].data, kept[10].len), 0);
    assert_int_equal(mock_refetch(mp, rec), NF_OK);
    assert_int_equal(strncmp(raw_of(rec), "body of article 11 ", 19), 0);
    assert_int_equal(mock_counter("refetch_rereads"), back + 1);
    /* After recovery the source reads on from the start as ever. */
    assert_int_equal(mock_next(mp, rec), NF_OK);
    assert_int_equal(strncmp(raw_of(rec), "body of article 1 ", 18), 0);

    for (int i = 0; i < n_lines; i++)
        nf_buf_free(&kept[i]);
    free(kept);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_refetch_reads_the_input_once(void **state)
{
    (void)state;
    enum { N = 3000 };
    char plain[PATH_MAX + 32], gz[PATH_MAX + 32];
    snprintf(plain, sizeof(plain), "%s/recovery/many.jsonl", root);
    snprintf(gz, sizeof(gz), "%s/recovery/many.jsonl.gz", root);
    char dir[PATH_MAX + 32];
    snprintf(dir, sizeof(dir), "%s/recovery", root);
    assert_int_equal(mkdir(dir, 0755), 0);
    FILE *f = fopen(plain, "wb");
    gzFile z = gzopen(gz, "wb");
    assert_non_null(f);
    assert_non_null(z);
    /* About 1 MB: more than the reader's window, so reading twice would show. */
    char filler[301];
    memset(filler, 'w', sizeof(filler) - 1);
    filler[sizeof(filler) - 1] = '\0';
    for (int i = 1; i <= N; i++) {
        char line[512];
        int n = snprintf(line, sizeof(line),
                         "{\"id\": \"r%d\", \"text\": \"body of article %d %s\"}\n", i, i,
                         filler + (i % 7) * 40);
        assert_int_equal(fwrite(line, 1, (size_t)n, f), (size_t)n);
        assert_int_equal(gzwrite(z, line, (unsigned)n), n);
    }
    assert_int_equal(fclose(f), 0);
    assert_int_equal(gzclose(z), Z_OK);
    refetch_in_order(plain, N);
    refetch_in_order(gz, N);
    unlink(plain);
    unlink(gz);
    rmdir(dir);
}

/* Refetch looks for a line by its id as written; an id that JSON escapes, or that a writer
 * escaped anyway, is found too, and a gone line is told after one read of the whole file. */
static void test_refetch_escaped_ids(void **state)
{
    (void)state;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/escaped.jsonl", root);
    write_all(path, "{\"id\": \"plain-1\", \"text\": \"one\"}\n"
                    "{\"id\": \"a\\/b\", \"text\": \"two\"}\n"
                    "{\"id\": \"\\u0063de\", \"text\": \"three\"}\n"
                    "{\"id\": \"caf\\u00e9\", \"text\": \"four\"}\n"
                    "{\"id\": \"plain-5\", \"text\": \"five\"}\n");
    static const char *const ids[] = {"plain-1", "a/b", "cde", "caf\xc3\xa9", "plain-5"};
    static const char *const texts[] = {"one", "two", "three", "four", "five"};
    struct mock_plugin *mp = open_src(path, NULL, NULL);
    struct nf_record *rec = nf_record_new();
    char uri[PATH_MAX + 128], id[33];
    /* Out of order, as if the journal had been rewritten: every one is found. */
    static const int order[] = {4, 2, 0, 3, 1};
    for (int k = 0; k < 5; k++) {
        int i = order[k];
        snprintf(uri, sizeof(uri), "file://%s#%s", path, ids[i]);
        nf_id_make(uri, strlen(uri), id);
        nf_record_reset(rec);
        nf_record_set_cstr(rec, NF_F_ID, id);
        nf_record_set_source(rec, uri, "jsonl");
        assert_int_equal(mock_refetch(mp, rec), NF_OK);
        assert_string_equal(raw_of(rec), texts[i]);
    }
    /* Gone: the first question reads the file, the next ones are answered from the index. */
    for (int k = 0; k < 3; k++) {
        snprintf(uri, sizeof(uri), "file://%s#gone-%d", path, k);
        nf_id_make(uri, strlen(uri), id);
        nf_record_reset(rec);
        nf_record_set_cstr(rec, NF_F_ID, id);
        nf_record_set_source(rec, uri, "jsonl");
        int64_t before = mock_counter("refetch_bytes");
        assert_int_equal(mock_refetch(mp, rec), NF_ERR);
        assert_non_null(strstr(mock_last_error(), "no line has this id any more"));
        if (k > 0)
            assert_int_equal(mock_counter("refetch_bytes"), before);
    }
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
    unlink(path);
}

static void test_ledger_skips_finished_lines(void **state)
{
    (void)state;
    struct mock_plugin *mp = open_src(file_big, "remember=true", NULL);
    struct nf_record *rec = nf_record_new();
    for (int i = 0; i < 3; i++) {
        assert_int_equal(mock_next(mp, rec), NF_OK);
        if (i != 1)
            mock_acked(mp, nf_record_str(rec, NF_F_ID, NULL)); /* lines 1 and 3 finished */
    }
    mock_plugin_destroy(&mp);
    mp = open_src(file_big, "remember=true", NULL);
    int n = 0;
    while (mock_next(mp, rec) == NF_OK) {
        const char *r = raw_of(rec);
        assert_string_not_equal(r, "article 1 body");
        assert_string_not_equal(r, "article 3 body");
        n++;
    }
    assert_int_equal(n, 8);
    mock_plugin_destroy(&mp);
    /* Worker 1 of 2 finishes lines 2 and 4 (in its own ledger) ... */
    mock_set_worker(1, 2);
    mp = open_src(file_big, "remember=true", NULL);
    mock_set_worker(0, 1);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(mock_next(mp, rec), NF_OK);
        mock_acked(mp, nf_record_str(rec, NF_F_ID, NULL));
    }
    mock_plugin_destroy(&mp);
    /* ... and a single worker later skips those too. */
    mp = open_src(file_big, "remember=true", NULL);
    n = 0;
    while (mock_next(mp, rec) == NF_OK) {
        assert_string_not_equal(raw_of(rec), "article 2 body");
        assert_string_not_equal(raw_of(rec), "article 4 body");
        n++;
    }
    assert_int_equal(n, 6);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* A date is kept only when the day exists: strptime alone takes 31 February. */
static void test_dates_that_do_not_exist(void **state)
{
    (void)state;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/dates.jsonl", root);
    write_all(path, "{\"id\": 1, \"text\": \"a\", \"date\": \"2024-02-31\"}\n"
                    "{\"id\": 2, \"text\": \"b\", \"date\": \"2023-02-29T08:00:00Z\"}\n"
                    "{\"id\": 3, \"text\": \"c\", \"date\": \"2024-02-29T08:00:00Z\"}\n"
                    "{\"id\": 4, \"text\": \"d\", \"date\": \"31-APR-1987 10:00:00.00\"}\n"
                    "{\"id\": 5, \"text\": \"e\", \"date\": \"30-APR-1987 10:00:00.00\"}\n"
                    "{\"id\": 6, \"text\": \"f\", \"date\": \"1900-02-29\"}\n"
                    "{\"id\": 7, \"text\": \"g\", \"date\": \"2000-02-29\"}\n");
    static const char *const want[] = {NULL,         NULL, "2024-02-29T08:00:00", NULL,
                                       "1987-04-30T10:00:00", NULL, "2000-02-29"};
    struct mock_plugin *mp = open_src(path, NULL, NULL);
    struct nf_record *rec = nf_record_new();
    for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
        assert_int_equal(mock_next(mp, rec), NF_OK);
        const char *got = nf_record_str(rec, NF_F_PUBLISHED_AT, NULL);
        if (want[i])
            assert_string_equal(got, want[i]);
        else
            assert_null(got);
    }
    assert_int_equal(mock_next(mp, rec), NF_EOF);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
    unlink(path);
}

/* Counts what a run to the end gives. */
static void run_counts(const char *path, const char *opt, int *ok, int *err)
{
    struct mock_plugin *mp = open_src(path, "remember=true", opt);
    struct nf_record *rec = nf_record_new();
    int rc;
    *ok = *err = 0;
    while ((rc = mock_next(mp, rec)) != NF_EOF) {
        *ok += rc == NF_OK;
        *err += rc == NF_ERR;
    }
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* A bad line is dead-lettered once, not at every start: the ledger remembers it as it was,
 * and refuses it again only when it changed. */
static void test_bad_lines_are_refused_once(void **state)
{
    (void)state;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/bad.jsonl", root);
    static const char good[] = "{\"id\": \"g1\", \"text\": \"fine\"}\n";
    static const char bad[] = "not json at all\n"
                              "{\"id\": \"t1\"}\n"
                              "{\"text\": \"no id\"}\n"
                              "{\"id\": \"long\", \"text\": \"over the max_line limit\"}\n";
    char all[512];
    snprintf(all, sizeof(all), "%s%s", good, bad);
    write_all(path, all);
    int ok, err;
    run_counts(path, "max_line=44", &ok, &err);
    assert_int_equal(ok, 1);
    assert_int_equal(err, 4);
    for (int i = 0; i < 3; i++) {
        run_counts(path, "max_line=44", &ok, &err);
        assert_int_equal(ok, 1); /* never acknowledged: read again */
        assert_int_equal(err, 0);
    }
    /* Line 2 mended and line 3 changed (still bad): those two come again, once. */
    snprintf(all, sizeof(all), "%s%s", good,
             "not json at all\n"
             "{\"id\": \"t1\", \"text\": \"mended\"}\n"
             "{\"text\": \"no id, other words\"}\n"
             "{\"id\": \"long\", \"text\": \"over the max_line limit\"}\n");
    write_all(path, all);
    run_counts(path, "max_line=44", &ok, &err);
    assert_int_equal(ok, 2);
    assert_int_equal(err, 2); /* line 3, and line 5 whose offset moved */
    run_counts(path, "max_line=44", &ok, &err);
    assert_int_equal(ok, 2);
    assert_int_equal(err, 0);
    unlink(path);
}

static void test_long_lines_are_refused(void **state)
{
    (void)state;
    struct mock_plugin *mp = open_src(file_a, "max_line=40", NULL);
    struct nf_record *rec = nf_record_new();
    char where[PATH_MAX + 64];
    assert_int_equal(mock_next(mp, rec), NF_ERR);
    snprintf(where, sizeof(where), "%s:1: line longer than max_line", file_a);
    assert_non_null(strstr(mock_last_error(), where));
    assert_int_equal(mock_next(mp, rec), NF_ERR); /* line 2: 16 bytes, but not JSON */
    assert_non_null(strstr(mock_last_error(), ":2: not JSON"));
    assert_int_equal(mock_next(mp, rec), NF_ERR); /* line 3: no text */
    assert_int_equal(mock_next(mp, rec), NF_ERR); /* line 5: no id */
    assert_int_equal(mock_next(mp, rec), NF_ERR); /* line 6: too long again */
    assert_non_null(strstr(mock_last_error(), ":6: line longer"));
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_missing_input_stops_start_up(void **state)
{
    (void)state;
    const char *opts[] = {"path=/nonexistent/articles.jsonl", NULL};
    assert_null(mock_plugin_new("fetch_jsonl", opts));
    assert_non_null(strstr(mock_last_error(), "cannot open /nonexistent/articles.jsonl"));
    assert_non_null(strstr(mock_last_error(), "option path"));
    /* the option table's bounds, each with the option's name, before init */
    static const struct {
        const char *opt, *msg;
    } bad[] = {
        {"text_field=", "option 'text_field' must not be empty"},
        {"id_field=", "option 'id_field' must not be empty"},
        {"max_line=0", "option 'max_line' must be at least 1, got 0"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *o[] = {"path=/tmp", bad[i].opt, NULL};
        assert_null(mock_plugin_new("fetch_jsonl", o));
        assert_string_equal(mock_last_error(), bad[i].msg);
    }
    const char *nopath[] = {"path=", NULL};
    assert_null(mock_plugin_new("fetch_jsonl", nopath));
    assert_string_equal(mock_last_error(), "option 'path' must not be empty");
}

static void test_shared_corpora(void **state)
{
    (void)state;
    char basil[PATH_MAX], reuters[PATH_MAX];
    snprintf(basil, sizeof(basil), "%s/../shared/corpus/stories/basil.jsonl", NF_SOURCE_DIR);
    snprintf(reuters, sizeof(reuters), "%s/../shared/corpus/news/reuters21578.jsonl.gz",
             NF_SOURCE_DIR);
    if (access(basil, R_OK) != 0 || access(reuters, R_OK) != 0) {
        fprintf(stderr, "shared corpora not found next to the tree: skipped\n");
        skip();
    }
    struct mock_plugin *mp = open_src(basil, NULL, NULL);
    struct nf_record *rec = nf_record_new();
    int n = 0, rc;
    while ((rc = mock_next(mp, rec)) == NF_OK) {
        assert_true(nf_record_has(rec, NF_F_RAW));
        assert_true(nf_record_has(rec, NF_F_OUTLET));
        assert_int_equal(strlen(nf_record_str(rec, NF_F_PUBLISHED_AT, NULL)), 10);
        n++;
    }
    assert_int_equal(rc, NF_EOF);
    assert_int_equal(n, 300);
    mock_plugin_destroy(&mp);
    /* Reuters: integer ids; some articles have no body, which is an error of theirs. */
    mp = open_src(reuters, "id_field=newid", NULL);
    int ok = 0;
    for (int i = 0; i < 200 && (rc = mock_next(mp, rec)) != NF_EOF; i++) {
        if (rc == NF_ERR) {
            assert_non_null(strstr(mock_last_error(), "no text"));
            continue;
        }
        ok++;
        assert_non_null(nf_record_str(rec, NF_F_PUBLISHED_AT, NULL));
    }
    assert_true(ok > 150);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static int setup(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/nf-fetch-jsonl-XXXXXX";
    if (!mkdtemp(tmpl) || !realpath(tmpl, root))
        return -1;
    snprintf(file_a, sizeof(file_a), "%s/a.jsonl", root);
    snprintf(file_gz, sizeof(file_gz), "%s/b.jsonl.gz", root);
    snprintf(file_big, sizeof(file_big), "%s/big.jsonl", root);
    write_all(file_a, LINES_A);
    gzFile z = gzopen(file_gz, "wb");
    if (!z)
        return -1;
    gzwrite(z, LINES_GZ, (unsigned)strlen(LINES_GZ));
    gzclose(z);
    char big[2048] = "";
    for (int i = 1; i <= 10; i++) {
        char line[128];
        snprintf(line, sizeof(line), "{\"id\": \"n%d\", \"text\": \"article %d body\"}\n", i, i);
        strcat(big, line);
    }
    write_all(file_big, big);
    return 0;
}

static int cleanup(void **state)
{
    (void)state;
    char cmd[2 * PATH_MAX];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", root, mock_state_dir());
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mapping_and_bad_lines), cmocka_unit_test(test_gzip_and_mapping),
        cmocka_unit_test(test_sharding_by_line),      cmocka_unit_test(test_refetch),
        cmocka_unit_test(test_refetch_reads_the_input_once),
        cmocka_unit_test(test_refetch_escaped_ids),
        cmocka_unit_test(test_ledger_skips_finished_lines),
        cmocka_unit_test(test_dates_that_do_not_exist),
        cmocka_unit_test(test_bad_lines_are_refused_once),
        cmocka_unit_test(test_long_lines_are_refused),
        cmocka_unit_test(test_missing_input_stops_start_up),
        cmocka_unit_test(test_shared_corpora),
    };
    return cmocka_run_group_tests(tests, setup, cleanup);
}
