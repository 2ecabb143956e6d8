/* show and query over the stores (views.h): the SQLite file of store_sqlite, the tables of
 * store_pg through libpq. Both print the same columns; neither writes anything. */
#include "views.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdint.h>
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

/* A stage's options as its plugin reads them: the plugin loaded, its conf struct filled from the
 * config (defaults, --set overrides, paths resolved). */
struct stage_opts {
    struct nf_plugin_handle *h;
    struct nf_strpool *pool;
    void *conf;
};

static void stage_opts_free(struct stage_opts *o)
{
    free(o->conf);
    nf_strpool_destroy(&o->pool);
    nf_plugin_unload(&o->h);
}

/* 0, or -1 with the reason in err. */
static int stage_opts_load(const struct nf_config *cfg, int s, struct stage_opts *o, char *err,
                           size_t errlen)
{
    *o = (struct stage_opts){0};
    o->h = nf_plugin_load(cfg->plugin_dir, cfg->stages[s].plugin, err, errlen);
    if (!o->h)
        return -1;
    o->pool = nf_strpool_new();
    o->conf = calloc(1, o->h->desc.conf_size + 1);
    if (!o->pool || !o->conf) {
        snprintf(err, errlen, "out of memory");
        stage_opts_free(o);
        return -1;
    }
    if (nf_config_plugin_conf(cfg, s, &o->h->desc, o->conf, o->pool, err, errlen) != 0) {
        stage_opts_free(o);
        return -1;
    }
    return 0;
}

/* The value of a string option ("" when the table has no such option or it is unset). */
static const char *opt_str(const struct stage_opts *o, const char *name)
{
    const struct nf_option *opt = nf_option_find(o->h->desc.options, name);
    const char *p = NULL;
    if (opt && (opt->type == NF_OPT_STRING || opt->type == NF_OPT_PATH))
        memcpy(&p, (char *)o->conf + opt->offset, sizeof(p));
    return p ? p : "";
}

static int64_t opt_int(const struct stage_opts *o, const char *name, int64_t dflt)
{
    const struct nf_option *opt = nf_option_find(o->h->desc.options, name);
    int64_t v = dflt;
    if (opt && (opt->type == NF_OPT_INT || opt->type == NF_OPT_SIZE))
        memcpy(&v, (char *)o->conf + opt->offset, sizeof(v));
    return v;
}

/* The file of a store_sqlite stage, from its own options. NULL with the reason in err. */
static char *store_path(const struct nf_config *cfg, int s, char *err, size_t errlen)
{
    struct stage_opts o;
    if (stage_opts_load(cfg, s, &o, err, errlen) < 0)
        return NULL;
    const char *p = opt_str(&o, "path");
    char *path = *p ? strdup(p) : NULL;
    stage_opts_free(&o);
    return path;
}

/* The table every view prints, for both stores: a title line, the header, one line per row
 * (id, date, outlet, title, story, copy of) and the count. */
static void table_head(FILE *out, const char *stage, const char *where)
{
    fprintf(out, "store %s (%s)\n", stage, where);
    cell(out, "id", 16);
    cell(out, "date", 10);
    cell(out, "outlet", 16);
    cell(out, "title", 52);
    cell(out, "story", 16);
    fputs("copy of\n", out);
}

static void table_row(FILE *out, const char *const c[6])
{
    id_cell(out, c[0], 16);
    cell(out, c[1], 10);
    cell(out, c[2], 16);
    cell(out, c[3], 52);
    id_cell(out, c[4], 16);
    fprintf(out, "%.16s\n", c[5] ? c[5] : "");
}

static void table_count(FILE *out, int rows, long long total, bool match)
{
    fprintf(out, "%d of %lld %s%s\n", rows, total, total == 1 ? "article" : "articles",
            match ? " matching, best first" : ", latest first");
}

