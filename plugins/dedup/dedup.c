/* dedup: a filter that marks exact copies. Two articles are copies when their texts are equal
 * after normalisation (case folded, accents and compatibility forms undone, every run of spaces,
 * punctuation and control characters made one space); a copy gets dup_of = the id of the first
 * one seen. Verdicts are remembered by id in SQLite, so a replay gets the same verdict again.
 * It does not find near-duplicates (reworded or trimmed copies): that is a later stage's job. */
#include <stdint.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include <xxhash.h>

#include "newsflow/plugin.h"

#define DEDUP_SCHEMA 1
#define DEDUP_BUSY_MS 10000

struct dedup_conf {
    const char *path;
};

static const struct nf_option dedup_options[] = {
    {"path", NF_OPT_PATH, "", offsetof(struct dedup_conf, path),
     "SQLite file holding the text hashes and verdicts; empty: dedup.db in the stage's state "
     "directory. Workers of one stage must share it."},
    {.name = NULL},
};

static const char dedup_schema[] =
    "CREATE TABLE IF NOT EXISTS hashes(hash BLOB PRIMARY KEY NOT NULL, first_id TEXT NOT NULL)\n"
    "  WITHOUT ROWID;\n"
    "CREATE TABLE IF NOT EXISTS verdicts(id TEXT PRIMARY KEY NOT NULL, dup_of TEXT)\n"
    "  WITHOUT ROWID;\n";

enum {
    ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_GET_VERDICT, ST_GET_HASH, ST_PUT_HASH, ST_PUT_VERDICT,
    ST_COUNT
};

static const char *const dedup_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_GET_VERDICT] = "SELECT dup_of FROM verdicts WHERE id = ?1",
    [ST_GET_HASH] = "SELECT first_id FROM hashes WHERE hash = ?1",
    [ST_PUT_HASH] = "INSERT INTO hashes(hash, first_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    [ST_PUT_VERDICT] = "INSERT INTO verdicts(id, dup_of) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
};

struct dedup {
    char *path;
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    /* One worker keeps a transaction open for a whole batch (flush commits it). Reads on the
     * same connection see its uncommitted writes, so two copies within one batch are caught
     * without a second, in-memory table. Several workers commit every record instead: each
     * must see the others' hashes at once, and none may hold the write lock for a batch. */
    bool batch_txn;
    bool in_txn;
    bool txn_lost;
    /* Normalisation buffers, reused: code points, then the UTF-8 that is hashed. */
    utf8proc_int32_t *cps;
    size_t cps_cap;
    uint8_t *norm;
    size_t norm_cap;
};

/* ---- normalisation ------------------------------------------------------------------- */

static bool dedup_is_separator(utf8proc_int32_t cp)
{
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO: case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF:
        return true;
    default:
        return false;
    }
}

/* The normalised text in s->norm; returns its length, or -1 with *why set. Decomposes into a
 * reused buffer (utf8proc_map would allocate for every record). */
static long dedup_normalise(struct dedup *s, const char *text, size_t n, const char **why)
{
    const int opts = UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |
                     UTF8PROC_STRIPMARK | UTF8PROC_IGNORE;
    if (n > (size_t)PTRDIFF_MAX / 8)
        return *why = "text too long", -1;
    for (;;) {
        utf8proc_ssize_t k = utf8proc_decompose((const utf8proc_uint8_t *)text,
                                                (utf8proc_ssize_t)n, s->cps,
                                                (utf8proc_ssize_t)s->cps_cap, opts);
        if (k < 0)
            return *why = utf8proc_errmsg(k), -1;
        if ((size_t)k <= s->cps_cap) {
            n = (size_t)k;
            break;
        }
        utf8proc_int32_t *p = realloc(s->cps, (size_t)k * sizeof(*p));
        if (!p)
            return *why = "out of memory", -1;
        s->cps = p;
        s->cps_cap = (size_t)k;
    }
    if (n * 4 + 1 > s->norm_cap) {
        uint8_t *p = realloc(s->norm, n * 4 + 1);
        if (!p)
            return *why = "out of memory", -1;
        s->norm = p;
        s->norm_cap = n * 4 + 1;
    }
    size_t o = 0;
    bool gap = false;
    for (size_t i = 0; i < n; i++) {
        if (dedup_is_separator(s->cps[i])) {
            gap = true;
            continue;
        }
        if (gap && o > 0)
            s->norm[o++] = ' ';
        gap = false;
        o += (size_t)utf8proc_encode_char(s->cps[i], s->norm + o);
    }
    return (long)o;
}

