/* Main-text extraction for clean_html, in three walks over the parsed tree: measure (text and
 * link text below every element, tag and class/id hints), select (drop page furniture, score
 * paragraphs into their ancestors, pick the container: articleBody, a dominant <article>, else
 * the best-scored block and its qualifying siblings), emit (the container's text as blocks).
 * Per-element facts live in one array kept across pages, indexed through node->_private.
 * It does not look at a page's URL or site: every rule is about how web pages are built. */
#include "body.h"

#include <jansson.h>
#include <libxml/hash.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BODY_MAX_DEPTH 1024
#define BODY_MAX_JSONLD 8
#define BODY_MAX_TEASERS 64

/* The figures below were set on a varied set of real pages (news, blogs, shops, institutions,
 * many languages); each says what it weighs. Lengths count characters without whitespace
 * unless they say bytes. */
#define BODY_MIN_P 25          /* own text that makes an element a paragraph */
#define BODY_CLASS_W 25        /* score a positive or negative class/id word adds or takes */
#define BODY_BIG 0.5f          /* share of the page's text that class names cannot drop */
#define BODY_BLOCK_LINKS 0.5f  /* link share above which a block is navigation */
#define BODY_P_LINKS 0.6f      /* link share at which a paragraph is "Read more: <a>" */
#define BODY_AB_SHARE 0.1f     /* share of the prose in articleBody blocks that makes them win */
#define BODY_ART_SHARE 0.4f    /* share of the prose in one <article> that makes it win */
#define BODY_MASS 0.95f        /* share of the prose the widened container keeps */
#define BODY_WIDEN 0.6f        /* below this share of it the best-scored block is widened */
#define BODY_RELAX_BELOW 300   /* bytes of text under which class names are ignored */
#define BODY_TAIL_CHARS 40     /* bytes of a trailing block that is not a sentence */
#define BODY_DATE_CHARS 50     /* bytes of a block that may be a date stamp */
#define BODY_JSONLD_RATIO 1.5f /* how much more text a JSON-LD articleBody must hold */
#define BODY_JSONLD_MIN 250    /* and the fewest characters it may have */
#define BODY_CARDS 3           /* linked-headline children that make a block a row of teasers */
#define BODY_HEADER_PROSE 150 /* text of a <header> with few links that is the article's */
#define BODY_LEAD_BLOCKS 3     /* blocks of a standfirst between the headline and the text */
#define BODY_LEAD_CHARS 800    /* and their characters: more is other content */
#define BODY_CREDIT_CHARS 100 /* bytes of a block that may be a picture's credit */
#define BODY_SEE_ALSO_CHARS 120 /* and of one that points to other stories */
#define BODY_DISCLOSURE_CHARS 300 /* and of a notice of advertising or rights */
#define BODY_PROMPT_CHARS 150 /* and of the comment form's prompt */
#define BODY_APPEAL_CHARS 300 /* and of an appeal to subscribe or support, */
#define BODY_APPEAL_BLOCKS 3  /* among this many last blocks */
#define BODY_CHANNEL_CHARS 200 /* and of a call to follow the outlet on another channel */
#define BODY_PLACEHOLDER_CHARS 120 /* and of a widget that shows it is loading */
#define BODY_PROSE 150         /* characters of a paragraph no menu holds */
#define BODY_NOTICE_CHARS 600  /* bytes of a block that may be a cookie, consent or paywall notice */
#define BODY_WALL_CHARS 2400   /* and of a text that may be all a consent or paywall's wall */
#define BODY_DATELINE_CHARS 60 /* bytes at the start of a block in which a dateline ends */
#define BODY_HEADLINE_WORDS 4  /* words of a headline over a report, more than a button's */

enum body_kind {
    K_INLINE, /* span, b, em...: part of the surrounding block */
    K_SKIP,   /* never text: script, style, nav, aside, footer, form controls... */
    K_A,
    K_BR,
    K_P,
    K_PRE,
    K_QUOTE,
    K_H,
    K_LIST,
    K_LI,
    K_TABLE,
    K_TR,
    K_CELL,
    K_DIV,
    K_ARTICLE,
    K_HEADER,
    K_FORM,
    K_BODY,
    K_HR,
    K_NOSCRIPT, /* the page without scripts: sometimes the only copy of the article */
    K_FURN,     /* nav, aside, footer: skipped, unless the tag-blind pass reads them as divs */
};

enum {
    F_DROP = 1u << 0,     /* not text: skipped when emitting */
    F_UNLIKELY = 1u << 1, /* class/id/role says furniture */
    F_MAYBE = 1u << 2,    /* class/id says it may hold the article: overrides F_UNLIKELY */
    F_POS = 1u << 3,      /* positive class weight */
    F_NEG = 1u << 4,      /* negative class weight */
    F_BLOCK_BELOW = 1u << 5,
    F_ARTICLEBODY = 1u << 6, /* itemprop=articleBody */
    F_SCORED = 1u << 7,      /* score initialised */
    F_HIDDEN = 1u << 8,
    F_KEEP = 1u << 9, /* part of the chosen container */
    F_CUT = 1u << 10, /* dropped as furniture (F_DROP is set too) */
    F_FURN = 1u << 11, /* a <nav>, <aside> or <footer> read as a block */
    F_TEASER = 1u << 12, /* class/id says teaser: another story's, or this one's standfirst */
};

/* The passes of a page that gave next to nothing: what each does not believe. */
enum { BODY_NO_CLASSES = 1, BODY_NO_FURN_TAGS = 2, BODY_NO_HIDDEN = 4 };

struct body_node {
    xmlNodePtr node;
    uint32_t text;   /* characters of text below (whitespace not counted) */
    uint32_t link;   /* of which inside <a> */
    uint32_t commas; /* commas below */
    uint32_t ptext;  /* characters in kept paragraphs below */
    uint32_t own;    /* characters not inside a block child: text this element holds itself */
    uint32_t ownlink;
    uint32_t parent; /* index + 1, 0 for none */
    uint16_t lheads; /* linked headlines below: the titles of other stories */
    uint16_t cards;  /* children with a linked headline below */
    uint32_t cardtext; /* characters in those children */
    uint32_t prose;    /* characters of the longest paragraph below, itself included */
    float score;
    uint16_t flags;
    uint8_t kind;
};

struct body_out {
    char *p;
    size_t len, cap;
    int pending; /* separator owed before the next character: 0, 1 space, 2 newline, 3 blank */
};

struct html_body {
    struct body_node *nodes;
    size_t n, cap;
    xmlNodePtr jsonld[BODY_MAX_JSONLD];
    int njsonld;
    uint32_t teasers[BODY_MAX_TEASERS]; /* elements with a teaser class, in page order */
    int nteasers;
    struct body_out out;
    uint32_t stack[BODY_MAX_DEPTH];
    int relaxed; /* BODY_NO_CLASSES, BODY_NO_FURN_TAGS, BODY_NO_HIDDEN: what the pass does not
                  * believe */
    /* The tables below as hash tables, built once: every element's tag and every word of its
     * class and id are looked up in one probe (a bsearch of strcmp calls cost a tenth of the
     * plugin's time). Tag: kind + 1; word: its W_* bits. */
    xmlHashTablePtr tags, words;
};

/* ---- tags and class words ---- */

static const struct body_tag {
    const char *name;
    uint8_t kind;
} body_tags[] = {
    /* clang-format off */
    /* sorted by name */
    {"a", K_A},           {"address", K_DIV},   {"applet", K_SKIP},   {"area", K_SKIP},
    {"article", K_ARTICLE}, {"aside", K_FURN},  {"audio", K_SKIP},    {"blockquote", K_QUOTE},
    {"body", K_BODY},     {"br", K_BR},         {"button", K_SKIP},   {"canvas", K_SKIP},
    {"caption", K_DIV},   {"center", K_DIV},    {"datalist", K_SKIP}, {"dd", K_LI},
    {"details", K_DIV},   {"dialog", K_SKIP},   {"div", K_DIV},       {"dl", K_LIST},
    {"dt", K_LI},         {"embed", K_SKIP},    {"fieldset", K_DIV},  {"figcaption", K_SKIP},
    {"figure", K_SKIP},    {"footer", K_FURN},   {"form", K_FORM},     {"frame", K_SKIP},
    {"frameset", K_SKIP}, {"h1", K_H},          {"h2", K_H},          {"h3", K_H},
    {"h4", K_H},          {"h5", K_H},          {"h6", K_H},          {"head", K_SKIP},
    {"header", K_HEADER}, {"hgroup", K_DIV},    {"hr", K_HR},         {"iframe", K_SKIP},
    {"img", K_SKIP},      {"input", K_SKIP},    {"li", K_LI},         {"link", K_SKIP},
    {"main", K_DIV},      {"map", K_SKIP},      {"math", K_SKIP},     {"menu", K_SKIP},
    {"meta", K_SKIP},     {"nav", K_FURN},      {"noscript", K_NOSCRIPT}, {"object", K_SKIP},
    {"ol", K_LIST},       {"optgroup", K_SKIP}, {"option", K_SKIP},   {"p", K_P},
    {"picture", K_SKIP},  {"pre", K_PRE},       {"rp", K_SKIP},       {"rt", K_SKIP},
    {"script", K_SKIP},   {"section", K_DIV},
    {"select", K_SKIP},   {"source", K_SKIP},   {"style", K_SKIP},    {"summary", K_DIV},
    {"svg", K_SKIP},      {"table", K_TABLE},   {"tbody", K_TR},      {"td", K_CELL},
    {"template", K_SKIP}, {"textarea", K_SKIP}, {"tfoot", K_TR},      {"th", K_CELL},
    {"thead", K_TR},      {"title", K_SKIP},    {"tr", K_TR},         {"ul", K_LIST},
    {"video", K_SKIP},
    /* clang-format on */
};

static uint8_t body_kind_of(const struct html_body *b, const xmlChar *name)
{
    uintptr_t kind = (uintptr_t)xmlHashLookup(b->tags, name);
    return kind ? (uint8_t)(kind - 1) : K_INLINE;
}

/* Words of class and id values, split at punctuation and camelCase humps. U: page furniture,
 * removed; M: may hold the article (saves a U element); P/N: score weight. The bits from
 * W_MOD on say what a word does to the other words of its class (body_words_of). */
