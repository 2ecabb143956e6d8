/* Charset decoding for clean_html. Bytes that are valid UTF-8 with non-ASCII text are taken as
 * UTF-8 whatever the page declares (a real windows-1252 or Shift_JIS page is almost never valid
 * UTF-8 by chance); otherwise the HTTP header, the BOM, a <meta> or XML declaration in the first
 * 8 KB, then uchardet decide, with browsers' aliases (iso-8859-1 and us-ascii are windows-1252).
 * It never guesses a language and never parses more than the head of the page. */
#include "charset.h"

#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uchardet/uchardet.h>

#define CHARSET_PRESCAN 8192 /* bytes searched for a declaration */
#define CHARSET_DETECT 65536 /* bytes fed to the detector */
#define CHARSET_NAME 48

struct html_charset {
    uchardet_t detector;
    iconv_t cd; /* converter for `cd_name`, (iconv_t)-1 when none */
    char cd_name[CHARSET_NAME];
    iconv_t cd_1252; /* for stray bytes in mostly-UTF-8 pages */
    char *buf;
    size_t cap;
    char name[CHARSET_NAME]; /* the charset applied last */
};

struct html_charset *html_charset_new(void)
{
    struct html_charset *cs = calloc(1, sizeof(*cs));
    if (!cs)
        return NULL;
    cs->cd = (iconv_t)-1;
    cs->cd_1252 = iconv_open("UTF-8", "WINDOWS-1252");
    cs->detector = uchardet_new();
    if (cs->cd_1252 == (iconv_t)-1 || !cs->detector) {
        html_charset_free(cs);
        return NULL;
    }
    return cs;
}

void html_charset_free(struct html_charset *cs)
{
    if (!cs)
        return;
    if (cs->cd != (iconv_t)-1)
        iconv_close(cs->cd);
    if (cs->cd_1252 != (iconv_t)-1)
        iconv_close(cs->cd_1252);
    if (cs->detector)
        uchardet_delete(cs->detector);
    free(cs->buf);
    free(cs);
}

/* Browsers' names for what a label means (WHATWG Encoding): the labels pages use most whose
 * literal meaning differs from what the page really is, mapped to names glibc's iconv knows. */
static const struct {
    const char *label, *name;
} charset_aliases[] = {
    /* clang-format off */
    {"iso-8859-1", "windows-1252"}, {"iso8859-1", "windows-1252"}, {"iso_8859-1", "windows-1252"},
    {"latin1", "windows-1252"},     {"latin-1", "windows-1252"},   {"l1", "windows-1252"},
    {"cp819", "windows-1252"},      {"ibm819", "windows-1252"},    {"us-ascii", "windows-1252"},
    {"ascii", "windows-1252"},      {"iso-ir-100", "windows-1252"}, {"cp1252", "windows-1252"},
    {"x-cp1252", "windows-1252"},   {"iso_8859-1:1987", "windows-1252"},
    {"iso-8859-9", "windows-1254"}, {"latin5", "windows-1254"},    {"iso8859-9", "windows-1254"},
    {"tis-620", "windows-874"},     {"iso-8859-11", "windows-874"},
    {"utf8", "utf-8"},              {"unicode-1-1-utf-8", "utf-8"},
    {"gb2312", "gb18030"},          {"gbk", "gb18030"},            {"x-gbk", "gb18030"},
    {"cp936", "gb18030"},           {"csgb2312", "gb18030"},       {"chinese", "gb18030"},
    {"euc-kr", "cp949"},            {"ks_c_5601-1987", "cp949"},   {"korean", "cp949"},
    {"shift_jis", "cp932"},         {"shift-jis", "cp932"},        {"sjis", "cp932"},
    {"x-sjis", "cp932"},            {"ms_kanji", "cp932"},         {"windows-31j", "cp932"},
    {"big5", "big5-hkscs"},         {"iso-8859-8-i", "iso-8859-8"}, {"x-mac-roman", "macintosh"},
    /* clang-format on */
};

/* Lowercases and maps a label into out; false when it is empty or too long. */
static bool charset_normalise(const char *s, size_t n, char *out, size_t outlen)
{
    while (n && (*s == ' ' || *s == '"' || *s == '\''))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '"' || s[n - 1] == '\''))
        n--;
    if (n == 0 || n >= outlen || n >= CHARSET_NAME)
        return false;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
    out[n] = '\0';
    for (size_t i = 0; i < sizeof(charset_aliases) / sizeof(charset_aliases[0]); i++)
        if (strcmp(out, charset_aliases[i].label) == 0) {
            strcpy(out, charset_aliases[i].name);
            break;
        }
    return true;
}

static bool charset_is_token(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == ':';
}

/* The value after `key` [spaces] '=' [spaces] [quote] within p[0..n). */
static bool charset_value_after(const char *p, size_t n, const char *key, char *out, size_t outlen)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl <= n; i++) {
        if (strncasecmp(p + i, key, kl) != 0)
            continue;
        size_t j = i + kl;
        while (j < n && (p[j] == ' ' || p[j] == '\t' || p[j] == '\n' || p[j] == '\r'))
            j++;
        if (j >= n || p[j] != '=')
            continue;
        j++;
        while (j < n && (p[j] == ' ' || p[j] == '"' || p[j] == '\'' || p[j] == '\t'))
            j++;
        size_t start = j;
        while (j < n && charset_is_token(p[j]))
            j++;
        if (j > start && charset_normalise(p + start, j - start, out, outlen))
            return true;
    }
    return false;
}

