/* story through its descriptor against the mock core: the seed articles after clean_text and
 * extract_meta (one story told three times, two others), replays, copies, the time window,
 * warm restarts from the snapshot, a damaged snapshot, eviction, the IDF bootstrap file and bad
 * input. Two more modes drive it over a JSON-lines corpus:
 *   test_story --eval CORPUS.jsonl EXPORT.jsonl [shuffle=SEED] [OPTION=VALUE...]
 *       clean_text, extract_meta and story over {id, title, text, date} lines; writes
 *       {source: {uri: "...#ID"}, story_id} lines for shared/tools/score_clusters.py.
 *       Faults, to compare the export with a run without them (same order, same options):
 *       copies=K sends after every K articles a copy of one of the 40 before (dup_of set, read
 *       orders given; a line's own "dup_of" names the id of the article it copies); flush=F
 *       flushes every F records; crash=N kills the plugin every N records (state files as a
 *       kill leaves them): what it judged since its last flush comes again at once, and with
 *       back=B the store loses the commits of the B flushed before, which come again late=L
 *       records later; storecrash=N loses those B commits alone. The export keeps only what a
 *       store would have: the lines of lost records are dropped.
 *   test_story --bench CORPUS.jsonl[.gz] N [OPTION=VALUE...]
 *       times story's process() alone on N articles prepared beforehand, and apart from it the
 *       flushes that end a batch every 200 articles (log appends, snapshots). */
#include <fcntl.h>
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <xxhash.h>
#include <jansson.h>
#include <zlib.h>

#include "mock_core.h"
/* the renames story sends the stores (compiled in, as into the plugin) */
#include "../../plugins/dedup/amend.c"
#include "newsflow/record.h"

#define GAZETTEER "gazetteer=" NF_SOURCE_DIR "/conf/gazetteer.tsv"

static const char *const seeds[] = {
    "000_a8143c3ee1feb549.txt", "001_d9239e9adab5d809.txt", "002_59196a0494ad5481.txt",
    "003_d827aa3b829ea74b.txt", "004_09dc9a8d14128b2c.txt",
};


static char snap_path[512];

/* mock_roundtrip decodes from one static buffer: these tests keep several records alive, so
 * each hop decodes from a buffer of its own, freed after the test. */
static struct nf_buf *hops;
static size_t nhops, hops_cap;

static int hop(struct nf_record *rec)
{
    struct nf_buf out = {0};
    if (nhops == hops_cap) {
        size_t c = hops_cap ? hops_cap * 2 : 64;
        struct nf_buf *p = realloc(hops, c * sizeof(*p));
        if (!p)
            return -1;
        hops = p, hops_cap = c;
    }
    if (nf_record_encode(rec, &out) < 0)
        return -1;
    hops[nhops++] = out;
    return nf_record_decode(rec, out.data, out.len);
}

static void hops_free(void)
{
    while (nhops)
        nf_buf_free(&hops[--nhops]);
    free(hops);
    hops = NULL, hops_cap = 0;
}

static void remove_snapshot(void)
{
    snprintf(snap_path, sizeof(snap_path), "%s/story.snap", mock_state_dir());
    unlink(snap_path);
    char bad[600];
    snprintf(bad, sizeof(bad), "%s.bad", snap_path);
    unlink(bad);
    snprintf(bad, sizeof(bad), "%s/story.log", mock_state_dir());
    unlink(bad);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -f '%s'/story.log.*", mock_state_dir());
    assert_int_equal(system(cmd), 0);
}

/* How many log generations (story.log.<g>) are in the state directory. */
static size_t log_generations(void)
{
    char pattern[600];
    snprintf(pattern, sizeof(pattern), "%s/story.log.[0-9]*", mock_state_dir());
    glob_t g;
    size_t n = glob(pattern, 0, NULL, &g) == 0 ? g.gl_pathc : 0;
    globfree(&g);
    return n;
}

/* Waits (up to 10 s) for a file that a thread is writing. */
static bool appears(const char *path)
{
    for (int i = 0; i < 1000; i++) {
        if (access(path, F_OK) == 0)
            return true;
        usleep(10000);
    }
    return false;
}

struct front {
    struct mock_plugin *clean, *meta;
};

static struct front front;

/* A record as fetch would make it from raw bytes, through clean_text and extract_meta. */
static struct nf_record *prepared(const char *id_seed, const char *raw, size_t n)
{
    struct nf_record *rec = nf_record_new();
    assert_non_null(rec);
    char id[33];
    nf_id_make(id_seed, strlen(id_seed), id);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_ID, id), 0);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_CONTENT_TYPE, "text/plain"), 0);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_FETCHED_AT, "2026-11-25T12:00:00Z"), 0);
    assert_int_equal(nf_record_set_bytes(rec, NF_F_RAW, raw, n), 0);
    assert_int_equal(mock_process(front.clean, rec), NF_OK);
    assert_int_equal(hop(rec), 0);
    assert_int_equal(mock_process(front.meta, rec), NF_OK);
    assert_int_equal(hop(rec), 0);
    return rec;
}

static struct nf_record *seed(int i)
{
    char path[512];
    size_t n;
    snprintf(path, sizeof(path), "%s/conf/sample/%s", NF_SOURCE_DIR, seeds[i]);
    char *raw = mock_slurp(path, &n);
    assert_non_null(raw);
    struct nf_record *rec = prepared(seeds[i], raw, n);
    free(raw);
    return rec;
}

/* A record with text (and a date) only, as if extract_meta found nothing. */
static struct nf_record *plain(const char *id_seed, const char *text, const char *date)
{
    struct nf_record *rec = nf_record_new();
    assert_non_null(rec);
    char id[33];
    nf_id_make(id_seed, strlen(id_seed), id);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_ID, id), 0);
    if (text)
        assert_int_equal(nf_record_set_cstr(rec, NF_F_TEXT, text), 0);
    if (date)
        assert_int_equal(nf_record_set_cstr(rec, NF_F_PUBLISHED_AT, date), 0);
    return rec;
}

/* Runs rec through the plugin and a hop; returns its story id (static buffer per call slot). */
static const char *story_of(struct mock_plugin *mp, struct nf_record *rec)
{
    static char out[8][33];
    static int k;
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(hop(rec), 0);
    const char *s = nf_record_str(rec, NF_F_STORY_ID, NULL);
    assert_non_null(s);
    assert_int_equal(strlen(s), 32);
    k = (k + 1) % 8;
    snprintf(out[k], sizeof(out[k]), "%s", s);
    return out[k];
}

static const char *id_of(struct nf_record *rec)
{
    return nf_record_str(rec, NF_F_ID, NULL);
}

static int setup(void **state)
{
    (void)state;
    const char *const opts[] = {GAZETTEER, NULL};
    front.clean = mock_plugin_new("clean_text", NULL);
    front.meta = mock_plugin_new("extract_meta", opts);
    return front.clean && front.meta ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    mock_plugin_destroy(&front.clean);
    mock_plugin_destroy(&front.meta);
    remove_snapshot();
    rmdir(mock_state_dir());
    return 0;
}

static int fresh(void **state)
{
    (void)state;
    remove_snapshot();
    mock_set_worker(0, 1);
    return 0;
}

static int done(void **state)
{
    (void)state;
    hops_free();
    return 0;
}

static struct mock_plugin *story_new(const char *const *opts)
{
    struct mock_plugin *mp = mock_plugin_new("story", opts);
    assert_non_null(mp);
    return mp;
}

/* 000, 001 and 002 (a translation, other spellings) are one story; 003 and 004 are others. */
static void test_seed_stories(void **state)
{
    (void)state;
    struct mock_plugin *mp = story_new(NULL);
    struct nf_record *r[5];
    const char *sid[5];
    for (int i = 0; i < 5; i++) {
        r[i] = seed(i);
        sid[i] = story_of(mp, r[i]);
    }
    assert_string_equal(sid[0], id_of(r[0])); /* a story is named after its first article */
    assert_string_equal(sid[1], sid[0]);
    assert_string_equal(sid[2], sid[0]);
    assert_string_equal(sid[3], id_of(r[3]));
    assert_string_equal(sid[4], id_of(r[4]));
    assert_string_not_equal(sid[3], sid[4]);
    assert_int_equal(mock_counter("story_new"), 3);
    for (int i = 0; i < 5; i++)
        nf_record_destroy(&r[i]);
    mock_plugin_destroy(&mp);
}

/* The same article again (a replay after a crash) gets the same story and counts nothing. */
static void test_replay(void **state)
{
    (void)state;
    struct mock_plugin *mp = story_new(NULL);
    struct nf_record *a = seed(0), *b = seed(3);
    const char *sa = story_of(mp, a), *sb = story_of(mp, b);
    int64_t joined = mock_counter("story_joined"), created = mock_counter("story_new");
    nf_record_unset(b, NF_F_STORY_ID);
    assert_string_equal(story_of(mp, b), sb);
    nf_record_unset(a, NF_F_STORY_ID);
    assert_string_equal(story_of(mp, a), sa);
    assert_int_equal(mock_counter("story_joined"), joined);
    assert_int_equal(mock_counter("story_new"), created);
    nf_record_destroy(&a);
    nf_record_destroy(&b);
    mock_plugin_destroy(&mp);
}

/* A copy joins its original's story whatever its text says. */
static void test_copy(void **state)
{
    (void)state;
    struct mock_plugin *mp = story_new(NULL);
    struct nf_record *orig = seed(3);
    const char *so = story_of(mp, orig);
    struct nf_record *copy = plain("copy", "Completely different words about football scores "
                                   "and a cup final in the rain.", NULL);
    assert_int_equal(nf_record_set_cstr(copy, NF_F_DUP_OF, id_of(orig)), 0);
    assert_string_equal(story_of(mp, copy), so);
    /* a copy of an article never seen is clustered on its own words */
    struct nf_record *stray = plain("stray", "Completely different words about football "
                                    "scores and a cup final in the rain.", NULL);
    assert_int_equal(nf_record_set_cstr(stray, NF_F_DUP_OF, "0123456789abcdef0123456789abcdef"), 0);
    assert_string_equal(story_of(mp, stray), id_of(stray));
    nf_record_destroy(&orig);
    nf_record_destroy(&copy);
    nf_record_destroy(&stray);
    mock_plugin_destroy(&mp);
}

static const char storm[] =
    "Hurricane Zelda made landfall near Port Arthur on Tuesday with winds of 120 miles an hour, "
    "flooding coastal towns and cutting power to half a million homes. Evacuation orders covered "
    "Jefferson and Orange counties, and shelters in Beaumont filled overnight. The governor "
    "declared a disaster area and asked for federal aid as the storm moved inland.";
static const char storm2[] =
    "Hurricane Zelda struck the coast near Port Arthur with 120 mph winds, flooding towns and "
    "leaving half a million homes without power. Shelters in Beaumont were full after evacuation "
    "orders for Jefferson and Orange counties; the governor declared a disaster and sought "
    "federal aid while the storm pushed inland.";

/* Articles far apart in time are not one story, however alike; close ones are. */
/* ---- read order against arrival order --------------------------------------------------- */

/* What a store holds: the story of each article, after each record's own story and the renames
 * it carries. */
struct held {
    char id[16][33], story[16][33];
    int n;
};

/* A correction applied to n rows (article ids and their stories): a rename moves every row of
 * the story `key`, a move the row of article `key`. */
static void rows_amend(char (*id)[33], char (*story)[33], size_t n, enum nf_amend_kind kind,
                       const char *key, const char *val)
{
    for (size_t i = 0; i < n; i++)
        if ((kind == NF_AMEND_STORY_ID && strcmp(story[i], key) == 0) ||
            (kind == NF_AMEND_STORY_OF && strcmp(id[i], key) == 0))
            snprintf(story[i], 33, "%s", val);
}

static int held_rename(void *arg, enum nf_amend_kind kind, const char *key, const char *val)
{
    struct held *h = arg;
    rows_amend(h->id, h->story, (size_t)h->n, kind, key, val);
    return 0;
}

/* The store's row of article id: its story, no correction applied. */
static void held_set(struct held *h, const char *id, const char *story)
{
    int i = 0;
    while (i < h->n && strcmp(h->id[i], id) != 0)
        i++;
    if (i == h->n)
        snprintf(h->id[h->n++], 33, "%s", id);
    snprintf(h->story[i], 33, "%s", story);
}

static void held_store(struct held *h, struct nf_record *rec, const char *story)
{
    held_set(h, id_of(rec), story);
    const char *why;
    assert_int_equal(nf_amend_each(rec, held_rename, h, &why), 0);
}

static const char *held_story(const struct held *h, const char *id)
{
    for (int i = 0; i < h->n; i++)
        if (strcmp(h->id[i], id) == 0)
            return h->story[i];
    fail_msg("no story for %s", id);
    return NULL;
}

/* The seeds read 0 to 4 arrive 1, 2, 0, 4, 3: the same stories (which an online clustering
 * does not promise for every order: 0 arriving last stays apart), each named after its article
 * read first once the renames the later records carry are applied. */
static void test_named_after_the_article_read_first(void **state)
{
    (void)state;
    struct held h[2] = {0};
    struct nf_record *r[5];
    for (int i = 0; i < 5; i++)
        r[i] = seed(i);
    for (int run = 0; run < 2; run++) {
        remove_snapshot();
        struct mock_plugin *mp = story_new(NULL);
        static const int late[] = {1, 2, 0, 4, 3};
        for (int k = 0; k < 5; k++) {
            int i = run ? late[k] : k;
            nf_record_unset(r[i], NF_F_STORY_ID);
            assert_int_equal(nf_record_set_int(r[i], NF_F_READ_ORDER, 1000 * (i + 1)), 0);
            const char *sid = story_of(mp, r[i]);
            held_store(&h[run], r[i], sid);
        }
        if (run) {
            /* a member sent again carries its story's renames again: a store that lost the
             * record that carried one (a crash before its commit) is put right */
            struct held lost = {0};
            held_store(&lost, r[1], id_of(r[1])); /* as stored before 0 renamed the story */
            nf_record_unset(r[2], NF_F_STORY_ID);
            held_store(&lost, r[2], story_of(mp, r[2]));
            assert_string_equal(held_story(&lost, id_of(r[1])), id_of(r[0]));
        }
        mock_plugin_destroy(&mp);
    }
    for (int i = 0; i < 5; i++) {
        const char *want = i < 3 ? id_of(r[0]) : id_of(r[i]);
        assert_string_equal(held_story(&h[0], id_of(r[i])), want);
        assert_string_equal(held_story(&h[1], id_of(r[i])), want);
    }
    for (int i = 0; i < 5; i++)
        nf_record_destroy(&r[i]);
}

static int held_count(void *arg, enum nf_amend_kind kind, const char *key, const char *val)
{
    (void)kind, (void)key, (void)val;
    ++*(size_t *)arg;
    return 0;
}

/* An original that arrives after a copy of it (dedup's correction says so) joins the copy's
 * story, and names it when it was read first. */
static void test_original_arriving_late_joins_its_copies(void **state)
{
    (void)state;
    struct mock_plugin *mp = story_new(NULL);
    struct nf_record *copy = seed(3);
    assert_int_equal(nf_record_set_int(copy, NF_F_READ_ORDER, 2000), 0);
    struct held h = {0};
    held_store(&h, copy, story_of(mp, copy));
    assert_string_equal(held_story(&h, id_of(copy)), id_of(copy));
    struct nf_record *orig = plain("original", "Completely different words about football "
                                   "scores and a cup final in the rain.", NULL);
    assert_int_equal(nf_record_set_int(orig, NF_F_READ_ORDER, 1000), 0);
    struct nf_amend am = {0};
    const char *why;
    assert_int_equal(nf_amend_add(&am, NF_AMEND_DUP_OF, id_of(copy), id_of(orig)), 0);
    assert_int_equal(nf_amend_apply(&am, orig, &why), 0);
    held_store(&h, orig, story_of(mp, orig));
    assert_string_equal(held_story(&h, id_of(orig)), id_of(orig));
    assert_string_equal(held_story(&h, id_of(copy)), id_of(orig));
    /* the record still carries dedup's correction, beside the rename */
    size_t fixes = 0;
    assert_int_equal(nf_amend_each(orig, held_count, &fixes, &why), 0);
    assert_int_equal(fixes, 2);
    nf_amend_free(&am);
    nf_record_destroy(&copy);
    nf_record_destroy(&orig);
    mock_plugin_destroy(&mp);
}

static void test_time_window(void **state)
{
    (void)state;
    const char *const opts[] = {"window_days=30", NULL};
    struct mock_plugin *mp = story_new(opts);
    struct nf_record *a = plain("storm-a", storm, "2021-08-01");
    struct nf_record *b = plain("storm-b", storm2, "2022-03-01");
    struct nf_record *c = plain("storm-c", storm2, "2021-08-03T10:00:00Z");
    const char *sa = story_of(mp, a);
    assert_string_equal(story_of(mp, b), id_of(b));
    assert_string_equal(story_of(mp, c), sa);
    /* without a date on one side, time says nothing */
    struct nf_record *d = plain("storm-d", storm2, NULL);
    const char *sd = story_of(mp, d);
    assert_true(strcmp(sd, sa) == 0 || strcmp(sd, id_of(b)) == 0);
    nf_record_destroy(&a);
    nf_record_destroy(&b);
    nf_record_destroy(&c);
    nf_record_destroy(&d);
    mock_plugin_destroy(&mp);
}

/* Reports on one template (each company's quarter) share their common words but no name: each
 * is its own story, while two tellings of one event that share its names join. Without the
 * anchor rule ('anchors=0') the template gathers them all. */