enum { W_U = 1, W_M = 2, W_P = 4, W_N = 8, W_T = 16, W_H = 32 };
enum { W_MOD = 64, W_MOST = 128, W_MOST_LIST = 256, W_VISUALLY = 512 };
static const struct body_word {
    const char *word;
    uint8_t flags;
} body_words[] = {
    /* clang-format off */
    /* sorted by word */
    {"ad", W_U | W_N}, {"ads", W_U | W_N}, {"adsense", W_U | W_N},
    {"advert", W_U | W_N}, {"advertisement", W_U | W_N}, {"advertising", W_U | W_N},
    {"agegate", W_U | W_N}, {"alert", W_U | W_N}, {"article", W_M | W_P},
    {"articlebody", W_M | W_P}, {"author", W_U | W_N}, {"banner", W_U | W_N},
    {"bio", W_U | W_N}, {"blog", W_P}, {"body", W_M | W_P},
    {"breadcrumb", W_U | W_N}, {"breadcrumbs", W_U | W_N}, {"breaking", W_U | W_N},
    {"byline", W_U | W_N},
    {"caption", W_U | W_N}, {"categories", W_U | W_N},
    {"column", W_M}, {"combx", W_U | W_N}, {"comment", W_U | W_N}, {"commentlist", W_U | W_N},
    {"comments", W_U | W_N}, {"community", W_U | W_N}, {"consent", W_U | W_N},
    {"contact", W_N}, {"content", W_M | W_P}, {"cookie", W_U | W_N},
    {"cookiebot", W_U | W_N}, {"cookies", W_U | W_N}, {"copyright", W_U | W_N},
    {"credit", W_U | W_N}, {"credits", W_U | W_N}, {"crumbs", W_U | W_N},
    {"cta", W_U | W_N}, {"cybot", W_U | W_N}, {"didomi", W_U | W_N},
    {"disqus", W_U | W_N}, {"donate", W_U | W_N}, {"donation", W_U | W_N},
    {"drawer", W_U | W_N}, {"dropdown", W_U | W_N}, {"entry", W_P},
    {"follow", W_U | W_N}, {"footer", W_U | W_N}, {"footnote", W_N},
    {"gdpr", W_U | W_N}, {"hentry", W_P}, {"hidden", W_H},
    {"lightbox", W_U | W_N}, {"login", W_U | W_N}, {"main", W_M | W_P},
    {"masthead", W_U | W_N}, {"menu", W_U | W_N}, {"meta", W_N},
    {"modal", W_U | W_N}, {"mostread", W_U | W_N}, {"mostviewed", W_U | W_N},
    {"nav", W_U | W_N}, {"navbar", W_U | W_N},
    {"navigation", W_U | W_N}, {"newsletter", W_U | W_N}, {"offcanvas", W_U | W_N},
    {"onetrust", W_U | W_N}, {"outbrain", W_U | W_N}, {"overlay", W_U | W_N},
    {"page", W_P}, {"pager", W_U | W_N}, {"pagination", W_U | W_N},
    {"popular", W_U | W_N}, {"popup", W_U | W_N},
    {"post", W_P}, {"promo", W_U | W_N}, {"prose", W_P},
    {"recommendations", W_U | W_N}, {"recommended", W_U | W_N}, {"related", W_U | W_N},
    {"remark", W_U | W_N}, {"replies", W_U | W_N}, {"reply", W_U | W_N},
    {"respond", W_U | W_N}, {"rss", W_U | W_N}, {"share", W_U | W_N},
    {"sharedaddy", W_U | W_N}, {"sharing", W_U | W_N}, {"shopping", W_N},
    {"shoutbox", W_U | W_N}, {"sidebar", W_U | W_N}, {"signup", W_U | W_N},
    {"skip", W_U | W_N}, {"skyscraper", W_U | W_N}, {"social", W_U | W_N},
    {"sponsor", W_U | W_N}, {"sponsored", W_U | W_N}, {"sr", W_U | W_N},
    {"story", W_P}, {"subscribe", W_U | W_N}, {"subscription", W_U | W_N},
    {"supplemental", W_U | W_N}, {"taboola", W_U | W_N}, {"tags", W_N},
    {"teaser", W_T | W_N}, {"text", W_P}, {"ticker", W_U | W_N},
    {"toc", W_U | W_N}, {"tool", W_N}, {"toolbar", W_U | W_N},
    {"tools", W_N}, {"trending", W_U | W_N}, {"usercentrics", W_U | W_N},
    {"widget", W_N},
    /* clang-format on */
};

/* "has-ads", "no-sidebar", "modal-enabled", "comments-open": a class that names a state of the
 * page rather than what this element is. */
static const char *const body_modifiers[] = {
    "active", "closed", "disable", "disabled", "enable",  "enabled", "has",
    "hide",   "is",     "no",      "off",      "on",      "open",    "opened",
    "show",   "shown",  "visible", "with",     "without",
};

/* "most-read", "mostViewed", "most_popular": the list of other stories readers liked. */
static const char *const body_most_lists[] = {"clicked", "commented", "emailed", "popular",
                                              "read",    "shared",    "viewed"};

/* Adds `bits` to what the table says of `key`. -1 on allocation failure. */
static int body_index_add(xmlHashTablePtr t, const char *key, uintptr_t bits)
{
    uintptr_t had = (uintptr_t)xmlHashLookup(t, (const xmlChar *)key);
    return xmlHashUpdateEntry(t, (const xmlChar *)key, (void *)(had | bits), NULL);
}

static int body_index(struct html_body *b)
{
    b->tags = xmlHashCreate(128);
    b->words = xmlHashCreate(256);
    if (!b->tags || !b->words)
        return -1;
    for (size_t i = 0; i < sizeof(body_tags) / sizeof(body_tags[0]); i++)
        if (xmlHashAddEntry(b->tags, (const xmlChar *)body_tags[i].name,
                            (void *)(uintptr_t)(body_tags[i].kind + 1)) < 0)
            return -1;
    for (size_t i = 0; i < sizeof(body_words) / sizeof(body_words[0]); i++)
        if (body_index_add(b->words, body_words[i].word, body_words[i].flags) < 0)
            return -1;
    for (size_t i = 0; i < sizeof(body_modifiers) / sizeof(body_modifiers[0]); i++)
        if (body_index_add(b->words, body_modifiers[i], W_MOD) < 0)
            return -1;
    for (size_t i = 0; i < sizeof(body_most_lists) / sizeof(body_most_lists[0]); i++)
        if (body_index_add(b->words, body_most_lists[i], W_MOST_LIST) < 0)
            return -1;
    if (body_index_add(b->words, "most", W_MOST) < 0 ||
        body_index_add(b->words, "visually", W_VISUALLY) < 0)
        return -1;
    return 0;
}

struct html_body *html_body_new(void)
{
    struct html_body *b = calloc(1, sizeof(struct html_body));
    if (b && body_index(b) < 0)
        html_body_free(b), b = NULL;
    return b;
}

void html_body_free(struct html_body *b)
{
    if (!b)
        return;
    xmlHashFree(b->tags, NULL);
    xmlHashFree(b->words, NULL);
    free(b->nodes);
    free(b->out.p);
    free(b);
}

/* The word flags of a class or id value: each class is split into words at punctuation and
 * camelCase humps ("articleBody" is article + body). "hidden" hides the element only as the
 * whole class ("hidden", "visually-hidden"): with other words it hides a part ("label-hidden")
 * or names the screen sizes it is hidden on ("hidden-xs"), and the element shows. */
static unsigned body_words_of(const struct html_body *b, const xmlChar *v)
{
    unsigned flags = 0, cls = 0;
    bool modified = false, most = false;
    int others = 0; /* words of the class other than hidden and visually */
    char w[32];
    size_t n = 0;
    for (const xmlChar *p = v;; p++) {
        unsigned c = *p;
        bool lower = c >= 'a' && c <= 'z', upper = c >= 'A' && c <= 'Z';
        bool digit = c >= '0' && c <= '9';
        bool hump = upper && n > 0 && p > v && p[-1] >= 'a' && p[-1] <= 'z';
        if ((!lower && !upper && !digit) || hump) {
            if (n > 0 && n < sizeof(w)) {
                w[n] = '\0';
                unsigned e = (unsigned)(uintptr_t)xmlHashLookup(b->words, (const xmlChar *)w);
                unsigned f = e & (W_U | W_M | W_P | W_N | W_T | W_H);
                if (most && (e & W_MOST_LIST))
                    f |= W_U | W_N;
                most = e & W_MOST;
                cls |= f;
                modified |= (e & W_MOD) != 0;
                if (!(f & W_H) && !(e & W_VISUALLY))
                    others++;
            } else if (n > 0) {
                others++;
            }
            n = 0;
            if (!c || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                if ((cls & W_H) && others == 0)
                    cls |= W_U | W_N;
                if (!modified)
                    flags |= cls;
                cls = 0;
                others = 0;
                modified = false;
                most = false;
            }
            if (!c)
                break;
            if (!hump)
                continue;
        }
        if (n < sizeof(w) - 1)
            w[n] = (char)(upper ? c + 32 : c);
        n++;
    }
    return flags;
}

static bool body_ieq(const xmlChar *a, const char *b)
{
    return a && xmlStrcasecmp(a, (const xmlChar *)b) == 0;
}

static const xmlChar *body_attr_text(xmlAttrPtr a)
{
    return a->children && a->children->type == XML_TEXT_NODE ? a->children->content : NULL;
}

/* Class, id, role, itemprop and hiding attributes of one element. */
static unsigned body_attr_flags(const struct html_body *b, xmlNodePtr node, bool *jsonld_out)
{
    unsigned f = 0, w = 0;
    for (xmlAttrPtr a = node->properties; a; a = a->next) {
        const xmlChar *v = body_attr_text(a);
        const char *name = (const char *)a->name;
        if (!v) {
            if (strcmp(name, "hidden") == 0)
                f |= F_HIDDEN;
            continue;
        }
        if (strcmp(name, "class") == 0 || strcmp(name, "id") == 0) {
            w |= body_words_of(b, v);
        } else if (strcmp(name, "role") == 0) {
            if (body_ieq(v, "navigation") || body_ieq(v, "banner") || body_ieq(v, "contentinfo") ||
                body_ieq(v, "complementary") || body_ieq(v, "menu") || body_ieq(v, "menubar") ||
                body_ieq(v, "dialog") || body_ieq(v, "alert") || body_ieq(v, "search"))
                w |= W_U | W_N;
            else if (body_ieq(v, "main") || body_ieq(v, "article"))
                w |= W_M | W_P;
        } else if (strcmp(name, "itemprop") == 0) {
            if (body_ieq(v, "articleBody") || body_ieq(v, "text") || body_ieq(v, "reviewBody"))
                f |= F_ARTICLEBODY;
        } else if (strcmp(name, "hidden") == 0) {
            f |= F_HIDDEN;
        } else if (strcmp(name, "style") == 0) {
            const char *s = (const char *)v;
            const char *d = strstr(s, "display");
            if (d) {
                d += 7;
                while (*d == ' ' || *d == ':')
                    d++;
                if (strncmp(d, "none", 4) == 0)
                    f |= F_HIDDEN;
            }
        } else if (strcmp(name, "type") == 0 && jsonld_out) {
            if (body_ieq(v, "application/ld+json"))
                *jsonld_out = true;
        }
    }
    if (w & W_U)
        f |= F_UNLIKELY;
    if (w & W_M)
        f |= F_MAYBE;
    if (w & W_P)
        f |= F_POS;
    if (w & W_N)
        f |= F_NEG;
    if (w & W_T)
        f |= F_TEASER;
    return f;
}

/* ---- pass 1: measure ---- */

static inline struct body_node *body_info(struct html_body *b, xmlNodePtr node)
{
    uintptr_t i = (uintptr_t)node->_private;
    return i ? &b->nodes[i - 1] : NULL;
}

/* Characters (not whitespace) and commas of a text node. */
static void body_count_text(const xmlChar *s, uint32_t *chars, uint32_t *commas)
{
    uint32_t c = 0, k = 0;
    for (const uint8_t *p = s; *p; p++) {
        uint8_t x = *p;
        if (x < 0x80) { /* most of the text: ASCII needs none of the tests below */
            c += x > ' ';
            k += x == ',';
            continue;
        }
        if ((x & 0xC0) == 0x80)
            continue;
        if (x == 0xC2 && p[1] == 0xA0) { /* no-break space */
            p++;
            continue;
        }
        c++;
        if (x == 0xEF && p[1] == 0xBC && p[2] == 0x8C) /* fullwidth comma */
            k++;
        else if (x == 0xE3 && p[1] == 0x80 && p[2] == 0x81) /* ideographic comma */
            k++;
        else if (x == 0xD8 && p[1] == 0x8C) /* arabic comma */
            k++;
    }
    *chars += c;
    *commas += k;
}

static bool body_is_block(uint8_t kind)
{
    return kind != K_INLINE && kind != K_A && kind != K_BR;
}

/* JSON-LD scripts among the children of <head>, which is otherwise not walked. */
static void body_find_json_ld(struct html_body *b, xmlNodePtr head)
{
    for (xmlNodePtr c = head->children; c && b->njsonld < BODY_MAX_JSONLD; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || !xmlStrEqual(c->name, BAD_CAST "script"))
            continue;
        for (xmlAttrPtr a = c->properties; a; a = a->next)
            if (xmlStrEqual(a->name, BAD_CAST "type") &&
                body_ieq(body_attr_text(a), "application/ld+json"))
                b->jsonld[b->njsonld++] = c;
    }
}

/* Tags of media and graphics, skipped for what they show, not because they hold no text. */
static bool body_is_media(const xmlChar *name)
{
    static const char *const tags[] = {"audio",   "canvas", "figure", "map", "math",
                                       "object",  "picture", "svg",   "video"};
    for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
        if (xmlStrEqual(name, BAD_CAST tags[i]))
            return true;
    return false;
}

/* A figure that holds a blockquote: a post the article quotes, embedded the way CMSs embed
 * them (a figure around a wrapper around the post's blockquote); its caption is still not. */
static bool body_is_embedded_post(xmlNodePtr node)
{
    if (!xmlStrEqual(node->name, BAD_CAST "figure"))
        return false;
    for (xmlNodePtr c = node->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (xmlStrEqual(c->name, BAD_CAST "blockquote"))
            return true;
        for (xmlNodePtr g = c->children; g; g = g->next)
            if (g->type == XML_ELEMENT_NODE && xmlStrEqual(g->name, BAD_CAST "blockquote"))
                return true;
    }
    return false;
}

