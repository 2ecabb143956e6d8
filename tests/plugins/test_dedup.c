/* dedup through its descriptor: exact copies (spacing, case, accents, quotes), copies cut to 60%,
 * copies with a few words changed and copies wrapped in boilerplate point at the first article;
 * unrelated articles are not matched; a copy of a copy points at the first original; replays get
 * their verdict again (an original never becomes a copy of its own copy); the index survives a
 * restart through its snapshot, and a crash through the log appended at each flush; the window
 * forgets the oldest articles but not their verdicts. The verdicts follow the read order, not the
 * arrival: the same articles arriving in other orders end with the same dup_of once the
 * corrections they carry are applied as a store would. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mock_core.h"
/* the reader of the corrections dedup sends the stores (compiled in, as into the plugins) */
#include "../../plugins/dedup/amend.c"

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ID_C "cccccccccccccccccccccccccccccccc"
#define ID_D "dddddddddddddddddddddddddddddddd"
#define ID_E "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
#define ID_F "ffffffffffffffffffffffffffffffff"
#define ID_1 "11111111111111111111111111111111"
#define ID_2 "22222222222222222222222222222222"
#define ID_3 "33333333333333333333333333333333"
#define ID_4 "44444444444444444444444444444444"

static const char TEXT_A[] = "BAMAKO, Mali — Colonel Assimi Goïta said on Monday that the "
                             "“Alliance of Sahel States” would stand together.\n\nMore follows.";
/* The same article as another outlet printed it: spacing, case, quotes, dashes and accents. */
static const char TEXT_B[] = "Bamako, Mali -- colonel  ASSIMI GOITA said on Monday that the "
                             "\"Alliance of Sahel States\" would stand together. More follows";
static const char TEXT_C[] = "  bamako mali colonel assimi goïta said on monday that the alliance "
                             "of sahel states would stand together more follows ...";

/* Five real articles (conf/sample), read once. */
static char *art[5];
static char opt_db[600], opt_snap[600], db_path[512], snap_path[512];
static int case_no;


