/* Date strings as news pages write them: ISO 8601 in attributes, and in running text the numeric
 * forms (31.05.2019, 5/31/2019, 2019-05-31, 2019年5月31日) and month names in English, German,
 * French, Spanish, Portuguese, Italian, Dutch, the Nordic languages, Polish, Turkish and Russian.
 * A hand-written scanner rather than regular expressions: it runs on every page, in one pass. */
#include "meta_date.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

struct md_month {
    const char *name; /* lowercase UTF-8 */
    int month;
};

/* Full names and the abbreviations used in datelines; a name shared by two languages is listed
 * once. "mar", "set", "out", "ago" only count when a day and a year stand around them. */
static const struct md_month md_months[] = {
    {"january", 1}, {"jan", 1}, {"januar", 1}, {"jänner", 1}, {"janvier", 1}, {"janv", 1},
    {"enero", 1}, {"ene", 1}, {"janeiro", 1}, {"gennaio", 1}, {"gen", 1}, {"januari", 1},
    {"stycznia", 1}, {"ocak", 1}, {"января", 1}, {"styczeń", 1},
    {"february", 2}, {"feb", 2}, {"februar", 2}, {"février", 2}, {"fevrier", 2}, {"févr", 2},
    {"fevr", 2}, {"fév", 2}, {"febrero", 2}, {"fevereiro", 2}, {"fev", 2}, {"febbraio", 2},
    {"februari", 2}, {"lutego", 2}, {"şubat", 2}, {"февраля", 2},
    {"march", 3}, {"mar", 3}, {"märz", 3}, {"mär", 3}, {"maerz", 3}, {"mars", 3}, {"marzo", 3},
    {"março", 3}, {"marco", 3}, {"maart", 3}, {"mrt", 3}, {"marca", 3}, {"mart", 3},
    {"марта", 3},
    {"april", 4}, {"apr", 4}, {"avril", 4}, {"avr", 4}, {"abril", 4}, {"abr", 4}, {"aprile", 4},
    {"kwietnia", 4}, {"nisan", 4}, {"апреля", 4},
    {"may", 5}, {"mai", 5}, {"mayo", 5}, {"maio", 5}, {"maggio", 5}, {"mag", 5}, {"mei", 5},
    {"maj", 5}, {"maja", 5}, {"mayıs", 5}, {"мая", 5},
    {"june", 6}, {"jun", 6}, {"juni", 6}, {"juin", 6}, {"junio", 6}, {"junho", 6},
    {"giugno", 6}, {"giu", 6}, {"czerwca", 6}, {"haziran", 6}, {"июня", 6},
    {"july", 7}, {"jul", 7}, {"juli", 7}, {"juillet", 7}, {"juil", 7}, {"julio", 7},
    {"julho", 7}, {"luglio", 7}, {"lug", 7}, {"lipca", 7}, {"temmuz", 7}, {"июля", 7},
    {"august", 8}, {"aug", 8}, {"août", 8}, {"aout", 8}, {"agosto", 8}, {"ago", 8},
    {"augustus", 8}, {"augusti", 8}, {"sierpnia", 8}, {"ağustos", 8}, {"августа", 8},
    {"september", 9}, {"sep", 9}, {"sept", 9}, {"septembre", 9}, {"septiembre", 9},
    {"setiembre", 9}, {"setembro", 9}, {"set", 9}, {"settembre", 9}, {"września", 9},
    {"eylül", 9}, {"сентября", 9},
    {"october", 10}, {"oct", 10}, {"oktober", 10}, {"okt", 10}, {"octobre", 10},
    {"octubre", 10}, {"outubro", 10}, {"out", 10}, {"ottobre", 10}, {"ott", 10},
    {"października", 10}, {"ekim", 10}, {"октября", 10},
    {"november", 11}, {"nov", 11}, {"novembre", 11}, {"noviembre", 11}, {"novembro", 11},
    {"listopada", 11}, {"kasım", 11}, {"ноября", 11},
    {"december", 12}, {"dec", 12}, {"dezember", 12}, {"dez", 12}, {"décembre", 12},
    {"decembre", 12}, {"déc", 12}, {"diciembre", 12}, {"dic", 12}, {"dezembro", 12},
    {"dicembre", 12}, {"grudnia", 12}, {"aralık", 12}, {"декабря", 12},
    /* Czech, Hungarian, Romanian, Finnish, Ukrainian and Greek, as dates write them (Czech,
     * Finnish, Ukrainian and Greek in the genitive) */
    {"ledna", 1}, {"január", 1}, {"ianuarie", 1}, {"tammikuuta", 1}, {"січня", 1},
    {"ιανουαρίου", 1},
    {"února", 2}, {"február", 2}, {"februarie", 2}, {"helmikuuta", 2}, {"лютого", 2},
    {"φεβρουαρίου", 2},
    {"března", 3}, {"március", 3}, {"martie", 3}, {"maaliskuuta", 3}, {"березня", 3},
    {"μαρτίου", 3},
    {"dubna", 4}, {"április", 4}, {"aprilie", 4}, {"huhtikuuta", 4}, {"квітня", 4},
    {"απριλίου", 4},
    {"května", 5}, {"május", 5}, {"toukokuuta", 5}, {"травня", 5}, {"μαΐου", 5},
    {"června", 6}, {"június", 6}, {"iunie", 6}, {"kesäkuuta", 6}, {"червня", 6},
    {"ιουνίου", 6},
    {"července", 7}, {"július", 7}, {"iulie", 7}, {"heinäkuuta", 7}, {"липня", 7},
    {"ιουλίου", 7},
    {"srpna", 8}, {"augusztus", 8}, {"elokuuta", 8}, {"серпня", 8}, {"αυγούστου", 8},
    {"září", 9}, {"szeptember", 9}, {"septembrie", 9}, {"syyskuuta", 9}, {"вересня", 9},
    {"σεπτεμβρίου", 9},
    {"října", 10}, {"október", 10}, {"octombrie", 10}, {"lokakuuta", 10}, {"жовтня", 10},
    {"οκτωβρίου", 10},
    {"listopadu", 11}, {"noiembrie", 11}, {"marraskuuta", 11}, {"листопада", 11},
    {"νοεμβρίου", 11},
    {"prosince", 12}, {"decembrie", 12}, {"joulukuuta", 12}, {"грудня", 12},
    {"δεκεμβρίου", 12},
    /* Indonesian and Malay, Catalan, Croatian and Slovak (genitive), Slovenian, Norwegian,
     * Bulgarian, Serbian in Cyrillic, the Turkish abbreviations ("12 Şub 2019") and Turkish
     * names written without their letters ("12 KASIM 2019" folds to "kasim"); Croatian
     * "listopada" (October) is left out, Polish uses it for November */
    {"maret", 3}, {"agustus", 8}, {"ogos", 8}, {"disember", 12}, {"desember", 12},
    {"gener", 1}, {"febrer", 2}, {"març", 3}, {"maig", 5}, {"juny", 6}, {"juliol", 7},
    {"agost", 8}, {"setembre", 9}, {"desembre", 12},
    {"siječnja", 1}, {"veljače", 2}, {"ožujka", 3}, {"travnja", 4}, {"svibnja", 5},
    {"lipnja", 6}, {"srpnja", 7}, {"kolovoza", 8}, {"rujna", 9}, {"studenoga", 11},
    {"studenog", 11}, {"prosinca", 12},
    {"januára", 1}, {"februára", 2}, {"apríla", 4}, {"mája", 5}, {"júna", 6}, {"júla", 7},
    {"augusta", 8}, {"septembra", 9}, {"októbra", 10}, {"novembra", 11}, {"decembra", 12},
    {"januarja", 1}, {"februarja", 2}, {"aprila", 4}, {"junija", 6}, {"julija", 7},
    {"avgusta", 8}, {"oktobra", 10},
    {"януари", 1}, {"февруари", 2}, {"март", 3}, {"април", 4}, {"май", 5}, {"юни", 6},
    {"юли", 7}, {"август", 8}, {"септември", 9}, {"октомври", 10}, {"ноември", 11},
    {"декември", 12},
    {"јануар", 1}, {"фебруар", 2}, {"мај", 5}, {"јун", 6}, {"јул", 7}, {"септембар", 9},
    {"октобар", 10}, {"новембар", 11}, {"децембар", 12},
    {"oca", 1}, {"şub", 2}, {"nis", 4}, {"haz", 6}, {"tem", 7}, {"ağu", 8}, {"eyl", 9},
    {"eki", 10}, {"kas", 11}, {"ara", 12},
    {"subat", 2}, {"mayis", 5}, {"agustos", 8}, {"eylul", 9}, {"kasim", 11}, {"aralik", 12},
};

