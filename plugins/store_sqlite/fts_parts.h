/* The parts of store_sqlite's full-text index (schema 3): articles_fts, articles_fts_1, ...,
 * each an FTS5 table over a range of the articles' rowids, listed in articles_fts_parts. A new
 * part starts when the newest one holds enough rows, so that the segments FTS5 merges never
 * grow past a part: merging costs the same per article however large the store grows. An
 * article stays in the part its rowid falls in, whatever it is updated to later. These
 * functions only change the schema; the caller holds the write transaction. */
#ifndef STORE_SQLITE_FTS_PARTS_H
#define STORE_SQLITE_FTS_PARTS_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* The table of part `part`: "articles_fts" for 0, "articles_fts_N" after. */
void fts_parts_name(int part, char *buf, size_t n);

/* Creates the list of parts (empty). SQLite's result code. */
int fts_parts_init(sqlite3 *db);

/* Creates part `part` for the rowids above `lo` (and below the next part's lo), its row in the
 * list, and rebuilds the triggers that keep every part right when an indexed article changes
 * or goes. SQLite's result code (its message in sqlite3_errmsg(db)). */
int fts_parts_add(sqlite3 *db, int part, int64_t lo);

/* The newest part, the rowid above which it starts, and indexed_upto. The query is prepared
 * into `*st_io` when it is NULL and kept there for the next call (the caller finalizes it).
 * SQLite's result code: SQLITE_CORRUPT, with no message in sqlite3_errmsg(db), when the list
 * has no part. */
int fts_parts_newest(sqlite3 *db, sqlite3_stmt **st_io, int *part_out, int64_t *lo_out,
                     int64_t *upto_out);

/* The statement that indexes the rows above indexed_upto into part `part`. NULL on failure. */
sqlite3_stmt *fts_parts_adder(sqlite3 *db, int part);

#endif
