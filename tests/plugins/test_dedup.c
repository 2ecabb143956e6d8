/* dedup through its descriptor: copies that differ in spacing, case, accents or quotes point at
 * the first article; replays get their verdict again (an original never becomes a copy of
 * itself); verdicts survive a restart; workers sharing the file see each other's articles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mock_core.h"

static char db_path[512], popt[600];

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ID_C "cccccccccccccccccccccccccccccccc"
#define ID_D "dddddddddddddddddddddddddddddddd"
#define ID_E "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
#define ID_F "ffffffffffffffffffffffffffffffff"

static const char TEXT_A[] = "BAMAKO, Mali — Colonel Assimi Goïta said on Monday that the "
                             "“Alliance of Sahel States” would stand together.\n\nMore follows.";
/* The same article as another outlet printed it: spacing, case, quotes, dashes and accents. */
static const char TEXT_B[] = "Bamako, Mali -- colonel  ASSIMI GOITA said on Monday that the "
                             "\"Alliance of Sahel States\" would stand together. More follows";
static const char TEXT_C[] = "  bamako mali colonel assimi goïta said on monday that the alliance "
                             "of sahel states would stand together more follows ...";
static const char TEXT_D[] = "BAMAKO, Mali — Colonel Assimi Goïta said on Tuesday that the "
                             "“Alliance of Sahel States” would stand together.\n\nMore follows.";

static void make(struct nf_record *rec, const char *id, const char *text)
{
    nf_record_reset(rec);
    nf_record_set_cstr(rec, NF_F_ID, id);
    if (text)
        nf_record_set_cstr(rec, NF_F_TEXT, text);
}

/* Runs one record through the filter and returns its dup_of ("" when it has none). */
static const char *judge(struct mock_plugin *mp, struct nf_record *rec, const char *id,
                         const char *text)
{
    make(rec, id, text);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    /* The verdict must survive the hop to the next stage. */
    assert_int_equal(mock_roundtrip(rec), 0);
    const char *d = nf_record_str(rec, NF_F_DUP_OF, NULL);
    return d ? d : "";
}

