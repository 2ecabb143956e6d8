/* Feed documents to items: RSS 2.0 (and 0.9x), RSS 1.0 (RDF), Atom 1.0 (and 0.3) read with
 * libxml2, JSON Feed read with jansson. Also the URL and date rules the items follow: links are
 * made absolute and canonical (libcurl's URL parser), dates ISO 8601 UTC. Nothing here does
 * I/O; the plugin fetches, this module only reads bytes it is given. */
#ifndef FETCH_FEED_PARSE_H
#define FETCH_FEED_PARSE_H

#include <stdbool.h>
#include <stddef.h>

/* One item of a feed. One allocation: the strings follow the struct. Any string may be NULL
 * except key. */
struct feed_item {
    const char *link;      /* the article page: absolute, canonical http(s) URL */
    const char *key;       /* identity within the feed: link, else guid, else a content hash */
    const char *title;     /* plain text, spaces collapsed */
    const char *published; /* ISO 8601: YYYY-MM-DDTHH:MM:SSZ, or a date alone */
    const char *author;    /* names as the feed prints them, several joined with ", " */
    const char *content;   /* the feed's own content or summary; kept only when asked */
    size_t content_len;
    bool content_html; /* content is HTML (else plain text) */
};

struct feed_doc {
    char *title;      /* the feed's title, or NULL */
    const char *kind; /* "rss", "rdf", "atom" or "json": static */
    struct feed_item **items;
    size_t n_items, cap_items;
};

/* Reads a feed document of `n` bytes fetched from `base_url` (relative links are resolved
 * against it, or against xml:base where the feed sets one). `http_charset` (may be NULL) is the
 * charset the server's Content-Type names: used only when the document declares none itself
 * (no byte order mark, no encoding in its XML declaration), since servers often name a wrong
 * one. `keep_content`: keep every item's content; items without a link keep theirs anyway.
 * Returns 0, or -1 with the reason in err ("not a feed: ..." or out of memory). A broken
 * document is read as far as it goes (libxml2's recover mode). Clear `out` with
 * feed_doc_clear, also after a failure. */
int feed_parse(const char *body, size_t n, const char *base_url, const char *http_charset,
               bool keep_content, struct feed_doc *out, char *err, size_t errn);
void feed_doc_clear(struct feed_doc *doc);

/* A feed's date (RFC 822 with named zones or numeric offsets, ISO 8601 / RFC 3339) as ISO 8601
 * UTC: "YYYY-MM-DDTHH:MM:SSZ", or "YYYY-MM-DD" for a date alone, or a date-time without a
 * zone as given. Returns 0, or -1 when it cannot be read (nothing is guessed). */
int feed_date_iso(const char *in, char *out, size_t n);

/* `ref` made absolute against `base` (may be NULL) and canonical: http or https only, host in
 * lower case, no default port, no fragment, no utm_* tracking parameters. Returns a string the
 * caller frees, or NULL when it is not an http(s) URL (or out of memory). */
char *feed_url_canon(const char *base, const char *ref);

/* Whether a fetched page names its site the way clean_html reads it (og:site_name, a JSON-LD
 * publisher's name, application-name): then the feed's title is not needed as the outlet. */
bool feed_page_names_site(const char *body, size_t n);

/* The host of an http(s) URL in lower case into out; -1 when there is none. */
int feed_url_host(const char *url, char *out, size_t n);

#endif
