/* Helpers of the store tests: see mock_store.h. */
#include "mock_store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock_core.h"

static int mock_store_by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int mock_seeds_load(struct mock_seeds *s)
{
    const char *dir = NF_SOURCE_DIR "/conf/sample";
    memset(s, 0, sizeof(*s));
    s->bamako = -1;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    char *names[16];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 16)
        if (strstr(de->d_name, ".txt"))
            names[n++] = strdup(de->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof(*names), mock_store_by_name);
    for (int i = 0; i < n; i++) {
        if (i < MOCK_SEEDS) {
            snprintf(s->uri[i], sizeof(s->uri[i]), "file://%s/%s", dir, names[i]);
            nf_id_make(s->uri[i], strlen(s->uri[i]), s->id[i]);
            s->text[i] = mock_slurp(s->uri[i] + 7, NULL);
            if (s->text[i] && strcasestr(s->text[i], "Bamako"))
                s->bamako = i;
        }
        free(names[i]);
    }
    for (int i = 0; i < MOCK_SEEDS; i++)
        if (!s->text[i])
            n = 0;
    if (n != MOCK_SEEDS || s->bamako < 0) {
        mock_seeds_free(s);
        return -1;
    }
    return 0;
}

void mock_seeds_free(struct mock_seeds *s)
{
    for (int i = 0; i < MOCK_SEEDS; i++) {
        free(s->text[i]);
        s->text[i] = NULL;
    }
}

void mock_pack_str(msgpack_packer *pk, const char *str, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, str, n);
}

void mock_seed_record(struct nf_record *rec, const struct mock_seeds *s, int i,
                      const char *fetched_at, const char *title, msgpack_sbuffer *sb)
{
    nf_record_reset(rec);
    if (i == 0) {
        msgpack_sbuffer_clear(sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 2);
        mock_pack_str(&pk, "x_sentiment", 11);
        msgpack_pack_double(&pk, -0.5);
        mock_pack_str(&pk, "x_topics", 8);
        msgpack_pack_array(&pk, 2);
        mock_pack_str(&pk, "security", 8);
        mock_pack_str(&pk, "alliance", 8);
        assert_int_equal(nf_record_decode(rec, sb->data, sb->size), 0);
    }
    nf_record_set_cstr(rec, NF_F_ID, s->id[i]);
    nf_record_set_source(rec, s->uri[i], "file");
    nf_record_set_cstr(rec, NF_F_FETCHED_AT, fetched_at);
    nf_record_set_cstr(rec, NF_F_CONTENT_TYPE, "text/plain");
    nf_record_set_bytes(rec, NF_F_RAW, s->text[i], strlen(s->text[i]));
    nf_record_set_cstr(rec, NF_F_TEXT, s->text[i]);
    nf_record_set_cstr(rec, NF_F_TITLE, title);
    nf_record_set_cstr(rec, NF_F_LANG, "en");
    nf_record_add_entity(rec, NF_ENT_PLACE, "Sahel", 1);
    nf_record_add_entity(rec, NF_ENT_ORG, "Alliance of Sahel States", i + 1);
    if (i == s->bamako) {
        nf_record_set_dateline(rec, "Bamako");
        nf_record_add_entity(rec, NF_ENT_PLACE, "Bamako", 2);
    }
}

sqlite3_stmt *mock_sqlite_row(sqlite3 *db, const char *sql, const char *arg)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (arg)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    return st;
}

char *mock_sqlite_text(sqlite3 *db, const char *sql, const char *arg)
{
    sqlite3_stmt *st = mock_sqlite_row(db, sql, arg);
    const unsigned char *t = sqlite3_column_text(st, 0);
    char *out = strdup(t ? (const char *)t : "");
    sqlite3_finalize(st);
    return out;
}
