/* store_sqlite: the embedded default store. One row per article id (a replayed or re-extracted
 * record replaces its row), its entities and story in tables of their own, in parts by rowid
 * (side_parts.h), and an external-content FTS5 index on title and text, in parts of a bounded
 * size (fts_parts.h), written once per batch. A batch
 * is one transaction, committed by flush(). It is a single-writer store: several workers on one
 * file take turns, they do not scale. */
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checkpoint.h"
#include "fts_parts.h"
#include "logsync.h"
#include "side_parts.h"
#include "msgpack_json.h"
#include "../dedup/amend.h"
#include "newsflow/plugin.h"
#include "plugin_util.h"

#define STORE_SQLITE_SCHEMA 4
#define STORE_SQLITE_BUSY_MS 10000
/* The checkpoint thread also copies the log after this long without a commit. */
#define STORE_SQLITE_IDLE_MS 1000
/* A log this many times the checkpoint size is copied by the commit that reaches it, unless
 * the thread is copying then; at STORE_SQLITE_WAL_WAIT times it, the commit waits for the
 * thread's checkpoint and copies the rest. */
#define STORE_SQLITE_WAL_LIMIT 2
#define STORE_SQLITE_WAL_WAIT 4

struct store_sqlite_conf {
    const char *path;
    bool store_raw;
    bool fts;
    bool fsync;
    int64_t cache;
    int64_t checkpoint;
    int64_t fts_part;
    int64_t entity_part;
};

static const struct nf_option store_sqlite_options[] = {
    {"path", NF_OPT_PATH, "newsflow.db", offsetof(struct store_sqlite_conf, path),
     "SQLite database file; created with its schema (and its directory) when missing.",
     .min = "1", .flags = NF_OPT_WRITE_FILE | NF_OPT_MKDIR},
    {"store_raw", NF_OPT_BOOL, "false", offsetof(struct store_sqlite_conf, store_raw),
     "Also keep the bytes as fetched (column raw)."},
    {"fts", NF_OPT_BOOL, "true", offsetof(struct store_sqlite_conf, fts),
     "Keep a full-text index (FTS5) on title and text, tables articles_fts, articles_fts_1, ... "
     "(see fts_part). Once created it is kept up to date even if this is later set to false."},
    {"fsync", NF_OPT_BOOL, "true", offsetof(struct store_sqlite_conf, fsync),
     "Make every commit durable before the batch is acknowledged (the write-ahead log is synced "
     "after the commit, as the sources sync their journals; readers see the batch before the "
     "sync). false: a commit still survives a crash of the "
     "process, but a power failure or a crash of the system may lose the last seconds of "
     "commits, whose records were acknowledged and will not be sent again."},
    {"cache", NF_OPT_SIZE, "16M", offsetof(struct store_sqlite_conf, cache),
     "Memory for SQLite's page cache (it fills as the file grows). The indexes that every "
     "article touches (ids, stories, entity names, the full-text index's recent segments) "
     "should fit, or each commit reads them again: past 100,000 articles 32M-64M saves some "
     "CPU."},
    {"checkpoint", NF_OPT_SIZE, "32M", offsetof(struct store_sqlite_conf, checkpoint),
     "Size of the write-ahead log at which a thread of the store copies it into the database "
     "(a checkpoint), beside the commits; it also does after a second without a commit. The "
     "log stays within about twice this (four times at worst). Larger: fewer checkpoints, and "
     "a page changed by many commits is copied once. 0: never (another program checkpoints the "
     "file)."},
    {"fts_part", NF_OPT_INT, "50000", offsetof(struct store_sqlite_conf, fts_part),
     "Articles per part of the full-text index: when its newest part holds this many, the next "
     "commit starts a new one (articles_fts_1, articles_fts_2, ...). FTS5 merges the segments "
     "of a part only, so indexing costs the same per article however large the store grows; a "
     "search reads every part. 0: the newest part grows for ever. A store made before schema "
     "3 keeps its one index.",
     .min = "0"},
    {"entity_part", NF_OPT_INT, "20000", offsetof(struct store_sqlite_conf, entity_part),
     "Articles per part of the entities' and stories' tables (article_entities, "
     "article_entities_1, ..., article_stories, ...): when the newest part holds this many, the "
     "next transaction starts a new one, and builds the indexes of the one before, by entity "
     "name and by story id (keys at random places, which a batch would write a page of for "
     "nearly every article; a search reads the newest part whole). The views entities and "
     "story_members read every part, at most 400 (SQLite's limit on the SELECTs of a view): "
     "past them the newest grows, indexed. 0: the newest part grows for ever, indexed.",
     .min = "0"},
    {.name = NULL},
};

/* Entities are kept by the article's rowid, so that a new article's entities go to the end of
 * their table instead of to a random place in it (the ids are hashes): a batch then touches a few
 * pages of article_entities rather than one per article. article_entities is the first of their
 * parts (side_parts.h); the view `entities` shows them all by article id, as schema 1 had them.
 * A store before schema 4 kept an index on articles(story_id), which article_stories and its
 * parts replace. */
