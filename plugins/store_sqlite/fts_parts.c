/* The parts of store_sqlite's full-text index: see fts_parts.h. Every part reads its text from
 * a view of the articles in its range (content=...), so that FTS5's own checks ('rebuild',
 * 'integrity-check', PRAGMA integrity_check) see the rows of that part and no others. The
 * ranges live in articles_fts_parts only: part k holds the rowids above its lo, up to the next
 * part's lo. */
#include "fts_parts.h"
#include "parts.h"


/* Whether rowid expression `x` falls in part `k`; printed twice per use (x, k, x, k). */
#define FTS_PARTS_IN                                                                          \
    "%s > (SELECT lo FROM articles_fts_parts WHERE part = %d) AND %s <= "                     \
    "coalesce((SELECT min(lo) FROM articles_fts_parts WHERE part > %d), 9223372036854775807)"

void fts_parts_name(int part, char *buf, size_t n)
{
    parts_name("articles_fts", part, buf, n);
}

int fts_parts_init(sqlite3 *db)
{
    return sqlite3_exec(db,
                        "CREATE TABLE IF NOT EXISTS articles_fts_parts(part INTEGER PRIMARY KEY,"
                        " name TEXT NOT NULL, lo INTEGER NOT NULL)",
                        NULL, NULL, NULL);
}

/* The triggers of schema 2 (store_sqlite.c), with a statement per part, each for the rows in
 * its range: a deleted row leaves its part; a changed row's terms are replaced in its part. */
static int fts_parts_triggers(sqlite3 *db, int parts)
{
    sqlite3_str *q = sqlite3_str_new(db);
    sqlite3_str_appendall(q, "DROP TRIGGER IF EXISTS articles_fts_ad;\n"
                             "DROP TRIGGER IF EXISTS articles_fts_au;\n"
                             "CREATE TRIGGER articles_fts_ad AFTER DELETE ON articles BEGIN\n");
    char name[32];
    for (int k = 0; k < parts; k++) {
        fts_parts_name(k, name, sizeof(name));
        sqlite3_str_appendf(q,
                            "  INSERT INTO %s(%s, rowid, title, text)\n"
                            "    SELECT 'delete', old.rowid, old.title, old.text\n"
                            "    WHERE old.rowid <= (SELECT indexed_upto FROM "
                            "articles_fts_state)\n"
                            "      AND " FTS_PARTS_IN ";\n",
                            name, name, "old.rowid", k, "old.rowid", k);
    }
    /* When the rows at the top are gone, the next rowids handed out are above indexed_upto
     * again, and in the newest part: the parts that started above it start there. */
    sqlite3_str_appendall(
        q, "  UPDATE articles_fts_state\n"
           "    SET indexed_upto = (SELECT coalesce(max(rowid), 0) FROM articles)\n"
           "    WHERE indexed_upto > (SELECT coalesce(max(rowid), 0) FROM articles);\n"
           "  UPDATE articles_fts_parts SET lo = (SELECT indexed_upto FROM articles_fts_state)\n"
           "    WHERE lo > (SELECT indexed_upto FROM articles_fts_state);\n"
           "END;\n"
           "CREATE TRIGGER articles_fts_au AFTER UPDATE OF title, text ON articles\n"
           "  WHEN (old.title IS NOT new.title OR old.text IS NOT new.text)\n"
           "    AND old.rowid <= (SELECT indexed_upto FROM articles_fts_state) BEGIN\n");
    for (int k = 0; k < parts; k++) {
        fts_parts_name(k, name, sizeof(name));
        sqlite3_str_appendf(q,
                            "  INSERT INTO %s(%s, rowid, title, text)\n"
                            "    SELECT 'delete', old.rowid, old.title, old.text\n"
                            "    WHERE " FTS_PARTS_IN ";\n"
                            "  INSERT INTO %s(rowid, title, text)\n"
                            "    SELECT new.rowid, new.title, new.text\n"
                            "    WHERE " FTS_PARTS_IN ";\n",
                            name, name, "old.rowid", k, "old.rowid", k, name, "old.rowid", k,
                            "old.rowid", k);
    }
    sqlite3_str_appendall(q, "END;\n");
    return parts_exec(db, q);
}

int fts_parts_add(sqlite3 *db, int part, int64_t lo)
{
    char name[32];
    fts_parts_name(part, name, sizeof(name));
    sqlite3_str *q = sqlite3_str_new(db);
    sqlite3_str_appendf(q,
                        "CREATE VIEW articles_fts_rows_%d(rid, title, text) AS\n"
                        "  SELECT rowid, title, text FROM articles WHERE " FTS_PARTS_IN ";\n",
                        part, "rowid", part, "rowid", part);
    /* Segments are merged 16 at a time instead of 4: each posting is rewritten about half as
     * often (log16 instead of log4 of the number of batches in the part), and a search reads a
     * few more segments. The merges are done a little at each commit; one that stalls a commit
     * would come only if a level reached 64 segments. */
    sqlite3_str_appendf(q,
                        "CREATE VIRTUAL TABLE %s USING fts5(title, text,\n"
                        "  content='articles_fts_rows_%d', content_rowid='rid');\n"
                        "INSERT INTO %s(%s, rank) VALUES ('automerge', 16);\n"
                        "INSERT INTO %s(%s, rank) VALUES ('crisismerge', 64);\n"
                        "INSERT INTO articles_fts_parts(part, name, lo) VALUES (%d, '%s', %lld);\n",
                        name, part, name, name, name, name, part, name, (long long)lo);
    int rc = parts_exec(db, q);
    return rc == SQLITE_OK ? fts_parts_triggers(db, part + 1) : rc;
}

int fts_parts_newest(sqlite3 *db, sqlite3_stmt **st_io, int *part_out, int64_t *lo_out,
                     int64_t *upto_out)
{
    if (!*st_io) {
        int rc = sqlite3_prepare_v3(db,
                                    "SELECT part, lo, (SELECT indexed_upto FROM "
                                    "articles_fts_state) FROM articles_fts_parts ORDER BY part "
                                    "DESC LIMIT 1",
                                    -1, SQLITE_PREPARE_PERSISTENT, st_io, NULL);
        if (rc != SQLITE_OK)
            return rc;
    }
    sqlite3_stmt *st = *st_io;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *part_out = sqlite3_column_int(st, 0);
        *lo_out = sqlite3_column_int64(st, 1);
        *upto_out = sqlite3_column_int64(st, 2);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_CORRUPT; /* a list of parts without any */
    }
    sqlite3_reset(st);
    return rc;
}

sqlite3_stmt *fts_parts_adder(sqlite3 *db, int part)
{
    char name[32];
    fts_parts_name(part, name, sizeof(name));
    char *sql = sqlite3_mprintf("INSERT INTO %s(rowid, title, text) SELECT rowid, title, text "
                                "FROM articles WHERE rowid > (SELECT indexed_upto FROM "
                                "articles_fts_state)",
                                name);
    sqlite3_stmt *st = NULL;
    if (sql && sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
        st = NULL;
    sqlite3_free(sql);
    return st;
}