/* A name store_sqlite gives a part of its full-text index: articles_fts, articles_fts_N. */
static bool fts_part_name(const char *s)
{
    if (!s || strncmp(s, "articles_fts", 12) != 0)
        return false;
    if (!s[12])
        return true;
    if (s[12] != '_' || !s[13])
        return false;
    for (const char *p = s + 13; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

/* Every part of the store's full-text index searched for ?1, as one set of (rowid, rank):
 * store_sqlite's parts (articles_fts_parts, schema 3), or its one articles_fts before. Each
 * part ranks its own rows with bm25, whose weights come from the part's statistics; parts hold
 * tens of thousands of articles, so a word's weight differs little from one to the next.
 * SQLite joins at most 500 SELECTs in one compound: the parts go 100 to a subquery. Caller
 * frees; NULL with the reason in err. */
static char *fts_source(sqlite3 *db, char *err, size_t errlen)
{
    char *sql = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&sql, &len);
    sqlite3_stmt *st = NULL;
    if (!out) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int n = 0, rc = sqlite3_prepare_v2(db, "SELECT name FROM articles_fts_parts ORDER BY part",
                                       -1, &st, NULL);
    if (rc != SQLITE_OK && strstr(sqlite3_errmsg(db), "no such table")) {
        rc = SQLITE_DONE;
        fputs("SELECT rowid, bm25(articles_fts) AS rank FROM articles_fts"
              " WHERE articles_fts MATCH ?1", out);
        n = 1;
    } else if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(st, 0);
            if (!fts_part_name(name)) {
                snprintf(err, errlen, "articles_fts_parts names a table '%s', not a part of "
                         "the full-text index", name ? name : "");
                rc = SQLITE_MISMATCH;
                break;
            }
            fprintf(out, "%sSELECT rowid, bm25(%s) AS rank FROM %s WHERE %s MATCH ?1",
                    n == 0            ? "SELECT * FROM ("
                    : n % 100 == 0    ? ") UNION ALL SELECT * FROM ("
                                      : " UNION ALL ",
                    name, name, name);
            n++;
        }
        if (n)
            fputs(")", out);
    }
    if (rc == SQLITE_DONE && n == 0)
        snprintf(err, errlen, "the full-text index has no parts");
    else if (rc != SQLITE_DONE && rc != SQLITE_MISMATCH)
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    fclose(out);
    if (rc != SQLITE_DONE || n == 0) {
        free(sql);
        return NULL;
    }
    return sql;
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
    /* A story is asked for by its id's first characters, in any case: the ids between the
     * prefix (lowercase, as ids are written) and the prefix followed by DEL, past every ASCII
     * character. Through story_members, each part's index on story_id finds them; a store
     * older than schema 4 (no such view) has an index on articles(story_id). */
    char lo[80], hi[81];
    size_t pn = 0;
    for (const char *c = o->story ? o->story : ""; *c && pn < sizeof(lo) - 1; c++)
        lo[pn++] = (char)tolower((unsigned char)*c);
    lo[pn] = '\0';
    memcpy(hi, lo, pn);
    hi[pn] = '\x7f', hi[pn + 1] = '\0';
    static const char latest[] =
        "SELECT id, coalesce(published_at, ''), coalesce(outlet, ''), coalesce(title, ''),"
        " coalesce(story_id, ''), coalesce(dup_of, ''), count(*) OVER () FROM articles"
        " WHERE %s"
        " AND (?3 IS NULL OR coalesce(published_at, fetched_at) >= ?3)"
        " ORDER BY coalesce(published_at, fetched_at) DESC, id LIMIT ?4";
    static const char by_members[] = "rowid IN (SELECT article_rowid FROM story_members"
                                     " WHERE story_id BETWEEN ?2 AND ?5)";
    static const char by_column[] = "story_id BETWEEN ?2 AND ?5";
    char *sql = NULL, *parts = NULL, err[512] = "";
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "newsflow: store %s (%s): %s\n", stage, path,
                db ? sqlite3_errmsg(db) : "cannot open");
        goto out;
    }
    sqlite3_busy_timeout(db, 5000);
    const char *by_story = pn ? by_column : "?2 = ''";
    if (pn) {
        sqlite3_stmt *v = NULL;
        if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_schema WHERE type = 'view' AND "
                                   "name = 'story_members'", -1, &v, NULL) == SQLITE_OK &&
            sqlite3_step(v) == SQLITE_ROW)
            by_story = by_members;
        sqlite3_finalize(v);
    }
    if (o->match) {
        if (!(parts = fts_source(db, err, sizeof(err)))) {
            fprintf(stderr, "newsflow: store %s (%s): %s\n", stage, path, err);
            goto out;
        }
        if (asprintf(&sql,
                     "SELECT a.id, coalesce(a.published_at, ''), coalesce(a.outlet, ''),"
                     " coalesce(a.title, ''), coalesce(a.story_id, ''), coalesce(a.dup_of, ''),"
                     " count(*) OVER () FROM (%s) f"
                     " JOIN articles a ON a.rowid = f.rowid"
                     " WHERE %s%s"
                     " AND (?3 IS NULL OR coalesce(a.published_at, a.fetched_at) >= ?3)"
                     " ORDER BY f.rank, a.id LIMIT ?4",
                     parts, pn ? "a." : "", by_story) < 0) {
            sql = NULL;
            fprintf(stderr, "newsflow: out of memory\n");
            goto out;
        }
    }
    if (!sql && asprintf(&sql, latest, by_story) < 0) {
        sql = NULL;
        fprintf(stderr, "newsflow: out of memory\n");
        goto out;
    }
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
        fprintf(stderr, "newsflow: store %s (%s): %s\n", stage, path, sqlite3_errmsg(db));
        goto out;
    }
    if (o->match)
        sqlite3_bind_text(q, 1, o->match, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, lo, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, hi, -1, SQLITE_STATIC);
    if (o->since)
        sqlite3_bind_text(q, 3, o->since, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 4, limit);
    table_head(out, stage, path);
    int rows = 0, step;
    long long total = 0;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        const char *c[6];
        for (int i = 0; i < 6; i++)
            c[i] = (const char *)sqlite3_column_text(q, i);
        total = sqlite3_column_int64(q, 6);
        table_row(out, c);
        rows++;
    }
    if (step != SQLITE_DONE) {
        fprintf(stderr, "newsflow: store %s: %s\n", stage, sqlite3_errmsg(db));
        goto out;
    }
    table_count(out, rows, total, o->match != NULL);
    rc = 0;
