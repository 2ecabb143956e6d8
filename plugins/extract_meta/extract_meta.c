/* extract_meta: reads the clean `text` and fills in what the record still lacks: a title (the
 * first sentence), the dateline's place, agency and (when it has a year) date; the language
 * (CLD2, lang.h); and the named entities with their mention counts: those of a gazetteer, then
 * names it lacks, found as repeated or cued capitalised phrases. It never rewrites the text, never
 * invents a year for a date that has none, and is no statistical recogniser: a name that is
 * neither listed nor capitalised and repeated (or next to a title or "said") is not found. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <utf8proc.h>
#include <xxhash.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "dates.h"
#include "lang.h"
#include "newsflow/plugin.h"
#include "plugin_util.h"

struct extract_meta_conf {
    const char *gazetteer;
    bool language;
    const char *textcat_conf;   /* obsolete */
    const char *textcat_models; /* obsolete */
    int64_t max_lang_bytes;
    int64_t min_lang_bytes;
    int64_t title_max_chars;
    bool phrases;
    const char *phrase_skip_langs;
};

/* The default of the obsolete textcat_conf: tells an old config's "" (no language) from no
 * setting at all. */
#define EM_OBSOLETE "(obsolete)"

static const struct nf_option extract_meta_options[] = {
    {"gazetteer", NF_OPT_PATH, "gazetteer.tsv", offsetof(struct extract_meta_conf, gazetteer),
     "Entity list: lines of type<TAB>canonical name<TAB>alias|alias|... (the header of "
     "conf/gazetteer.tsv documents the format). Empty: no list (names are still found as "
     "capitalised phrases unless phrases is false).", .flags = NF_OPT_READ_FILE},
    {"language", NF_OPT_BOOL, "true", offsetof(struct extract_meta_conf, language),
     "Identify the language of a text that has none yet (CLD2, Debian's libcld2: about 80 "
     "languages, no model files). A text CLD2 cannot tell reliably, or whose language has no "
     "ISO 639-1 code, gets none and is counted as lang_unknown."},
    {"textcat_conf", NF_OPT_STRING, EM_OBSOLETE, offsetof(struct extract_meta_conf, textcat_conf),
     "Obsolete (libexttextcat's model list; languages are CLD2's now): ignored with a warning. "
     "Set to the empty string it still turns language identification off, as it did; write "
     "language = false instead."},
    {"textcat_models", NF_OPT_STRING, "", offsetof(struct extract_meta_conf, textcat_models),
     "Obsolete (libexttextcat's model directory): ignored with a warning."},
    {"max_lang_bytes", NF_OPT_SIZE, "1K", offsetof(struct extract_meta_conf, max_lang_bytes),
     "Only this much of the start of the text is classified for its language: the cost grows "
     "with the input, and on news and web pages 1K decides as well as 2K.", .min = "16"},
    {"min_lang_bytes", NF_OPT_SIZE, "100", offsetof(struct extract_meta_conf, min_lang_bytes),
     "A text shorter than this gets no language: a sentence or two is too little to tell "
     "languages that share most words apart."},
    {"title_max_chars", NF_OPT_INT, "200", offsetof(struct extract_meta_conf, title_max_chars),
     "A title made from a first sentence longer than this is cut at a word boundary and ends "
     "with \"…\".", .min = "10"},
    {"phrases", NF_OPT_BOOL, "true", offsetof(struct extract_meta_conf, phrases),
     "Also report names the gazetteer lacks: runs of two to four capitalised words (\"al\", "
     "\"bin\", \"de\", \"van\", \"of\" may stand between them) that the text names twice, "
     "or once next to a title or \"said\"; typed by their words (Party, Ministry, Bank: an "
     "organisation; River, Province: a place) and cues (a title: a person; \"in X\": a place). "
     "A shorter later mention counts for the longest form (\"Goïta\" for \"Assimi Goïta\"). "
     "Gazetteer names come first: a phrase never overlaps one."},
    {"phrase_skip_langs", NF_OPT_STRING, "de lb",
     offsetof(struct extract_meta_conf, phrase_skip_langs),
     "Languages (ISO 639-1 codes separated by spaces) whose texts get no capitalised-phrase "
     "names: those that capitalise every noun, where capitals do not mark names."},
    {.name = NULL},
};

/* Month names and abbreviations, capitalised as in running text ("may" is a verb). */
#define EM_MONTH                                                                               \
    "(?=\\p{Lu})(?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|"          \
    "aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)(?![\\p{L}\\p{N}])"
#define EM_YEAR "((?:19|20)\\d\\d)(?![\\p{L}\\p{N}])"
#define EM_ORD "(?:st|nd|rd|th)?(?![\\p{L}\\p{N}])"

/* "September 16th, 2023", "Dec. 22", "16 September 2023", "22nd of December". Groups 1 and 2 are
 * month and day in either order (branch reset); 3 is the year if given. */
static const char extract_meta_date_re[] =
    "(?<![\\p{L}\\p{N}])(?|(" EM_MONTH ")\\.?\\s+(\\d{1,2})" EM_ORD "(?:(?:\\s*,\\s*|\\s+)"
    EM_YEAR ")?|(\\d{1,2})" EM_ORD "\\s+(?:of\\s+)?(" EM_MONTH ")\\.?(?:(?:\\s*,\\s*|\\s+)" EM_YEAR
    ")?)";

/* A dateline at the start of a paragraph: "BAMAKO, Mali — Dec. 22 — ", "NIAMEY (Reuters) - ",
 * "BAMAKO, Dec 22 (Reuters) - ", "Bamako (AFP) – ". Group 1: the place; 2: a region or country;
 * 3: an agency in parentheses. A place written in mixed case needs the agency to be told apart
 * from a sentence. */
#define EM_DATE_ANY                                                                            \
    "(?:" EM_MONTH "\\.?\\s+\\d{1,2}" EM_ORD "(?:,?\\s+(?:19|20)\\d\\d)?|\\d{1,2}\\s+" EM_MONTH  \
    "\\.?(?:,?\\s+(?:19|20)\\d\\d)?)"
#define EM_CAPS "\\p{Lu}[\\p{Lu}\\p{M}'’.-]*"
#define EM_WORD "\\p{Lu}[\\p{L}\\p{M}'’.-]*"
#define EM_REGION EM_WORD "(?:\\s+(?:(?:of|and|del|de)\\s+)?" EM_WORD "){0,3}"
#define EM_AGENCY "(\\(\\s*[\\p{L}\\p{N}][\\p{L}\\p{M}\\p{N}\\s.&'’/-]{0,40}\\))"
#define EM_SEP "\\s*[-–—]+\\s*"
#define EM_TAIL                                                                                \
    "(?:\\s*,\\s*(?!" EM_MONTH ")(" EM_REGION "))?(?:\\s*,?\\s*" EM_DATE_ANY ")?\\s*"
static const char extract_meta_dateline_re[] =
    "(?|(" EM_CAPS "(?:\\s+" EM_CAPS "){0,3})" EM_TAIL EM_AGENCY "?" EM_SEP "(?:" EM_DATE_ANY
    EM_SEP ")?|(" EM_WORD "(?:\\s+" EM_WORD "){0,3})" EM_TAIL EM_AGENCY EM_SEP "(?:" EM_DATE_ANY
    EM_SEP ")?)";

/* Abbreviations after which a full stop does not end a sentence. */
static const char *const extract_meta_abbrev[] = {
    "Mr",  "Mrs", "Ms",  "Dr",  "Prof", "Gen", "Col", "Lt",  "Capt", "Maj", "Sgt", "Cpl",
    "Adm", "Gov", "Sen", "Rep", "Pres", "St",  "Jr",  "Sr",  "Inc",  "Ltd", "Co",  "Corp",
    "vs",  "etc", "No",  "Nos", "Jan",  "Feb", "Mar", "Apr", "Jun",  "Jul", "Aug", "Sep",
    "Sept", "Oct", "Nov", "Dec", "approx", "Mt", "Ft", "Fig", "al",  "Hon", "Rev", "Brig",
};

#define EM_FOLD_OPTS                                                                           \
    (UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK)
/* Longest alias, in words. */
#define EM_MAX_TOKENS 12
/* Where a date in the prose is looked for: the lead, where the news is. */
#define EM_LEAD_BYTES 1200
#define EM_DATELINE_LINES 3

struct extract_meta_entity {
    enum nf_entity_type type;
    uint32_t name;       /* offset in pool */
    uint64_t first_word; /* hash of the canonical name's first folded word, as tokens have */
};

/* One alias, or (in the first-word table) one first word with the longest alias it starts. */
struct extract_meta_slot {
    uint64_t hash;
    uint32_t key, key_len; /* folded words joined by single spaces, in pool */
    uint32_t raw, raw_len; /* exact aliases: the words as written, joined likewise */
    uint32_t ent;          /* entity index */
    uint16_t words;        /* the alias's; in the first-word table, the longest alias's */
    uint8_t exact;
    uint8_t used;
};

struct extract_meta_token {
    uint32_t raw, raw_len;   /* in the text being tokenised */
    uint32_t fold, fold_len; /* in s->fold */
    bool joined;             /* only spaces, hyphens, apostrophes or full stops since the last */
    /* filled for the entity pass only */
    uint8_t flags;           /* EM_T_* */
    uint8_t cls;             /* EM_W_* of the folded word */
    uint64_t hash;           /* of the folded word, never 0 */
};

