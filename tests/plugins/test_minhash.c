/* minhash through its descriptor: the signature is deterministic, ignores case, accents,
 * spacing and punctuation, and its bins estimate the Jaccard similarity of word shingles
 * (a copy cut to 60% shares about 60% of its bins, an unrelated article almost none). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock_core.h"

/* The signature's layout (plugins/minhash/sig.h): a 48-byte header whose bytes 16..31 are the
 * exact-text hash, then 64 little-endian 32-bit bins. */
#define SIG_HEADER 48
#define SIG_BYTES (SIG_HEADER + 4 * 64)

static char *art[2];


/* Signs text (with a headline, when title is not NULL) and copies the signature to out. */
static void sign_titled(struct mock_plugin *mp, const char *title, const char *text,
                        uint8_t out[SIG_BYTES])
{
    struct nf_record *rec = nf_record_new();
    nf_record_set_cstr(rec, NF_F_ID, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    nf_record_set_cstr(rec, NF_F_TEXT, text);
    if (title)
        nf_record_set_cstr(rec, NF_F_TITLE, title);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_roundtrip(rec), 0);
    size_t n;
    const void *p = nf_record_bytes(rec, NF_F_MINHASH, &n);
    assert_non_null(p);
    assert_int_equal(n, SIG_BYTES);
    memcpy(out, p, n);
    nf_record_destroy(&rec);
}

static void sign(struct mock_plugin *mp, const char *text, uint8_t out[SIG_BYTES])
{
    sign_titled(mp, NULL, text, out);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Bytes 12..15: the headline's figures (0 without a headline, the same for any order and case
 * of the same figures); bytes 32..39: one bit for each figure of the text; bytes 40..43: the
 * headline's hash. */
static void test_figures(void **state)
{
    (void)state;
    struct mock_plugin *mp = mock_plugin_new("minhash", NULL);
    assert_non_null(mp);
    uint8_t a[SIG_BYTES], b[SIG_BYTES], c[SIG_BYTES], d[SIG_BYTES];
    const char *text = "Mali and Niger signed the pact.";
    sign(mp, text, a);
    assert_int_equal(le32(a + 12), 0);
    assert_int_equal(le32(a + 32) | le32(a + 36), 0); /* no figure in the text */
    sign_titled(mp, "Sahel pact signed", text, b);
    sign_titled(mp, "Sahel pact signed, 3 dead", text, c);
    sign_titled(mp, "UPDATE: SAHEL PACT SIGNED", text, d);
    assert_int_not_equal(le32(b + 12), 0);
    assert_int_not_equal(le32(b + 12), le32(c + 12));
    assert_int_equal(le32(b + 12), le32(d + 12)); /* no figures either */
    /* the text's part is the same; the headline's hash (bytes 40..43) is not, nor the bins,
     * which hold the headline's shingles too */
    assert_memory_equal(b + 16, c + 16, 24);
    assert_memory_not_equal(b + SIG_HEADER, c + SIG_HEADER, SIG_BYTES - SIG_HEADER);
    assert_int_not_equal(le32(b + 40), le32(c + 40));
    sign_titled(mp, "2ND QTR NET 1987", text, b);
    sign_titled(mp, "1987 2nd qtr net", text, c);
    sign_titled(mp, "1ST QTR NET 1987", text, d);
    assert_int_equal(le32(b + 12), le32(c + 12));
    assert_int_not_equal(le32(b + 12), le32(d + 12));
    sign(mp, "Net profit 181.5 mln vs 135.1 mln in 1986.", a);
    sign(mp, "Net profit 181.5 mln vs 135.1 mln.", b);
    uint64_t fa = le32(a + 32) | (uint64_t)le32(a + 36) << 32;
    uint64_t fb = le32(b + 32) | (uint64_t)le32(b + 36) << 32;
    assert_int_equal(fa & fb, fb); /* the shorter one's figures are among the longer one's */
    assert_true(__builtin_popcountll(fb) >= 2 && fa != fb);
    mock_plugin_destroy(&mp);
}

static double share_of_equal_bins(const uint8_t *a, const uint8_t *b)
{
    int eq = 0;
    for (int i = 0; i < 64; i++)
        eq += memcmp(a + SIG_HEADER + 4 * i, b + SIG_HEADER + 4 * i, 4) == 0;
    return eq / 64.0;
}