static const char store_sqlite_schema[] =
    "CREATE TABLE IF NOT EXISTS articles(\n"
    "  id TEXT PRIMARY KEY NOT NULL, source_uri TEXT, source_kind TEXT, fetched_at TEXT,\n"
    "  content_type TEXT, title TEXT, byline TEXT, outlet TEXT, published_at TEXT,\n"
    "  dateline_place TEXT, lang TEXT, url TEXT, text TEXT, dup_of TEXT, story_id TEXT,\n"
    "  raw BLOB, extra TEXT, stored_at TEXT NOT NULL);\n"
    "CREATE TABLE IF NOT EXISTS article_entities(\n"
    "  article_rowid INTEGER NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL,\n"
    "  mentions INTEGER NOT NULL DEFAULT 0,\n"
    "  PRIMARY KEY(article_rowid, type, name)) WITHOUT ROWID;\n";

/* Schema 1's entities table, keyed by article id, into article_entities. */
static const char store_sqlite_entities_v1[] =
    "INSERT INTO article_entities(article_rowid, type, name, mentions)\n"
    "  SELECT a.rowid, e.type, e.name, e.mentions FROM entities e JOIN articles a ON a.id = "
    "e.article_id;\n"
    "DROP TABLE entities;\n";

/* The bookkeeping of any index (every row up to indexed_upto is in it): for a new one (schema
 * 3), before part 0 (fts_parts_add), which indexes every row already there; for the one index
 * of schema 1, before store_sqlite_fts_upkeep. The index holds no copy of the text: a query
 * that asks for title or text (snippet, highlight) reads them from the row with the same
 * rowid. */
static const char store_sqlite_fts_state[] =
    "CREATE TABLE IF NOT EXISTS articles_fts_state(indexed_upto INTEGER NOT NULL);\n"
    "DELETE FROM articles_fts_state;\n"
    "INSERT INTO articles_fts_state SELECT coalesce(max(rowid), 0) FROM articles;\n";

/* How the index follows the table in a store of schema 1 or 2, whose one index was made as
 * content='articles' (it cannot be split into parts: FTS5 would read every row as its own).
 * Schema 3 does the same per part (fts_parts.c). The store indexes the rows it added in one
 * statement just before each commit (store_sqlite_commit): every row up to
 * articles_fts_state.indexed_upto is in the index, none above it. Indexing row by row, as the
 * insert trigger of schema 1 did, made FTS5 write a segment for every record: FTS5 writes out
 * its pending terms whenever a savepoint opens, and each record has one, as does every statement
 * that fires a trigger. The triggers left keep the index right when a row already indexed is
 * changed or deleted, by the store (an article delivered again with a new text) or by hand. */
static const char store_sqlite_fts_upkeep[] =
    "DROP TRIGGER IF EXISTS articles_fts_ai;\n"
    "DROP TRIGGER IF EXISTS articles_fts_ad;\n"
    "DROP TRIGGER IF EXISTS articles_fts_au;\n"
    /* Segments are merged 16 at a time instead of 4: each posting is rewritten about half as
     * often (log16 instead of log4 of the number of batches), and a search reads a few more
     * segments. The merges are done a little at each commit; one that stalls a commit would
     * come only if a level reached 64 segments. */
    "INSERT INTO articles_fts(articles_fts, rank) VALUES ('automerge', 16);\n"
    "INSERT INTO articles_fts(articles_fts, rank) VALUES ('crisismerge', 64);\n"
    /* A deleted row leaves the index if it was in it; and when the rows at the top are gone,
     * the next rowids handed out are above indexed_upto again. */
    "CREATE TRIGGER articles_fts_ad AFTER DELETE ON articles BEGIN\n"
    "  INSERT INTO articles_fts(articles_fts, rowid, title, text)\n"
    "    SELECT 'delete', old.rowid, old.title, old.text\n"
    "    WHERE old.rowid <= (SELECT indexed_upto FROM articles_fts_state);\n"
    "  UPDATE articles_fts_state\n"
    "    SET indexed_upto = (SELECT coalesce(max(rowid), 0) FROM articles)\n"
    "    WHERE indexed_upto > (SELECT coalesce(max(rowid), 0) FROM articles);\n"
    "END;\n"
    /* A row not yet indexed is indexed with its latest values before the commit. */
    "CREATE TRIGGER articles_fts_au AFTER UPDATE OF title, text ON articles\n"
    "  WHEN (old.title IS NOT new.title OR old.text IS NOT new.text)\n"
    "    AND old.rowid <= (SELECT indexed_upto FROM articles_fts_state) BEGIN\n"
    "  INSERT INTO articles_fts(articles_fts, rowid, title, text)\n"
    "    VALUES ('delete', old.rowid, old.title, old.text);\n"
    "  INSERT INTO articles_fts(rowid, title, text) VALUES (new.rowid, new.title, new.text);\n"
    "END;\n";

/* Parameter order of the upsert: ?1 .. ?16 are the article's columns (enum nfu_col, from 1),
 * then these. */