/* Little words that may stand between the parts of a date: "31 de mayo de 2019", "the 3rd of
 * May", "le 31 mai". */
static const char *const md_fillers[] = {"de", "del", "of", "the", "di", "do", "da", "den"};

static bool md_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool md_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

/* Spaces of running text, the no-break space included; returns the bytes it covers (0: none). */
static size_t md_space(const char *s, size_t i, size_t n)
{
    unsigned char c = (unsigned char)s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
        return 1;
    if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] == 0xA0)
        return 2;
    return 0;
}

static size_t md_skip_spaces(const char *s, size_t i, size_t n)
{
    size_t k;
    while (i < n && (k = md_space(s, i, n)) > 0)
        i += k;
    return i;
}

/* Reads up to `max` digits at i; returns how many (0: none) and the value. */
static int md_num(const char *s, size_t i, size_t n, int max, int *val)
{
    int k = 0, v = 0;
    while (i + (size_t)k < n && k < max + 1 && md_digit((unsigned char)s[i + (size_t)k])) {
        v = v * 10 + (s[i + (size_t)k] - '0');
        k++;
    }
    if (k > max)
        return 0;
    *val = v;
    return k;
}

/* The value of exactly k digits at s (the caller checked they are digits). */
static int md_fixed(const char *s, int k)
{
    int v = 0;
    for (int i = 0; i < k; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static bool md_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool md_valid(int y, int m, int d)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || y > 2100 || m < 1 || m > 12 || d < 1)
        return false;
    return d <= mdays[m - 1] + (m == 2 && md_leap(y));
}