enum {
    EM_T_CAP = 1,      /* starts with a capital */
    EM_T_UPPER = 2,    /* all capitals, two letters or more: an acronym, or shouting */
    EM_T_LOWER = 4,    /* starts with a lower-case letter */
    EM_T_DIGIT = 8,    /* starts with a digit */
    EM_T_START = 16,   /* starts a sentence or a line */
    EM_T_BREAK = 32,   /* a full stop that ends a sentence lies between it and the last word */
    EM_T_COVERED = 64, /* part of a gazetteer match */
    EM_T_PHRASE = 128, /* part of a capitalised phrase */
};

/* Classes of words for the phrase finder. */
enum {
    EM_W_STOP = 1,     /* function words and sentence openers: never a name's first word */
    EM_W_TITLE = 2,    /* a person's name follows */
    EM_W_TIME = 4,     /* months and days: never part of a name */
    EM_W_ORG = 8,      /* makes a name an organisation's */
    EM_W_PLACE = 16,   /* makes a name a place's */
    EM_W_LINK = 32,    /* may stand in lower case inside a name */
    EM_W_AT = 64,      /* "in", "near": a place follows (only in lower case) */
    EM_W_SAID = 128,   /* a verb of saying: a person's name is next to it */
};

/* The word lists are English, the language of most of the news the pipeline reads; in other
 * languages the finder sees fewer cues and reports fewer names. */
static const struct {
    const char *words;
    uint8_t cls;
} extract_meta_words[] = {
    {"the a an in on at for but and or if when while as this that these those it its he she "
     "they we i you his her their our my your after before since with from by to of under "
     "over last next some many most all both each every however meanwhile also yet so then "
     "there here what who whom why how where which despite although though because until "
     "during about against among between into through across according no not nor one two "
     "three several other another such than only even just now today yesterday tomorrow "
     "earlier later instead still thus hence unlike like following amid",
     EM_W_STOP},
    {"mr mrs ms miss dr prof professor president vice gen general col colonel lt lieutenant "
     "capt captain maj major sgt sergeant adm admiral brig brigadier gov governor sen senator "
     "rep minister premier chancellor king queen prince princess sheikh emir sultan imam pope "
     "bishop archbishop cardinal judge justice ambassador envoy commander chief mayor "
     "secretary chairman chairwoman spokesman spokeswoman spokesperson leader prime lord "
     "lady sir dame coach manager striker defender midfielder goalkeeper officer executive "
     "director founder editor",
     EM_W_TITLE},
    {"january february march april may june july august september october november december "
     "jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday "
     "friday saturday sunday",
     EM_W_TIME},
    {"party council ministry bank union group agency company corporation corp inc ltd plc llc "
     "association organisation organization committee commission authority front movement "
     "army forces force police court university institute foundation federation alliance "
     "league fund programme program office department assembly parliament congress senate "
     "board service services network times news post press radio television tv airlines "
     "airways club fc trust society centre center coalition brigade brigades battalion "
     "regiment exchange holdings industries motors bureau secretariat mission corps guard "
     "church government administration academy school hospital cabinet records studios "
     "entertainment games systems technologies software labs journal magazine",
     EM_W_ORG},
    {"river lake mountains mount mountain province region city county district island "
     "islands valley desert street road square airport port bay gulf sea ocean coast "
     "peninsula plateau village town forest park canal strait",
     EM_W_PLACE},
    {"al el bin ibn ben abu ould ag de da du des del della di dos das van von der den la le",
     EM_W_LINK},
    {"of for", EM_W_LINK},
    {"said says told added stated declared announced insisted", EM_W_SAID},
    {"in near from outside inside", EM_W_AT},
};
#define EM_CLASS_MASK 1023u
/* Bits of the word filters (extract_meta_filter_*): a few per word of a table. */
#define EM_FILTER_BITS 8192u
/* Two to this many capitalised words make a name; a run of more is a headline. */
#define EM_MAX_NAME_WORDS 4
/* Distinct capitalised phrases looked at in one text (the rest of a huge text is skipped). */
#define EM_MAX_CANDS 2048

/* A capitalised phrase of the current text. */
struct extract_meta_cand {
    uint64_t hash, last;   /* of the folded key; of its last word */
    uint32_t key, key_len; /* folded words joined by single spaces, in s->ckey */
    uint32_t name, name_len; /* as first written, in the text */
    uint16_t words, caps;
    uint32_t into;         /* folded into the longer phrase into - 1; 0 if none */
    uint32_t place_votes;  /* mentions after "in", "near", "from" */
    int64_t mentions;
    bool person, said, org, place; /* person: after a title; said: next to "said" */
};

struct extract_meta_buf {
    char *p;
    size_t len, cap;
};

struct extract_meta_found {
    const char *name; /* until the entities are added, an offset in s->cname for phrases */
    int64_t mentions;
    enum nf_entity_type type;
    bool phrase;
};

struct extract_meta {
    const struct extract_meta_conf *conf;
    bool language;
    uint8_t ascii_cat[128]; /* utf8proc's category of each ASCII character */
    pcre2_code *date, *dateline;
    pcre2_match_data *md;

    struct extract_meta_buf pool;
    struct extract_meta_entity *ents;
    size_t n_ents, ents_cap;
    struct extract_meta_slot *aliases, *firsts; /* open addressing, power-of-two sizes */
    size_t alias_mask, first_mask;
    /* A bit per hash of a first word of an alias, and of a word of a class: most words of a
     * text are neither, and these 1 KB answer that where the tables (128 KB, 16 KB) cost a
     * cache miss a word. */
    uint64_t first_filter[EM_FILTER_BITS / 64], class_filter[EM_FILTER_BITS / 64];

    /* Work memory, reused across records. */
    utf8proc_int32_t *cps;
    size_t cps_cap;
    struct extract_meta_buf fold, key, raw, title;
    struct extract_meta_token *toks;
    size_t toks_cap;
    int64_t *counts; /* per entity, zero between records */
    struct extract_meta_found *found;
    size_t n_found, found_cap;
    uint32_t *touched;
    size_t n_touched;

    struct {
        uint64_t hash;
        uint8_t cls;
    } classes[EM_CLASS_MASK + 1];
    uint64_t *lower; /* hashes of the words the text writes in lower case */
    size_t lower_cap, lower_mask;
    struct extract_meta_cand *cands;
    size_t n_cands, cands_cap;
    struct extract_meta_buf ckey, cname;
};


static int extract_meta_append(struct extract_meta_buf *b, const void *p, size_t n)
{
    if (nfu_grow(&b->p, &b->cap, b->len + n + 1, 1) < 0)
        return -1;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static bool extract_meta_valid_utf8(const char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        if ((unsigned char)p[i] < 0x80) {
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t k =
            utf8proc_iterate((const utf8proc_uint8_t *)p + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k < 1)
            return false;
        i += (size_t)k;
    }
    return true;
}

/* ---- words ---------------------------------------------------------------------------- */

/* Appends the folded form of one word (case, accents and compatibility forms removed) to
 * s->fold. `ascii`: the word is all ASCII. */
static int extract_meta_fold(struct extract_meta *s, const char *p, size_t n, bool ascii)
{
    /* Most words of most news are ASCII, where folding is lower-casing: no need for utf8proc's
     * tables there. */
    if (ascii) {
        if (nfu_grow(&s->fold.p, &s->fold.cap, s->fold.len + n + 1, 1) < 0)
            return -1;
        char *f = s->fold.p + s->fold.len;
        for (size_t i = 0; i < n; i++)
            f[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + ('a' - 'A') : p[i]);
        s->fold.len += n;
        s->fold.p[s->fold.len] = '\0';
        return 0;
    }
    for (;;) {
        utf8proc_ssize_t r =
            utf8proc_decompose((const utf8proc_uint8_t *)p, (utf8proc_ssize_t)n, s->cps,
                               (utf8proc_ssize_t)s->cps_cap, EM_FOLD_OPTS);
        if (r < 0)
            return -1;
        if ((size_t)r < s->cps_cap) {
            r = utf8proc_reencode(s->cps, r, EM_FOLD_OPTS);
            return r < 0 ? -1 : extract_meta_append(&s->fold, s->cps, (size_t)r);
        }
        if (nfu_grow(&s->cps, &s->cps_cap, (size_t)r + 1, sizeof(*s->cps)) < 0)
            return -1;
    }
}

/* The character at p (n > 0 bytes left): its length, its code point in *cp_out and its
 * category in *cat_out. ASCII, nearly all of most news, comes from a table filled at start-up
 * instead of utf8proc's (the two calls per character were a tenth of the stage's time). An
 * invalid sequence is one byte of U+FFFD. */
static size_t extract_meta_char(const struct extract_meta *s, const char *p, size_t n,
                                utf8proc_int32_t *cp_out, utf8proc_category_t *cat_out)
{
    unsigned char c = (unsigned char)*p;
    if (c < 0x80) {
        *cp_out = c;
        *cat_out = (utf8proc_category_t)s->ascii_cat[c];
        return 1;
    }
    utf8proc_ssize_t k =
        utf8proc_iterate((const utf8proc_uint8_t *)p, (utf8proc_ssize_t)n, cp_out);
    if (k < 1) {
        *cp_out = 0xFFFD;
        k = 1;
    }
    *cat_out = utf8proc_category(*cp_out);
    return (size_t)k;
}

/* Letters, marks and digits: what words are made of. */
static bool extract_meta_word_cat(utf8proc_category_t cat)
{
    return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_NO;
}

/* Separators that may sit inside a name: "al-Qaeda", "Côte d'Ivoire", "U.S.", "Burkina Faso". A
 * comma, a bracket, a dash between clauses or a line break ends it. */
static bool extract_meta_joining(utf8proc_int32_t cp)
{
    switch (cp) {
    case ' ': case '-': case '\'': case '.': case 0x2010: case 0x2011: case 0x2013:
    case 0x2019: case 0x02BC: case 0x00A0:
        return true;
    default:
        return false;
    }
}

/* Splits `p` into words (runs of letters, marks and digits) with their folded forms, into
 * s->toks and s->fold. Returns the number of words or -1. */
static long extract_meta_tokenize(struct extract_meta *s, const char *p, size_t n)
{
    s->fold.len = 0;
    size_t count = 0;
    bool joined = false; /* only joining separators since the last word */
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_category_t cat;
        size_t k = extract_meta_char(s, p + i, n - i, &cp, &cat);
        if (!extract_meta_word_cat(cat)) {
            if (!extract_meta_joining(cp))
                joined = false;
            i += k;
            continue;
        }
        size_t start = i;
        bool ascii = k == 1;
        /* the rest of the word; ASCII letters and digits without a call */
        for (i += k; i < n; i += k) {
            unsigned char c = (unsigned char)p[i];
            if (c < 0x80) {
                if (!extract_meta_word_cat((utf8proc_category_t)s->ascii_cat[c]))
                    break;
                k = 1;
                continue;
            }
            k = extract_meta_char(s, p + i, n - i, &cp, &cat);
            if (!extract_meta_word_cat(cat))
                break;
            ascii = false;
        }
        size_t fold = s->fold.len;
        if (extract_meta_fold(s, p + start, i - start, ascii) < 0)
            return -1;
        if (s->fold.len > fold) { /* a word of marks alone folds to nothing */
            if (nfu_grow(&s->toks, &s->toks_cap, count + 1, sizeof(*s->toks)) < 0)
                return -1;
            size_t at = count++;
            s->toks[at] = (struct extract_meta_token){
                (uint32_t)start, (uint32_t)(i - start), (uint32_t)fold,
                (uint32_t)(s->fold.len - fold), joined && at > 0, 0, 0, 0};
        }
        joined = true;
    }
    return (long)count;
}

