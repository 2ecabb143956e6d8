/* Dead-letter store: records that could not be processed, with why, where and their bytes.
 * A SQLite file shared by every process of a pipeline (one writer at a time, busy timeout), or,
 * when the path ends in ".jsonl", a JSON-lines file every process appends whole lines to.
 * Also reads the store back (list, scan) and sends dead letters back into a running pipeline
 * (replay). It does not retry or expire anything by itself. */
#ifndef NF_DEADLETTER_H
#define NF_DEADLETTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct nf_dlq;
struct nf_config;

/* Opens lazily: nothing is created until the first put. The format follows the path: ".jsonl"
 * for JSON lines, SQLite otherwise. Caller owns the result. */
struct nf_dlq *nf_dlq_new(const char *path);
void nf_dlq_destroy(struct nf_dlq **dlq);

/* Stores one dead letter durably (SQLite commit, or write + fdatasync of the JSON line). Any text
 * may be NULL; bytes NULL means no record is kept, n == 0 with bytes set an empty one. Returns 0,
 * or -1 with the reason in err (the caller must then not acknowledge the record: it will come
 * back). Not thread-safe: one handle per thread; any number of processes may share the file. */
int nf_dlq_put(struct nf_dlq *dlq, const char *id, const char *source_uri, const char *stage,
               int worker, int64_t attempt, const char *error, const void *bytes, size_t n,
               char *err, size_t errlen);

/* Notes that the dead letters numbered ns[0..count) were sent back into the pipeline: sets
 * replayed_at (SQLite) or appends one {"replayed": n, "at": ...} line each (JSON lines), durably.
 * Returns 0 or -1 with the reason in err. */
int nf_dlq_mark_replayed(struct nf_dlq *dlq, const int64_t *ns, size_t count, char *err,
                         size_t errlen);

/* One dead letter as read back. Every pointer is borrowed for the duration of the callback only.
 * Texts are NULL when absent. */
struct nf_dead_letter {
    int64_t n; /* SQLite: the row number; JSON lines: the line number (1-based) */
    const char *at, *id, *source_uri, *stage, *error;
    const char *replayed_at; /* NULL: never replayed */
    int worker;
    int64_t attempt;
    const void *record; /* NULL: no bytes were stored */
    size_t record_len;
    bool damaged; /* a JSON line that cannot be read: only n and error (why) are set */
};

/* Calls fn for every dead letter in the store at `path`, oldest first, as the store was when the
 * scan began (later puts are not seen). fn returns 0 to go on, or -1 to stop the scan, which
 * then returns -1 leaving err as it is. Returns the number of dead letters visited, or -1 with
 * the reason in err (the store cannot be read; a missing store is an error, not created). */
int nf_dlq_scan(const char *path, int (*fn)(void *arg, const struct nf_dead_letter *dl),
                void *arg, char *err, size_t errlen);

/* The newest `limit` dead letters, oldest of them first, without their record bytes (what a
 * status view shows): SQLite reads only those rows. Returns how many the store holds in all (0
 * for a missing store), or -1 with the reason in err. */
int64_t nf_dlq_latest(const char *path, int limit,
                      int (*fn)(void *arg, const struct nf_dead_letter *dl), void *arg, char *err,
                      size_t errlen);

/* Prints the dead letters as a table. Returns the number of rows, or -1. */
int nf_dlq_list(const char *path, FILE *out, char *err, size_t errlen);

/* Prints one JSON object per line and dead letter: the JSON-lines store's fields ("record" in
 * base64 or null) plus "n" and "replayed_at". Returns the number of rows, or -1. */
int nf_dlq_list_json(const char *path, FILE *out, char *err, size_t errlen);

/* What nf_dlq_replay sends: the dead letters whose id starts with one of `ids` (when n_ids > 0)
 * and that a stage named `stage` wrote (when set); every one with `all`. Already replayed ones are
 * skipped unless `force`. */
struct nf_dlq_replay_opts {
    const char *const *ids;
    int n_ids;
    const char *stage;
    bool all;
    bool force;
    int timeout_ms; /* how long one send may wait for a stage's inbox; <= 0: 5000 */
};

/* Sends the selected dead letters of cfg->deadletter back into the running pipeline: each record
 * to the inbox of the stage that dead-lettered it (a source's: to its consumers' inboxes), without
 * its delivery fields (ack_to, seq, attempt), so nobody waits for an acknowledgement. Sent ones are
 * marked replayed. Reports every dead letter it sends or skips (missing or unreadable bytes, stage
 * not in the config) on `out`. Returns the number sent, or -1 with the reason in err: the store
 * cannot be read, nothing matches the selection, or a stage's inbox accepted nothing within the
 * timeout (what was sent before is marked). */
int nf_dlq_replay(const struct nf_config *cfg, const struct nf_dlq_replay_opts *opts, FILE *out,
                  char *err, size_t errlen);

#endif
