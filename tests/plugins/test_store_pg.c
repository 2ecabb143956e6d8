/* store_pg through its descriptor against a real PostgreSQL server that the group setup starts
 * (tests/support/pg_server.sh) and the teardown stops: the schema it creates, the seed articles
 * stored field for field as store_sqlite stores them, upserts, full-text search, records the
 * server refuses, a server that goes away between process and flush, a newer schema refused.
 * Read back with the server's own psql. Fails, never skips, when PostgreSQL is not installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <msgpack.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mock_core.h"
#include "mock_store.h"
/* corrections as dedup and story write them (compiled in, as into the plugins) */
#include "../../plugins/dedup/amend.c"

#define SCRIPT NF_SOURCE_DIR "/tests/support/pg_server.sh"

static char pg_dir[64];
static char conninfo[256], copt[300];
static struct mock_seeds seeds;

/* Runs argv with `input` on its stdin; returns its stdout without the trailing newline (caller
 * frees) and its exit status in *status. */
static char *run(const char *const argv[], const char *input, int *status)
{
    int in[2], out[2];
    if (pipe(in) < 0 || pipe(out) < 0)
        return NULL;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    if (input && write(in[1], input, strlen(input)) < 0)
        perror("write");
    close(in[1]);
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    ssize_t n;
    while ((n = read(out[0], buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (cap - len < 2)
            buf = realloc(buf, cap *= 2);
    }
    close(out[0]);
    buf[len] = '\0';
    while (len && buf[len - 1] == '\n')
        buf[--len] = '\0';
    int st = 0;
    waitpid(pid, &st, 0);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    return buf;
}

/* The server's answer to `sql` (rows on lines, columns joined by '|'); :'a' in the SQL is `arg`
 * as a quoted literal. Caller frees. */
static char *pgq(const char *sql, const char *arg)
{
    char var[300];
    snprintf(var, sizeof(var), "a=%s", arg ? arg : "");
    const char *argv[] = {"bash", SCRIPT, "psql", pg_dir, "-v", var, NULL};
    int st;
    char *out = run(argv, sql, &st);
    if (st != 0)
        fail_msg("psql failed (%d) on: %s", st, sql);
    return out;
}

static long pgq_int(const char *sql, const char *arg)
{
    char *out = pgq(sql, arg);
    long v = strtol(out, NULL, 10);
    free(out);
    return v;
}

static void pg_ctl(const char *cmd)
{
    const char *argv[] = {"bash", SCRIPT, cmd, pg_dir, NULL};
    int st;
    free(run(argv, NULL, &st));
    if (st != 0)
        fail_msg("pg_server.sh %s %s failed", cmd, pg_dir);
}

static int setup(void **state)
{
    (void)state;
    snprintf(pg_dir, sizeof(pg_dir), "/tmp/nf-pg-XXXXXX");
    if (!mkdtemp(pg_dir))
        return -1;
    char owner[32];
    snprintf(owner, sizeof(owner), "%d", (int)getpid());
    const char *argv[] = {"bash", SCRIPT, "start", pg_dir, owner, NULL};
    int st;
    char *out = run(argv, NULL, &st);
    if (st != 0 || !out || !strstr(out, "port=")) {
        fprintf(stderr, "FAIL: cannot start a PostgreSQL server for the test (%s start %s "
                        "exited %d); PostgreSQL's server is needed: apt-get install postgresql\n",
                SCRIPT, pg_dir, st);
        free(out);
        const char *stop[] = {"bash", SCRIPT, "stop", pg_dir, NULL};
        free(run(stop, NULL, &st));
        return -1;
    }
    snprintf(conninfo, sizeof(conninfo), "%s", out);
    snprintf(copt, sizeof(copt), "conninfo=%s", conninfo);
    free(out);
    return mock_seeds_load(&seeds);
}

static int teardown(void **state)
{
    (void)state;
    const char *argv[] = {"bash", SCRIPT, "stop", pg_dir, NULL};
    int st;
    free(run(argv, NULL, &st));
    mock_seeds_free(&seeds);
    return 0;
}

/* Seed i with every field the stores keep; seed 0 also carries keys this build does not know. */
static void seed_record(struct nf_record *rec, int i, msgpack_sbuffer *sb, const char *title)
{
    mock_seed_record(rec, &seeds, i, "2024-05-01T10:00:00.123Z", title, sb);
    nf_record_set_strf(rec, NF_F_PUBLISHED_AT, "2023-11-0%d", i + 1);
    nf_record_set_strf(rec, NF_F_URL, "https://example.org/sahel/%d", i);
    nf_record_set_cstr(rec, NF_F_STORY_ID, seeds.id[0]);
    if (i % 2)
        nf_record_set_cstr(rec, NF_F_BYLINE, "Aïssata Touré");
    if (i != 4)
        nf_record_set_cstr(rec, NF_F_OUTLET, "The Sahel \"Observer\"\\Weekly");
    if (i == 2)
        nf_record_set_cstr(rec, NF_F_DUP_OF, seeds.id[1]);
    if (i == 3) /* listed twice: the mentions add up */
        nf_record_add_entity(rec, NF_ENT_PLACE, "Sahel", 2);
}

static const char *const COLUMNS[] = {
    "id",    "source_uri",     "source_kind", "fetched_at", "content_type", "title",
    "byline", "outlet",        "published_at", "dateline_place", "lang",     "url",
    "text",  "dup_of",         "story_id",
};

/* Every column of one article as hex bytes ("null" for NULL), in one SQL dialect or the other. */
static void row_query(char *buf, size_t n, bool pg)
{
    size_t used = (size_t)snprintf(buf, n, "SELECT ");
    for (size_t c = 0; c < sizeof(COLUMNS) / sizeof(*COLUMNS); c++)
        used += (size_t)snprintf(buf + used, n - used,
                                 pg ? "%sCASE WHEN %s IS NULL THEN 'null' ELSE "
                                      "encode(convert_to(%s, 'UTF8'), 'hex') END"
                                    : "%sCASE WHEN %s IS NULL THEN 'null' ELSE lower(hex(%s)) "
                                      "END",
                                 c ? " || '|' || " : "", COLUMNS[c], COLUMNS[c]);
    snprintf(buf + used, n - used, " FROM articles WHERE id = %s", pg ? ":'a'" : "?1");
}

static void test_seeds_stored_as_sqlite_stores_them(void **state)
{
    (void)state;
    char spath[600], sopt[620];
    snprintf(spath, sizeof(spath), "%s/same.db", mock_state_dir());
    snprintf(sopt, sizeof(sopt), "path=%s", spath);
    const char *popts[] = {copt, NULL}, *sopts[] = {sopt, NULL};
    struct mock_plugin *pg = mock_plugin_new("store_pg", popts);
    assert_non_null(pg);
    assert_int_equal(mock_desc(pg)->kind, NF_PLUGIN_SINK);
    struct mock_plugin *lite = mock_plugin_new("store_sqlite", sopts);
    assert_non_null(lite);
    struct nf_record *rec = nf_record_new();
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    for (int i = 0; i < MOCK_SEEDS; i++) {
        char title[64];
        snprintf(title, sizeof(title), "Seed article %d: «Sahel» pact", i);
        seed_record(rec, i, &sb, title);
        assert_int_equal(mock_process(pg, rec), NF_OK);
        seed_record(rec, i, &sb, title);
        assert_int_equal(mock_process(lite, rec), NF_OK);
    }
    /* nothing is in the database before the flush commits */
    assert_int_equal(pgq_int("SELECT count(*) FROM articles", NULL), 0);
    assert_int_equal(mock_flush(pg), NF_OK);
    assert_int_equal(mock_flush(lite), NF_OK);

    /* The schema: its version, the tables, the generated column and its GIN index. */
    assert_int_equal(pgq_int("SELECT value FROM meta WHERE key = 'schema_version'", NULL), 1);
    char *fts = pgq("SELECT value FROM meta WHERE key = 'fts_config'", NULL);
    assert_string_equal(fts, "simple");
    free(fts);
    assert_int_equal(pgq_int("SELECT count(*) FROM information_schema.tables WHERE table_name "
                             "IN ('articles', 'entities', 'meta', 'refused')", NULL),
                     4);
    assert_int_equal(pgq_int("SELECT count(*) FROM information_schema.columns WHERE table_name "
                             "= 'articles' AND column_name = 'tsv' AND is_generated = 'ALWAYS'",
                             NULL),
                     1);
    assert_int_equal(pgq_int("SELECT count(*) FROM pg_indexes WHERE tablename = 'articles' AND "
                             "indexdef LIKE '%USING gin (tsv)%'", NULL),
                     1);

    /* Every column as store_sqlite has it, byte for byte. */
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(spath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    char pq[4096], sq[4096];
    row_query(pq, sizeof(pq), true);
    row_query(sq, sizeof(sq), false);
    assert_int_equal(pgq_int("SELECT count(*) FROM articles", NULL), MOCK_SEEDS);
    for (int i = 0; i < MOCK_SEEDS; i++) {
        char *p = pgq(pq, seeds.id[i]), *l = mock_sqlite_text(db, sq, seeds.id[i]);
        assert_string_equal(p, l);
        free(p);
        free(l);
        /* the entities, with the mentions of a name listed twice added up */
        p = pgq("SELECT string_agg(type || ':' || name || ':' || mentions, '|' ORDER BY type, "
                "name) FROM entities WHERE article_id = :'a'", seeds.id[i]);
        l = mock_sqlite_text(db, "SELECT group_concat(x, '|') FROM (SELECT type || ':' || name "
                                 "|| ':' || mentions AS x FROM entities WHERE article_id = ?1 "
                                 "ORDER BY type, name)", seeds.id[i]);
        assert_string_equal(p, l);
        free(p);
        free(l);
    }
    /* the unknown keys: the same JSON object (jsonb keeps its own key order) */
    char *p = pgq("SELECT extra FROM articles WHERE id = :'a'", seeds.id[0]);
    char *l = mock_sqlite_text(db, "SELECT extra FROM articles WHERE id = ?1", seeds.id[0]);
    json_t *pj = json_loads(p, 0, NULL), *lj = json_loads(l, 0, NULL);
    assert_non_null(pj);
    assert_true(json_equal(pj, lj));
    json_decref(pj);
    json_decref(lj);
    free(p);
    free(l);
    sqlite3_close(db);
    unlink(spath);
    assert_int_equal(pgq_int("SELECT count(*) FROM articles WHERE extra IS NULL", NULL),
                     MOCK_SEEDS - 1);
    assert_int_equal(pgq_int("SELECT count(*) FROM articles WHERE raw IS NULL AND stored_at > "
                             "now() - interval '1 hour'", NULL),
                     MOCK_SEEDS);
    assert_int_equal(pgq_int("SELECT count(*) FROM entities", NULL), 2 * MOCK_SEEDS + 1);
    assert_int_equal(pgq_int("SELECT mentions FROM entities WHERE article_id = :'a' AND type = "
                             "'place' AND name = 'Bamako'", seeds.id[seeds.bamako]),
                     2);

    /* Full-text search: a word of one text finds that article, a title word finds all. */
    char *hit = pgq("SELECT string_agg(id, ',') FROM articles WHERE tsv @@ "
                    "plainto_tsquery('simple', 'bamako')", NULL);
    assert_string_equal(hit, seeds.id[seeds.bamako]);
    free(hit);
    assert_int_equal(pgq_int("SELECT count(*) FROM articles WHERE tsv @@ plainto_tsquery('simple', "
                             "'pact')", NULL),
                     MOCK_SEEDS);
    assert_int_equal(pgq_int("SELECT count(*) FROM articles WHERE tsv @@ plainto_tsquery('simple', "
                             "'nowhere-to-be-found')", NULL),
                     0);

    msgpack_sbuffer_destroy(&sb);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&lite);
    mock_plugin_destroy(&pg);
}

#define UP_ID "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"

static void up_record(struct nf_record *rec, const char *title, const char *text,
                      const char *entity)
{
    nf_record_reset(rec);
    nf_record_set_cstr(rec, NF_F_ID, UP_ID);
    nf_record_set_cstr(rec, NF_F_TITLE, title);
    nf_record_set_cstr(rec, NF_F_TEXT, text);
    nf_record_add_entity(rec, NF_ENT_PLACE, "Niamey", 1);
    nf_record_add_entity(rec, NF_ENT_PERSON, entity, 3);
}

static void test_upsert_keeps_one_row(void **state)
{
    (void)state;
    const char *opts[] = {copt, "store_raw=true", NULL};
    struct mock_plugin *mp = mock_plugin_new("store_pg", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    /* twice in one batch: the later version wins */
    up_record(rec, "First version", "Talks opened in Niamey.", "Abdourahamane Tiani");
    nf_record_set_bytes(rec, NF_F_RAW, "raw\0bytes", 9);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    up_record(rec, "Second version", "Talks resumed in Agadez.", "Mohamed Bazoum");
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    assert_int_equal(pgq_int("SELECT count(*) FROM articles WHERE id = :'a'", UP_ID), 1);
    char *t = pgq("SELECT title FROM articles WHERE id = :'a'", UP_ID);
    assert_string_equal(t, "Second version");
    free(t);
    assert_int_equal(pgq_int("SELECT count(*) FROM articles WHERE tsv @@ plainto_tsquery("
                             "'simple', 'agadez') AND id = :'a'", UP_ID),
                     1);
    assert_int_equal(pgq_int("SELECT count(*) FROM articles WHERE tsv @@ plainto_tsquery("
                             "'simple', 'niamey') AND id = :'a'", UP_ID),
                     0);
    t = pgq("SELECT string_agg(name, '|' ORDER BY name) FROM entities WHERE article_id = :'a'",
            UP_ID);
    assert_string_equal(t, "Mohamed Bazoum|Niamey");
    free(t);

    /* in a later batch, changed: still one row, fields and entities replaced */
    up_record(rec, "Third version", "An accord was signed.", "Assimi Goïta");
    nf_record_set_bytes(rec, NF_F_RAW, "raw\0bytes", 9);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    /* and the same record again, unchanged: nothing more */
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    assert_int_equal(pgq_int("SELECT count(*) FROM articles WHERE id = :'a'", UP_ID), 1);
    t = pgq("SELECT title || '|' || text || '|' || encode(raw, 'escape') FROM articles WHERE id "
            "= :'a'", UP_ID);
    assert_string_equal(t, "Third version|An accord was signed.|raw\\000bytes");
    free(t);
    t = pgq("SELECT string_agg(type || ':' || name || ':' || mentions, '|' ORDER BY name) FROM "
            "entities WHERE article_id = :'a'", UP_ID);
    assert_string_equal(t, "person:Assimi Goïta:3|place:Niamey:1");
    free(t);
    assert_int_equal(pgq_int("SELECT count(*) FROM articles WHERE tsv @@ plainto_tsquery("
                             "'simple', 'accord') AND id = :'a'", UP_ID),
                     1);
    assert_int_equal(pgq_int("SELECT count(*) FROM articles WHERE tsv @@ plainto_tsquery("
                             "'simple', 'agadez') AND id = :'a'", UP_ID),
                     0);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

#define GOOD1 "10000000000000000000000000000001"
#define BAD1 "20000000000000000000000000000002"
#define BAD2 "30000000000000000000000000000003"
#define GOOD2 "40000000000000000000000000000004"
#define BAD3 "60000000000000000000000000000006"

/* The batch good1, bad1 (a title that is not UTF-8), bad2 (an unknown key holding a NUL, which
 * jsonb refuses), good2, bad3 (a text holding a NUL), on the given attempt. Three refused rows:
 * the first two found by passes over the whole batch, the third a row at a time. */
static void refused_batch(struct mock_plugin *mp, struct nf_record *rec, int attempt,
                          msgpack_sbuffer *sb, int expect_bad)
{
    nf_record_reset(rec);
    nf_record_set_cstr(rec, NF_F_ID, GOOD1);
    nf_record_set_cstr(rec, NF_F_TEXT, "The first good article.");
    nf_record_set_int(rec, NF_F_ATTEMPT, attempt);
    assert_int_equal(mock_process(mp, rec), NF_OK);

    nf_record_reset(rec);
    nf_record_set_cstr(rec, NF_F_ID, BAD1);
    nf_record_set_str(rec, NF_F_TITLE, "Broken \xff\xfe title", 15);
    nf_record_set_int(rec, NF_F_ATTEMPT, attempt);
    assert_int_equal(mock_process(mp, rec), expect_bad);
    if (expect_bad == NF_ERR)
        assert_non_null(strstr(mock_last_error(), "invalid byte sequence"));

    nf_record_reset(rec);
    msgpack_sbuffer_clear(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    mock_pack_str(&pk, "x_note", 6);
    mock_pack_str(&pk, "a\0b", 3);
    assert_int_equal(nf_record_decode(rec, sb->data, sb->size), 0);
    nf_record_set_cstr(rec, NF_F_ID, BAD2);
    nf_record_set_int(rec, NF_F_ATTEMPT, attempt);
    assert_int_equal(mock_process(mp, rec), expect_bad);
    if (expect_bad == NF_ERR)
        assert_non_null(strstr(mock_last_error(), "SQLSTATE 22P05"));

    nf_record_reset(rec);
    nf_record_set_cstr(rec, NF_F_ID, GOOD2);
    nf_record_set_cstr(rec, NF_F_TEXT, "The second good article.");
    nf_record_set_int(rec, NF_F_ATTEMPT, attempt);
    assert_int_equal(mock_process(mp, rec), NF_OK);

    nf_record_reset(rec);
    nf_record_set_cstr(rec, NF_F_ID, BAD3);
    nf_record_set_str(rec, NF_F_TEXT, "A NUL\0 inside", 14);
    nf_record_set_int(rec, NF_F_ATTEMPT, attempt);
    assert_int_equal(mock_process(mp, rec), expect_bad);
    if (expect_bad == NF_ERR)
        assert_non_null(strstr(mock_last_error(), "0x00"));
}

static void test_refused_records_end_alone(void **state)
{
    (void)state;
    const char *opts[] = {copt, NULL};
    struct mock_plugin *mp = mock_plugin_new("store_pg", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    refused_batch(mp, rec, 1, &sb, NF_OK);
    /* The flush stores the good records and fails, so that none is acknowledged as stored,
     * naming the server, the refused records and why. */
    assert_int_equal(mock_flush(mp), NF_ERR);
    const char *err = mock_last_error();
    assert_non_null(strstr(err, "database postgres on 127.0.0.1"));
    assert_non_null(strstr(err, "refused 3 of 5"));
    assert_non_null(strstr(err, BAD1 ": invalid byte sequence for encoding \"UTF8\": 0xff"));
    assert_non_null(strstr(err, BAD2 ": unsupported Unicode escape sequence"));
    assert_non_null(strstr(err, BAD3 ": invalid byte sequence for encoding \"UTF8\": 0x00"));
    assert_null(strstr(err, GOOD1));
    assert_null(strstr(err, GOOD2));
    assert_int_equal(mock_counter("refused"), 3);
    assert_int_equal(pgq_int("SELECT count(*) FROM articles WHERE id IN (:'a', '" GOOD2 "')",
                             GOOD1),
                     2);
    assert_int_equal(pgq_int("SELECT count(*) FROM articles WHERE id IN (:'a', '" BAD2 "', '"
                             BAD3 "')", BAD1),
                     0);
    assert_int_equal(pgq_int("SELECT count(*) FROM refused", NULL), 3);

    /* The batch comes back (second attempt): the refused records end in the dead-letter path
     * with their reason, the good ones are stored again and acknowledged. */
    refused_batch(mp, rec, 2, &sb, NF_ERR);
    assert_int_equal(mock_flush(mp), NF_OK);
    assert_int_equal(pgq_int("SELECT count(*) FROM refused", NULL), 0);
    assert_int_equal(pgq_int("SELECT count(*) FROM articles WHERE id IN (:'a', '" GOOD2 "')",
                             GOOD1),
                     2);

    /* What the plugin can tell without the server is refused at once. */
    nf_record_reset(rec);
    nf_record_set_cstr(rec, NF_F_ID, "50000000000000000000000000000005");
    nf_record_add_entity(rec, NF_ENT_PERSON, "Bad \xc3 name", 1);
    assert_int_equal(mock_process(mp, rec), NF_ERR);
    assert_non_null(strstr(mock_last_error(), "not valid UTF-8"));
    nf_record_reset(rec);
    assert_int_equal(mock_process(mp, rec), NF_ERR);
    assert_non_null(strstr(mock_last_error(), "no id"));
    nf_record_reset(rec);
    nf_record_set_str(rec, NF_F_ID, "id\nwith a newline", 17);
    assert_int_equal(mock_process(mp, rec), NF_ERR);
    assert_non_null(strstr(mock_last_error(), "printable ASCII"));
    assert_int_equal(mock_flush(mp), NF_OK);

    msgpack_sbuffer_destroy(&sb);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void simple_record(struct nf_record *rec, char id_char)
{
    char id[33];
    memset(id, id_char, 32);
    id[32] = '\0';
    nf_record_reset(rec);
    nf_record_set_cstr(rec, NF_F_ID, id);
    nf_record_set_strf(rec, NF_F_TEXT, "Article %c of the outage test.", id_char);
}

static void test_server_going_away(void **state)
{
    (void)state;
    /* no wait between reconnection attempts: the flush after the restart must try at once */
    const char *opts[] = {copt, "reconnect_max_ms=0", NULL};
    struct mock_plugin *mp = mock_plugin_new("store_pg", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    const char *count = "SELECT count(*) FROM articles WHERE text LIKE '% of the outage test.'";
    simple_record(rec, 'a');
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    int64_t reconnects = mock_counter("reconnects");

    /* The idle connection is killed: the next flush notices and goes on with a new one. */
    assert_true(pgq_int("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                        "application_name = 'newsflow'", NULL) >= 1);
    simple_record(rec, 'b');
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    assert_int_equal(mock_counter("reconnects"), reconnects + 1);
    assert_int_equal(pgq_int(count, NULL), 2);

    /* The server goes away between process and flush: the flush fails, naming the server. */
    simple_record(rec, 'c');
    assert_int_equal(mock_process(mp, rec), NF_OK);
    simple_record(rec, 'd');
    assert_int_equal(mock_process(mp, rec), NF_OK);
    pg_ctl("halt");
    assert_int_equal(mock_flush(mp), NF_ERR);
    char port[32];
    snprintf(port, sizeof(port), ":%s", strstr(conninfo, "port=") + 5);
    *strchr(port, ' ') = '\0';
    assert_non_null(strstr(mock_last_error(), "database postgres on 127.0.0.1"));
    assert_non_null(strstr(mock_last_error(), port));
    /* while it is down, nothing is acknowledged either */
    simple_record(rec, 'c');
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_ERR);

    /* It comes back: nothing of the failed batches was committed; the replayed batch is. */
    pg_ctl("resume");
    assert_int_equal(pgq_int(count, NULL), 2);
    simple_record(rec, 'c');
    assert_int_equal(mock_process(mp, rec), NF_OK);
    simple_record(rec, 'd');
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    assert_int_equal(pgq_int(count, NULL), 4);
    assert_int_equal(mock_counter("reconnects"), reconnects + 2);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_server_side_failure_fails_the_batch(void **state)
{
    (void)state;
    /* Not a record's fault (a table dropped under the store): the whole batch fails and is
     * replayed, nothing is set aside as refused. */
    const char *opts[] = {copt, "table_prefix=gone_", NULL};
    struct mock_plugin *mp = mock_plugin_new("store_pg", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    simple_record(rec, '7');
    assert_int_equal(mock_process(mp, rec), NF_OK);
    free(pgq("DROP TABLE gone_entities", NULL));
    assert_int_equal(mock_flush(mp), NF_ERR);
    assert_non_null(strstr(mock_last_error(), "cannot store a batch of 1 records"));
    assert_non_null(strstr(mock_last_error(), "at record 77777777777777777777777777777777"));
    assert_non_null(strstr(mock_last_error(), "SQLSTATE 42P01"));
    assert_int_equal(pgq_int("SELECT count(*) FROM gone_articles", NULL), 0);
    assert_int_equal(pgq_int("SELECT count(*) FROM gone_refused", NULL), 0);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
    /* a restart creates what is missing again */
    mp = mock_plugin_new("store_pg", opts);
    assert_non_null(mp);
    mock_plugin_destroy(&mp);
    assert_int_equal(pgq_int("SELECT count(*) FROM gone_entities", NULL), 0);
}

static void test_role_without_create_rights(void **state)
{
    (void)state;
    /* Tables made by their owner: a role that may only read and write rows can store. */
    free(pgq("CREATE ROLE writer LOGIN; GRANT SELECT, INSERT, UPDATE, DELETE ON articles, "
             "entities, meta, refused TO writer", NULL));
    char o[400];
    snprintf(o, sizeof(o), "conninfo=%s user=writer", conninfo);
    const char *opts[] = {o, NULL};
    struct mock_plugin *mp = mock_plugin_new("store_pg", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    simple_record(rec, '9');
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    assert_int_equal(pgq_int("SELECT count(*) FROM articles WHERE id = :'a'",
                             "99999999999999999999999999999999"),
                     1);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
    /* where the tables are missing, it says it may not create them */
    const char *fresh[] = {o, "table_prefix=w_", NULL};
    assert_null(mock_plugin_new("store_pg", fresh));
    assert_non_null(strstr(mock_last_error(), "permission denied"));
}

static void test_newer_schema_is_refused(void **state)
{
    (void)state;
    free(pgq("CREATE TABLE future_meta(key text PRIMARY KEY, value text NOT NULL); "
             "INSERT INTO future_meta VALUES ('schema_version', '99')", NULL));
    const char *opts[] = {copt, "table_prefix=future_", NULL};
    assert_null(mock_plugin_new("store_pg", opts));
    assert_non_null(strstr(mock_last_error(), "schema version 99"));
    assert_non_null(strstr(mock_last_error(), "database postgres on 127.0.0.1"));
    /* and it left the database as it was */
    assert_int_equal(pgq_int("SELECT count(*) FROM information_schema.tables WHERE table_name "
                             "= 'future_articles'", NULL),
                     0);
}

static void test_schema_prefix_and_stemming(void **state)
{
    (void)state;
    const char *opts[] = {copt, "schema=news", "table_prefix=nf_", "fts_config=english", NULL};
    struct mock_plugin *mp = mock_plugin_new("store_pg", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    nf_record_set_cstr(rec, NF_F_ID, "ffffffffffffffffffffffffffffffff");
    nf_record_set_cstr(rec, NF_F_TEXT, "The elections were postponed by the councils.");
    nf_record_add_entity(rec, NF_ENT_ORG, "ECOWAS", 1);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    assert_int_equal(pgq_int("SELECT count(*) FROM news.nf_articles WHERE tsv @@ to_tsquery("
                             "'english', 'election & council')", NULL),
                     1);
    assert_int_equal(pgq_int("SELECT count(*) FROM news.nf_entities", NULL), 1);
    assert_int_equal(pgq_int("SELECT count(*) FROM articles WHERE id = 'ffffffffffffffffffffffff"
                             "ffffffff'", NULL),
                     0);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_unreachable_server(void **state)
{
    (void)state;
    /* Nobody listens: the worker still starts (a failed init would stop the whole pipeline),
     * and every flush fails, naming the server, until it answers. */
    const char *opts[] = {"conninfo=postgresql://nobody@127.0.0.1:1/news?connect_timeout=5",
                          NULL};
    struct mock_plugin *mp = mock_plugin_new("store_pg", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    simple_record(rec, '8');
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_ERR);
    assert_non_null(strstr(mock_last_error(), "cannot connect to database news on 127.0.0.1:1"));
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_server_down_at_start(void **state)
{
    (void)state;
    pg_ctl("halt");
    const char *opts[] = {copt, "table_prefix=late_", "reconnect_max_ms=0", NULL};
    struct mock_plugin *mp = mock_plugin_new("store_pg", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    simple_record(rec, '6');
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_ERR);
    assert_non_null(strstr(mock_last_error(), "cannot connect to database postgres on 127.0.0.1"));
    pg_ctl("resume");
    /* the batch comes back: the first flush that reaches the server makes the tables */
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    assert_int_equal(pgq_int("SELECT count(*) FROM late_articles WHERE id = :'a'",
                             "66666666666666666666666666666666"),
                     1);
    assert_int_equal(pgq_int("SELECT value FROM late_meta WHERE key = 'schema_version'", NULL), 1);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

/* The option table's bounds are checked before init, so no server is needed. */
static void test_option_bounds(void **state)
{
    (void)state;
    static const struct {
        const char *opt, *msg;
    } bad[] = {
        {"table_prefix=a_prefix_longer_than_forty_bytes_is_refused_",
         "option 'table_prefix' must be at most 40 bytes long, got "
         "\"a_prefix_longer_than_forty_bytes_is_refused_\" (44 bytes)"},
        {"schema=a_schema_name_longer_than_sixty_three_bytes_which_postgres_cuts_it",
         "option 'schema' must be at most 63 bytes long, got "
         "\"a_schema_name_longer_than_sixty_three_bytes_which_postgres_cuts_it\" (66 bytes)"},
        {"fts_config=", "option 'fts_config' must not be empty"},
        {"connect_timeout=-1", "option 'connect_timeout' must be at least 0, got -1"},
        {"reconnect_max_ms=-1", "option 'reconnect_max_ms' must be at least 0, got -1"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *o[] = {"conninfo=host=/nonexistent", bad[i].opt, NULL};
        assert_null(mock_plugin_new("store_pg", o));
        assert_string_equal(mock_last_error(), bad[i].msg);
    }
}

/* A record as dedup and story would send it, with corrections "d ID ROOT" (dup_of),
 * "s OLD NEW" (story) and "o ID STORY" (one article's story) of earlier verdicts. */
static void verdict_record(struct nf_record *rec, struct nf_amend *am, char id_char,
                           const char *story, const char *const *fixes)
{
    simple_record(rec, id_char);
    nf_record_set_cstr(rec, NF_F_STORY_ID, story);
    for (; fixes && *fixes; fixes++) {
        char key[33], val[33];
        assert_int_equal(sscanf(*fixes + 2, "%32s %32s", key, val), 2);
        enum nf_amend_kind kind = (*fixes)[0] == 'd'   ? NF_AMEND_DUP_OF
                                  : (*fixes)[0] == 's' ? NF_AMEND_STORY_ID
                                                       : NF_AMEND_STORY_OF;
        assert_int_equal(nf_amend_add(am, kind, key, val), 0);
    }
    const char *why;
    assert_int_equal(nf_amend_apply(am, rec, &why), 0);
    assert_int_equal(mock_roundtrip(rec), 0);
}

#define PG_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define PG_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define PG_C "cccccccccccccccccccccccccccccccc"

/* Read A, B, C (copies of A, one story); they arrive C, then B and A in one batch, each
 * carrying the corrections of what was said before it arrived: the rows end as in read order,
 * though a batch is written sorted by id. */
static void test_corrections_give_the_rows_of_the_read_order(void **state)
{
    (void)state;
    const char *opts[] = {copt, "table_prefix=amend_", NULL};
    struct mock_plugin *mp = mock_plugin_new("store_pg", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    struct nf_amend am = {0};
    verdict_record(rec, &am, 'c', PG_C, NULL);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    static const char *const fix_b[] = {"d " PG_C " " PG_B, "s " PG_C " " PG_B, NULL};
    static const char *const fix_a[] = {"d " PG_C " " PG_A, "d " PG_B " " PG_A,
                                        "s " PG_B " " PG_A, NULL};
    verdict_record(rec, &am, 'b', PG_B, fix_b);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    verdict_record(rec, &am, 'a', PG_A, fix_a);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    char *rows = pgq("SELECT string_agg(left(id, 2) || ':' || coalesce(left(dup_of, 2), '-') || "
                     "':' || left(story_id, 2), ' ' ORDER BY id) FROM amend_articles",
                     NULL);
    assert_non_null(strstr(rows, "aa:-:aa bb:aa:aa cc:aa:aa"));
    free(rows);
    /* the story split: B sent again carries C alone to another story */
    static const char *const fix_c[] = {"o " PG_C " " PG_B, NULL};
    verdict_record(rec, &am, 'b', PG_A, fix_c);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    rows = pgq("SELECT string_agg(left(id, 2) || ':' || left(story_id, 2), ' ' ORDER BY id) "
               "FROM amend_articles",
               NULL);
    assert_non_null(strstr(rows, "aa:aa bb:aa cc:bb"));
    free(rows);
    nf_amend_free(&am);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seeds_stored_as_sqlite_stores_them),
        cmocka_unit_test(test_upsert_keeps_one_row),
        cmocka_unit_test(test_refused_records_end_alone),
        cmocka_unit_test(test_server_going_away),
        cmocka_unit_test(test_server_side_failure_fails_the_batch),
        cmocka_unit_test(test_role_without_create_rights),
        cmocka_unit_test(test_newer_schema_is_refused),
        cmocka_unit_test(test_schema_prefix_and_stemming),
        cmocka_unit_test(test_unreachable_server),
        cmocka_unit_test(test_server_down_at_start),
        cmocka_unit_test(test_option_bounds),
        cmocka_unit_test(test_corrections_give_the_rows_of_the_read_order),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