static bool md_set(struct md_date *out, int y, int m, int d)
{
    if (!md_valid(y, m, d))
        return false;
    memset(out, 0, sizeof(*out));
    out->y = y, out->m = m, out->d = d;
    return true;
}

/* Lowercases a word (ASCII, Latin-1 supplement, Latin Extended-A, Cyrillic and Greek capitals)
 * into buf. */
static bool md_fold(const char *s, size_t n, char *buf, size_t cap)
{
    if (n >= cap)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            c += 32;
        else if (i > 0 && (unsigned char)buf[i - 1] == 0xC3 && c >= 0x80 && c <= 0x9E && c != 0x97)
            c += 0x20;
        else if (i > 0 && (unsigned char)buf[i - 1] == 0xD0 && c >= 0x90 && c <= 0x9F)
            c += 0x20;
        else if (i > 0 && (unsigned char)buf[i - 1] == 0xD0 && c >= 0xA0 && c <= 0xAF) {
            buf[i - 1] = (char)0xD1;
            c -= 0x20;
        } else if (i > 0 && (unsigned char)buf[i - 1] == 0xD0 && c >= 0x80 && c <= 0x8F) {
            buf[i - 1] = (char)0xD1; /* Ѐ-Џ: Serbian Ј, Ukrainian Є and І */
            c += 0x10;
        } else if (i > 0 && ((unsigned char)buf[i - 1] == 0xC4 ||
                             (unsigned char)buf[i - 1] == 0xC5)) {
            /* Latin Extended-A pairs a capital with its small letter: an even code point before
             * an odd one (Č č, Ş ş, Š š), except from U+0139 to U+0148 and from U+0179 to
             * U+017E, where the capital is odd (Ł ł, Ž ž); U+0138 and U+0149 stand alone. */
            unsigned cp = ((unsigned char)buf[i - 1] & 0x1Fu) << 6 | (c & 0x3Fu);
            bool odd_upper = (cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E);
            if (cp != 0x138 && cp != 0x149 && cp != 0x17F && (cp & 1) == (odd_upper ? 1u : 0u))
                c += 1; /* the small letter follows in the same byte range: no carry */
        } else if (i > 0 && (unsigned char)buf[i - 1] == 0xCE && c >= 0x91 && c <= 0x9F)
            c += 0x20; /* Greek capitals Α-Ο */
        else if (i > 0 && (unsigned char)buf[i - 1] == 0xCE && c >= 0xA0 && c <= 0xA9) {
            buf[i - 1] = (char)0xCF; /* Π-Ω */
            c -= 0x20;
        }
        buf[i] = (char)c;
    }
    buf[n] = '\0';
    return true;
}

