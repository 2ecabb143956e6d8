/* story: a filter that sets story_id (the id of the story's article read first) by online
 * clustering: TF-IDF sub-vectors of folded words, names (the lead's counted more) and figures
 * (IDF learned from the stream, optionally seeded), shared entities, publication time and, for
 * undated texts, the latest years they mention, against compact centroids of recent stories
 * (to which a member adds its terms normalised over its strongest, so that a long feature counts
 * as much as a short telling) found through an inverted index (looked up with the record's
 * strongest terms that some other article has); a story is joined only through a shared anchor
 * (a word or entity still rare in the stream, or a name, or a word not common in the stream,
 * rare outside the story), so that reports on one template do not gather on their common words
 * while a big story keeps its names and words; who and how many (names, figures) that agree
 * raise a join, and that disagree lower one into a young story of an undated side; a story of
 * one or two members and the story an article joined are merged when the article finds it next
 * best and their centroids are alike (a split at a story's start, mended), and two grown stories
 * so when their figures agree too (one event told in two strands of words). BCubed F1 through
 * conf/stories.cfg over ten orders: BASIL 0.948, ecbplus-dev 0.913: two events of one kind (two
 * arrests of one team's players) are still sometimes one story;
 * docs/stories.md has the figures and what was tried. Copies join their original's story, and
 * an original that dedup found read before articles that arrived first joins their story;
 * replays keep theirs. A story is named by its member read first (read_order): when an
 * earlier-read member joins, the story is renamed and the record carries the rename to the
 * stores ("amend", ../dedup/amend.h). Which story an article joins depends on what came before
 * it: the stage takes its records in read order (in_read_order) to decide alike in every run. One
 * worker, snapshotted to its state directory as its state is in memory, with a log of the records
 * judged since (appended at every flush, replayed at start), so that a crash loses nothing it
 * sent on and the next article is judged as it would have been. A merge is a rename too: the
 * stores move the merged story's articles, and the stage finds them through the names they
 * joined under (story_follow). A story of 4 to 32 members whose members fall in two sides that
 * differ in their figures is split in two (split_ratio, on by default), and the record carries
 * the members moved to the stores ("story_of"), again if it is sent again: two events of one
 * kind that gathered in one story are parted once each has told itself a few times. It does not
 * translate. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utf8proc.h>
/* Inlined: every word of every article is hashed, most of them under 16 bytes, where a call into
 * the library costs as much as the hash (the same hashes either way). */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "../dedup/amend.h"
#include "newsflow/plugin.h"
#include "plugin_util.h"
#include "savefile.h"
#include "story.h"

#define STORY_MAGIC "NFSTORY1"
#define STORY_SNAPSHOT "story.snap"
#define STORY_LOG "story.log" /* the records judged since the snapshot, each a u32 length and the
                               * record as msgpack; story.log.<g>: the generations before it
                               * (../common/savefile.h) */
#define STORY_QUERY_TERMS 32 /* a record's strongest terms looked up in the index */
#define STORY_INDEX_TERMS 16 /* a story's strongest terms in the index (all top_terms score) */
#define STORY_CANDIDATES 8 /* stories scored in full */
#define STORY_ANCHOR_YOUNG 16 /* articles: what common_share may call rare in a young stream */
#define STORY_POSTINGS_SCAN 256 /* newest entries read from one term's list: a term in more
                                  * stories than that is common and the recent ones matter */
#define STORY_PREFETCH 8 /* terms ahead whose hash table entry is asked for */
#define STORY_MAX_WORD 64  /* bytes; longer runs are not words (URLs, hashes) */
#define STORY_ENT_SEED 0x656e74ULL /* entity names hash apart from words */
#define STORY_NAME_MIX 0x9e3779b97f4a7c15ULL /* a name's hash from its word's: apart, and cheap */
#define STORY_FIGURE_SEED 0x666967ULL /* figures apart from words */
#define STORY_MAX_FIGURE 24 /* bytes; longer runs of digits are ids, not figures */
/* The lead: the text's first sentence (ended by ". ", "! " or "? " after STORY_LEAD_MIN bytes)
 * or first line (after half that), at most STORY_LEAD_MAX bytes. */
#define STORY_LEAD_MIN 40
#define STORY_LEAD_MAX 300
/* Four digits in this range are read as a year. Years this many apart or more are the years of
 * two events (year_weight): news mentions the year it is written in, and the one before. */
#define STORY_YEAR_MIN 1900
#define STORY_YEAR_MAX 2099
#define STORY_YEARS_APART 2
/* Who and how many: names whose cosine is under STORY_NAMES_AGREE and figures whose cosine is
 * under STORY_FIGURES_AGREE say that the article and the story may be two events of one kind
 * (agree_weight, disagree_young_weight); a story of up to STORY_YOUNG members is young. */
#define STORY_NAMES_AGREE 0.4
#define STORY_FIGURES_AGREE 0.1
#define STORY_YOUNG 2
/* Added to every IDF. The usual +1 gives the words of every article (a region's names in a
 * stream about it) nearly the weight of rare ones while the stream is short; 0 would ignore
 * them outright and leave the first articles of a stream nothing to compare. */
#define STORY_IDF_FLOOR 0.4
/* Records without a read order count as read after every record that has one, in the order
 * they arrive (the arrival number, kept in the snapshot). */
#define STORY_UNORDERED (INT64_C(1) << 62)
/* Steps story_follow takes from an article to the story its own was merged into */
#define STORY_FOLLOW 8

static const struct nf_option story_options[] = {
    {"threshold", NF_OPT_DOUBLE, "0.17", offsetof(struct story_conf, threshold),
     "Similarity (0-1) at or above which an article joins the most similar recent story; "
     "below it the article starts a story of its own.", .min = "0", .max = "1"},
    {"window_days", NF_OPT_DOUBLE, "60", offsetof(struct story_conf, window_days),
     "An article joins only stories with a member published at most this many days from it "
     "(when both have a publication date). Rewrites of a story appear weeks later.", .min = "0"},
    {"time_weight", NF_OPT_DOUBLE, "0.1", offsetof(struct story_conf, time_weight),
     "How much the similarity drops, linearly, from a gap of 0 days to one of window_days: "
     "0 ignores time inside the window.", .min = "0", .max = "1"},
    {"year_weight", NF_OPT_DOUBLE, "0.25", offsetof(struct story_conf, year_weight),
     "How much the similarity drops when the article or the story has no publication date "
     "and the latest years they mention (or were published in) are two or more apart: an "
     "article cannot mention a year after its own, and news mentions its own year, so two "
     "events of one kind years apart (two castings of one role) are told apart by the years "
     "their texts give; a year after the one an article was published (or, undated, fetched) "
     "in is a plan and not counted. 0: years are not compared.", .min = "0", .max = "1"},
    {"entity_weight", NF_OPT_DOUBLE, "0.1", offsetof(struct story_conf, entity_weight),
     "How much the overlap of named entities (cosine, 0-1) scales the text's TF-IDF cosine: "
     "the similarity is text * (1 - w + w * entities) when both the article and the story "
     "have entities, the text's cosine alone otherwise.", .min = "0", .max = "1"},
    {"title_weight", NF_OPT_DOUBLE, "2", offsetof(struct story_conf, title_weight),
     "Each word of the title counts as this many occurrences in the text.", .min = "0"},
    {"name_weight", NF_OPT_DOUBLE, "0.5", offsetof(struct story_conf, name_weight),
     "Weight of the names' cosine against the words' (1): the similarity is the weighed mean "
     "of the cosines of words, names (words written with a capital inside a sentence, known "
     "places left out: who) and figures, over the kinds both sides have. Two events of one "
     "kind (two arrests of one team's players, two fights of one boxer) are told apart by "
     "their names; weighed higher, the names a region's stories share gather them. Names are "
     "anchors whatever this is; 0 leaves them out of the similarity.", .min = "0"},
    {"figure_weight", NF_OPT_DOUBLE, "0.25", offsetof(struct story_conf, figure_weight),
     "Weight of the figures' cosine (\"31-24\", \"6.1\", \"2013\": scores, tolls, years) in "
     "the similarity, as name_weight. 0: figures are not read.", .min = "0"},
    {"lead_weight", NF_OPT_DOUBLE, "2", offsetof(struct story_conf, lead_weight),
     "Each name in the text's lead (its first sentence, or first line) counts as this many "
     "mentions among the names: news says in its first sentence who the event is about, "
     "while the names further down (a spokesman, an earlier case) differ from one telling to "
     "the next. 1: the lead's names count as any other.", .min = "1"},
    {"agree_weight", NF_OPT_DOUBLE, "0.125", offsetof(struct story_conf, agree_weight),
     "How much the similarity rises (times 1 + this) unless the article and the story both "
     "name people and agree little on them (names' cosine under 0.4) while no figure of one is "
     "the other's (figures' cosine under 0.1): two tellings of one event agree on who or on "
     "how many, two events of one kind (two arrests of one team's players) share their words "
     "and differ in those. 0: no such rise.", .min = "0", .max = "1"},
    {"disagree_young_weight", NF_OPT_DOUBLE, "0.21",
     offsetof(struct story_conf, disagree_young_weight),
     "How much the similarity drops when the article and a story of one or two members "
     "disagree on who and how many so (see agree_weight) while one of them has no publication "
     "date: a wrong join begins in a young story, and with no date to set two events of one "
     "kind apart, who and how many are what is left. 0: no such drop.", .min = "0", .max = "1"},
    {"merge_threshold", NF_OPT_DOUBLE, "0.28", offsetof(struct story_conf, merge_threshold),
     "Similarity of two stories' centroids (weighed as an article's) at or above which the "
     "story an article joined and the next best story for it are merged, when one of them has "
     "one or two members: a telling that missed its story at first (the same story in other "
     "words) is mended when a later article is close to both. The merged story keeps the name "
     "of the member read first and the record carries the rename to the stores. 0: stories "
     "are never merged.", .min = "0", .max = "1"},
    {"merge_grown", NF_OPT_DOUBLE, "0.35", offsetof(struct story_conf, merge_grown),
     "See merge_threshold: two stories of more than two members each are merged when their "
     "centroids score at least this and their figures' cosine is at least "
     "merge_grown_figures: one event told in two strands of words, each grown before a "
     "telling close to both came, agrees on its figures (a toll, an age, a score), where two "
     "events of one kind share their words and differ in those. 0: grown stories are never "
     "merged.", .min = "0", .max = "1"},
    {"merge_grown_figures", NF_OPT_DOUBLE, "0.25",
     offsetof(struct story_conf, merge_grown_figures),
     "See merge_grown: the figures' cosine two grown stories need to be merged (neither "
     "giving figures: not merged).", .min = "0", .max = "1"},
    {"split_ratio", NF_OPT_DOUBLE, "0.6", offsetof(struct story_conf, split_ratio),
     "A story of 4 to 32 members is split in two when its members fall in two sides whose "
     "mean similarity across is under this share of their mean similarity within, and whose "
     "figures' is under split_figures of theirs: two events of one kind (two arrests of one "
     "team's players) gathered in one story share the kind's words, and each side agrees on "
     "its own figures (a toll, an age, a score). The side with the member read first keeps "
     "the story; the other becomes a story named by its own member read first, and the record "
     "that split it carries each of its members to it (\"story_of\") for the stores, and "
     "again if it is sent again (the latest 1024 splits' moves are kept for that). 0: stories "
     "are never split, and no member is kept for it.", .min = "0", .max = "1"},
    {"split_figures", NF_OPT_DOUBLE, "0.3", offsetof(struct story_conf, split_figures),
     "See split_ratio: how little the two sides of a story may agree on figures, against "
     "how much each agrees within, for the story to be split.", .min = "0", .max = "1"},
    {"split_figure_pairs", NF_OPT_DOUBLE, "0.4", offsetof(struct story_conf, split_figure_pairs),
     "See split_ratio: the share of the story's member pairs that must both give figures for "
     "the figures to tell its two sides apart; under it the story is not split. In a story of "
     "short tellings most give no figure or one, and two or three pairs would decide.",
     .min = "0", .max = "1"},
    {"split_members", NF_OPT_INT, "20000", offsetof(struct story_conf, split_members),
     "Members kept for splitting stories, about 700 bytes each (14 MB at the default); "
     "beyond it those of the stories that went longest without a new member are dropped, and "
     "such a story is no longer split.", .min = "64", .max = "100000000"},
    {"anchor_share", NF_OPT_DOUBLE, "0.005", offsetof(struct story_conf, anchor_share),
     "A word (or entity) is an anchor when at most this share of the articles seen so far have "
     "it (and never fewer than 5 articles, nor than common_share of them up to 16): a name, a "
     "place, a rare word of the event; a name (a word written with a capital inside a "
     "sentence) when at most this share of the articles outside the story have it, so that a "
     "story that grows keeps its names. See 'anchors'.", .min = "0", .max = "1"},
    {"common_share", NF_OPT_DOUBLE, "0.05", offsetof(struct story_conf, common_share),
     "A word (or figure) in at most this share of the articles seen so far is an anchor of a "
     "story also when it is rare outside the story (its members' own uses left out), as a "
     "name is: a story that grows keeps its words as anchors. A word in more of the stream "
     "is an anchor only while rare in the whole stream (anchor_share), so that reports on "
     "one template do not gather. 0: words must be rare in the whole stream.",
     .min = "0", .max = "1"},
    {"name_share", NF_OPT_DOUBLE, "0.25", offsetof(struct story_conf, name_share),
     "A name is also an anchor of a story of at most 32 members that holds at least this "
     "share of the articles having it, however many others have it: a topic told as two "
     "events (two patches of one vendor, two arrests of one team's players) makes two stories "
     "that share its names, each the other's outside. 0: off.", .min = "0", .max = "1"},
    {"anchors", NF_OPT_INT, "1", offsetof(struct story_conf, anchors),
     "An article joins a story only when it shares at least this many anchors with the story's "
     "centroid, so that reports on one template (quarterly results of other companies, each "
     "month's statistics) do not gather into one story on their common words. 0: no such "
     "requirement.", .min = "0"},
    {"top_terms", NF_OPT_INT, "48", offsetof(struct story_conf, top_terms),
     "Terms kept in a story's centroid (its 16 strongest are indexed): more is slower and "
     "costs memory, fewer loses the story's detail.", .min = "4", .max = "1024"},
    {"max_stories", NF_OPT_INT, "50000", offsetof(struct story_conf, max_stories),
     "Stories kept in memory; beyond it the ones that went longest without a new article are "
     "forgotten (about 1 KB each).", .min = "16", .max = "1073741824"},
    {"max_terms", NF_OPT_INT, "2000000", offsetof(struct story_conf, max_terms),
     "Distinct words whose document frequency is kept; when full, words seen in one document "
     "only are forgotten.", .min = "1024"},
    {"max_ids", NF_OPT_INT, "1000000", offsetof(struct story_conf, max_ids),
     "Article ids whose story is remembered, so that a replayed article gets the same story "
     "(the newest at least half of this many are kept).", .min = "16"},
    {"snapshot_s", NF_OPT_INT, "10", offsetof(struct story_conf, snapshot_s),
     "At most this often (seconds) the state is written to the stage's state directory when a "
     "batch ends (synced from a thread, the worker going on); it is always written on shutdown "
     "and read back on start.", .min = "0"},
    {"idf_bootstrap", NF_OPT_PATH, "", offsetof(struct story_conf, idf_bootstrap),
     "Document frequencies to start from (a file written by idf_export, e.g. over a news "
     "corpus), so that the first articles are weighed well. Empty: learn from the stream only."},
    {"idf_export", NF_OPT_PATH, "", offsetof(struct story_conf, idf_export),
     "Write the document frequencies learned so far to this file (with each snapshot and on "
     "shutdown), for use as another pipeline's idf_bootstrap. Empty: do not."},
    {.name = NULL},
};

/* Small multilingual list of function words (folded: no accents, lower case). Frequent content
 * words need no list: the learned IDF weighs them down. */
static const char *const story_stopwords[] = {
    /* English */
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
    "been", "before", "being", "but", "by", "can", "could", "did", "do", "does", "for", "from",
    "had", "has", "have", "he", "her", "here", "hers", "him", "his", "how", "i", "if", "in",
    "into", "is", "it", "its", "just", "may", "me", "might", "more", "most", "mr", "mrs", "ms",
    "much", "must", "my", "no", "not", "now", "of", "on", "one", "only", "or", "other", "our",
    "out", "over", "s", "said", "says", "say", "she", "should", "so", "some", "such", "than",
    "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "through",
    "to", "too", "under", "up", "very", "was", "we", "were", "what", "when", "where", "which",
    "while", "who", "whom", "why", "will", "with", "would", "you", "your", "told", "according",
    "new", "two", "three", "year", "years", "people", "time", "last", "first", "week",
    /* French */
    "au", "aux", "avec", "ce", "ces", "cette", "dans", "de", "des", "du", "elle", "en", "est",
    "et", "il", "ils", "la", "le", "les", "leur", "lui", "mais", "ne", "ni", "nous", "ont", "ou",
    "par", "pas", "plus", "pour", "qu", "que", "qui", "sa", "se", "ses", "son", "sont", "sur",
    "un", "une", "vous", "ete", "etre", "fait",
    /* Spanish, Portuguese, Italian */
    "al", "como", "con", "del", "el", "es", "esta", "este", "lo", "los", "las", "para", "por",
    "se", "su", "sus", "una", "uno", "y", "da", "do", "dos", "das", "em", "na", "no", "nos", "os",
    "um", "uma", "di", "il", "che", "per", "non", "sono", "della", "delle", "nel", "gli",
    /* German */
    "das", "dem", "den", "der", "die", "ein", "eine", "einer", "eines", "er", "es", "hat", "ich",
    "im", "ist", "mit", "nicht", "sich", "sie", "und", "von", "vor", "wie", "wird", "zu", "zum",
    "zur", "auf", "aus", "bei", "nach", "auch", "noch", "wurde",
};

/* ---- small hash tables ------------------------------------------------------------------ */


static uint64_t story_hash(const void *p, size_t n, uint64_t seed)
{
    uint64_t h = XXH3_64bits_withSeed(p, n, seed);
    return h ? h : 1;
}

/* The term of a name: its word's hash moved elsewhere (a bijection of 64 bits, 0 never made) */
static uint64_t story_name_hash(uint64_t h)
{
    uint64_t x = (h ^ (h >> 29)) * STORY_NAME_MIX;
    return x ? x : 1;
}

