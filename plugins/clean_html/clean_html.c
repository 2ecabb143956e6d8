/* clean_html: turns a fetched web page (content_type text/html) into its article text and facts.
 * It decodes the page to UTF-8 (charset.c), parses it once with libxml2, lets the metadata
 * extractor read the tree (meta.c: title, date, byline, outlet, url, lang), then finds the main
 * text (body.c) and stores it NFC-normalised in `text`. Other records pass unchanged; boilerplate
 * lines inside the text are left to clean_text. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <utf8proc.h>

#include <libxml/HTMLparser.h>

#include "body.h"
#include "charset.h"
#include "meta.h"
#include "newsflow/plugin.h"
#include "nfc.h"
#include "parse.h"

struct clean_html_conf {
    int64_t min_chars;
    bool json_ld;
    bool meta;
    bool require_text;
};

static const struct nf_option clean_html_options[] = {
    {"min_chars", NF_OPT_INT, "1", offsetof(struct clean_html_conf, min_chars),
     "A page whose main text has fewer characters than this is an error (\"no article text "
     "found in the page\") and goes to the dead-letter store; an empty text always does.",
     .min = "0"},
    {"json_ld", NF_OPT_BOOL, "true", offsetof(struct clean_html_conf, json_ld),
     "Take the text of a JSON-LD articleBody when the page has one that holds about as much "
     "text as the container found in the page (it carries no furniture)."},
    {"meta", NF_OPT_BOOL, "true", offsetof(struct clean_html_conf, meta),
     "Fill title, published_at, byline, outlet, url and lang from the page's markup (each only "
     "when the record does not have it yet)."},
    {"require_text", NF_OPT_BOOL, "true", offsetof(struct clean_html_conf, require_text),
     "A page without article text (fewer than min_chars characters: a gallery, a page whose "
     "article is drawn by scripts) goes to the dead-letter store, and the reason names the "
     "title and date read from it. false passes it on with its metadata and without text, for "
     "pipelines that keep what a page says about itself (its date, title, outlet) even when "
     "its text cannot be read."},
    {.name = NULL},
};

struct clean_html {
    const struct clean_html_conf *conf;
    struct html_charset *charset;
    struct html_body *body;
    struct html_meta *meta;
    htmlParserCtxtPtr parser; /* reused: keeps its dictionary and input buffers warm */
};

static void clean_html_destroy(void *state)
{
    struct clean_html *s = state;
    if (!s)
        return;
    html_charset_free(s->charset);
    html_body_free(s->body);
    html_meta_free(s->meta);
    if (s->parser)
        htmlFreeParserCtxt(s->parser);
    free(s);
}

static int clean_html_init(struct nf_ctx *ctx, const void *conf, void **state_out)
{
    struct clean_html *s = calloc(1, sizeof(*s));
    if (!s) {
        nf_ctx_error(ctx, "out of memory");
        return NF_ERR;
    }
    s->conf = conf;
    char err[256] = "";
    s->charset = html_charset_new();
    s->body = html_body_new();
    s->parser = htmlNewParserCtxt();
    if (!s->charset || !s->body || !s->parser) {
        nf_ctx_error(ctx, "cannot set up the HTML parser, charset converters or detector");
        goto fail;
    }
    s->meta = html_meta_new(err, sizeof(err));
    if (!s->meta) {
        nf_ctx_error(ctx, "metadata extractor: %s", err[0] ? err : "out of memory");
        goto fail;
    }
    *state_out = s;
    return NF_OK;
fail:
    clean_html_destroy(s);
    return NF_ERR;
}

static bool clean_html_is_html(const char *ct)
{
    if (!ct)
        return false;
    size_t n = strcspn(ct, "; \t");
    return (n == 9 && strncasecmp(ct, "text/html", 9) == 0) ||
           (n == 21 && strncasecmp(ct, "application/xhtml+xml", 21) == 0);
}

/* Stores text NFC-normalised; text that is NFC as it stands (ASCII, most Latin-script and
 * punctuation: nfc.h) skips utf8proc and its copy. */
static int clean_html_set_text(struct nf_record *rec, const char *text, size_t n)
{
    if (html_nfc_inert_text(text, n))
        return nf_record_set_str(rec, NF_F_TEXT, text, n);
    utf8proc_uint8_t *nfc = NULL;
    utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)n, &nfc,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (m < 0)
        return nf_record_set_str(rec, NF_F_TEXT, text, n);
    int rc = nf_record_set_str(rec, NF_F_TEXT, (const char *)nfc, (size_t)m);
    free(nfc);
    return rc;
}

/* Whether the bytes hold a tag at all: binary data or a bare string is not a page. */
static bool clean_html_has_markup(const char *p, size_t n)
{
    for (const char *q = p; (q = memchr(q, '<', n - (size_t)(q - p) - 1)) != NULL; q++) {
        char c = q[1];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '!' || c == '/' || c == '?')
            return true;
        if ((size_t)(q - p) + 2 >= n)
            break;
    }
    return false;
}