/* The month a word names, 0 when none. */
static int md_month_word(const char *s, size_t n)
{
    char w[40];
    if (n < 3 || !md_fold(s, n, w, sizeof(w)))
        return 0;
    /* the first byte first: most words of a text are no month, and this is run on every one */
    for (size_t i = 0; i < sizeof(md_months) / sizeof(md_months[0]); i++)
        if (md_months[i].name[0] == w[0] && strcmp(w, md_months[i].name) == 0)
            return md_months[i].month;
    return 0;
}

/* The end of the word at i: ASCII letters and two-byte letters (accented Latin, Greek,
 * Cyrillic); a dash, a no-break space or any other symbol ends it. */
static size_t md_word_end(const char *s, size_t i, size_t n)
{
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80 && md_alpha(c))
            i++;
        else if (c >= 0xC3 && c <= 0xD4 && i + 1 < n && ((unsigned char)s[i + 1] & 0xC0) == 0x80)
            i += 2;
        else
            break;
    }
    return i;
}

static bool md_is_filler(const char *s, size_t n)
{
    char w[8];
    if (!md_fold(s, n, w, sizeof(w)))
        return false;
    for (size_t i = 0; i < sizeof(md_fillers) / sizeof(md_fillers[0]); i++)
        if (strcmp(w, md_fillers[i]) == 0)
            return true;
    return false;
}

/* Skips what may separate the parts of a written date: spaces, one punctuation mark of ".,-/",
 * and filler words. */
static size_t md_skip_glue(const char *s, size_t i, size_t n)
{
    for (int rounds = 0; rounds < 6 && i < n; rounds++) {
        size_t j = md_skip_spaces(s, i, n);
        if (j < n && (s[j] == '.' || s[j] == ',' || s[j] == '-' || s[j] == '/'))
            j++;
        j = md_skip_spaces(s, j, n);
        if (j < n && md_alpha((unsigned char)s[j])) {
            size_t e = md_word_end(s, j, n);
            if (md_is_filler(s + j, e - j))
                j = e;
        }
        if (j == i)
            break;
        i = j;
    }
    return i;
}

/* An ordinal ending after a day number: 1st, 2nd, 3rd, 4th, 1er, 1º, 1°. */
static size_t md_skip_ordinal(const char *s, size_t i, size_t n)
{
    static const char *const ends[] = {"st", "nd", "rd", "th", "er", "\xC2\xBA", "\xC2\xB0"};
    for (size_t k = 0; k < sizeof(ends) / sizeof(ends[0]); k++) {
        size_t l = strlen(ends[k]);
        if (i + l <= n && strncasecmp(s + i, ends[k], l) == 0 &&
            (i + l == n || !md_alpha((unsigned char)s[i + l]) || ends[k][0] & 0x80))
            return i + l;
    }
    return i;
}