/* A blockquote that holds a post of a social network as the network's embed code writes it:
 * its class ("twitter-tweet", "instagram-media", "tiktok-embed", Facebook's
 * "fb-xfbml-parse-ignore") or the post it cites. */
static bool body_is_post_quote(xmlNodePtr q)
{
    static const char *const marks[] = {"twitter-tweet", "instagram-media", "tiktok-embed",
                                        "fb-xfbml-parse-ignore", "twitter.com/", "x.com/",
                                        "instagram.com/", "facebook.com/", "tiktok.com/"};
    if (q->type != XML_ELEMENT_NODE || !xmlStrEqual(q->name, BAD_CAST "blockquote"))
        return false;
    for (xmlAttrPtr a = q->properties; a; a = a->next) {
        if (!xmlStrEqual(a->name, BAD_CAST "class") && !xmlStrEqual(a->name, BAD_CAST "cite"))
            continue;
        const xmlChar *v = body_attr_text(a);
        for (size_t k = 0; v && k < sizeof(marks) / sizeof(marks[0]); k++)
            if (strstr((const char *)v, marks[k]))
                return true;
    }
    return false;
}

/* An element named furniture ("social-embed", "share-embed") that wraps such a post, the post
 * itself or its wrapper's child: the post is quoted by the article, not a share button. */
static bool body_wraps_post(xmlNodePtr node)
{
    for (xmlNodePtr c = node->children; c; c = c->next) {
        if (body_is_post_quote(c))
            return true;
        for (xmlNodePtr g = c->type == XML_ELEMENT_NODE ? c->children : NULL; g; g = g->next)
            if (body_is_post_quote(g))
                return true;
    }
    return false;
}

/* Returns the index + 1 of the node's entry, 0 on allocation failure. */
static uint32_t body_measure(struct html_body *b, xmlNodePtr node, uint32_t parent, int depth,
                             bool in_link)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        struct body_node *p = realloc(b->nodes, cap * sizeof(*p));
        if (!p)
            return 0;
        b->nodes = p;
        b->cap = cap;
    }
    uint32_t idx = (uint32_t)++b->n;
    bool jsonld = false;
    struct body_node e = {.node = node, .parent = parent, .kind = body_kind_of(b, node->name)};
    /* The last pass reads what a lost end tag may have swallowed: a hidden pop-up, or an
     * inline graphic or a figure that the rest of the page was parsed into. */
    if (e.kind == K_SKIP && (b->relaxed & BODY_NO_HIDDEN) && body_is_media(node->name))
        e.kind = K_DIV;
    else if (e.kind == K_SKIP && body_is_embedded_post(node))
        e.kind = K_DIV;
    bool furn = e.kind == K_FURN;
    if (furn)
        e.kind = (b->relaxed & BODY_NO_FURN_TAGS) ? K_DIV : K_SKIP;
    e.flags = (uint16_t)body_attr_flags(b, node, e.kind == K_SKIP ? &jsonld : NULL);
    if ((e.flags & F_UNLIKELY) && e.kind != K_SKIP && body_wraps_post(node))
        e.flags &= (uint16_t)~F_UNLIKELY;
    if (furn)
        e.flags |= F_FURN;
    if ((e.flags & F_TEASER) && b->nteasers <= BODY_MAX_TEASERS) {
        if (b->nteasers < BODY_MAX_TEASERS)
            b->teasers[b->nteasers] = idx;
        b->nteasers++; /* one past the end: more than the array holds */
    }
    node->_private = (void *)(uintptr_t)idx;
    if (e.kind == K_SKIP || ((e.flags & F_HIDDEN) && !(b->relaxed & BODY_NO_HIDDEN))) {
        e.flags |= F_DROP;
        if (jsonld && b->njsonld < BODY_MAX_JSONLD && xmlStrEqual(node->name, BAD_CAST "script"))
            b->jsonld[b->njsonld++] = node;
        if (xmlStrEqual(node->name, BAD_CAST "head"))
            body_find_json_ld(b, node);
        b->nodes[idx - 1] = e;
        return idx;
    }
    b->nodes[idx - 1] = e;
    if (e.kind == K_A)
        in_link = true;
    uint32_t text = 0, link = 0, commas = 0, own = 0, ownlink = 0, cardtext = 0, prose = 0;
    uint16_t below = 0, lheads = 0, cards = 0;
    for (xmlNodePtr c = node->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            uint32_t t = 0;
            if (c->content)
                body_count_text(c->content, &t, &commas);
            text += t;
            own += t;
            if (in_link)
                link += t, ownlink += t;
        } else if (c->type == XML_ELEMENT_NODE && depth < BODY_MAX_DEPTH - 1) {
            uint32_t ci = body_measure(b, c, idx, depth + 1, in_link);
            if (!ci)
                return 0;
            const struct body_node *ce = &b->nodes[ci - 1];
            if (ce->flags & F_DROP)
                continue;
            text += ce->text;
            link += ce->link;
            commas += ce->commas;
            if (ce->prose > prose)
                prose = ce->prose;
            if (ce->lheads) {
                lheads = lheads + ce->lheads > UINT16_MAX ? UINT16_MAX : lheads + ce->lheads;
                cards += cards < UINT16_MAX;
                cardtext += ce->text;
            }
            if (body_is_block(ce->kind) || (ce->flags & F_BLOCK_BELOW)) {
                below |= F_BLOCK_BELOW;
            } else {
                own += ce->text;
                ownlink += ce->link;
            }
        }
    }
    struct body_node *me = &b->nodes[idx - 1];
    me->text = text;
    me->link = link;
    me->commas = commas;
    me->own = own;
    me->ownlink = ownlink;
    me->flags |= below;
    me->cards = cards;
    me->cardtext = cardtext;
    me->prose = body_is_block(me->kind) && ownlink * 4 < own && own > prose ? own : prose;
    me->lheads = lheads;
    if (me->kind == K_H && text > 0 && link * 2 > text && lheads < UINT16_MAX)
        me->lheads++;
    return idx;
}

/* ---- pass 2: select ---- */

static float body_link_density(const struct body_node *e)
{
    return e->text ? (float)e->link / (float)e->text : 0.0f;
}

static void body_init_score(struct body_node *e)
{
    if (e->flags & F_SCORED)
        return;
    e->flags |= F_SCORED;
    float s = 0;
    switch (e->kind) {
    case K_DIV:
    case K_ARTICLE:
        s = 5;
        break;
    case K_PRE:
    case K_CELL:
    case K_QUOTE:
        s = 3;
        break;
    case K_LIST:
    case K_LI:
    case K_FORM:
        s = -3;
        break;
    case K_H:
        s = -5;
        break;
    default:
        break;
    }
    if (e->flags & F_POS)
        s += BODY_CLASS_W;
    if (e->flags & F_NEG)
        s -= BODY_CLASS_W;
    e->score = s;
}

static const xmlChar *body_class_of(xmlNodePtr node)
{
    for (xmlAttrPtr a = node->properties; a; a = a->next)
        if (xmlStrEqual(a->name, BAD_CAST "class"))
            return body_attr_text(a);
    return NULL;
}

/* Bytes of the first word of a class value (0 for none). */
static size_t body_first_word(const xmlChar *cls)
{
    size_t n = 0;
    while (cls && cls[n] && cls[n] != ' ' && cls[n] != '\t' && cls[n] != '\n')
        n++;
    return n;
}

/* A "teaser" is the card of another story when it links away or comes in a row of its like
 * (the same tag and first class word elsewhere on the page: "card video", "card slideshow");
 * a lone one without links is the article's own standfirst, a common CMS name for it. */
static bool body_is_other_teaser(const struct html_body *b, const struct body_node *e)
{
    if (e->text > 0 && (float)e->link > 0.2f * (float)e->text)
        return true;
    if (b->nteasers > BODY_MAX_TEASERS)
        return true;
    const xmlChar *cls = body_class_of(e->node);
    size_t n = body_first_word(cls);
    for (int i = 0; i < b->nteasers; i++) {
        xmlNodePtr o = b->nodes[b->teasers[i] - 1].node;
        const xmlChar *ocls = body_class_of(o);
        if (o != e->node && xmlStrEqual(o->name, e->node->name) && body_first_word(ocls) == n &&
            (n == 0 || memcmp(cls, ocls, n) == 0))
            return true;
    }
    return false;
}

/* Whether a block opens with a heading that names a list of other stories ("Most read",
 * "Breaking news", "Meistgelesen"): the heading is its first element, or the first of its first
 * child. */
static bool body_headed_as_others(xmlNodePtr node)
{
    static const char *const titles[] = {
        "most read",      "most popular",   "most viewed",   "most shared",  "breaking news",
        "top stories",    "trending",       "latest news",   "meistgelesen", "meist gelesen",
        "am meisten gelesen", "top-artikel", "neueste artikel", "lo más leído", "lo más visto",
        "les plus lus",   "les plus populaires", "i più letti", "più letti",  "meest gelezen",
        "mest lästa",     "mest læste",     "mest leste",    "najczęściej czytane",
    };
    xmlNodePtr h = NULL;
    for (int level = 0; level < 2 && node; level++) {
        xmlNodePtr c = node->children;
        while (c && c->type != XML_ELEMENT_NODE)
            c = c->next;
        if (!c)
            return false;
        if (c->name[0] == 'h' && c->name[1] >= '1' && c->name[1] <= '6' && !c->name[2]) {
            h = c;
            break;
        }
        node = c;
    }
    if (!h)
        return false;
    char t[48];
    size_t n = 0;
    for (xmlNodePtr c = h->children; c && n < sizeof(t) - 1; c = c->next) {
        xmlNodePtr x = c->type == XML_ELEMENT_NODE ? c->children : c;
        if (!x || x->type != XML_TEXT_NODE || !x->content)
            continue;
        for (const xmlChar *q = x->content; *q && n < sizeof(t) - 1; q++)
            if (!(n == 0 && (*q == ' ' || *q == '\n' || *q == '\t')))
                t[n++] = (char)*q;
    }
    while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\n' || t[n - 1] == '\t' || t[n - 1] == ':'))
        n--;
    for (size_t i = 0; i < sizeof(titles) / sizeof(titles[0]); i++)
        if (strlen(titles[i]) == n && strncasecmp(t, titles[i], n) == 0)
            return true;
    return false;
}

/* Whether an element is page furniture, judged on its own facts and the page's total. */
static bool body_is_furniture(const struct html_body *b, const struct body_node *e, uint32_t total)
{
    bool big = (float)e->text > BODY_BIG * (float)total && total > 0;
    if ((e->flags & F_FURN) && body_link_density(e) > BODY_BLOCK_LINKS)
        return true; /* a menu however much of the page it is */
    if (!(b->relaxed & BODY_NO_CLASSES) && (e->flags & F_UNLIKELY) && !(e->flags & F_MAYBE) &&
        !(e->flags & F_ARTICLEBODY) && !big && e->kind != K_BODY && e->kind != K_A)
        return true;
    if (!(b->relaxed & BODY_NO_CLASSES) && (e->flags & F_TEASER) && !(e->flags & F_MAYBE) &&
        !(e->flags & F_ARTICLEBODY) && !big && e->kind != K_BODY && e->kind != K_A &&
        body_is_other_teaser(b, e))
        return true;
    switch (e->kind) {
    case K_HEADER:
        /* a site's masthead is logo and menus; a header of prose is the article's own
         * (headline and standfirst) */
        return !big && !(e->text >= BODY_HEADER_PROSE && body_link_density(e) < 0.2f);
    case K_NOSCRIPT:
        return e->text < 200; /* "please enable JavaScript", tracking pixels */
    case K_FORM:
        return e->text < 500 && !big;
    case K_LIST:
    case K_DIV:
    case K_TABLE:
    case K_LI:
        /* blocks of links: menus, tag clouds, "more stories" lists; not a block that holds a
         * paragraph of prose (an article with its share buttons and link lists) */
        if (e->text > 0 && body_link_density(e) > BODY_BLOCK_LINKS && !big &&
            e->prose < BODY_PROSE)
            return true;
        /* a row of cards, each under the linked headline of another story, with its summary:
         * the cards are nearly all of the block (an article may quote one or two) */
        if (e->cards >= BODY_CARDS && (float)e->cardtext >= 0.8f * (float)e->text && !big)
            return true;
        return e->kind != K_LI && !big && body_headed_as_others(e->node);
    case K_H:
        /* the linked headline of another story */
        return e->text > 0 && body_link_density(e) > 0.5f;
    case K_P:
        /* "Read more: <a>other story</a>" */
        return e->text > 0 && body_link_density(e) >= BODY_P_LINKS;
    default:
        return false;
    }
}