static void test_templates_need_anchors(void **state)
{
    (void)state;
    /* (names without a shared "Corp" or "Inc": in a stream this short those would be rare) */
    static const char *const companies[] = {
        "Vallen",   "Musicland", "Sigma",    "Baruch",    "Telxon",   "Graco",   "Mosely",
        "Tokheim",  "Skyline",   "Jepson",   "Brockway",  "Elcor",    "Ritzy",   "Fructose",
        "Laurentiis", "Timberline", "Manhattan", "Hecla", "Noranda",  "Gencorp",
    };
    for (int pass = 0; pass < 2; pass++) {
        const char *const off[] = {"anchors=0", NULL};
        struct mock_plugin *mp = story_new(pass ? off : NULL);
        size_t n = sizeof(companies) / sizeof(*companies);
        char first[33] = "";
        int joined = 0;
        for (size_t i = 0; i < n; i++) {
            char text[600], seedid[64];
            /* a template's abbreviation written now and then with a capital ("Oper") is
             * not a name that the template's story could keep as its anchor */
            snprintf(text, sizeof(text),
                     "%s said its third quarter net profit rose on higher sales, %s shr profit "
                     "cts vs cts, net profit mln dlrs vs mln dlrs, revenues mln dlrs vs mln dlrs. "
                     "The company said results for the quarter included a gain. %s said it "
                     "expects sales to rise in the fourth quarter.",
                     companies[i], i % 4 ? "oper" : "Oper", companies[i]);
            snprintf(seedid, sizeof(seedid), "template-%zu", i);
            struct nf_record *r = plain(seedid, text, NULL);
            const char *sid = story_of(mp, r);
            if (i == 0)
                snprintf(first, sizeof(first), "%s", sid);
            else
                joined += strcmp(sid, id_of(r)) != 0;
            nf_record_destroy(&r);
        }
        /* A cold stream (no idf_bootstrap) calls every word rare until it has been seen in 5
         * articles: the first few may still gather, none after that. */
        if (pass == 0)
            assert_true(joined <= 4);
        else
            assert_true(joined >= (int)n - 4); /* the rule is what keeps them apart */
        /* two tellings of one event share its rare names and still join */
        struct nf_record *a = plain("storm-a", storm, NULL), *b = plain("storm-b", storm2, NULL);
        const char *sa = story_of(mp, a);
        assert_string_equal(story_of(mp, b), sa);
        nf_record_destroy(&a);
        nf_record_destroy(&b);
        mock_plugin_destroy(&mp);
        remove_snapshot();
    }
}

/* A story that grows keeps its names as anchors: once more than 5 articles name Zelda and Port
 * Arthur they are no longer rare in the stream, but they are rare outside the story, so the
 * twentieth telling still joins (before, each telling after the fifth started a story of its
 * own unless it brought a rare word of its own). */
static void test_big_story_keeps_its_names(void **state)
{
    (void)state;
    static const char *const how[] = {
        "badly", "quickly", "slowly", "again", "suddenly", "widely", "deeply", "fully",
        "partly", "nearly", "mostly", "firmly", "gently", "largely", "openly", "sharply",
        "steadily", "surely", "barely", "roughly",
    };
    struct mock_plugin *mp = story_new(NULL);
    int64_t created = mock_counter("story_new");
    char first[33] = "";
    for (size_t i = 0; i < sizeof(how) / sizeof(*how); i++) {
        char text[600], seedid[64];
        snprintf(text, sizeof(text),
                 "Rescuers said on Tuesday that Hurricane Zelda had %s flooded the streets of "
                 "Beaumont and Port Arthur overnight. Crews from Orange County worked to restore "
                 "power while Zelda moved inland, and the shelters of Jefferson County filled.",
                 how[i]);
        snprintf(seedid, sizeof(seedid), "zelda-%zu", i);
        struct nf_record *r = plain(seedid, text, NULL);
        const char *sid = story_of(mp, r);
        if (i == 0)
            snprintf(first, sizeof(first), "%s", sid);
        else
            assert_string_equal(sid, first);
        nf_record_destroy(&r);
    }
    assert_int_equal(mock_counter("story_new"), created + 1);
    mock_plugin_destroy(&mp);
}

/* A long telling whose own words (found in no other article) outnumber the query's places still
 * finds its story through the words it shares: 40 words of its own, each written twice, and the
 * ten words of the event's first report. Looked up by weight alone, the words of its own (the
 * rarest, so the heaviest) took all 32 places and no story was even scored. */
static void test_own_words_do_not_hide_the_story(void **state)
{
    (void)state;
    static const char *const event =
        "the ferry capsized near the harbour pier, divers searched the murky channel and "
        "rescuers pulled survivors from the freezing water while coastguard launches circled";
    struct mock_plugin *mp = story_new(NULL);
    struct nf_record *a = plain("ferry-a", event, NULL);
    const char *sa = story_of(mp, a);
    char text[4096];
    size_t n = (size_t)snprintf(text, sizeof(text), "%s. ", event);
    for (int i = 0; i < 40; i++)
        for (int k = 0; k < 2; k++)
            n += (size_t)snprintf(text + n, sizeof(text) - n, "qu%c%cor ", 'a' + i / 8,
                                  'b' + i % 8);
    struct nf_record *b = plain("ferry-b", text, NULL);
    assert_string_equal(story_of(mp, b), sa);
    nf_record_destroy(&a);
    nf_record_destroy(&b);
    mock_plugin_destroy(&mp);
}

/* A story that grows keeps its words as anchors too, while they are not common in the stream: a
 * ferry's capsizing told twelve times without a name (all in lower case, as some feeds write),
 * in a stream of 300 other reports. Once more than 5 articles had its words, they were no longer
 * rare in the stream, and each telling after the sixth started a story of its own; they are rare
 * outside the story, and in far fewer than common_share of the articles. */
static void test_big_story_keeps_its_words(void **state)
{
    (void)state;
    static const char *const how[] = {"late", "early", "again", "twice", "first", "then",
                                      "soon", "still", "later", "once", "anew", "also"};
    struct mock_plugin *mp = story_new(NULL);
    char text[1024], seedid[64];
    for (int i = 0; i < 300; i++) {
        /* other reports: words of their own (letters only, so that none is a figure) */
        size_t n = 0;
        for (int k = 0; k < 12; k++)
            n += (size_t)snprintf(text + n, sizeof(text) - n, "v%c%c%c%c%co ",
                                  'a' + (i * 12 + k) / 6760 % 26, 'a' + (i * 12 + k) / 260 % 26,
                                  'a' + (i * 12 + k) / 10 % 26, 'a' + (i * 12 + k) % 10, 'a' + k);
        snprintf(seedid, sizeof(seedid), "filler-%d", i);
        struct nf_record *r = plain(seedid, text, NULL);
        story_of(mp, r);
        nf_record_destroy(&r);
    }
    char first[33] = "";
    for (size_t i = 0; i < sizeof(how) / sizeof(*how); i++) {
        snprintf(text, sizeof(text),
                 "the ferry capsized %s near the harbour pier, divers searched the murky channel "
                 "and rescuers pulled survivors from the freezing water while coastguard "
                 "launches circled the upturned hull.", how[i]);
        snprintf(seedid, sizeof(seedid), "ferry-%zu", i);
        struct nf_record *r = plain(seedid, text, NULL);
        const char *sid = story_of(mp, r);
        if (i == 0)
            snprintf(first, sizeof(first), "%s", sid);
        else
            assert_string_equal(sid, first);
        nf_record_destroy(&r);
    }
    mock_plugin_destroy(&mp);
}

/* Two events of one kind are told apart by their names (who): the arrest of one player, then of
 * another of the same team, told in the same first sentence. With name_weight=0 the words alone
 * gather the second arrest into the first's story. A name written only after a title's
 * abbreviation ("Sgt. Jackson": its period ends no sentence) is a name too: the third pass, whose
 * names are written so, tells the arrests apart (without story_titled it gathered them). */
static void test_names_tell_events_apart(void **state)
{
    (void)state;
    static const char *const names[2][2][2] = {
        {{"Vincent Jackson", "Jackson"}, {"Jamal Williams", "Williams"}},
        {{"Sgt. Vincent Jackson", "Sgt. Jackson"}, {"Sgt. Jamal Williams", "Sgt. Williams"}}};
    static const char *const more[][3] = {
        {"Officers stopped %s for speeding.", "%s failed a sobriety test.",
         "%s was on probation."},
        {"A blood sample from %s was taken.", "%s was released on bail.",
         "The league may suspend %s."},
    };
    for (int pass = 0; pass < 3; pass++) {
        const char *const off[] = {"name_weight=0", NULL};
        const char *const(*player)[2] = names[pass == 2];
        struct mock_plugin *mp = story_new(pass == 1 ? off : NULL);
        char sid[2][33];
        for (int p = 0; p < 2; p++)
            for (int i = 0; i < 3; i++) {
                char text[800], a[200], b[200], seedid[64];
                snprintf(a, sizeof(a), more[p][i], player[p][1]);
                snprintf(b, sizeof(b), more[p][(i + 1) % 3], player[p][1]);
                snprintf(text, sizeof(text),
                         "Chargers player %s was arrested on suspicion of drunken driving on "
                         "Tuesday near the stadium, police said; the team declined to comment "
                         "on the arrest. %s %s",
                         player[p][0], a, b);
                snprintf(seedid, sizeof(seedid), "arrest-%d-%d", p, i);
                struct nf_record *r = plain(seedid, text, NULL);
                const char *got = story_of(mp, r);
                if (i == 0)
                    snprintf(sid[p], sizeof(sid[p]), "%s", got);
                else
                    assert_string_equal(got, sid[p]);
                nf_record_destroy(&r);
            }
        if (pass != 1)
            assert_string_not_equal(sid[0], sid[1]);
        else
            assert_string_equal(sid[0], sid[1]);
        mock_plugin_destroy(&mp);
        remove_snapshot();
    }
}

/* One topic told as two events (two emergency patches of one browser, years apart) makes two
 * stories that share the topic's names; in a young stream each is much of the other's outside,
 * so the names are not rare outside either. A short undated telling of the first, whose other
 * words the stream has everywhere, still joins its story: the story holds a share of the names'
 * uses (name_share). With name_share=0 it shares no anchor with either and stays alone. */
static void test_topic_names_anchor_both_events(void **state)
{
    (void)state;
    /* words the whole stream has: no anchor of any story */
    static const char *const common[] = {"emergency", "patch", "passwords", "stolen",
                                         "temporary", "tool", "targeted", "attacks",
                                         "install", "users", "computers", "hackers"};
    static const char *const first[] = {
        "Microsoft issued an emergency patch for Internet Explorer on Wednesday after "
        "hackers stole passwords from two million computers, Christopher Budd said.",
        "An emergency patch for Internet Explorer came from Microsoft on Wednesday: "
        "hackers had stolen passwords from computers, said Christopher Budd.",
        "Hackers who stole passwords through Internet Explorer are stopped by the emergency "
        "patch Microsoft issued Wednesday, according to Christopher Budd.",
        "Microsoft says users of Internet Explorer must install Wednesday's emergency patch: "
        "passwords were stolen from computers, Christopher Budd warned.",
        "Christopher Budd of Microsoft said the emergency patch for Internet Explorer, out "
        "Wednesday, stops hackers stealing passwords from computers.",
        "Passwords stolen by hackers from Internet Explorer users led Microsoft to an "
        "emergency patch on Wednesday, Christopher Budd said.",
    };
    static const char *const second[] = {
        "Microsoft released a temporary tool for Internet Explorer on Tuesday after targeted "
        "attacks in Japan, Dustin Childs said.",
        "A temporary tool from Microsoft protects Internet Explorer against targeted attacks "
        "seen in Japan, Dustin Childs said on Tuesday.",
        "Targeted attacks in Japan led Microsoft to release a temporary tool for Internet "
        "Explorer on Tuesday, according to Dustin Childs.",
        "Microsoft urges Internet Explorer users in Japan to install its temporary tool "
        "against targeted attacks, Dustin Childs said Tuesday.",
        "Dustin Childs of Microsoft said the temporary tool for Internet Explorer, out Tuesday, "
        "stops the targeted attacks seen in Japan.",
        "Internet Explorer users in Japan hit by targeted attacks got a temporary tool from "
        "Microsoft on Tuesday, Dustin Childs said.",
    };
    static const char *const when[] = {"2008-12-17T10:00:00Z", "2013-09-18T10:00:00Z"};
    static const char late[] =
        "Install the Microsoft emergency patch now, Internet Explorer users whose passwords "
        "hackers have stolen are told.";
    for (int pass = 0; pass < 2; pass++) {
        const char *const off[] = {"name_share=0", NULL};
        struct mock_plugin *mp = story_new(pass ? off : NULL);
        char text[2000], seedid[64], sid[2][33];
        for (int i = 0; i < 90; i++) {
            /* long, of words of their own besides two common ones: no story of theirs */
            size_t k = (size_t)snprintf(text, sizeof(text), "%s %s", common[i % 12],
                                        common[(i + 5) % 12]);
            for (int j = 0; j < 60; j++)
                k += (size_t)snprintf(text + k, sizeof(text) - k, " zq%dw%d", i, j);
            snprintf(seedid, sizeof(seedid), "filler-%d", i);
            struct nf_record *r = plain(seedid, text, NULL);
            story_of(mp, r);
            nf_record_destroy(&r);
        }
        for (int e = 0; e < 2; e++)
            for (int i = 0; i < 6; i++) {
                snprintf(seedid, sizeof(seedid), "patch-%d-%d", e, i);
                struct nf_record *r = plain(seedid, (e ? second : first)[i], when[e]);
                const char *got = story_of(mp, r);
                if (i == 0)
                    snprintf(sid[e], sizeof(sid[e]), "%s", got);
                else
                    assert_string_equal(got, sid[e]);
                nf_record_destroy(&r);
            }
        assert_string_not_equal(sid[0], sid[1]);
        struct nf_record *r = plain("patch-late", late, NULL);
        assert_string_equal(story_of(mp, r), pass ? id_of(r) : sid[0]);
        nf_record_destroy(&r);
        mock_plugin_destroy(&mp);
        remove_snapshot();
    }
}

/* Two arrests of one team's players, undated: two tellings of the first, then the second. */
static const char *const arrests[3] = {
    "Chargers receiver Vincent Jackson was arrested on suspicion of drunken driving early "
    "Tuesday, the highway patrol said.\nJackson failed sobriety tests on the freeway, "
    "Officer Ray Scheidnes said. Jackson will play against Pittsburgh on Sunday, coach "
    "Norv Turner said. Jackson was booked and released.",
    "Chargers receiver Vincent Jackson, arrested on suspicion of drunken driving early "
    "Tuesday, says he is innocent.\nJackson was stopped on the freeway after midnight and "
    "failed sobriety tests, a spokesman for the patrol, Brian Pennings, said. Jackson "
    "expects no charges, his lawyer Marc Carlos said.",
    "Lineman Jamal Williams of the Chargers was held overnight for drunken driving "
    "on Sunday.\nWilliams is the second player held this month: Vincent Jackson was "
    "stopped in January, and Jackson missed no game. Jackson and Williams may face "
    "charges, Officer Ray Scheidnes said of Jackson.",
};

/* The three arrests through a story stage with `opts`: the two tellings of the first are one
 * story, and the second arrest begins one of its own when `apart`, else joins it. */
static void arrests_told(const char *const *opts, const char *prefix, bool apart)
{
    struct mock_plugin *mp = story_new(opts);
    const char *sid[3];
    struct nf_record *r[3];
    for (int i = 0; i < 3; i++) {
        char seedid[32];
        snprintf(seedid, sizeof(seedid), "%s-%d", prefix, i);
        r[i] = plain(seedid, arrests[i], NULL);
        sid[i] = story_of(mp, r[i]);
    }
    assert_string_equal(sid[1], sid[0]);
    assert_string_equal(sid[2], apart ? id_of(r[2]) : sid[0]);
    for (int i = 0; i < 3; i++)
        nf_record_destroy(&r[i]);
    mock_plugin_destroy(&mp);
    remove_snapshot();
}

/* The lead says who the event is about: the second of two arrests of one team's players names
 * the first player further down, as the earlier case, and names its own in its first sentence.
 * Counted as any other name (lead_weight=1), the first player's name gathers the two arrests
 * into one story; a telling of the first arrest, whose spokesman and details are others, joins
 * it either way. */
static void test_lead_names_who(void **state)
{
    (void)state;
    /* who and how many (agree_weight) would tell these two arrests apart too */
    const char *const flat[] = {"lead_weight=1", "agree_weight=0", "disagree_young_weight=0",
                                NULL};
    arrests_told(NULL, "lead", true);
    arrests_told(flat, "lead", false);
}

/* In a young stream a word is rare for longer: words in a few percent of the stream (here in
 * eight long articles of 210 besides the two tellings, more than the 5 that anchor_share leaves
 * a stream this short) still anchor two tellings of one event that share nothing else. */
static void test_young_stream_keeps_few_as_rare(void **state)
{
    (void)state;
    struct mock_plugin *mp = story_new(NULL);
    char text[4000], name[32];
    for (int i = 0; i < 200; i++) {
        snprintf(text, sizeof(text), "zq%dalpha zq%dbeta zq%dgamma zq%ddelta.", i, i, i, i);
        snprintf(name, sizeof(name), "other-%d", i);
        struct nf_record *r = plain(name, text, NULL);
        story_of(mp, r);
        nf_record_destroy(&r);
    }
    /* long articles that have the tellings' words among many of their own: no story of theirs */
    for (int i = 0; i < 8; i++) {
        size_t k = (size_t)snprintf(text, sizeof(text),
                                    "ferry harbour storm sailors rescue coastguard");
        for (int j = 0; j < 120; j++)
            k += (size_t)snprintf(text + k, sizeof(text) - k, " zq%dw%d", i, j);
        snprintf(name, sizeof(name), "long-%d", i);
        struct nf_record *r = plain(name, text, NULL);
        assert_string_equal(story_of(mp, r), id_of(r));
        nf_record_destroy(&r);
    }
    struct nf_record *a = plain("ferry-a", "A storm drove the ferry onto the harbour wall; the "
                                "coastguard came to the rescue of its sailors.", NULL);
    struct nf_record *b = plain("ferry-b", "Sailors of a ferry thrown by the storm against the "
                                "harbour were brought to safety, a rescue by the coastguard.", NULL);
    const char *sa = story_of(mp, a);
    assert_string_equal(sa, id_of(a));
    assert_string_equal(story_of(mp, b), sa);
    nf_record_destroy(&a);
    nf_record_destroy(&b);
    mock_plugin_destroy(&mp);
}