static void test_copies_point_at_the_first(void **state)
{
    (void)state;
    const char *opts[] = {popt, NULL};
    struct mock_plugin *mp = mock_plugin_new("dedup", opts);
    assert_non_null(mp);
    assert_int_equal(mock_desc(mp)->kind, NF_PLUGIN_FILTER);
    struct nf_record *rec = nf_record_new();

    /* All in one batch, before any flush: copies are caught within a batch too. */
    assert_string_equal(judge(mp, rec, ID_A, TEXT_A), "");
    assert_string_equal(judge(mp, rec, ID_B, TEXT_B), ID_A);
    assert_string_equal(judge(mp, rec, ID_C, TEXT_C), ID_A);
    assert_string_equal(judge(mp, rec, ID_D, TEXT_D), ""); /* one word differs */
    assert_int_equal(mock_counter("dup"), 2);

    /* Replays: the original stays an original, even if it arrives claiming otherwise. */
    make(rec, ID_A, TEXT_A);
    nf_record_set_cstr(rec, NF_F_DUP_OF, ID_B);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_false(nf_record_has(rec, NF_F_DUP_OF));
    assert_string_equal(judge(mp, rec, ID_B, TEXT_B), ID_A);
    assert_string_equal(judge(mp, rec, ID_D, TEXT_D), "");
    /* Replays are not new copies. */
    assert_int_equal(mock_counter("dup"), 2);

    /* Without text there is nothing to judge: the record passes as it came. */
    make(rec, ID_E, NULL);
    nf_record_set_cstr(rec, NF_F_DUP_OF, ID_D);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_string_equal(nf_record_str(rec, NF_F_DUP_OF, NULL), ID_D);
    /* Nor with text that is nothing but punctuation. */
    assert_string_equal(judge(mp, rec, ID_E, " ... — !"), "");
    assert_string_equal(judge(mp, rec, ID_F, "!!!"), "");

    assert_int_equal(mock_flush(mp), NF_OK);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_verdicts_survive_a_restart(void **state)
{
    (void)state;
    const char *opts[] = {popt, NULL};
    struct mock_plugin *mp = mock_plugin_new("dedup", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    assert_string_equal(judge(mp, rec, ID_A, TEXT_A), "");
    assert_string_equal(judge(mp, rec, ID_B, TEXT_B), ID_A);
    /* A new copy of the old original. */
    assert_string_equal(judge(mp, rec, ID_F, TEXT_A), ID_A);
    assert_string_equal(judge(mp, rec, ID_D, TEXT_D), "");
    /* Destroyed without a flush: the host flushes before it stops, but nothing is lost if it
     * did not. */
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);

    mp = mock_plugin_new("dedup", opts);
    assert_non_null(mp);
    rec = nf_record_new();
    assert_string_equal(judge(mp, rec, ID_F, TEXT_A), ID_A);
    assert_string_equal(judge(mp, rec, ID_A, TEXT_A), "");
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_workers_share_the_file(void **state)
{
    (void)state;
    char p[600], o[620];
    snprintf(p, sizeof(p), "%s/shared.db", mock_state_dir());
    snprintf(o, sizeof(o), "path=%s", p);
    const char *opts[] = {o, NULL};
    mock_set_worker(0, 2);
    struct mock_plugin *w0 = mock_plugin_new("dedup", opts);
    mock_set_worker(1, 2);
    struct mock_plugin *w1 = mock_plugin_new("dedup", opts);
    mock_set_worker(0, 1);
    assert_non_null(w0);
    assert_non_null(w1);
    struct nf_record *rec = nf_record_new();
    /* Neither worker flushes in between: each sees what the other judged at once. */
    assert_string_equal(judge(w0, rec, ID_A, TEXT_A), "");
    assert_string_equal(judge(w1, rec, ID_B, TEXT_B), ID_A);
    assert_string_equal(judge(w1, rec, ID_D, TEXT_D), "");
    assert_string_equal(judge(w0, rec, ID_C, TEXT_C), ID_A);
    assert_string_equal(judge(w0, rec, ID_B, TEXT_B), ID_A);
    assert_int_equal(mock_flush(w0), NF_OK);
    assert_int_equal(mock_flush(w1), NF_OK);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&w0);
    mock_plugin_destroy(&w1);
    unlink(p);
}

static void test_default_path_is_in_state_dir(void **state)
{
    (void)state;
    struct mock_plugin *mp = mock_plugin_new("dedup", NULL);
    assert_non_null(mp);
    char p[600];
    snprintf(p, sizeof(p), "%s/dedup.db", mock_state_dir());
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    mock_plugin_destroy(&mp);
    unlink(p);
}

static void test_bad_utf8_is_an_error(void **state)
{
    (void)state;
    const char *opts[] = {popt, NULL};
    struct mock_plugin *mp = mock_plugin_new("dedup", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    make(rec, ID_E, "caf\xe9 au lait");
    assert_int_equal(mock_process(mp, rec), NF_ERR);
    assert_non_null(strstr(mock_last_error(), "cannot normalise the text"));
    /* The next record is judged as usual. */
    assert_string_equal(judge(mp, rec, ID_B, TEXT_B), ID_A);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static int cleanup(void **state)
{
    (void)state;
    char p[600];
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", db_path, suffix[i]);
        unlink(p);
    }
    rmdir(mock_state_dir());
    return 0;
}

int main(void)
{
    snprintf(db_path, sizeof(db_path), "%s/dedup-test.db", mock_state_dir());
    snprintf(popt, sizeof(popt), "path=%s", db_path);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copies_point_at_the_first),
        cmocka_unit_test(test_verdicts_survive_a_restart),
        cmocka_unit_test(test_workers_share_the_file),
        cmocka_unit_test(test_default_path_is_in_state_dir),
        cmocka_unit_test(test_bad_utf8_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, cleanup);
}
