/* The parts of store_sqlite's entities and stories: see side_parts.h. The ranges live in
 * article_parts only (part k holds the rowids above its lo, up to the next part's lo); the
 * store writes each article's entities and story into the part of its rowid, found in the list
 * it reads at the start of each transaction. The triggers find an article's rows by its rowid
 * in every part, without the ranges, so they hold whatever the list says. */
#include "side_parts.h"
#include "parts.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The views are one SELECT per part, and SQLite refuses a compound of more than 500
 * (SQLITE_MAX_COMPOUND_SELECT): past this many parts the newest grows for ever (8 million
 * articles in parts of 20,000). */
#define SIDE_PARTS_MAX 400

/* One line per part of `base`: `pre`, the part's table, `post`; `sep` before every part but
 * the first. */
static void side_parts_each(sqlite3_str *q, int parts, const char *base, const char *sep,
                            const char *pre, const char *post)
{
    char t[48];
    for (int k = 0; k < parts; k++) {
        parts_name(base, k, t, sizeof(t));
        sqlite3_str_appendf(q, "  %s%s%s%s\n", k ? sep : "", pre, t, post);
    }
}

/* The views over every part and the triggers that keep every part right when an article goes
 * or changes story, made again for `parts` parts. A search by name or story id reads each
 * part's index (SQLite pushes the condition into every arm of the UNION ALL). */
static int side_parts_schema(sqlite3 *db, int parts)
{
    sqlite3_str *q = sqlite3_str_new(db);
    sqlite3_str_appendall(q, "DROP VIEW IF EXISTS entities;\n"
                             "DROP VIEW IF EXISTS story_members;\n"
                             "DROP TRIGGER IF EXISTS article_parts_ad;\n"
                             "DROP TRIGGER IF EXISTS article_stories_au;\n"
                             "CREATE VIEW entities(article_id, type, name, mentions) AS\n");
    side_parts_each(q, parts, "article_entities", "UNION ALL ",
                    "SELECT a.id, e.type, e.name, e.mentions FROM ",
                    " e JOIN articles a ON a.rowid = e.article_rowid");
    sqlite3_str_appendall(q, ";\nCREATE VIEW story_members(story_id, article_rowid) AS\n");
    side_parts_each(q, parts, "article_stories", "UNION ALL ",
                    "SELECT story_id, article_rowid FROM ", " WHERE story_id IS NOT NULL");
    /* A rowid freed by a deletion may be handed out again: the article's rows go with it. */
    sqlite3_str_appendall(q, ";\nCREATE TRIGGER article_parts_ad AFTER DELETE ON articles BEGIN\n");
    side_parts_each(q, parts, "article_entities", "", "DELETE FROM ",
                    " WHERE article_rowid = old.rowid;");
    side_parts_each(q, parts, "article_stories", "", "DELETE FROM ",
                    " WHERE article_rowid = old.rowid;");
    /* Whoever changes an article's story (the store's upsert and corrections, or by hand). */
    sqlite3_str_appendall(q, "END;\n"
                             "CREATE TRIGGER article_stories_au AFTER UPDATE OF story_id ON "
                             "articles\n"
                             "  WHEN old.story_id IS NOT new.story_id BEGIN\n");
    side_parts_each(q, parts, "article_stories", "", "UPDATE ",
                    " SET story_id = new.story_id WHERE article_rowid = old.rowid;");
    sqlite3_str_appendall(q, "END;\n");
    return parts_exec(db, q);
}

int side_parts_migrate(sqlite3 *db)
{
    /* Every article has a row in article_stories, with a NULL story when it has none, so that
     * the trigger finds the row to change. */
    int rc = sqlite3_exec(
        db,
        "CREATE TABLE IF NOT EXISTS article_parts(part INTEGER PRIMARY KEY,"
        " lo INTEGER NOT NULL);\n"
        "INSERT OR IGNORE INTO article_parts(part, lo) VALUES (0, 0);\n"
        "CREATE TABLE IF NOT EXISTS article_stories(article_rowid INTEGER PRIMARY KEY,"
        " story_id TEXT);\n"
        "INSERT OR IGNORE INTO article_stories(article_rowid, story_id)\n"
        "  SELECT rowid, story_id FROM articles;\n"
        "DROP INDEX IF EXISTS articles_story;\n"
        "DROP TRIGGER IF EXISTS article_entities_ad;\n",
        NULL, NULL, NULL);
    return rc == SQLITE_OK ? side_parts_schema(db, 1) : rc;
}

