/* fetch_feed through its descriptor, against a real HTTP server on 127.0.0.1 (the Python
 * script in tests/fixtures/feeds, started by the group setup, killed by its teardown or when
 * this process dies): RSS 2.0, RSS 1.0, Atom and JSON Feed fixtures read field by field, a
 * truncated feed and documents that are no feed, dates in odd forms, article pages with the
 * HTTP failures a crawler meets (status, timeout, size, redirects, media type), conditional
 * polls and the ledger across restarts, refetch, sharding, politeness, a slow server that
 * does not block the source, and option errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mock_core.h"

#define FIXTURES NF_SOURCE_DIR "/tests/fixtures/feeds"

static char root[PATH_MAX], www[PATH_MAX + 8], port_file[PATH_MAX + 16], log_file[PATH_MAX + 16];
static pid_t server = -1;
static int port;

/* ---- the server ---------------------------------------------------------------------- */

static void put_file(const char *rel, const char *data, size_t n)
{
    char path[PATH_MAX + 128];
    snprintf(path, sizeof(path), "%s/%s", www, rel);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void put_str(const char *rel, const char *data)
{
    put_file(rel, data, strlen(data));
}

static void copy_fixture(const char *rel, const char *as)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", FIXTURES, rel);
    size_t n;
    char *data = mock_slurp(path, &n);
    assert_non_null(data);
    put_file(as, data, n);
    free(data);
}

static int start_server(void **state)
{
    (void)state;
    /* the requests go straight to the test server, whatever proxy the environment names */
    const char *proxies[] = {"http_proxy", "https_proxy", "HTTP_PROXY",
                             "HTTPS_PROXY", "all_proxy",   "ALL_PROXY"};
    for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++)
        unsetenv(proxies[i]);
    snprintf(root, sizeof(root), "/tmp/nf-feed-XXXXXX");
    if (!mkdtemp(root))
        return -1;
    snprintf(www, sizeof(www), "%s/www", root);
    snprintf(port_file, sizeof(port_file), "%s/port", root);
    snprintf(log_file, sizeof(log_file), "%s/requests.log", root);
    if (mkdir(www, 0755) < 0)
        return -1;
    server = fork();
    if (server < 0)
        return -1;
    if (server == 0) {
        /* the server goes with this test process, however it ends */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execlp("python3", "python3", FIXTURES "/server.py", "--root", www, "--port-file", port_file,
               "--log", log_file, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(port_file, "r");
        if (f) {
            int ok = fscanf(f, "%d", &port) == 1;
            fclose(f);
            if (ok)
                return 0;
        }
        int st;
        if (waitpid(server, &st, WNOHANG) == server) {
            fprintf(stderr, "the test server exited at start-up\n");
            server = -1;
            return -1;
        }
        usleep(50 * 1000);
    }
    fprintf(stderr, "the test server did not start\n");
    return -1;
}

static int stop_server(void **state)
{
    (void)state;
    if (server > 0) {
        kill(server, SIGTERM);
        waitpid(server, NULL, 0);
        server = -1;
    }
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

/* How many requests the server logged that start with `prefix` ("GET /feed.xml 304"). */
static int requests(const char *prefix)
{
    FILE *f = fopen(log_file, "r");
    assert_non_null(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof(line), f))
        n += strncmp(line, prefix, strlen(prefix)) == 0;
    fclose(f);
    return n;
}

static const char *url(const char *path)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof(buf[k]), "http://127.0.0.1:%d/%s", port, path);
    return buf[k];
}

/* ---- running the source -------------------------------------------------------------- */

struct got {
    int rc;
    char id[33];
    char *uri, *kind, *title, *published, *byline, *outlet, *url, *ctype, *raw, *error;
    size_t raw_len;
};

static char *dup_field(struct nf_record *rec, enum nf_field f)
{
    const char *v = nf_record_str(rec, f, NULL);
    return v ? strdup(v) : NULL;
}

static void got_fill(struct got *g, int rc, struct nf_record *rec)
{
    *g = (struct got){.rc = rc};
    const char *id = nf_record_str(rec, NF_F_ID, NULL);
    if (id)
        snprintf(g->id, sizeof(g->id), "%s", id);
    const char *u = NULL, *k = NULL;
    nf_record_source(rec, &u, &k);
    g->uri = u ? strdup(u) : NULL;
    g->kind = k ? strdup(k) : NULL;
    g->title = dup_field(rec, NF_F_TITLE);
    g->published = dup_field(rec, NF_F_PUBLISHED_AT);
    g->byline = dup_field(rec, NF_F_BYLINE);
    g->outlet = dup_field(rec, NF_F_OUTLET);
    g->url = dup_field(rec, NF_F_URL);
    g->ctype = dup_field(rec, NF_F_CONTENT_TYPE);
    size_t n = 0;
    const void *raw = nf_record_bytes(rec, NF_F_RAW, &n);
    if (raw) {
        g->raw = malloc(n + 1);
        memcpy(g->raw, raw, n);
        g->raw[n] = '\0';
        g->raw_len = n;
    }
    if (rc != NF_OK)
        g->error = strdup(mock_last_error());
}

static void got_free(struct got *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct got *g = &v[i];
        free(g->uri);
        free(g->kind);
        free(g->title);
        free(g->published);
        free(g->byline);
        free(g->outlet);
        free(g->url);
        free(g->ctype);
        free(g->raw);
        free(g->error);
    }
    free(v);
}