/* Figures confirm a story: two tellings of one game in other words join on its score and its
 * crowd, whichever way the crowd is written ("61,304" and "61304"); without figures
 * (figure_weight=0) their words alone do not reach the threshold. */
static void test_figures_confirm(void **state)
{
    (void)state;
    static const char one[] =
        "Indianapolis beat Jacksonville 31-24 on Thursday night in front of 61,304 fans, "
        "clinching a playoff berth with a late interception return.";
    static const char two[] =
        "The Colts rallied from fourteen points down to win 31-24, and the crowd of 61304 saw "
        "the Jaguars lose again; a late interception return clinched the playoff berth.";
    for (int pass = 0; pass < 2; pass++) {
        const char *const off[] = {"figure_weight=0", NULL};
        struct mock_plugin *mp = story_new(pass ? off : NULL);
        struct nf_record *a = plain("game-a", one, NULL), *b = plain("game-b", two, NULL);
        const char *sa = story_of(mp, a), *sb = story_of(mp, b);
        if (pass == 0)
            assert_string_equal(sb, sa);
        else
            assert_string_equal(sb, id_of(b));
        nf_record_destroy(&a);
        nf_record_destroy(&b);
        mock_plugin_destroy(&mp);
        remove_snapshot();
    }
}

/* Two events of one kind years apart (two castings of one role), told without publication
 * dates, are two stories when the latest years their texts give are two or more apart: with
 * year_weight=1 the second casting starts its own story, with year_weight=0 it joins the first.
 * A year apart (a telling that gives the year before) is no sign of another event, and when both
 * sides are dated their dates speak, not the years they mention. */
static const char first[] =
    "The BBC named the actor who will play the Doctor in Doctor Who, its long running science "
    "fiction series, during a live broadcast on Sunday evening. Filming of his first series "
    "begins in January 2009.";
static const char later[] =
    "The actor who will play the Doctor in Doctor Who was named by the BBC in a live broadcast "
    "on Sunday evening, ending weeks of guessing. His first series of the science fiction show "
    "is filmed from January 2014.";
static const char year_before[] =
    "The actor who will play the Doctor in Doctor Who was named by the BBC in a live broadcast "
    "on Sunday evening, ending weeks of guessing. His first series of the science fiction show "
    "is filmed from January 2008.";

static void test_years_tell_undated_events_apart(void **state)
{
    (void)state;
    for (int pass = 0; pass < 2; pass++) {
        const char *const on[] = {"year_weight=1", NULL}, *const off[] = {"year_weight=0", NULL};
        struct mock_plugin *mp = story_new(pass ? off : on);
        struct nf_record *a = plain("doctor-a", first, NULL), *b = plain("doctor-b", later, NULL);
        struct nf_record *c = plain("doctor-c", year_before, NULL);
        const char *sa = story_of(mp, a), *sb = story_of(mp, b);
        assert_string_equal(sb, pass ? sa : id_of(b));
        assert_string_equal(story_of(mp, c), sa);
        nf_record_destroy(&a);
        nf_record_destroy(&b);
        nf_record_destroy(&c);
        mock_plugin_destroy(&mp);
        remove_snapshot();
    }
    /* fetched (undated) in the year the first names: the later year the second gives is a plan
     * ("filmed from January 2014"), not the year of its event, and does not set it apart */
    {
        const char *const on1[] = {"year_weight=1", NULL};
        struct mock_plugin *mp = story_new(on1);
        struct nf_record *a = plain("doctor-a", year_before, NULL),
                         *b = plain("doctor-b", later, NULL);
        assert_int_equal(nf_record_set_cstr(a, NF_F_FETCHED_AT, "2008-12-14T18:00:00Z"), 0);
        assert_int_equal(nf_record_set_cstr(b, NF_F_FETCHED_AT, "2008-12-14T18:05:00Z"), 0);
        const char *sa = story_of(mp, a);
        assert_string_equal(story_of(mp, b), sa);
        nf_record_destroy(&a);
        nf_record_destroy(&b);
        mock_plugin_destroy(&mp);
        remove_snapshot();
    }
    /* dated on both sides (the same day): their dates speak, not the years they mention (one
     * gives a year to come) */
    const char *const on[] = {"year_weight=1", NULL};
    struct mock_plugin *mp = story_new(on);
    struct nf_record *a = plain("doctor-a", first, "2009-05-01"),
                     *b = plain("doctor-b", later, "2009-05-01");
    const char *sa = story_of(mp, a);
    assert_string_equal(story_of(mp, b), sa);
    nf_record_destroy(&a);
    nf_record_destroy(&b);
    mock_plugin_destroy(&mp);
}

/* Keeps the state files as a crash leaves them: the plugin's destroy would write a snapshot. The
 * log's generations are copied first, the snapshot last: a snapshot being written from a thread
 * meanwhile only removes generations it holds once it is in place, so the copies agree as the
 * files of a killed process would. crash_keep copies them, crash_restore puts them back after
 * the plugin's destroy; crash does both around the destroy. */
static void crash_keep(void)
{
    char cmd[2600];
    snprintf(cmd, sizeof(cmd), "cd '%s' && rm -f kept.* && for f in story.log.[0-9]* story.log "
             "story.snap; do [ -f $f ] && cp $f kept.$f; done; true", mock_state_dir());
    assert_int_equal(system(cmd), 0);
}

static void crash_restore(void)
{
    char cmd[2600];
    snprintf(cmd, sizeof(cmd), "cd '%s' && rm -f story.snap story.log story.log.[0-9]* && for f "
             "in kept.*; do [ -f $f ] && mv $f ${f#kept.}; done; true", mock_state_dir());
    assert_int_equal(system(cmd), 0);
}

static void crash(struct mock_plugin **mp)
{
    crash_keep();
    mock_plugin_destroy(mp);
    crash_restore();
}

/* State survives a restart: replays keep their story, new tellings join the old stories. */
static void test_warm_restart(void **state)
{
    (void)state;
    struct mock_plugin *mp = story_new(NULL);
    struct nf_record *r0 = seed(0), *r1 = seed(1), *r3 = seed(3);
    const char *s0 = story_of(mp, r0), *s3 = story_of(mp, r3);
    assert_string_equal(story_of(mp, r1), s0);
    mock_plugin_destroy(&mp);
    assert_int_equal(access(snap_path, F_OK), 0);

    mp = story_new(NULL);
    struct nf_record *r2 = seed(2);
    assert_string_equal(story_of(mp, r2), s0);
    nf_record_unset(r3, NF_F_STORY_ID);
    assert_string_equal(story_of(mp, r3), s3);
    mock_plugin_destroy(&mp);

    /* flush writes a snapshot too (snapshot_s=0: at every batch), from a thread */
    remove_snapshot();
    const char *const opts[] = {"snapshot_s=0", NULL};
    mp = story_new(opts);
    struct nf_record *r4 = seed(4);
    const char *s4 = story_of(mp, r4);
    assert_int_equal(mock_flush(mp), NF_OK);
    assert_true(appears(snap_path));
    crash(&mp);
    mp = story_new(NULL);
    nf_record_unset(r4, NF_F_STORY_ID);
    assert_string_equal(story_of(mp, r4), s4);
    mock_plugin_destroy(&mp);
    nf_record_destroy(&r0);
    nf_record_destroy(&r1);
    nf_record_destroy(&r2);
    nf_record_destroy(&r3);
    nf_record_destroy(&r4);
}

/* A crash between snapshots loses nothing that was sent on: the log appended at each flush is
 * judged again at start. */
static void test_log_survives_a_crash(void **state)
{
    (void)state;
    char log_path[600];
    snprintf(log_path, sizeof(log_path), "%s/story.log", mock_state_dir());
    const char *const opts[] = {"snapshot_s=3600", NULL};
    struct mock_plugin *mp = story_new(opts);
    struct nf_record *r0 = seed(0), *r1 = seed(1), *r3 = seed(3);
    const char *s0 = story_of(mp, r0), *s3 = story_of(mp, r3);
    struct nf_record *copy = plain("copy", "Completely different words about football scores "
                                   "and a cup final in the rain.", NULL);
    assert_int_equal(nf_record_set_cstr(copy, NF_F_DUP_OF, id_of(r3)), 0);
    assert_string_equal(story_of(mp, copy), s3);
    assert_int_equal(mock_flush(mp), NF_OK);
    crash(&mp); /* no snapshot since it started, only the log */

    mp = story_new(opts);
    int64_t created = mock_counter("story_new");
    assert_string_equal(story_of(mp, r1), s0); /* joins the story it would have joined */
    nf_record_unset(copy, NF_F_STORY_ID);
    assert_string_equal(story_of(mp, copy), s3); /* a replay: the story it had */
    assert_int_equal(mock_counter("story_new"), created);
    /* the start folded the log into a snapshot: no log is left to judge again */
    struct stat st;
    assert_int_equal(stat(snap_path, &st), 0);
    assert_true(stat(log_path, &st) != 0 || st.st_size == 0);
    assert_int_equal(log_generations(), 0);
    mock_plugin_destroy(&mp);
    nf_record_destroy(&r0);
    nf_record_destroy(&r1);
    nf_record_destroy(&r3);
    nf_record_destroy(&copy);
}

/* An append to the log cut short (a full disk) leaves no part of an entry behind: the next
 * flush appends the entries whole, and a restart judges them all again. A part left in the file
 * made the entries after it unreadable. */
static void test_log_append_cut_short(void **state)
{
    (void)state;
    char log_path[600], bad[620];
    snprintf(log_path, sizeof(log_path), "%s/story.log", mock_state_dir());
    snprintf(bad, sizeof(bad), "%s.bad", log_path);
    const char *const opts[] = {"snapshot_s=3600", NULL};
    struct mock_plugin *mp = story_new(opts);
    struct nf_record *r0 = seed(0), *r3 = seed(3);
    story_of(mp, r0);
    assert_int_equal(mock_flush(mp), NF_OK);
    struct stat st;
    assert_int_equal(stat(log_path, &st), 0);
    const char *s3 = story_of(mp, r3);
    /* the file may grow by 10 bytes only: the append fails part way */
    struct rlimit was, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &was), 0);
    lim = (struct rlimit){.rlim_cur = (rlim_t)st.st_size + 10, .rlim_max = was.rlim_max};
    void (*xfsz)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = mock_flush(mp);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &was), 0);
    signal(SIGXFSZ, xfsz);
    assert_int_equal(rc, NF_ERR);
    assert_int_equal(mock_flush(mp), NF_OK);
    crash(&mp);
    mp = story_new(opts);
    assert_int_not_equal(access(bad, F_OK), 0);
    int64_t created = mock_counter("story_new");
    nf_record_unset(r3, NF_F_STORY_ID);
    assert_string_equal(story_of(mp, r3), s3); /* a replay: the log had it */
    assert_int_equal(mock_counter("story_new"), created);
    mock_plugin_destroy(&mp);
    nf_record_destroy(&r0);
    nf_record_destroy(&r3);
}

/* The log replays decisions, not the scoring: a record the log says began a story of its own is
 * in a story of its own after the restart, whatever the scoring would say now. */
static void test_log_replays_decisions(void **state)
{
    (void)state;
    char log_path[600];
    snprintf(log_path, sizeof(log_path), "%s/story.log", mock_state_dir());
    const char *const opts[] = {"snapshot_s=3600", NULL};
    struct mock_plugin *mp = story_new(opts);
    struct nf_record *r0 = seed(0), *r1 = seed(1);
    const char *s0 = story_of(mp, r0);
    assert_int_equal(mock_flush(mp), NF_OK);
    /* the process dies here; the log then has r1 too, as beginning its own story (the scoring
     * puts it in r0's, test_seed_stories) */
    crash(&mp);
    struct nf_buf entry = {0};
    uint32_t len = 0;
    assert_int_equal(nf_buf_append(&entry, &len, 4), 0);
    nf_record_unset(r1, NF_F_STORY_ID);
    assert_int_equal(nf_record_set_int(r1, NF_F_READ_ORDER, INT64_C(1) << 40), 0);
    assert_int_equal(nf_record_encode(r1, &entry), 0);
    len = (uint32_t)(entry.len - 4);
    memcpy(entry.data, &len, 4);
    FILE *f = fopen(log_path, "ab");
    assert_non_null(f);
    assert_int_equal(fwrite(entry.data, 1, entry.len, f), entry.len);
    fclose(f);
    nf_buf_free(&entry);

    mp = story_new(opts);
    assert_string_equal(story_of(mp, r1), id_of(r1)); /* a replay of the logged decision */
    nf_record_unset(r0, NF_F_STORY_ID);
    assert_string_equal(story_of(mp, r0), s0);
    mock_plugin_destroy(&mp);
    nf_record_destroy(&r0);
    nf_record_destroy(&r1);
}

/* A stream of synthetic reports for the restart test: 700 events, each with its own place,
 * people and figure, told a few times in words drawn half from its own pool of 10 and half from
 * a pool of 30 that all share, so that many judgements are close calls and a story's common
 * words are in hundreds of index lists. Record i is the same every time it is made. */
static struct nf_record *synthetic(int i)
{
    static const char *const syl[] = {"ka", "lo", "mi", "ran", "tes", "vo", "dun", "pel",
                                      "sor", "bi", "gat", "nu", "rek", "fal", "zo", "hem"};
    unsigned seed = (unsigned)i * 2654435761u + 17;
    int topic = (int)(rand_r(&seed) % 700);
    char text[2048], word[32];
    size_t n = 0;
    /* the event's names, capitalised: a place two events share, and two people */
    char names[3][32];
    for (int k = 0; k < 3; k++) {
        unsigned ts = (unsigned)(k ? topic : topic / 2) * 7919u + 3u + (unsigned)k;
        unsigned a = rand_r(&ts), b = rand_r(&ts), c = rand_r(&ts);
        snprintf(names[k], sizeof(names[k]), "%c%s%s%s", "BDFKLMNPRSTV"[a % 12],
                 syl[b % 16], syl[c % 16], k ? "" : "a");
    }
    n += (size_t)snprintf(text + n, sizeof(text) - n, "%s, %d March. ", names[0],
                          1 + topic % 28);
    for (int w = 0; w < 70 && n + 64 < sizeof(text); w++) {
        unsigned r = rand_r(&seed);
        if (r % 1000 == 0) {
            n += (size_t)snprintf(text + n, sizeof(text) - n, "%s ", names[1 + r % 2]);
            continue;
        }
        if (r % 23 == 0) {
            n += (size_t)snprintf(text + n, sizeof(text) - n, "%d ", 100 + topic * 37);
            continue;
        }
        unsigned pool = r % 2 ? (unsigned)topic * 1000u + (unsigned)rand_r(&seed) % 10u
                              : (unsigned)rand_r(&seed) % 30u;
        unsigned ws = pool * 40503u + 11;
        snprintf(word, sizeof(word), "%s%s%s", syl[rand_r(&ws) % 16], syl[rand_r(&ws) % 16],
                 syl[rand_r(&ws) % 16]);
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%s", word, w % 12 == 11 ? ". " : " ");
    }
    char id_seed[32], date[32], title[96];
    snprintf(id_seed, sizeof(id_seed), "synthetic-%d", i);
    snprintf(date, sizeof(date), "2026-0%d-%02dT10:00:00Z", 1 + (i / 300) % 2, 1 + (i / 11) % 28);
    snprintf(title, sizeof(title), "%s: %s", names[0], word);
    struct nf_record *rec = plain(id_seed, text, date);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_TITLE, title), 0);
    assert_int_equal(nf_record_set_int(rec, NF_F_READ_ORDER, 1000 + i), 0);
    return rec;
}

/* A worker killed and started again judges what comes next as one that was not killed would: the
 * snapshot keeps the state as it was (the centroid lengths cached, the index's lists in their
 * order), and the log's records are scored again for what scoring leaves behind, then given the
 * decision they had. Three workers in turn: the first dies with only a log, the second starts
 * from it (and folds it into a snapshot), goes on and dies with a snapshot and a log. With
 * `flush_every`, the workers also flush every that many records with snapshot_s=0: a snapshot
 * is then begun at each flush that finds none being written, and the kills may come while one
 * is being written from its thread. */
static void restart_judges_as_before(const char *const *opts, int flush_every)
{
    enum { N = 900, CUT1 = 300, CUT2 = 600 };
    char(*straight)[33] = calloc(N, sizeof(*straight));
    assert_non_null(straight);
    remove_snapshot();
    struct mock_plugin *mp = story_new(opts);
    int64_t before = mock_counter("story_new");
    for (int i = 0; i < N; i++) {
        struct nf_record *r = synthetic(i);
        snprintf(straight[i], sizeof(straight[i]), "%s", story_of(mp, r));
        nf_record_destroy(&r);
        if (i % 50 == 49)
            hops_free();
    }
    int64_t stories = mock_counter("story_new") - before;
    assert_true(stories > 60 && stories < N / 3); /* stories formed, and grew */
    mock_plugin_destroy(&mp);
    remove_snapshot();

    int differ = 0;
    mp = story_new(opts);
    for (int i = 0; i < N; i++) {
        if (i == CUT1 || i == CUT2) {
            assert_int_equal(mock_flush(mp), NF_OK); /* what was sent on is in the log */
            crash(&mp);
            mp = story_new(opts);
        } else if (flush_every && i % flush_every == 0) {
            assert_int_equal(mock_flush(mp), NF_OK);
        }
        struct nf_record *r = synthetic(i);
        differ += strcmp(story_of(mp, r), straight[i]) != 0;
        nf_record_destroy(&r);
        if (i % 50 == 49)
            hops_free();
    }
    assert_int_equal(differ, 0); /* 13 of 900 with a restore that rebuilt the index and lengths */
    mock_plugin_destroy(&mp);
    free(straight);
}

