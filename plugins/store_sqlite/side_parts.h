/* The parts of store_sqlite's side tables (schema 4): an article's entities and its story are
 * filed by the article's rowid in the part its rowid falls in, each part a table of entities
 * (article_entities, article_entities_1, ...), indexed by name from when the next part starts
 * (no article is added to it then; the newest is read whole by a search) and a table of stories
 * with its index by story id (article_stories, article_stories_1, ...), listed in
 * article_parts. A new part starts when the newest holds enough articles, so that the indexes
 * written at random keys stay as small as a part: what a batch costs no longer grows with the
 * store. The views `entities` and `story_members` read every part. The caller holds the write
 * transaction for every function that changes the schema. */
#ifndef STORE_SQLITE_SIDE_PARTS_H
#define STORE_SQLITE_SIDE_PARTS_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

enum side_stmt {
    SIDE_DEL_ENTITIES, /* ?1 article rowid */
    SIDE_ADD_ENTITY,   /* ?1 article rowid, ?2 type, ?3 name, ?4 mentions */
    SIDE_ADD_STORY,    /* ?1 article rowid, ?2 story id or NULL */
    SIDE_STMT_COUNT
};

struct side_parts {
    int n;          /* parts, as last read */
    int cap;        /* of lo and st */
    int64_t *lo;    /* part k holds the rowids above lo[k], up to lo[k + 1] */
    sqlite3_stmt **st; /* cap * SIDE_STMT_COUNT, prepared when first used; NULL before */
    sqlite3_stmt *list, *top; /* read the list and the largest rowid, kept for every BEGIN */
    bool newest_indexed; /* at SIDE_PARTS_MAX parts, the newest has its indexes */
};

/* Makes a store of schema 1 to 3 (or a new one) a store of parts: article_parts with part 0,
 * article_entities as it is (its index by name made if missing), article_stories filled from
 * articles.story_id in place of the index articles_story, the views and the triggers. SQLite's
 * result code. */
int side_parts_migrate(sqlite3 *db);

/* Gives every part but the newest its indexes by entity name and by story id
 * (article_entities_name, article_stories_id, article_entities_N_name, ...) where they are
 * missing: a part gets them when the next one starts, and a build before this one may have
 * started a part without making them. The newest gets them too when no part will follow it:
 * `part_rows` 0 (parts off), or the list at its limit. SQLite's result code. */
int side_parts_seal(sqlite3 *db, int64_t part_rows);

/* Reads the list of parts and, when the newest holds `part_rows` articles or more (0: never),
 * starts the next at the largest rowid, so that the rows this transaction adds go there. Call
 * at the start of each write transaction: another writer of the file may have started one.
 * SQLite's result code: SQLITE_CORRUPT when article_parts is not a list this made (empty, a
 * part missing) and SQLITE_NOMEM leave no message in sqlite3_errmsg(db). */
int side_parts_begin(struct side_parts *p, sqlite3 *db, int64_t part_rows);

/* The part that holds the article with this rowid (after side_parts_begin). */
int side_parts_of(const struct side_parts *p, int64_t rowid);

/* The statement `which` on part `part`, prepared when first asked for; NULL on failure (the
 * message in sqlite3_errmsg(db)). Borrowed until side_parts_clear or the next
 * side_parts_begin. */
sqlite3_stmt *side_parts_stmt(struct side_parts *p, sqlite3 *db, int part, enum side_stmt which);

/* Finalizes the statements and frees the list; `p` may be used again. */
void side_parts_clear(struct side_parts *p);

#endif
