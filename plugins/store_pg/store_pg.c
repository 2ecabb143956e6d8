/* store_pg: articles in PostgreSQL through libpq. One row per article id (upserted), its
 * entities in their own table, a generated tsvector column with a GIN index. process() only
 * copies a record into the batch; flush() sends the batch as one pipeline of prepared statements
 * in one transaction, so nothing is acknowledged before it is committed. It creates its tables,
 * never databases or roles (docs/postgres.md). */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../dedup/amend.h"
#include "msgpack_json.h"
#include "newsflow/plugin.h"
#include "plugin_util.h"

#define STORE_PG_SCHEMA 1
/* The key of the advisory lock that makes workers starting together create the schema in turn
 * (two concurrent CREATE TABLE IF NOT EXISTS can both fail on the catalogue's unique index). */
#define STORE_PG_LOCK 0x6e667067
#define STORE_PG_BACKOFF_MS 100
#define STORE_PG_MAX_NAME 63   /* PostgreSQL cuts identifiers at 63 bytes */
#define STORE_PG_MAX_PREFIX 40 /* leaves room for the longest name after it */

/* Type OIDs of the parameters (pg_type.h is a server header). */
#define STORE_PG_TEXTOID 25
#define STORE_PG_BYTEAOID 17

struct store_pg_conf {
    const char *conninfo;
    const char *schema;
    const char *table_prefix;
    bool fts;
    const char *fts_config;
    bool store_raw;
    int64_t connect_timeout;
    int64_t reconnect_max_ms;
};

static const struct nf_option store_pg_options[] = {
    {"conninfo", NF_OPT_STRING, "", offsetof(struct store_pg_conf, conninfo),
     "libpq connection string, keyword/value (\"host=db1 dbname=news user=newsflow\") or URI "
     "(\"postgresql://newsflow@db1/news\"). Empty: libpq's defaults and the PG* environment "
     "variables (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD or ~/.pgpass, ...)."},
    {"schema", NF_OPT_STRING, "", offsetof(struct store_pg_conf, schema),
     "PostgreSQL schema that holds the tables, created when missing. Empty: the first schema "
     "of the connection's search_path (normally public).",
     .max = NF_OPT_BOUND(STORE_PG_MAX_NAME)},
    {"table_prefix", NF_OPT_STRING, "", offsetof(struct store_pg_conf, table_prefix),
     "Prefix of every table and index name: \"nf_\" gives nf_articles, nf_entities, nf_meta, "
     "nf_refused.", .max = NF_OPT_BOUND(STORE_PG_MAX_PREFIX)},
    {"fts", NF_OPT_BOOL, "true", offsetof(struct store_pg_conf, fts),
     "Keep a full-text column (tsv, generated from title and text) with a GIN index. Once "
     "created it is kept up to date even if this is later set to false."},
    {"fts_config", NF_OPT_STRING, "simple", offsetof(struct store_pg_conf, fts_config),
     "Text search configuration of the tsv column: simple (words as written, lower-cased, any "
     "language) or a stemming one such as english or french. Fixed when the column is created.",
     .min = "1"},
    {"store_raw", NF_OPT_BOOL, "false", offsetof(struct store_pg_conf, store_raw),
     "Also keep the bytes as fetched (column raw)."},
    {"connect_timeout", NF_OPT_INT, "10", offsetof(struct store_pg_conf, connect_timeout),
     "Seconds to wait for a connection, unless conninfo sets connect_timeout (0: forever).",
     .min = "0"},
    {"reconnect_max_ms", NF_OPT_INT, "10000", offsetof(struct store_pg_conf, reconnect_max_ms),
     "After the server went away, the first flush reconnects at once, later ones wait 100 ms "
     "doubling up to this long between attempts.", .min = "0"},
    {.name = NULL},
};

/* The names the SQL below uses as {key}, quoted for this connection's settings. */
enum { N_ARTICLES, N_ENTITIES, N_META, N_REFUSED, N_IX_STORY, N_IX_DUP, N_IX_ENAME, N_IX_TSV,
       N_FTS_CONFIG, N_COUNT };
static const char *const store_pg_keys[N_COUNT] = {
    [N_ARTICLES] = "articles", [N_ENTITIES] = "entities", [N_META] = "meta",
    [N_REFUSED] = "refused",   [N_IX_STORY] = "ix_story", [N_IX_DUP] = "ix_dup",
    [N_IX_ENAME] = "ix_ename", [N_IX_TSV] = "ix_tsv",     [N_FTS_CONFIG] = "fts_config",
};
/* The tables and indexes as named without the prefix. */
static const char *const store_pg_bare[N_COUNT] = {
    [N_ARTICLES] = "articles",           [N_ENTITIES] = "entities",
    [N_META] = "meta",                   [N_REFUSED] = "refused",
    [N_IX_STORY] = "articles_story",     [N_IX_DUP] = "articles_dup_of",
    [N_IX_ENAME] = "entities_name",      [N_IX_TSV] = "articles_tsv",
};

static const char store_pg_meta_sql[] =
    "CREATE TABLE IF NOT EXISTS {meta}(key text PRIMARY KEY, value text NOT NULL)";

static const char store_pg_tables_sql[] =
    "CREATE TABLE IF NOT EXISTS {articles}(\n"
    "  id text PRIMARY KEY, source_uri text, source_kind text, fetched_at text,\n"
    "  content_type text, title text, byline text, outlet text, published_at text,\n"
    "  dateline_place text, lang text, url text, text text, dup_of text, story_id text,\n"
    "  raw bytea, extra jsonb, stored_at timestamptz NOT NULL DEFAULT now());\n"
    "CREATE INDEX IF NOT EXISTS {ix_story} ON {articles}(story_id) WHERE story_id IS NOT NULL;\n"
    "CREATE INDEX IF NOT EXISTS {ix_dup} ON {articles}(dup_of) WHERE dup_of IS NOT NULL;\n"
    "CREATE TABLE IF NOT EXISTS {entities}(\n"
    "  article_id text NOT NULL, type text NOT NULL, name text NOT NULL,\n"
    "  mentions bigint NOT NULL DEFAULT 0, PRIMARY KEY(article_id, type, name));\n"
    "CREATE INDEX IF NOT EXISTS {ix_ename} ON {entities}(name, type);\n"
    "CREATE TABLE IF NOT EXISTS {refused}(\n"
    "  id text PRIMARY KEY, reason text NOT NULL, refused_at timestamptz NOT NULL DEFAULT now())";