static void test_restart_judges_as_before(void **state)
{
    (void)state;
    const char *const opts[] = {"snapshot_s=3600", NULL};
    restart_judges_as_before(opts, 0);
}

/* The same with snapshots written from a thread as the records go on. */
static void test_restart_during_snapshots(void **state)
{
    (void)state;
    const char *const opts[] = {"snapshot_s=0", NULL};
    restart_judges_as_before(opts, 7);
    restart_judges_as_before(opts, 1);
}

/* A kill while a snapshot is being written from its thread: the files are the last snapshot
 * written, and the log generation the new one was to hold, which the start judges again. The
 * thread is held before it syncs the file (mock_fsync_hold). Without the
 * generation judged again, the article that began a story after the last snapshot is new again
 * after the restart, and begins another. */
static void test_kill_while_snapshot_written(void **state)
{
    (void)state;
    const char *const opts[] = {"snapshot_s=0", NULL};
    struct mock_plugin *mp = story_new(opts);
    struct nf_record *r0 = seed(0), *r1 = seed(1), *r3 = seed(3);
    const char *s0 = story_of(mp, r0);
    assert_int_equal(mock_flush(mp), NF_OK); /* snapshot 1: seed 0's story */
    assert_true(appears(snap_path));
    for (int i = 0; i < 1000 && log_generations(); i++)
        usleep(10000);
    assert_int_equal(log_generations(), 0);
    assert_string_equal(story_of(mp, r1), s0);
    const char *s3 = story_of(mp, r3);
    /* snapshot 2 begins at a flush once snapshot 1's thread has ended; its thread is held */
    mock_fsync_hold();
    for (int i = 0; i < 1000 && !log_generations(); i++) {
        assert_int_equal(mock_flush(mp), NF_OK);
        usleep(10000);
    }
    assert_true(mock_fsync_held());
    assert_int_equal(log_generations(), 1);
    crash_keep();
    mock_fsync_release();
    mock_plugin_destroy(&mp);
    crash_restore();
    assert_int_equal(log_generations(), 1);

    mp = story_new(opts);
    assert_int_equal(log_generations(), 0); /* judged again and held by a new snapshot */
    int64_t created = mock_counter("story_new");
    nf_record_unset(r3, NF_F_STORY_ID);
    assert_string_equal(story_of(mp, r3), s3);
    nf_record_unset(r1, NF_F_STORY_ID);
    assert_string_equal(story_of(mp, r1), s0);
    assert_int_equal(mock_counter("story_new"), created); /* both replays */
    mock_plugin_destroy(&mp);
    nf_record_destroy(&r0);
    nf_record_destroy(&r1);
    nf_record_destroy(&r3);
}

/* The snapshot and the log hold the articles' words: they are the user's alone (0600), whatever
 * the umask. */
static void test_state_files_private(void **state)
{
    (void)state;
    char log_path[600];
    snprintf(log_path, sizeof(log_path), "%s/story.log", mock_state_dir());
    mode_t old = umask(022);
    const char *const opts[] = {"snapshot_s=3600", NULL};
    struct mock_plugin *mp = story_new(opts);
    struct nf_record *r = seed(0);
    story_of(mp, r);
    assert_int_equal(mock_flush(mp), NF_OK); /* appends to the log */
    struct stat st;
    assert_int_equal(stat(log_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    mock_plugin_destroy(&mp); /* writes the snapshot */
    assert_int_equal(stat(snap_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    umask(old);
    nf_record_destroy(&r);
}

/* A log entry that cannot be read is set aside: the stage starts with what came before it. */
static void test_damaged_log(void **state)
{
    (void)state;
    char log_path[600], bad[620];
    snprintf(log_path, sizeof(log_path), "%s/story.log", mock_state_dir());
    snprintf(bad, sizeof(bad), "%s.bad", log_path);
    unlink(bad);
    FILE *f = fopen(log_path, "wb");
    assert_non_null(f);
    static const unsigned char junk[] = {3, 0, 0, 0, 0xc1, 0xc1, 0xc1};
    assert_int_equal(fwrite(junk, 1, sizeof(junk), f), sizeof(junk));
    fclose(f);
    struct mock_plugin *mp = story_new(NULL);
    struct nf_record *r0 = seed(0);
    assert_string_equal(story_of(mp, r0), id_of(r0));
    assert_int_equal(access(bad, F_OK), 0);
    mock_plugin_destroy(&mp);
    nf_record_destroy(&r0);
    unlink(bad);
}

/* Writes a snapshot holding seed 0's story and returns the file (the caller frees it). */
static char *snapshot_of_seed0(size_t *len_out)
{
    struct mock_plugin *mp = story_new(NULL);
    struct nf_record *r = seed(0);
    story_of(mp, r);
    nf_record_destroy(&r);
    mock_plugin_destroy(&mp);
    char *data = mock_slurp(snap_path, len_out);
    assert_non_null(data);
    return data;
}

/* Puts `data` (freed here) in place of the snapshot and starts: the file is set aside and the
 * stage starts without stories. */
static void snapshot_refused(char *data, size_t len)
{
    FILE *f = fopen(snap_path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    free(data);
    struct mock_plugin *mp = story_new(NULL);
    char bad[600];
    snprintf(bad, sizeof(bad), "%s.bad", snap_path);
    assert_int_equal(access(bad, F_OK), 0);
    struct nf_record *r1 = seed(1);
    assert_string_equal(story_of(mp, r1), id_of(r1)); /* seed 0's story was forgotten */
    nf_record_destroy(&r1);
    mock_plugin_destroy(&mp);
    remove_snapshot();
}

/* Writes data (a snapshot changed in place) as the snapshot, its checksum put right, and frees
 * it. */
static void snapshot_resum(char *data, size_t len)
{
    uint64_t sum = XXH3_64bits(data, len - 8);
    memcpy(data + len - 8, &sum, 8);
}

static void snapshot_put_summed(char *data, size_t len)
{
    snapshot_resum(data, len);
    FILE *f = fopen(snap_path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    free(data);
}

/* A damaged snapshot is set aside and the stage starts without stories. */
static void test_damaged_snapshot(void **state)
{
    (void)state;
    size_t n;
    char *data = snapshot_of_seed0(&n);
    data[n / 2] ^= 0x55;
    snapshot_refused(data, n);
}

/* Writes a snapshot with seed 0's story in slot 0, changes `n` bytes at `off` (from the start of
 * the file, or of the stories' terms when `in_terms`), puts the checksum right and starts again:
 * the file is refused as damaged, not trusted. */
static void hostile_snapshot(size_t off, bool in_terms, const void *val, size_t n)
{
    enum { HEADER = 92, SIZES = 28, NITEMS = 68 }; /* story_snapshot_encode, version 7 */
    size_t len;
    char *data = snapshot_of_seed0(&len);
    assert_true(len > HEADER + 8);
    uint32_t item_size;
    uint64_t nitems;
    memcpy(&item_size, data + SIZES, 4);
    memcpy(&nitems, data + NITEMS, 8);
    assert_int_equal(nitems, 1);
    assert_int_equal(item_size, 176); /* the offsets test_hostile_snapshot gives are of it */
    size_t at = off + (in_terms ? HEADER + item_size : 0);
    assert_true(at + n <= len - 8);
    memcpy(data + at, val, n);
    snapshot_resum(data, len);
    snapshot_refused(data, len);
}

/* A snapshot whose checksum is right but whose state does not hold together (a file written by
 * something else, or damaged before its checksum was taken) is refused: a story count that is
 * not the live slots', a term of no kind (its kind indexes the per-kind sums), a slot flag that
 * is no bool. */
static void test_hostile_snapshot(void **state)
{
    (void)state;
    const uint64_t no_live = 0;
    hostile_snapshot(84, false, &no_live, 8); /* the header's live count */
    const uint8_t kind = 200;
    hostile_snapshot(14, true, &kind, 1); /* the first term's kind (after h, mass, docs) */
    const uint8_t flag = 7;
    hostile_snapshot(92 + 32, false, &flag, 1); /* slot 0's live (after id and four counts) */
    const uint32_t renames = 200; /* more former names than a story keeps */
    hostile_snapshot(92 + 136, false, &renames, 4); /* slot 0's v9_nformer (versions 4-9) */
}

/* The member lists of a snapshot (seed 0's story: one list of one member, and no moves) that do
 * not hold together are refused, checksum right: more lists than stories, a list of more members
 * than are kept, a member of more terms than it keeps, a term of no kind. */
static void test_hostile_members(void **state)
{
    (void)state;
    /* story_member: k, of, order, t, year, then nterms; its first term's kind after h and tf */
    enum { NTERMS = 50, TERMS = 56, KIND = 12 };
    for (int how = 0; how < 4; how++) {
        size_t len;
        char *data = snapshot_of_seed0(&len);
        /* the tail: msize, lists (1), the list (at, off, n = 1, the member), the former names
         * (none), vsize, moves (0) */
        size_t vsize = len - 8 - 4 - 4, named = vsize - 8, msize = 0, at = 0;
        uint32_t m, moves;
        uint64_t lists_named;
        memcpy(&moves, data + len - 12, 4);
        assert_int_equal(moves, 0);
        memcpy(&lists_named, data + named, 8);
        assert_int_equal(lists_named, 0);
        for (m = 64; m < 4096 && !msize; m++) {
            size_t x = named - m - 9 - 8 - 4;
            uint32_t v, n;
            uint64_t lists;
            memcpy(&v, data + x, 4), memcpy(&lists, data + x + 4, 8), memcpy(&n, data + x + 17, 4);
            if (v == m && lists == 1 && n == 1)
                msize = m, at = x;
        }
        assert_true(msize > 0);
        char *member = data + at + 4 + 8 + 9;
        const uint64_t many = 5;
        const uint32_t forty = 40;
        const uint8_t big = 200, nokind = 9;
        if (how == 0)
            memcpy(data + at + 4, &many, 8);
        else if (how == 1)
            memcpy(data + at + 4 + 8 + 5, &forty, 4);
        else if (how == 2)
            memcpy(member + NTERMS, &big, 1);
        else
            memcpy(member + TERMS + KIND, &nokind, 1);
        snapshot_resum(data, len);
        snapshot_refused(data, len);
    }
}

/* A version 5 snapshot (no story's year; the bytes that hold it now were padding, which may
 * hold anything) is read with its stories, and their years unknown: a story of 2009 whose
 * padding says 2014 takes a telling that gives 2008, even with year_weight=1. */
static void test_version5_snapshot(void **state)
{
    (void)state;
    /* story_snapshot_encode; story_item.year; version 7's `upto`, version 8's member lists,
     * version 9's moves and version 10's former names (none kept with split_ratio=0 and one
     * article: their sizes and counts), which version 5 has not */
    enum { VERSION = 8, HEADER = 84, YEAR = 34, UPTO = 12, MEMBERS = 12 + 8 + 8 };
    const char *const nosplit[] = {"split_ratio=0", NULL};
    struct mock_plugin *mp = story_new(nosplit);
    struct nf_record *a = plain("doctor-a", first, NULL);
    const char *sa = story_of(mp, a);
    mock_plugin_destroy(&mp);
    size_t len;
    char *data = mock_slurp(snap_path, &len);
    assert_non_null(data);
    const uint32_t v5 = 5;
    const uint16_t padding = 2014;
    memmove(data + UPTO, data + UPTO + 8, len - UPTO - 8);
    len -= 8;
    memmove(data + len - 8 - MEMBERS, data + len - 8, 8);
    len -= MEMBERS;
    memcpy(data + VERSION, &v5, 4);
    memcpy(data + HEADER + YEAR, &padding, 2);
    snapshot_put_summed(data, len);
    const char *const on[] = {"year_weight=1", NULL};
    mp = story_new(on);
    struct nf_record *c = plain("doctor-c", year_before, NULL);
    assert_string_equal(story_of(mp, c), sa);
    nf_record_destroy(&a);
    nf_record_destroy(&c);
    mock_plugin_destroy(&mp);
}

/* Past max_stories the least recently fed stories are forgotten; their ids are not. */
static void test_eviction(void **state)
{
    (void)state;
    const char *const opts[] = {"max_stories=16", NULL};
    struct mock_plugin *mp = story_new(opts);
    struct nf_record *first = plain("first", storm, NULL);
    char s0[33];
    snprintf(s0, sizeof(s0), "%s", story_of(mp, first));
    char text[256], name[32];
    for (int i = 0; i < 40; i++) {
        /* unrelated articles: words of their own */
        snprintf(text, sizeof(text), "zq%dalpha zq%dbeta zq%dgamma zq%ddelta zq%depsilon "
                 "zq%dzeta zq%deta zq%dtheta", i, i, i, i, i, i, i, i);
        snprintf(name, sizeof(name), "other-%d", i);
        struct nf_record *r = plain(name, text, NULL);
        assert_string_equal(story_of(mp, r), id_of(r));
        nf_record_destroy(&r);
    }
    struct nf_record *again = plain("storm-again", storm2, NULL);
    assert_string_equal(story_of(mp, again), id_of(again));
    nf_record_unset(first, NF_F_STORY_ID);
    assert_string_equal(story_of(mp, first), s0);
    nf_record_destroy(&first);
    nf_record_destroy(&again);
    mock_plugin_destroy(&mp);
}

/* idf_export writes what idf_bootstrap reads; a malformed file stops start-up with its line. */
static void test_idf_files(void **state)
{
    (void)state;
    char path[600];
    snprintf(path, sizeof(path), "%s/df.tsv", mock_state_dir());
    char opt[700];
    snprintf(opt, sizeof(opt), "idf_export=%s", path);
    const char *const opts[] = {opt, NULL};
    struct mock_plugin *mp = story_new(opts);
    for (int i = 0; i < 5; i++) {
        struct nf_record *r = seed(i);
        story_of(mp, r);
        nf_record_destroy(&r);
    }
    mock_plugin_destroy(&mp);
    size_t n;
    char *df = mock_slurp(path, &n);
    assert_non_null(df);
    assert_non_null(strstr(df, "\ndocs\t5\n"));
    assert_non_null(strstr(df, "\nmali\t5\n"));    /* in every seed */
    assert_non_null(strstr(df, "\ncountri\t"));    /* "countries": plural folded */
    assert_null(strstr(df, "\nthe\t"));            /* stopword */
    free(df);

    remove_snapshot();
    snprintf(opt, sizeof(opt), "idf_bootstrap=%s", path);
    mp = story_new(opts);
    struct nf_record *r = seed(0);
    story_of(mp, r);
    nf_record_destroy(&r);
    mock_plugin_destroy(&mp);

    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("docs\t10\nsahel 4\n", f);
    fclose(f);
    remove_snapshot();
    assert_null(mock_plugin_new("story", opts));
    assert_non_null(strstr(mock_last_error(), ":2: expected WORD<TAB>COUNT"));
    unlink(path);
    assert_null(mock_plugin_new("story", opts));
    assert_non_null(strstr(mock_last_error(), "idf_bootstrap"));
}

static void test_bad_input(void **state)
{
    (void)state;
    struct mock_plugin *mp = story_new(NULL);
    struct nf_record *r = nf_record_new();
    assert_non_null(r);
    assert_int_equal(nf_record_set_cstr(r, NF_F_TEXT, "text without an id"), 0);
    assert_int_equal(mock_process(mp, r), NF_ERR);
    assert_non_null(strstr(mock_last_error(), "no id"));
    nf_record_destroy(&r);
    /* no text at all, or bytes that are not UTF-8: a story of its own, not a failure */
    r = plain("empty", NULL, "not a date");
    assert_string_equal(story_of(mp, r), id_of(r));
    nf_record_destroy(&r);
    r = plain("bytes", "\xff\xfe caf\xc3 na\xefve \xe2\x80 words words", "2023-13-45");
    assert_string_equal(story_of(mp, r), id_of(r));
    nf_record_destroy(&r);
    /* ids that are not 32 hex digits still work */
    r = plain("x", storm, NULL);
    assert_int_equal(nf_record_set_cstr(r, NF_F_ID, "feed-guid:42"), 0);
    const char *s = story_of(mp, r);
    nf_record_unset(r, NF_F_STORY_ID);
    assert_string_equal(story_of(mp, r), s);
    nf_record_destroy(&r);
    mock_plugin_destroy(&mp);
}

static void test_config(void **state)
{
    (void)state;
    mock_set_worker(0, 2);
    assert_null(mock_plugin_new("story", NULL));
    assert_non_null(strstr(mock_last_error(), "workers = 1"));
    mock_set_worker(0, 1);
    const char *const opts[] = {"threshold=1.5", NULL};
    assert_null(mock_plugin_new("story", opts));
    assert_non_null(strstr(mock_last_error(), "threshold"));
    /* the ranges are the option table's, said by the core */
    const char *const few[] = {"top_terms=2", NULL};
    assert_null(mock_plugin_new("story", few));
    assert_string_equal(mock_last_error(), "option 'top_terms' must be between 4 and 1024, got 2");
    const char *const neg[] = {"window_days=-1", NULL};
    assert_null(mock_plugin_new("story", neg));
    assert_string_equal(mock_last_error(), "option 'window_days' must be at least 0, got -1");
}

/* ---- corpus modes ------------------------------------------------------------------------ */

struct article {
    char *id, *title, *text, *date;
    char *dup; /* the id of the article it is a copy of (dedup's verdict), or NULL */
};

static size_t read_corpus(const char *path, struct article **out)
{
    gzFile f = gzopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open\n", path);
        exit(2);
    }
    size_t n = 0, cap = 0;
    struct article *a = NULL;
    static char line[1 << 20];
    while (gzgets(f, line, sizeof(line))) {
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        if (!j)
            continue;
        const char *text = json_string_value(json_object_get(j, "text"));
        if (text && *text) {
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                a = realloc(a, cap * sizeof(*a));
            }
            json_t *id = json_object_get(j, "id");
            if (!id)
                id = json_object_get(j, "newid");
            char idbuf[64];
            if (json_is_integer(id))
                snprintf(idbuf, sizeof(idbuf), "%lld", (long long)json_integer_value(id));
            else
                snprintf(idbuf, sizeof(idbuf), "%s", json_string_value(id) ? json_string_value(id) : "?");
            const char *title = json_string_value(json_object_get(j, "title"));
            const char *date = json_string_value(json_object_get(j, "date"));
            const char *dup = json_string_value(json_object_get(j, "dup_of"));
            a[n].dup = dup ? strdup(dup) : NULL;
            a[n].id = strdup(idbuf);
            a[n].title = title ? strdup(title) : NULL;
            a[n].text = strdup(text);
            a[n].date = date && date[0] >= '0' && date[0] <= '9' && date[4] == '-' ? strdup(date) : NULL;
            n++;
        }
        json_decref(j);
    }
    gzclose(f);
    *out = a;
    return n;
}

static void free_corpus(struct article *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(a[i].id), free(a[i].title), free(a[i].text), free(a[i].date), free(a[i].dup);
    free(a);
    mock_plugin_destroy(&front.clean);
    mock_plugin_destroy(&front.meta);
}

static struct nf_record *article_record(const struct article *a, const char *corpus, int copy)
{
    struct nf_record *rec = nf_record_new();
    char uri[1024], id[33];
    snprintf(uri, sizeof(uri), "file://%s#%s", corpus, a->id);
    if (copy)
        snprintf(uri + strlen(uri), sizeof(uri) - strlen(uri), "~%d", copy);
    nf_id_make(uri, strlen(uri), id);
    nf_record_set_cstr(rec, NF_F_ID, id);
    nf_record_set_source(rec, uri, "jsonl");
    nf_record_set_cstr(rec, NF_F_CONTENT_TYPE, "text/plain");
    nf_record_set_cstr(rec, NF_F_FETCHED_AT, "2026-11-25T12:00:00Z");
    nf_record_set_bytes(rec, NF_F_RAW, a->text, strlen(a->text));
    if (a->title)
        nf_record_set_cstr(rec, NF_F_TITLE, a->title);
    if (a->date)
        nf_record_set_cstr(rec, NF_F_PUBLISHED_AT, a->date);
    /* raw is of no use after cleaning: dropped, so that a benchmark's records fit in memory */
    if (mock_process(front.clean, rec) != NF_OK || mock_roundtrip(rec) < 0 ||
        mock_process(front.meta, rec) != NF_OK || (nf_record_unset(rec, NF_F_RAW), 0) ||
        hop(rec) < 0) {
        nf_record_destroy(&rec);
        return NULL;
    }
    return rec;
}

static void front_new(void)
{
    /* no language identification: story does not read it, and it is extract_meta's slowest
     * step */
    const char *const opts[] = {GAZETTEER, "textcat_conf=", NULL};
    front.clean = mock_plugin_new("clean_text", NULL);
    front.meta = mock_plugin_new("extract_meta", opts);
    if (!front.clean || !front.meta)
        exit(2);
}

/* Gathers the story renames a record carries (old id: new id) and the articles it moves to
 * another story (article id: story id) into the object arg, under "story_id" and "story_of". */
static int eval_amend(void *arg, enum nf_amend_kind kind, const char *key, const char *val)
{
    const char *what = kind == NF_AMEND_STORY_ID ? "story_id"
                       : kind == NF_AMEND_STORY_OF ? "story_of" : NULL;
    if (!what || !val)
        return 0;
    json_t *o = json_object_get(arg, what);
    if (!o) {
        o = json_object();
        json_object_set_new(arg, what, o);
    }
    json_object_set_new(o, key, json_string(val));
    return 0;
}

/* The lines an evaluation writes, kept until the end: a kill drops those not sent on. */
struct eval_lines {
    char **v;
    size_t n, cap;
};

static void eval_line(struct eval_lines *l, char *line)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 1024;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        if (!l->v)
            exit(2);
    }
    l->v[l->n++] = line;
}

/* What an evaluation judged, in turn (the event, whether it came again, its lines), and the
 * records to come again (the event, from which step). */
struct eval_run {
    struct eval_done {
        size_t event, lo, hi;
        bool replay;
    } *v;
    size_t n, cap;
    struct eval_queued {
        size_t event, due;
    } *q;
    size_t nq, qcap;
    size_t kill_seen, store_seen;
};

static void eval_done(struct eval_run *r, size_t event, bool replay, size_t lo, size_t hi)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 1024;
        if (!(r->v = realloc(r->v, r->cap * sizeof(*r->v))))
            exit(2);
    }
    r->v[r->n++] = (struct eval_done){event, lo, hi, replay};
}