static char *first_words(const char *s, int keep)
{
    int seen = 0;
    size_t i = 0, n = strlen(s);
    for (; i < n; i++)
        if ((i == 0 || s[i - 1] == ' ' || s[i - 1] == '\n') && s[i] != ' ' && s[i] != '\n' &&
            ++seen > keep)
            break;
    return strndup(s, i);
}

static int count_words(const char *s)
{
    int w = 0;
    for (size_t i = 0; s[i]; i++)
        w += (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\n') && s[i] != ' ' && s[i] != '\n';
    return w;
}

static void test_deterministic_and_normalised(void **state)
{
    (void)state;
    struct mock_plugin *a = mock_plugin_new("minhash", NULL);
    struct mock_plugin *b = mock_plugin_new("minhash", NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(mock_desc(a)->kind, NF_PLUGIN_FILTER);
    uint8_t s1[SIG_BYTES], s2[SIG_BYTES], s3[SIG_BYTES];
    sign(a, art[0], s1);
    sign(b, art[0], s2); /* another instance (another worker) */
    assert_memory_equal(s1, s2, SIG_BYTES);
    sign(a, "Colonel Assimi Goïta said on Monday: “we stand together”.", s1);
    sign(a, "colonel  ASSIMI GOITA said on monday -- \"We stand together\"", s2);
    assert_memory_equal(s1, s2, SIG_BYTES); /* also the exact hash */
    sign(a, "Colonel Assimi Goïta said on Tuesday: “we stand together”.", s3);
    assert_memory_not_equal(s1 + 16, s3 + 16, 16);
    mock_plugin_destroy(&a);
    mock_plugin_destroy(&b);
}

static void test_bins_estimate_similarity(void **state)
{
    (void)state;
    struct mock_plugin *mp = mock_plugin_new("minhash", NULL);
    assert_non_null(mp);
    uint8_t full[SIG_BYTES], part[SIG_BYTES], other[SIG_BYTES];
    sign(mp, art[0], full);
    int words = count_words(art[0]);
    char *p60 = first_words(art[0], words * 6 / 10);
    sign(mp, p60, part);
    /* Jaccard of 4-word shingles of a 60% prefix is about 0.6; 64 bins give +-0.06 (1 sd). */
    double j = share_of_equal_bins(full, part);
    assert_true(j > 0.4 && j < 0.8);
    sign(mp, art[1], other);
    assert_true(share_of_equal_bins(full, other) < 0.1);
    free(p60);
    mock_plugin_destroy(&mp);
}

/* Every ninth word of a text replaced by the word before it, when that one is no longer (as a
 * copy edited word by word); the caller frees the result. */
static char *edited(const char *s)
{
    size_t n = strlen(s), o = 0, prev_n = 0;
    char *out = malloc(n + 1);
    const char *prev = NULL;
    int w = 0;
    assert_non_null(out);
    for (size_t i = 0; i < n;) {
        if (s[i] == ' ' || s[i] == '\n') {
            out[o++] = s[i++];
            continue;
        }
        size_t e = i;
        while (e < n && s[e] != ' ' && s[e] != '\n')
            e++;
        bool swap = ++w % 9 == 0 && prev && prev_n <= e - i;
        memcpy(out + o, swap ? prev : s + i, swap ? prev_n : e - i);
        o += swap ? prev_n : e - i;
        prev = s + i, prev_n = e - i;
        i = e;
    }
    out[o] = '\0';
    return out;
}

/* The headline's shingles are in the bins: a copy with words edited that keeps its original's
 * headline shares more bins with it than the texts alone do, and two articles on one body
 * under headlines of their own share fewer than all. */
static void test_headline_joins_the_bins(void **state)
{
    (void)state;
    struct mock_plugin *mp = mock_plugin_new("minhash", NULL);
    assert_non_null(mp);
    static const char head[] = "Mali, Burkina Faso and Niger sign a mutual defence pact";
    char *copy = edited(art[0]);
    uint8_t o[SIG_BYTES], ot[SIG_BYTES], c[SIG_BYTES], ct[SIG_BYTES];
    sign(mp, art[0], o);
    sign_titled(mp, head, art[0], ot);
    sign(mp, copy, c);
    sign_titled(mp, head, copy, ct);
    double bare = share_of_equal_bins(o, c), titled = share_of_equal_bins(ot, ct);
    print_message("edited copy: %.3f of the bins alike, %.3f with the headline\n", bare, titled);
    assert_true(titled >= bare + 0.03);
    sign_titled(mp, "Sahel juntas leave the regional bloc", art[0], c);
    print_message("other headline: %.3f of the bins alike\n", share_of_equal_bins(ot, c));
    assert_true(share_of_equal_bins(ot, c) <= 0.94);
    free(copy);
    mock_plugin_destroy(&mp);
}

static void test_records_without_text_and_bad_input(void **state)
{
    (void)state;
    struct mock_plugin *mp = mock_plugin_new("minhash", NULL);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    nf_record_set_cstr(rec, NF_F_ID, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    nf_record_set_bytes(rec, NF_F_MINHASH, "stale", 5);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_false(nf_record_has(rec, NF_F_MINHASH)); /* it described some other text */
    nf_record_set_cstr(rec, NF_F_TEXT, "caf\xe9 au lait");
    assert_int_equal(mock_process(mp, rec), NF_ERR);
    assert_non_null(strstr(mock_last_error(), "invalid UTF-8"));
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
    const char *bad[] = {"shingle=0", NULL};
    assert_null(mock_plugin_new("minhash", bad));
    assert_non_null(strstr(mock_last_error(), "'shingle'"));
}

/* A wire version marker is not part of the headline: a later version of a story ("UPDATE 2-",
 * "CORRECTED-", "REFILE-UPDATE 1-", "(2)" at the end, a republisher's "BREAKING: ") has the
 * headline's figures and hash of the first. A marker word without its dash, a number in
 * brackets that is no version, and a headline of nothing but a marker stay as written. */
static void test_version_markers_are_not_headline(void **state)
{
    (void)state;
    struct mock_plugin *mp = mock_plugin_new("minhash", NULL);
    assert_non_null(mp);
    const char *text = "Mali and Niger signed the pact.";
    uint8_t a[SIG_BYTES], b[SIG_BYTES];
    sign_titled(mp, "Sahel pact signed", text, a);
    static const char *const same[] = {
        "UPDATE 1-Sahel pact signed",        "UPDATE 2-Sahel pact signed",
        "CORRECTED-Sahel pact signed",       "REFILE-UPDATE 3-Sahel pact signed",
        "CORRECTED - UPDATE 12: Sahel pact signed", "RPT-Sahel pact signed",
        "Sahel pact signed (1)",             "UPDATE 2-Sahel pact signed (2)",
        "Sahel pact signed [Updated]",       "BREAKING: Sahel Pact Signed",
        "WRAPUP 2\u2013Sahel pact signed",  "  update 4 - Sahel pact signed  ",
    };
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        sign_titled(mp, same[i], text, b);
        if (le32(a + 12) != le32(b + 12) || le32(a + 40) != le32(b + 40))
            fail_msg("\"%s\" is not read as a version of \"Sahel pact signed\"", same[i]);
    }
    /* each, and what it would be if its start or end were taken for a marker */
    static const char *const other[][2] = {
        {"Sahel pact signed (2023)", "Sahel pact signed"},
        {"Sahel pact signed (3 dead)", "Sahel pact signed"},
        {"Update 1 million voters", "million voters"},
        {"Repeat offenders: Sahel pact signed", "offenders: Sahel pact signed"},
        {"Updates-Sahel pact signed", "Sahel pact signed"},
    };
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        sign_titled(mp, other[i][0], text, a);
        sign_titled(mp, other[i][1], text, b);
        if (le32(a + 40) == le32(b + 40))
            fail_msg("\"%s\" lost words that are not a version marker", other[i][0]);
    }
    uint8_t c[SIG_BYTES];
    sign_titled(mp, "UPDATE 2-", text, b);
    sign_titled(mp, "UPDATE 3-", text, c);
    assert_int_not_equal(le32(b + 12), le32(c + 12)); /* nothing but a marker: kept */
    mock_plugin_destroy(&mp);
}

/* A number is its digits, not its punctuation: the same report with its numbers written in
 * another outlet's style (thousands separators dropped, made points, spaces, no-break or thin
 * spaces, apostrophes; decimal commas; a separator moved by a typo) signs alike, text and
 * headline. A space joins digits only as thousands are grouped. */
static void test_number_forms_sign_alike(void **state)
{
    (void)state;
    struct mock_plugin *mp = mock_plugin_new("minhash", NULL);
    assert_non_null(mp);
    uint8_t a[SIG_BYTES], b[SIG_BYTES];
    sign_titled(mp, "Net up 3.5 pct to 3,892,000 dlrs",
                "Net profit rose 3.5 pct to 3,892,000 dlrs on sales of 100,000 units, up "
                "from 12,345.6 in 1986.",
                a);
    static const char *const forms[][2] = {
        {"Net up 3,5 pct to 3892000 dlrs",
         "Net profit rose 3,5 pct to 3892000 dlrs on sales of 100000 units, up from 12345,6 "
         "in 1986."},
        {"Net up 3,5 pct to 3.892.000 dlrs",
         "Net profit rose 3,5 pct to 3.892.000 dlrs on sales of 100.000 units, up from "
         "12.345,6 in 1986."},
        {"Net up 3,5 pct to 3 892 000 dlrs",
         "Net profit rose 3,5 pct to 3 892 000 dlrs on sales of 100 000 units, up from "
         "12 345,6 in 1986."},
        {"Net up 3,5 pct to 3\u00a0892\u00a0000 dlrs",
         "Net profit rose 3,5 pct to 3\u202f892\u202f000 dlrs on sales of 100\u2009000 units, "
         "up from 12\u00a0345,6 in 1986."},
        {"Net up 3.5 pct to 3'892'000 dlrs",
         "Net profit rose 3.5 pct to 3\u2019892\u2019000 dlrs on sales of 100'000 units, up "
         "from 12'345.6 in 1986."},
        {"Net up 3.5 pct to 38,92,000 dlrs",
         "Net profit rose 3.5 pct to 38,92,000 dlrs on sales of 100,,000 units, up from "
         "12.345,6 in 1986."},
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        sign_titled(mp, forms[i][0], forms[i][1], b);
        if (memcmp(a + 4, b + 4, SIG_BYTES - 4) != 0)
            fail_msg("\"%s\" does not sign as the same numbers", forms[i][1]);
    }
    /* not thousands: a year then a count, a count then a four-digit group, a list */
    sign(mp, "In 1987 300 people came.", a);
    sign(mp, "In 1987300 people came.", b);
    assert_memory_not_equal(a + 16, b + 16, 16);
    sign(mp, "Scores of 12 3000 were read.", a);
    sign(mp, "Scores of 123000 were read.", b);
    assert_memory_not_equal(a + 16, b + 16, 16);
    sign(mp, "Scores were 1, 200 and 3.", a);
    sign(mp, "Scores were 1200 and 3.", b);
    assert_memory_not_equal(a + 16, b + 16, 16);
    /* a table: numbers grouped by commas, one after another */
    sign(mp, "Net 627,000 627,000 vs 20 627,000.", a);
    sign(mp, "Net 627000627000 vs 20627000.", b);
    assert_memory_not_equal(a + 16, b + 16, 16);
    sign(mp, "Net 627000 627000 vs 20627000.", b);
    assert_memory_not_equal(a + 16, b + 16, 16);
    sign(mp, "Net 627000 627000 vs 20 627000.", b);
    assert_memory_equal(a + 16, b + 16, 16);
    sign(mp, "Net 627,000 627 vs 20.", a);
    sign(mp, "Net 627,000,627 vs 20.", b);
    assert_memory_not_equal(a + 16, b + 16, 16);
    mock_plugin_destroy(&mp);
}

static int setup(void **state)
{
    (void)state;
    char p[600];
    snprintf(p, sizeof(p), "%s/conf/sample/000_a8143c3ee1feb549.txt", NF_SOURCE_DIR);
    art[0] = mock_slurp(p, NULL);
    assert_non_null(art[0]);
    snprintf(p, sizeof(p), "%s/conf/sample/003_d827aa3b829ea74b.txt", NF_SOURCE_DIR);
    art[1] = mock_slurp(p, NULL);
    assert_non_null(art[1]);
    return 0;
}

static int cleanup(void **state)
{
    (void)state;
    free(art[0]);
    free(art[1]);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", mock_state_dir());
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic_and_normalised),
        cmocka_unit_test(test_bins_estimate_similarity),
        cmocka_unit_test(test_figures),
        cmocka_unit_test(test_headline_joins_the_bins),
        cmocka_unit_test(test_version_markers_are_not_headline),
        cmocka_unit_test(test_number_forms_sign_alike),
        cmocka_unit_test(test_records_without_text_and_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, cleanup);
}
