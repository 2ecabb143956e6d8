/* Feed documents to items (see feed_parse.h). XML feeds are read once into a libxml2 tree in
 * recover mode, without the network and without substituting entities; elements are matched
 * by namespace and local name, so prefixes do not matter. JSON Feed is read with jansson. Dates
 * go through libcurl's RFC 822 reader or the ISO 8601 forms feeds use; links through libcurl's
 * URL parser. */
#include "feed_parse.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <xxhash.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#define NS_RSS1 "http://purl.org/rss/1.0/"
#define NS_RSS090 "http://my.netscape.com/rdf/simple/0.9/"
#define NS_RSS_USERLAND "http://backend.userland.com/rss2"
#define NS_ATOM "http://www.w3.org/2005/Atom"
#define NS_ATOM03 "http://purl.org/atom/ns#"
#define NS_DC "http://purl.org/dc/elements/1.1/"
#define NS_CONTENT "http://purl.org/rss/1.0/modules/content/"
#define NS_MEDIA "http://search.yahoo.com/mrss/"
#define NS_RDF "http://www.w3.org/1999/02/22-rdf-syntax-ns#"

/* NONET: never fetch a DTD or entity; no NOENT: entities are not substituted (no external
 * entity reads, no expansion bombs); RECOVER: a truncated or sloppy feed gives what it has. */
#define FEED_XML_OPTS                                                                \
    (XML_PARSE_RECOVER | XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | \
     XML_PARSE_NOCDATA | XML_PARSE_COMPACT)

/* An item as it is being read: owned strings, packed into one feed_item at the end. */
struct fp_item {
    char *link, *guid, *title, *date, *author, *content;
    size_t content_len;
    bool html;
};

struct fp {
    xmlDocPtr doc;
    const char *base_url;
    const char *encoding; /* given by the server, for a document that declares none */
    bool keep;
    struct feed_doc *out;
};

/* ---- strings ------------------------------------------------------------------------- */

/* Collapses runs of white space into one space and trims, in place. NULL (freed) if empty. */
static char *fp_norm(char *s)
{
    if (!s)
        return NULL;
    char *w = s;
    bool space = false;
    for (const char *r = s; *r; r++) {
        if (isspace((unsigned char)*r)) {
            space = w != s;
            continue;
        }
        if (space)
            *w++ = ' ';
        space = false;
        *w++ = *r;
    }
    *w = '\0';
    if (!*s) {
        free(s);
        return NULL;
    }
    return s;
}

/* libxml2 memory is released with xmlFree; the builder holds malloc'd strings, so copy. */
static char *fp_dup_xml(xmlChar *x)
{
    if (!x)
        return NULL;
    char *s = strdup((const char *)x);
    xmlFree(x);
    return s;
}

static char *fp_text(xmlNode *n)
{
    return fp_dup_xml(xmlNodeGetContent(n));
}

/* Sets *slot to v if it is empty; frees v otherwise. */
static void fp_take(char **slot, char *v)
{
    if (v && !*slot)
        *slot = v;
    else
        free(v);
}

/* Appends a name to a ", "-joined list; takes `name`. Returns -1 on allocation failure. */
static int fp_add_name(char **list, char *name)
{
    name = fp_norm(name);
    if (!name)
        return 0;
    if (!*list) {
        *list = name;
        return 0;
    }
    size_t a = strlen(*list), b = strlen(name);
    char *j = realloc(*list, a + b + 3);
    if (!j) {
        free(name);
        return -1;
    }
    memcpy(j + a, ", ", 2);
    memcpy(j + a + 2, name, b + 1);
    *list = j;
    free(name);
    return 0;
}

/* An RSS <author> is an e-mail address, often with the name in parentheses: keep the name
 * ("jane@x.org (Jane Roe)", or "Jane Roe (jane@x.org)"). A bare address is not a byline. */
static char *fp_rss_author(char *s)
{
    s = fp_norm(s);
    if (!s)
        return NULL;
    char *open = strchr(s, '('), *close = open ? strrchr(open, ')') : NULL;
    char *at = strchr(s, '@');
    if (open && close && close > open + 1 && at && at < open) {
        size_t n = (size_t)(close - open - 1);
        memmove(s, open + 1, n);
        s[n] = '\0';
        return fp_norm(s);
    }
    if (open && close && at && at > open && at < close && open > s) {
        *open = '\0';
        return fp_norm(s);
    }
    if (strchr(s, '@') && !strchr(s, ' ')) {
        free(s);
        return NULL;
    }
    return s;
}

/* ---- URLs ---------------------------------------------------------------------------- */

static void fp_lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* Drops utm_* parameters from a query string, in place. */
static void fp_strip_tracking(char *q)
{
    char *w = q;
    for (char *p = q; *p;) {
        char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n > 0 && strncasecmp(p, "utm_", 4) != 0) {
            if (w != q)
                *w++ = '&';
            memmove(w, p, n);
            w += n;
        }
        p += n + (amp != NULL);
    }
    *w = '\0';
}