/* The first `share` of the words of s (a copy cut short), in a new string. */
static char *cut(const char *s, double share)
{
    size_t words = 0, n = strlen(s);
    for (size_t i = 0; i < n; i++)
        words += (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\n') && s[i] != ' ' && s[i] != '\n';
    size_t keep = (size_t)((double)words * share), seen = 0, i = 0;
    for (; i < n; i++) {
        if ((i == 0 || s[i - 1] == ' ' || s[i - 1] == '\n') && s[i] != ' ' && s[i] != '\n' &&
            ++seen > keep)
            break;
    }
    return strndup(s, i);
}

/* Every `every`-th word replaced by "zzzq" (a few words changed). */
static char *reword(const char *s, int every)
{
    char *out = malloc(strlen(s) * 2 + 1);
    assert_non_null(out);
    size_t o = 0;
    int w = 0;
    for (const char *p = s; *p;) {
        if (*p == ' ' || *p == '\n') {
            out[o++] = *p++;
            continue;
        }
        const char *e = p;
        while (*e && *e != ' ' && *e != '\n')
            e++;
        if (++w % every == 0) {
            memcpy(out + o, "zzzq", 4);
            o += 4;
        } else {
            memcpy(out + o, p, (size_t)(e - p));
            o += (size_t)(e - p);
        }
        p = e;
    }
    out[o] = '\0';
    return out;
}

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

/* A fresh database and snapshot for every test, so that none sees another's articles. */
static int fresh(void **state)
{
    (void)state;
    case_no++;
    snprintf(db_path, sizeof(db_path), "%s/dedup-%d.db", mock_state_dir(), case_no);
    snprintf(snap_path, sizeof(snap_path), "%s/dedup-%d.index", mock_state_dir(), case_no);
    snprintf(opt_db, sizeof(opt_db), "path=%s", db_path);
    snprintf(opt_snap, sizeof(opt_snap), "snapshot=%s", snap_path);
    return 0;
}

static struct mock_plugin *open_dedup(const char *extra)
{
    const char *opts[] = {opt_db, opt_snap, extra, NULL};
    struct mock_plugin *mp = mock_plugin_new("dedup", opts);
    assert_non_null(mp);
    return mp;
}

static void test_exact_copies_point_at_the_first(void **state)
{
    (void)state;
    struct mock_plugin *mp = open_dedup(NULL);
    assert_int_equal(mock_desc(mp)->kind, NF_PLUGIN_FILTER);
    struct nf_record *rec = nf_record_new();
    /* All in one batch, before any flush: copies are caught within a batch too. */
    assert_string_equal(judge(mp, rec, ID_A, TEXT_A), "");
    assert_string_equal(judge(mp, rec, ID_B, TEXT_B), ID_A);
    assert_string_equal(judge(mp, rec, ID_C, TEXT_C), ID_A);
    assert_int_equal(mock_counter("dup_exact"), 2);
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

static void test_near_copies_are_found(void **state)
{
    (void)state;
    struct mock_plugin *mp = open_dedup(NULL);
    struct nf_record *rec = nf_record_new();
    for (int i = 0; i < 4; i++) {
        char id[33];
        snprintf(id, sizeof(id), "%032d", i + 1);
        assert_string_equal(judge(mp, rec, id, art[i]), "");
    }
    /* Unrelated: the fifth article is nobody's copy. */
    assert_string_equal(judge(mp, rec, ID_E, art[4]), "");
    int64_t near = mock_counter("dup_near");
    char *c60 = cut(art[0], 0.6), *w = reword(art[1], 25);
    char wrapped[8192];
    snprintf(wrapped, sizeof(wrapped), "Advertisement\n\n%s\n\nShare this article", art[2]);
    assert_string_equal(judge(mp, rec, ID_A, c60), "00000000000000000000000000000001");
    assert_string_equal(judge(mp, rec, ID_B, w), "00000000000000000000000000000002");
    assert_string_equal(judge(mp, rec, ID_C, wrapped), "00000000000000000000000000000003");
    assert_int_equal(mock_counter("dup_near"), near + 3);
    /* A third of an article is an excerpt, not a copy. */
    char *c30 = cut(art[3], 0.3);
    assert_string_equal(judge(mp, rec, ID_D, c30), "");
    free(c60);
    free(w);
    free(c30);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_copy_of_a_copy_points_at_the_original(void **state)
{
    (void)state;
    struct mock_plugin *mp = open_dedup(NULL);
    struct nf_record *rec = nf_record_new();
    char *c80 = cut(art[1], 0.8);
    char *c80w = reword(c80, 30);
    assert_string_equal(judge(mp, rec, ID_1, art[1]), "");
    assert_string_equal(judge(mp, rec, ID_2, c80), ID_1);
    /* c80w is closest to the copy ID_2, which points at ID_1. */
    assert_string_equal(judge(mp, rec, ID_3, c80w), ID_1);
    assert_string_equal(judge(mp, rec, ID_4, c80w), ID_1); /* exact copy of a near copy */
    free(c80);
    free(c80w);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_replays_get_the_same_verdict(void **state)
{
    (void)state;
    struct mock_plugin *mp = open_dedup(NULL);
    struct nf_record *rec = nf_record_new();
    char *c70 = cut(art[2], 0.7);
    assert_string_equal(judge(mp, rec, ID_A, c70), "");
    assert_string_equal(judge(mp, rec, ID_B, art[2]), ID_A); /* the longer came later */
    int64_t dups = mock_counter("dup");
    /* The original arrives again, claiming to be a copy of its copy: it stays the original. */
    make(rec, ID_A, c70);
    nf_record_set_cstr(rec, NF_F_DUP_OF, ID_B);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_false(nf_record_has(rec, NF_F_DUP_OF));
    assert_string_equal(judge(mp, rec, ID_B, art[2]), ID_A);
    assert_int_equal(mock_counter("dup"), dups); /* replays are not new copies */
    assert_int_equal(mock_flush(mp), NF_OK);
    mock_plugin_destroy(&mp);

    /* After a restart without the snapshot, the verdicts still come from the database. */
    unlink(snap_path);
    mp = open_dedup(NULL);
    assert_string_equal(judge(mp, rec, ID_B, art[2]), ID_A);
    assert_string_equal(judge(mp, rec, ID_A, c70), "");
    free(c70);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_snapshot_keeps_the_index_warm(void **state)
{
    (void)state;
    struct mock_plugin *mp = open_dedup(NULL);
    struct nf_record *rec = nf_record_new();
    assert_string_equal(judge(mp, rec, ID_A, art[3]), "");
    /* Destroyed without a flush: the host flushes before it stops, but nothing is lost if it
     * did not. */
    mock_plugin_destroy(&mp);
    struct stat st;
    assert_int_equal(stat(snap_path, &st), 0);

    char *c75 = cut(art[3], 0.75);
    mp = open_dedup(NULL);
    assert_string_equal(judge(mp, rec, ID_B, c75), ID_A); /* a new copy of the old article */
    mock_plugin_destroy(&mp);

    /* Without a snapshot the index starts cold: the same kind of copy is not found. */
    fresh(NULL);
    mp = open_dedup("keep_index=false");
    assert_string_equal(judge(mp, rec, ID_A, art[3]), "");
    mock_plugin_destroy(&mp);
    mp = open_dedup("keep_index=false");
    assert_string_equal(judge(mp, rec, ID_B, c75), "");
    free(c75);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void copy_file(const char *from, const char *to)
{
    char cmd[1300];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
    assert_int_equal(system(cmd), 0);
}

static void test_log_keeps_the_index_warm_after_a_crash(void **state)
{
    (void)state;
    char log_path[600], saved[620];
    snprintf(log_path, sizeof(log_path), "%s.log", snap_path);
    snprintf(saved, sizeof(saved), "%s.saved", log_path);
    struct mock_plugin *mp = open_dedup(NULL);
    struct nf_record *rec = nf_record_new();
    assert_string_equal(judge(mp, rec, ID_A, art[0]), "");
    assert_string_equal(judge(mp, rec, ID_B, art[1]), "");
    assert_int_equal(mock_flush(mp), NF_OK);
    /* The process dies here: no snapshot, only the log the flush appended to. */
    copy_file(log_path, saved);
    mock_plugin_destroy(&mp);
    unlink(snap_path);
    assert_int_equal(rename(saved, log_path), 0);

    char *c80 = cut(art[1], 0.8);
    mp = open_dedup(NULL);
    assert_string_equal(judge(mp, rec, ID_C, c80), ID_B);
    /* The start-up folded the log into a new snapshot. */
    struct stat st;
    assert_int_equal(stat(snap_path, &st), 0);
    free(c80);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* The snapshot's files as a kill leaves them, copied aside (the log's generations first: the
 * thread removes one only after its snapshot is in place), or put back. */
static void state_files(bool keep)
{
    char cmd[2000];
    const char *base = strrchr(snap_path, '/') + 1;
    if (keep)
        snprintf(cmd, sizeof(cmd), "cd '%s' && rm -f kept.* && for f in %s.log.[0-9]* %s.log %s; "
                 "do [ -f $f ] && cp $f kept.$f; done; true", mock_state_dir(), base, base, base);
    else
        snprintf(cmd, sizeof(cmd), "cd '%s' && rm -f %s %s.log %s.log.[0-9]* && for f in kept.*; "
                 "do [ -f $f ] && mv $f ${f#kept.}; done; true", mock_state_dir(), base, base,
                 base);
    assert_int_equal(system(cmd), 0);
}

/* A kill while a snapshot is synced from its thread leaves the snapshot before it and the log
 * generation the new one was to hold: the start loads that generation too. Without it, an
 * article judged after the last snapshot written is not in the index after the restart, and its
 * near-copy is not found. */
/* A dedup with a snapshot after every flush: article A judged and in snapshot 1 (whose thread
 * has put it in place and removed log generation 1), then article B judged, in no log yet. */
static struct mock_plugin *after_first_snapshot(struct nf_record *rec)
{
    char gen[640];
    struct mock_plugin *mp = open_dedup("snapshot_every=1");
    assert_string_equal(judge(mp, rec, ID_A, art[0]), "");
    assert_int_equal(mock_flush(mp), NF_OK); /* snapshot 1, holding log generation 1 */
    snprintf(gen, sizeof(gen), "%s.log.1", snap_path);
    for (int i = 0; i < 1000 && access(gen, F_OK) == 0; i++)
        usleep(10000);
    assert_int_not_equal(access(gen, F_OK), 0);
    assert_string_equal(judge(mp, rec, ID_B, art[1]), "");
    return mp;
}

static void test_kill_while_snapshot_written(void **state)
{
    (void)state;
    char gen[640];
    struct nf_record *rec = nf_record_new();
    struct mock_plugin *mp = after_first_snapshot(rec);
    /* snapshot 2 begins at a flush once snapshot 1's thread has ended; its thread is held */
    mock_fsync_hold();
    snprintf(gen, sizeof(gen), "%s.log.2", snap_path);
    for (int i = 0; i < 1000 && access(gen, F_OK) != 0; i++) {
        assert_int_equal(mock_flush(mp), NF_OK);
        usleep(10000);
    }
    assert_true(mock_fsync_held());
    assert_int_equal(access(gen, F_OK), 0);
    state_files(true);
    mock_fsync_release();
    mock_plugin_destroy(&mp);
    state_files(false);

    char *c80 = cut(art[1], 0.8);
    mp = open_dedup(NULL);
    assert_string_equal(judge(mp, rec, ID_C, c80), ID_B);
    assert_int_not_equal(access(gen, F_OK), 0); /* held by the snapshot the start wrote */
    free(c80);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* A log that cannot be opened fails the flush, naming the file: the records are not
 * acknowledged and come again. The next flush that can appends what the failed one could not,
 * and a crash after it loses none of it. Here the process has no descriptor left (as at its
 * open-files limit); a full disk or a permission fails the same open. Before, when the log
 * could not be opened again after a snapshot had cut its generation, dedup warned and went on
 * without one: every flush after it succeeded without writing a log, and a crash lost every
 * article judged since. */
static void test_log_that_cannot_be_opened_fails_the_flush(void **state)
{
    (void)state;
    char log_path[600];
    snprintf(log_path, sizeof(log_path), "%s.log", snap_path);
    struct nf_record *rec = nf_record_new();
    struct mock_plugin *mp = after_first_snapshot(rec);
    struct rlimit was, none;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &was), 0);
    none = (struct rlimit){.rlim_cur = 0, .rlim_max = was.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &none), 0);
    int rc = mock_flush(mp);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);
    assert_int_equal(rc, NF_ERR);
    assert_non_null(strstr(mock_last_error(), log_path));
    assert_string_equal(judge(mp, rec, ID_C, art[2]), "");
    assert_int_equal(mock_flush(mp), NF_OK);
    /* dies here */
    state_files(true);
    mock_plugin_destroy(&mp);
    state_files(false);

    char *c80b = cut(art[1], 0.8), *c80c = cut(art[2], 0.8);
    mp = open_dedup(NULL);
    assert_string_equal(judge(mp, rec, ID_D, c80b), ID_B);
    assert_string_equal(judge(mp, rec, ID_E, c80c), ID_C);
    free(c80b);
    free(c80c);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* A snapshot that cannot be written (its temporary file on a full disk: /dev/full) leaves the
 * previous one in place and no temporary file, and is reported with the reason: a warning at a
 * flush, an error at the stop. The log keeps what the old snapshot lacks. Before, a failure of
 * the stop's snapshot was said nowhere. */
static void test_snapshot_that_cannot_be_written_keeps_the_old(void **state)
{
    (void)state;
    if (access("/dev/full", W_OK) != 0)
        skip();
    char tmp[620], before[620], logged[700];
    snprintf(tmp, sizeof(tmp), "%s.tmp", snap_path);
    snprintf(before, sizeof(before), "%s.before", snap_path);
    snprintf(logged, sizeof(logged), "%s/stderr-%d", mock_state_dir(), case_no);
    struct mock_plugin *mp = open_dedup(NULL);
    struct nf_record *rec = nf_record_new();
    assert_string_equal(judge(mp, rec, ID_A, art[0]), "");
    mock_plugin_destroy(&mp); /* the snapshot holds A */
    copy_file(snap_path, before);

    mp = open_dedup("snapshot_every=1");
    assert_string_equal(judge(mp, rec, ID_B, art[1]), "");
    fflush(stderr);
    int err = dup(2), out = open(logged, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(err >= 0 && out >= 0);
    dup2(out, 2);
    assert_int_equal(symlink("/dev/full", tmp), 0);
    int rc = mock_flush(mp); /* the log takes B; the snapshot fails */
    bool tmp_left = access(tmp, F_OK) == 0;
    assert_int_equal(symlink("/dev/full", tmp), 0);
    mock_plugin_destroy(&mp); /* and again at the stop */
    fflush(stderr);
    dup2(err, 2);
    close(err);
    close(out);
    assert_int_equal(rc, NF_OK);
    assert_false(tmp_left);
    assert_int_not_equal(access(tmp, F_OK), 0);
    char *said = mock_slurp(logged, NULL);
    assert_non_null(said);
    char *warn = strstr(said, "snapshot: ");
    assert_non_null(warn);
    assert_non_null(strstr(warn, strerror(ENOSPC)));
    char *stop = strstr(said, "snapshot on shutdown failed: ");
    assert_non_null(stop);
    assert_non_null(strstr(stop, tmp));
    assert_non_null(strstr(stop, strerror(ENOSPC)));
    free(said);
    size_t n1, n2;
    char *old = mock_slurp(before, &n1), *now = mock_slurp(snap_path, &n2);
    assert_non_null(old);
    assert_non_null(now);
    assert_int_equal(n1, n2);
    assert_memory_equal(old, now, n1);
    free(old);
    free(now);

    char *c80a = cut(art[0], 0.8), *c80b = cut(art[1], 0.8);
    mp = open_dedup(NULL);
    assert_string_equal(judge(mp, rec, ID_C, c80a), ID_A); /* from the old snapshot */
    assert_string_equal(judge(mp, rec, ID_D, c80b), ID_B); /* from the log */
    free(c80a);
    free(c80b);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* ---- read order against arrival order --------------------------------------------------- */

#define ORDER_N 25

/* What a store holds: dup_of by id, after each record's own verdict and its corrections. */
struct held {
    char id[ORDER_N][33];
    char dup[ORDER_N][33];
    int n;
};

static char *held_slot(struct held *h, const char *id)
{
    for (int i = 0; i < h->n; i++)
        if (strcmp(h->id[i], id) == 0)
            return h->dup[i];
    assert_true(h->n < ORDER_N);
    if (snprintf(h->id[h->n], 33, "%s", id) >= 33)
        fail_msg("id %s is longer than 32", id);
    h->dup[h->n][0] = '\0';
    return h->dup[h->n++];
}

static int held_amend(void *arg, enum nf_amend_kind kind, const char *key, const char *val)
{
    assert_int_equal(kind, NF_AMEND_DUP_OF);
    snprintf(held_slot(arg, key), 33, "%s", val ? val : "");
    return 0;
}

static void held_store(struct held *h, struct nf_record *rec)
{
    const char *d = nf_record_str(rec, NF_F_DUP_OF, NULL);
    snprintf(held_slot(h, nf_record_str(rec, NF_F_ID, NULL)), 33, "%s", d ? d : "");
    const char *why;
    assert_int_equal(nf_amend_each(rec, held_amend, h, &why), 0);
}

static const char *held_get(struct held *h, const char *id)
{
    return held_slot(h, id);
}

/* Five originals, each with a copy cut short, one reworded, a cut of the reworded one and an
 * exact repeat, read in a fixed shuffled order. */
static char *order_text[ORDER_N];
static char order_id[ORDER_N][33];
static int64_t order_read[ORDER_N];

static void order_corpus(void)
{
    for (int i = 0; i < 5; i++) {
        char *rw = reword(art[i], 10);
        order_text[5 * i] = strdup(art[i]);
        order_text[5 * i + 1] = cut(art[i], 0.7);
        order_text[5 * i + 2] = rw;
        order_text[5 * i + 3] = cut(rw, 0.8);
        order_text[5 * i + 4] = strdup(art[i]);
    }
    unsigned seed = 7;
    int perm[ORDER_N];
    for (int i = 0; i < ORDER_N; i++)
        perm[i] = i;
    for (int i = ORDER_N - 1; i > 0; i--) {
        seed = seed * 1103515245u + 12345u;
        int j = (int)((seed >> 16) % (unsigned)(i + 1)), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int i = 0; i < ORDER_N; i++) {
        snprintf(order_id[i], 33, "%08x%024x", (unsigned)(0x9e3779b9u * (unsigned)(i + 1)), i);
        order_read[i] = (int64_t)(perm[i] + 1) << 20; /* article i is read perm[i]-th */
    }
}

static void order_free(void)
{
    for (int i = 0; i < ORDER_N; i++)
        free(order_text[i]);
}

/* Feeds the articles in the order `arrive` (indexes) through a fresh dedup, flushing every
 * `batch`, into what a store would hold. */
static void order_run(const int *arrive, int batch, struct held *h)
{
    fresh(NULL);
    struct mock_plugin *mp = open_dedup(NULL);
    struct nf_record *rec = nf_record_new();
    memset(h, 0, sizeof(*h));
    for (int k = 0; k < ORDER_N; k++) {
        int i = arrive[k];
        make(rec, order_id[i], order_text[i]);
        nf_record_set_int(rec, NF_F_READ_ORDER, order_read[i]);
        assert_int_equal(mock_process(mp, rec), NF_OK);
        assert_int_equal(mock_roundtrip(rec), 0);
        held_store(h, rec);
        if ((k + 1) % batch == 0)
            assert_int_equal(mock_flush(mp), NF_OK);
    }
    assert_int_equal(mock_flush(mp), NF_OK);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_verdicts_follow_the_read_order(void **state)
{
    (void)state;
    order_corpus();
    int read[ORDER_N];
    for (int i = 0; i < ORDER_N; i++) /* article i is read perm-th: invert */
        read[(order_read[i] >> 20) - 1] = i;
    struct held want, got;
    order_run(read, 4, &want);
    /* In read order, each copy points at a member of its own story read before it, which is an
     * original. */
    int copies = 0;
    for (int i = 0; i < ORDER_N; i++) {
        const char *d = held_get(&want, order_id[i]);
        if (!d[0])
            continue;
        copies++;
        int o = -1;
        for (int k = 0; k < ORDER_N; k++)
            if (strcmp(order_id[k], d) == 0)
                o = k;
        assert_true(o >= 0);
        assert_int_equal(o / 5, i / 5);
        assert_true(order_read[o] < order_read[i]);
        assert_string_equal(held_get(&want, d), "");
    }
    assert_true(copies >= 15); /* a reworded copy read before the rest may stay apart */
    /* Reversed and shuffled arrivals, in batches of several sizes: the same verdicts. */
    unsigned seed = 11;
    for (int run = 0; run < 6; run++) {
        int arrive[ORDER_N];
        for (int i = 0; i < ORDER_N; i++)
            arrive[i] = run == 0 ? read[ORDER_N - 1 - i] : read[i];
        for (int i = ORDER_N - 1; run > 0 && i > 0; i--) {
            seed = seed * 1103515245u + 12345u;
            int j = (int)((seed >> 16) % (unsigned)(i + 1)), t = arrive[i];
            arrive[i] = arrive[j];
            arrive[j] = t;
        }
        order_run(arrive, 1 + run % 3 * 5, &got);
        for (int i = 0; i < ORDER_N; i++)
            if (strcmp(held_get(&want, order_id[i]), held_get(&got, order_id[i])) != 0)
                fail_msg("run %d: article %d has dup_of '%s', in read order '%s'", run, i,
                         held_get(&got, order_id[i]), held_get(&want, order_id[i]));
    }
    order_free();
}

static void test_an_original_read_first_arriving_last_takes_over(void **state)
{
    (void)state;
    struct mock_plugin *mp = open_dedup(NULL);
    struct nf_record *rec = nf_record_new();
    char *c70 = cut(art[2], 0.7), *c60 = cut(art[2], 0.6);
    struct held h = {0};
    int64_t corrected = mock_counter("dup_corrected");
    /* read A (the whole article), then B and C (its copies); they arrive C, B, A */
    make(rec, ID_C, c60);
    nf_record_set_int(rec, NF_F_READ_ORDER, 3000);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    held_store(&h, rec);
    assert_false(nf_record_has(rec, NF_F_DUP_OF)); /* the first to arrive: an original, so far */
    make(rec, ID_B, c70);
    nf_record_set_int(rec, NF_F_READ_ORDER, 2000);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_roundtrip(rec), 0);
    held_store(&h, rec);
    assert_false(nf_record_has(rec, NF_F_DUP_OF)); /* read before C: C is its copy now */
    assert_string_equal(held_get(&h, ID_C), ID_B);
    make(rec, ID_A, art[2]);
    nf_record_set_int(rec, NF_F_READ_ORDER, 1000);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_roundtrip(rec), 0);
    held_store(&h, rec);
    assert_false(nf_record_has(rec, NF_F_DUP_OF));
    assert_string_equal(held_get(&h, ID_B), ID_A);
    assert_string_equal(held_get(&h, ID_C), ID_A);
    assert_int_equal(mock_counter("dup_corrected") - corrected, 3);
    assert_int_equal(mock_flush(mp), NF_OK);
    /* A resend of C gets the corrected verdict, and its group's corrected verdicts again (the
     * record that carried them may have been lost before the store): B's and C's, not A's,
     * which never changed. */
    make(rec, ID_C, c60);
    nf_record_set_int(rec, NF_F_READ_ORDER, 3000);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_string_equal(nf_record_str(rec, NF_F_DUP_OF, NULL), ID_A);
    struct held again = {0};
    held_store(&again, rec);
    assert_int_equal(again.n, 2);
    assert_string_equal(held_get(&again, ID_B), ID_A);
    assert_string_equal(held_get(&again, ID_C), ID_A);
    mock_plugin_destroy(&mp);

    /* After a crash the log has the corrected verdicts, and the database too. */
    unlink(snap_path);
    mp = open_dedup(NULL);
    make(rec, ID_B, c70);
    nf_record_set_int(rec, NF_F_READ_ORDER, 2000);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_string_equal(nf_record_str(rec, NF_F_DUP_OF, NULL), ID_A);
    free(c70);
    free(c60);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_corrections_survive_a_crash_in_the_log(void **state)
{
    (void)state;
    char log_path[600], saved[620];
    snprintf(log_path, sizeof(log_path), "%s.log", snap_path);
    snprintf(saved, sizeof(saved), "%s.saved", log_path);
    struct mock_plugin *mp = open_dedup(NULL);
    struct nf_record *rec = nf_record_new();
    char *c70 = cut(art[1], 0.7), *c80 = cut(art[1], 0.8);
    make(rec, ID_B, c70);
    nf_record_set_int(rec, NF_F_READ_ORDER, 2000);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    make(rec, ID_A, art[1]);
    nf_record_set_int(rec, NF_F_READ_ORDER, 1000);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_true(nf_amend_has(rec));
    assert_int_equal(mock_flush(mp), NF_OK);
    /* dies here: only the log knows that B became A's copy */
    copy_file(log_path, saved);
    mock_plugin_destroy(&mp);
    unlink(snap_path);
    assert_int_equal(rename(saved, log_path), 0);
    mp = open_dedup(NULL);
    make(rec, ID_C, c80); /* read after both: a copy of A, through B or not */
    nf_record_set_int(rec, NF_F_READ_ORDER, 3000);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_string_equal(nf_record_str(rec, NF_F_DUP_OF, NULL), ID_A);
    free(c70);
    free(c80);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_window_evicts_the_oldest(void **state)
{
    (void)state;
    struct mock_plugin *mp = open_dedup("window=3");
    struct nf_record *rec = nf_record_new();
    assert_string_equal(judge(mp, rec, ID_1, art[0]), "");
    assert_string_equal(judge(mp, rec, ID_2, art[1]), "");
    assert_string_equal(judge(mp, rec, ID_3, art[2]), "");
    assert_string_equal(judge(mp, rec, ID_A, art[1]), ID_2); /* still in the window */
    assert_int_equal(mock_flush(mp), NF_OK);
    /* Each new article pushes the oldest out: ID_1 went for ID_A, ID_2 goes for ID_4, ID_3 for
     * ID_B, so their texts are new again ... */
    assert_string_equal(judge(mp, rec, ID_4, art[3]), "");
    assert_string_equal(judge(mp, rec, ID_B, art[0]), "");
    assert_string_equal(judge(mp, rec, ID_C, art[2]), "");
    assert_string_equal(judge(mp, rec, ID_D, art[3]), ID_4); /* still in the window */
    /* ... but their verdicts stay: a replay of the copy still points at its original. */
    assert_string_equal(judge(mp, rec, ID_A, art[1]), ID_2);
    assert_string_equal(judge(mp, rec, ID_1, art[0]), "");
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* Runs one record with a headline through the filter; its dup_of, or "". */
static const char *judge_titled(struct mock_plugin *mp, struct nf_record *rec, const char *id,
                                const char *title, const char *text)
{
    make(rec, id, text);
    nf_record_set_cstr(rec, NF_F_TITLE, title);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    const char *d = nf_record_str(rec, NF_F_DUP_OF, NULL);
    return d ? d : "";
}

/* Headlines with other figures name other reports over the same body (another toll, another
 * quarter). A wire version marker is not a figure: a later version of a story ("UPDATE 1-",
 * "CORRECTED-", "(2)" at the end) with its original's body is a copy of it. */
static void test_headline_figures_tell_reports_apart(void **state)
{
    (void)state;
    struct mock_plugin *mp = open_dedup(NULL);
    struct nf_record *rec = nf_record_new();
    assert_string_equal(judge_titled(mp, rec, ID_1, "Sahel states forge a pact", art[3]), "");
    assert_string_equal(judge_titled(mp, rec, ID_2, "Sahel states forge a pact, 3 dead", art[3]),
                        "");
    assert_string_equal(judge_titled(mp, rec, ID_3, "UPDATE 1-Sahel states forge a pact", art[3]),
                        ID_1);
    /* copies: the same body or cut short, the headline's figures kept, any version marker */
    char *short3 = cut(art[3], 0.7);
    assert_string_equal(judge_titled(mp, rec, ID_A,
                                     "CORRECTED-UPDATE 2-Sahel States Forge A Pact, 3 Dead",
                                     short3),
                        ID_2);
    assert_string_equal(judge_titled(mp, rec, ID_B, "Sahel states forge a pact (2)", short3),
                        ID_1);
    assert_string_equal(judge_titled(mp, rec, ID_C, "REFILE-Sahel states forge a pact", art[3]),
                        ID_1);
    /* no headline: figures unknown, any may match; it points at the earliest */
    assert_string_equal(judge(mp, rec, ID_D, art[3]), ID_1);
    free(short3);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* Templated reports (the same wording, other figures on both sides) are not copies of each
 * other; a copy that lost some of its original's figures is. */
static void test_body_figures_tell_templated_reports_apart(void **state)
{
    (void)state;
    struct mock_plugin *mp = open_dedup(NULL);
    struct nf_record *rec = nf_record_new();
    const char *week1 =
        "New applications for unemployment insurance benefits rose to a seasonally adjusted "
        "355,000 in the week ended March 21 from 341,000 in the prior week, the Labor "
        "Department said. The number of people actually receiving benefits under regular "
        "state programs totaled 2,480,000 in the week ended March 14, the latest period for "
        "which that figure was available. That was down from 2,507,000 the previous week.";
    const char *week2 =
        "New applications for unemployment insurance benefits rose to a seasonally adjusted "
        "341,000 in the week ended March 14 from 340,000 in the prior week, the Labor "
        "Department said. The number of people actually receiving benefits under regular "
        "state programs totaled 2,507,000 in the week ended March 7, the latest period for "
        "which that figure was available. That was down from 2,516,000 the previous week.";
    assert_string_equal(judge(mp, rec, ID_1, week1), "");
    assert_string_equal(judge(mp, rec, ID_2, week2), "");
    /* week 2 cut short keeps a subset of its figures: a copy of week 2 */
    char *short2 = cut(week2, 0.75);
    assert_string_equal(judge(mp, rec, ID_3, short2), ID_2);
    free(short2);
    /* numbers in another outlet's style or with a typo ("2,50,7000") are the same numbers */
    const char *week1_de =
        "New applications for unemployment insurance benefits rose to a seasonally adjusted "
        "355.000 in the week ended March 21 from 341.000 in the prior week, the Labor "
        "Department said. The number of people actually receiving benefits under regular "
        "state programs totaled 2.480.000 in the week ended March 14, the latest period for "
        "which that figure was available. That was down from 2.507.000 the previous week.";
    const char *week2_typo =
        "New applications for unemployment insurance benefits rose to a seasonally adjusted "
        "341000 in the week ended March 14 from 340 000 in the prior week, the Labor "
        "Department said. The number of people actually receiving benefits under regular "
        "state programs totaled 2,50,7000 in the week ended March 7, the latest period for "
        "which that figure was available. That was down from 2.516,000 the previous week.";
    assert_string_equal(judge(mp, rec, ID_4, week1_de), ID_1);
    assert_string_equal(judge(mp, rec, ID_A, week2_typo), ID_2);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* Reports recycled under one headline, the second with a version marker ("X", "X (1)"), are
 * told apart by their bodies: the marker is not a figure, and it does not make the headlines
 * differ either, so the bodies' figures decide. */
static void test_bodies_decide_between_versions(void **state)
{
    (void)state;
    struct mock_plugin *mp = open_dedup(NULL);
    struct nf_record *rec = nf_record_new();
    const char *q1 = "Acme Corp said first quarter net income rose to 4,120,000 dlrs, or 41 cts "
                     "a share, from 3,310,000 dlrs, or 33 cts, a year earlier. Sales rose to "
                     "88.2 mln dlrs from 80.4 mln dlrs. The company said it expects the rest of "
                     "the year to be strong, helped by lower costs and new products.";
    const char *q2 = "Acme Corp said first quarter net income rose to 5,870,000 dlrs, or 58 cts "
                     "a share, from 4,020,000 dlrs, or 40 cts, a year earlier. Sales rose to "
                     "97.5 mln dlrs from 85.1 mln dlrs. The company said it expects the rest of "
                     "the year to be strong, helped by lower costs and new products.";
    assert_string_equal(judge_titled(mp, rec, ID_1, "ACME CORP <ACM> 1ST QTR NET", q1), "");
    assert_string_equal(judge_titled(mp, rec, ID_2, "ACME CORP <ACM> 1ST QTR NET (1)", q2), "");
    assert_string_equal(judge_titled(mp, rec, ID_3, "UPDATE 2-ACME CORP <ACM> 1ST QTR NET", q2),
                        ID_2);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* A copy with more words changed (estimated Jaccard 0.40 to 0.50 here, below 'threshold') is a
 * copy only when it carries its original's very headline (case and punctuation aside). */
static void test_same_headline_lowers_the_bar(void **state)
{
    (void)state;
    struct mock_plugin *mp = open_dedup(NULL);
    struct nf_record *rec = nf_record_new();
    char *r0 = reword(art[0], 10), *r1 = reword(art[1], 11);
    assert_string_equal(judge_titled(mp, rec, ID_1, "Juntas seal Sahel pact", art[0]), "");
    assert_string_equal(judge_titled(mp, rec, ID_2, "What the Sahel pact means", r0), "");
    assert_string_equal(judge_titled(mp, rec, ID_3, "Niger, Mali and Burkina sign a charter",
                                     art[1]),
                        "");
    assert_string_equal(judge_titled(mp, rec, ID_4, "NIGER MALI AND BURKINA SIGN A CHARTER.", r1),
                        ID_3);
    free(r0);
    free(r1);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* A copy cut to 41-49% of its original keeps its headline: it is found whether or not it
 * shares an LSH band with its original (at an estimated Jaccard of 0.4 it often does not). */
static void test_same_headline_is_a_candidate(void **state)
{
    (void)state;
    static const char *const titles[] = {"Juntas seal Sahel pact", "Sahel states sign charter",
                                         "Niger, Mali and Burkina Faso form an alliance",
                                         "Sahel pact: what it means", "Three juntas, one pact"};
    int found = 0, tried = 0;
    for (int share = 41; share <= 49; share += 2) {
        struct mock_plugin *mp = open_dedup(NULL);
        struct nf_record *rec = nf_record_new();
        static const char *const ids[] = {ID_1, ID_2, ID_3, ID_4, ID_E};
        for (int k = 0; k < 5; k++)
            assert_string_equal(judge_titled(mp, rec, ids[k], titles[k], art[k]), "");
        for (int k = 0; k < 5; k++) {
            char *c = cut(art[k], share / 100.0), id[33];
            snprintf(id, sizeof(id), "%02x%030d", share, k);
            found += strcmp(judge_titled(mp, rec, id, titles[k], c), ids[k]) == 0;
            tried++;
            free(c);
        }
        nf_record_destroy(&rec);
        mock_plugin_destroy(&mp);
        fresh(NULL);
    }
    assert_int_equal(found, tried);
}

/* A copy that keeps only the first half or so of a short report (about 100 words here), under
 * its original's headline, is a copy of it. 64 bins estimate the containment of such a half
 * loosely: cut to 45-49% of this report, it is estimated at 0.75-0.80, below 'containment'
 * (0.8), with an estimated Jaccard of 0.29-0.34. The same headline lowers that bar as it
 * lowers the Jaccard one; under another headline the copies are judged on their text alone,
 * and so they are under a headline that another report carries too (a recurring headline,
 * under which reports of their own share a template's wording). */
static void test_same_headline_finds_short_reports_cut_in_half(void **state)
{
    (void)state;
    const char *title = "Sahel military leaders form bloc";
    char *report = cut(art[2], 0.3), *other = cut(art[4], 0.3);
    static const char *const headlines[] = {"Sahel military leaders form bloc",
                                            "What the new Sahel bloc means",
                                            "Sahel military leaders form bloc"};
    for (int h = 0; h < 3; h++) {
        struct mock_plugin *mp = open_dedup(NULL);
        struct nf_record *rec = nf_record_new();
        if (h == 2)
            assert_string_equal(judge_titled(mp, rec, ID_2, title, other), "");
        assert_string_equal(judge_titled(mp, rec, ID_1, title, report), "");
        for (int share = 45; share <= 49; share++) {
            char *c = cut(report, share / 100.0), id[33];
            snprintf(id, sizeof(id), "%032d", share);
            const char *d = judge_titled(mp, rec, id, headlines[h], c);
            if (h == 0)
                assert_string_equal(d, ID_1);
            else
                assert_string_not_equal(d, ID_1);
            free(c);
        }
        nf_record_destroy(&rec);
        mock_plugin_destroy(&mp);
        fresh(NULL);
    }
    free(report);
    free(other);
}

/* A report that recurs under a fixed headline (a daily market report) shares its template
 * with the last one: the same headline and an estimated Jaccard of 0.44 here, but figures of
 * its own on both sides (one here, two there). It is not a copy; a copy reworded keeps its
 * original's figures, or swaps one for another. */
static void test_recurring_report_is_not_a_copy(void **state)
{
    (void)state;
    struct mock_plugin *mp = open_dedup(NULL);
    struct nf_record *rec = nf_record_new();
    const char *monday =
        "Slaughter steers were firm and heifers steady to 0.50 dlr higher in slow trade, the "
        "USDA said. Feedlots reported fairly good interest and inquiry from buying sources. "
        "Sales on 3,600 steers and 700 heifers. Week to date 43,900 head. Steers - good and "
        "mostly choice 2-3 1025-1150 lbs 69.50-70.00. Heifers - few pens good and mostly "
        "choice 2-3 925-1025 lbs 68.00-68.50.";
    const char *tuesday =
        "Slaughter steers were fully steady and heifers steady to higher in moderate "
        "trade, the USDA said. Feedlots reported fair interest and light inquiry from most "
        "buying sources. Sales on 3,600 steers and 1,900 heifers. Week to date 43,900 head. "
        "Steers - good and mostly choice 2-3 1025-1150 lbs 69.50-70.00. Heifers - mostly good "
        "and choice 2-3 925-1025 lbs 68.00-68.50.";
    assert_string_equal(judge_titled(mp, rec, ID_1, "FEEDLOT CATTLE STEADY", monday), "");
    assert_string_equal(judge_titled(mp, rec, ID_2, "FEEDLOT CATTLE STEADY", tuesday), "");
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_uses_the_minhash_stage_signature(void **state)
{
    (void)state;
    const char *mopts[] = {"shingle=4", NULL};
    struct mock_plugin *mh = mock_plugin_new("minhash", mopts);
    assert_non_null(mh);
    struct mock_plugin *mp = open_dedup(NULL);
    struct nf_record *rec = nf_record_new();
    make(rec, ID_A, art[4]);
    assert_int_equal(mock_process(mh, rec), NF_OK);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    /* Signed by the minhash stage, without text (dedup does not need it then). */
    make(rec, ID_B, art[4]);
    assert_int_equal(mock_process(mh, rec), NF_OK);
    nf_record_unset(rec, NF_F_TEXT);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_string_equal(nf_record_str(rec, NF_F_DUP_OF, NULL), ID_A);
    /* A signature with other shingles cannot be compared. */
    mock_plugin_destroy(&mh);
    const char *m5[] = {"shingle=5", NULL};
    mh = mock_plugin_new("minhash", m5);
    assert_non_null(mh);
    make(rec, ID_C, art[4]);
    assert_int_equal(mock_process(mh, rec), NF_OK);
    assert_int_equal(mock_process(mp, rec), NF_ERR);
    assert_non_null(strstr(mock_last_error(), "5-word shingles"));
    /* Bytes that are no signature of this version (signed before an upgrade) are signed again
     * from the text; without text the record cannot be judged. */
    make(rec, ID_D, art[4]);
    nf_record_set_bytes(rec, NF_F_MINHASH, "xyz", 3);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_string_equal(nf_record_str(rec, NF_F_DUP_OF, NULL), ID_A);
    make(rec, ID_E, art[4]);
    nf_record_set_bytes(rec, NF_F_MINHASH, "xyz", 3);
    nf_record_unset(rec, NF_F_TEXT);
    assert_int_equal(mock_process(mp, rec), NF_ERR);
    assert_non_null(strstr(mock_last_error(), "not a signature"));
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mh);
    mock_plugin_destroy(&mp);
}

static void test_refusals(void **state)
{
    (void)state;
    /* One process holds the index. */
    mock_set_worker(0, 2);
    const char *opts[] = {opt_db, NULL};
    assert_null(mock_plugin_new("dedup", opts));
    mock_set_worker(0, 1);
    assert_non_null(strstr(mock_last_error(), "workers = 1"));
    const char *bad[] = {opt_db, "threshold=1.5", NULL};
    assert_null(mock_plugin_new("dedup", bad));
    /* the ranges are the option table's and validate's, said by the core */
    assert_string_equal(mock_last_error(), "option 'threshold' must be between 0 and 1, got 1.5");
    const char *zero[] = {opt_db, "containment=0", NULL};
    assert_null(mock_plugin_new("dedup", zero));
    assert_non_null(strstr(mock_last_error(), "option 'containment' must be above 0"));
    const char *wide[] = {opt_db, "window=16777215", NULL};
    assert_null(mock_plugin_new("dedup", wide));
    assert_non_null(strstr(mock_last_error(), "between 1 and 16777214"));

    struct mock_plugin *mp = open_dedup(NULL);
    struct nf_record *rec = nf_record_new();
    make(rec, ID_E, "caf\xe9 au lait");
    assert_int_equal(mock_process(mp, rec), NF_ERR);
    assert_non_null(strstr(mock_last_error(), "cannot normalise the text"));
    make(rec, "not-an-id", TEXT_A);
    assert_int_equal(mock_process(mp, rec), NF_ERR);
    assert_non_null(strstr(mock_last_error(), "32 hex digits"));
    /* The next record is judged as usual. */
    assert_string_equal(judge(mp, rec, ID_A, TEXT_A), "");
    assert_string_equal(judge(mp, rec, ID_B, TEXT_B), ID_A);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_default_paths_are_in_state_dir(void **state)
{
    (void)state;
    struct mock_plugin *mp = mock_plugin_new("dedup", NULL);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    assert_string_equal(judge(mp, rec, ID_A, TEXT_A), "");
    mock_plugin_destroy(&mp);
    char p[600];
    struct stat st;
    snprintf(p, sizeof(p), "%s/dedup.db", mock_state_dir());
    assert_int_equal(stat(p, &st), 0);
    snprintf(p, sizeof(p), "%s/dedup.index", mock_state_dir());
    assert_int_equal(stat(p, &st), 0);
    nf_record_destroy(&rec);
}

static int setup(void **state)
{
    (void)state;
    static const char *const names[] = {"000_a8143c3ee1feb549", "001_d9239e9adab5d809",
                                        "002_59196a0494ad5481", "003_d827aa3b829ea74b",
                                        "004_09dc9a8d14128b2c"};
    for (int i = 0; i < 5; i++) {
        char p[600];
        snprintf(p, sizeof(p), "%s/conf/sample/%s.txt", NF_SOURCE_DIR, names[i]);
        art[i] = mock_slurp(p, NULL);
        assert_non_null(art[i]);
    }
    return 0;
}

static int cleanup(void **state)
{
    (void)state;
    for (int i = 0; i < 5; i++)
        free(art[i]);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", mock_state_dir());
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_exact_copies_point_at_the_first, fresh),
        cmocka_unit_test_setup(test_near_copies_are_found, fresh),
        cmocka_unit_test_setup(test_copy_of_a_copy_points_at_the_original, fresh),
        cmocka_unit_test_setup(test_replays_get_the_same_verdict, fresh),
        cmocka_unit_test_setup(test_snapshot_keeps_the_index_warm, fresh),
        cmocka_unit_test_setup(test_log_keeps_the_index_warm_after_a_crash, fresh),
        cmocka_unit_test_setup(test_kill_while_snapshot_written, fresh),
        cmocka_unit_test_setup(test_log_that_cannot_be_opened_fails_the_flush, fresh),
        cmocka_unit_test_setup(test_snapshot_that_cannot_be_written_keeps_the_old, fresh),
        cmocka_unit_test_setup(test_window_evicts_the_oldest, fresh),
        cmocka_unit_test_setup(test_verdicts_follow_the_read_order, fresh),
        cmocka_unit_test_setup(test_an_original_read_first_arriving_last_takes_over, fresh),
        cmocka_unit_test_setup(test_corrections_survive_a_crash_in_the_log, fresh),
        cmocka_unit_test_setup(test_headline_figures_tell_reports_apart, fresh),
        cmocka_unit_test_setup(test_body_figures_tell_templated_reports_apart, fresh),
        cmocka_unit_test_setup(test_bodies_decide_between_versions, fresh),
        cmocka_unit_test_setup(test_same_headline_lowers_the_bar, fresh),
        cmocka_unit_test_setup(test_recurring_report_is_not_a_copy, fresh),
        cmocka_unit_test_setup(test_same_headline_is_a_candidate, fresh),
        cmocka_unit_test_setup(test_same_headline_finds_short_reports_cut_in_half, fresh),
        cmocka_unit_test_setup(test_uses_the_minhash_stage_signature, fresh),
        cmocka_unit_test_setup(test_refusals, fresh),
        cmocka_unit_test(test_default_paths_are_in_state_dir),
    };
    return cmocka_run_group_tests(tests, setup, cleanup);
}
