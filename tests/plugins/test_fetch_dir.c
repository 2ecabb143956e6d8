/* fetch_dir through its descriptor: records of a real directory (plain, HTML, gzip, nested),
 * the errors of bad files naming the file and the reason, stable ids, sharding between workers,
 * and watching for files that are renamed in or closed after writing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ftw.h>
#include <glob.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "mock_core.h"

static char root[PATH_MAX]; /* resolved temp directory with the fixtures */

static void path_of(char *out, const char *dir, const char *rel)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, rel);
    assert_true(n > 0 && n < PATH_MAX);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path) < 0 ? -1 : 0;
}

static void write_file(const char *dir, const char *rel, const void *data, size_t n)
{
    char p[PATH_MAX];
    path_of(p, dir, rel);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void write_gz(const char *dir, const char *rel, const void *data, size_t n)
{
    char p[PATH_MAX];
    path_of(p, dir, rel);
    gzFile z = gzopen(p, "wb9");
    assert_non_null(z);
    assert_int_equal(gzwrite(z, data, (unsigned)n), (int)n);
    assert_int_equal(gzclose(z), Z_OK);
}

static void make_dir(const char *dir, const char *rel)
{
    char p[PATH_MAX];
    path_of(p, dir, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static const char A_TXT[] = "Plain article one.\nSecond line.\n";
static const char B_HTML[] = "<html><body><p>An HTML article.</p></body></html>\n";
static const char C_TXT[] = "A gzipped article, inflated on read.\n";
static const char D_TXT[] = "A nested article.\n";
static const char E_TXT[] = "\n  <!DOCTYPE html><html><body>HTML saved as .txt</body></html>";
static const char F_HTM[] = "<p>Two levels down.</p>";
static const char BIN[] = "text\0more";
static char stray[10000];

static void make_fixtures(void)
{
    char tmpl[] = "/tmp/nf-fetch-dir-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    assert_non_null(realpath(tmpl, root));
    write_file(root, "a.txt", A_TXT, strlen(A_TXT));
    write_file(root, "b.html", B_HTML, strlen(B_HTML));
    write_gz(root, "c.txt.gz", C_TXT, strlen(C_TXT));
    make_dir(root, "sub");
    write_file(root, "sub/d.txt", D_TXT, strlen(D_TXT));
    make_dir(root, "sub/deeper");
    write_file(root, "sub/deeper/f.htm", F_HTM, strlen(F_HTM));
    write_file(root, "e.txt", E_TXT, strlen(E_TXT));
    write_file(root, "empty.txt", "", 0);
    write_file(root, "binary.txt", BIN, sizeof(BIN) - 1);
    /* A page with a few stray NUL bytes far in, as real web pages have, is still text. */
    memset(stray, 'y', sizeof(stray));
    memset(stray + 9000, 0, 4);
    write_file(root, "stray.txt", stray, sizeof(stray));
    static char many[10000];
    memset(many, 'z', sizeof(many));
    for (size_t i = 9000; i < sizeof(many); i += 5)
        many[i] = 0;
    write_file(root, "many_nuls.txt", many, sizeof(many));
    char p[PATH_MAX], q[PATH_MAX];
    path_of(p, root, "dangling.txt");
    path_of(q, root, "no-such-target.txt.missing");
    assert_int_equal(symlink(q, p), 0);
    path_of(p, root, "fifo.txt");
    assert_int_equal(mkfifo(p, 0644), 0);
    static char big[20000];
    memset(big, 'x', sizeof(big));
    write_file(root, "big.txt", big, sizeof(big));
    /* 100 KB of one letter gzips to a few hundred bytes: under max_bytes on disk, far over it
     * inflated. */
    static char bomb[100000];
    memset(bomb, 'a', sizeof(bomb));
    write_gz(root, "bomb.txt.gz", bomb, sizeof(bomb));
    static const unsigned char corrupt[] = {0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0x03,
                                            'n', 'o', 't', ' ', 'd', 'e', 'f', 'l', 'a', 't'};
    write_file(root, "corrupt.txt.gz", corrupt, sizeof(corrupt));
    /* A gzip file cut short, as a copy interrupted half way leaves it. */
    char lines[900];
    size_t ln = 0;
    for (int i = 0; ln + 16 < sizeof(lines); i++)
        ln += (size_t)snprintf(lines + ln, sizeof(lines) - ln, "line %d\n", i * 7919);
    write_gz(root, "trunc.txt.gz", lines, ln);
    path_of(p, root, "trunc.txt.gz");
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(truncate(p, st.st_size / 2), 0);
    /* Non-matching and hidden names are not read at all. */
    write_file(root, "notes.md", "# not an article\n", 17);
    write_file(root, ".hidden.txt", "a writer's temporary file\n", 26);
    write_file(root, "sub/.partial.txt", "half", 4);
    if (geteuid() != 0) {
        write_file(root, "perm.txt", "secret\n", 7);
        path_of(p, root, "perm.txt");
        assert_int_equal(chmod(p, 0), 0);
    }
}

/* What every file is expected to give, in the sorted order the source reads them. */
struct expect {
    const char *rel;
    int rc;
    const char *ctype;   /* NF_OK */
    const char *content; /* NF_OK */
    size_t len;
    const char *reason; /* NF_ERR: a part of the message after the file name */
};

#define TXT(s) s, sizeof(s) - 1

static const struct expect expected[] = {
    {"a.txt", NF_OK, "text/plain", TXT(A_TXT), NULL},
    {"b.html", NF_OK, "text/html", TXT(B_HTML), NULL},
    {"big.txt", NF_ERR, NULL, NULL, 0, " is 20000 bytes, over max_bytes 16384"},
    {"binary.txt", NF_ERR, NULL, NULL, 0, " is binary, not text (a NUL byte at offset 4)"},
    {"bomb.txt.gz", NF_ERR, NULL, NULL, 0, " inflates to more than max_bytes 16384"},
    {"c.txt.gz", NF_OK, "text/plain", TXT(C_TXT), NULL},
    {"corrupt.txt.gz", NF_ERR, NULL, NULL, 0, " is not a valid gzip file: "},
    {"dangling.txt", NF_ERR, NULL, NULL, 0, "No such file or directory"},
    {"e.txt", NF_OK, "text/html", TXT(E_TXT), NULL},
    {"empty.txt", NF_ERR, NULL, NULL, 0, " is empty"},
    {"fifo.txt", NF_ERR, NULL, NULL, 0, " is not a regular file"},
    {"many_nuls.txt", NF_ERR, NULL, NULL, 0, " is binary, not text (a NUL byte at offset 9000)"},
    {"perm.txt", NF_ERR, NULL, NULL, 0, "Permission denied"}, /* only when not root */
    {"stray.txt", NF_OK, "text/plain", stray, sizeof(stray), NULL},
    {"sub/d.txt", NF_OK, "text/plain", TXT(D_TXT), NULL},
    {"sub/deeper/f.htm", NF_OK, "text/html", TXT(F_HTM), NULL},
    {"trunc.txt.gz", NF_ERR, NULL, NULL, 0, " is not a valid gzip file: unexpected end of file"},
};
#define N_EXPECTED (sizeof(expected) / sizeof(expected[0]))

struct got {
    int rc;
    char id[33];
    char uri[PATH_MAX + 8];
    char err[1024];
};

/* Reads until EOF; returns how many records (good or bad) came. Checks each one against the
 * expected table when `check` is set. */
static size_t run_source(const char *const *opts, struct got *out, size_t max, bool check)
{
    struct mock_plugin *mp = mock_plugin_new("fetch_dir", opts);
    assert_non_null(mp);
    assert_int_equal(mock_desc(mp)->kind, NF_PLUGIN_SOURCE);
    struct nf_record *rec = nf_record_new();
    assert_non_null(rec);
    size_t n = 0, e = 0;
    int rc;
    while ((rc = mock_next(mp, rec)) != NF_EOF) {
        assert_true(rc == NF_OK || rc == NF_ERR);
        assert_true(n < max);
        struct got *g = &out[n++];
        g->rc = rc;
        const char *id = nf_record_str(rec, NF_F_ID, NULL);
        const char *uri = NULL, *kind = NULL;
        /* Even a file that failed carries its id and source, for the dead-letter store. */
        assert_non_null(id);
        assert_int_equal(nf_record_source(rec, &uri, &kind), 0);
        assert_non_null(uri);
        assert_string_equal(kind, "file");
        snprintf(g->id, sizeof(g->id), "%s", id);
        snprintf(g->uri, sizeof(g->uri), "%s", uri);
        snprintf(g->err, sizeof(g->err), "%s", mock_last_error());
        char want_id[33];
        nf_id_make(uri, strlen(uri), want_id);
        assert_string_equal(id, want_id);
        /* The core stamps these, not the source. */
        assert_false(nf_record_has(rec, NF_F_FETCHED_AT));
        assert_false(nf_record_has(rec, NF_F_SEQ));
        if (!check)
            continue;
        while (e < N_EXPECTED && geteuid() == 0 && strcmp(expected[e].rel, "perm.txt") == 0)
            e++;
        assert_true(e < N_EXPECTED);
        const struct expect *x = &expected[e++];
        char want_uri[PATH_MAX + 8];
        snprintf(want_uri, sizeof(want_uri), "file://%s/%s", root, x->rel);
        assert_string_equal(uri, want_uri);
        assert_int_equal(rc, x->rc);
        if (rc == NF_OK) {
            assert_string_equal(nf_record_str(rec, NF_F_CONTENT_TYPE, NULL), x->ctype);
            size_t len;
            const void *raw = nf_record_bytes(rec, NF_F_RAW, &len);
            assert_non_null(raw);
            assert_int_equal(len, x->len);
            assert_memory_equal(raw, x->content, len);
            /* The record survives the hop to the next stage with its bytes. */
            assert_int_equal(mock_roundtrip(rec), 0);
            raw = nf_record_bytes(rec, NF_F_RAW, &len);
            assert_int_equal(len, x->len);
            assert_memory_equal(raw, x->content, len);
        } else {
            /* The reason names the file by its absolute path, and says what is wrong. */
            assert_non_null(strstr(g->err, want_uri + 7));
            assert_non_null(strstr(g->err, x->reason));
        }
    }
    if (check)
        assert_int_equal(e, N_EXPECTED);
    /* The end stays the end. */
    assert_int_equal(mock_next(mp, rec), NF_EOF);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
    return n;
}

static void opt_path(char *buf, size_t n, const char *dir)
{
    snprintf(buf, n, "path=%s", dir);
}

static void test_reads_every_file_in_order(void **state)
{
    (void)state;
    char p[PATH_MAX + 8];
    opt_path(p, sizeof(p), root);
    /* remember=false: the second run is not told of what the first refused */
    const char *opts[] = {p, "max_bytes=16K", "remember=false", NULL};
    struct got a[32], b[32];
    size_t na = run_source(opts, a, 32, true);
    /* the source told how far it got: every listed file, in files */
    int64_t done, total;
    const char *unit = mock_progress(&done, &total);
    assert_string_equal(unit, "files");
    assert_true(total >= (int64_t)na);
    assert_int_equal(done, total);
    /* A second run over the same directory gives the same records in the same order. */
    size_t nb = run_source(opts, b, 32, true);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_string_equal(a[i].id, b[i].id);
        assert_string_equal(a[i].uri, b[i].uri);
    }
}

static void test_not_recursive_and_extensions(void **state)
{
    (void)state;
    char p[PATH_MAX + 8];
    opt_path(p, sizeof(p), root);
    struct got g[32];
    const char *flat[] = {p, "max_bytes=16K", "recursive=false", NULL};
    size_t n = run_source(flat, g, 32, false);
    for (size_t i = 0; i < n; i++)
        assert_null(strstr(g[i].uri, "/sub/"));
    assert_int_equal(n, N_EXPECTED - 2 - (geteuid() == 0));

    const char *html_only[] = {p, "extensions=html, .htm", NULL};
    n = run_source(html_only, g, 32, false);
    assert_int_equal(n, 2);
    assert_non_null(strstr(g[0].uri, "/b.html"));
    assert_non_null(strstr(g[1].uri, "/sub/deeper/f.htm"));
}

/* Extensions separated by spaces and tabs as well as commas: every one is kept (the slots
 * were once counted by commas alone, and the split wrote past them). */
static void test_extensions_split_on_spaces(void **state)
{
    (void)state;
    char p[PATH_MAX + 8];
    opt_path(p, sizeof(p), root);
    struct got g[32];
    const char *spaced[] = {p, "extensions=md xml\tjson csv  pdf doc docx odt rtf epub htm html",
                            NULL};
    size_t n = run_source(spaced, g, 32, false);
    assert_int_equal(n, 3);
    assert_non_null(strstr(g[0].uri, "/b.html"));
    assert_non_null(strstr(g[1].uri, "/notes.md"));
    assert_non_null(strstr(g[2].uri, "/sub/deeper/f.htm"));

    /* Naming none is a clear error, not "out of memory". */
    const char *none[] = {p, "extensions= , . ,", NULL};
    assert_null(mock_plugin_new("fetch_dir", none));
    assert_non_null(strstr(mock_last_error(), "option 'extensions' names no extension"));
    /* ... found by the plugin's validate, before init looks at the directory (as check does) */
    const char *none_nodir[] = {"path=/nonexistent-dir", "extensions=,", NULL};
    assert_null(mock_plugin_new("fetch_dir", none_nodir));
    assert_non_null(strstr(mock_last_error(), "option 'extensions' names no extension"));
}

/* The option table's bounds, each refused with the option's name before init; a directory that
 * cannot be opened names the option. */
static void test_option_bounds(void **state)
{
    (void)state;
    static const struct {
        const char *opt, *msg;
    } bad[] = {
        {"path=", "option 'path' must not be empty"},
        {"max_bytes=0", "option 'max_bytes' must be at least 1, got 0"},
        {"settle_ms=-1", "option 'settle_ms' must be at least 0, got -1"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *o[] = {"path=/tmp", bad[i].opt, NULL};
        assert_null(mock_plugin_new("fetch_dir", o));
        assert_string_equal(mock_last_error(), bad[i].msg);
    }
    const char *missing[] = {"path=/nonexistent-dir", NULL};
    assert_null(mock_plugin_new("fetch_dir", missing));
    assert_non_null(strstr(mock_last_error(), "cannot open directory /nonexistent-dir"));
    assert_non_null(strstr(mock_last_error(), "option path"));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_two_workers_split_the_files(void **state)
{
    (void)state;
    char p[PATH_MAX + 8];
    opt_path(p, sizeof(p), root);
    const char *opts[] = {p, "max_bytes=16K", "remember=false", NULL};
    struct got all[32], w0[32], w1[32];
    size_t n = run_source(opts, all, 32, false);
    mock_set_worker(0, 2);
    size_t n0 = run_source(opts, w0, 32, false);
    mock_set_worker(1, 2);
    size_t n1 = run_source(opts, w1, 32, false);
    mock_set_worker(0, 1);
    /* Together the workers read every file once: the union is complete and disjoint. */
    assert_int_equal(n0 + n1, n);
    const char *u[64], *v[32];
    for (size_t i = 0; i < n0; i++)
        u[i] = w0[i].uri;
    for (size_t i = 0; i < n1; i++)
        u[n0 + i] = w1[i].uri;
    for (size_t i = 0; i < n; i++)
        v[i] = all[i].uri;
    qsort(u, n, sizeof(*u), cmp_str);
    qsort(v, n, sizeof(*v), cmp_str);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(u[i], v[i]);
}

static void test_missing_directory_fails_init(void **state)
{
    (void)state;
    const char *opts[] = {"path=/nonexistent/nf-fetch-dir", NULL};
    assert_null(mock_plugin_new("fetch_dir", opts));
    assert_non_null(strstr(mock_last_error(), "/nonexistent/nf-fetch-dir"));
    /* a required option left out is refused before init, as the real core refuses it */
    const char *none[] = {"max_bytes=16K", NULL};
    assert_null(mock_plugin_new("fetch_dir", none));
    assert_non_null(strstr(mock_last_error(), "needs option 'path'"));
}

/* ---- the ledger ---------------------------------------------------------------------- */

/* Each test starts without the ledgers an earlier one left. */
static int forget_ledgers(void **state)
{
    (void)state;
    char pattern[PATH_MAX];
    snprintf(pattern, sizeof(pattern), "%s/fetch_dir-*.ledger", mock_state_dir());
    glob_t g;
    if (glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++)
            unlink(g.gl_pathv[i]);
        globfree(&g);
    }
    return 0;
}

static size_t count_rc(const struct got *g, size_t n, int rc)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += g[i].rc == rc;
    return k;
}

/* A bad file is dead-lettered once, not at every start: the ledger remembers it as it was
 * refused, until it changes. A file that could not be read at all (gone, no permission) is
 * not remembered: that may pass without the file changing. */
static void test_refused_files_are_refused_once(void **state)
{
    (void)state;
    char p[PATH_MAX + 8];
    opt_path(p, sizeof(p), root);
    const char *opts[] = {p, "max_bytes=16K", NULL};
    struct got a[32], b[32];
    size_t na = run_source(opts, a, 32, true);
    size_t bad = count_rc(a, na, NF_ERR);
    size_t nb = run_source(opts, b, 32, false);
    /* The good files again (none was acknowledged), and of the bad ones only those that could
     * not be opened. */
    assert_int_equal(count_rc(b, nb, NF_OK), count_rc(a, na, NF_OK));
    assert_int_equal(count_rc(b, nb, NF_ERR), 1 + (geteuid() != 0));
    for (size_t i = 0; i < nb; i++)
        if (b[i].rc == NF_ERR)
            assert_true(strstr(b[i].uri, "/dangling.txt") || strstr(b[i].uri, "/perm.txt"));
    assert_true(bad > 5);

    /* Changed since: read again. binary.txt is now text; empty.txt is still empty but was
     * written again, so it is refused again, once. */
    char binary[PATH_MAX], empty[PATH_MAX];
    path_of(binary, root, "binary.txt");
    path_of(empty, root, "empty.txt");
    write_file(root, "binary.txt", "now text\n", 9);
    struct timespec later[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = time(NULL) + 5}};
    assert_int_equal(utimensat(AT_FDCWD, empty, later, 0), 0);
    nb = run_source(opts, b, 32, false);
    size_t binary_ok = 0, empty_err = 0;
    for (size_t i = 0; i < nb; i++) {
        binary_ok += b[i].rc == NF_OK && strstr(b[i].uri, "/binary.txt") != NULL;
        empty_err += b[i].rc == NF_ERR && strstr(b[i].uri, "/empty.txt") != NULL;
    }
    assert_int_equal(binary_ok, 1);
    assert_int_equal(empty_err, 1);
    nb = run_source(opts, b, 32, false);
    for (size_t i = 0; i < nb; i++)
        assert_null(strstr(b[i].uri, "/empty.txt"));
    write_file(root, "binary.txt", BIN, sizeof(BIN) - 1);
    forget_ledgers(NULL);
}

/* Reads every file once, acknowledging the good ones. */
static size_t run_and_ack(const char *const *opts)
{
    struct mock_plugin *mp = mock_plugin_new("fetch_dir", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    size_t n = 0;
    int rc;
    while ((rc = mock_next(mp, rec)) != NF_EOF) {
        if (rc == NF_OK) {
            mock_acked(mp, nf_record_str(rec, NF_F_ID, NULL));
            n++;
        }
    }
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
    return n;
}

/* Files are shared by hash modulo the number of workers: with another number, a file one
 * worker finished may now be another's, which must know it is finished. */
static void test_ledger_holds_across_worker_counts(void **state)
{
    (void)state;
    char p[PATH_MAX + 8];
    opt_path(p, sizeof(p), root);
    const char *opts[] = {p, "max_bytes=16K", NULL};
    size_t good = run_and_ack(opts);
    assert_true(good >= 5);
    struct got g[32];
    for (int workers = 2; workers <= 3; workers++) {
        for (int w = 0; w < workers; w++) {
            mock_set_worker(w, workers);
            size_t n = run_source(opts, g, 32, false);
            assert_int_equal(count_rc(g, n, NF_OK), 0);
        }
    }
    /* ... and so does one worker again, after they finished none. */
    mock_set_worker(0, 1);
    size_t n = run_source(opts, g, 32, false);
    assert_int_equal(count_rc(g, n, NF_OK), 0);
    /* A file modified after it was finished is read again, by whichever worker has it now. */
    char a[PATH_MAX];
    path_of(a, root, "a.txt");
    struct timespec later[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = time(NULL) + 5}};
    assert_int_equal(utimensat(AT_FDCWD, a, later, 0), 0);
    size_t again = 0;
    for (int w = 0; w < 2; w++) {
        mock_set_worker(w, 2);
        n = run_source(opts, g, 32, false);
        again += count_rc(g, n, NF_OK);
        for (size_t i = 0; i < n; i++)
            if (g[i].rc == NF_OK)
                assert_non_null(strstr(g[i].uri, "/a.txt"));
    }
    mock_set_worker(0, 1);
    assert_int_equal(again, 1);
    forget_ledgers(NULL);
}

/* ---- watch --------------------------------------------------------------------------- */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Calls next until it gives something other than NF_AGAIN, for at most `ms`. */
static int poll_next(struct mock_plugin *mp, struct nf_record *rec, int ms)
{
    for (int waited = 0;; waited += 10) {
        int rc = mock_next(mp, rec);
        assert_int_not_equal(rc, NF_EOF); /* a watching source never ends */
        if (rc != NF_AGAIN || waited >= ms)
            return rc;
        sleep_ms(10);
    }
}

static void assert_record(struct nf_record *rec, const char *dir, const char *rel,
                          const char *content)
{
    char want[PATH_MAX + 8];
    snprintf(want, sizeof(want), "file://%s/%s", dir, rel);
    const char *uri = NULL;
    assert_int_equal(nf_record_source(rec, &uri, NULL), 0);
    assert_string_equal(uri, want);
    size_t len;
    const void *raw = nf_record_bytes(rec, NF_F_RAW, &len);
    assert_non_null(raw);
    assert_int_equal(len, strlen(content));
    assert_memory_equal(raw, content, len);
}

static void test_watch_follows_new_files(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/nf-fetch-watch-XXXXXX", dir[PATH_MAX];
    assert_non_null(mkdtemp(tmpl));
    assert_non_null(realpath(tmpl, dir));
    write_file(dir, "first.txt", "There before the start.\n", 24);
    char p[PATH_MAX + 8];
    opt_path(p, sizeof(p), dir);
    const char *opts[] = {p, "watch=true", "settle_ms=20", NULL};
    struct mock_plugin *mp = mock_plugin_new("fetch_dir", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();

    assert_int_equal(mock_next(mp, rec), NF_OK);
    assert_record(rec, dir, "first.txt", "There before the start.\n");
    assert_int_equal(mock_next(mp, rec), NF_AGAIN);

    /* The host sleeps on the descriptor the source gave: quiet now, readable once a file
     * arrives, so that the file is taken at once. */
    int wfd = mock_wait_fd();
    assert_true(wfd >= 0);
    struct pollfd pf = {wfd, POLLIN, 0};
    assert_int_equal(poll(&pf, 1, 0), 0);

    /* Written under a hidden temporary name, then renamed in. */
    write_file(dir, ".moved.txt.tmp", "Renamed into place.\n", 20);
    char from[PATH_MAX], to[PATH_MAX];
    path_of(from, dir, ".moved.txt.tmp");
    path_of(to, dir, "moved.txt");
    assert_int_equal(rename(from, to), 0);
    assert_int_equal(poll(&pf, 1, 2000), 1);
    assert_int_equal(poll_next(mp, rec, 2000), NF_OK);
    assert_record(rec, dir, "moved.txt", "Renamed into place.\n");

    /* Renamed into place, it is complete: read at once, not after settle_ms (here a minute,
     * which a file closed after writing still waits). */
    struct mock_plugin *slowmp = NULL;
    {
        const char *slow_opts[] = {p, "watch=true", "settle_ms=60000", NULL};
        slowmp = mock_plugin_new("fetch_dir", slow_opts);
        assert_non_null(slowmp);
        while (mock_next(slowmp, rec) == NF_OK)
            ; /* what is there already */
        write_file(dir, ".quick.txt.tmp", "Renamed, so complete.\n", 22);
        path_of(from, dir, ".quick.txt.tmp");
        path_of(to, dir, "quick.txt");
        assert_int_equal(rename(from, to), 0);
        assert_int_equal(poll_next(slowmp, rec, 2000), NF_OK);
        assert_record(rec, dir, "quick.txt", "Renamed, so complete.\n");
        write_file(dir, "closed.txt", "Closed after writing.\n", 22);
        assert_int_equal(poll_next(slowmp, rec, 300), NF_AGAIN);
        mock_plugin_destroy(&slowmp);
    }
    assert_int_equal(poll_next(mp, rec, 2000), NF_OK); /* the first instance sees them too */
    assert_int_equal(poll_next(mp, rec, 2000), NF_OK);

    /* Written in place: nothing while the writer still has it open, the whole file once it
     * closes. */
    char slow[PATH_MAX];
    path_of(slow, dir, "slow.txt");
    int fd = open(slow, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "First half, ", 12), 12);
    assert_int_equal(poll_next(mp, rec, 300), NF_AGAIN);
    assert_int_equal(write(fd, "second half.\n", 13), 13);
    assert_int_equal(close(fd), 0);
    assert_int_equal(poll_next(mp, rec, 2000), NF_OK);
    assert_record(rec, dir, "slow.txt", "First half, second half.\n");

    /* A bad file is an error for that file only; the source goes on. */
    write_file(dir, "blank.txt", "", 0);
    assert_int_equal(poll_next(mp, rec, 2000), NF_ERR);
    assert_non_null(strstr(mock_last_error(), "blank.txt is empty"));
    assert_non_null(nf_record_str(rec, NF_F_ID, NULL));

    /* A new subdirectory is followed too. */
    make_dir(dir, "later");
    sleep_ms(50);
    write_file(dir, "later/inner.txt", "In a new directory.\n", 20);
    assert_int_equal(poll_next(mp, rec, 2000), NF_OK);
    assert_record(rec, dir, "later/inner.txt", "In a new directory.\n");

    /* Files of other types are ignored while watching as well. */
    write_file(dir, "notes.md", "no", 2);
    assert_int_equal(poll_next(mp, rec, 200), NF_AGAIN);

    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
    assert_int_equal(nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* Polls until a record comes (NF_OK), for at most `ms`, and checks it. */
static void expect_file(struct mock_plugin *mp, struct nf_record *rec, const char *dir,
                        const char *rel, const char *content)
{
    assert_int_equal(poll_next(mp, rec, 3000), NF_OK);
    assert_record(rec, dir, rel, content);
}

/* The watched directory removed, or moved away, and made again: it is watched again, and
 * what is written to it then is read; what is written to it where it was moved is not. */
static void test_watch_survives_the_directory_going(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/nf-fetch-rewatch-XXXXXX", top[PATH_MAX], dir[PATH_MAX], old[PATH_MAX];
    assert_non_null(mkdtemp(tmpl));
    assert_non_null(realpath(tmpl, top));
    path_of(dir, top, "spool");
    path_of(old, top, "spool.old");
    make_dir(top, "spool");
    make_dir(dir, "sub");
    char p[PATH_MAX + 8];
    opt_path(p, sizeof(p), dir);
    const char *opts[] = {p, "watch=true", "settle_ms=20", NULL};
    struct mock_plugin *mp = mock_plugin_new("fetch_dir", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    assert_int_equal(mock_next(mp, rec), NF_AGAIN);
    write_file(dir, "a.txt", "Before anything moved.\n", 23);
    expect_file(mp, rec, dir, "a.txt", "Before anything moved.\n");

    /* A subdirectory removed and made again. */
    char sub[PATH_MAX];
    path_of(sub, dir, "sub");
    assert_int_equal(rmdir(sub), 0);
    assert_int_equal(poll_next(mp, rec, 100), NF_AGAIN);
    make_dir(dir, "sub");
    sleep_ms(50);
    write_file(dir, "sub/b.txt", "In the new subdirectory.\n", 25);
    expect_file(mp, rec, dir, "sub/b.txt", "In the new subdirectory.\n");

    /* The directory itself moved away: what lands in it there is not this source's any more. */
    assert_int_equal(rename(dir, old), 0);
    assert_int_equal(poll_next(mp, rec, 100), NF_AGAIN);
    write_file(old, "late.txt", "Written where it was moved.\n", 28);
    assert_int_equal(poll_next(mp, rec, 300), NF_AGAIN);
    /* Made again under its name: watched, and a file already in it is read too. */
    make_dir(top, "spool");
    write_file(dir, "c.txt", "In the new directory.\n", 22);
    expect_file(mp, rec, dir, "c.txt", "In the new directory.\n");
    write_file(dir, "d.txt", "Later in the new directory.\n", 28);
    expect_file(mp, rec, dir, "d.txt", "Later in the new directory.\n");

    /* Removed with everything in it, then made again. */
    assert_int_equal(nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
    assert_int_equal(poll_next(mp, rec, 100), NF_AGAIN);
    make_dir(top, "spool");
    sleep_ms(50);
    write_file(dir, "e.txt", "After a removal.\n", 17);
    expect_file(mp, rec, dir, "e.txt", "After a removal.\n");

    /* Moved away and back: what it holds is read again (nothing was acknowledged), but a file
     * refused before and unchanged is not refused again. */
    write_file(dir, "blank.txt", "", 0);
    assert_int_equal(poll_next(mp, rec, 3000), NF_ERR);
    assert_non_null(strstr(mock_last_error(), "blank.txt is empty"));
    char away[PATH_MAX];
    path_of(away, top, "spool.away");
    assert_int_equal(rename(dir, away), 0);
    assert_int_equal(poll_next(mp, rec, 100), NF_AGAIN);
    assert_int_equal(rename(away, dir), 0);
    expect_file(mp, rec, dir, "e.txt", "After a removal.\n");
    assert_int_equal(poll_next(mp, rec, 500), NF_AGAIN);

    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
    assert_int_equal(nftw(top, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static int remove_fixtures(void **state)
{
    (void)state;
    return nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    make_fixtures();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_reads_every_file_in_order, forget_ledgers),
        cmocka_unit_test_setup(test_not_recursive_and_extensions, forget_ledgers),
        cmocka_unit_test_setup(test_extensions_split_on_spaces, forget_ledgers),
        cmocka_unit_test_setup(test_two_workers_split_the_files, forget_ledgers),
        cmocka_unit_test(test_missing_directory_fails_init),
        cmocka_unit_test_setup(test_refused_files_are_refused_once, forget_ledgers),
        cmocka_unit_test_setup(test_ledger_holds_across_worker_counts, forget_ledgers),
        cmocka_unit_test_setup(test_watch_follows_new_files, forget_ledgers),
        cmocka_unit_test_setup(test_watch_survives_the_directory_going, forget_ledgers),
        cmocka_unit_test(test_option_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, remove_fixtures);
}