int html_charset_from_content_type(const char *value, size_t n, char *out, size_t outlen)
{
    return value && charset_value_after(value, n, "charset", out, outlen) ? 0 : -1;
}

/* A charset declared in the head: <meta charset>, <meta http-equiv content="...charset=">, or
 * an XML declaration. A meta that names UTF-16 in a byte stream is wrong by definition (HTML
 * says to read it as UTF-8). */
static bool charset_prescan(const char *p, size_t n, char *out, size_t outlen)
{
    if (n > CHARSET_PRESCAN)
        n = CHARSET_PRESCAN;
    if (n > 5 && memcmp(p, "<?xml", 5) == 0) {
        const char *end = memchr(p, '>', n);
        if (end && charset_value_after(p, (size_t)(end - p), "encoding", out, outlen))
            return true;
    }
    for (const char *q = p; (q = memchr(q, '<', n - (size_t)(q - p))) != NULL; q++) {
        size_t left = n - (size_t)(q - p);
        if (left > 4 && q[1] == '!' && q[2] == '-' && q[3] == '-') { /* skip comments */
            const char *end = memmem(q + 4, left - 4, "-->", 3);
            if (!end)
                return false;
            q = end + 2;
            continue;
        }
        if (left < 6 || strncasecmp(q + 1, "meta", 4) != 0 || charset_is_token(q[5]))
            continue;
        const char *end = memchr(q, '>', left);
        size_t tag = end ? (size_t)(end - q) : left;
        if (charset_value_after(q, tag, "charset", out, outlen)) {
            if (strncmp(out, "utf-16", 6) == 0 || strcmp(out, "unicode") == 0)
                strcpy(out, "utf-8");
            return true;
        }
    }
    return false;
}

/* True when p[0..n) is valid UTF-8; *non_ascii_out says whether it has any byte >= 0x80. */
static bool charset_valid_utf8(const uint8_t *p, size_t n, bool *non_ascii_out)
{
    bool non_ascii = false;
    size_t i = 0;
    while (i < n) {
        /* Pages are mostly ASCII markup: eight bytes at a time while none has its high bit. */
        uint64_t w;
        if (i + 8 <= n && (memcpy(&w, p + i, 8), (w & UINT64_C(0x8080808080808080)) == 0)) {
            i += 8;
            continue;
        }
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        non_ascii = true;
        uint8_t c = p[i];
        size_t k;
        uint32_t min;
        if (c >= 0xC2 && c <= 0xDF)
            k = 1, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF)
            k = 2, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4)
            k = 3, min = 0x10000;
        else
            return false;
        uint32_t cp = c & (0x3F >> k);
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (p[i + j] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += k + 1;
    }
    *non_ascii_out = non_ascii;
    return true;
}

static int charset_reserve(struct html_charset *cs, size_t need)
{
    if (need <= cs->cap)
        return 0;
    size_t cap = cs->cap ? cs->cap : 65536;
    while (cap < need)
        cap *= 2;
    char *p = realloc(cs->buf, cap);
    if (!p)
        return -1;
    cs->buf = p;
    cs->cap = cap;
    return 0;
}

/* Runs `cd` over in[0..n) into cs->buf from offset `at`; bytes it cannot convert become U+FFFD.
 * Returns the end offset, or -1 on allocation failure. */
static long charset_iconv(struct html_charset *cs, iconv_t cd, const char *in, size_t n, size_t at)
{
    iconv(cd, NULL, NULL, NULL, NULL);
    if (charset_reserve(cs, at + n * 2 + 16) < 0)
        return -1;
    char *ip = (char *)in;
    size_t il = n;
    while (il > 0) {
        char *op = cs->buf + at;
        size_t ol = cs->cap - at - 4;
        size_t r = iconv(cd, &ip, &il, &op, &ol);
        at = (size_t)(op - cs->buf);
        if (r != (size_t)-1)
            break;
        if (errno == E2BIG) {
            if (charset_reserve(cs, cs->cap * 2) < 0)
                return -1;
        } else if (errno == EILSEQ) {
            memcpy(cs->buf + at, "\xEF\xBF\xBD", 3);
            at += 3;
            ip++, il--;
            iconv(cd, NULL, NULL, NULL, NULL);
        } else { /* EINVAL: a sequence cut off at the end */
            break;
        }
    }
    return (long)at;
}

/* Mostly UTF-8 with stray bytes (a windows-1252 quote pasted into a UTF-8 page): keeps every
 * valid sequence and reads each stray byte as windows-1252. */
