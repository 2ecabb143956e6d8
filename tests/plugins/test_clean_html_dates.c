/* clean_html's page metadata through the plugin's descriptor against the mock core: the
 * publication date from each kind of clue (JSON-LD, meta tags, <time>, the canonical URL, the
 * text near the headline in several languages), published rather than modified, impossible
 * dates refused, hostile pages survived; title without the site's name, byline, outlet,
 * canonical URL, language; and real pages (gzipped copies in tests/fixtures/html-dates) with
 * their known publication day. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mock_core.h"
#include "newsflow/record.h"

static struct mock_plugin *plugin;

/* Enough article text that the page is never refused for want of a body. */
#define PROSE                                                                                     \
    "<p>The council met on Tuesday evening to discuss the repairs of the old bridge over the "   \
    "river, which has been closed to lorries since the spring floods damaged two of its piers. " \
    "Engineers told the meeting that the work would take most of the summer and cost more than " \
    "the town had set aside, and several members asked how the difference would be found.</p>"

static int setup(void **state)
{
    (void)state;
    plugin = mock_plugin_new("clean_html", NULL);
    return plugin ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    mock_plugin_destroy(&plugin);
    return 0;
}

static struct nf_record *record_of(const void *raw, size_t n)
{
    struct nf_record *rec = nf_record_new();
    assert_non_null(rec);
    char id[33];
    nf_id_make(raw, n, id);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_ID, id), 0);
    assert_int_equal(nf_record_set_source(rec, "file:///pages/page.html", "dir"), 0);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_CONTENT_TYPE, "text/html"), 0);
    assert_int_equal(nf_record_set_bytes(rec, NF_F_RAW, raw, n), 0);
    return rec;
}

/* Runs the plugin on a page made of `html_attrs` (on <html>), `head` and `body` (followed by
 * some article prose). The caller destroys the record. */
static struct nf_record *run_page(const char *html_attrs, const char *head, const char *body)
{
    size_t cap = strlen(html_attrs) + strlen(head) + strlen(body) + sizeof(PROSE) + 128;
    char *page = malloc(cap);
    assert_non_null(page);
    int n = snprintf(page, cap,
                     "<!DOCTYPE html><html%s><head><meta charset=\"utf-8\">%s</head>"
                     "<body>%s" PROSE "</body></html>",
                     html_attrs, head, body);
    assert_true(n > 0 && (size_t)n < cap);
    struct nf_record *rec = record_of(page, (size_t)n);
    free(page);
    if (mock_process(plugin, rec) != NF_OK)
        fail_msg("the page was refused: %s", mock_last_error());
    return rec;
}

static const char *str(struct nf_record *rec, enum nf_field f)
{
    return nf_record_str(rec, f, NULL);
}

/* The day (YYYY-MM-DD) of published_at, "" when there is none. */
static const char *day(struct nf_record *rec)
{
    static char buf[11];
    const char *p = str(rec, NF_F_PUBLISHED_AT);
    if (!p)
        return "";
    snprintf(buf, sizeof(buf), "%.10s", p);
    return buf;
}

static void expect_day(const char *head, const char *body, const char *want)
{
    struct nf_record *rec = run_page("", head, body);
    assert_string_equal(day(rec), want);
    nf_record_destroy(&rec);
}

