/* Article metadata from a parsed HTML page: publication date, title, byline, outlet, canonical
 * URL and declared language. One walk over the tree collects every clue (head meta tags, JSON-LD,
 * <time>, date-ish classes, the text around the headline); the most reliable clue wins. It reads
 * only the document given: it never fetches, and it does not extract the body text. */
#include "meta.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "meta_date.h"

/* Where a date came from, most reliable first. The order was settled on real news pages. */
enum meta_src {
    SRC_LD_ARTICLE,  /* JSON-LD datePublished of an article */
    SRC_META,        /* article:published_time and its kin */
    SRC_ITEMPROP,    /* microdata datePublished in the body */
    SRC_TIME_PUB,    /* <time pubdate> or a <time> marked as the publication time */
    SRC_LD_OTHER,    /* JSON-LD dateCreated, or datePublished of an untyped object */
    SRC_URL,         /* /2019/05/31/ in the canonical URL */
    SRC_TIME_HEAD,   /* <time datetime> in the article's header */
    SRC_CLASS,       /* an element whose class says it holds the date */
    SRC_TEXT_KEY,    /* "Published on ..." near the headline */
    SRC_TEXT,        /* a date near the headline */
    SRC_TIME_ANY,    /* any other <time datetime> outside comments and sidebars */
    SRC_META_WEAK,   /* <meta name=date> and other loosely named tags: often the last change */
    SRC_SCRIPT,      /* "published_at" and the like in an inline script's data */
    SRC_TEXT_FAR,    /* "Published on ..." anywhere in the page */
    SRC_SCRIPT_CALL, /* a date and time passed to a function in an inline script */
};

#define META_MAX_CANDS 96
#define META_ARENA 16384
#define META_TEXT_BEFORE 400    /* bytes of visible text looked at before the headline */
#define META_TEXT_AFTER 1600    /* and after it */
#define META_LEAD 2000          /* bytes from the top, for pages without a headline */
#define META_TEXT_MAX (1u << 20) /* visible text kept of one page */
#define META_MAX_H1 8
#define META_MAX_DEPTH 512
#define META_LATE_CANDS 8       /* slots kept for the clues read after the walk (URL, text) */
#define META_MAX_BANNERS 8
#define META_MAX_SCRIPTS 16     /* inline scripts kept for the last resort */
#define META_SCRIPT_SCAN 65536  /* bytes of each read there */
#define META_NEAR_BEFORE 80     /* bytes between a date and the headline it stands right above */
#define META_VISIBLE_DAYS 31    /* how much later than the markup the page's shown date may be */

struct meta_cand {
    struct md_date date;
    enum meta_src src;
    int banner; /* index in banners of the site banner it was read in, -1 for none */
};

/* What one walk over a page collected. Strings are borrowed from the document or live in the
 * arena. */
struct meta_page {
    const char *lang, *content_lang;
    const char *og_title, *tw_title, *title, *h1;
    const char *og_site, *app_name, *og_url, *canonical;
    const char *meta_author, *article_author, *rel_author, *prop_author, *class_author;
    const char *ld_headline, *ld_author, *ld_publisher, *ld_url;
    bool mdy;
    int h1_pick; /* index in h1s of the article's headline, -1 when none */
    int n_class; /* date-ish elements looked at */
    int n_time;
    int n_script; /* inline scripts looked into */
};

struct html_meta {
    struct meta_page pg;
    struct meta_cand cands[META_MAX_CANDS];
    int ncands;
    char arena[META_ARENA];
    size_t arena_len;
    char *text; /* the page's visible text, space-separated, grown as needed and kept */
    size_t text_len, text_cap;
    struct {
        const char *text;
        size_t start, end; /* where the heading's text is in m->text */
        bool bad;
    } h1s[META_MAX_H1];
    int n_h1;
    /* Site banners (the page's own <header>, a masthead, a top bar): where their text is in
     * m->text. Their dates are the day's, printed on every page, unless the headline is in
     * there too. */
    struct {
        size_t start, end;
    } banners[META_MAX_BANNERS];
    int n_banners;
    xmlNode *scripts[META_MAX_SCRIPTS]; /* inline scripts, for meta_script_calls */
    int n_scripts;
    int cur_banner;  /* the banner the walk is in, -1 for none */
    int cand_limit; /* candidates the walk may add: the rest are for the clues read after it */
    char scratch[512];
    unsigned char flags[META_MAX_DEPTH];
    /* meta_words by their first letter, so a name part is compared with a few words only */
    unsigned char by_letter[26][16];
    unsigned char n_by_letter[26];
    long today; /* days since the epoch: no later date is accepted */
};

/* Flags that hold for a node and everything under it. */
enum {
    IN_BAD = 1,     /* comments, sidebars, footers, related-article lists, navigation */
    IN_HEADER = 2,  /* an <article>'s or a post's header */
    IN_ARTICLE = 4, /* <article> or <main> */
    IN_SKIP = 8,    /* script, style, noscript, template: no visible text */
    IN_HEAD = 16,
    IN_COMMENT = 32, /* reader comments: not even microdata there is the article's */
    IN_H1 = 64,      /* its text was taken with the heading */
    IN_BANNER = 128, /* the site's banner above every page, not the article's header */
};

static void meta_index_words(struct html_meta *m);

struct html_meta *html_meta_new(char *err, size_t errlen)
{
    struct html_meta *m = calloc(1, sizeof(*m));
    if (!m) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory for the metadata extractor");
        return NULL;
    }
    meta_index_words(m);
    return m;
}

void html_meta_free(struct html_meta *m)
{
    if (m)
        free(m->text);
    free(m);
}

/* ---- small helpers ------------------------------------------------------------------------ */

/* libxml2's HTML parser lowercases attribute names, so a plain comparison does. */
static const char *meta_attr(xmlNode *n, const char *name)
{
    for (xmlAttr *a = n->properties; a; a = a->next)
        if (a->name && a->name[0] == (xmlChar)name[0] && strcmp((const char *)a->name, name) == 0) {
            if (a->children && a->children->content)
                return (const char *)a->children->content;
            return "";
        }
    return NULL;
}

static bool meta_is(xmlNode *n, const char *tag)
{
    return n->name && strcmp((const char *)n->name, tag) == 0;
}

/* Copies s into the arena with runs of white space made one space and the ends trimmed.
 * NULL when the arena is full or nothing is left. */
static const char *meta_keep(struct html_meta *m, const char *s, size_t n)
{
    size_t room = META_ARENA - m->arena_len;
    if (room < 2)
        return NULL;
    char *out = m->arena + m->arena_len;
    size_t k = 0;
    bool space = false;
    for (size_t i = 0; i < n && k + 2 < room; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
            space = k > 0;
            continue;
        }
        if (space)
            out[k++] = ' ';
        space = false;
        out[k++] = (char)c;
    }
    if (k == 0)
        return NULL;
    out[k] = '\0';
    m->arena_len += k + 1;
    return out;
}