static size_t story_pow2(size_t n)
{
    size_t c = 16;
    while (c < n)
        c <<= 1;
    return c;
}

/* ---- document frequencies --------------------------------------------------------------- */

static uint32_t *story_df_slot(struct story_df *t, uint64_t h, bool insert, size_t *at)
{
    size_t m = t->cap - 1;
    for (size_t i = (size_t)h & m;; i = (i + 1) & m) {
        if (t->key[i] == h) {
            if (at)
                *at = i;
            return &t->df[i];
        }
        if (t->key[i] == 0) {
            if (!insert)
                return NULL;
            t->key[i] = h;
            t->df[i] = 0;
            t->n++;
            if (at)
                *at = i;
            return &t->df[i];
        }
    }
}

static int story_df_resize(struct story_df *t, size_t cap, uint32_t min_df, bool texts)
{
    struct story_df nt = {.cap = cap};
    nt.key = calloc(cap, sizeof(*nt.key));
    nt.df = calloc(cap, sizeof(*nt.df));
    nt.text = texts ? calloc(cap, sizeof(*nt.text)) : NULL;
    if (!nt.key || !nt.df || (texts && !nt.text)) {
        free(nt.key), free(nt.df), free(nt.text);
        return -1;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->key[i])
            continue;
        if (t->df[i] < min_df) {
            if (t->text)
                free(t->text[i]);
            continue;
        }
        size_t at;
        *story_df_slot(&nt, t->key[i], true, &at) = t->df[i];
        if (nt.text)
            nt.text[at] = t->text ? t->text[i] : NULL;
    }
    free(t->key), free(t->df), free(t->text);
    *t = nt;
    return 0;
}

/* Makes room for one more term: grows while under max_terms, else forgets the terms seen once. */
static int story_df_reserve(struct story *s)
{
    struct story_df *t = &s->df;
    if ((t->n + 1) * 2 <= t->cap)
        return 0;
    size_t max = (size_t)s->conf->max_terms;
    if (t->n < max)
        return story_df_resize(t, story_pow2((t->n + 1) * 2 + 1), 0, t->text != NULL);
    /* full: drop the hapaxes, then the rarest until a quarter is free */
    for (uint32_t min_df = 2;; min_df *= 2) {
        if (story_df_resize(t, t->cap, min_df, t->text != NULL) < 0)
            return -1;
        if (t->n < max - max / 4 || min_df > (1u << 30))
            return 0;
    }
}

/* log(n) for the small counts most document frequencies are: every term of every article
 * needs its IDF, and log() was a tenth of the assignment's time */
#define STORY_LOG_TABLE 4096
static double story_log_table[STORY_LOG_TABLE];

static double story_log(uint64_t n)
{
    return n < STORY_LOG_TABLE ? story_log_table[n] : log((double)n);
}

static double story_idf(struct story *s, uint32_t df)
{
    if (s->log_docs_at != s->docs + 1)
        s->log_docs = log((double)(s->docs + 1)), s->log_docs_at = s->docs + 1;
    /* smoothed; a word found in every article still weighs a little (STORY_IDF_FLOOR) */
    return s->log_docs - story_log((uint64_t)df + 1) + STORY_IDF_FLOOR;
}

double story_idf_of(struct story *s, uint64_t h)
{
    uint32_t *df = story_df_slot(&s->df, h, false, NULL);
    return story_idf(s, df ? *df : 0);
}

/* ---- words ------------------------------------------------------------------------------- */

static bool story_stopword(const struct story *s, uint64_t h)
{
    size_t m = s->stop_set_cap - 1;
    for (size_t i = (size_t)h & m; s->stop_set[i]; i = (i + 1) & m)
        if (s->stop_set[i] == h)
            return true;
    return false;
}

static int story_dt_grow(struct story *s)
{
    if (s->ndt + 1 >= s->cap_dt) {
        size_t c = s->cap_dt ? s->cap_dt * 2 : 512;
        struct story_dterm *p = realloc(s->dt, c * sizeof(*p));
        if (!p)
            return -1;
        s->dt = p, s->cap_dt = c;
    }
    if ((s->ndt + 1) * 2 > s->dmap_cap) {
        size_t c = story_pow2((s->ndt + 1) * 4);
        uint32_t *m = calloc(c, sizeof(*m)), *st = calloc(c, sizeof(*st));
        if (!m || !st) {
            free(m), free(st);
            return -1;
        }
        free(s->dmap), free(s->dstamp);
        s->dmap = m, s->dstamp = st, s->dmap_cap = c;
        s->stamp = 1;
        for (size_t i = 0; i < s->ndt; i++) {
            size_t k = (size_t)s->dt[i].h & (c - 1);
            while (s->dstamp[k] == s->stamp)
                k = (k + 1) & (c - 1);
            s->dstamp[k] = s->stamp, s->dmap[k] = (uint32_t)i;
        }
    }
    return 0;
}

/* The record's term with hash h, or NULL. */
static struct story_dterm *story_dt_find(struct story *s, uint64_t h)
{
    size_t m = s->dmap_cap - 1;
    for (size_t k = (size_t)h & m; s->dstamp[k] == s->stamp; k = (k + 1) & m)
        if (s->dt[s->dmap[k]].h == h)
            return &s->dt[s->dmap[k]];
    return NULL;
}

static inline int story_dt_add(struct story *s, uint64_t h, float count, uint8_t kind,
                               bool named)
{
    if ((s->ndt + 1 >= s->cap_dt || (s->ndt + 1) * 2 > s->dmap_cap) && story_dt_grow(s) < 0)
        return -1;
    size_t m = s->dmap_cap - 1, k = (size_t)h & m;
    for (; s->dstamp[k] == s->stamp; k = (k + 1) & m) {
        if (s->dt[s->dmap[k]].h == h) {
            s->dt[s->dmap[k]].tf += count;
            s->dt[s->dmap[k]].named |= named;
            return 0;
        }
    }
    s->dstamp[k] = s->stamp, s->dmap[k] = (uint32_t)s->ndt;
    s->dt[s->ndt++] = (struct story_dterm){.h = h, .tf = count, .kind = kind, .named = named};
    return 0;
}

/* English plurals, which also covers most French and Spanish ones: "pacts" and "pact" are one
 * term. Applied to folded words only. */
static size_t story_stem(const char *w, size_t n)
{
    if (n >= 5 && memcmp(w + n - 3, "ies", 3) == 0)
        return n - 2; /* "countries" -> "countri", "country" -> "countri" below */
    if (n >= 4 && w[n - 1] == 's' && w[n - 2] != 's' && w[n - 2] != 'u' && w[n - 2] != 'i')
        return n - 1;
    return n;
}

/* Folds a lower-cased word into its term in place: "country" and "countries" meet. Returns its
 * new length, 0 when it is not a term (too short or long, only digits: days, years, sums are
 * shared by unrelated stories). */
static inline size_t story_term_form(char *w, size_t n)
{
    if (n < 2 || n > STORY_MAX_WORD)
        return 0;
    bool digits = true;
    for (size_t i = 0; i < n && digits; i++)
        digits = w[i] >= '0' && w[i] <= '9';
    if (digits)
        return 0;
    if (n >= 3 && w[n - 1] == 'y' && w[n - 2] != 'a' && w[n - 2] != 'e' && w[n - 2] != 'o')
        w[n - 1] = 'i';
    return story_stem(w, n);
}

/* Counts a folded word into the record's terms. A word written with a capital inside a
 * sentence (named: who, where), unless it is a known place, is marked as a name: a name stays
 * an anchor of a story that made it common (story_text_cos). With name_weight, it also counts
 * as a term of the names' kind, so that two events of one kind (two earthquakes, two arrests)
 * are told apart by their people, not only by the words they share. */
static int story_emit(struct story *s, char *w, size_t n, float count, bool named)
{
    n = story_term_form(w, n);
    if (!n)
        return 0;
    uint64_t h = story_hash(w, n, 0);
    if (story_stopword(s, h))
        return 0;
    if (s->df.text) {
        /* building a bootstrap file: the words themselves are written out */
        size_t at;
        if (story_df_reserve(s) < 0)
            return -1;
        story_df_slot(&s->df, h, true, &at);
        if (!s->df.text[at] && !(s->df.text[at] = strndup(w, n)))
            return -1;
    }
    if (named) {
        uint64_t nh = story_name_hash(h);
        for (size_t i = 0; i < s->nplaces && named; i++)
            named = s->places[i] != nh;
        if (named && s->conf->name_weight > 0 &&
            story_dt_add(s, nh, s->name_count, STORY_NAME, false) < 0)
            return -1;
    }
    return story_dt_add(s, h, count, STORY_WORD, named);
}

/* Counts a figure (a run of digits, with the separators inside it: "31-24", "6.1", "2013") as a
 * term: the score, the toll, the magnitude, the year are what tell one game, quake or election
 * from the last. Thousands separators are dropped ("100,000" and "100000" meet). */
static int story_emit_figure(struct story *s, const char *p, size_t n, float count)
{
    char f[STORY_MAX_FIGURE];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == ',')
            continue;
        if (k == sizeof(f))
            return 0; /* a phone number, an id: not a figure of the story */
        f[k++] = p[i];
    }
    return story_dt_add(s, story_hash(f, k, STORY_FIGURE_SEED), count, STORY_FIGURE, false);
}

/* Byte classes for the word scan: 0 between words, 1 ASCII letter or digit, 2 part of a
 * non-ASCII character (folded by utf8proc, which also finds the words in it). */
static unsigned char story_class[256];
/* Bytes that end a sentence (or open a quote): the next word's capital says nothing. */
static bool story_stop_byte[256];

static void story_classes(void)
{
    for (int i = 1; i < STORY_LOG_TABLE; i++)
        story_log_table[i] = log((double)i);
    for (int c = 0; c < 256; c++)
        story_stop_byte[c] = c == '.' || c == '!' || c == '?' || c == '\n' || c == ':' || c == '"';
    for (int c = 0; c < 256; c++)
        story_class[c] = c >= 0x80 ? 2
                         : (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ? 1
                                                                                              : 0;
}

/* Folds a run of bytes that holds non-ASCII characters and emits the words in it; the run's
 * first word is named (see story_emit) when `named` and it starts with a capital letter. */
static int story_fold_run(struct story *s, const char *p, size_t n, float count, bool named)
{
    const int opts = UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |
                     UTF8PROC_STRIPMARK | UTF8PROC_IGNORE;
    utf8proc_int32_t first;
    if (named &&
        (utf8proc_iterate((const utf8proc_uint8_t *)p, (utf8proc_ssize_t)n, &first) <= 0 ||
         utf8proc_category(first) != UTF8PROC_CATEGORY_LU))
        named = false;
    utf8proc_ssize_t k;
    for (;;) {
        k = utf8proc_decompose((const utf8proc_uint8_t *)p, (utf8proc_ssize_t)n, s->cps,
                               (utf8proc_ssize_t)s->cps_cap, opts);
        if (k < 0)
            return 0; /* not UTF-8: not a word we can compare anyway */
        if ((size_t)k <= s->cps_cap)
            break;
        utf8proc_int32_t *q = realloc(s->cps, (size_t)k * sizeof(*q));
        if (!q)
            return -1;
        s->cps = q, s->cps_cap = (size_t)k;
    }
    char w[STORY_MAX_WORD + 8];
    size_t wn = 0;
    bool too_long = false;
    for (utf8proc_ssize_t i = 0; i <= k; i++) {
        bool in = false;
        if (i < k) {
            utf8proc_category_t c = utf8proc_category(s->cps[i]);
            in = (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) ||
                 (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO);
        }
        if (in) {
            if (wn + 4 <= STORY_MAX_WORD)
                wn += (size_t)utf8proc_encode_char(s->cps[i], (utf8proc_uint8_t *)w + wn);
            else
                too_long = true;
            continue;
        }
        if (wn && !too_long && story_emit(s, w, wn, count, named) < 0)
            return -1;
        if (wn)
            named = false;
        wn = 0, too_long = false;
    }
    return 0;
}

/* A year the record mentions: its latest one is the earliest it can have been written. A year
 * after the one it was published (or, undated, fetched) in is a plan or a target ("by 2050"),
 * not the year of its event. */
static void story_saw_year(struct story *s, unsigned y)
{
    if (y >= STORY_YEAR_MIN && y <= s->year_cap && y > s->year)
        s->year = (uint16_t)y;
}

static bool story_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Whether a capitalised word followed by a period is an initial ("John F. Kennedy", "U.S.") or a
 * title or place's abbreviation written before a name ("Gen.", "Mt."): the capital after it
 * does not start a sentence, so the name keeps its mark; the title is no term itself (two
 * sergeants' arrests share it, and it says nothing of who). */
static bool story_titled(const char *w, size_t n)
{
    static const char *const abbr[] = {"Mr", "Mrs", "Ms", "Dr", "Mt", "St", "Ft", "Gen",
                                       "Gov", "Sen", "Rep", "Lt", "Col", "Sgt", "Capt", "Cmdr",
                                       "Adm", "Maj", "Prof", "Rev", "Det", "Insp", "Supt", "Pres"};
    if (n == 1)
        return true;
    for (size_t k = 0; k < sizeof(abbr) / sizeof(*abbr); k++)
        if (strlen(abbr[k]) == n && memcmp(abbr[k], w, n) == 0)
            return true;
    return false;
}

/* Splits text into folded words and counts them into the record's terms, figures apart (the
 * latest year among them raises s->year). With names, a word capitalised inside a sentence is a
 * name (see story_emit): not in a headline, capitalised throughout. ASCII words are folded by
 * hand: utf8proc costs several times more and most news text is ASCII. */
static int story_words(struct story *s, const char *t, size_t n, float count, bool names,
                       float figures)
{
    char w[STORY_MAX_WORD + 1];
    const unsigned char *u = (const unsigned char *)t;
    size_t i = 0;
    bool start = true; /* at the start of a sentence: a capital says nothing */
    bool titled = false; /* the last word is an initial or a title: its period ends nothing */
    while (i < n) {
        for (; i < n && !story_class[u[i]]; i++)
            start |= story_stop_byte[u[i]] &&
                     !(titled && u[i] == '.' && i + 1 < n && u[i + 1] == ' ');
        titled = false;
        size_t a = i;
        unsigned char cls = 0;
        while (i < n && story_class[u[i]])
            cls |= story_class[u[i++]];
        if (i == a)
            break;
        bool cap = u[a] >= 'A' && u[a] <= 'Z';
        bool name = !start && names;
        start = false;
        titled = cap && i < n && u[i] == '.' && story_titled(t + a, i - a);
        if (cls == 1 && story_digit(u[a]) && story_digit(u[i - 1])) {
            bool digits = true;
            for (size_t j = a; j < i && digits; j++)
                digits = story_digit(u[j]);
            if (digits) {
                /* a figure: digits joined by single separators ("31-24", "6.1", "1,200") */
                while (i + 1 < n && (u[i] == '.' || u[i] == ',' || u[i] == '-' || u[i] == ':' ||
                                     u[i] == '/') && story_digit(u[i + 1]))
                    for (i++; i < n && story_digit(u[i]); i++)
                        ;
                if (i - a == 4)
                    story_saw_year(s, (unsigned)((u[a] - '0') * 1000 + (u[a + 1] - '0') * 100 +
                                                 (u[a + 2] - '0') * 10 + (u[a + 3] - '0')));
                if (figures > 0 && story_emit_figure(s, t + a, i - a, figures) < 0)
                    return -1;
                continue;
            }
        }
        if (cls & 2) {
            if (story_fold_run(s, t + a, i - a, count, name) < 0)
                return -1;
            continue;
        }
        if (i - a > STORY_MAX_WORD || titled) /* a title is said of many: not a term */
            continue;
        for (size_t j = a; j < i; j++)
            w[j - a] = (char)((t[j] >= 'A' && t[j] <= 'Z') ? t[j] | 0x20 : t[j]);
        if (story_emit(s, w, i - a, count, cap && name) < 0)
            return -1;
    }
    return 0;
}

/* ---- time -------------------------------------------------------------------------------- */

/* Days since 1970-01-01 of "YYYY-MM-DD[THH:MM...]", NAN when it is not one. */
static double story_days(const char *p)
{
    if (!p)
        return NAN;
    int y, m, d, hh = 0, mm = 0;
    if (sscanf(p, "%4d-%2d-%2d", &y, &m, &d) != 3 || m < 1 || m > 12 || d < 1 || d > 31)
        return NAN;
    if (strlen(p) > 10 && (p[10] == 'T' || p[10] == ' '))
        if (sscanf(p + 11, "%2d:%2d", &hh, &mm) != 2)
            hh = mm = 0;
    /* days from the civil date (proleptic Gregorian) */
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (double)era * 146097 + doe - 719468 + (hh * 60 + mm) / 1440.0;
}

/* ---- stories and their index ------------------------------------------------------------ */

static struct story_term *story_terms_of(struct story *s, uint32_t slot)
{
    return s->terms + (size_t)slot * (size_t)s->conf->top_terms;
}

struct story_ent *story_ents_of(struct story *s, uint32_t slot)
{
    return s->ents + (size_t)slot * STORY_MAX_ENTS;
}

static struct story_posting *story_index_list(struct story_index *x, uint64_t h, bool insert)
{
    if (insert && (x->n + 1) * 2 > x->cap) {
        size_t cap = story_pow2((x->n + 1) * 4);
        uint64_t *k = calloc(cap, sizeof(*k));
        struct story_posting *l = calloc(cap, sizeof(*l));
        if (!k || !l) {
            free(k), free(l);
            return NULL;
        }
        for (size_t i = 0; i < x->cap; i++) {
            if (!x->key[i])
                continue;
            size_t j = (size_t)x->key[i] & (cap - 1);
            while (k[j])
                j = (j + 1) & (cap - 1);
            k[j] = x->key[i], l[j] = x->list[i];
        }
        free(x->key), free(x->list);
        x->key = k, x->list = l, x->cap = cap;
    }
    if (!x->cap)
        return NULL;
    size_t m = x->cap - 1;
    for (size_t i = (size_t)h & m;; i = (i + 1) & m) {
        if (x->key[i] == h)
            return &x->list[i];
        if (!x->key[i]) {
            if (!insert)
                return NULL;
            x->key[i] = h;
            x->n++;
            return &x->list[i];
        }
    }
}

static int story_index_add(struct story *s, uint64_t h, uint32_t slot)
{
    struct story_posting *l = story_index_list(&s->index, h, true);
    if (!l)
        return -1;
    if (l->n + 2 > l->cap) {
        uint32_t c = l->cap ? l->cap * 2 : 8;
        uint32_t *e = realloc(l->e, c * sizeof(*e));
        if (!e)
            return -1;
        l->e = e, l->cap = c;
    }
    l->e[l->n++] = slot;
    l->e[l->n++] = s->alive[slot];
    s->index.entries++;
    return 0;
}

static int story_index_rebuild(struct story *s);

/* A new version for the slot's index entries: the old ones stop counting. Versions are unique
 * across slots, so an entry never speaks for a later story in the same slot. */
static int story_index_version(struct story *s, uint32_t slot)
{
    if (s->iver == UINT32_MAX) {
        s->iver = 0;
        for (size_t i = 0; i < s->nitems; i++)
            s->alive[i] = s->items[i].live ? ++s->iver : 0;
        if (story_index_rebuild(s) < 0)
            return -1;
    }
    s->alive[slot] = ++s->iver;
    return 0;
}

/* Rebuilds the index from the live stories: entries of forgotten stories and of terms a story
 * no longer ranks among its top ones are dropped. */
static int story_index_rebuild(struct story *s)
{
    struct story_index *x = &s->index;
    for (size_t i = 0; i < x->cap; i++)
        free(x->list[i].e);
    free(x->key), free(x->list);
    memset(x, 0, sizeof(*x));
    for (size_t i = 0; i < s->nitems; i++) {
        if (!s->items[i].live)
            continue;
        const struct story_term *t = story_terms_of(s, (uint32_t)i);
        for (uint32_t j = 0; j < s->items[i].nterms && j < STORY_INDEX_TERMS; j++)
            if (story_index_add(s, t[j].h, (uint32_t)i) < 0)
                return -1;
    }
    return 0;
}

int story_cmp_seq(const void *a, const void *b, void *arg)
{
    const struct story_item *it = arg;
    uint64_t x = it[*(const uint32_t *)a].last_seq, y = it[*(const uint32_t *)b].last_seq;
    return x < y ? -1 : x > y;
}

/* Forgets the tenth of the stories that went longest without a new member. */
static int story_evict(struct story *s)
{
    size_t n = 0;
    uint32_t *o = s->order;
    for (size_t i = 0; i < s->nitems; i++)
        if (s->items[i].live)
            o[n++] = (uint32_t)i;
    qsort_r(o, n, sizeof(*o), story_cmp_seq, s->items);
    size_t drop = n / 10 + 1;
    for (size_t i = 0; i < drop && i < n; i++) {
        story_mlist_free(s, o[i], false);
        s->items[o[i]].live = false;
        s->alive[o[i]] = 0;
        s->free_slots[s->nfree++] = o[i];
        s->live--;
    }
    return story_index_rebuild(s);
}

/* Room in the per-slot arrays for `want` slots. */
static int story_items_grow(struct story *s, size_t want)
{
    while (s->cap_items < want) {
        size_t c = s->cap_items ? s->cap_items * 2 : 256;
        if (c > (size_t)s->conf->max_stories + 1)
            c = (size_t)s->conf->max_stories + 1;
        if (c <= s->cap_items)
            return -1;
        size_t k = (size_t)s->conf->top_terms;
        struct story_item *it = realloc(s->items, c * sizeof(*it));
        if (it)
            s->items = it;
        struct story_term *t = realloc(s->terms, c * k * sizeof(*t));
        if (t)
            s->terms = t;
        struct story_ent *e = realloc(s->ents, c * STORY_MAX_ENTS * sizeof(*e));
        if (e)
            s->ents = e;
        uint32_t *f = realloc(s->free_slots, c * sizeof(*f));
        if (f)
            s->free_slots = f;
        uint32_t *o = realloc(s->order, c * sizeof(*o));
        if (o)
            s->order = o;
        float *acc = realloc(s->acc, c * sizeof(*acc));
        if (acc)
            s->acc = acc;
        uint32_t *tch = realloc(s->touched, c * sizeof(*tch));
        if (tch)
            s->touched = tch;
        uint32_t *al = realloc(s->alive, c * sizeof(*al));
        if (al)
            s->alive = al;
        struct story_mlist *ml = realloc(s->mem, c * sizeof(*ml));
        if (ml)
            s->mem = ml;
        struct story_names *fn = realloc(s->former, c * sizeof(*fn));
        if (fn)
            s->former = fn;
        if (!it || !t || !e || !f || !o || !acc || !tch || !al || !ml || !fn)
            return -1;
        for (size_t i = s->cap_items; i < c; i++)
            s->acc[i] = 0, s->alive[i] = 0, s->mem[i] = (struct story_mlist){0},
            s->former[i] = (struct story_names){0};
        s->cap_items = c;
    }
    return 0;
}

long story_slot_new(struct story *s)
{
    if (s->live >= (size_t)s->conf->max_stories && story_evict(s) < 0)
        return -1;
    if (s->nfree) {
        uint32_t slot = s->free_slots[--s->nfree];
        s->items[slot].serial++;
        s->live++;
        story_mlist_free(s, slot, false);
        s->former[slot].n = 0;
        return slot;
    }
    if (s->nitems == s->cap_items && story_items_grow(s, s->nitems + 1) < 0)
        return -1;
    uint32_t slot = (uint32_t)s->nitems++;
    s->items[slot] = (struct story_item){.serial = 1};
    story_mlist_free(s, slot, false);
    s->live++;
    return slot;
}

/* ---- ids --------------------------------------------------------------------------------- */

/* The 128 bits of an id of 32 hex digits, or a hash of any other id. */
static void story_id_bits(const char *id, size_t n, uint64_t out[2])
{
    uint8_t b[16];
    bool hex = n == 32;
    for (size_t i = 0; hex && i < 32; i++) {
        int c = id[i], v = c >= '0' && c <= '9' ? c - '0'
                         : c >= 'a' && c <= 'f' ? c - 'a' + 10
                         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (v < 0)
            hex = false;
        else if (i % 2)
            b[i / 2] = (uint8_t)(b[i / 2] << 4 | v);
        else
            b[i / 2] = (uint8_t)v;
    }
    if (!hex) {
        XXH128_hash_t h = XXH3_128bits(id, n);
        memcpy(b, &h.high64, 8), memcpy(b + 8, &h.low64, 8);
    }
    memcpy(&out[0], b, 8), memcpy(&out[1], b + 8, 8);
    if (!out[0] && !out[1])
        out[1] = 1; /* 0:0 marks an empty slot */
}

/* The story of an article as it is called now: the live story's id (it may have been renamed
 * since the article joined), else the id it had then. */
static void story_of(const struct story *s, const struct story_idpair *p, uint64_t out[2])
{
    const struct story_item *it = p->slot < s->nitems ? &s->items[p->slot] : NULL;
    if (it && it->live && it->serial == p->serial) {
        memcpy(&out[0], it->id, 8), memcpy(&out[1], it->id + 8, 8);
        return;
    }
    out[0] = p->s0, out[1] = p->s1;
}

/* A story's name as it is kept (the 16 bytes of its id) in hex. */
void story_hex(const uint8_t b[16], char out[33])
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++)
        out[2 * i] = hx[b[i] >> 4], out[2 * i + 1] = hx[b[i] & 15];
    out[32] = '\0';
}