char *feed_url_canon(const char *base, const char *ref)
{
    if (!ref)
        return NULL;
    while (isspace((unsigned char)*ref))
        ref++;
    size_t n = strlen(ref);
    while (n && isspace((unsigned char)ref[n - 1]))
        n--;
    if (n == 0 || n > 8192)
        return NULL;
    char *r = strndup(ref, n);
    CURLU *u = curl_url();
    char *out = NULL, *scheme = NULL, *host = NULL, *query = NULL;
    if (!r || !u)
        goto out;
    if (base && curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK)
        base = NULL;
    if (curl_url_set(u, CURLUPART_URL, r, 0) != CURLUE_OK)
        goto out;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
        goto out;
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0])
        goto out;
    fp_lower(host);
    if (curl_url_set(u, CURLUPART_HOST, host, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) != CURLUE_OK)
        goto out;
    if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK) {
        fp_strip_tracking(query);
        if (curl_url_set(u, CURLUPART_QUERY, query[0] ? query : NULL, 0) != CURLUE_OK)
            goto out;
    }
    char *full = NULL;
    if (curl_url_get(u, CURLUPART_URL, &full, CURLU_NO_DEFAULT_PORT) == CURLUE_OK) {
        out = strdup(full);
        curl_free(full);
    }
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(query);
    curl_url_cleanup(u);
    free(r);
    return out;
}

int feed_url_host(const char *url, char *out, size_t n)
{
    CURLU *u = curl_url();
    char *host = NULL;
    int rc = -1;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && strlen(host) < n) {
        fp_lower(host);
        memcpy(out, host, strlen(host) + 1);
        rc = 0;
    }
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

/* ---- dates --------------------------------------------------------------------------- */

/* Whether y-m-d is a real calendar day (strptime takes 31 February). */
static bool fp_real_day(const struct tm *tm)
{
    struct tm t = {
        .tm_year = tm->tm_year, .tm_mon = tm->tm_mon, .tm_mday = tm->tm_mday, .tm_hour = 12};
    time_t s = timegm(&t);
    struct tm back;
    return s != (time_t)-1 && gmtime_r(&s, &back) && back.tm_year == tm->tm_year &&
           back.tm_mon == tm->tm_mon && back.tm_mday == tm->tm_mday;
}

static int fp_iso(const char *s, char *out, size_t n)
{
    struct tm tm = {0};
    const char *p = strptime(s, "%Y-%m-%d", &tm);
    if (!p || !fp_real_day(&tm) || tm.tm_year + 1900 < 1900)
        return -1;
    if (!*p)
        return strftime(out, n, "%Y-%m-%d", &tm) ? 0 : -1;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    /* strptime's %H and %M skip leading spaces and take one digit: require two. */
    p++;
    if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) || p[2] != ':' ||
        !isdigit((unsigned char)p[3]) || !isdigit((unsigned char)p[4]))
        return -1;
    tm.tm_hour = (p[0] - '0') * 10 + (p[1] - '0');
    tm.tm_min = (p[3] - '0') * 10 + (p[4] - '0');
    p += 5;
    if (*p == ':') {
        if (!isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]))
            return -1;
        tm.tm_sec = (p[1] - '0') * 10 + (p[2] - '0');
        p += 3;
        if (*p == '.' || *p == ',') {
            p++;
            while (isdigit((unsigned char)*p))
                p++;
        }
    }
    if (tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    long off = 0;
    bool zoned = true;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, hh, mm = 0;
        p++;
        if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
            return -1;
        hh = (p[0] - '0') * 10 + (p[1] - '0');
        p += 2;
        if (*p == ':')
            p++;
        if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1])) {
            mm = (p[0] - '0') * 10 + (p[1] - '0');
            p += 2;
        }
        if (hh > 23 || mm > 59)
            return -1;
        off = sign * (hh * 3600L + mm * 60L);
    } else {
        zoned = false;
    }
    while (isspace((unsigned char)*p))
        p++;
    if (*p)
        return -1;
    if (!zoned) /* local time of an unknown zone: kept as given, not made UTC */
        return strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm) ? 0 : -1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    t -= off;
    struct tm u;
    gmtime_r(&t, &u);
    return strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &u) ? 0 : -1;
}