/* Appends the visible text under n to buf (at most cap-1 bytes, space-separated). */
static size_t meta_text_under(xmlNode *n, char *buf, size_t len, size_t cap)
{
    for (xmlNode *c = n->children; c && len + 1 < cap; c = c->next) {
        if (c->type == XML_TEXT_NODE && c->content) {
            size_t l = strlen((const char *)c->content);
            if (l > cap - 1 - len) {
                l = cap - 1 - len;
                /* cut before a character, not inside one */
                while (l > 0 && (c->content[l] & 0xC0) == 0x80)
                    l--;
            }
            memcpy(buf + len, c->content, l);
            len += l;
        } else if (c->type == XML_ELEMENT_NODE && !meta_is(c, "script") && !meta_is(c, "style")) {
            if (len + 1 < cap)
                buf[len++] = ' ';
            len = meta_text_under(c, buf, len, cap);
        }
    }
    buf[len] = '\0';
    return len;
}

static const char *meta_keep_text(struct html_meta *m, xmlNode *n)
{
    size_t len = meta_text_under(n, m->scratch, 0, sizeof(m->scratch));
    return meta_keep(m, m->scratch, len);
}

/* What the words of a class or id attribute say about an element. */
enum {
    CL_BAD = 1,       /* comments, sidebars, footers, teaser lists */
    CL_COMMENT = 2,   /* reader comments */
    CL_HEADER = 4,    /* the article's header or meta line */
    CL_DATE = 8,      /* holds a date */
    CL_MODIFIED = 16, /* holds the date of a revision */
    CL_PUB = 32,      /* holds the publication time */
    CL_AUTHOR = 64,   /* holds the byline */
    CL_BANNER = 128,  /* the site's banner or top bar */
};

struct meta_word {
    const char *word;
    unsigned mask;
    bool camel; /* also matches at a capital inside a name: "articleDate" */
};

static const struct meta_word meta_words[] = {
    {"comment", CL_BAD | CL_COMMENT, false}, {"respond", CL_BAD | CL_COMMENT, false},
    {"reply", CL_BAD | CL_COMMENT, false},   {"sidebar", CL_BAD, false},
    {"widget", CL_BAD, false},               {"related", CL_BAD, false},
    {"footer", CL_BAD, false},               {"recommend", CL_BAD, false},
    {"popular", CL_BAD, false},              {"trending", CL_BAD, false},
    {"most-read", CL_BAD, false},            {"mostread", CL_BAD, false},
    {"newsletter", CL_BAD, false},           {"breadcrumb", CL_BAD, false},
    {"entry-header", CL_HEADER, true},       {"post-header", CL_HEADER, true},
    {"article-header", CL_HEADER, true},     {"article__header", CL_HEADER, true},
    {"story-header", CL_HEADER, true},       {"headline", CL_HEADER, true},
    {"entry-meta", CL_HEADER | CL_DATE, true}, {"post-meta", CL_HEADER | CL_DATE, true},
    {"article-meta", CL_HEADER | CL_DATE, true}, {"date", CL_DATE, true},
    {"publish", CL_DATE | CL_PUB, true},     {"publication", CL_DATE, true},
    {"posted", CL_DATE, true},               {"time", CL_DATE, true},
    {"byline", CL_DATE | CL_AUTHOR, true},   {"author", CL_AUTHOR, true},
    {"meta", CL_DATE, true},                 {"submitted", CL_DATE, true},
    {"dateline", CL_DATE, true},             {"stamp", CL_DATE, true},
    {"entry-date", CL_DATE | CL_PUB, true},  {"post-date", CL_DATE | CL_PUB, true},
    {"pubdate", CL_DATE | CL_PUB, true},     {"created", CL_PUB, true},
    {"modif", CL_MODIFIED, true},            {"updated", CL_MODIFIED, true},
    {"masthead", CL_BANNER, true},           {"topbar", CL_BANNER, true},
    {"top-bar", CL_BANNER, true},            {"site-header", CL_BANNER, true},
    {"header-top", CL_BANNER, true},
    {"update", CL_MODIFIED, true},           {"edited", CL_MODIFIED, true},
};

static void meta_index_words(struct html_meta *m)
{
    for (size_t k = 0; k < sizeof(meta_words) / sizeof(meta_words[0]); k++) {
        int l = meta_words[k].word[0] - 'a';
        if (m->n_by_letter[l] < sizeof(m->by_letter[l]))
            m->by_letter[l][m->n_by_letter[l]++] = (unsigned char)k;
    }
}

/* The words a class or id attribute names where a name part starts: at the beginning, after a
 * space, '-', '_' or a digit, and for some words at a capital ("articleDate"). So
 * "layoutTwoColumnsRightSidebar" is a layout, not a sidebar, and "updated" holds no "date".
 * One pass over the attribute (its first 256 bytes). */
static unsigned meta_classify(const struct html_meta *m, const char *s)
{
    unsigned mask = 0;
    if (!s)
        return 0;
    for (size_t i = 0; s[i] && i < 256; i++) {
        char c = s[i], prev = i ? s[i - 1] : ' ';
        bool start = prev == ' ' || prev == '-' || prev == '_' || (prev >= '0' && prev <= '9');
        bool capital = c >= 'A' && c <= 'Z';
        if (!start && !capital)
            continue;
        char lc = capital ? (char)(c + 32) : c;
        if (lc < 'a' || lc > 'z')
            continue;
        for (int k = 0; k < m->n_by_letter[lc - 'a']; k++) {
            const struct meta_word *w = &meta_words[m->by_letter[lc - 'a'][k]];
            if (!(start || w->camel))
                continue;
            size_t j = 1;
            while (w->word[j]) {
                char a = s[i + j];
                if (a >= 'A' && a <= 'Z')
                    a = (char)(a + 32);
                if (a != w->word[j])
                    break;
                j++;
            }
            if (!w->word[j])
                mask |= w->mask;
        }
    }
    return mask;
}

/* ---- date candidates ---------------------------------------------------------------------- */

static bool meta_plausible(const struct html_meta *m, const struct md_date *d)
{
    return d->y >= 1995 && md_days(d) <= m->today;
}

static void meta_add(struct html_meta *m, const struct md_date *d, enum meta_src src)
{
    if (m->ncands >= m->cand_limit || !meta_plausible(m, d))
        return;
    struct meta_cand *c = &m->cands[m->ncands];
    c->date = *d;
    c->src = src;
    c->banner = m->cur_banner;
    m->ncands++;
}

static void meta_add_value(struct html_meta *m, const char *s, enum meta_src src)
{
    struct md_date d;
    if (s && md_parse_value(s, strlen(s), m->pg.mdy ? MD_MDY : 0, &d))
        meta_add(m, &d, src);
}

/* Meta names (name, property, itemprop) that give the publication date. */
static const char *const meta_pub_names[] = {
    "article:published_time", "og:published_time", "og:article:published_time",
    "article:published", "published_time", "datepublished", "pubdate", "publishdate",
    "publish_date", "publish-date", "published-date", "published_date", "date_published",
    "dc.date.issued", "dcterms.issued", "dc.date.created", "dcterms.created", "sailthru.date",
    "parsely-pub-date", "citation_publication_date", "citation_online_date", "citation_date",
    "article.published", "article_date_original", "original-publish-date", "datecreated",
    "pub_date", "og:pubdate", "rnews:datepublished", "article:post_date", "bt:pubdate",
    "cxenseparse:recs:publishtime", "dc:date.issued", "creation_date", "date_created",
    "publication_date", "publication-date", "publicationdate", NULL};