/* A 4-digit year at i not followed by another digit. */
static bool md_year(const char *s, size_t i, size_t n, int *y, size_t *end)
{
    if (md_num(s, i, n, 4, y) != 4)
        return false;
    *end = i + 4;
    return true;
}

/* hh:mm[:ss][.frac][Z|+hh[:]mm] after a date, from i (at 'T' or a space). */
static void md_time(const char *s, size_t i, size_t n, struct md_date *out, size_t *end)
{
    if (i >= n || (s[i] != 'T' && s[i] != ' '))
        return;
    i++;
    int hh, mi, ss = 0;
    if (md_num(s, i, n, 2, &hh) != 2 || i + 2 >= n || s[i + 2] != ':')
        return;
    if (md_num(s, i + 3, n, 2, &mi) != 2)
        return;
    i += 5;
    int ls;
    if (i < n && s[i] == ':' && (ls = md_num(s, i + 1, n, 2, &ss)) > 0)
        i += 1 + (size_t)ls; /* "23:15:0Z" is seen in the wild */
    if (hh > 23 || mi > 59 || ss > 60)
        return;
    if (i < n && (s[i] == '.' || s[i] == ','))
        for (i++; i < n && md_digit((unsigned char)s[i]); i++)
            ;
    out->hh = hh, out->mi = mi, out->ss = ss, out->has_time = true;
    if (i < n && s[i] == 'Z') {
        out->has_tz = true, out->tz_min = 0, i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        int th, tm = 0;
        size_t j = i + 1;
        if (md_num(s, j, n, 2, &th) == 2) {
            j += 2;
            if (j < n && s[j] == ':')
                j++;
            if (md_num(s, j, n, 2, &tm) == 2)
                j += 2;
            if (th <= 14 && tm < 60) {
                out->has_tz = true;
                out->tz_min = (s[i] == '-' ? -1 : 1) * (th * 60 + tm);
                i = j;
            }
        }
    }
    *end = i;
}