static long charset_repair_utf8(struct html_charset *cs, const uint8_t *p, size_t n)
{
    if (charset_reserve(cs, n * 3 + 16) < 0)
        return -1;
    size_t at = 0, i = 0;
    while (i < n) {
        size_t start = i;
        while (i < n) {
            bool dummy;
            if (p[i] < 0x80) {
                i++;
                continue;
            }
            size_t k = p[i] >= 0xF0 ? 4 : p[i] >= 0xE0 ? 3 : 2;
            if (i + k <= n && charset_valid_utf8(p + i, k, &dummy))
                i += k;
            else
                break;
        }
        memcpy(cs->buf + at, p + start, i - start);
        at += i - start;
        if (i < n) {
            long end = charset_iconv(cs, cs->cd_1252, (const char *)p + i, 1, at);
            if (end < 0)
                return -1;
            at = (size_t)end;
            if (charset_reserve(cs, at + (n - i) * 3 + 16) < 0)
                return -1;
            i++;
        }
    }
    return (long)at;
}

static iconv_t charset_converter(struct html_charset *cs, const char *name)
{
    if (cs->cd != (iconv_t)-1 && strcmp(cs->cd_name, name) == 0)
        return cs->cd;
    if (cs->cd != (iconv_t)-1)
        iconv_close(cs->cd);
    cs->cd = iconv_open("UTF-8", name);
    if (cs->cd == (iconv_t)-1)
        cs->cd_name[0] = '\0';
    else
        snprintf(cs->cd_name, sizeof(cs->cd_name), "%s", name);
    return cs->cd;
}

/* libxml2 stops at a NUL byte: the converted text must not have one. */
static size_t charset_drop_nul(char *p, size_t n)
{
    char *w = memchr(p, '\0', n);
    if (!w)
        return n;
    for (const char *r = w; r < p + n; r++)
        if (*r)
            *w++ = *r;
    return (size_t)(w - p);
}

const char *html_charset_to_utf8(struct html_charset *cs, const char *http_content_type,
                                 const uint8_t *raw, size_t n, size_t *len_out,
                                 const char **charset_out)
{
    char name[CHARSET_NAME] = "";
    const char *in = (const char *)raw;
    size_t skip = 0;
    bool have = false;

    /* A BOM outranks everything, the HTTP header too (WHATWG "decode"). */
    if (n >= 3 && memcmp(raw, "\xEF\xBB\xBF", 3) == 0) {
        skip = 3;
        strcpy(name, "utf-8");
        have = true;
    } else if (n >= 2 && raw[0] == 0xFF && raw[1] == 0xFE) {
        skip = 2;
        strcpy(name, "utf-16le");
        have = true;
    } else if (n >= 2 && raw[0] == 0xFE && raw[1] == 0xFF) {
        skip = 2;
        strcpy(name, "utf-16be");
        have = true;
    }
    in += skip;
    n -= skip;

    bool non_ascii = false;
    bool valid = !(have && strncmp(name, "utf-16", 6) == 0) &&
                 charset_valid_utf8((const uint8_t *)in, n, &non_ascii);
    if (!have && http_content_type)
        have = html_charset_from_content_type(http_content_type, strlen(http_content_type), name,
                                              sizeof(name)) == 0;
    if (!have)
        have = charset_prescan(in, n, name, sizeof(name));
    /* Valid UTF-8 is UTF-8 (a page that says otherwise is mislabelled), and pure ASCII reads the
     * same in every charset a page may declare, except the 7-bit ISO-2022 family. */
    if (valid && (non_ascii || !have || strncmp(name, "iso-2022", 8) != 0)) {
        snprintf(cs->name, sizeof(cs->name), "%s", non_ascii || !have ? "utf-8" : name);
        *charset_out = cs->name;
        if (memchr(in, '\0', n) == NULL) {
            *len_out = n;
            return in;
        }
        if (charset_reserve(cs, n + 1) < 0)
            return NULL;
        memcpy(cs->buf, in, n);
        *len_out = charset_drop_nul(cs->buf, n);
        return cs->buf;
    }
    if (!have || charset_converter(cs, name) == (iconv_t)-1) {
        uchardet_reset(cs->detector);
        uchardet_handle_data(cs->detector, in, n < CHARSET_DETECT ? n : CHARSET_DETECT);
        uchardet_data_end(cs->detector);
        const char *guess = uchardet_get_charset(cs->detector);
        if (!guess || !*guess || !charset_normalise(guess, strlen(guess), name, sizeof(name)))
            strcpy(name, "windows-1252");
        if (strcmp(name, "utf-8") != 0 && charset_converter(cs, name) == (iconv_t)-1)
            strcpy(name, "windows-1252");
    }
    long end;
    if (strcmp(name, "utf-8") == 0)
        end = charset_repair_utf8(cs, (const uint8_t *)in, n);
    else if (strcmp(name, "windows-1252") == 0)
        end = charset_iconv(cs, cs->cd_1252, in, n, 0);
    else
        end = charset_iconv(cs, charset_converter(cs, name), in, n, 0);
    if (end < 0)
        return NULL;
    snprintf(cs->name, sizeof(cs->name), "%s", name);
    *charset_out = cs->name;
    *len_out = charset_drop_nul(cs->buf, (size_t)end);
    return cs->buf;
}
