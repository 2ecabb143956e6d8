/* How clean_html parses a page with libxml2, shared by the plugin and the fuzzer of its readers
 * (tests/fuzz/fuzz_html.c, which compiles the readers without the plugin's descriptor): the
 * options and the one entry. libxml2 stays the parser; this only says how it is called. */
#ifndef CLEAN_HTML_PARSE_H
#define CLEAN_HTML_PARSE_H

#include <libxml/HTMLparser.h>
#include <libxml/parserInternals.h>

#define CLEAN_HTML_PARSE_OPTS                                                                      \
    (HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |           \
     HTML_PARSE_COMPACT | HTML_PARSE_IGNORE_ENC | HTML_PARSE_NODEFDTD)

/* Parses len bytes of valid UTF-8 (what charset.c hands over) with a context kept across pages:
 * what htmlCtxtReadMemory does, less three costs that buy nothing here. Declaring the input
 * UTF-8 sets no converter, where the "UTF-8" encoding argument copies the whole page through
 * one; no table of the page's id attributes is built (nothing looks elements up by id); no
 * default DTD node is added. Returns the document (the caller frees it) or NULL. */
static inline htmlDocPtr html_parse_utf8(htmlParserCtxtPtr ctxt, const char *utf8, int len)
{
    htmlCtxtReset(ctxt);
    xmlParserInputBufferPtr buf = xmlParserInputBufferCreateMem(utf8, len, XML_CHAR_ENCODING_UTF8);
    if (!buf)
        return NULL;
    xmlParserInputPtr in = xmlNewIOInputStream(ctxt, buf, XML_CHAR_ENCODING_UTF8);
    if (!in) {
        xmlFreeParserInputBuffer(buf);
        return NULL;
    }
    /* The reset emptied the stack, so the push needs no room; libxml2 versions differ on whether
     * a failed push frees the stream, so it is left to them. */
    if (inputPush(ctxt, in) < 0)
        return NULL;
    htmlCtxtUseOptions(ctxt, CLEAN_HTML_PARSE_OPTS);
    ctxt->html = 1;
    ctxt->loadsubset |= XML_SKIP_IDS;
    htmlParseDocument(ctxt);
    htmlDocPtr doc = ctxt->myDoc;
    ctxt->myDoc = NULL;
    return doc;
}

#endif
