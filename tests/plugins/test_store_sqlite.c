/* store_sqlite through its descriptor: the seed articles stored and read back with sqlite3 (rows,
 * entities, full-text search, unknown keys as JSON), an upsert that changes a row and its index
 * entry, a record that fails alone without breaking its batch, and state kept across restarts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <msgpack.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mock_core.h"
#include "mock_store.h"
/* corrections as dedup and story write them (compiled in, as into the plugins) */
#include "../../plugins/dedup/amend.c"

static char db_path[512], popt[600];
static struct mock_seeds seeds;

static int load_seeds(void **state)
{
    (void)state;
    snprintf(db_path, sizeof(db_path), "%s/store.db", mock_state_dir());
    snprintf(popt, sizeof(popt), "path=%s", db_path);
    return mock_seeds_load(&seeds);
}

static int cleanup(void **state)
{
    (void)state;
    mock_seeds_free(&seeds);
    char p[600];
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", db_path, suffix[i]);
        unlink(p);
    }
    rmdir(mock_state_dir());
    return 0;
}

/* Seed i as the extract stage would hand it on; seed 0 also carries keys this build does not
 * know. */
static void seed_record(struct nf_record *rec, int i, msgpack_sbuffer *sb, const char *title)
{
    mock_seed_record(rec, &seeds, i, "2024-05-01T10:00:00Z", title, sb);
}

static sqlite3 *open_db(void)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return db;
}

static sqlite3 *open_db_at(const char *path)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return db;
}

static int64_t query_int(sqlite3 *db, const char *sql, const char *arg)
{
    sqlite3_stmt *st = mock_sqlite_row(db, sql, arg);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The one text value a query returns, copied into buf ("" for NULL). */
static const char *query_text(sqlite3 *db, const char *sql, const char *arg, char *buf,
                              size_t n)
{
    char *t = mock_sqlite_text(db, sql, arg);
    snprintf(buf, n, "%s", t);
    free(t);
    return buf;
}

static const char FTS_ID[] = "SELECT a.id FROM articles_fts JOIN articles a ON a.rowid = "
                             "articles_fts.rowid WHERE articles_fts MATCH ?1";
static const char FTS_COUNT[] = "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?1";

/* A database file of its own in the state directory, and its path=... option. */
static void own_db(const char *name, char *path, size_t n, char *opt, size_t optn)
{
    snprintf(path, n, "%s/%s", mock_state_dir(), name);
    snprintf(opt, optn, "path=%s", path);
    char p[700];
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
        unlink(p);
    }
}