/* Loosely named tags: often the publication date, sometimes the last change. */
static const char *const meta_weak_names[] = {"date", "dc.date", "dcterms.date", "dc:date",
                                              "displaydate", "timestamp",
                                              "article_date", "pdate", "created", NULL};
static const char *const meta_mod_names[] = {
    "article:modified_time", "og:updated_time", "datemodified", "dc.date.modified",
    "dcterms.modified", "last-modified", "lastmod", "article:modified", "updated_time",
    "modified_time", "og:modified_time", "revised", NULL};

static bool meta_in(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (strcasecmp(name, *list) == 0)
            return true;
    return false;
}

static bool meta_http(const char *s)
{
    return s && (strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0);
}

static void meta_head_tag(struct html_meta *m, xmlNode *n)
{
    struct meta_page *pg = &m->pg;
    const char *content = meta_attr(n, "content");
    if (!content) {
        const char *cs = meta_attr(n, "datetime");
        content = cs;
    }
    if (!content || !*content)
        return;
    const char *keys[3] = {meta_attr(n, "property"), meta_attr(n, "name"), meta_attr(n, "itemprop")};
    const char *he = meta_attr(n, "http-equiv");
    if (he && strcasecmp(he, "content-language") == 0 && !pg->content_lang)
        pg->content_lang = content;
    for (int i = 0; i < 3; i++) {
        const char *k = keys[i];
        if (!k)
            continue;
        if (meta_in(k, meta_pub_names))
            meta_add_value(m, content, SRC_META);
        else if (meta_in(k, meta_weak_names))
            meta_add_value(m, content, SRC_META_WEAK);
        else if (meta_in(k, meta_mod_names))
            continue; /* a revision: never the publication, even when nothing else is known */
        else if (!strcasecmp(k, "og:title") && !pg->og_title)
            pg->og_title = content;
        else if (!strcasecmp(k, "twitter:title") && !pg->tw_title)
            pg->tw_title = content;
        else if (!strcasecmp(k, "og:site_name") && !pg->og_site)
            pg->og_site = content;
        else if (!strcasecmp(k, "application-name") && !pg->app_name)
            pg->app_name = content;
        else if (!strcasecmp(k, "og:url") && !pg->og_url)
            pg->og_url = content;
        else if (!strcasecmp(k, "author") && !pg->meta_author && i != 2)
            pg->meta_author = content;
        else if (!strcasecmp(k, "article:author") && !pg->article_author)
            pg->article_author = content;
        else if (!strcasecmp(k, "content-language") && !pg->content_lang)
            pg->content_lang = content;
    }
}

/* ---- JSON-LD ------------------------------------------------------------------------------ */

static bool meta_ld_type_has(json_t *type, const char *const *words)
{
    if (json_is_string(type)) {
        for (const char *const *w = words; *w; w++)
            if (strstr(json_string_value(type), *w))
                return true;
        return false;
    }
    if (json_is_array(type)) {
        size_t i;
        json_t *v;
        json_array_foreach(type, i, v) if (meta_ld_type_has(v, words)) return true;
    }
    return false;
}

static const char *const meta_ld_article[] = {"Article", "BlogPosting", "Posting", "Report",
                                              NULL};
static const char *const meta_ld_nodate[] = {"Comment", "Person", "Organization", "ImageObject",
                                             "VideoObject", "Event", "Product", "Review",
                                             "Answer", "Question", "Recipe", NULL};

/* Author names of a JSON-LD author value, ", "-joined into buf. */
static size_t meta_ld_names(json_t *v, char *buf, size_t len, size_t cap, int depth)
{
    if (depth > 3)
        return len;
    const char *name = NULL;
    if (json_is_string(v))
        name = json_string_value(v);
    else if (json_is_object(v))
        name = json_string_value(json_object_get(v, "name"));
    else if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) len = meta_ld_names(e, buf, len, cap, depth + 1);
        return len;
    }
    if (!name || !*name || meta_http(name))
        return len;
    size_t l = strlen(name);
    if (len + l + 3 >= cap)
        return len;
    if (len > 0)
        memcpy(buf + len, ", ", 2), len += 2;
    memcpy(buf + len, name, l);
    len += l;
    buf[len] = '\0';
    return len;
}

static void meta_ld_walk(struct html_meta *m, json_t *v, int depth)
{
    if (depth > 8)
        return;
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) meta_ld_walk(m, e, depth + 1);
        return;
    }
    if (!json_is_object(v))
        return;
    struct meta_page *pg = &m->pg;
    json_t *type = json_object_get(v, "@type");
    bool article = meta_ld_type_has(type, meta_ld_article);
    if (!meta_ld_type_has(type, meta_ld_nodate)) {
        const char *pub = json_string_value(json_object_get(v, "datePublished"));
        meta_add_value(m, pub, article ? SRC_LD_ARTICLE : SRC_LD_OTHER);
        meta_add_value(m, json_string_value(json_object_get(v, "dateCreated")), SRC_LD_OTHER);
    }
    if (article || !type) {
        const char *h = json_string_value(json_object_get(v, "headline"));
        if (h && !pg->ld_headline)
            pg->ld_headline = meta_keep(m, h, strlen(h));
        json_t *author = json_object_get(v, "author");
        if (author && !pg->ld_author) {
            size_t l = meta_ld_names(author, m->scratch, 0, sizeof(m->scratch), 0);
            if (l)
                pg->ld_author = meta_keep(m, m->scratch, l);
        }
        json_t *publisher = json_object_get(v, "publisher");
        const char *pn = json_string_value(json_object_get(publisher, "name"));
        if (pn && !pg->ld_publisher)
            pg->ld_publisher = meta_keep(m, pn, strlen(pn));
        const char *u = json_string_value(json_object_get(v, "url"));
        if (article && meta_http(u) && !pg->ld_url)
            pg->ld_url = meta_keep(m, u, strlen(u));
    }
    const char *key;
    json_t *e;
    json_object_foreach(v, key, e)
    {
        if ((json_is_object(e) || json_is_array(e)) && strcmp(key, "author") != 0 &&
            strcmp(key, "publisher") != 0 && strcmp(key, "comment") != 0)
            meta_ld_walk(m, e, depth + 1);
    }
}

static bool meta_script_key(struct html_meta *m, const char *s, size_t len, const char *key,
                            enum meta_src src);