/* Joins the folded (and, for exact aliases, the written) forms of words i..i+k-1 with single
 * spaces into s->key and s->raw. */
static int extract_meta_key(struct extract_meta *s, const char *text, size_t i, size_t k,
                            bool with_raw)
{
    /* the room first, then the words: this runs for every word that starts an alias */
    size_t key_len = 0, raw_len = 0;
    for (size_t j = i; j < i + k; j++) {
        key_len += s->toks[j].fold_len + 1;
        raw_len += s->toks[j].raw_len + 1;
    }
    if (nfu_grow(&s->key.p, &s->key.cap, key_len + 1, 1) < 0 ||
        (with_raw && nfu_grow(&s->raw.p, &s->raw.cap, raw_len + 1, 1) < 0))
        return -1;
    s->key.len = s->raw.len = 0;
    for (size_t j = i; j < i + k; j++) {
        const struct extract_meta_token *t = &s->toks[j];
        if (j > i)
            s->key.p[s->key.len++] = ' ';
        memcpy(s->key.p + s->key.len, s->fold.p + t->fold, t->fold_len);
        s->key.len += t->fold_len;
        if (with_raw) {
            if (j > i)
                s->raw.p[s->raw.len++] = ' ';
            memcpy(s->raw.p + s->raw.len, text + t->raw, t->raw_len);
            s->raw.len += t->raw_len;
        }
    }
    s->key.p[s->key.len] = '\0';
    if (with_raw)
        s->raw.p[s->raw.len] = '\0';
    return 0;
}

/* ---- gazetteer ------------------------------------------------------------------------ */

static uint64_t extract_meta_hash(const char *p, size_t n)
{
    return XXH3_64bits(p, n);
}

/* The filter bit of a word hash: bits the tables' slots are not chosen by. */
static void extract_meta_filter_add(uint64_t *filter, uint64_t h)
{
    uint64_t b = (h >> 40) & (EM_FILTER_BITS - 1);
    filter[b / 64] |= (uint64_t)1 << (b % 64);
}

static bool extract_meta_filter_has(const uint64_t *filter, uint64_t h)
{
    uint64_t b = (h >> 40) & (EM_FILTER_BITS - 1);
    return filter[b / 64] >> (b % 64) & 1;
}

static bool extract_meta_slot_key(const struct extract_meta *s, const struct extract_meta_slot *e,
                                  uint64_t h, const char *key, size_t len)
{
    return e->hash == h && e->key_len == len && memcmp(s->pool.p + e->key, key, len) == 0;
}

/* The alias the words in s->key (written as s->raw) name: an exact alias written just so wins
 * over one that ignores case. NULL if none. */
static const struct extract_meta_slot *extract_meta_lookup(const struct extract_meta *s)
{
    if (!s->aliases)
        return NULL;
    uint64_t h = extract_meta_hash(s->key.p, s->key.len);
    const struct extract_meta_slot *best = NULL;
    for (size_t i = h & s->alias_mask; s->aliases[i].used; i = (i + 1) & s->alias_mask) {
        const struct extract_meta_slot *e = &s->aliases[i];
        if (!extract_meta_slot_key(s, e, h, s->key.p, s->key.len))
            continue;
        if (!e->exact) {
            if (!best)
                best = e;
        } else if (e->raw_len == s->raw.len &&
                   memcmp(s->pool.p + e->raw, s->raw.p, s->raw.len) == 0) {
            return e;
        }
    }
    return best;
}

/* The longest alias that starts with the folded word w, in words; 0 if none. The first-word
 * table is keyed by the hash words have as tokens (extract_meta_token_info), so a word is
 * hashed once. */
static size_t extract_meta_first(const struct extract_meta *s, const struct extract_meta_token *w)
{
    if (!s->firsts || !extract_meta_filter_has(s->first_filter, w->hash))
        return 0;
    for (size_t i = w->hash & s->first_mask; s->firsts[i].used; i = (i + 1) & s->first_mask)
        if (extract_meta_slot_key(s, &s->firsts[i], w->hash, s->fold.p + w->fold, w->fold_len))
            return s->firsts[i].words;
    return 0;
}

/* Inserts a parsed alias into the table. Returns 0, or 1 when another entity already has it
 * (the first keeps it). */
static int extract_meta_insert(struct extract_meta *s, const struct extract_meta_slot *a)
{
    size_t i = a->hash & s->alias_mask;
    for (; s->aliases[i].used; i = (i + 1) & s->alias_mask) {
        const struct extract_meta_slot *e = &s->aliases[i];
        if (!extract_meta_slot_key(s, e, a->hash, s->pool.p + a->key, a->key_len) ||
            e->exact != a->exact)
            continue;
        if (a->exact && (e->raw_len != a->raw_len ||
                         memcmp(s->pool.p + e->raw, s->pool.p + a->raw, a->raw_len) != 0))
            continue;
        return e->ent == a->ent ? 0 : 1;
    }
    s->aliases[i] = *a;
    s->aliases[i].used = 1;

    /* first word: the key up to its first space */
    const char *k = s->pool.p + a->key;
    const char *sp = memchr(k, ' ', a->key_len);
    size_t wl = sp ? (size_t)(sp - k) : a->key_len;
    uint64_t h = extract_meta_hash(k, wl) | 1; /* as a token's (extract_meta_token_info) */
    for (i = h & s->first_mask;
         s->firsts[i].used && !extract_meta_slot_key(s, &s->firsts[i], h, k, wl);
         i = (i + 1) & s->first_mask)
        ;
    struct extract_meta_slot *f = &s->firsts[i];
    extract_meta_filter_add(s->first_filter, h);
    if (!f->used)
        *f = (struct extract_meta_slot){
            .hash = h, .key = a->key, .key_len = (uint32_t)wl, .words = a->words, .used = 1};
    else if (f->words < a->words)
        f->words = a->words;
    return 0;
}

static char *extract_meta_trim(char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = strlen(p);
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n'))
        p[--n] = '\0';
    return p;
}