void story_id_hex(const uint64_t bits[2], char out[33])
{
    uint8_t b[16];
    memcpy(b, &bits[0], 8), memcpy(b + 8, &bits[1], 8);
    story_hex(b, out);
}

static struct story_idpair *story_ids_slot(struct story_idmap *m, const uint64_t k[2], bool ins)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)(k[0] ^ k[1]) & mask;; i = (i + 1) & mask) {
        struct story_idpair *e = &m->e[i];
        if (e->k0 == k[0] && e->k1 == k[1])
            return e;
        if (!e->k0 && !e->k1) {
            if (!ins)
                return NULL;
            e->k0 = k[0], e->k1 = k[1];
            m->n++;
            return e;
        }
    }
}

struct story_idpair *story_ids_find(struct story *s, const uint64_t k[2])
{
    struct story_idpair *e = story_ids_slot(&s->ids[0], k, false);
    return e ? e : story_ids_slot(&s->ids[1], k, false);
}

/* Where the article of pair p is now: p itself while its story lives; when the story was merged
 * into another, the pair of the name it joined under (an article id: the member then read first,
 * whose pair story_merge moved) leads on, at most STORY_FOLLOW steps. A story forgotten (evicted)
 * ends the way: p, or the last pair on it, whose s0, s1 is the latest name known. */
const struct story_idpair *story_follow(struct story *s, const struct story_idpair *p)
{
    for (int i = 0; i < STORY_FOLLOW; i++) {
        const struct story_item *it = p->slot < s->nitems ? &s->items[p->slot] : NULL;
        if (it && it->live && it->serial == p->serial)
            break;
        const struct story_idpair *q = story_ids_find(s, (const uint64_t[2]){p->s0, p->s1});
        if (!q || (q->slot == p->slot && q->serial == p->serial))
            break;
        p = q;
    }
    return p;
}

const struct story_idpair *story_live_at(struct story *s, const uint64_t k[2])
{
    const struct story_idpair *p = story_ids_find(s, k);
    if (p)
        p = story_follow(s, p);
    if (!p || p->slot >= s->nitems || !s->items[p->slot].live ||
        s->items[p->slot].serial != p->serial)
        return NULL;
    return p;
}

static int story_ids_put(struct story *s, const uint64_t k[2], const struct story_idpair *v)
{
    struct story_idmap *y = &s->ids[0];
    size_t half = (size_t)s->conf->max_ids / 2 + 1;
    if (!y->cap || y->n >= half) {
        if (y->cap) {
            free(s->ids[1].e);
            s->ids[1] = *y;
        }
        y->cap = story_pow2(half * 2 > 1024 ? 1024 : half * 2);
        y->n = 0;
        y->e = calloc(y->cap, sizeof(*y->e));
        if (!y->e)
            return y->cap = 0, -1;
    } else if ((y->n + 1) * 2 > y->cap) {
        struct story_idmap g = {.cap = y->cap * 2};
        g.e = calloc(g.cap, sizeof(*g.e));
        if (!g.e)
            return -1;
        for (size_t i = 0; i < y->cap; i++) {
            if (!y->e[i].k0 && !y->e[i].k1)
                continue;
            *story_ids_slot(&g, (uint64_t[2]){y->e[i].k0, y->e[i].k1}, true) = y->e[i];
        }
        free(y->e);
        *y = g;
    }
    struct story_idpair *e = story_ids_slot(y, k, true);
    *e = *v;
    e->k0 = k[0], e->k1 = k[1];
    return 0;
}

/* ---- the record's vector ----------------------------------------------------------------- */

/* The words of the record's places that extract_meta knows (countries, regions): every article
 * of a region's news names them, so they are not names that tell its events apart. */
static void story_places(struct story *s, struct nf_record *rec)
{
    s->nplaces = 0;
    size_t n = nf_record_entity_count(rec);
    for (size_t i = 0; i < n; i++) {
        const struct nf_entity *e = nf_record_entity(rec, i);
        if (!e || e->type != NF_ENT_PLACE || !e->name)
            continue;
        const char *p = e->name;
        while (*p && s->nplaces < STORY_MAX_PLACES) {
            char w[STORY_MAX_WORD + 1];
            size_t k = 0;
            bool ascii = true;
            for (; *p && story_class[(unsigned char)*p]; p++) {
                ascii &= story_class[(unsigned char)*p] == 1;
                if (k < STORY_MAX_WORD)
                    w[k++] = (char)((*p >= 'A' && *p <= 'Z') ? *p | 0x20 : *p);
            }
            for (; *p && !story_class[(unsigned char)*p]; p++)
                ;
            size_t m = ascii ? story_term_form(w, k) : 0;
            if (m)
                s->places[s->nplaces++] = story_name_hash(story_hash(w, m, 0));
        }
    }
}

/* The length of the text's lead (see STORY_LEAD_MIN): cut short, it ends between words. */
static size_t story_lead(const char *t, size_t n)
{
    size_t max = n < STORY_LEAD_MAX ? n : STORY_LEAD_MAX;
    for (size_t i = 0; i < max; i++) {
        if (t[i] == '\n' && i >= STORY_LEAD_MIN / 2)
            return i + 1;
        if ((t[i] == '.' || t[i] == '!' || t[i] == '?') && i + 1 < n && t[i + 1] == ' ' &&
            i + 1 > STORY_LEAD_MIN)
            return i + 1;
    }
    if (max == n)
        return n;
    size_t i = max;
    while (i > 0 && story_class[(unsigned char)t[i]])
        i--;
    return i;
}

int story_merge_reserve(struct story *s, size_t need)
{
    return nfu_grow_from(&s->merge, &s->merge_cap, need, sizeof(*s->merge), 256);
}

/* The sum of the squares of the k largest of the n values in w (which it reorders), k < n: a
 * quickselect with a three-way partition, on the values alone (ties weigh the same). */
static double story_top_sumsq(float *w, size_t n, size_t k)
{
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        float pivot = w[lo + (hi - lo) / 2], x;
        size_t lt = lo, i = lo, gt = hi;
        while (i < gt) {
            if (w[i] > pivot)
                x = w[lt], w[lt++] = w[i], w[i++] = x;
            else if (w[i] < pivot)
                x = w[--gt], w[gt] = w[i], w[i] = x;
            else
                i++;
        }
        /* [lo, lt) above the pivot, [lt, gt) at it, [gt, hi) below */
        if (k < lt)
            hi = lt;
        else if (k <= gt)
            break;
        else
            lo = gt;
    }
    double sum = 0;
    for (size_t i = 0; i < k; i++)
        sum += (double)w[i] * w[i];
    return sum;
}

/* Turns the sums of squared weights of each kind of s->dt (count terms each) into the lengths
 * of the record's vector (norm), and into top the lengths of its top_terms heaviest terms of
 * each kind. The record is scored by the first; what it adds to a story's centroid (its terms'
 * tf) by the second, as a centroid keeps only top_terms terms: a feature of 5-7 KB, whose weight is spread
 * over a tail of hundreds of words said once each, would else count for a fraction of a short
 * telling in the story it joins, and its strongest terms, the event's, would not lift the
 * centroid. Returns -1 when out of memory. */
static int story_norm_top(struct story *s, const size_t count[STORY_KINDS],
                          double norm[STORY_KINDS], double top[STORY_KINDS])
{
    size_t k = (size_t)s->conf->top_terms;
    for (int kind = 0; kind < STORY_KINDS; kind++) {
        norm[kind] = top[kind] = sqrt(norm[kind]);
        if (count[kind] <= k)
            continue;
        if (nfu_grow_from(&s->topw, &s->topw_cap, s->ndt, sizeof(*s->topw), 1024) < 0)
            return -1;
        size_t n = 0;
        for (size_t i = 0; i < s->ndt; i++)
            if (s->dt[i].kind == kind)
                s->topw[n++] = s->dt[i].w;
        top[kind] = sqrt(story_top_sumsq(s->topw, n, k));
    }
    return 0;
}

/* Tokenises title and text into s->dt, counts the document into the frequencies and weighs
 * the terms; s->year is the latest year it mentions or was published in. Returns the number of
 * terms, or -1 (out of memory). */
static long story_vector(struct story *s, struct nf_record *rec)
{
    s->ndt = 0;
    s->year = 0;
    s->year_cap = STORY_YEAR_MAX;
    int py, pm, pd; /* the year it was published: it may mention none */
    const char *pub = nf_record_str(rec, NF_F_PUBLISHED_AT, NULL);
    const char *fetched = nf_record_str(rec, NF_F_FETCHED_AT, NULL);
    if (pub && !isnan(story_days(pub)) && sscanf(pub, "%4d-%2d-%2d", &py, &pm, &pd) == 3) {
        if (py >= STORY_YEAR_MIN && py <= STORY_YEAR_MAX)
            s->year_cap = (uint16_t)py;
        story_saw_year(s, (unsigned)py);
    } else if (fetched && sscanf(fetched, "%4d-%2d-%2d", &py, &pm, &pd) == 3 &&
               py >= STORY_YEAR_MIN && py <= STORY_YEAR_MAX) {
        s->year_cap = (uint16_t)py;
    }
    if (++s->stamp == 0) {
        memset(s->dstamp, 0, s->dmap_cap * sizeof(*s->dstamp));
        s->stamp = 1;
    }
    if (!s->dmap_cap && story_dt_grow(s) < 0)
        return -1;
    size_t n;
    story_places(s, rec);
    const char *t = nf_record_str(rec, NF_F_TITLE, &n);
    /* names are kept even when they do not weigh in the similarity: they are anchors */
    float tw = (float)s->conf->title_weight;
    float figs = s->conf->figure_weight > 0 ? 1.0f : 0.0f;
    if (t && tw > 0 && story_words(s, t, n, tw, false, figs * tw) < 0)
        return -1;
    t = nf_record_str(rec, NF_F_TEXT, &n);
    if (t) {
        /* the lead's names weigh more: who the event is about */
        size_t lead = story_lead(t, n);
        s->name_count = (float)s->conf->lead_weight;
        int rc = story_words(s, t, lead, 1.0f, true, figs);
        s->name_count = 1;
        if (rc < 0 || story_words(s, t + lead, n - lead, 1.0f, true, figs) < 0)
            return -1;
    }
    if (!s->ndt)
        return 0;
    s->docs++;
    double norm[STORY_KINDS] = {0};
    size_t count[STORY_KINDS] = {0};
    for (size_t i = 0; i < s->ndt; i++) {
        struct story_dterm *d = &s->dt[i];
        size_t at;
        /* a table of a million terms: ask for a later term's entry before this one is read */
        if (i + STORY_PREFETCH < s->ndt && s->df.cap) {
            size_t ahead = (size_t)s->dt[i + STORY_PREFETCH].h & (s->df.cap - 1);
            __builtin_prefetch(&s->df.key[ahead]);
            __builtin_prefetch(&s->df.df[ahead]);
        }
        if (story_df_reserve(s) < 0)
            return -1;
        uint32_t *df = story_df_slot(&s->df, d->h, true, &at);
        d->df = ++*df;
        d->idf = (float)story_idf(s, *df);
        float tf = d->tf < 1 ? d->tf : 1.0f + logf(d->tf);
        d->tf = tf;
        d->w = tf * d->idf;
        norm[d->kind] += (double)d->w * d->w;
        count[d->kind]++;
    }
    for (int k = 0; k < STORY_KINDS; k++)
        s->has_kind[k] = count[k] > 0;
    double top[STORY_KINDS];
    if (story_norm_top(s, count, norm, top) < 0)
        return -1;
    for (size_t i = 0; i < s->ndt; i++) {
        uint8_t k = s->dt[i].kind;
        s->dt[i].w = (float)(s->dt[i].w / norm[k]), s->dt[i].tf = (float)(s->dt[i].tf / top[k]);
    }
    return (long)s->ndt;
}

