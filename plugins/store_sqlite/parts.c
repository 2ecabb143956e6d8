/* What store_sqlite's parts share: see parts.h. */
#include "parts.h"

#include <stdio.h>

void parts_name(const char *base, int part, char *buf, size_t n)
{
    if (part == 0)
        snprintf(buf, n, "%s", base);
    else
        snprintf(buf, n, "%s_%d", base, part);
}

int parts_exec(sqlite3 *db, sqlite3_str *q)
{
    int rc = sqlite3_str_errcode(q);
    char *sql = sqlite3_str_finish(q);
    if (rc == SQLITE_OK)
        rc = sql ? sqlite3_exec(db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    return rc;
}
