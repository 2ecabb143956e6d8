/* Tests of read order (core/order.c): the held records come out sorted whatever order they went
 * in, their buffers are reused; a source's page tells an ordered stage how far it may go: its
 * low mark, the read order it is reading from, an idle source's "after the reader's clock", a
 * finished source, the reset answered (the epoch of that stage), the epochs kept when a source
 * opens its page again, a source whose page never appears left out after NF_ORDER_ABSENT_MS;
 * and the mark weights round-trip. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "order.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/nf-test-order.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_heap_sorts(void **state)
{
    (void)state;
    struct nf_order_heap *h = nf_order_heap_new();
    assert_non_null(h);
    assert_int_equal(nf_order_heap_top(h), INT64_MAX);
    srand(7);
    int64_t last = INT64_MIN;
    size_t held = 0, popped = 0;
    /* pushes and pops interleaved: what comes out is never below what came out before it, as
     * long as nothing lower than that is pushed after (the ordered stage's case) */
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 200; i++) {
            int64_t order = (last == INT64_MIN ? 0 : last) + 1 + rand() % 100000;
            char bytes[32];
            int n = snprintf(bytes, sizeof(bytes), "record %lld", (long long)order);
            /* its link travels with it: order - 1 as read_prev, order % 7 as source */
            assert_int_equal(nf_order_heap_push(h, order, order - 1, (int)(order % 7), bytes,
                                                (size_t)n + 1), 0);
            held++;
        }
        for (int i = 0; i < 150; i++) {
            size_t len;
            const char *bytes = nf_order_heap_top_bytes(h, &len);
            int64_t order = nf_order_heap_top(h);
            assert_true(order >= last);
            char want[32];
            snprintf(want, sizeof(want), "record %lld", (long long)order);
            assert_string_equal(bytes, want); /* the bytes go with their order */
            assert_int_equal(len, strlen(want) + 1);
            int64_t prev;
            int src;
            nf_order_heap_top_link(h, &prev, &src);
            assert_int_equal(prev, order - 1);
            assert_int_equal(src, (int)(order % 7));
            last = order;
            nf_order_heap_pop(h);
            popped++;
        }
        assert_int_equal(nf_order_heap_size(h), held - popped);
    }
    while (nf_order_heap_size(h)) {
        assert_true(nf_order_heap_top(h) >= last);
        last = nf_order_heap_top(h);
        nf_order_heap_pop(h);
    }
    assert_int_equal(nf_order_heap_bytes(h), 0);
    nf_order_heap_free(h);
}

static void test_mark_weight(void **state)
{
    (void)state;
    for (int k = 0; k < NF_ORDER_STAGES; k++)
        for (int gen = 0; gen < NF_ORDER_GENS; gen += 997) {
            int64_t w = nf_order_mark_weight(k, gen);
            assert_true(w < 0);
            int k2, gen2;
            nf_order_mark_of(w, &k2, &gen2);
            assert_int_equal(k2, k);
            assert_int_equal(gen2, gen);
        }
}

static int64_t low_of(struct nf_order_reader *r, int64_t now_ms)
{
    const char *waiting;
    int ww;
    return nf_order_reader_low(r, now_ms, &waiting, &ww);
}