/* Tokenises one alias and appends it to *list. Returns 0, or -1 with the reason given. */
static int extract_meta_parse_alias(struct extract_meta *s, struct nf_ctx *ctx,
                                    struct extract_meta_slot **list, size_t *n, size_t *cap,
                                    uint32_t ent, const char *alias, bool exact,
                                    const char *where)
{
    char *nfc = (char *)utf8proc_NFC((const utf8proc_uint8_t *)alias);
    if (!nfc) {
        nf_ctx_error(ctx, "%s: alias \"%s\" is not valid UTF-8", where, alias);
        return -1;
    }
    int rc = -1;
    long words = extract_meta_tokenize(s, nfc, strlen(nfc));
    if (words < 0) {
        nf_ctx_error(ctx, "out of memory");
        goto out;
    }
    if (words == 0 || words > EM_MAX_TOKENS) {
        if (words)
            nf_ctx_error(ctx, "%s: alias \"%s\" has more than %d words", where, alias,
                         EM_MAX_TOKENS);
        else
            nf_ctx_error(ctx, "%s: alias \"%s\" has no letter or digit", where, alias);
        goto out;
    }
    if (extract_meta_key(s, nfc, 0, (size_t)words, exact) < 0 ||
        nfu_grow(list, cap, *n + 1, sizeof(**list)) < 0)
        goto nomem;
    struct extract_meta_slot a = {
        .hash = extract_meta_hash(s->key.p, s->key.len),
        .key = (uint32_t)s->pool.len,
        .key_len = (uint32_t)s->key.len,
        .ent = ent,
        .words = (uint16_t)words,
        .exact = exact,
    };
    if (extract_meta_append(&s->pool, s->key.p, s->key.len + 1) < 0)
        goto nomem;
    if (exact) {
        a.raw = (uint32_t)s->pool.len;
        a.raw_len = (uint32_t)s->raw.len;
        if (extract_meta_append(&s->pool, s->raw.p, s->raw.len + 1) < 0)
            goto nomem;
    }
    (*list)[(*n)++] = a;
    rc = 0;
    goto out;
nomem:
    nf_ctx_error(ctx, "out of memory");
out:
    free(nfc);
    return rc;
}

/* Reads the gazetteer into s->ents and the two hash tables. */
static int extract_meta_load(struct extract_meta *s, struct nf_ctx *ctx, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        nf_ctx_error(ctx, "cannot open gazetteer %s (%s): %s", path,
                     nf_ctx_option_where(ctx, "gazetteer"), strerror(errno));
        return -1;
    }
    struct extract_meta_slot *list = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL, where[600];
    size_t line_cap = 0;
    long lineno = 0;
    int rc = -1;
    while (getline(&line, &line_cap, f) >= 0) {
        lineno++;
        snprintf(where, sizeof(where), "%s:%ld", path, lineno);
        char *p = extract_meta_trim(line);
        if (!*p || *p == '#')
            continue;
        char *tab1 = strchr(p, '\t');
        char *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
        if (!tab1 || (tab2 && strchr(tab2 + 1, '\t'))) {
            nf_ctx_error(ctx, "%s: expected type<TAB>canonical name<TAB>aliases", where);
            goto out;
        }
        *tab1 = '\0';
        if (tab2)
            *tab2 = '\0';
        char *name = extract_meta_trim(tab1 + 1);
        char *aliases = tab2 ? tab2 + 1 : (char *)"";
        int type = nf_entity_type_parse(extract_meta_trim(p));
        if (type < 0) {
            nf_ctx_error(ctx, "%s: unknown type \"%s\" (person, org, place or other)", where, p);
            goto out;
        }
        if (!*name) {
            nf_ctx_error(ctx, "%s: the canonical name is empty", where);
            goto out;
        }
        char *nfc = (char *)utf8proc_NFC((const utf8proc_uint8_t *)name);
        if (!nfc) {
            nf_ctx_error(ctx, "%s: \"%s\" is not valid UTF-8", where, name);
            goto out;
        }
        if (nfu_grow(&s->ents, &s->ents_cap, s->n_ents + 1, sizeof(*s->ents)) < 0) {
            free(nfc);
            nf_ctx_error(ctx, "out of memory");
            goto out;
        }
        uint32_t ent = (uint32_t)s->n_ents++;
        s->ents[ent] = (struct extract_meta_entity){(enum nf_entity_type)type,
                                                    (uint32_t)s->pool.len, 0};
        int ok = extract_meta_append(&s->pool, nfc, strlen(nfc) + 1);
        free(nfc);
        if (ok < 0) {
            nf_ctx_error(ctx, "out of memory");
            goto out;
        }
        size_t first = n;
        for (char *save = NULL, *a = strtok_r(aliases, "|", &save); a;
             a = strtok_r(NULL, "|", &save)) {
            a = extract_meta_trim(a);
            bool exact = *a == '=';
            if (exact)
                a = extract_meta_trim(a + 1);
            if (*a && extract_meta_parse_alias(s, ctx, &list, &n, &cap, ent, a, exact, where) < 0)
                goto out;
        }
        /* The name is an alias too, unless one of its aliases already stands for it (written
         * with = to make the name itself case-sensitive). */
        size_t before = n;
        if (extract_meta_parse_alias(s, ctx, &list, &n, &cap, ent, name, false, where) < 0)
            goto out;
        const struct extract_meta_slot *self = &list[before];
        size_t first_len = strcspn(s->pool.p + self->key, " ");
        s->ents[ent].first_word = extract_meta_hash(s->pool.p + self->key, first_len) | 1;
        for (size_t i = first; i < before; i++)
            if (list[i].key_len == self->key_len &&
                memcmp(s->pool.p + list[i].key, s->pool.p + self->key, self->key_len) == 0) {
                n = before;
                break;
            }
    }
    if (ferror(f)) {
        nf_ctx_error(ctx, "cannot read gazetteer %s (%s): %s", path,
                     nf_ctx_option_where(ctx, "gazetteer"), strerror(errno));
        goto out;
    }

    size_t size = 16;
    while (size < 2 * n)
        size *= 2;
    s->aliases = calloc(size, sizeof(*s->aliases));
    s->firsts = calloc(size, sizeof(*s->firsts));
    s->counts = calloc(s->n_ents ? s->n_ents : 1, sizeof(*s->counts));
    s->touched = malloc((s->n_ents ? s->n_ents : 1) * sizeof(*s->touched));
    if (!s->aliases || !s->firsts || !s->counts || !s->touched) {
        nf_ctx_error(ctx, "out of memory");
        goto out;
    }
    s->alias_mask = s->first_mask = size - 1;
    size_t clashes = 0;
    for (size_t i = 0; i < n; i++) {
        if (extract_meta_insert(s, &list[i]) == 0)
            continue;
        if (clashes++ == 0)
            nf_log(ctx, NF_LOG_WARN,
                   "gazetteer %s: \"%s\" of %s is already an alias of an earlier entry; the "
                   "earlier one keeps it",
                   path, s->pool.p + list[i].key, s->pool.p + s->ents[list[i].ent].name);
    }
    if (clashes > 1)
        nf_log(ctx, NF_LOG_WARN, "gazetteer %s: %zu aliases claimed twice in all", path,
               clashes);
    nf_log(ctx, NF_LOG_INFO, "gazetteer %s: %zu entities, %zu aliases", path, s->n_ents, n);
    rc = 0;
out:
    free(list);
    free(line);
    fclose(f);
    return rc;
}

/* ---- init and destroy ----------------------------------------------------------------- */


static void extract_meta_destroy(void *state)
{
    struct extract_meta *s = state;
    if (!s)
        return;
    pcre2_code_free(s->date);
    pcre2_code_free(s->dateline);
    pcre2_match_data_free(s->md);
    free(s->pool.p);
    free(s->ents);
    free(s->aliases);
    free(s->firsts);
    free(s->cps);
    free(s->fold.p);
    free(s->key.p);
    free(s->raw.p);
    free(s->title.p);
    free(s->toks);
    free(s->counts);
    free(s->touched);
    free(s->found);
    free(s->lower);
    free(s->cands);
    free(s->ckey.p);
    free(s->cname.p);
    free(s);
}

static int extract_meta_classes_init(struct extract_meta *s);

static int extract_meta_init(struct nf_ctx *ctx, const void *vconf, void **state_out)
{
    const struct extract_meta_conf *conf = vconf;
    struct extract_meta *s = calloc(1, sizeof(*s));
    if (!s) {
        nf_ctx_error(ctx, "out of memory");
        return NF_ERR;
    }
    s->conf = conf;
    for (int c = 0; c < 128; c++)
        s->ascii_cat[c] = (uint8_t)utf8proc_category(c);
    /* max_lang_bytes >= 16 and title_max_chars >= 10: the option table's bounds */
    if (!(s->date = nfu_compile(ctx, "date pattern", extract_meta_date_re, PCRE2_ANCHORED)) ||
        !(s->dateline = nfu_compile(ctx, "dateline pattern", extract_meta_dateline_re,
                                             PCRE2_ANCHORED)))
        goto fail;
    if (extract_meta_classes_init(s) < 0) {
        nf_ctx_error(ctx, "word class table too small");
        goto fail;
    }
    if (!(s->md = pcre2_match_data_create(16, NULL))) {
        nf_ctx_error(ctx, "out of memory");
        goto fail;
    }
    s->language = conf->language;
    if (conf->textcat_conf && strcmp(conf->textcat_conf, EM_OBSOLETE) != 0) {
        if (!*conf->textcat_conf) {
            s->language = false;
            nf_log(ctx, NF_LOG_WARN, "textcat_conf is obsolete: write language = false to turn "
                                     "language identification off (it is off)");
        } else {
            nf_log(ctx, NF_LOG_WARN, "textcat_conf \"%s\" is ignored: languages are CLD2's now, "
                                     "which needs no model files; remove the option",
                   conf->textcat_conf);
        }
    }
    if (conf->textcat_models && *conf->textcat_models)
        nf_log(ctx, NF_LOG_WARN, "textcat_models \"%s\" is ignored: languages are CLD2's now, "
                                 "which needs no model files; remove the option",
               conf->textcat_models);
    if (conf->gazetteer && *conf->gazetteer && extract_meta_load(s, ctx, conf->gazetteer) < 0)
        goto fail;
    *state_out = s;
    return NF_OK;
fail:
    extract_meta_destroy(s);
    return NF_ERR;
}