/* A date starting with a number at i. */
static bool md_at_number(const char *s, size_t i, size_t n, int flags, struct md_date *out,
                         size_t *end)
{
    int a = 0, b = 0, c = 0;
    size_t j = i;
    while (j < n && md_digit((unsigned char)s[j]))
        j++;
    size_t la = j - i;
    if (la == 4) {
        md_num(s, i, n, 4, &a);
        /* 2019-05-31, 2019/05/31, 2019.05.31 */
        if (j + 1 < n && (s[j] == '-' || s[j] == '/' || s[j] == '.')) {
            char sep = s[j];
            int lb = md_num(s, j + 1, n, 2, &b);
            size_t k = j + 1 + (size_t)lb;
            if (lb > 0 && k + 1 < n && s[k] == sep) {
                int lc = md_num(s, k + 1, n, 2, &c);
                if (lc > 0 && md_set(out, a, b, c)) {
                    *end = k + 1 + (size_t)lc;
                    if (sep == '-')
                        md_time(s, *end, n, out, end);
                    return true;
                }
            }
        }
        /* 2019年5月31日, and the Korean 2019년 5월 31일 */
        static const char *const cjk[][3] = {
            {"\xE5\xB9\xB4", "\xE6\x9C\x88", "\xE6\x97\xA5"},
            {"\xEB\x85\x84", "\xEC\x9B\x94", "\xEC\x9D\xBC"},
        };
        for (size_t u = 0; u < sizeof(cjk) / sizeof(cjk[0]); u++) {
            if (j + 3 > n || memcmp(s + j, cjk[u][0], 3) != 0)
                continue;
            size_t k = md_skip_spaces(s, j + 3, n);
            int lb = md_num(s, k, n, 2, &b);
            k += (size_t)lb;
            if (lb > 0 && k + 3 <= n && memcmp(s + k, cjk[u][1], 3) == 0) {
                k = md_skip_spaces(s, k + 3, n);
                int lc = md_num(s, k, n, 2, &c);
                k += (size_t)lc;
                if (lc > 0 && k + 3 <= n && memcmp(s + k, cjk[u][2], 3) == 0 &&
                    md_set(out, a, b, c)) {
                    *end = k + 3;
                    return true;
                }
            }
        }
        /* 2019. 05. 31. and 2019. május 31.: Hungarian writes the year first, each part
         * closed by a dot */
        if (j + 2 < n && s[j] == '.' && md_space(s, j + 1, n)) {
            size_t k = md_skip_spaces(s, j + 1, n);
            size_t we = md_word_end(s, k, n), after = we;
            b = we > k ? md_month_word(s + k, we - k) : 0;
            int lb = b ? 0 : md_num(s, k, n, 2, &b);
            if (lb > 0) {
                after = k + (size_t)lb;
                if (after < n && s[after] == '.')
                    after++;
                else
                    b = 0;
            }
            size_t d0 = md_skip_spaces(s, after, n);
            int lc = d0 > after ? md_num(s, d0, n, 2, &c) : 0;
            if (b && lc > 0 && d0 + (size_t)lc < n && s[d0 + (size_t)lc] == '.' &&
                md_set(out, a, b, c)) {
                *end = d0 + (size_t)lc + 1;
                return true;
            }
        }
        return false;
    }
    if (la == 8 && (flags & MD_COMPACT)) {
        a = md_fixed(s + i, 4), b = md_fixed(s + i + 4, 2), c = md_fixed(s + i + 6, 2);
        if (!md_set(out, a, b, c))
            return false;
        *end = j;
        md_time(s, j, n, out, end);
        return true;
    }
    if (la < 1 || la > 2)
        return false;
    md_num(s, i, n, 2, &a);
    /* 31.05.2019, 31/05/2019, 5/31/2019, 31-05-2019 */
    if (j + 1 < n && (s[j] == '.' || s[j] == '/' || s[j] == '-') &&
        md_digit((unsigned char)s[j + 1])) {
        char sep = s[j];
        int lb = md_num(s, j + 1, n, 2, &b);
        size_t k = j + 1 + (size_t)lb;
        size_t ye;
        if (lb > 0 && k + 1 < n && s[k] == sep && md_year(s, k + 1, n, &c, &ye)) {
            bool mdy = sep == '/' && (b > 12 || ((flags & MD_MDY) && a <= 12));
            if (mdy ? md_set(out, c, a, b) : md_set(out, c, b, a)) {
                *end = ye;
                return true;
            }
        }
        /* 31.10.23: German-speaking sites write two-digit years; only the full dd.mm.yy form,
         * so that version numbers (1.2.3) are not taken for dates. */
        int yy;
        if (sep == '.' && la == 2 && lb == 2 && k + 1 < n && s[k] == '.' &&
            md_num(s, k + 1, n, 2, &yy) == 2 &&
            !(k + 3 < n && (s[k + 3] == '.' || s[k + 3] == ',') && k + 4 < n &&
              md_digit((unsigned char)s[k + 4])) &&
            md_set(out, yy < 70 ? 2000 + yy : 1900 + yy, b, a)) {
            *end = k + 3;
            return true;
        }
        if (sep != '.')
            return false;
    }
    /* 31. 5. 2019: Czech, Slovak and Polish pages put a space after each dot */
    if (j + 1 < n && s[j] == '.' && md_space(s, j + 1, n)) {
        size_t k = md_skip_spaces(s, j + 1, n);
        int lb = md_num(s, k, n, 2, &b);
        size_t ye;
        if (lb > 0 && k + (size_t)lb + 1 < n && s[k + (size_t)lb] == '.' &&
            md_space(s, k + (size_t)lb + 1, n) &&
            md_year(s, md_skip_spaces(s, k + (size_t)lb + 1, n), n, &c, &ye) &&
            md_set(out, c, b, a)) {
            *end = ye;
            return true;
        }
    }
    /* 31 May 2019, 31. Mai 2019, 31 de mayo de 2019, 3rd of May, 2019, 31-May-2019 */
    size_t k = md_skip_ordinal(s, j, n);
    k = md_skip_glue(s, k, n);
    if (k >= n || !md_alpha((unsigned char)s[k]))
        return false;
    size_t we = md_word_end(s, k, n);
    int m = md_month_word(s + k, we - k);
    if (!m)
        return false;
    k = md_skip_glue(s, we, n);
    size_t ye;
    if (!md_year(s, k, n, &c, &ye) || !md_set(out, c, m, a))
        return false;
    *end = ye;
    return true;
}

