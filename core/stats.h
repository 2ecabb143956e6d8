/* Stats pages: what each worker tells the supervisor, `newsflow top` and the HTTP endpoint.
 *
 * Every worker keeps one fixed-size page in a file RUN_DIR/stats/STAGE-W (0600), mapped shared:
 * its counters, its source progress, its in-flight window, a histogram of the time its plugin
 * spent per record, and a heartbeat. The worker rewrites the page from its own counters a few
 * times a second (nothing on the per-record path writes to it); readers map it read-only and
 * take a consistent copy with the sequence number (odd while a write is under way). */
#ifndef NF_STATS_H
#define NF_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NF_STATS_MAGIC 0x5453464eu /* "NFST" */
#define NF_STATS_VERSION 2
#define NF_STATS_COUNTERS 40
#define NF_STATS_BUCKETS 16

/* Upper bounds of the latency buckets in microseconds; the last bucket is everything above. */
extern const int64_t nf_stats_bucket_us[NF_STATS_BUCKETS - 1];

struct nf_stats_counter {
    char name[24];
    int64_t value;
};

struct nf_stats_page {
    uint32_t magic, version;
    uint64_t seq; /* odd while the worker writes */
    int32_t pid, worker;
    char stage[64];
    int64_t started_ms, updated_ms; /* wall clock */
    /* sources: how far the input is read, in `unit`; total < 0 when it cannot be known */
    int64_t done, total;
    char unit[16];
    bool exhausted; /* sources: the input is read to its end (a finite source) */
    int64_t in_flight; /* sources: records sent and not yet acknowledged */
    int64_t journal_bytes;
    int64_t latency[NF_STATS_BUCKETS]; /* records by the time process() took */
    int64_t latency_sum_us;
    int32_t n_counters;
    struct nf_stats_counter counters[NF_STATS_COUNTERS];
    /* since when (wall clock; 0: not) the worker waits to send to stage `blocked_on`, whose
     * workers take nothing: alive, but held up by what comes after it */
    int64_t blocked_since_ms;
    char blocked_on[64];
};

/* Maps a worker's page file of `size` bytes read-write and shared, making DIR (0700) and the file
 * (0600) when they are missing; *old_size: the file's size before (0: new). `what` names the
 * page in errors. NULL with the reason in err. Stats pages and read-order pages (order.h). */
void *nf_page_map(const char *dir, const char *path, size_t size, size_t *old_size,
                  const char *what, char *err, size_t errlen);

/* Maps (creating it) the page of one worker. NULL with the reason in err. */
struct nf_stats_page *nf_stats_open(const char *run_dir, const char *stage, int worker,
                                    char *err, size_t errlen);
void nf_stats_close(struct nf_stats_page **page);

/* Readers: a consistent copy of a worker's page. Returns 0, or -1 when there is none (yet) or it
 * is not a page of this version. */
int nf_stats_read(const char *run_dir, const char *stage, int worker, struct nf_stats_page *out);

/* The value of a named counter in a page, 0 when it has none. */
int64_t nf_stats_count(const struct nf_stats_page *p, const char *name);

/* The latency bucket of a duration. */
int nf_stats_bucket(int64_t us);

#endif
