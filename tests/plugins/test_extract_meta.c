/* extract_meta through its descriptor against the mock core: the seed articles after
 * clean_text and on their own, dates with and without a year, datelines, titles, language, and
 * gazetteer matching (folding, word boundaries, longest match, exact aliases, file errors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mock_core.h"
#include "newsflow/record.h"

#define GAZETTEER "gazetteer=" NF_SOURCE_DIR "/conf/gazetteer.tsv"

static const char *const seeds[] = {
    "000_a8143c3ee1feb549.txt", "001_d9239e9adab5d809.txt", "002_59196a0494ad5481.txt",
    "003_d827aa3b829ea74b.txt", "004_09dc9a8d14128b2c.txt",
};


static char *seed_bytes(int i, size_t *n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/conf/sample/%s", NF_SOURCE_DIR, seeds[i]);
    char *p = mock_slurp(path, n);
    assert_non_null(p);
    return p;
}

static struct nf_record *new_record(const char *raw, size_t n)
{
    struct nf_record *rec = nf_record_new();
    assert_non_null(rec);
    char id[33];
    nf_id_make(raw, n, id);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_ID, id), 0);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_CONTENT_TYPE, "text/plain"), 0);
    return rec;
}

static const char *str(struct nf_record *rec, enum nf_field f)
{
    return nf_record_str(rec, f, NULL);
}

/* Mentions of the entity, -1 if it is not in the record. */
static int64_t mentions(struct nf_record *rec, enum nf_entity_type type, const char *name)
{
    for (size_t i = 0; i < nf_record_entity_count(rec); i++) {
        const struct nf_entity *e = nf_record_entity(rec, i);
        if (e->type == type && strcmp(e->name, name) == 0)
            return e->mentions;
    }
    return -1;
}

static bool has_name(struct nf_record *rec, const char *name)
{
    for (size_t i = 0; i < nf_record_entity_count(rec); i++)
        if (strcmp(nf_record_entity(rec, i)->name, name) == 0)
            return true;
    return false;
}

static void assert_sorted(struct nf_record *rec)
{
    for (size_t i = 1; i < nf_record_entity_count(rec); i++) {
        const struct nf_entity *a = nf_record_entity(rec, i - 1), *b = nf_record_entity(rec, i);
        assert_true(a->mentions > b->mentions ||
                    (a->mentions == b->mentions && strcmp(a->name, b->name) <= 0));
    }
}

static void dump(struct nf_record *rec, const char *what)
{
    if (!getenv("MOCK_VERBOSE"))
        return;
    fprintf(stderr, "---- %s\ntitle: %s\ndate: %s\ndateline: %s\nlang: %s\n", what,
            str(rec, NF_F_TITLE), str(rec, NF_F_PUBLISHED_AT), nf_record_dateline_place(rec),
            str(rec, NF_F_LANG));
    for (size_t i = 0; i < nf_record_entity_count(rec); i++) {
        const struct nf_entity *e = nf_record_entity(rec, i);
        fprintf(stderr, "  %s %s %lld\n", nf_entity_type_name(e->type), e->name,
                (long long)e->mentions);
    }
}

struct pipeline {
    struct mock_plugin *clean, *meta;
};

static int setup(void **state)
{
    static struct pipeline p;
    const char *const opts[] = {GAZETTEER, NULL};
    p.clean = mock_plugin_new("clean_text", NULL);
    p.meta = mock_plugin_new("extract_meta", opts);
    if (!p.clean || !p.meta)
        return -1;
    *state = &p;
    return 0;
}

static int teardown(void **state)
{
    struct pipeline *p = *state;
    mock_plugin_destroy(&p->clean);
    mock_plugin_destroy(&p->meta);
    return 0;
}

/* clean_text, a hop, extract_meta, a hop: as the two stages would see the record. */
static struct nf_record *run_seed(struct pipeline *p, int i)
{
    size_t n;
    char *raw = seed_bytes(i, &n);
    struct nf_record *rec = new_record(raw, n);
    assert_int_equal(nf_record_set_bytes(rec, NF_F_RAW, raw, n), 0);
    free(raw);
    assert_int_equal(mock_process(p->clean, rec), NF_OK);
    assert_int_equal(mock_roundtrip(rec), 0);
    assert_int_equal(mock_process(p->meta, rec), NF_OK);
    assert_int_equal(mock_roundtrip(rec), 0);
    dump(rec, seeds[i]);
    return rec;
}

/* extract_meta alone, on text that no other stage touched. */
static struct nf_record *run_text(struct pipeline *p, const char *text, int want)
{
    struct nf_record *rec = new_record(text, strlen(text));
    assert_int_equal(nf_record_set_cstr(rec, NF_F_TEXT, text), 0);
    assert_int_equal(mock_process(p->meta, rec), want);
    assert_int_equal(mock_roundtrip(rec), 0);
    dump(rec, text);
    return rec;
}

/* Every fact each seed states, and nothing else: its date, title, byline, outlet, dateline,
 * language and the complete list of its entities with their mentions. Read off the texts. */
struct seed_entity {
    enum nf_entity_type type;
    const char *name;
    int64_t mentions;
};