static void meta_ld_script(struct html_meta *m, xmlNode *n)
{
    size_t len = 0;
    const char *s = NULL;
    xmlNode *c = n->children;
    if (!c || !c->content)
        return;
    s = (const char *)c->content;
    len = strlen(s);
    /* Trim the wrappers some CMSs put around the object: CDATA, comments, a trailing ';'. */
    while (len && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t'))
        s++, len--;
    if (len >= 12 && strncmp(s, "//<![CDATA[", 11) == 0)
        s += 11, len -= 11;
    else if (len >= 9 && strncmp(s, "<![CDATA[", 9) == 0)
        s += 9, len -= 9;
    while (len && *s != '{' && *s != '[')
        s++, len--;
    while (len && s[len - 1] != '}' && s[len - 1] != ']')
        len--;
    if (!len)
        return;
    json_error_t jerr;
    json_t *root = json_loadb(s, len, JSON_ALLOW_NUL, &jerr);
    if (root) {
        meta_ld_walk(m, root, 0);
        json_decref(root);
        return;
    }
    /* Broken JSON (unescaped quotes or newlines in a headline are common): read the date alone. */
    meta_script_key(m, s, len, "\"datePublished\"", SRC_LD_OTHER);
}

/* The date after `key` ("key": "2019-05-31...") in a script's text. */
static bool meta_script_key(struct html_meta *m, const char *s, size_t len, const char *key,
                            enum meta_src src)
{
    size_t kl = strlen(key);
    const char *p = memmem(s, len, key, kl);
    if (!p)
        return false;
    p += kl;
    size_t rest = len - (size_t)(p - s), k = 0;
    while (k < rest && k < 8 && (p[k] == ' ' || p[k] == ':' || p[k] == '"' || p[k] == '\''))
        k++;
    size_t e = k;
    while (e < rest && e - k < 40 && p[e] != '"' && p[e] != '\'' && p[e] != ',')
        e++;
    struct md_date d;
    if (e == k || !md_parse_value(p + k, e - k, 0, &d))
        return false;
    meta_add(m, &d, src);
    return true;
}

/* Inline scripts often carry the page's data layer or its CMS record ("first-publication",
 * "published_at"): a weak clue, read only by the keys that name the publication. */
static void meta_script_dates(struct html_meta *m, xmlNode *n)
{
    static const char *const keys[] = {
        "\"datePublished\"", "\"published_at\"", "\"publishDate\"", "\"publish_date\"",
        "\"first-publication\"", "\"publishedAt\"", "\"date_published\"",
        "\"publicationDate\"", NULL};
    xmlNode *c = n->children;
    if (!c || !c->content || m->pg.n_script++ >= 32)
        return;
    const char *s = (const char *)c->content;
    size_t len = strlen(s);
    /* Every key has "ublic" in it ("publish", "Publication"): most scripts are passed over with
     * one search. */
    if (!memmem(s, len, "ublic", 5))
        return;
    for (const char *const *k = keys; *k; k++)
        if (meta_script_key(m, s, len, *k, SRC_SCRIPT))
            return;
}

/* A <script> without a type that holds a schema.org object all the same. */
static bool meta_untyped_ld(xmlNode *n)
{
    const char *s = n->children ? (const char *)n->children->content : NULL;
    if (!s)
        return false;
    while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
        s++;
    if (*s++ != '{')
        return false;
    while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
        s++;
    return strncmp(s, "\"@context\"", 10) == 0;
}

/* ---- the walk ----------------------------------------------------------------------------- */

static void meta_text_append(struct html_meta *m, const char *s)
{
    /* Only text with something in it: layout white space would only dilute the windows. */
    while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
        s++;
    size_t l = strlen(s);
    if (l == 0 || m->text_len + l + 2 > META_TEXT_MAX)
        return;
    if (m->text_len + l + 2 > m->text_cap) {
        size_t cap = m->text_cap ? m->text_cap : 65536;
        while (cap < m->text_len + l + 2)
            cap *= 2;
        char *t = realloc(m->text, cap);
        if (!t)
            return; /* the text windows are a best effort: fewer dates, no failure */
        m->text = t, m->text_cap = cap;
    }
    memcpy(m->text + m->text_len, s, l);
    m->text_len += l;
    m->text[m->text_len++] = ' ';
    m->text[m->text_len] = '\0';
}

/* Flags of the tags that open an area; by first letter, as this runs for every element. */
static unsigned meta_tag_flags(const char *name, unsigned parent)
{
    switch (name[0]) {
    case 'a':
        return !strcmp(name, "aside") ? IN_BAD : !strcmp(name, "article") ? IN_ARTICLE : 0;
    case 'f':
        return !strcmp(name, "footer") ? IN_BAD : 0;
    case 'h':
        if (!strcmp(name, "h1"))
            return IN_H1;
        if (!strcmp(name, "head"))
            return IN_HEAD;
        if (strcmp(name, "header") != 0)
            return 0;
        return (parent & IN_ARTICLE) ? IN_HEADER : IN_BANNER;
    case 'm':
        return !strcmp(name, "main") ? IN_ARTICLE : 0;
    case 'n':
        return !strcmp(name, "nav") ? IN_BAD : !strcmp(name, "noscript") ? IN_SKIP : 0;
    case 's':
        return !strcmp(name, "script") || !strcmp(name, "style") || !strcmp(name, "svg") ? IN_SKIP
                                                                                         : 0;
    case 't':
        return !strcmp(name, "template") ? IN_SKIP : 0;
    default:
        return 0;
    }
}

static unsigned meta_flags_of(xmlNode *n, unsigned parent, unsigned cls, unsigned id)
{
    const char *name = (const char *)n->name;
    unsigned f = parent | meta_tag_flags(name, parent);
    /* Class words on <body> and <article> describe the page ("single-post comments-open"). */
    if ((cls | id) && strcmp(name, "body") != 0 && strcmp(name, "html") != 0 &&
        strcmp(name, "article") != 0) {
        unsigned both = cls | id;
        if (both & CL_BAD)
            f |= IN_BAD;
        if (both & CL_COMMENT)
            f |= IN_COMMENT;
        if (cls & CL_HEADER)
            f |= IN_HEADER;
        if ((both & CL_BANNER) && !(parent & IN_ARTICLE))
            f |= IN_BANNER;
    }
    if (n->properties && !(parent & IN_ARTICLE)) {
        const char *role = meta_attr(n, "role");
        if (role && strcasecmp(role, "banner") == 0)
            f |= IN_BANNER;
    }
    if ((f & IN_BANNER) && (f & IN_HEADER) && !(parent & IN_BANNER))
        f &= ~(unsigned)IN_BANNER; /* an article's own header, named as one */
    return f;
}

static void meta_time_tag(struct html_meta *m, xmlNode *n, unsigned f, unsigned cls)
{
    const char *dt = meta_attr(n, "datetime");
    const char *ip = meta_attr(n, "itemprop");
    if ((cls & CL_MODIFIED) || (ip && strcasecmp(ip, "dateModified") == 0))
        return;
    if (ip && strcasecmp(ip, "datePublished") == 0 && !(f & IN_COMMENT)) {
        meta_add_value(m, dt && *dt ? dt : meta_keep_text(m, n), SRC_ITEMPROP);
        return;
    }
    if (!dt || !*dt) {
        /* <time> without datetime: its text. */
        if (!(f & IN_BAD)) {
            const char *t = meta_keep_text(m, n);
            if (t)
                meta_add_value(m, t, (f & IN_HEADER) ? SRC_TIME_HEAD : SRC_CLASS);
        }
        return;
    }
    if (meta_attr(n, "pubdate") || (cls & CL_PUB))
        meta_add_value(m, dt, (f & IN_BAD) ? SRC_TIME_ANY : SRC_TIME_PUB);
    else if (f & IN_BAD)
        return;
    else if (f & IN_HEADER)
        meta_add_value(m, dt, SRC_TIME_HEAD);
    else if (m->pg.n_time++ < 8)
        meta_add_value(m, dt, SRC_TIME_ANY);
}

/* Whether the `n` bytes of s name a member's join date ("Joined", "Mitglied seit", "Member
 * since"), as forums and profiles print beside every post. */
static bool meta_join_words(const char *s, size_t n)
{
    static const char *const words[] = {
        "joined",       "join date",     "member since", "registered",  "registriert",
        "mitglied seit", "dabei seit",   "inscrit",      "membre depuis", "registrado",
        "miembro desde", "iscritto",     "lid sinds",    "lid sedert",  "registrerad",
        NULL};
    char win[40];
    if (n >= sizeof(win))
        n = sizeof(win) - 1;
    memcpy(win, s, n);
    win[n] = '\0';
    for (const char *const *w = words; *w; w++)
        if (strcasestr(win, *w))
            return true;
    return false;
}

static void meta_class_date(struct html_meta *m, xmlNode *n, unsigned f, unsigned cls,
                            unsigned id)
{
    if ((f & IN_BAD) || m->pg.n_class >= 12 || !((cls | id) & CL_DATE) || (cls & CL_MODIFIED))
        return;
    m->pg.n_class++;
    /* A profile's "Joined March 2007", whose title or text holds the day: the member's, not
     * the article's. */
    size_t len = meta_text_under(n, m->scratch, 0, 240), lead = 0;
    while (lead < len && (m->scratch[lead] == ' ' || m->scratch[lead] == '\n' ||
                          m->scratch[lead] == '\t' || m->scratch[lead] == '\r'))
        lead++;
    if (meta_join_words(m->scratch + lead, len - lead))
        return;
    /* <abbr class="published" title="2017-09-09T10:52:00+02:00">10:52</abbr> */
    static const char *const attrs[] = {"title", "datetime", "content", "data-date", NULL};
    for (const char *const *a = attrs; *a; a++) {
        const char *v = meta_attr(n, *a);
        struct md_date d;
        if (v && strlen(v) < 64 && md_parse_value(v, strlen(v), 0, &d)) {
            meta_add(m, &d, SRC_CLASS);
            return;
        }
    }
    if (len == 0 || len >= 239)
        return;
    struct md_date d;
    if (md_find(m->scratch, len, m->pg.mdy ? MD_MDY : 0, &d, NULL))
        meta_add(m, &d, SRC_CLASS);
}

static void meta_author_tag(struct html_meta *m, xmlNode *n, unsigned f, unsigned cls)
{
    struct meta_page *pg = &m->pg;
    if (f & IN_BAD)
        return;
    const char *rel = meta_attr(n, "rel");
    const char *ip = meta_attr(n, "itemprop");
    if (rel && strcasecmp(rel, "author") == 0 && meta_is(n, "a") && !pg->rel_author)
        pg->rel_author = meta_keep_text(m, n);
    else if (ip && strcasecmp(ip, "author") == 0 && !pg->prop_author) {
        const char *c = meta_attr(n, "content");
        pg->prop_author = c && *c && !meta_http(c) ? c : meta_keep_text(m, n);
    } else if (!pg->class_author) {
        if (cls & CL_AUTHOR) {
            size_t len = meta_text_under(n, m->scratch, 0, 160);
            if (len > 0 && len < 150)
                pg->class_author = meta_keep(m, m->scratch, len);
        }
    }
}

static void meta_element(struct html_meta *m, xmlNode *n, unsigned f, unsigned cls, unsigned id)
{
    struct meta_page *pg = &m->pg;
    const char *name = (const char *)n->name;
    switch (name[0]) {
    case 'h':
        if (!strcmp(name, "html")) {
            const char *l = meta_attr(n, "lang");
            if (!l)
                l = meta_attr(n, "xml:lang");
            pg->lang = l;
            pg->mdy = l && (strcasecmp(l, "en-us") == 0 || strcasecmp(l, "en") == 0);
        } else if (!strcmp(name, "h1") && m->n_h1 < META_MAX_H1 && !(f & IN_SKIP)) {
            const char *t = meta_keep_text(m, n);
            if (t) {
                m->h1s[m->n_h1].start = m->text_len;
                meta_text_append(m, t);
                m->h1s[m->n_h1].end = m->text_len;
                m->h1s[m->n_h1].text = t;
                m->h1s[m->n_h1++].bad = (f & IN_BAD) != 0;
            }
        }
        break;
    case 'm':
        /* Microdata <meta itemprop> in the body belongs to whatever item holds it (a teaser of
         * another article as often as not): it counts as microdata, below <head>'s tags. */
        if (!strcmp(name, "meta") && ((f & IN_HEAD) || !meta_attr(n, "itemprop")))
            meta_head_tag(m, n);
        break;
    case 'l':
        if (!strcmp(name, "link")) {
            const char *rel = meta_attr(n, "rel");
            if (rel && strcasecmp(rel, "canonical") == 0 && !pg->canonical)
                pg->canonical = meta_attr(n, "href");
        }
        break;
    case 't':
        if (!strcmp(name, "title") && !pg->title && (f & IN_HEAD))
            pg->title = meta_keep_text(m, n);
        else if (!strcmp(name, "time"))
            meta_time_tag(m, n, f, cls);
        break;
    case 's':
        if (!strcmp(name, "script")) {
            const char *t = meta_attr(n, "type");
            if (t ? strcasecmp(t, "application/ld+json") == 0 : meta_untyped_ld(n))
                meta_ld_script(m, n);
            else if (!meta_attr(n, "src") && (!t || strstr(t, "javascript") || strstr(t, "json")))
            {
                meta_script_dates(m, n);
                if (m->n_scripts < META_MAX_SCRIPTS && n->children && n->children->content)
                    m->scripts[m->n_scripts++] = n;
            }
        }
        break;
    default:
        break;
    }
    if (f & (IN_HEAD | IN_SKIP))
        return;
    const char *ip = meta_attr(n, "itemprop");
    if (ip && strcasecmp(ip, "datePublished") == 0 && strcmp(name, "time") != 0 &&
        !(f & IN_COMMENT)) {
        const char *v = meta_attr(n, "content");
        if (!v)
            v = meta_attr(n, "datetime");
        if (!v)
            v = meta_attr(n, "title");
        if (!v)
            v = meta_keep_text(m, n);
        meta_add_value(m, v, SRC_ITEMPROP);
    }
    if (strcmp(name, "time") != 0 && n->properties)
        meta_class_date(m, n, f, cls, id);
    if (n->properties)
        meta_author_tag(m, n, f, cls);
}

/* Opens a banner's range in m->text (the walk is in its first element), or closes the open one. */
static void meta_banner(struct html_meta *m, bool open)
{
    if (open && m->cur_banner < 0 && m->n_banners < META_MAX_BANNERS) {
        m->cur_banner = m->n_banners++;
        m->banners[m->cur_banner].start = m->text_len;
        m->banners[m->cur_banner].end = SIZE_MAX;
    } else if (!open && m->cur_banner >= 0) {
        m->banners[m->cur_banner].end = m->text_len;
        m->cur_banner = -1;
    }
}

static void meta_walk(struct html_meta *m, xmlNode *root)
{
    int depth = 0, banner_depth = -1;
    m->flags[0] = 0;
    xmlNode *n = root;
    while (n) {
        bool descend = false;
        unsigned f = m->flags[depth];
        if (n->type == XML_ELEMENT_NODE && n->name) {
            unsigned cls = 0, id = 0;
            if (n->properties) {
                cls = meta_classify(m, meta_attr(n, "class"));
                id = meta_classify(m, meta_attr(n, "id"));
            }
            unsigned nf = meta_flags_of(n, f, cls, id);
            if ((nf & IN_BANNER) && !(f & IN_BANNER) && m->cur_banner < 0) {
                meta_banner(m, true);
                banner_depth = depth;
            }
            meta_element(m, n, nf, cls, id);
            if (n->children && depth + 1 < META_MAX_DEPTH) {
                m->flags[depth + 1] = (unsigned char)nf;
                descend = true;
            }
        } else if (n->type == XML_TEXT_NODE && n->content && !(f & (IN_SKIP | IN_HEAD | IN_H1))) {
            meta_text_append(m, (const char *)n->content);
        }
        if (descend) {
            n = n->children;
            depth++;
            continue;
        }
        while (n && !n->next) {
            n = n->parent;
            depth--;
            if (depth < 0 || n == root) {
                meta_banner(m, false);
                return;
            }
        }
        if (m->cur_banner >= 0 && depth <= banner_depth)
            meta_banner(m, false); /* the banner's element and all below it are done */
        if (n)
            n = n->next;
    }
    meta_banner(m, false);
}

/* ---- choosing ----------------------------------------------------------------------------- */

/* The article's headline among the page's <h1>s: the first that the page's declared title
 * begins with or contains, else the first outside sidebars and footers. */
static void meta_pick_h1(struct html_meta *m)
{
    struct meta_page *pg = &m->pg;
    const char *ref = pg->og_title ? pg->og_title : pg->tw_title ? pg->tw_title
                      : pg->ld_headline                    ? pg->ld_headline
                                                           : pg->title;
    pg->h1_pick = -1;
    for (int i = 0; ref && i < m->n_h1; i++) {
        char probe[32];
        size_t l = strlen(m->h1s[i].text);
        if (l < 8)
            continue;
        if (l > 24) {
            l = 24;
            while (l > 8 && ((unsigned char)m->h1s[i].text[l] & 0xC0) == 0x80)
                l--;
        }
        memcpy(probe, m->h1s[i].text, l);
        probe[l] = '\0';
        if (strcasestr(ref, probe)) {
            pg->h1_pick = i;
            break;
        }
    }
    for (int i = 0; pg->h1_pick < 0 && i < m->n_h1; i++)
        if (!m->h1s[i].bad)
            pg->h1_pick = i;
    pg->h1 = pg->h1_pick >= 0 ? m->h1s[pg->h1_pick].text : NULL;
}

/* Whether banner k does not hold the article's headline (a page without one: no banner does). */
static bool meta_banner_foreign(const struct html_meta *m, int k)
{
    if (m->pg.h1_pick < 0)
        return true;
    size_t h1 = m->h1s[m->pg.h1_pick].start;
    return !(h1 >= m->banners[k].start && h1 < m->banners[k].end);
}

/* Whether the offset lies in a site banner that does not hold the article's headline. */
static bool meta_in_banner(const struct html_meta *m, size_t off)
{
    for (int i = 0; i < m->n_banners; i++)
        if (off >= m->banners[i].start && off < m->banners[i].end && meta_banner_foreign(m, i))
            return true;
    return false;
}

/* Whether a date at `at` in s is a member's join date ("Joined: 12 Mar 2015"): the words just
 * before it say so. */
static bool meta_join_date(const char *s, size_t at)
{
    size_t from = at > 32 ? at - 32 : 0;
    return meta_join_words(s + from, at - from);
}

/* The first date in [from, to) of the visible text that is neither in a site banner nor a
 * join date; its span in *start_out, *end_out. */
static bool meta_text_find(const struct html_meta *m, size_t from, size_t to, struct md_date *d,
                           size_t *start_out, size_t *end_out)
{
    int flags = m->pg.mdy ? MD_MDY : 0;
    size_t off = from, st, en;
    while (off < to && md_find_span(m->text + off, to - off, flags, d, &st, &en)) {
        st += off, en += off;
        if (!meta_in_banner(m, st) && !meta_join_date(m->text, st)) {
            *start_out = st, *end_out = en;
            return true;
        }
        off = en;
    }
    return false;
}

/* Dates in the visible text: announced by a word such as "Published" near the headline, else
 * the date nearest the headline: the first after it, unless one stands right above it (a
 * dateline over the headline) and nearer; without a headline, the top of the page. Last, an
 * announced date anywhere in the page. Site banners (the day's date on top of every page) and
 * forum members' join dates do not count. */
static void meta_text_dates(struct html_meta *m)
{
    static const char *const keys[] = {
        "published", "posted", "veröffentlicht", "publié", "publicado", "pubblicato",
        "gepubliceerd", "publicerad", "opublikowano", "erschienen", "date:", "datum:",
        "mise en ligne", "dieser artikel wurde am", NULL};
    if (!m->text_len)
        return;
    size_t from = 0, h1 = 0, h1_end = 0;
    size_t to = m->text_len < META_LEAD ? m->text_len : META_LEAD;
    if (m->pg.h1_pick >= 0) {
        size_t s = m->h1s[m->pg.h1_pick].start, e = m->h1s[m->pg.h1_pick].end;
        from = s > META_TEXT_BEFORE ? s - META_TEXT_BEFORE : 0;
        h1 = s; /* the heading itself may carry the date (<h1>Title <small>date</small></h1>) */
        h1_end = e;
        to = e + META_TEXT_AFTER < m->text_len ? e + META_TEXT_AFTER : m->text_len;
    }
    char saved = m->text[to];
    m->text[to] = '\0';
    const char *t = m->text;
    struct md_date d;
    size_t st, en;
    bool found = false;
    for (const char *const *k = keys; *k; k++) {
        const char *p = strcasestr(t + from, *k);
        if (!p)
            continue;
        size_t at = (size_t)(p - t) + strlen(*k);
        size_t win = to - at < 80 ? to - at : 80;
        if (meta_text_find(m, at, at + win, &d, &st, &en)) {
            meta_add(m, &d, SRC_TEXT_KEY);
            found = true;
        }
    }
    struct md_date after, before;
    size_t after_at = 0, before_end = 0;
    bool has_after = meta_text_find(m, h1, to, &after, &after_at, &en);
    bool has_before = false;
    for (size_t off = from; off < h1 && meta_text_find(m, off, h1, &d, &st, &en); off = en)
        before = d, before_end = en, has_before = true;
    size_t gap_after = after_at > h1_end ? after_at - h1_end : 0;
    size_t gap_before = h1 - before_end;
    if (has_before && (!has_after || (gap_before <= META_NEAR_BEFORE && gap_before < gap_after)))
        meta_add(m, &before, SRC_TEXT);
    else if (has_after)
        meta_add(m, &after, SRC_TEXT);
    found |= has_before || has_after;
    m->text[to] = saved;
    if (found)
        return;
    for (const char *const *k = keys; *k; k++) {
        const char *p = strcasestr(t + to, *k);
        if (!p)
            continue;
        size_t at = (size_t)(p - t) + strlen(*k);
        size_t win = m->text_len - at < 80 ? m->text_len - at : 80;
        if (meta_text_find(m, at, at + win, &d, &st, &en))
            meta_add(m, &d, SRC_TEXT_FAR);
    }
}

/* The last resort of a page that shows no date: one written by its scripts, as the argument
 * of a call (an analytics tag's "dimension" set to the publication time, a renderer's
 * arguments): a quoted string that is a date with a time of day and nothing else, between
 * '(' or ',' and ')' or ','. The first such is taken. */
static void meta_script_calls(struct html_meta *m)
{
    for (int k = 0; k < m->n_scripts; k++) {
        const char *s = (const char *)m->scripts[k]->children->content;
        size_t n = strnlen(s, META_SCRIPT_SCAN);
        for (size_t i = 0; i + 18 < n; i++) {
            char q = s[i];
            if ((q != '\'' && q != '"') || s[i + 1] < '0' || s[i + 1] > '9')
                continue;
            const char *close = memchr(s + i + 1, q, n - i - 1 < 40 ? n - i - 1 : 40);
            if (!close)
                continue;
            size_t b = i, a = (size_t)(close - s) + 1;
            while (b > 0 && (s[b - 1] == ' ' || s[b - 1] == '\t'))
                b--;
            while (a < n && (s[a] == ' ' || s[a] == '\t'))
                a++;
            struct md_date d;
            size_t len = (size_t)(close - s) - i - 1, start = 1, end = 0;
            if (b > 0 && (s[b - 1] == '(' || s[b - 1] == ',') && a < n &&
                (s[a] == ')' || s[a] == ',') &&
                md_find_span(s + i + 1, len, 0, &d, &start, &end) && start == 0 && end == len &&
                d.has_time) {
                meta_add(m, &d, SRC_SCRIPT_CALL);
                return;
            }
            i = (size_t)(close - s);
        }
    }
}

/* Drops the candidates read in a site banner that does not hold the article's headline. */
static void meta_drop_banner_dates(struct html_meta *m)
{
    int w = 0;
    for (int i = 0; i < m->ncands; i++) {
        const struct meta_cand *c = &m->cands[i];
        if (c->banner >= 0 && meta_banner_foreign(m, c->banner))
            continue;
        m->cands[w++] = *c;
    }
    m->ncands = w;
}

/* The rank of a candidate: its source's, except that markup repeated down a list of teasers
 * with different dates (three or more, not all equal) says little about the article itself
 * and ranks with the other <time>s of the page. */
static int meta_rank(const struct html_meta *m, const struct meta_cand *c)
{
    if (c->src != SRC_ITEMPROP && c->src != SRC_TIME_PUB && c->src != SRC_TIME_HEAD &&
        c->src != SRC_CLASS)
        return (int)c->src;
    int same = 0;
    bool differ = false;
    long first = -1;
    for (int i = 0; i < m->ncands; i++) {
        if (m->cands[i].src != c->src)
            continue;
        long d = md_days(&m->cands[i].date);
        if (first < 0)
            first = d;
        differ |= d != first;
        same++;
    }
    return same >= 3 && differ ? (int)SRC_TIME_ANY : (int)c->src;
}

/* The day the page shows by the article (a <time> or a dated element in its header), when all
 * such clues agree on one: NULL when there are none or they disagree. */
static const struct meta_cand *meta_shown_day(const struct html_meta *m)
{
    const struct meta_cand *shown = NULL;
    for (int i = 0; i < m->ncands; i++) {
        const struct meta_cand *c = &m->cands[i];
        if ((c->src != SRC_TIME_PUB && c->src != SRC_TIME_HEAD && c->src != SRC_CLASS) ||
            meta_rank(m, c) != (int)c->src)
            continue;
        if (shown && md_days(&shown->date) != md_days(&c->date))
            return NULL;
        if (!shown || c->src < shown->src)
            shown = c;
    }
    return shown;
}

static const struct meta_cand *meta_choose(const struct html_meta *m)
{
    const struct meta_cand *best = NULL;
    for (int i = 0; i < m->ncands; i++) {
        const struct meta_cand *c = &m->cands[i];
        bool earlier = best && md_days(&c->date) < md_days(&best->date);
        /* JSON-LD and the publication meta tags are equally reliable, and so are two JSON-LD
         * objects: when they disagree the earlier date is the publication, the later a
         * revision. */
        if (best && c->src <= SRC_META && best->src <= SRC_META) {
            if (earlier)
                best = c;
        } else if (!best || meta_rank(m, c) < meta_rank(m, best)) {
            best = c;
        } else if (earlier && c->src == best->src && c->src == SRC_LD_OTHER) {
            best = c;
        }
    }
    if (best && best->date.has_time && best->date.has_tz && best->date.tz_min == 0) {
        /* A time stamp in UTC can fall on the day before or after the one the page shows in
         * its own zone: the date as the page shows it wins when a clue without a time gives
         * that neighbouring day. */
        long day = md_days(&best->date);
        for (int i = 0; i < m->ncands; i++) {
            const struct meta_cand *c = &m->cands[i];
            /* A clue in the page's own zone that agrees with the stamp settles it. */
            if (md_days(&c->date) == day && !(c->date.has_tz && c->date.tz_min == 0))
                return best;
        }
        for (int i = 0; i < m->ncands; i++) {
            const struct meta_cand *c = &m->cands[i];
            if (c->date.has_time)
                continue;
            long cd = md_days(&c->date);
            if ((cd == day + 1 && best->date.hh >= 18) || (cd == day - 1 && best->date.hh < 6))
                return c;
        }
    }
    /* The markup's date is often the day the article was written, and the page shows a later
     * one, the day it went out or went out again: up to a month later, the day shown by the
     * article wins. */
    const struct meta_cand *shown = best && best->src <= SRC_ITEMPROP ? meta_shown_day(m) : NULL;
    if (shown && md_days(&shown->date) > md_days(&best->date) &&
        md_days(&shown->date) <= md_days(&best->date) + META_VISIBLE_DAYS)
        return shown;
    return best;
}

/* ---- other fields ------------------------------------------------------------------------- */

static bool meta_sep_at(const char *s, size_t i, size_t n, size_t *len)
{
    static const char *const seps[] = {" | ", " - ", " \xE2\x80\x93 ", " \xE2\x80\x94 ", " :: ",
                                       " \xC2\xAB ", " \xC2\xBB ", " \xC2\xB7 ", " // ", NULL};
    for (const char *const *p = seps; *p; p++) {
        size_t l = strlen(*p);
        if (i + l <= n && memcmp(s + i, *p, l) == 0) {
            *len = l;
            return true;
        }
    }
    return false;
}

/* The title without the site's name: " | Site", " - Site", "Site | "; when `strip`, also a
 * short last part that is presumably the site's. Returns 0 or -1. */
static int meta_set_title(struct nf_record *rec, const char *t, const char *site, bool strip)
{
    size_t n = strlen(t);
    size_t first = 0, first_len = 0, last = 0, last_len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l;
        if (meta_sep_at(t, i, n, &l)) {
            if (!first_len)
                first = i, first_len = l;
            last = i, last_len = l;
        }
    }
    size_t sl = site ? strlen(site) : 0;
    if (last_len && sl && n - (last + last_len) == sl && strncasecmp(t + last + last_len, site, sl) == 0)
        n = last;
    else if (first_len && sl && first == sl && strncasecmp(t, site, sl) == 0)
        t += first + first_len, n -= first + first_len;
    else if (strip && last_len && n - (last + last_len) <= 40 && n - (last + last_len) < last)
        n = last;
    return nf_record_set_str(rec, NF_F_TITLE, t, n);
}