enum { P_EXTRA = NFU_COL_COUNT + 1, P_STORED_AT };

static const char store_sqlite_upsert[] =
    "INSERT INTO articles(id, source_uri, source_kind, fetched_at, content_type, title, byline,\n"
    "  outlet, published_at, dateline_place, lang, url, text, dup_of, story_id, raw, extra,\n"
    "  stored_at)\n"
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)\n"
    "ON CONFLICT(id) DO UPDATE SET source_uri = excluded.source_uri,\n"
    "  source_kind = excluded.source_kind, fetched_at = excluded.fetched_at,\n"
    "  content_type = excluded.content_type, title = excluded.title, byline = excluded.byline,\n"
    "  outlet = excluded.outlet, published_at = excluded.published_at,\n"
    "  dateline_place = excluded.dateline_place, lang = excluded.lang, url = excluded.url,\n"
    "  text = excluded.text, dup_of = excluded.dup_of, story_id = excluded.story_id,\n"
    "  raw = excluded.raw, extra = excluded.extra, stored_at = excluded.stored_at\n"
    "RETURNING rowid";

enum {
    ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_SAVEPOINT, ST_RELEASE, ST_ROLLBACK_TO, ST_UPSERT,
    ST_AMEND_DUP_OF, ST_AMEND_STORY_ID, ST_AMEND_STORY_OF, ST_FTS_ADD, ST_FTS_MARK, ST_COUNT
};

static const char *const store_sqlite_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT record",
    [ST_RELEASE] = "RELEASE record",
    [ST_ROLLBACK_TO] = "ROLLBACK TO record",
    [ST_UPSERT] = store_sqlite_upsert,
    /* Corrections of earlier verdicts a record carries (amend.h): by id for dup_of and
     * story_of, a story's members by its old id, found through the index of every part (the
     * trigger article_stories_au follows the change there). */
    [ST_AMEND_DUP_OF] = "UPDATE articles SET dup_of = ?2 WHERE id = ?1 AND dup_of IS NOT ?2",
    [ST_AMEND_STORY_ID] = "UPDATE articles SET story_id = ?2 WHERE rowid IN (SELECT article_rowid "
                          "FROM story_members WHERE story_id = ?1)",
    [ST_AMEND_STORY_OF] = "UPDATE articles SET story_id = ?2 WHERE id = ?1 AND story_id IS NOT ?2",
    /* Prepared only when the index exists. */
    [ST_FTS_ADD] = "INSERT INTO articles_fts(rowid, title, text) SELECT rowid, title, text FROM "
                   "articles WHERE rowid > (SELECT indexed_upto FROM articles_fts_state)",
    [ST_FTS_MARK] = "UPDATE articles_fts_state SET indexed_upto = (SELECT coalesce(max(rowid), 0) "
                    "FROM articles)",
};

struct store_sqlite {
    const struct store_sqlite_conf *conf;
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    struct ckpt *ckpt; /* the checkpoint thread; NULL: checkpoints at commit (or none) */
    int wal_frames;    /* the checkpoint size in pages of the log */
    bool fts;      /* articles_fts exists: kept up to date whatever conf->fts says */
    bool parts;    /* the index is in parts (articles_fts_parts) */
    int part;      /* the part s->st[ST_FTS_ADD] writes to; -1: none prepared */
    sqlite3_stmt *fts_newest; /* reads the newest part at each commit; NULL until then */
    struct side_parts side; /* the parts of the entities and stories, read at each BEGIN */
    bool in_txn;
    bool txn_lost; /* SQLite rolled back a transaction that held accepted records */
    bool sync_log; /* the store syncs the write-ahead log after each commit (fsync, WAL mode) */
    struct logsync *logsync; /* ... in this thread, beside the writer; NULL: in flush() */
    char *extra;   /* JSON of the unknown keys, reused */
    size_t extra_cap;
    msgpack_zone zone;
    char *where; /* "stage store, option path (conf/x.cfg:12)", for errors about the file */
};

/* The reason of a failure `rc`, with a full disk said plainly: SQLite reports it as
 * SQLITE_FULL, or as an I/O error whose system errno is ENOSPC (a failed sync). The parts'
 * own checks (fts_parts.h, side_parts.h: a list of parts the store did not make, memory) fail
 * without a message in the connection, whose last call succeeded: `rc` says it then. */
static void store_sqlite_error_rc(struct store_sqlite *s, struct nf_ctx *ctx, const char *what,
                                  int rc)
{
    bool full = (sqlite3_extended_errcode(s->db) & 0xff) == SQLITE_FULL ||
                sqlite3_system_errno(s->db) == ENOSPC;
    bool own = rc != SQLITE_OK && sqlite3_errcode(s->db) == SQLITE_OK;
    nf_ctx_error(ctx, "%s: %s: %s (%s)", s->conf->path, what,
                 own    ? sqlite3_errstr(rc)
                 : full ? "the disk is full"
                        : sqlite3_errmsg(s->db),
                 s->where ? s->where : "option path");
}

