/* Text that Unicode normalisation (NFC) leaves as it is, known without running it: the plugin
 * stores its text NFC-normalised with utf8proc, and most pages' text is in the scripts and
 * punctuation below. Shared by clean_html.c and its test, which checks every character and
 * every pair of them against utf8proc. */
#ifndef CLEAN_HTML_NFC_H
#define CLEAN_HTML_NFC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The characters NFC never changes, alone or next to one another: each is its own NFC, has
 * combining class 0 and never composes with the character before it. Everything below U+0300
 * (the combining marks begin there); the dashes, quotes, bullets and ellipsis of general
 * punctuation, without the spaces and format characters before them (NFC replaces two of the
 * spaces); the euro sign. */
static const uint32_t html_nfc_inert[][2] = {
    {0x0000, 0x02FF},
    {0x2010, 0x2027},
    {0x2030, 0x205E},
    {0x20AC, 0x20AC},
};

static inline bool html_nfc_inert_char(uint32_t c)
{
    for (size_t i = 0; i < sizeof(html_nfc_inert) / sizeof(html_nfc_inert[0]); i++)
        if (c >= html_nfc_inert[i][0] && c <= html_nfc_inert[i][1])
            return true;
    return false;
}

/* Whether the valid UTF-8 s[0..n) is made of those characters only, so that it is in NFC. */
static inline bool html_nfc_inert_text(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        if (p[0] < 0x80) {
            p++;
        } else if (p[0] < 0xCC) { /* two bytes, below U+0300 */
            p += 2;
        } else if (p[0] == 0xE2 && end - p >= 3) {
            uint32_t c = 0x2000 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
            if (!html_nfc_inert_char(c))
                return false;
            p += 3;
        } else {
            return false;
        }
    }
    return true;
}

#endif
