/* Tests of the source journal (core/journal.c): records sent and not acknowledged come back
 * after a reopen, acknowledged ones do not; a sync run beside its owner (sync_begin/end) makes
 * what was buffered before it durable, signals its end on its descriptor, refuses a second one
 * at once, and what is buffered while it runs waits for the next sync; a torn tail is cut. */
#include <fcntl.h>
#include <poll.h>
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

#include "journal.h"

static char dir[64], path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/nf-test-journal.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/j", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct nf_journal *open_ok(void)
{
    char err[512];
    struct nf_journal *j = nf_journal_open(path, err, sizeof(err));
    if (!j)
        fail_msg("open: %s", err);
    return j;
}

/* The recovered records' sequence numbers, in order, into seqs; returns how many. */
static size_t recovered_seqs(struct nf_journal *j, int64_t *seqs, size_t max)
{
    size_t n = nf_journal_recovered(j);
    for (size_t i = 0; i < n && i < max; i++) {
        int attempt;
        const uint8_t *bytes;
        size_t len;
        assert_int_equal(nf_journal_recovered_get(j, i, &seqs[i], &attempt, &bytes, &len), 0);
        char want[32];
        snprintf(want, sizeof(want), "record %lld", (long long)seqs[i]);
        assert_int_equal(len, strlen(want));
        assert_memory_equal(bytes, want, len);
    }
    return n;
}

static void sent(struct nf_journal *j, int64_t seq)
{
    char body[32];
    snprintf(body, sizeof(body), "record %lld", (long long)seq);
    assert_int_equal(nf_journal_sent(j, seq, 1, body, strlen(body)), 0);
}

static void test_unacknowledged_come_back(void **state)
{
    (void)state;
    char err[512];
    struct nf_journal *j = open_ok();
    for (int64_t s = 1; s <= 5; s++)
        sent(j, s);
    assert_int_equal(nf_journal_acked(j, 2), 0);
    assert_int_equal(nf_journal_acked(j, 4), 0);
    assert_int_equal(nf_journal_sync(j, 1, err, sizeof(err)), 0);
    nf_journal_close(&j);
    assert_null(j);
    j = open_ok();
    int64_t seqs[8];
    assert_int_equal(recovered_seqs(j, seqs, 8), 3);
    assert_int_equal(seqs[0], 1);
    assert_int_equal(seqs[1], 3);
    assert_int_equal(seqs[2], 5);
    nf_journal_close(&j);
}

static void test_sync_beside(void **state)
{
    (void)state;
    char err[512];
    struct nf_journal *j = open_ok();
    sent(j, 1);
    sent(j, 2);
    int fd = nf_journal_sync_begin(j, err, sizeof(err));
    assert_true(fd >= 0);
    assert_int_equal(nf_journal_sync_begin(j, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "running already"));
    /* buffered while the sync runs: allowed, and not in the file until the next sync */
    sent(j, 3);
    assert_int_equal(nf_journal_acked(j, 1), 0);
    struct pollfd p = {fd, POLLIN, 0};
    assert_int_equal(poll(&p, 1, 10000), 1);
    assert_int_equal(nf_journal_sync_end(j, err, sizeof(err)), 0);
    assert_int_equal(nf_journal_sync_end(j, err, sizeof(err)), 0); /* none running: nothing */
    /* the file holds what was written at begin: a copy read now recovers records 1 and 2 */
    char copy[160], cmd[400];
    snprintf(copy, sizeof(copy), "%s/copy", dir);
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", path, copy);
    assert_int_equal(system(cmd), 0);
    struct nf_journal *c = nf_journal_open(copy, err, sizeof(err));
    assert_non_null(c);
    int64_t seqs[8];
    assert_int_equal(recovered_seqs(c, seqs, 8), 2);
    assert_int_equal(seqs[0], 1);
    assert_int_equal(seqs[1], 2);
    nf_journal_close(&c);
    /* a second sync beside, then the whole: 1 acknowledged, 2 and 3 live */
    assert_true(nf_journal_sync_begin(j, err, sizeof(err)) >= 0);
    assert_int_equal(nf_journal_sync_end(j, err, sizeof(err)), 0);
    nf_journal_close(&j);
    j = open_ok();
    assert_int_equal(recovered_seqs(j, seqs, 8), 2);
    assert_int_equal(seqs[0], 2);
    assert_int_equal(seqs[1], 3);
    nf_journal_close(&j);
}

/* A plain sync, a compaction or a close while a sync beside runs wait for it. */
static void test_sync_beside_then_others(void **state)
{
    (void)state;
    char err[512];
    struct nf_journal *j = open_ok();
    sent(j, 7);
    assert_true(nf_journal_sync_begin(j, err, sizeof(err)) >= 0);
    sent(j, 8);
    assert_int_equal(nf_journal_sync(j, 1, err, sizeof(err)), 0);
    assert_true(nf_journal_sync_begin(j, err, sizeof(err)) >= 0);
    nf_journal_close(&j); /* joins the thread: no leak under ASan */
    j = open_ok();
    int64_t seqs[8];
    assert_int_equal(recovered_seqs(j, seqs, 8), 2);
    assert_int_equal(seqs[1], 8);
    nf_journal_close(&j);
}

static void test_torn_tail_is_cut(void **state)
{
    (void)state;
    char err[512];
    struct nf_journal *j = open_ok();
    sent(j, 1);
    sent(j, 2);
    assert_int_equal(nf_journal_sync(j, 1, err, sizeof(err)), 0);
    off_t whole = nf_journal_size(j);
    nf_journal_close(&j);
    assert_int_equal(truncate(path, whole - 3), 0);
    j = open_ok();
    int64_t seqs[8];
    assert_int_equal(recovered_seqs(j, seqs, 8), 1);
    assert_int_equal(seqs[0], 1);
    assert_true(nf_journal_size(j) < whole - 3);
    nf_journal_close(&j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unacknowledged_come_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_beside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_beside_then_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_is_cut, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