/* Title words weigh more than body words in ts_rank. */
static const char store_pg_fts_sql[] =
    "ALTER TABLE {articles} ADD COLUMN IF NOT EXISTS tsv tsvector GENERATED ALWAYS AS (\n"
    "  setweight(to_tsvector({fts_config}::regconfig, coalesce(title, '')), 'A') ||\n"
    "  setweight(to_tsvector({fts_config}::regconfig, coalesce(text, '')), 'B')) STORED;\n"
    "CREATE INDEX IF NOT EXISTS {ix_tsv} ON {articles} USING gin(tsv)";

/* Parameters of the upsert, $1 .. $18: the article's columns (enum nfu_col) in their order,
 * then extra and the entities. */
enum { C_ID = NFU_COL_ID, C_RAW = NFU_COL_RAW, C_EXTRA = NFU_COL_COUNT, C_ENTITIES, C_COUNT };

/* One statement a record: the row, then its entities made equal to the record's list (what is
 * no longer listed goes, the rest is inserted or updated). The CTEs see one snapshot, which is
 * why the delete and the insert never touch the same key. The same entity listed twice in one
 * record counts its mentions together. */
static const char store_pg_upsert_sql[] =
    "WITH a AS (\n"
    "  INSERT INTO {articles} AS t(id, source_uri, source_kind, fetched_at, content_type, title,\n"
    "    byline, outlet, published_at, dateline_place, lang, url, text, dup_of, story_id, raw,\n"
    "    extra, stored_at)\n"
    "  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,\n"
    "    $17::jsonb, now())\n"
    "  ON CONFLICT (id) DO UPDATE SET source_uri = excluded.source_uri,\n"
    "    source_kind = excluded.source_kind, fetched_at = excluded.fetched_at,\n"
    "    content_type = excluded.content_type, title = excluded.title,\n"
    "    byline = excluded.byline, outlet = excluded.outlet,\n"
    "    published_at = excluded.published_at, dateline_place = excluded.dateline_place,\n"
    "    lang = excluded.lang, url = excluded.url, text = excluded.text,\n"
    "    dup_of = excluded.dup_of, story_id = excluded.story_id, raw = excluded.raw,\n"
    "    extra = excluded.extra, stored_at = excluded.stored_at\n"
    "  RETURNING 1),\n"
    "n AS (\n"
    "  SELECT e.type, e.name, sum(e.mentions)::bigint AS mentions\n"
    "  FROM jsonb_to_recordset(coalesce($18::jsonb, '[]'::jsonb))\n"
    "    AS e(type text, name text, mentions bigint)\n"
    "  GROUP BY e.type, e.name),\n"
    "d AS (\n"
    "  DELETE FROM {entities} x WHERE x.article_id = $1\n"
    "    AND NOT EXISTS (SELECT 1 FROM n WHERE n.type = x.type AND n.name = x.name))\n"
    "INSERT INTO {entities} AS x(article_id, type, name, mentions)\n"
    "SELECT $1, n.type, n.name, n.mentions FROM n\n"
    "ON CONFLICT (article_id, type, name) DO UPDATE SET mentions = excluded.mentions\n"
    "  WHERE x.mentions IS DISTINCT FROM excluded.mentions";

static const char store_pg_refuse_sql[] =
    "INSERT INTO {refused}(id, reason) VALUES ($1, $2)\n"
    "ON CONFLICT (id) DO UPDATE SET reason = excluded.reason, refused_at = now()";

static const char store_pg_take_sql[] = "DELETE FROM {refused} WHERE id = $1 RETURNING reason";

/* Corrections of earlier verdicts a record carries (amend.h): by id for dup_of and story_of, a
 * story's members by its old id; applied after the batch's rows, in the order they arrived. */
static const char store_pg_amend_dup_sql[] =
    "UPDATE {articles} SET dup_of = $2 WHERE id = $1 AND dup_of IS DISTINCT FROM $2";
static const char store_pg_amend_story_sql[] =
    "UPDATE {articles} SET story_id = $2 WHERE story_id = $1";
static const char store_pg_amend_story_of_sql[] =
    "UPDATE {articles} SET story_id = $2 WHERE id = $1 AND story_id IS DISTINCT FROM $2";

struct store_pg_amend {
    enum nf_amend_kind kind;
    char key[33], val[33]; /* val "": NULL */
};

/* A buffered record: where each parameter's bytes are in the arena (len -1: NULL). */
struct store_pg_row {
    size_t off[C_COUNT];
    int len[C_COUNT];
    const char *reason; /* set when the server refused the row in this flush (owned) */
};

struct store_pg {
    const struct store_pg_conf *conf;
    PGconn *conn;
    char where[300]; /* "database D on HOST:PORT", for every message */
    char *name[N_COUNT];
    /* the batch */
    char *arena;
    size_t arena_len, arena_cap;
    struct store_pg_row *rows;
    size_t n_rows, rows_cap;
    int *qrow;     /* pipeline query -> row index, -1 for the others */
    size_t *order; /* the rows by id (then arrival), the order they are written in */
    size_t order_cap;
    size_t qrow_cap;
    struct store_pg_amend *amends; /* the batch's corrections, in arrival order */
    size_t n_amends, amends_cap;
    bool ready; /* the names are quoted and the schema is checked (at the first connection) */
    char unreachable[700]; /* why the last connection attempt failed */
    /* reconnection */
    int failures;
    int64_t next_try_ms;
    msgpack_zone zone;
};

/* ---- helpers -------------------------------------------------------------------------------- */

/* libpq's message on one line, without its trailing newline. */
static const char *store_pg_oneline(char *buf, size_t n, const char *msg)
{
    snprintf(buf, n, "%s", msg && *msg ? msg : "unknown error");
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
    size_t len = strlen(buf);
    while (len && buf[len - 1] == ' ')
        buf[--len] = '\0';
    return buf;
}

static void store_pg_quiet(void *arg, const char *message)
{
    /* NOTICEs ("relation already exists, skipping") say nothing an operator needs */
    (void)arg;
    (void)message;
}

