/* dedup's index alone, built with tables that start at 1,024 articles (DUP_T_START, set by
 * tests/CMakeLists.txt) so that a few thousand articles make them grow: copies of articles put
 * before the growth are found after it, verdicts are still known by id, and the tables' memory
 * follows the articles held rather than the window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "index.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;

/* An article of `words` random words from a large vocabulary: nobody's copy. */
static void random_text(char *out, size_t cap, int words)
{
    size_t len = 0;
    for (int k = 0; k < words && len + 16 < cap; k++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        len += (size_t)snprintf(out + len, cap - len, "w%u ", (unsigned)(rng >> 33) % 50000);
    }
}

static void make_id(uint8_t id[16], uint32_t n)
{
    memset(id, 0, 16);
    memcpy(id, &n, sizeof(n));
    id[15] = 0xA5;
}

static void sign(struct nf_sig_work *w, const char *text, struct nf_sig *sig)
{
    const char *why = NULL;
    if (nf_sig_compute(w, text, strlen(text), 4, sig, &why) < 0)
        fail_msg("signature: %s", why ? why : "?");
}

static void test_tables_grow_and_keep_what_they_held(void **state)
{
    (void)state;
    struct nf_dup_params p = {100000, nf_dup_rows_for(0.5), 0.5, 0.8, 0.5, 0.3};
    struct nf_dup_index *x = nf_dup_index_new(&p);
    assert_non_null(x);
    size_t first_bytes = nf_dup_index_bytes(x);
    struct nf_sig_work w = {0};
    struct nf_sig sig;
    static char originals[2][4096];
    char text[4096];
    uint8_t id[16], root[16];
    const char *why;
    for (int i = 0; i < 2; i++) {
        random_text(originals[i], sizeof(originals[i]), 200);
        sign(&w, originals[i], &sig);
        make_id(id, (uint32_t)i);
        assert_int_equal(nf_dup_index_judge(x, id, i, &sig, root, &why, NULL, NULL),
                         NF_DUP_ORIGINAL);
    }
    for (uint32_t n = 2; n < 3002; n++) { /* two growths: 1,024 -> 4,096 articles */
        random_text(text, sizeof(text), 60);
        sign(&w, text, &sig);
        make_id(id, n);
        assert_int_equal(nf_dup_index_judge(x, id, n, &sig, root, &why, NULL, NULL),
                         NF_DUP_ORIGINAL);
    }
    assert_true(nf_dup_index_bytes(x) > first_bytes);
    assert_true(nf_dup_index_bytes(x) < nf_dup_index_bytes_full(x)); /* 4,096 of 100,000 */
    /* an exact copy and a near copy (a few words changed) of the articles put first */
    sign(&w, originals[0], &sig);
    make_id(id, 5000);
    assert_int_equal(nf_dup_index_judge(x, id, 5000, &sig, root, &why, NULL, NULL), NF_DUP_COPY);
    make_id(id, 0);
    assert_memory_equal(root, id, 16);
    snprintf(text, sizeof(text), "%s", originals[1]);
    for (int k = 0; k < 6; k++)
        text[40 * k + 1] = 'x';
    sign(&w, text, &sig);
    make_id(id, 5001);
    assert_int_equal(nf_dup_index_judge(x, id, 5001, &sig, root, &why, NULL, NULL), NF_DUP_COPY);
    make_id(id, 1);
    assert_memory_equal(root, id, 16);
    /* every article is still found by its id */
    enum nf_dup_kind kind;
    for (uint32_t n = 0; n < 3002; n += 97) {
        make_id(id, n);
        assert_int_equal(nf_dup_index_lookup(x, id, &kind, root), 1);
        assert_int_equal(kind, NF_DUP_ORIGINAL);
    }
    nf_sig_work_free(&w);
    nf_dup_index_destroy(&x);
}

/* A window no larger than the tables' first size has them whole from the start. */
static void test_small_window_is_sized_at_once(void **state)
{
    (void)state;
    struct nf_dup_params p = {500, nf_dup_rows_for(0.5), 0.5, 0.8, 0.5, 0.3};
    struct nf_dup_index *x = nf_dup_index_new(&p);
    assert_non_null(x);
    size_t bytes = nf_dup_index_bytes(x);
    struct nf_sig_work w = {0};
    struct nf_sig sig;
    char text[2048];
    uint8_t id[16], root[16];
    const char *why;
    for (uint32_t n = 0; n < 1200; n++) { /* past the window: the oldest are evicted */
        random_text(text, sizeof(text), 60);
        sign(&w, text, &sig);
        make_id(id, n);
        assert_true(nf_dup_index_judge(x, id, n, &sig, root, &why, NULL, NULL) >= 0);
    }
    assert_int_equal(nf_dup_index_bytes(x), bytes);
    assert_int_equal(nf_dup_index_bytes_full(x), bytes);
    assert_int_equal(nf_dup_index_count(x), 500);
    nf_sig_work_free(&w);
    nf_dup_index_destroy(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables_grow_and_keep_what_they_held),
        cmocka_unit_test(test_small_window_is_sized_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