/* A date starting with a month name at i: May 31, 2019 / Sept. 3rd 2019. */
static bool md_at_word(const char *s, size_t i, size_t we, size_t n, struct md_date *out,
                       size_t *end)
{
    int m = md_month_word(s + i, we - i);
    if (!m)
        return false;
    size_t k = we;
    if (k < n && s[k] == '.')
        k++;
    k = md_skip_spaces(s, k, n);
    int d, y;
    int ld = md_num(s, k, n, 2, &d);
    if (ld == 0)
        return false;
    k = md_skip_ordinal(s, k + (size_t)ld, n);
    if (k < n && s[k] == ',')
        k++;
    k = md_skip_spaces(s, k, n);
    size_t ye;
    if (!md_year(s, k, n, &y, &ye) || !md_set(out, y, m, d))
        return false;
    *end = ye;
    return true;
}

/* Whether the character before i is a letter: ASCII letters, and the two-byte UTF-8 range of
 * accented Latin, Greek and Cyrillic (punctuation and symbols live elsewhere). */
static bool md_prev_letter(const char *s, size_t i)
{
    if (i == 0)
        return false;
    unsigned char p = (unsigned char)s[i - 1];
    if (p < 0x80)
        return md_alpha(p);
    size_t k = i - 1;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    unsigned char lead = (unsigned char)s[k];
    return lead >= 0xC3 && lead <= 0xD4;
}

bool md_find(const char *s, size_t n, int flags, struct md_date *out, size_t *end_out)
{
    return md_find_span(s, n, flags, out, NULL, end_out);
}

bool md_find_span(const char *s, size_t n, int flags, struct md_date *out, size_t *start_out,
                  size_t *end_out)
{
    size_t end = 0, start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (md_digit(c)) {
            unsigned char p = i > 0 ? (unsigned char)s[i - 1] : ' ';
            if (!md_digit(p) && !(p < 0x80 && md_alpha(p)) &&
                md_at_number(s, i, n, flags, out, &end)) {
                start = i;
                goto found;
            }
            while (i + 1 < n && md_digit((unsigned char)s[i + 1]))
                i++;
        } else if ((c < 0x80 && md_alpha(c)) || (c >= 0xC3 && c <= 0xD4)) {
            size_t we = md_word_end(s, i, n);
            if (!md_prev_letter(s, i) && we - i >= 3 && we - i < 32 &&
                md_at_word(s, i, we, n, out, &end)) {
                start = i;
                goto found;
            }
            if (we > i)
                i = we - 1;
        }
    }
    return false;
found:
    if (start_out)
        *start_out = start;
    if (end_out)
        *end_out = end;
    return true;
}

bool md_parse_value(const char *s, size_t n, int flags, struct md_date *out)
{
    size_t i = md_skip_spaces(s, 0, n);
    size_t j = i;
    while (j < n && md_digit((unsigned char)s[j]))
        j++;
    /* Seconds or milliseconds since the epoch, as some CMSs write them. */
    if ((j - i == 10 || j - i == 13) && md_skip_spaces(s, j, n) == n) {
        long long v = 0;
        for (size_t k = i; k < i + 10; k++)
            v = v * 10 + (s[k] - '0');
        time_t t = (time_t)v;
        struct tm tm;
        if (!gmtime_r(&t, &tm))
            return false;
        if (!md_set(out, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday))
            return false;
        out->hh = tm.tm_hour, out->mi = tm.tm_min, out->ss = tm.tm_sec;
        out->has_time = out->has_tz = true;
        return true;
    }
    return md_find(s + i, n - i, flags | MD_COMPACT, out, NULL);
}