/* `tpl` with each {key} replaced by its quoted name. Caller frees; NULL on allocation failure. */
static char *store_pg_sql(const struct store_pg *s, const char *tpl)
{
    size_t cap = strlen(tpl) + 1;
    for (const char *p = tpl; (p = strchr(p, '{')); p++)
        for (int k = 0; k < N_COUNT; k++)
            if (s->name[k])
                cap += strlen(s->name[k]);
    char *out = malloc(cap), *o = out;
    if (!out)
        return NULL;
    for (const char *p = tpl; *p;) {
        int k = N_COUNT;
        if (*p == '{')
            for (k = 0; k < N_COUNT; k++) {
                size_t kl = strlen(store_pg_keys[k]);
                if (s->name[k] && strncmp(p + 1, store_pg_keys[k], kl) == 0 && p[1 + kl] == '}')
                    break;
            }
        if (k < N_COUNT) {
            size_t n = strlen(s->name[k]);
            memcpy(o, s->name[k], n);
            o += n;
            p += strlen(store_pg_keys[k]) + 2;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

/* Quotes the table and index names and the text search configuration for this connection. */
static int store_pg_names(struct store_pg *s, struct nf_ctx *ctx)
{
    const struct store_pg_conf *c = s->conf;
    for (int k = 0; k < N_COUNT; k++) { /* from an earlier connection that failed the setup */
        free(s->name[k]);
        s->name[k] = NULL;
    }
    char *schema = NULL;
    if (c->schema[0] && !(schema = PQescapeIdentifier(s->conn, c->schema, strlen(c->schema))))
        goto fail;
    for (int k = 0; k < N_COUNT; k++) {
        if (k == N_FTS_CONFIG) {
            char *lit = PQescapeLiteral(s->conn, c->fts_config, strlen(c->fts_config));
            if (!lit)
                goto fail;
            s->name[k] = strdup(lit);
            PQfreemem(lit);
        } else {
            char bare[128];
            snprintf(bare, sizeof(bare), "%s%s", c->table_prefix, store_pg_bare[k]);
            char *q = PQescapeIdentifier(s->conn, bare, strlen(bare));
            if (!q)
                goto fail;
            /* indexes live in their table's schema and are named without it */
            bool qualify = schema && k <= N_REFUSED;
            size_t n = strlen(q) + (qualify ? strlen(schema) + 1 : 0) + 1;
            if ((s->name[k] = malloc(n)))
                snprintf(s->name[k], n, "%s%s%s", qualify ? schema : "", qualify ? "." : "", q);
            PQfreemem(q);
        }
        if (!s->name[k])
            goto fail;
    }
    PQfreemem(schema);
    return 0;
fail:
    PQfreemem(schema);
    char msg[300];
    nf_ctx_error(ctx, "%s: cannot quote the names: %s", s->where,
                 store_pg_oneline(msg, sizeof(msg), PQerrorMessage(s->conn)));
    return -1;
}

/* Runs SQL (one or several statements, no parameters) made from a template. */
static int store_pg_exec(struct store_pg *s, struct nf_ctx *ctx, const char *tpl, const char *what)
{
    char *sql = store_pg_sql(s, tpl);
    if (!sql) {
        nf_ctx_error(ctx, "out of memory");
        return -1;
    }
    PGresult *r = PQexec(s->conn, sql);
    free(sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
    if (rc < 0) {
        char msg[600];
        nf_ctx_error(ctx, "%s: %s: %s", s->where, what,
                     store_pg_oneline(msg, sizeof(msg), r ? PQresultErrorMessage(r)
                                                          : PQerrorMessage(s->conn)));
    }
    PQclear(r);
    return rc;
}

/* The one value a one-parameter query returns, copied into buf; 1 when there is a row, 0 when
 * there is none, -1 on error (message given). */
static int store_pg_value(struct store_pg *s, struct nf_ctx *ctx, const char *tpl,
                          const char *arg, char *buf, size_t n)
{
    char *sql = store_pg_sql(s, tpl);
    if (!sql) {
        nf_ctx_error(ctx, "out of memory");
        return -1;
    }
    PGresult *r = PQexecParams(s->conn, sql, arg ? 1 : 0, NULL, &arg, NULL, NULL, 0);
    free(sql);
    int rc = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        rc = PQntuples(r) > 0;
        if (rc)
            snprintf(buf, n, "%s", PQgetvalue(r, 0, 0));
    } else {
        char msg[600];
        nf_ctx_error(ctx, "%s: %s", s->where,
                     store_pg_oneline(msg, sizeof(msg), r ? PQresultErrorMessage(r)
                                                          : PQerrorMessage(s->conn)));
    }
    PQclear(r);
    return rc;
}

/* ---- connection and schema ------------------------------------------------------------------ */

static void store_pg_set_where(struct store_pg *s, PGconn *c)
{
    const char *db = PQdb(c), *host = PQhost(c), *port = PQport(c);
    snprintf(s->where, sizeof(s->where), "database %s on %s%s%s", db && *db ? db : "(default)",
             host && *host ? host : "(default host)", port && *port ? ":" : "",
             port && *port ? port : "");
}

static int store_pg_prepare(struct store_pg *s, struct nf_ctx *ctx)
{
    static const struct {
        const char *name, *tpl;
        int n;
    } stmts[] = {
        {"nf_upsert", store_pg_upsert_sql, C_COUNT},
        {"nf_refuse", store_pg_refuse_sql, 2},
        {"nf_take_refusal", store_pg_take_sql, 1},
        {"nf_amend_dup", store_pg_amend_dup_sql, 2},
        {"nf_amend_story", store_pg_amend_story_sql, 2},
        {"nf_amend_story_of", store_pg_amend_story_of_sql, 2},
    };
    Oid types[C_COUNT];
    for (int i = 0; i < C_COUNT; i++)
        types[i] = i == C_RAW ? STORE_PG_BYTEAOID : STORE_PG_TEXTOID;
    for (size_t i = 0; i < sizeof(stmts) / sizeof(*stmts); i++) {
        char *sql = store_pg_sql(s, stmts[i].tpl);
        if (!sql) {
            nf_ctx_error(ctx, "out of memory");
            return -1;
        }
        PGresult *r = PQprepare(s->conn, stmts[i].name, sql, stmts[i].n, types);
        free(sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            char msg[600];
            nf_ctx_error(ctx, "%s: preparing %s: %s", s->where, stmts[i].name,
                         store_pg_oneline(msg, sizeof(msg), r ? PQresultErrorMessage(r)
                                                              : PQerrorMessage(s->conn)));
            PQclear(r);
            return -1;
        }
        PQclear(r);
    }
    return 0;
}

/* 1 when the table named `key` exists, 0 when not, -1 on error. */
static int store_pg_has_table(struct store_pg *s, struct nf_ctx *ctx, int key)
{
    char buf[8];
    return store_pg_value(s, ctx, "SELECT 1 WHERE to_regclass($1) IS NOT NULL", s->name[key],
                          buf, sizeof(buf));
}

/* Creates what is missing, in one transaction that workers starting together take in turn, and
 * refuses a schema newer than this build's. When every table is there at this version, nothing
 * is created, so a role with only SELECT, INSERT, UPDATE and DELETE on them can start. */
static int store_pg_schema(struct store_pg *s, struct nf_ctx *ctx)
{
    const struct store_pg_conf *c = s->conf;
    char sql[512], buf[256];
    snprintf(sql, sizeof(sql), "BEGIN; SELECT pg_advisory_xact_lock(%d)", STORE_PG_LOCK);
    if (store_pg_exec(s, ctx, sql, "creating the schema") < 0)
        return -1;
    long version = 0;
    int have = store_pg_has_table(s, ctx, N_META);
    if (have > 0)
        have = store_pg_value(s, ctx, "SELECT value FROM {meta} WHERE key = 'schema_version'",
                              NULL, buf, sizeof(buf));
    if (have < 0)
        goto rollback;
    if (have > 0)
        version = strtol(buf, NULL, 10);
    if (version > STORE_PG_SCHEMA) {
        nf_ctx_error(ctx, "%s: table %s has schema version %ld, newer than this build's %d; "
                     "use a newer newsflow or another table_prefix or schema", s->where,
                     s->name[N_META], version, STORE_PG_SCHEMA);
        goto rollback;
    }
    int complete = version == STORE_PG_SCHEMA;
    for (int k = N_ARTICLES; complete > 0 && k <= N_REFUSED; k++)
        complete = store_pg_has_table(s, ctx, k);
    if (complete < 0)
        goto rollback;
    if (!complete) {
        if (c->schema[0]) {
            char *q = PQescapeIdentifier(s->conn, c->schema, strlen(c->schema));
            if (!q) {
                nf_ctx_error(ctx, "out of memory");
                goto rollback;
            }
            char create[300];
            snprintf(create, sizeof(create), "CREATE SCHEMA IF NOT EXISTS %s", q);
            PQfreemem(q);
            if (store_pg_exec(s, ctx, create, "creating the schema") < 0)
                goto rollback;
        }
        snprintf(sql, sizeof(sql), "INSERT INTO {meta} VALUES ('schema_version', '%d') ON "
                 "CONFLICT (key) DO UPDATE SET value = excluded.value", STORE_PG_SCHEMA);
        if (store_pg_exec(s, ctx, store_pg_meta_sql, "creating the schema") < 0 ||
            store_pg_exec(s, ctx, store_pg_tables_sql, "creating the tables") < 0 ||
            store_pg_exec(s, ctx, sql, "creating the schema") < 0)
            goto rollback;
    }
    /* ALTER TABLE locks the table even when the column exists: look first */
    int tsv = store_pg_value(s, ctx, "SELECT 1 FROM pg_attribute WHERE attrelid = $1::regclass "
                             "AND attname = 'tsv' AND NOT attisdropped",
                             s->name[N_ARTICLES], buf, sizeof(buf));
    if (tsv < 0)
        goto rollback;
    if (!tsv && c->fts) {
        if (store_pg_exec(s, ctx, store_pg_fts_sql, "creating the full-text column") < 0 ||
            store_pg_exec(s, ctx, "INSERT INTO {meta} VALUES ('fts_config', {fts_config}) ON "
                          "CONFLICT (key) DO UPDATE SET value = excluded.value",
                          "creating the full-text column") < 0)
            goto rollback;
    } else if (tsv) {
        int known = store_pg_value(s, ctx, "SELECT value FROM {meta} WHERE key = 'fts_config'",
                                   NULL, buf, sizeof(buf));
        if (known < 0)
            goto rollback;
        if (known && strcmp(buf, c->fts_config) != 0)
            nf_log(ctx, NF_LOG_WARN, "%s: the full-text column %s.tsv was made with the "
                   "configuration '%s'; fts_config '%s' has no effect on it (docs/postgres.md "
                   "says how to change it)", s->where, s->name[N_ARTICLES], buf, c->fts_config);
    }
    if (store_pg_exec(s, ctx, "COMMIT", "creating the schema") < 0)
        goto rollback;
    return 0;
rollback:
    PQclear(PQexec(s->conn, "ROLLBACK"));
    return -1;
}

static void store_pg_drop(struct store_pg *s)
{
    PQfinish(s->conn);
    s->conn = NULL;
}

/* Opens the connection; the first time one succeeds, also quotes the names and creates the
 * schema. Then prepares the statements. 0; -1 when the server cannot be reached; -2 when it
 * was reached but refuses to be used (a newer schema, no rights, a bad fts_config). */
static int store_pg_connect(struct store_pg *s, struct nf_ctx *ctx)
{
    char timeout[24];
    snprintf(timeout, sizeof(timeout), "%lld", (long long)s->conf->connect_timeout);
    /* conninfo is expanded where it stands: it overrides the settings before it, and
     * client_encoding after it always wins, since the parameters are sent as UTF-8 bytes.
     * GSSAPI encryption is off unless conninfo asks for it: probing for Kerberos credentials
     * on every connection costs time and leaves libgssapi's global state behind. Keepalives
     * and a TCP user timeout make a server host that vanished (power, network) a lost
     * connection within about a minute instead of a flush that waits for ever. */
    const char *const keys[] = {"connect_timeout", "gssencmode", "fallback_application_name",
                                "keepalives_idle", "keepalives_interval", "keepalives_count",
                                "tcp_user_timeout", "dbname", "client_encoding", NULL};
    const char *const vals[] = {timeout, "disable", "newsflow", "30", "10", "3", "60000",
                                s->conf->conninfo, "UTF8", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c) {
        nf_ctx_error(ctx, "out of memory");
        return -1;
    }
    store_pg_set_where(s, c);
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[600];
        snprintf(s->unreachable, sizeof(s->unreachable), "cannot connect to %s: %s", s->where,
                 store_pg_oneline(msg, sizeof(msg), PQerrorMessage(c)));
        nf_ctx_error(ctx, "%s", s->unreachable);
        PQfinish(c);
        return -1;
    }
    PQsetNoticeProcessor(c, store_pg_quiet, NULL);
    s->conn = c;
    if (!s->ready && (store_pg_names(s, ctx) < 0 || store_pg_schema(s, ctx) < 0)) {
        store_pg_drop(s);
        return -2;
    }
    s->ready = true;
    if (store_pg_prepare(s, ctx) < 0) {
        store_pg_drop(s);
        return -2;
    }
    return 0;
}

/* After the server went away: the first attempt at once, then 100 ms doubling up to
 * reconnect_max_ms between attempts, so that a down server is not hammered by every flush. */
static int store_pg_reconnect(struct store_pg *s, struct nf_ctx *ctx)
{
    int64_t now = nf_now_ms();
    if (now < s->next_try_ms) {
        nf_ctx_error(ctx, "not connected to %s (%d failed attempts); next attempt in %lld ms",
                     s->where, s->failures, (long long)(s->next_try_ms - now));
        return -1;
    }
    if (store_pg_connect(s, ctx) == 0) {
        nf_log(ctx, NF_LOG_INFO, "connected to %s", s->where);
        nf_ctx_count(ctx, "reconnects", 1);
        s->failures = 0;
        s->next_try_ms = 0;
        return 0;
    }
    s->failures++;
    int64_t delay = 0;
    if (s->failures > 1) {
        delay = STORE_PG_BACKOFF_MS;
        for (int i = 2; i < s->failures && delay < s->conf->reconnect_max_ms; i++)
            delay *= 2;
        if (delay > s->conf->reconnect_max_ms)
            delay = s->conf->reconnect_max_ms;
    }
    s->next_try_ms = now + delay;
    return -1;
}

/* ---- the batch ------------------------------------------------------------------------------ */

static void store_pg_batch_clear(struct store_pg *s)
{
    for (size_t i = 0; i < s->n_rows; i++)
        free((char *)s->rows[i].reason);
    s->n_rows = 0;
    s->arena_len = 0;
    s->n_amends = 0;
}

static int store_pg_amend_take(void *arg, enum nf_amend_kind kind, const char *key,
                               const char *val)
{
    struct store_pg *s = arg;
    if (nfu_grow(&s->amends, &s->amends_cap, s->n_amends + 1, sizeof(*s->amends)) < 0)
        return -2;
    struct store_pg_amend *a = &s->amends[s->n_amends++];
    a->kind = kind;
    snprintf(a->key, sizeof(a->key), "%s", key);
    snprintf(a->val, sizeof(a->val), "%s", val ? val : "");
    return 0;
}

/* The prepared statement and parameters of one correction (a NULL value for nil). */
static void store_pg_amend_args(const struct store_pg_amend *a, const char **name,
                                const char *vals[2], int lens[2])
{
    *name = a->kind == NF_AMEND_DUP_OF    ? "nf_amend_dup"
            : a->kind == NF_AMEND_STORY_ID ? "nf_amend_story"
                                           : "nf_amend_story_of";
    vals[0] = a->key;
    lens[0] = 32;
    vals[1] = a->val[0] ? a->val : NULL;
    lens[1] = a->val[0] ? 32 : 0;
}

/* Takes the n bytes just written at the end of the arena as parameter `col` of the row. */
static void store_pg_took(struct store_pg *s, struct store_pg_row *row, int col, size_t n)
{
    row->off[col] = s->arena_len;
    row->len[col] = (int)n;
    s->arena_len += n;
}

/* Copies n bytes (p NULL: a NULL value) as parameter `col` of the row. */
static int store_pg_put(struct store_pg *s, struct store_pg_row *row, int col, const void *p,
                        size_t n)
{
    row->len[col] = -1;
    if (!p)
        return 0;
    if (n > (size_t)NF_RECORD_MAX_BYTES ||
        nfu_grow(&s->arena, &s->arena_cap, s->arena_len + n + 1, 1) < 0)
        return -1;
    memcpy(s->arena + s->arena_len, p, n);
    store_pg_took(s, row, col, n);
    return 0;
}

/* The entities as a JSON array of {type, name, mentions}; NULL parameter when there are none. */
static int store_pg_entities(struct store_pg *s, struct nf_ctx *ctx, struct nf_record *rec,
                             struct store_pg_row *row)
{
    row->len[C_ENTITIES] = -1;
    size_t n = nf_record_entity_count(rec);
    if (n == 0)
        return 0;
    json_t *a = json_array();
    int rc = a ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct nf_entity *e = nf_record_entity(rec, i);
        json_t *name = json_string(e->name);
        if (!name) {
            nf_ctx_error(ctx, "entity %zu's name is not valid UTF-8", i + 1);
            json_decref(a);
            return -1;
        }
        rc = json_array_append_new(a, json_pack("{s:s, s:o, s:I}", "type",
                                                nf_entity_type_name(e->type), "name", name,
                                                "mentions", (json_int_t)e->mentions));
    }
    if (rc == 0) { /* dumped straight into the arena */
        size_t len = mpjson_dump(a, &s->arena, &s->arena_cap, s->arena_len, 0);
        rc = len == 0 || s->arena_len + len > s->arena_cap ? -1 : 0;
        if (rc == 0)
            store_pg_took(s, row, C_ENTITIES, len);
    }
    json_decref(a);
    if (rc < 0)
        nf_ctx_error(ctx, "out of memory");
    return rc;
}

/* The record's unknown keys as a JSON object (column extra); NULL when there are none. */
static int store_pg_extra(struct store_pg *s, struct nf_ctx *ctx, struct nf_record *rec,
                          struct store_pg_row *row)
{
    row->len[C_EXTRA] = -1;
    size_t len;
    int bad = mpjson_dump_extra(rec, &s->zone, &s->arena, &s->arena_cap, s->arena_len, &len);
    msgpack_zone_clear(&s->zone);
    if (bad < 0) {
        nf_ctx_error(ctx, "cannot convert the record's unknown keys to JSON");
        return -1;
    }
    if (len)
        store_pg_took(s, row, C_EXTRA, len);
    return 0;
}

/* A record the server refused in an earlier flush comes back: it ends here with that reason.
 * Only records on a later attempt are looked up, so the first attempt costs no round trip. */
static bool store_pg_refused_before(struct store_pg *s, struct nf_ctx *ctx, const char *id,
                                    size_t id_len)
{
    if (!s->conn || PQstatus(s->conn) != CONNECTION_OK)
        return false; /* the flush will find out about the connection */
    const char *vals[1] = {id};
    int lens[1] = {(int)id_len}, fmts[1] = {1};
    PGresult *r = PQexecPrepared(s->conn, "nf_take_refusal", 1, vals, lens, fmts, 0);
    bool refused = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    if (refused)
        nf_ctx_error(ctx, "%s refused this record: %s", s->where, PQgetvalue(r, 0, 0));
    PQclear(r);
    return refused;
}

static int store_pg_process(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    struct store_pg *s = state;
    size_t id_len;
    const char *id = nf_record_str(rec, NF_F_ID, &id_len);
    if (!id || !id_len) {
        nf_ctx_error(ctx, "the record has no id");
        return NF_ERR;
    }
    /* The id names the record in every message and in the refused table: keep it printable. */
    for (size_t i = 0; i < id_len; i++)
        if ((unsigned char)id[i] <= ' ' || (unsigned char)id[i] >= 0x7f) {
            nf_ctx_error(ctx, "the record's id has a byte 0x%02x at %zu; ids are printable ASCII",
                         (unsigned char)id[i], i);
            return NF_ERR;
        }
    int64_t attempt;
    if (nf_record_int(rec, NF_F_ATTEMPT, &attempt) == 0 && attempt > 1 &&
        store_pg_refused_before(s, ctx, id, id_len))
        return NF_ERR;

    if (nfu_grow(&s->rows, &s->rows_cap, s->n_rows + 1, sizeof(*s->rows)) < 0) {
        nf_ctx_error(ctx, "out of memory");
        return NF_ERR;
    }
    struct store_pg_row *row = &s->rows[s->n_rows];
    row->reason = NULL;
    size_t mark = s->arena_len, amends = s->n_amends;
    const char *why;
    int arc = nf_amend_each(rec, store_pg_amend_take, s, &why);
    if (arc < 0 || arc == -2) {
        nf_ctx_error(ctx, "%s", arc == -2 ? "out of memory" : why);
        s->n_amends = amends;
        return NF_ERR;
    }
    const char *val[NFU_COL_COUNT];
    size_t len[NFU_COL_COUNT];
    nfu_article_cols(rec, s->conf->store_raw, val, len);
    int bad = 0;
    for (int c = 0; c < NFU_COL_COUNT; c++)
        bad |= store_pg_put(s, row, c, val[c], len[c]);
    if (bad) {
        nf_ctx_error(ctx, "out of memory");
        s->arena_len = mark;
        s->n_amends = amends;
        return NF_ERR;
    }
    if (store_pg_entities(s, ctx, rec, row) < 0 || store_pg_extra(s, ctx, rec, row) < 0) {
        s->arena_len = mark;
        s->n_amends = amends;
        return NF_ERR;
    }
    s->n_rows++;
    return NF_OK;
}

/* ---- flush ---------------------------------------------------------------------------------- */

enum { W_OK, W_LOST, W_ROW, W_BATCH };

/* Errors caused by what one record holds: bytes that are not valid in the database's encoding,
 * a value out of range, a constraint or trigger that refuses it, a value too large for an index
 * or a tsvector. Such a record is set aside and the batch goes on without it. Anything else (the
 * server, the schema, permissions, a deadlock) fails the whole batch, which is then replayed. */
static bool store_pg_record_fault(const char *state)
{
    return state && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0 ||
                     strncmp(state, "54", 2) == 0 || strncmp(state, "P0", 2) == 0);
}