out:
    sqlite3_finalize(q);
    sqlite3_close(db);
    free(sql);
    free(parts);
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

/* ---- PostgreSQL --------------------------------------------------------------------------- */

/* Type OIDs of the parameters (pg_type.h is a server header). */
#define PG_TEXTOID 25
#define PG_REGCONFIGOID 3734

/* libpq's message (often several lines) on one line: each run of spaces, tabs and newlines
 * one space, none at the end. */
static const char *pg_oneline(char *buf, size_t n, const char *msg)
{
    snprintf(buf, n, "%s", msg && *msg ? msg : "unknown error");
    char *w = buf;
    for (const char *p = buf; *p; p++) {
        bool space = *p == ' ' || *p == '\n' || *p == '\t';
        if (!space)
            *w++ = *p;
        else if (w > buf && w[-1] != ' ')
            *w++ = ' ';
    }
    while (w > buf && w[-1] == ' ')
        w--;
    *w = '\0';
    return buf;
}

static void pg_quiet(void *arg, const char *message)
{
    /* a NOTICE such as "text-search query doesn't contain lexemes" ends as 0 rows */
    (void)arg;
    (void)message;
}

static void append(char *out, size_t n, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *out, size_t n, size_t *len, const char *fmt, ...)
{
    if (*len >= n)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(out + *len, n - *len, fmt, ap);
    va_end(ap);
    *len = w < 0 ? n : *len + (size_t)w;
}

/* One keyword = value of a conninfo, the value quoted when it has to be. */
static void append_setting(char *out, size_t n, size_t *len, const char *key, const char *val)
{
    append(out, n, len, "%s%s=", *len ? " " : "", key);
    if (*val && !strpbrk(val, " \t\n'\\")) {
        append(out, n, len, "%s", val);
        return;
    }
    append(out, n, len, "'");
    for (const char *p = val; *p; p++)
        append(out, n, len, "%s%c", *p == '\'' || *p == '\\' ? "\\" : "", *p);
    append(out, n, len, "'");
}

/* The connection's settings as a conninfo, without any password: every keyword the stage's
 * conninfo sets, and where libpq went for the ones it leaves out (host, port, dbname, user). */
