/* Signatures for near-duplicate detection: normalisation, shingles, one-permutation MinHash.
 * One XXH3-64 hash per shingle; its top 6 bits choose a bin and its low 32 bits compete for the
 * bin's minimum, so the cost is one hash per shingle whatever the number of bins (k separate
 * permutations would cost k multiplications per shingle). Empty bins (short texts) are filled by
 * optimal densification: each borrows the value of a bin chosen by a fixed hash sequence, the
 * same for every text, so equal texts still agree bin by bin. The headline's shingles join the
 * text's in the bins, weighted (nf_sig_headline). */
#include "sig.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>
/* Inlined: most shingles are 15-40 bytes, where a call into the library costs as much as the hash. */
#define XXH_INLINE_ALL
#include <xxhash.h>

/* ASCII letters and digits to their lower case; 0 for every other byte (other ASCII, and the
 * bytes of longer UTF-8 sequences, which utf8proc reads). */
static const uint8_t sig_ascii[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 0, 0, 0, 0, 0, 0,
    0, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111,
    112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 0, 0, 0, 0, 0,
    0, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111,
    112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 0, 0, 0, 0, 0,
};

void nf_sig_work_free(struct nf_sig_work *w)
{
    free(w->norm);
    free(w->starts);
    *w = (struct nf_sig_work){0};
}

static int sig_reserve(uint8_t **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 4096;
    while (c < need)
        c *= 2;
    uint8_t *q = realloc(*p, c);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

static int sig_word_start(struct nf_sig_work *w, size_t words, size_t off)
{
    if (words >= w->starts_cap) {
        size_t c = w->starts_cap ? w->starts_cap * 2 : 1024;
        uint32_t *q = realloc(w->starts, c * sizeof(*q));
        if (!q)
            return -1;
        w->starts = q;
        w->starts_cap = c;
    }
    w->starts[words] = (uint32_t)off;
    return 0;
}

#define SIG_ONES 0x0101010101010101ull
#define SIG_HIGH 0x8080808080808080ull

/* Eight bytes as a number, the first the lowest, and back. */
static uint64_t sig_load8(const uint8_t *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    return x;
}

static void sig_store8(uint8_t *p, uint64_t x)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    memcpy(p, &x, 8);
}

/* Whether the eight bytes at p are plain prose, which normalises to itself in lower case: ASCII
 * letters, and spaces each between two letters (the last byte a letter; the first a space only
 * `after_letter`). Then *lower_out is them in lower case and *spaces_out has bit 7 of each
 * byte that is a space. Bytes are tested eight at a time: ASCII bytes plus 0x1F reach 0x80
 * from 'a' up, plus 0x05 from '{' up, plus 0x7F from 1 up, none carrying into the next. */
static bool sig_prose8(const uint8_t *p, bool after_letter, uint64_t *lower_out,
                       uint64_t *spaces_out)
{
    uint64_t x = sig_load8(p);
    if (x & SIG_HIGH)
        return false;
    uint64_t y = x | SIG_ONES * 0x20;
    uint64_t letter = (y + SIG_ONES * (0x80 - 'a')) & ~(y + SIG_ONES * (0x80 - 'z' - 1)) & SIG_HIGH;
    uint64_t space = ~((x ^ SIG_ONES * ' ') + SIG_ONES * 0x7F) & SIG_HIGH;
    if ((letter | space) != SIG_HIGH || (space & space << 8) || !(letter >> 63) ||
        (space & 0x80 && !after_letter))
        return false;
    *lower_out = y;
    *spaces_out = space;
    return true;
}

static bool sig_is_word_cp(utf8proc_int32_t cp)
{
    utf8proc_category_t c = utf8proc_category(cp);
    return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) ||
           (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO);
}

static bool sig_digit(uint8_t c)
{
    return (uint8_t)(c - '0') <= 9;
}

/* Numbers read the same however an outlet writes them. In the normalised text a number's
 * integer part is written in groups of three digits from the right joined by commas, its
 * decimal fraction after a point: "3,892,000", "3.892.000", "3892000", "3 892 000",
 * "3'892'000" and a typo's "38,92,000" are all "3,892,000"; "3,5" and "3.5" both "3.5". Each
 * group is a word of the shingles (short reports made mostly of numbers keep the words they
 * had with separators); the figures (sig_next_figure) take the number whole. */