/* Errors after which this connection is of no more use: connection failures, the server
 * shutting down, prepared statements gone (a pooler that reset the session). */
static bool store_pg_conn_fault(const char *state)
{
    return state && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
                     strcmp(state, "26000") == 0);
}

/* Sends the batch (less the rows already refused, plus their entries in the refused table) as
 * one pipeline in one transaction and reads every result. W_OK: committed. W_ROW: row *bad_out
 * was refused for its content, nothing committed. W_LOST, W_BATCH: nothing committed; the reason
 * in err, and for W_BATCH the row it happened at in *bad_out (SIZE_MAX: none). */
static int store_pg_pipeline(struct store_pg *s, size_t *bad_out, char *err, size_t errlen)
{
    PGconn *c = s->conn;
    size_t nq_max = 2 * s->n_rows + s->n_amends + 2;
    if (nfu_grow(&s->qrow, &s->qrow_cap, nq_max, sizeof(*s->qrow)) < 0) {
        snprintf(err, errlen, "out of memory");
        return W_BATCH;
    }
    if (PQenterPipelineMode(c) != 1)
        goto lost;
    size_t nq = 0;
    int ok = PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0);
    s->qrow[nq++] = -1;
    int fmts[C_COUNT];
    for (int k = 0; k < C_COUNT; k++)
        fmts[k] = 1; /* binary: the bytes as they are, lengths given, no escaping */
    for (size_t j = 0; ok && j < s->n_rows; j++) {
        size_t i = s->order[j];
        const struct store_pg_row *row = &s->rows[i];
        if (row->reason)
            continue;
        const char *vals[C_COUNT];
        for (int k = 0; k < C_COUNT; k++)
            vals[k] = row->len[k] < 0 ? NULL : s->arena + row->off[k];
        ok = PQsendQueryPrepared(c, "nf_upsert", C_COUNT, vals, row->len, fmts, 0);
        s->qrow[nq++] = (int)i;
    }
    for (size_t i = 0; ok && i < s->n_amends; i++) {
        const char *name, *vals[2];
        int lens[2];
        store_pg_amend_args(&s->amends[i], &name, vals, lens);
        ok = PQsendQueryPrepared(c, name, 2, vals, lens, fmts, 0);
        s->qrow[nq++] = -1;
    }
    for (size_t i = 0; ok && i < s->n_rows; i++) {
        const struct store_pg_row *row = &s->rows[i];
        if (!row->reason)
            continue;
        const char *vals[2] = {s->arena + row->off[C_ID], row->reason};
        int lens[2] = {row->len[C_ID], (int)strlen(row->reason)};
        ok = PQsendQueryPrepared(c, "nf_refuse", 2, vals, lens, fmts, 0);
        s->qrow[nq++] = -1;
    }
    if (ok)
        ok = PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0);
    s->qrow[nq++] = -1;
    if (!ok || PQpipelineSync(c) != 1)
        goto lost;

    /* Results come in order, one (then a NULL) per query; after the first error the rest of
     * the pipeline is skipped (PGRES_PIPELINE_ABORTED). */
    long first = -1;
    char state[6] = "";
    for (size_t q = 0; q < nq; q++) {
        PGresult *r = PQgetResult(c);
        if (!r || PQstatus(c) != CONNECTION_OK) {
            PQclear(r);
            goto lost;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_PIPELINE_ABORTED &&
            first < 0) {
            first = (long)q;
            const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
            snprintf(state, sizeof(state), "%s", code ? code : "");
            if (primary) {
                char msg[500];
                snprintf(err, errlen, "%s (SQLSTATE %s)",
                         store_pg_oneline(msg, sizeof(msg), primary), state);
            } else {
                store_pg_oneline(err, errlen, PQresultErrorMessage(r));
            }
        }
        PQclear(r);
        if ((r = PQgetResult(c))) { /* each query's results end with a NULL */
            PQclear(r);
            goto lost;
        }
    }
    PGresult *r = PQgetResult(c);
    bool synced = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (!synced || PQexitPipelineMode(c) != 1)
        goto lost;
    if (first < 0)
        return W_OK;
    if (PQtransactionStatus(c) != PQTRANS_IDLE)
        PQclear(PQexec(c, "ROLLBACK"));
    if (store_pg_conn_fault(state) || PQstatus(c) != CONNECTION_OK)
        return W_LOST;
    *bad_out = s->qrow[first] >= 0 ? (size_t)s->qrow[first] : SIZE_MAX;
    return s->qrow[first] >= 0 && store_pg_record_fault(state) ? W_ROW : W_BATCH;
