/* libFuzzer target for fetch_feed's reader (plugins/fetch_feed/feed_parse.c): arbitrary bytes
 * as a feed document fetched from a fixed base URL, with or without a charset from the server
 * and with or without the items' content kept. Whatever the bytes, the reader returns 0 with
 * well-formed items (every item has a key; links are http(s); dates are ISO 8601) or -1 with a
 * reason, and frees everything (LeakSanitizer). The same bytes also go through the date, URL
 * and page-outlet helpers. Input: byte 0 picks the options, the rest is the document. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed_parse.h"

#define FUZZ_NAME "fuzz_feed"
#include "fuzz_check.h"

static void check_iso(const char *d)
{
    size_t n = strlen(d);
    CHECK(n == 10 || n >= 19, "date %s", d);
    for (size_t i = 0; i < 10; i++)
        CHECK(i == 4 || i == 7 ? d[i] == '-' : d[i] >= '0' && d[i] <= '9', "date %s", d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t opt = data[0];
    const char *body = (const char *)data + 1;
    size_t n = size - 1;
    static const char *const charsets[] = {NULL, "utf-8", "iso-8859-1", "windows-1251", "bogus"};
    struct feed_doc doc = {0};
    char err[256];
    int rc = feed_parse(body, n, "https://news.example.org/world/feed.xml", charsets[opt % 5],
                        (opt & 0x80) != 0, &doc, err, sizeof(err));
    if (rc < 0) {
        CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0], "no reason given");
    } else {
        CHECK(doc.kind != NULL, "no kind");
        for (size_t i = 0; i < doc.n_items; i++) {
            const struct feed_item *it = doc.items[i];
            CHECK(it && it->key && it->key[0], "item %zu has no key", i);
            if (it->link)
                CHECK(strncmp(it->link, "http://", 7) == 0 || strncmp(it->link, "https://", 8) == 0,
                      "link %s", it->link);
            if (it->published)
                check_iso(it->published);
            if (it->content)
                CHECK(strlen(it->content) <= it->content_len, "content length");
        }
    }
    feed_doc_clear(&doc);

    /* the helpers, on a NUL-terminated copy of (at most 512 bytes of) the input */
    char text[513];
    size_t k = n < 512 ? n : 512;
    memcpy(text, body, k);
    text[k] = '\0';
    char iso[64];
    if (feed_date_iso(text, iso, sizeof(iso)) == 0)
        check_iso(iso);
    char *u = feed_url_canon("https://news.example.org/a/b?c=d", text);
    if (u) {
        CHECK(strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0, "url %s", u);
        char host[256];
        CHECK(feed_url_host(u, host, sizeof(host)) == 0 || strlen(u) > 200, "no host in %s", u);
        free(u);
    }
    (void)feed_page_names_site(body, n);
    return 0;
}