/* The queued record due first at `step`, SIZE_MAX when none is. */
static size_t eval_due(const struct eval_run *r, size_t step)
{
    size_t best = SIZE_MAX;
    for (size_t k = 0; k < r->nq; k++)
        if (r->q[k].due <= step && (best == SIZE_MAX || r->q[k].due < r->q[best].due))
            best = k;
    return best;
}

/* Drops the lines of what was judged at [lo, hi) of the run; with `again`, the records judged
 * there as they came the first time come again by the caller's rewind, the rest are queued to
 * come again `late` steps from `step`. */
static void eval_drop(struct eval_run *r, struct eval_lines *l, size_t lo, size_t hi,
                      size_t step, size_t late, bool again)
{
    for (size_t k = lo; k < hi; k++) {
        struct eval_done *d = &r->v[k];
        for (size_t j = d->lo; j < d->hi; j++)
            free(l->v[j]), l->v[j] = NULL;
        if (d->lo == d->hi)
            continue; /* dropped before */
        d->hi = d->lo;
        if (again && !d->replay)
            continue;
        if (r->nq == r->qcap) {
            r->qcap = r->qcap ? 2 * r->qcap : 256;
            if (!(r->q = realloc(r->q, r->qcap * sizeof(*r->q))))
                exit(2);
        }
        r->q[r->nq++] = (struct eval_queued){d->event, step + late};
    }
}

static int run_eval(int argc, char **argv)
{
    struct article *a;
    size_t n = read_corpus(argv[2], &a);
    FILE *out = fopen(argv[3], "w");
    if (!out)
        return 2;
    unsigned seed = 0;
    long crash_every = 0, flush_every = 0, back = 0, copies = 0, late = 0, store_every = 0;
    const char *opts[64];
    int k = 0;
    for (int i = 4; i < argc && k < 63; i++) {
        if (strncmp(argv[i], "shuffle=", 8) == 0)
            seed = (unsigned)atoi(argv[i] + 8);
        else if (strncmp(argv[i], "crash=", 6) == 0)
            crash_every = atol(argv[i] + 6);
        else if (strncmp(argv[i], "flush=", 6) == 0)
            flush_every = atol(argv[i] + 6);
        else if (strncmp(argv[i], "back=", 5) == 0)
            back = atol(argv[i] + 5);
        else if (strncmp(argv[i], "copies=", 7) == 0)
            copies = atol(argv[i] + 7);
        else if (strncmp(argv[i], "late=", 5) == 0)
            late = atol(argv[i] + 5);
        else if (strncmp(argv[i], "storecrash=", 11) == 0)
            store_every = atol(argv[i] + 11);
        else
            opts[k++] = argv[i];
    }
    opts[k] = NULL;
    if (seed) {
        srand(seed);
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = (size_t)rand() % (i + 1);
            struct article t = a[i];
            a[i] = a[j], a[j] = t;
        }
    }
    remove_snapshot();
    front_new();
    struct mock_plugin *mp = mock_plugin_new("story", opts);
    if (!mp)
        return 2;
    /* with copies=K, after every K articles a copy of one of the 40 before (another id, its
     * dup_of the article's), as dedup sends them */
    size_t m = n + (copies > 0 ? n / (size_t)copies : 0);
    bool ordered = copies > 0; /* read orders given: with copies, as dedup sends them */
    for (size_t i = 0; i < n; i++)
        ordered |= a[i].dup != NULL;
    size_t *ev = calloc(m ? m : 1, sizeof(*ev));
    int *ev_copy = calloc(m ? m : 1, sizeof(*ev_copy));
    struct eval_lines lines = {0};
    struct eval_run run = {0};
    if (!ev || !ev_copy)
        return 2;
    for (size_t i = 0, e = 0; i < n; i++) {
        ev[e++] = i;
        if (copies > 0 && i % (size_t)copies == (size_t)copies - 1) {
            size_t span = i + 1 < 40 ? i + 1 : 40;
            ev[e] = i - (i * 7919u) % span, ev_copy[e] = (int)e + 1, e++;
        }
    }
    /* Kills (crash=N: story's, every N records judged; storecrash=N: the store's): what story
     * judged since its last flush (flush=F) was never sent on and comes again at once, the
     * unknown records in their order; the store loses the commits of the `back` records judged
     * before, which come again `late` records later (as their sources send them again) */
    size_t step = 0, flushed_at = 0, e = 0;
    for (;;) {
        size_t due = eval_due(&run, e < m ? step : SIZE_MAX);
        if (due == SIZE_MAX && e >= m)
            break;
        if (crash_every > 0 && step && step % (size_t)crash_every == 0 &&
            run.n > run.kill_seen) {
            run.kill_seen = run.n;
            crash(&mp);
            if (!(mp = mock_plugin_new("story", opts)))
                return 2;
            size_t rewind = e;
            for (size_t k = flushed_at; k < run.n; k++)
                if (!run.v[k].replay && run.v[k].event < rewind)
                    rewind = run.v[k].event;
            eval_drop(&run, &lines, flushed_at, run.n, step, 0, true);
            size_t lo = flushed_at > (size_t)back ? flushed_at - (size_t)back : 0;
            eval_drop(&run, &lines, lo, flushed_at, step, (size_t)late, false);
            e = rewind;
            flushed_at = run.n;
            continue;
        }
        if (store_every > 0 && step && step % (size_t)store_every == 0 &&
            run.n > run.store_seen) {
            run.store_seen = run.n;
            size_t lo = run.n > (size_t)back ? run.n - (size_t)back : 0;
            if (lo < flushed_at) /* judged since the flush: not sent on yet */
                eval_drop(&run, &lines, lo, flushed_at, step, (size_t)late, false);
        }
        if (flush_every > 0 && step % (size_t)flush_every == 0 && run.n > flushed_at) {
            if (mock_flush(mp) != NF_OK)
                return 2;
            flushed_at = run.n;
        }
        step++;
        size_t x;
        bool replay = false;
        if (due != SIZE_MAX)
            x = run.q[due].event, replay = true, run.q[due] = run.q[--run.nq];
        else
            x = e++;
        size_t i = ev[x];
        size_t first = lines.n;
        struct nf_record *rec = article_record(&a[i], argv[2], ev_copy[x]);
        if (rec && (ev_copy[x] || a[i].dup)) {
            char ouri[1024], oid[33];
            snprintf(ouri, sizeof(ouri), "file://%s#%s", argv[2], ev_copy[x] ? a[i].id : a[i].dup);
            nf_id_make(ouri, strlen(ouri), oid);
            nf_record_set_cstr(rec, NF_F_DUP_OF, oid);
        }
        if (rec && ordered)
            nf_record_set_int(rec, NF_F_READ_ORDER, (int64_t)x);
        if (!rec || mock_process(mp, rec) != NF_OK) {
            fprintf(stderr, "%s: failed: %s\n", a[i].id, mock_last_error());
            nf_record_destroy(&rec);
            continue;
        }
        /* the scorer keys records by what follows '#' in source.uri */
        char uri[512];
        snprintf(uri, sizeof(uri), "corpus#%s", a[i].id);
        if (ev_copy[x])
            snprintf(uri + strlen(uri), sizeof(uri) - strlen(uri), "~%d", ev_copy[x]);
        json_t *j = json_pack("{s:{s:s},s:s,s:s}", "source", "uri", uri, "story_id",
                              nf_record_str(rec, NF_F_STORY_ID, NULL), "id",
                              nf_record_str(rec, NF_F_ID, NULL));
        char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (line)
            eval_line(&lines, line);
        json_decref(j);
        /* the renames it carries follow it as store_jsonl writes them, for the reader to
         * apply to the lines before */
        json_t *fix = json_object();
        const char *why;
        if (fix && nf_amend_has(rec) && nf_amend_each(rec, eval_amend, fix, &why) == 0 &&
            json_object_size(fix)) {
            json_t *w = json_pack("{s:O}", "amend", fix);
            line = w ? json_dumps(w, JSON_COMPACT) : NULL;
            if (line)
                eval_line(&lines, line);
            json_decref(w);
        }
        json_decref(fix);
        nf_record_destroy(&rec);
        eval_done(&run, x, replay, first, lines.n);
    }
    for (size_t l = 0; l < lines.n; l++) {
        if (lines.v[l])
            fprintf(out, "%s\n", lines.v[l]);
        free(lines.v[l]);
    }
    free(lines.v);
    free(run.v);
    free(run.q);
    fclose(out);
    free(ev);
    free(ev_copy);
    mock_plugin_destroy(&mp);
    remove_snapshot();
    free_corpus(a, n);
    hops_free();
    rmdir(mock_state_dir());
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of this process: on a shared machine, wall time says more about the neighbours */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int run_bench(int argc, char **argv)
{
    struct article *a;
    size_t n = read_corpus(argv[2], &a);
    long want = atol(argv[3]);
    if (!n || want <= 0)
        return 2;
    const char *opts[64];
    int k = 0;
    for (int i = 4; i < argc && k < 63; i++)
        opts[k++] = argv[i];
    opts[k] = NULL;
    front_new();
    double t0 = now_s();
    struct nf_record **recs = calloc((size_t)want, sizeof(*recs));
    size_t bytes = 0, made = 0;
    size_t distinct = 0;
    for (long i = 0; i < want; i++) {
        if ((size_t)i < n) {
            recs[made] = article_record(&a[i], argv[2], 0);
            distinct = made + (recs[made] != NULL);
        } else if (distinct) {
            /* the same article again under another id: a copy of the prepared record */
            struct nf_record *src = recs[(size_t)i % distinct];
            recs[made] = nf_record_new();
            struct nf_buf b = {0};
            char id[33], seed[64];
            snprintf(seed, sizeof(seed), "bench-copy-%ld", i);
            nf_id_make(seed, strlen(seed), id);
            if (nf_record_encode(src, &b) < 0 || nf_record_decode(recs[made], b.data, b.len) < 0 ||
                nf_record_set_cstr(recs[made], NF_F_ID, id) < 0 || hop(recs[made]) < 0)
                nf_record_destroy(&recs[made]);
            nf_buf_free(&b);
        }
        if (recs[made]) {
            size_t len;
            nf_record_str(recs[made], NF_F_TEXT, &len);
            bytes += len;
            made++;
        }
    }
    double t1 = now_s();
    remove_snapshot();
    struct mock_plugin *mp = mock_plugin_new("story", opts);
    if (!mp)
        return 2;
    double t2 = now_s(), c2 = cpu_s();
    double flush_wall = 0, flush_cpu = 0, flush_max = 0;
    int flushes = 0;
    for (size_t i = 0; i < made; i++) {
        if (mock_process(mp, recs[i]) != NF_OK)
            fprintf(stderr, "failed: %s\n", mock_last_error());
        /* a batch ends every 200 articles, as in the host: the flush appends to the log and
         * writes a snapshot when snapshot_s says so; timed apart from the judging */
        if (i % 200 == 199) {
            double f0 = now_s(), fc0 = cpu_s();
            mock_flush(mp);
            double d = now_s() - f0;
            flush_wall += d, flush_cpu += cpu_s() - fc0, flushes++;
            flush_max = d > flush_max ? d : flush_max;
        }
    }
    double t3 = now_s() - flush_wall, c3 = cpu_s() - flush_cpu;
    mock_flush(mp);
    printf("  story: %zu articles (%zu distinct texts, %.0f bytes of text on average) assigned "
           "in %.3f s of CPU (%.3f s wall): %.0f articles per CPU second (%.0f/s wall); %lld "
           "stories, %lld joins; setup (clean_text + extract_meta) %.1f s\n",
           made, n < made ? n : made, made ? (double)bytes / made : 0, c3 - c2, t3 - t2,
           (double)made / (c3 - c2), (double)made / (t3 - t2),
           (long long)mock_counter("story_new"), (long long)mock_counter("story_joined"),
           t1 - t0);
    printf("  story: %d flushes (every 200 articles) stopped the worker %.1f ms in all, %.1f ms "
           "at most\n", flushes, flush_wall * 1000, flush_max * 1000);
    double t4 = now_s();
    mock_plugin_destroy(&mp);
    printf("  story: snapshot on shutdown %.3f s\n", now_s() - t4);
    remove_snapshot();
    for (size_t i = 0; i < made; i++)
        nf_record_destroy(&recs[i]);
    free(recs);
    hops_free();
    free_corpus(a, n);
    rmdir(mock_state_dir());
    return 0;
}

/* Two undated arrests of one team's players share their words; the second names another
 * player and no figure of the first. Into the young story of the first, names that agree little
 * and no figure in common count against the join (disagree_young_weight), here even with the
 * lead's names counted as any other; without it (and without the rise of agree_weight) the two
 * are one story. A second telling of the first arrest, naming its player, joins either way. */