/* ---- SQLite -------------------------------------------------------------------------- */

static int dedup_run(struct dedup *s, int which)
{
    int rc = sqlite3_step(s->st[which]);
    sqlite3_reset(s->st[which]);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

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
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, dedup_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK) {
            nf_ctx_error(ctx, "%s: preparing \"%s\": %s", s->path, dedup_sql[i],
                         sqlite3_errmsg(s->db));
            return -1;
        }
    }
    return 0;
}

/* ---- the plugin ---------------------------------------------------------------------- */

static void dedup_destroy(void *state)
{
    struct dedup *s = state;
    if (!s)
        return;
    if (s->in_txn && s->db && !sqlite3_get_autocommit(s->db))
        dedup_run(s, ST_COMMIT);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close_v2(s->db);
    free(s->cps);
    free(s->norm);
    free(s->path);
    free(s);
}

static int dedup_init(struct nf_ctx *ctx, const void *vconf, void **state_out)
{
    const struct dedup_conf *conf = vconf;
    struct dedup *s = calloc(1, sizeof(*s));
    if (!s)
        goto nomem;
    if (conf->path && conf->path[0]) {
        s->path = strdup(conf->path);
    } else {
        const char *dir = nf_ctx_state_dir(ctx);
        size_t n = strlen(dir) + sizeof("/dedup.db");
        s->path = malloc(n);
        if (s->path)
            snprintf(s->path, n, "%s/dedup.db", dir);
    }
    if (!s->path)
        goto nomem;
    s->batch_txn = nf_ctx_workers(ctx) <= 1;
    if (dedup_open(s, ctx) < 0) {
        dedup_destroy(s);
        return NF_ERR;
    }
    *state_out = s;
    return NF_OK;
nomem:
    dedup_destroy(s);
    nf_ctx_error(ctx, "out of memory");
    return NF_ERR;
}