/* The reason of SQLite's last failure. */
static void store_sqlite_error(struct store_sqlite *s, struct nf_ctx *ctx, const char *what)
{
    store_sqlite_error_rc(s, ctx, what, SQLITE_OK);
}

/* Runs a prepared statement whose rows, if any, are not read. 0, or -1 with SQLite's error. */
static int store_sqlite_step(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

static int store_sqlite_run(struct store_sqlite *s, int which)
{
    return store_sqlite_step(s->st[which]);
}

static int store_sqlite_exec(struct store_sqlite *s, struct nf_ctx *ctx, const char *sql,
                             const char *what)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    store_sqlite_error(s, ctx, what);
    return -1;
}

static int64_t store_sqlite_pragma_int(struct store_sqlite *s, const char *sql)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The reason of a failed sync of the write-ahead log (store_sqlite_sync_log, or logsync's). */
static void store_sqlite_sync_error(struct store_sqlite *s, struct nf_ctx *ctx, const char *why)
{
    nf_ctx_error(ctx, "%s: cannot sync the write-ahead log %s-wal: %s (%s)", s->conf->path,
                 s->conf->path, why, s->where ? s->where : "option path");
}

/* Makes the commits so far durable: the write-ahead log's file synced (fdatasync) through
 * SQLite's own handle on it, as SQLite syncs it at commit with synchronous=FULL. SQLITE_OK, or
 * the failure's code (the connection's last call succeeded: it has no message of it). */
static int store_sqlite_sync_log(struct store_sqlite *s)
{
    sqlite3_file *log = NULL;
    int rc = sqlite3_file_control(s->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &log);
    if (rc != SQLITE_OK)
        return rc;
    if (!log || !log->pMethods)
        return SQLITE_IOERR_FSYNC; /* after a commit in WAL mode the log is open */
    return log->pMethods->xSync(log, SQLITE_SYNC_NORMAL);
}

/* The connection's cache, from the options, and the checkpoint size in pages. */
static int store_sqlite_tune(struct store_sqlite *s, struct nf_ctx *ctx)
{
    int64_t page = store_sqlite_pragma_int(s, "PRAGMA page_size");
    if (page <= 0)
        page = 4096;
    int64_t frames = s->conf->checkpoint / page;
    if (s->conf->checkpoint && frames < 1)
        frames = 1;
    s->wal_frames = (int)(frames < INT32_MAX / STORE_SQLITE_WAL_LIMIT
                              ? frames
                              : INT32_MAX / STORE_SQLITE_WAL_LIMIT);
    /* temp_store: a record's savepoint keeps the pages it changes in an undo journal, which
     * would otherwise go to a temporary file (a write and a read of each page) once it passes
     * 64 KiB. */
    char sql[128];
    snprintf(sql, sizeof(sql), "PRAGMA cache_size=%lld; PRAGMA temp_store=MEMORY",
             -(long long)(s->conf->cache / 1024));
    return store_sqlite_exec(s, ctx, sql, "setting the cache");
}

/* After every commit of the store's connection: a log of twice the checkpoint size is copied
 * now (see checkpoint.h), so that the next transaction starts it again, unless the thread is
 * copying it (then a later commit does, waiting for the thread once the log is four times the
 * size); and the checkpoint thread is told the log's size. */
static int store_sqlite_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct store_sqlite *s = arg;
    (void)name;
    if (frames / STORE_SQLITE_WAL_LIMIT >= s->wal_frames)
        ckpt_now(s->ckpt, db, frames / STORE_SQLITE_WAL_WAIT >= s->wal_frames);
    ckpt_committed(s->ckpt, frames);
    return SQLITE_OK;
}

/* Checkpoints by a thread of their own, or at commit when it cannot start. */
static void store_sqlite_checkpoints(struct store_sqlite *s, struct nf_ctx *ctx)
{
    if (!s->wal_frames) {
        sqlite3_wal_autocheckpoint(s->db, 0);
        return;
    }
    char err[256];
    s->ckpt = ckpt_new(s->conf->path, s->conf->fsync, s->wal_frames, STORE_SQLITE_IDLE_MS, err,
                       sizeof(err));
    if (s->ckpt) {
        sqlite3_wal_hook(s->db, store_sqlite_wal_hook, s);
        return;
    }
    nf_log(ctx, NF_LOG_WARN, "%s: no checkpoint thread (%s): commits make the checkpoints",
           s->conf->path, err);
    sqlite3_wal_autocheckpoint(s->db, s->wal_frames);
}

