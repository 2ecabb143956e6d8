/* The article body of a parsed page: finds the container of the main text and writes its text
 * as blocks separated by blank lines. It changes the document's node scratch pointers (_private)
 * and must run after everything else that reads the document. No Unicode normalisation here. */
#ifndef CLEAN_HTML_BODY_H
#define CLEAN_HTML_BODY_H

#include <libxml/HTMLparser.h>
#include <stdbool.h>
#include <stddef.h>

struct html_body;

/* NULL on allocation failure. */
struct html_body *html_body_new(void);
void html_body_free(struct html_body *b);

/* Extracts the main text of `doc`. With `use_json_ld`, a JSON-LD articleBody that holds about
 * as much text as the page's own container is taken instead. On success returns 0 and sets
 * *text_out to UTF-8 owned by `b` (valid until the next call; may be empty), *len_out to its
 * length. -1 on allocation failure. */
int html_body_extract(struct html_body *b, htmlDocPtr doc, bool use_json_ld, const char **text_out,
                      size_t *len_out);

#endif
