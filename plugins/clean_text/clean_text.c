/* clean_text: turns a plain-text article into its clean body in `text`. It repairs the encoding
 * (bytes that are not UTF-8 are read as windows-1252; mojibake, UTF-8 once misread as
 * windows-1252, is turned back), normalises to NFC, one space between words
 * and one blank line between paragraphs, drops web and wire boilerplate lines, and lifts a leading
 * date header, the headline(s) and byline/outlet signature lines into their own fields. HTML is
 * left to another plugin, and dates, places and names in the prose are extract_meta's business. */
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "newsflow/plugin.h"
#include "dates.h"
#include "plugin_util.h"

struct clean_text_conf {
    const char *drop_patterns;
    bool builtin_patterns;
    int64_t min_chars;
    double headline_similarity;
    bool repair_mojibake;
};

static const struct nf_option clean_text_options[] = {
    {"drop_patterns", NF_OPT_STRING, "", offsetof(struct clean_text_conf, drop_patterns),
     "More boilerplate, as one PCRE2 pattern (alternatives separated by |): a line is dropped "
     "when the pattern matches all of it, its spaces trimmed. Matching ignores case and is "
     "Unicode-aware (\\w, \\b, \\s know every script). Added to the built-in list."},
    {"builtin_patterns", NF_OPT_BOOL, "true", offsetof(struct clean_text_conf, builtin_patterns),
     "Drop the built-in boilerplate lines: advertisement markers, read-more and related-article "
     "links, newsletter, subscription and app prompts, share and follow buttons, copyright and "
     "wire credit lines, comment and cookie furniture, lines without a letter or digit."},
    {"min_chars", NF_OPT_INT, "1", offsetof(struct clean_text_conf, min_chars),
     "A cleaned body of fewer characters than this is an error and the record is dead-lettered "
     "(an empty body always is).", .min = "0", .max = "1000000"},
    {"headline_similarity", NF_OPT_DOUBLE, "0.5",
     offsetof(struct clean_text_conf, headline_similarity),
     "Two headline-like first lines whose content words overlap at least this much (Dice "
     "coefficient, 0 to 1) are one headline said twice: the first becomes the title and both "
     "leave the body. When the record already has a title, a headline-like first line leaves "
     "the body only if it overlaps the title this much.", .min = "0", .max = "1"},
    {"repair_mojibake", NF_OPT_BOOL, "true", offsetof(struct clean_text_conf, repair_mojibake),
     "Undo UTF-8 that was read as windows-1252 or Latin-1 and encoded again (\"Ã©\" for "
     "\"é\", \"â€™\" for \"’\", \"Â£\" for \"£\"), also when it happened twice. Only "
     "texts with an unmistakable sequence are touched (one starting with Â, Ã or â€, or of "
     "three or four characters); there, the two-character sequences of other letters are "
     "repaired too."},
    {.name = NULL},
};

/* Lines that are page furniture rather than article. Each must match a whole line; by then the
 * line is NFC, single-spaced and trimmed. */
#define CT_SOCIAL                                                                              \
    "(?:share|tweet|email|e-mail|print|copy\\s+link|facebook|twitter|x|whatsapp|linkedin|"     \
    "telegram|reddit|pinterest|messenger|flipboard)"
