/* The near-duplicate index of dedup: a window of the most recent articles, each with its MinHash
 * band keys in locality-sensitive hash tables, a short (8-bit) signature to verify candidates,
 * its exact-text hash, its id and the id of its original; the first few articles of each
 * headline are also found by it. Oldest articles are evicted when the
 * window is full. It knows nothing of records, SQLite or files other than its own snapshot. */
#ifndef NF_DEDUP_INDEX_H
#define NF_DEDUP_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../minhash/sig.h"

#define NF_DUP_BANDS 16
#define NF_DUP_MAX_WINDOW ((1u << 24) - 2) /* slots are kept in 24 bits */

struct nf_dup_params {
    size_t window;      /* articles kept; oldest evicted first */
    int rows;           /* MinHash bins per band, 1..4 */
    double jaccard;     /* estimated Jaccard at or above which two articles are copies */
    double containment; /* or: share of the smaller one found in the other, at or above */
    double min_ratio;   /* ... when the smaller one is at least this share of the larger */
    double same_headline; /* or: the same headline and an estimated Jaccard at or above, or
                           * a containment at or above `containment` lowered by as much as this
                           * is below `jaccard` (not under a headline reports recur under) */
};

/* The rows per band for NF_DUP_BANDS bands such that a pair at Jaccard `t` becomes a candidate
 * with probability >= 0.985 (more rows: fewer candidates to verify). */
int nf_dup_rows_for(double t);

enum nf_dup_kind { NF_DUP_ORIGINAL = 0, NF_DUP_COPY = 1 };

struct nf_dup_index;

/* Caller owns the result; NULL on allocation failure or bad parameters. */
struct nf_dup_index *nf_dup_index_new(const struct nf_dup_params *p);
void nf_dup_index_destroy(struct nf_dup_index **idx);

/* The verdict of an article still in the window, by id: 1 found (*kind_out, and root_out for a
 * copy), 0 not in the window. */
int nf_dup_index_lookup(const struct nf_dup_index *idx, const uint8_t id[16],
                        enum nf_dup_kind *kind_out, uint8_t root_out[16]);

/* Told of an article whose verdict changed: its id, kind and root (borrowed for the call). */
typedef void (*nf_dup_changed_fn)(void *arg, const uint8_t id[16], enum nf_dup_kind kind,
                                  const uint8_t root[16]);

/* Judges a new article, read at `order` (record.h's read_order), against the window's articles
 * read before it, and adds it. A copy gets the root of the earlier article it matches best (the
 * same text first, read first among those; else the highest estimated Jaccard, read first on a
 * tie): the earliest original, also for a copy of a copy. When articles read after it are in
 * the window already (they arrived first), it becomes an earlier match of those it matches;
 * each that ranks it above the match it had takes it as parent, and every article whose root
 * changes by that (it and its copies) is told to `changed` (may be NULL). The verdicts are
 * then those of a single reader in read order, whatever the order of arrival, except where a
 * cap cuts the candidates (64 per article, the first 8 of a headline) or the window evicted an
 * article. `sig` must have shingles > 0. *why_out says how it matched ("exact", "similar",
 * "contained", "same headline", "cut short"), or NULL. Returns the kind, or -1 (out of memory). */
int nf_dup_index_judge(struct nf_dup_index *idx, const uint8_t id[16], int64_t order,
                       const struct nf_sig *sig, uint8_t root_out[16], const char **why_out,
                       nf_dup_changed_fn changed, void *arg);

/* Adds an article with a verdict given from elsewhere (a verdict remembered on disk), which
 * later arrivals do not change. */
int nf_dup_index_add(struct nf_dup_index *idx, const uint8_t id[16], int64_t order,
                     const struct nf_sig *sig, enum nf_dup_kind kind, const uint8_t root[16]);

/* Calls fn for every article in the window that shares the root of the article `id` and whose
 * root changed after it was first judged (the ones a store may hold a stale verdict of).
 * Returns how many, 0 when `id` is not in the window, -1 out of memory. */
int nf_dup_index_group(struct nf_dup_index *idx, const uint8_t id[16], nf_dup_changed_fn fn,
                       void *arg);

/* The read order of the article read last among those in the window (INT64_MIN: none). */
int64_t nf_dup_index_last_order(const struct nf_dup_index *idx);

/* Articles already in the window whose verdict or headline-table place changed since the log
 * was last appended to (they are appended again). */
size_t nf_dup_index_changed(const struct nf_dup_index *idx);

size_t nf_dup_index_count(const struct nf_dup_index *idx);
/* Bytes the index holds (items and tables), for the memory per article: its tables as they
 * are now, sized for the articles held so far (they grow up to the window). */
size_t nf_dup_index_bytes(const struct nf_dup_index *idx);
/* And the bytes it holds once its tables have grown to the whole window. */
size_t nf_dup_index_bytes_full(const struct nf_dup_index *idx);
/* Candidates verified so far (for measurements). */
uint64_t nf_dup_index_candidates(const struct nf_dup_index *idx);

/* Writes the window to `f` as a snapshot (flushed, not synced) that holds the log generations
 * up to `upto` (../common/savefile.h). 0, or -1 with errno. */
int nf_dup_index_write(const struct nf_dup_index *idx, FILE *f, uint64_t upto);
/* Loads a snapshot or a log (below) into the index, adding its articles as the newest: 1 loaded,
 * 0 no file (or an empty one), -1 unreadable or made with other rows (the message in why, of size n). A log's
 * incomplete last article (a crash while writing) is ignored. `upto` (may be NULL) gets the log
 * generations a snapshot holds (0 for a log, or a snapshot of version 5). */
int nf_dup_index_load(struct nf_dup_index *idx, const char *path, uint64_t *upto, char *why,
                      size_t n);

/* The log: the articles added since the last snapshot, appended at each flush, so that a crash
 * loses only what came after the last flush. nf_dup_index_log_header writes the header a log
 * begins with; nf_dup_index_log_append writes the `n` newest articles (oldest first; at most the
 * window), then the articles changed since the last append (a load keeps the last of an id).
 * Both flush `f`; 0, or -1 with errno. Once what was written is in the log for good, the caller
 * calls nf_dup_index_log_written, which forgets the changed ones; until then (an append that
 * failed) they are written again by the next append. */
int nf_dup_index_log_header(const struct nf_dup_index *idx, FILE *f);
int nf_dup_index_log_append(const struct nf_dup_index *idx, FILE *f, size_t n);
void nf_dup_index_log_written(struct nf_dup_index *idx);

#endif