/* The indexes by entity name and by story id of parts `from` to `parts - 2`, where they are
 * missing. */
static void side_parts_index(sqlite3_str *q, int from, int parts)
{
    char e[48], st[48];
    for (int k = from; k < parts - 1; k++) {
        parts_name("article_entities", k, e, sizeof(e));
        parts_name("article_stories", k, st, sizeof(st));
        sqlite3_str_appendf(q,
                            "CREATE INDEX IF NOT EXISTS %s_name ON %s(name, type);\n"
                            "CREATE INDEX IF NOT EXISTS %s_id ON %s(story_id) WHERE story_id "
                            "IS NOT NULL;\n",
                            e, e, st, st);
    }
}

int side_parts_seal(sqlite3 *db, int64_t part_rows)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM article_parts", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    int parts = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return rc;
    /* A newest part that no other will follow is indexed as it grows: parts are off, or the
     * list is at its limit. */
    bool last = part_rows <= 0 || parts >= SIDE_PARTS_MAX;
    if (parts < 2 && !last)
        return SQLITE_OK;
    sqlite3_str *q = sqlite3_str_new(db);
    side_parts_index(q, 0, last ? parts + 1 : parts);
    return parts_exec(db, q);
}

/* Part `part` for the rowids above `lo`: its tables and its row in the list; and the indexes of
 * the part before, which no article is added to any more. The newest part has none: entity names
 * and story ids are keys at random places, and such indexes had a batch of 50 articles write
 * about 150 pages of them, of about 250 in all. */
static int side_parts_add(sqlite3 *db, int part, int64_t lo)
{
    char e[48], st[48];
    parts_name("article_entities", part, e, sizeof(e));
    parts_name("article_stories", part, st, sizeof(st));
    sqlite3_str *q = sqlite3_str_new(db);
    sqlite3_str_appendf(q,
                        "CREATE TABLE %s(article_rowid INTEGER NOT NULL, type TEXT NOT NULL,\n"
                        "  name TEXT NOT NULL, mentions INTEGER NOT NULL DEFAULT 0,\n"
                        "  PRIMARY KEY(article_rowid, type, name)) WITHOUT ROWID;\n"
                        "CREATE TABLE %s(article_rowid INTEGER PRIMARY KEY, story_id TEXT);\n"
                        "INSERT INTO article_parts(part, lo) VALUES (%d, %lld);\n",
                        e, st, part, (long long)lo);
    side_parts_index(q, part - 1, part + 1);
    int rc = parts_exec(db, q);
    return rc == SQLITE_OK ? side_parts_schema(db, part + 1) : rc;
}

static void side_parts_finalize(struct side_parts *p)
{
    for (int i = 0; i < p->cap * SIDE_STMT_COUNT; i++) {
        sqlite3_finalize(p->st[i]);
        p->st[i] = NULL;
    }
}

/* Room for `n` parts; false when out of memory. */
static bool side_parts_room(struct side_parts *p, int n)
{
    if (n <= p->cap)
        return true;
    int cap = p->cap ? p->cap : 8;
    while (cap < n)
        cap *= 2;
    int64_t *lo = realloc(p->lo, (size_t)cap * sizeof(*lo));
    if (!lo)
        return false;
    p->lo = lo;
    sqlite3_stmt **st = realloc(p->st, (size_t)cap * SIDE_STMT_COUNT * sizeof(*st));
    if (!st)
        return false;
    memset(st + p->cap * SIDE_STMT_COUNT, 0,
           (size_t)(cap - p->cap) * SIDE_STMT_COUNT * sizeof(*st));
    p->st = st;
    p->cap = cap;
    return true;
}

/* `*st`, prepared with `sql` if it is not yet. SQLite's result code. */
static int side_parts_prepare(sqlite3 *db, sqlite3_stmt **st, const char *sql)
{
    if (*st)
        return SQLITE_OK;
    return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
}