int feed_date_iso(const char *in, char *out, size_t n)
{
    if (!in)
        return -1;
    while (isspace((unsigned char)*in))
        in++;
    char s[128];
    size_t len = strlen(in);
    while (len && isspace((unsigned char)in[len - 1]))
        len--;
    if (len == 0 || len >= sizeof(s))
        return -1;
    memcpy(s, in, len);
    s[len] = '\0';
    if (len >= 10 && isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[3]) && s[4] == '-')
        return fp_iso(s, out, n);
    /* RFC 822 and its relatives: libcurl's date reader knows the named zones. It turns a
     * 31 February into 3 March, so the day is checked where the usual forms give it. */
    time_t t = curl_getdate(s, NULL);
    if (t == (time_t)-1)
        return -1;
    struct tm d = {0};
    const char *after_day =
        strchr(s, ',') ? strptime(s, "%a, %d %b %Y", &d) : strptime(s, "%d %b %Y", &d);
    if (after_day && !fp_real_day(&d))
        return -1;
    struct tm u;
    gmtime_r(&t, &u);
    if (u.tm_year + 1900 < 1900 || u.tm_year + 1900 > 9999)
        return -1;
    /* no time of day in the text: a date alone, not midnight invented */
    const char *fmt = strchr(s, ':') ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d";
    return strftime(out, n, fmt, &u) ? 0 : -1;
}

/* ---- items --------------------------------------------------------------------------- */

static void fp_item_free(struct fp_item *b)
{
    free(b->link);
    free(b->guid);
    free(b->title);
    free(b->date);
    free(b->author);
    free(b->content);
    *b = (struct fp_item){0};
}

/* Packs the builder into one allocation and appends it to the document. */
static int fp_emit(struct fp *p, struct fp_item *b)
{
    char key_buf[24];
    const char *key = b->link ? b->link : b->guid;
    if (!key) {
        XXH3_state_t *st = XXH3_createState();
        if (!st)
            return -1;
        XXH3_64bits_reset(st);
        const char *parts[] = {b->title, b->date, b->content};
        for (size_t i = 0; i < 3; i++) {
            if (parts[i])
                XXH3_64bits_update(st, parts[i], strlen(parts[i]));
            XXH3_64bits_update(st, "\n", 1);
        }
        snprintf(key_buf, sizeof(key_buf), "h:%016llx", (unsigned long long)XXH3_64bits_digest(st));
        XXH3_freeState(st);
        key = key_buf;
    }
    bool keep = p->keep || !b->link;
    const char *strs[] = {b->link, key, b->title, b->date, b->author};
    size_t need = sizeof(struct feed_item);
    for (size_t i = 0; i < 5; i++)
        need += strs[i] ? strlen(strs[i]) + 1 : 0;
    size_t clen = keep && b->content ? b->content_len : 0;
    need += keep && b->content ? clen + 1 : 0;
    struct feed_doc *d = p->out;
    if (d->n_items == d->cap_items) {
        size_t cap = d->cap_items ? d->cap_items * 2 : 32;
        struct feed_item **v = realloc(d->items, cap * sizeof(*v));
        if (!v)
            return -1;
        d->items = v;
        d->cap_items = cap;
    }
    struct feed_item *it = calloc(1, need);
    if (!it)
        return -1;
    char *w = (char *)(it + 1);
    const char **dst[] = {&it->link, &it->key, &it->title, &it->published, &it->author};
    for (size_t i = 0; i < 5; i++) {
        if (!strs[i])
            continue;
        size_t l = strlen(strs[i]) + 1;
        memcpy(w, strs[i], l);
        *dst[i] = w;
        w += l;
    }
    if (keep && b->content) {
        memcpy(w, b->content, clen);
        w[clen] = '\0';
        it->content = w;
        it->content_len = clen;
        it->content_html = b->html;
    }
    d->items[d->n_items++] = it;
    return 0;
}

static void fp_set_date(struct fp_item *b, const char *s)
{
    char iso[40];
    if (!b->date && s && feed_date_iso(s, iso, sizeof(iso)) == 0)
        b->date = strdup(iso);
}

static void fp_set_date_node(struct fp_item *b, xmlNode *n)
{
    if (b->date)
        return;
    xmlChar *x = xmlNodeGetContent(n);
    fp_set_date(b, (const char *)x);
    xmlFree(x);
}

static void fp_set_content(struct fp_item *b, char *s, bool html)
{
    if (b->content || !s || !s[strspn(s, " \t\r\n")]) {
        free(s);
        return;
    }
    b->content = s;
    b->content_len = strlen(s);
    b->html = html;
}

/* ---- XML ----------------------------------------------------------------------------- */

static bool fp_ns(const xmlNode *n, const char *href)
{
    return n->ns && n->ns->href && strcmp((const char *)n->ns->href, href) == 0;
}