#define CT_PUNCT "[\\p{P}\\p{S}\\s]*"
static const char *const clean_text_builtin[] = {
    /* no letter or digit at all: "***", "- - -", "•" */
    "[\\p{P}\\p{S}\\s]+",
    /* advertisement markers */
    CT_PUNCT "(?:advertisement|advertising|advert|ads?|sponsored(?:\\s+content)?|paid\\s+"
             "(?:content|post|partnership)|promoted(?:\\s+content)?)"
             "(?:" CT_PUNCT "(?:scroll|continue)\\b.{0,40})?" CT_PUNCT,
    "(?:story|article|text|content)\\s+continues\\s+(?:below|after)(?:\\s+(?:this\\s+)?"
    "(?:advertisement|ad))?" CT_PUNCT,
    /* links to other articles */
    "(?:continue\\s+)?read(?:ing)?\\s+(?:more|also|next|the\\s+(?:full\\s+)?(?:story|article|"
    "report))(?:\\s*(?:[:»›>→|–—-]|\\.\\.\\.|…).{0,250}|\\s+(?:about|on|at|here)\\b.{0,200})?"
    CT_PUNCT,
    "continue\\s+reading" CT_PUNCT,
    "(?:also\\s+read|see\\s+also|related(?:\\s+(?:articles?|stories|news|coverage|content|posts?"
    "|reading|topics))?|more\\s+(?:on\\s+this(?:\\s+story)?|stories|news|from\\s+\\S+)|"
    "recommended(?:\\s+(?:for\\s+you|stories|reading|articles))?|you\\s+(?:may|might)\\s+"
    "(?:also\\s+)?(?:like|be\\s+interested(?:\\s+in)?)|trending(?:\\s+now)?|most\\s+(?:read|"
    "popular|viewed)|(?:previous|next)\\s+(?:article|story|post))\\s*(?:[:»›>→|–—-].{0,250})?"
    CT_PUNCT,
    /* newsletters, subscriptions, apps */
    "(?:sign\\s+up|subscribe)\\b.{0,250}",
    "get\\s+(?:the\\s+)?(?:latest|best|top|daily)\\b.{0,120}\\b(?:inbox|newsletter|app)\\b.{0,80}",
    "(?:download|get|install)\\s+(?:our|the)\\s+(?:free\\s+)?(?:\\S+\\s+)?app\\b.{0,150}",
    "(?:get|receive|join)\\s+(?:our|the)\\s+(?:free\\s+)?(?:\\S+\\s+){0,2}newsletters?\\b.{0,200}",
    "(?:enter|type)\\s+your\\s+e-?mail(?:\\s+address)?(?:\\s+(?:here|below|to\\s+(?:subscribe|sign"
    "\\s+up|get|receive)\\b.{0,100}))?" CT_PUNCT,
    "(?:thank\\s+you|thanks)\\s+for\\s+(?:signing\\s+up|subscribing|registering)\\b.{0,150}",
    "(?:don['’]t|never)\\s+miss\\b.{0,100}\\b(?:newsletters?|inbox|sign\\s+up|subscribe|alerts?|"
    "notifications)\\b.{0,80}",
    "(?:join|follow)\\s+(?:our|us\\s+on)\\s+(?:whatsapp|telegram)\\b.{0,150}",
    "(?:do\\s+you\\s+)?(?:have|got)\\s+a\\s+(?:news\\s+)?(?:tip|story\\s+tip)\\s*[?:].{0,150}",
    "(?:please\\s+)?support\\s+(?:our|independent|quality)\\s+journalism\\b.{0,150}",
    "(?:spotted|found|report)\\s+an?\\s+(?:error|typo|mistake|issue)\\b.{0,150}",
    /* sharing and following */
    "share\\s+(?:this|the)\\s+(?:article|story|post|page|video)(?:\\s+(?:on|via)\\b.{0,60})?"
    CT_PUNCT,
    CT_PUNCT CT_SOCIAL "(?:[\\p{P}\\p{S}\\s]+" CT_SOCIAL "){0,11}" CT_PUNCT,
    "follow\\s+(?:us|@\\w+)\\b.{0,150}",
    "follow\\s+.{1,60}\\s+on\\s+(?:twitter|x|facebook|instagram|telegram|whatsapp|linkedin|"
    "youtube|tiktok|threads|google\\s+news)\\b.{0,100}",
    "click\\s+here\\b.{0,250}",
    /* rights and credits */
    "(?:©|\\(c\\)|copyright\\b).{0,200}",
    "all\\s+rights\\s+reserved" CT_PUNCT,
    "our\\s+standards\\s*:.{0,120}",
    "this\\s+(?:material|article|story|content)\\s+may\\s+not\\s+be\\s+(?:published|reproduced|"
    "copied|redistributed|republished)\\b.{0,200}",
    "\\(\\s*(?:additional\\s+)?(?:reporting|writing|editing|compiled|translated|translation|"
    "produced)\\s+by\\b[^()]{0,250}\\)" CT_PUNCT,
    "(?:additional\\s+)?(?:reporting|writing)\\s+by\\b[^;]{0,120};\\s*(?:editing|writing)\\s+by"
    "\\b.{0,150}",
    /* The lookahead is implied by what follows it; it only spares the Unicode \b test at
     * each of the 150 places a line without the word is tried at (a quarter of all lines'
     * matching time before). */
    ".{0,150}(?=contributed)\\bcontributed\\s+(?:reporting|to\\s+this\\s+(?:report|story|"
    "article))" CT_PUNCT,
    "\\(?(?:file\\s+)?(?:photo|image|picture|video|caption|photo\\s+credit|credit)s?\\s*:\\s*"
    ".{0,150}",
    "image\\s+(?:source|caption|copyright)\\s*[,:]?\\s.{0,200}",
    /* photo agency credits on a line of their own: "AFP via Getty Images", "REUTERS/Jane Doe";
     * the lookahead likewise: a line without "getty" fails there, not after every way of
     * splitting its first words */
    "(?=(?s:.*?)getty)(?:[\\p{L}.'’/-]+\\s+){0,4}(?:via\\s+)?(?:\\p{L}+/)?getty\\s+images"
    CT_PUNCT,
    "(?:reuters|ap\\s+photo|afp|epa(?:-efe)?|anadolu(?:\\s+agency)?)\\s*/\\s*[^/]{1,60}",
    "media\\s+playback\\s+is\\s+(?:un)?supported\\s+on\\s+your\\s+device" CT_PUNCT,
    /* a time stamp on a line of its own: "Updated: 22 December 2023, 10:45 GMT", "Published 3
     * hours ago"; only date words may follow, so that "Published in 2020, the report..." stays */
    "(?:last\\s+)?(?:updated|published|posted)(?:\\s+(?:on|at))?\\s*:?(?:\\s*+(?:[\\d:/.,-]++|"
    "(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\\.?|(?:mon|tues|wednes|thurs"
    "|fri|satur|sun)day|ago|hours?|hrs?|minutes?|mins?|days?|weeks?|am|pm|gmt|utc|bst|cet|wat|eat"
    "|today|yesterday|an?))++" CT_PUNCT,
    /* page furniture */
    "loading" CT_PUNCT,
    "skip\\s+to\\s+(?:main\\s+)?content" CT_PUNCT,
    "(?:\\d+\\s+)?comments?" CT_PUNCT,
    "leave\\s+a\\s+(?:comment|reply)" CT_PUNCT,
    "(?:view|show|load|read)\\s+(?:all\\s+)?(?:\\d+\\s+)?(?:more\\s+)?comments" CT_PUNCT,
    "(?:tags?|topics?)\\s*:.{0,300}",
    "(?:print|email|share)\\s+(?:this\\s+)?(?:article|story|page)" CT_PUNCT,
    "listen\\s+to\\s+(?:this|the)\\s+(?:article|story)\\b.{0,40}",
    "\\d+\\s*(?:-\\s*)?min(?:ute)?s?\\s+read" CT_PUNCT,
    "(?:we|this\\s+(?:site|website))\\s+uses?\\s+cookies\\b.{0,300}",
    "(?:accept|reject|manage)\\s+(?:all\\s+)?cookies" CT_PUNCT,
    "back\\s+to\\s+top" CT_PUNCT,
    /* the same in French, for the francophone press of the region */
    CT_PUNCT "publicit[ée]" CT_PUNCT,
    "(?:[àa]\\s+)?lire\\s+(?:aussi|[ée]galement|la\\s+suite|plus)\\b(?:\\s*[:»›>→|–—-].{0,250})?"
    CT_PUNCT,
    "(?:abonnez-vous|inscrivez-vous|recevez\\s+notre\\s+newsletter)\\b.{0,250}",
    "partager\\s+(?:cet|l['’])\\s*article" CT_PUNCT,
    "(?:watch|listen)(?:\\s+now)?\\s*:.{0,200}",
};

/* A date header some feeds put before the body: " date 2023-11-06 In a ...". */
static const char clean_text_header_re[] =
    "(?:date|dated|published(?:\\s+on)?|posted(?:\\s+on)?)\\s*:?\\s*(\\d{4})-(\\d{2})-(\\d{2})"
    "(?:[T ]\\d{2}:\\d{2}(?::\\d{2}(?:\\.\\d+)?)?(?:Z|[+-]\\d{2}:?\\d{2})?)?(?=\\s|$)\\s*";

/* Personal names and outlet names as they appear in signature lines: capitalised words, with the
 * particles that names and outlet names carry in lower case. */
#define CT_NAMEWORD "\\p{Lu}[\\p{L}\\p{M}'’-]*\\.?"
#define CT_PARTICLE                                                                            \
    "(?:(?:de|da|dos|das|del|della|der|den|di|du|la|le|van|von|bin|ibn|al|el|ould|ag|ben|abu)\\s+)"
#define CT_NAME CT_NAMEWORD "(?:\\s+" CT_PARTICLE "?" CT_NAMEWORD "){0,4}"
#define CT_ORGWORD "[\\p{Lu}\\p{N}][\\p{L}\\p{M}\\p{N}'’.&-]*"
#define CT_ORGLINK "(?:\\s+(?:(?:of|the|de|du|des|la|le|al|and|for|&)\\s+)?" CT_ORGWORD ")"

/* "By Ali Musa", "- By Jane Doe and John Roe in Dakar, Reuters". Group 1: the names; group 2:
 * what follows a comma or dash (an outlet, or a role such as "Staff Writer"). */
static const char clean_text_byline_re[] =
    "(?:[-–—]\\s*)?(?i:(?:written|reported|words|story|text|posted)\\s+)?(?i:by)\\s+(" CT_NAME "(?:\\s*,?\\s+(?:and|&)\\s+" CT_NAME ")?)"
    "(?:\\s+(?:in|from)\\s+" CT_NAMEWORD "(?:\\s+" CT_NAMEWORD "){0,2})?"
    "(?:\\s*[,|/–—-]\\s*(" CT_ORGWORD CT_ORGLINK "{0,5}))?\\s*\\.?";

/* An outlet's signature line: "Axadle Times international–Monitoring.", "— Reuters",
 * "(AFP)", "Source: Garowe Online", "The Citizen Newsroom". Group 1: a lead-in (dash, "Source:");
 * 2: an opening parenthesis; 3: the outlet; 4: a desk or staff suffix, which is not the outlet's
 * name. The outlet is lazy so that a suffix is recognised as one whenever it can be. */