static void test_json_ld_graph(void **state)
{
    (void)state;
    /* The article sits in an @graph beside the page and the site; its datePublished wins over
     * dateModified, and the WebPage's own dates do not count. */
    struct nf_record *rec = run_page(
        "",
        "<script type=\"application/ld+json\">{\"@context\":\"https://schema.org\",\"@graph\":["
        "{\"@type\":\"WebSite\",\"name\":\"Example Times\"},"
        "{\"@type\":\"WebPage\",\"datePublished\":\"2021-01-01\"},"
        "{\"@type\":[\"NewsArticle\"],\"headline\":\"Bridge repairs run late\","
        "\"datePublished\":\"2021-03-04T09:15:00+01:00\",\"dateModified\":\"2021-03-09T10:00:00Z\","
        "\"author\":[{\"@type\":\"Person\",\"name\":\"Ana Lima\"},{\"name\":\"Tom Berg\"}],"
        "\"publisher\":{\"@type\":\"Organization\",\"name\":\"Example Times\"}}]}</script>",
        "<h1>Bridge repairs run late</h1>");
    assert_string_equal(str(rec, NF_F_PUBLISHED_AT), "2021-03-04T09:15:00+01:00");
    assert_string_equal(str(rec, NF_F_TITLE), "Bridge repairs run late");
    assert_string_equal(str(rec, NF_F_BYLINE), "Ana Lima, Tom Berg");
    assert_string_equal(str(rec, NF_F_OUTLET), "Example Times");
    nf_record_destroy(&rec);
}

static void test_json_ld_broken(void **state)
{
    (void)state;
    /* A raw newline in a string makes the JSON invalid: the date is still read. Scripts
     * without a type that hold a schema.org object count as JSON-LD. */
    expect_day("<script type=\"application/ld+json\">{\"@type\":\"NewsArticle\",\"headline\":\"a\n"
               "b\",\"datePublished\":\"2020-02-03T08:00:00Z\"}</script>",
               "<h1>Headline</h1>", "2020-02-03");
    expect_day("<script>{\"@context\": \"https://schema.org\", \"@type\": \"NewsArticle\", "
               "\"datePublished\": \"2022-01-28T06:00:00+01:00\"}</script>",
               "<h1>Headline</h1>", "2022-01-28");
}

static void test_meta_tags(void **state)
{
    (void)state;
    expect_day("<meta property=\"article:published_time\" content=\"2019-05-31T10:00:00Z\">", "",
               "2019-05-31");
    expect_day("<meta name=\"DC.date.issued\" content=\"2018-11-02\">", "", "2018-11-02");
    expect_day("<meta name=\"parsely-pub-date\" content=\"2017-07-14T12:00:00Z\">", "",
               "2017-07-14");
    expect_day("<meta name=\"citation_publication_date\" content=\"2016/04/07\">", "",
               "2016-04-07");
    expect_day("<meta itemprop=\"datePublished\" content=\"2015-12-14\">", "", "2015-12-14");
}

static void test_modified_is_not_published(void **state)
{
    (void)state;
    /* Only a modification date: no publication date is made up from it. */
    expect_day("<meta property=\"article:modified_time\" content=\"2020-06-01T10:00:00Z\">"
               "<meta property=\"og:updated_time\" content=\"2020-06-01T10:00:00Z\">",
               "<h1>Headline</h1><time class=\"updated\" datetime=\"2020-06-01\">1 June</time>", "");
    /* Published and modified side by side. */
    expect_day("<meta property=\"article:modified_time\" content=\"2020-06-01T10:00:00Z\">"
               "<meta property=\"article:published_time\" content=\"2020-05-20T10:00:00Z\">",
               "", "2020-05-20");
    /* JSON-LD and the meta tags disagree: the earlier is the publication. */
    expect_day("<meta property=\"article:published_time\" content=\"2020-05-22T10:00:00Z\">"
               "<script type=\"application/ld+json\">{\"@type\":\"NewsArticle\","
               "\"datePublished\":\"2020-05-20T08:00:00Z\"}</script>",
               "", "2020-05-20");
}

static void test_time_elements(void **state)
{
    (void)state;
    expect_day("",
               "<article><header><h1>Headline</h1><time datetime=\"2019-10-19T08:00\">19 Oct"
               "</time></header></article>",
               "2019-10-19");
    /* A reader's comment is dated later than the article, and comes first in the page. */
    expect_day("",
               "<div class=\"comments-area\"><time datetime=\"2019-10-25\">25 Oct</time></div>"
               "<h1>Headline</h1><p><time pubdate datetime=\"2019-10-19\">19 Oct</time></p>",
               "2019-10-19");
    /* A <time> marked as the publication beats one in the header. */
    expect_day("",
               "<article><header><h1>Headline</h1><time datetime=\"2019-10-20\">x</time>"
               "<time class=\"entry-date published\" datetime=\"2019-10-18\">y</time></header>"
               "</article>",
               "2019-10-18");
    /* Blogger's <abbr class="published" title="...">. */
    expect_day("",
               "<h2>Headline</h2><abbr class=\"published\" title=\"2017-09-09T10:52:00+02:00\">"
               "10:52</abbr>",
               "2017-09-09");
}

