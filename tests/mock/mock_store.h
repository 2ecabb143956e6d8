/* What the store tests share: the sample articles of conf/sample as the records a store is
 * handed, and reading a value back from an SQLite database. Test helpers: they fail the running
 * cmocka test on what should not happen, they do not report it. */
#ifndef NF_MOCK_STORE_H
#define NF_MOCK_STORE_H

#include <msgpack.h>
#include <sqlite3.h>
#include <stddef.h>

#include "newsflow/record.h"

#define MOCK_SEEDS 5

struct mock_seeds {
    char uri[MOCK_SEEDS][1024]; /* file:// URI, as fetch_dir gives it */
    char id[MOCK_SEEDS][33];    /* the id made from the URI */
    char *text[MOCK_SEEDS];     /* the whole file (owned) */
    int bamako;                 /* the seed that mentions Bamako */
};

/* Loads the .txt files of conf/sample, sorted by name, into s. 0, or -1 (with whatever was
 * loaded freed) when there are not MOCK_SEEDS of them or none mentions Bamako. */
int mock_seeds_load(struct mock_seeds *s);
void mock_seeds_free(struct mock_seeds *s);

/* Packs a string of n bytes. */
void mock_pack_str(msgpack_packer *pk, const char *str, size_t n);

/* Resets rec to seed i as the extract stage hands it on: id, source (file), fetched_at,
 * content_type text/plain, raw and text (the file), title, lang en, the entities place Sahel (1)
 * and org Alliance of Sahel States (i + 1), and for the Bamako seed its dateline and place
 * Bamako (2). Seed 0 also carries two keys this build does not know, x_sentiment (-0.5) and
 * x_topics (["security", "alliance"]), decoded from sb (cleared first; rec borrows it). */
void mock_seed_record(struct nf_record *rec, const struct mock_seeds *s, int i,
                      const char *fetched_at, const char *title, msgpack_sbuffer *sb);

/* Prepares sql on db with arg (NULL: none) bound to ?1 and steps to its first row; fails the
 * test when there is none. The caller reads the row and finalizes the statement. */
sqlite3_stmt *mock_sqlite_row(sqlite3 *db, const char *sql, const char *arg);

/* The first row's first column as text, "" for NULL (caller frees). */
char *mock_sqlite_text(sqlite3 *db, const char *sql, const char *arg);

#endif
