/* Article metadata from HTML: not written yet; extracts nothing. */
#include "meta.h"

#include <stdlib.h>

struct html_meta {
    int unused;
};

struct html_meta *html_meta_new(char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    return calloc(1, sizeof(struct html_meta));
}

void html_meta_free(struct html_meta *m)
{
    free(m);
}

int html_meta_extract(struct html_meta *m, htmlDocPtr doc, const char *source_uri,
                      struct nf_record *rec)
{
    (void)m;
    (void)doc;
    (void)source_uri;
    (void)rec;
    return 0;
}