/* Calls next until the source ends (it runs with once = true), waiting on NF_AGAIN. */
static struct got *drain(struct mock_plugin *mp, size_t *n_out)
{
    struct nf_record *rec = nf_record_new();
    size_t n = 0, cap = 16;
    struct got *v = calloc(cap, sizeof(*v));
    int rc;
    for (int spins = 0; (rc = mock_next(mp, rec)) != NF_EOF; spins++) {
        assert_true(spins < 3000); /* 30 s at most, or the source hangs */
        if (rc == NF_AGAIN) {
            usleep(10 * 1000);
            continue;
        }
        if (n == cap)
            v = realloc(v, (cap *= 2) * sizeof(*v));
        got_fill(&v[n++], rc, rec);
    }
    nf_record_destroy(&rec);
    *n_out = n;
    return v;
}

static struct mock_plugin *open_src(const char *feeds, const char *const *extra)
{
    static char opt_feeds[4096];
    snprintf(opt_feeds, sizeof(opt_feeds), "feeds=%s", feeds);
    const char *opts[16] = {opt_feeds, "once=true", "host_delay_ms=0", "remember=false",
                            "private_hosts=true"};
    size_t n = 5;
    for (size_t i = 0; extra && extra[i] && n < 15; i++)
        opts[n++] = extra[i];
    opts[n] = NULL;
    struct mock_plugin *mp = mock_plugin_new("fetch_feed", opts);
    assert_non_null(mp);
    return mp;
}

static const char *const CONTENT_ONLY[] = {"fetch_pages=false", NULL};

/* A whole run of the source over `feeds`: its records (*n_out of them, for got_free). */
static struct got *run_once(const char *feeds, const char *const *extra, size_t *n_out)
{
    struct mock_plugin *mp = open_src(feeds, extra);
    struct got *v = drain(mp, n_out);
    mock_plugin_destroy(&mp);
    return v;
}

/* A whole run of the source over one fixture feed, served as `as`, with fetch_pages off. */
static struct got *run_fixture(const char *rel, const char *as, size_t *n_out)
{
    copy_fixture(rel, as);
    return run_once(url(as), CONTENT_ONLY, n_out);
}

/* Calls next while it says NF_AGAIN (at most 1000 times, or the source hangs); returns what it
 * said then, and in *waits_out (if not NULL) how often it had to wait. */
static int next_ready(struct mock_plugin *mp, struct nf_record *rec, int *waits_out)
{
    int rc, waits = 0;
    while ((rc = mock_next(mp, rec)) == NF_AGAIN) {
        assert_true(++waits < 1000);
        usleep(10 * 1000);
    }
    if (waits_out)
        *waits_out = waits;
    return rc;
}

/* Five calls of next in a row say NF_AGAIN: the source waits (for a host), it does not end. */
static void assert_still_waits(struct mock_plugin *mp, struct nf_record *rec)
{
    for (int i = 0; i < 5; i++)
        assert_int_equal(mock_next(mp, rec), NF_AGAIN);
}

/* The record's raw bytes are `want`, to the byte. */
static void assert_raw(struct nf_record *rec, const char *want)
{
    size_t len;
    const char *raw = nf_record_bytes(rec, NF_F_RAW, &len);
    assert_non_null(raw);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(raw, want, len);
}

static const struct got *by_title(const struct got *v, size_t n, const char *title)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].title && strcmp(v[i].title, title) == 0)
            return &v[i];
    fail_msg("no record titled \"%s\"", title);
    return NULL;
}

static const struct got *by_url(const struct got *v, size_t n, const char *u)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].url && strcmp(v[i].url, u) == 0)
            return &v[i];
    fail_msg("no record with url %s", u);
    return NULL;
}

static void assert_id_of(const struct got *g, const char *name)
{
    char id[33];
    nf_id_make(name, strlen(name), id);
    assert_string_equal(g->id, id);
}

/* ---- feed formats -------------------------------------------------------------------- */

static void test_rss2(void **state)
{
    (void)state;
    copy_fixture("trafilatura/feed2.rss", "feed2.rss");
    copy_fixture("rss-parser/instant-article.rss", "instant.rss");
    copy_fixture("rss-parser/narro.rss", "narro.rss");
    copy_fixture("rss-parser/heraldsun.rss", "heraldsun.rss");
    char feeds[2048];
    snprintf(feeds, sizeof(feeds), "%s,%s %s\t%s", url("feed2.rss"), url("instant.rss"),
             url("narro.rss"), url("heraldsun.rss"));
    size_t n;
    struct got *v = run_once(feeds, CONTENT_ONLY, &n);
    assert_int_equal(n, 1 + 1 + 1 + 2);

    const struct got *g = by_title(v, n, "Example entry");
    assert_int_equal(g->rc, NF_OK);
    assert_string_equal(g->url, "http://www.example.com/blog/post/1");
    assert_id_of(g, "http://www.example.com/blog/post/1");
    assert_string_equal(g->kind, "feed");
    char uri[1024];
    snprintf(uri, sizeof(uri), "%s#http://www.example.com/blog/post/1", url("feed2.rss"));
    assert_string_equal(g->uri, uri);
    assert_string_equal(g->published, "2009-09-06T16:20:00Z");
    assert_string_equal(g->outlet, "RSS Title");
    assert_null(g->byline);
    assert_string_equal(g->ctype, "text/html; charset=utf-8");
    assert_string_equal(g->raw, "Here is some text containing an interesting description.");

    /* content:encoded before description, dc:creator as byline, pubDate before dc:date */
    g = by_title(v, n, "My first Instant Article");
    assert_string_equal(g->raw, "<b>Lorem</b> ipsum");
    assert_string_equal(g->byline, "tobi");
    assert_string_equal(g->published, "2016-05-04T06:53:45Z");
    assert_string_equal(g->url, "https://localhost:8000/");
    assert_string_equal(g->outlet, "Instant Article Test");

    /* an <author> that is only an e-mail address is no byline; UTC is a zone */
    g = by_title(v, n, "FAQ for Narro");
    assert_null(g->byline);
    assert_string_equal(g->published, "2015-02-20T09:51:15Z");
    assert_string_equal(g->url, "https://www.narro.co/article/54e703933058540300000069");

    /* RSS 0.92 in ISO-8859-1: items without dates have none */
    g = by_title(v, n, "The Second Item");
    assert_string_equal(g->url, "http://www.oreilly.com/example/002.html");
    assert_string_equal(g->raw, "This is the second item.");
    assert_string_equal(g->outlet, "RSS0.92 Example");
    assert_null(g->published);
    got_free(v, n);
}