static const char clean_text_outlet_re[] =
    "([-–—]+\\s*|(?i:source|via)\\s*:\\s*)?(\\()?(" CT_ORGWORD CT_ORGLINK "{0,5}?)\\)?"
    "((?:\\s+|\\s*[-–—,|/:]\\s*)(?:(?i:international|national|regional|foreign|world|africa|"
    "african|local|online|digital|news|web|english|french|arabic|somali)\\s*[-–—]?\\s*)?"
    "(?i:monitoring|desk|newsdesk|news\\s+desk|newsroom|staff|agencies|agency\\s+reports?|wires?"
    "|wire\\s+services?|bureau|reporters?|correspondents?|editorial(?:\\s+(?:team|board|staff))?"
    "|team)(?:\\s+(?i:desk|team|service|reports?))?)?\\s*\\.?";

/* Wire services whose bare name on the last line is a signature on its own. */
static const char clean_text_agency_re[] =
    "reuters|afp|ap|associated\\s+press|agence\\s+france[- ]presse|xinhua|anadolu(?:\\s+agency)?"
    "|dpa|efe|ansa|kyodo(?:\\s+news)?|tass|ria\\s+novosti|bernama|pti|ians|upi|apa|aps|mena|wafa"
    "|bloomberg|al\\s+jazeera|bbc(?:\\s+news)?|voa|voice\\s+of\\s+america|rfi|sputnik|irna|yonhap";

/* Words that make the part after a byline's comma a job title rather than an outlet. */
static const char clean_text_role_re[] =
    "\\b(?:staff|writer|reporter|correspondent|editor|contributor|columnist|journalist|analyst|"
    "chief|intern|producer)s?\\b";

/* Function words left out of the headline comparison: they match between any two lines. */
static const char *const clean_text_stopwords[] = {
    "a",    "an",  "the",  "and",  "or",  "of",   "to",  "in",   "on",   "for",  "with",
    "at",   "by",  "from", "as",   "is",  "are",  "was", "were", "be",   "its",  "it",
    "that", "this", "after", "over", "into", "amid", "says", "say", "said", "vs",
};

/* The plugin only ever looks at so many leading or trailing paragraphs for headlines and
 * signatures; a headline longer than this many bytes is a paragraph. */
#define CT_HEADLINE_MAX_BYTES 300
#define CT_HEADLINE_MAX_WORDS 30
#define CT_WORDS_MAX 48

#define CT_NFC_OPTS (UTF8PROC_COMPOSE | UTF8PROC_STABLE | UTF8PROC_STRIPCC | UTF8PROC_NLF2LF)

struct clean_text_line {
    size_t off, len;
    bool drop; /* boilerplate, or emptied by the header lift: not text and not a blank line */
};

struct clean_text_para {
    size_t off, len; /* in pbuf */
    int lines;
    bool keep;
};

struct clean_text_words {
    char buf[1024];
    uint16_t off[CT_WORDS_MAX];
    uint8_t len[CT_WORDS_MAX];
    int n;
};

struct clean_text {
    const struct clean_text_conf *conf;
    pcre2_code *drop; /* NULL: no boilerplate patterns at all */
    pcre2_code *header, *byline, *outlet, *agency, *role;
    pcre2_match_data *md;
    utf8proc_int32_t cp1252[128]; /* code point of each byte 0x80..0xFF read as windows-1252 */

    /* Work buffers, reused across records. cps holds a decomposed piece of the text and then,
     * re-encoded in place, its NFC; norm the whole text as NFC UTF-8, the text the rest works
     * on. */
    char *fixed, *moji, *norm;
    size_t fixed_cap, moji_cap, norm_cap;
    utf8proc_int32_t *cps;
    size_t cps_cap;
    struct clean_text_line *lines;
    size_t lines_cap;
    struct clean_text_para *paras;
    size_t paras_cap;
    char *pbuf, *out;
    size_t pbuf_cap, out_cap;
};

/* Buffers grown past this for one huge record are given back afterwards. */
#define CT_KEEP_BYTES (8u << 20)



/* The built-in list and the configured patterns as one alternation, so a line costs one match. */
static pcre2_code *clean_text_compile_drop(struct nf_ctx *ctx, const struct clean_text_conf *conf)
{
    size_t n = 1;
    size_t nb = conf->builtin_patterns ? sizeof(clean_text_builtin) / sizeof(*clean_text_builtin)
                                       : 0;
    for (size_t i = 0; i < nb; i++)
        n += strlen(clean_text_builtin[i]) + 5;
    const char *extra = conf->drop_patterns ? conf->drop_patterns : "";
    n += strlen(extra) + 5;
    if (nb == 0 && !*extra)
        return NULL;
    char *re = malloc(n);
    if (!re) {
        nf_ctx_error(ctx, "out of memory");
        return NULL;
    }
    size_t w = 0;
    for (size_t i = 0; i < nb; i++)
        w += (size_t)snprintf(re + w, n - w, "%s(?:%s)", w ? "|" : "", clean_text_builtin[i]);
    if (*extra)
        w += (size_t)snprintf(re + w, n - w, "%s(?:%s)", w ? "|" : "", extra);
    pcre2_code *c = nfu_compile(ctx, nb ? "boilerplate patterns (built-in and "
                                                 "drop_patterns)"
                                               : "drop_patterns",
                                       re, PCRE2_CASELESS | PCRE2_ANCHORED | PCRE2_ENDANCHORED);
    free(re);
    return c;
}

static int clean_text_cp1252(struct nf_ctx *ctx, utf8proc_int32_t table[128])
{
    iconv_t cd = iconv_open("UTF-8", "WINDOWS-1252");
    if (cd == (iconv_t)-1) {
        nf_ctx_error(ctx, "iconv cannot convert from windows-1252 (glibc gconv modules "
                          "missing?)");
        return -1;
    }
    for (int b = 0x80; b < 0x100; b++) {
        char in = (char)b, out[8];
        char *ip = &in, *op = out;
        size_t il = 1, ol = sizeof(out);
        iconv(cd, NULL, NULL, NULL, NULL);
        utf8proc_int32_t cp = b; /* the 5 unassigned bytes: C1 controls, stripped later */
        if (iconv(cd, &ip, &il, &op, &ol) != (size_t)-1 &&
            utf8proc_iterate((const utf8proc_uint8_t *)out, (utf8proc_ssize_t)(op - out), &cp) <
                1)
            cp = b;
        table[b - 0x80] = cp;
    }
    iconv_close(cd);
    return 0;
}

static void clean_text_destroy(void *state);

/* drop_patterns must compile: a mistake in it is found by `newsflow check`, with PCRE2's
 * reason and where in the pattern, not only when the stage starts. */
static int clean_text_validate(const void *vconf, const char **option_out, char *err,
                               size_t errlen)
{
    const struct clean_text_conf *conf = vconf;
    if (!conf->drop_patterns || !*conf->drop_patterns)
        return NF_OK;
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)conf->drop_patterns, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS, &code, &off, NULL);
    if (re) {
        pcre2_code_free(re);
        return NF_OK;
    }
    PCRE2_UCHAR msg[256];
    if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
        snprintf((char *)msg, sizeof(msg), "error %d", code);
    *option_out = "drop_patterns";
    snprintf(err, errlen, "option 'drop_patterns' is not a valid pattern: %s at offset %zu",
             (const char *)msg, (size_t)off);
    return NF_ERR;
}

