/* What store_sqlite's two kinds of parts share (fts_parts.h, side_parts.h): the name of a
 * part's table and the running of a schema change built in an sqlite3_str. Nothing here knows
 * which tables are in parts or where their ranges live. */
#ifndef STORE_SQLITE_PARTS_H
#define STORE_SQLITE_PARTS_H

#include <sqlite3.h>
#include <stddef.h>

/* The table of part `part` of `base`: `base` itself for 0, "BASE_N" after. */
void parts_name(const char *base, int part, char *buf, size_t n);

/* Runs the statements built in `q` and frees it (always). SQLite's result code: SQLITE_NOMEM
 * when building them ran out of memory, else sqlite3_exec's (its message in
 * sqlite3_errmsg(db)). */
int parts_exec(sqlite3 *db, sqlite3_str *q);

#endif
