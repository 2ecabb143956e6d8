/* dedup: a filter that marks copies and near-copies of earlier articles (dup_of = the id of the
 * earliest original, also for a copy of a copy). Earlier means read first by the source
 * (read_order), not arrived first: an article that arrives after articles read later corrects
 * their verdicts, and its record carries the corrections to the stores ("amend", amend.h). Exact
 * copies (same normalised text) are found by hash; near-copies (trimmed, wrapped in boilerplate, a
 * few words changed) by MinHash LSH over a window of recent articles and by their headline, each
 * candidate verified by estimated Jaccard similarity or containment, and by its figures. The
 * window lives in memory, snapshotted to disk with a log of the articles added since, appended at
 * every flush (so a restart, even after a crash, is warm); verdicts are remembered by id in
 * SQLite, written in batches at flush, so a replay gets the same verdict. Signatures come from the
 * minhash stage, or are computed here when a record has none. One worker only: the window is a
 * single process's memory. */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "amend.h"
#include "index.h"
#include "newsflow/plugin.h"
#include "savefile.h"

#define DEDUP_SCHEMA 2
#define DEDUP_BUSY_MS 10000
#define DEDUP_BLOOM_BITS (1u << 24) /* 2 MiB: ~1% false positives at 1.7 million ids */
#define DEDUP_BLOOM_K 6
/* Records without a read order (injected from outside) count as read after every record that
 * has one, in the order they arrive. */
#define DEDUP_UNORDERED (INT64_C(1) << 62)
/* NF_DUP_MAX_WINDOW as a plain number, for the option table */
#define DEDUP_MAX_WINDOW 16777214
_Static_assert(DEDUP_MAX_WINDOW == NF_DUP_MAX_WINDOW, "the window's bound");

struct dedup_conf {
    const char *path;
    double threshold;
    double containment;
    double min_ratio;
    double same_headline;
    int64_t window;
    int64_t shingle;
    const char *snapshot;
    int64_t snapshot_every;
    bool keep_index;
};

static const struct nf_option dedup_options[] = {
    {"path", NF_OPT_PATH, "", offsetof(struct dedup_conf, path),
     "SQLite file holding the verdicts by id; empty: dedup.db in the stage's state directory."},
    {"threshold", NF_OPT_DOUBLE, "0.5", offsetof(struct dedup_conf, threshold),
     "Estimated Jaccard similarity of word shingles at or above which an article is a copy of "
     "an earlier one. It also sets the LSH bands (16 bands, rows chosen so that pairs at the "
     "threshold are candidates with probability >= 0.985).",
     .min = "0", .max = "1"},
    {"containment", NF_OPT_DOUBLE, "0.8", offsetof(struct dedup_conf, containment),
     "Also a copy: this share of the smaller article's shingles is found in the other (a copy "
     "cut short, or an original wrapped in more text).",
     .min = "0", .max = "1"},
    {"min_ratio", NF_OPT_DOUBLE, "0.4", offsetof(struct dedup_conf, min_ratio),
     "Containment counts only when the smaller article has at least this share of the larger "
     "one's shingles (a quoted paragraph is not a copy).",
     .min = "0", .max = "1"},
    {"same_headline", NF_OPT_DOUBLE, "0.4", offsetof(struct dedup_conf, same_headline),
     "Also a copy: the very same headline (after folding case, accents, punctuation and wire "
     "version markers such as 'UPDATE 2-') and an estimated Jaccard similarity at or above this "
     "(a copy with more words changed), or a containment at or above 'containment' lowered by "
     "as much as this is below 'threshold' (a copy cut short; not under a headline that "
     "articles of other roots carry too), when one text's figures are among the other's but "
     "for one swapped (a report recurring under a fixed headline brings figures of its own). "
     "Set it to 'threshold' or above to judge by the text alone.",
     .min = "0", .max = "1"},
    {"window", NF_OPT_INT, "1000000", offsetof(struct dedup_conf, window),
     "Articles kept in the index; the oldest are forgotten first (their verdicts are kept). "
     "About 340 bytes of memory each.",
     .min = "1", .max = NF_OPT_BOUND(DEDUP_MAX_WINDOW)},
    {"shingle", NF_OPT_INT, "4", offsetof(struct dedup_conf, shingle),
     "Words per shingle when dedup signs a record itself; must equal the minhash stage's.",
     .min = "1", .max = "16"},
    {"snapshot", NF_OPT_PATH, "", offsetof(struct dedup_conf, snapshot),
     "File the index is saved to at shutdown and every snapshot_every articles, and loaded "
     "from at start, with FILE.log beside it (the articles added since, appended at every "
     "flush; FILE.log.N: the logs before a snapshot still being synced, or left by a kill, "
     "read at start); empty: dedup.index in the stage's state directory."},
    {"snapshot_every", NF_OPT_INT, "100000", offsetof(struct dedup_conf, snapshot_every),
     "Articles judged between two snapshots (written at a flush); 0: only at shutdown.",
     .min = "0"},
    {"keep_index", NF_OPT_BOOL, "true", offsetof(struct dedup_conf, keep_index),
     "Keep the index across restarts (snapshot and log); false: every start is cold, only the "
     "verdicts are remembered."},
    {.name = NULL},
};