static void pg_describe(PGconn *c, const char *conninfo, char *out, size_t n)
{
    static const char *const always[] = {"host", "hostaddr", "port", "dbname", "user"};
    PQconninfoOption *set = PQconninfoParse(conninfo, NULL);
    PQconninfoOption *used = c ? PQconninfo(c) : NULL;
    size_t len = 0;
    out[0] = '\0';
    for (PQconninfoOption *o = used ? used : set; o && o->keyword; o++) {
        if (!o->val || !*o->val || strstr(o->keyword, "password"))
            continue;
        bool shown = false;
        for (size_t i = 0; i < sizeof(always) / sizeof(*always); i++)
            shown = shown || strcmp(o->keyword, always[i]) == 0;
        for (PQconninfoOption *s = set; !shown && s && s->keyword; s++)
            shown = strcmp(s->keyword, o->keyword) == 0 && s->val;
        if (shown)
            append_setting(out, n, &len, o->keyword, o->val);
    }
    if (!out[0])
        snprintf(out, n, "libpq's defaults");
    PQconninfoFree(set);
    PQconninfoFree(used);
}

/* Connects as the store_pg stage does (its conninfo, expanded where it stands, and its
 * connect_timeout). NULL after saying why; `where` names the database for the title line. */
static PGconn *pg_connect(const struct stage_opts *o, const char *stage, char *where,
                          size_t wherelen)
{
    const char *conninfo = opt_str(o, "conninfo");
    char *perr = NULL, msg[600];
    PQconninfoOption *parsed = PQconninfoParse(conninfo, &perr);
    if (!parsed) {
        fprintf(stderr, "newsflow: stage %s: its conninfo is not valid: %s\n", stage,
                pg_oneline(msg, sizeof(msg), perr ? perr : "out of memory"));
        PQfreemem(perr);
        return NULL;
    }
    PQconninfoFree(parsed);
    char timeout[24];
    snprintf(timeout, sizeof(timeout), "%lld", (long long)opt_int(o, "connect_timeout", 10));
    const char *const keys[] = {"connect_timeout", "gssencmode", "fallback_application_name",
                                "dbname", "client_encoding", NULL};
    const char *const vals[] = {timeout, "disable", "newsflow", conninfo, "UTF8", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c) {
        fprintf(stderr, "newsflow: stage %s: out of memory\n", stage);
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        char desc[600];
        pg_describe(c, conninfo, desc, sizeof(desc));
        fprintf(stderr, "newsflow: store %s: cannot reach the PostgreSQL server (%s): %s\n",
                stage, desc, pg_oneline(msg, sizeof(msg), PQerrorMessage(c)));
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, pg_quiet, NULL);
    const char *db = PQdb(c), *host = PQhost(c), *port = PQport(c);
    snprintf(where, wherelen, "database %s on %s%s%s", db && *db ? db : "(default)",
             host && *host ? host : "(default host)", port && *port ? ":" : "",
             port && *port ? port : "");
    return c;
}

/* A table of the stage as store_pg names it: schema-qualified when the stage sets a schema,
 * each part quoted. Caller frees; NULL on allocation failure. */
static char *pg_table(PGconn *c, const char *schema, const char *prefix, const char *bare)
{
    char name[160];
    snprintf(name, sizeof(name), "%s%s", prefix, bare);
    char *q = PQescapeIdentifier(c, name, strlen(name));
    char *qs = *schema ? PQescapeIdentifier(c, schema, strlen(schema)) : NULL;
    char *out = NULL;
    if (q && (qs || !*schema) &&
        asprintf(&out, "%s%s%s", qs ? qs : "", qs ? "." : "", q) < 0)
        out = NULL;
    PQfreemem(q);
    PQfreemem(qs);
    return out;
}

/* What the store holds to search with: 1 when the table exists, with *tsv set when it has
 * store_pg's full-text column and cfg set to the configuration that column was made with
 * (else the stage's fts_config). 0 when the table does not exist, -1 on an error (said). */