/* ---- dates ---------------------------------------------------------------------------- */

static int extract_meta_month(const char *p)
{
    static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    char m[3] = {(char)tolower((unsigned char)p[0]), (char)tolower((unsigned char)p[1]),
                 (char)tolower((unsigned char)p[2])};
    for (int i = 0; i < 12; i++)
        if (memcmp(names + 3 * i, m, 3) == 0)
            return i + 1;
    return 0;
}

struct extract_meta_date {
    int y, m, d; /* y == 0: the text gave no year */
};

/* Whether a date may start at t[i] (t[i, to) is what is left): the pattern opens with one or
 * two digits of a day, or a capitalised month name (its first three letters), after no letter
 * or digit. Only those places are tried (the anchored pattern at each) instead of letting
 * PCRE2 try every byte of the lead, which was a seventh of the stage's instructions. A
 * character outside ASCII is left to PCRE2: a digit of another script is a digit to \d. */
static bool extract_meta_date_start(const char *t, size_t i, size_t to)
{
    static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    const unsigned char *u = (const unsigned char *)t;
    unsigned char c = u[i];
    if (c >= 0x80)
        return c >= 0xC0; /* a character's first byte, not one inside it */
    bool digit = c >= '0' && c <= '9';
    if ((!digit && (c < 'A' || c > 'Z')) || (i > 0 && u[i - 1] < 0x80 && isalnum(u[i - 1])))
        return false;
    if (digit) {
        /* not a third digit: "2023" and "100" are no day */
        size_t k = i + 1;
        while (k < to && k < i + 3 && u[k] >= '0' && u[k] <= '9')
            k++;
        return k < i + 3;
    }
    if (i + 3 > to || u[i + 1] >= 0x80 || u[i + 2] >= 0x80)
        return false;
    char m[3] = {(char)tolower(c), (char)tolower(u[i + 1]), (char)tolower(u[i + 2])};
    for (size_t k = 0; k < sizeof(months) - 1; k += 3)
        if (memcmp(months + k, m, 3) == 0)
            return true;
    return false;
}

/* The next well-formed date in t[*from, to), moving *from past it. Returns 1, or 0 if none. */
static int extract_meta_next_date(struct extract_meta *s, const char *t, size_t *from, size_t to,
                                  struct extract_meta_date *out)
{
    while (*from < to) {
        if (!extract_meta_date_start(t, *from, to) ||
            pcre2_match(s->date, (PCRE2_SPTR)t, to, *from, PCRE2_NO_UTF_CHECK, s->md, NULL) < 0) {
            (*from)++;
            continue;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
        *from = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
        bool day_first = isdigit((unsigned char)t[ov[2]]);
        int day = atoi(t + (day_first ? ov[2] : ov[4]));
        int month = extract_meta_month(t + (day_first ? ov[4] : ov[2]));
        int year = ov[6] == PCRE2_UNSET ? 0 : atoi(t + ov[6]);
        /* without a year, 29 February may be right: check against a leap year */
        if (nfu_date_valid(year ? year : 2000, month, day)) {
            *out = (struct extract_meta_date){year, month, day};
            return 1;
        }
    }
    return 0;
}

static int extract_meta_set_date(struct nf_record *rec, const struct extract_meta_date *d)
{
    return nf_record_set_strf(rec, NF_F_PUBLISHED_AT, "%04d-%02d-%02d", d->y, d->m, d->d);
}

/* ---- dateline ------------------------------------------------------------------------- */

/* "BAMAKO" -> "Bamako", "N'DJAMENA" -> "N'Djamena"; a name in mixed case is kept as written. */
static int extract_meta_title_case(struct extract_meta *s, const char *p, size_t n)
{
    s->title.len = 0;
    bool lower_seen = false;
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k =
            utf8proc_iterate((const utf8proc_uint8_t *)p + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k < 1)
            return -1;
        lower_seen |= utf8proc_category(cp) == UTF8PROC_CATEGORY_LL;
        i += (size_t)k;
    }
    if (lower_seen)
        return extract_meta_append(&s->title, p, n);
    bool start = true;
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k =
            utf8proc_iterate((const utf8proc_uint8_t *)p + i, (utf8proc_ssize_t)(n - i), &cp);
        utf8proc_uint8_t enc[4];
        utf8proc_int32_t c = start ? cp : utf8proc_tolower(cp);
        if (extract_meta_append(&s->title, enc, (size_t)utf8proc_encode_char(c, enc)) < 0)
            return -1;
        start = cp == ' ' || cp == '-' || cp == '\'' || cp == 0x2019;
        i += (size_t)k;
    }
    return 0;
}

/* Looks for a dateline at the start of the first few lines. Sets dateline (and published_at
 * when the dateline's date has a year) if absent. *skip_out: where the first line's text
 * starts after a dateline, 0 if it has none; *date_out: the dateline's date, zero if none. */