static const char dedup_schema[] =
    "CREATE TABLE IF NOT EXISTS verdicts(id TEXT PRIMARY KEY NOT NULL, dup_of TEXT)\n"
    "  WITHOUT ROWID;\n";

struct dedup_pending {
    uint8_t id[16];
    uint8_t root[16];
    bool copy;
};

struct dedup {
    const struct dedup_conf *conf;
    char *path, *snap;
    sqlite3 *db;
    sqlite3_stmt *get, *put;
    struct nf_dup_index *idx;
    struct nf_sig_work work;
    struct nf_sig sig;
    /* Ids with a verdict on disk: a new id skips the SQLite lookup unless the filter says
     * maybe (which only replays from beyond the window and 1% of the others do). */
    uint8_t *bloom;
    struct dedup_pending *pending;
    size_t n_pending, cap_pending;
    int64_t since_snapshot;
    /* The log of articles added since the snapshot (snapshot path + ".log"), appended at each
     * flush: a crash then loses only the articles after the last flush. It is opened for each
     * append (../common/savefile.h), so one that cannot be written is tried again at the next
     * flush, and the flush fails meanwhile. */
    char *log_path;
    size_t added; /* articles added to the index since the last append */
    bool warm;    /* the index was loaded and the log begun: a stop may save it */
    struct nf_ctx *ctx; /* the host's, valid until destroy: for what the stop reports */
    /* A snapshot is written by the worker into its temporary file and synced from a thread;
     * the log before it is then the generation FILE.log.<g> (../common/savefile.h). */
    struct nfu_bgsave save;
    uint64_t log_gen; /* the last generation begun */
    int64_t write_ms; /* the last snapshot's writing: the worker's pause for it */
    int64_t unordered; /* records without read_order seen */
    struct nf_amend amend; /* corrections for the record being judged */
    bool amend_failed;
};

/* ---- ids ------------------------------------------------------------------------------ */

static int dedup_hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static int dedup_unhex(const char *s, size_t n, uint8_t out[16])
{
    if (n != 32)
        return -1;
    for (int i = 0; i < 16; i++) {
        int hi = dedup_hexval(s[2 * i]), lo = dedup_hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static void dedup_hex(const uint8_t id[16], char out[33])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = digits[id[i] >> 4];
        out[2 * i + 1] = digits[id[i] & 15];
    }
    out[32] = '\0';
}

static void dedup_bloom_bits(const uint8_t id[16], uint32_t bits[DEDUP_BLOOM_K])
{
    uint64_t a, b;
    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
    b |= 1;
    for (int i = 0; i < DEDUP_BLOOM_K; i++)
        bits[i] = (uint32_t)((a + (uint64_t)i * b) >> 32) & (DEDUP_BLOOM_BITS - 1);
}

static void dedup_bloom_add(struct dedup *s, const uint8_t id[16])
{
    uint32_t bits[DEDUP_BLOOM_K];
    dedup_bloom_bits(id, bits);
    for (int i = 0; i < DEDUP_BLOOM_K; i++)
        s->bloom[bits[i] >> 3] |= (uint8_t)(1u << (bits[i] & 7));
}

static bool dedup_bloom_maybe(const struct dedup *s, const uint8_t id[16])
{
    uint32_t bits[DEDUP_BLOOM_K];
    dedup_bloom_bits(id, bits);
    for (int i = 0; i < DEDUP_BLOOM_K; i++)
        if (!(s->bloom[bits[i] >> 3] & (1u << (bits[i] & 7))))
            return false;
    return true;
}

/* ---- SQLite -------------------------------------------------------------------------- */