static int dedup_sql_error(struct dedup *s, struct nf_ctx *ctx, const char *what)
{
    nf_ctx_error(ctx, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
    return NF_ERR;
}

/* Gives the record its verdict: dup_of set for a copy, absent for an original. */
static int dedup_apply(struct nf_record *rec, const char *dup_of)
{
    if (!dup_of) {
        nf_record_unset(rec, NF_F_DUP_OF);
        return 0;
    }
    return nf_record_set_cstr(rec, NF_F_DUP_OF, dup_of);
}

/* Judges one record inside the open transaction. */
static int dedup_judge(struct dedup *s, struct nf_ctx *ctx, struct nf_record *rec,
                       const char *id, size_t id_len, const char *text, size_t text_len)
{
    /* A record judged before gets the same verdict again: a replayed original must never be
     * found to be a copy of itself, and a replayed copy keeps pointing at the same original. */
    sqlite3_stmt *gv = s->st[ST_GET_VERDICT];
    sqlite3_bind_text64(gv, 1, id, id_len, SQLITE_STATIC, SQLITE_UTF8);
    int rc = sqlite3_step(gv);
    if (rc == SQLITE_ROW) {
        const char *prev = (const char *)sqlite3_column_text(gv, 0);
        rc = dedup_apply(rec, prev); /* copies the string before the reset */
        sqlite3_reset(gv);
        if (rc < 0)
            nf_ctx_error(ctx, "out of memory");
        return rc < 0 ? NF_ERR : NF_OK;
    }
    sqlite3_reset(gv);
    if (rc != SQLITE_DONE)
        return dedup_sql_error(s, ctx, "looking up a verdict");

    const char *why = NULL;
    long n = dedup_normalise(s, text, text_len, &why);
    if (n < 0) {
        nf_ctx_error(ctx, "cannot normalise the text: %s", why);
        return NF_ERR;
    }
    if (n == 0)
        return NF_OK; /* nothing but punctuation and spaces: nothing to compare */
    XXH128_canonical_t hash;
    XXH128_canonicalFromHash(&hash, XXH3_128bits(s->norm, (size_t)n));

    sqlite3_stmt *gh = s->st[ST_GET_HASH];
    sqlite3_bind_blob(gh, 1, &hash, sizeof(hash), SQLITE_STATIC);
    rc = sqlite3_step(gh);
    bool copy = false, nomem = false;
    if (rc == SQLITE_ROW) {
        const char *f = (const char *)sqlite3_column_text(gh, 0);
        size_t fl = (size_t)sqlite3_column_bytes(gh, 0);
        copy = f && (fl != id_len || memcmp(f, id, id_len) != 0);
        /* Copied into the record before the reset frees the row. */
        nomem = copy && nf_record_set_str(rec, NF_F_DUP_OF, f, fl) < 0;
    }
    sqlite3_reset(gh);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return dedup_sql_error(s, ctx, "looking up a hash");
    if (nomem) {
        nf_ctx_error(ctx, "out of memory");
        return NF_ERR;
    }
    if (rc == SQLITE_DONE) {
        sqlite3_stmt *ph = s->st[ST_PUT_HASH];
        sqlite3_bind_blob(ph, 1, &hash, sizeof(hash), SQLITE_STATIC);
        sqlite3_bind_text64(ph, 2, id, id_len, SQLITE_STATIC, SQLITE_UTF8);
        if (dedup_run(s, ST_PUT_HASH) < 0)
            return dedup_sql_error(s, ctx, "remembering a hash");
    }
    sqlite3_stmt *pv = s->st[ST_PUT_VERDICT];
    sqlite3_bind_text64(pv, 1, id, id_len, SQLITE_STATIC, SQLITE_UTF8);
    size_t dl = 0;
    const char *dup_of = copy ? nf_record_str(rec, NF_F_DUP_OF, &dl) : NULL;
    if (dup_of)
        sqlite3_bind_text64(pv, 2, dup_of, dl, SQLITE_STATIC, SQLITE_UTF8);
    else
        sqlite3_bind_null(pv, 2);
    if (dedup_run(s, ST_PUT_VERDICT) < 0)
        return dedup_sql_error(s, ctx, "remembering a verdict");
    if (!copy)
        nf_record_unset(rec, NF_F_DUP_OF);
    if (copy)
        nf_ctx_count(ctx, "dup", 1);
    return NF_OK;
}

static int dedup_process(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    struct dedup *s = state;
    size_t text_len;
    const char *text = nf_record_str(rec, NF_F_TEXT, &text_len);
    if (!text || text_len == 0)
        return NF_OK;
    size_t id_len;
    const char *id = nf_record_str(rec, NF_F_ID, &id_len);
    if (!id || id_len == 0) {
        nf_ctx_error(ctx, "the record has no id");
        return NF_ERR;
    }
    /* SQLite rolls a whole transaction back on some errors (disk full, I/O): the verdicts of
     * this batch are then gone and the next flush must say so. */
    if (s->in_txn && sqlite3_get_autocommit(s->db)) {
        s->txn_lost = true;
        s->in_txn = false;
    }
    if (!s->in_txn) {
        if (dedup_run(s, ST_BEGIN) < 0)
            return dedup_sql_error(s, ctx, "cannot begin a transaction");
        s->in_txn = true;
    }
    int rc = dedup_judge(s, ctx, rec, id, id_len, text, text_len);
    if (!s->batch_txn) {
        s->in_txn = false;
        if (sqlite3_get_autocommit(s->db))
            return NF_ERR; /* rolled back: the reason is already given */
        if (rc != NF_OK) {
            dedup_run(s, ST_ROLLBACK);
            return rc;
        }
        if (dedup_run(s, ST_COMMIT) < 0) {
            rc = dedup_sql_error(s, ctx, "cannot commit");
            if (!sqlite3_get_autocommit(s->db))
                dedup_run(s, ST_ROLLBACK);
        }
    }
    return rc;
}

static int dedup_flush(void *state, struct nf_ctx *ctx)
{
    struct dedup *s = state;
    if (!s->in_txn && !s->txn_lost)
        return NF_OK;
    if (s->in_txn && sqlite3_get_autocommit(s->db))
        s->txn_lost = true;
    if (s->in_txn && !sqlite3_get_autocommit(s->db) && dedup_run(s, ST_COMMIT) < 0) {
        dedup_sql_error(s, ctx, "cannot commit");
        if (!sqlite3_get_autocommit(s->db))
            dedup_run(s, ST_ROLLBACK);
        s->in_txn = s->txn_lost = false;
        return NF_ERR;
    }
    s->in_txn = false;
    if (s->txn_lost) {
        s->txn_lost = false;
        nf_ctx_error(ctx, "%s: the batch's verdicts were rolled back by an earlier error",
                     s->path);
        return NF_ERR;
    }
    return NF_OK;
}

NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI,
    .size = sizeof(struct nf_plugin),
    .name = "dedup",
    .description = "Marks exact copies (same normalised text) with dup_of = the first one's id",
    .kind = NF_PLUGIN_FILTER,
    .options = dedup_options,
    .conf_size = sizeof(struct dedup_conf),
    .init = dedup_init,
    .process = dedup_process,
    .flush = dedup_flush,
    .destroy = dedup_destroy,
};