static void test_rss1(void **state)
{
    (void)state;
    size_t n;
    struct got *v = run_fixture("rss-parser/rss-1.rss", "rss-1.rss", &n);
    assert_true(n > 20);
    const struct got *g = by_title(v, n, "Food for fungi");
    /* the items carry no text of their own: with fetch_pages off there is nothing to read,
     * and the record says so, with what the feed gave */
    assert_int_equal(g->rc, NF_ERR);
    assert_non_null(strstr(g->error, "no content in the feed and fetch_pages is off"));
    assert_string_equal(g->url,
                        "http://science.sciencemag.org/cgi/content/short/356/6343/1134-a?rss=1");
    assert_string_equal(g->byline, "Hines, P. J.");
    assert_string_equal(g->published, "2017-06-15T17:29:47Z");
    g = by_title(v, n, "Go with the flow in drug manufacturing");
    assert_string_equal(g->byline, "Yeston, J.");
    got_free(v, n);
}

static void test_atom(void **state)
{
    (void)state;
    copy_fixture("trafilatura/feed1.atom", "feed1.atom");
    copy_fixture("rss-parser/gulp-atom.atom", "gulp.atom");
    put_str("xhtml.atom",
            "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:base=\"http://base.example/news/\">"
            "<title>X</title><entry><title type=\"html\">Caf&amp;eacute; in &lt;b&gt;bold"
            "&lt;/b&gt;</title><link rel=\"alternate\" href=\"2024/a.html\"/>"
            "<link rel=\"enclosure\" href=\"/a.mp3\"/><id>tag:x,2024:a</id>"
            "<published>2024-03-01T00:59:00+01:00</published><updated>2025-01-01T00:00:00Z"
            "</updated><author><name>Ann One</name></author><author><name>Bob Two</name>"
            "</author><content type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">"
            "<p>Hello <b>world</b></p></div></content></entry></feed>");
    char feeds[1024];
    snprintf(feeds, sizeof(feeds), "%s,%s,%s", url("feed1.atom"), url("gulp.atom"),
             url("xhtml.atom"));
    size_t n;
    struct got *v = run_once(feeds, CONTENT_ONLY, &n);
    assert_int_equal(n, 2 + 10 + 1);

    const struct got *g = by_title(v, n, "Atom-Powered Robots Run Amok");
    assert_int_equal(g->rc, NF_OK);
    assert_string_equal(g->url, "http://example.org/2003/12/13/atom03");
    assert_string_equal(g->published, "2003-12-13T18:30:02Z");
    assert_string_equal(g->byline, "John Doe"); /* the feed's author */
    assert_string_equal(g->outlet, "Example Feed");
    assert_string_equal(g->raw, "Some text.");
    assert_string_equal(g->ctype, "text/plain; charset=utf-8");

    /* only a rel="self" link: no article link, named by its feed and id */
    g = by_title(v, n, "Self-referenced link");
    assert_int_equal(g->rc, NF_OK);
    assert_null(g->url);
    char uri[1024];
    snprintf(uri, sizeof(uri), "%s#urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa60",
             url("feed1.atom"));
    assert_string_equal(g->uri, uri);
    assert_id_of(g, uri);

    /* xml:base, an html title, xhtml content */
    g = by_url(v, n, "http://base.example/news/2024/a.html");
    assert_string_equal(g->title, "Caf\xc3\xa9 in bold");
    assert_string_equal(g->raw, "<p>Hello <b>world</b></p>");
    assert_string_equal(g->ctype, "text/html; charset=utf-8");
    assert_string_equal(g->byline, "Ann One, Bob Two");
    assert_string_equal(g->published, "2024-02-29T23:59:00Z");

    /* relative links resolved against the feed's URL, html content, entry authors */
    g = by_title(v, n, "v3.9.0");
    assert_string_equal(g->url, url("gulpjs/gulp/releases/tag/v3.9.0"));
    assert_string_equal(g->published, "2015-06-01T21:49:41Z");
    assert_string_equal(g->byline, "contra");
    assert_string_equal(g->raw, "<p>3.9.0</p>");
    assert_string_equal(g->ctype, "text/html; charset=utf-8");
    assert_string_equal(g->outlet, "Release notes from gulp");
    got_free(v, n);
}