static int store_sqlite_setup(struct store_sqlite *s, struct nf_ctx *ctx)
{
    sqlite3_busy_timeout(s->db, STORE_SQLITE_BUSY_MS);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK) {
        store_sqlite_error(s, ctx, "cannot open");
        return -1;
    }
    int rc = sqlite3_step(st);
    const char *mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    if (rc != SQLITE_ROW) {
        store_sqlite_error(s, ctx, "cannot open");
        sqlite3_finalize(st);
        return -1;
    }
    if (!mode || strcmp(mode, "wal") != 0)
        nf_log(ctx, NF_LOG_WARN, "%s: journal mode is %s, not WAL (a file system without shared "
               "memory?): readers will block the store", s->conf->path, mode ? mode : "unknown");
    bool wal = mode && strcmp(mode, "wal") == 0;
    sqlite3_finalize(st);
    /* In WAL mode a commit with synchronous=NORMAL is visible to readers once its frames are
     * written; the store then syncs the log itself before the batch is acknowledged
     * (store_sqlite_sync_log), so the disk's sync is not part of what a reader waits for. In
     * any other journal mode SQLite syncs (FULL), as NORMAL there is not safe on power loss. */
    s->sync_log = s->conf->fsync && wal;
    if (store_sqlite_exec(s, ctx, s->conf->fsync && !s->sync_log ? "PRAGMA synchronous=FULL" :
                                                                    "PRAGMA synchronous=NORMAL",
                          "setting synchronous") < 0)
        return -1;
    if (store_sqlite_tune(s, ctx) < 0)
        return -1;
    if (store_sqlite_exec(s, ctx, "BEGIN IMMEDIATE", "creating the schema") < 0)
        return -1;
    int64_t version = store_sqlite_pragma_int(s, "PRAGMA user_version");
    if (version > STORE_SQLITE_SCHEMA) {
        nf_ctx_error(ctx, "%s has schema version %lld, newer than this build's %d", s->conf->path,
                     (long long)version, STORE_SQLITE_SCHEMA);
        goto rollback;
    }
    if (store_sqlite_exec(s, ctx, store_sqlite_schema, "creating the schema") < 0)
        goto rollback;
    if (store_sqlite_pragma_int(s, "SELECT count(*) FROM sqlite_master WHERE name = 'entities' "
                                   "AND type = 'table'") > 0 &&
        store_sqlite_exec(s, ctx, store_sqlite_entities_v1, "moving the entities to schema 2") < 0)
        goto rollback;
    if (version < 4 && side_parts_migrate(s->db) != SQLITE_OK) {
        store_sqlite_error(s, ctx, "moving the entities and stories to schema 4");
        goto rollback;
    }
    if (side_parts_seal(s->db, s->conf->entity_part) != SQLITE_OK) {
        store_sqlite_error(s, ctx, "indexing the entities of the older parts by name");
        goto rollback;
    }
    s->fts = store_sqlite_pragma_int(s, "SELECT count(*) FROM sqlite_master WHERE name = "
                                        "'articles_fts'") > 0;
    s->parts = store_sqlite_pragma_int(s, "SELECT count(*) FROM sqlite_master WHERE name = "
                                          "'articles_fts_parts'") > 0;
    s->part = -1;
    if (s->fts && !s->parts && version < 2 &&
        (store_sqlite_exec(s, ctx, store_sqlite_fts_state,
                           "setting up the full-text index's upkeep") < 0 ||
         store_sqlite_exec(s, ctx, store_sqlite_fts_upkeep,
                           "setting up the full-text index's upkeep") < 0))
        goto rollback;
    if (!s->fts && s->conf->fts) {
        if (store_sqlite_exec(s, ctx, store_sqlite_fts_state, "creating the full-text index") < 0)
            goto rollback;
        if (fts_parts_init(s->db) != SQLITE_OK || fts_parts_add(s->db, 0, 0) != SQLITE_OK ||
            sqlite3_exec(s->db, "INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')", NULL,
                         NULL, NULL) != SQLITE_OK) {
            store_sqlite_error(s, ctx, "creating the full-text index");
            goto rollback;
        }
        s->fts = s->parts = true;
    }
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", STORE_SQLITE_SCHEMA);
    if (store_sqlite_exec(s, ctx, sql, "setting the schema version") < 0 ||
        store_sqlite_exec(s, ctx, "COMMIT", "creating the schema") < 0)
        goto rollback;
    int synced = s->sync_log ? store_sqlite_sync_log(s) : SQLITE_OK;
    if (synced != SQLITE_OK) {
        store_sqlite_sync_error(s, ctx, sqlite3_errstr(synced));
        return -1;
    }

    for (int i = 0; i < ST_COUNT; i++) {
        /* The statement that indexes a batch is prepared at commit when the index is in parts:
         * its table is the newest part then. */
        if ((i == ST_FTS_ADD || i == ST_FTS_MARK) && !s->fts)
            continue;
        if (i == ST_FTS_ADD && s->parts)
            continue;
        if (sqlite3_prepare_v3(s->db, store_sqlite_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &s->st[i], NULL) != SQLITE_OK) {
            nf_ctx_error(ctx, "%s: preparing \"%s\": %s", s->conf->path, store_sqlite_sql[i],
                         sqlite3_errmsg(s->db));
            return -1;
        }
    }
    return 0;
rollback:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* The part this batch's rows go to: a new one when the newest holds fts_part rows. Read in the
 * transaction each time, as another worker on the file may have started one. SQLite's result
 * code. */
