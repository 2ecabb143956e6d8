/* show and query over the embedded store (views.h). */
#include "views.h"

#include <limits.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "plugin_loader.h"

/* Prints one cell of exactly `width` characters: cut between UTF-8 characters (a cut ends with
 * '~'), padded with spaces, and two spaces after it, so columns never touch. */
static void cell_ex(FILE *out, const char *s, int width, bool mark);

static void cell(FILE *out, const char *s, int width)
{
    cell_ex(out, s, width, true);
}

/* Ids are shown by their first characters, as short as they stay unique in practice. */
static void id_cell(FILE *out, const char *s, int width)
{
    cell_ex(out, s, width, false);
}

static void cell_ex(FILE *out, const char *s, int width, bool mark)
{
    int chars = 0;
    const char *p = s ? s : "";
    const char *start = p;
    while (*p && chars < width) {
        p++;
        while ((*p & 0xC0) == 0x80)
            p++;
        chars++;
    }
    if (*p && chars == width && mark) { /* cut: leave room for the mark */
        const char *q = start;
        int keep = 0;
        const char *end = start;
        while (*q && keep < width - 1) {
            q++;
            while ((*q & 0xC0) == 0x80)
                q++;
            keep++;
            end = q;
        }
        fwrite(start, 1, (size_t)(end - start), out);
        fputc('~', out);
        chars = keep + 1;
    } else {
        fwrite(start, 1, (size_t)(p - start), out);
    }
    for (; chars < width; chars++)
        fputc(' ', out);
    fputs("  ", out);
}

/* The file of a store_sqlite stage, from its own options. NULL with the reason in err. */
static char *store_path(const struct nf_config *cfg, int s, char *err, size_t errlen)
{
    struct nf_plugin_handle *h = nf_plugin_load(cfg->plugin_dir, cfg->stages[s].plugin, err,
                                                errlen);
    if (!h)
        return NULL;
    struct nf_strpool *pool = nf_strpool_new();
    void *conf = calloc(1, h->desc.conf_size + 1);
    const struct nf_option *o = nf_option_find(h->desc.options, "path");
    char *path = NULL;
    if (pool && conf && o &&
        nf_config_plugin_conf(cfg, s, &h->desc, conf, pool, err, errlen) == 0) {
        const char *p = NULL;
        memcpy(&p, (char *)conf + o->offset, sizeof(p));
        path = p ? strdup(p) : NULL;
    }
    free(conf);
    nf_strpool_destroy(&pool);
    nf_plugin_unload(&h);
    return path;
}

static int show_one(const char *path, const char *stage, const struct nf_show_opts *o,
                    FILE *dest)
{
    /* the table goes to memory first: nothing is printed of a query that fails */
    char *body = NULL;
    size_t body_len = 0;
    FILE *out = open_memstream(&body, &body_len);
    if (!out)
        return 1;
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int limit = o->limit > 0 ? o->limit : 50, rc = 1;
    char like[80];
    snprintf(like, sizeof(like), "%s%%", o->story ? o->story : "");
    const char *sql =
        o->match
            ? "SELECT a.id, coalesce(a.published_at, ''), coalesce(a.outlet, ''),"
              " coalesce(a.title, ''), coalesce(a.story_id, ''), coalesce(a.dup_of, ''),"
              " count(*) OVER () FROM (SELECT rowid, bm25(articles_fts) AS rank"
              " FROM articles_fts WHERE articles_fts MATCH ?1) f"
              " JOIN articles a ON a.rowid = f.rowid"
              " WHERE (?2 = '%' OR a.story_id LIKE ?2)"
              " AND (?3 IS NULL OR coalesce(a.published_at, a.fetched_at) >= ?3)"
              " ORDER BY f.rank LIMIT ?4"
            : "SELECT id, coalesce(published_at, ''), coalesce(outlet, ''), coalesce(title, ''),"
              " coalesce(story_id, ''), coalesce(dup_of, ''), count(*) OVER () FROM articles"
              " WHERE (?2 = '%' OR story_id LIKE ?2)"
              " AND (?3 IS NULL OR coalesce(published_at, fetched_at) >= ?3)"
              " ORDER BY coalesce(published_at, fetched_at) DESC, id LIMIT ?4";
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
        fprintf(stderr, "newsflow: store %s (%s): %s\n", stage, path,
                db ? sqlite3_errmsg(db) : "cannot open");
        goto out;
    }
    sqlite3_busy_timeout(db, 5000);
    if (o->match)
        sqlite3_bind_text(q, 1, o->match, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, like, -1, SQLITE_STATIC);
    if (o->since)
        sqlite3_bind_text(q, 3, o->since, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 4, limit);
    fprintf(out, "store %s (%s)\n", stage, path);
    cell(out, "id", 16);
    cell(out, "date", 10);
    cell(out, "outlet", 16);
    cell(out, "title", 52);
    cell(out, "story", 16);
    fputs("copy of\n", out);
    int rows = 0, step;
    long long total = 0;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        const char *c[6];
        for (int i = 0; i < 6; i++)
            c[i] = (const char *)sqlite3_column_text(q, i);
        total = sqlite3_column_int64(q, 6);
        id_cell(out, c[0], 16);
        cell(out, c[1], 10);
        cell(out, c[2], 16);
        cell(out, c[3], 52);
        id_cell(out, c[4], 16);
        fprintf(out, "%.16s\n", c[5]);
        rows++;
    }
    if (step != SQLITE_DONE) {
        fprintf(stderr, "newsflow: store %s: %s\n", stage, sqlite3_errmsg(db));
        goto out;
    }
    fprintf(out, "%d of %lld %s%s\n", rows, total, total == 1 ? "article" : "articles",
            o->match ? " matching, best first" : ", latest first");
    rc = 0;