/* ---- scoring ----------------------------------------------------------------------------- */

/* The length of each kind of the story's centroid. */
static const double *story_norm(struct story *s, uint32_t slot)
{
    struct story_item *it = &s->items[slot];
    /* the IDF drifts as documents come: refresh the centroid's length when it has moved */
    if (it->norm_docs && s->docs <= it->norm_docs + it->norm_docs / 10)
        return it->norm;
    const struct story_term *t = story_terms_of(s, slot);
    double sum[STORY_KINDS] = {0};
    for (uint32_t j = 0; j < it->nterms; j++) {
        double w = t[j].mass * story_idf_of(s, t[j].h);
        sum[t[j].kind] += w * w;
    }
    for (int k = 0; k < STORY_KINDS; k++)
        it->norm[k] = sqrt(sum[k]);
    it->norm_docs = s->docs;
    return it->norm;
}

/* The similarity of the record's terms (s->dt) and the story's centroid: the cosine of each
 * kind (words, names, figures), weighed by kind, over the kinds that both have; *anchors_out
 * counts the shared anchors: terms seen in at most `rare` articles, or for names (and words
 * written as names) and for words and figures in at most common_share of the stream, in at most
 * `rare` articles that are not the story's members, and names of which the story holds
 * name_share of the uses. Each kind's cosine goes to cos_out (-1: not on both sides). */
static double story_text_cos(struct story *s, uint32_t slot, double rare, int *anchors_out,
                             double cos_out[STORY_KINDS])
{
    const struct story_term *t = story_terms_of(s, slot);
    double dot[STORY_KINDS] = {0};
    int anchors = 0;
    double common = s->conf->common_share * (double)s->docs;
    /* a name whose uses the story holds a share of (name_share) is its anchor whatever the
     * rest of the stream: one topic's two events share their names, and in a young stream of
     * few topics each event's story is much of the other's outside. A story past the members
     * a split keeps is a big event, whose names are anchors when rare outside it anyway, or
     * the gathering of a template, which would keep its capitalised words ("April", a
     * heading) as anchors by their share. */
    double share = s->conf->name_share;
    bool held = share > 0 && s->items[slot].members <= STORY_SPLIT_MAX;
    for (uint32_t j = 0; j < s->items[slot].nterms; j++) {
        const struct story_dterm *d = story_dt_find(s, t[j].h);
        if (d) {
            dot[t[j].kind] += (double)d->w * t[j].mass * d->idf;
            /* a name may be common by now if the story's own members made it so (a big
             * story keeps its names as anchors), and so may a word or figure that is not
             * common in the whole stream (in at most common_share of it); a word common in
             * the stream must be rare in it, else a template's story would keep its words as
             * anchors (and in a cold stream, where every template word is in every article
             * so far, it is common). A word is the story's name when at least half the
             * members that have it write it as one: a template's abbreviation, capitalised
             * now and then ("Oper"), is not. */
            uint32_t df = d->df;
            bool name = t[j].named && 2u * t[j].named >= t[j].docs;
            if (name || df <= common)
                df -= t[j].docs < df ? t[j].docs : df;
            /* its word is the anchor (not its entry of the names' kind) */
            anchors += d->kind != STORY_NAME &&
                       (df <= rare || (name && held && t[j].docs >= share * d->df));
        }
    }
    *anchors_out = anchors;
    const double *nc = story_norm(s, slot);
    const double weight[STORY_KINDS] = {1, s->conf->name_weight, s->conf->figure_weight};
    double sum = 0, wsum = 0;
    for (int k = 0; k < STORY_KINDS; k++) {
        cos_out[k] = -1;
        if (!s->has_kind[k] || !(nc[k] > 0) || weight[k] <= 0)
            continue;
        cos_out[k] = dot[k] / nc[k];
        sum += weight[k] * cos_out[k];
        wsum += weight[k];
    }
    return wsum > 0 ? sum / wsum : 0;
}

/* The record's entities as (hash, weight), normalised; returns how many. */
static size_t story_rec_ents(struct story *s, struct nf_record *rec, struct story_ent *out)
{
    size_t n = nf_record_entity_count(rec), k = 0;
    double norm = 0;
    for (size_t i = 0; i < n && k < STORY_MAX_ENTS; i++) {
        const struct nf_entity *e = nf_record_entity(rec, i);
        if (!e || !e->name || !*e->name)
            continue;
        uint64_t h = story_hash(e->name, strlen(e->name), STORY_ENT_SEED);
        double m = e->mentions > 1 ? 1 + log((double)e->mentions) : 1;
        double w = m * story_idf_of(s, h);
        out[k++] = (struct story_ent){.h = h, .mass = (float)w};
        norm += w * w;
    }
    norm = sqrt(norm);
    for (size_t i = 0; i < k; i++)
        out[i].mass = (float)(out[i].mass / norm);
    return k;
}

/* The cosine of the record's entities and the story's; shared entities whose IDF is at least
 * anchor_idf are added to *anchors. */
static double story_ent_cos(struct story *s, uint32_t slot, const struct story_ent *re, size_t nre,
                            double anchor_idf, int *anchors)
{
    const struct story_ent *se = story_ents_of(s, slot);
    uint32_t ns = s->items[slot].nents;
    double dot = 0, norm = 0;
    for (uint32_t j = 0; j < ns; j++) {
        norm += (double)se[j].mass * se[j].mass;
        for (size_t i = 0; i < nre; i++)
            if (re[i].h == se[j].h) {
                dot += (double)re[i].mass * se[j].mass;
                *anchors += story_idf_of(s, re[i].h) >= anchor_idf;
            }
    }
    return norm > 0 ? dot / sqrt(norm) : 0;
}

/* How far (days) a record published at t is from the story's published members; 0 when either
 * has no publication date. */
static double story_gap(const struct story_item *it, double t)
{
    if (isnan(t) || isnan(it->tmin))
        return 0;
    return t < it->tmin ? it->tmin - t : t > it->tmax ? t - it->tmax : 0;
}

/* Whether the record (published at t, NAN when not known) and the story are about two years:
 * when one side has no publication date, the latest years they mention are STORY_YEARS_APART or
 * more apart. An article cannot mention a year after its own and news mentions its own year, so
 * the latest year an undated text gives dates it roughly; with dates on both sides their gap
 * says more (time_weight, window_days), and a dated article mentions next year's election. */
static bool story_years_apart(const struct story *s, const struct story_item *it, double t)
{
    if (!s->year || !it->year || (!isnan(t) && !isnan(it->tmin)))
        return false;
    return (s->year > it->year ? s->year - it->year : it->year - s->year) >= STORY_YEARS_APART;
}

/* Moves the k heaviest of a[0..n) to the front, in no particular order (quickselect): the
 * callers need the top few of a few hundred, not a sorted list. */