/* Reads the list into p->lo; the statements go if it is not the list they were made for. */
static int side_parts_read(struct side_parts *p, sqlite3 *db)
{
    int rc = side_parts_prepare(db, &p->list, "SELECT part, lo FROM article_parts ORDER BY part");
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_stmt *q = p->list;
    int n = 0;
    bool same = true;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        /* parts are numbered from 0 without a gap; anything else is not a list this made */
        if (sqlite3_column_int64(q, 0) != n || !side_parts_room(p, n + 1)) {
            rc = sqlite3_column_int64(q, 0) != n ? SQLITE_CORRUPT : SQLITE_NOMEM;
            break;
        }
        int64_t lo = sqlite3_column_int64(q, 1);
        same = same && n < p->n && p->lo[n] == lo;
        p->lo[n++] = lo;
    }
    sqlite3_reset(q);
    if (rc == SQLITE_DONE && n == 0)
        rc = SQLITE_CORRUPT;
    if (rc != SQLITE_DONE) {
        side_parts_finalize(p);
        p->n = 0;
        return rc;
    }
    if (!same || n != p->n)
        side_parts_finalize(p);
    p->n = n;
    return SQLITE_OK;
}

int side_parts_begin(struct side_parts *p, sqlite3 *db, int64_t part_rows)
{
    int rc = side_parts_read(p, db);
    if (rc != SQLITE_OK || part_rows <= 0)
        return rc;
    rc = side_parts_prepare(db, &p->top, "SELECT coalesce(max(rowid), 0) FROM articles");
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(p->top);
    int64_t top = sqlite3_column_int64(p->top, 0);
    sqlite3_reset(p->top);
    if (rc != SQLITE_ROW)
        return rc;
    if (top - p->lo[p->n - 1] < part_rows)
        return SQLITE_OK;
    if (p->n >= SIDE_PARTS_MAX) {
        /* The newest grows from now on, with its indexes (made once; the list is read again
         * at each transaction, the flag with it). */
        if (p->newest_indexed)
            return SQLITE_OK;
        sqlite3_str *q = sqlite3_str_new(db);
        side_parts_index(q, p->n - 1, p->n + 1);
        rc = parts_exec(db, q);
        p->newest_indexed = rc == SQLITE_OK;
        return rc;
    }
    if (!side_parts_room(p, p->n + 1))
        return SQLITE_NOMEM;
    rc = side_parts_add(db, p->n, top);
    if (rc != SQLITE_OK)
        return rc;
    /* The statements of the older parts were prepared before the schema changed; SQLite
     * prepares them again when they next run. */
    p->lo[p->n++] = top;
    return SQLITE_OK;
}

int side_parts_of(const struct side_parts *p, int64_t rowid)
{
    /* the last part whose lo is below rowid */
    int a = 0, b = p->n - 1;
    while (a < b) {
        int m = (a + b + 1) / 2;
        if (p->lo[m] < rowid)
            a = m;
        else
            b = m - 1;
    }
    return a;
}

sqlite3_stmt *side_parts_stmt(struct side_parts *p, sqlite3 *db, int part, enum side_stmt which)
{
    sqlite3_stmt **slot = &p->st[part * SIDE_STMT_COUNT + which];
    if (*slot)
        return *slot;
    char t[48];
    parts_name(which == SIDE_ADD_STORY ? "article_stories" : "article_entities", part, t,
                    sizeof(t));
    char *sql = NULL;
    switch (which) {
    case SIDE_DEL_ENTITIES:
        sql = sqlite3_mprintf("DELETE FROM %s WHERE article_rowid = ?1", t);
        break;
    case SIDE_ADD_ENTITY:
        /* The same entity listed twice in one record counts its mentions together. */
        sql = sqlite3_mprintf("INSERT INTO %s(article_rowid, type, name, mentions) VALUES (?1, "
                              "?2, ?3, ?4) ON CONFLICT DO UPDATE SET mentions = mentions + "
                              "excluded.mentions",
                              t);
        break;
    case SIDE_ADD_STORY:
        /* An article already filed keeps its row: the trigger article_stories_au has changed
         * its story if the upsert did. */
        sql = sqlite3_mprintf("INSERT INTO %s(article_rowid, story_id) VALUES (?1, ?2) ON "
                              "CONFLICT DO NOTHING",
                              t);
        break;
    case SIDE_STMT_COUNT:
        break;
    }
    if (sql && sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK)
        *slot = NULL;
    sqlite3_free(sql);
    return *slot;
}

void side_parts_clear(struct side_parts *p)
{
    side_parts_finalize(p);
    sqlite3_finalize(p->list);
    sqlite3_finalize(p->top);
    free(p->st);
    free(p->lo);
    *p = (struct side_parts){0};
}