static bool fp_named(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* RSS's own elements: no namespace (2.0, 0.9x), or RSS 1.0's or 0.90's. */
static bool fp_rss(const xmlNode *n, const char *name)
{
    return fp_named(n, name) &&
           (!n->ns || fp_ns(n, NS_RSS1) || fp_ns(n, NS_RSS090) || fp_ns(n, NS_RSS_USERLAND));
}

static bool fp_atom(const xmlNode *n, const char *name)
{
    return fp_named(n, name) && (fp_ns(n, NS_ATOM) || fp_ns(n, NS_ATOM03));
}

static bool fp_in(const xmlNode *n, const char *ns, const char *name)
{
    return fp_named(n, name) && fp_ns(n, ns);
}

static char *fp_attr(xmlNode *n, const char *name)
{
    return fp_dup_xml(xmlGetProp(n, (const xmlChar *)name));
}

/* A link as the feed writes it, made absolute against the element's xml:base (which libxml2
 * resolves against the feed's own URL). */
static char *fp_link(struct fp *p, xmlNode *n, const char *ref)
{
    xmlChar *base = xmlNodeGetBase(p->doc, n);
    char *u = feed_url_canon(base ? (const char *)base : p->base_url, ref);
    xmlFree(base);
    return u;
}

/* Text of HTML markup (an Atom title of type html). */
static char *fp_html_text(const char *markup)
{
    size_t n = strlen(markup);
    if (n > 65536)
        return NULL;
    htmlDocPtr h = htmlReadMemory(markup, (int)n, NULL, "UTF-8",
                                  HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                      HTML_PARSE_NONET);
    if (!h)
        return NULL;
    xmlNode *root = xmlDocGetRootElement(h);
    char *s = root ? fp_text(root) : NULL;
    xmlFreeDoc(h);
    return s;
}

/* An Atom text construct (title, summary, content) and whether it is HTML. xhtml content is
 * serialised back to markup; content given by reference (src) or as other XML is not text. */
static char *fp_atom_text(struct fp *p, xmlNode *n, bool *html)
{
    *html = false;
    char *type = fp_attr(n, "type"), *src = fp_attr(n, "src");
    char *out = NULL;
    if (src) {
        free(src);
        free(type);
        return NULL;
    }
    if (!type || !strcmp(type, "text") || !strncmp(type, "text/plain", 10)) {
        out = fp_text(n);
    } else if (!strcmp(type, "html") || !strncmp(type, "text/html", 9) ||
               !strcmp(type, "escaped")) {
        out = fp_text(n);
        *html = true;
    } else if (!strcmp(type, "xhtml") || !strncmp(type, "application/xhtml+xml", 21)) {
        xmlNode *div = n->children;
        while (div && div->type != XML_ELEMENT_NODE)
            div = div->next;
        xmlBufferPtr buf = xmlBufferCreate();
        for (xmlNode *c = div ? div->children : NULL; buf && c; c = c->next)
            xmlNodeDump(buf, p->doc, c, 0, 0);
        if (buf) {
            out = strdup((const char *)xmlBufferContent(buf));
            xmlBufferFree(buf);
        }
        *html = true;
    }
    free(type);
    return out;
}

static char *fp_atom_title(struct fp *p, xmlNode *n)
{
    bool html;
    char *t = fp_atom_text(p, n, &html);
    if (t && html) {
        char *plain = fp_html_text(t);
        free(t);
        t = plain;
    }
    return fp_norm(t);
}

/* Names of the Atom <author> (or <contributor>-free) children of `parent`, joined. */
static int fp_atom_authors(xmlNode *parent, char **list)
{
    for (xmlNode *a = parent->children; a; a = a->next) {
        if (!fp_atom(a, "author"))
            continue;
        for (xmlNode *c = a->children; c; c = c->next)
            if (fp_atom(c, "name") && fp_add_name(list, fp_text(c)) < 0)
                return -1;
    }
    return 0;
}

static void fp_media(struct fp_item *b, xmlNode *n)
{
    for (xmlNode *c = n->children; c; c = c->next) {
        if (fp_in(c, NS_MEDIA, "title"))
            fp_take(&b->title, fp_norm(fp_text(c)));
        else if (fp_in(c, NS_MEDIA, "description")) {
            char *type = fp_attr(c, "type");
            bool html = type && !strcmp(type, "html");
            free(type);
            fp_set_content(b, fp_text(c), html);
        } else if (fp_in(c, NS_MEDIA, "group") || fp_in(c, NS_MEDIA, "content"))
            fp_media(b, c);
    }
}

static int fp_rss_item(struct fp *p, xmlNode *item)
{
    struct fp_item b = {0};
    char *encoded = NULL, *desc = NULL, *author = NULL, *creators = NULL;
    bool guid_link = true;
    for (xmlNode *c = item->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (fp_rss(c, "title")) {
            fp_take(&b.title, fp_norm(fp_text(c)));
        } else if (fp_rss(c, "link")) {
            char *t = fp_text(c);
            fp_take(&b.link, fp_link(p, c, t));
            free(t);
        } else if (fp_rss(c, "guid")) {
            char *perma = fp_attr(c, "isPermaLink");
            guid_link = !perma || strcasecmp(perma, "false") != 0;
            free(perma);
            fp_take(&b.guid, fp_norm(fp_text(c)));
        } else if (fp_rss(c, "pubDate") || fp_in(c, NS_DC, "date") || fp_atom(c, "published") ||
                   fp_atom(c, "updated")) {
            fp_set_date_node(&b, c);
        } else if (fp_rss(c, "author")) {
            fp_take(&author, fp_rss_author(fp_text(c)));
        } else if (fp_in(c, NS_DC, "creator")) {
            if (fp_add_name(&creators, fp_text(c)) < 0)
                goto nomem;
        } else if (fp_in(c, NS_CONTENT, "encoded")) {
            fp_take(&encoded, fp_text(c));
        } else if (fp_rss(c, "description")) {
            fp_take(&desc, fp_text(c));
        } else if (fp_atom(c, "link")) {
            char *rel = fp_attr(c, "rel"), *href = fp_attr(c, "href");
            if (!rel || !strcmp(rel, "alternate"))
                fp_take(&b.link, fp_link(p, c, href));
            free(rel);
            free(href);
        }
    }
    /* Media RSS: a title or description where the item has none of its own */
    struct fp_item m = {0};
    fp_media(&m, item);
    fp_take(&b.title, m.title);
    m.title = NULL;
    if (!desc && !encoded && m.content) {
        fp_set_content(&b, m.content, m.html);
        m.content = NULL;
    }
    fp_item_free(&m);
    if (!b.link) {
        /* RSS 1.0 names the item by its rdf:about; RSS 2.0 a permalink guid */
        xmlChar *about = xmlGetNsProp(item, (const xmlChar *)"about", (const xmlChar *)NS_RDF);
        if (about)
            b.link = fp_link(p, item, (const char *)about);
        xmlFree(about);
        if (!b.link && b.guid && guid_link)
            b.link = fp_link(p, item, b.guid);
    }
    b.author = creators ? creators : author;
    if (creators)
        free(author);
    fp_set_content(&b, encoded, true);
    if (b.content)
        free(desc);
    else
        fp_set_content(&b, desc, true);
    int rc = fp_emit(p, &b);
    fp_item_free(&b);
    return rc;
nomem:
    free(encoded);
    free(desc);
    free(author);
    free(creators);
    fp_item_free(&b);
    return -1;
}

static int fp_atom_entry(struct fp *p, xmlNode *entry, xmlNode *feed)
{
    struct fp_item b = {0};
    char *summary = NULL, *published = NULL, *updated = NULL;
    bool summary_html = false;
    int best_link = 0; /* 2: alternate text/html, 1: alternate of another type */
    for (xmlNode *c = entry->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (fp_atom(c, "title")) {
            fp_take(&b.title, fp_atom_title(p, c));
        } else if (fp_atom(c, "link")) {
            char *rel = fp_attr(c, "rel"), *href = fp_attr(c, "href"), *type = fp_attr(c, "type");
            int rank = (!rel || !strcmp(rel, "alternate"))
                           ? (!type || !strncmp(type, "text/html", 9) ? 2 : 1)
                           : 0;
            if (rank > best_link) {
                char *u = fp_link(p, c, href);
                if (u) {
                    free(b.link);
                    b.link = u;
                    best_link = rank;
                }
            }
            free(rel);
            free(href);
            free(type);
        } else if (fp_atom(c, "id")) {
            fp_take(&b.guid, fp_norm(fp_text(c)));
        } else if (fp_atom(c, "published") || fp_atom(c, "issued") || fp_atom(c, "created")) {
            fp_take(&published, fp_text(c));
        } else if (fp_atom(c, "updated") || fp_atom(c, "modified")) {
            fp_take(&updated, fp_text(c));
        } else if (fp_atom(c, "content")) {
            bool html;
            char *t = fp_atom_text(p, c, &html);
            fp_set_content(&b, t, html);
        } else if (fp_atom(c, "summary")) {
            fp_take(&summary, fp_atom_text(p, c, &summary_html));
        } else if (fp_in(c, NS_DC, "creator")) {
            if (fp_add_name(&b.author, fp_text(c)) < 0)
                goto nomem;
        }
    }
    struct fp_item m = {0};
    fp_media(&m, entry);
    fp_take(&b.title, m.title);
    m.title = NULL;
    if (m.content && !summary) {
        summary = m.content;
        summary_html = m.html;
        m.content = NULL;
    }
    fp_item_free(&m);
    fp_set_date(&b, published);
    fp_set_date(&b, updated);
    free(published);
    free(updated);
    published = updated = NULL;
    if (b.content)
        free(summary);
    else
        fp_set_content(&b, summary, summary_html);
    summary = NULL;
    if (!b.author) {
        char *names = NULL;
        if (fp_atom_authors(entry, &names) < 0)
            goto nomem;
        if (!names) {
            for (xmlNode *c = entry->children; c && !names; c = c->next)
                if (fp_atom(c, "source") && fp_atom_authors(c, &names) < 0)
                    goto nomem;
        }
        if (!names && fp_atom_authors(feed, &names) < 0)
            goto nomem;
        b.author = names;
    }
    int rc = fp_emit(p, &b);
    fp_item_free(&b);
    return rc;
nomem:
    free(summary);
    free(published);
    free(updated);
    fp_item_free(&b);
    return -1;
}

static char *fp_child_title(struct fp *p, xmlNode *parent, bool atom)
{
    for (xmlNode *c = parent->children; c; c = c->next) {
        if (atom && fp_atom(c, "title"))
            return fp_atom_title(p, c);
        if (!atom && fp_rss(c, "title"))
            return fp_norm(fp_text(c));
    }
    return NULL;
}

static bool fp_name_char(char c, bool first)
{
    return isalpha((unsigned char)c) || c == '_' || c == ':' ||
           (!first && (isdigit((unsigned char)c) || c == '.' || c == '-'));
}

/* Length of a well-formed reference at p[0] == '&' that XML knows without a DTD (the five
 * predefined names or a character reference), 0 otherwise. *html_out: the Unicode value of an
 * HTML entity name (&nbsp;) and *html_len its length, 0 if it is none. */
static size_t fp_xml_ref(const char *p, size_t left, unsigned *html_out, size_t *html_len)
{
    *html_out = 0;
    size_t i = 1;
    if (i < left && p[i] == '#') {
        bool hex = i + 1 < left && (p[i + 1] == 'x' || p[i + 1] == 'X');
        i += hex ? 2 : 1;
        size_t d = i;
        while (i < left && (hex ? isxdigit((unsigned char)p[i]) : isdigit((unsigned char)p[i])))
            i++;
        return i > d && i < left && p[i] == ';' ? i + 1 : 0;
    }
    char name[40];
    size_t k = 0;
    while (i < left && k < sizeof(name) - 1 && fp_name_char(p[i], k == 0))
        name[k++] = p[i++];
    name[k] = '\0';
    if (k == 0 || i >= left || p[i] != ';')
        return 0;
    static const char *const predefined[] = {"amp", "lt", "gt", "quot", "apos"};
    for (size_t j = 0; j < 5; j++)
        if (strcmp(name, predefined[j]) == 0)
            return i + 1;
    const htmlEntityDesc *e = htmlEntityLookup((const xmlChar *)name);
    if (e) {
        *html_out = e->value;
        *html_len = i + 1;
    }
    return 0;
}

/* After its first well-formedness error libxml2's recover mode drops every named entity
 * reference (a stray '&' in a title and every later &amp; in the feed's links is gone). Feeds
 * break that way more than any other: such a document is read again with each stray '&' made
 * &amp; and each HTML entity (&nbsp;, undefined in XML) made a character reference. CDATA
 * sections and comments are copied as they are; a document declaring its own entities is
 * left alone. NULL when there is nothing to repair (or no memory). */
static char *fp_repair_refs(const char *b, size_t n, size_t *out_n)
{
    if (memmem(b, n, "<!ENTITY", 8))
        return NULL;
    size_t amps = 0;
    for (const char *q = b; (q = memchr(q, '&', n - (size_t)(q - b))); q++)
        amps++;
    if (!amps)
        return NULL;
    char *out = malloc(n + amps * 12 + 1);
    if (!out)
        return NULL;
    size_t w = 0;
    bool changed = false;
    for (size_t i = 0; i < n;) {
        const char *skip_end = NULL;
        if (b[i] == '<' && n - i >= 9 && !memcmp(b + i, "<![CDATA[", 9))
            skip_end = "]]>";
        else if (b[i] == '<' && n - i >= 4 && !memcmp(b + i, "<!--", 4))
            skip_end = "-->";
        if (skip_end) {
            const char *e = memmem(b + i, n - i, skip_end, 3);
            size_t to = e ? (size_t)(e - b) + 3 : n;
            memcpy(out + w, b + i, to - i);
            w += to - i;
            i = to;
            continue;
        }
        if (b[i] != '&') {
            out[w++] = b[i++];
            continue;
        }
        unsigned html;
        size_t html_len = 0, ref = fp_xml_ref(b + i, n - i, &html, &html_len);
        if (ref) {
            memcpy(out + w, b + i, ref);
            w += ref;
            i += ref;
        } else if (html) {
            w += (size_t)sprintf(out + w, "&#%u;", html);
            i += html_len;
            changed = true;
        } else {
            memcpy(out + w, "&amp;", 5);
            w += 5;
            i++;
            changed = true;
        }
    }
    if (!changed) {
        free(out);
        return NULL;
    }
    out[w] = '\0';
    *out_n = w;
    return out;
}

static int fp_xml(struct fp *p, const char *body, size_t n, char *err, size_t errn)
{
    if (n > 0x7fffffff / 2) {
        snprintf(err, errn, "not a feed: too large to parse (%zu bytes)", n);
        return -1;
    }
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        snprintf(err, errn, "out of memory reading the feed");
        return -1;
    }
    p->doc = xmlCtxtReadMemory(ctxt, body, (int)n, p->base_url, p->encoding, FEED_XML_OPTS);
    size_t fixed_n = 0;
    char *fixed = p->doc && !ctxt->wellFormed ? fp_repair_refs(body, n, &fixed_n) : NULL;
    if (fixed) {
        xmlDocPtr again =
            xmlCtxtReadMemory(ctxt, fixed, (int)fixed_n, p->base_url, p->encoding, FEED_XML_OPTS);
        if (again && xmlDocGetRootElement(again)) {
            xmlFreeDoc(p->doc);
            p->doc = again;
        } else if (again) {
            xmlFreeDoc(again);
        }
        free(fixed);
    }
    xmlFreeParserCtxt(ctxt);
    xmlNode *root = p->doc ? xmlDocGetRootElement(p->doc) : NULL;
    if (!root) {
        snprintf(err, errn, "not a feed: not XML");
        return -1;
    }
    struct feed_doc *d = p->out;
    if (!strcmp((const char *)root->name, "rss") || !strcmp((const char *)root->name, "RDF")) {
        bool rdf = root->name[0] == 'R';
        d->kind = rdf ? "rdf" : "rss";
        xmlNode *channel = NULL;
        for (xmlNode *c = root->children; c && !channel; c = c->next)
            if (fp_rss(c, "channel"))
                channel = c;
        if (channel)
            d->title = fp_child_title(p, channel, false);
        /* RSS 2.0 has its items in the channel, RSS 1.0 and 0.90 beside it */
        xmlNode *holder = rdf ? root : channel;
        for (xmlNode *c = holder ? holder->children : NULL; c; c = c->next)
            if (fp_rss(c, "item") && fp_rss_item(p, c) < 0)
                goto nomem;
        return 0;
    }
    if (!strcmp((const char *)root->name, "feed") && (!root->ns || fp_atom(root, "feed"))) {
        d->kind = "atom";
        d->title = fp_child_title(p, root, true);
        for (xmlNode *c = root->children; c; c = c->next)
            if (fp_atom(c, "entry") && fp_atom_entry(p, c, root) < 0)
                goto nomem;
        return 0;
    }
    snprintf(err, errn, "not a feed: the document is <%.40s>, not <rss>, <rdf:RDF> or <feed>",
             (const char *)root->name);
    return -1;
nomem:
    snprintf(err, errn, "out of memory reading the feed");
    return -1;
}