static void test_who_and_how_many(void **state)
{
    (void)state;
    const char *const on[] = {"lead_weight=1", NULL};
    const char *const off[] = {"lead_weight=1", "agree_weight=0", "disagree_young_weight=0",
                               NULL};
    arrests_told(on, "who", true);
    arrests_told(off, "who", false);
}

/* One event told five ways, undated: the first two alike, the next two worded apart from them
 * (below the threshold: a story of their own), the fifth close to both pairs. */
#define QUAKE_TOLD 5
static const char *const quake[QUAKE_TOLD] = {
    "A strong earthquake shook the mountain town of Ayacucho in southern Peru, toppling adobe "
    "homes and a colonial church tower. Rescuers searched the rubble through the night and "
    "the regional governor asked for tents and blankets.",
    "Rescuers searched the rubble of adobe homes in Ayacucho through the night after a strong "
    "earthquake toppled a colonial church tower in the mountain town; the regional governor "
    "asked for tents.",
    "Peru's geophysical institute measured the tremor at magnitude 6.1, centred 40 kilometres "
    "below the Andes near Ayacucho; seismologists expect aftershocks. Hospitals in Lima were "
    "put on alert and schools closed for inspection.",
    "Seismologists at Peru's geophysical institute put the tremor at magnitude 6.1, 40 "
    "kilometres below the Andes near Ayacucho, and expect aftershocks; hospitals in Lima were "
    "put on alert.",
    "A magnitude 6.1 earthquake toppled adobe homes and a colonial church tower in Ayacucho, "
    "Peru's geophysical institute said, centred 40 kilometres below the Andes. Rescuers "
    "searched the rubble through the night; seismologists expect aftershocks, and hospitals "
    "in Lima were put on alert.",
};

/* The tellings, read in that order, through a stage; a store holds what each record says. */
static void quake_told(struct mock_plugin *mp, struct nf_record *r[QUAKE_TOLD], struct held *h)
{
    for (int i = 0; i < QUAKE_TOLD; i++) {
        char seedid[32];
        snprintf(seedid, sizeof(seedid), "quake-%d", i);
        r[i] = plain(seedid, quake[i], NULL);
        assert_int_equal(nf_record_set_int(r[i], NF_F_READ_ORDER, 1000 * (i + 1)), 0);
        const char *sid = story_of(mp, r[i]);
        if (i < 4) /* two stories of two, at first */
            assert_string_equal(sid, id_of(r[i < 2 ? 0 : 2]));
        held_store(h, r[i], sid);
    }
}

/* A story split at its start is mended: the fifth telling joins one of the two stories and
 * finds the other next best, their centroids are alike and one is young (two members), so they
 * are merged under the name of the article read first and the record carries the rename to the
 * store. Afterwards (and after a crash, from the log) a copy of each telling and each telling
 * sent again are in the merged story, the second member of the story merged away (no name of
 * it) found through the name it joined under, and one sent again carries the rename again.
 * Without merges (merge_threshold=0) the two stories stay apart. */
static void test_split_story_merged(void **state)
{
    (void)state;
    const char *const off[] = {"merge_threshold=0", NULL};
    struct mock_plugin *mp = story_new(off);
    struct nf_record *r[QUAKE_TOLD];
    struct held h = {0};
    int64_t merged = mock_counter("story_merged");
    quake_told(mp, r, &h);
    assert_string_equal(held_story(&h, id_of(r[3])), id_of(r[2]));
    assert_string_not_equal(held_story(&h, id_of(r[1])), held_story(&h, id_of(r[3])));
    assert_int_equal(mock_counter("story_merged"), merged);
    for (int i = 0; i < QUAKE_TOLD; i++)
        nf_record_destroy(&r[i]);
    mock_plugin_destroy(&mp);
    remove_snapshot();

    const char *const opts[] = {"snapshot_s=3600", NULL};
    mp = story_new(opts);
    struct held m = {0};
    quake_told(mp, r, &m);
    assert_int_equal(mock_counter("story_merged"), merged + 1);
    for (int i = 0; i < QUAKE_TOLD; i++)
        assert_string_equal(held_story(&m, id_of(r[i])), id_of(r[0]));
    assert_int_equal(mock_flush(mp), NF_OK);
    crash(&mp); /* the merge is in the log only */

    mp = story_new(opts);
    int64_t created = mock_counter("story_new");
    for (int i = 0; i < 4; i++) {
        char seedid[32];
        snprintf(seedid, sizeof(seedid), "quake-copy-%d", i);
        struct nf_record *copy = plain(seedid, quake[i], NULL);
        assert_int_equal(nf_record_set_cstr(copy, NF_F_DUP_OF, id_of(r[i])), 0);
        assert_string_equal(story_of(mp, copy), id_of(r[0]));
        nf_record_destroy(&copy);
        /* a store that lost the record that carried the merge is put right by the one sent
         * again */
        struct held lost = {0};
        for (int j = 0; j < 4; j++)
            held_set(&lost, id_of(r[j]), id_of(r[j < 2 ? 0 : 2]));
        nf_record_unset(r[i], NF_F_STORY_ID);
        held_store(&lost, r[i], story_of(mp, r[i]));
        for (int j = 0; j < 4; j++)
            assert_string_equal(held_story(&lost, id_of(r[j])), id_of(r[0]));
    }
    /* another telling joins the merged story */
    struct nf_record *more = plain("quake-more", quake[4], NULL);
    assert_int_equal(nf_record_set_int(more, NF_F_READ_ORDER, 9000), 0);
    assert_string_equal(story_of(mp, more), id_of(r[0]));
    assert_int_equal(mock_counter("story_new"), created);
    for (int i = 0; i < QUAKE_TOLD; i++)
        nf_record_destroy(&r[i]);
    nf_record_destroy(&more);
    mock_plugin_destroy(&mp);
}

/* Two events of one kind: two players of one team arrested for drunken driving weeks apart,
 * told five times each in the team's words. The second event's first telling recalls the first
 * and joins its story, and the rest follow; the story is split when its members fall in two that
 * differ in their figures (ages, times, routes, bail), and the record that splits it carries the
 * members it moves to the stores (story_of). A worker killed after the split and started again
 * (the log judged again), or stopped and started (the snapshot's member lists), knows both
 * stories; a member sent again carries the moves again, for a store that lost the record that
 * carried them. */
#define ARRESTS 5
static const char *const arrest_a[ARRESTS] = {
    "Harbor City Sharks receiver Marcus Bell was arrested on suspicion of drunken driving ear"
    "ly Tuesday, the state highway patrol said. Bell, 25, was stopped at 2:30 a.m. on Route 5"
    "2 after his car was clocked at 85 mph. He was booked and released on $5,000 bail. The Sh"
    "arks play the Rangers in the playoffs on Sunday.",
    "Sharks wide receiver Marcus Bell faces a drunken driving charge after officers stopped h"
    "im on Route 52 at about 2:30 a.m. Tuesday. The 25-year-old was driving 85 mph, the highw"
    "ay patrol said, and was released after posting $5,000 bail. Coach Dan Ortiz said Bell wi"
    "ll play against the Rangers on Sunday.",
    "The highway patrol arrested Sharks receiver Marcus Bell, 25, on suspicion of driving und"
    "er the influence on Tuesday. Bell was pulled over on Route 52 at 2:30 a.m. doing 85 mph "
    "and was freed on $5,000 bail. The team said it was aware of the arrest before Sunday's p"
    "layoff game against the Rangers.",
    "Marcus Bell, the Sharks' 25-year-old receiver, was booked for drunken driving after a st"
    "op on Route 52 at 2:30 a.m. Tuesday, when he was clocked at 85 mph. Bell posted $5,000 b"
    "ail. The Sharks said the receiver would face the Rangers on Sunday.",
    "Sharks receiver Marcus Bell was released on $5,000 bail after his arrest for drunken dri"
    "ving on Route 52 early Tuesday. Officers said Bell, 25, was going 85 mph at 2:30 a.m. Th"
    "e Sharks meet the Rangers in Sunday's playoff game."};
static const char *const arrest_b[ARRESTS] = {
    "Harbor City Sharks defensive tackle Leon Carter was arrested on suspicion of drunken dri"
    "ving early Saturday, the state highway patrol said, weeks after receiver Marcus Bell was"
    " arrested for drunken driving and released on bail before the playoff game against the R"
    "angers. Carter, 32, was stopped at 1:15 a.m. on Route 94 after his car was clocked at 92"
    " mph. He was released on $10,000 bail.",
    "Sharks defensive tackle Leon Carter faces a drunken driving charge, the second Sharks pl"
    "ayer arrested this month. Officers stopped the 32-year-old on Route 94 at 1:15 a.m. Satu"
    "rday at 92 mph, the highway patrol said. Carter posted $10,000 bail.",
    "The highway patrol arrested Sharks tackle Leon Carter, 32, on suspicion of driving under"
    " the influence on Saturday, weeks after a teammate's arrest. Carter was pulled over on R"
    "oute 94 at 1:15 a.m. doing 92 mph and was freed on $10,000 bail.",
    "Leon Carter, the Sharks' 32-year-old defensive tackle, was booked for drunken driving af"
    "ter a stop on Route 94 at 1:15 a.m. Saturday, when he was clocked at 92 mph. Carter post"
    "ed $10,000 bail; he is the second Sharks player arrested this month.",
    "Sharks tackle Leon Carter was released on $10,000 bail after his arrest for drunken driv"
    "ing on Route 94 early Saturday. Officers said Carter, 32, was going 92 mph at 1:15 a.m.,"
    " the team's second such arrest this month."};

static int count_moves(void *arg, enum nf_amend_kind kind, const char *key, const char *val)
{
    (void)key, (void)val;
    *(int *)arg += kind == NF_AMEND_STORY_OF;
    return 0;
}

/* How many moves (story_of) the record carries. */
static int moves_of(struct nf_record *rec)
{
    int n = 0;
    const char *why;
    assert_int_equal(nf_amend_each(rec, count_moves, &n, &why), 0);
    return n;
}

/* The record that split the story, as its upstream would send it again. */
struct splitter {
    char seed[32];
    const char *text;
};

static struct nf_record *splitter_again(const struct splitter *by)
{
    assert_non_null(by->text);
    return plain(by->seed, by->text, NULL);
}

/* Tells both arrests into h; *by: the record that split the story (the one carrying moves). */
static void two_arrests_told(struct mock_plugin **mp, const char *const *opts, bool kill,
                             struct held *h, struct nf_record *ra[ARRESTS],
                             struct nf_record *rb[ARRESTS], struct splitter *by)
{
    *by = (struct splitter){0};
    /* arrival: a0 a1 b0 a2 b1 b2 | a3 b3 a4 b4, the worker killed (or stopped) at the bar */
    const char order[] = "aabab|babab";
    int ia = 0, ib = 0;
    for (const char *o = order; *o; o++) {
        if (*o == '|') {
            if (!opts)
                continue;
            assert_int_equal(mock_flush(*mp), NF_OK);
            if (kill)
                crash(mp);
            else
                mock_plugin_destroy(mp);
            *mp = story_new(opts);
            continue;
        }
        char seed[32];
        bool a = *o == 'a';
        snprintf(seed, sizeof(seed), "arrest-%c%d", *o, a ? ia : ib);
        struct nf_record *r = plain(seed, a ? arrest_a[ia] : arrest_b[ib], NULL);
        held_store(h, r, story_of(*mp, r));
        if (moves_of(r)) {
            assert_null(by->text);
            snprintf(by->seed, sizeof(by->seed), "%s", seed);
            by->text = a ? arrest_a[ia] : arrest_b[ib];
        }
        if (a)
            ra[ia++] = r;
        else
            rb[ib++] = r;
    }
}

/* A store that lost the record that split the arrests' story holds each other row as its
 * record said, some of b's in a0's story; that record, sent again by its upstream, carries the
 * moves again and puts every row right. Frees the records. */
static void lost_store_mended(struct mock_plugin *mp, struct nf_record *ra[ARRESTS],
                              struct nf_record *rb[ARRESTS], const struct splitter *by)
{
    struct held lost = {0};
    for (int i = 0; i < ARRESTS; i++) {
        held_set(&lost, id_of(ra[i]), nf_record_str(ra[i], NF_F_STORY_ID, NULL));
        held_set(&lost, id_of(rb[i]), nf_record_str(rb[i], NF_F_STORY_ID, NULL));
    }
    int moved = 0;
    for (int i = 0; i < ARRESTS; i++)
        moved += strcmp(held_story(&lost, id_of(rb[i])), id_of(ra[0])) == 0;
    assert_true(moved >= 1);
    struct nf_record *again = splitter_again(by);
    held_store(&lost, again, story_of(mp, again));
    assert_true(moves_of(again) >= 1);
    nf_record_destroy(&again);
    for (int i = 0; i < ARRESTS; i++) {
        assert_string_equal(held_story(&lost, id_of(ra[i])), id_of(ra[0]));
        assert_string_equal(held_story(&lost, id_of(rb[i])), id_of(rb[0]));
    }
    for (int i = 0; i < ARRESTS; i++)
        nf_record_destroy(&ra[i]), nf_record_destroy(&rb[i]);
}

static void test_two_events_split(void **state)
{
    (void)state;
    struct nf_record *ra[ARRESTS], *rb[ARRESTS];
    struct splitter by;
    const char *const nosplit[] = {"split_ratio=0", NULL};
    struct mock_plugin *mp = story_new(nosplit);
    struct held one = {0};
    two_arrests_told(&mp, NULL, false, &one, ra, rb, &by);
    assert_null(by.text);
    for (int i = 0; i < ARRESTS; i++) /* without a split: one story */
        assert_string_equal(held_story(&one, id_of(rb[i])), id_of(ra[0]));
    for (int i = 0; i < ARRESTS; i++)
        nf_record_destroy(&ra[i]), nf_record_destroy(&rb[i]);
    mock_plugin_destroy(&mp);
    remove_snapshot();

    const char *const opts[] = {"snapshot_s=3600", "split_ratio=0.6", NULL};
    for (int kill = 0; kill < 2; kill++) {
        mp = story_new(opts);
        int64_t split = mock_counter("story_split");
        struct held two = {0};
        two_arrests_told(&mp, opts, kill, &two, ra, rb, &by);
        assert_int_equal(mock_counter("story_split"), split + 1);
        for (int i = 0; i < ARRESTS; i++) {
            assert_string_equal(held_story(&two, id_of(ra[i])), id_of(ra[0]));
            assert_string_equal(held_story(&two, id_of(rb[i])), id_of(rb[0]));
        }
        /* a store that lost the record carrying the moves: that record sent again mends it */
        lost_store_mended(mp, ra, rb, &by);
        mock_plugin_destroy(&mp);
        remove_snapshot();
    }
}

/* The moves of a split are kept apart from the member lists: a story that grew past the members
 * it keeps (STORY_SPLIT_MAX) and a stop and start (the snapshot's moves) later, the record that
 * split it, sent again, still carries them. */
static void test_moves_outlive_member_lists(void **state)
{
    (void)state;
    struct nf_record *ra[ARRESTS], *rb[ARRESTS];
    struct splitter by;
    const char *const opts[] = {"snapshot_s=3600", "split_ratio=0.6", NULL};
    struct mock_plugin *mp = story_new(opts);
    struct held told = {0};
    two_arrests_told(&mp, NULL, false, &told, ra, rb, &by);
    for (int i = 0; i < 40; i++) { /* b's story grows past the members it keeps */
        char seed[32];
        snprintf(seed, sizeof(seed), "arrest-b-more%d", i);
        struct nf_record *r = plain(seed, arrest_b[i % ARRESTS], NULL);
        assert_string_equal(story_of(mp, r), id_of(rb[0]));
        assert_int_equal(moves_of(r), 0);
        nf_record_destroy(&r);
    }
    mock_plugin_destroy(&mp);
    mp = story_new(opts);
    lost_store_mended(mp, ra, rb, &by);
    mock_plugin_destroy(&mp);
}

/* The two arrests as test_name_given_again tells them: arrival, with the read order of each;
 * b1 is read first, a0 arrives first. */
static const struct {
    char ev;
    int i, order;
} again_told[] = {{'a', 0, 2000}, {'a', 1, 3000}, {'b', 0, 4000}, {'a', 2, 5000},
                  {'b', 1, 1000}, {'b', 2, 6000}, {'a', 3, 7000}, {'b', 3, 8000},
                  {'a', 4, 9000}, {'b', 4, 10000}};
enum { AGAIN_N = 10, AGAIN_A0 = 0, AGAIN_B0 = 2, AGAIN_B1 = 4 };

/* Telling k of again_told as a record (a new one each call: a telling sent again). */
static struct nf_record *again_record(int k)
{
    char seed[32];
    snprintf(seed, sizeof(seed), "again-%c%d", again_told[k].ev, again_told[k].i);
    struct nf_record *r =
        plain(seed, again_told[k].ev == 'a' ? arrest_a[again_told[k].i] : arrest_b[again_told[k].i],
              NULL);
    assert_int_equal(nf_record_set_int(r, NF_F_READ_ORDER, again_told[k].order), 0);
    return r;
}

/* Every article of r in its arrest's story: a's named a0 again, b's named b1. */
static void again_apart(const struct held *h, struct nf_record *const *r)
{
    for (int k = 0; k < AGAIN_N; k++)
        assert_string_equal(held_story(h, id_of(r[k])),
                            id_of(r[again_told[k].ev == 'a' ? AGAIN_A0 : AGAIN_B1]));
}

/* A name given again: the first arrest's first telling begins the story, and a telling of the
 * second read before it but arriving later renames the story (its former name: a0); the split
 * names the first arrest's side after a0 again. A member of the second's story sent again carries
 * its renames again, but not a0's: that would move the first arrest's rows into the second's. */