static int pg_inspect(PGconn *c, const char *stage, const char *where, const char *articles,
                      const char *meta, bool *tsv, char *cfg, size_t cfglen)
{
    char msg[600];
    const char *p[2] = {articles, meta};
    PGresult *r = PQexecParams(c,
                               "SELECT to_regclass($1) IS NOT NULL, EXISTS (SELECT 1 FROM "
                               "pg_attribute WHERE attrelid = to_regclass($1) AND attname = "
                               "'tsv' AND NOT attisdropped), to_regclass($2) IS NOT NULL",
                               2, NULL, p, NULL, NULL, 0);
    int rc = -1;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "newsflow: store %s (%s): %s\n", stage, where,
                pg_oneline(msg, sizeof(msg), PQresultErrorMessage(r)));
        goto out;
    }
    rc = PQgetvalue(r, 0, 0)[0] == 't';
    *tsv = PQgetvalue(r, 0, 1)[0] == 't';
    bool have_meta = PQgetvalue(r, 0, 2)[0] == 't';
    PQclear(r);
    r = NULL;
    if (rc == 1 && *tsv && have_meta) {
        char *sql = NULL;
        if (asprintf(&sql, "SELECT value FROM %s WHERE key = 'fts_config'", meta) < 0) {
            rc = -1;
            goto out;
        }
        r = PQexec(c, sql);
        free(sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            snprintf(cfg, cfglen, "%s", PQgetvalue(r, 0, 0));
    }
out:
    PQclear(r);
    return rc;
}

/* The match expression: store_pg's tsv column, or the same vector made from each row (which an
 * index on this expression, with the configuration written as a constant, serves). */
static const char pg_vector_made[] =
    "(setweight(to_tsvector($5, coalesce(a.title, '')), 'A') || "
    "setweight(to_tsvector($5, coalesce(a.text, '')), 'B'))";

/* One query of the same shape as SQLite's: $1 the search, $2 a story id's first characters
 * (ids are lower-case hex; SQLite's LIKE takes them in either case), $3 the first day, $4 the
 * limit, $5 the text search configuration. Dates and ids compare as
 * bytes (COLLATE "C"), as in SQLite, whatever the database's collation. */
static char *pg_sql(const char *articles, bool match, bool tsv)
{
    const char *vec = tsv ? "a.tsv" : pg_vector_made;
    char *sql = NULL;
    int n = match
                ? asprintf(&sql,
                           "SELECT a.id, coalesce(a.published_at, ''), coalesce(a.outlet, ''),"
                           " coalesce(a.title, ''), coalesce(a.story_id, ''),"
                           " coalesce(a.dup_of, ''), count(*) OVER () FROM %s a"
                           " WHERE %s @@ websearch_to_tsquery($5, $1)"
                           " AND ($2::text IS NULL OR starts_with(a.story_id, lower($2)))"
                           " AND ($3::text IS NULL OR"
                           " coalesce(a.published_at, a.fetched_at) COLLATE \"C\" >= $3)"
                           " ORDER BY ts_rank(%s, websearch_to_tsquery($5, $1)) DESC,"
                           " a.id COLLATE \"C\" LIMIT $4::bigint",
                           articles, vec, vec)
                : asprintf(&sql,
                           "SELECT a.id, coalesce(a.published_at, ''), coalesce(a.outlet, ''),"
                           " coalesce(a.title, ''), coalesce(a.story_id, ''),"
                           " coalesce(a.dup_of, ''), count(*) OVER () FROM %s a"
                           " WHERE ($2::text IS NULL OR starts_with(a.story_id, lower($2)))"
                           " AND ($3::text IS NULL OR"
                           " coalesce(a.published_at, a.fetched_at) COLLATE \"C\" >= $3)"
                           " ORDER BY coalesce(a.published_at, a.fetched_at) COLLATE \"C\" DESC"
                           " NULLS LAST, a.id COLLATE \"C\" LIMIT $4::bigint",
                           articles);
    return n < 0 ? NULL : sql;
}