/* The first date in a URL path of n bytes. */
static bool md_url_path(const char *p, size_t n, struct md_date *out)
{
    for (size_t i = 1; i < n; i++) {
        char prev = p[i - 1];
        if (!md_digit((unsigned char)p[i]) || md_digit((unsigned char)prev))
            continue;
        int y = 0, m = 0, d = 0;
        size_t j = i;
        while (j < n && md_digit((unsigned char)p[j]))
            j++;
        if (j - i == 8 || j - i == 12 || j - i == 14) {
            /* yyyymmdd, and the stamps yyyymmddhhmm and yyyymmddhhmmss that some sites name
             * their articles by (after a slash, a dash or a letter) */
            y = md_fixed(p + i, 4), m = md_fixed(p + i + 4, 2), d = md_fixed(p + i + 6, 2);
            bool clock = j - i == 8 ||
                         (md_fixed(p + i + 8, 2) < 24 && md_fixed(p + i + 10, 2) < 60 &&
                          (j - i == 12 || md_fixed(p + i + 12, 2) < 60));
            if (y >= 1990 && clock && md_set(out, y, m, d))
                return true;
        } else if (j - i == 4 && (prev == '/' || prev == '-' || prev == '_') &&
                   j + 1 < n && (p[j] == '/' || p[j] == '-' || p[j] == '_')) {
            char sep = p[j];
            md_num(p, i, n, 4, &y);
            int lm = md_num(p, j + 1, n, 2, &m);
            size_t k = j + 1 + (size_t)lm;
            int ld = lm > 0 && k + 1 < n && p[k] == sep ? md_num(p, k + 1, n, 2, &d) : 0;
            if (ld > 0 && (k + 1 + (size_t)ld == n || !md_digit((unsigned char)p[k + 1 + ld])) &&
                y >= 1990 && md_set(out, y, m, d))
                return true;
        }
        i = j;
    }
    return false;
}

bool md_from_url(const char *url, struct md_date *out)
{
    /* A URL wrapped in another (an archive's copy, a proxy): the inner one is the article's,
     * the outer one's digits are the wrapper's (the time of a capture). */
    for (int depth = 0; depth < 4; depth++) {
        const char *p = strstr(url, "://");
        const char *inner = p ? strstr(p + 3, "/http") : NULL;
        if (!inner || !(strncmp(inner, "/http://", 8) == 0 || strncmp(inner, "/https://", 9) == 0))
            break;
        url = inner + 1;
    }
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : url;
    if (!p)
        return false;
    size_t n = strcspn(p, "?#");
    return md_url_path(p, n, out);
}

long md_days(const struct md_date *d)
{
    /* Days from civil date (proleptic Gregorian). */
    int y = d->y - (d->m <= 2);
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (d->m + (d->m > 2 ? -3 : 9)) + 2) / 5 + d->d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void md_format(const struct md_date *d, char out[32])
{
    if (!d->has_time) {
        snprintf(out, 32, "%04d-%02d-%02d", d->y, d->m, d->d);
        return;
    }
    int n = snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d", d->y, d->m, d->d, d->hh, d->mi,
                     d->ss);
    if (!d->has_tz || n < 0)
        return;
    if (d->tz_min == 0) {
        snprintf(out + n, 32 - (size_t)n, "Z");
        return;
    }
    int t = d->tz_min < 0 ? -d->tz_min : d->tz_min;
    snprintf(out + n, 32 - (size_t)n, "%c%02d:%02d", d->tz_min < 0 ? '-' : '+', t / 60, t % 60);
}
