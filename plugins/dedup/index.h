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
    double same_headline; /* or: the same headline and an estimated Jaccard at or above */
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

/* Judges a new article against the window and adds it. A copy gets the id of the earliest
 * original in root_out (a copy of a copy points at the first original). `sig` must have
 * shingles > 0. *why_out says how it matched ("exact", "similar", "contained"), or NULL.
 * Returns the kind, or -1 (out of memory). */
int nf_dup_index_judge(struct nf_dup_index *idx, const uint8_t id[16], const struct nf_sig *sig,
                       uint8_t root_out[16], const char **why_out);

/* Adds an article with a verdict given from elsewhere (a verdict remembered on disk). */
int nf_dup_index_add(struct nf_dup_index *idx, const uint8_t id[16], const struct nf_sig *sig,
                     enum nf_dup_kind kind, const uint8_t root[16]);

size_t nf_dup_index_count(const struct nf_dup_index *idx);
/* Bytes the index holds (items and tables), for the memory per article. */
size_t nf_dup_index_bytes(const struct nf_dup_index *idx);
/* Candidates verified so far (for measurements). */
uint64_t nf_dup_index_candidates(const struct nf_dup_index *idx);

/* Writes the window to `path` atomically (a temporary file renamed). 0, or -1 with errno. */
int nf_dup_index_save(const struct nf_dup_index *idx, const char *path);
/* Loads a snapshot or a log (below) into the index, adding its articles as the newest: 1 loaded,
 * 0 no file, -1 unreadable or made with other rows (the message in why, of size n). A log's
 * incomplete last article (a crash while writing) is ignored. */
int nf_dup_index_load(struct nf_dup_index *idx, const char *path, char *why, size_t n);

/* The log: the articles added since the last snapshot, appended at each flush, so that a crash
 * loses only what came after the last flush. nf_dup_index_log_start writes the header of an
 * empty log to `f` (positioned at 0); nf_dup_index_log_append writes the `n` newest articles
 * (oldest first; at most the window). 0, or -1 with errno. */
int nf_dup_index_log_start(const struct nf_dup_index *idx, FILE *f);
int nf_dup_index_log_append(const struct nf_dup_index *idx, FILE *f, size_t n);

#endif