static int store_sqlite_part(struct store_sqlite *s)
{
    int part;
    int64_t lo, upto;
    int rc = fts_parts_newest(s->db, &s->fts_newest, &part, &lo, &upto);
    if (rc != SQLITE_OK)
        return rc;
    if (s->conf->fts_part > 0 && upto - lo >= s->conf->fts_part &&
        (rc = fts_parts_add(s->db, ++part, upto)) != SQLITE_OK)
        return rc;
    if (part == s->part && s->st[ST_FTS_ADD])
        return SQLITE_OK;
    sqlite3_finalize(s->st[ST_FTS_ADD]);
    s->st[ST_FTS_ADD] = fts_parts_adder(s->db, part);
    s->part = s->st[ST_FTS_ADD] ? part : -1;
    return s->st[ST_FTS_ADD] ? SQLITE_OK : SQLITE_ERROR;
}

/* Indexes the rows the transaction added, then commits it. SQLite's result code (SQLITE_ERROR
 * when the message is SQLite's last); the transaction is then still open. */
static int store_sqlite_commit(struct store_sqlite *s)
{
    if (s->fts) {
        int rc = s->parts ? store_sqlite_part(s) : SQLITE_OK;
        if (rc != SQLITE_OK)
            return rc;
        if (store_sqlite_run(s, ST_FTS_ADD) < 0 || store_sqlite_run(s, ST_FTS_MARK) < 0)
            return SQLITE_ERROR;
    }
    return store_sqlite_run(s, ST_COMMIT) < 0 ? SQLITE_ERROR : SQLITE_OK;
}

static void store_sqlite_destroy(void *state)
{
    struct store_sqlite *s = state;
    if (!s)
        return;
    /* The host flushes before it stops; whatever is still open has not been acknowledged and
     * will be replayed, so committing it only saves that work. */
    if (s->in_txn && !sqlite3_get_autocommit(s->db))
        store_sqlite_commit(s);
    /* Before the store's own connection closes: the last connection to close copies the log. */
    if (s->ckpt) {
        sqlite3_wal_hook(s->db, NULL, NULL);
        ckpt_destroy(&s->ckpt);
    }
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_finalize(s->fts_newest);
    side_parts_clear(&s->side);
    sqlite3_close_v2(s->db);
    logsync_destroy(&s->logsync);
    free(s->where);
    free(s->extra);
    msgpack_zone_destroy(&s->zone);
    free(s);
}