static void test_url_patterns(void **state)
{
    (void)state;
    expect_day("<link rel=\"canonical\" href=\"https://news.example.com/2019/05/31/bridge\">", "",
               "2019-05-31");
    expect_day("<meta property=\"og:url\" content=\"https://news.example.com/world/2019-05-31/x\">",
               "", "2019-05-31");
    expect_day("<link rel=\"canonical\" href=\"https://news.example.com/a/20190531/bridge\">", "",
               "2019-05-31");
    /* A year and month are not a day; an id is not a date. */
    expect_day("<link rel=\"canonical\" href=\"https://news.example.com/2019/05/bridge-87654321\">",
               "", "");
}

static void test_text_dates(void **state)
{
    (void)state;
    expect_day("", "<h1>Bridge repairs run late</h1><p class=\"x\">May 31, 2019</p>",
               "2019-05-31");
    expect_day("", "<h1>Bridge repairs run late</h1><p>By Ana Lima, 3rd June 2019</p>",
               "2019-06-03");
    expect_day("", "<h1>Brückensanierung verzögert sich</h1><p>31. Mai 2019 | Lokales</p>",
               "2019-05-31");
    expect_day("", "<h1>Les travaux du pont prennent du retard</h1><p>Publié le 31 mai 2019</p>",
               "2019-05-31");
    expect_day("", "<h1>Las obras del puente se retrasan</h1><p>31 de mayo de 2019</p>",
               "2019-05-31");
    expect_day("", "<h1>Brückensanierung verzögert sich</h1><p>Stand: 31.05.2019 14:00</p>",
               "2019-05-31");
    expect_day("", "<h1>Brückensanierung verzögert sich</h1><p>31.10.23 | Redaktion</p>",
               "2023-10-31");
    /* US pages write the month first. */
    struct nf_record *rec =
        run_page(" lang=\"en-US\"", "", "<h1>Bridge repairs run late</h1><p>Posted 05/06/2019</p>");
    assert_string_equal(day(rec), "2019-05-06");
    nf_record_destroy(&rec);
    rec = run_page(" lang=\"en-GB\"", "", "<h1>Bridge repairs run late</h1><p>Posted 05/06/2019</p>");
    assert_string_equal(day(rec), "2019-06-05");
    nf_record_destroy(&rec);
    /* Numeric dates with a space after each dot (Czech, Slovak, Polish), the year first
     * (Hungarian), Korean, and month names of more languages. */
    expect_day("", "<h1>Oprava mostu se zpozdi</h1><p>Praha 2. 3. 2022 | Redakce</p>", "2022-03-02");
    expect_day("", "<h1>Kesik a hid javitasa</h1><p>2022. március 2. 10:15</p>", "2022-03-02");
    expect_day("", "<h1>Kesik a hid javitasa</h1><p>2022. 03. 02.</p>", "2022-03-02");
    expect_day("", "<h1>Bridge</h1><p>2022년 3월 2일</p>",
               "2022-03-02");
    expect_day("", "<h1>Oprava mostu</h1><p>2. března 2022</p>", "2022-03-02");
    expect_day("", "<h1>Bridge</h1><p>2 Μαρτίου 2022</p>",
               "2022-03-02");
    expect_day("", "<h1>Bridge</h1><p>2 березня 2022</p>",
               "2022-03-02");
    expect_day("", "<h1>Bridge</h1><p>2. maaliskuuta 2022</p>", "2022-03-02");
    expect_day("", "<h1>Bridge</h1><p>2 martie 2022</p>", "2022-03-02");
    /* Indonesian, Catalan, Croatian, Slovak, Bulgarian, Serbian, Norwegian, and Turkish
     * abbreviated or in capitals (Latin Extended-A and Cyrillic capitals folded) */
    expect_day("", "<h1>Bridge</h1><p>Selasa, 2 Maret 2022</p>", "2022-03-02");
    expect_day("", "<h1>Bridge</h1><p>2 de març de 2022</p>", "2022-03-02");
    expect_day("", "<h1>Bridge</h1><p>2. Ožujka 2022.</p>", "2022-03-02");
    expect_day("", "<h1>Bridge</h1><p>2. augusta 2022</p>", "2022-08-02");
    expect_day("", "<h1>Bridge</h1><p>2 септември 2022 г.</p>", "2022-09-02");
    expect_day("", "<h1>Bridge</h1><p>2. Јануар 2022.</p>", "2022-01-02");
    expect_day("", "<h1>Bridge</h1><p>2. desember 2022</p>", "2022-12-02");
    expect_day("", "<h1>Bridge</h1><p>2 Şub 2022 10:15</p>", "2022-02-02");
    expect_day("", "<h1>Bridge</h1><p>2 ŞUBAT 2022</p>", "2022-02-02");
    expect_day("", "<h1>Bridge</h1><p>2 KASIM 2022</p>", "2022-11-02");
    /* A version number is no date. */
    expect_day("", "<h1>Release notes</h1><p>Version 1. 2. 3 is out</p>", "");
    /* The date by the headline, not the ones of the teasers further down. */
    expect_day("",
               "<h1>Bridge repairs run late</h1><p>12 March 2020</p>" PROSE
               "<div class=\"related\"><p>1 March 2020</p></div>",
               "2020-03-12");
}