static void test_json_feed(void **state)
{
    (void)state;
    size_t n;
    struct got *v = run_fixture("trafilatura/feed.json", "feed.json", &n);
    assert_int_equal(n, 25);
    const struct got *g = by_title(v, n, "Keller Rinaudo: How can delivery drones save lives?");
    assert_int_equal(g->rc, NF_OK);
    /* the utm_* parameters are not part of the article's identity */
    assert_string_equal(g->url, "https://www.npr.org/2021/10/29/1050315385/"
                                "keller-rinaudo-how-can-delivery-drones-save-lives");
    assert_id_of(g, g->url);
    assert_string_equal(g->published, "2021-10-29T14:26:00Z");
    assert_string_equal(g->byline, "Manoush Zomorodi");
    assert_string_equal(g->outlet, "Technology");
    assert_non_null(strstr(g->raw, "<p>In rural areas, basic health care"));
    g = by_title(v, n,
                 "Facebook wants to lean into the metaverse. Here's what it is and how it will "
                 "work");
    assert_string_equal(g->byline, "The Associated Press");
    assert_string_equal(g->published, "2021-10-29T00:20:19Z");
    got_free(v, n);
}

static void test_broken_feeds(void **state)
{
    (void)state;
    copy_fixture("truncated.rss", "truncated.rss");
    copy_fixture("rss-parser/incomplete-fields.atom", "incomplete.atom");
    copy_fixture("rss-parser/unrecognized.rss", "unrecognized.rss");
    put_str("garbage.xml", "\x01\x02 this is no document at all");
    put_str("empty.xml", "  \n");
    char feeds[2048];
    snprintf(feeds, sizeof(feeds), "%s,%s,%s,%s,%s", url("truncated.rss"), url("incomplete.atom"),
             url("unrecognized.rss"), url("garbage.xml"), url("empty.xml"));
    int64_t errors = mock_counter("feed_errors");
    size_t n;
    struct got *v = run_once(feeds, CONTENT_ONLY, &n);
    /* three documents are no feed: logged, counted, nothing emitted, the source goes on */
    assert_int_equal(mock_counter("feed_errors") - errors, 3);

    const struct got *g = by_title(v, n, "Whole item");
    assert_int_equal(g->rc, NF_OK);
    assert_string_equal(g->url, "http://cut.example/a?id=1");
    assert_string_equal(g->byline, "Jane Roe");
    assert_string_equal(g->published, "2003-06-10T04:00:00Z");
    assert_string_equal(g->raw, "<p>The first item is complete.</p>");
    /* HTML entities, which XML does not define, and &amp; after the stray '&' */
    g = by_title(v, n, "It\xe2\x80\x99s \"here\"\xc2\xa0now");
    assert_string_equal(g->url, "http://cut.example/c?a=1&b=2");
    assert_string_equal(g->byline, "John Doe");
    /* the item cut short is read as far as it goes */
    g = by_title(v, n, "Second item");
    assert_string_equal(g->url, url("b"));
    assert_null(g->byline);
    assert_non_null(strstr(g->raw, "The second item lost"));
    /* an entry with nothing in it: an error naming the feed, not a crash or a silent drop */
    size_t empty = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i].rc == NF_ERR && strstr(v[i].error, url("incomplete.atom")) &&
            strstr(v[i].error, "neither a link nor any content"))
            empty++;
    assert_int_equal(empty, 1);
    assert_int_equal(n, 4);
    got_free(v, n);
}

static void test_charsets(void **state)
{
    (void)state;
    /* Latin-1 without a declaration: the server's charset is what tells */
    put_str("latin1.xml", "<rss version=\"2.0\"><channel><title>Caf\xe9</title><item><title>Na"
                          "\xefve</title><link>http://x.example/n</link><description>d"
                          "</description></item></channel></rss>");
    /* UTF-8 that says so: its declaration wins over a wrong server charset */
    put_str("declared.xml", "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\">"
                            "<channel><title>Caf\xc3\xa9</title><item><title>\xc3\x9c" "ber"
                            "</title><link>http://x.example/u</link><description>d</description>"
                            "</item></channel></rss>");
    char feeds[1024];
    snprintf(feeds, sizeof(feeds), "%s %s", url("charset/iso-8859-1/latin1.xml"),
             url("charset/iso-8859-1/declared.xml"));
    size_t n;
    struct got *v = run_once(feeds, CONTENT_ONLY, &n);
    assert_int_equal(n, 2);
    const struct got *g = by_url(v, n, "http://x.example/n");
    assert_string_equal(g->title, "Na\xc3\xafve");
    assert_string_equal(g->outlet, "Caf\xc3\xa9");
    g = by_url(v, n, "http://x.example/u");
    assert_string_equal(g->title, "\xc3\x9c" "ber");
    assert_string_equal(g->outlet, "Caf\xc3\xa9");
    got_free(v, n);
}

static void test_odd_dates(void **state)
{
    (void)state;
    size_t n;
    struct got *v = run_fixture("odd-dates.rss", "odd-dates.rss", &n);
    assert_int_equal(n, 20);
    size_t none = 0;
    for (size_t i = 0; i < n; i++) {
        /* each title says what the date must become */
        if (strcmp(v[i].title, "none") == 0) {
            if (v[i].published)
                fail_msg("%s: expected no date, got %s", v[i].url, v[i].published);
            none++;
        } else {
            if (!v[i].published || strcmp(v[i].published, v[i].title) != 0)
                fail_msg("%s: expected %s, got %s", v[i].url, v[i].title,
                         v[i].published ? v[i].published : "none");
        }
    }
    assert_int_equal(none, 7);
    got_free(v, n);
}

/* ---- article pages over HTTP --------------------------------------------------------- */

static const char PAGE[] = "<html><head><title>Page one</title></head><body><article><p>The "
                           "first page's text.</p></article></body></html>";
static const char PAGE_SITE[] =
    "<html><head><meta property=\"og:site_name\" content=\"The Site\"></head><body><p>Named."
    "</p></body></html>";