out:
    sqlite3_finalize(q);
    sqlite3_close(db);
    fclose(out);
    if (rc == 0)
        fwrite(body, 1, body_len, dest);
    free(body);
    return rc;
}

/* Plain words for FTS5: each word a quoted string, so that punctuation, a stray quote or a
 * word such as NOT is searched for rather than read as query syntax. */
static char *as_words(const char *text)
{
    size_t n = strlen(text);
    char *q = malloc(n * 3 + 8), *w = q;
    if (!q)
        return NULL;
    for (const char *p = text; *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        if (w > q)
            *w++ = ' ';
        *w++ = '"';
        for (; *p && *p != ' ' && *p != '\t'; p++) {
            if (*p == '"')
                *w++ = '"';
            *w++ = *p;
        }
        *w++ = '"';
    }
    *w = '\0';
    return q;
}

int nf_show(const struct nf_config *cfg, const struct nf_show_opts *o, FILE *out)
{
    int shown = 0;
    for (int s = 0; s < cfg->n_stages; s++) {
        if (strcmp(cfg->stages[s].plugin, "store_sqlite") != 0)
            continue;
        char err[2048] = "";
        char *path = store_path(cfg, s, err, sizeof(err));
        if (!path) {
            fprintf(stderr, "newsflow: stage %s: %s\n", cfg->stages[s].name,
                    err[0] ? err : "no path");
            return 1;
        }
        int rc = show_one(path, cfg->stages[s].name, o, out);
        if (rc && o->match) { /* not valid FTS5 syntax: the same text as plain words */
            struct nf_show_opts plain = *o;
            plain.match = as_words(o->match);
            if (plain.match) {
                fprintf(stderr, "newsflow: searching for the words themselves instead\n");
                rc = show_one(path, cfg->stages[s].name, &plain, out);
                free((char *)plain.match);
            }
        }
        free(path);
        if (rc)
            return rc;
        shown++;
    }
    if (!shown)
        fprintf(stderr, "newsflow: no store_sqlite stage in %s (show and query read the "
                        "embedded store; for PostgreSQL use psql, see docs/postgres.md)\n",
                cfg->path);
    return shown ? 0 : 1;
}

int nf_recent_stories(const struct nf_config *cfg, int recent, int top,
                      void (*fn)(void *arg, const char *story, int n, const char *title),
                      void *arg)
{
    int s = 0;
    while (s < cfg->n_stages && strcmp(cfg->stages[s].plugin, "store_sqlite") != 0)
        s++;
    if (s == cfg->n_stages)
        return -1;
    char err[512];
    char *path = store_path(cfg, s, err, sizeof(err));
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int n = -1;
    if (path && sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db,
                           "SELECT story_id, count(*) AS c, max(title) FROM (SELECT story_id, "
                           "title FROM articles ORDER BY rowid DESC LIMIT ?1) WHERE story_id "
                           "IS NOT NULL GROUP BY story_id ORDER BY c DESC, story_id LIMIT ?2",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 200);
        sqlite3_bind_int(q, 1, recent);
        sqlite3_bind_int(q, 2, top);
        n = 0;
        while (sqlite3_step(q) == SQLITE_ROW) {
            fn(arg, (const char *)sqlite3_column_text(q, 0), sqlite3_column_int(q, 1),
               (const char *)sqlite3_column_text(q, 2));
            n++;
        }
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    free(path);
    return n;
}