static void test_impossible_dates(void **state)
{
    (void)state;
    /* A date in the future is an error of the page; the visible date stands. */
    expect_day("<meta property=\"article:published_time\" content=\"2999-01-01T00:00:00Z\">",
               "<h1>Headline</h1><p>14 February 2019</p>", "2019-02-14");
    /* Before the web's news sites, and dates no calendar has. */
    expect_day("<meta property=\"article:published_time\" content=\"1987-06-01\">", "", "");
    expect_day("<meta property=\"article:published_time\" content=\"2019-02-30\">", "", "");
    expect_day("", "<h1>Headline</h1><p>31.13.2019</p>", "");
    /* The fetch time, when the record has one, is the limit. */
    const char *page = "<html><head><meta property=\"article:published_time\" "
                       "content=\"2020-06-01\"></head><body><h1>Headline</h1>" PROSE
                       "</body></html>";
    struct nf_record *rec = record_of(page, strlen(page));
    assert_int_equal(nf_record_set_cstr(rec, NF_F_FETCHED_AT, "2020-05-01T00:00:00Z"), 0);
    assert_int_equal(mock_process(plugin, rec), NF_OK);
    assert_null(str(rec, NF_F_PUBLISHED_AT));
    nf_record_destroy(&rec);
}

static void test_title(void **state)
{
    (void)state;
    struct nf_record *rec =
        run_page("", "<title>Bridge repairs run late | Example Times</title>", "<p>x</p>");
    assert_string_equal(str(rec, NF_F_TITLE), "Bridge repairs run late");
    nf_record_destroy(&rec);
    rec = run_page("", "<title>Bridge repairs run late \xE2\x80\x94 Example Times</title>", "");
    assert_string_equal(str(rec, NF_F_TITLE), "Bridge repairs run late");
    nf_record_destroy(&rec);
    /* og:title wins; the site's name is cut when og:site_name says it is the site's. */
    rec = run_page("",
                   "<meta property=\"og:site_name\" content=\"Example Times\">"
                   "<meta property=\"og:title\" content=\"Bridge repairs run late - Example Times\">"
                   "<title>Something else entirely | Example Times</title>",
                   "<h1>Another heading</h1>");
    assert_string_equal(str(rec, NF_F_TITLE), "Bridge repairs run late");
    nf_record_destroy(&rec);
    /* A headline with a dash of its own keeps it. */
    rec = run_page("", "<meta property=\"og:title\" content=\"Left - and right - meet\">", "");
    assert_string_equal(str(rec, NF_F_TITLE), "Left - and right - meet");
    nf_record_destroy(&rec);
    /* No meta title: the article's <h1>. */
    rec = run_page("", "", "<h1>  Bridge repairs\n run late </h1>");
    assert_string_equal(str(rec, NF_F_TITLE), "Bridge repairs run late");
    nf_record_destroy(&rec);
}