/* An RSS feed of items linking to `paths` on the test server, titled by their path. */
static void put_feed(const char *name, const char *title, const char *const *paths)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fprintf(f, "<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel><title>%s</title>\n", title);
    for (size_t i = 0; paths[i]; i++)
        fprintf(f,
                "<item><title>%s</title><link>%s</link><pubDate>%02zu Jan 2024 10:00:00 "
                "GMT</pubDate><author>x@example.org (Writer %zu)</author>"
                "<description>summary %zu</description></item>\n",
                paths[i], url(paths[i]), i + 1, i, i);
    fprintf(f, "</channel></rss>\n");
    fclose(f);
    put_file(name, buf, len);
    free(buf);
}

static void test_pages(void **state)
{
    (void)state;
    put_str("one.html", PAGE);
    put_str("named.html", PAGE_SITE);
    put_str("plain.txt", "A plain text article.\n");
    put_str("doc.pdf", "%PDF-1.4 not a page");
    put_str("moved.html", PAGE);
    put_str("zipped.html", PAGE);
    const char *const paths[] = {"one.html",
                                 "named.html",
                                 "plain.txt",
                                 "doc.pdf",
                                 "status/404/x",
                                 "status/500/y",
                                 "slow/3000/one.html",
                                 "big/200000",
                                 "stream/300000",
                                 "redirect/2/moved.html",
                                 "redirect/9/one.html",
                                 "gzip/zipped.html",
                                 NULL};
    put_feed("pages.xml", "Pages &amp; more", paths);
    const char *const extra[] = {"timeout_ms=1000", "max_bytes=100000", "max_redirects=3",
                                 "user_agent=feedtest/2 (+ops@example.org)", NULL};
    size_t n;
    struct got *v = run_once(url("pages.xml"), extra, &n);
    assert_int_equal(n, 12);

    const struct got *g = by_url(v, n, url("one.html"));
    assert_int_equal(g->rc, NF_OK);
    assert_string_equal(g->kind, "http");
    assert_string_equal(g->uri, url("one.html"));
    assert_id_of(g, url("one.html"));
    assert_string_equal(g->raw, PAGE);
    assert_string_equal(g->ctype, "text/html; charset=utf-8");
    assert_string_equal(g->title, "one.html");
    assert_string_equal(g->published, "2024-01-01T10:00:00Z");
    assert_string_equal(g->byline, "Writer 0");
    assert_string_equal(g->outlet, "Pages & more"); /* the page names no site */

    g = by_url(v, n, url("named.html"));
    assert_int_equal(g->rc, NF_OK);
    assert_null(g->outlet); /* left to clean_html, which reads og:site_name */

    g = by_url(v, n, url("plain.txt"));
    assert_int_equal(g->rc, NF_OK);
    assert_string_equal(g->ctype, "text/plain; charset=utf-8");

    struct {
        const char *path, *says;
    } bad[] = {
        {"doc.pdf", "application/pdf is not a web page"},
        {"status/404/x", "HTTP 404"},
        {"status/500/y", "HTTP 500"},
        {"slow/3000/one.html", "timed out"},
        {"big/200000", "larger than max_bytes"},
        {"stream/300000", "larger than max_bytes"},
        {"redirect/9/one.html", "more than max_redirects (3)"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        g = by_url(v, n, url(bad[i].path));
        assert_int_equal(g->rc, NF_ERR);
        /* the reason names the URL and what went wrong; the record keeps the feed's facts */
        assert_non_null(strstr(g->error, url(bad[i].path)));
        if (!strstr(g->error, bad[i].says))
            fail_msg("%s: expected \"%s\" in \"%s\"", bad[i].path, bad[i].says, g->error);
        assert_id_of(g, url(bad[i].path));
        assert_string_equal(g->title, bad[i].path);
    }
    /* redirects are followed; url is where the page was found */
    g = by_url(v, n, url("moved.html"));
    assert_int_equal(g->rc, NF_OK);
    assert_string_equal(g->uri, url("redirect/2/moved.html"));
    assert_string_equal(g->raw, PAGE);
    /* a gzip-encoded page arrives decompressed */
    g = by_title(v, n, "gzip/zipped.html");
    assert_int_equal(g->rc, NF_OK);
    assert_string_equal(g->raw, PAGE);
    assert_int_equal(requests("GET /redirect/"), 2 + 1 + 3);
    /* every request says who asks */
    assert_int_equal(requests("GET /pages.xml 200 feedtest/2 (+ops@example.org)"), 1);
    assert_int_equal(requests("GET /one.html 200 feedtest/2 (+ops@example.org)"), 1);
    got_free(v, n);
}

/* ---- delivery: conditional polls, the ledger, refetch -------------------------------- */

static void test_ledger_and_conditional_polls(void **state)
{
    (void)state;
    put_str("l1.html", PAGE);
    put_str("l2.html", PAGE);
    put_str("l3.html", PAGE);
    const char *const paths[] = {"l1.html", "l2.html", "l3.html", "status/503/l4", NULL};
    put_feed("ledger.xml", "Ledger", paths);
    const char *const remember[] = {"remember=true", NULL};

    /* first run: everything fetched; two of the three pages acknowledged, the failed one
     * dead-lettered (NF_ERR) */
    struct mock_plugin *mp = open_src(url("ledger.xml"), remember);
    size_t n;
    struct got *v = drain(mp, &n);
    assert_int_equal(n, 4);
    mock_acked(mp, by_url(v, n, url("l1.html"))->id);
    mock_acked(mp, by_url(v, n, url("l2.html"))->id);
    assert_int_equal(by_url(v, n, url("status/503/l4"))->rc, NF_ERR);
    got_free(v, n);
    mock_plugin_destroy(&mp);
    assert_int_equal(requests("GET /ledger.xml 200"), 1);
    assert_int_equal(requests("GET /l1.html 200"), 1);

    /* restart: the feed is read again in full (an item was never acknowledged), only the
     * unacknowledged page is fetched and emitted again; the failed one waits retry_failed_s */
    mp = open_src(url("ledger.xml"), remember);
    v = drain(mp, &n);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].url, url("l3.html"));
    assert_int_equal(requests("GET /ledger.xml 200"), 2);
    assert_int_equal(requests("GET /l1.html"), 1);
    assert_int_equal(requests("GET /l2.html"), 1);
    assert_int_equal(requests("GET /l3.html"), 2);
    assert_int_equal(requests("GET /status/503/l4"), 1);
    mock_acked(mp, v[0].id);
    got_free(v, n);
    mock_plugin_destroy(&mp);

    /* everything finished: the next run asks with the feed's validators and gets a 304 */
    v = run_once(url("ledger.xml"), remember, &n);
    assert_int_equal(n, 0);
    assert_int_equal(requests("GET /ledger.xml 304"), 1);
    assert_int_equal(requests("GET /l3.html"), 2);
    got_free(v, n);

    /* without the ledger the same run fetches every page again */
    v = run_once(url("ledger.xml"), NULL, &n);
    assert_int_equal(n, 4);
    got_free(v, n);
}