static void test_name_given_again(void **state)
{
    (void)state;
    const char *const opts[] = {"split_ratio=0.6", NULL};
    struct mock_plugin *mp = story_new(opts);
    struct nf_record *r[AGAIN_N];
    struct held h = {0};
    bool renamed = false;
    for (int k = 0; k < AGAIN_N; k++) {
        r[k] = again_record(k);
        held_store(&h, r[k], story_of(mp, r[k]));
        renamed |= k == AGAIN_B1 &&
                   strcmp(held_story(&h, id_of(r[AGAIN_A0])), id_of(r[AGAIN_B1])) == 0;
    }
    assert_true(renamed); /* b1 renamed a0's story */
    again_apart(&h, r);   /* split: each arrest its own story, a's named a0 again */
    struct nf_record *again = again_record(AGAIN_B0);
    held_store(&h, again, story_of(mp, again));
    nf_record_destroy(&again);
    again_apart(&h, r);
    for (int k = 0; k < AGAIN_N; k++)
        nf_record_destroy(&r[k]);
    mock_plugin_destroy(&mp);
}

/* The same tellings, but the store loses the commit of b1, whose merge renamed a0's story (its
 * rows, b0's among them, stay under a0), and b1 comes again after the split that named the new
 * side a0 again. A rename a0 -> b1 carried again would take the new story's rows along, so it is
 * not; the split moved the kept side's members one by one, and b0's row is under b1. Without
 * those moves b0 stays under a0, in the other arrest's story. */
static void test_name_given_again_rename_lost(void **state)
{
    (void)state;
    const char *const opts[] = {"split_ratio=0.6", NULL};
    struct mock_plugin *mp = story_new(opts);
    struct nf_record *r[AGAIN_N];
    struct held h = {0};
    int64_t splits = mock_counter("story_split");
    for (int k = 0; k < AGAIN_N; k++) {
        r[k] = again_record(k);
        const char *sid = story_of(mp, r[k]);
        if (k != AGAIN_B1) /* lost with the store's commit */
            held_store(&h, r[k], sid);
    }
    assert_true(mock_counter("story_split") > splits);
    struct nf_record *again = again_record(AGAIN_B1); /* sent again by its source */
    held_store(&h, again, story_of(mp, again));
    nf_record_destroy(&again);
    again_apart(&h, r);
    for (int k = 0; k < AGAIN_N; k++)
        nf_record_destroy(&r[k]);
    mock_plugin_destroy(&mp);
}

/* One casting told eight times in two ways: four tellings say what the show is and who
 * announced it, four how the fans took it and whom the actor follows. The last two of each way
 * give a figure (his age; the viewers), the others none. The ways are far apart in words
 * (across/within 0.21) and their figures differ, but figures are compared on 3 of the 21 pairs
 * of members when the seventh joins and on 6 of the 28 with the eighth: under
 * split_figure_pairs, so the story is kept whole; with split_figure_pairs=0 it is split. */
#define CAST 8
static const char *const casting[CAST] = {
    "Actor Tom Avery is the new captain of Starfall: the little-known actor will lead the "
    "long-running science fiction series, its broadcaster said.",
    "Actor Tom Avery is the new captain of Starfall, replacing James Hale at the helm of the "
    "ship, and fans were surprised on Saturday.",
    "Starfall, the long-running science fiction series, has a new captain: little-known actor "
    "Tom Avery, its broadcaster said.",
    "Surprised fans met Starfall's new captain, actor Tom Avery, on Saturday: he replaces "
    "James Hale at the helm of the ship.",
    "Little-known actor Tom Avery, 27, was named the new captain of Starfall, the "
    "broadcaster's long-running science fiction series.",
    "Tom Avery was named Starfall's new captain on Saturday before 6.5 million viewers, taking "
    "the helm of the ship after James Hale, to the surprise of fans.",
    "The broadcaster named Tom Avery, 27, a little-known actor, the new captain of its "
    "long-running science fiction series Starfall.",
    "Fans were surprised on Saturday as actor Tom Avery was named the captain of Starfall "
    "before 6.5 million viewers, taking the ship's helm from James Hale."};

/* Tells the n texts, undated, to a new story stage with opts, the stores keeping what the
 * records carry; returns how many are not in the first's story at the end (and *splits, the
 * splits taken). */
static int told_apart(const char *const *opts, const char *const *text, int n, const char *tag,
                      int64_t *splits)
{
    struct mock_plugin *mp = story_new(opts);
    int64_t before = mock_counter("story_split");
    struct nf_record *r[16];
    struct held h = {0};
    assert_true(n <= 16);
    for (int i = 0; i < n; i++) {
        char seed[32];
        snprintf(seed, sizeof(seed), "%s-%d", tag, i);
        r[i] = plain(seed, text[i], NULL);
        held_store(&h, r[i], story_of(mp, r[i]));
    }
    int apart = 0;
    for (int i = 0; i < n; i++)
        apart += strcmp(held_story(&h, id_of(r[i])), held_story(&h, id_of(r[0]))) != 0;
    *splits = mock_counter("story_split") - before;
    for (int i = 0; i < n; i++)
        nf_record_destroy(&r[i]);
    mock_plugin_destroy(&mp);
    remove_snapshot();
    return apart;
}

static void test_short_tellings_kept(void **state)
{
    (void)state;
    for (int rule = 0; rule < 2; rule++) {
        const char *const opts[] = {"split_ratio=0.6",
                                    rule ? "split_figure_pairs=0.4" : "split_figure_pairs=0",
                                    NULL};
        int64_t splits;
        assert_int_equal(told_apart(opts, casting, CAST, "cast", &splits), rule ? 0 : CAST / 2);
        assert_int_equal(splits, rule ? 0 : 1);
    }
}

/* One sinking told in two strands of words: the rescue (coast guard, divers, bodies) and the
 * survivors' grief (families, the harbour town). Each strand's first telling gives no figure and
 * begins a story of its own; both grow, and the third of each names what the other's tell. The
 * two stories' centroids then score 0.40, agreeing on the toll (42 dead, 118 rescued): merged
 * (merge_grown). Told with another toll in the grief strand (another sinking), they score 0.24,
 * their figures' cosine 0: not merged. */
#define STRANDS 6
static const char *const strands[STRANDS] = {
    "The coast guard said divers searched overnight for passengers missing after the ferry "
    "Aurora capsized in rough seas off Kell Island.",
    "Survivors described screaming and darkness as water poured in, while families gathered "
    "at the harbour in Porto Vell to mourn.",
    "Coast guard divers have recovered 42 bodies from the capsized ferry Aurora off Kell "
    "Island, and 118 passengers were rescued, officials said.",
    "Families in Porto Vell mourned the 42 who died as survivors, among the 118 rescued, "
    "described screaming in the dark water.",
    "Officials said 42 people died when the Aurora capsized off Kell Island; coast guard boats "
    "rescued 118 passengers, and survivors' families waited in Porto Vell.",
    "In Porto Vell survivors of the Aurora, which capsized off Kell Island, wept and described "
    "the dark water; families mourned 42 dead, and 118 were rescued."};

/* the grief strand's tellings with figures (3 and 5), of another sinking: another toll */
static const char *const strand_other[2] = {
    "Families in Porto Vell mourned the 17 who died as survivors, among the 64 rescued, "
    "described screaming in the dark water.",
    "In Porto Vell survivors of the Aurora, which capsized off Kell Island, wept and described "
    "the dark water; families mourned 17 dead, and 64 were rescued."};

static void test_strands_merged(void **state)
{
    (void)state;
    const char *other[STRANDS]; /* the grief strand telling of another sinking */
    for (int i = 0; i < STRANDS; i++)
        other[i] = i == 3 || i == 5 ? strand_other[i / 2 - 1] : strands[i];
    const char *const off[] = {"merge_grown=0", NULL}, *const on[] = {"merge_grown=0.35", NULL};
    int64_t splits;
    assert_int_equal(told_apart(off, strands, STRANDS, "strand", &splits), STRANDS / 2);
    assert_int_equal(told_apart(on, strands, STRANDS, "strand", &splits), 0);
    assert_int_equal(told_apart(on, other, STRANDS, "strand", &splits), STRANDS / 2);
}

/* The strands again, in read orders that rename both strands' stories before they merge: in
 * each, the second telling was read before the first (2 before 0, 3 before 1), so each story is
 * named after its second telling and had its first's name before. Then one takes the other in.
 * A store that lost the records carrying those renames (a crash before their commit) holds 0
 * and 1 under their own names; a telling sent again must carry both their renames, whichever
 * story was taken in: a merge keeps the taken-in story's earlier names among its own. */
static void test_merge_keeps_earlier_names(void **state)
{
    (void)state;
    static const int64_t read[STRANDS] = {30, 50, 10, 40, 60, 70};
    const char *const opts[] = {"merge_grown=0.35", NULL};
    struct mock_plugin *mp = story_new(opts);
    struct nf_record *r[STRANDS];
    struct held h = {0};
    for (int i = 0; i < STRANDS; i++) {
        char seed[32];
        snprintf(seed, sizeof(seed), "names-%d", i);
        r[i] = plain(seed, strands[i], NULL);
        assert_int_equal(nf_record_set_int(r[i], NF_F_READ_ORDER, read[i]), 0);
        held_store(&h, r[i], story_of(mp, r[i]));
    }
    for (int i = 0; i < STRANDS; i++) /* one story, named after the article read first */
        assert_string_equal(held_story(&h, id_of(r[i])), id_of(r[2]));
    assert_true(mock_counter("story_merged") > 0);
    struct held lost = {0};
    held_set(&lost, id_of(r[0]), id_of(r[0])); /* as stored before any rename */
    held_set(&lost, id_of(r[1]), id_of(r[1]));
    nf_record_unset(r[5], NF_F_STORY_ID);
    held_store(&lost, r[5], story_of(mp, r[5])); /* a grief telling sent again */
    assert_string_equal(held_story(&lost, id_of(r[0])), id_of(r[2]));
    assert_string_equal(held_story(&lost, id_of(r[1])), id_of(r[2]));
    for (int i = 0; i < STRANDS; i++)
        nf_record_destroy(&r[i]);
    mock_plugin_destroy(&mp);
}

/* Seven tellings of one story arrive in the reverse of the order they were read, so each
 * renames the story after itself; r[i] is the i-th to arrive, `lost` a store that lost every
 * rename (each row under the name its own record gave). The state is written at the end. */
#define RENAMES 7
static void renamed_story(const char *const *opts, struct nf_record *r[RENAMES],
                          struct held *lost)
{
    struct mock_plugin *mp = story_new(opts);
    int64_t renamed = mock_counter("story_renamed");
    for (int i = 0; i < RENAMES; i++) {
        char seed[32];
        snprintf(seed, sizeof(seed), "renamed-%d", i);
        r[i] = plain(seed, i % 2 ? storm2 : storm, NULL);
        assert_int_equal(nf_record_set_int(r[i], NF_F_READ_ORDER, 100 - i), 0);
        assert_string_equal(story_of(mp, r[i]), id_of(r[i])); /* read first so far */
        held_set(lost, id_of(r[i]), id_of(r[i]));
    }
    assert_int_equal(mock_counter("story_renamed") - renamed, RENAMES - 1);
    mock_plugin_destroy(&mp); /* the state written */
}

/* A story renamed more often than the four names a story once kept (renamed_story): one member
 * sent again after a restart puts the store that lost every rename right, the renames it
 * carries reaching back to the first name. Then a snapshot whose list of former names is longer
 * than a story keeps is refused. */
static void test_renamed_many_times(void **state)
{
    (void)state;
    const char *const opts[] = {"snapshot_s=3600", NULL};
    struct nf_record *r[RENAMES];
    struct held lost = {0};
    renamed_story(opts, r, &lost);
    struct mock_plugin *mp = story_new(opts);
    nf_record_unset(r[3], NF_F_STORY_ID);
    held_store(&lost, r[3], story_of(mp, r[3]));
    for (int i = 0; i < RENAMES; i++)
        assert_string_equal(held_story(&lost, id_of(r[i])), id_of(r[RENAMES - 1]));
    mock_plugin_destroy(&mp);
    /* the file ends: the one list (its slot, RENAMES - 1, the names), the moves ring (its size,
     * no entry), the checksum */
    size_t len;
    char *data = mock_slurp(snap_path, &len);
    assert_non_null(data);
    size_t count = len - 8 - 8 - 16 * (RENAMES - 1) - 4;
    uint32_t v;
    memcpy(&v, data + count, 4);
    assert_int_equal(v, RENAMES - 1);
    v = 65; /* one more than STORY_FORMER_MAX */
    memcpy(data + count, &v, 4);
    snapshot_put_summed(data, len);
    mp = story_new(opts);
    char bad[600];
    snprintf(bad, sizeof(bad), "%s.bad", snap_path);
    assert_int_equal(access(bad, F_OK), 0);
    nf_record_unset(r[0], NF_F_STORY_ID);
    assert_string_equal(story_of(mp, r[0]), id_of(r[0])); /* the stories were forgotten */
    for (int i = 0; i < RENAMES; i++)
        nf_record_destroy(&r[i]);
    mock_plugin_destroy(&mp);
    remove_snapshot();
}

/* A version 9 snapshot kept a story's latest four former names in its item: read by this build
 * they are the story's list, so a member sent again carries their renames, and the state
 * written next (version 10) keeps them. The file is made from a version 10 one of the story of
 * test_renamed_many_times: its list moved into the item (the latest first), its lists section
 * cut out. */
static void test_version9_former_names(void **state)
{
    (void)state;
    /* story_snapshot_encode: the header (version 7 on), story_item.v9_former and v9_nformer */
    enum { VERSION = 8, HEADER = 92, FORMER = 72, NFORMER = 136, KEPT = 4 };
    const char *const opts[] = {"snapshot_s=3600", NULL};
    struct nf_record *r[RENAMES];
    struct held lost = {0};
    renamed_story(opts, r, &lost);
    size_t len;
    char *data = mock_slurp(snap_path, &len);
    assert_non_null(data);
    /* the tail: the lists (their count, the one list: slot, n, the names), moves, checksum */
    const size_t names = len - 8 - 8 - 16 * (RENAMES - 1), section = names - 4 - 4 - 8;
    uint64_t lists;
    uint32_t n, v9 = 9, kept = KEPT;
    memcpy(&lists, data + section, 8), memcpy(&n, data + names - 4, 4);
    assert_int_equal(lists, 1);
    assert_int_equal(n, RENAMES - 1);
    for (uint32_t i = 0; i < KEPT; i++) /* the latest first */
        memcpy(data + HEADER + FORMER + 16 * i, data + names + 16 * (n - 1 - i), 16);
    memcpy(data + HEADER + NFORMER, &kept, 4);
    memcpy(data + VERSION, &v9, 4);
    memmove(data + section, data + names + 16 * n, len - (names + 16 * n));
    len -= names + 16 * n - section;
    snapshot_put_summed(data, len);
    for (int round = 0; round < 2; round++) { /* read as version 9, then as the 10 it wrote */
        struct mock_plugin *mp = story_new(opts);
        struct held again = lost;
        nf_record_unset(r[3], NF_F_STORY_ID);
        held_store(&again, r[3], story_of(mp, r[3]));
        for (int i = RENAMES - 1 - KEPT; i < RENAMES; i++)
            assert_string_equal(held_story(&again, id_of(r[i])), id_of(r[RENAMES - 1]));
        if (round == 0) { /* a new story: the state is written again on shutdown */
            struct nf_record *o = plain("renamed-other", "Completely different words about "
                                        "football scores and a cup final in the rain.", NULL);
            assert_string_equal(story_of(mp, o), id_of(o));
            nf_record_destroy(&o);
        }
        mock_plugin_destroy(&mp);
        char bad[600];
        snprintf(bad, sizeof(bad), "%s.bad", snap_path);
        assert_int_not_equal(access(bad, F_OK), 0);
        char *now = mock_slurp(snap_path, &len);
        assert_non_null(now);
        uint32_t version;
        memcpy(&version, now + VERSION, 4);
        assert_int_equal(version, 10);
        free(now);
    }
    for (int i = 0; i < RENAMES; i++)
        nf_record_destroy(&r[i]);
    remove_snapshot();
}

/* A climbing accident told once at length and twice in short. The feature (told first) names the
 * climbers and their guide again and again among 400 words said once each (its tail, made
 * here); the first short telling, the rescue, joins it (0.468). The second, the climbers' guide,
 * meets in the story what only the feature said: it joins (0.206) because the feature counts in
 * the centroid by its strongest terms; counted by its whole length, with the tail, it weighed a
 * fraction of the rescue's telling and the guide was left alone (0.162). */
#define FEATURE_TAIL 400
static char *feature_text(void)
{
    static const char *const core[] = {
        "The avalanche on Mount Varda buried the camp of Tomas Brenner and Ivo Castell. ",
        "Brenner and Castell had trained with their guide Petra Lund in the Dolomites. ",
        "Lund said Brenner and Castell knew Varda and its avalanche slopes. "};
    size_t cap = 64 * 1024, n = 0;
    char *t = malloc(cap);
    assert_non_null(t);
    for (int r = 0; r < 3; r++)
        for (size_t i = 0; i < sizeof(core) / sizeof(*core); i++)
            n += (size_t)snprintf(t + n, cap - n, "%s", core[i]);
    for (int i = 0; i < FEATURE_TAIL; i++)
        n += (size_t)snprintf(t + n, cap - n, "%s%c%c%c%s", i % 12 ? "" : "They ",
                              'a' + i % 26, 'a' + i / 26 % 26, 'k' + i % 7,
                              i % 12 == 11 ? "er. " : "er ");
    return t;
}

static void test_feature_counts(void **state)
{
    (void)state;
    char *feature = feature_text();
    const char *const text[3] = {
        feature,
        "Rescuers searched Mount Varda for Tomas Brenner and Ivo Castell after an avalanche "
        "buried their camp on its slopes, officials said on the radio.",
        "Their guide Petra Lund said the two had trained in the Dolomites for years."};
    int64_t splits;
    assert_int_equal(told_apart(NULL, text, 3, "feature", &splits), 0);
    free(feature);
}