static void test_marks(void **state)
{
    (void)state;
    char err[256];
    struct nf_order_page *p = nf_order_open(dir, "fetch", 0, err, sizeof(err));
    assert_non_null(p);
    char path[128];
    snprintf(path, sizeof(path), "%s/order/fetch-0", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* stage 1 of two ordered stages reads the page from here */
    struct nf_order_src src[] = {{"fetch", 0}};
    struct nf_order_reader *r = nf_order_reader_new(dir, src, 1, 1);
    assert_non_null(r);
    int64_t low[2] = {1000, 2000};
    nf_order_publish(p, low, 2, 0, false, -1);
    /* the source has not answered this reader's reset: nothing goes */
    assert_int_equal(low_of(r, 0), INT64_MIN);
    nf_order_publish(p, low, 2, 0, false, 0); /* stage 0's reset: not this one's */
    assert_int_equal(low_of(r, 0), INT64_MIN);
    nf_order_publish(p, low, 2, 0, false, 1);
    assert_int_equal(low_of(r, 0), 2000);
    /* while reading, what it reads comes after reading_from */
    int64_t later[2] = {1000, 3000};
    nf_order_publish(p, later, 2, 2500, false, -1);
    assert_int_equal(low_of(r, 0), 2500);
    /* what a page said stays true: a lower mark after it (a source started again, its journal
     * resent and not yet passed) does not take it back */
    nf_order_publish(p, low, 2, 0, false, -1);
    assert_int_equal(low_of(r, 0), 2500);
    /* nothing in flight that has not passed, not reading: anything new comes after now */
    int64_t none[2] = {INT64_MAX, INT64_MAX};
    int64_t before = nf_order_now();
    nf_order_publish(p, none, 2, 0, false, -1);
    int64_t idle = low_of(r, 0);
    assert_true(idle >= before && idle <= nf_order_now());
    /* finished: nothing holds the stage back */
    nf_order_publish(p, none, 2, 0, true, -1);
    assert_int_equal(low_of(r, 0), INT64_MAX);
    nf_order_reader_free(r);

    /* a source worker opened again keeps its page's epochs: one answer after the reader noted
     * them is enough (epochs starting again from 0 would stay below the noted one) */
    r = nf_order_reader_new(dir, src, 1, 1);
    nf_order_publish(p, low, 2, 0, false, -1);
    assert_int_equal(low_of(r, 0), INT64_MIN);
    nf_order_close(&p);
    p = nf_order_open(dir, "fetch", 0, err, sizeof(err));
    assert_non_null(p);
    assert_int_equal(low_of(r, 0), INT64_MIN); /* it holds readers until it publishes */
    nf_order_publish(p, low, 2, 0, false, 1);
    assert_int_equal(low_of(r, 0), 2000);
    nf_order_reader_free(r);
    nf_order_close(&p);
}

static void test_absent_source(void **state)
{
    (void)state;
    char err[256];
    struct nf_order_page *p = nf_order_open(dir, "a", 0, err, sizeof(err));
    assert_non_null(p);
    int64_t low[1] = {500};
    struct nf_order_src src[] = {{"a", 0}, {"b", 0}};
    struct nf_order_reader *r = nf_order_reader_new(dir, src, 2, 0);
    nf_order_publish(p, low, 1, 0, false, 0);
    /* b has no page: wait for it, but not for ever */
    assert_int_equal(low_of(r, 1000), INT64_MIN);
    assert_int_equal(low_of(r, 1000 + NF_ORDER_ABSENT_MS - 1), INT64_MIN);
    assert_int_equal(low_of(r, 1000 + NF_ORDER_ABSENT_MS), 500);
    /* when it appears it counts again */
    struct nf_order_page *q = nf_order_open(dir, "b", 0, err, sizeof(err));
    assert_non_null(q);
    int64_t lowb[1] = {300};
    nf_order_publish(q, lowb, 1, 0, false, 0);
    assert_int_equal(low_of(r, 1000 + NF_ORDER_ABSENT_MS + 1), 300);
    nf_order_reader_free(r);
    nf_order_close(&p);
    nf_order_close(&q);
}

/* A record whose read_prev has arrived (or left) moves its source's mark up to it, with no
 * word from the source; one whose read_prev has not, does not. */
static void test_follow(void **state)
{
    (void)state;
    char err[256];
    struct nf_order_page *p = nf_order_open(dir, "a", 0, err, sizeof(err));
    struct nf_order_page *q = nf_order_open(dir, "b", 0, err, sizeof(err));
    assert_non_null(p);
    assert_non_null(q);
    struct nf_order_src src[] = {{"a", 0}, {"b", 0}};
    struct nf_order_reader *r = nf_order_reader_new(dir, src, 2, 0);
    assert_non_null(r);
    int64_t low_a[1] = {1000}, low_b[1] = {5000};
    nf_order_publish(p, low_a, 1, 0, false, -1);
    nf_order_publish(q, low_b, 1, 0, false, -1);
    /* before its source has answered the reset, a link proves nothing: the last worker of this
     * stage may have had the record read before it */
    assert_int_equal(low_of(r, 0), INT64_MIN);
    assert_int_equal(nf_order_reader_follow(r, 0, 900, 1100), INT64_MIN);
    nf_order_publish(p, low_a, 1, 0, false, 0);
    nf_order_publish(q, low_b, 1, 0, false, 0);
    assert_int_equal(low_of(r, 0), 1000);
    /* 1100 follows 900, below a's mark: everything a read before 1100 is in */
    assert_int_equal(nf_order_reader_follow(r, 0, 900, 1100), 1101);
    /* 1300 follows 1200, which has not arrived: nothing moves */
    assert_int_equal(nf_order_reader_follow(r, 0, 1200, 1300), 1101);
    /* then 1200 (after 1100), and 1300 links on */
    assert_int_equal(nf_order_reader_follow(r, 0, 1100, 1200), 1201);
    assert_int_equal(nf_order_reader_follow(r, 0, 1200, 1300), 1301);
    /* a record without read_prev, or of an unknown source, links nothing */
    assert_int_equal(nf_order_reader_follow(r, 0, INT64_MAX, 1400), 1301);
    assert_int_equal(nf_order_reader_follow(r, -1, 1300, 1400), 1301);
    assert_int_equal(nf_order_reader_follow(r, 2, 1300, 1400), 1301);
    /* the page, still at 1000, does not take it back; b's mark holds everything at 5000 */
    assert_int_equal(low_of(r, 0), 1301);
    assert_int_equal(nf_order_reader_follow(r, 0, 1300, 6000), 5000);
    nf_order_reader_free(r);
    nf_order_close(&p);
    nf_order_close(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heap_sorts),
        cmocka_unit_test(test_mark_weight),
        cmocka_unit_test_setup_teardown(test_marks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absent_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