static const struct seed_facts {
    const char *date, *title, *byline, *outlet, *dateline;
    struct seed_entity ents[20];
} seed_facts[] = {
    {"2023-11-06",
     "In a groundbreaking move, Mali, Burkina Faso, and Niger have signed a historic pact known "
     "as the Alliance of Sahel States",
     NULL, NULL, NULL,
     {{NF_ENT_PLACE, "Burkina Faso", 5},
      {NF_ENT_PLACE, "Mali", 5},
      {NF_ENT_PLACE, "Niger", 5},
      {NF_ENT_PLACE, "Sahel", 3},
      {NF_ENT_ORG, "Alliance of Sahel States", 2},
      {NF_ENT_PLACE, "France", 2},
      {NF_ENT_PLACE, "Liptako-Gourma", 1}}},
    {"2023-09-16",
     "In a significant development on September 16th, three West African Sahel "
     "nations\xE2\x80\x94Mali, Niger, and Burkina Faso\xE2\x80\x94governed by military juntas, "
     "came together to ink a security pact",
     NULL, NULL, NULL,
     {{NF_ENT_PLACE, "Mali", 5},
      {NF_ENT_PLACE, "Niger", 5},
      {NF_ENT_PLACE, "France", 4},
      {NF_ENT_PLACE, "Burkina Faso", 3},
      {NF_ENT_ORG, "ECOWAS", 3},
      {NF_ENT_ORG, "Alliance of Sahel States", 2},
      {NF_ENT_PLACE, "Sahel", 2},
      {NF_ENT_PERSON, "Assimi Go\xC3\xAFta", 1},
      {NF_ENT_ORG, "G5 Sahel", 1},
      {NF_ENT_ORG, "Islamic State", 1},
      {NF_ENT_ORG, "al-Qaeda", 1}}},
    /* "today, Saturday": no date; the first sentence is cut at 200 characters */
    {NULL,
     "Mali, Niger, and Burkina Faso, three countries in the Sahel region of West Africa governed "
     "by military councils, signed a security agreement today, Saturday, pledging to assist each "
     "other in the\xE2\x80\xA6",
     NULL, NULL, NULL,
     {{NF_ENT_PLACE, "Mali", 6},
      {NF_ENT_PLACE, "Niger", 5}, /* "Nigerien President" is not one of them */
      {NF_ENT_PLACE, "Burkina Faso", 4},
      {NF_ENT_PLACE, "France", 4},
      {NF_ENT_ORG, "Alliance of Sahel States", 2}, /* as "Sahel States Alliance" */
      {NF_ENT_ORG, "ECOWAS", 2},
      {NF_ENT_PERSON, "Assimi Go\xC3\xAFta", 1},
      {NF_ENT_PLACE, "Chad", 1},
      {NF_ENT_ORG, "G5 Sahel", 1},
      {NF_ENT_ORG, "Islamic State", 1}, /* as "ISIS" */
      {NF_ENT_PLACE, "Liptako-Gourma", 1}, /* as "Lifetako-Jurma" */
      {NF_ENT_PLACE, "Mauritania", 1},
      {NF_ENT_PERSON, "Mohamed Bazoum", 1},
      {NF_ENT_PLACE, "Sahel", 1},
      {NF_ENT_PLACE, "West Africa", 1},
      {NF_ENT_ORG, "al-Qaeda", 1}}},
    /* "Dec. 22" has no year: no date is made up */
    {NULL, "Mali, Burkina Faso and Niger forge NATO-like pact to fight Sahel insurgents",
     "Ali Musa", "Axadle Times", "Bamako",
     {{NF_ENT_PLACE, "Mali", 3},
      {NF_ENT_PLACE, "Burkina Faso", 2},
      {NF_ENT_ORG, "NATO", 2},
      {NF_ENT_PLACE, "Niger", 2},
      {NF_ENT_PLACE, "Sahel", 2},
      {NF_ENT_PLACE, "Bamako", 1},
      {NF_ENT_ORG, "Islamic State", 1},
      {NF_ENT_ORG, "al-Qaeda", 1}}},
    {"2023-11-08",
     "Niger has taken a significant step to strengthen regional security cooperation by "
     "authorizing the armed forces of Mali and Burkina Faso to intervene on its territory in the "
     "event of an attack",
     NULL, NULL, NULL,
     {{NF_ENT_PLACE, "Niger", 9},
      {NF_ENT_ORG, "ECOWAS", 4},
      {NF_ENT_PLACE, "Burkina Faso", 3},
      {NF_ENT_PLACE, "Mali", 3},
      {NF_ENT_PERSON, "Abdourahamane Tiani", 1},
      {NF_ENT_PLACE, "West Africa", 1}}},
};

static void assert_str_or_null(const char *got, const char *want)
{
    if (want)
        assert_string_equal(got, want);
    else
        assert_null(got);
}

static void test_seed_facts(void **state)
{
    struct pipeline *p = *state;
    for (int i = 0; i < 5; i++) {
        const struct seed_facts *f = &seed_facts[i];
        struct nf_record *rec = run_seed(p, i);
        assert_str_or_null(str(rec, NF_F_PUBLISHED_AT), f->date);
        assert_str_or_null(str(rec, NF_F_TITLE), f->title);
        assert_str_or_null(str(rec, NF_F_BYLINE), f->byline);
        assert_str_or_null(str(rec, NF_F_OUTLET), f->outlet);
        assert_str_or_null(nf_record_dateline_place(rec), f->dateline);
        assert_string_equal(str(rec, NF_F_LANG), "en");
        size_t want = 0;
        for (; f->ents[want].name; want++) {
            const struct nf_entity *e = nf_record_entity(rec, want);
            assert_non_null(e);
            /* in order: most mentioned first, then by name */
            assert_string_equal(e->name, f->ents[want].name);
            assert_int_equal(e->type, f->ents[want].type);
            assert_int_equal(e->mentions, f->ents[want].mentions);
        }
        assert_int_equal(nf_record_entity_count(rec), want);
        nf_record_destroy(&rec);
    }
}