static bool body_is_paragraph(const struct body_node *e)
{
    switch (e->kind) {
    case K_P:
    case K_PRE:
        return true;
    case K_QUOTE:
    case K_CELL:
    case K_DIV:
    case K_LI:
    case K_ARTICLE:
        return !(e->flags & F_BLOCK_BELOW);
    default:
        return false;
    }
}

/* Inline elements in a paragraph that class names call furniture: a caption or a copyright
 * line in a <span>, screen-reader text, a hidden part. */
static void body_cut_inline(struct html_body *b, xmlNodePtr node, int depth)
{
    if (b->relaxed & BODY_NO_CLASSES)
        return;
    for (xmlNodePtr c = node->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || !c->_private || depth >= BODY_MAX_DEPTH - 1)
            continue;
        struct body_node *e = body_info(b, c);
        if (e->flags & F_DROP)
            continue;
        if ((e->flags & F_UNLIKELY) && !(e->flags & (F_MAYBE | F_ARTICLEBODY)) && e->kind != K_A)
            e->flags |= F_DROP | F_CUT;
        else
            body_cut_inline(b, c, depth + 1);
    }
}

static void body_select(struct html_body *b, uint32_t idx, int depth, uint32_t total)
{
    struct body_node *e = &b->nodes[idx - 1];
    if (e->flags & F_DROP)
        return;
    bool article_header = false;
    if (e->kind == K_HEADER)
        for (int up = 1; up <= depth && !article_header; up++)
            article_header = b->nodes[b->stack[depth - up] - 1].kind == K_ARTICLE;
    if (!article_header && body_is_furniture(b, e, total)) {
        e->flags |= F_DROP | F_CUT;
        return;
    }
    b->stack[depth] = idx;
    /* A paragraph: an element's own text (outside its block children), when it is prose
     * rather than a row of links. */
    uint32_t own = e->own;
    if (own >= BODY_MIN_P && e->kind != K_INLINE && e->kind != K_A &&
        (e->kind != K_H || own >= 100) && e->ownlink * 2 < own) {
        float commas = e->text ? (float)e->commas * (float)own / (float)e->text : 0.0f;
        float s = 1.0f + commas + (own >= 300 ? 3.0f : (float)own / 100.0f);
        for (int up = 1; up <= 3 && depth - up >= 0; up++) {
            struct body_node *a = &b->nodes[b->stack[depth - up] - 1];
            body_init_score(a);
            a->score += s / (up == 1 ? 1.0f : up == 2 ? 2.0f : 3.0f);
        }
        for (int up = 0; up <= depth; up++)
            b->nodes[b->stack[depth - up] - 1].ptext += own;
    }
    if (!(e->flags & F_BLOCK_BELOW)) {
        body_cut_inline(b, e->node, depth);
        return;
    }
    if (depth >= BODY_MAX_DEPTH - 1)
        return;
    for (xmlNodePtr c = e->node->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && c->_private)
            body_select(b, (uint32_t)(uintptr_t)c->_private, depth + 1, total);
}

/* ---- pass 3: emit ---- */

static int body_reserve(struct body_out *o, size_t more)
{
    if (o->len + more + 1 <= o->cap)
        return 0;
    size_t cap = o->cap ? o->cap : 16384;
    while (cap < o->len + more + 1)
        cap *= 2;
    char *p = realloc(o->p, cap);
    if (!p)
        return -1;
    o->p = p;
    o->cap = cap;
    return 0;
}

static void body_break(struct body_out *o, int level)
{
    if (o->len && level > o->pending)
        o->pending = level;
}

/* Appends text, collapsing whitespace (no-break spaces too) and dropping control characters;
 * a newline in `s` becomes a block break when `lines` is set. */
static int body_text(struct body_out *o, const uint8_t *s, size_t n, bool lines)
{
    if (body_reserve(o, n + 2) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        uint8_t x = s[i];
        if (x <= ' ') {
            if (lines && x == '\n')
                body_break(o, 3);
            else if (x == ' ' || x == '\t' || x == '\n' || x == '\r' || x == '\f')
                body_break(o, 1);
            continue;
        }
        if (x == 0xC2 && i + 1 < n && s[i + 1] == 0xA0) {
            body_break(o, 1);
            i++;
            continue;
        }
        if (o->pending) {
            const char *sep = o->pending == 1 ? " " : o->pending == 2 ? "\n" : "\n\n";
            size_t sl = (size_t)o->pending == 1 ? 1 : (size_t)o->pending - 1;
            if (body_reserve(o, n - i + sl) < 0)
                return -1;
            memcpy(o->p + o->len, sep, sl);
            o->len += sl;
            o->pending = 0;
        }
        o->p[o->len++] = (char)x;
    }
    return 0;
}

/* A heading whose section is gone ("Related posts" over a dropped list, "Leave a reply" over
 * a dropped form) is furniture too. */
static bool body_heads_nothing(struct html_body *b, xmlNodePtr h)
{
    uint32_t htext = body_info(b, h)->text;
    for (int up = 0; up < 3 && h; up++, h = h->parent) {
        if (up > 0 && (!h->_private || body_info(b, h)->text != htext))
            return false; /* the heading shares its wrapper with text */
        for (xmlNodePtr c = h->next; c; c = c->next) {
            if (c->type == XML_TEXT_NODE && c->content) {
                for (const xmlChar *p = c->content; *p; p++)
                    if (*p > ' ')
                        return false;
                continue;
            }
            if (c->type != XML_ELEMENT_NODE || !c->_private)
                continue;
            const struct body_node *e = body_info(b, c);
            if (e->text == 0)
                continue; /* an empty ad slot or spacer between the heading and its text */
            if (e->flags & F_CUT)
                return true;
            if (!(e->flags & F_DROP))
                return false;
        }
    }
    return false; /* the last heading of the text: keep it */
}

static int body_emit(struct html_body *b, xmlNodePtr node, int depth)
{
    for (xmlNodePtr c = node->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            if (c->content &&
                body_text(&b->out, c->content, strlen((const char *)c->content), false) < 0)
                return -1;
            continue;
        }
        if (c->type != XML_ELEMENT_NODE || !c->_private || depth >= BODY_MAX_DEPTH - 1)
            continue;
        const struct body_node *e = body_info(b, c);
        if (e->flags & F_DROP)
            continue;
        if (e->kind == K_BR) {
            body_break(&b->out, 2);
            continue;
        }
        /* a heading, or a short line such as "More on this:", over a dropped section */
        if ((e->kind == K_H || (e->text < 40 && !(e->flags & F_BLOCK_BELOW) &&
                                (e->kind == K_P || e->kind == K_DIV))) &&
            body_heads_nothing(b, c))
            continue;
        bool block = body_is_block(e->kind);
        if (block)
            body_break(&b->out, 3);
        else if (e->kind == K_INLINE && c->children == NULL)
            continue;
        if (body_emit(b, c, depth + 1) < 0)
            return -1;
        if (block)
            body_break(&b->out, 3);
    }
    return 0;
}

/* ---- choosing the container ---- */

static bool body_is_inside(const struct html_body *b, uint32_t idx, uint32_t anc)
{
    for (uint32_t i = idx; i; i = b->nodes[i - 1].parent)
        if (i == anc)
            return true;
    return false;
}

/* The best-scored element, moved up to a common ancestor when other strong candidates share
 * it (an article split over several blocks). 0 when no paragraph was scored. */
static uint32_t body_top_candidate(struct html_body *b)
{
    enum { TOPN = 5 };
    uint32_t top[TOPN] = {0};
    float topscore[TOPN] = {0};
    for (size_t i = 0; i < b->n; i++) {
        struct body_node *e = &b->nodes[i];
        if (!(e->flags & F_SCORED) || (e->flags & F_DROP))
            continue;
        float s = e->score * (1.0f - body_link_density(e));
        e->score = s;
        for (int k = 0; k < TOPN; k++) {
            if (!top[k] || s > topscore[k]) {
                memmove(&top[k + 1], &top[k], (TOPN - k - 1) * sizeof(top[0]));
                memmove(&topscore[k + 1], &topscore[k], (TOPN - k - 1) * sizeof(topscore[0]));
                top[k] = (uint32_t)i + 1;
                topscore[k] = s;
                break;
            }
        }
    }
    if (!top[0])
        return 0;
    uint32_t best = top[0];
    for (uint32_t anc = b->nodes[best - 1].parent; anc; anc = b->nodes[anc - 1].parent) {
        if (b->nodes[anc - 1].kind == K_BODY)
            break;
        int shared = 0;
        for (int k = 1; k < TOPN; k++)
            if (top[k] && topscore[k] >= 0.75f * topscore[0] && body_is_inside(b, top[k], anc))
                shared++;
        if (shared >= 2) {
            best = anc;
            break;
        }
    }
    return best;
}

/* Marks the container and the siblings that continue it. */
static void body_mark_siblings(struct html_body *b, uint32_t best)
{
    struct body_node *t = &b->nodes[best - 1];
    t->flags |= F_KEEP;
    if (!t->node->parent || t->kind == K_BODY)
        return;
    float threshold = t->score * 0.2f > 10.0f ? t->score * 0.2f : 10.0f;
    for (xmlNodePtr c = t->node->parent->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || !c->_private || c == t->node)
            continue;
        struct body_node *s = body_info(b, c);
        if (s->flags & F_DROP)
            continue;
        float ld = body_link_density(s);
        bool keep = (s->flags & F_SCORED) && s->score >= threshold;
        if (!keep && body_is_paragraph(s) && s->ptext > 0) {
            if (s->text > 80 && ld < 0.25f)
                keep = true;
            else if (s->text > 0 && ld == 0.0f && s->commas > 0)
                keep = true;
        }
        if (keep)
            s->flags |= F_KEEP;
    }
}

/* ---- JSON-LD articleBody ---- */

static const char *body_json_find(json_t *j, int depth)
{
    if (depth > 8 || !j)
        return NULL;
    const char *best = NULL;
    size_t bestlen = 0;
    if (json_is_object(j)) {
        json_t *ab = json_object_get(j, "articleBody");
        if (json_is_string(ab))
            return json_string_value(ab);
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
        {
            if (json_is_object(v) || json_is_array(v)) {
                const char *s = body_json_find(v, depth + 1);
                if (s && strlen(s) > bestlen)
                    best = s, bestlen = strlen(s);
            }
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            const char *s = body_json_find(v, depth + 1);
            if (s && strlen(s) > bestlen)
                best = s, bestlen = strlen(s);
        }
    }
    return best;
}

/* Characters (not whitespace) of s, as body_count_text counts them. */
static uint32_t body_chars(const char *s)
{
    uint32_t c = 0, k = 0;
    body_count_text((const xmlChar *)s, &c, &k);
    return c;
}

/* Replaces the output with a JSON-LD articleBody when one holds at least `min_ratio` of the
 * characters the page's container gave (and is plain text, not markup). */
static int body_try_json_ld(struct html_body *b, uint32_t dom_chars)
{
    for (int i = 0; i < b->njsonld; i++) {
        xmlNodePtr c = b->jsonld[i]->children;
        if (!c || !c->content || c->next)
            continue;
        /* An articleBody has no more characters than the script has bytes: a script too short
         * to hold one that would be taken is not parsed (most hold the page's metadata only). */
        size_t bytes = strlen((const char *)c->content);
        if (bytes < BODY_JSONLD_MIN || (float)bytes < BODY_JSONLD_RATIO * (float)dom_chars)
            continue;
        json_t *j = json_loads((const char *)c->content, JSON_DISABLE_EOF_CHECK, NULL);
        if (!j)
            continue;
        const char *s = body_json_find(j, 0);
        int rc = 0;
        if (s) {
            uint32_t n = body_chars(s);
            bool markup = strstr(s, "</") || strstr(s, "<p") || strstr(s, "&#") ||
                          strstr(s, "&amp;") || strstr(s, "&quot;");
            if (!markup && n >= BODY_JSONLD_MIN &&
                (float)n >= BODY_JSONLD_RATIO * (float)dom_chars) {
                b->out.len = 0;
                b->out.pending = 0;
                rc = body_text(&b->out, (const uint8_t *)s, strlen(s), true) < 0 ? -1 : 1;
            }
        }
        json_decref(j);
        if (rc)
            return rc;
    }
    return 0;
}