static const char *meta_domain(const char *url, char *buf, size_t cap)
{
    if (!meta_http(url))
        return NULL;
    const char *h = strstr(url, "://") + 3;
    size_t l = strcspn(h, "/:?#");
    if (l > 4 && strncasecmp(h, "www.", 4) == 0)
        h += 4, l -= 4;
    if (l == 0 || l >= cap)
        return NULL;
    for (size_t i = 0; i < l; i++)
        buf[i] = (char)((h[i] >= 'A' && h[i] <= 'Z') ? h[i] + 32 : h[i]);
    buf[l] = '\0';
    return buf;
}

static const char *meta_byline(struct html_meta *m)
{
    struct meta_page *pg = &m->pg;
    const char *c[] = {pg->ld_author, pg->meta_author, pg->article_author, pg->rel_author,
                       pg->prop_author, pg->class_author};
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        const char *s = c[i];
        if (!s || !*s || meta_http(s) || strchr(s, '@') || strlen(s) > 120)
            continue;
        while (*s == ' ')
            s++;
        static const char *const pre[] = {"by ", "von ", "par ", "por ", "door ", "di ", NULL};
        for (const char *const *p = pre; *p; p++)
            if (strncasecmp(s, *p, strlen(*p)) == 0) {
                s += strlen(*p);
                break;
            }
        if (*s)
            return s;
    }
    return NULL;
}