static int pg_rows(PGconn *c, const char *sql, const struct nf_show_opts *o, const char *cfg,
                   const char *stage, const char *where, FILE *out)
{
    char limit[16], msg[600];
    snprintf(limit, sizeof(limit), "%d", o->limit > 0 ? o->limit : 50);
    const char *p[5] = {o->match, o->story && *o->story ? o->story : NULL, o->since, limit,
                        o->match ? cfg : NULL};
    /* the configuration as a regconfig parameter: bound as a constant, the expression matches
     * an index made on the same expression with that configuration */
    const Oid types[5] = {PG_TEXTOID, PG_TEXTOID, PG_TEXTOID, PG_TEXTOID, PG_REGCONFIGOID};
    PGresult *r = PQexecParams(c, sql, 5, types, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "newsflow: store %s (%s): %s\n", stage, where,
                pg_oneline(msg, sizeof(msg), PQresultErrorMessage(r)));
        PQclear(r);
        return 1;
    }
    table_head(out, stage, where);
    int rows = PQntuples(r);
    for (int i = 0; i < rows; i++) {
        const char *cols[6];
        for (int j = 0; j < 6; j++)
            cols[j] = PQgetvalue(r, i, j);
        table_row(out, cols);
    }
    table_count(out, rows, rows ? strtoll(PQgetvalue(r, 0, 6), NULL, 10) : 0, o->match != NULL);
    PQclear(r);
    return 0;
}

static int show_pg(const struct nf_config *cfg, int s, const struct nf_show_opts *o, FILE *dest)
{
    const char *stage = cfg->stages[s].name;
    char err[2048] = "", where[300], fts[128];
    struct stage_opts so;
    if (stage_opts_load(cfg, s, &so, err, sizeof(err)) < 0) {
        fprintf(stderr, "newsflow: stage %s: %s\n", stage, err);
        return 1;
    }
    int rc = 1;
    char *articles = NULL, *meta = NULL, *sql = NULL, *body = NULL;
    size_t body_len = 0;
    FILE *out = NULL;
    PGconn *c = pg_connect(&so, stage, where, sizeof(where));
    if (!c)
        goto out;
    const char *schema = opt_str(&so, "schema"), *prefix = opt_str(&so, "table_prefix");
    articles = pg_table(c, schema, prefix, "articles");
    meta = pg_table(c, schema, prefix, "meta");
    if (!articles || !meta) {
        fprintf(stderr, "newsflow: store %s (%s): cannot quote the table names: %s\n", stage,
                where, pg_oneline(err, sizeof(err), PQerrorMessage(c)));
        goto out;
    }
    snprintf(fts, sizeof(fts), "%s", opt_str(&so, "fts_config"));
    bool tsv = false;
    int have = pg_inspect(c, stage, where, articles, meta, &tsv, fts, sizeof(fts));
    if (have < 0)
        goto out;
    if (have == 0) {
        fprintf(stderr, "newsflow: store %s (%s): there is no table %s (the stage creates it "
                "when it first starts; its schema and table_prefix name it)\n", stage, where,
                articles);
        goto out;
    }
    if (o->match && !tsv)
        fprintf(stderr, "newsflow: store %s: %s has no full-text column (the stage has fts = "
                "false): titles and texts are searched with to_tsvector, row by row unless "
                "the table has a GIN index on that expression (docs/postgres.md)\n", stage,
                articles);
    /* the table goes to memory first: nothing is printed of a query that fails */
    if (!(sql = pg_sql(articles, o->match != NULL, tsv)) ||
        !(out = open_memstream(&body, &body_len))) {
        fprintf(stderr, "newsflow: out of memory\n");
        goto out;
    }
    rc = pg_rows(c, sql, o, fts, stage, where, out);
out:
    if (out)
        fclose(out);
    if (rc == 0)
        fwrite(body, 1, body_len, dest);
    free(body);
    free(sql);
    free(articles);
    free(meta);
    PQfinish(c);
    stage_opts_free(&so);
    return rc;
}

int nf_show(const struct nf_config *cfg, const struct nf_show_opts *o, FILE *out)
{
    int shown = 0;
    for (int s = 0; s < cfg->n_stages; s++) {
        if (strcmp(cfg->stages[s].plugin, "store_pg") == 0) {
            int rc = show_pg(cfg, s, o, out);
            if (rc)
                return rc;
            shown++;
            continue;
        }
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
        fprintf(stderr, "newsflow: no store_sqlite or store_pg stage in %s (show and query "
                        "read what those store)\n",
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