static void test_ledger_forgets(void **state)
{
    (void)state;
    put_str("f1.html", PAGE);
    put_str("f2.html", PAGE);
    const char *const paths[] = {"f1.html", "f2.html", NULL};
    put_feed("forget.xml", "Forget", paths);
    char old_id[33], new_id[33], path[PATH_MAX];
    nf_id_make(url("f1.html"), strlen(url("f1.html")), old_id);
    nf_id_make(url("f2.html"), strlen(url("f2.html")), new_id);
    /* f1 was stored 100 days ago, f2 an hour ago; with them, old lines of long gone items */
    long long now = (long long)time(NULL) * 1000, old = now - 100LL * 86400000;
    snprintf(path, sizeof(path), "%s/fetch_feed-0.ledger", mock_state_dir());
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fprintf(f, "%s a %lld\n", old_id, old);
    for (int i = 0; i < 30; i++)
        fprintf(f, "%032x a %lld\n", i + 1, old - i);
    fprintf(f, "%s a %lld\n", new_id, now - 3600000);
    fclose(f);

    const char *const remember[] = {"remember=true", NULL};
    size_t n;
    struct got *v = run_once(url("forget.xml"), remember, &n);
    /* forgotten after forget_days (90): fetched again; the recent one is not */
    assert_int_equal(n, 1);
    assert_string_equal(v[0].url, url("f1.html"));
    assert_int_equal(requests("GET /f2.html"), 0);
    got_free(v, n);
    /* the worker's ledger was rewritten without the old lines */
    size_t len;
    char *ledger = mock_slurp(path, &len);
    assert_non_null(ledger);
    char line[96];
    snprintf(line, sizeof(line), "%s a %lld", old_id, old);
    assert_null(strstr(ledger, line));
    snprintf(line, sizeof(line), "%032x a", 7);
    assert_null(strstr(ledger, line));
    assert_non_null(strstr(ledger, new_id));
    free(ledger);
}

/* The source's next record, journaled without raw as the host does for a source that can
 * refetch, comes back from refetch with `want` as raw. */
static void assert_refetched(struct mock_plugin *mp, struct nf_record *rec, const char *want)
{
    assert_int_equal(next_ready(mp, rec, NULL), NF_OK);
    assert_int_equal(mock_roundtrip(rec), 0);
    nf_record_unset(rec, NF_F_RAW);
    assert_int_equal(mock_refetch(mp, rec), NF_OK);
    assert_raw(rec, want);
}

static void test_refetch(void **state)
{
    (void)state;
    put_str("r1.html", PAGE);
    const char *const paths[] = {"r1.html", NULL};
    put_feed("refetch.xml", "Refetch", paths);
    struct mock_plugin *mp = open_src(url("refetch.xml"), NULL);
    struct nf_record *rec = nf_record_new();
    assert_refetched(mp, rec, PAGE);
    assert_string_equal(nf_record_str(rec, NF_F_TITLE, NULL), "r1.html");
    /* the page went away: an error that names it */
    char gone[PATH_MAX + 32];
    snprintf(gone, sizeof(gone), "%s/r1.html", www);
    assert_int_equal(unlink(gone), 0);
    nf_record_unset(rec, NF_F_RAW);
    assert_int_equal(mock_refetch(mp, rec), NF_ERR);
    assert_non_null(strstr(mock_last_error(), url("r1.html")));
    assert_non_null(strstr(mock_last_error(), "HTTP 404"));
    mock_plugin_destroy(&mp);

    /* after a restart, a record the host resends from its journal is not fetched again by
     * the next poll of its feed */
    put_str("r2.html", PAGE);
    const char *const paths2[] = {"r1.html", "r2.html", NULL};
    put_feed("refetch2.xml", "Refetch", paths2);
    mp = open_src(url("refetch2.xml"), NULL);
    char id[33];
    nf_id_make(url("r2.html"), strlen(url("r2.html")), id);
    nf_record_reset(rec);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_ID, id), 0);
    assert_int_equal(nf_record_set_source(rec, url("r2.html"), "http"), 0);
    assert_int_equal(mock_refetch(mp, rec), NF_OK);
    size_t n;
    struct got *v = drain(mp, &n);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].url, url("r1.html")); /* gone: its refetch failed with a 404 */
    assert_int_equal(v[0].rc, NF_ERR);
    assert_int_equal(requests("GET /r2.html"), 1);
    got_free(v, n);
    mock_plugin_destroy(&mp);

    /* an item carried by its feed's content is found again in the feed */
    copy_fixture("trafilatura/feed1.atom", "refetch.atom");
    mp = open_src(url("refetch.atom"), CONTENT_ONLY);
    assert_refetched(mp, rec, "Some text.");
    char uri[1024];
    snprintf(uri, sizeof(uri), "%s#urn:uuid:not-there", url("refetch.atom"));
    assert_int_equal(nf_record_set_source(rec, uri, "feed"), 0);
    assert_int_equal(mock_refetch(mp, rec), NF_ERR);
    assert_non_null(strstr(mock_last_error(), "no longer lists the item"));
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* ---- workers, politeness, options ---------------------------------------------------- */