static int clean_text_init(struct nf_ctx *ctx, const void *vconf, void **state_out)
{
    const struct clean_text_conf *conf = vconf;
    struct clean_text *s = calloc(1, sizeof(*s));
    if (!s) {
        nf_ctx_error(ctx, "out of memory");
        return NF_ERR;
    }
    /* min_chars and headline_similarity are within the option table's bounds */
    s->conf = conf;
    if (conf->builtin_patterns || (conf->drop_patterns && *conf->drop_patterns)) {
        s->drop = clean_text_compile_drop(ctx, conf);
        if (!s->drop)
            goto fail;
    }
    const uint32_t whole = PCRE2_ANCHORED | PCRE2_ENDANCHORED;
    if (!(s->header = nfu_compile(ctx, "date header pattern", clean_text_header_re,
                                         PCRE2_CASELESS | PCRE2_ANCHORED)) ||
        !(s->byline = nfu_compile(ctx, "byline pattern", clean_text_byline_re, whole)) ||
        !(s->outlet = nfu_compile(ctx, "outlet pattern", clean_text_outlet_re, whole)) ||
        !(s->agency = nfu_compile(ctx, "agency pattern", clean_text_agency_re,
                                         whole | PCRE2_CASELESS)) ||
        !(s->role = nfu_compile(ctx, "role pattern", clean_text_role_re, PCRE2_CASELESS)))
        goto fail;
    s->md = pcre2_match_data_create(16, NULL);
    if (!s->md) {
        nf_ctx_error(ctx, "out of memory");
        goto fail;
    }
    if (clean_text_cp1252(ctx, s->cp1252) < 0)
        goto fail;
    *state_out = s;
    return NF_OK;
fail:
    clean_text_destroy(s);
    return NF_ERR;
}

static void clean_text_destroy(void *state)
{
    struct clean_text *s = state;
    if (!s)
        return;
    pcre2_code_free(s->drop);
    pcre2_code_free(s->header);
    pcre2_code_free(s->byline);
    pcre2_code_free(s->outlet);
    pcre2_code_free(s->agency);
    pcre2_code_free(s->role);
    pcre2_match_data_free(s->md);
    free(s->fixed);
    free(s->moji);
    free(s->cps);
    free(s->norm);
    free(s->lines);
    free(s->paras);
    free(s->pbuf);
    free(s->out);
    free(s);
}

/* ---- encoding and normalisation ------------------------------------------------------- */

/* Appends the NFC of the piece p[0, n) to s->norm at *w, with utf8proc (CT_NFC_OPTS). Returns 0
 * or a negative utf8proc error. */
static utf8proc_ssize_t clean_text_nfc_piece(struct clean_text *s, const char *p, size_t n,
                                             size_t *w)
{
    if (nfu_grow(&s->cps, &s->cps_cap, n + n / 8 + 16, sizeof(*s->cps)) < 0)
        return UTF8PROC_ERROR_NOMEM;
    utf8proc_ssize_t r;
    for (;;) {
        r = utf8proc_decompose((const utf8proc_uint8_t *)p, (utf8proc_ssize_t)n, s->cps,
                               (utf8proc_ssize_t)s->cps_cap, CT_NFC_OPTS);
        if (r < 0)
            return r;
        /* reencode writes a NUL after the text: one more slot than the code points */
        if ((size_t)r < s->cps_cap)
            break;
        if (nfu_grow(&s->cps, &s->cps_cap, (size_t)r + 1, sizeof(*s->cps)) < 0)
            return UTF8PROC_ERROR_NOMEM;
    }
    r = utf8proc_reencode(s->cps, r, CT_NFC_OPTS);
    if (r < 0)
        return r;
    if (nfu_grow(&s->norm, &s->norm_cap, *w + (size_t)r + 1, 1) < 0)
        return UTF8PROC_ERROR_NOMEM;
    memcpy(s->norm + *w, s->cps, (size_t)r);
    *w += (size_t)r;
    return 0;
}

/* A character NFC and CT_NFC_OPTS leave as it is, whatever surrounds it: printable ASCII and
 * "\n" (the other control characters are removed or become "\n" or a space; "\r\n" is one). */
static bool clean_text_plain(unsigned char c)
{
    return (c >= 0x20 && c < 0x7F) || c == '\n';
}

/* `p` into s->norm as NFC UTF-8, with control characters removed and every line break made
 * "\n". Returns its length in bytes or a negative utf8proc error.
 * Runs of plain characters are copied; only the pieces between them go through utf8proc,
 * which costs several table look-ups a character and was most of the stage's time on news
 * that is nearly all ASCII. The result is utf8proc's on the whole text: a plain character
 * never combines with the one before it, nor moves past it in canonical order; the one before
 * a piece may combine with what the piece starts with (a combining mark, or one after a
 * removed control character), so it goes into the piece; "\r" and a "\n" after it stay in one
 * piece. */
static utf8proc_ssize_t clean_text_nfc(struct clean_text *s, const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && clean_text_plain(u[j]))
            j++;
        if (j < n && j > i)
            j--;
        if (nfu_grow(&s->norm, &s->norm_cap, w + (j - i) + 1, 1) < 0)
            return UTF8PROC_ERROR_NOMEM;
        memcpy(s->norm + w, p + i, j - i);
        w += j - i;
        if (j == n)
            break;
        size_t k = j + 1;
        while (k < n && (!clean_text_plain(u[k]) || (u[k] == '\n' && u[k - 1] == '\r')))
            k++;
        utf8proc_ssize_t r = clean_text_nfc_piece(s, p + j, k - j, &w);
        if (r < 0)
            return r;
        i = k;
    }
    if (nfu_grow(&s->norm, &s->norm_cap, w + 1, 1) < 0)
        return UTF8PROC_ERROR_NOMEM;
    s->norm[w] = '\0';
    return (utf8proc_ssize_t)w;
}

/* Copies `p` into s->fixed with every byte that is not part of a valid UTF-8 sequence read as
 * windows-1252. Byte by byte rather than the whole text, so that a UTF-8 article with a few
 * stray bytes keeps its valid characters. Returns the number of bytes so read, or -1. */