static void test_seed_fields(void **state)
{
    struct pipeline *p = *state;
    static const char *const dates[] = {"2023-11-06", "2023-09-16", NULL, NULL, "2023-11-08"};
    for (int i = 0; i < 5; i++) {
        struct nf_record *rec = run_seed(p, i);
        if (dates[i])
            assert_string_equal(str(rec, NF_F_PUBLISHED_AT), dates[i]);
        else
            assert_null(str(rec, NF_F_PUBLISHED_AT));
        assert_string_equal(str(rec, NF_F_LANG), "en");
        const char *t = str(rec, NF_F_TEXT);
        assert_null(strstr(t, "Advertisement"));
        assert_null(strstr(t, "date 2023"));
        assert_null(strstr(t, "By Ali Musa"));
        /* every seed gets a title, from its headline or its first sentence */
        const char *title = str(rec, NF_F_TITLE);
        assert_non_null(title);
        assert_true(strlen(title) > 20);
        if (i != 3)
            assert_null(nf_record_dateline_place(rec));
        assert_sorted(rec);
        nf_record_destroy(&rec);
    }
}

static void test_seed_003(void **state)
{
    struct pipeline *p = *state;
    struct nf_record *rec = run_seed(p, 3);
    assert_string_equal(str(rec, NF_F_TITLE),
                        "Mali, Burkina Faso and Niger forge NATO-like pact to fight Sahel "
                        "insurgents");
    assert_string_equal(str(rec, NF_F_BYLINE), "Ali Musa");
    assert_string_equal(str(rec, NF_F_OUTLET), "Axadle Times");
    assert_string_equal(nf_record_dateline_place(rec), "Bamako");
    /* "Dec. 22" has no year: no date is made up */
    assert_null(str(rec, NF_F_PUBLISHED_AT));
    assert_null(strstr(str(rec, NF_F_TEXT), "form NATO-style military alliance to fight"));
    assert_int_equal(mentions(rec, NF_ENT_ORG, "al-Qaeda"), 1);
    assert_int_equal(mentions(rec, NF_ENT_ORG, "Islamic State"), 1);
    assert_int_equal(mentions(rec, NF_ENT_ORG, "NATO"), 2);
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "Bamako"), 1);
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "Mali"), 3);
    assert_true(mentions(rec, NF_ENT_PLACE, "Sahel") >= 1);
    assert_true(mentions(rec, NF_ENT_PLACE, "Burkina Faso") >= 1);
    assert_true(mentions(rec, NF_ENT_PLACE, "Niger") >= 1);
    nf_record_destroy(&rec);
}

static void test_seed_entities(void **state)
{
    struct pipeline *p = *state;
    struct nf_record *rec = run_seed(p, 0);
    assert_int_equal(mentions(rec, NF_ENT_ORG, "Alliance of Sahel States"), 2);
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "Liptako-Gourma"), 1);
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "France"), 2);
    assert_true(mentions(rec, NF_ENT_PLACE, "Mali") >= 4);
    assert_true(mentions(rec, NF_ENT_PLACE, "Sahel") >= 1);
    nf_record_destroy(&rec);

    rec = run_seed(p, 1);
    assert_int_equal(mentions(rec, NF_ENT_PERSON, "Assimi Goïta"), 1);
    assert_int_equal(mentions(rec, NF_ENT_ORG, "al-Qaeda"), 1);
    assert_int_equal(mentions(rec, NF_ENT_ORG, "Islamic State"), 1);
    assert_int_equal(mentions(rec, NF_ENT_ORG, "Alliance of Sahel States"), 2);
    assert_int_equal(mentions(rec, NF_ENT_ORG, "ECOWAS"), 3);
    assert_int_equal(mentions(rec, NF_ENT_ORG, "G5 Sahel"), 1);
    assert_true(mentions(rec, NF_ENT_PLACE, "France") >= 3);
    /* "West African Sahel nations": the adjective is not the region */
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "West Africa"), -1);
    nf_record_destroy(&rec);

    /* the same canonical names from other spellings */
    rec = run_seed(p, 2);
    assert_int_equal(mentions(rec, NF_ENT_PERSON, "Assimi Goïta"), 1);
    assert_int_equal(mentions(rec, NF_ENT_ORG, "al-Qaeda"), 1);
    assert_int_equal(mentions(rec, NF_ENT_ORG, "Islamic State"), 1);
    assert_int_equal(mentions(rec, NF_ENT_ORG, "Alliance of Sahel States"), 2);
    assert_int_equal(mentions(rec, NF_ENT_ORG, "ECOWAS"), 2);
    assert_int_equal(mentions(rec, NF_ENT_ORG, "G5 Sahel"), 1);
    assert_int_equal(mentions(rec, NF_ENT_PERSON, "Mohamed Bazoum"), 1);
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "Liptako-Gourma"), 1);
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "Chad"), 1);
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "Mauritania"), 1);
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "West Africa"), 1);
    /* five times Niger; "Nigerien President" is not one of them */
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "Niger"), 5);
    nf_record_destroy(&rec);

    rec = run_seed(p, 4);
    assert_int_equal(mentions(rec, NF_ENT_PERSON, "Abdourahamane Tiani"), 1);
    assert_int_equal(mentions(rec, NF_ENT_ORG, "ECOWAS"), 4);
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "West Africa"), 1);
    assert_true(mentions(rec, NF_ENT_PLACE, "Niger") >= 8);
    /* the most mentioned comes first */
    assert_string_equal(nf_record_entity(rec, 0)->name, "Niger");
    nf_record_destroy(&rec);
}