lost:
    store_pg_oneline(err, errlen, PQerrorMessage(c));
    return W_LOST;
}

/* One statement outside a pipeline; 0, or -1 with the reason in err and *state_out set. */
static int store_pg_step(PGconn *c, PGresult *r, char *state_out, char *err, size_t errlen)
{
    ExecStatusType st = PQresultStatus(r);
    if (r && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)) {
        PQclear(r);
        return 0;
    }
    const char *code = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    snprintf(state_out, 6, "%s", code ? code : "");
    char msg[500];
    if (primary)
        snprintf(err, errlen, "%s (SQLSTATE %s)", store_pg_oneline(msg, sizeof(msg), primary),
                 state_out);
    else
        store_pg_oneline(err, errlen, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    PQclear(r);
    return -1;
}

/* The batch a row at a time, each in its own savepoint: for a batch with several refused rows,
 * where sending it again without each one in turn would cost a pass per refused row. Sets the
 * refused rows' reasons and counts them in *refused. Returns like store_pg_pipeline, but never
 * W_ROW. */
static int store_pg_rowwise(struct store_pg *s, size_t *refused, size_t *bad_out, char *err,
                            size_t errlen)
{
    PGconn *c = s->conn;
    char state[6] = "";
    int fmts[C_COUNT];
    for (int k = 0; k < C_COUNT; k++)
        fmts[k] = 1;
    if (store_pg_step(c, PQexec(c, "BEGIN"), state, err, errlen) < 0)
        goto failed;
    for (size_t j = 0; j < s->n_rows; j++) {
        size_t i = s->order[j];
        struct store_pg_row *row = &s->rows[i];
        if (row->reason)
            continue;
        const char *vals[C_COUNT];
        for (int k = 0; k < C_COUNT; k++)
            vals[k] = row->len[k] < 0 ? NULL : s->arena + row->off[k];
        if (store_pg_step(c, PQexec(c, "SAVEPOINT row"), state, err, errlen) < 0)
            goto failed;
        if (store_pg_step(c, PQexecPrepared(c, "nf_upsert", C_COUNT, vals, row->len, fmts, 0),
                          state, err, errlen) == 0) {
            if (store_pg_step(c, PQexec(c, "RELEASE row"), state, err, errlen) < 0)
                goto failed;
            continue;
        }
        if (PQstatus(c) != CONNECTION_OK || !store_pg_record_fault(state)) {
            *bad_out = i;
            goto failed;
        }
        if (!(row->reason = strdup(err))) {
            snprintf(err, errlen, "out of memory");
            goto failed;
        }
        (*refused)++;
        if (store_pg_step(c, PQexec(c, "ROLLBACK TO row; RELEASE row"), state, err, errlen) < 0)
            goto failed;
    }
    for (size_t i = 0; i < s->n_amends; i++) {
        const char *name, *vals[2];
        int lens[2];
        store_pg_amend_args(&s->amends[i], &name, vals, lens);
        if (store_pg_step(c, PQexecPrepared(c, name, 2, vals, lens, fmts, 0), state, err,
                          errlen) < 0)
            goto failed;
    }
    for (size_t i = 0; i < s->n_rows; i++) {
        const struct store_pg_row *row = &s->rows[i];
        if (!row->reason)
            continue;
        const char *vals[2] = {s->arena + row->off[C_ID], row->reason};
        int lens[2] = {row->len[C_ID], (int)strlen(row->reason)};
        if (store_pg_step(c, PQexecPrepared(c, "nf_refuse", 2, vals, lens, fmts, 0), state, err,
                          errlen) < 0)
            goto failed;
    }
    if (store_pg_step(c, PQexec(c, "COMMIT"), state, err, errlen) == 0)
        return W_OK;
failed:
    if (PQstatus(c) != CONNECTION_OK || store_pg_conn_fault(state))
        return W_LOST;
    if (PQtransactionStatus(c) != PQTRANS_IDLE)
        PQclear(PQexec(c, "ROLLBACK"));
    return W_BATCH;
}