static long clean_text_repair(struct clean_text *s, const char *p, size_t n, size_t *len_out)
{
    if (nfu_grow(&s->fixed, &s->fixed_cap, 3 * n + 1, 1) < 0)
        return -1;
    utf8proc_uint8_t *out = (utf8proc_uint8_t *)s->fixed;
    const utf8proc_uint8_t *in = (const utf8proc_uint8_t *)p;
    size_t w = 0;
    long bad = 0;
    for (size_t i = 0; i < n;) {
        if (in[i] < 0x80) {
            out[w++] = in[i++];
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(in + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k > 0) {
            memcpy(out + w, in + i, (size_t)k);
            w += (size_t)k;
            i += (size_t)k;
        } else {
            w += (size_t)utf8proc_encode_char(s->cp1252[in[i] - 0x80], out + w);
            bad++;
            i++;
        }
    }
    *len_out = w;
    return bad;
}

/* ---- mojibake ------------------------------------------------------------------------- */

/* UTF-8 that some system read as windows-1252 (or Latin-1) and wrote out again as UTF-8: each
 * byte of the original became a character of its own, "é" (C3 A9) became "Ã©", "’" (E2 80 99)
 * became "â€™". Such a sequence is a lead character Â..ô (U+00C2..U+00F4, a UTF-8 lead byte)
 * followed by as many characters that stand for continuation bytes (0x80..0xBF) as the lead
 * asks for; read back as bytes it must decode to one assigned character. */

/* The byte 0x80..0xBF that `cp` stands for in windows-1252 or Latin-1, or -1. */
static int clean_text_moji_byte(const struct clean_text *s, utf8proc_int32_t cp)
{
    if (cp >= 0x80 && cp <= 0xBF)
        return (int)cp; /* Latin-1, and the C1 controls of the bytes windows-1252 lacks */
    if (cp < 0x152 || cp > 0x2122)
        return -1;
    for (int b = 0; b < 32; b++)
        if (s->cp1252[b] == cp)
            return 0x80 + b;
    return -1;
}

enum clean_text_moji { CT_MOJI_NONE, CT_MOJI_WEAK, CT_MOJI_STRONG };

/* Whether a mojibake sequence starts at t[i] (t valid UTF-8, t[i] == 0xC3). Sets *end_out to
 * the byte after it and *cp_out to the character it stands for.
 * Strong: a sequence that real text does not contain. Portuguese "Ã" and French "â" are
 * followed by letters, not by "©" or "€™"; three- and four-byte characters need two or three
 * continuation characters in a row. Weak: a two-byte character of another lead (Ä‡ for ć, È™
 * for ș), which real text can contain ("CAFÉ’S": É then ’), so it is repaired only in a text
 * that has strong ones. */
static enum clean_text_moji clean_text_moji_at(const struct clean_text *s, const uint8_t *t,
                                               size_t n, size_t i, size_t *end_out,
                                               utf8proc_int32_t *cp_out)
{
    if (i + 1 >= n || t[i + 1] < 0x82 || t[i + 1] > 0xB4)
        return CT_MOJI_NONE;
    uint8_t bytes[4] = {(uint8_t)(0x40 + t[i + 1]), 0, 0, 0}; /* C3 xx is U+00xx, xx + 0x40 */
    int need = bytes[0] < 0xE0 ? 1 : bytes[0] < 0xF0 ? 2 : 3;
    size_t j = i + 2;
    for (int k = 1; k <= need; k++) {
        utf8proc_int32_t c;
        utf8proc_ssize_t len = j < n ? utf8proc_iterate(t + j, (utf8proc_ssize_t)(n - j), &c) : 0;
        int b = len > 0 ? clean_text_moji_byte(s, c) : -1;
        if (b < 0) {
            /* "â€" then a character that is no continuation: the third byte was one that
             * windows-1252 lacks and was dropped on the way; 0x9D (the closing ” of E2 80 9D)
             * is by far the likeliest. */
            if (k == 2 && bytes[0] == 0xE2 && bytes[1] == 0x80) {
                *end_out = j;
                *cp_out = 0x201D;
                return CT_MOJI_STRONG;
            }
            return CT_MOJI_NONE;
        }
        bytes[k] = (uint8_t)b;
        j += (size_t)len;
    }
    utf8proc_int32_t cp;
    if (utf8proc_iterate(bytes, need + 1, &cp) != need + 1)
        return CT_MOJI_NONE;
    utf8proc_category_t cat = utf8proc_category(cp);
    /* "Â" and a C1 control is what a garbled "Â" and byte 0x9D became when garbled once more:
     * the next round makes it a byte of the character it came from */
    if (cp >= 0x80 && cp <= 0x9F) {
        *end_out = j;
        *cp_out = cp;
        return CT_MOJI_STRONG;
    }
    if (cat == UTF8PROC_CATEGORY_CN || cat == UTF8PROC_CATEGORY_CC ||
        cat == UTF8PROC_CATEGORY_CO || cat == UTF8PROC_CATEGORY_CS)
        return CT_MOJI_NONE;
    *end_out = j;
    *cp_out = cp;
    if (bytes[0] <= 0xC3 || need > 1)
        return CT_MOJI_STRONG;
    /* IPA and spacing modifiers are what "É’" and the like decode to; news has no use for
     * them, so they do not even count as weak */
    bool letter = cat <= UTF8PROC_CATEGORY_LO && !(cp >= 0x250 && cp < 0x300);
    return letter ? CT_MOJI_WEAK : CT_MOJI_NONE;
}

/* One round of repair of t[0, n) into out (which may be t itself: the text only shrinks).
 * Returns the number of sequences repaired (0: out untouched) and sets *len_out. */
static long clean_text_moji_round(const struct clean_text *s, const uint8_t *t, size_t n,
                                  uint8_t *out, size_t *len_out)
{
    bool strong = false;
    const uint8_t *c = t;
    size_t end;
    utf8proc_int32_t cp;
    while (!strong && (c = memchr(c, 0xC3, n - (size_t)(c - t))) != NULL) {
        strong = clean_text_moji_at(s, t, n, (size_t)(c - t), &end, &cp) == CT_MOJI_STRONG;
        c++;
    }
    if (!strong)
        return 0;
    long fixed = 0;
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        if (t[i] == 0xC3 && clean_text_moji_at(s, t, n, i, &end, &cp) != CT_MOJI_NONE) {
            w += (size_t)utf8proc_encode_char(cp, out + w);
            i = end;
            fixed++;
            continue;
        }
        out[w++] = t[i++];
    }
    *len_out = w;
    return fixed;
}

/* Repairs mojibake in p (valid UTF-8), into s->moji when there is any; twice-garbled text
 * ("ÃƒÂ©") takes a round per garbling. Returns the number of sequences repaired or -1. */
static long clean_text_mojibake(struct clean_text *s, const char *p, size_t n, size_t *len_out)
{
    long total = 0;
    const uint8_t *in = (const uint8_t *)p;
    for (int round = 0; round < 3; round++) {
        if (round == 0 && nfu_grow(&s->moji, &s->moji_cap, n + 1, 1) < 0)
            return -1;
        long r = clean_text_moji_round(s, in, n, (uint8_t *)s->moji, &n);
        if (r == 0)
            break;
        total += r;
        in = (const uint8_t *)s->moji;
    }
    *len_out = n;
    return total;
}

/* In place: every run of spaces (any Unicode space separator) becomes one ASCII space, spaces
 * at the ends of lines go, line and paragraph separators become "\n" and "\n\n", and invisible
 * characters that only break words apart for searching (zero-width space, word joiner, soft
 * hyphen, stray byte-order marks) are removed. Never grows the text. */