static void test_byline(void **state)
{
    (void)state;
    struct nf_record *rec = run_page("", "<meta name=\"author\" content=\"Ana Lima\">", "");
    assert_string_equal(str(rec, NF_F_BYLINE), "Ana Lima");
    nf_record_destroy(&rec);
    /* A profile URL is no name: the byline in the page is. */
    rec = run_page("",
                   "<meta property=\"article:author\" content=\"https://facebook.com/ana\">",
                   "<h1>Headline</h1><div class=\"byline\">By Ana Lima</div>");
    assert_string_equal(str(rec, NF_F_BYLINE), "Ana Lima");
    nf_record_destroy(&rec);
    rec = run_page("", "", "<h1>Headline</h1><a rel=\"author\" href=\"/ana\">Ana Lima</a>");
    assert_string_equal(str(rec, NF_F_BYLINE), "Ana Lima");
    nf_record_destroy(&rec);
    rec = run_page("", "",
                   "<h1>Headline</h1><span itemprop=\"author\" itemscope><span itemprop=\"name\">"
                   "Ana Lima</span></span>");
    assert_string_equal(str(rec, NF_F_BYLINE), "Ana Lima");
    nf_record_destroy(&rec);
}

static void test_outlet_url_lang(void **state)
{
    (void)state;
    struct nf_record *rec =
        run_page(" lang=\"de-AT\"",
                 "<link rel=\"canonical\" href=\"https://www.zeitung.example/lokal/brücke\">"
                 "<meta property=\"og:url\" content=\"https://m.zeitung.example/x\">",
                 "");
    assert_string_equal(str(rec, NF_F_URL), "https://www.zeitung.example/lokal/brücke");
    assert_string_equal(str(rec, NF_F_OUTLET), "zeitung.example");
    assert_string_equal(str(rec, NF_F_LANG), "de");
    nf_record_destroy(&rec);
    /* A relative canonical is not a URL of the page: og:url is; the site's name is the outlet.
     * The language comes from content-language when <html> has none. */
    rec = run_page("",
                   "<link rel=\"canonical\" href=\"/lokal/bruecke\">"
                   "<meta property=\"og:url\" content=\"https://zeitung.example/lokal/bruecke\">"
                   "<meta name=\"application-name\" content=\"Die Zeitung\">"
                   "<meta http-equiv=\"Content-Language\" content=\"FR\">",
                   "");
    assert_string_equal(str(rec, NF_F_URL), "https://zeitung.example/lokal/bruecke");
    assert_string_equal(str(rec, NF_F_OUTLET), "Die Zeitung");
    assert_string_equal(str(rec, NF_F_LANG), "fr");
    nf_record_destroy(&rec);
    /* What is not a two-letter code is no language. */
    rec = run_page(" lang=\"english\"", "", "");
    assert_null(str(rec, NF_F_LANG));
    nf_record_destroy(&rec);
}

static void test_fields_already_set(void **state)
{
    (void)state;
    const char *page = "<html lang=\"en\"><head><title>Page title | Site</title>"
                       "<meta property=\"article:published_time\" content=\"2020-06-01\">"
                       "</head><body><h1>Page title</h1>" PROSE "</body></html>";
    struct nf_record *rec = record_of(page, strlen(page));
    assert_int_equal(nf_record_set_cstr(rec, NF_F_PUBLISHED_AT, "2020-01-01"), 0);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_TITLE, "Feed title"), 0);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_LANG, "de"), 0);
    assert_int_equal(mock_process(plugin, rec), NF_OK);
    assert_string_equal(str(rec, NF_F_PUBLISHED_AT), "2020-01-01");
    assert_string_equal(str(rec, NF_F_TITLE), "Feed title");
    assert_string_equal(str(rec, NF_F_LANG), "de");
    nf_record_destroy(&rec);
}

