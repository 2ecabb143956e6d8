/* minhash through its descriptor: the signature is deterministic, ignores case, accents,
 * spacing and punctuation, and its bins estimate the Jaccard similarity of word shingles
 * (a copy cut to 60% shares about 60% of its bins, an unrelated article almost none). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock_core.h"

/* The signature's layout (plugins/minhash/sig.h): a 32-byte header whose bytes 16..31 are the
 * exact-text hash, then 64 little-endian 32-bit bins. */
#define SIG_BYTES (32 + 4 * 64)

static char *art[2];


/* Signs text and copies the signature to out. */
static void sign(struct mock_plugin *mp, const char *text, uint8_t out[SIG_BYTES])
{
    struct nf_record *rec = nf_record_new();
    nf_record_set_cstr(rec, NF_F_ID, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    nf_record_set_cstr(rec, NF_F_TEXT, text);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_roundtrip(rec), 0);
    size_t n;
    const void *p = nf_record_bytes(rec, NF_F_MINHASH, &n);
    assert_non_null(p);
    assert_int_equal(n, SIG_BYTES);
    memcpy(out, p, n);
    nf_record_destroy(&rec);
}

static double share_of_equal_bins(const uint8_t *a, const uint8_t *b)
{
    int eq = 0;
    for (int i = 0; i < 64; i++)
        eq += memcmp(a + 32 + 4 * i, b + 32 + 4 * i, 4) == 0;
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
        cmocka_unit_test(test_records_without_text_and_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, cleanup);
}