static size_t clean_text_spaces(char *t, size_t n)
{
    size_t r = 0, w = 0;
    bool space = false, line_start = true;
    while (r < n) {
        unsigned char c = (unsigned char)t[r];
        if (c < 0x80 && c != '\n' && c != ' ') { /* ASCII: no space but " ", no call */
            if (space)
                t[w++] = ' ';
            t[w++] = (char)c;
            space = false;
            line_start = false;
            r++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t k =
            utf8proc_iterate((const utf8proc_uint8_t *)t + r, (utf8proc_ssize_t)(n - r), &cp);
        if (k < 1) { /* cannot happen after utf8proc_reencode; skip rather than loop */
            r++;
            continue;
        }
        if (cp == '\n' || cp == 0x2028 || cp == 0x2029) {
            t[w++] = '\n';
            if (cp == 0x2029)
                t[w++] = '\n';
            space = false;
            line_start = true;
        } else if (cp == ' ' || utf8proc_category(cp) == UTF8PROC_CATEGORY_ZS) {
            space = !line_start;
        } else if (cp == 0x200B || cp == 0x2060 || cp == 0xFEFF || cp == 0x00AD) {
            /* nothing */
        } else {
            if (space)
                t[w++] = ' ';
            memmove(t + w, t + r, (size_t)k);
            w += (size_t)k;
            space = false;
            line_start = false;
        }
        r += (size_t)k;
    }
    return w;
}

/* ---- lines and paragraphs ------------------------------------------------------------- */

static bool clean_text_match(struct clean_text *s, const pcre2_code *re, const char *p, size_t n)
{
    return pcre2_match(re, (PCRE2_SPTR)p, n, 0, PCRE2_NO_UTF_CHECK, s->md, NULL) >= 0;
}

/* Splits the text into lines, lifts a date header off the first one, and marks boilerplate. */
static int clean_text_lines(struct clean_text *s, struct nf_record *rec, const char *t, size_t n,
                            size_t *count_out)
{
    size_t count = 0;
    for (size_t i = 0; i <= n;) {
        const char *nl = memchr(t + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - t) : n;
        if (nfu_grow(&s->lines, &s->lines_cap, count + 1, sizeof(*s->lines)) < 0)
            return -1;
        s->lines[count++] = (struct clean_text_line){i, end - i, false};
        i = end + 1;
    }

    size_t first = 0;
    while (first < count && s->lines[first].len == 0)
        first++;
    if (first < count) {
        struct clean_text_line *l = &s->lines[first];
        if (pcre2_match(s->header, (PCRE2_SPTR)(t + l->off), l->len, 0, PCRE2_NO_UTF_CHECK,
                        s->md, NULL) >= 0) {
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
            const char *d = t + l->off;
            int y = atoi(d + ov[2]), m = atoi(d + ov[4]), dd = atoi(d + ov[6]);
            if (nfu_date_valid(y, m, dd)) {
                if (!nf_record_has(rec, NF_F_PUBLISHED_AT) &&
                    nf_record_set_strf(rec, NF_F_PUBLISHED_AT, "%04d-%02d-%02d", y, m, dd) < 0)
                    return -1;
                l->off += ov[1];
                l->len -= ov[1];
                l->drop = l->len == 0;
            }
        }
    }

    for (size_t i = 0; s->drop && i < count; i++) {
        struct clean_text_line *l = &s->lines[i];
        if (l->len && !l->drop && clean_text_match(s, s->drop, t + l->off, l->len))
            l->drop = true;
    }
    *count_out = count;
    return 0;
}

/* Joins lines into paragraphs in s->pbuf. A text with blank lines between its lines has
 * paragraphs of one or more lines (a hard-wrapped paragraph is joined with spaces); a text
 * without any is one paragraph per line. */
static int clean_text_paragraphs(struct clean_text *s, const char *t, size_t n, size_t nlines,
                                 size_t *count_out)
{
    bool blank_mode = false, seen = false, blank = false;
    for (size_t i = 0; i < nlines && !blank_mode; i++) {
        const struct clean_text_line *l = &s->lines[i];
        if (l->len == 0 && !l->drop) {
            blank = seen;
        } else if (l->len) {
            blank_mode = blank;
            seen = true;
        }
    }
    if (nfu_grow(&s->pbuf, &s->pbuf_cap, n + 1, 1) < 0)
        return -1;
    size_t w = 0, count = 0;
    bool open = false;
    for (size_t i = 0; i < nlines; i++) {
        const struct clean_text_line *l = &s->lines[i];
        if (l->drop)
            continue;
        if (l->len == 0) {
            open = false;
            continue;
        }
        if (open && blank_mode) {
            struct clean_text_para *p = &s->paras[count - 1];
            s->pbuf[w++] = ' ';
            memcpy(s->pbuf + w, t + l->off, l->len);
            w += l->len;
            p->len += 1 + l->len;
            p->lines++;
            continue;
        }
        if (nfu_grow(&s->paras, &s->paras_cap, count + 1, sizeof(*s->paras)) < 0)
            return -1;
        s->paras[count++] = (struct clean_text_para){w, l->len, 1, true};
        memcpy(s->pbuf + w, t + l->off, l->len);
        w += l->len;
        open = true;
    }
    *count_out = count;
    return 0;
}

/* ---- headlines ------------------------------------------------------------------------ */

/* The last character that is not a closing quote or bracket. */
static utf8proc_int32_t clean_text_last_char(const char *p, size_t n)
{
    while (n > 0) {
        size_t k = n - 1;
        while (k > 0 && ((unsigned char)p[k] & 0xC0) == 0x80)
            k--;
        utf8proc_int32_t cp = -1;
        utf8proc_iterate((const utf8proc_uint8_t *)p + k, (utf8proc_ssize_t)(n - k), &cp);
        if (!(cp == '"' || cp == '\'' || cp == ')' || cp == 0x2019 || cp == 0x201D ||
              cp == 0x00BB || cp == 0x203A))
            return cp;
        n = k;
    }
    return -1;
}

static int clean_text_count_words(const char *p, size_t n)
{
    int words = 0;
    bool in = false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == ' ')
            in = false;
        else if (!in)
            in = true, words++;
    }
    return words;
}

/* A line that reads as a headline: a single short line, capitalised, of at least three words,
 * not ending like a sentence or a dateline ("BAMAKO, Mali (Reuters) -") and not a byline. */
static bool clean_text_headline_like(struct clean_text *s, const struct clean_text_para *para)
{
    const char *p = s->pbuf;
    if (para->lines != 1 || para->len > CT_HEADLINE_MAX_BYTES)
        return false;
    const char *t = p + para->off;
    int words = clean_text_count_words(t, para->len);
    if (words < 3 || words > CT_HEADLINE_MAX_WORDS)
        return false;
    if ((para->len > 3 && strncasecmp(t, "by ", 3) == 0) ||
        clean_text_match(s, s->byline, t, para->len))
        return false;
    utf8proc_int32_t first;
    if (utf8proc_iterate((const utf8proc_uint8_t *)t, (utf8proc_ssize_t)para->len, &first) < 1)
        return false;
    utf8proc_category_t c = utf8proc_category(first);
    if (!(c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LT || c == UTF8PROC_CATEGORY_ND ||
          c == UTF8PROC_CATEGORY_PI || first == '"' || first == '\'' || first == 0x00AB))
        return false;
    utf8proc_int32_t last = clean_text_last_char(t, para->len);
    if (last <= 0)
        return false;
    return last >= 0x80 ? last != 0x2026 && last != 0x2013 && last != 0x2014
                        : !strchr(".!:;,-", (int)last);
}

/* Body text ends like a sentence, or is too long for anything else. */
static bool clean_text_body_like(const char *p, const struct clean_text_para *para)
{
    utf8proc_int32_t last = clean_text_last_char(p + para->off, para->len);
    return para->len > CT_HEADLINE_MAX_BYTES || last == '.' || last == '!' || last == '?' ||
           last == 0x2026;
}

static bool clean_text_stopword(const char *w, size_t n)
{
    for (size_t i = 0; i < sizeof(clean_text_stopwords) / sizeof(*clean_text_stopwords); i++)
        if (strlen(clean_text_stopwords[i]) == n && memcmp(clean_text_stopwords[i], w, n) == 0)
            return true;
    return false;
}

/* The distinct lower-cased content words of a line: runs of letters and digits, so that
 * "NATO-like" counts as "nato" and "like". */