static xmlNodePtr body_find_body(xmlNodePtr root)
{
    for (xmlNodePtr c = root->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST "body"))
            return c;
    return root;
}

/* Whether a block ends a sentence: . ! ? … or a closing quote or bracket after one. */
static bool body_ends_sentence(const char *p, size_t n)
{
    while (n > 0) {
        unsigned char c = (unsigned char)p[n - 1];
        if (c == '.' || c == '!' || c == '?')
            return true;
        if (c == '"' || c == '\'' || c == ')')
            n--;
        else if (n >= 3 && (unsigned char)p[n - 3] == 0xE2 && (unsigned char)p[n - 2] == 0x80)
            return c == 0xA6; /* … (closing quotes ” ’ fall through to false) */
        else if (n >= 2 && c == 0x82 && (unsigned char)p[n - 2] == 0xE3)
            return true; /* 。 */
        else
            return false;
    }
    return false;
}

/* The author's sign-off under a post: "x Franzi", "Euer Hans", "XX, Die Redaktion", "Love,
 * Anna", "Liebe Grüße, Eva": a greeting of farewell, then a name. The words that also begin a
 * label or a sentence ("Best", "Love") count only with a comma or a line break after them. */
static bool body_is_signoff(const char *p, size_t n)
{
    static const char *const any[] = {"xoxo", "xxx", "xx", "xo", "x", "euer", "eure", "dein",
                                      "deine"};
    static const char *const comma[] = {
        "love",         "cheers",       "best",          "yours",        "greetings",
        "liebe grüße",  "viele grüße",  "herzliche grüße", "beste grüße", "lg",
        "bisous",       "besos",        "abrazos",       "saludos",      "cordialement",
    };
    /* "X" is also the label of a share button, before the others ("X Facebook E-Mail"): a
     * sign-off is a greeting and a name or two, never a network's or a button's name */
    static const char *const share[] = {"facebook", "linkedin", "whatsapp", "telegram", "e-mail",
                                        "email",    "share",    "teilen",   "reddit",   "pinterest",
                                        "threads",  "bluesky",  "xing",     "mastodon", "print"};
    size_t words = 1;
    for (size_t i = 0; i < n; i++)
        words += p[i] == ' ';
    for (size_t k = 0; words <= 3 && k < sizeof(any) / sizeof(any[0]); k++) {
        size_t l = strlen(any[k]);
        if (!(l + 1 < n && strncasecmp(p, any[k], l) == 0 && (p[l] == ' ' || p[l] == ',')))
            continue;
        const char *next = p + l + 1;
        while (next < p + n && (*next == ' ' || *next == ','))
            next++;
        for (size_t j = 0; j < sizeof(share) / sizeof(share[0]); j++)
            if (strncasecmp(next, share[j], strlen(share[j])) == 0)
                return false;
        return true;
    }
    for (size_t k = 0; k < sizeof(comma) / sizeof(comma[0]); k++) {
        size_t l = strlen(comma[k]);
        if (l + 1 < n && strncasecmp(p, comma[k], l) == 0 && (p[l] == ',' || p[l] == '\n'))
            return true;
    }
    return false;
}

/* Short blocks after the last sentence of the text ("Tags", "Contact:", "Share", a date) are
 * the page's furniture between the article and its footer; the trimming stops at the author's
 * sign-off, which belongs to the post. */
static void body_trim_tail(struct body_out *o)
{
    while (o->len > 0) {
        size_t start = o->len;
        while (start >= 2 && !(o->p[start - 1] == '\n' && o->p[start - 2] == '\n'))
            start--;
        if (start < 2)
            return; /* keep a one-block text whatever it is */
        size_t n = o->len - start;
        /* a short question or exclamation there asks the reader to share, comment or read on */
        char last = o->p[o->len - 1];
        if (n >= BODY_TAIL_CHARS ||
            (body_ends_sentence(o->p + start, n) && last != '?' && last != '!') ||
            body_is_signoff(o->p + start, n))
            return;
        o->len = start - 2;
    }
}

/* The page's headline when the container does not hold it: the last <h1> before the container
 * in document order (a logo in an <h1> comes first), unless it sits in furniture other than a
 * <header>. 0 when there is none. */
static bool body_title_hidden(const struct html_body *b, uint32_t i, uint32_t stop)
{
    for (uint32_t a = i; a && a != stop; a = b->nodes[a - 1].parent) {
        const struct body_node *x = &b->nodes[a - 1];
        if ((x->flags & F_DROP) && !((x->flags & F_CUT) && x->kind == K_HEADER))
            return true;
    }
    return false;
}

static bool body_is_h1(const struct body_node *e)
{
    return e->kind == K_H && e->text > 0 && xmlStrEqual(e->node->name, BAD_CAST "h1");
}

static uint32_t body_title_before(struct html_body *b, uint32_t container)
{
    /* Pre-order indices: the container's descendants follow it. */
    for (size_t i = container; i < b->n && body_is_inside(b, (uint32_t)i + 1, container); i++) {
        const struct body_node *e = &b->nodes[i];
        if (!body_is_h1(e) || body_title_hidden(b, (uint32_t)i + 1, container))
            continue;
        for (uint32_t a = (uint32_t)i + 1; a != container; a = b->nodes[a - 1].parent)
            if (b->nodes[a - 1].flags & F_DROP)
                return (uint32_t)i + 1; /* in the article's own <header>: put it back */
        return 0;                       /* the container shows it already */
    }
    for (uint32_t i = container - 1; i >= 1; i--) {
        const struct body_node *e = &b->nodes[i - 1];
        if (body_is_h1(e))
            return body_title_hidden(b, i, 0) ? 0 : i;
    }
    return 0;
}

/* Whether an element or one of its ancestors is dropped or already emitted. */
static bool body_lead_blocked(const struct html_body *b, uint32_t i)
{
    for (uint32_t a = i; a; a = b->nodes[a - 1].parent)
        if (b->nodes[a - 1].flags & (F_DROP | F_KEEP))
            return true;
    return false;
}

/* The standfirst: prose blocks or a subheadline between a headline emitted from outside the
 * container and the container itself (news pages often set the lead apart from the body, next
 * to the headline). Only a few short blocks qualify, each prose rather than links, and each
 * must end a sentence unless it is long; a longer stretch between headline and text is other
 * content. */
static int body_emit_lead(struct html_body *b, uint32_t h1, uint32_t container)
{
    uint32_t from = h1 + 1;
    while (from < container && body_is_inside(b, from, h1))
        from++;
    uint32_t pick[BODY_LEAD_BLOCKS];
    int n = 0;
    uint32_t chars = 0;
    for (uint32_t i = from; i < container; i++) {
        const struct body_node *e = &b->nodes[i - 1];
        if (body_is_inside(b, container, i) || (!body_is_paragraph(e) && e->kind != K_H) ||
            e->kind == K_LI ||
            e->kind == K_CELL || e->own < BODY_MIN_P || e->ownlink * 4 >= e->own ||
            body_lead_blocked(b, i))
            continue;
        if (n == BODY_LEAD_BLOCKS || (chars += e->own) > BODY_LEAD_CHARS)
            return 0;
        pick[n++] = i;
    }
    for (int k = 0; k < n; k++) {
        size_t before = b->out.len;
        int pending = b->out.pending;
        body_break(&b->out, 3);
        if (body_emit(b, b->nodes[pick[k] - 1].node, 0) < 0)
            return -1;
        size_t start = before;
        while (start < b->out.len && (b->out.p[start] == '\n' || b->out.p[start] == ' '))
            start++;
        if (b->out.len - start < 100 && !body_ends_sentence(b->out.p + start, b->out.len - start)) {
            b->out.len = before; /* a byline or a label, not a lead */
            b->out.pending = pending;
        }
    }
    body_break(&b->out, 3);
    return 0;
}

/* Whether an element lies inside another articleBody element. */
static bool body_in_articlebody(const struct html_body *b, const struct body_node *e)
{
    for (uint32_t i = e->parent; i; i = b->nodes[i - 1].parent)
        if (b->nodes[i - 1].flags & F_ARTICLEBODY)
            return true;
    return false;
}

/* Emits every kept element in document order: the container and the siblings that continue
 * it, or several articleBody blocks. */
static int body_emit_kept(struct html_body *b, xmlNodePtr node, int depth)
{
    for (xmlNodePtr c = node->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || !c->_private || depth >= BODY_MAX_DEPTH - 1)
            continue;
        const struct body_node *e = body_info(b, c);
        if (e->flags & F_DROP)
            continue;
        if (e->flags & F_KEEP) {
            body_break(&b->out, 3);
            if (body_emit(b, c, 0) < 0)
                return -1;
            body_break(&b->out, 3);
        } else if (body_emit_kept(b, c, depth + 1) < 0) {
            return -1;
        }
    }
    return 0;
}

/* A short block that is a date stamp ("7. oktober 2020", "15. Mai 2019, 05:28 Uhr",
 * "Aktualisiert: 11.04.2020"): a year or a clock time, and few words around it. */
static bool body_is_dateline(const char *p, size_t n)
{
    if (n >= BODY_DATE_CHARS || body_ends_sentence(p, n))
        return false;
    int digits = 0;
    bool year = false, clock = false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            continue;
        digits++;
        if (i + 3 < n && (p[i] == '1' || p[i] == '2') && (p[i + 1] == '9' || p[i + 1] == '0') &&
            p[i + 2] >= '0' && p[i + 2] <= '9' && p[i + 3] >= '0' && p[i + 3] <= '9' &&
            (i == 0 || p[i - 1] < '0' || p[i - 1] > '9') &&
            (i + 4 >= n || p[i + 4] < '0' || p[i + 4] > '9'))
            year = true;
        if (i + 2 < n && p[i + 1] == ':' && p[i + 2] >= '0' && p[i + 2] <= '5')
            clock = true;
    }
    return digits >= 4 && (year || clock);
}

/* A short block with its ASCII letters in lower case, for body_has: `low` holds at least n bytes. */
static void body_lower(const char *p, size_t n, char *low)
{
    for (size_t i = 0; i < n; i++)
        low[i] = p[i] >= 'A' && p[i] <= 'Z' ? (char)(p[i] + 32) : p[i];
}

/* Whether `n` bytes of lowered text hold `word` (lower case). */
static bool body_has(const char *low, size_t n, const char *word)
{
    return memmem(low, n, word, strlen(word)) != NULL;
}

/* Whether `n` bytes of lowered text hold any of the phrases of a list. */
#define body_has_any(low, n, list) body_has_any_of(low, n, list, sizeof(list) / sizeof((list)[0]))
static bool body_has_any_of(const char *low, size_t n, const char *const *list, size_t count)
{
    for (size_t k = 0; k < count; k++)
        if (body_has(low, n, list[k]))
            return true;
    return false;
}

/* Whether lowered text holds `word` where a word starts (`whole`: and where one ends). */
static bool body_has_word(const char *low, size_t n, const char *word, bool whole)
{
    size_t l = strlen(word);
    for (const char *q = low; (q = memmem(q, n - (size_t)(q - low), word, l)) != NULL; q++) {
        bool start = q == low || !((q[-1] >= 'a' && q[-1] <= 'z') || (unsigned char)q[-1] >= 0x80);
        size_t e = (size_t)(q - low) + l;
        bool end = e == n || !((low[e] >= 'a' && low[e] <= 'z') || (unsigned char)low[e] >= 0x80);
        if (start && (end || !whole))
            return true;
        if ((size_t)(q - low) + l >= n)
            break;
    }
    return false;
}

/* Whether a block opens with a dateline: before a dash in its first bytes, a place in capitals
 * ("LUXEMBOURG (Reuters) - ", "BERLIN — ") or an agency in brackets ("Paris, 5 déc. (AFP) - ",
 * "(EFE).- "). */
