/* Dead-letter store in SQLite. Dead letters are rare, so every put is its own transaction:
 * durable before the record is acknowledged, and simple to reason about. */
#include "deadletter.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct nf_dlq {
    char *path;
    sqlite3 *db;
    sqlite3_stmt *ins;
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE IF NOT EXISTS dead_letters ("
    " n INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, id TEXT, source_uri TEXT,"
    " stage TEXT, worker INTEGER, attempt INTEGER, error TEXT NOT NULL, record BLOB,"
    " replayed_at TEXT);"
    "CREATE INDEX IF NOT EXISTS dead_letters_id ON dead_letters(id);";

struct nf_dlq *nf_dlq_new(const char *path)
{
    struct nf_dlq *d = calloc(1, sizeof(*d));
    if (d && !(d->path = strdup(path))) {
        free(d);
        return NULL;
    }
    return d;
}

void nf_dlq_destroy(struct nf_dlq **pd)
{
    if (!pd || !*pd)
        return;
    sqlite3_finalize((*pd)->ins);
    sqlite3_close((*pd)->db);
    free((*pd)->path);
    free(*pd);
    *pd = NULL;
}

static int dlq_open(struct nf_dlq *d, char *err, size_t errlen)
{
    if (d->ins)
        return 0;
    if (sqlite3_open(d->path, &d->db) != SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(d->db, 10000);
    if (sqlite3_exec(d->db, schema, NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_prepare_v2(d->db,
                           "INSERT INTO dead_letters(at, id, source_uri, stage, worker, attempt,"
                           " error, record) VALUES(strftime('%Y-%m-%dT%H:%M:%fZ','now'),"
                           " ?, ?, ?, ?, ?, ?, ?)",
                           -1, &d->ins, NULL) != SQLITE_OK)
        goto fail;
    return 0;
fail:
    snprintf(err, errlen, "dead-letter store %s: %s", d->path,
             d->db ? sqlite3_errmsg(d->db) : "cannot open");
    sqlite3_close(d->db);
    d->db = NULL;
    return -1;
}

int nf_dlq_put(struct nf_dlq *d, const char *id, const char *source_uri, const char *stage,
               int worker, int64_t attempt, const char *error, const void *bytes, size_t n,
               char *err, size_t errlen)
{
    if (dlq_open(d, err, errlen) < 0)
        return -1;
    sqlite3_stmt *s = d->ins;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, source_uri, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, stage, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, worker);
    sqlite3_bind_int64(s, 5, attempt);
    sqlite3_bind_text(s, 6, error ? error : "unknown error", -1, SQLITE_STATIC);
    if (bytes)
        sqlite3_bind_blob64(s, 7, bytes, n, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 7);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "dead-letter store %s: %s", d->path, sqlite3_errmsg(d->db));
        return -1;
    }
    return 0;
}

int nf_dlq_list(const char *path, FILE *out, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int rows = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
        goto out;
    }
    if (sqlite3_prepare_v2(db,
                           "SELECT n, at, coalesce(id,''), coalesce(source_uri,''),"
                           " coalesce(stage,''), worker, attempt, error, length(record)"
                           " FROM dead_letters ORDER BY n",
                           -1, &s, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
        goto out;
    }
    rows = 0;
    fprintf(out, "%-5s %-24s %-12s %-10s %-8s %s\n", "n", "at", "id", "stage", "bytes",
            "error / source");
    while (sqlite3_step(s) == SQLITE_ROW) {
        rows++;
        fprintf(out, "%-5lld %-24s %-12.12s %-10s %-8lld %s\n      %s\n", sqlite3_column_int64(s, 0),
                sqlite3_column_text(s, 1), sqlite3_column_text(s, 2), sqlite3_column_text(s, 4),
                sqlite3_column_int64(s, 8), sqlite3_column_text(s, 7), sqlite3_column_text(s, 3));
    }
out:
    sqlite3_finalize(s);
    sqlite3_close(db);
    return rows;
}