/* Without clean_text: no date header lift, and a year is never invented. */
static void test_seeds_alone(void **state)
{
    struct pipeline *p = *state;
    for (int i = 0; i < 5; i++) {
        size_t n;
        char *raw = seed_bytes(i, &n);
        struct nf_record *rec = run_text(p, raw, NF_OK);
        free(raw);
        assert_null(str(rec, NF_F_PUBLISHED_AT));
        assert_string_equal(str(rec, NF_F_LANG), "en");
        assert_true(nf_record_entity_count(rec) >= 4);
        if (i == 3) {
            /* the first line is the first sentence; the dateline is on the third line */
            assert_string_equal(str(rec, NF_F_TITLE),
                                "Mali, Burkina Faso and Niger forge NATO-like pact to fight "
                                "Sahel insurgents");
            assert_string_equal(nf_record_dateline_place(rec), "Bamako");
        }
        nf_record_destroy(&rec);
    }
}

static void test_dates(void **state)
{
    struct pipeline *p = *state;
    static const struct {
        const char *text, *date;
    } cases[] = {
        {"Officials met on September 16th, 2023, in Bamako to sign it.", "2023-09-16"},
        {"The pact was signed on 16 September 2023 in Bamako.", "2023-09-16"},
        {"It was signed on the 2nd of Feb. 2024 in Niamey.", "2024-02-02"},
        {"BAMAKO, Dec 22, 2023 (Reuters) - Mali's junta said it would leave.", "2023-12-22"},
        {"BAMAKO, Mali \xE2\x80\x94 Dec. 22 \xE2\x80\x94 Mali's junta said it would leave.",
         NULL},
        {"Officials met on September 16th in Bamako.", NULL},
        {"They may 2023 be late; march 3 2023 was cold.", NULL},
        {"It happened on February 30, 2023, officials said.", NULL},
        {"It happened on February 29, 2024, officials said.", "2024-02-29"},
        {"Since 2012, the war has spread.", NULL},
        /* where a date may start: the text's first byte, after a character outside ASCII, a
         * month in capitals, after a number of three digits */
        {"16 September 2023: the pact was signed in Bamako.", "2023-09-16"},
        {"\xC2\xABSeptember 16, 2023\xC2\xBB is the day the pact was signed.", "2023-09-16"},
        {"The pact was signed SEPT. 16, 2023 in Bamako.", "2023-09-16"},
        {"Flight 731 March 3, 2024 landed late.", "2024-03-03"},
        {"Flight 731 of March 2024 landed late.", NULL},
        /* the dateline names the day: the lead's other dated event is not the story's date */
        {"NIAMEY, Aug 25 (Reuters) - The junta expelled the envoy it blamed for the July 26, "
         "2023 coup.",
         NULL},
        {"NIAMEY, Aug 25 (Reuters) - On July 26, 2023 the army seized power; on Aug. 25, 2023 "
         "it expelled the envoy.",
         "2023-08-25"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        struct nf_record *rec = run_text(p, cases[i].text, NF_OK);
        if (cases[i].date)
            assert_string_equal(str(rec, NF_F_PUBLISHED_AT), cases[i].date);
        else
            assert_null(str(rec, NF_F_PUBLISHED_AT));
        nf_record_destroy(&rec);
    }
}

static void test_datelines(void **state)
{
    struct pipeline *p = *state;
    static const struct {
        const char *text, *place;
    } cases[] = {
        {"NIAMEY (AFP) \xE2\x80\x93 Niger's junta reopened the border on Monday.", "Niamey"},
        {"N'DJAMENA, Chad \xE2\x80\x94 Chad held a vote on Monday.", "N'Djamena"},
        {"PORT-AU-PRINCE, Haiti (AP) \xE2\x80\x94 Gangs blocked the road.", "Port-au-Prince"},
        /* not in the gazetteer: capitalised from the capitals */
        {"DIOURA, Mali \xE2\x80\x94 Rebels attacked a military camp.", "Dioura"},
        {"Bamako (Reuters) - The junta said on Monday it would hold talks.", "Bamako"},
        {"NEW YORK, Dec 22 (Reuters) - The Security Council met.", "New York"},
        /* a shouted word before a dash is not a place */
        {"EXCLUSIVE - Mali's junta plans to leave ECOWAS, sources say.", NULL},
        {"Mali, Niger and Burkina Faso - three juntas - signed a pact.", NULL},
        {"NATO said on Friday it was watching.", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        struct nf_record *rec = run_text(p, cases[i].text, NF_OK);
        if (cases[i].place)
            assert_string_equal(nf_record_dateline_place(rec), cases[i].place);
        else
            assert_null(nf_record_dateline_place(rec));
        nf_record_destroy(&rec);
    }
    /* the agency in a dateline is the outlet, unless one is known already */
    struct nf_record *rec = run_text(p, "NIAMEY ( AFP ) - The border reopened.", NF_OK);
    assert_string_equal(nf_record_dateline_place(rec), "Niamey");
    assert_string_equal(str(rec, NF_F_OUTLET), "AFP");
    nf_record_destroy(&rec);
    rec = new_record("o", 1);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_TEXT, "NIAMEY (AFP) - The border reopened."), 0);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_OUTLET, "Le Sahel"), 0);
    assert_int_equal(nf_record_set_dateline(rec, "Zinder"), 0);
    assert_int_equal(mock_process(p->meta, rec), NF_OK);
    assert_string_equal(str(rec, NF_F_OUTLET), "Le Sahel");
    assert_string_equal(nf_record_dateline_place(rec), "Zinder");
    nf_record_destroy(&rec);
}

