/* Article metadata from a parsed HTML page: title, publication date, byline, outlet, canonical
 * URL and the page's declared language. Reads the document; never changes it. */
#ifndef CLEAN_HTML_META_H
#define CLEAN_HTML_META_H

#include <libxml/HTMLparser.h>
#include <stddef.h>

#include "newsflow/record.h"

struct html_meta;

/* Compiles what the extractor needs once per worker. NULL with the reason in err. */
struct html_meta *html_meta_new(char *err, size_t errlen);
void html_meta_free(struct html_meta *m);

/* Fills title, published_at (ISO 8601), byline, outlet, url and lang in `rec`, each only when
 * the record does not have it yet. `source_uri` may be NULL. Returns 0, or -1 on allocation
 * failure. */
int html_meta_extract(struct html_meta *m, htmlDocPtr doc, const char *source_uri,
                      struct nf_record *rec);

#endif