static bool body_has_dateline(const char *p, size_t n)
{
    size_t d = 0, lim = n < BODY_DATELINE_CHARS ? n : BODY_DATELINE_CHARS;
    for (; d + 2 < lim; d++) { /* the dash */
        const unsigned char *u = (const unsigned char *)p + d;
        if (u[0] == 0xE2 && u[1] == 0x80 && (u[2] == 0x93 || u[2] == 0x94))
            break; /* – or — */
        if (d > 0 && u[0] == '-' && u[1] == ' ' && (u[-1] == ' ' || u[-1] == '.' || u[-1] == ')'))
            break;
    }
    if (d + 2 >= lim)
        return false;
    size_t caps = 0, i = 0;
    for (; i < d && ((p[i] >= 'A' && p[i] <= 'Z') || (unsigned char)p[i] >= 0x80); i++)
        caps += p[i] >= 'A' && p[i] <= 'Z';
    if (caps >= 3 && i < d && (p[i] == ' ' || p[i] == ',' || p[i] == '('))
        return true;
    const char *open = memchr(p, '(', d);
    const char *close = open ? memchr(open, ')', d - (size_t)(open - p)) : NULL;
    return close && close - open >= 3 && !memchr(open, ' ', (size_t)(close - open));
}

/* Whether byte `c` belongs to a word: an ASCII letter or digit, or a byte of any other
 * character. */
static bool body_is_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* A copy of the `n` bytes of `p` in `out` with what stands between quotation marks made
 * spaces: the words of someone quoted. Double marks (" “ ” „ « ») open and close alike. A
 * single mark opens (' ‘) where a word begins and closes (' ’) where one ends, so that the
 * apostrophes of "users' consent" and "don’t" quote nothing. A mark never closed quotes
 * nothing either. */
static void body_unquote(const char *p, size_t n, char *out)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t open = 0;
    int in = 0; /* 0 outside a quotation, 1 inside a single-quoted one, 2 a double-quoted one */
    for (size_t i = 0; i < n;) {
        size_t m = 0;
        int kind = 2;
        bool e2 = i + 2 < n && u[i] == 0xE2 && u[i + 1] == 0x80;
        if (u[i] == '"' || (e2 && u[i + 2] >= 0x9C && u[i + 2] <= 0x9E) ||
            (i + 1 < n && u[i] == 0xC2 && (u[i + 1] == 0xAB || u[i + 1] == 0xBB))) {
            m = u[i] == '"' ? 1 : e2 ? 3 : 2;
            if (in == 1)
                m = 0; /* part of a single-quoted quotation */
        } else if (u[i] == '\'' || (e2 && (u[i + 2] == 0x98 || u[i + 2] == 0x99))) {
            kind = 1;
            m = u[i] == '\'' ? 1 : 3;
            bool before = i > 0 && body_is_word_byte(u[i - 1]);
            bool after = i + m < n && body_is_word_byte(u[i + m]);
            bool opens = in == 0 && !before && after && !(m == 3 && u[i + 2] == 0x99);
            bool closes = in == 1 && !after && !(m == 3 && u[i + 2] == 0x98);
            if (!opens && !closes)
                m = 0;
        }
        if (m == 0) {
            out[i] = in ? ' ' : p[i];
            i++;
            continue;
        }
        if (in == 0)
            in = kind, open = i;
        else if (in == kind)
            in = 0;
        memset(out + i, ' ', m);
        i += m;
    }
    if (in)
        memcpy(out + open, p + open, n - open);
}

/* Whether German's polite address ("Sie", "Ihnen", "Ihre") stands in `p`: capitalised where no
 * sentence begins, since at a sentence's start "Sie" is as often "she" or "they". */
static bool body_has_polite_address(const char *p, size_t n)
{
    static const char *const polite[] = {"Sie",  "Ihnen", "Ihr",  "Ihre",
                                         "Ihren", "Ihrem", "Ihrer", "Ihres"};
    for (size_t i = 1; i + 2 < n; i++) {
        if ((p[i] != 'S' && p[i] != 'I') || (p[i - 1] != ' ' && p[i - 1] != '\n'))
            continue;
        size_t e = i + 1;
        while (e < n && p[e] >= 'a' && p[e] <= 'z')
            e++;
        if (e < n && ((unsigned char)p[e] >= 0x80 || (p[e] >= 'A' && p[e] <= 'Z')))
            continue;
        size_t j = i;
        while (j > 0 && (p[j - 1] == ' ' || p[j - 1] == '\n'))
            j--;
        char c = j > 0 ? p[j - 1] : '.';
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == ',' || c == ';'))
            continue; /* a sentence may begin here */
        for (size_t k = 0; k < sizeof(polite) / sizeof(polite[0]); k++)
            if (strlen(polite[k]) == e - i && memcmp(p + i, polite[k], e - i) == 0)
                return true;
    }
    return false;
}

/* Whether a block speaks to its reader in its own voice: the second person, or the first
 * person plural in which a site speaks of itself, outside quotations. `n` is under
 * BODY_NOTICE_CHARS. */
static bool body_addresses_reader(const char *p, size_t n)
{
    static const char *const address[] = {
        "you",     "your",    "yours",    "yourself", "we",       "our",      "ours",
        "du",      "dich",    "dir",      "dein",     "deine",    "deinen",   "deinem",
        "deiner",  "euch",    "euer",     "eure",     "wir",      "uns",      "unser",
        "unsere",  "unseren", "unserem",  "unserer",  "vous",     "votre",    "vos",
        "tu",      "tes",     "nous",     "notre",    "nos",      "usted",    "ustedes",
        "tus",     "nuestro", "nuestra",  "nuestros", "nuestras", "tuo",      "tua",
        "tuoi",    "vostro",  "vostra",   "noi",      "nostro",   "nostra",   "nostri",
        "nostre",  "uw",      "je",       "jouw",     "jij",      "wij",      "ons",
        "onze",    "você",    "vocês",    "nosso",    "nossa",    "nossos",   "nossas",
    };
    char own[BODY_NOTICE_CHARS];
    body_unquote(p, n, own);
    if (body_has_polite_address(own, n))
        return true;
    body_lower(own, n, own);
    for (size_t k = 0; k < sizeof(address) / sizeof(address[0]); k++)
        if (body_has_word(own, n, address[k], true))
            return true;
    return false;
}

/* A report rather than a notice: a block that tells what someone said or did (a verb of
 * saying or deciding, a day of the week, a dateline) and nowhere speaks to the reader in its
 * own voice (no second person, no "we" or "our" of the site, outside quotations). A cookie
 * banner, a consent wall, a paywall's prompt or an appeal addresses the reader; a news item
 * about cookies, consent or subscriptions speaks of others in the third person, and is kept
 * whatever words of consent it holds. The signs of a report are what let a block off; one
 * word of address puts it back, so that a banner that names a court's ruling stays a banner.
 * `n` is under BODY_NOTICE_CHARS. */
static bool body_is_report(const char *p, size_t n)
{
    static const char *const reported[] = {
        /* verbs of saying and deciding, as a report puts them ("according to", "laut" and
         * "selon" are no sign: a banner processes data according to its policy) */
        "said",        "says",         "told",          "announced",  "ruled",
        "reported",    "stated",       "added",         "confirmed",  "warned",
        "sagte",       "sagt",         "erklärte",      "teilte",     "mitteilte",
        "berichtete",  "kündigte",     "entschied",     "entschieden", "urteilte",
        "betonte",     "a déclaré",    "a annoncé",     "a indiqué",  "a précisé",
        "a expliqué",  "a estimé",     "a jugé",        "a affirmé",  "a tranché",
        "dijo",        "afirmó",       "declaró",       "anunció",    "explicó",
        "señaló",      "aseguró",      "informó",       "dictaminó",  "ha detto",
        "ha dichiarato", "ha annunciato", "ha spiegato", "ha stabilito", "zei",
        "verklaarde",  "oordeelde",    "disse",         "afirmou",    "declarou",
        "anunciou",    "informou",
        /* the days of the week: an event's day, never a notice's */
        "monday",    "tuesday",    "wednesday",   "thursday",     "friday",      "saturday",
        "sunday",    "montag",     "dienstag",    "mittwoch",     "donnerstag",  "freitag",
        "samstag",   "sonntag",    "lundi",       "mardi",        "mercredi",    "jeudi",
        "vendredi",  "samedi",     "dimanche",    "lunes",        "martes",      "miércoles",
        "jueves",    "viernes",    "sábado",      "domingo",      "lunedì",      "martedì",
        "mercoledì", "giovedì",    "venerdì",     "sabato",       "domenica",    "maandag",
        "dinsdag",   "woensdag",   "donderdag",   "vrijdag",      "zaterdag",    "zondag",
        "segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira",
    };
    char own[BODY_NOTICE_CHARS];
    if (n >= BODY_NOTICE_CHARS)
        return false;
    bool report = body_has_dateline(p, n);
    body_lower(p, n, own);
    for (size_t k = 0; k < sizeof(reported) / sizeof(reported[0]) && !report; k++)
        report = body_has_word(own, n, reported[k], true);
    if (!report)
        return false;
    return !body_addresses_reader(p, n);
}

/* Whether one of the blocks of a text under BODY_NOTICE_CHARS is a report (body_is_report). */
static bool body_holds_report(const char *p, size_t len)
{
    for (size_t r = 0; r < len;) {
        const char *end = memmem(p + r, len - r, "\n\n", 2);
        size_t n = end ? (size_t)(end - (p + r)) : len - r;
        if (body_is_report(p + r, n))
            return true;
        r += n + (end ? 2 : 0);
    }
    return false;
}

/* The headline of a report: the text's first block, a line of a few words (a button's or a
 * link's label has fewer) that ends no sentence and speaks to no reader, over a block that
 * reports (body_is_report). It names its subject ("EU court: a ticked box is no consent to
 * cookies") as a banner's title would, and only the report under it tells them apart. `next`
 * holds the `rest` bytes after the block. */
static bool body_is_headline_of_report(const char *p, size_t n, const char *next, size_t rest)
{
    size_t words = 1;
    for (size_t i = 1; i < n; i++)
        words += p[i] == ' ' && p[i - 1] != ' ';
    if (words < BODY_HEADLINE_WORDS || body_ends_sentence(p, n) || memchr(p, '\n', n) ||
        body_addresses_reader(p, n))
        return false;
    const char *end = memmem(next, rest, "\n\n", 2);
    size_t m = end ? (size_t)(end - next) : rest;
    return m < BODY_NOTICE_CHARS && body_is_report(next, m);
}

/* An appeal to the reader at the end of the text: to subscribe, to become a member, to
 * support or donate, to read on behind the paywall, to sign up for a newsletter. */
static bool body_is_appeal(const char *low, size_t n)
{
    static const char *const appeals[] = {
        "subscribe",       "abonnier",        "abonnez",      "suscrib",      "suscríb",
        "hazte miembro",   "become a member", "werden sie mitglied", "support us",
        "unterstütze uns", "unterstützen sie uns", "apoya a",  "soutenez",     "spenden sie",
        "pour lire la suite", "to continue reading",
    };
    static const char *const reader[] = {"you", "sie", "ihr", "dich", "dir", "du", "vous",
                                         "votre", "tu", "jetzt"};
    if (n >= BODY_APPEAL_CHARS)
        return false;
    if (body_has_any(low, n, appeals))
        return true;
    if (body_has_word(low, n, "donate", true))
        return true;
    if (!body_has(low, n, "newsletter"))
        return false;
    if (body_has(low, n, "abonn") || body_has(low, n, "sign up") || body_has(low, n, "anmeld"))
        return true;
    for (size_t k = 0; k < sizeof(reader) / sizeof(reader[0]); k++)
        if (body_has_word(low, n, reader[k], k != 0 && k != 2)) /* "your", "ihre" too */
            return true;
    return false;
}

/* A cookie or consent notice: it names cookies and asks to accept them or points to the
 * privacy settings, in a block short enough to be a notice rather than prose about them. */
static bool body_is_cookie_notice(const char *low, size_t n)
{
    static const char *const asks[] = {
        "accept",   "agree",     "consent",    "einverstanden", "akzept",  "zustimm",
        "einwillig", "acepta",   "accetta",    "privacy",       "datenschutz",
        "confidentialit", "privacidad", "settings", "einstellungen", "zgod",
    };
    if (n >= BODY_NOTICE_CHARS || !body_has(low, n, "cookie"))
        return false;
    return body_has_any(low, n, asks);
}

/* A text that is nothing but a prompt: a page whose article is drawn by scripts leaves the
 * notice asking for them, for consent or for a subscription. Two kinds of prompt words in a
 * short text (and no block of it a report: body_drop_prompts asks body_holds_report). */
static const char *const body_prompt_kinds[][6] = {
    {"cookie", "consent", "einwillig", "zustimm", "privacy", "datenschutz"},
    {"javascript", "browser", "ad blocker", "adblock", "werbeblocker", "enable"},
    {"subscri", "abonn", "suscr", "log in", "sign in", "anmelden"},
    {"accept", "agree", "akzept", "continue", "weiter", "allow"},
};