/* "ID: reason; ID: reason" of the refused rows, as much as fits. */
static void store_pg_refusals(const struct store_pg *s, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < s->n_rows && used + 1 < n; i++) {
        const struct store_pg_row *row = &s->rows[i];
        if (!row->reason)
            continue;
        int w = snprintf(buf + used, n - used, "%s%.*s: %s", used ? "; " : "", row->len[C_ID],
                         s->arena + row->off[C_ID], row->reason);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

static int store_pg_by_id(const void *a, const void *b, void *arg)
{
    const struct store_pg *s = arg;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const struct store_pg_row *x = &s->rows[i], *y = &s->rows[j];
    size_t n = (size_t)(x->len[C_ID] < y->len[C_ID] ? x->len[C_ID] : y->len[C_ID]);
    int c = memcmp(s->arena + x->off[C_ID], s->arena + y->off[C_ID], n);
    if (c == 0)
        c = (x->len[C_ID] > y->len[C_ID]) - (x->len[C_ID] < y->len[C_ID]);
    /* the same id twice: in the order they came, so that the later version wins */
    return c ? c : (i > j) - (i < j);
}

static int store_pg_write(struct store_pg *s, struct nf_ctx *ctx)
{
    bool reconnected = false, retried = false;
    size_t refused = 0;
    char err[600];
    /* Workers writing the same ids (replays) take the rows' locks in one order: no deadlock. */
    if (nfu_grow(&s->order, &s->order_cap, s->n_rows, sizeof(*s->order)) < 0) {
        nf_ctx_error(ctx, "out of memory");
        return NF_ERR;
    }
    for (size_t i = 0; i < s->n_rows; i++)
        s->order[i] = i;
    qsort_r(s->order, s->n_rows, sizeof(*s->order), store_pg_by_id, s);
    for (;;) {
        if (!s->conn) {
            if (store_pg_reconnect(s, ctx) < 0)
                return NF_ERR;
            reconnected = true;
        }
        size_t bad = SIZE_MAX;
        /* One refused row costs one more pass; after two, the rest goes a row at a time. */
        int w = refused < 2 ? store_pg_pipeline(s, &bad, err, sizeof(err))
                            : store_pg_rowwise(s, &refused, &bad, err, sizeof(err));
        if (w == W_OK)
            break;
        if (w == W_LOST) {
            nf_log(ctx, NF_LOG_WARN, "lost the connection to %s: %s", s->where, err);
            store_pg_drop(s);
            /* A connection that sat idle may have died unnoticed (a server restart, a
             * firewall): one more try on a new one before the batch fails. */
            if (!reconnected && !retried) {
                retried = true;
                continue;
            }
            nf_ctx_error(ctx, "lost the connection to %s while storing a batch of %zu records "
                         "(it will be replayed): %s", s->where, s->n_rows, err);
            return NF_ERR;
        }
        if (w == W_ROW && !(s->rows[bad].reason = strdup(err))) {
            nf_ctx_error(ctx, "out of memory");
            return NF_ERR;
        }
        if (w == W_ROW) {
            refused++;
            continue;
        }
        if (bad < s->n_rows)
            nf_ctx_error(ctx, "%s: cannot store a batch of %zu records (it will be replayed); "
                         "at record %.*s: %s", s->where, s->n_rows, s->rows[bad].len[C_ID],
                         s->arena + s->rows[bad].off[C_ID], err);
        else
            nf_ctx_error(ctx, "%s: cannot store a batch of %zu records (it will be replayed): "
                         "%s", s->where, s->n_rows, err);
        return NF_ERR;
    }
    nf_ctx_count(ctx, "written", (int64_t)(s->n_rows - refused));
    if (refused == 0)
        return NF_OK;
    /* The host acknowledges a sink's batch as a whole: a refused record must not be
     * acknowledged as stored, so the batch fails (the stored rows are upserted again when it
     * comes back) and the refused record ends in the dead-letter store when it comes back. */
    nf_ctx_count(ctx, "refused", (int64_t)refused);
    char list[800];
    store_pg_refusals(s, list, sizeof(list));
    nf_ctx_error(ctx, "%s refused %zu of %zu records (the others are stored; the refused go to "
                 "the dead-letter store when they come back): %s", s->where, refused, s->n_rows,
                 list);
    return NF_ERR;
}

static int store_pg_flush(void *state, struct nf_ctx *ctx)
{
    struct store_pg *s = state;
    if (s->n_rows == 0)
        return NF_OK;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* Success or not, the batch is done with: on failure the host replays it. */
    int rc = store_pg_write(s, ctx);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* the time the batches spend going to the server and being committed (bench/bench_pg.sh) */
    nf_ctx_count(ctx, "write_us", (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000 +
                                      (t1.tv_nsec - t0.tv_nsec) / 1000);
    store_pg_batch_clear(s);
    return rc;
}

/* ---- life cycle ----------------------------------------------------------------------------- */

static void store_pg_destroy(void *state)
{
    struct store_pg *s = state;
    if (!s)
        return;
    /* What is still buffered was never acknowledged: it is replayed, not written here. */
    store_pg_batch_clear(s);
    PQfinish(s->conn);
    for (int k = 0; k < N_COUNT; k++)
        free(s->name[k]);
    free(s->arena);
    free(s->rows);
    free(s->qrow);
    free(s->order);
    free(s->amends);
    msgpack_zone_destroy(&s->zone);
    free(s);
}

static int store_pg_init(struct nf_ctx *ctx, const void *vconf, void **state_out)
{
    /* the names' lengths, a non-empty fts_config and the times' signs are the option table's
     * bounds, checked before init */
    const struct store_pg_conf *conf = vconf;
    struct store_pg *s = calloc(1, sizeof(*s));
    if (!s || !msgpack_zone_init(&s->zone, 4096)) {
        free(s);
        nf_ctx_error(ctx, "out of memory");
        return NF_ERR;
    }
    s->conf = conf;
    int rc = store_pg_connect(s, ctx);
    if (rc == -2) {
        store_pg_destroy(s);
        return NF_ERR;
    }
    if (rc == 0) {
        nf_log(ctx, NF_LOG_INFO, "storing into %s, tables %s and %s", s->where,
               s->name[N_ARTICLES], s->name[N_ENTITIES]);
    } else {
        /* A server that is down (or not up yet) must not stop the pipeline: the core treats a
         * failed init as a configuration error and stops every stage. Records wait, each flush
         * tries again (with the usual backoff) and the schema is made on the first success. */
        s->failures = 1;
        nf_log(ctx, NF_LOG_WARN, "%s; nothing is stored until it answers (each flush tries "
               "again)", s->unreachable);
    }
    *state_out = s;
    return NF_OK;
}

NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI,
    .size = sizeof(struct nf_plugin),
    .name = "store_pg",
    .description = "Stores articles, entities and a full-text column in PostgreSQL",
    .kind = NF_PLUGIN_SINK,
    .options = store_pg_options,
    .conf_size = sizeof(struct store_pg_conf),
    .init = store_pg_init,
    .process = store_pg_process,
    .flush = store_pg_flush,
    .destroy = store_pg_destroy,
};