static void test_titles(void **state)
{
    struct pipeline *p = *state;
    struct nf_record *rec =
        run_text(p, "Gen. Tiani met U.S. envoys on Friday. They talked for an hour.", NF_OK);
    assert_string_equal(str(rec, NF_F_TITLE), "Gen. Tiani met U.S. envoys on Friday");
    nf_record_destroy(&rec);

    rec = run_text(p,
                   "BAMAKO, Mali \xE2\x80\x94 Mali's junta said on Friday it would leave "
                   "ECOWAS. It gave no date.",
                   NF_OK);
    assert_string_equal(str(rec, NF_F_TITLE), "Mali's junta said on Friday it would leave ECOWAS");
    nf_record_destroy(&rec);

    rec = run_text(p, "Why did the junta leave? Nobody knows.", NF_OK);
    assert_string_equal(str(rec, NF_F_TITLE), "Why did the junta leave?");
    nf_record_destroy(&rec);

    /* seed 002's first sentence is too long: cut at a word boundary, with an ellipsis */
    size_t n;
    char *raw = seed_bytes(2, &n);
    rec = run_text(p, raw, NF_OK);
    free(raw);
    const char *title = str(rec, NF_F_TITLE);
    size_t chars = 0;
    for (const char *c = title; *c; c++)
        chars += ((unsigned char)*c & 0xC0) != 0x80;
    assert_true(chars <= 200 && chars > 150);
    assert_string_equal(title + strlen(title) - 3, "\xE2\x80\xA6");
    assert_memory_equal(title, "Mali, Niger, and Burkina Faso, three countries", 46);
    assert_true(title[strlen(title) - 4] != ' ');
    nf_record_destroy(&rec);

    /* a title that is there already stays */
    rec = new_record("x", 1);
    assert_int_equal(
        nf_record_set_cstr(rec, NF_F_TEXT, "Niger reopened the border. Then more."), 0);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_TITLE, "Feed title"), 0);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_PUBLISHED_AT, "2020-01-01"), 0);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_LANG, "fr"), 0);
    assert_int_equal(mock_process(p->meta, rec), NF_OK);
    assert_string_equal(str(rec, NF_F_TITLE), "Feed title");
    assert_string_equal(str(rec, NF_F_PUBLISHED_AT), "2020-01-01");
    assert_string_equal(str(rec, NF_F_LANG), "fr");
    nf_record_destroy(&rec);
}