/* A bit for each kind of prompt word that the `n` bytes of lowered text hold. */
static unsigned body_prompt_words(const char *low, size_t n)
{
    unsigned kinds = 0;
    for (size_t k = 0; k < sizeof(body_prompt_kinds) / sizeof(body_prompt_kinds[0]); k++)
        for (size_t i = 0; i < sizeof(body_prompt_kinds[k]) / sizeof(body_prompt_kinds[k][0]); i++)
            if (body_has(low, n, body_prompt_kinds[k][i])) {
                kinds |= 1u << k;
                break;
            }
    return kinds;
}

static bool body_is_prompt(const char *low, size_t n)
{
    if (n >= BODY_NOTICE_CHARS)
        return false;
    unsigned kinds = body_prompt_words(low, n);
    return (kinds & (kinds - 1)) != 0; /* two kinds or more */
}

/* A longer wall: consent platforms and paywalls that explain their purposes over a few
 * paragraphs ("We and our 142 partners store ...", "You can withdraw your consent ...", "Read
 * without ads with a subscription"). Every block asks for consent or for a subscription or
 * login, and the whole holds two kinds of prompt words; one block without such a word (a
 * paragraph of the article, however short) or one that reports on them (body_is_report) and
 * the text is not a wall. */
static bool body_is_wall(const char *p, size_t len)
{
    char low[BODY_NOTICE_CHARS];
    unsigned all = 0;
    if (len >= BODY_WALL_CHARS)
        return false;
    for (size_t r = 0; r < len;) {
        const char *end = memmem(p + r, len - r, "\n\n", 2);
        size_t n = end ? (size_t)(end - (p + r)) : len - r;
        if (n >= BODY_NOTICE_CHARS)
            return false;
        body_lower(p + r, n, low);
        unsigned kinds = body_prompt_words(low, n);
        if (!(kinds & 5u)) /* neither consent nor a subscription or login */
            return false;
        if (body_is_report(p + r, n)) /* news about them */
            return false;
        all |= kinds;
        r += n + (end ? 2 : 0);
    }
    return (all & (all - 1)) != 0;
}

/* Where a paywall cuts the article: a short block that says the rest of the story is for
 * subscribers or members ("To view the full story, please subscribe", "Um weiterzulesen,
 * abonnieren Sie ...", "Pour lire la suite, abonnez-vous"). What the page shows after it is
 * the offer, never more of the article. Both a word of the rest and one of the subscription
 * must be there: "Continue reading below" alone is a marker between two parts of the text,
 * and "the rest of the money" or "members asked" are words of any report. */
static bool body_is_paywall_cut(const char *low, size_t n)
{
    static const char *const rest[] = {
        "full story",          "full article",          "rest of the story",
        "rest of this story",  "rest of the article",   "rest of this article",
        "continue reading",    "keep reading",          "read the full",
        "weiterlesen",         "weiter zu lesen",       "weiterzulesen",
        "ganzen artikel",      "vollständigen artikel", "lire la suite",
        "suite de cet article", "seguir leyendo",       "continuar leyendo",
        "nota completa",       "artículo completo",     "continuare a leggere",
        "articolo completo",   "continuar lendo",       "continuar a ler",
        "lees verder",         "verder lezen",
    };
    static const char *const access[] = {
        "subscri", "abonn",    "suscri",    "assinante", "assine",    "membership",
        "log in",  "sign in",  "anmelden",  "einloggen", "connectez", "inicia sesión",
    };
    if (n >= BODY_APPEAL_CHARS)
        return false;
    /* the words of access first: most blocks have none, and they are the shorter list */
    return body_has_any(low, n, access) && body_has_any(low, n, rest);
}

/* Drops cookie notices among the first and last blocks of the text (a banner the page put
 * before or after the article, inside the container), appeals to the reader among the last,
 * a paywall's cut and all after it, and the whole text when it is only a prompt. A block that
 * reports (body_is_report) is none of these: a short news item on cookies, consent or a
 * paywall is all edges and all prompt words, and lost its text to these checks. */
static void body_drop_prompts(struct body_out *o)
{
    char low[BODY_NOTICE_CHARS];
    if (o->len == 0)
        return;
    if (o->len < BODY_NOTICE_CHARS) {
        body_lower(o->p, o->len, low);
        if (body_is_prompt(low, o->len) && !body_holds_report(o->p, o->len)) {
            o->len = 0;
            return;
        }
    }
    if (body_is_wall(o->p, o->len)) {
        o->len = 0;
        return;
    }
    size_t nblocks = 0;
    for (size_t i = 0; i + 1 < o->len; i++)
        if (o->p[i] == '\n' && o->p[i + 1] == '\n')
            nblocks++, i++;
    nblocks++;
    size_t r = 0, w = 0, k = 0;
    while (r < o->len) {
        const char *end = memmem(o->p + r, o->len - r, "\n\n", 2);
        size_t n = end ? (size_t)(end - (o->p + r)) : o->len - r;
        bool edge = k < 2 || k + 3 >= nblocks, notice = false;
        bool cut = k > 0 && n < BODY_APPEAL_CHARS;
        if ((cut || (edge && nblocks > 1)) && n < BODY_NOTICE_CHARS)
            body_lower(o->p + r, n, low);
        if (cut && body_is_paywall_cut(low, n) && !body_is_report(o->p + r, n))
            break;
        if (edge && nblocks > 1 && n < BODY_NOTICE_CHARS)
            notice = (body_is_cookie_notice(low, n) ||
                      (k > 0 && k + BODY_APPEAL_BLOCKS >= nblocks && body_is_appeal(low, n))) &&
                     !body_is_report(o->p + r, n) &&
                     !(k == 0 && end && body_is_headline_of_report(o->p + r, n, end + 2,
                                                                    o->len - (r + n + 2)));
        if (!notice) {
            if (w > 0) {
                memmove(o->p + w, "\n\n", 2);
                w += 2;
            }
            memmove(o->p + w, o->p + r, n);
            w += n;
        }
        r += n + (end ? 2 : 0);
        k++;
    }
    o->len = w;
}

/* What follows the word of a credit ("Foto", "Quelle", "Abb."): a colon, slash, bar, bracket
 * or ©, or "by", "via", "credit", or one more word and a colon ("Photo credit:", "Figure 4:");
 * a sentence that begins with the word ("Source of the trouble is ...") does not. */
static bool body_credit_follows(const char *p, size_t n)
{
    size_t i = n > 0 && p[0] == '.' ? 1 : 0; /* "Abb.", "Fig." */
    while (i < n && p[i] == ' ')
        i++;
    if (i == n)
        return false;
    if (p[i] == ':' || p[i] == '/' || p[i] == '|' || p[i] == '(' ||
        (i + 1 < n && (unsigned char)p[i] == 0xC2 && (unsigned char)p[i + 1] == 0xA9))
        return true;
    size_t w = i;
    while (w < n && p[w] != ' ' && p[w] != ':')
        w++;
    if (w < n && p[w] == ':')
        return true;
    return (w - i == 2 && strncasecmp(p + i, "by", 2) == 0) ||
           (w - i == 3 && strncasecmp(p + i, "via", 3) == 0) ||
           (w - i >= 6 && strncasecmp(p + i, "credit", 6) == 0);
}

/* A short block that credits a picture or a source ("Foto: Ana Lima", "Bildquelle: dpa",
 * "Photo credit: ...", "© 2021 ..."): a caption's line, not the article's. */
static bool body_is_credit(const char *p, size_t n)
{
    static const char *const words[] = {
        "abb",          "abbildung",  "beitragsbild", "bild",        "bilder",
        "bildnachweis", "bildquelle", "copyright",    "credit",      "credits",
        "crédit",       "crédito",    "créditos",     "fig",         "figure",
        "foto",         "fotocredit", "fotocredits",  "fotos",       "fuente",
        "grafik",       "illustration", "image",      "images",      "photo",
        "photocredit",  "photocredits", "photos",     "quelle",      "quellen",
        "quellenangaben", "source",   "titelbild",    "titelfoto",
    };
    if (n >= BODY_CREDIT_CHARS)
        return false;
    size_t i = 0;
    while (i < n && (unsigned char)p[i] < 0x80 && !((p[i] | 32) >= 'a' && (p[i] | 32) <= 'z') &&
           !(p[i] >= '0' && p[i] <= '9'))
        i++;
    if (n - i >= 2 && (unsigned char)p[i] == 0xC2 && (unsigned char)p[i + 1] == 0xA9)
        return true; /* © */
    for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++) {
        size_t l = strlen(words[k]);
        if (i + l <= n && strncasecmp(p + i, words[k], l) == 0 &&
            (i + l == n || !(((p[i + l] | 32) >= 'a' && (p[i + l] | 32) <= 'z') ||
                             (unsigned char)p[i + l] >= 0x80)))
            return body_credit_follows(p + i + l, n - i - l);
    }
    return false;
}

/* A short block that points to other stories ("Read more", "See also:", "Mehr zum Thema",
 * "Lire aussi", "Puedes ver: <another headline>"): the label of a link box, or the link. */
static bool body_is_see_also(const char *p, size_t n)
{
    static const char *const labels[] = {
        "read more", "read also", "see also", "related", "more on this", "more from",
        "you may also like", "you might also like", "mehr zum thema", "zum weiterlesen",
        "weitere informationen", "lesen sie auch", "lesen sie dazu", "lesen sie mehr",
        "das könnte sie auch interessieren", "das könnte dich auch interessieren",
        "auch interessant", "puedes ver", "lee también", "lea también", "notas relacionadas",
        "te puede interesar", "también te puede interesar", "à lire aussi", "lire aussi",
        "a lire aussi", "leggi anche", "potrebbe interessarti", "czytaj także", "czytaj też",
        "zobacz także", "lees ook", "lees meer", "läs också", "les også",
    };
    if (n >= BODY_SEE_ALSO_CHARS)
        return false;
    size_t i = 0; /* past marks before the label: "» ", "› ", "▶ ", "- " */
    while (i < n && ((unsigned char)p[i] < 0x80 ? !((p[i] | 32) >= 'a' && (p[i] | 32) <= 'z')
                                                 : (unsigned char)p[i] == 0xC2 ||
                                                       (unsigned char)p[i] == 0xE2 ||
                                                       ((unsigned char)p[i] & 0xC0) == 0x80))
        i++;
    for (size_t k = 0; k < sizeof(labels) / sizeof(labels[0]); k++) {
        size_t l = strlen(labels[k]);
        if (i + l > n || strncasecmp(p + i, labels[k], l) != 0)
            continue;
        /* a sentence that starts with the words ("Related costs rose.") is the article's */
        size_t j = i + l;
        while (j < n && p[j] == ' ')
            j++;
        return j == n || p[j] == ':' || p[n - 1] != '.';
    }
    return false;
}

/* A notice of advertising, affiliate links, rights or liability: "Anzeige", "Werbung:", "Some
 * of the links above are affiliate links", "All rights reserved", "This material may not be
 * published, broadcast, rewritten or redistributed", "Alle Angaben ohne Gewähr". */
static bool body_is_disclosure(const char *p, const char *low, size_t n)
{
    static const char *const phrases[] = {
        "affiliate link",       "affiliate-link",          "affiliatelink",
        "enthält werbung",      "we may earn",             "earn a commission",
        "receive compensation", "references to products",  "advertisers do not",
        "subject to copyright", "all rights reserved",     "alle rechte vorbehalten",
        "tous droits réservés", "todos los derechos reservados",
        /* the terms of reprint under an agency's or a site's story, in its legal wording:
         * "may not be published" alone ends many a sentence of a report */
        "may not be published, broadcast", "may not be reproduced, distributed",
        "copyrighted property", "before reprint",          "reprinted with permission",
        "republished with permission", "reproduction interdite", "prohibida su reproducción",
        "riproduzione riservata", "nachdruck nur mit",     "angaben ohne gewähr",
    };
    static const char *const labels[] = {"anzeige", "werbung", "advertisement", "publicidad",
                                         "publicité", "pubblicità"};
    if (n >= BODY_DISCLOSURE_CHARS)
        return false;
    size_t i = 0;
    while (i < n && (unsigned char)p[i] < 0x80 && !((p[i] | 32) >= 'a' && (p[i] | 32) <= 'z'))
        i++;
    for (size_t k = 0; k < sizeof(labels) / sizeof(labels[0]); k++) {
        size_t l = strlen(labels[k]);
        if (i + l > n || strncasecmp(p + i, labels[k], l) != 0)
            continue;
        /* the label alone, or before ":", "-", "|" or "]" */
        size_t j = i + l;
        while (j < n && p[j] == ' ')
            j++;
        if (j == n || p[j] == ':' || p[j] == '-' || p[j] == '|' || p[j] == ']' ||
            (p[j] == '.' && j + 1 == n))
            return true;
    }
    if (body_has_any(low, n, phrases))
        return true;
    return false;
}