static void clean_text_words(const char *p, size_t n, struct clean_text_words *out)
{
    out->n = 0;
    size_t w = 0, start = 0;
    for (size_t i = 0; i <= n;) {
        utf8proc_int32_t cp = ' ';
        utf8proc_ssize_t k = 1;
        if (i < n) {
            k = utf8proc_iterate((const utf8proc_uint8_t *)p + i, (utf8proc_ssize_t)(n - i), &cp);
            if (k < 1)
                k = 1, cp = ' ';
        }
        const char *cat = utf8proc_category_string(cp);
        bool word_char = cat[0] == 'L' || cat[0] == 'N' || cat[0] == 'M';
        if (word_char && w + 4 < sizeof(out->buf)) {
            w += (size_t)utf8proc_encode_char(utf8proc_tolower(cp),
                                              (utf8proc_uint8_t *)out->buf + w);
        } else if (w > start) {
            size_t len = w - start;
            /* one letter is a possessive "s" or an initial, not content */
            bool keep = len > 1 && len < 256 && out->n < CT_WORDS_MAX &&
                        !clean_text_stopword(out->buf + start, len);
            for (int j = 0; keep && j < out->n; j++)
                if (out->len[j] == len &&
                    memcmp(out->buf + out->off[j], out->buf + start, len) == 0)
                    keep = false;
            if (keep) {
                out->off[out->n] = (uint16_t)start;
                out->len[out->n] = (uint8_t)len;
                out->n++;
                start = w;
            } else {
                w = start;
            }
        }
        i += (size_t)k;
    }
}

/* Dice coefficient of two lines' content words; 0 when one has half as many again as the other. */
static double clean_text_similarity(const char *a, size_t an, const char *b, size_t bn)
{
    struct clean_text_words wa, wb;
    clean_text_words(a, an, &wa);
    clean_text_words(b, bn, &wb);
    /* Two wordings of one headline are about as long; a lead that repeats the headline's words
     * is much longer. */
    if (wa.n == 0 || wb.n == 0 || 2 * wa.n > 3 * wb.n || 2 * wb.n > 3 * wa.n)
        return 0.0;
    int common = 0;
    for (int i = 0; i < wa.n; i++)
        for (int j = 0; j < wb.n; j++)
            if (wa.len[i] == wb.len[j] &&
                memcmp(wa.buf + wa.off[i], wb.buf + wb.off[j], wa.len[i]) == 0) {
                common++;
                break;
            }
    return 2.0 * common / (wa.n + wb.n);
}

static int clean_text_set_if_absent(struct nf_record *rec, enum nf_field f, const char *p,
                                    size_t n)
{
    if (nf_record_has(rec, f) || n == 0)
        return 0;
    return nf_record_set_str(rec, f, p, n);
}

/* A headline line at the top (and a second wording of it) becomes the title. */
static int clean_text_headline(struct clean_text *s, struct nf_record *rec, size_t np)
{
    struct clean_text_para *ps = s->paras;
    if (np < 2 || !clean_text_headline_like(s, &ps[0]))
        return 0;
    size_t next = 1;
    if (np >= 3 && clean_text_headline_like(s, &ps[1]) &&
        clean_text_similarity(s->pbuf + ps[0].off, ps[0].len, s->pbuf + ps[1].off, ps[1].len) >=
            s->conf->headline_similarity)
        next = 2;
    /* A record that came with its title (a feed, a JSON line, the page's metadata): a lone first
     * line is its headline only when it says the same; otherwise it is the start of the text,
     * such as a wire brief's first figures ("Parent bank net profit 181.5 mln vs 135.1 mln"). */
    size_t tn;
    const char *title = nf_record_str(rec, NF_F_TITLE, &tn);
    if (next == 1 && title && tn > 0 &&
        clean_text_similarity(s->pbuf + ps[0].off, ps[0].len, title, tn) <
            s->conf->headline_similarity)
        return 0;
    bool body = false;
    for (size_t i = next; i < np && !body; i++)
        body = clean_text_body_like(s->pbuf, &ps[i]);
    if (!body)
        return 0;
    for (size_t i = 0; i < next; i++)
        ps[i].keep = false;
    return clean_text_set_if_absent(rec, NF_F_TITLE, s->pbuf + ps[0].off, ps[0].len);
}

/* ---- bylines and outlet signatures ---------------------------------------------------- */

static size_t clean_text_group(struct clean_text *s, int g, size_t *off_out)
{
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
    if (ov[2 * g] == PCRE2_UNSET)
        return 0;
    *off_out = ov[2 * g];
    return ov[2 * g + 1] - ov[2 * g];
}

/* Sets byline (and outlet, when the part after the comma names one) from a "By ..." line.
 * Returns 1 if the line is a byline, 0 if not, -1 on allocation failure. */
static int clean_text_take_byline(struct clean_text *s, struct nf_record *rec,
                                  const struct clean_text_para *p)
{
    const char *t = s->pbuf + p->off;
    if (p->lines != 1 || p->len > 160 || !clean_text_match(s, s->byline, t, p->len))
        return 0;
    size_t noff = 0, ooff = 0;
    size_t nlen = clean_text_group(s, 1, &noff);
    size_t olen = clean_text_group(s, 2, &ooff);
    /* A full stop after the last name ends the line, unless it closes an initial or "Jr." */
    if (nlen > 4 && t[noff + nlen - 1] == '.' && t[noff + nlen - 3] != ' ' &&
        memcmp(t + noff + nlen - 3, "Jr.", 3) != 0 && memcmp(t + noff + nlen - 3, "Sr.", 3) != 0)
        nlen--;
    if (clean_text_set_if_absent(rec, NF_F_BYLINE, t + noff, nlen) < 0)
        return -1;
    if (olen && !clean_text_match(s, s->role, t + ooff, olen) &&
        clean_text_set_if_absent(rec, NF_F_OUTLET, t + ooff, olen) < 0)
        return -1;
    return 1;
}

/* Whether the line is an outlet signature. *strong: it says so by its form (a lead-in dash or
 * "Source:", parentheses, a desk suffix) or names a wire service; a weak one counts only right
 * after a byline. */
static bool clean_text_outlet_like(struct clean_text *s, const struct clean_text_para *p,
                                   bool *strong, size_t *off_out, size_t *len_out)
{
    const char *t = s->pbuf + p->off;
    if (p->lines != 1 || p->len > 100 || !clean_text_match(s, s->outlet, t, p->len))
        return false;
    size_t o1 = 0, o2 = 0, o4 = 0;
    bool lead = clean_text_group(s, 1, &o1) > 0;
    bool paren = clean_text_group(s, 2, &o2) > 0;
    bool desk = clean_text_group(s, 4, &o4) > 0;
    *len_out = clean_text_group(s, 3, off_out);
    *strong = lead || paren || desk;
    if (!*strong) /* last: this match overwrites the outlet match's groups */
        *strong = clean_text_match(s, s->agency, t + *off_out, *len_out);
    return *len_out > 0;
}