static void story_top(struct story_term *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n;
    while (k > lo && k < hi && hi - lo > 1) {
        float pivot = a[lo + (hi - lo) / 2].mass;
        size_t i = lo, j = hi - 1;
        while (i <= j) {
            while (a[i].mass > pivot)
                i++;
            while (a[j].mass < pivot)
                j--;
            if (i <= j) {
                struct story_term t = a[i];
                a[i] = a[j], a[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j + 1 && j + 1 > lo)
            hi = j + 1;
        else if (k >= i)
            lo = i;
        else
            return;
    }
}

static int story_cmp_cand(const void *a, const void *b)
{
    float x = ((const struct story_cand *)a)->partial, y = ((const struct story_cand *)b)->partial;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The best story for the record in s->dt, -1 when none reaches the threshold, -2 when out of
 * memory. */
static long story_best(struct story *s, struct nf_ctx *ctx, double t, const struct story_ent *re,
                       size_t nre, double *score_out)
{
    size_t q = s->ndt < STORY_QUERY_TERMS ? s->ndt : STORY_QUERY_TERMS;
    /* the strongest terms are looked up: find them without reordering s->dt, which its map
     * indexes */
    if (story_merge_reserve(s, s->ndt) < 0)
        return -2;
    /* a term no other article has cannot find a story: the strongest of the others are
     * looked up (a long article's words seen nowhere else would take every place) */
    size_t nq = 0;
    for (size_t i = 0; i < s->ndt; i++)
        if (s->dt[i].df > 1)
            s->merge[nq++] = (struct story_term){.h = s->dt[i].h, .mass = s->dt[i].w};
    if (q > nq)
        q = nq;
    story_top(s->merge, nq, q);
    /* the lists are found first, each probe's memory asked for before any is read: they are
     * cache misses in an index of thousands of stories, and waiting for one at a time was
     * much of the lookup */
    struct story_posting *lists[STORY_QUERY_TERMS];
    if (s->index.cap)
        for (size_t i = 0; i < q; i++)
            __builtin_prefetch(&s->index.key[(size_t)s->merge[i].h & (s->index.cap - 1)]);
    for (size_t i = 0; i < q; i++) {
        struct story_posting *l = story_index_list(&s->index, s->merge[i].h, false);
        lists[i] = l;
        if (l && l->n)
            __builtin_prefetch(&l->e[l->n > 2 * STORY_POSTINGS_SCAN ? l->n - 2 * STORY_POSTINGS_SCAN
                                                                    : 0]);
    }
    s->ntouched = 0;
    for (size_t i = 0; i < q; i++) {
        struct story_posting *l = lists[i];
        if (!l)
            continue;
        uint32_t from = l->n > 2 * STORY_POSTINGS_SCAN ? l->n - 2 * STORY_POSTINGS_SCAN : 0;
        for (uint32_t j = from; j < l->n; j += 2) {
            uint32_t slot = l->e[j];
            if (s->alive[slot] != l->e[j + 1])
                continue;
            if (s->acc[slot] == 0)
                s->touched[s->ntouched++] = slot;
            s->acc[slot] += s->merge[i].mass;
        }
    }
    struct story_cand top[STORY_CANDIDATES];
    size_t ntop = 0;
    double win = s->conf->window_days;
    /* the window is checked only for a story that would take a place: the others are many (a
     * few hundred in a stream of short wire reports) and their items are cache misses */
    size_t worst = 0;
    for (size_t i = 0; i < s->ntouched; i++) {
        uint32_t slot = s->touched[i];
        struct story_cand c = {slot, s->acc[slot]};
        s->acc[slot] = 0;
        if (ntop == STORY_CANDIDATES && !(c.partial > top[worst].partial))
            continue;
        if (win > 0 && story_gap(&s->items[slot], t) > win)
            continue;
        if (ntop < STORY_CANDIDATES)
            top[ntop++] = c;
        else
            top[worst] = c;
        if (ntop == STORY_CANDIDATES) {
            worst = 0;
            for (size_t j = 1; j < ntop; j++)
                if (top[j].partial < top[worst].partial)
                    worst = j;
        }
    }
    qsort(top, ntop, sizeof(*top), story_cmp_cand);
    long best = -1;
    double best_score = -1;
    s->second = -1;
    double second_score = -1;
    /* anchors: terms found in few articles outside the story so far, never fewer than 5: the
     * words of a template are soon more common than that, the names of a big story are not.
     * In a young stream, where anchor_share of it is a handful, a term in at most common_share
     * of it is rare too, up to STORY_ANCHOR_YOUNG articles: the names of an event that a few
     * other stories mention stay its anchors. The price: in a stream of a few hundred articles
     * up to that many reports on one template may gather (in a stream of nothing else, still
     * 5: a template's words are in all of it) */
    double rare = s->conf->anchor_share * (double)s->docs;
    double young = s->conf->common_share * (double)s->docs;
    if (young > STORY_ANCHOR_YOUNG)
        young = STORY_ANCHOR_YOUNG;
    if (rare < young)
        rare = young;
    if (rare < 5)
        rare = 5;
    /* (a count past 2^32 articles, or a snapshot's that says so, is as rare as that) */
    double anchor_idf = story_idf(s, rare < UINT32_MAX ? (uint32_t)rare : UINT32_MAX);
    for (size_t i = 0; i < ntop; i++) {
        uint32_t slot = top[i].slot;
        int anchors = 0;
        double kc[STORY_KINDS];
        double text = story_text_cos(s, slot, rare, &anchors, kc), sim = text, ent = -1, gap = 0;
        double ew = s->conf->entity_weight;
        if (nre && s->items[slot].nents) {
            ent = story_ent_cos(s, slot, re, nre, anchor_idf, &anchors);
            if (ew <= 0)
                ent = -1;
        }
        if (ent >= 0) {
            /* entities confirm or weaken what the words say; shared names alone (every
             * article of a region names its countries) never make a match */
            sim = text * (1 - ew + ew * ent);
        }
        if (win > 0) {
            gap = story_gap(&s->items[slot], t);
            sim *= 1 - s->conf->time_weight * (gap < win ? gap : win) / win;
        }
        bool apart = story_years_apart(s, &s->items[slot], t);
        if (apart)
            sim *= 1 - s->conf->year_weight;
        /* who and how many: a telling of the same event agrees on one or the other; names that
         * agree little and no figure in common are those of another event of the kind, or
         * another outlet's telling, which the words must then carry alone; into a young story
         * of an undated side, where a wrong merge starts and grows, they count against it */
        bool disagree = kc[STORY_NAME] >= 0 && kc[STORY_NAME] < STORY_NAMES_AGREE &&
                        kc[STORY_FIGURE] < STORY_FIGURES_AGREE;
        if (!disagree)
            sim *= 1 + s->conf->agree_weight;
        else if (s->items[slot].members <= STORY_YOUNG && (isnan(t) || isnan(s->items[slot].tmin)))
            sim *= 1 - s->conf->disagree_young_weight;
        if (anchors < s->conf->anchors)
            sim = 0;
        nf_log(ctx, NF_LOG_DEBUG, "  story %02x%02x%02x%02x.. (%u members): text %.3f (words "
               "%.3f, names %.3f, figures %.3f), entities %.3f, %.1f days apart, years %u/%u%s, "
               "%d anchors%s: %.3f",
               s->items[slot].id[0], s->items[slot].id[1], s->items[slot].id[2],
               s->items[slot].id[3], s->items[slot].members, text, kc[STORY_WORD],
               kc[STORY_NAME], kc[STORY_FIGURE], ent, gap, s->year, s->items[slot].year,
               apart ? " apart" : "", anchors, disagree ? ", who and how many disagree" : "", sim);
        if (sim > best_score) {
            s->second = best, second_score = best_score;
            best_score = sim, best = slot;
        } else if (sim > second_score) {
            s->second = slot, second_score = sim;
        }
    }
    *score_out = best_score;
    return best_score >= s->conf->threshold ? best : -1;
}

/* ---- updating a story -------------------------------------------------------------------- */

static int story_cmp_mass(const void *a, const void *b)
{
    float x = ((const struct story_term *)a)->mass, y = ((const struct story_term *)b)->mass;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Sorts a centroid's few dozen terms, heaviest first, equal ones kept in their order (as the
 * library's merge sort did): by insertion, without a call through a comparator for each pair. */
static void story_sort_mass(struct story_term *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct story_term x = a[i];
        size_t j = i;
        for (; j > 0 && a[j - 1].mass < x.mass; j--)
            a[j] = a[j - 1];
        a[j] = x;
    }
}

/* Adds `n` entities to a story's `se` (it->nents of them), summing the weights of one entity
 * and keeping the STORY_MAX_ENTS strongest: an article joining, or a story merged in. */
void story_ents_add(struct story_item *it, struct story_ent *se, const struct story_ent *add,
                    size_t n)
{
    struct story_ent all[2 * STORY_MAX_ENTS];
    size_t ne = 0;
    for (uint32_t j = 0; j < it->nents; j++)
        all[ne++] = se[j];
    for (size_t i = 0; i < n && ne < 2 * STORY_MAX_ENTS; i++) {
        size_t j = 0;
        while (j < ne && all[j].h != add[i].h)
            j++;
        if (j < ne)
            all[j].mass += add[i].mass;
        else
            all[ne++] = add[i];
    }
    qsort(all, ne, sizeof(*all), story_cmp_mass);
    if (ne > STORY_MAX_ENTS)
        ne = STORY_MAX_ENTS;
    memcpy(se, all, ne * sizeof(*se));
    it->nents = (uint32_t)ne;
}

/* Adds the record in s->dt to the story: its terms' masses, its entities and its date; keeps the
 * top_terms strongest terms and indexes the new ones. */
static int story_absorb(struct story *s, uint32_t slot, double t, const struct story_ent *re,
                        size_t nre)
{
    struct story_item *it = &s->items[slot];
    struct story_term *st = story_terms_of(s, slot);
    size_t k = (size_t)s->conf->top_terms, need = it->nterms + s->ndt;
    if (story_merge_reserve(s, need) < 0)
        return -1;
    /* mass is kept apart from IDF; ranking uses mass * current IDF, stored in .mass of the
     * scratch copy's sort key through a second array would cost more than this: rank on the
     * weight, then store the mass */
    size_t n = 0;
    for (size_t i = 0; i < s->ndt; i++)
        s->dt[i].seen = 0;
    for (uint32_t j = 0; j < it->nterms; j++) {
        struct story_dterm *d = story_dt_find(s, st[j].h);
        float mass = st[j].mass;
        uint16_t docs = st[j].docs;
        uint8_t named = st[j].named;
        double idf;
        if (d) {
            mass += d->tf;
            docs += docs < UINT16_MAX;
            named += d->named && named < UINT8_MAX;
            d->seen = 1;
            idf = d->idf;
        } else {
            idf = story_idf_of(s, st[j].h);
        }
        s->merge[n++] = (struct story_term){
            .h = st[j].h, .mass = (float)(mass * idf), .docs = docs, .kind = st[j].kind,
            .named = named};
    }
    for (size_t i = 0; i < s->ndt; i++)
        if (!s->dt[i].seen)
            s->merge[n++] = (struct story_term){.h = s->dt[i].h,
                                                .mass = s->dt[i].tf * s->dt[i].idf,
                                                .docs = 1,
                                                .kind = s->dt[i].kind,
                                                .named = s->dt[i].named};
    if (n > k) {
        story_top(s->merge, n, k);
        n = k;
    }
    story_sort_mass(s->merge, n);
    uint32_t old = it->nterms < STORY_INDEX_TERMS ? it->nterms : STORY_INDEX_TERMS;
    size_t now = n < STORY_INDEX_TERMS ? n : STORY_INDEX_TERMS;
    /* when the story's strongest terms change, its index entries are made again (once each:
     * a term that left and came back must not count twice) */
    bool same = old == now;
    for (size_t i = 0; i < now && same; i++) {
        bool had = false;
        for (uint32_t j = 0; j < old && !had; j++)
            had = st[j].h == s->merge[i].h;
        same = had;
    }
    if (!same) {
        if (story_index_version(s, slot) < 0)
            return -1;
        for (size_t i = 0; i < now; i++)
            if (story_index_add(s, s->merge[i].h, slot) < 0)
                return -1;
    }
    double sum[STORY_KINDS] = {0};
    for (size_t i = 0; i < n; i++) {
        double w = s->merge[i].mass;
        const struct story_dterm *d = story_dt_find(s, s->merge[i].h);
        double idf = d ? d->idf : story_idf_of(s, s->merge[i].h);
        st[i] = s->merge[i];
        st[i].mass = (float)(w / idf);
        double cw = st[i].mass * idf;
        sum[st[i].kind] += cw * cw;
    }
    it->nterms = (uint32_t)n;
    for (int k = 0; k < STORY_KINDS; k++)
        it->norm[k] = sqrt(sum[k]);
    it->norm_docs = s->docs;

    /* entities: summed weights, strongest kept */
    story_ents_add(it, story_ents_of(s, slot), re, nre);

    if (s->year > it->year)
        it->year = s->year;
    if (!isnan(t)) {
        if (isnan(it->tmin) || t < it->tmin)
            it->tmin = t;
        if (isnan(it->tmax) || t > it->tmax)
            it->tmax = t;
    }
    it->members++;
    it->last_seq = ++s->seq;
    /* stale index entries pile up as stories change their top terms: rebuild now and then */
    if (s->index.entries > 3 * (s->live * STORY_INDEX_TERMS + 1024))
        return story_index_rebuild(s);
    return 0;
}

/* ---- merging two stories ----------------------------------------------------------------- */

/* The similarity of two stories' centroids, weighed as story_best weighs an article's. */
static double story_pair_sim(struct story *s, uint32_t a, uint32_t b, double kc[STORY_KINDS])
{
    const struct story_term *ta = story_terms_of(s, a), *tb = story_terms_of(s, b);
    const double *na = story_norm(s, a), *nb = story_norm(s, b);
    double dot[STORY_KINDS] = {0};
    for (uint32_t i = 0; i < s->items[a].nterms; i++)
        for (uint32_t j = 0; j < s->items[b].nterms; j++)
            if (ta[i].h == tb[j].h) {
                double idf = story_idf_of(s, ta[i].h);
                dot[ta[i].kind] += (double)ta[i].mass * idf * tb[j].mass * idf;
                break;
            }
    const double weight[STORY_KINDS] = {1, s->conf->name_weight, s->conf->figure_weight};
    double sum = 0, wsum = 0;
    for (int k = 0; k < STORY_KINDS; k++) {
        kc[k] = -1;
        if (!(na[k] > 0) || !(nb[k] > 0) || weight[k] <= 0)
            continue;
        kc[k] = dot[k] / (na[k] * nb[k]);
        sum += weight[k] * kc[k];
        wsum += weight[k];
    }
    double sim = wsum > 0 ? sum / wsum : 0;
    const struct story_ent *ea = story_ents_of(s, a), *eb = story_ents_of(s, b);
    double ed = 0, ena = 0, enb = 0;
    for (uint32_t i = 0; i < s->items[a].nents; i++) {
        ena += (double)ea[i].mass * ea[i].mass;
        for (uint32_t j = 0; j < s->items[b].nents; j++)
            if (ea[i].h == eb[j].h)
                ed += (double)ea[i].mass * eb[j].mass;
    }
    for (uint32_t j = 0; j < s->items[b].nents; j++)
        enb += (double)eb[j].mass * eb[j].mass;
    double ew = s->conf->entity_weight;
    if (ena > 0 && enb > 0 && ew > 0)
        sim *= 1 - ew + ew * ed / sqrt(ena * enb);
    const struct story_item *ia = &s->items[a], *ib = &s->items[b];
    double win = s->conf->window_days;
    if (win > 0 && !isnan(ia->tmin) && !isnan(ib->tmin)) {
        double gap = ia->tmin > ib->tmax ? ia->tmin - ib->tmax
                     : ib->tmin > ia->tmax ? ib->tmin - ia->tmax : 0;
        if (gap > win)
            return 0;
        sim *= 1 - s->conf->time_weight * gap / win;
    }
    if (ia->year && ib->year && (isnan(ia->tmin) || isnan(ib->tmin)) &&
        (ia->year > ib->year ? ia->year - ib->year : ib->year - ia->year) >= STORY_YEARS_APART)
        sim *= 1 - s->conf->year_weight;
    bool disagree = kc[STORY_NAME] >= 0 && kc[STORY_NAME] < STORY_NAMES_AGREE &&
                    kc[STORY_FIGURE] < STORY_FIGURES_AGREE;
    if (!disagree)
        sim *= 1 + s->conf->agree_weight;
    return sim;
}

/* Makes the n terms in s->merge (their masses times the IDF of now) the centroid of the story
 * at slot: its top_terms strongest, heaviest first, their lengths and index entries. */
int story_set_centroid(struct story *s, uint32_t slot, size_t n)
{
    size_t k = (size_t)s->conf->top_terms;
    struct story_item *it = &s->items[slot];
    struct story_term *st = story_terms_of(s, slot);
    if (n > k) {
        story_top(s->merge, n, k);
        n = k;
    }
    story_sort_mass(s->merge, n);
    double sum[STORY_KINDS] = {0};
    for (size_t i = 0; i < n; i++) {
        double idf = story_idf_of(s, s->merge[i].h), w = s->merge[i].mass;
        st[i] = s->merge[i];
        st[i].mass = (float)(w / idf);
        sum[st[i].kind] += w * w;
    }
    it->nterms = (uint32_t)n;
    for (int j = 0; j < STORY_KINDS; j++)
        it->norm[j] = sqrt(sum[j]);
    it->norm_docs = s->docs;
    if (story_index_version(s, slot) < 0)
        return -1;
    for (size_t i = 0; i < n && i < STORY_INDEX_TERMS; i++)
        if (story_index_add(s, st[i].h, slot) < 0)
            return -1;
    return 0;
}

/* Adds `name` as the latest former name of the story at slot (one it had moves to the latest),
 * dropping the oldest beyond STORY_FORMER_MAX. 0, or -1 out of memory, the list unchanged. */
static int story_former_add(struct story *s, uint32_t slot, const uint8_t name[16])
{
    struct story_names *f = &s->former[slot];
    uint32_t i = 0;
    while (i < f->n && memcmp(f->v[i], name, 16) != 0)
        i++;
    if (i == f->n && f->n == STORY_FORMER_MAX)
        i = 0;
    if (i < f->n) {
        memmove(f->v[i], f->v[i + 1], 16 * (size_t)(f->n - i - 1));
        f->n--;
    }
    if (nfu_grow_from(&f->v, &f->cap, (size_t)f->n + 1, 16, 4) < 0)
        return -1;
    memcpy(f->v[f->n++], name, 16);
    return 0;
}

/* The story at slot is named `name` now: a former name that is its name again stops being one
 * (a story split from another is named after its member read first once more). */
static void story_former_drop(struct story *s, uint32_t slot, const uint8_t name[16])
{
    struct story_names *f = &s->former[slot];
    uint32_t k = 0;
    for (uint32_t i = 0; i < f->n; i++)
        if (memcmp(f->v[i], name, 16) != 0)
            memmove(f->v[k++], f->v[i], 16);
    f->n = k;
}

bool story_former_take(struct story *s, uint32_t slot, const uint8_t name[16])
{
    uint32_t n = s->former[slot].n;
    story_former_drop(s, slot, name);
    return s->former[slot].n != n;
}

/* Moves the former names a version 4-9 snapshot kept in the story's item (the latest first)
 * to its list. 0, or -1 out of memory. */
static int story_formers_from_v9(struct story *s, uint32_t slot)
{
    struct story_item *it = &s->items[slot];
    for (uint32_t i = it->v9_nformer; i > 0; i--)
        if (story_former_add(s, slot, it->v9_former[i - 1]) < 0)
            return -1;
    story_former_drop(s, slot, it->id); /* a name given again was kept among them */
    memset(it->v9_former, 0, sizeof(it->v9_former));
    it->v9_nformer = 0;
    return 0;
}

/* The former names of a story that took in another: the taken-in story's own, then the name
 * that stops being one (name), after the kept story's; not the name it has now. A member sent
 * again carries them again (story_renames_again): the taken-in story's earlier names must stay
 * among them, else a store that lost the record which carried one of its renames (a crash
 * before its commit) keeps that story's members under their old name when it is sent again. */
static int story_formers_merge(struct story *s, uint32_t keep, const uint8_t name[16],
                               uint32_t gone)
{
    const struct story_names *g = &s->former[gone];
    for (uint32_t i = 0; i < g->n; i++)
        if (story_former_add(s, keep, g->v[i]) < 0)
            return -1;
    if (story_former_add(s, keep, name) < 0)
        return -1;
    story_former_drop(s, keep, s->items[keep].id);
    return 0;
}

/* Puts the story at `gone` into the one at `keep`: terms, entities, dates and members; the
 * merged story is named by the member read first of both, and the record carries the rename. */
static int story_merge(struct story *s, uint32_t keep, uint32_t gone)
{
    struct story_item *it = &s->items[keep], *ig = &s->items[gone];
    struct story_term *tk = story_terms_of(s, keep), *tg = story_terms_of(s, gone);
    size_t n = 0;
    if (story_merge_reserve(s, (size_t)it->nterms + ig->nterms) < 0)
        return -1;
    for (uint32_t i = 0; i < it->nterms; i++)
        s->merge[n++] = tk[i];
    for (uint32_t j = 0; j < ig->nterms; j++) {
        size_t i = 0;
        while (i < it->nterms && s->merge[i].h != tg[j].h)
            i++;
        if (i < it->nterms) {
            s->merge[i].mass += tg[j].mass;
            unsigned d = (unsigned)s->merge[i].docs + tg[j].docs;
            s->merge[i].docs = d > UINT16_MAX ? UINT16_MAX : (uint16_t)d;
            unsigned nm = (unsigned)s->merge[i].named + tg[j].named;
            s->merge[i].named = nm > UINT8_MAX ? UINT8_MAX : (uint8_t)nm;
        } else {
            s->merge[n++] = tg[j];
        }
    }
    for (size_t i = 0; i < n; i++)
        s->merge[i].mass = (float)(s->merge[i].mass * story_idf_of(s, s->merge[i].h));
    if (story_set_centroid(s, keep, n) < 0)
        return -1;
    story_ents_add(it, story_ents_of(s, keep), story_ents_of(s, gone), ig->nents);
    if (ig->year > it->year)
        it->year = ig->year;
    if (!isnan(ig->tmin) && (isnan(it->tmin) || ig->tmin < it->tmin))
        it->tmin = ig->tmin;
    if (!isnan(ig->tmax) && (isnan(it->tmax) || ig->tmax > it->tmax))
        it->tmax = ig->tmax;
    it->members += ig->members;
    if (ig->last_seq > it->last_seq)
        it->last_seq = ig->last_seq;
    char from[33], to[33];
    uint8_t gone_name[16];
    if (ig->order < it->order) {
        story_hex(it->id, from);
        story_hex(ig->id, to);
        memcpy(gone_name, it->id, 16);
        memcpy(it->id, ig->id, 16);
        it->order = ig->order;
    } else {
        story_hex(ig->id, from);
        story_hex(it->id, to);
        memcpy(gone_name, ig->id, 16);
    }
    if (story_formers_merge(s, keep, gone_name, gone) < 0)
        return -1;
    /* the pairs of gone's names (its members read first, then and before) lead to keep now: a
     * member of gone finds its story through the name it joined under (story_follow) */
    struct story_idpair moved = {.slot = keep, .serial = it->serial};
    memcpy(&moved.s0, it->id, 8), memcpy(&moved.s1, it->id + 8, 8);
    const struct story_names *gf = &s->former[gone];
    for (uint32_t i = 0; i <= gf->n; i++) {
        const uint8_t *name = i ? gf->v[i - 1] : ig->id;
        uint64_t k[2];
        memcpy(&k[0], name, 8), memcpy(&k[1], name + 8, 8);
        struct story_idpair *p = story_ids_find(s, k);
        if (p && p->slot == gone && p->serial == ig->serial)
            p->slot = moved.slot, p->serial = moved.serial, p->s0 = moved.s0, p->s1 = moved.s1;
    }
    if (story_members_merge(s, keep, gone) < 0)
        return -1;
    ig->live = false;
    s->alive[gone] = 0;
    s->free_slots[s->nfree++] = gone;
    s->live--;
    if (!s->replaying)
        nf_ctx_count(s->ctx, "story_merged", 1);
    return nf_amend_add(&s->amend, NF_AMEND_STORY_ID, from, to);
}

/* After the record joined the story at `slot`: the next best story it was scored against
 * (s->second) is merged with it when one of the two has at most STORY_YOUNG members and their
 * centroids reach merge_threshold. A story split at its start (a telling whose words missed the
 * first one) is mended when an article close to both comes. Two grown stories are mostly two
 * events of one kind (two arrests of one team's players), which differ in their figures: they
 * are merged only when their centroids reach merge_grown and their figures agree
 * (merge_grown_figures), as one event told in two strands of words does. Returns the slot of
 * the record's story now, -1 when out of memory. */
static long story_merge_next(struct story *s, struct nf_ctx *ctx, uint32_t slot)
{
    long o = s->second;
    s->second = -1;
    if (o < 0 || (uint32_t)o == slot || !s->items[o].live || !(s->conf->merge_threshold > 0))
        return slot;
    const struct story_item *a = &s->items[slot], *b = &s->items[o];
    /* two grown stories: one event told in two strands that grew apart before a telling close
     * to both came agrees on its figures; two events of one kind do not */
    bool grown = a->members > STORY_YOUNG && b->members > STORY_YOUNG;
    if (grown && !(s->conf->merge_grown > 0))
        return slot;
    double kc[STORY_KINDS];
    double sim = story_pair_sim(s, slot, (uint32_t)o, kc);
    bool merge = sim >= s->conf->merge_threshold &&
                 (!grown || (sim >= s->conf->merge_grown &&
                             kc[STORY_FIGURE] >= s->conf->merge_grown_figures));
    nf_log(ctx, NF_LOG_DEBUG, "  stories %02x%02x%02x%02x.. (%u members) and %02x%02x%02x%02x.. "
           "(%u members): words %.3f, names %.3f, figures %.3f: %.3f%s", a->id[0], a->id[1],
           a->id[2], a->id[3], a->members, b->id[0], b->id[1], b->id[2], b->id[3], b->members,
           kc[STORY_WORD], kc[STORY_NAME], kc[STORY_FIGURE], sim, merge ? ", merged" : "");
    if (!merge)
        return slot;
    /* the bigger keeps its slot: its members' pairs point there */
    uint32_t keep = a->members >= b->members ? slot : (uint32_t)o;
    return story_merge(s, keep, keep == slot ? (uint32_t)o : slot) < 0 ? -1 : (long)keep;
}

/* ---- snapshot ---------------------------------------------------------------------------- */

/* The snapshot is written by the worker into a temporary file, through a staging buffer and
 * with its checksum kept on the way; a thread then syncs it and puts it in place (s->save). The
 * worker pauses for the encoding and the copy into the page cache, not for the disk: at 5,000-
 * 6,000 stories the pause in place, sync included, was 46-181 ms, every record arriving meanwhile
 * waiting behind it. Encoding the state into memory for the thread to write was tried first: the
 * pause was the same, but the copy doubled the worker's memory (53.8 -> 104.8 MiB at 100,000
 * articles). */
#define STORY_STAGE (1u << 20)

struct story_out {
    int fd;
    XXH3_state_t *h;
    struct nf_buf *stage; /* STORY_STAGE bytes, kept from one snapshot to the next */
};

static int story_out_flush(struct story_out *o)
{
    struct nf_buf *b = o->stage;
    int rc = XXH3_64bits_update(o->h, b->data, b->len) == XXH_OK &&
                     nfu_write_all(o->fd, b->data, b->len) == 0
                 ? 0
                 : -1;
    b->len = 0;
    return rc;
}

/* Most puts are a few bytes, millions of them for a large state: copied into the stage. */
static inline int story_put(struct story_out *o, const void *p, size_t n)
{
    struct nf_buf *b = o->stage;
    if (!n)
        return 0; /* an empty array may have no memory at all */
    if (b->cap - b->len < n) {
        if (story_out_flush(o) < 0)
            return -1;
        if (n > b->cap)
            return XXH3_64bits_update(o->h, p, n) == XXH_OK ? nfu_write_all(o->fd, p, n) : -1;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

#define STORY_PUT(b, v) story_put((b), &(v), sizeof(v))

/* Version 5 keeps the state as it is in memory: every slot, the index's lists in their order,
 * the tables at their positions, the centroid lengths cached. A restored worker then scores the
 * next article exactly as the one that wrote it would have: rebuilding the index and the lengths
 * (versions 1-4, still read) made articles land in other stories after a crash. The sizes of
 * the records copied whole are in the header; a build whose state is laid out otherwise refuses
 * the file (kept aside, as a damaged one). Version 6 is version 5 with each story's year
 * (story_item.year) in bytes that were padding: a version 5 file is read with no story's year
 * known. Version 7 names, after the version, the last log generation it holds (`upto`); an older
 * file holds none, and only story.log is judged again after it. Version 8 adds, after the id
 * tables, the member lists kept for splitting stories (story_split); an older file's stories are
 * never split. Version 9 drops from each list the other side of a split (version 8's, read and
 * left) and adds after the lists the moves ring (story_moves_again). Version 10 keeps each
 * story's former names (up to STORY_FORMER_MAX) in lists of their own, between the member lists
 * and the moves ring, instead of the latest four in the story's item (whose bytes it writes as
 * zeros). The checksum (XXH3 of all that comes before it) ends the file. */
#define STORY_SNAPSHOT_VERSION 10

static int story_snapshot_encode(struct story *s, struct story_out *b, uint64_t upto)
{
    uint32_t version = STORY_SNAPSHOT_VERSION, k = (uint32_t)s->conf->top_terms,
             e = STORY_MAX_ENTS;
    uint32_t sizes[5] = {sizeof(struct story_item), sizeof(struct story_term),
                         sizeof(struct story_ent), sizeof(struct story_idpair), STORY_KINDS};
    uint64_t nitems = s->nitems, nfree = s->nfree, live = s->live;
    if (story_put(b, STORY_MAGIC, 8) || STORY_PUT(b, version) || STORY_PUT(b, upto) ||
        STORY_PUT(b, k) ||
        STORY_PUT(b, e) || STORY_PUT(b, sizes) || STORY_PUT(b, s->docs) ||
        STORY_PUT(b, s->seq) || STORY_PUT(b, s->iver) || STORY_PUT(b, nitems) ||
        STORY_PUT(b, nfree) || STORY_PUT(b, live) ||
        story_put(b, s->items, s->nitems * sizeof(*s->items)) ||
        story_put(b, s->terms, s->nitems * k * sizeof(*s->terms)) ||
        story_put(b, s->ents, s->nitems * e * sizeof(*s->ents)) ||
        story_put(b, s->alive, s->nitems * sizeof(*s->alive)) ||
        story_put(b, s->free_slots, s->nfree * sizeof(*s->free_slots)))
        return -1;
    /* the hash tables: their sizes, then each entry in use with its position (a table is at
     * most half full, so this is smaller than the table, and the positions keep its order) */
    uint64_t cap = s->df.cap, n = s->df.n;
    if (STORY_PUT(b, cap) || STORY_PUT(b, n))
        return -1;
    for (size_t i = 0; i < s->df.cap; i++) {
        uint32_t at = (uint32_t)i;
        if (s->df.key[i] &&
            (STORY_PUT(b, at) || STORY_PUT(b, s->df.key[i]) || STORY_PUT(b, s->df.df[i])))
            return -1;
    }
    const struct story_index *x = &s->index;
    cap = x->cap, n = x->n;
    uint64_t entries = x->entries;
    if (STORY_PUT(b, cap) || STORY_PUT(b, n) || STORY_PUT(b, entries))
        return -1;
    for (size_t i = 0; i < x->cap; i++) {
        uint32_t at = (uint32_t)i;
        if (x->key[i] && (STORY_PUT(b, at) || STORY_PUT(b, x->key[i]) ||
                          STORY_PUT(b, x->list[i].n) ||
                          story_put(b, x->list[i].e, x->list[i].n * sizeof(*x->list[i].e))))
            return -1;
    }
    for (int g = 0; g < 2; g++) {
        const struct story_idmap *y = &s->ids[g];
        uint64_t used = 0;
        for (size_t i = 0; i < y->cap; i++)
            used += y->e[i].k0 || y->e[i].k1;
        uint64_t yn = y->n;
        cap = y->cap;
        if (STORY_PUT(b, cap) || STORY_PUT(b, yn) || STORY_PUT(b, used))
            return -1;
        for (size_t i = 0; i < y->cap; i++) {
            uint32_t at = (uint32_t)i;
            if ((y->e[i].k0 || y->e[i].k1) && (STORY_PUT(b, at) || STORY_PUT(b, y->e[i])))
                return -1;
        }
    }
    /* member lists: those that have members or are off */
    uint32_t msize = sizeof(struct story_member);
    uint64_t lists = 0;
    for (size_t i = 0; i < s->nitems; i++)
        lists += s->items[i].live && (s->mem[i].n || s->mem[i].off);
    if (STORY_PUT(b, msize) || STORY_PUT(b, lists))
        return -1;
    for (size_t i = 0; i < s->nitems; i++) {
        const struct story_mlist *l = &s->mem[i];
        uint32_t at = (uint32_t)i;
        uint8_t off = l->off;
        if (s->items[i].live && (l->n || l->off) &&
            (STORY_PUT(b, at) || STORY_PUT(b, off) || STORY_PUT(b, l->n) ||
             story_put(b, l->m, l->n * sizeof(*l->m))))
            return -1;
    }
    /* former names: the live stories that have any */
    uint64_t named = 0;
    for (size_t i = 0; i < s->nitems; i++)
        named += s->items[i].live && s->former[i].n;
    if (STORY_PUT(b, named))
        return -1;
    for (size_t i = 0; i < s->nitems; i++) {
        const struct story_names *f = &s->former[i];
        uint32_t at = (uint32_t)i;
        if (s->items[i].live && f->n &&
            (STORY_PUT(b, at) || STORY_PUT(b, f->n) || story_put(b, f->v, 16 * (size_t)f->n)))
            return -1;
    }
    /* the moves ring, oldest first */
    uint32_t vsize = sizeof(struct story_moves), moves = s->moves_n;
    if (STORY_PUT(b, vsize) || STORY_PUT(b, moves))
        return -1;
    for (uint32_t i = 0; i < moves; i++) {
        const struct story_moves *mv =
            &s->moves[(s->moves_next + STORY_MOVES_KEPT - moves + i) % STORY_MOVES_KEPT];
        if (STORY_PUT(b, mv->by) || STORY_PUT(b, mv->n) ||
            story_put(b, mv->k, mv->n * sizeof(*mv->k)))
            return -1;
    }
    if (story_out_flush(b) < 0)
        return -1;
    uint64_t sum = XXH3_64bits_digest(b->h);
    return nfu_write_all(b->fd, &sum, sizeof(sum));
}

static int story_export_idf(struct story *s, char *why, size_t whyn)
{
    struct nf_buf b = {0};
    char line[STORY_MAX_WORD + 32];
    int n = snprintf(line, sizeof(line), "# newsflow story: document frequencies\ndocs\t%llu\n",
                     (unsigned long long)s->docs);
    int rc = nf_buf_append(&b, line, (size_t)n);
    for (size_t i = 0; rc == 0 && i < s->df.cap; i++) {
        /* words seen once say nothing about a corpus and make most of the file */
        if (!s->df.key[i] || !s->df.text[i] || s->df.df[i] < 2)
            continue;
        n = snprintf(line, sizeof(line), "%s\t%u\n", s->df.text[i], s->df.df[i]);
        rc = nf_buf_append(&b, line, (size_t)n);
    }
    if (rc < 0)
        snprintf(why, whyn, "out of memory");
    else
        rc = nfu_save_whole(s->conf->idf_export, b.data, b.len, why, whyn);
    nf_buf_free(&b);
    return rc;
}

static int story_log_append(struct story *s, char *why, size_t whyn);

/* Takes a snapshot of the state as it is now. What was judged so far is appended to the log,
 * which becomes the generation the snapshot holds (a new log begins); the state is encoded into
 * memory here, and written from a thread (with `wait`, before this returns). A snapshot that is
 * not written leaves its generation of the log in place, for the next one to hold. */
static int story_snapshot(struct story *s, bool wait, char *why, size_t whyn)
{
    if (story_log_append(s, why, whyn) < 0)
        return -1;
    uint64_t g = s->log_gen + 1;
    char gen[4200];
    if (s->log_path) {
        if (nfu_genlog_path(gen, sizeof(gen), s->log_path, g) < 0)
            return snprintf(why, whyn, "%s: path too long", s->log_path), -1;
        if (rename(s->log_path, gen) != 0 && errno != ENOENT)
            return snprintf(why, whyn, "cannot rename %s to generation %llu: %s", s->log_path,
                            (unsigned long long)g, strerror(errno)),
                   -1;
    }
    s->log_gen = g;
    if (!s->snap_stage.data) {
        s->snap_stage.data = malloc(STORY_STAGE);
        s->snap_stage.cap = s->snap_stage.data ? STORY_STAGE : 0;
    }
    if (!s->snap_hash)
        s->snap_hash = XXH3_createState();
    if (!s->snap_stage.data || !s->snap_hash)
        return snprintf(why, whyn, "out of memory"), -1;
    int64_t t0 = nf_now_ms();
    int fd = nfu_save_begin(s->snap_path, why, whyn);
    if (fd < 0)
        return -1;
    struct story_out o = {fd, s->snap_hash, &s->snap_stage};
    s->snap_stage.len = 0;
    errno = 0;
    if (XXH3_64bits_reset(o.h) != XXH_OK || story_snapshot_encode(s, &o, g) < 0) {
        snprintf(why, whyn, "%s.tmp: %s", s->snap_path, strerror(errno ? errno : ENOMEM));
        nfu_save_abort(s->snap_path, fd);
        return -1;
    }
    s->encode_ms = nf_now_ms() - t0;
    if (s->conf->idf_export[0] && story_export_idf(s, why, whyn) < 0) {
        nfu_save_abort(s->snap_path, fd);
        return -1;
    }
    s->dirty = false;
    if (nfu_bgsave_start(&s->save, fd, g, wait) < 0 || wait) {
        int rc = nfu_bgsave_join(&s->save, why, whyn, NULL);
        if (rc < 0)
            s->dirty = true;
        return rc < 0 ? -1 : 0;
    }
    return 0;
}

/* Hears how the snapshot written from a thread went, once it has ended (or, with `wait`, waits
 * for it). One that failed leaves its log generation, and the state is dirty again. */
static void story_snapshot_joined(struct story *s, struct nf_ctx *ctx, bool wait)
{
    if (!nfu_bgsave_running(&s->save) || (!wait && !nfu_bgsave_finished(&s->save)))
        return;
    char why[512];
    int64_t took = 0;
    int rc = nfu_bgsave_join(&s->save, why, sizeof(why), &took);
    if (rc < 0) {
        s->dirty = true;
        nf_log(ctx, NF_LOG_WARN, "snapshot: %s; the log keeps what it lacks", why);
    } else if (rc == 0) {
        nf_log(ctx, NF_LOG_DEBUG, "snapshot: encoded and written in %lld ms, synced in %lld ms",
               (long long)s->encode_ms, (long long)took);
    }
}

struct story_reader {
    const uint8_t *p, *end;
};

static int story_get(struct story_reader *r, void *out, size_t n)
{
    if ((size_t)(r->end - r->p) < n)
        return -1;
    memcpy(out, r->p, n);
    r->p += n;
    return 0;
}

#define STORY_GET(r, v) story_get((r), &(v), sizeof(v))

/* A power of two up to `max`, for a table read back whole. */
static bool story_table_cap(uint64_t cap, uint64_t max)
{
    return cap <= max && (cap & (cap - 1)) == 0;
}

/* Versions 5 and 6 (story_snapshot_encode): the state as it was, checked before it is
 * trusted. */
static int story_restore_exact(struct story *s, struct story_reader *r, uint32_t version,
                               const char **why)
{
    uint32_t k, e, sizes[5];
    uint64_t nitems, nfree, live, cap, n, entries;
    const uint32_t want[5] = {sizeof(struct story_item), sizeof(struct story_term),
                              sizeof(struct story_ent), sizeof(struct story_idpair), STORY_KINDS};
    if (STORY_GET(r, k) || STORY_GET(r, e) || STORY_GET(r, sizes) || STORY_GET(r, s->docs) ||
        STORY_GET(r, s->seq) || STORY_GET(r, s->iver) || STORY_GET(r, nitems) ||
        STORY_GET(r, nfree) || STORY_GET(r, live))
        return *why = "truncated header", -1;
    if (memcmp(sizes, want, sizeof(want)) != 0)
        return *why = "written by a build whose story state is laid out otherwise", -1;
    if (k != (uint32_t)s->conf->top_terms || e != STORY_MAX_ENTS)
        return *why = "written with another top_terms", -1;
    size_t left = (size_t)(r->end - r->p);
    if (nitems > (uint64_t)s->conf->max_stories + 1 || nfree > nitems || live > nitems ||
        nitems * sizeof(struct story_item) > left)
        return *why = "bad story count", -1;
    if (story_items_grow(s, (size_t)nitems) < 0)
        return *why = "out of memory", -1;
    s->nitems = (size_t)nitems, s->nfree = (size_t)nfree, s->live = (size_t)live;
    if (story_get(r, s->items, s->nitems * sizeof(*s->items)) ||
        story_get(r, s->terms, s->nitems * k * sizeof(*s->terms)) ||
        story_get(r, s->ents, s->nitems * e * sizeof(*s->ents)) ||
        story_get(r, s->alive, s->nitems * sizeof(*s->alive)) ||
        story_get(r, s->free_slots, s->nfree * sizeof(*s->free_slots)))
        return *why = "truncated stories", -1;
    /* each slot is live or free, once: eviction moves live ones onto the free list, which has
     * room for every slot but no more */
    size_t nlive = 0;
    for (size_t i = 0; i < s->nitems; i++) {
        const struct story_item *it = &s->items[i];
        uint8_t live; /* read as a byte: a bool holding another value is undefined */
        memcpy(&live, (const uint8_t *)it + offsetof(struct story_item, live), 1);
        if (live > 1 || it->nterms > k || it->nents > e || it->v9_nformer > STORY_FORMER_V9)
            return *why = "bad story", -1;
        const struct story_term *t = story_terms_of(s, (uint32_t)i);
        for (uint32_t j = 0; j < it->nterms; j++)
            if (t[j].kind >= STORY_KINDS)
                return *why = "bad story term", -1;
        nlive += live;
        if (version < 6)
            s->items[i].year = 0; /* padding then: anything */
    }
    if (nlive != s->live || s->nfree + s->live != s->nitems)
        return *why = "bad story count", -1;
    size_t listed = 0;
    for (; listed < s->nfree; listed++) {
        uint32_t f = s->free_slots[listed];
        if (f >= s->nitems || s->items[f].live || s->acc[f])
            break;
        s->acc[f] = 1; /* seen on the list; acc is zero between records, and left so */
    }
    for (size_t i = 0; i < listed; i++)
        s->acc[s->free_slots[i]] = 0;
    if (listed < s->nfree)
        return *why = "bad free slot", -1;
    /* document frequencies, at their positions */
    if (STORY_GET(r, cap) || STORY_GET(r, n) || !cap || !story_table_cap(cap, 1ull << 32) ||
        n * 2 > cap || n * 16 > (uint64_t)(r->end - r->p))
        return *why = "bad term table", -1;
    struct story_df df = {.cap = (size_t)cap, .n = (size_t)n};
    df.key = calloc(df.cap, sizeof(*df.key));
    df.df = calloc(df.cap, sizeof(*df.df));
    df.text = s->df.text ? calloc(df.cap, sizeof(*df.text)) : NULL;
    if (!df.key || !df.df || (s->df.text && !df.text)) {
        free(df.key), free(df.df), free(df.text);
        return *why = "out of memory", -1;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint32_t at;
        uint64_t key;
        uint32_t v;
        if (STORY_GET(r, at) || STORY_GET(r, key) || STORY_GET(r, v) || at >= df.cap || !key ||
            df.key[at]) {
            free(df.key), free(df.df), free(df.text);
            return *why = "bad term table entry", -1;
        }
        df.key[at] = key, df.df[at] = v;
    }
    for (size_t i = 0; s->df.text && i < s->df.cap; i++)
        free(s->df.text[i]);
    free(s->df.key), free(s->df.df), free(s->df.text);
    s->df = df;
    /* the index: each term's list in its order, old versions included. A table at most half
     * full, as the stage keeps it: a full one would make a lookup of a missing term loop. */
    struct story_index *x = &s->index;
    if (STORY_GET(r, cap) || STORY_GET(r, n) || STORY_GET(r, entries) ||
        !story_table_cap(cap, 1ull << 32) || n * 2 > cap || n * 16 > (uint64_t)(r->end - r->p))
        return *why = "bad index", -1;
    for (size_t i = 0; i < x->cap; i++)
        free(x->list[i].e);
    free(x->key), free(x->list);
    memset(x, 0, sizeof(*x));
    if (cap) {
        x->key = calloc((size_t)cap, sizeof(*x->key));
        x->list = calloc((size_t)cap, sizeof(*x->list));
        if (!x->key || !x->list) {
            free(x->key), free(x->list);
            return x->key = NULL, x->list = NULL, *why = "out of memory", -1;
        }
    }
    x->cap = (size_t)cap, x->n = (size_t)n, x->entries = (size_t)entries;
    for (uint64_t k2 = 0; k2 < n; k2++) {
        uint32_t i;
        uint64_t key;
        if (STORY_GET(r, i) || STORY_GET(r, key) || i >= x->cap || !key || x->key[i])
            return *why = "bad index entry", -1;
        x->key[i] = key;
        struct story_posting *l = &x->list[i];
        if (STORY_GET(r, l->n) || l->n % 2 || l->n > (size_t)(r->end - r->p) / 4)
            return *why = "bad index list", -1;
        l->cap = l->n ? l->n : 2;
        l->e = malloc(l->cap * sizeof(*l->e));
        if (!l->e)
            return *why = "out of memory", -1;
        if (story_get(r, l->e, l->n * sizeof(*l->e)))
            return *why = "truncated index list", -1;
        for (uint32_t j = 0; j < l->n; j += 2)
            if (l->e[j] >= s->nitems)
                return *why = "bad index entry", -1;
    }
    /* article ids, both generations */
    for (int g = 0; g < 2; g++) {
        struct story_idmap *y = &s->ids[g];
        uint64_t used, yn;
        if (STORY_GET(r, cap) || STORY_GET(r, yn) || STORY_GET(r, used) ||
            !story_table_cap(cap, 1ull << 32) || yn > cap || used * 2 > cap ||
            used * (4 + sizeof(struct story_idpair)) > (uint64_t)(r->end - r->p) ||
            /* a table begins at 1024 slots at most and doubles when half full: never more
             * than four times its ids (eight allowed), which the file must hold */
            (cap > 1024 && cap / 8 > used + 1))
            return *why = "bad id table", -1;
        free(y->e);
        *y = (struct story_idmap){0};
        if (cap && !(y->e = calloc((size_t)cap, sizeof(*y->e))))
            return *why = "out of memory", -1;
        y->cap = (size_t)cap, y->n = (size_t)yn;
        for (uint64_t k2 = 0; k2 < used; k2++) {
            uint32_t i;
            struct story_idpair v;
            if (STORY_GET(r, i) || STORY_GET(r, v) || i >= y->cap || (!v.k0 && !v.k1) ||
                y->e[i].k0 || y->e[i].k1 || (v.slot >= s->nitems && v.slot != 0))
                return *why = "bad id entry", -1;
            y->e[i] = v;
        }
    }
    /* member lists (version 8): an older file's stories are never split */
    for (size_t i = 0; i < s->nitems; i++)
        story_mlist_free(s, (uint32_t)i, version < 8 && s->items[i].live);
    if (version >= 8) {
        uint32_t msize;
        uint64_t lists;
        if (STORY_GET(r, msize) || STORY_GET(r, lists))
            return *why = "truncated member lists", -1;
        if (msize != sizeof(struct story_member))
            return *why = "written by a build whose story state is laid out otherwise", -1;
        if (lists > s->nitems)
            return *why = "bad member lists", -1;
        for (uint64_t j = 0; j < lists; j++) {
            uint32_t at, n, sib[2];
            uint8_t off, split = 0;
            /* version 8 named a split story's other side here: its moves are not kept */
            if (STORY_GET(r, at) || STORY_GET(r, off) || STORY_GET(r, n) ||
                (version == 8 && (STORY_GET(r, split) || STORY_GET(r, sib))) ||
                at >= s->nitems || !s->items[at].live || off > 1 || split > 1 ||
                n > STORY_SPLIT_MAX || (off && n) || s->mem[at].n || s->mem[at].off)
                return *why = "bad member list", -1;
            struct story_mlist *l = &s->mem[at];
            l->off = off;
            if (!n)
                continue;
            if (!(l->m = malloc(n * sizeof(*l->m))))
                return *why = "out of memory", -1;
            l->cap = n;
            if (story_get(r, l->m, n * sizeof(*l->m)))
                return *why = "truncated member list", -1;
            l->n = n;
            s->mem_total += n;
            for (uint32_t i = 0; i < n; i++) {
                const struct story_member *m = &l->m[i];
                if (m->nterms > STORY_MEMBER_TERMS || m->nents > STORY_MEMBER_ENTS)
                    return *why = "bad member", -1;
                for (uint8_t t = 0; t < m->nterms; t++)
                    if (m->terms[t].kind >= STORY_KINDS)
                        return *why = "bad member term", -1;
            }
        }
    }
    /* former names (version 10; before, the latest four in each item) */
    for (size_t i = 0; i < s->nitems; i++) {
        s->former[i].n = 0;
        if (version >= 10)
            s->items[i].v9_nformer = 0;
        else if (s->items[i].live && story_formers_from_v9(s, (uint32_t)i) < 0)
            return *why = "out of memory", -1;
    }
    if (version >= 10) {
        uint64_t named;
        if (STORY_GET(r, named) || named > s->nitems)
            return *why = "bad former names", -1;
        for (uint64_t j = 0; j < named; j++) {
            uint32_t at, n;
            if (STORY_GET(r, at) || STORY_GET(r, n) || at >= s->nitems || !s->items[at].live ||
                !n || n > STORY_FORMER_MAX || s->former[at].n)
                return *why = "bad former names", -1;
            struct story_names *f = &s->former[at];
            if (nfu_grow_from(&f->v, &f->cap, n, 16, 4) < 0)
                return *why = "out of memory", -1;
            if (story_get(r, f->v, 16 * (size_t)n))
                return *why = "truncated former names", -1;
            f->n = n;
        }
    }
    /* the moves ring (version 9) */
    s->moves_n = s->moves_next = 0;
    if (version >= 9) {
        uint32_t vsize, moves;
        if (STORY_GET(r, vsize) || STORY_GET(r, moves))
            return *why = "truncated moves", -1;
        if (vsize != sizeof(struct story_moves))
            return *why = "written by a build whose story state is laid out otherwise", -1;
        if (moves > STORY_MOVES_KEPT)
            return *why = "bad moves", -1;
        if (moves && !s->moves && !(s->moves = malloc(STORY_MOVES_KEPT * sizeof(*s->moves))))
            return *why = "out of memory", -1;
        for (uint32_t i = 0; i < moves; i++) {
            struct story_moves *mv = &s->moves[i];
            if (STORY_GET(r, mv->by) || STORY_GET(r, mv->n) || mv->n > STORY_SPLIT_MAX)
                return *why = "bad moves entry", -1;
            if (story_get(r, mv->k, mv->n * sizeof(*mv->k)))
                return *why = "truncated moves entry", -1;
        }
        s->moves_n = moves, s->moves_next = moves % STORY_MOVES_KEPT;
    }
    if (r->p != r->end)
        return *why = "trailing bytes", -1;
    return 0;
}

static int story_restore_from(struct story *s, const uint8_t *data, size_t len, const char **why)
{
    uint64_t sum;
    if (len < 8 + 12 + 24 + 8 || memcmp(data, STORY_MAGIC, 8) != 0)
        return *why = "not a story snapshot", -1;
    memcpy(&sum, data + len - 8, 8);
    if (XXH3_64bits(data, len - 8) != sum)
        return *why = "checksum mismatch (truncated or damaged)", -1;
    struct story_reader r = {data + 8, data + len - 8};
    uint32_t version, k, e;
    uint64_t ndf, nst, nid;
    /* version 1 had neither kinds nor member counts: every term a word, seen by none */
    /* version 2 had no read order: its stories keep their names */
    if (STORY_GET(&r, version) || version < 1 || version > STORY_SNAPSHOT_VERSION)
        return *why = "unknown snapshot version", -1;
    s->log_gen = 0;
    if (version >= 7 && STORY_GET(&r, s->log_gen))
        return *why = "truncated header", -1;
    if (version >= 5)
        return story_restore_exact(s, &r, version, why);
    if (STORY_GET(&r, k) || STORY_GET(&r, e) || e != STORY_MAX_ENTS || STORY_GET(&r, s->docs) ||
        STORY_GET(&r, s->seq) || STORY_GET(&r, ndf))
        return *why = "truncated header", -1;
    if (ndf > (size_t)(r.end - r.p) / 12)
        return *why = "bad term count", -1;
    for (uint64_t i = 0; i < ndf; i++) {
        uint64_t h;
        uint32_t df;
        if (STORY_GET(&r, h) || STORY_GET(&r, df) || !h || story_df_reserve(s) < 0)
            return *why = "bad term or out of memory", -1;
        *story_df_slot(&s->df, h, true, NULL) = df;
    }
    if (STORY_GET(&r, nst))
        return *why = "truncated", -1;
    for (uint64_t i = 0; i < nst; i++) {
        struct story_item it = {0};
        if (story_get(&r, it.id, 16) || STORY_GET(&r, it.members) || STORY_GET(&r, it.nterms) ||
            STORY_GET(&r, it.nents) || STORY_GET(&r, it.tmin) || STORY_GET(&r, it.tmax) ||
            STORY_GET(&r, it.last_seq) || (version >= 3 && STORY_GET(&r, it.order)) ||
            (version >= 4 && (STORY_GET(&r, it.v9_nformer) || it.v9_nformer > STORY_FORMER_V9 ||
                              story_get(&r, it.v9_former, 16 * it.v9_nformer))) ||
            it.nterms > k || it.nents > e)
            return *why = "bad story", -1;
        if (version < 3)
            it.order = INT64_MIN;
        long slot = story_slot_new(s);
        if (slot < 0)
            return *why = "out of memory", -1;
        it.serial = s->items[slot].serial;
        it.live = true;
        uint32_t keep = it.nterms < (uint32_t)s->conf->top_terms ? it.nterms
                                                                   : (uint32_t)s->conf->top_terms;
        struct story_term *t = story_terms_of(s, (uint32_t)slot);
        for (uint32_t j = 0; j < it.nterms; j++) {
            struct story_term x;
            if (STORY_GET(&r, x))
                return *why = "truncated story", -1;
            if (version == 1)
                x.docs = 0, x.kind = STORY_WORD, x.named = 0;
            else if (x.kind >= STORY_KINDS)
                return *why = "bad term kind", -1;
            if (j < keep)
                t[j] = x;
        }
        it.nterms = keep;
        if (story_get(&r, story_ents_of(s, (uint32_t)slot), it.nents * sizeof(struct story_ent)))
            return *why = "truncated story", -1;
        s->items[slot] = it;
        s->alive[slot] = ++s->iver;
        s->mem[slot].off = true; /* its members are not known */
        if (story_formers_from_v9(s, (uint32_t)slot) < 0)
            return *why = "out of memory", -1;
    }
    if (STORY_GET(&r, nid))
        return *why = "truncated", -1;
    for (uint64_t i = 0; i < nid; i++) {
        uint64_t key[2];
        struct story_idpair v = {0};
        if (STORY_GET(&r, key[0]) || STORY_GET(&r, key[1]) || STORY_GET(&r, v.s0) ||
            STORY_GET(&r, v.s1))
            return *why = "truncated id list", -1;
        if (story_ids_put(s, key, &v) < 0)
            return *why = "out of memory", -1;
    }
    if (r.p != r.end)
        return *why = "trailing bytes", -1;
    /* ids point at stories by slot; find them again */
    for (size_t i = 0; i < s->nitems; i++) {
        uint64_t sid[2];
        memcpy(sid, s->items[i].id, 16);
        for (int g = 0; g < 2; g++)
            for (size_t j = 0; j < s->ids[g].cap; j++) {
                struct story_idpair *p = &s->ids[g].e[j];
                if (p->s0 == sid[0] && p->s1 == sid[1])
                    p->slot = (uint32_t)i, p->serial = s->items[i].serial;
            }
    }
    return story_index_rebuild(s) < 0 ? (*why = "out of memory", -1) : 0;
}

static char *story_slurp(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *p = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (p = malloc((size_t)n + 1))) {
            if (fread(p, 1, (size_t)n, f) != (size_t)n)
                free(p), p = NULL;
            else
                p[n] = '\0', *len_out = (size_t)n;
        }
    }
    fclose(f);
    return p;
}

static void story_forget_all(struct story *s);

/* Reads the snapshot if there is one. A damaged one is kept aside and the stage starts cold:
 * losing the clustering state is better than not running. */
static int story_restore(struct story *s, struct nf_ctx *ctx)
{
    size_t len;
    char *data = story_slurp(s->snap_path, &len);
    if (!data) {
        if (errno == ENOENT)
            return 0;
        nf_ctx_error(ctx, "%s: %s", s->snap_path, strerror(errno));
        return -1;
    }
    const char *why = NULL;
    int rc = story_restore_from(s, (const uint8_t *)data, len, &why);
    free(data);
    if (rc == 0) {
        nf_log(ctx, NF_LOG_INFO, "restored %zu stories and %llu documents from %s", s->live,
               (unsigned long long)s->docs, s->snap_path);
        return 0;
    }
    size_t pl = strlen(s->snap_path);
    char *bad = malloc(pl + 5);
    if (bad) {
        memcpy(bad, s->snap_path, pl), memcpy(bad + pl, ".bad", 5);
        rename(s->snap_path, bad);
    }
    nf_log(ctx, NF_LOG_WARN, "%s: %s; starting without stories (the file was moved to %s)",
           s->snap_path, why, bad ? bad : "nowhere");
    free(bad);
    story_forget_all(s);
    return 0;
}

/* ---- bootstrap --------------------------------------------------------------------------- */

static int story_bootstrap(struct story *s, struct nf_ctx *ctx, const char *path)
{
    size_t len;
    char *data = story_slurp(path, &len);
    if (!data) {
        nf_ctx_error(ctx, "idf_bootstrap %s: %s", path, strerror(errno));
        return -1;
    }
    uint64_t docs = 0;
    size_t lineno = 0;
    int rc = 0;
    for (char *line = data, *next; rc == 0 && line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        if (*line == '#' || *line == '\0')
            continue;
        char *tab = strchr(line, '\t');
        char *end = NULL;
        unsigned long long v = tab ? strtoull(tab + 1, &end, 10) : 0;
        if (!tab || end == tab + 1 || (*end && *end != '\r') || v > UINT32_MAX) {
            nf_ctx_error(ctx, "idf_bootstrap %s:%zu: expected WORD<TAB>COUNT", path, lineno);
            rc = -1;
            break;
        }
        *tab = '\0';
        if (strcmp(line, "docs") == 0) {
            docs += v;
            continue;
        }
        /* the word goes through the same folding as article text */
        s->ndt = 0;
        if (++s->stamp == 0) {
            memset(s->dstamp, 0, s->dmap_cap * sizeof(*s->dstamp));
            s->stamp = 1;
        }
        if (story_words(s, line, (size_t)(tab - line), 1.0f, false, 0) < 0) {
            rc = -1;
            nf_ctx_error(ctx, "out of memory");
            break;
        }
        if (s->ndt != 1)
            continue;
        if (story_df_reserve(s) < 0) {
            rc = -1;
            nf_ctx_error(ctx, "out of memory");
            break;
        }
        uint32_t *df = story_df_slot(&s->df, s->dt[0].h, true, NULL);
        *df = (uint32_t)(*df + v > UINT32_MAX ? UINT32_MAX : *df + v);
    }
    free(data);
    if (rc == 0 && docs == 0) {
        nf_ctx_error(ctx, "idf_bootstrap %s: no \"docs<TAB>N\" line", path);
        rc = -1;
    }
    s->docs += docs;
    return rc;
}

/* ---- plugin ------------------------------------------------------------------------------ */

static void story_forget_all(struct story *s)
{
    for (size_t i = 0; i < s->index.cap; i++)
        free(s->index.list[i].e);
    free(s->index.key), free(s->index.list);
    memset(&s->index, 0, sizeof(s->index));
    for (int g = 0; g < 2; g++) {
        free(s->ids[g].e);
        memset(&s->ids[g], 0, sizeof(s->ids[g]));
    }
    for (size_t i = 0; s->df.text && i < s->df.cap; i++)
        free(s->df.text[i]);
    memset(s->df.key, 0, s->df.cap * sizeof(*s->df.key));
    if (s->df.text)
        memset(s->df.text, 0, s->df.cap * sizeof(*s->df.text));
    s->df.n = 0;
    if (s->alive)
        memset(s->alive, 0, s->cap_items * sizeof(*s->alive));
    for (size_t i = 0; s->mem && i < s->cap_items; i++)
        story_mlist_free(s, (uint32_t)i, false), s->former[i].n = 0;
    s->nitems = s->nfree = s->live = 0;
    s->docs = s->seq = 0;
}

static void story_destroy(void *state)
{
    struct story *s = state;
    if (!s)
        return;
    nfu_bgsave_free(&s->save);
    nf_buf_free(&s->snap_stage);
    XXH3_freeState(s->snap_hash);
    free(s->snap_path);
    free(s->log_path);
    nf_buf_free(&s->log_buf);
    nf_record_destroy(&s->log_rec);
    free(s->stop_set);
    for (size_t i = 0; s->df.text && i < s->df.cap; i++)
        free(s->df.text[i]);
    free(s->df.key), free(s->df.df), free(s->df.text);
    free(s->items), free(s->terms), free(s->ents), free(s->free_slots), free(s->order);
    for (size_t i = 0; i < s->index.cap; i++)
        free(s->index.list[i].e);
    free(s->index.key), free(s->index.list);
    free(s->ids[0].e), free(s->ids[1].e);
    free(s->dt), free(s->dmap), free(s->dstamp), free(s->acc), free(s->touched);
    free(s->alive);
    for (size_t i = 0; s->mem && i < s->cap_items; i++)
        free(s->mem[i].m);
    free(s->mem);
    for (size_t i = 0; s->former && i < s->cap_items; i++)
        free(s->former[i].v);
    free(s->former);
    free(s->moves), free(s->split_work);
    free(s->cps), free(s->merge), free(s->topw);
    nf_amend_free(&s->amend);
    free(s);
}

/* At a stop: the snapshot being written is waited for, then the state is written once more if
 * it changed since. If that fails, the log keeps what it lacks. */
static void story_destroy_saving(void *state)
{
    struct story *s = state;
    if (s)
        story_snapshot_joined(s, s->ctx, true);
    if (s && s->dirty) {
        char why[512];
        if (story_snapshot(s, true, why, sizeof(why)) < 0) {
            nf_log(s->ctx, NF_LOG_ERROR, "snapshot on shutdown failed: %s", why);
            if (story_log_append(s, why, sizeof(why)) < 0)
                nf_log(s->ctx, NF_LOG_ERROR, "%s", why);
        }
    }
    story_destroy(s);
}

static int story_log_replay(struct story *s, struct nf_ctx *ctx);

static int story_init(struct nf_ctx *ctx, const void *vconf, void **state_out)
{
    const struct story_conf *c = vconf;
    if (nf_ctx_workers(ctx) > 1) {
        nf_ctx_error(ctx, "stories are kept in one worker's memory: run this stage with "
                          "workers = 1 (it has %d)", nf_ctx_workers(ctx));
        return NF_ERR;
    }
    /* the options' ranges are in the table: the core refused what is outside them */
    struct story *s = calloc(1, sizeof(*s));
    if (!s)
        goto nomem;
    s->conf = c;
    s->ctx = ctx;
    s->name_count = 1;
    story_classes();
    const char *dir = nf_ctx_state_dir(ctx);
    size_t dl = strlen(dir);
    s->snap_path = malloc(dl + sizeof(STORY_SNAPSHOT) + 1);
    if (!s->snap_path)
        goto nomem;
    memcpy(s->snap_path, dir, dl);
    s->snap_path[dl] = '/';
    memcpy(s->snap_path + dl + 1, STORY_SNAPSHOT, sizeof(STORY_SNAPSHOT));
    size_t nstop = sizeof(story_stopwords) / sizeof(*story_stopwords);
    s->stop_set_cap = (uint32_t)story_pow2(nstop * 2);
    s->stop_set = calloc(s->stop_set_cap, sizeof(*s->stop_set));
    s->df.cap = 1 << 14;
    s->df.key = calloc(s->df.cap, sizeof(*s->df.key));
    s->df.df = calloc(s->df.cap, sizeof(*s->df.df));
    if (c->idf_export[0])
        s->df.text = calloc(s->df.cap, sizeof(*s->df.text));
    if (!s->stop_set || !s->df.key || !s->df.df || (c->idf_export[0] && !s->df.text))
        goto nomem;
    for (size_t i = 0; i < nstop; i++) {
        uint64_t h = story_hash(story_stopwords[i], strlen(story_stopwords[i]), 0);
        size_t k = (size_t)h & (s->stop_set_cap - 1);
        while (s->stop_set[k] && s->stop_set[k] != h)
            k = (k + 1) & (s->stop_set_cap - 1);
        s->stop_set[k] = h;
    }
    if (story_dt_grow(s) < 0)
        goto nomem;
    s->log_path = malloc(dl + sizeof(STORY_LOG) + 1);
    s->log_rec = nf_record_new();
    if (!s->log_path || !s->log_rec)
        goto nomem;
    memcpy(s->log_path, dir, dl);
    s->log_path[dl] = '/';
    memcpy(s->log_path + dl + 1, STORY_LOG, sizeof(STORY_LOG));
    if (story_restore(s, ctx) < 0)
        goto fail;
    /* a warm start already holds the bootstrap's counts */
    if (c->idf_bootstrap[0] && s->docs == 0 && story_bootstrap(s, ctx, c->idf_bootstrap) < 0)
        goto fail;
    if (story_log_replay(s, ctx) < 0)
        goto fail;
    s->last_snapshot_ms = nf_now_ms();
    *state_out = s;
    return NF_OK;
nomem:
    nf_ctx_error(ctx, "out of memory");
fail:
    story_destroy(s);
    return NF_ERR;
}

/* Keeps what judging the record again needs, for the log: its id and read order, and the id of
 * the article whose story it joins as a copy (`from`), else what its vector is made of and the
 * story it joined (`joined`, its name then; NULL: it began one). The log replays decisions: what
 * was sent on must stay as it was, whatever a replay would score (it scores all the same, for the
 * centroid lengths scoring caches). */
static int story_log_add(struct story *s, struct nf_record *rec, int64_t order, const char *from,
                         const char *joined)
{
    if (s->replaying || !s->log_path)
        return 0;
    struct nf_record *l = s->log_rec;
    nf_record_reset(l);
    size_t n;
    const char *v = nf_record_str(rec, NF_F_ID, &n);
    int bad = nf_record_set_str(l, NF_F_ID, v, n) | nf_record_set_int(l, NF_F_READ_ORDER, order);
    if (from) {
        bad |= nf_record_set_cstr(l, NF_F_DUP_OF, from);
    } else {
        static const enum nf_field keep[] = {NF_F_TITLE, NF_F_TEXT, NF_F_PUBLISHED_AT,
                                             NF_F_FETCHED_AT}; /* fetched: year_cap */
        for (size_t i = 0; i < sizeof(keep) / sizeof(*keep); i++)
            if ((v = nf_record_str(rec, keep[i], &n)))
                bad |= nf_record_set_str(l, keep[i], v, n);
        size_t ne = nf_record_entity_count(rec);
        for (size_t i = 0; i < ne; i++) {
            const struct nf_entity *e = nf_record_entity(rec, i);
            if (e)
                bad |= nf_record_add_entity(l, e->type, e->name, e->mentions);
        }
        if (joined)
            bad |= nf_record_set_cstr(l, NF_F_STORY_ID, joined);
    }
    size_t at = s->log_buf.len;
    uint32_t len = 0;
    if (bad || nf_buf_append(&s->log_buf, &len, 4) < 0 || nf_record_encode(l, &s->log_buf) < 0) {
        s->log_buf.len = at;
        return -1;
    }
    len = (uint32_t)(s->log_buf.len - at - 4);
    memcpy(s->log_buf.data + at, &len, 4);
    return 0;
}

static int story_log_write(void *arg, int fd, uint64_t size)
{
    (void)size; /* the entries need no header */
    const struct story *s = arg;
    return nfu_write_all(fd, s->log_buf.data, s->log_buf.len);
}

/* Appends the log's new entries, whole or not at all (nfu_append: one that fails is appended
 * again at the next flush). No fsync: the log is for a crash of this process, which the page
 * cache survives. */
static int story_log_append(struct story *s, char *why, size_t whyn)
{
    if (!s->log_path || !s->log_buf.len)
        return 0;
    if (nfu_append(s->log_path, story_log_write, s, why, whyn) < 0)
        return -1;
    s->log_buf.len = 0;
    return 0;
}

static int story_process(void *state, struct nf_ctx *ctx, struct nf_record *rec);

/* Judges the records of one log file again. A last entry cut short by a crash is left out; an
 * entry that cannot be read ends the replay: the file is moved aside (to PATH.bad) and 1 is
 * returned. 0 when read to its end (or absent), -1 when it cannot be read. *n counts the records
 * judged, *found whether the file held anything. */
static int story_log_replay_file(struct story *s, struct nf_ctx *ctx, const char *path,
                                 size_t *n, bool *found)
{
    size_t len = 0, before = *n;
    char *data = story_slurp(path, &len);
    if (!data) {
        if (errno == ENOENT)
            return 0;
        nf_ctx_error(ctx, "%s: %s", path, strerror(errno));
        return -1;
    }
    *found |= len > 0;
    struct nf_record *r = nf_record_new();
    size_t off = 0;
    int rc = r ? 0 : -1;
    s->replaying = true;
    while (rc == 0 && len - off >= 4) {
        uint32_t el;
        memcpy(&el, data + off, 4);
        if (el > len - off - 4)
            break;
        if (nf_record_decode(r, data + off + 4, el) == 0 && story_process(s, ctx, r) == NF_OK)
            (*n)++;
        else
            rc = -1;
        off += 4 + (size_t)el;
    }
    s->replaying = false;
    nf_record_destroy(&r);
    free(data);
    if (rc == 0)
        return 0;
    char bad[4300];
    snprintf(bad, sizeof(bad), "%s.bad", path);
    rename(path, bad);
    nf_log(ctx, NF_LOG_WARN, "%s: entry %zu cannot be judged again; the %zu before it were "
                             "(the log was moved to %s)", path, *n - before + 1, *n - before, bad);
    return 1;
}

/* Judges again the records of the log generations the snapshot does not hold, in order, then of
 * story.log, as they were judged before a crash; drops the generations it holds; then writes a
 * snapshot, which holds them all. After an entry that cannot be read nothing more is judged
 * (as after a damaged snapshot: losing what came after is better than not running); the files
 * after it are moved aside too. */
struct story_replay {
    struct story *s;
    struct nf_ctx *ctx;
    size_t n;     /* records judged again */
    bool found;   /* a log held anything */
    bool stopped; /* after a damaged entry */
    bool failed;  /* a log could not be read (said through nf_ctx_error) */
};

static int story_log_replay_one(void *arg, const char *path)
{
    struct story_replay *r = arg;
    if (r->stopped) {
        char bad[4300];
        snprintf(bad, sizeof(bad), "%s.bad", path);
        if (rename(path, bad) == 0)
            nf_log(r->ctx, NF_LOG_WARN, "%s: not judged again, after a damaged log (moved to %s)",
                   path, bad);
        return 0;
    }
    int rc = story_log_replay_file(r->s, r->ctx, path, &r->n, &r->found);
    r->stopped = rc == 1;
    r->failed = rc < 0;
    return rc < 0 ? -1 : 0;
}

static int story_log_replay(struct story *s, struct nf_ctx *ctx)
{
    uint64_t held = s->log_gen;
    struct story_replay r = {.s = s, .ctx = ctx};
    if (nfu_genlog_replay(s->log_path, held, &s->log_gen, story_log_replay_one, &r) < 0) {
        if (!r.failed)
            nf_ctx_error(ctx, "cannot read the logs beside %s: %s", s->log_path,
                         strerror(errno));
        return -1;
    }
    nfu_bgsave_init(&s->save, s->snap_path, s->log_path, held);
    char why[512];
    if (r.found && story_snapshot(s, true, why, sizeof(why)) < 0) {
        nf_ctx_error(ctx, "%s", why);
        return -1;
    }
    if (r.n)
        nf_log(ctx, NF_LOG_INFO, "judged again %zu records from %s", r.n, s->log_path);
    return 0;
}

/* The article read at `order` is a member of the story at `slot`: a story is named by its member
 * read first, so one read before the others renames it, and the record carries the rename. */
static int story_name(struct story *s, uint32_t slot, const uint64_t key[2], int64_t order)
{
    struct story_item *it = &s->items[slot];
    if (order >= it->order)
        return 0;
    char from[33], to[33];
    story_hex(it->id, from);
    story_id_hex(key, to);
    if (story_former_add(s, slot, it->id) < 0)
        return -1;
    memcpy(it->id, &key[0], 8), memcpy(it->id + 8, &key[1], 8);
    story_former_drop(s, slot, it->id);
    it->order = order;
    if (!s->replaying)
        nf_ctx_count(s->ctx, "story_renamed", 1);
    return nf_amend_add(&s->amend, NF_AMEND_STORY_ID, from, to);
}

/* Whether a live story is named `name` now: the story its article is in, if that story is
 * named after it. A name can be given again: a story merged into another and split from it
 * later is named after its member read first once more. */
static bool story_name_live(struct story *s, const uint8_t name[16])
{
    uint64_t k[2];
    memcpy(&k[0], name, 8), memcpy(&k[1], name + 8, 8);
    const struct story_idpair *p = story_live_at(s, k);
    return p && memcmp(s->items[p->slot].id, name, 16) == 0;
}

/* The renames of the story at p, for a member sent again: from each earlier name to the
 * current one, but for a name that another story has now (its members would follow). */
static int story_renames_again(struct story *s, const struct story_idpair *p)
{
    const struct story_item *it = p->slot < s->nitems ? &s->items[p->slot] : NULL;
    if (!it || !it->live || it->serial != p->serial || !s->former[p->slot].n)
        return 0;
    const struct story_names *f = &s->former[p->slot];
    char to[33], from[33];
    story_hex(it->id, to);
    for (uint32_t i = 0; i < f->n; i++) {
        if (story_name_live(s, f->v[i]))
            continue;
        story_hex(f->v[i], from);
        if (nf_amend_add(&s->amend, NF_AMEND_STORY_ID, from, to) < 0)
            return -1;
    }
    return 0;
}

/* The live story an article is in, by the article's id; NULL when unknown or gone. */
static const struct story_idpair *story_live_of(struct story *s, const char *id, size_t n)
{
    uint64_t k[2];
    story_id_bits(id, n, k);
    return story_live_at(s, k);
}

struct story_former {
    struct story *s;
    const char *id;
    const struct story_idpair *found;
    char found_id[33];
};

/* An article dedup now counts a copy of this record (it arrived first, as an original). */
static int story_former_copy(void *arg, enum nf_amend_kind kind, const char *key, const char *val)
{
    struct story_former *f = arg;
    if (kind == NF_AMEND_DUP_OF && val && !f->found && strcmp(val, f->id) == 0 &&
        (f->found = story_live_of(f->s, key, 32)))
        snprintf(f->found_id, sizeof(f->found_id), "%s", key);
    return 0;
}

/* Sets the record's story_id to the story at p and puts the renames it carries in "amend". */
static int story_finish(struct story *s, struct nf_ctx *ctx, struct nf_record *rec,
                        const struct story_idpair *p)
{
    uint64_t sid[2];
    char hex[33];
    story_of(s, story_follow(s, p), sid);
    story_id_hex(sid, hex);
    const char *why = "out of memory";
    if (nf_record_set_cstr(rec, NF_F_STORY_ID, hex) < 0 ||
        nf_amend_apply(&s->amend, rec, &why) < 0) {
        s->amend.n = 0;
        nf_ctx_error(ctx, "cannot set the story: %s", why);
        return NF_ERR;
    }
    return NF_OK;
}

/* Joins a copy (or an original whose copies arrived first) to the story at `from`, without its
 * words: a copy adds none. */
static int story_join_copy(struct story *s, struct nf_ctx *ctx, struct nf_record *rec,
                           const uint64_t key[2], int64_t order, const struct story_idpair *from,
                           const char *from_id)
{
    if (story_log_add(s, rec, order, from_id, NULL) < 0)
        goto nomem;
    struct story_idpair v = *from;
    if (story_ids_put(s, key, &v) < 0)
        goto nomem;
    struct story_item *it = v.slot < s->nitems ? &s->items[v.slot] : NULL;
    if (it && it->live && it->serial == v.serial) {
        it->members++;
        it->last_seq = ++s->seq; /* a copy keeps its story recent, adds no words */
        if (story_name(s, v.slot, key, order) < 0)
            goto nomem;
        uint64_t of[2];
        story_id_bits(from_id, strlen(from_id), of);
        if (story_member_add(s, v.slot, key, of, order, NAN, NULL, 0, false) < 0)
            goto nomem;
    }
    s->dirty = true;
    if (!s->replaying)
        nf_ctx_count(ctx, "story_copy", 1);
    return story_finish(s, ctx, rec, &v);
nomem:
    nf_ctx_error(ctx, "out of memory");
    return NF_ERR;
}

static int story_process(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    struct story *s = state;
    size_t idn;
    const char *id = nf_record_str(rec, NF_F_ID, &idn);
    if (!id || !idn) {
        nf_ctx_error(ctx, "record has no id");
        return NF_ERR;
    }
    uint64_t key[2];
    story_id_bits(id, idn, key);
    s->amend.n = 0;
    const struct story_idpair *seen = story_ids_find(s, key);
    if (seen) {
        /* a replay: the same story as the first time (under its latest name), and nothing
         * counted twice; the renames of its story go with it again */
        if (!s->replaying)
            nf_ctx_count(ctx, "story_replayed", 1);
        seen = story_follow(s, seen);
        if (story_renames_again(s, seen) < 0 || story_moves_again(s, key) < 0)
            goto nomem;
        return story_finish(s, ctx, rec, seen);
    }
    int64_t order;
    if (nf_record_int(rec, NF_F_READ_ORDER, &order) < 0)
        order = STORY_UNORDERED + (int64_t)s->seq;
    double t = story_days(nf_record_str(rec, NF_F_PUBLISHED_AT, NULL));
    size_t dn;
    const char *dup = nf_record_str(rec, NF_F_DUP_OF, &dn);
    const struct story_idpair *from = NULL;
    struct story_former f = {s, id, NULL, ""};
    if (dup && dn) {
        uint64_t dk[2];
        story_id_bits(dup, dn, dk);
        from = story_ids_find(s, dk);
        if (from)
            from = story_follow(s, from);
    } else if (nf_amend_has(rec)) {
        /* an original read before copies of it that arrived first: their story */
        const char *why;
        if (idn == 32 && nf_amend_each(rec, story_former_copy, &f, &why) == 0)
            from = f.found;
    }
    if (from)
        return story_join_copy(s, ctx, rec, key, order, from, dup && dn ? dup : f.found_id);
    long nt = story_vector(s, rec);
    if (nt < 0)
        goto nomem;
    struct story_ent re[STORY_MAX_ENTS];
    size_t nre = story_rec_ents(s, rec, re);
    /* entities count as documents' terms too, so that common ones weigh little */
    for (size_t i = 0; i < nre; i++) {
        if (story_df_reserve(s) < 0)
            goto nomem;
        (*story_df_slot(&s->df, re[i].h, true, NULL))++;
    }
    long slot = -1;
    double score = 0;
    s->second = -1;
    if (s->replaying) {
        /* the log's decision: the story it joined then (by the name it had), or a new one;
         * scored again all the same, for what scoring leaves behind (the centroid lengths it
         * caches), so that the state after the log is the one the crashed worker had */
        if (nt > 0 && story_best(s, ctx, t, re, nre, &score) == -2)
            goto nomem;
        size_t jn;
        const char *joined = nf_record_str(rec, NF_F_STORY_ID, &jn);
        const struct story_idpair *p = joined ? story_live_of(s, joined, jn) : NULL;
        slot = p ? (long)p->slot : -1;
    } else if (nt > 0) {
        slot = story_best(s, ctx, t, re, nre, &score);
    }
    if (slot == -2)
        goto nomem;
    char joined_id[33];
    if (slot >= 0)
        story_hex(s->items[slot].id, joined_id);
    if (story_log_add(s, rec, order, NULL, slot >= 0 ? joined_id : NULL) < 0)
        goto nomem;
    struct story_idpair v = {0};
    nf_log(ctx, NF_LOG_DEBUG, "%s: %zu terms, %zu entities, best similarity %.3f (threshold %.3f)",
           id, (size_t)nt, nre, score, s->conf->threshold);
    bool joined = slot >= 0;
    if (slot >= 0) {
        if (!s->replaying)
            nf_ctx_count(ctx, "story_joined", 1);
        if (story_name(s, (uint32_t)slot, key, order) < 0)
            goto nomem;
    } else {
        slot = story_slot_new(s);
        if (slot < 0)
            goto nomem;
        struct story_item *it = &s->items[slot];
        uint32_t serial = it->serial;
        *it = (struct story_item){
            .serial = serial, .live = true, .tmin = NAN, .tmax = NAN, .order = order};
        s->alive[slot] = 0; /* indexed when its terms are known */
        memcpy(it->id, key, 16);
        if (!s->replaying)
            nf_ctx_count(ctx, "story_new", 1);
    }
    struct story_item *it = &s->items[slot];
    if (nt > 0 && story_absorb(s, (uint32_t)slot, t, re, nre) < 0)
        goto nomem;
    if (nt == 0)
        it->members++, it->last_seq = ++s->seq;
    if (story_member_add(s, (uint32_t)slot, key, NULL, order, t, re, nre, nt > 0) < 0)
        goto nomem;
    if (joined && (slot = story_merge_next(s, ctx, (uint32_t)slot)) < 0)
        goto nomem;
    if (joined && (slot = story_split(s, ctx, (uint32_t)slot, key)) < 0)
        goto nomem;
    it = &s->items[slot];
    memcpy(&v.s0, it->id, 8), memcpy(&v.s1, it->id + 8, 8);
    v.slot = (uint32_t)slot, v.serial = it->serial;
    if (story_ids_put(s, key, &v) < 0)
        goto nomem;
    s->dirty = true;
    return story_finish(s, ctx, rec, &v);
nomem:
    nf_ctx_error(ctx, "out of memory");
    return NF_ERR;
}

static int story_flush(void *state, struct nf_ctx *ctx)
{
    struct story *s = state;
    story_snapshot_joined(s, ctx, false);
    int64_t now = nf_now_ms();
    char why[512];
    if (s->dirty && !nfu_bgsave_running(&s->save) &&
        now - s->last_snapshot_ms >= s->conf->snapshot_s * 1000) {
        s->last_snapshot_ms = now;
        if (story_snapshot(s, false, why, sizeof(why)) == 0)
            return NF_OK;
        nf_log(ctx, NF_LOG_WARN, "snapshot: %s; the log keeps what it lacks", why);
    }
    /* what is sent on from here is in the log at least */
    if (story_log_append(s, why, sizeof(why)) < 0) {
        nf_ctx_error(ctx, "%s", why);
        return NF_ERR;
    }
    return NF_OK;
}

NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI,
    .size = sizeof(struct nf_plugin),
    .name = "story",
    .description = "Groups articles that tell the same story (story_id)",
    .kind = NF_PLUGIN_FILTER,
    .options = story_options,
    .conf_size = sizeof(struct story_conf),
    .init = story_init,
    .process = story_process,
    .flush = story_flush,
    .destroy = story_destroy_saving,
};
