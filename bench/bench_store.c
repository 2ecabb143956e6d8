/* store_sqlite's CPU per row: a make_corpus.py directory (DIR/articles/NNNNNNN.txt, a headline
 * line, a blank line, the body) handed to the plugin through its descriptor, as the store stage
 * would get it (fields as extract_meta, story and dedup leave them, about three entities each,
 * each record encoded and decoded as a hop does), one transaction per --batch records. Times
 * process() and flush() only (user and system CPU of this process), and prints rows per CPU
 * second, the CPU per row along the run (a store whose cost grows with its size shows it here:
 * by tenth of the run, and over the last tenth of the rows before 20,000, 100,000, 200,000, ...),
 * the database's size and a search check. No sockets, no other stages. */
#include <dirent.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "mock_core.h"
#include "newsflow/record.h"

#define BENCH_STORE_PARTS 10
#define BENCH_STORE_MAX_OPTS 16

struct bench_store_cpu {
    double user, sys;
};

static struct bench_store_cpu bench_store_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (struct bench_store_cpu){ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
                                    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6};
}

static int bench_store_txt(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 4 && strcmp(d->d_name + n - 4, ".txt") == 0;
}

/* A few capitalised words of the body stand in for the entities extract_meta finds (it finds
 * about three an article in these corpora); the type follows from the word. */
static void bench_store_entities(struct nf_record *rec, const char *text, int max)
{
    static const enum nf_entity_type types[] = {NF_ENT_PERSON, NF_ENT_ORG, NF_ENT_PLACE,
                                                NF_ENT_OTHER};
    const char *p = text;
    int found = 0;
    bool after_stop = true;
    while (*p && found < max) {
        while (*p == ' ' || *p == '\n')
            p++;
        const char *w = p;
        while (*p && *p != ' ' && *p != '\n')
            p++;
        size_t n = (size_t)(p - w);
        bool cap = n > 3 && w[0] >= 'A' && w[0] <= 'Z' && w[1] >= 'a' && w[1] <= 'z';
        if (cap && !after_stop) {
            char name[64];
            snprintf(name, sizeof(name), "%.*s", (int)(n < 63 ? n : 63), w);
            if (nf_record_add_entity(rec, types[(unsigned char)w[1] % 4], name, 1 + found) == 0)
                found++;
        }
        after_stop = n && (w[n - 1] == '.' || w[n - 1] == '"');
    }
}

/* Fills rec with article `path` as the store stage receives it; 0, or -1 if unreadable. */
static int bench_store_record(struct nf_record *rec, const char *path, int64_t i, int entities)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    static char *buf;
    static size_t cap;
    size_t len = 0, got;
    do {
        if (cap - len < 65536) {
            char *nb = realloc(buf, cap + 65536);
            if (!nb) {
                fclose(f);
                return -1;
            }
            buf = nb;
            cap += 65536;
        }
        got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
    } while (got);
    fclose(f);
    buf[len] = '\0';
    char uri[PATH_MAX * 2 + 8], id[33];
    snprintf(uri, sizeof(uri), "file://%s", path);
    nf_id_make(uri, strlen(uri), id);
    char *nl = strchr(buf, '\n');
    const char *body = nl ? nl + 1 : "";
    while (*body == '\n')
        body++;
    nf_record_reset(rec);
    nf_record_set_cstr(rec, NF_F_ID, id);
    nf_record_set_source(rec, uri, "file");
    nf_record_set_cstr(rec, NF_F_FETCHED_AT, "2026-05-01T10:00:00.000Z");
    nf_record_set_cstr(rec, NF_F_CONTENT_TYPE, "text/plain");
    nf_record_set_bytes(rec, NF_F_RAW, buf, len);
    nf_record_set_str(rec, NF_F_TITLE, buf, nl ? (size_t)(nl - buf) : len);
    nf_record_set_cstr(rec, NF_F_TEXT, body);
    nf_record_set_cstr(rec, NF_F_LANG, "en");
    nf_record_set_strf(rec, NF_F_PUBLISHED_AT, "2026-%02d-%02d", (int)(i % 12) + 1,
                       (int)(i % 28) + 1);
    nf_record_set_cstr(rec, NF_F_STORY_ID, id);
    bench_store_entities(rec, body, entities);
    nf_record_set_bytes(rec, NF_F_MINHASH, id, 32);
    return 0;
}

/* The articles in an order of their own for each seed (0: as they are), the same on every
 * machine: the corpus tool writes copies and stories near their originals. */
static void bench_store_shuffle(struct dirent **names, int n, unsigned long long seed)
{
    if (!seed)
        return;
    uint64_t x = seed * 0x9E3779B97F4A7C15ull | 1;
    for (int i = n - 1; i > 0; i--) {
        x ^= x << 13; /* xorshift64 */
        x ^= x >> 7;
        x ^= x << 17;
        int j = (int)(x % (uint64_t)(i + 1));
        struct dirent *t = names[i];
        names[i] = names[j];
        names[j] = t;
    }
}