/* Byline lines at the top, byline and outlet signature lines at the bottom. */
static int clean_text_signatures(struct clean_text *s, struct nf_record *rec, size_t np)
{
    struct clean_text_para *ps = s->paras;
    size_t first = 0;
    while (first < np && !ps[first].keep)
        first++;
    if (first < np) {
        int r = clean_text_take_byline(s, rec, &ps[first]);
        if (r < 0)
            return -1;
        if (r > 0)
            ps[first].keep = false;
    }

    size_t last = np;
    while (last > 0 && !ps[last - 1].keep)
        last--;
    if (last == 0)
        return 0;
    struct clean_text_para *l = &ps[last - 1];
    int r = clean_text_take_byline(s, rec, l);
    if (r != 0) {
        if (r > 0)
            l->keep = false;
        return r < 0 ? -1 : 0;
    }
    bool strong;
    size_t off = 0, len = 0;
    if (!clean_text_outlet_like(s, l, &strong, &off, &len))
        return 0;
    struct clean_text_para *before = NULL;
    if (last >= 2 && ps[last - 2].keep)
        before = &ps[last - 2];
    bool by = before && before->lines == 1 && before->len <= 160 &&
              clean_text_match(s, s->byline, s->pbuf + before->off, before->len);
    if (!strong && !by)
        return 0;
    /* The signature's outlet goes in first: a byline's own ", Outlet" part comes second. */
    l->keep = false;
    if (clean_text_set_if_absent(rec, NF_F_OUTLET, s->pbuf + l->off + off, len) < 0)
        return -1;
    if (by) {
        if (clean_text_take_byline(s, rec, before) < 0)
            return -1;
        before->keep = false;
    }
    return 0;
}

/* ---- the record ----------------------------------------------------------------------- */

static bool clean_text_is_html(const char *content_type)
{
    return strncasecmp(content_type, "text/html", 9) == 0 ||
           strncasecmp(content_type, "application/xhtml", 17) == 0;
}

/* Decodes and normalises the input into s->norm; *len_out its length. */
static int clean_text_decode(struct clean_text *s, struct nf_ctx *ctx, struct nf_record *rec,
                             const char *in, size_t n, size_t *len_out)
{
    if (n >= 3 && memcmp(in, "\xEF\xBB\xBF", 3) == 0)
        in += 3, n -= 3;
    const char *id = nf_record_str(rec, NF_F_ID, NULL);
    if (s->conf->repair_mojibake) {
        /* before the byte repair below: stray bytes pass through it untouched */
        size_t moji_len;
        long moji = clean_text_mojibake(s, in, n, &moji_len);
        if (moji < 0) {
            nf_ctx_error(ctx, "out of memory");
            return -1;
        }
        if (moji > 0) {
            nf_log(ctx, NF_LOG_DEBUG, "record %s: %ld mojibake sequence%s repaired",
                   id ? id : "(no id)", moji, moji == 1 ? "" : "s");
            nf_ctx_count(ctx, "mojibake_repaired", 1);
            in = s->moji, n = moji_len;
        }
    }
    utf8proc_ssize_t r = clean_text_nfc(s, in, n);
    if (r == UTF8PROC_ERROR_INVALIDUTF8) {
        size_t fixed_len;
        long bad = clean_text_repair(s, in, n, &fixed_len);
        if (bad < 0) {
            nf_ctx_error(ctx, "out of memory");
            return -1;
        }
        nf_log(ctx, NF_LOG_WARN, "record %s: %ld byte%s not valid UTF-8, read as windows-1252",
               id ? id : "(no id)", bad, bad == 1 ? " is" : "s are");
        nf_ctx_count(ctx, "cp1252_repaired", 1);
        r = clean_text_nfc(s, s->fixed, fixed_len);
    }
    if (r < 0) {
        nf_ctx_error(ctx, "cannot normalise the text: %s", utf8proc_errmsg(r));
        return -1;
    }
    *len_out = clean_text_spaces(s->norm, (size_t)r);
    return 0;
}

static void clean_text_trim_buffers(struct clean_text *s)
{
    if (s->cps_cap * sizeof(*s->cps) > CT_KEEP_BYTES)
        free(s->cps), s->cps = NULL, s->cps_cap = 0;
    if (s->fixed_cap > CT_KEEP_BYTES)
        free(s->fixed), s->fixed = NULL, s->fixed_cap = 0;
    if (s->moji_cap > CT_KEEP_BYTES)
        free(s->moji), s->moji = NULL, s->moji_cap = 0;
    if (s->norm_cap > CT_KEEP_BYTES)
        free(s->norm), s->norm = NULL, s->norm_cap = 0;
    if (s->pbuf_cap > CT_KEEP_BYTES)
        free(s->pbuf), s->pbuf = NULL, s->pbuf_cap = 0;
    if (s->out_cap > CT_KEEP_BYTES)
        free(s->out), s->out = NULL, s->out_cap = 0;
}

static int clean_text_run(struct clean_text *s, struct nf_ctx *ctx, struct nf_record *rec)
{
    size_t n;
    const char *in = nf_record_str(rec, NF_F_TEXT, &n);
    if (!in) {
        const char *ct = nf_record_str(rec, NF_F_CONTENT_TYPE, NULL);
        if (ct && clean_text_is_html(ct))
            return NF_OK;
        in = nf_record_bytes(rec, NF_F_RAW, &n);
        if (!in) {
            nf_ctx_error(ctx, "record has neither raw nor text to clean");
            return NF_ERR;
        }
    }
    size_t len, nlines, np;
    if (clean_text_decode(s, ctx, rec, in, n, &len) < 0)
        return NF_ERR;
    const char *t = s->norm;
    if (clean_text_lines(s, rec, t, len, &nlines) < 0 ||
        clean_text_paragraphs(s, t, len, nlines, &np) < 0 ||
        clean_text_headline(s, rec, np) < 0 || clean_text_signatures(s, rec, np) < 0)
        goto nomem;

    size_t w = 0;
    if (nfu_grow(&s->out, &s->out_cap, len + 2 * np + 1, 1) < 0)
        goto nomem;
    for (size_t i = 0; i < np; i++) {
        const struct clean_text_para *p = &s->paras[i];
        if (!p->keep)
            continue;
        if (w) {
            memcpy(s->out + w, "\n\n", 2);
            w += 2;
        }
        memcpy(s->out + w, s->pbuf + p->off, p->len);
        w += p->len;
    }
    int64_t chars = 0;
    for (size_t i = 0; i < w; i++)
        chars += ((unsigned char)s->out[i] & 0xC0) != 0x80;
    if (chars == 0) {
        nf_ctx_error(ctx, "no text left after cleaning");
        return NF_ERR;
    }
    if (chars < s->conf->min_chars) {
        nf_ctx_error(ctx, "only %lld characters left after cleaning (min_chars is %lld)",
                     (long long)chars, (long long)s->conf->min_chars);
        return NF_ERR;
    }
    if (nf_record_set_str(rec, NF_F_TEXT, s->out, w) < 0)
        goto nomem;
    return NF_OK;
nomem:
    nf_ctx_error(ctx, "out of memory");
    return NF_ERR;
}

static int clean_text_process(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    struct clean_text *s = state;
    int r = clean_text_run(s, ctx, rec);
    clean_text_trim_buffers(s);
    return r;
}

NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI,
    .size = sizeof(struct nf_plugin),
    .name = "clean_text",
    .description = "Cleans plain-text articles: encoding repair, NFC, whitespace, boilerplate "
                   "lines; lifts date header, headline, byline and outlet into their fields",
    .kind = NF_PLUGIN_FILTER,
    .options = clean_text_options,
    .conf_size = sizeof(struct clean_text_conf),
    .init = clean_text_init,
    .process = clean_text_process,
    .destroy = clean_text_destroy,
    .validate = clean_text_validate,
};