/* ---- JSON Feed ----------------------------------------------------------------------- */

static char *fp_json_str(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? strdup(v) : NULL;
}

static int fp_json_authors(json_t *o, char **list)
{
    json_t *a = json_object_get(o, "authors");
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (fp_add_name(list, fp_json_str(v, "name")) < 0)
            return -1;
    }
    if (!*list && fp_add_name(list, fp_json_str(json_object_get(o, "author"), "name")) < 0)
        return -1;
    return 0;
}

static int fp_json(struct fp *p, const char *body, size_t n, char *err, size_t errn)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, n, 0, &jerr);
    if (!root) {
        snprintf(err, errn, "not a feed: not JSON (%s at line %d)", jerr.text, jerr.line);
        return -1;
    }
    const char *version = json_string_value(json_object_get(root, "version"));
    json_t *items = json_object_get(root, "items");
    if (!version ||
        (strncmp(version, "https://jsonfeed.org/version/", 29) != 0 &&
         strncmp(version, "http://jsonfeed.org/version/", 28) != 0) ||
        !json_is_array(items)) {
        snprintf(err, errn, "not a feed: JSON without a JSON Feed version and items");
        json_decref(root);
        return -1;
    }
    struct feed_doc *d = p->out;
    d->kind = "json";
    d->title = fp_norm(fp_json_str(root, "title"));
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        if (!json_is_object(it))
            continue;
        struct fp_item b = {0};
        const char *url = json_string_value(json_object_get(it, "url"));
        if (!url)
            url = json_string_value(json_object_get(it, "external_url"));
        b.link = url ? feed_url_canon(p->base_url, url) : NULL;
        json_t *id = json_object_get(it, "id");
        if (json_is_string(id))
            b.guid = fp_norm(strdup(json_string_value(id)));
        else if (json_is_integer(id) &&
                 asprintf(&b.guid, "%" JSON_INTEGER_FORMAT, json_integer_value(id)) < 0)
            b.guid = NULL;
        b.title = fp_norm(fp_json_str(it, "title"));
        fp_set_date(&b, json_string_value(json_object_get(it, "date_published")));
        fp_set_date(&b, json_string_value(json_object_get(it, "date_modified")));
        fp_set_content(&b, fp_json_str(it, "content_html"), true);
        fp_set_content(&b, fp_json_str(it, "content_text"), false);
        fp_set_content(&b, fp_json_str(it, "summary"), false);
        if (fp_json_authors(it, &b.author) < 0 ||
            (!b.author && fp_json_authors(root, &b.author) < 0) || fp_emit(p, &b) < 0) {
            fp_item_free(&b);
            json_decref(root);
            snprintf(err, errn, "out of memory reading the feed");
            return -1;
        }
        fp_item_free(&b);
    }
    json_decref(root);
    return 0;
}