static void test_hostile_pages(void **state)
{
    (void)state;
    /* Deep nesting, dates of the wrong JSON type, a deep JSON-LD, broken UTF-8, digits without
     * end: the page is read, nothing crashes, and no date is made up. */
    size_t cap = 400000, n = 0;
    char *page = malloc(cap);
    assert_non_null(page);
    n += (size_t)snprintf(page + n, cap - n,
                          "<html lang=\"\xff\xfe\"><head><script type=\"application/ld+json\">"
                          "{\"@type\":\"NewsArticle\",\"datePublished\":true,"
                          "\"author\":{\"name\":[1,2]},\"x\":");
    for (int i = 0; i < 3000; i++)
        page[n++] = '[';
    for (int i = 0; i < 3000; i++)
        page[n++] = ']';
    n += (size_t)snprintf(page + n, cap - n, "}</script></head><body>");
    for (int i = 0; i < 5000; i++)
        n += (size_t)snprintf(page + n, cap - n, "<div class=\"date\">");
    for (int i = 0; i < 2000; i++)
        page[n++] = '9';
    n += (size_t)snprintf(page + n, cap - n, " \xc3 \xe5\xb9 31. \xc3\x28 2019");
    for (int i = 0; i < 5000; i++)
        n += (size_t)snprintf(page + n, cap - n, "</div>");
    n += (size_t)snprintf(page + n, cap - n, PROSE "</body></html>");
    assert_true(n < cap);
    struct nf_record *rec = record_of(page, n);
    free(page);
    int rc = mock_process(plugin, rec);
    assert_true(rc == NF_OK || rc == NF_ERR);
    assert_null(str(rec, NF_F_PUBLISHED_AT));
    assert_null(str(rec, NF_F_LANG));
    nf_record_destroy(&rec);
}


/* A page whose article is drawn by scripts has no text to give, but its date and title are
 * known: by default it is refused with them in the reason; with require_text = false it passes
 * on with them and without text. */
static void test_page_without_text(void **state)
{
    (void)state;
    static const char page[] =
        "<html><head><title>Bridge repairs run late | Example Times</title>"
        "<meta property=\"article:published_time\" content=\"2021-03-04T09:15:00Z\">"
        "</head><body><div id=\"app\"></div><script>render('app')</script></body></html>";
    struct nf_record *rec = record_of(page, sizeof(page) - 1);
    assert_int_equal(mock_process(plugin, rec), NF_ERR);
    assert_string_equal(mock_last_error(),
                        "no article text found in the page (title \"Bridge repairs run late\", "
                        "published 2021-03-04T09:15:00Z)");
    nf_record_destroy(&rec);

    static const char *const opts[] = {"require_text=false", NULL};
    struct mock_plugin *lax = mock_plugin_new("clean_html", opts);
    assert_non_null(lax);
    rec = record_of(page, sizeof(page) - 1);
    assert_int_equal(mock_process(lax, rec), NF_OK);
    assert_string_equal(str(rec, NF_F_PUBLISHED_AT), "2021-03-04T09:15:00Z");
    assert_string_equal(str(rec, NF_F_TITLE), "Bridge repairs run late");
    assert_false(nf_record_has(rec, NF_F_TEXT));
    assert_int_equal(mock_roundtrip(rec), 0);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&lax);
}

/* Made-up pages (tests/fixtures/html-dates), each of one kind of page that put the date in a
 * place the extractor did not look, or took a date that is not the article's. */
