/* Dead-letter store: records that could not be processed, with why, where and their bytes.
 * A SQLite file shared by every process of a pipeline (one writer at a time, busy timeout). */
#ifndef NF_DEADLETTER_H
#define NF_DEADLETTER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct nf_dlq;

/* Opens lazily: nothing is created until the first put. Caller owns the result. */
struct nf_dlq *nf_dlq_new(const char *path);
void nf_dlq_destroy(struct nf_dlq **dlq);

/* Stores one dead letter durably. Any text may be NULL. Returns 0, or -1 with the reason in
 * err (the caller must then not acknowledge the record: it will come back). */
int nf_dlq_put(struct nf_dlq *dlq, const char *id, const char *source_uri, const char *stage,
               int worker, int64_t attempt, const char *error, const void *bytes, size_t n,
               char *err, size_t errlen);

/* Prints the dead letters as a table. Returns the number of rows, or -1. */
int nf_dlq_list(const char *path, FILE *out, char *err, size_t errlen);

#endif