struct sig_num {
    size_t group;  /* where the current digit group starts in norm */
    bool fraction; /* the digits since the last mark are a decimal fraction */
    bool marked;   /* a mark has joined its digits (then a space does not) */
};

/* Whether the separator just read (ending at raw offset *i, after a word that ends in a digit)
 * goes on with the number, and if so moves *i past it. `space`: a space (plain, no-break,
 * thin: what compatibility folding makes ' '), else a comma, point or apostrophe. A mark joins
 * digits on either side (one more mark may follow: a typo's ",,"); the digits after the last
 * mark are a fraction unless they are exactly three (thousands). A space joins a group of 1-3
 * digits of a word of digits alone to exactly three more, as thousands are grouped ("in 1987
 * 300 people" stays two numbers), and never where marks group thousands ("627,000 627,000"
 * and "20 627,000" in a table stay two). */
static bool sig_number_goes_on(const uint8_t *t, size_t n, size_t *ip, bool space,
                               const uint8_t *norm, size_t ws, size_t o, struct sig_num *num,
                               bool *fraction_out)
{
    size_t i = *ip, g = num->group > ws ? num->group : ws;
    *fraction_out = false;
    if (!space) {
        if (i < n && (t[i] == ',' || t[i] == '.'))
            i++;
        if (i >= n || !sig_digit(t[i]))
            return false;
        size_t e = i;
        while (e < n && sig_digit(t[e]))
            e++;
        bool last = !(e + 1 < n && (t[e] == ',' || t[e] == '.' || t[e] == '\'') &&
                      sig_digit(t[e + 1]));
        *fraction_out = last && e - i != 3;
        *ip = i;
        num->marked = true;
        return true;
    }
    if (num->marked || o - g > 3 || i + 3 > n || !sig_digit(t[i]) || !sig_digit(t[i + 1]) ||
        !sig_digit(t[i + 2]) || (i + 3 < n && t[i + 3] < 0x80 && sig_ascii[t[i + 3]]))
        return false;
    if (i + 4 < n && (t[i + 3] == ',' || t[i + 3] == '.')) {
        /* "20 627,000": marks group the next number, so this space is no separator */
        size_t e = i + 4;
        while (e < n && sig_digit(t[e]))
            e++;
        if (e - (i + 4) == 3)
            return false;
    }
    for (size_t j = ws; j < o; j++)
        if (!sig_digit(norm[j]))
            return false;
    return true;
}

/* Writes the integer part that ends the normalised text (norm[ws..*o), when it is digits
 * alone and four or more of them) in groups of three, each a word. -1 when out of memory. */
static int sig_group_number(struct nf_sig_work *w, size_t ws, size_t *o, size_t *words)
{
    size_t len = *o - ws;
    if (len < 4)
        return 0;
    uint8_t *nb = w->norm;
    for (size_t j = ws; j < *o; j++)
        if (!sig_digit(nb[j]))
            return 0;
    size_t groups = (len + 2) / 3, first = len - 3 * (groups - 1);
    size_t src = *o, dst = *o + groups - 1;
    *o = dst;
    for (size_t g = 1; g < groups; g++) {
        src -= 3, dst -= 3;
        memmove(nb + dst, nb + src, 3);
        nb[--dst] = ',';
    }
    for (size_t g = 1; g < groups; g++)
        if (sig_word_start(w, (*words)++, ws + first + 1 + 4 * (g - 1)) < 0)
            return -1;
    return 0;
}

/* A separator after a word that ends in a digit (ASCII or folded from another character,
 * ending at raw *ip):
 * 1 when it goes on with the number (*ip moved past it), 0 when the word ends here (its number,
 * if any, grouped), -1 when out of memory. */
static int sig_separator(struct nf_sig_work *w, const uint8_t *t, size_t n, size_t *ip,
                         int sep, size_t *o, size_t *words, struct sig_num *num)
{
    if (sep != ',' && sep != '.' && sep != '\'' && sep != ' ')
        sep = 0;
    size_t ws = w->starts[*words - 1];
    bool fraction;
    if (sep && sig_number_goes_on(t, n, ip, sep == ' ', w->norm, ws, *o, num, &fraction)) {
        if (fraction) {
            /* the integer part is complete: group it, then the fraction is a word of its own */
            if (sig_group_number(w, ws, o, words) < 0)
                return -1;
            w->norm[(*o)++] = '.';
            if (sig_word_start(w, (*words)++, *o) < 0)
                return -1;
            num->fraction = true;
        }
        num->group = *o;
        return 1;
    }
    if (!num->fraction && sig_group_number(w, ws, o, words) < 0)
        return -1;
    return 0;
}