static void test_lang(void **state)
{
    struct pipeline *p = *state;
    struct nf_record *rec = run_text(p,
                                     "Le gouvernement malien a annoncé vendredi la création "
                                     "d'une force conjointe avec le Burkina Faso et le Niger "
                                     "pour lutter contre les groupes armés.",
                                     NF_OK);
    assert_string_equal(str(rec, NF_F_LANG), "fr");
    /* French spellings fold onto the same entities */
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "Burkina Faso"), 1);
    nf_record_destroy(&rec);
    rec = run_text(p,
                   "Die Regierung von Mali hat am Freitag angekündigt, gemeinsam mit Burkina "
                   "Faso und Niger eine Truppe aufzustellen.",
                   NF_OK);
    assert_string_equal(str(rec, NF_F_LANG), "de");
    nf_record_destroy(&rec);
    /* a sentence is too little to tell */
    rec = run_text(p, "Leaders met in Abuja on Sunday.", NF_OK);
    assert_null(str(rec, NF_F_LANG));
    nf_record_destroy(&rec);
    /* CLD2's own codes that are not ISO 639-1 today are mapped: "iw", "zh-Hant", "jw" */
    rec = run_text(p,
                   "\u05DE\u05DE\u05E9\u05DC\u05EA \u05DE\u05D0\u05DC\u05D9 "
                   "\u05D4\u05D5\u05D3\u05D9\u05E2\u05D4 \u05D1\u05D9\u05D5\u05DD "
                   "\u05E9\u05D9\u05E9\u05D9 \u05E2\u05DC \u05D4\u05E7\u05DE\u05EA "
                   "\u05DB\u05D5\u05D7 \u05DE\u05E9\u05D5\u05EA\u05E3 \u05E2\u05DD "
                   "\u05D1\u05D5\u05E8\u05E7\u05D9\u05E0\u05D4 \u05E4\u05D0\u05E1\u05D5 "
                   "\u05D5\u05E0\u05D9\u05D6'\u05E8 \u05DB\u05D3\u05D9 "
                   "\u05DC\u05D4\u05D9\u05DC\u05D7\u05DD "
                   "\u05D1\u05E7\u05D1\u05D5\u05E6\u05D5\u05EA "
                   "\u05D4\u05D7\u05DE\u05D5\u05E9\u05D5\u05EA.",
                   NF_OK);
    assert_string_equal(str(rec, NF_F_LANG), "he");
    nf_record_destroy(&rec);
    rec = run_text(p,
                   "\u99AC\u5229\u653F\u5E9C\u9031\u4E94\u5BA3\u5E03\u8207\u5E03\u5409"
                   "\u7D0D\u6CD5\u7D22\u548C\u5C3C\u65E5\u7D44\u5EFA\u806F\u5408\u90E8"
                   "\u968A\uFF0C\u4EE5\u6253\u64CA\u6B66\u88DD\u5718\u9AD4\u3002\u9019"
                   "\u652F\u90E8\u968A\u5C07\u7531\u4E09\u570B\u7684\u58EB\u5175\u7D44"
                   "\u6210\u3002",
                   NF_OK);
    assert_string_equal(str(rec, NF_F_LANG), "zh");
    nf_record_destroy(&rec);
    rec = run_text(p,
                   "Pamarentah Mali ngumumake ing dina Jumuah yen bakal nggawe pasukan gabungan "
                   "karo Burkina Faso lan Niger kanggo nglawan kelompok bersenjata.",
                   NF_OK);
    assert_string_equal(str(rec, NF_F_LANG), "jv");
    nf_record_destroy(&rec);
    /* a language with no two-letter code (Cherokee), and letters that are no language: none */
    rec = run_text(p,
                   "\u13C2\u13A6\u13D3 \u13A0\u13C2\u13F4\u13EB \u13D7\u13A8\u13D2 "
                   "\u13BE\u13CD\u13A9 \u13D7\u13C2\u13B3\u13EB\u13A9 "
                   "\u13D7\u13A6\u13B3\u13EB\u13A2\u13CD\u13D7 \u13C2\u13A6\u13A5 "
                   "\u13DA\u13F3\u13AA\u13DB \u13A4\u13C2\u13C5\u13CD\u13D7 "
                   "\u13A4\u13C1\u13B3\u13C5\u13AF",
                   NF_OK);
    assert_null(str(rec, NF_F_LANG));
    nf_record_destroy(&rec);
    /* stray control characters and noncharacters (valid UTF-8, not CLD2's "interchange-valid"
     * UTF-8) do not cost a text its language */
    rec = run_text(p,
                   "The government said on Monday that it would hold talks with the rebels "
                   "next week.\x01\x7F\xC2\x85\xEF\xBF\xBE The talks are expected to last "
                   "three days, officials said.",
                   NF_OK);
    assert_string_equal(str(rec, NF_F_LANG), "en");
    nf_record_destroy(&rec);
    int64_t unknown = mock_counter("lang_unknown");
    rec = run_text(p,
                   "qxz vbnm wrtp zzkq plmk xxqv bbnt qwrt zxcv mnbv lkjh gfds poiu ytre wqas "
                   "zxcv vbnm wrtp zzkq plmk xxqv",
                   NF_OK);
    assert_null(str(rec, NF_F_LANG));
    assert_int_equal(mock_counter("lang_unknown"), unknown + 1);
    nf_record_destroy(&rec);
}

static void test_matching(void **state)
{
    struct pipeline *p = *state;
    struct nf_record *rec = run_text(
        p, "Nigeria and Nigerien officials met in Abuja. Nigeria's army said Nigeria would help.",
        NF_OK);
    assert_false(has_name(rec, "Niger"));
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "Nigeria"), 3);
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "Abuja"), 1);
    nf_record_destroy(&rec);

    rec = run_text(p,
                   "al Qaeda, al-Qaeda, AL-QAIDA and al\xE2\x80\x91Qa\xE2\x80\x99ida are one. "
                   "GOITA, Goïta and Goi\xCC\x88ta too. Niger's junta. ISIS and Islamic State "
                   "and Daesh.",
                   NF_OK);
    assert_int_equal(mentions(rec, NF_ENT_ORG, "al-Qaeda"), 4);
    assert_int_equal(mentions(rec, NF_ENT_PERSON, "Assimi Goïta"), 3);
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "Niger"), 1);
    assert_int_equal(mentions(rec, NF_ENT_ORG, "Islamic State"), 3);
    assert_sorted(rec);
    nf_record_destroy(&rec);

    /* longest match first; a comma ends a name */
    rec = run_text(p,
                   "The G5 Sahel force left the Sahel. Islamic State Sahel Province and "
                   "al-Qaeda in the Islamic Maghreb fought. Burkina, Faso.",
                   NF_OK);
    assert_int_equal(mentions(rec, NF_ENT_ORG, "G5 Sahel"), 1);
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "Sahel"), 1);
    assert_int_equal(mentions(rec, NF_ENT_ORG, "Islamic State Sahel Province"), 1);
    assert_int_equal(mentions(rec, NF_ENT_ORG, "AQIM"), 1);
    assert_false(has_name(rec, "Islamic State"));
    assert_false(has_name(rec, "al-Qaeda"));
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "Burkina Faso"), 1); /* "Burkina" alone */
    nf_record_destroy(&rec);

    /* exact aliases: "US", "UN", "AES" only as written */
    rec = run_text(p,
                   "Tell us about the US plan, the UN said; an un-backed plan. The AES and "
                   "the aes of it. The U.S. envoy.",
                   NF_OK);
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "United States"), 2);
    assert_int_equal(mentions(rec, NF_ENT_ORG, "United Nations"), 1);
    assert_int_equal(mentions(rec, NF_ENT_ORG, "Alliance of Sahel States"), 1);
    nf_record_destroy(&rec);

    /* text without any entity: an empty list, not a stale one */
    rec = new_record("y", 1);
    assert_int_equal(nf_record_add_entity(rec, NF_ENT_PLACE, "Stale", 9), 0);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_TEXT, "Nothing known is named here."), 0);
    assert_int_equal(mock_process(p->meta, rec), NF_OK);
    assert_int_equal(mock_roundtrip(rec), 0);
    assert_int_equal(nf_record_entity_count(rec), 0);
    nf_record_destroy(&rec);
}