static int dedup_exec(struct dedup *s, struct nf_ctx *ctx, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &err) == SQLITE_OK)
        return 0;
    nf_ctx_error(ctx, "%s: %s", s->path, err ? err : sqlite3_errmsg(s->db));
    sqlite3_free(err);
    return -1;
}

static int dedup_open(struct dedup *s, struct nf_ctx *ctx)
{
    int rc = sqlite3_open_v2(s->path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        nf_ctx_error(ctx, "cannot open %s: %s", s->path,
                     s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        return -1;
    }
    sqlite3_busy_timeout(s->db, DEDUP_BUSY_MS);
    if (dedup_exec(s, ctx, "PRAGMA journal_mode=WAL") < 0 ||
        dedup_exec(s, ctx, "PRAGMA synchronous=NORMAL") < 0 ||
        dedup_exec(s, ctx, "BEGIN IMMEDIATE") < 0)
        return -1;
    sqlite3_stmt *st;
    int64_t version = -1;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            version = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    if (version < 0 || version > DEDUP_SCHEMA) {
        if (version < 0)
            nf_ctx_error(ctx, "%s: cannot read the schema version: %s", s->path,
                         sqlite3_errmsg(s->db));
        else
            nf_ctx_error(ctx, "%s has schema version %lld, newer than this build's %d", s->path,
                         (long long)version, DEDUP_SCHEMA);
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", DEDUP_SCHEMA);
    if (dedup_exec(s, ctx, dedup_schema) < 0 || dedup_exec(s, ctx, sql) < 0 ||
        dedup_exec(s, ctx, "COMMIT") < 0) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    if (sqlite3_prepare_v3(s->db, "SELECT dup_of FROM verdicts WHERE id = ?1", -1,
                           SQLITE_PREPARE_PERSISTENT, &s->get, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(s->db,
                           "INSERT INTO verdicts(id, dup_of) VALUES (?1, ?2) ON CONFLICT(id) DO "
                           "UPDATE SET dup_of = excluded.dup_of",
                           -1, SQLITE_PREPARE_PERSISTENT, &s->put, NULL) != SQLITE_OK) {
        nf_ctx_error(ctx, "%s: %s", s->path, sqlite3_errmsg(s->db));
        return -1;
    }
    /* Every id with a verdict goes into the filter once, at start. */
    if (sqlite3_prepare_v2(s->db, "SELECT id FROM verdicts", -1, &st, NULL) != SQLITE_OK) {
        nf_ctx_error(ctx, "%s: %s", s->path, sqlite3_errmsg(s->db));
        return -1;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        uint8_t id[16];
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (t && dedup_unhex(t, (size_t)sqlite3_column_bytes(st, 0), id) == 0)
            dedup_bloom_add(s, id);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        nf_ctx_error(ctx, "%s: reading the verdicts: %s", s->path, sqlite3_errmsg(s->db));
        return -1;
    }
    return 0;
}

/* Writes the verdicts judged since the last flush in one transaction. */
static int dedup_write_pending(struct dedup *s, struct nf_ctx *ctx)
{
    if (!s->n_pending)
        return 0;
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    for (size_t i = 0; i < s->n_pending; i++) {
        char id[33], root[33];
        dedup_hex(s->pending[i].id, id);
        sqlite3_bind_text(s->put, 1, id, 32, SQLITE_STATIC);
        if (s->pending[i].copy) {
            dedup_hex(s->pending[i].root, root);
            sqlite3_bind_text(s->put, 2, root, 32, SQLITE_STATIC);
        } else {
            sqlite3_bind_null(s->put, 2);
        }
        int rc = sqlite3_step(s->put);
        sqlite3_reset(s->put);
        if (rc != SQLITE_DONE)
            goto fail;
    }
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    s->n_pending = 0;
    return 0;
fail:
    if (ctx)
        nf_ctx_error(ctx, "%s: cannot write %zu verdicts: %s", s->path, s->n_pending,
                     sqlite3_errmsg(s->db));
    else /* at the stop */
        nf_log(s->ctx, NF_LOG_ERROR, "%s: cannot write %zu verdicts at the stop: %s", s->path,
               s->n_pending, sqlite3_errmsg(s->db));
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* ---- the snapshot and its log -------------------------------------------------------- */

/* A FILE over a duplicate of fd, buffered by `buf` bytes (0: stdio's own), so that closing it
 * leaves fd open; NULL with errno. */
static FILE *dedup_file_of(int fd, size_t buf)
{
    int dfd = dup(fd);
    FILE *f = dfd >= 0 ? fdopen(dfd, "wb") : NULL;
    if (!f && dfd >= 0) {
        int e = errno;
        close(dfd);
        errno = e;
    }
    if (f && buf)
        setvbuf(f, NULL, _IOFBF, buf);
    return f;
}

/* Closes what dedup_file_of opened after writes that returned `rc`: 0, or -1 with errno of the
 * first failure (the writes', else the close's; EIO when it did not say). */
static int dedup_file_close(FILE *f, int rc)
{
    int e = errno;
    if (f && fclose(f) != 0 && rc == 0)
        rc = -1, e = errno;
    errno = rc < 0 && !e ? EIO : e;
    return rc;
}

/* nfu_append's writer: the header of a new log, the articles added since the last append and
 * those changed. */
static int dedup_log_write(void *arg, int fd, uint64_t size)
{
    struct dedup *s = arg;
    errno = 0;
    FILE *f = dedup_file_of(fd, 0);
    int rc = f ? 0 : -1;
    if (rc == 0 && size == 0)
        rc = nf_dup_index_log_header(s->idx, f);
    if (rc == 0)
        rc = nf_dup_index_log_append(s->idx, f, s->added);
    return dedup_file_close(f, rc);
}

/* Appends what was added or changed since the last append to the log, whole or not at all; what
 * could not be appended is appended by the next call. No fsync: the log is for a crash of this
 * process, and the page cache survives it. 0, or -1 with `why`. */
static int dedup_log_append(struct dedup *s, char *why, size_t whyn)
{
    if (!s->added && !nf_dup_index_changed(s->idx))
        return 0;
    if (nfu_append(s->log_path, dedup_log_write, s, why, whyn) < 0)
        return -1;
    nf_dup_index_log_written(s->idx);
    s->added = 0;
    return 0;
}

/* Takes a snapshot of the window as it is now. What was added so far is appended to the log,
 * which becomes the generation the snapshot holds (the next append begins a new log); the worker
 * writes the window into the snapshot's temporary file (page cache: 100,000 articles are 17 MB),
 * and a thread syncs it and puts it in place (with `wait`, before this returns). A snapshot that
 * is not written leaves its generation of the log for the next one to hold. 0, or -1 with
 * `why`. */
static int dedup_snapshot(struct dedup *s, bool wait, char *why, size_t whyn)
{
    if (dedup_log_append(s, why, whyn) < 0)
        return -1;
    uint64_t g = s->log_gen + 1;
    char gen[4200];
    if (nfu_genlog_path(gen, sizeof(gen), s->log_path, g) < 0)
        return snprintf(why, whyn, "%s: path too long", s->log_path), -1;
    /* no log: nothing was appended since the last generation; a log that cannot be renamed is
     * appended to again */
    if (rename(s->log_path, gen) != 0 && errno != ENOENT)
        return snprintf(why, whyn, "cannot rename %s to generation %llu: %s", s->log_path,
                        (unsigned long long)g, strerror(errno)),
               -1;
    s->log_gen = g;
    int64_t t0 = nf_now_ms();
    int fd = nfu_save_begin(s->snap, why, whyn);
    if (fd < 0)
        return -1;
    errno = 0;
    FILE *f = dedup_file_of(fd, 1 << 20);
    int wrc = dedup_file_close(f, f ? nf_dup_index_write(s->idx, f, g) : -1);
    if (wrc < 0) {
        snprintf(why, whyn, "%s.tmp: %s", s->snap, strerror(errno));
        nfu_save_abort(s->snap, fd);
        return -1;
    }
    s->write_ms = nf_now_ms() - t0;
    if (nfu_bgsave_start(&s->save, fd, g, wait) < 0 || wait)
        return nfu_bgsave_join(&s->save, why, whyn, NULL) < 0 ? -1 : 0;
    return 0;
}

/* Hears how the snapshot synced from a thread went, once it has ended (with `wait`, waits). */
static void dedup_snapshot_joined(struct dedup *s, struct nf_ctx *ctx, bool wait)
{
    if (!nfu_bgsave_running(&s->save) || (!wait && !nfu_bgsave_finished(&s->save)))
        return;
    char why[512];
    int64_t took = 0;
    int rc = nfu_bgsave_join(&s->save, why, sizeof(why), &took);
    if (rc < 0 && ctx)
        nf_log(ctx, NF_LOG_WARN, "snapshot: %s; the log keeps what it lacks", why);
    else if (rc == 0 && ctx)
        nf_log(ctx, NF_LOG_INFO, "snapshot of %zu articles: written in %lld ms, synced in %lld ms",
               nf_dup_index_count(s->idx), (long long)s->write_ms, (long long)took);
}

struct dedup_replay {
    struct dedup *s;
    struct nf_ctx *ctx;
    bool logged; /* a log had articles */
};

/* One log after the snapshot: loaded (a load keeps the last of an id); one that cannot be read
 * is passed over with a warning. */
static int dedup_log_load(void *arg, const char *path)
{
    struct dedup_replay *r = arg;
    char why[512];
    int lrc = nf_dup_index_load(r->s->idx, path, NULL, why, sizeof(why));
    if (lrc < 0)
        nf_log(r->ctx, NF_LOG_WARN, "%s", why);
    r->logged |= lrc > 0;
    return 0;
}

/* A log after a snapshot that could not be read: the articles before it are lost, and it is no
 * longer a log of anything (the first start after that snapshot's loss removes them). */
static int dedup_log_drop(void *arg, const char *path)
{
    (void)arg;
    unlink(path);
    return 0;
}

/* Loads the snapshot, then the log generations it does not hold, in order, and the current log
 * (nfu_genlog_replay). When a log had articles, a new snapshot holds them all, so that none is
 * only in memory; else the log is emptied. */
static int dedup_warm(struct dedup *s, struct nf_ctx *ctx)
{
    char why[512];
    uint64_t held = 0;
    int rc = nf_dup_index_load(s->idx, s->snap, &held, why, sizeof(why));
    if (rc < 0)
        nf_log(ctx, NF_LOG_WARN, "%s; starting with %zu articles in the index", why,
               nf_dup_index_count(s->idx));
    size_t from_snapshot = nf_dup_index_count(s->idx);
    /* without the snapshot the logs are not the window: the index starts from nothing */
    struct dedup_replay r = {.s = s, .ctx = ctx};
    if (nfu_genlog_replay(s->log_path, held, &s->log_gen,
                          rc < 0 ? dedup_log_drop : dedup_log_load, &r) < 0) {
        nf_ctx_error(ctx, "cannot read the logs beside %s: %s", s->log_path, strerror(errno));
        return -1;
    }
    if (rc > 0 || r.logged)
        nf_log(ctx, NF_LOG_INFO, "index loaded from %s: %zu articles (%zu from the snapshot)",
               s->snap, nf_dup_index_count(s->idx), from_snapshot);
    nfu_bgsave_init(&s->save, s->snap, s->log_path, held);
    if (r.logged) {
        if (dedup_snapshot(s, true, why, sizeof(why)) < 0) {
            nf_ctx_error(ctx, "cannot save the index: %s", why);
            return -1;
        }
    } else {
        /* emptied (a last article a crash cut short would be followed by whole ones), and
         * found writable now rather than at the first flush */
        int fd = open(s->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            nf_ctx_error(ctx, "cannot write %s: %s", s->log_path, strerror(errno));
            return -1;
        }
        close(fd);
    }
    s->warm = true;
    return 0;
}

/* ---- the plugin ---------------------------------------------------------------------- */

static void dedup_destroy(void *state)
{
    struct dedup *s = state;
    if (!s)
        return;
    if (s->db)
        dedup_write_pending(s, NULL);
    if (s->warm) {
        dedup_snapshot_joined(s, s->ctx, true);
        /* The whole window to a snapshot, waited for. If it cannot be written, the log (and
         * its generations) keeps what the old snapshot lacks, unless it cannot be appended to
         * either. */
        char why[512];
        if (dedup_snapshot(s, true, why, sizeof(why)) < 0) {
            nf_log(s->ctx, NF_LOG_ERROR, "snapshot on shutdown failed: %s", why);
            if (dedup_log_append(s, why, sizeof(why)) < 0)
                nf_log(s->ctx, NF_LOG_ERROR, "%s: the %zu articles judged since the last flush "
                       "are not in the index after a restart (their verdicts are kept)", why,
                       s->added);
        }
    }
    nfu_bgsave_free(&s->save);
    free(s->log_path);
    nf_dup_index_destroy(&s->idx);
    nf_amend_free(&s->amend);
    sqlite3_finalize(s->get);
    sqlite3_finalize(s->put);
    sqlite3_close_v2(s->db);
    nf_sig_work_free(&s->work);
    free(s->pending);
    free(s->bloom);
    free(s->path);
    free(s->snap);
    free(s);
}

static char *dedup_state_file(struct nf_ctx *ctx, const char *opt, const char *name)
{
    if (opt && opt[0])
        return strdup(opt);
    const char *dir = nf_ctx_state_dir(ctx);
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* A similarity of 0 would make every pair a copy: the table's ranges include 0, this excludes
 * it. */
static int dedup_validate(const void *vconf, const char **option_out, char *err, size_t errlen)
{
    const struct dedup_conf *conf = vconf;
    const struct {
        const char *name;
        double v;
    } above0[] = {{"threshold", conf->threshold},
                  {"containment", conf->containment},
                  {"same_headline", conf->same_headline}};
    for (size_t i = 0; i < sizeof(above0) / sizeof(*above0); i++)
        if (!(above0[i].v > 0)) {
            *option_out = above0[i].name;
            snprintf(err, errlen, "option '%s' must be above 0 (0 makes every pair a copy)",
                     above0[i].name);
            return NF_ERR;
        }
    return NF_OK;
}

static int dedup_init(struct nf_ctx *ctx, const void *vconf, void **state_out)
{
    const struct dedup_conf *conf = vconf;
    if (nf_ctx_workers(ctx) > 1) {
        nf_ctx_error(ctx, "dedup keeps its index in one process's memory: set workers = 1 "
                          "(put the minhash stage before it to spread the signing)");
        return NF_ERR;
    }
    /* the options' ranges are in the table and dedup_validate: the core refused the rest */
    struct dedup *s = calloc(1, sizeof(*s));
    if (!s)
        goto nomem;
    s->conf = conf;
    s->ctx = ctx;
    s->path = dedup_state_file(ctx, conf->path, "dedup.db");
    bool snap = conf->keep_index;
    s->snap = snap ? dedup_state_file(ctx, conf->snapshot, "dedup.index") : NULL;
    s->bloom = calloc(DEDUP_BLOOM_BITS / 8, 1);
    struct nf_dup_params p = {.window = (size_t)conf->window,
                              .rows = nf_dup_rows_for(conf->threshold),
                              .jaccard = conf->threshold,
                              .containment = conf->containment,
                              .min_ratio = conf->min_ratio,
                              .same_headline = conf->same_headline};
    s->idx = nf_dup_index_new(&p);
    if (!s->path || (snap && !s->snap) || !s->bloom || !s->idx)
        goto nomem;
    if (dedup_open(s, ctx) < 0)
        goto fail;
    if (s->snap) {
        size_t n = strlen(s->snap) + sizeof(".log");
        s->log_path = malloc(n);
        if (!s->log_path)
            goto nomem;
        snprintf(s->log_path, n, "%s.log", s->snap);
        if (dedup_warm(s, ctx) < 0)
            goto fail;
        int64_t last = nf_dup_index_last_order(s->idx);
        if (last >= DEDUP_UNORDERED)
            s->unordered = last - DEDUP_UNORDERED + 1; /* after those of the last run */
    }
    *state_out = s;
    return NF_OK;
nomem:
    nf_ctx_error(ctx, "out of memory");
fail:
    dedup_destroy(s);
    return NF_ERR;
}

static int dedup_remember(struct dedup *s, const uint8_t id[16], const uint8_t root[16],
                          bool copy)
{
    if (s->n_pending == s->cap_pending) {
        size_t cap = s->cap_pending ? s->cap_pending * 2 : 1024;
        struct dedup_pending *p = realloc(s->pending, cap * sizeof(*p));
        if (!p)
            return -1;
        s->pending = p;
        s->cap_pending = cap;
    }
    struct dedup_pending *p = &s->pending[s->n_pending++];
    memcpy(p->id, id, 16);
    if (copy)
        memcpy(p->root, root, 16);
    p->copy = copy;
    dedup_bloom_add(s, id);
    return 0;
}

/* An article judged earlier whose verdict changed (nf_dup_index_judge), or a member of the group
 * of a record judged again: its verdict goes to disk and, as an amendment, to the stores. */
static void dedup_changed(void *arg, const uint8_t id[16], enum nf_dup_kind kind,
                          const uint8_t root[16])
{
    struct dedup *s = arg;
    char hid[33], hroot[33];
    dedup_hex(id, hid);
    dedup_hex(root, hroot);
    if (dedup_remember(s, id, root, kind == NF_DUP_COPY) < 0 ||
        nf_amend_add(&s->amend, NF_AMEND_DUP_OF, hid, kind == NF_DUP_COPY ? hroot : NULL) < 0)
        s->amend_failed = true;
}

/* Puts the corrections gathered while judging the record into its "amend" key. */
static int dedup_amend(struct dedup *s, struct nf_ctx *ctx, struct nf_record *rec)
{
    const char *why = "out of memory";
    if (s->amend_failed || nf_amend_apply(&s->amend, rec, &why) < 0) {
        s->amend_failed = false;
        s->amend.n = 0;
        nf_ctx_error(ctx, "cannot write the corrections of earlier verdicts: %s", why);
        return NF_ERR;
    }
    return NF_OK;
}

static void dedup_member(void *arg, const uint8_t id[16], enum nf_dup_kind kind,
                         const uint8_t root[16])
{
    struct dedup *s = arg;
    char hid[33], hroot[33];
    dedup_hex(id, hid);
    dedup_hex(root, hroot);
    if (nf_amend_add(&s->amend, NF_AMEND_DUP_OF, hid, kind == NF_DUP_COPY ? hroot : NULL) < 0)
        s->amend_failed = true;
}

/* A record judged before is judged again (a resend): the corrected verdicts of its group go
 * with it once more, in case the record that carried them was lost on the way to the store. */
static int dedup_regroup(struct dedup *s, struct nf_ctx *ctx, struct nf_record *rec,
                         const uint8_t id[16])
{
    s->amend.n = 0;
    int n = nf_dup_index_group(s->idx, id, dedup_member, s);
    if (n < 0) {
        nf_ctx_error(ctx, "out of memory");
        return NF_ERR;
    }
    if (n == 0 && !s->amend_failed)
        return NF_OK;
    return dedup_amend(s, ctx, rec);
}

static int dedup_apply(struct nf_ctx *ctx, struct nf_record *rec, bool copy,
                       const uint8_t root[16])
{
    if (!copy) {
        nf_record_unset(rec, NF_F_DUP_OF);
        return NF_OK;
    }
    char hex[33];
    dedup_hex(root, hex);
    if (nf_record_set_str(rec, NF_F_DUP_OF, hex, 32) < 0) {
        nf_ctx_error(ctx, "out of memory");
        return NF_ERR;
    }
    return NF_OK;
}

/* The record's signature: the minhash stage's, or computed here. */
static int dedup_signature(struct dedup *s, struct nf_ctx *ctx, struct nf_record *rec,
                           const char *text, size_t text_len)
{
    size_t n;
    const void *mh = nf_record_bytes(rec, NF_F_MINHASH, &n);
    if (mh && nf_sig_decode(mh, n, &s->sig) < 0) {
        /* A signature of another version (one signed before an upgrade, still in flight) is
         * made again here from the text, when the record has it. */
        if (text_len == 0) {
            nf_ctx_error(ctx, "the minhash field (%zu bytes) is not a signature of version %d",
                         n, NF_SIG_VERSION);
            return NF_ERR;
        }
        nf_ctx_count(ctx, "resigned", 1);
        mh = NULL;
    }
    if (mh) {
        if (s->sig.shingle != s->conf->shingle) {
            nf_ctx_error(ctx, "the signature was made with %d-word shingles, dedup's 'shingle' "
                              "is %lld: set both stages alike",
                         s->sig.shingle, (long long)s->conf->shingle);
            return NF_ERR;
        }
        return NF_OK;
    }
    const char *why = NULL;
    if (nf_sig_compute(&s->work, text, text_len, (int)s->conf->shingle, &s->sig, &why) < 0) {
        nf_ctx_error(ctx, "cannot normalise the text: %s", why);
        return NF_ERR;
    }
    size_t tn;
    const char *title = nf_record_str(rec, NF_F_TITLE, &tn);
    if (nf_sig_headline(&s->work, title, title ? tn : 0, &s->sig, &why) < 0) {
        nf_ctx_error(ctx, "cannot read the title's figures: %s", why);
        return NF_ERR;
    }
    if (s->work.norm_cap > (4u << 20))
        nf_sig_work_free(&s->work);
    return NF_OK;
}

static int dedup_process(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    struct dedup *s = state;
    size_t text_len;
    const char *text = nf_record_str(rec, NF_F_TEXT, &text_len);
    if ((!text || text_len == 0) && !nf_record_has(rec, NF_F_MINHASH))
        return NF_OK;
    size_t id_len;
    const char *ids = nf_record_str(rec, NF_F_ID, &id_len);
    uint8_t id[16], root[16];
    if (!ids || dedup_unhex(ids, id_len, id) < 0) {
        nf_ctx_error(ctx, "the record's id is not 32 hex digits");
        return NF_ERR;
    }
    /* A record judged before gets the same verdict again: a replayed original must never be
     * found to be a copy of itself, and a replayed copy keeps pointing at the same original. */
    enum nf_dup_kind kind;
    if (nf_dup_index_lookup(s->idx, id, &kind, root)) {
        if (dedup_apply(ctx, rec, kind == NF_DUP_COPY, root) != NF_OK)
            return NF_ERR;
        return dedup_regroup(s, ctx, rec, id);
    }
    int64_t order;
    if (nf_record_int(rec, NF_F_READ_ORDER, &order) < 0)
        order = DEDUP_UNORDERED + s->unordered++;
    bool on_disk = false;
    if (dedup_bloom_maybe(s, id)) {
        sqlite3_bind_text(s->get, 1, ids, 32, SQLITE_STATIC);
        int rc = sqlite3_step(s->get);
        if (rc == SQLITE_ROW) {
            const char *d = (const char *)sqlite3_column_text(s->get, 0);
            on_disk = true;
            kind = d && dedup_unhex(d, (size_t)sqlite3_column_bytes(s->get, 0), root) == 0
                       ? NF_DUP_COPY
                       : NF_DUP_ORIGINAL;
        }
        sqlite3_reset(s->get);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            nf_ctx_error(ctx, "%s: looking up a verdict: %s", s->path, sqlite3_errmsg(s->db));
            return NF_ERR;
        }
    }
    if (dedup_signature(s, ctx, rec, text ? text : "", text ? text_len : 0) != NF_OK)
        return NF_ERR;
    if (on_disk) {
        /* Back in the window, so that later copies of it are found again. */
        if (s->sig.shingles > 0) {
            if (nf_dup_index_add(s->idx, id, order, &s->sig, kind, root) < 0)
                goto nomem;
            s->added++;
        }
        return dedup_apply(ctx, rec, kind == NF_DUP_COPY, root);
    }
    if (s->sig.shingles == 0) {
        nf_record_unset(rec, NF_F_DUP_OF); /* no words: nothing to compare */
        return NF_OK;
    }
    const char *why;
    s->amend.n = 0;
    int k = nf_dup_index_judge(s->idx, id, order, &s->sig, root, &why, dedup_changed, s);
    if (k < 0 || dedup_remember(s, id, root, k == NF_DUP_COPY) < 0)
        goto nomem;
    s->since_snapshot++;
    s->added++;
    if (k == NF_DUP_COPY) {
        nf_ctx_count(ctx, "dup", 1);
        nf_ctx_count(ctx, why[0] == 'e' ? "dup_exact" : "dup_near", 1);
    }
    if (s->amend.n || s->amend_failed) {
        nf_ctx_count(ctx, "dup_corrected", (int64_t)s->amend.n);
        if (dedup_amend(s, ctx, rec) != NF_OK)
            return NF_ERR;
    }
    return dedup_apply(ctx, rec, k == NF_DUP_COPY, root);
nomem:
    nf_ctx_error(ctx, "out of memory");
    return NF_ERR;
}

static int dedup_flush(void *state, struct nf_ctx *ctx)
{
    struct dedup *s = state;
    if (dedup_write_pending(s, ctx) < 0)
        return NF_ERR;
    if (!s->log_path)
        return NF_OK;
    dedup_snapshot_joined(s, ctx, false);
    /* What is sent on from here is in the log at least; a log that cannot be written fails the
     * flush (the records are not acknowledged, and come again) until it can. */
    char why[512];
    if (dedup_log_append(s, why, sizeof(why)) < 0) {
        nf_ctx_error(ctx, "%s", why);
        return NF_ERR;
    }
    if (s->conf->snapshot_every > 0 && s->since_snapshot >= s->conf->snapshot_every &&
        !nfu_bgsave_running(&s->save)) {
        s->since_snapshot = 0;
        if (dedup_snapshot(s, false, why, sizeof(why)) < 0)
            nf_log(ctx, NF_LOG_WARN, "snapshot: %s; the log keeps what it lacks", why);
    }
    return NF_OK;
}

NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI,
    .size = sizeof(struct nf_plugin),
    .name = "dedup",
    .description = "Marks copies and near-copies of earlier articles with dup_of = the earliest "
                   "original's id",
    .kind = NF_PLUGIN_FILTER,
    .options = dedup_options,
    .conf_size = sizeof(struct dedup_conf),
    .init = dedup_init,
    .validate = dedup_validate,
    .process = dedup_process,
    .flush = dedup_flush,
    .destroy = dedup_destroy,
};