static int store_sqlite_init(struct nf_ctx *ctx, const void *vconf, void **state_out)
{
    /* path is never empty and the sizes never negative: the option table says so */
    const struct store_sqlite_conf *conf = vconf;
    struct store_sqlite *s = calloc(1, sizeof(*s));
    if (!s || !msgpack_zone_init(&s->zone, 4096)) {
        free(s);
        nf_ctx_error(ctx, "out of memory");
        return NF_ERR;
    }
    s->conf = conf;
    s->where = strdup(nf_ctx_option_where(ctx, "path"));
    if (!s->where) {
        nf_ctx_error(ctx, "out of memory");
        goto fail;
    }
    char made[PATH_MAX];
    if (nfu_mkdir_parents(conf->path, made) < 0) {
        nf_ctx_error(ctx, "cannot make the directory %s of %s (%s): %s", made, conf->path,
                     s->where, errno == ENOSPC ? "the disk is full" : strerror(errno));
        goto fail;
    }
    int rc = sqlite3_open_v2(conf->path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        nf_ctx_error(ctx, "cannot open %s (%s): %s", conf->path, s->where,
                     s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    if (store_sqlite_setup(s, ctx) < 0)
        goto fail;
    store_sqlite_checkpoints(s, ctx);
    if (s->sync_log) {
        char err[256];
        s->logsync = logsync_new(sqlite3_filename_wal(sqlite3_db_filename(s->db, "main")), err,
                                 sizeof(err));
        if (s->logsync)
            nf_ctx_wait_fd(ctx, logsync_fd(s->logsync));
        else
            nf_log(ctx, NF_LOG_WARN, "%s: no thread to sync the log (%s): each commit waits "
                   "for its sync", conf->path, err);
    }
    *state_out = s;
    return NF_OK;
fail:
    store_sqlite_destroy(s);
    return NF_ERR;
}

static void store_sqlite_bind_str(sqlite3_stmt *st, int param, const char *s, size_t n)
{
    if (s)
        sqlite3_bind_text64(st, param, s, n, SQLITE_STATIC, SQLITE_UTF8);
    else
        sqlite3_bind_null(st, param);
}

static int store_sqlite_amend(void *arg, enum nf_amend_kind kind, const char *key, const char *val)
{
    struct store_sqlite *s = arg;
    int st = kind == NF_AMEND_DUP_OF    ? ST_AMEND_DUP_OF
             : kind == NF_AMEND_STORY_ID ? ST_AMEND_STORY_ID
                                         : ST_AMEND_STORY_OF;
    sqlite3_bind_text(s->st[st], 1, key, -1, SQLITE_STATIC);
    if (val)
        sqlite3_bind_text(s->st[st], 2, val, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s->st[st], 2);
    return store_sqlite_run(s, st) < 0 ? -2 : 0;
}

/* The article's entities (those it had go) and its story, in the part of its rowid. 0, or -1
 * with SQLite's error. */
static int store_sqlite_write_side(struct store_sqlite *s, struct nf_record *rec, int64_t rowid,
                                   const char *story, size_t story_len)
{
    int k = side_parts_of(&s->side, rowid);
    sqlite3_stmt *del = side_parts_stmt(&s->side, s->db, k, SIDE_DEL_ENTITIES);
    sqlite3_stmt *add = side_parts_stmt(&s->side, s->db, k, SIDE_ADD_ENTITY);
    sqlite3_stmt *sto = side_parts_stmt(&s->side, s->db, k, SIDE_ADD_STORY);
    if (!del || !add || !sto)
        return -1;
    sqlite3_bind_int64(sto, 1, rowid);
    store_sqlite_bind_str(sto, 2, story, story_len);
    if (store_sqlite_step(sto) < 0)
        return -1;
    sqlite3_bind_int64(del, 1, rowid);
    if (store_sqlite_step(del) < 0)
        return -1;
    size_t n = nf_record_entity_count(rec);
    sqlite3_bind_int64(add, 1, rowid);
    for (size_t i = 0; i < n; i++) {
        const struct nf_entity *e = nf_record_entity(rec, i);
        sqlite3_bind_text(add, 2, nf_entity_type_name(e->type), -1, SQLITE_STATIC);
        sqlite3_bind_text(add, 3, e->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(add, 4, e->mentions);
        if (store_sqlite_step(add) < 0)
            return -1;
    }
    return 0;
}

/* Binds and runs the upsert, the entity and story statements for one record, then the
 * corrections of earlier verdicts it carries. */
static int store_sqlite_write(struct store_sqlite *s, struct nf_ctx *ctx, struct nf_record *rec)
{
    sqlite3_stmt *up = s->st[ST_UPSERT];
    sqlite3_clear_bindings(up);
    const char *val[NFU_COL_COUNT];
    size_t len[NFU_COL_COUNT];
    nfu_article_cols(rec, s->conf->store_raw, val, len);
    for (int c = 0; c < NFU_COL_RAW; c++)
        store_sqlite_bind_str(up, c + 1, val[c], len[c]);
    if (val[NFU_COL_RAW])
        sqlite3_bind_blob64(up, NFU_COL_RAW + 1, val[NFU_COL_RAW], len[NFU_COL_RAW], SQLITE_STATIC);
    /* The record's unknown keys as a JSON object text in s->extra; NULL when there are none. */
    size_t extra_len;
    int bad = mpjson_dump_extra(rec, &s->zone, &s->extra, &s->extra_cap, 0, &extra_len);
    msgpack_zone_clear(&s->zone);
    if (bad < 0) {
        nf_ctx_error(ctx, "cannot convert the record's unknown keys to JSON");
        return -1;
    }
    if (extra_len)
        sqlite3_bind_text64(up, P_EXTRA, s->extra, extra_len, SQLITE_STATIC, SQLITE_UTF8);
    char stamp[32];
    int64_t now = nf_now_ms();
    time_t secs = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t sl = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + sl, sizeof(stamp) - sl, ".%03dZ", (int)(now % 1000));
    store_sqlite_bind_str(up, P_STORED_AT, stamp, strlen(stamp));
    /* The upsert returns the row's rowid, new or kept, by which its entities are filed. */
    int rc = sqlite3_step(up);
    int64_t rowid = rc == SQLITE_ROW ? sqlite3_column_int64(up, 0) : 0;
    if (sqlite3_reset(up) != SQLITE_OK || rc != SQLITE_ROW)
        goto sql_fail;

    if (store_sqlite_write_side(s, rec, rowid, val[NFU_COL_STORY_ID], len[NFU_COL_STORY_ID]) < 0)
        goto sql_fail;
    const char *why;
    int arc = nf_amend_each(rec, store_sqlite_amend, s, &why);
    if (arc == -2)
        goto sql_fail;
    if (arc < 0) {
        nf_ctx_error(ctx, "%s", why);
        return -1;
    }
    return 0;
sql_fail:
    store_sqlite_error(s, ctx, "cannot store the article");
    return -1;
}

static int store_sqlite_process(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    struct store_sqlite *s = state;
    size_t id_len;
    const char *id = nf_record_str(rec, NF_F_ID, &id_len);
    if (!id || !id_len) {
        nf_ctx_error(ctx, "the record has no id");
        return NF_ERR;
    }
    /* Some errors (disk full, I/O) make SQLite roll the whole transaction back: the records
     * this batch accepted before are then gone, and the next flush must fail so that the batch
     * is replayed. */
    if (s->in_txn && sqlite3_get_autocommit(s->db)) {
        s->txn_lost = true;
        s->in_txn = false;
    }
    if (!s->in_txn) {
        if (store_sqlite_run(s, ST_BEGIN) < 0) {
            store_sqlite_error(s, ctx, "cannot begin a transaction");
            return NF_ERR;
        }
        int rc = side_parts_begin(&s->side, s->db, s->conf->entity_part);
        if (rc != SQLITE_OK) {
            store_sqlite_error_rc(s, ctx,
                                  "cannot read or start the parts of the entities and stories "
                                  "(article_parts)",
                                  rc);
            store_sqlite_run(s, ST_ROLLBACK);
            return NF_ERR;
        }
        s->in_txn = true;
    }
    /* A savepoint per record: a record that fails half way leaves nothing of itself behind,
     * and the rest of the batch stays. */
    if (store_sqlite_run(s, ST_SAVEPOINT) < 0) {
        store_sqlite_error(s, ctx, "cannot begin the record's savepoint");
        return NF_ERR;
    }
    if (store_sqlite_write(s, ctx, rec) < 0) {
        if (!sqlite3_get_autocommit(s->db)) {
            store_sqlite_run(s, ST_ROLLBACK_TO);
            store_sqlite_run(s, ST_RELEASE);
        }
        return NF_ERR;
    }
    if (store_sqlite_run(s, ST_RELEASE) < 0) {
        store_sqlite_error(s, ctx, "cannot end the record's savepoint");
        return NF_ERR;
    }
    return NF_OK;
}

/* The pages the connection wrote (to the log, at the commits) and read from the file (missing
 * from its cache) since the last call, as counters: what a batch costs in I/O grows with the
 * B-trees it writes at random places, which CPU time on a busy machine shows only blurred. */
static void store_sqlite_count_pages(struct store_sqlite *s, struct nf_ctx *ctx)
{
    int cur, hi;
    if (sqlite3_db_status(s->db, SQLITE_DBSTATUS_CACHE_WRITE, &cur, &hi, 1) == SQLITE_OK)
        nf_ctx_count(ctx, "db_pages_written", cur);
    if (sqlite3_db_status(s->db, SQLITE_DBSTATUS_CACHE_MISS, &cur, &hi, 1) == SQLITE_OK)
        nf_ctx_count(ctx, "db_pages_read", cur);
}

static int store_sqlite_flush(void *state, struct nf_ctx *ctx)
{
    struct store_sqlite *s = state;
    if (!s->in_txn && !s->txn_lost) {
        /* NF_OK would say the batches still syncing are durable */
        if (s->logsync && logsync_pending(s->logsync)) {
            logsync_ask(s->logsync);
            return NF_AGAIN;
        }
        return NF_OK;
    }
    if (s->in_txn && sqlite3_get_autocommit(s->db))
        s->txn_lost = true;
    int rc = s->in_txn && !sqlite3_get_autocommit(s->db) ? store_sqlite_commit(s) : SQLITE_OK;
    if (rc != SQLITE_OK) {
        store_sqlite_error_rc(s, ctx, "cannot commit", rc);
        if (!sqlite3_get_autocommit(s->db))
            store_sqlite_run(s, ST_ROLLBACK);
        s->in_txn = s->txn_lost = false;
        return NF_ERR;
    }
    s->in_txn = false;
    if (s->logsync && !s->txn_lost) {
        /* seen by readers now; acknowledged once the thread has synced the log */
        logsync_ask(s->logsync);
        store_sqlite_count_pages(s, ctx);
        return NF_AGAIN;
    }
    rc = s->sync_log && !s->logsync ? store_sqlite_sync_log(s) : SQLITE_OK;
    if (rc != SQLITE_OK) {
        /* committed and seen by readers, not known durable: not acknowledged, so replayed
         * (each record replaces its own row) */
        store_sqlite_sync_error(s, ctx, sqlite3_errstr(rc));
        s->txn_lost = false;
        return NF_ERR;
    }
    store_sqlite_count_pages(s, ctx);
    if (s->txn_lost) {
        s->txn_lost = false;
        nf_ctx_error(ctx, "%s: the batch's transaction was rolled back by an earlier error",
                     s->conf->path);
        return NF_ERR;
    }
    return NF_OK;
}

/* The batches flush() answered NF_AGAIN that the thread has synced (plugin.h). */
static int64_t store_sqlite_durable(void *state, struct nf_ctx *ctx, bool wait)
{
    struct store_sqlite *s = state;
    if (!s->logsync)
        return 0;
    int err = 0;
    int64_t done = logsync_done(s->logsync, wait, &err);
    if (done < 0)
        store_sqlite_sync_error(s, ctx, err == ENOSPC ? "the disk is full" : strerror(err));
    return done < 0 ? NF_ERR : done;
}

NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI,
    .size = sizeof(struct nf_plugin),
    .name = "store_sqlite",
    .description = "Stores articles, entities and a full-text index in an SQLite file",
    .kind = NF_PLUGIN_SINK,
    .options = store_sqlite_options,
    .conf_size = sizeof(struct store_sqlite_conf),
    .init = store_sqlite_init,
    .process = store_sqlite_process,
    .flush = store_sqlite_flush,
    .destroy = store_sqlite_destroy,
    .durable = store_sqlite_durable,
};