/* A call to follow the outlet on another channel, which sites drop between paragraphs as
 * often as after them: "Sign up for our newsletter", "Join our WhatsApp channel", "Síguenos
 * en Telegram", "Folgen Sie uns auf Google News". It names the channel and asks the reader,
 * in a short block; a report that someone posted on Telegram or sent a newsletter does not
 * ask. */
static bool body_is_channel_call(const char *low, size_t n)
{
    static const char *const channels[] = {"newsletter", "telegram", "whatsapp", "google news"};
    static const char *const asks[] = {
        "sign up",         "signing up",      "subscribe to",    "join our",
        "follow us",       "folgen sie uns",  "folge uns",       "abonnieren sie",
        "abonniere",       "melden sie sich", "síguenos",        "suscríbete",
        "\xc3\xbanete",    "\xc3\x9anete",    "suivez-nous",     "abonnez-vous",
        "rejoignez-nous",  "inscrivez-vous",  "seguici",         "iscriviti",
    };
    if (n >= BODY_CHANNEL_CHARS)
        return false;
    return body_has_any(low, n, channels) && body_has_any(low, n, asks);
}

/* A widget that scripts have not drawn: its block ends in the word it shows while loading
 * ("Like Loading...", "Gefällt mir Wird geladen …", "(95 votes, 4.7 of 5) Loading..."), the
 * likes, ratings and polls that blogs put under a post. */
static bool body_is_placeholder(const char *low, size_t n)
{
    /* body_lower folds ASCII only: the Polish word is listed with its capital Ł too */
    static const char *const loading[] = {
        "loading",     "wird geladen", "lädt",      "chargement", "cargando",
        "caricamento", "carregando",   "laden",     "ładowanie",  "\305\201adowanie",
        "bezig met laden",
    };
    if (n >= BODY_PLACEHOLDER_CHARS)
        return false;
    size_t e = n, dots = 0; /* past the dots, ellipses and spaces at the end */
    for (;;) {
        if (e > 0 && (low[e - 1] == '.' || low[e - 1] == ' ')) {
            dots += low[--e] == '.';
        } else if (e >= 3 && memcmp(low + e - 3, "\xE2\x80\xA6", 3) == 0) {
            e -= 3;
            dots += 3;
        } else {
            break;
        }
    }
    if (dots < 2)
        return false; /* "The app kept loading." is a sentence */
    for (size_t k = 0; k < sizeof(loading) / sizeof(loading[0]); k++) {
        size_t l = strlen(loading[k]);
        if (e >= l && memcmp(low + e - l, loading[k], l) == 0 &&
            (e == l || !((low[e - l - 1] >= 'a' && low[e - l - 1] <= 'z') ||
                         (unsigned char)low[e - l - 1] >= 0x80)))
            return true;
    }
    return false;
}

/* The comment form's prompt or its empty state: "Log in to comment", "Keine Kommentare",
 * "Para comentar debes registrarte". */
static bool body_is_comment_prompt(const char *low, size_t n)
{
    static const char *const comment[] = {"comment", "kommentar", "comentar", "commenta"};
    static const char *const prompt[] = {
        "log in",     "login",        "loggen",          "einlogg",    "eingeloggt",
        "regist",     "anmeld",       "keine",           "noch kein",  "sign in",
        "be the first", "sé el primero", "soyez le premier",
    };
    if (n >= BODY_PROMPT_CHARS)
        return false;
    return body_has_any(low, n, comment) && body_has_any(low, n, prompt);
}

/* Drops date-stamp, credit, see-also, disclosure, comment-prompt, channel-call and placeholder
 * blocks anywhere in the text. */
static void body_drop_datelines(struct body_out *o)
{
    size_t r = 0, w = 0;
    while (r < o->len) {
        const char *end = memmem(o->p + r, o->len - r, "\n\n", 2);
        size_t n = end ? (size_t)(end - (o->p + r)) : o->len - r;
        char low[BODY_DISCLOSURE_CHARS];
        bool other = false;
        if (n < BODY_DISCLOSURE_CHARS) { /* the longest of the kinds below */
            body_lower(o->p + r, n, low);
            other = body_is_dateline(o->p + r, n) || body_is_credit(o->p + r, n) ||
                    body_is_see_also(o->p + r, n) || body_is_disclosure(o->p + r, low, n) ||
                    body_is_comment_prompt(low, n) || body_is_channel_call(low, n) ||
                    body_is_placeholder(low, n);
        }
        if (!other) {
            if (w > 0) {
                memmove(o->p + w, "\n\n", 2);
                w += 2;
            }
            memmove(o->p + w, o->p + r, n);
            w += n;
        }
        r += n + (end ? 2 : 0);
    }
    o->len = w;
}

/* The smallest element that still holds most of the page's paragraph text. */
static uint32_t body_mass_container(struct html_body *b, uint32_t idx, uint32_t total_p)
{
    if (total_p == 0)
        return idx;
    for (;;) {
        uint32_t next = 0;
        for (xmlNodePtr c = b->nodes[idx - 1].node->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE || !c->_private)
                continue;
            const struct body_node *e = body_info(b, c);
            if (!(e->flags & F_DROP) && (float)e->ptext >= BODY_MASS * (float)total_p) {
                next = (uint32_t)(uintptr_t)c->_private;
                break;
            }
        }
        if (!next)
            return idx;
        idx = next;
    }
}

/* The standfirst that CMSs put beside the text rather than in it: the element just before the
 * container, named a teaser and without links (a lone one is this article's, see
 * body_is_other_teaser), is kept with it. */
static void body_keep_standfirst(struct html_body *b, uint32_t best)
{
    xmlNodePtr c = b->nodes[best - 1].node->prev;
    while (c && (c->type != XML_ELEMENT_NODE || !c->_private || body_info(b, c)->text == 0))
        c = c->prev;
    if (!c)
        return;
    struct body_node *e = body_info(b, c);
    if ((e->flags & F_TEASER) && !(e->flags & F_DROP) && e->text >= BODY_MIN_P && e->link == 0)
        e->flags |= F_KEEP;
}

/* Measures, selects and emits once; `relaxed` BODY_NO_CLASSES keeps what class names call
 * furniture (a page that is nothing but "comments" is its comments), BODY_NO_FURN_TAGS reads
 * <nav>, <aside> and <footer> as blocks. Returns the container's index + 1, 0 when
 * the page has no body, -1 on allocation failure. */
static long body_run(struct html_body *b, xmlNodePtr root, int relaxed)
{
    b->n = 0;
    b->njsonld = 0;
    b->nteasers = 0;
    b->out.len = 0;
    b->out.pending = 0;
    b->relaxed = relaxed;
    /* JSON-LD often sits in <head>: measure the whole document, select from <body>. */
    if (!body_measure(b, root, 0, 0, false))
        return -1;
    xmlNodePtr body = body_find_body(root);
    struct body_node *be = body_info(b, body);
    if (!be || (be->flags & F_DROP))
        return 0;
    uint32_t bi = (uint32_t)(uintptr_t)body->_private;
    body_select(b, bi, 0, be->text);

    /* The container: an itemprop=articleBody, else an <article> with most of the paragraphs,
     * else the best-scored block, widened when it holds too little of the page's prose. */
    uint32_t best = 0, art = 0, ab = 0, ab_sum = 0;
    for (size_t i = 0; i < b->n; i++) {
        struct body_node *e = &b->nodes[i];
        if (e->flags & F_DROP)
            continue;
        if ((e->flags & F_ARTICLEBODY) && e->ptext >= 25 && !body_in_articlebody(b, e)) {
            ab_sum += e->ptext;
            if (!ab || e->ptext > b->nodes[ab - 1].ptext)
                ab = (uint32_t)i + 1;
        }
        if (e->kind == K_ARTICLE && (!art || e->ptext > b->nodes[art - 1].ptext))
            art = (uint32_t)i + 1;
    }
    uint32_t total_p = be->ptext;
    if (ab && ab_sum >= 100 && (float)ab_sum >= BODY_AB_SHARE * (float)total_p) {
        /* an article split into several articleBody blocks keeps them all */
        for (size_t i = 0; i < b->n; i++) {
            struct body_node *e = &b->nodes[i];
            if (!(e->flags & F_DROP) && (e->flags & F_ARTICLEBODY) && e->ptext >= 25 &&
                !body_in_articlebody(b, e))
                e->flags |= F_KEEP;
        }
        best = ab;
    } else if (art && b->nodes[art - 1].ptext >= 100 &&
               (float)b->nodes[art - 1].ptext >= BODY_ART_SHARE * (float)total_p) {
        best = art;
        b->nodes[best - 1].flags |= F_KEEP;
    } else {
        best = body_top_candidate(b);
        uint32_t mass = body_mass_container(b, bi, total_p);
        if (!best || (!body_is_inside(b, best, mass) && !body_is_inside(b, mass, best)) ||
            (body_is_inside(b, best, mass) &&
             (float)b->nodes[best - 1].ptext < BODY_WIDEN * (float)b->nodes[mass - 1].ptext))
            best = mass, b->nodes[mass - 1].flags |= F_KEEP;
        else
            body_mark_siblings(b, best);
    }

    if (best != bi)
        body_keep_standfirst(b, best);
    if (best != bi) {
        uint32_t h1 = body_title_before(b, best);
        if (h1) {
            if (body_emit(b, b->nodes[h1 - 1].node, 0) < 0)
                return -1;
            body_break(&b->out, 3);
            if (h1 < best && !body_is_inside(b, h1, best) && body_emit_lead(b, h1, best) < 0)
                return -1;
        }
    }
    if (best == bi) {
        if (body_emit(b, body, 0) < 0)
            return -1;
    } else if (body_emit_kept(b, body, 0) < 0) {
        return -1;
    }
    return (long)best;
}

int html_body_extract(struct html_body *b, htmlDocPtr doc, bool use_json_ld, const char **text_out,
                      size_t *len_out)
{
    *text_out = "";
    *len_out = 0;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!root)
        return 0;
    long best = body_run(b, root, 0);
    if (best < 0)
        return -1;
    /* Next to nothing outside what class names call furniture: take that too. Still next to
     * nothing: a <nav>, <aside> or <footer> holds the page, misused as a wrapper or swallowing
     * the rest of the page when its end tag is missing; read them as plain blocks (the link
     * density rules still drop the menus inside). Still nothing: the article sits in an
     * element hidden until scripts show it, or one whose end tag is lost swallowed it (a
     * hidden pop-up that holds the rest of the page); read hidden elements too. The pass that
     * gives the most text wins. */
    static const int levels[] = {BODY_NO_CLASSES, BODY_NO_FURN_TAGS,
                                 BODY_NO_CLASSES | BODY_NO_FURN_TAGS,
                                 BODY_NO_CLASSES | BODY_NO_FURN_TAGS | BODY_NO_HIDDEN};
    int kept = 0, last = 0;
    size_t kept_len = b->out.len;
    for (size_t k = 0; k < sizeof(levels) / sizeof(levels[0]) && best > 0 &&
                       kept_len < BODY_RELAX_BELOW;
         k++) {
        int level = levels[k];
        best = body_run(b, root, level);
        if (best < 0)
            return -1;
        last = level;
        if (b->out.len > kept_len)
            kept = level, kept_len = b->out.len;
    }
    if (last != kept && body_run(b, root, kept) < 0)
        return -1;
    body_drop_datelines(&b->out);
    body_drop_prompts(&b->out);
    body_trim_tail(&b->out);
    if (use_json_ld && b->njsonld > 0) {
        if (body_reserve(&b->out, 1) < 0)
            return -1;
        b->out.p[b->out.len] = '\0';
        if (body_try_json_ld(b, body_chars(b->out.p)) < 0)
            return -1;
    }
    if (body_reserve(&b->out, 1) < 0)
        return -1;
    b->out.p[b->out.len] = '\0';
    *text_out = b->out.p;
    *len_out = b->out.len;
    return 0;
}