static size_t clean_html_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static int clean_html_page(struct clean_html *s, struct nf_ctx *ctx, struct nf_record *rec);

/* The error of a page without article text: the dead letter keeps the record as it arrived,
 * so the reason carries the title and date the page gave, cut between characters. */
static void clean_html_refuse(struct nf_ctx *ctx, struct nf_record *rec)
{
    size_t tn = 0;
    const char *title = nf_record_str(rec, NF_F_TITLE, &tn);
    const char *date = nf_record_str(rec, NF_F_PUBLISHED_AT, NULL);
    size_t cut = tn > 120 ? 120 : tn;
    while (title && cut > 0 && cut < tn && ((unsigned char)title[cut] & 0xC0) == 0x80)
        cut--;
    if (!title && !date) {
        nf_ctx_error(ctx, "no article text found in the page");
        return;
    }
    nf_ctx_error(ctx, "no article text found in the page (title \"%.*s%s\", published %s)",
                 (int)cut, title ? title : "", cut < tn ? "..." : "", date ? date : "unknown");
}

static int64_t clean_html_cpu_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int clean_html_process(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    struct clean_html *s = state;
    if (!clean_html_is_html(nf_record_str(rec, NF_F_CONTENT_TYPE, NULL)))
        return NF_OK;
    /* CPU time of the page work, so that `make bench` can give pages/s per core of this plugin
     * alone, whatever else the machine runs. */
    int64_t t0 = clean_html_cpu_us();
    int rc = clean_html_page(s, ctx, rec);
    nf_ctx_count(ctx, "cpu_us", clean_html_cpu_us() - t0);
    return rc;
}

/* Decodes, parses and extracts one page. */
static int clean_html_page(struct clean_html *s, struct nf_ctx *ctx, struct nf_record *rec)
{
    size_t n = 0;
    const uint8_t *raw = nf_record_bytes(rec, NF_F_RAW, &n);
    if (!raw || n == 0) {
        nf_ctx_error(ctx, "the record has no HTML: raw is %s", raw ? "empty" : "missing");
        return NF_ERR;
    }
    /* Records carry no HTTP headers yet; when they do, their Content-Type goes here and
     * outranks the page's own <meta>. */
    const char *http_content_type = NULL;
    size_t len = 0;
    const char *charset = NULL;
    const char *utf8 = html_charset_to_utf8(s->charset, http_content_type, raw, n, &len, &charset);
    if (!utf8) {
        nf_ctx_error(ctx, "out of memory decoding the page");
        return NF_ERR;
    }
    if (len < 2 || !clean_html_has_markup(utf8, len)) {
        nf_ctx_error(ctx, "not HTML: no tag in the page (%zu bytes read as %s)", n, charset);
        return NF_ERR;
    }
    if (len > INT_MAX) {
        nf_ctx_error(ctx, "the page is too large to parse (%zu bytes)", len);
        return NF_ERR;
    }
    htmlDocPtr doc = html_parse_utf8(s->parser, utf8, (int)len);
    if (!doc || !xmlDocGetRootElement(doc)) {
        if (doc)
            xmlFreeDoc(doc);
        nf_ctx_error(ctx, "the page could not be parsed as HTML (%zu bytes read as %s)", n,
                     charset);
        return NF_ERR;
    }
    int rc = NF_OK;
    const char *uri = NULL;
    nf_record_source(rec, &uri, NULL);
    /* The metadata extractor reads the tree as parsed, before body.c marks it. */
    if (s->conf->meta && html_meta_extract(s->meta, doc, uri, rec) < 0) {
        nf_ctx_error(ctx, "out of memory extracting the page's metadata");
        rc = NF_ERR;
        goto out;
    }
    const char *text = NULL;
    size_t tlen = 0;
    if (html_body_extract(s->body, doc, s->conf->json_ld, &text, &tlen) < 0) {
        nf_ctx_error(ctx, "out of memory extracting the page's text");
        rc = NF_ERR;
        goto out;
    }
    if (tlen == 0 || clean_html_chars(text, tlen) < (size_t)s->conf->min_chars) {
        if (!s->conf->require_text) {
            /* The metadata is in the record already: it goes on without text. */
            nf_ctx_count(ctx, "pages_without_text", 1);
            goto out;
        }
        clean_html_refuse(ctx, rec);
        rc = NF_ERR;
        goto out;
    }
    if (clean_html_set_text(rec, text, tlen) < 0) {
        nf_ctx_error(ctx, "out of memory storing the text");
        rc = NF_ERR;
        goto out;
    }
    nf_ctx_count(ctx, "pages", 1);
out:
    xmlFreeDoc(doc);
    return rc;
}

NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI,
    .size = sizeof(struct nf_plugin),
    .name = "clean_html",
    .description = "Web pages to article text: charset decoding, main-text extraction, and the "
                   "page's title, date, byline, outlet, canonical URL and language",
    .kind = NF_PLUGIN_FILTER,
    .options = clean_html_options,
    .conf_size = sizeof(struct clean_html_conf),
    .init = clean_html_init,
    .process = clean_html_process,
    .destroy = clean_html_destroy,
};
