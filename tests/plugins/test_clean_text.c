/* clean_text through its descriptor against the mock core: the five seed articles, and input
 * that is broken in the ways fetched text is (bad encoding, control characters, only
 * boilerplate). */
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


static const char *const seeds[] = {
    "000_a8143c3ee1feb549.txt", "001_d9239e9adab5d809.txt", "002_59196a0494ad5481.txt",
    "003_d827aa3b829ea74b.txt", "004_09dc9a8d14128b2c.txt",
};

/* A record as fetch would hand it over: id, content type and the raw bytes. */
static struct nf_record *record_of(const char *raw, size_t n, const char *content_type)
{
    struct nf_record *rec = nf_record_new();
    assert_non_null(rec);
    char id[33];
    nf_id_make(raw, n, id);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_ID, id), 0);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_CONTENT_TYPE, content_type), 0);
    assert_int_equal(nf_record_set_bytes(rec, NF_F_RAW, raw, n), 0);
    return rec;
}

static struct nf_record *seed_record(int i)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/conf/sample/%s", NF_SOURCE_DIR, seeds[i]);
    size_t n = 0;
    char *raw = mock_slurp(path, &n);
    assert_non_null(raw);
    struct nf_record *rec = record_of(raw, n, "text/plain");
    free(raw);
    return rec;
}

static const char *str(struct nf_record *rec, enum nf_field f)
{
    return nf_record_str(rec, f, NULL);
}

/* What every cleaned text must look like: valid UTF-8 without control characters other than
 * "\n", paragraphs separated by exactly one blank line, no doubled or edge spaces. */
static void assert_clean_shape(const char *t)
{
    assert_non_null(t);
    size_t n = strlen(t);
    assert_true(n > 0);
    assert_false(t[0] == ' ' || t[0] == '\n' || t[n - 1] == ' ' || t[n - 1] == '\n');
    assert_null(strstr(t, "\n\n\n"));
    assert_null(strstr(t, "  "));
    assert_null(strstr(t, " \n"));
    assert_null(strstr(t, "\n "));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        assert_false(c < 0x20 && c != '\n');
        assert_false(c == 0x7f);
        /* a single "\n" would be a line break inside a paragraph: not produced */
        if (c == '\n')
            assert_true((i > 0 && t[i - 1] == '\n') || (i + 1 < n && t[i + 1] == '\n'));
    }
    assert_null(strstr(t, "\xEF\xBB\xBF"));
}

static int count_paragraphs(const char *t)
{
    int n = 1;
    for (const char *p = t; (p = strstr(p, "\n\n")); p += 2)
        n++;
    return n;
}

static struct mock_plugin *load(const char *const *opts)
{
    struct mock_plugin *mp = mock_plugin_new("clean_text", opts);
    assert_non_null(mp);
    return mp;
}

static struct nf_record *clean_seed(struct mock_plugin *mp, int i)
{
    struct nf_record *rec = seed_record(i);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_roundtrip(rec), 0);
    const char *t = str(rec, NF_F_TEXT);
    if (getenv("MOCK_VERBOSE"))
        fprintf(stderr, "---- %s\n%s\n", seeds[i], t ? t : "(null)");
    assert_clean_shape(t);
    assert_null(strstr(t, "Advertisement"));
    assert_null(strstr(t, "date 2023"));
    assert_null(strstr(t, "By Ali Musa"));
    return rec;
}

static void test_seed_dates(void **unused)
{
    (void)unused;
    struct mock_plugin *mp = load(NULL);
    static const char *const want[] = {"2023-11-06", "2023-09-16", NULL, NULL, "2023-11-08"};
    static const char *const starts[] = {
        "In a groundbreaking move, Mali, Burkina Faso, and Niger have signed",
        "In a significant development on September 16th,",
        "Mali, Niger, and Burkina Faso, three countries in the Sahel region",
        "BAMAKO, Mali \xE2\x80\x94 Dec. 22 \xE2\x80\x94 Mali, Burkina Faso and Niger announced",
        "Niger has taken a significant step",
    };
    static const int paragraphs[] = {6, 5, 1, 9, 7};
    for (int i = 0; i < 5; i++) {
        struct nf_record *rec = clean_seed(mp, i);
        const char *d = str(rec, NF_F_PUBLISHED_AT);
        if (want[i])
            assert_string_equal(d, want[i]);
        else
            assert_null(d);
        const char *t = str(rec, NF_F_TEXT);
        assert_memory_equal(t, starts[i], strlen(starts[i]));
        assert_int_equal(count_paragraphs(t), paragraphs[i]);
        nf_record_destroy(&rec);
    }
    mock_plugin_destroy(&mp);
}