/* ---- the entry point ----------------------------------------------------------------- */

/* Whether an XML document says its own encoding: a byte order mark, or encoding="..." in its
 * declaration. */
static bool fp_declares_encoding(const char *b, size_t n)
{
    const unsigned char *u = (const unsigned char *)b;
    if (n >= 2 && ((u[0] == 0xFE && u[1] == 0xFF) || (u[0] == 0xFF && u[1] == 0xFE)))
        return true;
    if (n >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF)
        return true;
    if (n < 5 || memcmp(b, "<?xml", 5) != 0)
        return false;
    const char *end = memmem(b, n < 512 ? n : 512, "?>", 2);
    return end && memmem(b, (size_t)(end - b), "encoding", 8) != NULL;
}

int feed_parse(const char *body, size_t n, const char *base_url, const char *http_charset,
               bool keep_content, struct feed_doc *out, char *err, size_t errn)
{
    *out = (struct feed_doc){0};
    size_t i = 0;
    if (n >= 3 && (unsigned char)body[0] == 0xEF && (unsigned char)body[1] == 0xBB &&
        (unsigned char)body[2] == 0xBF)
        i = 3;
    while (i < n && isspace((unsigned char)body[i]))
        i++;
    if (i == n) {
        snprintf(err, errn, "not a feed: the document is empty");
        return -1;
    }
    struct fp p = {.base_url = base_url, .keep = keep_content, .out = out};
    if (http_charset && *http_charset && !fp_declares_encoding(body, n)) {
        xmlCharEncodingHandlerPtr known = xmlFindCharEncodingHandler(http_charset);
        if (known) {
            p.encoding = http_charset;
            xmlCharEncCloseFunc(known);
        }
    }
    int rc =
        body[i] == '{' ? fp_json(&p, body + i, n - i, err, errn) : fp_xml(&p, body, n, err, errn);
    if (p.doc)
        xmlFreeDoc(p.doc);
    return rc;
}