static int extract_meta_dateline(struct extract_meta *s, struct nf_record *rec, const char *t,
                                 size_t n, size_t *skip_out, struct extract_meta_date *date_out)
{
    *skip_out = 0;
    *date_out = (struct extract_meta_date){0, 0, 0};
    size_t pos = 0;
    for (int line = 0; line < EM_DATELINE_LINES && pos < n; line++) {
        while (pos < n && t[pos] == '\n')
            pos++;
        const char *nl = memchr(t + pos, '\n', n - pos);
        size_t end = nl ? (size_t)(nl - t) : n;
        if (pcre2_match(s->dateline, (PCRE2_SPTR)t, end, pos, PCRE2_NO_UTF_CHECK, s->md, NULL) <
            0) {
            pos = end;
            continue;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
        size_t match_end = ov[1], place = ov[2], place_len = ov[3] - ov[2];
        size_t agency_at = ov[6], agency_end = ov[7];
        bool region = ov[4] != PCRE2_UNSET, agency = agency_at != PCRE2_UNSET;

        /* A known place gets its canonical spelling; an unknown one counts only with the
         * country or agency that marks a dateline ("EXCLUSIVE -" is not a place). */
        const char *canon = NULL;
        long words = extract_meta_tokenize(s, t + place, place_len);
        if (words < 0)
            return -1;
        if (words > 0 && words <= EM_MAX_TOKENS) {
            if (extract_meta_key(s, t + place, 0, (size_t)words, true) < 0)
                return -1;
            const struct extract_meta_slot *e = extract_meta_lookup(s);
            if (e && s->ents[e->ent].type == NF_ENT_PLACE)
                canon = s->pool.p + s->ents[e->ent].name;
        }
        if (!canon && !region && !agency) {
            pos = end;
            continue;
        }
        if (!canon) {
            if (extract_meta_title_case(s, t + place, place_len) < 0)
                return -1;
            canon = s->title.p;
        }
        if (!nf_record_has(rec, NF_F_DATELINE) && nf_record_set_dateline(rec, canon) < 0)
            return -1;
        /* "(Reuters)", "(AFP)": the wire the story came from */
        if (agency && !nf_record_has(rec, NF_F_OUTLET)) {
            size_t a0 = agency_at + 1, a1 = agency_end - 1; /* inside the parentheses */
            while (a0 < a1 && t[a0] == ' ')
                a0++;
            while (a1 > a0 && t[a1 - 1] == ' ')
                a1--;
            if (a1 > a0 && nf_record_set_str(rec, NF_F_OUTLET, t + a0, a1 - a0) < 0)
                return -1;
        }
        size_t from = pos;
        if (extract_meta_next_date(s, t, &from, match_end, date_out) && date_out->y &&
            !nf_record_has(rec, NF_F_PUBLISHED_AT) && extract_meta_set_date(rec, date_out) < 0)
            return -1;
        if (line == 0)
            *skip_out = match_end;
        return 0;
    }
    return 0;
}

/* ---- title ---------------------------------------------------------------------------- */

/* Whether the full stop at t[i] closes an abbreviation or an initial rather than a sentence. */
static bool extract_meta_abbrev_at(const char *t, size_t from, size_t i)
{
    size_t w = i;
    while (w > from && (isalpha((unsigned char)t[w - 1]) || t[w - 1] == '.'))
        w--;
    size_t len = i - w;
    if (len == 0)
        return false;
    if (memchr(t + w, '.', len) || (len == 1 && isupper((unsigned char)t[w])))
        return true; /* "U.S.", "J." */
    for (size_t k = 0; k < sizeof(extract_meta_abbrev) / sizeof(*extract_meta_abbrev); k++)
        if (strlen(extract_meta_abbrev[k]) == len &&
            memcmp(extract_meta_abbrev[k], t + w, len) == 0)
            return true;
    return false;
}

static bool extract_meta_closing(utf8proc_int32_t cp)
{
    return cp == '"' || cp == '\'' || cp == ')' || cp == 0x2019 || cp == 0x201D || cp == 0x00BB;
}

/* The end of the first sentence of t[from, to): just before a final full stop, or after a
 * "!", "?" or "…" and any closing quotes. `to` when the line has no sentence end. */
static size_t extract_meta_sentence_end(const char *t, size_t from, size_t to)
{
    for (size_t i = from; i < to;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k =
            utf8proc_iterate((const utf8proc_uint8_t *)t + i, (utf8proc_ssize_t)(to - i), &cp);
        if (k < 1)
            return to;
        size_t at = i;
        i += (size_t)k;
        if (cp != '.' && cp != '!' && cp != '?' && cp != 0x2026)
            continue;
        size_t after = i;
        while (after < to) {
            utf8proc_int32_t q;
            utf8proc_ssize_t qk = utf8proc_iterate((const utf8proc_uint8_t *)t + after,
                                                   (utf8proc_ssize_t)(to - after), &q);
            if (qk < 1 || !extract_meta_closing(q))
                break;
            after += (size_t)qk;
        }
        if (after < to && t[after] != ' ')
            continue; /* "5.000", "U.S.A", "e.g.," */
        if (cp == '.' && extract_meta_abbrev_at(t, from, at))
            continue;
        if (after + 1 < to) {
            utf8proc_int32_t next;
            if (utf8proc_iterate((const utf8proc_uint8_t *)t + after + 1,
                                 (utf8proc_ssize_t)(to - after - 1), &next) > 0 &&
                utf8proc_category(next) == UTF8PROC_CATEGORY_LL)
                continue; /* a sentence does not start in lower case */
        }
        return cp == '.' && after == i ? at : after;
    }
    return to;
}

static int extract_meta_title(struct extract_meta *s, struct nf_record *rec, const char *t,
                              size_t n, size_t skip)
{
    size_t b = skip;
    while (b < n && (t[b] == ' ' || t[b] == '\n'))
        b++;
    const char *nl = memchr(t + b, '\n', n - b);
    size_t e = extract_meta_sentence_end(t, b, nl ? (size_t)(nl - t) : n);
    while (e > b && (t[e - 1] == ' ' || t[e - 1] == ',' || t[e - 1] == ';' || t[e - 1] == ':'))
        e--;
    if (e == b)
        return 0;

    /* Cut a long sentence at the last space that leaves room for the ellipsis. */
    size_t max = (size_t)s->conf->title_max_chars, chars = 0, cut = 0, last_space = 0;
    for (size_t i = b; i < e; i++) {
        if (((unsigned char)t[i] & 0xC0) == 0x80)
            continue;
        if (chars == max - 1)
            cut = i;
        if (t[i] == ' ' && chars < max)
            last_space = i;
        chars++;
    }
    s->title.len = 0;
    if (chars <= max)
        return nf_record_set_str(rec, NF_F_TITLE, t + b, e - b);
    size_t end = last_space > b ? last_space : cut;
    while (end > b && strchr(" ,;:-", t[end - 1]))
        end--;
    if (extract_meta_append(&s->title, t + b, end - b) < 0 ||
        extract_meta_append(&s->title, "\xE2\x80\xA6", 3) < 0)
        return -1;
    return nf_record_set_str(rec, NF_F_TITLE, s->title.p, s->title.len);
}

/* ---- language ------------------------------------------------------------------------- */

static int extract_meta_lang(struct nf_ctx *ctx, struct nf_record *rec, const char *t,
                             size_t n, size_t max)
{
    size_t len = n < max ? n : max;
    while (len < n && len > 0 && ((unsigned char)t[len] & 0xC0) == 0x80)
        len--;
    const char *code = lang_detect(t, len);
    if (!code) {
        nf_ctx_count(ctx, "lang_unknown", 1);
        return 0;
    }
    return nf_record_set_cstr(rec, NF_F_LANG, code);
}

/* ---- entities ------------------------------------------------------------------------- */

static int extract_meta_found_cmp(const void *a, const void *b)
{
    const struct extract_meta_found *x = a, *y = b;
    if (x->mentions != y->mentions)
        return x->mentions > y->mentions ? -1 : 1;
    int c = strcmp(x->name, y->name);
    return c ? c : (int)x->type - (int)y->type;
}

static uint8_t extract_meta_class(const struct extract_meta *s, uint64_t h)
{
    if (!extract_meta_filter_has(s->class_filter, h))
        return 0;
    for (size_t i = h & EM_CLASS_MASK; s->classes[i].hash; i = (i + 1) & EM_CLASS_MASK)
        if (s->classes[i].hash == h)
            return s->classes[i].cls;
    return 0;
}

static int extract_meta_classes_init(struct extract_meta *s)
{
    for (size_t c = 0; c < sizeof(extract_meta_words) / sizeof(*extract_meta_words); c++) {
        for (const char *w = extract_meta_words[c].words; *w;) {
            size_t len = strcspn(w, " ");
            uint64_t h = extract_meta_hash(w, len) | 1;
            size_t i = h & EM_CLASS_MASK, probes = 0;
            while (s->classes[i].hash && s->classes[i].hash != h) {
                i = (i + 1) & EM_CLASS_MASK;
                if (++probes > EM_CLASS_MASK)
                    return -1; /* the table is too small for the lists: a build mistake */
            }
            s->classes[i].hash = h;
            s->classes[i].cls |= extract_meta_words[c].cls;
            extract_meta_filter_add(s->class_filter, h);
            w += len;
            while (*w == ' ')
                w++;
        }
    }
    return 0;
}

static bool extract_meta_lower_seen(const struct extract_meta *s, uint64_t h)
{
    for (size_t i = h & s->lower_mask; s->lower[i]; i = (i + 1) & s->lower_mask)
        if (s->lower[i] == h)
            return true;
    return false;
}

/* Whether a full stop between two words ends a sentence, rather than an initial ("George W.
 * Bush") or a title ("Mr. Musa"). */
static bool extract_meta_stop_before(const struct extract_meta *s, const char *t, size_t k)
{
    const struct extract_meta_token *p = &s->toks[k - 1], *w = &s->toks[k];
    size_t end = p->raw + p->raw_len;
    if (!memchr(t + end, '.', w->raw - end))
        return false;
    return !((p->raw_len == 1 && (p->flags & EM_T_CAP)) || (p->cls & EM_W_TITLE));
}

/* Word by word: capitalisation, sentence starts, folded-word hashes and classes, and the
 * set of words the text also writes in lower case (a capitalised one of those at a sentence
 * start is an ordinary word, not a name). */
static int extract_meta_token_info(struct extract_meta *s, const char *t, size_t nt)
{
    size_t size = 64;
    while (size < 2 * nt)
        size *= 2;
    if (nfu_grow(&s->lower, &s->lower_cap, size, sizeof(*s->lower)) < 0)
        return -1;
    memset(s->lower, 0, size * sizeof(*s->lower));
    s->lower_mask = size - 1;
    for (size_t k = 0; k < nt; k++) {
        struct extract_meta_token *w = &s->toks[k];
        w->hash = extract_meta_hash(s->fold.p + w->fold, w->fold_len) | 1;
        w->cls = extract_meta_class(s, w->hash);
        w->flags = 0;
        utf8proc_int32_t cp;
        utf8proc_category_t cat;
        const char *r = t + w->raw;
        size_t first = extract_meta_char(s, r, w->raw_len, &cp, &cat);
        if (cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LT) {
            w->flags |= EM_T_CAP;
            bool lower = false;
            for (size_t i = first; i < w->raw_len && !lower;) {
                i += extract_meta_char(s, r + i, w->raw_len - i, &cp, &cat);
                lower = cat == UTF8PROC_CATEGORY_LL;
            }
            if (!lower && w->raw_len > 1)
                w->flags |= EM_T_UPPER;
        } else if (cat == UTF8PROC_CATEGORY_LL) {
            w->flags |= EM_T_LOWER;
            size_t i = w->hash & s->lower_mask;
            while (s->lower[i] && s->lower[i] != w->hash)
                i = (i + 1) & s->lower_mask;
            s->lower[i] = w->hash;
        } else if (cat == UTF8PROC_CATEGORY_ND) {
            w->flags |= EM_T_DIGIT;
        }
        /* a sentence starts at the text's or a line's start, after ".!?:;", and after any
         * quotes and brackets that open it */
        size_t b = w->raw;
        while (b > 0) {
            unsigned char c = (unsigned char)t[b - 1];
            if (c == ' ' || c == '"' || c == '\'' || c == '(' || c == '[')
                b--;
            else if (b >= 3 && (unsigned char)t[b - 3] == 0xE2 && (unsigned char)t[b - 2] == 0x80 &&
                     (c == 0x9C || c == 0x98))
                b -= 3; /* “ ‘ */
            else if (b >= 2 && (unsigned char)t[b - 2] == 0xC2 && c == 0xAB)
                b -= 2; /* « */
            else
                break;
        }
        if (b == 0 || (t[b - 1] && strchr("\n!?:;", t[b - 1])) ||
            (t[b - 1] == '.' && k > 0 && extract_meta_stop_before(s, t, k)))
            w->flags |= EM_T_START;
        if (k > 0 && w->joined && extract_meta_stop_before(s, t, k))
            w->flags |= EM_T_BREAK;
    }
    return 0;
}

/* A capitalised word that may be part of a name. */
static bool extract_meta_name_word(const struct extract_meta_token *w)
{
    return (w->flags & (EM_T_CAP | EM_T_UPPER | EM_T_COVERED)) == EM_T_CAP &&
           !(w->cls & EM_W_TIME);
}

/* A capitalised word at a sentence start that the text also writes in lower case, or a
 * function word: not a name's first word. */
static bool extract_meta_opener(const struct extract_meta *s, const struct extract_meta_token *w)
{
    return (w->cls & EM_W_STOP) ||
           ((w->flags & EM_T_START) && extract_meta_lower_seen(s, w->hash));
}

static long extract_meta_cand_find(struct extract_meta *s, uint64_t h, const char *key,
                                   size_t len)
{
    for (size_t c = 0; c < s->n_cands; c++)
        if (s->cands[c].hash == h && s->cands[c].key_len == len &&
            memcmp(s->ckey.p + s->cands[c].key, key, len) == 0)
            return (long)c;
    return -1;
}

/* Records one mention of the name t's words a..e-1. */
static int extract_meta_mention(struct extract_meta *s, const char *t, size_t a, size_t e,
                                int caps, bool person, bool said, bool place)
{
    if (extract_meta_key(s, t, a, e - a, false) < 0)
        return -1;
    uint64_t h = extract_meta_hash(s->key.p, s->key.len);
    long c = extract_meta_cand_find(s, h, s->key.p, s->key.len);
    if (c < 0) {
        if (s->n_cands >= EM_MAX_CANDS)
            return 0;
        if (nfu_grow(&s->cands, &s->cands_cap, s->n_cands + 1, sizeof(*s->cands)) < 0)
            return -1;
        struct extract_meta_cand *nc = &s->cands[s->n_cands];
        *nc = (struct extract_meta_cand){
            .hash = h,
            .key = (uint32_t)s->ckey.len,
            .key_len = (uint32_t)s->key.len,
            .name = s->toks[a].raw,
            .name_len = s->toks[e - 1].raw + s->toks[e - 1].raw_len - s->toks[a].raw,
            .last = s->toks[e - 1].hash,
            .words = (uint16_t)(e - a),
            .caps = (uint16_t)caps,
        };
        /* "Lake Chad", "Downing Street": a place word comes first or last ("Janet
         * Street-Porter" is a person) */
        for (size_t k = a; k < e; k++) {
            nc->org |= (s->toks[k].cls & EM_W_ORG) != 0;
            nc->place |= (k == a || k == e - 1) && (s->toks[k].cls & EM_W_PLACE) &&
                         !(s->toks[k].flags & EM_T_LOWER);
        }
        if (extract_meta_append(&s->ckey, s->key.p, s->key.len) < 0)
            return -1;
        c = (long)s->n_cands++;
    }
    struct extract_meta_cand *cd = &s->cands[c];
    cd->mentions++;
    cd->person |= person;
    cd->said |= said;
    cd->place_votes += place;
    for (size_t k = a; k < e; k++)
        s->toks[k].flags |= EM_T_PHRASE;
    return 0;
}

/* Splits a run of name words t[a, e) at titles, trims openers and links, and records what is
 * left when it has two to four capitalised words. */
static int extract_meta_run(struct extract_meta *s, const char *t, size_t nt, size_t a, size_t e)
{
    int caps = 0;
    for (size_t k = a; k < e; k++)
        caps += (s->toks[k].flags & EM_T_CAP) != 0;
    if (caps > EM_MAX_NAME_WORDS + 1)
        return 0; /* a headline in title case, not a name */
    bool title = a > 0 && (s->toks[a - 1].cls & EM_W_TITLE) && s->toks[a - 1].joined;
    for (size_t k = a; k < e;) {
        size_t b = k;
        /* a title ends a name and starts the next; so does a capitalised function word
         * past the first ("Subs Not Used") */
        while (k < e && !((s->toks[k].flags & EM_T_CAP) &&
                          ((s->toks[k].cls & EM_W_TITLE) ||
                           (k > b && (s->toks[k].cls & EM_W_STOP)))))
            k++;
        size_t f = k;
        while (b < f && ((s->toks[b].flags & EM_T_LOWER) || extract_meta_opener(s, &s->toks[b])))
            b++;
        while (f > b && (s->toks[f - 1].flags & EM_T_LOWER))
            f--;
        int c = 0;
        for (size_t j = b; j < f; j++)
            c += (s->toks[j].flags & EM_T_CAP) != 0;
        if (c >= 2 && c <= EM_MAX_NAME_WORDS) {
            const struct extract_meta_token *before = b > 0 ? &s->toks[b - 1] : NULL;
            const struct extract_meta_token *after = f < nt ? &s->toks[f] : NULL;
            bool said = (after && (after->cls & EM_W_SAID)) ||
                        (before && (before->cls & EM_W_SAID) && (before->flags & EM_T_LOWER));
            bool person = title || (before && before->fold_len == 2 &&
                                    memcmp(s->fold.p + before->fold, "by", 2) == 0 &&
                                    (before->flags & EM_T_START));
            bool place = !title && before && (before->flags & EM_T_LOWER) &&
                         (before->cls & EM_W_AT);
            if (extract_meta_mention(s, t, b, f, c, person, said, place) < 0)
                return -1;
        }
        title = k < e && (s->toks[k].cls & EM_W_TITLE);
        while (k < e && (s->toks[k].flags & EM_T_CAP) &&
               (s->toks[k].cls & (EM_W_TITLE | EM_W_STOP)))
            k++;
    }
    return 0;
}

/* Whether the words of `needle` are some consecutive words of `hay` (both joined by single
 * spaces). */
static bool extract_meta_contains(const char *hay, size_t hn, const char *needle, size_t nn)
{
    for (size_t off = 0; off + nn <= hn; off++)
        if ((off == 0 || hay[off - 1] == ' ') && memcmp(hay + off, needle, nn) == 0 &&
            (off + nn == hn || hay[off + nn] == ' '))
            return true;
    return false;
}

/* "West African", "Nigerien", "Islamic": adjectives of places and creeds, not names. */
static bool extract_meta_adjective(const char *w, size_t n)
{
    static const char *const ends[] = {"ian", "ean", "ese", "ish", "ern", "ic", "an"};
    for (size_t i = 0; i < sizeof(ends) / sizeof(*ends); i++) {
        size_t l = strlen(ends[i]);
        if (n > l + 2 && memcmp(w + n - l, ends[i], l) == 0)
            return true;
    }
    return false;
}

/* Names the gazetteer lacks: runs of two to four capitalised words (with "al", "bin", "de",
 * "van" or "of" between them), said twice, or once with a cue that a person is meant. A
 * shorter form ("Goïta") counts for the longest one it is part of ("Assimi Goïta"). Appends
 * the names that qualify to s->found. */
static int extract_meta_phrases(struct extract_meta *s, const char *t, size_t nt)
{
    s->n_cands = 0;
    s->ckey.len = 0;
    for (size_t k = 0; k < nt;) {
        if (!extract_meta_name_word(&s->toks[k])) {
            k++;
            continue;
        }
        size_t e = k + 1;
        for (; e < nt; e++) {
            const struct extract_meta_token *w = &s->toks[e], *p = &s->toks[e - 1];
            if (!w->joined || (w->flags & EM_T_BREAK))
                break;
            bool link = (w->flags & EM_T_LOWER) &&
                        ((w->cls & EM_W_LINK) ||
                         (w->fold_len == 3 && memcmp(s->fold.p + w->fold, "the", 3) == 0 &&
                          (p->flags & EM_T_LOWER) && (p->cls & EM_W_LINK)));
            if (!link && !extract_meta_name_word(w))
                break;
        }
        if (extract_meta_run(s, t, nt, k, e) < 0)
            return -1;
        k = e;
    }
    if (s->n_cands == 0)
        return 0;

    /* shorter forms into the longest form that contains them */
    for (size_t a = 0; a < s->n_cands; a++) {
        struct extract_meta_cand *ca = &s->cands[a];
        size_t best = 0;
        for (size_t b = 0; b < s->n_cands; b++) {
            const struct extract_meta_cand *cb = &s->cands[b];
            if (cb->words <= ca->words || (best && cb->words <= s->cands[best - 1].words))
                continue;
            if (extract_meta_contains(s->ckey.p + cb->key, cb->key_len, s->ckey.p + ca->key,
                                      ca->key_len))
                best = b + 1;
        }
        ca->into = (uint32_t)best;
    }
    for (size_t a = 0; a < s->n_cands; a++) {
        struct extract_meta_cand *ca = &s->cands[a];
        if (!ca->into)
            continue;
        struct extract_meta_cand *cb = &s->cands[ca->into - 1];
        cb->mentions += ca->mentions;
        cb->person |= ca->person;
        cb->said |= ca->said;
        cb->place_votes += ca->place_votes;
    }
    /* a surname, or a name's last word, alone: "Musa said" after "Ali Musa" */
    for (size_t k = 0; k < nt; k++) {
        const struct extract_meta_token *w = &s->toks[k];
        if (!extract_meta_name_word(w) || (w->flags & EM_T_PHRASE) || (w->cls & EM_W_TITLE) ||
            extract_meta_opener(s, w))
            continue;
        for (size_t c = 0; c < s->n_cands; c++) {
            struct extract_meta_cand *cd = &s->cands[c];
            if (cd->into || cd->last != w->hash)
                continue;
            cd->mentions++;
            cd->person |= k > 0 && (s->toks[k - 1].cls & EM_W_TITLE) && w->joined;
            cd->said |= k + 1 < nt && (s->toks[k + 1].cls & EM_W_SAID);
            break;
        }
    }

    for (size_t c = 0; c < s->n_cands; c++) {
        struct extract_meta_cand *cd = &s->cands[c];
        if (cd->into || (cd->mentions < 2 && !cd->person && !cd->said))
            continue;
        enum nf_entity_type type;
        const char *last = s->ckey.p + cd->key + cd->key_len;
        size_t ll = 0;
        while (ll < cd->key_len && last[-(long)ll - 1] != ' ')
            ll++;
        if (cd->org)
            type = NF_ENT_ORG;
        else if (cd->place)
            type = NF_ENT_PLACE;
        else if (cd->person)
            type = NF_ENT_PERSON;
        else if (2 * cd->place_votes > cd->mentions) /* "residents in X said" */
            type = NF_ENT_PLACE;
        else if (cd->said)
            type = NF_ENT_PERSON;
        else if (extract_meta_adjective(last - ll, ll))
            continue;
        else /* "Six Nations", "Grand Slam", "Manchester United": a name, of no known kind */
            type = NF_ENT_OTHER;
        if (nfu_grow(&s->found, &s->found_cap, s->n_found + 1, sizeof(*s->found)) < 0)
            return -1;
        /* the name as written, kept in s->cname until the entities are added */
        size_t off = s->cname.len;
        if (extract_meta_append(&s->cname, t + cd->name, cd->name_len) < 0 ||
            extract_meta_append(&s->cname, "", 1) < 0)
            return -1;
        s->found[s->n_found++] =
            (struct extract_meta_found){(const char *)(uintptr_t)off, cd->mentions, type, true};
    }
    return 0;
}

/* Whether texts in `lang` (NULL: unknown) are searched for capitalised phrases. */
static bool extract_meta_phrase_lang(const struct extract_meta *s, const char *lang)
{
    const char *skip = s->conf->phrase_skip_langs ? s->conf->phrase_skip_langs : "";
    size_t n = lang ? strlen(lang) : 0;
    for (const char *w = skip; n && *w;) {
        size_t len = strcspn(w, " ,");
        if (len == n && strncasecmp(w, lang, n) == 0)
            return false;
        w += len;
        w += strspn(w, " ,");
    }
    return true;
}

/* One pass over the words: at each word the longest alias that starts there wins, and the
 * scan goes on after it; then the capitalised phrases among the words no alias took. */
static int extract_meta_entities(struct extract_meta *s, struct nf_record *rec, const char *t,
                                 size_t n)
{
    long nt = extract_meta_tokenize(s, t, n);
    if (nt < 0 || extract_meta_token_info(s, t, (size_t)nt) < 0)
        return -1;
    s->n_touched = 0;
    for (size_t i = 0; i < (size_t)nt;) {
        const struct extract_meta_token *w = &s->toks[i];
        size_t maxk = extract_meta_first(s, w);
        size_t run = 1;
        while (run < maxk && i + run < (size_t)nt && s->toks[i + run].joined)
            run++;
        const struct extract_meta_slot *hit = NULL;
        size_t k = maxk ? run : 0;
        for (; k > 0; k--) {
            if (extract_meta_key(s, t, i, k, true) < 0)
                return -1;
            if ((hit = extract_meta_lookup(s)) && hit->words == k)
                break;
            hit = NULL;
        }
        bool capital = false;
        for (size_t j = i; hit && j < i + k; j++)
            capital |= (s->toks[j].flags & (EM_T_CAP | EM_T_DIGIT)) != 0;
        /* Proper names are capitalised: "fine china" is no country. And a person's one-word
         * alias right after a capitalised word that is not a title is someone else of that
         * name ("Michelle Obama"), left to the phrase finder. */
        if (hit && !hit->exact && !capital)
            hit = NULL;
        if (hit && k == 1 && s->ents[hit->ent].type == NF_ENT_PERSON && i > 0 && w->joined) {
            const struct extract_meta_token *p = &s->toks[i - 1];
            /* "Recep Erdogan" for "Recep Tayyip Erdoğan" is still him */
            if (extract_meta_name_word(p) && !(p->cls & (EM_W_TITLE | EM_W_STOP)) &&
                !extract_meta_opener(s, p) && p->hash != s->ents[hit->ent].first_word)
                hit = NULL;
        }
        if (!hit) {
            i++;
            continue;
        }
        for (size_t j = i; j < i + k; j++)
            s->toks[j].flags |= EM_T_COVERED;
        if (s->counts[hit->ent]++ == 0)
            s->touched[s->n_touched++] = hit->ent;
        i += k;
    }

    s->n_found = 0;
    s->cname.len = 0;
    if (nfu_grow(&s->found, &s->found_cap, s->n_touched + 1, sizeof(*s->found)) < 0)
        return -1;
    for (size_t i = 0; i < s->n_touched; i++) {
        uint32_t e = s->touched[i];
        s->found[s->n_found++] = (struct extract_meta_found){
            s->pool.p + s->ents[e].name, s->counts[e], s->ents[e].type, false};
        s->counts[e] = 0;
    }
    if (s->conf->phrases && extract_meta_phrase_lang(s, nf_record_str(rec, NF_F_LANG, NULL)) &&
        extract_meta_phrases(s, t, (size_t)nt) < 0)
        return -1;
    for (size_t i = 0; i < s->n_found; i++)
        if (s->found[i].phrase)
            s->found[i].name = s->cname.p + (uintptr_t)s->found[i].name;
    qsort(s->found, s->n_found, sizeof(*s->found), extract_meta_found_cmp);
    nf_record_entities_clear(rec);
    for (size_t i = 0; i < s->n_found; i++)
        if (nf_record_add_entity(rec, s->found[i].type, s->found[i].name,
                                 s->found[i].mentions) < 0)
            return -1;
    return 0;
}

/* ---- the record ----------------------------------------------------------------------- */

static int extract_meta_record(struct extract_meta *s, struct nf_ctx *ctx,
                               struct nf_record *rec)
{
    size_t n;
    const char *t = nf_record_str(rec, NF_F_TEXT, &n);
    if (!t) {
        /* Nothing to read (an HTML record no stage has extracted yet): pass it on as is. */
        nf_ctx_count(ctx, "no_text", 1);
        return NF_OK;
    }
    if (!extract_meta_valid_utf8(t, n)) {
        nf_ctx_error(ctx, "text is not valid UTF-8");
        return NF_ERR;
    }
    size_t skip;
    struct extract_meta_date dl;
    if (extract_meta_dateline(s, rec, t, n, &skip, &dl) < 0)
        goto nomem;
    if (!nf_record_has(rec, NF_F_TITLE) && extract_meta_title(s, rec, t, n, skip) < 0)
        goto nomem;
    if (!nf_record_has(rec, NF_F_PUBLISHED_AT)) {
        size_t lead = n < EM_LEAD_BYTES ? n : EM_LEAD_BYTES;
        while (lead < n && lead > 0 && ((unsigned char)t[lead] & 0xC0) == 0x80)
            lead--;
        /* The first date with a year; when the dateline names the day ("NIAMEY, Aug 25 -"),
         * only that day: the lead's other dates are the events it reports. */
        struct extract_meta_date d;
        size_t from = 0;
        while (extract_meta_next_date(s, t, &from, lead, &d))
            if (d.y && (!dl.m || (d.m == dl.m && d.d == dl.d))) {
                if (extract_meta_set_date(rec, &d) < 0)
                    goto nomem;
                break;
            }
    }
    if (s->language && !nf_record_has(rec, NF_F_LANG) && n >= (size_t)s->conf->min_lang_bytes &&
        extract_meta_lang(ctx, rec, t, n, (size_t)s->conf->max_lang_bytes) < 0)
        goto nomem;
    if ((s->aliases || s->conf->phrases) && extract_meta_entities(s, rec, t, n) < 0)
        goto nomem;
    return NF_OK;
nomem:
    nf_ctx_error(ctx, "out of memory");
    return NF_ERR;
}

static int64_t extract_meta_cpu_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int extract_meta_process(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    /* CPU time of the plugin's own work, so that bench/bench_lang.sh can give articles/s per
     * core of this stage alone, whatever else the machine runs. */
    int64_t t0 = extract_meta_cpu_us();
    int rc = extract_meta_record(state, ctx, rec);
    nf_ctx_count(ctx, "cpu_us", extract_meta_cpu_us() - t0);
    return rc;
}

NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI,
    .size = sizeof(struct nf_plugin),
    .name = "extract_meta",
    .description = "Fills title, dateline, published date, language and gazetteer entities "
                   "from the clean text",
    .kind = NF_PLUGIN_FILTER,
    .options = extract_meta_options,
    .conf_size = sizeof(struct extract_meta_conf),
    .init = extract_meta_init,
    .process = extract_meta_process,
    .destroy = extract_meta_destroy,
};
