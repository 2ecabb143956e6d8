/* libFuzzer target for clean_html's readers (plugins/clean_html/: charset.c, meta.c,
 * meta_date.c, body.c): arbitrary bytes as a web page served with or without a Content-Type
 * charset, decoded, parsed by libxml2 as the plugin parses it, its metadata read into a record
 * and its main text extracted. Whatever the bytes: valid UTF-8 out of the decoder and out of the
 * extractor, UTF-8 in every record field the metadata reader sets, nothing leaked
 * (LeakSanitizer). Input: byte 0 picks the Content-Type and whether JSON-LD is used, the rest
 * is the page. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/HTMLparser.h>

#include "body.h"
#include "charset.h"
#include "meta.h"
#include "parse.h"
#include "fuzz_utf8.h"
#include "newsflow/record.h"

#define FUZZ_NAME "fuzz_html"
#include "fuzz_check.h"

static struct html_charset *cs;
static struct html_body *body;
static struct html_meta *meta;
static htmlParserCtxtPtr parser;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!cs) {
        char err[256];
        cs = html_charset_new();
        body = html_body_new();
        meta = html_meta_new(err, sizeof(err));
        parser = htmlNewParserCtxt();
        CHECK(cs && body && meta && parser, "set-up: %s", err);
    }
    static const char *const types[] = {NULL, "text/html; charset=utf-8",
                                        "text/html; charset=iso-8859-1",
                                        "text/html; charset=shift_jis", "text/html; charset=x-bogus"};
    uint8_t opt = data[0];
    size_t len = 0;
    const char *charset = NULL;
    const char *utf8 = html_charset_to_utf8(cs, types[opt % 5], data + 1, size - 1, &len, &charset);
    CHECK(utf8 != NULL, "decoder failed");
    CHECK(fuzz_valid_utf8(utf8, len), "decoder gave invalid UTF-8 (%s)", charset ? charset : "?");
    if (len > INT32_MAX)
        return 0;
    htmlDocPtr doc = html_parse_utf8(parser, utf8, (int)len); /* as clean_html.c parses */
    if (!doc)
        return 0;
    struct nf_record *rec = nf_record_new();
    CHECK(rec != NULL, "out of memory");
    CHECK(html_meta_extract(meta, doc, "https://news.example.org/2023/11/06/sahel-pact.html",
                            rec) == 0,
          "meta failed");
    const char *text = NULL;
    size_t tn = 0;
    CHECK(html_body_extract(body, doc, (opt & 0x80) != 0, &text, &tn) == 0, "body failed");
    CHECK(text != NULL && fuzz_valid_utf8(text, tn), "body gave invalid UTF-8");
    xmlFreeDoc(doc);
    static const enum nf_field fields[] = {NF_F_TITLE, NF_F_PUBLISHED_AT, NF_F_BYLINE,
                                           NF_F_OUTLET, NF_F_URL, NF_F_LANG};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        size_t n;
        const char *v = nf_record_str(rec, fields[i], &n);
        if (v && !fuzz_valid_utf8(v, n)) {
            fprintf(stderr, "fuzz_html: field %zu (%zu bytes) is not UTF-8, its end:", i, n);
            for (size_t j = n > 60 ? n - 60 : 0; j < n; j++)
                fprintf(stderr, (unsigned char)v[j] < 0x80 && v[j] >= 0x20 ? "%c" : "\\x%02x",
                        (unsigned char)v[j]);
            fputc('\n', stderr);
            abort();
        }
    }
    nf_record_destroy(&rec);
    return 0;
}