void feed_doc_clear(struct feed_doc *doc)
{
    for (size_t i = 0; i < doc->n_items; i++)
        free(doc->items[i]);
    free(doc->items);
    free(doc->title);
    *doc = (struct feed_doc){0};
}

/* ---- pages --------------------------------------------------------------------------- */

static bool fp_ld_publisher(json_t *v, int depth)
{
    if (depth > 8)
        return false;
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (fp_ld_publisher(e, depth + 1))
                return true;
        }
        return false;
    }
    if (!json_is_object(v))
        return false;
    const char *name = json_string_value(json_object_get(json_object_get(v, "publisher"), "name"));
    if (name && name[strspn(name, " \t\r\n")])
        return true;
    return fp_ld_publisher(json_object_get(v, "@graph"), depth + 1);
}

static bool fp_site_walk(xmlNode *n, int depth)
{
    for (; n && depth < 256; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        const char *name = (const char *)n->name;
        if (!strcasecmp(name, "meta")) {
            char *prop = fp_attr(n, "property"), *nm = fp_attr(n, "name");
            char *content = fp_attr(n, "content");
            bool site =
                content && content[strspn(content, " \t\r\n")] &&
                ((prop && !strcasecmp(prop, "og:site_name")) ||
                 (nm && (!strcasecmp(nm, "og:site_name") || !strcasecmp(nm, "application-name"))));
            free(prop);
            free(nm);
            free(content);
            if (site)
                return true;
        } else if (!strcasecmp(name, "script")) {
            char *type = fp_attr(n, "type");
            bool ld = type && !strcasecmp(type, "application/ld+json");
            free(type);
            if (ld) {
                xmlChar *text = xmlNodeGetContent(n);
                json_t *j = text ? json_loads((const char *)text, 0, NULL) : NULL;
                xmlFree(text);
                bool pub = j && fp_ld_publisher(j, 0);
                json_decref(j);
                if (pub)
                    return true;
            }
        }
        if (fp_site_walk(n->children, depth + 1))
            return true;
    }
    return false;
}

bool feed_page_names_site(const char *body, size_t n)
{
    if (n == 0 || n > 0x7fffffff)
        return false;
    htmlDocPtr h = htmlReadMemory(body, (int)n, NULL, NULL,
                                  HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                      HTML_PARSE_NONET | HTML_PARSE_COMPACT);
    if (!h)
        return false;
    bool named = fp_site_walk(xmlDocGetRootElement(h), 0);
    xmlFreeDoc(h);
    return named;
}