/* Feeds are shared out by a hash of their URL, whose port the test server picks: with 8 feeds
 * one worker got none in about one run in 128. With 32 it is one in 2^31. */
#define SHARD_FEEDS 32

static void test_sharding(void **state)
{
    (void)state;
    char feeds[8192] = "", name[32];
    for (int i = 0; i < SHARD_FEEDS; i++) {
        snprintf(name, sizeof(name), "shard%d.atom", i);
        copy_fixture("trafilatura/feed1.atom", name);
        strcat(feeds, url(name));
        strcat(feeds, ",");
    }
    size_t total = 0, without_link = 0, seen[2] = {0};
    for (int w = 0; w < 2; w++) {
        mock_set_worker(w, 2);
        size_t n;
        struct got *v = run_once(feeds, CONTENT_ONLY, &n);
        seen[w] = n;
        total += n;
        for (size_t i = 0; i < n; i++)
            without_link += v[i].url == NULL;
        got_free(v, n);
    }
    mock_set_worker(0, 1);
    /* every feed is polled by exactly one worker, and both have some: the entry without a
     * link is one record per feed; the one with a link is one article per worker */
    assert_true(seen[0] > 0 && seen[1] > 0);
    assert_int_equal(without_link, SHARD_FEEDS);
    assert_int_equal(total, SHARD_FEEDS + 2);
    for (int i = 0; i < SHARD_FEEDS; i++) {
        char line[64];
        snprintf(line, sizeof(line), "GET /shard%d.atom 200", i);
        assert_int_equal(requests(line), 1);
    }
}

