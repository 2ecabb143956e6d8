/* Charset decoding for clean_html: finds a page's encoding the way browsers do (HTTP header, BOM,
 * <meta> in the first bytes, then detection) and hands back valid UTF-8 for the parser. It does
 * not parse HTML. One html_charset per worker: it keeps the detector, converters and buffers. */
#ifndef CLEAN_HTML_CHARSET_H
#define CLEAN_HTML_CHARSET_H

#include <stddef.h>
#include <stdint.h>

struct html_charset;

/* NULL on allocation failure. */
struct html_charset *html_charset_new(void);
void html_charset_free(struct html_charset *cs);

/* Decodes `raw` to UTF-8. `http_content_type` is the Content-Type header the page was served
 * with, or NULL. Returns the UTF-8 bytes (raw itself when it already was valid UTF-8, else a
 * buffer owned by `cs`, valid until the next call) and sets *len_out and *charset_out (a static
 * or cs-owned name of the charset that was applied). NULL on allocation failure. */
const char *html_charset_to_utf8(struct html_charset *cs, const char *http_content_type,
                                 const uint8_t *raw, size_t n, size_t *len_out,
                                 const char **charset_out);

/* The charset declared in a Content-Type value or a <meta> tag's content ("text/html;
 * charset=x"), normalised into out (lowercase, with browsers' aliases applied). 0, or -1 when
 * there is none. Exposed for the header hook and the tests. */
int html_charset_from_content_type(const char *value, size_t n, char *out, size_t outlen);

#endif