/* A snapshot whose moves section does not hold together (more entries than are kept, an entry
 * of more articles than a story splits, or cut short) is refused, checksum right or not. */
static void test_hostile_moves(void **state)
{
    (void)state;
    const char *const opts[] = {"snapshot_s=3600", "split_ratio=0.6", NULL};
    for (int how = 0; how < 3; how++) {
        struct nf_record *ra[ARRESTS], *rb[ARRESTS];
        struct splitter by;
        struct held told = {0};
        struct mock_plugin *mp = story_new(opts);
        two_arrests_told(&mp, NULL, false, &told, ra, rb, &by);
        struct nf_record *again = splitter_again(&by);
        story_of(mp, again);
        size_t nm = (size_t)moves_of(again); /* the one entry: by, n, then n ids */
        nf_record_destroy(&again);
        mock_plugin_destroy(&mp);
        size_t len;
        char *data = mock_slurp(snap_path, &len);
        assert_non_null(data);
        size_t entry = len - 8 - 16 * nm - 4 - 16, count = entry - 4;
        uint32_t v;
        memcpy(&v, data + count, 4);
        assert_int_equal(v, 1);
        memcpy(&v, data + entry + 16, 4);
        assert_int_equal(v, nm);
        if (how == 0)
            v = 5000, memcpy(data + count, &v, 4);
        else if (how == 1)
            v = 33, memcpy(data + entry + 16, &v, 4);
        else
            memmove(data + len - 16, data + len - 8, 8), len -= 8;
        snapshot_put_summed(data, len);
        mp = story_new(opts);
        char bad[600];
        snprintf(bad, sizeof(bad), "%s.bad", snap_path);
        assert_int_equal(access(bad, F_OK), 0);
        struct nf_record *r = plain("arrest-a-after", arrest_a[1], NULL);
        assert_string_equal(story_of(mp, r), id_of(r)); /* the stories were forgotten */
        nf_record_destroy(&r);
        for (int i = 0; i < ARRESTS; i++)
            nf_record_destroy(&ra[i]), nf_record_destroy(&rb[i]);
        mock_plugin_destroy(&mp);
        remove_snapshot();
    }
}

/* What a store makes of a stream: each article's story, from its record's own story_id, then
 * the corrections the record carries (renames of every row in a story, then moves of one
 * article), record after record as the stage sent them. */
struct view {
    char (*id)[33], (*story)[33];
    size_t n, cap;
};

static int view_amend(void *arg, enum nf_amend_kind kind, const char *key, const char *val)
{
    struct view *v = arg;
    rows_amend(v->id, v->story, v->n, kind, key, val);
    return 0;
}

static void view_store(struct view *v, struct nf_record *rec)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 1024;
        v->id = realloc(v->id, v->cap * 33), v->story = realloc(v->story, v->cap * 33);
        assert_non_null(v->id), assert_non_null(v->story);
    }
    snprintf(v->id[v->n], 33, "%s", id_of(rec));
    snprintf(v->story[v->n++], 33, "%s", nf_record_str(rec, NF_F_STORY_ID, NULL));
    const char *why;
    assert_int_equal(nf_amend_each(rec, view_amend, v, &why), 0);
}

/* An article's record as story takes it: read order `order`, and dup_of when the article is a
 * copy (as dedup marks it). */
static struct nf_record *stream_record(const struct article *a, const char *corpus, int64_t order)
{
    struct nf_record *r = article_record(a, corpus, 0);
    assert_non_null(r);
    assert_int_equal(nf_record_set_int(r, NF_F_READ_ORDER, order), 0);
    if (a->dup) {
        char uri[1024], id[33];
        snprintf(uri, sizeof(uri), "file://%s#%s", corpus, a->dup);
        nf_id_make(uri, strlen(uri), id);
        assert_int_equal(nf_record_set_cstr(r, NF_F_DUP_OF, id), 0);
    }
    return r;
}

/* How a store loses commits in store_agrees: `lose` records of every `every` (killed before it
 * committed them), which their sources send again `resend` records later. */
struct losses {
    size_t lose, every, resend;
};

/* One pass of test_store_agrees_with_stage over the first `use` articles; late: they arrive in
 * another order than they were read (each in a window of 32, as several workers upstream give
 * them), so that stories are renamed after earlier-read members too. */
static void store_agrees(struct article *a, size_t use, const char *corpus, bool late,
                         struct losses loss)
{
    size_t *at = malloc(use * sizeof(*at)); /* arrival -> article */
    struct nf_record **r = calloc(use, sizeof(*r));
    char (*now)[33] = malloc(use * 33);
    assert_non_null(at), assert_non_null(r), assert_non_null(now);
    for (size_t i = 0; i < use; i++)
        at[i] = i;
    uint32_t x = 12345;
    for (size_t w = 0; late && w < use; w += 32)
        for (size_t i = (w + 32 < use ? w + 32 : use) - 1; i > w; i--) {
            x = x * 1103515245 + 12345;
            size_t j = w + (x >> 8) % (i - w + 1), t = at[i];
            at[i] = at[j], at[j] = t;
        }
    remove_snapshot();
    struct mock_plugin *mp = story_new(NULL);
    /* lossy: a store that loses commits as `loss` says; pos: each article's row in it. What the
     * stage judged is sent on every 20 records; the store commits it `lose` sent records later,
     * and its kill every `every` records loses what it has not committed yet: those records come
     * again `resend` records later, judged as records sent again. */
    struct view v = {0}, again = {0}, lossy = {0};
    struct pend {
        size_t k, due;
        struct nf_record *rec; /* a record sent again (owned), or NULL: r[k] */
    } *pend = calloc(2 * use + 1, sizeof(*pend)), *queue = calloc(2 * use + 1, sizeof(*queue));
    size_t *pos = malloc(use * sizeof(*pos)), npend = 0, nsent = 0, nqueue = 0, step = 0, k = 0;
    assert_non_null(pend), assert_non_null(queue), assert_non_null(pos);
    int64_t split = mock_counter("story_split"), merged = mock_counter("story_merged"),
            renamed = mock_counter("story_renamed");
    for (;;) {
        size_t q = nqueue;
        for (size_t i = 0; i < nqueue; i++)
            if ((k == use || queue[i].due <= step) && (q == nqueue || queue[i].due < queue[q].due))
                q = i;
        if (q == nqueue && k == use)
            break;
        if (step && step % loss.every == 0) { /* the store is killed: what it holds is lost */
            for (size_t i = 0; i < nsent; i++) {
                queue[nqueue++] = (struct pend){pend[i].k, step + loss.resend, NULL};
                nf_record_destroy(&pend[i].rec);
            }
            memmove(pend, pend + nsent, (npend - nsent) * sizeof(*pend));
            npend -= nsent, nsent = 0;
        }
        if (q < nqueue) {
            size_t x = queue[q].k;
            queue[q] = queue[--nqueue];
            struct nf_record *re = stream_record(&a[at[x]], corpus, 1000 + (int64_t)at[x]);
            story_of(mp, re);
            pend[npend++] = (struct pend){x, 0, re};
        } else {
            r[k] = stream_record(&a[at[k]], corpus, 1000 + (int64_t)at[k]);
            story_of(mp, r[k]);
            view_store(&v, r[k]);
            pend[npend++] = (struct pend){k, 0, NULL};
            k++;
        }
        step++;
        bool end = k == use && nqueue == 0;
        if (step % 20 == 0 || end) { /* sent on; the store commits what is `lose` behind */
            nsent = npend;
            size_t keep = end ? 0 : loss.lose, c = 0;
            for (; nsent > keep; nsent--, c++) {
                pos[pend[c].k] = lossy.n;
                view_store(&lossy, pend[c].rec ? pend[c].rec : r[pend[c].k]);
                nf_record_destroy(&pend[c].rec);
            }
            memmove(pend, pend + c, (npend - c) * sizeof(*pend));
            npend -= c;
        }
    }
    assert_int_equal(npend, 0);
    assert_true(mock_counter("story_split") > split); /* the stream splits and merges */
    assert_true(mock_counter("story_merged") > merged);
    assert_true(!late || mock_counter("story_renamed") > renamed);
    /* each record sent again: its story now, against the store's; and a second store, which
     * takes the records sent again too (rows and corrections), still agrees */
    for (size_t k = 0; k < use; k++)
        view_store(&again, r[k]);
    for (size_t k = 0; k < use; k++) {
        struct nf_record *re = stream_record(&a[at[k]], corpus, 1000 + (int64_t)at[k]);
        snprintf(now[k], 33, "%s", story_of(mp, re));
        view_store(&again, re);
        nf_record_destroy(&re);
    }
    size_t differ = 0, differ_again = 0, differ_lossy = 0;
    for (size_t k = 0; k < use; k++) {
        if (strcmp(v.story[k], now[k]) != 0 && differ++ < 5)
            fprintf(stderr, "%s: stored in %s, in %s for the stage\n", v.id[k], v.story[k], now[k]);
        /* the lossy store's row of the article (it holds each once, in another order) */
        size_t j = pos[k];
        assert_true(j < lossy.n);
        assert_string_equal(lossy.id[j], v.id[k]);
        if (strcmp(lossy.story[j], now[k]) != 0 && differ_lossy++ < 5)
            fprintf(stderr, "%s: stored after lost commits in %s, in %s for the stage\n",
                    v.id[k], lossy.story[j], now[k]);
        /* again holds each article twice, the later row last: the store keeps one */
        assert_string_equal(again.id[use + k], v.id[k]);
        if (strcmp(again.story[use + k], now[k]) != 0 && differ_again++ < 5)
            fprintf(stderr, "%s: stored again in %s, in %s for the stage\n", v.id[k],
                    again.story[use + k], now[k]);
        nf_record_destroy(&r[k]);
    }
    assert_int_equal(differ, 0);
    assert_int_equal(differ_again, 0);
    assert_int_equal(differ_lossy, 0);
    mock_plugin_destroy(&mp);
    free(at), free(r), free(now), free(v.id), free(v.story), free(again.id), free(again.story);
    free(lossy.id), free(lossy.story), free(pend), free(queue), free(pos);
}

/* On a real stream, where stories are renamed, merged and split (several of them by one record),
 * the store that the records and their corrections make puts every article in the story the
 * stage itself finds it in at the end (each record sent again), read in order or arriving out of
 * it, and so does a store that lost the commits of some records and got them again later.
 * Skipped without ../shared. */
static void test_store_agrees_with_stage(void **state)
{
    (void)state;
    const char *corpus = NF_SOURCE_DIR "/../shared/corpus/news/reuters21578.jsonl.gz";
    if (access(corpus, R_OK) != 0) {
        fprintf(stderr, "skipped: no %s (the ../shared tree is absent)\n", corpus);
        skip();
    }
    struct article *a;
    size_t n = read_corpus(corpus, &a);
    const struct losses loss = {.lose = 20, .every = 200, .resend = 300};
    store_agrees(a, n < 5000 ? n : 5000, corpus, false, loss);
    store_agrees(a, n < 5000 ? n : 5000, corpus, true, loss);
    for (size_t i = 0; i < n; i++)
        free(a[i].id), free(a[i].title), free(a[i].text), free(a[i].date), free(a[i].dup);
    free(a);
}

/* The stream e2e.chaos runs on (make_corpus.py's 20,000 articles, the fifth that are copies
 * with dup_of as a dedup that finds them all says), through a store that loses the commits of
 * 80 records in every 200 and gets them again 400 records later: it agrees with the stage at
 * the end. With a split that named its new side after a story the kept one had taken in, the
 * lost rename left 2 articles under that name, in the new story (test_name_given_again_rename_lost
 * holds the case alone). Skipped without ../shared, and in the sanitized build (over a minute
 * there). */
static void test_store_agrees_after_lost_commits(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    fprintf(stderr, "skipped: 20,000 articles in the sanitized build\n");
    skip();
#endif
    const char *tool = NF_SOURCE_DIR "/../shared/tools/make_corpus.py";
    if (access(tool, R_OK) != 0) {
        fprintf(stderr, "skipped: no %s (the ../shared tree is absent)\n", tool);
        skip();
    }
    char dir[] = "/tmp/nf-story-corpus.XXXXXX", cmd[2048], path[600];
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof(cmd), "python3 '%s' '%s' --articles 20000 --format jsonl >/dev/null",
             tool, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof(path), "%s/articles.jsonl", dir);
    struct article *a;
    size_t n = read_corpus(path, &a);
    assert_int_equal(n, 20000);
    /* dup_of from the copies the tool made (ids are the articles' numbers) */
    snprintf(path, sizeof(path), "%s/gold_dups.jsonl", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[512];
    size_t copies = 0;
    while (fgets(line, sizeof(line), f)) {
        json_t *j = json_loads(line, 0, NULL);
        const char *key = json_string_value(json_object_get(j, "key")),
                   *orig = json_string_value(json_object_get(j, "original"));
        size_t at = key ? (size_t)strtoul(key, NULL, 10) : n;
        if (at < n && orig && strcmp(a[at].id, key) == 0 && !a[at].dup)
            a[at].dup = strdup(orig), copies++;
        json_decref(j);
    }
    fclose(f);
    assert_true(copies > n / 10);
    const struct losses loss = {.lose = 80, .every = 200, .resend = 400};
    snprintf(path, sizeof(path), "%s/articles.jsonl", dir);
    store_agrees(a, n, path, false, loss);
    for (size_t i = 0; i < n; i++)
        free(a[i].id), free(a[i].title), free(a[i].text), free(a[i].date), free(a[i].dup);
    free(a);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "--eval") == 0)
        return run_eval(argc, argv);
    if (argc >= 4 && strcmp(argv[1], "--bench") == 0)
        return run_bench(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_seed_stories, fresh, done),
        cmocka_unit_test_setup_teardown(test_replay, fresh, done),
        cmocka_unit_test_setup_teardown(test_copy, fresh, done),
        cmocka_unit_test_setup_teardown(test_named_after_the_article_read_first, fresh, done),
        cmocka_unit_test_setup_teardown(test_original_arriving_late_joins_its_copies, fresh, done),
        cmocka_unit_test_setup_teardown(test_time_window, fresh, done),
        cmocka_unit_test_setup_teardown(test_templates_need_anchors, fresh, done),
        cmocka_unit_test_setup_teardown(test_big_story_keeps_its_names, fresh, done),
        cmocka_unit_test_setup_teardown(test_big_story_keeps_its_words, fresh, done),
        cmocka_unit_test_setup_teardown(test_names_tell_events_apart, fresh, done),
        cmocka_unit_test_setup_teardown(test_young_stream_keeps_few_as_rare, fresh, done),
        cmocka_unit_test_setup_teardown(test_lead_names_who, fresh, done),
        cmocka_unit_test_setup_teardown(test_topic_names_anchor_both_events, fresh, done),
        cmocka_unit_test_setup_teardown(test_figures_confirm, fresh, done),
        cmocka_unit_test_setup_teardown(test_years_tell_undated_events_apart, fresh, done),
        cmocka_unit_test_setup_teardown(test_own_words_do_not_hide_the_story, fresh, done),
        cmocka_unit_test_setup_teardown(test_warm_restart, fresh, done),
        cmocka_unit_test_setup_teardown(test_log_survives_a_crash, fresh, done),
        cmocka_unit_test_setup_teardown(test_damaged_log, fresh, done),
        cmocka_unit_test_setup_teardown(test_log_append_cut_short, fresh, done),
        cmocka_unit_test_setup_teardown(test_state_files_private, fresh, done),
        cmocka_unit_test_setup_teardown(test_log_replays_decisions, fresh, done),
        cmocka_unit_test_setup_teardown(test_restart_judges_as_before, fresh, done),
        cmocka_unit_test_setup_teardown(test_restart_during_snapshots, fresh, done),
        cmocka_unit_test_setup_teardown(test_kill_while_snapshot_written, fresh, done),
        cmocka_unit_test_setup_teardown(test_damaged_snapshot, fresh, done),
        cmocka_unit_test_setup_teardown(test_hostile_snapshot, fresh, done),
        cmocka_unit_test_setup_teardown(test_version5_snapshot, fresh, done),
        cmocka_unit_test_setup_teardown(test_eviction, fresh, done),
        cmocka_unit_test_setup_teardown(test_idf_files, fresh, done),
        cmocka_unit_test_setup_teardown(test_bad_input, fresh, done),
        cmocka_unit_test_setup_teardown(test_config, fresh, done),
        cmocka_unit_test_setup_teardown(test_who_and_how_many, fresh, done),
        cmocka_unit_test_setup_teardown(test_split_story_merged, fresh, done),
        cmocka_unit_test_setup_teardown(test_two_events_split, fresh, done),
        cmocka_unit_test_setup_teardown(test_moves_outlive_member_lists, fresh, done),
        cmocka_unit_test_setup_teardown(test_hostile_moves, fresh, done),
        cmocka_unit_test_setup_teardown(test_hostile_members, fresh, done),
        cmocka_unit_test_setup_teardown(test_store_agrees_with_stage, fresh, done),
        cmocka_unit_test_setup_teardown(test_store_agrees_after_lost_commits, fresh, done),
        cmocka_unit_test_setup_teardown(test_name_given_again, fresh, done),
        cmocka_unit_test_setup_teardown(test_name_given_again_rename_lost, fresh, done),
        cmocka_unit_test_setup_teardown(test_short_tellings_kept, fresh, done),
        cmocka_unit_test_setup_teardown(test_strands_merged, fresh, done),
        cmocka_unit_test_setup_teardown(test_feature_counts, fresh, done),
        cmocka_unit_test_setup_teardown(test_merge_keeps_earlier_names, fresh, done),
        cmocka_unit_test_setup_teardown(test_renamed_many_times, fresh, done),
        cmocka_unit_test_setup_teardown(test_version9_former_names, fresh, done),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