/* Names the gazetteer lacks, found as capitalised phrases. */
static void test_phrases(void **state)
{
    struct pipeline *p = *state;
    struct nf_record *rec = run_text(
        p,
        "The formation of a new body was announced on Monday. In Bamako, Mr Oumar Traoré "
        "Keïta met the head of the Malian Football Federation. Keïta said the Malian Football "
        "Federation would report to the Ministry of Sports. Fighters said Omar al-Bashir hid "
        "in Tin Zaouatine; Omar al-Bashir left Tin Zaouatine later, residents in Tin "
        "Zaouatine said. In January the West African nations met and West African leaders "
        "left. Yesterday Assimi Goïta spoke to Michelle Obama, and Michelle Obama said no. "
        "Recep Erdogan called.\n"
        "Subs Not Used: none. The Council met. Security Forces deployed.",
        NF_OK);
    assert_int_equal(mentions(rec, NF_ENT_PERSON, "Oumar Traoré Keïta"), 2);
    assert_int_equal(mentions(rec, NF_ENT_ORG, "Malian Football Federation"), 2);
    assert_int_equal(mentions(rec, NF_ENT_PERSON, "Omar al-Bashir"), 2);
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "Tin Zaouatine"), 3);
    assert_int_equal(mentions(rec, NF_ENT_PERSON, "Michelle Obama"), 2);
    /* the gazetteer's Obama is someone else; Goïta is the gazetteer's, and only it */
    assert_false(has_name(rec, "Barack Obama"));
    assert_int_equal(mentions(rec, NF_ENT_PERSON, "Recep Tayyip Erdo\xC4\x9F" "an"), 1);
    assert_int_equal(mentions(rec, NF_ENT_PERSON, "Assimi Goïta"), 1);
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "Bamako"), 1);
    /* once and without a cue; an adjective; openers, titles and function words */
    assert_false(has_name(rec, "Ministry of Sports"));
    assert_false(has_name(rec, "West African"));
    assert_int_equal(nf_record_entity_count(rec), 8);
    nf_record_destroy(&rec);

    /* proper names are capitalised: lower-case words are no entities, exact ones still count */
    rec = run_text(p, "A jersey, fine china and a turkey. Jersey and China talk; Turkey too.",
                   NF_OK);
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "Jersey"), 1);
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "China"), 1);
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "Turkey"), 1);
    nf_record_destroy(&rec);

    /* a headline in title case is no name; nor is a run of capitalised sentence openers */
    rec = run_text(p,
                   "Mali Junta Names New Prime Minister Amid Protests In Capital\n"
                   "Officials Said nothing. Officials met Ali Musa, and Ali Musa left.",
                   NF_OK);
    assert_int_equal(nf_record_entity_count(rec), 2);
    assert_int_equal(mentions(rec, NF_ENT_OTHER, "Ali Musa"), 2);
    nf_record_destroy(&rec);

    /* German capitalises every noun: no phrases there */
    rec = run_text(p,
                   "Die Bundesregierung hat am Freitag Weitere Informationen angek\xC3\xBCndigt. "
                   "Weitere Informationen folgen, sagte Olaf Scholz in Berlin.",
                   NF_OK);
    assert_string_equal(str(rec, NF_F_LANG), "de");
    assert_false(has_name(rec, "Weitere Informationen"));
    assert_int_equal(mentions(rec, NF_ENT_PERSON, "Olaf Scholz"), 1);
    assert_int_equal(nf_record_entity_count(rec), 2);
    nf_record_destroy(&rec);

    /* switched off: only the gazetteer's names */
    const char *const opts[] = {GAZETTEER, "phrases=false", NULL};
    struct mock_plugin *mp = mock_plugin_new("extract_meta", opts);
    assert_non_null(mp);
    rec = new_record("ph", 2);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_TEXT, "Mr Ali Musa met Ali Musa in Mali."), 0);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(nf_record_entity_count(rec), 1);
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "Mali"), 1);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_bad_input(void **state)
{
    struct pipeline *p = *state;
    /* no text (an HTML record nobody extracted yet): passed on untouched */
    struct nf_record *rec = new_record("z", 1);
    assert_int_equal(mock_process(p->meta, rec), NF_OK);
    assert_false(nf_record_has(rec, NF_F_TITLE));
    assert_false(nf_record_has(rec, NF_F_ENTITIES));
    nf_record_destroy(&rec);

    rec = run_text(p, "caf\xe9 au lait", NF_ERR);
    assert_non_null(strstr(mock_last_error(), "not valid UTF-8"));
    nf_record_destroy(&rec);

    /* only punctuation: nothing to find, nothing breaks */
    rec = run_text(p, "\xE2\x80\x94 . , ! ?", NF_OK);
    assert_int_equal(nf_record_entity_count(rec), 0);
    nf_record_destroy(&rec);
}