static int bench_store_usage(void)
{
    fprintf(stderr, "usage: bench_store CORPUS_DIR [--batch N] [--passes N] [--entities N] "
                    "[--shuffle SEED] [--db PATH] [--set KEY=VALUE]...\n"
                    "  CORPUS_DIR as make_corpus.py writes it (its articles/ folder is read, in "
                    "the order of the names, or shuffled by SEED)\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *db = NULL;
    const char *opts[BENCH_STORE_MAX_OPTS + 2];
    int n_opts = 0, batch = 500, passes = 1, entities = 3;
    unsigned long long shuffle = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--entities") && i + 1 < argc)
            entities = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--passes") && i + 1 < argc)
            passes = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--shuffle") && i + 1 < argc)
            shuffle = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--db") && i + 1 < argc)
            db = argv[++i];
        else if (!strcmp(argv[i], "--set") && i + 1 < argc && n_opts < BENCH_STORE_MAX_OPTS)
            opts[1 + n_opts++] = argv[++i];
        else if (argv[i][0] != '-' && !dir)
            dir = argv[i];
        else
            return bench_store_usage();
    }
    if (!dir || batch < 1 || passes < 1)
        return bench_store_usage();
    char articles[PATH_MAX], dbpath[PATH_MAX], popt[PATH_MAX + 8];
    snprintf(articles, sizeof(articles), "%s/articles", dir);
    char *real = realpath(articles, NULL);
    struct dirent **names;
    int n = real ? scandir(real, &names, bench_store_txt, alphasort) : -1;
    if (n <= 0) {
        fprintf(stderr, "bench_store: no .txt articles in %s\n", articles);
        free(real);
        return 1;
    }
    bench_store_shuffle(names, n, shuffle);
    snprintf(dbpath, sizeof(dbpath), "%s", db ? db : "");
    if (!db)
        snprintf(dbpath, sizeof(dbpath), "%s/bench.db", mock_state_dir());
    snprintf(popt, sizeof(popt), "path=%s", dbpath);
    opts[0] = popt;
    opts[1 + n_opts] = NULL;
    struct mock_plugin *mp = mock_plugin_new("store_sqlite", opts);
    if (!mp) {
        fprintf(stderr, "bench_store: %s\n", mock_last_error());
        return 1;
    }

    struct nf_record *rec = nf_record_new(), *in = nf_record_new();
    struct nf_buf *enc = calloc((size_t)batch, sizeof(*enc));
    double part_cpu[BENCH_STORE_PARTS] = {0}, flush_cpu = 0, text_bytes = 0;
    /* The pages the store wrote and read (its counters), by tenth as the CPU. */
    int64_t part_wr[BENCH_STORE_PARTS] = {0}, part_rd[BENCH_STORE_PARTS] = {0}, wr0 = 0, rd0 = 0;
    int64_t part_rows[BENCH_STORE_PARTS] = {0}, rows = 0, failed = 0, total = (int64_t)n * passes;
    struct bench_store_cpu sum = {0, 0};
    /* The CPU of each transaction, for the figures at given sizes. */
    int64_t n_txn = (total + batch - 1) / batch;
    double *txn_cpu = calloc((size_t)n_txn, sizeof(*txn_cpu));
    if (!txn_cpu) {
        fprintf(stderr, "bench_store: out of memory\n");
        return 1;
    }
    for (int64_t next = 0; next < total;) {
        int k = 0;
        for (; k < batch && next < total; k++, next++) {
            char path[PATH_MAX * 2];
            snprintf(path, sizeof(path), "%s/%s", real, names[next % n]->d_name);
            enc[k].len = 0;
            if (bench_store_record(rec, path, next % n, entities) < 0 ||
                nf_record_encode(rec, &enc[k]) < 0) {
                fprintf(stderr, "bench_store: cannot read %s\n", path);
                return 1;
            }
            size_t tl;
            nf_record_str(rec, NF_F_TEXT, &tl);
            text_bytes += (double)tl;
        }
        struct bench_store_cpu t0 = bench_store_now();
        for (int j = 0; j < k; j++) {
            if (nf_record_decode(in, enc[j].data, enc[j].len) < 0 ||
                mock_process(mp, in) != NF_OK) {
                if (failed++ < 5)
                    fprintf(stderr, "bench_store: record failed: %s\n", mock_last_error());
            }
        }
        struct bench_store_cpu t1 = bench_store_now();
        if (mock_flush(mp) != NF_OK) {
            fprintf(stderr, "bench_store: flush failed: %s\n", mock_last_error());
            return 1;
        }
        struct bench_store_cpu t2 = bench_store_now();
        double cpu = (t2.user - t0.user) + (t2.sys - t0.sys);
        sum.user += t2.user - t0.user;
        sum.sys += t2.sys - t0.sys;
        flush_cpu += (t2.user - t1.user) + (t2.sys - t1.sys);
        int part = (int)((next - 1) * BENCH_STORE_PARTS / total);
        part_cpu[part] += cpu;
        txn_cpu[(next - 1) / batch] = cpu;
        part_rows[part] += k;
        rows += k;
        int64_t wr = mock_counter("db_pages_written"), rd = mock_counter("db_pages_read");
        part_wr[part] += wr - wr0;
        part_rd[part] += rd - rd0;
        wr0 = wr;
        rd0 = rd;
    }
    struct bench_store_cpu c0 = bench_store_now();
    mock_plugin_destroy(&mp);
    struct bench_store_cpu c1 = bench_store_now();

    double cpu = sum.user + sum.sys;
    printf("store_sqlite: %lld records (%d articles x %d passes, %.0f bytes of text each), "
           "%d a transaction\n",
           (long long)rows, n, passes, text_bytes / (double)rows, batch);
    printf("  CPU %.2f s (user %.2f, system %.2f; %.2f in commits): %.0f rows/s per core, "
           "%.0f us a row\n",
           cpu, sum.user, sum.sys, flush_cpu, (double)rows / cpu, cpu * 1e6 / (double)rows);
    printf("  closing (its last checkpoint): %.2f s CPU, not counted above\n",
           (c1.user - c0.user) + (c1.sys - c0.sys));
    printf("  us a row by tenth of the run:");
    for (int i = 0; i < BENCH_STORE_PARTS; i++) {
        if (part_rows[i]) /* a tenth with no transaction ending in it has none */
            printf(" %.0f", part_cpu[i] * 1e6 / (double)part_rows[i]);
        else
            printf(" -");
    }
    printf("\n");
    /* Two decimals: a batch's pages per row are a fraction at first. */
    printf("  pages written to the log a row, by tenth:");
    for (int i = 0; i < BENCH_STORE_PARTS; i++)
        printf(part_rows[i] ? " %.2f" : " -",
               part_rows[i] ? (double)part_wr[i] / (double)part_rows[i] : 0.0);
    printf("\n  pages read from the file a row, by tenth:");
    for (int i = 0; i < BENCH_STORE_PARTS; i++)
        printf(part_rows[i] ? " %.2f" : " -",
               part_rows[i] ? (double)part_rd[i] / (double)part_rows[i] : 0.0);
    printf("\n");
    /* At a size N: the transactions that end among the rows from 0.9 N to N. */
    static const int64_t marks[] = {20000, 100000, 200000, 500000, 1000000, 2000000};
    printf("  us a row at a size (over its last tenth):");
    for (size_t m = 0; m < sizeof(marks) / sizeof(*marks) && marks[m] <= rows; m++) {
        double c = 0;
        int64_t r = 0;
        for (int64_t t = 0; t < n_txn; t++) {
            int64_t end = (t + 1) * batch < total ? (t + 1) * batch : total;
            if (end > marks[m] * 9 / 10 && end <= marks[m]) {
                c += txn_cpu[t];
                r += end - t * batch;
            }
        }
        if (r)
            printf(" %lldk: %.0f", (long long)(marks[m] / 1000), c * 1e6 / (double)r);
    }
    printf("\n");
    free(txn_cpu);
    if (failed)
        printf("  %lld records failed\n", (long long)failed);

    sqlite3 *sdb;
    if (sqlite3_open_v2(dbpath, &sdb, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        const char *q = "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM entities),"
                        " (SELECT count(*) FROM articles WHERE text LIKE '%government%'),"
                        " (SELECT count(*) FROM articles_fts_parts)";
        if (sqlite3_prepare_v2(sdb, q, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW) {
            int parts = sqlite3_column_int(st, 3);
            printf("  %lld articles, %lld entities, the full-text index in %d part%s",
                   (long long)sqlite3_column_int64(st, 0), (long long)sqlite3_column_int64(st, 1),
                   parts, parts == 1 ? "" : "s");
            long long like = sqlite3_column_int64(st, 2), found = 0;
            for (int k = 0; k < parts; k++) {
                char sql[160], name[32];
                sqlite3_stmt *c;
                snprintf(name, sizeof(name), k ? "articles_fts_%d" : "articles_fts", k);
                snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE %s MATCH 'government'",
                         name, name);
                if (sqlite3_prepare_v2(sdb, sql, -1, &c, NULL) == SQLITE_OK &&
                    sqlite3_step(c) == SQLITE_ROW)
                    found += sqlite3_column_int64(c, 0);
                sqlite3_finalize(c);
            }
            printf("; search 'government': %lld rows (LIKE: %lld)\n", found, like);
        } else {
            printf("  search check: %s\n", sqlite3_errmsg(sdb));
        }
        sqlite3_finalize(st);
        sqlite3_close(sdb);
    }
    struct stat sb;
    if (stat(dbpath, &sb) == 0)
        printf("  database %.1f MB\n", (double)sb.st_size / 1e6);

    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(real);
    for (int j = 0; j < batch; j++)
        nf_buf_free(&enc[j]);
    free(enc);
    nf_record_destroy(&rec);
    nf_record_destroy(&in);
    return failed ? 1 : 0;
}