static void test_politeness_and_feed_errors(void **state)
{
    (void)state;
    put_str("p1.html", PAGE);
    put_str("p2.html", PAGE);
    /* two pages on 127.0.0.1, one on localhost: another host for the pacing */
    char feed[2048];
    snprintf(feed, sizeof(feed),
             "<rss version=\"2.0\"><channel><title>P</title>"
             "<item><title>a</title><link>%s</link></item>"
             "<item><title>b</title><link>%s</link></item>"
             "<item><title>c</title><link>http://localhost:%d/p1.html</link></item>"
             "</channel></rss>",
             url("p1.html"), url("p2.html"), port);
    put_str("polite.xml", feed);
    char feeds[1024];
    snprintf(feeds, sizeof(feeds), "%s %s", url("polite.xml"), url("status/500/feed.xml"));
    int64_t errors = mock_counter("feed_errors");
    const char *opts[] = {"feeds=x",        "once=false",         "host_delay_ms=600000",
                          "remember=false", "private_hosts=true", NULL,
                          NULL};
    static char f[1100];
    snprintf(f, sizeof(f), "feeds=%s", feeds);
    opts[0] = f;
    struct mock_plugin *mp = mock_plugin_new("fetch_feed", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    /* the feed's host was just asked: its pages wait, localhost's goes ahead */
    assert_int_equal(next_ready(mp, rec, NULL), NF_OK);
    assert_string_equal(nf_record_str(rec, NF_F_TITLE, NULL), "c");
    /* nothing else may be asked for ten minutes: the source waits, it does not end */
    assert_still_waits(mp, rec);
    assert_int_equal(requests("GET /p1.html"), 1); /* localhost's */
    assert_int_equal(requests("GET /p2.html"), 0);
    assert_int_equal(requests("GET /status/500/feed.xml"), 0); /* same host as polite.xml */
    mock_plugin_destroy(&mp);

    /* a failing feed is an error naming its URL and status (logged), and the source keeps
     * running and asks again at the next poll */
    snprintf(f, sizeof(f), "feeds=%s", url("status/500/feed.xml"));
    opts[2] = "host_delay_ms=0";
    opts[5] = "poll_s=1";
    opts[6] = NULL;
    mp = mock_plugin_new("fetch_feed", opts);
    assert_non_null(mp);
    for (int spins = 0; mock_counter("feed_errors") - errors < 2; spins++) {
        assert_true(spins < 1000);
        assert_int_equal(mock_next(mp, rec), NF_AGAIN);
        usleep(10 * 1000);
    }
    assert_int_equal(requests("GET /status/500/feed.xml 500"), 2);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_retry_after(void **state)
{
    (void)state;
    put_str("after.html", PAGE);
    const char *const paths[] = {"busy/600/x", "after.html", NULL};
    put_feed("busy.xml", "Busy", paths);
    struct mock_plugin *mp = open_src(url("busy.xml"), NULL);
    struct nf_record *rec = nf_record_new();
    assert_int_equal(next_ready(mp, rec, NULL), NF_ERR);
    assert_non_null(strstr(mock_last_error(), "HTTP 503"));
    /* the server asked for ten minutes of quiet (host_delay_ms is 0 here): it gets them */
    assert_still_waits(mp, rec);
    assert_int_equal(requests("GET /after.html"), 0);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_slow_server_does_not_block(void **state)
{
    (void)state;
    put_str("slowpage.html", PAGE);
    const char *const paths[] = {"slow/1500/slowpage.html", NULL};
    put_feed("slow.xml", "Slow", paths);
    struct mock_plugin *mp = open_src(url("slow.xml"), NULL);
    struct nf_record *rec = nf_record_new();
    /* the server takes 1.5 s: next() returns meanwhile instead of waiting for it */
    int waits;
    assert_int_equal(next_ready(mp, rec, &waits), NF_OK);
    assert_true(waits > 0);
    assert_raw(rec, PAGE);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_private_hosts_refused(void **state)
{
    (void)state;
    put_str("private.html", PAGE);
    const char *const paths[] = {"private.html", NULL};
    put_feed("private.xml", "Private", paths);
    int64_t errors = mock_counter("feed_errors");
    char opt[600];
    snprintf(opt, sizeof(opt), "feeds=%s", url("private.xml"));
    const char *opts[] = {opt, "once=true", "remember=false", NULL};
    struct mock_plugin *mp = mock_plugin_new("fetch_feed", opts);
    assert_non_null(mp);
    size_t n;
    struct got *v = drain(mp, &n);
    /* the feed on 127.0.0.1 is not asked: counted as a failed feed, nothing emitted */
    assert_int_equal(n, 0);
    assert_int_equal(mock_counter("feed_errors") - errors, 1);
    assert_int_equal(requests("GET /private.xml"), 0);
    got_free(v, n);
    /* nor is a page there, whatever the record says */
    struct nf_record *rec = nf_record_new();
    assert_int_equal(nf_record_set_cstr(rec, NF_F_ID, "0123456789abcdef0123456789abcdef"), 0);
    assert_int_equal(nf_record_set_source(rec, url("private.html"), "http"), 0);
    assert_int_equal(mock_refetch(mp, rec), NF_ERR);
    assert_non_null(strstr(mock_last_error(), url("private.html")));
    assert_non_null(strstr(mock_last_error(), "refused: 127.0.0.1 is a loopback"));
    assert_int_equal(requests("GET /private.html"), 0);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_option_errors(void **state)
{
    (void)state;
    const char *none[] = {NULL};
    assert_null(mock_plugin_new("fetch_feed", none));
    /* the plugin's validate says it (what `newsflow check` runs), naming the option */
    assert_string_equal(mock_last_error(), "no feed to poll: set option 'feeds' or 'feeds_file'");
    const char *ftp[] = {"feeds=ftp://example.org/feed.xml", NULL};
    assert_null(mock_plugin_new("fetch_feed", ftp));
    assert_non_null(strstr(mock_last_error(), "'ftp://example.org/feed.xml' is not an http"));
    char path[PATH_MAX + 32], opt[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/feeds.txt", root);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("# our feeds\nhttp://a.example/feed.xml 60  # hourly is enough\n\n"
          "http://b.example/feed.xml sixty\n",
          f);
    fclose(f);
    snprintf(opt, sizeof(opt), "feeds_file=%s", path);
    const char *file[] = {opt, NULL};
    assert_null(mock_plugin_new("fetch_feed", file));
    char where[PATH_MAX + 64];
    snprintf(where, sizeof(where), "%s:4: expected a URL", path);
    assert_non_null(strstr(mock_last_error(), where));
    snprintf(opt, sizeof(opt), "feeds_file=%s/no-such-feeds.txt", root);
    const char *gone[] = {opt, NULL};
    assert_null(mock_plugin_new("fetch_feed", gone));
    assert_non_null(strstr(mock_last_error(), "no-such-feeds.txt (stage fetch_feed, option "
                                              "feeds_file"));
    /* the option table's bounds, refused before init with the option's name */
    static const struct {
        const char *opt, *msg;
    } bad[] = {
        {"poll_s=0", "option 'poll_s' must be at least 1, got 0"},
        {"timeout_ms=0", "option 'timeout_ms' must be at least 1, got 0"},
        {"connect_timeout_ms=-5", "option 'connect_timeout_ms' must be at least 1, got -5"},
        {"max_bytes=0", "option 'max_bytes' must be at least 1, got 0"},
        {"max_redirects=-1", "option 'max_redirects' must be at least 0, got -1"},
        {"host_delay_ms=-1", "option 'host_delay_ms' must be at least 0, got -1"},
        {"retry_failed_s=-1", "option 'retry_failed_s' must be at least 0, got -1"},
        {"forget_days=-1", "option 'forget_days' must be at least 0, got -1"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *o[] = {"feeds=http://a.example/", bad[i].opt, NULL};
        assert_null(mock_plugin_new("fetch_feed", o));
        assert_string_equal(mock_last_error(), bad[i].msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rss2),
        cmocka_unit_test(test_rss1),
        cmocka_unit_test(test_atom),
        cmocka_unit_test(test_json_feed),
        cmocka_unit_test(test_broken_feeds),
        cmocka_unit_test(test_charsets),
        cmocka_unit_test(test_odd_dates),
        cmocka_unit_test(test_pages),
        cmocka_unit_test(test_ledger_and_conditional_polls),
        cmocka_unit_test(test_ledger_forgets),
        cmocka_unit_test(test_refetch),
        cmocka_unit_test(test_sharding),
        cmocka_unit_test(test_politeness_and_feed_errors),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_slow_server_does_not_block),
        cmocka_unit_test(test_private_hosts_refused),
        cmocka_unit_test(test_option_errors),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