static void write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static void test_gazetteer_file(void **unused)
{
    (void)unused;
    char path[512], opt[600];
    snprintf(path, sizeof(path), "%s/gz.tsv", mock_state_dir());
    snprintf(opt, sizeof(opt), "gazetteer=%s", path);
    const char *const opts[] = {opt, "textcat_conf=", NULL};

    write_file(path, "# test\nplace\tMali\t\nteam\tNiger\t\n");
    assert_null(mock_plugin_new("extract_meta", opts));
    assert_non_null(strstr(mock_last_error(), "gz.tsv:3"));
    assert_non_null(strstr(mock_last_error(), "unknown type \"team\""));

    write_file(path, "place\tMali\ta\tb\n");
    assert_null(mock_plugin_new("extract_meta", opts));
    assert_non_null(strstr(mock_last_error(), "gz.tsv:1"));

    write_file(path, "place\tMali\t--|ok\n");
    assert_null(mock_plugin_new("extract_meta", opts));
    assert_non_null(strstr(mock_last_error(), "no letter or digit"));

    const char *const missing[] = {"gazetteer=/nonexistent/gz.tsv", NULL};
    assert_null(mock_plugin_new("extract_meta", missing));
    assert_non_null(strstr(mock_last_error(), "cannot open gazetteer /nonexistent/gz.tsv"));
    assert_non_null(strstr(mock_last_error(), "option gazetteer"));
    /* the option table's bounds, before init */
    const char *const small[] = {"gazetteer=", "max_lang_bytes=15", NULL};
    assert_null(mock_plugin_new("extract_meta", small));
    assert_string_equal(mock_last_error(), "option 'max_lang_bytes' must be at least 16, got 15");
    const char *const short_title[] = {"gazetteer=", "title_max_chars=9", NULL};
    assert_null(mock_plugin_new("extract_meta", short_title));
    assert_string_equal(mock_last_error(), "option 'title_max_chars' must be at least 10, got 9");

    /* an alias claimed twice: the first entry keeps it; "=Turkey" makes the name exact */
    write_file(path, "place\tGeorgia\tTbilisi state\nperson\tGeorgia Nobody\tGeorgia\n"
                     "place\tTurkey\t=Turkey\n");
    struct mock_plugin *mp = mock_plugin_new("extract_meta", opts);
    assert_non_null(mp);
    struct nf_record *rec = new_record("g", 1);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_TEXT,
                                        "Georgia and Turkey; a turkey dinner in Georgia."),
                     0);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "Georgia"), 2);
    assert_int_equal(mentions(rec, NF_ENT_PLACE, "Turkey"), 1);
    assert_false(nf_record_has(rec, NF_F_LANG)); /* language identification switched off */
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);

    /* language = false turns it off; the obsolete textcat options still load (a warning),
     * and only an empty textcat_conf turns it off, as it did */
    static const char french[] = "Le gouvernement malien a annonc\u00E9 vendredi la cr\u00E9ation "
                                 "d'une force conjointe avec le Burkina Faso et le Niger.";
    const char *const langs[][3] = {
        {"language=false", NULL, NULL},
        {"textcat_conf=/nonexistent/fpdb.conf", "textcat_models=/nonexistent/", "fr"},
        {"language=true", NULL, "fr"},
    };
    for (size_t i = 0; i < sizeof(langs) / sizeof(*langs); i++) {
        const char *const o[] = {"gazetteer=", langs[i][0], langs[i][1], NULL};
        mp = mock_plugin_new("extract_meta", o);
        assert_non_null(mp);
        rec = new_record(french, strlen(french));
        assert_int_equal(nf_record_set_cstr(rec, NF_F_TEXT, french), 0);
        assert_int_equal(mock_process(mp, rec), NF_OK);
        if (langs[i][2])
            assert_string_equal(str(rec, NF_F_LANG), langs[i][2]);
        else
            assert_false(nf_record_has(rec, NF_F_LANG));
        nf_record_destroy(&rec);
        mock_plugin_destroy(&mp);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_facts),
        cmocka_unit_test(test_seed_fields),   cmocka_unit_test(test_seed_003),
        cmocka_unit_test(test_seed_entities), cmocka_unit_test(test_seeds_alone),
        cmocka_unit_test(test_dates),         cmocka_unit_test(test_datelines),
        cmocka_unit_test(test_titles),        cmocka_unit_test(test_lang),
        cmocka_unit_test(test_matching),      cmocka_unit_test(test_phrases),
        cmocka_unit_test(test_bad_input),
    };
    const struct CMUnitTest alone[] = {
        cmocka_unit_test(test_gazetteer_file),
    };
    int failed = cmocka_run_group_tests(tests, setup, teardown);
    return failed + cmocka_run_group_tests(alone, NULL, NULL);
}