static int meta_set_lang(struct nf_record *rec, const char *l)
{
    if (!l)
        return 1;
    while (*l == ' ')
        l++;
    char a = (char)((l[0] >= 'A' && l[0] <= 'Z') ? l[0] + 32 : l[0]);
    char b = a ? (char)((l[1] >= 'A' && l[1] <= 'Z') ? l[1] + 32 : l[1]) : 0;
    if (a < 'a' || a > 'z' || b < 'a' || b > 'z')
        return 1;
    if (l[2] && l[2] != '-' && l[2] != '_' && l[2] != ',' && l[2] != ' ' && l[2] != ';')
        return 1;
    char code[3] = {a, b, 0};
    return nf_record_set_cstr(rec, NF_F_LANG, code);
}

static long meta_today(struct nf_record *rec)
{
    const char *f = nf_record_str(rec, NF_F_FETCHED_AT, NULL);
    struct md_date d;
    /* A day of slack: a page dated in a time zone ahead of UTC. */
    if (f && md_parse_value(f, strlen(f), 0, &d))
        return md_days(&d) + 1;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    struct md_date t = {.y = tm.tm_year + 1900, .m = tm.tm_mon + 1, .d = tm.tm_mday};
    return md_days(&t) + 1;
}

int html_meta_extract(struct html_meta *m, htmlDocPtr doc, const char *source_uri,
                      struct nf_record *rec)
{
    memset(&m->pg, 0, sizeof(m->pg));
    m->ncands = 0;
    m->arena_len = m->text_len = 0;
    m->n_h1 = 0;
    m->n_banners = 0;
    m->n_scripts = 0;
    m->cur_banner = -1;
    m->cand_limit = META_MAX_CANDS - META_LATE_CANDS;
    m->today = meta_today(rec);
    xmlNode *root = xmlDocGetRootElement(doc);
    if (root)
        meta_walk(m, root);
    struct meta_page *pg = &m->pg;
    meta_pick_h1(m);
    meta_drop_banner_dates(m);
    m->cand_limit = META_MAX_CANDS;