long nf_sig_normalise(struct nf_sig_work *w, const char *text, size_t n, size_t *words_out,
                      const char **why)
{
    const uint8_t *t = (const uint8_t *)text;
    if (n > UINT32_MAX / 8)
        return *why = "text too long", -1;
    /* ASCII maps to at most one byte plus a space per byte (a number's commas and point take
     * the place of its separators or spaces); other characters are checked. */
    if (sig_reserve(&w->norm, &w->norm_cap, 2 * n + 64) < 0)
        return *why = "out of memory", -1;
    /* A local copy of the buffer: a byte stored through w->norm could otherwise be w->norm
     * itself, as far as the compiler knows, and it would be read again after every byte. */
    uint8_t *nb = w->norm;
    size_t o = 0, words = 0;
    struct sig_num num = {0};
    bool in_word = false;
    const int opts = UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |
                     UTF8PROC_STRIPMARK | UTF8PROC_IGNORE;
    for (size_t i = 0; i < n;) {
        uint8_t c = t[i];
        if (c < 0x80) {
            /* The common case, without utf8proc. */
            i++;
            uint8_t m = sig_ascii[c];
            if (!m) {
                /* most words end in a letter: only a digit's word is looked at again */
                if (__builtin_expect(in_word && sig_digit(nb[o - 1]), 0)) {
                    /* copies: the loop's own counters stay in registers */
                    size_t ni = i, no = o, nw = words;
                    int r = sig_separator(w, t, n, &ni, c, &no, &nw, &num);
                    if (r < 0)
                        return *why = "out of memory", -1;
                    i = ni, o = no, words = nw;
                    if (r > 0)
                        continue;
                }
                in_word = false;
                continue;
            }
            if (!in_word) {
                if (words)
                    nb[o++] = ' ';
                if (sig_word_start(w, words++, o) < 0)
                    return *why = "out of memory", -1;
                in_word = true;
                num.fraction = num.marked = false;
            }
            nb[o++] = m;
            for (;;) {
                /* plain prose eight bytes at a time, copied in lower case, each space a word
                 * start: most of a text is such runs, and its words are short */
                uint64_t lower, spaces;
                while (i + 8 <= n &&
                       sig_prose8(t + i, sig_ascii[nb[o - 1]] >= 'a', &lower, &spaces)) {
                    sig_store8(nb + o, lower);
                    if (spaces)
                        num.fraction = num.marked = false;
                    for (; spaces; spaces &= spaces - 1) {
                        size_t at = o + (size_t)__builtin_ctzll(spaces) / 8 + 1;
                        if (sig_word_start(w, words++, at) < 0)
                            return *why = "out of memory", -1;
                    }
                    i += 8, o += 8;
                }
                /* the rest of the word's ASCII letters and digits, in a loop of its own: most
                 * bytes of a text are these. Four at a time while four are left, with one
                 * bounds check and one addition for the four; the last few one by one. */
                while (i + 4 <= n) {
                    if (!(m = sig_ascii[t[i]]))
                        break;
                    nb[o] = m;
                    if (!(m = sig_ascii[t[i + 1]])) {
                        i += 1, o += 1;
                        break;
                    }
                    nb[o + 1] = m;
                    if (!(m = sig_ascii[t[i + 2]])) {
                        i += 2, o += 2;
                        break;
                    }
                    nb[o + 2] = m;
                    if (!(m = sig_ascii[t[i + 3]])) {
                        i += 3, o += 3;
                        break;
                    }
                    nb[o + 3] = m;
                    i += 4, o += 4;
                }
                while (i < n && (m = sig_ascii[t[i]]) != 0)
                    nb[o++] = m, i++;
                /* and the commonest end of a word, one space between a letter and a letter,
                 * without going round the outer loop twice */
                if (i + 1 >= n || t[i] != ' ' || (m = sig_ascii[t[i + 1]]) < 'a' ||
                    sig_digit(nb[o - 1]))
                    break;
                nb[o++] = ' ';
                if (sig_word_start(w, words++, o) < 0)
                    return *why = "out of memory", -1;
                num.fraction = num.marked = false;
                nb[o++] = m;
                i += 2;
            }
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(t + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k < 0)
            return *why = "invalid UTF-8", -1;
        i += (size_t)k;
        utf8proc_int32_t dec[32];
        int last = 0;
        utf8proc_ssize_t m = utf8proc_decompose_char(cp, dec, 32, opts, &last);
        if (m < 0 || m > 32)
            m = 0;
        if (sig_reserve(&w->norm, &w->norm_cap, o + 5 * (size_t)m + (n - i) * 2 + 64) < 0)
            return *why = "out of memory", -1;
        nb = w->norm;
        for (utf8proc_ssize_t j = 0; j < m; j++) {
            if (!sig_is_word_cp(dec[j])) {
                /* a mark left by a composed form counts as part of the word; others split */
                utf8proc_category_t cat = utf8proc_category(dec[j]);
                if (cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC ||
                    cat == UTF8PROC_CATEGORY_ME)
                    continue;
                if (in_word && sig_digit(nb[o - 1])) {
                    /* a no-break or thin space, or a typographic apostrophe, may group a
                     * number's digits ("3\u202f892", "1\u2019000") */
                    int sep = m == 1 && dec[0] == ' ' ? ' ' : cp == 0x2019 ? '\'' : 0;
                    size_t ni = i, no = o, nw = words;
                    int r = sig_separator(w, t, n, &ni, sep, &no, &nw, &num);
                    if (r < 0)
                        return *why = "out of memory", -1;
                    i = ni, o = no, words = nw;
                    if (r > 0)
                        break;
                }
                in_word = false;
                continue;
            }
            if (!in_word) {
                if (words)
                    nb[o++] = ' ';
                if (sig_word_start(w, words++, o) < 0)
                    return *why = "out of memory", -1;
                in_word = true;
                num.fraction = num.marked = false;
            }
            o += (size_t)utf8proc_encode_char(dec[j], nb + o);
        }
    }
    if (in_word && sig_digit(nb[o - 1])) {
        size_t ni = n, no = o, nw = words;
        if (sig_separator(w, t, n, &ni, 0, &no, &nw, &num) < 0)
            return *why = "out of memory", -1;
        o = no, words = nw;
    }
    *words_out = words;
    return (long)o;
}

static uint64_t sig_mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* The next word of normalised text (words joined by one space) that holds a digit, searching
 * from *from: its bounds in [*a, *b), and *from moved past it. Figures are rare: this looks for
 * digits, then for the word around each, instead of inspecting every word. */
static bool sig_next_figure(const uint8_t *nb, size_t len, size_t *from, size_t *a, size_t *b)
{
    size_t j = *from;
    /* Eight bytes at a time while none is a digit: a byte is one when, xor '0', it is below
     * 10 (the classic test for a byte below n, exact as to whether any is). */
    const uint64_t ones = 0x0101010101010101ull;
    for (; j + 8 <= len; j += 8) {
        uint64_t x;
        memcpy(&x, nb + j, 8);
        x ^= ones * '0';
        if ((x - ones * 10) & ~x & ones * 0x80)
            break;
    }
    for (; j < len; j++) {
        if ((uint8_t)(nb[j] - '0') > 9)
            continue;
        size_t x = j, y = j;
        while (x > 0 && nb[x - 1] != ' ')
            x--;
        while (y < len && nb[y] != ' ')
            y++;
        *a = x, *b = y, *from = y;
        return true;
    }
    *from = len;
    return false;
}

/* The hash of a figure (norm[a..b)): its letters and digits without the commas and point of
 * a number, so that a number is its digits ("3,892,000", a typo's "389.2000" and "3892000";
 * "3.5" and "35") however its groups and fraction were read. */
static uint64_t sig_figure_hash(const uint8_t *nb, size_t a, size_t b)
{
    uint8_t d[64];
    size_t k = 0;
    for (size_t j = a; j < b && k < sizeof(d); j++)
        if (nb[j] != ',' && nb[j] != '.')
            d[k++] = nb[j];
    return XXH3_64bits(d, k);
}

/* The bin that empty bin b borrows from at step a of its sequence (a from 1). */
static unsigned sig_borrow_step(unsigned b, uint64_t a)
{
    return (unsigned)(sig_mix((uint64_t)b << 32 | a) >> 58);
}

/* Copies the bins' minima to v, each empty bin (not in `filled`) given the value of a bin
 * chosen by a fixed hash sequence: the same for every text, so equal texts agree bin by bin.
 * The first NF_SIG_BORROW steps of every bin's sequence are kept in w, worked out once. */
static void sig_densify(struct nf_sig_work *w, const uint32_t mins[NF_SIG_K], uint64_t filled,
                        uint32_t v[NF_SIG_K])
{
    memcpy(v, mins, NF_SIG_K * sizeof(*v));
    if (filled == UINT64_MAX || !filled)
        return; /* texts of a few hundred words fill every bin */
    if (!w->borrow_ready) {
        for (unsigned b = 0; b < NF_SIG_K; b++)
            for (unsigned a = 0; a < NF_SIG_BORROW; a++)
                w->borrow[b][a] = (uint8_t)sig_borrow_step(b, a + 1);
        w->borrow_ready = true;
    }
    for (uint64_t empty = ~filled; empty; empty &= empty - 1) {
        unsigned b = (unsigned)__builtin_ctzll(empty), a = 0;
        while (a < NF_SIG_BORROW && !(filled >> w->borrow[b][a] & 1))
            a++;
        if (a < NF_SIG_BORROW) {
            v[b] = mins[w->borrow[b][a]];
            continue;
        }
        for (uint64_t k = NF_SIG_BORROW + 1;; k++) { /* few bins filled: further on */
            unsigned j = sig_borrow_step(b, k);
            if (filled >> j & 1) {
                v[b] = mins[j];
                break;
            }
        }
    }
}

int nf_sig_compute(struct nf_sig_work *w, const char *text, size_t n, int shingle,
                   struct nf_sig *out, const char **why)
{
    size_t words;
    long len = nf_sig_normalise(w, text, n, &words, why);
    if (len < 0)
        return -1;
    memset(out, 0, sizeof(*out));
    out->version = NF_SIG_VERSION;
    out->shingle = (uint8_t)shingle;
    out->words = (uint32_t)words;
    XXH128_hash_t ex = XXH3_128bits(w->norm, (size_t)len);
    out->exact_lo = ex.low64;
    out->exact_hi = ex.high64;
    if (words == 0)
        return 0;
    size_t from = 0, a, b;
    while (sig_next_figure(w->norm, (size_t)len, &from, &a, &b))
        out->body_figures |= 1ull << (sig_figure_hash(w->norm, a, b) >> 58);
    size_t s = (size_t)shingle;
    size_t count = words >= s ? words - s + 1 : 1;
    uint32_t *mins = w->mins;
    for (int b = 0; b < NF_SIG_K; b++)
        mins[b] = UINT32_MAX;
    uint64_t filled = 0;
    const uint8_t *norm = w->norm;
    const uint32_t *st = w->starts;
    for (size_t i = 0; i < count; i++) {
        size_t end = i + s < words ? st[i + s] - 1 : (size_t)len;
        uint64_t h = XXH3_64bits(norm + st[i], end - st[i]);
        unsigned b = (unsigned)(h >> 58);
        uint32_t v = (uint32_t)h;
        filled |= 1ull << b;
        if (v < mins[b])
            mins[b] = v;
    }
    w->filled = filled;
    out->shingles = (uint32_t)count;
    sig_densify(w, mins, filled, out->v);
    return 0;
}

/* Wire services mark the later versions of a story on its headline ("UPDATE 2-Title",
 * "CORRECTED-Title", "REFILE-UPDATE 1-Title", "RPT-Title", "Title (2)"), and republishers add a
 * flag ("BREAKING: Title"). A marker is not part of the headline: without it, the headline's
 * figures and hash are the story's, whatever version, so that the bodies decide. Only a marker
 * word followed by a version number and a dash, colon or bar counts at the start; at the end,
 * a version number (or marker) in brackets. */
static const struct {
    const char *word;
    size_t n;
} sig_marker_words[] = {
#define SIG_MARKER(w) {w, sizeof(w) - 1}
    SIG_MARKER("update"),    SIG_MARKER("updated"),    SIG_MARKER("wrapup"),
    SIG_MARKER("corrected"), SIG_MARKER("correction"), SIG_MARKER("refile"),
    SIG_MARKER("refiled"),   SIG_MARKER("rpt"),        SIG_MARKER("repeat"),
    SIG_MARKER("breaking"),  SIG_MARKER("urgent"),     SIG_MARKER("flash"),
#undef SIG_MARKER
};

static size_t sig_skip_spaces(const uint8_t *t, size_t i, size_t n)
{
    while (i < n && (t[i] == ' ' || t[i] == '\t'))
        i++;
    return i;
}

/* A marker word at t[i..): the offset after it, or 0. */
static size_t sig_marker_word(const uint8_t *t, size_t i, size_t n)
{
    size_t j = i;
    while (j < n && j - i < 12 && t[j] < 0x80 && sig_ascii[t[j]] >= 'a')
        j++;
    if (j == i || (j < n && t[j] < 0x80 && sig_ascii[t[j]]))
        return 0;
    for (size_t k = 0; k < sizeof(sig_marker_words) / sizeof(sig_marker_words[0]); k++)
        if (sig_marker_words[k].n == j - i && sig_ascii[t[i]] == sig_marker_words[k].word[0] &&
            strncasecmp(sig_marker_words[k].word, (const char *)t + i, j - i) == 0)
            return j;
    return 0;
}

/* An optional version number of one or two digits at t[i..), then spaces. */
static size_t sig_version_number(const uint8_t *t, size_t i, size_t n)
{
    size_t j = i;
    while (j < n && j - i < 2 && sig_digit(t[j]))
        j++;
    if (j < n && sig_digit(t[j]))
        return i; /* three digits: not a version */
    return sig_skip_spaces(t, j, n);
}

/* The headline without its version markers: [*a_out, *b_out) of t. */
static void sig_headline_core(const uint8_t *t, size_t n, size_t *a_out, size_t *b_out)
{
    size_t a = sig_skip_spaces(t, 0, n), b = n;
    for (int k = 0; k < 4; k++) {
        size_t j = sig_marker_word(t, a, n);
        if (!j)
            break;
        j = sig_version_number(t, sig_skip_spaces(t, j, n), n);
        if (j < n && (t[j] == '-' || t[j] == ':' || t[j] == '|'))
            j++;
        else if (j + 2 < n && t[j] == 0xE2 && t[j + 1] == 0x80 &&
                 (t[j + 2] == 0x93 || t[j + 2] == 0x94)) /* en or em dash */
            j += 3;
        else
            break;
        a = sig_skip_spaces(t, j, n);
    }
    while (b > a && (t[b - 1] == ' ' || t[b - 1] == '\t'))
        b--;
    if (b > a + 2 && (t[b - 1] == ')' || t[b - 1] == ']')) {
        uint8_t open = t[b - 1] == ')' ? '(' : '[';
        size_t o = b - 1;
        while (o > a && t[o - 1] != open && b - o < 16)
            o--;
        if (o > a && t[o - 1] == open) {
            size_t j = sig_skip_spaces(t, o, b);
            size_t w = sig_marker_word(t, j, b);
            j = sig_version_number(t, w ? sig_skip_spaces(t, w, b) : j, b);
            if (j == b - 1 && (w || sig_digit(t[b - 2]))) {
                b = o - 1;
                while (b > a && (t[b - 1] == ' ' || t[b - 1] == '\t'))
                    b--;
            }
        }
    }
    if (b > a) {
        *a_out = a, *b_out = b;
    } else {
        *a_out = 0, *b_out = n; /* nothing but markers: keep them */
    }
}

/* Adds the shingles of the normalised headline (w->norm[0..len), `words` words) to the
 * signature's set, each as a few elements of its own (hashed apart from the text's shingles),
 * and densifies the bins again from the text's minima (w->mins). A copy keeps
 * its headline, or most of its words when a republisher rewrites it: the headline's shingles
 * lift the similarity of a copy whose words were edited or whose tail was cut, and lower that
 * of two reports that share a body's template under headlines of their own. */
static void sig_fold_headline(struct nf_sig_work *w, size_t len, size_t words, struct nf_sig *out)
{
    size_t s = out->shingle, count = words >= s ? words - s + 1 : 1;
    const uint32_t *st = w->starts;
    /* together about NF_SIG_HEADLINE_SHARE of the text's shingles: the headline weighs as
     * much in a short report as in a long one */
    double share = NF_SIG_HEADLINE_SHARE * out->shingles / (double)count;
    uint64_t weight = share < 1                            ? 1
                      : share > NF_SIG_HEADLINE_MAX_WEIGHT ? NF_SIG_HEADLINE_MAX_WEIGHT
                                                           : (uint64_t)(share + 0.5);
    for (size_t i = 0; i < count; i++) {
        size_t end = i + s < words ? st[i + s] - 1 : len;
        uint64_t h = XXH3_64bits(w->norm + st[i], end - st[i]);
        for (uint64_t r = 1; r <= weight; r++) {
            uint64_t x = sig_mix(h ^ r * 0xD6E8FEB86659FD93ull);
            unsigned b = (unsigned)(x >> 58);
            w->filled |= 1ull << b;
            if ((uint32_t)x < w->mins[b])
                w->mins[b] = (uint32_t)x;
        }
    }
    out->shingles += (uint32_t)(count * weight);
    sig_densify(w, w->mins, w->filled, out->v);
}

int nf_sig_headline(struct nf_sig_work *w, const char *title, size_t n, struct nf_sig *out,
                    const char **why)
{
    out->figures = 0;
    out->headline = 0;
    if (!title || n == 0)
        return 0;
    size_t a, b, words;
    sig_headline_core((const uint8_t *)title, n, &a, &b);
    long len = nf_sig_normalise(w, title + a, b - a, &words, why);
    if (len < 0)
        return -1;
    /* A sum of the figures' hashes: order does not matter, repeats do. */
    uint64_t sum = 0;
    size_t from = 0, fa, fb;
    while (sig_next_figure(w->norm, (size_t)len, &from, &fa, &fb))
        sum += sig_figure_hash(w->norm, fa, fb);
    uint32_t key = (uint32_t)(sig_mix(sum) >> 32);
    out->figures = key ? key : 1;
    uint32_t h = (uint32_t)XXH3_64bits(w->norm, (size_t)len);
    out->headline = h ? h : 1;
    if (out->shingles > 0 && words > 0)
        sig_fold_headline(w, (size_t)len, words, out);
    return 0;
}

static void sig_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16),
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t sig_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void nf_sig_encode(const struct nf_sig *s, uint8_t out[NF_SIG_BYTES])
{
    out[0] = 'M';
    out[1] = s->version;
    out[2] = s->shingle;
    out[3] = NF_SIG_K;
    sig_put32(out + 4, s->shingles);
    sig_put32(out + 8, s->words);
    sig_put32(out + 12, s->figures);
    sig_put32(out + 16, (uint32_t)s->exact_lo);
    sig_put32(out + 20, (uint32_t)(s->exact_lo >> 32));
    sig_put32(out + 24, (uint32_t)s->exact_hi);
    sig_put32(out + 28, (uint32_t)(s->exact_hi >> 32));
    sig_put32(out + 32, (uint32_t)s->body_figures);
    sig_put32(out + 36, (uint32_t)(s->body_figures >> 32));
    sig_put32(out + 40, s->headline);
    sig_put32(out + 44, 0);
    for (int i = 0; i < NF_SIG_K; i++)
        sig_put32(out + NF_SIG_HEADER + 4 * i, s->v[i]);
}