static void test_seed_003_headline_and_signature(void **unused)
{
    (void)unused;
    struct mock_plugin *mp = load(NULL);
    struct nf_record *rec = clean_seed(mp, 3);
    assert_string_equal(str(rec, NF_F_TITLE),
                        "Mali, Burkina Faso and Niger forge NATO-like pact to fight Sahel "
                        "insurgents");
    assert_string_equal(str(rec, NF_F_BYLINE), "Ali Musa");
    assert_string_equal(str(rec, NF_F_OUTLET), "Axadle Times");
    const char *t = str(rec, NF_F_TEXT);
    assert_null(strstr(t, "forge NATO-like pact"));
    assert_null(strstr(t, "form NATO-style military alliance to fight"));
    assert_null(strstr(t, "Axadle"));
    assert_null(strstr(t, "Monitoring"));
    /* the last body paragraph is intact */
    const char *end = "communities look for tangible improvements in safety.";
    assert_string_equal(t + strlen(t) - strlen(end), end);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* Paragraphs that start with "By" are prose, not bylines; the seeds have no headline. */
static void test_seed_prose_kept(void **unused)
{
    (void)unused;
    struct mock_plugin *mp = load(NULL);
    for (int i = 0; i < 5; i++) {
        if (i == 3)
            continue;
        struct nf_record *rec = clean_seed(mp, i);
        assert_null(str(rec, NF_F_TITLE));
        assert_null(str(rec, NF_F_BYLINE));
        assert_null(str(rec, NF_F_OUTLET));
        nf_record_destroy(&rec);
    }
    struct nf_record *rec = clean_seed(mp, 4);
    const char *t = str(rec, NF_F_TEXT);
    assert_non_null(strstr(t, "\n\nBy granting authorization for intervention, General"));
    assert_non_null(strstr(t, "\n\nIn this complex landscape"));
    nf_record_destroy(&rec);
    rec = clean_seed(mp, 0);
    assert_non_null(strstr(str(rec, NF_F_TEXT), "\n\nBy establishing this collective"));
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static struct nf_record *clean_str(struct mock_plugin *mp, const char *raw, int want)
{
    struct nf_record *rec = record_of(raw, strlen(raw), "text/plain");
    assert_int_equal(mock_process(mp, rec), want);
    assert_int_equal(mock_roundtrip(rec), 0);
    if (want == NF_OK)
        assert_clean_shape(str(rec, NF_F_TEXT));
    return rec;
}

static void test_windows_1252(void **unused)
{
    (void)unused;
    struct mock_plugin *mp = load(NULL);
    struct nf_record *rec = clean_str(mp, "caf\xe9 au lait", NF_OK);
    assert_string_equal(str(rec, NF_F_TEXT), "caf\xC3\xA9 au lait");
    nf_record_destroy(&rec);
    /* curly quotes and the euro sign are where windows-1252 and latin-1 differ */
    rec = clean_str(mp, "\x93Prices rose 5 \x80\x97 a lot,\x94 he said.", NF_OK);
    assert_string_equal(str(rec, NF_F_TEXT), "\xE2\x80\x9CPrices rose 5 \xE2\x82\xAC\xE2\x80\x94 a "
                                             "lot,\xE2\x80\x9D he said.");
    nf_record_destroy(&rec);
    /* valid UTF-8 around a stray byte survives as it was */
    rec = clean_str(mp, "Go\xC3\xAFta met Tiani in Niamey \x96 officials said.", NF_OK);
    assert_string_equal(str(rec, NF_F_TEXT),
                        "Go\xC3\xAFta met Tiani in Niamey \xE2\x80\x93 officials said.");
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* Text garbled by a windows-1252 or Latin-1 reading of UTF-8, written in the test as the
 * characters such text shows. */
static void test_mojibake(void **unused)
{
    (void)unused;
    struct mock_plugin *mp = load(NULL);
    static const struct {
        const char *in, *out;
    } cases[] = {
        /* BBC-style: pound sign, curly quotes, dashes, accents */
        {"The deal is worth Â£600m, itâ€™s said â€“ a â€œrecordâ€\xC2\x9D for CafÃ©s.",
         "The deal is worth £600m, it’s said – a “record” for Cafés."},
        /* the closing quote's third byte (0x9D) lost on the way */
        {"He called it â€œa new eraâ€ on Friday.", "He called it “a new era” on Friday."},
        /* C1 controls from a Latin-1 reading stand for bytes too */
        {"GoÃ¯ta met TchianiÂ\xC2\xA0in Niamey, Ã\xC2\x81"
         "frica.",
         "Goïta met Tchiani in Niamey, África."},
        /* Polish and Romanian letters, once the text is known to be garbled */
        {"Ã©lite: Å\xC2\x81Ã³dÅº and BucureÈ™ti.", "élite: Łódź and București."},
        /* four bytes (an emoji) and three (CJK) */
        {"Fans ðŸ˜€ in æ—¥æœ¬ cheered.", "Fans 😀 in 日本 cheered."},
        /* garbled twice */
        {"The cafÃƒÂ© said Ã¢â‚¬Å“noÃ¢â‚¬Â\xC2\x9D.", "The café said “no”."},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        struct nf_record *rec = clean_str(mp, cases[i].in, NF_OK);
        assert_string_equal(str(rec, NF_F_TEXT), cases[i].out);
        nf_record_destroy(&rec);
    }
    assert_int_equal(mock_counter("mojibake_repaired"), (int64_t)(sizeof(cases) / sizeof(*cases)));

    /* real text that only looks like it: left alone */
    static const char *const genuine[] = {
        "SÃO PAULO, Brazil — Prices in São Paulo and the Grão-Pará rose.",
        "Le pâté du château coûte 5 €, à Genève même.",
        "CAFÉ’S owner said “NAÏVE” things; ÉCOLE—closed. Ä’s and È» too.",
        "Straße, Ärger, Öl; Ø° ±5 µm; ×2 · ½ ¼ — Â, Ã and â alone.",
        "Ελλάδα, Россия, العربية, 日本語 and emoji 😀 stay as they are.",
    };
    for (size_t i = 0; i < sizeof(genuine) / sizeof(*genuine); i++) {
        struct nf_record *rec = clean_str(mp, genuine[i], NF_OK);
        assert_string_equal(str(rec, NF_F_TEXT), genuine[i]);
        nf_record_destroy(&rec);
    }
    assert_int_equal(mock_counter("mojibake_repaired"), (int64_t)(sizeof(cases) / sizeof(*cases)));
    mock_plugin_destroy(&mp);

    /* switched off */
    const char *const off[] = {"repair_mojibake=false", NULL};
    mp = load(off);
    struct nf_record *rec = clean_str(mp, "Itâ€™s Â£6m.", NF_OK);
    assert_string_equal(str(rec, NF_F_TEXT), "Itâ€™s Â£6m.");
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_control_characters_and_spaces(void **unused)
{
    (void)unused;
    struct mock_plugin *mp = load(NULL);
    struct nf_record *rec = clean_str(mp,
                                      "\xEF\xBB\xBF  Hello\x01 \x1b[0mworld\x7f.\r\n"
                                      "Second\tline\xC2\xA0\xC2\xA0 has   spaces.\x0c"
                                      "Third\xE2\x80\x8B line.\x00 Nul gone.",
                                      NF_OK);
    assert_string_equal(str(rec, NF_F_TEXT), "Hello [0mworld.\n\nSecond line has spaces.\n\n"
                                             "Third line.");
    nf_record_destroy(&rec);
    /* NUL inside raw: raw is bytes, so it does not end the text */
    static const char nul[] = "Before\0after the nul.";
    rec = record_of(nul, sizeof(nul) - 1, "text/plain");
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_string_equal(str(rec, NF_F_TEXT), "Beforeafter the nul.");
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_nfc(void **unused)
{
    (void)unused;
    struct mock_plugin *mp = load(NULL);
    /* decomposed i + combining diaeresis composes; case is kept */
    struct nf_record *rec = clean_str(mp, "Assimi GOI\xCC\x88TA and Goi\xCC\x88ta.", NF_OK);
    assert_string_equal(str(rec, NF_F_TEXT), "Assimi GO\xC3\x8FTA and Go\xC3\xAFta.");
    nf_record_destroy(&rec);
    /* ASCII runs are copied, the rest normalised piece by piece: the result is still that of
     * the whole text. A letter composes with a mark after a removed control character; a
     * mark alone after a space stays; "\r\n" split across pieces would be two line breaks,
     * a blank line that ends the paragraph. */
    rec = clean_str(mp,
                    "Cafe\x01\xCC\x81 au lait, \xCC\x81 na\xC3\xAFve \xCE\x91\xCC\x81\xCE\xB8\xCE"
                    "\xB7\xCE\xBD\xCE\xB1\r\nline two.\r\n\r\nSecond\x7f\xCC\x88 paragraph\rends here.",
                    NF_OK);
    assert_string_equal(str(rec, NF_F_TEXT),
                        "Caf\xC3\xA9 au lait, \xCC\x81 na\xC3\xAFve \xCE\x86\xCE\xB8\xCE\xB7\xCE\xBD"
                        "\xCE\xB1 line two.\n\nSecond\xCC\x88 paragraph ends here.");
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_only_boilerplate_is_an_error(void **unused)
{
    (void)unused;
    struct mock_plugin *mp = load(NULL);
    struct nf_record *rec = clean_str(mp,
                                      "- Advertisement -\nADVERTISEMENT\nRead more\n"
                                      "Read more: Mali quits ECOWAS\n"
                                      "Sign up for our newsletter to get the latest news\n"
                                      "Subscribe now\nShare this article\n"
                                      "Facebook | Twitter | WhatsApp\n* * *\n\n   \n",
                                      NF_ERR);
    assert_non_null(strstr(mock_last_error(), "no text left after cleaning"));
    assert_null(str(rec, NF_F_TEXT));
    nf_record_destroy(&rec);
    rec = clean_str(mp, "", NF_ERR);
    assert_non_null(strstr(mock_last_error(), "no text left"));
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_boilerplate_lines_in_body(void **unused)
{
    (void)unused;
    struct mock_plugin *mp = load(NULL);
    struct nf_record *rec = clean_str(mp,
                                      "The junta said on Friday it would hold talks.\n\n"
                                      "Advertisement\n\n"
                                      "READ MORE: Niger closes its border\n\n"
                                      "Advertisement \xC2\xB7 Scroll to continue\n\n"
                                      "Officials did not say where the talks would be held.\n\n"
                                      "Story continues below advertisement\n\n"
                                      "Read more about the advertisement rules in our policy.\n\n"
                                      "(Reporting by Tiemoko Diallo; Editing by Alex "
                                      "Richardson)\n\n"
                                      "\xC2\xA9 2023 Reuters. All rights reserved.\n\n"
                                      "Our Standards: The Thomson Reuters Trust Principles.\n\n"
                                      "PUBLICIT\xC3\x89\n\n"
                                      "Lire aussi : Le Niger ferme sa fronti\xC3\xA8re",
                                      NF_OK);
    assert_string_equal(str(rec, NF_F_TEXT),
                        "The junta said on Friday it would hold talks.\n\n"
                        "Officials did not say where the talks would be held.");
    nf_record_destroy(&rec);
    /* prose that merely starts with a listed word stays */
    rec = clean_str(mp,
                    "Subscribers of the state broadcaster lost their signal on Monday.\n"
                    "Advertisements for the referendum covered the walls of Bamako.\n"
                    "Share prices in Lagos fell.",
                    NF_OK);
    assert_int_equal(count_paragraphs(str(rec, NF_F_TEXT)), 3);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* Newsletter and tip prompts, photo credits, player notices, time stamps: each on a line of its
 * own is furniture; the same words in prose stay. */
static void test_more_boilerplate(void **unused)
{
    (void)unused;
    struct mock_plugin *mp = load(NULL);
    struct nf_record *rec = clean_str(mp,
                                      "Written by Awa Traor\xC3\xA9\n\n"
                                      "The junta said on Friday it would hold talks.\n\n"
                                      "Updated: 22 December 2023, 10:45 GMT\n\n"
                                      "Published 3 hours ago\n\n"
                                      "Get our free Africa newsletter every morning\n\n"
                                      "Enter your email address\n\n"
                                      "Thanks for signing up!\n\n"
                                      "Don't miss a story: turn on notifications\n\n"
                                      "Join our WhatsApp channel for more\n\n"
                                      "Have a tip? Write to tips@example.org\n\n"
                                      "AFP via Getty Images\n\n"
                                      "Marco Hernandez/Getty Images\n\n"
                                      "REUTERS/Tiemoko Diallo\n\n"
                                      "Moussa Sidib\xC3\xA9 in Bamako contributed reporting.\n\n"
                                      "Our West Africa desk contributed to this story.\n\n"
                                      "Image copyright EPA\n\n"
                                      "Media playback is unsupported on your device\n\n"
                                      "Officials did not say where the talks would be held.\n\n"
                                      "Support our journalism: donate today\n\n"
                                      "Spotted an error? Tell us\n\n"
                                      "Topics: Mali, Sahel",
                                      NF_OK);
    assert_string_equal(str(rec, NF_F_TEXT),
                        "The junta said on Friday it would hold talks.\n\n"
                        "Officials did not say where the talks would be held.");
    assert_string_equal(str(rec, NF_F_BYLINE), "Awa Traor\xC3\xA9");
    assert_null(str(rec, NF_F_TITLE)); /* a byline is no headline */
    nf_record_destroy(&rec);

    rec = clean_str(mp,
                    "Published in 2020, the report found 3 of 5 bases empty.\n"
                    "Updated figures from 22 December show more.\n"
                    "Getty Images photographers were at the border.\n"
                    "Enter your email, the form said, and nobody did.\n"
                    "Reported by three outlets, the attack killed 12.\n"
                    "Two agencies contributed reporting on the attack to the inquiry.",
                    NF_OK);
    if (getenv("MOCK_VERBOSE"))
        fprintf(stderr, "%s\n[%s]\n", str(rec, NF_F_TEXT), str(rec, NF_F_TITLE));
    assert_int_equal(count_paragraphs(str(rec, NF_F_TEXT)), 6);
    assert_null(str(rec, NF_F_BYLINE));
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_single_headline(void **unused)
{
    (void)unused;
    struct mock_plugin *mp = load(NULL);
    struct nf_record *rec = clean_str(mp,
                                      "Mali junta extends transition to 2026\n"
                                      "The military government said on Friday it would stay "
                                      "in power for two more years.\n"
                                      "Opposition parties rejected the plan.",
                                      NF_OK);
    assert_string_equal(str(rec, NF_F_TITLE), "Mali junta extends transition to 2026");
    assert_string_equal(str(rec, NF_F_TEXT),
                        "The military government said on Friday it would stay in power for "
                        "two more years.\n\nOpposition parties rejected the plan.");
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* A headline followed by a lead that repeats its words is not a repeated headline. */
static void test_headline_then_similar_lead(void **unused)
{
    (void)unused;
    struct mock_plugin *mp = load(NULL);
    struct nf_record *rec = clean_str(mp,
                                      "Mali, Burkina Faso and Niger sign Sahel defence pact\n"
                                      "Mali, Burkina Faso and Niger signed a Sahel defence pact "
                                      "on Saturday, pledging to come to each other's aid against "
                                      "armed rebellion or external aggression.\n"
                                      "The three juntas face jihadist insurgencies.",
                                      NF_OK);
    assert_string_equal(str(rec, NF_F_TITLE),
                        "Mali, Burkina Faso and Niger sign Sahel defence pact");
    assert_memory_equal(str(rec, NF_F_TEXT), "Mali, Burkina Faso and Niger signed a", 37);
    nf_record_destroy(&rec);
    /* a first paragraph that ends like a sentence is never a headline */
    rec = clean_str(mp, "Niger closed its border.\nMali did too.", NF_OK);
    assert_null(str(rec, NF_F_TITLE));
    assert_string_equal(str(rec, NF_F_TEXT), "Niger closed its border.\n\nMali did too.");
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_fields_already_set_are_kept(void **unused)
{
    (void)unused;
    struct mock_plugin *mp = load(NULL);
    struct nf_record *rec = seed_record(3);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_TITLE, "Feed title"), 0);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_OUTLET, "Feed outlet"), 0);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_string_equal(str(rec, NF_F_TITLE), "Feed title");
    assert_string_equal(str(rec, NF_F_OUTLET), "Feed outlet");
    assert_string_equal(str(rec, NF_F_BYLINE), "Ali Musa");
    assert_null(strstr(str(rec, NF_F_TEXT), "forge NATO-like"));
    assert_null(strstr(str(rec, NF_F_TEXT), "Axadle"));
    nf_record_destroy(&rec);

    rec = seed_record(0);
    assert_int_equal(nf_record_set_cstr(rec, NF_F_PUBLISHED_AT, "2023-11-05T09:00:00Z"), 0);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_string_equal(str(rec, NF_F_PUBLISHED_AT), "2023-11-05T09:00:00Z");
    assert_null(strstr(str(rec, NF_F_TEXT), "date 2023"));
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* A record that came with a title keeps a lone headline-like first line that is not that title:
 * it is the start of the text (a wire brief's figures); the same line repeating the title goes. */
static void test_first_line_against_known_title(void **unused)
{
    (void)unused;
    struct mock_plugin *mp = load(NULL);
    const char *body = "Parent bank net profit 181.5 mln schillings vs 135.1 mln\n"
                       "Dividend 12 pct vs 10 pct on nominal share capital.\n";
    struct nf_record *rec = record_of(body, strlen(body), "text/plain");
    assert_int_equal(nf_record_set_cstr(rec, NF_F_TITLE, "LAENDERBANK 1986 RESULTS"), 0);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_string_equal(str(rec, NF_F_TITLE), "LAENDERBANK 1986 RESULTS");
    assert_string_equal(str(rec, NF_F_TEXT),
                        "Parent bank net profit 181.5 mln schillings vs 135.1 mln\n\n"
                        "Dividend 12 pct vs 10 pct on nominal share capital.");
    nf_record_destroy(&rec);

    const char *repeat = "Niger closes its border with Benin\nThe junta said on Monday.\n";
    rec = record_of(repeat, strlen(repeat), "text/plain");
    assert_int_equal(nf_record_set_cstr(rec, NF_F_TITLE, "Niger closes border with Benin"), 0);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_string_equal(str(rec, NF_F_TITLE), "Niger closes border with Benin");
    assert_string_equal(str(rec, NF_F_TEXT), "The junta said on Monday.");
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_bylines(void **unused)
{
    (void)unused;
    struct mock_plugin *mp = load(NULL);
    struct nf_record *rec = clean_str(mp,
                                      "By Jane Doe, Reuters\n\n"
                                      "NIAMEY (Reuters) - Niger's junta said on Monday it "
                                      "would reopen the border.",
                                      NF_OK);
    assert_string_equal(str(rec, NF_F_BYLINE), "Jane Doe");
    assert_string_equal(str(rec, NF_F_OUTLET), "Reuters");
    assert_memory_equal(str(rec, NF_F_TEXT), "NIAMEY (Reuters)", 16);
    nf_record_destroy(&rec);

    rec = clean_str(mp,
                    "The talks ended without a deal.\nBy Moussa Ag Attaher, Staff Writer",
                    NF_OK);
    assert_string_equal(str(rec, NF_F_BYLINE), "Moussa Ag Attaher");
    assert_null(str(rec, NF_F_OUTLET));
    assert_string_equal(str(rec, NF_F_TEXT), "The talks ended without a deal.");
    nf_record_destroy(&rec);

    /* a wire signature on the last line without a byline */
    rec = clean_str(mp, "The talks ended without a deal.\n\xE2\x80\x94 Reuters", NF_OK);
    assert_string_equal(str(rec, NF_F_OUTLET), "Reuters");
    assert_string_equal(str(rec, NF_F_TEXT), "The talks ended without a deal.");
    nf_record_destroy(&rec);

    /* a short capitalised last line without any mark of a signature stays text */
    rec = clean_str(mp, "The talks ended without a deal.\nLong Live Mali", NF_OK);
    assert_null(str(rec, NF_F_OUTLET));
    assert_int_equal(count_paragraphs(str(rec, NF_F_TEXT)), 2);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_text_field_is_cleaned_html_passes(void **unused)
{
    (void)unused;
    struct mock_plugin *mp = load(NULL);
    struct nf_record *rec = record_of("<p>Hello</p>", 12, "text/html; charset=utf-8");
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_null(str(rec, NF_F_TEXT));
    /* once another stage extracted the text, it is cleaned whatever the raw bytes are */
    assert_int_equal(
        nf_record_set_cstr(rec, NF_F_TEXT, "  Hello   there.\n\n\n\nAdvertisement\n"), 0);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_string_equal(str(rec, NF_F_TEXT), "Hello there.");
    nf_record_destroy(&rec);

    rec = nf_record_new();
    assert_int_equal(mock_process(mp, rec), NF_ERR);
    assert_non_null(strstr(mock_last_error(), "neither raw nor text"));
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_options(void **unused)
{
    (void)unused;
    const char *const extra[] = {"drop_patterns=editor.s note:.*|follow the live blog", NULL};
    struct mock_plugin *mp = load(extra);
    struct nf_record *rec = clean_str(mp,
                                      "Editor's note: this story was updated.\n"
                                      "Niger reopened the border.\nFollow the live blog\n"
                                      "- Advertisement -",
                                      NF_OK);
    assert_string_equal(str(rec, NF_F_TEXT), "Niger reopened the border.");
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);

    const char *const nobuiltin[] = {"builtin_patterns=false", NULL};
    mp = load(nobuiltin);
    rec = clean_str(mp, "Niger reopened the border.\nAdvertisement", NF_OK);
    assert_string_equal(str(rec, NF_F_TEXT), "Niger reopened the border.\n\nAdvertisement");
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);

    const char *const min[] = {"min_chars=40", NULL};
    mp = load(min);
    rec = clean_str(mp, "Too short.", NF_ERR);
    assert_non_null(strstr(mock_last_error(), "min_chars is 40"));
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);

    /* the plugin's validate finds a bad pattern (what `newsflow check` runs), with where */
    const char *const bad[] = {"drop_patterns=(unclosed", NULL};
    assert_null(mock_plugin_new("clean_text", bad));
    assert_string_equal(mock_last_error(), "option 'drop_patterns' is not a valid pattern: "
                                           "missing closing parenthesis at offset 9");
    /* the option table's bounds, before init */
    const char *const badsim[] = {"headline_similarity=1.5", NULL};
    assert_null(mock_plugin_new("clean_text", badsim));
    assert_string_equal(mock_last_error(),
                        "option 'headline_similarity' must be between 0 and 1, got 1.5");
    const char *const negmin[] = {"min_chars=-1", NULL};
    assert_null(mock_plugin_new("clean_text", negmin));
    assert_string_equal(mock_last_error(),
                        "option 'min_chars' must be between 0 and 1000000, got -1");
    const char *const bigmin[] = {"min_chars=1000001", NULL};
    assert_null(mock_plugin_new("clean_text", bigmin));
    assert_string_equal(mock_last_error(),
                        "option 'min_chars' must be between 0 and 1000000, got 1000001");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_dates),
        cmocka_unit_test(test_seed_003_headline_and_signature),
        cmocka_unit_test(test_seed_prose_kept),
        cmocka_unit_test(test_windows_1252),
        cmocka_unit_test(test_mojibake),
        cmocka_unit_test(test_control_characters_and_spaces),
        cmocka_unit_test(test_nfc),
        cmocka_unit_test(test_only_boilerplate_is_an_error),
        cmocka_unit_test(test_boilerplate_lines_in_body),
        cmocka_unit_test(test_more_boilerplate),
        cmocka_unit_test(test_single_headline),
        cmocka_unit_test(test_headline_then_similar_lead),
        cmocka_unit_test(test_fields_already_set_are_kept),
        cmocka_unit_test(test_first_line_against_known_title),
        cmocka_unit_test(test_bylines),
        cmocka_unit_test(test_text_field_is_cleaned_html_passes),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