static void fts_intact(sqlite3 *db)
{
    char *err = NULL;
    /* rank 1: the index against the rows of its table, not only within itself */
    int rc = sqlite3_exec(db,
                          "INSERT INTO articles_fts(articles_fts, rank) VALUES ('integrity-check', "
                          "1)",
                          NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fail_msg("the full-text index disagrees with its table: %s", err ? err : "?");
}

static void text_record(struct nf_record *rec, const char *id, const char *title,
                        const char *text)
{
    nf_record_reset(rec);
    nf_record_set_cstr(rec, NF_F_ID, id);
    nf_record_set_cstr(rec, NF_F_TITLE, title);
    nf_record_set_cstr(rec, NF_F_TEXT, text);
}

static void test_stores_the_seed_articles(void **state)
{
    (void)state;
    const char *opts[] = {popt, NULL};
    struct mock_plugin *mp = mock_plugin_new("store_sqlite", opts);
    assert_non_null(mp);
    assert_int_equal(mock_desc(mp)->kind, NF_PLUGIN_SINK);
    struct nf_record *rec = nf_record_new();
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    for (int i = 0; i < MOCK_SEEDS; i++) {
        char title[64];
        snprintf(title, sizeof(title), "Seed article %d", i);
        seed_record(rec, i, &sb, title);
        assert_int_equal(mock_process(mp, rec), NF_OK);
    }
    assert_int_equal(mock_flush(mp), NF_OK);

    /* Read by another connection while the store is still open, as a reader would. */
    sqlite3 *db = open_db();
    char buf[4096];
    assert_int_equal(query_int(db, "SELECT count(*) FROM articles", NULL), MOCK_SEEDS);
    assert_int_equal(query_int(db, "PRAGMA user_version", NULL), 4);
    assert_string_equal(query_text(db, "PRAGMA journal_mode", NULL, buf, sizeof(buf)), "wal");
    /* The index merges its segments 16 at a time (fewer rewrites of each posting). */
    assert_int_equal(query_int(db, "SELECT v FROM articles_fts_config WHERE k = 'automerge'",
                               NULL),
                     16);
    assert_int_equal(query_int(db, "SELECT count(*) FROM entities", NULL), 2 * MOCK_SEEDS + 1);
    assert_int_equal(query_int(db, "SELECT mentions FROM entities WHERE article_id = ?1 AND "
                                   "type = 'place' AND name = 'Bamako'",
                               seeds.id[seeds.bamako]),
                     2);
    assert_string_equal(query_text(db, FTS_ID, "Bamako", buf, sizeof(buf)), seeds.id[seeds.bamako]);
    assert_int_equal(query_int(db, FTS_COUNT, "Bamako"), 1);
    assert_int_equal(query_int(db, FTS_COUNT, "Sahel"), query_int(db, "SELECT count(*) FROM "
                                                                      "articles WHERE text LIKE "
                                                                      "'%Sahel%'",
                                                                  NULL));
    /* Columns as the record had them; raw only when asked for. */
    assert_string_equal(query_text(db, "SELECT source_uri FROM articles WHERE id = ?1",
                                   seeds.id[seeds.bamako], buf, sizeof(buf)),
                        seeds.uri[seeds.bamako]);
    assert_string_equal(query_text(db, "SELECT dateline_place FROM articles WHERE id = ?1",
                                   seeds.id[seeds.bamako], buf, sizeof(buf)),
                        "Bamako");
    assert_string_equal(query_text(db, "SELECT text FROM articles WHERE id = ?1", seeds.id[2], buf,
                                   sizeof(buf)),
                        seeds.text[2]);
    assert_int_equal(query_int(db, "SELECT count(*) FROM articles WHERE raw IS NOT NULL", NULL),
                     0);
    assert_int_equal(query_int(db, "SELECT count(*) FROM articles WHERE stored_at LIKE '20%Z'",
                               NULL),
                     MOCK_SEEDS);

    /* Unknown keys are kept as a JSON object; records without any have NULL. */
    query_text(db, "SELECT extra FROM articles WHERE id = ?1", seeds.id[0], buf, sizeof(buf));
    json_error_t jerr;
    json_t *extra = json_loads(buf, 0, &jerr);
    assert_non_null(extra);
    assert_true(json_real_value(json_object_get(extra, "x_sentiment")) == -0.5);
    assert_string_equal(json_string_value(json_array_get(json_object_get(extra, "x_topics"), 1)),
                        "alliance");
    json_decref(extra);
    assert_int_equal(query_int(db, "SELECT count(*) FROM articles WHERE extra IS NULL", NULL),
                     MOCK_SEEDS - 1);

    /* The same id again, changed: still five rows, the new title, the index follows. */
    seed_record(rec, seeds.bamako, &sb, "Timbuktu summit");
    nf_record_set_cstr(rec, NF_F_TEXT, "The text was rewritten and names another city.");
    nf_record_entities_clear(rec);
    nf_record_add_entity(rec, NF_ENT_PLACE, "Timbuktu", 1);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    /* A replay of an unchanged article changes nothing either. */
    seed_record(rec, 1, &sb, "Seed article 1");
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    assert_int_equal(query_int(db, "SELECT count(*) FROM articles", NULL), MOCK_SEEDS);
    assert_string_equal(query_text(db, "SELECT title FROM articles WHERE id = ?1",
                                   seeds.id[seeds.bamako], buf, sizeof(buf)),
                        "Timbuktu summit");
    assert_int_equal(query_int(db, FTS_COUNT, "Bamako"), 0);
    assert_string_equal(query_text(db, FTS_ID, "Timbuktu", buf, sizeof(buf)),
                        seeds.id[seeds.bamako]);
    assert_int_equal(query_int(db, FTS_COUNT, "rewritten"), 1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM entities WHERE article_id = ?1",
                               seeds.id[seeds.bamako]),
                     1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM entities", NULL), 2 * MOCK_SEEDS - 1);
    /* The index agrees with the table it indexes. */
    assert_int_equal(sqlite3_exec(db, "INSERT INTO articles_fts(articles_fts) VALUES "
                                      "('integrity-check')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

    msgpack_sbuffer_destroy(&sb);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_failing_record_leaves_batch_intact(void **state)
{
    (void)state;
    /* A trigger stands in for any per-record SQLite error (a constraint, a bad value). */
    sqlite3 *db = open_db();
    assert_int_equal(sqlite3_exec(db, "CREATE TRIGGER refuse BEFORE INSERT ON article_entities "
                                      "WHEN new.name = 'Poison' BEGIN SELECT RAISE(ABORT, "
                                      "'poisoned entity'); END",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

    const char *opts[] = {popt, "store_raw=true", NULL};
    struct mock_plugin *mp = mock_plugin_new("store_sqlite", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    nf_record_set_cstr(rec, NF_F_ID, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    nf_record_set_cstr(rec, NF_F_TEXT, "First of the batch.");
    nf_record_set_bytes(rec, NF_F_RAW, "raw\0bytes", 9);
    assert_int_equal(mock_process(mp, rec), NF_OK);

    nf_record_reset(rec);
    nf_record_set_cstr(rec, NF_F_ID, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    nf_record_set_cstr(rec, NF_F_TITLE, "Poisoned");
    nf_record_add_entity(rec, NF_ENT_PERSON, "Harmless", 1);
    nf_record_add_entity(rec, NF_ENT_PERSON, "Poison", 1);
    assert_int_equal(mock_process(mp, rec), NF_ERR);
    assert_non_null(strstr(mock_last_error(), "poisoned entity"));

    nf_record_reset(rec);
    assert_int_equal(mock_process(mp, rec), NF_ERR); /* no id */
    assert_non_null(strstr(mock_last_error(), "no id"));

    nf_record_reset(rec);
    nf_record_set_cstr(rec, NF_F_ID, "cccccccccccccccccccccccccccccccc");
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);

    db = open_db();
    assert_int_equal(query_int(db, "SELECT count(*) FROM articles", NULL), MOCK_SEEDS + 2);
    /* Nothing of the failed record is left: neither its row nor its first entity. */
    assert_int_equal(query_int(db, "SELECT count(*) FROM articles WHERE id = ?1",
                               "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"),
                     0);
    assert_int_equal(query_int(db, "SELECT count(*) FROM entities WHERE name = 'Harmless'", NULL),
                     0);
    assert_int_equal(query_int(db, "SELECT length(raw) FROM articles WHERE id = ?1",
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
                     9);
    assert_int_equal(sqlite3_exec(db, "DROP TRIGGER refuse", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);

    /* A restart finds the same database and goes on with it. */
    const char *again[] = {popt, NULL};
    mp = mock_plugin_new("store_sqlite", again);
    assert_non_null(mp);
    mock_plugin_destroy(&mp);
    db = open_db();
    assert_int_equal(query_int(db, "SELECT count(*) FROM articles", NULL), MOCK_SEEDS + 2);
    sqlite3_close(db);
}

static void test_newer_schema_is_refused(void **state)
{
    (void)state;
    char p[600], o[620];
    snprintf(p, sizeof(p), "%s/future.db", mock_state_dir());
    sqlite3 *db;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    snprintf(o, sizeof(o), "path=%s", p);
    const char *opts[] = {o, NULL};
    assert_null(mock_plugin_new("store_sqlite", opts));
    assert_non_null(strstr(mock_last_error(), "schema version 99"));
    unlink(p);
}

/* A full disk, made by a VFS in front of the default one whose writes fail with SQLITE_FULL
 * while `vfs_full` is set (the plugin shares this process's SQLite library). */
static sqlite3_vfs *vfs_real;
static sqlite3_vfs vfs_shim;
static bool vfs_full;
/* Each method set the real VFS hands out, copied with xWrite replaced. */
static struct {
    const sqlite3_io_methods *real;
    sqlite3_io_methods shim;
} vfs_methods[8];

static const sqlite3_io_methods *vfs_real_methods(sqlite3_file *f)
{
    const sqlite3_io_methods *real;
    memcpy(&real, (char *)f + vfs_real->szOsFile, sizeof(real));
    return real;
}

static int vfs_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
    if (vfs_full)
        return SQLITE_FULL;
    return vfs_real_methods(f)->xWrite(f, buf, n, off);
}

static int vfs_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags,
                    int *out_flags)
{
    (void)vfs;
    int rc = vfs_real->xOpen(vfs_real, name, f, flags, out_flags);
    if (rc != SQLITE_OK || !f->pMethods)
        return rc;
    memcpy((char *)f + vfs_real->szOsFile, &f->pMethods, sizeof(f->pMethods));
    for (size_t i = 0; i < sizeof(vfs_methods) / sizeof(vfs_methods[0]); i++) {
        if (!vfs_methods[i].real) {
            vfs_methods[i].real = f->pMethods;
            vfs_methods[i].shim = *f->pMethods;
            vfs_methods[i].shim.xWrite = vfs_write;
        }
        if (vfs_methods[i].real == f->pMethods) {
            f->pMethods = &vfs_methods[i].shim;
            return SQLITE_OK;
        }
    }
    return rc; /* more method sets than foreseen: this file is left as it is */
}

static void test_full_disk_is_said(void **state)
{
    (void)state;
    vfs_real = sqlite3_vfs_find(NULL);
    assert_non_null(vfs_real);
    vfs_shim = *vfs_real;
    vfs_shim.zName = "nf-test-full";
    vfs_shim.szOsFile = vfs_real->szOsFile + (int)sizeof(void *);
    vfs_shim.xOpen = vfs_open;
    vfs_shim.pNext = NULL;
    assert_int_equal(sqlite3_vfs_register(&vfs_shim, 1), SQLITE_OK);
    char p[600], o[620];
    snprintf(p, sizeof(p), "%s/full.db", mock_state_dir());
    snprintf(o, sizeof(o), "path=%s", p);
    const char *opts[] = {o, "checkpoint=0", NULL};
    struct mock_plugin *mp = mock_plugin_new("store_sqlite", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    seed_record(rec, 1, &sb, "A full disk");
    vfs_full = true;
    int rc = mock_process(mp, rec);
    if (rc == NF_OK)
        rc = mock_flush(mp);
    assert_int_equal(rc, NF_ERR);
    print_message("%s\n", mock_last_error());
    assert_non_null(strstr(mock_last_error(), p));
    assert_non_null(strstr(mock_last_error(), "the disk is full"));
    assert_non_null(strstr(mock_last_error(), "option path"));
    vfs_full = false;
    mock_plugin_destroy(&mp);
    nf_record_destroy(&rec);
    msgpack_sbuffer_destroy(&sb);
    sqlite3_vfs_unregister(&vfs_shim);
    sqlite3_vfs_register(vfs_real, 1);
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(o, sizeof(o), "%s%s", p, suffix[i]);
        unlink(o);
    }
}

/* A batch is seen by readers as soon as it is committed, and made durable beside the writer: a
 * thread syncs the write-ahead log (fdatasync) while the next batch is taken and committed,
 * and the host acknowledges a batch once durable() counts it. With fsync=false nothing is
 * synced and flush answers NF_OK. */
static void test_commit_seen_before_its_sync(void **state)
{
    (void)state;
    char p[600], o[620];
    own_db("sync.db", p, sizeof(p), o, sizeof(o));
    const char *opts[] = {o, "checkpoint=0", NULL};
    struct mock_plugin *mp = mock_plugin_new("store_sqlite", opts);
    assert_non_null(mp);
    assert_non_null(mock_desc(mp)->durable);
    struct nf_record *rec = nf_record_new();
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    sqlite3 *db = open_db_at(p);

    mock_fdatasync_hold();
    for (int i = 0; i < 2; i++) {
        seed_record(rec, i, &sb, "First batch");
        assert_int_equal(mock_process(mp, rec), NF_OK);
    }
    assert_int_equal(mock_flush_async(mp), NF_AGAIN);
    assert_true(mock_fdatasync_held()); /* the thread is in the log's sync */
    assert_int_equal(query_int(db, "SELECT count(*) FROM articles", NULL), 2);
    assert_int_equal(mock_durable(mp, false), 0);
    /* the writer is not held by the sync: the next batch commits meanwhile */
    for (int i = 2; i < MOCK_SEEDS; i++) {
        seed_record(rec, i, &sb, "Second batch");
        assert_int_equal(mock_process(mp, rec), NF_OK);
    }
    assert_int_equal(mock_flush_async(mp), NF_AGAIN);
    assert_int_equal(query_int(db, "SELECT count(*) FROM articles", NULL), MOCK_SEEDS);
    assert_int_equal(mock_durable(mp, false), 0);
    mock_fdatasync_release();
    assert_int_equal(mock_durable(mp, true), 2); /* both, in order */
    /* nothing new and nothing syncing: everything is durable */
    assert_int_equal(mock_flush_async(mp), NF_OK);
    mock_plugin_destroy(&mp);

    const char *nosync[] = {o, "checkpoint=0", "fsync=false", NULL};
    mp = mock_plugin_new("store_sqlite", nosync);
    assert_non_null(mp);
    seed_record(rec, 0, &sb, "Not synced");
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush_async(mp), NF_OK);
    assert_int_equal(mock_durable(mp, false), 0);
    mock_plugin_destroy(&mp);
    sqlite3_close(db);
    nf_record_destroy(&rec);
    msgpack_sbuffer_destroy(&sb);
}

/* A database in directories that are not there yet: they are made. */
static void test_missing_directory_is_made(void **state)
{
    (void)state;
    char dir[600], file[700], opt[720];
    snprintf(dir, sizeof(dir), "%s/made", mock_state_dir());
    snprintf(file, sizeof(file), "%s/new.db", dir);
    snprintf(opt, sizeof(opt), "path=%s", file);
    const char *opts[] = {opt, NULL};
    struct mock_plugin *mp = mock_plugin_new("store_sqlite", opts);
    assert_non_null(mp);
    mock_plugin_destroy(&mp);
    assert_int_equal(access(file, F_OK), 0);
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(opt, sizeof(opt), "%s%s", file, suffix[i]);
        unlink(opt);
    }
    rmdir(dir);
}

/* The table's bounds, before init: an empty path. */
static void test_empty_path_is_refused(void **state)
{
    (void)state;
    const char *opts[] = {"path=", NULL};
    assert_null(mock_plugin_new("store_sqlite", opts));
    assert_string_equal(mock_last_error(), "option 'path' must not be empty");
}

static void test_index_added_later_covers_old_rows(void **state)
{
    (void)state;
    char p[600], o[620];
    snprintf(p, sizeof(p), "%s/late-fts.db", mock_state_dir());
    snprintf(o, sizeof(o), "path=%s", p);
    const char *no_fts[] = {o, "fts=false", NULL};
    struct mock_plugin *mp = mock_plugin_new("store_sqlite", no_fts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    nf_record_set_cstr(rec, NF_F_ID, "dddddddddddddddddddddddddddddddd");
    nf_record_set_cstr(rec, NF_F_TEXT, "Stored before the index existed, in Gao.");
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    mock_plugin_destroy(&mp);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_master WHERE name = "
                                   "'articles_fts'", NULL),
                     0);
    sqlite3_close(db);

    const char *with_fts[] = {o, NULL};
    mp = mock_plugin_new("store_sqlite", with_fts);
    assert_non_null(mp);
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    assert_int_equal(query_int(db, FTS_COUNT, "Gao"), 1);
    mock_plugin_destroy(&mp);

    /* Once it exists, the index is kept up to date even with fts=false. */
    mp = mock_plugin_new("store_sqlite", no_fts);
    assert_non_null(mp);
    nf_record_set_cstr(rec, NF_F_ID, "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0");
    nf_record_set_cstr(rec, NF_F_TEXT, "Stored with fts=false, in Menaka.");
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    assert_int_equal(query_int(db, FTS_COUNT, "Menaka"), 1);
    fts_intact(db);
    sqlite3_close(db);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
    unlink(p);
}

/* The index is written once per batch: an article changed twice inside one batch, and one
 * changed in the next, are found by their last words only. */
static void test_index_follows_changes_within_a_batch(void **state)
{
    (void)state;
    char p[600], o[620];
    own_db("batch.db", p, sizeof(p), o, sizeof(o));
    const char *opts[] = {o, NULL};
    struct mock_plugin *mp = mock_plugin_new("store_sqlite", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    text_record(rec, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "Floods", "Rain fell on Mopti.");
    assert_int_equal(mock_process(mp, rec), NF_OK);
    text_record(rec, "ffffffffffffffffffffffffffffffff", "Market", "Cotton prices in Sikasso.");
    assert_int_equal(mock_process(mp, rec), NF_OK);
    text_record(rec, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "Floods", "Rain fell on Djenne.");
    assert_int_equal(mock_process(mp, rec), NF_OK);
    text_record(rec, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "Floods", "Rain fell on Segou.");
    assert_int_equal(mock_process(mp, rec), NF_OK);
    /* Not searchable before its commit, searchable after. */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    assert_int_equal(query_int(db, FTS_COUNT, "Rain"), 0);
    assert_int_equal(mock_flush(mp), NF_OK);
    assert_int_equal(query_int(db, FTS_COUNT, "Rain"), 1);
    assert_int_equal(query_int(db, FTS_COUNT, "Mopti OR Djenne"), 0);
    assert_int_equal(query_int(db, FTS_COUNT, "Segou"), 1);
    assert_int_equal(query_int(db, FTS_COUNT, "Sikasso"), 1);
    fts_intact(db);

    /* Indexed rows changed in a later batch, one of them twice, and one delivered unchanged. */
    text_record(rec, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "Floods", "Rain fell on Kayes.");
    assert_int_equal(mock_process(mp, rec), NF_OK);
    text_record(rec, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "Floods", "Rain fell on Gao.");
    nf_record_add_entity(rec, NF_ENT_PLACE, "Gao", 1);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    text_record(rec, "ffffffffffffffffffffffffffffffff", "Market", "Cotton prices in Sikasso.");
    nf_record_add_entity(rec, NF_ENT_PLACE, "Sikasso", 1);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    text_record(rec, "abababababababababababababababab", "New", "Rain in Tombouctou.");
    nf_record_add_entity(rec, NF_ENT_PLACE, "Tombouctou", 1);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    assert_int_equal(query_int(db, FTS_COUNT, "Segou OR Kayes"), 0);
    assert_int_equal(query_int(db, FTS_COUNT, "Gao"), 1);
    assert_int_equal(query_int(db, FTS_COUNT, "Sikasso"), 1);
    assert_int_equal(query_int(db, FTS_COUNT, "Rain"), 2);
    fts_intact(db);

    /* Articles delivered again unchanged are not indexed again: the index stays as it was. */
    char before[64], after[64];
    static const char FTS_DATA[] = "SELECT count(*) || ' ' || sum(length(block)) FROM "
                                   "articles_fts_data";
    query_text(db, FTS_DATA, NULL, before, sizeof(before));
    text_record(rec, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "Floods", "Rain fell on Gao.");
    nf_record_add_entity(rec, NF_ENT_PLACE, "Gao", 1);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    text_record(rec, "abababababababababababababababab", "New", "Rain in Tombouctou.");
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    assert_string_equal(query_text(db, FTS_DATA, NULL, after, sizeof(after)), before);

    /* Rows deleted by hand leave the index, and the rowids handed out again after the last
     * rows were deleted are indexed. */
    assert_int_equal(sqlite3_exec(db, "DELETE FROM articles WHERE title IN ('Market', 'New')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(query_int(db, FTS_COUNT, "Sikasso OR Tombouctou"), 0);
    assert_int_equal(query_int(db, "SELECT count(*) FROM article_entities", NULL), 1);
    text_record(rec, "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd", "Later", "Harmattan over Bandiagara.");
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    assert_int_equal(query_int(db, FTS_COUNT, "Bandiagara"), 1);
    /* Its rowid was Sikasso's: no entity of that article comes back with it. */
    assert_int_equal(query_int(db, "SELECT count(*) FROM entities", NULL), 1);
    fts_intact(db);
    sqlite3_close(db);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* The articles table as schemas 1 and 2 made it, for the stores of those schemas below. */
#define OLD_ARTICLES                                                                           \
    "CREATE TABLE articles(id TEXT PRIMARY KEY NOT NULL, source_uri TEXT, source_kind TEXT, "  \
    "fetched_at TEXT, content_type TEXT, title TEXT, byline TEXT, outlet TEXT, published_at "  \
    "TEXT, dateline_place TEXT, lang TEXT, url TEXT, text TEXT, dup_of TEXT, story_id TEXT, "  \
    "raw BLOB, extra TEXT, stored_at TEXT NOT NULL);"

/* A database of schema 1 (the index kept by triggers on every row) is taken over as it is: its
 * rows stay searchable, the insert trigger goes, and new rows are indexed by the store. */
static void test_schema_1_is_upgraded(void **state)
{
    (void)state;
    char p[600], o[620];
    own_db("v1.db", p, sizeof(p), o, sizeof(o));
    sqlite3 *db;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(
            db,
            OLD_ARTICLES
            "CREATE TABLE entities(article_id TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT "
            "NULL, mentions INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(article_id, type, name)) "
            "WITHOUT ROWID;"
            "CREATE VIRTUAL TABLE articles_fts USING fts5(title, text, content='articles', "
            "content_rowid='rowid');"
            "CREATE TRIGGER articles_fts_ai AFTER INSERT ON articles BEGIN INSERT INTO "
            "articles_fts(rowid, title, text) VALUES (new.rowid, new.title, new.text); END;"
            "CREATE TRIGGER articles_fts_ad AFTER DELETE ON articles BEGIN INSERT INTO "
            "articles_fts(articles_fts, rowid, title, text) VALUES ('delete', old.rowid, "
            "old.title, old.text); END;"
            "CREATE TRIGGER articles_fts_au AFTER UPDATE OF title, text ON articles WHEN "
            "old.title IS NOT new.title OR old.text IS NOT new.text BEGIN INSERT INTO "
            "articles_fts(articles_fts, rowid, title, text) VALUES ('delete', old.rowid, "
            "old.title, old.text); INSERT INTO articles_fts(rowid, title, text) VALUES "
            "(new.rowid, new.title, new.text); END;"
            "CREATE INDEX entities_name ON entities(name, type);"
            "INSERT INTO articles(id, title, text, stored_at) VALUES "
            "('01010101010101010101010101010101', 'Old', 'Stored by schema 1 in Koulikoro.', "
            "'2024-01-01T00:00:00.000Z'), ('03030303030303030303030303030303', 'Kept', "
            "'Not delivered again, in Bougouni.', '2024-01-01T00:00:00.000Z');"
            "INSERT INTO entities VALUES ('01010101010101010101010101010101', 'place', "
            "'Koulikoro', 1), ('03030303030303030303030303030303', 'place', 'Bougouni', 2), "
            "('03030303030303030303030303030303', 'person', 'Amadou', 1);"
            "PRAGMA user_version=1;",
            NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);

    const char *opts[] = {o, NULL};
    struct mock_plugin *mp = mock_plugin_new("store_sqlite", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    text_record(rec, "02020202020202020202020202020202", "New", "Stored by schema 2 in Kati.");
    assert_int_equal(mock_process(mp, rec), NF_OK);
    text_record(rec, "01010101010101010101010101010101", "Old", "Moved to Kita.");
    nf_record_add_entity(rec, NF_ENT_PLACE, "Kita", 1);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    assert_int_equal(query_int(db, "PRAGMA user_version", NULL), 4);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_master WHERE name = "
                                   "'articles_fts_ai'", NULL),
                     0);
    assert_int_equal(query_int(db, FTS_COUNT, "Kati"), 1);
    assert_int_equal(query_int(db, FTS_COUNT, "Kita"), 1);
    assert_int_equal(query_int(db, FTS_COUNT, "Koulikoro"), 0);
    assert_int_equal(query_int(db, FTS_COUNT, "Bougouni"), 1);
    fts_intact(db);
    /* The entities moved with their articles; the record delivered again replaced its own. */
    assert_int_equal(query_int(db, "SELECT count(*) FROM entities", NULL), 3);
    assert_int_equal(query_int(db, "SELECT mentions FROM entities WHERE article_id = ?1 AND "
                                   "name = 'Bougouni'",
                               "03030303030303030303030303030303"),
                     2);
    assert_int_equal(query_int(db, "SELECT count(*) FROM entities WHERE article_id = ?1 AND "
                                   "name = 'Kita'",
                               "01010101010101010101010101010101"),
                     1);
    sqlite3_close(db);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* Checkpoints keep the write-ahead log near its size while batches keep coming (here 40
 * batches of about 100 KB against a checkpoint size of 64 KB): the database file holds most of
 * what was written, the log a few batches at most. */
static void test_log_is_checkpointed(void **state)
{
    (void)state;
    char p[600], o[620], wal[620];
    own_db("ckpt.db", p, sizeof(p), o, sizeof(o));
    snprintf(wal, sizeof(wal), "%s-wal", p);
    const char *opts[] = {o, "checkpoint=64K", NULL};
    struct mock_plugin *mp = mock_plugin_new("store_sqlite", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    static char text[2000];
    for (int batch = 0; batch < 40; batch++) {
        for (int i = 0; i < 50; i++) {
            char id[33], *t = text;
            snprintf(id, sizeof(id), "%08d%024d", batch, i);
            for (int w = 0; t < text + sizeof(text) - 16; w++)
                t += sprintf(t, "w%d ", (batch * 50 + i + w * 7) % 400);
            text_record(rec, id, "Log", text);
            assert_int_equal(mock_process(mp, rec), NF_OK);
        }
        assert_int_equal(mock_flush(mp), NF_OK);
    }
    struct stat wst, dst;
    assert_int_equal(stat(wal, &wst), 0);
    assert_int_equal(stat(p, &dst), 0);
    if (dst.st_size < 3 * 1024 * 1024 || wst.st_size > dst.st_size / 2)
        fail_msg("the database has %lld bytes and its log %lld", (long long)dst.st_size,
                 (long long)wst.st_size);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    assert_int_equal(query_int(db, "SELECT count(*) FROM articles", NULL), 2000);
    assert_int_equal(query_int(db, FTS_COUNT, "w7"), 2000);
    fts_intact(db);
    sqlite3_close(db);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* ---- the index in parts ------------------------------------------------------------------- */

/* The parts of the index, from its list. */
static int parts_of(sqlite3 *db)
{
    return (int)query_int(db, "SELECT count(*) FROM articles_fts_parts", NULL);
}

/* The rows of part `part` (-1: of every part) that match `match`. */
static int64_t parts_count(sqlite3 *db, int part, const char *match)
{
    int64_t n = 0;
    for (int k = 0; k < parts_of(db); k++) {
        if (part >= 0 && k != part)
            continue;
        char name[32], sql[160];
        snprintf(name, sizeof(name), k ? "articles_fts_%d" : "articles_fts", k);
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE %s MATCH ?1", name, name);
        n += query_int(db, sql, match);
    }
    return n;
}

/* Every part agrees with the rows of its range, by FTS5's check and by SQLite's. */
static void parts_intact(sqlite3 *db)
{
    for (int k = 0; k < parts_of(db); k++) {
        char name[32], sql[160], *err = NULL;
        snprintf(name, sizeof(name), k ? "articles_fts_%d" : "articles_fts", k);
        /* rank 1: against the rows of its view too, not only within the index */
        snprintf(sql, sizeof(sql), "INSERT INTO %s(%s, rank) VALUES ('integrity-check', 1)",
                 name, name);
        if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
            fail_msg("part %s disagrees with its rows: %s", name, err ? err : "?");
    }
    char ok[64];
    assert_string_equal(query_text(db, "PRAGMA integrity_check", NULL, ok, sizeof(ok)), "ok");
}

/* Stores `n` articles "ID TITLE TEXT" given as id, title, text, ..., then commits. */
static void store_batch(struct mock_plugin *mp, struct nf_record *rec, int n,
                        const char *const *cols)
{
    for (int i = 0; i < n; i++) {
        text_record(rec, cols[3 * i], cols[3 * i + 1], cols[3 * i + 2]);
        assert_int_equal(mock_process(mp, rec), NF_OK);
    }
    assert_int_equal(mock_flush(mp), NF_OK);
}

#define PT_A "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define PT_B "b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1"
#define PT_C "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"
#define PT_D "d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1"
#define PT_E "e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1"
#define PT_F "f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1"
#define PT_G "a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2"
#define PT_H "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"

/* With fts_part = 2, a commit that finds the newest part holding 2 rows starts the next one:
 * batches of 2, 2 and 1 rows make parts of rows 1-2, 3-4 and 5, each searchable and each
 * agreeing with the rows of its range only. */
static void test_index_rolls_over_into_parts(void **state)
{
    (void)state;
    char p[600], o[620];
    own_db("parts.db", p, sizeof(p), o, sizeof(o));
    const char *opts[] = {o, "fts_part=2", NULL};
    struct mock_plugin *mp = mock_plugin_new("store_sqlite", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    static const char *const b1[] = {PT_A, "Rains", "Rain fell on Mopti.",
                                     PT_B, "Market", "Cotton prices in Sikasso."};
    static const char *const b2[] = {PT_C, "Rains", "Rain fell on Kidal.",
                                     PT_D, "Road", "The road to Gao reopened."};
    static const char *const b3[] = {PT_E, "Rains", "Rain fell on Kayes."};
    store_batch(mp, rec, 2, b1);
    store_batch(mp, rec, 2, b2);
    store_batch(mp, rec, 1, b3);
    sqlite3 *db = open_db_at(p);
    assert_int_equal(parts_of(db), 3);
    char los[64];
    assert_string_equal(query_text(db, "SELECT group_concat(name || ':' || lo, ' ') FROM (SELECT "
                                       "name, lo FROM articles_fts_parts ORDER BY part)",
                                   NULL, los, sizeof(los)),
                        "articles_fts:0 articles_fts_1:2 articles_fts_2:4");
    assert_int_equal(parts_count(db, -1, "Rain"), 3);
    assert_int_equal(parts_count(db, 0, "Rain OR Sikasso"), 2);
    assert_int_equal(parts_count(db, 1, "Kidal OR Gao"), 2);
    assert_int_equal(parts_count(db, 1, "Mopti OR Kayes"), 0);
    assert_int_equal(parts_count(db, 2, "Kayes"), 1);
    parts_intact(db);
    sqlite3_close(db);
    mock_plugin_destroy(&mp);

    /* Reopened, the store goes on filling the newest part. */
    mp = mock_plugin_new("store_sqlite", opts);
    assert_non_null(mp);
    static const char *const b4[] = {PT_F, "Rains", "Rain fell on Segou."};
    store_batch(mp, rec, 1, b4);
    db = open_db_at(p);
    assert_int_equal(parts_of(db), 3);
    assert_int_equal(parts_count(db, 2, "Rain"), 2);
    parts_intact(db);
    sqlite3_close(db);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* An article delivered again with a new text, or deleted by hand, changes the part its row is
 * in, whichever part is the newest: it is found once, by its new words only. */
static void test_upsert_and_delete_across_parts(void **state)
{
    (void)state;
    char p[600], o[620];
    own_db("parts-upsert.db", p, sizeof(p), o, sizeof(o));
    const char *opts[] = {o, "fts_part=2", NULL};
    struct mock_plugin *mp = mock_plugin_new("store_sqlite", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    static const char *const b1[] = {PT_A, "Rains", "Rain fell on Mopti.",
                                     PT_B, "Market", "Cotton prices in Sikasso."};
    static const char *const b2[] = {PT_C, "Rains", "Rain fell on Kidal.",
                                     PT_D, "Road", "The road to Gao reopened."};
    /* A (part 0) and C (part 1) change while part 2 is the newest; B comes again unchanged. */
    static const char *const b3[] = {PT_E, "Rains",  "Rain fell on Kayes.",
                                     PT_A, "Rains",  "Rain fell on Tessalit.",
                                     PT_B, "Market", "Cotton prices in Sikasso.",
                                     PT_C, "Drought", "Wells ran dry in Kidal."};
    store_batch(mp, rec, 2, b1);
    store_batch(mp, rec, 2, b2);
    store_batch(mp, rec, 4, b3);
    sqlite3 *db = open_db_at(p);
    assert_int_equal(parts_of(db), 3);
    assert_int_equal(parts_count(db, -1, "Tessalit"), 1);
    assert_int_equal(parts_count(db, 0, "Tessalit"), 1);
    assert_int_equal(parts_count(db, -1, "Mopti"), 0);
    assert_int_equal(parts_count(db, -1, "Kidal"), 1);
    assert_int_equal(parts_count(db, 1, "Wells"), 1);
    assert_int_equal(parts_count(db, -1, "Rain"), 2);
    assert_int_equal(parts_count(db, -1, "Sikasso"), 1);
    parts_intact(db);

    /* Deleted by hand: a row of an old part leaves it; the newest rows go, and the rowids
     * handed out again are indexed in the newest part. */
    assert_int_equal(sqlite3_exec(db, "DELETE FROM articles WHERE id = '" PT_B "'", NULL, NULL,
                                  NULL),
                     SQLITE_OK);
    assert_int_equal(parts_count(db, -1, "Sikasso"), 0);
    assert_int_equal(sqlite3_exec(db, "DELETE FROM articles WHERE rowid >= 4", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(parts_count(db, -1, "Gao OR Kayes"), 0);
    parts_intact(db);
    static const char *const b4[] = {PT_G, "Flood", "The Niger rose at Bamako.",
                                     PT_H, "Flood", "The Niger rose at Koulikoro."};
    store_batch(mp, rec, 2, b4);
    assert_int_equal(parts_count(db, -1, "Niger"), 2);
    assert_int_equal(parts_count(db, 2, "Niger"), 2);
    parts_intact(db);
    sqlite3_close(db);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* A store of schema 2 keeps its one index (made as content='articles', it cannot be split):
 * it opens, becomes schema 4, and its new and changed rows are indexed in articles_fts. */
static void test_schema_2_keeps_its_one_index(void **state)
{
    (void)state;
    char p[600], o[620];
    own_db("v2.db", p, sizeof(p), o, sizeof(o));
    sqlite3 *db;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(
            db,
            OLD_ARTICLES
            "CREATE INDEX articles_story ON articles(story_id) WHERE story_id IS NOT NULL;"
            "CREATE TABLE article_entities(article_rowid INTEGER NOT NULL, type TEXT NOT NULL, "
            "name TEXT NOT NULL, mentions INTEGER NOT NULL DEFAULT 0, PRIMARY "
            "KEY(article_rowid, type, name)) WITHOUT ROWID;"
            "CREATE VIRTUAL TABLE articles_fts USING fts5(title, text, content='articles', "
            "content_rowid='rowid');"
            "CREATE TABLE articles_fts_state(indexed_upto INTEGER NOT NULL);"
            "CREATE TRIGGER articles_fts_au AFTER UPDATE OF title, text ON articles WHEN "
            "(old.title IS NOT new.title OR old.text IS NOT new.text) AND old.rowid <= (SELECT "
            "indexed_upto FROM articles_fts_state) BEGIN INSERT INTO articles_fts(articles_fts, "
            "rowid, title, text) VALUES ('delete', old.rowid, old.title, old.text); INSERT INTO "
            "articles_fts(rowid, title, text) VALUES (new.rowid, new.title, new.text); END;"
            "INSERT INTO articles(id, title, text, stored_at) VALUES ('" PT_A "', 'Old', "
            "'Stored by schema 2 in Koulikoro.', '2024-01-01T00:00:00.000Z'), ('" PT_B "', "
            "'Kept', 'Not delivered again, in Bougouni.', '2024-01-01T00:00:00.000Z');"
            "INSERT INTO articles_fts(articles_fts) VALUES ('rebuild');"
            "INSERT INTO articles_fts_state VALUES (2);"
            "PRAGMA user_version=2;",
            NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);

    const char *opts[] = {o, "fts_part=1", NULL};
    struct mock_plugin *mp = mock_plugin_new("store_sqlite", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    static const char *const b1[] = {PT_C, "New", "Stored by schema 3 in Kati.",
                                     PT_A, "Old", "Moved to Kita."};
    static const char *const b2[] = {PT_D, "Newer", "Stored later in Nioro."};
    store_batch(mp, rec, 2, b1);
    store_batch(mp, rec, 1, b2);
    db = open_db_at(p);
    assert_int_equal(query_int(db, "PRAGMA user_version", NULL), 4);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_master WHERE name = "
                                   "'articles_fts_parts'", NULL),
                     0);
    assert_int_equal(query_int(db, FTS_COUNT, "Kati OR Kita OR Bougouni OR Nioro"), 4);
    assert_int_equal(query_int(db, FTS_COUNT, "Koulikoro"), 0);
    fts_intact(db);
    sqlite3_close(db);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* ---- the entities and stories in parts ---------------------------------------------------- */

#define ST1 "51515151515151515151515151515151"
#define ST2 "52525252525252525252525252525252"
#define ST3 "53535353535353535353535353535353"
#define ST4 "54545454545454545454545454545454"
#define ST5 "55555555555555555555555555555555"

/* An article with its story and entities "type:name:mentions". */
static void side_record(struct nf_record *rec, const char *id, const char *story,
                        const char *const *ents)
{
    text_record(rec, id, "Rains", "Rain fell on the Sahel.");
    if (story)
        nf_record_set_cstr(rec, NF_F_STORY_ID, story);
    for (; ents && *ents; ents++) {
        char type[16], name[64];
        int mentions;
        assert_int_equal(sscanf(*ents, "%15[^:]:%63[^:]:%d", type, name, &mentions), 3);
        enum nf_entity_type t = !strcmp(type, "place")  ? NF_ENT_PLACE
                                : !strcmp(type, "org") ? NF_ENT_ORG
                                                       : NF_ENT_PERSON;
        assert_int_equal(nf_record_add_entity(rec, t, name, mentions), 0);
    }
}

/* One value of each row a query returns, joined with ' ' ("" for none). */
static const char *query_list(sqlite3 *db, const char *sql, const char *arg, char *buf, size_t n)
{
    char q[600];
    snprintf(q, sizeof(q), "SELECT coalesce(group_concat(v, ' '), '') FROM (%s)", sql);
    return query_text(db, q, arg, buf, n);
}

/* Every article's entities and story are in the part of its rowid, and nowhere else; the story
 * rows agree with the articles'. */
static void side_intact(sqlite3 *db)
{
    int parts = (int)query_int(db, "SELECT count(*) FROM article_parts", NULL);
    for (int k = 0; k < parts; k++) {
        char sql[1024], e[40], st[40];
        snprintf(e, sizeof(e), k ? "article_entities_%d" : "article_entities", k);
        snprintf(st, sizeof(st), k ? "article_stories_%d" : "article_stories", k);
        static const char range[] =
            "article_rowid > (SELECT lo FROM article_parts WHERE part = %d) AND article_rowid <= "
            "coalesce((SELECT lo FROM article_parts WHERE part = %d), 1e18)";
        char in[300];
        snprintf(in, sizeof(in), range, k, k + 1);
        snprintf(sql, sizeof(sql),
                 "SELECT (SELECT count(*) FROM %s WHERE NOT (%s)) + (SELECT count(*) FROM %s "
                 "WHERE NOT (%s))",
                 e, in, st, in);
        if (query_int(db, sql, NULL) != 0)
            fail_msg("part %d holds rows of another part's range", k);
    }
    assert_int_equal(query_int(db, "SELECT count(*) FROM articles a WHERE story_id IS NOT "
                                   "(SELECT story_id FROM story_members m WHERE m.article_rowid "
                                   "= a.rowid)",
                               NULL),
                     0);
    char ok[64];
    assert_string_equal(query_text(db, "PRAGMA integrity_check", NULL, ok, sizeof(ok)), "ok");
}

#define ENTS_BY_NAME                                                                           \
    "SELECT substr(article_id, 1, 2) AS v FROM entities WHERE name = ?1 ORDER BY article_id"
#define STORY_MEMBERS                                                                          \
    "SELECT substr(a.id, 1, 2) AS v FROM articles a WHERE a.rowid IN (SELECT article_rowid "     \
    "FROM story_members WHERE story_id = ?1) ORDER BY a.id"

/* With entity_part = 2, the transaction that finds the newest part holding 2 articles starts
 * the next: batches of 2, 2 and 2 make parts of rows 1-2, 3-4 and 5-. A search by name or by
 * story finds the rows of every part; an article delivered again, given another story, or
 * deleted by hand changes the part of its rowid. */
static void test_entities_and_stories_in_parts(void **state)
{
    (void)state;
    char p[600], o[620], buf[256];
    own_db("side.db", p, sizeof(p), o, sizeof(o));
    const char *opts[] = {o, "entity_part=2", NULL};
    struct mock_plugin *mp = mock_plugin_new("store_sqlite", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    static const char *const mali[] = {"place:Mali:2", "person:Assimi Goita:1", NULL};
    static const char *const niger[] = {"place:Niger:1", "place:Mali:1", NULL};
    static const char *const ecowas[] = {"org:ECOWAS:3", NULL};
    static const struct {
        const char *id, *story;
        const char *const *ents;
    } batches[3][2] = {
        {{PT_A, ST1, mali}, {PT_B, ST2, niger}},
        {{PT_C, ST1, niger}, {PT_D, NULL, ecowas}},
        {{PT_E, ST1, mali}, {PT_F, ST3, NULL}},
    };
    for (int b = 0; b < 3; b++) {
        for (int i = 0; i < 2; i++) {
            side_record(rec, batches[b][i].id, batches[b][i].story, batches[b][i].ents);
            assert_int_equal(mock_process(mp, rec), NF_OK);
        }
        assert_int_equal(mock_flush(mp), NF_OK);
    }
    sqlite3 *db = open_db_at(p);
    assert_string_equal(query_list(db, "SELECT part || ':' || lo AS v FROM article_parts ORDER "
                                       "BY part", NULL, buf, sizeof(buf)),
                        "0:0 1:2 2:4");
    assert_int_equal(query_int(db, "SELECT count(*) FROM article_entities_1", NULL), 3);
    assert_int_equal(query_int(db, "SELECT count(*) FROM article_stories_2", NULL), 2);
    assert_string_equal(query_list(db, ENTS_BY_NAME, "Mali", buf, sizeof(buf)), "a1 b1 c1 e1");
    assert_string_equal(query_list(db, ENTS_BY_NAME, "ECOWAS", buf, sizeof(buf)), "d1");
    assert_string_equal(query_list(db, STORY_MEMBERS, ST1, buf, sizeof(buf)), "a1 c1 e1");
    assert_int_equal(query_int(db, "SELECT mentions FROM entities WHERE article_id = '" PT_A
                                   "' AND name = 'Mali'", NULL),
                     2);
    side_intact(db);

    /* A (part 0) comes again with other entities and another story, while part 2 is the
     * newest; a correction moves story s1 to s4 in every part. */
    struct nf_amend am = {0};
    static const char *const a2[] = {"org:ECOWAS:1", NULL};
    side_record(rec, PT_A, ST3, a2);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    side_record(rec, PT_G, ST4, NULL);
    assert_int_equal(nf_amend_add(&am, NF_AMEND_STORY_ID, ST1, ST4), 0);
    const char *why;
    assert_int_equal(nf_amend_apply(&am, rec, &why), 0);
    assert_int_equal(mock_roundtrip(rec), 0);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    assert_string_equal(query_list(db, ENTS_BY_NAME, "Mali", buf, sizeof(buf)), "b1 c1 e1");
    assert_string_equal(query_list(db, ENTS_BY_NAME, "ECOWAS", buf, sizeof(buf)), "a1 d1");
    assert_int_equal(query_int(db, "SELECT count(*) FROM article_entities WHERE article_rowid = "
                                   "1", NULL),
                     1);
    assert_string_equal(query_list(db, STORY_MEMBERS, ST3, buf, sizeof(buf)), "a1 f1");
    assert_string_equal(query_list(db, STORY_MEMBERS, ST1, buf, sizeof(buf)), "");
    assert_string_equal(query_list(db, STORY_MEMBERS, ST4, buf, sizeof(buf)), "a2 c1 e1");
    side_intact(db);

    /* A story split: G comes again carrying C (part 1) to story s2 (which has B), the others
     * of s4 staying. */
    side_record(rec, PT_G, ST4, NULL);
    assert_int_equal(nf_amend_add(&am, NF_AMEND_STORY_OF, PT_C, ST2), 0);
    assert_int_equal(nf_amend_apply(&am, rec, &why), 0);
    assert_int_equal(mock_roundtrip(rec), 0);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    assert_string_equal(query_list(db, STORY_MEMBERS, ST4, buf, sizeof(buf)), "a2 e1");
    assert_string_equal(query_list(db, STORY_MEMBERS, ST2, buf, sizeof(buf)), "b1 c1");
    side_intact(db);

    /* By hand: a story changed, an article of an old part deleted. */
    assert_int_equal(sqlite3_exec(db, "UPDATE articles SET story_id = '" ST5 "' WHERE id = '" PT_B
                                      "'; DELETE FROM articles WHERE id = '" PT_C "'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_string_equal(query_list(db, STORY_MEMBERS, ST5, buf, sizeof(buf)), "b1");
    assert_string_equal(query_list(db, ENTS_BY_NAME, "Niger", buf, sizeof(buf)), "b1");
    assert_int_equal(query_int(db, "SELECT count(*) FROM article_entities_1", NULL), 1);
    side_intact(db);
    sqlite3_close(db);
    mock_plugin_destroy(&mp);

    /* Reopened, the store goes on from the newest part, and starts the next when it is full. */
    mp = mock_plugin_new("store_sqlite", opts);
    assert_non_null(mp);
    side_record(rec, PT_H, ST4, mali);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    db = open_db_at(p);
    assert_int_equal(query_int(db, "SELECT count(*) FROM article_parts", NULL), 4);
    assert_string_equal(query_list(db, ENTS_BY_NAME, "Mali", buf, sizeof(buf)), "b1 b2 e1");
    assert_string_equal(query_list(db, STORY_MEMBERS, ST4, buf, sizeof(buf)), "a2 b2 e1");
    side_intact(db);
    sqlite3_close(db);
    nf_amend_free(&am);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* A store of schema 3 (one index by entity name, one on articles(story_id)) becomes a store of
 * parts when it opens: its entities stay where they are as part 0, its stories move to
 * article_stories, and what comes next goes to new parts. Made here by a store of schema 4
 * taken back to schema 3's tables. */
static void test_schema_3_is_moved_to_parts(void **state)
{
    (void)state;
    char p[600], o[620], buf[256];
    own_db("v3.db", p, sizeof(p), o, sizeof(o));
    const char *opts[] = {o, "entity_part=1", NULL};
    struct mock_plugin *mp = mock_plugin_new("store_sqlite", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    static const char *const mali[] = {"place:Mali:2", NULL};
    side_record(rec, PT_A, ST1, mali);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    side_record(rec, PT_B, ST2, mali);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    mock_plugin_destroy(&mp);
    sqlite3 *db = open_db_at(p);
    assert_int_equal(
        sqlite3_exec(db,
                     "DROP VIEW entities; DROP VIEW story_members; DROP TRIGGER article_parts_ad;"
                     "DROP TRIGGER article_stories_au; DROP TABLE article_stories;"
                     "DROP TABLE article_parts;"
                     "CREATE INDEX articles_story ON articles(story_id) WHERE story_id IS NOT "
                     "NULL;"
                     "CREATE VIEW entities(article_id, type, name, mentions) AS SELECT a.id, "
                     "e.type, e.name, e.mentions FROM article_entities e JOIN articles a ON "
                     "a.rowid = e.article_rowid;"
                     "CREATE TRIGGER article_entities_ad AFTER DELETE ON articles BEGIN DELETE "
                     "FROM article_entities WHERE article_rowid = old.rowid; END;"
                     "PRAGMA user_version=3;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);

    mp = mock_plugin_new("store_sqlite", opts);
    assert_non_null(mp);
    static const char *const niger[] = {"place:Niger:1", "place:Mali:1", NULL};
    side_record(rec, PT_C, ST1, niger);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    side_record(rec, PT_B, ST1, niger); /* an old article, changed */
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    db = open_db_at(p);
    assert_int_equal(query_int(db, "PRAGMA user_version", NULL), 4);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN "
                                   "('articles_story', 'article_entities_ad')", NULL),
                     0);
    assert_string_equal(query_list(db, "SELECT part || ':' || lo AS v FROM article_parts ORDER "
                                       "BY part", NULL, buf, sizeof(buf)),
                        "0:0 1:2");
    assert_string_equal(query_list(db, ENTS_BY_NAME, "Mali", buf, sizeof(buf)), "a1 b1 c1");
    assert_string_equal(query_list(db, ENTS_BY_NAME, "Niger", buf, sizeof(buf)), "b1 c1");
    assert_int_equal(query_int(db, "SELECT count(*) FROM article_entities_1", NULL), 2);
    assert_string_equal(query_list(db, STORY_MEMBERS, ST1, buf, sizeof(buf)), "a1 b1 c1");
    assert_string_equal(query_list(db, STORY_MEMBERS, ST2, buf, sizeof(buf)), "");
    side_intact(db);
    assert_int_equal(sqlite3_exec(db, "DELETE FROM articles WHERE id = '" PT_A "'", NULL, NULL,
                                  NULL),
                     SQLITE_OK);
    assert_string_equal(query_list(db, ENTS_BY_NAME, "Mali", buf, sizeof(buf)), "b1 c1");
    side_intact(db);
    sqlite3_close(db);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* Whether the index `name` exists. */
static bool index_exists(sqlite3 *db, const char *name)
{
    return query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?1",
                     name) > 0;
}

/* The newest part has no index by entity name or by story: a batch appends its entities and
 * stories by rowid and writes a few pages of them, where indexes on names and story ids at
 * random places had it write a page for nearly every entry (here 20 articles of 10 new names
 * and a new story each, on a part holding 1,500 such articles: 124 pages with both indexes, 26
 * with the index by story alone, 11 without either). A part gets the indexes when the next one
 * starts, and a store whose older part lacks them (a build before this one started the next
 * part) gets them when it opens. A search by name or by story finds the rows of every part. */
static void test_newest_part_is_not_indexed(void **state)
{
    (void)state;
    char p[600], o[620], id[40], story[40], buf[64];
    own_db("side-names.db", p, sizeof(p), o, sizeof(o));
    const char *opts[] = {o, "entity_part=2000", "fsync=false", "fts=false", NULL};
    struct mock_plugin *mp = mock_plugin_new("store_sqlite", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    char names[10][24];
    const char *ents[11] = {NULL};
    int n = 0;
    /* 1,500 articles, then 20 in one batch: ten names of their own each, hashed across the
     * alphabet so that the index would take them at random places. */
    for (int b = 0; b < 16; b++) {
        int batch = b < 15 ? 100 : 20;
        int64_t before = mock_counter("db_pages_written");
        for (int i = 0; i < batch; i++, n++) {
            for (int k = 0; k < 10; k++) {
                uint32_t h = (uint32_t)(n * 10 + k) * 2654435761u;
                snprintf(names[k], sizeof(names[k]), "person:N%08x:1", h);
                ents[k] = names[k];
            }
            snprintf(id, sizeof(id), "%032x", n + 1);
            snprintf(story, sizeof(story), "%032x", (uint32_t)(n + 1) * 2654435761u);
            side_record(rec, id, story, ents);
            assert_int_equal(mock_process(mp, rec), NF_OK);
        }
        assert_int_equal(mock_flush(mp), NF_OK);
        if (b == 15 && mock_counter("db_pages_written") - before > 18)
            fail_msg("a batch of 20 articles wrote %lld pages",
                     (long long)(mock_counter("db_pages_written") - before));
    }
    sqlite3 *db = open_db_at(p);
    assert_false(index_exists(db, "article_entities_name"));
    assert_false(index_exists(db, "article_stories_id"));
    snprintf(buf, sizeof(buf), "N%08x", (uint32_t)(1234 * 10 + 3) * 2654435761u);
    assert_int_equal(query_int(db, "SELECT count(*) FROM entities WHERE name = ?1", buf), 1);
    snprintf(buf, sizeof(buf), "%032x", (uint32_t)1235 * 2654435761u);
    assert_int_equal(query_int(db, "SELECT article_rowid FROM story_members WHERE story_id = ?1",
                               buf),
                     1235);
    sqlite3_close(db);

    /* 580 more: part 1 starts at 2,000 and part 0 gets its index. */
    for (; n < 2100; n++) {
        snprintf(id, sizeof(id), "%032x", n + 1);
        static const char *const mali[] = {"place:Mali:1", NULL};
        side_record(rec, id, ST2, mali);
        assert_int_equal(mock_process(mp, rec), NF_OK);
        if (n % 100 == 99)
            assert_int_equal(mock_flush(mp), NF_OK);
    }
    assert_int_equal(mock_flush(mp), NF_OK);
    mock_plugin_destroy(&mp);
    db = open_db_at(p);
    assert_int_equal(query_int(db, "SELECT count(*) FROM article_parts", NULL), 2);
    assert_true(index_exists(db, "article_entities_name"));
    assert_true(index_exists(db, "article_stories_id"));
    assert_false(index_exists(db, "article_entities_1_name"));
    assert_false(index_exists(db, "article_stories_1_id"));
    assert_int_equal(query_int(db, "SELECT count(*) FROM entities WHERE name = 'Mali'", NULL),
                     580);
    assert_int_equal(query_int(db, "SELECT count(*) FROM story_members WHERE story_id = '" ST2 "'",
                               NULL),
                     580);
    assert_int_equal(sqlite3_exec(db, "DROP INDEX article_entities_name; DROP INDEX "
                                      "article_stories_id",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    mp = mock_plugin_new("store_sqlite", opts);
    assert_non_null(mp);
    db = open_db_at(p);
    assert_true(index_exists(db, "article_entities_name"));
    assert_true(index_exists(db, "article_stories_id"));
    assert_false(index_exists(db, "article_entities_1_name"));
    side_intact(db);
    sqlite3_close(db);
    mock_plugin_destroy(&mp);

    /* With parts off (entity_part = 0), no part will follow the newest: it is indexed. */
    const char *off[] = {o, "entity_part=0", "fsync=false", "fts=false", NULL};
    mp = mock_plugin_new("store_sqlite", off);
    assert_non_null(mp);
    db = open_db_at(p);
    assert_true(index_exists(db, "article_entities_1_name"));
    assert_true(index_exists(db, "article_stories_1_id"));
    sqlite3_close(db);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* The views read one SELECT per part and SQLite refuses a compound of more than 500: past 400
 * parts the newest grows instead of the store failing every transaction. */
static void test_side_parts_stop_at_400(void **state)
{
    (void)state;
    char p[600], o[620], id[40];
    own_db("side-max.db", p, sizeof(p), o, sizeof(o));
    const char *opts[] = {o, "entity_part=1", "fsync=false", "fts=false", NULL};
    struct mock_plugin *mp = mock_plugin_new("store_sqlite", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    static const char *const mali[] = {"place:Mali:1", NULL};
    for (int i = 0; i < 510; i++) {
        snprintf(id, sizeof(id), "%032x", i + 1);
        side_record(rec, id, ST1, mali);
        assert_int_equal(mock_process(mp, rec), NF_OK);
        assert_int_equal(mock_flush(mp), NF_OK);
    }
    sqlite3 *db = open_db_at(p);
    assert_int_equal(query_int(db, "SELECT count(*) FROM article_parts", NULL), 400);
    /* the newest grows on, with the indexes that no next part will give it */
    assert_true(index_exists(db, "article_entities_398_name"));
    assert_true(index_exists(db, "article_entities_399_name"));
    assert_true(index_exists(db, "article_stories_399_id"));
    assert_int_equal(query_int(db, "SELECT count(*) FROM entities WHERE name = 'Mali'", NULL),
                     510);
    assert_int_equal(query_int(db, "SELECT count(*) FROM story_members WHERE story_id = '" ST1
                                   "'", NULL),
                     510);
    side_intact(db);
    sqlite3_close(db);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* A list of parts the store did not make (a part missing, edited by hand) fails the record
 * with a reason that says what is wrong, not SQLite's message of the call before. */
static void test_a_broken_list_of_parts_is_said(void **state)
{
    (void)state;
    char p[600], o[620];
    own_db("broken-parts.db", p, sizeof(p), o, sizeof(o));
    const char *opts[] = {o, NULL};
    struct mock_plugin *mp = mock_plugin_new("store_sqlite", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    side_record(rec, PT_A, ST1, NULL);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    sqlite3 *db = open_db_at(p);
    assert_int_equal(sqlite3_exec(db, "DELETE FROM article_parts", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    side_record(rec, PT_B, ST1, NULL);
    assert_int_equal(mock_process(mp, rec), NF_ERR);
    print_message("%s\n", mock_last_error());
    assert_non_null(strstr(mock_last_error(), "article_parts"));
    assert_non_null(strstr(mock_last_error(), sqlite3_errstr(SQLITE_CORRUPT)));
    assert_int_equal(mock_flush(mp), NF_OK);
    /* The same of the full-text index's list, found at commit. */
    db = open_db_at(p);
    assert_int_equal(sqlite3_exec(db, "INSERT INTO article_parts VALUES (0, 0);"
                                      "DELETE FROM articles_fts_parts",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_ERR);
    print_message("%s\n", mock_last_error());
    assert_non_null(strstr(mock_last_error(), "cannot commit"));
    assert_non_null(strstr(mock_last_error(), sqlite3_errstr(SQLITE_CORRUPT)));
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* ---- corrections of earlier verdicts ------------------------------------------------------ */

#define AM_A "a0000000000000000000000000000000"
#define AM_B "b0000000000000000000000000000000"
#define AM_C "c0000000000000000000000000000000"

/* A record as dedup and story would send it: its verdicts, and the corrections `fixes` of
 * earlier ones ("d ID ROOT" for dup_of, "d ID -" for an original, "s OLD NEW" for a story). */
static void verdict_record(struct nf_record *rec, struct nf_amend *am, const char *id,
                           const char *dup, const char *story, const char *const *fixes)
{
    text_record(rec, id, "Junta signs pact", "The three juntas signed a pact in Bamako.");
    if (dup)
        nf_record_set_cstr(rec, NF_F_DUP_OF, dup);
    nf_record_set_cstr(rec, NF_F_STORY_ID, story);
    for (; fixes && *fixes; fixes++) {
        char key[33], val[33];
        assert_int_equal(sscanf(*fixes + 2, "%32s %32s", key, val), 2);
        assert_int_equal(nf_amend_add(am, (*fixes)[0] == 'd' ? NF_AMEND_DUP_OF
                                                             : NF_AMEND_STORY_ID,
                                      key, strcmp(val, "-") ? val : NULL), 0);
    }
    const char *why;
    assert_int_equal(nf_amend_apply(am, rec, &why), 0);
    assert_int_equal(mock_roundtrip(rec), 0);
}

/* "ID:DUP_OF:STORY ..." of the three rows. */
static void verdict_rows(const char *path, char *out, size_t n)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT id, coalesce(dup_of, '-'), story_id FROM "
                                            "articles ORDER BY id", -1, &st, NULL),
                     SQLITE_OK);
    size_t used = 0;
    out[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW)
        used += (size_t)snprintf(out + used, n - used, "%.2s:%.2s:%.2s ",
                                 (const char *)sqlite3_column_text(st, 0),
                                 (const char *)sqlite3_column_text(st, 1),
                                 (const char *)sqlite3_column_text(st, 2));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_corrections_give_the_rows_of_the_read_order(void **state)
{
    (void)state;
    struct nf_record *rec = nf_record_new();
    struct nf_amend am = {0};
    char path[600], opt[700], want[200], got[200];
    /* Read A, B, C (B and C copies of A). In read order nothing needs correcting. */
    own_db("amend-1.db", path, sizeof(path), opt, sizeof(opt));
    const char *opts[] = {opt, NULL};
    struct mock_plugin *mp = mock_plugin_new("store_sqlite", opts);
    assert_non_null(mp);
    verdict_record(rec, &am, AM_A, NULL, AM_A, NULL);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    verdict_record(rec, &am, AM_B, AM_A, AM_A, NULL);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    verdict_record(rec, &am, AM_C, AM_A, AM_A, NULL);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    mock_plugin_destroy(&mp);
    verdict_rows(path, want, sizeof(want));
    assert_string_equal(want, "a0:-:a0 b0:a0:a0 c0:a0:a0 ");

    /* Arriving C, B, A, each in a batch of its own, and then all in one batch: each later one
     * carries the corrections of the verdicts given before it arrived. */
    static const char *const fix_b[] = {"d " AM_C " " AM_B, "s " AM_C " " AM_B, NULL};
    static const char *const fix_a[] = {"d " AM_C " " AM_A, "d " AM_B " " AM_A,
                                        "s " AM_B " " AM_A, NULL};
    for (int one_batch = 0; one_batch < 2; one_batch++) {
        own_db(one_batch ? "amend-3.db" : "amend-2.db", path, sizeof(path), opt, sizeof(opt));
        mp = mock_plugin_new("store_sqlite", opts);
        assert_non_null(mp);
        verdict_record(rec, &am, AM_C, NULL, AM_C, NULL);
        assert_int_equal(mock_process(mp, rec), NF_OK);
        if (!one_batch)
            assert_int_equal(mock_flush(mp), NF_OK);
        verdict_record(rec, &am, AM_B, NULL, AM_B, fix_b);
        assert_int_equal(mock_process(mp, rec), NF_OK);
        if (!one_batch)
            assert_int_equal(mock_flush(mp), NF_OK);
        verdict_record(rec, &am, AM_A, NULL, AM_A, fix_a);
        assert_int_equal(mock_process(mp, rec), NF_OK);
        assert_int_equal(mock_flush(mp), NF_OK);
        mock_plugin_destroy(&mp);
        verdict_rows(path, got, sizeof(got));
        assert_string_equal(got, want);
    }

    /* Corrections that are not ids: the record is refused, with the reason, and not stored. */
    own_db("amend-4.db", path, sizeof(path), opt, sizeof(opt));
    mp = mock_plugin_new("store_sqlite", opts);
    assert_non_null(mp);
    text_record(rec, AM_A, "t", "x");
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    struct nf_buf enc = {0};
    assert_int_equal(nf_record_encode(rec, &enc), 0);
    enc.data[0]++; /* one more key in the (small) map */
    msgpack_pack_str(&pk, 5);
    msgpack_pack_str_body(&pk, "amend", 5);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str(&pk, 6);
    msgpack_pack_str_body(&pk, "dup_of", 6);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str(&pk, 3);
    msgpack_pack_str_body(&pk, "x'y", 3);
    msgpack_pack_nil(&pk);
    assert_int_equal(nf_buf_append(&enc, sb.data, sb.size), 0);
    assert_int_equal(nf_record_decode(rec, enc.data, enc.len), 0);
    assert_int_equal(mock_process(mp, rec), NF_ERR);
    assert_non_null(strstr(mock_last_error(), "amend"));
    assert_int_equal(mock_flush(mp), NF_OK);
    mock_plugin_destroy(&mp);
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(query_int(db, "SELECT count(*) FROM articles WHERE ?1 IS NULL", NULL), 0);
    sqlite3_close(db);
    nf_buf_free(&enc);
    msgpack_sbuffer_destroy(&sb);
    nf_amend_free(&am);
    nf_record_destroy(&rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stores_the_seed_articles),
        cmocka_unit_test(test_failing_record_leaves_batch_intact),
        cmocka_unit_test(test_newer_schema_is_refused),
        cmocka_unit_test(test_full_disk_is_said),
        cmocka_unit_test(test_commit_seen_before_its_sync),
        cmocka_unit_test(test_missing_directory_is_made),
        cmocka_unit_test(test_empty_path_is_refused),
        cmocka_unit_test(test_index_added_later_covers_old_rows),
        cmocka_unit_test(test_index_follows_changes_within_a_batch),
        cmocka_unit_test(test_schema_1_is_upgraded),
        cmocka_unit_test(test_log_is_checkpointed),
        cmocka_unit_test(test_index_rolls_over_into_parts),
        cmocka_unit_test(test_upsert_and_delete_across_parts),
        cmocka_unit_test(test_schema_2_keeps_its_one_index),
        cmocka_unit_test(test_entities_and_stories_in_parts),
        cmocka_unit_test(test_newest_part_is_not_indexed),
        cmocka_unit_test(test_schema_3_is_moved_to_parts),
        cmocka_unit_test(test_side_parts_stop_at_400),
        cmocka_unit_test(test_a_broken_list_of_parts_is_said),
        cmocka_unit_test(test_corrections_give_the_rows_of_the_read_order),
    };
    return cmocka_run_group_tests(tests, load_seeds, cleanup);
}