int nf_sig_decode(const void *vp, size_t n, struct nf_sig *out)
{
    const uint8_t *p = vp;
    if (n != NF_SIG_BYTES || p[0] != 'M' || p[1] != NF_SIG_VERSION || p[3] != NF_SIG_K ||
        p[2] < 1 || p[2] > 16)
        return -1;
    out->version = p[1];
    out->shingle = p[2];
    out->shingles = sig_get32(p + 4);
    out->words = sig_get32(p + 8);
    out->figures = sig_get32(p + 12);
    out->exact_lo = sig_get32(p + 16) | (uint64_t)sig_get32(p + 20) << 32;
    out->exact_hi = sig_get32(p + 24) | (uint64_t)sig_get32(p + 28) << 32;
    out->body_figures = sig_get32(p + 32) | (uint64_t)sig_get32(p + 36) << 32;
    out->headline = sig_get32(p + 40);
    for (int i = 0; i < NF_SIG_K; i++)
        out->v[i] = sig_get32(p + NF_SIG_HEADER + 4 * i);
    return 0;
}

double nf_sig_jaccard(const struct nf_sig *a, const struct nf_sig *b)
{
    int eq = 0;
    for (int i = 0; i < NF_SIG_K; i++)
        eq += a->v[i] == b->v[i];
    return (double)eq / NF_SIG_K;
}