static void test_made_up_pages(void **state)
{
    (void)state;
    static const struct {
        const char *file, *day;
    } pages[] = {
        /* a dateline right above the headline, teasers with their dates below the article */
        {"dateline-above-headline.html", "2022-02-02"},
        /* the day's date in the site's banner on top of every page */
        {"banner-date-of-today.html", "2021-03-03"},
        /* a forum member's join date above the post's own */
        {"forum-join-date.html", "2021-06-05"},
        /* a profile's join date, its day in the title of an element named a date */
        {"profile-join-date.html", "2021-10-14"},
        /* no date but one passed to a tracker's call */
        {"script-call-date.html", "2019-04-03"},
        /* the date as one run of digits in the URL, and a URL inside an archive's */
        {"url-digit-run.html", "2019-05-31"},
        {"url-archived.html", "2013-08-07"},
        /* the markup's date is the day before the one the article shows */
        {"shown-day-later.html", "2022-01-26"},
        /* three weeks later: an article written, then published (or put out again) */
        {"shown-weeks-later.html", "2022-01-26"},
        /* two years later: the markup's date stands */
        {"shown-years-later.html", "2020-01-10"},
        /* a live blog whose updates would fill every slot before its URL is read */
        {"live-blog-updates.html", "2023-11-02"},
    };
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/tests/fixtures/html-dates/%s", NF_SOURCE_DIR,
                 pages[i].file);
        size_t n = 0;
        char *raw = mock_slurp(path, &n);
        if (!raw)
            fail_msg("cannot read %s", path);
        struct nf_record *rec = record_of(raw, n);
        free(raw);
        if (mock_process(plugin, rec) != NF_OK)
            fail_msg("%s: %s", pages[i].file, mock_last_error());
        if (strcmp(day(rec), pages[i].day) != 0)
            fail_msg("%s: published %s, expected %s", pages[i].file, day(rec), pages[i].day);
        nf_record_destroy(&rec);
    }
}

static void test_real_pages(void **state)
{
    (void)state;
    static const struct {
        const char *file, *day, *lang;
    } pages[] = {
        {"gay.ch-papst.html.gz", "2022-01-28", "de"},           /* JSON-LD in an untyped script */
        {"ahlen.de.reparaturcafe.html.gz", "2020-01-27", NULL}, /* microdata in a list footer */
        {"anarc.at.cdpath.html.gz", "2020-10-18", "en"},        /* <time> of a blog post */
        {"loldf.org.html.gz", "2019-06-27", "fr"},              /* a dated element by the title */
        {"1733850206.html.gz", "2020-10-09", NULL},             /* Dutch, dd-mm-yyyy in the text */
    };
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/tests/fixtures/html-dates/%s", NF_SOURCE_DIR,
                 pages[i].file);
        size_t n = 0;
        char *raw = mock_slurp(path, &n);
        if (!raw)
            fail_msg("cannot read %s", path);
        struct nf_record *rec = record_of(raw, n);
        free(raw);
        if (mock_process(plugin, rec) != NF_OK)
            fail_msg("%s: %s", pages[i].file, mock_last_error());
        if (strcmp(day(rec), pages[i].day) != 0)
            fail_msg("%s: published %s, expected %s", pages[i].file, day(rec), pages[i].day);
        if (pages[i].lang)
            assert_string_equal(str(rec, NF_F_LANG), pages[i].lang);
        assert_non_null(str(rec, NF_F_TITLE));
        nf_record_destroy(&rec);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_ld_graph),
        cmocka_unit_test(test_json_ld_broken),
        cmocka_unit_test(test_meta_tags),
        cmocka_unit_test(test_modified_is_not_published),
        cmocka_unit_test(test_time_elements),
        cmocka_unit_test(test_url_patterns),
        cmocka_unit_test(test_text_dates),
        cmocka_unit_test(test_impossible_dates),
        cmocka_unit_test(test_title),
        cmocka_unit_test(test_byline),
        cmocka_unit_test(test_outlet_url_lang),
        cmocka_unit_test(test_fields_already_set),
        cmocka_unit_test(test_hostile_pages),
        cmocka_unit_test(test_page_without_text),
        cmocka_unit_test(test_made_up_pages),
        cmocka_unit_test(test_real_pages),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
