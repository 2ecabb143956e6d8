/* Source journal: every record a source worker sends is written here, and made durable, before
 * it is sent; acknowledgements are noted as they arrive. After a crash the records never
 * acknowledged are read back and sent again. The file is rewritten with only the live records
 * when it has grown well past them, so it does not grow without bound. */
#ifndef NF_JOURNAL_H
#define NF_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct nf_journal;

/* Opens (creating) the journal at `path` and reads what an earlier run left: the records sent
 * and never acknowledged become the recovered set. A torn tail (a crash mid-write) is cut off.
 * Caller owns the result; NULL with the reason in err. */
struct nf_journal *nf_journal_open(const char *path, char *err, size_t errlen);
void nf_journal_close(struct nf_journal **j);

/* The recovered records, oldest first. Pointers stay valid until nf_journal_recovered_free. */
size_t nf_journal_recovered(const struct nf_journal *j);
int nf_journal_recovered_get(const struct nf_journal *j, size_t i, int64_t *seq, int *attempt,
                             const uint8_t **bytes, size_t *len);
void nf_journal_recovered_free(struct nf_journal *j);

/* Buffer a sent record / an acknowledgement. Nothing reaches the disk before nf_journal_sync. */
int nf_journal_sent(struct nf_journal *j, int64_t seq, int attempt, const void *bytes, size_t n);
int nf_journal_acked(struct nf_journal *j, int64_t seq);

/* Writes what is buffered; with `durable`, also fdatasync()s. Returns 0 or -1 (err set). */
int nf_journal_sync(struct nf_journal *j, int durable, char *err, size_t errlen);

/* The same sync with the fdatasync() in a thread of its own, for a caller with other work to do
 * meanwhile (a source publishing its read-order marks): begin writes what is buffered and starts
 * the fdatasync; it returns a descriptor that becomes readable once the sync has returned
 * (borrowed: valid until end), or -1 (err set, nothing started). Until end, only
 * nf_journal_sent and nf_journal_acked may be called, and what they buffer waits for the next
 * sync. end waits for the sync and returns 0, or -1 (err set) when it failed. */
int nf_journal_sync_begin(struct nf_journal *j, char *err, size_t errlen);
int nf_journal_sync_end(struct nf_journal *j, char *err, size_t errlen);

/* Bytes in the file now. */
off_t nf_journal_size(const struct nf_journal *j);

/* Rewrites the journal with exactly the records `live` yields (called with i = 0, 1, ... until
 * it returns 0), atomically (write, fsync, rename). Returns 0 or -1 (the old file is kept). */
typedef int (*nf_journal_live_fn)(void *arg, size_t i, int64_t *seq, int *attempt,
                                  const uint8_t **bytes, size_t *len);
int nf_journal_compact(struct nf_journal *j, nf_journal_live_fn live, void *arg, char *err,
                       size_t errlen);

#endif