    const char *url = meta_http(pg->canonical) ? pg->canonical
                      : meta_http(pg->og_url)  ? pg->og_url
                                               : pg->ld_url;
    if (!nf_record_has(rec, NF_F_PUBLISHED_AT)) {
        struct md_date d;
        const char *urls[] = {url, pg->og_url, meta_http(source_uri) ? source_uri : NULL};
        for (size_t i = 0; i < 3; i++)
            if (urls[i] && md_from_url(urls[i], &d)) {
                meta_add(m, &d, SRC_URL);
                break;
            }
        bool strong = false;
        for (int i = 0; i < m->ncands && !strong; i++)
            strong = m->cands[i].src <= SRC_TIME_HEAD;
        if (!strong)
            meta_text_dates(m);
        if (m->ncands == 0)
            meta_script_calls(m);
        const struct meta_cand *best = meta_choose(m);
        if (best) {
            char iso[32];
            md_format(&best->date, iso);
            if (nf_record_set_cstr(rec, NF_F_PUBLISHED_AT, iso) < 0)
                return -1;
        }
    }

    const char *site = pg->og_site ? pg->og_site : pg->ld_publisher ? pg->ld_publisher : pg->app_name;
    if (!nf_record_has(rec, NF_F_TITLE)) {
        /* Declared titles first; only <title> is known to carry the site's name as a rule. */
        const char *titles[] = {pg->og_title, pg->tw_title, pg->ld_headline, pg->h1, pg->title};
        for (size_t i = 0; i < sizeof(titles) / sizeof(titles[0]); i++) {
            const char *t = titles[i] ? meta_keep(m, titles[i], strlen(titles[i])) : NULL;
            if (!t)
                continue;
            if (meta_set_title(rec, t, site, i == 4) < 0)
                return -1;
            break;
        }
    }
    if (!nf_record_has(rec, NF_F_BYLINE)) {
        const char *b = meta_byline(m);
        if (b && nf_record_set_cstr(rec, NF_F_BYLINE, b) < 0)
            return -1;
    }
    if (!nf_record_has(rec, NF_F_OUTLET)) {
        char dom[256];
        const char *o = site && *site ? site : meta_domain(url, dom, sizeof(dom));
        if (o && nf_record_set_cstr(rec, NF_F_OUTLET, o) < 0)
            return -1;
    }
    if (!nf_record_has(rec, NF_F_URL) && url && nf_record_set_cstr(rec, NF_F_URL, url) < 0)
        return -1;
    if (!nf_record_has(rec, NF_F_LANG)) {
        int r = meta_set_lang(rec, pg->lang);
        if (r > 0)
            r = meta_set_lang(rec, pg->content_lang);
        if (r < 0)
            return -1;
    }
    return 0;
}
